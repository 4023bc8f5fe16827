//! Fast, gradient-correct candle CPU ops for the small CNNs of the course.
//!
//! candle 0.11.1's CPU convolution and pooling are slow for small networks, and its
//! `max_pool2d` backward splits each window's gradient over all four positions. This crate
//! provides the same ops as candle `CustomOp`s with their own CPU kernels and backward passes,
//! taking and returning plain candle [`Tensor`](candle_core::Tensor)s so they drop into any
//! model built on candle:
//!
//! - [`max_pool2d`]: 2×2 max pooling with stride 2 whose gradient goes to the first maximum
//!   of each window, as in PyTorch.
//!
//! All ops compute in f32 or f64 on the CPU and accept inputs with any strides.
//!
//! # Example
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//!
//! let x = Var::from_tensor(&Tensor::new(&[[[[1f64, 5.], [5., 3.]]]], &Device::Cpu)?)?;
//! let y = convlens_ops::max_pool2d(&x)?;
//! let grads = y.sum_all()?.backward()?;
//! // The whole gradient goes to the first of the two maxima.
//! let dx = grads.get(&x).expect("x is a variable").flatten_all()?.to_vec1::<f64>()?;
//! assert_eq!(dx, [0., 1., 0., 0.]);
//! # Ok::<(), candle_core::Error>(())
//! ```
#![deny(missing_docs)]

pub use block::conv2d_relu_maxpool2d;
pub use conv::{conv2d, conv2d_relu};
pub use error::Error;
pub use linear::{linear, linear_relu};
pub use memory::keep_freed_memory;
pub use pool::max_pool2d;
pub use relu::relu;

mod block;
mod conv;
mod conv_backward;
mod direct;
#[cfg(target_arch = "x86_64")]
mod direct_avx2;
mod element;
mod error;
mod kernels;
mod layout4;
mod linear;
mod memory;
mod parallel;
mod pool;
#[cfg(target_arch = "x86_64")]
mod pool_avx2;
mod relu;
mod simd;
