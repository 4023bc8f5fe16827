//! How the kernels share the batch between threads.
//!
//! The images of a batch are independent, so each op splits its batch into one contiguous run
//! of images per rayon thread and runs gemm single-threaded inside each run: on a few cores this
//! beats parallel gemm at the course's small matrix sizes, where gemm's own threading costs more
//! than it saves. Small jobs stay on the calling thread.

use std::ops::Range;
use std::sync::OnceLock;

use rayon::prelude::*;

/// Work (in multiply-adds) below which a job runs on the calling thread: handing work to
/// another thread costs a few microseconds.
pub(crate) const MIN_PARALLEL_WORK: usize = 1 << 18;

/// The number of rayon threads, looked up once.
fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(rayon::current_num_threads)
}

/// How many runs to split `n` items into for `work` multiply-adds in total.
fn runs(n: usize, work: usize) -> usize {
    if work < MIN_PARALLEL_WORK {
        1
    } else {
        threads().min(n).max(1)
    }
}

/// Splits `0..n` into runs and calls `f` on each, in parallel when the work is large enough.
pub(crate) fn map_runs<R: Send>(
    n: usize,
    work: usize,
    f: impl Fn(Range<usize>) -> R + Sync,
) -> Vec<R> {
    let runs = runs(n, work);
    if runs <= 1 {
        return vec![f(0..n)];
    }
    let len = n.div_ceil(runs);
    (0..runs)
        .into_par_iter()
        .map(|i| f(i * len..((i + 1) * len).min(n)))
        .collect()
}

/// Splits `0..n` into runs and calls `f` on each with the run's part of `out`, which holds
/// `per_item` elements per item, in parallel when the work is large enough.
pub(crate) fn for_runs_mut<U: Send>(
    out: &mut [U],
    per_item: usize,
    n: usize,
    work: usize,
    f: impl Fn(Range<usize>, &mut [U]) + Sync,
) {
    debug_assert_eq!(out.len(), per_item * n);
    let runs = runs(n, work);
    if runs <= 1 || per_item == 0 {
        f(0..n, out);
        return;
    }
    let len = n.div_ceil(runs);
    out.par_chunks_mut(len * per_item)
        .enumerate()
        .for_each(|(i, chunk)| f(i * len..((i + 1) * len).min(n), chunk));
}
