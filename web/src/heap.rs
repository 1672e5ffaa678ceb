//! The module's memory allocator: power-of-two size classes, each with a
//! free list, carved from memory the module grows. std's dlmalloc is 4.4 KB
//! of code, 5 % of the module every visitor downloads; this is a few hundred
//! bytes. Allocation and free are O(1). The cost is space: a block takes up to
//! twice what was asked, and a freed block is only reused for its own class.
//! The peer's allocations are few shapes repeated (messages up to 16 KiB plus
//! a header, blocks, vectors that double), so the classes stay warm; the
//! benchmarks report the module's memory (`wasmMemoryBytes`).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;

/// Smallest block: room for the free list's link, and the largest alignment
/// handed out (every block starts at a multiple of it).
const MIN: usize = 16;
const CLASSES: usize = usize::BITS as usize;

/// Where the heap's fresh memory comes from.
pub trait Grow {
    /// Makes `bytes` more bytes available after the current end; returns the
    /// address where they start, or `None` when memory is exhausted.
    fn grow(&mut self, bytes: usize) -> Option<usize>;
}

/// The allocator's state: a free list head per class, and the unused tail
/// of the last memory grown.
pub struct Heap<G> {
    free: [usize; CLASSES],
    next: usize,
    end: usize,
    grow: G,
}

impl<G: Grow> Heap<G> {
    pub const fn new(grow: G) -> Self {
        Heap {
            free: [0; CLASSES],
            next: 0,
            end: 0,
            grow,
        }
    }

    /// The class of a request, or `None` for one no block can satisfy.
    fn class(layout: Layout) -> Option<usize> {
        if layout.align() > MIN {
            return None;
        }
        let size = layout.size().max(MIN).checked_next_power_of_two()?;
        Some(size.trailing_zeros() as usize)
    }

    /// # Safety
    /// The memory `grow` hands out must be writable and unused by anything else.
    pub unsafe fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let Some(class) = Self::class(layout) else {
            return std::ptr::null_mut();
        };
        let head = self.free[class];
        if head != 0 {
            // SAFETY: a free block's first word holds the next free block of its class.
            self.free[class] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << class;
        if self.end - self.next < size {
            // What is left of the tail is small next to what was asked: it
            // goes unused, rather than into classes it may never serve.
            let Some(start) = self.grow.grow(size.max(64 << 10)) else {
                return std::ptr::null_mut();
            };
            if start != self.end {
                self.next = start.next_multiple_of(MIN);
            }
            self.end = start + size.max(64 << 10);
            if self.end - self.next < size {
                return std::ptr::null_mut();
            }
        }
        let p = self.next;
        self.next += size;
        p as *mut u8
    }

    /// # Safety
    /// `ptr` came from `alloc` on this heap with the same `layout`.
    pub unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        let Some(class) = Self::class(layout) else {
            return;
        };
        // SAFETY: the block is ours again and at least MIN bytes, aligned to MIN.
        unsafe { *(ptr as *mut usize) = self.free[class] };
        self.free[class] = ptr as usize;
    }

    /// # Safety
    /// As for `dealloc`; `new_size` is not zero.
    pub unsafe fn realloc(&mut self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: align is unchanged and was valid for `layout`.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if Self::class(layout) == Self::class(new) {
            return ptr;
        }
        // SAFETY: as the caller promised; the two blocks are distinct.
        unsafe {
            let to = self.alloc(new);
            if !to.is_null() {
                std::ptr::copy_nonoverlapping(ptr, to, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            to
        }
    }
}

/// wasm32 linear memory: grows in 64 KiB pages.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub struct Pages;

impl Grow for Pages {
    #[cfg(target_arch = "wasm32")]
    fn grow(&mut self, bytes: usize) -> Option<usize> {
        let pages = bytes.div_ceil(64 << 10);
        let before = core::arch::wasm32::memory_grow(0, pages);
        (before != usize::MAX).then(|| before * (64 << 10))
    }
    #[cfg(not(target_arch = "wasm32"))]
    fn grow(&mut self, _: usize) -> Option<usize> {
        None
    }
}

/// The global allocator of the wasm32 build.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub struct Allocator(UnsafeCell<Heap<Pages>>);

// SAFETY: wasm32-unknown-unknown without threads: one thread ever touches it.
unsafe impl Sync for Allocator {}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
impl Allocator {
    pub const fn new() -> Self {
        Allocator(UnsafeCell::new(Heap::new(Pages)))
    }
}

// SAFETY: one thread, and no allocation happens while another is in progress
// (the heap's methods do not allocate), so the `&mut` is never aliased.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { (*self.0.get()).dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { (*self.0.get()).realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory from one boxed arena, handed out in 64 KiB steps like wasm pages.
    struct Arena {
        mem: Vec<u128>,
        used: usize,
    }

    impl Grow for Arena {
        fn grow(&mut self, bytes: usize) -> Option<usize> {
            let bytes = bytes.next_multiple_of(64 << 10);
            let base = self.mem.as_mut_ptr() as usize;
            if self.used + bytes > self.mem.len() * 16 {
                return None;
            }
            self.used += bytes;
            Some(base + self.used - bytes)
        }
    }

    fn heap(mib: usize) -> Heap<Arena> {
        Heap::new(Arena {
            mem: vec![0; (mib << 20) / 16],
            used: 0,
        })
    }

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    #[test]
    fn blocks_do_not_overlap_and_keep_their_bytes() {
        let mut h = heap(16);
        let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
        let mut seed = 7u32;
        for i in 0..4000u32 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let free = live.len() > 300 || (seed % 3 == 0 && !live.is_empty());
            if free {
                let (p, size, tag) = live.swap_remove((seed as usize >> 4) % live.len());
                // SAFETY: p came from this heap with this size and was filled with tag.
                unsafe {
                    assert!(std::slice::from_raw_parts(p, size)
                        .iter()
                        .all(|&b| b == tag));
                    h.dealloc(p, layout(size));
                }
            } else {
                let size = 1 + (seed as usize >> 8) % 20_000;
                // SAFETY: the arena is ours alone.
                let p = unsafe { h.alloc(layout(size)) };
                assert!(!p.is_null());
                assert_eq!(p as usize % MIN, 0);
                // SAFETY: the block is at least `size` bytes.
                unsafe { std::ptr::write_bytes(p, i as u8, size) };
                live.push((p, size, i as u8));
            }
        }
        for (p, size, tag) in live {
            // SAFETY: as above.
            unsafe {
                assert!(std::slice::from_raw_parts(p, size)
                    .iter()
                    .all(|&b| b == tag));
            }
        }
    }

    #[test]
    fn freed_blocks_are_reused_and_growing_stops_when_memory_ends() {
        let mut h = heap(1);
        // SAFETY: the arena is ours alone; every pointer is freed with its layout.
        unsafe {
            let a = h.alloc(layout(100));
            h.dealloc(a, layout(100));
            assert_eq!(h.alloc(layout(128)), a, "same class, same block");
            let grown = h.realloc(a, layout(128), 120);
            assert_eq!(grown, a, "realloc within the class stays put");
            let big = h.realloc(a, layout(120), 300);
            assert_ne!(big, a);
            assert!(
                h.alloc(layout(2 << 20)).is_null(),
                "more than the arena holds"
            );
            assert!(h.alloc(Layout::from_size_align(64, 64).unwrap()).is_null());
        }
    }
}
