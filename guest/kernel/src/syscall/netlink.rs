//! The socket syscalls on `AF_NETLINK` sockets (`syscall::net` hands them here by family):
//! addresses (`struct sockaddr_nl`), sends (to the kernel: `rtnetlink` answers into the
//! socket's queue before the send returns), receives
//! (one datagram each, waiting as other sockets wait: `O_NONBLOCK`, `MSG_DONTWAIT`,
//! `SO_RCVTIMEO`, signals), and the `SOL_SOCKET` and `SOL_NETLINK` options. The socket is
//! `fs::netlink`'s.
//!
//! Not built: control messages (`recvmsg` returns none: no `NETLINK_PKTINFO`, no
//! credentials), `SO_ATTACH_FILTER`, notifications to joined groups (nothing changes),
//! protocols other than `NETLINK_ROUTE` (`EPROTONOSUPPORT`).

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::net::{
    deadline, generic_option_value, int_arg, int_bytes, iovecs, read_generic_option, read_msghdr, wait, write_addr,
    write_option, MAX_IO, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, SOCKADDR_MAX, SOL_SOCKET, SO_DOMAIN, SO_ERROR,
    SO_PROTOCOL, SO_TYPE,
};
use crate::errno::{Errno, SysResult};
use crate::fs::inet::SOCK_DGRAM;
use crate::fs::netlink::{sockaddr_nl, NetlinkSocket, AF_NETLINK, NETLINK_CAP_ACK, NETLINK_ROUTE, SOCKADDR_NL_LEN};
use crate::fs::OpenFile;
use crate::process::Process;
use crate::rtnetlink::Sender;
use crate::user;

/// `SOCK_RAW`.
const SOCK_RAW: u32 = 3;
/// `SOL_NETLINK`.
const SOL_NETLINK: u64 = 270;
const NETLINK_ADD_MEMBERSHIP: u64 = 1;
const NETLINK_DROP_MEMBERSHIP: u64 = 2;
/// The flag options (see `NetlinkSocket::has_flag`), from `NETLINK_PKTINFO` (3) to
/// `NETLINK_GET_STRICT_CHK` (12), without `NETLINK_LIST_MEMBERSHIPS` (9, read-only).
const FLAG_OPTIONS: [u64; 7] = [3, 4, 5, 8, 10, 11, 12];
const NETLINK_LIST_MEMBERSHIPS: u64 = 9;

/// An `AF_NETLINK` socket's syscall: `socket(AF_NETLINK, type, protocol)`.
pub fn socket(p: &mut Process, kind: u32, protocol: u64, flags: u32) -> SysResult {
    if kind != SOCK_RAW && kind != SOCK_DGRAM {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if protocol as u32 != NETLINK_ROUTE {
        return Err(Errno::EPROTONOSUPPORT);
    }
    let ino = p.vfs.unix_names().lock().next_ino();
    let owner = (p.view.uids().effective, p.view.gids().effective);
    let socket = NetlinkSocket::new(kind, ino, owner, p.vfs.now());
    let file = p.vfs.netlink_file(socket, flags & super::net::SOCK_NONBLOCK != 0);
    Ok(p.files.fds.lock().insert(file, flags & super::net::SOCK_CLOEXEC != 0)? as usize)
}

/// A `struct sockaddr_nl` the app passed: (port, groups). `EINVAL` for a short one or
/// another family.
fn read_sockaddr(p: &mut Process, addr: u64, len: u64) -> Result<(u32, u32), Errno> {
    let len = len as u32 as u64;
    if len > SOCKADDR_MAX {
        return Err(Errno::EINVAL);
    }
    if (len as usize) < SOCKADDR_NL_LEN {
        return Err(Errno::EINVAL);
    }
    let raw = user::read(&mut p.space, addr, SOCKADDR_NL_LEN as u64)?;
    if u16::from_le_bytes([raw[0], raw[1]]) != AF_NETLINK {
        return Err(Errno::EINVAL);
    }
    let word = |at: usize| u32::from_le_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]]);
    Ok((word(4), word(8)))
}

/// Binds `socket` to an automatic port if it has none.
fn autobind(p: &Process, socket: &Arc<NetlinkSocket>) -> Result<u32, Errno> {
    p.vfs.netlink_ports().lock().autobind(socket, p.pid)
}

/// bind: claims the address's port (0: an automatic one) and joins its groups. A bound
/// socket can only be bound to its own port again (`EINVAL`, for port 0 too, as Linux).
pub fn bind(p: &mut Process, socket: &Arc<NetlinkSocket>, addr: u64, len: u64) -> SysResult {
    let (port, groups) = read_sockaddr(p, addr, len)?;
    match socket.port() {
        Some(bound) if port != bound => return Err(Errno::EINVAL),
        Some(_) => {}
        None if port != 0 => p.vfs.netlink_ports().lock().bind(socket, port)?,
        None => {
            autobind(p, socket)?;
        }
    }
    socket.set_groups(groups);
    Ok(0)
}

/// connect: sets the default destination (`AF_UNSPEC` clears it); sending to a group is
/// `EPERM`. Binds the socket if unbound.
pub fn connect(p: &mut Process, socket: &Arc<NetlinkSocket>, addr: u64, len: u64) -> SysResult {
    if (len as u32) < 2 {
        return Err(Errno::EINVAL);
    }
    let family = user::read(&mut p.space, addr, 2)?;
    if u16::from_le_bytes([family[0], family[1]]) == 0 {
        socket.set_peer((0, 0));
        return Ok(0);
    }
    let (port, groups) = read_sockaddr(p, addr, len)?;
    if groups != 0 {
        return Err(Errno::EPERM);
    }
    autobind(p, socket)?;
    socket.set_peer((port, groups));
    Ok(0)
}

/// getsockname (`peer` false: the port and groups) or getpeername (the default
/// destination, which Linux reports even when unconnected).
pub fn name(p: &mut Process, socket: &NetlinkSocket, peer: bool, addr: u64, len_addr: u64) -> SysResult {
    let (port, groups) = if peer { socket.peer() } else { socket.local() };
    write_addr(p, addr, len_addr, &sockaddr_nl(port, groups)).map(|()| 0)
}

/// Sends `data` to `to` (the default destination if `None`): to the kernel, whose answers
/// are queued before this returns; to another port or a group `EPERM` (see `fs::netlink`).
/// The data is the iovecs' (`vecs`), read only once its size is known to fit `SO_SNDBUF`
/// (`EMSGSIZE` otherwise, as Linux; so an app cannot make the kernel copy more).
fn send(p: &mut Process, socket: &Arc<NetlinkSocket>, vecs: &[(u64, u64)], to: Option<(u32, u32)>) -> SysResult {
    let (port, groups) = to.unwrap_or_else(|| socket.peer());
    if port != 0 || groups != 0 {
        return Err(Errno::EPERM);
    }
    let options = socket.options();
    let total = vecs.iter().fold(0u64, |sum, v| sum.saturating_add(v.1));
    if total > options.sndbuf.saturating_sub(32) as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let data = gather(p, vecs)?;
    let own = autobind(p, socket)?;
    let sender = Sender { port: own, uid: p.view.uids().real, cap_ack: socket.has_flag(NETLINK_CAP_ACK) };
    for answer in crate::rtnetlink::answer(&data, sender, socket.room()) {
        socket.deliver(answer);
    }
    Ok(data.len())
}

/// The next datagram, waiting for one unless non-blocking (see the module docs).
fn recv(p: &mut Process, file: &OpenFile, socket: &NetlinkSocket, flags: u64) -> Result<Vec<u8>, Errno> {
    let nonblocking = file.is_nonblocking() || flags & MSG_DONTWAIT != 0;
    let deadline = deadline(p, socket.options().rcvtimeo_ns);
    loop {
        match socket.recv(flags & MSG_PEEK != 0) {
            Err(Errno::EAGAIN) => wait(p, nonblocking, deadline)?,
            other => return other,
        }
    }
}

/// Copies a datagram into the iovecs: the bytes copied.
fn scatter(p: &mut Process, vecs: &[(u64, u64)], data: &[u8]) -> Result<usize, Errno> {
    let mut done = 0usize;
    for &(base, len) in vecs {
        let count = (len as usize).min(data.len() - done);
        user::copy_out(&mut p.space, base, &data[done..done + count])?;
        done += count;
        if done == data.len() {
            break;
        }
    }
    Ok(done)
}

/// The data of the iovecs (whose size `send` has bounded).
fn gather(p: &mut Process, vecs: &[(u64, u64)]) -> Result<Vec<u8>, Errno> {
    let mut data = Vec::new();
    for &(base, len) in vecs {
        data.extend_from_slice(user::read(&mut p.space, base, len)?);
    }
    Ok(data)
}

/// read/readv: a receive with no flags.
pub fn read(p: &mut Process, file: &OpenFile, socket: &NetlinkSocket, vecs: &[(u64, u64)]) -> SysResult {
    let datagram = recv(p, file, socket, 0)?;
    scatter(p, vecs, &datagram)
}

/// write/writev: a send to the default destination.
pub fn write(p: &mut Process, socket: &Arc<NetlinkSocket>, vecs: &[(u64, u64)]) -> SysResult {
    send(p, socket, vecs, None)
}

/// The explicit destination of sendto/sendmsg (none for NULL or a zero length).
fn destination(p: &mut Process, addr: u64, len: u64) -> Result<Option<(u32, u32)>, Errno> {
    if addr == 0 || len as u32 == 0 {
        return Ok(None);
    }
    read_sockaddr(p, addr, len).map(Some)
}

/// sendto(fd, buf, len, flags, addr, addrlen).
pub fn sendto(p: &mut Process, socket: &Arc<NetlinkSocket>, args: [u64; 6]) -> SysResult {
    let [_, buf, len, _, addr, addrlen] = args;
    let to = destination(p, addr, addrlen)?;
    send(p, socket, &[(buf, len.min(MAX_IO))], to)
}

/// The length a receive returns: the datagram's full length with `MSG_TRUNC`.
fn received_len(copied: usize, datagram: &[u8], flags: u64) -> usize {
    if flags & MSG_TRUNC != 0 {
        datagram.len()
    } else {
        copied
    }
}

/// recvfrom(fd, buf, len, flags, addr, addrlen): the sender's address is always written.
pub fn recvfrom(p: &mut Process, file: &OpenFile, socket: &NetlinkSocket, args: [u64; 6]) -> SysResult {
    let [_, buf, len, flags, addr, addrlen] = args;
    let len = len.min(MAX_IO);
    user::write(&mut p.space, buf, len)?;
    let datagram = recv(p, file, socket, flags)?;
    let copied = datagram.len().min(len as usize);
    user::copy_out(&mut p.space, buf, &datagram[..copied])?;
    write_addr(p, addr, addrlen, &sockaddr_nl(0, 0))?;
    Ok(received_len(copied, &datagram, flags))
}

/// sendmsg(fd, msg, flags): control messages are ignored, as Linux ignores what netlink
/// does not use.
pub fn sendmsg(p: &mut Process, socket: &Arc<NetlinkSocket>, msg: u64) -> SysResult {
    let msg = read_msghdr(p, msg)?;
    let vecs = iovecs(p, msg.iov, msg.iov_len)?;
    let to = destination(p, msg.name, u64::from(msg.name_len))?;
    send(p, socket, &vecs, to)
}

/// recvmsg(fd, msg, flags): the datagram into the iovecs, the sender into `msg_name`,
/// `MSG_TRUNC` into `msg_flags` when it was cut; no control messages.
pub fn recvmsg(p: &mut Process, file: &OpenFile, socket: &NetlinkSocket, msg_addr: u64, flags: u64) -> SysResult {
    let msg = read_msghdr(p, msg_addr)?;
    let vecs = iovecs(p, msg.iov, msg.iov_len)?;
    for &(base, len) in &vecs {
        user::write(&mut p.space, base, len)?;
    }
    let datagram = recv(p, file, socket, flags)?;
    let copied = scatter(p, &vecs, &datagram)?;
    if msg.name != 0 {
        let name = sockaddr_nl(0, 0);
        let count = (msg.name_len as usize).min(name.len());
        user::copy_out(&mut p.space, msg.name, &name[..count])?;
    }
    let name_len = if msg.name != 0 { SOCKADDR_NL_LEN as u32 } else { 0 };
    user::write_u32(&mut p.space, msg_addr + 8, name_len)?;
    user::write_u64(&mut p.space, msg_addr + 40, 0)?;
    let out_flags = if copied < datagram.len() { MSG_TRUNC as u32 } else { 0 };
    user::write_u32(&mut p.space, msg_addr + 48, out_flags)?;
    Ok(received_len(copied, &datagram, flags))
}

/// setsockopt: the generic `SOL_SOCKET` options (`syscall::net`'s, as every guest socket),
/// group membership and the flag options at `SOL_NETLINK`. Others `ENOPROTOOPT`.
pub fn setsockopt(p: &mut Process, socket: &NetlinkSocket, level: u64, name: u64, value: u64, len: u64) -> SysResult {
    let name = name as u32 as u64;
    match level as u32 as u64 {
        SOL_SOCKET => {
            let option = read_generic_option(p, name, value, len)?.ok_or(Errno::ENOPROTOOPT)?;
            socket.set_options(|o| option.apply(o));
        }
        SOL_NETLINK => match name {
            NETLINK_ADD_MEMBERSHIP | NETLINK_DROP_MEMBERSHIP => {
                let group = int_arg(p, value, len)? as u32;
                socket.set_group(group, name == NETLINK_ADD_MEMBERSHIP);
            }
            _ if FLAG_OPTIONS.contains(&name) => {
                let on = int_arg(p, value, len)? != 0;
                socket.set_flag(name as u32, on);
            }
            _ => return Err(Errno::ENOPROTOOPT),
        },
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(0)
}

/// getsockopt: see [`setsockopt`]; also `SO_TYPE`, `SO_DOMAIN`, `SO_PROTOCOL`, `SO_ERROR`
/// and `NETLINK_LIST_MEMBERSHIPS`. The value is cut to `*len`.
pub fn getsockopt(
    p: &mut Process,
    socket: &NetlinkSocket,
    level: u64,
    name: u64,
    value: u64,
    len_addr: u64,
) -> SysResult {
    let name = name as u32 as u64;
    let bytes = match level as u32 as u64 {
        SOL_SOCKET => match name {
            SO_TYPE => int_bytes(i64::from(socket.kind())),
            SO_DOMAIN => int_bytes(i64::from(AF_NETLINK)),
            SO_PROTOCOL => int_bytes(i64::from(NETLINK_ROUTE)),
            SO_ERROR => int_bytes(socket.take_error().map_or(0, |e| i64::from(e.code()))),
            _ => generic_option_value(&socket.options(), name).ok_or(Errno::ENOPROTOOPT)?,
        },
        SOL_NETLINK => match name {
            NETLINK_LIST_MEMBERSHIPS => int_bytes(i64::from(socket.local().1)),
            _ if FLAG_OPTIONS.contains(&name) => int_bytes(i64::from(socket.has_flag(name as u32))),
            _ => return Err(Errno::ENOPROTOOPT),
        },
        _ => return Err(Errno::ENOPROTOOPT),
    };
    write_option(p, value, len_addr, &bytes)
}
