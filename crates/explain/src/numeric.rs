//! Plain-slice numerics the methods share: bilinear resizing, Gaussian blur, seeded noise and
//! orderings, rank correlation, mean and standard error.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Bilinear resize of one `h×w` map to `out_h×out_w`, as PyTorch's
/// `F.interpolate(mode="bilinear", align_corners=False)`: output pixel `i` samples the source
/// at `(i + 0.5)·h/out_h − 0.5`, clamped at the borders.
pub fn resize_bilinear(map: &[f32], h: usize, w: usize, out_h: usize, out_w: usize) -> Vec<f32> {
    let axis = |n_in: usize, n_out: usize| -> Vec<(usize, usize, f32)> {
        let scale = n_in as f32 / n_out as f32;
        (0..n_out)
            .map(|i| {
                let src = ((i as f32 + 0.5) * scale - 0.5).max(0.0);
                let i0 = (src.floor() as usize).min(n_in - 1);
                let i1 = (i0 + 1).min(n_in - 1);
                (i0, i1, src - i0 as f32)
            })
            .collect()
    };
    let (ys, xs) = (axis(h, out_h), axis(w, out_w));
    let mut out = Vec::with_capacity(out_h * out_w);
    for &(y0, y1, ly) in &ys {
        for &(x0, x1, lx) in &xs {
            let top = map[y0 * w + x0] * (1.0 - lx) + map[y0 * w + x1] * lx;
            let bottom = map[y1 * w + x0] * (1.0 - lx) + map[y1 * w + x1] * lx;
            out.push(top * (1.0 - ly) + bottom * ly);
        }
    }
    out
}

/// Gaussian blur of one `h×w` plane with standard deviation `sigma` pixels (kernel radius
/// ⌈3σ⌉, borders replicated), separable.
pub fn gaussian_blur(plane: &[f32], h: usize, w: usize, sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / total).collect();
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut rows = vec![0f32; h * w];
    for y in 0..h {
        for x in 0..w {
            rows[y * w + x] = kernel
                .iter()
                .enumerate()
                .map(|(k, kv)| kv * plane[y * w + clamp(x as isize + k as isize - radius, w)])
                .sum();
        }
    }
    let mut out = vec![0f32; h * w];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = kernel
                .iter()
                .enumerate()
                .map(|(k, kv)| kv * rows[clamp(y as isize + k as isize - radius, h) * w + x])
                .sum();
        }
    }
    out
}

/// A generator for draw `stream` of `seed`: the same pair gives the same numbers whatever
/// else was drawn before.
pub fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A uniform draw from [0, 1).
pub fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A uniformly random permutation of `0..n` (Fisher–Yates).
pub fn permutation(rng: &mut ChaCha8Rng, n: usize) -> Vec<u32> {
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

/// Ranks (1-based, ties get their average rank).
fn ranks(values: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0f64; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation of two equally long maps (Pearson's correlation of their
/// ranks, ties averaged). A map without variance has no ranking: two such maps correlate
/// 1 when they are equal and 0 otherwise, and a constant map against a varying one is 0.
pub fn spearman(a: &[f32], b: &[f32]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    if va == 0.0 || vb == 0.0 {
        return if a == b { 1.0 } else { 0.0 };
    }
    cov / (va * vb).sqrt()
}

/// Mean and standard error of the mean (sample standard deviation / √n; 0 for one value).
pub fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}
