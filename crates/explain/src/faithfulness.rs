//! Deletion and insertion curves (Petsiuk et al., 2018): how fast the target class's
//! probability falls as the most attributed pixels are removed, and how fast it rises as
//! they are put back into an emptied image.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{ExplainError, Result};
use crate::model::Explainable;
use crate::numeric;

/// How the curves are measured.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaithfulnessConfig {
    /// Points after the start: the curve has `steps + 1` points, at fractions `k / steps` of
    /// the pixels removed (or inserted).
    pub steps: usize,
    /// The value a removed pixel takes (every channel), and the value of the emptied image
    /// insertion starts from. Not the background's value: on MNIST, removing a black pixel
    /// by setting it to black would change nothing.
    pub fill: f32,
}

impl Default for FaithfulnessConfig {
    /// 28 steps, fill 0.5 (mid-grey on inputs in [0, 1]).
    fn default() -> Self {
        FaithfulnessConfig {
            steps: 28,
            fill: 0.5,
        }
    }
}

/// Per image, the target class's probability at each point of both curves.
#[derive(Clone, Debug, PartialEq)]
pub struct Curves {
    /// `deletion[i][k]`: image `i` with the first `k / steps` of its ordering removed.
    pub deletion: Vec<Vec<f64>>,
    /// `insertion[i][k]`: the emptied image `i` with the first `k / steps` put back.
    pub insertion: Vec<Vec<f64>>,
}

/// The area under one curve over [0, 1] (trapezoids).
pub fn auc(curve: &[f64]) -> f64 {
    if curve.len() < 2 {
        return curve.first().copied().unwrap_or(f64::NAN);
    }
    let steps = (curve.len() - 1) as f64;
    curve.windows(2).map(|p| (p[0] + p[1]) / 2.0).sum::<f64>() / steps
}

/// The mean curve over images.
pub fn mean_curve(curves: &[Vec<f64>]) -> Vec<f64> {
    let Some(first) = curves.first() else {
        return Vec::new();
    };
    let n = curves.len() as f64;
    (0..first.len())
        .map(|k| curves.iter().map(|c| c[k]).sum::<f64>() / n)
        .collect()
}

/// One uniformly random pixel ordering per image, from `seed` (stream = image position).
pub fn random_orders(images: usize, pixels: usize, seed: u64) -> Vec<Vec<u32>> {
    (0..images)
        .map(|i| numeric::permutation(&mut numeric::rng(seed, (2u64 << 32) + i as u64), pixels))
        .collect()
}

/// The pixels of `map` from the most to the least attributed; equal values are ordered by
/// `tie_break` (a pixel ordering, e.g. a random one), so flat regions are not removed in
/// reading order.
pub fn ranking(map: &[f32], tie_break: &[u32]) -> Vec<u32> {
    let mut position = vec![0u32; tie_break.len()];
    for (k, &p) in tie_break.iter().enumerate() {
        position[p as usize] = k as u32;
    }
    let mut order: Vec<u32> = (0..map.len() as u32).collect();
    order.sort_by(|&a, &b| {
        map[b as usize]
            .total_cmp(&map[a as usize])
            .then(position[a as usize].cmp(&position[b as usize]))
    });
    order
}

/// The deletion and insertion curves of images `x` `[N, C, H, W]` for classes `targets`,
/// removing pixels in each image's `orders[i]` (every channel of a pixel at once). At most
/// `max_batch` images go through one forward pass.
pub fn deletion_insertion<M: Explainable>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    orders: &[Vec<u32>],
    config: &FaithfulnessConfig,
    max_batch: usize,
) -> Result<Curves> {
    let (n, c, h, w) = x.dims4()?;
    if config.steps == 0 {
        return Err(ExplainError::InvalidParameter {
            field: "steps",
            value: "0".into(),
            problem: "must be at least 1".into(),
        });
    }
    if orders.len() != n || targets.len() != n || orders.iter().any(|o| o.len() != h * w) {
        return Err(ExplainError::Shape(format!(
            "{n} images of {h}×{w} need {n} targets and {n} orderings of {} pixels",
            h * w
        )));
    }
    let points = config.steps + 1;
    let pixels = x.flatten_all()?.to_vec1::<f32>()?;
    let image = c * h * w;
    let per_chunk = (max_batch / (2 * points)).max(1);
    let mut curves = Curves {
        deletion: Vec::with_capacity(n),
        insertion: Vec::with_capacity(n),
    };
    let mut start = 0;
    while start < n {
        let len = per_chunk.min(n - start);
        let mut batch = Vec::with_capacity(2 * len * points * image);
        for i in start..start + len {
            let original = &pixels[i * image..(i + 1) * image];
            for inserting in [false, true] {
                let mut current = if inserting {
                    vec![config.fill; image]
                } else {
                    original.to_vec()
                };
                let mut done = 0;
                for k in 0..points {
                    let upto = (k * h * w + config.steps / 2) / config.steps;
                    for &p in &orders[i][done..upto] {
                        for ch in 0..c {
                            let at = ch * h * w + p as usize;
                            current[at] = if inserting { original[at] } else { config.fill };
                        }
                    }
                    done = upto;
                    batch.extend_from_slice(&current);
                }
            }
        }
        let batch = Tensor::from_vec(batch, (2 * len * points, c, h, w), x.device())?;
        let logits = model.forward(&batch)?.detach().to_vec2::<f32>()?;
        for (j, i) in (start..start + len).enumerate() {
            let class = targets[i];
            let prob = |row: &[f32]| {
                let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let total: f64 = row.iter().map(|&v| f64::from(v - max).exp()).sum();
                f64::from(row[class] - max).exp() / total
            };
            let rows = &logits[2 * j * points..2 * (j + 1) * points];
            curves
                .deletion
                .push(rows[..points].iter().map(|r| prob(r)).collect());
            curves
                .insertion
                .push(rows[points..].iter().map(|r| prob(r)).collect());
        }
        start += len;
    }
    Ok(curves)
}
