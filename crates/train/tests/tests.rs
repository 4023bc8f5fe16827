//! Tests of the training engine: optimizers against hand-computed PyTorch updates, config
//! validation, run folders, evaluation and divergence.

mod parity;

use std::path::Path;

use candle_core::{Device, Tensor, Var};
use convlens_data::synthetic::{write_synthetic, SyntheticConfig};
use convlens_data::{Dataset, DatasetId, Locator};
use convlens_model::Backend;

use convlens_train::{
    evaluate, predict, Divergence, Optimizer, OptimizerConfig, OptimizerKind, RunDir, Silent,
    TrainConfig, TrainError, Trainer,
};

fn var(values: &[f32]) -> Var {
    Var::from_slice(values, values.len(), &Device::Cpu).unwrap()
}

/// One step of `loss = sum(g ⊙ p)`, whose gradient is `g`.
fn step(opt: &mut Optimizer, p: &Var, g: &[f32]) {
    let g = Tensor::new(g, &Device::Cpu).unwrap();
    let loss = (p.as_tensor() * g).unwrap().sum_all().unwrap();
    opt.step(&loss.backward().unwrap()).unwrap();
}

fn values(p: &Var) -> Vec<f32> {
    p.as_tensor().to_vec1().unwrap()
}

fn close(a: &[f32], b: &[f64]) {
    for (x, y) in a.iter().zip(b) {
        assert!((f64::from(*x) - y).abs() < 1e-6, "{a:?} vs {b:?}");
    }
}

#[test]
fn sgd_with_momentum_and_weight_decay_follows_pytorch() {
    let p = var(&[1.0, -2.0]);
    let config = OptimizerConfig {
        lr: 0.1,
        momentum: 0.9,
        weight_decay: 0.01,
        ..OptimizerConfig::default()
    };
    let mut opt = Optimizer::new(config, vec![("w".into(), p.clone())]);
    // PyTorch: d = g + wd·p; buf = d (first step) then buf = m·buf + d; p -= lr·buf.
    let (mut w, mut buf) = ([1.0f64, -2.0], [0.0f64; 2]);
    for (k, g) in [[0.5f32, 1.0], [-1.0, 0.25], [2.0, 0.0]].iter().enumerate() {
        step(&mut opt, &p, g);
        for i in 0..2 {
            let d = f64::from(g[i]) + 0.01 * w[i];
            buf[i] = if k == 0 { d } else { 0.9 * buf[i] + d };
            w[i] -= 0.1 * buf[i];
        }
        close(&values(&p), &w);
    }
    assert_eq!(opt.steps(), 3);
}

#[test]
fn adam_and_adamw_follow_pytorch() {
    for kind in [OptimizerKind::Adam, OptimizerKind::Adamw] {
        let p = var(&[0.5, -1.5]);
        let config = OptimizerConfig {
            kind,
            lr: 0.01,
            weight_decay: 0.1,
            ..OptimizerConfig::default()
        };
        let mut opt = Optimizer::new(config, vec![("w".into(), p.clone())]);
        let (mut w, mut m, mut v) = ([0.5f64, -1.5], [0.0f64; 2], [0.0f64; 2]);
        for (t, g) in [[0.3f32, -0.2], [0.1, 0.4], [-0.5, 0.05]]
            .iter()
            .enumerate()
        {
            step(&mut opt, &p, g);
            let t = t as i32 + 1;
            for i in 0..2 {
                let mut grad = f64::from(g[i]);
                if kind == OptimizerKind::Adam {
                    grad += 0.1 * w[i];
                } else {
                    w[i] *= 1.0 - 0.01 * 0.1;
                }
                m[i] = 0.9 * m[i] + 0.1 * grad;
                v[i] = 0.999 * v[i] + 0.001 * grad * grad;
                let denom = v[i].sqrt() / (1.0 - 0.999f64.powi(t)).sqrt() + 1e-8;
                w[i] -= 0.01 / (1.0 - 0.9f64.powi(t)) * m[i] / denom;
            }
            close(&values(&p), &w);
        }
    }
}

#[test]
fn optimizer_state_round_trips() {
    let p = var(&[1.0, 2.0]);
    let q = var(&[1.0, 2.0]);
    let config = OptimizerConfig {
        kind: OptimizerKind::Adam,
        lr: 0.1,
        ..OptimizerConfig::default()
    };
    let mut a = Optimizer::new(config, vec![("w".into(), p.clone())]);
    step(&mut a, &p, &[0.3, -0.7]);
    let (state, steps) = a.state();
    assert_eq!(state.len(), 2, "exp_avg and exp_avg_sq");
    let mut b = Optimizer::new(config, vec![("w".into(), q.clone())]);
    q.set(p.as_tensor()).unwrap();
    b.restore(&state, steps);
    step(&mut a, &p, &[0.1, 0.2]);
    step(&mut b, &q, &[0.1, 0.2]);
    assert_eq!(values(&p), values(&q));
}

#[test]
fn config_validation_names_the_field() {
    let bad = [
        (
            TrainConfig {
                epochs: 0,
                ..Default::default()
            },
            "epochs 0",
        ),
        (
            TrainConfig {
                batch_size: 0,
                ..Default::default()
            },
            "batch_size 0",
        ),
        (
            TrainConfig {
                lr: -1.0,
                ..Default::default()
            },
            "lr -1",
        ),
        (
            TrainConfig {
                lr: f64::NAN,
                ..Default::default()
            },
            "lr NaN",
        ),
        (
            TrainConfig {
                momentum: 1.5,
                ..Default::default()
            },
            "momentum 1.5",
        ),
        (
            TrainConfig {
                weight_decay: -0.1,
                ..Default::default()
            },
            "weight_decay -0.1",
        ),
        (
            TrainConfig {
                limit_train: Some(0),
                ..Default::default()
            },
            "limit_train 0",
        ),
        (
            TrainConfig {
                optimizer: OptimizerKind::Adam,
                momentum: 0.9,
                ..Default::default()
            },
            "momentum 0.9",
        ),
    ];
    for (config, needle) in bad {
        let err = config.validate().unwrap_err().to_string();
        assert!(err.starts_with(needle), "{err}");
    }
    TrainConfig::default().validate().unwrap();
    let a = TrainConfig::default();
    let b = TrainConfig {
        epochs: 30,
        ..Default::default()
    };
    assert_eq!(a.first_difference(&b), None, "epochs may change on resume");
    let c = TrainConfig {
        batch_size: 64,
        ..Default::default()
    };
    assert_eq!(
        a.first_difference(&c),
        Some(("batch_size".into(), "16".into(), "64".into()))
    );
    let d = TrainConfig {
        backend: Backend::Candle,
        ..Default::default()
    };
    assert_eq!(
        a.first_difference(&d),
        Some(("backend".into(), "fast".into(), "candle".into()))
    );
    // Files are compared by content, not by path.
    let e = TrainConfig {
        dataset: "idx:/elsewhere".into(),
        init: Some("/elsewhere/w.safetensors".into()),
        ..Default::default()
    };
    assert_eq!(a.first_difference(&e), None);
}

fn synthetic(train: usize) -> (tempfile::TempDir, Dataset) {
    let dir = tempfile::tempdir().unwrap();
    write_synthetic(
        dir.path(),
        &SyntheticConfig {
            train,
            test: 100,
            ..Default::default()
        },
    )
    .unwrap();
    let data = Dataset::load(
        &DatasetId::Idx(dir.path().to_path_buf()),
        &Locator::default(),
    )
    .unwrap();
    (dir, data)
}

#[test]
fn an_update_that_makes_the_weights_non_finite_is_never_saved() {
    let (_d, data) = synthetic(300);
    let out = tempfile::tempdir().unwrap();
    let run = RunDir::open(&out.path().join("run"), false).unwrap();
    // One step per epoch, and a learning rate that overflows f32: the first update makes
    // the weights infinite although the loss before it was fine. Checking only the loss
    // would save that epoch.
    let config = TrainConfig {
        epochs: 2,
        lr: 1e40,
        limit_train: Some(16),
        ..Default::default()
    };
    let mut trainer = Trainer::new(config, &data, &Device::Cpu).unwrap();
    trainer.start_run(&run).unwrap();
    let err = trainer.fit(Some(&run), &mut Silent).unwrap_err();
    let TrainError::Diverged {
        epoch,
        step,
        cause,
        suggested_lr,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*epoch, *step), (1, 1), "{err}");
    assert!(matches!(cause, Divergence::Weights { .. }), "{err}");
    assert_eq!(*suggested_lr, 1e39);
    let text = err.to_string();
    assert!(
        text.contains("epoch 1, step 1") && text.contains("lr 1e39)"),
        "{text}"
    );
    for name in ["state.json", "model.safetensors", "history.json"] {
        assert!(
            !run.file(name).exists(),
            "{name} written for a diverged epoch"
        );
    }
    assert_eq!(
        std::fs::read_dir(run.file("checkpoint")).unwrap().count(),
        0,
        "no checkpoint of a diverged epoch"
    );
}

#[test]
fn a_run_with_no_finished_epoch_resumes_from_its_start() {
    let (_d, data) = synthetic(200);
    let out = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        epochs: 2,
        lr: 0.05,
        momentum: 0.9,
        limit_train: Some(64),
        ..Default::default()
    };
    let whole = RunDir::open(&out.path().join("whole"), false).unwrap();
    let mut trainer = Trainer::new(config.clone(), &data, &Device::Cpu).unwrap();
    trainer.start_run(&whole).unwrap();
    trainer.fit(Some(&whole), &mut Silent).unwrap();

    // What a process killed during epoch 1 leaves: config.json and no state.
    let path = out.path().join("killed");
    let killed = RunDir::open(&path, false).unwrap();
    Trainer::new(config.clone(), &data, &Device::Cpu)
        .unwrap()
        .start_run(&killed)
        .unwrap();
    let killed = RunDir::open(&path, true).unwrap();
    let mut trainer = Trainer::new(config, &data, &Device::Cpu).unwrap();
    trainer.resume(&killed).unwrap();
    assert!(trainer.history().is_empty());
    trainer.fit(Some(&killed), &mut Silent).unwrap();
    for name in ["model.safetensors", "config.json"] {
        assert_eq!(
            std::fs::read(whole.file(name)).unwrap(),
            std::fs::read(killed.file(name)).unwrap(),
            "{name}"
        );
    }
    let strip = |run: &RunDir| {
        run.read_history()
            .unwrap()
            .into_iter()
            .map(|r| (r.train_loss, r.val_loss, r.val_correct))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&whole).len(), 2);
    assert_eq!(strip(&whole), strip(&killed));
    // Once an epoch is saved, the folder holds a run that a new one may not replace.
    assert!(matches!(
        RunDir::open(&path, false),
        Err(TrainError::RunExists(_))
    ));
}

#[test]
fn a_folder_whose_run_finished_no_epoch_takes_a_new_run() {
    let (_d, data) = synthetic(100);
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("run");
    // A run diverged in its first epoch: config.json, and nothing worth keeping.
    let diverging = TrainConfig {
        epochs: 1,
        lr: 1e40,
        limit_train: Some(16),
        ..Default::default()
    };
    let run = RunDir::open(&path, false).unwrap();
    let mut trainer = Trainer::new(diverging, &data, &Device::Cpu).unwrap();
    trainer.start_run(&run).unwrap();
    assert!(trainer.fit(Some(&run), &mut Silent).is_err());
    // A checkpoint an interrupted save left behind goes too.
    let stale = run.file("checkpoint/epoch-0001-model.safetensors");
    std::fs::write(&stale, b"x").unwrap();

    let good = TrainConfig {
        epochs: 1,
        lr: 0.05,
        limit_train: Some(16),
        ..Default::default()
    };
    let run = RunDir::open(&path, false).unwrap();
    assert!(!stale.exists());
    let mut trainer = Trainer::new(good.clone(), &data, &Device::Cpu).unwrap();
    trainer.start_run(&run).unwrap();
    trainer.fit(Some(&run), &mut Silent).unwrap();
    assert_eq!(run.read_config().unwrap().config, good);
    assert_eq!(run.read_history().unwrap().len(), 1);
}

/// A copy of the files of a folder in another one.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn resume_compares_the_backend_and_the_content_of_files_not_their_paths() {
    let (d, data) = synthetic(100);
    let out = tempfile::tempdir().unwrap();
    let init = out.path().join("init.safetensors");
    convlens_model::Network::new(Default::default(), 3, &Device::Cpu)
        .unwrap()
        .save(&init)
        .unwrap();
    let config = TrainConfig {
        epochs: 1,
        limit_train: Some(32),
        init: Some(init.clone()),
        ..Default::default()
    };
    let run = RunDir::open(&out.path().join("run"), false).unwrap();
    let mut trainer = Trainer::new(config.clone(), &data, &Device::Cpu).unwrap();
    trainer.start_run(&run).unwrap();
    trainer.fit(Some(&run), &mut Silent).unwrap();
    let saved = run.read_config().unwrap();
    assert_eq!(saved.config.backend, Backend::Fast);
    assert_eq!(saved.init_md5.as_deref().map(str::len), Some(32));

    // The closure returns the library's own error type as it is.
    #[allow(clippy::result_large_err)]
    let resume = |config: TrainConfig, data: &Dataset| {
        let mut trainer = Trainer::new(config, data, &Device::Cpu).unwrap();
        trainer.resume(&RunDir::open(run.path(), true).unwrap())
    };
    let field = |r: convlens_train::Result<()>| match r {
        Err(TrainError::ResumeMismatch { field, .. }) => field,
        other => panic!("expected a mismatch, got {other:?}"),
    };
    let candle = TrainConfig {
        backend: Backend::Candle,
        ..config.clone()
    };
    assert_eq!(field(resume(candle, &data)), "backend");

    // The same weights and the same data found elsewhere are the same run.
    let moved_init = out.path().join("moved.safetensors");
    std::fs::copy(&init, &moved_init).unwrap();
    let moved_data = out.path().join("data");
    copy_dir(d.path(), &moved_data);
    let moved = Dataset::load(&DatasetId::Idx(moved_data.clone()), &Locator::default()).unwrap();
    let elsewhere = TrainConfig {
        init: Some(moved_init.clone()),
        dataset: format!("idx:{}", moved_data.display()),
        ..config.clone()
    };
    resume(elsewhere, &moved).unwrap();

    // Other weights at the same path are not.
    convlens_model::Network::new(Default::default(), 4, &Device::Cpu)
        .unwrap()
        .save(&init)
        .unwrap();
    let err = resume(config.clone(), &data);
    assert!(format!("{err:?}").contains("init.safetensors"), "{err:?}");
    assert_eq!(field(err), "init");
    let no_init = TrainConfig {
        init: None,
        ..config.clone()
    };
    assert_eq!(field(resume(no_init, &data)), "init");

    // Other data is not the same run either.
    let (_other, other_data) = synthetic(120);
    let other = TrainConfig {
        init: Some(moved_init),
        ..config
    };
    assert_eq!(field(resume(other, &other_data)), "dataset");
}

#[test]
fn checkpoints_hold_the_bytes_network_save_writes() {
    let dir = tempfile::tempdir().unwrap();
    let net = convlens_model::Network::new(Default::default(), 9, &Device::Cpu).unwrap();
    let path = dir.path().join("w.safetensors");
    net.save(&path).unwrap();
    assert_eq!(
        net.safetensors_bytes().unwrap(),
        std::fs::read(&path).unwrap()
    );
}

#[test]
fn opening_a_run_removes_the_temporary_files_of_interrupted_writes() {
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("run");
    std::fs::create_dir_all(path.join("checkpoint")).unwrap();
    let stale = [
        path.join(".config.json.a1B2c3"),
        path.join(".state.json.zzzzzz"),
        path.join("checkpoint/.epoch-0002-model.safetensors.Q9q9Q9"),
    ];
    let kept = [
        path.join(".hidden"),
        path.join(".notes.txt.abcdef"),
        path.join("checkpoint/.epoch-0002-model.safetensors.toolong1"),
    ];
    for p in stale.iter().chain(&kept) {
        std::fs::write(p, b"x").unwrap();
    }
    RunDir::open(&path, false).unwrap();
    for p in &stale {
        assert!(!p.exists(), "{} left", p.display());
    }
    for p in &kept {
        assert!(p.exists(), "{} removed", p.display());
    }
}

#[test]
fn evaluation_agrees_with_predictions_counted_by_hand() {
    let (_d, data) = synthetic(1000);
    let config = TrainConfig {
        epochs: 2,
        ..Default::default()
    };
    let mut trainer = Trainer::new(config, &data, &Device::Cpu).unwrap();
    trainer.fit(None, &mut Silent).unwrap();
    let e = evaluate(trainer.network(), &data.test, 10, &Device::Cpu).unwrap();
    let predictions = predict(trainer.network(), &data.test, &Device::Cpu).unwrap();
    let labels = data.test.labels();
    assert_eq!(predictions.len(), labels.len());
    let mut confusion = vec![vec![0u64; 10]; 10];
    let mut total = vec![0u64; 10];
    let mut loss = 0.0f64;
    for (p, &label) in predictions.iter().zip(labels) {
        let label = usize::from(label);
        confusion[label][p.class] += 1;
        total[label] += 1;
        loss -= f64::from(p.probabilities[label]).ln();
    }
    let right = predictions
        .iter()
        .zip(labels)
        .filter(|(p, &l)| p.class == usize::from(l))
        .count();
    let n = labels.len() as f64;
    assert_eq!(e.images, labels.len());
    assert_eq!(e.confusion, confusion);
    assert_eq!(e.total, total);
    assert_eq!(e.accuracy, right as f64 / n);
    assert!(
        (e.loss - loss / n).abs() < 1e-4,
        "{} vs {}",
        e.loss,
        loss / n
    );
    for c in 0..10 {
        let by_hand = if total[c] == 0 {
            0.0
        } else {
            confusion[c][c] as f64 / total[c] as f64
        };
        assert_eq!(e.per_class[c], by_hand, "class {c}");
    }
    // Counts worth comparing: right and wrong answers, spread over several classes.
    assert!(right > 0 && right < labels.len(), "{right} right");
    let predicted: std::collections::BTreeSet<usize> =
        predictions.iter().map(|p| p.class).collect();
    assert!(predicted.len() >= 3, "predicted classes {predicted:?}");
}

/// Per-epoch training and validation losses of a short run on `backend`.
fn loss_curve(data: &Dataset, backend: Backend, seed: u64) -> Vec<(f64, f64)> {
    let config = TrainConfig {
        epochs: 3,
        seed,
        // Momentum, so that three short epochs move the loss away from chance.
        momentum: 0.9,
        lr: 0.02,
        backend,
        ..Default::default()
    };
    let mut trainer = Trainer::new(config, data, &Device::Cpu).unwrap();
    assert_eq!(trainer.network().backend(), backend);
    trainer.fit(None, &mut Silent).unwrap();
    trainer
        .history()
        .iter()
        .map(|r| (r.train_loss, r.val_loss))
        .collect()
}

#[test]
fn fast_and_candle_backends_give_matching_loss_curves() {
    let (_d, data) = synthetic(320);
    let fast = loss_curve(&data, Backend::Fast, 5);
    let candle = loss_curve(&data, Backend::Candle, 5);
    let other_seed = loss_curve(&data, Backend::Fast, 6);
    let rel = |a: f64, b: f64| (a - b).abs() / a.abs().max(b.abs());
    for (epoch, (f, c)) in fast.iter().zip(&candle).enumerate() {
        assert!(
            rel(f.0, c.0) < 1e-3 && rel(f.1, c.1) < 1e-3,
            "epoch {}: fast {f:?}, candle {c:?}",
            epoch + 1
        );
    }
    // The tolerance tells runs apart: another seed's curve is far outside it.
    let last = fast.len() - 1;
    assert!(rel(fast[last].0, other_seed[last].0) > 1e-2);
    // And the curves compared are of a run that learns: the training loss falls.
    assert!(fast[last].0 < fast[0].0 - 0.03, "{fast:?}");
}

#[test]
fn readers_load_the_weights_of_the_committed_epoch() {
    let (_d, data) = synthetic(100);
    let out = tempfile::tempdir().unwrap();
    let run = RunDir::open(&out.path().join("run"), false).unwrap();
    let config = TrainConfig {
        epochs: 2,
        limit_train: Some(32),
        ..Default::default()
    };
    let mut trainer = Trainer::new(config, &data, &Device::Cpu).unwrap();
    trainer.start_run(&run).unwrap();
    trainer.fit(Some(&run), &mut Silent).unwrap();
    let reader = RunDir::existing(run.path()).unwrap();
    let model = trainer.network().config();
    let loaded = reader.load_network(model, &Device::Cpu).unwrap();
    let published = std::fs::read(run.file("model.safetensors")).unwrap();
    assert_eq!(loaded.safetensors_bytes().unwrap(), published);
    assert_eq!(reader.read_history().unwrap(), trainer.history());
    // A published file lagging behind the state (a process died while publishing) is not
    // what readers get.
    std::fs::write(run.file("model.safetensors"), b"stale").unwrap();
    std::fs::write(run.file("history.json"), b"[]").unwrap();
    let loaded = reader.load_network(model, &Device::Cpu).unwrap();
    assert_eq!(loaded.safetensors_bytes().unwrap(), published);
    assert_eq!(reader.read_history().unwrap().len(), 2);
    // A checkpoint gone for good is an error naming it, not a loop.
    let checkpoint = reader.model_file().unwrap();
    std::fs::remove_file(&checkpoint).unwrap();
    let err = reader.load_network(model, &Device::Cpu).unwrap_err();
    assert!(
        err.to_string().contains("epoch-0002-model.safetensors"),
        "{err}"
    );
}
