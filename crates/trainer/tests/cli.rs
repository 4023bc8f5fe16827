//! The `trainer` binary end to end, on synthetic data: bad flags, reproducibility,
//! kill-and-resume, evaluation and figures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use convlens_data::synthetic::{write_synthetic, SyntheticConfig};

fn trainer() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.env("CONVLENS_OFFLINE", "1").env_remove("CONVLENS_DATA");
    c
}

fn run(args: &[&str]) -> Output {
    trainer()
        .args(args)
        .output()
        .expect("the trainer binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A synthetic dataset folder shared by the tests of this binary.
fn data(train: usize) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    write_synthetic(
        dir.path(),
        &SyntheticConfig {
            train,
            test: 200,
            ..Default::default()
        },
    )
    .unwrap();
    let id = format!("idx:{}", dir.path().display());
    (dir, id)
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
        &run(&["train", "--dataset", "cifar10", "--out", &o]),
        &["cifar10", "fashion-mnist"],
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
    for p in [&a, &b] {
        let o = train_run(&id, p, &[]);
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
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["images"], 100);
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "synthetic shapes are easy; accuracy {acc}");
    assert!(v["loss"].as_f64().unwrap() > 0.0);
    assert_eq!(v["per_class"].as_object().unwrap().len(), 10);
    let confusion: Vec<Vec<u64>> = serde_json::from_value(v["confusion"].clone()).unwrap();
    assert_eq!(confusion.iter().flatten().sum::<u64>(), 100);
    let diagonal: u64 = (0..10).map(|i| confusion[i][i]).sum();
    assert_eq!(diagonal as f64 / 100.0, acc);

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
    let stats: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(figures.join("activation_stats.json")).unwrap())
            .unwrap();
    assert_eq!(stats.len(), 12);
    let relu1 = stats.iter().find(|s| s["layer"] == "relu1").unwrap();
    let z = relu1["zero_fraction"].as_f64().unwrap();
    assert!(z > 0.0 && z < 1.0, "relu1 zero fraction {z}");
    assert_eq!(relu1["images"], 200);
    fails_with(
        &run(&["inspect", "--run", &r, "--layers", "fc9"]),
        &["--layers fc9"],
    );
}
