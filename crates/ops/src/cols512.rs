//! AVX-512 versions of the strided row copies of im2col and col2im for f32: each output row
//! of a convolution (12 to 32 elements at the course's shapes) moves as one or two masked
//! 16-lane loads and stores, with no per-row call or bounds check.

use std::arch::x86_64::*;

/// Lanes per register.
const LANES: usize = 16;

/// The mask of the first `n` lanes (`n ≤ 16`).
#[inline(always)]
fn first(n: usize) -> __mmask16 {
    if n >= LANES {
        0xFFFF
    } else {
        (1u16 << n) - 1
    }
}

/// Copies `rows` runs of `len` elements, run `r` from `src[r·stride..]`, into `dst` back to
/// back (`dst[r·len..(r + 1)·len]`): one kernel position's row of the im2col matrix.
///
/// # Panics
///
/// If `dst` is shorter than `rows · len` or `src` shorter than `(rows − 1)·stride + len`.
pub(crate) fn gather_rows(src: &[f32], stride: usize, len: usize, rows: usize, dst: &mut [f32]) {
    if rows == 0 || len == 0 {
        return;
    }
    assert!(dst.len() >= rows * len && src.len() >= (rows - 1) * stride + len);
    // SAFETY: the CPU supports AVX-512F (every caller checks `simd::has_avx512f`); the bounds
    // are asserted above.
    unsafe { gather_rows_avx512(src.as_ptr(), stride, len, rows, dst.as_mut_ptr()) }
}

/// Adds `src` (`rows` runs of `len` elements back to back) onto `dst`, run `r` at
/// `dst[r·stride..]`: the adjoint of [`gather_rows`].
///
/// # Panics
///
/// If `src` is shorter than `rows · len` or `dst` shorter than `(rows − 1)·stride + len`.
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
    assert!(src.len() >= rows * len && dst.len() >= (rows - 1) * stride + len);
    // SAFETY: as for `gather_rows`; runs of `dst` may overlap only when `stride < len`, and
    // each run is read and written before the next one starts.
    unsafe { scatter_add_rows_avx512(src.as_ptr(), stride, len, rows, dst.as_mut_ptr()) }
}

/// # Safety
///
/// AVX-512F; `src` valid for `(rows − 1)·stride + len` reads, `dst` for `rows · len` writes.
#[target_feature(enable = "avx512f")]
unsafe fn gather_rows_avx512(
    src: *const f32,
    stride: usize,
    len: usize,
    rows: usize,
    dst: *mut f32,
) {
    // SAFETY: every access stays within run `r` (`r·stride .. r·stride + len` of `src`,
    // `r·len .. (r + 1)·len` of `dst`); masked-off lanes are not accessed.
    unsafe {
        for r in 0..rows {
            let (s, d) = (src.add(r * stride), dst.add(r * len));
            let mut j = 0;
            while j < len {
                let m = first(len - j);
                _mm512_mask_storeu_ps(d.add(j), m, _mm512_maskz_loadu_ps(m, s.add(j)));
                j += LANES;
            }
        }
    }
}

/// # Safety
///
/// AVX-512F; `src` valid for `rows · len` reads, `dst` for `(rows − 1)·stride + len` reads
/// and writes.
#[target_feature(enable = "avx512f")]
unsafe fn scatter_add_rows_avx512(
    src: *const f32,
    stride: usize,
    len: usize,
    rows: usize,
    dst: *mut f32,
) {
    // SAFETY: as for `gather_rows_avx512`, with the roles of the slices swapped.
    unsafe {
        for r in 0..rows {
            let (s, d) = (src.add(r * len), dst.add(r * stride));
            let mut j = 0;
            while j < len {
                let m = first(len - j);
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

    #[test]
    fn gather_and_scatter_add_move_exactly_the_runs() {
        if !crate::simd::has_avx512f() {
            eprintln!("skipped: the CPU lacks AVX-512F");
            return;
        }
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
            gather_rows(&src, stride, len, rows, &mut dst);
            for r in 0..rows {
                for j in 0..len {
                    assert_eq!(
                        dst[r * len + j],
                        src[r * stride + j],
                        "run {r}, element {j}"
                    );
                }
            }
            assert!(
                dst[rows * len..].iter().all(|&v| v == -1.),
                "wrote past the runs"
            );

            let mut acc = vec![0.5f32; span + 7];
            scatter_add_rows(&dst[..rows * len], stride, len, rows, &mut acc);
            for (i, &v) in acc.iter().enumerate() {
                let (r, j) = (i / stride, i % stride);
                let inside = r < rows && j < len;
                let want = if inside { 0.5 + src[i] } else { 0.5 };
                assert_eq!(v, want, "element {i}");
            }
        }
    }
}
