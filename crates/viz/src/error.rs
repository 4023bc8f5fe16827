//! The one error type of the crate: every message names the value or file at fault.

use std::path::PathBuf;

/// Why a figure could not be drawn.
///
/// Every variant names what is wrong (the tensor, the list, the file) so that a
/// caller can print the message as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VizError {
    /// The output path does not end in `.png` or `.svg`.
    #[error("cannot draw {}: unsupported file extension, expected .png or .svg", path.display())]
    UnsupportedFormat {
        /// The path that was asked for.
        path: PathBuf,
    },
    /// A tensor has the wrong rank or size.
    #[error("{what} has shape {shape:?}, expected {expected}")]
    Shape {
        /// The tensor, e.g. "feature map tensor for layer conv2".
        what: String,
        /// Its actual shape.
        shape: Vec<usize>,
        /// What was expected, e.g. "4-D [N, C, H, W]".
        expected: String,
    },
    /// Inputs are inconsistent, empty or out of range.
    #[error("{0}")]
    InvalidInput(String),
    /// A value is NaN or infinite.
    #[error("{what} contains a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        /// The tensor or list holding the value.
        what: String,
        /// The value itself.
        value: f64,
        /// Its position in row-major order.
        index: usize,
    },
    /// A tensor could not be read back as `f32` values.
    #[error("cannot read {what}: {source}")]
    Tensor {
        /// The tensor being read.
        what: String,
        /// What candle reported.
        source: candle_core::Error,
    },
    /// The figure would be unreasonably large.
    #[error("figure {} would be {width}x{height} pixels, more than the {limit}-pixel limit per side", path.display())]
    TooLarge {
        /// The output path.
        path: PathBuf,
        /// Computed width in pixels.
        width: u64,
        /// Computed height in pixels.
        height: u64,
        /// The largest side allowed.
        limit: u32,
    },
    /// plotters reported a drawing failure.
    #[error("drawing {} failed: {message}", path.display())]
    Draw {
        /// The output path.
        path: PathBuf,
        /// What the backend reported.
        message: String,
    },
    /// The PNG encoder failed.
    #[error("encoding {} as PNG failed: {message}", path.display())]
    Encode {
        /// The output path.
        path: PathBuf,
        /// What the encoder reported.
        message: String,
    },
    /// Writing the file (or its temporary sibling) failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The output path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A frame of an animation could not be drawn.
    #[error("drawing frame {index} failed: {message}")]
    Frame {
        /// The frame's position, from 0.
        index: usize,
        /// What the backend reported.
        message: String,
    },
    /// The embedded font could not be registered with plotters.
    #[error("the embedded DejaVu Sans font could not be loaded")]
    Font,
}
