//! The fused conv · relu · maxpool block against the same three ops in sequence, candle's
//! forward, finite differences, ties, untracked inputs and bad arguments.

use candle_core::{DType, Device, Tensor, Var};
use convlens_ops::{conv2d_relu, conv2d_relu_maxpool2d, max_pool2d};

use crate::fixtures::{assert_close, check_finite_differences, run, to_vec_f64, Rng};

fn unfused(x: &Tensor, w: &Tensor, b: Option<&Tensor>, padding: usize) -> Tensor {
    max_pool2d(&conv2d_relu(x, w, b, padding).unwrap()).unwrap()
}

fn compare_with_unfused(x: &Tensor, w: &Tensor, b: Option<&Tensor>, padding: usize, case: &str) {
    let (n, o) = (x.dim(0).unwrap(), w.dim(0).unwrap());
    let oh = x.dim(2).unwrap() + 2 * padding + 1 - w.dim(2).unwrap();
    let ow = x.dim(3).unwrap() + 2 * padding + 1 - w.dim(2).unwrap();
    let mut rng = Rng::new(99);
    let r = rng.tensor(&[n, o, oh / 2, ow / 2], x.dtype());
    let fused = run(
        |x, w, b| conv2d_relu_maxpool2d(x, w, b, padding).unwrap(),
        x,
        w,
        b,
        &r,
    );
    let plain = run(|x, w, b| unfused(x, w, b, padding), x, w, b, &r);
    // The same arithmetic in the same order: the results are identical.
    assert_close(&format!("forward, {case}"), &fused.0, &plain.0, 0.0);
    assert_close(&format!("input gradient, {case}"), &fused.1, &plain.1, 0.0);
    assert_close(&format!("weight gradient, {case}"), &fused.2, &plain.2, 0.0);
    if let (Some(a), Some(b)) = (&fused.3, &plain.3) {
        assert_close(&format!("bias gradient, {case}"), a, b, 0.0);
    }
}

#[test]
fn equals_conv_relu_then_pool_over_random_shapes() {
    let mut rng = Rng::new(51);
    for dtype in [DType::F32, DType::F64] {
        for case in 0..30 {
            let k = rng.range(1, 5);
            let padding = rng.range(0, 2);
            // Convolution outputs from 2 to 11 on each side, odd ones included.
            let min = (k + 1).saturating_sub(2 * padding).max(1);
            let dims = [
                rng.range(1, 4),
                rng.range(1, 3),
                rng.range(min, min + 9),
                rng.range(min, min + 9),
            ];
            let o = rng.range(1, 4);
            let x = rng.tensor(&dims, dtype);
            let w = rng.tensor(&[o, dims[1], k, k], dtype);
            let b = (case % 3 != 0).then(|| rng.tensor(&[o], dtype));
            let desc = format!("x {dims:?}, k {k}, o {o}, padding {padding}, {dtype:?}");
            compare_with_unfused(&x, &w, b.as_ref(), padding, &desc);
        }
    }
}

#[test]
fn course_network_blocks() {
    let mut rng = Rng::new(52);
    for n in [16, 64] {
        let x = rng.tensor(&[n, 1, 28, 28], DType::F32);
        let w = rng.tensor(&[3, 1, 3, 3], DType::F32);
        let b = rng.tensor(&[3], DType::F32);
        let y = conv2d_relu_maxpool2d(&x, &w, Some(&b), 3).unwrap();
        assert_eq!(y.dims(), [n, 3, 16, 16]);
        compare_with_unfused(&x, &w, Some(&b), 3, "conv1 block");
        // Against candle's own forward ops.
        let theirs = x
            .conv2d(&w, 3, 1, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, 3, 1, 1)).unwrap())
            .unwrap()
            .relu()
            .unwrap()
            .max_pool2d(2)
            .unwrap();
        assert_close("conv1 block against candle", &y, &theirs, 1e-5);

        let h = rng.tensor(&[n, 3, 16, 16], DType::F32);
        let w = rng.tensor(&[16, 3, 5, 5], DType::F32);
        let b = rng.tensor(&[16], DType::F32);
        assert_eq!(
            conv2d_relu_maxpool2d(&h, &w, Some(&b), 0).unwrap().dims(),
            [n, 16, 6, 6]
        );
        compare_with_unfused(&h, &w, Some(&b), 0, "conv2 block");
    }
}

#[test]
fn adapted_network_blocks() {
    // conv1 and conv2 blocks on colour inputs: 3×32×32 (odd 35×35 → 17×17 pooling follows
    // at conv2: 14×14 → 7×7) and 3×96×96.
    let mut rng = Rng::new(56);
    for (n, size) in [(8, 32), (2, 96)] {
        let x = rng.tensor(&[n, 3, size, size], DType::F32);
        let w = rng.tensor(&[3, 3, 3, 3], DType::F32);
        let b = rng.tensor(&[3], DType::F32);
        let y = conv2d_relu_maxpool2d(&x, &w, Some(&b), 3).unwrap();
        assert_eq!(y.dims(), [n, 3, (size + 4) / 2, (size + 4) / 2]);
        compare_with_unfused(&x, &w, Some(&b), 3, "colour conv1 block");
        let h = rng.tensor(&[n, 3, (size + 4) / 2, (size + 4) / 2], DType::F32);
        let w = rng.tensor(&[16, 3, 5, 5], DType::F32);
        let b = rng.tensor(&[16], DType::F32);
        compare_with_unfused(&h, &w, Some(&b), 0, "colour conv2 block");
    }
    // An odd convolution output (15×15) pools to 7×7, dropping the last row and column.
    let x = rng.tensor(&[4, 3, 19, 19], DType::F64);
    let w = rng.tensor(&[16, 3, 5, 5], DType::F64);
    compare_with_unfused(&x, &w, None, 0, "odd output block");
}

/// A 1×1 identity convolution passes its input through, so integer inputs give windows
/// with ties, zeros and negative maxima: the f32 kernels (vectorized) must route exactly like
/// the portable f64 ones and like the unfused ops.
#[test]
fn ties_zeros_and_negative_windows() {
    let mut rng = Rng::new(53);
    for w in 2..=21 {
        let dims = [2, 2, 4, w];
        let n = dims.iter().product::<usize>();
        let data: Vec<f64> = (0..n).map(|_| (rng.next_u64() % 5) as f64 - 2.0).collect();
        let x64 = Tensor::from_vec(data, &dims, &Device::Cpu).unwrap();
        let x32 = x64.to_dtype(DType::F32).unwrap();
        // The identity on two channels.
        let one64 = Tensor::from_vec(vec![1f64, 0., 0., 1.], (2, 2, 1, 1), &Device::Cpu).unwrap();
        let one32 = one64.to_dtype(DType::F32).unwrap();
        compare_with_unfused(&x32, &one32, None, 0, &format!("f32, width {w}"));
        compare_with_unfused(&x64, &one64, None, 0, &format!("f64, width {w}"));
        let r = rng.tensor(&[2, 2, 2, w / 2], DType::F64);
        let d64 = run(
            |x, w, b| conv2d_relu_maxpool2d(x, w, b, 0).unwrap(),
            &x64,
            &one64,
            None,
            &r,
        );
        let d32 = run(
            |x, w, b| conv2d_relu_maxpool2d(x, w, b, 0).unwrap(),
            &x32,
            &one32,
            None,
            &r.to_dtype(DType::F32).unwrap(),
        );
        assert_close(
            &format!("f32 against f64 input gradient, width {w}"),
            &d32.1,
            &d64.1,
            1e-6,
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(54);
    let x = rng.tensor(&[2, 2, 5, 6], DType::F64);
    let w = rng.tensor(&[3, 2, 3, 3], DType::F64);
    let b = rng.tensor(&[3], DType::F64);
    let r = rng.tensor(&[2, 3, 2, 3], DType::F64);
    let loss = |x: &Tensor, w: &Tensor, b: &Tensor| -> f64 {
        let y = conv2d_relu_maxpool2d(x, w, Some(b), 1).unwrap();
        (y * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let (y, dx, dw, db) = run(
        |x, w, b| conv2d_relu_maxpool2d(x, w, b, 1).unwrap(),
        &x,
        &w,
        Some(&b),
        &r,
    );
    assert!(to_vec_f64(&y).iter().any(|&v| v > 0.0));
    check_finite_differences("input", &x, &dx, &|t| loss(t, &w, &b));
    check_finite_differences("weight", &w, &dw, &|t| loss(&x, t, &b));
    check_finite_differences("bias", &b, &db.unwrap(), &|t| loss(&x, &w, t));
}

#[test]
fn untracked_input_gets_no_gradient_and_backward_can_run_twice() {
    let mut rng = Rng::new(55);
    let x = rng.tensor(&[3, 1, 28, 28], DType::F32);
    let w = Var::from_tensor(&rng.tensor(&[3, 1, 3, 3], DType::F32)).unwrap();
    let b = Var::from_tensor(&rng.tensor(&[3], DType::F32)).unwrap();
    let loss = conv2d_relu_maxpool2d(&x, &w, Some(&b), 3)
        .unwrap()
        .sum_all()
        .unwrap();
    let first = loss.backward().unwrap();
    assert!(
        first.get(&x).is_none(),
        "a gradient was computed for the untracked input"
    );
    let second = loss.backward().unwrap();
    assert_close(
        "weight gradient, again",
        second.get(&w).unwrap(),
        first.get(&w).unwrap(),
        0.0,
    );
    assert_close(
        "bias gradient, again",
        second.get(&b).unwrap(),
        first.get(&b).unwrap(),
        0.0,
    );
}

#[test]
fn output_smaller_than_the_window_is_an_error() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((1, 1, 4, 4), DType::F32, &dev).unwrap();
    let w = Tensor::zeros((2, 1, 4, 4), DType::F32, &dev).unwrap();
    let msg = conv2d_relu_maxpool2d(&x, &w, None, 0)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("smaller than the 2x2 pooling window"), "{msg}");
    let w = Tensor::zeros((2, 3, 3, 3), DType::F32, &dev).unwrap();
    let msg = conv2d_relu_maxpool2d(&x, &w, None, 0)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("conv2d_relu_maxpool2d") && msg.contains("input channels"),
        "{msg}"
    );
}
