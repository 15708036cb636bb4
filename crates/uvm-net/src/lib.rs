//! uvm's network settings as plain data: the ports a VM publishes on the host
//! ([`PortMapping`], docker's `-p [IP:]HOST:GUEST[/udp]`) and the destinations its app may
//! reach ([`EgressPolicy`], a list of [`EgressRule`]s: `CIDR[:PORT]`, `HOST_IP[:PORT]`, `dns`
//! or `any`). The manifest, the CLI and the VMM share these types; parsing gives a
//! [`NetConfigError`] that names the value and the fix. Nothing here opens a socket.
//!
//! Modules: `parse` (`FromStr`), `display` (`Display`, the same syntax, so that a value
//! written out parses back to itself), `clash` (published ports that cannot coexist), `error`.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr};

mod clash;
mod display;
mod error;
mod parse;

pub use clash::PortClash;
pub use error::NetConfigError;

/// The guest's address for the host's own loopback, `10.0.2.2`. The same value as
/// `uvm_abi::net::HOST_GATEWAY_V4`, repeated here because this crate depends on nothing of
/// uvm's; the egress rule `host` (`host:5432`) names it.
pub const HOST_GATEWAY_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

/// The egress rule word for [`HOST_GATEWAY_V4`].
pub const HOST_GATEWAY_NAME: &str = "host";

/// The guest's DNS resolver, `10.0.2.3`: the VMM sends what reaches its port 53 on to the
/// host's nameserver. The same value as `uvm_abi::net::DNS_RESOLVER_V4`, repeated here because
/// this crate depends on nothing of uvm's; the egress rule `dns` names it with [`DNS_PORT`].
pub const DNS_RESOLVER_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);

/// The port of the guest's DNS resolver.
pub const DNS_PORT: u16 = 53;

/// The egress rule word for [`DNS_RESOLVER_V4`] port [`DNS_PORT`] (see [`EgressRule::DNS`]).
pub const DNS_NAME: &str = "dns";

/// The egress rule word for "every destination".
pub const ANY_NAME: &str = "any";

/// A transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
}

/// One published port: the VMM binds `host_ip:host_port` when the VM starts and hands
/// connections (or datagrams) to the app's socket bound to `guest_port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortMapping {
    /// The host address to bind (`0.0.0.0` when not given). Parsing reads an IPv4-mapped
    /// IPv6 address (`[::ffff:127.0.0.1]`) as the IPv4 address it holds.
    pub host_ip: IpAddr,
    /// The host port (1-65535).
    pub host_port: u16,
    /// The guest port (1-65535).
    pub guest_port: u16,
    /// TCP or UDP.
    pub proto: Proto,
}

impl PortMapping {
    /// A mapping of `host_ip:host_port` to `guest_port`. An IPv4-mapped IPv6 `host_ip`
    /// becomes the IPv4 address it holds, as when parsing.
    pub fn new(host_ip: IpAddr, host_port: u16, guest_port: u16, proto: Proto) -> PortMapping {
        PortMapping { host_ip: canonical(host_ip), host_port, guest_port, proto }
    }
}

/// One allowed egress destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EgressRule {
    /// Every destination.
    Any,
    /// Destinations in `network/prefix_len`, on `port` (every port when `None`). Parsing
    /// reads an IPv4-mapped IPv6 network of prefix 96 or more (`[::ffff:10.0.0.0/104]`) as the
    /// IPv4 network it holds (`10.0.0.0/8`); IPv4 destinations are matched by IPv4 rules only.
    Net {
        /// The network address (host bits zero).
        network: IpAddr,
        /// Prefix length (0-32 for IPv4, 0-128 for IPv6).
        prefix_len: u8,
        /// The one port allowed, or every port.
        port: Option<u16>,
    },
}

impl EgressRule {
    /// The rule `dns`: the guest's DNS resolver, `10.0.2.3/32` port 53, and nothing else.
    pub const DNS: EgressRule =
        EgressRule::Net { network: IpAddr::V4(DNS_RESOLVER_V4), prefix_len: 32, port: Some(DNS_PORT) };

    /// Whether this rule allows a connection or datagram to `ip:port`. An IPv4-mapped IPv6
    /// address is matched as the IPv4 address it holds.
    pub fn allows(&self, ip: IpAddr, port: u16) -> bool {
        match *self {
            EgressRule::Any => true,
            EgressRule::Net { network, prefix_len, port: allowed } => {
                if allowed.is_some_and(|p| p != port) {
                    return false;
                }
                let (network, prefix_len) = canonical_network(network, prefix_len);
                in_network(canonical(ip), network, prefix_len)
            }
        }
    }
}

/// `ip`, or the IPv4 address an IPv4-mapped IPv6 address holds.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `network/prefix_len`, or the IPv4 network an IPv4-mapped IPv6 network of prefix 96 or
/// more holds (`::ffff:10.0.0.0/104` is `10.0.0.0/8`). A shorter IPv6 prefix stays IPv6.
pub(crate) fn canonical_network(network: IpAddr, prefix_len: u8) -> (IpAddr, u8) {
    match network {
        IpAddr::V6(v6) if prefix_len >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => (IpAddr::V4(v4), prefix_len - 96),
            None => (network, prefix_len),
        },
        _ => (network, prefix_len),
    }
}

fn in_network(ip: IpAddr, network: IpAddr, prefix_len: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix_len.min(32))).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix_len.min(128))).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The egress policy: a destination is allowed when any rule allows it; an empty policy
/// (the default) allows none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// The rules, in the order given.
    pub rules: Vec<EgressRule>,
}

impl EgressPolicy {
    /// Whether the app may reach `ip:port`.
    pub fn allows(&self, ip: IpAddr, port: u16) -> bool {
        self.rules.iter().any(|rule| rule.allows(ip, port))
    }
}

/// Everything the VMM needs to know about a VM's network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkConfig {
    /// Published ports (no two with the same host address, port and protocol, nor the same
    /// guest port and protocol: see [`NetworkConfig::check`]).
    pub ports: Vec<PortMapping>,
    /// Where the app may connect or send.
    pub egress: EgressPolicy,
}

impl NetworkConfig {
    /// A checked configuration: `ports` must not clash (see [`NetworkConfig::check`]).
    pub fn new(ports: Vec<PortMapping>, egress: Vec<EgressRule>) -> Result<NetworkConfig, NetConfigError> {
        let config = NetworkConfig { ports, egress: EgressPolicy { rules: egress } };
        config.check()?;
        Ok(config)
    }

    /// Whether the published ports can all be bound at once and each guest port is reached
    /// one way: no two may bind the same host port and protocol on the same or an overlapping
    /// host address (`0.0.0.0` overlaps every IPv4 address, `::` every IPv6 address), and no
    /// two may lead to the same guest port and protocol. The first clash, in list order, is
    /// reported with both mappings' indices.
    pub fn check(&self) -> Result<(), NetConfigError> {
        for (second_index, second) in self.ports.iter().enumerate() {
            for (first_index, first) in self.ports[..second_index].iter().enumerate() {
                if let Some(clash) = first.clash_with(second) {
                    return Err(NetConfigError::PortClash {
                        first_index,
                        second_index,
                        first: *first,
                        second: *second,
                        clash,
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether nothing is published and nothing may be reached.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty() && self.egress.rules.is_empty()
    }
}
