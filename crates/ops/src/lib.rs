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
//! - **Convolution**: im2col + matrix product image by image, with bias and ReLU applied
//!   while the output is in cache; layers with few channels (the first layer: one in, three
//!   out) use direct kernels instead, and a kernel covering the whole input (the third layer)
//!   is one product over the batch. The backward pass is one op computing the input, weight
//!   and bias gradients image by image (two products and a col2im per image).
//! - **Matrix products**: f32 products run through our own register-tiled kernels for the two
//!   layouts the ops use (a register of columns per accumulator with the left operand
//!   broadcast; or register-wide partial inner products for operands contiguous along the
//!   inner dimension), with no packing and masked tails: at these small sizes (16 × 75 × 144
//!   for the second layer) a general gemm spends much of its time packing. The kernels are
//!   written once over the register type and compiled for AVX-512 (16 lanes, 32 registers)
//!   and AVX2 + FMA (8 lanes, 16 registers); f64, and CPUs with neither, use the `gemm` crate
//!   (single-threaded per call). On AVX-512 CPUs im2col and col2im move each row with masked
//!   16-lane loads and stores, and the direct kernels have AVX-512 versions; AVX2 + FMA
//!   versions and portable code cover other CPUs. Setting [`NO_AVX512`]
//!   (`CONVLENS_NO_AVX512=1`) runs the AVX2 code on an AVX-512 CPU, for comparison.
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
//! Measured timings (per op, forward and backward, against candle 0.11.1, and for the whole
//! course network) are not copied here, where they would go stale with every kernel change:
//! they are generated by the project's benchmark and kept in
//! [`results/bench.json`](https://github.com/convlens/convlens/blob/main/results/bench.json)
//! in the repository (`results/bench-avx2.json` for the AVX2 path). The benchmark itself is
//! `cargo bench -p convlens-ops --bench ops`; its binary calls [`keep_freed_memory`] first, for
//! both implementations.
//!
//! Two settings outside the ops matter as much as the kernels on small machines:
//!
//! - **The allocator.** glibc returns freed blocks of 128 KiB and more to the kernel, and every
//!   step faults them in again page by page; page faults are expensive in a VM, and depending
//!   on the allocation history this can make a training pass, and even more a single backward
//!   pass, several times slower. Call [`keep_freed_memory`] at the start of a training program
//!   (or set
//!   `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912`).
//! - **candle's thread-count lookup.** candle 0.11.1's `matmul` asks for the thread count on
//!   every call, which reads `/proc/cpuinfo` unless `RAYON_NUM_THREADS` is set: tens of
//!   microseconds per call, a large share of a training step at small batch sizes with
//!   candle's linear layers. [`linear`] and [`linear_relu`] avoid `matmul`; a program that
//!   keeps candle's `matmul` anywhere should set `RAYON_NUM_THREADS` before its first candle
//!   call.
//!
//! # Sizes
//!
//! Every op checks, before it computes anything, that the sizes it derives from its arguments
//! (outputs, gradients, padded and im2col buffers) fit: a size that overflows `usize` or
//! exceeds [`MAX_ELEMENTS`] is an [`Error::TooLarge`] naming the op and the arguments, in
//! debug and release builds alike, whatever the shapes, paddings and strides.
//!
//! # Layout of the source
//!
//! The ops are the top-level modules (`conv`, `conv_backward`, `block`, `pool`, `relu`,
//! `linear`, `loss`); `shape` holds the argument checks and sizes they share, `custom_op` the
//! candle glue, `buffer` the outputs the kernels fill, `parallel` the split of the batch
//! between threads. Their kernels are under `kernels/`: `kernels/mod.rs` is the one place that
//! chooses a kernel's version for the element type and CPU, `kernels/portable/` holds the
//! portable kernels and `kernels/x86/{avx2,avx512}/` the vector versions, one file per kernel
//! named as its portable counterpart.

#[macro_use]
mod custom_op;

pub use block::conv2d_relu_maxpool2d;
pub use conv::{conv2d, conv2d_path, conv2d_relu, ConvPath, DIRECT_MAX_CHANNEL_PAIRS};
pub use error::Error;
pub use kernels::NO_AVX512;
pub use linear::{linear, linear_relu};
pub use loss::cross_entropy;
pub use memory::keep_freed_memory;
pub use pool::max_pool2d;
pub use relu::relu;
pub use shape::MAX_ELEMENTS;

mod block;
mod buffer;
mod conv;
mod conv_backward;
mod error;
mod kernels;
mod linear;
mod loss;
mod memory;
mod parallel;
mod pool;
mod relu;
mod shape;
