//! What happens when the app (or, by a bug, the kernel) takes a CPU exception: the ring-0
//! stub has recorded it in the per-vCPU area and sent the vCPU here, on the fault stack.
//! A page fault in a mapping is filled in and the app resumes; anything else ends the app
//! with the signal Linux would send (delivery to the app's own handlers comes with signals).

use crate::mm::space::Access;
use crate::signal::Signal;

/// CPU exception vectors.
mod vector {
    pub const DIVIDE: u64 = 0;
    pub const DEBUG: u64 = 1;
    pub const BREAKPOINT: u64 = 3;
    pub const OVERFLOW: u64 = 4;
    pub const BOUND: u64 = 5;
    pub const INVALID_OPCODE: u64 = 6;
    pub const STACK_SEGMENT: u64 = 12;
    pub const GENERAL_PROTECTION: u64 = 13;
    pub const PAGE_FAULT: u64 = 14;
    pub const X87: u64 = 16;
    pub const ALIGNMENT: u64 = 17;
    pub const SIMD: u64 = 19;
}

/// The signal Linux sends for an exception that is not a resolvable page fault.
pub fn signal_for(vector: u64) -> Signal {
    match vector {
        vector::DIVIDE | vector::X87 | vector::SIMD => Signal::SIGFPE,
        vector::DEBUG | vector::BREAKPOINT => Signal::SIGTRAP,
        vector::INVALID_OPCODE => Signal::SIGILL,
        vector::ALIGNMENT => Signal::SIGBUS,
        vector::OVERFLOW | vector::BOUND | vector::STACK_SEGMENT | vector::GENERAL_PROTECTION | vector::PAGE_FAULT => {
            Signal::SIGSEGV
        }
        _ => Signal::SIGSEGV,
    }
}

/// What a page fault's error code says the access was.
pub fn access_of(error_code: u64) -> Access {
    if error_code & 0x10 != 0 {
        Access::Exec
    } else if error_code & 0x2 != 0 {
        Access::Write
    } else {
        Access::Read
    }
}

/// The fault entry's Rust half (called from `arch::entry`).
#[cfg(not(test))]
pub extern "C" fn fault_handler(frame: &mut crate::arch::frame::TrapFrame) {
    use crate::mm::space::FaultOutcome;
    use crate::process::PROCESS;
    use uvm_abi::hypercall::{Fatal, FatalReason};
    use uvm_abi::layout::{KERNEL_BASE, KERNEL_END};

    let pc = crate::arch::percpu::current();
    let (vector, error, cr2) = (pc.fault_vector, pc.fault_error, pc.fault_cr2);
    if (KERNEL_BASE..KERNEL_END).contains(&frame.rip) || pc.in_fault != 0 {
        crate::panic::kernel_fault(vector, error, cr2, frame.rip, frame.rsp);
    }
    pc.in_fault = 1;
    let mut guard = PROCESS.lock();
    let Some(process) = guard.as_mut() else {
        crate::panic::kernel_fault(vector, error, cr2, frame.rip, frame.rsp);
    };
    if vector == vector::PAGE_FAULT {
        match process.space.handle_fault(cr2, access_of(error)) {
            FaultOutcome::Resolved => {
                pc.in_fault = 0;
                return;
            }
            FaultOutcome::OutOfMemory => crate::hypercall::fatal(Fatal {
                reason: FatalReason::OutOfMemory as u32,
                signal: Signal::SIGKILL as u32,
                fault_address: cr2,
                instruction_pointer: frame.rip,
                vector: vector as u32,
                error_code: error as u32,
            }),
            FaultOutcome::NoMapping | FaultOutcome::AccessDenied => {}
        }
    }
    let sig = signal_for(vector);
    let address = match sig {
        Signal::SIGSEGV | Signal::SIGBUS if vector == vector::PAGE_FAULT => cr2,
        Signal::SIGILL | Signal::SIGFPE | Signal::SIGTRAP => frame.rip,
        _ => 0,
    };
    crate::signal::kill_with(sig, address, frame.rip, vector as u32, error as u32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceptions_map_to_linux_signals() {
        assert_eq!(signal_for(0), Signal::SIGFPE);
        assert_eq!(signal_for(6), Signal::SIGILL);
        assert_eq!(signal_for(13), Signal::SIGSEGV);
        assert_eq!(signal_for(14), Signal::SIGSEGV);
        assert_eq!(signal_for(17), Signal::SIGBUS);
        assert_eq!(signal_for(3), Signal::SIGTRAP);
    }

    #[test]
    fn page_fault_error_codes() {
        assert_eq!(access_of(0x4), Access::Read);
        assert_eq!(access_of(0x6), Access::Write);
        assert_eq!(access_of(0x15), Access::Exec);
    }
}
