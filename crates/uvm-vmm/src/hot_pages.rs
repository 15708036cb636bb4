//! A start that learns its image's hot pages (`AppLaunch::learn_hot`): the page the guest
//! kernel reports them into, and what it reported at the app's exit.
//!
//! The guest kernel maps the app's read-only image pages without their Accessed bit in such
//! a start; KVM sets the bit as it first maps each page (its shadow MMU walks the guest's
//! tables), so at the app's exit the kernel lists the image pages whose entries have it,
//! ahead of the `Exit` hypercall, into a page the VMM set aside: a `u64` count, then that
//! many page-aligned image offsets. The VMM takes the list when it handles the `Exit`
//! (here), before uvm's own exit, which may follow at once (`VmSpec::exit_now`).
//!
//! It also records which of the fresh frames the guest touched (the frames the kernel's
//! allocator hands out, from the end of what staging wrote on: `AppLaunch::fresh`), as the
//! host backs them then: later starts have the host back those ahead, in the background
//! (`crate::hot_copies::FreshWarmer`), so KVM maps them 8 to a fault. Only those: backing
//! every fresh frame a boot hands out would back stack the app never touches.
//!
//! And how many vCPUs the app ran (its threads, or a script's processes: one vCPU each), so
//! that later starts make the next ones while the guest boots (`crate::vcpus_ahead`).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use uvm_abi::layout::PAGE_SIZE;

use crate::memory::GuestMemory;

/// GPA of the page the guest reports into (0: this start does not learn).
static REPORT_GPA: AtomicU64 = AtomicU64::new(0);
/// What it reported.
static LEARNED: Mutex<Option<Vec<u64>>> = Mutex::new(None);
/// GPA of the first fresh frame, in a start that learns (0: none).
static FRESH_GPA: AtomicU64 = AtomicU64::new(0);
/// The runs of fresh frames the guest touched, `(first, frames)` from the first.
static LEARNED_FRESH: Mutex<Option<Vec<(u64, u64)>>> = Mutex::new(None);

/// One more than the highest vCPU index a `VcpuStart` started (the boot vCPU is 0).
static VCPUS_RUN: AtomicU32 = AtomicU32::new(1);

/// The most fresh frames a start records (and a later one backs ahead): 16 MiB.
pub const MAX_FRESH_FRAMES: u64 = 4096;

/// This start learns: the guest reports into the page at `gpa`; its fresh frames start at
/// `fresh_gpa`.
pub(crate) fn report_into(gpa: u64, fresh_gpa: u64) {
    REPORT_GPA.store(gpa, Ordering::Relaxed);
    FRESH_GPA.store(fresh_gpa, Ordering::Relaxed);
}

/// Takes the guest's report at the app's exit (the `Exit` hypercall), if this start learns.
/// A report that does not fit its page is ignored.
pub(crate) fn take_report(memory: &GuestMemory) {
    let gpa = REPORT_GPA.swap(0, Ordering::Relaxed);
    if gpa == 0 {
        return;
    }
    let fresh = FRESH_GPA.load(Ordering::Relaxed);
    let span = memory.ram_size().saturating_sub(fresh).min(MAX_FRESH_FRAMES * PAGE_SIZE);
    if let (Some(runs), Ok(mut learned)) = (memory.resident_runs(fresh, span), LEARNED_FRESH.lock()) {
        *learned = Some(runs);
    }
    let Some(count) = memory.read_u64(gpa).filter(|&n| n < PAGE_SIZE / 8) else { return };
    let offsets: Option<Vec<u64>> = (1..=count).map(|i| memory.read_u64(gpa + i * 8)).collect();
    if let (Some(offsets), Ok(mut learned)) = (offsets, LEARNED.lock()) {
        *learned = Some(offsets);
    }
}

/// vCPU `index` was started (`VcpuStart`).
pub(crate) fn note_vcpu_started(index: u32) {
    VCPUS_RUN.fetch_max(index.saturating_add(1), Ordering::Relaxed);
}

/// How many vCPUs the app ran up to now (the boot vCPU included): at its exit, what a start
/// that learns records.
pub fn learned_vcpus() -> u32 {
    VCPUS_RUN.load(Ordering::Relaxed)
}

/// The runs of fresh frames the guest had touched when the app exited, `(first frame,
/// frames)` counted from the first fresh frame, in a start that learns; `None` otherwise.
pub fn learned_fresh() -> Option<Vec<(u64, u64)>> {
    LEARNED_FRESH.lock().ok()?.clone()
}

/// The image offsets of the app's read-only pages the guest reported touched, once the app
/// has exited in a start that learns; `None` otherwise.
pub fn learned() -> Option<Vec<u64>> {
    LEARNED.lock().ok()?.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_taken_once_and_only_when_it_fits() {
        let memory = GuestMemory::for_tests(64 << 20);
        let gpa = 0x50_0000;
        memory.write_u64(gpa, 2).unwrap();
        memory.write_u64(gpa + 8, 0x1000).unwrap();
        memory.write_u64(gpa + 16, 0x5000).unwrap();
        take_report(&memory);
        assert_eq!(learned(), None, "not a learning start");
        memory.write_u64(0x60_0000, 1).unwrap();
        memory.write_u64(0x60_3008, 1).unwrap();
        memory.write_u64(0x60_4000, 1).unwrap();
        report_into(gpa, 0x60_0000);
        take_report(&memory);
        assert_eq!(learned(), Some(vec![0x1000, 0x5000]));
        assert_eq!(learned_fresh(), Some(vec![(0, 1), (3, 2)]), "the fresh frames written, as runs");
        memory.write_u64(gpa, PAGE_SIZE).unwrap();
        report_into(gpa, 0x60_0000);
        take_report(&memory);
        assert_eq!(learned(), Some(vec![0x1000, 0x5000]), "a count past the page: ignored");
    }
}
