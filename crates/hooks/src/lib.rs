//! Hooks for candle models made of named layers: what PyTorch users reach for with
//! `register_forward_hook`, `register_forward_pre_hook` and tensor gradient hooks.
//!
//! A model opts in by running each layer through [`HookRegistry::run_layer`] in its hooked
//! forward pass. Then, by layer name or for all layers:
//!
//! - **forward hooks** see `(layer, input, output)` and may replace the output;
//! - **forward pre-hooks** see `(layer, input)` and may replace the input;
//! - **gradient hooks** see the gradient of the loss with respect to the layer's output
//!   during `backward` (candle keeps gradients only for variables; a probe op inserted after
//!   the layer reports the gradient as `backward` passes it);
//! - [`ActivationRecorder`] keeps detached copies of outputs across batches, up to a limit of
//!   images; [`ActivationStats`] keeps streaming per-layer and per-channel statistics;
//!   [`GradientCapture`] keeps the latest output gradient of one layer.
//!
//! Every registration returns a [`HookHandle`]; **dropping the handle removes the hook**
//! (the recorders own theirs), so nothing stays attached by accident.
//!
//! # Example: a tiny two-layer model
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use convlens_hooks::{ActivationRecorder, GradientCapture, HookRegistry, LayerSelector};
//!
//! struct Tiny {
//!     w: Var,
//! }
//!
//! impl Tiny {
//!     fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> candle_core::Result<Tensor> {
//!         let x = hooks.run_layer("linear", x, |x| x.matmul(&self.w))?;
//!         hooks.run_layer("relu", &x, |x| x.relu())
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dev = Device::Cpu;
//! let model = Tiny { w: Var::from_slice(&[1f32, -1., 2., -0.5], (2, 2), &dev)? };
//! let hooks = HookRegistry::with_layers(&["linear", "relu"]);
//! let recorder = ActivationRecorder::attach(&hooks, LayerSelector::All, 100)?;
//! let grad = GradientCapture::attach(&hooks, "linear")?;
//! // Replace relu's output: double it.
//! let doubler = hooks.register_forward_hook("relu", |_, _, out| Ok(Some((out * 2.0)?)))?;
//!
//! let x = Tensor::new(&[[1f32, 2.]], &dev)?;
//! let y = model.forward_with_hooks(&x, &hooks)?;
//! assert_eq!(y.to_vec2::<f32>()?, [[10., 0.]]);
//! assert_eq!(recorder.get("linear")?.unwrap().to_vec2::<f32>()?, [[5., -2.]]);
//!
//! y.sum_all()?.backward()?;
//! // d sum(2 relu(z)) / dz = 2 where z > 0, else 0.
//! assert_eq!(grad.gradient().unwrap().to_vec2::<f32>()?, [[2., 0.]]);
//!
//! doubler.remove();
//! let y = model.forward_with_hooks(&x, &hooks)?;
//! assert_eq!(y.to_vec2::<f32>()?, [[5., 0.]]);
//! assert_eq!(recorder.images("relu"), 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Cost
//!
//! A model's plain forward pass does not touch the registry at all. A hooked forward pass
//! with an empty registry costs one atomic load per layer. Measured with the course network
//! (`cargo bench -p convlens-model --bench hooks`, 2-core x86-64 VM, f32, batch 64):
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

pub use error::HookError;
pub use gradient::GradientCapture;
pub use recorder::ActivationRecorder;
pub use registry::{HookHandle, HookRegistry, LayerSelector};
pub use stats::{ActivationStats, ChannelStats, LayerStats};

mod error;
mod gradient;
mod probe;
mod recorder;
mod registry;
mod stats;
