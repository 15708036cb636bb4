//! The files of `/proc/PID/net` (and `/proc/net`, a link to `self/net`), in Linux's formats,
//! from the VM's interfaces (`netif`): `dev` (each interface's counters: not counted, 0, as
//! the VM's traffic goes through the VMM's host sockets, not through an interface), `route`
//! (the main table's IPv4 routes) and `if_inet6` (the IPv6 addresses). `fs::proc` serves them.
//! Their fixed texts are cold read-only data (mapped with the cold text, not copied into
//! each VM: no start reads them).

use alloc::format;
use alloc::vec::Vec;

use crate::netif::{self, Ip, TABLE_MAIN};

#[link_section = ".rodata.cold.procnet"]
static DEV_HEADER: [u8; 200] = *b"Inter-|   Receive                                                |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

/// An interface's sixteen counters in `/proc/net/dev`'s columns, all 0 (not counted).
#[link_section = ".rodata.cold.procnet"]
static ZERO_COUNTERS: [u8; 116] =
    *b"       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n";

#[link_section = ".rodata.cold.procnet"]
static ROUTE_HEADER: [u8; 72] = *b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT";

/// Appends `text` right-aligned in `width` columns.
fn push_right(out: &mut Vec<u8>, text: &[u8], width: usize) {
    out.resize(out.len() + width.saturating_sub(text.len()), b' ');
    out.extend_from_slice(text);
}

/// `/proc/net/dev`.
pub fn dev() -> Vec<u8> {
    let mut out = DEV_HEADER.to_vec();
    for interface in &netif::INTERFACES {
        push_right(&mut out, interface.name(), 6);
        out.push(b':');
        out.extend_from_slice(&ZERO_COUNTERS);
    }
    out
}

/// `RTF_UP`.
const RTF_UP: u16 = 0x1;
/// `RTF_GATEWAY`.
const RTF_GATEWAY: u16 = 0x2;

/// `/proc/net/route`: a line per IPv4 route of the main table, each padded to 127 columns;
/// addresses as the 32-bit words they are in memory, in hex.
pub fn route() -> Vec<u8> {
    let mut out = Vec::new();
    push_line(&mut out, &ROUTE_HEADER);
    for route in netif::ROUTES.iter().filter(|r| r.table == TABLE_MAIN) {
        let Ip::V4(dst) = route.dst else { continue };
        let Some(interface) = netif::by_index(route.index) else { continue };
        let word = |bytes: [u8; 4]| u32::from_le_bytes(bytes);
        let mask = u32::MAX.checked_shl(32 - u32::from(route.dst_len)).unwrap_or(0).to_be_bytes();
        let flags = RTF_UP | if route.gateway.is_some() { RTF_GATEWAY } else { 0 };
        let mut line = interface.name().to_vec();
        let fields = format!(
            "\t{:08X}\t{:08X}\t{flags:04X}\t0\t0\t0\t{:08X}\t0\t0\t0",
            word(dst),
            word(route.gateway.unwrap_or([0; 4])),
            word(mask)
        );
        line.extend_from_slice(fields.as_bytes());
        push_line(&mut out, &line);
    }
    out
}

/// Appends `line` padded with spaces to 127 columns, and a newline (as Linux's `%-127s\n`).
fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    out.extend_from_slice(line);
    out.resize(out.len() + 127usize.saturating_sub(line.len()), b' ');
    out.push(b'\n');
}

/// The scope `if_inet6` shows (Linux's `IPV6_ADDR_*` scope bits) for an `RT_SCOPE_*`.
fn if_inet6_scope(scope: u8) -> u8 {
    match scope {
        netif::SCOPE_HOST => 0x10,
        netif::SCOPE_LINK => 0x20,
        _ => 0,
    }
}

/// Appends `byte` as two lowercase hex digits.
fn push_hex(out: &mut Vec<u8>, byte: u8) {
    let digit = |n: u8| if n < 10 { b'0' + n } else { b'a' + n - 10 };
    out.extend_from_slice(&[digit(byte >> 4), digit(byte & 0xf)]);
}

/// `IFA_F_PERMANENT`.
const IFA_F_PERMANENT: u8 = 0x80;

/// `/proc/net/if_inet6`: address (32 hex digits), interface index, prefix length, scope,
/// flags and interface name.
pub fn if_inet6() -> Vec<u8> {
    let mut out = Vec::new();
    for address in &netif::ADDRESSES {
        let Ip::V6(ip) = address.ip else { continue };
        let Some(interface) = netif::by_index(address.index) else { continue };
        ip.iter().for_each(|&byte| push_hex(&mut out, byte));
        let flags = IFA_F_PERMANENT;
        for field in [address.index as u8, address.prefix_len, if_inet6_scope(address.scope), flags] {
            out.push(b' ');
            push_hex(&mut out, field);
        }
        out.push(b' ');
        push_right(&mut out, interface.name(), 8);
        out.push(b'\n');
    }
    out
}
