//! The kernels, and the one place that chooses between their versions.
//!
//! - `portable/`: safe Rust for any CPU and both element types: the `gemm` crate's product
//!   (`gemm`), im2col and col2im (`im2col`), the direct convolution for few channels
//!   (`direct`), 2×2 max pooling (`pool`), and element-wise passes (`elementwise`). The
//!   loops that benefit are compiled twice by [`multiversion!`], for the baseline target and
//!   for AVX2 + FMA.
//! - `x86/`: f32 kernels written with intrinsics. `x86/gemm.rs` holds the small-matrix
//!   products, written once over the register type; `x86/avx2/` and `x86/avx512/` hold one
//!   file per kernel and instruction set (`gemm`, `direct`, `pool`, `im2col`), each named as
//!   its portable counterpart.
//!
//! [`Element`] is the dispatch: one method per kernel that has specialised versions, whose
//! default is the portable kernel (all that f64 uses) and whose f32 implementation picks the
//! AVX-512 version, then the AVX2 one, by the cached CPU feature tests of `x86`. Setting
//! [`NO_AVX512`] turns the AVX-512 versions off.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, WithDType};

use crate::shape::Geometry;

pub(crate) mod portable;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

pub(crate) use portable::elementwise::{
    add_row_sums, bias_relu_cols, bias_relu_rows, masked_into, relu_into,
};
use portable::gemm::inside;
pub(crate) use portable::gemm::Mat;
pub(crate) use portable::im2col::{col2im, im2col};
pub(crate) use portable::pool;

/// Set (to anything) to run the AVX2 kernels on an AVX-512 CPU, to compare the two or to test
/// the AVX2 code on such a machine.
pub const NO_AVX512: &str = "CONVLENS_NO_AVX512";

/// Defines `fn name<T: Element>(args) -> ret { body }` compiled twice, for the baseline target
/// and for AVX2 + FMA, dispatching at run time. The body must be safe code; helpers it calls
/// should be `#[inline(always)]` to be compiled into the AVX2 copy.
///
/// The crate is built for the baseline x86-64 target (SSE2), where the compiler vectorizes the
/// portable kernels four f32 lanes wide; the second copy lets it use AVX2 and FMA where the CPU
/// has them (a cached feature test). The `gemm` crate makes the same choice for its own
/// micro-kernels.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident<$t:ident: Element>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name<$t: Element>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn imp<$t: Element>($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn avx2<$t: Element>($($arg: $ty),*) $(-> $ret)? {
                imp::<$t>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            if $crate::kernels::x86::has_avx2_fma() {
                // SAFETY: the CPU supports AVX2 and FMA, the only requirement of `avx2`.
                return unsafe { avx2::<$t>($($arg),*) };
            }
            imp::<$t>($($arg),*)
        }
    };
}

pub(crate) use multiversion;

/// The direct convolution for layers with few channels: the portable helpers, and its two
/// kernels in the version [`Element`] picks.
pub(crate) mod direct {
    use std::mem::MaybeUninit;

    use super::Element;
    use crate::shape::Geometry;

    pub(crate) use super::portable::direct::{
        applies, finish_weight_grad, pad_grad, pad_image, padded_row, weight_grad_lanes,
    };

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

    /// Adds one image's weight gradient to `dw` (`O × C × K × K`, lane-wise partial sums,
    /// summed by [`finish_weight_grad`]), from the padded image `xp` and the padded output
    /// gradient `dyp` (see [`pad_image`], [`pad_grad`]).
    pub(crate) fn weight_grad_image<T: Element>(xp: &[T], dyp: &[T], g: &Geometry, dw: &mut [T]) {
        T::direct_weight_grad_image(xp, padded_row(g), dyp, g, dw)
    }
}

/// `dst[m×n] = lhs[m×k] · rhs[k×n]`, or `dst += lhs · rhs` when `accumulate`, on the calling
/// thread. `dst` may be uninitialized when `accumulate` is false: gemm then only writes it.
///
/// The product runs in the element type's own kernels where it has them for these layouts
/// (f32 with AVX-512 or AVX2 + FMA, `x86::gemm`), else in the `gemm` crate
/// (`portable::gemm`).
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
        inside(m, n, dst_rs, dst_cs, dst.len()),
        "gemm: dst out of bounds"
    );
    assert!(
        inside(m, k, lhs.rs, lhs.cs, lhs.data.len()),
        "gemm: lhs out of bounds"
    );
    assert!(
        inside(k, n, rhs.rs, rhs.cs, rhs.data.len()),
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
    // borrowed and does not alias the shared `lhs` and `rhs`; the caller initialized `dst` if
    // `accumulate`.
    unsafe {
        portable::gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().cast::<T>(),
            dst_rs,
            dst_cs,
            accumulate,
            lhs,
            rhs,
        )
    }
}

/// A float type the kernels are written for.
///
/// Sealed by being private: only `f32` and `f64` implement it, the two dtypes the ops accept.
pub(crate) trait Element:
    WithDType
    + Copy
    + PartialOrd
    + Send
    + Sync
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
{
    const ZERO: Self;
    const ONE: Self;
    fn is_nan(self) -> bool;

    /// One output row of the 2×2 max pooling, from the contiguous input rows `a` and `b`.
    #[inline(always)]
    fn pool_row(a: &[Self], b: &[Self], out: &mut [MaybeUninit<Self>]) {
        pool::forward_row(a, b, out)
    }

    /// One output row of the 2×2 max pooling with gradient codes
    /// (`portable::pool::forward_row_codes`).
    #[inline(always)]
    fn pool_row_codes(
        a: &[Self],
        b: &[Self],
        out: &mut [MaybeUninit<Self>],
        codes: &mut [MaybeUninit<u32>],
    ) {
        pool::forward_row_codes(a, b, out, codes)
    }

    /// One pair of gradient rows from window codes (`portable::pool::route_rows`).
    #[inline(always)]
    fn route_rows(
        codes: &[u32],
        g: &[Self],
        d0: &mut [MaybeUninit<Self>],
        d1: &mut [MaybeUninit<Self>],
    ) {
        pool::route_rows(codes, g, d0, d1)
    }

    /// The direct convolution of one padded image (`direct::forward_image`); `wp` is the
    /// padded row length.
    #[inline(always)]
    fn direct_forward_image(
        xp: &[Self],
        wp: usize,
        g: &Geometry,
        w: &[Self],
        b: Option<&[Self]>,
        out: &mut [MaybeUninit<Self>],
    ) {
        let _ = wp;
        portable::direct::forward_image(xp, g, w, b, out)
    }

    /// One image's lane-wise weight gradient of the direct convolution
    /// (`direct::weight_grad_image`).
    #[inline(always)]
    fn direct_weight_grad_image(
        xp: &[Self],
        wp: usize,
        dyp: &[Self],
        g: &Geometry,
        dw: &mut [Self],
    ) {
        let _ = wp;
        portable::direct::weight_grad_image(xp, dyp, g, dw)
    }

    /// `dst (+)= lhs · rhs` by a kernel specialised for this type and CPU, if there is one for
    /// these layouts (see [`gemm`] for the arguments); returns whether it ran.
    ///
    /// # Safety
    ///
    /// The three matrices lie inside their slices, and `dst` is initialized if `accumulate`.
    #[allow(clippy::too_many_arguments)] // as gemm
    #[inline(always)]
    unsafe fn special_gemm(
        m: usize,
        n: usize,
        k: usize,
        dst: &mut [MaybeUninit<Self>],
        dst_rs: usize,
        dst_cs: usize,
        accumulate: bool,
        lhs: Mat<'_, Self>,
        rhs: Mat<'_, Self>,
    ) -> bool {
        let _ = (m, n, k, dst, dst_rs, dst_cs, accumulate, lhs, rhs);
        false
    }

    /// Copies `rows` runs of `len` elements, run `r` from `src[r·stride..]`, into `dst` back
    /// to back: one row of the im2col matrix.
    #[inline(always)]
    fn gather_rows(src: &[Self], stride: usize, len: usize, rows: usize, dst: &mut [Self]) {
        portable::im2col::gather_rows(src, stride, len, rows, dst)
    }

    /// Adds `src` (`rows` runs of `len` elements back to back) onto `dst`, run `r` at
    /// `dst[r·stride..]`: one row of the im2col matrix back onto the image.
    #[inline(always)]
    fn scatter_add_rows(src: &[Self], stride: usize, len: usize, rows: usize, dst: &mut [Self]) {
        portable::im2col::scatter_add_rows(src, stride, len, rows, dst)
    }

    /// The input gradient of one pair of input rows of the 2×2 max pooling.
    #[inline(always)]
    fn pool_backward_rows(
        a: &[Self],
        b: &[Self],
        g: &[Self],
        d0: &mut [MaybeUninit<Self>],
        d1: &mut [MaybeUninit<Self>],
    ) {
        pool::backward_rows(a, b, g, d0, d1)
    }
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;

    #[inline(always)]
    fn gather_rows(src: &[Self], stride: usize, len: usize, rows: usize, dst: &mut [Self]) {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx512f() {
            // SAFETY: the CPU supports AVX-512F.
            return unsafe { x86::avx512::im2col::gather_rows(src, stride, len, rows, dst) };
        }
        portable::im2col::gather_rows(src, stride, len, rows, dst)
    }

    #[inline(always)]
    fn scatter_add_rows(src: &[Self], stride: usize, len: usize, rows: usize, dst: &mut [Self]) {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx512f() {
            // SAFETY: the CPU supports AVX-512F.
            return unsafe { x86::avx512::im2col::scatter_add_rows(src, stride, len, rows, dst) };
        }
        portable::im2col::scatter_add_rows(src, stride, len, rows, dst)
    }

    #[inline(always)]
    unsafe fn special_gemm(
        m: usize,
        n: usize,
        k: usize,
        dst: &mut [MaybeUninit<Self>],
        dst_rs: usize,
        dst_cs: usize,
        accumulate: bool,
        lhs: Mat<'_, Self>,
        rhs: Mat<'_, Self>,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if x86::gemm::supports(&lhs, &rhs, dst_cs) {
            let dst = dst.as_mut_ptr().cast::<f32>();
            if x86::has_avx512f() {
                // SAFETY: the CPU supports AVX-512F and the layouts are supported; the caller
                // guarantees the bounds and initialization; `dst` is an exclusive borrow, so
                // it overlaps neither operand.
                unsafe { x86::avx512::gemm::gemm(m, n, k, dst, dst_rs, accumulate, lhs, rhs) };
                return true;
            }
            if x86::has_avx2_fma() {
                // SAFETY: as above, with AVX2 and FMA.
                unsafe { x86::avx2::gemm::gemm(m, n, k, dst, dst_rs, accumulate, lhs, rhs) };
                return true;
            }
        }
        let _ = (m, n, k, dst, dst_rs, dst_cs, accumulate, lhs, rhs);
        false
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }

    #[inline(always)]
    fn pool_row(a: &[Self], b: &[Self], out: &mut [MaybeUninit<Self>]) {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 (the kernel checks the row lengths).
            return unsafe { x86::avx2::pool::forward_row(a, b, out) };
        }
        pool::forward_row(a, b, out)
    }

    #[inline(always)]
    fn direct_forward_image(
        xp: &[Self],
        wp: usize,
        g: &Geometry,
        w: &[Self],
        b: Option<&[Self]>,
        out: &mut [MaybeUninit<Self>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if g.o <= 8 {
            if x86::has_avx512f() {
                // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (the kernel checks the sizes
                // it relies on).
                return unsafe { x86::avx512::direct::forward_image(xp, wp, g, w, b, out) };
            }
            if x86::has_avx2_fma() {
                // SAFETY: the CPU supports AVX2 and FMA (the kernel checks the sizes it relies
                // on).
                return unsafe { x86::avx2::direct::forward_image(xp, wp, g, w, b, out) };
            }
        }
        portable::direct::forward_image(xp, g, w, b, out)
    }

    #[inline(always)]
    fn direct_weight_grad_image(
        xp: &[Self],
        wp: usize,
        dyp: &[Self],
        g: &Geometry,
        dw: &mut [Self],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if x86::has_avx512f() {
                // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (the kernel checks the sizes
                // of the buffers).
                return unsafe { x86::avx512::direct::weight_grad_image(xp, wp, dyp, g, dw) };
            }
            if x86::has_avx2_fma() {
                // SAFETY: the CPU supports AVX2 and FMA (the kernel checks the sizes of the
                // buffers).
                return unsafe { x86::avx2::direct::weight_grad_image(xp, wp, dyp, g, dw) };
            }
        }
        portable::direct::weight_grad_image(xp, dyp, g, dw)
    }

    #[inline(always)]
    fn pool_row_codes(
        a: &[Self],
        b: &[Self],
        out: &mut [MaybeUninit<Self>],
        codes: &mut [MaybeUninit<u32>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 (the kernel checks the row lengths).
            return unsafe { x86::avx2::pool::forward_row_codes(a, b, out, codes) };
        }
        pool::forward_row_codes(a, b, out, codes)
    }

    #[inline(always)]
    fn route_rows(
        codes: &[u32],
        g: &[Self],
        d0: &mut [MaybeUninit<Self>],
        d1: &mut [MaybeUninit<Self>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 (the kernel checks the row lengths).
            return unsafe { x86::avx2::pool::route_rows(codes, g, d0, d1) };
        }
        pool::route_rows(codes, g, d0, d1)
    }

    #[inline(always)]
    fn pool_backward_rows(
        a: &[Self],
        b: &[Self],
        g: &[Self],
        d0: &mut [MaybeUninit<Self>],
        d1: &mut [MaybeUninit<Self>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if x86::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2 (the kernel checks the row lengths).
            return unsafe { x86::avx2::pool::backward_rows(a, b, g, d0, d1) };
        }
        pool::backward_rows(a, b, g, d0, d1)
    }
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

/// The elements of a storage, viewed as `T` (an error if it holds another dtype).
pub(crate) fn slice<T: Element>(storage: &CpuStorage) -> candle_core::Result<&[T]> {
    T::cpu_storage_as_slice(storage)
}
