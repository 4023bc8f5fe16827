//! The `trainer` binary end to end, on synthetic data: bad flags, reproducibility,
//! kill-and-resume, evaluation and figures.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::{stderr, synthetic_data, trainer};
use convlens_data::synthetic::{write_synthetic, SyntheticConfig};

fn run(args: &[&str]) -> Output {
    trainer()
        .args(args)
        .output()
        .expect("the trainer binary runs")
}

/// A synthetic dataset of `train` images and 200 test images.
fn data(train: usize) -> (tempfile::TempDir, String) {
    synthetic_data(train, 200)
}

/// Asserts exit code 2, one error message naming every `needle`, and no panic.
fn fails_with(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit code 2; stderr:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in:\n{err}");
    }
}

#[test]
fn bad_flags_get_clear_errors() {
    let (_d, id) = data(100);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("r").display().to_string();
    fails_with(
        &run(&["train", "--dataset", &id, "--batch-size", "0", "--out", &o]),
        &["--batch-size 0"],
    );
    fails_with(
        &run(&["train", "--dataset", &id, "--lr", "-0.5", "--out", &o]),
        &["--lr -0.5", "positive"],
    );
    fails_with(
        &run(&["train", "--dataset", &id, "--lr", "0", "--out", &o]),
        &["--lr 0"],
    );
    fails_with(
        &run(&["train", "--dataset", &id, "--epochs", "0", "--out", &o]),
        &["--epochs 0"],
    );
    fails_with(
        &run(&["train", "--dataset", "cifar1000", "--out", &o]),
        &["cifar1000", "fashion-mnist"],
    );
    fails_with(
        &run(&[
            "train",
            "--dataset",
            &id,
            "--optimizer",
            "rmsprop",
            "--out",
            &o,
        ]),
        &["--optimizer", "rmsprop"],
    );
    fails_with(
        &run(&[
            "train",
            "--dataset",
            &id,
            "--sampler",
            "random",
            "--out",
            &o,
        ]),
        &["--sampler", "random"],
    );
    fails_with(
        &run(&["train", "--dataset", &id, "--resume", "--out", &o]),
        &["--resume", "no such folder"],
    );
    std::fs::create_dir_all(out.path().join("empty")).unwrap();
    let empty = out.path().join("empty").display().to_string();
    fails_with(
        &run(&["train", "--dataset", &id, "--resume", "--out", &empty]),
        &["--resume", "no training state"],
    );
    // An --out below a regular file cannot be created.
    std::fs::write(out.path().join("file"), b"").unwrap();
    let below_file = out.path().join("file/run").display().to_string();
    fails_with(
        &run(&[
            "train",
            "--dataset",
            &id,
            "--epochs",
            "1",
            "--out",
            &below_file,
        ]),
        &["file/run"],
    );
    fails_with(&run(&["eval", "--run", &empty]), &["--run", "config.json"]);
    fails_with(&run(&["summary", "--input-size", "4"]), &["conv"]);
}

#[test]
fn init_files_with_missing_or_misshapen_tensors_are_named() {
    let (_d, id) = data(100);
    let dir = tempfile::tempdir().unwrap();
    let dev = candle_core::Device::Cpu;
    let net = convlens_model::Network::new(Default::default(), 1, &dev).unwrap();
    let mut tensors: std::collections::HashMap<String, candle_core::Tensor> = net
        .parameters()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect();
    tensors.remove("fc1.bias");
    let missing = dir.path().join("missing.safetensors");
    candle_core::safetensors::save(&tensors, &missing).unwrap();
    let o = dir.path().join("r").display().to_string();
    fails_with(
        &run(&[
            "train",
            "--dataset",
            &id,
            "--init",
            &missing.display().to_string(),
            "--out",
            &o,
        ]),
        &["fc1.bias", "missing.safetensors"],
    );
    tensors.insert(
        "fc1.bias".into(),
        candle_core::Tensor::zeros(7, candle_core::DType::F32, &dev).unwrap(),
    );
    let bad = dir.path().join("bad.safetensors");
    candle_core::safetensors::save(&tensors, &bad).unwrap();
    fails_with(
        &run(&[
            "train",
            "--dataset",
            &id,
            "--init",
            &bad.display().to_string(),
            "--out",
            &o,
        ]),
        &["fc1.bias", "[7]", "[60]"],
    );
}

/// The true and the predicted class of the first `n` test images of `id`, predicted by the
/// run's saved weights with a plain forward pass, independent of the binary's evaluation.
fn classify_first(run: &Path, id: &str, n: usize) -> (Vec<usize>, Vec<usize>) {
    let data =
        convlens_data::Dataset::load(&id.parse().unwrap(), &convlens_data::Locator::default())
            .unwrap();
    let dev = candle_core::Device::Cpu;
    let net =
        convlens_model::Network::load(Default::default(), &run.join("model.safetensors"), &dev)
            .unwrap();
    let indices: Vec<usize> = (0..n).collect();
    let (x, _) = data.test.batch(&indices, &dev).unwrap();
    let logits: Vec<Vec<f32>> = net.forward(&x).unwrap().to_vec2().unwrap();
    let predicted = logits
        .iter()
        .map(|row| {
            (0..row.len())
                .max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)))
                .unwrap()
        })
        .collect();
    let truth = data.test.labels()[..n]
        .iter()
        .map(|&l| l as usize)
        .collect();
    (truth, predicted)
}

fn train_run(id: &str, out: &Path, extra: &[&str]) -> Output {
    let out = out.display().to_string();
    let mut args = vec!["train", "--dataset", id, "--out", &out];
    for (flag, default) in [("--epochs", "3"), ("--lr", "0.05")] {
        if !extra.contains(&flag) {
            args.extend([flag, default]);
        }
    }
    args.extend_from_slice(extra);
    run(&args)
}

/// history.json without the wall-clock columns, which no two runs share.
fn history_without_time(run: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("history.json")).unwrap();
    let mut rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    for r in &mut rows {
        let o = r.as_object_mut().unwrap();
        assert!(o.remove("train_seconds").is_some() && o.remove("val_seconds").is_some());
    }
    rows
}

#[test]
fn two_runs_with_the_same_arguments_are_identical() {
    let (_d, id) = data(400);
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    // On two threads, as a user's run on two cores: the threaded kernels are reproducible.
    for p in [&a, &b] {
        let out = p.display().to_string();
        let o = trainer()
            .env("RAYON_NUM_THREADS", "2")
            .args(["train", "--dataset", &id, "--out", &out])
            .args(["--epochs", "3", "--lr", "0.05"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap()
    );
    assert_eq!(history_without_time(&a), history_without_time(&b));
    assert_eq!(
        std::fs::read(a.join("config.json")).unwrap(),
        std::fs::read(b.join("config.json")).unwrap()
    );
    let h = history_without_time(&a);
    assert_eq!(h.len(), 3);
    assert_eq!(h[0]["epoch"], 1);
    let csv = std::fs::read_to_string(a.join("history.csv")).unwrap();
    assert!(csv.starts_with(
        "epoch,train_loss,val_loss,train_accuracy,val_accuracy,train_seconds,val_seconds"
    ));
    assert_eq!(csv.lines().count(), 4);
    // Another seed gives other weights.
    let o = train_run(&id, &c, &["--seed", "7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(c.join("model.safetensors")).unwrap()
    );
    // A folder holding a run is not overwritten.
    fails_with(
        &train_run(&id, &a, &[]),
        &["already holds a training run", "--resume"],
    );
    // Resuming with other arguments is refused, naming the flag.
    fails_with(
        &train_run(&id, &a, &["--resume", "--lr", "0.2"]),
        &["--lr", "0.2", "0.05"],
    );
}

fn epochs_done(run: &Path) -> usize {
    std::fs::read_to_string(run.join("state.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["epochs_done"].as_u64())
        .unwrap_or(0) as usize
}

/// A run killed with SIGKILL in the middle of an epoch and resumed ends byte-identical to
/// an uninterrupted one.
#[test]
fn kill_and_resume_is_byte_identical() {
    let (_d, id) = data(4000);
    let dir = tempfile::tempdir().unwrap();
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let args = |out: &PathBuf| {
        vec![
            "train".to_string(),
            "--dataset".into(),
            id.clone(),
            "--epochs".into(),
            "8".into(),
            "--momentum".into(),
            "0.9".into(),
            "--lr".into(),
            "0.01".into(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let o = trainer().args(args(&whole)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let one_epoch = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(whole.join("history.json")).unwrap(),
    )
    .unwrap()[1]["train_seconds"]
        .as_f64()
        .unwrap();

    let mut child = trainer()
        .args(args(&killed))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while epochs_done(&killed) < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the run made no progress"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Half-way through epoch 3.
    std::thread::sleep(Duration::from_secs_f64(one_epoch / 2.0));
    child.kill().unwrap();
    child.wait().unwrap();
    let done = epochs_done(&killed);
    assert!(
        done < 8,
        "the run finished before it could be killed ({done} epochs)"
    );
    assert_eq!(history_without_time(&killed).len(), done);

    let mut resume = args(&killed);
    resume.push("--resume".into());
    let o = trainer().args(&resume).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(whole.join("model.safetensors")).unwrap(),
        std::fs::read(killed.join("model.safetensors")).unwrap()
    );
    assert_eq!(history_without_time(&whole), history_without_time(&killed));

    // The snapshots: before the first step, 4 per epoch in the first two epochs (250 steps
    // each; geometric in the first, even in the second), one per epoch after; the killed run
    // ends with the same ones, byte for byte.
    let steps = [0, 4, 16, 63, 250, 313, 375, 438, 500]
        .into_iter()
        .chain((3..=8).map(|e| e * 250));
    let expected: Vec<String> = steps.map(|s| format!("step-{s:08}.safetensors")).collect();
    let names = snapshot_names(&whole);
    assert_eq!(names, expected);
    assert_eq!(snapshot_names(&killed), expected);
    for name in &names {
        let file = |run: &Path| std::fs::read(run.join("snapshots").join(name)).unwrap();
        assert!(
            file(&whole) == file(&killed),
            "{name} differs after the kill"
        );
    }
    let last = std::fs::read(whole.join("snapshots").join(names.last().unwrap())).unwrap();
    assert!(last == std::fs::read(whole.join("model.safetensors")).unwrap());
    let first = std::fs::read(whole.join("snapshots").join(&names[0])).unwrap();
    assert!(first != last, "the weights changed in training");
}

/// The snapshot files of a run, sorted.
fn snapshot_names(run: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Snapshots only copy the weights: a run without them trains to the same bytes, and a run
/// folder written before they existed (no `snapshots` in config.json and state.json)
/// resumes.
#[test]
fn snapshots_do_not_change_training_and_old_runs_resume() {
    let (_d, id) = data(400);
    let dir = tempfile::tempdir().unwrap();
    let (with, without) = (dir.path().join("with"), dir.path().join("without"));
    let o = train_run(&id, &with, &["--snapshots", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = train_run(&id, &without, &["--snapshots", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read(with.join("model.safetensors")).unwrap()
            == std::fs::read(without.join("model.safetensors")).unwrap()
    );
    assert_eq!(history_without_time(&with), history_without_time(&without));
    // 400 images, batch 16: 25 steps an epoch; 3 in each of the first two, then 1.
    let steps = [0, 3, 9, 25, 34, 42, 50, 75];
    let expected: Vec<String> = steps
        .iter()
        .map(|s| format!("step-{s:08}.safetensors"))
        .collect();
    assert_eq!(snapshot_names(&with), expected);
    assert!(snapshot_names(&without).is_empty());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(with.join("state.json")).unwrap()).unwrap();
    let recorded: Vec<&str> = state["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    let files: Vec<String> = expected.iter().map(|n| format!("snapshots/{n}")).collect();
    assert_eq!(recorded, files);
    assert_eq!(state["snapshots"][2]["epoch"], 1);
    assert_eq!(state["snapshots"][2]["epoch_step"], 9);
    assert_eq!(state["snapshots"][7]["epoch"], 3);

    // An old run: its files without the new fields, resumed to a fourth epoch with the
    // default flags, ends as a run of the default flags does (snapshots from then on).
    let old = dir.path().join("old");
    let o = train_run(&id, &old, &["--snapshots", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (file, pointer, key) in [
        ("config.json", "/config", "snapshots"),
        ("state.json", "", "snapshots"),
    ] {
        let path = old.join(file);
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let o = v.pointer_mut(pointer).unwrap().as_object_mut().unwrap();
        assert!(o.remove(key).is_some(), "{file} records {key}");
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
    std::fs::remove_dir_all(old.join("snapshots")).unwrap();
    let o = train_run(&id, &old, &["--resume", "--epochs", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(snapshot_names(&old), ["step-00000100.safetensors"]);
    let whole = dir.path().join("whole");
    let o = train_run(&id, &whole, &["--epochs", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read(old.join("model.safetensors")).unwrap()
            == std::fs::read(whole.join("model.safetensors")).unwrap()
    );
}

#[test]
fn eval_summary_datasets_and_inspect_work_on_a_run() {
    let (_d, id) = data(2000);
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let o = train_run(&id, &run_dir, &["--lr", "0.1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = run_dir.display().to_string();

    let o = run(&["eval", "--run", &r, "--json", "--limit", "100"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: trainer::commands::EvalReport = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report.images, 100);
    assert!(
        report.accuracy > 0.8,
        "synthetic shapes are easy; accuracy {}",
        report.accuracy
    );
    assert!(report.loss > 0.0);
    assert_eq!(report.per_class.len(), 10);
    // The same 100 images, classified here by the saved weights and a plain forward pass:
    // the binary's numbers must be these.
    let (truth, predicted) = classify_first(&run_dir, &id, 100);
    let correct = truth.iter().zip(&predicted).filter(|(t, p)| t == p).count();
    assert_eq!(report.accuracy, correct as f64 / 100.0);
    let mut confusion = vec![vec![0u64; 10]; 10];
    for (&t, &p) in truth.iter().zip(&predicted) {
        confusion[t][p] += 1;
    }
    assert_eq!(report.confusion, confusion);
    for (class, name) in report.class_names.iter().enumerate() {
        let total = truth.iter().filter(|&&t| t == class).count();
        let right = (0..100)
            .filter(|&i| truth[i] == class && predicted[i] == class)
            .count();
        let expected = if total == 0 {
            0.0
        } else {
            right as f64 / total as f64
        };
        assert_eq!(report.per_class[name], expected, "{name}");
    }
    assert_eq!(report.class_names[5], "disc");

    let o = run(&["summary"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && (text.contains("71,986") || text.contains("71986")),
        "{text}"
    );

    let o = run(&["datasets", "--data-dir", &dir.path().display().to_string()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["mnist", "fashion-mnist", "kmnist", "idx:DIR"] {
        assert!(text.contains(name), "{text}");
    }

    let figures = dir.path().join("figures");
    let o = run(&[
        "inspect",
        "--run",
        &r,
        "--images",
        "4",
        "--out",
        &figures.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in [
        "architecture.png",
        "samples.png",
        "curves.png",
        "filters_conv1.png",
        "filters_conv2.png",
        "filters_conv3.png",
        "feature_maps.png",
        "classifier.png",
        "saliency.png",
        "confusion.png",
        "activation_stats.png",
        "activation_stats.json",
        "evaluation.json",
    ] {
        let bytes = std::fs::read(figures.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        if name.ends_with(".png") {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
        }
    }
    let stats: Vec<trainer::inspect::LayerSummary> =
        serde_json::from_slice(&std::fs::read(figures.join("activation_stats.json")).unwrap())
            .unwrap();
    assert_eq!(stats.len(), 12);
    let relu1 = stats.iter().find(|s| s.layer == "relu1").unwrap();
    let z = relu1.zero_fraction;
    assert!(z > 0.0 && z < 1.0, "relu1 zero fraction {z}");
    assert_eq!(relu1.images, 200);
    assert_eq!(relu1.shape, [3, 32, 32]);
    assert_eq!(relu1.channel_means.len(), 3);
    // A ReLU's output is never negative.
    assert!(relu1.mean >= 0.0 && relu1.channel_means.iter().all(|&m| m >= 0.0));
    let evaluation: trainer::inspect::EvaluationFile =
        serde_json::from_slice(&std::fs::read(figures.join("evaluation.json")).unwrap()).unwrap();
    assert_eq!(evaluation.images, 200);
    assert_eq!(evaluation.class_names.len(), 10);
    let (truth, predicted) = classify_first(&run_dir, &id, 200);
    let correct = truth.iter().zip(&predicted).filter(|(t, p)| t == p).count();
    assert_eq!(evaluation.accuracy, correct as f64 / 200.0);
    fails_with(
        &run(&["inspect", "--run", &r, "--layers", "fc9"]),
        &["--layers fc9"],
    );
}

/// Huge sizes and counts are refused naming the flag, not an arithmetic overflow.
#[test]
fn summary_with_huge_numbers_is_an_error() {
    for (flag, value) in [
        ("--input-size", "18446744073709551615"),
        ("--input-size", "17179869184"),
        ("--classes", "18446744073709551615"),
        ("--classes", "307445734561825861"),
        ("--in-channels", "2049638230412172401"),
        ("--input-size", "1000000"),
        ("--classes", "18446744073709551"),
    ] {
        fails_with(
            &run(&["summary", flag, value]),
            &[&format!("{flag} {value}: too large")],
        );
    }
    let o = run(&["summary", "--classes", "1000000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("[-1, 1000000]"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Usage errors are one line too, and name what is wrong.
#[test]
fn usage_errors_are_one_line() {
    for (args, needle) in [
        (&["train", "--bogus"][..], "--bogus"),
        (&["train", "--epochs", "x"][..], "--epochs"),
        (&["eval"][..], "--run"),
        (&["frobnicate"][..], "frobnicate"),
        (&["train", "--out", ""][..], "empty path"),
    ] {
        let o = run(args);
        fails_with(&o, &[needle]);
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}:\n{err}");
        assert!(err.starts_with("error: "), "{err}");
    }
    let o = run(&["--help"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Usage"));
}

/// Writes the synthetic set with this seed and class names into `dir`.
fn write_data(dir: &Path, seed: u64, classes: Option<&[&str]>) {
    write_synthetic(
        dir,
        &SyntheticConfig {
            train: 400,
            test: 200,
            seed,
            ..Default::default()
        },
    )
    .unwrap();
    if let Some(names) = classes {
        std::fs::write(dir.join("classes.txt"), names.join("\n")).unwrap();
    }
}

/// `eval` and `inspect` check the data against the run's config.json: changed files or
/// classes are refused naming what changed; the same data at another path is accepted.
#[test]
fn eval_and_inspect_refuse_changed_data_and_accept_moved_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_data(&data, 0, None);
    let id = format!("idx:{}", data.display());
    let run_dir = dir.path().join("run");
    let o = train_run(&id, &run_dir, &["--epochs", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = run_dir.display().to_string();
    let figures = dir.path().join("figures").display().to_string();
    let inspect = |extra: &[&str]| {
        let mut args = vec!["inspect", "--run", &r, "--out", &figures];
        args.extend_from_slice(extra);
        run(&args)
    };

    // An eleventh class name: the run has ten outputs and ten names.
    let mut names: Vec<&str> = convlens_data::synthetic::SHAPE_NAMES.to_vec();
    names.push("star");
    write_data(&data, 0, Some(&names));
    for o in [run(&["eval", "--run", &r]), inspect(&[])] {
        fails_with(&o, &["--run", "11 classes", "trained on 10", "changed"]);
    }

    // Other images with the same classes.
    write_data(&data, 7, Some(&convlens_data::synthetic::SHAPE_NAMES));
    let o = run(&["eval", "--run", &r]);
    fails_with(&o, &["training images", "test labels", "MD5", "changed"]);

    // The run's data, moved: found with --data-dir, refused without.
    let moved = dir.path().join("moved");
    write_data(&moved, 0, None);
    std::fs::remove_dir_all(&data).unwrap();
    fails_with(&run(&["eval", "--run", &r]), &["--data-dir", "data"]);
    let m = moved.display().to_string();
    let o = run(&["eval", "--run", &r, "--data-dir", &m, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: trainer::commands::EvalReport = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report.images, 200);
    let o = inspect(&["--data-dir", &m, "--images", "2", "--limit", "50"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Another dataset given with --data-dir is refused all the same.
    let other = dir.path().join("other");
    write_data(&other, 3, None);
    fails_with(
        &run(&[
            "eval",
            "--run",
            &r,
            "--data-dir",
            &other.display().to_string(),
        ]),
        &["changed", "MD5"],
    );
    fails_with(
        &run(&["eval", "--run", &r, "--data-dir", "/no/such/folder"]),
        &["--data-dir /no/such/folder: no such folder"],
    );
}

/// The hold-out error comes from the data crate through the training crate's error: the
/// binary names the flag all the same.
#[test]
fn holdout_error_names_the_flag() {
    let (_d, id) = data(100);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("r").display().to_string();
    fails_with(
        &run(&["train", "--dataset", &id, "--holdout", "600", "--out", &o]),
        &["--holdout 600: must be between 1 and 99 (the training set's size minus one)"],
    );
}

/// Library errors name fields; the binary names the flags.
#[test]
fn data_errors_name_the_flags() {
    let (_d, id) = data(100);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("r").display().to_string();
    fails_with(
        &run(&[
            "train",
            "--dataset",
            &id,
            "--sampler",
            "random",
            "--out",
            &o,
        ]),
        &["--sampler random: expected balanced, shuffle or sequential"],
    );
    fails_with(
        &run(&["datasets", "--data-dir", "/no/such/folder"]),
        &["--data-dir /no/such/folder: no such folder"],
    );
    let empty = tempfile::tempdir().unwrap();
    let o = trainer()
        .env("HOME", empty.path())
        .env("XDG_CACHE_HOME", empty.path())
        .args(["train", "--dataset", "kmnist", "--data-dir"])
        .arg(empty.path())
        .args(["--out"])
        .arg(out.path().join("k"))
        .output()
        .unwrap();
    fails_with(
        &o,
        &[
            "Kuzushiji-MNIST not found",
            "(data folder): no dataset files",
            "--data-dir DIR, with DIR holding train-images-idx3-ubyte",
            "CONVLENS_OFFLINE",
        ],
    );
}

/// `dir` if it holds `file`; otherwise `None` with a note that the test is skipped — or a
/// failure when `CONVLENS_REQUIRE_DATA=1` (as CI sets it).
fn real_data(dir: PathBuf, file: &str, what: &str) -> Option<PathBuf> {
    if dir.join(file).is_file() {
        return Some(dir);
    }
    let message = format!("{what}: {} absent", dir.join(file).display());
    assert!(
        std::env::var("CONVLENS_REQUIRE_DATA").as_deref() != Ok("1"),
        "{message}, and CONVLENS_REQUIRE_DATA=1 requires it"
    );
    eprintln!("note: {message}; skipping (set CONVLENS_REQUIRE_DATA=1 to fail instead)");
    None
}

/// A short MNIST run (`../shared/data/mnist` beside the repository) evaluates on its files
/// wherever they lie: the content checksums in config.json decide, not the path.
#[test]
fn a_mnist_run_evaluates_on_a_copy_of_its_files() {
    let Some(mnist) = real_data(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist"),
        "train-images-idx3-ubyte.gz",
        "MNIST",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for r in convlens_data::Role::ALL {
        let name = format!("{}.gz", r.file_name());
        std::fs::copy(mnist.join(&name), copy.join(&name)).unwrap();
    }
    let run_dir = dir.path().join("run");
    let r = run_dir.display().to_string();
    let o = run(&[
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        &mnist.display().to_string(),
        "--epochs",
        "1",
        "--limit-train",
        "1000",
        "--limit-val",
        "200",
        "--out",
        &r,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c = copy.display().to_string();
    let o = run(&[
        "eval",
        "--run",
        &r,
        "--data-dir",
        &c,
        "--limit",
        "200",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: trainer::commands::EvalReport = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((report.images, report.dataset.as_str()), (200, "mnist"));
    // The training's validation pass saw the same 200 test images with the same weights.
    let history: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("history.json")).unwrap())
            .unwrap();
    assert_eq!(
        Some(report.accuracy),
        history[0]["val_accuracy"].as_f64(),
        "{history:?}"
    );
    assert!(
        stderr(&o).contains(&format!("from {c} (--data-dir")),
        "{}",
        stderr(&o)
    );
}
