//! Interrupting a vCPU that runs app code, for a signal another thread sent its thread (the
//! Interrupt hypercall): the VMM does what the guest's ring-0 exception stub does for an
//! exception, without any ring-0 code running. It records the interrupt vector and the
//! interrupted rip/cs/rflags/rsp in the vCPU's per-CPU area (its GS base) and resumes the
//! vCPU at the area's fault entry, on its fault stack; the guest kernel delivers the signal
//! there and returns to the app through its one return path. Signals from outside the VM
//! (`stop`) are left in the boot vCPU's area before every vCPU is interrupted.

use kvm_ioctls::VcpuFd;
use uvm_abi::layout::{DIRECT_MAP_VA, IMAGE_GPA, KERNEL_BASE, KERNEL_END};
use uvm_abi::percpu;

use crate::error::VmError;
use crate::memory::GuestMemory;

/// The guest-physical address of the per-CPU area at guest-virtual `va`: the boot vCPU's sits
/// in the kernel image (identity-mapped), the others in the kernel heap (the direct map).
fn area_gpa(va: u64) -> Option<u64> {
    if (KERNEL_BASE..KERNEL_END).contains(&va) {
        Some(va)
    } else if (DIRECT_MAP_VA..DIRECT_MAP_VA + IMAGE_GPA).contains(&va) {
        Some(va - DIRECT_MAP_VA)
    } else {
        None
    }
}

/// Sends the vCPU to the guest's interrupt entry if it is in app code: `Ok(true)` when done,
/// `Ok(false)` when it runs guest kernel code or has an exception still to be delivered (try
/// again later). An error when its per-CPU
/// area is not in guest RAM (a broken guest).
pub fn enter_interrupt(vcpu: &VcpuFd, memory: &GuestMemory) -> Result<bool, VmError> {
    let kvm = |what| move |source| VmError::Kvm { what, source };
    let mut regs = vcpu.get_regs().map_err(kvm("KVM_GET_REGS"))?;
    if (KERNEL_BASE..KERNEL_END).contains(&regs.rip) {
        return Ok(false);
    }
    // An event KVM has yet to deliver (the app's page fault, say, kicked out between the fault
    // and its delivery) would be delivered at the rip we set, and recorded as a fault of the
    // kernel's fault entry. Let it go first: its handler delivers signals on the way back.
    let events = vcpu.get_vcpu_events().map_err(kvm("KVM_GET_VCPU_EVENTS"))?;
    if events.exception.injected != 0
        || events.exception.pending != 0
        || events.interrupt.injected != 0
        || events.nmi.injected != 0
    {
        return Ok(false);
    }
    let sregs = vcpu.get_sregs().map_err(kvm("KVM_GET_SREGS"))?;
    let broken = |what: &str| VmError::GuestFault {
        reason: format!("cannot interrupt the vCPU: {what} (GS base {:#x})", sregs.gs.base),
        registers: String::new(),
    };
    let area = area_gpa(sregs.gs.base).ok_or_else(|| broken("its per-CPU area is not kernel memory"))?;
    let read = |offset: u64| memory.read_u64(area + offset).ok_or_else(|| broken("its per-CPU area is not in RAM"));
    let entry = read(percpu::FAULT_ENTRY)?;
    let stack_top = read(percpu::FAULT_STACK_TOP)?;
    for (offset, value) in [
        (percpu::FAULT_VECTOR, percpu::INTERRUPT_VECTOR),
        (percpu::FAULT_ERROR, 0),
        (percpu::FAULT_RIP, regs.rip),
        (percpu::FAULT_CS, u64::from(sregs.cs.selector)),
        (percpu::FAULT_RFLAGS, regs.rflags),
        (percpu::FAULT_RSP, regs.rsp),
    ] {
        memory.write_u64(area + offset, value).ok_or_else(|| broken("its per-CPU area is not in RAM"))?;
    }
    regs.rip = entry;
    regs.rsp = stack_top;
    regs.rflags &= !percpu::ENTRY_RFLAGS_CLEAR;
    vcpu.set_regs(&regs).map_err(kvm("KVM_SET_REGS"))?;
    Ok(true)
}

/// Hands the signals from outside in `mask` (bit `sig - 1`) to the guest: ORs them into the
/// boot vCPU's per-CPU area, which `vcpu` (the boot vCPU) has as its GS base. `Ok(false)`
/// when the guest kernel has not set its per-CPU area up yet (keep them for later).
pub fn post_outside_signals(vcpu: &VcpuFd, memory: &GuestMemory, mask: u64) -> Result<bool, VmError> {
    let sregs = vcpu.get_sregs().map_err(|source| VmError::Kvm { what: "KVM_GET_SREGS", source })?;
    let Some(word) = area_gpa(sregs.gs.base).and_then(|area| memory.atomic_u64(area + percpu::OUTSIDE_SIGNALS)) else {
        return Ok(false);
    };
    word.fetch_or(mask, std::sync::atomic::Ordering::SeqCst);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_cpu_areas_are_found_where_the_kernel_keeps_them() {
        assert_eq!(area_gpa(KERNEL_BASE + 0x1040), Some(KERNEL_BASE + 0x1040), "the boot vCPU's, in the image");
        assert_eq!(area_gpa(DIRECT_MAP_VA + 0x80_0000), Some(0x80_0000), "from the kernel heap");
        assert_eq!(area_gpa(0x40_0000 + KERNEL_END), None, "app memory");
        assert_eq!(area_gpa(0), None);
    }
}
