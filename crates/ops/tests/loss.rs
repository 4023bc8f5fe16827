//! Cross-entropy against candle-nn's `log_softmax` + `nll`, values and gradients.

use candle_core::{DType, Device, Tensor, Var};

fn check(dtype: DType, n: usize, c: usize, seed: u64) {
    let dev = Device::Cpu;
    // Deterministic, varied logits (some large, to exercise the max shift).
    let z: Vec<f64> = (0..n * c)
        .map(|i| (((i as u64 * 2654435761 + seed) % 1000) as f64 / 50.0) - 10.0)
        .collect();
    let z = Tensor::from_vec(z, (n, c), &dev)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    let y: Vec<u32> = (0..n)
        .map(|i| ((i as u64 * 7 + seed) % c as u64) as u32)
        .collect();
    let y = Tensor::from_vec(y, n, &dev).unwrap();
    let a = Var::from_tensor(&z).unwrap();
    let b = Var::from_tensor(&z).unwrap();
    let ours = convlens_ops::cross_entropy(&a, &y).unwrap();
    let theirs = candle_nn::loss::cross_entropy(&b, &y).unwrap();
    assert_eq!(ours.dims(), theirs.dims());
    let (o, t) = (
        ours.to_dtype(DType::F64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap(),
        theirs
            .to_dtype(DType::F64)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap(),
    );
    assert!((o - t).abs() <= 1e-5 * t.abs().max(1.0), "loss {o} vs {t}");
    // Scale the loss so the incoming gradient is not 1.
    let ga = (ours * 3.0).unwrap().backward().unwrap();
    let gb = (theirs * 3.0).unwrap().backward().unwrap();
    let da: Vec<f64> = ga
        .get(&a)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let db: Vec<f64> = gb
        .get(&b)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for (x, y) in da.iter().zip(&db) {
        assert!(
            (x - y).abs() <= 1e-5 * y.abs().max(1e-3),
            "gradient {x} vs {y}"
        );
    }
}

#[test]
fn cross_entropy_matches_candle_nn() {
    for (n, c, seed) in [(1, 2, 0), (16, 10, 1), (64, 10, 2), (5, 26, 3)] {
        check(DType::F32, n, c, seed);
        check(DType::F64, n, c, seed);
    }
}

#[test]
fn labels_out_of_range_and_bad_shapes_are_errors() {
    let dev = Device::Cpu;
    let z = Tensor::zeros((2, 3), DType::F32, &dev).unwrap();
    let err = convlens_ops::cross_entropy(&z, &Tensor::new(&[0u32, 3], &dev).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 3 at index 1"), "{err}");
    let err = convlens_ops::cross_entropy(&z, &Tensor::new(&[0u32], &dev).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected [2]"), "{err}");
}

#[test]
fn labels_get_no_gradient_and_images_none_computed() {
    let dev = Device::Cpu;
    let z = Var::from_tensor(&Tensor::new(&[[1f32, 2., 3.]], &dev).unwrap()).unwrap();
    let y = Tensor::new(&[2u8], &dev).unwrap();
    let grads = convlens_ops::cross_entropy(&z, &y)
        .unwrap()
        .backward()
        .unwrap();
    assert!(grads.get(&y).is_none());
    let g: Vec<f32> = grads
        .get(&z)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    // softmax(1,2,3) − onehot(2)
    let e: Vec<f32> = [1f32, 2., 3.].iter().map(|v| v.exp()).collect();
    let s: f32 = e.iter().sum();
    let expected = [e[0] / s, e[1] / s, e[2] / s - 1.0];
    for (a, b) in g.iter().zip(expected) {
        assert!((a - b).abs() < 1e-6, "{g:?} vs {expected:?}");
    }
}
