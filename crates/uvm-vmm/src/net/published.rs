//! Published ports (`-p HOST:GUEST`): bound on the host before the VM boots, so a port that
//! is taken is an error before anything runs, and connections queue while the app starts.
//! The VMM keeps each socket for the VM's whole life; a guest socket bound to the guest port
//! gets a duplicate of it, so the app may close it and listen again.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use uvm_net::{PortMapping, Proto};

use super::addr::{Family, HOST_LOOPBACK};
use super::sys::{self, Errno};
use crate::error::VmError;

/// The backlog of a published stream port (connections queue there while the app boots).
const PUBLISHED_BACKLOG: i32 = 1024;

/// One published port, bound (and listening, for TCP) on the host.
pub struct Published {
    /// What was asked.
    pub mapping: PortMapping,
    /// The host socket (kept by the VMM until the VM ends).
    pub socket: OwnedFd,
    /// Its family.
    pub family: Family,
    /// Where the VM's own sockets reach it on the host.
    pub reach: SocketAddr,
}

/// Binds every published port of `ports`.
pub fn bind_all(ports: &[PortMapping]) -> Result<Vec<Published>, VmError> {
    ports.iter().map(bind_one).collect()
}

/// `8080:80/tcp`, or `127.0.0.1:8080:80/udp`, as `-p` takes it.
pub fn describe(mapping: &PortMapping) -> String {
    let proto = match mapping.proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    };
    let ports = format!("{}:{}/{proto}", mapping.host_port, mapping.guest_port);
    if mapping.host_ip.is_unspecified() {
        ports
    } else {
        match mapping.host_ip {
            IpAddr::V6(ip) => format!("[{ip}]:{ports}"),
            IpAddr::V4(ip) => format!("{ip}:{ports}"),
        }
    }
}

fn bind_one(mapping: &PortMapping) -> Result<Published, VmError> {
    let family = if mapping.host_ip.is_ipv4() { Family::V4 } else { Family::V6 };
    let stream = mapping.proto == Proto::Tcp;
    let error = |Errno(errno)| publish_error(mapping, errno);
    let socket = sys::socket(family == Family::V6, stream).map_err(error)?;
    let addr = SocketAddr::new(mapping.host_ip, mapping.host_port);
    if stream {
        sys::set_int_option(&socket, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1).map_err(error)?;
    }
    sys::bind(&socket, &addr).map_err(error)?;
    if stream {
        sys::listen(&socket, PUBLISHED_BACKLOG).map_err(error)?;
    }
    sys::set_nonblocking(socket.as_raw_fd()).map_err(error)?;
    let reach_ip = if mapping.host_ip.is_unspecified() { HOST_LOOPBACK } else { mapping.host_ip };
    Ok(Published { mapping: *mapping, socket, family, reach: SocketAddr::new(reach_ip, mapping.host_port) })
}

fn publish_error(mapping: &PortMapping, errno: i32) -> VmError {
    let published = describe(mapping);
    let port = mapping.host_port;
    match errno {
        libc::EADDRINUSE => VmError::PortInUse { port, published },
        libc::EACCES => VmError::PortUnavailable {
            port,
            published,
            why: "permission denied".into(),
            fix: "choose a host port of 1024 or more with -p".into(),
        },
        libc::EADDRNOTAVAIL => VmError::PortUnavailable {
            port,
            published,
            why: format!("the host has no address {}", mapping.host_ip),
            fix: "publish on one of the host's addresses, or leave the address out".into(),
        },
        _ => VmError::PortUnavailable {
            port,
            published,
            why: std::io::Error::from_raw_os_error(errno).to_string(),
            fix: "publish on another host address or port with -p".into(),
        },
    }
}
