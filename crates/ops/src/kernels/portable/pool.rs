//! The portable 2×2 max-pooling kernels: one output row from two input rows, branch-free, and
//! the loops over the planes of a tensor.

use std::mem::MaybeUninit;

use crate::buffer::{assume_init, uninit_vec};
use crate::kernels::{multiversion, Element};
use crate::shape::View4;

/// Whether a later window element `v` replaces the running maximum `best`, as in PyTorch's CPU
/// kernel: only if it is strictly greater or NaN (so ties keep the first maximum).
#[inline(always)]
fn replaces<T: Element>(v: T, best: T) -> bool {
    // `|`, not `||`: both sides are cheap, and a short-circuit would be a branch.
    (v > best) | v.is_nan()
}

/// The maximum of a window under [`replaces`] (NaN if any element is NaN).
#[inline(always)]
fn max4<T: Element>(v0: T, v1: T, v2: T, v3: T) -> T {
    let m = if replaces(v1, v0) { v1 } else { v0 };
    let m = if replaces(v2, m) { v2 } else { m };
    if replaces(v3, m) {
        v3
    } else {
        m
    }
}

/// Pools one output row from the contiguous input rows `a` and `b`.
///
/// Written as straight-line selects over slices of known length so that the compiler
/// vectorizes it: on real data each comparison's outcome is unpredictable, and branches would
/// dominate the kernel.
#[inline(always)]
pub(crate) fn forward_row<T: Element>(a: &[T], b: &[T], out: &mut [MaybeUninit<T>]) {
    let ow = out.len();
    let (a, b) = (&a[..2 * ow], &b[..2 * ow]);
    for j in 0..ow {
        out[j] = MaybeUninit::new(max4(a[2 * j], a[2 * j + 1], b[2 * j], b[2 * j + 1]));
    }
}

/// Code of a window whose maximum is not positive: after a ReLU, no element of it gets
/// gradient.
pub(crate) const NO_GRADIENT: u32 = 4;

/// Pools one output row like [`forward_row`] and records for each window where its gradient
/// goes: the position (0..4, row-major) of its first maximum if that maximum is positive, else
/// [`NO_GRADIENT`]. Used after a ReLU, whose gradient is zero where its output is not positive.
#[inline(always)]
pub(crate) fn forward_row_codes<T: Element>(
    a: &[T],
    b: &[T],
    out: &mut [MaybeUninit<T>],
    codes: &mut [MaybeUninit<u32>],
) {
    let ow = out.len();
    let (a, b, codes) = (&a[..2 * ow], &b[..2 * ow], &mut codes[..ow]);
    for j in 0..ow {
        let (v0, v1, v2, v3) = (a[2 * j], a[2 * j + 1], b[2 * j], b[2 * j + 1]);
        let t1 = replaces(v1, v0);
        let m = if t1 { v1 } else { v0 };
        let t2 = replaces(v2, m);
        let m = if t2 { v2 } else { m };
        let t3 = replaces(v3, m);
        let m = if t3 { v3 } else { m };
        let k = if t3 {
            3
        } else if t2 {
            2
        } else {
            u32::from(t1)
        };
        out[j] = MaybeUninit::new(m);
        codes[j] = MaybeUninit::new(if m > T::ZERO { k } else { NO_GRADIENT });
    }
}

/// Writes one pair of gradient rows from window codes (see [`forward_row_codes`]): `g[j]` at
/// the recorded position of window `j`, zero elsewhere.
#[inline(always)]
pub(crate) fn route_rows<T: Element>(
    codes: &[u32],
    g: &[T],
    d0: &mut [MaybeUninit<T>],
    d1: &mut [MaybeUninit<T>],
) {
    let ow = g.len();
    let codes = &codes[..ow];
    let (d0, d1) = (&mut d0[..2 * ow], &mut d1[..2 * ow]);
    let pick = |take: bool, g: T| MaybeUninit::new(if take { g } else { T::ZERO });
    for j in 0..ow {
        let (k, gj) = (codes[j], g[j]);
        d0[2 * j] = pick(k == 0, gj);
        d0[2 * j + 1] = pick(k == 1, gj);
        d1[2 * j] = pick(k == 2, gj);
        d1[2 * j + 1] = pick(k == 3, gj);
    }
}

/// Writes the input gradient of one pair of contiguous input rows `a`, `b`: each window's
/// output gradient `g[j]` goes to its argmax (the first maximum, see [`replaces`]), the other
/// three positions get zero. Branch-free for the same reason as [`forward_row`].
#[inline(always)]
pub(crate) fn backward_rows<T: Element>(
    a: &[T],
    b: &[T],
    g: &[T],
    d0: &mut [MaybeUninit<T>],
    d1: &mut [MaybeUninit<T>],
) {
    let ow = g.len();
    let (a, b) = (&a[..2 * ow], &b[..2 * ow]);
    let (d0, d1) = (&mut d0[..2 * ow], &mut d1[..2 * ow]);
    let pick = |take: bool, g: T| MaybeUninit::new(if take { g } else { T::ZERO });
    for j in 0..ow {
        let (v0, v1, v2, v3) = (a[2 * j], a[2 * j + 1], b[2 * j], b[2 * j + 1]);
        let t1 = replaces(v1, v0);
        let m = if t1 { v1 } else { v0 };
        let t2 = replaces(v2, m);
        let m = if t2 { v2 } else { m };
        let t3 = replaces(v3, m);
        let gj = g[j];
        d0[2 * j] = pick(!(t1 | t2 | t3), gj);
        d0[2 * j + 1] = pick(t1 & !t2 & !t3, gj);
        d1[2 * j] = pick(t2 & !t3, gj);
        d1[2 * j + 1] = pick(t3, gj);
    }
}

/// Copies `len` elements starting at `start` with stride `stride` into `buf`, unless they are
/// already contiguous; returns the contiguous elements.
#[inline(always)]
fn contiguous_run<'a, T: Element>(
    x: &'a [T],
    start: usize,
    stride: usize,
    len: usize,
    buf: &'a mut Vec<T>,
) -> &'a [T] {
    if stride == 1 {
        &x[start..start + len]
    } else {
        buf.clear();
        buf.extend((0..len).map(|j| x[start + j * stride]));
        buf
    }
}

multiversion! {
/// The 2×2 max pooling of every plane of `x` (viewed by `view`, planes of at least 2×2).
pub(crate) fn forward_planes<T: Element>(x: &[T], view: &View4) -> Vec<T> {
    let [n, c, h, w] = view.dims;
    let [_, _, sh, sw] = view.strides;
    let (oh, ow) = (h / 2, w / 2);
    let mut out = uninit_vec::<T>(n * c * oh * ow);
    let (mut buf_a, mut buf_b) = (Vec::new(), Vec::new());
    let planes = (0..n).flat_map(|ni| (0..c).map(move |ci| (ni, ci)));
    for ((ni, ci), oplane) in planes.zip(out.chunks_exact_mut(oh * ow)) {
        let plane = view.plane(ni, ci);
        for (i, orow) in oplane.chunks_exact_mut(ow).enumerate() {
            let row0 = plane + 2 * i * sh;
            let a = contiguous_run(x, row0, sw, 2 * ow, &mut buf_a);
            let b = contiguous_run(x, row0 + sh, sw, 2 * ow, &mut buf_b);
            T::pool_row(a, b, orow);
        }
    }
    // SAFETY: `forward_row` wrote every output row of every plane.
    unsafe { assume_init(out) }
}
}

multiversion! {
/// The input gradient of the 2×2 max pooling of every plane of `x` from the pooled gradient
/// `g` (viewed by `gv`, planes of `⌊h / 2⌋ × ⌊w / 2⌋`).
pub(crate) fn backward_planes<T: Element>(x: &[T], xv: &View4, g: &[T], gv: &View4) -> Vec<T> {
    let [n, c, h, w] = xv.dims;
    let [_, _, sh, sw] = xv.strides;
    let [_, _, gsh, gsw] = gv.strides;
    let (oh, ow) = (h / 2, w / 2);
    let zero = MaybeUninit::new(T::ZERO);
    let mut dx = uninit_vec::<T>(n * c * h * w);
    let (mut buf_a, mut buf_b, mut buf_g) = (Vec::new(), Vec::new(), Vec::new());
    let planes = (0..n).flat_map(|ni| (0..c).map(move |ci| (ni, ci)));
    for ((ni, ci), dplane) in planes.zip(dx.chunks_exact_mut(h * w)) {
        let plane = xv.plane(ni, ci);
        let gplane = gv.plane(ni, ci);
        let (pairs, rest) = dplane.split_at_mut(2 * oh * w);
        for (i, rows) in pairs.chunks_exact_mut(2 * w).enumerate() {
            let (d0, d1) = rows.split_at_mut(w);
            // An odd last column is outside every window.
            d0[2 * ow..].fill(zero);
            d1[2 * ow..].fill(zero);
            let row0 = plane + 2 * i * sh;
            let a = contiguous_run(x, row0, sw, 2 * ow, &mut buf_a);
            let b = contiguous_run(x, row0 + sh, sw, 2 * ow, &mut buf_b);
            let grads = contiguous_run(g, gplane + i * gsh, gsw, ow, &mut buf_g);
            T::pool_backward_rows(a, b, grads, d0, d1);
        }
        // An odd last row is outside every window.
        rest.fill(zero);
    }
    // SAFETY: every element of every plane was written above: the window rows by
    // `backward_rows` and the trailing column and row by the zero fills.
    unsafe { assume_init(dx) }
}
}
