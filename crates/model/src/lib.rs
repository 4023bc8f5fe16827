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
//! | `fc1` | `Linear(110, 60)` | 60 | 6,660 |
//! | `relu4`, `fc2` | `ReLU`, `Linear(60, classes)` | 10 | 610 |
//!
//! 71,986 trainable parameters for one input channel and ten classes.
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
//! - **Configurable**: input channels, classes and input size; a configuration whose layer
//!   sizes do not work out is an error naming the layer and the numbers.
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
//! // A configuration that does not fit fc1: 3×32×32 images reach flatten as 110×2×2.
//! let rgb32 = NetConfig { in_channels: 3, classes: 10, input_size: 32 };
//! assert!(Network::new(rgb32, 0, &dev).unwrap_err().to_string().contains("flatten"));
//! # Ok(())
//! # }
//! ```
//!
//! # Speed and the cost of hooks
//!
//! `cargo bench -p convlens-model --bench hooks` (divan, 2-core x86-64 VM with AVX-512, f32,
//! batch of 64, 100 samples, best of two runs):
//!
//! | forward pass, batch of 64 | fastest | median |
//! |---|---|---|
//! | `Network::forward` (fused ops, no registry) | 0.268 ms | 0.291 ms |
//! | `forward_with_hooks`, empty registry | 0.431 ms | 0.458 ms |
//! | a no-op forward hook on all 12 layers | 0.429 ms | 0.467 ms |
//! | a full `ActivationRecorder` on all layers | 0.424 ms | 0.467 ms |
//! | `ActivationStats` on all layers | 1.621 ms | 1.712 ms |
//! | `Network::forward`, `Backend::Candle` (for scale) | 6.373 ms | 6.907 ms |
//!
//! The plain forward pass runs five fused ops; a hooked one runs the twelve layers one by one
//! so that each can be observed, which costs about 0.17 ms per batch of 64. Hooks themselves
//! cost nothing measurable: the three hooked rows are the same within the noise of a shared
//! 2-core machine. Statistics cost about 1.25 ms per batch of 64, for reading every
//! activation.
#![deny(missing_docs)]

pub use config::{NetConfig, Summary, SummaryRow, LAYER_NAMES, PARAMETER_NAMES};
pub use error::ModelError;
pub use network::{Backend, Network};

mod config;
mod error;
mod io;
mod network;
