//! The `uvm` binary's memory allocator (its `#[global_allocator]`): blocks in size classes,
//! carved from mappings that are never given back to the host kernel, and kept for reuse
//! when freed.
//!
//! Why not the C library's: a start of uvm runs threads on both CPUs at once (the VM's
//! thread, the image thread, later vCPU threads), and a free that hands memory back to the
//! kernel (`munmap`, `madvise`) then costs a TLB shootdown, an interrupt to the other CPU.
//! musl's allocator does that as a start frees its staging buffers: 12.5% of the image
//! thread's CPU went to `smp_call_function_many_cond` with it (docs/PERFORMANCE.md). uvm's
//! heap is small and reaches its peak early, so keeping freed blocks costs little memory.
//!
//! Classes: 16-byte steps up to 128 bytes, then four per doubling up to 1 MiB ([`class_of`],
//! [`class_size`]). Each class has a free list (last in, first out; the link is in the freed
//! block) and a run of fresh memory it carves blocks from, one at a time, so a page is
//! touched only when a block on it is handed out. Runs come from chunks of reserved address
//! space (`MAP_NORESERVE`: pages are backed on first touch). A block of a power-of-two class
//! is aligned to its size; a request aligned more than 16 bytes gets the power-of-two class
//! at least as large as its size and alignment. Blocks larger than 1 MiB are mappings of
//! their own, unmapped when freed (rare: guest memory is mapped by `uvm-vmm`, not allocated).
//!
//! Locking: a mutex per class, and one for the chunks, taken while a class's is held (never
//! the other way round). Nothing here allocates or panics while holding one.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::null_mut;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The largest block a class serves; larger ones are mappings of their own.
pub const MAX_CLASS_SIZE: usize = 1 << 20;
/// How many classes there are: 8 of 16-byte steps up to 128, then 4 per doubling to 1 MiB.
pub const CLASSES: usize = 8 + 4 * (20 - 7);
/// The alignment every block has (the x86-64 `malloc` guarantee).
const MIN_ALIGN: usize = 16;
/// The page size mappings are made in.
const PAGE: usize = 4096;
/// Address space a chunk reserves (only what is touched is backed).
const CHUNK_SIZE: usize = 64 << 20;
/// The fresh memory a class takes from a chunk at a time (or one block, if larger).
const RUN_SIZE: usize = 64 << 10;
/// The first run of a class of blocks up to half this size: the first runs of the small
/// classes lie side by side, four to a page, where each would otherwise start a page of its
/// own. A start of uvm first touches ~15 classes on each of its two threads, and each page
/// first touched is a host page fault (~2 us on a nested host, on the path to boot).
const FIRST_RUN_SIZE: usize = 1 << 10;

/// The class serving blocks of `size` bytes (at most 16-byte aligned): the smallest whose
/// size is at least `size`; `None` above [`MAX_CLASS_SIZE`].
pub const fn class_of(size: usize) -> Option<usize> {
    if size <= 128 {
        let size = if size == 0 { 1 } else { size };
        return Some(size.div_ceil(16) - 1);
    }
    if size > MAX_CLASS_SIZE {
        return None;
    }
    // size is in (2^k, 2^(k+1)], k >= 7: four steps of 2^(k-2) each.
    let k = (usize::BITS - 1 - (size - 1).leading_zeros()) as usize;
    let step = 1usize << (k - 2);
    let j = (size - (1 << k)).div_ceil(step);
    Some(8 + (k - 7) * 4 + (j - 1))
}

/// The block size of class `class` (< [`CLASSES`]).
pub const fn class_size(class: usize) -> usize {
    if class < 8 {
        return 16 * (class + 1);
    }
    let m = class - 8;
    let k = 7 + m / 4;
    (1 << k) + (m % 4 + 1) * (1 << (k - 2))
}

/// The class for `layout`, or `None` for a block of its own mapping: the class of its size
/// when it needs at most 16-byte alignment, else the power-of-two class that covers both its
/// size and its alignment.
fn class_for(layout: Layout) -> Option<usize> {
    if layout.align() <= MIN_ALIGN {
        class_of(layout.size())
    } else {
        class_of(layout.size().max(layout.align()).checked_next_power_of_two()?)
    }
}

/// The alignment of a run of class `class` that starts at a multiple of `floor` (a power of
/// two): its blocks then keep the alignment [`class_for`] promises (a power-of-two class's
/// blocks are aligned to their size). Later runs start at a page ([`PAGE`]), first runs
/// ([`FIRST_RUN_SIZE`]) at the 16 bytes every block has.
fn run_align(class: usize, floor: usize) -> usize {
    let size = class_size(class);
    if size.is_power_of_two() {
        size.max(floor)
    } else {
        floor
    }
}

/// One class's blocks: its free list and the fresh run it carves from.
struct Class {
    /// The most recently freed block (0: none); each freed block holds the next one's address.
    free: usize,
    /// Where the next fresh block starts in the run, and where the run ends.
    fresh: usize,
    fresh_end: usize,
}

/// The chunk fresh runs are taken from: `[next, end)` is still unused.
struct Chunks {
    next: usize,
    end: usize,
}

/// The allocator. `const`-constructed, for a `static` (`#[global_allocator]`).
pub struct Allocator {
    classes: [Mutex<Class>; CLASSES],
    chunks: Mutex<Chunks>,
}

impl Default for Allocator {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while one is held, so poisoning cannot happen; if it did, the data is
    // consistent anyway (every update is a single store).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Allocator {
    /// An allocator that has mapped nothing yet.
    pub const fn new() -> Allocator {
        Allocator {
            classes: [const { Mutex::new(Class { free: 0, fresh: 0, fresh_end: 0 }) }; CLASSES],
            chunks: Mutex::new(Chunks { next: 0, end: 0 }),
        }
    }

    /// A block of class `class`: the last freed, else the next fresh one; null when no
    /// memory is left.
    fn alloc_class(&self, class: usize) -> *mut u8 {
        let size = class_size(class);
        let mut c = lock(&self.classes[class]);
        if c.free != 0 {
            let block = c.free;
            // SAFETY: `block` is a freed block of this class (at least 16 bytes, 16-byte
            // aligned, owned by the allocator): its first word is the link `dealloc` wrote.
            c.free = unsafe { (block as *const usize).read() };
            return block as *mut u8;
        }
        if c.fresh_end - c.fresh < size {
            let (len, align) = if c.fresh_end == 0 && 2 * size <= FIRST_RUN_SIZE {
                (FIRST_RUN_SIZE, run_align(class, MIN_ALIGN))
            } else {
                (size.max(RUN_SIZE), run_align(class, PAGE))
            };
            let Some(run) = self.take_run(len, align) else { return null_mut() };
            c.fresh = run;
            c.fresh_end = run + len;
        }
        let block = c.fresh;
        c.fresh += size;
        block as *mut u8
    }

    /// `len` bytes of fresh address space aligned to `align` (a power of two, at most
    /// [`MAX_CLASS_SIZE`]), from the current chunk or a new one.
    fn take_run(&self, len: usize, align: usize) -> Option<usize> {
        let mut chunks = lock(&self.chunks);
        let start = chunks.next.checked_add(align - 1)? & !(align - 1);
        if chunks.next != 0 && start.checked_add(len).is_some_and(|end| end <= chunks.end) {
            chunks.next = start + len;
            return Some(start);
        }
        // A new chunk (the rest of the old one stays unused: at most a run's worth).
        let base = map(CHUNK_SIZE)?;
        // SAFETY: `base..base + CHUNK_SIZE` is the mapping just made; the advice only keeps
        // the host from backing it with 2 MiB pages (which would back 2 MiB per touch).
        unsafe { libc::madvise(base as *mut libc::c_void, CHUNK_SIZE, libc::MADV_NOHUGEPAGE) };
        let start = (base + align - 1) & !(align - 1);
        chunks.next = start + len;
        chunks.end = base + CHUNK_SIZE;
        Some(start)
    }
}

/// A new private anonymous mapping of `len` bytes (a multiple of the page size), readable
/// and writable, backed on first touch; `None` when the kernel refuses.
fn map(len: usize) -> Option<usize> {
    // SAFETY: a new anonymous mapping at an address the kernel picks changes no existing
    // memory.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    (p != libc::MAP_FAILED).then_some(p as usize)
}

/// Bytes a block of its own mapping spans for `size` bytes.
fn mapped_len(size: usize) -> Option<usize> {
    size.checked_add(PAGE - 1).map(|s| s & !(PAGE - 1))
}

/// A block of its own mapping for `layout` (larger than any class, or aligned more than one
/// allows): page-aligned from `mmap`; more alignment by mapping `align` bytes more and
/// unmapping what lies before and after the aligned block, so that freeing it unmaps
/// exactly [`mapped_len`] bytes from its start.
fn alloc_mapped(layout: Layout) -> *mut u8 {
    let Some(len) = mapped_len(layout.size().max(1)) else { return null_mut() };
    if layout.align() <= PAGE {
        return map(len).map_or(null_mut(), |p| p as *mut u8);
    }
    let Some(Some(base)) = len.checked_add(layout.align()).map(map) else { return null_mut() };
    let start = (base + layout.align() - 1) & !(layout.align() - 1);
    let end = start + len;
    let map_end = base + len + layout.align();
    // SAFETY: both ranges lie inside the mapping just made and outside the block returned.
    unsafe {
        if start > base {
            libc::munmap(base as *mut libc::c_void, start - base);
        }
        if map_end > end {
            libc::munmap(end as *mut libc::c_void, map_end - end);
        }
    }
    start as *mut u8
}

// SAFETY: blocks handed out never overlap: a class block is either on its class's free list
// or handed out, never both (a freed block goes on the list only when `dealloc` is called for
// it, which the `GlobalAlloc` contract allows once per allocation), fresh blocks are carved
// from a run only this class owns, runs from chunk space only one run gets, and blocks of
// their own mapping are fresh mappings. Every block is at least `layout.size()` bytes and
// aligned as `class_for` promises.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_for(layout) {
            Some(class) => self.alloc_class(class),
            None => alloc_mapped(layout),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match class_for(layout) {
            Some(class) => {
                let mut c = lock(&self.classes[class]);
                // SAFETY: `ptr` is a block of this class the caller no longer uses (the
                // `GlobalAlloc` contract: allocated by this allocator with `layout`), at least
                // 16 bytes and 16-byte aligned: its first word now holds the list's link.
                unsafe { (ptr as *mut usize).write(c.free) };
                c.free = ptr as usize;
            }
            None => {
                if let Some(len) = mapped_len(layout.size().max(1)) {
                    // SAFETY: the block is a mapping of its own of exactly `len` bytes from
                    // `ptr` (`alloc_mapped`), which the caller no longer uses.
                    unsafe { libc::munmap(ptr as *mut libc::c_void, len) };
                }
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else { return null_mut() };
        let (old_class, new_class) = (class_for(layout), class_for(new_layout));
        match (old_class, new_class) {
            // The block already has room (and its alignment): nothing moves.
            (Some(old), Some(new)) if old == new => return ptr,
            // A mapping of its own grows or shrinks in place or moves, without a copy.
            (None, None) if layout.align() <= PAGE => {
                let (Some(old_len), Some(new_len)) = (mapped_len(layout.size().max(1)), mapped_len(new_size.max(1)))
                else {
                    return null_mut();
                };
                // SAFETY: the block is a mapping of exactly `old_len` bytes from `ptr`
                // (`alloc_mapped`, page-aligned alignment), which `mremap` may move: the caller
                // gives up `ptr` for the result.
                let p = unsafe { libc::mremap(ptr as *mut libc::c_void, old_len, new_len, libc::MREMAP_MAYMOVE) };
                return if p == libc::MAP_FAILED { null_mut() } else { p as *mut u8 };
            }
            _ => {}
        }
        // SAFETY: `new_layout` is valid (checked above) and non-zero-sized by the caller's
        // contract.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are at least `min(old, new)` bytes and distinct (the old one
            // is still allocated); the old one is freed once, after the copy.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn each_size_gets_the_smallest_class_that_holds_it() {
        assert_eq!(class_size(CLASSES - 1), MAX_CLASS_SIZE);
        for class in 1..CLASSES {
            assert!(class_size(class) > class_size(class - 1));
            assert_eq!(class_size(class) % MIN_ALIGN, 0);
        }
        for size in (1..=MAX_CLASS_SIZE).step_by(7).chain([1, 16, 17, 128, 129, 160, 161, 4096, MAX_CLASS_SIZE]) {
            let class = class_of(size).unwrap();
            assert!(class_size(class) >= size, "size {size}");
            assert!(class == 0 || class_size(class - 1) < size, "size {size}: a smaller class holds it");
        }
        assert_eq!(class_of(0), Some(0));
        assert_eq!(class_of(MAX_CLASS_SIZE + 1), None);
        // Every power of two from 16 to 1 MiB is a class of its own (the aligned requests').
        for shift in 4..=20 {
            assert_eq!(class_size(class_of(1 << shift).unwrap()), 1 << shift);
        }
    }

    #[test]
    fn blocks_are_as_large_and_aligned_as_asked_and_do_not_overlap() {
        let a = Allocator::new();
        let mut blocks = Vec::new();
        for &(size, align) in &[
            (1, 1),
            (24, 8),
            (100, 16),
            (100, 64),
            (3000, 4096),
            (5000, 16),
            (5000, 8192),
            (70_000, 32),
            (MAX_CLASS_SIZE, 16),
            (MAX_CLASS_SIZE + 1, 16),
            (3 << 20, 1 << 21),
        ] {
            for _ in 0..3 {
                let l = layout(size, align);
                // SAFETY: a valid, non-zero-sized layout.
                let p = unsafe { a.alloc(l) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align.max(MIN_ALIGN), 0, "{size} bytes aligned {align}");
                // SAFETY: the block is `size` bytes and ours.
                unsafe { std::ptr::write_bytes(p, blocks.len() as u8, size) };
                blocks.push((p, l));
            }
        }
        for (i, &(p, l)) in blocks.iter().enumerate() {
            // SAFETY: each block was filled with its index above and is still allocated.
            let bytes = unsafe { std::slice::from_raw_parts(p, l.size()) };
            assert!(bytes.iter().all(|&b| b == i as u8), "block {i} was overwritten");
        }
        for (p, l) in blocks {
            // SAFETY: allocated above with `l`, freed once.
            unsafe { a.dealloc(p, l) };
        }
    }

    #[test]
    fn small_classes_start_side_by_side_and_go_on_in_runs_of_their_own() {
        let a = Allocator::new();
        let first: Vec<usize> = [16, 48, 64, 128]
            .iter()
            // SAFETY: valid, non-zero-sized layouts.
            .map(|&size| unsafe { a.alloc(layout(size, 16)) } as usize)
            .collect();
        assert!(first.iter().all(|&p| p / PAGE == first[0] / PAGE), "one page for four classes' first blocks");
        // Past each class's first run, into its later ones: sizes and alignment kept, no overlap.
        let mut blocks = Vec::new();
        for size in [16, 48, 64, 128, 256, 320, 512] {
            for _ in 0..2 * FIRST_RUN_SIZE / size + 3 {
                let l = layout(size, if size.is_power_of_two() { size } else { 16 });
                // SAFETY: a valid, non-zero-sized layout.
                let p = unsafe { a.alloc(l) };
                assert!(!p.is_null());
                assert_eq!(p as usize % l.align(), 0, "{size} bytes");
                blocks.push((p as usize, size));
            }
        }
        blocks.sort_unstable();
        assert!(blocks.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "blocks overlap");
    }

    #[test]
    fn a_freed_block_is_the_next_one_handed_out() {
        let a = Allocator::new();
        let l = layout(40, 8);
        // SAFETY: valid layouts; each block freed once.
        unsafe {
            let first = a.alloc(l);
            let second = a.alloc(l);
            assert_ne!(first, second);
            a.dealloc(first, l);
            assert_eq!(a.alloc(l), first);
            a.dealloc(second, l);
            a.dealloc(first, l);
        }
    }

    #[test]
    fn realloc_keeps_the_bytes_and_moves_only_across_classes() {
        let a = Allocator::new();
        // SAFETY: valid layouts; every block reallocated or freed once.
        unsafe {
            let l = layout(100, 8);
            let p = a.alloc(l);
            std::ptr::write_bytes(p, 7, 100);
            assert_eq!(a.realloc(p, l, 110), p, "same class (112 bytes): in place");
            let q = a.realloc(p, layout(110, 8), 5000);
            assert_ne!(q, p);
            assert!(std::slice::from_raw_parts(q, 100).iter().all(|&b| b == 7));
            // Into a mapping of its own, then grown there.
            let r = a.realloc(q, layout(5000, 8), 2 << 20);
            assert!(std::slice::from_raw_parts(r, 100).iter().all(|&b| b == 7));
            std::ptr::write_bytes(r.add(2 << 19), 9, 1 << 20);
            let s = a.realloc(r, layout(2 << 20, 8), 8 << 20);
            assert!(std::slice::from_raw_parts(s, 100).iter().all(|&b| b == 7));
            assert!(std::slice::from_raw_parts(s.add(2 << 19), 1 << 20).iter().all(|&b| b == 9));
            a.dealloc(s, layout(8 << 20, 8));
        }
    }

    #[test]
    fn threads_allocating_at_once_get_blocks_of_their_own() {
        let a = std::sync::Arc::new(Allocator::new());
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let a = a.clone();
                std::thread::spawn(move || {
                    let mut held: Vec<(*mut u8, Layout)> = Vec::new();
                    for i in 0..20_000usize {
                        let size = 1 + (i * 7919 + t as usize * 104_729) % 9000;
                        let l = layout(size, if i % 5 == 0 { 64 } else { 8 });
                        // SAFETY: a valid layout; the block is ours until freed below.
                        let p = unsafe { a.alloc(l) };
                        assert!(!p.is_null());
                        // SAFETY: `size` bytes of our block.
                        unsafe { std::ptr::write_bytes(p, t, size) };
                        held.push((p, l));
                        if i % 3 == 0 {
                            let (p, l) = held.swap_remove(i % held.len());
                            // SAFETY: our block, filled with `t`, freed once here.
                            unsafe {
                                assert!(std::slice::from_raw_parts(p, l.size()).iter().all(|&b| b == t));
                                a.dealloc(p, l);
                            }
                        }
                    }
                    for (p, l) in held {
                        // SAFETY: as above.
                        unsafe {
                            assert!(std::slice::from_raw_parts(p, l.size()).iter().all(|&b| b == t));
                            a.dealloc(p, l);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
