//! Seeded, PyTorch-distributed initialization and the parameter layout.

use candle_core::{DType, Device};
use convlens_model::{ModelError, NetConfig, Network, PARAMETER_NAMES};

use crate::fixtures::values;

fn all_values(net: &Network) -> Vec<Vec<f64>> {
    net.parameters()
        .iter()
        .map(|(_, v)| values(v.as_tensor()))
        .collect()
}

#[test]
fn parameters_have_pytorch_state_dict_names_shapes_and_order() {
    let net = Network::new(NetConfig::default(), 1, &Device::Cpu).unwrap();
    let params: Vec<(String, Vec<usize>)> = net
        .parameters()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().dims().to_vec()))
        .collect();
    let expected: Vec<(String, Vec<usize>)> = [
        ("conv1.weight", vec![3, 1, 3, 3]),
        ("conv1.bias", vec![3]),
        ("conv2.weight", vec![16, 3, 5, 5]),
        ("conv2.bias", vec![16]),
        ("conv3.weight", vec![110, 16, 6, 6]),
        ("conv3.bias", vec![110]),
        ("fc1.weight", vec![60, 110]),
        ("fc1.bias", vec![60]),
        ("fc2.weight", vec![10, 60]),
        ("fc2.bias", vec![10]),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), s))
    .collect();
    assert_eq!(params, expected);
    assert_eq!(PARAMETER_NAMES.len(), expected.len());
    assert!(net
        .parameters()
        .iter()
        .all(|(_, v)| v.as_tensor().dtype() == DType::F32));
}

#[test]
fn the_same_seed_gives_the_same_weights_and_another_seed_others() {
    let dev = Device::Cpu;
    let a = all_values(&Network::new(NetConfig::default(), 7, &dev).unwrap());
    let b = all_values(&Network::new(NetConfig::default(), 7, &dev).unwrap());
    let c = all_values(&Network::new(NetConfig::default(), 8, &dev).unwrap());
    assert_eq!(a, b);
    for (x, y) in a.iter().zip(&c) {
        assert_ne!(x, y);
    }
}

#[test]
fn f64_weights_are_the_f32_weights_before_rounding() {
    let dev = Device::Cpu;
    let single = all_values(&Network::new(NetConfig::default(), 3, &dev).unwrap());
    let double = Network::new_with_dtype(NetConfig::default(), 3, DType::F64, &dev).unwrap();
    assert_eq!(double.dtype(), DType::F64);
    for (s, d) in single.iter().zip(all_values(&double)) {
        let rounded: Vec<f64> = d.iter().map(|v| *v as f32 as f64).collect();
        assert_eq!(*s, rounded);
    }
}

#[test]
fn weights_and_biases_are_uniform_within_one_over_sqrt_fan_in() {
    let net = Network::new_with_dtype(NetConfig::default(), 11, DType::F64, &Device::Cpu).unwrap();
    let fan_in = [9.0, 9.0, 75.0, 75.0, 576.0, 576.0, 110.0, 110.0, 60.0, 60.0];
    for ((name, var), fan_in) in net.parameters().iter().zip(fan_in) {
        let bound = 1.0 / f64::sqrt(fan_in);
        let v = values(var.as_tensor());
        assert!(
            v.iter().all(|x| x.abs() < bound),
            "{name}: outside ±{bound}"
        );
        if v.len() >= 1000 {
            // U(−b, b): mean 0, variance b²/3, extremes near ±b.
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            let sd_of_mean = bound / f64::sqrt(3.0 * n);
            assert!(mean.abs() < 5.0 * sd_of_mean, "{name}: mean {mean}");
            let expected = bound * bound / 3.0;
            assert!(
                (var / expected - 1.0).abs() < 0.1,
                "{name}: variance {var} vs {expected}"
            );
            let max = v.iter().cloned().fold(f64::MIN, f64::max);
            let min = v.iter().cloned().fold(f64::MAX, f64::min);
            assert!(
                max > 0.98 * bound && min < -0.98 * bound,
                "{name}: range {min}..{max}"
            );
        }
    }
}

#[test]
fn integer_dtypes_are_rejected() {
    let err =
        Network::new_with_dtype(NetConfig::default(), 0, DType::U8, &Device::Cpu).unwrap_err();
    assert!(matches!(err, ModelError::UnsupportedDType(DType::U8)));
}
