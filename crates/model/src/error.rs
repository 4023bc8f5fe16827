//! The error type of this crate.

use std::path::PathBuf;

/// What can go wrong when building, loading or saving a [`Network`](crate::Network).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The configuration does not give a working network; names the first layer that fails.
    #[error("invalid network configuration at layer '{layer}': {reason}")]
    InvalidConfig {
        /// The layer whose size or shape does not work out.
        layer: &'static str,
        /// What is wrong, with the numbers.
        reason: String,
    },
    /// A configuration field is so large that a layer's size or the parameter count does not
    /// fit in a `usize`.
    #[error("{field} {value}: too large: {problem}")]
    TooLarge {
        /// The field of [`NetConfig`](crate::NetConfig) (`input_size`, `classes`, `in_channels`).
        field: &'static str,
        /// Its value.
        value: usize,
        /// What overflows.
        problem: String,
    },
    /// The network was asked for a dtype it does not compute in.
    #[error("unsupported dtype {0:?}: the network computes in f32 or f64")]
    UnsupportedDType(candle_core::DType),
    /// A weights file lacks one of the network's parameters.
    #[error("{path}: missing tensor '{name}' (expected shape {expected:?})")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The parameter name (PyTorch `state_dict` key).
        name: String,
        /// The shape the network needs.
        expected: Vec<usize>,
    },
    /// A weights file has a parameter of the wrong shape.
    #[error("{path}: tensor '{name}' has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The parameter name.
        name: String,
        /// The shape the network needs.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A weights file has a tensor the network does not have (as PyTorch's strict
    /// `load_state_dict`, an unexpected key is an error).
    #[error("{path}: unexpected tensor '{name}' (the network's parameters are: {known})")]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// The unexpected name.
        name: String,
        /// The network's parameter names, comma separated.
        known: String,
    },
    /// A weights file holds a tensor whose dtype is not a float type.
    #[error("{path}: tensor '{name}' has dtype {dtype:?}, expected a float type")]
    TensorDType {
        /// The file.
        path: PathBuf,
        /// The parameter name.
        name: String,
        /// The dtype in the file.
        dtype: candle_core::DType,
    },
    /// Reading or parsing a weights file failed.
    #[error("cannot read weights from {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: candle_core::Error,
    },
    /// Writing a weights file failed.
    #[error("cannot write weights to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
