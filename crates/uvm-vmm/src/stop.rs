//! Stopping a running VM, and the kicks and waits a stop must be able to cut short.
//!
//! A stop has a reason: `--timeout`, SIGINT or SIGTERM from outside, or the VM ending by itself
//! (a vCPU reported an exit, a kill, a panic or a fault: [`end`]). The first reason wins. A
//! stop wakes whatever the VMM waits on (a guest sleep or a read of stdin) through an eventfd,
//! rings every vCPU's bell (parks and run-slot waits) and kicks every registered vCPU out of
//! KVM_RUN: the kick signal interrupts the ioctl (EINTR), and `immediate_exit` closes the
//! window between the run loop's check of [`stopping`] and the next KVM_RUN. The same kick
//! ([`kick`]) serves TLB flushes and run-slot time slices. Signal handlers only touch atomics
//! and make async-signal-safe calls (write, futex, tgkill).
//!
//! SIGINT and SIGTERM do not stop the VM at first: uvm passes them on to the app (so do
//! SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2: [`PASSED_ON`]), as docker's signal proxy does, so an
//! app that handles them ends on its own terms (flushing what it holds, closing its
//! connections). The handler only records the signal and kicks vCPU 0, whose run loop hands
//! it to the guest (`interrupt::post_outside_signals`). A second SIGINT or SIGTERM, or the
//! app still running `--stop-timeout` after the first, stops the VM; so does the first when
//! the stop timeout is zero. `--timeout` ends a run as timeout(1) does: SIGTERM to the app
//! when it runs out, a stop the stop timeout later (exit status 124 either way: [`timed_out`]).
//!
//! The registry of vCPUs (thread id, `immediate_exit` byte) and the bells are process-wide:
//! one VM runs per process at a time (`uvm run`), as the stop reason itself is.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use uvm_abi::layout::MAX_VCPUS;

/// Why the VM was stopped from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `--timeout` ran out.
    Timeout,
    /// uvm received this signal (SIGINT, SIGTERM) a second time, or with no stop timeout.
    Signal(i32),
    /// The app was still running the stop timeout after uvm passed this signal on to it.
    StopTimeout(i32),
}

const NONE: i32 = 0;
const TIMEOUT: i32 = -1;
/// The VM ended by itself: a vCPU recorded the outcome (see [`end`]).
const ENDED: i32 = -2;
/// Added to a signal's number: the stop timeout after it ran out.
const STOP_TIMEOUT_BASE: i32 = 1 << 16;

/// The signals uvm passes on to the app instead of acting on them.
pub const PASSED_ON: [i32; 6] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

/// How an app is asked to stop: the signal uvm passes SIGTERM on as (and `--timeout` sends),
/// and how long the app may run on after the first SIGINT or SIGTERM (zero: they stop the VM
/// at once; so does `--timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StopPolicy {
    /// The app's stop signal (docker's STOPSIGNAL; SIGTERM unless the image or `--stop-signal`
    /// says).
    pub signal: i32,
    /// `--stop-timeout`.
    pub timeout: Duration,
}

/// The app's stop signal (see [`StopPolicy`]).
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(libc::SIGTERM);
/// A SIGINT or SIGTERM was passed on for the first time: vCPU 0 starts the stop timeout's
/// clock once it has handed it over.
static CLOCK_WANTED: AtomicBool = AtomicBool::new(false);

/// Signals received and not yet handed to the guest (bit `sig - 1`).
static OUTSIDE: AtomicU64 = AtomicU64::new(0);
/// The first SIGINT or SIGTERM passed on (0: none yet): the next one stops the VM.
static ASKED_TO_END: AtomicI32 = AtomicI32::new(0);
/// How long the app may run on after that first one, in milliseconds (0: it is not passed
/// on; it stops the VM).
static STOP_TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);
/// `--timeout` ran out and the app was sent its stop signal.
static TIMED_OUT: AtomicBool = AtomicBool::new(false);
/// Counts [`install`]s, so a stop-timeout clock of an earlier run stops nothing.
static RUN: AtomicU64 = AtomicU64::new(0);

const VCPUS: usize = MAX_VCPUS as usize;

static REASON: AtomicI32 = AtomicI32::new(NONE);
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Whether [`end`] wrote the eventfd (so the next [`install`] drains it).
static WAKE_DIRTY: AtomicBool = AtomicBool::new(false);
static PID: AtomicI32 = AtomicI32::new(0);

/// One registered vCPU: its thread (for the kick signal) and its `immediate_exit` byte.
struct Registered {
    tid: AtomicI32,
    immediate_exit: AtomicPtr<u8>,
}

static REGISTRY: [Registered; VCPUS] =
    [const { Registered { tid: AtomicI32::new(0), immediate_exit: AtomicPtr::new(std::ptr::null_mut()) } }; VCPUS];

/// One futex word per vCPU: rung (incremented and woken) whenever something its thread may be
/// waiting for happens (an unpark, a run slot, a stop). Waiters re-check their condition after
/// every wake, so a ring meant for someone else is only a spurious wake-up.
static BELLS: [AtomicU32; VCPUS] = [const { AtomicU32::new(0) }; VCPUS];

/// The signal used to kick a vCPU thread out of KVM_RUN (its handler does nothing).
fn kick_signal() -> i32 {
    libc::SIGRTMIN()
}

/// The external stop reason, if a stop was requested from outside.
pub fn requested() -> Option<StopReason> {
    match REASON.load(Ordering::SeqCst) {
        NONE | ENDED => None,
        TIMEOUT => Some(StopReason::Timeout),
        late if late > STOP_TIMEOUT_BASE => Some(StopReason::StopTimeout(late - STOP_TIMEOUT_BASE)),
        sig => Some(StopReason::Signal(sig)),
    }
}

/// Whether the VM is stopping, for any reason: every loop and wait checks it.
pub fn stopping() -> bool {
    REASON.load(Ordering::SeqCst) != NONE
}

/// The eventfd that becomes readable when a stop is requested (-1 before [`install`]).
pub fn wake_fd() -> i32 {
    WAKE_FD.load(Ordering::SeqCst)
}

/// The bell of vCPU `index` (indices past the last vCPU share the last bell).
pub fn bell(index: u32) -> &'static AtomicU32 {
    &BELLS[(index as usize).min(VCPUS - 1)]
}

/// Rings `bell`: waiters in [`wait_bell`] return.
pub fn ring(bell: &AtomicU32) {
    bell.fetch_add(1, Ordering::SeqCst);
    // SAFETY: FUTEX_WAKE on a live, aligned u32 wakes the threads waiting on it; no memory is
    // written. Async-signal-safe (a plain syscall).
    unsafe {
        libc::syscall(libc::SYS_futex, bell.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, i32::MAX);
    }
}

/// Waits until `bell` is rung (if it still holds `seen`), a signal arrives, or `timeout`
/// passes (`None`: no limit). May return early: callers re-check what they wait for.
pub fn wait_bell(bell: &AtomicU32, seen: u32, timeout: Option<Duration>) {
    let ts = timeout.map(timespec);
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT on a live, aligned u32 with a valid (or null) relative timeout; it
    // only sleeps while the word equals `seen`, and returns on a wake, a signal or the timeout.
    unsafe {
        libc::syscall(libc::SYS_futex, bell.as_ptr(), libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG, seen, ts_ptr);
    }
}

/// `d` as a relative timeout for futex and ppoll.
pub(crate) fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}

/// Registers the calling thread as vCPU `index`'s, with its `immediate_exit` byte (the
/// `kvm_run` field, which must stay mapped until [`unregister`]). Its timed waits (a guest's
/// short sleep, a park with a timeout) end when asked, not up to the default 50 us of timer
/// slack later: an app's 20 us back-off sleeps (Go's scheduler) must not cost 70 us.
pub fn register(index: u32, immediate_exit: *mut u8) {
    // SAFETY: PR_SET_TIMERSLACK takes an integer and changes only the calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    let Some(entry) = REGISTRY.get(index as usize) else { return };
    entry.immediate_exit.store(immediate_exit, Ordering::SeqCst);
    // SAFETY: gettid has no preconditions.
    entry.tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
}

/// Forgets vCPU `index` (its thread is leaving).
pub fn unregister(index: u32) {
    let Some(entry) = REGISTRY.get(index as usize) else { return };
    entry.tid.store(0, Ordering::SeqCst);
    entry.immediate_exit.store(std::ptr::null_mut(), Ordering::SeqCst);
}

/// Makes vCPU `index` leave KVM_RUN (or not enter it): sets its `immediate_exit` and sends its
/// thread the kick signal. Async-signal-safe.
pub fn kick(index: u32) {
    let Some(entry) = REGISTRY.get(index as usize) else { return };
    set_immediate_exit(entry, 1);
    let tid = entry.tid.load(Ordering::SeqCst);
    if tid != 0 {
        // SAFETY: tgkill sends the kick signal (whose handler does nothing) to one thread of this
        // process; a thread that has exited meanwhile gives ESRCH. Async-signal-safe.
        unsafe { libc::syscall(libc::SYS_tgkill, PID.load(Ordering::SeqCst), tid, kick_signal()) };
    }
}

/// After KVM_RUN returned: clears vCPU `index`'s `immediate_exit`, unless the VM is stopping
/// (then it stays set, so the vCPU cannot enter the guest again).
pub fn rearm(index: u32) {
    if let Some(entry) = REGISTRY.get(index as usize) {
        if !stopping() {
            set_immediate_exit(entry, 0);
        }
    }
}

fn set_immediate_exit(entry: &Registered, value: u8) {
    let flag = entry.immediate_exit.load(Ordering::SeqCst);
    if !flag.is_null() {
        // SAFETY: the pointer is a vCPU's kvm_run.immediate_exit byte, registered by `register`
        // and cleared before that mapping can go away; every host access to it is atomic (KVM
        // only reads it at entry).
        unsafe { AtomicU8::from_ptr(flag) }.store(value, Ordering::SeqCst);
    }
}

/// Wakes every wait and kicks every registered vCPU except `except` (the caller's own, if it
/// is one). Async-signal-safe.
fn wake_all(except: Option<u32>) {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local to an eventfd; async-signal-safe.
        unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
    for index in 0..MAX_VCPUS {
        if Some(index) == except {
            continue;
        }
        ring(bell(index));
        kick(index);
    }
    crate::doorbell::ring_all();
}

/// Records `reason` (the first one wins), wakes waits and kicks the vCPUs.
fn request(reason: i32) {
    if REASON.compare_exchange(NONE, reason, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        return;
    }
    // SAFETY: gettid has no preconditions; async-signal-safe.
    let me = unsafe { libc::gettid() };
    let own = (0..MAX_VCPUS).find(|&i| REGISTRY[i as usize].tid.load(Ordering::SeqCst) == me);
    if let Some(index) = own {
        // The handler runs on this vCPU's thread: whatever it was doing returns EINTR; make
        // sure it does not enter the guest again either.
        set_immediate_exit(&REGISTRY[index as usize], 1);
        ring(bell(index));
    }
    wake_all(own);
}

/// Claims the VM's end for a vCPU that has its outcome: whether this is the first stop (the
/// caller's outcome is the VM's). Nothing is woken: see [`end`].
pub fn claim_end() -> bool {
    REASON.compare_exchange(NONE, ENDED, Ordering::SeqCst, Ordering::SeqCst).is_ok()
}

/// Ends the VM from vCPU `me`, which has its outcome: returns whether this is the first stop
/// (the caller's outcome is the VM's) and, if so, wakes and kicks every other vCPU.
pub fn end(me: u32) -> bool {
    if !claim_end() {
        return false;
    }
    let others = (0..MAX_VCPUS).any(|i| i != me && REGISTRY[i as usize].tid.load(Ordering::SeqCst) != 0);
    if others {
        WAKE_DIRTY.store(true, Ordering::SeqCst);
        wake_all(Some(me));
    }
    true
}

fn mask_bit(sig: i32) -> u64 {
    1u64 << ((sig - 1) & 63)
}

/// SIGINT or SIGTERM stops the VM when the stop timeout is zero or one was passed on
/// already; every other signal of [`PASSED_ON`] (and the first SIGINT or SIGTERM) is
/// recorded for the app and vCPU 0 is kicked (and its park woken) to hand it over.
extern "C" fn on_outside_signal(sig: i32) {
    let ends = sig == libc::SIGINT || sig == libc::SIGTERM;
    if ends
        && (STOP_TIMEOUT_MS.load(Ordering::SeqCst) == 0
            || ASKED_TO_END.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst).is_err())
    {
        request(sig);
        return;
    }
    CLOCK_WANTED.fetch_or(ends, Ordering::SeqCst);
    pass_on(if sig == libc::SIGTERM { STOP_SIGNAL.load(Ordering::SeqCst) } else { sig });
}

/// Records `sig` for the app and has vCPU 0 hand it over: a kick out of KVM_RUN, a ring of
/// its doorbell (a park returns). Async-signal-safe.
fn pass_on(sig: i32) {
    OUTSIDE.fetch_or(mask_bit(sig), Ordering::SeqCst);
    kick(0);
    crate::doorbell::ring(0);
}

/// Whether signals from outside wait to be handed to the guest (vCPU 0's run loop checks).
pub fn outside_pending() -> bool {
    OUTSIDE.load(Ordering::Relaxed) != 0
}

/// Takes the signals from outside that wait for the guest (bit `sig - 1`).
pub fn take_outside() -> u64 {
    OUTSIDE.swap(0, Ordering::SeqCst)
}

/// Puts back signals the guest could not take yet (it has no per-CPU area before it boots).
pub fn put_back_outside(mask: u64) {
    OUTSIDE.fetch_or(mask, Ordering::SeqCst);
}

/// Once the app was handed the first SIGINT or SIGTERM: starts the stop timeout's clock,
/// after which the VM is stopped.
pub fn start_stop_timeout() {
    let sig = ASKED_TO_END.load(Ordering::SeqCst);
    if sig == 0 || !CLOCK_WANTED.swap(false, Ordering::SeqCst) {
        return;
    }
    let limit = Duration::from_millis(STOP_TIMEOUT_MS.load(Ordering::SeqCst));
    let run = RUN.load(Ordering::SeqCst);
    let _ = with_stop_signals_blocked(|| {
        std::thread::Builder::new().name("uvm-stop-timeout".into()).spawn(move || {
            std::thread::sleep(limit);
            if RUN.load(Ordering::SeqCst) == run {
                request(STOP_TIMEOUT_BASE + sig);
            }
        })
    });
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

/// The `--timeout` clock of run `run`: after `limit`, as timeout(1) does, the app is sent
/// SIGTERM (passed on as if uvm had got it: as the app's stop signal), and the VM is stopped
/// if the app still runs the stop timeout later; with no stop timeout it is stopped at once.
fn time_up(limit: Duration, run: u64) {
    std::thread::sleep(limit);
    if RUN.load(Ordering::SeqCst) != run {
        return;
    }
    let grace = STOP_TIMEOUT_MS.load(Ordering::SeqCst);
    if grace > 0 {
        TIMED_OUT.store(true, Ordering::SeqCst);
        pass_on(STOP_SIGNAL.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(grace));
        if RUN.load(Ordering::SeqCst) != run {
            return;
        }
    }
    request(TIMEOUT);
}

/// The app's stop signal in this run (see [`StopPolicy`]).
pub fn stop_signal() -> i32 {
    STOP_SIGNAL.load(Ordering::SeqCst)
}

/// Whether `--timeout` ran out in this run (the app was sent its stop signal, or stopped):
/// uvm's exit status is then 124 however the app ended, as timeout(1)'s is.
pub fn timed_out() -> bool {
    TIMED_OUT.load(Ordering::SeqCst) || requested() == Some(StopReason::Timeout)
}

/// Blocks the signals of [`PASSED_ON`] (and the kick signal, with `and_kick`) on this
/// thread; returns the mask from before.
fn block_signals(and_kick: bool) -> libc::sigset_t {
    // SAFETY: sigset operations on local sets; pthread_sigmask changes this thread's mask only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if and_kick {
            libc::sigaddset(&mut set, kick_signal());
        }
        for sig in PASSED_ON {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        old
    }
}

/// Sets this thread's signal mask back to `mask` (from [`block_signals`]).
fn restore_mask(mask: &libc::sigset_t) {
    // SAFETY: `mask` is a mask pthread_sigmask returned; this thread's mask only.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
}

/// Runs `f` (which spawns a thread) with the signals of [`PASSED_ON`] blocked, so the new
/// thread inherits a mask without them: they are for the thread that called [`install`].
pub fn with_stop_signals_blocked<R>(f: impl FnOnce() -> R) -> R {
    let old = block_signals(false);
    let result = f();
    restore_mask(&old);
    result
}

/// Prepares a run: installs the handlers of [`PASSED_ON`] and the kick's and the wake eventfd,
/// forgets the previous run's end (an external stop stays: uvm is being stopped) and the
/// signals it passed on, and starts the `--timeout` clock. `stop` says how the app is asked
/// to stop.
pub fn install(timeout: Option<Duration>, stop: StopPolicy) {
    if WAKE_FD.load(Ordering::SeqCst) < 0 {
        // SAFETY: eventfd has no memory arguments.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        WAKE_FD.store(fd, Ordering::SeqCst);
    }
    let _ = REASON.compare_exchange(ENDED, NONE, Ordering::SeqCst, Ordering::SeqCst);
    if WAKE_DIRTY.swap(false, Ordering::SeqCst) && requested().is_none() {
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into a live local from the non-blocking eventfd (drains it).
        unsafe { libc::read(WAKE_FD.load(Ordering::SeqCst), (&mut count as *mut u64).cast(), 8) };
    }
    // SAFETY: getpid has no preconditions.
    PID.store(unsafe { libc::getpid() }, Ordering::SeqCst);
    RUN.fetch_add(1, Ordering::SeqCst);
    OUTSIDE.store(0, Ordering::SeqCst);
    ASKED_TO_END.store(0, Ordering::SeqCst);
    CLOCK_WANTED.store(false, Ordering::SeqCst);
    STOP_SIGNAL.store(stop.signal, Ordering::SeqCst);
    let stop_ms = u64::try_from(stop.timeout.as_millis()).unwrap_or(u64::MAX);
    STOP_TIMEOUT_MS.store(if stop.timeout.is_zero() { 0 } else { stop_ms.max(1) }, Ordering::SeqCst);
    set_handler(kick_signal(), on_kick);
    for sig in PASSED_ON {
        set_handler(sig, on_outside_signal);
    }
    TIMED_OUT.store(false, Ordering::SeqCst);
    if let Some(limit) = timeout {
        let run = RUN.load(Ordering::SeqCst);
        // The timer thread must not take the signals passed on (they belong to the vCPU
        // thread, where they interrupt KVM_RUN).
        let _ = with_stop_signals_blocked(|| {
            std::thread::Builder::new().name("uvm-timeout".into()).spawn(move || time_up(limit, run))
        });
    }
}

/// Waits up to `timeout` until `fd` is readable (or at its end), returning early when the VM
/// is stopping or a signal for the app came. Returns whether `fd` is readable.
pub fn wait_readable_for(fd: i32, timeout: Duration) -> bool {
    wait_readable_until(fd, Some(std::time::Instant::now() + timeout))
}

/// Waits until `fd` is readable, the VM is stopping or a signal for the app came. Returns
/// whether `fd` is readable.
pub fn wait_readable(fd: i32) -> bool {
    wait_readable_until(fd, None)
}

/// Waits until `fd` is readable (true), or the VM is stopping, a signal for the app came
/// (the guest's read returns EINTR, and is made again after a SA_RESTART handler; vCPU 0
/// hands the signal over on its way back) or `deadline` passed (false). The kick and the
/// signals passed on are blocked while the conditions are checked and unblocked only inside
/// the poll (ppoll's mask), so one that comes between the check and the poll ends the poll
/// at once instead of being missed.
fn wait_readable_until(fd: i32, deadline: Option<std::time::Instant>) -> bool {
    let wake = wake_fd();
    let open_mask = block_signals(true);
    let readable = loop {
        if stopping() || outside_pending() {
            break false;
        }
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        let ts = left.map(timespec);
        let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
        let mut fds = [
            libc::pollfd { fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: wake, events: libc::POLLIN, revents: 0 },
        ];
        let n = if wake >= 0 { 2 } else { 1 };
        // SAFETY: `n` valid pollfds in a live local array, a valid (or null: no limit)
        // timeout and the thread's own mask from before the block above.
        let r = unsafe { libc::ppoll(fds.as_mut_ptr(), n, ts_ptr, &open_mask) };
        if r > 0 && fds[0].revents != 0 {
            break true;
        }
        if left.is_some_and(|left| left.is_zero()) {
            break false;
        }
    };
    restore_mask(&open_mask);
    readable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rung_bell_ends_a_wait_and_a_stale_value_does_not_block() {
        let bell = AtomicU32::new(0);
        let seen = bell.load(Ordering::SeqCst);
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                ring(&bell);
            });
            let started = std::time::Instant::now();
            while bell.load(Ordering::SeqCst) == seen {
                wait_bell(&bell, seen, Some(Duration::from_secs(5)));
            }
            assert!(started.elapsed() < Duration::from_secs(4));
        });
        // The word moved on: waiting for the old value returns at once.
        let started = std::time::Instant::now();
        wait_bell(&bell, seen, Some(Duration::from_secs(5)));
        assert!(started.elapsed() < Duration::from_secs(1));
        // A timeout ends a wait nobody rings.
        let now = bell.load(Ordering::SeqCst);
        let started = std::time::Instant::now();
        wait_bell(&bell, now, Some(Duration::from_millis(10)));
        assert!(started.elapsed() >= Duration::from_millis(5));
    }
}
