//! conv2d against candle's own convolution (forward and every gradient), finite differences,
//! strided layouts, untracked inputs and bad arguments.

use candle_core::{DType, Device, Tensor, Var};
use convlens_ops::{conv2d, conv2d_relu};

use crate::fixtures::{assert_close, check_finite_differences, run, to_vec_f64, Rng};

/// Relative tolerance of the comparisons with candle (see `assert_close`).
const RTOL: f64 = 1e-5;

/// candle's reference: `Tensor::conv2d` plus a broadcast bias.
fn reference(x: &Tensor, w: &Tensor, b: Option<&Tensor>, padding: usize) -> Tensor {
    let y = x.conv2d(w, padding, 1, 1, 1).unwrap();
    match b {
        Some(b) => y
            .broadcast_add(&b.reshape((1, b.dim(0).unwrap(), 1, 1)).unwrap())
            .unwrap(),
        None => y,
    }
}

/// Which of our ops a comparison runs: `conv2d`, or `conv2d_relu` against candle's conv + relu.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fused {
    No,
    Relu,
}

#[allow(clippy::too_many_arguments)] // one comparison case, spelled out
fn compare_with_candle(
    rng: &mut Rng,
    dims: [usize; 4],
    o: usize,
    k: usize,
    padding: usize,
    bias: bool,
    dtype: DType,
    fused: Fused,
) {
    let [n, c, h, w] = dims;
    let x = rng.tensor(&dims, dtype);
    let wt = rng.tensor(&[o, c, k, k], dtype);
    let b = bias.then(|| rng.tensor(&[o], dtype));
    let (oh, ow) = (h + 2 * padding - k + 1, w + 2 * padding - k + 1);
    let r = rng.tensor(&[n, o, oh, ow], dtype);
    let ours_op = move |x: &Tensor, w: &Tensor, b: Option<&Tensor>| match fused {
        Fused::No => conv2d(x, w, b, padding).unwrap(),
        Fused::Relu => conv2d_relu(x, w, b, padding).unwrap(),
    };
    let candle_op = move |x: &Tensor, w: &Tensor, b: Option<&Tensor>| match fused {
        Fused::No => reference(x, w, b, padding),
        Fused::Relu => reference(x, w, b, padding).relu().unwrap(),
    };
    let ours = run(ours_op, &x, &wt, b.as_ref(), &r);
    let theirs = run(candle_op, &x, &wt, b.as_ref(), &r);
    let case = format!(
        "x {dims:?}, w [{o}, {c}, {k}, {k}], padding {padding}, bias {bias}, {dtype:?}, {fused:?}"
    );
    assert_eq!(ours.0.dtype(), dtype, "{case}");
    assert_close(&format!("forward, {case}"), &ours.0, &theirs.0, RTOL);
    assert_close(&format!("input gradient, {case}"), &ours.1, &theirs.1, RTOL);
    assert_close(
        &format!("weight gradient, {case}"),
        &ours.2,
        &theirs.2,
        RTOL,
    );
    if let (Some(a), Some(b)) = (&ours.3, &theirs.3) {
        assert_close(&format!("bias gradient, {case}"), a, b, RTOL);
    }
}

#[test]
fn matches_candle_over_random_shapes() {
    let mut rng = Rng::new(21);
    for dtype in [DType::F32, DType::F64] {
        for case in 0..40 {
            let k = rng.range(1, 6);
            let padding = rng.range(0, 3);
            let min = k.saturating_sub(2 * padding).max(1);
            let dims = [
                rng.range(1, 5),
                rng.range(1, 4),
                rng.range(min, min + 7),
                rng.range(min, min + 7),
            ];
            let o = rng.range(1, 5);
            let fused = if case % 3 == 0 {
                Fused::Relu
            } else {
                Fused::No
            };
            compare_with_candle(&mut rng, dims, o, k, padding, case % 4 != 0, dtype, fused);
        }
    }
}

#[test]
fn matches_candle_when_the_kernel_covers_the_input() {
    // No padding and K = H = W: the convolution is a fully connected layer (the dense path).
    let mut rng = Rng::new(22);
    for (dims, o) in [([3, 2, 4, 4], 5), ([1, 1, 1, 1], 2), ([5, 3, 2, 2], 1)] {
        compare_with_candle(&mut rng, dims, o, dims[2], 0, true, DType::F32, Fused::No);
        compare_with_candle(&mut rng, dims, o, dims[2], 0, false, DType::F64, Fused::No);
        compare_with_candle(&mut rng, dims, o, dims[2], 0, true, DType::F64, Fused::Relu);
    }
}

#[test]
fn matches_candle_at_the_course_network_shapes() {
    let mut rng = Rng::new(23);
    for (n, fused) in [(16, Fused::No), (64, Fused::Relu)] {
        // conv1, conv2, conv3 of the course network.
        compare_with_candle(&mut rng, [n, 1, 28, 28], 3, 3, 3, true, DType::F32, fused);
        compare_with_candle(&mut rng, [n, 3, 16, 16], 16, 5, 0, true, DType::F32, fused);
        compare_with_candle(&mut rng, [n, 16, 6, 6], 110, 6, 0, true, DType::F32, fused);
    }
}

#[test]
fn matches_candle_at_the_adapted_network_shapes() {
    // The course network on colour images: 3×32×32 (CIFAR, SVHN; conv1 leaves the direct
    // kernel with 3 × 3 channel pairs, conv3 reads 7×7) and 3×96×96 (STL-10).
    let mut rng = Rng::new(24);
    compare_with_candle(
        &mut rng,
        [16, 3, 32, 32],
        3,
        3,
        3,
        true,
        DType::F32,
        Fused::No,
    );
    compare_with_candle(
        &mut rng,
        [4, 3, 18, 18],
        16,
        5,
        0,
        true,
        DType::F32,
        Fused::Relu,
    );
    compare_with_candle(
        &mut rng,
        [16, 16, 7, 7],
        110,
        6,
        0,
        true,
        DType::F32,
        Fused::Relu,
    );
    compare_with_candle(
        &mut rng,
        [2, 3, 96, 96],
        3,
        3,
        3,
        true,
        DType::F32,
        Fused::Relu,
    );
    compare_with_candle(
        &mut rng,
        [2, 16, 23, 23],
        110,
        6,
        0,
        true,
        DType::F32,
        Fused::No,
    );
    compare_with_candle(
        &mut rng,
        [2, 3, 32, 32],
        3,
        3,
        3,
        true,
        DType::F64,
        Fused::Relu,
    );
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(24);
    let (xd, wd, bd) = ([2, 2, 5, 4], [3, 2, 3, 3], [3]);
    let x = rng.tensor(&xd, DType::F64);
    let w = rng.tensor(&wd, DType::F64);
    let b = rng.tensor(&bd, DType::F64);
    let r = rng.tensor(&[2, 3, 5, 4], DType::F64);
    let loss = |x: &Tensor, w: &Tensor, b: &Tensor| -> f64 {
        let y = conv2d(x, w, Some(b), 1).unwrap();
        (y * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let (_, dx, dw, db) = run(|x, w, b| conv2d(x, w, b, 1).unwrap(), &x, &w, Some(&b), &r);

    check_finite_differences("input", &x, &dx, &|t| loss(t, &w, &b));
    check_finite_differences("weight", &w, &dw, &|t| loss(&x, t, &b));
    check_finite_differences("bias", &b, &db.unwrap(), &|t| loss(&x, &w, t));
}

#[test]
fn untracked_input_gets_no_gradient() {
    let mut rng = Rng::new(25);
    // A plain tensor, like the images fed to the first layer.
    let x = rng.tensor(&[4, 1, 28, 28], DType::F32);
    assert!(!x.track_op());
    let w = Var::from_tensor(&rng.tensor(&[3, 1, 3, 3], DType::F32)).unwrap();
    let b = Var::from_tensor(&rng.tensor(&[3], DType::F32)).unwrap();
    let y = conv2d(&x, &w, Some(&b), 3).unwrap();
    let grads = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    assert!(
        grads.get(&x).is_none(),
        "a gradient was computed for the untracked input"
    );
    assert!(grads.get(&w).is_some() && grads.get(&b).is_some());

    // The same input as a variable does get one, so the check above is meaningful.
    let xv = Var::from_tensor(&x).unwrap();
    let y = conv2d(&xv, &w, Some(&b), 3).unwrap();
    let grads = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    assert!(grads.get(&xv).is_some());
}

#[test]
fn only_the_tracked_parameters_get_gradients() {
    let mut rng = Rng::new(26);
    let x = Var::from_tensor(&rng.tensor(&[2, 2, 6, 6], DType::F64)).unwrap();
    let w = rng.tensor(&[4, 2, 3, 3], DType::F64);
    let b = Var::from_tensor(&rng.tensor(&[4], DType::F64)).unwrap();
    let r = rng.tensor(&[2, 4, 4, 4], DType::F64);
    let y = conv2d(&x, &w, Some(&b), 0).unwrap();
    let grads = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(grads.get(&w).is_none());
    // d(sum(y * r))/db[o] = sum of r over everything but the channel o.
    let expected = r
        .sum_keepdim(0)
        .unwrap()
        .sum_keepdim(2)
        .unwrap()
        .sum_keepdim(3)
        .unwrap()
        .flatten_all()
        .unwrap();
    assert_close("bias gradient", grads.get(&b).unwrap(), &expected, 1e-12);
    assert!(grads.get(&x).is_some());
}

#[test]
fn strided_arguments_give_the_same_results() {
    let mut rng = Rng::new(27);
    // (channels in, out): many (im2col + gemm) and few (the direct kernels).
    for (k, padding, hw, c, o) in [(3, 1, 7, 3, 4), (4, 0, 4, 3, 4), (3, 2, 9, 1, 3)] {
        // x: a transposed, narrowed view of a bigger tensor.
        let base = rng.tensor(&[3, c + 2, hw, hw], DType::F32);
        let x = base.transpose(2, 3).unwrap().narrow(1, 1, c).unwrap();
        assert!(!x.is_contiguous());
        // w: [O, C, K, K] stored with swapped kernel axes; b: every other element of a vector.
        let w = rng
            .tensor(&[o, c, k, k], DType::F32)
            .transpose(2, 3)
            .unwrap();
        assert!(!w.is_contiguous());
        let b = rng
            .tensor(&[o, 2], DType::F32)
            .narrow(1, 0, 1)
            .unwrap()
            .squeeze(1)
            .unwrap();
        assert!(!b.is_contiguous());
        let oh = hw + 2 * padding - k + 1;
        let r = rng.tensor(&[3, o, oh, oh], DType::F32);

        let strided = run(
            |x, w, b| conv2d(x, w, b, padding).unwrap(),
            &x,
            &w,
            Some(&b),
            &r,
        );
        let (xc, wc, bc) = (
            x.contiguous().unwrap(),
            w.contiguous().unwrap(),
            b.contiguous().unwrap(),
        );
        let dense = run(
            |x, w, b| conv2d(x, w, b, padding).unwrap(),
            &xc,
            &wc,
            Some(&bc),
            &r,
        );
        assert_close("forward", &strided.0, &dense.0, 1e-6);
        assert_close("input gradient", &strided.1, &dense.1, 1e-6);
        assert_close("weight gradient", &strided.2, &dense.2, 1e-6);
        assert_close(
            "bias gradient",
            strided.3.as_ref().unwrap(),
            dense.3.as_ref().unwrap(),
            1e-6,
        );
        let theirs = reference(&xc, &wc, Some(&bc), padding);
        assert_close("forward against candle", &strided.0, &theirs, RTOL);
    }
}

#[test]
fn strided_output_gradient_is_read_through_its_layout() {
    let mut rng = Rng::new(28);
    let x = rng.tensor(&[2, 3, 6, 6], DType::F64);
    let w = rng.tensor(&[4, 3, 3, 3], DType::F64);
    let r = rng.tensor(&[2, 4, 4, 4], DType::F64);
    // Multiplying transposed views makes the incoming gradient a strided tensor.
    let transposed = run(
        |x, w, b| {
            conv2d(x, w, b, 0)
                .unwrap()
                .transpose(1, 3)
                .unwrap()
                .contiguous()
                .unwrap()
                .transpose(1, 3)
                .unwrap()
        },
        &x,
        &w,
        None,
        &r,
    );
    let plain = run(|x, w, b| conv2d(x, w, b, 0).unwrap(), &x, &w, None, &r);
    assert_close("input gradient", &transposed.1, &plain.1, 1e-12);
    assert_close("weight gradient", &transposed.2, &plain.2, 1e-12);
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((1, 2, 5, 5), DType::F32, &dev).unwrap();
    let err = |x: &Tensor, w: &Tensor, b: Option<&Tensor>, p: usize| {
        conv2d(x, w, b, p).unwrap_err().to_string()
    };

    let w = Tensor::zeros((3, 1, 3, 3), DType::F32, &dev).unwrap();
    let msg = err(&x, &w, None, 0);
    assert!(msg.contains("input channels"), "{msg}");

    let w = Tensor::zeros((3, 2, 3, 2), DType::F32, &dev).unwrap();
    let msg = err(&x, &w, None, 0);
    assert!(msg.contains("square"), "{msg}");

    let w = Tensor::zeros((3, 2, 3, 3), DType::F32, &dev).unwrap();
    let b = Tensor::zeros(4, DType::F32, &dev).unwrap();
    let msg = err(&x, &w, Some(&b), 0);
    assert!(msg.contains("bias must have shape [3]"), "{msg}");

    let w64 = Tensor::zeros((3, 2, 3, 3), DType::F64, &dev).unwrap();
    let msg = err(&x, &w64, None, 0);
    assert!(msg.contains("`w` has dtype F64"), "{msg}");

    let big = Tensor::zeros((3, 2, 8, 8), DType::F32, &dev).unwrap();
    let msg = err(&x, &big, None, 1);
    assert!(msg.contains("smaller than the 8x8 kernel"), "{msg}");

    let x3 = Tensor::zeros((2, 5, 5), DType::F32, &dev).unwrap();
    let msg = err(&x3, &w, None, 0);
    assert!(msg.contains("rank 4"), "{msg}");

    let xi = Tensor::zeros((1, 2, 5, 5), DType::U8, &dev).unwrap();
    let msg = err(&xi, &w, None, 0);
    assert!(msg.contains("U8"), "{msg}");
}

#[test]
fn fused_relu_gradient_matches_finite_differences() {
    let mut rng = Rng::new(29);
    let x = rng.tensor(&[2, 2, 4, 5], DType::F64);
    let w = rng.tensor(&[3, 2, 2, 2], DType::F64);
    let b = rng.tensor(&[3], DType::F64);
    let r = rng.tensor(&[2, 3, 5, 6], DType::F64);
    let loss = |w: &Tensor| -> f64 {
        let y = conv2d_relu(&x, w, Some(&b), 1).unwrap();
        (y * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let (y, _, dw, _) = run(
        |x, w, b| conv2d_relu(x, w, b, 1).unwrap(),
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
    check_finite_differences("weight", &w, &dw, &loss);
}
