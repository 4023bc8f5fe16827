//! Gradient hooks: the probe's gradient against central finite differences.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use convlens_hooks::{GradientCapture, HookRegistry, LayerSelector};

use crate::fixtures::{batch, values, Tiny, LAYERS};

/// `loss = Σ out ⊙ c` for a fixed, non-uniform `c`.
fn loss(model: &Tiny, x: &Tensor, hooks: &HookRegistry) -> candle_core::Result<Tensor> {
    let out = model.forward_with_hooks(x, hooks)?;
    let n = out.elem_count();
    let c: Vec<f64> = (0..n)
        .map(|i| 0.3 + 0.7 * i as f64 - 0.11 * (i * i) as f64)
        .collect();
    let c = Tensor::from_vec(c, out.shape(), &Device::Cpu)?;
    (out * c)?.sum_all()
}

/// d loss / d (output of `layer`) by central differences, perturbing the output with a
/// replacing forward hook.
fn finite_differences(model: &Tiny, x: &Tensor, layer: &str, shape: &[usize]) -> Vec<f64> {
    let n: usize = shape.iter().product();
    let eps = 1e-6;
    (0..n)
        .map(|i| {
            let at = |delta: f64| -> f64 {
                let hooks = HookRegistry::new();
                let mut bump = vec![0.0; n];
                bump[i] = delta;
                let bump = Tensor::from_vec(bump, shape, &Device::Cpu).unwrap();
                let _h = hooks
                    .register_forward_hook(layer, move |_, _, out| Ok(Some((out + &bump)?)))
                    .unwrap();
                loss(model, x, &hooks).unwrap().to_scalar::<f64>().unwrap()
            };
            (at(eps) - at(-eps)) / (2.0 * eps)
        })
        .collect()
}

#[test]
fn gradient_hooks_equal_finite_differences_for_every_layer() {
    let model = Tiny::new(DType::F64).unwrap();
    let x = batch(3, 0.1, DType::F64).unwrap();
    for layer in LAYERS {
        let hooks = HookRegistry::with_layers(&LAYERS);
        let capture = GradientCapture::attach(&hooks, layer).unwrap();
        assert!(capture.gradient().is_none());
        loss(&model, &x, &hooks).unwrap().backward().unwrap();
        let grad = capture.gradient().expect("backward went through the layer");
        let numeric = finite_differences(&model, &x, layer, grad.dims());
        let analytic = values(&grad);
        assert_eq!(analytic.len(), numeric.len());
        for (i, (a, n)) in analytic.iter().zip(&numeric).enumerate() {
            assert!(
                (a - n).abs() <= 1e-6 * (1.0 + n.abs()),
                "{layer}[{i}]: probe {a} vs finite differences {n}"
            );
        }
        // Not vacuous: the gradient is not all zero.
        assert!(
            analytic.iter().any(|g| g.abs() > 1e-3),
            "{layer}: {analytic:?}"
        );
    }
}

#[test]
fn the_probe_does_not_change_values_or_parameter_gradients() {
    let model = Tiny::new(DType::F64).unwrap();
    let x = batch(2, 0.0, DType::F64).unwrap();
    let plain = HookRegistry::new();
    let probed = HookRegistry::new();
    let _g = probed
        .register_gradient_hook(LayerSelector::All, |_, _| Ok(()))
        .unwrap();
    let l0 = loss(&model, &x, &plain).unwrap();
    let l1 = loss(&model, &x, &probed).unwrap();
    assert_eq!(values(&l0), values(&l1));
    let (g0, g1) = (l0.backward().unwrap(), l1.backward().unwrap());
    for var in [&model.w1, &model.b1, &model.w2, &model.b2] {
        assert_eq!(values(g0.get(var).unwrap()), values(g1.get(var).unwrap()));
    }
}

#[test]
fn gradient_hooks_run_once_per_backward_and_never_after_removal() {
    let model = Tiny::new(DType::F32).unwrap();
    let x = batch(2, 0.0, DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let handle = hooks
        .register_gradient_hook("tanh", move |layer, grad| {
            assert_eq!(layer, "tanh");
            assert_eq!(grad.dims(), [2, 3]);
            c.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
    let out = model.forward_with_hooks(&x, &hooks).unwrap();
    out.sum_all().unwrap().backward().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Removed between forward and backward: the probe is in the graph but stays silent.
    let out = model.forward_with_hooks(&x, &hooks).unwrap();
    handle.remove();
    out.sum_all().unwrap().backward().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn capture_take_empties_it() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let capture = GradientCapture::attach(&hooks, "lin2").unwrap();
    assert_eq!(capture.layer(), "lin2");
    let out = model
        .forward_with_hooks(&batch(2, 0.0, DType::F32).unwrap(), &hooks)
        .unwrap();
    out.sum_all().unwrap().backward().unwrap();
    // d Σ out / d out = 1 everywhere.
    assert_eq!(values(&capture.take().unwrap()), [1.0; 4]);
    assert!(capture.gradient().is_none());
    drop(capture);
    assert!(hooks.is_empty());
}
