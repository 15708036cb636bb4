//! The readiness area: the [`uvm_abi::net::NET_AREA_SIZE`] bytes of guest RAM the guest
//! registers with Setup, one 16-byte slot per handle and the header in slot 0 (see
//! `uvm_abi::net`). The VMM writes it only with atomics (the guest reads and writes it
//! concurrently from its vCPUs): after a call, a slot's bits are brought to what polls of the
//! host socket show; the poller ORs in events and bumps counters, then the header's
//! `generation`.

use std::sync::atomic::Ordering;

use uvm_abi::net::{NET_AREA_SIZE, NET_MAX_HANDLES, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP};

use crate::memory::GuestMemory;

/// The poll bits the area reports.
pub const READINESS_BITS: u32 = POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP;

const SLOT_SIZE: u64 = 16;
const READINESS: u64 = 0;
const INPUT: u64 = 4;
const OUTPUT: u64 = 8;
const HANGUP: u64 = 12;
const GENERATION: u64 = 0;
const TX_PENDING: u64 = 4;
const WAITERS: u64 = 8;

/// A registered readiness area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Area {
    gpa: u64,
}

impl Area {
    /// The area at `gpa`, if it is page-aligned and all in RAM.
    pub fn new(memory: &GuestMemory, gpa: u64) -> Option<Area> {
        (gpa.is_multiple_of(4096) && memory.is_ram(gpa, NET_AREA_SIZE)).then_some(Area { gpa })
    }

    fn field(&self, handle: u32, offset: u64) -> Option<u64> {
        (handle > 0 && handle < NET_MAX_HANDLES).then(|| self.gpa + u64::from(handle) * SLOT_SIZE + offset)
    }

    fn word<'m>(&self, memory: &'m GuestMemory, handle: u32, offset: u64) -> Option<&'m std::sync::atomic::AtomicU32> {
        memory.atomic_u32(self.field(handle, offset)?)
    }

    /// A new handle's slot: counters at zero, bits as `readiness` shows.
    pub fn reset(&self, memory: &GuestMemory, handle: u32) {
        for offset in [INPUT, OUTPUT, HANGUP, READINESS] {
            if let Some(word) = self.word(memory, handle, offset) {
                word.store(0, Ordering::SeqCst);
            }
        }
    }

    /// After a call: the slot's bits become what `poll()` shows, without a bit that holds all
    /// along ever reading clear (a guest thread looking meanwhile would wait for it, with no
    /// event to come) and without losing what the poller ORs in meanwhile. Clears the bits a
    /// first poll shows off, then ORs in a second poll's. True when a bit the poller set
    /// between the two was cleared and set again: a guest thread may have seen it clear and
    /// gone to wait, so the caller wakes the waiters.
    pub fn refresh(&self, memory: &GuestMemory, handle: u32, poll: impl Fn() -> u32) -> bool {
        let Some(word) = self.word(memory, handle, READINESS) else { return false };
        let before = poll() & READINESS_BITS;
        let previous = word.fetch_and(before | !READINESS_BITS, Ordering::SeqCst);
        let after = poll() & READINESS_BITS;
        word.fetch_or(after, Ordering::SeqCst);
        previous & !before & after != 0
    }

    /// A closed handle's slot: nothing ready.
    pub fn clear(&self, memory: &GuestMemory, handle: u32) {
        if let Some(word) = self.word(memory, handle, READINESS) {
            word.store(0, Ordering::SeqCst);
        }
    }

    /// The poller saw `events` (epoll bits) on `handle`'s socket.
    pub fn note_event(&self, memory: &GuestMemory, handle: u32, events: u32) {
        if let Some(word) = self.word(memory, handle, READINESS) {
            word.fetch_or(events & READINESS_BITS, Ordering::SeqCst);
        }
        let bump = |offset| {
            if let Some(word) = self.word(memory, handle, offset) {
                word.fetch_add(1, Ordering::SeqCst);
            }
        };
        if events & POLLIN != 0 {
            bump(INPUT);
        }
        if events & POLLOUT != 0 {
            bump(OUTPUT);
        }
        if events & (POLLERR | POLLHUP | POLLRDHUP) != 0 {
            bump(HANGUP);
        }
    }

    /// After a batch of events: bumps `generation`, then returns `waiters`.
    pub fn publish_generation(&self, memory: &GuestMemory) -> u64 {
        if let Some(generation) = memory.atomic_u32(self.gpa + GENERATION) {
            generation.fetch_add(1, Ordering::SeqCst);
        }
        memory.atomic_u64(self.gpa + WAITERS).map_or(0, |w| w.load(Ordering::SeqCst))
    }

    /// Whether the guest left bytes in a transmit ring (`tx_pending`).
    #[cfg(test)]
    pub fn tx_pending(&self, memory: &GuestMemory) -> bool {
        memory.atomic_u32(self.gpa + TX_PENDING).is_some_and(|w| w.load(Ordering::SeqCst) != 0)
    }

    /// Clears `tx_pending` (before a flush: bytes the guest adds meanwhile set it again).
    /// Whether it was set.
    pub fn take_tx_pending(&self, memory: &GuestMemory) -> bool {
        memory.atomic_u32(self.gpa + TX_PENDING).is_some_and(|w| w.swap(0, Ordering::SeqCst) != 0)
    }

    /// Slot `handle` as it is now (readiness, input, output, hangup).
    #[cfg(test)]
    pub fn slot(&self, memory: &GuestMemory, handle: u32) -> [u32; 4] {
        [READINESS, INPUT, OUTPUT, HANGUP]
            .map(|offset| self.word(memory, handle, offset).map_or(0, |w| w.load(Ordering::SeqCst)))
    }
}
