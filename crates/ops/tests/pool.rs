//! Max pooling: hand-computed gradients, candle's forward, finite differences, layouts, errors.

use candle_core::{DType, Device, Tensor, Var};
use convlens_ops::max_pool2d;

use crate::fixtures::{assert_close, to_vec_f64, Rng};

fn grad_of_sum(x: &Tensor) -> Vec<f64> {
    let var = Var::from_tensor(x).expect("float tensor");
    let y = max_pool2d(&var).expect("pool");
    let grads = y.sum_all().and_then(|s| s.backward()).expect("backward");
    to_vec_f64(grads.get(&var).expect("gradient of the variable"))
}

#[test]
fn single_maximum_gets_the_whole_gradient() {
    #[rustfmt::skip]
    let x = Tensor::new(&[[[
        [1f32, 2., 0., -1.],
        [4., 3., -2., -3.],
        [0., 0., 9., 1.],
        [0., 7., 2., 8.],
    ]]], &Device::Cpu).unwrap();
    let y = max_pool2d(&x).unwrap();
    assert_eq!(to_vec_f64(&y), [4., 0., 7., 9.]);
    #[rustfmt::skip]
    let expected = [
        0., 0., 1., 0.,
        1., 0., 0., 0.,
        0., 0., 1., 0.,
        0., 1., 0., 0.,
    ];
    assert_eq!(grad_of_sum(&x), expected);
}

#[test]
fn output_gradients_are_routed_unscaled() {
    let x = Tensor::new(&[[[[1f64, 3.], [2., 0.]]]], &Device::Cpu).unwrap();
    let var = Var::from_tensor(&x).unwrap();
    let y = max_pool2d(&var).unwrap();
    let loss = (y * 2.5).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    assert_eq!(to_vec_f64(grads.get(&var).unwrap()), [0., 2.5, 0., 0.]);
}

#[test]
fn ties_go_to_the_first_maximum_in_row_major_order() {
    #[rustfmt::skip]
    let x = Tensor::new(&[[[
        [5f32, 5., 0., 1.],
        [5., 5., 2., 2.],
        [3., 0., -1., -1.],
        [0., 3., -1., -1.],
    ]]], &Device::Cpu).unwrap();
    #[rustfmt::skip]
    let expected = [
        1., 0., 0., 0.,
        0., 0., 1., 0.,
        1., 0., 1., 0.,
        0., 0., 0., 0.,
    ];
    assert_eq!(grad_of_sum(&x), expected);
}

#[test]
fn odd_trailing_rows_and_columns_are_dropped_with_zero_gradient() {
    // 3x5 input: one output row, two output columns; row 2 and column 4 are outside every window.
    #[rustfmt::skip]
    let x = Tensor::new(&[[[
        [0f32, 1., 2., 3., 99.],
        [4., 0., 0., 1., 99.],
        [99., 99., 99., 99., 99.],
    ]]], &Device::Cpu).unwrap();
    let y = max_pool2d(&x).unwrap();
    assert_eq!(y.dims(), [1, 1, 1, 2]);
    assert_eq!(to_vec_f64(&y), [4., 3.]);
    #[rustfmt::skip]
    let expected = [
        0., 0., 0., 1., 0.,
        1., 0., 0., 0., 0.,
        0., 0., 0., 0., 0.,
    ];
    assert_eq!(grad_of_sum(&x), expected);
}

#[test]
fn nan_counts_as_the_maximum() {
    let x = Tensor::new(&[[[[1f32, f32::NAN], [3., 2.]]]], &Device::Cpu).unwrap();
    let y = to_vec_f64(&max_pool2d(&x).unwrap());
    assert!(y[0].is_nan());
    assert_eq!(grad_of_sum(&x), [0., 1., 0., 0.]);
}

#[test]
fn forward_matches_candle_over_random_shapes() {
    let mut rng = Rng::new(7);
    for dtype in [DType::F32, DType::F64] {
        for _ in 0..30 {
            let dims = [
                rng.range(1, 4),
                rng.range(1, 5),
                rng.range(2, 13),
                rng.range(2, 13),
            ];
            let x = rng.tensor(&dims, dtype);
            let ours = max_pool2d(&x).unwrap();
            let theirs = x.max_pool2d(2).unwrap();
            assert_eq!(ours.dtype(), dtype);
            assert_eq!(ours.dims(), theirs.dims(), "shape for input {dims:?}");
            assert_eq!(
                to_vec_f64(&ours),
                to_vec_f64(&theirs),
                "values for input {dims:?}"
            );
        }
    }
}

#[test]
fn course_network_shapes() {
    let mut rng = Rng::new(8);
    for (dims, out) in [
        ([16, 3, 32, 32], [16, 3, 16, 16]),
        ([64, 16, 12, 12], [64, 16, 6, 6]),
    ] {
        let x = rng.tensor(&dims, DType::F32);
        let y = max_pool2d(&x).unwrap();
        assert_eq!(y.dims(), out);
        assert_eq!(to_vec_f64(&y), to_vec_f64(&x.max_pool2d(2).unwrap()));
    }
}

/// Central finite differences of `sum(pool(x) * r)` in f64: values are distinct, so the
/// argmax is stable under a small step and the gradient is exact.
#[test]
fn gradient_matches_finite_differences() {
    let mut rng = Rng::new(9);
    let dims = [2, 2, 5, 6];
    let x = rng.tensor(&dims, DType::F64);
    let r = rng.tensor(&[2, 2, 2, 3], DType::F64);
    let loss = |x: &Tensor| -> f64 {
        let y = max_pool2d(x).unwrap();
        (y * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let var = Var::from_tensor(&x).unwrap();
    let y = max_pool2d(&var).unwrap();
    let grads = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
    let analytic = to_vec_f64(grads.get(&var).unwrap());

    let base = to_vec_f64(&x);
    let eps = 1e-6;
    let mut nonzero = 0;
    for i in 0..base.len() {
        let mut plus = base.clone();
        plus[i] += eps;
        let mut minus = base.clone();
        minus[i] -= eps;
        let plus = Tensor::from_vec(plus, &dims, &Device::Cpu).unwrap();
        let minus = Tensor::from_vec(minus, &dims, &Device::Cpu).unwrap();
        let numeric = (loss(&plus) - loss(&minus)) / (2.0 * eps);
        assert!(
            (numeric - analytic[i]).abs() <= 1e-6,
            "element {i}: finite difference {numeric}, backward {}",
            analytic[i]
        );
        nonzero += usize::from(analytic[i] != 0.0);
    }
    // One position per window (2*2*2*3 windows) receives gradient.
    assert_eq!(nonzero, 24);
}

#[test]
fn strided_inputs_give_the_same_values_and_gradients() {
    let mut rng = Rng::new(10);
    let base = rng.tensor(&[3, 4, 9, 8], DType::F32);
    // A transposed, narrowed view: non-contiguous with a start offset.
    let strided = base.transpose(2, 3).unwrap().narrow(1, 1, 2).unwrap();
    assert!(!strided.is_contiguous());
    let dense = strided.contiguous().unwrap();
    assert_close(
        "forward",
        &max_pool2d(&strided).unwrap(),
        &max_pool2d(&dense).unwrap(),
        0.0,
    );

    let var = Var::from_tensor(&base).unwrap();
    let view = var.transpose(2, 3).unwrap().narrow(1, 1, 2).unwrap();
    let r = rng.tensor(&[3, 2, 4, 4], DType::F32);
    let grads = (max_pool2d(&view).unwrap() * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let dense_var = Var::from_tensor(&dense).unwrap();
    let dense_grads = (max_pool2d(&dense_var).unwrap() * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let expected = dense_grads
        .get(&dense_var)
        .unwrap()
        .transpose(2, 3)
        .unwrap();
    let got = grads.get(&var).unwrap().narrow(1, 1, 2).unwrap();
    assert_close("gradient", &got, &expected, 0.0);
    // Channels outside the view get nothing.
    let outside = to_vec_f64(&grads.get(&var).unwrap().narrow(1, 0, 1).unwrap());
    assert!(outside.iter().all(|&v| v == 0.0));
}

#[test]
fn non_contiguous_output_gradient_is_read_through_its_layout() {
    let mut rng = Rng::new(11);
    let x = rng.tensor(&[2, 3, 6, 6], DType::F64);
    let var = Var::from_tensor(&x).unwrap();
    let y = max_pool2d(&var).unwrap();
    // y.t() * r.t() makes the incoming gradient of y a transposed (strided) tensor.
    let r = rng.tensor(&[2, 3, 3, 3], DType::F64);
    let loss = (y.transpose(2, 3).unwrap() * r.transpose(2, 3).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    let var2 = Var::from_tensor(&x).unwrap();
    let loss2 = (max_pool2d(&var2).unwrap() * &r)
        .unwrap()
        .sum_all()
        .unwrap();
    let grads2 = loss2.backward().unwrap();
    assert_close(
        "gradient",
        grads.get(&var).unwrap(),
        grads2.get(&var2).unwrap(),
        0.0,
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let dev = Device::Cpu;
    let rank3 = Tensor::zeros((1, 4, 4), DType::F32, &dev).unwrap();
    let msg = max_pool2d(&rank3).unwrap_err().to_string();
    assert!(msg.contains("rank 4") && msg.contains("[1, 4, 4]"), "{msg}");

    let ints = Tensor::zeros((1, 1, 4, 4), DType::U32, &dev).unwrap();
    let msg = max_pool2d(&ints).unwrap_err().to_string();
    assert!(msg.contains("U32"), "{msg}");

    let thin = Tensor::zeros((1, 1, 1, 4), DType::F32, &dev).unwrap();
    let msg = max_pool2d(&thin).unwrap_err().to_string();
    assert!(msg.contains("smaller than the 2x2"), "{msg}");
}

/// Inputs with many ties and NaNs at every row length from 1 to 20 windows: the vectorized f32
/// kernels (eight windows per step plus a masked tail) against the portable f64 kernels.
#[test]
fn f32_kernels_agree_with_the_portable_kernels_on_ties_and_nan() {
    let mut rng = Rng::new(12);
    for w in 2..=41 {
        let dims = [2, 2, 5, w];
        let n = dims.iter().product::<usize>();
        // Small integers make ties common; a few NaNs land in every position of a window.
        let data: Vec<f64> = (0..n)
            .map(|_| match rng.next_u64() % 13 {
                0 => f64::NAN,
                v => (v % 3) as f64,
            })
            .collect();
        let x64 = Tensor::from_vec(data, &dims, &Device::Cpu).unwrap();
        let x32 = x64.to_dtype(DType::F32).unwrap();
        let g = rng.tensor(&[2, 2, 2, w / 2], DType::F64);
        let run = |x: &Tensor| {
            let v = Var::from_tensor(x).unwrap();
            let y = max_pool2d(&v).unwrap();
            let loss = (&y * g.to_dtype(x.dtype()).unwrap())
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = loss.backward().unwrap();
            (to_vec_f64(&y), to_vec_f64(grads.get(&v).unwrap()))
        };
        let (y32, d32) = run(&x32);
        let (y64, d64) = run(&x64);
        let same = |a: &[f64], b: &[f64]| {
            a.iter().zip(b).all(|(x, y)| {
                (x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-6 * y.abs().max(1.0)
            })
        };
        assert!(same(&y32, &y64), "forward differs at width {w}");
        assert!(
            same(&d32, &d64),
            "gradient differs at width {w}:\n{d32:?}\n{d64:?}"
        );
    }
}
