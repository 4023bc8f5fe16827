//! The f32 kernels for AVX-512F (16 lanes, 32 vector registers, masked loads and stores).
//!
//! The AVX-512 intrinsics and `__mmask16` are stable since Rust 1.89, the workspace's minimum
//! Rust version.

use std::arch::x86_64::__mmask16;

pub(crate) mod direct;
pub(crate) mod gemm;
pub(crate) mod im2col;

/// The mask of the first `min(n, 16)` of a register's 16 f32 lanes, for masked loads and
/// stores of a partial group.
#[inline(always)]
pub(crate) fn first_lanes(n: usize) -> __mmask16 {
    if n >= 16 {
        0xFFFF
    } else {
        (1u16 << n) - 1
    }
}
