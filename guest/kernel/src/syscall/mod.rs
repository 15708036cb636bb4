//! System calls: the entry from `arch::entry`, the dispatch table, and the handlers grouped by
//! subsystem (`fs`, `mm`, `proc`, `time`, `signal`, `poll`, `epoll`, `net`...). Handlers return
//! `SysResult`; the one place an `Errno` becomes `-errno` is [`syscall_handler`]. Every call
//! shows in the trace (`uvm run --trace-syscalls`); unknown numbers return ENOSYS and are
//! flagged there.

pub mod caps;
pub mod clone;
pub mod creds;
pub mod docs;
pub mod epoll;
pub mod exec;
pub mod fs;
pub mod futex;
pub mod ifreq;
pub mod image_read;
pub mod inet;
pub mod inotify;
pub mod itimer;
pub mod locks;
pub mod memfd;
pub mod misc;
pub mod mm;
pub mod names;
pub mod net;
pub mod netlink;
pub mod notes;
pub mod patch;
pub mod pidfd;
pub mod poll;
pub mod posix_timer;
pub mod prctl;
pub mod priority;
pub mod proc;
pub mod signal;
pub mod signalfd;
pub mod table;
pub mod time;
pub mod timerfd;
pub mod trace;
pub mod xattr;

use crate::errno::SysResult;

/// The return value the app sees for a handler's result.
pub fn return_value(result: SysResult) -> u64 {
    match result {
        Ok(v) => v as u64,
        Err(e) => (-(e.code() as i64)) as u64,
    }
}

/// The syscall entry's Rust half (called from `arch::entry` with the app's registers).
#[cfg(not(test))]
pub extern "C" fn syscall_handler(frame: &mut crate::arch::frame::TrapFrame) {
    let mut guard = crate::process::PROCESS.lock();
    let Some(process) = guard.as_mut() else {
        crate::hypercall::panic(b"syscall before the process exists");
    };
    process.switch_to(crate::process::current_cpu());
    let nr = frame.nr;
    // Where the `syscall` instruction is, if the call trapped (a patched site's entry marks
    // its frame): the site may be rewritten below, once this call is done.
    // With it, the registers, which show whether the instructions before the `syscall` are
    // what they look like (`patch::Regs`), taken before the call changes them; a patched call
    // copies nothing.
    let trapped = if frame.pad == crate::arch::frame::PATCHED_ENTRY {
        None
    } else {
        frame.rip.checked_sub(2).map(|at| (at, patch::Regs::of(frame)))
    };
    let args = frame.syscall_args();
    if process.trace && trace::never_returns(nr) {
        trace::report_exit(nr, &args);
    }
    let io_events = crate::wait::io_events();
    if let Some(area) = process.net_area {
        process.thread.net_mark = area.generation();
    }
    // The trace shows path arguments as strings, read now (execve replaces the memory).
    let paths = if process.trace { Some(trace::capture_paths(nr, &args, &mut process.space)) } else { None };
    let result = table::dispatch(nr, process, frame);
    process.stats.syscalls += 1;
    match &trapped {
        // An execve that succeeded left no old program to patch.
        Some(_) if result.is_ok() && exec::replaces_program(nr) => {}
        Some((at, regs)) => process.patcher.trapped(&mut process.space, *at, nr, regs),
        None => process.stats.patched_syscalls += 1,
    }
    if result == Err(crate::errno::Errno::ENOSYS) && !process.process_noted {
        if let Some(note) = notes::process_note(nr) {
            process.process_noted = true;
            crate::hypercall::console_write_all(2, note.as_bytes());
        }
    }
    if let Some(paths) = &paths {
        trace::report(nr, &args, paths, &result);
    }
    frame.rax = return_value(result);
    // Pending, unblocked signals run their handlers (or end the app) now, on the way back:
    // this is where a signal the app sent itself, or just unblocked, takes effect.
    crate::signal::deliver_to_app(process, frame);
    process.space.flush_now();
    // Threads waiting for a file look again if this syscall may have changed one (readiness
    // changes are counted where they happen: `fs::epoll::Changes`).
    if process.shared.vcpus.io_waiters != 0 && crate::wait::io_events() != io_events {
        process.io_changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::Errno;

    #[test]
    fn errors_become_negative_errno() {
        assert_eq!(return_value(Ok(5)), 5);
        assert_eq!(return_value(Err(Errno::ENOENT)) as i64, -2);
        assert_eq!(return_value(Err(Errno::ENOSYS)) as i64, -38);
    }
}
