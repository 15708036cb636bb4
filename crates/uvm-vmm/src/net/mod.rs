//! IP networking: the VMM side of the `Net` hypercall (`uvm_abi::net`). Every guest IP socket
//! is a host socket the VMM holds, named by a handle. The VMM keeps the VM's ports apart from
//! the host's: inside the VM, `127.0.0.0/8` and `::1` are the VM's own loopback, each guest
//! port is a private port on the host's loopback (reachable only by the VM's own sockets), and
//! only published ports (`-p`, bound before boot) are reachable from outside. Destinations
//! outside the VM are checked against the egress policy on every connect and send.
//!
//! - `addr`: socket-address bytes, families, what a guest address means;
//! - `ports`: guest port <-> host port, per protocol;
//! - `table`: the handle table;
//! - `published`: published ports, bound before boot;
//! - `options`: the socket-option whitelist;
//! - `area`: the readiness area in guest RAM;
//! - `ring`: receive rings (connected stream sockets read into guest RAM without an exit);
//! - `txring`: transmit rings (the guest's sends written out at its flush points);
//! - `view`: how host addresses look from inside the VM;
//! - `ops`: the operations, one function each;
//! - `poller`: the thread that turns host readiness into slot bits and vCPU wake-ups;
//! - `sys`: the host calls (every `unsafe` of the network code);
//! - `network`: the run loop's handle on all of it, made on the guest's first Net call.

mod addr;
mod area;
mod network;
mod ops;
mod options;
mod poller;
mod ports;
mod published;
mod ring;
mod sys;
mod table;
#[cfg(test)]
mod tests;
mod txring;
mod view;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use uvm_abi::hypercall::Hypercall;
use uvm_abi::net::{NetCall, NET_MAX_HANDLES};
use uvm_net::{EgressPolicy, NetworkConfig, Proto};

use crate::error::{HypercallError, VmError};
use crate::host_io::HostIo;
use crate::hypercall::VcpuOps;
use crate::memory::GuestMemory;

pub use network::Network;

/// What the network did during a run (for `uvm run --timings`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetCounts {
    /// Net hypercalls served.
    pub calls: u64,
    /// Batches of host events the poller turned into readiness.
    pub poller_batches: u64,
    /// vCPUs the poller unparked.
    pub poller_wakes: u64,
}

/// The mutable part: sockets and ports.
#[derive(Default)]
struct State {
    handles: table::Handles,
    tcp: ports::PortTable,
    udp: ports::PortTable,
    /// A socket of the VM's that the current call changed through the host (data, a hang-up
    /// or a connection sent its way over the loopback): its slot is refreshed before the
    /// call returns, so the guest sees at once what Linux shows at once.
    touched: Option<u32>,
}

impl State {
    fn ports(&mut self, proto: Proto) -> &mut ports::PortTable {
        match proto {
            Proto::Tcp => &mut self.tcp,
            Proto::Udp => &mut self.udp,
        }
    }
}

/// One VM's network: its published ports, sockets, readiness area and poller.
pub struct Net {
    egress: EgressPolicy,
    /// The host's DNS resolver (its `/etc/resolv.conf`'s first nameserver), which the guest
    /// reaches at `10.0.2.3:53`: read on first use, not on every boot.
    resolver: OnceLock<Option<SocketAddr>>,
    trace: bool,
    published: Vec<published::Published>,
    state: Mutex<State>,
    area: OnceLock<area::Area>,
    /// Per handle, bumped each time the handle is given to a new socket: tags epoll events,
    /// so an event of a closed socket never reaches its handle's next one.
    serials: Box<[AtomicU32]>,
    /// The receive rings, per handle (each behind its own lock, never the sockets').
    rings: ring::Rings,
    /// The transmit rings, per handle, and closed sockets' bytes still to go out.
    tx: txring::TxRings,
    epoll: sys::Epoll,
    stop: sys::EventFd,
    /// Rung when the first transmit ring (or closed socket's bytes) appears while the poller
    /// waits its long wait: it then waits [`poller`]'s short one, so the bytes go out soon.
    wake: sys::EventFd,
    /// Whether the poller is in (or about to start) its long wait, no transmit ring existing.
    poller_idle: AtomicBool,
    poller_started: AtomicBool,
    calls: AtomicU64,
    poller_batches: AtomicU64,
    poller_wakes: AtomicU64,
}

/// The epoll tag of the poller's stop eventfd.
const STOP_TAG: u64 = u64::MAX;
/// The epoll tag of the poller's wake eventfd.
const WAKE_TAG: u64 = u64::MAX - 1;

impl Net {
    /// The network of a VM with `config`: binds the published ports now (an error names a
    /// port that is taken). `trace`: report refused destinations (`--trace-syscalls`).
    #[cfg(test)]
    pub fn new(config: &NetworkConfig, trace: bool) -> Result<Net, VmError> {
        Net::with_published(config, trace, &mut Some(published::bind_all(&config.ports)?))
    }

    /// The network of a VM with `config`, whose published ports are already bound: they are
    /// taken out of `published` only once nothing can fail any more, so a failed attempt
    /// leaves them bound for the next.
    fn with_published(
        config: &NetworkConfig,
        trace: bool,
        published: &mut Option<Vec<published::Published>>,
    ) -> Result<Net, VmError> {
        let os = |e: sys::Errno| VmError::Network(std::io::Error::from_raw_os_error(e.0));
        let epoll = sys::Epoll::new().map_err(os)?;
        let stop = sys::EventFd::new().map_err(os)?;
        epoll.add_input(stop.raw(), STOP_TAG).map_err(os)?;
        let wake = sys::EventFd::new().map_err(os)?;
        epoll.add_input(wake.raw(), WAKE_TAG).map_err(os)?;
        let published = published.take().unwrap_or_default();
        Ok(Net {
            egress: config.egress.clone(),
            resolver: OnceLock::new(),
            trace,
            published,
            state: Mutex::new(State::default()),
            area: OnceLock::new(),
            serials: (0..NET_MAX_HANDLES).map(|_| AtomicU32::new(0)).collect(),
            rings: ring::Rings::default(),
            tx: txring::TxRings::default(),
            epoll,
            stop,
            wake,
            poller_idle: AtomicBool::new(false),
            poller_started: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            poller_batches: AtomicU64::new(0),
            poller_wakes: AtomicU64::new(0),
        })
    }

    /// The host's DNS resolver, if its `/etc/resolv.conf` names one.
    fn resolver(&self) -> Option<SocketAddr> {
        *self.resolver.get_or_init(|| {
            std::fs::read_to_string("/etc/resolv.conf").ok().and_then(|text| addr::first_nameserver(&text))
        })
    }

    /// What the network did so far.
    pub fn counts(&self) -> NetCounts {
        NetCounts {
            calls: self.calls.load(Ordering::Relaxed),
            poller_batches: self.poller_batches.load(Ordering::Relaxed),
            poller_wakes: self.poller_wakes.load(Ordering::Relaxed),
        }
    }

    /// After a transmit ring was registered or a closed socket's bytes were kept: a poller in
    /// its long wait (no ring existed when it began) is woken to wait the short one instead.
    /// The poller marks itself idle before it looks for rings, and the caller made its ring
    /// visible before this looks at the mark, so one of the two always sees the other.
    fn poke_poller(&self) {
        if self.poller_idle.load(Ordering::SeqCst) {
            self.wake.signal();
        }
    }

    /// Ends the poller (now or, if it has not started, as soon as it starts). Called once the
    /// VM stops.
    pub fn stop_poller(&self) {
        self.stop.signal();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves a Net hypercall whose parameter block is at `params_gpa`. Only a block outside
    /// RAM is an error (the VM stops); everything an app can cause is a `-errno` result.
    pub fn serve(
        &self,
        params_gpa: u64,
        memory: &GuestMemory,
        io: &dyn HostIo,
        vcpu: &dyn VcpuOps,
    ) -> Result<(), HypercallError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        answer_call(params_gpa, memory, |call| self.dispatch(call, memory, io, vcpu))
    }
}

/// Reads the Net call block at `params_gpa`, sets its result to `serve(&mut call)` and writes
/// it back. Only a block outside RAM is an error (the VM stops).
fn answer_call(
    params_gpa: u64,
    memory: &GuestMemory,
    serve: impl FnOnce(&mut NetCall) -> i64,
) -> Result<(), HypercallError> {
    let bad_block = || HypercallError::BadAddress {
        name: crate::hypercall::name(Hypercall::Net),
        gpa: params_gpa,
        len: std::mem::size_of::<NetCall>() as u64,
    };
    let mut call: NetCall = memory.read_plain(params_gpa).ok_or_else(bad_block)?;
    call.result = serve(&mut call);
    memory.write_plain(params_gpa, &call).ok_or_else(bad_block)
}
