//! Hot copies (`AppLaunch::hot`): frames of guest RAM that hold pages of the image an earlier
//! start touched, which the guest kernel maps in place of those image pages (its `mm::hot`;
//! learning them is [`crate::hot_pages`]).
//!
//! Staging reserves the frames and writes their list ([`reserve`]: the list page right
//! after the boot page tables, the frames after the prestaged ones); a [`HotCopier`] fills the
//! frames afterwards and then sets the list page's ready word
//! (`uvm_abi::boot::HOT_READY_OFFSET`). `uvm run` fills them on the image-opening thread
//! while the guest boots: the copy (~1 us a page on the hosts measured, 136 pages for a
//! static glibc hello) was on the path to the first KVM_RUN, and the guest's first ~0.2 ms
//! (the VM's first entry, the kernel's boot) never touch a copy. The kernel waits for the
//! ready word before it first enters the app, the first code that may.
//!
//! After the copies, a [`FreshWarmer`] has the host back the fresh frames an earlier start
//! touched (`AppLaunch::fresh`): the guest never waits for that one.

use std::time::{Duration, Instant};

use uvm_abi::boot::{HOT_READY_OFFSET, MAX_HOT_PAGES};
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
    let mut list: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
    list.resize(PAGE_SIZE as usize, 0);
    memory.write_ram(list_gpa, &list)?;
    // Each page whole: the image's last page is its bytes, then zeros.
    let pages = offsets.iter().map(|&o| (o, (memory.image_size() - o).min(PAGE_SIZE))).collect();
    Some(HotCopier { memory: memory.clone(), gpa, pages, ready_gpa: list_gpa + HOT_READY_OFFSET, filled: false })
}

/// Fills the hot copies' frames [`reserve`] set aside, then sets their ready word. Dropped
/// unfilled, it fills them then, so the guest never waits for a copier that is gone. It
/// holds a clone of guest memory: the RAM mapping outlives the copy whatever the VM does
/// meanwhile.
pub struct HotCopier {
    memory: GuestMemory,
    gpa: u64,
    /// `(image offset, bytes)` of each copy, in frame order.
    pages: Vec<(u64, u64)>,
    ready_gpa: u64,
    filled: bool,
}

impl HotCopier {
    /// How many copies it makes.
    pub fn pages(&self) -> u64 {
        self.pages.len() as u64
    }

    /// Fills the frames and sets the ready word; returns how long that took.
    pub fn fill(mut self) -> Duration {
        let started = Instant::now();
        self.fill_now();
        started.elapsed()
    }

    fn fill_now(&mut self) {
        if std::mem::replace(&mut self.filled, true) {
            return;
        }
        // `reserve` checked what `prestage` checks (the count, the room, the offsets, the
        // lengths), so all pages are copied; the failed word is for a mapping that changed
        // under us.
        let copied = crate::boot::prestage(&self.memory, self.gpa, &self.pages);
        let word = if copied == self.pages() { FILLED } else { FAILED };
        if let Some(ready) = self.memory.atomic_u64(self.ready_gpa) {
            // Release: the guest, reading the word with acquire ordering, sees the copies.
            ready.store(word, std::sync::atomic::Ordering::Release);
        }
    }
}

impl Drop for HotCopier {
    fn drop(&mut self) {
        self.fill_now();
    }
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
        for &(first, frames) in runs {
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
        write!(f, "HotCopier({} pages at {:#x})", self.pages.len(), self.gpa)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut list = [0u8; 16];
        memory.read_ram(LIST, &mut list).unwrap();
        assert_eq!(list, [0u64.to_le_bytes(), 8192u64.to_le_bytes()].concat()[..]);
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
        assert_eq!(memory.read_u64(LIST + (MAX_HOT_PAGES - 1) * 8).unwrap(), (MAX_HOT_PAGES - 1) * 4096);
        assert_eq!(ready_word(&memory), FILLED);
    }
}
