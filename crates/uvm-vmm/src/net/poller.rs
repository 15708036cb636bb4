//! The poller: one thread per VM (started by the first Setup) that waits on an epoll of every
//! live host socket, edge-triggered. For each event it reads a ringed socket's input into its
//! receive ring (`ring`), ORs the bits into the handle's slot and bumps its counters; after
//! each batch it bumps the area's `generation` and unparks every vCPU whose bit is set in
//! `waiters`. It never holds the sockets' lock (only a ring's own), and it ends when the VM
//! stops ([`Net::stop_poller`] rings its eventfd).

use std::sync::atomic::Ordering;

use uvm_abi::net::{POLLERR, POLLHUP, POLLIN, POLLRDHUP};

use super::{Net, STOP_TAG};
use crate::memory::GuestMemory;

/// Events taken per wait.
const BATCH: usize = 64;
/// The events after which a ringed socket's host socket is read.
const INPUT_EVENTS: u32 = POLLIN | POLLRDHUP | POLLHUP | POLLERR;
/// How long one wait lasts at most (the stop eventfd ends it sooner).
const WAIT_MS: i32 = 1000;

impl Net {
    /// Runs the poller until [`Net::stop_poller`]. `wake(n)` unparks vCPU `n`.
    pub fn run_poller(&self, memory: &GuestMemory, wake: &dyn Fn(u32)) {
        let mut events = [(0u32, 0u64); BATCH];
        loop {
            let n = self.epoll.wait(&mut events, WAIT_MS);
            if events[..n].iter().any(|&(_, tag)| tag == STOP_TAG) {
                return;
            }
            let Some(area) = self.area.get() else { continue };
            let mut noted = false;
            for &(bits, tag) in &events[..n] {
                let (handle, serial) = (tag as u32, (tag >> 32) as u32);
                let current = self.serials.get(handle as usize).map(|s| s.load(Ordering::SeqCst));
                if current != Some(serial) {
                    // An event of a socket closed since: its handle may be another's now.
                    continue;
                }
                // A ringed socket's input goes into its ring before anyone hears of it.
                let input = bits & INPUT_EVENTS != 0 && self.rings.fill(memory, handle, Some(serial));
                area.note_event(memory, handle, if input { bits | POLLIN } else { bits });
                noted = true;
            }
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
