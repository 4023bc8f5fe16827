//! The backward pass of the convolution (plain, with ReLU, and as the fused block): input,
//! weight and bias gradients in one pass over the batch, image by image.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Storage, Tensor};

use crate::buffer::{as_uninit, assume_init, assume_init_mut, dense, uninit_vec};
use crate::conv::{dense_images, storage_of};
use crate::error::Error;
use crate::kernels::{add_row_sums, col2im, direct, gemm, im2col, slice, Element, Mat};
use crate::parallel::{join, map_runs_mut};
use crate::shape::{check_float, same_dtype, shape_error, work, Geometry, View4, MAX_ELEMENTS};

const OP: &str = "conv2d-backward";

/// The gradients of a convolution's input, weight and bias from its output gradient `grad`:
/// `None` for each argument that does not take part in autograd.
///
/// With `codes`, `grad` is the gradient of the pooled output of the fused block and `codes`
/// say, per pooling window, where it goes in the convolution's output (see
/// `pool::forward_row_codes`); the ReLU's mask is part of the codes.
pub(crate) fn backward(
    padding: usize,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    grad: &Tensor,
    codes: Option<&Tensor>,
) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
    let op = Conv2dBackward {
        padding,
        input: x.track_op(),
        weight: w.track_op(),
        bias: b.is_some_and(Tensor::track_op),
        codes: codes.cloned(),
    };
    if !op.input && !op.weight && !op.bias {
        return Ok((None, None, None));
    }
    let flat = x.apply_op3_no_bwd(w, grad, &op)?;
    let (xlen, wlen, o) = (x.elem_count(), w.elem_count(), w.dim(0)?);
    let mut at = 0;
    let mut take = |wanted: bool, len: usize| -> candle_core::Result<Option<Tensor>> {
        if !wanted {
            return Ok(None);
        }
        let part = flat.narrow(0, at, len)?;
        at += len;
        Ok(Some(part))
    };
    let dx = take(op.input, xlen)?
        .map(|t| t.reshape(x.shape()))
        .transpose()?;
    let dw = take(op.weight, wlen)?
        .map(|t| t.reshape(w.shape()))
        .transpose()?;
    let db = take(op.bias, o)?;
    Ok((dx, dw, db))
}

/// Computes `[dx | dw | db]` (each part only when wanted) as one flat tensor from the input,
/// the weight and the output gradient (or the pooled gradient and the block's codes).
#[derive(Debug, Clone)]
struct Conv2dBackward {
    padding: usize,
    input: bool,
    weight: bool,
    bias: bool,
    codes: Option<Tensor>,
}

/// Spreads one image's pooled gradient `g` (`O` planes of `oh/2 × ow/2`) to its convolution
/// output `dy` (`O` planes of `oh × ow`) by the window codes.
fn route_image<T: Element>(codes: &[u32], g: &[T], oh: usize, ow: usize, dy: &mut [T]) {
    let (ph, pw) = (oh / 2, ow / 2);
    let planes = dy
        .chunks_exact_mut(oh * ow)
        .zip(codes.chunks_exact(ph * pw))
        .zip(g.chunks_exact(ph * pw));
    for ((dplane, codes), g) in planes {
        let (pairs, rest) = dplane.split_at_mut(2 * ph * ow);
        let rows = pairs
            .chunks_exact_mut(2 * ow)
            .zip(codes.chunks_exact(pw))
            .zip(g.chunks_exact(pw));
        for ((rows, codes), g) in rows {
            let (d0, d1) = rows.split_at_mut(ow);
            // An odd last column is outside every window.
            d0[2 * pw..].fill(T::ZERO);
            d1[2 * pw..].fill(T::ZERO);
            // SAFETY: a MaybeUninit view of initialized memory, only written through.
            let (d0, d1) = unsafe { (as_uninit(d0), as_uninit(d1)) };
            T::route_rows(codes, g, d0, d1);
        }
        // An odd last row is outside every window.
        rest.fill(T::ZERO);
    }
}

/// Writes the transpose of the row-major `rows × cols` matrix `m` into `t` (`cols × rows`).
fn transpose<T: Copy>(m: &[T], rows: usize, cols: usize, t: &mut [T]) {
    for (r, row) in m[..rows * cols].chunks_exact(cols.max(1)).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
}

/// The per-run sums of the weight gradient (`O × kdim`, natural layout) and bias gradient.
struct Partial<T> {
    dw: Vec<T>,
    db: Vec<T>,
}

#[allow(clippy::too_many_arguments)] // the op's inputs, unpacked once by the caller
fn compute<T: Element>(
    op: &Conv2dBackward,
    g: &Geometry,
    x: &[T],
    xv: &View4,
    w: &[T],
    grad: &[T],
    codes: Option<&[u32]>,
) -> Vec<T> {
    let (p, kdim) = (g.positions(), g.kdim());
    let image = g.c * g.h * g.w;
    let per_image = g.o * p;
    let pooled = g.o * (g.oh / 2) * (g.ow / 2);
    let (xlen, wlen, blen) = (
        if op.input { g.n * image } else { 0 },
        if op.weight { g.o * kdim } else { 0 },
        if op.bias { g.o } else { 0 },
    );
    let mut out = uninit_vec::<T>(xlen + wlen + blen);
    let (dx, params) = out.split_at_mut(xlen);
    let per_dx = if op.input { image } else { 0 };
    let work = work(&[
        g.n,
        g.o,
        kdim,
        p,
        (usize::from(op.input) + usize::from(op.weight)).max(1),
    ]);
    if g.is_dense() {
        dense_backward(op, g, x, xv, w, grad, dx, params);
        // SAFETY: `dense_backward` wrote every part.
        return unsafe { assume_init(out) };
    }

    let partials = map_runs_mut(dx, per_dx, g.n, work, |run, dx| {
        let mut part = Partial {
            dw: vec![T::ZERO; wlen],
            db: vec![T::ZERO; blen],
        };
        if run.is_empty() {
            return part;
        }
        // Few channels: the weight gradient by the direct kernels, without im2col.
        let direct = op.weight && direct::applies(g);
        let mut cols = if op.weight && !direct {
            vec![T::ZERO; kdim * p]
        } else {
            Vec::new()
        };
        let mut lanes = if direct {
            vec![T::ZERO; direct::weight_grad_lanes(g)]
        } else {
            Vec::new()
        };
        let (mut xp, mut dyp) = (Vec::new(), Vec::new());
        let mut dcols = if op.input {
            vec![T::ZERO; kdim * p]
        } else {
            Vec::new()
        };
        let mut dwt = if op.weight && !direct {
            vec![T::ZERO; kdim * g.o]
        } else {
            Vec::new()
        };
        let mut dyt = if op.weight && !direct {
            vec![T::ZERO; per_image]
        } else {
            Vec::new()
        };
        let mut routed = if codes.is_some() {
            vec![T::ZERO; per_image]
        } else {
            Vec::new()
        };
        let mut scratch = Vec::new();
        for (i, ni) in run.clone().enumerate() {
            let dy: &[T] = match codes {
                Some(codes) => {
                    let at = ni * pooled..(ni + 1) * pooled;
                    route_image(&codes[at.clone()], &grad[at], g.oh, g.ow, &mut routed);
                    &routed
                }
                None => &grad[ni * per_image..(ni + 1) * per_image],
            };
            if op.bias {
                add_row_sums(dy, p, &mut part.db);
            }
            if direct {
                direct::pad_image(x, xv, ni, g, &mut xp);
                direct::pad_grad(dy, g, &mut dyp);
                direct::weight_grad_image(&xp, &dyp, g, &mut lanes);
            } else if op.weight {
                im2col(x, xv, ni, g, &mut scratch, &mut cols);
                // dWᵀ[kdim × O] += cols[kdim × P] · dY_nᵀ[P × O], with dY_nᵀ stored
                // transposed so that both operands are read along their rows.
                transpose(dy, g.o, p, &mut dyt);
                // SAFETY: `dwt` is initialized (zeros); gemm only writes it.
                let dwt = unsafe { as_uninit(&mut dwt) };
                gemm(
                    kdim,
                    g.o,
                    p,
                    dwt,
                    g.o,
                    1,
                    i > 0,
                    Mat::new(&cols, p, 1),
                    Mat::new(&dyt, g.o, 1),
                );
            }
            if op.input {
                // dcols[kdim × P] = Wᵀ[kdim × O] · dY_n[O × P], then back onto the image.
                // SAFETY: `dcols` is initialized (zeros); gemm only writes it.
                let d = unsafe { as_uninit(&mut dcols) };
                gemm(
                    kdim,
                    p,
                    g.o,
                    d,
                    p,
                    1,
                    false,
                    Mat::new(w, 1, kdim),
                    Mat::new(dy, p, 1),
                );
                let dst = &mut dx[(ni - run.start) * image..(ni - run.start + 1) * image];
                dst.fill(MaybeUninit::new(T::ZERO));
                // SAFETY: `dst` was just filled.
                col2im(&dcols, g, &mut scratch, unsafe { assume_init_mut(dst) });
            }
        }
        if direct {
            direct::finish_weight_grad(&lanes, &mut part.dw);
        } else if op.weight {
            for (q, row) in dwt.chunks_exact(g.o).enumerate() {
                for (oi, &v) in row.iter().enumerate() {
                    part.dw[oi * kdim + q] = v;
                }
            }
        }
        part
    });

    let (dw, db) = params.split_at_mut(wlen);
    let mut partials = partials.into_iter();
    if let Some(first) = partials.next() {
        for (d, v) in dw.iter_mut().zip(first.dw) {
            *d = MaybeUninit::new(v);
        }
        for (d, v) in db.iter_mut().zip(first.db) {
            *d = MaybeUninit::new(v);
        }
    }
    // SAFETY: the first run (there always is one) initialized `dw` and `db`.
    let (dw, db) = unsafe { (assume_init_mut(dw), assume_init_mut(db)) };
    for part in partials {
        for (t, v) in dw.iter_mut().zip(part.dw) {
            *t += v;
        }
        for (t, v) in db.iter_mut().zip(part.db) {
            *t += v;
        }
    }
    // SAFETY: `dx` was written image by image (dense: by gemm; else filled and accumulated),
    // `dw` and `db` just above.
    unsafe { assume_init(out) }
}

/// The backward pass when the kernel covers the input (one output position per image): the
/// batch is a matrix, each gradient one gemm over the whole batch, and the weight gradient
/// and the input gradient run on two threads side by side.
#[allow(clippy::too_many_arguments)] // the op's inputs, unpacked once by the caller
fn dense_backward<T: Element>(
    op: &Conv2dBackward,
    g: &Geometry,
    x: &[T],
    xv: &View4,
    w: &[T],
    dy: &[T],
    dx: &mut [MaybeUninit<T>],
    params: &mut [MaybeUninit<T>],
) {
    let kdim = g.kdim();
    let work = work(&[g.n, g.o, kdim]);
    let params_grad = move || {
        let (dw, db) = params.split_at_mut(if op.weight { g.o * kdim } else { 0 });
        if op.bias {
            let mut sums = vec![T::ZERO; g.o];
            for row in dy.chunks_exact(g.o) {
                for (d, &v) in sums.iter_mut().zip(row) {
                    *d += v;
                }
            }
            for (d, v) in db.iter_mut().zip(sums) {
                *d = MaybeUninit::new(v);
            }
        }
        if op.weight {
            let (xs, rs) = dense_images(x, xv, g);
            // dW[O × kdim] = dYᵀ[O × N] · X[N × kdim]
            gemm(
                g.o,
                kdim,
                g.n,
                dw,
                kdim,
                1,
                false,
                Mat::new(dy, 1, g.o),
                Mat::new(&xs, rs, 1),
            );
        }
    };
    let input_grad = move || {
        if op.input {
            // dX[N × kdim] = dY[N × O] · W[O × kdim]
            gemm(
                g.n,
                kdim,
                g.o,
                dx,
                kdim,
                1,
                false,
                Mat::new(dy, g.o, 1),
                Mat::new(w, kdim, 1),
            );
        }
    };
    join(work, params_grad, input_grad);
}

impl CustomOp3 for Conv2dBackward {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        check_float(OP, "x", xs.dtype())?;
        same_dtype(OP, "w", xs.dtype(), ws.dtype())?;
        same_dtype(OP, "grad", xs.dtype(), gs.dtype())?;
        let xv = View4::new(OP, "x", xl)?;
        let n = xv.dims[0];
        let (o, k) = match wl.dims() {
            &[o, wc, k, k2] if wc == xv.dims[1] && k == k2 => (o, k),
            dims => {
                return Err(shape_error(
                    OP,
                    format!("weight {dims:?} does not fit input {:?}", xv.dims),
                )
                .into())
            }
        };
        if k == 0 {
            return Err(
                shape_error(OP, format!("weight {:?} has an empty kernel", wl.dims())).into(),
            );
        }
        let g = Geometry::new(OP, xv.dims, o, k, self.padding)?;
        let expected = match self.codes {
            Some(_) => [n, o, g.oh / 2, g.ow / 2],
            None => [n, o, g.oh, g.ow],
        };
        if gl.dims() != expected {
            return Err(shape_error(
                OP,
                format!(
                    "output gradient has shape {:?}, expected {expected:?}",
                    gl.dims()
                ),
            )
            .into());
        }
        let guard = self.codes.as_ref().map(Tensor::storage_and_layout);
        let codes: Option<Cow<'_, [u32]>> = match &guard {
            Some((storage, layout)) => match &**storage {
                Storage::Cpu(cs) if layout.dims() == expected => {
                    Some(dense(cs.as_slice::<u32>()?, layout))
                }
                _ => {
                    return Err(shape_error(
                        OP,
                        format!(
                            "gradient codes {:?} do not match {expected:?}",
                            layout.dims()
                        ),
                    )
                    .into())
                }
            },
            None => None,
        };
        // Each part fits (checked by `Geometry::new`); their sum is checked here.
        let len = [
            usize::from(self.input) * n * g.c * g.h * g.w,
            usize::from(self.weight) * o * g.kdim(),
            usize::from(self.bias) * o,
        ]
        .into_iter()
        .try_fold(0usize, usize::checked_add)
        .filter(|&len| len <= MAX_ELEMENTS)
        .ok_or_else(|| Error::TooLarge {
            op: OP,
            what: "gradient",
            args: format!(
                "`x` of shape {:?} and `w` of shape {:?}",
                xv.dims,
                wl.dims()
            ),
        })?;
        let out = match xs.dtype() {
            DType::F32 => storage_of(compute(
                self,
                &g,
                slice::<f32>(xs)?,
                &xv,
                &dense(slice::<f32>(ws)?, wl),
                &dense(slice::<f32>(gs)?, gl),
                codes.as_deref(),
            )),
            _ => storage_of(compute(
                self,
                &g,
                slice::<f64>(xs)?,
                &xv,
                &dense(slice::<f64>(ws)?, wl),
                &dense(slice::<f64>(gs)?, gl),
                codes.as_deref(),
            )),
        };
        Ok((out, Shape::from(len)))
    }
}
