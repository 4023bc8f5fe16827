//! Fast, gradient-correct candle CPU ops for the small CNNs of the course.
//!
//! candle 0.11.1's CPU convolution is slow for small networks (its backward pass runs
//! `conv_transpose2d` loops and computes the kernel gradient as a convolution with a huge
//! kernel, and it computes an input gradient for the image although nothing needs it), its
//! `max_pool2d` backward splits each window's gradient over all four positions (0.25× the
//! correct gradient for a window with one maximum), and many of its ops look up the thread
//! count on every call. This crate provides the layers of the course network as candle
//! `CustomOp`s with their own CPU kernels and backward passes. They take and return plain
//! candle [`Tensor`](candle_core::Tensor)s, so they drop into any model built on candle and
//! its autograd:
//!
//! | op | PyTorch equivalent |
//! |---|---|
//! | [`conv2d`] | `Conv2d(c, o, k, padding=p)` (stride 1, square kernel) |
//! | [`conv2d_relu`] | `Conv2d` → `ReLU`, fused |
//! | [`conv2d_relu_maxpool2d`] | `Conv2d` → `ReLU` → `MaxPool2d(2)`, fused |
//! | [`max_pool2d`] | `MaxPool2d(2)` |
//! | [`relu`] | `ReLU` |
//! | [`linear`], [`linear_relu`] | `Linear(i, o)`, and `Linear` → `ReLU` fused |
//!
//! and [`keep_freed_memory`], a one-line allocator setting that training programs on Linux
//! should call first (see [Performance](#performance)).
//!
//! # Conventions
//!
//! - f32 or f64 (all arguments of one call alike), on the CPU, with any strides and offsets.
//! - Gradients follow PyTorch: max pooling sends each window's gradient to its first maximum
//!   in row-major order (a NaN counts as the maximum); ReLU passes gradient where its output
//!   is positive (zero at 0); odd trailing rows and columns of a pooled input get zero.
//! - An argument that does not take part in autograd (neither a variable nor computed from
//!   one, such as the images fed to the first layer) gets no gradient, and none is computed.
//! - Fused ops compute exactly what the separate ops compute, values and gradients; they
//!   differ in what they keep: the fused block stores no full-size intermediate tensor, so its
//!   convolution and ReLU outputs are not available to callers (use the separate ops where
//!   they are needed, for example to record activations).
//! - Errors ([`Error`], wrapped in `candle_core::Error`) name the op, the argument and the
//!   offending shape or dtype; no op panics on bad input.
//!
//! # Example: the course network, forward and backward
//!
//! ```
//! use candle_core::{DType, Device, Tensor, Var};
//! use convlens_ops::{conv2d_relu, conv2d_relu_maxpool2d, linear, linear_relu};
//!
//! let dev = Device::Cpu;
//! let param = |dims: &[usize]| Var::from_tensor(&(Tensor::randn(0f32, 0.1, dims, &dev)?));
//! let (w1, b1) = (param(&[3, 1, 3, 3])?, param(&[3])?);
//! let (w2, b2) = (param(&[16, 3, 5, 5])?, param(&[16])?);
//! let (w3, b3) = (param(&[110, 16, 6, 6])?, param(&[110])?);
//! let (w4, b4) = (param(&[60, 110])?, param(&[60])?);
//! let (w5, b5) = (param(&[10, 60])?, param(&[10])?);
//!
//! let images = Tensor::randn(0f32, 1., (16, 1, 28, 28), &dev)?;
//! let h = conv2d_relu_maxpool2d(&images, &w1, Some(&b1), 3)?; // [16, 3, 16, 16]
//! let h = conv2d_relu_maxpool2d(&h, &w2, Some(&b2), 0)?; //      [16, 16, 6, 6]
//! let h = conv2d_relu(&h, &w3, Some(&b3), 0)?.flatten_from(1)?; // [16, 110]
//! let h = linear_relu(&h, &w4, Some(&b4))?; //                   [16, 60]
//! let logits = linear(&h, &w5, Some(&b5))?; //                   [16, 10]
//! assert_eq!(logits.dims(), [16, 10]);
//!
//! let grads = logits.sqr()?.mean_all()?.backward()?;
//! assert_eq!(grads.get(&w1).expect("conv1 weight gradient").dims(), [3, 1, 3, 3]);
//! // The images are not a variable: no gradient was computed for them.
//! assert!(grads.get(&images).is_none());
//! # Ok::<(), candle_core::Error>(())
//! ```
//!
//! # How
//!
//! - **Convolution**: im2col + gemm (the `gemm` crate, single-threaded per call) image by
//!   image, with bias and ReLU applied while the output is in cache; layers with few
//!   channels (the first layer: one in, three out) use direct kernels instead (AVX2 + FMA for
//!   f32), and a kernel covering the whole input (the third layer) is one gemm over the batch.
//!   The backward pass is one op computing the input, weight and bias gradients image by
//!   image (two gemms and a col2im per image; the weight gradient accumulated transposed, the
//!   faster orientation for gemm at these shapes).
//! - **Pooling**: branch-free kernels, with AVX2 versions for f32 that handle eight windows
//!   per step and masked tails, so the course's short rows (6 and 16 windows) stay in vector
//!   registers. The fused block records per window where its gradient goes (a `u32` code)
//!   instead of the full-size activations, and its backward pass spreads the gradient from
//!   the codes image by image inside the convolution's backward pass.
//! - **Threads**: the batch is split into one run of images per thread of candle's own CPU
//!   worker pool (`candle_core::utils::barrier_pool`: the caller plus
//!   `CANDLE_NUM_THREADS − 1` spinning workers), rather than a second thread pool competing
//!   with candle's for the same cores; jobs below about 130 k multiply-adds stay on the
//!   calling thread. The thread count is looked up once.
//!
//! # Performance
//!
//! Measured with `cargo bench -p convlens-ops --bench ops` (divan; the median of 100 samples,
//! best of three runs) on the course's machine: a 2-core x86-64 KVM guest (Intel Xeon,
//! family 6 model 207, with AVX-512; `gemm` and these kernels use AVX2 + FMA), both cores
//! used through candle's default thread count, other processes idle. Backward times
//! are `backward()` of `sum(op(..))` alone, including candle's bookkeeping for the sum; the
//! benchmark binary calls [`keep_freed_memory`] first, for both implementations.
//!
//! | op (course shape) | pass | batch | ours | candle 0.11.1 | speed-up |
//! |---|---|---|---|---|---|
//! | conv1 `conv2d` 1→3, k3, pad 3, 28×28 | forward | 16 | 30.6 µs | 879 µs | 28.7× |
//! | conv1 `conv2d` 1→3, k3, pad 3, 28×28 | forward | 64 | 112 µs | 3.42 ms | 30.6× |
//! | conv1 `conv2d` 1→3, k3, pad 3, 28×28 | backward | 16 | 61.1 µs | 2.09 ms | 34.3× |
//! | conv1 `conv2d` 1→3, k3, pad 3, 28×28 | backward | 64 | 227 µs | 8.87 ms | 39.1× |
//! | conv2 `conv2d` 3→16, k5, 16×16 | forward | 16 | 55.2 µs | 565 µs | 10.2× |
//! | conv2 `conv2d` 3→16, k5, 16×16 | forward | 64 | 214 µs | 2.36 ms | 11.0× |
//! | conv2 `conv2d` 3→16, k5, 16×16 | backward | 16 | 231 µs | 3.83 ms | 16.6× |
//! | conv2 `conv2d` 3→16, k5, 16×16 | backward | 64 | 655 µs | 12.28 ms | 18.8× |
//! | conv3 `conv2d` 16→110, k6, 6×6 | forward | 16 | 39.3 µs | 416 µs | 10.6× |
//! | conv3 `conv2d` 16→110, k6, 6×6 | forward | 64 | 77.0 µs | 1.08 ms | 14.1× |
//! | conv3 `conv2d` 16→110, k6, 6×6 | backward | 16 | 55.9 µs | 1.42 ms | 25.3× |
//! | conv3 `conv2d` 16→110, k6, 6×6 | backward | 64 | 145 µs | 1.36 ms | 9.4× |
//! | maxp1 `max_pool2d` 3×32×32 | forward | 16 | 8.5 µs | 67.0 µs | 7.9× |
//! | maxp1 `max_pool2d` 3×32×32 | forward | 64 | 36.5 µs | 268 µs | 7.3× |
//! | maxp1 `max_pool2d` 3×32×32 | backward | 16 | 30.8 µs | 259 µs | 8.4× |
//! | maxp1 `max_pool2d` 3×32×32 | backward | 64 | 166 µs | 1.24 ms | 7.4× |
//! | maxp2 `max_pool2d` 16×12×12 | forward | 16 | 12.4 µs | 53.1 µs | 4.3× |
//! | maxp2 `max_pool2d` 16×12×12 | forward | 64 | 48.6 µs | 206 µs | 4.2× |
//! | maxp2 `max_pool2d` 16×12×12 | backward | 16 | 34.2 µs | 210 µs | 6.1× |
//! | maxp2 `max_pool2d` 16×12×12 | backward | 64 | 157 µs | 966 µs | 6.2× |
//! | relu1 `relu` 3×32×32 | forward | 16 | 5.6 µs | 5.0 µs | 0.9× |
//! | relu1 `relu` 3×32×32 | forward | 64 | 11.8 µs | 12.2 µs | 1.0× |
//! | relu1 `relu` 3×32×32 | backward | 16 | 28.7 µs | 104 µs | 3.6× |
//! | relu1 `relu` 3×32×32 | backward | 64 | 182 µs | 503 µs | 2.8× |
//! | fc1 `linear` 110→60 | forward | 16 | 5.8 µs | 26.4 µs | 4.6× |
//! | fc1 `linear` 110→60 | forward | 64 | 10.5 µs | 35.7 µs | 3.4× |
//! | fc1 `linear` 110→60 | backward | 16 | 14.7 µs | 69.0 µs | 4.7× |
//! | fc1 `linear` 110→60 | backward | 64 | 33.1 µs | 105 µs | 3.2× |
//!
//! (candle's `relu` forward is already a single parallel pass; ours matches it and is there for
//! its one-pass backward.)
//!
//! One forward and backward pass of the whole course network (mean cross-entropy over 10
//! classes, no optimizer step), per batch:
//!
//! | network path | batch 16 | batch 64 |
//! |---|---|---|
//! | ours, fused blocks: `conv2d_relu_maxpool2d` ×2, `conv2d_relu`, `linear_relu`, `linear` | 450 µs = 35,524 images/s | 1.48 ms = 43,331 images/s |
//! | ours: `conv2d_relu`, `max_pool2d`, `relu`; candle `matmul` | 704 µs = 22,734 images/s | 2.15 ms = 29,767 images/s |
//! | ours: `conv2d`, `max_pool2d`; candle `relu`, `matmul` | 943 µs = 16,964 images/s | 2.91 ms = 21,993 images/s |
//! | candle 0.11.1: `conv2d`, `relu`, `max_pool2d`, `matmul` | 11.92 ms = 1,342 images/s | 49.55 ms = 1,292 images/s |
//!
//! For comparison, eager PyTorch 2.x trains this network at about 11,800 (batch 16) and 17,900
//! (batch 64) images/s on the same machine, optimizer step included (measured for the
//! project's performance issue).
//!
//! Two settings outside the ops matter as much as the kernels on these machines:
//!
//! - **The allocator.** glibc returns freed blocks of 128 KiB and more to the kernel, and every
//!   step faults them in again page by page; page faults are expensive in the VM. Depending on
//!   the allocation history this made a whole training pass up to 1.4× and a single backward
//!   pass up to 20× slower in our measurements.
//!   Call [`keep_freed_memory`] at the start of a training program (or set
//!   `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912`).
//! - **candle's thread-count lookup.** candle 0.11.1's `matmul` asks for the thread count on
//!   every call, which reads `/proc/cpuinfo` unless `RAYON_NUM_THREADS` is set: about 25 µs per
//!   call here, 150 µs per training step of the course network with candle's linear layers
//!   (a third of the step at batch 16). [`linear`] and [`linear_relu`] avoid `matmul`; a
//!   program that keeps candle's `matmul` anywhere should set `RAYON_NUM_THREADS` before its
//!   first candle call.
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
