//! USPS handwritten digits in the libsvm form torchvision's `USPS(root)` downloads:
//! `usps.bz2` (7,291 training images) and `usps.t.bz2` (2,007 test images) directly in
//! `root`.
//!
//! Each file is bzip2-compressed text, one image per line:
//! `label 1:value 2:value … 256:value`, the label the digit plus one (1..=10) and the 256
//! values the 16 × 16 pixels row by row, each in [−1, 1] (−1 is the background).
//! torchvision turns a value `x` into a pixel as `((x + 1) / 2 * 255).astype(uint8)` in
//! `float32` arithmetic (each step rounded to `f32`, the result truncated); [`read_usps`]
//! computes exactly that, so its pixels equal torchvision's bit for bit. As libsvm allows,
//! a feature absent from a line counts as 0 (torchvision itself needs all 256 present, and
//! the published files have them all).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use crate::dataset::Split;
use crate::error::{DataError, Result};
use crate::formats::Loaded;
use crate::idx::{write_atomic, MAX_DATA_BYTES};

/// Rows (and columns) of a USPS image.
pub const USPS_SIDE: usize = 16;
/// Features (pixels) per line: 16 × 16.
pub const USPS_FEATURES: usize = USPS_SIDE * USPS_SIDE;
/// Number of classes (the digits 0..=9).
pub const USPS_CLASSES: usize = 10;
/// The class names, in label order.
pub const USPS_CLASS_NAMES: [&str; USPS_CLASSES] =
    ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
/// The training file, its address and its published MD5 (of the compressed file, as
/// torchvision's `USPS.split_list["train"]` has them).
pub const USPS_TRAIN: (&str, &str, &str) = (
    "usps.bz2",
    "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.bz2",
    "ec16c51db3855ca6c91edd34d0e9b197",
);
/// The test file, its address and its published MD5 (torchvision's
/// `USPS.split_list["test"]`).
pub const USPS_TEST: (&str, &str, &str) = (
    "usps.t.bz2",
    "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.t.bz2",
    "8ea070ee2aca1ac39742fdd1ef5ed118",
);
/// Images in the published training and test files.
pub const USPS_COUNTS: (usize, usize) = (7_291, 2_007);
/// The longest line accepted, in bytes (a published line is about 3 KiB).
pub const USPS_MAX_LINE: usize = 64 * 1024;

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

/// torchvision's pixel of a libsvm value: `((x + 1) / 2 * 255).astype(uint8)` in `float32`.
///
/// `x` is the value as numpy reads the text into `float32` (parsed as a `float64`, then
/// rounded to `f32`). Values in [−1, 1] give 0..=255.
pub fn usps_pixel(x: f32) -> u8 {
    (((x + 1.0) / 2.0) * 255.0) as u8
}

/// The text of a libsvm value that [`usps_pixel`] turns back into `pixel`: `-1` for 0, `1`
/// for 255, otherwise the middle of the pixel's interval with six decimals (as the published
/// files write values).
pub fn usps_value_text(pixel: u8) -> String {
    match pixel {
        0 => "-1".into(),
        255 => "1".into(),
        p => format!("{:.6}", (f64::from(p) + 0.5) / 255.0 * 2.0 - 1.0),
    }
}

/// Parses one line (without its end) into its label (0..=9) and 256 pixels.
fn parse_line(line: &str, pixels: &mut [u8; USPS_FEATURES]) -> Result<u8, String> {
    let mut tokens = line.split_ascii_whitespace();
    let label_text = tokens
        .next()
        .ok_or("empty line; expected `label index:value …`")?;
    let label = label_text
        .parse::<u8>()
        .ok()
        .filter(|l| (1..=USPS_CLASSES as u8).contains(l))
        .ok_or_else(|| {
            format!("label {label_text:?} is not a class 1..={USPS_CLASSES} (the digit plus one)")
        })?;
    // A feature absent from the line is 0, as in any libsvm file.
    pixels.fill(usps_pixel(0.0));
    let mut previous = 0usize;
    for token in tokens {
        let (index_text, value_text) = token
            .split_once(':')
            .ok_or_else(|| format!("{token:?} is not of the form index:value"))?;
        let index = index_text
            .parse::<usize>()
            .ok()
            .filter(|i| (1..=USPS_FEATURES).contains(i))
            .ok_or_else(|| {
                format!("{token:?}: the index {index_text:?} is not a feature 1..={USPS_FEATURES}")
            })?;
        if index <= previous {
            return Err(format!(
                "{token:?}: index {index} after index {previous}; indices must increase"
            ));
        }
        previous = index;
        let value = value_text
            .parse::<f64>()
            .ok()
            .filter(|v| (-1.0..=1.0).contains(v))
            .ok_or_else(|| {
                format!("{token:?}: the value {value_text:?} is not a number in [-1, 1]")
            })?;
        // As numpy's `asarray(…, dtype=float32)`: the text as a double, rounded to f32.
        pixels[index - 1] = usps_pixel(value as f32);
    }
    Ok(label - 1)
}

/// Reads one libsvm file (bzip2-compressed, or plain text).
fn read_file(path: &Path) -> Result<Split> {
    let file = std::fs::File::open(path).map_err(io(path, "cannot read"))?;
    let mut head = [0u8; 3];
    let mut peek = BufReader::new(file);
    let is_bz2 = {
        let buf = peek.fill_buf().map_err(io(path, "cannot read"))?;
        let n = buf.len().min(3);
        head[..n].copy_from_slice(&buf[..n]);
        &head == b"BZh"
    };
    let source: Box<dyn Read> = if is_bz2 {
        Box::new(bzip2::read::MultiBzDecoder::new(peek))
    } else {
        Box::new(peek)
    };
    // No more than MAX_DATA_BYTES of text, whatever the compressed stream expands to.
    let mut text = BufReader::new(source.take(MAX_DATA_BYTES + 1));
    let mut consumed = 0u64;
    let mut labels = Vec::new();
    let mut pixels = Vec::new();
    let mut image = [0u8; USPS_FEATURES];
    let mut line = Vec::new();
    for number in 1usize.. {
        line.clear();
        let n = (&mut text)
            .take(USPS_MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| {
                let problem = if is_bz2 {
                    format!("line {number}: the bzip2 stream is corrupt: {e}")
                } else {
                    format!("line {number}: cannot read: {e}")
                };
                malformed(path, problem)
            })?;
        if n == 0 {
            break;
        }
        consumed += n as u64;
        if consumed > MAX_DATA_BYTES {
            return Err(malformed(
                path,
                format!("more than {MAX_DATA_BYTES} bytes of text; no USPS file is that large"),
            ));
        }
        if line.len() > USPS_MAX_LINE {
            return Err(malformed(
                path,
                format!("line {number}: longer than {USPS_MAX_LINE} bytes; not a USPS line"),
            ));
        }
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let body = std::str::from_utf8(body).map_err(|e| {
            malformed(
                path,
                format!(
                    "line {number}: not text (invalid UTF-8 at column {})",
                    e.valid_up_to() + 1
                ),
            )
        })?;
        let label = parse_line(body, &mut image)
            .map_err(|problem| malformed(path, format!("line {number}: {problem}")))?;
        labels.push(label);
        pixels.extend_from_slice(&image);
    }
    if labels.is_empty() {
        return Err(malformed(
            path,
            "the file holds no line; expected one image per line",
        ));
    }
    Split::new(pixels, labels, [1, USPS_SIDE, USPS_SIDE])
}

/// Reads USPS from `dir`, the folder holding `usps.bz2` and `usps.t.bz2` (torchvision's
/// `root`).
///
/// Images are `1 × 16 × 16`, with the pixels torchvision's `USPS(root, train).data` holds;
/// labels are the digits 0..=9. A file may also be uncompressed text (compression is
/// detected from the content). Checksums are not verified here (see [`USPS_TRAIN`],
/// [`USPS_TEST`]).
///
/// # Errors
/// [`DataError::Io`] for a missing or unreadable file; [`DataError::Malformed`] naming the
/// file and the line for a corrupt bzip2 stream, a line that is not
/// `label index:value …` with a label 1..=10, indices increasing within 1..=256 and values
/// numbers in [−1, 1], or a file without any line.
pub fn read_usps(dir: &Path) -> Result<Loaded> {
    let train = read_file(&dir.join(USPS_TRAIN.0))?;
    let test = read_file(&dir.join(USPS_TEST.0))?;
    Ok(Loaded {
        train,
        test: Some(test),
        class_names: USPS_CLASS_NAMES.iter().map(|c| c.to_string()).collect(),
    })
}

fn check_split(dir: &Path, name: &str, split: &Split) -> Result<()> {
    let shape = split.image_shape();
    if split.is_empty() {
        return Err(DataError::InvalidArgument {
            name: format!("{name} split"),
            value: "0 images".into(),
            problem: "USPS files must hold at least one image".into(),
        });
    }
    if shape != [1, USPS_SIDE, USPS_SIDE] {
        return Err(DataError::InvalidArgument {
            name: format!("{name} split"),
            value: format!("images of {shape:?} (channels, rows, columns)"),
            problem: format!(
                "USPS files hold 1 × 16 × 16 images only (writing to {})",
                dir.display()
            ),
        });
    }
    if let Some(i) = split
        .labels()
        .iter()
        .position(|&l| l as usize >= USPS_CLASSES)
    {
        return Err(DataError::InvalidArgument {
            name: format!("{name} label {i}"),
            value: split.labels()[i].to_string(),
            problem: format!("USPS has {USPS_CLASSES} classes (labels 0..=9)"),
        });
    }
    Ok(())
}

/// The libsvm text of a split, one line per image, as the published files write it.
fn libsvm_text(split: &Split) -> String {
    let mut text = String::new();
    for i in 0..split.len() {
        text.push_str(&(split.labels()[i] + 1).to_string());
        for (j, &p) in split.image(i).iter().enumerate() {
            text.push(' ');
            text.push_str(&(j + 1).to_string());
            text.push(':');
            text.push_str(&usps_value_text(p));
        }
        text.push('\n');
    }
    text
}

fn bzip2_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .expect("compressing into a Vec cannot fail")
}

/// Writes `train` and `test` to `dir` (created if absent) as `usps.bz2` and `usps.t.bz2`:
/// bzip2-compressed libsvm text in the published files' style (labels 1..=10, all 256
/// features, values from [`usps_value_text`]), which [`read_usps`] and torchvision read
/// back as the same pixels and labels.
///
/// # Errors
/// [`DataError::InvalidArgument`] for images other than 1 × 16 × 16 or a label ≥ 10;
/// [`DataError::Io`] when a file cannot be written.
pub fn write_usps(dir: &Path, train: &Split, test: &Split) -> Result<()> {
    check_split(dir, "train", train)?;
    check_split(dir, "test", test)?;
    std::fs::create_dir_all(dir).map_err(io(dir, "cannot create"))?;
    write_atomic(
        &dir.join(USPS_TRAIN.0),
        &bzip2_bytes(libsvm_text(train).as_bytes()),
    )?;
    write_atomic(
        &dir.join(USPS_TEST.0),
        &bzip2_bytes(libsvm_text(test).as_bytes()),
    )
}

/// Compresses `bytes` with bzip2 (for tests that write libsvm text of their own).
pub fn bzip2(bytes: &[u8]) -> Vec<u8> {
    bzip2_bytes(bytes)
}
