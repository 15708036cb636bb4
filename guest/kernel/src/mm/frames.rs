//! The physical frame allocator: 4 KiB frames of guest RAM for app memory and page tables.
//!
//! Fresh frames come from a bump pointer over RAM the host has never touched (so they are
//! zero and cost no host memory until used); freed frames go on a free list threaded through
//! the frames themselves and are reused first (they are already backed on the host), zeroed
//! on reuse. Of a RAM larger than 32 MiB the VMM registers only the first part with KVM
//! before boot (`BootInfo::ram_ready_size`; KVM keeps metadata for every page of a memory
//! slot, ~3 KiB of host kernel memory per MiB, which an app that never grows into its RAM
//! should not cost): once the bump pointer has handed out half of what lies past it at boot,
//! the allocator asks the host to register the rest (the `RamReady` hypercall, without
//! waiting), and it waits for it only if it runs out first. A caller about to write
//! every frame it takes (a fork's copies) has the host back the fresh ones first, in one
//! exit ([`FrameAllocator::back_ahead`]): never more than its writes would have backed. A
//! run for a tmpfs file's new data is backed with some more past it
//! ([`FrameAllocator::alloc_backed_run`]), as a growing file takes the next run soon.
//!
//! It also keeps a few spare page-table trees: the tables of a forked process that ended or
//! exec'd, with the frames they map ([`FrameAllocator::keep_spare`]), which the next fork
//! takes instead of new tables. KVM keeps its shadow pages of guest page tables, each filled
//! in, for as long as the guest does not write those tables; so a fork that finds the same
//! entries there as its parent's pages need (the same frames, their contents copied anew)
//! writes none of them, and its child's first touches take no shadow-page faults. Their
//! frames count as available: when RAM runs out the spares are freed first. A vCPU whose
//! process ended may stay on that process's tables while it waits for its next thread (a
//! `SetRoot` exit saved): it holds them, and a held spare is neither taken nor freed.

use uvm_abi::hypercall::BACK_RAM_MAX_LEN;
use uvm_abi::layout::PAGE_SIZE;

use crate::arch::phys;

/// The frame allocator.
pub struct FrameAllocator {
    next: u64,
    end: u64,
    /// Fresh frames are handed out below this only (`end` once all of RAM is there).
    ready: u64,
    /// An allocation whose fresh frames and reserve reach past this takes the slow path
    /// ([`FrameAllocator::cross`]): half of the ready part while the rest of RAM is not asked
    /// for yet, `ready` from then on. Never below `next`.
    check_at: u64,
    /// Asks the host for the rest of RAM: with `false`, has it start registering it, without
    /// waiting (once, ahead of the need); with `true`, waits for it: the bytes from GPA 0 now
    /// usable, `None` if it cannot have them (once; `None` here then, or when there is
    /// nothing to ask).
    more: Option<fn(bool) -> Option<u64>>,
    free_head: u64,
    free_count: u64,
    in_use: u64,
    /// Fresh frames below this have been backed by the host ahead of use
    /// ([`FrameAllocator::back_ahead`]).
    backed: u64,
    /// Spare trees ([`FrameAllocator::keep_spare`]).
    spares: [Option<Spare>; SPARES],
    /// Frames the spares hold.
    spare_frames: u64,
    /// Spares kept so far (their ages).
    spare_age: u64,
}

/// The most fresh frames kept for the kernel heap's page runs (2 MiB).
const HEAP_RESERVE_MAX: u64 = 512;

/// Spare trees kept at most: a shell's pipeline of three forks each takes one.
const SPARES: usize = 4;

/// Frames a spare tree may hold at most (4 MiB): a larger process's copy is freed.
const SPARE_FRAMES_MAX: u64 = 1024;

/// A spare tree: the root of tables made by `paging::new_process_root`.
#[derive(Clone, Copy)]
struct Spare {
    root: u64,
    /// What the tables fit best (`AddressSpace::retire`).
    origin: u64,
    /// Frames it holds (`paging::own_frames`).
    frames: u64,
    /// The vCPU still running on the tables ([`NO_HOLDER`]: none).
    holder: u32,
    /// When it was kept (larger: later).
    age: u64,
}

/// [`Spare::holder`] when no vCPU runs on the tables.
const NO_HOLDER: u32 = u32::MAX;

const NO_FRAME: u64 = u64::MAX;

/// Fewer fresh frames than this are not worth a `back_ram` exit ([`FrameAllocator::back_ahead`]).
const BACK_AHEAD_MIN: u64 = 16;

/// How many runs' worth of fresh frames [`FrameAllocator::alloc_backed_run`] has the host back
/// past a run it hands out.
const RUN_BACK_AHEAD: u64 = 15;

impl FrameAllocator {
    /// Manages the frames of `[start, end)` (page-aligned GPAs).
    pub const fn new(start: u64, end: u64) -> FrameAllocator {
        FrameAllocator {
            next: start,
            backed: 0,
            end,
            ready: end,
            check_at: end,
            more: None,
            free_head: NO_FRAME,
            free_count: 0,
            in_use: 0,
            spares: [None; SPARES],
            spare_frames: 0,
            spare_age: 0,
        }
    }

    /// Only frames below `ready` until `more(true)` says more is usable; `more(false)` is
    /// called once fresh frames have taken half of what lies below `ready` (see the module's
    /// doc).
    pub fn with_ready(mut self, ready: u64, more: fn(bool) -> Option<u64>) -> FrameAllocator {
        if ready < self.end {
            self.ready = ready.max(self.next);
            // Compared with an allocation's frames and the heap's reserve (see `alloc_fresh`),
            // which is at most `HEAP_RESERVE_MAX`: asked at half or a little past it.
            let half = self.next + (self.ready - self.next) / 2 + HEAP_RESERVE_MAX * PAGE_SIZE;
            self.check_at = half.min(self.ready);
            self.more = Some(more);
        }
        self
    }

    /// A zeroed frame, or `None` when RAM is exhausted.
    pub fn alloc_zeroed(&mut self) -> Option<u64> {
        if self.free_head != NO_FRAME {
            let frame = self.free_head;
            self.free_head = phys::read_u64(frame);
            self.free_count -= 1;
            phys::zero_page(frame);
            self.in_use += 1;
            return Some(frame);
        }
        match self.alloc_contiguous(1) {
            None if self.free_spares() => self.alloc_zeroed(),
            fresh => fresh,
        }
    }

    /// Keeps the tables at `root` (no vCPU on them), forked from `origin` (0: none), and the
    /// frames they own for a later fork ([`FrameAllocator::take_spare`]); the oldest spare
    /// not held goes when there are too many. Tables holding too much, or finding no place,
    /// are freed at once.
    pub fn keep_spare(&mut self, root: u64, origin: u64) {
        if !self.keep(root, origin, NO_HOLDER) {
            crate::mm::paging::free_tree(root, self);
        }
    }

    /// Keeps the tables at `root` as [`FrameAllocator::keep_spare`] does while vCPU `cpu`
    /// still runs on them (idle, on the tables of the process it ran, which end): they are
    /// neither taken nor freed until it lets go ([`FrameAllocator::let_go_of_spare`]).
    /// False when they cannot be kept (too large, or every place held): nothing changed,
    /// and the vCPU must leave them before they are kept otherwise.
    pub fn keep_held_spare(&mut self, root: u64, origin: u64, cpu: u32) -> bool {
        self.keep(root, origin, cpu)
    }

    /// vCPU `cpu` has left the tables it held (it runs on others now).
    pub fn let_go_of_spare(&mut self, cpu: u32) {
        for spare in self.spares.iter_mut().flatten().filter(|s| s.holder == cpu) {
            spare.holder = NO_HOLDER;
        }
    }

    fn keep(&mut self, root: u64, origin: u64, holder: u32) -> bool {
        let frames = crate::mm::paging::own_frames(root);
        if frames > SPARE_FRAMES_MAX {
            return false;
        }
        let place = match self.spares.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                let oldest = (0..SPARES)
                    .filter(|&i| self.spares[i].is_some_and(|s| s.holder == NO_HOLDER))
                    .min_by_key(|&i| self.spares[i].map_or(0, |s| s.age));
                let Some(oldest) = oldest else { return false };
                if let Some(spare) = self.spares[oldest].take() {
                    self.free_spare(spare);
                }
                oldest
            }
        };
        self.spare_age += 1;
        self.spares[place] = Some(Spare { root, origin, frames, holder, age: self.spare_age });
        self.spare_frames += frames;
        self.in_use -= frames;
        true
    }

    /// A spare tree's root for a fork of the tables at `origin`: the one forked from there,
    /// else the newest; never one a vCPU holds. Its entries are as its process left them.
    pub fn take_spare(&mut self, origin: u64) -> Option<u64> {
        let unheld =
            self.spares.iter().enumerate().filter_map(|(i, s)| Some((i, s.filter(|s| s.holder == NO_HOLDER)?)));
        let fitting = unheld.clone().filter(|(_, s)| s.origin == origin).max_by_key(|(_, s)| s.age);
        let (i, _) = fitting.or_else(|| unheld.max_by_key(|(_, s)| s.age))?;
        let spare = self.spares[i].take()?;
        self.spare_frames -= spare.frames;
        self.in_use += spare.frames;
        Some(spare.root)
    }

    /// The roots of the spare trees, held or not.
    pub fn spare_roots(&self) -> impl Iterator<Item = u64> + '_ {
        self.spares.iter().flatten().map(|spare| spare.root)
    }

    /// Frees every spare tree no vCPU holds; whether there was one.
    #[cold]
    #[inline(never)]
    pub fn free_spares(&mut self) -> bool {
        let mut freed = false;
        for i in 0..SPARES {
            if self.spares[i].is_some_and(|s| s.holder == NO_HOLDER) {
                if let Some(spare) = self.spares[i].take() {
                    self.free_spare(spare);
                    freed = true;
                }
            }
        }
        freed
    }

    fn free_spare(&mut self, spare: Spare) {
        self.spare_frames -= spare.frames;
        self.in_use += spare.frames;
        crate::mm::paging::free_tree(spare.root, self);
    }

    /// `count` physically contiguous fresh frames (zero), for a tmpfs file's run. Like every
    /// allocation but the kernel heap's, it leaves the heap's reserve alone.
    pub fn alloc_contiguous(&mut self, count: u64) -> Option<u64> {
        self.alloc_fresh(count, self.heap_reserve())
    }

    /// `count` physically contiguous fresh frames (zero) for the kernel heap, which may take
    /// the last ones, kept for it ([`FrameAllocator::heap_reserve`]). Freed frames are
    /// never contiguous, so once every frame of RAM has been handed out once (a tmpfs file
    /// that filled it, deleted since), only this reserve lets the heap grow by more than a
    /// page: without it, a 128 KiB directory table then failed, a kernel panic.
    pub fn alloc_heap_run(&mut self, count: u64) -> Option<u64> {
        self.alloc_fresh(count, 0)
    }

    /// Fresh frames kept for the kernel heap's runs: 1/32 of RAM, at most 2 MiB.
    fn heap_reserve(&self) -> u64 {
        (self.end / PAGE_SIZE / 32).min(HEAP_RESERVE_MAX)
    }

    fn alloc_fresh(&mut self, count: u64, keep: u64) -> Option<u64> {
        let bytes = count.checked_mul(PAGE_SIZE)?;
        let needed = bytes.checked_add(keep * PAGE_SIZE)?;
        if self.check_at - self.next < needed {
            self.cross(needed);
        }
        if self.ready - self.next < bytes || self.end - self.next < needed {
            return None;
        }
        let frame = self.next;
        self.next += bytes;
        self.in_use += count;
        Some(frame)
    }

    /// An allocation needing `needed` bytes of fresh frames (its reserve included) reaches
    /// past `check_at`: the first time, the host is asked to start registering the rest of RAM
    /// (an exit, with this allocator's lock held: other vCPUs wanting a frame wait that long,
    /// once); the first time they run out below `ready`, the host is asked for the rest and
    /// waited for (until it is registered; other vCPUs wanting a frame meanwhile wait on this
    /// allocator's lock, milliseconds at most; if it cannot have it, RAM ends at `ready`). Out
    /// of line: the allocation path stays small enough to be inlined where it is hot.
    #[cold]
    #[inline(never)]
    fn cross(&mut self, needed: u64) {
        if let Some(more) = self.more {
            // Below `ready`, `check_at` is the half-way mark, crossed once.
            if self.check_at < self.ready {
                more(false);
            }
            if self.ready - self.next < needed {
                self.more = None;
                match more(true) {
                    Some(usable) if usable > self.ready => self.ready = usable.min(self.end),
                    _ => self.end = self.ready,
                }
            }
        }
        self.check_at = self.ready;
    }

    /// The fresh frames the next `count` allocations will take (those the free list cannot
    /// give), when there are at least [`BACK_AHEAD_MIN`] of them not backed yet: the range
    /// for `hypercall::back_ram`, which the caller makes once this allocator's lock is
    /// dropped. For a caller that writes every frame it takes at once (a fork's copies): a
    /// host page the guest touches first costs a shadow-page fault in which the host
    /// allocates it (~12 us here), one backed ahead costs ~4 us and its touch shares a
    /// fault with 7 neighbours. A frame allocated meanwhile by another vCPU in the range
    /// only faults as it would have.
    pub fn back_ahead(&mut self, count: u64) -> Option<(u64, u64)> {
        let fresh = count.saturating_sub(self.free_count);
        let start = self.next.max(self.backed);
        let end = self.next.saturating_add(fresh.saturating_mul(PAGE_SIZE)).min(self.ready);
        let end = end.min(start.saturating_add(BACK_RAM_MAX_LEN));
        if end <= start || (end - start) / PAGE_SIZE < BACK_AHEAD_MIN {
            return None;
        }
        self.backed = end;
        Some((start, end - start))
    }

    /// `count` physically contiguous fresh frames ([`FrameAllocator::alloc_contiguous`]) that
    /// the caller writes at once (a tmpfs file's new data), and the range of fresh frames to
    /// have the host back first, for `hypercall::back_ram` once this allocator's lock is
    /// dropped: the part of the run not backed yet, and [`RUN_BACK_AHEAD`] runs' worth past
    /// it (within RAM registered so far, at most `BACK_RAM_MAX_LEN` in all). A file written
    /// in 64 KiB calls takes one exit per 16 runs instead of one each: on a host where an
    /// exit costs ~70-85 us and backing a page ~1.5 us, that exit was half of what a write
    /// of new data cost. The frames backed ahead are the next fresh ones whoever takes them
    /// (another run, a fork's copies, an app's page): host memory spent at most that far
    /// ahead of the guest's use. `None` for the range when the run is backed already.
    pub fn alloc_backed_run(&mut self, count: u64) -> Option<(u64, Option<(u64, u64)>)> {
        let run = self.alloc_contiguous(count)?;
        let run_end = self.next;
        if run_end <= self.backed {
            return Some((run, None));
        }
        let start = run.max(self.backed);
        let ahead = count.saturating_mul(PAGE_SIZE).saturating_mul(RUN_BACK_AHEAD);
        let end = run_end.saturating_add(ahead).min(self.ready).min(start.saturating_add(BACK_RAM_MAX_LEN));
        self.backed = end;
        Some((run, Some((start, end - start))))
    }

    /// Counts `count` frames from outside its range as handed out (frames the VMM filled
    /// before boot, which the kernel maps and may later free like its own).
    pub fn adopt(&mut self, count: u64) {
        self.in_use += count;
    }

    /// Returns a frame. It must no longer be mapped anywhere (after a TLB flush).
    pub fn free(&mut self, frame: u64) {
        phys::write_u64(frame, self.free_head);
        self.free_head = frame;
        self.free_count += 1;
        self.in_use -= 1;
    }

    /// Frames this allocator manages in all (in use, free or never handed out).
    pub fn total(&self) -> u64 {
        self.in_use + self.available()
    }

    /// Frames that can still be allocated (spare trees' included, the heap's reserve not).
    pub fn available(&self) -> u64 {
        ((self.end - self.next) / PAGE_SIZE).saturating_sub(self.heap_reserve()) + self.free_count + self.spare_frames
    }

    /// The end of RAM: every frame this allocator hands out lies below it.
    pub fn ram_end(&self) -> u64 {
        self.end
    }

    /// Frames handed out and not freed.
    pub fn in_use(&self) -> u64 {
        self.in_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::paging;
    use alloc::vec::Vec;
    use uvm_abi::layout::USER_MIN_VA;

    #[test]
    fn bump_then_reuse_freed_frames_zeroed() {
        phys::reset(64 * 4096);
        let mut f = FrameAllocator::new(4096, 8 * 4096);
        assert_eq!(f.available(), 7);
        let a = f.alloc_zeroed().unwrap();
        let b = f.alloc_zeroed().unwrap();
        assert_eq!((a, b), (4096, 8192));
        phys::write_bytes(a, &[0xaa; 4096]);
        f.free(a);
        assert_eq!(f.available(), 6);
        let c = f.alloc_zeroed().unwrap();
        assert_eq!(c, a, "freed frames are reused first");
        let mut page = [1u8; 4096];
        phys::read_bytes(c, &mut page);
        assert!(page.iter().all(|&x| x == 0), "a reused frame is zeroed");
        assert_eq!(f.in_use(), 2);
    }

    #[test]
    fn runs_are_backed_with_more_past_them_once() {
        phys::reset(4096 * 4096);
        let mut f = FrameAllocator::new(4096, 4000 * 4096);
        let ahead = (1 + 4) * 4096 + 4 * 4096 * RUN_BACK_AHEAD;
        assert_eq!(f.alloc_backed_run(4), Some((4096, Some((4096, ahead - 4096)))), "the run and 15 more");
        assert_eq!(f.alloc_backed_run(4), Some((5 * 4096, None)), "backed already: no exit");
        f.alloc_zeroed().unwrap();
        let run = (9 + 1) * 4096;
        let (first, backed) = f.alloc_backed_run(60).unwrap();
        assert_eq!(first, run);
        assert_eq!(backed, Some((ahead, run + 60 * 4096 * 16 - ahead)), "from where the last one ended");
        assert_eq!(f.alloc_backed_run(800).map(|(_, back)| back), Some(None), "inside what is backed");
        let (_, backed) = f.alloc_backed_run(1000).unwrap();
        assert_eq!(backed, Some((run + 60 * 4096 * 16, (4000 - 970) * 4096)), "from there to RAM's end");
        assert_eq!(f.alloc_backed_run(3000), None, "no room");
    }

    #[test]
    fn fresh_frames_are_backed_ahead_once_where_the_free_list_falls_short() {
        phys::reset(128 * 4096);
        let mut f = FrameAllocator::new(4096, 100 * 4096);
        assert_eq!(f.back_ahead(BACK_AHEAD_MIN - 1), None, "too few to be worth an exit");
        assert_eq!(f.back_ahead(20), Some((4096, 20 * 4096)));
        assert_eq!(f.back_ahead(20), None, "backed already");
        for _ in 0..10 {
            f.alloc_zeroed().unwrap();
        }
        assert_eq!(f.back_ahead(40), Some((21 * 4096, 30 * 4096)), "only what is not backed yet");
        let held: Vec<u64> = (0..40).map(|_| f.alloc_zeroed().unwrap()).collect();
        for &frame in &held[..30] {
            f.free(frame);
        }
        assert_eq!(f.back_ahead(40), None, "the free list gives 30, 10 fresh are too few");
        assert_eq!(f.back_ahead(60), Some((51 * 4096, 30 * 4096)));
        assert_eq!(f.back_ahead(1000), Some((81 * 4096, 19 * 4096)), "RAM's end");
    }

    #[test]
    fn frames_past_the_ready_part_come_once_the_host_says_so() {
        phys::reset(16 * 4096);
        let granted = |wait: bool| wait.then_some(8 * 4096);
        let mut f = FrameAllocator::new(4096, 8 * 4096).with_ready(3 * 4096, granted);
        assert_eq!(f.available(), 7, "all of RAM counts");
        assert_eq!(f.alloc_contiguous(2), Some(4096));
        assert_eq!(f.alloc_zeroed(), Some(3 * 4096), "past the ready part: asked, granted");
        assert_eq!(f.alloc_contiguous(4), Some(4 * 4096));
        assert!(f.alloc_zeroed().is_none(), "RAM's end");

        let refused = |_| None;
        let mut f = FrameAllocator::new(4096, 8 * 4096).with_ready(3 * 4096, refused);
        assert_eq!(f.alloc_contiguous(2), Some(4096));
        assert!(f.alloc_zeroed().is_none(), "refused: RAM ends at the ready part");
        assert_eq!(f.available(), 0);

        let never = |_| panic!("all of RAM is ready: nothing to ask");
        let mut f = FrameAllocator::new(4096, 4 * 4096).with_ready(4 * 4096, never);
        assert_eq!(f.alloc_contiguous(3), Some(4096));
    }

    #[test]
    fn the_rest_of_ram_is_asked_for_once_half_the_ready_part_is_handed_out() {
        use core::sync::atomic::{AtomicU32, Ordering};
        static ASKED: AtomicU32 = AtomicU32::new(0);
        static WAITED: AtomicU32 = AtomicU32::new(0);
        const RAM: u64 = 4096;
        phys::reset(RAM as usize * 4096);
        let more = |wait: bool| {
            if !wait {
                ASKED.fetch_add(1, Ordering::Relaxed);
                return Some(2049 * 4096);
            }
            WAITED.fetch_add(1, Ordering::Relaxed);
            Some(RAM * 4096)
        };
        let counts = || (ASKED.load(Ordering::Relaxed), WAITED.load(Ordering::Relaxed));
        // Frames 1..2049 ready, half of them 1024; the heap's reserve is 4096 / 32 = 128
        // frames, and the ask comes once an allocation and the reserve reach past frame
        // 1 + 1024 + 512 (the largest reserve): past frame 1409 of the app's own.
        let mut f = FrameAllocator::new(4096, RAM * 4096).with_ready(2049 * 4096, more);
        assert_eq!(f.alloc_contiguous(1408), Some(4096));
        assert_eq!(counts(), (0, 0), "half of the ready part not reached");
        assert_eq!(f.alloc_zeroed(), Some(1409 * 4096));
        assert_eq!(counts(), (1, 0), "asked ahead, without waiting");
        // The ready part's end, less the reserve, which stays within it.
        assert_eq!(f.alloc_contiguous(2049 - 128 - 1410), Some(1410 * 4096));
        assert_eq!(counts(), (1, 0), "the ready part was enough so far");
        assert_eq!(f.alloc_zeroed(), Some((2049 - 128) * 4096), "past the ready part but its reserve");
        assert_eq!(counts(), (1, 1), "waited for the rest, once");
        assert_eq!(f.alloc_contiguous(1000), Some((2049 - 127) * 4096));
        assert_eq!(counts(), (1, 1));
    }

    /// Tables at a new root mapping one page of their own at the app's first address.
    fn tree(f: &mut FrameAllocator) -> u64 {
        let root = f.alloc_zeroed().unwrap();
        let page = f.alloc_zeroed().unwrap();
        let rw = paging::PageFlags { read: true, write: true, exec: false };
        paging::set(root, USER_MIN_VA, rw.entry(page), f).unwrap();
        root
    }

    #[test]
    fn spare_trees_go_to_the_fork_they_fit_and_are_freed_when_frames_run_out() {
        phys::reset(64 * 4096);
        let mut f = FrameAllocator::new(4096, 64 * 4096);
        let total = f.total();
        let trees: Vec<u64> = (0..=SPARES).map(|_| tree(&mut f)).collect();
        let per_tree = f.in_use() / trees.len() as u64;
        assert_eq!(paging::own_frames(trees[0]), per_tree, "its tables and its page");
        for (i, &root) in trees.iter().enumerate() {
            f.keep_spare(root, i as u64 + 1);
        }
        assert_eq!(f.in_use(), 0, "spares count as available");
        assert_eq!(f.total(), total);
        assert_eq!(f.take_spare(3), Some(trees[2]), "the one forked from there");
        assert_eq!(f.take_spare(1), Some(trees[SPARES]), "else the newest: the oldest went");
        assert_eq!(f.in_use(), 2 * per_tree);
        let rest: Vec<u64> = core::iter::from_fn(|| f.take_spare(1)).collect();
        assert_eq!(rest.len(), SPARES - 2);
        assert!(!rest.contains(&trees[0]), "the oldest was freed when one too many came");
        for root in rest {
            f.keep_spare(root, 0);
        }
        let mut handed = 0;
        while f.alloc_zeroed().is_some() {
            handed += 1;
        }
        assert_eq!(handed + 2 * per_tree, total, "every spare was freed for the allocations");
        assert!(!f.free_spares());
    }

    #[test]
    fn a_held_spare_is_neither_taken_nor_freed_until_let_go() {
        phys::reset(64 * 4096);
        let mut f = FrameAllocator::new(4096, 64 * 4096);
        let total = f.total();
        let (held, other) = (tree(&mut f), tree(&mut f));
        let per_tree = paging::own_frames(held);
        assert!(f.keep_held_spare(held, 1, 7), "vCPU 7 stays on it");
        assert_eq!(f.take_spare(1), None, "a held spare is not taken, even where it fits");
        f.keep_spare(other, 2);
        assert_eq!(f.take_spare(1), Some(other), "the one not held is");
        assert_eq!(f.total(), total);
        while f.alloc_zeroed().is_some() {}
        assert_eq!(f.in_use(), total - per_tree, "running out of frames frees no held spare");
        assert!(!f.free_spares());
        f.let_go_of_spare(7);
        assert!(f.free_spares(), "let go: an ordinary spare");
        assert_eq!(f.available(), per_tree);

        let mut f = FrameAllocator::new(4096, 64 * 4096);
        let trees: Vec<u64> = (0..SPARES).map(|_| tree(&mut f)).collect();
        while f.alloc_zeroed().is_some() {}
        for (i, &root) in trees.iter().enumerate() {
            assert!(f.keep_held_spare(root, 0, i as u32));
        }
        f.let_go_of_spare(9);
        assert!(f.alloc_zeroed().is_none(), "every spare held: none freed for an allocation");
        let taken = f.take_spare(0);
        assert_eq!(taken, None, "all held");
        f.let_go_of_spare(0);
        let first = f.take_spare(0).unwrap();
        assert_eq!(first, trees[0], "let go: taken");
        assert!(f.keep_held_spare(first, 0, 50));
        let more = (0..SPARES).map(|i| trees[i]).find(|&t| t != first).unwrap();
        assert!(!f.keep_held_spare(more, 0, 51), "no place: the vCPU must leave its tables first");
    }

    #[test]
    fn the_last_fresh_frames_are_the_kernel_heaps() {
        phys::reset(128 * 4096);
        let mut f = FrameAllocator::new(4096, 128 * 4096);
        let reserve = f.heap_reserve();
        assert_eq!(reserve, 4, "1/32 of RAM");
        let mut taken = Vec::new();
        while let Some(frame) = f.alloc_zeroed() {
            taken.push(frame);
        }
        assert_eq!(f.available(), 0, "the reserve is not counted as available");
        assert_eq!(f.alloc_contiguous(2), None, "a tmpfs run leaves the reserve alone");
        for frame in taken {
            f.free(frame);
        }
        assert_eq!(f.alloc_contiguous(2), None, "freed frames are no run");
        let run = f.alloc_heap_run(reserve).expect("the heap's run");
        assert_eq!(run, 4096 + (127 - reserve) * 4096, "the last fresh frames");
        assert_eq!(f.alloc_heap_run(1), None);
        assert!(f.alloc_zeroed().is_some(), "single frames come from those freed");
    }

    #[test]
    fn exhaustion_is_none() {
        phys::reset(16 * 4096);
        let mut f = FrameAllocator::new(4096, 3 * 4096);
        assert!(f.alloc_contiguous(3).is_none());
        assert!(f.alloc_contiguous(2).is_some());
        assert!(f.alloc_zeroed().is_none());
    }
}
