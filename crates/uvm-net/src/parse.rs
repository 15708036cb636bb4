//! Parsing of `-p` / `[[ports]]` and `--egress` / `[network] egress` values.
//!
//! - A port mapping is docker's `[IP:]HOST:GUEST[/tcp|/udp]`: `8080:80`,
//!   `127.0.0.1:8080:80`, `[::1]:5353:53/udp`. Both ports are required.
//! - An egress rule is `any`, `dns` (the guest's DNS resolver, [`crate::DNS_RESOLVER_V4`]
//!   port 53; it takes no `:PORT`), or a destination with an optional `:PORT`: an IPv4 address
//!   (`10.1.2.3`), an IPv4 network (`10.0.0.0/8`), `host` (the host's loopback as the guest
//!   reaches it, [`crate::HOST_GATEWAY_V4`]), or an IPv6 address or network in brackets
//!   (`[::1]`, `[2001:db8::/32]:443`).
//!
//! Ports go from 1 to 65535, written in decimal. IPv6 addresses must be in brackets, so that a
//! port is never mistaken for the last group of an address. An IPv4-mapped IPv6 address is
//! read as the IPv4 address it holds. A network must have its host bits clear; the error then
//! suggests the network meant.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::{canonical_network, EgressRule, NetConfigError, PortMapping, Proto};
use crate::{ANY_NAME, DNS_NAME, HOST_GATEWAY_NAME, HOST_GATEWAY_V4};

const PORT_MAPPING: &str = "port mapping";
const EGRESS_RULE: &str = "egress rule";
const PROTOCOL: &str = "protocol";

/// How a port mapping is written, the end of every port mapping error.
const PORT_MAPPING_FORMS: &str =
    "write [IP:]HOST:GUEST[/udp], for example `8080:80`, `127.0.0.1:8080:80` or `[::1]:5353:53/udp`";

/// How an egress rule is written, the end of most egress rule errors.
const EGRESS_RULE_FORMS: &str = "write `any`, `dns`, or an address or network with an optional `:PORT`, for example `10.0.0.0/8:5432`, `0.0.0.0/0:443`, `host:5432`, `10.1.2.3` or `[2001:db8::/32]:443`";

impl FromStr for Proto {
    type Err = NetConfigError;

    /// `tcp` or `udp`.
    fn from_str(s: &str) -> Result<Proto, NetConfigError> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ if s.eq_ignore_ascii_case("tcp") || s.eq_ignore_ascii_case("udp") => Err(NetConfigError::invalid(
                PROTOCOL,
                s,
                format!("write it in lower case: `{}`", s.to_ascii_lowercase()),
            )),
            _ => Err(NetConfigError::invalid(PROTOCOL, s, "uvm publishes `tcp` and `udp` ports; write one of them")),
        }
    }
}

impl FromStr for PortMapping {
    type Err = NetConfigError;

    /// `[IP:]HOST:GUEST[/tcp|/udp]`; see the module docs.
    fn from_str(s: &str) -> Result<PortMapping, NetConfigError> {
        let fail =
            |problem: String| NetConfigError::invalid(PORT_MAPPING, s, format!("{problem}; {PORT_MAPPING_FORMS}"));
        let (address_and_ports, proto) = match s.rsplit_once('/') {
            Some((rest, proto)) => (rest, parse_proto_suffix(proto).map_err(fail)?),
            None => (s, Proto::Tcp),
        };
        let (host_ip, ports) = split_host_ip(address_and_ports).map_err(fail)?;
        let Some((host, guest)) = ports.split_once(':') else {
            return Err(fail(format!("`{ports}` after the address must be HOST:GUEST, two ports")));
        };
        let host_port = parse_port(host, "host port").map_err(fail)?;
        let guest_port = parse_port(guest, "guest port").map_err(fail)?;
        Ok(PortMapping::new(host_ip, host_port, guest_port, proto))
    }
}

/// The protocol after the `/` of a port mapping; `Err` is the problem.
fn parse_proto_suffix(text: &str) -> Result<Proto, String> {
    match text {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        "" => Err("the protocol after `/` is missing (leave out the `/` for tcp)".to_owned()),
        _ if text.eq_ignore_ascii_case("tcp") || text.eq_ignore_ascii_case("udp") => {
            Err(format!("the protocol `{text}` must be written in lower case (`/{}`)", text.to_ascii_lowercase()))
        }
        _ => Err(format!("the protocol `{text}` is not supported (uvm publishes tcp and udp ports)")),
    }
}

/// Splits `[IP:]HOST:GUEST` into the host address (`0.0.0.0` when absent) and `HOST:GUEST`;
/// `Err` is the problem.
fn split_host_ip(text: &str) -> Result<(IpAddr, &str), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or_else(|| format!("the `[` of `{text}` has no closing `]`"))?;
        let ip: Ipv6Addr = inside.parse().map_err(|_| match inside.parse::<Ipv4Addr>() {
            Ok(_) => format!("brackets are for IPv6 addresses; write the IPv4 address {inside} without them"),
            Err(_) => format!("`{inside}` in brackets is not an IPv6 address"),
        })?;
        let ports = after
            .strip_prefix(':')
            .ok_or_else(|| format!("the address `[{inside}]` must be followed by `:HOST:GUEST`"))?;
        return Ok((IpAddr::V6(ip), ports));
    }
    match text.matches(':').count() {
        0 => {
            let example = if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
                format!(" (`{text}:{text}` publishes guest port {text} on host port {text})")
            } else {
                String::new()
            };
            Err(format!("`{text}` is not HOST:GUEST; give both the host port and the guest port{example}"))
        }
        1 => Ok((IpAddr::V4(Ipv4Addr::UNSPECIFIED), text)),
        2 => {
            let (ip, ports) = text.split_once(':').unwrap_or_default();
            if ip.is_empty() {
                return Err(format!(
                    "the address before the first `:` is empty; leave it out, with its `:`, to publish on every address (`{ports}`)"
                ));
            }
            let ip: Ipv4Addr = ip.parse().map_err(|_| format!("`{ip}` is not an IPv4 address"))?;
            Ok((IpAddr::V4(ip), ports))
        }
        _ => {
            let mut parts = text.rsplitn(3, ':');
            let (guest, host, ip) = (parts.next(), parts.next(), parts.next());
            let hint = match (ip, host, guest) {
                (Some(ip), Some(host), Some(guest)) if ip.parse::<Ipv6Addr>().is_ok() => {
                    format!(" (`[{ip}]:{host}:{guest}`)")
                }
                _ => String::new(),
            };
            Err(format!("an IPv6 host address must be written in brackets{hint}"))
        }
    }
}

/// A port, 1 to 65535 in decimal digits; `role` ("host port", "port") names it in the problem.
fn parse_port(text: &str, role: &str) -> Result<u16, String> {
    let is_number = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if text.is_empty() {
        return Err(format!("the {role} is missing"));
    }
    if let Some((low, high)) = text.split_once('-') {
        if is_number(low) && is_number(high) {
            return Err(format!("the {role} `{text}` is a range; publish or allow one port at a time"));
        }
    }
    if !is_number(text) {
        return Err(format!("the {role} `{text}` is not a number"));
    }
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(format!("the {role} {text} is out of range (ports go from 1 to 65535)")),
    }
}

impl FromStr for EgressRule {
    type Err = NetConfigError;

    /// `any`, or `DESTINATION[:PORT]`; see the module docs.
    fn from_str(s: &str) -> Result<EgressRule, NetConfigError> {
        let fail = |problem: String| NetConfigError::invalid(EGRESS_RULE, s, format!("{problem}; {EGRESS_RULE_FORMS}"));
        if s == ANY_NAME {
            return Ok(EgressRule::Any);
        }
        if s == DNS_NAME {
            return Ok(EgressRule::DNS);
        }
        if s.is_empty() {
            return Err(fail("the rule is empty".to_owned()));
        }
        let (destination, port) = split_destination_port(s).map_err(fail)?;
        let port = port.map(|p| parse_port(p, "port")).transpose().map_err(fail)?;
        let (network, prefix_len) = match destination {
            Destination::HostGateway => (IpAddr::V4(HOST_GATEWAY_V4), 32),
            Destination::V4(text) => parse_network_v4(text).map_err(fail)?,
            Destination::V6(text) => parse_network_v6(text).map_err(fail)?,
        };
        let masked = mask(network, prefix_len);
        if masked != network {
            let network_rule = EgressRule::Net { network: masked, prefix_len, port };
            let address_rule = EgressRule::Net { network, prefix_len: full_prefix(network), port };
            return Err(NetConfigError::invalid(
                EGRESS_RULE,
                s,
                format!(
                    "{network}/{prefix_len} has host bits set (the network that holds {network} is {masked}/{prefix_len}); write `{network_rule}` for the network, or `{address_rule}` for the one address"
                ),
            ));
        }
        let (network, prefix_len) = canonical_network(network, prefix_len);
        Ok(EgressRule::Net { network, prefix_len, port })
    }
}

/// The destination part of an egress rule, before it is parsed.
enum Destination<'a> {
    /// `host`.
    HostGateway,
    /// An IPv4 address or network, as written.
    V4(&'a str),
    /// An IPv6 address or network, as written inside the brackets.
    V6(&'a str),
}

/// Splits `DESTINATION[:PORT]`; `Err` is the problem.
fn split_destination_port(text: &str) -> Result<(Destination<'_>, Option<&str>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or_else(|| format!("the `[` of `{text}` has no closing `]`"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("only `:PORT` may follow `[{inside}]`, not `{after}`"))?,
            ),
        };
        if !inside.contains(':') {
            return Err(format!("brackets are for IPv6; write the IPv4 destination {inside} without them"));
        }
        return Ok((Destination::V6(inside), port));
    }
    let (destination, port) = match text.matches(':').count() {
        0 => (text, None),
        1 => text.split_once(':').map(|(d, p)| (d, Some(p))).unwrap_or((text, None)),
        _ => {
            return Err(format!(
                "an IPv6 destination must be written in brackets: `[{text}]`, or `[ADDRESS]:PORT` if it ends in a port"
            ))
        }
    };
    if destination == HOST_GATEWAY_NAME {
        return Ok((Destination::HostGateway, port));
    }
    if destination == DNS_NAME {
        return Err(format!(
            "`{DNS_NAME}` is the resolver's port 53 ({}) and takes no port; write `{DNS_NAME}`",
            EgressRule::DNS
        ));
    }
    if destination.eq_ignore_ascii_case(HOST_GATEWAY_NAME)
        || destination.eq_ignore_ascii_case(DNS_NAME)
        || text.eq_ignore_ascii_case(ANY_NAME)
    {
        return Err(format!("write `{}` in lower case", destination.to_ascii_lowercase()));
    }
    Ok((Destination::V4(destination), port))
}

/// `ADDRESS` or `ADDRESS/PREFIX` of IPv4; a lone address is a /32.
fn parse_network_v4(text: &str) -> Result<(IpAddr, u8), String> {
    let (address, prefix) = split_prefix(text);
    let address: Ipv4Addr = address.parse().map_err(|_| {
        if address.is_empty() {
            "the address is missing".to_owned()
        } else {
            format!("`{address}` is not an IPv4 address")
        }
    })?;
    let prefix_len = prefix.map_or(Ok(32), |p| parse_prefix(p, 32, "IPv4"))?;
    Ok((IpAddr::V4(address), prefix_len))
}

/// `ADDRESS` or `ADDRESS/PREFIX` of IPv6 (inside the brackets); a lone address is a /128.
fn parse_network_v6(text: &str) -> Result<(IpAddr, u8), String> {
    let (address, prefix) = split_prefix(text);
    let address: Ipv6Addr = address.parse().map_err(|_| format!("`{address}` in brackets is not an IPv6 address"))?;
    let prefix_len = prefix.map_or(Ok(128), |p| parse_prefix(p, 128, "IPv6"))?;
    Ok((IpAddr::V6(address), prefix_len))
}

fn split_prefix(text: &str) -> (&str, Option<&str>) {
    match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    }
}

/// A prefix length, 0 to `max`, in decimal digits.
fn parse_prefix(text: &str, max: u8, family: &str) -> Result<u8, String> {
    if text.is_empty() {
        return Err("the prefix length after `/` is missing".to_owned());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the prefix length `{text}` is not a number"));
    }
    match text.parse::<u8>() {
        Ok(len) if len <= max => Ok(len),
        _ => Err(format!("the prefix length {text} is out of range (an {family} prefix goes from 0 to {max})")),
    }
}

/// `ip` with every bit past `prefix_len` cleared.
fn mask(ip: IpAddr, prefix_len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix_len)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix_len)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// The prefix length of a single address: 32 or 128.
fn full_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(s: &str) -> PortMapping {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn rule(s: &str) -> EgressRule {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn port_error(s: &str) -> String {
        match s.parse::<PortMapping>() {
            Ok(m) => panic!("{s:?} was accepted as {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn rule_error(s: &str) -> String {
        match s.parse::<EgressRule>() {
            Ok(r) => panic!("{s:?} was accepted as {r:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn net(network: &str, prefix_len: u8, port: Option<u16>) -> EgressRule {
        EgressRule::Net { network: network.parse().unwrap(), prefix_len, port }
    }

    fn mapping(host_ip: &str, host_port: u16, guest_port: u16, proto: Proto) -> PortMapping {
        PortMapping { host_ip: host_ip.parse().unwrap(), host_port, guest_port, proto }
    }

    #[test]
    fn port_mappings_in_docker_syntax() {
        assert_eq!(port("8080:80"), mapping("0.0.0.0", 8080, 80, Proto::Tcp));
        assert_eq!(port("8080:80/tcp"), mapping("0.0.0.0", 8080, 80, Proto::Tcp));
        assert_eq!(port("5353:53/udp"), mapping("0.0.0.0", 5353, 53, Proto::Udp));
        assert_eq!(port("127.0.0.1:8080:80"), mapping("127.0.0.1", 8080, 80, Proto::Tcp));
        assert_eq!(port("[::1]:8080:80"), mapping("::1", 8080, 80, Proto::Tcp));
        assert_eq!(port("[::]:1:65535/udp"), mapping("::", 1, 65535, Proto::Udp));
        assert_eq!(port("[2001:db8::7]:443:8443"), mapping("2001:db8::7", 443, 8443, Proto::Tcp));
        assert_eq!(port("08080:080"), mapping("0.0.0.0", 8080, 80, Proto::Tcp));
    }

    #[test]
    fn an_ipv4_mapped_host_address_is_the_ipv4_address() {
        assert_eq!(port("[::ffff:127.0.0.1]:8080:80"), port("127.0.0.1:8080:80"));
        assert_eq!(port("[::ffff:0.0.0.0]:8080:80"), port("8080:80"));
        assert_eq!(port("[::ffff:127.0.0.1]:8080:80").to_string(), "127.0.0.1:8080:80");
    }

    #[test]
    fn port_mappings_display_as_written_and_parse_back() {
        for text in ["8080:80", "5353:53/udp", "127.0.0.1:8080:80", "[::1]:8080:80", "[::]:1:65535/udp", "10.0.0.1:1:1"]
        {
            let parsed = port(text);
            assert_eq!(parsed.to_string(), text);
            assert_eq!(port(&parsed.to_string()), parsed);
        }
        assert_eq!(port("0.0.0.0:8080:80/tcp").to_string(), "8080:80");
    }

    #[test]
    fn bad_port_mappings_name_the_value_and_the_fix() {
        for (text, problem) in [
            ("80", "give both the host port and the guest port (`80:80` publishes guest port 80"),
            ("", "give both the host port and the guest port"),
            ("0:80", "the host port 0 is out of range (ports go from 1 to 65535)"),
            ("8080:0", "the guest port 0 is out of range"),
            ("65536:80", "the host port 65536 is out of range"),
            ("99999999999999999999:80", "out of range"),
            ("http:80", "the host port `http` is not a number"),
            ("+80:80", "the host port `+80` is not a number"),
            ("8080:", "the guest port is missing"),
            ("8080-8090:80-90", "is a range"),
            ("8080:80/sctp", "the protocol `sctp` is not supported"),
            ("8080:80/TCP", "must be written in lower case (`/tcp`)"),
            ("8080:80/", "the protocol after `/` is missing"),
            (":8080:80", "leave it out, with its `:`, to publish on every address (`8080:80`)"),
            ("localhost:8080:80", "`localhost` is not an IPv4 address"),
            ("::1:8080:80", "an IPv6 host address must be written in brackets (`[::1]:8080:80`)"),
            ("[::1:8080:80", "has no closing `]`"),
            ("[::1]8080:80", "must be followed by `:HOST:GUEST`"),
            ("[127.0.0.1]:8080:80", "brackets are for IPv6 addresses"),
            ("[::1]:8080", "`8080` after the address must be HOST:GUEST"),
            ("1.2.3.4:5:6:7", "an IPv6 host address must be written in brackets"),
        ] {
            let message = port_error(text);
            assert!(message.starts_with(&format!("port mapping `{text}` is not valid: ")), "{message}");
            assert!(message.contains(problem), "{text:?}: {message}");
            assert!(message.ends_with(PORT_MAPPING_FORMS), "{message}");
        }
    }

    #[test]
    fn egress_rules() {
        assert_eq!(rule("any"), EgressRule::Any);
        assert_eq!(rule("10.1.2.3"), net("10.1.2.3", 32, None));
        assert_eq!(rule("10.1.2.3:5432"), net("10.1.2.3", 32, Some(5432)));
        assert_eq!(rule("10.0.0.0/8"), net("10.0.0.0", 8, None));
        assert_eq!(rule("10.0.0.0/8:5432"), net("10.0.0.0", 8, Some(5432)));
        assert_eq!(rule("0.0.0.0/0:443"), net("0.0.0.0", 0, Some(443)));
        assert_eq!(rule("0.0.0.0/0"), net("0.0.0.0", 0, None));
        assert_eq!(rule("10.1.2.3/32"), rule("10.1.2.3"));
        assert_eq!(rule("host"), net("10.0.2.2", 32, None));
        assert_eq!(rule("host:5432"), net("10.0.2.2", 32, Some(5432)));
        assert_eq!(rule("[::1]"), net("::1", 128, None));
        assert_eq!(rule("[::1]:53"), net("::1", 128, Some(53)));
        assert_eq!(rule("[2001:db8::/32]"), net("2001:db8::", 32, None));
        assert_eq!(rule("[2001:db8::/32]:443"), net("2001:db8::", 32, Some(443)));
        assert_eq!(rule("[::/0]"), net("::", 0, None));
        assert_eq!(rule("[::/0]:443"), net("::", 0, Some(443)));
        assert_eq!(rule("[2001:db8::1/128]"), rule("[2001:db8::1]"));
        assert_eq!(rule("dns"), net("10.0.2.3", 32, Some(53)));
    }

    #[test]
    fn the_dns_alias_is_the_resolver_port_53_only() {
        assert_eq!(rule("dns"), EgressRule::DNS);
        assert_eq!(rule("dns"), rule("10.0.2.3:53"));
        assert_eq!(crate::DNS_RESOLVER_V4.octets(), [10, 0, 2, 3], "uvm_abi::net::DNS_RESOLVER_V4");
        let resolver: IpAddr = "10.0.2.3".parse().unwrap();
        assert!(rule("dns").allows(resolver, 53));
        assert!(rule("dns").allows("::ffff:10.0.2.3".parse().unwrap(), 53));
        assert!(!rule("dns").allows(resolver, 853));
        assert!(!rule("dns").allows("10.0.2.2".parse().unwrap(), 53));
        assert!(!rule("dns").allows("8.8.8.8".parse().unwrap(), 53));
    }

    #[test]
    fn the_host_alias_is_the_host_gateway() {
        let IpAddr::V4(gateway) = (match rule("host") {
            EgressRule::Net { network, .. } => network,
            EgressRule::Any => unreachable!(),
        }) else {
            panic!("host is an IPv4 address")
        };
        assert_eq!(gateway.octets(), [10, 0, 2, 2], "uvm_abi::net::HOST_GATEWAY_V4");
        assert!(rule("host:5432").allows("10.0.2.2".parse().unwrap(), 5432));
        assert!(!rule("host:5432").allows("10.0.2.2".parse().unwrap(), 5433));
    }

    #[test]
    fn ipv4_mapped_rules_are_ipv4_rules() {
        assert_eq!(rule("[::ffff:10.1.2.3]"), rule("10.1.2.3"));
        assert_eq!(rule("[::ffff:10.0.0.0/104]:5432"), rule("10.0.0.0/8:5432"));
        assert_eq!(rule("[::ffff:0.0.0.0/96]"), rule("0.0.0.0/0"));
        // A shorter prefix reaches beyond the mapped range: it stays an IPv6 network.
        assert_eq!(rule("[::fffe:0:0/95]"), net("::fffe:0:0", 95, None));
        assert!(rule_error("[::ffff:0:0/95]").contains("write `[::fffe:0:0/95]` for the network"));
        // Mapped destinations are matched as IPv4 ones.
        let mapped: IpAddr = "::ffff:10.9.8.7".parse().unwrap();
        assert!(rule("[::ffff:10.0.0.0/104]").allows(mapped, 1));
        assert!(rule("10.0.0.0/8").allows(mapped, 1));
        assert!(!rule("[::/0]").allows(mapped, 1), "IPv4 destinations need an IPv4 rule");
        // A mapped network built by hand (not by parsing) matches the same way.
        let by_hand = net("::ffff:10.0.0.0", 104, None);
        assert!(by_hand.allows("10.200.0.1".parse().unwrap(), 80));
        assert!(!by_hand.allows("11.0.0.1".parse().unwrap(), 80));
    }

    #[test]
    fn prefix_edge_cases() {
        assert!(rule("0.0.0.0/0").allows("255.255.255.255".parse().unwrap(), 1));
        assert!(!rule("0.0.0.0/0").allows("::1".parse().unwrap(), 1));
        assert!(rule("1.2.3.4/32").allows("1.2.3.4".parse().unwrap(), 1));
        assert!(!rule("1.2.3.4/32").allows("1.2.3.5".parse().unwrap(), 1));
        assert!(rule("[::/0]").allows("2001:db8::1".parse().unwrap(), 1));
        assert!(rule("[2001:db8::1/128]").allows("2001:db8::1".parse().unwrap(), 1));
        assert!(!rule("[2001:db8::1/128]").allows("2001:db8::2".parse().unwrap(), 1));
        assert!(rule("255.255.255.255/32").allows("255.255.255.255".parse().unwrap(), 65535));
        assert!(rule_error("10.0.0.0/33")
            .contains("the prefix length 33 is out of range (an IPv4 prefix goes from 0 to 32)"));
        assert!(rule_error("[::/129]")
            .contains("the prefix length 129 is out of range (an IPv6 prefix goes from 0 to 128)"));
        assert!(rule_error("10.0.0.0/256").contains("out of range"));
        assert!(rule_error("10.0.0.0/-1").contains("the prefix length `-1` is not a number"));
        assert!(rule_error("10.0.0.0/").contains("the prefix length after `/` is missing"));
    }

    #[test]
    fn host_bits_in_a_network_are_refused_with_the_network_meant() {
        let message = rule_error("10.0.0.1/8");
        assert_eq!(
            message,
            "egress rule `10.0.0.1/8` is not valid: 10.0.0.1/8 has host bits set (the network that holds 10.0.0.1 is 10.0.0.0/8); write `10.0.0.0/8` for the network, or `10.0.0.1` for the one address"
        );
        let message = rule_error("192.168.1.77/24:5432");
        assert!(message.contains("write `192.168.1.0/24:5432` for the network, or `192.168.1.77:5432`"), "{message}");
        let message = rule_error("1.2.3.4/0");
        assert!(message.contains("write `0.0.0.0/0`"), "{message}");
        let message = rule_error("[2001:db8::1/32]:443");
        assert!(message.contains("write `[2001:db8::/32]:443` for the network, or `[2001:db8::1]:443`"), "{message}");
        let message = rule_error("[::ffff:10.0.0.1/104]");
        assert!(message.contains("write `[::ffff:10.0.0.0/104]`"), "{message}");
    }

    #[test]
    fn bad_egress_rules_name_the_value_and_the_fix() {
        for (text, problem) in [
            ("", "the rule is empty"),
            ("ANY", "write `any` in lower case"),
            ("Host:5432", "write `host` in lower case"),
            ("DNS", "write `dns` in lower case"),
            ("Dns:53", "write `dns` in lower case"),
            ("dns:53", "`dns` is the resolver's port 53 (10.0.2.3:53) and takes no port; write `dns`"),
            ("dns:5353", "takes no port"),
            ("dns/32", "`dns` is not an IPv4 address"),
            ("all", "`all` is not an IPv4 address"),
            ("example.com:443", "`example.com` is not an IPv4 address"),
            ("10.0.0.0/8:0", "the port 0 is out of range"),
            ("10.0.0.0/8:65536", "the port 65536 is out of range"),
            ("10.0.0.0/8:", "the port is missing"),
            ("10.0.0.0/8:https", "the port `https` is not a number"),
            ("10.0.0.0/8:80-90", "the port `80-90` is a range"),
            (":443", "the address is missing"),
            ("::1", "an IPv6 destination must be written in brackets: `[::1]`"),
            ("2001:db8::/32", "must be written in brackets: `[2001:db8::/32]`"),
            ("[::1", "has no closing `]`"),
            ("[::1]443", "only `:PORT` may follow `[::1]`, not `443`"),
            ("[10.0.0.0/8]", "brackets are for IPv6"),
            ("[fe80::1%eth0]", "is not an IPv6 address"),
        ] {
            let message = rule_error(text);
            assert!(message.starts_with(&format!("egress rule `{text}` is not valid: ")), "{message}");
            assert!(message.contains(problem), "{text:?}: {message}");
            assert!(message.ends_with(EGRESS_RULE_FORMS), "{message}");
        }
    }

    #[test]
    fn egress_rules_display_as_written_and_parse_back() {
        for text in [
            "any",
            "10.1.2.3",
            "10.1.2.3:5432",
            "10.0.0.0/8",
            "10.0.0.0/8:5432",
            "0.0.0.0/0:443",
            "0.0.0.0/0",
            "[::1]",
            "[::1]:53",
            "[2001:db8::/32]:443",
            "[::/0]",
        ] {
            let parsed = rule(text);
            assert_eq!(parsed.to_string(), text);
            assert_eq!(rule(&parsed.to_string()), parsed);
        }
        assert_eq!(rule("host:5432").to_string(), "10.0.2.2:5432");
        assert_eq!(rule("dns").to_string(), "10.0.2.3:53");
        assert_eq!(rule(&rule("dns").to_string()), rule("dns"));
        assert_eq!(rule("[::ffff:10.0.0.0/104]").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn protocols() {
        assert_eq!("tcp".parse::<Proto>(), Ok(Proto::Tcp));
        assert_eq!("udp".parse::<Proto>(), Ok(Proto::Udp));
        assert!("UDP".parse::<Proto>().unwrap_err().to_string().contains("write it in lower case: `udp`"));
        assert!("sctp".parse::<Proto>().unwrap_err().to_string().contains("`tcp` and `udp`"));
        assert_eq!(Proto::Udp.to_string(), "udp");
    }
}
