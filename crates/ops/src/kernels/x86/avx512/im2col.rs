//! AVX-512 versions of the strided row copies of im2col and col2im for f32 (the portable ones
//! are `gather_rows` and `scatter_add_rows` in `kernels/portable/im2col.rs`): each output row
//! of a convolution (12 to 32 elements at the course's shapes) moves as one or two masked
//! 16-lane loads and stores, with no per-row call or bounds check.

use std::arch::x86_64::*;

use super::first_lanes;
use crate::shape::fits;

/// Lanes per register.
const LANES: usize = 16;

/// Whether `rows ≥ 1` runs of `len` elements, `stride` apart, lie inside `total` elements
/// (`(rows − 1)·stride + len ≤ total`, without overflow).
fn run_span(rows: usize, stride: usize, len: usize, total: usize) -> bool {
    (rows - 1)
        .checked_mul(stride)
        .and_then(|s| s.checked_add(len))
        .is_some_and(|s| s <= total)
}

/// Copies `rows` runs of `len` elements, run `r` from `src[r·stride..]`, into `dst` back
/// to back (`dst[r·len..(r + 1)·len]`): one kernel position's row of the im2col matrix.
///
/// # Panics
///
/// If `dst` is shorter than `rows · len` or `src` shorter than `(rows − 1)·stride + len`.
#[target_feature(enable = "avx512f")]
pub(crate) fn gather_rows(src: &[f32], stride: usize, len: usize, rows: usize, dst: &mut [f32]) {
    if rows == 0 || len == 0 {
        return;
    }
    assert!(fits(&[rows, len], dst.len()) && run_span(rows, stride, len, src.len()));
    let (src, dst) = (src.as_ptr(), dst.as_mut_ptr());
    // SAFETY: AVX-512F is enabled; every access stays within run `r` (`r·stride .. r·stride +
    // len` of `src`, `r·len .. (r + 1)·len` of `dst`), inside the slices (asserted above);
    // masked-off lanes are not accessed.
    unsafe {
        for r in 0..rows {
            let (s, d) = (src.add(r * stride), dst.add(r * len));
            let mut j = 0;
            while j < len {
                let m = first_lanes(len - j);
                _mm512_mask_storeu_ps(d.add(j), m, _mm512_maskz_loadu_ps(m, s.add(j)));
                j += LANES;
            }
        }
    }
}

/// Adds `src` (`rows` runs of `len` elements back to back) onto `dst`, run `r` at
/// `dst[r·stride..]`: the adjoint of [`gather_rows`].
///
/// # Panics
///
/// If `src` is shorter than `rows · len` or `dst` shorter than `(rows − 1)·stride + len`.
#[target_feature(enable = "avx512f")]
pub(crate) fn scatter_add_rows(
    src: &[f32],
    stride: usize,
    len: usize,
    rows: usize,
    dst: &mut [f32],
) {
    if rows == 0 || len == 0 {
        return;
    }
    assert!(fits(&[rows, len], src.len()) && run_span(rows, stride, len, dst.len()));
    let (src, dst) = (src.as_ptr(), dst.as_mut_ptr());
    // SAFETY: as in `gather_rows`, with the roles of the slices swapped; runs of `dst` may
    // overlap only when `stride < len`, and each run is read and written before the next one
    // starts.
    unsafe {
        for r in 0..rows {
            let (s, d) = (src.add(r * len), dst.add(r * stride));
            let mut j = 0;
            while j < len {
                let m = first_lanes(len - j);
                let sum = _mm512_add_ps(
                    _mm512_maskz_loadu_ps(m, d.add(j)),
                    _mm512_maskz_loadu_ps(m, s.add(j)),
                );
                _mm512_mask_storeu_ps(d.add(j), m, sum);
                j += LANES;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row kernel: `(src, stride, len, rows, dst)`.
    type Rows = fn(&[f32], usize, usize, usize, &mut [f32]);

    /// The gather and scatter-add kernels this CPU runs, the portable ones first.
    fn kernels() -> Vec<(&'static str, Rows, Rows)> {
        use crate::kernels::portable::im2col;
        let mut k: Vec<(&'static str, Rows, Rows)> = vec![(
            "portable",
            im2col::gather_rows::<f32>,
            im2col::scatter_add_rows::<f32>,
        )];
        if crate::kernels::x86::has_avx512f() {
            k.push((
                "AVX-512",
                |src, stride, len, rows, dst| {
                    // SAFETY: the CPU supports AVX-512F (checked above).
                    unsafe { gather_rows(src, stride, len, rows, dst) }
                },
                |src, stride, len, rows, dst| {
                    // SAFETY: as above.
                    unsafe { scatter_add_rows(src, stride, len, rows, dst) }
                },
            ));
        }
        k
    }

    #[test]
    fn gather_and_scatter_add_move_exactly_the_runs() {
        let kernels = kernels();
        let names: Vec<&str> = kernels.iter().map(|&(name, ..)| name).collect();
        eprintln!(
            "im2col row kernels checked: {names:?} (the others are not supported by this CPU)"
        );
        assert_eq!(
            names.first(),
            Some(&"portable"),
            "the portable kernels run everywhere"
        );
        for (name, gather, scatter_add) in kernels {
            for (len, stride, rows) in [
                (12, 16, 12),
                (32, 34, 32),
                (1, 3, 5),
                (17, 20, 3),
                (5, 5, 4),
            ] {
                let span = (rows - 1) * stride + len;
                let src: Vec<f32> = (0..span + 7).map(|i| i as f32).collect();
                let mut dst = vec![-1f32; rows * len + 5];
                gather(&src, stride, len, rows, &mut dst);
                for r in 0..rows {
                    for j in 0..len {
                        assert_eq!(
                            dst[r * len + j],
                            src[r * stride + j],
                            "{name}: run {r}, element {j}"
                        );
                    }
                }
                assert!(
                    dst[rows * len..].iter().all(|&v| v == -1.),
                    "{name}: wrote past the runs"
                );

                let mut acc = vec![0.5f32; span + 7];
                scatter_add(&dst[..rows * len], stride, len, rows, &mut acc);
                for (i, &v) in acc.iter().enumerate() {
                    let (r, j) = (i / stride, i % stride);
                    let inside = r < rows && j < len;
                    let want = if inside { 0.5 + src[i] } else { 0.5 };
                    assert_eq!(v, want, "{name}: element {i}");
                }
            }
        }
    }
}
