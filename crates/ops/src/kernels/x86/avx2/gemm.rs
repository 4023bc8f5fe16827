//! The small-matrix f32 products of `kernels::x86::gemm` for AVX2 + FMA: the register type and
//! the entry point.

use std::arch::x86_64::*;

use crate::kernels::x86::gemm::{product, Vector};
use crate::kernels::Mat;

/// `dst[m×n] = lhs[m×k] · rhs[k×n]`, or `dst += lhs · rhs` when `accumulate`, with AVX2 and
/// FMA; `dst` has row stride `dst_rs` and column stride 1 and is only read when `accumulate`
/// is set.
///
/// # Safety
///
/// The CPU supports AVX2 and FMA; [`supports`](super::super::gemm::supports) holds; each
/// matrix lies inside its slice and `dst` (valid for writes of `(m − 1)·dst_rs + n` elements)
/// does not overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)] // the shape, the destination and two strided operands
#[target_feature(enable = "avx2,fma")]
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
    // SAFETY: forwarded from the caller; the CPU has AVX2 and FMA, which `Avx2`'s operations
    // need, and they are inlined here where they are enabled.
    unsafe { product::<Avx2>(m, n, k, dst, dst_rs, accumulate, &lhs, &rhs) }
}

/// AVX2 with FMA: 8 lanes, 16 registers.
#[derive(Clone, Copy)]
pub(crate) struct Avx2(__m256);

impl Vector for Avx2 {
    const LANES: usize = 8;
    const NN_MAX_WIDTH: usize = 2;
    // 8 or 12 accumulators, the loaded `rhs` vectors and a broadcast in 16 registers.
    const NN_ROWS: [usize; 5] = [0, 8, 6, 0, 0];
    const NT_TILE: usize = 3;
    type Mask = __m256i;

    #[inline(always)]
    unsafe fn zero() -> Self {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe { Self(_mm256_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe { Self(_mm256_set1_ps(x)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: AVX is enabled (trait contract); the pointer is valid for 8 reads.
        Self(unsafe { _mm256_loadu_ps(p) })
    }
    #[inline(always)]
    unsafe fn first(n: usize) -> __m256i {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe {
            // Lane i is on (all bits set) when i < n.
            _mm256_cmpgt_epi32(
                _mm256_set1_epi32(n.min(8) as i32),
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            )
        }
    }
    #[inline(always)]
    unsafe fn load_masked(m: __m256i, p: *const f32) -> Self {
        // SAFETY: the caller's pointer is valid for the masked lanes; `vmaskmovps` does not
        // access the others.
        Self(unsafe { _mm256_maskload_ps(p, m) })
    }
    #[inline(always)]
    unsafe fn store_masked(m: __m256i, p: *mut f32, v: Self) {
        // SAFETY: as for `load_masked`.
        unsafe { _mm256_maskstore_ps(p, m, v.0) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe { Self(_mm256_fmadd_ps(a.0, b.0, c.0)) }
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe { Self(_mm256_add_ps(a.0, b.0)) }
    }
    #[inline(always)]
    unsafe fn sum(v: Self) -> f32 {
        // SAFETY: the instruction set is enabled wherever a kernel runs (trait contract).
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(v.0), _mm256_extractf128_ps::<1>(v.0));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
            _mm_cvtss_f32(s)
        }
    }
}
