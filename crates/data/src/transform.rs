//! Transforms of whole splits, computed as torchvision computes them on `uint8` tensors.
//!
//! - [`resize`]: bilinear resampling with antialiasing to `N×N`, as
//!   `torchvision.transforms.functional.resize(t, [N, N], antialias=True)` on a `uint8`
//!   tensor (the default `Resize` path: convert to `float32`, interpolate, round half to
//!   even, back to `uint8`).
//! - [`to_grayscale`]: torchvision's `Grayscale()` on a `uint8` tensor (`rgb_to_grayscale`).
//!
//! Both keep the labels and the order of the images.

use crate::dataset::Split;
use crate::error::{DataError, Result};

/// The largest side [`resize`] accepts (the largest image side the image-folder reader
/// accepts, too).
pub const MAX_SIZE: usize = 4096;

/// The most bytes a transform's output split may take.
pub const MAX_OUTPUT_BYTES: u64 = 1 << 32;

/// Resizes every image of `split` to `size × size` pixels with bilinear interpolation and
/// antialiasing, and keeps the labels.
///
/// This is `torchvision.transforms.functional.resize(t, [size, size], antialias=True)` (and
/// `transforms.Resize((size, size))`) on each `uint8` image tensor `t`: the image becomes
/// `float32`, is resampled along its width, then along its height, with PyTorch's
/// antialiased triangle filter (the filter of PIL's `Image.resize(…, BILINEAR)`: support
/// scaled by the reduction factor when shrinking), and each value is rounded half to even
/// back to `uint8`. The arithmetic follows PyTorch's CPU kernel step by step, in `float32`,
/// with the roundings of its compiled loop (products rounded four at a time, the rest
/// fused multiply-adds), so the result is PyTorch's to the byte on the cases the tests
/// check (96→32, 28→14, 16→28, 30×20→17, 100×70→9, and 300 random shapes checked once); a
/// PyTorch built by another compiler may differ by 1 where a value falls within a float32
/// rounding of a half. PIL's fixed-point kernel, and the integer `uint8` kernel that
/// torchvision's `transforms.v2` uses on CPUs with AVX2 (equal to PIL's on most pixels),
/// differ from it by 1 on 6 to 79 % of the pixels of those cases.
///
/// Note: torchvision's `Resize(size)` with one number scales the *smaller* edge to `size`
/// and keeps the aspect ratio; this function always produces a square, like
/// `Resize((size, size))`. A side already equal to `size` is left as it is (that pass is
/// skipped, as in PyTorch).
///
/// # Errors
/// [`DataError::InvalidArgument`] naming `resize` when `size` is 0 or above [`MAX_SIZE`],
/// or when the output would take more than [`MAX_OUTPUT_BYTES`].
pub fn resize(split: &Split, size: usize) -> Result<Split> {
    check_size(size)?;
    let [c, h, w] = split.image_shape();
    let bytes = (split.len() as u64)
        .saturating_mul(c as u64)
        .saturating_mul((size * size) as u64);
    if bytes > MAX_OUTPUT_BYTES {
        return Err(DataError::InvalidArgument {
            name: "resize".into(),
            value: size.to_string(),
            problem: format!(
                "{} images of {c}×{size}×{size} would take {bytes} bytes, more than the limit of {MAX_OUTPUT_BYTES}",
                split.len()
            ),
        });
    }
    let resampler = Resampler::new([c, h, w], size);
    let mut pixels = Vec::with_capacity(bytes as usize);
    for i in 0..split.len() {
        resampler.resize_into(split.image(i), &mut pixels);
    }
    Split::new(pixels, split.labels().to_vec(), [c, size, size])
}

/// Converts every image of `split` to one channel, as torchvision's `Grayscale()` does on a
/// `uint8` tensor (`rgb_to_grayscale`): `0.2989 r + 0.587 g + 0.114 b` computed in
/// `float32` (each product rounded, then summed left to right) and cast to `uint8`, which
/// truncates. So white (255, 255, 255) becomes 254, as in torchvision. A one-channel split
/// comes back unchanged.
///
/// # Errors
/// [`DataError::InvalidArgument`] naming `grayscale` when the images have neither 1 nor 3
/// channels (torchvision accepts only those).
pub fn to_grayscale(split: &Split) -> Result<Split> {
    let [c, h, w] = split.image_shape();
    match c {
        1 => Ok(split.clone()),
        3 => {
            let mut pixels = Vec::with_capacity(split.len() * h * w);
            for i in 0..split.len() {
                pixels.extend(grayscale_image(split.image(i), h * w));
            }
            Split::new(pixels, split.labels().to_vec(), [1, h, w])
        }
        _ => Err(DataError::InvalidArgument {
            name: "grayscale".into(),
            value: format!("images of {c} channels"),
            problem: "only images of 1 or 3 (RGB) channels can become grayscale".into(),
        }),
    }
}

/// Checks a target side for [`resize`]: between 1 and [`MAX_SIZE`].
pub(crate) fn check_size(size: usize) -> Result<()> {
    if size == 0 || size > MAX_SIZE {
        return Err(DataError::InvalidArgument {
            name: "resize".into(),
            value: size.to_string(),
            problem: format!("the image side must be between 1 and {MAX_SIZE} pixels"),
        });
    }
    Ok(())
}

/// One RGB image in CHW order (`3 × area` bytes) as one channel (`area` bytes).
pub(crate) fn grayscale_image(rgb: &[u8], area: usize) -> impl Iterator<Item = u8> + '_ {
    let (r, rest) = rgb.split_at(area);
    let (g, b) = rest.split_at(area);
    r.iter().zip(g).zip(b).map(|((&r, &g), &b)| {
        // Three float32 tensor operations in torchvision: each product and each sum is
        // rounded to float32 (no fused multiply-add across separate tensor operations).
        let y = 0.2989f32 * f32::from(r) + 0.587f32 * f32::from(g);
        let y = y + 0.114f32 * f32::from(b);
        // `.to(torch.uint8)` truncates; y is in [0, 255).
        y as u8
    })
}

/// The taps of one output position: the first input index and one weight per input.
#[derive(Debug, Clone)]
struct Taps {
    start: usize,
    weights: Vec<f32>,
}

/// PyTorch's antialiased bilinear weights (`_compute_indices_min_size_weights_aa` with the
/// triangle filter `aa_filter`) for resampling `input` positions to `output`, in the same
/// float32 and float64 steps.
fn taps(input: usize, output: usize) -> Vec<Taps> {
    let scale = input as f32 / output as f32;
    let (support, invscale) = if scale >= 1.0 {
        (scale, (1.0f64 / f64::from(scale)) as f32)
    } else {
        (1.0f32, 1.0f32)
    };
    let max_taps = support.ceil() as i64 * 2 + 1;
    (0..output)
        .map(|i| {
            let center = (f64::from(scale) * (i as f64 + 0.5)) as f32;
            let start = ((f64::from(center - support) + 0.5) as i64).max(0);
            let end = ((f64::from(center + support) + 0.5) as i64).min(input as i64);
            let count = (end - start).clamp(0, max_taps);
            let mut weights: Vec<f32> = (0..count)
                .map(|j| {
                    let x = ((f64::from((j + start) as f32 - center) + 0.5) * f64::from(invscale))
                        as f32;
                    let x = x.abs();
                    if x < 1.0 {
                        1.0 - x
                    } else {
                        0.0
                    }
                })
                .collect();
            let total: f32 = weights.iter().fold(0.0, |a, &w| a + w);
            if total != 0.0 {
                for w in &mut weights {
                    *w /= total;
                }
            }
            Taps {
                start: start as usize,
                weights,
            }
        })
        .collect()
}

impl Taps {
    /// How many taps after the first have their product rounded to float32 before it is
    /// added; the remaining ones (fewer than 4) are fused multiply-adds.
    ///
    /// This is the order of roundings of PyTorch's compiled loop `out = v0 × w0;
    /// out += vj × wj` (x86-64 build of torch 2.15): the compiler computes the products
    /// four at a time in a vector register and adds them in order, and contracts the
    /// scalar remainder into fused multiply-adds. Found by matching its output bit for bit
    /// (reference numbers from `tests/fixtures/make_transform_reference.py`); with it, the
    /// `uint8` results are torchvision's to the byte.
    fn rounded_products(&self) -> usize {
        4 * (self.weights.len().saturating_sub(1) / 4)
    }
}

/// `acc + value × weight` rounded once to float32, as a fused multiply-add: the product of
/// two float32 is exact in float64, and so is the sum for the magnitudes of pixel values.
#[inline]
fn fma(acc: f32, value: f32, weight: f32) -> f32 {
    (f64::from(acc) + f64::from(value) * f64::from(weight)) as f32
}

/// Resamples images of one shape to `size × size`, with the taps computed once.
#[derive(Debug, Clone)]
pub(crate) struct Resampler {
    shape: [usize; 3],
    size: usize,
    columns: Option<Vec<Taps>>,
    rows: Option<Vec<Taps>>,
}

impl Resampler {
    /// A resampler of `[channels, rows, cols]` images to `size × size`.
    pub(crate) fn new(shape: [usize; 3], size: usize) -> Self {
        let [_, h, w] = shape;
        Resampler {
            shape,
            size,
            columns: (w != size).then(|| taps(w, size)),
            rows: (h != size).then(|| taps(h, size)),
        }
    }

    /// Appends the resized `image` (CHW bytes of the resampler's shape) to `out`.
    pub(crate) fn resize_into(&self, image: &[u8], out: &mut Vec<u8>) {
        let [c, h, w] = self.shape;
        if self.columns.is_none() && self.rows.is_none() {
            out.extend_from_slice(image);
            return;
        }
        let values: Vec<f32> = image.iter().map(|&p| f32::from(p)).collect();
        let result = match (&self.columns, &self.rows) {
            (Some(columns), None) => horizontal(&values, c * h, w, columns),
            (None, Some(rows)) => vertical(&values, c, h, w, rows),
            (Some(columns), Some(rows)) => vertical(
                &horizontal(&values, c * h, w, columns),
                c,
                h,
                self.size,
                rows,
            ),
            (None, None) => values,
        };
        out.extend(result.into_iter().map(to_u8));
    }
}

/// `torch.round` (half to even), then `uint8`.
fn to_u8(v: f32) -> u8 {
    v.round_ties_even().clamp(0.0, 255.0) as u8
}

/// Resamples each of `lines` rows of `width` values to `taps.len()` values.
fn horizontal(values: &[f32], lines: usize, width: usize, taps: &[Taps]) -> Vec<f32> {
    let n = taps.len();
    let mut out = vec![0.0f32; lines * n];
    for (line, out_line) in values.chunks_exact(width).zip(out.chunks_exact_mut(n)) {
        for (o, t) in out_line.iter_mut().zip(taps) {
            let rounded = t.rounded_products();
            let src = line.get(t.start..).unwrap_or_default();
            let mut acc = 0.0f32;
            for (j, (&v, &wt)) in src.iter().zip(&t.weights).enumerate() {
                acc = if j == 0 {
                    v * wt
                } else if j <= rounded {
                    acc + v * wt
                } else {
                    fma(acc, v, wt)
                };
            }
            *o = acc;
        }
    }
    out
}

/// Resamples the `height` rows of each of `channels` planes of `width` columns to
/// `taps.len()` rows.
fn vertical(
    values: &[f32],
    channels: usize,
    height: usize,
    width: usize,
    taps: &[Taps],
) -> Vec<f32> {
    let n = taps.len();
    let mut out = vec![0.0f32; channels * n * width];
    for (plane, out_plane) in values
        .chunks_exact(height * width)
        .zip(out.chunks_exact_mut(n * width))
    {
        for (out_row, t) in out_plane.chunks_exact_mut(width).zip(taps) {
            let rounded = t.rounded_products();
            let rows = plane.get(t.start * width..).unwrap_or_default();
            for (j, (row, &wt)) in rows.chunks_exact(width).zip(&t.weights).enumerate() {
                if j == 0 {
                    for (o, &v) in out_row.iter_mut().zip(row) {
                        *o = v * wt;
                    }
                } else if j <= rounded {
                    for (o, &v) in out_row.iter_mut().zip(row) {
                        *o += v * wt;
                    }
                } else {
                    for (o, &v) in out_row.iter_mut().zip(row) {
                        *o = fma(*o, v, wt);
                    }
                }
            }
        }
    }
    out
}
