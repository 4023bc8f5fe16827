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
//! with an empty registry costs one atomic load per layer; the course network's hooked pass
//! runs its twelve layers one by one instead of five fused ops, so that each can be observed.
//! Measured costs are not copied here, where they would go stale: `cargo xtask bench` times
//! each kind of hooked pass and writes them to `results/bench.json` and the README's *Speed*
//! section; `cargo bench -p convlens-model --bench hooks` runs the same passes under divan.
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
