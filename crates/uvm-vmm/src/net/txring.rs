//! Transmit rings (`uvm_abi::net`, "Transmit rings"): for a ringed stream socket, a ring in
//! guest RAM the guest's `send` copies into, which the VMM writes out to the host socket on a
//! Flush, from its poller, and before anything that could overtake the ring's bytes.
//!
//! [`TxRing`] is one registered ring: where it is, the host socket (its own reference), the
//! VMM's own `tail` and flags (the guest's words are never trusted), and a shutdown to do once
//! the ring is written out. [`TxRings`] holds one per handle, each behind its own lock (writes
//! of one ring never overlap), a bitmap of the handles that have one (what a Flush walks), and
//! the bytes of closed sockets still to be written out ([`Orphan`]): Close takes a ring's
//! remaining bytes out of guest RAM, and the host socket is closed only once they are written
//! or fail.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use uvm_abi::net::{NET_MAX_HANDLES, NET_TX_ERROR, NET_TX_RING_SIZE};

use super::ring::RingPlace;
use super::sys::{self, Errno};
use crate::memory::GuestMemory;

const HEAD: u64 = 0;
const TAIL: u64 = 4;
const FLAGS: u64 = 8;
const ERROR: u64 = 12;
const SIZE: u32 = NET_TX_RING_SIZE;
/// How long a closed socket's bytes may wait for its peer to take them.
const ORPHAN_LIFETIME: Duration = Duration::from_secs(60);
/// The most closed sockets kept for their bytes (the oldest go first past it).
const MAX_ORPHANS: usize = 1024;
/// The flags every write carries (the VMM never waits; a closed peer is an errno).
const WRITE_FLAGS: i32 = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;

/// What writing out a ring did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Bytes written.
    pub moved: u32,
    /// The ring was full, or the host socket was, and the ring has more room now (the guest
    /// may wait for it).
    pub freed: bool,
    /// Bytes remain in the ring after the call (blocked, failed, or written by the guest
    /// faster than one call writes out).
    pub pending: bool,
}

/// One registered ring.
pub struct TxRing {
    place: RingPlace,
    fd: Arc<OwnedFd>,
    /// The handle's serial when the ring was registered.
    serial: u32,
    tail: u32,
    flags: u32,
    /// A `shutdown(how)` the guest asked for while bytes were still in the ring.
    shutdown: Option<i32>,
    /// The last write found the host socket full (the guest may wait for the ring to empty).
    blocked: bool,
}

impl TxRing {
    /// A ring at `place` for the host socket `fd` (handle serial `serial`), empty; the header
    /// is reset.
    pub fn new(memory: &GuestMemory, place: RingPlace, fd: Arc<OwnedFd>, serial: u32) -> TxRing {
        let ring = TxRing { place, fd, serial, tail: 0, flags: 0, shutdown: None, blocked: false };
        for offset in [HEAD, ERROR, FLAGS, TAIL] {
            ring.store(memory, offset, 0);
        }
        ring
    }

    fn store(&self, memory: &GuestMemory, offset: u64, value: u32) {
        if let Some(word) = memory.atomic_u32(self.place.header() + offset) {
            word.store(value, Ordering::SeqCst);
        }
    }

    fn head(&self, memory: &GuestMemory) -> u32 {
        memory.atomic_u32(self.place.header() + HEAD).map_or(self.tail, |w| w.load(Ordering::Acquire))
    }

    fn fail(&mut self, memory: &GuestMemory, errno: i32) {
        self.store(memory, ERROR, errno as u32);
        self.flags |= NET_TX_ERROR;
        self.store(memory, FLAGS, self.flags);
    }

    /// Bytes waiting in the ring (0 once it failed, or for a head no ring has).
    fn used(&self, memory: &GuestMemory) -> u32 {
        if self.flags & NET_TX_ERROR != 0 {
            return 0;
        }
        let used = self.head(memory).wrapping_sub(self.tail);
        if used > SIZE {
            0
        } else {
            used
        }
    }

    /// Whether bytes wait in the ring.
    pub fn pending(&self, memory: &GuestMemory) -> bool {
        self.used(memory) > 0
    }

    /// Writes the ring's bytes to the host socket until it is empty, the socket takes no
    /// more, or fails (then [`NET_TX_ERROR`]), and at most a ring's worth per call: a guest
    /// that keeps writing cannot hold the caller (a vCPU's Flush, the poller) here. A
    /// deferred shutdown is done once the ring is empty.
    pub fn drain(&mut self, memory: &GuestMemory) -> Drained {
        let mut drained = Drained::default();
        // The host socket took no more (its poller finishes the ring).
        let mut blocked = false;
        let mut full = false;
        let mut first = true;
        loop {
            if self.flags & NET_TX_ERROR != 0 || drained.moved >= SIZE {
                break;
            }
            let used = self.head(memory).wrapping_sub(self.tail);
            if used > SIZE {
                // The guest wrote a head no ring has: the ring stops (only the guest loses).
                self.fail(memory, libc::EINVAL);
                break;
            }
            if first {
                full = used == SIZE;
                first = false;
            }
            if used == 0 {
                break;
            }
            let Some(iovecs) = memory.ram_iovecs(&self.place.ranges(self.tail, used), u64::from(SIZE)) else {
                self.fail(memory, libc::EFAULT);
                break;
            };
            match sys::send(&self.fd, &iovecs, None, WRITE_FLAGS) {
                Ok(n) => {
                    let n = (n as u32).min(used);
                    self.tail = self.tail.wrapping_add(n);
                    drained.moved += n;
                    if let Some(word) = memory.atomic_u32(self.place.header() + TAIL) {
                        word.store(self.tail, Ordering::Release);
                    }
                }
                Err(Errno(libc::EINTR)) => {}
                Err(Errno(libc::EAGAIN)) => {
                    blocked = true;
                    break;
                }
                Err(Errno(e)) => {
                    self.fail(memory, e);
                    break;
                }
            }
        }
        let waited = full || self.blocked;
        drained.freed = waited && (drained.moved > 0 || self.flags & NET_TX_ERROR != 0);
        self.blocked = blocked;
        drained.pending = self.pending(memory);
        // Empty, or failed (its bytes will never go): a deferred shutdown waits no longer.
        if !drained.pending || self.flags & NET_TX_ERROR != 0 {
            if let Some(how) = self.shutdown.take() {
                let _ = sys::shutdown(&self.fd, how);
            }
        }
        drained
    }

    /// Shutdown: the reading half at once (no byte in the ring waits for it); the writing
    /// half at once when the ring is empty (after writing it out), else once it is. The
    /// host's answer, or `Ok` for a deferred one.
    pub fn shutdown(&mut self, memory: &GuestMemory, how: i32) -> Result<(), Errno> {
        if how == libc::SHUT_RD {
            return sys::shutdown(&self.fd, how);
        }
        if self.drain(memory).pending {
            if how == libc::SHUT_RDWR {
                sys::shutdown(&self.fd, libc::SHUT_RD)?;
            }
            self.shutdown = Some(libc::SHUT_WR);
            return Ok(());
        }
        sys::shutdown(&self.fd, how)
    }

    /// At Close: the bytes still in the ring, copied out of guest RAM, with the host socket.
    fn into_orphan(self, memory: &GuestMemory) -> Option<Orphan> {
        let used = self.used(memory);
        if used == 0 {
            return None;
        }
        let mut data = vec![0u8; used as usize];
        let mut at = 0usize;
        for (gpa, len) in self.place.ranges(self.tail, used) {
            let len = len as usize;
            memory.read_ram(gpa, &mut data[at..at + len])?;
            at += len;
        }
        Some(Orphan { fd: self.fd, data, sent: 0, shutdown: self.shutdown, deadline: Instant::now() + ORPHAN_LIFETIME })
    }
}

/// A closed socket's bytes still to be written out, and its host socket (closed when they
/// are, when it fails, or when its time is up).
pub struct Orphan {
    fd: Arc<OwnedFd>,
    data: Vec<u8>,
    sent: usize,
    shutdown: Option<i32>,
    deadline: Instant,
}

impl Orphan {
    /// Writes on: whether it is finished (written out, failed or out of time).
    fn drain(&mut self) -> bool {
        while self.sent < self.data.len() {
            let rest = &self.data[self.sent..];
            let iovec = libc::iovec { iov_base: rest.as_ptr().cast_mut().cast(), iov_len: rest.len() };
            match sys::send(&self.fd, &[iovec], None, WRITE_FLAGS) {
                Ok(n) => self.sent += n.min(rest.len()),
                Err(Errno(libc::EINTR)) => {}
                Err(Errno(libc::EAGAIN)) => return Instant::now() >= self.deadline,
                Err(_) => return true,
            }
        }
        if let Some(how) = self.shutdown.take() {
            let _ = sys::shutdown(&self.fd, how);
        }
        true
    }
}

/// The transmit rings of the VM's handles, each behind its own lock.
pub struct TxRings {
    slots: Box<[Mutex<Option<TxRing>>]>,
    /// Bit `h`: handle `h` has a ring.
    registered: Box<[AtomicU64]>,
    orphans: Mutex<Vec<Orphan>>,
    /// How many orphans wait (read without the lock by the poller).
    orphan_count: AtomicUsize,
}

impl Default for TxRings {
    fn default() -> TxRings {
        TxRings {
            slots: (0..NET_MAX_HANDLES).map(|_| Mutex::new(None)).collect(),
            registered: (0..NET_MAX_HANDLES.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            orphans: Mutex::new(Vec::new()),
            orphan_count: AtomicUsize::new(0),
        }
    }
}

impl TxRings {
    /// `handle`'s ring, locked (`None` for a handle out of range).
    pub fn lock(&self, handle: u32) -> Option<MutexGuard<'_, Option<TxRing>>> {
        let slot = self.slots.get(handle as usize).filter(|_| handle != 0)?;
        Some(slot.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Gives `handle` `ring`.
    pub fn register(&self, handle: u32, ring: TxRing) {
        if let Some(mut slot) = self.lock(handle) {
            *slot = Some(ring);
            self.registered[handle as usize / 64].fetch_or(1 << (handle % 64), Ordering::SeqCst);
        }
    }

    /// Writes out `handle`'s ring, if it has one (of socket serial `serial`, when given).
    pub fn drain(&self, memory: &GuestMemory, handle: u32, serial: Option<u32>) -> Drained {
        let Some(mut slot) = self.lock(handle) else { return Drained::default() };
        match slot.as_mut() {
            Some(ring) if serial.is_none_or(|s| s == ring.serial) => ring.drain(memory),
            _ => Drained::default(),
        }
    }

    /// Whether any ring is registered or any closed socket's bytes wait.
    pub fn active(&self) -> bool {
        self.orphan_count.load(Ordering::Relaxed) > 0 || self.registered.iter().any(|w| w.load(Ordering::Relaxed) != 0)
    }

    /// The handles that have a ring.
    fn ringed(&self) -> impl Iterator<Item = u32> + '_ {
        self.registered.iter().enumerate().flat_map(|(index, word)| {
            let mut bits = word.load(Ordering::SeqCst);
            std::iter::from_fn(move || {
                let bit = (bits != 0).then(|| bits.trailing_zeros())?;
                bits &= bits - 1;
                Some(index as u32 * 64 + bit)
            })
        })
    }

    /// Writes out every ring: `(handle, what it did)` for each ring that moved or failed.
    pub fn drain_all(&self, memory: &GuestMemory) -> Vec<(u32, Drained)> {
        self.ringed()
            .map(|handle| (handle, self.drain(memory, handle, None)))
            .filter(|(_, drained)| drained.moved > 0 || drained.freed)
            .collect()
    }

    /// Close: the ring is forgotten before this returns (the guest may reuse its memory);
    /// its bytes are written out now or kept until the host socket takes them. Whether they
    /// were kept.
    pub fn close(&self, memory: &GuestMemory, handle: u32) -> bool {
        let Some(mut slot) = self.lock(handle) else { return false };
        let Some(mut ring) = slot.take() else { return false };
        self.registered[handle as usize / 64].fetch_and(!(1 << (handle % 64)), Ordering::SeqCst);
        ring.drain(memory);
        drop(slot);
        let Some(orphan) = ring.into_orphan(memory) else { return false };
        let mut orphans = self.orphans.lock().unwrap_or_else(PoisonError::into_inner);
        if orphans.len() >= MAX_ORPHANS {
            orphans.remove(0);
        }
        orphans.push(orphan);
        self.orphan_count.store(orphans.len(), Ordering::Relaxed);
        true
    }

    /// When the VM stops: writes out what the rings and the closed sockets still hold while
    /// their peers take it, giving up after `stall` without progress or at `deadline` (the
    /// host kernel sends on what its sockets took, as Linux does after an exit).
    pub fn finish(&self, memory: &GuestMemory, stall: Duration, deadline: Instant) {
        let mut progress = Instant::now();
        loop {
            let (mut moved, mut rings_pending) = (0u64, false);
            for handle in self.ringed() {
                let drained = self.drain(memory, handle, None);
                moved += u64::from(drained.moved);
                rings_pending |= drained.pending;
            }
            let orphans_before = self.orphan_count.load(Ordering::Relaxed);
            self.drain_orphans();
            let orphans = self.orphan_count.load(Ordering::Relaxed);
            if moved > 0 || orphans < orphans_before {
                progress = Instant::now();
            }
            let now = Instant::now();
            if (!rings_pending && orphans == 0) || now >= deadline || now.duration_since(progress) >= stall {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Writes on the closed sockets' bytes; the finished ones' host sockets are closed.
    pub fn drain_orphans(&self) {
        if self.orphan_count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut orphans = self.orphans.lock().unwrap_or_else(PoisonError::into_inner);
        orphans.retain_mut(|orphan| !orphan.drain());
        self.orphan_count.store(orphans.len(), Ordering::Relaxed);
    }
}
