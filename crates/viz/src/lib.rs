//! Figures for looking inside a small convolutional network.
//!
//! Each figure is one function from plain data — candle [`Tensor`](candle_core::Tensor)s
//! of `f32`, slices and the small structs defined here — to a file. The crate
//! knows nothing about training or about any particular network: give it the
//! numbers and it draws them.
//!
//! | function | figure |
//! |---|---|
//! | [`draw_architecture`] | the layers as blocks with output shape and parameter count |
//! | [`draw_samples`] | a grid of input images with captions |
//! | [`draw_curves`] | loss (log scale) and accuracy per epoch, train against validation |
//! | [`draw_filters`] | a convolution layer's kernels on a zero-centred scale |
//! | [`draw_input_filters`] | the first layer's kernels, per R, G, B channel and as RGB images |
//! | [`draw_feature_maps`] | every layer's activations, rows layer × channel, columns images |
//! | [`draw_feature_maps_with_input`] | the same, below a row of the input images |
//! | [`draw_classifier`] | fully connected layers and softmax (top classes when many) per image |
//! | [`draw_confusion`] | confusion matrix, counts and per-class colour; the most confused pairs when many classes |
//! | [`draw_misclassified`] | a grid of wrongly classified images |
//! | [`draw_activation_stats`] | zeros, means, dead channels per layer; per-channel spread |
//! | [`draw_saliency`] | gradient saliency maps over their images |
//! | [`draw_card`] | a title and lines of text, for slides |
//! | [`draw_evolution_frames`] + [`write_apng`] | one frame per snapshot of the weights (filters, feature maps, curves so far, predictions) on fixed scales, as an animated PNG |
//!
//! Images are `[N, C, H, W]` with `C` = 1 (grey) or 3 (RGB, drawn in colour);
//! sizes from 28×28 to 96×96 are enlarged by whole factors to similar sizes on
//! the page; up to a hundred classes stay readable (see [`draw_confusion`] and
//! [`draw_classifier`]).
//!
//! Conventions shared by all figures:
//! - the format follows the extension, `.png` or `.svg` (any case); anything
//!   else is [`VizError::UnsupportedFormat`];
//! - text is DejaVu Sans, embedded in the binary (no system fonts); SVG heat
//!   maps are embedded PNG images, so they stay crisp and small;
//! - the file is written to a temporary sibling and renamed into place, so it
//!   is either the old figure or the complete new one, never half written;
//! - the same input gives byte-identical files;
//! - bad input is an error that names the tensor or list and what is wrong,
//!   and writes nothing;
//! - weights and signed activations use a blue-white-red [`ColourScale`]
//!   centred on zero, non-negative ones viridis, one scale per layer.
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
//!
//! `cargo run -p convlens-viz --example gallery -- OUT_DIR` draws every figure
//! for the course network with random weights; `--example colour_gallery`
//! draws the input-dependent figures for RGB images of 32×32 and 96×96 pixels
//! and a hundred classes.
#![deny(missing_docs)]

pub use architecture::{draw_architecture, LayerBlock};
pub use attributions::{
    draw_attributions, draw_faithfulness, AttributionColumn, FaithfulnessSeries,
};
pub use card::draw_card;
pub use classifier::{draw_classifier, SOFTMAX_ALL_CLASSES_UP_TO, SOFTMAX_TOP_CLASSES};
pub use colour::{ColourScale, Palette};
pub use confusion::{
    draw_confusion, most_confused_pairs, ConfusedPair, CONFUSED_PAIRS_SHOWN,
    CONFUSION_NUMBERS_UP_TO,
};
pub use curves::{draw_curves, EpochPoint};
pub use error::VizError;
pub use evolution::{
    changed_region, draw_evolution_frames, write_apng, CurvePoint, Evolution, EvolutionCurves,
    EvolutionFrame, EvolutionLayout, EvolutionScales, FramePrediction, Region, RgbImage,
};
pub use feature_maps::{draw_feature_maps, draw_feature_maps_with_input, MAX_CHANNEL_ROWS};
pub use filters::{draw_filters, draw_input_filters, DEFAULT_MAX_FILTERS};
pub use grid::{draw_misclassified, draw_samples, Misclassified};
pub use paint::group_thousands;
pub use saliency::draw_saliency;
pub use stats::{draw_activation_stats, LayerStats};

mod architecture;
mod attributions;
mod card;
mod classifier;
mod colour;
mod confusion;
mod curves;
mod data;
mod error;
mod evolution;
mod feature_maps;
mod filters;
mod grid;
mod paint;
mod render;
mod saliency;
mod stats;
mod typeset;
