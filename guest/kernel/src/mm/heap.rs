//! The kernel heap behind `alloc` (Box, Vec, BTreeMap, Arc): power-of-two size classes up to
//! 2 KiB carved from single pages, and whole page runs above that. Free runs are kept in
//! address order and merged with the free runs they touch, so runs of many sizes (an I/O
//! buffer the size of each call, a list that doubles as it grows) do not split the heap into
//! pieces too small for the next large one, which took fresh pages each time: a loop of
//! reads and writes of random sizes up to 512 KiB grew the heap by ~6 KiB a call, unbounded.
//!
//! Memory comes from a [`PageSource`] (in the VM: contiguous frames, reached through the
//! direct map) and is recycled through intrusive free lists, so this module writes into the
//! blocks it manages: it is one of the kernel's few `unsafe` modules.
//!
//! A page of small blocks goes back to the source once none of its blocks is in use and
//! its class holds at least another page's worth of free blocks (so a class that allocates
//! and frees around a page boundary does not take and give a page each time): the source
//! counts each page's blocks in use ([`PageSource::block_count`]), and a class's free list
//! is doubly linked, so the page's blocks leave it in one pass over the page. Without it,
//! whatever the kernel held at its peak stayed the heap's: a `/tmp` filled with small files
//! and emptied again left all of RAM in the heap's lists, for no file data nor app page.
//! Free runs stay the heap's (contiguous frames are scarce once RAM has been handed out),
//! and so do pages the source cannot take back (the kernel area's tail).

use core::alloc::Layout;
use core::ptr;

use uvm_abi::layout::PAGE_SIZE;

/// Where the heap gets fresh memory, and gives pages back.
pub trait PageSource {
    /// `count` contiguous, zeroed, page-aligned pages, as a kernel virtual address.
    fn pages(&mut self, count: usize) -> Option<usize>;

    /// The count of blocks in use of the page at `page`, kept for the heap (zero for a page
    /// it never counted); `None` for a page the source would not take back.
    fn block_count(&mut self, page: usize) -> Option<&mut u16>;

    /// Takes back the page at `page`, which [`PageSource::block_count`] counts.
    fn give_back(&mut self, page: usize);
}

const PAGE: usize = PAGE_SIZE as usize;
/// Block sizes of the small classes.
const CLASSES: [usize; 8] = [16, 32, 64, 128, 256, 512, 1024, 2048];

/// A free run of pages: its header lives in its first bytes.
struct FreeRun {
    next: *mut FreeRun,
    pages: usize,
}

/// A free small block: the links of its class's free list live in its first bytes (the
/// smallest class holds both).
struct FreeBlock {
    next: *mut FreeBlock,
    prev: *mut FreeBlock,
}

/// The heap's state.
pub struct Heap {
    small: [*mut FreeBlock; CLASSES.len()],
    /// Blocks on each class's free list.
    free_blocks: [usize; CLASSES.len()],
    runs: *mut FreeRun,
    bytes_in_use: usize,
    /// Bytes taken from the page source and not given back.
    bytes_taken: usize,
}

// SAFETY: the heap's raw pointers refer to memory only the heap manages; it is always used
// behind a lock.
unsafe impl Send for Heap {}

/// The page a small block lies in.
fn page_of(block: *mut FreeBlock) -> usize {
    block as usize & !(PAGE - 1)
}

fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align());
    CLASSES.iter().position(|&c| c >= size)
}

impl Heap {
    /// An empty heap.
    pub const fn new() -> Heap {
        Heap {
            small: [ptr::null_mut(); CLASSES.len()],
            free_blocks: [0; CLASSES.len()],
            runs: ptr::null_mut(),
            bytes_in_use: 0,
            bytes_taken: 0,
        }
    }

    /// Bytes currently allocated.
    pub fn bytes_in_use(&self) -> usize {
        self.bytes_in_use
    }

    /// Bytes the heap holds free: taken from its page source and not allocated now.
    pub fn bytes_free(&self) -> usize {
        self.bytes_taken - self.bytes_in_use
    }

    /// `count` pages from `source`, counted as taken.
    fn take_from(&mut self, source: &mut dyn PageSource, count: usize) -> Option<usize> {
        let pages = source.pages(count)?;
        self.bytes_taken += count * PAGE;
        Some(pages)
    }

    /// Allocates a block for `layout`; null when memory is exhausted.
    pub fn alloc(&mut self, layout: Layout, source: &mut dyn PageSource) -> *mut u8 {
        match class_of(layout) {
            Some(class) => {
                if self.small[class].is_null() && !self.refill(class, source) {
                    return ptr::null_mut();
                }
                let block = self.small[class];
                // SAFETY: every block on a class list is at least 16 bytes, 8-aligned, owned
                // by the heap, and holds valid links.
                unsafe { self.unlink(class, block) };
                if let Some(count) = source.block_count(page_of(block)) {
                    *count += 1;
                }
                self.bytes_in_use += CLASSES[class];
                block.cast()
            }
            None => {
                if layout.align() > PAGE {
                    return ptr::null_mut();
                }
                let pages = layout.size().div_ceil(PAGE);
                let block = self.take_run(pages).or_else(|| self.take_from(source, pages)).unwrap_or(0) as *mut u8;
                if !block.is_null() {
                    self.bytes_in_use += pages * PAGE;
                }
                block
            }
        }
    }

    /// Returns a block allocated with the same `layout`; a page of small blocks none of
    /// which is in use goes back to `source` (see the module's doc).
    ///
    /// # Safety
    /// `block` must come from [`Heap::alloc`] of this heap with `layout`, and not be used again.
    pub unsafe fn dealloc(&mut self, block: *mut u8, layout: Layout, source: &mut dyn PageSource) {
        match class_of(layout) {
            Some(class) => {
                // SAFETY: the block is ours again and large enough for both links.
                unsafe { self.push(class, block.cast()) };
                self.bytes_in_use -= CLASSES[class];
                let page = page_of(block.cast());
                let Some(count) = source.block_count(page) else { return };
                *count -= 1;
                let unused = *count == 0;
                let per_page = PAGE / CLASSES[class];
                if unused && self.free_blocks[class] >= 2 * per_page {
                    for offset in (0..PAGE).step_by(CLASSES[class]) {
                        // SAFETY: no block of the page is in use, so every one is on this
                        // class's free list.
                        unsafe { self.unlink(class, (page + offset) as *mut FreeBlock) };
                    }
                    self.bytes_taken -= PAGE;
                    source.give_back(page);
                }
            }
            None => {
                let pages = layout.size().div_ceil(PAGE);
                // SAFETY: the run is page-aligned, at least one page, and ours again.
                unsafe { self.give_run(block as usize, pages) };
                self.bytes_in_use -= pages * PAGE;
            }
        }
    }

    /// Carves one fresh page into blocks of `class`.
    fn refill(&mut self, class: usize, source: &mut dyn PageSource) -> bool {
        let Some(page) = self.take_run(1).or_else(|| self.take_from(source, 1)) else {
            return false;
        };
        let size = CLASSES[class];
        for offset in (0..PAGE).step_by(size).rev() {
            // SAFETY: the page is ours, and every block lies inside it.
            unsafe { self.push(class, (page + offset) as *mut FreeBlock) };
        }
        true
    }

    /// Puts `block` first on `class`'s free list.
    ///
    /// # Safety
    /// The block is the heap's, of `class`, free, and on no list.
    unsafe fn push(&mut self, class: usize, block: *mut FreeBlock) {
        let head = self.small[class];
        // SAFETY: the block is ours to write; the head, if any, is a free block with links.
        unsafe {
            block.write(FreeBlock { next: head, prev: ptr::null_mut() });
            if !head.is_null() {
                (*head).prev = block;
            }
        }
        self.small[class] = block;
        self.free_blocks[class] += 1;
    }

    /// Takes `block` off `class`'s free list.
    ///
    /// # Safety
    /// The block is on that list.
    unsafe fn unlink(&mut self, class: usize, block: *mut FreeBlock) {
        // SAFETY: the block and its neighbours on the list are free blocks with valid links.
        unsafe {
            let FreeBlock { next, prev } = block.read();
            if prev.is_null() {
                self.small[class] = next;
            } else {
                (*prev).next = next;
            }
            if !next.is_null() {
                (*next).prev = prev;
            }
        }
        self.free_blocks[class] -= 1;
    }

    /// A free run of exactly `pages` pages (first fit, split when larger).
    /// Puts the run of `pages` pages at `start` on the free list, in address order, merged
    /// with the free runs right before and after it.
    ///
    /// # Safety
    /// The run is page-aligned, the heap's, and in no other use.
    unsafe fn give_run(&mut self, start: usize, pages: usize) {
        let mut before: *mut FreeRun = ptr::null_mut();
        let mut after = self.runs;
        // SAFETY: the list holds only runs the heap owns, each with a valid header; the run
        // given is the heap's too, so its first bytes may hold a header.
        unsafe {
            while !after.is_null() && (after as usize) < start {
                before = after;
                after = (*after).next;
            }
            let mut pages = pages;
            if !after.is_null() && start + pages * PAGE == after as usize {
                pages += (*after).pages;
                after = (*after).next;
            }
            if !before.is_null() && before as usize + (*before).pages * PAGE == start {
                (*before).pages += pages;
                (*before).next = after;
                return;
            }
            let run = start as *mut FreeRun;
            run.write(FreeRun { next: after, pages });
            if before.is_null() {
                self.runs = run;
            } else {
                (*before).next = run;
            }
        }
    }

    /// `pages` pages from the first free run that has as many (the run's last pages, so
    /// the list stays in address order).
    fn take_run(&mut self, pages: usize) -> Option<usize> {
        let mut link: *mut *mut FreeRun = &mut self.runs;
        // SAFETY: the list holds only runs the heap owns, each with a valid header.
        unsafe {
            while !(*link).is_null() {
                let run = *link;
                if (*run).pages == pages {
                    *link = (*run).next;
                    ptr::write_bytes(run.cast::<u8>(), 0, size_of::<FreeRun>());
                    return Some(run as usize);
                }
                if (*run).pages > pages {
                    (*run).pages -= pages;
                    let tail = run as usize + (*run).pages * PAGE;
                    return Some(tail);
                }
                link = &mut (*run).next;
            }
        }
        None
    }
}

impl Default for Heap {
    fn default() -> Heap {
        Heap::new()
    }
}

/// Bytes the kernel heap holds free (freed blocks, free runs), which a new allocation may
/// reuse without taking a frame; 0 in host unit tests.
pub fn bytes_free() -> usize {
    #[cfg(not(test))]
    return HEAP.heap.lock().bytes_free();
    #[cfg(test)]
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages from the host's heap, counted and taken back like frames.
    #[derive(Default)]
    struct VecSource(Vec<Vec<u8>>, std::collections::BTreeMap<usize, u16>, Vec<usize>);

    impl PageSource for VecSource {
        fn pages(&mut self, count: usize) -> Option<usize> {
            let mut v = vec![0u8; (count + 1) * PAGE];
            let addr = (v.as_mut_ptr() as usize).next_multiple_of(PAGE);
            self.0.push(v);
            Some(addr)
        }

        fn block_count(&mut self, page: usize) -> Option<&mut u16> {
            Some(self.1.entry(page).or_insert(0))
        }

        fn give_back(&mut self, page: usize) {
            self.2.push(page);
        }
    }

    #[test]
    fn small_blocks_are_aligned_distinct_and_reused() {
        let mut heap = Heap::new();
        let mut src = VecSource::default();
        let l = Layout::from_size_align(24, 8).unwrap();
        let a = heap.alloc(l, &mut src);
        let b = heap.alloc(l, &mut src);
        assert!(!a.is_null() && !b.is_null() && a != b);
        assert_eq!(a as usize % 32, 0);
        assert_eq!(heap.bytes_in_use(), 64);
        assert_eq!(heap.bytes_free(), PAGE - 64, "the rest of the page carved for them");
        // SAFETY: a came from this heap with layout l.
        unsafe { heap.dealloc(a, l, &mut src) };
        assert_eq!(heap.bytes_free(), PAGE - 32);
        assert_eq!(heap.alloc(l, &mut src), a);
        let aligned = heap.alloc(Layout::from_size_align(8, 256).unwrap(), &mut src);
        assert_eq!(aligned as usize % 256, 0);
    }

    #[test]
    fn large_blocks_use_page_runs_and_are_reused() {
        let mut heap = Heap::new();
        let mut src = VecSource::default();
        let l = Layout::from_size_align(3 * PAGE, 8).unwrap();
        let a = heap.alloc(l, &mut src);
        assert_eq!(a as usize % PAGE, 0);
        // SAFETY: a came from this heap with layout l.
        unsafe { heap.dealloc(a, l, &mut src) };
        let small = Layout::from_size_align(PAGE, 8).unwrap();
        let b = heap.alloc(small, &mut src);
        assert!(b as usize >= a as usize && (b as usize) < a as usize + 3 * PAGE, "split from the freed run");
        assert!(heap.alloc(Layout::from_size_align(8, 2 * PAGE).unwrap(), &mut src).is_null());
    }

    #[test]
    fn freed_runs_merge_with_their_neighbours_into_runs_large_ones_fit() {
        let mut heap = Heap::new();
        let mut src = VecSource::default();
        let page = |n: usize| Layout::from_size_align(n * PAGE, 8).unwrap();
        let whole = heap.alloc(page(8), &mut src);
        // SAFETY: whole came from this heap with that layout.
        unsafe { heap.dealloc(whole, page(8), &mut src) };
        // Pieces of it in use, then freed in an order that leaves holes between them.
        let pieces: Vec<(*mut u8, usize)> = [1, 2, 3, 2].iter().map(|&n| (heap.alloc(page(n), &mut src), n)).collect();
        assert!(pieces.iter().all(|&(p, _)| p as usize >= whole as usize && (p as usize) < whole as usize + 8 * PAGE));
        for i in [2, 0, 3, 1] {
            // SAFETY: each piece came from this heap with its layout, and is freed once.
            unsafe { heap.dealloc(pieces[i].0, page(pieces[i].1), &mut src) };
        }
        assert_eq!(heap.alloc(page(8), &mut src), whole, "the pieces merged back into one run");
        assert_eq!(src.0.len(), 1, "no fresh pages taken");
    }

    #[test]
    fn runs_of_many_sizes_do_not_grow_the_heap() {
        let mut heap = Heap::new();
        let mut src = VecSource::default();
        let mut seed = 1u32;
        let mut live: Vec<(*mut u8, Layout)> = Vec::new();
        for round in 0..4000 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let l = Layout::from_size_align(4096 + (seed as usize >> 8) % (512 << 10), 8).unwrap();
            live.push((heap.alloc(l, &mut src), l));
            if round % 3 != 0 || live.len() > 4 {
                let (p, l) = live.remove(0);
                // SAFETY: p came from this heap with layout l, and is freed once.
                unsafe { heap.dealloc(p, l, &mut src) };
            }
        }
        let fresh: usize = src.0.iter().map(Vec::len).sum();
        assert!(fresh < 8 << 20, "{} KiB of fresh pages for at most 5 live runs of up to 516 KiB", fresh >> 10);
    }

    #[test]
    fn exhausted_source_gives_null() {
        struct Empty;
        impl PageSource for Empty {
            fn pages(&mut self, _: usize) -> Option<usize> {
                None
            }

            fn block_count(&mut self, _: usize) -> Option<&mut u16> {
                None
            }

            fn give_back(&mut self, _: usize) {
                unreachable!("nothing was taken");
            }
        }
        let mut heap = Heap::new();
        assert!(heap.alloc(Layout::from_size_align(8, 8).unwrap(), &mut Empty).is_null());
        assert!(heap.alloc(Layout::from_size_align(9000, 8).unwrap(), &mut Empty).is_null());
    }

    #[test]
    fn a_page_of_small_blocks_goes_back_once_unused_while_its_class_keeps_another() {
        let mut heap = Heap::new();
        let mut src = VecSource::default();
        let l = Layout::from_size_align(200, 8).unwrap();
        let per_page = PAGE / 256;
        // Five pages' worth of blocks, all in use.
        let blocks: Vec<*mut u8> = (0..5 * per_page).map(|_| heap.alloc(l, &mut src)).collect();
        let pages: std::collections::BTreeSet<usize> = blocks.iter().map(|&b| b as usize & !(PAGE - 1)).collect();
        assert_eq!(pages.len(), 5);
        assert!(src.1.values().all(|&n| n as usize == per_page));
        // Freed in an order that spreads each page's blocks over the free list.
        for i in (0..blocks.len()).step_by(2).chain((1..blocks.len()).step_by(2)) {
            // SAFETY: each block came from this heap with layout l, and is freed once.
            unsafe { heap.dealloc(blocks[i], l, &mut src) };
        }
        assert_eq!(src.2.len(), 4, "all but one page given back: the class keeps a page's worth");
        assert!(src.2.iter().all(|p| pages.contains(p)));
        assert_eq!(heap.bytes_free(), PAGE, "what the heap holds now");
        assert_eq!(heap.bytes_in_use(), 0);
        // The blocks left are the kept page's, each once, and all of them still work.
        let again: std::collections::BTreeSet<usize> =
            (0..per_page).map(|_| heap.alloc(l, &mut src) as usize).collect();
        assert_eq!(again.len(), per_page);
        let kept = *again.iter().next().unwrap() & !(PAGE - 1);
        assert!(again.iter().all(|&b| b & !(PAGE - 1) == kept) && !src.2.contains(&kept));
        assert_eq!(src.0.len(), 5, "no fresh page taken for them");
    }

    #[test]
    fn pages_the_source_does_not_count_stay_the_heaps() {
        /// A source like the kernel area's tail: pages it cannot take back.
        struct Arena(Vec<Vec<u8>>);
        impl PageSource for Arena {
            fn pages(&mut self, count: usize) -> Option<usize> {
                let mut v = vec![0u8; (count + 1) * PAGE];
                let addr = (v.as_mut_ptr() as usize).next_multiple_of(PAGE);
                self.0.push(v);
                Some(addr)
            }

            fn block_count(&mut self, _: usize) -> Option<&mut u16> {
                None
            }

            fn give_back(&mut self, _: usize) {
                unreachable!("the arena's pages are never given back");
            }
        }
        let mut heap = Heap::new();
        let mut src = Arena(Vec::new());
        let l = Layout::from_size_align(64, 8).unwrap();
        let blocks: Vec<*mut u8> = (0..3 * PAGE / 64).map(|_| heap.alloc(l, &mut src)).collect();
        for &b in &blocks {
            // SAFETY: each block came from this heap with layout l, and is freed once.
            unsafe { heap.dealloc(b, l, &mut src) };
        }
        assert_eq!(heap.bytes_free(), 3 * PAGE);
    }
}

/// The kernel's global allocator (in host unit tests, the host's is).
#[cfg(not(test))]
#[global_allocator]
static HEAP: KernelAllocator = KernelAllocator::new();

/// The kernel's global allocator: a [`Heap`] behind a lock, growing from the frame allocator.
#[cfg(not(test))]
pub struct KernelAllocator {
    heap: crate::sync::SpinLock<Heap>,
}

#[cfg(not(test))]
impl KernelAllocator {
    /// An empty allocator (it grows on first use).
    pub const fn new() -> KernelAllocator {
        KernelAllocator { heap: crate::sync::SpinLock::new(Heap::new()) }
    }

    /// Bytes the kernel has allocated.
    pub fn bytes_in_use(&self) -> usize {
        self.heap.lock().bytes_in_use()
    }
}

#[cfg(not(test))]
impl Default for KernelAllocator {
    fn default() -> Self {
        KernelAllocator::new()
    }
}

/// Pages for the heap, from the global frame allocator, reached through the direct map.
#[cfg(not(test))]
struct FramePages;

/// The free tail of the kernel's 2 MiB area (after its image and bss): the heap's first
/// memory. The area is mapped as one large page, so its first touches are cheaper than those
/// of frames elsewhere, and it is otherwise unused.
#[cfg(not(test))]
static ARENA_NEXT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

#[cfg(not(test))]
fn arena_pages(count: usize) -> Option<usize> {
    use core::sync::atomic::Ordering;
    let bytes = count as u64 * PAGE_SIZE;
    let mut current = ARENA_NEXT.load(Ordering::Relaxed);
    loop {
        let start = if current == 0 { crate::arch::kernel_end() } else { current };
        let end = start.checked_add(bytes)?;
        if end > uvm_abi::layout::KERNEL_END {
            return None;
        }
        match ARENA_NEXT.compare_exchange(current, end, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Some(start as usize),
            Err(actual) => current = actual,
        }
    }
}

#[cfg(not(test))]
impl PageSource for FramePages {
    fn pages(&mut self, count: usize) -> Option<usize> {
        if let Some(address) = arena_pages(count) {
            return Some(address);
        }
        let mut frames = super::FRAMES.lock();
        let gpa = match count {
            1 => frames.alloc_zeroed().or_else(|| frames.alloc_heap_run(1))?,
            _ => frames.alloc_heap_run(count as u64)?,
        };
        Some(uvm_abi::layout::direct_map(gpa) as usize)
    }

    fn block_count(&mut self, page: usize) -> Option<&mut u16> {
        // The arena's pages (identity-mapped, below the direct map) are not frames.
        let gpa = (page as u64).checked_sub(uvm_abi::layout::DIRECT_MAP_VA)?;
        let (table, len) = block_counts()?;
        let index = usize::try_from(gpa / PAGE_SIZE).ok().filter(|&i| i < len)?;
        // SAFETY: the table is the heap's alone (made once, never freed), `index` is inside
        // it, and only the heap, under its lock, uses it.
        Some(unsafe { &mut *table.add(index) })
    }

    fn give_back(&mut self, page: usize) {
        let gpa = page as u64 - uvm_abi::layout::DIRECT_MAP_VA;
        super::FRAMES.lock().free(gpa);
    }
}

/// The direct-map address of the table of blocks in use per frame ([`block_counts`]): 0 until
/// it is made, 1 if it could not be.
#[cfg(not(test))]
static BLOCK_COUNTS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// Its length (frames of RAM).
#[cfg(not(test))]
static BLOCK_COUNTS_LEN: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// The heap's count of blocks in use for each frame of RAM (a `u16` each: 32 KiB for 64 MiB),
/// made when the heap first carves a frame into blocks (a start that never does, a hello,
/// never makes it), from fresh frames, which are zero. Made then or never: a page carved
/// before it existed would have gone uncounted. Called with the heap's lock held.
#[cfg(not(test))]
fn block_counts() -> Option<(*mut u16, usize)> {
    use core::sync::atomic::Ordering;
    match BLOCK_COUNTS.load(Ordering::Relaxed) {
        0 => {
            let mut frames = super::FRAMES.lock();
            let len = (frames.ram_end() / PAGE_SIZE) as usize;
            let made = frames.alloc_heap_run((len * size_of::<u16>()).div_ceil(PAGE) as u64);
            drop(frames);
            let Some(gpa) = made else {
                BLOCK_COUNTS.store(1, Ordering::Relaxed);
                return None;
            };
            let table = uvm_abi::layout::direct_map(gpa);
            BLOCK_COUNTS_LEN.store(len, Ordering::Relaxed);
            BLOCK_COUNTS.store(table, Ordering::Relaxed);
            Some((table as *mut u16, len))
        }
        1 => None,
        table => Some((table as *mut u16, BLOCK_COUNTS_LEN.load(Ordering::Relaxed))),
    }
}

// SAFETY: `alloc` returns blocks that are unique, at least `layout.size()` bytes and aligned
// to `layout.align()` (size classes are powers of two carved from page-aligned pages; page
// runs are page-aligned; larger alignments are refused with null), or null.
#[cfg(not(test))]
unsafe impl core::alloc::GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.heap.lock().alloc(layout, &mut FramePages)
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: GlobalAlloc's contract: `block` came from `alloc` with this layout.
        unsafe { self.heap.lock().dealloc(block, layout, &mut FramePages) }
    }
}
