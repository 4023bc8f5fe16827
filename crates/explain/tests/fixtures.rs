//! Models to explain: tiny hand-made ones whose maps can be written out, and the course
//! network behind the trait.

use candle_core::{DType, Device, Result, Tensor, Var};
use convlens_explain::Explainable;
use convlens_hooks::HookRegistry;
use convlens_model::{Backend, NetConfig, Network, LAYERS};

/// The course network, explained.
pub struct Course(pub Network);

impl Course {
    pub fn new(seed: u64, backend: Backend) -> Course {
        let mut net = Network::new(NetConfig::default(), seed, &Device::Cpu).unwrap();
        net.set_backend(backend);
        Course(net)
    }
}

impl Explainable for Course {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.0.forward(x)
    }
    fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> Result<Tensor> {
        self.0.forward_with_hooks(x, hooks)
    }
    fn hook_registry(&self) -> HookRegistry {
        self.0.hook_registry()
    }
    fn parameterized_layers(&self) -> Vec<String> {
        LAYERS
            .iter()
            .filter(|l| l.params.is_some())
            .map(|l| l.name.to_string())
            .collect()
    }
    fn randomized(&self, top: usize, seed: u64) -> Result<Self> {
        let mut fresh =
            Network::new(self.0.config(), seed, &Device::Cpu).map_err(candle_core::Error::wrap)?;
        fresh.set_backend(self.0.backend());
        let keep = 2 * (self.parameterized_layers().len() - top);
        for (new, old) in fresh.vars().iter().zip(self.0.vars()).take(keep) {
            new.set(old.as_tensor())?;
        }
        Ok(Course(fresh))
    }
}

/// `n` images of the course network's shape: seeded blobs on black, like digits.
pub fn images(n: usize, seed: u64) -> Tensor {
    let mut values = Vec::with_capacity(n * 784);
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f32 / (1u64 << 31) as f32
    };
    for _ in 0..n {
        let (cy, cx, r) = (8.0 + 12.0 * next(), 8.0 + 12.0 * next(), 4.0 + 5.0 * next());
        for y in 0..28 {
            for x in 0..28 {
                let d = ((y as f32 - cy).powi(2) + (x as f32 - cx).powi(2)).sqrt();
                let ring = (1.0 - (d - r).abs() / 2.0).max(0.0);
                values.push((ring + 0.05 * next()).min(1.0));
            }
        }
    }
    Tensor::from_vec(values, (n, 1, 28, 28), &Device::Cpu).unwrap()
}

/// A model of fixed functions on 1×4×4 images: `features` is the 2×2 average pooling `P`
/// and its square, `[P, P²]` (2×2×2); class 0 scores `2·ΣP − ΣP²`, class 1 `ΣP²`.
pub struct PoolSquares;

impl Explainable for PoolSquares {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with_hooks(x, &HookRegistry::new())
    }
    fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> Result<Tensor> {
        let a = hooks.run_layer("features", x, |x| {
            let n = x.dim(0)?;
            let p = x.reshape((n, 1, 2, 2, 2, 2))?.mean(5)?.mean(3)?;
            Tensor::cat(&[&p, &p.sqr()?], 1)
        })?;
        hooks.run_layer("scores", &a, |a| {
            let sums = a.sum((2, 3))?; // [N, 2]: ΣP, ΣP²
            let w = Tensor::new(&[[2f32, 0.], [-1., 1.]], a.device())?;
            sums.matmul(&w)
        })
    }
    fn hook_registry(&self) -> HookRegistry {
        HookRegistry::with_layers(&["features", "scores"])
    }
    fn parameterized_layers(&self) -> Vec<String> {
        Vec::new()
    }
    fn randomized(&self, _top: usize, _seed: u64) -> Result<Self> {
        Ok(PoolSquares)
    }
}

/// Class 0 scores `Σ w ⊙ x²` over a 1×2×2 image, class 1 `Σ x`.
pub struct WeightedSquares {
    pub w: Tensor,
}

impl Explainable for WeightedSquares {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let n = x.dim(0)?;
        let squares = x
            .sqr()?
            .broadcast_mul(&self.w)?
            .flatten_from(1)?
            .sum_keepdim(1)?;
        Tensor::cat(&[squares, x.reshape((n, 4))?.sum_keepdim(1)?], 1)
    }
    fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> Result<Tensor> {
        hooks.run_layer("scores", x, |x| self.forward(x))
    }
    fn hook_registry(&self) -> HookRegistry {
        HookRegistry::with_layers(&["scores"])
    }
    fn parameterized_layers(&self) -> Vec<String> {
        Vec::new()
    }
    fn randomized(&self, _top: usize, _seed: u64) -> Result<Self> {
        Ok(WeightedSquares { w: self.w.clone() })
    }
}

/// Class 0 scores the sum of the top-left 2×2 pixels of a 1×6×6 image and sees nothing
/// else; class 1 scores 0. Its one parameter is a weight of 1 on that sum.
pub struct CornerOnly {
    pub w: Var,
}

impl CornerOnly {
    pub fn new() -> CornerOnly {
        CornerOnly {
            w: Var::from_slice(&[1f32], (1, 1), &Device::Cpu).unwrap(),
        }
    }
}

impl Explainable for CornerOnly {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let corner = x
            .narrow(2, 0, 2)?
            .narrow(3, 0, 2)?
            .sum((1, 2, 3))?
            .unsqueeze(1)?;
        let score = corner.matmul(self.w.as_tensor())?;
        Tensor::cat(&[&score, &score.zeros_like()?], 1)
    }
    fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> Result<Tensor> {
        hooks.run_layer("scores", x, |x| self.forward(x))
    }
    fn hook_registry(&self) -> HookRegistry {
        HookRegistry::with_layers(&["scores"])
    }
    fn parameterized_layers(&self) -> Vec<String> {
        vec!["scores".into()]
    }
    fn randomized(&self, _top: usize, seed: u64) -> Result<Self> {
        Ok(CornerOnly {
            w: Var::from_slice(&[-(seed as f32) - 1.0], (1, 1), &Device::Cpu)?,
        })
    }
}

/// Largest |a − b| relative to the largest |b|.
pub fn relative_difference(a: &Tensor, b: &Tensor) -> f32 {
    let a = a
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = b
        .to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "the reference map is all zeros");
    a.iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}
