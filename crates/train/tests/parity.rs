//! The course network adapted to colour (3×32×32, 10 classes: conv1 takes 3 channels, fc1
//! 440 features) against PyTorch on the same weights and batch: the loss and every
//! parameter's gradient in f64, and four SGD steps with momentum in f32.
//! `fixtures/torch_parity_rgb32.py` wrote the reference values.

use candle_core::{DType, Device, Tensor};
use convlens_model::{NetConfig, Network};
use convlens_train::{cross_entropy, train_step, Optimizer, OptimizerConfig};
use serde_json::Value;

const CONFIG: NetConfig = NetConfig {
    in_channels: 3,
    classes: 10,
    input_size: 32,
};

fn reference() -> Value {
    serde_json::from_str(include_str!("fixtures/torch_parity_rgb32.json")).expect("fixture")
}

/// The script's `uniform`: an integer hash both sides compute exactly.
fn uniform(n: usize, salt: u64) -> Vec<f64> {
    (0..n as u64)
        .map(|i| ((i * 2_654_435_761 + salt * 40_503) % (1 << 32)) as f64 / (1u64 << 32) as f64)
        .collect()
}

/// The network with the script's weights, in `dtype`.
fn network(dtype: DType) -> Network {
    let net = Network::new_with_dtype(CONFIG, 0, dtype, &Device::Cpu).unwrap();
    let params = net.parameters();
    for (k, (_, var)) in params.iter().enumerate() {
        let weight = params[k - k % 2].1.as_tensor();
        let fan_in: usize = weight.dims()[1..].iter().product();
        let bound = 1.0 / (fan_in as f64).sqrt();
        let values: Vec<f64> = uniform(var.as_tensor().elem_count(), k as u64 + 1)
            .into_iter()
            .map(|u| bound * (2.0 * u - 1.0))
            .collect();
        let t = Tensor::from_vec(values, var.as_tensor().shape(), &Device::Cpu)
            .and_then(|t| t.to_dtype(dtype))
            .unwrap();
        var.set(&t).unwrap();
    }
    net
}

fn batch(dtype: DType) -> (Tensor, Tensor) {
    let x = Tensor::from_vec(uniform(4 * 3 * 32 * 32, 99), (4, 3, 32, 32), &Device::Cpu)
        .and_then(|t| t.to_dtype(dtype))
        .unwrap();
    let y = Tensor::from_vec(
        (0..4u32).map(|i| i * 7 % 10).collect::<Vec<_>>(),
        4,
        &Device::Cpu,
    )
    .unwrap();
    (x, y)
}

fn flat(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .and_then(|t| t.to_dtype(DType::F64))
        .and_then(|t| t.to_vec1())
        .unwrap()
}

/// Compares sum, sum of absolute values and the sampled entries of `actual` with the
/// script's record, each within `tolerance` (relative to the sum of absolute values for the
/// sums).
fn compare(what: &str, actual: &[f64], expected: &Value, tolerance: f64) {
    let scale = expected["abs"].as_f64().unwrap();
    let sum: f64 = actual.iter().sum();
    let abs: f64 = actual.iter().map(|v| v.abs()).sum();
    assert!(
        (sum - expected["sum"].as_f64().unwrap()).abs() <= tolerance * scale.max(1.0),
        "{what}: sum {sum} vs {}",
        expected["sum"]
    );
    assert!(
        (abs - scale).abs() <= tolerance * scale.max(1.0),
        "{what}: sum of |x| {abs} vs {scale}"
    );
    for pair in expected["samples"].as_array().unwrap() {
        let i = pair[0].as_u64().unwrap() as usize;
        let v = pair[1].as_f64().unwrap();
        assert!(
            (actual[i] - v).abs() <= tolerance * v.abs().max(1e-3),
            "{what}[{i}]: {} vs PyTorch {v}",
            actual[i]
        );
    }
}

#[test]
fn colour_network_gradients_equal_pytorch_in_f64() {
    let reference = reference();
    let net = network(DType::F64);
    let (x, y) = batch(DType::F64);
    let loss = cross_entropy(&net.forward(&x).unwrap(), &y).unwrap();
    let value = loss.to_scalar::<f64>().unwrap();
    let expected = reference["f64"]["loss"].as_f64().unwrap();
    assert!(
        (value - expected).abs() < 1e-12,
        "loss {value} vs {expected}"
    );
    let grads = loss.backward().unwrap();
    for (name, var) in net.parameters() {
        let grad = flat(grads.get(var.as_tensor()).expect("a gradient"));
        compare(&name, &grad, &reference["f64"]["grads"][&name], 1e-9);
    }
}

#[test]
fn colour_network_follows_pytorch_through_four_sgd_steps_in_f32() {
    let reference = reference();
    let net = network(DType::F32);
    let (x, y) = batch(DType::F32);
    let config = OptimizerConfig {
        lr: 0.1,
        momentum: 0.9,
        ..OptimizerConfig::default()
    };
    let mut optimizer = Optimizer::new(config, net.parameters());
    let losses = reference["f32"]["losses"].as_array().unwrap();
    for (step, expected) in losses.iter().enumerate() {
        let (loss, _) = train_step(&net, &mut optimizer, &x, &y).unwrap();
        let expected = expected.as_f64().unwrap();
        assert!(
            (f64::from(loss) - expected).abs() < 1e-5,
            "step {step}: loss {loss} vs PyTorch {expected}"
        );
    }
    for (name, var) in net.parameters() {
        compare(
            &name,
            &flat(var.as_tensor()),
            &reference["f32"]["weights"][&name],
            1e-4,
        );
    }
}
