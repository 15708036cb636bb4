//! [`InetSocket`]: an `AF_INET`/`AF_INET6` socket file. The socket itself is a host socket the
//! VMM holds; this is the guest's side of it: its handle, its family and type, the options
//! the guest keeps (`SO_RCVTIMEO`, `SO_SNDTIMEO`), and its readiness as the VMM publishes it
//! in the shared area (`netarea`), so `poll`/`epoll` look without leaving the VM.
//!
//! A connected stream socket may have a receive ring (`netring`): its readiness then comes
//! from the ring (and the slot's room and hang-up bits), and an error the ring caught is the
//! guest's to report once, as Linux reports `sk_err` once.
//!
//! A ringed socket may also have a transmit ring (`netring::TxRing`): its sends are copied
//! into it and written out by the VMM at the guest's flush points; its `POLLOUT` is room in
//! the ring, and an error the VMM met writing it out is reported once, to the next send or
//! `SO_ERROR`, and shows as `POLLERR` until then.
//!
//! [`InetSocket::call`] makes one `NetOp` on the handle, carrying the options whose
//! `setsockopt` the guest answered itself ([`InetSocket::defer_option`]): the VMM sets them
//! before the op does anything. The last reference going away closes the host socket
//! (`NetOp::Close`). The socket syscalls are `syscall::inet`'s.

use alloc::sync::Arc;
use alloc::vec::Vec;

use uvm_abi::net::{NetCall, NetOp, NetOption, NET_MAX_OPTIONS};

use crate::errno::Errno;
use crate::fs::epoll::Changes;
use crate::fs::stat::{Stat, Timespec};
use crate::fs::unix::sockfs_stat;
use crate::netarea::NetArea;
use crate::netring::{self, RxRing, TxRing};
use crate::sync::SpinLock;

/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;
/// `SOCK_STREAM`.
pub const SOCK_STREAM: u32 = 1;
/// `SOCK_DGRAM`.
pub const SOCK_DGRAM: u32 = 2;

/// The options the guest keeps itself (the VMM never waits, so timeouts are the guest's).
#[derive(Clone, Copy, Debug, Default)]
pub struct InetOptions {
    /// `SO_RCVTIMEO` in nanoseconds (0: none).
    pub rcvtimeo_ns: u64,
    /// `SO_SNDTIMEO` in nanoseconds (0: none).
    pub sndtimeo_ns: u64,
}

/// The receive side of a socket: its ring, if it has one.
#[derive(Default)]
struct Rx {
    ring: Option<Arc<RxRing>>,
    /// The VMM refused a ring (a listener, a datagram socket): never asked again.
    refused: bool,
    /// The ring's error was reported (to a receive, a send or `SO_ERROR`).
    error_taken: bool,
}

/// The transmit side of a socket: its ring, if it has one.
#[derive(Default)]
struct Tx {
    ring: Option<Arc<TxRing>>,
    /// The ring's error was reported once (later sends say `EPIPE`, as Linux).
    error_taken: bool,
    /// The app shut down the writing half: sends say `EPIPE` at once, as on Linux.
    shut: bool,
}

/// An IP socket held by the VMM.
pub struct InetSocket {
    handle: u32,
    family: u16,
    kind: u32,
    area: &'static NetArea,
    ino: u64,
    owner: (u32, u32),
    time: Timespec,
    options: SpinLock<InetOptions>,
    /// Options set by the app and not yet passed to the VMM (at most `NET_MAX_OPTIONS`).
    deferred: SpinLock<Vec<NetOption>>,
    /// The local address, when it cannot change any more (an accepted socket).
    local_name: SpinLock<Option<Vec<u8>>>,
    rx: SpinLock<Rx>,
    tx: SpinLock<Tx>,
}

impl InetSocket {
    /// The socket behind VMM handle `handle`.
    pub fn new(
        handle: u32,
        family: u16,
        kind: u32,
        area: &'static NetArea,
        ino: u64,
        owner: (u32, u32),
        time: Timespec,
    ) -> InetSocket {
        InetSocket {
            handle,
            family,
            kind,
            area,
            ino,
            owner,
            time,
            options: SpinLock::new(InetOptions::default()),
            deferred: SpinLock::new(Vec::new()),
            local_name: SpinLock::new(None),
            rx: SpinLock::new(Rx::default()),
            tx: SpinLock::new(Tx::default()),
        }
    }

    /// The VMM's handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// `AF_INET` or `AF_INET6`.
    pub fn family(&self) -> u16 {
        self.family
    }

    /// `SOCK_STREAM` or `SOCK_DGRAM`.
    pub fn kind(&self) -> u32 {
        self.kind
    }

    /// The shared readiness area.
    pub fn area(&self) -> &'static NetArea {
        self.area
    }

    /// The inode number (sockfs).
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The guest-kept options.
    pub fn options(&self) -> InetOptions {
        *self.options.lock()
    }

    /// Changes the guest-kept options.
    pub fn set_options(&self, change: impl FnOnce(&mut InetOptions)) {
        change(&mut self.options.lock());
    }

    /// The `poll` bits: those the VMM last published for the host socket, with a ringed
    /// socket's input, end and error from its ring.
    pub fn poll(&self) -> u16 {
        let slot = self.area.readiness(self.handle);
        let rx = self.rx.lock();
        let bits = match &rx.ring {
            Some(ring) => netring::readiness(slot, ring.state(), rx.error_taken),
            None => slot,
        };
        drop(rx);
        let tx = self.tx.lock();
        match &tx.ring {
            // An error met writing the ring out, not reported yet: `POLLERR`, as Linux shows
            // `sk_err` (and a send would not block).
            Some(ring) if ring.error().is_some() && !tx.error_taken => {
                (bits | uvm_abi::net::POLLOUT | uvm_abi::net::POLLERR) as u16
            }
            // Room in the ring (or its end: a send would not block).
            Some(ring) if ring.room() > 0 || ring.error().is_some() => (bits | uvm_abi::net::POLLOUT) as u16,
            Some(_) => (bits & !uvm_abi::net::POLLOUT) as u16,
            None => bits as u16,
        }
    }

    /// The transmit ring, if the socket has one.
    pub fn tx_ring(&self) -> Option<Arc<TxRing>> {
        self.tx.lock().ring.clone()
    }

    /// The VMM registered `ring` as this socket's transmit ring.
    pub fn set_tx_ring(&self, ring: TxRing) {
        self.tx.lock().ring = Some(Arc::new(ring));
    }

    /// The error the VMM met writing the transmit ring out: the first time, its errno; then
    /// `EPIPE` (the connection is gone).
    pub fn take_tx_error(&self) -> Option<Errno> {
        self.report_tx_error().map(|(errno, first)| if first { errno } else { Errno::EPIPE })
    }

    /// The transmit ring's error, marked reported, and whether this was its first report.
    fn report_tx_error(&self) -> Option<(Errno, bool)> {
        let mut tx = self.tx.lock();
        let errno = tx.ring.as_ref()?.error()?;
        let first = !core::mem::replace(&mut tx.error_taken, true);
        Some((Errno::from_host(-i64::from(errno)), first))
    }

    /// The socket's pending error for `SO_ERROR`, taken: the receive ring's, else the
    /// transmit ring's if no send has reported it yet (then a send says `EPIPE`).
    pub fn take_pending_error(&self) -> Option<Errno> {
        if let Some(e) = self.take_ring_error() {
            return Some(e);
        }
        self.report_tx_error().and_then(|(errno, first)| first.then_some(errno))
    }

    /// Whether the app shut down the writing half (then a send says `EPIPE` before any copy).
    pub fn set_write_shut(&self, shut: bool) {
        self.tx.lock().shut = shut;
    }

    /// Whether the app shut down the writing half of a socket with a transmit ring.
    pub fn write_shut(&self) -> bool {
        self.tx.lock().shut
    }

    /// Asks the VMM to write out the transmit rings, if this socket has one (before a call
    /// whose answer depends on what was sent).
    pub fn flush(&self) {
        if self.tx.lock().ring.is_some() {
            self.area.flush();
        }
    }

    /// The receive ring, if the socket has one.
    pub fn ring(&self) -> Option<Arc<RxRing>> {
        self.rx.lock().ring.clone()
    }

    /// The VMM registered `ring` for this socket.
    pub fn set_ring(&self, ring: RxRing) {
        self.rx.lock().ring = Some(Arc::new(ring));
    }

    /// Whether a ring may be asked for (none yet, none refused).
    pub fn may_ask_for_ring(&self) -> bool {
        let rx = self.rx.lock();
        rx.ring.is_none() && !rx.refused
    }

    /// The VMM refused a ring for good.
    pub fn refuse_ring(&self) {
        self.rx.lock().refused = true;
    }

    /// The error the ring caught, the first time it is asked for (then it is gone, as
    /// `sk_err` is once read).
    pub fn take_ring_error(&self) -> Option<Errno> {
        let mut rx = self.rx.lock();
        let errno = rx.ring.as_ref()?.state().error()?;
        if rx.error_taken {
            return None;
        }
        rx.error_taken = true;
        Some(Errno::from_host(-i64::from(errno)))
    }

    /// Bytes waiting to be read (`FIONREAD`): in the ring, and in the host socket.
    pub fn pending(&self) -> Result<u64, Errno> {
        self.flush();
        let ring = self.ring().map(|r| r.state());
        if let Some(state) = ring.filter(|s| !s.stalled()) {
            return Ok(u64::from(state.available));
        }
        let mut call = NetCall { op: NetOp::Pending as u32, ..NetCall::default() };
        self.call(&mut call)?;
        Ok(call.arg[0] + ring.map_or(0, |s| u64::from(s.available)))
    }

    /// The host socket's event counts (edge-triggered epoll).
    pub fn changes(&self) -> Changes {
        self.area.changes(self.handle)
    }

    /// The local address, if it is known for good ([`InetSocket::set_local_name`]).
    pub fn local_name(&self) -> Option<Vec<u8>> {
        self.local_name.lock().clone()
    }

    /// Records the local address of a socket whose address cannot change (an accepted one).
    pub fn set_local_name(&self, name: &[u8]) {
        *self.local_name.lock() = Some(name.to_vec());
    }

    /// Queues `option` for the next call on the handle (the app's `setsockopt` already
    /// succeeded). When the queue is full the options go to the VMM at once.
    pub fn defer_option(&self, option: NetOption) -> Result<(), Errno> {
        let full = {
            let mut deferred = self.deferred.lock();
            deferred.retain(|o| (o.level, o.name) != (option.level, option.name));
            deferred.push(option);
            deferred.len() >= NET_MAX_OPTIONS
        };
        if full {
            // Any call on the handle sets them first: the cheapest one carries them.
            let mut call = NetCall { op: NetOp::GetSockName as u32, ..NetCall::default() };
            self.call(&mut call)?;
        }
        Ok(())
    }

    /// Makes `call` (its `op` and operands set) on this socket's handle, with the deferred
    /// options: the result, or the host's error.
    pub fn call(&self, call: &mut NetCall) -> Result<u64, Errno> {
        call.handle = self.handle;
        if call.op != NetOp::Close as u32 {
            let mut deferred = self.deferred.lock();
            let count = deferred.len().min(NET_MAX_OPTIONS);
            call.options[..count].copy_from_slice(&deferred[..count]);
            call.option_count = count as u32;
            deferred.drain(..count);
        }
        let r = crate::hypercall::net(call);
        if r < 0 {
            Err(Errno::from_host(r))
        } else {
            Ok(r as u64)
        }
    }

    /// The metadata (`S_IFSOCK`).
    pub fn stat(&self) -> Stat {
        sockfs_stat(self.ino, self.owner.0, self.owner.1, self.time)
    }
}

impl Drop for InetSocket {
    /// The last fd (or passed reference) is gone: the VMM closes the host socket (once it has
    /// written out what the transmit ring holds) and forgets its rings, which then go back to
    /// the pool.
    fn drop(&mut self) {
        let mut call = NetCall { op: NetOp::Close as u32, ..NetCall::default() };
        let _ = self.call(&mut call);
        if let Some(ring) = self.rx.lock().ring.take().and_then(|ring| Arc::try_unwrap(ring).ok()) {
            ring.give_back();
        }
        if let Some(ring) = self.tx.lock().ring.take().and_then(|ring| Arc::try_unwrap(ring).ok()) {
            ring.give_back();
        }
    }
}
