//! Runtime selection of AVX2 + FMA code for the element-wise kernels.
//!
//! The crate is built for the baseline x86-64 target (SSE2), where the compiler vectorizes the
//! kernels four f32 lanes wide. [`multiversion!`] compiles a kernel a second time with AVX2 and
//! FMA enabled and picks that copy at run time when the CPU has them (a cached feature test).
//! gemm makes the same choice for its own micro-kernels.

/// Whether the CPU supports AVX2 and FMA (detected once by the standard library).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Whether the AVX-512 kernels run: the CPU supports AVX-512F (with AVX2 and FMA, which every
/// AVX-512 CPU has) and the environment variable [`NO_AVX512`] is not set. Decided once per
/// process.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx512f() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx512f")
            && has_avx2_fma()
            && std::env::var_os(NO_AVX512).is_none()
    })
}

/// Set (to anything) to run the AVX2 kernels on an AVX-512 CPU, to compare the two or to test
/// the AVX2 code on such a machine.
pub const NO_AVX512: &str = "CONVLENS_NO_AVX512";

/// Defines `fn name<T: Element>(args) -> ret { body }` compiled twice, for the baseline target
/// and for AVX2 + FMA, dispatching at run time. The body must be safe code; helpers it calls
/// should be `#[inline(always)]` to be compiled into the AVX2 copy.
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
            unsafe fn avx2<$t: Element>($($arg: $ty),*) $(-> $ret)? {
                imp::<$t>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            if $crate::simd::has_avx2_fma() {
                // SAFETY: the CPU supports AVX2 and FMA, the only requirement of `avx2`.
                return unsafe { avx2::<$t>($($arg),*) };
            }
            imp::<$t>($($arg),*)
        }
    };
}

pub(crate) use multiversion;
