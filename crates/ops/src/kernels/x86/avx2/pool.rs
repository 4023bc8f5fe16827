//! AVX2 row kernels of the f32 max pooling: eight windows per step, masked loads and stores
//! for the tail, so rows as short as the course network's (6 and 16 windows) run entirely in
//! vector registers.
//!
//! Window order inside a step: loading 16 floats of a row as `lo`, `hi` and splitting them
//! with `_mm256_shuffle_ps` into even (left) and odd (right) columns puts the windows in lane
//! order `[0, 1, 4, 5, 2, 3, 6, 7]`; swapping the middle 64-bit quarters maps between that order
//! and the natural one in both directions, and `_mm256_unpack{lo,hi}_ps` of the even and odd
//! parts restores the original interleaving.
//!
//! Every function requires AVX2 (`#[target_feature]`): the row kernels check their bounds and
//! are safe to call where AVX2 is enabled; the register-only helpers are safe too; only the
//! masked loads and stores through pointers need `unsafe`. The portable versions are in
//! `kernels/portable/pool.rs`.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use crate::shape::fits;

/// Lane masks for the first `n` of 16 floats (as two 8-lane halves), for masked loads/stores.
#[inline]
#[target_feature(enable = "avx2")]
fn masks16(n: usize) -> (__m256i, __m256i) {
    let n = _mm256_set1_epi32(n.min(16) as i32);
    let lo = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let hi = _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15);
    (_mm256_cmpgt_epi32(n, lo), _mm256_cmpgt_epi32(n, hi))
}

/// Mask for the first `n` of 8 floats.
#[inline]
#[target_feature(enable = "avx2")]
fn mask8(n: usize) -> __m256i {
    let n = _mm256_set1_epi32(n.min(8) as i32);
    _mm256_cmpgt_epi32(n, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

/// Swaps the middle 64-bit quarters: between natural window order and shuffle order.
#[inline]
#[target_feature(enable = "avx2")]
fn swap_middle(v: __m256) -> __m256 {
    _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)))
}

/// Lanes where `v` replaces the running maximum `best` (greater, or NaN), as in the scalar code.
#[inline]
#[target_feature(enable = "avx2")]
fn replaces(v: __m256, best: __m256) -> __m256 {
    _mm256_or_ps(
        _mm256_cmp_ps::<_CMP_GT_OQ>(v, best),
        _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v),
    )
}

/// `g` in the lanes whose code is `code`, zero elsewhere.
#[inline]
#[target_feature(enable = "avx2")]
fn where_code(codes: __m256i, code: i32, g: __m256) -> __m256 {
    let hit = _mm256_cmpeq_epi32(codes, _mm256_set1_epi32(code));
    _mm256_and_ps(_mm256_castsi256_ps(hit), g)
}

/// Loads floats `i..i + 16` of `row` (only the first `valid`), as even and odd columns.
///
/// # Safety
///
/// AVX2, and `row[i..i + valid]` in bounds.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load_pairs(row: &[f32], i: usize, valid: usize) -> (__m256, __m256) {
    let p = row.as_ptr().wrapping_add(i);
    // SAFETY: the first `valid` floats from `p` are in bounds (caller); masked-out lanes are
    // not accessed.
    unsafe {
        let (lo, hi) = if valid >= 16 {
            (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
        } else {
            let (mlo, mhi) = masks16(valid);
            (
                _mm256_maskload_ps(p, mlo),
                _mm256_maskload_ps(p.wrapping_add(8), mhi),
            )
        };
        (
            _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi),
            _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi),
        )
    }
}

/// Stores even and odd columns back interleaved as elements `i..i + 16` of `row` (only the
/// first `valid`).
///
/// # Safety
///
/// AVX2, and `row[i..i + valid]` in bounds.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn store_pairs(
    row: &mut [MaybeUninit<f32>],
    i: usize,
    valid: usize,
    even: __m256,
    odd: __m256,
) {
    let p = row.as_mut_ptr().cast::<f32>().wrapping_add(i);
    // SAFETY: as for `load_pairs`.
    unsafe {
        let lo = _mm256_unpacklo_ps(even, odd);
        let hi = _mm256_unpackhi_ps(even, odd);
        if valid >= 16 {
            _mm256_storeu_ps(p, lo);
            _mm256_storeu_ps(p.add(8), hi);
        } else {
            let (mlo, mhi) = masks16(valid);
            _mm256_maskstore_ps(p, mlo, lo);
            _mm256_maskstore_ps(p.wrapping_add(8), mhi, hi);
        }
    }
}

/// Pools one output row: `out[j]` is the maximum of window `j` of the rows `a`, `b` (NaN if
/// the window holds one).
///
/// # Panics
///
/// If `a` or `b` holds fewer than `2 * out.len()` floats.
#[target_feature(enable = "avx2")]
pub(crate) fn forward_row(a: &[f32], b: &[f32], out: &mut [MaybeUninit<f32>]) {
    let ow = out.len();
    assert!(fits(&[2, ow], a.len()) && fits(&[2, ow], b.len()));
    let mut j = 0;
    while j < ow {
        let windows = (ow - j).min(8);
        // SAFETY: AVX2 is enabled; `2 * windows` floats from `2 * j` lie inside `a` and `b`
        // (asserted), and `windows` outputs from `j` inside `out`.
        unsafe {
            let (v0, v1) = load_pairs(a, 2 * j, 2 * windows);
            let (v2, v3) = load_pairs(b, 2 * j, 2 * windows);
            let m = _mm256_blendv_ps(v0, v1, replaces(v1, v0));
            let m = _mm256_blendv_ps(m, v2, replaces(v2, m));
            let m = _mm256_blendv_ps(m, v3, replaces(v3, m));
            let m = swap_middle(m);
            let p = out.as_mut_ptr().cast::<f32>().wrapping_add(j);
            if windows == 8 {
                _mm256_storeu_ps(p, m);
            } else {
                _mm256_maskstore_ps(p, mask8(windows), m);
            }
        }
        j += windows;
    }
}

/// Writes the input gradient of one pair of rows: each window's gradient `g[j]` goes to its
/// first maximum (NaN counting as the maximum), zero elsewhere.
///
/// # Panics
///
/// If `a`, `b`, `d0` or `d1` holds fewer than `2 * g.len()` elements.
#[target_feature(enable = "avx2")]
pub(crate) fn backward_rows(
    a: &[f32],
    b: &[f32],
    g: &[f32],
    d0: &mut [MaybeUninit<f32>],
    d1: &mut [MaybeUninit<f32>],
) {
    let ow = g.len();
    assert!([a.len(), b.len(), d0.len(), d1.len()]
        .iter()
        .all(|&len| fits(&[2, ow], len)));
    let mut j = 0;
    while j < ow {
        let windows = (ow - j).min(8);
        // SAFETY: AVX2 is enabled; `2 * windows` elements from `2 * j` lie inside `a`, `b`, `d0`,
        // `d1`, and `windows` from `j` inside `g` (asserted).
        unsafe {
            let p = g.as_ptr().wrapping_add(j);
            let gv = if windows == 8 {
                _mm256_loadu_ps(p)
            } else {
                _mm256_maskload_ps(p, mask8(windows))
            };
            let gv = swap_middle(gv);
            let (v0, v1) = load_pairs(a, 2 * j, 2 * windows);
            let (v2, v3) = load_pairs(b, 2 * j, 2 * windows);
            let t1 = replaces(v1, v0);
            let m = _mm256_blendv_ps(v0, v1, t1);
            let t2 = replaces(v2, m);
            let m = _mm256_blendv_ps(m, v2, t2);
            let t3 = replaces(v3, m);
            // The winner is the last position that replaced the running maximum.
            let after2 = t3;
            let after1 = _mm256_or_ps(t2, after2);
            let after0 = _mm256_or_ps(t1, after1);
            let g0 = _mm256_andnot_ps(after0, gv);
            let g1 = _mm256_and_ps(t1, _mm256_andnot_ps(after1, gv));
            let g2 = _mm256_and_ps(t2, _mm256_andnot_ps(after2, gv));
            let g3 = _mm256_and_ps(t3, gv);
            store_pairs(d0, 2 * j, 2 * windows, g0, g1);
            store_pairs(d1, 2 * j, 2 * windows, g2, g3);
        }
        j += windows;
    }
}

/// [`forward_row`] that also records each window's gradient code: the position of its first
/// maximum if that maximum is positive, else 4 (see `pool::forward_row_codes`).
///
/// # Panics
///
/// If `a` or `b` holds fewer than `2 * out.len()` floats or `codes` fewer than `out.len()`.
#[target_feature(enable = "avx2")]
pub(crate) fn forward_row_codes(
    a: &[f32],
    b: &[f32],
    out: &mut [MaybeUninit<f32>],
    codes: &mut [MaybeUninit<u32>],
) {
    let ow = out.len();
    assert!(fits(&[2, ow], a.len()) && fits(&[2, ow], b.len()) && codes.len() >= ow);
    let mut j = 0;
    while j < ow {
        let windows = (ow - j).min(8);
        // SAFETY: AVX2 is enabled; `2 * windows` floats from `2 * j` lie inside `a` and `b`
        // (asserted), and `windows` elements from `j` inside `out` and `codes`.
        unsafe {
            let (v0, v1) = load_pairs(a, 2 * j, 2 * windows);
            let (v2, v3) = load_pairs(b, 2 * j, 2 * windows);
            let t1 = replaces(v1, v0);
            let m = _mm256_blendv_ps(v0, v1, t1);
            let t2 = replaces(v2, m);
            let m = _mm256_blendv_ps(m, v2, t2);
            let t3 = replaces(v3, m);
            let m = _mm256_blendv_ps(m, v3, t3);
            // Codes as i32 lanes: the last replacing position wins; 4 where the maximum is not
            // positive (0 and NaN after a ReLU).
            let k = _mm256_castsi256_ps(_mm256_setzero_si256());
            let k = _mm256_blendv_ps(k, _mm256_castsi256_ps(_mm256_set1_epi32(1)), t1);
            let k = _mm256_blendv_ps(k, _mm256_castsi256_ps(_mm256_set1_epi32(2)), t2);
            let k = _mm256_blendv_ps(k, _mm256_castsi256_ps(_mm256_set1_epi32(3)), t3);
            let positive = _mm256_cmp_ps::<_CMP_GT_OQ>(m, _mm256_setzero_ps());
            let k = _mm256_blendv_ps(_mm256_castsi256_ps(_mm256_set1_epi32(4)), k, positive);
            let m = swap_middle(m);
            let k = _mm256_castps_si256(swap_middle(k));
            let p = out.as_mut_ptr().cast::<f32>().wrapping_add(j);
            let c = codes.as_mut_ptr().cast::<i32>().wrapping_add(j);
            if windows == 8 {
                _mm256_storeu_ps(p, m);
                _mm256_storeu_si256(c.cast::<__m256i>(), k);
            } else {
                let mask = mask8(windows);
                _mm256_maskstore_ps(p, mask, m);
                _mm256_maskstore_epi32(c, mask, k);
            }
        }
        j += windows;
    }
}

/// Writes one pair of gradient rows from window codes: `g[j]` at the recorded position of
/// window `j` (codes 0..4), zero elsewhere (see `pool::route_rows`).
///
/// # Panics
///
/// If `codes` holds fewer than `g.len()` codes, or `d0`, `d1` fewer than `2 * g.len()`
/// elements.
#[target_feature(enable = "avx2")]
pub(crate) fn route_rows(
    codes: &[u32],
    g: &[f32],
    d0: &mut [MaybeUninit<f32>],
    d1: &mut [MaybeUninit<f32>],
) {
    let ow = g.len();
    assert!(codes.len() >= ow && fits(&[2, ow], d0.len()) && fits(&[2, ow], d1.len()));
    let mut j = 0;
    while j < ow {
        let windows = (ow - j).min(8);
        // SAFETY: AVX2 is enabled; `windows` elements from `j` lie inside `codes` and `g`, and
        // `2 * windows` from `2 * j` inside `d0` and `d1` (asserted).
        unsafe {
            let pg = g.as_ptr().wrapping_add(j);
            let pc = codes.as_ptr().cast::<i32>().wrapping_add(j);
            let (gv, kv) = if windows == 8 {
                (
                    _mm256_loadu_ps(pg),
                    _mm256_loadu_si256(pc.cast::<__m256i>()),
                )
            } else {
                let mask = mask8(windows);
                (
                    _mm256_maskload_ps(pg, mask),
                    _mm256_maskload_epi32(pc, mask),
                )
            };
            let gv = swap_middle(gv);
            let kv = _mm256_castps_si256(swap_middle(_mm256_castsi256_ps(kv)));
            let (g0, g1) = (where_code(kv, 0, gv), where_code(kv, 1, gv));
            let (g2, g3) = (where_code(kv, 2, gv), where_code(kv, 3, gv));
            store_pairs(d0, 2 * j, 2 * windows, g0, g1);
            store_pairs(d1, 2 * j, 2 * windows, g2, g3);
        }
        j += windows;
    }
}
