//! One vCPU's host thread: the loop around KVM_RUN, and the start of further vCPUs, each on a
//! thread of its own (the VcpuStart hypercall).
//!
//! The loop calls KVM_RUN, copies the exit out of `kvm_run` and hands it to
//! [`crate::exit::handle_exit`]; everything the guest asks for is served there. Around each
//! KVM_RUN it tells [`Vcpus`] that it is in the guest (so a TLB flush of another vCPU kicks it
//! out and resyncs it before it re-enters) and it holds a run slot while it runs. vCPU 0's loop
//! runs on the thread that called `run_staged`; the others on scoped threads that
//! `run_staged` joins. The first vCPU to end the VM records the outcome and stops the others.

use std::cell::Cell;
use std::sync::{Mutex, PoisonError};
use std::thread::Scope;

use kvm_bindings::CpuId;
use kvm_ioctls::{VcpuExit, VcpuFd, VmFd};
use uvm_abi::boot::Platform;
use uvm_abi::hypercall::VcpuStart;
use uvm_abi::kernel::KernelHeader;
use uvm_abi::layout::{KERNEL_BASE, KERNEL_END};

use crate::cpu;
use crate::error::VmError;
use crate::exit::{handle_exit, ExitAction, ExitCounts, Outcome, VmExit};
use crate::hypercall::VcpuOps;
use crate::memory::GuestMemory;
use crate::net::Network;
use crate::stop;
use crate::vcpus::{Entry, StartError, Vcpus};

/// What every vCPU thread of one VM shares.
pub(crate) struct VmShared<'a> {
    /// The VM (to create vCPUs).
    pub vm: &'a VmFd,
    /// Guest memory.
    pub memory: &'a GuestMemory,
    /// The console: the host streams, behind the console ring once the guest registers it
    /// (the hypercalls reach it as their `HostIo`).
    pub console: &'a crate::console_ring::Console<'a>,
    /// The network (sockets, published ports, the poller's state).
    pub net: &'a Network,
    /// The volumes (host directories the HostFs calls reach).
    pub volumes: &'a crate::volumes::Volumes,
    /// The vCPUs' shared state.
    pub vcpus: &'a Vcpus,
    /// The kernel's entry points (LSTAR).
    pub header: KernelHeader,
    /// How the kernel runs here.
    pub platform: Platform,
    /// vCPU 0's CPUID table, given to every vCPU.
    pub cpuid: &'a CpuId,
    /// Whether the vCPUs have an in-kernel local APIC (then KVM makes every vCPU but the
    /// first wait for a start-up IPI unless it is made runnable).
    pub lapic_in_kernel: bool,
    /// The boot page-table root (CR3).
    pub root: u64,
    /// XCR0 at entry.
    pub xcr0: Option<u64>,
    /// See [`crate::VmSpec::exit_now`].
    pub exit_now: Option<fn(i32) -> !>,
    /// Opens once all of RAM is registered with KVM (`crate::late_ram`).
    pub ram_gate: &'a crate::late_ram::RamGate,
    /// The VM's alarm (the Alarm hypercall); its thread starts with the first alarm.
    pub alarm: &'a crate::alarm::Alarm,
    /// A share in filling the hot copies, while another thread fills them as the guest
    /// boots (`crate::hot_copies`): a vCPU that parks takes chunks of it first.
    pub hot_fill: Option<crate::hot_copies::HotFillHelper>,
    /// Every vCPU, handed back by its thread as it leaves (the VM's resources own them).
    pub fds: Mutex<Vec<VcpuFd>>,
    /// The vCPUs made ahead of their starts (`crate::vcpus_ahead`), if any are.
    pub ahead: Option<&'a crate::vcpus_ahead::VcpusAhead>,
}

/// How many times in a row a vCPU asked to yield its run slot may put it off because it is in
/// guest kernel code (each time for about [`crate::vcpus::YIELD_RETRY`]).
const MAX_PUT_OFFS: u32 = 4;

/// Runs vCPU `index` on this thread until the VM stops, then hands the vCPU back to `vm.fds`.
pub(crate) fn run_vcpu<'scope, 'env, 'a>(
    scope: &'scope Scope<'scope, 'env>,
    vm: &'env VmShared<'a>,
    index: u32,
    mut vcpu: VcpuFd,
) {
    stop::register(index, &mut vcpu.get_kvm_run().immediate_exit);
    let thread = VcpuThread { scope, vm, index, holding: Cell::new(false), doorbell_asked: Cell::new(false) };
    let mut exits = ExitCounts::default();
    let ended = thread.drive(&mut vcpu, &mut exits);
    if let Some(outcome) = ended {
        if let (Some(exit_now), Ok(Outcome::Exited(status, _))) = (vm.exit_now, &outcome) {
            // A stop from outside (a signal, --timeout) may have come first: then it is the
            // outcome, reported the usual way.
            if stop::claim_end() {
                // What the app wrote into the console ring goes out first.
                vm.console.drain();
                vm.console.report_losses();
                exit_now(*status);
            }
        }
        vm.vcpus.finish(index, outcome);
    }
    if thread.holding.get() {
        vm.vcpus.release_slot(index);
    }
    stop::unregister(index);
    vm.vcpus.add_exits(&exits);
    vm.fds.lock().unwrap_or_else(PoisonError::into_inner).push(vcpu);
}

/// The vCPU a thread runs, as the hypercall handlers see it.
struct VcpuThread<'scope, 'env, 'a> {
    scope: &'scope Scope<'scope, 'env>,
    vm: &'env VmShared<'a>,
    index: u32,
    /// Whether this vCPU holds a run slot.
    holding: Cell<bool>,
    /// Whether this vCPU asked KVM to handle its unpark doorbell (at its first park).
    doorbell_asked: Cell<bool>,
}

impl<'scope, 'env, 'a> VcpuThread<'scope, 'env, 'a> {
    fn acquire(&self) -> bool {
        let got = self.vm.vcpus.acquire_slot(self.index, &stop::kick);
        self.holding.set(got);
        got
    }

    fn release(&self) {
        if self.holding.replace(false) {
            self.vm.vcpus.release_slot(self.index);
        }
    }

    /// The run loop: `None` when the VM stopped for another reason, else how this vCPU ended it.
    fn drive(&self, vcpu: &mut VcpuFd, exits: &mut ExitCounts) -> Option<Result<Outcome, VmError>> {
        if !self.acquire() {
            return None;
        }
        let vcpus = self.vm.vcpus;
        let mut put_offs = 0;
        let mut resync = cpu::MmuResync::track(vcpu);
        loop {
            if stop::stopping() {
                return None;
            }
            if self.index == 0 && stop::outside_pending() {
                if let Err(e) = self.pass_on_outside_signals(vcpu) {
                    return Some(Err(e));
                }
            }
            match vcpus.enter_guest(self.index) {
                Entry::Yield => {
                    // Kicked out of the guest kernel, it may hold one of the kernel's spin
                    // locks: giving the slot up now would leave the other vCPUs spinning on
                    // it until their own slices end. Let it run on a little first.
                    if put_offs < MAX_PUT_OFFS && in_guest_kernel(vcpu) {
                        put_offs += 1;
                        vcpus.put_off_yield(self.index);
                        continue;
                    }
                    put_offs = 0;
                    self.release();
                    if !self.acquire() {
                        return None;
                    }
                    continue;
                }
                Entry::Run { flush, interrupt } => {
                    if flush {
                        resync.flush();
                    }
                    if interrupt {
                        match crate::interrupt::enter_interrupt(vcpu, self.vm.memory) {
                            Ok(true) => {}
                            Ok(false) => {
                                // In guest kernel code (it delivers signals on its way back to
                                // the app, unless it is past that point) or with an exception
                                // still to deliver: look again shortly.
                                vcpus.interrupt_later(self.index);
                                kick_after(self.index, INTERRUPT_RETRY);
                            }
                            Err(e) => {
                                vcpus.left_guest(self.index);
                                return Some(Err(e));
                            }
                        }
                    }
                }
            }
            if let Err(e) = resync.before_run(vcpu) {
                vcpus.left_guest(self.index);
                return Some(Err(e));
            }
            let exit = vcpu.run().map(copy_exit);
            resync.after_run();
            vcpus.left_guest(self.index);
            let exit = match exit {
                Ok(exit) => exit,
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
                Err(source) => return Some(Err(VmError::Kvm { what: "KVM_RUN", source })),
            };
            match handle_exit(&exit, self.vm.memory, self.vm.console, self.vm.net, self.vm.volumes, self, exits) {
                Ok(ExitAction::Resume) => {}
                Ok(ExitAction::FlushTlbAndResume(others)) => {
                    resync.flush();
                    vcpus.flush_others(self.index, others, &stop::kick);
                }
                Ok(ExitAction::SetRootAndResume(root)) => resync.set_root(root),
                Ok(ExitAction::Stop(outcome)) => return Some(Ok(outcome)),
                Ok(ExitAction::Fault(reason)) => {
                    let reason = if self.index == 0 { reason } else { format!("{reason} (vCPU {})", self.index) };
                    return Some(Err(VmError::GuestFault { reason, registers: registers(vcpu) }));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl VcpuThread<'_, '_, '_> {
    /// Hands the signals uvm got from outside to the guest (vCPU 0 only: its GS base is the
    /// boot vCPU's area) and interrupts every vCPU so one of the app's threads takes them;
    /// a SIGINT or SIGTERM among them starts the stop timeout's clock.
    fn pass_on_outside_signals(&self, vcpu: &VcpuFd) -> Result<(), VmError> {
        let mask = stop::take_outside();
        if !crate::interrupt::post_outside_signals(vcpu, self.vm.memory, mask)? {
            stop::put_back_outside(mask);
            return Ok(());
        }
        stop::start_stop_timeout();
        self.vm.vcpus.interrupt_all(&stop::kick);
        Ok(())
    }
}

impl VcpuOps for VcpuThread<'_, '_, '_> {
    fn blocking(&self, wait: &mut dyn FnMut()) {
        self.release();
        wait();
        // Without a slot (the VM is stopping), the loop leaves before entering the guest.
        self.acquire();
    }

    /// At its first park a vCPU has KVM handle its doorbell from then on (5-10 us, while this
    /// thread is about to sleep anyway); if KVM refuses, the doorbell keeps reaching the VMM,
    /// which unparks the same way. Not while the rest of a large RAM is being registered: that
    /// holds the lock the registration needs for milliseconds (a later park asks).
    fn park(&self, timeout: std::time::Duration) -> bool {
        // The boot's kernel parks while it waits for the hot copies: copying some is a better
        // use of this thread than sleeping. Then back to the guest at once, which looks at
        // what it waits for again (a park may always end early) and spins while the other
        // thread finishes its last chunk.
        if let Some(fill) = self.vm.hot_fill.as_ref().filter(|fill| !fill.is_done()) {
            fill.help();
            return false;
        }
        let mut woken = false;
        self.blocking(&mut || {
            if !self.doorbell_asked.get() && !self.vm.ram_gate.registering() {
                self.doorbell_asked.set(true);
                let _ = crate::doorbell::register_with_kvm(self.vm.vm, self.index);
            }
            woken = self.vm.vcpus.park(self.index, timeout);
        });
        woken
    }

    fn unpark(&self, index: u32) -> bool {
        self.vm.vcpus.unpark(index)
    }

    /// The registration runs on a thread of the VM's scope (so `run_staged` joins it before
    /// guest memory goes).
    fn ram_ready(&self, wait: bool) -> crate::late_ram::RamReadiness {
        let (vm, gate) = (self.vm, self.vm.ram_gate);
        if let Some(at_boot) = gate.begin() {
            let spawned = stop::with_stop_signals_blocked(|| {
                std::thread::Builder::new()
                    .name("uvm-late-ram".into())
                    .spawn_scoped(self.scope, move || crate::vm::register_late_ram(vm.vm, vm.memory, at_boot, gate))
            });
            if spawned.is_err() {
                gate.set(crate::late_ram::GateState::Failed(at_boot));
            }
        }
        if !wait {
            return gate.now();
        }
        let mut readiness = crate::late_ram::RamReadiness::Stopping;
        self.blocking(&mut || readiness = gate.wait());
        readiness
    }

    fn interrupt(&self, index: u32) -> bool {
        self.vm.vcpus.interrupt(index, &stop::kick)
    }

    /// The console thread runs on a thread of the VM's scope until `run_staged` stops it.
    /// Once registered the ring is the guest's to use even if the host cannot start the
    /// thread: its records then go out at the next console call, a full ring or the end,
    /// late but in order (the guest must not free a ring the VMM reads).
    fn start_console_ring(&self, header_gpa: u64, data_gpa: u64) -> Result<u32, i32> {
        let (console, vm) = (self.vm.console, self.vm.vm);
        let streams = console.register(header_gpa, data_gpa)?;
        let _ = stop::with_stop_signals_blocked(|| {
            std::thread::Builder::new()
                .name("uvm-console".into())
                .spawn_scoped(self.scope, move || console.run_thread(Some(vm)))
        });
        Ok(streams)
    }

    fn console_doorbell(&self) {
        self.vm.console.doorbell();
    }

    /// The alarm thread runs in the VM's scope until `run_staged` stops it; when it fires,
    /// it interrupts the vCPU as the Interrupt hypercall does.
    fn arm_alarm(&self, timeout: Option<std::time::Duration>, index: u32) -> Result<(), i32> {
        let (alarm, vcpus) = (self.vm.alarm, self.vm.vcpus);
        if !alarm.arm(timeout, index) {
            return Ok(());
        }
        let spawned = stop::with_stop_signals_blocked(|| {
            std::thread::Builder::new().name("uvm-alarm".into()).spawn_scoped(self.scope, move || {
                alarm.run_thread(&|index| {
                    vcpus.interrupt(index, &stop::kick);
                })
            })
        });
        spawned.map(|_| ()).map_err(|e| {
            alarm.thread_failed();
            e.raw_os_error().unwrap_or(libc::EAGAIN)
        })
    }

    /// The poller runs in the VM's scope (so `run_staged` joins it); `run_staged` stops it
    /// once vCPU 0's loop is over, which only happens when the VM stops.
    fn start_net_poller(&self) -> bool {
        let vm = self.vm;
        stop::with_stop_signals_blocked(|| {
            std::thread::Builder::new().name("uvm-net".into()).spawn_scoped(self.scope, move || {
                vm.net.run_poller(vm.memory, &|index| {
                    vm.vcpus.unpark(index);
                })
            })
        })
        .is_ok()
    }

    /// Claims the index and returns at once: the new vCPU is created on its own thread, in
    /// parallel with the guest thread that asked (creating and configuring a vCPU takes ~0.3
    /// ms, which the caller would otherwise wait out). If the host cannot create it there, the
    /// VM ends with that error: the guest already counts on the thread.
    fn start(&self, p: &VcpuStart) -> Result<(), StartError> {
        let vm = self.vm;
        let index = p.index;
        vm.vcpus.claim(index)?;
        crate::hot_pages::note_vcpu_started(index);
        let start = *p;
        let scope = self.scope;
        let spawned = stop::with_stop_signals_blocked(|| {
            std::thread::Builder::new().name(format!("uvm-vcpu{index}")).spawn_scoped(scope, move || match create_vcpu(
                vm, &start,
            ) {
                Ok(vcpu) => run_vcpu(scope, vm, index, vcpu),
                Err(e) => vm.vcpus.finish(index, Err(e)),
            })
        });
        if spawned.is_err() {
            vm.vcpus.unclaim(index);
            return Err(StartError::Again);
        }
        Ok(())
    }
}

/// Creates vCPU `p.index` in the boot vCPU's image (or takes it made ahead:
/// `crate::vcpus_ahead`), with its own TSS, `p`'s registers and `p.root` as CR3 (the boot
/// tables when 0; the hypercall handler checked a nonzero one). A vCPU KVM made but that
/// could not be configured stays with the VM's resources.
fn create_vcpu(vm: &VmShared<'_>, p: &VcpuStart) -> Result<VcpuFd, VmError> {
    let made_ahead = vm.ahead.and_then(|ahead| ahead.take(p.index));
    let mut vcpu = match made_ahead {
        Some(vcpu) => vcpu,
        None => {
            crate::vcpus_ahead::make_vcpu(vm.vm, p.index, vm.cpuid, vm.lapic_in_kernel).map_err(|(e, spoiled)| {
                vm.fds.lock().unwrap_or_else(PoisonError::into_inner).extend(spoiled);
                e
            })?
        }
    };
    let configured = (|| {
        crate::boot::write_tss(vm.memory, p.index)?;
        let regs = cpu::start_regs(p.rip, p.rsp, p.arg);
        let root = cpu::start_root(p.root, vm.root);
        let (header, platform) = (&vm.header, vm.platform);
        cpu::configure_vcpu(&mut vcpu, header, platform, p.index, root, vm.xcr0, &regs, cpu::RegistersGo::Now)
    })();
    match configured {
        Ok(()) => Ok(vcpu),
        Err(e) => {
            vm.fds.lock().unwrap_or_else(PoisonError::into_inner).push(vcpu);
            Err(e)
        }
    }
}

/// How soon a vCPU that could not take an interrupt (it ran guest kernel code) is kicked to
/// try again.
const INTERRUPT_RETRY: std::time::Duration = std::time::Duration::from_micros(200);

/// Kicks vCPU `index` out of the guest after `delay`, from a short-lived thread (a kick of a
/// vCPU that has gone meanwhile does nothing).
fn kick_after(index: u32, delay: std::time::Duration) {
    let _ = stop::with_stop_signals_blocked(|| {
        std::thread::Builder::new().name("uvm-rekick".into()).spawn(move || {
            std::thread::sleep(delay);
            stop::kick(index);
        })
    });
}

/// Whether the vCPU stopped in the guest kernel's code (rather than the app's).
fn in_guest_kernel(vcpu: &VcpuFd) -> bool {
    vcpu.get_regs().is_ok_and(|r| (KERNEL_BASE..KERNEL_END).contains(&r.rip))
}

fn copy_exit(exit: VcpuExit<'_>) -> VmExit {
    match exit {
        VcpuExit::MmioWrite(gpa, data) => {
            let mut bytes = [0u8; 8];
            let len = data.len().min(8);
            bytes[..len].copy_from_slice(&data[..len]);
            VmExit::MmioWrite { gpa, data: bytes, len: data.len() }
        }
        VcpuExit::MmioRead(gpa, _) => VmExit::MmioRead { gpa },
        VcpuExit::IoIn(port, _) | VcpuExit::IoOut(port, _) => VmExit::Io { port },
        VcpuExit::Hlt => VmExit::Hlt,
        VcpuExit::Shutdown => VmExit::Shutdown,
        VcpuExit::InternalError => VmExit::InternalError,
        VcpuExit::FailEntry(reason, _) => VmExit::FailEntry { reason },
        other => VmExit::Other(format!("{other:?}")),
    }
}

/// The vCPU's registers, formatted for an error message.
fn registers(vcpu: &VcpuFd) -> String {
    let (Ok(r), Ok(s)) = (vcpu.get_regs(), vcpu.get_sregs()) else {
        return "registers unavailable".to_string();
    };
    format!(
        "  rip={:#018x} rsp={:#018x} rflags={:#x} cs={:#x}\n  rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x}\n  rsi={:#x} rdi={:#x} rbp={:#x} r8={:#x}\n  cr2={:#x} cr3={:#x} fs.base={:#x} gs.base={:#x}",
        r.rip, r.rsp, r.rflags, s.cs.selector, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8, s.cr2, s.cr3, s.fs.base, s.gs.base
    )
}
