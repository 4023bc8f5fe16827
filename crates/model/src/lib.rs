//! The course's small CNN for candle, exactly as the reference PyTorch `nn.Sequential`:
//!
//! | layer | PyTorch | output (1×28×28 input) | params |
//! |---|---|---|---|
//! | `conv1` | `Conv2d(in, 3, 3, padding=3)` | 3×32×32 | 30 |
//! | `relu1`, `maxp1` | `ReLU`, `MaxPool2d(2)` | 3×16×16 | |
//! | `conv2` | `Conv2d(3, 16, 5)` | 16×12×12 | 1,216 |
//! | `relu2`, `maxp2` | `ReLU`, `MaxPool2d(2)` | 16×6×6 | |
//! | `conv3` | `Conv2d(16, 110, 6)` | 110×1×1 | 63,470 |
//! | `relu3`, `flatten` | `ReLU`, `Flatten` | 110 | |
//! | `fc1` | `Linear(110·h·w, 60)` | 60 | 6,660 |
//! | `relu4`, `fc2` | `ReLU`, `Linear(60, classes)` | 10 | 610 |
//!
//! 71,986 trainable parameters for one input channel and ten classes. The network adapts to
//! the data as the course asks, and nowhere else: conv1 takes the images' channels, fc1 takes
//! conv3's output (110 × h × w: 440 features for 32×32 inputs), fc2 gives one output per
//! class. The whole network is one table, [`LAYERS`]; names, shapes, both forward passes and
//! the summary are derived from it.
//!
//! - **PyTorch-compatible weights**: parameter names and layouts are the `state_dict` of that
//!   `nn.Sequential` (`conv1.weight` `[3, 1, 3, 3]`, …, `fc2.bias` `[10]`); [`Network::save`]
//!   and [`Network::load`] use safetensors with those names, so weights move both ways.
//! - **Seeded PyTorch-style init**: every weight and bias ~ U(−1/√fan_in, 1/√fan_in) from a
//!   seeded generator; the same seed gives the same weights.
//! - **Correct gradients**: pooling is [`convlens_ops::max_pool2d`], whose gradient goes to
//!   the window's first maximum (candle 0.11.1's own pooling gradient is wrong).
//! - **Hooks on every layer**: [`Network::forward_with_hooks`] runs each layer through a
//!   [`convlens_hooks::HookRegistry`] under its name in [`LAYER_NAMES`];
//!   [`Network::forward`] has no hook overhead at all.
//! - **Configurable**: input channels, classes and input size (28 and up); a configuration
//!   whose layer sizes do not work out is an error naming the layer, the numbers and the
//!   smallest size that works.
//! - **A candle `Module`**: [`Network`] implements `candle_core::Module`.
//!
//! # Example
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use convlens_hooks::ActivationRecorder;
//! use convlens_model::{NetConfig, Network};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dev = Device::Cpu;
//! let net = Network::new(NetConfig::default(), 42, &dev)?;
//! assert_eq!(net.summary().total_params, 71_986);
//!
//! let images = Tensor::zeros((2, 1, 28, 28), DType::F32, &dev)?;
//! assert_eq!(net.forward(&images)?.dims(), [2, 10]);
//!
//! let hooks = net.hook_registry();
//! let recorder = ActivationRecorder::attach(&hooks, "conv2", 100)?;
//! net.forward_with_hooks(&images, &hooks)?;
//! assert_eq!(recorder.get("conv2")?.unwrap().dims(), [2, 16, 12, 12]);
//!
//! // Colour 32×32 images: conv3 gives 110×2×2, so fc1 takes 440 features.
//! let rgb32 = NetConfig { in_channels: 3, classes: 10, input_size: 32 };
//! let net = Network::new(rgb32, 0, &dev)?;
//! assert_eq!(net.summary().total_params, 91_840);
//! assert_eq!(net.summary().rows[9].params, 440 * 60 + 60);
//!
//! // USPS's 16×16 leaves conv3 a 3×3 map for its 6×6 kernel: refused, naming the fix.
//! let usps = NetConfig { in_channels: 1, classes: 10, input_size: 16 };
//! let message = Network::new(usps, 0, &dev).unwrap_err().to_string();
//! assert!(message.contains("conv3") && message.contains("smallest input size that works is 28"));
//! # Ok(())
//! # }
//! ```
//!
//! # Speed and the cost of hooks
//!
//! A model's plain forward pass does not touch the registry at all. A hooked forward pass
//! with an empty registry costs one atomic load per layer; the course network's hooked pass
//! runs its twelve layers one by one instead of five fused ops, so that each can be observed.
//! Measured costs are not copied here, where they would go stale: `cargo xtask bench` times
//! each kind of hooked pass and writes them to `results/bench.json` and the README's *Speed*
//! section; `cargo bench -p convlens-model --bench hooks` runs the same passes under divan.
#![deny(missing_docs)]

pub use config::{
    Layer, LayerKind, NetConfig, Summary, SummaryRow, LAYERS, LAYER_NAMES, MAX_PARAMETERS,
    MIN_INPUT_SIZE, PARAMETER_NAMES,
};
pub use error::ModelError;
pub use network::{Backend, Network};

mod config;
mod error;
mod io;
mod network;
