//! The network contract: IP sockets (`AF_INET`, `AF_INET6`) are host sockets held by the VMM
//! and named by a *handle*, never a host fd. The guest kernel implements the socket syscalls
//! and reaches the host socket with [`crate::hypercall::Hypercall::Net`] calls ([`NetCall`],
//! one [`NetOp`] each); the VMM checks the published ports and the egress policy on every
//! bind, listen, connect and send, and translates addresses between the guest's view and the
//! host's.
//!
//! # Readiness without exits
//! The guest registers a [`NET_AREA_SIZE`]-byte area of its RAM once ([`NetOp::Setup`]).
//! Slot `h` ([`NetSlot`], 16 bytes at `16 * h`) is handle `h`'s readiness, kept by the VMM:
//! - `readiness`: Linux `poll` bits (`POLLIN`, `POLLOUT`, `POLLERR`, `POLLHUP`, `POLLRDHUP`)
//!   that held when the VMM last looked. After every call that names a handle the VMM
//!   re-polls the host socket and brings the bits to what it shows (never clearing, even for a
//!   moment, a bit that holds all along); its poller thread ORs in what the host reports as
//!   it happens. So a clear bit means "would block" (the guest answers `EAGAIN`
//!   without an exit) and a set bit means "try": at worst one call finds `EAGAIN`.
//! - `input`, `output`, `hangup`: counts bumped by the poller on each host event of that kind
//!   (new data or a connection; room to write; hang-up or error), for edge-triggered epoll.
//!
//! Slot 0 is no handle's: it is the [`NetHeader`]. A thread that waits for a socket sets its
//! vCPU's bit in `waiters`, re-reads `generation`, and parks (the `Park` hypercall) only if it
//! did not move since it last looked at readiness. The poller bumps `generation` after
//! updating slots, then unparks every vCPU whose bit is set in `waiters` (the bits stay: the
//! guest clears its own). Both sides use sequentially consistent atomics on these words, so a
//! wake-up is never lost. `tx_pending` is the guest's "a transmit ring holds bytes the VMM has
//! not been asked to write" (see "Transmit rings").
//!
//! # Receive rings
//! A connected stream socket (accepted, or connected by the app) may have a receive ring: the
//! VMM reads the host socket into it as data arrives, and the guest's `recv` copies from it
//! without an exit. The guest allocates the ring (a [`NetRxHeader`], 16 bytes 16-aligned, and
//! [`NET_RX_RING_SIZE`] bytes of data, page-aligned, both in RAM) and registers it with Accept
//! (the accepted socket gets it) or [`NetOp::RxRing`] (a socket the app connected), passing
//! the header's GPA in `arg[2]` and the data's in `arg[3]`. The VMM then:
//! - on every input event of the host socket (its poller), and when a ring is registered or
//!   refilled, reads the host socket into the ring's free space (`head - tail` bytes are in
//!   use; byte `i` of the stream is at `data[i % NET_RX_RING_SIZE]`) until the socket has
//!   nothing more, then publishes `head` (release), sets the flags, bumps the slot's input
//!   count and the generation, and unparks the waiters;
//! - stops reading at end of stream ([`NET_RX_EOF`]) or an error ([`NET_RX_ERROR`], the errno
//!   in `error`), and marks a ring it found full with [`NET_RX_STALLED`] (the host socket may
//!   hold more: the guest asks for it with [`NetOp::Refill`] once it has made room);
//! - never reads a ringed socket any other way (Recv on it is `EINVAL`), so the ring holds the
//!   stream in order; reads of one ring never overlap (the poller and a vCPU take turns);
//! - forgets the ring in Close before Close returns: the guest frees it only after that.
//!
//! The guest writes only `tail` (release, then reads `flags`: a ring marked stalled after the
//! guest made room is refilled by the VMM itself, which re-reads `tail` after it marks it).
//! The VMM keeps its own `head` and trusts neither word: a `tail` that claims more than a
//! ring's worth only stops the ring. For a ringed socket the slot's `POLLIN`, `POLLRDHUP` and
//! `POLLERR` are the ring's to say (`head != tail`, the flags); `POLLOUT` and `POLLHUP` stay
//! the slot's.
//!
//! # Transmit rings
//! A ringed stream socket may also have a transmit ring, of the same shape (a [`NetRxHeader`]
//! and [`NET_TX_RING_SIZE`] bytes of data), registered with the receive ring: `arg[0]` (header)
//! and `arg[1]` (data) of Accept or RxRing, zero for none. Here the guest is the producer: its
//! `send` copies into the ring (byte `i` of the stream at `data[i % NET_TX_RING_SIZE]`), then
//! publishes `head` (release) and sets the area header's `tx_pending` (SeqCst). The VMM is
//! the consumer: it writes the ring's bytes to the host socket (non-blocking) and publishes
//! `tail` (release) as they go; an error of the host socket is [`NET_TX_ERROR`] in `flags`,
//! its errno in `error` (the ring's bytes are then dropped, as Linux drops a failed socket's
//! send queue). The VMM writes out rings:
//! - on [`NetOp::Flush`] (every ring with bytes; the guest calls it only when `tx_pending` is
//!   set, at the points it must not leave bytes behind: before it parks a vCPU, when the app
//!   asks what is ready, at exit, when a ring is full). The VMM clears `tx_pending` first;
//! - from its poller: when the host socket has room again for a ring it could not write out,
//!   and, while `tx_pending` is set, at least every millisecond (bytes left by an app that
//!   computes without a syscall go out within about a millisecond);
//! - before any other call that could overtake them: a Send (`EAGAIN` while a ring still
//!   holds bytes), a Shutdown (deferred until the ring is written out), and at Close, which
//!   keeps the ring's bytes itself and writes them out before it closes the host socket, as
//!   Linux sends a closed socket's queue (the guest may reuse the ring when Close returns).
//!
//! The VMM keeps its own `tail` and trusts neither word: a `head` more than a ring's worth
//! ahead stops the ring ([`NET_TX_ERROR`], `EINVAL`). When a write frees room in a ring that
//! was full, the slot's output count and the generation move and the waiters are unparked.
//! For a socket with a transmit ring, `POLLOUT` is the ring's to say (room in it).
//!
//! # Addresses
//! Addresses travel as Linux `sockaddr_in` / `sockaddr_in6` bytes in [`NetCall::addr`], as the
//! guest sees them. Inside the VM, `127.0.0.0/8` and `::1` are the VM's own loopback: only
//! the VM's own sockets listen there, and a guest port is reachable from the host only when
//! published. [`HOST_GATEWAY_V4`] is the host's loopback as the guest reaches it (subject to
//! the egress policy like any other destination).

/// How many handles (slots) the area holds; handle 0 is never used.
pub const NET_MAX_HANDLES: u32 = 1024;
/// Bytes of the readiness area ([`NET_MAX_HANDLES`] slots of 16 bytes): 4 pages.
pub const NET_AREA_SIZE: u64 = NET_MAX_HANDLES as u64 * 16;
/// The most bytes one Send or Recv moves (the guest loops for more).
pub const NET_MAX_IO: u64 = 1 << 20;
/// The most data chunks one Send or Recv names.
pub const NET_MAX_CHUNKS: u64 = 256;
/// Bytes of a receive ring's data area (a power of two; see the module docs).
pub const NET_RX_RING_SIZE: u32 = 16 * 1024;
/// Ring flag: the stream ended (the host socket read 0); nothing follows the ring's data.
pub const NET_RX_EOF: u32 = 1;
/// Ring flag: the host socket failed (`error` says how); nothing follows the ring's data.
pub const NET_RX_ERROR: u32 = 2;
/// Ring flag: the VMM stopped reading because the ring was full (ask with Refill).
pub const NET_RX_STALLED: u32 = 4;
/// Bytes of a transmit ring's data area (a power of two; see the module docs).
pub const NET_TX_RING_SIZE: u32 = 16 * 1024;
/// Transmit ring flag: the host socket failed (`error` says how); the ring takes no more.
pub const NET_TX_ERROR: u32 = 2;

/// The guest's address for the host's own loopback (`10.0.2.2`, as user-mode networking in
/// other VMMs): a connect there reaches `127.0.0.1` on the host when the egress policy allows.
pub const HOST_GATEWAY_V4: [u8; 4] = [10, 0, 2, 2];
/// The guest's DNS resolver (`10.0.2.3`, what the image's `/etc/resolv.conf` names): the VMM
/// sends what the guest sends to port 53 there on to the host's first nameserver, when the
/// egress policy allows `10.0.2.3:53` (the rule `dns`).
pub const DNS_RESOLVER_V4: [u8; 4] = [10, 0, 2, 3];
/// The guest's own (non-loopback) address, what `getsockname` shows for a connected socket
/// whose host side is not loopback.
pub const GUEST_ADDRESS_V4: [u8; 4] = [10, 0, 2, 15];

/// Readiness bits (Linux `poll` values).
pub const POLLIN: u32 = 0x1;
/// Room to write.
pub const POLLOUT: u32 = 0x4;
/// An error is pending (`SO_ERROR`).
pub const POLLERR: u32 = 0x8;
/// Hung up.
pub const POLLHUP: u32 = 0x10;
/// The peer shut down its writing half.
pub const POLLRDHUP: u32 = 0x2000;

/// One handle's slot in the readiness area.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetSlot {
    /// Poll bits (see the module docs).
    pub readiness: u32,
    /// Input events seen (data or a connection arrived).
    pub input: u32,
    /// Output events seen (room to write).
    pub output: u32,
    /// Hang-up or error events seen.
    pub hangup: u32,
}

/// Slot 0 of the readiness area.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetHeader {
    /// Bumped by the VMM's poller after each batch of slot updates (wrapping).
    pub generation: u32,
    /// Non-zero: a transmit ring holds bytes (set by the guest, cleared by the VMM's flush).
    pub tx_pending: u32,
    /// Bit `n`: vCPU `n` waits for a socket (set and cleared by the guest).
    pub waiters: u64,
}

/// A receive ring's header (see the module docs).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetRxHeader {
    /// Stream bytes put in the ring so far (wrapping), written by the VMM.
    pub head: u32,
    /// Stream bytes taken from the ring so far (wrapping), written by the guest.
    pub tail: u32,
    /// `NET_RX_*` flags, written by the VMM.
    pub flags: u32,
    /// With [`NET_RX_ERROR`]: the errno (Linux value, positive).
    pub error: u32,
}

/// The operation of a [`NetCall`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetOp {
    /// Register the readiness area: `arg[0]` = its GPA (page-aligned, [`NET_AREA_SIZE`]
    /// bytes of RAM). Once per VM; `EBUSY` after.
    Setup = 1,
    /// New socket: `arg[0]` family (`AF_INET` 2 / `AF_INET6` 10), `arg[1]` type
    /// (`SOCK_STREAM` 1 / `SOCK_DGRAM` 2, no flags), `arg[2]` protocol. Result: the handle.
    Socket = 2,
    /// Bind to `addr`. `EADDRINUSE` for a guest port already bound, `EACCES` for a
    /// published port of the other protocol.
    Bind = 3,
    /// Listen, `arg[0]` = backlog.
    Listen = 4,
    /// Accept one pending connection (never waits: `EAGAIN`). Result: the new handle;
    /// `addr[..addr_len]` = the peer, and `addr[ACCEPT_LOCAL_AT..][..arg[1]]` = the new
    /// socket's local address (what `getsockname` will say: it cannot change). `arg[2]` and
    /// `arg[3]` non-zero: a receive ring for the new socket (header and data GPAs, `EINVAL`
    /// before anything is accepted if they are not as the module docs say), filled at once;
    /// with one, `arg[0]` and `arg[1]` (in) non-zero: its transmit ring.
    Accept = 5,
    /// Connect to `addr` (never waits: `EINPROGRESS` for a stream socket whose connection
    /// is under way; the guest waits for `POLLOUT` and asks `SO_ERROR`). A destination the
    /// egress policy does not allow: `ECONNREFUSED`.
    Connect = 6,
    /// Send the chunks' bytes, `flags` = `MSG_*` (the VMM never waits). `addr_len > 0`: to
    /// `addr` (`EACCES` if the egress policy does not allow it). Result: bytes sent.
    Send = 7,
    /// Receive into the chunks, `flags` = `MSG_PEEK`/`MSG_TRUNC`/`MSG_WAITALL` (never
    /// waits). Result: as Linux's recvmsg; `addr` = the sender; `arg[0]` out = `msg_flags`.
    /// `EINVAL` on a socket with a receive ring.
    Recv = 8,
    /// Shut down, `arg[0]` = how (`SHUT_RD` 0, `SHUT_WR` 1, `SHUT_RDWR` 2).
    Shutdown = 9,
    /// Close the handle (the guest's last reference went away).
    Close = 10,
    /// `addr` = the local address, as the guest sees it.
    GetSockName = 11,
    /// `addr` = the peer's address; `ENOTCONN` without one.
    GetPeerName = 12,
    /// Set option `arg[0]` level / `arg[1]` name to the `addr_len` bytes in `addr`
    /// (`ENOPROTOOPT` for an option the VMM does not pass on).
    SetOpt = 13,
    /// Get option `arg[0]` level / `arg[1]` name: `addr_len` in = room, out = its length;
    /// the value in `addr`.
    GetOpt = 14,
    /// Bytes waiting to be read (`FIONREAD`), in `arg[0]` (for a ringed socket: those still
    /// in the host socket, not yet in the ring).
    Pending = 15,
    /// Register a receive ring (`arg[2]` header, `arg[3]` data: see the module docs) on a
    /// connected stream socket, and fill it; `arg[0]`/`arg[1]` non-zero: a transmit ring too. `ENOTCONN` for a socket that is not (yet)
    /// connected, `EINVAL` for a datagram socket, a listener, a socket that has one, or a
    /// ring not as the module docs say.
    RxRing = 16,
    /// Clear the ring's [`NET_RX_STALLED`] and fill it again. With chunks (as Recv's) and an
    /// empty ring, the host socket's next bytes go into the chunks first (they precede what
    /// the ring then holds). Result: the bytes put in the chunks.
    Refill = 17,
    /// Write out every transmit ring that holds bytes (no handle; see the module docs).
    Flush = 18,
}

impl NetOp {
    /// Decodes [`NetCall::op`].
    pub fn from_raw(raw: u32) -> Option<NetOp> {
        Some(match raw {
            1 => NetOp::Setup,
            2 => NetOp::Socket,
            3 => NetOp::Bind,
            4 => NetOp::Listen,
            5 => NetOp::Accept,
            6 => NetOp::Connect,
            7 => NetOp::Send,
            8 => NetOp::Recv,
            9 => NetOp::Shutdown,
            10 => NetOp::Close,
            11 => NetOp::GetSockName,
            12 => NetOp::GetPeerName,
            13 => NetOp::SetOpt,
            14 => NetOp::GetOpt,
            15 => NetOp::Pending,
            16 => NetOp::RxRing,
            17 => NetOp::Refill,
            18 => NetOp::Flush,
            _ => return None,
        })
    }
}

/// Bytes of [`NetCall::addr`] (`sizeof(struct sockaddr_storage)`).
pub const NET_ADDR_MAX: usize = 128;
/// Where in [`NetCall::addr`] Accept puts the new socket's local address (a `sockaddr_in6`
/// is 28 bytes: both fit).
pub const ACCEPT_LOCAL_AT: usize = 64;
/// The most deferred options one call carries ([`NetCall::options`]).
pub const NET_MAX_OPTIONS: usize = 8;

/// An `int` socket option the guest deferred: it answered the app's `setsockopt` itself
/// (for options whose values it can check the way Linux does) and the VMM sets it on the host
/// socket before the next call on that handle does anything, so it is in force before any
/// data moves and before a `getsockopt` reads it. Saves an exit per option on connection
/// set-up (servers set `TCP_NODELAY` and keep-alive options on every accepted socket).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetOption {
    /// The option's level (`SOL_SOCKET`, `IPPROTO_TCP`...).
    pub level: u32,
    /// The option's name.
    pub name: u32,
    /// Its `int` value.
    pub value: i32,
    /// Reserved, zero.
    pub reserved: u32,
}

/// [`crate::hypercall::Hypercall::Net`] parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetCall {
    /// A [`NetOp`] value.
    pub op: u32,
    /// The socket handle (0 for Setup and Socket).
    pub handle: u32,
    /// Op-specific integers (see [`NetOp`]).
    pub arg: [u64; 4],
    /// `MSG_*` flags of Send and Recv.
    pub flags: u32,
    /// Bytes used in `addr` (in and out).
    pub addr_len: u32,
    /// A socket address or an option value.
    pub addr: [u8; NET_ADDR_MAX],
    /// GPA of an array of `chunk_count` [`crate::hypercall::MemoryChunk`]s (Send, Recv).
    pub chunks_gpa: u64,
    /// Number of chunks (at most [`NET_MAX_CHUNKS`], at most [`NET_MAX_IO`] bytes in all).
    pub chunk_count: u64,
    /// Deferred options to set on the handle first (any op but Setup, Socket and Close).
    pub options: [NetOption; NET_MAX_OPTIONS],
    /// How many of `options` are used.
    pub option_count: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Out: `>= 0` as the op says, or -errno (Linux values).
    pub result: i64,
}

impl Default for NetCall {
    fn default() -> NetCall {
        NetCall {
            op: 0,
            handle: 0,
            arg: [0; 4],
            flags: 0,
            addr_len: 0,
            addr: [0; NET_ADDR_MAX],
            chunks_gpa: 0,
            chunk_count: 0,
            options: [NetOption::default(); NET_MAX_OPTIONS],
            option_count: 0,
            reserved: 0,
            result: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_fixed() {
        use core::mem::{offset_of, size_of};
        assert_eq!(size_of::<NetSlot>(), 16);
        assert_eq!(size_of::<NetHeader>(), 16);
        assert_eq!(size_of::<NetOption>(), 16);
        assert_eq!(size_of::<NetCall>(), 336);
        assert_eq!(offset_of!(NetCall, addr), 48);
        assert_eq!(offset_of!(NetCall, options), 192);
        assert_eq!(offset_of!(NetCall, result), 328);
        assert_eq!(NET_AREA_SIZE % 4096, 0);
        assert_eq!(size_of::<NetRxHeader>(), 16);
        assert_eq!(core::mem::align_of::<NetRxHeader>(), 16);
        assert!(NET_RX_RING_SIZE.is_power_of_two() && NET_RX_RING_SIZE.is_multiple_of(4096));
        assert!(NET_TX_RING_SIZE.is_power_of_two() && NET_TX_RING_SIZE.is_multiple_of(4096));
        assert_eq!(offset_of!(NetHeader, tx_pending), 4);
        assert_eq!(offset_of!(NetHeader, waiters), 8);
    }

    #[test]
    fn ops_round_trip() {
        for raw in 1..=18 {
            assert_eq!(NetOp::from_raw(raw).map(|op| op as u32), Some(raw));
        }
        assert_eq!(NetOp::from_raw(0), None);
        assert_eq!(NetOp::from_raw(19), None);
    }
}
