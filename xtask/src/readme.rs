//! The README's generated blocks: tables rendered from `results/metrics.json`,
//! `results/<run>/explain.json`, `results/bench.json` and `results/bench-CxHxW.json` (a block `bench-CxHxW` each, where the
//! README has one), between `<!-- NAME:begin -->` and `<!-- NAME:end -->` markers.
//! `cargo xtask figures` and `cargo xtask bench` rewrite them; tests fail when they are stale.

use std::path::Path;

use anyhow::{Context, Result};

use convlens_explain::{ExplainReport, MeanSe};

use crate::bench::BenchReport;
use crate::figures::{Best, Curves, Machine, Metrics, RunMetrics};

/// The reference notebook's numbers (PyTorch, MNIST, 20 epochs), quoted from its report.
const REFERENCE_TRAIN_ACCURACY: f64 = 0.9983;
const REFERENCE_VAL_ACCURACY: f64 = 0.9879;

fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

fn num(v: f64) -> String {
    format!("{v:.4}")
}

/// The best eager-PyTorch throughputs recorded on these machines in earlier runs (images/s,
/// batch 16 and 64): the bound the speed summary compares against, whatever this run's
/// PyTorch measured.
const BEST_PYTORCH_RECORDED: (f64, f64) = (11_800.0, 17_900.0);

/// The reference notebook's PyTorch pipeline, 20 MNIST epochs on the same kind of machine.
const REFERENCE_SECONDS: f64 = 160.0;

/// The speed summary: the fast kernels against the best PyTorch numbers recorded, the MNIST
/// run's wall-clock time against the reference notebook's, and its peak memory.
pub fn speed_block(metrics: &Metrics, bench: &BenchReport) -> String {
    let fast = |batch: usize| {
        bench
            .rows
            .iter()
            .find(|r| r.batch_size == batch && r.framework.starts_with("convlens (fast"))
            .map_or(0.0, |r| r.images_per_s)
    };
    let (b16, b64) = (fast(16), fast(64));
    let least = (b16 / BEST_PYTORCH_RECORDED.0).min(b64 / BEST_PYTORCH_RECORDED.1);
    let mut s = format!(
        "Even against the best PyTorch numbers recorded on these machines ({:.0} and {:.0} \
         images/s), the convlens figures of the table are at least {least:.1}× faster at both \
         batch sizes.\n",
        BEST_PYTORCH_RECORDED.0, BEST_PYTORCH_RECORDED.1
    );
    if let Some(m) = metrics.get("mnist") {
        s.push_str(&format!(
            "End to end, the 20-epoch MNIST reference run with a validation pass after every \
             epoch takes {:.0} s here (the time row of the results table) against about {:.0} s \
             for the reference notebook's PyTorch pipeline on the same kind of machine, about \
             {:.1}× faster.",
            m.seconds.total,
            REFERENCE_SECONDS,
            REFERENCE_SECONDS / m.seconds.total
        ));
        if let Some(rss) = m.peak_rss_mib {
            s.push_str(&format!(
                " Its peak resident memory was {rss:.0} MiB (`peak_rss_mib` in \
                 `results/metrics.json`, read from the process while `cargo xtask figures` \
                 trains)."
            ));
        }
        s.push('\n');
    }
    s
}

/// `cargo xtask readme`: rewrites every generated block of the README from the files in
/// `results/`, measuring nothing (after a hand edit of the text around them, or to check
/// that they are current).
pub fn run() -> Result<()> {
    let root = crate::figures::workspace_root();
    let metrics = crate::figures::read_metrics(&root.join("results/metrics.json"))?;
    update(&root, "results", &results_block(&metrics))?;
    update(&root, "colour", &colour_block(&metrics))?;
    update(
        &root,
        "explain",
        &explain_block(&read_explain(&root.join("results"))?),
    )?;
    update(&root, "evolution", &evolution_block(&root.join("results"))?)?;
    for entry in std::fs::read_dir(root.join("results"))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(block) = name
            .strip_suffix(".json")
            .filter(|b| b.starts_with("bench"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path)?;
        let report: BenchReport = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a benchmark report", path.display()))?;
        if block == "bench" {
            update(&root, "bench", &bench_block(&report))?;
            update(&root, "hooks", &crate::bench::hooks_block(&report))?;
        } else if has_block(&root, block)? {
            update(&root, block, &bench_block(&report))?;
        }
    }
    update_speed(&root)?;
    println!("README.md's generated blocks are current");
    Ok(())
}

/// Rewrites the speed block from `results/metrics.json` and `results/bench.json`, which
/// `cargo xtask figures` and `cargo xtask bench` write; either task calls it.
pub fn update_speed(root: &Path) -> Result<()> {
    let metrics = crate::figures::read_metrics(&root.join("results/metrics.json"))?;
    let path = root.join("results/bench.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let bench: BenchReport = serde_json::from_str(&text)
        .with_context(|| format!("{} is not the expected JSON", path.display()))?;
    update(root, "speed", &speed_block(&metrics, &bench))
}

/// The runs whose attribution methods the README compares.
pub const EXPLAINED_RUNS: [&str; 2] = ["mnist", "fashion-mnist"];

/// `results/<run>/explain.json` of each run of [`EXPLAINED_RUNS`] that has one.
pub fn read_explain(results: &Path) -> Result<Vec<(String, ExplainReport)>> {
    let mut reports = Vec::new();
    for run in EXPLAINED_RUNS {
        let path = results.join(run).join(trainer::explain::REPORT);
        if path.is_file() {
            reports.push((run.to_string(), trainer::explain::read_report(&path)?));
        }
    }
    Ok(reports)
}

fn mean_se(v: &MeanSe) -> String {
    format!("{:.3} ± {:.3}", v.mean, v.standard_error)
}

/// The explain block: per run, each method's sanity correlation, deletion and insertion
/// AUC (and the random order's), completeness error and time, from `explain.json`.
pub fn explain_block(reports: &[(String, ExplainReport)]) -> String {
    if reports.is_empty() {
        return "No explain.json in results/ yet: run `cargo xtask figures`.\n".into();
    }
    let mut s = String::new();
    for (_, r) in reports {
        s.push_str(&format!(
            "\n**{}: {} test images, Grad-CAM at {}, maps of the {} class**\n\n",
            r.dataset,
            convlens_viz::group_thousands(r.eval_images as u64),
            r.layer,
            r.target
        ));
        s.push_str(
            "| method | sanity: rank correlation with every layer random | deletion AUC (lower is \
             better) | insertion AUC (higher is better) | IG completeness error | seconds |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        for m in &r.methods {
            let rho = m
                .sanity
                .steps
                .last()
                .map_or(f64::NAN, |s| s.rank_correlation);
            // No "-0.00" for a correlation that rounds to zero.
            let rho = if rho.abs() < 0.005 { 0.0 } else { rho };
            let verdict = if m.sanity.fails { " (fails)" } else { "" };
            s.push_str(&format!(
                "| {} | {rho:.2}{verdict} | {} | {} | {} | {:.0} |\n",
                m.name,
                mean_se(&m.faithfulness.deletion_auc),
                mean_se(&m.faithfulness.insertion_auc),
                m.completeness_error
                    .as_ref()
                    .map_or("–".to_string(), |c| format!("{:.1}%", 100.0 * c.mean)),
                m.seconds
            ));
        }
        s.push_str(&format!(
            "| random order | – | {} | {} | – | – |\n",
            mean_se(&r.random.deletion_auc),
            mean_se(&r.random.insertion_auc)
        ));
    }
    let r = &reports[0].1;
    let sanity_images = r.methods.first().map_or(0, |m| m.sanity.images);
    let layers = r.methods.first().map_or(0, |m| m.sanity.steps.len());
    let threshold = r.methods.first().map_or(0.5, |m| m.sanity.threshold);
    s.push_str(&format!(
        "\nAUCs are means ± standard error over the images, of the target probability as pixels \
         are set to {} (deletion) or put back into an image of {} (insertion) in {} steps. \
         Sanity: Spearman's correlation of the maps' magnitudes on the trained network and on \
         one with all {layers} parameterized layers re-initialized, over {sanity_images} \
         images; \
         a method fails at |ρ| ≥ {threshold}. Seconds: wall clock for the maps of every \
         image, the cascade and the curves, on the machine of the results table.\n",
        r.faithfulness.fill, r.faithfulness.fill, r.faithfulness.steps,
    ));
    s
}

/// The run the README's animation shows.
pub const EVOLUTION_RUN: &str = "mnist";

/// The evolution block: when the animated run's accuracy settles, from
/// `results/<run>/history.json`, and the animation's extent from its `evolution.json` when
/// it exists.
pub fn evolution_block(results: &Path) -> Result<String> {
    let dir = results.join(EVOLUTION_RUN);
    let path = dir.join("history.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let history: Vec<convlens_train::EpochRecord> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a history", path.display()))?;
    let (Some(first), Some(last)) = (history.first(), history.last()) else {
        return Ok(format!("{} holds no epoch yet.\n", path.display()));
    };
    let best = history.iter().fold(first, |b, r| {
        if r.val_accuracy > b.val_accuracy {
            r
        } else {
            b
        }
    });
    let close = history
        .iter()
        .find(|r| best.val_accuracy - r.val_accuracy <= 0.005)
        .unwrap_or(best);
    let mut s = format!(
        "After the first epoch the validation accuracy is already {}; it comes within half \
         a point of its best ({} at epoch {}) at epoch {}, and ends at {} after epoch {}.",
        pct(first.val_accuracy),
        pct(best.val_accuracy),
        best.epoch,
        close.epoch,
        pct(last.val_accuracy),
        last.epoch
    );
    if let Some(file) = read_animation(&dir)? {
        if let (Some(a), Some(b)) = (file.frames.first(), file.frames.last()) {
            s.push_str(&format!(
                " The animation has {} frames, from step {} to step {}, at {} frames per \
                 second.",
                file.frames.len(),
                a.step,
                b.step,
                file.fps
            ));
        }
        for sentence in settling_sentences(&file) {
            s.push(' ');
            s.push_str(&sentence);
        }
    }
    s.push('\n');
    Ok(s)
}

/// A run's `evolution.json`, if `trainer animate` wrote one.
pub fn read_animation(dir: &Path) -> Result<Option<trainer::animate::AnimationFile>> {
    let path = dir.join(trainer::animate::ANIMATION).with_extension("json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let file = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an animation file", path.display()))?;
    Ok(Some(file))
}

/// The mean filter cosine to the final weights above which a layer counts as settled.
pub const SETTLED: f64 = 0.9;

/// When the filters settle and the predictions of the shown images stop changing, from
/// `evolution.json` (empty when it has no frames).
pub fn settling_sentences(file: &trainer::animate::AnimationFile) -> Vec<String> {
    use trainer::animate::AnimationFrame;
    let frames = &file.frames;
    let (Some(first), Some(last)) = (frames.first(), frames.last()) else {
        return Vec::new();
    };
    // The first frame from which on `holds` is true of every later frame.
    let from = |holds: &dyn Fn(&AnimationFrame) -> bool| -> &AnimationFrame {
        let at = frames.iter().rposition(|f| !holds(f)).map_or(0, |i| i + 1);
        &frames[at.min(frames.len() - 1)]
    };
    let when = |f: &AnimationFrame| {
        if f.step == 0 {
            "the random start".to_string()
        } else if f.progress.fract() == 0.0 {
            format!("step {} (the end of epoch {})", f.step, f.progress)
        } else {
            format!(
                "step {} ({:.0}% into epoch {})",
                f.step,
                f.progress.fract() * 100.0,
                f.progress.ceil()
            )
        }
    };
    let conv1 = from(&|f| f.conv1_to_final > SETTLED);
    let conv2 = from(&|f| f.conv2_to_final > SETTLED);
    let answers = from(&|f| f.predicted == last.predicted);
    vec![
        format!(
            "Measured as the mean cosine similarity of each filter to the same filter at \
             the end, conv1's filters start at {:.2} and stay above {SETTLED} from {} \
             onwards; conv2's start at {:.2} and stay above {SETTLED} from {} onwards.",
            first.conv1_to_final,
            when(conv1),
            first.conv2_to_final,
            when(conv2)
        ),
        format!(
            "The images shown have the predictions they end with from {} onwards, when conv1's \
             filters are at {:.2} and conv2's at {:.2}.",
            when(answers),
            answers.conv1_to_final,
            answers.conv2_to_final
        ),
    ]
}

/// The colour block: the synthetic colour run's numbers (or a line saying there is none).
pub fn colour_block(metrics: &Metrics) -> String {
    let Some(m) = metrics.get(crate::figures::COLOUR_RUN) else {
        return "No colour run in results/metrics.json yet: run `cargo xtask figures`.\n".into();
    };
    let epochs = m.epochs.max(1) as f64;
    format!(
        "| synthetic colour shapes (CIFAR-10 layout, 3×32×32) | |\n|---|---:|\n\
         | test images | {} |\n\
         | epochs | {} |\n\
         | final train accuracy | {} |\n\
         | final validation accuracy | {} |\n\
         | test accuracy | {} |\n\
         | training time | {:.1} s ({:.2} s per epoch, {} cores) |\n",
        m.test.images,
        m.epochs,
        pct(m.last.train_accuracy),
        pct(m.last.val_accuracy),
        pct(m.test.accuracy),
        m.seconds.total,
        m.seconds.total / epochs,
        m.machine.cores,
    )
}

/// The results block: headline table, per-class accuracy, activation statistics.
pub fn results_block(metrics: &Metrics) -> String {
    let runs: Vec<(&str, &RunMetrics)> = ["mnist", "fashion-mnist"]
        .iter()
        .filter_map(|k| metrics.get(*k).map(|v| (*k, v)))
        .collect();
    let mut s = String::new();
    s.push_str("| | ");
    s.push_str(
        &runs
            .iter()
            .map(|(_, m)| format!("{} (convlens)", m.dataset))
            .collect::<Vec<_>>()
            .join(" | "),
    );
    s.push_str(" | MNIST (reference notebook, PyTorch) |\n|---|");
    s.push_str(&"---:|".repeat(runs.len() + 1));
    s.push('\n');
    let row = |label: &str, f: &dyn Fn(&RunMetrics) -> String, reference: &str| {
        let cells: Vec<String> = runs.iter().map(|(_, m)| f(m)).collect();
        format!("| {label} | {} | {reference} |\n", cells.join(" | "))
    };
    let best = |key: fn(&Curves<Best>) -> &Best, as_pct: bool| {
        move |m: &RunMetrics| {
            let b = key(&m.best);
            let v = if as_pct { pct(b.value) } else { num(b.value) };
            format!("{v} (epoch {})", b.epoch)
        }
    };
    s.push_str(&row(
        "final train accuracy",
        &|m| pct(m.last.train_accuracy),
        &format!("{:.2}%", 100.0 * REFERENCE_TRAIN_ACCURACY),
    ));
    s.push_str(&row(
        "final validation accuracy",
        &|m| pct(m.last.val_accuracy),
        &format!("{:.2}%", 100.0 * REFERENCE_VAL_ACCURACY),
    ));
    s.push_str(&row(
        "best validation accuracy",
        &best(|c| &c.val_accuracy, true),
        "–",
    ));
    s.push_str(&row("final train loss", &|m| num(m.last.train_loss), "–"));
    s.push_str(&row(
        "final validation loss",
        &|m| num(m.last.val_loss),
        "–",
    ));
    s.push_str(&row(
        "best validation loss",
        &best(|c| &c.val_loss, false),
        "–",
    ));
    s.push_str(&row(
        "wall-clock time (20 epochs incl. validation)",
        &|m| format!("{:.0} s", m.seconds.total),
        "about 160 s",
    ));
    // Per-class accuracy on the test set.
    for (_, m) in &runs {
        s.push_str(&format!(
            "\n**{}, test accuracy per class**\n\n| class | accuracy |\n|---|---:|\n",
            m.dataset
        ));
        for c in &m.per_class_accuracy {
            s.push_str(&format!("| {} | {} |\n", c.class, pct(c.accuracy)));
        }
    }
    // Activation statistics.
    s.push_str("\n**Activation statistics over the 10,000 test images**\n\n| layer | ");
    s.push_str(
        &runs
            .iter()
            .map(|(_, m)| {
                format!(
                    "{0}: zeros | {0}: mean | {0}: channels never active",
                    m.dataset
                )
            })
            .collect::<Vec<_>>()
            .join(" | "),
    );
    s.push_str(" |\n|---|");
    s.push_str(&"---:|".repeat(3 * runs.len()));
    s.push('\n');
    let layers: Vec<&str> = runs
        .first()
        .map(|(_, m)| {
            m.activation_stats
                .iter()
                .map(|l| l.layer.as_str())
                .collect()
        })
        .unwrap_or_default();
    for layer in layers {
        let mut cells = Vec::new();
        for (_, m) in &runs {
            match m.activation_stats.iter().find(|l| l.layer == layer) {
                Some(l) => {
                    cells.push(pct(l.zero_fraction));
                    cells.push(format!("{:.3}", l.mean));
                    cells.push(l.channels_never_active.to_string());
                }
                None => cells.extend(["–".to_string(), String::new(), "null".into()]),
            }
        }
        s.push_str(&format!("| {layer} | {} |\n", cells.join(" | ")));
    }
    if let Some((_, m)) = runs.first() {
        s.push_str(&format!(
            "\nTimes measured on {}.\n",
            describe_machine(&m.machine)
        ));
    }
    s
}

/// The benchmark block from `results/bench.json`.
pub fn bench_block(bench: &BenchReport) -> String {
    let rows = &bench.rows;
    let mut sizes: Vec<usize> = rows.iter().map(|r| r.batch_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut frameworks: Vec<&str> = Vec::new();
    for r in rows {
        if !frameworks.contains(&r.framework.as_str()) {
            frameworks.push(&r.framework);
        }
    }
    let rate = |f: &str, b: usize| {
        rows.iter()
            .find(|r| r.framework == f && r.batch_size == b)
            .map(|r| r.images_per_s)
    };
    let torch = frameworks
        .iter()
        .find(|f| f.starts_with("PyTorch"))
        .copied();
    let input = bench.input_shape();
    let default_input = input == crate::bench::InputShape::DEFAULT;
    let title = if default_input {
        "training throughput, images/s".to_string()
    } else {
        format!(
            "training throughput on {}, images/s",
            input.to_string().replace('x', "×")
        )
    };
    let mut s = format!(
        "| {title} | {} |\n|---|{}\n",
        sizes
            .iter()
            .map(|b| format!("batch {b}"))
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(sizes.len())
    );
    for f in &frameworks {
        let cells: Vec<String> = sizes
            .iter()
            .map(|&b| match (rate(f, b), torch.and_then(|t| rate(t, b))) {
                (Some(r), Some(t)) if !f.starts_with("PyTorch") => {
                    format!("{r:.0} ({:.2}× PyTorch)", r / t)
                }
                (Some(r), _) => format!("{r:.0}"),
                _ => "–".into(),
            })
            .collect();
        s.push_str(&format!("| {f} | {} |\n", cells.join(" | ")));
    }
    if let Some(note) = &bench.pytorch {
        s.push_str(&format!("\nPyTorch: {note}.\n"));
    }
    let images = if default_input && bench.classes.unwrap_or(10) == 10 {
        format!("{} MNIST training images", bench.images)
    } else {
        let [c, h, w] = input.dims();
        format!(
            "{} {} of {c}×{h}×{w} ({} classes)",
            bench.images,
            bench.data.as_deref().unwrap_or("MNIST training images"),
            bench.classes.unwrap_or(10)
        )
    };
    s.push_str(&format!(
        "\n{images} per measurement, SGD lr 0.1, after 20 warm-up batches; measured on {}.\n",
        describe_machine(&bench.machine)
    ));
    let fallbacks: Vec<String> = bench
        .kernels
        .iter()
        .filter_map(|k| {
            let why = k.fallback.as_ref()?;
            Some(format!("{} runs {} (not {why})", k.layer, k.path))
        })
        .collect();
    if !fallbacks.is_empty() {
        s.push_str(&format!(
            "On this input convlens' {}.\n",
            fallbacks.join("; ")
        ));
    }
    s
}

/// "CPU (N cores, AVX-512)".
fn describe_machine(machine: &Machine) -> String {
    match &machine.vector_unit {
        Some(unit) => format!("{} ({} cores, {unit})", machine.cpu, machine.cores),
        None => format!("{} ({} cores)", machine.cpu, machine.cores),
    }
}

/// Replaces the content between `<!-- name:begin -->` and `<!-- name:end -->`.
pub fn replace_block(text: &str, name: &str, content: &str) -> Result<String> {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let i = text
        .find(&begin)
        .with_context(|| format!("README.md has no {begin} marker"))?;
    let j = text[i..]
        .find(&end)
        .map(|j| i + j)
        .with_context(|| format!("README.md has no {end} marker"))?;
    Ok(format!("{}{begin}\n{content}{}", &text[..i], &text[j..]))
}

/// Whether the README at `root` has a `<!-- name:begin -->` marker.
pub fn has_block(root: &Path, name: &str) -> Result<bool> {
    let path = root.join("README.md");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.contains(&format!("<!-- {name}:begin -->")))
}

/// Rewrites one block of the README at `root`.
pub fn update(root: &Path, name: &str, content: &str) -> Result<()> {
    let path = root.join("README.md");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let new = replace_block(&text, name, content)?;
    if new != text {
        convlens_data::write_atomic(&path, new.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames at steps 0, 10, 20 (the end of epoch 1), 30 and 40: conv1 passes 0.9 at step
    /// 20 but dips under it at 30, conv2 from step 30; the predictions settle at step 10.
    #[test]
    fn settling_is_the_first_frame_from_which_a_condition_holds() {
        use trainer::animate::{AnimationFile, AnimationFrame, Layout, Scales};
        let frame = |step: u64, c1: f64, c2: f64, predicted: Vec<usize>| AnimationFrame {
            snapshot: format!("snapshots/step-{step:08}.safetensors").into(),
            step,
            progress: step as f64 / 20.0,
            label: String::new(),
            predicted,
            conv1_to_final: c1,
            conv2_to_final: c2,
        };
        let file = AnimationFile {
            fps: 4,
            size: (10, 10),
            images: vec![0, 1],
            scales: Scales {
                conv1: 1.0,
                conv2: 1.0,
                relu1: 1.0,
                relu2: 1.0,
            },
            layout: Layout {
                conv1: [0; 4],
                conv2: [0; 4],
                colour_bars: [[0; 4]; 4],
                feature_maps: [0; 4],
                curves: [0; 4],
            },
            frames: vec![
                frame(0, 0.5, 0.2, vec![3, 3]),
                frame(10, 0.8, 0.4, vec![1, 2]),
                frame(20, 0.95, 0.8, vec![1, 2]),
                frame(30, 0.85, 0.92, vec![1, 2]),
                frame(40, 1.0, 1.0, vec![1, 2]),
            ],
        };
        let s = settling_sentences(&file);
        assert_eq!(
            s[0],
            "Measured as the mean cosine similarity of each filter to the same filter at the \
             end, conv1's filters start at 0.50 and stay above 0.9 from step 40 (the end of \
             epoch 2) onwards; conv2's start at 0.20 and stay above 0.9 from step 30 (50% \
             into epoch 2) onwards."
        );
        assert_eq!(
            s[1],
            "The images shown have the predictions they end with from step 10 (50% into \
             epoch 1) onwards, when conv1's filters are at 0.80 and conv2's at 0.40."
        );
        let empty = AnimationFile {
            frames: Vec::new(),
            ..file
        };
        assert!(settling_sentences(&empty).is_empty());
    }

    fn root() -> std::path::PathBuf {
        crate::figures::workspace_root()
    }

    fn read_bench() -> BenchReport {
        let text =
            std::fs::read_to_string(root().join("results/bench.json")).expect("results/bench.json");
        serde_json::from_str(&text).expect("results/bench.json parses")
    }

    /// The typed benchmark file says what the file says: written back, it is the same JSON.
    #[test]
    fn bench_read_typed_keeps_every_value() {
        let text = std::fs::read_to_string(root().join("results/bench.json")).unwrap();
        let typed: BenchReport = serde_json::from_str(&text).unwrap();
        let mut again = serde_json::to_string_pretty(&typed).unwrap();
        again.push('\n');
        assert_eq!(again, text);
    }

    /// The typed metrics say what the file says: written back, they are the same JSON.
    #[test]
    fn metrics_read_typed_keep_every_value() {
        let path = root().join("results/metrics.json");
        let metrics = crate::figures::read_metrics(&path).unwrap();
        assert!(metrics.contains_key("mnist") && metrics.contains_key("fashion-mnist"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut again = serde_json::to_string_pretty(&metrics).unwrap();
        again.push('\n');
        assert_eq!(again, text);
    }

    /// The names of the README's `<!-- bench-…:begin -->` blocks, one per results file
    /// `results/bench-….json` of another input shape.
    fn shape_bench_blocks(readme: &str) -> Vec<String> {
        readme
            .match_indices("<!-- bench-")
            .filter_map(|(i, _)| {
                let (name, _) = readme[i + "<!-- ".len()..].split_once(":begin -->")?;
                (!name.contains(|c: char| c.is_whitespace() || c == ':')).then(|| name.to_string())
            })
            .collect()
    }

    fn block(name: &str) -> String {
        let text = std::fs::read_to_string(root().join("README.md")).unwrap();
        let begin = format!("<!-- {name}:begin -->\n");
        let i = text.find(&begin).unwrap() + begin.len();
        let j = text.find(&format!("<!-- {name}:end -->")).unwrap();
        text[i..j].to_string()
    }

    /// The README's tables are exactly what `results/` says (regenerate with
    /// `cargo xtask figures` / `cargo xtask bench`).
    #[test]
    fn readme_blocks_match_results() {
        let metrics = crate::figures::read_metrics(&root().join("results/metrics.json"))
            .expect("results/metrics.json");
        assert_eq!(
            block("results"),
            results_block(&metrics),
            "README results block is stale: run cargo xtask figures"
        );
        assert_eq!(
            block("colour"),
            colour_block(&metrics),
            "README colour block is stale: run cargo xtask figures"
        );
        assert_eq!(
            block("explain"),
            explain_block(&read_explain(&root().join("results")).unwrap()),
            "README explain block is stale: run cargo xtask figures"
        );
        assert_eq!(
            block("evolution"),
            evolution_block(&root().join("results")).unwrap(),
            "README evolution block is stale: run cargo xtask figures"
        );
        let bench = read_bench();
        assert_eq!(
            block("speed"),
            speed_block(&metrics, &bench),
            "README speed block is stale: run cargo xtask bench"
        );
        assert_eq!(
            block("bench"),
            bench_block(&bench),
            "README bench block is stale: run cargo xtask bench"
        );
        assert_eq!(
            block("hooks"),
            crate::bench::hooks_block(&bench),
            "README hooks block is stale: run cargo xtask bench"
        );
        let text = std::fs::read_to_string(root().join("README.md")).unwrap();
        for name in shape_bench_blocks(&text) {
            let path = root().join(format!("results/{name}.json"));
            let bench: BenchReport = serde_json::from_str(
                &std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                block(&name),
                bench_block(&bench),
                "README {name} block is stale: run cargo xtask bench --input …"
            );
        }
        let build_time: crate::build_time::BuildTime = serde_json::from_slice(
            &std::fs::read(root().join("results/build-time.json"))
                .expect("results/build-time.json"),
        )
        .expect("results/build-time.json parses");
        assert_eq!(
            block("build-time"),
            crate::build_time::block(&build_time),
            "README build-time block is stale: run cargo xtask build-time"
        );
    }

    /// Every image the README shows exists in the repository.
    #[test]
    fn readme_images_exist() {
        let text = std::fs::read_to_string(root().join("README.md")).unwrap();
        let mut count = 0;
        for part in text.split("](").skip(1) {
            let target = part.split(')').next().unwrap_or("");
            if target.ends_with(".png") || target.ends_with(".svg") {
                assert!(
                    root().join(target).is_file(),
                    "README references {target}, which does not exist"
                );
                count += 1;
            }
        }
        assert!(count >= 10, "the README shows only {count} figures");
    }

    #[test]
    fn shape_bench_blocks_are_found_by_their_begin_markers() {
        let text = "<!-- bench:begin -->\n<!-- bench:end -->\n<!-- bench-3x32x32:begin -->\nx\n\
                    <!-- bench-3x32x32:end -->\n<!-- bench-3x96x96-100classes:begin -->\n";
        assert_eq!(
            shape_bench_blocks(text),
            ["bench-3x32x32", "bench-3x96x96-100classes"]
        );
        assert!(shape_bench_blocks("<!-- bench-x:end --> <!-- hooks:begin -->").is_empty());
    }

    /// The block of another input shape names the shape, the data, the classes and the
    /// kernel paths that differ from MNIST's; the MNIST block stays as it was.
    #[test]
    fn bench_block_of_another_input() {
        let mut bench = read_bench();
        let mnist = bench_block(&bench);
        assert!(mnist.contains(" MNIST training images per measurement"));
        bench.input = Some([1, 28, 28]);
        bench.classes = Some(10);
        bench.data = Some("MNIST training images".into());
        assert_eq!(bench_block(&bench), mnist);
        bench.input = Some([3, 32, 32]);
        bench.data = Some("synthetic colour shapes".into());
        bench.kernels = crate::bench::kernel_paths(&convlens_model::NetConfig {
            in_channels: 3,
            classes: 10,
            input_size: 32,
        })
        .unwrap();
        let block = bench_block(&bench);
        assert!(block.starts_with("| training throughput on 3×32×32, images/s |"));
        assert!(block.contains(" synthetic colour shapes of 3×32×32 (10 classes) per measurement"));
        assert!(block
            .contains("On this input convlens' conv1 runs im2col + gemm (not direct on 1×28×28"));
        assert!(block.contains("conv3 runs im2col + gemm (not dense gemm on 1×28×28"));
        assert!(!block.contains("conv2 runs"));
    }

    #[test]
    fn blocks_are_replaced_between_markers_only() {
        let text = "a\n<!-- x:begin -->\nold\n<!-- x:end -->\nb\n";
        assert_eq!(
            replace_block(text, "x", "new\n").unwrap(),
            "a\n<!-- x:begin -->\nnew\n<!-- x:end -->\nb\n"
        );
        assert!(replace_block(text, "y", "").is_err());
    }
}
