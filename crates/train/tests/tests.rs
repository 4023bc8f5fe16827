//! Tests of the training engine: optimizers against hand-computed PyTorch updates, config
//! validation, run folders, evaluation and divergence.

use candle_core::{Device, Tensor, Var};
use convlens_data::synthetic::{write_synthetic, SyntheticConfig};
use convlens_data::{Dataset, DatasetId, Locator};
use convlens_model::Backend;
use convlens_train::{
    evaluate, Optimizer, OptimizerConfig, OptimizerKind, RunDir, Silent, TrainConfig, TrainError,
    Trainer,
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
fn config_validation_names_the_flag() {
    let bad = [
        (
            TrainConfig {
                epochs: 0,
                ..Default::default()
            },
            "--epochs 0",
        ),
        (
            TrainConfig {
                batch_size: 0,
                ..Default::default()
            },
            "--batch-size 0",
        ),
        (
            TrainConfig {
                lr: -1.0,
                ..Default::default()
            },
            "--lr -1",
        ),
        (
            TrainConfig {
                lr: f64::NAN,
                ..Default::default()
            },
            "--lr NaN",
        ),
        (
            TrainConfig {
                momentum: 1.5,
                ..Default::default()
            },
            "--momentum 1.5",
        ),
        (
            TrainConfig {
                weight_decay: -0.1,
                ..Default::default()
            },
            "--weight-decay -0.1",
        ),
        (
            TrainConfig {
                limit_train: Some(0),
                ..Default::default()
            },
            "--limit-train 0",
        ),
        (
            TrainConfig {
                optimizer: OptimizerKind::Adam,
                momentum: 0.9,
                ..Default::default()
            },
            "--momentum 0.9",
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
        Some(("--batch-size".into(), "16".into(), "64".into()))
    );
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
fn a_diverging_run_stops_naming_epoch_and_step_and_keeps_the_last_good_epoch() {
    let (_d, data) = synthetic(300);
    let out = tempfile::tempdir().unwrap();
    let run = RunDir::open(&out.path().join("run"), false).unwrap();
    let config = TrainConfig {
        epochs: 1,
        lr: 0.05,
        ..Default::default()
    };
    let mut trainer = Trainer::new(config.clone(), &data, &Device::Cpu).unwrap();
    trainer.start_run(&run).unwrap();
    trainer.fit(Some(&run), &mut Silent).unwrap();
    let good = std::fs::read(run.file("model.safetensors")).unwrap();
    // Resume for more epochs at an absurd learning rate: the loss explodes.
    let config = TrainConfig {
        epochs: 3,
        lr: 1e6,
        ..config
    };
    let mut trainer = Trainer::new(config, &data, &Device::Cpu).unwrap();
    let err = match trainer.resume(&run) {
        Err(e) => e,
        Ok(()) => panic!("a different --lr must not resume"),
    };
    assert!(matches!(err, TrainError::ResumeMismatch { .. }), "{err}");
    let fresh = RunDir::open(&out.path().join("run2"), false).unwrap();
    let mut trainer = Trainer::new(
        TrainConfig {
            epochs: 2,
            lr: 1e6,
            ..Default::default()
        },
        &data,
        &Device::Cpu,
    )
    .unwrap();
    trainer.start_run(&fresh).unwrap();
    let err = trainer.fit(Some(&fresh), &mut Silent).unwrap_err();
    let TrainError::Diverged { epoch, step, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(epoch, 1);
    assert!(step >= 1);
    let text = TrainError::Diverged {
        epoch,
        step,
        loss: f32::NAN,
        suggested_lr: 1e5,
    }
    .to_string();
    assert!(text.contains("epoch 1") && text.contains("--lr"), "{text}");
    assert!(
        !fresh.file("model.safetensors").exists(),
        "no epoch finished, no weights published"
    );
    assert_eq!(std::fs::read(run.file("model.safetensors")).unwrap(), good);
}

#[test]
fn evaluation_counts_add_up() {
    let (_d, data) = synthetic(100);
    let trainer = Trainer::new(TrainConfig::default(), &data, &Device::Cpu).unwrap();
    let e = evaluate(trainer.network(), &data.test, 10, &Device::Cpu).unwrap();
    assert_eq!(e.images, 100);
    assert_eq!(e.confusion.iter().flatten().sum::<u64>(), 100);
    assert_eq!(e.total.iter().sum::<u64>(), 100);
    let correct: u64 = (0..10).map(|i| e.confusion[i][i]).sum();
    assert!((e.accuracy - correct as f64 / 100.0).abs() < 1e-12);
    // An untrained network is near chance: loss about ln 10.
    assert!((e.loss - 10f64.ln()).abs() < 0.5, "{}", e.loss);
}

/// Per-epoch training and validation losses of a short run on `backend`.
fn loss_curve(data: &Dataset, backend: Backend, seed: u64) -> Vec<(f64, f64)> {
    let config = TrainConfig {
        epochs: 3,
        seed,
        // Momentum, so that three short epochs move the loss away from chance.
        momentum: 0.9,
        lr: 0.02,
        ..Default::default()
    };
    let mut trainer = Trainer::new(config, data, &Device::Cpu).unwrap();
    trainer.network_mut().set_backend(backend);
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
