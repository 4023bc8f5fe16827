//! Capturing the gradient of the loss with respect to one layer's output.

use std::sync::{Arc, Mutex};

use candle_core::Tensor;

use crate::error::HookError;
use crate::registry::{HookHandle, HookRegistry};

/// Keeps the gradient of the loss with respect to a layer's output, as computed by the most
/// recent `backward` that went through the layer.
///
/// This is what Grad-CAM and saliency maps need. The gradient has the shape of the layer's
/// output (batch included) and is detached from the graph. Dropping the capture removes its
/// hook.
///
/// If one `backward` runs through several forward passes of the layer (for example a loss
/// summed over two batches), the capture keeps whichever gradient candle computes last.
#[derive(Debug)]
pub struct GradientCapture {
    layer: String,
    latest: Arc<Mutex<Option<Tensor>>>,
    _handle: HookHandle,
}

impl GradientCapture {
    /// Starts capturing gradients at the output of `layer`.
    pub fn attach(registry: &HookRegistry, layer: &str) -> Result<Self, HookError> {
        let latest = Arc::new(Mutex::new(None));
        let slot = latest.clone();
        let handle = registry.register_gradient_hook(layer, move |_, grad| {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(grad.clone());
            Ok(())
        })?;
        Ok(GradientCapture {
            layer: layer.to_string(),
            latest,
            _handle: handle,
        })
    }

    /// The layer whose output gradient is captured.
    pub fn layer(&self) -> &str {
        &self.layer
    }

    /// The latest captured gradient, if a backward pass has gone through the layer.
    pub fn gradient(&self) -> Option<Tensor> {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Moves the latest gradient out, leaving the capture empty.
    pub fn take(&self) -> Option<Tensor> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
