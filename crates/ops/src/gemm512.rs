//! An f32 matrix product for AVX-512 CPUs, written for the small matrices of the course
//! network (a few dozen to a few hundred rows and columns, inner dimensions of 16 to 576).
//!
//! At these sizes a general gemm spends much of its time packing operands into panels and
//! choosing blocks. The products the ops need come in two layouts, and each gets a register
//! -tiled kernel that reads its operands where they lie:
//!
//! - **NN** (`rhs` rows contiguous): 16 columns per zmm register, up to 4 registers wide; the
//!   left operand is broadcast element by element (any strides), so `lhs` may be a transposed
//!   view. Partial column groups use masked loads and stores.
//! - **NT** (`lhs` rows and `rhs` columns contiguous along the inner dimension): 16 inner
//!   products per register, a 4 × 4 tile of outputs at once, each reduced across its lanes at
//!   the end; the inner dimension's tail is a masked load.
//!
//! Other layouts are left to the `gemm` crate (see `kernels::gemm`). Every output element is a
//! sum in a fixed order, so results do not depend on how a caller splits the rows.

use std::arch::x86_64::*;

use crate::kernels::Mat;

/// Whether [`gemm`] computes `lhs · rhs` into a destination with column stride `dst_cs`.
pub(crate) fn supports(lhs: &Mat<'_, f32>, rhs: &Mat<'_, f32>, dst_cs: usize) -> bool {
    dst_cs == 1 && (rhs.cs == 1 || (lhs.cs == 1 && rhs.rs == 1))
}

/// `dst[m×n] = lhs[m×k] · rhs[k×n]`, or `dst += lhs · rhs` when `accumulate`; `dst` has row
/// stride `dst_rs` and column stride 1. `dst` is only read when `accumulate` is set.
///
/// # Safety
///
/// The CPU supports AVX-512F; [`supports`] holds; each matrix lies inside its slice and `dst`
/// (valid for writes of `(m − 1)·dst_rs + n` elements) does not overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)] // the shape, the destination and two strided operands
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: Mat<'_, f32>,
    rhs: Mat<'_, f32>,
) {
    if k == 0 {
        // An empty sum: the operands may be empty slices, so no pointer into them is formed.
        if !accumulate {
            for i in 0..m {
                // SAFETY: row `i` of `dst` holds `n` elements (caller).
                unsafe { std::ptr::write_bytes(dst.add(i * dst_rs), 0, n) };
            }
        }
        return;
    }
    let c = Out {
        ptr: dst,
        rs: dst_rs,
        accumulate,
    };
    let a = Operand::of(&lhs);
    let b = Operand::of(&rhs);
    // SAFETY: forwarded from the caller (AVX-512F; bounds; no overlap).
    unsafe {
        if rhs.cs == 1 {
            nn(m, n, k, a, b, c);
        } else {
            nt(m, n, k, a, b, c);
        }
    }
}

/// A strided operand as a raw pointer.
#[derive(Clone, Copy)]
struct Operand {
    ptr: *const f32,
    rs: usize,
    cs: usize,
}

impl Operand {
    fn of(m: &Mat<'_, f32>) -> Self {
        Self {
            ptr: m.data.as_ptr(),
            rs: m.rs,
            cs: m.cs,
        }
    }

    /// The operand from element `(i, j)` on.
    ///
    /// # Safety
    ///
    /// `(i, j)` lies inside the operand.
    #[inline(always)]
    unsafe fn at(self, i: usize, j: usize) -> Self {
        Self {
            // SAFETY: inside the operand (caller).
            ptr: unsafe { self.ptr.add(i * self.rs + j * self.cs) },
            ..self
        }
    }
}

/// The destination: row stride `rs`, column stride 1.
#[derive(Clone, Copy)]
struct Out {
    ptr: *mut f32,
    rs: usize,
    accumulate: bool,
}

impl Out {
    /// The destination from element `(i, j)` on.
    ///
    /// # Safety
    ///
    /// `(i, j)` lies inside the destination.
    #[inline(always)]
    unsafe fn at(self, i: usize, j: usize) -> Self {
        Self {
            // SAFETY: inside the destination (caller).
            ptr: unsafe { self.ptr.add(i * self.rs + j) },
            ..self
        }
    }
}

/// Column-group widths (in registers of 16) and the rows each NN tile covers: wide tiles
/// need fewer rows to keep 24 accumulators busy; all fit the 32 zmm registers with the
/// loaded `rhs` vectors.
const NN_ROWS: [usize; 5] = [0, 12, 12, 8, 6];

/// Lanes per register.
const LANES: usize = 16;

/// The NN product, tile by tile: column groups of up to 64, row groups of [`NN_ROWS`].
///
/// # Safety
///
/// As for [`gemm`], with `b.cs == 1`.
#[target_feature(enable = "avx512f")]
unsafe fn nn(m: usize, n: usize, k: usize, a: Operand, b: Operand, c: Out) {
    let mut j = 0;
    while j < n {
        let cols = (n - j).min(4 * LANES);
        let nv = cols.div_ceil(LANES);
        let tail = cols - (nv - 1) * LANES;
        let mask: __mmask16 = if tail == LANES {
            0xFFFF
        } else {
            (1u16 << tail) - 1
        };
        let rows = NN_ROWS[nv];
        let mut i = 0;
        while i < m {
            let mr = (m - i).min(rows);
            // SAFETY: `(i, j)` is inside every operand; the tile reads `a` rows `i..i + mr`,
            // `b` columns `j..j + cols` and writes the same block of `c` (masked).
            unsafe {
                nn_tile_dispatch(nv, mr, k, a.at(i, 0), b.at(0, j), c.at(i, j), mask);
            }
            i += mr;
        }
        j += cols;
    }
}

/// Calls the NN tile kernel for `nv` registers and `mr` rows.
///
/// # Safety
///
/// As for [`nn_tile`], with `1 ≤ nv ≤ 4` and `1 ≤ mr ≤ NN_ROWS[nv]`.
#[target_feature(enable = "avx512f")]
unsafe fn nn_tile_dispatch(
    nv: usize,
    mr: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: Out,
    mask: __mmask16,
) {
    macro_rules! rows {
        ($nv:literal; $($mr:literal)*) => {
            match mr {
                $($mr => nn_tile::<$mr, $nv>(k, a, b, c, mask),)*
                _ => unreachable!("tile of {mr} rows"),
            }
        };
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        match nv {
            1 => rows!(1; 1 2 3 4 5 6 7 8 9 10 11 12),
            2 => rows!(2; 1 2 3 4 5 6 7 8 9 10 11 12),
            3 => rows!(3; 1 2 3 4 5 6 7 8),
            4 => rows!(4; 1 2 3 4 5 6),
            _ => unreachable!("tile of {nv} registers"),
        }
    }
}

/// One NN tile: `c[MR × 16·NV] (+)= a[MR × k] · b[k × 16·NV]`, the last register of each row
/// loaded and stored through `mask`.
///
/// # Safety
///
/// AVX-512F; `a` has `MR` rows and `b` `k` rows; every unmasked element of the tile lies
/// inside its matrix (masked-off lanes are never accessed).
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn nn_tile<const MR: usize, const NV: usize>(
    k: usize,
    a: Operand,
    b: Operand,
    c: Out,
    mask: __mmask16,
) {
    let mut acc = [[_mm512_setzero_ps(); NV]; MR];
    let (mut ap, mut bp) = (a.ptr, b.ptr);
    // SAFETY: row `p < k` of `b` and column `p` of `a` are inside their matrices; the last
    // register of a `b` row is masked to the tile's columns.
    unsafe {
        for _ in 0..k {
            let mut bv = [_mm512_setzero_ps(); NV];
            for (v, r) in bv.iter_mut().enumerate() {
                *r = if v + 1 == NV {
                    _mm512_maskz_loadu_ps(mask, bp.add(v * LANES))
                } else {
                    _mm512_loadu_ps(bp.add(v * LANES))
                };
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*ap.add(i * a.rs));
                for (r, &y) in row.iter_mut().zip(&bv) {
                    *r = _mm512_fmadd_ps(x, y, *r);
                }
            }
            ap = ap.add(a.cs);
            bp = bp.add(b.rs);
        }
        for (i, row) in acc.iter().enumerate() {
            for (v, &r) in row.iter().enumerate() {
                let dst = c.ptr.add(i * c.rs + v * LANES);
                let m = if v + 1 == NV { mask } else { 0xFFFF };
                let r = if c.accumulate {
                    _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), r)
                } else {
                    r
                };
                _mm512_mask_storeu_ps(dst, m, r);
            }
        }
    }
}

/// Rows and columns of an NT tile.
const NT_TILE: usize = 4;

/// The NT product, in tiles of up to 4 × 4 outputs.
///
/// # Safety
///
/// As for [`gemm`], with `a.cs == 1` and `b.rs == 1`.
#[target_feature(enable = "avx512f")]
unsafe fn nt(m: usize, n: usize, k: usize, a: Operand, b: Operand, c: Out) {
    let tail = k % LANES;
    let mask: __mmask16 = if tail == 0 { 0 } else { (1u16 << tail) - 1 };
    let mut i = 0;
    while i < m {
        let mr = (m - i).min(NT_TILE);
        let mut j = 0;
        while j < n {
            let nr = (n - j).min(NT_TILE);
            // SAFETY: `(i, j)` is inside every operand; the tile reads `a` rows `i..i + mr`
            // and `b` columns `j..j + nr` over `k` and writes that block of `c`.
            unsafe {
                nt_tile_dispatch(mr, nr, k, a.at(i, 0), b.at(0, j), c.at(i, j), mask);
            }
            j += nr;
        }
        i += mr;
    }
}

/// Calls the NT tile kernel for `mr × nr` outputs.
///
/// # Safety
///
/// As for [`nt_tile`], with `1 ≤ mr, nr ≤ 4`.
#[target_feature(enable = "avx512f")]
unsafe fn nt_tile_dispatch(
    mr: usize,
    nr: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: Out,
    mask: __mmask16,
) {
    macro_rules! cols {
        ($mr:literal) => {
            match nr {
                1 => nt_tile::<$mr, 1>(k, a, b, c, mask),
                2 => nt_tile::<$mr, 2>(k, a, b, c, mask),
                3 => nt_tile::<$mr, 3>(k, a, b, c, mask),
                4 => nt_tile::<$mr, 4>(k, a, b, c, mask),
                _ => unreachable!("tile of {nr} columns"),
            }
        };
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        match mr {
            1 => cols!(1),
            2 => cols!(2),
            3 => cols!(3),
            4 => cols!(4),
            _ => unreachable!("tile of {mr} rows"),
        }
    }
}

/// One NT tile: `c[MR × NR] (+)= a[MR × k] · b[k × NR]` with `a`'s rows and `b`'s columns
/// contiguous; `mask` covers the last `k mod 16` elements of each.
///
/// # Safety
///
/// AVX-512F; `a` has `MR` rows of `k` contiguous elements, `b` `NR` columns of `k`
/// contiguous elements, `c` an `MR × NR` block.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn nt_tile<const MR: usize, const NR: usize>(
    k: usize,
    a: Operand,
    b: Operand,
    c: Out,
    mask: __mmask16,
) {
    let mut acc = [[_mm512_setzero_ps(); NR]; MR];
    let full = k - k % LANES;
    // SAFETY: every load reads elements `p..p + 16` with `p + 16 ≤ full ≤ k` of a row of `a`
    // or a column of `b`, or, masked, the tail `full..k`; stores write the tile of `c`.
    unsafe {
        let mut p = 0;
        while p < full {
            let mut bv = [_mm512_setzero_ps(); NR];
            for (jj, v) in bv.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(b.ptr.add(jj * b.cs + p));
            }
            for (ii, row) in acc.iter_mut().enumerate() {
                let x = _mm512_loadu_ps(a.ptr.add(ii * a.rs + p));
                for (r, &y) in row.iter_mut().zip(&bv) {
                    *r = _mm512_fmadd_ps(x, y, *r);
                }
            }
            p += LANES;
        }
        if mask != 0 {
            let mut bv = [_mm512_setzero_ps(); NR];
            for (jj, v) in bv.iter_mut().enumerate() {
                *v = _mm512_maskz_loadu_ps(mask, b.ptr.add(jj * b.cs + p));
            }
            for (ii, row) in acc.iter_mut().enumerate() {
                let x = _mm512_maskz_loadu_ps(mask, a.ptr.add(ii * a.rs + p));
                for (r, &y) in row.iter_mut().zip(&bv) {
                    *r = _mm512_fmadd_ps(x, y, *r);
                }
            }
        }
        for (ii, row) in acc.iter().enumerate() {
            for (jj, &r) in row.iter().enumerate() {
                let dst = c.ptr.add(ii * c.rs + jj);
                let s = _mm512_reduce_add_ps(r);
                *dst = if c.accumulate { *dst + s } else { s };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1).
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.
            })
            .collect()
    }

    /// Runs [`gemm`] for `m × k · k × n` with the operands in the given orientation
    /// (`true`: stored transposed) and checks every output against an f64 reference.
    fn check(m: usize, n: usize, k: usize, lhs_t: bool, rhs_t: bool, accumulate: bool) {
        let a = values(m * k + 3, (m * 31 + k) as u64);
        let b = values(k * n + 5, (n * 17 + k * 7) as u64);
        // Stored row-major either way; a transposed operand is read with swapped strides.
        let lhs = if lhs_t {
            Mat::new(&a[3..], 1, m)
        } else {
            Mat::new(&a[3..], k, 1)
        };
        let rhs = if rhs_t {
            Mat::new(&b[5..], 1, k)
        } else {
            Mat::new(&b[5..], n, 1)
        };
        if !supports(&lhs, &rhs, 1) {
            return;
        }
        // A destination with a wider row than `n`, to check that nothing outside is written.
        let rs = n + 3;
        let init = values(m * rs, 99);
        let mut dst = init.clone();
        // SAFETY: the CPU has AVX-512F (checked by the caller); the operands span their
        // slices; `dst` holds `m` rows of `rs ≥ n`.
        unsafe { gemm(m, n, k, dst.as_mut_ptr(), rs, accumulate, lhs, rhs) };
        for i in 0..m {
            for j in 0..rs {
                let got = dst[i * rs + j];
                if j >= n {
                    assert_eq!(got, init[i * rs + j], "({i}, {j}) outside the product");
                    continue;
                }
                let mut want: f64 = (0..k)
                    .map(|p| {
                        f64::from(lhs.data[i * lhs.rs + p * lhs.cs])
                            * f64::from(rhs.data[p * rhs.rs + j * rhs.cs])
                    })
                    .sum();
                if accumulate {
                    want += f64::from(init[i * rs + j]);
                }
                let tol = 1e-5 * (k as f64 + 1.);
                assert!(
                    (f64::from(got) - want).abs() <= tol,
                    "{m}x{n}x{k} lhs_t={lhs_t} rhs_t={rhs_t} acc={accumulate}: ({i}, {j}) = \
                     {got}, expected {want}"
                );
            }
        }
    }

    #[test]
    fn matches_a_reference_for_all_layouts_and_tile_remainders() {
        if !crate::simd::has_avx512f() {
            eprintln!("skipped: the CPU lacks AVX-512F");
            return;
        }
        // The course network's products, then sizes around every tile and register edge.
        let shapes = [
            (16, 144, 75),
            (75, 16, 144),
            (75, 144, 16),
            (32, 110, 576),
            (110, 576, 32),
            (8, 60, 110),
            (60, 110, 8),
            (1, 1, 1),
            (1, 1, 0),
            (13, 65, 17),
            (25, 49, 33),
            (7, 31, 15),
            (12, 64, 16),
            (6, 15, 1),
        ];
        for (m, n, k) in shapes {
            for lhs_t in [false, true] {
                for rhs_t in [false, true] {
                    for accumulate in [false, true] {
                        check(m, n, k, lhs_t, rhs_t, accumulate);
                    }
                }
            }
        }
    }

    #[test]
    fn supports_exactly_the_two_kernel_layouts() {
        let d = [0f32; 4];
        let (row, col) = (Mat::new(&d, 2, 1), Mat::new(&d, 1, 2));
        assert!(supports(&row, &row, 1)); // NN
        assert!(supports(&col, &row, 1)); // NN with a transposed lhs
        assert!(supports(&row, &col, 1)); // NT
        assert!(!supports(&col, &col, 1)); // neither
        assert!(!supports(&row, &row, 2)); // strided destination
    }
}
