//! 2×2 max pooling with stride 2 whose gradient goes to the first maximum of each window.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Tensor, WithDType};

use crate::error::Error;
use crate::kernels::pool::{backward_planes, forward_planes};
use crate::kernels::slice;
use crate::shape::{check_float, elements, View4};

const OP: &str = "max_pool2d";
const OP_BWD: &str = "max_pool2d-backward";

/// 2×2 max pooling with stride 2 (PyTorch's `MaxPool2d(2)`), with a correct gradient.
///
/// `x` is an NCHW tensor of dtype f32 or f64 on the CPU, with any strides. The output has shape
/// `[N, C, H / 2, W / 2]` (rounded down, so an odd last row or column is dropped, as in PyTorch).
///
/// The backward pass routes each output gradient, whole, to the position of the maximum of its
/// window; when several elements of a window are equal to its maximum, the first one in row-major
/// window order receives it (PyTorch's choice), and a NaN counts as the maximum. Elements of an
/// odd trailing row or column get zero gradient. candle 0.11.1's own `max_pool2d` splits the
/// gradient of a window over all four positions instead.
///
/// # Errors
///
/// If `x` is not rank 4, not f32 or f64, not on the CPU, smaller than 2×2 in its last two
/// dimensions, or (a broadcast view) of more than [`MAX_ELEMENTS`](crate::MAX_ELEMENTS)
/// elements.
///
/// # Example
///
/// ```
/// use candle_core::{Device, Tensor};
///
/// let x = Tensor::new(&[[[[1f32, 5.], [2., 3.]]]], &Device::Cpu)?;
/// let y = convlens_ops::max_pool2d(&x)?;
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, [5.]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn max_pool2d(x: &Tensor) -> candle_core::Result<Tensor> {
    x.apply_op1(MaxPool2x2)
}

/// The forward op; its backward is [`MaxPool2x2Backward`] applied to the input and the gradient.
#[derive(Debug, Clone, Copy)]
struct MaxPool2x2;

/// Scatters output gradients to the argmax of each window, recomputed from the input.
#[derive(Debug, Clone, Copy)]
struct MaxPool2x2Backward;

fn pooled_view(op: &'static str, dtype: DType, layout: &Layout) -> Result<View4, Error> {
    check_float(op, "x", dtype)?;
    let view = View4::new(op, "x", layout)?;
    elements(op, "x", &view.dims)?;
    let [_, _, h, w] = view.dims;
    if h < 2 || w < 2 {
        return Err(Error::Shape {
            op,
            message: format!(
                "input of shape {:?} is smaller than the 2x2 pooling window",
                view.dims
            ),
        });
    }
    Ok(view)
}

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let view = pooled_view(OP, storage.dtype(), layout)?;
        let [n, c, h, w] = view.dims;
        let out = match storage {
            CpuStorage::F32(_) => {
                f32::to_cpu_storage_owned(forward_planes(slice::<f32>(storage)?, &view))
            }
            CpuStorage::F64(_) => {
                f64::to_cpu_storage_owned(forward_planes(slice::<f64>(storage)?, &view))
            }
            _ => unreachable!("dtype checked by pooled_view"),
        };
        Ok((out, Shape::from((n, c, h / 2, w / 2))))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(grad_res, &MaxPool2x2Backward)?))
    }
}

impl CustomOp2 for MaxPool2x2Backward {
    fn name(&self) -> &'static str {
        OP_BWD
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let xv = pooled_view(OP_BWD, xs.dtype(), xl)?;
        if gs.dtype() != xs.dtype() {
            return Err(Error::DTypeMismatch {
                op: OP_BWD,
                arg: "grad",
                expected: xs.dtype(),
                got: gs.dtype(),
            }
            .into());
        }
        let gv = View4::new(OP_BWD, "grad", gl)?;
        let [n, c, h, w] = xv.dims;
        if gv.dims != [n, c, h / 2, w / 2] {
            return Err(Error::Shape {
                op: OP_BWD,
                message: format!(
                    "gradient of shape {:?} does not match the pooled shape {:?} of input {:?}",
                    gv.dims,
                    [n, c, h / 2, w / 2],
                    xv.dims
                ),
            }
            .into());
        }
        let dx = match xs {
            CpuStorage::F32(_) => f32::to_cpu_storage_owned(backward_planes(
                slice::<f32>(xs)?,
                &xv,
                slice::<f32>(gs)?,
                &gv,
            )),
            CpuStorage::F64(_) => f64::to_cpu_storage_owned(backward_planes(
                slice::<f64>(xs)?,
                &xv,
                slice::<f64>(gs)?,
                &gv,
            )),
            _ => unreachable!("dtype checked by pooled_view"),
        };
        Ok((dx, Shape::from(&xv.dims)))
    }
}
