//! Seeded random tensors and comparison helpers shared by the tests.

use candle_core::{DType, Device, Tensor, Var};

/// A small seeded generator (SplitMix64), so every test run sees the same numbers.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn tensor(&mut self, dims: &[usize], dtype: DType) -> Tensor {
        let n = dims.iter().product::<usize>();
        let data: Vec<f64> = (0..n).map(|_| self.uniform()).collect();
        Tensor::from_vec(data, dims, &Device::Cpu)
            .and_then(|t| t.to_dtype(dtype))
            .expect("valid shape")
    }
}

pub fn to_vec_f64(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f64>())
        .expect("float tensor")
}

/// Asserts `|a - b| <= rtol * max(|a|, |b|, scale)` element by element, where `scale` is the
/// largest magnitude in `b` (so sums that cancel to near zero are judged on the scale of the
/// tensor, not of the single element).
pub fn assert_close(what: &str, a: &Tensor, b: &Tensor, rtol: f64) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let (a, b) = (to_vec_f64(a), to_vec_f64(b));
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-30);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let tol = rtol * x.abs().max(y.abs()).max(scale);
        assert!(
            (x - y).abs() <= tol,
            "{what}: element {i} differs: {x} vs {y} (tolerance {tol})"
        );
    }
}

/// The output of an op and the gradients of its input, weight and (optional) bias.
pub type Grads = (Tensor, Tensor, Tensor, Option<Tensor>);

/// Runs forward and backward of `sum(f(x, w, b) * r)` with `x`, `w`, `b` as variables and
/// returns the output and the gradients of x, w and b.
pub fn run(
    f: impl Fn(&Tensor, &Tensor, Option<&Tensor>) -> Tensor,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    r: &Tensor,
) -> Grads {
    let xv = Var::from_tensor(x).unwrap();
    let wv = Var::from_tensor(w).unwrap();
    let bv = b.map(|b| Var::from_tensor(b).unwrap());
    let y = f(&xv, &wv, bv.as_ref().map(|b| b.as_tensor()));
    let grads = (&y * r).unwrap().sum_all().unwrap().backward().unwrap();
    let dx = grads.get(&xv).expect("input gradient").clone();
    let dw = grads.get(&wv).expect("weight gradient").clone();
    let db = bv.map(|b| grads.get(&b).expect("bias gradient").clone());
    (y, dx, dw, db)
}

/// Asserts that `analytic` (the backward pass's gradient of `t`) equals the central finite
/// differences of the f64 loss `f` around `t`, element by element.
pub fn check_finite_differences(
    name: &str,
    t: &Tensor,
    analytic: &Tensor,
    f: &dyn Fn(&Tensor) -> f64,
) {
    let eps = 1e-6;
    let analytic = to_vec_f64(analytic);
    assert_eq!(analytic.len(), t.elem_count(), "{name}");
    let base = to_vec_f64(t);
    for (i, a) in analytic.iter().enumerate() {
        let at = |delta: f64| {
            let mut v = base.clone();
            v[i] += delta;
            f(&Tensor::from_vec(v, t.dims(), &Device::Cpu).unwrap())
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
        assert!(
            (numeric - a).abs() <= 1e-6 * numeric.abs().max(1.0),
            "{name} element {i}: finite difference {numeric}, backward {a}"
        );
    }
}
