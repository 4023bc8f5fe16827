//! `cargo xtask video`: a narrated walkthrough of a documented run, made from `results/`.
//!
//! Each chapter is a slide (a title card with one of the run's real figures, or the
//! evolution animation, placed on it) and a narration assembled from the same files as the
//! README (`metrics.json`, `bench.json`, the run's `history.json` and `evolution.json`):
//! no number is typed here, and the task refuses to speak a number the results do not hold.
//! `espeak-ng` speaks each sentence to a WAV file; a slide lasts exactly as long as its
//! sentences (measured from the WAV data, plus fixed pauses, rounded up to whole video
//! frames), so sound and pictures stay together without guessing. The sentences are the
//! subtitles: a `.vtt` beside the video and a `mov_text` stream inside it. A poster image
//! (a frame of the video) goes beside it too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::bench::BenchReport;
use crate::figures::{read_metrics, Metrics, RunMetrics};

/// Flags.
#[derive(Debug, clap::Args, Default)]
pub struct Args {
    /// The results folder to read (default: results/).
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// The video to write (default: RESULTS/walkthrough.mp4); the subtitles (.vtt) and the
    /// poster (.png) go beside it with the same name.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The documented run to walk through (default: fashion-mnist, else mnist, else the
    /// first run of metrics.json).
    #[arg(long, value_name = "NAME")]
    pub run: Option<String>,
}

/// The tools the video needs, with the Debian package of each.
pub const TOOLS: [(&str, &str); 3] = [
    ("ffmpeg", "ffmpeg"),
    ("ffprobe", "ffmpeg"),
    ("espeak-ng", "espeak-ng"),
];

/// Frame size and rate of the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Frames per second; the speech's sample rate must be a multiple of it.
    pub fps: u32,
}

impl Format {
    /// 1280×720 at 10 frames per second: still slides, sharp text, a small file.
    pub const DEFAULT: Format = Format {
        width: 1280,
        height: 720,
        fps: 10,
    };
}

/// Silence after each sentence, and at the end of a slide, in seconds.
const SENTENCE_PAUSE: f64 = 0.3;
const SLIDE_PAUSE: f64 = 0.8;
/// Top of the figure area on a slide (below the title).
const FIGURE_TOP: u32 = 84;

/// One subtitle cue: a sentence and when it is spoken.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    /// Start, in seconds from the beginning of the video.
    pub start: f64,
    /// End, in seconds.
    pub end: f64,
    /// The sentence.
    pub text: String,
}

/// What the task made.
#[derive(Debug, Clone)]
pub struct Made {
    /// The MP4.
    pub video: PathBuf,
    /// The WebVTT subtitles.
    pub subtitles: PathBuf,
    /// The poster image.
    pub poster: PathBuf,
    /// Each slide's duration, in seconds (its narration and pauses).
    pub slide_seconds: Vec<f64>,
    /// Every sentence, with its time.
    pub cues: Vec<Cue>,
}

/// Runs the task.
pub fn run(args: &Args) -> Result<()> {
    let root = crate::figures::workspace_root();
    let results = args.results.clone().unwrap_or_else(|| root.join("results"));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| results.join("walkthrough.mp4"));
    let made = make(&results, &out, args.run.as_deref(), Format::DEFAULT)?;
    let total: f64 = made.slide_seconds.iter().sum();
    let size = std::fs::metadata(&made.video)?.len();
    println!(
        "{} ({} slides, {} sentences, {total:.1} s, {:.1} MB)",
        made.video.display(),
        made.slide_seconds.len(),
        made.cues.len(),
        size as f64 / 1e6
    );
    println!("{}", made.subtitles.display());
    println!("{}", made.poster.display());
    Ok(())
}

/// Fails, naming the tool and its package, when one of [`TOOLS`] is not on the PATH.
pub fn require_tools() -> Result<()> {
    for (tool, package) in TOOLS {
        if !trainer::animate::on_path(tool) {
            bail!(
                "{tool} is not installed (not on the PATH); the video needs it: \
                 apt-get install {package}"
            );
        }
    }
    Ok(())
}

/// Builds the video of run `run` (or the default one) from `results` into `out`.
pub fn make(results: &Path, out: &Path, run: Option<&str>, format: Format) -> Result<Made> {
    require_tools()?;
    let slides = walkthrough_slides(results, run)?;
    let spoken: Vec<&str> = slides
        .iter()
        .flat_map(|s| s.sentences.iter().map(String::as_str))
        .collect();
    let unsourced = unsourced_numbers(&spoken, results)?;
    if !unsourced.is_empty() {
        bail!(
            "the narration speaks numbers that no file in {} holds: {}",
            results.display(),
            unsourced.join(", ")
        );
    }

    let work = tempfile::tempdir()?;
    let (slide_seconds, cues, rate) = narrate(&slides, work.path(), format)?;
    let total: f64 = slide_seconds.iter().sum();
    if total > 600.0 {
        bail!("the narration lasts {total:.0} s, more than the 10 minutes a walkthrough may");
    }
    let vtt = webvtt(&cues);
    let vtt_work = work.path().join("walkthrough.vtt");
    std::fs::write(&vtt_work, &vtt)?;
    for (i, slide) in slides.iter().enumerate() {
        convlens_viz::draw_card(
            &slide.title,
            &slide.lines,
            (format.width, format.height),
            &work.path().join(format!("card-{i:02}.png")),
        )?;
    }
    let video_work = work.path().join("walkthrough.mp4");
    encode(
        &slides,
        &slide_seconds,
        work.path(),
        &vtt_work,
        &video_work,
        format,
        rate,
    )?;
    let poster_at = poster_time(&slides, &slide_seconds);
    let poster_work = work.path().join("poster.png");
    ffmpeg(
        Command::new("ffmpeg")
            .args([
                "-loglevel",
                "error",
                "-y",
                "-ss",
                &format!("{poster_at:.2}"),
                "-i",
            ])
            .arg(&video_work)
            .args(["-frames:v", "1", "-f", "image2", "-c:v", "png"])
            .arg(&poster_work),
        "the poster",
    )?;

    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    }
    let subtitles = out.with_extension("vtt");
    let poster = out.with_extension("png");
    convlens_data::write_atomic(out, &std::fs::read(&video_work)?)?;
    convlens_data::write_atomic(&subtitles, vtt.as_bytes())?;
    convlens_data::write_atomic(&poster, &std::fs::read(&poster_work)?)?;
    Ok(Made {
        video: out.to_path_buf(),
        subtitles,
        poster,
        slide_seconds,
        cues,
    })
}

/// The slides of the walkthrough of run `run` (or the default one) of `results`.
fn walkthrough_slides(results: &Path, run: Option<&str>) -> Result<Vec<Slide>> {
    let metrics = read_metrics(&results.join("metrics.json"))?;
    let name = pick_run(&metrics, run)?;
    let bench: Option<BenchReport> = match std::fs::read_to_string(results.join("bench.json")) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .with_context(|| format!("{}", results.join("bench.json").display()))?,
        ),
        Err(_) => None,
    };
    slides(results, &name, &metrics[&name], bench.as_ref())
}

/// The file names of the figures and animations the walkthrough of `results` shows (a
/// slide whose figure is missing is left out of the video).
#[cfg(test)]
pub(crate) fn figures_shown(results: &Path) -> Result<Vec<String>> {
    Ok(walkthrough_slides(results, None)?
        .iter()
        .filter_map(|s| match &s.visual {
            Visual::None => None,
            Visual::Image(p) | Visual::Video(p) => Some(p),
        })
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect())
}

fn pick_run(metrics: &Metrics, run: Option<&str>) -> Result<String> {
    if let Some(name) = run {
        if !metrics.contains_key(name) {
            bail!(
                "--run {name}: metrics.json holds no such run; it holds {}",
                metrics.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        return Ok(name.to_string());
    }
    ["fashion-mnist", "mnist"]
        .iter()
        .map(|s| s.to_string())
        .find(|n| metrics.contains_key(n))
        .or_else(|| metrics.keys().next().cloned())
        .context("metrics.json holds no run")
}

/// What a slide shows besides its card.
#[derive(Debug, Clone)]
enum Visual {
    None,
    Image(PathBuf),
    Video(PathBuf),
}

/// One chapter.
#[derive(Debug, Clone)]
struct Slide {
    title: String,
    lines: Vec<String>,
    visual: Visual,
    sentences: Vec<String>,
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// The history of a run as `results/<run>/history.json` holds it.
#[derive(Debug, serde::Deserialize)]
struct Epoch {
    epoch: usize,
    val_accuracy: f64,
}

/// The chapters, from the files that exist (a missing figure drops its chapter, an
/// attribution figure falls back to the saliency maps).
fn slides(
    results: &Path,
    name: &str,
    m: &RunMetrics,
    bench: Option<&BenchReport>,
) -> Result<Vec<Slide>> {
    let dir = results.join(name);
    let figure = |file: &str| {
        let p = dir.join(file);
        p.is_file().then_some(p)
    };
    let mut slides = Vec::new();
    let mut add = |title: &str, lines: Vec<String>, visual: Visual, sentences: Vec<String>| {
        slides.push(Slide {
            title: title.to_string(),
            lines,
            visual,
            sentences,
        })
    };
    let config = |key: &str| m.config.get(key).cloned().unwrap_or_default();
    let dataset = &m.dataset;

    add(
        "convlens: inside a small convolutional network",
        vec![
            format!("The course network, trained on {dataset}"),
            format!(
                "{} epochs, batch size {}, learning rate {}",
                m.epochs,
                config("batch_size"),
                config("lr")
            ),
            "Every picture computed, every number read from results/".into(),
        ],
        Visual::None,
        vec![
            "This is convlens, a walkthrough of the course assignment: train a small \
             convolutional network and show what happens inside it."
                .into(),
            format!(
                "The network was trained on {dataset} for {} epochs, with a batch size of {} \
                 and a learning rate of {}.",
                m.epochs,
                config("batch_size"),
                config("lr")
            ),
            "Every picture in this video was computed by the project, and every number is \
             read from its results files."
                .into(),
        ],
    );
    if let Some(p) = figure("samples.png") {
        add(
            "The dataset",
            vec![],
            Visual::Image(p),
            vec![
                format!("These are the first training images of {dataset}, with their labels."),
                format!(
                    "The network is evaluated on {} test images it never trains on.",
                    m.test.images
                ),
            ],
        );
    }
    if let Some(p) = figure("architecture.png") {
        add(
            "The network and its sizes",
            vec![],
            Visual::Image(p),
            vec![
                "The network has three convolutions, each followed by a rectified linear \
                 unit, the first two also by max pooling, then two fully connected layers."
                    .into(),
                "Each block shows the shape of the layer's output and how many parameters \
                 it holds."
                    .into(),
            ],
        );
    }
    if let Some(p) = figure("curves.png") {
        add(
            "Training curves",
            vec![],
            Visual::Image(p),
            vec![
                "The loss falls and the accuracy rises, on the training images and on the \
                 validation images."
                    .into(),
                format!(
                    "After {} epochs the training accuracy is {} and the validation accuracy \
                     is {}.",
                    m.epochs,
                    pct(m.last.train_accuracy),
                    pct(m.last.val_accuracy)
                ),
                format!(
                    "The best validation accuracy, {}, was reached at epoch {}.",
                    pct(m.best.val_accuracy.value),
                    m.best.val_accuracy.epoch
                ),
            ],
        );
    }
    let evolution_video = figure("evolution.mp4");
    let evolution_png = figure("evolution.png");
    if let Some(visual) = evolution_video
        .map(Visual::Video)
        .or(evolution_png.map(Visual::Image))
    {
        let mut sentences = vec![
            "Here the network learns: each frame is a snapshot of the weights, from the \
             random start to the last epoch, on colour scales fixed for the whole run."
                .into(),
        ];
        if let Some(e) = crate::readme::read_animation(&dir)? {
            if let Some(last) = e.frames.last() {
                sentences.push(format!(
                    "It runs from the random start to step {}; at the top, the filters of the \
                     first two convolutions.",
                    last.step
                ));
            }
            sentences.extend(crate::readme::settling_sentences(&e).into_iter().map(|s| {
                s.replace("conv1's", "the first convolution's")
                    .replace("conv2's", "the second convolution's")
            }));
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("history.json")) {
            let h: Vec<Epoch> = serde_json::from_str(&text).context("history.json")?;
            if let Some(first) = h.first() {
                sentences.push(format!(
                    "After the first epoch the validation accuracy is already {}.",
                    pct(first.val_accuracy)
                ));
            }
            let best = h.iter().map(|e| e.val_accuracy).fold(0.0, f64::max);
            if let Some(close) = h.iter().find(|e| best - e.val_accuracy <= 0.005) {
                sentences.push(format!(
                    "By epoch {} it is within half a point of its best, {}: the rest of the \
                     training refines.",
                    close.epoch,
                    pct(close.val_accuracy)
                ));
            }
        }
        sentences.push(
            "Below, the feature maps of fixed test images, the curves so far and the \
             predictions change with the weights."
                .into(),
        );
        add("Watching it learn", vec![], visual, sentences);
    }
    for (file, title, sentences) in [
        (
            "filters_conv1.png",
            "Filters of the first convolution",
            vec![
                "The first convolution's filters look at the pixels directly.".to_string(),
                "Red weights add, blue weights subtract: side by side they form edge and \
                 contrast detectors."
                    .to_string(),
            ],
        ),
        (
            "filters_conv2.png",
            "Filters of the second convolution",
            vec![
                "The second convolution combines the first layer's maps: each of its filters \
                 has one kernel per input channel."
                    .to_string(),
            ],
        ),
    ] {
        if let Some(p) = figure(file) {
            add(title, vec![], Visual::Image(p), sentences);
        }
    }
    if let Some(p) = figure("feature_maps.png") {
        let mut sentences = vec![
            "The feature maps show what each layer computes for a few test images, layer by \
             layer, from the input down to the last convolution."
                .to_string(),
        ];
        for s in m
            .activation_stats
            .iter()
            .filter(|s| s.layer.starts_with("relu"))
            .take(2)
        {
            sentences.push(format!(
                "After {}, {} of the values are exactly zero.",
                spoken_layer(&s.layer),
                pct(s.zero_fraction)
            ));
        }
        add(
            "Feature maps, layer by layer",
            vec![],
            Visual::Image(p),
            sentences,
        );
    }
    if let Some(p) = figure("classifier.png") {
        add(
            "The classifier",
            vec![],
            Visual::Image(p),
            vec![
                "The fully connected layers turn the last feature maps into one score per \
                 class, and the softmax into probabilities."
                    .into(),
            ],
        );
    }
    let attribution = ["explain.png", "faithfulness.png"]
        .iter()
        .filter_map(|f| figure(f))
        .collect::<Vec<_>>();
    if attribution.is_empty() {
        if let Some(p) = figure("saliency.png") {
            add(
                "What the network looks at",
                vec![],
                Visual::Image(p),
                vec![
                    "The saliency maps show which pixels the prediction is most sensitive to: \
                     the gradient of the winning score with respect to the image."
                        .into(),
                ],
            );
        }
    } else {
        for (i, p) in attribution.into_iter().enumerate() {
            let sentence = if i == 0 {
                "Attribution methods show which pixels each prediction rests on."
            } else {
                "Removing the pixels they rank highest first tests how faithful each method is."
            };
            add(
                "What the network looks at",
                vec![],
                Visual::Image(p),
                vec![sentence.into()],
            );
        }
    }
    if let Some(p) = figure("misclassified.png") {
        add(
            "Mistakes",
            vec![],
            Visual::Image(p),
            vec![
                "These are the test images the network gets wrong with the most confidence.".into(),
            ],
        );
    }
    if let Some(p) = figure("confusion.png") {
        let mut sentences = vec![format!(
            "On all {} test images the accuracy is {}.",
            m.test.images,
            pct(m.test.accuracy)
        )];
        if let Some(worst) = m
            .per_class_accuracy
            .iter()
            .min_by(|a, b| a.accuracy.total_cmp(&b.accuracy))
        {
            sentences.push(format!(
                "The hardest class is {}, with {} of its images right; the confusion matrix \
                 shows what it is taken for.",
                worst.class,
                pct(worst.accuracy)
            ));
        }
        add("Confusion", vec![], Visual::Image(p), sentences);
    }
    let mut speed = Vec::new();
    if let Some(b) = bench {
        let row = |prefix: &str| {
            b.rows
                .iter()
                .find(|r| r.batch_size == 16 && r.framework.starts_with(prefix))
        };
        if let Some(r) = row("convlens (fast") {
            speed.push(format!(
                "With its own kernels, convlens trains {:.0} images per second at a batch \
                 size of 16 on this machine.",
                r.images_per_s
            ));
        }
        if let Some(r) = row("PyTorch") {
            speed.push(format!(
                "PyTorch, measured on the same machine, trains {:.0} images per second.",
                r.images_per_s
            ));
        }
    }
    speed.push(format!(
        "The whole run of {} epochs took {:.0} seconds.",
        m.epochs, m.seconds.total
    ));
    if let Some(rss) = m.peak_rss_mib {
        speed.push(format!("Its peak memory was {rss:.0} megabytes."));
    }
    let speed_lines = speed.clone();
    add("Speed", speed_lines, Visual::None, speed);
    if let Some(p) = figure("report.png") {
        add(
            "Explore it yourself",
            vec![],
            Visual::Image(p),
            vec!["The interactive report shows all of this for any image you choose.".into()],
        );
    }
    add(
        "convlens",
        vec![
            "cargo run -p trainer -- train".into(),
            "trainer inspect, trainer animate".into(),
            "cargo xtask figures, cargo xtask video".into(),
        ],
        Visual::None,
        vec![
            "Everything shown here is made again by the project's own commands, from a \
             fresh clone."
                .into(),
            "Thank you for watching.".into(),
        ],
    );
    Ok(slides)
}

/// `relu1` → `the first rectified linear unit`: layer names read aloud without digits that
/// no results file holds.
fn spoken_layer(layer: &str) -> String {
    let ordinal = match layer.trim_start_matches(|c: char| c.is_ascii_alphabetic()) {
        "1" => "first",
        "2" => "second",
        "3" => "third",
        "4" => "fourth",
        _ => return layer.to_string(),
    };
    format!("the {ordinal} rectified linear unit")
}

/// The numbers of `sentences` (digits standing alone, with a decimal point, optionally a
/// percent sign) that no JSON file under `results` holds at the precision spoken (a
/// percentage as a fraction). Empty when every number is sourced.
pub fn unsourced_numbers(sentences: &[&str], results: &Path) -> Result<Vec<String>> {
    let mut known = Vec::new();
    let mut dirs = vec![results.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path)?;
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    collect_numbers(&v, &mut known);
                }
            }
        }
    }
    let mut missing = Vec::new();
    for sentence in sentences {
        for (token, value, decimals, percent) in spoken_numbers(sentence) {
            let scale = 10f64.powi(decimals as i32);
            // A correct rounding of y at the precision spoken (either way at a tie: the
            // formatting rounds the exact binary value).
            let matches = |y: f64| {
                let y = if percent { y * 100.0 } else { y };
                (y - value).abs() <= 0.5 / scale + 1e-9 * value.abs().max(1.0)
            };
            if !known.iter().any(|&y| matches(y)) {
                missing.push(token);
            }
        }
    }
    Ok(missing)
}

fn collect_numbers(v: &serde_json::Value, out: &mut Vec<f64>) {
    match v {
        serde_json::Value::Number(n) => out.extend(n.as_f64()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_numbers(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| collect_numbers(v, out)),
        _ => {}
    }
}

/// Every number of a sentence: the token, its value, its decimals, whether a `%` follows.
fn spoken_numbers(sentence: &str) -> Vec<(String, f64, usize, bool)> {
    let chars: Vec<char> = sentence.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let standalone = i == 0 || !chars[i - 1].is_alphanumeric();
        if chars[i].is_ascii_digit() && standalone {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (chars[i] == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            if i < chars.len() && chars[i].is_alphabetic() {
                continue; // part of a word, as in "3d"
            }
            let token: String = chars[start..i].iter().collect();
            let decimals = token.split('.').nth(1).map_or(0, str::len);
            let percent = chars.get(i) == Some(&'%');
            if let Ok(value) = token.parse() {
                out.push((token, value, decimals, percent));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// A WAV file's 16-bit samples and sample rate.
fn read_wav(path: &Path) -> Result<(u32, Vec<u8>)> {
    let bytes = std::fs::read(path)?;
    let bad = || anyhow::anyhow!("{}: not a 16-bit mono PCM WAV file", path.display());
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad());
    }
    let (mut at, mut rate, mut data) = (12, None, None);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into()?) as usize;
        let body = &bytes[at + 8..(at + 8 + size).min(bytes.len())];
        match id {
            b"fmt " if body.len() >= 16 => {
                let format = u16::from_le_bytes([body[0], body[1]]);
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let bits = u16::from_le_bytes([body[14], body[15]]);
                if format != 1 || channels != 1 || bits != 16 {
                    return Err(bad());
                }
                rate = Some(u32::from_le_bytes(body[4..8].try_into()?));
            }
            b"data" => data = Some(body[..body.len() & !1].to_vec()),
            _ => {}
        }
        at += 8 + size + (size & 1);
    }
    Ok((rate.ok_or_else(bad)?, data.ok_or_else(bad)?))
}

/// Speaks every sentence and joins them into `narration.wav` in `work`: each slide padded
/// with silence to a whole number of video frames. Returns each slide's seconds, the cues
/// and the sample rate.
fn narrate(slides: &[Slide], work: &Path, format: Format) -> Result<(Vec<f64>, Vec<Cue>, u32)> {
    let mut rate = None;
    let mut samples: Vec<u8> = Vec::new();
    let mut seconds = Vec::new();
    let mut cues = Vec::new();
    for (i, slide) in slides.iter().enumerate() {
        let slide_start = samples.len();
        for (j, sentence) in slide.sentences.iter().enumerate() {
            let wav = work.join(format!("say-{i:02}-{j:02}.wav"));
            let o = Command::new("espeak-ng")
                .args(["-v", "en-us", "-s", "160", "-w"])
                .arg(&wav)
                .arg(sentence)
                .output()
                .context("cannot run espeak-ng")?;
            if !o.status.success() {
                bail!(
                    "espeak-ng failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
            }
            let (r, data) = read_wav(&wav)?;
            if *rate.get_or_insert(r) != r {
                bail!("espeak-ng changed its sample rate from one sentence to the next");
            }
            let to_seconds = |bytes: usize| bytes as f64 / 2.0 / f64::from(r);
            let start = to_seconds(samples.len());
            samples.extend_from_slice(&data);
            cues.push(Cue {
                start,
                end: to_seconds(samples.len()),
                text: sentence.clone(),
            });
            let pause = if j + 1 == slide.sentences.len() {
                SLIDE_PAUSE
            } else {
                SENTENCE_PAUSE
            };
            samples.resize(samples.len() + 2 * (pause * f64::from(r)) as usize, 0);
        }
        let r = rate.context("a slide without narration")?;
        if r % format.fps != 0 {
            bail!("the speech's {r} Hz is not a whole number of samples per video frame");
        }
        let frame = 2 * (r / format.fps) as usize;
        let length = (samples.len() - slide_start).div_ceil(frame) * frame;
        samples.resize(slide_start + length, 0);
        seconds.push(length as f64 / 2.0 / f64::from(r));
    }
    let rate = rate.context("no narration")?;
    let mut wav = Vec::with_capacity(44 + samples.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    wav.extend_from_slice(&samples);
    std::fs::write(work.join("narration.wav"), wav)?;
    Ok((seconds, cues, rate))
}

fn timestamp(t: f64) -> String {
    let ms = (t * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The cues as WebVTT.
fn webvtt(cues: &[Cue]) -> String {
    let mut s = String::from("WEBVTT\n");
    for (i, c) in cues.iter().enumerate() {
        let _ = write!(
            s,
            "\n{}\n{} --> {}\n{}\n",
            i + 1,
            timestamp(c.start),
            timestamp(c.end),
            c.text
        );
    }
    s
}

/// Where the poster frame is taken: halfway through the animation's slide, else through
/// the first slide with a figure, else the first.
fn poster_time(slides: &[Slide], seconds: &[f64]) -> f64 {
    let starts: Vec<f64> = seconds
        .iter()
        .scan(0.0, |t, s| {
            let start = *t;
            *t += s;
            Some(start)
        })
        .collect();
    let pick = slides
        .iter()
        .position(|s| matches!(s.visual, Visual::Video(_)))
        .or_else(|| {
            slides
                .iter()
                .position(|s| matches!(s.visual, Visual::Image(_)))
        })
        .unwrap_or(0);
    starts[pick] + seconds[pick] / 2.0
}

fn ffmpeg(command: &mut Command, what: &str) -> Result<()> {
    let o = command.output().context("cannot run ffmpeg")?;
    if !o.status.success() {
        bail!(
            "ffmpeg failed making {what}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(())
}

/// One ffmpeg run: every slide's card with its figure or animation on it, for exactly its
/// narration's length, concatenated; the narration; the subtitles as `mov_text`.
fn encode(
    slides: &[Slide],
    seconds: &[f64],
    work: &Path,
    vtt: &Path,
    out: &Path,
    format: Format,
    rate: u32,
) -> Result<()> {
    let Format { width, height, fps } = format;
    let mut c = Command::new("ffmpeg");
    c.args(["-loglevel", "error", "-y"]);
    let mut filter = String::new();
    let mut input = 0;
    for (i, (slide, &d)) in slides.iter().zip(seconds).enumerate() {
        // Still images are read at one frame per second and brought to the video's rate by
        // the `fps` filter (a looped image is decoded again for every input frame, and the
        // figures are large PNGs); they run a second longer, and `trim` cuts the slide to
        // its length.
        let still = format!("{:.3}", d + 1.0);
        let d = format!("{d:.3}");
        c.args(["-loop", "1", "-framerate", "1", "-t", &still, "-i"])
            .arg(work.join(format!("card-{i:02}.png")));
        let card = input;
        input += 1;
        let figure = match &slide.visual {
            Visual::None => None,
            Visual::Image(p) => {
                c.args(["-loop", "1", "-framerate", "1", "-t", &still, "-i"])
                    .arg(p);
                Some(p)
            }
            Visual::Video(p) => {
                c.args(["-stream_loop", "-1", "-t", &d, "-i"]).arg(p);
                Some(p)
            }
        };
        match figure {
            Some(_) => {
                let (bw, bh) = (width - 40, height - FIGURE_TOP - 20);
                let _ = write!(
                    filter,
                    "[{input}:v]scale={bw}:{bh}:force_original_aspect_ratio=decrease,\
                     fps={fps},setsar=1[f{i}];\
                     [{card}:v]fps={fps},setsar=1[c{i}];\
                     [c{i}][f{i}]overlay=x=(main_w-overlay_w)/2:\
                     y={FIGURE_TOP}+({bh}-overlay_h)/2:eof_action=repeat,\
                     trim=duration={d},setpts=PTS-STARTPTS,format=yuv420p[v{i}];"
                );
                input += 1;
            }
            None => {
                let _ = write!(
                    filter,
                    "[{card}:v]fps={fps},setsar=1,trim=duration={d},setpts=PTS-STARTPTS,\
                     format=yuv420p[v{i}];"
                );
            }
        }
    }
    for i in 0..slides.len() {
        let _ = write!(filter, "[v{i}]");
    }
    let _ = write!(filter, "concat=n={}:v=1:a=0[v]", slides.len());
    c.arg("-i").arg(work.join("narration.wav"));
    let audio = input;
    c.arg("-i").arg(vtt);
    let subtitles = input + 1;
    c.args(["-filter_complex", &filter])
        .args(["-map", "[v]", "-map", &format!("{audio}:a"), "-map"])
        .arg(format!("{subtitles}:s"))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "medium",
            "-tune",
            "stillimage",
        ])
        .args(["-crf", "28", "-pix_fmt", "yuv420p", "-r", &fps.to_string()])
        .args([
            "-c:a",
            "aac",
            "-b:a",
            "48k",
            "-ac",
            "1",
            "-ar",
            &rate.to_string(),
        ])
        .args(["-c:s", "mov_text", "-metadata:s:s:0", "language=eng"])
        .args(["-movflags", "+faststart", "-f", "mp4"])
        .arg(out);
    ffmpeg(&mut c, "the video")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_with_their_precision() {
        let found = spoken_numbers("After 20 epochs, 98.91% right; conv1 and 3d stay words.");
        let tokens: Vec<(&str, usize, bool)> = found
            .iter()
            .map(|(t, _, d, p)| (t.as_str(), *d, *p))
            .collect();
        assert_eq!(tokens, [("20", 0, false), ("98.91", 2, true)]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("m.json"),
            r#"{"epochs": 20, "acc": [0.98906]}"#,
        )
        .unwrap();
        let sentences = [
            "After 20 epochs, 98.91% right.",
            "Then 98.92% and 21 epochs.",
        ];
        assert_eq!(
            unsourced_numbers(&sentences, dir.path()).unwrap(),
            ["98.92", "21"]
        );
    }

    /// Runs ffprobe on a file and returns its JSON.
    fn probe(path: &Path) -> serde_json::Value {
        let o = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_streams",
                "-show_format",
                "-of",
                "json",
            ])
            .arg(path)
            .output()
            .expect("ffprobe runs (apt-get install ffmpeg)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// The walkthrough of the published results (`results/`), made small: one video, one
    /// audio and one subtitle stream, as long as its narration, cues that are the
    /// narration's sentences, only numbers the results hold. (That the figures pipeline
    /// writes every figure the walkthrough shows is checked on its quick run.)
    #[test]
    fn the_walkthrough_of_the_results_is_in_sync() {
        for (tool, package) in TOOLS {
            assert!(
                trainer::animate::on_path(tool),
                "{tool} is missing: the video test needs it (apt-get install {package})"
            );
        }
        let results = crate::figures::workspace_root().join("results");
        let video_dir = tempfile::tempdir().unwrap();
        let out = video_dir.path().join("walkthrough.mp4");
        // A quarter of the real video's width: the same streams and timing, a fraction of the
        // encoding time.
        let small = Format {
            width: 320,
            height: 180,
            fps: 10,
        };
        let made = make(&results, &out, None, small).unwrap();

        let info = probe(&made.video);
        let kinds: Vec<&str> = info["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["codec_type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == "video").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "audio").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "subtitle").count(),
            1,
            "{kinds:?}"
        );
        let duration: f64 = info["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let narration: f64 = made.slide_seconds.iter().sum();
        assert!(duration <= 600.0, "{duration} s");
        assert!(
            (duration - narration).abs() < 1.0,
            "the video lasts {duration} s, its narration {narration} s"
        );
        for s in info["streams"].as_array().unwrap() {
            if let Some(d) = s["duration"].as_str() {
                let d: f64 = d.parse().unwrap();
                assert!(
                    (d - narration).abs() < 1.0,
                    "{} stream: {d} s",
                    s["codec_type"]
                );
            }
        }
        // The narration WAV's slides: each as long as its sentences and pauses.
        for (i, w) in made.slide_seconds.windows(1).enumerate() {
            assert!(w[0] > 1.0, "slide {i} lasts {} s", w[0]);
        }
        assert!(made.cues.windows(2).all(|w| w[0].end <= w[1].start));
        assert!(made.cues.last().unwrap().end <= narration);

        // The subtitles beside the video are the sentences spoken, in order.
        let vtt = std::fs::read_to_string(&made.subtitles).unwrap();
        assert!(vtt.starts_with("WEBVTT\n"));
        let cue_texts: Vec<&str> = vtt
            .split("\n\n")
            .skip(1)
            .map(|cue| cue.lines().nth(2).unwrap())
            .collect();
        let sentences: Vec<&str> = made.cues.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(cue_texts, sentences);
        // Every number spoken is in the results, and some are spoken.
        assert!(unsourced_numbers(&sentences, &results).unwrap().is_empty());
        assert!(sentences.iter().any(|s| !spoken_numbers(s).is_empty()));
        let metrics = read_metrics(&results.join("metrics.json")).unwrap();
        let run = pick_run(&metrics, None).unwrap();
        let accuracy = pct(metrics[&run].test.accuracy);
        assert!(
            sentences.iter().any(|s| s.contains(&accuracy)),
            "{accuracy}"
        );

        let poster = probe(&made.poster);
        assert_eq!(poster["streams"][0]["width"].as_u64(), Some(320));
    }
}
