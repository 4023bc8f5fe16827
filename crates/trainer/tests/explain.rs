//! `trainer explain`: the files it writes, that it writes them the same way twice, and its
//! errors.

use std::path::Path;

use convlens_explain::ExplainReport;

use crate::support::{stderr, synthetic_data, trainer};

fn run(args: &[&str]) -> std::process::Output {
    trainer().args(args).output().unwrap()
}

/// A one-epoch run on synthetic shapes.
fn trained_run(dir: &Path, id: &str) -> String {
    let run_dir = dir.join("run").display().to_string();
    let o = run(&["train", "--dataset", id, "--epochs", "1", "--out", &run_dir]);
    assert!(o.status.success(), "{}", stderr(&o));
    run_dir
}

fn report_without_seconds(path: &Path) -> ExplainReport {
    let mut report: ExplainReport = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for m in &mut report.methods {
        m.seconds = 0.0;
    }
    report
}

#[test]
fn explain_writes_maps_numbers_and_figures_the_same_way_twice() {
    let (_d, id) = synthetic_data(1000, 100);
    let dir = tempfile::tempdir().unwrap();
    let r = trained_run(dir.path(), &id);
    let explain = |out: &str| {
        run(&[
            "explain",
            "--run",
            &r,
            "--images",
            "4",
            "--eval-images",
            "30",
            "--methods",
            "saliency,ig,gradcam,occlusion",
            "--out",
            out,
        ])
    };
    let first = dir.path().join("first");
    let o = explain(&first.display().to_string());
    assert!(o.status.success(), "{}", stderr(&o));
    for name in [
        "attributions.safetensors",
        "explain.json",
        "explain.png",
        "faithfulness.png",
    ] {
        assert!(first.join(name).is_file(), "{name} missing");
    }
    let tensors = candle_core::safetensors::load(
        first.join("attributions.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let mut names: Vec<&str> = tensors.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "gradcam",
            "gradcam_raw",
            "ig",
            "indices",
            "occlusion",
            "saliency"
        ]
    );
    assert_eq!(tensors["saliency"].dims(), [4, 28, 28]);
    assert_eq!(tensors["gradcam_raw"].dims(), [4, 12, 12]);
    assert_eq!(tensors["indices"].to_vec1::<i64>().unwrap(), [0, 1, 2, 3]);

    let report = report_without_seconds(&first.join("explain.json"));
    assert_eq!((report.images, report.eval_images), (4, 30));
    assert_eq!(
        (report.layer.as_str(), report.target.as_str()),
        ("relu2", "predicted")
    );
    let names: Vec<&str> = report.methods.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["saliency", "ig", "gradcam", "occlusion"]);
    for m in &report.methods {
        assert_eq!(m.sanity.steps.len(), 5, "{}", m.name);
        assert_eq!(m.sanity.images, 30);
        let (d, i) = (m.faithfulness.deletion_auc, m.faithfulness.insertion_auc);
        assert!((0.0..=1.0).contains(&d.mean) && (0.0..=1.0).contains(&i.mean));
        assert!(d.standard_error > 0.0, "{}", m.name);
        assert_eq!(m.completeness_error.is_some(), m.name == "ig");
    }
    assert!(report.random.deletion_curve.len() == 29);

    // Everything but the seconds is a function of the run.
    let second = dir.path().join("second");
    let o = explain(&second.display().to_string());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(report, report_without_seconds(&second.join("explain.json")));
    assert_eq!(
        std::fs::read(first.join("attributions.safetensors")).unwrap(),
        std::fs::read(second.join("attributions.safetensors")).unwrap()
    );

    // The default folder is RUN/explain, and --target true explains the labels.
    let o = run(&[
        "explain",
        "--run",
        &r,
        "--images",
        "2",
        "--eval-images",
        "5",
        "--methods",
        "inputxgrad",
        "--target",
        "true",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = report_without_seconds(&Path::new(&r).join("explain/explain.json"));
    assert_eq!(report.target, "true");

    // Bad flags: exit 2, one line naming the flag and the value.
    for (args, expected) in [
        (
            vec!["--methods", "saliency,lime"],
            "--methods lime: unknown method",
        ),
        (
            vec!["--layer", "conv9"],
            "--layer conv9: unknown layer 'conv9'",
        ),
        (
            vec!["--layer", "relu3"],
            "--layer relu3: layer 'relu3' has no spatial extent",
        ),
        (
            vec!["--layer", "conv3"],
            "so a class activation map there is uniform",
        ),
        (vec!["--images", "0"], "--images 0: must be at least 1"),
        (
            vec!["--eval-images", "0"],
            "--eval-images 0: must be at least 1",
        ),
        (
            vec!["--target", "giraffe"],
            "--target giraffe: expected predicted, true",
        ),
    ] {
        let mut all = vec!["explain", "--run", &r];
        all.extend(args.iter().copied());
        let o = run(&all);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        // One error line, the last (the dataset notes come before it).
        let last = e.trim_end().lines().last().unwrap_or("");
        assert!(
            last.starts_with("error: ") && last.contains(expected),
            "{args:?}: {e}"
        );
        assert_eq!(e.matches("error").count(), 1, "{e}");
    }
    let not_a_run = dir.path().join("first").display().to_string();
    let o = run(&["explain", "--run", &not_a_run]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.starts_with(&format!("error: --run {not_a_run}")), "{e}");
}
