//! The syscall trace (`uvm run --trace-syscalls`): one line per syscall, `name(args) =
//! result`, sent to the host's stderr. Formatted without the heap into a fixed buffer; costs
//! nothing when tracing is off (the dispatcher checks one flag).

use core::fmt::Write;

use crate::errno::SysResult;
use crate::panic::MessageBuffer;

/// Formats one trace line.
pub fn format_line(nr: u64, args: &[u64; 6], result: &SysResult) -> MessageBuffer {
    let mut m = MessageBuffer::new();
    let (name, argc, known) = match super::table::entry(nr) {
        Some((name, argc)) => (name, argc, true),
        None => (super::names::linux_name(nr).unwrap_or("?"), 6, false),
    };
    let _ = write!(m, "{name}(");
    for (i, a) in args.iter().take(argc).enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        if *a > 0xffff && *a < u64::MAX - 4096 {
            let _ = write!(m, "{sep}{a:#x}");
        } else {
            let _ = write!(m, "{sep}{}", *a as i64);
        }
    }
    let _ = match result {
        Ok(v) if *v > 0xffff => write!(m, ") = {v:#x}"),
        Ok(v) => write!(m, ") = {v}"),
        Err(e) => write!(m, ") = -1 {}", e.name()),
    };
    if !known {
        let _ = write!(m, " [syscall {nr} not implemented]");
    }
    m
}

/// Whether syscall `nr` ends the app (so it must be traced before it runs).
pub fn never_returns(nr: u64) -> bool {
    nr == 60 || nr == 231
}

/// Formats the trace line of a call that does not return: `exit_group(0) = ?`, as strace.
pub fn format_exit_line(nr: u64, args: &[u64; 6]) -> MessageBuffer {
    let mut m = MessageBuffer::new();
    let name = super::names::linux_name(nr).unwrap_or("?");
    let _ = write!(m, "{name}({}) = ?", args[0] as i64);
    m
}

/// Sends the trace line of exit/exit_group, before it runs.
#[cfg(not(test))]
pub fn report_exit(nr: u64, args: &[u64; 6]) {
    crate::hypercall::trace(format_exit_line(nr, args).as_bytes());
}

/// Sends one trace line to the host.
#[cfg(not(test))]
pub fn report(nr: u64, args: &[u64; 6], result: &SysResult) {
    crate::hypercall::trace(format_line(nr, args, result).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::Errno;

    #[test]
    fn exits_are_traced_like_strace() {
        assert!(never_returns(231) && never_returns(60) && !never_returns(1));
        let line = format_exit_line(231, &[3, 0, 0, 0, 0, 0]);
        assert_eq!(core::str::from_utf8(line.as_bytes()).unwrap(), "exit_group(3) = ?");
    }

    #[test]
    fn known_and_unknown_syscalls() {
        let line = format_line(1, &[1, 0x7fff_0000, 5, 0, 0, 0], &Ok(5));
        assert_eq!(core::str::from_utf8(line.as_bytes()).unwrap(), "write(1, 0x7fff0000, 5) = 5");
        let line = format_line(425, &[0; 6], &Err(Errno::ENOSYS));
        let text = core::str::from_utf8(line.as_bytes()).unwrap();
        assert!(text.starts_with("io_uring_setup("), "{text}");
        assert!(text.ends_with("= -1 ENOSYS [syscall 425 not implemented]"), "{text}");
    }
}
