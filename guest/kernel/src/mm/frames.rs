//! The physical frame allocator: 4 KiB frames of guest RAM for app memory and page tables.
//!
//! Fresh frames come from a bump pointer over RAM the host has never touched (so they are
//! zero and cost no host memory until used); freed frames go on a free list threaded through
//! the frames themselves and are reused first (they are already backed on the host), zeroed
//! on reuse. Of a large RAM the VMM registers only the first part with KVM before boot
//! (`BootInfo::ram_ready_size`): the bump pointer stops there until the host says, when asked
//! (the `RamReady` hypercall, once), that the rest is registered too.

use uvm_abi::layout::PAGE_SIZE;

use crate::arch::phys;

/// The frame allocator.
pub struct FrameAllocator {
    next: u64,
    end: u64,
    /// Fresh frames are handed out below this only (`end` once all of RAM is there).
    ready: u64,
    /// Asks the host for the rest of RAM: the bytes from GPA 0 now usable, `None` if it
    /// cannot have them (asked once; `None` here when there is nothing to ask).
    more: Option<fn() -> Option<u64>>,
    free_head: u64,
    free_count: u64,
    in_use: u64,
}

const NO_FRAME: u64 = u64::MAX;

impl FrameAllocator {
    /// Manages the frames of `[start, end)` (page-aligned GPAs).
    pub const fn new(start: u64, end: u64) -> FrameAllocator {
        FrameAllocator { next: start, end, ready: end, more: None, free_head: NO_FRAME, free_count: 0, in_use: 0 }
    }

    /// Only frames below `ready` until `more` says more is usable (see the module's doc).
    pub fn with_ready(mut self, ready: u64, more: fn() -> Option<u64>) -> FrameAllocator {
        if ready < self.end {
            self.ready = ready.max(self.next);
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
        self.alloc_contiguous(1)
    }

    /// `count` physically contiguous fresh frames (zero), for the kernel heap.
    pub fn alloc_contiguous(&mut self, count: u64) -> Option<u64> {
        let bytes = count.checked_mul(PAGE_SIZE)?;
        if self.ready - self.next < bytes {
            self.ask_for_more();
        }
        if self.ready - self.next < bytes {
            return None;
        }
        let frame = self.next;
        self.next += bytes;
        self.in_use += count;
        Some(frame)
    }

    /// The first time fresh frames run out below `ready`: asks the host for the rest of RAM
    /// (which waits until it is registered; other vCPUs wanting a frame meanwhile wait on
    /// this allocator's lock, milliseconds at most). If it cannot have it, RAM ends at `ready`.
    /// Out of line: the allocation path stays small enough to be inlined where it is hot.
    #[cold]
    #[inline(never)]
    fn ask_for_more(&mut self) {
        let Some(more) = self.more.take() else { return };
        match more() {
            Some(usable) if usable > self.ready => self.ready = usable.min(self.end),
            _ => self.end = self.ready,
        }
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

    /// Frames that can still be allocated.
    pub fn available(&self) -> u64 {
        (self.end - self.next) / PAGE_SIZE + self.free_count
    }

    /// Frames handed out and not freed.
    pub fn in_use(&self) -> u64 {
        self.in_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn frames_past_the_ready_part_come_once_the_host_says_so() {
        phys::reset(16 * 4096);
        let granted = || Some(8 * 4096);
        let mut f = FrameAllocator::new(4096, 8 * 4096).with_ready(3 * 4096, granted);
        assert_eq!(f.available(), 7, "all of RAM counts");
        assert_eq!(f.alloc_contiguous(2), Some(4096));
        assert_eq!(f.alloc_zeroed(), Some(3 * 4096), "past the ready part: asked, granted");
        assert_eq!(f.alloc_contiguous(4), Some(4 * 4096));
        assert!(f.alloc_zeroed().is_none(), "RAM's end");

        let refused = || None;
        let mut f = FrameAllocator::new(4096, 8 * 4096).with_ready(3 * 4096, refused);
        assert_eq!(f.alloc_contiguous(2), Some(4096));
        assert!(f.alloc_zeroed().is_none(), "refused: RAM ends at the ready part");
        assert_eq!(f.available(), 0);

        let never = || panic!("all of RAM is ready: nothing to ask");
        let mut f = FrameAllocator::new(4096, 4 * 4096).with_ready(4 * 4096, never);
        assert_eq!(f.alloc_contiguous(3), Some(4096));
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
