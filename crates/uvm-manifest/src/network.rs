//! The network keys: `[[ports]]` (guest ports published on the host) and `[network] egress`
//! (what the app may reach), checked into a [`NetworkConfig`].
//!
//! A port entry is checked key by key (`host`, `guest`, `proto`, `host_ip`), then against the
//! earlier entries: no two may bind the same host port on the same or an overlapping host
//! address, nor lead to the same guest port (see [`NetworkConfig::check`]). Egress rules are
//! `uvm_net` rules, parsed from their strings.

use std::net::IpAddr;

use uvm_net::{EgressRule, NetConfigError, NetworkConfig, PortMapping, Proto};

use crate::error::ManifestError;
use crate::raw::{RawNetwork, RawPort};
use crate::rules::check_port;

/// Checks `[[ports]]` and `[network]`. `at` turns a key into the `at` of an error
/// (`"<manifest>: <key>"`).
pub(crate) fn check_network(
    ports: &[RawPort],
    network: &RawNetwork,
    at: &dyn Fn(&str) -> String,
) -> Result<NetworkConfig, ManifestError> {
    let ports = ports
        .iter()
        .enumerate()
        .map(|(i, port)| check_port_entry(port, &|key| at(&format!("[[ports]] entry {}: `{key}`", i + 1))))
        .collect::<Result<Vec<_>, _>>()?;
    let egress = network
        .egress
        .iter()
        .enumerate()
        .map(|(i, rule)| parse_egress_rule(rule, &at(&format!("[network] `egress` item {}", i + 1))))
        .collect::<Result<Vec<_>, _>>()?;
    NetworkConfig::new(ports, egress).map_err(|error| match error {
        NetConfigError::PortClash { first_index, second_index, first, second, clash } => ManifestError::PortClash {
            at: at(&format!("[[ports]] entry {}", second_index + 1)),
            value: second.to_string(),
            other_entry: first_index + 1,
            other: first.to_string(),
            explanation: clash.explain(&second, &first),
        },
        error => ManifestError::Network { at: at("[[ports]]"), error },
    })
}

/// One `[[ports]]` entry. `at` turns its key into the `at` of an error.
fn check_port_entry(raw: &RawPort, at: &dyn Fn(&str) -> String) -> Result<PortMapping, ManifestError> {
    let host_port = check_port(raw.host, &at("host"))?;
    let guest_port = check_port(raw.guest, &at("guest"))?;
    let proto = match raw.proto.as_deref() {
        None => Proto::Tcp,
        Some(proto) => {
            proto.parse().map_err(|_| ManifestError::PortProto { at: at("proto"), value: proto.to_owned() })?
        }
    };
    let host_ip = match raw.host_ip.as_deref() {
        None => IpAddr::from([0, 0, 0, 0]),
        Some(text) => parse_host_ip(text, &at("host_ip"))?,
    };
    Ok(PortMapping::new(host_ip, host_port, guest_port, proto))
}

/// A `host_ip`: an IPv4 or IPv6 address, alone (no brackets, no port).
fn parse_host_ip(text: &str, at: &str) -> Result<IpAddr, ManifestError> {
    if let Ok(ip) = text.parse() {
        return Ok(ip);
    }
    let unbracketed = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    let fix = if let Some(inner) = unbracketed.filter(|inner| inner.parse::<IpAddr>().is_ok()) {
        format!("write it without brackets: host_ip = {inner:?}")
    } else if let Some((address, port)) = text.rsplit_once(':').filter(|(a, _)| a.parse::<IpAddr>().is_ok()) {
        format!("write the address alone, host_ip = {address:?}, and the port as `host = {port}`")
    } else {
        "write an IPv4 or IPv6 address (a host name is not looked up)".to_owned()
    };
    Err(ManifestError::PortHostIp { at: at.to_owned(), value: text.to_owned(), fix })
}

/// One `[network] egress` rule.
pub(crate) fn parse_egress_rule(text: &str, at: &str) -> Result<EgressRule, ManifestError> {
    text.parse().map_err(|error| ManifestError::Network { at: at.to_owned(), error })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(key: &str) -> String {
        format!("app.toml: {key}")
    }

    fn raw_port(host: i64, guest: i64, proto: Option<&str>, host_ip: Option<&str>) -> RawPort {
        RawPort { host, guest, proto: proto.map(str::to_owned), host_ip: host_ip.map(str::to_owned) }
    }

    fn network(ports: &[RawPort], egress: &[&str]) -> Result<NetworkConfig, ManifestError> {
        let network = RawNetwork { egress: egress.iter().map(|r| r.to_string()).collect() };
        check_network(ports, &network, &at)
    }

    #[test]
    fn ports_and_egress_with_defaults() {
        let config = network(
            &[raw_port(8080, 80, None, None), raw_port(5353, 53, Some("udp"), Some("::1"))],
            &["10.0.0.0/8:5432", "0.0.0.0/0:443", "any"],
        )
        .unwrap();
        let ports: Vec<String> = config.ports.iter().map(ToString::to_string).collect();
        assert_eq!(ports, ["8080:80", "[::1]:5353:53/udp"]);
        let rules: Vec<String> = config.egress.rules.iter().map(ToString::to_string).collect();
        assert_eq!(rules, ["10.0.0.0/8:5432", "0.0.0.0/0:443", "any"]);
        assert_eq!(network(&[], &[]).unwrap(), NetworkConfig::default(), "nothing published, nothing reachable");
    }

    #[test]
    fn the_dns_rule_is_the_resolver_port_53() {
        let config = network(&[], &["dns", "host:5432"]).unwrap();
        let rules: Vec<String> = config.egress.rules.iter().map(ToString::to_string).collect();
        assert_eq!(rules, ["10.0.2.3:53", "10.0.2.2:5432"]);
        let err = network(&[], &["dns:53"]).unwrap_err().to_string();
        assert!(err.starts_with("app.toml: [network] `egress` item 1: egress rule `dns:53` is not valid"), "{err}");
    }

    #[test]
    fn an_ipv4_mapped_host_ip_is_its_ipv4_address() {
        let config = network(&[raw_port(8080, 80, None, Some("::ffff:127.0.0.1"))], &[]).unwrap();
        assert_eq!(config.ports[0].to_string(), "127.0.0.1:8080:80");
    }

    #[test]
    fn bad_ports_name_the_entry_the_key_and_the_fix() {
        let error = |port: RawPort| network(&[raw_port(1, 1, None, None), port], &[]).unwrap_err().to_string();
        assert_eq!(
            error(raw_port(0, 80, None, None)),
            "app.toml: [[ports]] entry 2: `host` must be a port number from 1 to 65535, got 0; pick a port in that range"
        );
        assert!(error(raw_port(80, 65536, None, None)).starts_with("app.toml: [[ports]] entry 2: `guest` must be"));
        assert!(error(raw_port(80, -1, None, None)).contains("got -1"));
        assert_eq!(
            error(raw_port(80, 80, Some("sctp"), None)),
            "app.toml: [[ports]] entry 2: `proto` must be \"tcp\" or \"udp\", got \"sctp\"; write proto = \"udp\" for UDP, or leave the key out for TCP"
        );
        assert!(error(raw_port(80, 80, Some("UDP"), None)).contains("got \"UDP\""));
        let message = error(raw_port(80, 80, None, Some("[::1]")));
        assert!(message.starts_with("app.toml: [[ports]] entry 2: `host_ip` must be a host IP address"), "{message}");
        assert!(message.ends_with("write it without brackets: host_ip = \"::1\""), "{message}");
        let message = error(raw_port(80, 80, None, Some("127.0.0.1:8080")));
        assert!(message.ends_with("write the address alone, host_ip = \"127.0.0.1\", and the port as `host = 8080`"));
        let message = error(raw_port(80, 80, None, Some("localhost")));
        assert!(message.ends_with("(a host name is not looked up)"), "{message}");
    }

    #[test]
    fn clashing_ports_name_both_entries() {
        let err = network(
            &[
                raw_port(8080, 80, None, None),
                raw_port(9090, 90, None, None),
                raw_port(8080, 81, None, Some("127.0.0.1")),
            ],
            &[],
        )
        .unwrap_err();
        assert!(matches!(err, ManifestError::PortClash { other_entry: 1, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "app.toml: [[ports]] entry 3 (`127.0.0.1:8080:81`) and [[ports]] entry 1 (`8080:80`) both bind host port 8080/tcp, on 127.0.0.1 and 0.0.0.0, which overlap (0.0.0.0 is every address of its kind); give each its own host port"
        );
        let err = network(&[raw_port(8080, 80, None, None), raw_port(8081, 80, None, None)], &[]).unwrap_err();
        assert!(err.to_string().contains("both lead to guest port 80/tcp"), "{err}");
        // The same ports over TCP and UDP do not clash.
        network(&[raw_port(53, 53, None, None), raw_port(53, 53, Some("udp"), None)], &[]).unwrap();
    }

    #[test]
    fn bad_egress_rules_name_the_item() {
        let err = network(&[], &["any", "10.0.0.1/8"]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "app.toml: [network] `egress` item 2: egress rule `10.0.0.1/8` is not valid: 10.0.0.1/8 has host bits set"
            ),
            "{err}"
        );
        assert!(err.to_string().contains("write `10.0.0.0/8` for the network"), "{err}");
    }
}
