//! Keeping freed tensor memory in the process, so training steps do not pay page faults.

/// Makes glibc's `malloc` keep freed memory for reuse instead of returning it to the kernel.
///
/// Every training step allocates and frees the same large tensors (activations, gradients:
/// hundreds of KiB to a few MiB each). By default glibc serves blocks of 128 KiB and more with
/// `mmap` and unmaps them on `free` (and trims the heap top above 128 KiB), so the next step
/// faults the same memory in again page by page. On the 2-core VMs of the course that can cost
/// more than the arithmetic: depending on the allocation history, a backward pass can run
/// several times slower (see the crate documentation). This sets
/// `M_MMAP_THRESHOLD` to 32 MiB (glibc's maximum) and `M_TRIM_THRESHOLD` to 512 MiB, the same as
/// `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=536870912`.
///
/// Call it once, early in a training program (it affects the whole process, and only
/// allocations made afterwards). The cost is memory: freed blocks stay mapped, so the resident
/// size stays at the peak of the working set instead of shrinking between steps.
///
/// Returns whether the settings took effect: `false` on platforms other than Linux with glibc,
/// where it does nothing.
///
/// # Example
///
/// ```
/// let kept = convlens_ops::keep_freed_memory();
/// assert_eq!(kept, cfg!(all(target_os = "linux", target_env = "gnu")));
/// ```
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes glibc's allocation thresholds and is thread-safe; the
        // values are within the documented ranges.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
