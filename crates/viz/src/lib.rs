//! Figures for looking inside a small convolutional network.
//!
//! Each figure is one function from plain data — candle [`Tensor`](candle_core::Tensor)s
//! of `f32`, slices and the small structs defined here — to a file. The format
//! follows the extension (`.png` or `.svg`), text uses an embedded DejaVu Sans
//! font (no system fonts), files are written atomically (a temporary sibling
//! renamed into place) and the same input always gives byte-identical output.
//! The crate knows nothing about training: any network's numbers will do.
//!
//! ```
//! use convlens_viz::{draw_architecture, LayerBlock};
//!
//! let layers = [
//!     LayerBlock::new("conv1", &[3, 32, 32], 30),
//!     LayerBlock::new("relu1", &[3, 32, 32], 0),
//!     LayerBlock::new("fc", &[10], 30_730),
//! ];
//! let path = std::env::temp_dir().join("convlens-viz-doc-architecture.svg");
//! draw_architecture(&layers, &[1, 28, 28], "A tiny network", &path)?;
//! let svg = std::fs::read_to_string(&path)?;
//! assert!(svg.contains("conv1") && svg.contains("30,760"));
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub use architecture::{draw_architecture, LayerBlock};
pub use classifier::draw_classifier;
pub use colour::{ColourScale, Palette};
pub use confusion::draw_confusion;
pub use curves::{draw_curves, EpochPoint};
pub use error::VizError;
pub use feature_maps::draw_feature_maps;
pub use filters::{draw_filters, DEFAULT_MAX_FILTERS};
pub use grid::{draw_misclassified, draw_samples, Misclassified};
pub use saliency::draw_saliency;
pub use stats::{draw_activation_stats, LayerStats};

mod architecture;
mod classifier;
mod colour;
mod confusion;
mod curves;
mod data;
mod error;
mod feature_maps;
mod filters;
mod grid;
mod paint;
mod render;
mod saliency;
mod stats;
mod typeset;
