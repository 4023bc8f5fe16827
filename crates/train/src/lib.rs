//! The convlens training engine: the course network trained reproducibly, resumably, with
//! full metrics — the reference notebook's `Architecture` class, done right.
//!
//! - [`TrainConfig`]: every argument, validated; its default is the reference configuration
//!   (20 epochs, batch 16, SGD lr 0.1, class-balanced sampling with replacement).
//! - [`Trainer`]: builds the network from the seed (or PyTorch weights), runs epochs of
//!   training steps and a validation pass, records an [`EpochRecord`] per epoch.
//! - [`RunDir`]: a run is a folder — `config.json`, `history.json`, `history.csv`,
//!   `model.safetensors`, the resume state and the [`Snapshot`]s of the weights
//!   ([`TrainConfig::snapshots`]) — every file replaced atomically each epoch.
//! - [`Optimizer`]: SGD (momentum, weight decay) and Adam/AdamW with PyTorch's rules.
//! - [`evaluate`] / [`predict`]: loss, accuracy, per-class accuracy, confusion matrix.
//!
//! One seed drives initialization, sampling and hold-out splits, so two runs with the same
//! arguments on the same machine write byte-identical weights and metrics (the wall-clock
//! `*_seconds` columns are the only values that differ).
//!
//! ```
//! use convlens_data::{synthetic, Dataset, DatasetId, Locator};
//! use convlens_train::{Silent, TrainConfig, Trainer};
//!
//! let dir = std::env::temp_dir().join(format!("convlens-train-doc-{}", std::process::id()));
//! let shapes = synthetic::SyntheticConfig { train: 2000, test: 200, ..Default::default() };
//! synthetic::write_synthetic(&dir, &shapes)?;
//! let data = Dataset::load(&DatasetId::Idx(dir.clone()), &Locator::default())?;
//! let config = TrainConfig { epochs: 2, ..TrainConfig::default() };
//! let mut trainer = Trainer::new(config, &data, &candle_core::Device::Cpu)?;
//! let history = trainer.fit(None, &mut Silent)?;
//! assert_eq!(history.len(), 2);
//! assert!(history[1].val_accuracy > 0.5, "shapes are easy: {}", history[1].val_accuracy);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod config;
mod error;
mod fit;
mod inplace;
mod metrics;
mod optim;
mod progress;
mod run;

pub use config::{TrainConfig, DEFAULT_SNAPSHOTS, SNAPSHOT_DENSE_EPOCHS};
pub use error::{Divergence, Result, TrainError};
pub use fit::{cross_entropy, net_config_for, train_step, Observer, Silent, StepInfo, Trainer};
pub use metrics::{evaluate, predict, EpochRecord, Evaluation, Prediction, EVAL_BATCH};
pub use optim::{Optimizer, OptimizerConfig, OptimizerKind};
pub use progress::ConsoleProgress;
pub use run::{
    files, DatasetInfo, FileInfo, RunConfig, RunDir, Snapshot, TrainState, ABORT_AT_WRITE_ENV,
};
