//! STL-10 in its binary form: the `stl10_binary/` folder of `stl10_binary.tar.gz`, as
//! torchvision's `STL10(root)` extracts it under `root`.
//!
//! The folder holds `train_X.bin`, `train_y.bin`, `test_X.bin`, `test_y.bin`,
//! `class_names.txt` (and `unlabeled_X.bin`, `fold_indices.txt`, which are not read here).
//! An image file is a plain sequence of 96×96 colour images, 27,648 bytes each, with no
//! header. Each image is three planes (red, green, blue) of 96×96 bytes, and each plane is
//! stored **column by column** (the format comes from MATLAB): byte `col × 96 + row` of a
//! plane is the pixel at (`row`, `col`). torchvision reads a file as
//! `reshape(-1, 3, 96, 96)` followed by `transpose(0, 1, 3, 2)`; [`read_stl10`] returns the
//! same images, in `[channel, row, col]` order. A label file holds one byte per image, the
//! class counted from 1 (1..=10); labels are returned counted from 0, as torchvision does.

use std::path::Path;

use crate::dataset::Split;
use crate::error::{DataError, Result};
use crate::formats::Loaded;
use crate::idx::{write_atomic, MAX_DATA_BYTES};

/// Rows (and columns) of an STL-10 image.
pub const STL10_SIDE: usize = 96;
/// Bytes of one STL-10 image in a `*_X.bin` file: 3 × 96 × 96.
pub const STL10_IMAGE_BYTES: usize = 3 * STL10_SIDE * STL10_SIDE;
/// Number of classes.
pub const STL10_CLASSES: usize = 10;
/// The folder the archive extracts to (torchvision's `STL10.base_folder`).
pub const STL10_FOLDER: &str = "stl10_binary";
/// Where the archive is published (torchvision's `STL10.url`).
pub const STL10_ARCHIVE_URL: &str = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz";
/// The archive's file name.
pub const STL10_ARCHIVE_NAME: &str = "stl10_binary.tar.gz";
/// MD5 of the archive (torchvision's `STL10.tgz_md5`).
pub const STL10_ARCHIVE_MD5: &str = "91f7769df0f17e558f3565bffb0c7dfb";
/// Published MD5 of each file of the folder, path relative to it (torchvision's
/// `STL10.train_list` and `test_list`). torchvision checks all five before it loads any
/// split, including `unlabeled_X.bin`, which [`read_stl10`] does not read.
pub const STL10_MD5S: [(&str, &str); 5] = [
    ("train_X.bin", "918c2871b30a85fa023e0c44e0bee87f"),
    ("train_y.bin", "5a34089d4802c674881badbb80307741"),
    ("unlabeled_X.bin", "5242ba1fed5e4be9e1e742405eb56ca4"),
    ("test_X.bin", "7f263ba9f9e0b06b93213547f721ac82"),
    ("test_y.bin", "36f9794fa4beb8a2c72628de14fa638e"),
];
/// Images in the published `train_X.bin` and `test_X.bin`.
pub const STL10_COUNTS: (usize, usize) = (5_000, 8_000);
/// The class names of the published `class_names.txt`, in label order.
pub const STL10_CLASS_NAMES: [&str; STL10_CLASSES] = [
    "airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck",
];

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

/// Reads a file whose size has been checked first (no allocation beyond
/// [`MAX_DATA_BYTES`], whatever is on disk).
fn read_capped(path: &Path) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .map_err(io(path, "cannot read"))?
        .len();
    if len > MAX_DATA_BYTES {
        return Err(malformed(
            path,
            format!("the file is {len} bytes long, more than the {MAX_DATA_BYTES} bytes this reader accepts"),
        ));
    }
    std::fs::read(path).map_err(io(path, "cannot read"))
}

/// Converts one file image (planes stored column by column) into `[channel, row, col]`.
fn image_from_file(file: &[u8], out: &mut Vec<u8>) {
    let plane = STL10_SIDE * STL10_SIDE;
    for c in 0..3 {
        let p = &file[c * plane..(c + 1) * plane];
        for row in 0..STL10_SIDE {
            out.extend((0..STL10_SIDE).map(|col| p[col * STL10_SIDE + row]));
        }
    }
}

/// Converts one `[channel, row, col]` image into the file's layout (the inverse of
/// [`image_from_file`]).
fn image_to_file(image: &[u8], out: &mut Vec<u8>) {
    let plane = STL10_SIDE * STL10_SIDE;
    for c in 0..3 {
        let p = &image[c * plane..(c + 1) * plane];
        for col in 0..STL10_SIDE {
            out.extend((0..STL10_SIDE).map(|row| p[row * STL10_SIDE + col]));
        }
    }
}

fn read_images(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_capped(path)?;
    if bytes.is_empty() {
        return Err(malformed(
            path,
            "the file is empty (0 bytes); it holds no image",
        ));
    }
    if bytes.len() % STL10_IMAGE_BYTES != 0 {
        return Err(malformed(
            path,
            format!(
                "the file is {} bytes long, not a whole number of 96×96 colour images ({STL10_IMAGE_BYTES} bytes each: {} images and {} bytes more); it is truncated or not an STL-10 image file",
                bytes.len(),
                bytes.len() / STL10_IMAGE_BYTES,
                bytes.len() % STL10_IMAGE_BYTES
            ),
        ));
    }
    let mut pixels = Vec::with_capacity(bytes.len());
    for image in bytes.chunks_exact(STL10_IMAGE_BYTES) {
        image_from_file(image, &mut pixels);
    }
    Ok(pixels)
}

fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let mut labels = read_capped(path)?;
    if let Some(index) = labels
        .iter()
        .position(|&l| !(1..=STL10_CLASSES as u8).contains(&l))
    {
        return Err(malformed(
            path,
            format!(
                "label {} at index {index} is out of range: STL-10 labels count the {STL10_CLASSES} classes from 1 (1..={STL10_CLASSES})",
                labels[index]
            ),
        ));
    }
    for l in &mut labels {
        *l -= 1;
    }
    Ok(labels)
}

fn read_split(dir: &Path, images: &str, labels: &str) -> Result<Split> {
    let images_path = dir.join(images);
    let labels_path = dir.join(labels);
    let pixels = read_images(&images_path)?;
    let labels = read_labels(&labels_path)?;
    let image_count = pixels.len() / STL10_IMAGE_BYTES;
    if image_count != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path,
            image_count,
            labels: labels_path,
            label_count: labels.len(),
        });
    }
    Split::new(pixels, labels, [3, STL10_SIDE, STL10_SIDE])
}

fn read_class_names(path: &Path) -> Result<Vec<String>> {
    let bytes = read_capped(path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        malformed(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let mut names = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let name = line.trim();
        if name.is_empty() {
            return Err(malformed(
                path,
                format!("line {}: empty; expected one class name per line", i + 1),
            ));
        }
        names.push(name.to_string());
    }
    if names.len() != STL10_CLASSES {
        return Err(malformed(
            path,
            format!(
                "holds {} class names; STL-10 has {STL10_CLASSES}, one per line",
                names.len()
            ),
        ));
    }
    Ok(names)
}

/// Reads STL-10's labelled splits from `dir`, the `stl10_binary/` folder (or torchvision's
/// `root`, the folder holding it).
///
/// Returns the 5,000 training and 8,000 test images of the published files as
/// `3 × 96 × 96` images in `[channel, row, col]` order (upright, the same pixels as
/// torchvision's `STL10(split="train" | "test").data`), labels 0..=9, and the class names of
/// `class_names.txt`. `unlabeled_X.bin` is not read. Checksums are not verified here (see
/// [`STL10_MD5S`]).
///
/// # Errors
/// [`DataError::Io`] for a missing or unreadable file; [`DataError::Malformed`] naming the
/// file for an image file that is empty or not a whole number of images, a label outside
/// 1..=10, or a `class_names.txt` without exactly ten non-empty lines;
/// [`DataError::CountMismatch`] when an image file and its label file disagree in number.
pub fn read_stl10(dir: &Path) -> Result<Loaded> {
    let nested = dir.join(STL10_FOLDER);
    let dir = if !dir.join("train_X.bin").exists() && nested.join("train_X.bin").exists() {
        &nested
    } else {
        dir
    };
    let train = read_split(dir, "train_X.bin", "train_y.bin")?;
    let test = read_split(dir, "test_X.bin", "test_y.bin")?;
    let class_names = read_class_names(&dir.join("class_names.txt"))?;
    Ok(Loaded {
        train,
        test: Some(test),
        class_names,
    })
}

fn check_split(dir: &Path, name: &str, split: &Split, classes: usize) -> Result<()> {
    let shape = split.image_shape();
    if split.is_empty() {
        return Err(DataError::InvalidArgument {
            name: format!("{name} split"),
            value: "0 images".into(),
            problem: "STL-10 files must hold at least one image".into(),
        });
    }
    if shape != [3, STL10_SIDE, STL10_SIDE] {
        return Err(DataError::InvalidArgument {
            name: format!("{name} split"),
            value: format!("images of {shape:?} (channels, rows, columns)"),
            problem: format!(
                "STL-10 files hold 3 × 96 × 96 images only (writing to {})",
                dir.display()
            ),
        });
    }
    if let Some(i) = split.labels().iter().position(|&l| l as usize >= classes) {
        return Err(DataError::InvalidArgument {
            name: format!("{name} label {i}"),
            value: split.labels()[i].to_string(),
            problem: format!("STL-10 has {classes} classes (labels 0..={})", classes - 1),
        });
    }
    Ok(())
}

fn write_split(dir: &Path, images: &str, labels: &str, split: &Split) -> Result<()> {
    let mut bytes = Vec::with_capacity(split.len() * STL10_IMAGE_BYTES);
    for i in 0..split.len() {
        image_to_file(split.image(i), &mut bytes);
    }
    write_atomic(&dir.join(images), &bytes)?;
    let labels_bytes: Vec<u8> = split.labels().iter().map(|&l| l + 1).collect();
    write_atomic(&dir.join(labels), &labels_bytes)
}

/// Writes `train` and `test` to `dir` (created if absent) in the layout of `stl10_binary/`:
/// `train_X.bin`, `train_y.bin`, `test_X.bin`, `test_y.bin` (images stored column by
/// column, labels counted from 1) and `class_names.txt`, so that [`read_stl10`] and
/// torchvision read back the same images and labels. `unlabeled_X.bin` is not written
/// (torchvision's checksum test, which requires it, fails on any copy not downloaded).
///
/// # Errors
/// [`DataError::InvalidArgument`] for images other than 3 × 96 × 96, a number of class
/// names other than ten, an empty or multi-line class name, or a label ≥ 10;
/// [`DataError::Io`] when a file cannot be written.
pub fn write_stl10<S: AsRef<str>>(
    dir: &Path,
    train: &Split,
    test: &Split,
    class_names: &[S],
) -> Result<()> {
    if class_names.len() != STL10_CLASSES {
        return Err(DataError::InvalidArgument {
            name: "class_names".into(),
            value: format!("{} names", class_names.len()),
            problem: format!("STL-10 has {STL10_CLASSES} classes"),
        });
    }
    if let Some(bad) = class_names
        .iter()
        .map(AsRef::as_ref)
        .find(|n| n.trim().is_empty() || n.trim() != *n || n.contains(['\n', '\r']))
    {
        return Err(DataError::InvalidArgument {
            name: "class_names".into(),
            value: format!("{bad:?}"),
            problem: "a class name must be one non-empty line without surrounding spaces".into(),
        });
    }
    check_split(dir, "train", train, STL10_CLASSES)?;
    check_split(dir, "test", test, STL10_CLASSES)?;
    std::fs::create_dir_all(dir).map_err(io(dir, "cannot create"))?;
    write_split(dir, "train_X.bin", "train_y.bin", train)?;
    write_split(dir, "test_X.bin", "test_y.bin", test)?;
    let mut names = String::new();
    for n in class_names {
        names.push_str(n.as_ref());
        names.push('\n');
    }
    write_atomic(&dir.join("class_names.txt"), names.as_bytes())
}
