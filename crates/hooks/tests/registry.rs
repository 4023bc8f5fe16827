//! Forward hooks, pre-hooks, handles and removal.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Tensor};
use convlens_hooks::{HookError, HookRegistry, LayerSelector};

use crate::fixtures::{batch, values, Tiny, LAYERS};

#[test]
fn forward_hooks_fire_once_per_layer_in_order_with_input_and_output() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::with_layers(&LAYERS);
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
    model
        .forward_with_hooks(&batch(4, 0.0, DType::F32).unwrap(), &hooks)
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [
            ("lin1".to_string(), vec![4, 2], vec![4, 3]),
            ("tanh".to_string(), vec![4, 3], vec![4, 3]),
            ("lin2".to_string(), vec![4, 3], vec![4, 2]),
        ]
    );
}

#[test]
fn hook_sees_the_layers_actual_input_and_output() {
    let model = Tiny::new(DType::F64).unwrap();
    let hooks = HookRegistry::new();
    let pair = Arc::new(Mutex::new(None));
    let slot = pair.clone();
    let _h = hooks
        .register_forward_hook("tanh", move |_, input, output| {
            *slot.lock().unwrap() = Some((input.clone(), output.clone()));
            Ok(None)
        })
        .unwrap();
    model
        .forward_with_hooks(&batch(3, 0.0, DType::F64).unwrap(), &hooks)
        .unwrap();
    let (input, output) = pair.lock().unwrap().clone().unwrap();
    let expected: Vec<f64> = values(&input).iter().map(|v| v.tanh()).collect();
    assert_eq!(values(&output), expected);
}

#[test]
fn output_replacement_changes_the_result() {
    let model = Tiny::new(DType::F64).unwrap();
    let hooks = HookRegistry::new();
    let x = batch(2, 0.0, DType::F64).unwrap();
    let plain = values(&model.forward_with_hooks(&x, &hooks).unwrap());

    // Zeroing tanh's output leaves lin2's bias as the result.
    let _h = hooks
        .register_forward_hook("tanh", |_, _, out| Ok(Some(out.zeros_like()?)))
        .unwrap();
    let zeroed = values(&model.forward_with_hooks(&x, &hooks).unwrap());
    assert_eq!(zeroed, [0.1, -0.2, 0.1, -0.2]);
    assert_ne!(plain, zeroed);
}

#[test]
fn later_hooks_see_the_replaced_output() {
    let model = Tiny::new(DType::F64).unwrap();
    let hooks = HookRegistry::new();
    let x = batch(2, 0.0, DType::F64).unwrap();
    let _double = hooks
        .register_forward_hook("lin2", |_, _, out| Ok(Some((out * 2.0)?)))
        .unwrap();
    let _add_one = hooks
        .register_forward_hook("lin2", |_, _, out| Ok(Some((out + 1.0)?)))
        .unwrap();
    let y = values(&model.forward_with_hooks(&x, &hooks).unwrap());
    hooks.clear();
    let plain = values(&model.forward_with_hooks(&x, &hooks).unwrap());
    let expected: Vec<f64> = plain.iter().map(|v| 2.0 * v + 1.0).collect();
    for (a, b) in y.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

#[test]
fn pre_hook_replacement_changes_the_layer_input() {
    let model = Tiny::new(DType::F64).unwrap();
    let hooks = HookRegistry::new();
    let x = batch(2, 0.0, DType::F64).unwrap();
    let zeros = x.zeros_like().unwrap();

    let _h = hooks
        .register_forward_pre_hook("lin1", |_, input| Ok(Some(input.zeros_like()?)))
        .unwrap();
    let seen_input = Arc::new(Mutex::new(None));
    let slot = seen_input.clone();
    let _spy = hooks
        .register_forward_hook("lin1", move |_, input, _| {
            *slot.lock().unwrap() = Some(input.clone());
            Ok(None)
        })
        .unwrap();
    let with_pre = values(&model.forward_with_hooks(&x, &hooks).unwrap());
    // The forward hook sees the replaced input.
    assert_eq!(
        values(seen_input.lock().unwrap().as_ref().unwrap()),
        [0.0; 4]
    );

    let clean = HookRegistry::new();
    let on_zeros = values(&model.forward_with_hooks(&zeros, &clean).unwrap());
    let on_x = values(&model.forward_with_hooks(&x, &clean).unwrap());
    assert_eq!(with_pre, on_zeros);
    assert_ne!(with_pre, on_x);
}

#[test]
fn hook_errors_abort_the_forward_pass() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let _h = hooks
        .register_forward_hook("tanh", |layer, _, _| {
            Err(candle_core::Error::Msg(format!("refused {layer}")))
        })
        .unwrap();
    let err = model
        .forward_with_hooks(&batch(1, 0.0, DType::F32).unwrap(), &hooks)
        .unwrap_err();
    assert!(err.to_string().contains("refused tanh"), "{err}");
}

fn counting_hook(
    hooks: &HookRegistry,
    layer: &str,
) -> (Arc<AtomicUsize>, convlens_hooks::HookHandle) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let handle = hooks
        .register_forward_hook(layer, move |_, _, _| {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        })
        .unwrap();
    (count, handle)
}

#[test]
fn a_removed_hook_never_runs_again() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let x = batch(1, 0.0, DType::F32).unwrap();
    let (count, handle) = counting_hook(&hooks, "tanh");
    model.forward_with_hooks(&x, &hooks).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(hooks.len(), 1);

    handle.remove();
    assert!(hooks.is_empty());
    for _ in 0..3 {
        model.forward_with_hooks(&x, &hooks).unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_the_handle_removes_the_hook() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let x = batch(1, 0.0, DType::F32).unwrap();
    let (count, handle) = counting_hook(&hooks, "lin2");
    drop(handle);
    model.forward_with_hooks(&x, &hooks).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 0);
    assert!(hooks.is_empty());
}

#[test]
fn a_hook_removed_during_the_forward_pass_does_not_run_for_later_layers() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let x = batch(1, 0.0, DType::F32).unwrap();
    let (count, handle) = counting_hook(&hooks, "lin2");
    // The lin1 hook removes the lin2 hook mid-pass.
    let slot = Arc::new(Mutex::new(Some(handle)));
    let s = slot.clone();
    let _remover = hooks
        .register_forward_hook("lin1", move |_, _, _| {
            s.lock().unwrap().take();
            Ok(None)
        })
        .unwrap();
    model.forward_with_hooks(&x, &hooks).unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 0);
    assert_eq!(hooks.len(), 1);
}

#[test]
fn clear_removes_all_hooks_and_deactivates_handles() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let (count, handle) = counting_hook(&hooks, "tanh");
    let (_, _other) = counting_hook(&hooks, "lin1");
    assert_eq!(hooks.len(), 2);
    hooks.clear();
    assert!(hooks.is_empty());
    assert!(!handle.is_active());
    model
        .forward_with_hooks(&batch(1, 0.0, DType::F32).unwrap(), &hooks)
        .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 0);
    drop(handle);
    assert!(hooks.is_empty());
}

#[test]
fn selectors_pick_the_named_layers() {
    let model = Tiny::new(DType::F32).unwrap();
    let hooks = HookRegistry::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let _h = hooks
        .register_forward_hook(["lin1", "lin2"], move |layer, _, _| {
            log.lock().unwrap().push(layer.to_string());
            Ok(None)
        })
        .unwrap();
    model
        .forward_with_hooks(&batch(1, 0.0, DType::F32).unwrap(), &hooks)
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), ["lin1", "lin2"]);
    assert!(LayerSelector::All.matches("anything"));
    assert!(!LayerSelector::from("lin1").matches("lin2"));
}

#[test]
fn unknown_layer_names_are_rejected_by_a_registry_that_knows_its_layers() {
    let hooks = HookRegistry::with_layers(&LAYERS);
    let err = hooks
        .register_forward_hook(["lin1", "conv9"], |_, _, _| Ok(None))
        .unwrap_err();
    assert!(matches!(&err, HookError::UnknownLayer { layer, .. } if layer == "conv9"));
    let message = err.to_string();
    assert!(
        message.contains("conv9") && message.contains("lin1, tanh, lin2"),
        "{message}"
    );
    assert!(hooks.is_empty());

    let empty: Vec<String> = Vec::new();
    assert!(matches!(
        hooks.register_forward_pre_hook(empty, |_, _| Ok(None)),
        Err(HookError::EmptySelector)
    ));
}

#[test]
fn handles_outliving_their_registry_are_inert() {
    let hooks = HookRegistry::new();
    let handle = hooks
        .register_forward_hook("x", |_, _, _| Ok(None))
        .unwrap();
    assert!(handle.is_active());
    drop(hooks);
    assert!(!handle.is_active());
    handle.remove();
}

#[test]
fn an_empty_registry_calls_the_layer_directly() {
    let hooks = HookRegistry::new();
    let x = Tensor::new(&[1f32, 2.0], &Device::Cpu).unwrap();
    let y = hooks.run_layer("any", &x, |x| x.affine(2.0, 0.0)).unwrap();
    assert_eq!(y.to_vec1::<f32>().unwrap(), [2.0, 4.0]);
}
