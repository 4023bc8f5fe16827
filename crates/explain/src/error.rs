//! The error type of this crate.

/// What can go wrong when explaining a model's predictions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    /// A layer name the model does not have.
    #[error("unknown layer '{layer}' (the model's layers are: {known})")]
    UnknownLayer {
        /// The name asked for.
        layer: String,
        /// The model's layer names, comma separated.
        known: String,
    },
    /// A layer whose output has no spatial extent: a class activation map there is one value,
    /// the same for every pixel.
    #[error(
        "layer '{layer}' has no spatial extent: its output is {shape}, so a class activation \
         map there is uniform"
    )]
    NoSpatialExtent {
        /// The layer.
        layer: String,
        /// Its output shape for one image (`110×1×1`).
        shape: String,
    },
    /// A parameter out of its range.
    #[error("{field} = {value}: {problem}")]
    InvalidParameter {
        /// The parameter's field name.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A target class the model does not have.
    #[error("target class {class} of image {image}: the model has {classes} classes")]
    TargetOutOfRange {
        /// The class asked for.
        class: usize,
        /// The image (position in the batch).
        image: usize,
        /// The model's number of classes.
        classes: usize,
    },
    /// The images and the targets do not match, or a tensor has the wrong shape.
    #[error("{0}")]
    Shape(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl From<convlens_hooks::HookError> for ExplainError {
    fn from(e: convlens_hooks::HookError) -> Self {
        match e {
            convlens_hooks::HookError::UnknownLayer { layer, known } => {
                ExplainError::UnknownLayer { layer, known }
            }
            convlens_hooks::HookError::Candle(e) => ExplainError::Candle(e),
            other => ExplainError::Candle(candle_core::Error::wrap(other)),
        }
    }
}

/// This crate's results.
pub type Result<T> = std::result::Result<T, ExplainError>;
