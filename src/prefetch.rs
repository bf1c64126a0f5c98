//! Prefetching: asking the CPU to start loading memory that the code will
//! read a little later. The counting table, the shared table's staged words
//! and the sorted output all read memory at random places; issuing the loads
//! of the next dozen places before using the current one lets their cache
//! misses overlap instead of following one another.

/// Asks for the cache line of `item` to be loaded; a hint that never faults.
#[inline(always)]
pub fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no effect on the program's state, and the
    // pointer comes from a live reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((item as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}
