//! The VM's network interfaces as its apps see them: the loopback `lo` and `eth0`, which
//! carries the VM's own address (`10.0.2.15/24`, `uvm_abi::net::GUEST_ADDRESS_V4`) with the
//! host's loopback as its gateway (`10.0.2.2`). Every IP socket is a host socket the VMM
//! holds ("Networking" in docs/DESIGN.md), so there is no device behind `eth0`: these are
//! the facts that rtnetlink (`rtnetlink`) and the interface ioctls report, shaped as a
//! container's `eth0` looks on Linux.

use uvm_abi::net::{GUEST_ADDRESS_V4, HOST_GATEWAY_V4};

/// `ARPHRD_ETHER`.
pub const ARPHRD_ETHER: u16 = 1;
/// `ARPHRD_LOOPBACK`.
pub const ARPHRD_LOOPBACK: u16 = 772;

/// `IFF_UP`.
pub const IFF_UP: u32 = 0x1;
/// `IFF_BROADCAST`.
pub const IFF_BROADCAST: u32 = 0x2;
/// `IFF_LOOPBACK`.
pub const IFF_LOOPBACK: u32 = 0x8;
/// `IFF_RUNNING`.
pub const IFF_RUNNING: u32 = 0x40;
/// `IFF_MULTICAST`.
pub const IFF_MULTICAST: u32 = 0x1000;
/// `IFF_LOWER_UP` (netlink only: the ioctls show the low 16 bits).
pub const IFF_LOWER_UP: u32 = 0x1_0000;

/// `IF_OPER_UNKNOWN`: what Linux reports for `lo`.
pub const IF_OPER_UNKNOWN: u8 = 0;
/// `IF_OPER_UP`.
pub const IF_OPER_UP: u8 = 6;

/// The transmit queue length every interface shows (a container's `eth0`'s).
pub const TXQLEN: u32 = 1000;

/// One network interface.
#[derive(Debug)]
pub struct Interface {
    /// `ifindex` (1 for `lo`, as on Linux).
    pub index: u32,
    /// The name, padded with NULs (an array, not a slice: no pointer for the kernel's
    /// relocations; [`Interface::name`] trims it).
    pub padded_name: [u8; 8],
    /// `ARPHRD_*`.
    pub hw_type: u16,
    /// `IFF_*` flags.
    pub flags: u32,
    pub mtu: u32,
    /// The hardware address and the hardware broadcast address.
    pub hw_addr: [u8; 6],
    pub hw_broadcast: [u8; 6],
    /// `IF_OPER_*`.
    pub oper_state: u8,
}

/// The interfaces, by index. (This and the other tables here are cold read-only data,
/// mapped with the cold text: no start reads them.)
#[link_section = ".rodata.cold.netif"]
pub static INTERFACES: [Interface; 2] = [
    Interface {
        index: 1,
        padded_name: *b"lo\0\0\0\0\0\0",
        hw_type: ARPHRD_LOOPBACK,
        flags: IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP,
        mtu: 65536,
        hw_addr: [0; 6],
        hw_broadcast: [0; 6],
        oper_state: IF_OPER_UNKNOWN,
    },
    Interface {
        index: 2,
        padded_name: *b"eth0\0\0\0\0",
        hw_type: ARPHRD_ETHER,
        flags: IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP,
        mtu: 1500,
        // A locally administered address, as other VMMs give their guests.
        hw_addr: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
        hw_broadcast: [0xff; 6],
        oper_state: IF_OPER_UP,
    },
];

/// `RT_SCOPE_UNIVERSE`.
pub const SCOPE_UNIVERSE: u8 = 0;
/// `RT_SCOPE_LINK`.
pub const SCOPE_LINK: u8 = 253;
/// `RT_SCOPE_HOST`.
pub const SCOPE_HOST: u8 = 254;

/// An IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Ip {
    /// Its bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Ip::V4(bytes) => bytes,
            Ip::V6(bytes) => bytes,
        }
    }

    /// `AF_INET` or `AF_INET6`.
    pub fn family(&self) -> u8 {
        match self {
            Ip::V4(_) => 2,
            Ip::V6(_) => 10,
        }
    }
}

/// An address of an interface.
#[derive(Debug)]
pub struct Address {
    /// The interface's index.
    pub index: u32,
    pub ip: Ip,
    pub prefix_len: u8,
    /// `RT_SCOPE_*`.
    pub scope: u8,
    /// The broadcast address (IPv4 on a broadcast interface).
    pub broadcast: Option<[u8; 4]>,
}

/// The VM's own address's /24 broadcast address.
const GUEST_BROADCAST_V4: [u8; 4] = [GUEST_ADDRESS_V4[0], GUEST_ADDRESS_V4[1], GUEST_ADDRESS_V4[2], 255];
const LOOPBACK_V4: [u8; 4] = [127, 0, 0, 1];
const LOOPBACK_V6: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// The addresses, IPv4 first (Linux's order in a dump of every family).
#[link_section = ".rodata.cold.netif"]
pub static ADDRESSES: [Address; 3] = [
    Address { index: 1, ip: Ip::V4(LOOPBACK_V4), prefix_len: 8, scope: SCOPE_HOST, broadcast: None },
    Address {
        index: 2,
        ip: Ip::V4(GUEST_ADDRESS_V4),
        prefix_len: 24,
        scope: SCOPE_UNIVERSE,
        broadcast: Some(GUEST_BROADCAST_V4),
    },
    Address { index: 1, ip: Ip::V6(LOOPBACK_V6), prefix_len: 128, scope: SCOPE_HOST, broadcast: None },
];

/// `RT_TABLE_MAIN`.
pub const TABLE_MAIN: u8 = 254;
/// `RT_TABLE_LOCAL`.
pub const TABLE_LOCAL: u8 = 255;
/// `RTPROT_KERNEL`: a route the kernel made for an address.
pub const PROTO_KERNEL: u8 = 2;
/// `RTPROT_BOOT`: a route set up at boot (the default route).
pub const PROTO_BOOT: u8 = 3;
/// `RTN_UNICAST`.
pub const RTN_UNICAST: u8 = 1;
/// `RTN_LOCAL`.
pub const RTN_LOCAL: u8 = 2;
/// `RTN_BROADCAST`.
pub const RTN_BROADCAST: u8 = 3;

/// A route (of its destination's family).
#[derive(Debug)]
pub struct Route {
    /// `RT_TABLE_*`.
    pub table: u8,
    /// `RTN_*`.
    pub kind: u8,
    /// `RTPROT_*`.
    pub protocol: u8,
    /// `RT_SCOPE_*`.
    pub scope: u8,
    /// The destination (all zeros with length 0 for the default route).
    pub dst: Ip,
    pub dst_len: u8,
    pub gateway: Option<[u8; 4]>,
    /// The preferred source address.
    pub source: Option<[u8; 4]>,
    /// The output interface's index.
    pub index: u32,
    /// The metric (`RTA_PRIORITY`), which Linux gives IPv6 routes.
    pub priority: Option<u32>,
}

const GUEST_NET_V4: [u8; 4] = [GUEST_ADDRESS_V4[0], GUEST_ADDRESS_V4[1], GUEST_ADDRESS_V4[2], 0];
const ANY_V4: [u8; 4] = [0; 4];
const LOOPBACK_NET_V4: [u8; 4] = [127, 0, 0, 0];
const LOOPBACK_BROADCAST_V4: [u8; 4] = [127, 255, 255, 255];

/// The routes, in the order Linux dumps them: IPv4's main table, then its local table (by
/// destination), then IPv6's (`::1` only: Linux keeps no main-table route for it).
#[link_section = ".rodata.cold.netif"]
pub static ROUTES: [Route; 8] = [
    Route {
        table: TABLE_MAIN,
        kind: RTN_UNICAST,
        protocol: PROTO_BOOT,
        scope: SCOPE_UNIVERSE,
        dst: Ip::V4(ANY_V4),
        dst_len: 0,
        gateway: Some(HOST_GATEWAY_V4),
        source: None,
        index: 2,
        priority: None,
    },
    Route {
        table: TABLE_MAIN,
        kind: RTN_UNICAST,
        protocol: PROTO_KERNEL,
        scope: SCOPE_LINK,
        dst: Ip::V4(GUEST_NET_V4),
        dst_len: 24,
        gateway: None,
        source: Some(GUEST_ADDRESS_V4),
        index: 2,
        priority: None,
    },
    local_v4(RTN_LOCAL, GUEST_ADDRESS_V4, 32, GUEST_ADDRESS_V4, 2),
    local_v4(RTN_BROADCAST, GUEST_BROADCAST_V4, 32, GUEST_ADDRESS_V4, 2),
    local_v4(RTN_LOCAL, LOOPBACK_NET_V4, 8, LOOPBACK_V4, 1),
    local_v4(RTN_LOCAL, LOOPBACK_V4, 32, LOOPBACK_V4, 1),
    local_v4(RTN_BROADCAST, LOOPBACK_BROADCAST_V4, 32, LOOPBACK_V4, 1),
    Route {
        table: TABLE_LOCAL,
        kind: RTN_LOCAL,
        protocol: PROTO_KERNEL,
        scope: SCOPE_UNIVERSE,
        dst: Ip::V6(LOOPBACK_V6),
        dst_len: 128,
        gateway: None,
        source: None,
        index: 1,
        priority: Some(0),
    },
];

/// A route of the local table that Linux makes for an IPv4 address (host scope for local
/// addresses, link scope for broadcast ones).
const fn local_v4(kind: u8, dst: [u8; 4], dst_len: u8, source: [u8; 4], index: u32) -> Route {
    Route {
        table: TABLE_LOCAL,
        kind,
        protocol: PROTO_KERNEL,
        scope: if kind == RTN_LOCAL { SCOPE_HOST } else { SCOPE_LINK },
        dst: Ip::V4(dst),
        dst_len,
        gateway: None,
        source: Some(source),
        index,
        priority: None,
    }
}

/// Whether `prefix`/`len` contains `ip` (of the same family).
pub fn prefix_contains(prefix: Ip, len: u8, ip: Ip) -> bool {
    let (prefix, ip) = (prefix.bytes(), ip.bytes());
    let len = usize::from(len).min(prefix.len() * 8);
    let (whole, bits) = (len / 8, len % 8);
    prefix.len() == ip.len()
        && prefix[..whole] == ip[..whole]
        && (bits == 0 || (prefix[whole] ^ ip[whole]) & (0xffu8 << (8 - bits)) == 0)
}

/// The IPv4 address of interface `index`, a route's source by default.
pub fn source_for(index: u32) -> Option<[u8; 4]> {
    ADDRESSES.iter().find_map(|a| match a.ip {
        Ip::V4(ip) if a.index == index => Some(ip),
        _ => None,
    })
}

/// The interface with index `index`.
pub fn by_index(index: u32) -> Option<&'static Interface> {
    INTERFACES.iter().find(|i| i.index == index)
}

/// The interface named `name` (no NUL).
pub fn by_name(name: &[u8]) -> Option<&'static Interface> {
    INTERFACES.iter().find(|i| i.name() == name)
}

impl Interface {
    /// The name, without NULs.
    pub fn name(&self) -> &[u8] {
        let len = self.padded_name.iter().position(|&b| b == 0).unwrap_or(self.padded_name.len());
        &self.padded_name[..len]
    }
}
