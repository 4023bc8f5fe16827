//! The synthetic shapes in every layout this crate reads, each at the format's native size
//! and written exactly where torchvision looks for it under its `root`, so that every
//! loading path can be exercised (and a quick run made) without downloading anything.
//!
//! | format | files under `root` | images | dataset name |
//! |---|---|---|---|
//! | `idx` | the four IDX files (`.gz`), `classes.txt` | 1×28×28 | `idx:<root>` |
//! | `cifar10-python` | `cifar-10-batches-py/` | 3×32×32 | `cifar10` |
//! | `cifar10-binary` | `cifar-10-batches-bin/` | 3×32×32 | `cifar10` |
//! | `cifar100-python` | `cifar-100-python/` | 3×32×32 | `cifar100` |
//! | `cifar100-binary` | `cifar-100-binary/` | 3×32×32 | `cifar100` |
//! | `svhn` | `train_32x32.mat`, `test_32x32.mat` | 3×32×32 | `svhn` |
//! | `stl10` | `stl10_binary/` (without `unlabeled_X.bin`) | 3×96×96 | `stl10` |
//! | `usps` | `usps.bz2`, `usps.t.bz2` | 1×16×16 | `usps` |
//! | `emnist-<split>` | `EMNIST/raw/` (uncompressed) | 1×28×28 | `emnist-<split>` |
//! | `qmnist` | `QMNIST/raw/` (uncompressed) | 1×28×28 | `qmnist` |
//! | `imagefolder-{png,jpeg,bmp}` | `train/<class>/`, `test/<class>/` | 3×32×32 | `imagefolder:<root>` |
//!
//! The RGB formats hold the colour shapes of [`synthetic_colour`](crate::synthetic_colour),
//! the one-channel formats the shapes of [`synthetic`](crate::synthetic). Labels:
//!
//! - the shape's index in [`SHAPE_NAMES`] (0..=9) for every format but the two below; the
//!   formats that store class names (IDX, CIFAR, STL-10, image folders) get the shape names,
//!   the others keep their own (SVHN's, USPS's, QMNIST's and EMNIST's digits or letters);
//! - EMNIST `letters`, whose label 0 is unused: the shape plus one (labels 1..=10, `a`..`j`);
//! - CIFAR-100, which has 100 fine and 20 coarse classes: the fine label of image `i` of a
//!   split is `shape × 10 + i % 10`, named `"<shape> <i % 10>"`, and its coarse label is
//!   `fine / 5` (five fine classes per superclass, as in CIFAR-100), named
//!   `"<shape> 0-4"` or `"<shape> 5-9"`. Only the shape can be seen in the image: the fine
//!   and coarse labels are learnable up to the shape, which is all a test needs;
//! - image folders: the classes are the folders, which readers take in sorted order, so the
//!   labels are the positions of the shape names in sorted order (`anti-diagonal` is 0), and
//!   every class has at least one image in each split (the reader refuses an empty class
//!   folder), which needs at least 10 images per split.
//!
//! Files whose checksums are published (CIFAR's Python versions, SVHN, STL-10, USPS,
//! QMNIST) differ from them, as any copy not downloaded does: loading them needs
//! [`ReadOptions::unverified`](crate::ReadOptions::unverified), which
//! [`SyntheticWritten::unverified`] says.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::archive::Archive;
use crate::dataset::Split;
use crate::error::{DataError, Result};
use crate::formats::cifar::{self, Cifar100Splits};
use crate::formats::emnist::{self, EmnistSplit};
use crate::formats::imagefolder::{self, ImageFormat};
use crate::formats::{stl10, svhn, usps};
use crate::synthetic::{generate, write_synthetic, SyntheticConfig, SHAPE_NAMES};
use crate::synthetic_colour::colour_shapes;

/// The seed of the test split is derived from the seed as [`synthetic`](crate::synthetic)
/// derives it.
const TEST_SEED_MASK: u64 = 0x7e57_7e57;

/// A layout the synthetic shapes can be written in (see the [module](self) documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntheticFormat {
    /// Four gzipped IDX files and `classes.txt` (`idx:<root>`), 1×28×28.
    Idx,
    /// CIFAR-10's Python pickles in `cifar-10-batches-py/`, 3×32×32.
    Cifar10Python,
    /// CIFAR-10's binary records in `cifar-10-batches-bin/`, 3×32×32.
    Cifar10Binary,
    /// CIFAR-100's Python pickles in `cifar-100-python/`, 3×32×32.
    Cifar100Python,
    /// CIFAR-100's binary records in `cifar-100-binary/`, 3×32×32.
    Cifar100Binary,
    /// SVHN's MATLAB files `train_32x32.mat` and `test_32x32.mat`, 3×32×32.
    Svhn,
    /// STL-10's binary files in `stl10_binary/`, 3×96×96.
    Stl10,
    /// USPS's `usps.bz2` and `usps.t.bz2`, 1×16×16.
    Usps,
    /// One EMNIST split's IDX files in `EMNIST/raw/`, 1×28×28.
    Emnist(EmnistSplit),
    /// QMNIST's IDX files in `QMNIST/raw/`, 1×28×28.
    Qmnist,
    /// An image folder (`train/<class>/`, `test/<class>/`) of 3×32×32 images in this file
    /// format.
    ImageFolder(ImageFormat),
}

impl SyntheticFormat {
    /// Every format, EMNIST once per split.
    pub const ALL: [SyntheticFormat; 18] = [
        SyntheticFormat::Idx,
        SyntheticFormat::Cifar10Python,
        SyntheticFormat::Cifar10Binary,
        SyntheticFormat::Cifar100Python,
        SyntheticFormat::Cifar100Binary,
        SyntheticFormat::Svhn,
        SyntheticFormat::Stl10,
        SyntheticFormat::Usps,
        SyntheticFormat::Emnist(EmnistSplit::ByClass),
        SyntheticFormat::Emnist(EmnistSplit::ByMerge),
        SyntheticFormat::Emnist(EmnistSplit::Balanced),
        SyntheticFormat::Emnist(EmnistSplit::Letters),
        SyntheticFormat::Emnist(EmnistSplit::Digits),
        SyntheticFormat::Emnist(EmnistSplit::Mnist),
        SyntheticFormat::Qmnist,
        SyntheticFormat::ImageFolder(ImageFormat::Png),
        SyntheticFormat::ImageFolder(ImageFormat::Jpeg),
        SyntheticFormat::ImageFolder(ImageFormat::Bmp),
    ];

    /// The format's name (`idx`, `cifar10-python`, `emnist-letters`, `imagefolder-png`), as
    /// `cargo xtask synthetic --format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            SyntheticFormat::Idx => "idx",
            SyntheticFormat::Cifar10Python => "cifar10-python",
            SyntheticFormat::Cifar10Binary => "cifar10-binary",
            SyntheticFormat::Cifar100Python => "cifar100-python",
            SyntheticFormat::Cifar100Binary => "cifar100-binary",
            SyntheticFormat::Svhn => "svhn",
            SyntheticFormat::Stl10 => "stl10",
            SyntheticFormat::Usps => "usps",
            SyntheticFormat::Emnist(split) => Archive::Emnist(split).static_name(),
            SyntheticFormat::Qmnist => "qmnist",
            SyntheticFormat::ImageFolder(ImageFormat::Png) => "imagefolder-png",
            SyntheticFormat::ImageFolder(ImageFormat::Jpeg) => "imagefolder-jpeg",
            SyntheticFormat::ImageFolder(ImageFormat::Bmp) => "imagefolder-bmp",
        }
    }

    /// `[channels, rows, cols]` of the images written: the format's native size.
    pub fn image_shape(self) -> [usize; 3] {
        match self {
            SyntheticFormat::Idx | SyntheticFormat::Emnist(_) | SyntheticFormat::Qmnist => {
                [1, 28, 28]
            }
            SyntheticFormat::Usps => [1, usps::USPS_SIDE, usps::USPS_SIDE],
            SyntheticFormat::Stl10 => [3, stl10::STL10_SIDE, stl10::STL10_SIDE],
            SyntheticFormat::Cifar10Python
            | SyntheticFormat::Cifar10Binary
            | SyntheticFormat::Cifar100Python
            | SyntheticFormat::Cifar100Binary
            | SyntheticFormat::Svhn
            | SyntheticFormat::ImageFolder(_) => [3, 32, 32],
        }
    }

    /// Whether the files written have published checksums, which they cannot match:
    /// loading them then needs [`ReadOptions::unverified`](crate::ReadOptions::unverified).
    pub fn needs_unverified(self) -> bool {
        matches!(
            self,
            SyntheticFormat::Cifar10Python
                | SyntheticFormat::Cifar100Python
                | SyntheticFormat::Svhn
                | SyntheticFormat::Stl10
                | SyntheticFormat::Usps
                | SyntheticFormat::Qmnist
        )
    }

    /// The dataset name to load the files written under `root` with (parse it as a
    /// [`DatasetId`](crate::DatasetId)): `cifar10`, `emnist-letters`, `idx:<root>`,
    /// `imagefolder:<root>`, ….
    pub fn dataset_name(self, root: &Path) -> String {
        match self {
            SyntheticFormat::Idx => format!("idx:{}", root.display()),
            SyntheticFormat::ImageFolder(_) => format!("imagefolder:{}", root.display()),
            SyntheticFormat::Cifar10Python | SyntheticFormat::Cifar10Binary => "cifar10".into(),
            SyntheticFormat::Cifar100Python | SyntheticFormat::Cifar100Binary => "cifar100".into(),
            SyntheticFormat::Svhn => "svhn".into(),
            SyntheticFormat::Stl10 => "stl10".into(),
            SyntheticFormat::Usps => "usps".into(),
            SyntheticFormat::Emnist(split) => Archive::Emnist(split).name(),
            SyntheticFormat::Qmnist => "qmnist".into(),
        }
    }
}

impl fmt::Display for SyntheticFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SyntheticFormat {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        SyntheticFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| DataError::InvalidArgument {
                name: "format".into(),
                value: s.into(),
                problem: format!(
                    "expected one of {}",
                    SyntheticFormat::ALL.map(SyntheticFormat::name).join(", ")
                ),
            })
    }
}

/// CIFAR-100's second label set: one coarse label per image and the 20 names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoarseLabels {
    /// The training images' superclasses.
    pub train: Vec<u8>,
    /// The test images' superclasses.
    pub test: Vec<u8>,
    /// The 20 superclass names, in label order.
    pub names: Vec<String>,
}

/// The images and labels a format's files hold, as [`write_synthetic_format`] writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticData {
    /// The training split, in the order written. Labels are in the format's label space
    /// (see the [module](self) documentation).
    pub train: Split,
    /// The test split, in the order written.
    pub test: Split,
    /// The class names the dataset's reader gives, in label order.
    pub class_names: Vec<String>,
    /// CIFAR-100's coarse labels (`None` for the other formats).
    pub coarse: Option<CoarseLabels>,
}

/// What [`write_synthetic_format`] wrote, and how to load it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticWritten {
    /// The format.
    pub format: SyntheticFormat,
    /// The dataset name to load it with (`cifar10`, `idx:<root>`, `imagefolder:<root>`):
    /// parse it as a [`DatasetId`](crate::DatasetId).
    pub dataset: String,
    /// The data folder to search ([`Locator::data_dir`](crate::Locator::data_dir)): the
    /// `root` given. For `idx:` and `imagefolder:` the folder is already
    /// part of [`SyntheticWritten::dataset`].
    pub data_dir: PathBuf,
    /// Whether loading needs [`ReadOptions::unverified`](crate::ReadOptions::unverified):
    /// the format has published checksums, which these files do not match.
    pub unverified: bool,
    /// Training images written.
    pub train: usize,
    /// Test images written.
    pub test: usize,
    /// Number of classes the dataset's reader gives (CIFAR-100: the 100 fine ones).
    pub classes: usize,
    /// `[channels, rows, cols]` of every image.
    pub image_shape: [usize; 3],
}

impl SyntheticWritten {
    /// Whether loading needs [`SyntheticWritten::data_dir`] as the data folder
    /// ([`Locator::data_dir`](crate::Locator::data_dir)): false for `idx:` and
    /// `imagefolder:`, whose [`SyntheticWritten::dataset`] names the folder itself.
    pub fn needs_data_dir(&self) -> bool {
        !matches!(
            self.format,
            SyntheticFormat::Idx | SyntheticFormat::ImageFolder(_)
        )
    }
}

fn invalid(name: &str, value: String, problem: impl Into<String>) -> DataError {
    DataError::InvalidArgument {
        name: name.into(),
        value,
        problem: problem.into(),
    }
}

/// `count` grayscale shapes of `size × size` as a split.
fn gray(count: usize, size: usize, seed: u64) -> Result<Split> {
    let (images, labels) = generate(count, size, seed);
    Split::new(images.pixels, labels, [1, size, size])
}

/// `split`'s images with `labels`.
fn with_labels(split: &Split, labels: Vec<u8>) -> Result<Split> {
    let mut pixels =
        Vec::with_capacity(split.len() * split.image_shape().iter().product::<usize>());
    for i in 0..split.len() {
        pixels.extend_from_slice(split.image(i));
    }
    Split::new(pixels, labels, split.image_shape())
}

/// Adds `offset` to every label.
fn shifted(split: &Split, offset: u8) -> Result<Split> {
    let labels = split
        .labels()
        .iter()
        .map(|&l| l.saturating_add(offset))
        .collect();
    with_labels(split, labels)
}

/// Replaces every label `l` by `map[l]`.
fn relabelled(split: &Split, map: &[u8]) -> Result<Split> {
    let labels = split
        .labels()
        .iter()
        .map(|&l| map.get(l as usize).copied().unwrap_or(l))
        .collect();
    with_labels(split, labels)
}

/// The positions `0..n` of `labels`, with images of a class absent from the first `n`
/// swapped in from further on in place of images of a class that has more than one. `None`
/// when `labels` holds no image of some class, or when `n` is too small.
fn covering_indices(labels: &[u8], n: usize, classes: usize) -> Option<Vec<usize>> {
    let mut indices: Vec<usize> = (0..n.min(labels.len())).collect();
    let mut counts = vec![0usize; classes];
    for &i in &indices {
        *counts.get_mut(labels[i] as usize)? += 1;
    }
    for class in 0..classes {
        if counts[class] > 0 {
            continue;
        }
        let found = (n..labels.len()).find(|&j| labels[j] as usize == class)?;
        let replaced = (0..indices.len())
            .rev()
            .find(|&p| counts[labels[indices[p]] as usize] > 1)?;
        counts[labels[indices[replaced]] as usize] -= 1;
        indices[replaced] = found;
        counts[class] += 1;
    }
    Some(indices)
}

/// `n` images drawn by `draw` (which must give the same first images for any count) with
/// every one of `classes` classes present.
fn with_every_class(
    what: &str,
    n: usize,
    classes: usize,
    draw: impl Fn(usize) -> Result<Split>,
) -> Result<Split> {
    if n < classes {
        return Err(invalid(
            what,
            format!("{n} images"),
            format!("an image folder needs an image of each of the {classes} classes in every split: at least {classes} images"),
        ));
    }
    let mut pool = n;
    loop {
        let split = draw(pool)?;
        if let Some(indices) = covering_indices(split.labels(), n, classes) {
            return Ok(split.select(&indices));
        }
        // Classes are drawn uniformly: a pool of n + 64 × classes images misses one with a
        // probability below 10⁻²; a few doublings more make it vanishingly small.
        if pool >= n.saturating_add(4096 * classes) {
            return Err(invalid(
                what,
                format!("{n} images"),
                format!("no image of some class among {pool} drawn"),
            ));
        }
        pool = pool.max(64 * classes).saturating_mul(2).saturating_add(n);
    }
}

/// The images and labels [`write_synthetic_format`] writes for `format` (see the
/// [module](self) documentation), without writing anything.
///
/// # Errors
/// [`DataError::InvalidArgument`] for a `train` or `test` of 0, fewer than 10 images per
/// split for an image folder, or counts whose images do not fit in memory.
pub fn synthetic_data(
    format: SyntheticFormat,
    train: usize,
    test: usize,
    seed: u64,
) -> Result<SyntheticData> {
    if train == 0 || test == 0 {
        return Err(invalid(
            "synthetic dataset",
            format!("{train} train, {test} test"),
            "every split needs at least one image",
        ));
    }
    let [channels, size, _] = format.image_shape();
    let test_seed = seed ^ TEST_SEED_MASK;
    let draw = |count: usize, seed: u64| {
        if channels == 1 {
            let bytes = size.checked_mul(size).and_then(|p| p.checked_mul(count));
            if bytes.is_none_or(|b| b > isize::MAX as usize) {
                return Err(invalid(
                    "synthetic dataset",
                    format!("{count} images of {size}×{size}"),
                    "the images do not fit in memory",
                ));
            }
            gray(count, size, seed)
        } else {
            colour_shapes(count, size, seed)
        }
    };
    let shape_names = || {
        SHAPE_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    let fixed = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let plain = |class_names: Vec<String>| -> Result<SyntheticData> {
        Ok(SyntheticData {
            train: draw(train, seed)?,
            test: draw(test, test_seed)?,
            class_names,
            coarse: None,
        })
    };
    match format {
        SyntheticFormat::Idx
        | SyntheticFormat::Cifar10Python
        | SyntheticFormat::Cifar10Binary
        | SyntheticFormat::Stl10 => plain(shape_names()),
        SyntheticFormat::Svhn => plain(fixed(&svhn::CLASS_NAMES)),
        SyntheticFormat::Usps => plain(fixed(&usps::USPS_CLASS_NAMES)),
        SyntheticFormat::Qmnist => plain(fixed(&emnist::QMNIST_CLASS_NAMES)),
        SyntheticFormat::Emnist(split) => {
            let mut data = plain(fixed(split.class_names()))?;
            if split == EmnistSplit::Letters {
                data.train = shifted(&data.train, 1)?;
                data.test = shifted(&data.test, 1)?;
            }
            Ok(data)
        }
        SyntheticFormat::Cifar100Python | SyntheticFormat::Cifar100Binary => {
            let fine = |split: Split| -> Result<(Split, Vec<u8>)> {
                let labels: Vec<u8> = split
                    .labels()
                    .iter()
                    .enumerate()
                    .map(|(i, &shape)| shape * 10 + (i % 10) as u8)
                    .collect();
                let coarse = labels.iter().map(|&f| f / 5).collect();
                Ok((with_labels(&split, labels)?, coarse))
            };
            let (train_split, train_coarse) = fine(draw(train, seed)?)?;
            let (test_split, test_coarse) = fine(draw(test, test_seed)?)?;
            let class_names = SHAPE_NAMES
                .iter()
                .flat_map(|s| (0..10).map(move |k| format!("{s} {k}")))
                .collect();
            let names = SHAPE_NAMES
                .iter()
                .flat_map(|s| [format!("{s} 0-4"), format!("{s} 5-9")])
                .collect();
            Ok(SyntheticData {
                train: train_split,
                test: test_split,
                class_names,
                coarse: Some(CoarseLabels {
                    train: train_coarse,
                    test: test_coarse,
                    names,
                }),
            })
        }
        SyntheticFormat::ImageFolder(_) => {
            let classes = SHAPE_NAMES.len();
            let train = with_every_class("train", train, classes, |n| draw(n, seed))?;
            let test = with_every_class("test", test, classes, |n| draw(n, test_seed))?;
            let mut sorted = SHAPE_NAMES;
            sorted.sort_unstable();
            let map: Vec<u8> = SHAPE_NAMES
                .iter()
                .map(|s| sorted.iter().position(|t| t == s).unwrap_or(0) as u8)
                .collect();
            Ok(SyntheticData {
                train: relabelled(&train, &map)?,
                test: relabelled(&test, &map)?,
                class_names: sorted.iter().map(|s| s.to_string()).collect(),
                coarse: None,
            })
        }
    }
}

/// Writes the synthetic shapes in `format` under `root` (created if needed), exactly where
/// torchvision looks for that dataset under its `root` (see the [module](self)
/// documentation): `train` training and `test` test images at the format's native size,
/// the same bytes for the same `seed`. Existing files of the same names are replaced.
///
/// Returns the dataset name and data folder to load it with, and whether loading needs
/// [`ReadOptions::unverified`](crate::ReadOptions::unverified).
///
/// # Errors
/// [`DataError::InvalidArgument`] for counts the format cannot hold (0 images, fewer than 5
/// training images for CIFAR-10, fewer than 10 per split for an image folder);
/// [`DataError::Io`] naming the file that cannot be written.
pub fn write_synthetic_format(
    root: &Path,
    format: SyntheticFormat,
    train: usize,
    test: usize,
    seed: u64,
) -> Result<SyntheticWritten> {
    let data = synthetic_data(format, train, test, seed)?;
    std::fs::create_dir_all(root).map_err(|source| DataError::Io {
        path: root.to_path_buf(),
        action: "cannot create",
        source,
    })?;
    let (tr, te, names) = (&data.train, &data.test, &data.class_names);
    let cifar100 = |dir: &Path, python: bool| -> Result<()> {
        let coarse = data
            .coarse
            .as_ref()
            .ok_or_else(|| invalid("format", format.name().into(), "no coarse labels were made"))?;
        let splits = Cifar100Splits {
            train: tr,
            train_coarse: &coarse.train,
            test: te,
            test_coarse: &coarse.test,
            fine_names: names,
            coarse_names: &coarse.names,
        };
        if python {
            cifar::write_cifar100_python(dir, &splits)
        } else {
            cifar::write_cifar100_binary(dir, &splits)
        }
    };
    match format {
        SyntheticFormat::Idx => write_synthetic(
            root,
            &SyntheticConfig {
                train,
                test,
                size: 28,
                seed,
                gzip: true,
            },
        )?,
        SyntheticFormat::Cifar10Python => cifar::write_cifar10_python(
            &root.join(cifar::CIFAR10_PYTHON_ARCHIVE.folder),
            tr,
            te,
            names,
        )?,
        SyntheticFormat::Cifar10Binary => cifar::write_cifar10_binary(
            &root.join(cifar::CIFAR10_BINARY_ARCHIVE.folder),
            tr,
            te,
            names,
        )?,
        SyntheticFormat::Cifar100Python => {
            cifar100(&root.join(cifar::CIFAR100_PYTHON_ARCHIVE.folder), true)?
        }
        SyntheticFormat::Cifar100Binary => {
            cifar100(&root.join(cifar::CIFAR100_BINARY_ARCHIVE.folder), false)?
        }
        SyntheticFormat::Svhn => {
            svhn::write_svhn(root, tr, te)?;
        }
        SyntheticFormat::Stl10 => {
            stl10::write_stl10(&root.join(stl10::STL10_FOLDER), tr, te, names)?
        }
        SyntheticFormat::Usps => usps::write_usps(root, tr, te)?,
        SyntheticFormat::Emnist(split) => {
            emnist::write_emnist(&root.join(emnist::EMNIST_RAW_FOLDER), split, tr, te)?
        }
        SyntheticFormat::Qmnist => {
            emnist::write_qmnist(&root.join(emnist::QMNIST_RAW_FOLDER), tr, te)?
        }
        SyntheticFormat::ImageFolder(image_format) => {
            // The writer takes the names in label order: the sorted shape names.
            imagefolder::write_image_folder(root, tr, Some(te), names, image_format)?
        }
    }
    Ok(SyntheticWritten {
        format,
        dataset: format.dataset_name(root),
        data_dir: root.to_path_buf(),
        unverified: format.needs_unverified(),
        train: tr.len(),
        test: te.len(),
        classes: names.len(),
        image_shape: tr.image_shape(),
    })
}
