//! Rank-4 (NCHW) views of candle layouts: dims, strides and start offset as plain arrays.

use candle_core::{DType, Layout};

use crate::error::Error;

/// Where the elements of an NCHW tensor lie in its storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct View4 {
    pub dims: [usize; 4],
    pub strides: [usize; 4],
    pub start: usize,
}

impl View4 {
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

/// Checks that a dtype is one the kernels compute in.
pub(crate) fn check_float(op: &'static str, arg: &'static str, dtype: DType) -> Result<(), Error> {
    match dtype {
        DType::F32 | DType::F64 => Ok(()),
        dtype => Err(Error::UnsupportedDType { op, arg, dtype }),
    }
}
