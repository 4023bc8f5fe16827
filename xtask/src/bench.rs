//! `cargo xtask bench`: training throughput of the course network, side by side —
//! convlens with its own kernels, convlens on candle's stock ops, and eager PyTorch
//! (`../shared/reference/torch_lenet_bench.py`) — on the same images, in one run.
//!
//! Every framework trains the first N MNIST training images in order with plain SGD
//! (lr 0.1) and cross-entropy, tensors already in memory, after a warm-up of 20 batches.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use convlens_data::{Dataset, MNIST};
use convlens_model::{Backend, NetConfig, Network};
use convlens_train::{train_step, Optimizer, OptimizerConfig};
use serde_json::{json, Value};

/// Flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder holding MNIST (default: ../shared/data/mnist beside the repository).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Training images per measurement.
    #[arg(long, default_value_t = 16_000)]
    pub images: usize,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    pub batch_sizes: Vec<usize>,
    /// Which convlens backends to measure (fast, candle), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "fast,candle")]
    pub backends: Vec<String>,
    /// Python with torch for the PyTorch column (default: $PYTHON, else python3).
    #[arg(long)]
    pub python: Option<String>,
    /// Where the results go.
    #[arg(long, default_value = "results/bench.json")]
    pub out: PathBuf,
}

const WARMUP_BATCHES: usize = 20;

/// Runs the benchmark.
pub fn run(args: &Args) -> Result<()> {
    // As the trainer does: freed tensor memory stays mapped between steps.
    convlens_ops::keep_freed_memory();
    let root = crate::figures::workspace_root();
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| root.join("../shared/data/mnist"));
    let data = Dataset::from_dir(&data_dir, &MNIST)
        .with_context(|| format!("--data-dir {}", data_dir.display()))?;
    let n = args.images.min(data.train.len());
    let mut rows = Vec::new();
    for &bs in &args.batch_sizes {
        anyhow::ensure!(
            bs > 0 && bs <= n,
            "--batch-sizes {bs}: must be between 1 and {n}"
        );
        for (name, backend) in [
            ("convlens (fast kernels)", Backend::Fast),
            ("convlens (stock candle ops)", Backend::Candle),
        ] {
            let key = if backend == Backend::Fast {
                "fast"
            } else {
                "candle"
            };
            if !args.backends.iter().any(|b| b == key) {
                continue;
            }
            let (seconds, mean_loss) = measure(&data, n, bs, backend)?;
            let images = n / bs * bs;
            eprintln!(
                "{name:<28} batch {bs:>3}: {:>8.0} images/s",
                images as f64 / seconds
            );
            rows.push(json!({
                "framework": name, "batch_size": bs, "images": images, "seconds": seconds,
                "images_per_s": images as f64 / seconds, "mean_loss": mean_loss,
            }));
        }
    }
    let torch = pytorch(args, &data_dir, n, &root);
    match &torch {
        Ok(lines) => rows.extend(lines.iter().cloned()),
        Err(e) => eprintln!("PyTorch: not measured: {e:#}"),
    }
    let report = json!({
        "images": n,
        "machine": crate::figures::machine(),
        "pytorch": match &torch { Ok(_) => Value::Null, Err(e) => Value::String(format!("not measured: {e:#}")) },
        "rows": rows,
    });
    println!("\n{}", crate::readme::bench_block(&report));
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        root.join(&args.out)
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut bytes = serde_json::to_vec_pretty(&report)?;
    bytes.push(b'\n');
    convlens_data::write_atomic(&out, &bytes)?;
    println!("wrote {}", out.display());
    if args.out == Path::new("results/bench.json") {
        crate::readme::update(&root, "bench", &crate::readme::bench_block(&report))?;
    }
    Ok(())
}

/// Seconds to train `n / bs` batches after the warm-up, and the mean loss.
fn measure(data: &Dataset, n: usize, bs: usize, backend: Backend) -> Result<(f64, f64)> {
    let dev = Device::Cpu;
    let mut network = Network::new(NetConfig::default(), 13, &dev)?;
    network.set_backend(backend);
    let mut optimizer = Optimizer::new(
        OptimizerConfig {
            lr: 0.1,
            ..OptimizerConfig::default()
        },
        network.parameters(),
    );
    let batches = n / bs;
    let index: Vec<Vec<usize>> = (0..batches)
        .map(|b| (b * bs..(b + 1) * bs).collect())
        .collect();
    let tensors = index
        .iter()
        .map(|i| data.train.batch(i, &dev))
        .collect::<Result<Vec<_>, _>>()?;
    for (x, y) in tensors.iter().take(WARMUP_BATCHES) {
        train_step(&network, &mut optimizer, x, y)?;
    }
    let start = Instant::now();
    let mut total = 0.0;
    for (x, y) in &tensors {
        total += f64::from(train_step(&network, &mut optimizer, x, y)?.0);
    }
    Ok((start.elapsed().as_secs_f64(), total / batches as f64))
}

fn pytorch(args: &Args, data_dir: &Path, n: usize, root: &Path) -> Result<Vec<Value>> {
    let python = args
        .python
        .clone()
        .or_else(|| std::env::var("PYTHON").ok())
        .unwrap_or_else(|| "python3".into());
    let script = root.join("../shared/reference/torch_lenet_bench.py");
    anyhow::ensure!(script.is_file(), "{} not found", script.display());
    let probe = Command::new(&python)
        .args(["-c", "import torch"])
        .output()
        .with_context(|| format!("cannot run {python}"))?;
    anyhow::ensure!(
        probe.status.success(),
        "`{python} -c \"import torch\"` fails (pip install torch numpy, then pass --python)"
    );
    let sizes = args
        .batch_sizes
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let out = Command::new(&python)
        .arg(&script)
        .arg(data_dir)
        .args(["--images", &n.to_string(), "--batch-sizes", &sizes])
        .output()
        .context("running the PyTorch reference")?;
    anyhow::ensure!(
        out.status.success(),
        "the PyTorch reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| {
            let mut v: Value = serde_json::from_str(l)?;
            let version = v["version"].as_str().unwrap_or("?").to_string();
            v["framework"] = Value::String(format!("PyTorch {version} (eager)"));
            Ok(v)
        })
        .collect()
}
