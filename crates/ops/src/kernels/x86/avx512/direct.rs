//! AVX-512F versions of the direct convolution kernels for f32 (see `direct`): sixteen output
//! columns per register, with masked loads and stores for a partial last group of columns, so
//! the kernels read no column of the padded image beyond `ow + k − 1`.
//!
//! - **Forward**: a block of `R` output rows × `G` groups of 16 columns × all `O` output
//!   channels stays in registers (8 to 24 independent accumulator chains, enough to hide the
//!   FMA latency). For each kernel tap the `O` weights are broadcast once and every loaded input
//!   vector feeds `O` fused multiply-adds.
//! - **Weight gradient**: the gradient sums of `OB` output channels × a band of `KR` kernel
//!   rows × `k` kernel columns (of one input channel) stay in registers while the image is
//!   swept once; per output row and group of columns the `OB` output-gradient vectors and the
//!   `KR × k` shifted input vectors are loaded once each and feed all `OB·KR·k` fused
//!   multiply-adds (conv1: two sweeps, of 18 and 9 sums). At the end of the image each 16-lane
//!   sum is folded to the 8 lane sums of `direct::weight_grad_lanes` (the layout every path
//!   shares), in a fixed order, so results do not depend on anything but the inputs.
//!
//! The sums stay in 512-bit registers throughout: a single 256-bit (VEX-encoded) instruction
//! on them would confine them to the first 16 of the 32 registers and make the compiler spill.
//!
//! Every function requires AVX-512F, AVX2 and FMA (`#[target_feature]`). The entry points
//! check the sizes they rely on and are safe to call where those are enabled; the blocks and
//! sweeps they run work through raw pointers on the checked sizes and stay `unsafe`.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use crate::shape::{fits, Geometry};

/// Output columns per vector register.
const V: usize = 16;

/// Largest kernel side of the AVX-512 weight-gradient kernel (larger kernels use the AVX2
/// kernel; the sums of one kernel row would fit up to 15).
const MAX_K: usize = 7;

/// The lanes of the group of 16 columns starting at `x0` that lie inside a row of `ow`.
#[inline(always)]
fn group_mask(ow: usize, x0: usize) -> __mmask16 {
    super::first_lanes(ow.saturating_sub(x0))
}

/// Output rows per forward block for `o` output channels and `g` column groups: about 24
/// accumulators, at most 8 rows, and room left for the `o` broadcast weights and one input
/// vector among the 32 vector registers.
const fn forward_rows(o: usize, g: usize) -> usize {
    let mut r = 24 / (o * g);
    if r > 8 {
        r = 8;
    }
    if r == 0 {
        r = 1;
    }
    while r > 1 && r * g * o + o + 1 > 30 {
        r -= 1;
    }
    r
}

/// The arguments of one forward pass, shared by its blocks.
struct Forward<'a> {
    /// The padded image (`c` planes of `hp × wp`).
    xp: *const f32,
    /// Rows per padded plane.
    hp: usize,
    /// Padded row length.
    wp: usize,
    g: &'a Geometry,
    /// The `O × c × k × k` weights.
    w: *const f32,
    b: Option<&'a [f32]>,
    /// `O` output planes of `oh × ow`.
    out: *mut f32,
}

/// Output rows `oy .. oy + R`, column groups `x0 + 16·j` for `j < G` (masked to `ow`), all
/// `O` output channels.
///
/// # Safety
///
/// AVX-512F, AVX2 and FMA; `f` checked by `forward_og`; `oy + R ≤ oh`, `x0 < ow`.
// Not inlined: each block shape gets a function, and a register allocation, of its own.
#[inline(never)]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn forward_block<const O: usize, const G: usize, const R: usize>(
    f: &Forward<'_>,
    oy: usize,
    x0: usize,
) {
    let g = f.g;
    let (kk, ck) = (g.k * g.k, g.c * g.k * g.k);
    let mut masks = [0 as __mmask16; G];
    for (j, m) in masks.iter_mut().enumerate() {
        *m = group_mask(g.ow, x0 + j * V);
    }
    // SAFETY: AVX-512F and FMA are enabled (caller). Reads of the image: plane `ci < c`, row
    // `oy + r + ky ≤ oh − 1 + k − 1 < hp`, and only the lanes of column `x0 + 16·j + kx + l`
    // with `x0 + 16·j + l < ow` (the mask), so below `ow + k − 1 ≤ wp`. Reads of the weights:
    // `o·c·k·k + tap < O·c·k·k`. Writes: output row `oy + r < oh`, masked to columns below
    // `ow`, of plane `o < O`. All sizes are checked by `forward_og`.
    unsafe {
        let mut acc = [[[_mm512_setzero_ps(); O]; G]; R];
        if let Some(b) = f.b {
            for (o, &bo) in b.iter().take(O).enumerate() {
                let v = _mm512_set1_ps(bo);
                for row in acc.iter_mut() {
                    for group in row.iter_mut() {
                        group[o] = v;
                    }
                }
            }
        }
        for ci in 0..g.c {
            for ky in 0..g.k {
                let row = f.xp.add(ci * f.hp * f.wp + (oy + ky) * f.wp + x0);
                for kx in 0..g.k {
                    let tap = ci * kk + ky * g.k + kx;
                    let mut wv = [_mm512_setzero_ps(); O];
                    for (o, v) in wv.iter_mut().enumerate() {
                        *v = _mm512_set1_ps(*f.w.add(o * ck + tap));
                    }
                    for (r, accr) in acc.iter_mut().enumerate() {
                        for (j, accg) in accr.iter_mut().enumerate() {
                            let at = row.add(r * f.wp + j * V + kx);
                            let x = _mm512_maskz_loadu_ps(masks[j], at);
                            for (a, &wo) in accg.iter_mut().zip(&wv) {
                                *a = _mm512_fmadd_ps(wo, x, *a);
                            }
                        }
                    }
                }
            }
        }
        let plane = g.oh * g.ow;
        for (r, accr) in acc.iter().enumerate() {
            for (j, accg) in accr.iter().enumerate() {
                let at = (oy + r) * g.ow + x0 + j * V;
                for (o, &a) in accg.iter().enumerate() {
                    _mm512_mask_storeu_ps(f.out.add(o * plane + at), masks[j], a);
                }
            }
        }
    }
}

/// The rows of one band of column groups starting at `x0`: blocks of `R` rows, then single
/// rows.
///
/// # Safety
///
/// As for `forward_block`, for every row.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn forward_band<const O: usize, const G: usize, const R: usize>(f: &Forward<'_>, x0: usize) {
    // SAFETY: forwarded to the caller's guarantees; every block lies below `oh`.
    unsafe {
        let mut oy = 0;
        while oy + R <= f.g.oh {
            forward_block::<O, G, R>(f, oy, x0);
            oy += R;
        }
        while oy < f.g.oh {
            forward_block::<O, G, 1>(f, oy, x0);
            oy += 1;
        }
    }
}

/// The forward kernel for `O` output channels, `G` column groups and `R` rows per block; a
/// last single column group (when `G = 2` and the groups are odd) takes `R1` rows per block.
///
/// # Panics
///
/// If the buffers are smaller than `forward_image` requires, or `g.o ≠ O`.
#[target_feature(enable = "avx512f,avx2,fma")]
fn forward_og<const O: usize, const G: usize, const R: usize, const R1: usize>(
    xp: &[f32],
    wp: usize,
    g: &Geometry,
    w: &[f32],
    b: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) {
    let sizes = || {
        let hp = g.checked_padded_height()?;
        let ok = g.o == O
            && g.ow > 0
            && wp >= g.checked_row_reach(1)?
            && fits(&[g.c, hp, wp], xp.len())
            && fits(&[O, g.c, g.k, g.k], w.len())
            && b.is_none_or(|b| b.len() >= O)
            && fits(&[O, g.oh, g.ow], out.len());
        ok.then_some(hp)
    };
    let hp = sizes().expect("direct forward kernel: buffers too small for the geometry");
    let f = Forward {
        xp: xp.as_ptr(),
        hp,
        wp,
        g,
        w: w.as_ptr(),
        b,
        out: out.as_mut_ptr().cast::<f32>(),
    };
    // SAFETY: AVX-512F, AVX2 and FMA are enabled; the sizes are checked above and every band
    // starts at a column below `ow`.
    unsafe {
        let groups = g.ow.div_ceil(V);
        let mut j = 0;
        while j + G <= groups {
            forward_band::<O, G, R>(&f, j * V);
            j += G;
        }
        while j < groups {
            forward_band::<O, 1, R1>(&f, j * V);
            j += 1;
        }
    }
}

/// One image's convolution (see `direct::forward_image`).
///
/// # Panics
///
/// Unless `xp` holds the padded image of `direct::pad_image` (`c` planes of
/// `(h + 2·pad) × wp` with `wp ≥ ow + k − 1`), `w` the `o × c × k × k` weights, `b` (if any)
/// `o` biases, `out` `o` planes of `oh × ow`, and `1 ≤ g.o ≤ 8`.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) fn forward_image(
    xp: &[f32],
    wp: usize,
    g: &Geometry,
    w: &[f32],
    b: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) {
    // Two column groups per block when a row has more than one.
    macro_rules! by_channels {
        ($($o:literal)*) => {
            match (g.o, g.ow > V) {
                $(
                    ($o, true) => {
                        const R: usize = forward_rows($o, 2);
                        const R1: usize = forward_rows($o, 1);
                        forward_og::<$o, 2, R, R1>(xp, wp, g, w, b, out)
                    }
                    ($o, false) => {
                        const R1: usize = forward_rows($o, 1);
                        forward_og::<$o, 1, R1, R1>(xp, wp, g, w, b, out)
                    }
                )*
                _ => panic!("direct convolution with {} output channels", g.o),
            }
        };
    }
    by_channels!(1 2 3 4 5 6 7 8)
}

/// The arguments of one weight-gradient pass, shared by its sweeps.
struct WeightGrad<'a> {
    /// The padded image (`c` planes of `hp × wp`).
    xp: *const f32,
    /// Rows per padded plane.
    hp: usize,
    /// Padded row length.
    wp: usize,
    /// The padded output gradient (`O` planes of `oh × owp`).
    dyp: *const f32,
    /// Padded output-gradient row length.
    owp: usize,
    g: &'a Geometry,
    /// `8 · O · c · k · k` lane sums.
    lanes: *mut f32,
}

/// Output channels per weight-gradient sweep over `kr` kernel rows of a `k`-wide kernel: their
/// `kr·k` sums each, the output-gradient vectors and the `kr·k` input vectors of one step fit
/// 31 of the 32 vector registers. (The compiler may issue all loads of a step before its
/// multiply-adds; with less room it spills sums to the stack.)
const fn sweep_channels(k: usize, kr: usize) -> usize {
    let taps = k * kr;
    if taps >= 31 {
        return 0;
    }
    let ob = (31 - taps) / (taps + 1);
    if ob > 8 {
        8
    } else {
        ob
    }
}

/// Sweeps the image once for input channel `ci`, output channels `o0 .. o0 + OB` and kernel
/// rows `ky0 .. ky0 + KR` of a `K`-wide kernel, and adds the `OB·KR·K` sums to their lane sums.
///
/// # Safety
///
/// AVX-512F, AVX2 and FMA; `s` checked by `weight_grad_k`; `ci < c`, `o0 + OB ≤ o`,
/// `ky0 + KR ≤ k`, `K == k`.
// Not inlined: each sweep shape gets a function, and a register allocation, of its own.
#[inline(never)]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn weight_grad_sweep<const OB: usize, const KR: usize, const K: usize>(
    s: &WeightGrad<'_>,
    ci: usize,
    o0: usize,
    ky0: usize,
) {
    let g = s.g;
    let dplane = g.oh * s.owp;
    // SAFETY: AVX-512F, AVX2 and FMA are enabled (caller). Reads of the image: plane `ci`, row
    // `oy + ky < oh + k − 1 ≤ hp`, columns `x0 + kx + l` with `x0 + l < ow` (whole groups end
    // at or before `ow`, the partial one is masked), so below `ow + k − 1 ≤ wp`; of the output
    // gradient: plane `o0 + o < O`, row `oy < oh`, columns below `ow ≤ owp` (likewise).
    // Writes: the 8 lane sums of weight `((o0 + o)·c + ci)·k·k + tap < O·c·k·k`. All sizes are
    // checked by `weight_grad_k`.
    unsafe {
        let mut acc = [[[_mm512_setzero_ps(); K]; KR]; OB];
        // One step: the `OB` output-gradient vectors and the `KR·K` input vectors of 16
        // columns at `x0`, loaded by `$load`, into all sums.
        macro_rules! step {
            ($xrow:expr, $drow:expr, $x0:expr, $load:expr) => {
                let mut d = [_mm512_setzero_ps(); OB];
                for (o, v) in d.iter_mut().enumerate() {
                    *v = $load($drow.add(o * dplane + $x0));
                }
                for r in 0..KR {
                    for kx in 0..K {
                        let x = $load($xrow.add(r * s.wp + $x0 + kx));
                        for (a, &dv) in acc.iter_mut().zip(&d) {
                            a[r][kx] = _mm512_fmadd_ps(dv, x, a[r][kx]);
                        }
                    }
                }
            };
        }
        // Whole groups of 16 columns with plain loads, then the partial one with masked loads.
        let full = g.ow / V * V;
        let tail = group_mask(g.ow, full);
        let mut xrow = s.xp.add(ci * s.hp * s.wp + ky0 * s.wp);
        let mut drow = s.dyp.add(o0 * dplane);
        for _ in 0..g.oh {
            let mut x0 = 0;
            while x0 < full {
                step!(xrow, drow, x0, |p| _mm512_loadu_ps(p));
                x0 += V;
            }
            if tail != 0 {
                step!(xrow, drow, full, |p| _mm512_maskz_loadu_ps(tail, p));
            }
            xrow = xrow.add(s.wp);
            drow = drow.add(s.owp);
        }
        for (o, sums) in acc.iter().enumerate() {
            let first = ((o0 + o) * g.c + ci) * K * K + ky0 * K;
            for (r, row) in sums.iter().enumerate() {
                for (kx, &a) in row.iter().enumerate() {
                    // Lanes l and l + 8 to lane l, then onto the running lane sums. In 512-bit
                    // registers only: a 256-bit (VEX) instruction would confine every sum to
                    // the first 16 registers.
                    let halves = _mm512_add_ps(a, _mm512_shuffle_f32x4::<0b0100_1110>(a, a));
                    let dst = s.lanes.add(8 * (first + r * K + kx));
                    let sum = _mm512_add_ps(_mm512_maskz_loadu_ps(0xFF, dst), halves);
                    _mm512_mask_storeu_ps(dst, 0xFF, sum);
                }
            }
        }
    }
}

/// The weight gradient of a `K × K` kernel: per input channel and band of `KR` kernel rows
/// (the rows left over one by one), sweeps for groups of up to `sweep_channels(K, KR)` output
/// channels.
///
/// # Panics
///
/// Unless `K == g.k`, `1 ≤ KR ≤ K`, `sweep_channels(K, KR) ≥ 1` and the buffers are as
/// `weight_grad_image` requires.
#[target_feature(enable = "avx512f,avx2,fma")]
fn weight_grad_k<const K: usize, const KR: usize>(
    xp: &[f32],
    wp: usize,
    dyp: &[f32],
    g: &Geometry,
    dw: &mut [f32],
) {
    let most = sweep_channels(K, KR);
    let sizes = || {
        let hp = g.checked_padded_height()?;
        let owp = g.ow.checked_next_multiple_of(8)?;
        let ok = g.k == K
            && (1..=K).contains(&KR)
            && most >= 1
            && wp >= g.checked_row_reach(1)?
            && fits(&[g.c, hp, wp], xp.len())
            && fits(&[g.o, g.oh, owp], dyp.len())
            && fits(&[8, g.o, g.c, g.k, g.k], dw.len());
        ok.then_some((hp, owp))
    };
    let (hp, owp) =
        sizes().expect("direct weight-gradient kernel: buffers too small for the geometry");
    let s = WeightGrad {
        xp: xp.as_ptr(),
        hp,
        wp,
        dyp: dyp.as_ptr(),
        owp,
        g,
        lanes: dw.as_mut_ptr(),
    };
    // The sweeps over output channels `o0 .. o0 + ob` for `$kr` kernel rows from `ky0`; the
    // guards are constant, so only the sweeps that fit are compiled.
    macro_rules! sweeps {
        ($kr:expr, $ci:expr, $ky0:expr) => {
            let mut o0 = 0;
            while o0 < g.o {
                let ob = (g.o - o0).min(most);
                match ob {
                    1 => weight_grad_sweep::<1, { $kr }, K>(&s, $ci, o0, $ky0),
                    2 if most >= 2 => weight_grad_sweep::<2, { $kr }, K>(&s, $ci, o0, $ky0),
                    3 if most >= 3 => weight_grad_sweep::<3, { $kr }, K>(&s, $ci, o0, $ky0),
                    4 if most >= 4 => weight_grad_sweep::<4, { $kr }, K>(&s, $ci, o0, $ky0),
                    5 if most >= 5 => weight_grad_sweep::<5, { $kr }, K>(&s, $ci, o0, $ky0),
                    6 if most >= 6 => weight_grad_sweep::<6, { $kr }, K>(&s, $ci, o0, $ky0),
                    7 if most >= 7 => weight_grad_sweep::<7, { $kr }, K>(&s, $ci, o0, $ky0),
                    8 if most >= 8 => weight_grad_sweep::<8, { $kr }, K>(&s, $ci, o0, $ky0),
                    _ => unreachable!("at most {most} output channels per sweep"),
                }
                o0 += ob;
            }
        };
    }
    // SAFETY: AVX-512F, AVX2 and FMA are enabled; sizes checked above; every sweep covers
    // output channels `o0 .. o0 + ob ≤ o` and kernel rows `ky0 .. ky0 + KR ≤ k` (or one row
    // `ky0 < k`) of input channel `ci < c`.
    unsafe {
        for ci in 0..g.c {
            let mut ky0 = 0;
            while ky0 + KR <= K {
                sweeps!(KR, ci, ky0);
                ky0 += KR;
            }
            // Rows left over when `KR` does not divide `K`, one at a time (a single row needs
            // fewer registers per channel than `KR`, so `most` channels fit).
            while ky0 < K {
                sweeps!(1, ci, ky0);
                ky0 += 1;
            }
        }
    }
}

/// Adds one image's weight gradient, lane-wise, to `dw` (see `direct::weight_grad_image`);
/// kernels larger than 7×7 go to the AVX2 kernel.
///
/// # Panics
///
/// Unless `xp` is as for `forward_image`, `dyp` holds the padded output gradient of
/// `direct::pad_grad` (`o` planes of `oh × owp`, `owp = ⌈ow / 8⌉·8`) and `dw` holds
/// `8 · o · c · k · k` lane sums.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(crate) fn weight_grad_image(xp: &[f32], wp: usize, dyp: &[f32], g: &Geometry, dw: &mut [f32]) {
    match g.k {
        // Bands of kernel rows as tall as leave room for three output channels (conv1's):
        // fewer sweeps, fewer loads per multiply-add.
        1 => weight_grad_k::<1, 1>(xp, wp, dyp, g, dw),
        2 => weight_grad_k::<2, 2>(xp, wp, dyp, g, dw),
        3 => weight_grad_k::<3, 2>(xp, wp, dyp, g, dw),
        4 => weight_grad_k::<4, 1>(xp, wp, dyp, g, dw),
        5 => weight_grad_k::<5, 1>(xp, wp, dyp, g, dw),
        6 => weight_grad_k::<6, 1>(xp, wp, dyp, g, dw),
        MAX_K => weight_grad_k::<MAX_K, 1>(xp, wp, dyp, g, dw),
        _ => crate::kernels::x86::avx2::direct::weight_grad_image(xp, wp, dyp, g, dw),
    }
}

// Every sweep `weight_grad_image` asks for fits the registers.
const _: () = assert!(
    sweep_channels(1, 1) >= 1
        && sweep_channels(2, 2) >= 1
        && sweep_channels(3, 2) >= 3
        && sweep_channels(MAX_K, 1) >= 1
);
