//! The socket syscalls: socket, socketpair, bind, listen, connect, accept, accept4,
//! shutdown, getsockname, getpeername, sendto, recvfrom, sendmsg, recvmsg, getsockopt,
//! setsockopt, and the socket side of read/write/readv/writev (`syscall::fs` hands sockets
//! here). They dispatch by address family: `AF_UNIX` is served in guest memory
//! (`fs::unix`, which owns the semantics); `AF_INET`/`AF_INET6` sockets are the VMM's host
//! sockets (`syscall::inet`); `AF_NETLINK` sockets are answered in the guest
//! (`syscall::netlink`); every other family is `EAFNOSUPPORT`.
//!
//! This layer owns the fds, the app's memory (addresses, iovecs, `msghdr` and control
//! messages: `SCM_RIGHTS`, `SCM_CREDENTIALS`) and the waiting: what the socket cannot do now
//! says `EAGAIN`, and unless the file is `O_NONBLOCK` or the call says `MSG_DONTWAIT` the
//! call waits for another thread's syscall (`wait::wait_for_io`), up to `SO_RCVTIMEO` /
//! `SO_SNDTIMEO` (then `EAGAIN`), or a signal (`EINTR`). A blocking stream send sends
//! everything, waiting for room as needed; `EPIPE` raises `SIGPIPE` unless `MSG_NOSIGNAL`.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::arch::frame::TrapFrame;
use crate::errno::{Errno, SysResult};
use crate::fs::flags::{O_CLOEXEC, O_NONBLOCK};
use crate::fs::inet::{InetSocket, AF_INET, AF_INET6};
use crate::fs::netlink::{NetlinkSocket, AF_NETLINK};
use crate::fs::unix::{Cred, SockOptions, SockType, UnixAddr, UnixSocket, DEFAULT_BUF, MIN_RCVBUF, MIN_SNDBUF};
use crate::fs::OpenFile;
use crate::process::Process;
use crate::user;

const AF_UNSPEC: u16 = 0;
const AF_UNIX: u64 = 1;
const SOCK_TYPE_MASK: u32 = 0xf;
pub(super) const SOCK_NONBLOCK: u32 = O_NONBLOCK;
pub(super) const SOCK_CLOEXEC: u32 = O_CLOEXEC;

pub(super) const MSG_PEEK: u64 = 0x2;
const MSG_CTRUNC: u32 = 0x8;
pub(super) const MSG_TRUNC: u64 = 0x20;
pub(super) const MSG_DONTWAIT: u64 = 0x40;
pub(super) const MSG_WAITALL: u64 = 0x100;
pub(super) const MSG_NOSIGNAL: u64 = 0x4000;
const MSG_CMSG_CLOEXEC: u64 = 0x4000_0000;

pub(super) const SOL_SOCKET: u64 = 1;
const SCM_RIGHTS: u32 = 1;
const SCM_CREDENTIALS: u32 = 2;
/// The most fds one `SCM_RIGHTS` message carries (Linux's `SCM_MAX_FD`).
const SCM_MAX_FD: usize = 253;
/// `sizeof(struct cmsghdr)`.
const CMSG_HDR: usize = 16;
/// `sizeof(struct sockaddr_storage)`: the largest address accepted.
pub(super) const SOCKADDR_MAX: u64 = 128;
const IOV_MAX: u64 = 1024;
pub(super) const MAX_IO: u64 = 0x7fff_f000;

const SO_DEBUG: u64 = 1;
const SO_REUSEADDR: u64 = 2;
pub(super) const SO_TYPE: u64 = 3;
pub(super) const SO_ERROR: u64 = 4;
const SO_DONTROUTE: u64 = 5;
const SO_BROADCAST: u64 = 6;
const SO_SNDBUF: u64 = 7;
const SO_RCVBUF: u64 = 8;
const SO_KEEPALIVE: u64 = 9;
const SO_OOBINLINE: u64 = 10;
const SO_LINGER: u64 = 13;
const SO_REUSEPORT: u64 = 15;
const SO_PASSCRED: u64 = 16;
const SO_PEERCRED: u64 = 17;
const SO_RCVLOWAT: u64 = 18;
pub(super) const SO_RCVTIMEO: u64 = 20;
pub(super) const SO_SNDTIMEO: u64 = 21;
const SO_ACCEPTCONN: u64 = 30;
const SO_SNDBUFFORCE: u64 = 32;
const SO_RCVBUFFORCE: u64 = 33;
pub(super) const SO_PROTOCOL: u64 = 38;
pub(super) const SO_DOMAIN: u64 = 39;

/// The socket of `fd`, by family: `EBADF` if not open, `ENOTSOCK` if not a socket.
enum Family {
    Unix(Arc<OpenFile>, Arc<UnixSocket>),
    Inet(Arc<OpenFile>, Arc<InetSocket>),
    Netlink(Arc<OpenFile>, Arc<NetlinkSocket>),
}

fn family_of(p: &Process, fd: u64) -> Result<Family, Errno> {
    let file = p.file(fd as i32)?;
    if let Some(socket) = file.inet().cloned() {
        return Ok(Family::Inet(file, socket));
    }
    if let Some(socket) = file.netlink().cloned() {
        return Ok(Family::Netlink(file, socket));
    }
    let socket = file.socket().cloned().ok_or(Errno::ENOTSOCK)?;
    Ok(Family::Unix(file, socket))
}

/// The process's credentials, as a peer sees them (SO_PEERCRED, SCM_CREDENTIALS): its
/// effective ids.
fn cred(p: &Process) -> Cred {
    let (uid, gid) = (p.view.uids().effective, p.view.gids().effective);
    Cred { pid: p.pid, uid, gid }
}

/// The monotonic deadline of a socket timeout (0: none).
pub(super) fn deadline(p: &Process, timeout_ns: u64) -> Option<u64> {
    (timeout_ns > 0).then(|| crate::wait::now_ns(p).saturating_add(timeout_ns))
}

/// Waits for another thread to change something, or says `EAGAIN` right away
/// (`nonblocking`) or once `deadline` passes.
pub(super) fn wait(p: &mut Process, nonblocking: bool, deadline: Option<u64>) -> Result<(), Errno> {
    if nonblocking {
        return Err(Errno::EAGAIN);
    }
    match crate::wait::wait_for_io(p, deadline) {
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        other => other,
    }
}

/// Installs `socket` as a new fd with `SOCK_NONBLOCK`/`SOCK_CLOEXEC` `flags`.
fn install(p: &mut Process, socket: Arc<UnixSocket>, flags: u32) -> Result<i32, Errno> {
    let file = p.vfs.socket_file(socket, flags & SOCK_NONBLOCK != 0);
    p.files.fds.lock().insert(file, flags & SOCK_CLOEXEC != 0)
}

/// The type and flags of socket/socketpair: `EINVAL` for unknown flags.
fn type_arg(raw: u64) -> Result<(u32, u32), Errno> {
    let raw = raw as u32;
    let flags = raw & !SOCK_TYPE_MASK;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((raw & SOCK_TYPE_MASK, flags))
}

/// The `AF_UNIX` socket type of socket/socketpair, after the family check: `EAFNOSUPPORT`
/// for other families (`AF_INET`/`AF_INET6` will go to the VMM).
fn unix_type(domain: u64, kind: u32, protocol: u64) -> Result<SockType, Errno> {
    if domain as u32 != AF_UNIX as u32 {
        return Err(Errno::EAFNOSUPPORT);
    }
    let kind = SockType::from_raw(kind)?;
    if protocol as u32 != 0 && protocol as u32 != AF_UNIX as u32 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(kind)
}

/// socket(domain, type, protocol).
pub fn sys_socket(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [domain, kind, protocol, ..] = f.syscall_args();
    let (kind, flags) = type_arg(kind)?;
    if domain as u32 == u32::from(AF_INET) || domain as u32 == u32::from(AF_INET6) {
        return super::inet::socket(p, domain as u16, kind, protocol, flags);
    }
    if domain as u32 == u32::from(AF_NETLINK) {
        return super::netlink::socket(p, kind, protocol, flags);
    }
    let kind = unix_type(domain, kind, protocol)?;
    let ino = p.vfs.unix_names().lock().next_ino();
    let socket = UnixSocket::new(kind, ino, cred(p), p.vfs.now());
    Ok(install(p, socket, flags)? as usize)
}

/// socketpair(domain, type, protocol, sv).
pub fn sys_socketpair(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [domain, kind, protocol, sv, ..] = f.syscall_args();
    let (kind, flags) = type_arg(kind)?;
    if [AF_INET, AF_INET6, AF_NETLINK].iter().any(|&family| domain as u32 == u32::from(family)) {
        return Err(Errno::EOPNOTSUPP);
    }
    let kind = unix_type(domain, kind, protocol)?;
    user::write(&mut p.space, sv, 8)?;
    let inos = {
        let mut names = p.vfs.unix_names().lock();
        (names.next_ino(), names.next_ino())
    };
    let (a, b) = UnixSocket::pair(kind, inos, cred(p), p.vfs.now());
    let fd_a = install(p, a, flags)?;
    let fd_b = match install(p, b, flags) {
        Ok(fd) => fd,
        Err(e) => {
            let file = p.files.fds.lock().close(fd_a);
            drop(file);
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&fd_a.to_le_bytes());
    out[4..].copy_from_slice(&fd_b.to_le_bytes());
    user::copy_out(&mut p.space, sv, &out)?;
    Ok(0)
}

/// The raw address the app passed (`EINVAL` for a length past `sockaddr_storage`).
fn addr_bytes(p: &mut Process, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    let len = len as u32;
    if u64::from(len) > SOCKADDR_MAX {
        return Err(Errno::EINVAL);
    }
    Ok(user::read(&mut p.space, addr, u64::from(len))?.to_vec())
}

/// The socket an address names (connect, sendto): `ENOENT` for a missing path,
/// `ECONNREFUSED` when nothing is bound there.
fn find_target(p: &Process, addr: &UnixAddr) -> Result<Arc<UnixSocket>, Errno> {
    match addr {
        UnixAddr::Path(path) => {
            let base = if path.first() == Some(&b'/') { p.vfs.root() } else { p.files.cwd.lock().clone() };
            p.vfs.find_unix_path(&base, path)
        }
        UnixAddr::Abstract(name) => p.vfs.unix_names().lock().find_abstract(name).ok_or(Errno::ECONNREFUSED),
        UnixAddr::Unnamed => Err(Errno::EINVAL),
    }
}

/// bind(fd, addr, addrlen): a path makes a socket file (`EADDRINUSE` if the name exists),
/// an abstract name must be free, `sizeof(sa_family_t)` alone autobinds.
pub fn sys_bind(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, addr, len, ..] = f.syscall_args();
    let (_, socket) = match family_of(p, fd)? {
        Family::Inet(_, socket) => return super::inet::bind(p, &socket, addr, len),
        Family::Netlink(_, socket) => return super::netlink::bind(p, &socket, addr, len),
        Family::Unix(file, socket) => (file, socket),
    };
    let raw = addr_bytes(p, addr, len)?;
    match UnixAddr::parse(&raw)? {
        UnixAddr::Unnamed => {
            if !socket.is_bound() {
                p.vfs.unix_names().lock().autobind(&socket)?;
            }
        }
        UnixAddr::Abstract(name) => {
            if socket.is_bound() {
                return Err(Errno::EINVAL);
            }
            p.vfs.unix_names().lock().bind_abstract(&name, &socket)?;
        }
        UnixAddr::Path(path) => {
            let base = if path.first() == Some(&b'/') { p.vfs.root() } else { p.files.cwd.lock().clone() };
            let mode = 0o777 & !p.umask;
            p.vfs.bind_unix_path(&base, &path, mode, &socket)?;
        }
    }
    Ok(0)
}

/// listen(fd, backlog).
pub fn sys_listen(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (_, socket) = match family_of(p, f.rdi)? {
        Family::Inet(_, socket) => return super::inet::listen(&socket, f.rsi as i32),
        Family::Netlink(..) => return Err(Errno::EOPNOTSUPP),
        Family::Unix(file, socket) => (file, socket),
    };
    socket.listen(f.rsi as i32)?;
    Ok(0)
}

/// connect(fd, addr, addrlen): a stream or seqpacket socket connects to a listener (waiting
/// while its backlog is full, `EAGAIN` if non-blocking); a datagram socket sets its
/// default destination (`AF_UNSPEC`: clears it).
pub fn sys_connect(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, addr, len, ..] = f.syscall_args();
    let (file, socket) = match family_of(p, fd)? {
        Family::Inet(file, socket) => return super::inet::connect(p, &file, &socket, addr, len),
        Family::Netlink(_, socket) => return super::netlink::connect(p, &socket, addr, len),
        Family::Unix(file, socket) => (file, socket),
    };
    let raw = addr_bytes(p, addr, len)?;
    if socket.kind() == SockType::Dgram && raw.len() >= 2 && u16::from_le_bytes([raw[0], raw[1]]) == AF_UNSPEC {
        socket.connect_dgram(None)?;
        return Ok(0);
    }
    let target = UnixAddr::parse(&raw)?;
    if target.is_unnamed() {
        return Err(Errno::EINVAL);
    }
    let target = find_target(p, &target)?;
    if socket.kind() == SockType::Dgram {
        socket.connect_dgram(Some(&target))?;
        return Ok(0);
    }
    let ino = p.vfs.unix_names().lock().next_ino();
    let deadline = deadline(p, socket.options().sndtimeo_ns);
    loop {
        match socket.connect(&target, ino, cred(p)) {
            Err(Errno::EAGAIN) => wait(p, file.is_nonblocking(), deadline)?,
            other => return other.map(|()| 0),
        }
    }
}

/// Writes an address for the app: at most `*len_addr` bytes of it at `addr`, and its full
/// length to `*len_addr` (nothing if `addr` is NULL). `EINVAL` for a negative length.
pub(super) fn write_addr(p: &mut Process, addr: u64, len_addr: u64, bytes: &[u8]) -> Result<(), Errno> {
    if addr == 0 {
        return Ok(());
    }
    let room = user::read(&mut p.space, len_addr, 4)?;
    let room = i32::from_le_bytes([room[0], room[1], room[2], room[3]]);
    let room = usize::try_from(room).map_err(|_| Errno::EINVAL)?;
    let count = room.min(bytes.len());
    user::copy_out(&mut p.space, addr, &bytes[..count])?;
    user::write_u32(&mut p.space, len_addr, bytes.len() as u32)
}

fn accept_common(p: &mut Process, fd: u64, addr: u64, len_addr: u64, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let (file, socket) = match family_of(p, fd)? {
        Family::Inet(file, socket) => return super::inet::accept(p, &file, &socket, addr, len_addr, flags),
        Family::Netlink(..) => return Err(Errno::EOPNOTSUPP),
        Family::Unix(file, socket) => (file, socket),
    };
    let deadline = deadline(p, socket.options().rcvtimeo_ns);
    let server = loop {
        match socket.accept() {
            Err(Errno::EAGAIN) => wait(p, file.is_nonblocking(), deadline)?,
            other => break other?,
        }
    };
    let peer = server.peer_addr().unwrap_or(UnixAddr::Unnamed).to_bytes();
    let fd = install(p, server, flags)?;
    if let Err(e) = write_addr(p, addr, len_addr, &peer) {
        let file = p.files.fds.lock().close(fd);
        drop(file);
        return Err(e);
    }
    Ok(fd as usize)
}

/// accept(fd, addr, addrlen).
pub fn sys_accept(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, addr, len, ..] = f.syscall_args();
    accept_common(p, fd, addr, len, 0)
}

/// accept4(fd, addr, addrlen, flags): SOCK_NONBLOCK, SOCK_CLOEXEC.
pub fn sys_accept4(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, addr, len, flags, ..] = f.syscall_args();
    accept_common(p, fd, addr, len, flags)
}

/// shutdown(fd, how).
pub fn sys_shutdown(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let (_, socket) = match family_of(p, f.rdi)? {
        Family::Inet(_, socket) => return super::inet::shutdown(&socket, f.rsi),
        Family::Netlink(..) => return Err(Errno::EOPNOTSUPP),
        Family::Unix(file, socket) => (file, socket),
    };
    socket.shutdown(f.rsi as i32)?;
    Ok(0)
}

/// getsockname(fd, addr, addrlen).
pub fn sys_getsockname(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, addr, len, ..] = f.syscall_args();
    let (_, socket) = match family_of(p, fd)? {
        Family::Inet(_, socket) => return super::inet::name(p, &socket, false, addr, len),
        Family::Netlink(_, socket) => return super::netlink::name(p, &socket, false, addr, len),
        Family::Unix(file, socket) => (file, socket),
    };
    let bytes = socket.local_addr().to_bytes();
    write_addr(p, addr, len, &bytes).map(|()| 0)
}

/// getpeername(fd, addr, addrlen): `ENOTCONN` without a peer.
pub fn sys_getpeername(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, addr, len, ..] = f.syscall_args();
    let (_, socket) = match family_of(p, fd)? {
        Family::Inet(_, socket) => return super::inet::name(p, &socket, true, addr, len),
        Family::Netlink(_, socket) => return super::netlink::name(p, &socket, true, addr, len),
        Family::Unix(file, socket) => (file, socket),
    };
    let bytes = socket.peer_addr()?.to_bytes();
    write_addr(p, addr, len, &bytes).map(|()| 0)
}

// ---------------------------------------------------------------- data

/// The (base, len) pairs of an iovec array.
pub(super) fn iovecs(p: &mut Process, iov: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if count > IOV_MAX {
        return Err(Errno::EMSGSIZE);
    }
    let raw = user::read(&mut p.space, iov, count * 16)?;
    let mut out = Vec::with_capacity(count as usize);
    let mut total: u64 = 0;
    for chunk in raw.chunks_exact(16) {
        let base = u64::from_le_bytes(chunk[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let len = u64::from_le_bytes(chunk[8..].try_into().map_err(|_| Errno::EFAULT)?);
        total = total.checked_add(len).filter(|&t| t <= isize::MAX as u64).ok_or(Errno::EINVAL)?;
        out.push((base, len));
    }
    Ok(out)
}

/// Up to `max` bytes of the iovecs' data from byte `skip` on.
fn gather(p: &mut Process, vecs: &[(u64, u64)], mut skip: u64, max: u64) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    for &(base, len) in vecs {
        if skip >= len {
            skip -= len;
            continue;
        }
        let want = (len - skip).min(max - out.len() as u64);
        out.extend_from_slice(user::read(&mut p.space, base + skip, want)?);
        skip = 0;
        if out.len() as u64 >= max {
            break;
        }
    }
    Ok(out)
}

/// Copies `data` into the iovecs.
fn scatter(p: &mut Process, vecs: &[(u64, u64)], data: &[u8]) -> Result<(), Errno> {
    let mut done = 0usize;
    for &(base, len) in vecs {
        if done == data.len() {
            break;
        }
        let count = (len as usize).min(data.len() - done);
        user::copy_out(&mut p.space, base, &data[done..done + count])?;
        done += count;
    }
    Ok(())
}

/// What a send carries besides the data.
#[derive(Default)]
struct Extras {
    to: Option<Arc<UnixSocket>>,
    fds: Vec<Arc<OpenFile>>,
    cred: Option<Cred>,
}

/// Sends the iovecs' data (see the module docs); returns the bytes sent.
fn send(
    p: &mut Process,
    file: &OpenFile,
    socket: &Arc<UnixSocket>,
    vecs: &[(u64, u64)],
    flags: u64,
    extras: Extras,
) -> SysResult {
    let total: u64 = vecs.iter().map(|v| v.1).sum::<u64>().min(MAX_IO);
    let options = socket.options();
    if socket.kind() != SockType::Stream && total > options.sndbuf.saturating_sub(32) as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let nonblocking = file.is_nonblocking() || flags & MSG_DONTWAIT != 0;
    let deadline = deadline(p, options.sndtimeo_ns);
    let sender = extras.cred.unwrap_or_else(|| cred(p));
    let mut fds = extras.fds;
    let mut sent = 0u64;
    let result = loop {
        let chunk = gather(p, vecs, sent, (total - sent).min(options.sndbuf as u64))?;
        match socket.send(extras.to.as_ref(), &chunk, fds.clone(), sender) {
            Ok(n) => {
                fds.clear();
                sent += n as u64;
                if sent >= total || socket.kind() != SockType::Stream {
                    break Ok(sent as usize);
                }
            }
            Err(Errno::EAGAIN) => {
                if let Err(e) = wait(p, nonblocking, deadline) {
                    break if sent > 0 { Ok(sent as usize) } else { Err(e) };
                }
            }
            Err(e) => break if sent > 0 { Ok(sent as usize) } else { Err(e) },
        }
    };
    if result == Err(Errno::EPIPE) && flags & MSG_NOSIGNAL == 0 {
        super::fs::raise_sigpipe(p);
    }
    result
}

/// Receives up to `max` bytes (see the module docs).
fn recv(
    p: &mut Process,
    file: &OpenFile,
    socket: &UnixSocket,
    max: usize,
    flags: u64,
) -> Result<crate::fs::unix::Received, Errno> {
    let nonblocking = file.is_nonblocking() || flags & MSG_DONTWAIT != 0;
    let peek = flags & MSG_PEEK != 0;
    let wait_all = flags & MSG_WAITALL != 0 && !peek && socket.kind() == SockType::Stream;
    let deadline = deadline(p, socket.options().rcvtimeo_ns);
    let mut got = crate::fs::unix::Received::default();
    loop {
        match socket.recv(max - got.data.len(), peek) {
            Ok(mut received) => {
                let eof = received.from.is_none();
                if got.from.is_none() {
                    got.from = received.from.take();
                    got.cred = received.cred;
                    got.full_len = received.full_len;
                }
                got.data.extend_from_slice(&received.data);
                got.fds.append(&mut received.fds);
                if eof || !wait_all || got.data.len() >= max || !got.fds.is_empty() {
                    break;
                }
            }
            Err(Errno::EAGAIN) => {
                if let Err(e) = wait(p, nonblocking, deadline) {
                    if got.data.is_empty() {
                        return Err(e);
                    }
                    break;
                }
            }
            Err(e) if got.data.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    if socket.kind() == SockType::Stream {
        got.full_len = got.data.len();
    }
    Ok(got)
}

/// The socket side of read/readv: a receive with no flags.
pub fn read_socket(p: &mut Process, file: &OpenFile, iov: &[(u64, u64)]) -> SysResult {
    if let Some(socket) = file.inet() {
        return super::inet::read(p, file, socket, iov);
    }
    if let Some(socket) = file.netlink() {
        return super::netlink::read(p, file, socket, iov);
    }
    let socket = file.socket().cloned().ok_or(Errno::ENOTSOCK)?;
    let max = iov.iter().map(|v| v.1).sum::<u64>().min(MAX_IO) as usize;
    for &(base, len) in iov {
        user::write(&mut p.space, base, len)?;
    }
    let received = recv(p, file, &socket, max, 0)?;
    scatter(p, iov, &received.data)?;
    Ok(received.data.len())
}

/// The socket side of write/writev: a send with no flags.
pub fn write_socket(p: &mut Process, file: &OpenFile, iov: &[(u64, u64)]) -> SysResult {
    if let Some(socket) = file.inet() {
        return super::inet::write(p, file, socket, iov);
    }
    if let Some(socket) = file.netlink() {
        return super::netlink::write(p, socket, iov);
    }
    let socket = file.socket().cloned().ok_or(Errno::ENOTSOCK)?;
    send(p, file, &socket, iov, 0, Extras::default())
}

/// The explicit destination of sendto/sendmsg (none for NULL or a zero length): a stream
/// socket says `EISCONN` when connected, `EOPNOTSUPP` otherwise; seqpacket ignores it.
fn destination(p: &mut Process, socket: &UnixSocket, addr: u64, len: u64) -> Result<Option<Arc<UnixSocket>>, Errno> {
    if addr == 0 || len as u32 == 0 {
        return Ok(None);
    }
    match socket.kind() {
        SockType::SeqPacket => Ok(None),
        SockType::Stream => Err(if socket.peer_addr().is_ok() { Errno::EISCONN } else { Errno::EOPNOTSUPP }),
        SockType::Dgram => {
            let raw = addr_bytes(p, addr, len)?;
            let target = UnixAddr::parse(&raw)?;
            if target.is_unnamed() {
                return Err(Errno::EINVAL);
            }
            find_target(p, &target).map(Some)
        }
    }
}

/// sendto(fd, buf, len, flags, addr, addrlen).
pub fn sys_sendto(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let args = f.syscall_args();
    let [fd, buf, len, flags, addr, addrlen] = args;
    let (file, socket) = match family_of(p, fd)? {
        Family::Inet(file, socket) => return super::inet::sendto(p, &file, &socket, args),
        Family::Netlink(_, socket) => return super::netlink::sendto(p, &socket, args),
        Family::Unix(file, socket) => (file, socket),
    };
    let to = destination(p, &socket, addr, addrlen)?;
    send(p, &file, &socket, &[(buf, len.min(MAX_IO))], flags, Extras { to, ..Extras::default() })
}

/// The name of a received message for recvfrom/recvmsg: nothing for an unnamed sender (a
/// zero length), as Linux.
fn from_bytes(from: &Option<UnixAddr>) -> Vec<u8> {
    match from {
        Some(addr) if !addr.is_unnamed() => addr.to_bytes(),
        _ => Vec::new(),
    }
}

/// The result of a receive: the message's full length with MSG_TRUNC on a message socket.
fn recv_result(socket: &UnixSocket, received: &crate::fs::unix::Received, flags: u64) -> usize {
    if flags & MSG_TRUNC != 0 && socket.kind() != SockType::Stream {
        received.full_len
    } else {
        received.data.len()
    }
}

/// recvfrom(fd, buf, len, flags, addr, addrlen).
pub fn sys_recvfrom(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let args = f.syscall_args();
    let [fd, buf, len, flags, addr, addrlen] = args;
    let (file, socket) = match family_of(p, fd)? {
        Family::Inet(file, socket) => return super::inet::recvfrom(p, &file, &socket, args),
        Family::Netlink(file, socket) => return super::netlink::recvfrom(p, &file, &socket, args),
        Family::Unix(file, socket) => (file, socket),
    };
    let len = len.min(MAX_IO);
    user::write(&mut p.space, buf, len)?;
    let received = recv(p, &file, &socket, len as usize, flags)?;
    user::copy_out(&mut p.space, buf, &received.data)?;
    write_addr(p, addr, addrlen, &from_bytes(&received.from))?;
    Ok(recv_result(&socket, &received, flags))
}

/// The fields of a `struct msghdr`.
pub(super) struct MsgHdr {
    pub(super) name: u64,
    pub(super) name_len: u32,
    pub(super) iov: u64,
    pub(super) iov_len: u64,
    pub(super) control: u64,
    pub(super) control_len: u64,
}

pub(super) fn read_msghdr(p: &mut Process, addr: u64) -> Result<MsgHdr, Errno> {
    let raw = user::read(&mut p.space, addr, 56)?;
    let word = |at: usize| u64::from_le_bytes(raw[at..at + 8].try_into().unwrap_or([0; 8]));
    Ok(MsgHdr {
        name: word(0),
        name_len: word(8) as u32,
        iov: word(16),
        iov_len: word(24),
        control: word(32),
        control_len: word(40),
    })
}

/// The control messages of a sendmsg: `SCM_RIGHTS` (each fd must be open: `EBADF`; at most
/// `SCM_MAX_FD`: `EINVAL`) and `SCM_CREDENTIALS`; anything else, or a malformed header, is
/// `EINVAL`.
fn read_control(p: &mut Process, msg: &MsgHdr, extras: &mut Extras) -> Result<(), Errno> {
    if msg.control_len == 0 {
        return Ok(());
    }
    if msg.control_len > 64 * 1024 {
        return Err(Errno::ENOBUFS);
    }
    let raw = user::read(&mut p.space, msg.control, msg.control_len)?.to_vec();
    let mut at = 0usize;
    while at + CMSG_HDR <= raw.len() {
        let len = u64::from_le_bytes(raw[at..at + 8].try_into().map_err(|_| Errno::EINVAL)?) as usize;
        let level = u32::from_le_bytes(raw[at + 8..at + 12].try_into().map_err(|_| Errno::EINVAL)?);
        let kind = u32::from_le_bytes(raw[at + 12..at + 16].try_into().map_err(|_| Errno::EINVAL)?);
        if len < CMSG_HDR || len > raw.len() - at {
            return Err(Errno::EINVAL);
        }
        let data = &raw[at + CMSG_HDR..at + len];
        match (u64::from(level), kind) {
            (SOL_SOCKET, SCM_RIGHTS) => {
                for fd in data.chunks_exact(4) {
                    let fd = i32::from_le_bytes([fd[0], fd[1], fd[2], fd[3]]);
                    extras.fds.push(p.file(fd)?);
                }
                if extras.fds.len() > SCM_MAX_FD {
                    return Err(Errno::EINVAL);
                }
            }
            (SOL_SOCKET, SCM_CREDENTIALS) if data.len() == 12 => {
                let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
                extras.cred = Some(Cred { pid: word(0), uid: word(4), gid: word(8) });
            }
            _ => return Err(Errno::EINVAL),
        }
        at += len.div_ceil(8) * 8;
    }
    Ok(())
}

/// sendmsg(fd, msg, flags).
pub fn sys_sendmsg(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, msg, flags, ..] = f.syscall_args();
    sendmsg(p, fd, msg, flags)
}

/// sendmsg of the `struct msghdr` at `msg` on `fd`.
fn sendmsg(p: &mut Process, fd: u64, msg: u64, flags: u64) -> SysResult {
    let (file, socket) = match family_of(p, fd)? {
        Family::Inet(file, socket) => return super::inet::sendmsg(p, &file, &socket, msg, flags),
        Family::Netlink(_, socket) => return super::netlink::sendmsg(p, &socket, msg),
        Family::Unix(file, socket) => (file, socket),
    };
    let msg = read_msghdr(p, msg)?;
    let vecs = iovecs(p, msg.iov, msg.iov_len)?;
    let mut extras = Extras { to: destination(p, &socket, msg.name, u64::from(msg.name_len))?, ..Extras::default() };
    read_control(p, &msg, &mut extras)?;
    send(p, &file, &socket, &vecs, flags, extras)
}

/// Appends one control message to `out` if `room` leaves space for its header and data, as
/// Linux's `put_cmsg`: the space used is `CMSG_SPACE`, cut to what is left.
fn put_cmsg(out: &mut Vec<u8>, room: usize, kind: u32, data: &[u8]) -> bool {
    let left = room.saturating_sub(out.len());
    let len = CMSG_HDR + data.len();
    if left < len {
        return false;
    }
    out.extend_from_slice(&(len as u64).to_le_bytes());
    out.extend_from_slice(&(SOL_SOCKET as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(data);
    let space = len.div_ceil(8) * 8;
    out.resize(out.len() + (space - len).min(left - len), 0);
    true
}

/// recvmsg(fd, msg, flags): data into the iovecs, the sender into `msg_name`, credentials
/// (with `SO_PASSCRED`) and passed fds (new fds on the same open files; `MSG_CMSG_CLOEXEC`)
/// into `msg_control`, `MSG_TRUNC`/`MSG_CTRUNC` into `msg_flags`.
pub fn sys_recvmsg(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, msg_addr, flags, ..] = f.syscall_args();
    recvmsg(p, fd, msg_addr, flags)
}

/// recvmsg into the `struct msghdr` at `msg_addr` on `fd`.
fn recvmsg(p: &mut Process, fd: u64, msg_addr: u64, flags: u64) -> SysResult {
    let (file, socket) = match family_of(p, fd)? {
        Family::Inet(file, socket) => return super::inet::recvmsg(p, &file, &socket, msg_addr, flags),
        Family::Netlink(file, socket) => return super::netlink::recvmsg(p, &file, &socket, msg_addr, flags),
        Family::Unix(file, socket) => (file, socket),
    };
    let msg = read_msghdr(p, msg_addr)?;
    let vecs = iovecs(p, msg.iov, msg.iov_len)?;
    for &(base, len) in &vecs {
        user::write(&mut p.space, base, len)?;
    }
    if msg.control_len > 0 {
        user::write(&mut p.space, msg.control, msg.control_len)?;
    }
    let max = vecs.iter().map(|v| v.1).sum::<u64>().min(MAX_IO) as usize;
    let mut received = recv(p, &file, &socket, max, flags)?;
    scatter(p, &vecs, &received.data)?;
    // Linux echoes MSG_CMSG_CLOEXEC in msg_flags.
    let mut out_flags = (flags & MSG_CMSG_CLOEXEC) as u32;
    if socket.kind() != SockType::Stream && received.full_len > received.data.len() {
        out_flags |= MSG_TRUNC as u32;
    }
    let room = usize::try_from(msg.control_len).unwrap_or(usize::MAX);
    let mut control = Vec::new();
    if socket.options().passcred {
        if let Some(cred) = received.cred {
            if !put_cmsg(&mut control, room, SCM_CREDENTIALS, &cred.to_bytes()) {
                out_flags |= MSG_CTRUNC;
            }
        }
    }
    let fds = core::mem::take(&mut received.fds);
    if !fds.is_empty() {
        let total = fds.len();
        let fit = room.saturating_sub(control.len()).saturating_sub(CMSG_HDR) / 4;
        let mut numbers = Vec::new();
        for file in fds.into_iter().take(fit) {
            match p.files.fds.lock().insert(file, flags & MSG_CMSG_CLOEXEC != 0) {
                Ok(fd) => numbers.extend_from_slice(&fd.to_le_bytes()),
                Err(_) => break,
            }
        }
        if !numbers.is_empty() {
            put_cmsg(&mut control, room, SCM_RIGHTS, &numbers);
        }
        if numbers.len() / 4 < total {
            out_flags |= MSG_CTRUNC;
        }
    }
    if !control.is_empty() {
        user::copy_out(&mut p.space, msg.control, &control)?;
    }
    let name = from_bytes(&received.from);
    if msg.name != 0 {
        let count = (msg.name_len as usize).min(name.len());
        user::copy_out(&mut p.space, msg.name, &name[..count])?;
    }
    user::write_u32(&mut p.space, msg_addr + 8, if msg.name != 0 { name.len() as u32 } else { 0 })?;
    user::write_u64(&mut p.space, msg_addr + 40, control.len() as u64)?;
    user::write_u32(&mut p.space, msg_addr + 48, out_flags)?;
    Ok(recv_result(&socket, &received, flags))
}

/// Bytes of a `struct mmsghdr` (a `msghdr`, then `unsigned int msg_len`, padded).
const MMSGHDR_SIZE: u64 = 64;
/// Where `msg_len` is in a `struct mmsghdr`.
const MMSG_LEN_AT: u64 = 56;
/// The most messages one sendmmsg/recvmmsg handles (Linux's `UIO_MAXIOV`).
const MMSG_MAX: u64 = 1024;
/// recvmmsg: wait for the first message only.
const MSG_WAITFORONE: u64 = 0x10000;

/// sendmmsg(fd, msgvec, vlen, flags): sendmsg for each message in turn, each's byte count in
/// its `msg_len`. The number sent; an error after the first message ends the batch and is
/// dropped, as on Linux.
pub fn sys_sendmmsg(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, vec, vlen, flags, ..] = f.syscall_args();
    let mut done = 0u64;
    while done < (vlen as u32 as u64).min(MMSG_MAX) {
        let entry = vec.checked_add(done * MMSGHDR_SIZE).ok_or(Errno::EFAULT)?;
        match sendmsg(p, fd, entry, flags) {
            Ok(n) => user::write_u32(&mut p.space, entry + MMSG_LEN_AT, n as u32)?,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        done += 1;
    }
    Ok(done as usize)
}

/// recvmmsg(fd, msgvec, vlen, flags, timeout): recvmsg for each message in turn, each's byte
/// count in its `msg_len`. `MSG_WAITFORONE` makes the calls after the first non-blocking; the
/// timeout, as on Linux, is checked after each message. The number received; an error after
/// the first message ends the batch.
pub fn sys_recvmmsg(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, vec, vlen, flags, timeout, ..] = f.syscall_args();
    let deadline = match timeout {
        0 => None,
        addr => Some(crate::wait::now_ns(p).saturating_add(super::time::read_timespec(p, addr)?)),
    };
    let mut flags = flags;
    let mut done = 0u64;
    while done < (vlen as u32 as u64).min(MMSG_MAX) {
        let entry = vec.checked_add(done * MMSGHDR_SIZE).ok_or(Errno::EFAULT)?;
        match recvmsg(p, fd, entry, flags) {
            Ok(n) => user::write_u32(&mut p.space, entry + MMSG_LEN_AT, n as u32)?,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        done += 1;
        if flags & MSG_WAITFORONE != 0 {
            flags |= MSG_DONTWAIT;
        }
        if deadline.is_some_and(|d| crate::wait::now_ns(p) >= d) {
            break;
        }
    }
    Ok(done as usize)
}

// ---------------------------------------------------------------- options

/// An `int` option value (`EINVAL` for a shorter `optlen`).
pub(super) fn int_arg(p: &mut Process, value: u64, len: u64) -> Result<i32, Errno> {
    if (len as u32 as usize) < 4 {
        return Err(Errno::EINVAL);
    }
    let raw = user::read(&mut p.space, value, 4)?;
    Ok(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
}

/// The buffer size `SO_SNDBUF`/`SO_RCVBUF` set for `asked`: doubled, as Linux doubles it
/// (for its bookkeeping), within the default and `min` (`SOCK_MIN_SNDBUF`/`SOCK_MIN_RCVBUF`).
pub(super) fn buffer_size(asked: i32, min: usize) -> usize {
    (asked.max(0) as usize).min(DEFAULT_BUF).saturating_mul(2).max(min)
}

/// A `struct timeval` option value as nanoseconds (negative: 0, as Linux; microseconds out
/// of range: `EDOM`).
pub(super) fn timeval_arg(p: &mut Process, value: u64, len: u64) -> Result<u64, Errno> {
    if (len as u32 as usize) < 16 {
        return Err(Errno::EINVAL);
    }
    let raw = user::read(&mut p.space, value, 16)?;
    let sec = i64::from_le_bytes(raw[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let usec = i64::from_le_bytes(raw[8..16].try_into().map_err(|_| Errno::EFAULT)?);
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno::EDOM);
    }
    if sec < 0 {
        return Ok(0);
    }
    Ok((sec as u64).saturating_mul(1_000_000_000).saturating_add(usec as u64 * 1000))
}

/// setsockopt(fd, level, name, value, len): `SOL_SOCKET` options (see docs/syscalls.md);
/// unknown ones `ENOPROTOOPT`, other levels `EOPNOTSUPP` (AF_UNIX has none).
pub fn sys_setsockopt(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, level, name, value, len, ..] = f.syscall_args();
    let (_, socket) = match family_of(p, fd)? {
        Family::Inet(_, socket) => return super::inet::setsockopt(p, &socket, level, name, value, len),
        Family::Netlink(_, socket) => return super::netlink::setsockopt(p, &socket, level, name, value, len),
        Family::Unix(file, socket) => (file, socket),
    };
    if level as u32 != SOL_SOCKET as u32 {
        return Err(Errno::EOPNOTSUPP);
    }
    let option = read_generic_option(p, name, value, len)?.ok_or(Errno::ENOPROTOOPT)?;
    socket.set_options(|o| option.apply(o));
    Ok(0)
}

/// A `SOL_SOCKET` option every socket kept in guest memory (`AF_UNIX`, `AF_NETLINK`)
/// records in its [`SockOptions`] (Linux's `sock_setsockopt`, common to all families), as
/// the app set it.
pub(super) enum GenericOption {
    SndBuf(usize),
    RcvBuf(usize),
    ReuseAddr(bool),
    KeepAlive(bool),
    PassCred(bool),
    RcvTimeo(u64),
    SndTimeo(u64),
    Linger(i32, i32),
    /// Accepted and ignored: `SO_DEBUG`, `SO_DONTROUTE`, `SO_BROADCAST`, `SO_OOBINLINE`,
    /// `SO_REUSEPORT`, `SO_RCVLOWAT`.
    Ignored,
}

impl GenericOption {
    /// Records it.
    pub(super) fn apply(self, o: &mut SockOptions) {
        match self {
            GenericOption::SndBuf(v) => o.sndbuf = v,
            GenericOption::RcvBuf(v) => o.rcvbuf = v,
            GenericOption::ReuseAddr(v) => o.reuseaddr = v,
            GenericOption::KeepAlive(v) => o.keepalive = v,
            GenericOption::PassCred(v) => o.passcred = v,
            GenericOption::RcvTimeo(v) => o.rcvtimeo_ns = v,
            GenericOption::SndTimeo(v) => o.sndtimeo_ns = v,
            GenericOption::Linger(on, secs) => o.linger = (on, secs),
            GenericOption::Ignored => {}
        }
    }
}

/// The generic `SOL_SOCKET` option `name` with the app's value (`None`: not one of them).
pub(super) fn read_generic_option(
    p: &mut Process,
    name: u64,
    value: u64,
    len: u64,
) -> Result<Option<GenericOption>, Errno> {
    Ok(Some(match name as u32 as u64 {
        SO_SNDBUF | SO_SNDBUFFORCE => GenericOption::SndBuf(buffer_size(int_arg(p, value, len)?, MIN_SNDBUF)),
        SO_RCVBUF | SO_RCVBUFFORCE => GenericOption::RcvBuf(buffer_size(int_arg(p, value, len)?, MIN_RCVBUF)),
        SO_REUSEADDR => GenericOption::ReuseAddr(int_arg(p, value, len)? != 0),
        SO_KEEPALIVE => GenericOption::KeepAlive(int_arg(p, value, len)? != 0),
        SO_PASSCRED => GenericOption::PassCred(int_arg(p, value, len)? != 0),
        SO_DEBUG | SO_DONTROUTE | SO_BROADCAST | SO_OOBINLINE | SO_REUSEPORT | SO_RCVLOWAT => {
            int_arg(p, value, len)?;
            GenericOption::Ignored
        }
        SO_RCVTIMEO => GenericOption::RcvTimeo(timeval_arg(p, value, len)?),
        SO_SNDTIMEO => GenericOption::SndTimeo(timeval_arg(p, value, len)?),
        SO_LINGER => {
            if (len as u32 as usize) < 8 {
                return Err(Errno::EINVAL);
            }
            let raw = user::read(&mut p.space, value, 8)?;
            let on = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
            let secs = i32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
            GenericOption::Linger(i32::from(on != 0), secs)
        }
        _ => return Ok(None),
    }))
}

/// An `int` option's bytes.
pub(super) fn int_bytes(v: i64) -> Vec<u8> {
    (v as i32).to_le_bytes().to_vec()
}

/// The value of generic `SOL_SOCKET` option `name` (see [`GenericOption`]), as getsockopt
/// shows it (`None`: not one of them).
pub(super) fn generic_option_value(options: &SockOptions, name: u64) -> Option<Vec<u8>> {
    let timeval = |ns: u64| {
        let mut out = (ns / 1_000_000_000).to_le_bytes().to_vec();
        out.extend_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
        out
    };
    Some(match name as u32 as u64 {
        SO_SNDBUF => int_bytes(options.sndbuf as i64),
        SO_RCVBUF => int_bytes(options.rcvbuf as i64),
        SO_REUSEADDR => int_bytes(i64::from(options.reuseaddr)),
        SO_KEEPALIVE => int_bytes(i64::from(options.keepalive)),
        SO_PASSCRED => int_bytes(i64::from(options.passcred)),
        SO_DEBUG | SO_DONTROUTE | SO_BROADCAST | SO_OOBINLINE | SO_REUSEPORT => int_bytes(0),
        SO_RCVLOWAT => int_bytes(1),
        SO_RCVTIMEO => timeval(options.rcvtimeo_ns),
        SO_SNDTIMEO => timeval(options.sndtimeo_ns),
        SO_LINGER => {
            let mut out = options.linger.0.to_le_bytes().to_vec();
            out.extend_from_slice(&options.linger.1.to_le_bytes());
            out
        }
        _ => return None,
    })
}

/// Writes an option's value for getsockopt: cut to `*len_addr`, whose new value says what
/// was written (`EINVAL` for a negative length).
pub(super) fn write_option(p: &mut Process, value: u64, len_addr: u64, bytes: &[u8]) -> SysResult {
    let raw_len = user::read(&mut p.space, len_addr, 4)?;
    let room = i32::from_le_bytes([raw_len[0], raw_len[1], raw_len[2], raw_len[3]]);
    let room = usize::try_from(room).map_err(|_| Errno::EINVAL)?;
    let count = room.min(bytes.len());
    user::copy_out(&mut p.space, value, &bytes[..count])?;
    user::write_u32(&mut p.space, len_addr, count as u32)?;
    Ok(0)
}

/// getsockopt(fd, level, name, value, len): see [`sys_setsockopt`]; the value is cut to
/// `*len` and `*len` set to what was written.
pub fn sys_getsockopt(p: &mut Process, f: &mut TrapFrame) -> SysResult {
    let [fd, level, name, value, len_addr, ..] = f.syscall_args();
    let (_, socket) = match family_of(p, fd)? {
        Family::Inet(_, socket) => return super::inet::getsockopt(p, &socket, level, name, value, len_addr),
        Family::Netlink(_, socket) => return super::netlink::getsockopt(p, &socket, level, name, value, len_addr),
        Family::Unix(file, socket) => (file, socket),
    };
    if level as u32 != SOL_SOCKET as u32 {
        return Err(Errno::EOPNOTSUPP);
    }
    let bytes = match name as u32 as u64 {
        SO_TYPE => int_bytes(socket.kind() as i64),
        SO_DOMAIN => int_bytes(AF_UNIX as i64),
        SO_PROTOCOL => int_bytes(0),
        SO_ERROR => int_bytes(socket.take_error().map_or(0, |e| i64::from(e.code()))),
        SO_ACCEPTCONN => int_bytes(i64::from(socket.is_listening())),
        SO_PEERCRED => socket.peer_cred().to_bytes().to_vec(),
        _ => generic_option_value(&socket.options(), name).ok_or(Errno::ENOPROTOOPT)?,
    };
    write_option(p, value, len_addr, &bytes)
}
