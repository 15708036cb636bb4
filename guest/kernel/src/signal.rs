//! Signals of the app, as Linux x86-64 has them: numbers and dispositions (rt_sigaction), the
//! blocked mask, pending sets, the alternate stack, and ending the app when a signal's action
//! is to terminate (exit status 128 + signal, as `uvm` reports a killed app).
//!
//! The state is split the way Linux splits it, so threads can come without rework:
//! [`SignalState`] is the process's (dispositions and process-directed pending signals, what
//! `kill` queues) and [`ThreadSignals`] a thread's (blocked mask, thread-directed pending
//! signals such as faults and `tgkill`, sigaltstack, the last trap). The app has one thread
//! today, whose `ThreadSignals` lives in the `Process`.
//!
//! - `frame`: the byte layout of Linux's `struct rt_sigframe` (pure functions).
//! - `deliver`: sending, forcing (faults), delivering to handlers and `rt_sigreturn`, over any
//!   [`deliver::UserMemory`], so the whole logic is unit-tested on the host.
//! - `outside`: the signals uvm gets from outside the VM and passes on to the app.
//!
//! Default actions: terminate for most signals; ignore for SIGCHLD, SIGCONT, SIGURG and
//! SIGWINCH; stop for the stop signals (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: `crate::job`),
//! except in the app, which is its VM's init and ignores them, as a pid namespace's init
//! does. No core dumps.

pub mod deliver;
pub mod frame;
pub mod outside;

use alloc::vec::Vec;

use uvm_abi::hypercall::{Fatal, FatalReason};

/// Linux signal numbers (x86-64).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub enum Signal {
    SIGHUP = 1,
    SIGINT = 2,
    SIGQUIT = 3,
    SIGILL = 4,
    SIGTRAP = 5,
    SIGABRT = 6,
    SIGBUS = 7,
    SIGFPE = 8,
    SIGKILL = 9,
    SIGUSR1 = 10,
    SIGSEGV = 11,
    SIGUSR2 = 12,
    SIGPIPE = 13,
    SIGALRM = 14,
    SIGTERM = 15,
    SIGSTKFLT = 16,
    SIGCHLD = 17,
    SIGCONT = 18,
    SIGSTOP = 19,
    SIGTSTP = 20,
    SIGTTIN = 21,
    SIGTTOU = 22,
    SIGURG = 23,
    SIGXCPU = 24,
    SIGXFSZ = 25,
    SIGVTALRM = 26,
    SIGPROF = 27,
    SIGWINCH = 28,
    SIGIO = 29,
    SIGPWR = 30,
    SIGSYS = 31,
}

/// Number of signals (1..=64; 32..=64 are the real-time ones, which queue).
pub const NSIG: usize = 64;
/// The first real-time signal: signals below it coalesce while pending.
pub const SIGRTMIN: u32 = 32;

/// `sa_handler` values.
pub const SIG_DFL: u64 = 0;
/// Ignore the signal.
pub const SIG_IGN: u64 = 1;

/// `sa_flags` bits (x86-64).
pub mod sa {
    pub const NOCLDSTOP: u64 = 0x1;
    pub const NOCLDWAIT: u64 = 0x2;
    pub const SIGINFO: u64 = 0x4;
    pub const UNSUPPORTED: u64 = 0x400;
    pub const EXPOSE_TAGBITS: u64 = 0x800;
    pub const RESTORER: u64 = 0x0400_0000;
    pub const ONSTACK: u64 = 0x0800_0000;
    pub const RESTART: u64 = 0x1000_0000;
    pub const NODEFER: u64 = 0x4000_0000;
    pub const RESETHAND: u64 = 0x8000_0000;
    /// The flags Linux keeps; others are cleared, so an app can detect unsupported ones.
    pub const KNOWN: u64 =
        NOCLDSTOP | NOCLDWAIT | SIGINFO | EXPOSE_TAGBITS | RESTORER | ONSTACK | RESTART | NODEFER | RESETHAND;
}

/// `si_code` values.
pub mod si {
    /// Sent by kill().
    pub const USER: i32 = 0;
    /// Sent by the kernel (a #GP, a bad signal frame, ...).
    pub const KERNEL: i32 = 0x80;
    /// Sent by tkill()/tgkill().
    pub const TKILL: i32 = -6;
    /// Sent by a POSIX timer's expiry.
    pub const TIMER: i32 = -2;
    /// Sent by sigqueue().
    pub const QUEUE: i32 = -1;
    pub const ILL_ILLOPN: i32 = 2;
    pub const FPE_INTDIV: i32 = 1;
    pub const FPE_FLTDIV: i32 = 3;
    pub const FPE_FLTOVF: i32 = 4;
    pub const FPE_FLTUND: i32 = 5;
    pub const FPE_FLTRES: i32 = 6;
    pub const FPE_FLTINV: i32 = 7;
    pub const SEGV_MAPERR: i32 = 1;
    pub const SEGV_ACCERR: i32 = 2;
    pub const BUS_ADRALN: i32 = 1;
    pub const BUS_ADRERR: i32 = 2;
    pub const TRAP_TRACE: i32 = 2;
}

/// `ss_flags` of sigaltstack.
pub mod ss {
    /// The thread runs on the alternate stack.
    pub const ONSTACK: u32 = 1;
    /// No alternate stack.
    pub const DISABLE: u32 = 2;
    /// Disarm the alternate stack while a handler runs on it.
    pub const AUTODISARM: u32 = 1 << 31;
}

/// The smallest alternate stack sigaltstack accepts.
pub const MINSIGSTKSZ: u64 = 2048;

/// The mask bit of signal `sig` (0 for a number outside 1..=64).
pub const fn bit(sig: u32) -> u64 {
    if sig == 0 || sig > NSIG as u32 {
        0
    } else {
        1 << (sig - 1)
    }
}

/// SIGKILL and SIGSTOP: never blocked, caught or ignored.
pub const UNBLOCKABLE: u64 = bit(Signal::SIGKILL as u32) | bit(Signal::SIGSTOP as u32);

/// Signals an instruction raises: dequeued before any other (so the frame shows the fault).
pub const SYNCHRONOUS: u64 = bit(Signal::SIGSEGV as u32)
    | bit(Signal::SIGBUS as u32)
    | bit(Signal::SIGILL as u32)
    | bit(Signal::SIGTRAP as u32)
    | bit(Signal::SIGFPE as u32)
    | bit(Signal::SIGSYS as u32);

/// How many signals were queued anywhere in the VM (only equality of two readings matters):
/// what edge-triggered epoll entries on a signalfd compare (`fs::signalfd`).
static QUEUED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// A signal was queued: it counts as a file change, so threads waiting in poll, epoll or a
/// signalfd read look again (`wait::note_io_event`).
pub fn note_queued() {
    QUEUED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    crate::wait::note_io_event();
}

/// The count of [`note_queued`]s so far.
pub fn queued_count() -> u64 {
    QUEUED.load(core::sync::atomic::Ordering::Relaxed)
}

/// Whether `sig` is a valid signal number.
pub fn valid(sig: u64) -> bool {
    (1..=NSIG as u64).contains(&sig)
}

/// A `struct sigaction` as the kernel stores it (handler, flags, restorer, mask).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// sa_handler (0 = SIG_DFL, 1 = SIG_IGN, else a function).
    pub handler: u64,
    /// sa_flags.
    pub flags: u64,
    /// sa_restorer.
    pub restorer: u64,
    /// sa_mask.
    pub mask: u64,
}

/// What happens to a signal when it is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Dropped.
    Ignore,
    /// The app ends (128 + signal).
    Terminate,
    /// The app's handler runs.
    Handler,
    /// The process stops until a SIGCONT (`crate::job`).
    Stop,
}

/// Whether `sig`'s default action is ignore: SIGCHLD, SIGCONT, SIGURG, SIGWINCH.
pub fn default_ignored(sig: u32) -> bool {
    matches!(sig, 17 | 18 | 23 | 28)
}

/// Whether `sig` is a stop signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU).
pub fn is_stop_signal(sig: u32) -> bool {
    matches!(sig, 19..=22)
}

/// The stop signals, as a mask.
pub const STOP_SIGNALS: u64 = 0xf << 18;

/// What delivering `sig` with disposition `action` does.
pub fn action_of(sig: u32, action: &SigAction) -> Action {
    if sig == Signal::SIGKILL as u32 {
        return Action::Terminate;
    }
    if sig == Signal::SIGSTOP as u32 {
        return Action::Stop;
    }
    match action.handler {
        SIG_DFL if default_ignored(sig) => Action::Ignore,
        SIG_DFL if is_stop_signal(sig) => Action::Stop,
        SIG_DFL => Action::Terminate,
        SIG_IGN => Action::Ignore,
        _ => Action::Handler,
    }
}

/// The extra fields of a `siginfo_t` (the union after si_code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigFields {
    /// All zero (SI_KERNEL).
    None,
    /// kill/tkill: si_pid, si_uid.
    Kill {
        /// Sender's pid.
        pid: u32,
        /// Sender's uid.
        uid: u32,
    },
    /// A fault: si_addr.
    Fault {
        /// The faulting address (or instruction).
        addr: u64,
    },
    /// A child's end (SIGCHLD, waitid): si_pid, si_uid, si_status.
    Child {
        /// The child's pid.
        pid: u32,
        /// Its uid.
        uid: u32,
        /// Its exit code, or the signal that killed it.
        status: i32,
    },
    /// Queued by the app with its own siginfo (rt_sigqueueinfo, sigqueue): the union's
    /// first 16 bytes as it gave them (si_pid, si_uid, si_value for SI_QUEUE).
    Queue {
        /// si_pid.
        pid: u32,
        /// si_uid.
        uid: u32,
        /// si_value.
        value: u64,
    },
    /// A POSIX timer's expiry: si_timerid, si_overrun, si_value.
    Timer {
        /// The timer's id.
        id: i32,
        /// Expirations since the last signal that were not signalled.
        overrun: i32,
        /// The sigevent's value.
        value: u64,
    },
}

/// The fault behind a signal, for `uvm`'s report if the signal kills the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The address reported (CR2, the instruction, or a bad frame).
    pub address: u64,
    /// The exception vector.
    pub vector: u32,
    /// Its error code.
    pub error: u32,
}

/// A queued signal: what the handler's `siginfo_t` says, and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    /// si_signo.
    pub signo: u32,
    /// si_errno.
    pub errno: i32,
    /// si_code.
    pub code: i32,
    /// The union.
    pub fields: SigFields,
    /// The fault behind it (None: sent by the app itself).
    pub origin: Option<Origin>,
}

/// Bytes of a `siginfo_t`.
pub const SIGINFO_SIZE: usize = 128;

impl SigInfo {
    /// Sent by the app (kill: SI_USER, tkill/tgkill: SI_TKILL) from `pid` as `uid`.
    pub fn user(signo: u32, code: i32, pid: u32, uid: u32) -> SigInfo {
        SigInfo { signo, errno: 0, code, fields: SigFields::Kill { pid, uid }, origin: None }
    }

    /// A fault with its si_code and si_addr.
    pub fn fault(signo: u32, code: i32, addr: u64, origin: Origin) -> SigInfo {
        SigInfo { signo, errno: 0, code, fields: SigFields::Fault { addr }, origin: Some(origin) }
    }

    /// Sent by the kernel for no fault (SI_KERNEL, no fields): a timer's SIGALRM.
    pub fn from_kernel(signo: u32) -> SigInfo {
        SigInfo { signo, errno: 0, code: si::KERNEL, fields: SigFields::None, origin: None }
    }

    /// Sent by the kernel (SI_KERNEL, no fields), for the reason `origin`.
    pub fn kernel(signo: u32, origin: Origin) -> SigInfo {
        SigInfo { signo, errno: 0, code: si::KERNEL, fields: SigFields::None, origin: Some(origin) }
    }

    /// The `siginfo_t` bytes.
    pub fn to_bytes(&self) -> [u8; SIGINFO_SIZE] {
        let mut b = [0u8; SIGINFO_SIZE];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[4..8].copy_from_slice(&self.errno.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        match self.fields {
            SigFields::None => {}
            SigFields::Kill { pid, uid } => {
                b[16..20].copy_from_slice(&pid.to_le_bytes());
                b[20..24].copy_from_slice(&uid.to_le_bytes());
            }
            SigFields::Fault { addr } => b[16..24].copy_from_slice(&addr.to_le_bytes()),
            SigFields::Child { pid, uid, status } => {
                b[16..20].copy_from_slice(&pid.to_le_bytes());
                b[20..24].copy_from_slice(&uid.to_le_bytes());
                b[24..28].copy_from_slice(&status.to_le_bytes());
            }
            SigFields::Timer { id, overrun, value } => {
                b[16..20].copy_from_slice(&id.to_le_bytes());
                b[20..24].copy_from_slice(&overrun.to_le_bytes());
                b[24..32].copy_from_slice(&value.to_le_bytes());
            }
            SigFields::Queue { pid, uid, value } => {
                b[16..20].copy_from_slice(&pid.to_le_bytes());
                b[20..24].copy_from_slice(&uid.to_le_bytes());
                b[24..32].copy_from_slice(&value.to_le_bytes());
            }
        }
        b
    }

    /// A siginfo the app queues itself (rt_sigqueueinfo): signal `signo` (whatever its
    /// si_signo said, as Linux overwrites it), the app's si_errno and si_code, and the
    /// union's first 16 bytes.
    pub fn queued(signo: u32, bytes: &[u8; SIGINFO_SIZE]) -> SigInfo {
        let fields =
            SigFields::Queue { pid: le_u32(&bytes[16..]), uid: le_u32(&bytes[20..]), value: le_u64(&bytes[24..]) };
        SigInfo { signo, errno: le_u32(&bytes[4..]) as i32, code: le_u32(&bytes[8..]) as i32, fields, origin: None }
    }
}

/// How many signals one pending set queues before a real-time signal's further instances
/// are refused (`RLIMIT_SIGPENDING`, which getrlimit reports): Linux's default for a 1 GiB
/// machine (a 64th of its pages). Linux counts a user's queued signals over all its
/// processes; here each process's and each thread's set counts its own, so the kernel heap
/// holds at most this many per set however an app queues (a `sigqueue` loop to a blocked
/// signal filled it to a kernel panic before).
pub const QUEUE_LIMIT: usize = 4096;

/// Pending signals of a process or a thread: a mask and the queued instances (one at most
/// for a standard signal; real-time signals queue, up to [`QUEUE_LIMIT`]).
#[derive(Clone, Debug, Default)]
pub struct Pending {
    mask: u64,
    queue: Vec<SigInfo>,
}

impl Pending {
    /// Nothing pending.
    pub const fn new() -> Pending {
        Pending { mask: 0, queue: Vec::new() }
    }

    /// The pending signals as a mask.
    pub fn mask(&self) -> u64 {
        self.mask
    }

    /// Queues `info`; a standard signal already pending is not queued twice, nor is a
    /// real-time one once the set is full ([`Pending::is_full`]: Linux then keeps it pending
    /// without its siginfo, which here is the pending instance's). Returns whether it was
    /// queued.
    pub fn push(&mut self, info: SigInfo) -> bool {
        let b = bit(info.signo);
        if b == 0 || (self.mask & b != 0 && (info.signo < SIGRTMIN || self.is_full())) {
            return false;
        }
        self.mask |= b;
        self.queue.push(info);
        true
    }

    /// Whether the set holds [`QUEUE_LIMIT`] queued signals: a `sigqueue` of a real-time
    /// signal to it then fails with `EAGAIN`, as on Linux.
    pub fn is_full(&self) -> bool {
        self.queue.len() >= QUEUE_LIMIT
    }

    /// The signal to take next among `allowed`: synchronous ones first, then the lowest.
    pub fn next(&self, allowed: u64) -> Option<u32> {
        let ready = self.mask & allowed;
        if ready == 0 {
            return None;
        }
        let first = if ready & SYNCHRONOUS != 0 { ready & SYNCHRONOUS } else { ready };
        Some(first.trailing_zeros() + 1)
    }

    /// Takes the oldest instance of `sig`.
    pub fn take(&mut self, sig: u32) -> Option<SigInfo> {
        let at = self.queue.iter().position(|i| i.signo == sig)?;
        let info = self.queue.remove(at);
        if !self.queue.iter().any(|i| i.signo == sig) {
            self.mask &= !bit(sig);
        }
        Some(info)
    }

    /// Drops every instance of `sig`.
    pub fn discard(&mut self, sig: u32) {
        self.discard_all(bit(sig));
    }

    /// Drops every instance of the signals of `mask`.
    pub fn discard_all(&mut self, mask: u64) {
        if self.mask & mask != 0 {
            self.queue.retain(|i| bit(i.signo) & mask == 0);
            self.mask &= !mask;
        }
    }
}

/// A `stack_t` (sigaltstack's argument, and `uc_stack` in a signal frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackT {
    /// ss_sp.
    pub sp: u64,
    /// ss_flags.
    pub flags: u32,
    /// ss_size.
    pub size: u64,
}

/// Bytes of a `stack_t`.
pub const STACK_T_SIZE: usize = 24;

impl StackT {
    /// The `stack_t` bytes.
    pub fn to_bytes(&self) -> [u8; STACK_T_SIZE] {
        let mut b = [0u8; STACK_T_SIZE];
        b[0..8].copy_from_slice(&self.sp.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.size.to_le_bytes());
        b
    }

    /// Decodes `stack_t` bytes.
    pub fn from_bytes(b: &[u8; STACK_T_SIZE]) -> StackT {
        StackT { sp: le_u64(&b[0..8]), flags: le_u32(&b[8..12]), size: le_u64(&b[16..24]) }
    }
}

/// A thread's alternate signal stack (sigaltstack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AltStack {
    /// Lowest address.
    pub sp: u64,
    /// Bytes (0: disabled).
    pub size: u64,
    /// The flags it was set with (SS_DISABLE, SS_AUTODISARM, ...).
    pub flags: u32,
}

impl AltStack {
    /// No alternate stack.
    pub const DISABLED: AltStack = AltStack { sp: 0, size: 0, flags: ss::DISABLE };

    /// Whether `sp` is on the stack, by address alone (Linux's `__on_sig_stack`).
    pub fn contains(&self, sp: u64) -> bool {
        sp > self.sp && sp - self.sp <= self.size
    }

    /// Whether a thread at `sp` runs on the stack (never, with SS_AUTODISARM).
    pub fn on_stack(&self, sp: u64) -> bool {
        self.flags & ss::AUTODISARM == 0 && self.contains(sp)
    }

    /// `ss_flags` for a thread at `sp`: SS_DISABLE, SS_ONSTACK or 0.
    pub fn flags_at(&self, sp: u64) -> u32 {
        if self.size == 0 {
            ss::DISABLE
        } else if self.on_stack(sp) {
            ss::ONSTACK
        } else {
            0
        }
    }

    /// What sigaltstack reports as the old stack for a thread at `sp`.
    pub fn describe(&self, sp: u64) -> StackT {
        StackT { sp: self.sp, flags: self.flags_at(sp) | (self.flags & ss::AUTODISARM), size: self.size }
    }

    /// What a signal frame saves as `uc_stack`.
    pub fn saved(&self) -> StackT {
        StackT { sp: self.sp, flags: self.flags, size: self.size }
    }

    /// Installs `new` for a thread at `sp` (Linux's do_sigaltstack): EPERM while on the
    /// stack, EINVAL for a bad mode, ENOMEM below MINSIGSTKSZ.
    pub fn set(&mut self, new: StackT, sp: u64) -> Result<(), crate::errno::Errno> {
        use crate::errno::Errno;
        if self.on_stack(sp) {
            return Err(Errno::EPERM);
        }
        let mode = new.flags & !ss::AUTODISARM;
        if mode != ss::DISABLE && mode != ss::ONSTACK && mode != 0 {
            return Err(Errno::EINVAL);
        }
        if mode == ss::DISABLE {
            *self = AltStack { sp: 0, size: 0, flags: new.flags };
        } else {
            if new.size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            *self = AltStack { sp: new.sp, size: new.size, flags: new.flags };
        }
        Ok(())
    }
}

/// The last CPU exception a thread took (sigcontext's trapno, err and cr2, which Linux
/// reports for every signal, stale when the signal is not a fault).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LastTrap {
    /// The vector.
    pub trapno: u64,
    /// The error code.
    pub error: u64,
    /// CR2 of the last page fault.
    pub cr2: u64,
}

/// The process's signal state (shared by its threads).
pub struct SignalState {
    /// Dispositions, index = signal number - 1.
    pub actions: [SigAction; NSIG],
    /// Signals sent to the process (kill).
    pub pending: Pending,
    /// The process is the app, its VM's init: a stop signal's default action ignores it.
    pub init: bool,
}

impl SignalState {
    /// Every signal at its default, nothing pending.
    pub fn new() -> SignalState {
        SignalState { actions: [SigAction::default(); NSIG], pending: Pending::new(), init: false }
    }

    /// A forked child's: the same dispositions, nothing pending.
    pub fn fork(&self) -> SignalState {
        SignalState { actions: self.actions, pending: Pending::new(), init: false }
    }

    /// The disposition of signal `sig` (1..=64).
    pub fn action(&self, sig: u32) -> SigAction {
        self.actions.get((sig as usize).wrapping_sub(1)).copied().unwrap_or_default()
    }
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState::new()
    }
}

/// A thread's signal state.
#[derive(Clone, Debug)]
pub struct ThreadSignals {
    /// Blocked signals.
    pub blocked: u64,
    /// Signals sent to this thread (faults, tkill, tgkill).
    pub pending: Pending,
    /// The alternate stack.
    pub alt_stack: AltStack,
    /// A mask to restore once a signal has been handled (rt_sigsuspend sets it, as Linux's
    /// `saved_sigmask` with TIF_RESTORE_SIGMASK): the first handler frame saves it instead of
    /// `blocked`; without a handler it is put back when the syscall returns.
    pub saved_mask: Option<u64>,
    /// The last CPU exception.
    pub last_trap: LastTrap,
    /// Another thread's execve ends this thread: it ends where it next meets the signal
    /// check (`deliver_to_app`), and its waits end as a signal would end them.
    pub ending: bool,
    /// Another thread stopped the process (`crate::job`): this one stops where it next meets
    /// the signal check.
    pub stopping: bool,
    /// The thread was stopped and continued since a wait cleared this (`crate::job`):
    /// epoll_wait and sigtimedwait end with EINTR then, as on Linux (signal(7), "Interruption
    /// of system calls and library functions by stop signals"), where other waits go on.
    pub was_stopped: bool,
}

impl ThreadSignals {
    /// Nothing blocked or pending, no alternate stack.
    pub fn new() -> ThreadSignals {
        ThreadSignals {
            blocked: 0,
            pending: Pending::new(),
            alt_stack: AltStack::DISABLED,
            saved_mask: None,
            last_trap: LastTrap::default(),
            ending: false,
            stopping: false,
            was_stopped: false,
        }
    }

    /// Sets the blocked mask (SIGKILL and SIGSTOP stay unblocked).
    pub fn set_blocked(&mut self, mask: u64) {
        self.blocked = mask & !UNBLOCKABLE;
    }
}

impl Default for ThreadSignals {
    fn default() -> Self {
        ThreadSignals::new()
    }
}

/// How the app ends when a signal kills it (the `Fatal` hypercall's fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Death {
    /// The signal.
    pub signal: u32,
    /// The fault address (0 when sent by the app).
    pub fault_address: u64,
    /// Where the app was.
    pub ip: u64,
    /// The exception vector (u32::MAX when sent by the app).
    pub vector: u32,
    /// Its error code.
    pub error_code: u32,
}

impl Death {
    /// The app dies of `info` at `ip`.
    pub fn of(info: &SigInfo, ip: u64) -> Death {
        match info.origin {
            Some(o) => {
                Death { signal: info.signo, fault_address: o.address, ip, vector: o.vector, error_code: o.error }
            }
            None => Death { signal: info.signo, fault_address: 0, ip, vector: u32::MAX, error_code: 0 },
        }
    }
}

/// Ends the process as `death` says: the app's death ends the VM (uvm reports it), another
/// process's becomes its parent's to wait for.
pub fn die(p: &mut crate::process::Process, death: Death) -> ! {
    if p.pid != crate::process::INIT_PID {
        crate::family::end_process(p, crate::family::Ending::Killed(death.signal))
    }
    // As Linux's page cache outlives a killed process: shared mappings of volumes' files.
    crate::fs::hostfs::write_back_all();
    crate::hypercall::fatal(Fatal {
        reason: FatalReason::Signal as u32,
        signal: death.signal,
        fault_address: death.fault_address,
        instruction_pointer: death.ip,
        vector: death.vector,
        error_code: death.error_code,
    })
}

/// Ends the process as killed by `sig`.
pub fn kill_with(
    p: &mut crate::process::Process,
    sig: Signal,
    fault_address: u64,
    ip: u64,
    vector: u32,
    error_code: u32,
) -> ! {
    die(p, Death { signal: sig as u32, fault_address, ip, vector, error_code })
}

/// Delivers the app's pending, unblocked signals on its way back from a syscall or a fault:
/// runs handlers by editing `frame`, drops ignored signals, and ends the VM if one kills it.
/// Each delivery shows in the syscall trace, as strace shows it.
pub fn deliver_to_app(p: &mut crate::process::Process, frame: &mut crate::arch::frame::TrapFrame) {
    if outside::pending() {
        outside::take(p);
    }
    if crate::syscall::itimer::any(p) {
        crate::syscall::itimer::fire_if_due(p);
    }
    if deliver::has_work(&p.signals, &p.thread.signals) {
        deliver_pending_to_app(p, frame);
    }
}

/// [`deliver_to_app`]'s work once there is some (out of line: most ways back have none, and
/// its code then stays out of the text every start runs).
#[cold]
#[inline(never)]
fn deliver_pending_to_app(p: &mut crate::process::Process, frame: &mut crate::arch::frame::TrapFrame) {
    if p.thread.signals.ending {
        crate::syscall::clone::end_for_exec(p);
    }
    // Stop signals first: the process stops here until continued, then takes the rest.
    crate::job::stop_if_asked(p);
    let trace = p.trace;
    let mut observe = |info: &SigInfo| {
        if trace {
            crate::hypercall::trace(trace_line(info).as_bytes());
        }
    };
    let result = deliver::deliver_pending(&mut p.signals, &mut p.thread.signals, &mut p.space, frame, &mut observe);
    if let Err(death) = result {
        die(p, death);
    }
}

/// The name of signal `sig` (`None` for the real-time ones).
pub fn name(sig: u32) -> Option<&'static str> {
    uvm_abi::signal::name(sig)
}

/// The name of `info`'s si_code, where it has one.
fn code_name(info: &SigInfo) -> Option<&'static str> {
    let sig = info.signo;
    Some(match info.code {
        si::USER => "SI_USER",
        si::KERNEL => "SI_KERNEL",
        si::TKILL => "SI_TKILL",
        si::TIMER => "SI_TIMER",
        si::QUEUE => "SI_QUEUE",
        1 if sig == Signal::SIGSEGV as u32 => "SEGV_MAPERR",
        2 if sig == Signal::SIGSEGV as u32 => "SEGV_ACCERR",
        1 if sig == Signal::SIGFPE as u32 => "FPE_INTDIV",
        3 if sig == Signal::SIGFPE as u32 => "FPE_FLTDIV",
        4 if sig == Signal::SIGFPE as u32 => "FPE_FLTOVF",
        5 if sig == Signal::SIGFPE as u32 => "FPE_FLTUND",
        6 if sig == Signal::SIGFPE as u32 => "FPE_FLTRES",
        7 if sig == Signal::SIGFPE as u32 => "FPE_FLTINV",
        2 if sig == Signal::SIGILL as u32 => "ILL_ILLOPN",
        1 if sig == Signal::SIGBUS as u32 => "BUS_ADRALN",
        2 if sig == Signal::SIGBUS as u32 => "BUS_ADRERR",
        2 if sig == Signal::SIGTRAP as u32 => "TRAP_TRACE",
        _ => return None,
    })
}

/// The trace line of a delivered signal, as strace prints it:
/// `--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---`.
pub fn trace_line(info: &SigInfo) -> crate::panic::MessageBuffer {
    use core::fmt::Write;
    let mut m = crate::panic::MessageBuffer::new();
    let (sig, rt) = (info.signo, info.signo.wrapping_sub(SIGRTMIN));
    let _ = match name(sig) {
        Some(n) => write!(m, "--- {n} {{si_signo={n}, "),
        None => write!(m, "--- SIGRT_{rt} {{si_signo=SIGRT_{rt}, "),
    };
    let _ = match code_name(info) {
        Some(c) => write!(m, "si_code={c}"),
        None => write!(m, "si_code={}", info.code),
    };
    let _ = match info.fields {
        SigFields::None => Ok(()),
        SigFields::Kill { pid, uid } => write!(m, ", si_pid={pid}, si_uid={uid}"),
        SigFields::Fault { addr } => write!(m, ", si_addr={addr:#x}"),
        SigFields::Child { pid, uid, status } => write!(m, ", si_pid={pid}, si_uid={uid}, si_status={status}"),
        SigFields::Timer { id, overrun, .. } => write!(m, ", si_timerid={id}, si_overrun={overrun}"),
        SigFields::Queue { pid, uid, value } => write!(m, ", si_pid={pid}, si_uid={uid}, si_value={value:#x}"),
    };
    let _ = write!(m, "}} ---");
    m
}

/// A little-endian u64 from 8 bytes.
pub(crate) fn le_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// A little-endian u32 from 4 bytes.
pub(crate) fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions() {
        let dfl = SigAction::default();
        let ign = SigAction { handler: SIG_IGN, ..dfl };
        let handler = SigAction { handler: 0x401000, ..dfl };
        assert_eq!(action_of(11, &dfl), Action::Terminate);
        assert_eq!(action_of(6, &dfl), Action::Terminate);
        assert_eq!(action_of(40, &dfl), Action::Terminate, "real-time signals terminate by default");
        for sig in [17, 18, 23, 28] {
            assert_eq!(action_of(sig, &dfl), Action::Ignore, "signal {sig}");
        }
        for sig in [19, 20, 21, 22] {
            assert_eq!(action_of(sig, &dfl), Action::Stop, "signal {sig}");
        }
        assert_eq!(action_of(20, &handler), Action::Handler, "SIGTSTP can be caught");
        assert_eq!(action_of(19, &ign), Action::Stop, "SIGSTOP cannot be ignored");
        assert_eq!(STOP_SIGNALS, bit(19) | bit(20) | bit(21) | bit(22));
        assert_eq!(action_of(10, &ign), Action::Ignore);
        assert_eq!(action_of(10, &handler), Action::Handler);
        assert_eq!(action_of(17, &handler), Action::Handler);
        assert_eq!(action_of(9, &handler), Action::Terminate, "SIGKILL cannot be caught");
        assert_eq!(action_of(9, &ign), Action::Terminate, "nor ignored");
    }

    #[test]
    fn masks() {
        assert_eq!(bit(1), 1);
        assert_eq!(bit(64), 1 << 63);
        assert_eq!(bit(0), 0);
        assert_eq!(bit(65), 0);
        assert_eq!(UNBLOCKABLE, (1 << 8) | (1 << 18));
        let mut t = ThreadSignals::new();
        t.set_blocked(u64::MAX);
        assert_eq!(t.blocked, !UNBLOCKABLE);
    }

    #[test]
    fn pending_coalesces_standard_signals_and_queues_real_time_ones() {
        let mut p = Pending::new();
        assert!(p.push(SigInfo::user(10, si::USER, 1, 0)));
        assert!(!p.push(SigInfo::user(10, si::TKILL, 1, 0)), "a pending SIGUSR1 is not queued twice");
        assert!(p.push(SigInfo::user(40, si::USER, 1, 0)));
        assert!(p.push(SigInfo::user(40, si::TKILL, 1, 0)));
        assert_eq!(p.mask(), bit(10) | bit(40));
        assert_eq!(p.take(40).map(|i| i.code), Some(si::USER), "oldest first");
        assert_eq!(p.mask(), bit(10) | bit(40), "one more SIGRTMIN+8 queued");
        assert_eq!(p.take(40).map(|i| i.code), Some(si::TKILL));
        assert_eq!(p.mask(), bit(10));
        assert_eq!(p.take(40), None);
        p.discard(10);
        assert_eq!(p.mask(), 0);
    }

    #[test]
    fn a_full_set_queues_no_more_real_time_instances_but_still_takes_a_new_signal() {
        let mut p = Pending::new();
        for _ in 0..QUEUE_LIMIT {
            assert!(p.push(SigInfo::user(40, si::QUEUE, 1, 0)));
        }
        assert!(p.is_full());
        assert!(!p.push(SigInfo::user(40, si::QUEUE, 1, 0)), "SIGRTMIN+8 is pending already");
        assert!(p.push(SigInfo::user(41, si::USER, 1, 0)), "a signal not pending yet stays pending");
        assert!(!p.push(SigInfo::user(41, si::USER, 1, 0)));
        assert_eq!(p.mask(), bit(40) | bit(41));
        assert!(p.take(41).is_some() && p.is_full(), "still a full set of SIGRTMIN+8");
        assert!(p.take(40).is_some());
        assert!(!p.is_full());
        assert!(p.push(SigInfo::user(40, si::QUEUE, 1, 0)), "room again once one is taken");
    }

    #[test]
    fn synchronous_signals_come_first_then_the_lowest() {
        let mut p = Pending::new();
        for sig in [15, 2, 11] {
            p.push(SigInfo::user(sig, si::USER, 1, 0));
        }
        assert_eq!(p.next(u64::MAX), Some(11));
        assert_eq!(p.next(!bit(11)), Some(2));
        assert_eq!(p.next(bit(15)), Some(15));
        assert_eq!(p.next(bit(3)), None);
    }

    #[test]
    fn siginfo_layout() {
        let b = SigInfo::user(10, si::TKILL, 1, 1000).to_bytes();
        assert_eq!(le_u32(&b[0..]), 10);
        assert_eq!(le_u32(&b[4..]), 0);
        assert_eq!(le_u32(&b[8..]) as i32, -6);
        assert_eq!(le_u32(&b[16..]), 1, "si_pid at 0x10");
        assert_eq!(le_u32(&b[20..]), 1000, "si_uid at 0x14");
        let origin = Origin { address: 0x10, vector: 14, error: 6 };
        let b = SigInfo::fault(11, si::SEGV_MAPERR, 0xdead_beef, origin).to_bytes();
        assert_eq!(le_u32(&b[8..]), 1);
        assert_eq!(le_u64(&b[16..]), 0xdead_beef, "si_addr at 0x10");
        assert!(b[24..].iter().all(|&x| x == 0));
        let b = SigInfo::kernel(11, origin).to_bytes();
        assert_eq!(le_u32(&b[8..]), 0x80);
        assert!(b[12..].iter().all(|&x| x == 0));
    }

    #[test]
    fn a_queued_siginfo_keeps_the_apps_code_and_union_but_takes_the_calls_signal() {
        let mut given = [0u8; SIGINFO_SIZE];
        given[0..4].copy_from_slice(&99u32.to_le_bytes());
        given[8..12].copy_from_slice(&si::QUEUE.to_le_bytes());
        given[16..20].copy_from_slice(&7u32.to_le_bytes());
        given[24..32].copy_from_slice(&0x1234_5678_9abcu64.to_le_bytes());
        let info = SigInfo::queued(10, &given);
        assert_eq!((info.signo, info.code), (10, si::QUEUE));
        let b = info.to_bytes();
        assert_eq!(le_u32(&b[0..]), 10, "si_signo is the call's");
        assert_eq!(&b[8..32], &given[8..32]);
    }

    #[test]
    fn alt_stack_rules() {
        use crate::errno::Errno;
        let mut a = AltStack::DISABLED;
        assert_eq!(a.describe(0x7000), StackT { sp: 0, flags: ss::DISABLE, size: 0 });
        let new = StackT { sp: 0x10000, flags: 0, size: 0x4000 };
        assert_eq!(a.set(StackT { size: 100, ..new }, 0x7000_0000), Err(Errno::ENOMEM));
        assert_eq!(a.set(StackT { flags: 4, ..new }, 0x7000_0000), Err(Errno::EINVAL));
        a.set(new, 0x7000_0000).unwrap();
        assert_eq!(a.describe(0x7000_0000).flags, 0);
        assert_eq!(a.describe(0x12000).flags, ss::ONSTACK);
        assert_eq!(a.describe(0x14000).flags, ss::ONSTACK, "the top counts as on the stack");
        assert_eq!(a.describe(0x10000).flags, 0, "the lowest byte does not (Linux's rule)");
        assert_eq!(a.set(AltStack::DISABLED.saved(), 0x12000), Err(Errno::EPERM), "not while on it");
        a.set(StackT { sp: 0, flags: ss::DISABLE, size: 0 }, 0x7000_0000).unwrap();
        assert_eq!(a, AltStack::DISABLED);
        a.set(StackT { flags: ss::AUTODISARM, ..new }, 0).unwrap();
        assert!(!a.on_stack(0x12000), "an autodisarmed stack never counts as in use");
        assert_eq!(a.describe(0x12000).flags, ss::AUTODISARM);
        let bytes = StackT { sp: 0x1234, flags: ss::ONSTACK, size: 0x8000 }.to_bytes();
        assert_eq!(StackT::from_bytes(&bytes), StackT { sp: 0x1234, flags: 1, size: 0x8000 });
    }

    #[test]
    fn trace_lines_look_like_strace() {
        let line = |i: &SigInfo| String::from_utf8(trace_line(i).as_bytes().to_vec()).unwrap();
        let o = Origin { address: 0x10, vector: 14, error: 6 };
        assert_eq!(
            line(&SigInfo::fault(11, si::SEGV_MAPERR, 0x10, o)),
            "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---"
        );
        assert_eq!(
            line(&SigInfo::user(10, si::TKILL, 1, 0)),
            "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_TKILL, si_pid=1, si_uid=0} ---"
        );
        assert_eq!(line(&SigInfo::kernel(5, o)), "--- SIGTRAP {si_signo=SIGTRAP, si_code=SI_KERNEL} ---");
        assert_eq!(
            line(&SigInfo::user(34, si::USER, 1, 0)),
            "--- SIGRT_2 {si_signo=SIGRT_2, si_code=SI_USER, si_pid=1, si_uid=0} ---"
        );
        assert_eq!(name(31), Some("SIGSYS"));
        assert_eq!(name(0), None);
    }

    #[test]
    fn deaths_report_the_fault_or_the_sender() {
        let d = Death::of(&SigInfo::user(6, si::TKILL, 1, 0), 0x401234);
        assert_eq!((d.signal, d.vector, d.ip), (6, u32::MAX, 0x401234));
        let o = Origin { address: 0x10, vector: 14, error: 6 };
        let d = Death::of(&SigInfo::fault(11, si::SEGV_MAPERR, 0x10, o), 0x401000);
        assert_eq!((d.signal, d.fault_address, d.vector, d.error_code), (11, 0x10, 14, 6));
    }
}
