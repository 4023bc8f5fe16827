//! The building blocks of the convolution: im2col, col2im and a bounds-checked gemm.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use candle_core::Layout;

use crate::element::Element;
use crate::layout4::View4;
use crate::simd::multiversion;

/// A matrix inside a slice: element `(i, j)` is at `i * rs + j * cs`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
    pub cs: usize,
}

impl<'a, T> Mat<'a, T> {
    pub fn new(data: &'a [T], rs: usize, cs: usize) -> Self {
        Self { data, rs, cs }
    }
}

/// Number of elements a `rows × cols` matrix with the given strides spans.
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// `dst[m×n] = lhs[m×k] · rhs[k×n]`, or `dst += lhs · rhs` when `accumulate`, on the calling
/// thread. `dst` may be uninitialized when `accumulate` is false: gemm then only writes it.
///
/// The product runs in the element type's own kernels where it has them for these layouts
/// (f32 with AVX-512 or AVX2 + FMA, `smallgemm`), else in the `gemm` crate.
///
/// # Panics
///
/// If a matrix reaches past the end of its slice (a bug in the caller, never user input: the
/// ops check shapes before computing).
#[allow(clippy::too_many_arguments)] // three matrices with two strides each, plus m, n, k
pub(crate) fn gemm<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [MaybeUninit<T>],
    dst_rs: usize,
    dst_cs: usize,
    accumulate: bool,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
) {
    assert!(
        span(m, n, dst_rs, dst_cs) <= dst.len(),
        "gemm: dst out of bounds"
    );
    assert!(
        span(m, k, lhs.rs, lhs.cs) <= lhs.data.len(),
        "gemm: lhs out of bounds"
    );
    assert!(
        span(k, n, rhs.rs, rhs.cs) <= rhs.data.len(),
        "gemm: rhs out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: bounds checked above; the caller initialized `dst` if `accumulate`.
    if unsafe { T::special_gemm(m, n, k, dst, dst_rs, dst_cs, accumulate, lhs, rhs) } {
        return;
    }
    // SAFETY: the three matrices lie inside their slices (checked above); `dst` is exclusively
    // borrowed and does not alias the shared `lhs` and `rhs`; gemm reads `dst` only when
    // `accumulate` is set, in which case the caller has initialized it; T is f32 or f64.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().cast::<T>(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// A vector of `len` uninitialized elements, to be written by kernels and then made a `Vec<T>`
/// with [`assume_init`].
pub(crate) fn uninit_vec<T>(len: usize) -> Vec<MaybeUninit<T>> {
    let mut v = Vec::with_capacity(len);
    // SAFETY: MaybeUninit<T> needs no initialization, and the capacity is `len`.
    unsafe { v.set_len(len) };
    v
}

/// Converts a fully written vector of `MaybeUninit<T>` into `Vec<T>`.
///
/// # Safety
///
/// Every element of `v` must have been initialized.
pub(crate) unsafe fn assume_init<T>(v: Vec<MaybeUninit<T>>) -> Vec<T> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: MaybeUninit<T> has the layout of T, the caller guarantees every element is
    // initialized, and the allocation is handed over unchanged.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<T>(), v.len(), v.capacity()) }
}

/// Views an initialized `MaybeUninit` slice as `&mut [T]`.
///
/// # Safety
///
/// Every element of `s` must have been initialized.
pub(crate) unsafe fn assume_init_mut<T>(s: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: same layout; the caller guarantees initialization.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<T>(), s.len()) }
}

/// The elements of a tensor in row-major order: borrowed when its layout is contiguous, gathered
/// otherwise.
pub(crate) fn dense<'a, T: Copy>(data: &'a [T], layout: &Layout) -> Cow<'a, [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Cow::Borrowed(&data[start..end]),
        None => Cow::Owned(gather(
            data,
            layout.dims(),
            layout.stride(),
            layout.start_offset(),
        )),
    }
}

/// The elements of a strided tensor in row-major order.
fn gather<T: Copy>(data: &[T], dims: &[usize], strides: &[usize], start: usize) -> Vec<T> {
    let len = dims.iter().product::<usize>();
    let mut out = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let mut index = vec![0; dims.len()];
    let mut offset = start;
    loop {
        out.push(data[offset]);
        // Advance the multi-index like an odometer, last dimension fastest.
        let mut d = dims.len();
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            index[d] += 1;
            offset += strides[d];
            if index[d] < dims[d] {
                break;
            }
            offset -= strides[d] * dims[d];
            index[d] = 0;
        }
    }
}

/// Sizes of a stride-1 convolution with a square kernel and zero padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub k: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geometry {
    /// Rows of the im2col matrix: one per input channel and kernel position.
    pub fn kdim(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Output positions per image and channel.
    pub fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// The kernel covers the whole unpadded input: the convolution is a fully connected layer
    /// on the flattened image, and needs no im2col.
    pub fn is_dense(&self) -> bool {
        self.pad == 0 && self.k == self.h && self.k == self.w
    }
}

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
        // Crop the padding away.
        let planes = scratch.chunks_exact(hp * wp).zip(dx.chunks_exact_mut(g.h * g.w));
        for (src, dst) in planes {
            let rows = src.chunks_exact(wp).skip(g.pad).zip(dst.chunks_exact_mut(g.w));
            for (src, dst) in rows {
                copy_run(dst, &src[g.pad..]);
            }
        }
    }
}
}

multiversion! {
/// Adds `bias[r]` to row `r` of the `bias.len() × cols` row-major matrix `m` and applies ReLU
/// if asked: the epilogue of a convolution whose rows are output channels.
pub(crate) fn bias_relu_rows<T: Element>(m: &mut [T], bias: Option<&[T]>, cols: usize, relu: bool) {
    for (r, row) in m.chunks_exact_mut(cols.max(1)).enumerate() {
        let b = bias.map_or(T::ZERO, |b| b[r]);
        for v in row {
            let y = *v + b;
            *v = if relu && y < T::ZERO { T::ZERO } else { y };
        }
    }
}
}

multiversion! {
/// Adds `bias` to every row of the row-major matrix `m` (rows of `bias.len()`, one per output
/// channel) and applies ReLU if asked: the epilogue of a convolution whose columns are output
/// channels.
pub(crate) fn bias_relu_cols<T: Element>(m: &mut [T], bias: Option<&[T]>, cols: usize, relu: bool) {
    for row in m.chunks_exact_mut(cols.max(1)) {
        match bias {
            Some(b) => {
                for (v, &b) in row.iter_mut().zip(b) {
                    let y = *v + b;
                    *v = if relu && y < T::ZERO { T::ZERO } else { y };
                }
            }
            None if relu => {
                for v in row {
                    *v = if *v < T::ZERO { T::ZERO } else { *v };
                }
            }
            None => {}
        }
    }
}
}

multiversion! {
/// Adds the sum of each row of the row-major matrix `m` (rows of `cols`) to `sums`.
pub(crate) fn add_row_sums<T: Element>(m: &[T], cols: usize, sums: &mut [T]) {
    for (s, row) in sums.iter_mut().zip(m.chunks_exact(cols.max(1))) {
        // Eight independent partial sums, so the compiler can keep them in one vector
        // (a single running sum would be a serial chain it may not reorder).
        let mut lanes = [T::ZERO; 8];
        let mut chunks = row.chunks_exact(8);
        for c in &mut chunks {
            for (l, &v) in lanes.iter_mut().zip(c) {
                *l += v;
            }
        }
        let mut total = T::ZERO;
        for &v in chunks.remainder() {
            total += v;
        }
        for l in lanes {
            total += l;
        }
        *s += total;
    }
}
}
