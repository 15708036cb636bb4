//! Hot copies (`AppLaunch::hot`): frames of guest RAM that hold pages of the image an earlier
//! start touched, which the guest kernel maps in place of those image pages (its `mm::hot`;
//! learning them is [`crate::hot_pages`]).
//!
//! Staging reserves the frames and writes their list ([`reserve`]: the list page right
//! after the boot page tables, the frames after the prestaged ones); a [`HotCopier`] fills the
//! frames afterwards and then sets the list page's ready word
//! (`uvm_abi::boot::HOT_READY_OFFSET`). `uvm run` fills them on the image-opening thread
//! while the guest boots: the copy (~1-3 us a page on the hosts measured, 136 pages for a
//! static glibc hello) was on the path to the first KVM_RUN, and the guest's first ~0.2 ms
//! (the VM's first entry, the kernel's boot) never touch a copy. The kernel waits for the
//! ready word before it first enters the app, the first code that may; when it has to wait
//! long enough to park, its vCPU's thread takes chunks of the copying
//! ([`HotFillHelper`]), so a large set (a Go hello's 240 pages) is filled on both CPUs.
//!
//! After the copies, a [`FreshWarmer`] has the host back the fresh frames an earlier start
//! touched (`AppLaunch::fresh`): the guest never waits for that one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uvm_abi::boot::{hot_list_entry, HOT_READY_OFFSET, MAX_HOT_PAGES};
use uvm_abi::layout::PAGE_SIZE;

use crate::memory::GuestMemory;

/// The most copies staging makes itself (as many microseconds): filling so few while the
/// guest boots saves less than it costs, as the guest's first touch of their group may then
/// come before the copier backed it, and KVM maps none of them along with it (a fault more,
/// ~10-40 us by host).
pub(crate) const FILLED_IN_STAGING: u64 = 16;

// `prestage` fills at most this many, and `reserve` takes up to `MAX_HOT_PAGES`.
const _: () = assert!(MAX_HOT_PAGES <= uvm_abi::boot::MAX_PRESTAGED_PAGES);

/// The ready word's value once every copy is in its frame.
const FILLED: u64 = 1;
/// The ready word's value when the copies could not be made (the kernel then stops the boot).
const FAILED: u64 = u64::MAX;

/// Reserves a frame from `gpa` on for the image page at each of `offsets` and writes their
/// list into the page at `list_gpa` (the ready word still 0); returns the copier that fills
/// them, or `None` when they do not fit (none, more than `MAX_HOT_PAGES`, out of order, not
/// page-aligned, outside the image, or no room in RAM). The frames are filled only by the
/// copier: run it ([`HotCopier::fill`]) or drop it, or the guest waits for ever.
pub(crate) fn reserve(memory: &GuestMemory, list_gpa: u64, gpa: u64, offsets: &[u64]) -> Option<HotCopier> {
    let count = offsets.len() as u64;
    let fits = count > 0
        && count <= MAX_HOT_PAGES
        && offsets.windows(2).all(|pair| pair[0] < pair[1])
        && offsets.iter().all(|&o| o.is_multiple_of(PAGE_SIZE) && o < memory.image_size())
        && memory.is_ram(list_gpa, PAGE_SIZE)
        && memory.is_ram(gpa, (count + 16) * PAGE_SIZE);
    if !fits {
        return None;
    }
    let entries: Option<Vec<u32>> = offsets.iter().map(|&o| hot_list_entry(o)).collect();
    let mut list: Vec<u8> = entries?.iter().flat_map(|e| e.to_le_bytes()).collect();
    list.resize(PAGE_SIZE as usize, 0);
    memory.write_ram(list_gpa, &list)?;
    // Each page whole: the image's last page is its bytes, then zeros.
    let pages = offsets.iter().map(|&o| (o, (memory.image_size() - o).min(PAGE_SIZE))).collect();
    Some(HotCopier {
        fill: Arc::new(HotFill {
            memory: memory.clone(),
            gpa,
            pages,
            ready_gpa: list_gpa + HOT_READY_OFFSET,
            next_chunk: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
        }),
    })
}

/// Fills the hot copies' frames [`reserve`] set aside, then sets their ready word. Dropped
/// unfilled, it fills them then, so the guest never waits for a copier that is gone. It
/// holds a clone of guest memory: the RAM mapping outlives the copy whatever the VM does
/// meanwhile. The work is shared ([`HotCopier::helper`]): a vCPU that parks while the guest
/// waits for the copies takes chunks of it too.
pub struct HotCopier {
    fill: Arc<HotFill>,
}

/// A share in a [`HotCopier`]'s work, for a thread that would otherwise wait for it: the vCPU
/// whose kernel waits for the ready word (`VcpuOps::park`).
#[derive(Clone)]
pub struct HotFillHelper(Arc<HotFill>);

/// The copies, claimed [`CHUNK_PAGES`] at a time by whoever fills them; whoever finishes the
/// last chunk sets the ready word, so it says "filled" only once every chunk is in.
struct HotFill {
    memory: GuestMemory,
    gpa: u64,
    /// `(image offset, bytes)` of each copy, in frame order.
    pages: Vec<(u64, u64)>,
    ready_gpa: u64,
    /// The next chunk to claim.
    next_chunk: AtomicUsize,
    /// Copies made (or given up: a chunk that failed counts whole).
    done: AtomicUsize,
    failed: AtomicBool,
}

/// Copies a thread claims at once: one `MADV_POPULATE_WRITE` and that many copies, a few
/// tens of microseconds, so a helper that arrives late still finds work to share.
const CHUNK_PAGES: usize = 16;

impl HotCopier {
    /// How many copies it makes.
    pub fn pages(&self) -> u64 {
        self.fill.pages.len() as u64
    }

    /// A share in the work, for another thread ([`HotFillHelper::help`]).
    pub fn helper(&self) -> HotFillHelper {
        HotFillHelper(Arc::clone(&self.fill))
    }

    /// Fills the frames no helper has taken and, if the last chunk is its own, sets the ready
    /// word; returns how long that took and how many copies this thread made.
    pub fn fill(self) -> (Duration, u64) {
        let started = Instant::now();
        let made = self.fill.help();
        (started.elapsed(), made)
    }
}

impl Drop for HotCopier {
    fn drop(&mut self) {
        self.fill.help();
    }
}

impl HotFillHelper {
    /// Fills chunks of copies until none is left to claim; how many copies it made (0 once
    /// the copier and any other helper took them all).
    pub fn help(&self) -> u64 {
        self.0.help()
    }

    /// Fills chunks of copies until none is left to claim or `stop` says so (asked before
    /// each chunk); how many copies it made.
    pub fn help_until(&self, stop: impl FnMut() -> bool) -> u64 {
        self.0.help_until(stop)
    }

    /// Whether every copy is in (the ready word set, or about to be by the thread that
    /// counted the last one).
    pub fn is_done(&self) -> bool {
        self.0.done.load(Ordering::Acquire) >= self.0.pages.len()
    }
}

impl HotFill {
    fn help(&self) -> u64 {
        self.help_until(|| false)
    }

    fn help_until(&self, mut stop: impl FnMut() -> bool) -> u64 {
        let mut made = 0;
        while !stop() {
            match self.fill_a_chunk() {
                Some(copied) => made += copied,
                None => break,
            }
        }
        made
    }

    /// Claims the next chunk of copies and fills it; how many copies it made, `None` when no
    /// chunk was left. Whoever completes the last chunk sets the ready word.
    fn fill_a_chunk(&self) -> Option<u64> {
        let first = self.next_chunk.fetch_add(1, Ordering::Relaxed).saturating_mul(CHUNK_PAGES);
        if first >= self.pages.len() {
            return None;
        }
        let chunk = &self.pages[first..(first + CHUNK_PAGES).min(self.pages.len())];
        // `reserve` checked what `prestage` checks (the count, the room, the offsets, the
        // lengths), so every page is copied; a failure is a mapping that changed under us.
        let gpa = self.gpa + first as u64 * PAGE_SIZE;
        let copied = crate::boot::prestage(&self.memory, gpa, chunk);
        if copied != chunk.len() as u64 {
            self.failed.store(true, Ordering::Relaxed);
        }
        // AcqRel: the thread that completes the count sees every other chunk's failure
        // flag and copies before it publishes the word.
        if self.done.fetch_add(chunk.len(), Ordering::AcqRel) + chunk.len() == self.pages.len() {
            let word = if self.failed.load(Ordering::Relaxed) { FAILED } else { FILLED };
            if let Some(ready) = self.memory.atomic_u64(self.ready_gpa) {
                // Release: the guest, reading the word with acquire ordering, sees the copies.
                ready.store(word, Ordering::Release);
            }
        }
        Some(copied)
    }
}

/// KVM's look-ahead: at a shadow-page fault it maps up to this many neighbours of the page
/// (the aligned group of 8 entries of the guest's page table), but stops at the first whose
/// host page is not backed yet.
const LOOK_AHEAD_FRAMES: u64 = 8;

/// `runs` (`(first, frames)`, in ascending order) with the gaps of fewer than
/// [`LOOK_AHEAD_FRAMES`] frames between two of them filled in. An app often touches every
/// other frame of a run it was given (Go's heap: the first page of each 8 KiB span), and a
/// hole left unbacked stops KVM's look-ahead right after the page that faults: each touched
/// frame then costs a fault of its own (~30 us on a nested PVM host), where backing the hole
/// costs the image thread ~1-4 us a frame. A gap of 8 or more is left: past it the
/// look-ahead's group ends anyway.
fn bridge_gaps(runs: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut bridged: Vec<(u64, u64)> = Vec::with_capacity(runs.len());
    // Saturating: the runs come from a profile file, a hint anyone may have edited.
    for &(first, frames) in runs {
        match bridged.last_mut() {
            Some((start, len))
                if first >= start.saturating_add(*len) && first - start.saturating_add(*len) < LOOK_AHEAD_FRAMES =>
            {
                *len = first.saturating_add(frames) - *start;
            }
            _ => bridged.push((first, frames)),
        }
    }
    bridged
}

/// Has the host back the fresh frames an earlier start of the image touched
/// (`AppLaunch::fresh`), after the hand-over, as the hot copies are filled: KVM then maps
/// them 8 to a fault where it mapped each unbacked one at a fault of its own. The guest never
/// waits for it: a frame it touches first is backed then, as without it.
pub struct FreshWarmer {
    memory: GuestMemory,
    /// `(gpa, bytes)` runs, in the order the guest's allocator hands the frames out.
    runs: Vec<(u64, u64)>,
}

impl FreshWarmer {
    /// The warmer of `runs` (`(first, frames)` from the frame at `fresh_gpa`), at most
    /// [`crate::hot_pages::MAX_FRESH_FRAMES`] frames and only those in RAM; `None` for none.
    pub(crate) fn new(memory: &GuestMemory, fresh_gpa: u64, runs: &[(u64, u64)]) -> Option<FreshWarmer> {
        let mut left = crate::hot_pages::MAX_FRESH_FRAMES;
        let mut gpa_runs = Vec::new();
        for (first, frames) in bridge_gaps(runs) {
            let frames = frames.min(left);
            let Some(gpa) = first.checked_mul(PAGE_SIZE).and_then(|offset| fresh_gpa.checked_add(offset)) else {
                break;
            };
            if frames == 0 || !memory.is_ram(gpa, frames * PAGE_SIZE) {
                break;
            }
            gpa_runs.push((gpa, frames * PAGE_SIZE));
            left -= frames;
        }
        (!gpa_runs.is_empty()).then(|| FreshWarmer { memory: memory.clone(), runs: gpa_runs })
    }

    /// Backs the frames; returns how long that took.
    pub fn warm(self) -> Duration {
        let started = Instant::now();
        for &(gpa, len) in &self.runs {
            self.memory.prefault_ram(gpa, len);
        }
        started.elapsed()
    }

    /// How many frames it backs.
    pub fn frames(&self) -> u64 {
        self.runs.iter().map(|&(_, len)| len / PAGE_SIZE).sum()
    }
}

impl std::fmt::Debug for FreshWarmer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FreshWarmer({} frames)", self.frames())
    }
}

impl std::fmt::Debug for HotCopier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HotCopier({} pages at {:#x})", self.fill.pages.len(), self.fill.gpa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_under_the_look_ahead_are_bridged() {
        // Every other frame, as Go's heap is touched: one run.
        assert_eq!(bridge_gaps(&[(10, 1), (12, 1), (14, 1)]), vec![(10, 5)]);
        // A gap of 7 is bridged, one of 8 is not.
        assert_eq!(bridge_gaps(&[(0, 2), (9, 1), (18, 3)]), vec![(0, 10), (18, 3)]);
        assert_eq!(bridge_gaps(&[]), vec![]);
        assert_eq!(bridge_gaps(&[(u64::MAX - 4, 2), (u64::MAX - 1, 9)]), vec![(u64::MAX - 4, 4)], "no overflow");
    }

    /// Where the tests put the list page, and the copies after it.
    const LIST: u64 = 0x50_0000;
    const GPA: u64 = LIST + PAGE_SIZE;

    fn ready_word(memory: &GuestMemory) -> u64 {
        memory.read_u64(LIST + HOT_READY_OFFSET).unwrap()
    }

    #[test]
    fn copies_are_whole_pages_filled_after_their_list_and_then_marked_ready() {
        let image: Vec<u8> = (0..3 * 4096u32 - 100).map(|i| (i % 251) as u8 + 1).collect();
        let memory = GuestMemory::for_tests_with_image(64 << 20, &image);
        let copier = reserve(&memory, LIST, GPA, &[0, 2 * 4096]).unwrap();
        assert_eq!(copier.pages(), 2);
        let mut list = [0u8; 12];
        memory.read_ram(LIST, &mut list).unwrap();
        assert_eq!(list, [0u32.to_le_bytes(), 2u32.to_le_bytes(), [0; 4]].concat()[..], "page numbers, then zeros");
        assert_eq!(ready_word(&memory), 0, "not ready before the fill");
        let mut page = vec![0u8; 4096];
        memory.read_ram(GPA, &mut page).unwrap();
        assert!(page.iter().all(|&b| b == 0), "not filled by the reservation");
        copier.fill();
        assert_eq!(ready_word(&memory), FILLED);
        memory.read_ram(GPA, &mut page).unwrap();
        assert_eq!(page, image[..4096]);
        memory.read_ram(GPA + 4096, &mut page).unwrap();
        assert_eq!(page[..4096 - 100], image[2 * 4096..], "the image's last page: its bytes");
        assert!(page[4096 - 100..].iter().all(|&b| b == 0), "then zeros");
    }

    #[test]
    fn a_helper_shares_the_fill_and_the_word_comes_with_the_last_chunk() {
        let pages = 3 * CHUNK_PAGES as u64 + 5;
        let image: Vec<u8> = (0..pages * 4096).map(|i| (i % 253) as u8 + 1).collect();
        let memory = GuestMemory::for_tests_with_image(64 << 20, &image);
        let offsets: Vec<u64> = (0..pages).map(|i| i * 4096).collect();
        let copier = reserve(&memory, LIST, GPA, &offsets).unwrap();
        let helper = copier.helper();
        // The helper takes the first chunk alone: not the last, so no word yet.
        let first = &copier.fill.pages[..CHUNK_PAGES];
        copier.fill.next_chunk.store(1, Ordering::Relaxed);
        assert_eq!(crate::boot::prestage(&memory, GPA, first), CHUNK_PAGES as u64);
        copier.fill.done.fetch_add(CHUNK_PAGES, Ordering::AcqRel);
        assert_eq!(ready_word(&memory), 0, "not ready with chunks left");
        let other = std::thread::spawn(move || helper.help());
        let (_, made_here) = copier.fill();
        let made_there = other.join().unwrap();
        assert_eq!(made_here + made_there, pages - CHUNK_PAGES as u64, "every other chunk once");
        assert_eq!(ready_word(&memory), FILLED);
        let mut copy = vec![0u8; (pages * 4096) as usize];
        memory.read_ram(GPA, &mut copy).unwrap();
        assert_eq!(copy, image);
    }

    #[test]
    fn a_helper_stops_between_chunks_when_asked_and_the_last_chunk_sets_the_word() {
        let pages = CHUNK_PAGES as u64 + 3;
        let image: Vec<u8> = (0..pages * 4096).map(|i| (i % 241) as u8 + 1).collect();
        let memory = GuestMemory::for_tests_with_image(64 << 20, &image);
        let offsets: Vec<u64> = (0..pages).map(|i| i * 4096).collect();
        let copier = reserve(&memory, LIST, GPA, &offsets).unwrap();
        let helper = copier.helper();
        let mut asked = 0;
        let one_chunk = helper.help_until(|| {
            asked += 1;
            asked > 1
        });
        assert_eq!(one_chunk, CHUNK_PAGES as u64, "stopped after its first chunk");
        assert_eq!(ready_word(&memory), 0, "a chunk left");
        assert_eq!(helper.help_until(|| false), 3);
        assert_eq!(ready_word(&memory), FILLED, "the last chunk sets the word");
        assert_eq!(helper.help_until(|| false), 0, "nothing left");
        assert_eq!(copier.fill().1, 0, "the copier finds them made");
        let mut copy = vec![0u8; (pages * 4096) as usize];
        memory.read_ram(GPA, &mut copy).unwrap();
        assert_eq!(copy, image);
    }

    #[test]
    fn a_helper_after_the_fill_finds_nothing_to_do() {
        let memory = GuestMemory::for_tests_with_image(64 << 20, &[7u8; 2 * 4096]);
        let copier = reserve(&memory, LIST, GPA, &[0, 4096]).unwrap();
        let helper = copier.helper();
        assert_eq!(copier.fill().1, 2);
        assert_eq!(helper.help(), 0);
        assert_eq!(ready_word(&memory), FILLED);
    }

    #[test]
    fn a_copier_dropped_unfilled_fills_on_its_way_out() {
        let image: Vec<u8> = (0..2 * 4096u32).map(|i| (i % 251) as u8 + 1).collect();
        let memory = GuestMemory::for_tests_with_image(64 << 20, &image);
        drop(reserve(&memory, LIST, GPA, &[4096]).unwrap());
        assert_eq!(ready_word(&memory), FILLED);
        let mut page = vec![0u8; 4096];
        memory.read_ram(GPA, &mut page).unwrap();
        assert_eq!(page, image[4096..]);
    }

    #[test]
    fn copies_that_do_not_fit_reserve_nothing() {
        let memory = GuestMemory::for_tests_with_image(64 << 20, &[1u8; 3 * 4096 - 100]);
        assert!(reserve(&memory, LIST, GPA, &[]).is_none());
        assert!(reserve(&memory, LIST, GPA, &[4096, 0]).is_none(), "out of order");
        assert!(reserve(&memory, LIST, GPA, &[100]).is_none(), "not a page");
        assert!(reserve(&memory, LIST, GPA, &[3 * 4096]).is_none(), "outside the image");
        assert!(reserve(&memory, LIST, (64 << 20) - 4096, &[0]).is_none(), "no room left after them");
        assert!(reserve(&memory, 64 << 20, GPA, &[0]).is_none(), "the list outside RAM");
    }

    #[test]
    fn a_full_list_leaves_the_ready_word_its_own() {
        let memory = GuestMemory::for_tests_with_image(64 << 20, &vec![1u8; (MAX_HOT_PAGES as usize + 1) * 4096]);
        let most: Vec<u64> = (0..MAX_HOT_PAGES).map(|i| i * 4096).collect();
        let too_many: Vec<u64> = (0..=MAX_HOT_PAGES).map(|i| i * 4096).collect();
        assert!(reserve(&memory, LIST, GPA, &too_many).is_none());
        reserve(&memory, LIST, GPA, &most).unwrap().fill();
        let last = memory.read_u64(LIST + (MAX_HOT_PAGES - 2) * 4).unwrap();
        assert_eq!((last as u32, (last >> 32) as u32), (MAX_HOT_PAGES as u32 - 2, MAX_HOT_PAGES as u32 - 1));
        assert_eq!(ready_word(&memory), FILLED);
    }
}
