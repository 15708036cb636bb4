//! The kernel's side of the console: [`HostConsole`] serves the file systems' `Console`
//! (the app's fds 0-2, /dev/tty) with console hypercalls.

use crate::errno::Errno;
use crate::fs::console::Console;

/// The host's stdin, stdout and stderr, reached through hypercalls.
pub struct HostConsole {
    /// Which of the host's fds 0, 1, 2 are terminals (bit n = fd n).
    pub tty_mask: u32,
}

fn errno_from(raw: i64) -> Errno {
    match raw {
        -32 => Errno::EPIPE,
        -11 => Errno::EAGAIN,
        -4 => Errno::EINTR,
        -28 => Errno::ENOSPC,
        _ => Errno::EIO,
    }
}

impl Console for HostConsole {
    fn write(&self, fd: u32, bytes: &[u8]) -> Result<usize, Errno> {
        let r = crate::hypercall::console_write_all(fd, bytes);
        if r < 0 {
            Err(errno_from(r))
        } else {
            Ok(r as usize)
        }
    }

    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let r = crate::hypercall::console_read_some(buf);
        if r < 0 {
            Err(errno_from(r))
        } else {
            Ok(r as usize)
        }
    }

    fn is_tty(&self, fd: u32) -> bool {
        fd < 3 && self.tty_mask & (1 << fd) != 0
    }

    fn wait_input(&self, timeout_ns: u64) -> bool {
        crate::hypercall::console_poll(timeout_ns)
    }
}
