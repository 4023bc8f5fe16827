//! Random and extreme arguments for every public op, forward and backward: each call returns
//! an error or the correct result (checked against naive f64 references), never panics.
//!
//! Sizes are small (so that results can be checked) or huge: a padding near `2^31`, `2^62` or
//! `usize::MAX`, or a tensor broadcast to dimensions whose product exceeds
//! [`convlens_ops::MAX_ELEMENTS`] (a view: no memory behind it). Huge arguments must be
//! rejected with an error naming the op; small valid ones must succeed.

use candle_core::{DType, Device, Tensor, Var};
use convlens_ops::{
    conv2d, conv2d_relu, conv2d_relu_maxpool2d, cross_entropy, linear, linear_relu, max_pool2d,
    relu,
};
use proptest::prelude::*;

use crate::fixtures::{to_vec_f64, Rng};

/// A dimension of a broadcast tensor: two of them multiply to `2^62`, beyond `MAX_ELEMENTS`.
const HUGE_DIM: usize = 1 << 31;

/// Paddings: mostly small, sometimes far too large.
fn padding() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..=3,
        1 => Just(HUGE_DIM),
        1 => Just(1usize << 62),
        1 => Just(usize::MAX / 2),
        1 => Just(usize::MAX),
    ]
}

fn dtype() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F64)]
}

/// Relative tolerance of a comparison with the f64 references.
fn rtol(dtype: DType) -> f64 {
    if dtype == DType::F32 {
        1e-4
    } else {
        1e-10
    }
}

/// Asserts `got` equals `want` within `rtol`, relative to the larger of the two and the
/// largest magnitude in `want`.
fn assert_near(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let scale = want.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = rtol * g.abs().max(w.abs()).max(scale);
        assert!(
            (g - w).abs() <= tol,
            "{what}: element {i} is {g}, expected {w}"
        );
    }
}

/// A tensor of shape `dims` filled with seeded values; with `transposed`, a non-contiguous view
/// (the last two dimensions of a contiguous tensor swapped back), also returned as the variable
/// behind it.
fn input(rng: &mut Rng, dims: &[usize], dtype: DType, transposed: bool) -> (Var, Tensor) {
    let r = dims.len();
    if transposed && r >= 2 {
        let mut stored = dims.to_vec();
        stored.swap(r - 1, r - 2);
        let var = Var::from_tensor(&rng.tensor(&stored, dtype)).unwrap();
        let view = var.transpose(r - 1, r - 2).unwrap();
        (var, view)
    } else {
        let var = Var::from_tensor(&rng.tensor(dims, dtype)).unwrap();
        let t = var.as_tensor().clone();
        (var, t)
    }
}

/// A zero tensor broadcast to `dims` (stride 0: no memory behind it).
fn broadcast(dims: &[usize], dtype: DType) -> Tensor {
    Tensor::zeros(vec![1; dims.len()], dtype, &Device::Cpu)
        .and_then(|t| t.broadcast_as(dims))
        .unwrap()
}

/// Asserts that `result` is an error whose message says a size is too large and names `op`.
fn assert_too_large(op: &str, result: candle_core::Result<Tensor>) {
    match result {
        Ok(t) => panic!("{op}: huge arguments gave a tensor of shape {:?}", t.dims()),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(op) && msg.contains("too large"), "{msg}");
        }
    }
}

/// The arguments of one convolution case.
#[derive(Debug, Clone)]
struct ConvCase {
    x: [usize; 4],
    o: usize,
    /// The weight's input channels (usually `x`'s).
    wc: usize,
    k: usize,
    padding: usize,
    bias: bool,
    transposed: bool,
    dtype: DType,
    /// 0: `conv2d`, 1: `conv2d_relu`, 2: `conv2d_relu_maxpool2d`.
    op: u8,
    /// 0: real tensors; 1: the input broadcast to `[1, 1, 2^31, 2^31]`; 2: the input
    /// broadcast to `[1, 2^31, 1, 1]` and the weight to `[2^31, 2^31, 1, 1]`.
    huge: u8,
    seed: u64,
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        (0usize..=3, 0usize..=3, 0usize..=7, 0usize..=7),
        (
            0usize..=4,
            prop::bool::weighted(0.15),
            0usize..=4,
            padding(),
        ),
        (any::<bool>(), any::<bool>(), dtype(), 0u8..3),
        (
            prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (n, c, h, w),
                (o, mismatch, k, padding),
                (bias, transposed, dtype, op),
                (huge, seed),
            )| {
                ConvCase {
                    x: [n, c, h, w],
                    o,
                    wc: if mismatch { (c + 1) % 4 } else { c },
                    k,
                    padding,
                    bias,
                    transposed,
                    dtype,
                    op,
                    huge,
                    seed,
                }
            },
        )
}

/// A convolution op of this crate.
type ConvOp = fn(&Tensor, &Tensor, Option<&Tensor>, usize) -> candle_core::Result<Tensor>;

/// The op of a case, with the name its errors give.
fn conv_op(op: u8) -> (&'static str, ConvOp) {
    match op {
        0 => ("conv2d", conv2d),
        1 => ("conv2d", conv2d_relu),
        _ => ("conv2d_relu_maxpool2d", conv2d_relu_maxpool2d),
    }
}

/// Naive f64 convolution:
/// `y[n, o, i, j] = b[o] + Σ w[o, c, ky, kx] · x[n, c, i + ky − p, j + kx − p]`.
fn naive_conv(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    wt: &[f64],
    o: usize,
    k: usize,
    p: usize,
    b: Option<&[f64]>,
) -> (Vec<f64>, usize, usize) {
    let (oh, ow) = (h + 2 * p + 1 - k, w + 2 * p + 1 - k);
    let mut y = Vec::with_capacity(n * o * oh * ow);
    for ni in 0..n {
        for oi in 0..o {
            for i in 0..oh {
                for j in 0..ow {
                    let mut s = b.map_or(0.0, |b| b[oi]);
                    for ci in 0..c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (yy, xx) = ((i + ky).wrapping_sub(p), (j + kx).wrapping_sub(p));
                                if yy < h && xx < w {
                                    s += wt[((oi * c + ci) * k + ky) * k + kx]
                                        * x[((ni * c + ci) * h + yy) * w + xx];
                                }
                            }
                        }
                    }
                    y.push(s);
                }
            }
        }
    }
    (y, oh, ow)
}

/// Naive 2×2 max pooling of `planes` planes of `h × w`: the values and, per output, the index
/// of its first maximum in the input.
fn naive_pool(x: &[f64], planes: usize, h: usize, w: usize) -> (Vec<f64>, Vec<usize>) {
    let (ph, pw) = (h / 2, w / 2);
    let (mut y, mut at) = (Vec::new(), Vec::new());
    for pl in 0..planes {
        for i in 0..ph {
            for j in 0..pw {
                let idx = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .map(|(dy, dx)| (pl * h + 2 * i + dy) * w + 2 * j + dx);
                let best = idx
                    .into_iter()
                    .fold(idx[0], |b, q| if x[q] > x[b] { q } else { b });
                y.push(x[best]);
                at.push(best);
            }
        }
    }
    (y, at)
}

/// Swaps the last two dimensions of a row-major `rows × cols` plane array back.
fn untranspose(v: &[f64], planes: usize, rows: usize, cols: usize) -> Vec<f64> {
    // `v` is the gradient of a stored `[.., cols, rows]` tensor: element (r, c) of the view is
    // stored at (c, r).
    let mut out = vec![0.0; v.len()];
    for p in 0..planes {
        for r in 0..rows {
            for c in 0..cols {
                out[(p * rows + r) * cols + c] = v[(p * cols + c) * rows + r];
            }
        }
    }
    out
}

fn check_conv(case: &ConvCase) {
    let (name, op) = conv_op(case.op);
    let [n, c, h, w] = case.x;
    let (o, k, p, dtype) = (case.o, case.k, case.padding, case.dtype);
    if case.huge != 0 {
        let (x, wt) = if case.huge == 1 {
            (
                broadcast(&[1, 1, HUGE_DIM, HUGE_DIM], dtype),
                broadcast(&[1, 1, 1, 1], dtype),
            )
        } else {
            (
                broadcast(&[1, HUGE_DIM, 1, 1], dtype),
                broadcast(&[HUGE_DIM, HUGE_DIM, 1, 1], dtype),
            )
        };
        assert_too_large(name, op(&x, &wt, None, p));
        return;
    }
    let mut rng = Rng::new(case.seed);
    let (xvar, x) = input(&mut rng, &case.x, dtype, case.transposed);
    let wvar = Var::from_tensor(&rng.tensor(&[o, case.wc, k, k], dtype)).unwrap();
    let bvar = case
        .bias
        .then(|| Var::from_tensor(&rng.tensor(&[o], dtype)).unwrap());
    let result = op(&x, &wvar, bvar.as_deref(), p);
    let well_formed = c >= 1 && o >= 1 && k >= 1 && case.wc == c;
    if p > 3 {
        // Too large whatever the rest; other defects may be reported first.
        let msg = result
            .expect_err("a huge padding must be rejected")
            .to_string();
        assert!(msg.contains(name), "{case:?}: {msg}");
        if well_formed {
            assert!(msg.contains("too large"), "{case:?}: {msg}");
        }
        return;
    }
    let fits = well_formed && h + 2 * p >= k && w + 2 * p >= k;
    let (oh, ow) = if fits {
        (h + 2 * p + 1 - k, w + 2 * p + 1 - k)
    } else {
        (0, 0)
    };
    let pooled_fits = case.op != 2 || (oh >= 2 && ow >= 2);
    if !(fits && pooled_fits) {
        let msg = result
            .expect_err("invalid arguments must be rejected")
            .to_string();
        assert!(msg.contains(name), "{case:?}: {msg}");
        return;
    }
    let y = result.unwrap_or_else(|e| panic!("{case:?}: {e}"));
    let xs = to_vec_f64(&x);
    let ws = to_vec_f64(&wvar);
    let bs = bvar.as_ref().map(|b| to_vec_f64(b));
    let (conv, _, _) = naive_conv(&xs, case.x, &ws, o, k, p, bs.as_deref());
    let act: Vec<f64> = if case.op == 0 {
        conv.clone()
    } else {
        conv.iter().map(|&v| v.max(0.0)).collect()
    };
    let tol = rtol(dtype);
    // The output gradient `r` and the gradient of the (pre-pool) activation it implies.
    let (want_y, dact) = if case.op == 2 {
        let (py, at) = naive_pool(&act, n * o, oh, ow);
        let r = rng.tensor(&[n, o, oh / 2, ow / 2], dtype);
        let rv = to_vec_f64(&r);
        let mut dact = vec![0.0; act.len()];
        for (q, &i) in at.iter().enumerate() {
            dact[i] += rv[q];
        }
        (py, (r, dact))
    } else {
        let r = rng.tensor(&[n, o, oh, ow], dtype);
        let rv = to_vec_f64(&r);
        (act.clone(), (r.clone(), rv))
    };
    assert_eq!(
        y.dims(),
        if case.op == 2 {
            [n, o, oh / 2, ow / 2]
        } else {
            [n, o, oh, ow]
        }
    );
    assert_near(&format!("{case:?} forward"), &to_vec_f64(&y), &want_y, tol);
    let (r, dact) = dact;
    // The gradient of the convolution's output: the activation's, masked by the ReLU.
    let dconv: Vec<f64> = if case.op == 0 {
        dact
    } else {
        dact.iter()
            .zip(&conv)
            .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
            .collect()
    };
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let (mut dx, mut dw, mut db) = (
        vec![0.0; n * c * h * w],
        vec![0.0; o * c * k * k],
        vec![0.0; o],
    );
    for ni in 0..n {
        for oi in 0..o {
            for i in 0..oh {
                for j in 0..ow {
                    let g = dconv[((ni * o + oi) * oh + i) * ow + j];
                    db[oi] += g;
                    for ci in 0..c {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (yy, xx) = ((i + ky).wrapping_sub(p), (j + kx).wrapping_sub(p));
                                if yy < h && xx < w {
                                    let xi = ((ni * c + ci) * h + yy) * w + xx;
                                    let wi = ((oi * c + ci) * k + ky) * k + kx;
                                    dw[wi] += g * xs[xi];
                                    dx[xi] += g * ws[wi];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let got_dx = to_vec_f64(grads.get(&xvar).expect("input gradient"));
    let got_dx = if case.transposed {
        untranspose(&got_dx, n * c, h, w)
    } else {
        got_dx
    };
    assert_near(&format!("{case:?} input gradient"), &got_dx, &dx, tol);
    assert_near(
        &format!("{case:?} weight gradient"),
        &to_vec_f64(grads.get(&wvar).expect("weight gradient")),
        &dw,
        tol,
    );
    if let Some(b) = &bvar {
        assert_near(
            &format!("{case:?} bias gradient"),
            &to_vec_f64(grads.get(b).expect("bias gradient")),
            &db,
            tol,
        );
    }
}

#[derive(Debug, Clone)]
struct LinearCase {
    n: usize,
    i: usize,
    o: usize,
    wi: usize,
    bias: bool,
    relu: bool,
    transposed: bool,
    dtype: DType,
    huge: u8,
    seed: u64,
}

fn linear_case() -> impl Strategy<Value = LinearCase> {
    (
        (
            0usize..=4,
            0usize..=5,
            0usize..=4,
            prop::bool::weighted(0.15),
        ),
        (any::<bool>(), any::<bool>(), any::<bool>(), dtype()),
        (
            prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
            any::<u64>(),
        ),
    )
        .prop_map(
            |((n, i, o, mismatch), (bias, relu, transposed, dtype), (huge, seed))| LinearCase {
                n,
                i,
                o,
                wi: if mismatch { i + 1 } else { i },
                bias,
                relu,
                transposed,
                dtype,
                huge,
                seed,
            },
        )
}

fn check_linear(case: &LinearCase) {
    let (n, i, o, dtype) = (case.n, case.i, case.o, case.dtype);
    let op = if case.relu { linear_relu } else { linear };
    if case.huge != 0 {
        // A huge input, a huge weight, or an output too large from two moderate... views.
        let (x, w) = match case.huge {
            1 => (
                broadcast(&[HUGE_DIM, HUGE_DIM], dtype),
                broadcast(&[2, HUGE_DIM], dtype),
            ),
            2 => (
                broadcast(&[2, HUGE_DIM], dtype),
                broadcast(&[HUGE_DIM, HUGE_DIM], dtype),
            ),
            _ => (
                broadcast(&[HUGE_DIM, 1], dtype),
                broadcast(&[HUGE_DIM, 1], dtype),
            ),
        };
        assert_too_large("linear", op(&x, &w, None));
        return;
    }
    let mut rng = Rng::new(case.seed);
    let (xvar, x) = input(&mut rng, &[n, i], dtype, case.transposed);
    let wvar = Var::from_tensor(&rng.tensor(&[o, case.wi], dtype)).unwrap();
    let bvar = case
        .bias
        .then(|| Var::from_tensor(&rng.tensor(&[o], dtype)).unwrap());
    let result = op(&x, &wvar, bvar.as_deref());
    if case.wi != i {
        let msg = result
            .expect_err("mismatched features must be rejected")
            .to_string();
        assert!(msg.contains("linear"), "{msg}");
        return;
    }
    let y = result.unwrap_or_else(|e| panic!("{case:?}: {e}"));
    let (xs, ws) = (to_vec_f64(&x), to_vec_f64(&wvar));
    let bs = bvar.as_ref().map(|b| to_vec_f64(b));
    let mut z = vec![0.0; n * o];
    for r in 0..n {
        for q in 0..o {
            z[r * o + q] = bs.as_ref().map_or(0.0, |b| b[q])
                + (0..i).map(|t| xs[r * i + t] * ws[q * i + t]).sum::<f64>();
        }
    }
    let want: Vec<f64> = if case.relu {
        z.iter().map(|&v| v.max(0.0)).collect()
    } else {
        z.clone()
    };
    let tol = rtol(dtype);
    assert_eq!(y.dims(), [n, o]);
    assert_near(&format!("{case:?} forward"), &to_vec_f64(&y), &want, tol);
    let r = rng.tensor(&[n, o], dtype);
    let rv = to_vec_f64(&r);
    let g: Vec<f64> = rv
        .iter()
        .zip(&z)
        .map(|(&g, &v)| if !case.relu || v > 0.0 { g } else { 0.0 })
        .collect();
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let (mut dx, mut dw, mut db) = (vec![0.0; n * i], vec![0.0; o * i], vec![0.0; o]);
    for r in 0..n {
        for q in 0..o {
            db[q] += g[r * o + q];
            for t in 0..i {
                dx[r * i + t] += g[r * o + q] * ws[q * i + t];
                dw[q * i + t] += g[r * o + q] * xs[r * i + t];
            }
        }
    }
    let got_dx = to_vec_f64(grads.get(&xvar).expect("input gradient"));
    let got_dx = if case.transposed {
        untranspose(&got_dx, 1, n, i)
    } else {
        got_dx
    };
    assert_near(&format!("{case:?} input gradient"), &got_dx, &dx, tol);
    assert_near(
        &format!("{case:?} weight gradient"),
        &to_vec_f64(grads.get(&wvar).expect("weight gradient")),
        &dw,
        tol,
    );
    if let Some(b) = &bvar {
        assert_near(
            &format!("{case:?} bias gradient"),
            &to_vec_f64(grads.get(b).expect("bias gradient")),
            &db,
            tol,
        );
    }
}

/// Shapes for the element-wise and pooling ops: rank 0 to 4, small sides, or a huge view.
fn small_dims() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..=7, 0..=4)
}

fn check_pool(dims: &[usize], transposed: bool, dtype: DType, seed: u64) {
    let mut rng = Rng::new(seed);
    let (var, x) = input(&mut rng, dims, dtype, transposed);
    let result = max_pool2d(&x);
    let (&[n, c, h, w], true) = (dims, dims.len() == 4) else {
        let msg = result.expect_err("not rank 4").to_string();
        assert!(msg.contains("max_pool2d"), "{msg}");
        return;
    };
    if h < 2 || w < 2 {
        let msg = result.expect_err("smaller than the window").to_string();
        assert!(msg.contains("max_pool2d"), "{msg}");
        return;
    }
    let y = result.unwrap();
    let xs = to_vec_f64(&x);
    let (want, at) = naive_pool(&xs, n * c, h, w);
    assert_eq!(y.dims(), [n, c, h / 2, w / 2]);
    assert_near("max_pool2d forward", &to_vec_f64(&y), &want, 0.0);
    let r = rng.tensor(y.dims(), dtype);
    let rv = to_vec_f64(&r);
    let mut dx = vec![0.0; xs.len()];
    for (q, &i) in at.iter().enumerate() {
        dx[i] += rv[q];
    }
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let got = to_vec_f64(grads.get(&var).expect("input gradient"));
    let got = if transposed {
        untranspose(&got, n * c, h, w)
    } else {
        got
    };
    assert_near("max_pool2d gradient", &got, &dx, 0.0);
}

fn check_relu(dims: &[usize], transposed: bool, dtype: DType, seed: u64) {
    let mut rng = Rng::new(seed);
    let (var, x) = input(&mut rng, dims, dtype, transposed);
    let y = relu(&x).unwrap();
    let xs = to_vec_f64(&x);
    assert_eq!(y.dims(), dims);
    let want: Vec<f64> = xs.iter().map(|&v| v.max(0.0)).collect();
    assert_near("relu forward", &to_vec_f64(&y), &want, 0.0);
    let r = rng.tensor(dims, dtype);
    let rv = to_vec_f64(&r);
    let grads = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let dx: Vec<f64> = rv
        .iter()
        .zip(&xs)
        .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
        .collect();
    let got = to_vec_f64(grads.get(&var).expect("input gradient"));
    let r = dims.len();
    let got = if transposed && r >= 2 {
        let planes = dims[..r - 2].iter().product();
        untranspose(&got, planes, dims[r - 2], dims[r - 1])
    } else {
        got
    };
    assert_near("relu gradient", &got, &dx, 0.0);
}

fn check_cross_entropy(n: usize, c: usize, labels: &[u32], rank_ok: bool, dtype: DType, seed: u64) {
    let mut rng = Rng::new(seed);
    let dims: &[usize] = if rank_ok { &[n, c] } else { &[n, c, 1] };
    let z = Var::from_tensor(&rng.tensor(dims, dtype)).unwrap();
    let y = Tensor::new(labels, &Device::Cpu).unwrap();
    let result = cross_entropy(&z, &y);
    let valid = rank_ok && labels.len() == n && labels.iter().all(|&l| (l as usize) < c);
    if !valid {
        assert!(
            result.is_err(),
            "n {n}, c {c}, labels {labels:?}, rank ok {rank_ok}"
        );
        return;
    }
    let loss = result.unwrap();
    assert_eq!(loss.dims(), [] as [usize; 0]);
    let zs = to_vec_f64(&z);
    let (mut total, mut dz) = (0.0, vec![0.0; n * c]);
    for (i, &l) in labels.iter().enumerate() {
        let row = &zs[i * c..(i + 1) * c];
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + row.iter().map(|&v| (v - max).exp()).sum::<f64>().ln();
        total += lse - row[l as usize];
        for j in 0..c {
            let p = (row[j] - lse).exp();
            dz[i * c + j] = (p - f64::from(u8::from(j == l as usize))) / n as f64;
        }
    }
    let tol = rtol(dtype);
    if n > 0 {
        assert_near(
            "cross-entropy",
            &to_vec_f64(&loss),
            &[total / n as f64],
            tol,
        );
    }
    let grads = loss.backward().unwrap();
    assert_near(
        "cross-entropy gradient",
        &to_vec_f64(grads.get(&z).expect("logits gradient")),
        &dz,
        tol,
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn convolutions_return_errors_or_correct_results(case in conv_case()) {
        check_conv(&case);
    }

    #[test]
    fn linear_layers_return_errors_or_correct_results(case in linear_case()) {
        check_linear(&case);
    }

    #[test]
    fn pooling_returns_errors_or_correct_results(
        dims in small_dims(),
        transposed in any::<bool>(),
        dtype in dtype(),
        seed in any::<u64>(),
    ) {
        check_pool(&dims, transposed, dtype, seed);
    }

    #[test]
    fn relu_returns_correct_results(
        dims in small_dims(),
        transposed in any::<bool>(),
        dtype in dtype(),
        seed in any::<u64>(),
    ) {
        check_relu(&dims, transposed, dtype, seed);
    }

    #[test]
    fn cross_entropy_returns_errors_or_correct_results(
        n in 0usize..=4,
        c in 0usize..=5,
        labels in prop::collection::vec(0u32..=5, 0..=5),
        rank_ok in prop::bool::weighted(0.9),
        dtype in dtype(),
        seed in any::<u64>(),
    ) {
        check_cross_entropy(n, c, &labels, rank_ok, dtype, seed);
    }

    #[test]
    fn huge_views_are_errors_for_the_element_wise_ops(dtype in dtype(), rank in 2usize..=4) {
        let mut dims = vec![1; rank];
        dims[rank - 1] = HUGE_DIM;
        dims[rank - 2] = HUGE_DIM;
        assert_too_large("relu", relu(&broadcast(&dims, dtype)));
        let mut dims4 = vec![1, 1, HUGE_DIM, HUGE_DIM];
        dims4.rotate_left(rank - 2);
        assert_too_large("max_pool2d", max_pool2d(&broadcast(&dims4, dtype)));
        assert_too_large(
            "cross-entropy",
            cross_entropy(
                &broadcast(&[HUGE_DIM, HUGE_DIM], dtype),
                &broadcast(&[HUGE_DIM], DType::U32),
            ),
        );
    }
}
