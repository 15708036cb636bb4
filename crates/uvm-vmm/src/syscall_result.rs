//! What the VMM's thin libc wrappers (`net::sys`, `volumes::sys`) return: [`Errno`], a Linux
//! errno value, and the checks that turn a raw return value into a [`SysResult`].

use std::os::fd::{FromRawFd, OwnedFd};

/// A Linux errno value (positive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's errno.
    pub fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }

    /// The hypercall result for this error (`-errno`).
    pub fn result(self) -> i64 {
        -i64::from(self.0)
    }
}

/// What a host call gives.
pub type SysResult<T> = Result<T, Errno>;

/// An `int` return value: negative is the thread's errno.
pub fn check(r: libc::c_int) -> SysResult<libc::c_int> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// A `long` return value (`syscall(2)`): negative is the thread's errno.
pub fn check_long(r: libc::c_long) -> SysResult<libc::c_long> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

/// An `ssize_t` return value (a byte count): negative is the thread's errno.
pub fn check_size(r: isize) -> SysResult<usize> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as usize)
    }
}

/// A new fd (or the thread's errno), owned from here on.
pub fn owned(fd: libc::c_int) -> SysResult<OwnedFd> {
    let fd = check(fd)?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
