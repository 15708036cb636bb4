//! The files of `/proc/PID/net` (and `/proc/net`, a link to `self/net`), in Linux's formats,
//! from the VM's interfaces (`netif`): `dev` (each interface's counters: not counted, 0, as
//! the VM's traffic goes through the VMM's host sockets, not through an interface), `route`
//! (the main table's IPv4 routes) and `if_inet6` (the IPv6 addresses). `fs::proc` serves them.

use alloc::format;
use alloc::string::String;

use crate::netif::{self, Ip, TABLE_MAIN};

/// An interface's sixteen counters in `/proc/net/dev`'s columns, all 0 (not counted).
const ZERO_COUNTERS: &str =
    "       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n";

/// `/proc/net/dev`.
pub fn dev() -> String {
    let mut text = String::from(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n",
    );
    for interface in &netif::INTERFACES {
        let name = core::str::from_utf8(interface.name()).unwrap_or("?");
        text.push_str(&format!("{name:>6}:"));
        text.push_str(ZERO_COUNTERS);
    }
    text
}

/// `RTF_UP`.
const RTF_UP: u16 = 0x1;
/// `RTF_GATEWAY`.
const RTF_GATEWAY: u16 = 0x2;

/// `/proc/net/route`: a line per IPv4 route of the main table, each padded to 127 columns;
/// addresses as the 32-bit words they are in memory, in hex.
pub fn route() -> String {
    let mut text = String::new();
    push_padded(
        &mut text,
        String::from("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"),
    );
    for route in netif::ROUTES.iter().filter(|r| r.table == TABLE_MAIN) {
        let Ip::V4(dst) = route.dst else { continue };
        let Some(interface) = netif::by_index(route.index) else { continue };
        let word = |bytes: [u8; 4]| u32::from_le_bytes(bytes);
        let mask = u32::MAX.checked_shl(32 - u32::from(route.dst_len)).unwrap_or(0).to_be_bytes();
        let flags = RTF_UP | if route.gateway.is_some() { RTF_GATEWAY } else { 0 };
        let name = core::str::from_utf8(interface.name()).unwrap_or("?");
        push_padded(
            &mut text,
            format!(
                "{name}\t{:08X}\t{:08X}\t{flags:04X}\t0\t0\t0\t{:08X}\t0\t0\t0",
                word(dst),
                word(route.gateway.unwrap_or([0; 4])),
                word(mask)
            ),
        );
    }
    text
}

/// Appends `line` padded with spaces to 127 columns, and a newline (as Linux's `%-127s\n`).
fn push_padded(text: &mut String, line: String) {
    text.push_str(&format!("{line:<127}\n"));
}

/// The scope `if_inet6` shows (Linux's `IPV6_ADDR_*` scope bits) for an `RT_SCOPE_*`.
fn if_inet6_scope(scope: u8) -> u8 {
    match scope {
        netif::SCOPE_HOST => 0x10,
        netif::SCOPE_LINK => 0x20,
        _ => 0,
    }
}

/// `IFA_F_PERMANENT`.
const IFA_F_PERMANENT: u8 = 0x80;

/// `/proc/net/if_inet6`: address (32 hex digits), interface index, prefix length, scope,
/// flags and interface name.
pub fn if_inet6() -> String {
    let mut text = String::new();
    for address in &netif::ADDRESSES {
        let Ip::V6(ip) = address.ip else { continue };
        let Some(interface) = netif::by_index(address.index) else { continue };
        for byte in ip {
            text.push_str(&format!("{byte:02x}"));
        }
        let name = core::str::from_utf8(interface.name()).unwrap_or("?");
        text.push_str(&format!(
            " {:02x} {:02x} {:02x} {IFA_F_PERMANENT:02x} {name:>8}\n",
            address.index,
            address.prefix_len,
            if_inet6_scope(address.scope)
        ));
    }
    text
}
