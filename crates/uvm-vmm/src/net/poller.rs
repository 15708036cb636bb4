//! The poller: one thread per VM (started by the first Setup) that waits on an epoll of every
//! live host socket, edge-triggered. For each event it reads a ringed socket's input into its
//! receive ring (`ring`), writes out a transmit ring the host socket had no room for
//! (`txring`), ORs the bits into the handle's slot and bumps its counters; whenever it wakes
//! with the area's `tx_pending` set it writes out every transmit ring (waiting at most 1 ms
//! while rings exist and it finds work, backing off to 16 ms while it finds none; without
//! rings it waits up to 1 s, and the first ring's registration wakes it), and it writes on
//! closed sockets' unsent bytes; after
//! each batch it bumps the area's `generation` and unparks every vCPU whose bit is set in
//! `waiters`. It never holds the sockets' lock (only a ring's own), and it ends when the VM
//! stops ([`Net::stop_poller`] rings its eventfd).

use std::sync::atomic::Ordering;

use uvm_abi::net::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP};

use super::{Net, STOP_TAG, WAKE_TAG};
use crate::memory::GuestMemory;

/// Events taken per wait.
const BATCH: usize = 64;
/// The events after which a ringed socket's host socket is read.
const INPUT_EVENTS: u32 = POLLIN | POLLRDHUP | POLLHUP | POLLERR;
/// How long one wait lasts at most (the stop eventfd ends it sooner).
const WAIT_MS: i32 = 1000;
/// How long one wait lasts at most while transmit rings exist: bytes the guest left in one
/// (`tx_pending`) go out within about this long even if it makes no syscall. It starts at
/// [`TX_WAIT_MIN_MS`] and doubles with every wait that ends with nothing to do, up to
/// [`TX_WAIT_MAX_MS`]: under load the poller writes out the rings every millisecond (saving
/// the guest its Flush exits); an idle VM with open connections wakes it ~70 times a second
/// instead of 1000.
const TX_WAIT_MIN_MS: i32 = 1;
const TX_WAIT_MAX_MS: i32 = 16;
/// When the VM stops, how long its unsent bytes may go without progress, and at most.
const FINISH_STALL: std::time::Duration = std::time::Duration::from_millis(200);
const FINISH_MAX: std::time::Duration = std::time::Duration::from_secs(5);
/// The events after which a socket's transmit ring is written out.
const OUTPUT_EVENTS: u32 = POLLOUT | POLLHUP | POLLERR;

impl Net {
    /// Runs the poller until [`Net::stop_poller`]. `wake(n)` unparks vCPU `n`.
    pub fn run_poller(&self, memory: &GuestMemory, wake: &dyn Fn(u32)) {
        let mut events = [(0u32, 0u64); BATCH];
        let mut tx_wait = TX_WAIT_MIN_MS;
        loop {
            // Idle first, rings second: see `Net::poke_poller`.
            self.poller_idle.store(true, Ordering::SeqCst);
            let timeout = if self.tx.active() { tx_wait } else { WAIT_MS };
            if timeout != WAIT_MS {
                self.poller_idle.store(false, Ordering::SeqCst);
            }
            let n = self.epoll.wait(&mut events, timeout);
            self.poller_idle.store(false, Ordering::SeqCst);
            if events[..n].iter().any(|&(_, tag)| tag == WAKE_TAG) {
                self.wake.drain();
            }
            if events[..n].iter().any(|&(_, tag)| tag == STOP_TAG) {
                // The app's last sends still go out (as its sockets' queues would on Linux)
                // when it ended by itself; a stop asked from outside (Ctrl-C, SIGTERM,
                // --timeout) is not held up by peers that read slowly.
                if crate::stop::requested().is_none() {
                    let now = std::time::Instant::now();
                    self.tx.finish(memory, FINISH_STALL, now + FINISH_MAX);
                }
                return;
            }
            let Some(area) = self.area.get() else { continue };
            let mut noted = false;
            for &(bits, tag) in events[..n].iter().filter(|&&(_, tag)| tag != WAKE_TAG) {
                let (handle, serial) = (tag as u32, (tag >> 32) as u32);
                let current = self.serials.get(handle as usize).map(|s| s.load(Ordering::SeqCst));
                if current != Some(serial) {
                    // An event of a socket closed since: its handle may be another's now.
                    continue;
                }
                // A ringed socket's input goes into its ring before anyone hears of it.
                let input = bits & INPUT_EVENTS != 0 && self.rings.fill(memory, handle, Some(serial));
                // A transmit ring the host socket could not take goes on now.
                let freed = bits & OUTPUT_EVENTS != 0 && self.tx.drain(memory, handle, Some(serial)).freed;
                let bits = if input { bits | POLLIN } else { bits };
                area.note_event(memory, handle, if freed { bits | POLLOUT } else { bits });
                noted = true;
            }
            // Bytes the guest left in rings without a flush go out now.
            let pending = area.take_tx_pending(memory);
            tx_wait = if n > 0 || pending { TX_WAIT_MIN_MS } else { (tx_wait * 2).min(TX_WAIT_MAX_MS) };
            if pending {
                for (handle, drained) in self.tx.drain_all(memory) {
                    if drained.freed {
                        area.note_event(memory, handle, POLLOUT);
                        noted = true;
                    }
                }
            }
            self.tx.drain_orphans();
            if !noted {
                continue;
            }
            self.poller_batches.fetch_add(1, Ordering::Relaxed);
            let waiters = area.publish_generation(memory);
            for index in (0..64).filter(|i| waiters & (1u64 << i) != 0) {
                wake(index);
                self.poller_wakes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
