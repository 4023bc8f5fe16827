//! The f32 kernels written with x86-64 intrinsics, and the CPU feature tests that choose them.
//!
//! `gemm` is the small-matrix product written once over the register type; `avx2/` and
//! `avx512/` hold the kernels of each instruction set, one file per kernel (`gemm`, `direct`,
//! `pool`, `im2col`), named as their portable counterparts in `kernels::portable`.

pub(crate) mod avx2;
pub(crate) mod avx512;
pub(crate) mod gemm;

/// Whether the CPU supports AVX2 and FMA (detected once by the standard library).
#[inline(always)]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Whether the AVX-512 kernels run: the CPU supports AVX-512F (with AVX2 and FMA, which every
/// AVX-512 CPU has) and the environment variable [`NO_AVX512`](crate::NO_AVX512) is not set.
/// Decided once per process.
#[inline(always)]
pub(crate) fn has_avx512f() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx512f")
            && has_avx2_fma()
            && std::env::var_os(super::NO_AVX512).is_none()
    })
}
