//! Synthetic colour images: the ten shape classes of [`synthetic`](crate::synthetic), each
//! drawn in a random colour on a background of another random colour, for the RGB formats
//! (CIFAR, SVHN, STL-10, image folders) as [`synthetic`](crate::synthetic) serves the
//! grayscale ones.
//!
//! Colours are drawn independently of the class, so only the shape tells the class apart;
//! the shape and its background always differ in brightness by at least a quarter of the
//! range (light on dark or dark on light, at random), so the class stays learnable in
//! seconds. The same seed gives the same bytes.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::dataset::Split;
use crate::error::{DataError, Result};
use crate::synthetic::{unit, Shape, SHAPE_NAMES};

/// The smallest difference in luma (0 to 1) between a shape and its background.
pub const MIN_CONTRAST: f32 = 0.25;

/// RGB in `[0, 1]` of hue `h`, saturation `s` and value `v` (all in `[0, 1]`).
fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h6 = (h.fract() * 6.0).min(5.999_999);
    let sector = h6 as u8;
    let f = h6 - f32::from(sector);
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match sector {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// Rec. 601 luma of an RGB colour.
fn luma([r, g, b]: [f32; 3]) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// A shape colour and a background colour of random hues, at least [`MIN_CONTRAST`] apart
/// in luma (drawn again until they are; most draws are).
fn colours(rng: &mut ChaCha8Rng) -> ([f32; 3], [f32; 3]) {
    for _ in 0..64 {
        let light_shape = rng.next_u32() & 1 == 1;
        let mut draw = |light: bool| {
            let h = unit(rng);
            let s = 0.3 + 0.7 * unit(rng);
            let v = if light {
                0.7 + 0.3 * unit(rng)
            } else {
                0.05 + 0.4 * unit(rng)
            };
            hsv(h, s, v)
        };
        let shape = draw(light_shape);
        let background = draw(!light_shape);
        if (luma(shape) - luma(background)).abs() >= MIN_CONTRAST {
            return (shape, background);
        }
    }
    ([1.0; 3], [0.0; 3])
}

/// Draws one image of class `class` (`3 × size × size` bytes, channels first) into `out`.
fn draw(class: usize, size: usize, rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
    let place = Shape::random(size, rng);
    let (shape, background) = colours(rng);
    let start = out.len();
    out.resize(start + 3 * size * size, 0);
    let plane = size * size;
    for y in 0..size {
        for x in 0..size {
            let colour = if place.covers(class, x, y) {
                shape
            } else {
                background
            };
            for (c, &v) in colour.iter().enumerate() {
                let noise = 0.06 * (unit(rng) - 0.5);
                out[start + c * plane + y * size + x] =
                    ((v + noise) * 255.0).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

/// `count` colour images of `size × size` pixels (3 channels, channels first) with labels
/// drawn uniformly from the ten classes of [`SHAPE_NAMES`]. The same arguments give the same
/// bytes. `size` must be at least 1.
pub fn colour_shapes(count: usize, size: usize, seed: u64) -> Result<Split> {
    let bytes = size
        .checked_mul(size)
        .and_then(|p| p.checked_mul(3))
        .and_then(|p| p.checked_mul(count));
    let Some(bytes) = bytes.filter(|_| size > 0) else {
        return Err(DataError::InvalidArgument {
            name: "colour shapes".into(),
            value: format!("{count} images of size {size}"),
            problem: "the size must be at least 1 and the images must fit in memory".into(),
        });
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(bytes);
    let mut labels = Vec::with_capacity(count);
    for _ in 0..count {
        let class = (rng.next_u32() % SHAPE_NAMES.len() as u32) as usize;
        draw(class, size, &mut rng, &mut pixels);
        labels.push(class as u8);
    }
    Split::new(pixels, labels, [3, size, size])
}

/// A training and a test split of colour shapes (the test split from a seed derived from
/// `seed`, as [`synthetic`](crate::synthetic) derives it).
pub fn colour_dataset(train: usize, test: usize, size: usize, seed: u64) -> Result<(Split, Split)> {
    Ok((
        colour_shapes(train, size, seed)?,
        colour_shapes(test, size, seed ^ 0x7e57_7e57)?,
    ))
}
