//! The guest's ports of one protocol: which guest port each live guest socket holds, and the
//! host port behind it, both ways. A guest port is the app's name for a socket inside the VM;
//! the host port is where the VMM's host socket really is (a private port on the host's
//! loopback, or a published port). Pure bookkeeping, no sockets.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// Linux's ephemeral port range (`net.ipv4.ip_local_port_range`), for guest ports picked by
/// the VMM.
pub const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

/// One guest port in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortEntry {
    /// The handle of the socket holding it.
    pub handle: u32,
    /// Where the VM's other sockets reach it on the host (`None`: bound in the guest but not
    /// yet on the host, e.g. a stream socket that is not listening yet).
    pub host: Option<SocketAddr>,
    /// The address the holder shows as its own, for peers' views of it (`127.0.0.1`, `::1`).
    pub view_ip: IpAddr,
    /// The address the holder is bound to (canonical; unspecified for a wildcard or an
    /// automatic bind).
    pub bound: IpAddr,
    /// An IPv6 wildcard holder that also takes IPv4 (`IPV6_V6ONLY` off when it was bound).
    pub dual_stack: bool,
}

impl PortEntry {
    /// Whether a connection or datagram from inside the VM to `dest` (a VM address,
    /// canonical) reaches this holder, as Linux decides by the bound address: a wildcard
    /// takes its family's addresses (an IPv6 one IPv4's too unless `IPV6_V6ONLY`), anything
    /// else only its own address. `0.0.0.0` and `::` as destinations mean the loopback.
    pub fn reachable_at(&self, dest: IpAddr) -> bool {
        let dest = match dest {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            other => other,
        };
        match self.bound {
            IpAddr::V4(v4) if v4.is_unspecified() => dest.is_ipv4(),
            IpAddr::V6(v6) if v6.is_unspecified() => dest.is_ipv6() || self.dual_stack,
            bound => bound == dest,
        }
    }
}

/// The guest ports of one protocol.
#[derive(Debug, Default)]
pub struct PortTable {
    by_guest: HashMap<u16, PortEntry>,
    /// Host port (on the host's loopback or wildcard address) -> guest port.
    by_host: HashMap<u16, u16>,
    next_ephemeral: u16,
}

impl PortTable {
    /// Whether no live socket holds guest port `port`.
    pub fn is_free(&self, port: u16) -> bool {
        !self.by_guest.contains_key(&port)
    }

    /// Records that `entry.handle` holds guest port `port` (which must be free).
    pub fn insert(&mut self, port: u16, entry: PortEntry) {
        if let Some(host) = entry.host {
            self.by_host.insert(host.port(), port);
        }
        self.by_guest.insert(port, entry);
    }

    /// Sets where guest port `port` is on the host (its holder just bound its host socket).
    pub fn set_host(&mut self, port: u16, host: SocketAddr) {
        if let Some(entry) = self.by_guest.get_mut(&port) {
            if let Some(old) = entry.host.replace(host) {
                self.by_host.remove(&old.port());
            }
            self.by_host.insert(host.port(), port);
        }
    }

    /// Frees guest port `port` if `handle` holds it.
    pub fn release(&mut self, port: u16, handle: u32) {
        if self.by_guest.get(&port).is_some_and(|e| e.handle == handle) {
            if let Some(entry) = self.by_guest.remove(&port) {
                if let Some(host) = entry.host {
                    if self.by_host.get(&host.port()) == Some(&port) {
                        self.by_host.remove(&host.port());
                    }
                }
            }
        }
    }

    /// The entry of guest port `port`.
    pub fn get(&self, port: u16) -> Option<&PortEntry> {
        self.by_guest.get(&port)
    }

    /// The guest port behind host port `host_port`, with its entry.
    pub fn by_host_port(&self, host_port: u16) -> Option<(u16, &PortEntry)> {
        let guest = *self.by_host.get(&host_port)?;
        self.by_guest.get(&guest).map(|e| (guest, e))
    }

    /// A free guest port in [`EPHEMERAL`] (taking turns through the range, as Linux does
    /// roughly), or `None` when all are taken.
    pub fn pick_ephemeral(&mut self) -> Option<u16> {
        let (start, end) = (*EPHEMERAL.start(), *EPHEMERAL.end());
        let span = u32::from(end - start) + 1;
        let first = if EPHEMERAL.contains(&self.next_ephemeral) { self.next_ephemeral } else { start };
        for step in 0..span {
            let port = start + ((u32::from(first - start) + step) % span) as u16;
            if self.is_free(port) {
                self.next_ephemeral = if port == end { start } else { port + 1 };
                return Some(port);
            }
        }
        None
    }

    /// Whether no guest port is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.by_guest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(handle: u32, host: Option<&str>) -> PortEntry {
        PortEntry {
            handle,
            host: host.map(|h| h.parse().unwrap()),
            view_ip: "127.0.0.1".parse().unwrap(),
            bound: "0.0.0.0".parse().unwrap(),
            dual_stack: false,
        }
    }

    #[test]
    fn ports_map_both_ways_and_free_again() {
        let mut t = PortTable::default();
        assert!(t.is_free(80));
        t.insert(80, entry(1, Some("127.0.0.1:41234")));
        assert!(!t.is_free(80));
        assert_eq!(t.get(80).unwrap().host, Some("127.0.0.1:41234".parse().unwrap()));
        assert_eq!(t.by_host_port(41234).map(|(p, e)| (p, e.handle)), Some((80, 1)));
        // Only the holder frees it.
        t.release(80, 2);
        assert!(!t.is_free(80));
        t.release(80, 1);
        assert!(t.is_free(80));
        assert!(t.by_host_port(41234).is_none());
        assert!(t.is_empty());
    }

    #[test]
    fn a_port_bound_before_its_host_socket_gets_its_host_port_later() {
        let mut t = PortTable::default();
        t.insert(8080, entry(3, None));
        assert!(t.by_host_port(5000).is_none());
        t.set_host(8080, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(t.by_host_port(5000).map(|(p, _)| p), Some(8080));
    }

    #[test]
    fn ephemeral_ports_skip_held_ones_and_wrap() {
        let mut t = PortTable::default();
        let first = t.pick_ephemeral().unwrap();
        assert_eq!(first, 32768);
        t.insert(first, entry(1, None));
        t.insert(32769, entry(2, None));
        assert_eq!(t.pick_ephemeral(), Some(32770));
        t.next_ephemeral = 60999;
        assert_eq!(t.pick_ephemeral(), Some(60999));
        assert_eq!(t.pick_ephemeral(), Some(32770));
    }
}
