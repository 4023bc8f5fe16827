//! im2col and col2im: the rows of one image's kernel windows as a matrix, and back.

use crate::kernels::{multiversion, Element};
use crate::shape::{Geometry, View4};

/// Copies `src[..dst.len()]` into `dst` with fixed-size moves.
///
/// The runs im2col copies are short (a row of the output, 12 to 32 elements at the course's
/// shapes); `copy_from_slice` would call `memcpy` for each, and the calls cost more than the
/// copies.
#[inline(always)]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            dst[i..i + 8].copy_from_slice(&src[i..i + 8]);
            i += 8;
        }
        if i < n {
            // One more, overlapping, 8-element move covers the tail.
            dst[n - 8..].copy_from_slice(&src[n - 8..]);
        }
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

/// Adds `src[..dst.len()]` onto `dst` in fixed-size steps (see [`copy_run`]).
#[inline(always)]
fn add_run<T: Element>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    let mut d8 = dst.chunks_exact_mut(8);
    let mut s8 = src.chunks_exact(8);
    for (d, s) in (&mut d8).zip(&mut s8) {
        add_block::<T, 8>(d, s);
    }
    let (d, s) = (d8.into_remainder(), s8.remainder());
    let (d, s) = if d.len() >= 4 {
        let (d4, d) = d.split_at_mut(4);
        let (s4, s) = s.split_at(4);
        add_block::<T, 4>(d4, s4);
        (d, s)
    } else {
        (d, s)
    };
    for (d, &s) in d.iter_mut().zip(s) {
        *d += s;
    }
}

/// `dst[..N] += src[..N]` through local arrays, which the compiler turns into single vector
/// loads, adds and stores (adding in place, it cannot always prove the slices disjoint after
/// inlining, and falls back to scalar code).
#[inline(always)]
fn add_block<T: Element, const N: usize>(dst: &mut [T], src: &[T]) {
    let (Ok(d), Ok(s)) = (<&mut [T; N]>::try_from(dst), <&[T; N]>::try_from(src)) else {
        return;
    };
    let mut a = *d;
    let b = *s;
    for (a, b) in a.iter_mut().zip(b) {
        *a += b;
    }
    *d = a;
}

/// One image with its padding made explicit: channel `c`, padded row `y`, padded column `x`
/// is `data[base + c * plane + y * rs + x]`.
#[derive(Debug, Clone, Copy)]
struct Padded<'a, T> {
    data: &'a [T],
    base: usize,
    plane: usize,
    rs: usize,
}

/// Image `ni` of `x` with zero padding around each plane: `x` itself when there is no padding
/// and rows are contiguous, else a padded copy in `buf`.
#[inline(always)]
fn padded<'a, T: Element>(
    x: &'a [T],
    xv: &View4,
    ni: usize,
    g: &Geometry,
    buf: &'a mut Vec<T>,
) -> Padded<'a, T> {
    let [_, _, sh, sw] = xv.strides;
    if g.pad == 0 && (sw == 1 || g.w == 1) {
        return Padded {
            data: x,
            base: xv.plane(ni, 0),
            plane: xv.strides[1],
            rs: sh,
        };
    }
    let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    buf.clear();
    buf.resize(g.c * hp * wp, T::ZERO);
    for (ci, plane) in buf.chunks_exact_mut(hp * wp).enumerate() {
        let src = xv.plane(ni, ci);
        for (iy, row) in plane.chunks_exact_mut(wp).skip(g.pad).take(g.h).enumerate() {
            let row = &mut row[g.pad..g.pad + g.w];
            let start = src + iy * sh;
            if sw == 1 {
                copy_run(row, &x[start..start + g.w]);
            } else {
                for (j, d) in row.iter_mut().enumerate() {
                    *d = x[start + j * sw];
                }
            }
        }
    }
    Padded {
        data: buf,
        base: 0,
        plane: hp * wp,
        rs: wp,
    }
}

/// Copies `rows` runs of `len` elements, run `r` from `src[r·stride..]`, into `dst` back to
/// back (the portable `Element::gather_rows`).
#[inline(always)]
pub(crate) fn gather_rows<T: Copy>(
    src: &[T],
    stride: usize,
    len: usize,
    rows: usize,
    dst: &mut [T],
) {
    for (r, dst) in dst[..rows * len].chunks_exact_mut(len.max(1)).enumerate() {
        copy_run(dst, &src[r * stride..]);
    }
}

/// Adds `src` (`rows` runs of `len` elements back to back) onto `dst`, run `r` at
/// `dst[r·stride..]` (the portable `Element::scatter_add_rows`).
#[inline(always)]
pub(crate) fn scatter_add_rows<T: Element>(
    src: &[T],
    stride: usize,
    len: usize,
    rows: usize,
    dst: &mut [T],
) {
    for (r, src) in src[..rows * len].chunks_exact(len.max(1)).enumerate() {
        add_run(&mut dst[r * stride..r * stride + len], src);
    }
}

multiversion! {
/// Writes image `ni` of `x` as the `kdim × positions` im2col matrix (row-major) into `cols`:
/// row `(c, ky, kx)`, column `(oy, ox)` holds the input at `(c, oy + ky - pad, ox + kx - pad)`,
/// or zero in the padding. `scratch` holds the padded image when one is needed.
pub(crate) fn im2col<T: Element>(
    x: &[T],
    xv: &View4,
    ni: usize,
    g: &Geometry,
    scratch: &mut Vec<T>,
    cols: &mut [T],
) {
    let src = padded(x, xv, ni, g, scratch);
    let p = g.positions();
    let mut rows = cols[..g.kdim() * p].chunks_exact_mut(p);
    for ci in 0..g.c {
        for ky in 0..g.k {
            for kx in 0..g.k {
                let Some(row) = rows.next() else { return };
                let base = src.base + ci * src.plane + ky * src.rs + kx;
                let span = (g.oh - 1) * src.rs + g.ow;
                T::gather_rows(&src.data[base..base + span], src.rs, g.ow, g.oh, row);
            }
        }
    }
}
}

multiversion! {
/// Adds the `kdim × positions` matrix `cols` back onto the image it was gathered from (the
/// adjoint of [`im2col`]): `dx` is one contiguous `c × h × w` image. `scratch` holds a padded
/// image when there is padding.
pub(crate) fn col2im<T: Element>(cols: &[T], g: &Geometry, scratch: &mut Vec<T>, dx: &mut [T]) {
    let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    let padded = g.pad > 0;
    let acc: &mut [T] = if padded {
        scratch.clear();
        scratch.resize(g.c * hp * wp, T::ZERO);
        scratch
    } else {
        dx.fill(T::ZERO);
        &mut dx[..]
    };
    let p = g.positions();
    let mut rows = cols[..g.kdim() * p].chunks_exact(p);
    for ci in 0..g.c {
        let plane = &mut acc[ci * hp * wp..(ci + 1) * hp * wp];
        for ky in 0..g.k {
            for kx in 0..g.k {
                let Some(row) = rows.next() else { return };
                T::scatter_add_rows(row, wp, g.ow, g.oh, &mut plane[ky * wp + kx..]);
            }
        }
    }
    if padded {
        // Crop the padding away (nothing to keep of an empty image: `max(1)` only avoids an
        // empty chunk size).
        let planes = scratch
            .chunks_exact(hp * wp)
            .zip(dx.chunks_exact_mut((g.h * g.w).max(1)));
        for (src, dst) in planes {
            let rows = src
                .chunks_exact(wp)
                .skip(g.pad)
                .zip(dst.chunks_exact_mut(g.w.max(1)));
            for (src, dst) in rows {
                copy_run(dst, &src[g.pad..]);
            }
        }
    }
}
}
