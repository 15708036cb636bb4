//! Signals of the one process: numbers, the dispositions the app sets (rt_sigaction), the
//! blocked mask (rt_sigprocmask), and ending the app the way Linux does when a signal's
//! default action is to terminate. Running the app's own handlers is not done yet: a signal
//! with a handler installed still ends the app (reported as such).

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
}

/// Number of signals (1..=64).
pub const NSIG: usize = 64;

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

/// Per-process signal state.
pub struct SignalState {
    /// Dispositions, index = signal number - 1.
    pub actions: [SigAction; NSIG],
    /// Blocked signals.
    pub blocked: u64,
}

impl SignalState {
    /// Every signal at its default, nothing blocked.
    pub fn new() -> SignalState {
        SignalState { actions: [SigAction::default(); NSIG], blocked: 0 }
    }
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState::new()
    }
}

/// Whether `sig`'s default action ends the process.
pub fn default_terminates(sig: u32) -> bool {
    !matches!(sig, 17 | 18 | 20 | 21 | 22 | 23 | 28)
}

/// Ends the app as killed by `sig` (exit status 128 + sig).
pub fn kill_with(sig: Signal, fault_address: u64, ip: u64, vector: u32, error_code: u32) -> ! {
    crate::hypercall::fatal(Fatal {
        reason: FatalReason::Signal as u32,
        signal: sig as u32,
        fault_address,
        instruction_pointer: ip,
        vector,
        error_code,
    })
}

/// Ends the app as killed by signal number `sig` it sent itself (kill/tgkill/abort).
pub fn kill_self(sig: u32, ip: u64) -> ! {
    crate::hypercall::fatal(Fatal {
        reason: FatalReason::Signal as u32,
        signal: sig,
        fault_address: 0,
        instruction_pointer: ip,
        vector: u32::MAX,
        error_code: 0,
    })
}
