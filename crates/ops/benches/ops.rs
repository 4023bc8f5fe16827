//! Forward and backward of each op at the course network's shapes, ours against candle's stock
//! ops, plus one forward + backward pass of the whole course network on each path.
//!
//! Run with `cargo bench -p convlens-ops --bench ops`. Backward benchmarks time only
//! `backward()` of `sum(op(..))`; the forward graph is built outside the timed region. That
//! time includes candle's own bookkeeping for the sum (a zero tensor and an addition of the
//! op's output size), the same for both implementations.

use candle_core::{Device, Tensor, Var};
use divan::counter::ItemsCount;
use divan::Bencher;

fn main() {
    // The same allocator setting for every path: without it, the timings depend on the order
    // the benchmarks run in (see `keep_freed_memory`).
    convlens_ops::keep_freed_memory();
    divan::main();
}

const BATCHES: [usize; 2] = [16, 64];

fn randn(dims: &[usize]) -> Tensor {
    Tensor::randn(0f32, 1.0, dims, &Device::Cpu).expect("random tensor")
}

fn var(dims: &[usize]) -> Var {
    Var::from_tensor(&randn(dims)).expect("variable")
}

/// One convolution layer of the course network.
#[derive(Clone, Copy)]
struct ConvShape {
    c: usize,
    hw: usize,
    o: usize,
    k: usize,
    padding: usize,
    /// Whether the input takes part in autograd (false for the image fed to conv1).
    tracked_input: bool,
}

const CONV1: ConvShape = ConvShape {
    c: 1,
    hw: 28,
    o: 3,
    k: 3,
    padding: 3,
    tracked_input: false,
};
const CONV2: ConvShape = ConvShape {
    c: 3,
    hw: 16,
    o: 16,
    k: 5,
    padding: 0,
    tracked_input: true,
};
const CONV3: ConvShape = ConvShape {
    c: 16,
    hw: 6,
    o: 110,
    k: 6,
    padding: 0,
    tracked_input: true,
};

fn candle_conv(x: &Tensor, w: &Tensor, b: &Tensor, padding: usize) -> Tensor {
    let y = x.conv2d(w, padding, 1, 1, 1).expect("conv2d");
    y.broadcast_add(
        &b.reshape((1, b.dim(0).expect("bias"), 1, 1))
            .expect("reshape"),
    )
    .expect("bias")
}

fn ours_conv(x: &Tensor, w: &Tensor, b: &Tensor, padding: usize) -> Tensor {
    convlens_ops::conv2d(x, w, Some(b), padding).expect("conv2d")
}

struct ConvInputs {
    x: Tensor,
    w: Var,
    b: Var,
}

fn conv_inputs(s: ConvShape, n: usize) -> ConvInputs {
    let x = if s.tracked_input {
        var(&[n, s.c, s.hw, s.hw]).as_tensor().clone()
    } else {
        randn(&[n, s.c, s.hw, s.hw])
    };
    ConvInputs {
        x,
        w: var(&[s.o, s.c, s.k, s.k]),
        b: var(&[s.o]),
    }
}

fn bench_conv_forward(
    bencher: Bencher,
    s: ConvShape,
    n: usize,
    conv: fn(&Tensor, &Tensor, &Tensor, usize) -> Tensor,
) {
    let i = conv_inputs(s, n);
    bencher
        .counter(ItemsCount::new(n))
        .bench(|| conv(&i.x, &i.w, &i.b, s.padding));
}

fn bench_conv_backward(
    bencher: Bencher,
    s: ConvShape,
    n: usize,
    conv: fn(&Tensor, &Tensor, &Tensor, usize) -> Tensor,
) {
    let i = conv_inputs(s, n);
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| conv(&i.x, &i.w, &i.b, s.padding).sum_all().expect("loss"))
        .bench_values(|loss| loss.backward().expect("backward"));
}

macro_rules! conv_benches {
    ($name:ident, $shape:expr) => {
        conv_benches!($name, $shape, ours_conv, candle_conv);
    };
    ($name:ident, $shape:expr, $ours:ident, $candle:ident) => {
        mod $name {
            use super::*;

            #[divan::bench(args = BATCHES)]
            fn forward_ours(bencher: Bencher, n: usize) {
                bench_conv_forward(bencher, $shape, n, $ours);
            }

            #[divan::bench(args = BATCHES)]
            fn forward_candle(bencher: Bencher, n: usize) {
                bench_conv_forward(bencher, $shape, n, $candle);
            }

            #[divan::bench(args = BATCHES)]
            fn backward_ours(bencher: Bencher, n: usize) {
                bench_conv_backward(bencher, $shape, n, $ours);
            }

            #[divan::bench(args = BATCHES)]
            fn backward_candle(bencher: Bencher, n: usize) {
                bench_conv_backward(bencher, $shape, n, $candle);
            }
        }
    };
}

conv_benches!(conv1, CONV1);
conv_benches!(conv2, CONV2);
conv_benches!(conv3, CONV3);

fn ours_block(x: &Tensor, w: &Tensor, b: &Tensor, padding: usize) -> Tensor {
    convlens_ops::conv2d_relu_maxpool2d(x, w, Some(b), padding).expect("block")
}

/// candle's conv, bias, relu and max pooling (whose gradient is wrong, see `max_pool2d`; the
/// time is comparable).
fn candle_block(x: &Tensor, w: &Tensor, b: &Tensor, padding: usize) -> Tensor {
    candle_conv(x, w, b, padding)
        .relu()
        .and_then(|y| y.max_pool2d(2))
        .expect("block")
}

// The course network's two conv · relu · maxpool blocks, fused.
conv_benches!(block1, CONV1, ours_block, candle_block);
conv_benches!(block2, CONV2, ours_block, candle_block);

fn ours_pool(x: &Tensor) -> Tensor {
    convlens_ops::max_pool2d(x).expect("max_pool2d")
}

fn candle_pool(x: &Tensor) -> Tensor {
    x.max_pool2d(2).expect("max_pool2d")
}

fn bench_pool_forward(bencher: Bencher, dims: [usize; 3], n: usize, pool: fn(&Tensor) -> Tensor) {
    let x = randn(&[n, dims[0], dims[1], dims[2]]);
    bencher.counter(ItemsCount::new(n)).bench(|| pool(&x));
}

fn bench_pool_backward(bencher: Bencher, dims: [usize; 3], n: usize, pool: fn(&Tensor) -> Tensor) {
    let x = var(&[n, dims[0], dims[1], dims[2]]);
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| pool(&x).sum_all().expect("loss"))
        .bench_values(|loss| loss.backward().expect("backward"));
}

macro_rules! pool_benches {
    ($name:ident, $dims:expr) => {
        mod $name {
            use super::*;

            #[divan::bench(args = BATCHES)]
            fn forward_ours(bencher: Bencher, n: usize) {
                bench_pool_forward(bencher, $dims, n, ours_pool);
            }

            #[divan::bench(args = BATCHES)]
            fn forward_candle(bencher: Bencher, n: usize) {
                bench_pool_forward(bencher, $dims, n, candle_pool);
            }

            #[divan::bench(args = BATCHES)]
            fn backward_ours(bencher: Bencher, n: usize) {
                bench_pool_backward(bencher, $dims, n, ours_pool);
            }

            #[divan::bench(args = BATCHES)]
            fn backward_candle(bencher: Bencher, n: usize) {
                bench_pool_backward(bencher, $dims, n, candle_pool);
            }
        }
    };
}

pool_benches!(maxp1, [3, 32, 32]);
pool_benches!(maxp2, [16, 12, 12]);

fn ours_relu(x: &Tensor) -> Tensor {
    convlens_ops::relu(x).expect("relu")
}

fn candle_relu(x: &Tensor) -> Tensor {
    x.relu().expect("relu")
}

/// ReLU on conv1's output.
mod relu1 {
    use super::*;

    const DIMS: [usize; 3] = [3, 32, 32];

    #[divan::bench(args = BATCHES)]
    fn forward_ours(bencher: Bencher, n: usize) {
        bench_pool_forward(bencher, DIMS, n, ours_relu);
    }

    #[divan::bench(args = BATCHES)]
    fn forward_candle(bencher: Bencher, n: usize) {
        bench_pool_forward(bencher, DIMS, n, candle_relu);
    }

    #[divan::bench(args = BATCHES)]
    fn backward_ours(bencher: Bencher, n: usize) {
        bench_unary_backward(bencher, DIMS, n, ours_relu);
    }

    #[divan::bench(args = BATCHES)]
    fn backward_candle(bencher: Bencher, n: usize) {
        bench_unary_backward(bencher, DIMS, n, candle_relu);
    }
}

fn bench_unary_backward(bencher: Bencher, dims: [usize; 3], n: usize, op: fn(&Tensor) -> Tensor) {
    let x = var(&[n, dims[0], dims[1], dims[2]]);
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(|| op(&x).sum_all().expect("loss"))
        .bench_values(|loss| loss.backward().expect("backward"));
}

fn candle_linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    x.matmul(&w.t().expect("t"))
        .and_then(|y| y.broadcast_add(b))
        .expect("linear")
}

fn ours_linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    convlens_ops::linear(x, w, Some(b)).expect("linear")
}

/// fc1 of the course network (110 → 60).
mod fc1 {
    use super::*;

    fn forward(bencher: Bencher, n: usize, f: fn(&Tensor, &Tensor, &Tensor) -> Tensor) {
        let (x, w, b) = (randn(&[n, 110]), var(&[60, 110]), var(&[60]));
        bencher.counter(ItemsCount::new(n)).bench(|| f(&x, &w, &b));
    }

    fn backward(bencher: Bencher, n: usize, f: fn(&Tensor, &Tensor, &Tensor) -> Tensor) {
        let (x, w, b) = (var(&[n, 110]), var(&[60, 110]), var(&[60]));
        bencher
            .counter(ItemsCount::new(n))
            .with_inputs(|| f(&x, &w, &b).sum_all().expect("loss"))
            .bench_values(|loss| loss.backward().expect("backward"));
    }

    #[divan::bench(args = BATCHES)]
    fn forward_ours(bencher: Bencher, n: usize) {
        forward(bencher, n, ours_linear);
    }

    #[divan::bench(args = BATCHES)]
    fn forward_candle(bencher: Bencher, n: usize) {
        forward(bencher, n, candle_linear);
    }

    #[divan::bench(args = BATCHES)]
    fn backward_ours(bencher: Bencher, n: usize) {
        backward(bencher, n, ours_linear);
    }

    #[divan::bench(args = BATCHES)]
    fn backward_candle(bencher: Bencher, n: usize) {
        backward(bencher, n, candle_linear);
    }
}

/// The course network's parameters.
struct Network {
    conv: [(Var, Var); 3],
    fc: [(Var, Var); 2],
}

impl Network {
    fn new() -> Self {
        let conv = |s: ConvShape| (var(&[s.o, s.c, s.k, s.k]), var(&[s.o]));
        let scale = |v: Var, s: f64| {
            Var::from_tensor(&(v.as_tensor() * s).expect("scale")).expect("variable")
        };
        Self {
            conv: [conv(CONV1), conv(CONV2), conv(CONV3)].map(|(w, b)| (scale(w, 0.2), b)),
            fc: [
                (scale(var(&[60, 110]), 0.1), var(&[60])),
                (scale(var(&[10, 60]), 0.1), var(&[10])),
            ],
        }
    }

    /// Mean cross-entropy of the network on `x` with `labels`, through the given path.
    fn loss(&self, x: &Tensor, labels: &Tensor, path: Path) -> Tensor {
        let conv_relu = |x: &Tensor, i: usize, s: ConvShape| -> Tensor {
            let (w, b) = &self.conv[i];
            match path {
                Path::Candle => candle_conv(x, w, b, s.padding).relu().expect("relu"),
                Path::Ours => ours_conv(x, w, b, s.padding).relu().expect("relu"),
                Path::Fused | Path::Blocks => {
                    convlens_ops::conv2d_relu(x, w, Some(b), s.padding).expect("conv")
                }
            }
        };
        let pool = if path == Path::Candle {
            candle_pool
        } else {
            ours_pool
        };
        let relu = |x: &Tensor| match path {
            Path::Fused | Path::Blocks => convlens_ops::relu(x).expect("relu"),
            _ => x.relu().expect("relu"),
        };
        let block = |x: &Tensor, i: usize, s: ConvShape| -> Tensor {
            let (w, b) = &self.conv[i];
            match path {
                Path::Blocks => {
                    convlens_ops::conv2d_relu_maxpool2d(x, w, Some(b), s.padding).expect("block")
                }
                _ => pool(&conv_relu(x, i, s)),
            }
        };
        let h = block(x, 0, CONV1);
        let h = block(&h, 1, CONV2);
        let h = conv_relu(&h, 2, CONV3).flatten_from(1).expect("flatten");
        let (h, logits) = if path == Path::Blocks {
            let (w1, b1) = &self.fc[0];
            let (w2, b2) = &self.fc[1];
            let h = convlens_ops::linear_relu(&h, w1, Some(b1)).expect("fc1");
            let logits = convlens_ops::linear(&h, w2, Some(b2)).expect("fc2");
            (h, logits)
        } else {
            let h = relu(&candle_linear(&h, &self.fc[0].0, &self.fc[0].1));
            let logits = candle_linear(&h, &self.fc[1].0, &self.fc[1].1);
            (h, logits)
        };
        let _ = &h;
        let log_sm = candle_core::Tensor::log_sum_exp(&logits, 1)
            .and_then(|lse| logits.broadcast_sub(&lse.unsqueeze(1)?))
            .expect("log_softmax");
        let picked = log_sm.gather(labels, 1).expect("gather");
        (picked.mean_all().expect("mean") * -1.0).expect("neg")
    }
}

/// Which ops the network is built from.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    /// candle's `conv2d`, `relu` and `max_pool2d`.
    Candle,
    /// Our `conv2d` and `max_pool2d`, candle's `relu`.
    Ours,
    /// Our `conv2d_relu`, `max_pool2d` and `relu`.
    Fused,
    /// Our `conv2d_relu_maxpool2d` blocks, then `conv2d_relu`, `linear_relu` and `linear`.
    Blocks,
}

fn bench_network(bencher: Bencher, n: usize, path: Path) {
    let net = Network::new();
    let x = randn(&[n, 1, 28, 28]);
    let labels = Tensor::from_vec(
        (0..n as u32).map(|i| i % 10).collect::<Vec<_>>(),
        (n, 1),
        &Device::Cpu,
    )
    .expect("labels");
    bencher
        .counter(ItemsCount::new(n))
        .bench(|| net.loss(&x, &labels, path).backward().expect("backward"));
}

/// Forward and backward of the whole course network (no optimizer step): images per second.
mod network {
    use super::*;

    #[divan::bench(args = BATCHES)]
    fn train_pass_blocks(bencher: Bencher, n: usize) {
        bench_network(bencher, n, Path::Blocks);
    }

    #[divan::bench(args = BATCHES)]
    fn train_pass_fused(bencher: Bencher, n: usize) {
        bench_network(bencher, n, Path::Fused);
    }

    #[divan::bench(args = BATCHES)]
    fn train_pass_ours(bencher: Bencher, n: usize) {
        bench_network(bencher, n, Path::Ours);
    }

    #[divan::bench(args = BATCHES)]
    fn train_pass_candle(bencher: Bencher, n: usize) {
        bench_network(bencher, n, Path::Candle);
    }
}
