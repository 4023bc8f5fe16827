//! `cargo xtask bench`: training throughput of the course network, side by side —
//! convlens with its own kernels, convlens on candle's stock ops, and eager PyTorch
//! (`xtask/reference/torch_lenet_bench.py`, the course's reference script extended to any
//! input shape) — on the same images, in one run.
//!
//! Every framework trains the first N training images in order with plain SGD (lr 0.1) and
//! cross-entropy, tensors already in memory, after a warm-up of 20 batches: MNIST for the
//! default input, 1×28×28; for another `--input` (3×32×32, 3×96×96, …), the network adapted to
//! it (conv1's input channels, fc1's input features, fc2's `--classes`) on synthetic shapes
//! (colour shapes for three channels), which convlens writes as IDX files for PyTorch to read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use convlens_data::idx::{encode_images, encode_labels, IdxImages};
use convlens_data::{Dataset, Split, MNIST};
use convlens_hooks::{ActivationRecorder, ActivationStats, HookRegistry, LayerSelector};
use convlens_model::{Backend, LayerKind, NetConfig, Network, LAYERS};
use convlens_ops::{conv2d_path, ConvPath, DIRECT_MAX_CHANNEL_PAIRS};
use convlens_train::{train_step, Optimizer, OptimizerConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::figures::Machine;

/// Flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder holding MNIST, for the default 1x28x28 input (default: ../shared/data/mnist
    /// beside the repository).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Input shape CxHxW (square images): 1x28x28 trains on MNIST; any other shape on
    /// synthetic shapes of that size (colour shapes for 3 channels, gray for 1).
    #[arg(long, value_name = "CxHxW", default_value = "1x28x28", value_parser = parse_input)]
    pub input: InputShape,
    /// Classes of the network (outputs of fc2): 100 for CIFAR-100's head, say.
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
    /// Training images per measurement.
    #[arg(long, default_value_t = 16_000)]
    pub images: usize,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,64")]
    pub batch_sizes: Vec<usize>,
    /// Which convlens backends to measure (fast, candle), comma-separated (default: both for
    /// 1x28x28, fast for other inputs).
    #[arg(long, value_delimiter = ',')]
    pub backends: Option<Vec<String>>,
    /// Python with torch for the PyTorch column (default: $PYTHON, else python3).
    #[arg(long)]
    pub python: Option<String>,
    /// Where the results go (default: results/bench.json for 1x28x28 and 10 classes,
    /// results/bench-CxHxW.json for other inputs, -Nclasses appended for N ≠ 10).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The shape of one input image: channels and (square) size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputShape {
    /// Channels.
    pub channels: usize,
    /// Height and width.
    pub size: usize,
}

impl InputShape {
    /// MNIST's shape, the default.
    pub const DEFAULT: InputShape = InputShape {
        channels: 1,
        size: 28,
    };

    /// `[channels, size, size]`.
    pub fn dims(self) -> [usize; 3] {
        [self.channels, self.size, self.size]
    }
}

impl std::fmt::Display for InputShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.size, self.size)
    }
}

/// `3x32x32` → 3 channels of 32×32.
fn parse_input(text: &str) -> Result<InputShape, String> {
    let dims: Vec<usize> = text
        .split(['x', 'X', '×'])
        .map(|d| d.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("expected CxHxW such as 3x32x32, got {text:?}"))?;
    match dims[..] {
        [channels, h, w] if h == w && channels > 0 && h > 0 => Ok(InputShape { channels, size: h }),
        [_, h, w] if h != w => Err(format!(
            "{text}: the network takes square images, not {h}×{w}"
        )),
        _ => Err(format!(
            "expected CxHxW with positive sizes, such as 3x32x32, got {text:?}"
        )),
    }
}

const WARMUP_BATCHES: usize = 20;

/// The content of `results/bench.json` and `results/bench-CxHxW.json` (fields in
/// alphabetical order, as the file has them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// Classes of the network (outputs of fc2); absent in files of the MNIST-only benchmark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<usize>,
    /// The training images: `MNIST training images`, `synthetic colour shapes`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The cost of hooked forward passes (measured on the default input only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookCost>,
    /// Training images per measurement.
    pub images: usize,
    /// `[channels, height, width]` of the images; absent in files of the MNIST-only benchmark
    /// (`[1, 28, 28]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<[usize; 3]>,
    /// The kernels convlens' convolutions ran, layer by layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernels: Vec<KernelPath>,
    /// Where it was measured.
    pub machine: Machine,
    /// Why PyTorch was not measured, when it was not.
    pub pytorch: Option<String>,
    /// One row per framework and batch size.
    pub rows: Vec<BenchRow>,
}

impl BenchReport {
    /// The input shape (MNIST's for files that do not record one).
    pub fn input_shape(&self) -> InputShape {
        match self.input {
            Some([channels, size, _]) => InputShape { channels, size },
            None => InputShape::DEFAULT,
        }
    }
}

/// Which kernels convlens ran for one convolution (`convlens_ops::conv2d_path`), forward and
/// backward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelPath {
    /// Where this layer's path differs from the one it takes on the default 1×28×28 input, and
    /// why; absent when it is the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// `conv1`, `conv2`, `conv3`.
    pub layer: String,
    /// `direct`, `im2col + gemm` or `dense gemm`.
    pub path: String,
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

/// The training images of one benchmark and where PyTorch reads them.
struct BenchData {
    /// `MNIST training images`, `synthetic colour shapes`, ….
    name: &'static str,
    /// The first N training images.
    train: Split,
    /// A folder with `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`.
    dir: PathBuf,
    /// Holds the IDX files written for PyTorch until the run ends.
    _written: Option<tempfile::TempDir>,
}

/// Seed of the synthetic images (the same images in every run).
const SYNTHETIC_SEED: u64 = 0;

/// MNIST for the default input; otherwise synthetic images of the input shape, written as IDX
/// files (uncompressed) into a temporary folder for the PyTorch script.
fn bench_data(args: &Args, root: &Path) -> Result<BenchData> {
    if args.input == InputShape::DEFAULT {
        let dir = args
            .data_dir
            .clone()
            .unwrap_or_else(|| root.join("../shared/data/mnist"));
        let data = Dataset::from_dir(&dir, &MNIST)
            .with_context(|| format!("--data-dir {}", dir.display()))?;
        let train = data.train.first(args.images);
        return Ok(BenchData {
            name: "MNIST training images",
            train,
            dir,
            _written: None,
        });
    }
    anyhow::ensure!(
        args.data_dir.is_none(),
        "--data-dir: the {} benchmark trains on synthetic images; MNIST is for 1x28x28",
        args.input
    );
    anyhow::ensure!(args.images > 0, "--images must be at least 1");
    let size = args.input.size;
    let (name, train) = match args.input.channels {
        3 => (
            "synthetic colour shapes",
            convlens_data::synthetic_colour::colour_shapes(args.images, size, SYNTHETIC_SEED)?,
        ),
        1 => {
            let (images, labels) =
                convlens_data::synthetic::generate(args.images, size, SYNTHETIC_SEED);
            (
                "synthetic shapes",
                Split::new(images.pixels, labels, [1, size, size])?,
            )
        }
        c => anyhow::bail!(
            "--input {}: synthetic images have 1 or 3 channels, not {c}",
            args.input
        ),
    };
    let written = tempfile::Builder::new()
        .prefix("convlens-bench-")
        .tempdir()
        .context("a temporary folder for the PyTorch script's images")?;
    let per: usize = args.input.dims().iter().product();
    let mut pixels = Vec::with_capacity(train.len() * per);
    for i in 0..train.len() {
        pixels.extend_from_slice(train.image(i));
    }
    let idx = IdxImages {
        count: train.len(),
        channels: args.input.channels,
        rows: size,
        cols: size,
        pixels,
    };
    let dir = written.path().to_path_buf();
    std::fs::write(dir.join("train-images-idx3-ubyte"), encode_images(&idx))?;
    drop(idx);
    std::fs::write(
        dir.join("train-labels-idx1-ubyte"),
        encode_labels(train.labels()),
    )?;
    Ok(BenchData {
        name,
        train,
        dir,
        _written: Some(written),
    })
}

/// The default output file: `results/bench.json` for the MNIST benchmark, else
/// `results/bench-CxHxW[-Nclasses].json`.
pub fn default_out(input: InputShape, classes: usize) -> PathBuf {
    if input == InputShape::DEFAULT && classes == 10 {
        return PathBuf::from("results/bench.json");
    }
    PathBuf::from(format!("results/{}.json", block_name(input, classes)))
}

/// The README block (and results file stem) of a benchmark: `bench`, `bench-3x32x32`,
/// `bench-3x32x32-100classes`.
pub fn block_name(input: InputShape, classes: usize) -> String {
    if input == InputShape::DEFAULT && classes == 10 {
        return "bench".into();
    }
    let mut name = format!("bench-{input}");
    if classes != 10 {
        name.push_str(&format!("-{classes}classes"));
    }
    name
}

/// The path each convolution of the network takes for `config` (`convlens_ops::conv2d_path`),
/// with the reason where it is not the path it takes on the default input.
pub fn kernel_paths(config: &NetConfig) -> Result<Vec<KernelPath>> {
    let paths = |config: &NetConfig| -> Result<Vec<(&'static str, [usize; 3], ConvPath)>> {
        let shapes = config.output_shapes()?;
        let mut input = [config.in_channels, config.input_size, config.input_size];
        let mut out = Vec::new();
        for (layer, shape) in LAYERS.iter().zip(&shapes) {
            if let LayerKind::Conv2d {
                out_channels,
                kernel,
                padding,
            } = layer.kind
            {
                let path = conv2d_path(input, out_channels, kernel, padding)?;
                out.push((layer.name, input, path));
            }
            if let [c, h, w] = shape[..] {
                input = [c, h, w];
            }
        }
        Ok(out)
    };
    let here = paths(config)?;
    let default = paths(&NetConfig::default())?;
    Ok(here
        .iter()
        .zip(&default)
        .map(|(&(layer, [c, h, w], path), &(_, [dc, dh, dw], usual))| {
            let out_channels = LAYERS
                .iter()
                .find_map(|l| match l.kind {
                    LayerKind::Conv2d { out_channels, .. } if l.name == layer => Some(out_channels),
                    _ => None,
                })
                .unwrap_or(0);
            let why = match (usual, path) {
                (ConvPath::Direct, ConvPath::Im2col) => format!(
                    "the direct kernels take at most {DIRECT_MAX_CHANNEL_PAIRS} input × output \
                     channel pairs, {layer} has {c} × {out_channels} = {}",
                    c * out_channels
                ),
                (ConvPath::Dense, ConvPath::Im2col) => format!(
                    "where the kernel covers {layer}'s whole {dh}×{dw} input, one product over \
                     the batch; here its input is {h}×{w}, im2col image by image"
                ),
                _ => format!("where {layer}'s input is {dc}×{dh}×{dw}; here {c}×{h}×{w}"),
            };
            KernelPath {
                fallback: (path != usual).then(|| format!("{usual} on 1×28×28, {why}")),
                layer: layer.to_string(),
                path: path.to_string(),
            }
        })
        .collect())
}

/// Runs the benchmark.
pub fn run(args: &Args) -> Result<()> {
    // As the trainer does: freed tensor memory stays mapped between steps.
    convlens_ops::keep_freed_memory();
    let root = crate::figures::workspace_root();
    let config = NetConfig {
        in_channels: args.input.channels,
        classes: args.classes,
        input_size: args.input.size,
    };
    config
        .validate()
        .with_context(|| format!("--input {} --classes {}", args.input, args.classes))?;
    let backends = args.backends.clone().unwrap_or_else(|| {
        if args.input == InputShape::DEFAULT {
            vec!["fast".into(), "candle".into()]
        } else {
            vec!["fast".into()]
        }
    });
    if let Some(b) = backends.iter().find(|b| *b != "fast" && *b != "candle") {
        anyhow::bail!("--backends {b}: expected fast or candle");
    }
    let data = bench_data(args, &root)?;
    let n = data.train.len();
    if let Some(&top) = data.train.labels().iter().max() {
        anyhow::ensure!(
            usize::from(top) < args.classes,
            "--classes {}: the images have label {top}",
            args.classes
        );
    }
    let kernels = kernel_paths(&config)?;
    eprintln!(
        "{} {}, {n} images, {} classes; fc1 {} → 60",
        data.name,
        args.input,
        args.classes,
        config
            .parameter_shapes()?
            .iter()
            .find(|(name, _)| *name == "fc1.weight")
            .map_or(0, |(_, s)| s[1])
    );
    for k in &kernels {
        match &k.fallback {
            Some(why) => eprintln!("convlens {}: {}, not {why}", k.layer, k.path),
            None => eprintln!("convlens {}: {}", k.layer, k.path),
        }
    }
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
            if !backends.iter().any(|b| b == key) {
                continue;
            }
            let (seconds, mean_loss) = measure(&data.train, config, bs, backend)?;
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
    let torch = pytorch(args, &data.dir, n, &root);
    match &torch {
        Ok(lines) => rows.extend(lines.iter().cloned()),
        Err(e) => eprintln!("PyTorch: not measured: {e:#}"),
    }
    drop(data._written);
    let default_input = args.input == InputShape::DEFAULT;
    let hooks = if default_input {
        hook_costs()?
    } else {
        Vec::new()
    };
    let report = BenchReport {
        classes: Some(args.classes),
        data: Some(data.name.to_string()),
        hooks,
        images: n,
        input: Some(args.input.dims()),
        kernels,
        machine: crate::figures::machine(),
        pytorch: torch.as_ref().err().map(|e| format!("not measured: {e:#}")),
        rows,
    };
    for (framework, ratios) in ratios(&report) {
        let cells: Vec<String> = ratios
            .iter()
            .map(|(bs, r)| format!("batch {bs}: {r:.2}×"))
            .collect();
        eprintln!("{framework} / PyTorch: {}", cells.join(", "));
    }
    let block = block_name(args.input, args.classes);
    println!("\n{}", crate::readme::bench_block(&report));
    if default_input {
        println!("{}", hooks_block(&report));
    }
    let default_out = default_out(args.input, args.classes);
    let out_arg = args.out.clone().unwrap_or_else(|| default_out.clone());
    let out = if out_arg.is_absolute() {
        out_arg.clone()
    } else {
        root.join(&out_arg)
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut bytes = serde_json::to_vec_pretty(&report)?;
    bytes.push(b'\n');
    convlens_data::write_atomic(&out, &bytes)?;
    println!("wrote {}", out.display());
    if out_arg == default_out {
        if block == "bench" {
            crate::readme::update(&root, "bench", &crate::readme::bench_block(&report))?;
            crate::readme::update(&root, "hooks", &hooks_block(&report))?;
            crate::readme::update_speed(&root)?;
        } else if crate::readme::has_block(&root, &block)? {
            crate::readme::update(&root, &block, &crate::readme::bench_block(&report))?;
        } else {
            println!(
                "README.md has no <!-- {block}:begin --> … <!-- {block}:end --> block: not updated"
            );
        }
    }
    Ok(())
}

/// convlens' throughput over PyTorch's, per framework and batch size, for the rows that have
/// both.
pub fn ratios(report: &BenchReport) -> Vec<(String, Vec<(usize, f64)>)> {
    let torch = |bs: usize| {
        report
            .rows
            .iter()
            .find(|r| r.framework.starts_with("PyTorch") && r.batch_size == bs)
            .map(|r| r.images_per_s)
    };
    let mut out: Vec<(String, Vec<(usize, f64)>)> = Vec::new();
    for row in report
        .rows
        .iter()
        .filter(|r| !r.framework.starts_with("PyTorch"))
    {
        let Some(t) = torch(row.batch_size) else {
            continue;
        };
        let ratio = (row.batch_size, row.images_per_s / t);
        match out.iter_mut().find(|(f, _)| *f == row.framework) {
            Some((_, list)) => list.push(ratio),
            None => out.push((row.framework.clone(), vec![ratio])),
        }
    }
    out
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

/// Seconds to train the images of `train` in batches of `bs` (the whole batches) after the
/// warm-up, and the mean loss.
fn measure(train: &Split, config: NetConfig, bs: usize, backend: Backend) -> Result<(f64, f64)> {
    let dev = Device::Cpu;
    let mut network = Network::new(config, 13, &dev)?;
    network.set_backend(backend);
    let mut optimizer = Optimizer::new(
        OptimizerConfig {
            lr: 0.1,
            ..OptimizerConfig::default()
        },
        network.parameters(),
    );
    let batches = train.len() / bs;
    let index: Vec<Vec<usize>> = (0..batches)
        .map(|b| (b * bs..(b + 1) * bs).collect())
        .collect();
    let tensors = index
        .iter()
        .map(|i| train.batch(i, &dev))
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
    let script = root.join("xtask/reference/torch_lenet_bench.py");
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
        .args(["--input", &args.input.to_string()])
        .args(["--classes", &args.classes.to_string()])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shapes_parse() {
        let shape = |c, size| InputShape { channels: c, size };
        assert_eq!(parse_input("3x32x32"), Ok(shape(3, 32)));
        assert_eq!(parse_input("1X28X28"), Ok(shape(1, 28)));
        assert_eq!(parse_input("3×96×96"), Ok(shape(3, 96)));
        assert_eq!(shape(3, 96).to_string(), "3x96x96");
        assert!(parse_input("3x32x48").unwrap_err().contains("square"));
        for bad in ["3x32", "0x32x32", "3x0x0", "rgb", "3x32x32x1", ""] {
            assert!(parse_input(bad).is_err(), "{bad}");
        }
    }

    /// The default run keeps results/bench.json; other inputs get a file and block each.
    #[test]
    fn output_files_and_blocks() {
        let rgb = InputShape {
            channels: 3,
            size: 32,
        };
        assert_eq!(
            default_out(InputShape::DEFAULT, 10),
            Path::new("results/bench.json")
        );
        assert_eq!(
            default_out(rgb, 10),
            Path::new("results/bench-3x32x32.json")
        );
        assert_eq!(
            default_out(rgb, 100),
            Path::new("results/bench-3x32x32-100classes.json")
        );
        assert_eq!(
            default_out(InputShape::DEFAULT, 100),
            Path::new("results/bench-1x28x28-100classes.json")
        );
        assert_eq!(block_name(InputShape::DEFAULT, 10), "bench");
        assert_eq!(block_name(rgb, 10), "bench-3x32x32");
    }

    /// On MNIST's shape every convolution takes its usual path; on 3×32×32 conv1 has too many
    /// channel pairs for the direct kernel and conv3's kernel no longer covers its input.
    #[test]
    fn kernel_paths_name_the_fallbacks() {
        let mnist = kernel_paths(&NetConfig::default()).unwrap();
        let paths: Vec<(&str, &str)> = mnist
            .iter()
            .map(|k| (k.layer.as_str(), k.path.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("conv1", "direct"),
                ("conv2", "im2col + gemm"),
                ("conv3", "dense gemm")
            ]
        );
        assert!(mnist.iter().all(|k| k.fallback.is_none()));
        let rgb = kernel_paths(&NetConfig {
            in_channels: 3,
            classes: 10,
            input_size: 32,
        })
        .unwrap();
        assert!(rgb.iter().all(|k| k.path == "im2col + gemm"));
        assert_eq!(
            rgb[0].fallback.as_deref(),
            Some(
                "direct on 1×28×28, the direct kernels take at most 8 input × output channel \
                 pairs, conv1 has 3 × 3 = 9"
            )
        );
        assert!(rgb[1].fallback.is_none());
        assert!(rgb[2].fallback.as_deref().unwrap().contains("6×6"));
        // Gray images of another size keep the direct first layer.
        let gray = kernel_paths(&NetConfig {
            in_channels: 1,
            classes: 10,
            input_size: 32,
        })
        .unwrap();
        assert_eq!(gray[0].path, "direct");
        assert!(gray[0].fallback.is_none());
    }

    /// convlens over PyTorch per framework and batch size.
    #[test]
    fn ratios_per_batch_size() {
        let row = |framework: &str, batch_size, images_per_s| BenchRow {
            batch_size,
            framework: framework.into(),
            images: 0,
            images_per_s,
            mean_loss: 0.0,
            seconds: 0.0,
            extra: serde_json::Map::new(),
        };
        let report = BenchReport {
            classes: None,
            data: None,
            hooks: Vec::new(),
            images: 0,
            input: None,
            kernels: Vec::new(),
            machine: crate::figures::machine(),
            pytorch: None,
            rows: vec![
                row("convlens (fast kernels)", 16, 300.0),
                row("convlens (fast kernels)", 64, 800.0),
                row("PyTorch 2 (eager)", 16, 100.0),
                row("PyTorch 2 (eager)", 64, 400.0),
            ],
        };
        assert_eq!(
            ratios(&report),
            [(
                "convlens (fast kernels)".to_string(),
                vec![(16, 3.0), (64, 2.0)]
            )]
        );
    }
}
