//! [`UnixSocket`]: an `AF_UNIX` socket in guest memory (stream, datagram, seqpacket), and
//! [`UnixNames`]: the names sockets are bound to (filesystem paths by inode, abstract names).
//! The socket syscalls (`syscall::net`) own the fds, the app's memory and the waiting; this
//! module owns the semantics, with Linux's rules:
//!
//! - Stream: bytes go straight into the peer's receive queue, bounded by the sender's
//!   `SO_SNDBUF` ([`DEFAULT_BUF`], 208 KiB, as Linux's default); a send takes what fits. A
//!   read takes bytes across queued chunks but stops after a chunk that carried fds
//!   (`SCM_RIGHTS`), as Linux does. End of file once the peer closed or shut down writing;
//!   `EPIPE` for a send once the peer closed (or shut down reading) or after our own
//!   `SHUT_WR`; `ECONNRESET` once if the peer closed with data unread.
//! - Datagram and seqpacket: one message per send, with its boundaries (a short read drops
//!   the rest and reports the full length for `MSG_TRUNC`). Datagram queues hold at most
//!   [`MAX_DGRAM_QLEN`] messages (except between a connected pair) and the sender's
//!   `SO_SNDBUF` bytes; a datagram larger than `SO_SNDBUF - 32` is `EMSGSIZE`.
//! - Listening: `connect` makes the server-side socket at once and queues it on the
//!   listener (`accept` takes it); a queue longer than the backlog must wait.
//! - Nothing here waits: what would block on Linux returns [`MUST_WAIT`] (`EAGAIN`) and the
//!   syscall layer waits unless non-blocking. Every change that wakes readers, writers or
//!   everyone bumps the socket's [`Changes`] for edge-triggered epoll entries.
//!
//! A socket closes when its open file drops (`OpenFile`'s `Drop`): the peer sees the
//! hang-up, queued messages (and the fds in flight in them) are dropped, pending
//! connections of a listener are reset. Fds in flight that refer to the socket carrying
//! them keep it alive (Linux collects such cycles; here they leak until the VM ends).

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::errno::Errno;
use crate::fs::epoll::Changes;
use crate::fs::file::OpenFile;
use crate::fs::flags::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRBAND, POLLWRNORM};
use crate::fs::stat::{makedev, FileType, Stat, Timespec};
use crate::sync::SpinLock;

/// `AF_UNIX`.
pub const AF_UNIX: u16 = 1;
/// `POLLRDHUP`: the peer shut down writing (or closed).
pub const POLLRDHUP: u16 = 0x2000;
/// Default `SO_SNDBUF`/`SO_RCVBUF` (Linux's `wmem_default`), and their cap before doubling.
pub const DEFAULT_BUF: usize = 212_992;
/// The smallest `SO_SNDBUF` (Linux's `SOCK_MIN_SNDBUF`).
pub const MIN_SNDBUF: usize = 4608;
/// The smallest `SO_RCVBUF` (Linux's `SOCK_MIN_RCVBUF`).
pub const MIN_RCVBUF: usize = 2304;
/// Datagrams a socket queues from others (Linux's `net.unix.max_dgram_qlen`).
pub const MAX_DGRAM_QLEN: usize = 512;
/// The largest backlog (Linux's `net.core.somaxconn`).
pub const SOMAXCONN: usize = 4096;
/// Bytes of `sun_path`.
pub const SUN_PATH_LEN: usize = 108;
/// `st_dev` of sockets (Linux's sockfs).
pub const DEV_SOCKFS: u64 = makedev(0, 8);
/// `statfs` `f_type` of sockets.
pub const SOCKFS_MAGIC: u64 = 0x534f_434b;
/// What an operation that cannot go on now returns (see the module docs).
pub const MUST_WAIT: Errno = Errno::EAGAIN;

/// The socket types `AF_UNIX` has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockType {
    /// `SOCK_STREAM`.
    Stream = 1,
    /// `SOCK_DGRAM`.
    Dgram = 2,
    /// `SOCK_SEQPACKET`.
    SeqPacket = 5,
}

impl SockType {
    /// The type for a `socket()` type number (flags removed): `ESOCKTNOSUPPORT` otherwise.
    pub fn from_raw(raw: u32) -> Result<SockType, Errno> {
        match raw {
            1 => Ok(SockType::Stream),
            2 => Ok(SockType::Dgram),
            5 => Ok(SockType::SeqPacket),
            // SOCK_RAW, SOCK_RDM: Linux's AF_UNIX says ESOCKTNOSUPPORT; unknown ones EINVAL.
            3 | 4 => Err(Errno::ESOCKTNOSUPPORT),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Whether it keeps connections (stream, seqpacket).
    pub fn is_connection(self) -> bool {
        self != SockType::Dgram
    }
}

/// A socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixAddr {
    /// Not bound.
    Unnamed,
    /// A filesystem path (without its NUL).
    Path(Vec<u8>),
    /// An abstract name (the bytes after `sun_path[0] == 0`).
    Abstract(Vec<u8>),
}

impl UnixAddr {
    /// Parses a `struct sockaddr_un` of the length the app gave, as Linux's `unix_mkname`:
    /// `EINVAL` for a length below `sizeof(sa_family_t)` or beyond the structure, or another
    /// family. Exactly `sa_family_t` bytes is [`UnixAddr::Unnamed`] (autobind for `bind`).
    pub fn parse(raw: &[u8]) -> Result<UnixAddr, Errno> {
        if raw.len() < 2 || raw.len() > 2 + SUN_PATH_LEN {
            return Err(Errno::EINVAL);
        }
        if u16::from_le_bytes([raw[0], raw[1]]) != AF_UNIX {
            return Err(Errno::EINVAL);
        }
        let path = &raw[2..];
        match path.first() {
            None => Ok(UnixAddr::Unnamed),
            Some(0) => Ok(UnixAddr::Abstract(path[1..].to_vec())),
            Some(_) => {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                Ok(UnixAddr::Path(path[..end].to_vec()))
            }
        }
    }

    /// The `struct sockaddr_un` as Linux returns it, of its exact length: 2 bytes unnamed,
    /// `2 + strlen + 1` for a path, `2 + 1 + len` for an abstract name.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = AF_UNIX.to_le_bytes().to_vec();
        match self {
            UnixAddr::Unnamed => {}
            UnixAddr::Path(path) => {
                out.extend_from_slice(path);
                out.push(0);
            }
            UnixAddr::Abstract(name) => {
                out.push(0);
                out.extend_from_slice(name);
            }
        }
        out
    }

    /// Whether it names nothing.
    pub fn is_unnamed(&self) -> bool {
        *self == UnixAddr::Unnamed
    }
}

/// Who sent something (`SO_PEERCRED`, `SCM_CREDENTIALS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cred {
    /// Process id.
    pub pid: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Cred {
    /// What Linux reports without a peer: pid 0, the overflow uid and gid.
    pub const NONE: Cred = Cred { pid: 0, uid: 65534, gid: 65534 };

    /// A `struct ucred`.
    pub fn to_bytes(self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..4].copy_from_slice(&self.pid.to_le_bytes());
        out[4..8].copy_from_slice(&self.uid.to_le_bytes());
        out[8..].copy_from_slice(&self.gid.to_le_bytes());
        out
    }
}

/// A queued message (a datagram, a seqpacket record, or a chunk of a stream).
struct Message {
    data: Vec<u8>,
    /// How much of `data` a stream reader already took.
    read: usize,
    fds: Vec<Arc<OpenFile>>,
    from: UnixAddr,
    cred: Cred,
    sender: Weak<UnixSocket>,
}

impl Message {
    fn left(&self) -> usize {
        self.data.len() - self.read
    }
}

/// What a receive got.
#[derive(Default)]
pub struct Received {
    /// The bytes (at most what was asked).
    pub data: Vec<u8>,
    /// The message's full length (datagram, seqpacket; for `MSG_TRUNC`): `data.len()` for a
    /// stream.
    pub full_len: usize,
    /// Files passed with it (`SCM_RIGHTS`).
    pub fds: Vec<Arc<OpenFile>>,
    /// The sender's address.
    pub from: Option<UnixAddr>,
    /// The sender's credentials.
    pub cred: Option<Cred>,
}

/// Where a socket is in its life.
enum Phase {
    /// Made, maybe bound (a datagram socket may have a default destination: `peer`).
    Unconnected,
    /// `listen`ed: connections wait in `queue` for `accept`.
    Listening { backlog: usize, queue: VecDeque<Arc<UnixSocket>> },
    /// Connected (stream, seqpacket).
    Connected,
}

/// The options `setsockopt` sets.
#[derive(Clone, Copy)]
pub struct SockOptions {
    /// `SO_SNDBUF` (as reported: doubled).
    pub sndbuf: usize,
    /// `SO_RCVBUF` (as reported: doubled).
    pub rcvbuf: usize,
    /// `SO_PASSCRED`.
    pub passcred: bool,
    /// `SO_REUSEADDR` (recorded).
    pub reuseaddr: bool,
    /// `SO_KEEPALIVE` (recorded).
    pub keepalive: bool,
    /// `SO_RCVTIMEO` in nanoseconds (0: none).
    pub rcvtimeo_ns: u64,
    /// `SO_SNDTIMEO` in nanoseconds (0: none).
    pub sndtimeo_ns: u64,
    /// `SO_LINGER`: (on, seconds), recorded.
    pub linger: (i32, i32),
}

impl Default for SockOptions {
    fn default() -> SockOptions {
        SockOptions {
            sndbuf: DEFAULT_BUF,
            rcvbuf: DEFAULT_BUF,
            passcred: false,
            reuseaddr: false,
            keepalive: false,
            rcvtimeo_ns: 0,
            sndtimeo_ns: 0,
            linger: (0, 0),
        }
    }
}

struct State {
    phase: Phase,
    addr: UnixAddr,
    /// The connected peer (stream, seqpacket), or a datagram socket's default destination.
    peer: Option<Arc<UnixSocket>>,
    peer_cred: Option<Cred>,
    queue: VecDeque<Message>,
    queued_bytes: usize,
    /// Reads find end of file once the queue is empty (own `SHUT_RD`, peer's `SHUT_WR` or
    /// close).
    rcv_shutdown: bool,
    /// Sends are `EPIPE` (own `SHUT_WR`, peer's `SHUT_RD` or close).
    snd_shutdown: bool,
    /// A pending error (`SO_ERROR`): `ECONNRESET`.
    error: Option<Errno>,
    closed: bool,
    options: SockOptions,
    changes: Changes,
}

/// An `AF_UNIX` socket.
pub struct UnixSocket {
    kind: SockType,
    ino: u64,
    owner: Cred,
    time: Timespec,
    state: SpinLock<State>,
}

impl UnixSocket {
    /// A new unconnected, unbound socket of `kind` with inode number `ino`, made by `owner`
    /// at `time`.
    pub fn new(kind: SockType, ino: u64, owner: Cred, time: Timespec) -> Arc<UnixSocket> {
        Arc::new(UnixSocket {
            kind,
            ino,
            owner,
            time,
            state: SpinLock::new(State {
                phase: Phase::Unconnected,
                addr: UnixAddr::Unnamed,
                peer: None,
                peer_cred: None,
                queue: VecDeque::new(),
                queued_bytes: 0,
                rcv_shutdown: false,
                snd_shutdown: false,
                error: None,
                closed: false,
                options: SockOptions::default(),
                changes: Changes::default(),
            }),
        })
    }

    /// `socketpair`: two sockets connected to each other (inode numbers `inos`).
    pub fn pair(kind: SockType, inos: (u64, u64), owner: Cred, time: Timespec) -> (Arc<UnixSocket>, Arc<UnixSocket>) {
        let a = UnixSocket::new(kind, inos.0, owner, time);
        let b = UnixSocket::new(kind, inos.1, owner, time);
        for (me, other) in [(&a, &b), (&b, &a)] {
            let mut state = me.state.lock();
            state.peer = Some(other.clone());
            state.peer_cred = Some(owner);
            if kind.is_connection() {
                state.phase = Phase::Connected;
            }
        }
        (a, b)
    }

    /// The type.
    pub fn kind(&self) -> SockType {
        self.kind
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// Who made it.
    pub fn owner(&self) -> Cred {
        self.owner
    }

    /// Whether the socket was closed.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Whether it listens (`SO_ACCEPTCONN`).
    pub fn is_listening(&self) -> bool {
        matches!(self.state.lock().phase, Phase::Listening { .. })
    }

    /// The options.
    pub fn options(&self) -> SockOptions {
        self.state.lock().options
    }

    /// Changes the options.
    pub fn set_options(&self, change: impl FnOnce(&mut SockOptions)) {
        let mut state = self.state.lock();
        change(&mut state.options);
        state.changes.output_changed();
    }

    /// `SO_ERROR`: the pending error, cleared.
    pub fn take_error(&self) -> Option<Errno> {
        self.state.lock().error.take()
    }

    /// `SO_PEERCRED`: the peer's credentials when it connected ([`Cred::NONE`] without).
    pub fn peer_cred(&self) -> Cred {
        self.state.lock().peer_cred.unwrap_or(Cred::NONE)
    }

    /// `getsockname`.
    pub fn local_addr(&self) -> UnixAddr {
        self.state.lock().addr.clone()
    }

    /// `getpeername`: `ENOTCONN` without a peer.
    pub fn peer_addr(&self) -> Result<UnixAddr, Errno> {
        let peer = self.state.lock().peer.clone().ok_or(Errno::ENOTCONN)?;
        let addr = peer.state.lock().addr.clone();
        Ok(addr)
    }

    /// `bind` (the caller made the name unique): `EINVAL` if already bound.
    pub fn bind(&self, addr: UnixAddr) -> Result<(), Errno> {
        let mut state = self.state.lock();
        if !state.addr.is_unnamed() {
            return Err(Errno::EINVAL);
        }
        state.addr = addr;
        Ok(())
    }

    /// Whether it is bound.
    pub fn is_bound(&self) -> bool {
        !self.state.lock().addr.is_unnamed()
    }

    /// `listen`: `EOPNOTSUPP` for datagrams, `EINVAL` unless bound and unconnected. A second
    /// `listen` changes the backlog (negative or huge: [`SOMAXCONN`]).
    pub fn listen(&self, backlog: i32) -> Result<(), Errno> {
        if !self.kind.is_connection() {
            return Err(Errno::EOPNOTSUPP);
        }
        let backlog = usize::try_from(backlog).unwrap_or(SOMAXCONN).min(SOMAXCONN);
        let mut state = self.state.lock();
        if state.addr.is_unnamed() {
            return Err(Errno::EINVAL);
        }
        match &mut state.phase {
            Phase::Connected => Err(Errno::EINVAL),
            Phase::Listening { backlog: old, .. } => {
                *old = backlog;
                Ok(())
            }
            Phase::Unconnected => {
                state.phase = Phase::Listening { backlog, queue: VecDeque::new() };
                Ok(())
            }
        }
    }

    /// `connect` of a stream or seqpacket socket to `listener`: makes the server-side socket
    /// (inode number `ino`), queues it for `accept` and connects to it. `EISCONN` if
    /// connected, `EINVAL` if listening, `EPROTOTYPE` for another type, `ECONNREFUSED` if
    /// `listener` does not listen, [`MUST_WAIT`] while its queue is past the backlog.
    pub fn connect(self: &Arc<Self>, listener: &Arc<UnixSocket>, ino: u64, cred: Cred) -> Result<(), Errno> {
        {
            let state = self.state.lock();
            match state.phase {
                Phase::Connected => return Err(Errno::EISCONN),
                Phase::Listening { .. } => return Err(Errno::EINVAL),
                Phase::Unconnected => {}
            }
        }
        if listener.kind != self.kind {
            return Err(Errno::EPROTOTYPE);
        }
        let server = UnixSocket::new(self.kind, ino, listener.owner, listener.time);
        let listener_cred = {
            let mut l = listener.state.lock();
            if l.closed {
                return Err(Errno::ECONNREFUSED);
            }
            let addr = l.addr.clone();
            let Phase::Listening { backlog, queue } = &mut l.phase else {
                return Err(Errno::ECONNREFUSED);
            };
            if queue.len() > *backlog {
                return Err(MUST_WAIT);
            }
            {
                let mut s = server.state.lock();
                s.phase = Phase::Connected;
                s.addr = addr;
                s.peer = Some(self.clone());
                s.peer_cred = Some(cred);
            }
            queue.push_back(server.clone());
            l.changes.input_changed();
            listener.owner
        };
        let mut state = self.state.lock();
        state.phase = Phase::Connected;
        state.peer = Some(server);
        state.peer_cred = Some(listener_cred);
        state.changes.output_changed();
        Ok(())
    }

    /// `connect` of a datagram socket: `target` becomes the default destination and the only
    /// source it receives from (`None`: disconnect, `AF_UNSPEC`). `EPROTOTYPE` for another
    /// type, `ECONNREFUSED` if closed, `EPERM` if `target` is connected to another socket.
    pub fn connect_dgram(self: &Arc<Self>, target: Option<&Arc<UnixSocket>>) -> Result<(), Errno> {
        if let Some(target) = target {
            if target.kind != SockType::Dgram {
                return Err(Errno::EPROTOTYPE);
            }
            let t = target.state.lock();
            if t.closed {
                return Err(Errno::ECONNREFUSED);
            }
            if t.peer.as_ref().is_some_and(|p| !Arc::ptr_eq(p, self)) {
                return Err(Errno::EPERM);
            }
        }
        let mut state = self.state.lock();
        state.peer = target.cloned();
        state.changes.output_changed();
        Ok(())
    }

    /// `accept`: the oldest pending connection. `EOPNOTSUPP` for datagrams, `EINVAL` unless
    /// listening, [`MUST_WAIT`] with none.
    pub fn accept(&self) -> Result<Arc<UnixSocket>, Errno> {
        if !self.kind.is_connection() {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut state = self.state.lock();
        let Phase::Listening { queue, .. } = &mut state.phase else {
            return Err(Errno::EINVAL);
        };
        let server = queue.pop_front().ok_or(MUST_WAIT)?;
        state.changes.output_changed();
        Ok(server)
    }

    /// Sends `data` (with `fds` and the sender's `cred`): to `to` (a datagram's explicit
    /// destination) or the peer. Returns the bytes queued: a stream takes what fits (at least
    /// one byte, or [`MUST_WAIT`]); a message goes whole or waits. See the module docs.
    pub fn send(
        self: &Arc<Self>,
        to: Option<&Arc<UnixSocket>>,
        data: &[u8],
        fds: Vec<Arc<OpenFile>>,
        cred: Cred,
    ) -> Result<usize, Errno> {
        let (peer, sndbuf, from) = {
            let state = self.state.lock();
            if self.kind.is_connection() {
                if !matches!(state.phase, Phase::Connected) {
                    return Err(if state.snd_shutdown { Errno::EPIPE } else { Errno::ENOTCONN });
                }
                if state.snd_shutdown {
                    return Err(Errno::EPIPE);
                }
            } else if state.snd_shutdown {
                return Err(Errno::EPIPE);
            }
            let peer = match to {
                Some(to) if !self.kind.is_connection() => to.clone(),
                _ => state.peer.clone().ok_or(Errno::ENOTCONN)?,
            };
            (peer, state.options.sndbuf, state.addr.clone())
        };
        if self.kind != SockType::Stream && data.len() > sndbuf.saturating_sub(32) {
            return Err(Errno::EMSGSIZE);
        }
        let mut refused = false;
        let result = {
            let mut p = peer.state.lock();
            if p.closed {
                if self.kind.is_connection() {
                    Err(Errno::EPIPE)
                } else {
                    refused = true;
                    Err(Errno::ECONNREFUSED)
                }
            } else if !self.kind.is_connection() && p.peer.as_ref().is_some_and(|pp| !Arc::ptr_eq(pp, self)) {
                Err(Errno::EPERM)
            } else if !self.kind.is_connection() && p.rcv_shutdown {
                Err(Errno::EPIPE)
            } else {
                let room = sndbuf.saturating_sub(p.queued_bytes);
                let count = match self.kind {
                    SockType::Stream => room.min(data.len()),
                    _ => data.len(),
                };
                let pair = p.peer.as_ref().is_some_and(|pp| Arc::ptr_eq(pp, self));
                let full = match self.kind {
                    SockType::Stream => count == 0 && !data.is_empty(),
                    SockType::SeqPacket => data.len() > room && p.queued_bytes > 0,
                    SockType::Dgram => {
                        (data.len() > room && p.queued_bytes > 0) || (!pair && p.queue.len() >= MAX_DGRAM_QLEN)
                    }
                };
                if full {
                    Err(MUST_WAIT)
                } else if self.kind == SockType::Stream && count == 0 && fds.is_empty() {
                    Ok(0)
                } else {
                    let mut chunk = Vec::new();
                    chunk.try_reserve_exact(count).map_err(|_| Errno::ENOBUFS)?;
                    chunk.extend_from_slice(&data[..count]);
                    p.queued_bytes += count;
                    p.queue.push_back(Message { data: chunk, read: 0, fds, from, cred, sender: Arc::downgrade(self) });
                    p.changes.input_changed();
                    Ok(count)
                }
            }
        };
        if refused {
            // A datagram socket whose destination closed forgets it (the next send: ENOTCONN).
            let mut state = self.state.lock();
            if state.peer.as_ref().is_some_and(|p| Arc::ptr_eq(p, &peer)) {
                state.peer = None;
            }
        }
        result
    }

    /// Receives up to `max` bytes; `peek` leaves them queued (and passes no fds). End of file
    /// is an empty [`Received`]; with nothing yet, [`MUST_WAIT`]. `EINVAL` on a listening
    /// socket, `ENOTCONN` on an unconnected seqpacket socket.
    pub fn recv(&self, max: usize, peek: bool) -> Result<Received, Errno> {
        let (received, senders) = {
            let mut state = self.state.lock();
            if matches!(state.phase, Phase::Listening { .. }) {
                return Err(Errno::EINVAL);
            }
            if state.queue.is_empty() {
                if let Some(error) = state.error.take() {
                    return Err(error);
                }
                if state.rcv_shutdown {
                    return Ok(Received::default());
                }
                if self.kind == SockType::SeqPacket && !matches!(state.phase, Phase::Connected) {
                    return Err(Errno::ENOTCONN);
                }
                return Err(MUST_WAIT);
            }
            if self.kind == SockType::Stream {
                Self::take_stream(&mut state, max, peek)
            } else {
                Self::take_message(&mut state, max, peek)
            }
        };
        for sender in senders {
            if let Some(sender) = sender.upgrade() {
                sender.state.lock().changes.output_changed();
            }
        }
        Ok(received)
    }

    fn take_stream(state: &mut State, max: usize, peek: bool) -> (Received, Vec<Weak<UnixSocket>>) {
        let mut out = Received::default();
        let mut senders = Vec::new();
        let mut index = 0;
        while out.data.len() < max {
            let Some(message) = state.queue.get_mut(index) else { break };
            let take = (max - out.data.len()).min(message.left());
            out.data.extend_from_slice(&message.data[message.read..message.read + take]);
            if out.from.is_none() {
                out.from = Some(message.from.clone());
                out.cred = Some(message.cred);
            }
            let had_fds = !message.fds.is_empty();
            if peek {
                index += 1;
            } else {
                out.fds.append(&mut message.fds);
                message.read += take;
                state.queued_bytes -= take;
                senders.push(message.sender.clone());
                if message.left() == 0 {
                    state.queue.pop_front();
                } else {
                    break;
                }
            }
            if had_fds {
                break;
            }
        }
        if state.queue.is_empty() {
            state.queue = VecDeque::new();
        }
        out.full_len = out.data.len();
        (out, senders)
    }

    fn take_message(state: &mut State, max: usize, peek: bool) -> (Received, Vec<Weak<UnixSocket>>) {
        let mut out = Received::default();
        let mut senders = Vec::new();
        let taken = if peek { None } else { state.queue.pop_front() };
        let message = match &taken {
            Some(message) => Some(message),
            None if peek => state.queue.front(),
            None => None,
        };
        if let Some(message) = message {
            let take = max.min(message.data.len());
            out.data.extend_from_slice(&message.data[..take]);
            out.full_len = message.data.len();
            out.from = Some(message.from.clone());
            out.cred = Some(message.cred);
        }
        if let Some(mut message) = taken {
            state.queued_bytes -= message.data.len();
            senders.push(message.sender.clone());
            out.fds = core::mem::take(&mut message.fds);
        }
        (out, senders)
    }

    /// Bytes waiting (`FIONREAD`/`SIOCINQ`): all of a stream's, the next message's length.
    pub fn available(&self) -> usize {
        let state = self.state.lock();
        match self.kind {
            SockType::Stream => state.queued_bytes,
            _ => state.queue.front().map_or(0, |m| m.data.len()),
        }
    }

    /// `shutdown`: `how` 0 (`SHUT_RD`), 1 (`SHUT_WR`), 2 (both); `EINVAL` otherwise. A
    /// connected peer sees the other side (our `SHUT_WR` is its end of file).
    pub fn shutdown(&self, how: i32) -> Result<(), Errno> {
        let (rd, wr) = match how {
            0 => (true, false),
            1 => (false, true),
            2 => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        let peer = {
            let mut state = self.state.lock();
            state.rcv_shutdown |= rd;
            state.snd_shutdown |= wr;
            state.changes.hung_up();
            match state.phase {
                Phase::Connected => state.peer.clone(),
                _ => None,
            }
        };
        if let Some(peer) = peer {
            let mut p = peer.state.lock();
            p.rcv_shutdown |= wr;
            p.snd_shutdown |= rd;
            p.changes.hung_up();
        }
        Ok(())
    }

    /// The last open file of the socket is gone (see the module docs).
    pub fn close(&self) {
        self.close_with(false);
    }

    fn close_with(&self, reset_peer: bool) {
        let (peer, pending, unread) = {
            let mut state = self.state.lock();
            if state.closed {
                return;
            }
            state.closed = true;
            state.rcv_shutdown = true;
            state.snd_shutdown = true;
            let unread = !state.queue.is_empty() || reset_peer;
            state.queue = VecDeque::new();
            state.queued_bytes = 0;
            state.changes.hung_up();
            let pending = match core::mem::replace(&mut state.phase, Phase::Unconnected) {
                Phase::Listening { queue, .. } => queue,
                Phase::Connected => {
                    state.phase = Phase::Connected;
                    VecDeque::new()
                }
                Phase::Unconnected => VecDeque::new(),
            };
            (state.peer.take(), pending, unread)
        };
        if let Some(peer) = peer {
            if self.kind.is_connection() {
                let mut p = peer.state.lock();
                p.rcv_shutdown = true;
                p.snd_shutdown = true;
                if unread {
                    p.error = Some(Errno::ECONNRESET);
                }
                p.changes.hung_up();
            }
        }
        for server in pending {
            server.close_with(true);
        }
    }

    /// The `poll` events that hold now, as Linux's `unix_poll`/`unix_dgram_poll`.
    pub fn poll(&self) -> u16 {
        let state = self.state.lock();
        let mut events = 0;
        if state.error.is_some() {
            events |= POLLERR;
        }
        if state.rcv_shutdown && state.snd_shutdown {
            events |= POLLHUP;
        }
        if state.rcv_shutdown {
            events |= POLLRDHUP | POLLIN | POLLRDNORM;
        }
        if !state.queue.is_empty() {
            events |= POLLIN | POLLRDNORM;
        }
        match &state.phase {
            Phase::Listening { queue, .. } => {
                if !queue.is_empty() {
                    events |= POLLIN | POLLRDNORM;
                }
                return events;
            }
            Phase::Unconnected if self.kind.is_connection() => events |= POLLHUP,
            _ => {}
        }
        let writable = match &state.peer {
            Some(peer) if core::ptr::eq(Arc::as_ptr(peer), self) => {
                state.queued_bytes.saturating_mul(4) <= state.options.sndbuf
            }
            Some(peer) => {
                let sndbuf = state.options.sndbuf;
                let p = peer.state.lock();
                let room = p.closed || p.queued_bytes.saturating_mul(4) <= sndbuf;
                let paired = p.peer.as_ref().is_some_and(|pp| core::ptr::eq(Arc::as_ptr(pp), self));
                room && (self.kind != SockType::Dgram || paired || p.queue.len() < MAX_DGRAM_QLEN)
            }
            _ => true,
        };
        if writable {
            events |= POLLOUT | POLLWRNORM | POLLWRBAND;
        }
        events
    }

    /// The wake-ups so far, for edge-triggered epoll entries.
    pub fn changes(&self) -> Changes {
        self.state.lock().changes
    }

    /// The metadata: sockfs's inode, mode `0777` as Linux shows it.
    pub fn stat(&self) -> Stat {
        sockfs_stat(self.ino, self.owner.uid, self.owner.gid, self.time)
    }
}

/// What `fstat` shows of a socket of any family: sockfs inode `ino`, mode `0777` as Linux
/// shows it, owned by `uid`/`gid`, made at `time`.
pub fn sockfs_stat(ino: u64, uid: u32, gid: u32, time: Timespec) -> Stat {
    Stat::contentless(DEV_SOCKFS, ino, 1, FileType::Socket.mode_bits() | 0o777, (uid, gid), time)
}

/// The names sockets are bound to: paths by the socket file's (mount, inode), abstract names
/// by their bytes. Entries of closed sockets are free again.
#[derive(Default)]
pub struct UnixNames {
    paths: Bindings<(usize, u64)>,
    abstract_names: Bindings<Vec<u8>>,
    next_auto: u32,
    next_ino: u64,
}

/// Names bound to sockets: a short list (an app binds a handful), searched in order. An
/// insert first drops the entries of closed sockets and the name's old entry, so the list
/// holds live bindings only. (A list, not a map: each map type costs the kernel ~5 KiB of
/// code.)
struct Bindings<K> {
    entries: Vec<(K, Weak<UnixSocket>)>,
}

impl<K> Default for Bindings<K> {
    fn default() -> Self {
        Bindings { entries: Vec::new() }
    }
}

impl<K: PartialEq> Bindings<K> {
    fn get<Q: PartialEq + ?Sized>(&self, key: &Q) -> Option<&Weak<UnixSocket>>
    where
        K: core::borrow::Borrow<Q>,
    {
        self.entries.iter().find(|(k, _)| k.borrow() == key).map(|(_, socket)| socket)
    }

    fn insert(&mut self, key: K, socket: Weak<UnixSocket>) {
        self.entries.retain(|(k, old)| *k != key && live(Some(old)).is_some());
        self.entries.push((key, socket));
    }
}

/// Inode number of the first socket.
const FIRST_SOCKET_INO: u64 = 0x10000;

fn live(entry: Option<&Weak<UnixSocket>>) -> Option<Arc<UnixSocket>> {
    entry.and_then(Weak::upgrade).filter(|socket| !socket.is_closed())
}

impl UnixNames {
    /// A fresh socket inode number.
    pub fn next_ino(&mut self) -> u64 {
        let ino = FIRST_SOCKET_INO + self.next_ino;
        self.next_ino += 1;
        ino
    }

    /// Records `socket` as bound to the socket file `(mount, ino)`.
    pub fn bind_path(&mut self, key: (usize, u64), socket: &Arc<UnixSocket>) {
        self.paths.insert(key, Arc::downgrade(socket));
    }

    /// The live socket bound to the socket file `(mount, ino)`.
    pub fn find_path(&self, key: (usize, u64)) -> Option<Arc<UnixSocket>> {
        live(self.paths.get(&key))
    }

    /// Binds `socket` to abstract `name`: `EADDRINUSE` if a live socket has it.
    pub fn bind_abstract(&mut self, name: &[u8], socket: &Arc<UnixSocket>) -> Result<(), Errno> {
        if live(self.abstract_names.get(name)).is_some() {
            return Err(Errno::EADDRINUSE);
        }
        socket.bind(UnixAddr::Abstract(name.to_vec()))?;
        self.abstract_names.insert(name.to_vec(), Arc::downgrade(socket));
        Ok(())
    }

    /// The live socket bound to abstract `name`.
    pub fn find_abstract(&self, name: &[u8]) -> Option<Arc<UnixSocket>> {
        live(self.abstract_names.get(name))
    }

    /// Autobind: a free abstract name of five hex digits, as Linux picks.
    pub fn autobind(&mut self, socket: &Arc<UnixSocket>) -> Result<(), Errno> {
        for _ in 0..0x10_0000 {
            let n = self.next_auto & 0xf_ffff;
            self.next_auto = self.next_auto.wrapping_add(1);
            let name = alloc::format!("{n:05x}").into_bytes();
            match self.bind_abstract(&name, socket) {
                Err(Errno::EADDRINUSE) => continue,
                other => return other,
            }
        }
        Err(Errno::ENOSPC)
    }
}

#[cfg(test)]
mod tests;
