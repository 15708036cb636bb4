//! Editing the page tables (4-level) through the direct map. App memory has 4 KiB leaves;
//! read-only chunks of the image may have 2 MiB ones ([`set_large`]), which every edit of a
//! page inside them first splits into a table of 4 KiB entries mapping the same pages.
//!
//! These functions only store entries; the caller owns the PVM rules: after [`unmap`] or a
//! [`set_flags`] that removes rights, it must flush (hypercall) before the app runs again or
//! the frame is reused. Intermediate tables are never freed, except a table a 2 MiB entry
//! replaces ([`set_large`] hands it back).

use core::sync::atomic::{AtomicU64, Ordering};

use uvm_abi::layout::{pte, DIRECT_MAP_VA, IMAGE_GPA, LARGE_PAGE_SIZE, PAGE_SIZE, USER_MIN_VA};

use crate::arch::phys;
use crate::mm::frames::FrameAllocator;

/// Software bit in a not-present entry: the page is PROT_NONE but keeps its frame (the
/// address bits still hold it), so mprotect can give it back.
pub const SOFT_PROT_NONE: u64 = 1 << 9;

/// Software bit: the entry's frame belongs to a file (a shared mapping of a tmpfs file maps
/// the file's own frames), so unmapping the page never frees it.
pub const SOFT_BORROWED: u64 = 1 << 10;

/// Software bit in a 2 MiB entry: it maps app memory ([`set_large`]). The kernel's own 2 MiB
/// entries (the direct map) lack it, and these functions treat them as no app mapping, as
/// before there were app ones: a user pointer into the direct map stays EFAULT.
pub const SOFT_APP_LARGE: u64 = 1 << 11;

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
/// A 2 MiB page on the way is split first (`None` if no frame is left for that).
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
            table = match (e & pte::LARGE != 0, level) {
                (false, _) => e & pte::ADDR_MASK,
                (true, 1) if is_app_large(e) => split_large(slot, e, frames)?,
                (true, _) => return None,
            };
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

/// The address bits of a 2 MiB entry.
const LARGE_ADDR_MASK: u64 = pte::ADDR_MASK & !(LARGE_PAGE_SIZE - 1);

/// The 4 KiB entry for `va` that the 2 MiB entry `large` amounts to. (Cold, as the other
/// large-page paths: a C hello never takes them, and its boot's code fits KVM's 8-page
/// groups only without them; see hot-text.ld.)
#[cold]
#[inline(never)]
fn small_of_large(large: u64, va: u64) -> u64 {
    let rights = large & !pte::ADDR_MASK & !pte::LARGE & !SOFT_APP_LARGE;
    ((large & LARGE_ADDR_MASK) + (va & (LARGE_PAGE_SIZE - 1) & !(PAGE_SIZE - 1))) | rights
}

/// Whether `e`, an entry at page-directory level, is a 2 MiB entry of app memory.
fn is_app_large(e: u64) -> bool {
    e & (pte::PRESENT | pte::LARGE | SOFT_APP_LARGE) == pte::PRESENT | pte::LARGE | SOFT_APP_LARGE
}

/// The page-directory slot holding an app's 2 MiB entry that maps `va`, and the entry, if any.
fn large_slot(root: u64, va: u64) -> Option<(u64, u64)> {
    let mut table = root;
    for level in (1..4).rev() {
        let slot = table + ((va >> (12 + 9 * level)) & 511) * 8;
        let e = phys::read_u64(slot);
        if e & pte::PRESENT == 0 {
            return None;
        }
        if e & pte::LARGE != 0 {
            return (level == 1 && is_app_large(e)).then_some((slot, e));
        }
        table = e & pte::ADDR_MASK;
    }
    None
}

/// 2 MiB entries split so far ([`splits`]).
static SPLITS: AtomicU64 = AtomicU64::new(0);

/// How many 2 MiB entries were split (or dropped, see [`unmap`]) so far. A split keeps the
/// translations, but a page's size changes: x86 wants the TLBs flushed before a CPU that may
/// hold the old entry runs on (under PVM's shadow paging KVM does so itself when it sees the
/// entry change), so the address space flushes when this count has moved
/// ([`AddressSpace::flush_now`](crate::mm::space::AddressSpace::flush_now)).
pub fn splits() -> u64 {
    SPLITS.load(Ordering::Relaxed)
}

/// Replaces the 2 MiB entry `large` at `slot` with a table of 512 entries that map the same
/// pages with the same rights, and returns the table (`None`: no frame for it); see
/// [`splits`].
#[cold]
#[inline(never)]
fn split_large(slot: u64, large: u64, frames: &mut FrameAllocator) -> Option<u64> {
    let table = frames.alloc_zeroed()?;
    let mut entries = [0u8; PAGE_SIZE as usize];
    for (i, e) in entries.chunks_exact_mut(8).enumerate() {
        e.copy_from_slice(&small_of_large(large, i as u64 * PAGE_SIZE).to_le_bytes());
    }
    phys::write_bytes(table, &entries);
    phys::write_u64(slot, pte::preset_used(table | pte::PRESENT | pte::WRITABLE | pte::USER));
    SPLITS.fetch_add(1, Ordering::Relaxed);
    Some(table)
}

/// Maps the 2 MiB page at `va` (2 MiB-aligned) with the leaf `entry` (a 2 MiB-aligned
/// address and rights, as [`PageFlags::entry`] makes them). Returns the table of 4 KiB
/// entries it replaced, if any, which the caller frees after the next flush; `None` when no
/// frame is left for an intermediate table or a 2 MiB entry is there already.
pub fn set_large(root: u64, va: u64, entry: u64, frames: &mut FrameAllocator) -> Option<Option<u64>> {
    let mut table = root;
    for level in (2..4).rev() {
        let slot = table + ((va >> (12 + 9 * level)) & 511) * 8;
        let e = phys::read_u64(slot);
        if e & pte::PRESENT != 0 {
            if e & pte::LARGE != 0 {
                return None;
            }
            table = e & pte::ADDR_MASK;
        } else {
            let child = frames.alloc_zeroed()?;
            phys::write_u64(slot, pte::preset_used(child | pte::PRESENT | pte::WRITABLE | pte::USER));
            table = child;
        }
    }
    let slot = table + ((va >> 21) & 511) * 8;
    let old = phys::read_u64(slot);
    if old & pte::LARGE != 0 {
        return None;
    }
    phys::write_u64(slot, entry | pte::LARGE | SOFT_APP_LARGE);
    Some((old & pte::PRESENT != 0).then_some(old & pte::ADDR_MASK))
}

/// Whether `va` lies in a 2 MiB page.
pub fn in_large_page(root: u64, va: u64) -> bool {
    large_slot(root, va).is_some()
}

/// The leaf entry for `va` (0 if none); inside an app's 2 MiB page, the 4 KiB entry it
/// amounts to (inside one of the kernel's, 0).
pub fn lookup(root: u64, va: u64) -> u64 {
    let mut table = root;
    for level in (1..4).rev() {
        let e = phys::read_u64(table + ((va >> (12 + 9 * level)) & 511) * 8);
        if e & pte::PRESENT == 0 {
            return 0;
        }
        if e & pte::LARGE != 0 {
            return if level == 1 && is_app_large(e) { small_of_large(e, va) } else { 0 };
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

/// Clears the entry for `va`; returns what it held (0 if nothing). Inside a 2 MiB page that
/// cannot be split for want of a frame, the whole 2 MiB entry goes: its other pages (the
/// image's, read-only) come back on their next touch, as a fault fills any page of a mapping.
pub fn unmap(root: u64, va: u64, frames: &mut FrameAllocator) -> u64 {
    if let Some((slot, large)) = large_slot(root, va) {
        if split_large(slot, large, frames).is_none() {
            phys::write_u64(slot, 0);
            SPLITS.fetch_add(1, Ordering::Relaxed);
            return small_of_large(large, va);
        }
    }
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

/// The end of the direct map's reserve (RAM and the image, `DIRECT_MAP_VA + gpa`), where the
/// address space refuses app mappings: two whole top-level entries.
const DIRECT_MAP_END: u64 = DIRECT_MAP_VA + 2 * IMAGE_GPA;

/// Where the lower half of the address space ends (no app address lies above).
const LOWER_HALF_END: u64 = 1 << 47;

/// Whether every address of `[start, end)` is the kernel's: below the app's first address
/// (the system area, the hypercall page, the kernel), in the direct map, or in the upper
/// half. No app mapping lies there, so every process's tables share these entries.
fn kernel_only(start: u64, end: u64) -> bool {
    end <= USER_MIN_VA || (start >= DIRECT_MAP_VA && end <= DIRECT_MAP_END) || start >= LOWER_HALF_END
}

/// Whether no address of `[start, end)` is the kernel's.
fn app_only(start: u64, end: u64) -> bool {
    start >= USER_MIN_VA && end <= LOWER_HALF_END && (end <= DIRECT_MAP_VA || start >= DIRECT_MAP_END)
}

/// Bytes one entry of a table at `level` maps (level 3: the root, 0: the last level).
fn entry_span(level: u32) -> u64 {
    1u64 << (12 + 9 * level)
}

/// A new root for another process: it maps the kernel as `root` does, through the same
/// tables below the entries it copies (so a change there, such as RAM the direct map gains,
/// reaches every process), and nothing of the app. Tables that hold both are new, with the
/// kernel's entries copied. `None` when no frame is left (what was allocated is freed).
pub fn new_process_root(root: u64, frames: &mut FrameAllocator) -> Option<u64> {
    let new = frames.alloc_zeroed()?;
    if copy_kernel_entries(root, new, 3, 0, frames).is_none() {
        free_app_tables(new, frames);
        return None;
    }
    Some(new)
}

/// Copies the kernel's entries of table `from` (at `level`, mapping from `base`) into the
/// empty table `to`, making new tables where an entry maps both.
fn copy_kernel_entries(from: u64, to: u64, level: u32, base: u64, frames: &mut FrameAllocator) -> Option<()> {
    let span = entry_span(level);
    for i in 0..512u64 {
        let e = phys::read_u64(from + i * 8);
        let start = base + i * span;
        let end = start.saturating_add(span);
        if e & pte::PRESENT == 0 || app_only(start, end) {
            continue;
        }
        if kernel_only(start, end) || e & pte::LARGE != 0 {
            phys::write_u64(to + i * 8, e);
            continue;
        }
        let child = frames.alloc_zeroed()?;
        phys::write_u64(to + i * 8, pte::preset_used(child | pte::PRESENT | pte::WRITABLE | pte::USER));
        copy_kernel_entries(e & pte::ADDR_MASK, child, level - 1, start, frames)?;
    }
    Some(())
}

/// Frees the tables of the root made by [`new_process_root`] that are this process's own
/// (the root itself and every table below it that maps app addresses), not the kernel's
/// shared ones. The app's pages must be unmapped already, and no vCPU may run on the root.
pub fn free_app_tables(root: u64, frames: &mut FrameAllocator) {
    own_tables_below(root, 3, 0, &mut |table| frames.free(table));
    frames.free(root);
}

/// Calls `visit` with each table below `table` (at `level`, mapping from `base`) that is
/// this root's own, not the kernel's shared ones, each after the tables below it.
fn own_tables_below(table: u64, level: u32, base: u64, visit: &mut dyn FnMut(u64)) {
    if level == 0 {
        return;
    }
    let span = entry_span(level);
    for i in 0..512u64 {
        let e = phys::read_u64(table + i * 8);
        let start = base + i * span;
        if e & pte::PRESENT == 0 || e & pte::LARGE != 0 || kernel_only(start, start.saturating_add(span)) {
            continue;
        }
        let child = e & pte::ADDR_MASK;
        own_tables_below(child, level - 1, start, visit);
        visit(child);
    }
}

/// The frame an entry holds that its address space owns (frees when unmapped): not an
/// image page mapped in place, nor its hot copy (`mm::hot`), not a file's frame
/// ([`SOFT_BORROWED`]).
pub fn owned_frame(entry: u64) -> Option<u64> {
    entry_frame(entry)
        .filter(|&frame| frame < IMAGE_GPA && entry & SOFT_BORROWED == 0 && !crate::mm::hot::is_hot_frame(frame))
}

/// Calls `leaf` as [`for_each_entry`] does with every app address of the tables at `root`.
pub fn for_each_app_entry(root: u64, leaf: &mut dyn FnMut(u64, u64, bool) -> Option<()>) -> Option<()> {
    walk_entries(root, 3, 0, USER_MIN_VA, DIRECT_MAP_VA, leaf)?;
    walk_entries(root, 3, 0, DIRECT_MAP_END, LOWER_HALF_END, leaf)
}

/// Points each of the app's 4 KiB entries in the tables at `root` whose frame `instead`
/// names another for at that other frame, its rights and flags kept; returns how many it
/// changed. The caller flushes.
pub fn repoint_app_entries(root: u64, frames: &mut FrameAllocator, instead: &dyn Fn(u64) -> Option<u64>) -> u64 {
    let mut changed = 0;
    for_each_app_entry(root, &mut |va, entry, large| {
        let Some(other) = entry_frame(entry).filter(|_| !large).and_then(instead) else { return Some(()) };
        if let Some(slot) = entry_gpa(root, va, false, frames) {
            phys::write_u64(slot, (entry & !pte::ADDR_MASK) | other);
            changed += 1;
        }
        Some(())
    });
    changed
}

/// The frames the tables at `root` (made by [`new_process_root`]) hold of their own: their
/// tables and the frames their app entries own.
pub fn own_frames(root: u64) -> u64 {
    let mut count = 1;
    own_tables_below(root, 3, 0, &mut |_| count += 1);
    for_each_app_entry(root, &mut |_, entry, large| {
        count += u64::from(!large && owned_frame(entry).is_some());
        Some(())
    });
    count
}

/// Frees the tables at `root` (made by [`new_process_root`]) with every frame their app
/// entries own ([`own_frames`]). No vCPU may run on the root.
pub fn free_tree(root: u64, frames: &mut FrameAllocator) {
    for_each_app_entry(root, &mut |_, entry, large| {
        if let Some(frame) = owned_frame(entry).filter(|_| !large) {
            frames.free(frame);
        }
        Some(())
    });
    free_app_tables(root, frames);
}

/// The app's 2 MiB entry that maps `va`, if there is one.
pub fn large_entry(root: u64, va: u64) -> Option<u64> {
    large_slot(root, va).map(|(_, entry)| entry)
}

/// Clears the app's 2 MiB entry that maps `va`, if there is one (which owns no frame).
pub fn clear_large(root: u64, va: u64) {
    if let Some((slot, _)) = large_slot(root, va) {
        phys::write_u64(slot, 0);
    }
}

/// Calls `leaf` with each page of `[start, end)` (page-aligned) that has an entry in the
/// tables at `root` (present, or PROT_NONE with its frame kept), in address order: `(va,
/// entry, large)`, `large` for an app's 2 MiB entry (called once, with its first address,
/// when that lies in the range). Skips whole tables that are not there, so a large
/// reservation with few pages filled costs what it has.
pub fn for_each_entry(
    root: u64,
    start: u64,
    end: u64,
    leaf: &mut dyn FnMut(u64, u64, bool) -> Option<()>,
) -> Option<()> {
    walk_entries(root, 3, 0, start, end, leaf)
}

fn walk_entries(
    table: u64,
    level: u32,
    base: u64,
    start: u64,
    end: u64,
    leaf: &mut dyn FnMut(u64, u64, bool) -> Option<()>,
) -> Option<()> {
    let span = entry_span(level);
    let first = start.saturating_sub(base) / span;
    for i in first..512u64 {
        let at = base + i * span;
        if at >= end {
            break;
        }
        let e = phys::read_u64(table + i * 8);
        if level == 0 {
            if e != 0 {
                leaf(at, e, false)?;
            }
            continue;
        }
        if e & pte::PRESENT == 0 {
            continue;
        }
        if e & pte::LARGE != 0 {
            if level == 1 && is_app_large(e) && at >= start {
                leaf(at, e, true)?;
            }
            continue;
        }
        walk_entries(e & pte::ADDR_MASK, level - 1, at, start.max(at), end, leaf)?;
    }
    Some(())
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
    fn a_process_root_shares_the_kernels_tables_and_none_of_the_app() {
        let (root, mut frames) = setup();
        let rw = PageFlags { read: true, write: true, exec: false };
        // The kernel: a page below the app's first address, and the direct map.
        set(root, 0x1f_f000, rw.entry(0x7000), &mut frames).unwrap();
        set(root, DIRECT_MAP_VA + 0x1000, rw.entry(0x8000), &mut frames).unwrap();
        // The app: next to the kernel in the same tables, and far away.
        set(root, USER_MIN_VA, rw.entry(0x9000), &mut frames).unwrap();
        set(root, 0x7fff_0000_0000, rw.entry(0xa000), &mut frames).unwrap();
        let before = frames.available();
        let child = new_process_root(root, &mut frames).unwrap();
        assert_eq!(entry_frame(lookup(child, 0x1f_f000)), Some(0x7000));
        assert_eq!(entry_frame(lookup(child, DIRECT_MAP_VA + 0x1000)), Some(0x8000));
        assert_eq!(lookup(child, USER_MIN_VA), 0);
        assert_eq!(lookup(child, 0x7fff_0000_0000), 0);
        // A kernel page added later, under a shared table, reaches the child.
        set(root, DIRECT_MAP_VA + 0x2000, rw.entry(0xb000), &mut frames).unwrap();
        assert_eq!(entry_frame(lookup(child, DIRECT_MAP_VA + 0x2000)), Some(0xb000));
        // The child's app pages are its own.
        set(child, USER_MIN_VA, rw.entry(0xc000), &mut frames).unwrap();
        assert_eq!(entry_frame(lookup(root, USER_MIN_VA)), Some(0x9000));
        let mut seen = alloc::vec::Vec::new();
        for_each_entry(child, USER_MIN_VA, DIRECT_MAP_VA, &mut |va, e, large| {
            seen.push((va, entry_frame(e), large));
            Some(())
        });
        assert_eq!(seen, [(USER_MIN_VA, Some(0xc000), false)]);
        unmap(child, USER_MIN_VA, &mut frames);
        free_app_tables(child, &mut frames);
        assert_eq!(frames.available(), before, "every table of its own is freed, none of the kernel's");
        assert_eq!(entry_frame(lookup(root, 0x1f_f000)), Some(0x7000), "the parent's tables stand");
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

    /// The GPA a 2 MiB page of the tests maps (in RAM beyond the test allocator's frames:
    /// only entries point at it).
    const LARGE_GPA: u64 = 0x4000_0000;

    #[test]
    fn a_large_page_reads_as_its_small_entries() {
        let (root, mut frames) = setup();
        let rx = PageFlags { read: true, write: false, exec: true };
        assert_eq!(set_large(root, 0x60_0000, rx.entry(LARGE_GPA), &mut frames), Some(None));
        for va in [0x60_0000, 0x60_1000, 0x7f_f000] {
            let e = lookup(root, va);
            assert_eq!(entry_frame(e), Some(LARGE_GPA + va - 0x60_0000));
            assert_eq!(e & (pte::WRITABLE | pte::NO_EXECUTE | pte::LARGE), 0);
            assert!(in_large_page(root, va));
        }
        assert_eq!(lookup(root, 0x80_0000), 0);
        assert!(!in_large_page(root, 0x80_0000));
        assert_eq!(set_large(root, 0x60_0000, rx.entry(LARGE_GPA), &mut frames), None, "already large");
    }

    #[test]
    fn a_large_page_replaces_a_table_and_hands_it_back() {
        let (root, mut frames) = setup();
        let r = PageFlags { read: true, write: false, exec: false };
        set(root, 0x60_3000, r.entry(LARGE_GPA + 0x3000), &mut frames).unwrap();
        let table = set_large(root, 0x60_0000, r.entry(LARGE_GPA), &mut frames).unwrap();
        assert!(table.is_some());
        assert_eq!(entry_frame(lookup(root, 0x60_5000)), Some(LARGE_GPA + 0x5000));
    }

    #[test]
    fn the_kernels_large_pages_are_no_app_mapping() {
        let (root, mut frames) = setup();
        let rw = PageFlags { read: true, write: true, exec: false };
        // A direct-map-like 2 MiB entry, written without the app marker.
        let pd = frames.alloc_zeroed().unwrap();
        let pdpt = frames.alloc_zeroed().unwrap();
        let table = |t: u64| pte::preset_used(t | pte::PRESENT | pte::WRITABLE | pte::USER);
        let va = 0x4000_0000_0000u64;
        phys::write_u64(root + ((va >> 39) & 511) * 8, table(pdpt));
        phys::write_u64(pdpt + ((va >> 30) & 511) * 8, table(pd));
        phys::write_u64(pd, rw.entry(0) | pte::LARGE);
        assert_eq!(lookup(root, va + 0x1000), 0, "a user pointer there must stay EFAULT");
        assert!(!in_large_page(root, va));
        assert!(set(root, va + 0x1000, rw.entry(0x9000), &mut frames).is_none(), "never split");
        assert_eq!(unmap(root, va + 0x1000, &mut frames), 0);
        assert_eq!(phys::read_u64(pd), rw.entry(0) | pte::LARGE, "untouched");
    }

    #[test]
    fn editing_a_page_inside_splits_and_keeps_the_others() {
        let (root, mut frames) = setup();
        let rx = PageFlags { read: true, write: false, exec: true };
        set_large(root, 0x60_0000, rx.entry(LARGE_GPA), &mut frames).unwrap();
        let before = lookup(root, 0x60_1000);
        set(root, 0x60_2000, rx.entry(0x9000), &mut frames).unwrap();
        assert!(!in_large_page(root, 0x60_2000));
        assert_eq!(entry_frame(lookup(root, 0x60_2000)), Some(0x9000));
        assert_eq!(lookup(root, 0x60_1000), before, "a neighbour keeps its entry, rights and all");
        assert_eq!(entry_frame(lookup(root, 0x7f_f000)), Some(LARGE_GPA + 0x1f_f000));
        let old = unmap(root, 0x60_4000, &mut frames);
        assert_eq!(entry_frame(old), Some(LARGE_GPA + 0x4000));
        assert_eq!(lookup(root, 0x60_4000), 0);
        assert_eq!(entry_frame(lookup(root, 0x60_5000)), Some(LARGE_GPA + 0x5000));
    }

    #[test]
    fn unmapping_inside_with_no_frame_to_split_drops_the_whole_large_page() {
        phys::reset(8 * 4096);
        let mut frames = FrameAllocator::new(4096, 5 * 4096);
        let root = frames.alloc_zeroed().unwrap();
        let r = PageFlags { read: true, write: false, exec: false };
        set_large(root, 0x60_0000, r.entry(LARGE_GPA), &mut frames).unwrap();
        while frames.alloc_zeroed().is_some() {}
        assert!(set(root, 0x60_1000, r.entry(0x9000), &mut frames).is_none(), "no frame to split");
        assert_eq!(entry_frame(unmap(root, 0x60_1000, &mut frames)), Some(LARGE_GPA + 0x1000));
        assert_eq!(lookup(root, 0x60_2000), 0, "the rest comes back on demand");
    }
}
