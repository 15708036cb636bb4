//! One VM's life: create it, load the boot state, run the vCPU until the app is done.
//!
//! The run loop calls KVM_RUN, copies the exit out of `kvm_run` and hands it to
//! [`crate::exit::handle_exit`]; everything the guest asks for is served there.

use kvm_bindings::{kvm_userspace_memory_region, CpuId, KVM_MAX_CPUID_ENTRIES, KVM_MEM_READONLY};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use uvm_abi::boot::{Platform, FLAG_STDERR_TTY, FLAG_STDIN_TTY, FLAG_STDOUT_TTY, FLAG_TRACE_SYSCALLS};
use uvm_abi::layout::{IMAGE_GPA, LARGE_PAGE_SIZE, RAM_MAX_SIZE, RAM_MIN_SIZE};

use crate::boot::{self, AppLaunch, BootFacts};
use crate::cpu;
use crate::error::VmError;
use crate::exit::{handle_exit, ExitAction, ExitCounts, Outcome, VmExit};
use crate::host_io::HostIo;
use crate::mapped::MappedFile;
use crate::memory::GuestMemory;
use crate::timings::Timings;

/// Everything needed to boot one VM.
pub struct VmSpec<'a> {
    /// The image file, mapped (it becomes the guest's read-only image slot).
    pub image: &'a MappedFile,
    /// The guest kernel's flat binary (from the image).
    pub kernel: &'a [u8],
    /// Guest RAM in MiB.
    pub memory_mib: u64,
    /// What the app starts with.
    pub launch: AppLaunch,
    /// Report every syscall on stderr.
    pub trace_syscalls: bool,
    /// Stop the VM after this long (`--timeout`).
    pub timeout: Option<std::time::Duration>,
    /// Read KVM's vCPU counters at the end (`--timings`).
    pub collect_stats: bool,
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
    /// KVM's own counters for the vCPU (only with `VmSpec::collect_stats`).
    pub kvm_counters: Vec<(String, u64)>,
    /// The TSC frequency (to turn the guest's TSC stamps into time).
    pub tsc_khz: u64,
    /// The TSC just before the first KVM_RUN.
    pub first_run_tsc: u64,
    /// The VM itself: dropping the report tears it down; `teardown::exit_process` leaves that
    /// to a reaper instead.
    pub vm: VmResources,
}

/// Everything that keeps a VM alive.
pub struct VmResources {
    _vcpu: VcpuFd,
    _vm: VmFd,
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

/// The parts of a VM that do not depend on the image (KVM, the VM, the vCPU with its CPUID):
/// made ahead, in parallel with opening and checking the image.
pub struct PreparedVm {
    kvm: Kvm,
    vm: VmFd,
    vcpu: VcpuFd,
    cpuid: CpuId,
    tsc_khz: u32,
    platform: Platform,
    timings: Timings,
}

/// Creates the VM and its vCPU.
pub fn prepare() -> Result<PreparedVm, VmError> {
    let mut timings = Timings::start();
    let platform = detect_platform();
    let kvm = Kvm::new().map_err(VmError::KvmUnavailable)?;
    let vm = kvm.create_vm().map_err(|source| VmError::Kvm { what: "KVM_CREATE_VM", source })?;
    timings.mark("create VM");
    let vcpu = vm.create_vcpu(0).map_err(|source| VmError::Kvm { what: "KVM_CREATE_VCPU", source })?;
    let mut cpuid = kvm
        .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(|source| VmError::Kvm { what: "KVM_GET_SUPPORTED_CPUID", source })?;
    if platform == Platform::Pvm {
        cpu::expose_native_isa(&mut cpuid, cpu::host_cpuid);
    }
    vcpu.set_cpuid2(&cpuid).map_err(|source| VmError::Kvm { what: "KVM_SET_CPUID2", source })?;
    let tsc_khz = vcpu.get_tsc_khz().map_err(|source| VmError::Kvm { what: "KVM_GET_TSC_KHZ", source })?;
    timings.mark("create vCPU");
    Ok(PreparedVm { kvm, vm, vcpu, cpuid, tsc_khz, platform, timings })
}

/// Boots the VM described by `spec` and runs it until the app ends (all on this thread; `uvm
/// run` overlaps [`prepare`] with [`stage_memory`] and then calls [`run_staged`]).
pub fn run(spec: &VmSpec<'_>, io: &mut dyn HostIo) -> Result<RunReport, VmError> {
    let prepared = prepare()?;
    run_staged(prepared, stage_memory(spec)?, spec, io)
}

/// Guest memory with everything in it that depends only on the image and the launch: the
/// kernel, the descriptor tables and the boot page tables. Staging needs no KVM object, so
/// `uvm run` does it on the image-opening thread while the main thread creates the VM.
pub struct StagedMemory {
    memory: GuestMemory,
    header: uvm_abi::kernel::KernelHeader,
    tables: boot::BootTables,
    took: std::time::Duration,
}

impl StagedMemory {
    /// How long staging took.
    pub fn took(&self) -> std::time::Duration {
        self.took
    }
}

/// Maps guest RAM for `spec` and writes the kernel, descriptor tables and boot page tables.
pub fn stage_memory(spec: &VmSpec<'_>) -> Result<StagedMemory, VmError> {
    let started = std::time::Instant::now();
    let ram_size = spec.memory_mib.saturating_mul(1 << 20);
    if !(RAM_MIN_SIZE..=RAM_MAX_SIZE).contains(&ram_size) || !ram_size.is_multiple_of(LARGE_PAGE_SIZE) {
        return Err(VmError::MemorySize { mib: spec.memory_mib, min: RAM_MIN_SIZE >> 20, max: RAM_MAX_SIZE >> 20 });
    }
    let header = boot::parse_kernel_header(spec.kernel)?;
    let memory = GuestMemory::new(ram_size, spec.image)?;
    let tables = boot::write_kernel_and_tables(&memory, spec.kernel, &header, &spec.launch.prelink, 1)?;
    // The kernel now lives in guest RAM: its bytes in the image need not stay in this
    // process's resident set.
    let kernel_offset = (spec.kernel.as_ptr() as u64).wrapping_sub(spec.image.host_address());
    if kernel_offset < spec.image.len() {
        let start = kernel_offset as usize;
        spec.image.release(start..start + spec.kernel.len());
    }
    Ok(StagedMemory { memory, header, tables, took: started.elapsed() })
}

/// Boots a prepared VM with memory staged for `spec` (by [`stage_memory`], possibly on
/// another thread) and runs it until the app ends.
pub fn run_staged(
    prepared: PreparedVm,
    staged: StagedMemory,
    spec: &VmSpec<'_>,
    io: &mut dyn HostIo,
) -> Result<RunReport, VmError> {
    let PreparedVm { kvm, vm, mut vcpu, cpuid, tsc_khz, platform, timings: prepared_timings } = prepared;
    let StagedMemory { memory, header, tables, took: _ } = staged;
    let mut timings = Timings::start();
    timings.phases = prepared_timings.phases.iter().map(|(name, d)| (*name, *d)).collect();
    register_memory(&vm, &memory)?;
    timings.mark("memory slots");

    let facts = BootFacts {
        platform,
        flags: boot_flags(spec.trace_syscalls),
        tsc_khz: u64::from(tsc_khz),
        hwcap: cpu::hwcap(&cpuid),
        random_seed: random_seed(),
        vcpu_count: 1,
    };
    boot::write_boot_info(&memory, &spec.launch, &facts, tables)?;
    cpu::configure_vcpu(&vcpu, &header, platform, 0, tables.root, cpu::boot_xcr0(&cpuid))?;
    timings.mark("boot info");

    let mut exits = ExitCounts::default();
    crate::stop::install(spec.timeout);
    // SAFETY: rdtsc has no side effects.
    let first_run_tsc = unsafe { core::arch::x86_64::_rdtsc() };
    crate::stop::set_immediate_exit(&mut vcpu.get_kvm_run().immediate_exit);
    let outcome = run_loop(&mut vcpu, &memory, io, &mut exits);
    crate::stop::set_immediate_exit(std::ptr::null_mut());
    let outcome = outcome?;
    timings.mark("guest run");
    let kvm_counters = if spec.collect_stats { crate::kvm_stats::vcpu_counters(&vcpu) } else { Vec::new() };
    let vm = VmResources { _vcpu: vcpu, _vm: vm, _kvm: kvm, _memory: memory };
    Ok(RunReport { outcome, timings, exits, kvm_counters, tsc_khz: u64::from(tsc_khz), first_run_tsc, vm })
}

fn register_memory(vm: &VmFd, memory: &GuestMemory) -> Result<(), VmError> {
    let (ram_host, ram_len) = memory.ram_host_range();
    let (image_host, image_len) = memory.image_host_range();
    let slots = [
        kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: 0,
            memory_size: ram_len,
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

fn boot_flags(trace: bool) -> u64 {
    let mut flags = 0;
    if trace {
        flags |= FLAG_TRACE_SYSCALLS;
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

fn run_loop(
    vcpu: &mut VcpuFd,
    memory: &GuestMemory,
    io: &mut dyn HostIo,
    exits: &mut ExitCounts,
) -> Result<Outcome, VmError> {
    loop {
        if let Some(reason) = crate::stop::requested() {
            return Ok(Outcome::Stopped(reason));
        }
        let exit = match vcpu.run() {
            Ok(exit) => copy_exit(exit),
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
            Err(source) => return Err(VmError::Kvm { what: "KVM_RUN", source }),
        };
        match handle_exit(&exit, memory, io, exits)? {
            ExitAction::Resume => {}
            ExitAction::FlushTlbAndResume => cpu::flush_tlb(vcpu)?,
            ExitAction::Stop(outcome) => return Ok(outcome),
            ExitAction::Fault(reason) => return Err(VmError::GuestFault { reason, registers: registers(vcpu) }),
        }
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
