//! Typed errors of the ops, converted into `candle_core::Error` at the op boundary.

use candle_core::DType;

/// What is wrong with the arguments of an op of this crate.
///
/// The ops return `candle_core::Result` so that they compose with the rest of candle; their own
/// failures are values of this type wrapped in `candle_core::Error::Wrapped`, so the message
/// names the op, the argument and the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument does not have the rank the op needs.
    #[error("{op}: `{arg}` must have rank {expected}, got shape {shape:?}")]
    Rank {
        /// The op that rejected the argument.
        op: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// The rank the op needs.
        expected: usize,
        /// The argument's actual shape.
        shape: Vec<usize>,
    },
    /// An argument has a dtype the op does not compute in.
    #[error("{op}: `{arg}` has dtype {dtype:?}, only f32 and f64 are supported")]
    UnsupportedDType {
        /// The op that rejected the argument.
        op: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// The argument's dtype.
        dtype: DType,
    },
    /// Two arguments that must share a dtype do not.
    #[error("{op}: `{arg}` has dtype {got:?} but the input has dtype {expected:?}")]
    DTypeMismatch {
        /// The op that rejected the argument.
        op: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// The input's dtype.
        expected: DType,
        /// The argument's dtype.
        got: DType,
    },
    /// The shapes of the arguments do not fit together, or are too small for the op.
    #[error("{op}: {message}")]
    Shape {
        /// The op that rejected the arguments.
        op: &'static str,
        /// What is wrong, with the numbers involved.
        message: String,
    },
    /// A size derived from the arguments (an output, a gradient or a work buffer) does not fit
    /// in the address space: its computation overflows `usize`, or it holds more than
    /// [`MAX_ELEMENTS`](crate::MAX_ELEMENTS) elements. Nothing is computed.
    #[error(
        "{op}: the {what} would be too large (more than {max} elements) for {args}",
        max = crate::MAX_ELEMENTS
    )]
    TooLarge {
        /// The op that rejected the arguments.
        op: &'static str,
        /// The size that overflows, such as "output" or "padded input".
        what: &'static str,
        /// The arguments it derives from, with their values.
        args: String,
    },
    /// The tensors do not live on the CPU.
    #[error("{op}: only the CPU device is supported")]
    NotCpu {
        /// The op that was called.
        op: &'static str,
    },
}

impl From<Error> for candle_core::Error {
    fn from(err: Error) -> Self {
        candle_core::Error::wrap(err)
    }
}
