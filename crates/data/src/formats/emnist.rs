//! EMNIST and QMNIST: MNIST-like IDX files with a twist each.
//!
//! **EMNIST** (`EMNIST(root, split)` in torchvision) keeps the files of one split in
//! `root/EMNIST/raw/`: `emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte`, as
//! extracted from the published `gzip.zip` (a `.gz` copy is read too). The image files store
//! every image **transposed** (rows are the glyph's columns). torchvision returns them as
//! stored, so its `EMNIST(...).data[i]` is the glyph mirrored on its diagonal (a known
//! torchvision behaviour, pytorch/vision issue 8783); [`read_emnist`] transposes them back,
//! so its images are upright like MNIST's: pixel (`row`, `col`) of an image here is
//! `EMNIST(...).data[i][col][row]` in torchvision. Labels and class names are torchvision's
//! (`EMNIST.classes_split_dict`); in `letters`, label 0 (`N/A`) is never used.
//!
//! Only the archive's MD5 is published ([`EMNIST_ARCHIVE_MD5`]), not one per extracted file;
//! a copy can be checked against the published image counts ([`EmnistSplit::counts`]).
//!
//! **QMNIST** (`QMNIST(root, what)` in torchvision) keeps
//! `root/QMNIST/raw/qmnist-{train,test}-{images-idx3-ubyte,labels-idx2-int}` (and their
//! `.gz`). The images are MNIST's format, stored upright. The labels are an IDX file of
//! big-endian `int32` with two dimensions, `count × 8`: the first column is the digit, the
//! others say where in NIST it comes from. torchvision's default (`compat=True`) keeps the
//! first column, and so does [`read_qmnist`].

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::dataset::Split;
use crate::error::{DataError, Result};
use crate::formats::Loaded;
use crate::idx::{
    encode_images, encode_labels, read_images, read_labels, write_atomic, IdxImages, MAX_DATA_BYTES,
};

/// Where the EMNIST archive is published (torchvision's `EMNIST.url`).
pub const EMNIST_ARCHIVE_URL: &str = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip";
/// MD5 of the EMNIST archive `gzip.zip` (torchvision's `EMNIST.md5`), the only EMNIST
/// checksum published: the files extracted from it have none.
pub const EMNIST_ARCHIVE_MD5: &str = "58c8d27c78d21e728a6bc7b3cc06412e";
/// The folder, under torchvision's `root`, that holds EMNIST's files.
pub const EMNIST_RAW_FOLDER: &str = "EMNIST/raw";

const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
const BYCLASS: [&str; 62] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F", "G", "H", "I",
    "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "a", "b",
    "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u",
    "v", "w", "x", "y", "z",
];
/// `byclass` without the lowercase letters merged into their uppercase (c i j k l m o p s u v
/// w x y z).
const BYMERGE: [&str; 47] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F", "G", "H", "I",
    "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "a", "b",
    "d", "e", "f", "g", "h", "n", "q", "r", "t",
];
const LETTERS: [&str; 27] = [
    "N/A", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q",
    "r", "s", "t", "u", "v", "w", "x", "y", "z",
];

/// One of EMNIST's six splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmnistSplit {
    /// Digits, uppercase and lowercase letters: 62 classes.
    ByClass,
    /// As `ByClass` with 15 lowercase letters merged into their uppercase: 47 classes.
    ByMerge,
    /// The 47 classes of `ByMerge`, the same number of images in each.
    Balanced,
    /// Letters, upper and lower case merged: labels 1..=26 (`a`..`z`); label 0 (`N/A`) is
    /// unused.
    Letters,
    /// Digits: 10 classes.
    Digits,
    /// Digits, MNIST's sizes: 10 classes.
    Mnist,
}

impl EmnistSplit {
    /// All six splits, in torchvision's order.
    pub const ALL: [EmnistSplit; 6] = [
        EmnistSplit::ByClass,
        EmnistSplit::ByMerge,
        EmnistSplit::Balanced,
        EmnistSplit::Letters,
        EmnistSplit::Digits,
        EmnistSplit::Mnist,
    ];

    /// The split's name in the file names and in torchvision (`byclass`, `letters`, …).
    pub fn name(self) -> &'static str {
        match self {
            EmnistSplit::ByClass => "byclass",
            EmnistSplit::ByMerge => "bymerge",
            EmnistSplit::Balanced => "balanced",
            EmnistSplit::Letters => "letters",
            EmnistSplit::Digits => "digits",
            EmnistSplit::Mnist => "mnist",
        }
    }

    /// The class names in label order (torchvision's `EMNIST.classes_split_dict`).
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            EmnistSplit::ByClass => &BYCLASS,
            EmnistSplit::ByMerge | EmnistSplit::Balanced => &BYMERGE,
            EmnistSplit::Letters => &LETTERS,
            EmnistSplit::Digits | EmnistSplit::Mnist => &DIGITS,
        }
    }

    /// Images in the published training and test files (the EMNIST paper, Cohen et al.
    /// 2017), the one check available for an extracted copy.
    pub fn counts(self) -> (usize, usize) {
        match self {
            EmnistSplit::ByClass | EmnistSplit::ByMerge => (697_932, 116_323),
            EmnistSplit::Balanced => (112_800, 18_800),
            EmnistSplit::Letters => (124_800, 20_800),
            EmnistSplit::Digits => (240_000, 40_000),
            EmnistSplit::Mnist => (60_000, 10_000),
        }
    }

    /// The name of one of the split's files, without `.gz`:
    /// `emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte`.
    pub fn file_name(self, train: bool, images: bool) -> String {
        format!(
            "emnist-{}-{}-{}-ubyte",
            self.name(),
            if train { "train" } else { "test" },
            if images { "images-idx3" } else { "labels-idx1" }
        )
    }
}

impl fmt::Display for EmnistSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EmnistSplit {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        EmnistSplit::ALL
            .into_iter()
            .find(|split| split.name() == s)
            .ok_or_else(|| DataError::InvalidArgument {
                name: "EMNIST split".into(),
                value: s.to_string(),
                problem: "expected byclass, bymerge, balanced, letters, digits or mnist".into(),
            })
    }
}

fn malformed(path: &Path, problem: impl Into<String>) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.to_path_buf();
    move |source| DataError::Io {
        path,
        action,
        source,
    }
}

/// The folder that holds `first_file` (or its `.gz`): `dir` itself, else torchvision's
/// `dir/<raw>` (so torchvision's `root` works too). `dir` when neither has it.
fn files_dir(dir: &Path, raw: &str, first_file: &str) -> PathBuf {
    let has =
        |d: &Path| d.join(first_file).is_file() || d.join(format!("{first_file}.gz")).is_file();
    let nested = dir.join(raw);
    if !has(dir) && has(&nested) {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// `dir/name` if it exists, else `dir/name.gz` if that exists (torchvision reads the
/// uncompressed file, and leaves both after a download).
fn file_path(dir: &Path, name: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(malformed(
        &plain,
        format!("no such file (nor {name}.gz) in {}", dir.display()),
    ))
}

/// Transposes every plane of `images` (rows become columns); returns the pixels and the new
/// `[channels, rows, cols]`.
fn transposed(images: &IdxImages) -> (Vec<u8>, [usize; 3]) {
    let (rows, cols) = (images.rows, images.cols);
    let plane = rows * cols;
    let mut out = Vec::with_capacity(images.pixels.len());
    for p in images.pixels.chunks_exact(plane) {
        for c in 0..cols {
            out.extend((0..rows).map(|r| p[r * cols + c]));
        }
    }
    (out, [images.channels, cols, rows])
}

fn check_labels(path: &Path, labels: &[u8], classes: usize, dataset: &str) -> Result<()> {
    match labels.iter().position(|&l| l as usize >= classes) {
        Some(index) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: labels[index],
            dataset: dataset.to_string(),
            classes,
        }),
        None => Ok(()),
    }
}

fn check_shapes(train: (&Path, [usize; 3]), test: (&Path, [usize; 3])) -> Result<()> {
    if train.1 != test.1 {
        return Err(DataError::ShapeMismatch {
            train: train.0.to_path_buf(),
            train_shape: train.1,
            test: test.0.to_path_buf(),
            test_shape: test.1,
        });
    }
    Ok(())
}

/// One EMNIST split's images (transposed upright) and labels.
fn read_emnist_part(dir: &Path, split: EmnistSplit, train: bool) -> Result<(PathBuf, Split)> {
    let images_path = file_path(dir, &split.file_name(train, true))?;
    let labels_path = file_path(dir, &split.file_name(train, false))?;
    let (images, _) = read_images(&images_path)?;
    let (labels, _) = read_labels(&labels_path)?;
    if images.count != labels.labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path,
            image_count: images.count,
            labels: labels_path,
            label_count: labels.labels.len(),
        });
    }
    let title = format!("EMNIST {split}");
    check_labels(
        &labels_path,
        &labels.labels,
        split.class_names().len(),
        &title,
    )?;
    let (pixels, shape) = transposed(&images);
    Ok((images_path, Split::new(pixels, labels.labels, shape)?))
}

/// Reads one EMNIST split from `dir`: the folder holding its four files (torchvision's
/// `root/EMNIST/raw`), or torchvision's `root` itself.
///
/// Images come back upright (transposed from the files' layout, see the
/// [module documentation](self)): `1 × 28 × 28` for the published files. Labels are
/// checked against the split's class count; the class names are torchvision's.
///
/// # Errors
/// [`DataError::Malformed`] for a missing file; [`DataError::Format`] for a malformed IDX
/// file; [`DataError::CountMismatch`], [`DataError::LabelOutOfRange`] and
/// [`DataError::ShapeMismatch`] naming the files that disagree; [`DataError::Io`] for an
/// unreadable file.
pub fn read_emnist(dir: &Path, split: EmnistSplit) -> Result<Loaded> {
    let dir = files_dir(dir, EMNIST_RAW_FOLDER, &split.file_name(true, true));
    let (train_path, train) = read_emnist_part(&dir, split, true)?;
    let (test_path, test) = read_emnist_part(&dir, split, false)?;
    check_shapes(
        (&train_path, train.image_shape()),
        (&test_path, test.image_shape()),
    )?;
    Ok(Loaded {
        train,
        test: Some(test),
        class_names: split.class_names().iter().map(|c| c.to_string()).collect(),
    })
}

fn check_split(name: &str, split: &Split, classes: usize, dataset: &str) -> Result<()> {
    let [channels, rows, cols] = split.image_shape();
    if split.is_empty() {
        return Err(DataError::InvalidArgument {
            name: format!("{name} split"),
            value: "0 images".into(),
            problem: format!("{dataset} files must hold at least one image"),
        });
    }
    if channels != 1 {
        return Err(DataError::InvalidArgument {
            name: format!("{name} split"),
            value: format!(
                "images of {:?} (channels, rows, columns)",
                split.image_shape()
            ),
            problem: format!("{dataset} files hold one-channel images only"),
        });
    }
    if u32::try_from(split.len()).is_err() || u32::try_from(rows.max(cols)).is_err() {
        return Err(DataError::InvalidArgument {
            name: format!("{name} split"),
            value: format!("{} images of {rows} × {cols}", split.len()),
            problem: "too large for an IDX file (each size must fit in 32 bits)".into(),
        });
    }
    if let Some(i) = split.labels().iter().position(|&l| l as usize >= classes) {
        return Err(DataError::InvalidArgument {
            name: format!("{name} label {i}"),
            value: split.labels()[i].to_string(),
            problem: format!(
                "{dataset} has {classes} classes (labels 0..={})",
                classes - 1
            ),
        });
    }
    Ok(())
}

/// The IDX image file of a split, each image stored as given or transposed.
fn image_file(split: &Split, transpose: bool) -> Vec<u8> {
    let [_, rows, cols] = split.image_shape();
    let mut pixels = Vec::with_capacity(split.len() * rows * cols);
    for i in 0..split.len() {
        pixels.extend_from_slice(split.image(i));
    }
    let upright = IdxImages {
        count: split.len(),
        channels: 1,
        rows,
        cols,
        pixels,
    };
    if !transpose {
        return encode_images(&upright);
    }
    let (pixels, [_, rows, cols]) = transposed(&upright);
    encode_images(&IdxImages {
        count: split.len(),
        channels: 1,
        rows,
        cols,
        pixels,
    })
}

/// Writes `train` and `test` to `dir` (created if absent) as the four uncompressed files of
/// an EMNIST split, as torchvision leaves them in `root/EMNIST/raw`: each image stored
/// transposed, as the published files store them, so that [`read_emnist`] returns the
/// images given and torchvision their transposes.
///
/// # Errors
/// [`DataError::InvalidArgument`] for images of more than one channel or a label not a class
/// of `split`; [`DataError::Io`] when a file cannot be written.
pub fn write_emnist(dir: &Path, split: EmnistSplit, train: &Split, test: &Split) -> Result<()> {
    let title = format!("EMNIST {split}");
    let classes = split.class_names().len();
    check_split("train", train, classes, &title)?;
    check_split("test", test, classes, &title)?;
    std::fs::create_dir_all(dir).map_err(io(dir, "cannot create"))?;
    for (is_train, part) in [(true, train), (false, test)] {
        write_atomic(
            &dir.join(split.file_name(is_train, true)),
            &image_file(part, true),
        )?;
        write_atomic(
            &dir.join(split.file_name(is_train, false)),
            &encode_labels(part.labels()),
        )?;
    }
    Ok(())
}

/// The folder, under torchvision's `root`, that holds QMNIST's files.
pub const QMNIST_RAW_FOLDER: &str = "QMNIST/raw";
/// QMNIST's class names, in label order.
pub const QMNIST_CLASS_NAMES: [&str; 10] = DIGITS;
/// Magic number of a QMNIST label file: `int32` (type code 0x0C), 2 dimensions.
pub const QMNIST_LABELS_MAGIC: u32 = 0x0000_0C02;
/// Columns of a published QMNIST label file (the digit, then seven about its origin).
pub const QMNIST_LABEL_COLUMNS: usize = 8;
/// Images in the published `qmnist-train` and `qmnist-test` files.
pub const QMNIST_COUNTS: (usize, usize) = (60_000, 60_000);
/// The four files of QMNIST's `train` and `test`: name (without `.gz`), address of the
/// published `.gz`, and its MD5 (torchvision's `QMNIST.resources`; the checksums are of the
/// `.gz` files).
pub const QMNIST_FILES: [(&str, &str, &str); 4] = [
    (
        "qmnist-train-images-idx3-ubyte",
        "https://raw.githubusercontent.com/facebookresearch/qmnist/master/qmnist-train-images-idx3-ubyte.gz",
        "ed72d4157d28c017586c42bc6afe6370",
    ),
    (
        "qmnist-train-labels-idx2-int",
        "https://raw.githubusercontent.com/facebookresearch/qmnist/master/qmnist-train-labels-idx2-int.gz",
        "0058f8dd561b90ffdd0f734c6a30e5e4",
    ),
    (
        "qmnist-test-images-idx3-ubyte",
        "https://raw.githubusercontent.com/facebookresearch/qmnist/master/qmnist-test-images-idx3-ubyte.gz",
        "1394631089c404de565df7b7aeaf9412",
    ),
    (
        "qmnist-test-labels-idx2-int",
        "https://raw.githubusercontent.com/facebookresearch/qmnist/master/qmnist-test-labels-idx2-int.gz",
        "5b5b05890a5e13444e108efe57b788aa",
    ),
];

/// A QMNIST label file: `rows × columns` big-endian `int32`, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QmnistLabels {
    /// Number of rows (one per image).
    pub rows: usize,
    /// Values per row (8 in the published files).
    pub columns: usize,
    /// `rows × columns` values.
    pub values: Vec<i32>,
}

impl QmnistLabels {
    /// The first column: the class of each image.
    pub fn classes(&self) -> impl Iterator<Item = i32> + '_ {
        self.values
            .chunks_exact(self.columns.max(1))
            .map(|row| row[0])
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const QMNIST_HEADER: usize = 12;

/// Parses the bytes of a QMNIST label file (raw or gzip, detected from the content): magic
/// `0x00000C02`, two dimensions, then the values. Never panics, whatever the bytes;
/// allocates no more than the bytes present (and the decompressed stream) justify.
///
/// The error is the problem in words; [`read_qmnist_labels`] adds the file's name.
pub fn parse_qmnist_labels(bytes: &[u8]) -> Result<QmnistLabels, String> {
    let content;
    let bytes = if bytes.starts_with(&GZIP_MAGIC) {
        let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
        let mut head = Vec::with_capacity(QMNIST_HEADER);
        (&mut decoder)
            .take(QMNIST_HEADER as u64)
            .read_to_end(&mut head)
            .map_err(gzip_problem)?;
        let data = header(&head)?.2;
        let reserve = data.min(bytes.len() as u64 * 8) as usize;
        let mut all = Vec::with_capacity(QMNIST_HEADER + reserve);
        all.extend_from_slice(&head);
        (&mut decoder)
            .take(data + 1)
            .read_to_end(&mut all)
            .map_err(gzip_problem)?;
        content = all;
        &content[..]
    } else {
        bytes
    };
    let (rows, columns, data) = header(bytes)?;
    let present = (bytes.len() - QMNIST_HEADER) as u64;
    if present < data {
        return Err(format!(
            "the header declares {rows} × {columns} int32 values = {data} bytes but the file holds only {present}; the file is truncated"
        ));
    }
    if present > data {
        return Err(format!(
            "the header declares {rows} × {columns} int32 values = {data} bytes but the file holds {present}; trailing bytes mean a wrong header or a corrupt file"
        ));
    }
    let values = bytes[QMNIST_HEADER..]
        .chunks_exact(4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(QmnistLabels {
        rows,
        columns,
        values,
    })
}

fn gzip_problem(e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "the gzip stream ends early (truncated download?)".into()
    } else {
        format!("the gzip stream is corrupt: {e}")
    }
}

/// Checks a QMNIST label header; returns rows, columns and the data bytes it declares.
fn header(bytes: &[u8]) -> Result<(usize, usize, u64), String> {
    if bytes.len() < QMNIST_HEADER {
        return Err(format!(
            "the file is {} bytes long, too short for the {QMNIST_HEADER}-byte header of an IDX file of 2 dimensions",
            bytes.len()
        ));
    }
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let magic = word(0);
    let expected = format!("expected {QMNIST_LABELS_MAGIC:#010x} (int32 values, 2 dimensions)");
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "magic number {magic:#010x} does not start with two zero bytes: not an IDX file; {expected}"
        ));
    }
    if bytes[2] != 0x0C {
        return Err(format!(
            "magic number {magic:#010x}: type code {:#04x}, not 0x0c (int32); {expected}",
            bytes[2]
        ));
    }
    if bytes[3] != 2 {
        return Err(format!(
            "magic number {magic:#010x}: {} dimensions, not 2 (images × columns); {expected}",
            bytes[3]
        ));
    }
    let (rows, columns) = (word(4) as usize, word(8) as usize);
    if rows == 0 {
        return Err("the header declares 0 rows; expected one row per image".into());
    }
    if columns == 0 {
        return Err("the header declares 0 columns; the first column must hold the class".into());
    }
    let data = (rows as u64)
        .checked_mul(columns as u64)
        .and_then(|n| n.checked_mul(4))
        .filter(|&n| n <= MAX_DATA_BYTES)
        .ok_or_else(|| {
            format!("the header declares {rows} × {columns} int32 values, more than {MAX_DATA_BYTES} bytes")
        })?;
    Ok((rows, columns, data))
}

/// Reads and checks a QMNIST label file (raw or gzip).
///
/// # Errors
/// [`DataError::Malformed`] naming the file for a wrong magic number (type code other than
/// 0x0C, dimensions other than 2), a zero dimension, a size that disagrees with the header
/// or a corrupt gzip stream; [`DataError::Io`] for an unreadable file.
pub fn read_qmnist_labels(path: &Path) -> Result<QmnistLabels> {
    let bytes = std::fs::read(path).map_err(io(path, "cannot read"))?;
    parse_qmnist_labels(&bytes).map_err(|problem| malformed(path, problem))
}

/// Encodes QMNIST labels as an IDX `int32` file of `rows × columns` (magic `0x00000C02`).
pub fn encode_qmnist_labels(labels: &QmnistLabels) -> Vec<u8> {
    let mut out = Vec::with_capacity(QMNIST_HEADER + 4 * labels.values.len());
    out.extend_from_slice(&QMNIST_LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.rows as u32).to_be_bytes());
    out.extend_from_slice(&(labels.columns as u32).to_be_bytes());
    for v in &labels.values {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

fn read_qmnist_part(dir: &Path, images: &str, labels: &str) -> Result<(PathBuf, Split)> {
    let images_path = file_path(dir, images)?;
    let labels_path = file_path(dir, labels)?;
    let (images, _) = read_images(&images_path)?;
    let table = read_qmnist_labels(&labels_path)?;
    if images.count != table.rows {
        return Err(DataError::CountMismatch {
            images: images_path,
            image_count: images.count,
            labels: labels_path,
            label_count: table.rows,
        });
    }
    let mut classes = Vec::with_capacity(table.rows);
    for (row, class) in table.classes().enumerate() {
        match u8::try_from(class) {
            Ok(c) if usize::from(c) < QMNIST_CLASS_NAMES.len() => classes.push(c),
            _ => {
                return Err(malformed(
                    &labels_path,
                    format!("row {row}: class {class} in the first column is not a digit 0..=9"),
                ))
            }
        }
    }
    let shape = [images.channels, images.rows, images.cols];
    Ok((images_path, Split::new(images.pixels, classes, shape)?))
}

/// Reads QMNIST's `train` and `test` from `dir`: the folder holding its files
/// (torchvision's `root/QMNIST/raw`), or torchvision's `root` itself. Each file may be
/// uncompressed or `.gz`; the uncompressed one is read when both are present.
///
/// Images are as stored (`1 × 28 × 28`, upright); labels are the first column of the label
/// files (torchvision's `compat=True` targets).
///
/// # Errors
/// [`DataError::Malformed`] for a missing file, a malformed label file (see
/// [`read_qmnist_labels`]) or a class outside 0..=9; [`DataError::Format`] for a malformed
/// image file; [`DataError::CountMismatch`] and [`DataError::ShapeMismatch`] naming the files
/// that disagree; [`DataError::Io`] for an unreadable file.
pub fn read_qmnist(dir: &Path) -> Result<Loaded> {
    let dir = files_dir(dir, QMNIST_RAW_FOLDER, QMNIST_FILES[0].0);
    let (train_path, train) = read_qmnist_part(&dir, QMNIST_FILES[0].0, QMNIST_FILES[1].0)?;
    let (test_path, test) = read_qmnist_part(&dir, QMNIST_FILES[2].0, QMNIST_FILES[3].0)?;
    check_shapes(
        (&train_path, train.image_shape()),
        (&test_path, test.image_shape()),
    )?;
    Ok(Loaded {
        train,
        test: Some(test),
        class_names: QMNIST_CLASS_NAMES.iter().map(|c| c.to_string()).collect(),
    })
}

/// Writes `train` and `test` to `dir` (created if absent) as QMNIST's four uncompressed
/// files, as torchvision leaves them in `root/QMNIST/raw`: the images as stored by MNIST, the
/// labels as `count × 8` `int32`, the class in the first column and the other seven 0.
///
/// # Errors
/// [`DataError::InvalidArgument`] for images of more than one channel or a label ≥ 10;
/// [`DataError::Io`] when a file cannot be written.
pub fn write_qmnist(dir: &Path, train: &Split, test: &Split) -> Result<()> {
    let classes = QMNIST_CLASS_NAMES.len();
    check_split("train", train, classes, "QMNIST")?;
    check_split("test", test, classes, "QMNIST")?;
    std::fs::create_dir_all(dir).map_err(io(dir, "cannot create"))?;
    for (part, [images, labels]) in [
        (train, [QMNIST_FILES[0].0, QMNIST_FILES[1].0]),
        (test, [QMNIST_FILES[2].0, QMNIST_FILES[3].0]),
    ] {
        write_atomic(&dir.join(images), &image_file(part, false))?;
        let mut values = vec![0i32; part.len() * QMNIST_LABEL_COLUMNS];
        for (row, &class) in values
            .chunks_exact_mut(QMNIST_LABEL_COLUMNS)
            .zip(part.labels())
        {
            row[0] = i32::from(class);
        }
        let table = QmnistLabels {
            rows: part.len(),
            columns: QMNIST_LABEL_COLUMNS,
            values,
        };
        write_atomic(&dir.join(labels), &encode_qmnist_labels(&table))?;
    }
    Ok(())
}
