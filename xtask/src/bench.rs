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
use convlens_hooks::{ActivationRecorder, ActivationStats, HookRegistry, LayerSelector};
use convlens_model::{Backend, NetConfig, Network};
use convlens_train::{train_step, Optimizer, OptimizerConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::figures::Machine;

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

/// The content of `results/bench.json` (fields in alphabetical order, as the file has them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// The cost of hooked forward passes.
    #[serde(default)]
    pub hooks: Vec<HookCost>,
    /// Training images per measurement.
    pub images: usize,
    /// Where it was measured.
    pub machine: Machine,
    /// Why PyTorch was not measured, when it was not.
    pub pytorch: Option<String>,
    /// One row per framework and batch size.
    pub rows: Vec<BenchRow>,
}

/// Training throughput of one framework at one batch size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchRow {
    /// Images per step.
    pub batch_size: usize,
    /// `convlens (fast kernels)`, `PyTorch 2.x (eager)`, ….
    pub framework: String,
    /// Images trained in the timed part.
    pub images: usize,
    /// Throughput.
    pub images_per_s: f64,
    /// Mean training loss over the timed steps.
    pub mean_loss: f64,
    /// Seconds of the timed part.
    pub seconds: f64,
    /// What the reference script adds (its version, threads).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// The cost of one kind of forward pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HookCost {
    /// Fastest timed pass, ms.
    pub fastest_ms: f64,
    /// Median timed pass, ms.
    pub median_ms: f64,
    /// Which pass.
    pub pass: String,
}

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
            rows.push(BenchRow {
                batch_size: bs,
                framework: name.to_string(),
                images,
                images_per_s: images as f64 / seconds,
                mean_loss,
                seconds,
                extra: serde_json::Map::new(),
            });
        }
    }
    let torch = pytorch(args, &data_dir, n, &root);
    match &torch {
        Ok(lines) => rows.extend(lines.iter().cloned()),
        Err(e) => eprintln!("PyTorch: not measured: {e:#}"),
    }
    let hooks = hook_costs()?;
    let report = BenchReport {
        hooks,
        images: n,
        machine: crate::figures::machine(),
        pytorch: torch.as_ref().err().map(|e| format!("not measured: {e:#}")),
        rows,
    };
    println!("\n{}", crate::readme::bench_block(&report));
    println!("{}", hooks_block(&report));
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
        crate::readme::update(&root, "hooks", &hooks_block(&report))?;
    }
    Ok(())
}

/// Batch size of the hook-cost measurement.
const HOOK_BATCH: usize = 64;
/// Timed forward passes per variant (after as many warm-up passes).
const HOOK_PASSES: usize = 300;

/// The cost of observing the network: the course network's forward pass on a batch of 64
/// without a registry, with an empty one, with hooks, a recorder or statistics on every
/// layer, and on candle's own ops for scale. Median and fastest of the timed passes, in ms.
/// Attaches what one hooked variant observes with; the box keeps it attached.
type AttachHooks<'a> = &'a dyn Fn(&HookRegistry) -> Result<Box<dyn std::any::Any>>;

fn hook_costs() -> Result<Vec<HookCost>> {
    let dev = Device::Cpu;
    let mut net = Network::new(NetConfig::default(), 0, &dev)?;
    net.set_backend(Backend::Fast);
    let x = candle_core::Tensor::rand(0f32, 1f32, (HOOK_BATCH, 1, 28, 28), &dev)?;
    let time = |label: &str, pass: &dyn Fn() -> Result<()>| -> Result<HookCost> {
        for _ in 0..HOOK_PASSES {
            pass()?;
        }
        let mut ms = Vec::with_capacity(HOOK_PASSES);
        for _ in 0..HOOK_PASSES {
            let start = Instant::now();
            pass()?;
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        eprintln!("{label:<48} median {:.3} ms", ms[ms.len() / 2]);
        Ok(HookCost {
            fastest_ms: ms[0],
            median_ms: ms[ms.len() / 2],
            pass: label.to_string(),
        })
    };
    let hooked = |setup: AttachHooks| {
        let hooks = net.hook_registry();
        let keep = setup(&hooks)?;
        let pass = || -> Result<()> {
            net.forward_with_hooks(&x, &hooks)?;
            Ok(())
        };
        pass()?;
        Ok::<_, anyhow::Error>((hooks, keep))
    };
    let mut rows = vec![time(
        "`Network::forward` (fused ops, no registry)",
        &|| {
            net.forward(&x)?;
            Ok(())
        },
    )?];
    let variants: [(&str, AttachHooks); 4] = [
        ("`forward_with_hooks`, empty registry", &|_| {
            Ok(Box::new(()))
        }),
        ("a no-op forward hook on all 12 layers", &|h| {
            Ok(Box::new(
                h.register_forward_hook(LayerSelector::All, |_, _, _| Ok(None))?,
            ))
        }),
        ("a full `ActivationRecorder` on all layers", &|h| {
            Ok(Box::new(ActivationRecorder::attach(
                h,
                LayerSelector::All,
                HOOK_BATCH,
            )?))
        }),
        ("`ActivationStats` on all layers", &|h| {
            Ok(Box::new(ActivationStats::attach(h, LayerSelector::All)?))
        }),
    ];
    for (label, setup) in variants {
        let (hooks, keep) = hooked(setup)?;
        rows.push(time(label, &|| {
            net.forward_with_hooks(&x, &hooks)?;
            Ok(())
        })?);
        drop(keep);
    }
    let mut candle = Network::new(NetConfig::default(), 0, &dev)?;
    candle.set_backend(Backend::Candle);
    rows.push(time(
        "`Network::forward`, `Backend::Candle` (for scale)",
        &|| {
            candle.forward(&x)?;
            Ok(())
        },
    )?);
    Ok(rows)
}

/// The README's hook-cost table from `results/bench.json`.
pub fn hooks_block(bench: &BenchReport) -> String {
    let mut s =
        format!("| forward pass, batch of {HOOK_BATCH} | median | fastest |\n|---|---:|---:|\n");
    for row in &bench.hooks {
        s.push_str(&format!(
            "| {} | {:.3} ms | {:.3} ms |\n",
            row.pass, row.median_ms, row.fastest_ms
        ));
    }
    s.push_str(&format!(
        "\n{HOOK_PASSES} timed passes each after as many warm-up passes, f32, written by \
         `cargo xtask bench`.\n"
    ));
    s
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

fn pytorch(args: &Args, data_dir: &Path, n: usize, root: &Path) -> Result<Vec<BenchRow>> {
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
            Ok(serde_json::from_value(v)?)
        })
        .collect()
}
