//! Stopped processes (job control): a stop signal stops a process until a SIGCONT, as on
//! Linux, and its parent learns both through wait (WUNTRACED/WSTOPPED, WCONTINUED) and
//! SIGCHLD (CLD_STOPPED, CLD_CONTINUED; none with SA_NOCLDSTOP).
//!
//! - A stop signal whose action is to stop (SIGSTOP always; SIGTSTP, SIGTTIN and SIGTTOU at
//!   their default) is taken by the first thread of the process that meets it: on its way
//!   back to the app, or in a wait inside a syscall ([`stop_if_asked`], from
//!   `wait::signal_pending`), so a process blocked in `read` or `nanosleep` stops too, and its
//!   call goes on after the SIGCONT (a sleep ends at its deadline, as Linux's restarted one).
//!   That thread stops the process: it marks the other threads (`ThreadSignals::stopping`)
//!   and interrupts them (which wakes one that waits), and parks until continued. Each other
//!   thread parks where it next meets the signal check; the last to stop (or to end) tells
//!   the parent, so a parent that sees the stop sees every thread stopped, as on Linux.
//! - SIGTSTP, SIGTTIN and SIGTTOU to a process whose group is orphaned (no member has a
//!   parent in another group of its session) are dropped, as Linux drops them: nothing
//!   would ever continue it.
//! - Sending a SIGCONT ([`before_send`]) discards the process's pending stop signals and
//!   continues it if stopped: its parent's WCONTINUED sees it at once, and its SIGCHLD comes
//!   when the process runs again (from its first thread to wake, as Linux sends it). Sending a
//!   stop signal discards a pending SIGCONT; a SIGKILL wakes a stopped process to die.
//! - The app is the VM's init and ignores stop signals (`signal::SignalState::init`), as a
//!   pid namespace's init does; so nothing here stops the VM.

use crate::family::{self, CLD_CONTINUED, CLD_STOPPED};
use crate::process::Process;
use crate::signal::{bit, deliver, sa, Action, SigFields, SigInfo, Signal, STOP_SIGNALS};

/// What a parent's wait may learn of a child that has not ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobReport {
    /// It stopped, by this signal (WUNTRACED).
    Stopped(u32),
    /// It was continued (WCONTINUED).
    Continued,
}

impl JobReport {
    /// The status wait4 reports: 0x7f with the signal in bits 8-15, or 0xffff.
    pub fn wait_status(self) -> i32 {
        match self {
            JobReport::Stopped(sig) => ((sig as i32 & 0xff) << 8) | 0x7f,
            JobReport::Continued => 0xffff,
        }
    }

    /// waitid's and SIGCHLD's si_code and si_status.
    pub fn code_and_status(self) -> (i32, i32) {
        match self {
            JobReport::Stopped(sig) => (CLD_STOPPED, sig as i32),
            JobReport::Continued => (CLD_CONTINUED, Signal::SIGCONT as i32),
        }
    }
}

/// A process's job state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobState {
    /// It is stopped.
    pub stopped: bool,
    /// The last stop or continue its parent has not waited for.
    pub report: Option<JobReport>,
    /// It was continued and has not told its parent yet (SIGCHLD, CLD_CONTINUED).
    pub continued_untold: bool,
    /// The stop signal of a stop its parent has not been told of yet.
    pub stop_untold: Option<u32>,
    /// How many of its threads have yet to stop before the parent is told.
    pub unstopped: u32,
}

/// Stops the process here if a stop signal asks for it, or waits while another thread has
/// stopped it; returns once it is continued (or a SIGKILL or the thread's end is pending).
/// Costs a mask test when nothing asks.
#[inline]
pub fn stop_if_asked(p: &mut Process) {
    let pending = p.signals.pending.mask() | p.thread.signals.pending.mask();
    let asked = pending & STOP_SIGNALS & !p.thread.signals.blocked != 0 || p.thread.signals.stopping;
    if asked || p.job.stopped || p.job.continued_untold {
        stop_now(p);
    }
}

/// [`stop_if_asked`]'s work: takes the stop signals whose action is to stop, stops the
/// process (once), and parks while it is stopped.
#[cold]
#[inline(never)]
fn stop_now(p: &mut Process) {
    let allowed = STOP_SIGNALS & !p.thread.signals.blocked;
    for sig in [Signal::SIGSTOP, Signal::SIGTSTP, Signal::SIGTTIN, Signal::SIGTTOU] {
        let sig = sig as u32;
        if allowed & bit(sig) == 0 || crate::signal::action_of(sig, &p.signals.action(sig)) != Action::Stop {
            continue;
        }
        // Taken (the thread's own first, as delivery takes them).
        if deliver::dequeue(&mut p.signals, &mut p.thread.signals, bit(sig)).is_none() || p.signals.init {
            continue;
        }
        if sig != Signal::SIGSTOP as u32 && group_orphaned(p) {
            continue;
        }
        if !p.job.stopped {
            begin_stop(p, sig);
        }
    }
    if p.thread.signals.stopping {
        thread_stopped(p);
    }
    if p.job.stopped && !must_leave(p) {
        p.thread.signals.was_stopped = true;
    }
    while p.job.stopped && !must_leave(p) {
        p.park(u64::MAX);
    }
    if p.job.continued_untold && !p.job.stopped {
        p.job.continued_untold = false;
        tell_parent(p, JobReport::Continued);
    }
}

/// Whether a stopped thread must run on anyway: a SIGKILL is pending, or its end.
fn must_leave(p: &Process) -> bool {
    let pending = p.signals.pending.mask() | p.thread.signals.pending.mask();
    pending & bit(Signal::SIGKILL as u32) != 0 || p.thread.signals.ending
}

/// Stops the process by `sig`: its other threads stop where they next meet the signal
/// check, and the last of them tells the parent (this one, if it has none).
fn begin_stop(p: &mut Process, sig: u32) {
    p.job.stopped = true;
    p.job.stop_untold = Some(sig);
    p.job.unstopped = p.threads.others.len() as u32;
    p.view.set_stopped(true);
    for thread in p.threads.others.iter_mut() {
        thread.signals.stopping = true;
        thread.nudge();
    }
    tell_parent_if_all_stopped(p);
}

/// The current thread, which was told to stop, has stopped (or ends: `clone::exit_thread`).
pub fn thread_stopped(p: &mut Process) {
    p.thread.signals.stopping = false;
    p.job.unstopped = p.job.unstopped.saturating_sub(1);
    tell_parent_if_all_stopped(p);
}

/// Tells the parent of a stop once every thread has stopped.
fn tell_parent_if_all_stopped(p: &mut Process) {
    if p.job.stopped && p.job.unstopped == 0 {
        if let Some(sig) = p.job.stop_untold.take() {
            tell_parent(p, JobReport::Stopped(sig));
        }
    }
}

/// Records `report` for the parent's wait and sends it SIGCHLD (unless its SIGCHLD action
/// has SA_NOCLDSTOP); wakes its waits.
fn tell_parent(p: &mut Process, report: JobReport) {
    p.job.report = Some(report);
    let (pid, uid, ppid) = (p.pid, p.real_uid(), p.ppid);
    if let Some(parent) = p.other(ppid) {
        if parent.signals.action(Signal::SIGCHLD as u32).flags & sa::NOCLDSTOP == 0 {
            let (code, status) = report.code_and_status();
            let fields = SigFields::Child { pid, uid, status };
            let info = SigInfo { signo: Signal::SIGCHLD as u32, errno: 0, code, fields, origin: None };
            family::signal_process(parent, info);
        }
    }
    p.io_changed();
}

/// Whether `p`'s process group is orphaned: none of its members has a parent in another
/// group of the same session.
fn group_orphaned(p: &Process) -> bool {
    let (pgid, sid) = (p.pgid, p.sid);
    let all = || core::iter::once(p).chain(p.shared.processes.iter());
    !all().filter(|m| m.pgid == pgid).any(|m| all().any(|q| q.pid == m.ppid && q.pgid != pgid && q.sid == sid))
}

/// What sending `sig` to process `q` does first, as Linux's prepare_signal: a SIGCONT
/// discards pending stop signals and continues `q` if stopped; a stop signal discards a
/// pending SIGCONT; a SIGKILL wakes a stopped `q`.
pub fn before_send(q: &mut Process, sig: u32) {
    if sig == Signal::SIGCONT as u32 {
        discard(q, STOP_SIGNALS);
        if q.job.stopped {
            q.job.stopped = false;
            q.job.stop_untold = None;
            q.job.report = Some(JobReport::Continued);
            q.job.continued_untold = true;
            q.view.set_stopped(false);
            wake_all(q);
        }
    } else if crate::signal::is_stop_signal(sig) {
        discard(q, bit(Signal::SIGCONT as u32));
    } else if sig == Signal::SIGKILL as u32 && q.job.stopped {
        wake_all(q);
    }
}

/// Drops the pending signals of `mask` from `q` and all its threads.
fn discard(q: &mut Process, mask: u64) {
    q.signals.pending.discard_all(mask);
    q.thread.signals.pending.discard_all(mask);
    for thread in q.threads.others.iter_mut() {
        thread.signals.pending.discard_all(mask);
    }
}

/// Unparks every thread of `q`.
fn wake_all(q: &Process) {
    for cpu in core::iter::once(q.thread.cpu).chain(q.threads.others.iter().map(|t| t.cpu)) {
        crate::hypercall::unpark(cpu);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_are_linuxs() {
        assert_eq!(JobReport::Stopped(19).wait_status(), 0x137f);
        assert_eq!(JobReport::Continued.wait_status(), 0xffff);
        assert_eq!(JobReport::Stopped(20).code_and_status(), (CLD_STOPPED, 20));
        assert_eq!(JobReport::Continued.code_and_status(), (CLD_CONTINUED, 18));
    }
}
