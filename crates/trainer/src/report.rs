//! `trainer report`: one self-contained HTML explorer of a run. This module gathers the
//! numbers (weights, the chosen test images run through the network with hooks, history,
//! confusion, activation statistics, attribution maps when the run has them);
//! `convlens-report` turns them into the page.

use std::path::{Path, PathBuf};

use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use convlens_data::Split;
use convlens_hooks::{ActivationRecorder, LayerSelector};
use convlens_model::{LayerKind, Network, LAYERS};
use convlens_report as page;
use convlens_train::{evaluate, predict, RunConfig, RunDir};

use crate::cli::ReportArgs;

/// The page's name in the run folder when `--out` is not given.
pub const REPORT_FILE: &str = "report.html";
/// Where `trainer explain` leaves its attribution maps, relative to the run folder.
pub const ATTRIBUTIONS_FILE: &str = "explain/attributions.safetensors";
/// The attribution methods in the order the page offers them (the figures' order); other
/// 3-d tensors of the file follow in name order.
const METHODS: [&str; 7] = convlens_explain::METHOD_NAMES;
/// The share of the embedded images given to mistakes (when the test set has that many), so
/// that the strip always shows some.
const MISTAKE_SHARE: usize = 4;

/// `trainer report`: writes the page and prints its path.
pub fn run(args: &ReportArgs) -> Result<()> {
    if args.images == 0 {
        anyhow::bail!("--images 0: must be at least 1");
    }
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.run));
    // Checked before the work: a page that cannot be written is known at once.
    if out.is_dir() {
        anyhow::bail!(
            "--out {}: is a folder; name the page's file (e.g. {})",
            out.display(),
            out.join(REPORT_FILE).display()
        );
    }
    if args.out.is_some() {
        let folder = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            anyhow::bail!(
                "--out {}: no folder {} to write it in",
                out.display(),
                folder.display()
            );
        }
    }
    let (config, network, data) = crate::commands::open_run(&args.run, args.data_dir.clone())?;
    let history = RunDir::existing(&args.run)?.read_history()?;
    let test = crate::commands::evaluation_split(&config, &data)?;
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| config.dataset.title.clone());
    let report = gather(
        &config,
        &network,
        &test,
        &history,
        args.images,
        &title,
        &args.run,
    )?;
    let html = page::render(&report)?;
    convlens_data::write_atomic(&out, html.as_bytes())
        .map_err(|e| anyhow::anyhow!("--out {}: cannot write the page ({e})", out.display()))?;
    println!("{}", out.display());
    Ok(())
}

/// The test images the page embeds: the first ones, with up to a quarter of the places
/// given to the first mistakes, in test-set order.
fn choose_images(truth: &[u8], predicted: &[usize], n: usize) -> Vec<usize> {
    let n = n.min(truth.len());
    let mistakes: Vec<usize> = (0..truth.len())
        .filter(|&i| predicted[i] != truth[i] as usize)
        .take(n.div_ceil(MISTAKE_SHARE))
        .collect();
    let mut chosen = mistakes.clone();
    for i in 0..truth.len() {
        if chosen.len() == n {
            break;
        }
        if !mistakes.contains(&i) {
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    chosen
}

fn kind_name(kind: LayerKind) -> (&'static str, usize, usize) {
    match kind {
        LayerKind::Conv2d {
            kernel, padding, ..
        } => ("conv", kernel, padding),
        LayerKind::Relu => ("relu", 0, 0),
        LayerKind::MaxPool2d => ("pool", 0, 0),
        LayerKind::Flatten => ("flatten", 0, 0),
        LayerKind::Linear { .. } => ("linear", 0, 0),
    }
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

fn gather(
    config: &RunConfig,
    network: &Network,
    test: &Split,
    history: &[convlens_train::EpochRecord],
    images: usize,
    title: &str,
    run: &Path,
) -> Result<page::Report> {
    let dev = Device::Cpu;
    let names = &config.dataset.class_names;
    let model = config.model;

    // The layer table and the weights.
    let shapes = model.output_shapes()?;
    let layers: Vec<page::LayerSpec> = LAYERS
        .iter()
        .zip(&shapes)
        .map(|(layer, shape)| {
            let (kind, kernel, padding) = kind_name(layer.kind);
            page::LayerSpec {
                name: layer.name.into(),
                kind: kind.into(),
                kernel,
                padding,
                shape: shape.clone(),
                params: layer.params.map(|[w, b]| [w.to_string(), b.to_string()]),
            }
        })
        .collect();
    let weights = network
        .parameters()
        .into_iter()
        .map(|(name, var)| {
            Ok(page::NamedTensor {
                name,
                shape: var.as_tensor().dims().to_vec(),
                values: values(var.as_tensor())?,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // The whole test set: predictions, confusion, statistics.
    let predictions = predict(network, test, &dev)?;
    let predicted: Vec<usize> = predictions.iter().map(|p| p.class).collect();
    let evaluation = evaluate(network, test, names.len(), &dev)?;
    let layer_stats = crate::inspect::test_set_stats(network, test, &dev)?;
    let stats: Vec<page::LayerStatsRow> = layer_stats
        .iter()
        .map(|s| page::LayerStatsRow {
            layer: s.layer.clone(),
            shape: s.shape.clone(),
            zero_fraction: s.zero_fraction,
            mean: s.mean,
            never_active_fraction: s.never_active_fraction,
            channel_means: s.channels.iter().map(|c| c.mean).collect(),
            channel_stds: s.channels.iter().map(|c| c.std).collect(),
        })
        .collect();

    // The embedded images, every layer recorded by hooks.
    let chosen = choose_images(test.labels(), &predicted, images);
    let (x, _) = test.batch(&chosen, &dev)?;
    let hooks = network.hook_registry();
    let recorder = ActivationRecorder::attach(&hooks, LayerSelector::All, chosen.len())?;
    let logits = network.forward_with_hooks(&x, &hooks)?;
    drop(hooks);
    let recorded = recorder.finish()?;
    let maps = recorded
        .iter()
        // Flatten is the previous layer's values in one row: the page derives it.
        .filter(|(layer, _)| layer != "flatten")
        .map(|(layer, t)| {
            Ok(page::LayerMaps {
                layer: layer.clone(),
                values: values(t)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let hooked_classes: Vec<u32> = logits.argmax(1)?.to_vec1::<u32>()?;
    let entries: Vec<page::ImageEntry> = chosen
        .iter()
        .zip(&hooked_classes)
        .map(|(&i, &class)| page::ImageEntry {
            index: i,
            label: test.labels()[i] as usize,
            predicted: class as usize,
        })
        .collect();
    let pixels: Vec<u8> = chosen
        .iter()
        .flat_map(|&i| test.image(i).iter().copied())
        .collect();

    let attributions = read_attributions(&run.join(ATTRIBUTIONS_FILE), &chosen)?;
    let train_config = match serde_json::to_value(&config.config)? {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    Ok(page::Report {
        title: title.to_string(),
        dataset: config.config.dataset.clone(),
        version: config.convlens_version.clone(),
        config: train_config,
        in_channels: model.in_channels,
        input_size: model.input_size,
        classes: names.clone(),
        history: history
            .iter()
            .map(|r| page::Epoch {
                epoch: r.epoch,
                train_loss: r.train_loss,
                val_loss: r.val_loss,
                train_accuracy: r.train_accuracy,
                val_accuracy: r.val_accuracy,
            })
            .collect(),
        layers,
        weights,
        images: entries,
        pixels,
        logits: values(&logits)?,
        maps,
        evaluation: page::Evaluation {
            images: evaluation.images,
            accuracy: evaluation.accuracy,
            loss: evaluation.loss,
            per_class: evaluation.per_class.clone(),
            confusion: evaluation.confusion.clone(),
        },
        stats,
        attributions,
    })
}

/// The attribution maps of `trainer explain` for the embedded images (`chosen`, test-set
/// indices) that have them; `None` when the run has no such file or none of the images.
fn read_attributions(path: &Path, chosen: &[usize]) -> Result<Option<page::Attributions>> {
    if !path.is_file() {
        return Ok(None);
    }
    let bad = |what: String| anyhow::anyhow!("{}: {what}", path.display());
    let tensors = candle_core::safetensors::load(path, &Device::Cpu)
        .map_err(|e| bad(format!("cannot read the attribution maps: {e}")))?;
    let indices = tensors
        .get("indices")
        .ok_or_else(|| bad("no `indices` tensor (the test-image indices of the maps)".into()))?;
    let indices: Vec<i64> = indices
        .to_dtype(DType::I64)
        .and_then(|t| t.flatten_all()?.to_vec1::<i64>())
        .map_err(|e| bad(format!("indices: {e}")))?;
    // For each embedded image that has maps: (its position in the page, its row in the file).
    let pairs: Vec<(usize, usize)> = chosen
        .iter()
        .enumerate()
        .filter_map(|(pos, &i)| {
            indices
                .iter()
                .position(|&j| j == i as i64)
                .map(|row| (pos, row))
        })
        .collect();
    // The maps at input resolution; `*_raw` are Grad-CAM's at its layer's resolution, which
    // the page does not overlay.
    let mut names: Vec<&String> = tensors
        .keys()
        .filter(|k| *k != "indices" && !k.ends_with("_raw"))
        .collect();
    names.sort_by_key(|n| {
        (
            METHODS.iter().position(|m| m == n).unwrap_or(METHODS.len()),
            n.to_string(),
        )
    });
    let mut size = None;
    let mut methods = Vec::new();
    for name in names {
        let t = &tensors[name];
        let &[rows, h, w] = t.dims() else {
            return Err(bad(format!(
                "{name} has shape {:?}, expected (images, height, width)",
                t.dims()
            )));
        };
        if rows != indices.len() {
            return Err(bad(format!(
                "{name} has {rows} maps but `indices` names {} images",
                indices.len()
            )));
        }
        if *size.get_or_insert([h, w]) != [h, w] {
            return Err(bad(format!("{name} is {h}×{w}, the other maps are not")));
        }
        let all = values(t)?;
        let mut picked = Vec::with_capacity(pairs.len() * h * w);
        for &(_, row) in &pairs {
            picked.extend_from_slice(&all[row * h * w..(row + 1) * h * w]);
        }
        methods.push((name.clone(), picked));
    }
    match size {
        Some(size) if !pairs.is_empty() => Ok(Some(page::Attributions {
            images: pairs.iter().map(|&(pos, _)| pos).collect(),
            size,
            methods,
        })),
        _ => Ok(None),
    }
}

/// The default page of a run folder.
pub fn default_out(run: &Path) -> PathBuf {
    run.join(REPORT_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_images_include_mistakes_in_test_order() {
        let truth = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        let predicted = [0usize, 1, 2, 3, 4, 5, 6, 0, 0, 0];
        // Four places: one mistake (a quarter, rounded up), then the first images.
        assert_eq!(choose_images(&truth, &predicted, 4), vec![0, 1, 2, 7]);
        assert_eq!(
            choose_images(&truth, &predicted, 8),
            vec![0, 1, 2, 3, 4, 5, 7, 8]
        );
        assert_eq!(choose_images(&truth, &predicted, 100).len(), 10);
        let right: Vec<usize> = truth.iter().map(|&t| t as usize).collect();
        assert_eq!(choose_images(&truth, &right, 3), vec![0, 1, 2]);
    }
}
