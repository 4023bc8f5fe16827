//! The element types the kernels compute in (f32 and f64), with access to candle's storage.

use candle_core::{CpuStorage, WithDType};

/// A float type the kernels are written for.
///
/// Sealed by being private: only `f32` and `f64` implement it, the two dtypes the ops accept.
pub(crate) trait Element:
    WithDType
    + Copy
    + PartialOrd
    + Send
    + Sync
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
{
    const ZERO: Self;
    const ONE: Self;
    fn is_nan(self) -> bool;
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Element for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

/// The elements of a storage, viewed as `T` (the caller has checked the dtype).
pub(crate) fn slice<T: Element>(storage: &CpuStorage) -> candle_core::Result<&[T]> {
    T::cpu_storage_as_slice(storage)
}
