//! f32 matrix products in registers, for the small matrices of the course network (a few
//! dozen to a few hundred rows and columns, inner dimensions of 16 to 576), with AVX-512 or
//! AVX2 + FMA.
//!
//! At these sizes a general gemm spends much of its time packing operands into panels and
//! choosing blocks. The products the ops need come in two layouts, and each gets a register
//! -tiled kernel that reads its operands where they lie:
//!
//! - **NN** (`rhs` rows contiguous): one register of columns (16 with AVX-512, 8 with AVX2)
//!   per accumulator, several registers wide; the left operand is broadcast element by
//!   element (any strides), so `lhs` may be a transposed view. Partial column groups use
//!   masked loads and stores.
//! - **NT** (`lhs` rows and `rhs` columns contiguous along the inner dimension): one register
//!   of partial inner products per output, a small tile of outputs at once, each reduced
//!   across its lanes at the end; the inner dimension's tail is a masked load.
//!
//! The kernels are written once here, generic over the register type ([`Vector`]), and
//! compiled for each instruction set inside a `#[target_feature]` function: the AVX-512
//! version is `kernels/x86/avx512/gemm.rs`, the AVX2 one `kernels/x86/avx2/gemm.rs`, each with
//! its register type. Tile sizes follow the register count (32 with AVX-512, 16 with AVX2).
//! Other layouts are left to the `gemm` crate (see `kernels::gemm`). Every output element is a
//! sum in a fixed order, so results do not depend on how a caller splits the rows.

use crate::kernels::Mat;

/// Whether the kernels compute `lhs · rhs` into a destination with column stride `dst_cs`.
pub(crate) fn supports(lhs: &Mat<'_, f32>, rhs: &Mat<'_, f32>, dst_cs: usize) -> bool {
    dst_cs == 1 && (rhs.cs == 1 || (lhs.cs == 1 && rhs.rs == 1))
}

/// A vector register of f32 lanes and the operations the kernels need, with the tile sizes
/// that fit the instruction set's register file.
///
/// Every method is `unsafe` and must only run where the instruction set is enabled: the
/// implementations are `#[inline(always)]` into the `#[target_feature]` entry points.
pub(crate) trait Vector: Copy {
    /// Lanes per register.
    const LANES: usize;
    /// The widest NN tile, in registers.
    const NN_MAX_WIDTH: usize;
    /// Rows of an NN tile `w` registers wide (index `w`, from 1 to `NN_MAX_WIDTH`).
    const NN_ROWS: [usize; 5];
    /// Rows and columns of an NT tile.
    const NT_TILE: usize;
    /// Which lanes a masked access touches.
    type Mask: Copy;

    unsafe fn zero() -> Self;
    unsafe fn splat(x: f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    /// The mask of the first `n` lanes (`n ≤ LANES`).
    unsafe fn first(n: usize) -> Self::Mask;
    /// Loads the masked lanes, zero elsewhere; masked-off lanes are not accessed.
    unsafe fn load_masked(m: Self::Mask, p: *const f32) -> Self;
    /// Stores the masked lanes; masked-off lanes are not accessed.
    unsafe fn store_masked(m: Self::Mask, p: *mut f32, v: Self);
    /// `a · b + c`, fused.
    unsafe fn fmadd(a: Self, b: Self, c: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
    /// The sum of the lanes.
    unsafe fn sum(v: Self) -> f32;
}

/// The product, with the layout's kernel.
///
/// # Safety
///
/// `V`'s instruction set is enabled in the caller; [`supports`] holds; each matrix lies inside
/// its slice and `dst` (valid for writes of `(m − 1)·dst_rs + n` elements) does not overlap
/// `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)] // the shape, the destination and two strided operands
#[inline(always)]
pub(crate) unsafe fn product<V: Vector>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: &Mat<'_, f32>,
    rhs: &Mat<'_, f32>,
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
    let (a, b) = (Operand::of(lhs), Operand::of(rhs));
    // SAFETY: forwarded from the caller.
    unsafe {
        if rhs.cs == 1 {
            nn::<V>(m, n, k, a, b, c);
        } else {
            nt::<V>(m, n, k, a, b, c);
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

/// The NN product, tile by tile: column groups of up to `NN_MAX_WIDTH` registers, row groups
/// of `NN_ROWS`.
///
/// # Safety
///
/// As for [`product`], with `b.cs == 1`.
#[inline(always)]
unsafe fn nn<V: Vector>(m: usize, n: usize, k: usize, a: Operand, b: Operand, c: Out) {
    let mut j = 0;
    while j < n {
        let cols = (n - j).min(V::NN_MAX_WIDTH * V::LANES);
        let nv = cols.div_ceil(V::LANES);
        // SAFETY: `V`'s instruction set is enabled (caller).
        let mask = unsafe { V::first(cols - (nv - 1) * V::LANES) };
        let rows = V::NN_ROWS[nv];
        let mut i = 0;
        while i < m {
            let mr = (m - i).min(rows);
            // SAFETY: `(i, j)` is inside every operand; the tile reads `a` rows `i..i + mr`,
            // `b` columns `j..j + cols` and writes the same block of `c` (masked).
            unsafe { nn_tile_dispatch::<V>(nv, mr, k, a.at(i, 0), b.at(0, j), c.at(i, j), mask) };
            i += mr;
        }
        j += cols;
    }
}

/// Calls the NN tile kernel for `nv` registers and `mr` rows.
///
/// # Safety
///
/// As for [`nn_tile`], with `1 ≤ nv ≤ V::NN_MAX_WIDTH` and `1 ≤ mr ≤ V::NN_ROWS[nv]`.
#[inline(always)]
unsafe fn nn_tile_dispatch<V: Vector>(
    nv: usize,
    mr: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: Out,
    mask: V::Mask,
) {
    macro_rules! rows {
        ($nv:literal; $($mr:literal)*) => {
            match mr {
                $($mr if $mr <= V::NN_ROWS[$nv] => nn_tile::<V, $mr, $nv>(k, a, b, c, mask),)*
                _ => unreachable!("tile of {mr} rows"),
            }
        };
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        match nv {
            1 => rows!(1; 1 2 3 4 5 6 7 8 9 10 11 12),
            2 => rows!(2; 1 2 3 4 5 6 7 8 9 10 11 12),
            3 if V::NN_MAX_WIDTH >= 3 => rows!(3; 1 2 3 4 5 6 7 8),
            4 if V::NN_MAX_WIDTH >= 4 => rows!(4; 1 2 3 4 5 6),
            _ => unreachable!("tile of {nv} registers"),
        }
    }
}

/// One NN tile: `c[MR × NV·LANES] (+)= a[MR × k] · b[k × NV·LANES]`, the last register of each
/// row loaded and stored through `mask`.
///
/// # Safety
///
/// `V`'s instruction set; `a` has `MR` rows and `b` `k` rows; every unmasked element of the
/// tile lies inside its matrix (masked-off lanes are never accessed).
#[inline(always)]
unsafe fn nn_tile<V: Vector, const MR: usize, const NV: usize>(
    k: usize,
    a: Operand,
    b: Operand,
    c: Out,
    mask: V::Mask,
) {
    // SAFETY: row `p < k` of `b` and column `p` of `a` are inside their matrices; the last
    // register of a `b` row is masked to the tile's columns; stores write the tile of `c`.
    unsafe {
        let mut acc = [[V::zero(); NV]; MR];
        let (mut ap, mut bp) = (a.ptr, b.ptr);
        for _ in 0..k {
            let mut bv = [V::zero(); NV];
            for (v, r) in bv.iter_mut().enumerate() {
                *r = if v + 1 == NV {
                    V::load_masked(mask, bp.add(v * V::LANES))
                } else {
                    V::load(bp.add(v * V::LANES))
                };
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let x = V::splat(*ap.add(i * a.rs));
                for (r, &y) in row.iter_mut().zip(&bv) {
                    *r = V::fmadd(x, y, *r);
                }
            }
            ap = ap.add(a.cs);
            bp = bp.add(b.rs);
        }
        let full = V::first(V::LANES);
        for (i, row) in acc.iter().enumerate() {
            for (v, &r) in row.iter().enumerate() {
                let dst = c.ptr.add(i * c.rs + v * V::LANES);
                let m = if v + 1 == NV { mask } else { full };
                let r = if c.accumulate {
                    V::add(V::load_masked(m, dst), r)
                } else {
                    r
                };
                V::store_masked(m, dst, r);
            }
        }
    }
}

/// The NT product, in tiles of up to `NT_TILE × NT_TILE` outputs.
///
/// # Safety
///
/// As for [`product`], with `a.cs == 1` and `b.rs == 1`.
#[inline(always)]
unsafe fn nt<V: Vector>(m: usize, n: usize, k: usize, a: Operand, b: Operand, c: Out) {
    // SAFETY: `V`'s instruction set is enabled (caller).
    let mask = unsafe { V::first(k % V::LANES) };
    let mut i = 0;
    while i < m {
        let mr = (m - i).min(V::NT_TILE);
        let mut j = 0;
        while j < n {
            let nr = (n - j).min(V::NT_TILE);
            // SAFETY: `(i, j)` is inside every operand; the tile reads `a` rows `i..i + mr`
            // and `b` columns `j..j + nr` over `k` and writes that block of `c`.
            unsafe { nt_tile_dispatch::<V>(mr, nr, k, a.at(i, 0), b.at(0, j), c.at(i, j), mask) };
            j += nr;
        }
        i += mr;
    }
}

/// Calls the NT tile kernel for `mr × nr` outputs.
///
/// # Safety
///
/// As for [`nt_tile`], with `1 ≤ mr, nr ≤ V::NT_TILE`.
#[inline(always)]
unsafe fn nt_tile_dispatch<V: Vector>(
    mr: usize,
    nr: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: Out,
    mask: V::Mask,
) {
    macro_rules! cols {
        ($mr:literal) => {
            match nr {
                1 => nt_tile::<V, $mr, 1>(k, a, b, c, mask),
                2 => nt_tile::<V, $mr, 2>(k, a, b, c, mask),
                3 => nt_tile::<V, $mr, 3>(k, a, b, c, mask),
                4 if V::NT_TILE >= 4 => nt_tile::<V, $mr, 4>(k, a, b, c, mask),
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
            4 if V::NT_TILE >= 4 => cols!(4),
            _ => unreachable!("tile of {mr} rows"),
        }
    }
}

/// One NT tile: `c[MR × NR] (+)= a[MR × k] · b[k × NR]` with `a`'s rows and `b`'s columns
/// contiguous; `mask` covers the last `k mod LANES` elements of each.
///
/// # Safety
///
/// `V`'s instruction set; `a` has `MR` rows of `k` contiguous elements, `b` `NR` columns of
/// `k` contiguous elements, `c` an `MR × NR` block.
#[inline(always)]
unsafe fn nt_tile<V: Vector, const MR: usize, const NR: usize>(
    k: usize,
    a: Operand,
    b: Operand,
    c: Out,
    mask: V::Mask,
) {
    let full = k - k % V::LANES;
    // SAFETY: every load reads elements `p..p + LANES` with `p + LANES ≤ full ≤ k` of a row of
    // `a` or a column of `b`, or, masked, the tail `full..k`; stores write the tile of `c`.
    unsafe {
        let mut acc = [[V::zero(); NR]; MR];
        let mut p = 0;
        while p < full {
            nt_step::<V, MR, NR, false>(&mut acc, a, b, p, mask);
            p += V::LANES;
        }
        if full < k {
            nt_step::<V, MR, NR, true>(&mut acc, a, b, p, mask);
        }
        for (ii, row) in acc.iter().enumerate() {
            for (jj, &r) in row.iter().enumerate() {
                let dst = c.ptr.add(ii * c.rs + jj);
                let s = V::sum(r);
                *dst = if c.accumulate { *dst + s } else { s };
            }
        }
    }
}

/// One step of an NT tile: the `LANES` inner-dimension elements from `p` on (through `mask`
/// when `MASKED`) of each row of `a` and column of `b`, multiplied into the accumulators.
///
/// # Safety
///
/// `V`'s instruction set; the elements read lie inside `a` and `b` (see [`nt_tile`]).
#[inline(always)]
unsafe fn nt_step<V: Vector, const MR: usize, const NR: usize, const MASKED: bool>(
    acc: &mut [[V; NR]; MR],
    a: Operand,
    b: Operand,
    p: usize,
    mask: V::Mask,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        let load = |q: *const f32| {
            if MASKED {
                V::load_masked(mask, q)
            } else {
                V::load(q)
            }
        };
        let mut bv = [V::zero(); NR];
        for (jj, v) in bv.iter_mut().enumerate() {
            *v = load(b.ptr.add(jj * b.cs + p));
        }
        for (ii, row) in acc.iter_mut().enumerate() {
            let x = load(a.ptr.add(ii * a.rs + p));
            for (r, &y) in row.iter_mut().zip(&bv) {
                *r = V::fmadd(x, y, *r);
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

    /// The kernels of one instruction set.
    type Kernel = unsafe fn(usize, usize, usize, *mut f32, usize, bool, Mat<'_, f32>, Mat<'_, f32>);

    /// Runs `gemm` for `m × k · k × n` with the operands in the given orientation
    /// (`true`: stored transposed) and checks every output against an f64 reference.
    #[allow(clippy::too_many_arguments)] // one case, spelled out
    fn check(
        gemm: Kernel,
        m: usize,
        n: usize,
        k: usize,
        lhs_t: bool,
        rhs_t: bool,
        accumulate: bool,
    ) {
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
        // SAFETY: the CPU has the kernel's instruction set (checked by the caller); the
        // operands span their slices; `dst` holds `m` rows of `rs ≥ n`.
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

    /// The portable product (the `gemm` crate), in the signature of the x86 kernels.
    ///
    /// # Safety
    ///
    /// As for the x86 kernels, less the instruction set.
    #[allow(clippy::too_many_arguments)] // as the kernels
    unsafe fn portable(
        m: usize,
        n: usize,
        k: usize,
        dst: *mut f32,
        dst_rs: usize,
        accumulate: bool,
        lhs: Mat<'_, f32>,
        rhs: Mat<'_, f32>,
    ) {
        // SAFETY: forwarded from the caller.
        unsafe {
            crate::kernels::portable::gemm::gemm(m, n, k, dst, dst_rs, 1, accumulate, lhs, rhs)
        }
    }

    /// The instruction sets this CPU has, with their kernels; the portable product first.
    fn kernels() -> Vec<(&'static str, Kernel)> {
        let mut k: Vec<(&'static str, Kernel)> = vec![("portable", portable)];
        if crate::kernels::x86::has_avx512f() {
            k.push(("AVX-512", crate::kernels::x86::avx512::gemm::gemm));
        }
        if crate::kernels::x86::has_avx2_fma() {
            k.push(("AVX2", crate::kernels::x86::avx2::gemm::gemm));
        }
        k
    }

    #[test]
    fn matches_a_reference_for_all_layouts_and_tile_remainders() {
        let kernels = kernels();
        let names: Vec<&str> = kernels.iter().map(|&(name, _)| name).collect();
        eprintln!("gemm kernels checked: {names:?} (the others are not supported by this CPU)");
        assert_eq!(
            names.first(),
            Some(&"portable"),
            "the portable product runs everywhere"
        );
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
            (9, 17, 8),
            (5, 24, 7),
        ];
        for (name, gemm) in kernels {
            eprintln!("checking the {name} kernels");
            for (m, n, k) in shapes {
                for lhs_t in [false, true] {
                    for rhs_t in [false, true] {
                        for accumulate in [false, true] {
                            check(gemm, m, n, k, lhs_t, rhs_t, accumulate);
                        }
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
