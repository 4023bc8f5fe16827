//! The README's generated blocks: tables rendered from `results/metrics.json` and
//! `results/bench.json`, between `<!-- NAME:begin -->` and `<!-- NAME:end -->` markers.
//! `cargo xtask figures` and `cargo xtask bench` rewrite them; tests fail when they are stale.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// The reference notebook's numbers (PyTorch, MNIST, 20 epochs), quoted from its report.
const REFERENCE_TRAIN_ACCURACY: f64 = 0.9983;
const REFERENCE_VAL_ACCURACY: f64 = 0.9879;

fn pct(v: &Value) -> String {
    v.as_f64()
        .map(|x| format!("{:.2}%", 100.0 * x))
        .unwrap_or_else(|| "–".into())
}

fn num(v: &Value) -> String {
    v.as_f64()
        .map(|x| format!("{x:.4}"))
        .unwrap_or_else(|| "–".into())
}

/// The results block: headline table, per-class accuracy, activation statistics.
pub fn results_block(metrics: &Value) -> String {
    let runs: Vec<(&str, &Value)> = ["mnist", "fashion-mnist"]
        .iter()
        .filter_map(|k| metrics.get(*k).map(|v| (*k, v)))
        .collect();
    let mut s = String::new();
    s.push_str("| | ");
    s.push_str(
        &runs
            .iter()
            .map(|(_, m)| format!("{} (convlens)", m["dataset"].as_str().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(" | "),
    );
    s.push_str(" | MNIST (reference notebook, PyTorch) |\n|---|");
    s.push_str(&"---:|".repeat(runs.len() + 1));
    s.push('\n');
    let row = |label: &str, f: &dyn Fn(&Value) -> String, reference: &str| {
        let cells: Vec<String> = runs.iter().map(|(_, m)| f(m)).collect();
        format!("| {label} | {} | {reference} |\n", cells.join(" | "))
    };
    let best = |key: &'static str, as_pct: bool| {
        move |m: &Value| {
            let b = &m["best"][key];
            let v = if as_pct {
                pct(&b["value"])
            } else {
                num(&b["value"])
            };
            format!("{v} (epoch {})", b["epoch"])
        }
    };
    s.push_str(&row(
        "final train accuracy",
        &|m| pct(&m["final"]["train_accuracy"]),
        &format!("{:.2}%", 100.0 * REFERENCE_TRAIN_ACCURACY),
    ));
    s.push_str(&row(
        "final validation accuracy",
        &|m| pct(&m["final"]["val_accuracy"]),
        &format!("{:.2}%", 100.0 * REFERENCE_VAL_ACCURACY),
    ));
    s.push_str(&row(
        "best validation accuracy",
        &best("val_accuracy", true),
        "–",
    ));
    s.push_str(&row(
        "final train loss",
        &|m| num(&m["final"]["train_loss"]),
        "–",
    ));
    s.push_str(&row(
        "final validation loss",
        &|m| num(&m["final"]["val_loss"]),
        "–",
    ));
    s.push_str(&row("best validation loss", &best("val_loss", false), "–"));
    s.push_str(&row(
        "wall-clock time (20 epochs incl. validation)",
        &|m| {
            m["seconds"]["total"]
                .as_f64()
                .map(|t| format!("{t:.0} s"))
                .unwrap_or_default()
        },
        "about 160 s",
    ));
    // Per-class accuracy on the test set.
    for (_, m) in &runs {
        let classes = m["per_class_accuracy"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        s.push_str(&format!(
            "\n**{}, test accuracy per class**\n\n| class | accuracy |\n|---|---:|\n",
            m["dataset"].as_str().unwrap_or("?")
        ));
        for c in classes {
            let name = c["class"].as_str().unwrap_or("?");
            s.push_str(&format!("| {name} | {} |\n", pct(&c["accuracy"])));
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
                    m["dataset"].as_str().unwrap_or("?")
                )
            })
            .collect::<Vec<_>>()
            .join(" | "),
    );
    s.push_str(" |\n|---|");
    s.push_str(&"---:|".repeat(3 * runs.len()));
    s.push('\n');
    let layers: Vec<String> = runs
        .first()
        .and_then(|(_, m)| m["activation_stats"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|l| l["layer"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for layer in layers {
        let mut cells = Vec::new();
        for (_, m) in &runs {
            let l = m["activation_stats"]
                .as_array()
                .and_then(|a| a.iter().find(|l| l["layer"] == layer.as_str()))
                .cloned()
                .unwrap_or(Value::Null);
            cells.push(pct(&l["zero_fraction"]));
            cells.push(
                l["mean"]
                    .as_f64()
                    .map(|x| format!("{x:.3}"))
                    .unwrap_or_default(),
            );
            cells.push(l["channels_never_active"].to_string());
        }
        s.push_str(&format!("| {layer} | {} |\n", cells.join(" | ")));
    }
    let machine = runs.first().map(|(_, m)| &m["machine"]);
    if let Some(machine) = machine {
        s.push_str(&format!("\nTimes measured on {}.\n", describe(machine)));
    }
    s
}

/// The benchmark block from `results/bench.json`.
pub fn bench_block(bench: &Value) -> String {
    let rows = bench["rows"].as_array().cloned().unwrap_or_default();
    let mut sizes: Vec<u64> = rows
        .iter()
        .filter_map(|r| r["batch_size"].as_u64())
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut frameworks: Vec<String> = Vec::new();
    for f in rows.iter().filter_map(|r| r["framework"].as_str()) {
        if !frameworks.iter().any(|x| x == f) {
            frameworks.push(f.to_string());
        }
    }
    let rate = |f: &str, b: u64| {
        rows.iter()
            .find(|r| r["framework"] == f && r["batch_size"] == b)
            .and_then(|r| r["images_per_s"].as_f64())
    };
    let torch = frameworks
        .iter()
        .find(|f| f.starts_with("PyTorch"))
        .cloned();
    let mut s = format!(
        "| training throughput, images/s | {} |\n|---|{}\n",
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
            .map(
                |&b| match (rate(f, b), torch.as_deref().and_then(|t| rate(t, b))) {
                    (Some(r), Some(t)) if !f.starts_with("PyTorch") => {
                        format!("{r:.0} ({:.2}× PyTorch)", r / t)
                    }
                    (Some(r), _) => format!("{r:.0}"),
                    _ => "–".into(),
                },
            )
            .collect();
        s.push_str(&format!("| {f} | {} |\n", cells.join(" | ")));
    }
    if let Some(note) = bench["pytorch"].as_str() {
        s.push_str(&format!("\nPyTorch: {note}.\n"));
    }
    s.push_str(&format!(
        "\n{} MNIST training images per measurement, SGD lr 0.1, after 20 warm-up batches; measured on {}.\n",
        bench["images"],
        describe(&bench["machine"])
    ));
    s
}

/// "CPU (N cores, AVX-512)" from a `machine` object of `figures::machine`.
fn describe(machine: &Value) -> String {
    let cpu = machine["cpu"].as_str().unwrap_or("an unknown CPU");
    match machine["vector_unit"].as_str() {
        Some(unit) => format!("{cpu} ({} cores, {unit})", machine["cores"]),
        None => format!("{cpu} ({} cores)", machine["cores"]),
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

    fn root() -> std::path::PathBuf {
        crate::figures::workspace_root()
    }

    fn read(path: &str) -> Option<Value> {
        let text = std::fs::read_to_string(root().join(path)).ok()?;
        serde_json::from_str(&text).ok()
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
        let metrics = read("results/metrics.json").expect("results/metrics.json");
        assert_eq!(
            block("results"),
            results_block(&metrics),
            "README results block is stale: run cargo xtask figures"
        );
        let bench = read("results/bench.json").expect("results/bench.json");
        assert_eq!(
            block("bench"),
            bench_block(&bench),
            "README bench block is stale: run cargo xtask bench"
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
    fn blocks_are_replaced_between_markers_only() {
        let text = "a\n<!-- x:begin -->\nold\n<!-- x:end -->\nb\n";
        assert_eq!(
            replace_block(text, "x", "new\n").unwrap(),
            "a\n<!-- x:begin -->\nnew\n<!-- x:end -->\nb\n"
        );
        assert!(replace_block(text, "y", "").is_err());
    }
}
