//! CIFAR-10 and CIFAR-100, in both published layouts: Python pickles (what torchvision
//! reads) and the binary version (fixed-size records), with writers of the same files.
//!
//! Every image is 3 × 32 × 32 bytes, already planar (the red plane, then green, then blue,
//! each row by row), so a record's 3072 pixel bytes are the image in `[c, h, w]` order.
//! The pickles are read by [`pickle`], which executes nothing.
//!
//! | layout | folder | files |
//! |---|---|---|
//! | CIFAR-10, Python | `cifar-10-batches-py` | `data_batch_1`…`_5`, `test_batch`, `batches.meta` |
//! | CIFAR-100, Python | `cifar-100-python` | `train`, `test`, `meta` |
//! | CIFAR-10, binary | `cifar-10-batches-bin` | `data_batch_1.bin`…`_5.bin`, `test_batch.bin`, `batches.meta.txt` |
//! | CIFAR-100, binary | `cifar-100-binary` | `train.bin`, `test.bin`, `fine_label_names.txt`, `coarse_label_names.txt` |
//!
//! Readers check structure, not checksums; the published checksums are
//! [`CIFAR10_PYTHON_FILES`], [`CIFAR100_PYTHON_FILES`] and the archives' (`*_ARCHIVE`).

use std::path::{Path, PathBuf};

use super::pickle::{self, Value};
use super::Loaded;
use crate::dataset::Split;
use crate::error::{DataError, Result};

/// Bytes of one image: 3 channels × 32 rows × 32 columns.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;

/// The shape of every CIFAR image, `[channels, rows, cols]`.
pub const IMAGE_SHAPE: [usize; 3] = [3, 32, 32];

/// Largest file a reader accepts; the largest CIFAR file (CIFAR-100's training pickle) is
/// about 163 MB.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// A published archive of a CIFAR distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archive {
    /// Where it is published.
    pub url: &'static str,
    /// Its file name.
    pub file: &'static str,
    /// The MD5 of the archive, as published.
    pub md5: &'static str,
    /// The folder it extracts to, the `dir` its reader takes.
    pub folder: &'static str,
}

/// CIFAR-10, Python version (torchvision's `CIFAR10.url`, `filename`, `tgz_md5`,
/// `base_folder`).
pub const CIFAR10_PYTHON_ARCHIVE: Archive = Archive {
    url: "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    file: "cifar-10-python.tar.gz",
    md5: "c58f30108f718f92721af3b95e74349a",
    folder: "cifar-10-batches-py",
};

/// CIFAR-100, Python version (torchvision's `CIFAR100`).
pub const CIFAR100_PYTHON_ARCHIVE: Archive = Archive {
    url: "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    file: "cifar-100-python.tar.gz",
    md5: "eb9058c3a382ffc7106e4002c42a8d85",
    folder: "cifar-100-python",
};

/// CIFAR-10, binary version (MD5 as published on the CIFAR page).
pub const CIFAR10_BINARY_ARCHIVE: Archive = Archive {
    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    file: "cifar-10-binary.tar.gz",
    md5: "c32a1d4ab5d03f1284b67883e8d87530",
    folder: "cifar-10-batches-bin",
};

/// CIFAR-100, binary version (MD5 as published on the CIFAR page).
pub const CIFAR100_BINARY_ARCHIVE: Archive = Archive {
    url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    file: "cifar-100-binary.tar.gz",
    md5: "03b5dce01913d631647c71ecec9e9cb8",
    folder: "cifar-100-binary",
};

/// Every file [`read_cifar10_python`] reads, relative to `cifar-10-batches-py`, with its
/// MD5 from torchvision's `CIFAR10.train_list`, `test_list` and `meta`.
pub const CIFAR10_PYTHON_FILES: &[(&str, &str)] = &[
    ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
    ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
    ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
    ("data_batch_4", "634d18415352ddfa80567beed471001a"),
    ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
    ("test_batch", "40351d587109b95175f43aff81a1287e"),
    ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
];

/// Every file [`read_cifar100_python`] reads, relative to `cifar-100-python`, with its MD5
/// from torchvision's `CIFAR100.train_list`, `test_list` and `meta`.
pub const CIFAR100_PYTHON_FILES: &[(&str, &str)] = &[
    ("train", "16019d7e3df5f24257cddd939b257f8d"),
    ("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),
    ("meta", "7973b15100ade9c7d40fb424638fde48"),
];

/// Every file [`read_cifar10_binary`] reads, relative to `cifar-10-batches-bin`. No
/// checksum of the single files is published, only the archive's
/// ([`CIFAR10_BINARY_ARCHIVE`]).
pub const CIFAR10_BINARY_FILES: &[&str] = &[
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
    "batches.meta.txt",
];

/// Every file [`read_cifar100_binary`] reads, relative to `cifar-100-binary`. No checksum
/// of the single files is published, only the archive's ([`CIFAR100_BINARY_ARCHIVE`]).
pub const CIFAR100_BINARY_FILES: &[&str] = &[
    "train.bin",
    "test.bin",
    "fine_label_names.txt",
    "coarse_label_names.txt",
];

/// Classes of CIFAR-10.
pub const CIFAR10_CLASSES: usize = 10;
/// Fine classes of CIFAR-100.
pub const CIFAR100_FINE_CLASSES: usize = 100;
/// Coarse classes (superclasses) of CIFAR-100.
pub const CIFAR100_COARSE_CLASSES: usize = 20;

const CIFAR10_TRAIN_BATCHES: usize = 5;

/// The splits of a CIFAR-100 dataset to write: images with fine labels, coarse labels
/// beside them, and both lists of class names.
#[derive(Debug, Clone, Copy)]
pub struct Cifar100Splits<'a> {
    /// Training images with their fine labels.
    pub train: &'a Split,
    /// The coarse label of each training image.
    pub train_coarse: &'a [u8],
    /// Test images with their fine labels.
    pub test: &'a Split,
    /// The coarse label of each test image.
    pub test_coarse: &'a [u8],
    /// Names of the fine classes (at most 100).
    pub fine_names: &'a [String],
    /// Names of the coarse classes (at most 20).
    pub coarse_names: &'a [String],
}

fn malformed(path: &Path, problem: impl Into<String>) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Reads a whole file, refusing one larger than [`MAX_FILE_BYTES`] before reading it.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    let io = |action: &'static str| {
        move |source| DataError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };
    let len = std::fs::metadata(path).map_err(io("cannot read"))?.len();
    if len > MAX_FILE_BYTES {
        return Err(malformed(
            path,
            format!("the file is {len} bytes; no CIFAR file is larger than {MAX_FILE_BYTES}"),
        ));
    }
    std::fs::read(path).map_err(io("cannot read"))
}

/// Images and labels gathered from the files of one split.
#[derive(Default)]
struct Gathered {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl Gathered {
    fn into_split(self, files: &str, dir: &Path) -> Result<Split> {
        if self.labels.is_empty() {
            return Err(malformed(dir, format!("{files} hold no image")));
        }
        Split::new(self.pixels, self.labels, IMAGE_SHAPE)
    }
}

// ---------------------------------------------------------------------------------------
// Python version

/// Reads CIFAR-10's Python version from `dir`, the `cifar-10-batches-py` folder: training
/// images from `data_batch_1` to `data_batch_5`, test images from `test_batch`, class
/// names from `batches.meta` (`label_names`).
///
/// Pickles written by Python 2 (the published files) and by Python 3 with numpy 1 or 2
/// (protocols 2 to 5) are read; keys may be `str` or `bytes`. Checksums are not verified
/// (see [`CIFAR10_PYTHON_FILES`]).
pub fn read_cifar10_python(dir: &Path) -> Result<Loaded> {
    let meta_path = dir.join("batches.meta");
    let meta_bytes = read_file(&meta_path)?;
    let meta = pickle::parse(&meta_bytes, &meta_path)?;
    let class_names = names(&meta_path, &meta, "label_names", CIFAR10_CLASSES)?;
    let mut train = Gathered::default();
    for i in 1..=CIFAR10_TRAIN_BATCHES {
        let path = dir.join(format!("data_batch_{i}"));
        read_batch(&path, "labels", class_names.len(), "CIFAR-10", &mut train)?;
    }
    let mut test = Gathered::default();
    read_batch(
        &dir.join("test_batch"),
        "labels",
        class_names.len(),
        "CIFAR-10",
        &mut test,
    )?;
    Ok(Loaded {
        train: train.into_split("data_batch_1 to data_batch_5", dir)?,
        test: Some(test.into_split("test_batch", dir)?),
        class_names,
    })
}

/// Reads CIFAR-100's Python version from `dir`, the `cifar-100-python` folder: `train`,
/// `test` and `meta`. With `coarse`, labels are the 20 superclasses (`coarse_labels`,
/// `coarse_label_names`); otherwise the 100 classes (`fine_labels`, `fine_label_names`).
pub fn read_cifar100_python(dir: &Path, coarse: bool) -> Result<Loaded> {
    let (label_key, names_key, max) = if coarse {
        (
            "coarse_labels",
            "coarse_label_names",
            CIFAR100_COARSE_CLASSES,
        )
    } else {
        ("fine_labels", "fine_label_names", CIFAR100_FINE_CLASSES)
    };
    let meta_path = dir.join("meta");
    let meta_bytes = read_file(&meta_path)?;
    let meta = pickle::parse(&meta_bytes, &meta_path)?;
    let class_names = names(&meta_path, &meta, names_key, max)?;
    let mut train = Gathered::default();
    read_batch(
        &dir.join("train"),
        label_key,
        class_names.len(),
        "CIFAR-100",
        &mut train,
    )?;
    let mut test = Gathered::default();
    read_batch(
        &dir.join("test"),
        label_key,
        class_names.len(),
        "CIFAR-100",
        &mut test,
    )?;
    Ok(Loaded {
        train: train.into_split("train", dir)?,
        test: Some(test.into_split("test", dir)?),
        class_names,
    })
}

/// The list of class names under `key` of a meta pickle: 1 to `max` strings.
fn names(path: &Path, meta: &Value<'_>, key: &str, max: usize) -> Result<Vec<String>> {
    let Value::Dict(_) = meta else {
        return Err(malformed(
            path,
            format!("holds a {}, not the dict of a CIFAR meta file", meta.kind()),
        ));
    };
    let Some(list) = meta.get(key) else {
        return Err(malformed(path, format!("has no '{key}' key")));
    };
    let Value::List(items) = list else {
        return Err(malformed(
            path,
            format!("'{key}' is a {}, not a list of names", list.kind()),
        ));
    };
    if items.is_empty() || items.len() > max {
        return Err(malformed(
            path,
            format!("'{key}' holds {} names; expected 1 to {max}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_text().map(|s| s.into_owned()).ok_or_else(|| {
                malformed(
                    path,
                    format!("'{key}'[{i}] is a {}, not a string", v.kind()),
                )
            })
        })
        .collect()
}

/// Appends the images and labels (under `label_key`) of the batch pickle at `path`.
fn read_batch(
    path: &Path,
    label_key: &str,
    classes: usize,
    dataset: &str,
    out: &mut Gathered,
) -> Result<()> {
    let bytes = read_file(path)?;
    let value = pickle::parse(&bytes, path)?;
    let Value::Dict(_) = value else {
        return Err(malformed(
            path,
            format!("holds a {}, not the dict of a CIFAR batch", value.kind()),
        ));
    };
    let Some(data) = value.get("data") else {
        return Err(malformed(path, "has no 'data' key"));
    };
    let Value::NdArray(array) = data else {
        return Err(malformed(
            path,
            format!("'data' is a {}, not a numpy array", data.kind()),
        ));
    };
    if array.dtype.size != 1 || array.dtype.signed {
        return Err(malformed(
            path,
            format!(
                "'data' has dtype {}, expected uint8 (|u1)",
                array.dtype.name()
            ),
        ));
    }
    let per_image = array
        .shape
        .iter()
        .skip(1)
        .try_fold(1usize, |a, &d| a.checked_mul(d));
    let (Some(&count), Some(IMAGE_BYTES)) = (array.shape.first(), per_image) else {
        return Err(malformed(
            path,
            format!(
                "'data' has shape {:?}; expected (images, 3072) or (images, 3, 32, 32)",
                array.shape
            ),
        ));
    };
    let Some(labels) = value.get(label_key) else {
        return Err(malformed(path, format!("has no '{label_key}' key")));
    };
    let labels = label_values(path, label_key, labels)?;
    if labels.len() != count {
        return Err(malformed(
            path,
            format!(
                "'data' holds {count} images but '{label_key}' holds {} labels",
                labels.len()
            ),
        ));
    }
    // Exact reservations: the split keeps this buffer, so no spare capacity is left in it.
    out.pixels.reserve_exact(array.data.len());
    out.labels.reserve_exact(count);
    for (index, &label) in labels.iter().enumerate() {
        match u8::try_from(label) {
            Ok(l) if usize::from(l) < classes => out.labels.push(l),
            Ok(l) => {
                return Err(DataError::LabelOutOfRange {
                    path: path.to_path_buf(),
                    index,
                    label: l,
                    dataset: dataset.into(),
                    classes,
                })
            }
            Err(_) => {
                return Err(malformed(
                    path,
                    format!(
                        "'{label_key}'[{index}] is {label}, out of range: {dataset} has \
                         {classes} classes (0..={})",
                        classes - 1
                    ),
                ))
            }
        }
    }
    if !array.fortran || count <= 1 {
        out.pixels.extend_from_slice(&array.data);
    } else if array.shape.len() == 2 {
        // Column-major: element (i, j) is at j × count + i.
        let data = &array.data;
        for i in 0..count {
            out.pixels
                .extend((0..IMAGE_BYTES).map(|j| data[j * count + i]));
        }
    } else {
        return Err(malformed(
            path,
            format!(
                "'data' is a Fortran-ordered array of shape {:?}; only 2-D ones are read",
                array.shape
            ),
        ));
    }
    Ok(())
}

/// The labels of a batch: a list of ints or a 1-D integer numpy array.
fn label_values(path: &Path, key: &str, labels: &Value<'_>) -> Result<Vec<i64>> {
    let not_int = |i: usize, v: &Value<'_>| {
        malformed(path, format!("'{key}'[{i}] is a {}, not an int", v.kind()))
    };
    match labels {
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Int(n) => Ok(*n),
                other => Err(not_int(i, other)),
            })
            .collect(),
        Value::NdArray(a) if a.shape.len() == 1 => (0..a.len())
            .map(|i| {
                a.get(i)
                    .ok_or_else(|| malformed(path, format!("'{key}'[{i}] does not fit in 64 bits")))
            })
            .collect(),
        other => Err(malformed(
            path,
            format!(
                "'{key}' is a {}, not a list of ints or a 1-D array",
                match other {
                    Value::NdArray(_) => "numpy array of more than one dimension",
                    v => v.kind(),
                }
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Binary version

/// Reads CIFAR-10's binary version from `dir`, the `cifar-10-batches-bin` folder:
/// `data_batch_1.bin` to `data_batch_5.bin` and `test_batch.bin` (records of one label
/// byte and 3072 pixel bytes), and `batches.meta.txt` (one class name per line).
pub fn read_cifar10_binary(dir: &Path) -> Result<Loaded> {
    let class_names = read_names(&dir.join("batches.meta.txt"), CIFAR10_CLASSES)?;
    let classes = class_names.len();
    let mut train = Gathered::default();
    for i in 1..=CIFAR10_TRAIN_BATCHES {
        let path = dir.join(format!("data_batch_{i}.bin"));
        read_records(&path, false, false, classes, &mut train)?;
    }
    let mut test = Gathered::default();
    read_records(
        &dir.join("test_batch.bin"),
        false,
        false,
        classes,
        &mut test,
    )?;
    Ok(Loaded {
        train: train.into_split("data_batch_1.bin to data_batch_5.bin", dir)?,
        test: Some(test.into_split("test_batch.bin", dir)?),
        class_names,
    })
}

/// Reads CIFAR-100's binary version from `dir`, the `cifar-100-binary` folder:
/// `train.bin` and `test.bin` (records of a coarse label byte, a fine label byte and 3072
/// pixel bytes), `fine_label_names.txt` and `coarse_label_names.txt`. With `coarse`,
/// labels are the 20 superclasses; otherwise the 100 classes.
pub fn read_cifar100_binary(dir: &Path, coarse: bool) -> Result<Loaded> {
    let class_names = if coarse {
        read_names(&dir.join("coarse_label_names.txt"), CIFAR100_COARSE_CLASSES)?
    } else {
        read_names(&dir.join("fine_label_names.txt"), CIFAR100_FINE_CLASSES)?
    };
    let classes = class_names.len();
    let mut train = Gathered::default();
    read_records(&dir.join("train.bin"), true, coarse, classes, &mut train)?;
    let mut test = Gathered::default();
    read_records(&dir.join("test.bin"), true, coarse, classes, &mut test)?;
    Ok(Loaded {
        train: train.into_split("train.bin", dir)?,
        test: Some(test.into_split("test.bin", dir)?),
        class_names,
    })
}

/// Class names, one per line; blank lines (the published files end with some) skipped.
fn read_names(path: &Path, max: usize) -> Result<Vec<String>> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| malformed(path, format!("is not UTF-8 text: {e}")))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() || names.len() > max {
        return Err(malformed(
            path,
            format!(
                "holds {} class names; expected 1 to {max}, one per line",
                names.len()
            ),
        ));
    }
    Ok(names)
}

/// Appends the records of a binary batch. CIFAR-100 records (`two_labels`) hold the
/// coarse label, then the fine one; `coarse` picks which is kept.
fn read_records(
    path: &Path,
    two_labels: bool,
    coarse: bool,
    classes: usize,
    out: &mut Gathered,
) -> Result<()> {
    let (dataset, header) = if two_labels {
        ("CIFAR-100", 2)
    } else {
        ("CIFAR-10", 1)
    };
    let record = header + IMAGE_BYTES;
    let bytes = read_file(path)?;
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        let layout = if two_labels {
            "a coarse label byte, a fine label byte and 3072 pixel bytes"
        } else {
            "one label byte and 3072 pixel bytes"
        };
        return Err(malformed(
            path,
            format!(
                "the file is {} bytes, not a whole number of {record}-byte records ({layout}); \
                 it is truncated, has trailing bytes, or is not a {dataset} binary batch",
                bytes.len()
            ),
        ));
    }
    let count = bytes.len() / record;
    out.pixels.reserve_exact(count * IMAGE_BYTES);
    out.labels.reserve_exact(count);
    for (index, r) in bytes.chunks_exact(record).enumerate() {
        let label = if two_labels && !coarse { r[1] } else { r[0] };
        if usize::from(label) >= classes {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                index,
                label,
                dataset: dataset.into(),
                classes,
            });
        }
        out.labels.push(label);
        out.pixels.extend_from_slice(&r[header..]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Writers

fn invalid(name: &str, value: impl Into<String>, problem: impl Into<String>) -> DataError {
    DataError::InvalidArgument {
        name: name.into(),
        value: value.into(),
        problem: problem.into(),
    }
}

/// Checks a split to write: 3 × 32 × 32 images, at least `min` of them, labels below
/// `classes`.
fn check_split(name: &str, split: &Split, min: usize, classes: usize) -> Result<()> {
    if split.image_shape() != IMAGE_SHAPE {
        return Err(invalid(
            name,
            format!("images of {:?}", split.image_shape()),
            "CIFAR images are [3, 32, 32] (channels, rows, columns)",
        ));
    }
    if split.len() < min {
        return Err(invalid(
            name,
            format!("{} images", split.len()),
            format!("at least {min} needed (one per file)"),
        ));
    }
    check_labels(name, split.labels(), classes)
}

fn check_labels(name: &str, labels: &[u8], classes: usize) -> Result<()> {
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= classes)
    {
        return Err(invalid(
            &format!("{name} label {i}"),
            l.to_string(),
            format!("out of range: {classes} classes"),
        ));
    }
    Ok(())
}

/// Checks class names to write: 1 to `max` of them, each a non-empty line without
/// surrounding blanks (what the readers give back).
fn check_names(name: &str, names: &[String], max: usize) -> Result<()> {
    if names.is_empty() || names.len() > max {
        return Err(invalid(
            name,
            format!("{} names", names.len()),
            format!("expected 1 to {max}"),
        ));
    }
    if let Some(bad) = names
        .iter()
        .find(|n| n.is_empty() || n.trim() != n.as_str() || n.contains(['\n', '\r']))
    {
        return Err(invalid(
            name,
            format!("{bad:?}"),
            "a class name must be non-empty, one line, without surrounding blanks",
        ));
    }
    Ok(())
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        action: "cannot create",
        source,
    })
}

fn write(path: PathBuf, bytes: &[u8]) -> Result<()> {
    crate::idx::write_atomic(&path, bytes)
}

/// The images `range` of `split` as one batch pickle, with the given label lists.
fn batch_pickle(
    split: &Split,
    range: std::ops::Range<usize>,
    label_lists: &[(&str, &[u8])],
    batch_label: &str,
) -> Result<Vec<u8>> {
    let mut w = pickle::Writer::new();
    w.empty_dict();
    w.mark();
    w.py2_str(b"data")?;
    let mut data = Vec::with_capacity(range.len() * IMAGE_BYTES);
    for i in range.clone() {
        data.extend_from_slice(split.image(i));
    }
    w.u8_array(&[range.len(), IMAGE_BYTES], &data)?;
    for (key, labels) in label_lists {
        w.py2_str(key.as_bytes())?;
        w.list(&labels[range.clone()], |w, &l| {
            w.int(i64::from(l));
            Ok(())
        })?;
    }
    w.py2_str(b"batch_label")?;
    w.py2_str(batch_label.as_bytes())?;
    w.py2_str(b"filenames")?;
    let names: Vec<String> = range.map(|i| format!("image_{i:06}.png")).collect();
    w.list(&names, |w, n| w.py2_str(n.as_bytes()))?;
    w.set_items();
    Ok(w.finish())
}

/// The five training batches' image ranges: as even as possible, the first ones smaller.
fn train_batches(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..CIFAR10_TRAIN_BATCHES)
        .map(move |i| i * len / CIFAR10_TRAIN_BATCHES..(i + 1) * len / CIFAR10_TRAIN_BATCHES)
}

/// Writes CIFAR-10's Python version into `dir` (created if needed): the files
/// [`read_cifar10_python`] reads, with the structure of the published ones (Python 2
/// pickles of protocol 2, `data` a `uint8` numpy array of shape (images, 3072), `labels` a
/// list, `batch_label`, `filenames`; `batches.meta` with `label_names`, `num_cases_per_batch`
/// and `num_vis`). The training images are spread over the five batches in order.
///
/// Refuses images that are not 3 × 32 × 32, fewer than 5 training or 1 test image, more
/// than 10 classes, or a label without a class.
pub fn write_cifar10_python(
    dir: &Path,
    train: &Split,
    test: &Split,
    class_names: &[String],
) -> Result<()> {
    check_names("class_names", class_names, CIFAR10_CLASSES)?;
    check_split("train", train, CIFAR10_TRAIN_BATCHES, class_names.len())?;
    check_split("test", test, 1, class_names.len())?;
    create_dir(dir)?;
    for (i, range) in train_batches(train.len()).enumerate() {
        let label = format!("training batch {} of {CIFAR10_TRAIN_BATCHES}", i + 1);
        let bytes = batch_pickle(train, range, &[("labels", train.labels())], &label)?;
        write(dir.join(format!("data_batch_{}", i + 1)), &bytes)?;
    }
    let bytes = batch_pickle(
        test,
        0..test.len(),
        &[("labels", test.labels())],
        "testing batch 1 of 1",
    )?;
    write(dir.join("test_batch"), &bytes)?;
    let mut w = pickle::Writer::new();
    w.empty_dict();
    w.mark();
    w.py2_str(b"num_cases_per_batch")?;
    w.int(i64::try_from(train.len().div_ceil(CIFAR10_TRAIN_BATCHES)).unwrap_or(i64::MAX));
    w.py2_str(b"label_names")?;
    w.list(class_names, |w, n| w.text(n))?;
    w.py2_str(b"num_vis")?;
    w.int(IMAGE_BYTES as i64);
    w.set_items();
    write(dir.join("batches.meta"), &w.finish())
}

fn check_cifar100(s: &Cifar100Splits<'_>) -> Result<()> {
    check_names("fine_names", s.fine_names, CIFAR100_FINE_CLASSES)?;
    check_names("coarse_names", s.coarse_names, CIFAR100_COARSE_CLASSES)?;
    check_split("train", s.train, 1, s.fine_names.len())?;
    check_split("test", s.test, 1, s.fine_names.len())?;
    for (name, split, coarse) in [
        ("train_coarse", s.train, s.train_coarse),
        ("test_coarse", s.test, s.test_coarse),
    ] {
        if coarse.len() != split.len() {
            return Err(invalid(
                name,
                format!("{} labels", coarse.len()),
                format!("expected one per image: {}", split.len()),
            ));
        }
        check_labels(name, coarse, s.coarse_names.len())?;
    }
    Ok(())
}

/// Writes CIFAR-100's Python version into `dir` (created if needed): `train`, `test`
/// (`data`, `fine_labels`, `coarse_labels`, `batch_label`, `filenames`) and `meta`
/// (`fine_label_names`, `coarse_label_names`), Python 2 pickles of protocol 2 like the
/// published ones.
///
/// Refuses images that are not 3 × 32 × 32, an empty split, more than 100 fine or 20
/// coarse classes, a label without a class, or coarse labels not one per image.
pub fn write_cifar100_python(dir: &Path, splits: &Cifar100Splits<'_>) -> Result<()> {
    check_cifar100(splits)?;
    create_dir(dir)?;
    for (file, split, coarse, label) in [
        (
            "train",
            splits.train,
            splits.train_coarse,
            "training batch 1 of 1",
        ),
        (
            "test",
            splits.test,
            splits.test_coarse,
            "testing batch 1 of 1",
        ),
    ] {
        let lists = [("fine_labels", split.labels()), ("coarse_labels", coarse)];
        let bytes = batch_pickle(split, 0..split.len(), &lists, label)?;
        write(dir.join(file), &bytes)?;
    }
    let mut w = pickle::Writer::new();
    w.empty_dict();
    w.mark();
    w.py2_str(b"fine_label_names")?;
    w.list(splits.fine_names, |w, n| w.text(n))?;
    w.py2_str(b"coarse_label_names")?;
    w.list(splits.coarse_names, |w, n| w.text(n))?;
    w.set_items();
    write(dir.join("meta"), &w.finish())
}

fn names_text(names: &[String]) -> Vec<u8> {
    let mut text = String::new();
    for n in names {
        text.push_str(n);
        text.push('\n');
    }
    text.push('\n');
    text.into_bytes()
}

/// Writes CIFAR-10's binary version into `dir` (created if needed): the files
/// [`read_cifar10_binary`] reads. Same refusals as [`write_cifar10_python`].
pub fn write_cifar10_binary(
    dir: &Path,
    train: &Split,
    test: &Split,
    class_names: &[String],
) -> Result<()> {
    check_names("class_names", class_names, CIFAR10_CLASSES)?;
    check_split("train", train, CIFAR10_TRAIN_BATCHES, class_names.len())?;
    check_split("test", test, 1, class_names.len())?;
    create_dir(dir)?;
    let records = |split: &Split, range: std::ops::Range<usize>| {
        let mut out = Vec::with_capacity(range.len() * (1 + IMAGE_BYTES));
        for i in range {
            out.push(split.labels()[i]);
            out.extend_from_slice(split.image(i));
        }
        out
    };
    for (i, range) in train_batches(train.len()).enumerate() {
        write(
            dir.join(format!("data_batch_{}.bin", i + 1)),
            &records(train, range),
        )?;
    }
    write(dir.join("test_batch.bin"), &records(test, 0..test.len()))?;
    write(dir.join("batches.meta.txt"), &names_text(class_names))
}

/// Writes CIFAR-100's binary version into `dir` (created if needed): the files
/// [`read_cifar100_binary`] reads. Same refusals as [`write_cifar100_python`].
pub fn write_cifar100_binary(dir: &Path, splits: &Cifar100Splits<'_>) -> Result<()> {
    check_cifar100(splits)?;
    create_dir(dir)?;
    for (file, split, coarse) in [
        ("train.bin", splits.train, splits.train_coarse),
        ("test.bin", splits.test, splits.test_coarse),
    ] {
        let mut out = Vec::with_capacity(split.len() * (2 + IMAGE_BYTES));
        for (i, &c) in coarse.iter().enumerate() {
            out.push(c);
            out.push(split.labels()[i]);
            out.extend_from_slice(split.image(i));
        }
        write(dir.join(file), &out)?;
    }
    write(
        dir.join("fine_label_names.txt"),
        &names_text(splits.fine_names),
    )?;
    write(
        dir.join("coarse_label_names.txt"),
        &names_text(splits.coarse_names),
    )
}
