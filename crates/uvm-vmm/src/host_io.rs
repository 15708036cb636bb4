//! The host side of the guest's console: where its stdout/stderr bytes go and where its stdin
//! comes from. A trait, so the exit handler can be tested with in-memory buffers.

use std::io::{self, Read, Write};

/// The host streams the guest's console is connected to.
pub trait HostIo {
    /// Writes all of `bytes` to stdout (`fd` 1) or stderr (`fd` 2).
    fn write_all(&mut self, fd: u32, bytes: &[u8]) -> io::Result<()>;
    /// Reads up to `buf.len()` bytes from stdin; 0 at end of input.
    fn read_stdin(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Waits up to `timeout` for stdin to have input or reach its end; whether it has.
    fn wait_stdin(&mut self, timeout: std::time::Duration) -> bool;
    /// Writes one line of uvm's own diagnostics (trace lines) to stderr.
    fn diagnostic(&mut self, line: &str);
}

/// The process's own stdin, stdout and stderr.
#[derive(Default)]
pub struct StdIo;

impl HostIo for StdIo {
    fn write_all(&mut self, fd: u32, bytes: &[u8]) -> io::Result<()> {
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

    fn read_stdin(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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

    fn wait_stdin(&mut self, timeout: std::time::Duration) -> bool {
        crate::stop::wait_readable_for(0, timeout)
    }

    fn diagnostic(&mut self, line: &str) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

/// In-memory streams, for tests.
#[derive(Default, Debug)]
pub struct MemoryIo {
    /// What the guest wrote to stdout.
    pub stdout: Vec<u8>,
    /// What the guest wrote to stderr.
    pub stderr: Vec<u8>,
    /// What the guest will read from stdin.
    pub stdin: Vec<u8>,
    /// Diagnostic lines.
    pub diagnostics: Vec<String>,
}

impl HostIo for MemoryIo {
    fn write_all(&mut self, fd: u32, bytes: &[u8]) -> io::Result<()> {
        if fd == 2 { &mut self.stderr } else { &mut self.stdout }.extend_from_slice(bytes);
        Ok(())
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.stdin.len());
        buf[..n].copy_from_slice(&self.stdin[..n]);
        self.stdin.drain(..n);
        Ok(n)
    }

    fn wait_stdin(&mut self, _timeout: std::time::Duration) -> bool {
        // In memory, input is always there or at its end.
        true
    }

    fn diagnostic(&mut self, line: &str) {
        self.diagnostics.push(line.to_string());
    }
}
