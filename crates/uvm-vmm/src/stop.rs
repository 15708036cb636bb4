//! Stopping a running VM from outside: `--timeout`, SIGINT and SIGTERM.
//!
//! A stop request records its reason, wakes whatever the VMM is waiting on (a guest sleep or a
//! read of stdin) through an eventfd, and kicks the vCPU out of KVM_RUN: the signal interrupts
//! the ioctl (EINTR), and `immediate_exit` closes the window between the loop's check and the
//! next KVM_RUN. The run loop checks [`requested`] before every entry, so a guest can never
//! keep uvm alive after a stop was asked for. Signal handlers only touch atomics and make
//! async-signal-safe calls (write, pthread_kill).

use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

/// Why the VM was stopped from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `--timeout` ran out.
    Timeout,
    /// uvm received this signal (SIGINT, SIGTERM).
    Signal(i32),
}

const NONE: i32 = 0;
const TIMEOUT: i32 = -1;

static REASON: AtomicI32 = AtomicI32::new(NONE);
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static IMMEDIATE_EXIT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static VCPU_THREAD: AtomicU64 = AtomicU64::new(0);

/// The signal used to kick the vCPU thread out of KVM_RUN (its handler does nothing).
fn kick_signal() -> i32 {
    libc::SIGRTMIN()
}

/// The stop reason, if a stop was requested.
pub fn requested() -> Option<StopReason> {
    match REASON.load(Ordering::SeqCst) {
        NONE => None,
        TIMEOUT => Some(StopReason::Timeout),
        sig => Some(StopReason::Signal(sig)),
    }
}

/// The eventfd that becomes readable when a stop is requested (-1 before [`install`]).
pub fn wake_fd() -> i32 {
    WAKE_FD.load(Ordering::SeqCst)
}

/// Records `reason` (the first one wins), wakes waits and kicks the vCPU.
fn request(reason: i32) {
    if REASON.compare_exchange(NONE, reason, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        return;
    }
    let flag = IMMEDIATE_EXIT.load(Ordering::SeqCst);
    if !flag.is_null() {
        // SAFETY: the pointer is the vCPU's kvm_run.immediate_exit byte, registered by
        // `set_vcpu` and cleared before that mapping goes away; a byte store is atomic enough
        // for KVM, which only reads it at entry.
        unsafe { flag.write_volatile(1) };
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local to an eventfd; async-signal-safe.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
    let thread = VCPU_THREAD.load(Ordering::SeqCst);
    // SAFETY: pthread_self has no preconditions.
    let this_thread = unsafe { libc::pthread_self() } as u64;
    if thread != 0 && this_thread != thread {
        // SAFETY: `thread` is the vCPU thread's pthread_t (the main thread, which outlives
        // the VM run); pthread_kill is async-signal-safe and the kick's handler does nothing.
        unsafe { libc::pthread_kill(thread as libc::pthread_t, kick_signal()) };
    }
}

extern "C" fn on_stop_signal(sig: i32) {
    request(sig);
}

extern "C" fn on_kick(_: i32) {}

fn set_handler(sig: i32, handler: extern "C" fn(i32)) {
    // SAFETY: sigaction with a zeroed struct, an empty mask and a handler that is
    // async-signal-safe; no SA_RESTART, so blocking calls (KVM_RUN, ppoll) return EINTR.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut());
    }
}

/// Installs the SIGINT/SIGTERM handlers and the wake eventfd, registers the calling thread
/// as the vCPU thread, and starts the `--timeout` clock.
pub fn install(timeout: Option<Duration>) {
    if WAKE_FD.load(Ordering::SeqCst) < 0 {
        // SAFETY: eventfd has no memory arguments.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        WAKE_FD.store(fd, Ordering::SeqCst);
    }
    // SAFETY: pthread_self has no preconditions.
    VCPU_THREAD.store(unsafe { libc::pthread_self() } as u64, Ordering::SeqCst);
    set_handler(kick_signal(), on_kick);
    set_handler(libc::SIGINT, on_stop_signal);
    set_handler(libc::SIGTERM, on_stop_signal);
    if let Some(limit) = timeout {
        // The timer thread must not take SIGINT/SIGTERM (they belong to the vCPU thread, where
        // they interrupt KVM_RUN): block them while it is created, so it inherits the mask.
        // SAFETY: sigset operations on a local set; pthread_sigmask on this thread.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            std::thread::spawn(move || {
                std::thread::sleep(limit);
                request(TIMEOUT);
            });
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
    }
}

/// Registers (or with null, forgets) the vCPU's `immediate_exit` byte.
pub fn set_immediate_exit(flag: *mut u8) {
    IMMEDIATE_EXIT.store(flag, Ordering::SeqCst);
}

/// Sleeps up to `duration`, returning early when a stop is requested.
pub fn sleep(duration: Duration) {
    let fd = wake_fd();
    if fd < 0 {
        std::thread::sleep(duration);
        return;
    }
    let deadline = std::time::Instant::now() + duration;
    while requested().is_none() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        let ts =
            libc::timespec { tv_sec: left.as_secs() as libc::time_t, tv_nsec: left.subsec_nanos() as libc::c_long };
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd and a valid timespec, both live locals.
        unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    }
}

/// Waits up to `timeout` until `fd` is readable (or at its end), returning early when a stop
/// is requested. Returns whether `fd` is readable.
pub fn wait_readable_for(fd: i32, timeout: Duration) -> bool {
    let wake = wake_fd();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if requested().is_some() {
            return false;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ts =
            libc::timespec { tv_sec: left.as_secs() as libc::time_t, tv_nsec: left.subsec_nanos() as libc::c_long };
        let mut fds = [
            libc::pollfd { fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: wake, events: libc::POLLIN, revents: 0 },
        ];
        let n = if wake >= 0 { 2 } else { 1 };
        // SAFETY: `n` valid pollfds in a live local array and a valid timespec.
        let r = unsafe { libc::ppoll(fds.as_mut_ptr(), n, &ts, std::ptr::null()) };
        if r > 0 && fds[0].revents != 0 {
            return true;
        }
        if left.is_zero() {
            return false;
        }
    }
}

/// Waits until `fd` is readable or a stop is requested. Returns whether `fd` is readable.
pub fn wait_readable(fd: i32) -> bool {
    let wake = wake_fd();
    loop {
        if requested().is_some() {
            return false;
        }
        let mut fds = [
            libc::pollfd { fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: wake, events: libc::POLLIN, revents: 0 },
        ];
        let n = if wake >= 0 { 2 } else { 1 };
        // SAFETY: `n` valid pollfds in a live local array; no timeout.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), n, -1) };
        if r > 0 && fds[0].revents != 0 {
            return true;
        }
    }
}
