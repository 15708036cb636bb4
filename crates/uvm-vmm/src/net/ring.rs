//! Receive rings (`uvm_abi::net`, "Receive rings"): for a connected stream socket, a ring in
//! guest RAM the VMM reads the host socket into, so the guest receives without an exit.
//!
//! [`RxRing`] is one registered ring: where it is, the host socket it reads (its own reference,
//! so the poller never needs the sockets' lock), the VMM's own `head` and flags (the guest's
//! copies are never trusted), and the fill. [`Rings`] holds one per handle, each behind its own
//! lock: the poller and the vCPUs take turns reading a ringed socket (a read is never
//! reordered), and Close takes the ring out under that lock, so nothing touches a ring once its
//! handle is closed.

use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use uvm_abi::net::{NET_MAX_HANDLES, NET_RX_EOF, NET_RX_ERROR, NET_RX_RING_SIZE, NET_RX_STALLED};

use super::sys::{self, Errno};
use crate::memory::GuestMemory;

const HEAD: u64 = 0;
const TAIL: u64 = 4;
const FLAGS: u64 = 8;
const ERROR: u64 = 12;
/// Bytes of the header the guest registers.
const HEADER_SIZE: u64 = 16;
const SIZE: u32 = NET_RX_RING_SIZE;
const MASK: u32 = NET_RX_RING_SIZE - 1;
// A transmit ring is placed and checked as a receive ring is.
const _: () = assert!(uvm_abi::net::NET_TX_RING_SIZE == NET_RX_RING_SIZE);

/// Where a ring is in guest RAM, as a call names it (`arg[2]`, `arg[3]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingPlace {
    header: u64,
    data: u64,
}

impl RingPlace {
    /// The header's GPA.
    pub fn header(&self) -> u64 {
        self.header
    }

    /// The RAM ranges of `len` bytes of the data from stream offset `from` on (two when they
    /// wrap past the end of the ring).
    pub fn ranges(&self, from: u32, len: u32) -> Vec<(u64, u64)> {
        let start = from & MASK;
        let first = len.min(SIZE - start);
        let mut ranges = vec![(self.data + u64::from(start), u64::from(first))];
        if len > first {
            ranges.push((self.data, u64::from(len - first)));
        }
        ranges
    }

    /// The ring a call names: `Ok(None)` for none (both zero), `EINVAL` unless the header is
    /// 16 bytes at a 16-aligned GPA and the data [`NET_RX_RING_SIZE`] bytes at a page-aligned
    /// GPA, all in RAM (a transmit ring's are checked the same way).
    pub fn of_call(memory: &GuestMemory, header: u64, data: u64) -> Result<Option<RingPlace>, Errno> {
        if header == 0 && data == 0 {
            return Ok(None);
        }
        let header_ok = header.is_multiple_of(HEADER_SIZE) && memory.is_ram(header, HEADER_SIZE);
        let data_ok = data.is_multiple_of(4096) && memory.is_ram(data, u64::from(SIZE));
        if header_ok && data_ok {
            Ok(Some(RingPlace { header, data }))
        } else {
            Err(Errno(libc::EINVAL))
        }
    }
}

/// One registered ring.
pub struct RxRing {
    place: RingPlace,
    fd: Arc<OwnedFd>,
    /// The handle's serial when the ring was registered (events of an older socket are not
    /// this ring's).
    serial: u32,
    head: u32,
    flags: u32,
}

impl RxRing {
    /// A ring at `place` for the host socket `fd` (handle serial `serial`), empty; the header
    /// is reset.
    pub fn new(memory: &GuestMemory, place: RingPlace, fd: Arc<OwnedFd>, serial: u32) -> RxRing {
        let ring = RxRing { place, fd, serial, head: 0, flags: 0 };
        for offset in [TAIL, ERROR, FLAGS, HEAD] {
            ring.store(memory, offset, 0);
        }
        ring
    }

    fn store(&self, memory: &GuestMemory, offset: u64, value: u32) {
        if let Some(word) = memory.atomic_u32(self.place.header + offset) {
            word.store(value, Ordering::SeqCst);
        }
    }

    fn tail(&self, memory: &GuestMemory) -> u32 {
        memory.atomic_u32(self.place.header + TAIL).map_or(self.head, |w| w.load(Ordering::SeqCst))
    }

    /// Whether the ring has its end (nothing more is read into it).
    fn ended(&self) -> bool {
        self.flags & (NET_RX_EOF | NET_RX_ERROR) != 0
    }

    fn set_flags(&mut self, memory: &GuestMemory, flags: u32) {
        self.flags = flags;
        self.store(memory, FLAGS, flags);
    }

    /// Records what a read of the host socket said: `Ok(true)` to read on.
    fn note_read(&mut self, memory: &GuestMemory, read: Result<usize, Errno>) -> Result<bool, Errno> {
        match read {
            Ok(0) => {
                self.set_flags(memory, (self.flags & !NET_RX_STALLED) | NET_RX_EOF);
                Ok(false)
            }
            Ok(n) => {
                self.head = self.head.wrapping_add(n as u32);
                if let Some(word) = memory.atomic_u32(self.place.header + HEAD) {
                    word.store(self.head, Ordering::Release);
                }
                Ok(true)
            }
            Err(Errno(libc::EAGAIN)) => Ok(false),
            Err(Errno(libc::EINTR)) => Ok(true),
            Err(e) => {
                self.store(memory, ERROR, e.0 as u32);
                self.set_flags(memory, (self.flags & !NET_RX_STALLED) | NET_RX_ERROR);
                Err(e)
            }
        }
    }

    /// Reads the host socket into the ring's free space until the socket has nothing more,
    /// ends, fails, or the ring is full (then marked stalled). Whether the ring changed.
    pub fn fill(&mut self, memory: &GuestMemory) -> bool {
        let mut changed = false;
        while !self.ended() {
            let tail = self.tail(memory);
            let used = self.head.wrapping_sub(tail);
            if used > SIZE {
                // The guest wrote a tail no ring has: the ring stops (only the guest loses).
                break;
            }
            let free = SIZE - used;
            if free == 0 {
                if self.flags & NET_RX_STALLED == 0 {
                    self.set_flags(memory, self.flags | NET_RX_STALLED);
                    changed = true;
                }
                // The guest stores `tail` and then reads the flags; marked first, re-read
                // here: room made meanwhile is either seen now or answered by a Refill.
                if self.tail(memory) == tail {
                    break;
                }
                self.set_flags(memory, self.flags & !NET_RX_STALLED);
                continue;
            }
            let Some(iovecs) = memory.ram_iovecs(&self.place.ranges(self.head, free), u64::from(SIZE)) else { break };
            let before = (self.head, self.flags);
            let more = self.note_read(memory, sys::read_into(&self.fd, &iovecs));
            changed |= (self.head, self.flags) != before;
            if !matches!(more, Ok(true)) {
                break;
            }
        }
        changed
    }

    /// Refill: clears the stall mark; with `chunks` (host iovecs into guest RAM) and an empty
    /// ring, reads the socket's next bytes into them first; then fills. The bytes put in the
    /// chunks and whether the ring changed.
    pub fn refill(&mut self, memory: &GuestMemory, chunks: &[libc::iovec]) -> (usize, bool) {
        let mut changed = false;
        if self.flags & NET_RX_STALLED != 0 {
            self.set_flags(memory, self.flags & !NET_RX_STALLED);
            changed = true;
        }
        let mut direct = 0;
        let wanted: usize = chunks.iter().map(|c| c.iov_len).sum();
        if wanted > 0 && !self.ended() && self.tail(memory) == self.head {
            loop {
                match sys::read_into(&self.fd, chunks) {
                    Ok(0) => {
                        self.set_flags(memory, self.flags | NET_RX_EOF);
                        changed = true;
                    }
                    Ok(n) => direct = n,
                    Err(Errno(libc::EINTR)) => continue,
                    Err(Errno(libc::EAGAIN)) => {}
                    Err(e) => {
                        self.store(memory, ERROR, e.0 as u32);
                        self.set_flags(memory, self.flags | NET_RX_ERROR);
                        changed = true;
                    }
                }
                break;
            }
        }
        changed |= self.fill(memory);
        (direct, changed)
    }
}

/// The rings of the VM's handles, each behind its own lock.
pub struct Rings {
    slots: Box<[Mutex<Option<RxRing>>]>,
}

impl Default for Rings {
    fn default() -> Rings {
        Rings { slots: (0..NET_MAX_HANDLES).map(|_| Mutex::new(None)).collect() }
    }
}

impl Rings {
    /// `handle`'s ring, locked (`None` for a handle out of range).
    pub fn lock(&self, handle: u32) -> Option<MutexGuard<'_, Option<RxRing>>> {
        let slot = self.slots.get(handle as usize).filter(|_| handle != 0)?;
        Some(slot.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether `handle` has a ring.
    pub fn has(&self, handle: u32) -> bool {
        self.lock(handle).is_some_and(|ring| ring.is_some())
    }

    /// Gives `handle` `ring` and fills it. Whether it changed.
    pub fn register(&self, memory: &GuestMemory, handle: u32, ring: RxRing) -> bool {
        match self.lock(handle) {
            Some(mut slot) => slot.insert(ring).fill(memory),
            None => false,
        }
    }

    /// Fills `handle`'s ring, if it has one (of socket serial `serial`, when given). Whether
    /// it changed.
    pub fn fill(&self, memory: &GuestMemory, handle: u32, serial: Option<u32>) -> bool {
        let Some(mut slot) = self.lock(handle) else { return false };
        match slot.as_mut() {
            Some(ring) if serial.is_none_or(|s| s == ring.serial) => ring.fill(memory),
            _ => false,
        }
    }

    /// Forgets `handle`'s ring (waiting for a fill in progress to end): nothing writes into
    /// its memory after this returns.
    pub fn forget(&self, handle: u32) {
        if let Some(mut slot) = self.lock(handle) {
            slot.take();
        }
    }
}
