//! Direct convolution for layers with few channels (the course's first layer: one input, three
//! output channels), where im2col + gemm spends more time building and packing matrices than
//! multiplying them: the kernels read a padded copy of the image and work on eight output
//! columns at a time in registers.

use std::mem::MaybeUninit;

use crate::element::Element;
use crate::kernels::Geometry;
use crate::layout4::View4;
use crate::simd::multiversion;

/// Output columns computed together (one AVX2 register of f32).
const LANES: usize = 8;

/// The first [`LANES`] elements of `s` as an array, so that the compiler works on whole
/// vectors.
///
/// # Panics
///
/// If `s` is shorter (the callers size their buffers so that it never is).
#[inline(always)]
fn lanes<T: Element>(s: &[T]) -> &[T; LANES] {
    s[..LANES].try_into().expect("a slice of LANES elements")
}

/// Whether the direct kernels handle this convolution (few input × output channels, so the
/// inner products are short and gemm's overhead dominates).
pub(crate) fn applies(g: &Geometry) -> bool {
    g.c * g.o <= 8 && !g.is_dense()
}

/// Output columns rounded up to whole groups of [`LANES`].
fn padded_ow(g: &Geometry) -> usize {
    g.ow.div_ceil(LANES) * LANES
}

/// Row length of the padded image: every group of output columns can read its whole window.
pub(crate) fn padded_row(g: &Geometry) -> usize {
    padded_ow(g) + g.k - 1
}

/// Copies image `ni` of `x` into `buf` with its zero padding, `c` planes of `(h + 2·pad)` rows
/// of [`padded_row`] (extra columns on the right are zero too).
pub(crate) fn pad_image<T: Element>(
    x: &[T],
    xv: &View4,
    ni: usize,
    g: &Geometry,
    buf: &mut Vec<T>,
) {
    let (hp, wp) = (g.h + 2 * g.pad, padded_row(g));
    let [_, _, sh, sw] = xv.strides;
    buf.clear();
    buf.resize(g.c * hp * wp, T::ZERO);
    for (ci, plane) in buf.chunks_exact_mut(hp * wp).enumerate() {
        let src = xv.plane(ni, ci);
        for (iy, row) in plane.chunks_exact_mut(wp).skip(g.pad).take(g.h).enumerate() {
            for (j, d) in row[g.pad..g.pad + g.w].iter_mut().enumerate() {
                *d = x[src + iy * sh + j * sw];
            }
        }
    }
}

/// One image's convolution from its padded copy `xp` (see [`pad_image`]) into `out` (`O`
/// planes of `oh × ow`): `out = w ∗ x + b`.
pub(crate) fn forward_image<T: Element>(
    xp: &[T],
    g: &Geometry,
    w: &[T],
    b: Option<&[T]>,
    out: &mut [MaybeUninit<T>],
) {
    T::direct_forward_image(xp, padded_row(g), g, w, b, out)
}

multiversion! {
/// The portable [`forward_image`].
pub(crate) fn forward_image_portable<T: Element>(
    xp: &[T],
    g: &Geometry,
    w: &[T],
    b: Option<&[T]>,
    out: &mut [MaybeUninit<T>],
) {
    let (hp, wp) = (g.h + 2 * g.pad, padded_row(g));
    let kk = g.k * g.k;
    for (oi, plane) in out.chunks_exact_mut(g.oh * g.ow).enumerate() {
        let bias = b.map_or(T::ZERO, |b| b[oi]);
        let wo = &w[oi * g.c * kk..(oi + 1) * g.c * kk];
        for (oy, row) in plane.chunks_exact_mut(g.ow).enumerate() {
            for x0 in (0..g.ow).step_by(LANES) {
                let mut acc = [bias; LANES];
                for ci in 0..g.c {
                    for ky in 0..g.k {
                        let src = &xp[ci * hp * wp + (oy + ky) * wp + x0..][..LANES + g.k - 1];
                        for kx in 0..g.k {
                            let wv = wo[(ci * g.k + ky) * g.k + kx];
                            let s = lanes(&src[kx..]);
                            for l in 0..LANES {
                                acc[l] += wv * s[l];
                            }
                        }
                    }
                }
                for (d, &a) in row[x0..].iter_mut().zip(&acc) {
                    *d = MaybeUninit::new(a);
                }
            }
        }
    }
}
}

/// Copies one image's output gradient (`O` planes of `oh × ow`) into `buf` with rows padded by
/// zeros to whole groups of [`LANES`].
pub(crate) fn pad_grad<T: Element>(dy: &[T], g: &Geometry, buf: &mut Vec<T>) {
    let owp = padded_ow(g);
    buf.clear();
    buf.resize(g.o * g.oh * owp, T::ZERO);
    for (dst, src) in buf.chunks_exact_mut(owp).zip(dy.chunks_exact(g.ow)) {
        dst[..g.ow].copy_from_slice(src);
    }
}

/// Adds one image's weight gradient to `dw` (`O × C × K × K`, lane-wise partial sums: `LANES`
/// values per weight, summed by [`finish_weight_grad`]), from the padded image `xp` and the
/// padded output gradient `dyp` (see [`pad_image`], [`pad_grad`]).
pub(crate) fn weight_grad_image<T: Element>(xp: &[T], dyp: &[T], g: &Geometry, dw: &mut [T]) {
    T::direct_weight_grad_image(xp, padded_row(g), dyp, g, dw)
}

multiversion! {
/// The portable [`weight_grad_image`].
pub(crate) fn weight_grad_image_portable<T: Element>(xp: &[T], dyp: &[T], g: &Geometry, dw: &mut [T]) {
    let (hp, wp, owp) = (g.h + 2 * g.pad, padded_row(g), padded_ow(g));
    let mut accs = dw.chunks_exact_mut(LANES);
    for oi in 0..g.o {
        let dplane = &dyp[oi * g.oh * owp..(oi + 1) * g.oh * owp];
        for ci in 0..g.c {
            for ky in 0..g.k {
                for kx in 0..g.k {
                    let Some(acc) = accs.next() else { return };
                    let mut sum = [T::ZERO; LANES];
                    for oy in 0..g.oh {
                        let drow = &dplane[oy * owp..(oy + 1) * owp];
                        let xrow = &xp[ci * hp * wp + (oy + ky) * wp + kx..][..owp];
                        for x0 in (0..owp).step_by(LANES) {
                            let (d, x) = (lanes(&drow[x0..]), lanes(&xrow[x0..]));
                            for l in 0..LANES {
                                sum[l] += d[l] * x[l];
                            }
                        }
                    }
                    for (a, s) in acc.iter_mut().zip(sum) {
                        *a += s;
                    }
                }
            }
        }
    }
}
}

/// Sums the lane-wise partial sums of [`weight_grad_image`] into one value per weight.
pub(crate) fn finish_weight_grad<T: Element>(lanes: &[T], dw: &mut [T]) {
    for (d, l) in dw.iter_mut().zip(lanes.chunks_exact(LANES)) {
        *d = l.iter().fold(T::ZERO, |s, &v| s + v);
    }
}

/// Length of the lane-wise weight-gradient buffer of [`weight_grad_image`].
pub(crate) fn weight_grad_lanes(g: &Geometry) -> usize {
    g.o * g.kdim() * LANES
}
