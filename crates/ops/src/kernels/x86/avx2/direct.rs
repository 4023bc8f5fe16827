//! AVX2 + FMA versions of the direct convolution kernels for f32 (see `direct`): eight output
//! columns per register, all output channels of a group of columns at once in the forward
//! pass, so that each loaded input vector feeds `O` fused multiply-adds.
//!
//! Every function requires AVX2 and FMA (`#[target_feature]`) and checks the sizes it relies
//! on, so each is safe to call where those are enabled. The portable kernels are in
//! `kernels/portable/direct.rs`.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use crate::shape::{checked_product, fits, Geometry};

/// The forward kernel for `O` output channels (known at compile time, so the accumulators
/// stay in registers).
///
/// # Panics
///
/// Unless `xp` holds the padded image of `direct::pad_image` (`c` planes of `(h + 2·pad) × wp`
/// with `wp ≥ ⌈ow / 8⌉·8 + k − 1`), `w` the `O × c × k × k` weights and `out` `O` planes of
/// `oh × ow`.
#[target_feature(enable = "avx2,fma")]
fn forward_o<const O: usize>(
    xp: &[f32],
    wp: usize,
    g: &Geometry,
    w: &[f32],
    b: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) {
    let sizes = || {
        let hp = g.checked_padded_height()?;
        let kk = checked_product(&[g.k, g.k])?;
        let ok = g.o == O
            && wp >= g.checked_row_reach(8)?
            && fits(&[g.c, hp, wp], xp.len())
            && fits(&[O, g.c, kk], w.len())
            && fits(&[O, g.oh, g.ow], out.len());
        ok.then_some((hp, kk))
    };
    let (hp, kk) = sizes().expect("direct forward kernel: buffers too small for the geometry");
    let xptr = xp.as_ptr();
    let optr = out.as_mut_ptr().cast::<f32>();
    // SAFETY: AVX2 and FMA are enabled. Reads: row `oy + ky < hp`, columns `x0 + kx .. + 8` with
    // `x0 + 8 ≤ ⌈ow / 8⌉·8` and `kx < k`, so inside a row of `wp` (asserted). Writes: the
    // first `min(8, ow − x0)` columns of output row `oy` of each plane (asserted size).
    unsafe {
        for oy in 0..g.oh {
            for x0 in (0..g.ow).step_by(8) {
                let mut acc = [_mm256_setzero_ps(); O];
                if let Some(b) = b {
                    for (a, &bo) in acc.iter_mut().zip(b) {
                        *a = _mm256_set1_ps(bo);
                    }
                }
                for ci in 0..g.c {
                    for ky in 0..g.k {
                        let row = xptr.add(ci * hp * wp + (oy + ky) * wp + x0);
                        for kx in 0..g.k {
                            let v = _mm256_loadu_ps(row.add(kx));
                            let tap = (ci * g.k + ky) * g.k + kx;
                            for (oi, a) in acc.iter_mut().enumerate() {
                                let wv = _mm256_set1_ps(*w.get_unchecked(oi * g.c * kk + tap));
                                *a = _mm256_fmadd_ps(wv, v, *a);
                            }
                        }
                    }
                }
                let n = (g.ow - x0).min(8);
                for (oi, a) in acc.iter().enumerate() {
                    let dst = optr.add(oi * g.oh * g.ow + oy * g.ow + x0);
                    if n == 8 {
                        _mm256_storeu_ps(dst, *a);
                    } else {
                        let mut tmp = [0f32; 8];
                        _mm256_storeu_ps(tmp.as_mut_ptr(), *a);
                        std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, n);
                    }
                }
            }
        }
    }
}

/// One image's convolution (see `direct::forward_image`).
///
/// # Panics
///
/// As `forward_o`, and if `g.o > 8`.
#[target_feature(enable = "avx2,fma")]
pub(crate) fn forward_image(
    xp: &[f32],
    wp: usize,
    g: &Geometry,
    w: &[f32],
    b: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) {
    match g.o {
        1 => forward_o::<1>(xp, wp, g, w, b, out),
        2 => forward_o::<2>(xp, wp, g, w, b, out),
        3 => forward_o::<3>(xp, wp, g, w, b, out),
        4 => forward_o::<4>(xp, wp, g, w, b, out),
        5 => forward_o::<5>(xp, wp, g, w, b, out),
        6 => forward_o::<6>(xp, wp, g, w, b, out),
        7 => forward_o::<7>(xp, wp, g, w, b, out),
        8 => forward_o::<8>(xp, wp, g, w, b, out),
        _ => panic!("direct convolution with {} output channels", g.o),
    }
}

/// Adds one image's weight gradient, lane-wise, to `dw` (see `direct::weight_grad_image`).
///
/// # Panics
///
/// Unless `xp` is as for `forward_o`, `dyp` holds the padded output gradient of
/// `direct::pad_grad` (`O` planes of `oh × owp`, `owp = ⌈ow / 8⌉·8`) and `dw` holds
/// `8 · O · c · k · k` lane sums.
#[target_feature(enable = "avx2,fma")]
pub(crate) fn weight_grad_image(xp: &[f32], wp: usize, dyp: &[f32], g: &Geometry, dw: &mut [f32]) {
    let sizes = || {
        let hp = g.checked_padded_height()?;
        let owp = g.ow.checked_next_multiple_of(8)?;
        let ok = wp >= g.checked_row_reach(8)?
            && fits(&[g.c, hp, wp], xp.len())
            && fits(&[g.o, g.oh, owp], dyp.len())
            && fits(&[8, g.o, g.c, g.k, g.k], dw.len());
        ok.then_some((hp, owp))
    };
    let (hp, owp) =
        sizes().expect("direct weight-gradient kernel: buffers too small for the geometry");
    let (xptr, dptr) = (xp.as_ptr(), dyp.as_ptr());
    // SAFETY: AVX2 and FMA are enabled. Reads of `xp`: row `oy + ky < hp`, columns
    // `kx + x0 .. + 8 ≤ k − 1 + owp ≤ wp`; of `dyp`: whole padded rows; writes: lane sums
    // `8·q .. 8·q + 8` for `q < O·c·k·k` (all asserted).
    unsafe {
        let mut q = 0;
        for oi in 0..g.o {
            let dplane = dptr.add(oi * g.oh * owp);
            for ci in 0..g.c {
                for ky in 0..g.k {
                    for kx in 0..g.k {
                        // Two accumulators, alternating by column group, halve the chain of
                        // dependent additions.
                        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                        for oy in 0..g.oh {
                            let d = dplane.add(oy * owp);
                            let x = xptr.add(ci * hp * wp + (oy + ky) * wp + kx);
                            let mut x0 = 0;
                            while x0 + 16 <= owp {
                                s0 = _mm256_fmadd_ps(
                                    _mm256_loadu_ps(d.add(x0)),
                                    _mm256_loadu_ps(x.add(x0)),
                                    s0,
                                );
                                s1 = _mm256_fmadd_ps(
                                    _mm256_loadu_ps(d.add(x0 + 8)),
                                    _mm256_loadu_ps(x.add(x0 + 8)),
                                    s1,
                                );
                                x0 += 16;
                            }
                            if x0 < owp {
                                s0 = _mm256_fmadd_ps(
                                    _mm256_loadu_ps(d.add(x0)),
                                    _mm256_loadu_ps(x.add(x0)),
                                    s0,
                                );
                            }
                        }
                        let acc = dw.as_mut_ptr().add(8 * q);
                        let sum = _mm256_add_ps(_mm256_loadu_ps(acc), _mm256_add_ps(s0, s1));
                        _mm256_storeu_ps(acc, sum);
                        q += 1;
                    }
                }
            }
        }
    }
}
