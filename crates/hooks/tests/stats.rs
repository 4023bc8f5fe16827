//! Streaming activation statistics against values computed by hand.

use candle_core::{DType, Device, Tensor};
use convlens_hooks::{ActivationStats, HookRegistry, LayerSelector};

use crate::fixtures::{batch, Tiny, LAYERS};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

/// A [2, 3, 2, 1] batch: channel 0 positive, channel 1 all zero, channel 2 negative or zero.
fn nchw() -> Tensor {
    let v = [
        1.0f32, 3.0, // image 0, channel 0
        0.0, 0.0, // channel 1
        -1.0, 0.0, // channel 2
        5.0, 7.0, // image 1, channel 0
        0.0, 0.0, // channel 1
        -3.0, -2.0, // channel 2
    ];
    Tensor::from_slice(&v, (2, 3, 2, 1), &Device::Cpu).unwrap()
}

#[test]
fn per_layer_and_per_channel_statistics_of_a_4d_output() {
    let hooks = HookRegistry::new();
    let stats = ActivationStats::attach(&hooks, "conv").unwrap();
    hooks.run_layer("conv", &nchw(), |x| Ok(x.clone())).unwrap();
    let s = stats.layer("conv").unwrap();
    assert_eq!(s.shape, [3, 2, 1]);
    assert_eq!((s.images, s.elements, s.zeros), (2, 12, 5));
    assert!(close(s.zero_fraction, 5.0 / 12.0));
    assert!(close(s.mean, (16.0 - 6.0) / 12.0));
    assert!(close(s.never_active_fraction, 2.0 / 3.0));

    let c0 = &s.channels[0];
    assert!(close(c0.mean, 4.0));
    // Values 1, 3, 5, 7: population variance 5.
    assert!(close(c0.std, 5f64.sqrt()));
    assert_eq!((c0.max, c0.ever_active), (7.0, true));
    let c1 = &s.channels[1];
    assert_eq!(
        (c1.mean, c1.std, c1.max, c1.ever_active),
        (0.0, 0.0, 0.0, false)
    );
    let c2 = &s.channels[2];
    assert!(close(c2.mean, -1.5));
    assert!(close(c2.std, (3.5f64 - 2.25).sqrt()));
    assert_eq!((c2.max, c2.ever_active), (0.0, false));
}

#[test]
fn streaming_over_batches_equals_one_pass() {
    let all = nchw();
    let one = ActivationStats::attach(&HookRegistry::new(), "l").unwrap();
    one.observe("l", &all).unwrap();
    let streamed = ActivationStats::attach(&HookRegistry::new(), "l").unwrap();
    streamed
        .observe("l", &all.narrow(0, 0, 1).unwrap())
        .unwrap();
    streamed
        .observe("l", &all.narrow(0, 1, 1).unwrap())
        .unwrap();
    let (a, b) = (one.layer("l").unwrap(), streamed.layer("l").unwrap());
    assert_eq!(
        (a.images, a.elements, a.zeros),
        (b.images, b.elements, b.zeros)
    );
    for (x, y) in a.channels.iter().zip(&b.channels) {
        assert!(close(x.mean, y.mean) && close(x.std, y.std));
        assert_eq!((x.max, x.ever_active), (y.max, y.ever_active));
    }
}

#[test]
fn a_2d_output_has_one_channel_per_feature() {
    let hooks = HookRegistry::new();
    let stats = ActivationStats::attach(&hooks, "fc").unwrap();
    let x = Tensor::from_slice(&[1.0f64, 0.0, 3.0, -2.0], (2, 2), &Device::Cpu).unwrap();
    hooks.run_layer("fc", &x, |x| Ok(x.clone())).unwrap();
    let s = stats.layer("fc").unwrap();
    assert_eq!(s.channels.len(), 2);
    assert!(close(s.channels[0].mean, 2.0) && close(s.channels[0].std, 1.0));
    assert!(close(s.channels[1].mean, -1.0) && close(s.channels[1].std, 1.0));
    assert!(close(s.never_active_fraction, 0.5));
}

#[test]
fn collects_every_layer_of_a_model_in_order_and_detaches_on_finish() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::with_layers(&LAYERS);
    let stats = ActivationStats::attach(&hooks, LayerSelector::All).unwrap();
    for i in 0..3 {
        model
            .forward_with_hooks(&batch(4, i as f64, DType::F32).unwrap(), &hooks)
            .unwrap();
    }
    let layers = stats.finish();
    assert!(hooks.is_empty());
    let names: Vec<&str> = layers.iter().map(|s| s.layer.as_str()).collect();
    assert_eq!(names, LAYERS);
    assert!(layers.iter().all(|s| s.images == 12));
    assert_eq!(layers[0].elements, 36);
    // tanh keeps values in (-1, 1).
    assert!(layers[1].channels.iter().all(|c| c.max < 1.0));
}

#[test]
fn bad_shapes_are_errors_naming_the_layer() {
    let stats = ActivationStats::attach(&HookRegistry::new(), "v").unwrap();
    let v = Tensor::from_slice(&[1.0f32, 2.0], 2, &Device::Cpu).unwrap();
    let err = stats.observe("v", &v).unwrap_err().to_string();
    assert!(err.contains("'v'") && err.contains("[2]"), "{err}");
    stats.observe("v", &nchw()).unwrap();
    let err = stats
        .observe(
            "v",
            &Tensor::zeros((1, 2), DType::F32, &Device::Cpu).unwrap(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("[2]") && err.contains("[3, 2, 1]"), "{err}");
    assert_eq!(stats.layer("v").unwrap().images, 2);
    stats.reset();
    assert!(stats.layers().is_empty());
}
