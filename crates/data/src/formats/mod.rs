//! Readers of the dataset files torchvision reads, one module per format, each with a
//! writer of the same layout (for tests, and for the synthetic dataset in every format).
//!
//! A reader takes the folder (or file) exactly as torchvision leaves it under its `root`,
//! and returns [`Loaded`]: images as `u8` in `[channels, rows, cols]` order, labels as class
//! indices from 0, and the class names. Checksums are the caller's business (the registry
//! knows the published ones); a reader checks structure: every size against the bytes
//! present, every label against the class count, and names the file in every error
//! ([`DataError::Malformed`](crate::DataError::Malformed)).

pub mod cifar;
pub mod emnist;
pub mod imagefolder;
pub mod mat;
pub mod pickle;
pub mod stl10;
pub mod svhn;
pub mod usps;

use crate::dataset::Split;

/// What a reader found: the splits and the class names.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The training split.
    pub train: Split,
    /// The test split (`None` for a folder that has none, e.g. an image folder without
    /// `test/` or `val/`).
    pub test: Option<Split>,
    /// One name per class, in label order.
    pub class_names: Vec<String>,
}
