//! [`NetlinkSocket`]: an `AF_NETLINK` socket file (protocol `NETLINK_ROUTE`), in guest
//! memory. What it sends to the kernel (port 0) is answered at once by `rtnetlink`, whose
//! answers wait in the socket's receive queue: one datagram per `recv`, cut to the buffer
//! (`MSG_TRUNC`), as on Linux. Sending to another port or to a group is `EPERM`
//! (`syscall::netlink`): not built, and what Linux tells a sender without `CAP_NET_ADMIN`,
//! as in a container.
//!
//! Port ids ([`NetlinkPorts`], one table per VM): `bind` with a port claims it
//! (`EADDRINUSE` if taken); binding to port 0, or sending or connecting unbound, picks one
//! as Linux does: the process id if free, else a negative id counting down from -4096.
//! Multicast groups can be joined (`bind`, `NETLINK_ADD_MEMBERSHIP`) and are shown back,
//! but nothing is ever multicast: the VM's interfaces never change.
//!
//! A queue past `SO_RCVBUF` drops what arrives and reports `ENOBUFS` to the next receive
//! (Linux's overrun), unless `NETLINK_NO_ENOBUFS`. The socket syscalls are
//! `syscall::netlink`'s.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::epoll::Changes;
use crate::fs::flags::{POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRBAND, POLLWRNORM};
use crate::fs::stat::{Stat, Timespec};
use crate::fs::unix::{sockfs_stat, SockOptions};
use crate::sync::SpinLock;

/// `AF_NETLINK`.
pub const AF_NETLINK: u16 = 16;
/// `NETLINK_ROUTE`: the only protocol served.
pub const NETLINK_ROUTE: u32 = 0;
/// `sizeof(struct sockaddr_nl)`.
pub const SOCKADDR_NL_LEN: usize = 12;

/// `NETLINK_NO_ENOBUFS`: a full queue drops silently.
pub const NETLINK_NO_ENOBUFS: u32 = 5;
/// `NETLINK_CAP_ACK`: errors carry the request's header only.
pub const NETLINK_CAP_ACK: u32 = 10;

/// The first automatic port id when the process id is taken (Linux's -4096).
const FIRST_ROVER_PORT: u32 = (-4096i32) as u32;

/// A `struct sockaddr_nl`: the family, a port id and a bit mask of multicast groups.
pub fn sockaddr_nl(port: u32, groups: u32) -> [u8; SOCKADDR_NL_LEN] {
    let mut out = [0u8; SOCKADDR_NL_LEN];
    out[..2].copy_from_slice(&AF_NETLINK.to_le_bytes());
    out[4..8].copy_from_slice(&port.to_le_bytes());
    out[8..].copy_from_slice(&groups.to_le_bytes());
    out
}

struct State {
    /// The port id, once bound.
    port: Option<u32>,
    /// The multicast groups joined (the first 32).
    groups: u32,
    /// The default destination (`connect`): port and groups.
    peer: (u32, u32),
    /// The kernel's answers, oldest first.
    queue: Vec<Vec<u8>>,
    queued_bytes: usize,
    /// An overrun to report to the next receive.
    error: Option<Errno>,
    /// The `SOL_SOCKET` options (the generic ones, as every guest socket's).
    options: SockOptions,
    /// The `SOL_NETLINK` flag options set: bit `n` for option `n` (`NETLINK_PKTINFO`,
    /// `NETLINK_BROADCAST_ERROR`, `NETLINK_NO_ENOBUFS`, `NETLINK_LISTEN_ALL_NSID`,
    /// `NETLINK_CAP_ACK`, `NETLINK_EXT_ACK`, `NETLINK_GET_STRICT_CHK`): recorded; two change
    /// what is answered (`NETLINK_CAP_ACK`, `NETLINK_NO_ENOBUFS`).
    flags: u32,
    changes: Changes,
}

/// An `AF_NETLINK` socket.
pub struct NetlinkSocket {
    /// `SOCK_RAW` or `SOCK_DGRAM` (the same thing for netlink).
    kind: u32,
    ino: u64,
    owner: (u32, u32),
    time: Timespec,
    state: SpinLock<State>,
}

impl NetlinkSocket {
    /// A new unbound socket of type `kind`, inode `ino`, owned by `owner`, made at `time`.
    pub fn new(kind: u32, ino: u64, owner: (u32, u32), time: Timespec) -> Arc<NetlinkSocket> {
        let state = State {
            port: None,
            groups: 0,
            peer: (0, 0),
            queue: Vec::new(),
            queued_bytes: 0,
            error: None,
            options: SockOptions::default(),
            flags: 0,
            changes: Changes::default(),
        };
        Arc::new(NetlinkSocket { kind, ino, owner, time, state: SpinLock::new(state) })
    }

    pub fn kind(&self) -> u32 {
        self.kind
    }

    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The port id (0 while unbound) and joined groups: `getsockname`'s address.
    pub fn local(&self) -> (u32, u32) {
        let state = self.state.lock();
        (state.port.unwrap_or(0), state.groups)
    }

    /// The port id, if bound.
    pub fn port(&self) -> Option<u32> {
        self.state.lock().port
    }

    /// Joins (`join`) or leaves multicast group `group` (1-32; others are accepted and not
    /// recorded, as Linux records them past the first 32 elsewhere).
    pub fn set_group(&self, group: u32, join: bool) {
        if (1..=32).contains(&group) {
            let bit = 1u32 << (group - 1);
            let mut state = self.state.lock();
            state.groups = if join { state.groups | bit } else { state.groups & !bit };
        }
    }

    /// Sets the joined groups to the mask `groups` (`bind`).
    pub fn set_groups(&self, groups: u32) {
        self.state.lock().groups = groups;
    }

    /// The default destination: `getpeername`'s address.
    pub fn peer(&self) -> (u32, u32) {
        self.state.lock().peer
    }

    pub fn set_peer(&self, peer: (u32, u32)) {
        self.state.lock().peer = peer;
    }

    pub fn options(&self) -> SockOptions {
        self.state.lock().options
    }

    pub fn set_options(&self, change: impl FnOnce(&mut SockOptions)) {
        change(&mut self.state.lock().options);
    }

    /// Whether `SOL_NETLINK` flag option `option` is set.
    pub fn has_flag(&self, option: u32) -> bool {
        option < 32 && self.state.lock().flags & (1 << option) != 0
    }

    /// Sets or clears `SOL_NETLINK` flag option `option` (below 32).
    pub fn set_flag(&self, option: u32, on: bool) {
        if option < 32 {
            let mut state = self.state.lock();
            state.flags = if on { state.flags | 1 << option } else { state.flags & !(1 << option) };
        }
    }

    /// The bytes the receive queue has room for (`SO_RCVBUF` less what waits).
    pub fn room(&self) -> usize {
        let state = self.state.lock();
        state.options.rcvbuf.saturating_sub(state.queued_bytes)
    }

    /// Queues a datagram from the kernel; a full queue drops it (see the module docs).
    pub fn deliver(&self, bytes: Vec<u8>) {
        let mut state = self.state.lock();
        if state.queued_bytes + bytes.len() > state.options.rcvbuf {
            if state.flags & (1 << NETLINK_NO_ENOBUFS) == 0 {
                state.error = Some(Errno::ENOBUFS);
                state.changes.input_changed();
            }
            return;
        }
        state.queued_bytes += bytes.len();
        state.queue.push(bytes);
        state.changes.input_changed();
    }

    /// The next datagram (left queued with `peek`), or the overrun to report: `EAGAIN` when
    /// there is neither.
    pub fn recv(&self, peek: bool) -> Result<Vec<u8>, Errno> {
        let mut state = self.state.lock();
        if let Some(error) = state.error.take() {
            return Err(error);
        }
        if peek {
            return state.queue.first().cloned().ok_or(Errno::EAGAIN);
        }
        if state.queue.is_empty() {
            return Err(Errno::EAGAIN);
        }
        let datagram = state.queue.remove(0);
        state.queued_bytes -= datagram.len();
        state.changes.output_changed();
        Ok(datagram)
    }

    /// The overrun to report, once (`SO_ERROR`).
    pub fn take_error(&self) -> Option<Errno> {
        self.state.lock().error.take()
    }

    /// The `poll` events that hold now: readable with a datagram or an error queued,
    /// always writable (sends never wait).
    pub fn poll(&self) -> u16 {
        let state = self.state.lock();
        let mut events = POLLOUT | POLLWRNORM | POLLWRBAND;
        if !state.queue.is_empty() {
            events |= POLLIN | POLLRDNORM;
        }
        if state.error.is_some() {
            events |= POLLERR;
        }
        events
    }

    /// The wake-ups so far, for edge-triggered epoll entries.
    pub fn changes(&self) -> Changes {
        self.state.lock().changes
    }

    /// The metadata: sockfs's inode, as for every socket.
    pub fn stat(&self) -> Stat {
        sockfs_stat(self.ino, self.owner.0, self.owner.1, self.time)
    }

    fn set_port(&self, port: u32) {
        self.state.lock().port = Some(port);
    }
}

/// The VM's bound netlink port ids (see the module docs). A list: a VM has a handful.
#[derive(Default)]
pub struct NetlinkPorts {
    bound: Vec<(u32, Weak<NetlinkSocket>)>,
    /// The next automatic port id to try once the process id is taken.
    rover: Option<u32>,
}

impl NetlinkPorts {
    /// Whether a live socket is bound to `port`.
    fn taken(&self, port: u32) -> bool {
        self.bound.iter().any(|(p, socket)| *p == port && socket.strong_count() > 0)
    }

    /// Binds unbound `socket` to `port`: `EADDRINUSE` if a live socket has it.
    pub fn bind(&mut self, socket: &Arc<NetlinkSocket>, port: u32) -> Result<(), Errno> {
        self.bound.retain(|(_, s)| s.strong_count() > 0);
        if self.taken(port) {
            return Err(Errno::EADDRINUSE);
        }
        self.bound.push((port, Arc::downgrade(socket)));
        socket.set_port(port);
        Ok(())
    }

    /// Binds `socket` to an automatic port if it has none (the process id `pid` if free,
    /// else the next free negative id); returns its port.
    pub fn autobind(&mut self, socket: &Arc<NetlinkSocket>, pid: u32) -> Result<u32, Errno> {
        if let Some(port) = socket.port() {
            return Ok(port);
        }
        if self.bind(socket, pid).is_ok() {
            return Ok(pid);
        }
        for _ in 0..0x1000 {
            let port = self.rover.unwrap_or(FIRST_ROVER_PORT);
            self.rover = Some(if port <= 0x8000_0000 { FIRST_ROVER_PORT } else { port - 1 });
            if self.bind(socket, port).is_ok() {
                return Ok(port);
            }
        }
        Err(Errno::EADDRINUSE)
    }
}

#[cfg(test)]
mod tests;
