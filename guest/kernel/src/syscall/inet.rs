//! The socket syscalls on `AF_INET`/`AF_INET6` sockets (`syscall::net` hands them here by
//! family). The socket is a host socket the VMM holds (`fs::inet`); each operation is one Net
//! hypercall naming its handle, made with the process unlocked so that other threads' calls
//! overlap it. Data passes through a pooled kernel bounce buffer (up to 64 KiB a call): the
//! app's memory is touched only with the lock held, so a thread unmapping a buffer while
//! another's call is in flight cannot make the VMM write into freed memory.
//!
//! The VMM never waits. What would block says `EAGAIN`, and, as for `AF_UNIX` sockets, the
//! call waits here unless the file is `O_NONBLOCK` or the call says `MSG_DONTWAIT`: for the
//! readiness the VMM publishes in the shared area (`netarea`), up to `SO_RCVTIMEO` /
//! `SO_SNDTIMEO` (then `EAGAIN`; `EINPROGRESS` for connect) or a signal (`EINTR`). A
//! readiness bit that is clear means the host socket would block: `recv`, `accept` and stream
//! `send` then wait without asking the VMM, which is what keeps an idle keep-alive connection
//! from costing exits.
//!
//! A connected stream socket receives through a ring (`netring`) the VMM fills as data
//! arrives: an accepted socket gets one with its Accept, a socket the app connected asks for
//! one (`NetOp::RxRing`) on its first receive. Receiving then copies out of the ring with no
//! exit; the VMM is called only to refill a ring it found full (`NetOp::Refill`, which also
//! reads the socket's next bytes straight into the bounce buffer when the ring is empty), or
//! once when the slot shows a hang-up the ring has not caught yet.
//!
//! It also gets a transmit ring (`netring::TxRing`) with its receive ring: `send`, `write`
//! and `sendmsg` without a destination then copy into the ring and return at once (a partial
//! copy when it is nearly full; a blocking send flushes and waits for room); the VMM writes
//! the rings out on one `NetOp::Flush` at the guest's flush points (`NetArea::flush`: before
//! a vCPU parks, when the app asks what is ready, at exit, when a ring is full, before a call
//! whose answer depends on what was sent). `MSG_OOB` and `MSG_EOR`, which the ring cannot
//! carry, send directly, once the ring is written out (other flags change nothing the VMM
//! passes on, so they take the ring). An error the VMM met writing a ring out is the next
//! send's, as Linux reports an asynchronous send error.
//!
//! Addresses are Linux `sockaddr_in`/`sockaddr_in6` bytes, passed to the VMM as the app gave
//! them (the VMM checks and translates them) and returned as the VMM gives them.
//! Not built: control messages (`sendmsg` with `msg_control` is `EOPNOTSUPP`; `recvmsg`
//! returns none), `SO_RCVTIMEO_NEW`/`SO_SNDTIMEO_NEW`.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use uvm_abi::hypercall::MemoryChunk;
use uvm_abi::net::{
    NetCall, NetOp, NetOption, ACCEPT_LOCAL_AT, NET_ADDR_MAX, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP,
};

use super::net::{
    deadline, iovecs, read_msghdr, timeval_arg, wait, write_addr, MAX_IO, MSG_DONTWAIT, MSG_NOSIGNAL, MSG_PEEK,
    MSG_TRUNC, MSG_WAITALL, SOCKADDR_MAX, SOCK_CLOEXEC, SOCK_NONBLOCK, SOL_SOCKET, SO_RCVTIMEO, SO_SNDTIMEO,
};
use crate::errno::{Errno, SysResult};
use crate::fs::inet::{InetSocket, SOCK_DGRAM, SOCK_STREAM};
use crate::fs::OpenFile;
use crate::netarea::NetArea;
use crate::netring::{RxRing, TxRing};
use crate::process::Process;
use crate::sync::SpinLock;
use crate::user;

/// `MSG_OOB`.
const MSG_OOB: u64 = 0x1;
/// `MSG_EOR`.
const MSG_EOR: u64 = 0x80;
/// `MSG_MORE` (a transmit ring keeps the bytes anyway).
const MSG_MORE: u64 = 0x8000;
/// The `recv` flags passed on to the host.
const RECV_FLAGS: u64 = MSG_PEEK | MSG_TRUNC | MSG_OOB;
/// The `send` flags passed on to the host.
const SEND_FLAGS: u64 = MSG_MORE | MSG_EOR | MSG_OOB;
/// `SO_ERROR`.
const SO_ERROR: u64 = 4;

/// The shared readiness area, registered with the VMM on the VM's first IP socket (cached in
/// the process).
fn area(p: &mut Process) -> Result<&'static NetArea, Errno> {
    if let Some(area) = p.net_area {
        return Ok(area);
    }
    let area = NetArea::register()?;
    p.net_area = Some(area);
    p.thread.net_mark = area.generation();
    Ok(area)
}

/// A call block for `op`.
fn call_for(op: NetOp) -> NetCall {
    NetCall { op: op as u32, ..NetCall::default() }
}

/// A call block for `op` carrying the app's address `addr`/`len` (`EINVAL` past
/// `sockaddr_storage` or shorter than a family).
fn call_with_addr(p: &mut Process, op: NetOp, addr: u64, len: u64) -> Result<NetCall, Errno> {
    let len = len as u32;
    if u64::from(len) > SOCKADDR_MAX || len < 2 {
        return Err(Errno::EINVAL);
    }
    let bytes = user::read(&mut p.space, addr, u64::from(len))?;
    let mut call = call_for(op);
    call.addr[..bytes.len()].copy_from_slice(bytes);
    call.addr_len = len;
    Ok(call)
}

/// The address the VMM returned in `call`.
fn returned_addr(call: &NetCall) -> &[u8] {
    &call.addr[..(call.addr_len as usize).min(NET_ADDR_MAX)]
}

/// Installs `socket` as a new fd with `SOCK_NONBLOCK`/`SOCK_CLOEXEC` `flags`.
fn install(p: &mut Process, socket: Arc<InetSocket>, flags: u32) -> Result<i32, Errno> {
    let file = p.vfs.inet_file(socket, flags & SOCK_NONBLOCK != 0);
    p.files.fds.lock().insert(file, flags & SOCK_CLOEXEC != 0)
}

/// A new socket object for VMM handle `handle`.
fn new_socket(p: &mut Process, area: &'static NetArea, handle: u32, family: u16, kind: u32) -> Arc<InetSocket> {
    let ino = p.vfs.unix_names().lock().next_ino();
    Arc::new(InetSocket::new(handle, family, kind, area, ino, p.view.identity().fs_owner(), p.vfs.now()))
}

/// Waits until the socket's readiness has one of `bits` (or an error or hang-up), or says
/// `EAGAIN` at once (`nonblocking`) or once `deadline` passes.
fn wait_for(
    p: &mut Process,
    socket: &InetSocket,
    bits: u32,
    nonblocking: bool,
    deadline: Option<u64>,
) -> Result<(), Errno> {
    wait_until(p, nonblocking, deadline, || u32::from(socket.poll()) & (bits | POLLERR | POLLHUP) != 0)
}

/// Waits until `ready()` holds, or says `EAGAIN` at once (`nonblocking`) or once `deadline`
/// passes.
fn wait_until(
    p: &mut Process,
    nonblocking: bool,
    deadline: Option<u64>,
    ready: impl Fn() -> bool,
) -> Result<(), Errno> {
    if nonblocking {
        return Err(Errno::EAGAIN);
    }
    loop {
        if ready() {
            return Ok(());
        }
        wait(p, false, deadline)?;
    }
}

/// socket(AF_INET/AF_INET6, type, protocol) with `SOCK_*` `flags`.
pub fn socket(p: &mut Process, family: u16, kind: u32, protocol: u64, flags: u32) -> SysResult {
    if kind != SOCK_STREAM && kind != SOCK_DGRAM {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    let area = area(p)?;
    let mut call = call_for(NetOp::Socket);
    call.arg = [u64::from(family), u64::from(kind), protocol as u32 as u64, 0];
    let r = crate::hypercall::net(&mut call);
    if r < 0 {
        return Err(Errno::from_host(r));
    }
    let socket = new_socket(p, area, r as u32, family, kind);
    Ok(install(p, socket, flags)? as usize)
}

/// bind(fd, addr, addrlen).
pub fn bind(p: &mut Process, socket: &InetSocket, addr: u64, len: u64) -> SysResult {
    let mut call = call_with_addr(p, NetOp::Bind, addr, len)?;
    socket.call(&mut call).map(|_| 0)
}

/// listen(fd, backlog).
pub fn listen(socket: &InetSocket, backlog: i32) -> SysResult {
    if socket.kind() != SOCK_STREAM {
        return Err(Errno::EOPNOTSUPP);
    }
    let mut call = call_for(NetOp::Listen);
    call.arg[0] = backlog.clamp(0, 4096) as u64;
    socket.call(&mut call).map(|_| 0)
}

/// connect(fd, addr, addrlen): a blocking stream connect waits for the connection and
/// reports its `SO_ERROR`.
pub fn connect(p: &mut Process, file: &OpenFile, socket: &InetSocket, addr: u64, len: u64) -> SysResult {
    socket.flush();
    let mut call = call_with_addr(p, NetOp::Connect, addr, len)?;
    match socket.call(&mut call) {
        Err(Errno::EINPROGRESS) if !file.is_nonblocking() => {
            let deadline = deadline(p, socket.options().sndtimeo_ns);
            match wait_for(p, socket, POLLOUT, false, deadline) {
                Err(Errno::EAGAIN) => return Err(Errno::EINPROGRESS),
                other => other?,
            }
            match pending_error(socket)? {
                0 => Ok(0),
                code => Err(Errno::from_host(-i64::from(code))),
            }
        }
        other => other.map(|_| 0),
    }
}

/// The host socket's `SO_ERROR` (taking it).
fn pending_error(socket: &InetSocket) -> Result<i32, Errno> {
    let mut call = call_for(NetOp::GetOpt);
    call.arg[0] = SOL_SOCKET;
    call.arg[1] = SO_ERROR;
    call.addr_len = 4;
    socket.call(&mut call)?;
    Ok(i32::from_le_bytes([call.addr[0], call.addr[1], call.addr[2], call.addr[3]]))
}

/// accept/accept4(fd, addr, addrlen, flags).
pub fn accept(
    p: &mut Process,
    file: &OpenFile,
    socket: &InetSocket,
    addr: u64,
    len_addr: u64,
    flags: u32,
) -> SysResult {
    let nonblocking = file.is_nonblocking();
    let deadline = deadline(p, socket.options().rcvtimeo_ns);
    let rings = take_rings(p);
    let (handle, call) = match accept_with_ring(p, socket, rings.as_ref(), nonblocking, deadline) {
        Ok(accepted) => accepted,
        Err(e) => {
            give_back(rings);
            return Err(e);
        }
    };
    let server = new_socket(p, socket.area(), handle as u32, socket.family(), socket.kind());
    if let Some((ring, tx)) = rings {
        server.set_ring(ring);
        server.set_tx_ring(tx);
    }
    let local_len = (call.arg[1] as usize).min(NET_ADDR_MAX - ACCEPT_LOCAL_AT);
    if local_len > 0 {
        server.set_local_name(&call.addr[ACCEPT_LOCAL_AT..ACCEPT_LOCAL_AT + local_len]);
    }
    let fd = install(p, server, flags)?;
    if let Err(e) = write_addr(p, addr, len_addr, returned_addr(&call)) {
        let file = p.files.fds.lock().close(fd);
        drop(file);
        return Err(e);
    }
    Ok(fd as usize)
}

/// Free memory (4 KiB frames) rings leave to the rest of the kernel: below it, new sockets
/// get no rings (each receive and send is then a call), so a VM with many connections runs
/// short of speed rather than of memory for its fd table, pipes and page tables.
const RING_RESERVE_FRAMES: u64 = 1024;

/// A receive and a transmit ring for a socket, if there is memory for both.
fn take_rings(p: &Process) -> Option<(RxRing, TxRing)> {
    if p.space.frames_available() < RING_RESERVE_FRAMES {
        return None;
    }
    let ring = RxRing::take()?;
    match TxRing::take() {
        Some(tx) => Some((ring, tx)),
        None => {
            ring.give_back();
            None
        }
    }
}

/// Returns rings the VMM never registered to their pools.
fn give_back(rings: Option<(RxRing, TxRing)>) {
    if let Some((ring, tx)) = rings {
        ring.give_back();
        tx.give_back();
    }
}

/// Accepts a connection, waiting as the file says; its socket gets `rings` when there are
/// any. The handle and the call (the addresses).
fn accept_with_ring(
    p: &mut Process,
    socket: &InetSocket,
    rings: Option<&(RxRing, TxRing)>,
    nonblocking: bool,
    deadline: Option<u64>,
) -> Result<(u64, NetCall), Errno> {
    loop {
        let mut call = call_for(NetOp::Accept);
        if let Some((ring, tx)) = rings {
            (call.arg[2], call.arg[3]) = ring.place();
            (call.arg[0], call.arg[1]) = tx.place();
        }
        if u32::from(socket.poll()) & (POLLIN | POLLERR | POLLHUP) != 0 {
            match socket.call(&mut call) {
                Err(Errno::EAGAIN) => {}
                other => return other.map(|handle| (handle, call)),
            }
        }
        wait_for(p, socket, POLLIN, nonblocking, deadline)?;
    }
}

/// shutdown(fd, how).
pub fn shutdown(socket: &InetSocket, how: u64) -> SysResult {
    if how > 2 {
        return Err(Errno::EINVAL);
    }
    socket.flush();
    let mut call = call_for(NetOp::Shutdown);
    call.arg[0] = how;
    // Noted before the call: the VMM wakes senders blocked on a full transmit ring during it,
    // and they must find the writing half shut.
    let writing = how != 0;
    let was_shut = socket.write_shut();
    if writing {
        socket.set_write_shut(true);
    }
    if let Err(e) = socket.call(&mut call) {
        if writing {
            socket.set_write_shut(was_shut);
        }
        return Err(e);
    }
    Ok(0)
}

/// getsockname (`peer` false) or getpeername (`peer` true). An accepted socket's local
/// address came with the accept: no call.
pub fn name(p: &mut Process, socket: &InetSocket, peer: bool, addr: u64, len_addr: u64) -> SysResult {
    if let Some(local) = socket.local_name().filter(|_| !peer) {
        return write_addr(p, addr, len_addr, &local).map(|()| 0);
    }
    let mut call = call_for(if peer { NetOp::GetPeerName } else { NetOp::GetSockName });
    socket.call(&mut call)?;
    write_addr(p, addr, len_addr, returned_addr(&call)).map(|()| 0)
}

// ---------------------------------------------------------------- data

/// Bytes one Send or Recv moves: the size of a bounce buffer.
const BOUNCE_SIZE: usize = 64 * 1024;

/// Bounce buffers not in use (one per vCPU doing socket I/O at most, kept for reuse).
static BOUNCES: SpinLock<Vec<Box<[u8]>>> = SpinLock::new(Vec::new());

/// A kernel buffer socket data passes through: the VMM reads or writes it while the process
/// is unlocked (other threads run on, and may even unmap the app's buffer: the app's memory
/// is only touched with the lock held). Back to the pool when dropped.
struct Bounce(Option<Box<[u8]>>);

impl Bounce {
    fn take() -> Bounce {
        let buffer = BOUNCES.lock().pop().unwrap_or_else(|| alloc::vec![0u8; BOUNCE_SIZE].into_boxed_slice());
        Bounce(Some(buffer))
    }

    fn bytes(&mut self) -> &mut [u8] {
        self.0.as_deref_mut().unwrap_or(&mut [])
    }

    /// The guest-physical range of its first `len` bytes (a heap page run: contiguous).
    fn chunk(&mut self, len: usize) -> MemoryChunk {
        let bytes = self.bytes();
        MemoryChunk { gpa: crate::hypercall::gpa_of(bytes.as_ptr() as u64), len: len.min(bytes.len()) as u64 }
    }
}

impl Drop for Bounce {
    fn drop(&mut self) {
        if let Some(buffer) = self.0.take() {
            BOUNCES.lock().push(buffer);
        }
    }
}

/// The app's memory spans holding bytes `skip..skip + max` of the iovecs' data.
fn spans(vecs: &[(u64, u64)], mut skip: u64, max: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut left = max;
    for &(base, len) in vecs {
        if left == 0 {
            break;
        }
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = (len - skip).min(left);
        out.push((base + skip, n));
        left -= n;
        skip = 0;
    }
    out
}

/// Makes `call` on `socket` with the process unlocked (the VMM may take a while, and the
/// call touches only kernel memory: the block on this vCPU's stack, a bounce buffer).
fn call_unlocked(p: &mut Process, socket: &InetSocket, call: &mut NetCall) -> Result<u64, Errno> {
    p.unlocked(|| socket.call(call))
}

/// Sends the iovecs' data to `to` (raw address bytes, empty for none); returns bytes sent.
/// A blocking stream send sends everything, waiting for room; `EPIPE` raises `SIGPIPE` unless
/// `MSG_NOSIGNAL`.
fn send(
    p: &mut Process,
    file: &OpenFile,
    socket: &InetSocket,
    vecs: &[(u64, u64)],
    flags: u64,
    to: Option<NetCall>,
) -> SysResult {
    if let Some(e) = socket.take_ring_error() {
        // The connection failed and no call has said so yet: this one does, as on Linux.
        return sent_or_sigpipe(p, Err(e), flags);
    }
    let tx_ring = socket.tx_ring();
    if let Some(tx) = &tx_ring {
        if flags & (MSG_OOB | MSG_EOR) == 0 {
            return send_ring(p, file, socket, tx, vecs, flags);
        }
        // Sent directly: behind what the ring holds.
        socket.area().flush();
        let nonblocking = file.is_nonblocking() || flags & MSG_DONTWAIT != 0;
        if let Err(e) = wait_for_tx_empty(p, socket, tx, nonblocking) {
            return sent_or_sigpipe(p, Err(e), flags);
        }
    }
    // Whether the host socket has room (or an end). A ringed socket's `poll` says whether its
    // ring has room, which a direct send does not use: waiting on that would spin while the
    // host socket is full.
    let ringed = tx_ring.is_some();
    let writable = || {
        let ready = if ringed { socket.area().readiness(socket.handle()) } else { u32::from(socket.poll()) };
        ready & (POLLOUT | POLLERR | POLLHUP) != 0
    };
    let total: u64 = vecs.iter().map(|v| v.1).sum::<u64>().min(MAX_IO);
    let stream = socket.kind() == SOCK_STREAM;
    if !stream && total > BOUNCE_SIZE as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let nonblocking = file.is_nonblocking() || flags & MSG_DONTWAIT != 0;
    let deadline = deadline(p, socket.options().sndtimeo_ns);
    let mut sent = 0u64;
    let mut bounce = Bounce::take();
    let result = loop {
        // A stream socket whose readiness shows no room waits without asking the VMM.
        let room = !stream || writable();
        let attempt = if room {
            let want = (total - sent).min(BOUNCE_SIZE as u64);
            let mut at = 0usize;
            for (base, len) in spans(vecs, sent, want) {
                let data = user::read(&mut p.space, base, len)?;
                bounce.bytes()[at..at + data.len()].copy_from_slice(data);
                at += data.len();
            }
            let chunk = bounce.chunk(at);
            let mut call = to.unwrap_or_else(|| call_for(NetOp::Send));
            call.op = NetOp::Send as u32;
            call.flags = (flags & SEND_FLAGS) as u32;
            call.chunks_gpa = crate::hypercall::gpa_of(&chunk as *const MemoryChunk as u64);
            call.chunk_count = 1;
            call_unlocked(p, socket, &mut call)
        } else {
            Err(Errno::EAGAIN)
        };
        match attempt {
            Ok(n) => {
                sent += n;
                if sent >= total || !stream {
                    break Ok(sent as usize);
                }
            }
            Err(Errno::EAGAIN) => {
                if let Err(e) = wait_until(p, nonblocking, deadline, writable) {
                    break if sent > 0 { Ok(sent as usize) } else { Err(e) };
                }
            }
            Err(e) => break if sent > 0 { Ok(sent as usize) } else { Err(e) },
        }
    };
    sent_or_sigpipe(p, result, flags)
}

/// A send's result, with `SIGPIPE` raised for `EPIPE` unless `MSG_NOSIGNAL`, as Linux does.
fn sent_or_sigpipe(p: &mut Process, result: SysResult, flags: u64) -> SysResult {
    if result == Err(Errno::EPIPE) && flags & MSG_NOSIGNAL == 0 {
        super::fs::raise_sigpipe(p);
    }
    result
}

/// Sends through the socket's transmit ring (see the module docs): no exit while it has room.
fn send_ring(
    p: &mut Process,
    file: &OpenFile,
    socket: &InetSocket,
    tx: &TxRing,
    vecs: &[(u64, u64)],
    flags: u64,
) -> SysResult {
    let total: u64 = vecs.iter().map(|v| v.1).sum::<u64>().min(MAX_IO);
    let nonblocking = file.is_nonblocking() || flags & MSG_DONTWAIT != 0;
    let deadline = deadline(p, socket.options().sndtimeo_ns);
    let mut sent = 0u64;
    let result = loop {
        if socket.write_shut() {
            break if sent > 0 { Ok(sent as usize) } else { Err(Errno::EPIPE) };
        }
        if sent > 0 && tx.error().is_some() {
            // What was copied is this call's; the error stays for the next one.
            break Ok(sent as usize);
        }
        if let Some(e) = socket.take_tx_error() {
            break Err(e);
        }
        let room = u64::from(tx.room());
        if room > 0 && sent < total {
            let want = (total - sent).min(room);
            let mut copied = 0u64;
            for (base, len) in spans(vecs, sent, want) {
                let data = match user::read(&mut p.space, base, len) {
                    Ok(data) => data,
                    Err(e) => {
                        sent += copied;
                        if sent > 0 {
                            socket.area().set_tx_pending();
                            return Ok(sent as usize);
                        }
                        return Err(e);
                    }
                };
                copied += tx.push(data) as u64;
            }
            sent += copied;
            socket.area().set_tx_pending();
            continue;
        }
        if sent >= total {
            break Ok(sent as usize);
        }
        // The ring is full: out it goes, then there is room (or the host socket is full too).
        socket.area().flush();
        if tx.room() > 0 || tx.error().is_some() {
            continue;
        }
        if nonblocking {
            break if sent > 0 { Ok(sent as usize) } else { Err(Errno::EAGAIN) };
        }
        // A shutdown of the writing half (by another thread) ends the wait: the next round
        // says EPIPE.
        if let Err(e) = wait_for_tx(p, tx, deadline, |tx| tx.room() > 0 || socket.write_shut()) {
            break if sent > 0 { Ok(sent as usize) } else { Err(e) };
        }
    };
    sent_or_sigpipe(p, result, flags)
}

/// Waits until `done(tx)` holds or the ring failed; `EAGAIN` once `deadline` passes.
fn wait_for_tx(
    p: &mut Process,
    tx: &TxRing,
    deadline: Option<u64>,
    done: impl Fn(&TxRing) -> bool,
) -> Result<(), Errno> {
    loop {
        if done(tx) || tx.error().is_some() {
            return Ok(());
        }
        wait(p, false, deadline)?;
    }
}

/// Before a direct send on a socket with a transmit ring: waits until the VMM wrote the ring
/// out (or it failed: the send then says so).
fn wait_for_tx_empty(p: &mut Process, socket: &InetSocket, tx: &TxRing, nonblocking: bool) -> Result<(), Errno> {
    if nonblocking && tx.used() > 0 && tx.error().is_none() {
        return Err(Errno::EAGAIN);
    }
    let deadline = deadline(p, socket.options().sndtimeo_ns);
    wait_for_tx(p, tx, deadline, |tx| tx.used() == 0)?;
    match socket.take_tx_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What a receive got.
struct Received {
    /// The call's result (bytes, or the datagram's full length with `MSG_TRUNC`).
    result: usize,
    /// The sender (empty for a stream).
    from: Vec<u8>,
    /// `msg_flags`.
    msg_flags: u32,
}

/// Copies `data` into the iovecs' bytes from `skip` on.
fn copy_to_user(p: &mut Process, vecs: &[(u64, u64)], skip: u64, data: &[u8]) -> Result<(), Errno> {
    let mut at = 0usize;
    for (base, len) in spans(vecs, skip, data.len() as u64) {
        user::copy_out(&mut p.space, base, &data[at..at + len as usize])?;
        at += len as usize;
    }
    Ok(())
}

/// A stream receive's result.
fn stream_received(bytes: u64) -> Received {
    Received { result: bytes as usize, from: Vec::new(), msg_flags: 0 }
}

/// Receives into the iovecs (see the module docs): from the socket's ring if it has one (or
/// gets one now), from the VMM otherwise.
fn recv(
    p: &mut Process,
    file: &OpenFile,
    socket: &InetSocket,
    vecs: &[(u64, u64)],
    flags: u64,
) -> Result<Received, Errno> {
    if let Some(ring) = ensure_ring(p, socket) {
        return recv_ring(p, file, socket, &ring, vecs, flags);
    }
    match recv_direct(p, file, socket, vecs, flags) {
        // Another thread got the socket a ring meanwhile: the VMM reads it only into that.
        Err(Errno::EINVAL) if socket.ring().is_some() => recv(p, file, socket, vecs, flags),
        other => other,
    }
}

/// The socket's ring: the one it has, or, for a connected stream socket (its slot shows room
/// to write and no hang-up: a connect is not under way, nor has it failed), one the VMM
/// registers now. A socket the VMM refuses one is never asked again.
fn ensure_ring(p: &mut Process, socket: &InetSocket) -> Option<Arc<RxRing>> {
    if let Some(ring) = socket.ring() {
        return Some(ring);
    }
    if socket.kind() != SOCK_STREAM || !socket.may_ask_for_ring() {
        return None;
    }
    let slot = socket.area().readiness(socket.handle());
    if slot & POLLOUT == 0 || slot & (POLLERR | POLLHUP) != 0 {
        return None;
    }
    let (ring, tx) = take_rings(p)?;
    let mut call = call_for(NetOp::RxRing);
    (call.arg[2], call.arg[3]) = ring.place();
    (call.arg[0], call.arg[1]) = tx.place();
    match call_unlocked(p, socket, &mut call) {
        Ok(_) => {
            socket.set_ring(ring);
            socket.set_tx_ring(tx);
        }
        Err(e) => {
            ring.give_back();
            tx.give_back();
            if e != Errno::ENOTCONN {
                socket.refuse_ring();
            }
        }
    }
    socket.ring()
}

/// Receives from the socket's ring (see the module docs): no exit while it holds bytes or
/// its end.
fn recv_ring(
    p: &mut Process,
    file: &OpenFile,
    socket: &InetSocket,
    ring: &RxRing,
    vecs: &[(u64, u64)],
    flags: u64,
) -> Result<Received, Errno> {
    if flags & MSG_OOB != 0 {
        // No urgent data is ever kept (as Linux says without any).
        return Err(Errno::EINVAL);
    }
    let max = vecs.iter().map(|v| v.1).sum::<u64>().min(MAX_IO);
    let nonblocking = file.is_nonblocking() || flags & MSG_DONTWAIT != 0;
    let peek = flags & MSG_PEEK != 0;
    // A stream's MSG_TRUNC takes the bytes without copying them (Linux).
    let discard = flags & MSG_TRUNC != 0;
    let wait_all = flags & MSG_WAITALL != 0 && !peek;
    let deadline = deadline(p, socket.options().rcvtimeo_ns);
    if !discard {
        for (base, len) in spans(vecs, 0, max) {
            user::write(&mut p.space, base, len)?;
        }
    }
    let mut got = 0u64;
    let mut bounce = Bounce::take();
    // One Refill for a hang-up the slot shows and the ring has not caught.
    let mut asked = false;
    loop {
        let state = ring.state();
        if state.available > 0 && got < max {
            let n = u64::from(state.available).min(max - got).min(BOUNCE_SIZE as u64) as usize;
            if !discard {
                ring.peek(&mut bounce.bytes()[..n]);
                copy_to_user(p, vecs, got, &bounce.bytes()[..n])?;
            }
            got += n as u64;
            if !peek && ring.consume(n as u32) {
                got += refill_into(p, socket, &mut bounce, vecs, got, max, discard)?;
            }
            if !wait_all || got >= max {
                return Ok(stream_received(got));
            }
            continue;
        }
        if max == 0 || (got > 0 && !wait_all) {
            return Ok(stream_received(got));
        }
        if state.error().is_some() {
            if got > 0 {
                return Ok(stream_received(got));
            }
            return socket.take_ring_error().map_or(Ok(stream_received(0)), Err);
        }
        if state.ended() {
            return Ok(stream_received(got));
        }
        let hangup = socket.area().readiness(socket.handle()) & (POLLHUP | POLLERR) != 0;
        if state.stalled() || (hangup && !asked) {
            asked = true;
            // A peek takes nothing: the bytes must stay in order in the ring.
            let into = if peek { got } else { max };
            got += refill_into(p, socket, &mut bounce, vecs, got, into, discard)?;
            continue;
        }
        if nonblocking {
            return if got > 0 { Ok(stream_received(got)) } else { Err(Errno::EAGAIN) };
        }
        if let Err(e) = wait_for_ring(p, socket, ring, asked, deadline) {
            return if got > 0 { Ok(stream_received(got)) } else { Err(e) };
        }
    }
}

/// Refill: the VMM reads the socket into the ring again and, if the ring is empty, up to
/// `max - got` of the stream's next bytes straight into the bounce buffer, which go to the
/// iovecs at `got` (or nowhere, `discard`). How many came that way.
fn refill_into(
    p: &mut Process,
    socket: &InetSocket,
    bounce: &mut Bounce,
    vecs: &[(u64, u64)],
    got: u64,
    max: u64,
    discard: bool,
) -> Result<u64, Errno> {
    let want = (max - got).min(BOUNCE_SIZE as u64) as usize;
    let chunk = bounce.chunk(want);
    let mut call = call_for(NetOp::Refill);
    if want > 0 {
        call.chunks_gpa = crate::hypercall::gpa_of(&chunk as *const MemoryChunk as u64);
        call.chunk_count = 1;
    }
    let direct = (call_unlocked(p, socket, &mut call)? as usize).min(want);
    if !discard {
        copy_to_user(p, vecs, got, &bounce.bytes()[..direct])?;
    }
    Ok(direct as u64)
}

/// Waits until the ring holds bytes, its end or a stall, or (`asked` not yet) the slot shows
/// a hang-up; `EAGAIN` once `deadline` passes.
fn wait_for_ring(
    p: &mut Process,
    socket: &InetSocket,
    ring: &RxRing,
    asked: bool,
    deadline: Option<u64>,
) -> Result<(), Errno> {
    loop {
        let state = ring.state();
        let hangup = !asked && socket.area().readiness(socket.handle()) & (POLLHUP | POLLERR) != 0;
        if state.readable() || state.stalled() || hangup {
            return Ok(());
        }
        wait(p, false, deadline)?;
    }
}

/// Receives through the VMM (a socket with no ring).
fn recv_direct(
    p: &mut Process,
    file: &OpenFile,
    socket: &InetSocket,
    vecs: &[(u64, u64)],
    flags: u64,
) -> Result<Received, Errno> {
    let max = vecs.iter().map(|v| v.1).sum::<u64>().min(MAX_IO);
    let nonblocking = file.is_nonblocking() || flags & MSG_DONTWAIT != 0;
    let peek = flags & MSG_PEEK != 0;
    let wait_all = flags & MSG_WAITALL != 0 && !peek && socket.kind() == SOCK_STREAM;
    let deadline = deadline(p, socket.options().rcvtimeo_ns);
    for (base, len) in spans(vecs, 0, max) {
        user::write(&mut p.space, base, len)?;
    }
    let mut got = 0u64;
    let mut bounce = Bounce::take();
    loop {
        let ready = u32::from(socket.poll()) & (POLLIN | POLLERR | POLLHUP | POLLRDHUP) != 0;
        let want = (max - got).min(BOUNCE_SIZE as u64) as usize;
        let attempt = if ready {
            let chunk = bounce.chunk(want);
            let mut call = call_for(NetOp::Recv);
            call.flags = (flags & RECV_FLAGS) as u32;
            call.chunks_gpa = crate::hypercall::gpa_of(&chunk as *const MemoryChunk as u64);
            call.chunk_count = 1;
            call_unlocked(p, socket, &mut call).map(|n| (n, call))
        } else {
            Err(Errno::EAGAIN)
        };
        match attempt {
            Ok((n, call)) => {
                // With MSG_TRUNC a datagram's full length may exceed what was copied.
                let copied = n.min(want as u64);
                copy_to_user(p, vecs, got, &bounce.bytes()[..copied as usize])?;
                got += copied;
                let done = !wait_all || n == 0 || got >= max;
                if done {
                    return Ok(Received {
                        result: if wait_all { got as usize } else { n as usize },
                        from: returned_addr(&call).to_vec(),
                        msg_flags: call.arg[0] as u32,
                    });
                }
            }
            Err(Errno::EAGAIN) => {
                if let Err(e) = wait_for(p, socket, POLLIN | POLLRDHUP, nonblocking, deadline) {
                    if got > 0 {
                        return Ok(Received { result: got as usize, from: Vec::new(), msg_flags: 0 });
                    }
                    return Err(e);
                }
            }
            Err(_) if got > 0 => return Ok(Received { result: got as usize, from: Vec::new(), msg_flags: 0 }),
            Err(e) => return Err(e),
        }
    }
}

/// The socket side of read/readv.
pub fn read(p: &mut Process, file: &OpenFile, socket: &InetSocket, vecs: &[(u64, u64)]) -> SysResult {
    recv(p, file, socket, vecs, 0).map(|r| r.result)
}

/// The socket side of write/writev.
pub fn write(p: &mut Process, file: &OpenFile, socket: &InetSocket, vecs: &[(u64, u64)]) -> SysResult {
    send(p, file, socket, vecs, 0, None)
}

/// The destination of sendto/sendmsg: none for NULL or a zero length, and none for a
/// stream socket (Linux ignores it there).
fn destination(p: &mut Process, socket: &InetSocket, addr: u64, len: u64) -> Result<Option<NetCall>, Errno> {
    if addr == 0 || len as u32 == 0 || socket.kind() == SOCK_STREAM {
        return Ok(None);
    }
    call_with_addr(p, NetOp::Send, addr, len).map(Some)
}

/// sendto(fd, buf, len, flags, addr, addrlen).
pub fn sendto(p: &mut Process, file: &OpenFile, socket: &InetSocket, args: [u64; 6]) -> SysResult {
    let [_, buf, len, flags, addr, addrlen] = args;
    let to = destination(p, socket, addr, addrlen)?;
    send(p, file, socket, &[(buf, len.min(MAX_IO))], flags, to)
}

/// recvfrom(fd, buf, len, flags, addr, addrlen).
pub fn recvfrom(p: &mut Process, file: &OpenFile, socket: &InetSocket, args: [u64; 6]) -> SysResult {
    let [_, buf, len, flags, addr, addrlen] = args;
    let received = recv(p, file, socket, &[(buf, len.min(MAX_IO))], flags)?;
    if socket.kind() != SOCK_STREAM {
        write_addr(p, addr, addrlen, &received.from)?;
    }
    Ok(received.result)
}

/// sendmsg(fd, msg, flags).
pub fn sendmsg(p: &mut Process, file: &OpenFile, socket: &InetSocket, msg: u64, flags: u64) -> SysResult {
    let msg = read_msghdr(p, msg)?;
    if msg.control_len != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let vecs = iovecs(p, msg.iov, msg.iov_len)?;
    let to = destination(p, socket, msg.name, u64::from(msg.name_len))?;
    send(p, file, socket, &vecs, flags, to)
}

/// recvmsg(fd, msg, flags): data into the iovecs, the sender into `msg_name`, no control
/// messages, `msg_flags` as the host says.
pub fn recvmsg(p: &mut Process, file: &OpenFile, socket: &InetSocket, msg_addr: u64, flags: u64) -> SysResult {
    let msg = read_msghdr(p, msg_addr)?;
    let vecs = iovecs(p, msg.iov, msg.iov_len)?;
    let received = recv(p, file, socket, &vecs, flags)?;
    let from = if socket.kind() == SOCK_STREAM { &[][..] } else { &received.from[..] };
    if msg.name != 0 {
        let count = (msg.name_len as usize).min(from.len());
        user::copy_out(&mut p.space, msg.name, &from[..count])?;
    }
    user::write_u32(&mut p.space, msg_addr + 8, if msg.name != 0 { from.len() as u32 } else { 0 })?;
    user::write_u64(&mut p.space, msg_addr + 40, 0)?;
    user::write_u32(&mut p.space, msg_addr + 48, received.msg_flags)?;
    Ok(received.result)
}

// ---------------------------------------------------------------- options

/// setsockopt: the timeouts are the guest's; everything else goes to the VMM, which passes
/// on the options it knows (`ENOPROTOOPT` otherwise).
pub fn setsockopt(p: &mut Process, socket: &InetSocket, level: u64, name: u64, value: u64, len: u64) -> SysResult {
    if level as u32 as u64 == SOL_SOCKET {
        match name as u32 as u64 {
            SO_RCVTIMEO => {
                let v = timeval_arg(p, value, len)?;
                socket.set_options(|o| o.rcvtimeo_ns = v);
                return Ok(0);
            }
            SO_SNDTIMEO => {
                let v = timeval_arg(p, value, len)?;
                socket.set_options(|o| o.sndtimeo_ns = v);
                return Ok(0);
            }
            _ => {}
        }
    }
    let len = len as u32;
    if len as usize > NET_ADDR_MAX {
        return Err(Errno::EINVAL);
    }
    if let Some(option) = deferrable(p, socket, level, name, value, len)? {
        socket.defer_option(option)?;
        return Ok(0);
    }
    let bytes = user::read(&mut p.space, value, u64::from(len))?;
    let mut call = call_for(NetOp::SetOpt);
    call.arg[0] = level as u32 as u64;
    call.arg[1] = name as u32 as u64;
    call.addr[..bytes.len()].copy_from_slice(bytes);
    call.addr_len = len;
    socket.call(&mut call).map(|_| 0)
}

/// `IPPROTO_TCP`.
const IPPROTO_TCP: u64 = 6;
/// `SO_KEEPALIVE`.
const SO_KEEPALIVE: u64 = 9;
/// `TCP_NODELAY`, `TCP_KEEPIDLE`, `TCP_KEEPINTVL`, `TCP_KEEPCNT`.
const TCP_NODELAY: u64 = 1;
const TCP_KEEPIDLE: u64 = 4;
const TCP_KEEPINTVL: u64 = 5;
const TCP_KEEPCNT: u64 = 6;

/// The option, if the guest can answer this `setsockopt` itself and let the VMM set it with
/// the socket's next call: the `int` options servers set on every connection (`TCP_NODELAY`
/// and keep-alive's) on a stream socket, whose values are checked here as Linux checks them
/// (`EINVAL` out of range), so the host cannot refuse them later.
fn deferrable(
    p: &mut Process,
    socket: &InetSocket,
    level: u64,
    name: u64,
    value: u64,
    len: u32,
) -> Result<Option<NetOption>, Errno> {
    let (level, name) = (level as u32 as u64, name as u32 as u64);
    let range = match (level, name) {
        (SOL_SOCKET, SO_KEEPALIVE) => i32::MIN..=i32::MAX,
        (IPPROTO_TCP, TCP_NODELAY) if socket.kind() == SOCK_STREAM => i32::MIN..=i32::MAX,
        (IPPROTO_TCP, TCP_KEEPIDLE | TCP_KEEPINTVL) if socket.kind() == SOCK_STREAM => 1..=32767,
        (IPPROTO_TCP, TCP_KEEPCNT) if socket.kind() == SOCK_STREAM => 1..=127,
        _ => return Ok(None),
    };
    if len < 4 {
        return Err(Errno::EINVAL);
    }
    let raw = user::read(&mut p.space, value, 4)?;
    let value = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if !range.contains(&value) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(NetOption { level: level as u32, name: name as u32, value, reserved: 0 }))
}

/// getsockopt: as [`setsockopt`]; the value is cut to `*len` and `*len` set to its length.
pub fn getsockopt(p: &mut Process, socket: &InetSocket, level: u64, name: u64, value: u64, len_addr: u64) -> SysResult {
    socket.flush();
    let raw_len = user::read(&mut p.space, len_addr, 4)?;
    let room = i32::from_le_bytes([raw_len[0], raw_len[1], raw_len[2], raw_len[3]]);
    let room = usize::try_from(room).map_err(|_| Errno::EINVAL)?;
    let timeval = |ns: u64| {
        let mut out = (ns / 1_000_000_000).to_le_bytes().to_vec();
        out.extend_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
        out
    };
    let local = match (level as u32 as u64, name as u32 as u64) {
        (SOL_SOCKET, SO_ERROR) => socket.take_pending_error().map(|e| e.code().to_le_bytes().to_vec()),
        (SOL_SOCKET, SO_RCVTIMEO) => Some(timeval(socket.options().rcvtimeo_ns)),
        (SOL_SOCKET, SO_SNDTIMEO) => Some(timeval(socket.options().sndtimeo_ns)),
        _ => None,
    };
    let bytes = match local {
        Some(bytes) => bytes,
        None => {
            let mut call = call_for(NetOp::GetOpt);
            call.arg[0] = level as u32 as u64;
            call.arg[1] = name as u32 as u64;
            call.addr_len = room.min(NET_ADDR_MAX) as u32;
            socket.call(&mut call)?;
            returned_addr(&call).to_vec()
        }
    };
    let count = room.min(bytes.len());
    user::copy_out(&mut p.space, value, &bytes[..count])?;
    user::write_u32(&mut p.space, len_addr, count as u32)?;
    Ok(0)
}
