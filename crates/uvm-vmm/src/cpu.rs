//! The minimal CPU state of a vCPU at entry: descriptor tables, segment and control registers,
//! the syscall MSRs and the CPUID table.
//!
//! The tables are built as bytes (unit-tested without KVM); [`configure_vcpu`] loads the rest
//! into a vCPU. Later, hypercalls change a running vCPU's control registers here
//! ([`MmuResync`]: CR4.PGE for a flush, CR3 for a new root).

use kvm_bindings::{kvm_msr_entry, kvm_regs, kvm_segment, kvm_sregs, CpuId, Msrs, KVM_SYNC_X86_SREGS};
use kvm_ioctls::{SyncReg, VcpuFd};
use uvm_abi::boot::Platform;
use uvm_abi::kernel::{KernelHeader, EXCEPTION_STUB_STRIDE, EXCEPTION_VECTORS};
use uvm_abi::layout::{self, selectors, GDT_GPA, IDT_GPA};

use crate::error::VmError;

const MSR_EFER: u32 = 0xc000_0080;
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_CSTAR: u32 = 0xc000_0083;
const MSR_SFMASK: u32 = 0xc000_0084;

const EFER_SCE: u64 = 1 << 0;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;

/// CR0: PE, MP, ET, NE, WP, AM, PG.
const CR0_BOOT: u64 = 0x8005_0033;
const CR4_PAE: u64 = 1 << 5;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const CR4_FSGSBASE: u64 = 1 << 16;
const CR4_OSXSAVE: u64 = 1 << 18;

/// XCR0 components the app may use, as Linux enables them: x87, SSE, AVX and the three AVX-512
/// parts. MPX is obsolete, PKRU needs CR4.PKE (not set) and AMX needs a per-process request.
const XCR0_X87_SSE_AVX: u64 = 0b111;
const XCR0_AVX512: u64 = 0b1110_0000;
/// CPUID.1:ECX.XSAVE.
const CPUID_1_ECX_XSAVE: u32 = 1 << 26;
/// CR4.PGE: flipping it makes KVM resync its shadow page tables (see [`MmuResync`]).
const CR4_PGE: u64 = 1 << 7;

/// RFLAGS bits cleared on `syscall`: TF, IF, DF, IOPL, NT, AC. The kernel's code relies on DF=0.
const SYSCALL_FLAG_MASK: u64 = 0x4_7700;

/// The GDT: the Linux x86-64 layout, then one TSS descriptor per vCPU.
pub fn gdt_bytes(vcpus: u32) -> Vec<u8> {
    let mut gdt: Vec<u64> = vec![
        0,
        0x00af_9a00_0000_ffff, // 0x08 kernel code, 64-bit
        0x00cf_9200_0000_ffff, // 0x10 kernel data
        0x00cf_fa00_0000_ffff, // 0x18 user code, 32-bit
        0x00cf_f200_0000_ffff, // 0x20 user data
        0x00af_fa00_0000_ffff, // 0x28 user code, 64-bit
        0,
        0,
    ];
    for cpu in 0..vcpus {
        let base = layout::tss_gpa(cpu);
        let limit = 103u64;
        gdt.push(
            (limit & 0xffff) | ((base & 0xff_ffff) << 16) | (0x9 << 40) | (1 << 47) | (((base >> 24) & 0xff) << 56),
        );
        gdt.push(base >> 32);
    }
    gdt.iter().flat_map(|d| d.to_le_bytes()).collect()
}

/// The TSS of vCPU `cpu`: only RSP0 (its ring-0 exception stack) and the I/O-map base matter.
pub fn tss_bytes(cpu: u32) -> [u8; 104] {
    let mut tss = [0u8; 104];
    tss[4..12].copy_from_slice(&layout::exception_stack_top(cpu).to_le_bytes());
    tss[102..104].copy_from_slice(&104u16.to_le_bytes());
    tss
}

/// The IDT: interrupt gates (ring 0, DPL 0) for the CPU's exceptions, pointing at the kernel's
/// exception stubs.
pub fn idt_bytes(header: &KernelHeader) -> Vec<u8> {
    let mut idt = Vec::with_capacity(EXCEPTION_VECTORS as usize * 16);
    for vector in 0..EXCEPTION_VECTORS as u64 {
        let handler = header.exception_stubs + vector * EXCEPTION_STUB_STRIDE;
        let low = (handler & 0xffff)
            | ((selectors::KERNEL_CS as u64) << 16)
            | (0xe << 40) // 64-bit interrupt gate
            | (1 << 47) // present
            | (((handler >> 16) & 0xffff) << 48);
        idt.extend_from_slice(&low.to_le_bytes());
        idt.extend_from_slice(&(handler >> 32).to_le_bytes());
    }
    idt
}

fn segment(selector: u16, code: bool, dpl: u8) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_: if code { 11 } else { 3 },
        present: 1,
        dpl,
        db: u8::from(!code),
        s: 1,
        l: u8::from(code),
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

/// Segment and control registers for vCPU `cpu` at entry.
pub fn boot_sregs(mut sregs: kvm_sregs, platform: Platform, cpu: u32, page_table_root: u64) -> kvm_sregs {
    // PVM: the kernel runs in ring 3, so the vCPU starts there. Hardware virtualisation: ring 0.
    let (cs, ds, dpl) = match platform {
        Platform::Pvm => (selectors::USER_CS, selectors::USER_DS, 3),
        Platform::HardwareVirt => (selectors::KERNEL_CS, selectors::KERNEL_DS, 0),
    };
    sregs.cs = segment(cs, true, dpl);
    let data = segment(ds, false, dpl);
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = kvm_segment {
        base: layout::tss_gpa(cpu),
        limit: 103,
        selector: selectors::TSS_BASE + 16 * cpu as u16,
        type_: 11,
        present: 1,
        ..Default::default()
    };
    sregs.gdt.base = GDT_GPA;
    sregs.gdt.limit = (64 + 16 * layout::MAX_VCPUS as u16) - 1;
    sregs.idt.base = IDT_GPA;
    sregs.idt.limit = (EXCEPTION_VECTORS * 16 - 1) as u16;
    sregs.cr0 = CR0_BOOT;
    sregs.cr3 = page_table_root;
    sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    if platform == Platform::HardwareVirt {
        sregs.cr4 |= CR4_FSGSBASE;
    }
    sregs.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    sregs
}

/// Instruction-set feature bits the app may see from the host CPU on PVM, per CPUID register:
/// `(leaf, subleaf, register index (0 eax .. 3 edx), mask)`. Only features an app uses from
/// ring 3 with nothing for a kernel to set up (XSAVE's XCR0 is the host's on PVM).
const NATIVE_ISA_BITS: [(u32, u32, usize, u32); 4] = [
    // SSE3, PCLMULQDQ, SSSE3, FMA, CX16, SSE4.1, SSE4.2, MOVBE, POPCNT, AES, XSAVE, AVX, F16C, RDRAND.
    (1, 0, 2, 0x76d8_3203),
    // BMI1, AVX2, BMI2, ERMS, AVX512F/DQ, RDSEED, ADX, AVX512IFMA, CLFLUSHOPT, CLWB, AVX512CD, SHA,
    // AVX512BW/VL.
    (7, 0, 1, 0xf1af_0328),
    // AVX512VBMI, AVX512_VBMI2, GFNI, VAES, VPCLMULQDQ, AVX512_VNNI, AVX512_BITALG, AVX512_VPOPCNTDQ.
    (7, 0, 2, 0x0000_5f42),
    // LAHF/SAHF, LZCNT, PREFETCHW.
    (0x8000_0001, 0, 2, 0x0000_0121),
];

/// On PVM the app runs natively in ring 3, so every user-mode instruction of the host CPU works,
/// but PVM's KVM_GET_SUPPORTED_CPUID clears many of them (SSE3 to AVX2, AES, XSAVE): libcs would
/// pick their slowest string and crypto code. This puts back the [`NATIVE_ISA_BITS`] that the
/// host CPU (`host_cpuid`) has, in the leaves the table already holds.
pub fn expose_native_isa(cpuid: &mut CpuId, host_cpuid: impl Fn(u32, u32) -> [u32; 4]) {
    for entry in cpuid.as_mut_slice() {
        for &(leaf, subleaf, register, mask) in &NATIVE_ISA_BITS {
            if entry.function == leaf && entry.index == subleaf {
                let native = host_cpuid(leaf, subleaf)[register] & mask;
                match register {
                    0 => entry.eax |= native,
                    1 => entry.ebx |= native,
                    2 => entry.ecx |= native,
                    _ => entry.edx |= native,
                }
            }
        }
    }
}

/// Takes subleaf 1 of CPUID leaf 0xD out of the VM's CPUID, so that the app sees no XSAVEC
/// (the compacted XSAVE format), nor XSAVEOPT and XGETBV with ECX = 1, which that subleaf
/// reports too. glibc's start-up (every static glibc binary) sizes a compacted XSAVE area
/// when the CPU has XSAVEC, one trapped `cpuid` per state component (subleaves 2, 3, 5, 6
/// and 7: 5 traps, ~35 us each on a nested Intel PVM host); it needs that size only for the
/// lazy binding of a dynamically linked program, which uvm does not run, and takes the
/// standard format's size from subleaf 0, which it reads anyway. The whole subleaf goes, not
/// the bit: PVM's KVM fills a subleaf 1 it is given from the host CPU's own (an absent one
/// reads as zeros, as on a CPU without those instructions). The guest kernel uses `xsave64`
/// and `xrstor64` (the standard format); an app that looks for XSAVEC or XSAVEOPT before it
/// uses them falls back to `xsave`, as on an older CPU.
pub fn hide_xsavec(cpuid: &mut CpuId) {
    cpuid.retain(|entry| !(entry.function == 0xd && entry.index == 1));
}

/// The host CPU's CPUID answer as `[eax, ebx, ecx, edx]`.
pub fn host_cpuid(leaf: u32, subleaf: u32) -> [u32; 4] {
    let r = std::arch::x86_64::__cpuid_count(leaf, subleaf);
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// The XCR0 the guest starts with, or `None` when the VM's CPUID has no XSAVE: every component
/// of [`XCR0_X87_SSE_AVX`] and [`XCR0_AVX512`] that CPUID leaf 0xD reports (AVX-512's three
/// parts only together, as XSETBV requires).
pub fn boot_xcr0(cpuid: &CpuId) -> Option<u64> {
    let leaf = |function, index| cpuid.as_slice().iter().find(|e| e.function == function && e.index == index);
    if leaf(1, 0)?.ecx & CPUID_1_ECX_XSAVE == 0 {
        return None;
    }
    let xstate = leaf(0xd, 0)?;
    let supported = u64::from(xstate.eax) | (u64::from(xstate.edx) << 32);
    let mut xcr0 = supported & XCR0_X87_SSE_AVX;
    if supported & XCR0_AVX512 == XCR0_AVX512 && xcr0 & 0b100 != 0 {
        xcr0 |= XCR0_AVX512;
    }
    (xcr0 & 0b11 == 0b11).then_some(xcr0)
}

/// General registers at the kernel's entry (which finds the boot info through its header's
/// `boot_info_gpa`, not a register: the registers are set before staging places it).
pub fn boot_regs(header: &KernelHeader) -> kvm_regs {
    start_regs(header.entry, header.boot_stack_top, 0)
}

/// General registers of a vCPU started at `rip` with `rsp` and `rdi = arg` (the boot vCPU's
/// are these with the kernel's entry and boot stack).
pub fn start_regs(rip: u64, rsp: u64, arg: u64) -> kvm_regs {
    kvm_regs { rip, rsp, rdi: arg, rflags: 0x2, ..Default::default() }
}

/// The syscall MSRs: STAR (selectors), LSTAR (the kernel's syscall entry), SFMASK.
pub fn syscall_msrs(header: &KernelHeader) -> Vec<kvm_msr_entry> {
    let star = ((selectors::KERNEL_CS as u64) << 32) | (((selectors::USER32_CS & !3) as u64) << 48);
    let entry = |index, data| kvm_msr_entry { index, data, ..Default::default() };
    vec![
        entry(MSR_STAR, star),
        entry(MSR_LSTAR, header.syscall_entry),
        entry(MSR_CSTAR, 0),
        entry(MSR_SFMASK, SYSCALL_FLAG_MASK),
        entry(MSR_EFER, EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE),
    ]
}

/// When [`configure_vcpu`] hands KVM a vCPU's segments, control registers and general
/// registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistersGo {
    /// With KVM_SET_SREGS and KVM_SET_REGS, now.
    Now,
    /// Through the vCPU's run area (`kvm_dirty_regs`), which KVM loads at the start of the
    /// next KVM_RUN, before it looks at `immediate_exit`: two vCPU ioctls fewer (~5-7 us each
    /// on a nested host, see [`MmuResync`]). Only where that run comes before anything reads
    /// or writes the registers with an ioctl: the boot vCPU, whose [`first_run_ahead`]
    /// follows at once. (A started vCPU may be asked to take an interrupt before its first
    /// run, which reads and writes its registers with ioctls.)
    AtNextRun,
}

/// Loads the entry state into vCPU `cpu` (whose CPUID is already set): segments and control
/// registers (its own TSS), XCR0, the syscall MSRs and `regs`; the first two and the last
/// as `registers_go` says.
#[allow(clippy::too_many_arguments)]
pub fn configure_vcpu(
    vcpu: &mut VcpuFd,
    header: &KernelHeader,
    platform: Platform,
    cpu: u32,
    page_table_root: u64,
    xcr0: Option<u64>,
    regs: &kvm_regs,
    registers_go: RegistersGo,
) -> Result<(), VmError> {
    let kvm = |what| move |source| VmError::Kvm { what, source };
    let mut sregs = boot_sregs(vcpu.get_sregs().map_err(kvm("KVM_GET_SREGS"))?, platform, cpu, page_table_root);
    if xcr0.is_some() {
        // The app's CPUID then reports OSXSAVE, so its libc uses AVX (glibc's string functions,
        // memcpy) as on Linux; the kernel saves that state in signal frames.
        sregs.cr4 |= CR4_OSXSAVE;
    }
    match registers_go {
        RegistersGo::Now => vcpu.set_sregs(&sregs).map_err(kvm("KVM_SET_SREGS"))?,
        RegistersGo::AtNextRun => {
            let sync = vcpu.sync_regs_mut();
            sync.sregs = sregs;
            sync.regs = *regs;
            vcpu.set_sync_dirty_reg(SyncReg::SystemRegister);
            vcpu.set_sync_dirty_reg(SyncReg::Register);
        }
    }
    if let Some(xcr0) = xcr0 {
        let mut xcrs = kvm_bindings::kvm_xcrs { nr_xcrs: 1, ..Default::default() };
        xcrs.xcrs[0] = kvm_bindings::kvm_xcr { xcr: 0, reserved: 0, value: xcr0 };
        vcpu.set_xcrs(&xcrs).map_err(kvm("KVM_SET_XCRS"))?;
    }
    let msrs = Msrs::from_entries(&syscall_msrs(header))
        .map_err(|_| VmError::Kvm { what: "KVM_SET_MSRS", source: kvm_ioctls::Error::new(libc::E2BIG) })?;
    let written = vcpu.set_msrs(&msrs).map_err(kvm("KVM_SET_MSRS"))?;
    if written != msrs.as_slice().len() {
        return Err(VmError::Kvm {
            what: "KVM_SET_MSRS (an MSR was refused)",
            source: kvm_ioctls::Error::new(libc::EINVAL),
        });
    }
    if registers_go == RegistersGo::Now {
        vcpu.set_regs(regs).map_err(kvm("KVM_SET_REGS"))?;
    }
    Ok(())
}

/// Has KVM do now, ahead of the boot, the work of this thread's first KVM_RUN of the VM's
/// first vCPU: on x86 that starts the VM's NX huge page recovery thread (made 31 us into the
/// first KVM_RUN in a trace here), on the path to the guest's first instruction otherwise
/// (it comes 13-19 us sooner since). The KVM_RUN is made with
/// `immediate_exit` set, so KVM returns EINTR before it would enter the guest; anything else
/// is an error. Call it on the thread that will run the vCPU.
pub fn first_run_ahead(vcpu: &mut VcpuFd) -> Result<(), VmError> {
    vcpu.set_kvm_immediate_exit(1);
    let ran = vcpu.run().map(|_| ());
    vcpu.set_kvm_immediate_exit(0);
    match ran {
        Err(e) if e.errno() == libc::EINTR => Ok(()),
        Err(source) => Err(VmError::Kvm { what: "KVM_RUN (with immediate_exit, loading the boot registers)", source }),
        Ok(()) => Err(VmError::Kvm {
            what: "KVM_RUN (with immediate_exit: it ran the guest)",
            source: kvm_ioctls::Error::new(libc::EINVAL),
        }),
    }
}

/// Changes to a vCPU's CR3 and CR4 that make KVM resync its shadow page tables with the
/// guest's, asked for by exits and other vCPUs and made at the vCPU's next entry:
/// - a flush (so that changed or removed present entries take effect) flips CR4.PGE, measured
///   as the cheapest resync on PVM (on hardware virtualisation it is a full TLB flush); the
///   flip persists, the next flush flips it back;
/// - a new root (the SetRoot hypercall) loads CR3, which resyncs too. A root that is CR3
///   already flips CR4.PGE instead, so that the call still resyncs.
///
/// They go through the vCPU's run area: KVM stores the control registers there at every exit
/// (`kvm_valid_regs`, set by [`MmuResync::track`]) and loads them from it at the start of the
/// next KVM_RUN when marked dirty (`kvm_dirty_regs`), where KVM_GET_SREGS and KVM_SET_SREGS
/// were two vCPU ioctls (~5-7 us each on a nested host: every vCPU ioctl reads an MSR as it
/// loads the vCPU, a trap to the host's own hypervisor). Until the vCPU's first exit since
/// [`MmuResync::track`] the area holds no registers, and the ioctls are used.
#[derive(Debug, Default)]
pub struct MmuResync {
    flush: bool,
    root: Option<u64>,
    /// The run area holds the registers of the vCPU's last exit.
    synced: bool,
}

impl MmuResync {
    /// Has KVM store the vCPU's control registers in its run area at every exit from now on.
    pub fn track(vcpu: &mut VcpuFd) -> MmuResync {
        vcpu.set_sync_valid_reg(SyncReg::SystemRegister);
        MmuResync::default()
    }

    /// Asks for a flush at the next entry.
    pub fn flush(&mut self) {
        self.flush = true;
    }

    /// Asks for `root` as CR3 at the next entry (the caller checked that it is a page-aligned
    /// guest-physical address in RAM).
    pub fn set_root(&mut self, root: u64) {
        self.root = Some(root);
    }

    /// Makes what was asked for, right before a KVM_RUN of `vcpu`.
    pub fn before_run(&mut self, vcpu: &mut VcpuFd) -> Result<(), VmError> {
        let (flush, root) = (std::mem::take(&mut self.flush), self.root.take());
        if !flush && root.is_none() {
            return Ok(());
        }
        let kvm = |what| move |source| VmError::Kvm { what, source };
        let sregs_dirty = u64::from(KVM_SYNC_X86_SREGS);
        let pending = vcpu.get_kvm_run().kvm_dirty_regs & sregs_dirty != 0;
        if self.synced && !pending {
            resync(&mut vcpu.sync_regs_mut().sregs, root);
            vcpu.set_sync_dirty_reg(SyncReg::SystemRegister);
            return Ok(());
        }
        // The ioctls. Registers the run area holds for KVM to load (a KVM_RUN that failed
        // before it loaded them) are loaded first, so that the resync is a change from them.
        let mut sregs = if pending {
            vcpu.clear_sync_dirty_reg(SyncReg::SystemRegister);
            let sregs = vcpu.sync_regs().sregs;
            vcpu.set_sregs(&sregs).map_err(kvm("KVM_SET_SREGS"))?;
            sregs
        } else {
            vcpu.get_sregs().map_err(kvm("KVM_GET_SREGS"))?
        };
        resync(&mut sregs, root);
        vcpu.set_sregs(&sregs).map_err(kvm("KVM_SET_SREGS"))
    }

    /// Notes that a KVM_RUN returned (with an exit or an interruption): KVM stored the
    /// registers then.
    pub fn after_run(&mut self) {
        self.synced = true;
    }
}

/// Changes `sregs` so that loading them has KVM resync: `root` as CR3 when it is not CR3
/// already, else (a flush, or a root that is CR3) CR4.PGE flipped.
fn resync(sregs: &mut kvm_sregs, root: Option<u64>) {
    match root {
        Some(root) if root != sregs.cr3 => sregs.cr3 = root,
        _ => sregs.cr4 ^= CR4_PGE,
    }
}

/// The CR3 a started vCPU begins with: the root its VcpuStart names, or the boot tables'
/// (`boot_root`) when that is 0.
pub fn start_root(requested: u64, boot_root: u64) -> u64 {
    if requested == 0 {
        boot_root
    } else {
        requested
    }
}

/// AT_HWCAP for the app: CPUID leaf 1 EDX as the VM reports it.
pub fn hwcap(cpuid: &CpuId) -> u64 {
    cpuid.as_slice().iter().find(|e| e.function == 1).map_or(0, |e| e.edx as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resync_loads_a_new_root_or_flips_pge() {
        let start = kvm_sregs { cr3: 0x1000, cr4: 0x6a0, ..Default::default() };
        let mut sregs = start;
        resync(&mut sregs, Some(0x5000));
        assert_eq!((sregs.cr3, sregs.cr4), (0x5000, start.cr4), "a new root: CR3 alone");
        let mut sregs = start;
        resync(&mut sregs, None);
        assert_eq!((sregs.cr3, sregs.cr4), (start.cr3, start.cr4 ^ CR4_PGE), "a flush: PGE flipped");
        resync(&mut sregs, None);
        assert_eq!(sregs.cr4, start.cr4, "the next flush flips it back");
        let mut sregs = start;
        resync(&mut sregs, Some(start.cr3));
        assert_eq!((sregs.cr3, sregs.cr4), (start.cr3, start.cr4 ^ CR4_PGE), "the root it has: a flush");
    }

    #[test]
    fn gdt_has_linux_selectors_and_one_tss_per_cpu() {
        let gdt = gdt_bytes(2);
        assert_eq!(gdt.len(), 8 * 8 + 2 * 16);
        let desc = |sel: u16| u64::from_le_bytes(gdt[(sel & !7) as usize..(sel & !7) as usize + 8].try_into().unwrap());
        assert_eq!((desc(selectors::USER_CS) >> 45) & 3, 3, "user code is DPL 3");
        assert_eq!((desc(selectors::USER_CS) >> 53) & 1, 1, "user code is 64-bit");
        assert_eq!((desc(selectors::KERNEL_CS) >> 45) & 3, 0);
        let tss1 = desc(selectors::TSS_BASE + 16);
        assert_eq!((tss1 >> 16) & 0xff_ffff, layout::tss_gpa(1));
    }

    #[test]
    fn idt_gates_point_at_the_stubs() {
        let header = KernelHeader {
            magic: uvm_abi::kernel::KERNEL_MAGIC,
            abi_version: uvm_abi::ABI_VERSION,
            header_size: 56,
            memory_size: 0x4000,
            entry: 0x20_1000,
            syscall_entry: 0x20_2000,
            exception_stubs: 0x20_3000,
            boot_stack_top: 0x20_8000,
            cold_start: 0,
            cold_end: 0,
            shared_start: 0,
            shared_end: 0,
            boot_info_gpa: 0,
        };
        let idt = idt_bytes(&header);
        let gate = |v: usize| u64::from_le_bytes(idt[v * 16..v * 16 + 8].try_into().unwrap());
        let target = |g: u64| (g & 0xffff) | (((g >> 48) & 0xffff) << 16);
        assert_eq!(target(gate(0)), 0x20_3000);
        assert_eq!(target(gate(14)), 0x20_3000 + 14 * EXCEPTION_STUB_STRIDE);
        assert_eq!((gate(14) >> 16) & 0xffff, selectors::KERNEL_CS as u64);
    }

    #[test]
    fn xcr0_takes_what_cpuid_offers_and_avx512_only_whole() {
        let entry = |function, index, eax, ecx, edx| kvm_bindings::kvm_cpuid_entry2 {
            function,
            index,
            eax,
            ecx,
            edx,
            ..Default::default()
        };
        let table = |xsave: bool, components: u32| {
            let ecx = if xsave { CPUID_1_ECX_XSAVE } else { 0 };
            CpuId::from_entries(&[entry(1, 0, 0, ecx, 0), entry(0xd, 0, components, 0, 0)]).unwrap()
        };
        assert_eq!(boot_xcr0(&table(false, 0x7)), None, "no XSAVE, no XCR0");
        assert_eq!(boot_xcr0(&table(true, 0x7)), Some(0x7));
        assert_eq!(boot_xcr0(&table(true, 0x2e7)), Some(0xe7), "AVX-512 yes, PKRU and MPX no");
        assert_eq!(boot_xcr0(&table(true, 0x67)), Some(0x7), "partial AVX-512 is left off");
        assert_eq!(boot_xcr0(&table(true, 0x3)), Some(0x3));
    }

    #[test]
    fn xsavec_is_hidden_and_the_rest_of_leaf_0xd_kept() {
        let entry = |index, eax| kvm_bindings::kvm_cpuid_entry2 { function: 0xd, index, eax, ..Default::default() };
        let mut table = CpuId::from_entries(&[entry(0, 0xe7), entry(1, 0x7), entry(2, 0x100)]).unwrap();
        hide_xsavec(&mut table);
        let indices: Vec<(u32, u32)> = table.as_slice().iter().map(|e| (e.index, e.eax)).collect();
        assert_eq!(indices, [(0, 0xe7), (2, 0x100)], "subleaf 1 gone, the others untouched");
    }

    #[test]
    fn native_isa_bits_come_from_the_host_only_where_masked() {
        let entry = |function, index| kvm_bindings::kvm_cpuid_entry2 { function, index, ..Default::default() };
        let mut table = CpuId::from_entries(&[entry(1, 0), entry(7, 0), entry(7, 1)]).unwrap();
        expose_native_isa(&mut table, |_, _| [u32::MAX; 4]);
        let leaf = |f, i| *table.as_slice().iter().find(|e| e.function == f && e.index == i).unwrap();
        assert_eq!(leaf(1, 0).ecx, 0x76d8_3203, "SSE3..RDRAND, not x2APIC, PCID, OSXSAVE or hypervisor");
        assert_eq!(leaf(1, 0).edx, 0, "leaf 1 EDX is left to KVM");
        assert_eq!(leaf(7, 0).ebx & (1 << 5), 1 << 5, "AVX2");
        assert_eq!(leaf(7, 0).ebx & (1 << 0), 0, "FSGSBASE needs kernel support");
        assert_eq!(leaf(7, 0).ecx & (1 << 22), 0, "RDPID reads the host's TSC_AUX");
        assert_eq!(leaf(7, 1), entry(7, 1), "other subleaves untouched");
    }

    #[test]
    fn started_vcpus_get_their_own_registers_and_tss() {
        let regs = start_regs(0x20_1000, 0x20_8000, 0x4000_0000_5000);
        assert_eq!((regs.rip, regs.rsp, regs.rdi, regs.rflags), (0x20_1000, 0x20_8000, 0x4000_0000_5000, 0x2));
        let sregs = boot_sregs(kvm_sregs::default(), Platform::Pvm, 5, 0x40_0000);
        assert_eq!(sregs.tr.base, layout::tss_gpa(5));
        assert_eq!(sregs.tr.selector, selectors::TSS_BASE + 5 * 16);
        assert_eq!(sregs.cr3, 0x40_0000);
        let gdt = gdt_bytes(layout::MAX_VCPUS);
        assert!(gdt.len() <= 4096, "the GDT fits its page");
        assert_eq!(gdt.len() - 1, sregs.gdt.limit as usize);
    }

    #[test]
    fn started_vcpus_take_their_root_or_the_boot_tables() {
        assert_eq!(start_root(0, 0x40_0000), 0x40_0000, "0 means the boot tables");
        assert_eq!(start_root(0x80_3000, 0x40_0000), 0x80_3000);
    }

    #[test]
    fn tss_points_at_its_exception_stack() {
        let tss = tss_bytes(3);
        assert_eq!(u64::from_le_bytes(tss[4..12].try_into().unwrap()), layout::exception_stack_top(3));
    }
}
