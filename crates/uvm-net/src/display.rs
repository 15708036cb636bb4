//! `Display` for the network settings, in the syntax [`crate::parse`] reads: a value written
//! out parses back to the same value. Defaults are left out (`0.0.0.0:` and `/tcp` of a port
//! mapping, `/32` and `/128` of an egress rule); IPv6 addresses are in brackets.

use std::fmt;
use std::net::IpAddr;

use crate::{EgressRule, PortMapping, Proto, ANY_NAME};

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            IpAddr::V4(ip) if ip.is_unspecified() => {}
            IpAddr::V4(ip) => write!(f, "{ip}:")?,
            IpAddr::V6(ip) => write!(f, "[{ip}]:")?,
        }
        write!(f, "{}:{}", self.host_port, self.guest_port)?;
        if self.proto != Proto::Tcp {
            write!(f, "/{}", self.proto)?;
        }
        Ok(())
    }
}

impl fmt::Display for EgressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let EgressRule::Net { network, prefix_len, port } = *self else {
            return f.write_str(ANY_NAME);
        };
        match network {
            IpAddr::V4(ip) if prefix_len == 32 => write!(f, "{ip}")?,
            IpAddr::V4(ip) => write!(f, "{ip}/{prefix_len}")?,
            IpAddr::V6(ip) if prefix_len == 128 => write!(f, "[{ip}]")?,
            IpAddr::V6(ip) => write!(f, "[{ip}/{prefix_len}]")?,
        }
        if let Some(port) = port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}
