//! The handle table: what the VMM knows of each live guest socket, by handle. A handle is the
//! guest's only name for a host socket (`1..NET_MAX_HANDLES`; 0 is never one).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use uvm_abi::net::NET_MAX_HANDLES;
use uvm_net::Proto;

use super::addr::Family;

/// How many peers a published datagram socket remembers as allowed to be answered.
const MAX_REPLY_PEERS: usize = 4096;

/// One guest socket.
pub struct GuestSocket {
    /// The host socket (shared with its receive ring, if it has one).
    pub fd: Arc<OwnedFd>,
    /// The family the guest asked for.
    pub family: Family,
    /// The host socket's family (it differs when the host has no IPv6, or when the socket is
    /// a published IPv4 port's behind a guest IPv6 socket).
    pub host_family: Family,
    /// TCP or UDP.
    pub proto: Proto,
    /// The guest port it shows as its own (bound, picked, or that of its listener).
    pub port: Option<u16>,
    /// Whether it holds `port` in the port table (accepted sockets only show their
    /// listener's).
    pub holds_port: bool,
    /// The address the guest bound it to.
    pub bound_ip: Option<IpAddr>,
    /// Whether its host socket has an address (bound, connected, or a published port's).
    pub host_bound: bool,
    /// Whether its host socket is a published port's.
    pub published: bool,
    /// The local address it shows once connected or accepted.
    pub local_view: Option<IpAddr>,
    /// The peer as the guest named or sees it (connect's destination, accept's peer).
    pub peer_view: Option<SocketAddr>,
    /// A datagram socket's connected destination, as the guest named it.
    pub datagram_peer: Option<SocketAddr>,
    /// The guest's `IPV6_V6ONLY`.
    pub v6only: bool,
    /// Outside peers that sent to this published datagram socket (it may answer them).
    pub reply_peers: HashSet<SocketAddr>,
    /// The other end's handle, for a stream connection between two of the VM's sockets.
    pub vm_peer: Option<u32>,
}

impl GuestSocket {
    /// A fresh, unbound socket.
    pub fn new(fd: OwnedFd, family: Family, host_family: Family, proto: Proto) -> GuestSocket {
        GuestSocket {
            fd: Arc::new(fd),
            family,
            host_family,
            proto,
            port: None,
            holds_port: false,
            bound_ip: None,
            host_bound: false,
            published: false,
            local_view: None,
            peer_view: None,
            datagram_peer: None,
            v6only: false,
            reply_peers: HashSet::new(),
            vm_peer: None,
        }
    }

    /// Whether it is a stream (TCP) socket.
    pub fn is_stream(&self) -> bool {
        self.proto == Proto::Tcp
    }

    /// Remembers an outside peer this published socket heard from.
    pub fn remember_reply_peer(&mut self, peer: SocketAddr) {
        if self.reply_peers.len() >= MAX_REPLY_PEERS {
            self.reply_peers.clear();
        }
        self.reply_peers.insert(peer);
    }
}

/// The live guest sockets.
pub struct Handles {
    slots: Vec<Option<GuestSocket>>,
    live: usize,
}

impl Default for Handles {
    fn default() -> Handles {
        Handles { slots: (0..NET_MAX_HANDLES).map(|_| None).collect(), live: 0 }
    }
}

impl Handles {
    /// Whether another handle can be made.
    pub fn has_room(&self) -> bool {
        self.live < NET_MAX_HANDLES as usize - 1
    }

    /// Stores `socket` under the lowest free handle; `None` (the socket is closed) when all
    /// are taken.
    pub fn insert(&mut self, socket: GuestSocket) -> Option<u32> {
        let free = self.slots.iter().skip(1).position(Option::is_none)? + 1;
        self.slots[free] = Some(socket);
        self.live += 1;
        Some(free as u32)
    }

    /// The socket of `handle`.
    pub fn get(&self, handle: u32) -> Option<&GuestSocket> {
        self.slots.get(handle as usize).and_then(Option::as_ref).filter(|_| handle != 0)
    }

    /// The socket of `handle`, to change.
    pub fn get_mut(&mut self, handle: u32) -> Option<&mut GuestSocket> {
        if handle == 0 {
            return None;
        }
        self.slots.get_mut(handle as usize).and_then(Option::as_mut)
    }

    /// Takes `handle`'s socket out.
    pub fn remove(&mut self, handle: u32) -> Option<GuestSocket> {
        if handle == 0 {
            return None;
        }
        let socket = self.slots.get_mut(handle as usize)?.take()?;
        self.live -= 1;
        Some(socket)
    }
}
