//! The VM's network as the run loop holds it ([`Network`]): the published ports are bound
//! before boot (a taken port must end the run before anything boots), and everything else
//! (the handle, ring and serial tables, the poller's epoll and stop eventfd: ~180 KiB written
//! and three host calls, ~0.2 ms) is made when the guest's first Net call arrives. A VM whose
//! app never opens an IP socket pays nothing for networking.

use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use uvm_net::NetworkConfig;

use super::published::{self, Published};
use super::{Net, NetCounts};
use crate::error::{HypercallError, VmError};
use crate::host_io::HostIo;
use crate::hypercall::VcpuOps;
use crate::memory::GuestMemory;

/// One VM's network, made on first use.
pub struct Network {
    config: NetworkConfig,
    trace: bool,
    /// The published ports, bound before boot, until the network is made.
    published: Mutex<Option<Vec<Published>>>,
    net: OnceLock<Net>,
    /// The VM is stopping: a network made from now on stops its poller at once.
    stopping: AtomicBool,
}

impl Network {
    /// The network of a VM with `config`: binds the published ports now (an error names a
    /// port that is taken). `trace`: report refused destinations (`--trace-syscalls`).
    pub fn new(config: &NetworkConfig, trace: bool) -> Result<Network, VmError> {
        let published = published::bind_all(&config.ports)?;
        Ok(Network {
            config: config.clone(),
            trace,
            published: Mutex::new(Some(published)),
            net: OnceLock::new(),
            stopping: AtomicBool::new(false),
        })
    }

    /// The network, made now if this is the first call.
    fn net(&self) -> Result<&Net, VmError> {
        if let Some(net) = self.net.get() {
            return Ok(net);
        }
        let mut published = self.published.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(net) = self.net.get() {
            return Ok(net);
        }
        let net = Net::with_published(&self.config, self.trace, &mut published)?;
        let net = self.net.get_or_init(|| net);
        // Pairs with `stop_poller`'s fence: either it sees this network or this sees its flag.
        fence(Ordering::SeqCst);
        if self.stopping.load(Ordering::SeqCst) {
            net.stop_poller();
        }
        Ok(net)
    }

    /// Serves a Net hypercall (see [`Net::serve`]). If the network cannot be made (the host
    /// is out of file descriptors or memory), the call fails with that errno.
    pub fn serve(
        &self,
        params_gpa: u64,
        memory: &GuestMemory,
        io: &dyn HostIo,
        vcpu: &dyn VcpuOps,
    ) -> Result<(), HypercallError> {
        match self.net() {
            Ok(net) => net.serve(params_gpa, memory, io, vcpu),
            Err(e) => {
                let errno = match e {
                    VmError::Network(io) => io.raw_os_error().unwrap_or(libc::ENOMEM),
                    _ => libc::ENOMEM,
                };
                super::answer_call(params_gpa, memory, |_| -i64::from(errno))
            }
        }
    }

    /// Writes out every transmit ring, as a Net `Flush` call does (a Park with
    /// `PARK_FLUSH_NET`). Nothing before the network exists: then no ring does either.
    pub fn flush(&self, memory: &GuestMemory, vcpu: &dyn VcpuOps) {
        if let Some(net) = self.net.get() {
            net.flush_rings(memory, vcpu);
        }
    }

    /// Runs the poller (started by the guest's Setup, so the network exists).
    pub fn run_poller(&self, memory: &GuestMemory, wake: &dyn Fn(u32)) {
        if let Some(net) = self.net.get() {
            net.run_poller(memory, wake);
        }
    }

    /// Ends the poller, if there is one, now or as soon as it starts. Called once the VM stops.
    pub fn stop_poller(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if let Some(net) = self.net.get() {
            net.stop_poller();
        }
    }

    /// What the network did (nothing, if the app never used it).
    pub fn counts(&self) -> NetCounts {
        self.net.get().map(Net::counts).unwrap_or_default()
    }
}
