//! `trainer explain`: attribution maps of a run's test images, every method checked for
//! sanity and faithfulness; the maps as safetensors, the numbers as JSON, two figures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor, D};
use convlens_explain::{
    check_cam_layer, evaluate_method, random_baseline, random_orders, Evaluation, ExplainError,
    ExplainReport, Explainable, FaithfulnessConfig, Method, Options, METHOD_NAMES,
};
use convlens_hooks::HookRegistry;
use convlens_model::{Network, LAYERS};
use convlens_viz as viz;

use crate::cli::ExplainArgs;

/// The maps, one tensor per method (and the raw class activation maps, and `indices`).
pub const ATTRIBUTIONS: &str = "attributions.safetensors";
/// The numbers: an [`ExplainReport`].
pub const REPORT: &str = "explain.json";
/// The method comparison figure.
pub const FIGURE: &str = "explain.png";
/// The deletion and insertion curves.
pub const FAITHFULNESS: &str = "faithfulness.png";

/// Images the sanity cascade compares per method.
const SANITY_IMAGES: usize = 100;
/// Inputs per forward pass (images × noise samples, path steps or occluded copies).
const MAX_BATCH: usize = 512;
/// Images drawn in `explain.png` at most (all `--images` are stored in the safetensors).
const FIGURE_IMAGES: usize = 10;
/// The seed of the noise, the random orderings and the re-initializations.
const SEED: u64 = 42;

/// The course network behind the interface the attribution methods use.
#[derive(Debug)]
pub struct ExplainedNetwork(pub Network);

impl Explainable for ExplainedNetwork {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.0.forward(x)
    }

    fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> candle_core::Result<Tensor> {
        self.0.forward_with_hooks(x, hooks)
    }

    fn hook_registry(&self) -> HookRegistry {
        self.0.hook_registry()
    }

    fn parameterized_layers(&self) -> Vec<String> {
        LAYERS
            .iter()
            .filter(|l| l.params.is_some())
            .map(|l| l.name.to_string())
            .collect()
    }

    /// A network initialized from `seed` as `Network::new` does, with the trained weights
    /// copied back into every layer below the top `top`.
    fn randomized(&self, top: usize, seed: u64) -> candle_core::Result<Self> {
        let device = self.0.vars()[0].device().clone();
        let mut fresh = Network::new_with_dtype(self.0.config(), seed, self.0.dtype(), &device)
            .map_err(candle_core::Error::wrap)?;
        fresh.set_backend(self.0.backend());
        let layers = self.parameterized_layers().len();
        let keep = 2 * layers.saturating_sub(top);
        for (new, old) in fresh.vars().iter().zip(self.0.vars()).take(keep) {
            new.set(old.as_tensor())?;
        }
        Ok(ExplainedNetwork(fresh))
    }
}

/// The methods of `--methods` (all when empty), in the order given, without repeats.
fn parse_methods(names: &[String], layer: &str) -> Result<Vec<Method>> {
    let names: Vec<&str> = if names.is_empty() {
        METHOD_NAMES.to_vec()
    } else {
        names.iter().map(|n| n.trim()).collect()
    };
    let mut methods: Vec<Method> = Vec::new();
    for name in names {
        let method = Method::from_name(name, layer, (0.0, 1.0)).with_context(|| {
            format!(
                "--methods {name}: unknown method; expected some of {}",
                METHOD_NAMES.join(",")
            )
        })?;
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    Ok(methods)
}

/// The class each image's map explains.
fn parse_targets(
    target: &str,
    names: &[String],
    labels: &[usize],
    predicted: &[usize],
) -> Result<Vec<usize>> {
    Ok(match target {
        "predicted" => predicted.to_vec(),
        "true" => labels.to_vec(),
        other => {
            let class = other
                .parse::<usize>()
                .ok()
                .filter(|&c| c < names.len())
                .or_else(|| names.iter().position(|n| n == other))
                .with_context(|| {
                    format!(
                        "--target {other}: expected predicted, true, a class number below {} \
                         or a class name",
                        names.len()
                    )
                })?;
            vec![class; labels.len()]
        }
    })
}

/// A library error in the command line's words.
fn flagged(e: ExplainError, layer: &str) -> anyhow::Error {
    match e {
        ExplainError::UnknownLayer { .. } | ExplainError::NoSpatialExtent { .. } => {
            anyhow::anyhow!("--layer {layer}: {e}")
        }
        other => other.into(),
    }
}

/// `trainer explain`.
pub fn run(args: &ExplainArgs) -> Result<()> {
    if args.images == 0 {
        anyhow::bail!("--images 0: must be at least 1");
    }
    if args.eval_images == 0 {
        anyhow::bail!("--eval-images 0: must be at least 1");
    }
    let methods = parse_methods(&args.methods, &args.layer)?;
    let (config, network, data) = crate::commands::open_run(&args.run, args.data_dir.clone())?;
    let model = ExplainedNetwork(network);
    let test = crate::commands::evaluation_split(&config, &data)?;
    let names = &config.dataset.class_names;
    let dev = Device::Cpu;

    let shown = args.images.min(test.len());
    let evaluated = args.eval_images.min(test.len());
    let all: Vec<usize> = (0..shown.max(evaluated)).collect();
    let (x, _) = test.batch(&all, &dev)?;
    // The layer is checked whether or not a class-activation method asks for it: a flag
    // that names a layer is never silently ignored.
    check_cam_layer(&model, &x, &args.layer).map_err(|e| flagged(e, &args.layer))?;
    let labels: Vec<usize> = all.iter().map(|&i| test.labels()[i] as usize).collect();
    let mut predicted = Vec::with_capacity(all.len());
    for chunk in all.chunks(MAX_BATCH) {
        let logits = model.forward(&x.narrow(0, chunk[0], chunk.len())?)?;
        predicted.extend(
            logits
                .argmax(D::Minus1)?
                .to_vec1::<u32>()?
                .into_iter()
                .map(|c| c as usize),
        );
    }
    let targets = parse_targets(&args.target, names, &labels, &predicted)?;

    let out = args.out.clone().unwrap_or_else(|| args.run.join("explain"));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("--out {}: cannot create the folder", out.display()))?;

    let (h, w) = (x.dim(2)?, x.dim(3)?);
    let x_eval = x.narrow(0, 0, evaluated)?;
    let orders = random_orders(evaluated, h * w, SEED);
    let evaluation = Evaluation {
        options: Options {
            input_range: (0.0, 1.0),
            max_batch: MAX_BATCH,
            seed: SEED,
        },
        faithfulness: FaithfulnessConfig::default(),
        sanity_images: SANITY_IMAGES,
    };
    let random = random_baseline(&model, &x_eval, &targets[..evaluated], &orders, &evaluation)?;
    let mut reports = Vec::with_capacity(methods.len());
    let mut tensors: BTreeMap<String, Tensor> = BTreeMap::new();
    let mut columns = Vec::with_capacity(methods.len());
    for method in &methods {
        let start = Instant::now();
        let (mut report, attribution) = evaluate_method(
            &model,
            method,
            &x_eval,
            &targets[..evaluated],
            &orders,
            &evaluation,
        )
        .map_err(|e| flagged(e, &args.layer))?;
        // The shown images are the first ones; more than were evaluated need their own maps.
        let attribution = if shown > evaluated {
            convlens_explain::attribute(
                &model,
                method,
                &x.narrow(0, 0, shown)?,
                &targets[..shown],
                &evaluation.options,
            )?
        } else {
            attribution
        };
        report.seconds = start.elapsed().as_secs_f64();
        eprintln!(
            "explain: {:<10} deletion AUC {:.3}, insertion AUC {:.3}, sanity ρ {:.2}{}, {:.1} s",
            method.name(),
            report.faithfulness.deletion_auc.mean,
            report.faithfulness.insertion_auc.mean,
            report
                .sanity
                .steps
                .last()
                .map_or(f64::NAN, |s| s.rank_correlation),
            if report.sanity.fails {
                " (fails the sanity check)"
            } else {
                ""
            },
            report.seconds
        );
        let maps = attribution.maps.narrow(0, 0, shown)?.contiguous()?;
        tensors.insert(method.name().to_string(), maps.clone());
        if let Some(raw) = &attribution.raw {
            tensors.insert(
                format!("{}_raw", method.name()),
                raw.narrow(0, 0, shown)?.contiguous()?,
            );
        }
        columns.push(viz::AttributionColumn {
            title: method.title().to_string(),
            maps: maps.narrow(0, 0, shown.min(FIGURE_IMAGES))?,
        });
        reports.push(report);
    }
    let indices: Vec<i64> = (0..shown as i64).collect();
    tensors.insert("indices".into(), Tensor::new(indices, &dev)?);

    let title = args.title.as_deref().unwrap_or(&config.dataset.title);
    let report = ExplainReport {
        run: args.run.display().to_string(),
        dataset: config.dataset.title.clone(),
        layer: args.layer.clone(),
        target: args.target.clone(),
        images: shown,
        eval_images: evaluated,
        faithfulness: evaluation.faithfulness,
        seed: SEED,
        random,
        methods: reports,
    };
    let mut written = Vec::new();
    let mut put = |name: &str| {
        let p = out.join(name);
        written.push(p.clone());
        p
    };
    let bytes = safetensors::tensor::serialize(tensors.iter().map(|(k, v)| (k.as_str(), v)), None)
        .context("cannot serialize the attribution maps")?;
    convlens_data::write_atomic(&put(ATTRIBUTIONS), &bytes)?;
    let mut json = serde_json::to_vec_pretty(&report)?;
    json.push(b'\n');
    convlens_data::write_atomic(&put(REPORT), &json)?;

    let drawn = shown.min(FIGURE_IMAGES);
    let captions: Vec<String> = (0..drawn)
        .map(|i| format!("true {} / pred {}", names[labels[i]], names[predicted[i]]))
        .collect();
    viz::draw_attributions(
        &x.narrow(0, 0, drawn)?,
        &columns,
        &captions,
        &format!("{title}: what the network looks at"),
        &put(FIGURE),
    )?;
    let series: Vec<viz::FaithfulnessSeries> = report
        .methods
        .iter()
        .zip(&methods)
        .map(|(r, m)| series(m.title(), &r.faithfulness))
        .collect();
    viz::draw_faithfulness(
        &series,
        &series_of_random(&report),
        evaluated,
        &format!("{title}: how faithful each map is"),
        &put(FAITHFULNESS),
    )?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

fn series(name: &str, f: &convlens_explain::Faithfulness) -> viz::FaithfulnessSeries {
    viz::FaithfulnessSeries {
        name: name.to_string(),
        deletion: f.deletion_curve.clone(),
        insertion: f.insertion_curve.clone(),
        deletion_auc: f.deletion_auc.mean,
        insertion_auc: f.insertion_auc.mean,
    }
}

fn series_of_random(report: &ExplainReport) -> viz::FaithfulnessSeries {
    series("random", &report.random)
}

/// Reads an `explain.json`.
pub fn read_report(path: &Path) -> Result<ExplainReport> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not an explain report", path.display()))
}

/// The files `trainer explain` writes, by name.
pub fn outputs(out: &Path) -> Vec<PathBuf> {
    [ATTRIBUTIONS, REPORT, FIGURE, FAITHFULNESS]
        .iter()
        .map(|n| out.join(n))
        .collect()
}
