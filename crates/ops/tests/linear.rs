//! linear and linear_relu against candle's matmul + bias (+ relu): forward and every gradient,
//! finite differences, strided inputs, untracked inputs, bad arguments.

use candle_core::{DType, Device, Tensor, Var};
use convlens_ops::{linear, linear_relu};

use crate::fixtures::{assert_close, check_finite_differences, run, to_vec_f64, Rng};

fn reference(x: &Tensor, w: &Tensor, b: Option<&Tensor>, relu: bool) -> Tensor {
    let y = x.matmul(&w.t().unwrap()).unwrap();
    let y = match b {
        Some(b) => y.broadcast_add(b).unwrap(),
        None => y,
    };
    if relu {
        y.relu().unwrap()
    } else {
        y
    }
}

fn ours(x: &Tensor, w: &Tensor, b: Option<&Tensor>, relu: bool) -> Tensor {
    if relu {
        linear_relu(x, w, b).unwrap()
    } else {
        linear(x, w, b).unwrap()
    }
}

fn compare(x: &Tensor, w: &Tensor, b: Option<&Tensor>, relu: bool, case: &str) {
    let mut rng = Rng::new(77);
    let r = rng.tensor(&[x.dim(0).unwrap(), w.dim(0).unwrap()], x.dtype());
    let a = run(|x, w, b| ours(x, w, b, relu), x, w, b, &r);
    let e = run(|x, w, b| reference(x, w, b, relu), x, w, b, &r);
    let tol = 1e-5;
    assert_eq!(a.0.dtype(), x.dtype(), "{case}");
    assert_close(&format!("forward, {case}"), &a.0, &e.0, tol);
    assert_close(&format!("input gradient, {case}"), &a.1, &e.1, tol);
    assert_close(&format!("weight gradient, {case}"), &a.2, &e.2, tol);
    if let (Some(p), Some(q)) = (&a.3, &e.3) {
        assert_close(&format!("bias gradient, {case}"), p, q, tol);
    }
}

#[test]
fn matches_candle_over_random_shapes() {
    let mut rng = Rng::new(61);
    for dtype in [DType::F32, DType::F64] {
        for case in 0..30 {
            let (n, i, o) = (rng.range(1, 9), rng.range(1, 40), rng.range(1, 20));
            let x = rng.tensor(&[n, i], dtype);
            let w = rng.tensor(&[o, i], dtype);
            let b = (case % 3 != 0).then(|| rng.tensor(&[o], dtype));
            let relu = case % 2 == 0;
            compare(
                &x,
                &w,
                b.as_ref(),
                relu,
                &format!("n {n}, i {i}, o {o}, relu {relu}, {dtype:?}"),
            );
        }
    }
}

#[test]
fn course_network_layers() {
    let mut rng = Rng::new(62);
    for n in [16, 64] {
        let x = rng.tensor(&[n, 110], DType::F32);
        let (w1, b1) = (
            rng.tensor(&[60, 110], DType::F32),
            rng.tensor(&[60], DType::F32),
        );
        compare(&x, &w1, Some(&b1), true, "fc1 with relu");
        let h = rng.tensor(&[n, 60], DType::F32);
        let (w2, b2) = (
            rng.tensor(&[10, 60], DType::F32),
            rng.tensor(&[10], DType::F32),
        );
        compare(&h, &w2, Some(&b2), false, "fc2");
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(63);
    let x = rng.tensor(&[3, 5], DType::F64);
    let w = rng.tensor(&[4, 5], DType::F64);
    let b = rng.tensor(&[4], DType::F64);
    let r = rng.tensor(&[3, 4], DType::F64);
    let loss = |x: &Tensor, w: &Tensor, b: &Tensor| -> f64 {
        let y = linear_relu(x, w, Some(b)).unwrap();
        (y * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let (y, dx, dw, db) = run(
        |x, w, b| linear_relu(x, w, b).unwrap(),
        &x,
        &w,
        Some(&b),
        &r,
    );
    let y = to_vec_f64(&y);
    assert!(
        y.contains(&0.0) && y.iter().any(|&v| v > 0.0),
        "both ReLU branches taken"
    );
    check_finite_differences("input", &x, &dx, &|t| loss(t, &w, &b));
    check_finite_differences("weight", &w, &dw, &|t| loss(&x, t, &b));
    check_finite_differences("bias", &b, &db.unwrap(), &|t| loss(&x, &w, t));
}

#[test]
fn strided_arguments_and_untracked_input() {
    let mut rng = Rng::new(64);
    // x and w as transposed views.
    let x = rng.tensor(&[7, 5], DType::F32).t().unwrap();
    let w = rng.tensor(&[7, 3], DType::F32).t().unwrap();
    assert!(!x.is_contiguous() && !w.is_contiguous());
    let b = rng.tensor(&[3], DType::F32);
    compare(&x, &w, Some(&b), false, "transposed x and w");

    let plain = rng.tensor(&[4, 7], DType::F32);
    let wv = Var::from_tensor(&rng.tensor(&[2, 7], DType::F32)).unwrap();
    let grads = linear(&plain, &wv, None)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(
        grads.get(&plain).is_none(),
        "a gradient was computed for the untracked input"
    );
    // d(sum(x wᵀ))/dw[o] = sum of the rows of x.
    let expected = plain.sum_keepdim(0).unwrap().broadcast_as((2, 7)).unwrap();
    assert_close("weight gradient", grads.get(&wv).unwrap(), &expected, 1e-6);
}

#[test]
fn bad_arguments_are_errors() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((2, 3), DType::F32, &dev).unwrap();
    let w = Tensor::zeros((4, 5), DType::F32, &dev).unwrap();
    let msg = linear(&x, &w, None).unwrap_err().to_string();
    assert!(msg.contains("input features"), "{msg}");
    let w = Tensor::zeros((4, 3), DType::F32, &dev).unwrap();
    let b = Tensor::zeros(3, DType::F32, &dev).unwrap();
    let msg = linear(&x, &w, Some(&b)).unwrap_err().to_string();
    assert!(msg.contains("bias must have shape [4]"), "{msg}");
    let x3 = Tensor::zeros((2, 3, 1), DType::F32, &dev).unwrap();
    let msg = linear(&x3, &w, None).unwrap_err().to_string();
    assert!(msg.contains("rank 2"), "{msg}");
    let w64 = Tensor::zeros((4, 3), DType::F64, &dev).unwrap();
    let msg = linear(&x, &w64, None).unwrap_err().to_string();
    assert!(msg.contains("`w` has dtype F64"), "{msg}");
}
