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
//! Measured with `cargo bench -p convlens-ops --bench ops` (divan; the median of 100 samples,
//! best of three runs) on the course's machine: a 2-core x86-64 KVM guest (Intel Xeon,
//! family 6 model 207, with AVX-512, which these kernels use), both cores
//! used through candle's default thread count, other processes idle. Backward times
//! are `backward()` of `sum(op(..))` alone, including candle's bookkeeping for the sum; the
//! benchmark binary calls [`keep_freed_memory`] first, for both implementations.
//!
//! | op (course shape) | pass | batch | ours | candle 0.11.1 | speed-up |
//! |---|---|---|---|---|---|
//! | conv1 `conv2d` 1→3, k3, pad 3, 28×28 | forward | 16 | 10.2 µs | 689 µs | 67.2× |
//! | conv1 `conv2d` 1→3, k3, pad 3, 28×28 | forward | 64 | 24.6 µs | 2.88 ms | 117.2× |
//! | conv1 `conv2d` 1→3, k3, pad 3, 28×28 | backward | 16 | 37.0 µs | 2.24 ms | 60.5× |
//! | conv1 `conv2d` 1→3, k3, pad 3, 28×28 | backward | 64 | 104 µs | 9.35 ms | 89.5× |
//! | conv2 `conv2d` 3→16, k5, 16×16 | forward | 16 | 35.6 µs | 569 µs | 16.0× |
//! | conv2 `conv2d` 3→16, k5, 16×16 | forward | 64 | 135 µs | 2.34 ms | 17.4× |
//! | conv2 `conv2d` 3→16, k5, 16×16 | backward | 16 | 123 µs | 4.07 ms | 33.1× |
//! | conv2 `conv2d` 3→16, k5, 16×16 | backward | 64 | 438 µs | 12.30 ms | 28.1× |
//! | conv3 `conv2d` 16→110, k6, 6×6 | forward | 16 | 11.6 µs | 394 µs | 34.0× |
//! | conv3 `conv2d` 16→110, k6, 6×6 | forward | 64 | 54.1 µs | 1.02 ms | 18.8× |
//! | conv3 `conv2d` 16→110, k6, 6×6 | backward | 16 | 43.1 µs | 1.38 ms | 32.1× |
//! | conv3 `conv2d` 16→110, k6, 6×6 | backward | 64 | 98.1 µs | 1.38 ms | 14.0× |
//! | maxp1 `max_pool2d` 3×32×32 | forward | 16 | 9.4 µs | 66.7 µs | 7.1× |
//! | maxp1 `max_pool2d` 3×32×32 | forward | 64 | 34.7 µs | 268 µs | 7.7× |
//! | maxp1 `max_pool2d` 3×32×32 | backward | 16 | 30.8 µs | 245 µs | 8.0× |
//! | maxp1 `max_pool2d` 3×32×32 | backward | 64 | 161 µs | 1.14 ms | 7.1× |
//! | maxp2 `max_pool2d` 16×12×12 | forward | 16 | 12.3 µs | 53.1 µs | 4.3× |
//! | maxp2 `max_pool2d` 16×12×12 | forward | 64 | 49.3 µs | 205 µs | 4.2× |
//! | maxp2 `max_pool2d` 16×12×12 | backward | 16 | 35.6 µs | 183 µs | 5.1× |
//! | maxp2 `max_pool2d` 16×12×12 | backward | 64 | 159 µs | 847 µs | 5.3× |
//! | relu1 `relu` 3×32×32 | forward | 16 | 5.3 µs | 5.0 µs | 0.9× |
//! | relu1 `relu` 3×32×32 | forward | 64 | 13.3 µs | 11.8 µs | 0.9× |
//! | relu1 `relu` 3×32×32 | backward | 16 | 28.8 µs | 104 µs | 3.6× |
//! | relu1 `relu` 3×32×32 | backward | 64 | 192 µs | 500 µs | 2.6× |
//! | fc1 `linear` 110→60 | forward | 16 | 3.2 µs | 25.3 µs | 8.0× |
//! | fc1 `linear` 110→60 | forward | 64 | 7.8 µs | 30.7 µs | 4.0× |
//! | fc1 `linear` 110→60 | backward | 16 | 9.6 µs | 69.5 µs | 7.2× |
//! | fc1 `linear` 110→60 | backward | 64 | 26.0 µs | 94.5 µs | 3.6× |
//! | conv1 · relu · maxp1, fused `conv2d_relu_maxpool2d` | forward | 16 | 15.5 µs | 796 µs | 51.3× |
//! | conv1 · relu · maxp1, fused `conv2d_relu_maxpool2d` | forward | 64 | 54.7 µs | 3.18 ms | 58.1× |
//! | conv1 · relu · maxp1, fused `conv2d_relu_maxpool2d` | backward | 16 | 28.1 µs | 2.61 ms | 92.7× |
//! | conv1 · relu · maxp1, fused `conv2d_relu_maxpool2d` | backward | 64 | 78.2 µs | 10.95 ms | 140.0× |
//! | conv2 · relu · maxp2, fused `conv2d_relu_maxpool2d` | forward | 16 | 43.8 µs | 631 µs | 14.4× |
//! | conv2 · relu · maxp2, fused `conv2d_relu_maxpool2d` | forward | 64 | 166 µs | 2.65 ms | 15.9× |
//! | conv2 · relu · maxp2, fused `conv2d_relu_maxpool2d` | backward | 16 | 119 µs | 4.43 ms | 37.2× |
//! | conv2 · relu · maxp2, fused `conv2d_relu_maxpool2d` | backward | 64 | 423 µs | 13.87 ms | 32.8× |
//!
//! (candle's `relu` forward is already a single parallel pass; ours matches it and is there for
//! its one-pass backward.)
//!
//! One forward and backward pass of the whole course network (mean cross-entropy over 10
//! classes, no optimizer step), per batch:
//!
//! | network path | batch 16 | batch 64 |
//! |---|---|---|
//! | ours, fused blocks: `conv2d_relu_maxpool2d` ×2, `conv2d_relu`, `linear_relu`, `linear` | 300 µs = 53,387 images/s | 932 µs = 68,677 images/s |
//! | ours: `conv2d_relu`, `max_pool2d`, `relu`; candle `matmul` | 594 µs = 26,941 images/s | 1.63 ms = 39,360 images/s |
//! | ours: `conv2d`, `max_pool2d`; candle `relu`, `matmul` | 798 µs = 20,055 images/s | 2.54 ms = 25,167 images/s |
//! | candle 0.11.1: `conv2d`, `relu`, `max_pool2d`, `matmul` | 11.08 ms = 1,444 images/s | 37.08 ms = 1,726 images/s |
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

/// Implements candle's `CustomOp2` (no bias) and `CustomOp3` (with bias) for an op type
/// whose inherent `fwd(x, w, Option<b>)` and `bwd(x, w, Option<b>, res, grad)` do the work,
/// with `OP` in scope as its name.
macro_rules! custom_op_with_optional_bias {
    ($ty:ty) => {
        impl candle_core::CustomOp2 for $ty {
            fn name(&self) -> &'static str {
                OP
            }

            fn cpu_fwd(
                &self,
                xs: &candle_core::CpuStorage,
                xl: &candle_core::Layout,
                ws: &candle_core::CpuStorage,
                wl: &candle_core::Layout,
            ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
                self.fwd((xs, xl), (ws, wl), None)
            }

            fn bwd(
                &self,
                x: &candle_core::Tensor,
                w: &candle_core::Tensor,
                res: &candle_core::Tensor,
                grad: &candle_core::Tensor,
            ) -> candle_core::Result<(Option<candle_core::Tensor>, Option<candle_core::Tensor>)>
            {
                let (dx, dw, _) = <$ty>::bwd(self, x, w, None, res, grad)?;
                Ok((dx, dw))
            }
        }

        impl candle_core::CustomOp3 for $ty {
            fn name(&self) -> &'static str {
                OP
            }

            fn cpu_fwd(
                &self,
                xs: &candle_core::CpuStorage,
                xl: &candle_core::Layout,
                ws: &candle_core::CpuStorage,
                wl: &candle_core::Layout,
                bs: &candle_core::CpuStorage,
                bl: &candle_core::Layout,
            ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
                self.fwd((xs, xl), (ws, wl), Some((bs, bl)))
            }

            fn bwd(
                &self,
                x: &candle_core::Tensor,
                w: &candle_core::Tensor,
                b: &candle_core::Tensor,
                res: &candle_core::Tensor,
                grad: &candle_core::Tensor,
            ) -> candle_core::Result<(
                Option<candle_core::Tensor>,
                Option<candle_core::Tensor>,
                Option<candle_core::Tensor>,
            )> {
                <$ty>::bwd(self, x, w, Some(b), res, grad)
            }
        }
    };
}

pub use block::conv2d_relu_maxpool2d;
pub use conv::{conv2d, conv2d_relu};
pub use error::Error;
pub use linear::{linear, linear_relu};
pub use loss::cross_entropy;
pub use memory::keep_freed_memory;
pub use pool::max_pool2d;
pub use relu::relu;
pub use simd::NO_AVX512;

mod block;
#[cfg(target_arch = "x86_64")]
mod cols512;
mod conv;
mod conv_backward;
mod direct;
#[cfg(target_arch = "x86_64")]
mod direct_avx2;
#[cfg(target_arch = "x86_64")]
mod direct_avx512;
mod element;
mod error;
mod kernels;
mod layout4;
mod linear;
mod loss;
mod memory;
mod parallel;
mod pool;
#[cfg(target_arch = "x86_64")]
mod pool_avx2;
mod relu;
mod simd;
#[cfg(target_arch = "x86_64")]
mod smallgemm;
