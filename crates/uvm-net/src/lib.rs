//! uvm's network settings as plain data: the ports a VM publishes on the host
//! ([`PortMapping`], docker's `-p [IP:]HOST:GUEST[/udp]`) and the destinations its app may
//! reach ([`EgressPolicy`], a list of [`EgressRule`]s: `CIDR[:PORT]`, `HOST_IP[:PORT]` or
//! `any`). The manifest, the CLI and the VMM share these types; parsing gives a
//! [`NetConfigError`] that names the value and the fix. Nothing here opens a socket.
#![forbid(unsafe_code)]

use std::net::IpAddr;

mod error;
mod parse;

pub use error::NetConfigError;

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
    /// The host address to bind (`0.0.0.0` when not given).
    pub host_ip: IpAddr,
    /// The host port (1-65535).
    pub host_port: u16,
    /// The guest port (1-65535).
    pub guest_port: u16,
    /// TCP or UDP.
    pub proto: Proto,
}

/// One allowed egress destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EgressRule {
    /// Every destination.
    Any,
    /// Destinations in `network/prefix_len`, on `port` (every port when `None`).
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
    /// Whether this rule allows a connection or datagram to `ip:port`. An IPv4-mapped IPv6
    /// address is matched as the IPv4 address it holds.
    pub fn allows(&self, ip: IpAddr, port: u16) -> bool {
        match *self {
            EgressRule::Any => true,
            EgressRule::Net { network, prefix_len, port: allowed } => {
                if allowed.is_some_and(|p| p != port) {
                    return false;
                }
                in_network(canonical(ip), canonical(network), prefix_len)
            }
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
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
    /// guest port and protocol).
    pub ports: Vec<PortMapping>,
    /// Where the app may connect or send.
    pub egress: EgressPolicy,
}
