//! The activation recorder: concatenation, limit, detached copies, ownership of its hook.

use candle_core::{DType, Tensor};
use convlens_hooks::{ActivationRecorder, HookError, HookRegistry, LayerSelector};

use crate::fixtures::{batch, values, Tiny, LAYERS};

/// The lin1 output of `x` computed without any hooks.
fn lin1(model: &Tiny, x: &Tensor) -> Vec<f64> {
    values(
        &x.matmul(&model.w1)
            .unwrap()
            .broadcast_add(&model.b1)
            .unwrap(),
    )
}

#[test]
fn records_every_layer_concatenated_across_batches() {
    let model = Tiny::new(DType::F64).unwrap();
    let hooks = HookRegistry::with_layers(&LAYERS);
    let recorder = ActivationRecorder::attach(&hooks, LayerSelector::All, 100).unwrap();
    let (a, b) = (
        batch(2, 0.0, DType::F64).unwrap(),
        batch(3, 5.0, DType::F64).unwrap(),
    );
    let out_a = model.forward_with_hooks(&a, &hooks).unwrap();
    let out_b = model.forward_with_hooks(&b, &hooks).unwrap();

    assert_eq!(recorder.layers(), LAYERS);
    assert_eq!(recorder.images("tanh"), 5);
    let lin1_rec = recorder.get("lin1").unwrap().unwrap();
    assert_eq!(lin1_rec.dims(), [5, 3]);
    let mut expected = lin1(&model, &a);
    expected.extend(lin1(&model, &b));
    assert_eq!(values(&lin1_rec), expected);

    let lin2_rec = recorder.get("lin2").unwrap().unwrap();
    let mut expected = values(&out_a);
    expected.extend(values(&out_b));
    assert_eq!(values(&lin2_rec), expected);
    // Reading twice gives the same.
    assert_eq!(values(&recorder.get("lin2").unwrap().unwrap()), expected);
    assert!(recorder.get("conv1").unwrap().is_none());
}

#[test]
fn honours_the_image_limit_across_a_partial_batch() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let recorder = ActivationRecorder::attach(&hooks, "lin1", 4).unwrap();
    let (a, b, c) = (
        batch(3, 0.0, DType::F32).unwrap(),
        batch(3, 1.0, DType::F32).unwrap(),
        batch(3, 2.0, DType::F32).unwrap(),
    );
    model.forward_with_hooks(&a, &hooks).unwrap();
    assert!(!recorder.is_full());
    model.forward_with_hooks(&b, &hooks).unwrap();
    assert!(recorder.is_full());
    model.forward_with_hooks(&c, &hooks).unwrap();

    assert_eq!(recorder.images("lin1"), 4);
    let rec = recorder.get("lin1").unwrap().unwrap();
    assert_eq!(rec.dims(), [4, 3]);
    // All of a, then the first image of b; nothing of c.
    let mut expected = lin1(&model, &a);
    expected.extend(&lin1(&model, &b)[..3]);
    for (r, e) in values(&rec).iter().zip(&expected) {
        assert!((r - e).abs() < 1e-6, "{r} vs {e}");
    }
}

#[test]
fn recordings_are_detached_copies() {
    let model = Tiny::new(DType::F64).unwrap();
    let hooks = HookRegistry::new();
    let recorder = ActivationRecorder::attach(&hooks, "lin1", 10).unwrap();
    let x = batch(2, 0.0, DType::F64).unwrap();
    model.forward_with_hooks(&x, &hooks).unwrap();
    let rec = recorder.get("lin1").unwrap().unwrap();
    assert!(!rec.track_op(), "the recording must not hold the graph");
    let before = values(&rec);
    // Changing the weights afterwards does not change what was recorded.
    model.w1.set(&model.w1.zeros_like().unwrap()).unwrap();
    model.forward_with_hooks(&x, &hooks).unwrap();
    let rec = recorder.get("lin1").unwrap().unwrap();
    assert_eq!(values(&rec.narrow(0, 0, 2).unwrap()), before);
    assert_ne!(values(&rec.narrow(0, 2, 2).unwrap()), before);
}

#[test]
fn finish_detaches_and_returns_layers_in_order() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let recorder = ActivationRecorder::attach(&hooks, ["lin2", "lin1"], 10).unwrap();
    assert_eq!(hooks.len(), 1);
    model
        .forward_with_hooks(&batch(2, 0.0, DType::F32).unwrap(), &hooks)
        .unwrap();
    let all = recorder.finish().unwrap();
    assert!(hooks.is_empty());
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["lin1", "lin2"]);
    assert_eq!(all[0].1.dims(), [2, 3]);
    assert_eq!(all[1].1.dims(), [2, 2]);
}

#[test]
fn dropping_the_recorder_detaches_it() {
    let hooks = HookRegistry::new();
    let recorder = ActivationRecorder::attach(&hooks, LayerSelector::All, 1).unwrap();
    assert_eq!(hooks.len(), 1);
    drop(recorder);
    assert!(hooks.is_empty());
}

#[test]
fn clear_forgets_the_recordings() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let recorder = ActivationRecorder::attach(&hooks, "tanh", 2).unwrap();
    model
        .forward_with_hooks(&batch(2, 0.0, DType::F32).unwrap(), &hooks)
        .unwrap();
    assert!(recorder.is_full());
    recorder.clear();
    assert!(recorder.layers().is_empty());
    model
        .forward_with_hooks(&batch(1, 0.0, DType::F32).unwrap(), &hooks)
        .unwrap();
    assert_eq!(recorder.images("tanh"), 1);
}

#[test]
fn a_zero_limit_and_changing_shapes_are_errors() {
    let hooks = HookRegistry::new();
    assert!(matches!(
        ActivationRecorder::attach(&hooks, "x", 0),
        Err(HookError::InvalidLimit(0))
    ));
    let recorder = ActivationRecorder::attach(&hooks, "x", 10).unwrap();
    let dev = candle_core::Device::Cpu;
    let layer = |t: Tensor| hooks.run_layer("x", &t, |t| Ok(t.clone()));
    layer(Tensor::zeros((2, 3), DType::F32, &dev).unwrap()).unwrap();
    let err = layer(Tensor::zeros((2, 4), DType::F32, &dev).unwrap()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("'x'") && message.contains("[4]") && message.contains("[3]"),
        "{message}"
    );
    assert_eq!(recorder.images("x"), 2);
}
