//! rtnetlink (`NETLINK_ROUTE`): the kernel's side of the requests an app sends on a netlink
//! socket (`fs::netlink`), answered from the VM's interfaces (`netif`). What `getifaddrs`
//! (glibc, musl), Go's `net.Interfaces`/`InterfaceAddrs`, `if_nameindex` and `ip` ask:
//! - dumps (`NLM_F_DUMP`) of the links (`RTM_GETLINK`), addresses (`RTM_GETADDR`, by
//!   family), routes (`RTM_GETROUTE`, by family), Linux's default rules (`RTM_GETRULE`), and
//!   an empty neighbour table
//!   (`RTM_GETNEIGH`: the VM has no link layer, so no neighbours, which Linux allows); each
//!   dump's messages carry `NLM_F_MULTI` and end with `NLMSG_DONE`, packed into datagrams of
//!   at most [`DUMP_DATAGRAM`] bytes as Linux packs its dump buffers;
//! - one link by index or `IFLA_IFNAME` (`RTM_GETLINK` without `NLM_F_DUMP`; `ENODEV`),
//!   the route to one address (`RTM_GETROUTE` without it: `ip route get`);
//! - changes (`RTM_NEW*`, `RTM_DEL*`, `RTM_SET*`): `EPERM` whatever the app's capabilities:
//!   the VM's interfaces are fixed (what a container without `CAP_NET_ADMIN` is told too);
//!   every other request `EOPNOTSUPP` (what Linux says for a request it has no handler for).
//!
//! Errors and acknowledgements (`NLM_F_ACK`) are `NLMSG_ERROR` messages, as Linux builds
//! them: the error (0 for an ack) and the request's header, then the rest of the request for
//! an error unless the socket set `NETLINK_CAP_ACK`. Messages without `NLM_F_REQUEST` and
//! control messages are only acknowledged. A datagram may hold several requests; a malformed
//! length ends it, as on Linux.

use alloc::vec::Vec;

use crate::errno::Errno;
use crate::netif::{self, Address, Interface, Ip, Route};

/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;
/// The first type that is not a control message (`NLMSG_MIN_TYPE`).
const NLMSG_MIN_TYPE: u16 = 0x10;

/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`: part of a dump.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_ACK`.
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_CAPPED`: an `NLMSG_ERROR` carries the request's header only.
const NLM_F_CAPPED: u16 = 0x100;

/// `sizeof(struct nlmsghdr)`.
pub const NLMSG_HDRLEN: usize = 16;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_GETNEIGH: u16 = 30;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_GETRULE: u16 = 34;
/// The last rtnetlink message type this kernel knows of (Linux 6.x's `RTM_MAX` is lower; a
/// type past it is `EOPNOTSUPP` either way).
const RTM_MAX: u16 = 0x7f;

/// `AF_UNSPEC`: every family.
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_QDISC: u16 = 6;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_GROUP: u16 = 27;
const IFLA_PROMISCUITY: u16 = 30;
const IFLA_NUM_TX_QUEUES: u16 = 31;
const IFLA_NUM_RX_QUEUES: u16 = 32;
const IFLA_CARRIER: u16 = 33;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;
/// `IFA_F_PERMANENT`: every address here is.
const IFA_F_PERMANENT: u32 = 0x80;

const RTA_DST: u16 = 1;
const RTA_SRC: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_CACHEINFO: u16 = 12;
const RTA_TABLE: u16 = 15;
const RTA_PREF: u16 = 20;
const RTA_UID: u16 = 25;
/// `RTM_F_CLONED`: a route looked up for one address.
const RTM_F_CLONED: u32 = 0x200;
/// `RTCF_LOCAL`: the address is the VM's own.
const RTCF_LOCAL: u32 = 0x8000_0000;
/// `RTCF_BROADCAST`.
const RTCF_BROADCAST: u32 = 0x1000_0000;

const FRA_PRIORITY: u16 = 6;
const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
const FRA_TABLE: u16 = 15;
const FRA_PROTOCOL: u16 = 21;
/// `FR_ACT_TO_TBL`: a rule that looks a table up.
const FR_ACT_TO_TBL: u8 = 1;
/// `RT_TABLE_DEFAULT`.
const TABLE_DEFAULT: u8 = 253;
/// Linux's default rules, (priority, table): IPv4's, then IPv6's (no `default` table).
const RULES_V4: [(u32, u8); 3] = [(0, netif::TABLE_LOCAL), (32766, netif::TABLE_MAIN), (32767, TABLE_DEFAULT)];
const RULES_V6: [(u32, u8); 2] = [(0, netif::TABLE_LOCAL), (32766, netif::TABLE_MAIN)];

/// The queueing discipline every interface shows (a container's `eth0`'s).
const QDISC: &[u8] = b"noqueue\0";

/// The most bytes of one dump datagram (Linux's `NLMSG_GOODSIZE` for 4 KiB pages, about):
/// readers with a page-sized buffer (Go's, glibc's) get whole messages.
pub const DUMP_DATAGRAM: usize = 3776;

/// What the requests of one datagram produced: the datagrams to queue for the sender.
pub type Answers = Vec<Vec<u8>>;

/// The header fields of a message.
#[derive(Clone, Copy, Debug)]
struct Header {
    kind: u16,
    flags: u16,
    seq: u32,
}

/// The sender of a datagram.
#[derive(Clone, Copy, Debug)]
pub struct Sender {
    /// Its port id.
    pub port: u32,
    /// Its user id (a route lookup's `RTA_UID`).
    pub uid: u32,
    /// It set `NETLINK_CAP_ACK`.
    pub cap_ack: bool,
}

/// Answers the requests in `datagram`, until the answers take `room` bytes (what the
/// sender's queue has room for: the answers past it would be dropped, and the requests
/// change nothing, so the rest go unanswered; this bounds what a datagram of many requests
/// makes the kernel allocate).
pub fn answer(datagram: &[u8], sender: Sender, room: usize) -> Answers {
    let Sender { port, uid, cap_ack } = sender;
    let mut answers = Answers::new();
    let mut at = 0usize;
    while datagram.len() - at >= NLMSG_HDRLEN && answers.iter().map(Vec::len).sum::<usize>() <= room {
        let field = |offset: usize, size: usize| {
            let mut word = [0u8; 4];
            word[..size].copy_from_slice(&datagram[at + offset..at + offset + size]);
            u32::from_le_bytes(word)
        };
        let len = field(0, 4) as usize;
        if len < NLMSG_HDRLEN || len > datagram.len() - at {
            break;
        }
        let header = Header { kind: field(4, 2) as u16, flags: field(6, 2) as u16, seq: field(8, 4) };
        let request = &datagram[at..at + len];
        let result = if header.flags & NLM_F_REQUEST == 0 || header.kind < NLMSG_MIN_TYPE {
            Ok(Handled::Answered)
        } else {
            handle(header, &request[NLMSG_HDRLEN..], port, uid, &mut answers)
        };
        match result {
            Ok(Handled::Dumped) => {}
            Ok(Handled::Answered) if header.flags & NLM_F_ACK == 0 => {}
            Ok(Handled::Answered) => answers.push(error_message(request, header, port, 0, true)),
            Err(e) => answers.push(error_message(request, header, port, -e.code(), cap_ack)),
        }
        at += len.next_multiple_of(4).min(datagram.len() - at);
    }
    answers
}

/// What a request that succeeded was.
enum Handled {
    /// A dump, which ends with `NLMSG_DONE` (no acknowledgement, as on Linux).
    Dumped,
    /// Anything else (acknowledged if the request asked).
    Answered,
}

/// One request.
fn handle(header: Header, payload: &[u8], port: u32, uid: u32, answers: &mut Answers) -> Result<Handled, Errno> {
    if header.kind > RTM_MAX {
        return Err(Errno::EOPNOTSUPP);
    }
    // The low two bits of a type: NEW, DEL, GET, SET.
    if (header.kind - NLMSG_MIN_TYPE) & 3 != 2 {
        return Err(Errno::EPERM);
    }
    let family = payload.first().copied().unwrap_or(AF_UNSPEC);
    let reply = |kind: u16, flags: u16| Message::new(kind, flags, header.seq, port);
    if header.flags & NLM_F_DUMP == NLM_F_DUMP {
        let mut dump = Dump::default();
        match header.kind {
            RTM_GETLINK => netif::INTERFACES.iter().for_each(|i| dump.push(link(reply(RTM_NEWLINK, NLM_F_MULTI), i))),
            RTM_GETADDR => netif::ADDRESSES
                .iter()
                .filter(|a| family == AF_UNSPEC || a.ip.family() == family)
                .for_each(|a| dump.push(address(reply(RTM_NEWADDR, NLM_F_MULTI), a))),
            RTM_GETROUTE => netif::ROUTES
                .iter()
                .filter(|r| family == AF_UNSPEC || r.dst.family() == family)
                .for_each(|r| dump.push(route(reply(RTM_NEWROUTE, NLM_F_MULTI), r))),
            RTM_GETNEIGH => {}
            RTM_GETRULE => {
                for (rule_family, tables) in [(AF_INET, &RULES_V4[..]), (AF_INET6, &RULES_V6[..])] {
                    if family == AF_UNSPEC || family == rule_family {
                        for &(priority, table) in tables {
                            dump.push(rule(reply(RTM_NEWRULE, NLM_F_MULTI), rule_family, priority, table));
                        }
                    }
                }
            }
            _ => return Err(Errno::EOPNOTSUPP),
        }
        let mut done = reply(NLMSG_DONE, NLM_F_MULTI);
        done.put(&0i32.to_le_bytes());
        dump.push(done);
        answers.append(&mut dump.datagrams);
        return Ok(Handled::Dumped);
    }
    match header.kind {
        RTM_GETLINK => {
            let interface = requested_link(payload)?;
            answers.push(link(reply(RTM_NEWLINK, 0), interface).finish());
            Ok(Handled::Answered)
        }
        RTM_GETROUTE => {
            answers.push(route_to(reply(RTM_NEWROUTE, 0), payload, uid)?.finish());
            Ok(Handled::Answered)
        }
        _ => Err(Errno::EOPNOTSUPP),
    }
}

/// The link a `RTM_GETLINK` request names: by `ifi_index`, else by `IFLA_IFNAME`
/// (`ENODEV` for none such, `EINVAL` if it names none).
fn requested_link(payload: &[u8]) -> Result<&'static Interface, Errno> {
    const IFINFOMSG: usize = 16;
    let index = payload.get(4..8).map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if index > 0 {
        return netif::by_index(index as u32).ok_or(Errno::ENODEV);
    }
    let name = attributes(payload.get(IFINFOMSG..).unwrap_or(&[]))
        .find(|&(kind, _)| kind == IFLA_IFNAME)
        .map(|(_, value)| value.split(|&b| b == 0).next().unwrap_or(value))
        .ok_or(Errno::EINVAL)?;
    netif::by_name(name).ok_or(Errno::ENODEV)
}

/// `RTM_NEWROUTE` for the route to the address a `RTM_GETROUTE` request names (`RTA_DST`;
/// none: `0.0.0.0`), as Linux answers `ip route get`: its own addresses and loopback go
/// through `lo`; others by the longest matching prefix of the main table, from the VM's
/// address. IPv6 has no route but to `::1` ([`local_route6_to`]); other families
/// `EOPNOTSUPP`.
fn route_to(mut message: Message, payload: &[u8], uid: u32) -> Result<Message, Errno> {
    const RTMSG: usize = 12;
    let family = payload.first().copied().unwrap_or(AF_UNSPEC);
    let dst = attributes(payload.get(RTMSG..).unwrap_or(&[])).find(|&(kind, _)| kind == RTA_DST).map(|(_, v)| v);
    let dst = match family {
        AF_INET => Ip::V4(dst.and_then(|v| v.try_into().ok()).unwrap_or([0; 4])),
        AF_INET6 => return local_route6_to(message, dst.and_then(|v| v.try_into().ok()).unwrap_or([0; 16])),
        _ => return Err(Errno::EOPNOTSUPP),
    };
    let contains = |r: &&Route| r.dst.family() == dst.family() && netif::prefix_contains(r.dst, r.dst_len, dst);
    let longest =
        |table: u8| netif::ROUTES.iter().filter(|r| r.table == table).filter(contains).max_by_key(|r| r.dst_len);
    let unspecified = dst.bytes().iter().all(|&b| b == 0);
    let (found, flags) = match longest(netif::TABLE_LOCAL) {
        Some(r) if r.kind == netif::RTN_BROADCAST => (r, RTCF_BROADCAST | RTCF_LOCAL),
        Some(r) => (r, RTCF_LOCAL),
        // Linux routes the unspecified address to the loopback.
        None if unspecified && family == AF_INET => {
            (netif::ROUTES.iter().find(|r| r.table == netif::TABLE_LOCAL).ok_or(Errno::ENETUNREACH)?, RTCF_LOCAL)
        }
        None => (longest(netif::TABLE_MAIN).ok_or(Errno::ENETUNREACH)?, 0),
    };
    let local = flags & RTCF_LOCAL != 0 && found.kind != netif::RTN_BROADCAST;
    let (kind, index) = if local { (netif::RTN_LOCAL, 1) } else { (found.kind, found.index) };
    let source =
        if unspecified && local { Some([127, 0, 0, 1]) } else { found.source.or_else(|| netif::source_for(index)) };
    let rtmsg = [family, dst.bytes().len() as u8 * 8, 0, 0, netif::TABLE_MAIN, 0, 0, kind];
    message.put(&rtmsg);
    message.put(&(RTM_F_CLONED | flags).to_le_bytes());
    message.attr_u32(RTA_TABLE, u32::from(netif::TABLE_MAIN));
    message.attr(RTA_DST, dst.bytes());
    message.attr_u32(RTA_OIF, index);
    if let Some(source) = source {
        message.attr(RTA_PREFSRC, &source);
    }
    if let Some(gateway) = found.gateway {
        message.attr(RTA_GATEWAY, &gateway);
    }
    message.attr_u32(RTA_UID, uid);
    // struct rta_cacheinfo: one user (this answer), nothing else counted.
    let mut cacheinfo = [0u8; 32];
    cacheinfo[0] = 1;
    message.attr(RTA_CACHEINFO, &cacheinfo);
    Ok(message)
}

/// `RTM_NEWROUTE` for the route to an IPv6 address: its local table's route if it has one
/// (`::1`), in the shape Linux's IPv6 lookup gives it (the source `::` of length 128, the
/// metric, no uid); `ENETUNREACH` otherwise.
fn local_route6_to(mut message: Message, dst: [u8; 16]) -> Result<Message, Errno> {
    let found = netif::ROUTES
        .iter()
        .find(|r| r.table == netif::TABLE_LOCAL && r.dst == Ip::V6(dst))
        .ok_or(Errno::ENETUNREACH)?;
    message.put(&[AF_INET6, 128, 128, 0, found.table, found.protocol, 0, found.kind]);
    message.put(&0u32.to_le_bytes());
    message.attr_u32(RTA_TABLE, u32::from(found.table));
    message.attr(RTA_DST, &dst);
    message.attr(RTA_SRC, &[0; 16]);
    message.attr(RTA_PREFSRC, &dst);
    message.attr_u32(RTA_PRIORITY, found.priority.unwrap_or(0));
    message.attr_u32(RTA_OIF, found.index);
    let mut cacheinfo = [0u8; 32];
    cacheinfo[0] = 1;
    message.attr(RTA_CACHEINFO, &cacheinfo);
    message.attr(RTA_PREF, &[0]);
    Ok(message)
}

/// `RTM_NEWRULE` for one of Linux's default rules: look `table` up, at `priority`.
fn rule(mut message: Message, family: u8, priority: u32, table: u8) -> Message {
    message.put(&[family, 0, 0, 0, table, 0, 0, FR_ACT_TO_TBL]);
    message.put(&0u32.to_le_bytes());
    message.attr_u32(FRA_TABLE, u32::from(table));
    message.attr_u32(FRA_SUPPRESS_PREFIXLEN, u32::MAX);
    message.attr(FRA_PROTOCOL, &[netif::PROTO_KERNEL]);
    if priority != 0 {
        message.attr_u32(FRA_PRIORITY, priority);
    }
    message
}

/// The attributes (`struct rtattr`: length, type, value padded to 4 bytes) in `bytes`,
/// up to the first malformed one.
fn attributes(bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0usize;
    core::iter::from_fn(move || {
        let head = bytes.get(at..at + 4)?;
        let len = usize::from(u16::from_le_bytes([head[0], head[1]]));
        let value = bytes.get(at + 4..at.checked_add(len)?).filter(|_| len >= 4)?;
        at += len.next_multiple_of(4);
        Some((u16::from_le_bytes([head[2], head[3]]) & 0x3fff, value))
    })
}

/// An `NLMSG_ERROR` for `request`: `error` (a negative errno, 0 for an ack), the request's
/// header, and the rest of the request unless `capped`.
fn error_message(request: &[u8], header: Header, port: u32, error: i32, capped: bool) -> Vec<u8> {
    let mut message = Message::new(NLMSG_ERROR, if capped { NLM_F_CAPPED } else { 0 }, header.seq, port);
    message.put(&error.to_le_bytes());
    message.put(if capped { &request[..NLMSG_HDRLEN] } else { request });
    message.finish()
}

/// One message being built: the header, then what is put after it.
struct Message {
    bytes: Vec<u8>,
}

impl Message {
    fn new(kind: u16, flags: u16, seq: u32, port: u32) -> Message {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&kind.to_le_bytes());
        bytes.extend_from_slice(&flags.to_le_bytes());
        bytes.extend_from_slice(&seq.to_le_bytes());
        bytes.extend_from_slice(&port.to_le_bytes());
        Message { bytes }
    }

    /// Appends `data` (a fixed header such as `ifinfomsg`), padded to 4 bytes.
    fn put(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        self.bytes.resize(self.bytes.len().next_multiple_of(4), 0);
    }

    /// Appends an attribute.
    fn attr(&mut self, kind: u16, value: &[u8]) {
        self.bytes.extend_from_slice(&((4 + value.len()) as u16).to_le_bytes());
        self.bytes.extend_from_slice(&kind.to_le_bytes());
        self.put(value);
    }

    fn attr_u32(&mut self, kind: u16, value: u32) {
        self.attr(kind, &value.to_le_bytes());
    }

    /// The message, its length filled in.
    fn finish(mut self) -> Vec<u8> {
        let len = self.bytes.len() as u32;
        self.bytes[..4].copy_from_slice(&len.to_le_bytes());
        self.bytes
    }
}

/// A dump's datagrams: messages packed up to [`DUMP_DATAGRAM`] bytes each.
#[derive(Default)]
struct Dump {
    datagrams: Vec<Vec<u8>>,
}

impl Dump {
    fn push(&mut self, message: Message) {
        let message = message.finish();
        match self.datagrams.last_mut() {
            Some(last) if last.len() + message.len() <= DUMP_DATAGRAM => last.extend_from_slice(&message),
            _ => self.datagrams.push(message),
        }
    }
}

/// `RTM_NEWLINK` for `interface`: `ifinfomsg`, then the attributes in Linux's order.
fn link(mut message: Message, interface: &Interface) -> Message {
    let mut ifinfo = [0u8; 16];
    ifinfo[2..4].copy_from_slice(&interface.hw_type.to_le_bytes());
    ifinfo[4..8].copy_from_slice(&interface.index.to_le_bytes());
    ifinfo[8..12].copy_from_slice(&interface.flags.to_le_bytes());
    message.put(&ifinfo);
    let mut name = interface.name().to_vec();
    name.push(0);
    message.attr(IFLA_IFNAME, &name);
    message.attr_u32(IFLA_TXQLEN, netif::TXQLEN);
    message.attr(IFLA_OPERSTATE, &[interface.oper_state]);
    message.attr(IFLA_LINKMODE, &[0]);
    message.attr_u32(IFLA_MTU, interface.mtu);
    message.attr_u32(IFLA_GROUP, 0);
    message.attr_u32(IFLA_PROMISCUITY, 0);
    message.attr_u32(IFLA_NUM_TX_QUEUES, 1);
    message.attr_u32(IFLA_NUM_RX_QUEUES, 1);
    message.attr(IFLA_CARRIER, &[1]);
    message.attr(IFLA_QDISC, QDISC);
    message.attr(IFLA_ADDRESS, &interface.hw_addr);
    message.attr(IFLA_BROADCAST, &interface.hw_broadcast);
    message
}

/// `RTM_NEWADDR` for `address`: `ifaddrmsg`, then the attributes in Linux's order (an IPv4
/// address has a local address and a label, an IPv6 one neither). Out of line, as `route`:
/// each inlined into the dump loop costs the kernel text.
#[inline(never)]
fn address(mut message: Message, address: &Address) -> Message {
    let mut ifaddr = [address.ip.family(), address.prefix_len, IFA_F_PERMANENT as u8, address.scope, 0, 0, 0, 0];
    ifaddr[4..].copy_from_slice(&address.index.to_le_bytes());
    message.put(&ifaddr);
    message.attr(IFA_ADDRESS, address.ip.bytes());
    if let Ip::V4(ip) = address.ip {
        message.attr(IFA_LOCAL, &ip);
        if let Some(broadcast) = address.broadcast {
            message.attr(IFA_BROADCAST, &broadcast);
        }
        if let Some(interface) = netif::by_index(address.index) {
            let mut label = interface.name().to_vec();
            label.push(0);
            message.attr(IFA_LABEL, &label);
        }
    }
    message.attr_u32(IFA_FLAGS, IFA_F_PERMANENT);
    // struct ifa_cacheinfo: preferred and valid lifetimes forever, created and updated at boot.
    let mut cacheinfo = [0u8; 16];
    cacheinfo[..8].fill(0xff);
    message.attr(IFA_CACHEINFO, &cacheinfo);
    message
}

/// `RTM_NEWROUTE` for `route`: `rtmsg`, then the attributes in Linux's order.
#[inline(never)]
fn route(mut message: Message, route: &Route) -> Message {
    let rtmsg = [route.dst.family(), route.dst_len, 0, 0, route.table, route.protocol, route.scope, route.kind];
    message.put(&rtmsg);
    message.put(&0u32.to_le_bytes());
    message.attr_u32(RTA_TABLE, u32::from(route.table));
    if route.dst_len > 0 {
        message.attr(RTA_DST, route.dst.bytes());
    }
    if let Some(priority) = route.priority {
        message.attr_u32(RTA_PRIORITY, priority);
    }
    if let Some(source) = route.source {
        message.attr(RTA_PREFSRC, &source);
    }
    if let Some(gateway) = route.gateway {
        message.attr(RTA_GATEWAY, &gateway);
    }
    message.attr_u32(RTA_OIF, route.index);
    if let Ip::V6(_) = route.dst {
        // RTA_PREF: ICMPV6_ROUTER_PREF_MEDIUM.
        message.attr(RTA_PREF, &[0]);
    }
    message
}

#[cfg(test)]
mod tests;
