//! `cargo xtask figures`: trains the documented runs with fixed seeds, then writes every
//! figure the README shows and `results/metrics.json`.
//!
//! `--quick` runs the same pipeline on synthetic data into a temporary folder (never over
//! `results/`); a test runs it so the figure pipeline cannot rot.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use convlens_data::synthetic::{write_synthetic, SyntheticConfig};
use convlens_data::synthetic_formats::{write_synthetic_format, SyntheticFormat};
use convlens_train::{EpochRecord, RunDir};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trainer::cli::{AnimateArgs, ExplainArgs, InspectArgs, ReportArgs, TrainArgs};
use trainer::inspect::{self, EvaluationFile, LayerSummary};

/// Flags.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// The same pipeline on synthetic data, in seconds, into a temporary folder.
    #[arg(long)]
    pub quick: bool,
    /// Passed to the trainer: a folder holding a dataset (others are found as usual).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where figures and metrics go (default: results/, or a temporary folder with --quick).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// One documented run.
struct Documented {
    name: &'static str,
    dataset: String,
    epochs: usize,
    /// Where the run's data is, when not where the trainer finds it by name.
    data_dir: Option<PathBuf>,
    /// The data is not the published files (synthetic data in a published layout).
    unverified: bool,
    /// The data's name in the figures, when the layout's name would mislead.
    title: Option<&'static str>,
}

/// Test images the documented runs' deletion and insertion curves are measured on: the
/// whole test set of the 28×28 runs (each method takes seconds to a minute on two cores).
pub const EXPLAIN_EVAL_IMAGES: usize = 10_000;
/// The same for the quick pipeline's tiny runs: enough for a curve, in a fraction of a
/// second per method.
const QUICK_EXPLAIN_EVAL_IMAGES: usize = 20;

/// The name of the colour run: synthetic shapes written as torchvision's CIFAR-10 folder.
pub const COLOUR_RUN: &str = "synthetic-colour";

/// Writes synthetic colour shapes in CIFAR-10's Python layout under `root` and returns the
/// documented run that trains on them: the colour path end to end (pickles, an adapted
/// network with 3 input channels and fc1 440 → 60, colour figures).
fn colour_run(root: &Path, train: usize, test: usize, epochs: usize) -> Result<Documented> {
    let written = write_synthetic_format(root, SyntheticFormat::Cifar10Python, train, test, 0)?;
    Ok(Documented {
        name: COLOUR_RUN,
        dataset: written.dataset,
        epochs,
        data_dir: Some(written.data_dir),
        unverified: written.unverified,
        title: Some("Synthetic colour shapes"),
    })
}

/// Test images embedded in each run's explorer page.
const REPORT_IMAGES: usize = 100;
/// The screenshot of the explorer page, next to it.
pub const REPORT_SCREENSHOT: &str = "report.png";
/// Debian's Chromium, which takes the screenshot.
const CHROMIUM: &str = "chromium";

/// A screenshot of `page` as a reader first sees it, 1280 pixels wide, by headless Chromium
/// (offline: every host name resolves nowhere), written to `png` atomically.
fn screenshot(page: &Path, png: &Path) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let shot = tmp.path().join("shot.png");
    let url = format!("file://{}", page.canonicalize()?.display());
    let output = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--virtual-time-budget=10000",
            "--window-size=1280,1500",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output();
    let output = match output {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "{CHROMIUM} is not installed: the figures include a screenshot of each explorer \
             page; install it with `apt-get install chromium`"
        ),
        Err(e) => return Err(e).context("cannot run chromium"),
    };
    let bytes = std::fs::read(&shot).with_context(|| {
        format!(
            "chromium wrote no screenshot of {}: {}",
            page.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    convlens_data::write_atomic(png, &bytes)?;
    Ok(())
}

/// What a pipeline run wrote.
#[derive(Debug)]
pub struct Written {
    /// The results folder.
    pub out: PathBuf,
    /// Every file written, relative to it.
    pub files: Vec<PathBuf>,
}

/// Runs the task.
pub fn run(args: &Args) -> Result<()> {
    let written = pipeline(args)?;
    println!(
        "wrote {} files into {}",
        written.files.len(),
        written.out.display()
    );
    Ok(())
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The whole pipeline; returns what it wrote.
pub fn pipeline(args: &Args) -> Result<Written> {
    let root = workspace_root();
    let (out, work, runs) = if args.quick {
        // One folder per call: tests of one process run the quick pipeline side by side.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let work =
            std::env::temp_dir().join(format!("convlens-quick-{}-{call}", std::process::id()));
        let data = work.join("data");
        write_synthetic(
            &data,
            &SyntheticConfig {
                train: 2000,
                test: 500,
                ..SyntheticConfig::default()
            },
        )?;
        let runs = vec![
            Documented {
                name: "synthetic",
                dataset: format!("idx:{}", data.display()),
                epochs: 3,
                data_dir: None,
                unverified: false,
                title: None,
            },
            colour_run(&work.join("colour"), 1000, 200, 2)?,
        ];
        (
            args.out.clone().unwrap_or_else(|| work.join("results")),
            work,
            runs,
        )
    } else {
        let runs = vec![
            Documented {
                name: "mnist",
                dataset: "mnist".into(),
                epochs: 20,
                data_dir: None,
                unverified: false,
                title: None,
            },
            Documented {
                name: "fashion-mnist",
                dataset: "fashion-mnist".into(),
                epochs: 20,
                data_dir: None,
                unverified: false,
                title: None,
            },
            colour_run(
                &root.join("target/xtask/data/synthetic-colour"),
                5000,
                1000,
                10,
            )?,
        ];
        (
            args.out.clone().unwrap_or_else(|| root.join("results")),
            root.join("target/xtask/runs"),
            runs,
        )
    };
    if !args.quick && out.starts_with(std::env::temp_dir()) {
        eprintln!("note: writing the full results into a temporary folder");
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut files = Vec::new();
    let mut metrics = Metrics::new();
    // Every run is trained before any is drawn or explained: each run's peak memory is then
    // its training's, not the heap the figures and attribution stages of an earlier run
    // left to the allocator.
    let mut peaks = Vec::with_capacity(runs.len());
    for run in &runs {
        let run_dir = work.join(run.name);
        if run_dir.exists() {
            std::fs::remove_dir_all(&run_dir)
                .with_context(|| format!("cannot clear {}", run_dir.display()))?;
        }
        eprintln!(
            "== {}: training {} epochs into {}",
            run.name,
            run.epochs,
            run_dir.display()
        );
        reset_peak_rss();
        let data_dir = run.data_dir.clone().or_else(|| args.data_dir.clone());
        trainer::commands::train(&TrainArgs {
            dataset: run.dataset.clone(),
            data_dir: data_dir.clone(),
            unverified: run.unverified,
            epochs: run.epochs,
            out: Some(run_dir.clone()),
            ..TrainArgs::default()
        })?;
        peaks.push(peak_rss_bytes());
    }
    for (run, peak_rss) in runs.iter().zip(peaks) {
        let run_dir = work.join(run.name);
        let data_dir = run.data_dir.clone().or_else(|| args.data_dir.clone());
        let figures = out.join(run.name);
        eprintln!("== {}: figures into {}", run.name, figures.display());
        trainer::inspect::run(&InspectArgs {
            run: run_dir.clone(),
            images: 10,
            layers: Vec::new(),
            out: Some(figures.clone()),
            data_dir: data_dir.clone(),
            limit: None,
            title: run.title.map(String::from),
        })?;
        eprintln!("== {}: the evolution animation", run.name);
        trainer::animate::run(&AnimateArgs {
            run: run_dir.clone(),
            images: 3,
            fps: 4,
            out: Some(figures.join(trainer::animate::ANIMATION)),
            data_dir: data_dir.clone(),
            title: run.title.map(String::from),
        })?;
        // What the network looks at: every attribution method with its checks. The maps
        // themselves (attributions.safetensors) stay in the run folder, where the explorer
        // page below embeds those of its images (the same first test images).
        eprintln!("== {}: attribution methods", run.name);
        let explained = run_dir.join("explain");
        trainer::explain::run(&ExplainArgs {
            run: run_dir.clone(),
            methods: Vec::new(),
            layer: "relu2".into(),
            images: REPORT_IMAGES,
            target: "predicted".into(),
            eval_images: if args.quick {
                QUICK_EXPLAIN_EVAL_IMAGES
            } else {
                EXPLAIN_EVAL_IMAGES
            },
            out: Some(explained.clone()),
            data_dir: run.data_dir.clone().or_else(|| args.data_dir.clone()),
            title: run.title.map(String::from),
        })?;
        for name in [
            trainer::explain::REPORT,
            trainer::explain::FIGURE,
            trainer::explain::FAITHFULNESS,
        ] {
            std::fs::copy(explained.join(name), figures.join(name))
                .with_context(|| format!("copying {name}"))?;
        }
        // The explorer page and its screenshot for the README.
        let page = figures.join(trainer::report::REPORT_FILE);
        trainer::report::run(&ReportArgs {
            run: run_dir.clone(),
            images: REPORT_IMAGES,
            out: Some(page.clone()),
            data_dir: run.data_dir.clone().or_else(|| args.data_dir.clone()),
            title: run.title.map(String::from),
        })?;
        screenshot(&page, &figures.join(REPORT_SCREENSHOT))?;
        for name in ["history.json", "history.csv"] {
            std::fs::copy(run_dir.join(name), figures.join(name))
                .with_context(|| format!("copying {name}"))?;
        }
        for entry in std::fs::read_dir(&figures)? {
            files.push(entry?.path().strip_prefix(&out)?.to_path_buf());
        }
        let peak_rss_mib = peak_rss.map(|b| (b as f64 / 1048576.0).round());
        let m = run_metrics(&run_dir, &figures, peak_rss_mib)?;
        metrics.insert(run.name.to_string(), m);
    }
    let metrics_path = out.join("metrics.json");
    let mut bytes = serde_json::to_vec_pretty(&metrics)?;
    bytes.push(b'\n');
    convlens_data::write_atomic(&metrics_path, &bytes)?;
    files.push(PathBuf::from("metrics.json"));
    files.sort();
    if !args.quick && args.out.is_none() {
        let metrics = read_metrics(&metrics_path)?;
        crate::readme::update(&root, "results", &crate::readme::results_block(&metrics))?;
        crate::readme::update(&root, "colour", &crate::readme::colour_block(&metrics))?;
        crate::readme::update(
            &root,
            "explain",
            &crate::readme::explain_block(&crate::readme::read_explain(&out)?),
        )?;
        crate::readme::update(&root, "evolution", &crate::readme::evolution_block(&out)?)?;
        crate::readme::update_speed(&root)?;
        std::fs::copy(
            out.join("mnist/architecture.png"),
            out.join("architecture.png"),
        )?;
    }
    Ok(Written { out, files })
}

/// A JSON file of the pipeline, typed.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not the expected JSON", path.display()))
}

/// `results/metrics.json`: the metrics of each documented run, by run name.
pub type Metrics = BTreeMap<String, RunMetrics>;

/// Reads `results/metrics.json` (or another file of that shape).
pub fn read_metrics(path: &Path) -> Result<Metrics> {
    read_json(path)
}

/// One run of `results/metrics.json`. (Fields in alphabetical order, the order the file has
/// always had.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Per-layer activation statistics over the test set, in forward order.
    pub activation_stats: Vec<LayerMetrics>,
    /// The best value of each curve and its epoch.
    pub best: Curves<Best>,
    /// The run's arguments, as `config.json` records them (keys sorted).
    pub config: Value,
    /// The dataset's title.
    pub dataset: String,
    /// Epochs trained.
    pub epochs: usize,
    /// The values after the last epoch.
    #[serde(rename = "final")]
    pub last: Curves<f64>,
    /// Where the times were measured.
    pub machine: Machine,
    /// Peak resident memory of the training, in MiB, where the system reports it.
    pub peak_rss_mib: Option<f64>,
    /// Test accuracy per class, in label order.
    pub per_class_accuracy: Vec<ClassAccuracy>,
    /// Seconds per epoch and in all.
    pub seconds: Seconds,
    /// The evaluation on the test set.
    pub test: TestMetrics,
}

/// One value per training curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curves<T> {
    /// Training accuracy.
    pub train_accuracy: T,
    /// Mean training loss.
    pub train_loss: T,
    /// Validation accuracy.
    pub val_accuracy: T,
    /// Validation loss.
    pub val_loss: T,
}

/// The best value of a curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// The 1-based epoch it was reached at.
    pub epoch: usize,
    /// The value.
    pub value: f64,
}

/// One layer's activation statistics, as the README's table shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerMetrics {
    /// Channels never active (> 0) on any test image.
    pub channels_never_active: usize,
    /// The layer's name.
    pub layer: String,
    /// Mean of all values.
    pub mean: f64,
    /// Fraction of channels never active.
    pub never_active_fraction: f64,
    /// Fraction of values exactly 0.
    pub zero_fraction: f64,
}

/// Test accuracy of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    /// Fraction (0–1) of the class's test images classified correctly.
    pub accuracy: f64,
    /// The class name.
    pub class: String,
}

/// Wall-clock seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seconds {
    /// Training and validation of every epoch.
    pub total: f64,
    /// Training steps, per epoch.
    pub train_per_epoch: Vec<f64>,
    /// Validation pass, per epoch.
    pub val_per_epoch: Vec<f64>,
}

/// The evaluation on the test set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    /// Fraction (0–1) classified correctly.
    pub accuracy: f64,
    /// Images evaluated.
    pub images: usize,
    /// Mean cross-entropy.
    pub loss: f64,
}

/// The machine timings were measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Logical cores.
    pub cores: usize,
    /// The CPU model.
    pub cpu: String,
    /// The widest vector instructions the kernels used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_unit: Option<String>,
}

/// Final and best metrics, epoch times, per-class accuracy and activation statistics.
fn run_metrics(run_dir: &Path, figures: &Path, peak_rss_mib: Option<f64>) -> Result<RunMetrics> {
    let run = RunDir::existing(run_dir)?;
    let config = run.read_config()?;
    let history = run.read_history()?;
    let last = history.last().context("history.json is empty")?;
    let col = |f: fn(&EpochRecord) -> f64| -> Vec<f64> { history.iter().map(f).collect() };
    let best = |f: fn(&EpochRecord) -> f64, max: bool| -> Best {
        let (i, v) = col(f).into_iter().enumerate().fold(
            (0, if max { f64::MIN } else { f64::MAX }),
            |b, (i, v)| {
                if (max && v > b.1) || (!max && v < b.1) {
                    (i, v)
                } else {
                    b
                }
            },
        );
        Best {
            epoch: i + 1,
            value: v,
        }
    };
    let evaluation: EvaluationFile = read_json(&figures.join(inspect::EVALUATION))?;
    let stats: Vec<LayerSummary> = read_json(&figures.join(inspect::ACTIVATION_STATS))?;
    let train_seconds = col(|r| r.train_seconds);
    let val_seconds = col(|r| r.val_seconds);
    Ok(RunMetrics {
        activation_stats: stats
            .into_iter()
            .map(|s| LayerMetrics {
                channels_never_active: s.channels_never_active,
                layer: s.layer,
                mean: s.mean,
                never_active_fraction: s.never_active_fraction,
                zero_fraction: s.zero_fraction,
            })
            .collect(),
        best: Curves {
            train_accuracy: best(|r| r.train_accuracy, true),
            train_loss: best(|r| r.train_loss, false),
            val_accuracy: best(|r| r.val_accuracy, true),
            val_loss: best(|r| r.val_loss, false),
        },
        config: serde_json::to_value(&config.config)?,
        dataset: config.dataset.title.clone(),
        epochs: history.len(),
        last: Curves {
            train_accuracy: last.train_accuracy,
            train_loss: last.train_loss,
            val_accuracy: last.val_accuracy,
            val_loss: last.val_loss,
        },
        machine: machine(),
        peak_rss_mib,
        // In label order, as a list: a JSON object would sort the class names.
        per_class_accuracy: evaluation
            .class_names
            .into_iter()
            .zip(evaluation.per_class)
            .map(|(class, accuracy)| ClassAccuracy { accuracy, class })
            .collect(),
        seconds: Seconds {
            total: train_seconds.iter().sum::<f64>() + val_seconds.iter().sum::<f64>(),
            train_per_epoch: train_seconds,
            val_per_epoch: val_seconds,
        },
        test: TestMetrics {
            accuracy: evaluation.accuracy,
            images: evaluation.images,
            loss: evaluation.loss,
        },
    })
}

/// Resets this process's peak resident memory (Linux `clear_refs`), so the next reading
/// covers only what follows; elsewhere, or if refused, the peak keeps counting from the start.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident memory in bytes since start or the last reset (Linux
/// `VmHWM`), if the system reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The widest vector instructions the kernels use on this CPU.
fn vector_unit() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            if std::env::var_os(convlens_ops::NO_AVX512).is_some() {
                return "AVX2, AVX-512 switched off";
            }
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "AVX2";
        }
    }
    "no AVX2"
}

/// The CPU model, core count and vector instructions, for the timing columns.
pub fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    Machine {
        cores,
        cpu,
        vector_unit: Some(vector_unit().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick pipeline writes every figure of the README's set, into a temporary folder.
    #[test]
    fn quick_pipeline_writes_every_figure() {
        let written = pipeline(&Args {
            quick: true,
            ..Args::default()
        })
        .unwrap();
        assert!(
            written.out.starts_with(std::env::temp_dir()),
            "{}",
            written.out.display()
        );
        for name in [
            "synthetic/architecture.png",
            "synthetic/samples.png",
            "synthetic/curves.png",
            "synthetic/filters_conv1.png",
            "synthetic/filters_conv2.png",
            "synthetic/filters_conv3.png",
            "synthetic/feature_maps.png",
            "synthetic/classifier.png",
            "synthetic/saliency.png",
            "synthetic/confusion.png",
            "synthetic/activation_stats.png",
            "synthetic/explain.json",
            "synthetic/explain.png",
            "synthetic/faithfulness.png",
            "synthetic-colour/explain.png",
            "synthetic/evolution.png",
            "synthetic/evolution.json",
            "synthetic/history.csv",
            "synthetic/report.html",
            "synthetic/report.png",
            "synthetic-colour/report.html",
            "synthetic-colour/report.png",
            "metrics.json",
        ] {
            assert!(
                written.files.contains(&PathBuf::from(name)),
                "{name} missing from {:?}",
                written.files
            );
        }
        // The screenshots are PNG images 1280 pixels wide.
        for run in ["synthetic", COLOUR_RUN] {
            let png = std::fs::read(written.out.join(run).join(REPORT_SCREENSHOT)).unwrap();
            assert_eq!(&png[1..4], b"PNG", "{run}");
            assert_eq!(
                u32::from_be_bytes(png[16..20].try_into().unwrap()),
                1280,
                "{run}"
            );
        }
        let metrics = read_metrics(&written.out.join("metrics.json")).unwrap();
        let m = &metrics["synthetic"];
        assert_eq!(m.epochs, 3);
        let acc = m.last.val_accuracy;
        assert!(acc > 0.9, "synthetic shapes should be learned: {acc}");
        assert_eq!(m.activation_stats.len(), 12);
        assert_eq!(m.per_class_accuracy.len(), 10);
        assert_eq!(m.per_class_accuracy[5].class, "disc");
        assert_eq!(m.test.images, 500);
        for run in ["synthetic", COLOUR_RUN] {
            let report =
                trainer::explain::read_report(&written.out.join(run).join("explain.json")).unwrap();
            assert_eq!(report.methods.len(), 7, "{run}");
            assert_eq!(report.eval_images, QUICK_EXPLAIN_EVAL_IMAGES, "{run}");
        }
        if cfg!(target_os = "linux") {
            // A training process holds at least the data and the network: tens of MiB.
            let rss = m.peak_rss_mib.unwrap();
            assert!(
                (10.0..1000.0).contains(&rss),
                "peak resident memory {rss} MiB"
            );
        }
        // The walkthrough shows every figure it shows of the published results.
        let shown = crate::video::figures_shown(&written.out).unwrap();
        let published = crate::video::figures_shown(&workspace_root().join("results")).unwrap();
        for name in &published {
            // A run without a mistake has no figure of its mistakes.
            let flawless = name == "misclassified.png" && m.test.accuracy == 1.0;
            assert!(
                flawless || shown.contains(name),
                "the walkthrough would lack {name}"
            );
        }
        assert!(published.len() >= 10, "{published:?}");
        std::fs::remove_dir_all(written.out.parent().unwrap()).ok();
    }
}
