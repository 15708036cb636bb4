//! Editing the page tables (4-level, 4 KiB leaves for app memory) through the direct map.
//!
//! These functions only store entries; the caller owns the PVM rules: after [`unmap`] or a
//! [`set_flags`] that removes rights, it must flush (hypercall) before the app runs again or
//! the frame is reused. Intermediate tables are never freed.

use uvm_abi::layout::{pte, PAGE_SIZE};

use crate::arch::phys;
use crate::mm::frames::FrameAllocator;

/// Software bit in a not-present entry: the page is PROT_NONE but keeps its frame (the
/// address bits still hold it), so mprotect can give it back.
pub const SOFT_PROT_NONE: u64 = 1 << 9;

/// Software bit: the entry's frame belongs to a file (a shared mapping of a tmpfs file maps
/// the file's own frames), so unmapping the page never frees it.
pub const SOFT_BORROWED: u64 = 1 << 10;

/// App-page permissions, as page-table bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFlags {
    /// Readable (present).
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

impl PageFlags {
    /// The entry bits for a page at `gpa` with these rights. No rights: a not-present entry
    /// that remembers the frame.
    pub fn entry(self, gpa: u64) -> u64 {
        if !self.read && !self.write && !self.exec {
            return gpa | SOFT_PROT_NONE;
        }
        let mut e = gpa | pte::PRESENT | pte::USER;
        if self.write {
            e |= pte::WRITABLE;
        }
        if !self.exec {
            e |= pte::NO_EXECUTE;
        }
        pte::preset_used(e)
    }
}

/// The GPA of the page-table entry for `va`, creating intermediate tables if `create`.
/// `None` if a table is missing (and not created) or no frame is left.
///
/// A table made here is known to be zero and is not read: its first touch is then the write
/// of its first entry. (Read first, a never-used frame would be mapped by the host as its
/// shared zero page, read-only, and the write would cost the guest a second shadow-page
/// fault.)
fn entry_gpa(root: u64, va: u64, create: bool, frames: &mut FrameAllocator) -> Option<u64> {
    let mut table = root;
    let mut table_is_new = false;
    for level in (1..4).rev() {
        let slot = table + ((va >> (12 + 9 * level)) & 511) * 8;
        let e = if table_is_new { 0 } else { phys::read_u64(slot) };
        if e & pte::PRESENT != 0 {
            if e & pte::LARGE != 0 {
                return None;
            }
            table = e & pte::ADDR_MASK;
        } else {
            if !create {
                return None;
            }
            let child = frames.alloc_zeroed()?;
            phys::write_u64(slot, pte::preset_used(child | pte::PRESENT | pte::WRITABLE | pte::USER));
            table = child;
            table_is_new = true;
        }
    }
    Some(table + ((va >> 12) & 511) * 8)
}

/// The leaf entry for `va` (0 if none).
pub fn lookup(root: u64, va: u64) -> u64 {
    let mut table = root;
    for level in (1..4).rev() {
        let e = phys::read_u64(table + ((va >> (12 + 9 * level)) & 511) * 8);
        if e & pte::PRESENT == 0 || e & pte::LARGE != 0 {
            return 0;
        }
        table = e & pte::ADDR_MASK;
    }
    phys::read_u64(table + ((va >> 12) & 511) * 8)
}

/// Sets the entry for `va` to `entry`. `None` when no frame is left for a table.
pub fn set(root: u64, va: u64, entry: u64, frames: &mut FrameAllocator) -> Option<()> {
    let slot = entry_gpa(root, va, true, frames)?;
    phys::write_u64(slot, entry);
    Some(())
}

/// Clears the entry for `va`; returns what it held (0 if nothing).
pub fn unmap(root: u64, va: u64, frames: &mut FrameAllocator) -> u64 {
    match entry_gpa(root, va, false, frames) {
        Some(slot) => {
            let old = phys::read_u64(slot);
            if old != 0 {
                phys::write_u64(slot, 0);
            }
            old
        }
        None => 0,
    }
}

/// The frame an entry holds (present, or PROT_NONE with a frame), if any.
pub fn entry_frame(entry: u64) -> Option<u64> {
    if entry & (pte::PRESENT | SOFT_PROT_NONE) != 0 {
        Some(entry & pte::ADDR_MASK)
    } else {
        None
    }
}

/// Number of pages in `len` bytes, rounded up.
pub fn pages(len: u64) -> u64 {
    len.div_ceil(PAGE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: usize = 256 * 4096;

    fn setup() -> (u64, FrameAllocator) {
        phys::reset(RAM);
        let mut frames = FrameAllocator::new(4096, RAM as u64);
        let root = frames.alloc_zeroed().unwrap();
        (root, frames)
    }

    #[test]
    fn map_lookup_unmap() {
        let (root, mut frames) = setup();
        let va = 0x7fff_0000_1000;
        let rw = PageFlags { read: true, write: true, exec: false };
        set(root, va, rw.entry(0x5000), &mut frames).unwrap();
        let e = lookup(root, va);
        assert_eq!(entry_frame(e), Some(0x5000));
        assert_ne!(e & pte::WRITABLE, 0);
        assert_ne!(e & pte::NO_EXECUTE, 0);
        assert_eq!(lookup(root, va + 4096), 0);
        assert_eq!(unmap(root, va, &mut frames), e);
        assert_eq!(lookup(root, va), 0);
        assert_eq!(unmap(root, 0x1234_5000, &mut frames), 0, "unmapping nothing is harmless");
    }

    #[test]
    fn prot_none_keeps_the_frame_but_is_not_present() {
        let (root, mut frames) = setup();
        let none = PageFlags { read: false, write: false, exec: false };
        set(root, 0x40_0000, none.entry(0x9000), &mut frames).unwrap();
        let e = lookup(root, 0x40_0000);
        assert_eq!(e & pte::PRESENT, 0);
        assert_eq!(entry_frame(e), Some(0x9000));
    }

    #[test]
    fn out_of_frames_for_tables_is_none() {
        phys::reset(4 * 4096);
        let mut frames = FrameAllocator::new(4096, 3 * 4096);
        let root = frames.alloc_zeroed().unwrap();
        let rw = PageFlags { read: true, write: true, exec: false };
        assert!(set(root, 0x40_0000, rw.entry(0x1000), &mut frames).is_none());
    }
}
