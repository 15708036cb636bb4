//! The syscall trace (`uvm run --trace-syscalls`): one line per syscall, `name(args) =
//! result`, sent to the host's stderr, with path arguments shown as strings (as strace:
//! `openat(-100, "/etc/app.conf", 0, 0) = 3`), read before the call runs (execve replaces
//! the memory they are in). Formatted into a fixed buffer; costs nothing when tracing is off
//! (the dispatcher checks one flag).

use alloc::vec::Vec;
use core::fmt::Write;

use crate::errno::SysResult;
use crate::panic::MessageBuffer;

/// The most bytes of a path argument the trace shows (longer ones end in `...`).
const PATH_SHOWN: usize = 96;

/// Which arguments of syscall `nr` are paths (or names) the trace shows as strings.
pub fn path_args(nr: u64) -> &'static [usize] {
    match nr {
        // open, stat, lstat, access, execve, truncate, chdir, mkdir, rmdir, creat, unlink,
        // readlink, chmod, chown, lchown, statfs, memfd_create
        2 | 4 | 6 | 21 | 59 | 76 | 80 | 83 | 84 | 85 | 87 | 89 | 90 | 92 | 94 | 137 | 319 => &[0],
        // rename, link, symlink
        82 | 86 | 88 => &[0, 1],
        // openat, mkdirat, mknodat, fchownat, newfstatat, unlinkat, readlinkat, fchmodat,
        // faccessat, utimensat, execveat, statx, faccessat2, inotify_add_watch
        257 | 258 | 259 | 260 | 262 | 263 | 267 | 268 | 269 | 280 | 322 | 332 | 439 | 254 => &[1],
        // renameat, linkat, renameat2
        264 | 265 | 316 => &[1, 3],
        // symlinkat
        266 => &[0, 2],
        _ => &[],
    }
}

/// Which arguments of syscall `nr` are file modes, which the trace shows in octal (as
/// strace: `mkdir("d", 0755)`).
fn mode_args(nr: u64) -> &'static [usize] {
    match nr {
        // umask
        95 => &[0],
        // creat, mkdir, chmod, fchmod, mknod
        85 | 83 | 90 | 91 | 133 => &[1],
        // open, mkdirat, mknodat, fchmodat, fchmodat2
        2 | 258 | 259 | 268 | 452 => &[2],
        // openat
        257 => &[3],
        _ => &[],
    }
}

/// The path arguments of a call, read from the app's memory before it runs (`None`: not a
/// path, or unreadable: shown as a number).
pub type PathArgs = [Option<Vec<u8>>; 6];

/// Reads the path arguments of syscall `nr` with `read` (a C string at an address).
pub fn read_path_args(nr: u64, args: &[u64; 6], mut read: impl FnMut(u64) -> Option<Vec<u8>>) -> PathArgs {
    let mut paths: PathArgs = Default::default();
    for &i in path_args(nr) {
        paths[i] = read(args[i]);
    }
    paths
}

/// Writes `s` as strace writes a string: quoted, with `\"`, `\\`, `\n`, `\t` and `\xNN`
/// escapes, cut at [`PATH_SHOWN`] bytes.
fn write_string(m: &mut MessageBuffer, s: &[u8]) {
    let _ = m.write_str("\"");
    for &b in s.iter().take(PATH_SHOWN) {
        let _ = match b {
            b'"' => m.write_str("\\\""),
            b'\\' => m.write_str("\\\\"),
            b'\n' => m.write_str("\\n"),
            b'\t' => m.write_str("\\t"),
            0x20..=0x7e => m.write_char(b as char),
            _ => write!(m, "\\x{b:02x}"),
        };
    }
    let _ = m.write_str(if s.len() > PATH_SHOWN { "\"..." } else { "\"" });
}

/// Formats one trace line, showing the arguments `paths` holds as strings.
pub fn format_line(nr: u64, args: &[u64; 6], paths: &PathArgs, result: &SysResult) -> MessageBuffer {
    let mut m = MessageBuffer::new();
    let (name, argc, known) = match super::table::entry(nr) {
        Some((name, argc)) => (name, argc, true),
        None => (super::names::linux_name(nr).unwrap_or("?"), 6, false),
    };
    let _ = write!(m, "{name}(");
    for (i, a) in args.iter().take(argc).enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        if let Some(path) = &paths[i] {
            let _ = m.write_str(sep);
            write_string(&mut m, path);
        } else if mode_args(nr).contains(&i) && *a != 0 {
            let _ = write!(m, "{sep}0{:o}", *a as u32);
        } else if *a > 0xffff && *a < u64::MAX - 4096 {
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

/// Reads the path arguments of syscall `nr` from the app's memory (out of line: only a traced
/// run calls it).
#[cfg(not(test))]
#[inline(never)]
pub fn capture_paths(nr: u64, args: &[u64; 6], space: &mut crate::mm::space::AddressSpace) -> PathArgs {
    read_path_args(nr, args, |at| crate::user::read_cstr(space, at, 4095).ok())
}

/// Sends one trace line to the host.
#[cfg(not(test))]
#[inline(never)]
pub fn report(nr: u64, args: &[u64; 6], paths: &PathArgs, result: &SysResult) {
    crate::hypercall::trace(format_line(nr, args, paths, result).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::Errno;

    #[test]
    fn modes_are_shown_in_octal() {
        let mut paths: PathArgs = Default::default();
        paths[1] = Some(b"fifo".to_vec());
        let line = format_line(259, &[0xffff_ff9c, 1, 0o10666, 0, 0, 0], &paths, &Ok(0));
        assert_eq!(core::str::from_utf8(line.as_bytes()).unwrap(), "mknodat(0xffffff9c, \"fifo\", 010666, 0) = 0");
        let line = format_line(95, &[0o22, 0, 0, 0, 0, 0], &Default::default(), &Ok(0o22));
        assert_eq!(core::str::from_utf8(line.as_bytes()).unwrap(), "umask(022) = 18");
    }

    #[test]
    fn exits_are_traced_like_strace() {
        assert!(never_returns(231) && never_returns(60) && !never_returns(1));
        let line = format_exit_line(231, &[3, 0, 0, 0, 0, 0]);
        assert_eq!(core::str::from_utf8(line.as_bytes()).unwrap(), "exit_group(3) = ?");
    }

    fn text(line: &MessageBuffer) -> &str {
        core::str::from_utf8(line.as_bytes()).unwrap()
    }

    #[test]
    fn known_and_unknown_syscalls() {
        let none = PathArgs::default();
        let line = format_line(1, &[1, 0x7fff_0000, 5, 0, 0, 0], &none, &Ok(5));
        assert_eq!(text(&line), "write(1, 0x7fff0000, 5) = 5");
        let line = format_line(425, &[0; 6], &none, &Err(Errno::ENOSYS));
        let text = core::str::from_utf8(line.as_bytes()).unwrap();
        assert!(text.starts_with("io_uring_setup("), "{text}");
        assert!(text.ends_with("= -1 ENOSYS [syscall 425 not implemented]"), "{text}");
    }

    #[test]
    fn path_arguments_show_as_strings() {
        let args = [(-100i64) as u64, 0x7fff_0000, 0o2000000, 0, 0, 0];
        let paths = read_path_args(257, &args, |at| (at == 0x7fff_0000).then(|| b"/etc/app.conf".to_vec()));
        let line = format_line(257, &args, &paths, &Err(Errno::ENOENT));
        assert_eq!(text(&line), "openat(-100, \"/etc/app.conf\", 0x80000, 0) = -1 ENOENT");
        // Both paths of a rename; an unreadable one stays a number.
        let args = [0x1000_0000, 0x2000_0000, 0, 0, 0, 0];
        let paths = read_path_args(82, &args, |at| (at == 0x1000_0000).then(|| b"a\"b\n\x01".to_vec()));
        assert_eq!(text(&format_line(82, &args, &paths, &Ok(0))), "rename(\"a\\\"b\\n\\x01\", 0x20000000) = 0");
        let long = vec![b'x'; 200];
        let paths = read_path_args(2, &[1 << 20, 0, 0, 0, 0, 0], |_| Some(long.clone()));
        let line = format_line(2, &[1 << 20, 0, 0, 0, 0, 0], &paths, &Ok(3));
        assert!(text(&line).starts_with(&alloc::format!("open(\"{}\"..., 0, 0)", "x".repeat(PATH_SHOWN))));
        assert!(path_args(1).is_empty() && path_args(59) == [0] && path_args(322) == [1]);
    }
}
