//! The host side of the guest's console: where its stdout/stderr bytes go and where its stdin
//! comes from. A trait, so the exit handler can be tested with in-memory buffers.
//!
//! Every vCPU thread shares one `HostIo` (`&self` methods, `Sync`): a read of stdin that blocks
//! on one vCPU must not hold up another's writes, and each write call reaches its stream whole
//! (writes of different calls never interleave).

use std::io::{self, Read, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The host streams the guest's console is connected to.
pub trait HostIo: Sync {
    /// Writes all of `bytes` to stdout (`fd` 1) or stderr (`fd` 2).
    fn write_all(&self, fd: u32, bytes: &[u8]) -> io::Result<()>;
    /// Reads up to `buf.len()` bytes from stdin; 0 at end of input.
    fn read_stdin(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Waits up to `timeout` for stdin to have input or reach its end; whether it has.
    fn wait_stdin(&self, timeout: std::time::Duration) -> bool;
    /// Writes one line of uvm's own diagnostics (trace lines) to stderr.
    fn diagnostic(&self, line: &str);
    /// Whether writes to stdout (`fd` 1) or stderr (2) may be written out after the app's
    /// call has returned (the console ring): not for a regular file, where an error (a full
    /// disk) must fail the call that met it.
    fn ring_allowed(&self, fd: u32) -> bool {
        let _ = fd;
        true
    }
}

/// The process's own stdin, stdout and stderr.
#[derive(Default)]
pub struct StdIo;

impl HostIo for StdIo {
    fn write_all(&self, fd: u32, bytes: &[u8]) -> io::Result<()> {
        if fd == 2 {
            let mut err = io::stderr().lock();
            err.write_all(bytes)?;
            err.flush()
        } else {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()
        }
    }

    fn read_stdin(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // Wait for input without blocking a stop request (Ctrl-C, --timeout).
            if !crate::stop::wait_readable(0) {
                return Err(io::Error::from_raw_os_error(libc::EINTR));
            }
            match io::stdin().lock().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn wait_stdin(&self, timeout: std::time::Duration) -> bool {
        crate::stop::wait_readable_for(0, timeout)
    }

    fn diagnostic(&self, line: &str) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }

    fn ring_allowed(&self, fd: u32) -> bool {
        use std::os::fd::AsFd;
        let owned = match fd {
            1 => io::stdout().as_fd().try_clone_to_owned(),
            2 => io::stderr().as_fd().try_clone_to_owned(),
            _ => return false,
        };
        let Ok(owned) = owned else { return false };
        std::fs::File::from(owned).metadata().is_ok_and(|m| !m.file_type().is_file())
    }
}

/// In-memory streams, for tests.
#[derive(Default, Debug)]
pub struct MemoryIo {
    /// What the guest wrote to stdout.
    pub stdout: Mutex<Vec<u8>>,
    /// What the guest wrote to stderr.
    pub stderr: Mutex<Vec<u8>>,
    /// What the guest will read from stdin.
    pub stdin: Mutex<Vec<u8>>,
    /// Diagnostic lines.
    pub diagnostics: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryIo {
    /// Streams whose stdin holds `input`.
    pub fn with_stdin(input: &[u8]) -> MemoryIo {
        MemoryIo { stdin: Mutex::new(input.to_vec()), ..Default::default() }
    }

    /// What the guest wrote to stdout so far.
    pub fn stdout(&self) -> Vec<u8> {
        lock(&self.stdout).clone()
    }

    /// What the guest wrote to stderr so far.
    pub fn stderr(&self) -> Vec<u8> {
        lock(&self.stderr).clone()
    }

    /// The diagnostic lines so far.
    pub fn diagnostics(&self) -> Vec<String> {
        lock(&self.diagnostics).clone()
    }
}

impl HostIo for MemoryIo {
    fn write_all(&self, fd: u32, bytes: &[u8]) -> io::Result<()> {
        lock(if fd == 2 { &self.stderr } else { &self.stdout }).extend_from_slice(bytes);
        Ok(())
    }

    fn read_stdin(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut stdin = lock(&self.stdin);
        let n = buf.len().min(stdin.len());
        buf[..n].copy_from_slice(&stdin[..n]);
        stdin.drain(..n);
        Ok(n)
    }

    fn wait_stdin(&self, _timeout: std::time::Duration) -> bool {
        // In memory, input is always there or at its end.
        true
    }

    fn diagnostic(&self, line: &str) {
        lock(&self.diagnostics).push(line.to_string());
    }
}
