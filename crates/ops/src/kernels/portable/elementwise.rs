//! Element-wise passes: the epilogues of the convolution and linear layers (bias, ReLU), the
//! bias gradient's row sums, and ReLU with its gradient mask.

use std::mem::MaybeUninit;

use crate::kernels::{multiversion, Element};

multiversion! {
/// Adds `bias[r]` to row `r` of the `bias.len() × cols` row-major matrix `m` and applies ReLU
/// if asked: the epilogue of a convolution whose rows are output channels.
pub(crate) fn bias_relu_rows<T: Element>(m: &mut [T], bias: Option<&[T]>, cols: usize, relu: bool) {
    for (r, row) in m.chunks_exact_mut(cols.max(1)).enumerate() {
        let b = bias.map_or(T::ZERO, |b| b[r]);
        for v in row {
            let y = *v + b;
            *v = if relu && y < T::ZERO { T::ZERO } else { y };
        }
    }
}
}

multiversion! {
/// Adds `bias` to every row of the row-major matrix `m` (rows of `bias.len()`, one per output
/// channel) and applies ReLU if asked: the epilogue of a convolution whose columns are output
/// channels.
pub(crate) fn bias_relu_cols<T: Element>(m: &mut [T], bias: Option<&[T]>, cols: usize, relu: bool) {
    for row in m.chunks_exact_mut(cols.max(1)) {
        match bias {
            Some(b) => {
                for (v, &b) in row.iter_mut().zip(b) {
                    let y = *v + b;
                    *v = if relu && y < T::ZERO { T::ZERO } else { y };
                }
            }
            None if relu => {
                for v in row {
                    *v = if *v < T::ZERO { T::ZERO } else { *v };
                }
            }
            None => {}
        }
    }
}
}

multiversion! {
/// Adds the sum of each row of the row-major matrix `m` (rows of `cols`) to `sums`.
pub(crate) fn add_row_sums<T: Element>(m: &[T], cols: usize, sums: &mut [T]) {
    for (s, row) in sums.iter_mut().zip(m.chunks_exact(cols.max(1))) {
        // Eight independent partial sums, so the compiler can keep them in one vector
        // (a single running sum would be a serial chain it may not reorder).
        let mut lanes = [T::ZERO; 8];
        let mut chunks = row.chunks_exact(8);
        for c in &mut chunks {
            for (l, &v) in lanes.iter_mut().zip(c) {
                *l += v;
            }
        }
        let mut total = T::ZERO;
        for &v in chunks.remainder() {
            total += v;
        }
        for l in lanes {
            total += l;
        }
        *s += total;
    }
}
}

multiversion! {
/// `out = relu(x)` element-wise, keeping NaN.
pub(crate) fn relu_into<T: Element>(x: &[T], out: &mut [MaybeUninit<T>]) {
    for (o, &v) in out.iter_mut().zip(x) {
        // A select, not `max`: `f32::max` would turn NaN into 0.
        *o = MaybeUninit::new(if v < T::ZERO { T::ZERO } else { v });
    }
}
}

multiversion! {
/// `out = grad` where `res > 0`, zero elsewhere, element-wise.
pub(crate) fn masked_into<T: Element>(res: &[T], grad: &[T], out: &mut [MaybeUninit<T>]) {
    for ((o, &r), &g) in out.iter_mut().zip(res).zip(grad) {
        *o = MaybeUninit::new(if r > T::ZERO { g } else { T::ZERO });
    }
}
}
