//! Output buffers: vectors the kernels fill without zeroing them first, and dense views of
//! strided storage.

use std::borrow::Cow;
use std::mem::MaybeUninit;

use candle_core::Layout;

/// A vector of `len` uninitialized elements, to be written by kernels and then made a `Vec<T>`
/// with [`assume_init`].
pub(crate) fn uninit_vec<T>(len: usize) -> Vec<MaybeUninit<T>> {
    let mut v = Vec::with_capacity(len);
    // SAFETY: MaybeUninit<T> needs no initialization, and the capacity is `len`.
    unsafe { v.set_len(len) };
    v
}

/// Converts a fully written vector of `MaybeUninit<T>` into `Vec<T>`.
///
/// # Safety
///
/// Every element of `v` must have been initialized.
pub(crate) unsafe fn assume_init<T>(v: Vec<MaybeUninit<T>>) -> Vec<T> {
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: MaybeUninit<T> has the layout of T, the caller guarantees every element is
    // initialized, and the allocation is handed over unchanged.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast::<T>(), v.len(), v.capacity()) }
}

/// Views an initialized `MaybeUninit` slice as `&mut [T]`.
///
/// # Safety
///
/// Every element of `s` must have been initialized.
pub(crate) unsafe fn assume_init_mut<T>(s: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: same layout; the caller guarantees initialization.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<T>(), s.len()) }
}

/// Views an initialized slice as `MaybeUninit`, for kernels that only write.
///
/// # Safety
///
/// The caller must not write uninitialized values through the returned slice (the kernels
/// never do).
pub(crate) unsafe fn as_uninit<T>(s: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: same layout; MaybeUninit<T> accepts every bit pattern T has, and the caller
    // writes only initialized values.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<MaybeUninit<T>>(), s.len()) }
}

/// The elements of a tensor in row-major order: borrowed when its layout is contiguous, gathered
/// otherwise.
pub(crate) fn dense<'a, T: Copy>(data: &'a [T], layout: &Layout) -> Cow<'a, [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Cow::Borrowed(&data[start..end]),
        None => Cow::Owned(gather(
            data,
            layout.dims(),
            layout.stride(),
            layout.start_offset(),
        )),
    }
}

/// The elements of a strided tensor in row-major order.
fn gather<T: Copy>(data: &[T], dims: &[usize], strides: &[usize], start: usize) -> Vec<T> {
    let len = dims.iter().product::<usize>();
    let mut out = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let mut index = vec![0; dims.len()];
    let mut offset = start;
    loop {
        out.push(data[offset]);
        // Advance the multi-index like an odometer, last dimension fastest.
        let mut d = dims.len();
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            index[d] += 1;
            offset += strides[d];
            if index[d] < dims[d] {
                break;
            }
            offset -= strides[d] * dims[d];
            index[d] = 0;
        }
    }
}
