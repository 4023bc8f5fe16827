//! The argument checks the ops share, and the sizes they derive from the shapes, computed
//! without overflow: a size that does not fit is an [`Error::TooLarge`] before any work starts,
//! so the kernels only ever see sizes whose buffers exist.

use candle_core::{DType, Layout, Tensor};

use crate::error::Error;

/// The most elements a tensor or buffer of the ops may hold: `isize::MAX` bytes of f64, the
/// largest allocation Rust allows. The ops reject arguments from which a larger size (or one
/// that overflows `usize`) would follow with [`Error::TooLarge`](crate::Error::TooLarge).
pub const MAX_ELEMENTS: usize = isize::MAX as usize / 8;

/// The product of `factors`, if it is at most [`MAX_ELEMENTS`] (so it also fits `usize`).
pub(crate) fn product(factors: &[usize]) -> Option<usize> {
    checked_product(factors).filter(|&p| p <= MAX_ELEMENTS)
}

/// The product of `factors`, or `None` if it overflows `usize`: for the kernels' bounds
/// checks, so that a wrapped product can never pass one.
pub(crate) fn checked_product(factors: &[usize]) -> Option<usize> {
    factors.iter().try_fold(1usize, |p, &f| p.checked_mul(f))
}

/// Whether the product of `factors` is at most `len` (and does not overflow).
pub(crate) fn fits(factors: &[usize], len: usize) -> bool {
    checked_product(factors).is_some_and(|p| p <= len)
}

/// The number of elements of a tensor of shape `dims`, if it is at most [`MAX_ELEMENTS`].
///
/// A tensor's element count is usually bounded by its storage, but a broadcast view (stride 0)
/// can have any shape.
pub(crate) fn elements(
    op: &'static str,
    arg: &'static str,
    dims: &[usize],
) -> Result<usize, Error> {
    product(dims).ok_or_else(|| Error::TooLarge {
        op,
        what: "element count",
        args: format!("`{arg}` of shape {dims:?}"),
    })
}

/// The amount of work of a job in multiply-adds, for the choice of thread count only:
/// saturating, since it needs no exact value once it is large.
pub(crate) fn work(factors: &[usize]) -> usize {
    factors.iter().fold(1usize, |p, &f| p.saturating_mul(f))
}

/// Checks that a dtype is one the kernels compute in.
pub(crate) fn check_float(op: &'static str, arg: &'static str, dtype: DType) -> Result<(), Error> {
    match dtype {
        DType::F32 | DType::F64 => Ok(()),
        dtype => Err(Error::UnsupportedDType { op, arg, dtype }),
    }
}

/// Checks that an argument has the input's dtype.
pub(crate) fn same_dtype(
    op: &'static str,
    arg: &'static str,
    expected: DType,
    got: DType,
) -> Result<(), Error> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::DTypeMismatch {
            op,
            arg,
            expected,
            got,
        })
    }
}

/// Checks that all arguments live on the CPU.
pub(crate) fn check_cpu(
    op: &'static str,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
) -> Result<(), Error> {
    if [Some(x), Some(w), b]
        .into_iter()
        .flatten()
        .all(|t| t.device().is_cpu())
    {
        Ok(())
    } else {
        Err(Error::NotCpu { op })
    }
}

/// A shape error of `op` with the given explanation.
pub(crate) fn shape_error(op: &'static str, message: String) -> Error {
    Error::Shape { op, message }
}

/// Where the elements of an NCHW tensor lie in its storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct View4 {
    pub dims: [usize; 4],
    pub strides: [usize; 4],
    pub start: usize,
}

impl View4 {
    /// The rank-4 view of `layout`, or a rank error naming `op` and `arg`.
    pub fn new(op: &'static str, arg: &'static str, layout: &Layout) -> Result<Self, Error> {
        let (dims, strides) = match (layout.dims(), layout.stride()) {
            (&[n, c, h, w], &[sn, sc, sh, sw]) => ([n, c, h, w], [sn, sc, sh, sw]),
            (dims, _) => {
                return Err(Error::Rank {
                    op,
                    arg,
                    expected: 4,
                    shape: dims.to_vec(),
                })
            }
        };
        Ok(Self {
            dims,
            strides,
            start: layout.start_offset(),
        })
    }

    /// Offset of element `(n, c)`'s first row and column.
    #[inline(always)]
    pub fn plane(&self, n: usize, c: usize) -> usize {
        self.start + n * self.strides[0] + c * self.strides[1]
    }
}

/// Sizes of a stride-1 convolution with a square kernel and zero padding.
///
/// Built by [`Geometry::new`], which checks that every buffer the kernels derive from these
/// sizes fits (see there); the kernels' own asserts check the sizes they rely on again, with
/// checked arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub k: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
}

/// Output columns the direct kernels compute together: their padded rows are rounded up to
/// whole groups of this many (see `direct::padded_row`).
pub(crate) const DIRECT_LANES: usize = 8;

impl Geometry {
    /// The convolution of an `x` of shape `[n, c, h, w]` with `o` square `k × k` filters
    /// (`k ≥ 1`) and `pad` rows and columns of zeros on every side.
    ///
    /// # Errors
    ///
    /// A shape error if the padded input is smaller than the kernel;
    /// [`Error::TooLarge`] if the padded input, the output, the im2col matrix of one image, the
    /// input gradient or the weight gradient's lane sums would hold more than [`MAX_ELEMENTS`]
    /// elements (or their sizes overflow `usize`).
    pub fn new(
        op: &'static str,
        [n, c, h, w]: [usize; 4],
        o: usize,
        k: usize,
        pad: usize,
    ) -> Result<Self, Error> {
        let too_large = |what: &'static str| Error::TooLarge {
            op,
            what,
            args: format!(
                "`x` of shape {:?}, `w` of shape {:?} and `padding` = {pad}",
                [n, c, h, w],
                [o, c, k, k]
            ),
        };
        let padded = |side: usize| pad.checked_mul(2).and_then(|p| p.checked_add(side));
        let (Some(hp), Some(wp)) = (padded(h), padded(w)) else {
            return Err(too_large("padded input"));
        };
        if hp < k || wp < k {
            return Err(shape_error(
                op,
                format!(
                    "input {:?} with padding {pad} is smaller than the {k}x{k} kernel",
                    [n, c, h, w]
                ),
            ));
        }
        let (oh, ow) = (hp - k + 1, wp - k + 1);
        // The padded image of the direct kernels has rows of whole column groups plus the
        // kernel's width; it is at least as large as im2col's padded image.
        let direct_row = ow
            .checked_next_multiple_of(DIRECT_LANES)
            .and_then(|r| r.checked_add(k - 1))
            .ok_or_else(|| too_large("padded input"))?;
        // Per image too: an empty batch does not make a per-image buffer small.
        let sizes: [(&'static str, &[usize]); 6] = [
            ("output", &[n, o, oh, ow]),
            ("output", &[o, oh, ow]),
            ("padded input", &[c, hp, direct_row]),
            ("im2col matrix", &[c, k, k, oh, ow]),
            ("input gradient", &[n, c, h, w]),
            ("weight gradient", &[o, c, k, k, DIRECT_LANES]),
        ];
        for (what, factors) in sizes {
            if product(factors).is_none() {
                return Err(too_large(what));
            }
        }
        Ok(Self {
            n,
            c,
            h,
            w,
            o,
            k,
            pad,
            oh,
            ow,
        })
    }

    /// Rows of a padded plane, `h + 2·pad`, if every output row's kernel rows lie inside it
    /// (`oh + k − 1 ≤ h + 2·pad`, `k ≥ 1`); `None` if not, or if a sum overflows. For the
    /// kernels' bounds checks.
    pub fn checked_padded_height(&self) -> Option<usize> {
        let hp = self.h.checked_add(self.pad.checked_mul(2)?)?;
        (self.oh.checked_add(self.k.checked_sub(1)?)? <= hp).then_some(hp)
    }

    /// `⌈ow / lanes⌉·lanes + k − 1`: how far into a padded row the kernels that compute whole
    /// groups of `lanes` output columns read; `None` on overflow or `k = 0`.
    pub fn checked_row_reach(&self, lanes: usize) -> Option<usize> {
        self.ow
            .checked_next_multiple_of(lanes)?
            .checked_add(self.k.checked_sub(1)?)
    }

    /// Rows of the im2col matrix: one per input channel and kernel position.
    pub fn kdim(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Output positions per image and channel.
    pub fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// The work of one product over the batch (`n · o · kdim · positions` multiply-adds), for
    /// the choice of thread count.
    pub fn work(&self) -> usize {
        work(&[self.n, self.o, self.kdim(), self.positions()])
    }

    /// The kernel covers the whole unpadded input: the convolution is a fully connected layer
    /// on the flattened image, and needs no im2col.
    pub fn is_dense(&self) -> bool {
        self.pad == 0 && self.k == self.h && self.k == self.w
    }
}
