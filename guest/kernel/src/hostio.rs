//! The kernel's side of the console: [`HostConsole`] serves the file systems' `Console`
//! (the app's fds 0-2, /dev/tty) with console hypercalls, and stdout and stderr writes
//! through the console ring (`consolering`) once the app has written often enough to gain
//! from it: a write then costs a copy, not an exit (uvm-abi's `console`).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::consolering::ConsoleRing;
use crate::errno::Errno;
use crate::fs::console::Console;
use crate::sync::SpinLock;

/// Writes that went into the console ring so far (`--timings`).
static RING_WRITES: AtomicU64 = AtomicU64::new(0);

/// How many of the app's writes went into the console ring.
pub fn ring_writes() -> u64 {
    RING_WRITES.load(Ordering::Relaxed)
}

/// The console ring, once there is one, and what decides on it: a static (one console per
/// VM), so the console itself stays as small as it was, one heap block a boot already touches.
static RING_USE: RingState = RingState::new();

/// [`RingUse`], and a count of the writes made before it is due that needs no lock.
struct RingState {
    /// Writes through the hypercall before the ring was asked for (counted without the lock,
    /// so a hello's few writes run a handful of instructions more, not the ring's code).
    early_writes: AtomicU64,
    ring_use: SpinLock<RingUse>,
}

impl RingState {
    const fn new() -> RingState {
        RingState { early_writes: AtomicU64::new(0), ring_use: SpinLock::new(RingUse::new()) }
    }
}

/// The host's stdin, stdout and stderr, reached through hypercalls and the console ring.
pub struct HostConsole {
    /// Which of the host's fds 0, 1, 2 are terminals (bit n = fd n).
    pub tty_mask: u32,
}

/// The console ring, once there is one, and what decides on it.
struct RingUse {
    ring: Option<ConsoleRing>,
    /// The streams the ring carries (bit 1 stdout, bit 2 stderr; the VMM leaves out one
    /// redirected to a regular file, where a write error must fail the write that met it).
    streams: u32,
    /// The ring was asked for (once).
    asked: bool,
    /// Streams (stdout, stderr) whose ring write failed on the host: the error was returned,
    /// and their writes go through the hypercall from then on.
    failed: [bool; 2],
}

impl RingUse {
    const fn new() -> RingUse {
        RingUse { ring: None, streams: 0, asked: false, failed: [false; 2] }
    }
}

/// Copies a write of `bytes` to stream `fd` (1 or 2) into the ring `state` holds, when
/// there is one and it has room: `Some` with the result, `None` when the write is the
/// hypercall's. Asks for the ring once enough writes went through the hypercall.
fn write_to_ring(state: &RingState, fd: u32, bytes: &[u8]) -> Option<Result<usize, Errno>> {
    if fd != 1 && fd != 2 {
        return None;
    }
    if state.early_writes.load(Ordering::Relaxed) + 1 < uvm_abi::console::RING_AFTER_WRITES {
        state.early_writes.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    write_to_due_ring(state, fd, bytes)
}

/// [`write_to_ring`] once the ring is due: out of line, as a hello never gets here.
#[inline(never)]
fn write_to_due_ring(state: &RingState, fd: u32, bytes: &[u8]) -> Option<Result<usize, Errno>> {
    let stream = fd as usize - 1;
    let mut ring_use = state.ring_use.lock();
    let Some(ring) = &ring_use.ring else {
        if !ring_use.asked {
            ring_use.asked = true;
            if let Some((ring, streams)) = ConsoleRing::register() {
                ring_use.ring = Some(ring);
                ring_use.streams = streams;
            }
        }
        return None;
    };
    if ring_use.failed[stream] || ring_use.streams & (1 << fd) == 0 {
        return None;
    }
    let errno = ring.error(fd);
    if errno != 0 {
        // An earlier write of this stream failed on the host (EPIPE: the reader went away).
        ring_use.failed[stream] = true;
        return Some(Err(Errno::from_host(-i64::from(errno))));
    }
    if !ring.push(fd, bytes) {
        return None;
    }
    RING_WRITES.fetch_add(1, Ordering::Relaxed);
    if ring.take_idle() {
        crate::hypercall::ring_console_doorbell();
    }
    Some(Ok(bytes.len()))
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
        if let Some(result) = write_to_ring(&RING_USE, fd, bytes) {
            return result;
        }
        // The VMM writes out what the ring holds before these bytes.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ring() -> RingState {
        let state = RingState::new();
        state.early_writes.store(uvm_abi::console::RING_AFTER_WRITES, Ordering::Relaxed);
        let mut ring_use = state.ring_use.lock();
        ring_use.ring = Some(ConsoleRing::new().expect("ring"));
        ring_use.streams = 0b110;
        ring_use.asked = true;
        drop(ring_use);
        state
    }

    #[test]
    fn the_ring_is_asked_for_after_enough_writes_only() {
        let state = RingState::new();
        for _ in 0..uvm_abi::console::RING_AFTER_WRITES - 1 {
            assert_eq!(write_to_ring(&state, 1, b"x"), None, "through the hypercall");
        }
        assert!(!state.ring_use.lock().asked);
        assert_eq!(write_to_ring(&state, 2, b"x"), None);
        // Asked once; the test build's hypercall refuses it, so the writes stay hypercalls.
        assert!(state.ring_use.lock().asked && state.ring_use.lock().ring.is_none());
        assert_eq!(write_to_ring(&state, 0, b"x"), None, "stdin is never written to the ring");
    }

    #[test]
    fn a_stream_that_failed_on_the_host_returns_the_error_once_then_leaves_the_ring() {
        let state = with_ring();
        assert_eq!(write_to_ring(&state, 1, b"line\n"), Some(Ok(5)));
        let ring_use = state.ring_use.lock();
        let ring = ring_use.ring.as_ref().expect("ring");
        ring.fail_for_test(1, 32);
        let before = ring.pending_for_test();
        drop(ring_use);
        assert_eq!(write_to_ring(&state, 1, b"lost?\n"), Some(Err(Errno::EPIPE)), "the reader went away");
        assert_eq!(write_to_ring(&state, 1, b"again\n"), None, "then through the hypercall");
        assert_eq!(write_to_ring(&state, 2, b"err\n"), Some(Ok(4)), "the other stream keeps its ring");
        let ring_use = state.ring_use.lock();
        assert_eq!(ring_use.ring.as_ref().expect("ring").pending_for_test(), before + 16);
    }

    #[test]
    fn a_stream_the_ring_does_not_carry_keeps_the_hypercall() {
        let state = with_ring();
        state.ring_use.lock().streams = 0b100;
        assert_eq!(write_to_ring(&state, 1, b"to a file\n"), None, "stdout is a regular file");
        assert_eq!(write_to_ring(&state, 2, b"log\n"), Some(Ok(4)));
    }
}
