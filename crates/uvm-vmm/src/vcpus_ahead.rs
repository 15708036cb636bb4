//! vCPUs made ahead (`AppLaunch::vcpus_ahead`): an app whose earlier start ran more than one
//! vCPU (its threads, or the processes of a script: one vCPU each) gets the next ones made
//! while its guest boots, off the guest's path, instead of when its first `clone` or `fork`
//! asks for them. Making one is `KVM_CREATE_VCPU`, `KVM_SET_CPUID2` and, with an in-kernel
//! local APIC, `KVM_SET_MP_STATE`: ~0.2 ms here, on the path of a parent that waits for its
//! child (a shell running a command). What a `VcpuStart` brings (registers, root, TSS) is
//! still set by the vCPU's own thread when the guest starts it.
//!
//! The making runs on the image thread, after the hot copies and the fresh frames
//! ([`VcpuMaker::make`]); the boot vCPU's CPUID reaches it through a channel from
//! `run_staged`, as only the main thread knows it. A start that comes first makes its vCPU
//! itself, and the maker skips that index; one that comes while the maker is making its
//! index waits for it. No thread waits on a maker that never starts: a slot left open is made
//! by whoever starts its vCPU.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};

use kvm_bindings::CpuId;
use kvm_ioctls::{VcpuFd, VmFd};

use crate::error::VmError;

/// The most vCPUs made ahead: each costs the image thread ~0.2 ms while the guest boots.
pub const MAX_VCPUS_AHEAD: u32 = 3;

/// What a vCPU is made with besides its index: the boot vCPU's CPUID, and whether the VM has
/// in-kernel local APICs (a vCPU is then made runnable explicitly).
pub(crate) struct VcpuTemplate {
    pub cpuid: CpuId,
    pub lapic_in_kernel: bool,
}

/// Makes vCPU `index` of `vm` with `cpuid`, runnable if the VM has in-kernel local APICs
/// (`lapic_in_kernel`). A vCPU KVM made but that could not be set up comes back with the
/// error, to stay with the VM's resources (KVM keeps its index taken).
pub(crate) fn make_vcpu(
    vm: &VmFd,
    index: u32,
    cpuid: &CpuId,
    lapic_in_kernel: bool,
) -> Result<VcpuFd, (VmError, Option<VcpuFd>)> {
    let kvm = |what| move |source| VmError::Kvm { what, source };
    let vcpu = vm.create_vcpu(u64::from(index)).map_err(|e| (kvm("KVM_CREATE_VCPU")(e), None))?;
    let set_up = (|| {
        vcpu.set_cpuid2(cpuid).map_err(kvm("KVM_SET_CPUID2"))?;
        if lapic_in_kernel {
            let runnable = kvm_bindings::kvm_mp_state { mp_state: kvm_bindings::KVM_MP_STATE_RUNNABLE };
            vcpu.set_mp_state(runnable).map_err(kvm("KVM_SET_MP_STATE"))?;
        }
        Ok(())
    })();
    match set_up {
        Ok(()) => Ok(vcpu),
        Err(e) => Err((e, Some(vcpu))),
    }
}

/// Where a vCPU index after the boot one stands.
enum Slot {
    /// Nobody made it or claimed it.
    Open,
    /// The maker is making it.
    Making,
    /// Made, waiting for its start.
    Ready(VcpuFd),
    /// Its start took it (or made it itself), or the maker gave up on it.
    Taken,
}

/// The vCPUs made ahead of their starts, shared by the maker and the run loop.
pub(crate) struct VcpusAhead {
    /// Slot `i` is vCPU `i + 1`'s.
    slots: Mutex<Vec<Slot>>,
    changed: Condvar,
    made: AtomicU32,
    used: AtomicU32,
    /// vCPUs KVM made but that could not be set up, kept open as long as these slots (KVM
    /// keeps their indices taken; it destroys a vCPU with its VM, not with its fd).
    spoiled: Mutex<Vec<VcpuFd>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl VcpusAhead {
    /// Room for vCPUs 1 to `count` (at most [`MAX_VCPUS_AHEAD`]).
    pub(crate) fn new(count: u32) -> VcpusAhead {
        let count = count.min(MAX_VCPUS_AHEAD) as usize;
        VcpusAhead {
            slots: Mutex::new((0..count).map(|_| Slot::Open).collect()),
            changed: Condvar::new(),
            made: AtomicU32::new(0),
            used: AtomicU32::new(0),
            spoiled: Mutex::new(Vec::new()),
        }
    }

    /// vCPU `index`, if it was made ahead: waits while the maker is making it; `None` when
    /// it was not (the caller makes it, and the maker will not).
    pub(crate) fn take(&self, index: u32) -> Option<VcpuFd> {
        let at = usize::try_from(index).ok()?.checked_sub(1)?;
        let mut slots = lock(&self.slots);
        loop {
            let slot = slots.get_mut(at)?;
            match std::mem::replace(slot, Slot::Taken) {
                Slot::Ready(vcpu) => {
                    self.used.fetch_add(1, Ordering::Relaxed);
                    return Some(vcpu);
                }
                Slot::Making => {
                    *slot = Slot::Making;
                    slots = self.changed.wait(slots).unwrap_or_else(PoisonError::into_inner);
                }
                Slot::Open | Slot::Taken => return None,
            }
        }
    }

    /// Claims slot `at` for the maker: true if it was open.
    fn claim(&self, at: usize) -> bool {
        let mut slots = lock(&self.slots);
        match slots.get_mut(at) {
            Some(slot @ Slot::Open) => {
                *slot = Slot::Making;
                true
            }
            _ => false,
        }
    }

    /// The maker is done with slot `at`: `vcpu` made, or not.
    fn settle(&self, at: usize, vcpu: Option<VcpuFd>) {
        if vcpu.is_some() {
            self.made.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(slot) = lock(&self.slots).get_mut(at) {
            *slot = vcpu.map_or(Slot::Taken, Slot::Ready);
        }
        self.changed.notify_all();
    }

    /// How many vCPUs were made ahead, and how many of them a start took.
    pub(crate) fn counts(&self) -> (u32, u32) {
        (self.made.load(Ordering::Relaxed), self.used.load(Ordering::Relaxed))
    }
}

/// Makes the vCPUs ahead, on a thread that has nothing more urgent to do (the image
/// thread, after the hot copies and the fresh frames).
pub struct VcpuMaker {
    vm: Arc<VmFd>,
    ahead: Arc<VcpusAhead>,
    template: mpsc::Receiver<VcpuTemplate>,
}

impl VcpuMaker {
    pub(crate) fn new(vm: Arc<VmFd>, ahead: Arc<VcpusAhead>, template: mpsc::Receiver<VcpuTemplate>) -> VcpuMaker {
        VcpuMaker { vm, ahead, template }
    }

    /// Makes each vCPU no start has claimed yet, once the boot vCPU's template is known (it
    /// returns at once if the VM never boots); returns how many it made.
    pub fn make(self) -> u32 {
        let Ok(template) = self.template.recv() else { return 0 };
        let count = lock(&self.ahead.slots).len();
        let mut made = 0;
        for at in 0..count {
            if !self.ahead.claim(at) {
                continue;
            }
            // `at + 1` is at most MAX_VCPUS_AHEAD.
            match make_vcpu(&self.vm, at as u32 + 1, &template.cpuid, template.lapic_in_kernel) {
                Ok(vcpu) => {
                    made += 1;
                    self.ahead.settle(at, Some(vcpu));
                }
                Err((_, spoiled)) => {
                    // The vCPU's start makes it itself and reports what fails (KVM_CREATE_VCPU
                    // itself, for an index a failed set-up here left taken); no more are made
                    // ahead.
                    lock(&self.ahead.spoiled).extend(spoiled);
                    self.ahead.settle(at, None);
                    break;
                }
            }
        }
        made
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_finds_its_slot_open_once_and_then_claimed() {
        let ahead = VcpusAhead::new(2);
        assert!(ahead.take(0).is_none(), "the boot vCPU is never made ahead");
        assert!(ahead.take(3).is_none(), "past the slots");
        assert!(ahead.take(1).is_none(), "open: the start makes it");
        assert!(!ahead.claim(0), "and the maker then leaves it");
        assert!(ahead.claim(1));
        assert!(!ahead.claim(1), "claimed once");
        ahead.settle(1, None);
        assert!(ahead.take(2).is_none(), "given up: the start makes it");
        assert_eq!(ahead.counts(), (0, 0));
    }

    #[test]
    fn a_start_waits_while_its_vcpu_is_being_made() {
        let ahead = Arc::new(VcpusAhead::new(1));
        assert!(ahead.claim(0));
        let waiter = {
            let ahead = Arc::clone(&ahead);
            std::thread::spawn(move || ahead.take(1).is_none())
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!waiter.is_finished(), "it waits for the maker");
        ahead.settle(0, None);
        assert!(waiter.join().expect("the start ran"), "nothing made: the start makes it");
    }

    #[test]
    fn no_more_than_the_most_are_made() {
        assert_eq!(lock(&VcpusAhead::new(64).slots).len(), MAX_VCPUS_AHEAD as usize);
    }
}
