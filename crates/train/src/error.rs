//! The error type of the training engine.

use std::path::PathBuf;

/// What can stop training, evaluation or a run folder from working.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// An argument is out of range; names the flag as a user types it.
    #[error("{flag} {value}: {problem}")]
    InvalidArgument {
        /// The flag (`--batch-size`).
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// The loss became NaN or infinite.
    #[error("training diverged: the loss became {loss} at epoch {epoch}, step {step}; try a lower learning rate (--lr {suggested_lr}); the files of the last good epoch are kept")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The loss value (NaN or inf).
        loss: f32,
        /// A tenth of the learning rate in use.
        suggested_lr: f64,
    },
    /// `--resume` (or `--run`) on a folder that holds no usable run.
    #[error("{dir}: {problem}")]
    NoRunToResume {
        /// The folder.
        dir: PathBuf,
        /// What is missing.
        problem: String,
    },
    /// `--resume` with arguments that differ from the saved run's.
    #[error("--resume {dir}: {flag} is {given} but the run was started with {saved}; resume with the same arguments or start a new run with --out")]
    ResumeMismatch {
        /// The folder.
        dir: PathBuf,
        /// The differing flag.
        flag: String,
        /// The value given now.
        given: String,
        /// The saved value.
        saved: String,
    },
    /// A run folder already holds a run and `--resume` was not given.
    #[error("--out {0}: the folder already holds a training run; pass --resume to continue it or choose another --out")]
    RunExists(PathBuf),
    /// A file of a run could not be read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A run file is not what this version writes.
    #[error("{path}: {problem}")]
    BadRunFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The dataset could not be loaded.
    #[error(transparent)]
    Data(#[from] convlens_data::DataError),
    /// The model could not be built, loaded or saved.
    #[error(transparent)]
    Model(#[from] convlens_model::ModelError),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

pub(crate) fn io(
    action: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.to_path_buf();
    move |source| TrainError::Io {
        path,
        action,
        source,
    }
}
