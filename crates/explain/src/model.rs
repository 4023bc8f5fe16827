//! What a model offers to be explained: two forward passes, its hooks and a way to
//! re-initialize its top layers.

use candle_core::{Result, Tensor};
use convlens_hooks::HookRegistry;

/// A classifier whose layers run through a [`HookRegistry`], as the attribution methods need
/// it.
///
/// Input gradients (saliency, SmoothGrad, Integrated Gradients) only need
/// [`Explainable::forward`], the fastest pass the model has; Grad-CAM needs a layer's output
/// and its gradient, so it uses [`Explainable::forward_with_hooks`]. The sanity check needs
/// copies of the model whose top layers are re-initialized
/// ([`Explainable::randomized`]).
pub trait Explainable {
    /// Class scores (logits) `[N, classes]` for inputs `[N, C, H, W]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// As [`Explainable::forward`], running every layer through `hooks` under its name.
    fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> Result<Tensor>;

    /// A registry that knows the model's layer names (so an unknown name is an error at
    /// registration).
    fn hook_registry(&self) -> HookRegistry;

    /// The names of the layers that have parameters, from the input to the output: the
    /// layers the cascading randomization re-initializes, from the last one back.
    fn parameterized_layers(&self) -> Vec<String>;

    /// A copy of the model with its last `top` parameterized layers re-initialized from
    /// `seed` (the others keep their trained weights); the same seed gives the same weights.
    fn randomized(&self, top: usize, seed: u64) -> Result<Self>
    where
        Self: Sized;
}
