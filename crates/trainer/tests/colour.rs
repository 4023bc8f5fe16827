//! Colour and other-size datasets end to end: synthetic files in torchvision's layouts,
//! trained, evaluated and drawn by the `trainer` binary.

use std::path::Path;
use std::process::Output;

use crate::support::{stderr, trainer};
use convlens_data::formats::mat::{write_mat, MatArray};
use convlens_data::formats::{cifar, imagefolder, usps};
use convlens_data::synthetic::{generate, SHAPE_NAMES};
use convlens_data::synthetic_colour::colour_dataset;
use convlens_data::synthetic_formats::{write_synthetic_format, SyntheticFormat};
use convlens_data::Split;

fn run(args: &[&str]) -> Output {
    trainer()
        .args(args)
        .output()
        .expect("the trainer binary runs")
}

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

fn names() -> Vec<String> {
    SHAPE_NAMES.iter().map(|s| s.to_string()).collect()
}

/// Synthetic colour shapes as torchvision's CIFAR-10 folder under `root`.
fn write_cifar10(root: &Path, train: usize, test: usize) {
    let (tr, te) = colour_dataset(train, test, 32, 7).unwrap();
    cifar::write_cifar10_python(&root.join("cifar-10-batches-py"), &tr, &te, &names()).unwrap();
}

/// Grayscale shapes at 16×16 as torchvision's USPS files under `root`.
fn write_usps(root: &Path) {
    let split = |n: usize, seed: u64| {
        let (images, labels) = generate(n, 16, seed);
        Split::new(images.pixels, labels, [1, 16, 16]).unwrap()
    };
    usps::write_usps(root, &split(300, 1), &split(60, 2)).unwrap();
}

#[test]
fn summary_adapts_to_colour_32_by_32() {
    let o = run(&["summary", "--in-channels", "3", "--input-size", "32"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(text.contains("91,840"), "{text}");
    let fc1 = text.lines().find(|l| l.contains("fc1 (Linear)")).unwrap();
    assert!(
        fc1.contains("26,460"),
        "fc1 has 440 × 60 + 60 parameters: {fc1}"
    );
    let flatten = text.lines().find(|l| l.contains("flatten")).unwrap();
    assert!(flatten.contains("[-1, 440]"), "{flatten}");
}

#[test]
fn a_cifar10_folder_trains_evaluates_and_draws_in_colour() {
    let root = tempfile::tempdir().unwrap();
    write_cifar10(root.path(), 3000, 100);
    let data_dir = root.path().display().to_string();
    let out = root.path().join("run");
    let out_s = out.display().to_string();
    let args = [
        "train",
        "--dataset",
        "cifar10",
        "--data-dir",
        &data_dir,
        "--epochs",
        "4",
        "--batch-size",
        "16",
        "--out",
        &out_s,
    ];
    // Synthetic files are not the published ones: refused, naming the flag that allows them.
    fails_with(&run(&args), &["data_batch_1", "--unverified"]);
    assert!(!out.join("config.json").exists());

    let mut with = args.to_vec();
    with.push("--unverified");
    let o = run(&with);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--unverified"), "{}", stderr(&o));
    // The log says which convolutions leave the course network's fastest kernels.
    assert!(
        stderr(&o).contains("note: conv1 runs im2col + gemm on 3×32×32 input"),
        "{}",
        stderr(&o)
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["config"]["unverified"], true);
    assert_eq!(config["model"]["in_channels"], 3);
    assert_eq!(config["model"]["input_size"], 32);
    assert_eq!(config["dataset"]["files"].as_array().unwrap().len(), 7);
    let history: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("history.json")).unwrap()).unwrap();
    let accuracy = history[3]["val_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.2, "colour shapes are learnable: {accuracy}");

    // Resuming without the flag that the run was started with is refused by name.
    let o = run(&args[..]
        .iter()
        .copied()
        .chain(["--resume"])
        .collect::<Vec<_>>());
    fails_with(&o, &["--unverified"]);

    let o = run(&["eval", "--run", &out_s, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["images"], 100);

    // The adapted network's weights start another run (--init), and evaluate as they were.
    let weights = out.join("model.safetensors").display().to_string();
    let second = root.path().join("second").display().to_string();
    let o = run(&[
        "train",
        "--dataset",
        "cifar10",
        "--data-dir",
        &data_dir,
        "--unverified",
        "--epochs",
        "1",
        "--init",
        &weights,
        "--out",
        &second,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let started: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(Path::new(&second).join("history.json")).unwrap())
            .unwrap();
    let loss = |h: &serde_json::Value| h["train_loss"].as_f64().unwrap();
    assert!(
        loss(&started[0]) < loss(&history[0]),
        "a run from the trained weights starts where the first left off: {} vs {}",
        loss(&started[0]),
        loss(&history[0])
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(&second).join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["init_md5"].as_str().map(str::len), Some(32));
    // Weights of another shape (the 1-channel MNIST network) are refused naming the tensor.
    let (_d, mnist_like) = crate::support::synthetic_data(200, 50);
    let gray = root.path().join("gray").display().to_string();
    let o = run(&[
        "train",
        "--dataset",
        &mnist_like,
        "--epochs",
        "1",
        "--out",
        &gray,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let gray_weights = Path::new(&gray)
        .join("model.safetensors")
        .display()
        .to_string();
    let third = root.path().join("third").display().to_string();
    fails_with(
        &run(&[
            "train",
            "--dataset",
            "cifar10",
            "--data-dir",
            &data_dir,
            "--unverified",
            "--init",
            &gray_weights,
            "--out",
            &third,
        ]),
        &["conv1.weight", "[3, 1, 3, 3]", "[3, 3, 3, 3]"],
    );

    let figures = root.path().join("figures");
    let o = run(&[
        "inspect",
        "--run",
        &out_s,
        "--images",
        "4",
        "--out",
        &figures.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in [
        "samples.png",
        "filters_conv1.png",
        "feature_maps.png",
        "saliency.png",
        "confusion.png",
        "classifier.png",
    ] {
        let bytes = std::fs::read(figures.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
    }
}

#[test]
fn usps_16_by_16_needs_resize_and_trains_with_it() {
    let root = tempfile::tempdir().unwrap();
    write_usps(root.path());
    let data_dir = root.path().display().to_string();
    let out = root.path().join("run").display().to_string();
    let base = [
        "train",
        "--dataset",
        "usps",
        "--data-dir",
        &data_dir,
        "--unverified",
        "--epochs",
        "1",
        "--out",
        &out,
    ];
    fails_with(
        &run(&base),
        &[
            "conv3",
            "smallest input size that works is 28",
            "--resize 28",
        ],
    );
    let mut resized = base.to_vec();
    resized.extend(["--resize", "28"]);
    let o = run(&resized);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("resized from 16×16 to 28×28"),
        "{}",
        stderr(&o)
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(&out).join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["config"]["resize"], 28);
    assert_eq!(config["model"]["input_size"], 28);
}

#[test]
fn an_image_folder_without_a_test_split_needs_holdout() {
    let root = tempfile::tempdir().unwrap();
    let (train, _) = colour_dataset(200, 1, 32, 3).unwrap();
    imagefolder::write_image_folder(
        root.path(),
        &train,
        None,
        &names(),
        imagefolder::ImageFormat::Png,
    )
    .unwrap();
    std::fs::write(root.path().join("train/disc/notes.txt"), "not an image").unwrap();
    let dataset = format!("imagefolder:{}", root.path().display());
    let out = root.path().join("run").display().to_string();
    let base = [
        "train",
        "--dataset",
        &dataset,
        "--epochs",
        "1",
        "--out",
        &out,
    ];
    fails_with(&run(&base), &["--holdout"]);
    let mut with = base.to_vec();
    with.extend(["--holdout", "40"]);
    let o = run(&with);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("notes.txt"),
        "the skipped file is named: {}",
        stderr(&o)
    );
    let o = run(&["eval", "--run", &out, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["images"], 40);
}

/// Writes `format`'s synthetic files under a fresh folder, lets `break_it` damage them, and
/// runs `trainer train` on them: it must exit with code 2 and one error naming every
/// needle, and leave no run behind.
fn refused(
    format: SyntheticFormat,
    break_it: impl FnOnce(&Path),
    extra: &[&str],
    needles: &[&str],
) {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let written = write_synthetic_format(&data, format, 20, 10, 0).unwrap();
    break_it(&data);
    let out = root.path().join("run");
    let mut args = vec!["train".to_string(), "--epochs".into(), "1".into()];
    args.extend(trainer::commands::synthetic_train_flags(&written));
    args.extend(["--out".to_string(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = trainer().args(&args).output().unwrap();
    fails_with(&o, needles);
    assert_eq!(
        stderr(&o).trim_end().lines().count(),
        1,
        "one line: {}",
        stderr(&o)
    );
    assert!(
        !out.join("config.json").exists(),
        "{format:?}: a run was started"
    );
}

#[test]
fn broken_files_of_every_layout_are_refused_naming_the_file() {
    // A pickle that would run a shell command: refused, never run.
    let marker = std::env::temp_dir().join(format!("convlens-pwned-{}", std::process::id()));
    let command = format!("touch {}", marker.display());
    refused(
        SyntheticFormat::Cifar10Python,
        |d| {
            let mut evil = b"\x80\x02cos\nsystem\nq\x00X".to_vec();
            evil.extend((command.len() as u32).to_le_bytes());
            evil.extend(command.as_bytes());
            evil.extend(b"q\x01\x85q\x02Rq\x03.");
            std::fs::write(d.join("cifar-10-batches-py/data_batch_1"), evil).unwrap();
        },
        &[],
        &["data_batch_1", "os.system"],
    );
    assert!(!marker.exists(), "the pickle's command ran");
    // A pickle with an opcode these files never use (PERSID).
    refused(
        SyntheticFormat::Cifar10Python,
        |d| std::fs::write(d.join("cifar-10-batches-py/test_batch"), b"\x80\x02P0\n.").unwrap(),
        &[],
        &["test_batch"],
    );
    // A truncated STL-10 image file.
    refused(
        SyntheticFormat::Stl10,
        |d| {
            let path = d.join("stl10_binary/train_X.bin");
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
        },
        &[],
        &["train_X.bin"],
    );
    // A MATLAB file without X.
    refused(
        SyntheticFormat::Svhn,
        |d| {
            let y = MatArray::uint8("y", &[3, 1], vec![1, 2, 3]).unwrap();
            write_mat(&d.join("train_32x32.mat"), &[y], true).unwrap();
        },
        &[],
        &["train_32x32.mat", "X"],
    );
    // A libsvm line that is not `label index:value …`.
    refused(
        SyntheticFormat::Usps,
        |d| std::fs::write(d.join("usps.t.bz2"), usps::bzip2(b"3 1:0.5 2:oops\n")).unwrap(),
        &["--resize", "28"],
        &["usps.t.bz2", "line 1"],
    );
    // Labels out of range in a CIFAR-10 binary file (label byte 10 of 0..=9).
    refused(
        SyntheticFormat::Cifar10Binary,
        |d| {
            let path = d.join("cifar-10-batches-bin/test_batch.bin");
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[0] = 10;
            std::fs::write(&path, bytes).unwrap();
        },
        &[],
        &["test_batch.bin", "10"],
    );
    // An image folder: a corrupt PNG, an empty class folder, images of two sizes.
    let png = SyntheticFormat::ImageFolder(imagefolder::ImageFormat::Png);
    let first_png = |d: &Path| {
        let class = d.join("train/disc");
        let mut files: Vec<_> = std::fs::read_dir(&class)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files.remove(0)
    };
    refused(
        png,
        |d| std::fs::write(first_png(d), b"\x89PNG\r\n\x1a\n broken").unwrap(),
        &[],
        &["train/disc", ".png"],
    );
    refused(
        png,
        |d| {
            std::fs::create_dir(d.join("train/zigzag")).unwrap();
            std::fs::create_dir(d.join("test/zigzag")).unwrap();
        },
        &[],
        &["zigzag"],
    );
    refused(
        png,
        |d| {
            let (big, _) = colour_dataset(60, 1, 40, 9).unwrap();
            let dir = tempfile::tempdir().unwrap();
            imagefolder::write_image_folder(
                dir.path(),
                &big,
                None,
                &names(),
                imagefolder::ImageFormat::Png,
            )
            .unwrap();
            std::fs::copy(first_png(dir.path()), first_png(d)).unwrap();
        },
        &[],
        &["resize"],
    );
}

#[test]
fn cifar100_trains_and_draws_with_fine_and_coarse_labels() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let written =
        write_synthetic_format(&data, SyntheticFormat::Cifar100Python, 300, 200, 0).unwrap();
    for (labels, classes) in [("fine", 100), ("coarse", 20)] {
        let out = root.path().join(labels);
        let mut args = vec!["train".to_string(), "--epochs".into(), "1".into()];
        args.extend(trainer::commands::synthetic_train_flags(&written));
        args.extend(["--labels".into(), labels.into(), "--out".into()]);
        args.push(out.display().to_string());
        let o = trainer().args(&args).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["model"]["classes"], classes, "{labels}");
        let figures = out.join("figures");
        let o = run(&[
            "inspect",
            "--run",
            &out.display().to_string(),
            "--images",
            "3",
            "--out",
            &figures.display().to_string(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let evaluation: serde_json::Value =
            serde_json::from_slice(&std::fs::read(figures.join("evaluation.json")).unwrap())
                .unwrap();
        assert_eq!(evaluation["class_names"].as_array().unwrap().len(), classes);
        for name in ["confusion.png", "classifier.png"] {
            let bytes = std::fs::read(figures.join(name)).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
        }
    }
}
