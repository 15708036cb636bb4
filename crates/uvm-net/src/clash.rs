//! Published ports that cannot coexist: two that bind the same host port (on the same or an
//! overlapping host address), or two that lead to the same guest port.

use std::net::IpAddr;

use crate::PortMapping;

/// What two published ports share that they may not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortClash {
    /// Both bind the same host port and protocol on the same host address, or on addresses
    /// that overlap (a wildcard address and another of its family).
    HostAddress,
    /// Both lead to the same guest port and protocol.
    GuestPort,
}

impl PortMapping {
    /// What this mapping and `other` share that they may not, if anything. A host address
    /// clash is reported before a guest port clash.
    pub fn clash_with(&self, other: &PortMapping) -> Option<PortClash> {
        if self.proto != other.proto {
            return None;
        }
        if self.host_port == other.host_port && addresses_overlap(self.host_ip, other.host_ip) {
            return Some(PortClash::HostAddress);
        }
        if self.guest_port == other.guest_port {
            return Some(PortClash::GuestPort);
        }
        None
    }
}

impl PortClash {
    /// What `first` and `second` share and how to fix it, as the end of a sentence that
    /// names the two: "both bind host port 8080/tcp on 0.0.0.0; give each its own host port".
    pub fn explain(&self, first: &PortMapping, second: &PortMapping) -> String {
        let proto = first.proto;
        match self {
            PortClash::HostAddress if first.host_ip == second.host_ip => format!(
                "both bind host port {}/{proto} on {}; give each its own host port",
                first.host_port, first.host_ip
            ),
            PortClash::HostAddress => format!(
                "both bind host port {}/{proto}, on {} and {}, which overlap ({} is every address of its kind); give each its own host port",
                first.host_port,
                first.host_ip,
                second.host_ip,
                if first.host_ip.is_unspecified() { first.host_ip } else { second.host_ip }
            ),
            PortClash::GuestPort => format!(
                "both lead to guest port {}/{proto}; publish each guest port once (remove one, or change its guest port)",
                first.guest_port
            ),
        }
    }
}

/// Whether binding `a` and `b` to the same port would collide: they are equal, or one is the
/// wildcard address of the other's family.
fn addresses_overlap(a: IpAddr, b: IpAddr) -> bool {
    a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NetConfigError, NetworkConfig};

    fn port(s: &str) -> PortMapping {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn clashing_ports_are_refused() {
        let config = |ports: &[&str]| NetworkConfig::new(ports.iter().map(|p| port(p)).collect(), Vec::new());
        config(&["8080:80", "8081:81", "8080:80/udp", "127.0.0.1:9000:90", "127.0.0.2:9000:91", "[::1]:9000:92"])
            .unwrap();

        let err = config(&["8080:80", "9090:90", "8080:81"]).unwrap_err();
        assert!(
            matches!(
                err,
                NetConfigError::PortClash { first_index: 0, second_index: 2, clash: PortClash::HostAddress, .. }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "published ports `8080:80` and `8080:81` both bind host port 8080/tcp on 0.0.0.0; give each its own host port"
        );

        let err = config(&["8080:80", "8081:80"]).unwrap_err();
        assert!(matches!(err, NetConfigError::PortClash { clash: PortClash::GuestPort, .. }), "{err:?}");
        assert!(err.to_string().contains("both lead to guest port 80/tcp; publish each guest port once"), "{err}");

        let err = config(&["127.0.0.1:8080:80", "8080:81"]).unwrap_err();
        assert!(err.to_string().contains("on 127.0.0.1 and 0.0.0.0, which overlap (0.0.0.0 is every"), "{err}");
        let err = config(&["[::]:8080:80", "[::1]:8080:81"]).unwrap_err();
        assert!(matches!(err, NetConfigError::PortClash { clash: PortClash::HostAddress, .. }), "{err:?}");
        // The IPv4 wildcard does not cover IPv6 addresses, nor the other way round.
        config(&["8080:80", "[::1]:8080:81"]).unwrap();
        config(&["[::]:8080:80", "127.0.0.1:8080:81"]).unwrap();
        // An IPv4-mapped host address is its IPv4 address.
        let err = config(&["127.0.0.1:8080:80", "[::ffff:127.0.0.1]:8080:81/tcp"]).unwrap_err();
        assert!(matches!(err, NetConfigError::PortClash { clash: PortClash::HostAddress, .. }), "{err:?}");
    }

    #[test]
    fn an_empty_config_is_the_default() {
        let config = NetworkConfig::new(Vec::new(), Vec::new()).unwrap();
        assert!(config.is_empty());
        assert_eq!(config, NetworkConfig::default());
        assert!(!config.egress.allows("10.0.2.2".parse().unwrap(), 80), "nothing is allowed by default");
    }
}
