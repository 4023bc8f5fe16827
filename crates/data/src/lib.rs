//! Datasets for convlens: validated IDX loading, a registry of known datasets, verified
//! downloads, seeded samplers and synthetic data.
//!
//! - [`idx`]: a reader for LeCun's IDX format (raw or gzip, detected from the content) that
//!   checks every header field against the bytes present before trusting it, and never
//!   panics on any input.
//! - [`DatasetId`] / [`DATASETS`]: `mnist`, `fashion-mnist`, `kmnist` with class names,
//!   mirrors and checksums, plus `idx:<DIR>` for any folder of IDX files.
//! - [`Archive`]: `cifar10`, `cifar100`, `svhn`, `stl10`, `usps`, `emnist-<split>`,
//!   `qmnist` from the files torchvision leaves under its root, checked against the
//!   published MD5s, downloaded when missing (single files, or the published `.tar.gz` /
//!   `.zip`, checked before the needed files are extracted); `imagefolder:<DIR>` for
//!   torchvision's `ImageFolder` layout. Their
//!   readers (and writers, for tests) are in [`formats`]: a pickle reader that executes
//!   nothing, MATLAB v5, the binary and libsvm layouts, images through the `image` crate.
//!   [`ReadOptions`] chooses CIFAR-100's label set, allows unverified copies, and resizes or
//!   converts to grayscale at load ([`transform`], as torchvision computes them).
//! - [`Locator`]: finds the data — a folder the caller names, `$CONVLENS_DATA`, the cache, system folders
//!   such as `/usr/share/datasets/fashion-mnist` — or downloads it, verified, into the cache.
//! - [`Dataset`] / [`Split`]: images stay `u8` in memory and become `f32` in `[0, 1]` one
//!   batch at a time; `Dataset::to_candle` (feature `candle-datasets`, off by default since
//!   it brings in about 430 crates) hands the data to candle-datasets users.
//! - [`Sampler`]: sequential, shuffled, or class-balanced with replacement, each epoch a
//!   pure function of `(seed, epoch)`.
//! - [`synthetic`]: ten classes of shapes, for tests and quick runs, and broken files.
//! - [`synthetic_formats`]: the same shapes written in every layout above (CIFAR, SVHN,
//!   STL-10, USPS, EMNIST, QMNIST, image folders), where torchvision looks for them.
//!
//! ```
//! use convlens_data::{synthetic, Dataset, DatasetId, Locator, Sampler, SamplerKind};
//!
//! let dir = std::env::temp_dir().join(format!("convlens-doc-{}", std::process::id()));
//! synthetic::write_synthetic(&dir, &synthetic::SyntheticConfig::default())?;
//! let id: DatasetId = format!("idx:{}", dir.display()).parse()?;
//! let data = Dataset::load(&id, &Locator::default())?;
//! assert_eq!(data.train.len(), 600);
//! assert_eq!(data.class_names[5], "disc");
//!
//! let sampler = Sampler::new(SamplerKind::Balanced, data.train.labels(), 42);
//! let order = sampler.epoch(0);
//! let (images, labels) = data.train.batch(&order[..16], &candle_core::Device::Cpu)?;
//! assert_eq!(images.dims(), &[16, 1, 28, 28]);
//! assert_eq!(labels.dims(), &[16]);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Fuzzing
//! The parser has a `cargo fuzz` target in `crates/data/fuzz` (not part of CI):
//! `cd crates/data/fuzz && cargo +nightly fuzz run parse_idx -- -max_total_time=60`.

#![deny(missing_docs)]

mod archive;
mod dataset;
mod download;
mod error;
pub mod formats;
pub mod idx;
mod locate;
mod registry;
mod sampler;
pub mod synthetic;
pub mod synthetic_colour;
pub mod synthetic_formats;
pub mod transform;
mod unpack;
mod verify;

pub use archive::{Archive, LabelSet, ReadOptions, Search};
pub use dataset::{Dataset, Provenance, Split};
pub use download::download_verified;
pub use error::{DataError, Hint, IdxDefect, Result};
pub use idx::write_atomic;
pub use locate::{hints, Located, Locator, Origin, DATA_ENV, OFFLINE_ENV};
pub use registry::{
    spec, DatasetId, DatasetSpec, FileSpec, Role, DATASETS, FASHION_MNIST, KMNIST, MNIST,
};
pub use sampler::{holdout_indices, Sampler, SamplerKind};
pub use verify::{verify_digest, FileRecord, Verification};
