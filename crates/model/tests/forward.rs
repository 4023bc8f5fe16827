//! The forward pass: shapes, agreement with a plain candle reference, backends, input checks.

use candle_core::{DType, Device, Tensor};
use convlens_model::{Backend, NetConfig, Network};

use crate::fixtures::{images, values};

/// The reference network written directly with candle ops (candle's pooling forward is
/// correct; only its backward is not).
fn reference(net: &Network, x: &Tensor) -> Tensor {
    let p: Vec<Tensor> = net
        .parameters()
        .into_iter()
        .map(|(_, v)| v.as_tensor().clone())
        .collect();
    let conv = |x: &Tensor, w: &Tensor, b: &Tensor, pad: usize| {
        x.conv2d(w, pad, 1, 1, 1)
            .unwrap()
            .broadcast_add(&b.reshape((1, b.dim(0).unwrap(), 1, 1)).unwrap())
            .unwrap()
    };
    let x = conv(x, &p[0], &p[1], 3)
        .relu()
        .unwrap()
        .max_pool2d(2)
        .unwrap();
    let x = conv(&x, &p[2], &p[3], 0)
        .relu()
        .unwrap()
        .max_pool2d(2)
        .unwrap();
    let x = conv(&x, &p[4], &p[5], 0)
        .relu()
        .unwrap()
        .flatten_from(1)
        .unwrap();
    let x = x
        .matmul(&p[6].t().unwrap())
        .unwrap()
        .broadcast_add(&p[7])
        .unwrap();
    let x = x.relu().unwrap();
    x.matmul(&p[8].t().unwrap())
        .unwrap()
        .broadcast_add(&p[9])
        .unwrap()
}

fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "[{i}]: {x} vs {y}");
    }
}

#[test]
fn logits_have_shape_batch_by_classes() {
    let dev = Device::Cpu;
    let config = NetConfig {
        in_channels: 3,
        classes: 7,
        input_size: 30,
    };
    let net = Network::new(config, 0, &dev).unwrap();
    let y = net.forward(&images(5, config, DType::F32)).unwrap();
    assert_eq!(y.dims(), [5, 7]);
    assert_eq!(y.dtype(), DType::F32);
}

#[test]
fn both_backends_match_a_plain_candle_reference() {
    let dev = Device::Cpu;
    let mut net = Network::new_with_dtype(NetConfig::default(), 2, DType::F64, &dev).unwrap();
    let x = images(4, NetConfig::default(), DType::F64);
    let expected = values(&reference(&net, &x));
    assert_eq!(net.backend(), Backend::Fast);
    assert_close(&values(&net.forward(&x).unwrap()), &expected, 1e-12);
    net.set_backend(Backend::Candle);
    assert_close(&values(&net.forward(&x).unwrap()), &expected, 1e-12);
}

#[test]
fn fast_and_candle_backends_agree_in_f32() {
    let dev = Device::Cpu;
    let mut net = Network::new(NetConfig::default(), 3, &dev).unwrap();
    let x = images(8, NetConfig::default(), DType::F32);
    let fast = values(&net.forward(&x).unwrap());
    net.set_backend(Backend::Candle);
    let candle = values(&net.forward(&x).unwrap());
    assert_close(&fast, &candle, 1e-5);
}

#[test]
fn hooked_forward_with_an_empty_registry_equals_forward() {
    let net = Network::new(NetConfig::default(), 4, &Device::Cpu).unwrap();
    let x = images(3, NetConfig::default(), DType::F32);
    let hooks = net.hook_registry();
    assert_eq!(
        values(&net.forward(&x).unwrap()),
        values(&net.forward_with_hooks(&x, &hooks).unwrap())
    );
}

#[test]
fn inputs_of_the_wrong_shape_or_dtype_are_errors() {
    let dev = Device::Cpu;
    let net = Network::new(NetConfig::default(), 0, &dev).unwrap();
    let wrong_size = Tensor::zeros((2, 1, 32, 32), DType::F32, &dev).unwrap();
    let err = net.forward(&wrong_size).unwrap_err().to_string();
    assert!(
        err.contains("[2, 1, 32, 32]") && err.contains("[N, 1, 28, 28]"),
        "{err}"
    );
    let flat = Tensor::zeros((2, 784), DType::F32, &dev).unwrap();
    assert!(net.forward(&flat).is_err());
    let double = Tensor::zeros((2, 1, 28, 28), DType::F64, &dev).unwrap();
    let err = net
        .forward_with_hooks(&double, &net.hook_registry())
        .unwrap_err()
        .to_string();
    assert!(err.contains("F64") && err.contains("F32"), "{err}");
}

/// `Network::forward` runs the fast backend fused (conv+ReLU+pool blocks, fused linear
/// layers); the hooked pass runs the twelve layers one by one. Both give the same logits and
/// the same parameter gradients.
#[test]
fn fused_forward_equals_the_layer_by_layer_pass() {
    use candle_core::{DType, Device, Tensor};
    use convlens_model::{NetConfig, Network};

    let dev = Device::Cpu;
    let net = Network::new(NetConfig::default(), 5, &dev).unwrap();
    let x = Tensor::rand(0f32, 1., (6, 1, 28, 28), &dev).unwrap();
    let hooks = net.hook_registry();
    let fused = net.forward(&x).unwrap();
    let layered = net.forward_with_hooks(&x, &hooks).unwrap();
    let diff = (&fused - &layered)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(diff < 1e-5, "logits differ by {diff}");
    let g1 = crate::fixtures::loss(&fused).unwrap().backward().unwrap();
    let g2 = crate::fixtures::loss(&layered).unwrap().backward().unwrap();
    for (name, var) in net.parameters() {
        let a = g1.get(var.as_tensor()).unwrap();
        let b = g2.get(var.as_tensor()).unwrap();
        let scale = b
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            .max(1e-6);
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            d / scale < 1e-5,
            "{name}: gradients differ by {d} (scale {scale})"
        );
        assert_eq!(a.dtype(), DType::F32);
    }
}
