//! Socket options (SetOpt, GetOpt): which reach the host socket. A whitelist: the options
//! apps set on TCP and UDP sockets for tuning and liveness, with the few the VMM answers
//! itself (`SO_DOMAIN`, `IPV6_V6ONLY`) or translates for an IPv4 host socket behind an IPv6
//! guest socket. The guest keeps the ones that are its own business (`SO_RCVTIMEO`,
//! `SO_SNDTIMEO`, `O_NONBLOCK`); anything else is `ENOPROTOOPT`.

use uvm_abi::net::{NetCall, NET_ADDR_MAX};

use super::addr::Family;
use super::sys::{self, Errno};
use super::State;

/// How the VMM treats an option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Set and get on the host socket as is.
    Pass,
    /// Get from the host socket; setting it is `ENOPROTOOPT`.
    GetOnly,
    /// `SO_DOMAIN`: the guest socket's family (its host socket may be of the other one).
    Domain,
    /// `IPV6_V6ONLY`: kept per guest socket (the host socket stays dual-stack, so that the
    /// VM's loopback, which is IPv4 on the host, reaches it).
    V6Only,
    /// An IPv6 option that, on an IPv4 host socket, is this IPv4 one (`IPV6_TCLASS` ->
    /// `IP_TOS`, `IPV6_UNICAST_HOPS` -> `IP_TTL`).
    Ipv6As(i32),
}

/// The rule for option `level`/`name` on a guest socket of `family`; `None`: `ENOPROTOOPT`.
pub fn rule(level: i32, name: i32, family: Family) -> Option<Rule> {
    match level {
        libc::SOL_SOCKET => socket_rule(name),
        libc::IPPROTO_TCP => tcp_rule(name),
        libc::IPPROTO_IP => matches!(name, libc::IP_TOS | libc::IP_TTL | libc::IP_RECVERR).then_some(Rule::Pass),
        libc::IPPROTO_IPV6 if family == Family::V6 => match name {
            libc::IPV6_V6ONLY => Some(Rule::V6Only),
            libc::IPV6_TCLASS => Some(Rule::Ipv6As(libc::IP_TOS)),
            libc::IPV6_UNICAST_HOPS => Some(Rule::Ipv6As(libc::IP_TTL)),
            _ => None,
        },
        _ => None,
    }
}

fn socket_rule(name: i32) -> Option<Rule> {
    match name {
        libc::SO_REUSEADDR
        | libc::SO_REUSEPORT
        | libc::SO_KEEPALIVE
        | libc::SO_SNDBUF
        | libc::SO_RCVBUF
        | libc::SO_LINGER
        | libc::SO_BROADCAST
        | libc::SO_OOBINLINE
        | libc::SO_RCVLOWAT
        | libc::SO_PRIORITY => Some(Rule::Pass),
        libc::SO_ERROR | libc::SO_TYPE | libc::SO_PROTOCOL | libc::SO_ACCEPTCONN => Some(Rule::GetOnly),
        libc::SO_DOMAIN => Some(Rule::Domain),
        _ => None,
    }
}

fn tcp_rule(name: i32) -> Option<Rule> {
    match name {
        libc::TCP_NODELAY
        | libc::TCP_MAXSEG
        | libc::TCP_CORK
        | libc::TCP_KEEPIDLE
        | libc::TCP_KEEPINTVL
        | libc::TCP_KEEPCNT
        | libc::TCP_USER_TIMEOUT
        | libc::TCP_QUICKACK
        | libc::TCP_DEFER_ACCEPT
        | libc::TCP_FASTOPEN => Some(Rule::Pass),
        libc::TCP_INFO => Some(Rule::GetOnly),
        _ => None,
    }
}

fn option_name(call: &NetCall) -> (i32, i32) {
    (call.arg[0] as i32, call.arg[1] as i32)
}

/// SetOpt: option `arg[0]`/`arg[1]` to the `addr_len` bytes in `addr`.
pub(super) fn set(st: &mut State, call: &NetCall) -> Result<i64, Errno> {
    let socket = st.handles.get_mut(call.handle).ok_or(Errno(libc::EBADF))?;
    let (level, name) = option_name(call);
    let value = &call.addr[..(call.addr_len as usize).min(NET_ADDR_MAX)];
    match rule(level, name, socket.family).ok_or(Errno(libc::ENOPROTOOPT))? {
        Rule::Pass => sys::set_option(&socket.fd, level, name, value)?,
        Rule::GetOnly | Rule::Domain => return Err(Errno(libc::ENOPROTOOPT)),
        Rule::V6Only => {
            let bytes: [u8; 4] = value.get(..4).and_then(|b| b.try_into().ok()).ok_or(Errno(libc::EINVAL))?;
            socket.v6only = i32::from_ne_bytes(bytes) != 0;
        }
        Rule::Ipv6As(v4_name) if socket.host_family == Family::V4 => {
            sys::set_option(&socket.fd, libc::IPPROTO_IP, v4_name, value)?
        }
        Rule::Ipv6As(_) => sys::set_option(&socket.fd, level, name, value)?,
    }
    Ok(0)
}

/// GetOpt: option `arg[0]`/`arg[1]` into `addr` (`addr_len`: room in, length out).
pub(super) fn get(st: &mut State, call: &mut NetCall) -> Result<i64, Errno> {
    let socket = st.socket(call.handle)?;
    let (level, name) = option_name(call);
    let room = (call.addr_len as usize).min(NET_ADDR_MAX);
    let mut buf = [0u8; NET_ADDR_MAX];
    let out = &mut buf[..room];
    let len = match rule(level, name, socket.family).ok_or(Errno(libc::ENOPROTOOPT))? {
        Rule::Pass | Rule::GetOnly => sys::get_option(&socket.fd, level, name, out)?,
        Rule::Domain => put_int(out, socket.family.raw()),
        Rule::V6Only => put_int(out, i32::from(socket.v6only)),
        Rule::Ipv6As(v4_name) if socket.host_family == Family::V4 => {
            sys::get_option(&socket.fd, libc::IPPROTO_IP, v4_name, out)?
        }
        Rule::Ipv6As(_) => sys::get_option(&socket.fd, level, name, out)?,
    };
    call.addr[..len].copy_from_slice(&buf[..len]);
    call.addr_len = len as u32;
    Ok(0)
}

/// Writes an int option value into `out` (as much of it as fits, as Linux does).
fn put_int(out: &mut [u8], value: i32) -> usize {
    let bytes = value.to_ne_bytes();
    let len = out.len().min(bytes.len());
    out[..len].copy_from_slice(&bytes[..len]);
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whitelist_passes_tuning_options_and_refuses_the_rest() {
        assert_eq!(rule(libc::SOL_SOCKET, libc::SO_REUSEADDR, Family::V4), Some(Rule::Pass));
        assert_eq!(rule(libc::SOL_SOCKET, libc::SO_ERROR, Family::V4), Some(Rule::GetOnly));
        assert_eq!(rule(libc::SOL_SOCKET, libc::SO_DOMAIN, Family::V6), Some(Rule::Domain));
        assert_eq!(rule(libc::SOL_SOCKET, libc::SO_RCVTIMEO, Family::V4), None);
        assert_eq!(rule(libc::SOL_SOCKET, libc::SO_BINDTODEVICE, Family::V4), None);
        assert_eq!(rule(libc::IPPROTO_TCP, libc::TCP_NODELAY, Family::V6), Some(Rule::Pass));
        assert_eq!(rule(libc::IPPROTO_TCP, libc::TCP_CONGESTION, Family::V4), None);
        assert_eq!(rule(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, Family::V6), Some(Rule::V6Only));
        assert_eq!(rule(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, Family::V4), None);
        assert_eq!(rule(libc::IPPROTO_IP, libc::IP_TOS, Family::V6), Some(Rule::Pass));
        assert_eq!(rule(libc::IPPROTO_IP, libc::IP_HDRINCL, Family::V4), None);
        assert_eq!(rule(99, 1, Family::V4), None);
    }
}
