//! The f32 kernels for AVX2 + FMA (8 lanes, 16 vector registers).

pub(crate) mod direct;
pub(crate) mod gemm;
pub(crate) mod pool;
