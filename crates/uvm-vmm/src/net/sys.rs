//! The host calls behind the guest's sockets: every `unsafe` of the network code is here (and
//! in `crate::syscall_result`, shared with the volumes': errno checks, owning a new fd).
//! Thin wrappers over libc (socket, bind, listen, accept4, connect, sendmsg, recvmsg, readv,
//! options, FIONREAD, poll, epoll, eventfd) that take owned fds and plain Rust values and
//! return an [`Errno`] on failure. Socket addresses cross as Linux `sockaddr` bytes
//! ([`super::addr`] encodes and decodes them). Every socket made here is non-blocking and
//! close-on-exec; nothing here ever waits, except [`Epoll::wait`] (the poller's).

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::addr::{self, SOCKADDR_MAX};

use crate::syscall_result::{check, check_size, owned};
pub use crate::syscall_result::{Errno, SysResult};

/// A raw `sockaddr_storage` holding `addr` and its length.
fn storage_of(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    let (bytes, len) = addr::encode(addr);
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::sockaddr_storage>().min(bytes.len());
    // SAFETY: copies `size` bytes (at most the storage's size) from a live array into the
    // live local storage; the regions do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), (&raw mut storage).cast::<u8>(), size) };
    (storage, len as libc::socklen_t)
}

/// The address in a `sockaddr_storage` the kernel filled `len` bytes of.
fn addr_of_storage(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let mut bytes = [0u8; SOCKADDR_MAX];
    let size = (len as usize).min(SOCKADDR_MAX).min(std::mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: copies `size` bytes (within both) out of the live storage into a live array.
    unsafe {
        std::ptr::copy_nonoverlapping((storage as *const libc::sockaddr_storage).cast::<u8>(), bytes.as_mut_ptr(), size)
    };
    match addr::decode(&bytes[..size]) {
        Ok(addr::SockAddr::Inet(a)) => Some(a),
        _ => None,
    }
}

/// A new non-blocking, close-on-exec socket.
pub fn socket(v6: bool, stream: bool) -> SysResult<OwnedFd> {
    let domain = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    let ty = if stream { libc::SOCK_STREAM } else { libc::SOCK_DGRAM };
    // SAFETY: socket has no memory arguments.
    owned(unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })
}

/// A close-on-exec duplicate of `fd` (same open socket, so the same non-blocking flag).
pub fn dup(fd: &OwnedFd) -> SysResult<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a live fd has no memory arguments.
    owned(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })
}

/// Makes `fd` non-blocking.
pub fn set_nonblocking(fd: RawFd) -> SysResult<()> {
    // SAFETY: F_GETFL/F_SETFL on a live fd have no memory arguments.
    unsafe {
        let flags = check(libc::fcntl(fd, libc::F_GETFL))?;
        check(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    Ok(())
}

/// bind(2).
pub fn bind(fd: &OwnedFd, addr: &SocketAddr) -> SysResult<()> {
    let (storage, len) = storage_of(addr);
    // SAFETY: the storage is live and holds `len` valid bytes.
    check(unsafe { libc::bind(fd.as_raw_fd(), (&raw const storage).cast(), len) }).map(drop)
}

/// connect(2) (non-blocking: `EINPROGRESS` while a stream connection is under way).
pub fn connect(fd: &OwnedFd, addr: &SocketAddr) -> SysResult<()> {
    let (storage, len) = storage_of(addr);
    // SAFETY: the storage is live and holds `len` valid bytes.
    check(unsafe { libc::connect(fd.as_raw_fd(), (&raw const storage).cast(), len) }).map(drop)
}

/// connect(2) to `AF_UNSPEC`: dissolves a datagram socket's association.
pub fn disconnect(fd: &OwnedFd) -> SysResult<()> {
    // SAFETY: an all-zero sockaddr_storage is valid (family AF_UNSPEC).
    let storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = std::mem::size_of::<libc::sa_family_t>() as libc::socklen_t;
    // SAFETY: the storage is live and holds `len` valid bytes.
    check(unsafe { libc::connect(fd.as_raw_fd(), (&raw const storage).cast(), len) }).map(drop)
}

/// listen(2).
pub fn listen(fd: &OwnedFd, backlog: i32) -> SysResult<()> {
    // SAFETY: listen has no memory arguments.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map(drop)
}

/// accept4(2), non-blocking and close-on-exec: the new socket and its peer.
pub fn accept(fd: &OwnedFd) -> SysResult<(OwnedFd, Option<SocketAddr>)> {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: the storage and its length are live locals the kernel fills.
    let new = owned(unsafe {
        libc::accept4(fd.as_raw_fd(), (&raw mut storage).cast(), &mut len, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
    })?;
    Ok((new, addr_of_storage(&storage, len)))
}

fn name_of(
    fd: &OwnedFd,
    call: unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int,
) -> SysResult<Option<SocketAddr>> {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `call` is getsockname or getpeername; the storage and its length are live
    // locals the kernel fills.
    check(unsafe { call(fd.as_raw_fd(), (&raw mut storage).cast(), &mut len) })?;
    Ok(addr_of_storage(&storage, len))
}

/// getsockname(2).
pub fn local_addr(fd: &OwnedFd) -> SysResult<Option<SocketAddr>> {
    name_of(fd, libc::getsockname)
}

/// getpeername(2).
pub fn peer_addr(fd: &OwnedFd) -> SysResult<Option<SocketAddr>> {
    name_of(fd, libc::getpeername)
}

/// shutdown(2).
pub fn shutdown(fd: &OwnedFd, how: i32) -> SysResult<()> {
    // SAFETY: shutdown has no memory arguments.
    check(unsafe { libc::shutdown(fd.as_raw_fd(), how) }).map(drop)
}

/// setsockopt(2) with the value's bytes.
pub fn set_option(fd: &OwnedFd, level: i32, name: i32, value: &[u8]) -> SysResult<()> {
    // SAFETY: `value` is a live slice of `value.len()` bytes the kernel only reads.
    check(unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), value.len() as libc::socklen_t)
    })
    .map(drop)
}

/// setsockopt(2) with an int.
pub fn set_int_option(fd: &OwnedFd, level: i32, name: i32, value: i32) -> SysResult<()> {
    set_option(fd, level, name, &value.to_ne_bytes())
}

/// getsockopt(2) into `buf`: the value's length.
pub fn get_option(fd: &OwnedFd, level: i32, name: i32, buf: &mut [u8]) -> SysResult<usize> {
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` is a live slice of `len` bytes the kernel writes at most `len` of.
    check(unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, buf.as_mut_ptr().cast(), &mut len) })?;
    Ok((len as usize).min(buf.len()))
}

/// Bytes waiting to be read (FIONREAD).
pub fn pending(fd: &OwnedFd) -> SysResult<i32> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int into the live local.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) })?;
    Ok(n)
}

/// The poll bits that hold for `fd` now (never waits).
pub fn poll_now(fd: &OwnedFd) -> u32 {
    let mut pfd =
        libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP, revents: 0 };
    // SAFETY: one live pollfd, no timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    if n <= 0 {
        0
    } else {
        u32::from(pfd.revents as u16)
    }
}

/// sendmsg(2) of the bytes `iovecs` point at, to `dest` if given. The caller guarantees the
/// iovecs point into live memory (guest RAM, checked by `GuestMemory::ram_iovecs`).
pub fn send(fd: &OwnedFd, iovecs: &[libc::iovec], dest: Option<&SocketAddr>, flags: i32) -> SysResult<usize> {
    let name = dest.map(storage_of);
    // SAFETY: an all-zero msghdr is valid (no name, no iovecs, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some((storage, len)) = &name {
        msg.msg_name = (storage as *const libc::sockaddr_storage).cast_mut().cast();
        msg.msg_namelen = *len;
    }
    msg.msg_iov = iovecs.as_ptr().cast_mut();
    msg.msg_iovlen = iovecs.len();
    // SAFETY: the msghdr points at a live name (or none) and at `iovecs`, whose ranges the
    // caller guarantees are live memory of this process; the kernel only reads them.
    check_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) })
}

/// What one recvmsg gave.
#[derive(Debug)]
pub struct Received {
    /// The result (bytes, or the datagram's length with MSG_TRUNC).
    pub len: usize,
    /// `msg_flags`.
    pub flags: i32,
    /// The sender, for datagram sockets.
    pub from: Option<SocketAddr>,
}

/// recvmsg(2) into the memory `iovecs` point at. The caller guarantees the iovecs point into
/// live, writable memory (guest RAM, checked by `GuestMemory::ram_iovecs`).
pub fn receive(fd: &OwnedFd, iovecs: &[libc::iovec], flags: i32) -> SysResult<Received> {
    // SAFETY: an all-zero sockaddr_storage and msghdr are valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut storage).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = iovecs.as_ptr().cast_mut();
    msg.msg_iovlen = iovecs.len();
    // SAFETY: the msghdr points at the live local storage and at `iovecs`, whose ranges the
    // caller guarantees are live, writable memory of this process.
    let len = check_size(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) })?;
    let from = if msg.msg_namelen > 0 { addr_of_storage(&storage, msg.msg_namelen) } else { None };
    Ok(Received { len, flags: msg.msg_flags, from })
}

/// readv(2) into the memory `iovecs` point at (a stream socket's next bytes; 0 at its end).
/// The caller guarantees the iovecs point into live, writable memory (guest RAM, checked by
/// `GuestMemory::ram_iovecs`).
pub fn read_into(fd: &OwnedFd, iovecs: &[libc::iovec]) -> SysResult<usize> {
    let count = iovecs.len().min(libc::c_int::MAX as usize) as libc::c_int;
    // SAFETY: `iovecs` is a live array of `count` iovecs whose ranges the caller guarantees
    // are live, writable memory of this process.
    check_size(unsafe { libc::readv(fd.as_raw_fd(), iovecs.as_ptr(), count) })
}

/// Receives and drops one datagram (one the VMM filters out).
pub fn discard_datagram(fd: &OwnedFd) -> SysResult<()> {
    let mut byte = [0u8; 1];
    // SAFETY: receives at most one byte into a live local; the rest of the datagram is
    // dropped by the kernel.
    check_size(unsafe { libc::recv(fd.as_raw_fd(), byte.as_mut_ptr().cast(), 1, libc::MSG_DONTWAIT) }).map(drop)
}

/// An epoll instance.
pub struct Epoll {
    fd: OwnedFd,
}

/// Events of interest for every socket: input, output, hang-ups, edge-triggered.
const SOCKET_EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

impl Epoll {
    /// A new epoll instance.
    pub fn new() -> SysResult<Epoll> {
        // SAFETY: epoll_create1 has no memory arguments.
        Ok(Epoll { fd: owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })? })
    }

    fn control(&self, op: i32, fd: RawFd, events: u32, data: u64) -> SysResult<()> {
        let mut event = libc::epoll_event { events, u64: data };
        // SAFETY: a live epoll fd and a live local event.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) }).map(drop)
    }

    /// Watches socket `fd` (input, output, hang-ups; edge-triggered), tagged `data`.
    pub fn add_socket(&self, fd: &OwnedFd, data: u64) -> SysResult<()> {
        self.control(libc::EPOLL_CTL_ADD, fd.as_raw_fd(), SOCKET_EVENTS, data)
    }

    /// Watches `fd` for input (level-triggered), tagged `data`.
    pub fn add_input(&self, fd: RawFd, data: u64) -> SysResult<()> {
        self.control(libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, data)
    }

    /// Stops watching `fd` (needed before closing a duplicate of a socket another fd keeps
    /// open: epoll forgets a socket only when its last fd closes).
    pub fn remove(&self, fd: &OwnedFd) {
        let _ = self.control(libc::EPOLL_CTL_DEL, fd.as_raw_fd(), 0, 0);
    }

    /// Waits up to `timeout_ms` for events: `(events, data)` pairs into `out`, how many.
    pub fn wait(&self, out: &mut [(u32, u64)], timeout_ms: i32) -> usize {
        const BATCH: usize = 64;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        let max = out.len().min(BATCH) as i32;
        // SAFETY: `events` is a live array of at least `max` entries the kernel fills.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), max, timeout_ms) };
        let n = usize::try_from(n).unwrap_or(0);
        for (slot, event) in out.iter_mut().zip(&events[..n]) {
            *slot = (event.events, event.u64);
        }
        n
    }
}

/// An eventfd, to tell the poller to stop or to wake.
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A new non-blocking eventfd.
    pub fn new() -> SysResult<EventFd> {
        // SAFETY: eventfd has no memory arguments.
        Ok(EventFd { fd: owned(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })? })
    }

    /// Makes it readable (for good: nothing reads it).
    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local to the eventfd.
        unsafe { libc::write(self.fd.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Makes it unreadable again (after a wake-up it signalled).
    pub fn drain(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live local; non-blocking, so it never waits.
        unsafe { libc::read(self.fd.as_raw_fd(), (&raw mut count).cast(), 8) };
    }

    /// Its fd, to watch.
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
