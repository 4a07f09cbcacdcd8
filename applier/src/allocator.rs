//! The binary's allocator: mimalloc, except in `plumber agent`, which uses the system's (glibc malloc).
//!
//! The one-shot commands (`apply`, `show`, the renderer inside them) allocate and free a message per
//! link, address and route; mimalloc makes that cheaper (BENCHMARKS.md, applier: no-op apply 67 → 51
//! ms). The agent is the opposite case: it sleeps between passes, and what counts is how little of a
//! pass's memory stays resident. mimalloc keeps a 64 KiB page per size class wherever one object of
//! that class survives, so after a 1000-link pass its heap stays at ≈ 11 MB for ≈ 2 MB of live
//! objects; glibc malloc, trimmed after each pass (`malloc_trim(0)` gives back every free 4 KiB page
//! of every arena, [`trim`]), keeps ≈ 6 MB (BENCHMARKS.md, "Agent footprint", issue 17 goal 3).
//!
//! Which one is decided at the process's first allocation, from its command line (`argv[1]` is the
//! subcommand: `plumber` has no options before it), read from `/proc/self/cmdline` without
//! allocating; every allocation of the process then goes to that one allocator, so a block is always
//! freed by the allocator that made it. Without /proc, mimalloc.
//!
//! Every process also turns transparent huge pages off for itself at that first allocation
//! (`PR_SET_THP_DISABLE`, which is what mimalloc's own `MIMALLOC_ALLOW_THP=0` does), whatever its allocator:
//! - the one-shot commands: mimalloc asks for huge pages on its arena (`MADV_HUGEPAGE`), so the first
//!   touch of any byte of a 2 MiB stretch of it made the kernel map and zero all 2 MiB, resident memory
//!   a command that lives milliseconds never uses. Peak RSS without: `plumber show` of 1001 links 33 →
//!   22 MB, a 20-pair apply 21.7 → 14.3 MB; the wall time is the same within noise (BENCHMARKS.md,
//!   issue 17);
//! - the services (the agent, the rollup): khugepaged collapsed their partly used heap ranges into huge
//!   pages while they slept (`cmd::lean_memory`, BENCHMARKS.md, "Agent footprint").
//!
//! Inherited by the tools plumber runs (ovs-vsctl, ...), which are as short-lived.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

use mimalloc::MiMalloc;

/// 0: not decided yet; [`MIMALLOC`] or [`SYSTEM`].
static KIND: AtomicU8 = AtomicU8::new(0);
const MIMALLOC: u8 = 1;
const SYSTEM: u8 = 2;

/// The subcommand whose process uses the system allocator.
const SYSTEM_FOR: &[u8] = b"agent";

pub(crate) struct Allocator;

/// Whether this process allocates with the system allocator (decides it if no allocation has yet).
/// Inlined into every allocation: one relaxed load once decided.
#[inline(always)]
pub(crate) fn system() -> bool {
    match KIND.load(Ordering::Relaxed) {
        0 => decided(),
        k => k == SYSTEM,
    }
}

/// The first allocation's [`system`]: turns huge pages off, decides, and stores what was decided.
#[cold]
#[inline(never)]
fn decided() -> bool {
    // Huge pages off (the module doc), before the allocator touches any memory.
    // SAFETY: a flag of this process's memory map; no pointer is passed. A kernel without it (EINVAL)
    // leaves huge pages on, which only costs memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    let k = decide();
    // Every caller decides the same from the same command line; the first store stands.
    match KIND.compare_exchange(0, k, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => k == SYSTEM,
        Err(stored) => stored == SYSTEM,
    }
}

/// Reads `argv[1]` from /proc/self/cmdline into a buffer on the stack (no allocation: this runs inside
/// the first one).
fn decide() -> u8 {
    let mut buf = [0u8; 4096];
    // SAFETY: open/read/close on a buffer of the length given; no allocation, nothing kept.
    let n = unsafe {
        let fd = libc::open(
            c"/proc/self/cmdline".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return MIMALLOC;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let Ok(n) = usize::try_from(n) else {
        return MIMALLOC;
    };
    let mut args = buf[..n].split(|&b| b == 0);
    args.next(); // argv[0]
    if args.next() == Some(SYSTEM_FOR) {
        SYSTEM
    } else {
        MIMALLOC
    }
}

/// Gives the heap's free pages back to the kernel: glibc's `malloc_trim(0)` (every arena, every free
/// page, wherever it is in the heap) in the agent, mimalloc's `mi_collect(true)` on the calling thread
/// otherwise.
pub(crate) fn trim() {
    if system() {
        // SAFETY: trims the allocator's own free memory; no pointer is passed.
        unsafe {
            libc::malloc_trim(0);
        }
    } else {
        // SAFETY: collects the calling thread's own heap; no pointer is passed.
        unsafe { libmimalloc_sys::mi_collect(true) }
    }
}

// SAFETY: every call goes to the one allocator the process decided on at its first allocation, and
// that allocator's own calls uphold GlobalAlloc's contract.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if system() {
            unsafe { System.alloc(layout) }
        } else {
            unsafe { MiMalloc.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if system() {
            unsafe { System.alloc_zeroed(layout) }
        } else {
            unsafe { MiMalloc.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if system() {
            unsafe { System.dealloc(ptr, layout) }
        } else {
            unsafe { MiMalloc.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if system() {
            unsafe { System.realloc(ptr, layout, new_size) }
        } else {
            unsafe { MiMalloc.realloc(ptr, layout, new_size) }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The test binary is not `plumber agent`: mimalloc, and no transparent huge pages.
    #[test]
    fn not_the_agent_uses_mimalloc_without_huge_pages() {
        assert!(!super::system());
        // SAFETY: reads a flag of this process; no pointer is passed.
        let thp_disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(thp_disabled, 1);
    }
}
