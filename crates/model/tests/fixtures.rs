//! Inputs, a loss and helpers shared by the tests.

use candle_core::{DType, Device, Result, Tensor};
use convlens_hooks::HookRegistry;
use convlens_model::{NetConfig, Network};

/// `n` deterministic images in [0, 1) for `config`, in `dtype`.
pub fn images(n: usize, config: NetConfig, dtype: DType) -> Tensor {
    let count = n * config.in_channels * config.input_size * config.input_size;
    let values: Vec<f64> = (0..count)
        .map(|i| {
            ((i as f64 * 0.618_033_988_75 + 0.1).sin() * 43_758.545_3)
                .fract()
                .abs()
        })
        .collect();
    Tensor::from_vec(
        values,
        (n, config.in_channels, config.input_size, config.input_size),
        &Device::Cpu,
    )
    .and_then(|t| t.to_dtype(dtype))
    .expect("images")
}

/// A smooth, non-linear scalar loss of the logits: `Σ z ⊙ c + 0.1 Σ z²`.
pub fn loss(logits: &Tensor) -> Result<Tensor> {
    let n = logits.elem_count();
    let c: Vec<f64> = (0..n).map(|i| ((i * 7 % 11) as f64 - 5.0) / 5.0).collect();
    let c = Tensor::from_vec(c, logits.shape(), logits.device())?.to_dtype(logits.dtype())?;
    (logits * c)?.sum_all()? + (logits.sqr()?.sum_all()? * 0.1)?
}

pub fn loss_with_hooks(net: &Network, x: &Tensor, hooks: &HookRegistry) -> f64 {
    loss(&net.forward_with_hooks(x, hooks).expect("forward"))
        .and_then(|l| l.to_dtype(DType::F64))
        .and_then(|l| l.to_scalar::<f64>())
        .expect("loss")
}

pub fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .and_then(|t| t.to_dtype(DType::F64))
        .and_then(|t| t.to_vec1::<f64>())
        .expect("tensor values")
}

/// A few spread-out indices into `n` elements (all of them when there are few).
pub fn sample_indices(n: usize, count: usize) -> Vec<usize> {
    if n <= count {
        return (0..n).collect();
    }
    let mut idx: Vec<usize> = (0..count).map(|k| (k * 7919 + 13) % n).collect();
    idx.push(n - 1);
    idx.sort_unstable();
    idx.dedup();
    idx
}

/// Compares an analytic derivative with central differences of `f` around 0, where
/// `f(delta)` is the loss with one entry moved by `delta`.
///
/// Returns `None` at a kink (a ReLU input or a pooling tie within `eps` of switching), where
/// the two one-sided differences disagree and the derivative does not exist; `Some(central
/// difference)` otherwise.
pub fn central_difference(mut f: impl FnMut(f64) -> f64) -> Option<f64> {
    let eps = 1e-6;
    let (plus, zero, minus) = (f(eps), f(0.0), f(-eps));
    let forward = (plus - zero) / eps;
    let backward = (zero - minus) / eps;
    if (forward - backward).abs() > 1e-4 * (1.0 + forward.abs()) {
        return None;
    }
    Some((plus - minus) / (2.0 * eps))
}
