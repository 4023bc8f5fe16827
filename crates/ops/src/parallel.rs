//! How the kernels share the batch between threads.
//!
//! The images of a batch are independent, so each op splits its batch into one contiguous run
//! of images per thread and runs gemm single-threaded inside each run: at the course's small
//! matrix sizes gemm's own threading costs more than it saves. The threads are candle's own CPU
//! worker pool (`candle_core::utils::barrier_pool`, the calling thread plus
//! `CANDLE_NUM_THREADS − 1` spinning workers) rather than a second pool: candle's element-wise
//! ops already keep those workers hot between ops, and a second set of threads would compete
//! with them for the same cores. Small jobs stay on the calling thread.

use std::ops::Range;
use std::sync::{Mutex, OnceLock};

use candle_core::utils::{barrier_pool, BarrierPool};

/// Work (in multiply-adds) below which a job runs on the calling thread: waking the workers
/// costs a few microseconds.
pub(crate) const MIN_PARALLEL_WORK: usize = 1 << 17;

/// candle's worker pool and its thread count (workers plus the caller), looked up once.
fn pool() -> (&'static BarrierPool, usize) {
    static THREADS: OnceLock<usize> = OnceLock::new();
    let pool = barrier_pool();
    (pool, *THREADS.get_or_init(|| pool.n_workers() + 1))
}

/// How many runs to split `n` items into for `work` multiply-adds in total.
fn runs(n: usize, work: usize) -> usize {
    if work < MIN_PARALLEL_WORK || n < 2 {
        1
    } else {
        pool().1.min(n)
    }
}

/// A run of items and the data it works on.
type Task<T> = (Range<usize>, T);

/// Runs `f(run)` for each of `runs` on the pool, one run per thread, and returns the results in
/// run order.
fn execute<T: Send, R: Send>(
    tasks: Vec<(Range<usize>, T)>,
    f: impl Fn(Range<usize>, T) -> R + Sync,
) -> Vec<R> {
    let slots: Vec<Mutex<Option<Task<T>>>> =
        tasks.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let results: Vec<Mutex<Option<R>>> = slots.iter().map(|_| Mutex::new(None)).collect();
    let run_slot = |i: usize| {
        let task = slots.get(i).and_then(|s| s.lock().ok()?.take());
        if let Some((range, data)) = task {
            let r = f(range, data);
            if let Ok(mut slot) = results[i].lock() {
                *slot = Some(r);
            }
        }
    };
    let (pool, threads) = pool();
    // Thread `tid` takes run `tid`; the caller is thread `threads - 1`, and takes any runs
    // beyond the thread count (none, as `runs` never exceeds it).
    pool.execute(|tid| {
        run_slot(tid);
        if tid + 1 == threads {
            for i in threads..slots.len() {
                run_slot(i);
            }
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .ok()
                .flatten()
                .expect("every run is executed once (a panic in a run is re-raised by the pool)")
        })
        .collect()
}

/// Splits `0..n` into contiguous runs and calls `f` on each, in parallel when the work is large
/// enough; returns the results in run order.
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
    let tasks = (0..n)
        .step_by(len)
        .map(|s| (s..(s + len).min(n), ()))
        .collect();
    execute(tasks, |range, ()| f(range))
}

/// Splits `0..n` into contiguous runs and calls `f` on each with the run's part of `out`, which
/// holds `per_item` elements per item, in parallel when the work is large enough.
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
    let tasks = out
        .chunks_mut(len * per_item)
        .enumerate()
        .map(|(i, chunk)| (i * len..((i + 1) * len).min(n), chunk))
        .collect();
    execute(tasks, f);
}

/// Like [`for_runs_mut`] with two outputs, holding `per_a` and `per_b` elements per item.
pub(crate) fn for_runs_mut2<U: Send, V: Send>(
    a: &mut [U],
    per_a: usize,
    b: &mut [V],
    per_b: usize,
    n: usize,
    work: usize,
    f: impl Fn(Range<usize>, &mut [U], &mut [V]) + Sync,
) {
    debug_assert_eq!((a.len(), b.len()), (per_a * n, per_b * n));
    let runs = runs(n, work);
    if runs <= 1 || per_a == 0 || per_b == 0 {
        f(0..n, a, b);
        return;
    }
    let len = n.div_ceil(runs);
    let tasks = a
        .chunks_mut(len * per_a)
        .zip(b.chunks_mut(len * per_b))
        .enumerate()
        .map(|(i, chunks)| (i * len..((i + 1) * len).min(n), chunks))
        .collect();
    execute(tasks, |range, (a, b)| f(range, a, b));
}

/// Splits `0..n` into contiguous runs and calls `f` on each with the run's part of `out`
/// (`per_item` elements per item, possibly none), in parallel when the work is large enough;
/// returns the results in run order.
pub(crate) fn map_runs_mut<U: Send, R: Send>(
    out: &mut [U],
    per_item: usize,
    n: usize,
    work: usize,
    f: impl Fn(Range<usize>, &mut [U]) -> R + Sync,
) -> Vec<R> {
    debug_assert_eq!(out.len(), per_item * n);
    let runs = runs(n, work);
    if runs <= 1 {
        return vec![f(0..n, out)];
    }
    let len = n.div_ceil(runs);
    let mut tasks = Vec::with_capacity(runs);
    let mut rest = out;
    for start in (0..n).step_by(len) {
        let end = (start + len).min(n);
        let (chunk, tail) = rest.split_at_mut((end - start) * per_item);
        tasks.push((start..end, chunk));
        rest = tail;
    }
    execute(tasks, f)
}

/// Runs `a` and `b`, on two threads when there are two and the work is large enough.
pub(crate) fn join<A: Send, B: Send>(
    work: usize,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    let (pool, threads) = pool();
    if work < MIN_PARALLEL_WORK || threads < 2 {
        return (a(), b());
    }
    let (a, b) = (Mutex::new(Some(a)), Mutex::new(Some(b)));
    let (ra, rb) = (Mutex::new(None), Mutex::new(None));
    // The caller (the last thread) runs `a`, the first worker `b`.
    pool.execute(|tid| {
        if tid + 1 == threads {
            if let Some(f) = a.lock().ok().and_then(|mut f| f.take()) {
                let r = f();
                if let Ok(mut slot) = ra.lock() {
                    *slot = Some(r);
                }
            }
        } else if tid == 0 {
            if let Some(f) = b.lock().ok().and_then(|mut f| f.take()) {
                let r = f();
                if let Ok(mut slot) = rb.lock() {
                    *slot = Some(r);
                }
            }
        }
    });
    let take = "both halves run once (a panic in either is re-raised by the pool)";
    (
        ra.into_inner().ok().flatten().expect(take),
        rb.into_inner().ok().flatten().expect(take),
    )
}
