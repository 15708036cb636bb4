//! Hot copies: frames of RAM the VMM filled before boot with pages of the image, which the
//! kernel maps wherever it would map those image pages in place (boot info `hot_*`).
//!
//! KVM never maps a page of the read-only image slot ahead of the guest's first touch, so
//! each one the app runs or reads costs a shadow-page fault of its own (~38 us on some hosts);
//! a page of RAM the host backs is mapped with up to 7 neighbours. The VMM copies the pages
//! of the app's read-only segments an earlier start of the image touched (its profile), so
//! a start takes a fault per 8 of them instead of one each.
//!
//! A copy is the VM's, not a process's: every process that maps the page (the app, its
//! forks, a later exec of the same program) maps the same frame read-only, and no unmap
//! frees it ([`is_hot_frame`]: `paging::owned_frame` leaves it alone, as it leaves image
//! pages). The syscall-site patcher copies a page before it patches it, as it does an
//! image page's.
//!
//! The copies are for the start. Kept, they would keep each VM's touched read-only pages
//! private, where the image's pages are shared through the host's page cache by every VM of
//! the image. So [`GIVE_BACK_AFTER_NS`] after the kernel took them (at boot), at the first park of any
//! thread from then on ([`park_limit`] ends parks then), the kernel gives them back
//! ([`give_back`]): every entry that maps a copy, in every process's tables and in the spare
//! trees, points at the image page again (same bytes: a copy is never written), every vCPU
//! flushes, and the host frees the frames (`ReleaseRam`). A page touched after that costs a
//! shadow-page fault of its own, once per VM.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use uvm_abi::layout::{IMAGE_GPA, PAGE_SIZE};

use crate::sync::SpinLock;

/// A VM's hot copies.
pub struct HotCopies {
    /// `(image offset, frame)`, by image offset.
    copies: Vec<(u64, u64)>,
    /// The frames they take, `[start, end)` (contiguous).
    frames: core::ops::Range<u64>,
}

impl HotCopies {
    /// The copies of `offsets` (ascending, page-aligned image offsets), the first in the
    /// frame at `first_frame` and each next one in the next frame; `None` for none, or for
    /// offsets out of order or not page-aligned.
    pub fn new(offsets: &[u64], first_frame: u64) -> Option<HotCopies> {
        let ordered = offsets.windows(2).all(|pair| pair[0] < pair[1]);
        if offsets.is_empty() || !ordered || offsets.iter().any(|o| !o.is_multiple_of(PAGE_SIZE)) {
            return None;
        }
        let copies = offsets.iter().enumerate().map(|(i, &offset)| (offset, first_frame + i as u64 * PAGE_SIZE));
        let frames = first_frame..first_frame + offsets.len() as u64 * PAGE_SIZE;
        Some(HotCopies { copies: copies.collect(), frames })
    }

    /// The frame to map for the image page at `gpa` (`IMAGE_GPA` + a page-aligned image
    /// offset): its copy, if there is one, else the image page itself.
    pub fn image_page(&self, gpa: u64) -> u64 {
        let Some(offset) = gpa.checked_sub(IMAGE_GPA) else { return gpa };
        match self.copies.binary_search_by_key(&offset, |&(o, _)| o) {
            Ok(at) => self.copies[at].1,
            Err(_) => gpa,
        }
    }

    /// The image page (its GPA) whose copy `frame` is, if it is one.
    fn original_of(&self, frame: u64) -> Option<u64> {
        if !self.frames.contains(&frame) {
            return None;
        }
        let index = ((frame - self.frames.start) / PAGE_SIZE) as usize;
        self.copies.get(index).map(|&(offset, _)| IMAGE_GPA + offset)
    }

    /// The bytes of RAM the copies take.
    fn len(&self) -> u64 {
        self.frames.end - self.frames.start
    }
}

/// How long after the boot the copies are given back ([`give_back`]): they save a
/// start's faults, and a start is over by then (a Go service's takes ~10 ms here).
pub const GIVE_BACK_AFTER_NS: u64 = 1_000_000_000;

/// When the copies are due to be given back, on the monotonic clock (ns); 0 when there is
/// nothing to give back (no copies, or given back already).
static GIVE_BACK_AT: AtomicU64 = AtomicU64::new(0);

/// What [`give_back`] did, for the exit's counters ([`GivenBack::now`]).
static PAGES_GIVEN_BACK: AtomicU64 = AtomicU64::new(0);
static ENTRIES_REPOINTED: AtomicU64 = AtomicU64::new(0);
static GIVE_BACK_TSC: AtomicU64 = AtomicU64::new(0);
static GIVE_BACK_END_TSC: AtomicU64 = AtomicU64::new(0);

/// What the give-back did: copies given back, entries pointed back at the image, and when it
/// began and ended (TSC); all 0 before one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GivenBack {
    pub pages: u64,
    pub entries: u64,
    pub tsc: u64,
    pub end_tsc: u64,
}

impl GivenBack {
    /// The counters as they are now.
    pub fn now() -> GivenBack {
        GivenBack {
            pages: PAGES_GIVEN_BACK.load(Ordering::Relaxed),
            entries: ENTRIES_REPOINTED.load(Ordering::Relaxed),
            tsc: GIVE_BACK_TSC.load(Ordering::Relaxed),
            end_tsc: GIVE_BACK_END_TSC.load(Ordering::Relaxed),
        }
    }
}

/// How long a park that begins now may last before the copies are due to be given back
/// (`u64::MAX`: no limit); 0 when they are due now, which the parking thread does first
/// ([`give_back`]). Every park's caller re-checks what it waits for when the park ends, as
/// after a timer's. Reads the clock only while the copies are kept.
#[inline]
pub fn park_limit() -> u64 {
    match GIVE_BACK_AT.load(Ordering::Relaxed) {
        0 => u64::MAX,
        at => at.saturating_sub(crate::cputime::now_ns()),
    }
}

/// Gives the copies back: points every entry of the tables at `roots` that maps a copy at
/// its image page again, flushes every vCPU and has the host free the copies' frames. The
/// caller holds the process lock (no other vCPU changes tables meanwhile) and names every
/// process's tables and every spare tree; from here on, loads and execs map the image pages
/// in place. A vCPU running app code meanwhile reads the same bytes through either frame.
/// Nothing when there are no copies, or they were given back already.
#[cold]
#[inline(never)]
pub fn give_back(roots: &mut dyn Iterator<Item = u64>, frames: &mut crate::mm::frames::FrameAllocator) {
    let began = crate::time::rdtsc();
    GIVE_BACK_AT.store(0, Ordering::Relaxed);
    let Some(copies) = COPIES.lock().take() else { return };
    let instead = |frame: u64| copies.original_of(frame);
    let entries: u64 = roots.map(|root| crate::mm::paging::repoint_app_entries(root, frames, &instead)).sum();
    crate::hypercall::flush_tlb(u64::MAX);
    crate::hypercall::release_ram(copies.frames.start, copies.len());
    // No entry maps a copy now: no frame is a copy's any more (the allocator never had them).
    HOT_START.store(0, Ordering::Relaxed);
    HOT_END.store(0, Ordering::Relaxed);
    PAGES_GIVEN_BACK.store(copies.len() / PAGE_SIZE, Ordering::Relaxed);
    ENTRIES_REPOINTED.store(entries, Ordering::Relaxed);
    GIVE_BACK_TSC.store(began, Ordering::Relaxed);
    GIVE_BACK_END_TSC.store(crate::time::rdtsc(), Ordering::Relaxed);
}

/// The VM's copies (none until [`adopt`]; none in host unit tests).
static COPIES: SpinLock<Option<HotCopies>> = SpinLock::new(None);
/// Their frames, `[HOT_START, HOT_END)`, for [`is_hot_frame`] without the lock.
static HOT_START: AtomicU64 = AtomicU64::new(0);
static HOT_END: AtomicU64 = AtomicU64::new(0);

/// GPA of the word the VMM sets once it has filled the copies' frames (uvm-abi's
/// `HOT_READY_OFFSET` in their list page); 0 with no copies.
static READY_GPA: AtomicU64 = AtomicU64::new(0);

/// Takes the copies the VMM makes ([`HotCopies::new`]), whose frames are filled once the
/// word at `ready_gpa` says so ([`await_filled`]). Called once, at boot, before the app is
/// loaded.
pub fn adopt(copies: HotCopies, ready_gpa: u64) {
    GIVE_BACK_AT.store(crate::cputime::now_ns().saturating_add(GIVE_BACK_AFTER_NS), Ordering::Relaxed);
    HOT_START.store(copies.frames.start, Ordering::Relaxed);
    HOT_END.store(copies.frames.end, Ordering::Relaxed);
    READY_GPA.store(ready_gpa, Ordering::Relaxed);
    *COPIES.lock() = Some(copies);
}

/// Waits until the VMM has filled the copies' frames, which it does on a thread of its own
/// while the kernel boots (~1-3 us a page); false if it could not. Called before the app
/// first runs, the first code that may touch a copy. When they are not filled after a short
/// spin it parks: the VMM's thread of this vCPU then copies with the other until nothing is
/// left to take, and returns. Then it spins a while (~0.1-0.2 ms) and parks 50 us at a time.
pub fn await_filled() -> bool {
    let at = READY_GPA.load(Ordering::Relaxed);
    if at == 0 {
        return true;
    }
    let mut spins = 0u32;
    // The VMM's release store of the word follows its copies.
    let mut word = crate::arch::phys::read_u64(at);
    // A short spin first: a park is an exit (~20-40 us here), and most waits end sooner.
    while word == 0 && spins < HELP_AFTER_SPINS {
        spins += 1;
        core::hint::spin_loop();
        word = crate::arch::phys::read_u64(at);
    }
    if word == 0 {
        park_for_copies();
        word = crate::arch::phys::read_u64(at);
    }
    while word == 0 {
        if spins < 4096 {
            spins += 1;
            core::hint::spin_loop();
        } else {
            park_for_copies();
        }
        word = crate::arch::phys::read_u64(at);
    }
    core::sync::atomic::fence(Ordering::Acquire);
    word == 1
}

/// Spins (~30-40 ns each) before [`await_filled`] parks to have its vCPU's VMM thread help.
const HELP_AFTER_SPINS: u32 = 1024;

/// [`await_filled`]'s park, out of line (in the hot text by `hot-text.ld`: a Go or busybox
/// start's boot parks here to have its vCPU's VMM thread help with the copies).
#[cold]
#[inline(never)]
fn park_for_copies() {
    crate::hypercall::park(50_000);
}

/// The frame to map for the image page at `gpa`: [`HotCopies::image_page`] of the VM's.
fn image_page(gpa: u64) -> u64 {
    if HOT_END.load(Ordering::Relaxed) == 0 {
        return gpa; // no copies: the lock is not taken for every page a load maps
    }
    match &*COPIES.lock() {
        Some(copies) => copies.image_page(gpa),
        None => gpa,
    }
}

/// The entry that maps the image page at `gpa` (`IMAGE_GPA` + a page-aligned image offset)
/// in place with `flags`: its hot copy if there is one, and in a start that learns
/// ([`learning`]) without the Accessed bit, which KVM sets when the app first touches the
/// page. The one rule for the loader and for execve's spare entries, which must agree.
pub fn image_page_entry(flags: crate::mm::paging::PageFlags, gpa: u64) -> u64 {
    let entry = flags.entry(image_page(gpa));
    if learning() {
        return entry & !uvm_abi::layout::pte::ACCESSED;
    }
    entry
}

/// Whether `frame` is a hot copy's (the VM's: never freed by a process).
pub fn is_hot_frame(frame: u64) -> bool {
    (HOT_START.load(Ordering::Relaxed)..HOT_END.load(Ordering::Relaxed)).contains(&frame)
}

/// GPA of the page to report the app's touched read-only image pages into, in a start
/// that learns them (boot info: a `hot_list_gpa` with no `hot_pages`); 0 otherwise.
static REPORT_GPA: AtomicU64 = AtomicU64::new(0);
/// The image's size, for telling its pages apart in a report.
static IMAGE_SIZE: AtomicU64 = AtomicU64::new(0);

/// This start learns the app's hot pages: it maps the app's read-only image pages without
/// their Accessed bit ([`learning`]), and [`report_touched`] lists those KVM marked at the
/// app's exit into the page at `gpa`.
pub fn learn_into(gpa: u64, image_size: u64) {
    IMAGE_SIZE.store(image_size, Ordering::Relaxed);
    REPORT_GPA.store(gpa, Ordering::Relaxed);
}

/// Whether this start learns (see [`learn_into`]).
pub fn learning() -> bool {
    REPORT_GPA.load(Ordering::Relaxed) != 0
}

/// The page-aligned image offsets of the image pages the tables at `root` map with their
/// Accessed bit set (KVM sets it as it first maps a page the app touches), at most `max`.
pub fn touched_image_pages(root: u64, image_size: u64, max: usize) -> Vec<u64> {
    use uvm_abi::layout::pte;
    let mut offsets = Vec::new();
    let image = IMAGE_GPA..IMAGE_GPA.saturating_add(image_size);
    let _ = crate::mm::paging::for_each_app_entry(root, &mut |_, entry, large| {
        let frame = entry & pte::ADDR_MASK;
        if !large && entry & (pte::PRESENT | pte::ACCESSED) == pte::PRESENT | pte::ACCESSED && image.contains(&frame) {
            if offsets.len() == max {
                return None;
            }
            offsets.push(frame - IMAGE_GPA);
        }
        Some(())
    });
    // In address order, which is mostly image order already (a few hundred at most).
    crate::sort::sort_by_key(&mut offsets, |&offset| offset);
    offsets.dedup();
    offsets
}

/// In a start that learns, writes the read-only image pages the app's tables at `root`
/// show touched into the report page (a count, then the offsets), for the VMM to take with
/// the exit. Nothing otherwise.
#[cold]
pub fn report_touched(root: u64) {
    let gpa = REPORT_GPA.load(Ordering::Relaxed);
    if gpa == 0 {
        return;
    }
    let offsets = touched_image_pages(root, IMAGE_SIZE.load(Ordering::Relaxed), (PAGE_SIZE / 8 - 1) as usize);
    crate::arch::phys::write_u64(gpa, offsets.len() as u64);
    for (i, offset) in offsets.iter().enumerate() {
        crate::arch::phys::write_u64(gpa + 8 * (i as u64 + 1), *offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_stand_in_for_their_image_pages() {
        assert!(HotCopies::new(&[0x3000, 0x1000], 0x50_0000).is_none(), "out of order");
        assert!(HotCopies::new(&[0x1800], 0x50_0000).is_none(), "not a page");
        assert!(HotCopies::new(&[], 0x50_0000).is_none());
        let hot = HotCopies::new(&[0x1000, 0x3000, 0x4000], 0x50_0000).unwrap();
        assert_eq!(hot.image_page(IMAGE_GPA + 0x1000), 0x50_0000);
        assert_eq!(hot.image_page(IMAGE_GPA + 0x4000), 0x50_2000);
        assert_eq!(hot.image_page(IMAGE_GPA + 0x2000), IMAGE_GPA + 0x2000, "no copy: the image page");
        assert_eq!(hot.frames, 0x50_0000..0x50_3000);
        // Given back, each copy's frame names its image page again.
        assert_eq!(hot.original_of(0x50_0000), Some(IMAGE_GPA + 0x1000));
        assert_eq!(hot.original_of(0x50_2000), Some(IMAGE_GPA + 0x4000));
        assert_eq!(hot.original_of(0x50_3000), None, "past the copies");
        assert_eq!(hot.original_of(0x4f_f000), None, "before them");
        assert_eq!(hot.len(), 3 * PAGE_SIZE);
    }

    #[test]
    fn parks_are_not_limited_without_copies_to_give_back() {
        // No copies adopted in host tests (nothing due), and a give-back without copies
        // changes nothing.
        assert_eq!(park_limit(), u64::MAX);
        let mut frames = crate::mm::frames::FrameAllocator::new(0x10_0000, 0x20_0000);
        give_back(&mut core::iter::empty(), &mut frames);
        assert_eq!(GivenBack::now(), GivenBack::default());
        assert_eq!(park_limit(), u64::MAX);
    }

    #[test]
    fn the_app_waits_for_the_ready_word_and_no_word_means_no_wait() {
        crate::arch::phys::reset(0x10_0000);
        assert!(await_filled(), "no copies: nothing to wait for");
        let ready = 0x8000 + uvm_abi::boot::HOT_READY_OFFSET;
        // Only the word's address, not `adopt`: the copies' frames are global, and other
        // tests map frames.
        READY_GPA.store(ready, Ordering::Relaxed);
        crate::arch::phys::write_u64(ready, 1);
        assert!(await_filled());
        crate::arch::phys::write_u64(ready, u64::MAX);
        assert!(!await_filled(), "the VMM could not fill them");
        READY_GPA.store(0, Ordering::Relaxed);
    }
}
