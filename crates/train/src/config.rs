//! The arguments of a training run, their validation, and what `config.json` records.

use std::path::PathBuf;

use convlens_data::{LabelSet, ReadOptions, SamplerKind};
use convlens_model::Backend;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::optim::{OptimizerConfig, OptimizerKind};

/// Every argument of a training run. [`TrainConfig::default`] is the reference
/// configuration: 20 epochs, batch 16, SGD with learning rate 0.1, class-balanced sampling
/// with replacement, validation on the test set, seed 42 — on Fashion-MNIST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// `fashion-mnist`, `mnist`, `kmnist`, `cifar10`, `cifar100`, `svhn`, `stl10`, `usps`,
    /// `emnist-<split>`, `qmnist`, `idx:<DIR>` or `imagefolder:<DIR>`.
    pub dataset: String,
    /// CIFAR-100's `coarse` labels (20 superclasses) instead of the 100 fine ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub coarse_labels: bool,
    /// Dataset files that differ from the published ones were allowed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
    /// Images resized to this square size at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<usize>,
    /// Images converted to one channel at load.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub grayscale: bool,
    /// Number of epochs.
    pub epochs: usize,
    /// Images per training step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// SGD momentum.
    pub momentum: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// How training images are drawn.
    #[serde(with = "display_fromstr")]
    pub sampler: SamplerKind,
    /// The one seed behind initialization, sampling and hold-out splits.
    pub seed: u64,
    /// Train on the first N training images only.
    pub limit_train: Option<usize>,
    /// Validate on the first N validation images only.
    pub limit_val: Option<usize>,
    /// Validate on N images held out of the training set (seeded) instead of the test set.
    pub holdout: Option<usize>,
    /// Start from these weights (safetensors with PyTorch state_dict names).
    pub init: Option<PathBuf>,
    /// What runs the convolutions. Runs written before it was recorded used the fast one.
    #[serde(default, with = "backend_name")]
    pub backend: Backend,
    /// Snapshots of the weights per epoch in the first [`SNAPSHOT_DENSE_EPOCHS`] epochs
    /// (one per epoch after them, and one before the first step); 0 records none. They do
    /// not change training. Runs written before it was recorded take the default.
    #[serde(default = "default_snapshots")]
    pub snapshots: usize,
}

/// How many snapshots per epoch [`TrainConfig::snapshots`] asks for unless told otherwise.
pub const DEFAULT_SNAPSHOTS: usize = 4;

/// The first epochs, where the weights change most, are recorded
/// [`TrainConfig::snapshots`] times each; later ones once, at their end.
pub const SNAPSHOT_DENSE_EPOCHS: usize = 2;

fn default_snapshots() -> usize {
    DEFAULT_SNAPSHOTS
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            dataset: "fashion-mnist".into(),
            coarse_labels: false,
            unverified: false,
            resize: None,
            grayscale: false,
            epochs: 20,
            batch_size: 16,
            lr: 0.1,
            optimizer: OptimizerKind::Sgd,
            momentum: 0.0,
            weight_decay: 0.0,
            sampler: SamplerKind::Balanced,
            seed: 42,
            limit_train: None,
            limit_val: None,
            holdout: None,
            init: None,
            backend: Backend::Fast,
            snapshots: DEFAULT_SNAPSHOTS,
        }
    }
}

fn invalid(field: &'static str, value: impl ToString, problem: &str) -> TrainError {
    TrainError::InvalidArgument {
        field,
        value: value.to_string(),
        problem: problem.into(),
    }
}

impl TrainConfig {
    /// How the dataset is read: label set, unverified files, resize, grayscale.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            labels: if self.coarse_labels {
                LabelSet::Coarse
            } else {
                LabelSet::Fine
            },
            unverified: self.unverified,
            resize: self.resize,
            grayscale: self.grayscale,
        }
    }

    /// Checks every value; the error names the field and the value.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(invalid("epochs", self.epochs, "must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size", self.batch_size, "must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(invalid(
                "lr",
                self.lr,
                "the learning rate must be a positive number",
            ));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(invalid("momentum", self.momentum, "must be in [0, 1)"));
        }
        if self.momentum != 0.0 && self.optimizer != OptimizerKind::Sgd {
            return Err(invalid(
                "momentum",
                self.momentum,
                "only SGD uses momentum (Adam has its own betas)",
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(invalid(
                "weight_decay",
                self.weight_decay,
                "must be zero or positive",
            ));
        }
        for (field, v) in [
            ("limit_train", self.limit_train),
            ("limit_val", self.limit_val),
            ("holdout", self.holdout),
        ] {
            if v == Some(0) {
                return Err(invalid(field, 0, "must be at least 1"));
            }
        }
        Ok(())
    }

    /// The steps (1-based, within an epoch of `steps` steps) after which epoch `epoch`
    /// (1-based) records a snapshot: [`TrainConfig::snapshots`] ones ending with the last
    /// step in the first [`SNAPSHOT_DENSE_EPOCHS`] epochs (geometrically spaced in the first,
    /// where the weights change fastest: step `steps^(j/K)` for j = 1..=K; evenly in the
    /// others), the last step only after them, none when `snapshots` is 0. A function of the epoch number, not of the
    /// epochs asked for, so that a run resumed to train longer records what one run would.
    pub fn snapshot_steps(&self, epoch: usize, steps: usize) -> Vec<usize> {
        if self.snapshots == 0 || steps == 0 {
            return Vec::new();
        }
        let k = self.snapshots;
        let mut at: Vec<usize> = if epoch == 1 {
            // Geometric: the predictions change fastest in the first hundreds of steps, which
            // evenly spaced snapshots would pass over (MNIST at batch 16, 3,750 steps,
            // K = 4: after 8, 61, 479 and 3,750 steps).
            (1..=k)
                .map(|j| {
                    let s = (steps as f64).powf(j as f64 / k as f64).round() as usize;
                    s.clamp(1, steps)
                })
                .collect()
        } else if epoch <= SNAPSHOT_DENSE_EPOCHS {
            (1..=k).map(|j| (j * steps).div_ceil(k)).collect()
        } else {
            vec![steps]
        };
        at.dedup();
        at
    }

    /// The optimizer's hyper-parameters.
    pub fn optimizer_config(&self) -> OptimizerConfig {
        OptimizerConfig {
            kind: self.optimizer,
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            ..OptimizerConfig::default()
        }
    }

    /// The first argument (as a field name and two values) that differs between a saved run
    /// and this one. Ignored: `epochs` (a run may be resumed to train longer), and the two
    /// arguments that name files, `dataset` and `init`, whose content the run compares by
    /// checksum instead, so that the same data found at another path is accepted.
    pub fn first_difference(&self, saved: &TrainConfig) -> Option<(String, String, String)> {
        let a = serde_json::to_value(self).ok()?;
        let b = serde_json::to_value(saved).ok()?;
        let (a, b) = (a.as_object()?, b.as_object()?);
        // Fields left out when unset (resize, grayscale, …) are absent on one side only.
        a.keys()
            .chain(b.keys().filter(|k| !a.contains_key(*k)))
            .filter(|k| !matches!(k.as_str(), "epochs" | "dataset" | "init"))
            .find(|k| a.get(*k) != b.get(*k))
            .map(|k| {
                let show = |v: Option<&serde_json::Value>| match v {
                    Some(serde_json::Value::Null) | None => "(not set)".to_string(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                (k.clone(), show(a.get(k)), show(b.get(k)))
            })
    }
}

/// `fast` or `candle` in `config.json`.
mod backend_name {
    use convlens_model::Backend;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Backend, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match v {
            Backend::Fast => "fast",
            Backend::Candle => "candle",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Backend, D::Error> {
        match String::deserialize(d)?.as_str() {
            "fast" => Ok(Backend::Fast),
            "candle" => Ok(Backend::Candle),
            other => Err(serde::de::Error::custom(format!(
                "unknown backend {other:?}: expected fast or candle"
            ))),
        }
    }
}

mod display_fromstr {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(snapshots: usize) -> TrainConfig {
        TrainConfig {
            snapshots,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn snapshots_are_geometric_in_the_first_epoch_then_even_then_once() {
        let c = with(4);
        assert_eq!(c.snapshot_steps(1, 938), [6, 31, 169, 938]);
        assert_eq!(c.snapshot_steps(2, 938), [235, 469, 704, 938]);
        assert_eq!(c.snapshot_steps(3, 938), [938]);
        assert_eq!(c.snapshot_steps(20, 938), [938]);
        assert_eq!(c.snapshot_steps(1, 3750), [8, 61, 479, 3750]);
        assert!(with(0).snapshot_steps(1, 938).is_empty());
        assert!(c.snapshot_steps(1, 0).is_empty());
    }

    #[test]
    fn short_epochs_get_each_step_at_most_once_and_always_the_last() {
        for k in 1..=12 {
            for steps in 1..=40 {
                for epoch in 1..=3 {
                    let at = with(k).snapshot_steps(epoch, steps);
                    assert_eq!(at.last(), Some(&steps), "k {k} steps {steps} epoch {epoch}");
                    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
                    assert!(at.len() <= k && at[0] >= 1, "{at:?}");
                }
            }
        }
    }
}
