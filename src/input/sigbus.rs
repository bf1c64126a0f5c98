//! Surviving an input file that shrinks while it is memory-mapped.
//!
//! Reading a mapped page that lies past the end of its file (because another
//! process truncated the file after we mapped it) raises SIGBUS, which kills
//! the process. A long-lived worker must never die from what is in a file,
//! so a process-wide SIGBUS handler is installed once, before the first
//! input is mapped. It acts only for a thread inside [`guarded`], and only
//! for a fault inside the mapped bytes that thread declared: it maps
//! anonymous zero pages over the rest of that mapping (from the faulting
//! page on), records the fault in a thread-local counter, and returns, so
//! the read goes on over zeros and finishes. The caller sees the count and
//! fails the job with an error naming the file; the zeros are never counted
//! as a result.
//!
//! Any other SIGBUS (another thread, another address: a real bug) puts the
//! previous action back (Rust's own handler, or the default) and returns:
//! the faulting instruction runs again and meets that action, so the process
//! dies as it would have without this module.
//!
//! Everything the handler touches is async-signal-safe: `const`-initialised
//! thread-locals without destructors (plain TLS reads), an atomic, a value
//! written once before the handler was installed, and the `mmap` and
//! `sigaction` system calls.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering, compiler_fence};
use std::sync::{Once, OnceLock};

thread_local! {
    /// The mapped bytes this thread is reading, as addresses `start..end`;
    /// `0..0` outside a guard.
    static GUARDED: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Faults the handler absorbed for this thread since its guard began.
    static FAULTS: Cell<usize> = const { Cell::new(0) };
}

/// The system's page size, set before the handler is installed.
static PAGE: AtomicUsize = AtomicUsize::new(0);
/// The SIGBUS action in place before ours, set before ours is installed.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Runs `read`, which reads the mapped bytes `bytes`, with SIGBUS from those
/// bytes absorbed. Returns what `read` returned and the number of faults
/// absorbed: any fault means part of `bytes` read as zeros instead of the
/// file's content, because the file shrank.
pub fn guarded<T>(bytes: &[u8], read: impl FnOnce() -> T) -> (T, usize) {
    install();
    /// Ends the guard even if `read` panics.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            compiler_fence(Ordering::SeqCst);
            GUARDED.with(|g| g.set((0, 0)));
        }
    }
    let start = bytes.as_ptr() as usize;
    FAULTS.with(|f| f.set(0));
    GUARDED.with(|g| g.set((start, start + bytes.len())));
    // The reads of `bytes` must happen inside the guard: keep the compiler
    // from moving them across the flag's writes (the handler runs on this
    // very thread, so a compiler fence is what is needed).
    compiler_fence(Ordering::SeqCst);
    let reset = Reset;
    let value = read();
    drop(reset);
    (value, FAULTS.with(Cell::get))
}

/// Installs the handler, once per process.
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        PAGE.store(if page > 0 { page as usize } else { 4096 }, Ordering::Relaxed);
        // SAFETY: a zeroed sigaction is a valid value to be overwritten; the
        // first call only reads the current action into it; the second
        // installs a handler with the signature SA_SIGINFO requires, and
        // `previous` is stored before the handler can run.
        unsafe {
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) != 0 {
                return; // no handler: a shrinking file crashes as before
            }
            let _ = PREVIOUS.set(previous);
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
            // SA_ONSTACK: run on the thread's alternate stack where it has
            // one, as Rust's own handler does.
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

extern "C" fn on_sigbus(_signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler;
    // for SIGBUS, si_addr is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    let (start, end) = GUARDED.with(Cell::get);
    if (start..end).contains(&addr) {
        let page = PAGE.load(Ordering::Relaxed);
        let from = addr & !(page - 1);
        let to = (end + page - 1) & !(page - 1);
        // SAFETY: `from..to` lies inside the mapping this thread declared in
        // `guarded` (a mapping starts on a page and covers whole pages), which
        // its owner keeps alive until the guard ends; replacing those pages
        // with private zero pages changes no other memory. mmap is a plain
        // system call, safe in a signal handler.
        let zeros = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                to - from,
                libc::PROT_READ,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if zeros != libc::MAP_FAILED {
            FAULTS.with(|f| f.set(f.get() + 1));
            return;
        }
    }
    // Not a fault we know how to absorb: put the previous action back and
    // return; the faulting instruction runs again and meets it.
    // SAFETY: sigaction is async-signal-safe; PREVIOUS holds the action that
    // was in place before ours (it was set before ours was installed).
    if let Some(previous) = PREVIOUS.get() {
        unsafe { libc::sigaction(libc::SIGBUS, previous, std::ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A private temporary file of 64 KiB, mapped, then cut to 100 bytes.
    fn truncated_mapping() -> memmap2::Mmap {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![b'x'; 64 << 10]).unwrap();
        // SAFETY: a private temporary file that only this test changes.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        file.set_len(100).unwrap();
        map
    }

    /// Child side of the next test: fault where no guard covers it.
    fn fault_unguarded(how: &str) {
        let map = truncated_mapping();
        let other = vec![0u8; 10];
        let read = || {
            // SAFETY: reading mapped memory; past the file's end it faults,
            // which is the point.
            unsafe { std::ptr::read_volatile(&map[32 << 10]) }
        };
        let byte = match how {
            "outside" => {
                guarded(&other, || ());
                read()
            }
            _ => guarded(&other, read).0, // a guard over other bytes
        };
        std::process::exit(i32::from(byte)); // not reached
    }

    #[test]
    fn a_fault_outside_a_guard_still_kills_the_process() {
        const CHILD: &str = "WORDFREQ_TEST_SIGBUS_CHILD";
        if let Ok(how) = std::env::var(CHILD) {
            fault_unguarded(&how);
        }
        for how in ["outside", "elsewhere"] {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "input::sigbus::tests::a_fault_outside_a_guard_still_kills_the_process"])
                .env(CHILD, how)
                .output()
                .unwrap();
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(out.status.signal(), Some(libc::SIGBUS), "{how}: {out:?}");
        }
    }

    #[test]
    fn a_guard_outside_any_fault_reports_none_and_ends() {
        let bytes = vec![7u8; 10_000];
        let (sum, faults) = guarded(&bytes, || bytes.iter().map(|&b| u64::from(b)).sum::<u64>());
        assert_eq!((sum, faults), (70_000, 0));
        assert_eq!(GUARDED.with(Cell::get), (0, 0));
    }

    #[test]
    fn a_file_truncated_under_its_mapping_reads_as_zeros_and_counts_a_fault() {
        let map = truncated_mapping();
        let (tail, faults) = guarded(&map, || map[32 << 10..].iter().filter(|&&b| b == b'x').count());
        assert_eq!(tail, 0);
        assert!(faults >= 1);
        // The first page is still the file's (its first 100 bytes).
        assert_eq!(map[..100], [b'x'; 100]);
    }
}
