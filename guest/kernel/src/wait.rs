//! Waiting inside a syscall: the thread parks its vCPU in the VMM with the process unlocked
//! (no spinning), and wakes when another thread unparks it (a futex wake, a file change, a
//! signal), when its deadline passes, or when the VM stops. Every wake re-checks what the
//! thread waits for, so stale or spurious wakes are harmless.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::errno::Errno;
use crate::process::Process;

/// How many times any file's readiness may have changed (pipes, eventfds, sockets: every
/// `fs::epoll::Changes` bump). A syscall that moved it wakes the threads waiting for I/O.
static IO_EVENTS: AtomicU64 = AtomicU64::new(0);

/// A file's readiness may have changed.
pub fn note_io_event() {
    IO_EVENTS.fetch_add(1, Ordering::Relaxed);
}

/// The count of [`note_io_event`]s so far (compare two readings).
pub fn io_events() -> u64 {
    IO_EVENTS.load(Ordering::Relaxed)
}

/// Whether a signal the current thread does not block is pending for it: such a signal ends a
/// wait with EINTR (its handler runs on the way back to the app). So does the thread's end
/// (another thread's execve: `ThreadSignals::ending`). The signals that came meanwhile are
/// queued first ([`queue_arrived`]).
pub fn signal_pending(p: &mut Process) -> bool {
    queue_arrived(p);
    unblocked_signal_pending(p)
}

/// Queues the signals that arrived without a syscall to send them: those from outside the VM
/// (`signal::outside`) and those of expired timers (`syscall::itimer`). A wait does this before
/// it looks at what it waits for: a signal the app blocks and waits for (sigwaitinfo of a
/// timer's signal, or of a SIGTERM from outside) would otherwise be queued after that look,
/// and the thread would park with nobody left to wake it.
fn queue_arrived(p: &mut Process) {
    if crate::signal::outside::pending() {
        crate::signal::outside::take(p);
    }
    if crate::syscall::itimer::any(p) {
        crate::syscall::itimer::fire_if_due(p);
    }
}

/// Records the calling thread's pending signals (its own and its process's) for the
/// signalfds a readiness scan (poll, select, epoll_wait) is about to look at: see
/// `fs::signalfd`. The signals that arrived are queued first, as for a wait.
pub fn note_scanner_signals(p: &mut Process) {
    queue_arrived(p);
    crate::fs::signalfd::set_caller_pending(p.signals.pending.mask() | p.thread.signals.pending.mask());
}

/// [`signal_pending`] without queueing what arrived. A stop signal stops the process here
/// first, until a SIGCONT (`crate::job`): the wait then goes on.
fn unblocked_signal_pending(p: &mut Process) -> bool {
    crate::job::stop_if_asked(p);
    p.thread.signals.ending
        || crate::signal::deliver::has_effective(&p.signals, &p.thread.signals, !p.thread.signals.blocked)
}

/// The monotonic clock, in nanoseconds.
pub fn now_ns(p: &Process) -> u64 {
    p.clock.monotonic_ns(crate::time::rdtsc())
}

/// Nanoseconds until `deadline` (`u64::MAX` for none); ETIMEDOUT once it has passed.
fn time_left(p: &Process, deadline: Option<u64>) -> Result<u64, Errno> {
    match deadline {
        Some(deadline) => match deadline.checked_sub(now_ns(p)) {
            Some(left) if left > 0 => Ok(left),
            _ => Err(Errno::ETIMEDOUT),
        },
        None => Ok(u64::MAX),
    }
}

/// Waits until `ready(p)` holds (`Ok`), a signal is pending for the thread (EINTR), or the
/// monotonic clock reaches `deadline` (ETIMEDOUT; `None`: no deadline).
pub fn wait_until(
    p: &mut Process,
    deadline: Option<u64>,
    mut ready: impl FnMut(&mut Process) -> bool,
) -> Result<(), Errno> {
    loop {
        queue_arrived(p);
        if ready(p) {
            return Ok(());
        }
        if unblocked_signal_pending(p) {
            return Err(Errno::EINTR);
        }
        let timeout = time_left(p, deadline)?;
        if cfg!(test) {
            // Host tests have no other thread to wait for.
            return Err(Errno::ETIMEDOUT);
        }
        // Another thread ends these waits (a futex's waker, a signal's sender), or a timer.
        p.park_spinning(timeout.min(crate::syscall::itimer::park_limit(p)).min(crate::fs::timerfd::park_limit()));
    }
}

/// Waits once for any file to change (pipe data or room, a closed end, a host socket's
/// readiness), up to `deadline`: the caller then retries what it could not do. EINTR when a
/// signal is pending.
///
/// With IP sockets, the VMM's poller wakes the vCPUs marked in the shared area's waiters
/// after it bumps the generation; marking this vCPU *before* re-reading the generation, and
/// not parking if it moved since the thread last looked (`Thread::net_mark`), means a host
/// event between the caller's check and the park is never missed.
pub fn wait_for_io(p: &mut Process, deadline: Option<u64>) -> Result<(), Errno> {
    let events = io_events();
    let stopped = p.thread.signals.was_stopped;
    if signal_pending(p) {
        return Err(Errno::EINTR);
    }
    if io_events() != events || p.thread.signals.was_stopped != stopped {
        // A signal that arrived was queued just now (from outside, or a timer's): a signalfd
        // may read it, so the caller looks again before any park. So it does after the
        // thread was stopped and continued here: epoll_wait then ends (EINTR).
        return Ok(());
    }
    let timeout = time_left(p, deadline)?;
    let cpu = p.thread.cpu;
    p.shared.vcpus.wait_for_io(cpu);
    // A timer that expires meanwhile ends the park (the caller then finds its signal, or its
    // timerfd readable).
    let timeout = timeout.min(crate::syscall::itimer::park_limit(p)).min(crate::fs::timerfd::park_limit());
    let Some(area) = p.net_area else {
        // Without IP sockets, what it waits for is another process's (a pipe's other end,
        // a child) or the host's console: a short spin first.
        p.park_spinning(timeout);
        return Ok(());
    };
    area.add_waiter(cpu);
    let now = area.generation();
    if now == p.thread.net_mark {
        p.park(timeout);
    }
    area.remove_waiter(cpu);
    p.thread.net_mark = area.generation();
    Ok(())
}
