//! 2-D convolution (stride 1, square kernel, zero padding) as im2col + gemm, with gemm-based
//! gradients.

use std::borrow::Cow;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, DType, Layout, Shape, Tensor};

use crate::buffer::{assume_init, assume_init_mut, dense, uninit_vec};
use crate::conv_backward::backward;
use crate::error::Error;
use crate::kernels::{bias_relu_cols, bias_relu_rows, direct, gemm, im2col, slice, Element, Mat};
use crate::parallel::for_runs_mut;
use crate::relu::relu_backward;
use crate::shape::{check_cpu, check_float, same_dtype, shape_error, Geometry, View4};

const OP: &str = "conv2d";

/// 2-D convolution with stride 1, a square kernel and zero padding (PyTorch's
/// `Conv2d(c, o, k, padding=padding)`), computed as im2col + gemm, with gradients.
///
/// - `x`: input `[N, C, H, W]`;
/// - `w`: weight `[O, C, K, K]`;
/// - `b`: optional bias `[O]`;
/// - result: `[N, O, H + 2·padding − K + 1, W + 2·padding − K + 1]`.
///
/// All tensors must be f32, or all f64, on the CPU; any strides are accepted. The batch is split
/// between rayon's threads when it is large enough to pay for it.
///
/// The backward pass computes the weight gradient and the input gradient as gemms and the bias
/// gradient as a sum. An input that does not take part in autograd (neither a variable nor the
/// result of a tracked op, such as the image fed to the first layer) gets no gradient, and none
/// is computed.
///
/// # Errors
///
/// If a tensor is not on the CPU, not f32/f64 or of another dtype than `x`; if `x` or `w` is
/// not rank 4, the kernel is not square, `w`'s channels differ from `x`'s, `b` is not `[O]`,
/// or the padded input is smaller than the kernel; [`Error::TooLarge`](crate::Error::TooLarge)
/// if the output, a gradient or a work buffer would exceed
/// [`MAX_ELEMENTS`](crate::MAX_ELEMENTS) elements (a huge `padding`, say).
///
/// # Example
///
/// ```
/// use candle_core::{Device, Tensor};
///
/// let dev = Device::Cpu;
/// let x = Tensor::arange(0f32, 16., &dev)?.reshape((1, 1, 4, 4))?;
/// let w = Tensor::ones((2, 1, 3, 3), candle_core::DType::F32, &dev)?;
/// let b = Tensor::new(&[0f32, 100.], &dev)?;
/// let y = convlens_ops::conv2d(&x, &w, Some(&b), 1)?;
/// assert_eq!(y.dims(), [1, 2, 4, 4]);
/// // Top-left output: the 2×2 corner 0 + 1 + 4 + 5, the rest is padding.
/// assert_eq!(y.get(0)?.get(0)?.get(0)?.get(0)?.to_scalar::<f32>()?, 10.);
/// assert_eq!(y.get(0)?.get(1)?.get(0)?.get(0)?.to_scalar::<f32>()?, 110.);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    padding: usize,
) -> candle_core::Result<Tensor> {
    apply(
        x,
        w,
        b,
        Conv2d {
            padding,
            relu: false,
        },
    )
}

/// [`conv2d`] followed by ReLU, fused: `relu(conv2d(x, w, b, padding))` in one op.
///
/// The ReLU is applied to each image's output while it is still in cache, and the backward pass
/// masks the output gradient once (where the output is positive, as in PyTorch) before the
/// convolution's own gradients. Compared with [`conv2d`] followed by [`relu`](crate::relu()),
/// this saves one full-size output tensor in the forward pass and one node of the autograd
/// graph, with its gradient bookkeeping, in the backward pass. The ReLU's input (the
/// convolution's output before the ReLU) is not available to callers.
///
/// Arguments, errors and threading as for [`conv2d`].
///
/// # Example
///
/// ```
/// use candle_core::{DType, Device, Tensor};
///
/// let dev = Device::Cpu;
/// let x = Tensor::new(&[[[[1f32, -2.], [3., -4.]]]], &dev)?;
/// let w = Tensor::ones((1, 1, 1, 1), DType::F32, &dev)?;
/// let y = convlens_ops::conv2d_relu(&x, &w, None, 0)?;
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, [1., 0., 3., 0.]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn conv2d_relu(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    padding: usize,
) -> candle_core::Result<Tensor> {
    apply(
        x,
        w,
        b,
        Conv2d {
            padding,
            relu: true,
        },
    )
}

/// The most input × output channel pairs a convolution may have for the direct kernels
/// ([`ConvPath::Direct`]); above it, short inner products no longer dominate and im2col + a
/// matrix product is faster.
pub const DIRECT_MAX_CHANNEL_PAIRS: usize = 8;

/// Which kernels [`conv2d`], [`conv2d_relu`] and
/// [`conv2d_relu_maxpool2d`](crate::conv2d_relu_maxpool2d) run for a convolution, forward and
/// backward, as reported by [`conv2d_path`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConvPath {
    /// Direct convolution kernels, for layers with at most [`DIRECT_MAX_CHANNEL_PAIRS`]
    /// input × output channels (the course network's first layer on one-channel images).
    Direct,
    /// im2col and a matrix product, image by image.
    Im2col,
    /// A kernel covering the whole unpadded input (a 1×1 output): one matrix product over the
    /// batch, no im2col, in [`conv2d`] and [`conv2d_relu`] (the course network's third layer
    /// on 28×28 images).
    Dense,
}

impl ConvPath {
    /// `"direct"`, `"im2col + gemm"` or `"dense gemm"`.
    pub const fn name(self) -> &'static str {
        match self {
            ConvPath::Direct => "direct",
            ConvPath::Im2col => "im2col + gemm",
            ConvPath::Dense => "dense gemm",
        }
    }
}

impl std::fmt::Display for ConvPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The kernels the convolution ops run for an input of `channels × height × width` (any batch
/// size), `out_channels` square `kernel × kernel` filters and `padding`: the same choice the
/// ops make, for callers that want to report it (a benchmark on a new input shape, say).
///
/// # Errors
///
/// As the ops: a shape error if the padded input is smaller than the kernel or a size is zero,
/// [`Error::TooLarge`] if a buffer would exceed [`MAX_ELEMENTS`](crate::MAX_ELEMENTS).
///
/// # Example
///
/// ```
/// use convlens_ops::{conv2d_path, ConvPath};
///
/// // The course network's first layer: direct on MNIST, im2col on RGB (3 × 3 channel pairs).
/// assert_eq!(conv2d_path([1, 28, 28], 3, 3, 3)?, ConvPath::Direct);
/// assert_eq!(conv2d_path([3, 32, 32], 3, 3, 3)?, ConvPath::Im2col);
/// // Its third layer: dense on 28×28 images (a 6×6 map), im2col on 32×32 ones (7×7).
/// assert_eq!(conv2d_path([16, 6, 6], 110, 6, 0)?, ConvPath::Dense);
/// assert_eq!(conv2d_path([16, 7, 7], 110, 6, 0)?, ConvPath::Im2col);
/// # Ok::<(), convlens_ops::Error>(())
/// ```
pub fn conv2d_path(
    [channels, height, width]: [usize; 3],
    out_channels: usize,
    kernel: usize,
    padding: usize,
) -> Result<ConvPath, Error> {
    if channels == 0 || out_channels == 0 || kernel == 0 {
        return Err(shape_error(
            OP,
            format!(
                "{channels} input channels, {out_channels} output channels and a {kernel}x{kernel} \
                 kernel: none may be zero"
            ),
        ));
    }
    let g = Geometry::new(
        OP,
        [1, channels, height, width],
        out_channels,
        kernel,
        padding,
    )?;
    Ok(if g.is_dense() {
        ConvPath::Dense
    } else if direct::applies(&g) {
        ConvPath::Direct
    } else {
        ConvPath::Im2col
    })
}

fn apply(x: &Tensor, w: &Tensor, b: Option<&Tensor>, op: Conv2d) -> candle_core::Result<Tensor> {
    check_cpu(OP, x, w, b)?;
    match b {
        Some(b) => x.apply_op3(w, b, op),
        None => x.apply_op2(w, op),
    }
}

/// The convolution op, with or without bias (as a `CustomOp3` or a `CustomOp2`), optionally
/// followed by ReLU.
#[derive(Debug, Clone, Copy)]
struct Conv2d {
    padding: usize,
    relu: bool,
}

/// Checks the forward arguments and derives the sizes.
pub(crate) fn geometry(
    op: &'static str,
    padding: usize,
    x: (&CpuStorage, &Layout),
    w: (&CpuStorage, &Layout),
    b: Option<(&CpuStorage, &Layout)>,
) -> Result<(Geometry, View4), Error> {
    check_float(op, "x", x.0.dtype())?;
    same_dtype(op, "w", x.0.dtype(), w.0.dtype())?;
    let xv = View4::new(op, "x", x.1)?;
    let c = xv.dims[1];
    let [o, wc, k, k2] = match w.1.dims() {
        &[o, wc, k, k2] => [o, wc, k, k2],
        dims => {
            return Err(Error::Rank {
                op,
                arg: "w",
                expected: 4,
                shape: dims.to_vec(),
            })
        }
    };
    if k != k2 || k == 0 {
        return Err(shape_error(
            op,
            format!(
                "kernel must be square and non-empty, got weight shape {:?}",
                w.1.dims()
            ),
        ));
    }
    if o == 0 || c == 0 {
        return Err(shape_error(
            op,
            format!("weight {:?} has no output or no input channels", w.1.dims()),
        ));
    }
    if wc != c {
        return Err(shape_error(
            op,
            format!(
                "weight {:?} expects {wc} input channels, input {:?} has {c}",
                w.1.dims(),
                xv.dims
            ),
        ));
    }
    if let Some((bs, bl)) = b {
        same_dtype(op, "b", x.0.dtype(), bs.dtype())?;
        if bl.dims() != [o] {
            return Err(shape_error(
                op,
                format!(
                    "bias must have shape [{o}] for weight {:?}, got {:?}",
                    w.1.dims(),
                    bl.dims()
                ),
            ));
        }
    }
    let g = Geometry::new(op, xv.dims, o, k, padding)?;
    Ok((g, xv))
}

/// Whether each image of `xv` is one contiguous run of `c·h·w` elements (so the batch is an
/// `N × (c·h·w)` matrix with row stride `strides[0]`).
fn images_are_dense(xv: &View4) -> bool {
    let [_, c, h, w] = xv.dims;
    let [_, sc, sh, sw] = xv.strides;
    (sw == 1 || w == 1) && (sh == w || h == 1) && (sc == h * w || c == 1)
}

fn forward<T: Element>(
    g: &Geometry,
    x: &[T],
    xv: &View4,
    w: &[T],
    b: Option<&[T]>,
    relu: bool,
) -> Vec<T> {
    let (p, kdim) = (g.positions(), g.kdim());
    let per_image = g.o * p;
    let mut out = uninit_vec::<T>(g.n * per_image);
    let work = g.work();
    let epilogue = b.is_some() || relu;
    if g.is_dense() {
        // out[N × O] = X[N × kdim] · Wᵀ[kdim × O], straight from the input.
        let (xs, row_stride) = dense_images(x, xv, g);
        for_runs_mut(&mut out, g.o, g.n, work, |run, dst| {
            gemm(
                run.len(),
                g.o,
                kdim,
                dst,
                g.o,
                1,
                false,
                Mat::new(&xs[run.start * row_stride..], row_stride, 1),
                Mat::new(w, 1, kdim),
            );
            if epilogue {
                // SAFETY: gemm wrote all of `dst`.
                bias_relu_cols(unsafe { assume_init_mut(dst) }, b, g.o, relu);
            }
        });
    } else {
        let direct = direct::applies(g);
        for_runs_mut(&mut out, per_image, g.n, work, |run, dst| {
            let mut cols = if direct {
                Vec::new()
            } else {
                vec![T::ZERO; kdim * p]
            };
            let mut scratch = Vec::new();
            for (ni, dst) in run.zip(dst.chunks_exact_mut(per_image)) {
                if direct {
                    direct::pad_image(x, xv, ni, g, &mut scratch);
                    direct::forward_image(&scratch, g, w, b, dst);
                    if relu {
                        // SAFETY: `forward_image` wrote all of `dst`.
                        bias_relu_rows(unsafe { assume_init_mut(dst) }, None, p, relu);
                    }
                    continue;
                }
                im2col(x, xv, ni, g, &mut scratch, &mut cols);
                // out_n[O × P] = W[O × kdim] · cols[kdim × P]
                gemm(
                    g.o,
                    p,
                    kdim,
                    dst,
                    p,
                    1,
                    false,
                    Mat::new(w, kdim, 1),
                    Mat::new(&cols, p, 1),
                );
                if epilogue {
                    // SAFETY: gemm wrote all of `dst`.
                    bias_relu_rows(unsafe { assume_init_mut(dst) }, b, p, relu);
                }
            }
        });
    }
    // SAFETY: every run wrote all of its images: gemm writes every element of its `dst`.
    unsafe { assume_init(out) }
}

/// The batch as an `N × kdim` matrix for the dense path (kernel covering the whole input):
/// borrowed with the input's image stride when each image is contiguous, gathered otherwise.
pub(crate) fn dense_images<'a, T: Element>(
    x: &'a [T],
    xv: &View4,
    g: &Geometry,
) -> (Cow<'a, [T]>, usize) {
    let kdim = g.kdim();
    if g.n == 0 {
        return (Cow::Owned(Vec::new()), kdim);
    }
    if images_are_dense(xv) {
        let end = xv.start + (g.n - 1) * xv.strides[0] + kdim;
        return (Cow::Borrowed(&x[xv.start..end]), xv.strides[0]);
    }
    let mut gathered = vec![T::ZERO; g.n * kdim];
    let mut scratch = Vec::new();
    for (ni, image) in gathered.chunks_exact_mut(kdim).enumerate() {
        // With the kernel covering the input, im2col is the flattened image.
        im2col(x, xv, ni, g, &mut scratch, image);
    }
    (Cow::Owned(gathered), kdim)
}

pub(crate) fn storage_of<T: Element>(v: Vec<T>) -> CpuStorage {
    T::to_cpu_storage_owned(v)
}

impl Conv2d {
    fn fwd(
        &self,
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        b: Option<(&CpuStorage, &Layout)>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (g, xv) = geometry(OP, self.padding, x, w, b)?;
        fn run<T: Element>(
            g: &Geometry,
            xv: &View4,
            x: &CpuStorage,
            w: (&CpuStorage, &Layout),
            b: Option<(&CpuStorage, &Layout)>,
            relu: bool,
        ) -> candle_core::Result<CpuStorage> {
            let wd = dense(slice::<T>(w.0)?, w.1);
            let bd = match b {
                Some((bs, bl)) => Some(dense(slice::<T>(bs)?, bl)),
                None => None,
            };
            Ok(storage_of(forward(
                g,
                slice::<T>(x)?,
                xv,
                &wd,
                bd.as_deref(),
                relu,
            )))
        }
        let out = match x.0.dtype() {
            DType::F32 => run::<f32>(&g, &xv, x.0, w, b, self.relu)?,
            _ => run::<f64>(&g, &xv, x.0, w, b, self.relu)?,
        };
        Ok((out, Shape::from((g.n, g.o, g.oh, g.ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let masked;
        let grad = if self.relu {
            masked = relu_backward(res, grad)?;
            &masked
        } else {
            grad
        };
        backward(self.padding, x, w, b, grad, None)
    }
}

custom_op_with_optional_bias!(Conv2d);
