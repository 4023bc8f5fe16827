//! SVHN (Street View House Numbers, cropped digits) as torchvision's `SVHN(root)` leaves it:
//! `root/train_32x32.mat`, `root/test_32x32.mat` and, optionally, `root/extra_32x32.mat`.
//!
//! Each file is a MATLAB Level 5 MAT-file ([`mat`]) holding `X`, a `uint8`
//! array of 32×32×3×N (rows, columns, channels, images; column-major), and `y`, N×1 labels
//! from 1 to 10 where 10 stands for the digit 0. Like torchvision, the reader maps label 10
//! to 0 and reorders the images to N×C×H×W (`np.transpose(X, (3, 2, 0, 1))`): pixel
//! (channel `c`, row `i`, column `j`) of image `n` is `X(i, j, c, n)`.

use std::path::{Path, PathBuf};

use super::mat::{self, MatArray, MatData};
use super::Loaded;
use crate::dataset::Split;
use crate::error::{DataError, Result};

/// The training file's name.
pub const TRAIN_FILE: &str = "train_32x32.mat";
/// The test file's name.
pub const TEST_FILE: &str = "test_32x32.mat";
/// The extra training file's name (531,131 images; not read by default).
pub const EXTRA_FILE: &str = "extra_32x32.mat";

/// Where the training file is published.
pub const TRAIN_URL: &str = "http://ufldl.stanford.edu/housenumbers/train_32x32.mat";
/// Where the test file is published.
pub const TEST_URL: &str = "http://ufldl.stanford.edu/housenumbers/test_32x32.mat";
/// Where the extra training file is published.
pub const EXTRA_URL: &str = "http://ufldl.stanford.edu/housenumbers/extra_32x32.mat";

/// MD5 of the training file, as torchvision publishes it.
pub const TRAIN_MD5: &str = "e26dedcc434d2e4c54c9b2d4a06d8373";
/// MD5 of the test file, as torchvision publishes it.
pub const TEST_MD5: &str = "eb5a983be6a315427106f1b164d9cef3";
/// MD5 of the extra training file, as torchvision publishes it.
pub const EXTRA_MD5: &str = "a93ce644f1a588dc4d68dda5feec44a7";

/// The class names, in label order: the digits.
pub const CLASS_NAMES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// `[channels, rows, cols]` of every SVHN image.
pub const IMAGE_SHAPE: [usize; 3] = [3, 32, 32];

const SIDE: usize = 32;
const PLANE: usize = SIDE * SIDE;
const PER_IMAGE: usize = 3 * PLANE;

/// Reads `dir/train_32x32.mat` and `dir/test_32x32.mat`.
pub fn read_svhn(dir: &Path) -> Result<Loaded> {
    let train = read_svhn_file(&dir.join(TRAIN_FILE))?;
    let test = read_svhn_file(&dir.join(TEST_FILE))?;
    Ok(loaded(train, test))
}

/// Reads `dir/train_32x32.mat` followed by `dir/extra_32x32.mat` as the training split
/// (torchvision's `split="train_and_extra"`), and `dir/test_32x32.mat` as the test split.
pub fn read_svhn_with_extra(dir: &Path) -> Result<Loaded> {
    let (mut pixels, mut labels) = read_raw(&dir.join(TRAIN_FILE))?;
    let (extra_pixels, extra_labels) = read_raw(&dir.join(EXTRA_FILE))?;
    pixels.extend_from_slice(&extra_pixels);
    drop(extra_pixels);
    labels.extend_from_slice(&extra_labels);
    let train = Split::new(pixels, labels, IMAGE_SHAPE)?;
    let test = read_svhn_file(&dir.join(TEST_FILE))?;
    Ok(loaded(train, test))
}

fn loaded(train: Split, test: Split) -> Loaded {
    Loaded {
        train,
        test: Some(test),
        class_names: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
    }
}

/// Reads one SVHN file (`X` and `y`) as a split of 3×32×32 images with labels 0–9.
pub fn read_svhn_file(path: &Path) -> Result<Split> {
    let (pixels, labels) = read_raw(path)?;
    Split::new(pixels, labels, IMAGE_SHAPE)
}

fn malformed(path: &Path, problem: String) -> DataError {
    DataError::Malformed {
        path: path.to_path_buf(),
        problem,
    }
}

/// Takes the one variable called `name` out of `vars`; `held` lists the file's variables.
fn take(path: &Path, vars: &mut Vec<MatArray>, name: &str, held: &str) -> Result<MatArray> {
    let found: Vec<usize> = (0..vars.len()).filter(|&i| vars[i].name == name).collect();
    match found[..] {
        [i] => Ok(vars.swap_remove(i)),
        [] => Err(malformed(
            path,
            format!(
                "not an SVHN file: it has no variable {name} (it holds {held}); an SVHN file holds X (the images) and y (the labels)"
            ),
        )),
        _ => Err(malformed(
            path,
            format!("holds {} variables named {name}; expected one", found.len()),
        )),
    }
}

/// The pixels (N×3×32×32) and labels (0–9) of one file.
fn read_raw(path: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut vars = mat::read_mat(path)?;
    let held = if vars.is_empty() {
        "no variables".to_string()
    } else {
        let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
        names.join(", ")
    };
    let x = take(path, &mut vars, "X", &held)?;
    let y = take(path, &mut vars, "y", &held)?;
    let x_values = match x.data {
        MatData::U8(values) => values,
        MatData::F64(_) => {
            return Err(malformed(
                path,
                format!("X is of class {}; SVHN images must be uint8", x.class),
            ))
        }
        MatData::NotRead(what) => {
            return Err(malformed(
                path,
                format!("X is {what}; SVHN images must be a uint8 array"),
            ))
        }
    };
    let count = match x.dims[..] {
        [SIDE, SIDE, 3, n] => n,
        // MATLAB drops trailing singleton dimensions: one image is 32×32×3.
        [SIDE, SIDE, 3] => 1,
        _ => {
            return Err(malformed(
                path,
                format!(
                    "X has dimensions {}; SVHN images must be 32×32×3×N (rows, columns, channels, images)",
                    mat_dims_text(&x.dims)
                ),
            ))
        }
    };
    let label_count = match y.dims[..] {
        [n, 1] | [1, n] => n,
        _ => {
            return Err(malformed(
                path,
                format!(
                    "y has dimensions {}; SVHN labels must be N×1",
                    y.dims_text()
                ),
            ))
        }
    };
    if count == 0 {
        return Err(malformed(path, "X holds no images".to_string()));
    }
    if label_count != count {
        return Err(malformed(
            path,
            format!("X holds {count} images but y holds {label_count} labels"),
        ));
    }
    let labels = labels(path, &y)?;
    Ok((to_chw(&x_values, count), labels))
}

fn labels(path: &Path, y: &MatArray) -> Result<Vec<u8>> {
    let bad = |i: usize, v: String| {
        malformed(
            path,
            format!(
                "y holds {v} at index {i}; SVHN labels must be whole numbers from 1 to 10 (10 stands for the digit 0)"
            ),
        )
    };
    let map = |i: usize, v: u8| match v {
        10 => Ok(0),
        1..=9 => Ok(v),
        _ => Err(bad(i, v.to_string())),
    };
    match &y.data {
        MatData::U8(values) => values.iter().enumerate().map(|(i, &v)| map(i, v)).collect(),
        MatData::F64(values) => values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if (1.0..=10.0).contains(&v) && v.fract() == 0.0 {
                    map(i, v as u8)
                } else {
                    Err(bad(i, v.to_string()))
                }
            })
            .collect(),
        MatData::NotRead(what) => Err(malformed(
            path,
            format!("y is {what}; SVHN labels must be a numeric array"),
        )),
    }
}

/// Column-major 32×32×3×N to N×3×32×32 (torchvision's `np.transpose(X, (3, 2, 0, 1))`).
fn to_chw(x: &[u8], count: usize) -> Vec<u8> {
    let mut out = vec![0u8; x.len()];
    for (src, dst) in x
        .chunks_exact(PER_IMAGE)
        .zip(out.chunks_exact_mut(PER_IMAGE))
        .take(count)
    {
        for (s, d) in src.chunks_exact(PLANE).zip(dst.chunks_exact_mut(PLANE)) {
            // s[i + 32 j] is (row i, column j); d[32 i + j] likewise.
            for (j, column) in s.chunks_exact(SIDE).enumerate() {
                for (i, &p) in column.iter().enumerate() {
                    d[i * SIDE + j] = p;
                }
            }
        }
    }
    out
}

/// The column-major `X` of a split of 3×32×32 images.
fn to_matlab(split: &Split) -> Vec<u8> {
    let mut out = vec![0u8; split.len() * PER_IMAGE];
    for (n, dst) in out.chunks_exact_mut(PER_IMAGE).enumerate() {
        let image = split.image(n);
        for (s, d) in image.chunks_exact(PLANE).zip(dst.chunks_exact_mut(PLANE)) {
            for (i, row) in s.chunks_exact(SIDE).enumerate() {
                for (j, &p) in row.iter().enumerate() {
                    d[i + SIDE * j] = p;
                }
            }
        }
    }
    out
}

/// The variables `X` and `y` of an SVHN file holding `split`.
pub fn svhn_variables(split: &Split, what: &str) -> Result<Vec<MatArray>> {
    let invalid = |problem: String| DataError::InvalidArgument {
        name: format!("{what} split"),
        value: format!("{} images of {:?}", split.len(), split.image_shape()),
        problem,
    };
    if split.image_shape() != IMAGE_SHAPE {
        return Err(invalid(
            "SVHN images are 3×32×32 (channels, rows, columns)".into(),
        ));
    }
    if split.is_empty() {
        return Err(invalid("an SVHN file needs at least one image".into()));
    }
    if let Some((i, l)) = split.labels().iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(invalid(format!(
            "label {l} at index {i}: SVHN labels are digits 0 to 9"
        )));
    }
    let n = split.len();
    let y = split
        .labels()
        .iter()
        .map(|&l| if l == 0 { 10 } else { l })
        .collect();
    Ok(vec![
        MatArray::uint8("X", &[SIDE, SIDE, 3, n], to_matlab(split))?,
        MatArray::uint8("y", &[n, 1], y)?,
    ])
}

/// Writes `dir/train_32x32.mat` and `dir/test_32x32.mat` (the folder is created if needed)
/// as the published files are laid out: `X` `uint8` 32×32×3×N, `y` `uint8` N×1 with 10 for
/// the digit 0, compressed. Refuses images of another shape than 3×32×32, labels above 9
/// and empty splits. Returns the two paths.
pub fn write_svhn(dir: &Path, train: &Split, test: &Split) -> Result<[PathBuf; 2]> {
    let train_vars = svhn_variables(train, "train")?;
    let test_vars = svhn_variables(test, "test")?;
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        action: "cannot create",
        source,
    })?;
    let paths = [dir.join(TRAIN_FILE), dir.join(TEST_FILE)];
    mat::write_mat(&paths[0], &train_vars, true)?;
    mat::write_mat(&paths[1], &test_vars, true)?;
    Ok(paths)
}

fn mat_dims_text(dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
    dims.join("×")
}
