//! Counts the calls to a global allocator: how the benchmark shows
//! allocations per packet (phonehome's `alloc-count` feature).
//!
//! The counters are shared atomics: they cost a contended increment per call,
//! which is why only the benchmark build uses this wrapper.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// `A` with every allocation, zeroed allocation and reallocation counted.
pub struct Counting<A> {
    inner: A,
    allocs: AtomicU64,
    reallocs: AtomicU64,
    bytes: AtomicU64,
}

/// What [`Counting`] counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `alloc` and `alloc_zeroed` calls.
    pub allocs: u64,
    /// `realloc` calls (a growing `Vec` or `String`).
    pub reallocs: u64,
    /// Bytes asked for by those calls (a reallocation counts its new size).
    pub bytes: u64,
}

impl<A> Counting<A> {
    pub const fn new(inner: A) -> Self {
        Counting {
            inner,
            allocs: AtomicU64::new(0),
            reallocs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    pub fn counts(&self) -> Counts {
        Counts {
            allocs: self.allocs.load(Relaxed),
            reallocs: self.reallocs.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
        }
    }
}

// SAFETY: every call is forwarded unchanged to `inner`, a GlobalAlloc; the
// counters are atomics and never allocate.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocs.fetch_add(1, Relaxed);
        self.bytes.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.inner.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.allocs.fetch_add(1, Relaxed);
        self.bytes.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.inner.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.reallocs.fetch_add(1, Relaxed);
        self.bytes.fetch_add(new_size as u64, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.inner.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn counts_each_kind_of_call() {
        let c = Counting::new(System);
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: a valid non-zero layout; the block is freed with the same layout.
        unsafe {
            let p = c.alloc(layout);
            assert!(!p.is_null());
            let p = c.realloc(p, layout, 128);
            assert!(!p.is_null());
            c.dealloc(p, Layout::from_size_align(128, 8).unwrap());
        }
        assert_eq!(
            c.counts(),
            Counts {
                allocs: 1,
                reallocs: 1,
                bytes: 192
            }
        );
    }
}
