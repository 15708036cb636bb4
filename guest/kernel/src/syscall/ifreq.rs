//! The network interface ioctls on a socket (`struct ifreq`, `struct ifconf`), answered from
//! the VM's interfaces (`netif`), as Linux answers them for a socket of any family
//! (`dev_ioctl`) and, for the address ones, an `AF_INET` socket (`devinet_ioctl`):
//! `SIOCGIFCONF` (the IPv4 addresses), `SIOCGIFNAME`, `SIOCGIFINDEX`, `SIOCGIFFLAGS`,
//! `SIOCGIFMTU`, `SIOCGIFMETRIC`, `SIOCGIFTXQLEN`, `SIOCGIFHWADDR`, `SIOCGIFMAP` (zeros: no
//! hardware behind them, as for Linux's virtual devices), `SIOCGIFADDR`, `SIOCGIFDSTADDR`,
//! `SIOCGIFBRDADDR`, `SIOCGIFNETMASK`. An unknown name is `ENODEV`, an interface without an
//! IPv4 address `EADDRNOTAVAIL`. The changes (`SIOCSIF*`, `SIOCADDRT`, `SIOCDELRT`) are
//! `EPERM` whatever the app's capabilities: the VM's interfaces are fixed (what a container
//! without `CAP_NET_ADMIN` is told too). `syscall::fs::sys_ioctl` hands these
//! numbers here for sockets; on other files they stay `ENOTTY`.

use alloc::vec::Vec;

use crate::errno::{Errno, SysResult};
use crate::fs::inet::AF_INET;
use crate::fs::OpenFile;
use crate::netif::{self, Interface, Ip};
use crate::process::Process;
use crate::user;

const SIOCADDRT: u32 = 0x890b;
const SIOCDELRT: u32 = 0x890c;
const SIOCGIFNAME: u32 = 0x8910;
const SIOCGIFCONF: u32 = 0x8912;
const SIOCGIFFLAGS: u32 = 0x8913;
const SIOCGIFADDR: u32 = 0x8915;
const SIOCGIFDSTADDR: u32 = 0x8917;
const SIOCGIFBRDADDR: u32 = 0x8919;
const SIOCGIFNETMASK: u32 = 0x891b;
const SIOCGIFMETRIC: u32 = 0x891d;
const SIOCGIFMTU: u32 = 0x8921;
const SIOCGIFHWADDR: u32 = 0x8927;
const SIOCGIFINDEX: u32 = 0x8933;
const SIOCGIFTXQLEN: u32 = 0x8942;
const SIOCGIFMAP: u32 = 0x8970;
/// The set ioctls: `SIOCSIFFLAGS` to `SIOCSIFHWADDR` (every other number of 0x8914-0x8924),
/// `SIOCSIFTXQLEN`, `SIOCSIFMAP`.
const SETTERS: [u32; 11] = [0x8914, 0x8916, 0x8918, 0x891a, 0x891c, 0x891e, 0x8922, 0x8923, 0x8924, 0x8943, 0x8971];

/// `sizeof(struct ifreq)`.
const IFREQ: usize = 40;
/// `IFNAMSIZ`.
const IFNAMSIZ: usize = 16;
/// `sizeof(struct ifconf)`.
const IFCONF: u64 = 16;

/// Whether `cmd` is in the range of these ioctls (the socket ioctls from `SIOCADDRT` to
/// `SIOCSIFMAP`; those of them not listed above are `ENOTTY`).
pub fn is_interface_ioctl(cmd: u32) -> bool {
    (SIOCADDRT..=SIOCGIFMAP + 1).contains(&cmd)
}

/// The ioctl `cmd` on socket `file` (see the module docs).
#[cold]
#[inline(never)]
pub fn ioctl(p: &mut Process, file: &OpenFile, cmd: u32, arg: u64) -> SysResult {
    if cmd == SIOCADDRT || cmd == SIOCDELRT || SETTERS.contains(&cmd) {
        return Err(Errno::EPERM);
    }
    if cmd == SIOCGIFCONF {
        return ifconf(p, arg);
    }
    let mut ifreq: [u8; IFREQ] = user::read(&mut p.space, arg, IFREQ as u64)?.try_into().map_err(|_| Errno::EFAULT)?;
    let (name, data) = ifreq.split_at_mut(IFNAMSIZ);
    if cmd == SIOCGIFNAME {
        let index = i32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let interface = u32::try_from(index).ok().and_then(netif::by_index).ok_or(Errno::ENODEV)?;
        name.fill(0);
        name[..interface.name().len()].copy_from_slice(interface.name());
        user::copy_out(&mut p.space, arg, &ifreq)?;
        return Ok(0);
    }
    let len = name.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ);
    let interface = netif::by_name(&name[..len]).ok_or(Errno::ENODEV)?;
    let int = |value: u32| value.to_le_bytes();
    match cmd {
        SIOCGIFINDEX => data[..4].copy_from_slice(&int(interface.index)),
        // ifr_flags is a short: IFF_LOWER_UP and the other high flags show in netlink only.
        SIOCGIFFLAGS => data[..2].copy_from_slice(&(interface.flags as u16).to_le_bytes()),
        SIOCGIFMTU => data[..4].copy_from_slice(&int(interface.mtu)),
        SIOCGIFMETRIC => data[..4].copy_from_slice(&int(0)),
        SIOCGIFTXQLEN => data[..4].copy_from_slice(&int(netif::TXQLEN)),
        SIOCGIFHWADDR => {
            data.fill(0);
            data[..2].copy_from_slice(&interface.hw_type.to_le_bytes());
            data[2..8].copy_from_slice(&interface.hw_addr);
        }
        SIOCGIFMAP => data.fill(0),
        SIOCGIFADDR | SIOCGIFDSTADDR | SIOCGIFBRDADDR | SIOCGIFNETMASK => {
            if file.inet().is_none_or(|socket| socket.family() != AF_INET) {
                return Err(Errno::ENOTTY);
            }
            let (ip, prefix_len, broadcast) = ipv4_of(interface).ok_or(Errno::EADDRNOTAVAIL)?;
            let shown = match cmd {
                SIOCGIFBRDADDR => broadcast.unwrap_or([0; 4]),
                SIOCGIFNETMASK => netmask(prefix_len),
                _ => ip,
            };
            data[..16].copy_from_slice(&sockaddr_in(shown));
        }
        _ => return Err(Errno::ENOTTY),
    }
    user::copy_out(&mut p.space, arg, &ifreq)?;
    Ok(0)
}

/// `interface`'s IPv4 address, prefix length and broadcast address.
fn ipv4_of(interface: &Interface) -> Option<([u8; 4], u8, Option<[u8; 4]>)> {
    netif::ADDRESSES.iter().find_map(|a| match a.ip {
        Ip::V4(ip) if a.index == interface.index => Some((ip, a.prefix_len, a.broadcast)),
        _ => None,
    })
}

/// The netmask of a prefix length.
fn netmask(prefix_len: u8) -> [u8; 4] {
    (u32::MAX.checked_shl(32 - u32::from(prefix_len)).unwrap_or(0)).to_be_bytes()
}

/// A `struct sockaddr_in` of `ip`, port 0.
fn sockaddr_in(ip: [u8; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..2].copy_from_slice(&AF_INET.to_le_bytes());
    out[4..8].copy_from_slice(&ip);
    out
}

/// `SIOCGIFCONF`: an `ifreq` (name and `sockaddr_in`) per IPv4 address into the buffer,
/// as many as fit whole; `ifc_len` says the bytes written, or with a NULL buffer the bytes
/// all of them need.
fn ifconf(p: &mut Process, arg: u64) -> SysResult {
    let raw = user::read(&mut p.space, arg, IFCONF)?;
    let room = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let buf = u64::from_le_bytes(raw[8..16].try_into().map_err(|_| Errno::EFAULT)?);
    let mut out = Vec::new();
    for address in &netif::ADDRESSES {
        let (Ip::V4(ip), Some(interface)) = (address.ip, netif::by_index(address.index)) else { continue };
        if buf != 0 && out.len() + IFREQ > usize::try_from(room).unwrap_or(0) {
            break;
        }
        let mut ifreq = [0u8; IFREQ];
        ifreq[..interface.name().len()].copy_from_slice(interface.name());
        ifreq[IFNAMSIZ..IFNAMSIZ + 16].copy_from_slice(&sockaddr_in(ip));
        out.extend_from_slice(&ifreq);
    }
    if buf != 0 {
        user::copy_out(&mut p.space, buf, &out)?;
    }
    user::write_u32(&mut p.space, arg, out.len() as u32)?;
    Ok(0)
}
