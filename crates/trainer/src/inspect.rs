//! `trainer inspect`: every figure of a run, plus the numbers behind them as JSON.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::{Device, Tensor, Var, D};
use convlens_data::{Dataset, Split};
use convlens_hooks::{ActivationRecorder, ActivationStats, LayerSelector, LayerStats};
use convlens_model::{Network, LAYER_NAMES};
use convlens_train::{evaluate, predict, Evaluation, RunConfig, RunDir};
use convlens_viz as viz;
use serde::{Deserialize, Serialize};

use crate::cli::InspectArgs;

/// Layers of the convolutional stage, drawn as feature maps.
const CONV_STAGE: [&str; 8] = [
    "conv1", "relu1", "maxp1", "conv2", "relu2", "maxp2", "conv3", "relu3",
];
/// Layers of the classifier, drawn as heat strips.
const CLASSIFIER: [&str; 4] = ["flatten", "fc1", "relu4", "fc2"];
/// Batch size of the statistics pass over the test set.
const STATS_BATCH: usize = 500;

/// Every layer's activation statistics over the whole of `test`, in the network's layer
/// order (an `ActivationStats` hook on every layer, the test set in batches).
pub(crate) fn test_set_stats(
    network: &Network,
    test: &Split,
    dev: &Device,
) -> Result<Vec<LayerStats>> {
    let hooks = network.hook_registry();
    let stats = ActivationStats::attach(&hooks, LayerSelector::All)?;
    let all: Vec<usize> = (0..test.len()).collect();
    for chunk in all.chunks(STATS_BATCH) {
        let (x, _) = test.batch(chunk, dev)?;
        network.forward_with_hooks(&x, &hooks)?;
    }
    drop(hooks);
    let mut layer_stats = stats.finish();
    // The network's order, which is the order the hooks first saw the layers in.
    layer_stats.retain(|s| LAYER_NAMES.contains(&s.layer.as_str()));
    layer_stats.sort_by_key(|s| LAYER_NAMES.iter().position(|n| *n == s.layer));
    Ok(layer_stats)
}

/// `trainer inspect`.
pub fn run(args: &InspectArgs) -> Result<()> {
    if args.images == 0 {
        anyhow::bail!("--images 0: must be at least 1");
    }
    for layer in &args.layers {
        if !CONV_STAGE.contains(&layer.as_str()) {
            anyhow::bail!(
                "--layers {layer}: not a layer of the convolutional stage; expected some of {}",
                CONV_STAGE.join(",")
            );
        }
    }
    if args.limit == Some(0) {
        anyhow::bail!("--limit 0: must be at least 1");
    }
    let (config, network, data) = crate::commands::open_run(&args.run, args.data_dir.clone())?;
    let history = RunDir::existing(&args.run)?.read_history()?;
    let out = args.out.clone().unwrap_or_else(|| args.run.join("figures"));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    let test = match args.limit {
        Some(n) => crate::commands::evaluation_split(&config, &data)?.first(n),
        None => crate::commands::evaluation_split(&config, &data)?,
    };
    let layers: Vec<&str> = if args.layers.is_empty() {
        CONV_STAGE.to_vec()
    } else {
        args.layers.iter().map(String::as_str).collect()
    };
    let written = draw_all(
        &config,
        &network,
        &data,
        &test,
        &history,
        args.images,
        &layers,
        &out,
        args.title.as_deref(),
    )?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

fn class_names(config: &RunConfig) -> &[String] {
    &config.dataset.class_names
}

fn epoch_points(history: &[convlens_train::EpochRecord]) -> Vec<viz::EpochPoint> {
    history
        .iter()
        .map(|r| viz::EpochPoint {
            epoch: r.epoch,
            train_loss: r.train_loss,
            val_loss: r.val_loss,
            train_accuracy: r.train_accuracy,
            val_accuracy: r.val_accuracy,
        })
        .collect()
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename these
fn draw_all(
    config: &RunConfig,
    network: &Network,
    data: &Dataset,
    test: &Split,
    history: &[convlens_train::EpochRecord],
    images: usize,
    layers: &[&str],
    out: &Path,
    title: Option<&str>,
) -> Result<Vec<PathBuf>> {
    let dev = Device::Cpu;
    let names = class_names(config);
    let title = title.unwrap_or(&config.dataset.title);
    let mut written = Vec::new();
    let mut put = |name: &str| {
        let p = out.join(name);
        written.push(p.clone());
        p
    };

    // Architecture.
    let summary = network.summary();
    let blocks: Vec<viz::LayerBlock> = summary
        .rows
        .iter()
        .map(|r| viz::LayerBlock {
            name: r.name.clone(),
            output_shape: r.output_shape.clone(),
            params: r.params,
        })
        .collect();
    let m = config.model;
    viz::draw_architecture(
        &blocks,
        &[m.in_channels, m.input_size, m.input_size],
        "The course network",
        &put("architecture.png"),
    )?;

    // The first 30 training images.
    let first: Vec<usize> = (0..30.min(data.train.len())).collect();
    let (x, _) = data.train.batch(&first, &dev)?;
    let captions: Vec<String> = first
        .iter()
        .map(|&i| names[data.train.labels()[i] as usize].clone())
        .collect();
    viz::draw_samples(
        &x,
        &captions,
        10,
        &format!("{title}: the first {} training images", first.len()),
        &put("samples.png"),
    )?;

    // Curves.
    if !history.is_empty() {
        viz::draw_curves(
            &epoch_points(history),
            &format!("{title}: loss and accuracy per epoch"),
            &put("curves.png"),
        )?;
    }

    // Filters of every conv layer.
    for (layer, param) in [
        ("conv1", "conv1.weight"),
        ("conv2", "conv2.weight"),
        ("conv3", "conv3.weight"),
    ] {
        let weight = network
            .parameters()
            .into_iter()
            .find(|(n, _)| n == param)
            .map(|(_, v)| v.as_tensor().clone())
            .with_context(|| format!("the network has no {param}"))?;
        let path = put(&format!("filters_{layer}.png"));
        if layer == "conv1" {
            // Per input channel, plus an RGB composite for colour data.
            viz::draw_input_filters(layer, &weight, viz::DEFAULT_MAX_FILTERS, &path)?;
        } else {
            viz::draw_filters(layer, &weight, viz::DEFAULT_MAX_FILTERS, &path)?;
        }
    }

    // Predictions over the test images, and the shown images.
    let predictions = predict(network, test, &dev)?;
    let shown: Vec<usize> = (0..images.min(test.len())).collect();
    let captions: Vec<String> = shown
        .iter()
        .map(|&i| {
            format!(
                "true {} / pred {}",
                names[test.labels()[i] as usize],
                names[predictions[i].class]
            )
        })
        .collect();
    let (x, _) = test.batch(&shown, &dev)?;

    // Feature maps and classifier layers, recorded by hooks.
    let hooks = network.hook_registry();
    let recorder = ActivationRecorder::attach(&hooks, LayerSelector::All, shown.len())?;
    let logits = network.forward_with_hooks(&x, &hooks)?;
    drop(hooks);
    let recorded = recorder.finish()?;
    let pick = |names: &[&str]| -> Vec<(String, Tensor)> {
        names
            .iter()
            .filter_map(|n| recorded.iter().find(|(l, _)| l == n).cloned())
            .collect()
    };
    viz::draw_feature_maps_with_input(
        &x,
        &pick(layers),
        &captions,
        &format!("{title}: feature maps of {} test images", shown.len()),
        &put("feature_maps.png"),
    )?;
    let probabilities = candle_nn::ops::softmax_last_dim(&logits)?;
    viz::draw_classifier(
        &pick(&CLASSIFIER),
        &probabilities,
        &captions,
        names,
        &format!("{title}: the classifier layers"),
        &put("classifier.png"),
    )?;

    // Saliency: |d logit(pred) / d image|.
    let input = Var::from_tensor(&x)?;
    let logits = network.forward(input.as_tensor())?;
    let predicted = logits.argmax_keepdim(D::Minus1)?;
    let chosen = logits.gather(&predicted, D::Minus1)?.sum_all()?;
    let grads = chosen.backward()?;
    let saliency = grads
        .get(input.as_tensor())
        .context("no gradient reached the input images")?
        .abs()?
        .max_keepdim(1)?;
    viz::draw_saliency(
        &x,
        &saliency,
        &captions,
        &format!("{title}: what the prediction is most sensitive to"),
        &put("saliency.png"),
    )?;

    // Confusion matrix and the most confident mistakes.
    let evaluation = evaluate(network, test, data.classes(), &dev)?;
    viz::draw_confusion(
        &evaluation.confusion,
        names,
        &format!("{title}: confusion matrix ({} test images)", test.len()),
        &put("confusion.png"),
    )?;
    let mut mistakes: Vec<usize> = (0..test.len())
        .filter(|&i| predictions[i].class != test.labels()[i] as usize)
        .collect();
    mistakes.sort_by(|&a, &b| {
        predictions[b]
            .confidence
            .total_cmp(&predictions[a].confidence)
            .then(a.cmp(&b))
    });
    mistakes.truncate(30);
    if !mistakes.is_empty() {
        let (x, _) = test.batch(&mistakes, &dev)?;
        let items: Vec<viz::Misclassified> = mistakes
            .iter()
            .map(|&i| viz::Misclassified {
                true_class: test.labels()[i] as usize,
                predicted: predictions[i].class,
                confidence: f64::from(predictions[i].confidence),
            })
            .collect();
        viz::draw_misclassified(
            &x,
            &items,
            names,
            10,
            &format!("{title}: the most confident mistakes"),
            &put("misclassified.png"),
        )?;
    }

    // Activation statistics over the whole test set.
    let layer_stats = test_set_stats(network, test, &dev)?;
    let rows: Vec<viz::LayerStats> = layer_stats
        .iter()
        .map(|s| viz::LayerStats {
            layer: s.layer.clone(),
            zero_fraction: s.zero_fraction,
            mean: s.mean,
            dead_channel_fraction: s.never_active_fraction,
            channel_means: if CONV_STAGE.contains(&s.layer.as_str()) {
                s.channels.iter().map(|c| c.mean).collect()
            } else {
                Vec::new()
            },
            channel_stds: if CONV_STAGE.contains(&s.layer.as_str()) {
                s.channels.iter().map(|c| c.std).collect()
            } else {
                Vec::new()
            },
        })
        .collect();
    viz::draw_activation_stats(
        &rows,
        &format!(
            "{title}: activation statistics over {} test images",
            test.len()
        ),
        &put("activation_stats.png"),
    )?;

    // The numbers behind the figures.
    let stats_file: Vec<LayerSummary> = layer_stats.iter().map(LayerSummary::from).collect();
    write_json(&put(ACTIVATION_STATS), &stats_file)?;
    write_json(
        &put(EVALUATION),
        &EvaluationFile::new(&evaluation, names.to_vec()),
    )?;
    Ok(written)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    convlens_data::write_atomic(path, &bytes)?;
    Ok(())
}

/// The file of per-layer activation statistics: a JSON array of [`LayerSummary`].
pub const ACTIVATION_STATS: &str = "activation_stats.json";
/// The file of the test-set evaluation: an [`EvaluationFile`].
pub const EVALUATION: &str = "evaluation.json";

/// One layer of `activation_stats.json`: a layer's [`ActivationStats`] with the per-channel
/// statistics as columns. (Fields in alphabetical order, the order the file has always had.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSummary {
    /// Mean of each channel, in channel order.
    pub channel_means: Vec<f64>,
    /// Population standard deviation of each channel.
    pub channel_stds: Vec<f64>,
    /// Channels whose values were never > 0.
    pub channels_never_active: usize,
    /// Images seen.
    pub images: u64,
    /// The layer's name.
    pub layer: String,
    /// Mean of all values.
    pub mean: f64,
    /// Fraction of channels whose values were never > 0.
    pub never_active_fraction: f64,
    /// Shape of one image's output.
    pub shape: Vec<usize>,
    /// Fraction of values exactly 0.
    pub zero_fraction: f64,
}

impl From<&LayerStats> for LayerSummary {
    fn from(s: &LayerStats) -> Self {
        LayerSummary {
            channel_means: s.channels.iter().map(|c| c.mean).collect(),
            channel_stds: s.channels.iter().map(|c| c.std).collect(),
            channels_never_active: s.channels.iter().filter(|c| !c.ever_active).count(),
            images: s.images,
            layer: s.layer.clone(),
            mean: s.mean,
            never_active_fraction: s.never_active_fraction,
            shape: s.shape.clone(),
            zero_fraction: s.zero_fraction,
        }
    }
}

/// `evaluation.json`: the test-set [`Evaluation`] with the run's class names. (Fields in
/// alphabetical order, the order the file has always had.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationFile {
    /// Fraction (0–1) classified correctly.
    pub accuracy: f64,
    /// Class names in label order.
    pub class_names: Vec<String>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    /// Images evaluated.
    pub images: usize,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Per class: the fraction of its images classified correctly.
    pub per_class: Vec<f64>,
}

impl EvaluationFile {
    /// The file's content for an evaluation with these class names.
    pub fn new(e: &Evaluation, class_names: Vec<String>) -> Self {
        EvaluationFile {
            accuracy: e.accuracy,
            class_names,
            confusion: e.confusion.clone(),
            images: e.images,
            loss: e.loss,
            per_class: e.per_class.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` read as `T` and written again is `text` read as plain JSON and written again:
    /// the type keeps every key and value of the file, in the file's order.
    fn round_trips<T: Serialize + serde::de::DeserializeOwned>(text: &str) -> T {
        let typed: T = serde_json::from_str(text).unwrap();
        let plain: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), plain);
        assert_eq!(
            serde_json::to_string_pretty(&typed).unwrap(),
            serde_json::to_string_pretty(&plain).unwrap()
        );
        typed
    }

    /// The documented results read through the types lose nothing.
    #[test]
    fn result_files_round_trip_through_the_types() {
        let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results");
        for run in ["mnist", "fashion-mnist"] {
            let dir = results.join(run);
            let text = std::fs::read_to_string(dir.join(ACTIVATION_STATS)).unwrap();
            let stats: Vec<LayerSummary> = round_trips(&text);
            assert_eq!(stats.len(), LAYER_NAMES.len());
            let text = std::fs::read_to_string(dir.join(EVALUATION)).unwrap();
            let evaluation: EvaluationFile = round_trips(&text);
            assert_eq!(evaluation.images, 10_000);
        }
    }
}
