//! The gradient probe: an identity op whose backward pass hands the gradient to hooks.
//!
//! candle's `GradStore` keeps gradients only for variables; the gradient of an intermediate
//! tensor exists only while `backward` walks past it. A probe inserted after a layer sees it
//! there.

use std::sync::atomic::Ordering;

use candle_core::backend::{BackendDevice, BackendStorage};
use candle_core::{
    CpuStorage, CudaStorage, CustomOp1, Layout, MetalStorage, Result, Shape, Tensor,
};

use crate::registry::{HookFn, LiveHook};

pub(crate) struct GradientProbe {
    layer: String,
    hooks: Vec<LiveHook>,
}

impl GradientProbe {
    pub(crate) fn new(layer: &str, hooks: Vec<LiveHook>) -> Self {
        GradientProbe {
            layer: layer.to_string(),
            hooks,
        }
    }
}

/// A compact copy of the viewed elements: the probe's output must own its storage.
fn copy<S>(storage: &S, layout: &Layout) -> Result<(S, Shape)>
where
    S: BackendStorage,
    S::Device: BackendDevice<Storage = S>,
{
    let mut out = storage
        .device()
        .zeros_impl(layout.shape(), storage.dtype())?;
    storage.copy_strided_src(&mut out, 0, layout)?;
    Ok((out, layout.shape().clone()))
}

impl CustomOp1 for GradientProbe {
    fn name(&self) -> &'static str {
        "gradient-probe"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        copy(storage, layout)
    }

    fn cuda_fwd(&self, storage: &CudaStorage, layout: &Layout) -> Result<(CudaStorage, Shape)> {
        copy(storage, layout)
    }

    fn metal_fwd(&self, storage: &MetalStorage, layout: &Layout) -> Result<(MetalStorage, Shape)> {
        copy(storage, layout)
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad_res.detach();
        for hook in &self.hooks {
            if !hook.active.load(Ordering::SeqCst) {
                continue;
            }
            let mut guard = hook.lock(&self.layer)?;
            if let HookFn::Gradient(f) = &mut *guard {
                f(&self.layer, &grad)?;
            }
        }
        Ok(Some(grad_res.clone()))
    }
}
