//! Command-line flags. Flag names are a contract: scripts and `cargo xtask figures` use them.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand};

/// A usage error of the flags as one line, without clap's `error:` prefix and usage block:
/// every failure of `trainer` is one line on stderr. Clap's message and tips are kept.
pub fn usage_error(e: &clap::Error) -> String {
    let text = e.to_string();
    let mut parts: Vec<String> = Vec::new();
    for paragraph in text.split("\n\n") {
        let paragraph = paragraph.trim();
        if paragraph.starts_with("Usage:") || paragraph.starts_with("For more information") {
            break;
        }
        let line = paragraph
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !line.is_empty() {
            parts.push(line);
        }
    }
    let message = parts.join("; ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    if message.is_empty() {
        format!("{}; see trainer --help", e.kind())
    } else {
        format!("{message}; see trainer --help")
    }
}

/// The parser of a path flag: any path the system accepts, but not an empty one, which names
/// no file (and would silently mean the current folder).
fn path() -> impl TypedValueParser<Value = PathBuf> {
    clap::builder::OsStringValueParser::new().try_map(|s| {
        if s.is_empty() {
            Err("an empty path names no folder or file")
        } else {
            Ok(PathBuf::from(s))
        }
    })
}

/// Train the course CNN with candle and see inside it.
#[derive(Debug, Parser)]
#[command(name = "trainer", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: `train` with the reference configuration).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train the network; every epoch is saved into the run folder.
    Train(TrainArgs),
    /// Evaluate a run's weights on the test set.
    Eval(EvalArgs),
    /// Print the layer table: output shapes and parameter counts.
    Summary(SummaryArgs),
    /// List the known datasets, where each was found, and how to get the missing ones.
    Datasets(DatasetsArgs),
    /// Draw every figure of a run: filters, feature maps, classifier, confusion, statistics.
    Inspect(InspectArgs),
    /// Write one self-contained HTML page to explore the run in a browser: every layer of
    /// chosen test images, drawing your own, receptive fields, confusion, filters.
    Report(ReportArgs),
    /// What the network looks at: attribution maps of several methods, each checked for
    /// sanity (cascading randomization) and faithfulness (deletion and insertion curves).
    Explain(ExplainArgs),
    /// Animate a run's snapshots: filters, feature maps, curves and predictions as the
    /// network learns (an animated PNG, and an MP4 when ffmpeg is on the PATH).
    Animate(AnimateArgs),
}

/// Flags of `trainer train`. Defaults are the reference configuration.
#[derive(Debug, Args, Clone)]
pub struct TrainArgs {
    /// fashion-mnist, mnist, kmnist, cifar10, cifar100, svhn, stl10, usps, emnist-SPLIT
    /// (byclass, bymerge, balanced, letters, digits, mnist), qmnist, idx:DIR for a folder of
    /// IDX files, or imagefolder:DIR for DIR/train/CLASS/* and DIR/test/CLASS/* (or val/).
    /// `trainer datasets` lists where each is found.
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: String,
    /// cifar100's label set: fine (100 classes) or coarse (20 superclasses).
    #[arg(long, default_value = "fine")]
    pub labels: String,
    /// Use dataset files whose checksums differ from the published ones (re-packed,
    /// subsetted, or made by a test); the log and config.json record it.
    #[arg(long)]
    pub unverified: bool,
    /// Resize every image to N×N at load (bilinear with antialiasing, as torchvision's
    /// Resize); needed for images smaller than 28×28 and for image folders of mixed sizes.
    #[arg(long, value_name = "N")]
    pub resize: Option<usize>,
    /// Convert every image to one channel at load (as torchvision's Grayscale).
    #[arg(long)]
    pub grayscale: bool,
    /// A folder holding the dataset's files (or a folder of dataset folders).
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub data_dir: Option<PathBuf>,
    /// Number of epochs.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Images per training step.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub lr: f64,
    /// sgd, adam or adamw.
    #[arg(long, default_value = "sgd")]
    pub optimizer: String,
    /// SGD momentum (PyTorch semantics).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub momentum: f64,
    /// Weight decay (L2 for sgd and adam, decoupled for adamw).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub weight_decay: f64,
    /// balanced (class-balanced, with replacement), shuffle, or sequential.
    #[arg(long, default_value = "balanced")]
    pub sampler: String,
    /// The one seed behind initialization, sampling and hold-out splits.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Train on the first N training images only.
    #[arg(long, value_name = "N")]
    pub limit_train: Option<usize>,
    /// Validate on the first N validation images only.
    #[arg(long, value_name = "N")]
    pub limit_val: Option<usize>,
    /// Validate on N images held out of the training set instead of the test set.
    #[arg(long, value_name = "N")]
    pub holdout: Option<usize>,
    /// Start from these weights (safetensors with PyTorch state_dict names).
    #[arg(long, value_name = "WEIGHTS", value_parser = path())]
    pub init: Option<PathBuf>,
    /// The run folder (default: runs/DATASET-TIMESTAMP, the time in UTC).
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its last finished epoch.
    #[arg(long)]
    pub resume: bool,
    /// fast (convlens-ops kernels) or candle (candle's own conv, for comparison; compare
    /// speeds in a `--release` build or with `cargo xtask bench`: a debug build optimizes
    /// candle-core only lightly).
    #[arg(long, default_value = "fast")]
    pub backend: String,
    /// Keep the weights K times per epoch in the first two epochs (geometrically spaced in
    /// the first), once per epoch after, and before the first step, in RUN/snapshots (for
    /// `trainer animate`); 0: none.
    /// Training is the same whatever K.
    #[arg(long, value_name = "K", default_value_t = convlens_train::DEFAULT_SNAPSHOTS)]
    pub snapshots: usize,
}

impl Default for TrainArgs {
    /// The defaults clap would give: what `trainer` with no subcommand runs.
    fn default() -> Self {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            args: TrainArgs,
        }
        Only::parse_from(["train"]).args
    }
}

/// Flags of `trainer eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run folder.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub run: PathBuf,
    /// Evaluate the first N test images only.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Where the dataset is, if not where the run found it.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub data_dir: Option<PathBuf>,
}

/// Flags of `trainer summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Input channels.
    #[arg(long, default_value_t = 1)]
    pub in_channels: usize,
    /// Input height and width.
    #[arg(long, default_value_t = 28)]
    pub input_size: usize,
    /// Number of classes.
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
}

/// Flags of `trainer datasets`.
#[derive(Debug, Args)]
pub struct DatasetsArgs {
    /// Also look in this folder.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub data_dir: Option<PathBuf>,
}

/// Flags of `trainer inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The run folder.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub run: PathBuf,
    /// Test images shown in the feature-map and classifier figures.
    #[arg(long, default_value_t = 10)]
    pub images: usize,
    /// Layers drawn in the feature-map figure (comma-separated; default: all conv-stage layers).
    #[arg(long, value_delimiter = ',')]
    pub layers: Vec<String>,
    /// Output folder (default: RUN/figures).
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub out: Option<PathBuf>,
    /// Where the dataset is, if not where the run found it.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub data_dir: Option<PathBuf>,
    /// Evaluate statistics on the first N test images only (default: all).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// The data's name in the figures' titles (default: the dataset's title, e.g. for data
    /// that is not what its layout says: `--title "synthetic shapes"`).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

/// Flags of `trainer report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run folder.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub run: PathBuf,
    /// Test images embedded in the page (the first ones, some of the mistakes among them).
    #[arg(long, default_value_t = 100)]
    pub images: usize,
    /// The page to write (default: RUN/report.html).
    #[arg(long, value_name = "FILE", value_parser = path())]
    pub out: Option<PathBuf>,
    /// Where the dataset is, if not where the run found it.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub data_dir: Option<PathBuf>,
    /// The data's name in the page (default: the dataset's title).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

/// Flags of `trainer explain`.
#[derive(Debug, Args, Clone)]
pub struct ExplainArgs {
    /// The run folder.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub run: PathBuf,
    /// Methods, comma-separated: saliency, inputxgrad, smoothgrad, ig, gradcam, gradcampp,
    /// occlusion (default: all).
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// The layer of Grad-CAM and Grad-CAM++ (it needs a spatial extent: conv1 to maxp2).
    #[arg(long, default_value = "relu2")]
    pub layer: String,
    /// Test images whose maps are stored (the first 10 of them are drawn).
    #[arg(long, default_value_t = 10)]
    pub images: usize,
    /// The class each map explains: predicted, true, or a class (number or name).
    #[arg(long, default_value = "predicted")]
    pub target: String,
    /// Test images the deletion and insertion curves are measured on.
    #[arg(long, default_value_t = 1000)]
    pub eval_images: usize,
    /// Output folder (default: RUN/explain).
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub out: Option<PathBuf>,
    /// Where the dataset is, if not where the run found it.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub data_dir: Option<PathBuf>,
    /// The data's name in the figures' titles (default: the dataset's title).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

/// Flags of `trainer animate`.
#[derive(Debug, Args)]
pub struct AnimateArgs {
    /// The run folder (trained with --snapshots, the default).
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub run: PathBuf,
    /// Test images shown: the first test image of each of the first N classes.
    #[arg(long, default_value_t = 3)]
    pub images: usize,
    /// Frames per second.
    #[arg(long, default_value_t = 4)]
    pub fps: u16,
    /// The animated PNG (default: RUN/evolution.png); the MP4 and the JSON of the numbers
    /// are written beside it, with the same name.
    #[arg(long, value_name = "FILE", value_parser = path())]
    pub out: Option<PathBuf>,
    /// Where the dataset is, if not where the run found it.
    #[arg(long, value_name = "DIR", value_parser = path())]
    pub data_dir: Option<PathBuf>,
    /// The data's name in the title (default: the dataset's title).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}
