//! ReLU: candle's forward and backward, the gradient at zero, NaN, strided inputs.

use candle_core::{DType, Device, Tensor, Var};
use convlens_ops::relu;

use crate::fixtures::{assert_close, to_vec_f64, Rng};

#[test]
fn forward_and_gradient_match_candle() {
    let mut rng = Rng::new(41);
    for dtype in [DType::F32, DType::F64] {
        for dims in [vec![7], vec![3, 5], vec![2, 3, 4, 5]] {
            let x = rng.tensor(&dims, dtype);
            let r = rng.tensor(&dims, dtype);
            let grads = |f: &dyn Fn(&Tensor) -> Tensor| {
                let v = Var::from_tensor(&x).unwrap();
                let y = f(&v);
                let g = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
                (y, g.get(&v).unwrap().clone())
            };
            let (ours, dours) = grads(&|t| relu(t).unwrap());
            let (theirs, dtheirs) = grads(&|t| t.relu().unwrap());
            assert_eq!(ours.dtype(), dtype);
            assert_close("forward", &ours, &theirs, 0.0);
            assert_close("gradient", &dours, &dtheirs, 0.0);
        }
    }
}

#[test]
fn gradient_is_zero_at_zero_and_nan_is_kept() {
    let x =
        Var::from_tensor(&Tensor::new(&[-1f32, 0., 0.5, f32::NAN], &Device::Cpu).unwrap()).unwrap();
    let y = relu(&x).unwrap();
    let values = to_vec_f64(&y);
    assert_eq!(&values[..3], [0., 0., 0.5]);
    assert!(values[3].is_nan());
    let grads = y.sum_all().unwrap().backward().unwrap();
    let dx = to_vec_f64(grads.get(&x).unwrap());
    assert_eq!(&dx[..3], [0., 0., 1.]);
}

#[test]
fn strided_input_and_gradient() {
    let mut rng = Rng::new(42);
    let base = rng.tensor(&[4, 6], DType::F32);
    let v = Var::from_tensor(&base).unwrap();
    let view = v.t().unwrap().narrow(0, 1, 4).unwrap();
    assert!(!view.is_contiguous());
    let r = rng.tensor(&[6, 4], DType::F32);
    let y = relu(&view).unwrap();
    assert_close("forward", &y, &view.relu().unwrap(), 0.0);
    // The gradient arrives transposed, too.
    let loss = (y.t().unwrap() * r.t().unwrap().narrow(1, 1, 4).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    let grads = loss.backward().unwrap();
    let expected = (r.narrow(0, 1, 4).unwrap()
        * view.gt(0f32).unwrap().to_dtype(DType::F32).unwrap())
    .unwrap()
    .t()
    .unwrap()
    .pad_with_zeros(1, 1, 1)
    .unwrap();
    assert_close("gradient", grads.get(&v).unwrap(), &expected, 0.0);
}

#[test]
fn bad_inputs_are_errors() {
    let ints = Tensor::zeros(3, DType::U32, &Device::Cpu).unwrap();
    let msg = relu(&ints).unwrap_err().to_string();
    assert!(msg.contains("U32"), "{msg}");
}
