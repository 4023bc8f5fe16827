//! What a classifier looks at, measured: attribution methods for candle models whose layers
//! run through a [`convlens_hooks::HookRegistry`], each checked for whether it depends on
//! the model at all and for how faithful its ranking of the pixels is.
//!
//! - **Methods** ([`Method`], run by [`attribute`]): saliency and Input × Gradient (one
//!   backward pass), SmoothGrad (noisy copies as one batch), Integrated Gradients (path
//!   points as one batch, with its completeness error), Grad-CAM and Grad-CAM++ at a layer
//!   with a spatial extent (through the hooks: the layer's output and its gradient),
//!   occlusion (occluded copies as one batch). The target class is the caller's choice, one
//!   per image.
//! - **Sanity** ([`cascading_randomization`]): the maps again on copies of the model whose
//!   layers are re-initialized from the top down (Adebayo et al., 2018), compared by rank
//!   correlation; a method whose maps survive full randomization fails.
//! - **Faithfulness** ([`deletion_insertion`]): the target probability as pixels are removed
//!   in the order of the map, or put back into an emptied image, against a random order.
//!
//! Everything random (noise, orderings, re-initialization) comes from a seed: the same call
//! gives the same numbers. The crate knows no model: anything implementing [`Explainable`]
//! can be explained.
//!
//! # Example: a linear model, whose maps are its weights
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use convlens_explain::{attribute, Explainable, Method, Options};
//! use convlens_hooks::HookRegistry;
//!
//! /// Two classes, scores = W · pixels.
//! struct Linear {
//!     w: Var,
//! }
//!
//! impl Explainable for Linear {
//!     fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
//!         x.flatten_from(1)?.matmul(&self.w.as_tensor().t()?)
//!     }
//!     fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> candle_core::Result<Tensor> {
//!         hooks.run_layer("linear", x, |x| self.forward(x))
//!     }
//!     fn hook_registry(&self) -> HookRegistry {
//!         HookRegistry::with_layers(&["linear"])
//!     }
//!     fn parameterized_layers(&self) -> Vec<String> {
//!         vec!["linear".into()]
//!     }
//!     fn randomized(&self, _top: usize, seed: u64) -> candle_core::Result<Self> {
//!         let w = Tensor::arange(0u32, 8, &Device::Cpu)?.to_dtype(candle_core::DType::F32)?;
//!         Ok(Linear { w: Var::from_tensor(&((w * seed as f64)?.reshape((2, 4))?))? })
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dev = Device::Cpu;
//! let model = Linear { w: Var::from_slice(&[1f32, -2., 0., 3., 0., 1., 1., 0.], (2, 4), &dev)? };
//! let x = Tensor::new(&[[[[0.5f32, 1.], [0., 2.]]]], &dev)?; // one 1×2×2 image
//! let options = Options::default();
//!
//! // The gradient of class 0's score is its weight row.
//! let saliency = attribute(&model, &Method::Saliency, &x, &[0], &options)?;
//! assert_eq!(saliency.maps.to_vec3::<f32>()?, [[[1., 2.], [0., 3.]]]);
//! let ixg = attribute(&model, &Method::InputXGradient, &x, &[0], &options)?;
//! assert_eq!(ixg.maps.to_vec3::<f32>()?, [[[0.5, -2.], [0., 6.]]]);
//!
//! // A linear score is its own path integral: Integrated Gradients is complete.
//! let ig = Method::IntegratedGradients { steps: 4, baseline: convlens_explain::Baseline::Black };
//! let ig = attribute(&model, &ig, &x, &[0], &options)?;
//! assert_eq!(ig.maps.to_vec3::<f32>()?, [[[0.5, -2.], [0., 6.]]]);
//! assert!(ig.completeness.unwrap()[0] < 1e-6);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub use error::{ExplainError, Result};
pub use faithfulness::{
    auc, deletion_insertion, mean_curve, random_orders, ranking, Curves, FaithfulnessConfig,
};
pub use methods::{
    attribute, check_cam_layer, scores, Attribution, Baseline, Method, Options, METHOD_NAMES,
};
pub use model::Explainable;
pub use numeric::{resize_bilinear, spearman};
pub use report::{
    evaluate_method, random_baseline, Evaluation, ExplainReport, Faithfulness, MeanSe,
    MethodReport, Sanity,
};
pub use sanity::{cascading_randomization, fails_sanity, SanityStep, SANITY_THRESHOLD};

mod error;
mod faithfulness;
mod methods;
mod model;
mod numeric;
mod report;
mod sanity;
