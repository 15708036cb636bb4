//! The readiness area the kernel shares with the VMM for IP sockets (uvm-abi's `net`
//! module): [`NetArea`] reads a handle's poll bits and event counts, and carries the
//! waiter/generation handshake that lets a thread park until the VMM's poller sees a host
//! socket change, without a lost wake-up.
//!
//! The area is one heap allocation of `NET_AREA_SIZE` bytes (a whole page run, so page-aligned
//! and physically contiguous through the direct map), registered once with `NetOp::Setup` when
//! the VM's first IP socket is made (by whichever process), and never freed.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use uvm_abi::net::{NetCall, NetOp, NET_AREA_SIZE};

use crate::errno::Errno;
use crate::fs::epoll::Changes;
use crate::sync::SpinLock;

/// The shared area, as 64-bit words: slot `h` is words `2h` (readiness, input count) and
/// `2h + 1` (output count, hang-up count); slot 0 is the header (generation and `tx_pending`,
/// waiters).
pub struct NetArea {
    words: Box<[AtomicU64]>,
}

/// The area once registered (a process's `net_area` caches it).
static REGISTERED: SpinLock<Option<&'static NetArea>> = SpinLock::new(None);

const GENERATION: usize = 0;
const WAITERS: usize = 1;
/// `tx_pending`: the high half of the header's first word.
const TX_PENDING: u64 = 1 << 32;

impl NetArea {
    /// A zeroed area (not yet registered).
    fn new() -> NetArea {
        let words: Vec<AtomicU64> = (0..NET_AREA_SIZE / 8).map(|_| AtomicU64::new(0)).collect();
        NetArea { words: words.into_boxed_slice() }
    }

    /// The VM's area: allocated and registered with the VMM (`NetOp::Setup`) by the first
    /// process that asks, the same area for every process after it (the VMM takes one
    /// registration per VM: a second is `EBUSY`).
    pub fn register() -> Result<&'static NetArea, Errno> {
        let mut registered = REGISTERED.lock();
        if let Some(area) = *registered {
            return Ok(area);
        }
        let area: &'static NetArea = Box::leak(Box::new(NetArea::new()));
        let va = area.words.as_ptr() as u64;
        if !va.is_multiple_of(uvm_abi::layout::PAGE_SIZE) {
            crate::hypercall::panic(b"the network readiness area is not page-aligned");
        }
        let mut call = NetCall { op: NetOp::Setup as u32, ..NetCall::default() };
        call.arg[0] = crate::hypercall::gpa_of(va);
        let r = crate::hypercall::net(&mut call);
        if r < 0 {
            return Err(Errno::from_host(r));
        }
        *registered = Some(area);
        Ok(area)
    }

    fn slot_words(&self, handle: u32) -> Option<(u64, u64)> {
        let at = handle as usize * 2;
        if handle == 0 || at + 1 >= self.words.len() {
            return None;
        }
        Some((self.words[at].load(Ordering::Acquire), self.words[at + 1].load(Ordering::Acquire)))
    }

    /// Handle `handle`'s poll bits (`POLLIN`, `POLLOUT`, `POLLERR`, `POLLHUP`, `POLLRDHUP`).
    pub fn readiness(&self, handle: u32) -> u32 {
        self.slot_words(handle).map_or(0, |(first, _)| first as u32)
    }

    /// Handle `handle`'s event counts, for edge-triggered epoll.
    pub fn changes(&self, handle: u32) -> Changes {
        let (first, second) = self.slot_words(handle).unwrap_or((0, 0));
        Changes { input: first >> 32, output: second & 0xffff_ffff, hangup: second >> 32 }
    }

    /// How many batches of host events the VMM has published (wrapping at 32 bits).
    pub fn generation(&self) -> u64 {
        self.words[GENERATION].load(Ordering::SeqCst) & 0xffff_ffff
    }

    /// A transmit ring holds bytes the VMM has not been asked to write out. Always a locked
    /// OR (a full barrier): reading the bit first and skipping the write when it looks set
    /// could read it before the ring's `head` store is visible, while the VMM clears the bit
    /// and then reads the old `head`, and the bytes would wait for no flush.
    pub fn set_tx_pending(&self) {
        self.words[GENERATION].fetch_or(TX_PENDING, Ordering::SeqCst);
    }

    /// Whether a transmit ring holds bytes the VMM has not been asked to write out.
    pub fn tx_pending(&self) -> bool {
        self.words[GENERATION].load(Ordering::SeqCst) & TX_PENDING != 0
    }

    /// Asks the VMM to write out every transmit ring (`NetOp::Flush`), if any holds bytes:
    /// the guest does so wherever it must not leave them behind (it parks, the app asks what
    /// is ready, a ring is full, the app exits).
    pub fn flush(&self) {
        if self.tx_pending() {
            let mut call = NetCall { op: NetOp::Flush as u32, ..NetCall::default() };
            crate::hypercall::net(&mut call);
        }
    }

    /// Marks vCPU `cpu` as waiting for a socket (the VMM's poller unparks it).
    pub fn add_waiter(&self, cpu: u32) {
        self.words[WAITERS].fetch_or(1 << (cpu % 64), Ordering::SeqCst);
    }

    /// vCPU `cpu` no longer waits.
    pub fn remove_waiter(&self, cpu: u32) {
        self.words[WAITERS].fetch_and(!(1 << (cpu % 64)), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_decode_as_the_vmm_writes_them() {
        let area = NetArea::new();
        // Slot 3: readiness POLLIN|POLLOUT, input 7; output 2, hang-up 1.
        area.words[6].store(5 | (7 << 32), Ordering::SeqCst);
        area.words[7].store(2 | (1 << 32), Ordering::SeqCst);
        assert_eq!(area.readiness(3), 5);
        assert_eq!(area.changes(3), Changes { input: 7, output: 2, hangup: 1 });
        assert_eq!(area.readiness(0), 0, "slot 0 is the header");
        assert_eq!(area.readiness(uvm_abi::net::NET_MAX_HANDLES), 0, "past the area");
    }

    #[test]
    fn tx_pending_shares_the_generation_word() {
        let area = NetArea::new();
        area.words[GENERATION].store(7, Ordering::SeqCst);
        assert!(!area.tx_pending());
        area.set_tx_pending();
        assert!(area.tx_pending());
        assert_eq!(area.generation(), 7, "the generation is the low half");
    }

    #[test]
    fn waiters_are_bits_per_cpu() {
        let area = NetArea::new();
        area.add_waiter(1);
        area.add_waiter(5);
        area.remove_waiter(1);
        assert_eq!(area.words[WAITERS].load(Ordering::SeqCst), 1 << 5);
    }
}
