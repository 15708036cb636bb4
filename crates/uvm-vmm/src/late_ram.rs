//! Guest RAM registered with KVM in two parts, the second only once the guest grows into
//! the first. KVM keeps metadata for every page of a memory slot (for shadow paging: a
//! reverse map and write tracking, ~3 KiB of host kernel memory per MiB, allocated and zeroed
//! as the slot is registered: ~0.5 ms per GiB here), so registering all of a large RAM made
//! every start pay for memory its app may never touch: 20 sleeping VMs of 1 GiB took 3.9 MiB
//! of the host's memory each, 3.3 MiB of it KVM's (`bench/scale.py`), against 1.5 MiB at 64
//! MiB. RAM up to [`RAM_AT_BOOT`] is registered whole before boot; of a larger RAM only the
//! first [`RAM_AT_BOOT`] is. The guest's frame allocator hands out frames of the first part
//! only; once it has handed out half of it, it asks for the rest with the `RamReady`
//! hypercall, without waiting, and the rest is registered on a thread of its own while the
//! guest runs; the allocator waits at the [`RamGate`] only if it runs out before that is done.
//! (The registration itself is `vm::register_late_ram`, beside the other memory slots.)

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// RAM up to this size is registered before boot, in one slot; of a larger RAM, this much:
/// more than the C and Go hellos, the Go service and the busybox scripts of `bench/run.sh`
/// use (0.1-13 MiB), so none of them asks for the rest.
pub const RAM_AT_BOOT: u64 = 32 << 20;

/// How much of `ram_size` bytes of RAM is registered before boot (the whole of it, or
/// [`RAM_AT_BOOT`]; never less than `staged_end`, the end of what staging wrote).
pub fn ram_at_boot(ram_size: u64, staged_end: u64) -> u64 {
    if ram_size <= RAM_AT_BOOT {
        return ram_size;
    }
    let at_least = uvm_abi::layout::align_up(staged_end, uvm_abi::layout::LARGE_PAGE_SIZE).unwrap_or(ram_size);
    RAM_AT_BOOT.max(at_least).min(ram_size)
}

/// The rest of RAM's registration, as the guest's `RamReady` hypercalls see it.
pub(crate) struct RamGate {
    state: Mutex<GateState>,
    opened: Condvar,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GateState {
    /// Only this many bytes are registered; nobody asked for the rest yet.
    NotStarted(u64),
    /// The rest is being registered; this many bytes are usable meanwhile.
    Registering(u64),
    /// Bytes of RAM usable, and how long registering the rest took (if it was late).
    Open(u64, Option<Duration>),
    /// Registering the rest failed: this many bytes (the first part) are all there is.
    Failed(u64),
}

/// What the guest may use, as the `RamReady` hypercall reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RamReadiness {
    /// Bytes of RAM from GPA 0.
    Ready(u64),
    /// The host could not register the rest.
    Failed,
    /// The VM is stopping.
    Stopping,
}

impl RamGate {
    /// A gate already open: all `ram_size` bytes were registered before boot.
    pub(crate) fn open(ram_size: u64) -> RamGate {
        RamGate { state: Mutex::new(GateState::Open(ram_size, None)), opened: Condvar::new() }
    }

    /// A gate for a RAM of which only `at_boot` bytes are registered.
    pub(crate) fn not_started(at_boot: u64) -> RamGate {
        RamGate { state: Mutex::new(GateState::NotStarted(at_boot)), opened: Condvar::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the registration started: `Some(at_boot)` for the one caller that must now
    /// register RAM from `at_boot` on (then call [`RamGate::set`] with how it went).
    pub(crate) fn begin(&self) -> Option<u64> {
        let mut state = self.lock();
        match *state {
            GateState::NotStarted(at_boot) => {
                *state = GateState::Registering(at_boot);
                Some(at_boot)
            }
            _ => None,
        }
    }

    pub(crate) fn set(&self, state: GateState) {
        *self.lock() = state;
        self.opened.notify_all();
    }

    /// Whether the rest of RAM is being registered now (KVM holds the VM's slots lock for it,
    /// milliseconds: other registrations would wait that long).
    pub(crate) fn registering(&self) -> bool {
        matches!(*self.lock(), GateState::Registering(_))
    }

    /// What is usable now, without waiting.
    pub(crate) fn now(&self) -> RamReadiness {
        match *self.lock() {
            GateState::NotStarted(bytes) | GateState::Registering(bytes) | GateState::Open(bytes, _) => {
                RamReadiness::Ready(bytes)
            }
            GateState::Failed(_) => RamReadiness::Failed,
        }
    }

    /// Waits until the rest of RAM is registered (or failed, or the VM is stopping). Call
    /// [`RamGate::begin`] first: a gate nobody started is reported as it is.
    pub(crate) fn wait(&self) -> RamReadiness {
        let mut state = self.lock();
        loop {
            match *state {
                GateState::Registering(_) if crate::stop::stopping() => return RamReadiness::Stopping,
                // Registering takes milliseconds; a stop is noticed within one wait.
                GateState::Registering(_) => {
                    state = self
                        .opened
                        .wait_timeout(state, Duration::from_millis(10))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                GateState::NotStarted(bytes) | GateState::Open(bytes, _) => return RamReadiness::Ready(bytes),
                GateState::Failed(_) => return RamReadiness::Failed,
            }
        }
    }

    /// Bytes of RAM registered with KVM, from GPA 0 (all of it once the rest is registered).
    pub(crate) fn registered(&self) -> u64 {
        match *self.lock() {
            GateState::NotStarted(bytes)
            | GateState::Registering(bytes)
            | GateState::Open(bytes, _)
            | GateState::Failed(bytes) => bytes,
        }
    }

    /// How long registering the rest of RAM took, once it is done (`None`: it was not late).
    pub(crate) fn late_took(&self) -> Option<Duration> {
        match *self.lock() {
            GateState::Open(_, took) => took,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ram_is_registered_whole_and_large_ram_in_two_parts() {
        assert_eq!(ram_at_boot(16 << 20, 4 << 20), 16 << 20);
        assert_eq!(ram_at_boot(RAM_AT_BOOT, 4 << 20), RAM_AT_BOOT);
        assert_eq!(ram_at_boot(64 << 20, 4 << 20), RAM_AT_BOOT, "the default RAM: in two parts");
        assert_eq!(ram_at_boot(4 << 30, 4 << 20), RAM_AT_BOOT);
        // Never less than what staging wrote, rounded up to 2 MiB.
        assert_eq!(ram_at_boot(4 << 30, RAM_AT_BOOT + 4096), RAM_AT_BOOT + (2 << 20));
        assert_eq!(ram_at_boot(RAM_AT_BOOT + (2 << 20), 1 << 30), RAM_AT_BOOT + (2 << 20));
    }

    #[test]
    fn the_gate_is_started_once_and_reports_how_registering_went() {
        assert_eq!(RamGate::open(1 << 30).wait(), RamReadiness::Ready(1 << 30));
        assert_eq!(RamGate::open(1 << 30).begin(), None, "nothing to register");
        let gate = RamGate::not_started(RAM_AT_BOOT);
        assert_eq!(gate.now(), RamReadiness::Ready(RAM_AT_BOOT));
        assert!(!gate.registering());
        assert_eq!(gate.begin(), Some(RAM_AT_BOOT));
        assert!(gate.registering());
        assert_eq!(gate.begin(), None, "started once");
        assert_eq!(gate.now(), RamReadiness::Ready(RAM_AT_BOOT), "usable meanwhile");
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                gate.set(GateState::Open(2 << 30, Some(Duration::from_micros(5))));
            });
            assert_eq!(gate.wait(), RamReadiness::Ready(2 << 30));
        });
        assert_eq!(gate.late_took(), Some(Duration::from_micros(5)));
        assert_eq!(gate.registered(), 2 << 30);
        assert_eq!(RamGate::not_started(RAM_AT_BOOT).registered(), RAM_AT_BOOT, "never asked");
        assert!(!gate.registering(), "done");
        let failed = RamGate::not_started(RAM_AT_BOOT);
        failed.begin();
        failed.set(GateState::Failed(RAM_AT_BOOT));
        assert_eq!(failed.wait(), RamReadiness::Failed);
    }
}
