//! Synthetic IDX datasets: ten classes of simple shapes, learnable to high accuracy in
//! seconds, so tests and quick runs need no downloaded data — and deliberately broken files
//! for error tests.

use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::error::{DataError, Result};
use crate::idx::{encode_images, encode_labels, gzip, write_atomic, IdxImages};
use crate::registry::Role;

/// The class names of the synthetic dataset, in label order (written to `classes.txt`).
pub const SHAPE_NAMES: [&str; 10] = [
    "horizontal bar",
    "vertical bar",
    "diagonal",
    "anti-diagonal",
    "square",
    "disc",
    "ring",
    "plus",
    "cross",
    "block",
];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Training images.
    pub train: usize,
    /// Test images.
    pub test: usize,
    /// Rows and columns per image.
    pub size: usize,
    /// Seed: the same seed writes byte-identical files.
    pub seed: u64,
    /// Write `.gz` files instead of raw ones.
    pub gzip: bool,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            train: 600,
            test: 200,
            size: 28,
            seed: 0,
            gzip: true,
        }
    }
}

/// A uniform draw from [0, 1) with 24 random bits.
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f32 {
    (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32
}

/// Draws one image of class `class` into `out` (`size × size` bytes).
fn draw(class: usize, size: usize, rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
    let shape = Shape::random(size, rng);
    let ink = 0.75 + 0.25 * unit(rng);
    for y in 0..size {
        for x in 0..size {
            let noise = 0.08 * unit(rng);
            let v = if shape.covers(class, x, y) {
                ink
            } else {
                noise
            };
            out.push((v * 255.0).round().clamp(0.0, 255.0) as u8);
        }
    }
}

/// Where a shape lies in one image: its centre, size and stroke, drawn at random. Both the
/// grey and the colour shapes ([`synthetic_colour`](crate::synthetic_colour)) use it.
pub(crate) struct Shape {
    cx: f32,
    cy: f32,
    r: f32,
    t: f32,
}

impl Shape {
    /// A shape for a `size × size` image: centre near the middle, radius 22–32 % of the
    /// side, stroke 5–8 %.
    pub(crate) fn random(size: usize, rng: &mut ChaCha8Rng) -> Shape {
        let s = size as f32;
        let cx = s / 2.0 + (unit(rng) - 0.5) * s * 0.2;
        let cy = s / 2.0 + (unit(rng) - 0.5) * s * 0.2;
        let r = s * (0.22 + 0.1 * unit(rng));
        let t = s * (0.05 + 0.03 * unit(rng));
        Shape { cx, cy, r, t }
    }

    /// Whether pixel `(x, y)` is on the shape of class `class` (see [`SHAPE_NAMES`]).
    pub(crate) fn covers(&self, class: usize, x: usize, y: usize) -> bool {
        let (r, t) = (self.r, self.t);
        let dx = x as f32 + 0.5 - self.cx;
        let dy = y as f32 + 0.5 - self.cy;
        let (ax, ay) = (dx.abs(), dy.abs());
        let dist = (dx * dx + dy * dy).sqrt();
        let inside = ax < r && ay < r;
        let diag = (dx - dy).abs() / std::f32::consts::SQRT_2 < t && inside;
        let anti = (dx + dy).abs() / std::f32::consts::SQRT_2 < t && inside;
        match class {
            0 => ay < t && ax < r,
            1 => ax < t && ay < r,
            2 => diag,
            3 => anti,
            4 => inside && ax.max(ay) > r - 2.0 * t,
            5 => dist < r,
            6 => (dist - r).abs() < t,
            7 => (ax < t && ay < r) || (ay < t && ax < r),
            8 => diag || anti,
            _ => ax.max(ay) < r * 0.75,
        }
    }
}

/// Generates `n` images and labels (classes drawn uniformly at random).
pub fn generate(n: usize, size: usize, seed: u64) -> (IdxImages, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(n * size * size);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let class = (rng.next_u32() % SHAPE_NAMES.len() as u32) as usize;
        draw(class, size, &mut rng, &mut pixels);
        labels.push(class as u8);
    }
    (
        IdxImages {
            count: n,
            channels: 1,
            rows: size,
            cols: size,
            pixels,
        },
        labels,
    )
}

fn file_path(dir: &Path, role: Role, gz: bool) -> PathBuf {
    let name = role.file_name();
    dir.join(if gz {
        format!("{name}.gz")
    } else {
        name.to_string()
    })
}

fn write_bytes(dir: &Path, role: Role, gz: bool, bytes: &[u8]) -> Result<PathBuf> {
    let path = file_path(dir, role, gz);
    if gz {
        write_atomic(&path, &gzip(bytes))?;
    } else {
        write_atomic(&path, bytes)?;
    }
    Ok(path)
}

/// Writes a synthetic dataset — the four IDX files and `classes.txt` — into `dir`
/// (created if needed). Load it with `idx:<dir>`.
pub fn write_synthetic(dir: &Path, config: &SyntheticConfig) -> Result<()> {
    if config.train == 0 || config.test == 0 || config.size == 0 {
        return Err(DataError::InvalidArgument {
            name: "synthetic dataset".into(),
            value: format!(
                "{} train, {} test, size {}",
                config.train, config.test, config.size
            ),
            problem: "every count and the size must be at least 1".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        action: "cannot create",
        source,
    })?;
    let (train, train_labels) = generate(config.train, config.size, config.seed);
    let (test, test_labels) = generate(config.test, config.size, config.seed ^ 0x7e57_7e57);
    write_bytes(dir, Role::TrainImages, config.gzip, &encode_images(&train))?;
    write_bytes(
        dir,
        Role::TrainLabels,
        config.gzip,
        &encode_labels(&train_labels),
    )?;
    write_bytes(dir, Role::TestImages, config.gzip, &encode_images(&test))?;
    write_bytes(
        dir,
        Role::TestLabels,
        config.gzip,
        &encode_labels(&test_labels),
    )?;
    write_atomic(
        &dir.join("classes.txt"),
        (SHAPE_NAMES.join("\n") + "\n").as_bytes(),
    )
}

/// A way to break a dataset, for error tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// The training images carry a label file's magic number.
    BadMagic,
    /// The training images declare 0 rows.
    ZeroDimension,
    /// The training images lose their last bytes.
    Truncated,
    /// The training images gain extra bytes after the data.
    TrailingBytes,
    /// The training images are 3 bytes long.
    TooShort,
    /// The training labels hold one label fewer than there are images.
    CountMismatch,
    /// A test label names an 11th class of a 10-class dataset.
    LabelOutOfRange,
    /// A byte in the middle of the gzip-compressed training images is flipped.
    CorruptGzip,
    /// Test images are one row and column smaller than the training images.
    ShapeMismatch,
}

impl Defect {
    /// Every defect.
    pub const ALL: [Defect; 9] = [
        Defect::BadMagic,
        Defect::ZeroDimension,
        Defect::Truncated,
        Defect::TrailingBytes,
        Defect::TooShort,
        Defect::CountMismatch,
        Defect::LabelOutOfRange,
        Defect::CorruptGzip,
        Defect::ShapeMismatch,
    ];
}

/// Writes a small synthetic dataset into `dir` with one defect; returns the damaged file.
pub fn write_broken(dir: &Path, defect: Defect) -> Result<PathBuf> {
    let config = SyntheticConfig {
        train: 50,
        test: 20,
        gzip: defect == Defect::CorruptGzip,
        ..SyntheticConfig::default()
    };
    write_synthetic(dir, &config)?;
    let (train, mut train_labels) = generate(config.train, config.size, config.seed);
    let mut images = encode_images(&train);
    let gz = config.gzip;
    match defect {
        Defect::BadMagic => images[2..4].copy_from_slice(&[0x08, 0x01]),
        Defect::ZeroDimension => images[8..12].copy_from_slice(&0u32.to_be_bytes()),
        Defect::Truncated => images.truncate(images.len() - 100),
        Defect::TrailingBytes => images.extend_from_slice(&[0; 7]),
        Defect::TooShort => images.truncate(3),
        Defect::CountMismatch => {
            train_labels.pop();
            return write_bytes(dir, Role::TrainLabels, gz, &encode_labels(&train_labels));
        }
        Defect::LabelOutOfRange => {
            let (_, mut labels) = generate(config.test, config.size, config.seed ^ 0x7e57_7e57);
            labels[5] = SHAPE_NAMES.len() as u8;
            return write_bytes(dir, Role::TestLabels, gz, &encode_labels(&labels));
        }
        Defect::CorruptGzip => {
            let mut packed = gzip(&images);
            let mid = packed.len() / 2;
            packed[mid] ^= 0x55;
            let path = file_path(dir, Role::TrainImages, true);
            write_atomic(&path, &packed)?;
            return Ok(path);
        }
        Defect::ShapeMismatch => {
            let (test, _) = generate(config.test, config.size - 1, config.seed ^ 0x7e57_7e57);
            return write_bytes(dir, Role::TestImages, gz, &encode_images(&test));
        }
    }
    write_bytes(dir, Role::TrainImages, gz, &images)
}
