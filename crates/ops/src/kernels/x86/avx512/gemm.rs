//! The small-matrix f32 products of `kernels::x86::gemm` for AVX-512F: the register type and
//! the entry point.

use std::arch::x86_64::*;

use crate::kernels::x86::gemm::{product, Vector};
use crate::kernels::Mat;

/// `dst[m×n] = lhs[m×k] · rhs[k×n]`, or `dst += lhs · rhs` when `accumulate`, with AVX-512;
/// `dst` has row stride `dst_rs` and column stride 1 and is only read when `accumulate` is set.
///
/// # Safety
///
/// The CPU supports AVX-512F; [`supports`](super::super::gemm::supports) holds; each matrix
/// lies inside its slice and `dst` (valid for writes of `(m − 1)·dst_rs + n` elements) does
/// not overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)] // the shape, the destination and two strided operands
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: Mat<'_, f32>,
    rhs: Mat<'_, f32>,
) {
    // SAFETY: forwarded from the caller; the CPU has AVX-512F, which `Avx512`'s operations
    // need, and they are inlined here where it is enabled.
    unsafe { product::<Avx512>(m, n, k, dst, dst_rs, accumulate, &lhs, &rhs) }
}

/// AVX-512F: 16 lanes, 32 registers.
#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m512);

impl Vector for Avx512 {
    const LANES: usize = 16;
    const NN_MAX_WIDTH: usize = 4;
    // Wide tiles need fewer rows to keep 24 accumulators busy; all fit the 32 registers with
    // the loaded `rhs` vectors.
    const NN_ROWS: [usize; 5] = [0, 12, 12, 8, 6];
    const NT_TILE: usize = 4;
    type Mask = __mmask16;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe { Self(_mm512_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe { Self(_mm512_set1_ps(x)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: AVX-512F is enabled (trait contract); the pointer is valid for 16 reads.
        Self(unsafe { _mm512_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn first(n: usize) -> __mmask16 {
        super::first_lanes(n)
    }
    #[inline(always)]
    unsafe fn load_masked(m: __mmask16, p: *const f32) -> Self {
        // SAFETY: AVX-512F is enabled (trait contract); the pointer is valid for the masked lanes.
        Self(unsafe { _mm512_maskz_loadu_ps(m, p) })
    }
    #[inline(always)]
    unsafe fn store_masked(m: __mmask16, p: *mut f32, v: Self) {
        // SAFETY: AVX-512F is enabled (trait contract); the pointer is valid for the masked lanes.
        unsafe { _mm512_mask_storeu_ps(p, m, v.0) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe { Self(_mm512_fmadd_ps(a.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe { Self(_mm512_add_ps(a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sum(v: Self) -> f32 {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe { _mm512_reduce_add_ps(v.0) }
    }
}
