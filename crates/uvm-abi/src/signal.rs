//! Linux signal numbers by name (x86-64): the `Fatal` hypercall and the trace speak them, the
//! guest and the host both print them.

/// The names of signals 1..=31.
const NAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// SIGPIPE: a write to a pipe or socket whose reading end is gone.
pub const SIGPIPE: u32 = 13;

/// SIGALRM: a timer (alarm, setitimer) expired.
pub const SIGALRM: u32 = 14;

/// SIGTERM: the polite request to end (`kill`'s default; what `--timeout` sends the app).
pub const SIGTERM: u32 = 15;

/// The name of standard signal `sig` (1..=31); `None` for 0 and the real-time signals.
pub fn name(sig: u32) -> Option<&'static str> {
    NAMES.get((sig as usize).wrapping_sub(1)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_numbering() {
        assert_eq!(name(1), Some("SIGHUP"));
        assert_eq!(name(11), Some("SIGSEGV"));
        assert_eq!(name(SIGPIPE), Some("SIGPIPE"));
        assert_eq!(name(31), Some("SIGSYS"));
        assert_eq!(name(0), None);
        assert_eq!(name(34), None);
    }
}
