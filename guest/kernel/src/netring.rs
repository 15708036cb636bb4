//! Receive and transmit rings (uvm-abi's `net`, "Receive rings", "Transmit rings"). [`TxRing`]
//! is a transmit ring: the same memory, the guest producing (`head`) and the VMM consuming.
//!
//! [`RxRing`] is the guest's side of a receive ring,
//! the memory a connected stream socket's incoming bytes land in without an exit: it reads
//! the VMM's `head` and flags, copies bytes out and moves `tail`. Both own their memory
//! (`RingMemory`: a 16-byte header and a page-run data area, physically contiguous through
//! the direct map), which one pool keeps for reuse once no socket uses it, so a connection
//! costs no allocation.
//!
//! A ring is registered with the VMM by `syscall::inet` (with Accept, or `NetOp::RxRing`) and
//! goes back to the pool only after the socket's Close returned: the VMM never writes into a
//! ring it has forgotten. Consuming is done with the process lock held, so two threads never
//! move `tail` at once.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use uvm_abi::net::{NET_RX_EOF, NET_RX_ERROR, NET_RX_RING_SIZE, NET_RX_STALLED, NET_TX_ERROR, NET_TX_RING_SIZE};

use crate::sync::SpinLock;

const SIZE: u32 = NET_RX_RING_SIZE;
const MASK: u32 = NET_RX_RING_SIZE - 1;
/// Rings kept for reuse at most.
const POOL_MAX: usize = 64;

/// The header the VMM and the guest share (`uvm_abi::net::NetRxHeader`).
#[repr(C, align(16))]
#[derive(Default)]
struct Header {
    head: AtomicU32,
    tail: AtomicU32,
    flags: AtomicU32,
    error: AtomicU32,
}

/// A ring as one look at its header saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingState {
    /// Bytes waiting in the ring.
    pub available: u32,
    /// `NET_RX_*` flags.
    pub flags: u32,
    /// The errno, with `NET_RX_ERROR`.
    pub error: u32,
}

impl RingState {
    /// Bytes wait, or the stream has its end (EOF or an error): a read would not block.
    pub fn readable(&self) -> bool {
        self.available > 0 || self.ended()
    }

    /// Nothing follows the ring's bytes (EOF or an error).
    pub fn ended(&self) -> bool {
        self.flags & (NET_RX_EOF | NET_RX_ERROR) != 0
    }

    /// The VMM stopped reading because the ring was full.
    pub fn stalled(&self) -> bool {
        self.flags & NET_RX_STALLED != 0
    }

    /// The host socket's error, with `NET_RX_ERROR`.
    pub fn error(&self) -> Option<u32> {
        (self.flags & NET_RX_ERROR != 0).then_some(self.error)
    }
}

/// A ring's zeroed data area, allocated fallibly: a VM short of memory gets sockets without
/// rings rather than a kernel panic.
fn ring_data() -> Option<Box<[AtomicU64]>> {
    let mut words: Vec<AtomicU64> = Vec::new();
    words.try_reserve_exact((SIZE / 8) as usize).ok()?;
    words.extend((0..SIZE / 8).map(|_| AtomicU64::new(0)));
    Some(words.into_boxed_slice())
}

/// A ring's memory: the header it shares with the VMM and its data area. Receive and
/// transmit rings are laid out alike, so one pool keeps both for reuse.
struct RingMemory {
    header: Box<Header>,
    data: Box<[AtomicU64]>,
}

/// Ring memory no socket uses (the VMM has forgotten it).
static POOL: SpinLock<Vec<RingMemory>> = SpinLock::new(Vec::new());

impl RingMemory {
    /// From the pool, or fresh (zeroed); `None` when the kernel heap has no room for its data
    /// (the socket then works without rings).
    fn take() -> Option<RingMemory> {
        let ring = match POOL.lock().pop() {
            Some(ring) => ring,
            None => RingMemory::fresh()?,
        };
        if !(ring.data.as_ptr() as u64).is_multiple_of(uvm_abi::layout::PAGE_SIZE) {
            crate::hypercall::panic(b"a network ring is not page-aligned");
        }
        Some(ring)
    }

    /// New memory, zeroed; `None` when the kernel heap has no room for its data.
    fn fresh() -> Option<RingMemory> {
        Some(RingMemory { header: Box::default(), data: ring_data()? })
    }

    /// Back to the pool: only once the VMM has forgotten it (Close returned, or the call that
    /// would have registered it failed). The VMM resets the header when it registers it again.
    fn give_back(self) {
        let mut pool = POOL.lock();
        if pool.len() < POOL_MAX {
            pool.push(self);
        }
    }

    /// The GPAs of the header and the data (what the registering call passes).
    fn place(&self) -> (u64, u64) {
        let header = &*self.header as *const Header as u64;
        (crate::hypercall::gpa_of(header), crate::hypercall::gpa_of(self.data.as_ptr() as u64))
    }
}

/// One receive ring.
pub struct RxRing {
    ring: RingMemory,
}

impl RxRing {
    /// A fresh ring (zeroed, never from the pool).
    #[cfg(test)]
    fn new() -> RxRing {
        RxRing { ring: RingMemory::fresh().expect("memory for a test ring") }
    }

    /// A ring to register: from the pool, or new; `None` when there is no memory for one (the
    /// socket then works without rings: each receive is a call).
    pub fn take() -> Option<RxRing> {
        Some(RxRing { ring: RingMemory::take()? })
    }

    /// Back to the pool: only once the VMM has forgotten it (Close returned, or the call that
    /// would have registered it failed).
    pub fn give_back(self) {
        self.ring.give_back();
    }

    /// The GPAs of the header and the data (`arg[2]`, `arg[3]` of the registering call).
    pub fn place(&self) -> (u64, u64) {
        self.ring.place()
    }

    /// What the ring holds now (`head` read with acquire: the bytes before it are there).
    pub fn state(&self) -> RingState {
        let head = self.ring.header.head.load(Ordering::Acquire);
        let tail = self.ring.header.tail.load(Ordering::Relaxed);
        let flags = self.ring.header.flags.load(Ordering::SeqCst);
        let error = self.ring.header.error.load(Ordering::Relaxed);
        RingState { available: head.wrapping_sub(tail).min(SIZE), flags, error }
    }

    /// Copies the next `out.len()` waiting bytes (at most what [`RxRing::state`] said is
    /// available) without taking them.
    pub fn peek(&self, out: &mut [u8]) {
        let tail = self.ring.header.tail.load(Ordering::Relaxed);
        let first = (out.len() as u32).min(SIZE - (tail & MASK)) as usize;
        let (a, b) = out.split_at_mut(first);
        copy_from_words(&self.ring.data, (tail & MASK) as usize, a);
        copy_from_words(&self.ring.data, 0, b);
    }

    /// Takes `count` bytes (at most what is available): the VMM may write over them now.
    /// Whether the ring was stalled (the caller asks for a refill).
    pub fn consume(&self, count: u32) -> bool {
        self.ring.header.tail.fetch_add(count, Ordering::SeqCst);
        self.ring.header.flags.load(Ordering::SeqCst) & NET_RX_STALLED != 0
    }
}

const _: () = assert!(NET_TX_RING_SIZE == SIZE);

/// One transmit ring: the guest copies what the app sends into it and moves `head`; the VMM
/// writes it out and moves `tail`. Producing is done with the process lock held.
pub struct TxRing {
    ring: RingMemory,
}

impl TxRing {
    /// A fresh ring (zeroed, never from the pool).
    #[cfg(test)]
    fn new() -> TxRing {
        TxRing { ring: RingMemory::fresh().expect("memory for a test ring") }
    }

    /// A ring to register: from the pool, or new; `None` when there is no memory for one.
    pub fn take() -> Option<TxRing> {
        Some(TxRing { ring: RingMemory::take()? })
    }

    /// Back to the pool: only once the VMM has forgotten it.
    pub fn give_back(self) {
        self.ring.give_back();
    }

    /// The GPAs of the header and the data (`arg[0]`, `arg[1]` of the registering call).
    pub fn place(&self) -> (u64, u64) {
        self.ring.place()
    }

    /// Bytes the VMM has not written out yet.
    pub fn used(&self) -> u32 {
        let head = self.ring.header.head.load(Ordering::Relaxed);
        head.wrapping_sub(self.ring.header.tail.load(Ordering::Acquire)).min(SIZE)
    }

    /// Room for more bytes.
    pub fn room(&self) -> u32 {
        SIZE - self.used()
    }

    /// The host socket's error, once the VMM found one (the ring then takes nothing more).
    pub fn error(&self) -> Option<u32> {
        (self.ring.header.flags.load(Ordering::SeqCst) & NET_TX_ERROR != 0)
            .then(|| self.ring.header.error.load(Ordering::Relaxed))
    }

    /// Copies as much of `bytes` as there is room for into the ring and publishes it: how
    /// many. The caller then sets the area's `tx_pending`.
    pub fn push(&self, bytes: &[u8]) -> usize {
        let n = (self.room() as usize).min(bytes.len());
        let head = self.ring.header.head.load(Ordering::Relaxed);
        let start = (head & MASK) as usize;
        let first = n.min(SIZE as usize - start);
        copy_to_words(&self.ring.data, start, &bytes[..first]);
        copy_to_words(&self.ring.data, 0, &bytes[first..n]);
        self.ring.header.head.store(head.wrapping_add(n as u32), Ordering::Release);
        n
    }
}

/// Copies `bytes` into bytes `offset..offset + bytes.len()` of the data area (not wrapping).
pub(crate) fn copy_to_words(words: &[AtomicU64], offset: usize, bytes: &[u8]) {
    let mut at = offset;
    let mut done = 0;
    while done < bytes.len() {
        let Some(word) = words.get(at / 8) else { return };
        let start = at % 8;
        let n = (8 - start).min(bytes.len() - done);
        let value = if n == 8 {
            let mut whole = [0u8; 8];
            whole.copy_from_slice(&bytes[done..done + 8]);
            u64::from_le_bytes(whole)
        } else {
            let mut old = word.load(Ordering::Relaxed).to_le_bytes();
            old[start..start + n].copy_from_slice(&bytes[done..done + n]);
            u64::from_le_bytes(old)
        };
        word.store(value, Ordering::Relaxed);
        done += n;
        at += n;
    }
}

/// Copies bytes `offset..offset + out.len()` of the data area (not wrapping) out of its words.
pub(crate) fn copy_from_words(words: &[AtomicU64], offset: usize, out: &mut [u8]) {
    let mut at = offset;
    let mut done = 0;
    while done < out.len() {
        let Some(word) = words.get(at / 8) else { return };
        let bytes = word.load(Ordering::Relaxed).to_le_bytes();
        let start = at % 8;
        let n = (8 - start).min(out.len() - done);
        out[done..done + n].copy_from_slice(&bytes[start..start + n]);
        done += n;
        at += n;
    }
}

/// The poll bits of a ringed socket: input, end and error from the ring (the guest taking
/// bytes cannot clear the VMM's slot bits without a race), room and hang-up from the slot. An
/// error the host socket holds that the ring has not taken (it ended first, or the VMM has not
/// read it yet) shows as the slot says.
pub fn readiness(slot: u32, ring: RingState, error_taken: bool) -> u32 {
    use uvm_abi::net::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP};
    let mut bits = slot & (POLLOUT | POLLHUP);
    if ring.readable() {
        bits |= POLLIN;
    }
    if ring.ended() || (ring.stalled() && slot & POLLRDHUP != 0) {
        bits |= POLLRDHUP;
    }
    match ring.error() {
        Some(_) if !error_taken => bits |= POLLERR,
        Some(_) => {}
        None => bits |= slot & POLLERR,
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;
    use uvm_abi::net::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP};

    /// Writes `bytes` as the VMM would, at stream offset `head`, and publishes the new head.
    fn produce(ring: &RxRing, bytes: &[u8]) {
        let head = ring.ring.header.head.load(Ordering::SeqCst);
        for (i, &b) in bytes.iter().enumerate() {
            let at = (head.wrapping_add(i as u32) & MASK) as usize;
            let word = &ring.ring.data[at / 8];
            let mut w = word.load(Ordering::SeqCst).to_le_bytes();
            w[at % 8] = b;
            word.store(u64::from_le_bytes(w), Ordering::SeqCst);
        }
        ring.ring.header.head.store(head.wrapping_add(bytes.len() as u32), Ordering::Release);
    }

    fn take(ring: &RxRing, n: usize) -> Vec<u8> {
        let mut out = alloc::vec![0u8; n.min(ring.state().available as usize)];
        ring.peek(&mut out);
        ring.consume(out.len() as u32);
        out
    }

    #[test]
    fn bytes_come_out_in_order_across_the_wrap() {
        let ring = RxRing::new();
        // Start near the end so the data wraps, at an odd offset.
        ring.ring.header.head.store(SIZE - 5, Ordering::SeqCst);
        ring.ring.header.tail.store(SIZE - 5, Ordering::SeqCst);
        let data: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
        produce(&ring, &data);
        assert_eq!(ring.state().available, 200);
        let mut peeked = alloc::vec![0u8; 3];
        ring.peek(&mut peeked);
        assert_eq!(peeked, [0, 1, 2], "peek takes nothing");
        assert_eq!(take(&ring, 7), data[..7]);
        assert_eq!(take(&ring, 1000), data[7..]);
        assert_eq!(ring.state().available, 0);
    }

    #[test]
    fn head_and_tail_wrap_around_u32() {
        let ring = RxRing::new();
        ring.ring.header.head.store(u32::MAX - 2, Ordering::SeqCst);
        ring.ring.header.tail.store(u32::MAX - 2, Ordering::SeqCst);
        produce(&ring, b"abcdef");
        assert_eq!(ring.state().available, 6);
        assert_eq!(take(&ring, 6), b"abcdef");
    }

    #[test]
    fn a_tail_past_the_head_reads_as_a_full_ring_not_more() {
        let ring = RxRing::new();
        ring.ring.header.tail.store(5, Ordering::SeqCst);
        assert_eq!(ring.state().available, SIZE);
    }

    #[test]
    fn consuming_a_stalled_ring_asks_for_a_refill() {
        let ring = RxRing::new();
        produce(&ring, b"xy");
        assert!(!ring.consume(1));
        ring.ring.header.flags.store(NET_RX_STALLED, Ordering::SeqCst);
        assert!(ring.consume(1));
    }

    /// Takes `n` bytes out of a transmit ring as the VMM would.
    fn drain(ring: &TxRing, n: usize) -> Vec<u8> {
        let tail = ring.ring.header.tail.load(Ordering::SeqCst);
        let mut out = alloc::vec![0u8; n];
        let first = n.min((SIZE - (tail & MASK)) as usize);
        let (a, b) = out.split_at_mut(first);
        copy_from_words(&ring.ring.data, (tail & MASK) as usize, a);
        copy_from_words(&ring.ring.data, 0, b);
        ring.ring.header.tail.store(tail.wrapping_add(n as u32), Ordering::SeqCst);
        out
    }

    #[test]
    fn a_transmit_ring_takes_what_fits_and_wraps_in_order() {
        let ring = TxRing::new();
        ring.ring.header.head.store(SIZE - 3, Ordering::SeqCst);
        ring.ring.header.tail.store(SIZE - 3, Ordering::SeqCst);
        let data: Vec<u8> = (0..100u32).map(|i| (i * 7) as u8).collect();
        assert_eq!(ring.push(&data), 100);
        assert_eq!(ring.used(), 100);
        assert_eq!(drain(&ring, 100), data);
        let big = alloc::vec![9u8; SIZE as usize + 10];
        assert_eq!(ring.push(&big), SIZE as usize, "a partial copy when full");
        assert_eq!(ring.room(), 0);
        assert_eq!(ring.push(b"x"), 0);
        assert_eq!(drain(&ring, 5), [9u8; 5]);
        assert_eq!(ring.room(), 5);
        assert_eq!(ring.error(), None);
        ring.ring.header.error.store(32, Ordering::SeqCst);
        ring.ring.header.flags.store(NET_TX_ERROR, Ordering::SeqCst);
        assert_eq!(ring.error(), Some(32));
    }

    #[test]
    fn readiness_comes_from_the_ring_and_the_slot() {
        let empty = RingState::default();
        let data = RingState { available: 3, ..RingState::default() };
        let eof = RingState { flags: NET_RX_EOF, ..RingState::default() };
        let reset = RingState { flags: NET_RX_ERROR, error: 104, ..RingState::default() };
        // A stale POLLIN in the slot says nothing for a ringed socket.
        assert_eq!(readiness(POLLIN | POLLOUT, empty, false), POLLOUT);
        assert_eq!(readiness(POLLOUT, data, false), POLLIN | POLLOUT);
        assert_eq!(readiness(POLLOUT | POLLRDHUP, eof, false), POLLIN | POLLOUT | POLLRDHUP);
        let after_reset = POLLIN | POLLOUT | POLLHUP | POLLRDHUP;
        assert_eq!(readiness(POLLOUT | POLLHUP | POLLERR, reset, false), after_reset | POLLERR);
        assert_eq!(readiness(POLLOUT | POLLHUP | POLLERR, reset, true), after_reset, "taken once");
        assert_eq!(readiness(POLLERR, empty, false), POLLERR, "an error the ring has not read");
        let stalled = RingState { available: SIZE, flags: NET_RX_STALLED, error: 0 };
        assert_eq!(readiness(POLLRDHUP, stalled, false), POLLIN | POLLRDHUP);
    }
}
