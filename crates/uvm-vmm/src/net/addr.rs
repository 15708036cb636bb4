//! Socket addresses: Linux `sockaddr_in`/`sockaddr_in6` bytes to and from [`SocketAddr`], the
//! families of guest sockets, and what a guest address means inside the VM (its own loopback,
//! the host's gateway address, or somewhere else). Pure functions, no sockets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use uvm_abi::net::{DNS_RESOLVER_V4, GUEST_ADDRESS_V4, HOST_GATEWAY_V4};

use super::sys::Errno;

/// Bytes of the largest socket address handled (`sizeof(struct sockaddr_storage)`).
pub const SOCKADDR_MAX: usize = 128;
const SOCKADDR_IN_LEN: usize = 16;
const SOCKADDR_IN6_LEN: usize = 28;
/// The shortest `sockaddr_in6` Linux accepts (RFC 2133's, without `sin6_scope_id`).
const SOCKADDR_IN6_MIN_LEN: usize = 24;

/// A socket's address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `AF_INET`.
    V4,
    /// `AF_INET6`.
    V6,
}

impl Family {
    /// From a Linux `AF_*` value.
    pub fn from_raw(raw: u64) -> Option<Family> {
        match raw {
            2 => Some(Family::V4),
            10 => Some(Family::V6),
            _ => None,
        }
    }

    /// The Linux `AF_*` value.
    pub fn raw(self) -> i32 {
        match self {
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        }
    }

    /// The unspecified address of this family (`0.0.0.0` or `::`).
    pub fn unspecified(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// A decoded socket address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddr {
    /// `AF_UNSPEC` (connect: dissolve the association).
    Unspec,
    /// An IPv4 or IPv6 address.
    Inet(SocketAddr),
}

/// Decodes Linux socket-address bytes. `EINVAL` for a short address, `EAFNOSUPPORT` for a
/// family other than `AF_UNSPEC`, `AF_INET`, `AF_INET6`.
pub fn decode(bytes: &[u8]) -> Result<SockAddr, Errno> {
    let Some(family) = bytes.get(..2) else { return Err(Errno(libc::EINVAL)) };
    let family = u16::from_ne_bytes([family[0], family[1]]);
    match i32::from(family) {
        libc::AF_UNSPEC => Ok(SockAddr::Unspec),
        libc::AF_INET => {
            let b = bytes.get(..SOCKADDR_IN_LEN).ok_or(Errno(libc::EINVAL))?;
            let port = u16::from_be_bytes([b[2], b[3]]);
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Ok(SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(ip, port))))
        }
        libc::AF_INET6 => {
            if bytes.len() < SOCKADDR_IN6_MIN_LEN {
                return Err(Errno(libc::EINVAL));
            }
            let b = bytes;
            let port = u16::from_be_bytes([b[2], b[3]]);
            let flowinfo = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&b[8..24]);
            let scope = b.get(24..28).map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]));
            Ok(SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(octets), port, flowinfo, scope))))
        }
        _ => Err(Errno(libc::EAFNOSUPPORT)),
    }
}

/// Encodes `addr` as Linux socket-address bytes: the bytes and how many are used.
pub fn encode(addr: &SocketAddr) -> ([u8; SOCKADDR_MAX], usize) {
    let mut b = [0u8; SOCKADDR_MAX];
    match addr {
        SocketAddr::V4(a) => {
            b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.ip().octets());
            (b, SOCKADDR_IN_LEN)
        }
        SocketAddr::V6(a) => {
            b[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
            b[8..24].copy_from_slice(&a.ip().octets());
            b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
            (b, SOCKADDR_IN6_LEN)
        }
    }
}

/// `ip` with an IPv4-mapped IPv6 address turned into the IPv4 address it holds.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `addr` with its IP canonical (see [`canonical_ip`]).
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical_ip(addr.ip()), addr.port())
}

/// `addr` as a socket of `family` shows it: IPv4 addresses become IPv4-mapped IPv6 ones for
/// an IPv6 socket, IPv4-mapped ones plain IPv4 for an IPv4 socket (a real IPv6 address stays
/// IPv6: an IPv4 socket cannot be given one).
pub fn in_family(addr: SocketAddr, family: Family) -> SocketAddr {
    let addr = canonical(addr);
    match (family, addr) {
        (Family::V6, SocketAddr::V4(a)) => SocketAddr::new(IpAddr::V6(a.ip().to_ipv6_mapped()), a.port()),
        _ => addr,
    }
}

/// `addr` as a host socket of `family` can be given it: `None` when an IPv4 socket is given
/// a real IPv6 address.
pub fn for_host_family(addr: SocketAddr, family: Family) -> Option<SocketAddr> {
    let addr = in_family(addr, family);
    match (family, addr) {
        (Family::V4, SocketAddr::V6(_)) => None,
        _ => Some(addr),
    }
}

/// Where a guest address leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The VM itself: its loopback (`127.0.0.0/8`, `::1`), its own address, or the
    /// unspecified address (which Linux treats as loopback for a connect).
    Guest,
    /// [`HOST_GATEWAY_V4`]: the host's loopback.
    HostGateway,
    /// [`DNS_RESOLVER_V4`]: the host's DNS resolver (port 53 only).
    Resolver,
    /// Anywhere else (subject to the egress policy).
    Outside,
}

/// Where `ip` (as the guest gives it) leads.
pub fn destination(ip: IpAddr) -> Destination {
    match canonical_ip(ip) {
        IpAddr::V4(v4) if v4.octets() == HOST_GATEWAY_V4 => Destination::HostGateway,
        IpAddr::V4(v4) if v4.octets() == DNS_RESOLVER_V4 => Destination::Resolver,
        IpAddr::V4(v4) if v4.is_loopback() || v4.is_unspecified() || v4.octets() == GUEST_ADDRESS_V4 => {
            Destination::Guest
        }
        IpAddr::V6(v6) if v6.is_loopback() || v6.is_unspecified() => Destination::Guest,
        _ => Destination::Outside,
    }
}

/// Whether a guest may bind `ip`: an address of the VM's (loopback, its own address) or the
/// unspecified one.
pub fn is_guest_local(ip: IpAddr) -> bool {
    destination(ip) == Destination::Guest
}

/// Whether `ip` is the unspecified address (`0.0.0.0`, `::`, `::ffff:0.0.0.0`).
pub fn is_unspecified(ip: IpAddr) -> bool {
    canonical_ip(ip).is_unspecified()
}

/// Whether `ip` is a host loopback address (`127.0.0.0/8`, `::1`, or IPv4-mapped loopback).
pub fn is_host_loopback(ip: IpAddr) -> bool {
    canonical_ip(ip).is_loopback()
}

/// The host's IPv4 loopback address.
pub const HOST_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The guest's view of the host gateway (`10.0.2.2`).
pub fn gateway_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(HOST_GATEWAY_V4))
}

/// The guest's DNS resolver (`10.0.2.3`).
pub fn resolver_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(DNS_RESOLVER_V4))
}

/// The first `nameserver` of a `resolv.conf` text, at port 53.
pub fn first_nameserver(resolv_conf: &str) -> Option<SocketAddr> {
    resolv_conf.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            return None;
        }
        let ip: IpAddr = words.next()?.split('%').next()?.parse().ok()?;
        Some(SocketAddr::new(ip, 53))
    })
}

/// The guest's own address (`10.0.2.15`).
pub fn guest_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(GUEST_ADDRESS_V4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_round_trip_through_linux_bytes() {
        for a in ["127.0.0.1:80", "10.0.2.2:65535", "[::1]:443", "[::ffff:1.2.3.4]:9", "[fe80::1%3]:7"] {
            let addr: SocketAddr = a.parse().unwrap();
            let (bytes, len) = encode(&addr);
            assert_eq!(decode(&bytes[..len]), Ok(SockAddr::Inet(addr)), "{a}");
        }
    }

    #[test]
    fn short_or_foreign_addresses_are_refused() {
        let (bytes, _) = encode(&v4("1.2.3.4:5"));
        assert_eq!(decode(&bytes[..15]), Err(Errno(libc::EINVAL)));
        assert_eq!(decode(&[]), Err(Errno(libc::EINVAL)));
        let (bytes, _) = encode(&"[::1]:5".parse().unwrap());
        assert_eq!(decode(&bytes[..23]), Err(Errno(libc::EINVAL)));
        assert!(decode(&bytes[..24]).is_ok());
        let unix = (libc::AF_UNIX as u16).to_ne_bytes();
        assert_eq!(decode(&[unix[0], unix[1], 0, 0]), Err(Errno(libc::EAFNOSUPPORT)));
        assert_eq!(decode(&[0, 0]), Ok(SockAddr::Unspec));
    }

    #[test]
    fn families_translate_both_ways() {
        assert_eq!(in_family(v4("127.0.0.1:80"), Family::V6), "[::ffff:127.0.0.1]:80".parse().unwrap());
        assert_eq!(in_family("[::ffff:1.2.3.4]:80".parse().unwrap(), Family::V4), v4("1.2.3.4:80"));
        assert_eq!(for_host_family("[2001:db8::1]:80".parse().unwrap(), Family::V4), None);
        assert_eq!(for_host_family(v4("1.2.3.4:1"), Family::V6), Some("[::ffff:1.2.3.4]:1".parse().unwrap()));
    }

    #[test]
    fn destinations_are_classified_as_the_guest_sees_them() {
        for ip in ["127.0.0.1", "127.1.2.3", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1", "10.0.2.15"] {
            assert_eq!(destination(ip.parse().unwrap()), Destination::Guest, "{ip}");
        }
        assert_eq!(destination("10.0.2.2".parse().unwrap()), Destination::HostGateway);
        assert_eq!(destination("::ffff:10.0.2.2".parse().unwrap()), Destination::HostGateway);
        assert_eq!(destination("10.0.2.3".parse().unwrap()), Destination::Resolver);
        for ip in ["1.2.3.4", "10.0.2.4", "2001:db8::1", "192.168.1.1"] {
            assert_eq!(destination(ip.parse().unwrap()), Destination::Outside, "{ip}");
        }
    }

    #[test]
    fn the_first_nameserver_is_the_resolver() {
        let text = "# generated\nsearch example.com\nnameserver fe80::1%eth0\nnameserver 10.0.0.1\n";
        assert_eq!(first_nameserver(text), Some("[fe80::1]:53".parse().unwrap()));
        assert_eq!(first_nameserver("nameserver 10.255.255.53\n"), Some("10.255.255.53:53".parse().unwrap()));
        assert_eq!(first_nameserver("options ndots:1\n"), None);
        assert_eq!(first_nameserver("nameserver bogus\n"), None);
    }
}
