//! A method measured end to end — maps, sanity cascade, deletion and insertion — and the
//! typed report (`explain.json`) that holds the numbers.

use std::time::Instant;

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::faithfulness::{self, Curves, FaithfulnessConfig};
use crate::methods::{attribute, Attribution, Method, Options};
use crate::model::Explainable;
use crate::numeric;
use crate::sanity::{self, SanityStep, SANITY_THRESHOLD};

/// A mean over images with its standard error.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeanSe {
    /// The mean.
    pub mean: f64,
    /// The standard error of the mean (sample standard deviation / √n).
    pub standard_error: f64,
}

impl MeanSe {
    /// The mean and standard error of `values`.
    pub fn of(values: &[f64]) -> MeanSe {
        let (mean, standard_error) = numeric::mean_se(values);
        MeanSe {
            mean,
            standard_error,
        }
    }
}

/// Deletion and insertion of one pixel ordering, summarized over the images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Faithfulness {
    /// Area under the deletion curve (lower: the ordering finds what the score needs).
    pub deletion_auc: MeanSe,
    /// Area under the insertion curve (higher: the ordering finds what the score needs).
    pub insertion_auc: MeanSe,
    /// The deletion curve averaged over the images, at fractions `k / steps`.
    pub deletion_curve: Vec<f64>,
    /// The insertion curve averaged over the images.
    pub insertion_curve: Vec<f64>,
}

impl Faithfulness {
    /// The summary of per-image curves.
    pub fn of(curves: &Curves) -> Faithfulness {
        let aucs = |c: &[Vec<f64>]| c.iter().map(|c| faithfulness::auc(c)).collect::<Vec<_>>();
        Faithfulness {
            deletion_auc: MeanSe::of(&aucs(&curves.deletion)),
            insertion_auc: MeanSe::of(&aucs(&curves.insertion)),
            deletion_curve: faithfulness::mean_curve(&curves.deletion),
            insertion_curve: faithfulness::mean_curve(&curves.insertion),
        }
    }
}

/// The sanity check of one method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sanity {
    /// Images compared.
    pub images: usize,
    /// One step per re-initialized layer, from the output back.
    pub steps: Vec<SanityStep>,
    /// The method's maps barely change when every layer is random
    /// (|rank correlation| ≥ `threshold` at the last step): it fails the check.
    pub fails: bool,
    /// The threshold applied.
    pub threshold: f64,
}

/// One method in `explain.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodReport {
    /// `saliency`, `inputxgrad`, ….
    pub name: String,
    /// The method and its parameters.
    pub parameters: Method,
    /// The cascading-randomization check.
    pub sanity: Sanity,
    /// Deletion and insertion in the order of the method's maps.
    pub faithfulness: Faithfulness,
    /// Integrated Gradients' completeness error, relative to the score difference.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub completeness_error: Option<MeanSe>,
    /// Wall-clock seconds: maps for every image, the cascade and the curves.
    pub seconds: f64,
}

/// `explain.json`: every method compared on one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExplainReport {
    /// The run folder.
    pub run: String,
    /// The dataset's title.
    pub dataset: String,
    /// The layer of the class-activation methods.
    pub layer: String,
    /// Which class each map explains: `predicted`, `true` or a class number.
    pub target: String,
    /// Images whose maps are drawn and stored.
    pub images: usize,
    /// Test images the curves are measured on.
    pub eval_images: usize,
    /// How the curves are measured.
    pub faithfulness: FaithfulnessConfig,
    /// The seed of every random draw.
    pub seed: u64,
    /// Deletion and insertion in a random order of the pixels: the baseline.
    pub random: Faithfulness,
    /// The methods, in the order run.
    pub methods: Vec<MethodReport>,
}

/// What [`evaluate_method`] measures on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The methods' shared settings.
    pub options: Options,
    /// How the curves are measured.
    pub faithfulness: FaithfulnessConfig,
    /// Images the sanity cascade compares (the first ones).
    pub sanity_images: usize,
}

/// Runs `method` on every image of `x`, then checks it: the sanity cascade on the first
/// `sanity_images` images and the deletion and insertion curves on all of them, ordering
/// equal values by `random_orders` (one per image). Returns the report and the maps.
pub fn evaluate_method<M: Explainable>(
    model: &M,
    method: &Method,
    x: &Tensor,
    targets: &[usize],
    random_orders: &[Vec<u32>],
    evaluation: &Evaluation,
) -> Result<(MethodReport, Attribution)> {
    let start = Instant::now();
    let options = &evaluation.options;
    let attribution = attribute(model, method, x, targets, options)?;
    let maps = attribution.maps.flatten_from(1)?.to_vec2::<f32>()?;
    let orders: Vec<Vec<u32>> = maps
        .iter()
        .zip(random_orders)
        .map(|(m, r)| faithfulness::ranking(m, r))
        .collect();
    let curves = faithfulness::deletion_insertion(
        model,
        x,
        targets,
        &orders,
        &evaluation.faithfulness,
        options.max_batch,
    )?;
    let k = evaluation.sanity_images.min(x.dim(0)?).max(1);
    let steps = sanity::cascading_randomization(
        model,
        &x.narrow(0, 0, k)?,
        &targets[..k],
        options.seed,
        |m, x, t| Ok(attribute(m, method, x, t, options)?.maps),
    )?;
    let report = MethodReport {
        name: method.name().to_string(),
        parameters: method.clone(),
        sanity: Sanity {
            images: k,
            fails: sanity::fails_sanity(&steps),
            steps,
            threshold: SANITY_THRESHOLD,
        },
        faithfulness: Faithfulness::of(&curves),
        completeness_error: attribution.completeness.as_deref().map(MeanSe::of),
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((report, attribution))
}

/// The random baseline: deletion and insertion of `x` in `random_orders`.
pub fn random_baseline<M: Explainable>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    random_orders: &[Vec<u32>],
    evaluation: &Evaluation,
) -> Result<Faithfulness> {
    let curves = faithfulness::deletion_insertion(
        model,
        x,
        targets,
        random_orders,
        &evaluation.faithfulness,
        evaluation.options.max_batch,
    )?;
    Ok(Faithfulness::of(&curves))
}
