//! The model-randomization sanity check (Adebayo et al., 2018): a map that explains the
//! trained model must change when the model's weights are replaced by random ones.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::Explainable;
use crate::numeric;

/// A method whose maps on the fully randomized model still rank-correlate this much (or
/// more, in magnitude) with its maps on the trained model fails the check.
pub const SANITY_THRESHOLD: f64 = 0.5;

/// One step of the cascade: the layers re-initialized so far and how alike the maps stayed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SanityStep {
    /// The layers re-initialized, from the output back.
    pub randomized: Vec<String>,
    /// Spearman's rank correlation between the absolute values of each image's map on the
    /// trained model and on this model, averaged over the images.
    pub rank_correlation: f64,
}

/// Re-initializes the model's parameterized layers from the top down, one more at each
/// step, and compares `maps` (a method's `[N, H, W]` maps for the model, images and
/// targets) on each randomized model with its maps on the trained one. The targets stay
/// the same throughout; re-initialization uses `seed`.
///
/// Maps are compared by magnitude, as Adebayo et al. do in their main figures: a signed map
/// whose signs turn random while its magnitudes keep the image's outline (Input × Gradient
/// on black backgrounds) still shows the outline, and should not pass.
pub fn cascading_randomization<M, F>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    seed: u64,
    mut maps: F,
) -> Result<Vec<SanityStep>>
where
    M: Explainable,
    F: FnMut(&M, &Tensor, &[usize]) -> Result<Tensor>,
{
    let trained = maps(model, x, targets)?
        .abs()?
        .flatten_from(1)?
        .to_vec2::<f32>()?;
    let layers = model.parameterized_layers();
    let mut steps = Vec::with_capacity(layers.len());
    for top in 1..=layers.len() {
        let randomized = model.randomized(top, seed)?;
        let after = maps(&randomized, x, targets)?
            .abs()?
            .flatten_from(1)?
            .to_vec2::<f32>()?;
        let rho: f64 = trained
            .iter()
            .zip(&after)
            .map(|(a, b)| numeric::spearman(a, b))
            .sum::<f64>()
            / trained.len() as f64;
        steps.push(SanityStep {
            randomized: layers[layers.len() - top..].iter().rev().cloned().collect(),
            rank_correlation: rho,
        });
    }
    Ok(steps)
}

/// Whether a cascade shows a method that does not depend on the model: its maps on the
/// fully randomized model still correlate at least [`SANITY_THRESHOLD`] with the trained
/// model's.
pub fn fails_sanity(steps: &[SanityStep]) -> bool {
    steps
        .last()
        .is_some_and(|s| s.rank_correlation.abs() >= SANITY_THRESHOLD)
}
