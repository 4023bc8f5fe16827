//! Direct convolution for layers with few channels (the course's first layer: one input, three
//! output channels), where im2col + gemm spends more time building and packing matrices than
//! multiplying them: the kernels read a padded copy of the image and work on eight output
//! columns at a time in registers (sixteen in the AVX-512 kernels of
//! `kernels/x86/avx512/direct.rs`; the AVX2 kernels are in `kernels/x86/avx2/direct.rs`, the
//! portable ones and the buffer layout they share here).

use std::mem::MaybeUninit;

use crate::kernels::{multiversion, Element};
use crate::shape::{Geometry, View4, DIRECT_LANES};

/// Output columns computed together (one AVX2 register of f32).
const LANES: usize = DIRECT_LANES;

/// The first [`LANES`] elements of `s` as an array, so that the compiler works on whole
/// vectors.
///
/// # Panics
///
/// If `s` is shorter (the callers size their buffers so that it never is).
#[inline(always)]
fn lanes<T: Element>(s: &[T]) -> &[T; LANES] {
    s[..LANES].try_into().expect("a slice of LANES elements")
}

/// Whether the direct kernels handle this convolution (few input × output channels, so the
/// inner products are short and gemm's overhead dominates).
pub(crate) fn applies(g: &Geometry) -> bool {
    g.c * g.o <= crate::conv::DIRECT_MAX_CHANNEL_PAIRS && !g.is_dense()
}

/// Output columns rounded up to whole groups of [`LANES`].
fn padded_ow(g: &Geometry) -> usize {
    g.ow.div_ceil(LANES) * LANES
}

/// Row length of the padded image: every group of output columns can read its whole window.
pub(crate) fn padded_row(g: &Geometry) -> usize {
    padded_ow(g) + g.k - 1
}

/// Copies image `ni` of `x` into `buf` with its zero padding, `c` planes of `(h + 2·pad)` rows
/// of [`padded_row`] (extra columns on the right are zero too).
///
/// One fill of the whole buffer with zeros, then each image row copied into place: with
/// fixed-size moves when the input's rows are contiguous, element by element otherwise.
pub(crate) fn pad_image<T: Element>(
    x: &[T],
    xv: &View4,
    ni: usize,
    g: &Geometry,
    buf: &mut Vec<T>,
) {
    let (hp, wp) = (g.h + 2 * g.pad, padded_row(g));
    let [_, _, sh, sw] = xv.strides;
    buf.clear();
    buf.resize(g.c * hp * wp, T::ZERO);
    for (ci, plane) in buf.chunks_exact_mut(hp * wp).enumerate() {
        let src = xv.plane(ni, ci);
        let rows = plane.chunks_exact_mut(wp).skip(g.pad).take(g.h);
        for (iy, row) in rows.enumerate() {
            let dst = &mut row[g.pad..g.pad + g.w];
            let at = src + iy * sh;
            if sw == 1 {
                copy_short(dst, &x[at..at + g.w]);
            } else {
                for (j, d) in dst.iter_mut().enumerate() {
                    *d = x[at + j * sw];
                }
            }
        }
    }
}

/// Copies `src` into `dst` (of the same length) with fixed-size moves of [`LANES`] elements,
/// the last one overlapping the one before: for rows of a few dozen elements, a call to
/// `memcpy` per row would cost more than the copy.
#[inline(always)]
fn copy_short<T: Element>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    if n < LANES {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
        return;
    }
    let mut i = 0;
    while i + LANES <= n {
        let d: &mut [T; LANES] = (&mut dst[i..i + LANES]).try_into().expect("LANES elements");
        *d = *lanes(&src[i..]);
        i += LANES;
    }
    if i < n {
        let d: &mut [T; LANES] = (&mut dst[n - LANES..]).try_into().expect("LANES elements");
        *d = *lanes(&src[n - LANES..]);
    }
}

multiversion! {
/// One image's convolution from its padded copy `xp` (see [`pad_image`]) into `out` (`O`
/// planes of `oh × ow`): `out = w ∗ x + b`.
pub(crate) fn forward_image<T: Element>(
    xp: &[T],
    g: &Geometry,
    w: &[T],
    b: Option<&[T]>,
    out: &mut [MaybeUninit<T>],
) {
    let (hp, wp) = (g.h + 2 * g.pad, padded_row(g));
    let kk = g.k * g.k;
    for (oi, plane) in out.chunks_exact_mut(g.oh * g.ow).enumerate() {
        let bias = b.map_or(T::ZERO, |b| b[oi]);
        let wo = &w[oi * g.c * kk..(oi + 1) * g.c * kk];
        for (oy, row) in plane.chunks_exact_mut(g.ow).enumerate() {
            for x0 in (0..g.ow).step_by(LANES) {
                let mut acc = [bias; LANES];
                for ci in 0..g.c {
                    for ky in 0..g.k {
                        let src = &xp[ci * hp * wp + (oy + ky) * wp + x0..][..LANES + g.k - 1];
                        for kx in 0..g.k {
                            let wv = wo[(ci * g.k + ky) * g.k + kx];
                            let s = lanes(&src[kx..]);
                            for l in 0..LANES {
                                acc[l] += wv * s[l];
                            }
                        }
                    }
                }
                for (d, &a) in row[x0..].iter_mut().zip(&acc) {
                    *d = MaybeUninit::new(a);
                }
            }
        }
    }
}
}

/// Copies one image's output gradient (`O` planes of `oh × ow`) into `buf` with rows padded by
/// zeros to whole groups of [`LANES`] (one copy when `ow` is a whole number of groups).
pub(crate) fn pad_grad<T: Element>(dy: &[T], g: &Geometry, buf: &mut Vec<T>) {
    let owp = padded_ow(g);
    let len = g.o * g.oh * g.ow;
    buf.clear();
    if owp == g.ow {
        buf.extend_from_slice(&dy[..len]);
        return;
    }
    buf.resize(g.o * g.oh * owp, T::ZERO);
    for (dst, src) in buf.chunks_exact_mut(owp).zip(dy[..len].chunks_exact(g.ow)) {
        copy_short(&mut dst[..g.ow], src);
    }
}

multiversion! {
/// Adds one image's weight gradient to `dw` (`O × C × K × K`, lane-wise partial sums: `LANES`
/// values per weight, summed by [`finish_weight_grad`]), from the padded image `xp` and the
/// padded output gradient `dyp` (see [`pad_image`], [`pad_grad`]).
pub(crate) fn weight_grad_image<T: Element>(xp: &[T], dyp: &[T], g: &Geometry, dw: &mut [T]) {
    let (hp, wp, owp) = (g.h + 2 * g.pad, padded_row(g), padded_ow(g));
    let mut accs = dw.chunks_exact_mut(LANES);
    for oi in 0..g.o {
        let dplane = &dyp[oi * g.oh * owp..(oi + 1) * g.oh * owp];
        for ci in 0..g.c {
            for ky in 0..g.k {
                for kx in 0..g.k {
                    let Some(acc) = accs.next() else { return };
                    let mut sum = [T::ZERO; LANES];
                    for oy in 0..g.oh {
                        let drow = &dplane[oy * owp..(oy + 1) * owp];
                        let xrow = &xp[ci * hp * wp + (oy + ky) * wp + kx..][..owp];
                        for x0 in (0..owp).step_by(LANES) {
                            let (d, x) = (lanes(&drow[x0..]), lanes(&xrow[x0..]));
                            for l in 0..LANES {
                                sum[l] += d[l] * x[l];
                            }
                        }
                    }
                    for (a, s) in acc.iter_mut().zip(sum) {
                        *a += s;
                    }
                }
            }
        }
    }
}
}

/// Sums the lane-wise partial sums of [`weight_grad_image`] into one value per weight.
pub(crate) fn finish_weight_grad<T: Element>(lanes: &[T], dw: &mut [T]) {
    for (d, l) in dw.iter_mut().zip(lanes.chunks_exact(LANES)) {
        *d = l.iter().fold(T::ZERO, |s, &v| s + v);
    }
}

/// Length of the lane-wise weight-gradient buffer of [`weight_grad_image`].
pub(crate) fn weight_grad_lanes(g: &Geometry) -> usize {
    g.o * g.kdim() * LANES
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use super::*;

    /// A small deterministic generator (xorshift64*), values in [-1, 1).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let bits = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
            bits as f32 / (1u64 << 23) as f32 - 1.0
        }

        fn vec(&mut self, len: usize) -> Vec<f32> {
            (0..len).map(|_| self.next()).collect()
        }
    }

    fn geometry(
        n: usize,
        c: usize,
        o: usize,
        k: usize,
        pad: usize,
        h: usize,
        w: usize,
    ) -> Geometry {
        Geometry {
            n,
            c,
            h,
            w,
            o,
            k,
            pad,
            oh: h + 2 * pad - k + 1,
            ow: w + 2 * pad - k + 1,
        }
    }

    /// `(c, o, k, pad, h, w)`: the course's first layer, odd sizes, partial column groups, every
    /// output-channel count, and kernels too large for the AVX-512 weight-gradient registers.
    const SHAPES: [(usize, usize, usize, usize, usize, usize); 14] = [
        (1, 3, 3, 3, 28, 28),
        (2, 4, 2, 1, 7, 13),
        (1, 1, 1, 0, 5, 5),
        (1, 8, 1, 0, 3, 40),
        (8, 1, 3, 1, 9, 17),
        (1, 2, 3, 0, 30, 50),
        (2, 3, 3, 2, 11, 33),
        (1, 5, 4, 2, 6, 20),
        (1, 6, 2, 0, 13, 16),
        (1, 7, 5, 1, 10, 31),
        (4, 2, 5, 4, 4, 3),
        (1, 3, 6, 0, 12, 40),
        (2, 2, 7, 3, 9, 9),
        (3, 1, 2, 0, 2, 70),
    ];

    /// The images of a batch of two stored with the given strides (the extra elements hold
    /// garbage that must not be read), and their view.
    fn images(rng: &mut Rng, g: &Geometry, contiguous: bool) -> (Vec<f32>, View4) {
        let (sw, sh) = if contiguous {
            (1, g.w)
        } else {
            (2, 2 * g.w + 3)
        };
        let (sc, sn) = (sh * g.h + 1, (sh * g.h + 1) * g.c + 5);
        let view = View4 {
            dims: [g.n, g.c, g.h, g.w],
            strides: [sn, sc, sh, sw],
            start: 7,
        };
        (rng.vec(7 + sn * g.n), view)
    }

    /// Reference convolution of image `ni` in f64: values and sums of absolute terms.
    fn reference(
        x: &[f32],
        xv: &View4,
        ni: usize,
        g: &Geometry,
        w: &[f32],
        b: Option<&[f32]>,
    ) -> (Vec<f64>, Vec<f64>) {
        let (mut y, mut scale) = (Vec::new(), Vec::new());
        let at = |ci: usize, iy: isize, ix: isize| -> f64 {
            if iy < 0 || ix < 0 || iy as usize >= g.h || ix as usize >= g.w {
                return 0.0;
            }
            let [_, _, sh, sw] = xv.strides;
            f64::from(x[xv.plane(ni, ci) + iy as usize * sh + ix as usize * sw])
        };
        for oi in 0..g.o {
            for oy in 0..g.oh {
                for ox in 0..g.ow {
                    let bias = b.map_or(0.0, |b| f64::from(b[oi]));
                    let (mut v, mut s) = (bias, bias.abs());
                    for ci in 0..g.c {
                        for ky in 0..g.k {
                            for kx in 0..g.k {
                                let wv = f64::from(w[((oi * g.c + ci) * g.k + ky) * g.k + kx]);
                                let iy = (oy + ky) as isize - g.pad as isize;
                                let ix = (ox + kx) as isize - g.pad as isize;
                                let t = wv * at(ci, iy, ix);
                                v += t;
                                s += t.abs();
                            }
                        }
                    }
                    y.push(v);
                    scale.push(s);
                }
            }
        }
        (y, scale)
    }

    fn assert_close(what: &str, got: &[f32], want: &[f64], scale: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
            let err = (f64::from(g) - w).abs();
            assert!(
                err <= 1e-5 * s.max(1e-30),
                "{what}: element {i} is {g}, expected {w} (error {err:e}, scale {s:e})"
            );
        }
    }

    type Forward = fn(&[f32], usize, &Geometry, &[f32], Option<&[f32]>, &mut [MaybeUninit<f32>]);
    type WeightGrad = fn(&[f32], usize, &[f32], &Geometry, &mut [f32]);

    /// The kernels this CPU can run, by name.
    fn forward_kernels() -> Vec<(&'static str, Forward)> {
        let mut kernels: Vec<(&'static str, Forward)> =
            vec![("portable", |xp, _, g, w, b, out| {
                forward_image(xp, g, w, b, out)
            })];
        #[cfg(target_arch = "x86_64")]
        {
            if crate::kernels::x86::has_avx2_fma() {
                kernels.push(("avx2", |xp, wp, g, w, b, out| {
                    // SAFETY: the CPU supports AVX2 and FMA; the test lays out the buffers as
                    // `pad_image` does, and the kernel checks their sizes.
                    unsafe {
                        crate::kernels::x86::avx2::direct::forward_image(xp, wp, g, w, b, out)
                    }
                }));
            }
            if crate::kernels::x86::has_avx512f() {
                kernels.push(("avx512", |xp, wp, g, w, b, out| {
                    // SAFETY: the CPU supports AVX-512F, AVX2 and FMA; as above.
                    unsafe {
                        crate::kernels::x86::avx512::direct::forward_image(xp, wp, g, w, b, out)
                    }
                }));
            }
        }
        kernels
    }

    fn weight_grad_kernels() -> Vec<(&'static str, WeightGrad)> {
        let mut kernels: Vec<(&'static str, WeightGrad)> =
            vec![("portable", |xp, _, dyp, g, dw| {
                weight_grad_image(xp, dyp, g, dw)
            })];
        #[cfg(target_arch = "x86_64")]
        {
            if crate::kernels::x86::has_avx2_fma() {
                kernels.push(("avx2", |xp, wp, dyp, g, dw| {
                    // SAFETY: the CPU supports AVX2 and FMA; the test lays out the buffers as
                    // `pad_image` and `pad_grad` do, and the kernel checks their sizes.
                    unsafe {
                        crate::kernels::x86::avx2::direct::weight_grad_image(xp, wp, dyp, g, dw)
                    }
                }));
            }
            if crate::kernels::x86::has_avx512f() {
                kernels.push(("avx512", |xp, wp, dyp, g, dw| {
                    // SAFETY: the CPU supports AVX-512F, AVX2 and FMA; as above.
                    unsafe {
                        crate::kernels::x86::avx512::direct::weight_grad_image(xp, wp, dyp, g, dw)
                    }
                }));
            }
        }
        kernels
    }

    #[test]
    fn pad_image_places_every_element() {
        let mut rng = Rng(0x5eed);
        for &(c, o, k, pad, h, w) in &SHAPES {
            let g = geometry(2, c, o, k, pad, h, w);
            let (hp, wp) = (h + 2 * pad, padded_row(&g));
            for contiguous in [true, false] {
                let (x, xv) = images(&mut rng, &g, contiguous);
                // A buffer left over from a larger image must not leak into this one.
                let mut buf = vec![f32::NAN; 3 * g.c * hp * wp + 11];
                pad_image(&x, &xv, 1, &g, &mut buf);
                assert_eq!(buf.len(), g.c * hp * wp);
                let [_, _, sh, sw] = xv.strides;
                for ci in 0..c {
                    for yy in 0..hp {
                        for xx in 0..wp {
                            let inside =
                                (pad..pad + h).contains(&yy) && (pad..pad + w).contains(&xx);
                            let want = if inside {
                                x[xv.plane(1, ci) + (yy - pad) * sh + (xx - pad) * sw]
                            } else {
                                0.0
                            };
                            assert_eq!(
                                buf[(ci * hp + yy) * wp + xx],
                                want,
                                "{c} {o} {k} {pad} {h} {w}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Prints how many cases each instruction set's kernel passed, and asserts that the
    /// portable kernel (which every CPU runs) was among them: on a CPU without AVX2 or
    /// AVX-512 the vector kernels are not tested, and the output says so.
    fn report_coverage(what: &str, runs: &std::collections::BTreeMap<&str, usize>) {
        eprintln!("{what} kernels checked (cases per instruction set): {runs:?}");
        assert!(
            runs.get("portable").is_some_and(|&n| n > 0),
            "{what}: the portable kernel did not run"
        );
    }

    #[test]
    fn forward_kernels_agree_with_the_reference() {
        let mut runs = std::collections::BTreeMap::new();
        let mut rng = Rng(0xc0ffee);
        for &(c, o, k, pad, h, w) in &SHAPES {
            let g = geometry(2, c, o, k, pad, h, w);
            assert!(applies(&g));
            let (x, xv) = images(&mut rng, &g, true);
            let wt = rng.vec(o * g.kdim());
            let bias = rng.vec(o);
            for b in [None, Some(&bias[..])] {
                for ni in 0..g.n {
                    let (want, scale) = reference(&x, &xv, ni, &g, &wt, b);
                    let mut xp = Vec::new();
                    pad_image(&x, &xv, ni, &g, &mut xp);
                    for (name, kernel) in forward_kernels() {
                        let mut out = vec![MaybeUninit::new(f32::NAN); o * g.positions()];
                        kernel(&xp, padded_row(&g), &g, &wt, b, &mut out);
                        // SAFETY: initialized above (and overwritten by the kernel).
                        let got: Vec<f32> =
                            out.iter().map(|v| unsafe { v.assume_init() }).collect();
                        let what = format!("{name} forward, c {c} o {o} k {k} pad {pad} {h}x{w}");
                        assert_close(&what, &got, &want, &scale);
                        *runs.entry(name).or_insert(0) += 1;
                    }
                }
            }
        }
        report_coverage("direct forward", &runs);
    }

    #[test]
    fn weight_grad_kernels_agree_with_the_reference() {
        let mut runs = std::collections::BTreeMap::new();
        let mut rng = Rng(0xfeed);
        for &(c, o, k, pad, h, w) in &SHAPES {
            let g = geometry(2, c, o, k, pad, h, w);
            let (x, xv) = images(&mut rng, &g, false);
            let dy = rng.vec(g.n * o * g.positions());
            // dW[o, ci, ky, kx]
            //   = Σ_n Σ_(oy, ox) dy[n, o, oy, ox] · x[n, ci, oy + ky − pad, ox + kx − pad]
            let (mut want, mut scale) = (vec![0f64; o * g.kdim()], vec![0f64; o * g.kdim()]);
            for ni in 0..g.n {
                // The reference convolution with a one-hot weight gives the shifted image.
                for q in 0..g.kdim() {
                    let mut onehot = vec![0f32; g.kdim()];
                    onehot[q] = 1.0;
                    let g1 = Geometry { o: 1, ..g };
                    let (shifted, _) = reference(&x, &xv, ni, &g1, &onehot, None);
                    for oi in 0..o {
                        let d = &dy[(ni * o + oi) * g.positions()..][..g.positions()];
                        for (&dv, &xv) in d.iter().zip(&shifted) {
                            want[oi * g.kdim() + q] += f64::from(dv) * xv;
                            scale[oi * g.kdim() + q] += (f64::from(dv) * xv).abs();
                        }
                    }
                }
            }
            for (name, kernel) in weight_grad_kernels() {
                let mut lanes = vec![0f32; weight_grad_lanes(&g)];
                let (mut xp, mut dyp) = (Vec::new(), Vec::new());
                for ni in 0..g.n {
                    pad_image(&x, &xv, ni, &g, &mut xp);
                    pad_grad(
                        &dy[ni * o * g.positions()..][..o * g.positions()],
                        &g,
                        &mut dyp,
                    );
                    kernel(&xp, padded_row(&g), &dyp, &g, &mut lanes);
                }
                let mut got = vec![0f32; o * g.kdim()];
                finish_weight_grad(&lanes, &mut got);
                let what = format!("{name} weight gradient, c {c} o {o} k {k} pad {pad} {h}x{w}");
                assert_close(&what, &got, &want, &scale);
                *runs.entry(name).or_insert(0) += 1;
            }
        }
        report_coverage("direct weight-gradient", &runs);
    }

    #[test]
    fn pad_grad_pads_rows_with_zeros() {
        let mut rng = Rng(7);
        for &(c, o, k, pad, h, w) in &SHAPES {
            let g = geometry(1, c, o, k, pad, h, w);
            let dy = rng.vec(o * g.positions());
            let mut buf = vec![f32::NAN; 5];
            pad_grad(&dy, &g, &mut buf);
            let owp = padded_ow(&g);
            assert_eq!(buf.len(), o * g.oh * owp);
            for (row, src) in buf.chunks_exact(owp).zip(dy.chunks_exact(g.ow)) {
                assert_eq!(&row[..g.ow], src);
                assert!(row[g.ow..].iter().all(|&v| v == 0.0));
            }
        }
    }
}
