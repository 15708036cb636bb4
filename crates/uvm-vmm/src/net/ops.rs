//! The Net operations, one function each (options are in `options`), and the routing rule
//! they share: where a guest destination leads on the host (a VM socket's private host port,
//! the host's loopback through the gateway address, or an outside address the egress policy
//! allows). No call ever waits: every host socket is non-blocking and every transfer carries
//! `MSG_DONTWAIT`.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;

use uvm_abi::hypercall::MemoryChunk;
use uvm_abi::net::{
    NetCall, NetOp, ACCEPT_LOCAL_AT, NET_ADDR_MAX, NET_MAX_CHUNKS, NET_MAX_IO, NET_MAX_OPTIONS, POLLIN, POLLOUT,
};
use uvm_net::Proto;

use super::addr::{self, Destination, Family, SockAddr, HOST_LOOPBACK};
use super::area::Area;
use super::options;
use super::ports::{PortEntry, PortTable};
use super::published::Published;
use super::ring::{RingPlace, RxRing};
use super::sys::{self, Errno};
use super::table::GuestSocket;
use super::txring::TxRing;
use super::view::{guest_view, local_view_towards, loopback_view, own_socket, own_view_ip};
use super::{Net, State};
use crate::host_io::HostIo;
use crate::hypercall::VcpuOps;
use crate::memory::GuestMemory;

/// How many unwanted connections or datagrams one Accept or Recv drops before it answers
/// `EAGAIN` (the readiness bit then says to try again).
const MAX_STRAYS: usize = 64;
/// The largest listen backlog passed on.
const MAX_BACKLOG: i64 = 4096;
/// `MSG_*` flags a Send passes on.
const SEND_FLAGS: i32 = libc::MSG_OOB | libc::MSG_MORE | libc::MSG_EOR;
/// `MSG_*` flags a Recv passes on (`MSG_WAITALL` is dropped: the VMM never waits).
const RECV_FLAGS: i32 = libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_OOB;

fn err<T>(errno: i32) -> Result<T, Errno> {
    Err(Errno(errno))
}

/// Where a guest destination leads on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// To this host address.
    Host(SocketAddr, Destination),
    /// To a guest port no socket holds.
    Nowhere,
    /// Outside the VM, and the egress policy does not allow it.
    Denied,
}

impl State {
    /// The socket of `handle` and its protocol's port table.
    pub(super) fn socket_and_ports(&mut self, handle: u32) -> Result<(&mut GuestSocket, &mut PortTable), Errno> {
        let socket = self.handles.get_mut(handle).ok_or(Errno(libc::EBADF))?;
        let ports = match socket.proto {
            Proto::Tcp => &mut self.tcp,
            Proto::Udp => &mut self.udp,
        };
        Ok((socket, ports))
    }

    pub(super) fn socket(&self, handle: u32) -> Result<&GuestSocket, Errno> {
        self.handles.get(handle).ok_or(Errno(libc::EBADF))
    }
}

impl Net {
    /// Serves one call: its result (`>= 0`, or `-errno`).
    pub(super) fn dispatch(
        &self,
        call: &mut NetCall,
        memory: &GuestMemory,
        io: &dyn HostIo,
        vcpu: &dyn VcpuOps,
    ) -> i64 {
        let Some(op) = NetOp::from_raw(call.op) else { return Errno(libc::ENOSYS).result() };
        if op == NetOp::Setup {
            return self.setup(call, memory, vcpu).unwrap_or_else(Errno::result);
        }
        let Some(&area) = self.area.get() else { return Errno(libc::EINVAL).result() };
        let mut state = self.lock();
        let st = &mut *state;
        if !matches!(op, NetOp::Socket | NetOp::Close | NetOp::Flush) {
            set_deferred_options(st, call);
        }
        let result = match op {
            NetOp::Setup => Ok(0),
            NetOp::Socket => self.socket(st, area, memory, call),
            NetOp::Bind => self.bind(st, call),
            NetOp::Listen => listen(st, call),
            NetOp::Accept => self.accept(st, area, memory, vcpu, call),
            NetOp::Connect => self.connect(st, io, call),
            NetOp::Send => self.send(st, io, area, memory, vcpu, call),
            NetOp::Recv => self.recv(st, memory, call),
            NetOp::Shutdown => self.shutdown(st, area, memory, vcpu, call),
            NetOp::Close => self.close(st, area, memory, call.handle),
            NetOp::GetSockName => local_name(st, call),
            NetOp::GetPeerName => peer_name(st, call),
            NetOp::SetOpt => options::set(st, call),
            NetOp::GetOpt => options::get(st, call),
            NetOp::Pending => pending(st, call),
            NetOp::RxRing => self.register_ring(st, area, memory, vcpu, call),
            NetOp::Refill => self.refill(st, area, memory, vcpu, call),
            NetOp::Flush => self.flush(st, area, memory, vcpu),
        };
        let mut wake = false;
        if !matches!(op, NetOp::Socket | NetOp::Close | NetOp::Flush) {
            if let Some(socket) = st.handles.get(call.handle) {
                wake |= area.refresh(memory, call.handle, || sys::poll_now(&socket.fd));
            }
        }
        // The host's loopback delivered to the VM's other socket before the call returned;
        // its slot (and ring) show it now rather than when the poller gets to it.
        if let Some(touched) = st.touched.take() {
            self.fill_and_announce(area, memory, vcpu, touched);
            if let Some(socket) = st.handles.get(touched) {
                wake |= area.refresh(memory, touched, || sys::poll_now(&socket.fd));
            }
        }
        if wake {
            self.wake_waiters(area, memory, vcpu);
        }
        result.unwrap_or_else(Errno::result)
    }

    fn setup(&self, call: &NetCall, memory: &GuestMemory, vcpu: &dyn VcpuOps) -> Result<i64, Errno> {
        let area = Area::new(memory, call.arg[0]).ok_or(Errno(libc::EINVAL))?;
        if self.area.get().is_some() {
            return err(libc::EBUSY);
        }
        if !self.poller_started.swap(true, std::sync::atomic::Ordering::SeqCst) && !vcpu.start_net_poller() {
            self.poller_started.store(false, std::sync::atomic::Ordering::SeqCst);
            return err(libc::EAGAIN);
        }
        self.area.set(area).map_err(|_| Errno(libc::EBUSY))?;
        Ok(0)
    }

    fn socket(&self, st: &mut State, area: Area, memory: &GuestMemory, call: &NetCall) -> Result<i64, Errno> {
        let family = Family::from_raw(call.arg[0]).ok_or(Errno(libc::EAFNOSUPPORT))?;
        let proto = match call.arg[1] {
            1 => Proto::Tcp,
            2 => Proto::Udp,
            _ => return err(libc::ESOCKTNOSUPPORT),
        };
        match (proto, call.arg[2]) {
            (_, 0) | (Proto::Tcp, 6) | (Proto::Udp, 17) => {}
            _ => return err(libc::EPROTONOSUPPORT),
        }
        if !st.handles.has_room() {
            return err(libc::ENFILE);
        }
        let (fd, host_family) = host_socket(family, proto == Proto::Tcp)?;
        self.install(st, area, memory, GuestSocket::new(fd, family, host_family, proto))
    }

    /// Gives `socket` a handle, a fresh slot and a place in the poller's epoll.
    fn install(&self, st: &mut State, area: Area, memory: &GuestMemory, socket: GuestSocket) -> Result<i64, Errno> {
        let handle = st.handles.insert(socket).ok_or(Errno(libc::ENFILE))?;
        let serial = self.serials[handle as usize].fetch_add(1, std::sync::atomic::Ordering::SeqCst).wrapping_add(1);
        area.reset(memory, handle);
        let socket = st.socket(handle)?;
        if let Err(e) = self.epoll.add_socket(&socket.fd, epoll_tag(handle, serial)) {
            st.handles.remove(handle);
            return Err(e);
        }
        area.refresh(memory, handle, || sys::poll_now(&socket.fd));
        Ok(i64::from(handle))
    }

    fn published_for(&self, proto: Proto, guest_port: u16) -> Option<&Published> {
        self.published.iter().find(|p| p.mapping.proto == proto && p.mapping.guest_port == guest_port)
    }

    fn bind(&self, st: &mut State, call: &NetCall) -> Result<i64, Errno> {
        let handle = call.handle;
        let (socket, ports) = st.socket_and_ports(handle)?;
        let addr = guest_inet_addr(call, socket)?;
        if socket.port.is_some() {
            return err(libc::EINVAL);
        }
        let ip = addr.ip();
        if !addr::is_guest_local(ip) {
            return err(libc::EADDRNOTAVAIL);
        }
        let port = match addr.port() {
            0 => ports.pick_ephemeral().ok_or(Errno(libc::EADDRINUSE))?,
            p if ports.is_free(p) => p,
            _ => return err(libc::EADDRINUSE),
        };
        let any_address = addr::is_unspecified(ip) || addr::canonical_ip(ip) == addr::guest_ip();
        // A published guest port is published whatever guest address the app binds (apps
        // that listen on 127.0.0.1 by default are reachable through `-p` too).
        let host = match self.published_for(socket.proto, port) {
            Some(published) => {
                self.adopt_published(socket, handle, published)?;
                Some(published.reach)
            }
            // A datagram socket receives as soon as it is bound; a stream socket gets its
            // host address when it listens or connects.
            None if !socket.is_stream() => Some(bind_host(socket, any_address)?),
            None => None,
        };
        ports.insert(port, port_entry(socket, handle, host, ip));
        socket.port = Some(port);
        socket.holds_port = true;
        socket.bound_ip = Some(ip);
        Ok(0)
    }

    /// Puts a duplicate of the published port's socket behind `socket` (the original stays
    /// with the VMM, so the port stays bound when the app closes its socket).
    fn adopt_published(&self, socket: &mut GuestSocket, handle: u32, published: &Published) -> Result<(), Errno> {
        let fd = sys::dup(&published.socket)?;
        let serial = self.serials[handle as usize].load(std::sync::atomic::Ordering::SeqCst);
        self.epoll.remove(&socket.fd);
        self.epoll.add_socket(&fd, epoll_tag(handle, serial))?;
        socket.fd = std::sync::Arc::new(fd);
        socket.host_family = published.family;
        socket.published = true;
        socket.host_bound = true;
        Ok(())
    }

    fn accept(
        &self,
        st: &mut State,
        area: Area,
        memory: &GuestMemory,
        vcpu: &dyn VcpuOps,
        call: &mut NetCall,
    ) -> Result<i64, Errno> {
        let handle = call.handle;
        let ring = RingPlace::of_call(memory, call.arg[2], call.arg[3])?;
        let tx = match ring {
            Some(_) => RingPlace::of_call(memory, call.arg[0], call.arg[1])?,
            None => None,
        };
        for _ in 0..MAX_STRAYS {
            if !st.handles.has_room() {
                return err(libc::ENFILE);
            }
            let listener = st.socket(handle)?;
            let (fd, peer) = sys::accept(&listener.fd)?;
            let peer = peer.map(addr::canonical);
            let own_peer = peer.and_then(|p| own_socket(&st.tcp, p)).copied();
            if !listener.published && own_peer.is_none() {
                // Something else on the host found this private port: not for the app.
                drop(fd);
                continue;
            }
            let family = listener.family;
            let peer_view = peer.map(|p| guest_view(&st.tcp, p, family));
            let local_view = match own_peer {
                Some(entry) => loopback_view(entry.view_ip, family),
                None => listener.bound_ip.filter(|ip| !addr::is_unspecified(*ip)).unwrap_or_else(addr::guest_ip),
            };
            let mut socket = GuestSocket::new(fd, family, listener.host_family, Proto::Tcp);
            socket.port = listener.port;
            socket.bound_ip = listener.bound_ip;
            socket.host_bound = true;
            socket.local_view = Some(local_view);
            socket.peer_view = peer_view;
            let local = addr::in_family(SocketAddr::new(local_view, listener.port.unwrap_or(0)), family);
            let client = own_peer.map(|entry| entry.handle);
            socket.vm_peer = client;
            let new = self.install(st, area, memory, socket)?;
            if let Some(client) = client.and_then(|h| st.handles.get_mut(h)) {
                client.vm_peer = Some(new as u32);
            }
            if let Some(place) = ring {
                self.give_ring(st, area, memory, vcpu, new as u32, place, tx)?;
            }
            let (bytes, len) = addr::encode(&local);
            call.addr[ACCEPT_LOCAL_AT..ACCEPT_LOCAL_AT + len].copy_from_slice(&bytes[..len]);
            call.arg[1] = len as u64;
            put_addr(call, peer_view.map(|p| addr::in_family(p, family)));
            return Ok(new);
        }
        err(libc::EAGAIN)
    }

    fn connect(&self, st: &mut State, io: &dyn HostIo, call: &NetCall) -> Result<i64, Errno> {
        let handle = call.handle;
        let (socket, ports) = st.socket_and_ports(handle)?;
        let dest = match guest_addr(call)? {
            SockAddr::Unspec => {
                socket.datagram_peer = None;
                socket.peer_view = None;
                return sys::disconnect(&socket.fd).map(|()| 0);
            }
            SockAddr::Inet(a) => check_family(a, socket)?,
        };
        let listener = (socket.is_stream() && addr::destination(dest.ip()) == Destination::Guest)
            .then(|| ports.get(dest.port()).map(|entry| entry.handle))
            .flatten();
        let connected = self.route_connect(ports, socket, io, handle, dest);
        st.touched = listener.filter(|_| matches!(connected, Ok(_) | Err(Errno(libc::EINPROGRESS))));
        connected
    }

    /// Connect's second half: `socket` to `dest`, as the routing rule says.
    fn route_connect(
        &self,
        ports: &mut PortTable,
        socket: &mut GuestSocket,
        io: &dyn HostIo,
        handle: u32,
        dest: SocketAddr,
    ) -> Result<i64, Errno> {
        match self.route(ports, socket, dest) {
            Route::Denied => {
                self.trace_denied(io, "connect to", dest);
                err(libc::ECONNREFUSED)
            }
            Route::Nowhere if socket.is_stream() => err(libc::ECONNREFUSED),
            Route::Nowhere => {
                // Nothing holds that guest port (yet): datagrams to it are dropped.
                ensure_datagram_bound(socket, ports, handle)?;
                let _ = sys::disconnect(&socket.fd);
                socket.datagram_peer = Some(dest);
                socket.peer_view = Some(dest);
                Ok(0)
            }
            Route::Host(target, kind) => {
                if !socket.host_bound {
                    if let Some(port) = socket.port.filter(|_| socket.holds_port) {
                        let host = bind_host(socket, kind == Destination::Outside)?;
                        ports.set_host(port, host);
                    }
                }
                let target = addr::for_host_family(target, socket.host_family).ok_or(Errno(libc::ENETUNREACH))?;
                let result = sys::connect(&socket.fd, &target);
                if matches!(result, Ok(()) | Err(Errno(libc::EINPROGRESS))) {
                    let view = local_view_towards(dest, kind);
                    if socket.bound_ip.is_none_or(addr::is_unspecified) {
                        socket.local_view = Some(view);
                    }
                    socket.peer_view = Some(dest);
                    if !socket.is_stream() {
                        socket.datagram_peer = Some(dest);
                    }
                    note_auto_bind(socket, ports, handle, kind, view);
                }
                result.map(|()| 0)
            }
        }
    }

    /// Where `dest` (a guest destination of `socket`) leads.
    fn route(&self, ports: &PortTable, socket: &GuestSocket, dest: SocketAddr) -> Route {
        let dest = addr::canonical(dest);
        let port = dest.port();
        let answering = socket.reply_peers.contains(&dest);
        match addr::destination(dest.ip()) {
            Destination::Guest => match ports.get(port).filter(|e| e.reachable_at(dest.ip())).and_then(|e| e.host) {
                Some(host) => Route::Host(host, Destination::Guest),
                None => Route::Nowhere,
            },
            Destination::HostGateway if answering || self.egress.allows(addr::gateway_ip(), port) => {
                Route::Host(SocketAddr::new(HOST_LOOPBACK, port), Destination::HostGateway)
            }
            Destination::Outside if answering || self.egress.allows(dest.ip(), port) => {
                Route::Host(dest, Destination::Outside)
            }
            Destination::Resolver if port == 53 && (answering || self.egress.allows(addr::resolver_ip(), port)) => {
                match self.resolver() {
                    Some(resolver) => Route::Host(resolver, Destination::Outside),
                    None => Route::Nowhere,
                }
            }
            Destination::Resolver if port != 53 => Route::Nowhere,
            Destination::HostGateway | Destination::Outside | Destination::Resolver => Route::Denied,
        }
    }

    fn trace_denied(&self, io: &dyn HostIo, what: &str, dest: SocketAddr) {
        if self.trace {
            let dest = addr::canonical(dest);
            let rule =
                if addr::destination(dest.ip()) == Destination::Resolver { "dns".to_owned() } else { dest.to_string() };
            io.diagnostic(&format!(
                "[uvm trace] net: {what} {dest} denied by the egress policy (allow it with --egress {rule} or [network] egress in the manifest)"
            ));
        }
    }

    fn send(
        &self,
        st: &mut State,
        io: &dyn HostIo,
        area: Area,
        memory: &GuestMemory,
        vcpu: &dyn VcpuOps,
        call: &NetCall,
    ) -> Result<i64, Errno> {
        let iovecs = chunk_iovecs(memory, call)?;
        let total: usize = iovecs.iter().map(|v| v.iov_len).sum();
        let flags = (call.flags as i32 & SEND_FLAGS) | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
        let handle = call.handle;
        let (socket, ports) = st.socket_and_ports(handle)?;
        if socket.is_stream() {
            let vm_peer = socket.vm_peer;
            // A transmit ring's bytes go first: nothing overtakes them.
            let drained = self.tx.drain(memory, handle, None);
            if drained.freed {
                // Room in a ring that was full: its other senders go on now.
                area.note_event(memory, handle, POLLOUT);
                self.wake_waiters(area, memory, vcpu);
            }
            let sent = if drained.pending {
                err(libc::EAGAIN)
            } else {
                sys::send(&socket.fd, &iovecs, None, flags).map(|n| n as i64)
            };
            st.touched = vm_peer.filter(|_| sent.is_ok() || drained.moved > 0);
            return sent;
        }
        let dest = if call.addr_len > 0 { Some(guest_inet_addr(call, socket)?) } else { socket.datagram_peer };
        let Some(dest) = dest else {
            return sys::send(&socket.fd, &iovecs, None, flags).map(|n| n as i64);
        };
        let receiver = (addr::destination(dest.ip()) == Destination::Guest)
            .then(|| ports.get(dest.port()).map(|entry| entry.handle))
            .flatten();
        let sent = match self.route(ports, socket, dest) {
            Route::Denied => {
                self.trace_denied(io, "send to", dest);
                err(libc::EACCES)
            }
            // Linux drops a datagram to a port nobody holds, too.
            Route::Nowhere => Ok(total as i64),
            Route::Host(target, _) => {
                ensure_datagram_bound(socket, ports, handle)?;
                let target = addr::for_host_family(target, socket.host_family).ok_or(Errno(libc::ENETUNREACH))?;
                sys::send(&socket.fd, &iovecs, Some(&target), flags).map(|n| n as i64)
            }
        };
        st.touched = receiver.filter(|_| sent.is_ok());
        sent
    }

    fn recv(&self, st: &mut State, memory: &GuestMemory, call: &mut NetCall) -> Result<i64, Errno> {
        if self.rings.has(call.handle) {
            // Its ring holds the stream: reading around it would reorder it.
            return err(libc::EINVAL);
        }
        let iovecs = chunk_iovecs(memory, call)?;
        let flags = (call.flags as i32 & RECV_FLAGS) | libc::MSG_DONTWAIT;
        let (socket, ports) = st.socket_and_ports(call.handle)?;
        for _ in 0..MAX_STRAYS {
            let received = sys::receive(&socket.fd, &iovecs, flags)?;
            let from = received.from.map(addr::canonical);
            let view = from.map(|f| match self.resolver() {
                // The host's resolver answers as the guest's.
                Some(resolver) if addr::canonical(resolver) == f => {
                    addr::in_family(SocketAddr::new(addr::resolver_ip(), 53), socket.family)
                }
                _ => guest_view(ports, f, socket.family),
            });
            if let (false, Some(from), Some(view)) = (socket.is_stream(), from, view) {
                if !self.may_receive(socket, ports, from, view) {
                    if flags & libc::MSG_PEEK != 0 {
                        sys::discard_datagram(&socket.fd)?;
                    }
                    continue;
                }
                if socket.published && own_socket(ports, from).is_none() {
                    socket.remember_reply_peer(addr::canonical(view));
                }
            }
            call.arg[0] = u64::from(received.flags as u32);
            put_addr(call, view.filter(|_| !socket.is_stream()));
            return Ok(received.len as i64);
        }
        err(libc::EAGAIN)
    }

    /// Whether a datagram from host address `from` (`view` inside the VM) may reach
    /// `socket`: anyone may reach a published port; an unpublished socket hears only the VM's
    /// own sockets and the destinations the egress policy lets it reach.
    fn may_receive(&self, socket: &GuestSocket, ports: &PortTable, from: SocketAddr, view: SocketAddr) -> bool {
        if socket.published || own_socket(ports, from).is_some() {
            return true;
        }
        let view = addr::canonical(view);
        self.egress.allows(view.ip(), view.port())
    }

    fn close(&self, st: &mut State, area: Area, memory: &GuestMemory, handle: u32) -> Result<i64, Errno> {
        st.socket(handle)?;
        // Before the call returns (the guest then frees the rings' memory); the transmit
        // ring's bytes still go out, and its host socket stays open until they have.
        self.rings.forget(handle);
        if self.tx.close(memory, handle) {
            self.poke_poller();
        }
        let socket = st.handles.remove(handle).ok_or(Errno(libc::EBADF))?;
        st.touched = socket.vm_peer;
        self.epoll.remove(&socket.fd);
        if let Some(port) = socket.port.filter(|_| socket.holds_port) {
            st.ports(socket.proto).release(port, handle);
        }
        area.clear(memory, handle);
        Ok(0)
    }
}

/// Receive rings: registration, refills, and fills made by a vCPU's call.
impl Net {
    /// RxRing: a ring for a connected stream socket.
    fn register_ring(
        &self,
        st: &mut State,
        area: Area,
        memory: &GuestMemory,
        vcpu: &dyn VcpuOps,
        call: &NetCall,
    ) -> Result<i64, Errno> {
        let place = RingPlace::of_call(memory, call.arg[2], call.arg[3])?.ok_or(Errno(libc::EINVAL))?;
        let tx = RingPlace::of_call(memory, call.arg[0], call.arg[1])?;
        let socket = st.socket(call.handle)?;
        if !socket.is_stream() || self.rings.has(call.handle) {
            return err(libc::EINVAL);
        }
        match sys::peer_addr(&socket.fd) {
            Ok(Some(_)) => {}
            Ok(None) | Err(Errno(libc::ENOTCONN)) => return err(libc::ENOTCONN),
            Err(e) => return Err(e),
        }
        self.give_ring(st, area, memory, vcpu, call.handle, place, tx).map(|()| 0)
    }

    /// Gives `handle` (a connected stream socket's) the receive ring at `place`, filled with
    /// what the host socket already holds, and the transmit ring at `tx`.
    #[allow(clippy::too_many_arguments)]
    fn give_ring(
        &self,
        st: &State,
        area: Area,
        memory: &GuestMemory,
        vcpu: &dyn VcpuOps,
        handle: u32,
        place: RingPlace,
        tx: Option<RingPlace>,
    ) -> Result<(), Errno> {
        let socket = st.socket(handle)?;
        let serial = self.serials[handle as usize].load(std::sync::atomic::Ordering::SeqCst);
        if let Some(tx) = tx {
            self.tx.register(handle, TxRing::new(memory, tx, socket.fd.clone(), serial));
            self.poke_poller();
        }
        let ring = RxRing::new(memory, place, socket.fd.clone(), serial);
        if self.rings.register(memory, handle, ring) {
            self.announce(area, memory, vcpu, handle);
        }
        Ok(())
    }

    /// Refill: the guest made room in a stalled ring, or wants the socket's next bytes.
    fn refill(
        &self,
        st: &mut State,
        area: Area,
        memory: &GuestMemory,
        vcpu: &dyn VcpuOps,
        call: &NetCall,
    ) -> Result<i64, Errno> {
        st.socket(call.handle)?;
        let iovecs = chunk_iovecs(memory, call)?;
        let Some(mut slot) = self.rings.lock(call.handle) else { return err(libc::EBADF) };
        let ring = slot.as_mut().ok_or(Errno(libc::EINVAL))?;
        let (direct, changed) = ring.refill(memory, &iovecs);
        drop(slot);
        if changed {
            self.announce(area, memory, vcpu, call.handle);
        }
        Ok(direct as i64)
    }

    /// The same as a Flush call, for a Park that asks for it first.
    pub(super) fn flush_rings(&self, memory: &GuestMemory, vcpu: &dyn VcpuOps) {
        let Some(&area) = self.area.get() else { return };
        let mut state = self.lock();
        let _ = self.flush(&mut state, area, memory, vcpu);
    }

    /// Flush: writes out every transmit ring that holds bytes. The VM's own peers of the
    /// sockets written hear of it at once; room made in a full ring wakes its waiters.
    fn flush(&self, st: &mut State, area: Area, memory: &GuestMemory, vcpu: &dyn VcpuOps) -> Result<i64, Errno> {
        area.take_tx_pending(memory);
        let mut wake = false;
        for (handle, drained) in self.tx.drain_all(memory) {
            if drained.freed {
                area.note_event(memory, handle, POLLOUT);
                wake = true;
            }
            if drained.moved > 0 {
                if let Some(peer) = st.handles.get(handle).and_then(|s| s.vm_peer) {
                    self.fill_and_announce(area, memory, vcpu, peer);
                    if let Some(socket) = st.handles.get(peer) {
                        wake |= area.refresh(memory, peer, || sys::poll_now(&socket.fd));
                    }
                }
            }
        }
        if wake {
            self.wake_waiters(area, memory, vcpu);
        }
        Ok(0)
    }

    /// Fills `handle`'s ring, if it has one, and announces what arrived.
    fn fill_and_announce(&self, area: Area, memory: &GuestMemory, vcpu: &dyn VcpuOps, handle: u32) {
        if self.rings.fill(memory, handle, None) {
            self.announce(area, memory, vcpu, handle);
        }
    }

    /// `handle`'s ring changed outside the poller: its input count and the generation move and
    /// the waiting vCPUs are unparked, as the poller would.
    fn announce(&self, area: Area, memory: &GuestMemory, vcpu: &dyn VcpuOps, handle: u32) {
        area.note_event(memory, handle, POLLIN);
        self.wake_waiters(area, memory, vcpu);
    }

    /// Bumps the generation and unparks the vCPUs waiting for a socket.
    fn wake_waiters(&self, area: Area, memory: &GuestMemory, vcpu: &dyn VcpuOps) {
        let waiters = area.publish_generation(memory);
        for index in (0..64).filter(|i| waiters & (1u64 << i) != 0) {
            vcpu.unpark(index);
        }
    }

    /// Shutdown; a ringed socket's ring then holds what the host socket says (`SHUT_RD`: the
    /// end of the stream, at once as on Linux).
    fn shutdown(
        &self,
        st: &mut State,
        area: Area,
        memory: &GuestMemory,
        vcpu: &dyn VcpuOps,
        call: &NetCall,
    ) -> Result<i64, Errno> {
        let mut slot = self.tx.lock(call.handle);
        let ring = slot.as_deref_mut().and_then(Option::as_mut);
        let ringed = ring.is_some();
        let done = shutdown(st, call, |fd, how| match ring {
            Some(ring) => ring.shutdown(memory, how),
            None => sys::shutdown(fd, how),
        })?;
        drop(slot);
        if ringed && call.arg[0] != libc::SHUT_RD as u64 {
            // Senders blocked on the full ring end now (with EPIPE), as Linux wakes them.
            area.note_event(memory, call.handle, POLLOUT);
            self.wake_waiters(area, memory, vcpu);
        }
        self.fill_and_announce(area, memory, vcpu, call.handle);
        Ok(done)
    }
}

fn epoll_tag(handle: u32, serial: u32) -> u64 {
    u64::from(handle) | (u64::from(serial) << 32)
}

/// A host socket for a guest socket of `family`: the same family, dual-stack for IPv6 (the
/// VM's loopback is IPv4 on the host); IPv4 when the host has no IPv6.
fn host_socket(family: Family, stream: bool) -> Result<(OwnedFd, Family), Errno> {
    if family == Family::V6 {
        match sys::socket(true, stream) {
            Ok(fd) => {
                sys::set_int_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
                return Ok((fd, Family::V6));
            }
            Err(Errno(libc::EAFNOSUPPORT)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((sys::socket(false, stream)?, Family::V4))
}

/// Binds `socket`'s host socket to a private port: on the host's loopback, or on every
/// address when it must reach (or hear from) outside. Returns where the VM's own sockets
/// reach it.
fn bind_host(socket: &mut GuestSocket, every_address: bool) -> Result<SocketAddr, Errno> {
    let ip = if every_address { socket.host_family.unspecified() } else { HOST_LOOPBACK };
    let target = addr::for_host_family(SocketAddr::new(ip, 0), socket.host_family).ok_or(Errno(libc::EAFNOSUPPORT))?;
    sys::bind(&socket.fd, &target)?;
    let local = sys::local_addr(&socket.fd)?.ok_or(Errno(libc::EINVAL))?;
    socket.host_bound = true;
    Ok(SocketAddr::new(HOST_LOOPBACK, local.port()))
}

/// The port-table entry of `socket` (handle `handle`) bound to `ip`, reached on the host at
/// `host`.
fn port_entry(socket: &GuestSocket, handle: u32, host: Option<SocketAddr>, ip: IpAddr) -> PortEntry {
    PortEntry {
        handle,
        host,
        view_ip: own_view_ip(ip, socket.family),
        bound: addr::canonical_ip(ip),
        dual_stack: socket.family == Family::V6 && !socket.v6only,
    }
}

/// Binds an unbound datagram socket before its first send (as Linux does, on every address),
/// recording its port so that its peers in the VM see it.
fn ensure_datagram_bound(socket: &mut GuestSocket, ports: &mut PortTable, handle: u32) -> Result<(), Errno> {
    if socket.port.is_some() || socket.host_bound {
        return Ok(());
    }
    let host = bind_host(socket, true)?;
    let port =
        if ports.is_free(host.port()) { host.port() } else { ports.pick_ephemeral().ok_or(Errno(libc::EAGAIN))? };
    ports.insert(port, port_entry(socket, handle, Some(host), socket.family.unspecified()));
    socket.port = Some(port);
    socket.holds_port = true;
    socket.bound_ip = Some(socket.family.unspecified());
    Ok(())
}

/// After a connect, records the port the host picked for an unbound socket: a connection
/// inside the VM gets a guest port (the host port when free), so that its peer sees it.
fn note_auto_bind(socket: &mut GuestSocket, ports: &mut PortTable, handle: u32, kind: Destination, view_ip: IpAddr) {
    socket.host_bound = true;
    if socket.port.is_some() {
        return;
    }
    let Ok(Some(local)) = sys::local_addr(&socket.fd) else { return };
    if local.port() == 0 {
        return;
    }
    if kind != Destination::Guest {
        socket.port = Some(local.port());
        return;
    }
    let port = if ports.is_free(local.port()) { Some(local.port()) } else { ports.pick_ephemeral() };
    if let Some(port) = port {
        let host = Some(SocketAddr::new(HOST_LOOPBACK, local.port()));
        ports.insert(port, PortEntry { view_ip, ..port_entry(socket, handle, host, socket.family.unspecified()) });
        socket.port = Some(port);
        socket.holds_port = true;
    }
}

/// The call's address.
fn guest_addr(call: &NetCall) -> Result<SockAddr, Errno> {
    let len = call.addr_len as usize;
    if len > NET_ADDR_MAX {
        return err(libc::EINVAL);
    }
    addr::decode(&call.addr[..len])
}

/// The call's address, which must be an IP address `socket` can use.
fn guest_inet_addr(call: &NetCall, socket: &GuestSocket) -> Result<SocketAddr, Errno> {
    match guest_addr(call)? {
        SockAddr::Unspec => err(libc::EAFNOSUPPORT),
        SockAddr::Inet(a) => check_family(a, socket),
    }
}

/// `addr` if a socket of `socket`'s family and type takes it (an IPv6 datagram socket also
/// takes IPv4 addresses, as on Linux).
fn check_family(addr: SocketAddr, socket: &GuestSocket) -> Result<SocketAddr, Errno> {
    match (socket.family, addr) {
        (Family::V4, SocketAddr::V4(_)) | (Family::V6, SocketAddr::V6(_)) => Ok(addr),
        (Family::V6, SocketAddr::V4(_)) if !socket.is_stream() && !socket.v6only => Ok(addr),
        _ => err(libc::EAFNOSUPPORT),
    }
}

/// Sets the options the guest deferred (`NetCall::options`) on the call's handle, as SetOpt
/// would. The guest checked their values as Linux does before it answered the app, so a
/// refusal here has no one to go to: it is dropped, and the option stays as it was.
fn set_deferred_options(st: &mut State, call: &NetCall) {
    let count = (call.option_count as usize).min(NET_MAX_OPTIONS);
    for option in &call.options[..count] {
        let mut set = NetCall { handle: call.handle, addr_len: 4, ..NetCall::default() };
        set.arg[0] = u64::from(option.level);
        set.arg[1] = u64::from(option.name);
        set.addr[..4].copy_from_slice(&option.value.to_ne_bytes());
        let _ = options::set(st, &set);
    }
}

/// Writes `addr` into the call (or none).
fn put_addr(call: &mut NetCall, addr: Option<SocketAddr>) {
    match addr {
        Some(a) => {
            let (bytes, len) = addr::encode(&a);
            call.addr[..len].copy_from_slice(&bytes[..len]);
            call.addr_len = len as u32;
        }
        None => call.addr_len = 0,
    }
}

/// Host iovecs for the call's chunks (in guest RAM). `EINVAL` for too many chunks or bytes,
/// `EFAULT` for a chunk outside RAM.
fn chunk_iovecs(memory: &GuestMemory, call: &NetCall) -> Result<Vec<libc::iovec>, Errno> {
    if call.chunk_count > NET_MAX_CHUNKS {
        return err(libc::EINVAL);
    }
    let mut ranges = Vec::with_capacity(call.chunk_count as usize);
    let mut total: u64 = 0;
    for i in 0..call.chunk_count {
        let at = call.chunks_gpa.checked_add(i * 16).ok_or(Errno(libc::EFAULT))?;
        let chunk: MemoryChunk = memory.read_plain(at).ok_or(Errno(libc::EFAULT))?;
        total = total.checked_add(chunk.len).ok_or(Errno(libc::EINVAL))?;
        if total > NET_MAX_IO {
            return err(libc::EINVAL);
        }
        ranges.push((chunk.gpa, chunk.len));
    }
    memory.ram_iovecs(&ranges, NET_MAX_IO).ok_or(Errno(libc::EFAULT))
}

fn listen(st: &mut State, call: &NetCall) -> Result<i64, Errno> {
    let handle = call.handle;
    let (socket, ports) = st.socket_and_ports(handle)?;
    if !socket.is_stream() {
        return err(libc::EOPNOTSUPP);
    }
    if socket.published {
        // Listening since before boot, with a long backlog.
        return Ok(0);
    }
    let backlog = (call.arg[0] as i64).clamp(0, MAX_BACKLOG) as i32;
    let port = match socket.port {
        Some(port) => port,
        None => {
            // Linux binds an unbound listener to an ephemeral port.
            let port = ports.pick_ephemeral().ok_or(Errno(libc::EADDRINUSE))?;
            ports.insert(port, port_entry(socket, handle, None, socket.family.unspecified()));
            socket.port = Some(port);
            socket.holds_port = true;
            socket.bound_ip = Some(socket.family.unspecified());
            port
        }
    };
    if !socket.host_bound {
        let host = bind_host(socket, false)?;
        ports.set_host(port, host);
    }
    sys::listen(&socket.fd, backlog).map(|()| 0)
}

/// Shutdown of `call.handle`'s socket, done by `act` (on the host socket itself, or through
/// its transmit ring) with the `how` the call names.
fn shutdown(
    st: &mut State,
    call: &NetCall,
    act: impl FnOnce(&OwnedFd, i32) -> Result<(), Errno>,
) -> Result<i64, Errno> {
    let socket = st.socket(call.handle)?;
    let vm_peer = socket.vm_peer;
    let how = match call.arg[0] {
        0 => libc::SHUT_RD,
        1 => libc::SHUT_WR,
        2 => libc::SHUT_RDWR,
        _ => return err(libc::EINVAL),
    };
    let done = act(&socket.fd, how).map(|()| 0);
    st.touched = vm_peer.filter(|_| done.is_ok());
    done
}

fn local_name(st: &mut State, call: &mut NetCall) -> Result<i64, Errno> {
    let socket = st.socket(call.handle)?;
    let ip = socket.local_view.or(socket.bound_ip).unwrap_or_else(|| socket.family.unspecified());
    let local = addr::in_family(SocketAddr::new(ip, socket.port.unwrap_or(0)), socket.family);
    put_addr(call, Some(local));
    Ok(0)
}

fn peer_name(st: &mut State, call: &mut NetCall) -> Result<i64, Errno> {
    let socket = st.socket(call.handle)?;
    let peer = if socket.is_stream() {
        let host = sys::peer_addr(&socket.fd)?.ok_or(Errno(libc::ENOTCONN))?;
        socket.peer_view.unwrap_or_else(|| guest_view(&st.tcp, host, socket.family))
    } else {
        socket.datagram_peer.ok_or(Errno(libc::ENOTCONN))?
    };
    put_addr(call, Some(addr::in_family(peer, socket.family)));
    Ok(0)
}

fn pending(st: &mut State, call: &mut NetCall) -> Result<i64, Errno> {
    let socket = st.socket(call.handle)?;
    call.arg[0] = u64::from(sys::pending(&socket.fd)? as u32);
    Ok(0)
}
