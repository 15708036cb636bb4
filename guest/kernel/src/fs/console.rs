//! The console: the host's stdin, stdout and stderr, as the app's fds 0-2, `/dev/tty`,
//! `/dev/console` and `/dev/pts/0`.
//!
//! The kernel implements the [`Console`] trait with hypercalls; [`ConsoleNode`] puts a file
//! face on it: reads come from the host's stdin, writes go to the host's stdout or stderr,
//! and the terminal ioctls (`TCGETS`, `TIOCGWINSZ`, ...) answer as a Linux pseudo-terminal
//! would when the host stream is a terminal, and `ENOTTY` when it is not.
//!
//! `fstat` shows a character device: `136:0` (`/dev/pts/0`, mode `0620`) for a terminal, and
//! `1:3` otherwise; `/dev/tty` is `5:0`, `/dev/console` `5:1`.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::errno::Errno;
use crate::fs::dev::inode;
use crate::fs::ioctl;
use crate::fs::stat::{makedev, Stat, Timespec, DEV_DEVFS, S_IFCHR};
use crate::sync::SpinLock;

/// The host's standard streams, as the kernel reaches them (through hypercalls).
pub trait Console: Send + Sync {
    /// Writes `bytes` to the host's stdout (`fd` 1) or stderr (`fd` 2); returns how many
    /// were written.
    fn write(&self, fd: u32, bytes: &[u8]) -> Result<usize, Errno>;
    /// Reads from the host's stdin (0 at end of input).
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno>;
    /// Whether the host's `fd` (0, 1 or 2) is a terminal.
    fn is_tty(&self, fd: u32) -> bool;
    /// Waits up to `timeout_ns` (0: just look, `u64::MAX`: for ever) until a read of stdin
    /// would not block (input or end of input); whether it would not.
    fn wait_input(&self, timeout_ns: u64) -> bool;
}

/// Size of the kernel's `struct termios` (what `TCGETS` copies): four `u32` flag words,
/// `c_line` and 19 control characters.
pub const TERMIOS_SIZE: usize = 36;
/// Size of `struct termios2` (`TCGETS2`): `struct termios` plus input and output speeds.
pub const TERMIOS2_SIZE: usize = 44;
/// Size of `struct winsize`.
pub const WINSIZE_SIZE: usize = 8;

/// `B38400`, the speed a pseudo-terminal reports.
const SPEED_38400: u32 = 38400;
const B38400: u32 = 0o17;

/// The termios of a fresh Linux pseudo-terminal (`stty sane` with UTF-8).
fn default_termios() -> [u8; TERMIOS_SIZE] {
    const ICRNL: u32 = 0o400;
    const IXON: u32 = 0o2000;
    const IUTF8: u32 = 0o40000;
    const OPOST: u32 = 0o1;
    const ONLCR: u32 = 0o4;
    const CS8: u32 = 0o60;
    const CREAD: u32 = 0o200;
    const ISIG: u32 = 0o1;
    const ICANON: u32 = 0o2;
    const ECHO: u32 = 0o10;
    const ECHOE: u32 = 0o20;
    const ECHOK: u32 = 0o40;
    const ECHOCTL: u32 = 0o1000;
    const ECHOKE: u32 = 0o4000;
    const IEXTEN: u32 = 0o100000;
    let mut termios = [0u8; TERMIOS_SIZE];
    let flags = [
        ICRNL | IXON | IUTF8,
        OPOST | ONLCR,
        B38400 | CS8 | CREAD,
        ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
    ];
    for (i, flag) in flags.iter().enumerate() {
        termios[i * 4..i * 4 + 4].copy_from_slice(&flag.to_le_bytes());
    }
    // c_cc: VINTR ^C, VQUIT ^\, VERASE DEL, VKILL ^U, VEOF ^D, VTIME 0, VMIN 1, VSWTC,
    // VSTART ^Q, VSTOP ^S, VSUSP ^Z, VEOL, VREPRINT ^R, VDISCARD ^O, VWERASE ^W, VLNEXT ^V.
    let control = [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0];
    termios[17..17 + control.len()].copy_from_slice(&control);
    termios
}

/// What all console files share: the host streams and the terminal settings.
pub struct ConsoleDevice {
    console: Arc<dyn Console>,
    termios: SpinLock<[u8; TERMIOS_SIZE]>,
    winsize: SpinLock<[u8; WINSIZE_SIZE]>,
    uid: u32,
    gid: u32,
    created: Timespec,
    /// Reads of the host's stdin so far (edge-triggered epoll entries compare them).
    reads: AtomicU64,
}

impl ConsoleDevice {
    /// The console files' shared state; they belong to `uid:gid` and were created at
    /// `created`.
    pub fn new(console: Arc<dyn Console>, uid: u32, gid: u32, created: Timespec) -> ConsoleDevice {
        let mut winsize = [0u8; WINSIZE_SIZE];
        winsize[0..2].copy_from_slice(&24u16.to_le_bytes());
        winsize[2..4].copy_from_slice(&80u16.to_le_bytes());
        ConsoleDevice {
            console,
            termios: SpinLock::new(default_termios()),
            winsize: SpinLock::new(winsize),
            uid,
            gid,
            created,
            reads: AtomicU64::new(0),
        }
    }

    /// Whether any of the host's streams is a terminal.
    fn any_terminal(&self) -> bool {
        (0..3).any(|fd| self.console.is_tty(fd))
    }

    /// Where terminal output goes: stdout if it is a terminal, else stderr if that is one,
    /// else stdout.
    fn terminal_output_fd(&self) -> u32 {
        if !self.console.is_tty(1) && self.console.is_tty(2) {
            2
        } else {
            1
        }
    }
}

/// Which console file a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleRole {
    /// fd 0 at start: the host's stdin.
    Stdin,
    /// fd 1 at start: the host's stdout.
    Stdout,
    /// fd 2 at start: the host's stderr.
    Stderr,
    /// `/dev/tty`: the controlling terminal.
    Tty,
    /// `/dev/console`.
    SystemConsole,
    /// `/dev/pts/0`: the terminal the standard streams are, when they are one.
    Pts,
}

impl ConsoleRole {
    /// The role of start-up fd `fd` (0, 1 or 2).
    pub fn for_fd(fd: u32) -> Option<ConsoleRole> {
        match fd {
            0 => Some(ConsoleRole::Stdin),
            1 => Some(ConsoleRole::Stdout),
            2 => Some(ConsoleRole::Stderr),
            _ => None,
        }
    }
}

/// A console file.
#[derive(Clone)]
pub struct ConsoleNode {
    device: Arc<ConsoleDevice>,
    role: ConsoleRole,
}

impl ConsoleNode {
    /// The console file `role` of `device`.
    pub fn new(device: Arc<ConsoleDevice>, role: ConsoleRole) -> ConsoleNode {
        ConsoleNode { device, role }
    }

    /// Which console file this is.
    pub fn role(&self) -> ConsoleRole {
        self.role
    }

    /// Waits up to `timeout_ns` (0: just look) until a read would not block; whether it would
    /// not. Only stdin-backed roles wait for the host; the output roles are always writable.
    pub fn input_ready(&self, timeout_ns: u64) -> bool {
        self.device.console.wait_input(timeout_ns)
    }

    /// Whether this file is a terminal (`isatty`).
    pub fn is_terminal(&self) -> bool {
        let console = &self.device.console;
        match self.role {
            ConsoleRole::Stdin => console.is_tty(0),
            ConsoleRole::Stdout => console.is_tty(1),
            ConsoleRole::Stderr => console.is_tty(2),
            ConsoleRole::Tty | ConsoleRole::SystemConsole | ConsoleRole::Pts => self.device.any_terminal(),
        }
    }

    /// Whether opening this file may succeed: `/dev/tty` is `ENXIO` without a terminal, as
    /// on Linux for a process with no controlling terminal.
    pub fn check_open(&self) -> Result<(), Errno> {
        if self.role == ConsoleRole::Tty && !self.device.any_terminal() {
            return Err(Errno::ENXIO);
        }
        Ok(())
    }

    /// Whether this file is readable and writable by default (a terminal is both; a plain
    /// stdin only readable, a plain stdout or stderr only writable).
    pub fn default_access(&self) -> (bool, bool) {
        match (self.role, self.is_terminal()) {
            (_, true) => (true, true),
            (ConsoleRole::Stdin, false) => (true, false),
            (ConsoleRole::Stdout | ConsoleRole::Stderr, false) => (false, true),
            (_, false) => (true, true),
        }
    }

    /// Reads from the host's stdin.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let result = self.device.console.read(buf);
        self.device.reads.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// How many reads of the host's stdin were made so far (by any console file). The host
    /// says when input is there but not when more came: an edge-triggered epoll entry takes a
    /// read as the moment its input may have become new.
    pub fn reads(&self) -> u64 {
        self.device.reads.load(Ordering::Relaxed)
    }

    /// Writes to the host's stdout or stderr, as the role says.
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let fd = match self.role {
            ConsoleRole::Stdout => 1,
            ConsoleRole::Stderr => 2,
            ConsoleRole::Stdin if !self.is_terminal() => return Err(Errno::EBADF),
            _ => self.device.terminal_output_fd(),
        };
        if data.is_empty() {
            return Ok(0);
        }
        self.device.console.write(fd, data)
    }

    /// The inode number (all terminal faces of the standard streams are `/dev/pts/0`).
    pub fn ino(&self) -> u64 {
        match (self.role, self.is_terminal()) {
            (ConsoleRole::Tty, _) => inode::TTY,
            (ConsoleRole::SystemConsole, _) => inode::CONSOLE,
            (ConsoleRole::Pts, _) | (_, true) => inode::PTS0,
            (ConsoleRole::Stdin, false) => inode::HOST_STDIN,
            (ConsoleRole::Stdout, false) => inode::HOST_STDOUT,
            (ConsoleRole::Stderr, false) => inode::HOST_STDERR,
        }
    }

    /// The file's metadata: a character device.
    pub fn stat(&self) -> Stat {
        let (mode, rdev) = match (self.role, self.is_terminal()) {
            (ConsoleRole::Tty, _) => (0o666, makedev(5, 0)),
            (ConsoleRole::SystemConsole, _) => (0o600, makedev(5, 1)),
            (ConsoleRole::Pts, _) | (_, true) => (0o620, makedev(136, 0)),
            (_, false) => (0o620, makedev(1, 3)),
        };
        let device = &self.device;
        Stat {
            rdev,
            ..Stat::contentless(DEV_DEVFS, self.ino(), 1, S_IFCHR | mode, (device.uid, device.gid), device.created)
        }
    }

    /// What `/proc/self/fd` shows for this file.
    pub fn display_path(&self) -> Vec<u8> {
        match (self.role, self.is_terminal()) {
            (ConsoleRole::Tty, _) => Vec::from(&b"/dev/tty"[..]),
            (ConsoleRole::SystemConsole, _) => Vec::from(&b"/dev/console"[..]),
            (ConsoleRole::Pts, _) | (_, true) => Vec::from(&b"/dev/pts/0"[..]),
            (_, false) => format!("pipe:[{}]", self.ino()).into_bytes(),
        }
    }

    /// Whether `self` and `other` are the same file.
    pub fn same_file(&self, other: &ConsoleNode) -> bool {
        Arc::ptr_eq(&self.device, &other.device) && self.ino() == other.ino()
    }

    /// The terminal ioctls; `arg` holds [`ioctl::arg_size`] bytes. `ENOTTY` when this file
    /// is not a terminal or `cmd` is not a terminal ioctl.
    pub fn ioctl(&self, cmd: u32, arg: &mut [u8]) -> Result<usize, Errno> {
        if cmd == ioctl::FIONREAD {
            put_arg(arg, &0u32.to_le_bytes())?;
            return Ok(0);
        }
        if !self.is_terminal() {
            return Err(Errno::ENOTTY);
        }
        let device = &self.device;
        match cmd {
            ioctl::TCGETS => put_arg(arg, &*device.termios.lock())?,
            ioctl::TCGETS2 => {
                let mut termios2 = [0u8; TERMIOS2_SIZE];
                termios2[..TERMIOS_SIZE].copy_from_slice(&*device.termios.lock());
                termios2[36..40].copy_from_slice(&SPEED_38400.to_le_bytes());
                termios2[40..44].copy_from_slice(&SPEED_38400.to_le_bytes());
                put_arg(arg, &termios2)?;
            }
            ioctl::TCSETS | ioctl::TCSETSW | ioctl::TCSETSF | ioctl::TCSETS2 | ioctl::TCSETSW2 | ioctl::TCSETSF2 => {
                let new = arg.get(..TERMIOS_SIZE).ok_or(Errno::EFAULT)?;
                device.termios.lock().copy_from_slice(new);
            }
            ioctl::TIOCGWINSZ => put_arg(arg, &*device.winsize.lock())?,
            ioctl::TIOCSWINSZ => {
                let new = arg.get(..WINSIZE_SIZE).ok_or(Errno::EFAULT)?;
                device.winsize.lock().copy_from_slice(new);
            }
            ioctl::TIOCGPGRP | ioctl::TIOCGSID => put_arg(arg, &1u32.to_le_bytes())?,
            ioctl::TIOCSPGRP => {}
            _ => return Err(Errno::ENOTTY),
        }
        Ok(0)
    }
}

fn put_arg(arg: &mut [u8], value: &[u8]) -> Result<(), Errno> {
    arg.get_mut(..value.len()).ok_or(Errno::EFAULT)?.copy_from_slice(value);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A console for tests: records writes, serves reads from a script.
    pub struct FakeConsole {
        pub ttys: [bool; 3],
        pub written: SpinLock<Vec<(u32, Vec<u8>)>>,
        pub input: SpinLock<Vec<u8>>,
    }

    impl FakeConsole {
        pub fn new(ttys: [bool; 3], input: &[u8]) -> Arc<FakeConsole> {
            Arc::new(FakeConsole { ttys, written: SpinLock::new(Vec::new()), input: SpinLock::new(input.to_vec()) })
        }

        pub fn output(&self, fd: u32) -> Vec<u8> {
            self.written.lock().iter().filter(|(f, _)| *f == fd).flat_map(|(_, b)| b.clone()).collect()
        }
    }

    impl Console for FakeConsole {
        fn write(&self, fd: u32, bytes: &[u8]) -> Result<usize, Errno> {
            self.written.lock().push((fd, bytes.to_vec()));
            Ok(bytes.len())
        }
        fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
            let mut input = self.input.lock();
            let n = buf.len().min(input.len());
            buf[..n].copy_from_slice(&input[..n]);
            input.drain(..n);
            Ok(n)
        }
        fn is_tty(&self, fd: u32) -> bool {
            self.ttys.get(fd as usize).copied().unwrap_or(false)
        }
        fn wait_input(&self, _timeout_ns: u64) -> bool {
            // In memory, input is always there or at its end.
            true
        }
    }

    fn node(console: &Arc<FakeConsole>, role: ConsoleRole) -> ConsoleNode {
        let device = Arc::new(ConsoleDevice::new(console.clone(), 0, 0, Timespec::default()));
        ConsoleNode::new(device, role)
    }

    #[test]
    fn reads_and_writes_reach_the_host_streams() {
        let console = FakeConsole::new([false; 3], b"input");
        let stdin = node(&console, ConsoleRole::Stdin);
        let mut buf = [0u8; 3];
        assert_eq!(stdin.read(&mut buf), Ok(3));
        assert_eq!(&buf, b"inp");
        assert_eq!(stdin.read(&mut []), Ok(0));
        assert_eq!(stdin.write(b"x"), Err(Errno::EBADF));
        assert_eq!(node(&console, ConsoleRole::Stdout).write(b"out"), Ok(3));
        assert_eq!(node(&console, ConsoleRole::Stderr).write(b"err"), Ok(3));
        assert_eq!(node(&console, ConsoleRole::Stderr).write(b""), Ok(0));
        assert_eq!(console.output(1), b"out");
        assert_eq!(console.output(2), b"err");
        assert_eq!(ConsoleRole::for_fd(2), Some(ConsoleRole::Stderr));
        assert_eq!(ConsoleRole::for_fd(3), None);
    }

    #[test]
    fn terminal_output_prefers_a_terminal() {
        let console = FakeConsole::new([true, false, true], b"");
        node(&console, ConsoleRole::Tty).write(b"a").unwrap();
        node(&console, ConsoleRole::Stdin).write(b"b").unwrap();
        assert_eq!(console.output(2), b"ab");
        let console = FakeConsole::new([true, true, true], b"");
        node(&console, ConsoleRole::Pts).write(b"c").unwrap();
        assert_eq!(console.output(1), b"c");
    }

    #[test]
    fn ioctls_on_a_terminal() {
        let console = FakeConsole::new([true; 3], b"");
        let tty = node(&console, ConsoleRole::Stdout);
        assert!(tty.is_terminal());
        let mut termios = [0u8; TERMIOS_SIZE];
        assert_eq!(tty.ioctl(ioctl::TCGETS, &mut termios), Ok(0));
        assert_eq!(u32::from_le_bytes(termios[8..12].try_into().unwrap()) & 0o17, B38400);
        assert_eq!(termios[17], 3, "VINTR is ^C");
        termios[12] = 0;
        assert_eq!(tty.ioctl(ioctl::TCSETSW, &mut termios), Ok(0));
        let mut again = [0xffu8; TERMIOS_SIZE];
        tty.ioctl(ioctl::TCGETS, &mut again).unwrap();
        assert_eq!(again, termios, "settings stick");
        let mut termios2 = [0u8; TERMIOS2_SIZE];
        tty.ioctl(ioctl::TCGETS2, &mut termios2).unwrap();
        assert_eq!(&termios2[..TERMIOS_SIZE], &termios[..]);
        assert_eq!(u32::from_le_bytes(termios2[40..44].try_into().unwrap()), 38400);
        let mut winsize = [0u8; WINSIZE_SIZE];
        assert_eq!(tty.ioctl(ioctl::TIOCGWINSZ, &mut winsize), Ok(0));
        assert_eq!(winsize, [24, 0, 80, 0, 0, 0, 0, 0]);
        let mut bigger = [50, 0, 132, 0, 0, 0, 0, 0];
        tty.ioctl(ioctl::TIOCSWINSZ, &mut bigger).unwrap();
        tty.ioctl(ioctl::TIOCGWINSZ, &mut winsize).unwrap();
        assert_eq!(winsize, bigger);
        let mut pgrp = [0u8; 4];
        assert_eq!(tty.ioctl(ioctl::TIOCGPGRP, &mut pgrp), Ok(0));
        assert_eq!(pgrp, [1, 0, 0, 0]);
        assert_eq!(tty.ioctl(ioctl::TIOCSPGRP, &mut pgrp), Ok(0));
        assert_eq!(tty.ioctl(ioctl::FIONREAD, &mut pgrp), Ok(0));
        assert_eq!(tty.ioctl(0x1234, &mut pgrp), Err(Errno::ENOTTY));
        assert_eq!(tty.ioctl(ioctl::TCGETS, &mut [0u8; 4]), Err(Errno::EFAULT));
        assert_eq!(tty.ioctl(ioctl::TCSETS, &mut [0u8; 4]), Err(Errno::EFAULT));
    }

    #[test]
    fn a_plain_stream_is_not_a_terminal() {
        let console = FakeConsole::new([false; 3], b"");
        let out = node(&console, ConsoleRole::Stdout);
        assert!(!out.is_terminal());
        assert_eq!(out.ioctl(ioctl::TCGETS, &mut [0u8; TERMIOS_SIZE]), Err(Errno::ENOTTY));
        assert_eq!(out.ioctl(ioctl::TIOCGWINSZ, &mut [0u8; WINSIZE_SIZE]), Err(Errno::ENOTTY));
        let st = out.stat();
        assert_eq!((st.mode, st.rdev, st.blksize), (S_IFCHR | 0o620, makedev(1, 3), 4096));
        assert_eq!(out.display_path(), format!("pipe:[{}]", inode::HOST_STDOUT).into_bytes());
        assert_eq!(node(&console, ConsoleRole::Tty).check_open(), Err(Errno::ENXIO));
        assert_eq!(node(&console, ConsoleRole::SystemConsole).check_open(), Ok(()));
        assert_eq!(out.default_access(), (false, true));
        assert_eq!(node(&console, ConsoleRole::Stdin).default_access(), (true, false));
    }

    #[test]
    fn a_terminal_stats_as_pts0() {
        let console = FakeConsole::new([true, true, false], b"");
        let out = node(&console, ConsoleRole::Stdout);
        let st = out.stat();
        assert_eq!((st.mode, st.rdev, st.ino), (S_IFCHR | 0o620, makedev(136, 0), inode::PTS0));
        assert_eq!(out.display_path(), b"/dev/pts/0");
        assert_eq!(out.default_access(), (true, true));
        assert!(out.same_file(&ConsoleNode::new(out.device.clone(), ConsoleRole::Stdin)));
        assert!(!out.same_file(&ConsoleNode::new(out.device.clone(), ConsoleRole::Stderr)));
        assert_eq!(node(&console, ConsoleRole::Tty).stat().rdev, makedev(5, 0));
        assert_eq!(node(&console, ConsoleRole::SystemConsole).stat().rdev, makedev(5, 1));
        assert_eq!(node(&console, ConsoleRole::Tty).check_open(), Ok(()));
        assert_eq!(node(&console, ConsoleRole::Tty).display_path(), b"/dev/tty");
    }
}
