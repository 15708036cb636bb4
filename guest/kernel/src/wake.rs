//! Waking a parked vCPU without the host when the wake comes soon. A park is an exit to the
//! VMM, whose vCPU thread then sleeps on its doorbell; the wake is a doorbell write, and the
//! host's scheduler runs that thread again, which on this nested host costs tens to hundreds
//! of microseconds when a CPU has gone idle meanwhile. A fork's parent waits in wait4 while
//! its child runs for about that long, and the child's vCPU goes idle until the next fork.
//! So a vCPU about to park for what another vCPU will end (a child, a futex, a pipe between
//! processes, a start request) first spins for a while ([`SPIN_US`]) on a word in guest
//! memory that the kernel's unpark sets, and parks only if no wake came. The doorbell is rung
//! only for a vCPU that has marked itself parked, which every park does (a Dekker pair of
//! sequentially consistent accesses: either the parker sees the wake or the waker sees the
//! mark).
//!
//! Wakes from the host (the network poller, the console, alarms, signals the VMM sends) ring
//! the doorbell alone: a spinning vCPU sees them only when it parks (which then returns at
//! once), up to [`SPIN_US`] late. So waits the host may end (sockets, sleeps) do not spin,
//! nor do a process's waits once it has IP sockets (a server's threads wait all the time,
//! and their spins took the host CPUs its network needs).
//! A spinner holds a run slot (`[vm] cpus`), which the thread it waits for may need: a vCPU
//! spins only while no more vCPUs are awake (started and not parked) than there are slots.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};

use uvm_abi::layout::MAX_VCPUS;

/// How long a vCPU spins before it parks (what KVM's halt polling spends by default).
const SPIN_US: u64 = 200;

/// Per vCPU: a wake came since its last park returned.
static WOKEN: [AtomicU32; MAX_VCPUS as usize] = [const { AtomicU32::new(0) }; MAX_VCPUS as usize];
/// Per vCPU: it is parked, or about to park (its waker rings the doorbell).
static PARKED: [AtomicU32; MAX_VCPUS as usize] = [const { AtomicU32::new(0) }; MAX_VCPUS as usize];
/// TSC ticks to spin for (0: no spinning).
static SPIN_TICKS: AtomicU64 = AtomicU64::new(0);
/// How many vCPUs may run at once.
static RUN_SLOTS: AtomicU32 = AtomicU32::new(1);
/// vCPUs started (the boot vCPU first).
static STARTED: AtomicU32 = AtomicU32::new(1);
/// vCPUs parked (or about to park).
static PARKED_COUNT: AtomicU32 = AtomicU32::new(0);
/// The TSC's frequency.
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);

/// Spinning is for VMs whose app may run two threads at once (`run_slots`), at a TSC of
/// `tsc_khz`.
pub fn init(tsc_khz: u64, run_slots: u32) {
    TSC_KHZ.store(tsc_khz, SeqCst);
    RUN_SLOTS.store(run_slots, SeqCst);
    if run_slots >= 2 {
        SPIN_TICKS.store(tsc_khz.saturating_mul(SPIN_US) / 1000, SeqCst);
    }
}

/// Another vCPU was started.
pub fn vcpu_started() {
    STARTED.fetch_add(1, SeqCst);
}

/// Whether a spinner would keep no vCPU from a run slot: no more are awake than there are
/// slots (the spinner among them).
fn slot_to_spare() -> bool {
    STARTED.load(SeqCst).saturating_sub(PARKED_COUNT.load(SeqCst)) <= RUN_SLOTS.load(SeqCst)
}

/// Before vCPU `cpu` parks for up to `timeout_ns` (not 0: that park hands the vCPU's run
/// slot on, and must reach the VMM): with `spin`, spins until a wake comes or the spin time
/// (or the timeout, if shorter) ends; then marks it parked. Whether a wake came (it must not
/// park then).
pub fn woken_before_park(cpu: u32, timeout_ns: u64, spin: bool) -> bool {
    let Some(woken) = WOKEN.get(cpu as usize) else { return false };
    let ticks = if spin { SPIN_TICKS.load(SeqCst) } else { 0 };
    if ticks > 0 {
        let ticks = ticks.min(timeout_ns.saturating_mul(TSC_KHZ.load(SeqCst)) / 1_000_000);
        let start = crate::time::rdtsc();
        while crate::time::rdtsc().wrapping_sub(start) < ticks && slot_to_spare() {
            if woken.swap(0, SeqCst) != 0 {
                return true;
            }
            core::hint::spin_loop();
        }
    }
    PARKED[cpu as usize].store(1, SeqCst);
    PARKED_COUNT.fetch_add(1, SeqCst);
    if woken.swap(0, SeqCst) != 0 {
        back_from_park(cpu);
        return true;
    }
    false
}

/// Spins until `ready()` (which another vCPU makes true, with a wake) or the spin time ends,
/// as [`woken_before_park`] would before a park; whether `ready()` came. False at once when
/// spinning is off. Wakes seen meanwhile are taken.
pub fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    let ticks = SPIN_TICKS.load(SeqCst);
    let Some(woken) = WOKEN.get(crate::process::current_cpu() as usize) else { return false };
    let start = crate::time::rdtsc();
    while ticks > 0 && crate::time::rdtsc().wrapping_sub(start) < ticks && slot_to_spare() {
        if woken.swap(0, SeqCst) != 0 && ready() {
            return true;
        }
        core::hint::spin_loop();
    }
    ready()
}

/// vCPU `cpu` is back from its park, if it was marked parked (a zero-length park is not).
/// (A wake that came after it woke stays: its next park returns at once, a stale wake its
/// caller re-checks.)
pub fn back_from_park(cpu: u32) {
    if PARKED.get(cpu as usize).is_some_and(|parked| parked.swap(0, SeqCst) != 0) {
        PARKED_COUNT.fetch_sub(1, SeqCst);
    }
}

/// Wakes vCPU `cpu`: whether it parked (or is about to), so its doorbell must ring.
pub fn wake(cpu: u32) -> bool {
    let Some(woken) = WOKEN.get(cpu as usize) else { return false };
    woken.store(1, SeqCst);
    PARKED[cpu as usize].load(SeqCst) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_before_the_park_spares_it_and_rings_no_doorbell() {
        let cpu = 40;
        assert!(!wake(cpu), "not parked: no doorbell");
        assert!(woken_before_park(cpu, u64::MAX, true), "the wake is seen: no park");
        assert!(!woken_before_park(cpu, u64::MAX, false), "taken once");
        back_from_park(cpu);
    }

    #[test]
    fn a_wake_after_the_mark_rings_the_doorbell() {
        let cpu = 41;
        assert!(!woken_before_park(cpu, 1000, false), "nothing came: it parks");
        assert!(wake(cpu), "parked: the doorbell rings");
        back_from_park(cpu);
        assert!(!wake(cpu), "back: no doorbell");
        assert!(woken_before_park(cpu, 1000, false), "a wake after the park returns is kept");
        back_from_park(cpu);
        back_from_park(cpu);
        let count = PARKED_COUNT.load(SeqCst);
        assert!(count < MAX_VCPUS, "a vCPU back twice (a zero-length park is not marked) counts once");
        assert!(!wake(50 + MAX_VCPUS), "no such vCPU");
    }
}
