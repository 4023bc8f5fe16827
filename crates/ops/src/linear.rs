//! Fully connected layers (`x · Wᵀ + b`, optionally followed by ReLU) with gemm-based
//! gradients.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};

use crate::buffer::{as_uninit, assume_init, assume_init_mut, dense, uninit_vec};
use crate::conv::storage_of;
use crate::error::Error;
use crate::kernels::{bias_relu_cols, gemm, slice, Element, Mat};
use crate::parallel::{for_runs_mut, map_runs};
use crate::relu::relu_backward;
use crate::shape::{check_cpu, check_float, elements, product, same_dtype, shape_error, work};

const OP: &str = "linear";
const OP_BWD_PARAMS: &str = "linear-backward-params";
const OP_BWD_INPUT: &str = "linear-backward-input";

/// A fully connected layer, PyTorch's `nn.Linear`: `x · wᵀ + b`.
///
/// - `x`: input `[N, I]`;
/// - `w`: weight `[O, I]`;
/// - `b`: optional bias `[O]`;
/// - result: `[N, O]`.
///
/// All f32, or all f64, on the CPU, with any strides. Forward and gradients are single gemm
/// calls (split over the batch between candle's worker threads when large enough); the input
/// gets no gradient when it does not take part in autograd. Unlike candle's `matmul`, it does
/// not look up the thread count on every call (candle 0.11.1 reads `/proc/cpuinfo` each time
/// unless `RAYON_NUM_THREADS` is set).
///
/// # Errors
///
/// If a tensor is not on the CPU, not f32/f64 or of another dtype than `x`; if `x` or `w` is
/// not rank 2, their inner sizes differ, or `b` is not `[O]`;
/// [`Error::TooLarge`](crate::Error::TooLarge) if an operand or the output would exceed
/// [`MAX_ELEMENTS`](crate::MAX_ELEMENTS) elements.
///
/// # Example
///
/// ```
/// use candle_core::{Device, Tensor};
///
/// let dev = Device::Cpu;
/// let x = Tensor::new(&[[1f32, 2.], [3., 4.]], &dev)?;
/// let w = Tensor::new(&[[1f32, 0.], [1., -1.], [0., 2.]], &dev)?;
/// let b = Tensor::new(&[0f32, 10., 0.], &dev)?;
/// let y = convlens_ops::linear(&x, &w, Some(&b))?;
/// assert_eq!(y.to_vec2::<f32>()?, [[1., 9., 4.], [3., 9., 8.]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> candle_core::Result<Tensor> {
    apply(x, w, b, Linear { relu: false })
}

/// [`linear`] followed by ReLU, fused: `relu(x · wᵀ + b)` in one op, with the ReLU's gradient
/// mask applied once in the backward pass (zero where the output is not positive).
///
/// Arguments and errors as for [`linear`].
///
/// # Example
///
/// ```
/// use candle_core::{Device, Tensor};
///
/// let dev = Device::Cpu;
/// let x = Tensor::new(&[[1f32, 2.]], &dev)?;
/// let w = Tensor::new(&[[1f32, 0.], [1., -1.]], &dev)?;
/// let y = convlens_ops::linear_relu(&x, &w, None)?;
/// assert_eq!(y.to_vec2::<f32>()?, [[1., 0.]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn linear_relu(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> candle_core::Result<Tensor> {
    apply(x, w, b, Linear { relu: true })
}

fn apply(x: &Tensor, w: &Tensor, b: Option<&Tensor>, op: Linear) -> candle_core::Result<Tensor> {
    check_cpu(OP, x, w, b)?;
    match b {
        Some(b) => x.apply_op3(w, b, op),
        None => x.apply_op2(w, op),
    }
}

#[derive(Debug, Clone, Copy)]
struct Linear {
    relu: bool,
}

/// Weight and bias gradients from the input and the output gradient: a flat tensor with the
/// weight gradient (if `weight`) followed by the bias gradient (if `bias`).
#[derive(Debug, Clone, Copy)]
struct LinearBackwardParams {
    weight: bool,
    bias: bool,
}

/// The input gradient from the weight and the output gradient.
#[derive(Debug, Clone, Copy)]
struct LinearBackwardInput;

/// A rank-2 layout as (rows, cols, row stride, col stride, start).
#[derive(Debug, Clone, Copy)]
struct Matrix {
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
    start: usize,
}

impl Matrix {
    fn new(op: &'static str, arg: &'static str, layout: &Layout) -> Result<Self, Error> {
        match (layout.dims(), layout.stride()) {
            (&[rows, cols], &[rs, cs]) => Ok(Self {
                rows,
                cols,
                rs,
                cs,
                start: layout.start_offset(),
            }),
            (dims, _) => Err(Error::Rank {
                op,
                arg,
                expected: 2,
                shape: dims.to_vec(),
            }),
        }
    }

    /// The matrix inside `data`, or its transpose.
    fn mat<'a, T>(&self, data: &'a [T], transposed: bool) -> Mat<'a, T> {
        let data = &data[self.start.min(data.len())..];
        if transposed {
            Mat::new(data, self.cs, self.rs)
        } else {
            Mat::new(data, self.rs, self.cs)
        }
    }

    /// The rows `start..` of the matrix.
    fn rows_from<'a, T>(&self, data: &'a [T], start: usize) -> Mat<'a, T> {
        let offset = (self.start + start * self.rs).min(data.len());
        Mat::new(&data[offset..], self.rs, self.cs)
    }
}

fn forward<T: Element>(
    x: &[T],
    xm: &Matrix,
    w: &[T],
    wm: &Matrix,
    b: Option<&[T]>,
    relu: bool,
) -> Vec<T> {
    let (n, i, o) = (xm.rows, xm.cols, wm.rows);
    let mut out = uninit_vec::<T>(n * o);
    for_runs_mut(&mut out, o, n, work(&[n, o, i]), |run, dst| {
        // y[run × O] = x[run × I] · wᵀ[I × O]
        gemm(
            run.len(),
            o,
            i,
            dst,
            o,
            1,
            false,
            xm.rows_from(x, run.start),
            wm.mat(w, true),
        );
        if b.is_some() || relu {
            // SAFETY: gemm wrote all of `dst`.
            bias_relu_cols(unsafe { assume_init_mut(dst) }, b, o, relu);
        }
    });
    // SAFETY: every run's gemm wrote all of its rows.
    unsafe { assume_init(out) }
}

impl Linear {
    fn fwd(
        &self,
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        b: Option<(&CpuStorage, &Layout)>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        check_float(OP, "x", x.0.dtype())?;
        same_dtype(OP, "w", x.0.dtype(), w.0.dtype())?;
        let xm = Matrix::new(OP, "x", x.1)?;
        let wm = Matrix::new(OP, "w", w.1)?;
        if wm.cols != xm.cols {
            return Err(shape_error(
                OP,
                format!(
                    "weight {:?} expects {} input features, input {:?} has {}",
                    w.1.dims(),
                    wm.cols,
                    x.1.dims(),
                    xm.cols
                ),
            )
            .into());
        }
        if let Some((bs, bl)) = b {
            same_dtype(OP, "b", x.0.dtype(), bs.dtype())?;
            if bl.dims() != [wm.rows] {
                return Err(shape_error(
                    OP,
                    format!(
                        "bias must have shape [{}] for weight {:?}, got {:?}",
                        wm.rows,
                        w.1.dims(),
                        bl.dims()
                    ),
                )
                .into());
            }
        }
        check_product(OP, "output", (x.1, w.1), &[xm.rows, wm.rows])?;
        check_product(OP, "input", (x.1, w.1), &[xm.rows, xm.cols])?;
        check_product(OP, "weight", (x.1, w.1), &[wm.rows, wm.cols])?;
        fn run<T: Element>(
            x: (&CpuStorage, &Matrix),
            w: (&CpuStorage, &Matrix),
            b: Option<(&CpuStorage, &Layout)>,
            relu: bool,
        ) -> candle_core::Result<CpuStorage> {
            let bd = match b {
                Some((bs, bl)) => Some(dense(slice::<T>(bs)?, bl)),
                None => None,
            };
            Ok(storage_of(forward(
                slice::<T>(x.0)?,
                x.1,
                slice::<T>(w.0)?,
                w.1,
                bd.as_deref(),
                relu,
            )))
        }
        let out = match x.0.dtype() {
            DType::F32 => run::<f32>((x.0, &xm), (w.0, &wm), b, self.relu)?,
            _ => run::<f64>((x.0, &xm), (w.0, &wm), b, self.relu)?,
        };
        Ok((out, Shape::from((xm.rows, wm.rows))))
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
        let dx = if x.track_op() {
            Some(w.apply_op2_no_bwd(grad, &LinearBackwardInput)?)
        } else {
            None
        };
        let weight = w.track_op();
        let bias = b.is_some_and(Tensor::track_op);
        if !weight && !bias {
            return Ok((dx, None, None));
        }
        let (o, i) = w.dims2()?;
        let flat = x.apply_op2_no_bwd(grad, &LinearBackwardParams { weight, bias })?;
        let wlen = if weight { o * i } else { 0 };
        let dw = if weight {
            Some(flat.narrow(0, 0, wlen)?.reshape((o, i))?)
        } else {
            None
        };
        let db = if bias {
            Some(flat.narrow(0, wlen, o)?)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}

/// Checks that a matrix of `rows × cols` (derived from the two layouts) fits.
fn check_product(
    op: &'static str,
    what: &'static str,
    (a, b): (&Layout, &Layout),
    dims: &[usize],
) -> Result<(), Error> {
    match product(dims) {
        Some(_) => Ok(()),
        None => Err(Error::TooLarge {
            op,
            what,
            args: format!(
                "`x` of shape {:?} and `w` of shape {:?}",
                a.dims(),
                b.dims()
            ),
        }),
    }
}

/// Checks the output gradient `[N, O]` against the other operand's sizes.
fn grad_matrix(
    op: &'static str,
    dtype: DType,
    gs: &CpuStorage,
    gl: &Layout,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    same_dtype(op, "grad", dtype, gs.dtype())?;
    elements(op, "grad", gl.dims())?;
    if gl.dims() != [rows, cols] {
        return Err(shape_error(
            op,
            format!(
                "output gradient has shape {:?}, expected [{rows}, {cols}]",
                gl.dims()
            ),
        ));
    }
    Ok(())
}

fn params_backward<T: Element>(
    op: &LinearBackwardParams,
    x: &[T],
    xm: &Matrix,
    g: &[T],
    o: usize,
) -> Vec<T> {
    let (n, i) = (xm.rows, xm.cols);
    let wlen = if op.weight { o * i } else { 0 };
    let blen = if op.bias { o } else { 0 };
    let partials = map_runs(n, work(&[n, o, i]), |run| {
        let mut acc = vec![T::ZERO; wlen + blen];
        let (dw, db) = acc.split_at_mut(wlen);
        if op.bias {
            // Column sums of g[run × O]: row sums of its transpose, one output at a time.
            for row in g[run.start * o..run.end * o].chunks_exact(o.max(1)) {
                for (d, &v) in db.iter_mut().zip(row) {
                    *d += v;
                }
            }
        }
        if op.weight && !run.is_empty() {
            // SAFETY: `dw` is initialized (zeros); gemm only writes it.
            let dw = unsafe { as_uninit(dw) };
            // dW[O × I] = gᵀ[O × run] · x[run × I]
            gemm(
                o,
                i,
                run.len(),
                dw,
                i,
                1,
                false,
                Mat::new(&g[run.start * o..], 1, o),
                xm.rows_from(x, run.start),
            );
        }
        acc
    });
    let mut partials = partials.into_iter();
    let mut total = partials
        .next()
        .unwrap_or_else(|| vec![T::ZERO; wlen + blen]);
    for part in partials {
        for (t, v) in total.iter_mut().zip(part) {
            *t += v;
        }
    }
    total
}

fn input_backward<T: Element>(w: &[T], wm: &Matrix, g: &[T], n: usize) -> Vec<T> {
    let (o, i) = (wm.rows, wm.cols);
    let mut dx = uninit_vec::<T>(n * i);
    for_runs_mut(&mut dx, i, n, work(&[n, o, i]), |run, dst| {
        // dx[run × I] = g[run × O] · w[O × I]
        gemm(
            run.len(),
            i,
            o,
            dst,
            i,
            1,
            false,
            Mat::new(&g[run.start * o..], o, 1),
            wm.mat(w, false),
        );
    });
    // SAFETY: every run's gemm wrote all of its rows.
    unsafe { assume_init(dx) }
}

impl CustomOp2 for LinearBackwardParams {
    fn name(&self) -> &'static str {
        OP_BWD_PARAMS
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let op = OP_BWD_PARAMS;
        check_float(op, "x", xs.dtype())?;
        let xm = Matrix::new(op, "x", xl)?;
        elements(op, "x", xl.dims())?;
        let o = gl.dims().get(1).copied().unwrap_or(0);
        grad_matrix(op, xs.dtype(), gs, gl, xm.rows, o)?;
        // The weight gradient `o × i` and the bias gradient `o`: `o · (i + 1)` elements.
        check_product(op, "gradient", (xl, gl), &[o, xm.cols.saturating_add(1)])?;
        let out = match xs.dtype() {
            DType::F32 => storage_of(params_backward(
                self,
                slice::<f32>(xs)?,
                &xm,
                &dense(slice::<f32>(gs)?, gl),
                o,
            )),
            _ => storage_of(params_backward(
                self,
                slice::<f64>(xs)?,
                &xm,
                &dense(slice::<f64>(gs)?, gl),
                o,
            )),
        };
        let len = if self.weight { o * xm.cols } else { 0 } + if self.bias { o } else { 0 };
        Ok((out, Shape::from(len)))
    }
}

impl CustomOp2 for LinearBackwardInput {
    fn name(&self) -> &'static str {
        OP_BWD_INPUT
    }

    fn cpu_fwd(
        &self,
        ws: &CpuStorage,
        wl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let op = OP_BWD_INPUT;
        check_float(op, "w", ws.dtype())?;
        let wm = Matrix::new(op, "w", wl)?;
        elements(op, "w", wl.dims())?;
        let n = gl.dims().first().copied().unwrap_or(0);
        grad_matrix(op, ws.dtype(), gs, gl, n, wm.rows)?;
        check_product(op, "input gradient", (wl, gl), &[n, wm.cols])?;
        let out = match ws.dtype() {
            DType::F32 => storage_of(input_backward(
                slice::<f32>(ws)?,
                &wm,
                &dense(slice::<f32>(gs)?, gl),
                n,
            )),
            _ => storage_of(input_backward(
                slice::<f64>(ws)?,
                &wm,
                &dense(slice::<f64>(gs)?, gl),
                n,
            )),
        };
        Ok((out, Shape::from((n, wm.cols))))
    }
}

custom_op_with_optional_bias!(Linear);
