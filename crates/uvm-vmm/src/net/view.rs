//! How addresses look from inside the VM: a host address as a guest socket sees it (the VM's
//! own sockets by their guest ports, the host's loopback as the gateway address), and the
//! local address a guest socket shows. Pure functions over the port table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::addr::{self, Destination, Family, HOST_LOOPBACK};
use super::ports::{PortEntry, PortTable};

/// The local address a socket shows once connected to `dest`.
pub fn local_view_towards(dest: SocketAddr, kind: Destination) -> IpAddr {
    let dest = addr::canonical(dest);
    match (kind, dest.ip()) {
        (Destination::Guest, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        (Destination::Guest, ip) if ip == addr::guest_ip() => ip,
        (Destination::Guest, _) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (_, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => addr::guest_ip(),
    }
}

/// The address a socket bound to `ip` shows its peers in the VM.
pub fn own_view_ip(ip: IpAddr, family: Family) -> IpAddr {
    let ip = addr::canonical_ip(ip);
    if ip.is_loopback() || ip == addr::guest_ip() {
        return ip;
    }
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Family::V6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// `ip` (a VM address) as a socket of `family` can show it.
pub fn loopback_view(ip: IpAddr, family: Family) -> IpAddr {
    match (family, ip) {
        (Family::V4, IpAddr::V6(_)) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => ip,
    }
}

/// The port entry of the VM socket at host address `host`, if it is one of the VM's.
pub fn own_socket(ports: &PortTable, host: SocketAddr) -> Option<&PortEntry> {
    let host = addr::canonical(host);
    if host.ip() != HOST_LOOPBACK {
        return None;
    }
    ports.by_host_port(host.port()).map(|(_, e)| e)
}

/// Host address `host` as a guest socket of `family` sees it: one of the VM's own sockets
/// by its guest address, the host's loopback as the gateway address, anything else as is.
pub fn guest_view(ports: &PortTable, host: SocketAddr, family: Family) -> SocketAddr {
    let host = addr::canonical(host);
    let view = if host.ip() == HOST_LOOPBACK {
        match ports.by_host_port(host.port()) {
            Some((guest_port, entry)) => SocketAddr::new(loopback_view(entry.view_ip, family), guest_port),
            None => SocketAddr::new(addr::gateway_ip(), host.port()),
        }
    } else if addr::is_host_loopback(host.ip()) {
        SocketAddr::new(addr::gateway_ip(), host.port())
    } else {
        host
    };
    addr::in_family(view, family)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(port: u16, host_port: u16, view: &str) -> PortTable {
        let mut t = PortTable::default();
        let host = SocketAddr::new(HOST_LOOPBACK, host_port);
        t.insert(
            port,
            PortEntry {
                handle: 1,
                host: Some(host),
                view_ip: view.parse().unwrap(),
                bound: "0.0.0.0".parse().unwrap(),
                dual_stack: false,
            },
        );
        t
    }

    #[test]
    fn the_vms_own_sockets_show_their_guest_ports() {
        let t = table_with(80, 41234, "127.0.0.1");
        let seen = guest_view(&t, "127.0.0.1:41234".parse().unwrap(), Family::V4);
        assert_eq!(seen, "127.0.0.1:80".parse().unwrap());
        let seen = guest_view(&t, "[::ffff:127.0.0.1]:41234".parse().unwrap(), Family::V6);
        assert_eq!(seen, "[::ffff:127.0.0.1]:80".parse().unwrap());
        let t = table_with(80, 41234, "::1");
        assert_eq!(guest_view(&t, "127.0.0.1:41234".parse().unwrap(), Family::V6), "[::1]:80".parse().unwrap());
        assert_eq!(guest_view(&t, "127.0.0.1:41234".parse().unwrap(), Family::V4), "127.0.0.1:80".parse().unwrap());
    }

    #[test]
    fn the_hosts_loopback_shows_as_the_gateway_and_outside_as_is() {
        let t = table_with(80, 41234, "127.0.0.1");
        assert_eq!(guest_view(&t, "127.0.0.1:5000".parse().unwrap(), Family::V4), "10.0.2.2:5000".parse().unwrap());
        assert_eq!(guest_view(&t, "127.0.0.2:41234".parse().unwrap(), Family::V4), "10.0.2.2:41234".parse().unwrap());
        assert_eq!(guest_view(&t, "1.2.3.4:443".parse().unwrap(), Family::V4), "1.2.3.4:443".parse().unwrap());
        assert_eq!(guest_view(&t, "1.2.3.4:443".parse().unwrap(), Family::V6), "[::ffff:1.2.3.4]:443".parse().unwrap());
        assert!(own_socket(&t, "127.0.0.1:41234".parse().unwrap()).is_some());
        assert!(own_socket(&t, "127.0.0.2:41234".parse().unwrap()).is_none());
        assert!(own_socket(&t, "127.0.0.1:41235".parse().unwrap()).is_none());
    }

    #[test]
    fn connected_sockets_show_the_address_they_reach_the_destination_from() {
        let g = Destination::Guest;
        assert_eq!(local_view_towards("127.0.0.1:80".parse().unwrap(), g), "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(local_view_towards("[::1]:80".parse().unwrap(), g), "::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            local_view_towards("[::ffff:127.0.0.1]:80".parse().unwrap(), g),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            local_view_towards("1.2.3.4:80".parse().unwrap(), Destination::Outside),
            "10.0.2.15".parse::<IpAddr>().unwrap()
        );
    }
}
