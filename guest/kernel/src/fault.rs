//! What happens when the app (or, by a bug, the kernel) takes a CPU exception: the ring-0
//! stub has recorded it in the per-vCPU area and sent the vCPU here, on the fault stack.
//! A page fault in a mapping is filled in and the app resumes. Anything else becomes the
//! signal Linux sends for it, with Linux's `siginfo` (si_code, si_addr), forced on the app's
//! thread: its handler runs if it has one that is neither blocked nor ignored; otherwise the
//! app ends with 128 + signal (see `signal::deliver::force`).

use crate::arch::frame::FxArea;
use crate::mm::space::{Access, FaultOutcome};
use crate::signal::{si, LastTrap, Origin, SigInfo, Signal};

/// CPU exception vectors.
mod vector {
    pub const DIVIDE: u64 = 0;
    pub const DEBUG: u64 = 1;
    pub const BREAKPOINT: u64 = 3;
    pub const OVERFLOW: u64 = 4;
    pub const BOUND: u64 = 5;
    pub const INVALID_OPCODE: u64 = 6;
    pub const COPROCESSOR_SEGMENT: u64 = 9;
    pub const SEGMENT_NOT_PRESENT: u64 = 11;
    pub const STACK_SEGMENT: u64 = 12;
    pub const GENERAL_PROTECTION: u64 = 13;
    pub const PAGE_FAULT: u64 = 14;
    pub const X87: u64 = 16;
    pub const ALIGNMENT: u64 = 17;
    pub const SIMD: u64 = 19;
}

/// Page-fault error code bits.
const PF_PROT: u64 = 0x1;
const PF_USER: u64 = 0x4;

/// The signal Linux sends for an exception that is not a resolvable page fault.
pub fn signal_for(vector: u64) -> Signal {
    match vector {
        vector::DIVIDE | vector::X87 | vector::SIMD | vector::COPROCESSOR_SEGMENT => Signal::SIGFPE,
        vector::DEBUG | vector::BREAKPOINT => Signal::SIGTRAP,
        vector::INVALID_OPCODE => Signal::SIGILL,
        vector::ALIGNMENT | vector::STACK_SEGMENT | vector::SEGMENT_NOT_PRESENT => Signal::SIGBUS,
        vector::OVERFLOW | vector::BOUND | vector::GENERAL_PROTECTION | vector::PAGE_FAULT => Signal::SIGSEGV,
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

/// si_code of a floating-point exception (Linux's fpu__exception_code), from the FP state
/// the fault entry saved: the x87 status and control words for #MF, MXCSR for #XM.
pub fn fpe_code(vector: u64, fx: &FxArea) -> i32 {
    let b = &fx.0;
    let err = if vector == vector::X87 {
        let cwd = u16::from_le_bytes([b[0], b[1]]);
        let swd = u16::from_le_bytes([b[2], b[3]]);
        swd & !cwd
    } else {
        let mxcsr = u16::from_le_bytes([b[24], b[25]]);
        !(mxcsr >> 7) & mxcsr
    };
    if err & 0x001 != 0 {
        si::FPE_FLTINV
    } else if err & 0x004 != 0 {
        si::FPE_FLTDIV
    } else if err & 0x008 != 0 {
        si::FPE_FLTOVF
    } else if err & 0x012 != 0 {
        si::FPE_FLTUND
    } else if err & 0x020 != 0 {
        si::FPE_FLTRES
    } else {
        0
    }
}

/// The signal for exception `vector` (error code `error`, CR2 `cr2`) at `rip`, as Linux sends
/// it; `page` is the address space's answer for a page fault.
pub fn fault_info(vector: u64, error: u64, cr2: u64, rip: u64, page: Option<FaultOutcome>, fx: &FxArea) -> SigInfo {
    let sig = signal_for(vector) as u32;
    let origin = |address: u64| Origin { address, vector: vector as u32, error: error as u32 };
    match vector {
        vector::DIVIDE => SigInfo::fault(sig, si::FPE_INTDIV, rip, origin(rip)),
        vector::DEBUG => SigInfo::fault(sig, si::TRAP_TRACE, rip, origin(rip)),
        vector::INVALID_OPCODE => SigInfo::fault(sig, si::ILL_ILLOPN, rip, origin(rip)),
        vector::X87 | vector::SIMD => SigInfo::fault(sig, fpe_code(vector, fx), rip, origin(rip)),
        vector::ALIGNMENT => SigInfo::fault(sig, si::BUS_ADRALN, 0, origin(0)),
        // Past the end of a mapped file, or no space left for its page: SIGBUS, as on Linux.
        vector::PAGE_FAULT if page == Some(FaultOutcome::BusError) => {
            SigInfo::fault(Signal::SIGBUS as u32, si::BUS_ADRERR, cr2, origin(cr2))
        }
        vector::PAGE_FAULT => {
            let code = if page == Some(FaultOutcome::AccessDenied) { si::SEGV_ACCERR } else { si::SEGV_MAPERR };
            SigInfo::fault(sig, code, cr2, origin(cr2))
        }
        // int3, #GP, #SS, ...: SI_KERNEL without an address (a report still names the rip).
        vector::BREAKPOINT => SigInfo::kernel(sig, origin(rip)),
        _ => SigInfo::kernel(sig, origin(0)),
    }
}

/// What sigcontext reports as the last trap after exception `vector` (Linux's thread.trap_nr,
/// error_code and cr2; a page fault's error code always has the user bit).
pub fn last_trap(vector: u64, error: u64, cr2: u64, previous: LastTrap) -> LastTrap {
    if vector == vector::PAGE_FAULT {
        let prot = if cr2 >= uvm_abi::layout::USER_END_VA { PF_PROT } else { 0 };
        LastTrap { trapno: vector, error: error | PF_USER | prot, cr2 }
    } else {
        LastTrap { trapno: vector, error, cr2: previous.cr2 }
    }
}

/// The fault entry's Rust half (called from `arch::entry`).
#[cfg(not(test))]
pub extern "C" fn fault_handler(frame: &mut crate::arch::frame::TrapFrame) {
    use crate::process::PROCESS;
    use uvm_abi::hypercall::{Fatal, FatalReason};
    use uvm_abi::layout::{KERNEL_BASE, KERNEL_END};

    let pc = crate::arch::percpu::current();
    let (vector, error, cr2) = (pc.fault_vector, pc.fault_error, pc.fault_cr2);
    let in_kernel_code = (KERNEL_BASE..KERNEL_END).contains(&frame.rip) && !crate::arch::vdso::contains(frame.rip);
    if in_kernel_code || pc.in_fault != 0 {
        crate::panic::kernel_fault(vector, error, cr2, frame.rip, frame.rsp);
    }
    pc.in_fault = 1;
    let mut guard = PROCESS.lock();
    let Some(process) = guard.as_mut() else {
        crate::panic::kernel_fault(vector, error, cr2, frame.rip, frame.rsp);
    };
    process.switch_to(pc.cpu_index as u32);
    if vector == uvm_abi::percpu::INTERRUPT_VECTOR {
        // The VMM interrupted the app for a signal another thread sent this one, or for the
        // process's timer (`syscall::itimer`).
        if crate::syscall::itimer::any(process) {
            crate::syscall::itimer::on_interrupt(process);
        }
        crate::signal::deliver_to_app(process, frame);
        process.space.flush_now();
        pc.in_fault = 0;
        return;
    }
    let mut page = None;
    if vector == vector::PAGE_FAULT {
        let outcome = process.space.handle_fault(cr2, access_of(error));
        match outcome {
            FaultOutcome::Resolved => {
                pc.in_fault = 0;
                return;
            }
            // Out of memory in another process than the app: that process is killed, as
            // by Linux's OOM killer; the app's own end reports the reason.
            FaultOutcome::OutOfMemory if process.pid != crate::process::INIT_PID => {
                crate::signal::kill_with(process, Signal::SIGKILL, cr2, frame.rip, vector as u32, error as u32)
            }
            FaultOutcome::OutOfMemory => crate::hypercall::fatal({
                crate::fs::hostfs::write_back_all();
                Fatal {
                    reason: FatalReason::OutOfMemory as u32,
                    signal: Signal::SIGKILL as u32,
                    fault_address: cr2,
                    instruction_pointer: frame.rip,
                    vector: vector as u32,
                    error_code: error as u32,
                }
            }),
            FaultOutcome::NoMapping | FaultOutcome::AccessDenied | FaultOutcome::BusError => page = Some(outcome),
        }
    }
    let info = fault_info(vector, error, cr2, frame.rip, page, &frame.fx);
    let t = &mut process.thread.signals;
    t.last_trap = last_trap(vector, error, cr2, t.last_trap);
    crate::signal::deliver::force(&mut process.signals, &mut process.thread.signals, info);
    crate::signal::deliver_to_app(process, frame);
    process.space.flush_now();
    pc.in_fault = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::SigFields;

    #[test]
    fn exceptions_map_to_linux_signals() {
        assert_eq!(signal_for(0), Signal::SIGFPE);
        assert_eq!(signal_for(6), Signal::SIGILL);
        assert_eq!(signal_for(12), Signal::SIGBUS);
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

    fn fx() -> FxArea {
        FxArea::INITIAL
    }

    #[test]
    fn siginfo_of_faults() {
        let i = fault_info(14, 6, 0x10, 0x40_1000, Some(FaultOutcome::NoMapping), &fx());
        assert_eq!((i.signo, i.code, i.fields), (11, si::SEGV_MAPERR, SigFields::Fault { addr: 0x10 }));
        let i = fault_info(14, 7, 0x60_0000, 0x40_1000, Some(FaultOutcome::AccessDenied), &fx());
        assert_eq!((i.signo, i.code, i.fields), (11, si::SEGV_ACCERR, SigFields::Fault { addr: 0x60_0000 }));
        let i = fault_info(0, 0, 0, 0x40_1234, None, &fx());
        assert_eq!((i.signo, i.code, i.fields), (8, si::FPE_INTDIV, SigFields::Fault { addr: 0x40_1234 }));
        let i = fault_info(6, 0, 0, 0x40_1234, None, &fx());
        assert_eq!((i.signo, i.code, i.fields), (4, si::ILL_ILLOPN, SigFields::Fault { addr: 0x40_1234 }));
        let i = fault_info(17, 0, 0, 0x40_1234, None, &fx());
        assert_eq!((i.signo, i.code, i.fields), (7, si::BUS_ADRALN, SigFields::Fault { addr: 0 }));
        let i = fault_info(13, 0, 0, 0x40_1234, None, &fx());
        assert_eq!((i.signo, i.code, i.fields), (11, si::KERNEL, SigFields::None));
        let i = fault_info(3, 0, 0, 0x40_1234, None, &fx());
        assert_eq!((i.signo, i.code), (5, si::KERNEL));
        assert_eq!(i.origin.map(|o| o.address), Some(0x40_1234), "reported at the instruction");
    }

    #[test]
    fn floating_point_codes() {
        let mut f = fx();
        // MXCSR with ZE set and divide-by-zero unmasked (bit 9 clear).
        let mxcsr: u16 = (0x1f80 & !0x200) | 0x4;
        f.0[24..26].copy_from_slice(&mxcsr.to_le_bytes());
        assert_eq!(fpe_code(19, &f), si::FPE_FLTDIV);
        // x87: invalid operation unmasked and raised.
        let mut f = fx();
        f.0[0..2].copy_from_slice(&(0x37fu16 & !1).to_le_bytes());
        f.0[2..4].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(fpe_code(16, &f), si::FPE_FLTINV);
        assert_eq!(fpe_code(19, &fx()), 0, "nothing raised");
    }

    #[test]
    fn last_trap_is_recorded_like_linux() {
        let t = last_trap(14, 6, 0x10, LastTrap::default());
        assert_eq!(t, LastTrap { trapno: 14, error: 6, cr2: 0x10 });
        let t = last_trap(14, 2, 0x10, LastTrap::default());
        assert_eq!(t.error, 6, "the user bit");
        let t = last_trap(13, 0, 0, LastTrap { trapno: 14, error: 6, cr2: 0x10 });
        assert_eq!(t, LastTrap { trapno: 13, error: 0, cr2: 0x10 }, "cr2 stays");
    }
}
