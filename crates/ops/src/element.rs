//! The element types the kernels compute in (f32 and f64), with access to candle's storage.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, WithDType};

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
        crate::pool::forward_row(a, b, out)
    }

    /// One output row of the 2×2 max pooling with gradient codes (`pool::forward_row_codes`).
    #[inline(always)]
    fn pool_row_codes(
        a: &[Self],
        b: &[Self],
        out: &mut [MaybeUninit<Self>],
        codes: &mut [MaybeUninit<u32>],
    ) {
        crate::pool::forward_row_codes(a, b, out, codes)
    }

    /// One pair of gradient rows from window codes (`pool::route_rows`).
    #[inline(always)]
    fn route_rows(
        codes: &[u32],
        g: &[Self],
        d0: &mut [MaybeUninit<Self>],
        d1: &mut [MaybeUninit<Self>],
    ) {
        crate::pool::route_rows(codes, g, d0, d1)
    }

    /// The direct convolution of one padded image (`direct::forward_image`); `wp` is the
    /// padded row length.
    #[inline(always)]
    fn direct_forward_image(
        xp: &[Self],
        wp: usize,
        g: &crate::kernels::Geometry,
        w: &[Self],
        b: Option<&[Self]>,
        out: &mut [MaybeUninit<Self>],
    ) {
        let _ = wp;
        crate::direct::forward_image_portable(xp, g, w, b, out)
    }

    /// One image's lane-wise weight gradient of the direct convolution
    /// (`direct::weight_grad_image`).
    #[inline(always)]
    fn direct_weight_grad_image(
        xp: &[Self],
        wp: usize,
        dyp: &[Self],
        g: &crate::kernels::Geometry,
        dw: &mut [Self],
    ) {
        let _ = wp;
        crate::direct::weight_grad_image_portable(xp, dyp, g, dw)
    }

    /// `dst (+)= lhs · rhs` by a kernel specialised for this type and CPU, if there is one for
    /// these layouts (see `kernels::gemm` for the arguments); returns whether it ran.
    ///
    /// # Safety
    ///
    /// The three matrices lie inside their slices, and `dst` is initialized if `accumulate`.
    #[allow(clippy::too_many_arguments)] // as kernels::gemm
    #[inline(always)]
    unsafe fn special_gemm(
        m: usize,
        n: usize,
        k: usize,
        dst: &mut [MaybeUninit<Self>],
        dst_rs: usize,
        dst_cs: usize,
        accumulate: bool,
        lhs: crate::kernels::Mat<'_, Self>,
        rhs: crate::kernels::Mat<'_, Self>,
    ) -> bool {
        let _ = (m, n, k, dst, dst_rs, dst_cs, accumulate, lhs, rhs);
        false
    }

    /// Copies `rows` runs of `len` elements, run `r` from `src[r·stride..]`, into `dst` back
    /// to back: one row of the im2col matrix.
    #[inline(always)]
    fn gather_rows(src: &[Self], stride: usize, len: usize, rows: usize, dst: &mut [Self]) {
        crate::kernels::gather_rows(src, stride, len, rows, dst)
    }

    /// Adds `src` (`rows` runs of `len` elements back to back) onto `dst`, run `r` at
    /// `dst[r·stride..]`: one row of the im2col matrix back onto the image.
    #[inline(always)]
    fn scatter_add_rows(src: &[Self], stride: usize, len: usize, rows: usize, dst: &mut [Self]) {
        crate::kernels::scatter_add_rows(src, stride, len, rows, dst)
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
        crate::pool::backward_rows(a, b, g, d0, d1)
    }
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;

    #[inline(always)]
    fn gather_rows(src: &[Self], stride: usize, len: usize, rows: usize, dst: &mut [Self]) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx512f() {
            return crate::cols512::gather_rows(src, stride, len, rows, dst);
        }
        crate::kernels::gather_rows(src, stride, len, rows, dst)
    }

    #[inline(always)]
    fn scatter_add_rows(src: &[Self], stride: usize, len: usize, rows: usize, dst: &mut [Self]) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx512f() {
            return crate::cols512::scatter_add_rows(src, stride, len, rows, dst);
        }
        crate::kernels::scatter_add_rows(src, stride, len, rows, dst)
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
        lhs: crate::kernels::Mat<'_, Self>,
        rhs: crate::kernels::Mat<'_, Self>,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if crate::smallgemm::supports(&lhs, &rhs, dst_cs) {
            let dst = dst.as_mut_ptr().cast::<f32>();
            if crate::simd::has_avx512f() {
                // SAFETY: the CPU supports AVX-512F and the layouts are supported; the caller
                // guarantees the bounds and initialization; `dst` is an exclusive borrow, so
                // it overlaps neither operand.
                unsafe {
                    crate::smallgemm::gemm_avx512(m, n, k, dst, dst_rs, accumulate, lhs, rhs)
                };
                return true;
            }
            if crate::simd::has_avx2_fma() {
                // SAFETY: as above, with AVX2 and FMA.
                unsafe { crate::smallgemm::gemm_avx2(m, n, k, dst, dst_rs, accumulate, lhs, rhs) };
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
        if crate::simd::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2.
            return unsafe { crate::pool_avx2::forward_row(a, b, out) };
        }
        crate::pool::forward_row(a, b, out)
    }

    #[inline(always)]
    fn direct_forward_image(
        xp: &[Self],
        wp: usize,
        g: &crate::kernels::Geometry,
        w: &[Self],
        b: Option<&[Self]>,
        out: &mut [MaybeUninit<Self>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if g.o <= 8 {
            if crate::simd::has_avx512f() {
                // SAFETY: the CPU supports AVX-512F, AVX2 and FMA; `xp` is laid out by
                // `direct::pad_image` with rows of `wp`, and the kernel checks the sizes it
                // relies on.
                return unsafe { crate::direct_avx512::forward_image(xp, wp, g, w, b, out) };
            }
            if crate::simd::has_avx2_fma() {
                // SAFETY: the CPU supports AVX2 and FMA; `xp` is laid out by
                // `direct::pad_image` with rows of `wp`, and the kernel checks the sizes it
                // relies on.
                return unsafe { crate::direct_avx2::forward_image(xp, wp, g, w, b, out) };
            }
        }
        crate::direct::forward_image_portable(xp, g, w, b, out)
    }

    #[inline(always)]
    fn direct_weight_grad_image(
        xp: &[Self],
        wp: usize,
        dyp: &[Self],
        g: &crate::kernels::Geometry,
        dw: &mut [Self],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if crate::simd::has_avx512f() {
                // SAFETY: the CPU supports AVX-512F, AVX2 and FMA; the buffers are laid out by
                // `direct::pad_image` and `direct::pad_grad`, and the kernel checks their sizes.
                return unsafe { crate::direct_avx512::weight_grad_image(xp, wp, dyp, g, dw) };
            }
            if crate::simd::has_avx2_fma() {
                // SAFETY: the CPU supports AVX2 and FMA; the buffers are laid out by
                // `direct::pad_image` and `direct::pad_grad`, and the kernel checks their sizes.
                return unsafe { crate::direct_avx2::weight_grad_image(xp, wp, dyp, g, dw) };
            }
        }
        crate::direct::weight_grad_image_portable(xp, dyp, g, dw)
    }

    #[inline(always)]
    fn pool_row_codes(
        a: &[Self],
        b: &[Self],
        out: &mut [MaybeUninit<Self>],
        codes: &mut [MaybeUninit<u32>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2.
            return unsafe { crate::pool_avx2::forward_row_codes(a, b, out, codes) };
        }
        crate::pool::forward_row_codes(a, b, out, codes)
    }

    #[inline(always)]
    fn route_rows(
        codes: &[u32],
        g: &[Self],
        d0: &mut [MaybeUninit<Self>],
        d1: &mut [MaybeUninit<Self>],
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2.
            return unsafe { crate::pool_avx2::route_rows(codes, g, d0, d1) };
        }
        crate::pool::route_rows(codes, g, d0, d1)
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
        if crate::simd::has_avx2_fma() {
            // SAFETY: the CPU supports AVX2.
            return unsafe { crate::pool_avx2::backward_rows(a, b, g, d0, d1) };
        }
        crate::pool::backward_rows(a, b, g, d0, d1)
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

/// The elements of a storage, viewed as `T` (the caller has checked the dtype).
pub(crate) fn slice<T: Element>(storage: &CpuStorage) -> candle_core::Result<&[T]> {
    T::cpu_storage_as_slice(storage)
}
