//! One VM's life: create it, load the boot state, run its vCPUs until the app is done.
//!
//! vCPU 0 is created ahead ([`prepare`]) and runs on the calling thread; the guest starts the
//! others (one per app thread) through the VcpuStart hypercall, each on a thread of its own
//! (`run_loop.rs`), all joined before [`run_staged`] returns.

use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};

use kvm_bindings::{kvm_userspace_memory_region, CpuId, KVM_MEM_READONLY};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use uvm_abi::boot::{
    Platform, FLAG_ENTRYPOINT, FLAG_HOSTNAME, FLAG_IMAGE_LARGE_PAGES, FLAG_READ_ONLY_ROOT, FLAG_STDERR_TTY,
    FLAG_STDIN_TTY, FLAG_STDOUT_TTY, FLAG_TRACE_SYSCALLS,
};
use uvm_abi::layout::{IMAGE_GPA, LARGE_PAGE_SIZE, MAX_VCPUS, RAM_MAX_SIZE, RAM_MIN_SIZE};

use crate::boot::{self, AppLaunch, BootFacts, KernelFile};
use crate::cpu;
use crate::error::VmError;
use crate::exit::{ExitCounts, Outcome};
use crate::host_io::HostIo;
use crate::hot_copies::{FreshWarmer, HotCopier, HotFillHelper};
use crate::late_ram::{ram_at_boot, GateState, RamGate};
use crate::mapped::MappedFile;
use crate::memory::{GuestMemory, MapOverRamError};
use crate::net::{NetCounts, Network};
use crate::process::AllowedCpus;
use crate::run_loop::{run_vcpu, VmShared};
use crate::timings::Timings;
use crate::vcpus::Vcpus;
use crate::vcpus_ahead::{VcpuMaker, VcpuTemplate, VcpusAhead};
use crate::volumes::Volumes;

/// Everything needed to boot one VM.
pub struct VmSpec<'a> {
    /// The image file, mapped (it becomes the guest's read-only image slot).
    pub image: &'a MappedFile,
    /// The guest kernel's flat binary (the `uvm` binary's own: images carry none).
    pub kernel: &'a [u8],
    /// The file `kernel`'s bytes come from, if any (called while staging): the kernel's cold
    /// text is then mapped from it, one copy in the host's page cache for every VM, instead
    /// of copied into each VM's RAM. `None`: all of the kernel is copied.
    pub kernel_file: fn() -> Option<KernelFile>,
    /// Guest RAM in MiB.
    pub memory_mib: u64,
    /// How many vCPUs may run guest code at once (`[vm] cpus`, 1..=`MAX_VCPUS`); the guest may
    /// start more (one per app thread), they take turns.
    pub cpus: u32,
    /// What the app starts with.
    pub launch: AppLaunch,
    /// Report every syscall on stderr.
    pub trace_syscalls: bool,
    /// Stop the VM after this long (`--timeout`).
    pub timeout: Option<std::time::Duration>,
    /// How the app is asked to stop: its stop signal (`[app] stop_signal`, `--stop-signal`)
    /// and how long it may run on after uvm passed SIGINT or SIGTERM on to it before the VM is
    /// stopped (`--stop-timeout`).
    pub stop: crate::stop::StopPolicy,
    /// Read KVM's vCPU counters at the end (`--timings`).
    pub collect_stats: bool,
    /// Ends the process with the app's exit status, called by the vCPU thread whose exit
    /// hypercall ended the VM, before the other vCPUs are stopped and joined: their wake-ups
    /// and joins then no longer delay the status (a Go hello, 4-5 vCPU threads: 117 -> 71 us
    /// from the exit hypercall to the process's end). The process's exit stops them; the
    /// caller must need nothing more from [`run_staged`] (no report) and must have its
    /// teardown in place (the reaper). `None`: `run_staged` returns the report.
    pub exit_now: Option<fn(i32) -> !>,
    /// The published ports and the egress policy (the manifest's `[[ports]]` and `[network]`
    /// plus `uvm run -p/--egress`), already checked: no two ports clash.
    pub network: uvm_net::NetworkConfig,
    /// Host directories mounted into the VM (`uvm run -v`), already checked by the caller
    /// (their guest paths absolute and distinct, at most `uvm_abi::hostfs::MAX_VOLUMES`): each
    /// host directory is opened before boot.
    pub volumes: Vec<crate::volumes::VolumeSpec>,
}

/// How the VM ended and what it cost.
#[derive(Debug)]
pub struct RunReport {
    /// How the app ended.
    pub outcome: Outcome,
    /// Phase timings.
    pub timings: Timings,
    /// Exit counts.
    pub exits: ExitCounts,
    /// What the network did.
    pub net: NetCounts,
    /// KVM's own counters, summed over the vCPUs (only with `VmSpec::collect_stats`).
    pub kvm_counters: Vec<(String, u64)>,
    /// How many vCPUs ran (vCPU 0 included).
    pub vcpus_started: u32,
    /// How many vCPUs were made ahead of their starts, and how many of them a start took
    /// (`crate::vcpus_ahead`; `None`: none were to be).
    pub vcpus_ahead: Option<(u32, u32)>,
    /// The TSC frequency (to turn the guest's TSC stamps into time).
    pub tsc_khz: u64,
    /// The TSC just before the first KVM_RUN.
    pub first_run_tsc: u64,
    /// How long registering the RAM beyond `late_ram::RAM_AT_BOOT` took, on a thread of its
    /// own while the guest ran (`None`: it was not registered late: all of RAM was registered
    /// before boot, or the guest never grew into half of the first part and never asked).
    pub late_ram_took: Option<std::time::Duration>,
    /// Bytes of guest RAM registered with KVM when the guest ended, and of all of it: less
    /// when the guest never grew into the part registered before boot (`late_ram`).
    pub ram_registered: (u64, u64),
    /// The VM itself: dropping the report tears it down; `teardown::exit_process` leaves that
    /// to a reaper instead.
    pub vm: VmResources,
}

/// Everything that keeps a VM alive.
pub struct VmResources {
    _vcpus: Vec<VcpuFd>,
    _vm: Arc<VmFd>,
    _kvm: Kvm,
    _memory: GuestMemory,
}

impl std::fmt::Debug for VmResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VmResources")
    }
}

/// Whether this host's KVM is PVM (no hardware virtualisation) or VMX/SVM.
pub fn detect_platform() -> Platform {
    if std::path::Path::new("/sys/module/kvm_pvm").exists() {
        Platform::Pvm
    } else {
        Platform::HardwareVirt
    }
}

/// The parts of a VM that do not depend on the image (KVM, the VM, the vCPU with its CPUID
/// and its boot registers): made ahead, in parallel with opening and checking the image.
pub struct PreparedVm {
    kvm: Kvm,
    vm: Arc<VmFd>,
    vcpu: VcpuFd,
    cpuid: CpuId,
    xcr0: Option<u64>,
    tsc_khz: u32,
    platform: Platform,
    lapic_in_kernel: bool,
    timings: Timings,
}

/// The way from the thread that creates the VM ([`prepare`]) to the one staging guest memory
/// ([`stage_memory`]): the VM goes over as soon as it exists, and the stager registers the
/// memory slots (~0.1 ms) while the creator goes on with the vCPU. And the way back
/// ([`EarlyCopies`]): a share in filling the hot copies, which the stager hands over as soon
/// as it has reserved them, before it registers the slots.
pub fn vm_handoff() -> (VmSender, VmReceiver, EarlyCopies) {
    let (sender, receiver) = mpsc::sync_channel(1);
    let (copies_sender, copies_receiver) = mpsc::sync_channel(1);
    (VmSender(sender), VmReceiver(receiver, copies_sender), EarlyCopies(copies_receiver))
}

/// The creating side of [`vm_handoff`].
pub struct VmSender(mpsc::SyncSender<Arc<VmFd>>);

/// The staging side of [`vm_handoff`].
pub struct VmReceiver(mpsc::Receiver<Arc<VmFd>>, mpsc::SyncSender<HotFillHelper>);

/// The creator's share in filling the hot copies (see [`vm_handoff`]): registering each memory
/// slot waits ~0.1 ms for a grace period of KVM's (the stager asleep, its CPU idle), and a
/// creator done with the vCPU has nothing to do but wait for the stager; it fills copies
/// meanwhile, which the guest's kernel would otherwise wait for before it enters the app.
pub struct EarlyCopies(mpsc::Receiver<HotFillHelper>);

impl EarlyCopies {
    /// Waits until the stager has reserved the hot copies (or ended without any); then fills
    /// chunks of them until none is left or `stop` says so (checked before each chunk, ~30
    /// us of copying). Returns how many copies it made.
    pub fn help(self, stop: impl FnMut() -> bool) -> u64 {
        self.0.recv().map_or(0, |helper| helper.help_until(stop))
    }
}

/// Creates the VM and its vCPU, set to enter `kernel` (the same bytes the [`VmSpec`] will
/// give); hands the VM to `handoff` as soon as it exists. KVM's supported CPUID comes from the
/// file `cpuid_cache` when it was written for this host as it is now, else from KVM (and is
/// written there): see `supported_cpuid.rs`.
pub fn prepare(kernel: &[u8], handoff: Option<VmSender>, cpuid_cache: Option<&Path>) -> Result<PreparedVm, VmError> {
    let mut timings = Timings::start();
    let header = boot::parse_kernel_header(kernel)?;
    let platform = detect_platform();
    let kvm = Kvm::new().map_err(VmError::KvmUnavailable)?;
    let vm = Arc::new(kvm.create_vm().map_err(|source| VmError::Kvm { what: "KVM_CREATE_VM", source })?);
    if let Some(VmSender(sender)) = handoff {
        // The stager may have failed already (and hung up): the run ends with its error.
        let _ = sender.send(Arc::clone(&vm));
    }
    let lapic_in_kernel = enable_split_irqchip(&vm);
    timings.mark("create VM");
    let mut vcpu = vm.create_vcpu(0).map_err(|source| VmError::Kvm { what: "KVM_CREATE_VCPU", source })?;
    // The host CPU's own answers are cached with KVM's (`supported_cpuid`): fixed per boot.
    let host_fix_up = |cpuid: &mut kvm_bindings::CpuId| {
        if platform == Platform::Pvm {
            cpu::expose_native_isa(cpuid, cpu::host_cpuid);
        }
    };
    let mut cpuid = crate::supported_cpuid::supported_cpuid(&kvm, cpuid_cache, host_fix_up)
        .map_err(|source| VmError::Kvm { what: "KVM_GET_SUPPORTED_CPUID", source })?;
    crate::cache_leaf::describe_caches_in_leaf2(&mut cpuid);
    cpu::hide_xsavec(&mut cpuid);
    vcpu.set_cpuid2(&cpuid).map_err(|source| VmError::Kvm { what: "KVM_SET_CPUID2", source })?;
    let tsc_khz = vcpu.get_tsc_khz().map_err(|source| VmError::Kvm { what: "KVM_GET_TSC_KHZ", source })?;
    // The registers, CR3 included, depend on nothing the image brings (the boot page tables'
    // root is always at `ROOT_GPA`): set here (~25 us), they are off the path that waits
    // for the image thread.
    let xcr0 = cpu::boot_xcr0(&cpuid);
    let regs = cpu::boot_regs(&header);
    let root = crate::paging::ROOT_GPA;
    cpu::configure_vcpu(&mut vcpu, &header, platform, 0, root, xcr0, &regs, cpu::RegistersGo::AtNextRun)?;
    cpu::first_run_ahead(&mut vcpu)?;
    timings.mark("create vCPU");
    Ok(PreparedVm { kvm, vm, vcpu, cpuid, xcr0, tsc_khz, platform, lapic_in_kernel, timings })
}

/// Boots the VM described by `spec` and runs it until the app ends (all on this thread; `uvm
/// run` overlaps [`prepare`] with [`stage_memory`] and then calls [`run_staged`]).
pub fn run(spec: &VmSpec<'_>, io: &dyn HostIo) -> Result<RunReport, VmError> {
    let prepared = prepare(spec.kernel, None, None)?;
    run_staged(prepared, stage_memory(spec, None)?, spec, io)
}

/// Guest memory with everything in it that depends only on the image and the launch: the
/// kernel, the descriptor tables and the boot page tables. Staging needs no KVM object, so
/// `uvm run` does it on the image-opening thread while the main thread creates the VM.
pub struct StagedMemory {
    memory: GuestMemory,
    header: uvm_abi::kernel::KernelHeader,
    tables: boot::BootTables,
    /// The boot info's strings (`boot::boot_strings`), room for which `tables` set aside.
    boot_strings: Vec<u8>,
    took: std::time::Duration,
    /// How much of RAM is registered before boot (`late_ram::ram_at_boot`).
    ram_at_boot: u64,
    /// How long registering the memory slots took, if the stager did it.
    slots_took: Option<std::time::Duration>,
    /// What fills the hot copies' frames, until someone takes it to run while the guest
    /// boots ([`StagedMemory::take_hot_copier`]); [`run_staged`] fills them before boot if
    /// nobody did.
    hot_copier: Option<HotCopier>,
    /// A share in the copier's work once someone took it: the booting vCPU takes chunks of
    /// it while its kernel waits for the copies (`VcpuOps::park`).
    hot_fill_helper: Option<HotFillHelper>,
    /// What backs the fresh frames an earlier start touched, until someone takes it to run
    /// after the hand-over ([`StagedMemory::take_fresh_warmer`]); nobody must.
    fresh_warmer: Option<FreshWarmer>,
    /// The vCPUs to make ahead, if the launch asks for any and staging had the VM.
    vcpus_ahead: Option<VcpusAheadParts>,
}

impl StagedMemory {
    /// How long staging took.
    pub fn took(&self) -> std::time::Duration {
        self.took
    }

    /// How long registering the memory slots took, if the stager did it.
    pub fn slots_took(&self) -> Option<std::time::Duration> {
        self.slots_took
    }

    /// The hot copies' copier, to fill their frames on another thread while the guest boots
    /// (the guest's kernel waits for them before it enters the app, and its vCPU, parked
    /// waiting, helps); `None` without copies.
    pub fn take_hot_copier(&mut self) -> Option<HotCopier> {
        let copier = self.hot_copier.take()?;
        self.hot_fill_helper = Some(copier.helper());
        Some(copier)
    }

    /// The fresh frames' warmer (`AppLaunch::fresh`), to run on another thread after the
    /// hand-over; `None` without any. Left here, it does nothing.
    pub fn take_fresh_warmer(&mut self) -> Option<FreshWarmer> {
        self.fresh_warmer.take()
    }

    /// What makes the vCPUs ahead (`AppLaunch::vcpus_ahead`), to run on another thread after
    /// the hand-over (it waits for the VM to boot); `None` without any. Left here, nothing is
    /// made ahead.
    pub fn take_vcpu_maker(&mut self) -> Option<VcpuMaker> {
        self.vcpus_ahead.as_mut()?.maker.take()
    }
}

/// Maps guest RAM for `spec` and writes the kernel, descriptor tables and boot page tables;
/// then, if `vm` brings the VM, registers the memory slots with it.
pub fn stage_memory(spec: &VmSpec<'_>, vm: Option<VmReceiver>) -> Result<StagedMemory, VmError> {
    let started = std::time::Instant::now();
    let ram_size = spec.memory_mib.saturating_mul(1 << 20);
    if !(RAM_MIN_SIZE..=RAM_MAX_SIZE).contains(&ram_size) || !ram_size.is_multiple_of(LARGE_PAGE_SIZE) {
        return Err(VmError::MemorySize { mib: spec.memory_mib, min: RAM_MIN_SIZE >> 20, max: RAM_MAX_SIZE >> 20 });
    }
    if !(1..=MAX_VCPUS).contains(&spec.cpus) {
        return Err(VmError::CpuCount { cpus: spec.cpus, max: MAX_VCPUS });
    }
    let header = boot::parse_kernel_header(spec.kernel)?;
    // The boot info's strings, and its place, are made here (`write_boot_info` writes it
    // once the VM exists, on the way to boot).
    let boot_strings = boot::boot_strings(&spec.launch, &spec.volumes)?;
    let boot_info_len = (std::mem::size_of::<uvm_abi::boot::BootInfo>() + boot_strings.len()) as u64;
    let memory = GuestMemory::new(ram_size, spec.image)?;
    let kernel_file = (spec.kernel_file)();
    let (tables, hot_copier) = boot::write_kernel_and_tables(
        &memory,
        spec.kernel,
        &header,
        &spec.launch,
        boot_info_len,
        kernel_file.as_ref(),
    )?;
    let hot_copier = match hot_copier {
        Some(copier) if copier.pages() <= crate::hot_copies::FILLED_IN_STAGING => {
            copier.fill();
            None
        }
        copier => copier,
    };
    // The creator may fill copies from now on, while this thread finishes staging and
    // registers the slots.
    if let (Some(VmReceiver(_, early_copies)), Some(copier)) = (&vm, &hot_copier) {
        let _ = early_copies.try_send(copier.helper());
    }
    // The frames the guest's allocator hands out start at `end_gpa`: shared memory from
    // there on (see `GuestMemory::share_fresh_ram`; without it, RAM stays private memory).
    match memory.share_fresh_ram(tables.end_gpa) {
        Ok(()) | Err(MapOverRamError::NotMapped(_)) => {}
        Err(MapOverRamError::RamLost(source)) => return Err(VmError::Memory { what: "guest RAM for the app", source }),
    }
    let fresh_warmer = FreshWarmer::new(&memory, tables.end_gpa, &spec.launch.fresh);
    let took = started.elapsed();
    let at_boot = ram_at_boot(memory.ram_size(), tables.end_gpa);
    let (slots_took, vcpus_ahead) = match vm.and_then(|VmReceiver(receiver, _)| receiver.recv().ok()) {
        Some(vm) => {
            register_memory(&vm, &memory, at_boot)?;
            let slots_took = started.elapsed() - took;
            (Some(slots_took), VcpusAheadParts::new(&vm, spec.launch.vcpus_ahead))
        }
        None => (None, None),
    };
    Ok(StagedMemory {
        memory,
        header,
        tables,
        boot_strings,
        took,
        ram_at_boot: at_boot,
        slots_took,
        hot_copier,
        hot_fill_helper: None,
        fresh_warmer,
        vcpus_ahead,
    })
}

/// The vCPUs made ahead (`crate::vcpus_ahead`), as staging hands them on: the shared slots,
/// the maker until someone takes it to run ([`StagedMemory::take_vcpu_maker`]), and the way
/// the boot vCPU's template reaches the maker from [`run_staged`].
struct VcpusAheadParts {
    ahead: Arc<VcpusAhead>,
    maker: Option<VcpuMaker>,
    template: mpsc::SyncSender<VcpuTemplate>,
}

impl VcpusAheadParts {
    /// For `count` vCPUs of `vm` (none for 0).
    fn new(vm: &Arc<VmFd>, count: u32) -> Option<VcpusAheadParts> {
        if count == 0 {
            return None;
        }
        let ahead = Arc::new(VcpusAhead::new(count));
        let (template, receiver) = mpsc::sync_channel(1);
        let maker = VcpuMaker::new(Arc::clone(vm), Arc::clone(&ahead), receiver);
        Some(VcpusAheadParts { ahead, maker: Some(maker), template })
    }
}

/// Boots a prepared VM with memory staged for `spec` (by [`stage_memory`], possibly on
/// another thread) and runs it until the app ends.
pub fn run_staged(
    prepared: PreparedVm,
    staged: StagedMemory,
    spec: &VmSpec<'_>,
    io: &dyn HostIo,
) -> Result<RunReport, VmError> {
    // Memory first: on an early return, locals drop in reverse, so the VM (whose slots may
    // already point into this memory) goes before the memory does.
    let StagedMemory {
        memory,
        header,
        tables,
        boot_strings,
        took: _,
        ram_at_boot: at_boot,
        slots_took,
        hot_copier,
        hot_fill_helper,
        fresh_warmer: _,
        vcpus_ahead,
    } = staged;
    // Nobody took the copier to fill the copies while the guest boots: filled now.
    if let Some(copier) = hot_copier {
        copier.fill();
    }
    let PreparedVm { kvm, vm, vcpu, cpuid, xcr0, tsc_khz, platform, lapic_in_kernel, mut timings } = prepared;
    // The clock started with `prepare`: time spent waiting here for the image thread (staged
    // memory) shows which of the two was the longer path.
    timings.mark("wait for image");
    // Published ports first: a port that is taken ends the run before anything boots.
    let net = Network::new(&spec.network, spec.trace_syscalls)?;
    if !spec.network.ports.is_empty() {
        timings.mark("publish ports");
    }
    // Volumes too: a missing host directory ends the run before anything boots.
    let volumes = Volumes::open(&spec.volumes)?;
    if !volumes.is_empty() {
        timings.mark("open volumes");
    }
    if slots_took.is_none() {
        register_memory(&vm, &memory, at_boot)?;
        timings.mark("memory slots");
    }

    let facts = BootFacts {
        platform,
        flags: boot_flags(spec.trace_syscalls, &spec.launch),
        tsc_khz: u64::from(tsc_khz),
        hwcap: cpu::hwcap(&cpuid),
        random_seed: random_seed(),
        vcpu_count: spec.cpus,
        ram_ready_size: at_boot,
    };
    boot::write_boot_info(&memory, &spec.launch, &spec.volumes, &boot_strings, &facts, tables)?;
    debug_assert_eq!(tables.root, crate::paging::ROOT_GPA, "prepare set CR3 to ROOT_GPA");
    timings.mark("boot info");

    let vcpus = Vcpus::new(spec.cpus);
    let ram_gate =
        if at_boot < memory.ram_size() { RamGate::not_started(at_boot) } else { RamGate::open(memory.ram_size()) };
    let console = crate::console_ring::Console::new(io, &memory);
    let alarm = crate::alarm::Alarm::new();
    let shared = VmShared {
        vm: &vm,
        memory: &memory,
        console: &console,
        net: &net,
        volumes: &volumes,
        vcpus: &vcpus,
        header,
        platform,
        cpuid: &cpuid,
        lapic_in_kernel,
        root: tables.root,
        xcr0,
        exit_now: spec.exit_now,
        ram_gate: &ram_gate,
        alarm: &alarm,
        hot_fill: hot_fill_helper,
        fds: Mutex::new(Vec::new()),
        ahead: vcpus_ahead.as_ref().map(|parts| &*parts.ahead),
    };
    // The maker waits for this (it cannot make a vCPU without the boot vCPU's CPUID).
    if let Some(parts) = &vcpus_ahead {
        let _ = parts.template.try_send(VcpuTemplate { cpuid: cpuid.clone(), lapic_in_kernel });
    }
    crate::stop::install(spec.timeout, spec.stop);
    // SAFETY: rdtsc has no side effects.
    let first_run_tsc = unsafe { core::arch::x86_64::_rdtsc() };
    // vCPU 0 runs here; the guest's VcpuStart calls spawn the others into this scope, which
    // joins them all before it returns.
    std::thread::scope(|scope| {
        run_vcpu(scope, &shared, 0, vcpu);
        net.stop_poller();
        console.stop_thread();
        alarm.stop_thread();
    });
    // Whatever the console thread left (it drains once more as it ends) is out before the
    // caller reports how the app ended, and so is a word on output a host write lost.
    console.drain();
    console.report_losses();
    let fds = shared.fds.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    timings.mark("guest run");
    let outcome = match vcpus.take_outcome() {
        Some(outcome) => outcome?,
        None => Outcome::Stopped(crate::stop::requested().ok_or_else(|| VmError::GuestFault {
            reason: "the vCPUs stopped without an outcome".to_string(),
            registers: String::new(),
        })?),
    };
    let kvm_counters = if spec.collect_stats { summed_counters(&fds) } else { Vec::new() };
    let report = RunReport {
        outcome,
        timings,
        exits: vcpus.exits(),
        net: net.counts(),
        kvm_counters,
        tsc_khz: u64::from(tsc_khz),
        first_run_tsc,
        late_ram_took: ram_gate.late_took(),
        ram_registered: (ram_gate.registered(), memory.ram_size()),
        vcpus_started: vcpus.started(),
        vcpus_ahead: vcpus_ahead.as_ref().map(|parts| parts.ahead.counts()),
        vm: VmResources { _vcpus: fds, _vm: vm, _kvm: kvm, _memory: memory },
    };
    Ok(report)
}

/// KVM's counters of every vCPU, summed by name (in the order they first appear).
fn summed_counters(vcpus: &[VcpuFd]) -> Vec<(String, u64)> {
    let mut sums: Vec<(String, u64)> = Vec::new();
    for vcpu in vcpus {
        for (name, value) in crate::kvm_stats::vcpu_counters(vcpu) {
            match sums.iter_mut().find(|(n, _)| *n == name) {
                Some((_, sum)) => *sum += value,
                None => sums.push((name, value)),
            }
        }
    }
    sums
}

/// Gives the VM an in-kernel local APIC per vCPU ("split irqchip": no in-kernel PIC or
/// IOAPIC; the guest uses no interrupt controller at all). Without one, KVM patches its own
/// code to enable a static key at every vCPU's creation and again at its destruction (~0.13
/// ms each on this host, and the cross-CPU synchronisation of the patching slows the other
/// thread's memory-slot ioctls); with one it takes a deferred key that stays enabled between
/// VMs. Returns whether it worked: where KVM refuses, the vCPUs go without, as before.
fn enable_split_irqchip(vm: &VmFd) -> bool {
    let cap = kvm_bindings::kvm_enable_cap {
        cap: kvm_bindings::KVM_CAP_SPLIT_IRQCHIP,
        // Interrupt routes reserved for a userspace IOAPIC's pins: uvm has none.
        args: [0, 0, 0, 0],
        ..Default::default()
    };
    vm.enable_cap(&cap).is_ok()
}

/// Registers RAM up to `ram_at_boot` (slot 0) and the image (slot 1); the rest of RAM, if
/// any, is [`register_late_ram`]'s.
fn register_memory(vm: &VmFd, memory: &GuestMemory, ram_at_boot: u64) -> Result<(), VmError> {
    let (ram_host, ram_len) = memory.ram_host_range();
    let (image_host, image_len) = memory.image_host_range();
    let slots = [
        kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: 0,
            memory_size: ram_at_boot.min(ram_len),
            userspace_addr: ram_host,
        },
        kvm_userspace_memory_region {
            slot: 1,
            flags: KVM_MEM_READONLY,
            guest_phys_addr: IMAGE_GPA,
            memory_size: image_len,
            userspace_addr: image_host,
        },
    ];
    for slot in slots {
        // SAFETY: both host ranges are live mappings owned by `memory`, which outlives the VM
        // (the caller drops the VM first), and they do not overlap each other.
        unsafe { vm.set_user_memory_region(slot) }
            .map_err(|source| VmError::Kvm { what: "KVM_SET_USER_MEMORY_REGION", source })?;
    }
    Ok(())
}

/// Registers RAM from `at_boot` to its end as slot 2 and opens `gate` (see `late_ram`). Runs
/// on a thread of the VM's scope while the guest boots.
pub(crate) fn register_late_ram(vm: &VmFd, memory: &GuestMemory, at_boot: u64, gate: &RamGate) {
    let started = std::time::Instant::now();
    let (ram_host, ram_len) = memory.ram_host_range();
    let slot = kvm_userspace_memory_region {
        slot: 2,
        flags: 0,
        guest_phys_addr: at_boot,
        memory_size: ram_len - at_boot,
        userspace_addr: ram_host + at_boot,
    };
    // SAFETY: the range is the end of guest RAM, a live mapping owned by `memory`, which
    // outlives this call (the scope that runs it is joined before `run_staged` lets `memory`
    // go); it overlaps no other slot (slot 0 ends at `at_boot`, the image is above RAM).
    let registered = unsafe { vm.set_user_memory_region(slot) };
    gate.set(match registered {
        Ok(()) => GateState::Open(ram_len, Some(started.elapsed())),
        Err(_) => GateState::Failed(at_boot),
    });
}

/// The default of `[vm] cpus`: how many CPUs uvm may run on (`allowed`, what `nproc`
/// reports), at least 1 and at most `MAX_VCPUS`.
pub fn host_cpus(allowed: Option<&AllowedCpus>) -> u32 {
    allowed.map_or(1, AllowedCpus::count).clamp(1, MAX_VCPUS)
}

fn boot_flags(trace: bool, launch: &crate::boot::AppLaunch) -> u64 {
    let mut flags = 0;
    if trace {
        flags |= FLAG_TRACE_SYSCALLS;
    }
    if launch.large_pages {
        flags |= FLAG_IMAGE_LARGE_PAGES;
    }
    if launch.read_only_root {
        flags |= FLAG_READ_ONLY_ROOT;
    }
    if launch.entrypoint.is_some() {
        flags |= FLAG_ENTRYPOINT;
    }
    if launch.hostname.is_some() {
        flags |= FLAG_HOSTNAME;
    }
    for (fd, flag) in [(0, FLAG_STDIN_TTY), (1, FLAG_STDOUT_TTY), (2, FLAG_STDERR_TTY)] {
        // SAFETY: isatty only inspects the descriptor number; any value is allowed.
        if unsafe { libc::isatty(fd) } == 1 {
            flags |= flag;
        }
    }
    flags
}

fn random_seed() -> [u64; 4] {
    let mut bytes = [0u8; 32];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer it is given.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if n != bytes.len() as isize {
        // Fall back to the clock: the seed only has to differ between runs.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes[..16].copy_from_slice(&t.to_le_bytes());
    }
    let mut seed = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        seed[i] = u64::from_le_bytes(b);
    }
    seed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cpu_count_is_the_affinity_mask_within_bounds() {
        let n = host_cpus(AllowedCpus::of_this_thread().as_ref());
        assert!((1..=MAX_VCPUS).contains(&n), "{n}");
        let std_count = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        // The cgroup quota std also reads can only lower its count.
        assert!(std_count.min(MAX_VCPUS) <= n, "{std_count} > {n}");
    }

    #[test]
    fn the_creator_fills_copies_until_told_to_stop_or_none_are_left() {
        let pages = 40u64;
        let image: Vec<u8> = (0..pages * 4096).map(|i| (i % 239) as u8 + 1).collect();
        let memory = GuestMemory::for_tests_with_image(64 << 20, &image);
        let offsets: Vec<u64> = (0..pages).map(|i| i * 4096).collect();
        let copier = crate::hot_copies::reserve(&memory, 0x50_0000, 0x50_1000, &offsets).unwrap();
        // The stager hands a share over; the creator stops after its first chunk.
        let (_, VmReceiver(_, to_creator), early) = vm_handoff();
        to_creator.send(copier.helper()).unwrap();
        let mut asked = 0;
        let made = early.help(|| {
            asked += 1;
            asked > 1
        });
        assert_eq!(made, 16, "one chunk");
        let (_, made_by_stager) = copier.fill();
        assert_eq!(made_by_stager, pages - 16, "the rest");
        // Without copies (the stager hung up): nothing to do, no wait.
        let (_, receiver, early) = vm_handoff();
        drop(receiver);
        assert_eq!(early.help(|| false), 0);
    }
}
