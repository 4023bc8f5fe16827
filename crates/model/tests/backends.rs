//! Both backends compute the same outputs and the same gradient of every parameter: same
//! weights, same batch, the training loss, in f32 (the dtype training uses).

use candle_core::{DType, Device, Tensor};
use convlens_model::{Backend, NetConfig, Network};

use crate::fixtures::{images, values};

/// The tolerance the README states.
const RELATIVE: f64 = 1e-5;

/// Largest difference relative to the larger magnitude of the two tensors.
fn relative_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = a
        .iter()
        .chain(b)
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// Logits and, per parameter, the gradient of the mean cross-entropy.
fn outputs_and_gradients(net: &Network, x: &Tensor, y: &Tensor) -> (Vec<f64>, Vec<Vec<f64>>) {
    let logits = net.forward(x).unwrap();
    let loss = convlens_ops::cross_entropy(&logits, y).unwrap();
    let grads = loss.backward().unwrap();
    let per_parameter = net
        .parameters()
        .iter()
        .map(|(name, var)| {
            values(
                grads
                    .get(var.as_tensor())
                    .unwrap_or_else(|| panic!("{name}: no gradient")),
            )
        })
        .collect();
    (values(&logits), per_parameter)
}

#[test]
fn fast_and_candle_backends_agree_on_outputs_and_every_gradient() {
    let config = NetConfig::default();
    let mut net = Network::new(config, 11, &Device::Cpu).unwrap();
    let x = images(16, config, DType::F32);
    let labels: Vec<u32> = (0..16).map(|i| (i * 7 % 10) as u32).collect();
    let y = Tensor::new(labels.as_slice(), &Device::Cpu).unwrap();

    net.set_backend(Backend::Fast);
    let (fast_out, fast) = outputs_and_gradients(&net, &x, &y);
    net.set_backend(Backend::Candle);
    let (candle_out, candle) = outputs_and_gradients(&net, &x, &y);

    let d = relative_difference(&fast_out, &candle_out);
    assert!(d <= RELATIVE, "logits differ by {d:e}");
    let names = net.parameters();
    assert_eq!(fast.len(), 10);
    for (((name, _), f), c) in names.iter().zip(&fast).zip(&candle) {
        assert!(
            f.iter().any(|g| g.abs() > 1e-6),
            "{name}: an all-zero gradient compares nothing"
        );
        let d = relative_difference(f, c);
        assert!(d <= RELATIVE, "{name}: gradients differ by {d:e}");
    }

    // The tolerance tells gradients apart: another batch's differ by far more.
    let labels: Vec<u32> = (0..16).map(|i| (i * 3 % 10) as u32).collect();
    let other = Tensor::new(labels.as_slice(), &Device::Cpu).unwrap();
    let (_, other) = outputs_and_gradients(&net, &x, &other);
    for (((name, _), f), o) in names.iter().zip(&fast).zip(&other) {
        let d = relative_difference(f, o);
        assert!(
            d > 100.0 * RELATIVE,
            "{name}: other labels differ by {d:e} only"
        );
    }
}
