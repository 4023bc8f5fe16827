//! `cargo xtask figures`: trains the documented runs with fixed seeds, then writes every
//! figure the README shows and `results/metrics.json`.
//!
//! `--quick` runs the same pipeline on synthetic data into a temporary folder (never over
//! `results/`); a test runs it so the figure pipeline cannot rot.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use convlens_data::synthetic::{write_synthetic, SyntheticConfig};
use serde_json::{json, Value};
use trainer::cli::{InspectArgs, TrainArgs};

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
        let work = std::env::temp_dir().join(format!("convlens-quick-{}", std::process::id()));
        let data = work.join("data");
        write_synthetic(
            &data,
            &SyntheticConfig {
                train: 2000,
                test: 500,
                ..SyntheticConfig::default()
            },
        )?;
        let runs = vec![Documented {
            name: "synthetic",
            dataset: format!("idx:{}", data.display()),
            epochs: 3,
        }];
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
            },
            Documented {
                name: "fashion-mnist",
                dataset: "fashion-mnist".into(),
                epochs: 20,
            },
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
    let mut metrics = serde_json::Map::new();
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
        trainer::commands::train(&TrainArgs {
            dataset: run.dataset.clone(),
            data_dir: args.data_dir.clone(),
            epochs: run.epochs,
            out: Some(run_dir.clone()),
            ..TrainArgs::default()
        })?;
        let peak_rss = peak_rss_bytes();
        let figures = out.join(run.name);
        eprintln!("== {}: figures into {}", run.name, figures.display());
        trainer::inspect::run(&InspectArgs {
            run: run_dir.clone(),
            images: 10,
            layers: Vec::new(),
            out: Some(figures.clone()),
            data_dir: args.data_dir.clone(),
            limit: None,
        })?;
        for name in ["history.json", "history.csv"] {
            std::fs::copy(run_dir.join(name), figures.join(name))
                .with_context(|| format!("copying {name}"))?;
        }
        for entry in std::fs::read_dir(&figures)? {
            files.push(entry?.path().strip_prefix(&out)?.to_path_buf());
        }
        let mut m = run_metrics(&run_dir, &figures)?;
        m["peak_rss_mib"] = json!(peak_rss.map(|b| (b as f64 / 1048576.0).round()));
        metrics.insert(run.name.to_string(), m);
    }
    let metrics_path = out.join("metrics.json");
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(metrics))?;
    bytes.push(b'\n');
    convlens_data::write_atomic(&metrics_path, &bytes)?;
    files.push(PathBuf::from("metrics.json"));
    files.sort();
    if !args.quick && args.out.is_none() {
        let metrics = read_json(&metrics_path)?;
        crate::readme::update(&root, "results", &crate::readme::results_block(&metrics))?;
        std::fs::copy(
            out.join("mnist/architecture.png"),
            out.join("architecture.png"),
        )?;
    }
    Ok(Written { out, files })
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Final and best metrics, epoch times, per-class accuracy and activation statistics.
fn run_metrics(run_dir: &Path, figures: &Path) -> Result<Value> {
    let config = read_json(&run_dir.join("config.json"))?;
    let history = read_json(&run_dir.join("history.json"))?;
    let rows = history.as_array().context("history.json is not an array")?;
    let last = rows.last().context("history.json is empty")?;
    let col = |key: &str| -> Vec<f64> { rows.iter().filter_map(|r| r[key].as_f64()).collect() };
    let best = |key: &str, max: bool| -> Value {
        let values = col(key);
        let (i, v) = values.iter().copied().enumerate().fold(
            (0, if max { f64::MIN } else { f64::MAX }),
            |b, (i, v)| {
                if (max && v > b.1) || (!max && v < b.1) {
                    (i, v)
                } else {
                    b
                }
            },
        );
        json!({ "value": v, "epoch": i + 1 })
    };
    let evaluation = read_json(&figures.join("evaluation.json"))?;
    let stats = read_json(&figures.join("activation_stats.json"))?;
    // In label order, as a list: a JSON object would sort the class names.
    let per_class: Vec<Value> = evaluation["class_names"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(evaluation["per_class"].as_array().into_iter().flatten())
        .map(|(n, a)| json!({ "class": n, "accuracy": a }))
        .collect();
    let layers: Vec<Value> = stats
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            json!({
                "layer": s["layer"],
                "zero_fraction": s["zero_fraction"],
                "mean": s["mean"],
                "never_active_fraction": s["never_active_fraction"],
                "channels_never_active": s["channels_never_active"],
            })
        })
        .collect();
    let train_seconds = col("train_seconds");
    let val_seconds = col("val_seconds");
    Ok(json!({
        "dataset": config["dataset"]["title"],
        "config": config["config"],
        "epochs": rows.len(),
        "final": {
            "train_loss": last["train_loss"],
            "val_loss": last["val_loss"],
            "train_accuracy": last["train_accuracy"],
            "val_accuracy": last["val_accuracy"],
        },
        "best": {
            "train_loss": best("train_loss", false),
            "val_loss": best("val_loss", false),
            "train_accuracy": best("train_accuracy", true),
            "val_accuracy": best("val_accuracy", true),
        },
        "test": { "loss": evaluation["loss"], "accuracy": evaluation["accuracy"], "images": evaluation["images"] },
        "per_class_accuracy": per_class,
        "activation_stats": layers,
        "seconds": {
            "train_per_epoch": train_seconds,
            "val_per_epoch": val_seconds,
            "total": train_seconds.iter().sum::<f64>() + val_seconds.iter().sum::<f64>(),
        },
        "machine": machine(),
    }))
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
pub fn machine() -> Value {
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
    json!({ "cpu": cpu, "cores": cores, "vector_unit": vector_unit() })
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
            "synthetic/history.csv",
            "metrics.json",
        ] {
            assert!(
                written.files.contains(&PathBuf::from(name)),
                "{name} missing from {:?}",
                written.files
            );
        }
        let metrics = read_json(&written.out.join("metrics.json")).unwrap();
        let m = &metrics["synthetic"];
        assert_eq!(m["epochs"], 3);
        let acc = m["final"]["val_accuracy"].as_f64().unwrap();
        assert!(acc > 0.9, "synthetic shapes should be learned: {acc}");
        assert_eq!(m["activation_stats"].as_array().unwrap().len(), 12);
        if cfg!(target_os = "linux") {
            // A training process holds at least the data and the network: tens of MiB.
            let rss = m["peak_rss_mib"].as_f64().unwrap();
            assert!(
                (10.0..1000.0).contains(&rss),
                "peak resident memory {rss} MiB"
            );
        }
        std::fs::remove_dir_all(written.out.parent().unwrap()).ok();
    }
}
