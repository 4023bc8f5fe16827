//! The attribution methods: one function per method, each batched over images and over its
//! own samples (noise draws, path steps, occluded copies).

use std::sync::{Arc, Mutex};

use candle_core::{DType, Tensor, Var, D};
use convlens_hooks::GradientCapture;
use serde::{Deserialize, Serialize};

use crate::error::{ExplainError, Result};
use crate::model::Explainable;
use crate::numeric;

/// The reference input of Integrated Gradients: where the path to the image starts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Baseline {
    /// Every pixel at the low end of the input range (black).
    Black,
    /// The image blurred by a Gaussian of `sigma` pixels (each channel on its own).
    Blurred {
        /// Standard deviation of the blur, in pixels.
        sigma: f32,
    },
    /// Uniform noise over the input range, drawn from the seed (a different draw per image).
    UniformNoise,
}

/// An attribution method and its parameters; serialized with its [`Method::name`] under
/// `method` next to the parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Method {
    /// |∂score/∂input|, largest magnitude over channels (Simonyan et al., 2014).
    Saliency,
    /// input × ∂score/∂input, summed over channels (Shrikumar et al., 2016).
    #[serde(rename = "inputxgrad")]
    InputXGradient,
    /// The gradient averaged over `samples` noisy copies of the input, then as saliency
    /// (Smilkov et al., 2017).
    #[serde(rename = "smoothgrad")]
    SmoothGrad {
        /// Noisy copies per image.
        samples: usize,
        /// Standard deviation of the Gaussian noise, as a fraction of the input range.
        sigma: f32,
    },
    /// (input − baseline) × the gradient averaged along the straight path from the baseline
    /// (midpoint rule over `steps`), summed over channels (Sundararajan et al., 2017).
    #[serde(rename = "ig")]
    IntegratedGradients {
        /// Points on the path.
        steps: usize,
        /// Where the path starts.
        baseline: Baseline,
    },
    /// ReLU of the layer's channels weighted by their spatially averaged gradients,
    /// upsampled bilinearly to the input (Selvaraju et al., 2017).
    #[serde(rename = "gradcam")]
    GradCam {
        /// The layer (it needs a spatial extent).
        layer: String,
    },
    /// Grad-CAM with the channel weights of Chattopadhyay et al. (2018): positive gradients
    /// weighted per position by g² / (2g² + Σ A·g³).
    #[serde(rename = "gradcampp")]
    GradCamPlusPlus {
        /// The layer (it needs a spatial extent).
        layer: String,
    },
    /// The drop of the score when a `patch`×`patch` square (every channel) is set to `fill`,
    /// moved by `stride`; each pixel gets the mean drop of the patches covering it (Zeiler &
    /// Fergus, 2014).
    Occlusion {
        /// Side of the square, in pixels.
        patch: usize,
        /// Step between squares, in pixels.
        stride: usize,
        /// The value the square is filled with.
        fill: f32,
    },
}

/// The names of the methods, as [`Method::name`] gives them, in the order of the figures.
pub const METHOD_NAMES: [&str; 7] = [
    "saliency",
    "inputxgrad",
    "smoothgrad",
    "ig",
    "gradcam",
    "gradcampp",
    "occlusion",
];

impl Method {
    /// The short name: `saliency`, `inputxgrad`, `smoothgrad`, `ig`, `gradcam`, `gradcampp`,
    /// `occlusion`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Saliency => "saliency",
            Method::InputXGradient => "inputxgrad",
            Method::SmoothGrad { .. } => "smoothgrad",
            Method::IntegratedGradients { .. } => "ig",
            Method::GradCam { .. } => "gradcam",
            Method::GradCamPlusPlus { .. } => "gradcampp",
            Method::Occlusion { .. } => "occlusion",
        }
    }

    /// The name as figures show it: `Saliency`, `Input × Gradient`, ….
    pub fn title(&self) -> &'static str {
        match self {
            Method::Saliency => "Saliency",
            Method::InputXGradient => "Input × Gradient",
            Method::SmoothGrad { .. } => "SmoothGrad",
            Method::IntegratedGradients { .. } => "Integrated Gradients",
            Method::GradCam { .. } => "Grad-CAM",
            Method::GradCamPlusPlus { .. } => "Grad-CAM++",
            Method::Occlusion { .. } => "Occlusion",
        }
    }

    /// The method called `name` with its default parameters (Grad-CAM at `layer`):
    /// SmoothGrad 25 samples at σ = 0.15, Integrated Gradients 32 steps from black,
    /// occlusion 4×4 patches with stride 2 filled with the low end of the input range.
    pub fn from_name(name: &str, layer: &str, input_range: (f32, f32)) -> Option<Method> {
        Some(match name {
            "saliency" => Method::Saliency,
            "inputxgrad" => Method::InputXGradient,
            "smoothgrad" => Method::SmoothGrad {
                samples: 25,
                sigma: 0.15,
            },
            "ig" => Method::IntegratedGradients {
                steps: 32,
                baseline: Baseline::Black,
            },
            "gradcam" => Method::GradCam {
                layer: layer.to_string(),
            },
            "gradcampp" => Method::GradCamPlusPlus {
                layer: layer.to_string(),
            },
            "occlusion" => Method::Occlusion {
                patch: 4,
                stride: 2,
                fill: input_range.0,
            },
            _ => return None,
        })
    }

    /// The layer of a class-activation method.
    pub fn layer(&self) -> Option<&str> {
        match self {
            Method::GradCam { layer } | Method::GradCamPlusPlus { layer } => Some(layer),
            _ => None,
        }
    }
}

/// Settings every method shares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// The range of the input values (`(0, 1)` for images scaled from bytes): black, and the
    /// scale of SmoothGrad's noise.
    pub input_range: (f32, f32),
    /// The most inputs one forward pass takes (images × samples per image).
    pub max_batch: usize,
    /// The seed of every random draw (SmoothGrad's noise, a noise baseline).
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            input_range: (0.0, 1.0),
            max_batch: 512,
            seed: 0,
        }
    }
}

/// What a method computed for a batch of images.
#[derive(Clone, Debug)]
pub struct Attribution {
    /// One map per image at input resolution, `[N, H, W]` f32.
    pub maps: Tensor,
    /// Class activation maps at the layer's resolution, `[N, h, w]` (Grad-CAM, Grad-CAM++).
    pub raw: Option<Tensor>,
    /// Integrated Gradients' completeness error per image:
    /// |Σ attribution − (score(x) − score(baseline))| / |score(x) − score(baseline)|.
    pub completeness: Option<Vec<f64>>,
}

/// Runs `method` on images `x` `[N, C, H, W]` for the class `targets[i]` of each image.
///
/// The score explained is the target class's logit. Every random draw comes from
/// `options.seed` and the image's position in `x`, so the same call gives the same maps.
pub fn attribute<M: Explainable>(
    model: &M,
    method: &Method,
    x: &Tensor,
    targets: &[usize],
    options: &Options,
) -> Result<Attribution> {
    let x = x.to_dtype(DType::F32)?.detach();
    check_batch(model, &x, targets)?;
    let plain = |maps: Tensor| Attribution {
        maps,
        raw: None,
        completeness: None,
    };
    match method {
        Method::Saliency => Ok(plain(saliency(model, &x, targets, options)?)),
        Method::InputXGradient => Ok(plain(input_x_gradient(model, &x, targets, options)?)),
        Method::SmoothGrad { samples, sigma } => {
            if *samples == 0 {
                return Err(invalid("samples", samples, "must be at least 1"));
            }
            if !(sigma.is_finite() && *sigma >= 0.0) {
                return Err(invalid("sigma", sigma, "must be a finite value ≥ 0"));
            }
            Ok(plain(smoothgrad(
                model, &x, targets, *samples, *sigma, options,
            )?))
        }
        Method::IntegratedGradients { steps, baseline } => {
            if *steps == 0 {
                return Err(invalid("steps", steps, "must be at least 1"));
            }
            if let Baseline::Blurred { sigma } = baseline {
                if !(sigma.is_finite() && *sigma > 0.0) {
                    return Err(invalid("blur sigma", sigma, "must be a finite value > 0"));
                }
            }
            integrated_gradients(model, &x, targets, *steps, *baseline, options)
        }
        Method::GradCam { layer } => grad_cam(model, &x, targets, layer, false, options),
        Method::GradCamPlusPlus { layer } => grad_cam(model, &x, targets, layer, true, options),
        Method::Occlusion {
            patch,
            stride,
            fill,
        } => {
            let (h, w) = (x.dim(2)?, x.dim(3)?);
            if *patch == 0 || *patch > h.min(w) {
                return Err(invalid(
                    "patch",
                    patch,
                    &format!("must be between 1 and the image side ({})", h.min(w)),
                ));
            }
            if *stride == 0 {
                return Err(invalid("stride", stride, "must be at least 1"));
            }
            Ok(plain(occlusion(
                model, &x, targets, *patch, *stride, *fill, options,
            )?))
        }
    }
}

fn invalid(field: &'static str, value: impl std::fmt::Display, problem: &str) -> ExplainError {
    ExplainError::InvalidParameter {
        field,
        value: value.to_string(),
        problem: problem.to_string(),
    }
}

/// The model's class count, after checking the images' shape and the targets.
fn check_batch<M: Explainable>(model: &M, x: &Tensor, targets: &[usize]) -> Result<usize> {
    if x.rank() != 4 {
        return Err(ExplainError::Shape(format!(
            "images have shape {:?}, expected [N, C, H, W]",
            x.dims()
        )));
    }
    let n = x.dim(0)?;
    if targets.len() != n {
        return Err(ExplainError::Shape(format!(
            "{n} images but {} targets",
            targets.len()
        )));
    }
    if n == 0 {
        return Err(ExplainError::Shape("no images to explain".into()));
    }
    let classes = model.forward(&x.narrow(0, 0, 1)?)?.dim(1)?;
    if let Some((image, &class)) = targets.iter().enumerate().find(|(_, &c)| c >= classes) {
        return Err(ExplainError::TargetOutOfRange {
            class,
            image,
            classes,
        });
    }
    Ok(classes)
}

/// The target column of each row, as a gather index `[N, 1]`.
fn target_index(targets: &[usize], device: &candle_core::Device) -> Result<Tensor> {
    let t: Vec<u32> = targets.iter().map(|&c| c as u32).collect();
    Ok(Tensor::from_vec(t, (targets.len(), 1), device)?)
}

/// The target logits of images `x`, one per image.
pub fn scores<M: Explainable>(model: &M, x: &Tensor, targets: &[usize]) -> Result<Vec<f32>> {
    let logits = model.forward(&x.detach())?.detach();
    let chosen = logits.gather(&target_index(targets, x.device())?, D::Minus1)?;
    Ok(chosen.flatten_all()?.to_vec1::<f32>()?)
}

/// ∂ score(target) / ∂ input for each row of `x` (one backward pass for the batch: the
/// rows do not interact, so the gradient of the summed scores is each row's own).
fn input_gradients<M: Explainable>(model: &M, x: &Tensor, targets: &[usize]) -> Result<Tensor> {
    let input = Var::from_tensor(x)?;
    let logits = model.forward(input.as_tensor())?;
    let chosen = logits.gather(&target_index(targets, x.device())?, D::Minus1)?;
    let grads = chosen.sum_all()?.backward()?;
    grads
        .get(input.as_tensor())
        .cloned()
        .ok_or_else(|| ExplainError::Shape("no gradient reached the input".into()))
}

/// Runs `f` over chunks of at most `chunk` images and stacks the results along dim 0.
fn chunked(
    n: usize,
    chunk: usize,
    mut f: impl FnMut(usize, usize) -> Result<Tensor>,
) -> Result<Tensor> {
    let chunk = chunk.max(1);
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = chunk.min(n - start);
        parts.push(f(start, len)?);
        start += len;
    }
    Ok(Tensor::cat(&parts, 0)?)
}

fn saliency<M: Explainable>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    options: &Options,
) -> Result<Tensor> {
    chunked(x.dim(0)?, options.max_batch, |s, n| {
        let g = input_gradients(model, &x.narrow(0, s, n)?, &targets[s..s + n])?;
        Ok(g.abs()?.max(1)?)
    })
}

fn input_x_gradient<M: Explainable>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    options: &Options,
) -> Result<Tensor> {
    chunked(x.dim(0)?, options.max_batch, |s, n| {
        let xs = x.narrow(0, s, n)?;
        let g = input_gradients(model, &xs, &targets[s..s + n])?;
        Ok((g * xs)?.sum(1)?)
    })
}

/// Each of `n` images of `x` repeated `k` times, image-major: `[n·k, C, H, W]`.
fn repeat_each(x: &Tensor, k: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    Ok(x.unsqueeze(1)?
        .broadcast_as((n, k, c, h, w))?
        .reshape((n * k, c, h, w))?)
}

fn repeat_targets(targets: &[usize], k: usize) -> Vec<usize> {
    targets
        .iter()
        .flat_map(|&t| std::iter::repeat_n(t, k))
        .collect()
}

fn smoothgrad<M: Explainable>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    samples: usize,
    sigma: f32,
    options: &Options,
) -> Result<Tensor> {
    let (_, c, h, w) = x.dims4()?;
    let std = f64::from(sigma) * f64::from(options.input_range.1 - options.input_range.0);
    chunked(x.dim(0)?, options.max_batch / samples, |s, n| {
        let xs = repeat_each(&x.narrow(0, s, n)?, samples)?;
        let size = samples * c * h * w;
        let mut noise = Vec::with_capacity(n * size);
        for i in s..s + n {
            let mut rng = numeric::rng(options.seed, i as u64);
            noise.extend((0..size).map(|_| (std * numeric::normal(&mut rng)) as f32));
        }
        let noisy = (xs + Tensor::from_vec(noise, (n * samples, c, h, w), x.device())?)?;
        let g = input_gradients(model, &noisy, &repeat_targets(&targets[s..s + n], samples))?;
        let mean = g.reshape((n, samples, c, h, w))?.mean(1)?;
        Ok(mean.abs()?.max(1)?)
    })
}

/// The baseline of each image of `x`, `[N, C, H, W]`.
fn baseline_of(x: &Tensor, baseline: Baseline, options: &Options) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (lo, hi) = options.input_range;
    Ok(match baseline {
        Baseline::Black => (x.zeros_like()? + f64::from(lo))?,
        Baseline::Blurred { sigma } => {
            let pixels = x.flatten_all()?.to_vec1::<f32>()?;
            let blurred: Vec<f32> = pixels
                .chunks_exact(h * w)
                .flat_map(|plane| numeric::gaussian_blur(plane, h, w, sigma))
                .collect();
            Tensor::from_vec(blurred, (n, c, h, w), x.device())?
        }
        Baseline::UniformNoise => {
            let mut values = Vec::with_capacity(n * c * h * w);
            for i in 0..n {
                // Streams above the images' own, so the noise differs from SmoothGrad's.
                let mut rng = numeric::rng(options.seed, (1u64 << 32) + i as u64);
                values.extend(
                    (0..c * h * w).map(|_| lo + (hi - lo) * numeric::unit(&mut rng) as f32),
                );
            }
            Tensor::from_vec(values, (n, c, h, w), x.device())?
        }
    })
}

fn integrated_gradients<M: Explainable>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    steps: usize,
    baseline: Baseline,
    options: &Options,
) -> Result<Attribution> {
    let (n_all, c, h, w) = x.dims4()?;
    let base = baseline_of(x, baseline, options)?;
    let alphas: Vec<f32> = (0..steps)
        .map(|k| ((k as f64 + 0.5) / steps as f64) as f32)
        .collect();
    let mut completeness = Vec::with_capacity(n_all);
    let maps = chunked(n_all, options.max_batch / steps, |s, n| {
        let xs = x.narrow(0, s, n)?;
        let bs = base.narrow(0, s, n)?;
        let delta = (&xs - &bs)?;
        let alpha = Tensor::from_vec(alphas.clone(), (1, steps, 1, 1, 1), x.device())?;
        let path = bs
            .unsqueeze(1)?
            .broadcast_add(&delta.unsqueeze(1)?.broadcast_mul(&alpha)?)?
            .reshape((n * steps, c, h, w))?;
        let targets = &targets[s..s + n];
        let g = input_gradients(model, &path, &repeat_targets(targets, steps))?;
        let attributions = (g.reshape((n, steps, c, h, w))?.mean(1)? * &delta)?;
        let totals = attributions.flatten_from(1)?.sum(1)?.to_vec1::<f32>()?;
        let (at_x, at_base) = (scores(model, &xs, targets)?, scores(model, &bs, targets)?);
        for ((total, sx), sb) in totals.iter().zip(&at_x).zip(&at_base) {
            let diff = f64::from(*sx) - f64::from(*sb);
            let error = (f64::from(*total) - diff).abs();
            completeness.push(error / diff.abs().max(f64::MIN_POSITIVE));
        }
        Ok(attributions.sum(1)?)
    })?;
    Ok(Attribution {
        maps,
        raw: None,
        completeness: Some(completeness),
    })
}

/// The output shape of `layer` for one image, checking that it is a layer of the model with
/// a spatial extent (a `[C, h, w]` output with more than one position).
pub fn check_cam_layer<M: Explainable>(model: &M, x: &Tensor, layer: &str) -> Result<[usize; 3]> {
    let hooks = model.hook_registry();
    let shape = Arc::new(Mutex::new(Vec::new()));
    let slot = shape.clone();
    let _handle = hooks.register_forward_hook(layer, move |_, _, out| {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = out.dims().to_vec();
        Ok(None)
    })?;
    model.forward_with_hooks(&x.narrow(0, 0, 1)?.detach(), &hooks)?;
    let dims = shape.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let text = dims[1..]
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("×");
    match dims[..] {
        [_, c, h, w] if h * w > 1 => Ok([c, h, w]),
        _ => Err(ExplainError::NoSpatialExtent {
            layer: layer.to_string(),
            shape: text,
        }),
    }
}

fn grad_cam<M: Explainable>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    layer: &str,
    plus_plus: bool,
    options: &Options,
) -> Result<Attribution> {
    let [_, lh, lw] = check_cam_layer(model, x, layer)?;
    let (h, w) = (x.dim(2)?, x.dim(3)?);
    let hooks = model.hook_registry();
    let activation = Arc::new(Mutex::new(None));
    let slot = activation.clone();
    let _forward = hooks.register_forward_hook(layer, move |_, _, out| {
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(out.detach());
        Ok(None)
    })?;
    let gradient = GradientCapture::attach(&hooks, layer)?;
    let raw = chunked(x.dim(0)?, options.max_batch, |s, n| {
        // A variable input, so that the graph reaches the layer whatever the model's own
        // parameters are.
        let input = Var::from_tensor(&x.narrow(0, s, n)?)?;
        let logits = model.forward_with_hooks(input.as_tensor(), &hooks)?;
        let chosen = logits.gather(&target_index(&targets[s..s + n], x.device())?, D::Minus1)?;
        chosen.sum_all()?.backward()?;
        let a = activation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| ExplainError::Shape(format!("layer '{layer}' did not run")))?;
        let g = gradient
            .take()
            .ok_or_else(|| ExplainError::Shape(format!("no gradient reached layer '{layer}'")))?;
        let weights = if plus_plus {
            let g2 = g.sqr()?;
            let g3 = (&g2 * &g)?;
            let sum_a = a.sum_keepdim((2, 3))?;
            let denominator = ((&g2 * 2.0)?.broadcast_add(&g3.broadcast_mul(&sum_a)?)? + 1e-7)?;
            let alpha = (g2 / denominator)?;
            // α is 0 where the gradient is 0 (the ratio's limit there).
            let alpha = g.ne(0f32)?.where_cond(&alpha, &alpha.zeros_like()?)?;
            (alpha * g.relu()?)?.sum_keepdim((2, 3))?
        } else {
            g.mean_keepdim((2, 3))?
        };
        Ok(a.broadcast_mul(&weights)?.sum(1)?.relu()?)
    })?;
    let values = raw.flatten_all()?.to_vec1::<f32>()?;
    let up: Vec<f32> = values
        .chunks_exact(lh * lw)
        .flat_map(|m| numeric::resize_bilinear(m, lh, lw, h, w))
        .collect();
    Ok(Attribution {
        maps: Tensor::from_vec(up, (x.dim(0)?, h, w), x.device())?,
        raw: Some(raw),
        completeness: None,
    })
}

fn occlusion<M: Explainable>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    patch: usize,
    stride: usize,
    fill: f32,
    options: &Options,
) -> Result<Tensor> {
    let (_, c, h, w) = x.dims4()?;
    let positions: Vec<(usize, usize)> = (0..=h - patch)
        .step_by(stride)
        .flat_map(|y| (0..=w - patch).step_by(stride).map(move |x| (y, x)))
        .collect();
    let p = positions.len();
    // How many patches cover each pixel.
    let mut cover = vec![0f32; h * w];
    for &(py, px) in &positions {
        for y in py..py + patch {
            for x in px..px + patch {
                cover[y * w + x] += 1.0;
            }
        }
    }
    chunked(x.dim(0)?, options.max_batch / p, |s, n| {
        let xs = x.narrow(0, s, n)?;
        let targets = &targets[s..s + n];
        let pixels = xs.flatten_all()?.to_vec1::<f32>()?;
        let image = c * h * w;
        let mut occluded = Vec::with_capacity(n * p * image);
        for i in 0..n {
            for &(py, px) in &positions {
                let start = occluded.len();
                occluded.extend_from_slice(&pixels[i * image..(i + 1) * image]);
                for ch in 0..c {
                    for y in py..py + patch {
                        let row = start + ch * h * w + y * w;
                        occluded[row + px..row + px + patch].fill(fill);
                    }
                }
            }
        }
        let occluded = Tensor::from_vec(occluded, (n * p, c, h, w), x.device())?;
        let after = scores(model, &occluded, &repeat_targets(targets, p))?;
        let before = scores(model, &xs, targets)?;
        let mut maps = vec![0f32; n * h * w];
        for i in 0..n {
            let map = &mut maps[i * h * w..(i + 1) * h * w];
            for (k, &(py, px)) in positions.iter().enumerate() {
                let drop = before[i] - after[i * p + k];
                for y in py..py + patch {
                    for x in px..px + patch {
                        map[y * w + x] += drop;
                    }
                }
            }
            for (v, &n) in map.iter_mut().zip(&cover) {
                if n > 0.0 {
                    *v /= n;
                }
            }
        }
        Ok(Tensor::from_vec(maps, (n, h, w), x.device())?)
    })
}
