//! Safetensors save and load with PyTorch names.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use convlens_model::{ModelError, NetConfig, Network};

use crate::fixtures::{images, values};

fn state(net: &Network) -> HashMap<String, Tensor> {
    net.parameters()
        .into_iter()
        .map(|(n, v)| (n, v.as_tensor().clone()))
        .collect()
}

#[test]
fn save_then_load_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weights.safetensors");
    let dev = Device::Cpu;
    let net = Network::new(NetConfig::default(), 5, &dev).unwrap();
    net.save(&path).unwrap();
    let loaded = Network::load(NetConfig::default(), &path, &dev).unwrap();
    for ((n1, a), (n2, b)) in net.parameters().iter().zip(loaded.parameters()) {
        assert_eq!(n1, &n2);
        assert_eq!(b.as_tensor().dtype(), DType::F32);
        assert_eq!(values(a.as_tensor()), values(b.as_tensor()), "{n1}");
    }
    let x = images(3, NetConfig::default(), DType::F32);
    assert_eq!(
        values(&net.forward(&x).unwrap()),
        values(&loaded.forward(&x).unwrap())
    );
    // Only the file itself is left: the temporary was renamed into place.
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

#[test]
fn the_file_uses_pytorch_names_and_loads_back_in_f64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let dev = Device::Cpu;
    let net = Network::new_with_dtype(NetConfig::default(), 9, DType::F64, &dev).unwrap();
    net.save(&path).unwrap();
    let raw = candle_core::safetensors::load(&path, &dev).unwrap();
    let mut names: Vec<&str> = raw.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "conv1.bias",
            "conv1.weight",
            "conv2.bias",
            "conv2.weight",
            "conv3.bias",
            "conv3.weight",
            "fc1.bias",
            "fc1.weight",
            "fc2.bias",
            "fc2.weight"
        ]
    );
    assert_eq!(raw["conv2.weight"].dims(), [16, 3, 5, 5]);
    assert_eq!(raw["conv2.weight"].dtype(), DType::F64);
    let back = Network::load_with_dtype(NetConfig::default(), &path, DType::F64, &dev).unwrap();
    for ((_, a), (_, b)) in net.parameters().iter().zip(back.parameters()) {
        assert_eq!(values(a.as_tensor()), values(b.as_tensor()));
    }
    // And into an f32 network, converted.
    let single = Network::load(NetConfig::default(), &path, &dev).unwrap();
    let (_, w) = &single.parameters()[0];
    assert_eq!(w.as_tensor().dtype(), DType::F32);
}

#[test]
fn the_same_weights_give_a_byte_identical_file() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Device::Cpu;
    let (a, b, c) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
        dir.path().join("c.safetensors"),
    );
    Network::new(NetConfig::default(), 4, &dev)
        .unwrap()
        .save(&a)
        .unwrap();
    Network::new(NetConfig::default(), 4, &dev)
        .unwrap()
        .save(&b)
        .unwrap();
    Network::new(NetConfig::default(), 6, &dev)
        .unwrap()
        .save(&c)
        .unwrap();
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Saving over an existing file replaces it.
    let path = dir.path().join("a.safetensors");
    Network::new(NetConfig::default(), 6, &dev)
        .unwrap()
        .save(&path)
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), c);
}

#[test]
fn a_missing_tensor_is_an_error_naming_it_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("partial.safetensors");
    let dev = Device::Cpu;
    let mut tensors = state(&Network::new(NetConfig::default(), 0, &dev).unwrap());
    tensors.remove("conv3.bias");
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let err = Network::load(NetConfig::default(), &path, &dev).unwrap_err();
    assert!(matches!(&err, ModelError::MissingTensor { name, .. } if name == "conv3.bias"));
    let message = err.to_string();
    assert!(
        message.contains("conv3.bias") && message.contains("partial.safetensors"),
        "{message}"
    );
    assert!(message.contains("[110]"), "{message}");
}

#[test]
fn a_misshapen_tensor_is_an_error_naming_it_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    let dev = Device::Cpu;
    let mut tensors = state(&Network::new(NetConfig::default(), 0, &dev).unwrap());
    tensors.insert(
        "fc1.weight".into(),
        Tensor::zeros((60, 111), DType::F32, &dev).unwrap(),
    );
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let err = Network::load(NetConfig::default(), &path, &dev).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ModelError::ShapeMismatch { .. }));
    assert!(
        message.contains("fc1.weight")
            && message.contains("[60, 111]")
            && message.contains("[60, 110]")
            && message.contains("bad.safetensors"),
        "{message}"
    );
}

#[test]
fn weights_for_another_configuration_do_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rgb.safetensors");
    let dev = Device::Cpu;
    let rgb = NetConfig {
        in_channels: 3,
        ..NetConfig::default()
    };
    Network::new(rgb, 0, &dev).unwrap().save(&path).unwrap();
    let err = Network::load(NetConfig::default(), &path, &dev)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("conv1.weight") && err.contains("[3, 3, 3, 3]"),
        "{err}"
    );
    assert!(Network::load(rgb, &path, &dev).is_ok());
}

#[test]
fn unexpected_tensors_and_unreadable_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let dev = Device::Cpu;
    let path = dir.path().join("extra.safetensors");
    let mut tensors = state(&Network::new(NetConfig::default(), 0, &dev).unwrap());
    tensors.insert(
        "fc3.weight".into(),
        Tensor::zeros(2, DType::F32, &dev).unwrap(),
    );
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let err = Network::load(NetConfig::default(), &path, &dev)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unexpected tensor 'fc3.weight'"), "{err}");

    let missing = dir.path().join("nope.safetensors");
    let err = Network::load(NetConfig::default(), &missing, &dev).unwrap_err();
    assert!(matches!(err, ModelError::Read { .. }));
    assert!(err.to_string().contains("nope.safetensors"), "{err}");

    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a safetensors file").unwrap();
    let err = Network::load(NetConfig::default(), &garbage, &dev).unwrap_err();
    assert!(err.to_string().contains("garbage.safetensors"), "{err}");

    let net = Network::new(NetConfig::default(), 0, &dev).unwrap();
    let err = net
        .save(&dir.path().join("no-such-dir/w.safetensors"))
        .unwrap_err();
    assert!(matches!(err, ModelError::Write { .. }));
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}
