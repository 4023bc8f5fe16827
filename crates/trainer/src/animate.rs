//! `trainer animate`: the network learning, one frame per snapshot of a run — filters,
//! feature maps of a few fixed test images, curves so far, predictions — as an animated PNG
//! (and an MP4 of the same frames when `ffmpeg` is on the PATH), with the numbers behind it
//! as JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use convlens_hooks::{ActivationRecorder, LayerSelector};
use convlens_model::Network;
use convlens_train::{EpochRecord, RunDir, Snapshot};
use convlens_viz as viz;
use serde::{Deserialize, Serialize};

use crate::cli::AnimateArgs;

/// The animation's file name in a run folder and in `results/<run>/`.
pub const ANIMATION: &str = "evolution.png";
/// The numbers behind the animation, beside it: `<name>.json`.
pub const ANIMATION_JSON_SUFFIX: &str = "json";

/// `evolution.json`: what each frame shows and where, on which scales.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnimationFile {
    /// Frames per second.
    pub fps: u16,
    /// Width and height of the frames.
    pub size: (u32, u32),
    /// The test images shown (indices into the evaluation split).
    pub images: Vec<usize>,
    /// The shared colour scales: the largest magnitude over all snapshots.
    pub scales: Scales,
    /// Panels, as `[left, top, width, height]`.
    pub layout: Layout,
    /// One entry per frame, in order.
    pub frames: Vec<AnimationFrame>,
}

/// The fixed scales of [`AnimationFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scales {
    /// conv1's weights: −max to +max.
    pub conv1: f32,
    /// conv2's weights.
    pub conv2: f32,
    /// relu1's activations: 0 to max.
    pub relu1: f32,
    /// relu2's activations.
    pub relu2: f32,
}

/// The panels of [`AnimationFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// conv1's kernels.
    pub conv1: [u32; 4],
    /// conv2's kernels.
    pub conv2: [u32; 4],
    /// The four colour bars (conv1, conv2, relu1, relu2).
    pub colour_bars: [[u32; 4]; 4],
    /// The feature maps.
    pub feature_maps: [u32; 4],
    /// The curves.
    pub curves: [u32; 4],
}

/// One frame of [`AnimationFile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnimationFrame {
    /// The snapshot file, relative to the run folder.
    pub snapshot: PathBuf,
    /// Optimizer steps taken.
    pub step: u64,
    /// Training done, in epochs.
    pub progress: f64,
    /// The caption.
    pub label: String,
    /// The predicted class of each shown image.
    pub predicted: Vec<usize>,
    /// How close conv1's filters are to where training ends: the mean, over its filters, of
    /// the cosine similarity between the filter here and in the last snapshot (1 at the
    /// end; near 0 for random filters).
    pub conv1_to_final: f64,
    /// The same for conv2's filters.
    pub conv2_to_final: f64,
}

/// `trainer animate`.
pub fn run(args: &AnimateArgs) -> Result<()> {
    if args.images == 0 {
        anyhow::bail!("--images 0: must be at least 1");
    }
    if args.fps == 0 || args.fps > 100 {
        anyhow::bail!("--fps {}: expected 1 to 100 frames per second", args.fps);
    }
    let out = args.out.clone().unwrap_or_else(|| args.run.join(ANIMATION));
    if !out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        anyhow::bail!(
            "--out {}: the animation is an animated PNG; give a path ending in .png",
            out.display()
        );
    }
    let (config, _, data) = crate::commands::open_run(&args.run, args.data_dir.clone())?;
    let dir = RunDir::existing(&args.run)?;
    let snapshots = dir.read_snapshots()?;
    if snapshots.is_empty() {
        anyhow::bail!(
            "--run {}: the run holds no snapshots (trained with --snapshots 0, or before \
             snapshots were recorded); train it again with --snapshots K",
            args.run.display()
        );
    }
    let history = dir.read_history()?;
    let test = crate::commands::evaluation_split(&config, &data)?;
    let shown = fixed_images(test.labels(), args.images);
    let dev = Device::Cpu;
    let (x, _) = test.batch(&shown, &dev)?;
    let names = &config.dataset.class_names;
    let truth: Vec<String> = shown
        .iter()
        .map(|&i| names[test.labels()[i] as usize].clone())
        .collect();

    let load = |snapshot: &Snapshot| -> Result<Network> {
        let path = args.run.join(&snapshot.file);
        Network::load(config.model, &path, &dev)
            .with_context(|| format!("snapshot {}", path.display()))
    };
    // Not empty (checked above): the last snapshot is where training ends.
    let last = load(&snapshots[snapshots.len() - 1])?;
    let final_filters = [
        weight(&last, "conv1.weight")?,
        weight(&last, "conv2.weight")?,
    ];
    let mut frames = Vec::with_capacity(snapshots.len());
    let mut predicted_classes = Vec::with_capacity(snapshots.len());
    let mut to_final = Vec::with_capacity(snapshots.len());
    for snapshot in &snapshots {
        let network = load(snapshot)?;
        let (frame, predicted) = frame(&network, snapshot, &history, &x, &shown, &test, names)?;
        to_final.push([
            mean_filter_cosine(&frame.conv1, &final_filters[0])?,
            mean_filter_cosine(&frame.conv2, &final_filters[1])?,
        ]);
        frames.push(frame);
        predicted_classes.push(predicted);
    }
    let epochs = history.len().max(snapshots.last().map_or(0, |s| s.epoch)) as f64;
    let title = args.title.as_deref().unwrap_or(&config.dataset.title);
    let evolution = viz::draw_evolution_frames(
        &frames,
        &x,
        &truth,
        &curves(&snapshots, &history),
        epochs,
        title,
    )?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    }
    viz::write_apng(&evolution.frames, args.fps, &out)
        .with_context(|| format!("--out {}", out.display()))?;
    let layout = evolution.layout;
    let max = |s: viz::ColourScale| s.range().1;
    let file = AnimationFile {
        fps: args.fps,
        size: layout.size,
        images: shown.clone(),
        scales: Scales {
            conv1: max(evolution.scales.conv1),
            conv2: max(evolution.scales.conv2),
            relu1: max(evolution.scales.relu1),
            relu2: max(evolution.scales.relu2),
        },
        layout: Layout {
            conv1: layout.conv1,
            conv2: layout.conv2,
            colour_bars: layout.colour_bars,
            feature_maps: layout.feature_maps,
            curves: layout.curves,
        },
        frames: snapshots
            .iter()
            .zip(&frames)
            .zip(predicted_classes)
            .zip(to_final)
            .map(|(((s, f), predicted), [c1, c2])| AnimationFrame {
                snapshot: s.file.clone(),
                step: s.step,
                progress: s.progress(),
                label: f.label.clone(),
                predicted,
                conv1_to_final: c1,
                conv2_to_final: c2,
            })
            .collect(),
    };
    let json = out.with_extension(ANIMATION_JSON_SUFFIX);
    let mut bytes = serde_json::to_vec_pretty(&file)?;
    bytes.push(b'\n');
    convlens_data::write_atomic(&json, &bytes)?;
    println!("{}", out.display());
    println!("{}", json.display());
    let mp4 = out.with_extension("mp4");
    match write_mp4(&evolution.frames, args.fps, &mp4)? {
        Mp4::Written => println!("{}", mp4.display()),
        Mp4::NoFfmpeg => eprintln!(
            "animate: MP4 skipped: ffmpeg is not on the PATH (Debian: apt-get install ffmpeg)"
        ),
    }
    Ok(())
}

/// The first test image of each class in label order, up to `n` images (then the first
/// images not yet taken): a fixed choice that shows different classes.
pub fn fixed_images(labels: &[u8], n: usize) -> Vec<usize> {
    let mut seen = std::collections::BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        seen.entry(l).or_insert(i);
    }
    let mut chosen: Vec<usize> = seen.into_values().take(n).collect();
    let mut i = 0;
    while chosen.len() < n.min(labels.len()) {
        if !chosen.contains(&i) {
            chosen.push(i);
        }
        i += 1;
    }
    chosen.sort_unstable();
    chosen
}

/// One frame's tensors and the predicted classes of the shown images.
fn frame(
    network: &Network,
    snapshot: &Snapshot,
    history: &[EpochRecord],
    x: &Tensor,
    shown: &[usize],
    test: &convlens_data::Split,
    names: &[String],
) -> Result<(viz::EvolutionFrame, Vec<usize>)> {
    let hooks = network.hook_registry();
    let recorder = ActivationRecorder::attach(
        &hooks,
        LayerSelector::Layers(vec!["relu1".into(), "relu2".into()]),
        shown.len(),
    )?;
    let logits = network.forward_with_hooks(x, &hooks)?;
    drop(hooks);
    let recorded = recorder.finish()?;
    let layer = |name: &str| -> Result<Tensor> {
        recorded
            .iter()
            .find(|(l, _)| l == name)
            .map(|(_, t)| t.clone())
            .with_context(|| format!("no activations recorded at {name}"))
    };
    let probabilities: Vec<Vec<f32>> = candle_nn::ops::softmax_last_dim(&logits)?.to_vec2()?;
    let mut predictions = Vec::with_capacity(shown.len());
    let mut predicted = Vec::with_capacity(shown.len());
    for (row, &i) in probabilities.iter().zip(shown) {
        let (class, p) =
            row.iter().enumerate().fold(
                (0, f32::MIN),
                |best, (c, &p)| if p > best.1 { (c, p) } else { best },
            );
        predicted.push(class);
        predictions.push(viz::FramePrediction {
            class: names[class].clone(),
            probability: f64::from(p),
            correct: class == test.labels()[i] as usize,
        });
    }
    Ok((
        viz::EvolutionFrame {
            label: label(snapshot, history),
            progress: snapshot.progress(),
            conv1: weight(network, "conv1.weight")?,
            conv2: weight(network, "conv2.weight")?,
            relu1: layer("relu1")?,
            relu2: layer("relu2")?,
            predictions,
        },
        predicted,
    ))
}

/// A parameter of `network` by its PyTorch name.
fn weight(network: &Network, name: &str) -> Result<Tensor> {
    network
        .parameters()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_tensor().clone())
        .with_context(|| format!("the network has no {name}"))
}

/// The mean over the filters (the first axis) of the cosine similarity between each filter
/// of `a` and the same filter of `b`, in f64; a filter of zeros counts as 0.
pub fn mean_filter_cosine(a: &Tensor, b: &Tensor) -> Result<f64> {
    anyhow::ensure!(
        a.dims() == b.dims() && a.rank() >= 1 && a.dims()[0] > 0,
        "cannot compare filters of shapes {:?} and {:?}",
        a.dims(),
        b.dims()
    );
    let rows = |t: &Tensor| -> Result<Vec<Vec<f32>>> { Ok(t.flatten_from(1)?.to_vec2()?) };
    let (a, b) = (rows(a)?, rows(b)?);
    let total: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| {
            let (mut dot, mut xx, mut yy) = (0f64, 0f64, 0f64);
            for (&p, &q) in x.iter().zip(y) {
                let (p, q) = (f64::from(p), f64::from(q));
                dot += p * q;
                xx += p * p;
                yy += q * q;
            }
            if xx == 0.0 || yy == 0.0 {
                0.0
            } else {
                dot / (xx.sqrt() * yy.sqrt())
            }
        })
        .sum();
    Ok(total / a.len() as f64)
}

/// `epoch 1, step 938 of 3,750 · validation accuracy 97.1% after epoch 3`.
fn label(s: &Snapshot, history: &[EpochRecord]) -> String {
    let mut text = if s.epoch == 0 {
        "before training: the initial random weights".to_string()
    } else {
        format!(
            "epoch {}, step {} of {} ({} steps in all)",
            s.epoch,
            viz::group_thousands(s.epoch_step as u64),
            viz::group_thousands(s.epoch_steps as u64),
            viz::group_thousands(s.step)
        )
    };
    let finished = if s.epoch_step == s.epoch_steps {
        s.epoch
    } else {
        s.epoch.saturating_sub(1)
    };
    if let Some(r) = finished.checked_sub(1).and_then(|i| history.get(i)) {
        text.push_str(&format!(
            " · validation accuracy {:.2}% after epoch {}",
            r.val_accuracy * 100.0,
            r.epoch
        ));
    }
    text
}

/// Training curves at every snapshot (the running means within the epoch, which at an
/// epoch's end are the epoch's), completed by the history's epochs that have no snapshot;
/// validation after every epoch.
fn curves(snapshots: &[Snapshot], history: &[EpochRecord]) -> viz::EvolutionCurves {
    let mut train: Vec<viz::CurvePoint> = snapshots
        .iter()
        .filter_map(|s| {
            Some(viz::CurvePoint {
                epoch: s.progress(),
                loss: s.train_loss?,
                accuracy: s.train_accuracy?,
            })
        })
        .collect();
    for r in history {
        let epoch = r.epoch as f64;
        if !train.iter().any(|p| p.epoch == epoch) {
            train.push(viz::CurvePoint {
                epoch,
                loss: r.train_loss,
                accuracy: r.train_accuracy,
            });
        }
    }
    train.sort_by(|a, b| a.epoch.total_cmp(&b.epoch));
    viz::EvolutionCurves {
        train,
        validation: history
            .iter()
            .map(|r| viz::CurvePoint {
                epoch: r.epoch as f64,
                loss: r.val_loss,
                accuracy: r.val_accuracy,
            })
            .collect(),
    }
}

enum Mp4 {
    Written,
    NoFfmpeg,
}

/// Whether `program` runs (found on the PATH).
pub fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The frames as an H.264 MP4 at `fps` (the last frame held three times as long, as in
/// the animated PNG), through `ffmpeg`, into a temporary sibling renamed into place.
fn write_mp4(frames: &[viz::RgbImage], fps: u16, path: &Path) -> Result<Mp4> {
    if !on_path("ffmpeg") {
        return Ok(Mp4::NoFfmpeg);
    }
    let (w, h) = (frames[0].width, frames[0].height);
    let name = path.file_name().map_or_else(
        || "evolution.mp4".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let partial = path.with_file_name(format!(".{name}.partial"));
    let mut child = Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
        ])
        .args(["-s", &format!("{w}x{h}"), "-r", &fps.to_string(), "-i", "-"])
        .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20"])
        .args(["-movflags", "+faststart", "-f", "mp4"])
        .arg(&partial)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start ffmpeg")?;
    {
        let mut stdin = child.stdin.take().context("ffmpeg's input")?;
        let last = frames.len() - 1;
        for (i, f) in frames.iter().enumerate() {
            let repeat = if i == last && last > 0 { 3 } else { 1 };
            for _ in 0..repeat {
                stdin
                    .write_all(&f.pixels)
                    .context("writing frames to ffmpeg")?;
            }
        }
    }
    let output = child.wait_with_output().context("waiting for ffmpeg")?;
    if !output.status.success() {
        std::fs::remove_file(&partial).ok();
        anyhow::bail!(
            "ffmpeg failed writing {}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Mp4::Written)
}
