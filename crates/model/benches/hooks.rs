//! The cost of hooks: the course network's forward pass without a registry, with an empty
//! registry, and with an activation recorder or statistics on every layer.
//!
//! `cargo bench -p convlens-model --bench hooks`

use candle_core::{Device, Tensor};
use convlens_hooks::{ActivationRecorder, ActivationStats, LayerSelector};
use convlens_model::{Backend, NetConfig, Network};

const BATCH: usize = 64;

fn main() {
    divan::main();
}

fn setup() -> (Network, Tensor) {
    let dev = Device::Cpu;
    let mut net = Network::new(NetConfig::default(), 0, &dev).expect("default network");
    net.set_backend(Backend::Fast);
    let x = Tensor::rand(0f32, 1f32, (BATCH, 1, 28, 28), &dev).expect("random batch");
    (net, x)
}

/// `Network::forward`: no registry at all.
#[divan::bench]
fn forward(bencher: divan::Bencher) {
    let (net, x) = setup();
    bencher.bench_local(|| net.forward(divan::black_box(&x)).expect("forward"));
}

/// `Network::forward` with candle's own convolution, for comparison.
#[divan::bench]
fn forward_candle_backend(bencher: divan::Bencher) {
    let (mut net, x) = setup();
    net.set_backend(Backend::Candle);
    bencher.bench_local(|| net.forward(divan::black_box(&x)).expect("forward"));
}

/// `Network::forward_with_hooks` with an empty registry.
#[divan::bench]
fn forward_with_empty_registry(bencher: divan::Bencher) {
    let (net, x) = setup();
    let hooks = net.hook_registry();
    bencher.bench_local(|| {
        net.forward_with_hooks(divan::black_box(&x), &hooks)
            .expect("forward")
    });
}

/// A forward hook on every layer that does nothing.
#[divan::bench]
fn forward_with_noop_hook_on_all_layers(bencher: divan::Bencher) {
    let (net, x) = setup();
    let hooks = net.hook_registry();
    let _handle = hooks
        .register_forward_hook(LayerSelector::All, |_, _, _| Ok(None))
        .expect("register");
    bencher.bench_local(|| {
        net.forward_with_hooks(divan::black_box(&x), &hooks)
            .expect("forward")
    });
}

/// An activation recorder on every layer that is already full (the steady state when
/// recording a few images while running a whole data set).
#[divan::bench]
fn forward_with_full_recorder(bencher: divan::Bencher) {
    let (net, x) = setup();
    let hooks = net.hook_registry();
    let recorder = ActivationRecorder::attach(&hooks, LayerSelector::All, BATCH).expect("attach");
    net.forward_with_hooks(&x, &hooks)
        .expect("fill the recorder");
    bencher.bench_local(|| {
        net.forward_with_hooks(divan::black_box(&x), &hooks)
            .expect("forward")
    });
    drop(recorder);
}

/// Streaming statistics on every layer.
#[divan::bench]
fn forward_with_stats_on_all_layers(bencher: divan::Bencher) {
    let (net, x) = setup();
    let hooks = net.hook_registry();
    let _stats = ActivationStats::attach(&hooks, LayerSelector::All).expect("attach");
    bencher.bench_local(|| {
        net.forward_with_hooks(divan::black_box(&x), &hooks)
            .expect("forward")
    });
}
