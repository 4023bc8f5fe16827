//! The error type of the training engine.

use std::path::PathBuf;

/// What can stop training, evaluation or a run folder from working.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// An argument is out of range; names the field of [`crate::TrainConfig`] (a command
    /// line maps it to its flag).
    #[error("{field} {value}: {problem}")]
    InvalidArgument {
        /// The field (`batch_size`).
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// Training stopped before the weights or metrics became NaN or infinite; nothing of the
    /// failing epoch was saved.
    #[error("training diverged: {cause} at epoch {epoch}, step {step}; try a lower learning rate in a new run (lr {suggested_lr:?}); the files of the last good epoch are kept")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch (the epoch's last step for its validation).
        step: usize,
        /// What became non-finite.
        cause: Divergence,
        /// A tenth of the learning rate in use.
        suggested_lr: f64,
    },
    /// `--resume` on a folder that holds no run to continue.
    #[error("{dir}: {problem}")]
    NoRunToResume {
        /// The folder.
        dir: PathBuf,
        /// What is missing.
        problem: String,
    },
    /// A folder read as a run (to evaluate or draw it) holds no finished epoch.
    #[error("{dir}: {problem}")]
    NotARun {
        /// The folder.
        dir: PathBuf,
        /// What is missing.
        problem: String,
    },
    /// Resuming with arguments that differ from the saved run's.
    #[error("{dir}: {field} is {given} but the run was started with {saved}; resume with the same arguments or start a new run in another folder")]
    ResumeMismatch {
        /// The folder.
        dir: PathBuf,
        /// The differing field of [`crate::TrainConfig`].
        field: String,
        /// The value given now.
        given: String,
        /// The saved value.
        saved: String,
    },
    /// A new run was asked for in a folder that holds a run with a finished epoch.
    #[error("{0}: the folder already holds a training run; resume it or choose another folder")]
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

/// What became NaN or infinite when training diverged.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Divergence {
    /// The loss of a training batch, before its update.
    Loss(f32),
    /// A parameter, after an update.
    Weights {
        /// The parameter's `state_dict` name.
        parameter: String,
    },
    /// The validation loss at the end of an epoch.
    ValidationLoss(f64),
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Divergence::Loss(v) => write!(f, "the loss became {v}"),
            Divergence::Weights { parameter } => {
                write!(f, "the update made {parameter} non-finite")
            }
            Divergence::ValidationLoss(v) => write!(f, "the validation loss became {v}"),
        }
    }
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
