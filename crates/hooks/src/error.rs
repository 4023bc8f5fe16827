//! The error type of this crate.

/// What can go wrong when registering hooks or reading recorded data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// A hook was registered for a layer the registry does not know.
    #[error("unknown layer '{layer}' (the model's layers are: {known})")]
    UnknownLayer {
        /// The name that was asked for.
        layer: String,
        /// The known layer names, comma separated.
        known: String,
    },
    /// A selector with an empty list of layers would never fire.
    #[error("the list of layers to hook is empty")]
    EmptySelector,
    /// An [`ActivationRecorder`](crate::ActivationRecorder) needs room for at least one image.
    #[error("max_images must be at least 1 (got {0})")]
    InvalidLimit(usize),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}
