//! A tiny model made of named layers, the second user of the registry besides the course
//! network.

use candle_core::{DType, Device, Result, Tensor, Var};
use convlens_hooks::HookRegistry;

pub const LAYERS: [&str; 3] = ["lin1", "tanh", "lin2"];

/// `lin2(tanh(lin1(x)))` with `lin(x) = x·W + b`.
pub struct Tiny {
    pub w1: Var,
    pub b1: Var,
    pub w2: Var,
    pub b2: Var,
}

impl Tiny {
    pub fn new(dtype: DType) -> Result<Self> {
        let dev = Device::Cpu;
        let var = |values: &[f64], shape: (usize, usize)| -> Result<Var> {
            Var::from_tensor(&Tensor::from_slice(values, shape, &dev)?.to_dtype(dtype)?)
        };
        Ok(Tiny {
            w1: var(&[0.5, -0.3, 0.8, 0.1, 0.7, -0.6], (2, 3))?,
            b1: var(&[0.05, -0.1, 0.2], (1, 3))?,
            w2: var(&[0.4, -0.9, 0.3, 0.6, -0.2, 0.5], (3, 2))?,
            b2: var(&[0.1, -0.2], (1, 2))?,
        })
    }

    pub fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> Result<Tensor> {
        let x = hooks.run_layer("lin1", x, |x| x.matmul(&self.w1)?.broadcast_add(&self.b1))?;
        let x = hooks.run_layer("tanh", &x, |x| x.tanh())?;
        hooks.run_layer("lin2", &x, |x| x.matmul(&self.w2)?.broadcast_add(&self.b2))
    }
}

/// A batch of `n` two-feature inputs with distinct values.
pub fn batch(n: usize, offset: f64, dtype: DType) -> Result<Tensor> {
    let values: Vec<f64> = (0..2 * n).map(|i| offset + 0.25 * i as f64 - 0.5).collect();
    Tensor::from_vec(values, (n, 2), &Device::Cpu)?.to_dtype(dtype)
}

pub fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .and_then(|t| t.to_dtype(DType::F64))
        .and_then(|t| t.to_vec1::<f64>())
        .expect("tensor values")
}
