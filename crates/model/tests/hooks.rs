//! The course network through the hook registry: all 12 layers by name.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Tensor};
use convlens_hooks::{
    ActivationRecorder, ActivationStats, GradientCapture, HookError, LayerSelector,
};
use convlens_model::{NetConfig, Network, LAYER_NAMES};

use crate::fixtures::{central_difference, images, loss, loss_with_hooks, sample_indices, values};

#[test]
fn hooks_fire_once_per_layer_in_order_with_the_right_shapes() {
    let net = Network::new(NetConfig::default(), 0, &Device::Cpu).unwrap();
    let hooks = net.hook_registry();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let _h = hooks
        .register_forward_hook(LayerSelector::All, move |layer, input, output| {
            log.lock().unwrap().push((
                layer.to_string(),
                input.dims().to_vec(),
                output.dims().to_vec(),
            ));
            Ok(None)
        })
        .unwrap();
    net.forward_with_hooks(&images(2, NetConfig::default(), DType::F32), &hooks)
        .unwrap();
    let seen = seen.lock().unwrap();
    let names: Vec<&str> = seen.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, LAYER_NAMES);
    let mut previous = vec![2, 1, 28, 28];
    for ((name, input, output), row) in seen.iter().zip(net.summary().rows) {
        assert_eq!(input, &previous, "{name} input");
        let mut expected = vec![2];
        expected.extend(&row.output_shape);
        assert_eq!(output, &expected, "{name} output");
        previous = output.clone();
    }
    assert_eq!(previous, [2, 10]);
}

#[test]
fn the_recorder_captures_every_layer_across_batches_up_to_its_limit() {
    let net = Network::new(NetConfig::default(), 1, &Device::Cpu).unwrap();
    let hooks = net.hook_registry();
    let recorder = ActivationRecorder::attach(&hooks, LayerSelector::All, 5).unwrap();
    let a = images(3, NetConfig::default(), DType::F32);
    let b = images(4, NetConfig::default(), DType::F32)
        .affine(0.5, 0.1)
        .unwrap();
    let out_a = net.forward_with_hooks(&a, &hooks).unwrap();
    let out_b = net.forward_with_hooks(&b, &hooks).unwrap();
    assert!(recorder.is_full());
    let recorded = recorder.finish().unwrap();
    assert!(hooks.is_empty());
    for ((name, tensor), row) in recorded.iter().zip(net.summary().rows) {
        assert_eq!(name, &row.name);
        assert_eq!(tensor.dims()[0], 5, "{name}");
        assert_eq!(&tensor.dims()[1..], row.output_shape.as_slice(), "{name}");
    }
    let (_, logits) = &recorded[11];
    let mut expected = values(&out_a);
    expected.extend(&values(&out_b)[..2 * 10]);
    assert_eq!(values(logits), expected);
}

#[test]
fn statistics_agree_with_the_recorded_activations() {
    let net = Network::new(NetConfig::default(), 2, &Device::Cpu).unwrap();
    let hooks = net.hook_registry();
    let recorder = ActivationRecorder::attach(&hooks, ["relu1", "relu4"], 100).unwrap();
    let stats = ActivationStats::attach(&hooks, ["relu1", "relu4"]).unwrap();
    for k in 0..3 {
        let x = images(4, NetConfig::default(), DType::F32)
            .affine(1.0, k as f64 * 0.2)
            .unwrap();
        net.forward_with_hooks(&x, &hooks).unwrap();
    }
    for layer in ["relu1", "relu4"] {
        let all = values(&recorder.get(layer).unwrap().unwrap());
        let s = stats.layer(layer).unwrap();
        assert_eq!(s.images, 12);
        assert_eq!(s.elements as usize, all.len());
        assert_eq!(s.zeros as usize, all.iter().filter(|v| **v == 0.0).count());
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        assert!(
            (s.mean - mean).abs() < 1e-6,
            "{layer}: {} vs {mean}",
            s.mean
        );
        // ReLU outputs are never negative.
        assert!(s.channels.iter().all(|c| c.max >= 0.0));
    }
}

#[test]
fn a_pre_hook_replacing_the_input_changes_the_logits() {
    let net = Network::new(NetConfig::default(), 3, &Device::Cpu).unwrap();
    let x = images(2, NetConfig::default(), DType::F32);
    let hooks = net.hook_registry();
    let _h = hooks
        .register_forward_pre_hook("conv1", |_, input| Ok(Some(input.zeros_like()?)))
        .unwrap();
    let hooked = values(&net.forward_with_hooks(&x, &hooks).unwrap());
    assert_eq!(
        hooked,
        values(&net.forward(&x.zeros_like().unwrap()).unwrap())
    );
    assert_ne!(hooked, values(&net.forward(&x).unwrap()));
}

#[test]
fn replacing_an_output_changes_the_logits() {
    let net = Network::new(NetConfig::default(), 4, &Device::Cpu).unwrap();
    let x = images(2, NetConfig::default(), DType::F32);
    let hooks = net.hook_registry();
    let _h = hooks
        .register_forward_hook("relu4", |_, _, out| Ok(Some(out.zeros_like()?)))
        .unwrap();
    // With fc2's input zeroed the logits are fc2's bias.
    let logits = values(&net.forward_with_hooks(&x, &hooks).unwrap());
    let (name, bias) = &net.parameters()[9];
    assert_eq!(name, "fc2.bias");
    let bias = values(bias.as_tensor());
    assert_eq!(logits[..10], bias[..]);
    assert_eq!(logits[10..], bias[..]);
}

#[test]
fn a_removed_hook_never_runs_again() {
    let net = Network::new(NetConfig::default(), 5, &Device::Cpu).unwrap();
    let x = images(1, NetConfig::default(), DType::F32);
    let hooks = net.hook_registry();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let handle = hooks
        .register_forward_hook(LayerSelector::All, move |_, _, _| {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        })
        .unwrap();
    net.forward_with_hooks(&x, &hooks).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    handle.remove();
    net.forward_with_hooks(&x, &hooks).unwrap();
    net.forward(&x).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 12);
}

#[test]
fn the_networks_registry_rejects_unknown_layer_names() {
    let net = Network::new(NetConfig::default(), 0, &Device::Cpu).unwrap();
    let err = GradientCapture::attach(&net.hook_registry(), "conv4").unwrap_err();
    assert!(matches!(err, HookError::UnknownLayer { .. }));
    assert!(err.to_string().contains("conv1, relu1, maxp1"), "{err}");
}

#[test]
fn output_gradients_of_every_layer_match_finite_differences() {
    let dev = Device::Cpu;
    let config = NetConfig::default();
    let net = Network::new_with_dtype(config, 6, DType::F64, &dev).unwrap();
    let x = images(2, config, DType::F64);
    let hooks = net.hook_registry();
    let captures: Vec<GradientCapture> = LAYER_NAMES
        .iter()
        .map(|l| GradientCapture::attach(&hooks, l).unwrap())
        .collect();
    loss(&net.forward_with_hooks(&x, &hooks).unwrap())
        .unwrap()
        .backward()
        .unwrap();
    drop(hooks);

    for (capture, row) in captures.iter().zip(net.summary().rows) {
        let layer = capture.layer();
        let grad = capture
            .gradient()
            .unwrap_or_else(|| panic!("{layer}: no gradient"));
        let mut shape = vec![2];
        shape.extend(&row.output_shape);
        assert_eq!(grad.dims(), shape.as_slice(), "{layer}");
        let grad = values(&grad);
        assert!(
            grad.iter().any(|g| g.abs() > 1e-6),
            "{layer}: all-zero gradient"
        );
        let indices = sample_indices(grad.len(), 8);
        let mut checked = 0;
        for &i in &indices {
            let numeric = central_difference(|delta| {
                let hooks = net.hook_registry();
                let mut bump = vec![0.0; grad.len()];
                bump[i] = delta;
                let bump = Tensor::from_vec(bump, shape.as_slice(), &dev).unwrap();
                let _h = hooks
                    .register_forward_hook(layer, move |_, _, out| Ok(Some((out + &bump)?)))
                    .unwrap();
                loss_with_hooks(&net, &x, &hooks)
            });
            // Ties in pooling windows (the border of conv1's padded output is all bias) and
            // ReLU inputs at 0 have no derivative.
            let Some(numeric) = numeric else { continue };
            checked += 1;
            assert!(
                (grad[i] - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()),
                "{layer}[{i}]: probe {} vs finite differences {numeric}",
                grad[i]
            );
        }
        assert!(
            2 * checked >= indices.len(),
            "{layer}: only {checked} of {} points differentiable",
            indices.len()
        );
    }
}
