//! [`Page`]: one 4 KiB page of a tmpfs file's data, held in a frame of guest RAM (not on the
//! kernel heap), so that a shared mapping of the file can map the very frame the file's
//! `read` and `write` use.

use uvm_abi::layout::PAGE_SIZE;

use crate::arch::phys;
use crate::errno::Errno;
use crate::mm::frames::FrameAllocator;
use crate::sync::SpinLock;

/// Where a file system's pages come from: the VM's frame allocator (a test's own in unit
/// tests).
pub type Frames = &'static SpinLock<FrameAllocator>;

/// A frame of file data, given back to its allocator when dropped. A page a shared mapping
/// maps is never dropped while mapped: the file system keeps it while the file is mapped
/// (see `TmpNode::set_mapped`).
pub struct Page {
    frame: u64,
    frames: Frames,
}

impl Page {
    /// A zeroed page; `ENOSPC` when guest RAM is exhausted.
    pub fn new(frames: Frames) -> Result<Page, Errno> {
        let frame = frames.lock().alloc_zeroed().ok_or(Errno::ENOSPC)?;
        Ok(Page { frame, frames })
    }

    /// Takes `frame`, a fresh (zero) frame the caller allocated from `frames`.
    pub fn adopt(frame: u64, frames: Frames) -> Page {
        Page { frame, frames }
    }

    /// The frame's guest-physical address.
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// Copies `out.len()` bytes from offset `within` of the page.
    pub fn read(&self, within: usize, out: &mut [u8]) {
        debug_assert!(within + out.len() <= PAGE_SIZE as usize);
        phys::read_bytes(self.frame + within as u64, out);
    }

    /// Copies `data` to offset `within` of the page.
    pub fn write(&mut self, within: usize, data: &[u8]) {
        debug_assert!(within + data.len() <= PAGE_SIZE as usize);
        phys::write_bytes(self.frame + within as u64, data);
    }

    /// Zeroes `[from, to)` of the page.
    pub fn zero(&mut self, from: usize, to: usize) {
        if from == 0 && to == PAGE_SIZE as usize {
            phys::zero_page(self.frame);
        } else {
            const ZEROS: [u8; 256] = [0; 256];
            let mut at = from;
            while at < to {
                let n = (to - at).min(ZEROS.len());
                phys::write_bytes(self.frame + at as u64, &ZEROS[..n]);
                at += n;
            }
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.frames.lock().free(self.frame);
    }
}

/// For unit tests: the frame allocator over this test thread's fake physical memory (64 MiB),
/// made by the first call on the thread (which resets that memory) and shared by later ones,
/// so two file systems of one test take distinct frames.
#[cfg(test)]
pub fn test_frames() -> Frames {
    use core::cell::Cell;
    const SIZE: u64 = 64 << 20;
    std::thread_local! {
        static FRAMES: Cell<Option<Frames>> = const { Cell::new(None) };
    }
    FRAMES.with(|cached| match cached.get() {
        Some(frames) if phys::size() == SIZE as usize => frames,
        _ => {
            phys::reset(SIZE as usize);
            let frames: Frames =
                alloc::boxed::Box::leak(alloc::boxed::Box::new(SpinLock::new(FrameAllocator::new(PAGE_SIZE, SIZE))));
            cached.set(Some(frames));
            frames
        }
    })
}
