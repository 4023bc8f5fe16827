//! The portable kernels: safe Rust for any CPU and both element types (see `kernels`).

pub(crate) mod direct;
pub(crate) mod elementwise;
pub(crate) mod gemm;
pub(crate) mod im2col;
pub(crate) mod pool;
