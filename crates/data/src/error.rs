//! The one error type of this crate: every variant names the file or value at fault.

use std::path::PathBuf;

/// Everything that can go wrong while finding, downloading, checking or loading a dataset.
///
/// Each message names the file (or the value) and says what is wrong with it in words a
/// user understands, so a command-line tool can print it as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done ("cannot read", "cannot create", …).
        action: &'static str,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An IDX file is malformed; `defect` says how.
    #[error("{path}: not a valid IDX file: {defect}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        defect: IdxDefect,
    },
    /// A dataset file of another format than IDX (pickle, MAT, binary, libsvm text, image)
    /// is malformed, or holds something this crate refuses to read.
    #[error("{path}: {problem}")]
    Malformed {
        /// The file (or folder).
        path: PathBuf,
        /// What is wrong with it, in words a user understands.
        problem: String,
    },
    /// The images and the labels of one split disagree in number.
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels; the two files must belong together")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Images it holds.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Labels it holds.
        label_count: usize,
    },
    /// A label is not a valid class of the dataset.
    #[error("{path}: label {label} at index {index} is out of range: {dataset} has {classes} classes (0..={max})", max = .classes - 1)]
    LabelOutOfRange {
        /// The label file.
        path: PathBuf,
        /// Position of the first bad label.
        index: usize,
        /// The bad label.
        label: u8,
        /// The dataset's name.
        dataset: String,
        /// Its number of classes.
        classes: usize,
    },
    /// Train and test images differ in shape.
    #[error("{train} has images of {train_shape:?} (channels, rows, columns) but {test} has {test_shape:?}; train and test images must have the same shape")]
    ShapeMismatch {
        /// The training image file.
        train: PathBuf,
        /// Its image shape.
        train_shape: [usize; 3],
        /// The test image file.
        test: PathBuf,
        /// Its image shape.
        test_shape: [usize; 3],
    },
    /// A file's content does not match the published checksum.
    #[error("{path}: checksum mismatch: MD5 {actual}, expected {expected} ({what}); the file is corrupt or belongs to another dataset — delete it and fetch it again")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// Which bytes were hashed ("decompressed content" or "gzip file").
        what: &'static str,
        /// The published MD5.
        expected: String,
        /// The MD5 of the file.
        actual: String,
    },
    /// A dataset file differs from the published one, and unverified reading was not allowed.
    #[error("{path}: MD5 {actual}, but the published file has {expected}: this copy was re-packed, subsetted or made by another program; delete it and fetch the original, or allow unverified files (unverified) to use it as it is")]
    NotPublished {
        /// The file.
        path: PathBuf,
        /// The published MD5.
        expected: String,
        /// The file's MD5.
        actual: String,
    },
    /// A dataset of [`Archive`](crate::Archive) was found nowhere.
    #[error("dataset {dataset} not found. Places tried:{}\nTo get it:\n  - {how}\n  - or put its files in the data folder: {expected}", .tried.iter().map(|t| format!("\n  - {t}")).collect::<String>())]
    ArchiveNotFound {
        /// The dataset's title.
        dataset: String,
        /// Every place looked at, with why it was not used.
        tried: Vec<String>,
        /// The files of each layout, as a list.
        expected: String,
        /// How to get the data.
        how: String,
    },
    /// A dataset name the registry does not know.
    #[error("unknown dataset '{0}': expected one of mnist, fashion-mnist, kmnist, cifar10, cifar100, svhn, stl10, usps, emnist-<byclass|bymerge|balanced|letters|digits|mnist>, qmnist, idx:<DIR> for a folder of IDX files, or imagefolder:<DIR> for a folder of class folders")]
    UnknownDataset(String),
    /// A directory given for `idx:<DIR>` does not hold the four files, or holds ambiguous ones.
    #[error("{dir}: {problem}")]
    IdxDirectory {
        /// The directory.
        dir: PathBuf,
        /// What is missing or ambiguous.
        problem: String,
    },
    /// The dataset was found nowhere and could not be downloaded.
    #[error("{}", not_found_message(.dataset, .tried, .hints))]
    NotFound {
        /// The dataset's name.
        dataset: String,
        /// Every place looked at, with why it was not used.
        tried: Vec<String>,
        /// Ways to get the data.
        hints: Vec<Hint>,
    },
    /// The data folder ([`Locator::data_dir`](crate::Locator::data_dir)) does not exist.
    #[error("data folder {path}: no such folder")]
    NoSuchDataDir {
        /// The folder.
        path: PathBuf,
    },
    /// A sampler name that is not one of the [`SamplerKind`](crate::SamplerKind)s.
    #[error("sampler '{value}': expected balanced, shuffle or sequential")]
    UnknownSampler {
        /// The name given.
        value: String,
    },
    /// A hold-out size that leaves no image on one side of the split.
    #[error("holdout {holdout}: must be between 1 and {max} (the training set's size minus one)")]
    HoldoutOutOfRange {
        /// The number of images asked for.
        holdout: usize,
        /// The largest valid number: the training set's size minus one.
        max: usize,
    },
    /// A download failed; nothing was left where a later run would read it.
    #[error("download of {url} failed: {reason}")]
    Download {
        /// The address.
        url: String,
        /// Why.
        reason: String,
    },
    /// A value passed by the caller is out of range.
    #[error("{name} = {value}: {problem}")]
    InvalidArgument {
        /// The argument or field, as the API names it (`pixels`, `synthetic dataset`).
        name: String,
        /// Its value.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// Building a tensor failed.
    #[error("building a tensor: {0}")]
    Tensor(#[from] candle_core::Error),
}

fn not_found_message(dataset: &str, tried: &[String], hints: &[Hint]) -> String {
    let mut s = format!("dataset {dataset} not found. Places tried:");
    for t in tried {
        s.push_str("\n  - ");
        s.push_str(t);
    }
    s.push_str("\nTo get it:");
    for h in hints {
        s.push_str("\n  - ");
        s.push_str(&h.to_string());
    }
    s
}

/// One way to get a dataset that was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// Install a system package (the command line to run).
    Package(&'static str),
    /// Point [`Locator::data_dir`](crate::Locator::data_dir) at a folder holding these files.
    DataDir {
        /// The file names, without `.gz`.
        files: [&'static str; 4],
    },
    /// Set [`DATA_ENV`](crate::DATA_ENV) to a folder holding a folder of this name.
    EnvDir {
        /// The dataset's folder name (`mnist`).
        folder: &'static str,
    },
    /// Allow downloads: the data comes from this mirror into the cache.
    Download {
        /// The first mirror.
        mirror: &'static str,
    },
}

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hint::Package(p) => f.write_str(p),
            Hint::DataDir { files } => {
                write!(
                    f,
                    "a data folder holding {} (each may be .gz)",
                    files.join(", ")
                )
            }
            Hint::EnvDir { folder } => write!(
                f,
                "set {} to a folder holding a {folder}/ folder",
                crate::DATA_ENV
            ),
            Hint::Download { mirror } => write!(
                f,
                "with network access it is downloaded from {mirror} into the cache"
            ),
        }
    }
}

/// What is wrong with an IDX file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdxDefect {
    /// Fewer bytes than a header needs.
    #[error("the file is {len} bytes long, too short for an IDX header of {needed} bytes")]
    TooShortForHeader {
        /// Bytes present.
        len: usize,
        /// Bytes a header needs.
        needed: usize,
    },
    /// The magic number is not the expected one.
    #[error("magic number {found:#010x} ({found}), expected {expected} ({what})")]
    BadMagic {
        /// The magic found.
        found: u32,
        /// The magic expected, as text (several may be valid).
        expected: String,
        /// What kind of file was expected.
        what: &'static str,
    },
    /// A dimension in the header is zero.
    #[error("dimension {index} of the header is 0; every dimension must be at least 1")]
    ZeroDimension {
        /// Which dimension (0 = item count).
        index: usize,
    },
    /// The header declares more data than the file holds.
    #[error("the header declares {declared} data bytes ({dims}) but the file holds only {actual}; the file is truncated")]
    Truncated {
        /// Bytes declared.
        declared: u64,
        /// The dimensions, as text.
        dims: String,
        /// Bytes present.
        actual: u64,
    },
    /// The file holds more bytes than the header declares.
    #[error("the header declares {declared} data bytes ({dims}) but the file holds more; trailing bytes mean a wrong header or a corrupt file")]
    TrailingBytes {
        /// Bytes declared.
        declared: u64,
        /// The dimensions, as text.
        dims: String,
    },
    /// The header declares an impossibly large file.
    #[error("the header declares {dims} = more than {limit} bytes, which no dataset this tool reads can have")]
    TooLarge {
        /// The dimensions, as text.
        dims: String,
        /// The largest accepted size.
        limit: u64,
    },
    /// The gzip stream is broken.
    #[error("the gzip stream is corrupt: {0}")]
    Gzip(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
