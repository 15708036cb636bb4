//! Sending, forcing, delivering and returning from signals, as Linux does it
//! (`kernel/signal.c`, `arch/x86/kernel/signal*.c`), over any [`UserMemory`] so that the
//! logic runs in host unit tests with a fake memory.
//!
//! - [`send`]: kill/tkill/tgkill. A signal whose action is to ignore it is dropped unless
//!   blocked; a standard signal already pending is not queued twice.
//! - [`force`]: faults and kernel-made SIGSEGV. Blocked or ignored, it is unblocked and reset
//!   to its default, so it kills (an app cannot ignore its own crash).
//! - [`deliver_pending`]: on every way back to the app. Each pending, unblocked signal is
//!   dropped, kills the app, or gets a frame on the app's stack and runs its handler (handlers
//!   nest: the last one set up runs first, as on Linux). A frame that cannot be written
//!   (bad stack, no SA_RESTORER) forces SIGSEGV instead, which kills if that was SIGSEGV's own
//!   frame (Linux's force_sigsegv): a SIGSEGV handler on an alternate stack still catches a
//!   stack overflow met while delivering another signal.
//! - [`sigreturn`]: restores what the frame saved; a bad frame is an `Err` the caller turns
//!   into a forced SIGSEGV.
//!
//! The FP state in a frame is the XSAVE image of the interrupted code's registers (see
//! `frame`): the legacy x87/SSE part from `TrapFrame::fx`, the rest (AVX, AVX-512, opmask,
//! PKRU) `xsave64`d from the live registers, where the kernel's legacy-SSE code leaves it.
//! Like Linux (fpu__clear_user_states), the handler then starts with every extended component
//! in its init state (YMM/ZMM upper halves, opmask, ZMM16-31 zero) except PKRU, which is left
//! as it is (Linux sets its default value instead; uvm does not manage protection keys).
//! rt_sigreturn `xrstor64`s the extended components of a valid XSAVE image, or puts them in
//! their init state for a legacy image or a NULL fpstate (as Linux does for an fx-only frame).

use super::frame::{
    self, FrameInputs, SavedContext, FPSTATE_SIZE, FP_XSTATE_MAGIC2, SIGINFO_OFFSET, UCONTEXT_OFFSET, UCONTEXT_SIZE,
};
use super::{
    action_of, bit, sa, Action, AltStack, Death, Origin, SigAction, SigInfo, Signal, SignalState, ThreadSignals,
    SIG_DFL, SIG_IGN,
};
use crate::arch::frame::{FxArea, TrapFrame};
use crate::arch::xstate::{self, XsaveBuf};
use crate::errno::Errno;
use crate::mm::space::AddressSpace;

/// The app's memory as signal delivery needs it: checked copies in and out.
pub trait UserMemory {
    /// Copies `out.len()` bytes from the app at `addr`. EFAULT if unreadable.
    fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<(), Errno>;
    /// Copies `bytes` to the app at `addr`. EFAULT if unwritable.
    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno>;
}

impl UserMemory for AddressSpace {
    fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<(), Errno> {
        out.copy_from_slice(crate::user::read(self, addr, out.len() as u64)?);
        Ok(())
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
        crate::user::copy_out(self, addr, bytes)
    }
}

/// Who a signal is sent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The process (kill): any thread not blocking it takes it.
    Process,
    /// One thread (tkill, tgkill, faults).
    Thread,
}

/// Whether `sig`'s disposition ignores it (Linux's sig_handler_ignored).
pub fn ignores(action: &SigAction, sig: u32) -> bool {
    action_of(sig, action) == Action::Ignore
}

/// Whether the process `shared` belongs to drops `sig` when it is not blocked: it ignores it,
/// or it is a stop signal and the process is the VM's init.
fn drops(shared: &SignalState, sig: u32) -> bool {
    match action_of(sig, &shared.action(sig)) {
        Action::Ignore => true,
        Action::Stop => shared.init,
        Action::Terminate | Action::Handler => false,
    }
}

/// Sends `info` (Linux's send_signal): dropped if ignored and not blocked, or if a standard
/// signal of its number is already pending there.
pub fn send(shared: &mut SignalState, thread: &mut ThreadSignals, target: Target, info: SigInfo) {
    let sig = info.signo;
    if bit(sig) == 0 || (drops(shared, sig) && thread.blocked & bit(sig) == 0) {
        return;
    }
    let queued = match target {
        Target::Process => shared.pending.push(info),
        Target::Thread => thread.pending.push(info),
    };
    if queued {
        super::note_queued();
    }
}

/// Sends `info` so that it cannot be blocked or ignored away (Linux's force_sig_info): if it
/// is, the disposition goes back to the default and the signal is unblocked.
pub fn force(shared: &mut SignalState, thread: &mut ThreadSignals, info: SigInfo) {
    let sig = info.signo;
    let index = (sig as usize).wrapping_sub(1);
    let Some(action) = shared.actions.get_mut(index) else { return };
    let blocked = thread.blocked & bit(sig) != 0;
    if blocked || action.handler == SIG_IGN {
        action.handler = SIG_DFL;
        thread.blocked &= !bit(sig);
    }
    send(shared, thread, Target::Thread, info);
}

/// Whether delivery has anything to do: a pending, unblocked signal, a mask to restore, the
/// thread's end (another thread's execve) or its process's stop (another thread's).
pub fn has_work(shared: &SignalState, thread: &ThreadSignals) -> bool {
    (shared.pending.mask() | thread.pending.mask()) & !thread.blocked != 0
        || thread.saved_mask.is_some()
        || thread.ending
        || thread.stopping
}

/// Whether a pending signal among `allowed` would run a handler or kill when delivered,
/// rather than be dropped. (A stop signal does neither: a wait stops in place for it,
/// `crate::job`, and goes on after the SIGCONT.)
pub fn has_effective(shared: &SignalState, thread: &ThreadSignals, allowed: u64) -> bool {
    let pending = (shared.pending.mask() | thread.pending.mask()) & allowed;
    (1..=super::NSIG as u32).any(|sig| {
        pending & bit(sig) != 0 && matches!(action_of(sig, &shared.action(sig)), Action::Terminate | Action::Handler)
    })
}

/// Takes the next signal among `allowed`: the thread's own first (synchronous ones first),
/// then the process's.
pub fn dequeue(shared: &mut SignalState, thread: &mut ThreadSignals, allowed: u64) -> Option<SigInfo> {
    if let Some(sig) = thread.pending.next(allowed) {
        return thread.pending.take(sig);
    }
    let sig = shared.pending.next(allowed)?;
    shared.pending.take(sig)
}

/// Delivers every pending, unblocked signal to the thread whose registers are `regs`,
/// showing each one to `observe` first. `Err`: the app dies.
pub fn deliver_pending<M: UserMemory>(
    shared: &mut SignalState,
    thread: &mut ThreadSignals,
    mem: &mut M,
    regs: &mut TrapFrame,
    observe: &mut dyn FnMut(&SigInfo),
) -> Result<(), Death> {
    // Every round takes one queued signal (a failed frame queues at most one SIGSEGV, whose
    // own failure is fatal), so this ends.
    while let Some(info) = dequeue(shared, thread, !thread.blocked) {
        observe(&info);
        let sig = info.signo;
        let action = shared.action(sig);
        match action_of(sig, &action) {
            // `crate::job::stop_if_asked` takes the stop signals before this runs; one left
            // is the init's, which ignores it.
            Action::Ignore | Action::Stop => {}
            Action::Terminate => return Err(Death::of(&info, regs.rip)),
            Action::Handler => {
                restart_if_asked(regs, &action);
                if action.flags & sa::RESETHAND != 0 {
                    if let Some(a) = shared.actions.get_mut(sig as usize - 1) {
                        a.handler = SIG_DFL;
                    }
                }
                let mask = thread.saved_mask.unwrap_or(thread.blocked);
                match setup_frame(thread, mem, regs, &info, &action, mask) {
                    Ok(()) => {
                        thread.saved_mask = None;
                        let mut blocked = thread.blocked | action.mask;
                        if action.flags & sa::NODEFER == 0 {
                            blocked |= bit(sig);
                        }
                        thread.set_blocked(blocked);
                        if thread.alt_stack.flags & super::ss::AUTODISARM != 0 {
                            thread.alt_stack = AltStack::DISABLED;
                        }
                    }
                    Err(address) => {
                        let origin = Origin { address, vector: 14, error: 6 };
                        if sig == Signal::SIGSEGV as u32 {
                            let origin = info.origin.unwrap_or(origin);
                            return Err(Death::of(&SigInfo::kernel(sig, origin), regs.rip));
                        }
                        force(shared, thread, SigInfo::kernel(Signal::SIGSEGV as u32, origin));
                    }
                }
            }
        }
    }
    if let Some(mask) = thread.saved_mask.take() {
        thread.set_blocked(mask);
    }
    Ok(())
}

/// Linux's ERESTARTSYS: when a signal interrupted a syscall (EINTR) that Linux makes again
/// after a handler installed with SA_RESTART, the frame goes back to the `syscall`
/// instruction with the number in %rax, so the handler's return makes the call again. Calls
/// Linux never restarts once a handler ran (poll, select, epoll waits, sleeps, sigsuspend,
/// pause, waits with a timeout) keep their EINTR.
fn restart_if_asked(regs: &mut TrapFrame, action: &SigAction) {
    let interrupted = regs.nr != u64::MAX && regs.rax == (-(Errno::EINTR.code() as i64)) as u64;
    if interrupted && action.flags & sa::RESTART != 0 && restarts(regs.nr, &regs.syscall_args()) {
        regs.rax = regs.nr;
        regs.rip = regs.rip.wrapping_sub(2);
    }
}

/// Whether Linux makes syscall `nr` (with `args`) again after a SA_RESTART handler: the calls
/// that return ERESTARTSYS when a signal interrupts them.
fn restarts(nr: u64, args: &[u64; 6]) -> bool {
    const FUTEX_WAIT: u64 = 0;
    const FUTEX_WAIT_BITSET: u64 = 9;
    const F_SETLKW: u64 = 7;
    const F_OFD_SETLKW: u64 = 38;
    match nr {
        // read, write, open, ioctl, pread64, pwrite64, readv, writev, sendfile, connect,
        // accept, sendto, recvfrom, sendmsg, recvmsg, wait4, flock, waitid, openat, accept4,
        // preadv, pwritev, sendmmsg, preadv2, pwritev2
        0 | 1 | 2 | 16 | 17 | 18 | 19 | 20 | 40 | 42 | 43 | 44 | 45 | 46 | 47 | 61 | 73 | 247 | 257 | 288 | 295
        | 296 | 307 | 327 | 328 => true,
        // fcntl: the waiting lock commands.
        72 => matches!(args[1], F_SETLKW | F_OFD_SETLKW),
        // futex: a wait without a timeout (with one, Linux's restart block ends in EINTR).
        202 => matches!(args[1] & 0x7f, FUTEX_WAIT | FUTEX_WAIT_BITSET) && args[3] == 0,
        _ => false,
    }
}

/// Writes the frame of `info` for a handler and points `regs` at the handler. `Err`: the
/// address that could not be written (or the stack pointer, when the frame cannot be placed).
fn setup_frame<M: UserMemory>(
    thread: &ThreadSignals,
    mem: &mut M,
    regs: &mut TrapFrame,
    info: &SigInfo,
    action: &SigAction,
    mask: u64,
) -> Result<(), u64> {
    // x86-64 requires SA_RESTORER: without one, Linux refuses to build the frame (EFAULT,
    // hence SIGSEGV). A handler the CPU cannot jump to fails the same way here.
    if action.flags & sa::RESTORER == 0 || !frame::is_canonical(action.handler) {
        return Err(regs.rsp);
    }
    let cfg = xstate::config();
    let fp_size = frame::fp_size(cfg.as_ref());
    let at = frame::place(regs.rsp, action.flags & sa::ONSTACK != 0, &thread.alt_stack, fp_size).ok_or(regs.rsp)?;
    match &cfg {
        Some(cfg) => {
            let mut buf = XsaveBuf::zeroed();
            xstate::save(&mut buf, cfg.features);
            let len = frame::xstate_image(&mut buf.0, &regs.fx, cfg);
            mem.write(at.fpstate, &buf.0[..len]).map_err(|_| at.fpstate)?;
        }
        None => mem.write(at.fpstate, &frame::fpstate_image(&regs.fx)).map_err(|_| at.fpstate)?,
    }
    let inputs = FrameInputs {
        restorer: action.restorer,
        uc_stack: thread.alt_stack.saved(),
        mask,
        trap: thread.last_trap,
        fpstate: at.fpstate,
        xstate: cfg.is_some(),
    };
    mem.write(at.frame, &frame::encode(regs, &inputs)).map_err(|_| at.frame)?;
    if action.flags & sa::SIGINFO != 0 {
        let info_at = at.frame.wrapping_add(SIGINFO_OFFSET);
        mem.write(info_at, &info.to_bytes()).map_err(|_| info_at)?;
    }
    frame::enter_handler(regs, &at, info.signo, action.handler);
    if let Some(cfg) = &cfg {
        xstate::init(cfg.features & !xstate::PKRU);
    }
    Ok(())
}

/// What rt_sigreturn puts in the FP registers: the legacy state, and the XSAVE image for the
/// extended components (`None`: their init state).
struct FpRestore {
    fx: FxArea,
    xsave: Option<XsaveBuf>,
}

/// Reads and checks the FP state a frame points at. `Err`: unreadable or refused.
fn read_fpstate<M: UserMemory>(mem: &mut M, addr: u64, mxcsr_mask: u32) -> Result<FpRestore, ()> {
    if addr == 0 {
        return Ok(FpRestore { fx: FxArea::INITIAL, xsave: None });
    }
    let mut legacy = [0u8; FPSTATE_SIZE as usize];
    mem.read(addr, &mut legacy).map_err(|_| ())?;
    if let Some(cfg) = xstate::config() {
        if let Some(size) = frame::xstate_size_of(&legacy, &cfg) {
            let mut magic2 = [0u8; 4];
            mem.read(addr.wrapping_add(u64::from(size)), &mut magic2).map_err(|_| ())?;
            if u32::from_le_bytes(magic2) == FP_XSTATE_MAGIC2 {
                let mut buf = XsaveBuf::zeroed();
                let area = &mut buf.0[..cfg.size as usize];
                mem.read(addr, area).map_err(|_| ())?;
                let fx = frame::check_xstate(addr, area, &cfg, mxcsr_mask).ok_or(())?;
                return Ok(FpRestore { fx, xsave: Some(buf) });
            }
        }
    }
    let fx = frame::check_fpstate(addr, &legacy, mxcsr_mask).ok_or(())?;
    Ok(FpRestore { fx, xsave: None })
}

/// rt_sigreturn: restores the registers, FP state, blocked mask and alternate stack saved in
/// the frame below `regs.rsp`. Returns the restored rax (the syscall's "result"); `Err`: the
/// frame's address, when it is unreadable or invalid (the caller forces SIGSEGV, as Linux).
pub fn sigreturn<M: UserMemory>(thread: &mut ThreadSignals, mem: &mut M, regs: &mut TrapFrame) -> Result<u64, u64> {
    let at = regs.rsp.wrapping_sub(8);
    let mut u = [0u8; UCONTEXT_SIZE];
    mem.read(at.wrapping_add(UCONTEXT_OFFSET), &mut u).map_err(|_| at)?;
    let saved = SavedContext::decode(&u);
    thread.set_blocked(saved.mask);
    if !frame::is_canonical(saved.rip()) {
        return Err(at);
    }
    let fp = read_fpstate(mem, saved.fpstate, frame::mxcsr_mask_of(&regs.fx)).map_err(|_| at)?;
    saved.apply(regs);
    regs.fx = fp.fx;
    if let Some(cfg) = xstate::config() {
        match &fp.xsave {
            Some(buf) => xstate::restore(buf, cfg.features),
            None => xstate::init(cfg.features & !xstate::PKRU),
        }
    }
    // Linux's restore_altstack: errors other than EFAULT (e.g. EPERM while on the stack) are
    // ignored.
    let _ = thread.alt_stack.set(saved.uc_stack, saved.rsp());
    Ok(regs.rax)
}

#[cfg(test)]
mod tests {
    use super::super::{si, ss, StackT, UNBLOCKABLE};
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// App memory: one writable range.
    struct FakeMemory {
        base: u64,
        bytes: Vec<u8>,
    }

    impl FakeMemory {
        fn new(base: u64, len: usize) -> FakeMemory {
            FakeMemory { base, bytes: vec![0xcc; len] }
        }

        fn range(&self, addr: u64, len: usize) -> Result<core::ops::Range<usize>, Errno> {
            let start = addr.checked_sub(self.base).ok_or(Errno::EFAULT)? as usize;
            let end = start.checked_add(len).filter(|&e| e <= self.bytes.len()).ok_or(Errno::EFAULT)?;
            Ok(start..end)
        }

        fn u64_at(&self, addr: u64) -> u64 {
            let r = self.range(addr, 8).unwrap();
            super::super::le_u64(&self.bytes[r])
        }
    }

    impl UserMemory for FakeMemory {
        fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<(), Errno> {
            let r = self.range(addr, out.len())?;
            out.copy_from_slice(&self.bytes[r]);
            Ok(())
        }

        fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Errno> {
            let r = self.range(addr, bytes.len())?;
            self.bytes[r].copy_from_slice(bytes);
            Ok(())
        }
    }

    const STACK_BASE: u64 = 0x7fff_0000_0000;
    const STACK_LEN: usize = 0x10000;
    const SP: u64 = STACK_BASE + 0xf000;
    const HANDLER: u64 = 0x40_1000;
    const RESTORER: u64 = 0x40_2000;
    const USR1: u32 = 10;
    const USR2: u32 = 12;
    const SEGV: u32 = 11;

    struct World {
        shared: SignalState,
        thread: ThreadSignals,
        mem: FakeMemory,
        regs: TrapFrame,
    }

    impl World {
        fn new() -> World {
            let mut regs = TrapFrame::new_app(0x40_0100, SP, 0x2b, 0x23);
            regs.rax = 7;
            regs.rbx = 0xb0b;
            regs.r12 = 0x1212;
            regs.fx.0[200] = 0x77;
            World {
                shared: SignalState::new(),
                thread: ThreadSignals::new(),
                mem: FakeMemory::new(STACK_BASE, STACK_LEN),
                regs,
            }
        }

        fn handle(&mut self, sig: u32, flags: u64, mask: u64) {
            self.shared.actions[sig as usize - 1] =
                SigAction { handler: HANDLER + u64::from(sig), flags: flags | sa::RESTORER, restorer: RESTORER, mask };
        }

        fn kill(&mut self, sig: u32) {
            send(&mut self.shared, &mut self.thread, Target::Process, SigInfo::user(sig, si::USER, 1, 0));
        }

        fn deliver(&mut self) -> Result<(), Death> {
            deliver_pending(&mut self.shared, &mut self.thread, &mut self.mem, &mut self.regs, &mut |_| {})
        }

        /// What the handler's `ret` does, then the restorer's rt_sigreturn.
        fn handler_returns(&mut self) -> Result<u64, u64> {
            assert_eq!(self.mem.u64_at(self.regs.rsp), RESTORER, "the handler returns to the restorer");
            self.regs.rsp += 8;
            sigreturn(&mut self.thread, &mut self.mem, &mut self.regs)
        }
    }

    #[test]
    fn a_handler_runs_and_sigreturn_restores_everything() {
        let mut w = World::new();
        let before = w.regs;
        w.handle(USR1, sa::SIGINFO, bit(USR2));
        w.kill(USR1);
        w.deliver().unwrap();
        assert_eq!(w.regs.rip, HANDLER + 10);
        assert_eq!(w.regs.rdi, 10);
        assert_eq!(w.regs.rsp % 16, 8);
        assert!(w.regs.rsp + frame::FRAME_SIZE + 128 <= SP);
        assert_eq!(w.thread.blocked, bit(USR1) | bit(USR2), "the signal and sa_mask are blocked in the handler");
        let info = w.regs.rsi;
        assert_eq!(w.mem.u64_at(info) as u32, 10);
        assert_eq!(w.mem.u64_at(info + 8) as u32, 0, "SI_USER");
        assert_eq!(w.mem.u64_at(info + 16) as u32, 1, "si_pid");
        // The handler scribbles on registers.
        w.regs.rax = 99;
        w.regs.rbx = 0;
        w.regs.fx.0[200] = 0;
        assert_eq!(w.handler_returns(), Ok(7), "rt_sigreturn 'returns' the interrupted rax");
        assert_eq!(w.regs.rip, before.rip);
        assert_eq!(w.regs.rsp, before.rsp);
        assert_eq!((w.regs.rax, w.regs.rbx, w.regs.r12), (7, 0xb0b, 0x1212));
        assert_eq!(w.regs.fx.0[200], 0x77, "FP state comes back");
        assert_eq!(w.thread.blocked, 0);
    }

    #[test]
    fn extended_state_is_saved_reset_for_the_handler_and_restored() {
        use crate::arch::xstate::fake;
        let mut w = World::new();
        fake::set_ymm_hi([0x5a; fake::AVX_SIZE]);
        w.handle(USR1, sa::SIGINFO, 0);
        w.kill(USR1);
        w.deliver().unwrap();
        assert_eq!(fake::ymm_hi(), [0; fake::AVX_SIZE], "the handler starts with AVX in its init state");
        let uc = w.regs.rdx;
        assert_eq!(w.mem.u64_at(uc) & frame::UC_FP_XSTATE, frame::UC_FP_XSTATE);
        let fp = w.mem.u64_at(uc + 40 + frame::sc::FPSTATE as u64);
        assert_eq!(fp % 64, 0);
        assert_eq!(w.mem.u64_at(fp + frame::sw::MAGIC1 as u64) as u32, frame::FP_XSTATE_MAGIC1);
        assert_eq!(w.mem.u64_at(fp + 832) as u32, frame::FP_XSTATE_MAGIC2);
        assert_eq!(w.mem.u64_at(fp + 576), 0x5a5a_5a5a_5a5a_5a5a, "the interrupted YMM upper halves");
        fake::set_ymm_hi([0xff; fake::AVX_SIZE]); // the handler clobbers them
        w.handler_returns().unwrap();
        assert_eq!(fake::ymm_hi(), [0x5a; fake::AVX_SIZE], "rt_sigreturn puts them back");
        assert_eq!(w.regs.fx.0[200], 0x77);

        // A frame whose magic the handler wiped is a legacy one: AVX gets its init state.
        w.kill(USR1);
        w.deliver().unwrap();
        let fp = w.mem.u64_at(w.regs.rdx + 40 + frame::sc::FPSTATE as u64);
        let r = w.mem.range(fp + frame::sw::MAGIC1 as u64, 4).unwrap();
        w.mem.bytes[r].fill(0);
        fake::set_ymm_hi([0xff; fake::AVX_SIZE]);
        w.handler_returns().unwrap();
        assert_eq!(fake::ymm_hi(), [0; fake::AVX_SIZE]);
        assert_eq!(w.regs.fx.0[200], 0x77);

        // A header xrstor would fault on: SIGSEGV, nothing restored.
        w.kill(USR1);
        w.deliver().unwrap();
        let fp = w.mem.u64_at(w.regs.rdx + 40 + frame::sc::FPSTATE as u64);
        let r = w.mem.range(fp + frame::xh::XCOMP_BV as u64, 8).unwrap();
        w.mem.bytes[r].copy_from_slice(&(1u64 << 63).to_le_bytes());
        fake::set_ymm_hi([0xff; fake::AVX_SIZE]);
        assert!(w.handler_returns().is_err());
        assert_eq!(fake::ymm_hi(), [0xff; fake::AVX_SIZE]);
    }

    #[test]
    fn the_restarted_calls_are_the_ones_their_comment_names() {
        let named = [
            "read", "write", "open", "ioctl", "pread64", "pwrite64", "readv", "writev", "sendfile", "connect",
            "accept", "sendto", "recvfrom", "sendmsg", "recvmsg", "wait4", "flock", "waitid", "openat", "accept4",
            "preadv", "pwritev", "sendmmsg", "preadv2", "pwritev2",
        ];
        // Arguments that make neither fcntl (F_GETFD) nor futex (FUTEX_WAKE) a waiting call.
        let restarted: Vec<&str> = (0..512u64)
            .filter(|&nr| restarts(nr, &[0, 1, 0, 0, 0, 0]))
            .map(|nr| crate::syscall::names::linux_name(nr).unwrap_or("?"))
            .collect();
        assert_eq!(restarted, named);
        assert!(restarts(72, &[3, 7, 0, 0, 0, 0]) && !restarts(72, &[3, 4, 0, 0, 0, 0]), "fcntl F_SETLKW only");
        assert!(restarts(202, &[0, 0x80, 1, 0, 0, 0]), "FUTEX_WAIT_PRIVATE without a timeout");
        assert!(!restarts(202, &[0, 0x80, 1, 0x1000, 0, 0]), "with a timeout");
    }

    #[test]
    fn an_interrupted_read_restarts_after_a_sa_restart_handler_and_poll_does_not() {
        let eintr = (-(Errno::EINTR.code() as i64)) as u64;
        for (nr, flags, restarted) in [(0, sa::RESTART, true), (0, 0, false), (7, sa::RESTART, false)] {
            let mut w = World::new();
            w.regs.nr = nr; // read, then read without SA_RESTART, then poll
            w.regs.rax = eintr;
            let syscall_end = w.regs.rip;
            w.handle(USR1, flags, 0);
            w.kill(USR1);
            w.deliver().unwrap();
            // rt_sigreturn's result is the %rax the app resumes with.
            let rax = w.handler_returns().unwrap();
            if restarted {
                assert_eq!((w.regs.rip, rax), (syscall_end - 2, nr), "back on the `syscall`, number in %rax");
            } else {
                assert_eq!((w.regs.rip, rax), (syscall_end, eintr), "nr {nr} flags {flags:#x}: EINTR stays");
            }
        }
    }

    #[test]
    fn without_siginfo_the_info_area_is_left_alone() {
        let mut w = World::new();
        w.handle(USR1, 0, 0);
        w.kill(USR1);
        w.deliver().unwrap();
        assert_eq!(w.mem.u64_at(w.regs.rsi), 0xcccc_cccc_cccc_cccc);
    }

    #[test]
    fn the_handler_can_change_the_context_it_returns_to() {
        let mut w = World::new();
        w.handle(USR1, sa::SIGINFO, 0);
        w.kill(USR1);
        w.deliver().unwrap();
        let mcontext = w.regs.rdx + 40;
        let rip_at = mcontext + frame::sc::RIP as u64;
        let r = w.mem.range(rip_at, 8).unwrap();
        w.mem.bytes[r].copy_from_slice(&0x40_0200u64.to_le_bytes());
        let mask_at = w.regs.rdx + frame::uc::SIGMASK as u64;
        let r = w.mem.range(mask_at, 8).unwrap();
        w.mem.bytes[r].copy_from_slice(&(bit(USR2) | UNBLOCKABLE).to_le_bytes());
        w.handler_returns().unwrap();
        assert_eq!(w.regs.rip, 0x40_0200);
        assert_eq!(w.thread.blocked, bit(USR2), "SIGKILL/SIGSTOP cannot be blocked by a frame");
    }

    #[test]
    fn blocked_signals_wait_and_ignored_ones_are_dropped() {
        let mut w = World::new();
        w.handle(USR1, 0, 0);
        w.thread.blocked = bit(USR1);
        w.kill(USR1);
        w.kill(USR1);
        assert!(!has_work(&w.shared, &w.thread));
        w.deliver().unwrap();
        assert_eq!(w.regs.rip, 0x40_0100, "blocked: nothing runs");
        w.thread.blocked = 0;
        w.deliver().unwrap();
        assert_eq!(w.regs.rip, HANDLER + 10, "runs once unblocked");
        w.handler_returns().unwrap();
        w.deliver().unwrap();
        assert_eq!(w.regs.rip, 0x40_0100, "the second kill coalesced with the first");

        w.shared.actions[USR2 as usize - 1].handler = SIG_IGN;
        w.kill(USR2);
        assert_eq!(w.shared.pending.mask(), 0, "an ignored signal is not even queued");
        w.kill(17); // SIGCHLD, default ignore
        w.shared.init = true;
        w.kill(19); // SIGSTOP: the VM's init ignores it
        assert_eq!(w.shared.pending.mask(), 0, "not queued for the init");
        w.shared.init = false;
        w.kill(19);
        assert_eq!(w.shared.pending.mask(), bit(19), "another process's stop waits for `job`");
        w.deliver().unwrap();
        assert_eq!(w.regs.rip, 0x40_0100);
    }

    #[test]
    fn default_actions_kill() {
        let mut w = World::new();
        w.kill(6);
        let death = w.deliver().unwrap_err();
        assert_eq!((death.signal, death.vector, death.ip), (6, u32::MAX, 0x40_0100));
        let mut w = World::new();
        w.handle(9, 0, 0);
        w.kill(9);
        assert_eq!(w.deliver().unwrap_err().signal, 9);
    }

    #[test]
    fn nested_handlers_run_last_set_up_first() {
        let mut w = World::new();
        w.handle(USR1, 0, 0);
        w.handle(USR2, 0, 0);
        w.thread.blocked = bit(USR1) | bit(USR2);
        w.kill(USR2);
        w.kill(USR1);
        w.thread.blocked = 0;
        w.deliver().unwrap();
        // SIGUSR1 (lower) got its frame first, then SIGUSR2's went on top: USR2 runs first.
        assert_eq!(w.regs.rip, HANDLER + 12);
        assert_eq!(w.thread.blocked, bit(USR1) | bit(USR2));
        w.handler_returns().unwrap();
        assert_eq!(w.regs.rip, HANDLER + 10, "back into SIGUSR1's handler, at its start");
        assert_eq!(w.thread.blocked, bit(USR1));
        w.handler_returns().unwrap();
        assert_eq!((w.regs.rip, w.regs.rsp, w.thread.blocked), (0x40_0100, SP, 0));
    }

    #[test]
    fn nodefer_and_resethand() {
        let mut w = World::new();
        w.handle(USR1, sa::NODEFER | sa::RESETHAND, 0);
        w.kill(USR1);
        w.deliver().unwrap();
        assert_eq!(w.thread.blocked, 0, "SA_NODEFER: not blocked in its handler");
        assert_eq!(w.shared.actions[USR1 as usize - 1].handler, SIG_DFL, "SA_RESETHAND");
        w.kill(USR1);
        assert_eq!(w.deliver().unwrap_err().signal, USR1, "the second one kills");
    }

    #[test]
    fn faults_run_their_handler_on_the_alternate_stack() {
        let mut w = World::new();
        let alt = StackT { sp: STACK_BASE + 0x1000, flags: 0, size: 0x2000 };
        w.thread.alt_stack.set(alt, SP).unwrap();
        w.handle(SEGV, sa::SIGINFO | sa::ONSTACK, 0);
        w.thread.last_trap = super::super::LastTrap { trapno: 14, error: 6, cr2: 0x10 };
        let origin = Origin { address: 0x10, vector: 14, error: 6 };
        force(&mut w.shared, &mut w.thread, SigInfo::fault(SEGV, si::SEGV_MAPERR, 0x10, origin));
        w.deliver().unwrap();
        assert!(w.thread.alt_stack.on_stack(w.regs.rsp), "the handler runs on the alternate stack");
        assert_eq!(w.mem.u64_at(w.regs.rsi + 8) as u32, 1, "SEGV_MAPERR");
        assert_eq!(w.mem.u64_at(w.regs.rsi + 16), 0x10, "si_addr");
        let uc = w.regs.rdx;
        assert_eq!(w.mem.u64_at(uc + 16), alt.sp, "uc_stack");
        let sc = uc + 40;
        assert_eq!(w.mem.u64_at(sc + frame::sc::TRAPNO as u64), 14);
        assert_eq!(w.mem.u64_at(sc + frame::sc::CR2 as u64), 0x10);
        assert_eq!(w.mem.u64_at(sc + frame::sc::RSP as u64), SP, "the interrupted rsp");
        w.handler_returns().unwrap();
        assert_eq!(w.regs.rsp, SP);
    }

    #[test]
    fn a_blocked_or_ignored_fault_kills() {
        for setup in [0, 1] {
            let mut w = World::new();
            w.handle(SEGV, 0, 0);
            if setup == 0 {
                w.thread.blocked = bit(SEGV);
            } else {
                w.shared.actions[SEGV as usize - 1].handler = SIG_IGN;
            }
            let origin = Origin { address: 0x10, vector: 14, error: 6 };
            force(&mut w.shared, &mut w.thread, SigInfo::fault(SEGV, si::SEGV_MAPERR, 0x10, origin));
            let death = w.deliver().unwrap_err();
            assert_eq!((death.signal, death.fault_address, death.vector), (11, 0x10, 14));
        }
    }

    #[test]
    fn an_unwritable_stack_kills_with_sigsegv() {
        // A SIGSEGV handler whose frame cannot be written: killed by SIGSEGV, reporting the
        // original fault.
        let mut w = World::new();
        w.handle(SEGV, sa::SIGINFO, 0);
        w.regs.rsp = 0x1000;
        let origin = Origin { address: 0xfc0, vector: 14, error: 6 };
        force(&mut w.shared, &mut w.thread, SigInfo::fault(SEGV, si::SEGV_MAPERR, 0xfc0, origin));
        let death = w.deliver().unwrap_err();
        assert_eq!((death.signal, death.fault_address), (11, 0xfc0));

        // Another signal's handler that cannot get a frame: SIGSEGV instead, which runs its own
        // handler on the alternate stack (the stack-overflow case).
        let mut w = World::new();
        w.handle(USR1, 0, 0);
        w.handle(SEGV, sa::ONSTACK, 0);
        w.thread.alt_stack.set(StackT { sp: STACK_BASE, flags: 0, size: 0x2000 }, 0).unwrap();
        w.regs.rsp = 0x1000;
        w.kill(USR1);
        w.deliver().unwrap();
        assert_eq!(w.regs.rip, HANDLER + 11);
        assert_eq!(w.regs.rdi, 11);

        // ... and without one, SIGSEGV kills.
        let mut w = World::new();
        w.handle(USR1, 0, 0);
        w.regs.rsp = 0x1000;
        w.kill(USR1);
        assert_eq!(w.deliver().unwrap_err().signal, 11);
    }

    #[test]
    fn no_restorer_means_sigsegv_as_on_linux() {
        let mut w = World::new();
        w.shared.actions[USR1 as usize - 1] = SigAction { handler: HANDLER, flags: 0, restorer: 0, mask: 0 };
        w.kill(USR1);
        assert_eq!(w.deliver().unwrap_err().signal, 11);
    }

    #[test]
    fn autodisarm_clears_the_stack_until_sigreturn() {
        let mut w = World::new();
        let alt = StackT { sp: STACK_BASE + 0x1000, flags: ss::AUTODISARM, size: 0x2000 };
        w.thread.alt_stack.set(alt, SP).unwrap();
        w.handle(USR1, sa::ONSTACK, 0);
        w.kill(USR1);
        w.deliver().unwrap();
        assert_eq!(w.thread.alt_stack, AltStack::DISABLED, "disarmed in the handler");
        assert!(w.regs.rsp > alt.sp && w.regs.rsp < alt.sp + alt.size);
        w.handler_returns().unwrap();
        assert_eq!(w.thread.alt_stack.saved(), alt, "re-armed by rt_sigreturn");
    }

    #[test]
    fn saved_mask_is_what_the_handler_returns_to() {
        // rt_sigsuspend: a temporary mask while waiting, the old one after the handler.
        let mut w = World::new();
        w.handle(USR1, 0, 0);
        w.thread.blocked = bit(USR1) | bit(USR2);
        w.kill(USR1);
        w.thread.saved_mask = Some(w.thread.blocked);
        w.thread.blocked = bit(USR2);
        w.deliver().unwrap();
        assert_eq!(w.thread.saved_mask, None);
        w.handler_returns().unwrap();
        assert_eq!(w.thread.blocked, bit(USR1) | bit(USR2));
        // Nothing delivered: the saved mask is put back right away.
        w.thread.saved_mask = Some(7);
        w.deliver().unwrap();
        assert_eq!(w.thread.blocked, 7);
    }

    #[test]
    fn garbage_frames_fail_cleanly() {
        let mut w = World::new();
        w.regs.rsp = 0x10;
        assert_eq!(sigreturn(&mut w.thread, &mut w.mem, &mut w.regs), Err(0x8));
        // A readable frame with a non-canonical rip.
        let mut w = World::new();
        let rip_at = SP - 8 + 8 + 40 + frame::sc::RIP as u64;
        let r = w.mem.range(rip_at, 8).unwrap();
        w.mem.bytes[r].copy_from_slice(&0x8000_0000_0000u64.to_le_bytes());
        let fp_at = SP - 8 + 8 + 40 + frame::sc::FPSTATE as u64;
        let r = w.mem.range(fp_at, 8).unwrap();
        w.mem.bytes[r].fill(0);
        assert!(sigreturn(&mut w.thread, &mut w.mem, &mut w.regs).is_err());
        assert_eq!(w.regs.rsp, SP, "nothing restored");
        // An FP state pointer to nowhere.
        let r = w.mem.range(rip_at, 8).unwrap();
        w.mem.bytes[r].copy_from_slice(&0x40_0000u64.to_le_bytes());
        let r = w.mem.range(fp_at, 8).unwrap();
        w.mem.bytes[r].copy_from_slice(&0x1000u64.to_le_bytes());
        assert!(sigreturn(&mut w.thread, &mut w.mem, &mut w.regs).is_err());
        // A null FP state pointer resets the FP state.
        let r = w.mem.range(fp_at, 8).unwrap();
        w.mem.bytes[r].fill(0);
        assert!(sigreturn(&mut w.thread, &mut w.mem, &mut w.regs).is_ok());
        assert_eq!(w.regs.fx.0, FxArea::INITIAL.0);
        assert_eq!(w.regs.rip, 0x40_0000);
    }

    #[test]
    fn thread_signals_come_before_process_signals() {
        let mut w = World::new();
        send(&mut w.shared, &mut w.thread, Target::Process, SigInfo::user(2, si::USER, 1, 0));
        send(&mut w.shared, &mut w.thread, Target::Thread, SigInfo::user(15, si::TKILL, 1, 0));
        assert_eq!(dequeue(&mut w.shared, &mut w.thread, u64::MAX).map(|i| i.signo), Some(15));
        assert_eq!(dequeue(&mut w.shared, &mut w.thread, u64::MAX).map(|i| i.signo), Some(2));
        assert!(!has_effective(&w.shared, &w.thread, u64::MAX));
        w.thread.blocked = bit(17);
        w.kill(17);
        assert!(!has_effective(&w.shared, &w.thread, u64::MAX), "a pending ignored signal does nothing");
        w.kill(USR1);
        assert!(has_effective(&w.shared, &w.thread, u64::MAX), "a default-terminate one does");
        assert!(!has_effective(&w.shared, &w.thread, !bit(USR1)));
    }
}
