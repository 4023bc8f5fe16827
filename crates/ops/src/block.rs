//! Convolution, bias, ReLU and 2×2 max pooling fused into one op: the building block of the
//! course network (`conv · relu · maxpool`, twice).

use std::mem::MaybeUninit;
use std::sync::Mutex;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, DType, Device, Layout, Shape, Tensor};

use crate::buffer::{assume_init, assume_init_mut, dense, uninit_vec};
use crate::conv::{geometry, storage_of};
use crate::conv_backward::backward;
use crate::error::Error;
use crate::kernels::{bias_relu_rows, direct, gemm, im2col, slice, Element, Mat};
use crate::parallel::for_runs_mut2;
use crate::shape::{check_cpu, shape_error, Geometry, View4};

const OP: &str = "conv2d_relu_maxpool2d";

/// `max_pool2d(relu(conv2d(x, w, b, padding)))` as one op: the convolution as in
/// [`conv2d`](crate::conv2d), then ReLU and 2×2 max pooling with stride 2 (as in
/// [`max_pool2d`](crate::max_pool2d())), image by image while the convolution's output is in
/// cache.
///
/// The full-size convolution output is never stored: the forward pass keeps, per pooling
/// window, only where its gradient goes (the first maximum if it is positive, nowhere
/// otherwise), and the backward pass spreads the output gradient from there before computing
/// the convolution's gradients. Compared with the three ops in sequence this saves two
/// full-size tensors in the forward pass and, in the backward pass, the gradient bookkeeping
/// candle does for every intermediate tensor. The intermediate activations are not available
/// to callers (use the separate ops where they are needed, for example to record them).
///
/// The result equals `max_pool2d(&conv2d_relu(x, w, b, padding)?)`, values and gradients. The
/// output has shape `[N, O, OH / 2, OW / 2]` where `OH × OW` is the convolution's output size.
///
/// # Errors
///
/// As for [`conv2d`](crate::conv2d), and if the convolution's output is smaller than 2×2.
///
/// # Example
///
/// ```
/// use candle_core::{DType, Device, Tensor};
///
/// let dev = Device::Cpu;
/// let x = Tensor::new(&[[[[1f32, -2., 0.], [3., -4., 5.]]]], &dev)?;
/// // A 1×1 kernel with weight 1: the block is relu then max pooling.
/// let w = Tensor::ones((1, 1, 1, 1), DType::F32, &dev)?;
/// let y = convlens_ops::conv2d_relu_maxpool2d(&x, &w, None, 0)?;
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, [3.]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn conv2d_relu_maxpool2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    padding: usize,
) -> candle_core::Result<Tensor> {
    check_cpu(OP, x, w, b)?;
    let op = ConvReluPool {
        padding,
        codes: Mutex::new(None),
    };
    match b {
        Some(b) => x.apply_op3(w, b, op),
        None => x.apply_op2(w, op),
    }
}

/// The fused op. The forward pass leaves the gradient codes of its windows (`u32`, one per
/// output element: the window position 0..4, or `pool::NO_GRADIENT`) for the backward pass.
#[derive(Debug)]
struct ConvReluPool {
    padding: usize,
    codes: Mutex<Option<Tensor>>,
}

/// Pools one image of ReLU output (`planes` contiguous `h × w` planes) into `out`, with codes.
fn pool_image<T: Element>(
    conv: &[T],
    h: usize,
    w: usize,
    out: &mut [MaybeUninit<T>],
    codes: &mut [MaybeUninit<u32>],
) {
    let (ph, pw) = (h / 2, w / 2);
    let planes = conv
        .chunks_exact(h * w)
        .zip(out.chunks_exact_mut(ph * pw))
        .zip(codes.chunks_exact_mut(ph * pw));
    for ((plane, out), codes) in planes {
        let rows = plane
            .chunks_exact(2 * w)
            .zip(out.chunks_exact_mut(pw))
            .zip(codes.chunks_exact_mut(pw));
        for ((pair, out), codes) in rows {
            let (a, b) = pair.split_at(w);
            T::pool_row_codes(a, b, out, codes);
        }
    }
}

fn forward<T: Element>(
    g: &Geometry,
    x: &[T],
    xv: &View4,
    w: &[T],
    b: Option<&[T]>,
) -> (Vec<T>, Vec<u32>) {
    let (p, kdim) = (g.positions(), g.kdim());
    let per_image = g.o * (g.oh / 2) * (g.ow / 2);
    let mut out = uninit_vec::<T>(g.n * per_image);
    let mut codes = uninit_vec::<u32>(g.n * per_image);
    let work = g.work();
    for_runs_mut2(
        &mut out,
        per_image,
        &mut codes,
        per_image,
        g.n,
        work,
        |run, out, codes| {
            let direct = direct::applies(g);
            let mut cols = if direct {
                Vec::new()
            } else {
                vec![T::ZERO; kdim * p]
            };
            let mut scratch = Vec::new();
            let mut conv = uninit_vec::<T>(g.o * p);
            let images = run
                .zip(out.chunks_exact_mut(per_image))
                .zip(codes.chunks_exact_mut(per_image));
            for ((ni, out), codes) in images {
                if direct {
                    direct::pad_image(x, xv, ni, g, &mut scratch);
                    direct::forward_image(&scratch, g, w, b, &mut conv);
                } else {
                    im2col(x, xv, ni, g, &mut scratch, &mut cols);
                    // conv_n[O × P] = W[O × kdim] · cols[kdim × P]
                    gemm(
                        g.o,
                        p,
                        kdim,
                        &mut conv,
                        p,
                        1,
                        false,
                        Mat::new(w, kdim, 1),
                        Mat::new(&cols, p, 1),
                    );
                }
                // SAFETY: gemm or `forward_image` wrote all of `conv`.
                let conv = unsafe { assume_init_mut(&mut conv) };
                bias_relu_rows(conv, if direct { None } else { b }, p, true);
                pool_image(conv, g.oh, g.ow, out, codes);
            }
        },
    );
    // SAFETY: every run pooled all of its images: `pool_image` writes every output element and
    // every code.
    unsafe { (assume_init(out), assume_init(codes)) }
}

impl ConvReluPool {
    fn fwd(
        &self,
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        b: Option<(&CpuStorage, &Layout)>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (g, xv) = geometry(OP, self.padding, x, w, b)?;
        if g.oh < 2 || g.ow < 2 {
            return Err(shape_error(
                OP,
                format!(
                    "convolution output {}x{} (input {:?}) is smaller than the 2x2 pooling window",
                    g.oh, g.ow, xv.dims
                ),
            )
            .into());
        }
        fn run<T: Element>(
            g: &Geometry,
            xv: &View4,
            x: &CpuStorage,
            w: (&CpuStorage, &Layout),
            b: Option<(&CpuStorage, &Layout)>,
        ) -> candle_core::Result<(CpuStorage, Vec<u32>)> {
            let wd = dense(slice::<T>(w.0)?, w.1);
            let bd = match b {
                Some((bs, bl)) => Some(dense(slice::<T>(bs)?, bl)),
                None => None,
            };
            let (out, codes) = forward(g, slice::<T>(x)?, xv, &wd, bd.as_deref());
            Ok((storage_of(out), codes))
        }
        let (out, codes) = match x.0.dtype() {
            DType::F32 => run::<f32>(&g, &xv, x.0, w, b)?,
            _ => run::<f64>(&g, &xv, x.0, w, b)?,
        };
        let shape = Shape::from((g.n, g.o, g.oh / 2, g.ow / 2));
        let codes = Tensor::from_vec(codes, shape.clone(), &Device::Cpu)?;
        *self.codes.lock().map_err(|_| poisoned())? = Some(codes);
        Ok((out, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let codes = self
            .codes
            .lock()
            .map_err(|_| poisoned())?
            .clone()
            .ok_or_else(|| shape_error(OP, "backward pass before the forward pass".into()))?;
        backward(self.padding, x, w, b, grad, Some(&codes))
    }
}

fn poisoned() -> Error {
    shape_error(
        OP,
        "gradient codes unavailable: a previous pass panicked".into(),
    )
}

custom_op_with_optional_bias!(ConvReluPool);
