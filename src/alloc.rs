//! How the process takes memory from the C allocator and the kernel.
//! Tables, arenas and sorted lists are a few large blocks that grow by
//! doubling and are freed whole; glibc's default, which raises its mmap
//! threshold up to 32 MiB after the first large free, serves such blocks
//! from the heap instead, and a block freed or shrunk there stays in the
//! process's memory. With a fixed threshold every large block is its own
//! mapping: growing it is a remap (no copy, no second block), and freeing
//! it gives it back at once. The counting table's slots, probed at random
//! places, ask for huge pages.

/// Blocks of at least this many bytes are mapped on their own.
const MMAP_THRESHOLD: i32 = 256 << 10;

/// Sets the allocator up for large tables; call once, first thing in `main`.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before
    // any thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Gives the memory that freed small blocks leave in glibc's arenas back
/// to the system (those blocks are not large enough to be mappings of
/// their own, and a hole between live blocks stays resident otherwise).
/// Takes a few milliseconds: call it when a job ends, not while counting.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's own
    // arenas to the system; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The size of a huge page (x86-64 and most arm64 kernels).
const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back the block of `bytes` at `block` with huge pages
/// where it can (transparent huge pages in `madvise` mode, the common
/// default): a table probed at random places then costs a TLB miss and a
/// page fault per 2 MiB instead of per 4 KiB. Call it before the block is
/// first written. A hint: nothing changes where the kernel declines.
pub fn prefer_huge_pages<T>(block: *const T, bytes: usize) {
    let start = (block as usize).next_multiple_of(HUGE_PAGE);
    let end = (block as usize + bytes) / HUGE_PAGE * HUGE_PAGE;
    if end <= start {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: the range lies inside a block this process allocated and
    // owns; MADV_HUGEPAGE only marks how its pages may be backed and never
    // changes their contents.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
    }
}
