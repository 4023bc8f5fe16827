//! Matrices inside slices, and their product by the `gemm` crate: the path for f64 and for
//! CPUs without the x86 kernels of `kernels::x86::gemm`.

use crate::kernels::Element;

/// A matrix inside a slice: element `(i, j)` is at `i * rs + j * cs`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
    pub cs: usize,
}

impl<'a, T> Mat<'a, T> {
    pub fn new(data: &'a [T], rs: usize, cs: usize) -> Self {
        Self { data, rs, cs }
    }
}

/// Number of elements a `rows × cols` matrix with the given strides spans, or `None` if that
/// overflows `usize` (checked, so that a wrapped size can never pass a bounds check).
fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(rs)?
        .checked_add((cols - 1).checked_mul(cs)?)?
        .checked_add(1)
}

/// Whether a `rows × cols` matrix with the given strides lies inside `len` elements.
pub(crate) fn inside(rows: usize, cols: usize, rs: usize, cs: usize, len: usize) -> bool {
    span(rows, cols, rs, cs).is_some_and(|s| s <= len)
}

/// `dst[m×n] = lhs[m×k] · rhs[k×n]`, or `dst += lhs · rhs` when `accumulate`, by the `gemm`
/// crate on the calling thread; `dst` has row stride `dst_rs` and column stride `dst_cs`.
///
/// # Safety
///
/// Each matrix lies inside its buffer (`dst` valid for writes of every element of the
/// `m × n` matrix), `dst` does not overlap `lhs` or `rhs`, and `dst` is initialized if
/// `accumulate`.
#[allow(clippy::too_many_arguments)] // three matrices with two strides each, plus m, n, k
pub(crate) unsafe fn gemm<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: usize,
    dst_cs: usize,
    accumulate: bool,
    lhs: Mat<'_, T>,
    rhs: Mat<'_, T>,
) {
    // SAFETY: the three matrices lie inside their buffers and `dst` does not overlap the
    // operands (caller); gemm reads `dst` only when `accumulate` is set, in which case the
    // caller has initialized it; T is f32 or f64.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}
