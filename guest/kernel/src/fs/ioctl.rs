//! ioctl numbers the file layer answers, and how big each one's argument is, so the syscall
//! layer knows what to copy in from and out to the app around [`crate::fs::OpenFile::ioctl`].

use crate::fs::console::{TERMIOS2_SIZE, TERMIOS_SIZE, WINSIZE_SIZE};

/// Get the terminal settings (`struct termios`).
pub const TCGETS: u32 = 0x5401;
/// Set the terminal settings now.
pub const TCSETS: u32 = 0x5402;
/// Set them after output drains.
pub const TCSETSW: u32 = 0x5403;
/// Set them after output drains, discarding pending input.
pub const TCSETSF: u32 = 0x5404;
/// Get the foreground process group.
pub const TIOCGPGRP: u32 = 0x540f;
/// Set the foreground process group.
pub const TIOCSPGRP: u32 = 0x5410;
/// Get the window size (`struct winsize`).
pub const TIOCGWINSZ: u32 = 0x5413;
/// Set the window size.
pub const TIOCSWINSZ: u32 = 0x5414;
/// Bytes ready to read (`int`).
pub const FIONREAD: u32 = 0x541b;
/// Set or clear non-blocking mode (`int`).
pub const FIONBIO: u32 = 0x5421;
/// Get the session id.
pub const TIOCGSID: u32 = 0x5429;
/// Clear close-on-exec: an fd-table operation (see [`crate::fs::FdTable::set_cloexec`]).
pub const FIONCLEX: u32 = 0x5450;
/// Set close-on-exec: an fd-table operation (see [`crate::fs::FdTable::set_cloexec`]).
pub const FIOCLEX: u32 = 0x5451;
/// Get the terminal settings with speeds (`struct termios2`).
pub const TCGETS2: u32 = 0x802c_542a;
/// Set them now (`struct termios2`).
pub const TCSETS2: u32 = 0x402c_542b;
/// Set them after output drains (`struct termios2`).
pub const TCSETSW2: u32 = 0x402c_542c;
/// Set them after output drains, discarding input (`struct termios2`).
pub const TCSETSF2: u32 = 0x402c_542d;

/// How an ioctl's pointer argument is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoctlArg {
    /// Bytes the argument points to.
    pub size: usize,
    /// The kernel reads them (copy in before the call).
    pub input: bool,
    /// The kernel writes them (copy out after a successful call).
    pub output: bool,
}

const fn input(size: usize) -> Option<IoctlArg> {
    Some(IoctlArg { size, input: true, output: false })
}

const fn output(size: usize) -> Option<IoctlArg> {
    Some(IoctlArg { size, input: false, output: true })
}

/// The argument of ioctl `cmd`, for the ioctls [`crate::fs::OpenFile::ioctl`] knows;
/// `None` for unknown ones (which it answers `ENOTTY`) and for `FIOCLEX`/`FIONCLEX`.
pub const fn arg_size(cmd: u32) -> Option<IoctlArg> {
    match cmd {
        TCGETS => output(TERMIOS_SIZE),
        TCSETS | TCSETSW | TCSETSF => input(TERMIOS_SIZE),
        TCGETS2 => output(TERMIOS2_SIZE),
        TCSETS2 | TCSETSW2 | TCSETSF2 => input(TERMIOS2_SIZE),
        TIOCGWINSZ => output(WINSIZE_SIZE),
        TIOCSWINSZ => input(WINSIZE_SIZE),
        TIOCGPGRP | TIOCGSID | FIONREAD => output(4),
        TIOCSPGRP | FIONBIO => input(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_sizes() {
        assert_eq!(arg_size(TCGETS), Some(IoctlArg { size: 36, input: false, output: true }));
        assert_eq!(arg_size(TCSETSF), Some(IoctlArg { size: 36, input: true, output: false }));
        assert_eq!(arg_size(TCGETS2).map(|a| a.size), Some(44));
        assert_eq!(arg_size(TCSETS2).map(|a| a.input), Some(true));
        assert_eq!(arg_size(TIOCGWINSZ).map(|a| a.size), Some(8));
        assert_eq!(arg_size(TIOCSWINSZ).map(|a| a.input), Some(true));
        assert_eq!(arg_size(FIONREAD).map(|a| (a.size, a.output)), Some((4, true)));
        assert_eq!(arg_size(FIONBIO).map(|a| (a.size, a.input)), Some((4, true)));
        assert_eq!(arg_size(FIOCLEX), None);
        assert_eq!(arg_size(0xdead), None);
    }
}
