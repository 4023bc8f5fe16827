//! Reading tensors and lists into plain arrays, with errors that name what is wrong.

use candle_core::{DType, Tensor};

use crate::VizError;

/// A 4-D `[N, C, H, W]` block of finite `f32` values, row-major.
#[derive(Debug, Clone)]
pub(crate) struct Maps {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub data: Vec<f32>,
}

impl Maps {
    /// Reads a rank-4 tensor; `what` names it in errors.
    pub(crate) fn from_tensor(tensor: &Tensor, what: &str) -> Result<Self, VizError> {
        let dims = tensor.dims();
        if dims.len() != 4 {
            return Err(shape_error(what, dims, "4-D [N, C, H, W]"));
        }
        if dims.contains(&0) {
            return Err(shape_error(
                what,
                dims,
                "4-D [N, C, H, W] with no zero dimension",
            ));
        }
        let data = read_values(tensor, what)?;
        Ok(Maps {
            n: dims[0],
            c: dims[1],
            h: dims[2],
            w: dims[3],
            data,
        })
    }

    /// The `h * w` values of image `i`, channel `ch`.
    pub(crate) fn plane(&self, i: usize, ch: usize) -> &[f32] {
        let size = self.h * self.w;
        let start = (i * self.c + ch) * size;
        &self.data[start..start + size]
    }

    /// The `c * h * w` values of image `i`.
    pub(crate) fn item(&self, i: usize) -> &[f32] {
        let size = self.c * self.h * self.w;
        &self.data[i * size..(i + 1) * size]
    }
}

/// A 2-D `[rows, cols]` block of finite `f32` values, row-major.
#[derive(Debug, Clone)]
pub(crate) struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    /// Reads a rank-2 tensor; `what` names it and `expected` describes the axes.
    pub(crate) fn from_tensor(
        tensor: &Tensor,
        what: &str,
        expected: &str,
    ) -> Result<Self, VizError> {
        let dims = tensor.dims();
        if dims.len() != 2 || dims.contains(&0) {
            return Err(shape_error(what, dims, expected));
        }
        let data = read_values(tensor, what)?;
        Ok(Matrix {
            rows: dims[0],
            cols: dims[1],
            data,
        })
    }

    /// Row `r`.
    pub(crate) fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}

pub(crate) fn shape_error(what: &str, dims: &[usize], expected: &str) -> VizError {
    VizError::Shape {
        what: what.to_string(),
        shape: dims.to_vec(),
        expected: expected.to_string(),
    }
}

/// All values of `tensor` as `f32`, rejecting NaN and infinities.
fn read_values(tensor: &Tensor, what: &str) -> Result<Vec<f32>, VizError> {
    let tensor_error = |source| VizError::Tensor {
        what: what.to_string(),
        source,
    };
    let values = tensor
        .to_dtype(DType::F32)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(tensor_error)?;
    check_finite(&values, what)?;
    Ok(values)
}

/// Errors on the first NaN or infinity in `values`.
pub(crate) fn check_finite(values: &[f32], what: &str) -> Result<(), VizError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(VizError::NonFinite {
            what: what.to_string(),
            value: values[index] as f64,
            index,
        }),
        None => Ok(()),
    }
}

/// Errors unless `len` equals `expected`, naming both.
pub(crate) fn check_len(what: &str, len: usize, expected: usize, of: &str) -> Result<(), VizError> {
    if len == expected {
        Ok(())
    } else {
        Err(VizError::InvalidInput(format!(
            "{what} has {len} entries but {of} has {expected}"
        )))
    }
}

/// Errors when an input list is empty.
pub(crate) fn check_non_empty(what: &str, len: usize) -> Result<(), VizError> {
    if len == 0 {
        Err(VizError::InvalidInput(format!(
            "{what} is empty, nothing to draw"
        )))
    } else {
        Ok(())
    }
}

/// Errors when a grid is asked for zero columns.
pub(crate) fn check_columns(columns: usize) -> Result<(), VizError> {
    if columns == 0 {
        Err(VizError::InvalidInput(
            "columns is 0, a grid needs at least one column".to_string(),
        ))
    } else {
        Ok(())
    }
}

/// Errors when an image tensor has other than 1 (grey) or 3 (RGB) channels.
pub(crate) fn check_image_channels(maps: &Maps, what: &str) -> Result<(), VizError> {
    if maps.c == 1 || maps.c == 3 {
        Ok(())
    } else {
        Err(shape_error(
            what,
            &[maps.n, maps.c, maps.h, maps.w],
            "[N, C, H, W] with C = 1 (grey) or C = 3 (RGB)",
        ))
    }
}
