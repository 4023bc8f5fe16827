//! ReLU with a one-pass backward, standalone and fused into the convolution.

use std::mem::MaybeUninit;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Tensor};

use crate::buffer::{assume_init, dense, uninit_vec};
use crate::error::Error;
use crate::kernels::{masked_into, relu_into, slice, Element};
use crate::parallel::for_runs_mut;
use crate::shape::{check_float, elements};

const OP: &str = "relu";
const OP_BWD: &str = "relu-backward";

/// ReLU, `max(x, 0)` element-wise (NaN stays NaN), with a one-pass backward.
///
/// `x` may have any shape and strides, f32 or f64, on the CPU. The gradient is the output
/// gradient where the output is positive and zero elsewhere (PyTorch's choice at 0). candle's
/// own `relu` computes its backward with five full-size tensor ops; this one reads the output
/// and the output gradient once.
///
/// # Errors
///
/// If `x` is not f32 or f64, not on the CPU, or (a broadcast view) of more than
/// [`MAX_ELEMENTS`](crate::MAX_ELEMENTS) elements.
///
/// # Example
///
/// ```
/// use candle_core::{Device, Tensor, Var};
///
/// let x = Var::from_tensor(&Tensor::new(&[-1f32, 0., 2.], &Device::Cpu)?)?;
/// let y = convlens_ops::relu(&x)?;
/// assert_eq!(y.to_vec1::<f32>()?, [0., 0., 2.]);
/// let grads = (y * 3.)?.sum_all()?.backward()?;
/// assert_eq!(grads.get(&x).expect("x is a variable").to_vec1::<f32>()?, [0., 0., 3.]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn relu(x: &Tensor) -> candle_core::Result<Tensor> {
    if !x.device().is_cpu() {
        return Err(Error::NotCpu { op: OP }.into());
    }
    x.apply_op1(Relu)
}

/// The output gradient where the ReLU output is positive, zero elsewhere, as a new contiguous
/// tensor: the backward of [`relu`] and of the fused convolution.
pub(crate) fn relu_backward(res: &Tensor, grad: &Tensor) -> candle_core::Result<Tensor> {
    res.apply_op2_no_bwd(grad, &ReluBackward)
}

#[derive(Debug, Clone, Copy)]
struct Relu;

/// Masks the output gradient with `output > 0`.
#[derive(Debug, Clone, Copy)]
struct ReluBackward;

/// The work of one element, in multiply-adds (the unit of `for_runs_mut`): memory-bound
/// element-wise passes pay for a second thread from about 64 Ki elements.
const ELEMENT_WORK: usize = 2;

/// Splits `n` elements into per-thread runs when there are enough of them.
fn elementwise<T: Element>(
    n: usize,
    f: impl Fn(std::ops::Range<usize>, &mut [MaybeUninit<T>]) + Sync,
) -> Vec<T> {
    let mut out = uninit_vec::<T>(n);
    for_runs_mut(&mut out, 1, n, n * ELEMENT_WORK, f);
    // SAFETY: every run wrote its elements.
    unsafe { assume_init(out) }
}

fn relu_forward<T: Element>(x: &[T], layout: &Layout) -> Vec<T> {
    let x = dense(x, layout);
    elementwise(x.len(), |run, out| relu_into(&x[run], out))
}

fn masked<T: Element>(res: &[T], grad: &[T]) -> Vec<T> {
    elementwise(res.len(), |run, out| {
        masked_into(&res[run.clone()], &grad[run], out)
    })
}

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        check_float(OP, "x", storage.dtype())?;
        elements(OP, "x", layout.dims())?;
        let y = match storage.dtype() {
            DType::F32 => CpuStorage::F32(relu_forward(slice::<f32>(storage)?, layout)),
            _ => CpuStorage::F64(relu_forward(slice::<f64>(storage)?, layout)),
        };
        Ok((y, layout.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(relu_backward(res, grad_res)?))
    }
}

impl CustomOp2 for ReluBackward {
    fn name(&self) -> &'static str {
        OP_BWD
    }

    fn cpu_fwd(
        &self,
        rs: &CpuStorage,
        rl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        check_float(OP_BWD, "output", rs.dtype())?;
        if rs.dtype() != gs.dtype() {
            return Err(Error::DTypeMismatch {
                op: OP_BWD,
                arg: "grad",
                expected: rs.dtype(),
                got: gs.dtype(),
            }
            .into());
        }
        elements(OP_BWD, "output", rl.dims())?;
        if rl.dims() != gl.dims() {
            return Err(Error::Shape {
                op: OP_BWD,
                message: format!(
                    "gradient of shape {:?} does not match the output shape {:?}",
                    gl.dims(),
                    rl.dims()
                ),
            }
            .into());
        }
        let dx = match rs.dtype() {
            DType::F32 => CpuStorage::F32(masked(
                &dense(slice::<f32>(rs)?, rl),
                &dense(slice::<f32>(gs)?, gl),
            )),
            _ => CpuStorage::F64(masked(
                &dense(slice::<f64>(rs)?, rl),
                &dense(slice::<f64>(gs)?, gl),
            )),
        };
        Ok((dx, rl.shape().clone()))
    }
}
