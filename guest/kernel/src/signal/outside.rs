//! Signals from outside the VM. uvm passes the SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1
//! and SIGUSR2 it gets on to the app (the init process), as docker's signal proxy passes a
//! container's: the VMM sets their bits in the boot vCPU's per-CPU area
//! (`uvm_abi::percpu::OUTSIDE_SIGNALS`) and interrupts every vCPU. The kernel takes them on
//! its next way back to the app (`signal::deliver_to_app`) or in a wait
//! (`wait::signal_pending`), whichever comes first on any vCPU, and sends them as a `kill`
//! from outside the app's pid namespace would: si_code SI_USER, si_pid 0, si_uid 0.
//!
//! Unlike a namespace's init on Linux, the app is not shielded from them: with no handler the
//! default action applies (it ends, and uvm exits 128 + the signal), as the program run
//! without uvm would. Ignored or handled, the app goes on; a second SIGINT or SIGTERM (or
//! uvm's `--stop-timeout`) stops the VM from outside.

use core::sync::atomic::Ordering;

use crate::process::{Process, INIT_PID};
use crate::signal::{bit, SigInfo, NSIG};

/// Whether the VMM left signals for the app (one load: called on every way back).
#[inline(always)]
pub fn pending() -> bool {
    crate::arch::percpu::outside_signals().load(Ordering::Relaxed) != 0
}

/// Takes the signals the VMM left and sends each to the app.
#[cold]
#[inline(never)]
pub fn take(p: &mut Process) {
    let mask = crate::arch::percpu::outside_signals().swap(0, Ordering::Acquire);
    for sig in (1..=NSIG as u32).filter(|&sig| mask & bit(sig) != 0) {
        let info = SigInfo::user(sig, crate::signal::si::USER, 0, 0);
        if p.pid == INIT_PID {
            crate::syscall::signal::send_to_process(p, info);
        } else if let Some(init) = p.other(INIT_PID) {
            crate::family::signal_process(init, info);
        }
    }
}
