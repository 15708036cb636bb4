//! The per-vCPU area, reached through the GS base (which the `syscall` trap leaves alone on
//! PVM, and which the kernel never swaps). The entry code addresses its fields by the offsets
//! below; the Rust side reads it through [`PerCpu`].

/// Per-vCPU data. Field offsets are part of the entry code's contract (see the `OFF_*`
/// constants); do not reorder.
#[repr(C, align(64))]
pub struct PerCpu {
    /// Top of this vCPU's kernel stack: where the syscall entry builds its trap frame.
    pub kernel_stack_top: u64,
    /// Scratch: the app's rsp at syscall entry.
    pub scratch_rsp: u64,
    /// Scratch: where the return path jumps.
    pub return_rip: u64,
    /// Scratch: the stack pointer the return path restores.
    pub return_rsp: u64,
    /// The last exception: vector.
    pub fault_vector: u64,
    /// The last exception: error code (0 when the CPU pushes none).
    pub fault_error: u64,
    /// The last exception: interrupted rip.
    pub fault_rip: u64,
    /// The last exception: interrupted rsp.
    pub fault_rsp: u64,
    /// The last exception: interrupted rflags.
    pub fault_rflags: u64,
    /// The last exception: CR2 (the faulting address of a page fault).
    pub fault_cr2: u64,
    /// Scratch: rax while the fault frame entry copies the exception's frame.
    pub scratch_rax: u64,
    /// The fault entry (ring 3 on PVM), where the VMM starts an interrupt; an exception gets
    /// there through the fault frame entry just before it.
    pub fault_entry: u64,
    /// The last exception: interrupted cs.
    pub fault_cs: u64,
    /// Top of the stack the fault entry runs on.
    pub fault_stack_top: u64,
    /// Code selector the fault entry runs with (user on PVM, kernel on VMX/SVM).
    pub kernel_cs: u64,
    /// Stack selector the fault entry runs with.
    pub kernel_ss: u64,
    /// 1 on VMX/SVM hosts: return to the app with `iretq` instead of `popfq; jmp`.
    pub hardware_virt: u64,
    /// This vCPU's index.
    pub cpu_index: u64,
    /// Nonzero while the fault handler runs (a nested fault is a kernel bug).
    pub in_fault: u64,
    /// The FS base (thread pointer) of the thread this vCPU starts next.
    pub start_fs_base: u64,
    /// Set (by the thread that made the next thread) when that thread may start here: an
    /// idle vCPU waits for it.
    pub start_requested: core::sync::atomic::AtomicU32,
    /// The root of the page tables this vCPU runs on (its process's; the boot tables while
    /// it idles; `family::HOLDING_SPARE` on an ended process's). Other vCPUs read it to know
    /// whom a change of those tables concerns ([`vcpus_on`]), so a vCPU publishes a root
    /// before it loads it ([`PerCpu::publish_root`]).
    pub root: core::sync::atomic::AtomicU64,
    /// The root of the thread this vCPU starts next.
    pub start_root: u64,
    /// Signals from outside the VM, set by the VMM in the boot vCPU's area only
    /// (`uvm_abi::percpu::OUTSIDE_SIGNALS`; `signal::outside` takes them).
    pub outside_signals: core::sync::atomic::AtomicU64,
    /// Where the ring-0 exception stub found the CPU's exception frame (its stack pointer
    /// then); the fault frame entry reads the frame there.
    pub fault_frame: u64,
    /// The address of `fault_return`: the exception stub's `iretq` pops that frame.
    pub fault_return_frame: u64,
    /// The `iretq` frame the exception stub leaves through, made once ([`PerCpu::arm_fault_return`]):
    /// rip (the fault frame entry), cs, rflags, rsp (the fault stack's top), ss.
    pub fault_return: [u64; 5],
}

/// The rflags the exception stub enters the fault entry with: IF and the always-set bit 1
/// (so TF, DF and AC clear, as `uvm_abi::percpu::ENTRY_RFLAGS_CLEAR` leaves an interrupt's).
pub const FAULT_ENTRY_RFLAGS: u64 = 0x202;

/// Offsets of [`PerCpu`] fields used by the entry code.
pub mod offsets {
    pub const KERNEL_STACK_TOP: usize = 0;
    pub const SCRATCH_RSP: usize = 8;
    pub const RETURN_RIP: usize = 16;
    pub const RETURN_RSP: usize = 24;
    pub const FAULT_VECTOR: usize = uvm_abi::percpu::FAULT_VECTOR as usize;
    pub const FAULT_ERROR: usize = uvm_abi::percpu::FAULT_ERROR as usize;
    pub const FAULT_RIP: usize = uvm_abi::percpu::FAULT_RIP as usize;
    pub const FAULT_RSP: usize = uvm_abi::percpu::FAULT_RSP as usize;
    pub const FAULT_RFLAGS: usize = uvm_abi::percpu::FAULT_RFLAGS as usize;
    pub const FAULT_CR2: usize = 72;
    pub const SCRATCH_RAX: usize = 80;
    pub const FAULT_ENTRY: usize = uvm_abi::percpu::FAULT_ENTRY as usize;
    pub const FAULT_CS: usize = uvm_abi::percpu::FAULT_CS as usize;
    pub const FAULT_STACK_TOP: usize = uvm_abi::percpu::FAULT_STACK_TOP as usize;
    pub const HARDWARE_VIRT: usize = 128;
    pub const OUTSIDE_SIGNALS: usize = uvm_abi::percpu::OUTSIDE_SIGNALS as usize;
    pub const FAULT_FRAME: usize = 192;
    pub const FAULT_RETURN_FRAME: usize = 200;
}

impl PerCpu {
    /// An empty area (filled in at boot).
    pub const fn empty() -> PerCpu {
        PerCpu {
            kernel_stack_top: 0,
            scratch_rsp: 0,
            return_rip: 0,
            return_rsp: 0,
            fault_vector: 0,
            fault_error: 0,
            fault_rip: 0,
            fault_rsp: 0,
            fault_rflags: 0,
            fault_cr2: 0,
            scratch_rax: 0,
            fault_entry: 0,
            fault_cs: 0,
            fault_stack_top: 0,
            kernel_cs: 0,
            kernel_ss: 0,
            hardware_virt: 0,
            cpu_index: 0,
            in_fault: 0,
            start_fs_base: 0,
            start_requested: core::sync::atomic::AtomicU32::new(0),
            root: core::sync::atomic::AtomicU64::new(0),
            start_root: 0,
            outside_signals: core::sync::atomic::AtomicU64::new(0),
            fault_frame: 0,
            fault_return_frame: 0,
            fault_return: [0; 5],
        }
    }
}

impl PerCpu {
    /// Makes the frame the exception stub's `iretq` pops (`fault_return`): to `entry` (the
    /// fault frame entry), on the fault stack's top and with the selectors, all set before;
    /// and points `fault_return_frame` at it. The area must be at its final address. Out of
    /// line: one copy for the boot vCPU's area and the later ones', in the hot text.
    #[inline(never)]
    pub fn arm_fault_return(&mut self, entry: u64) {
        self.fault_return = [entry, self.kernel_cs, FAULT_ENTRY_RFLAGS, self.fault_stack_top, self.kernel_ss];
        self.fault_return_frame = core::ptr::addr_of!(self.fault_return) as u64;
    }

    /// The root of the tables this vCPU runs on (see [`PerCpu::root`]).
    pub fn loaded_root(&self) -> u64 {
        self.root.load(core::sync::atomic::Ordering::SeqCst)
    }

    /// Says this vCPU runs on the tables at `root`, before it loads them (`SetRoot`): a flush
    /// of their changes from another vCPU that reads the old value comes before the load,
    /// which then sees the changes ([`vcpus_on`]).
    pub fn publish_root(&self, root: u64) {
        self.root.store(root, core::sync::atomic::Ordering::SeqCst);
    }
}

/// The vCPUs among `roots` (index, the root each runs on) other than `me` that run on `root`,
/// as a mask (bit `i`: vCPU `i`; indices past 63 are not vCPUs of a VM).
pub fn mask_of(roots: impl Iterator<Item = (u32, u64)>, root: u64, me: u32) -> u64 {
    roots
        .filter(|&(index, on)| index != me && index < u64::BITS && on == root)
        .fold(0, |mask, (index, _)| mask | 1 << index)
}

/// Host tests have no per-CPU area: no other vCPU runs on any tables.
#[cfg(test)]
pub fn vcpus_on(_root: u64) -> u64 {
    0
}

/// Host tests have no per-CPU area: a stand-in for the boot vCPU's outside signals.
#[cfg(test)]
pub fn outside_signals() -> &'static core::sync::atomic::AtomicU64 {
    static OUTSIDE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
    &OUTSIDE
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn a_flush_names_the_other_vcpus_on_the_changed_tables() {
        let roots = [(0, 0x1000), (1, 0x2000), (2, 0x1000), (3, 0x1000), (70, 0x1000)];
        assert_eq!(mask_of(roots.into_iter(), 0x1000, 2), 0b1001, "not itself, not one on other tables");
        assert_eq!(mask_of(roots.into_iter(), 0x3000, 0), 0, "tables no vCPU runs on");
        assert_eq!(mask_of(roots.into_iter(), 0x2000, 1), 0);
    }

    #[test]
    fn offsets_match_the_struct() {
        assert_eq!(offset_of!(PerCpu, kernel_stack_top), offsets::KERNEL_STACK_TOP);
        assert_eq!(offset_of!(PerCpu, scratch_rsp), offsets::SCRATCH_RSP);
        assert_eq!(offset_of!(PerCpu, return_rip), offsets::RETURN_RIP);
        assert_eq!(offset_of!(PerCpu, return_rsp), offsets::RETURN_RSP);
        assert_eq!(offset_of!(PerCpu, fault_vector), offsets::FAULT_VECTOR);
        assert_eq!(offset_of!(PerCpu, fault_error), offsets::FAULT_ERROR);
        assert_eq!(offset_of!(PerCpu, fault_rip), offsets::FAULT_RIP);
        assert_eq!(offset_of!(PerCpu, fault_rsp), offsets::FAULT_RSP);
        assert_eq!(offset_of!(PerCpu, fault_rflags), offsets::FAULT_RFLAGS);
        assert_eq!(offset_of!(PerCpu, fault_cr2), offsets::FAULT_CR2);
        assert_eq!(offset_of!(PerCpu, scratch_rax), offsets::SCRATCH_RAX);
        assert_eq!(offset_of!(PerCpu, fault_entry), offsets::FAULT_ENTRY);
        assert_eq!(offset_of!(PerCpu, fault_cs), offsets::FAULT_CS);
        assert_eq!(offset_of!(PerCpu, fault_stack_top), offsets::FAULT_STACK_TOP);
        assert_eq!(offset_of!(PerCpu, hardware_virt), offsets::HARDWARE_VIRT);
        assert_eq!(offset_of!(PerCpu, outside_signals), offsets::OUTSIDE_SIGNALS);
        assert_eq!(offset_of!(PerCpu, fault_frame), offsets::FAULT_FRAME);
        assert_eq!(offset_of!(PerCpu, fault_return_frame), offsets::FAULT_RETURN_FRAME);
    }

    #[test]
    fn the_fault_return_frame_is_an_iretq_frame_to_the_entry_on_the_fault_stack() {
        let mut pc = PerCpu::empty();
        pc.fault_stack_top = 0x29_0000;
        pc.kernel_cs = 0x33;
        pc.kernel_ss = 0x2b;
        pc.arm_fault_return(0x20_2330);
        assert_eq!(pc.fault_return, [0x20_2330, 0x33, FAULT_ENTRY_RFLAGS, 0x29_0000, 0x2b]);
        assert_eq!(pc.fault_return_frame, core::ptr::addr_of!(pc.fault_return) as u64);
    }
}

#[cfg(not(test))]
pub use cpu0::*;

#[cfg(not(test))]
mod cpu0 {
    //! The boot vCPU's per-CPU area and stacks, and the registry of every vCPU's area.
    use super::PerCpu;
    use core::sync::atomic::{AtomicU64, Ordering};
    use uvm_abi::layout::{selectors, MAX_VCPUS};

    /// Bytes of a vCPU's kernel stack (syscalls run on it).
    pub const KERNEL_STACK_SIZE: usize = 64 * 1024;
    /// Bytes kept free at the top of the boot vCPU's kernel stack while the kernel boots on
    /// it (below them): the app's first trap frame is built there, and the boot's own frames,
    /// dead once the app runs, are then overwritten by syscalls. A stack of its own for the
    /// boot would be 64 KiB of memory the VMM backs on every start for one use.
    pub const BOOT_STACK_RESERVE: usize = 1024;
    const _: () =
        assert!(BOOT_STACK_RESERVE >= crate::arch::frame::TRAP_FRAME_SIZE && BOOT_STACK_RESERVE.is_multiple_of(16));
    /// Bytes of a vCPU's fault stack (the fault entry runs on it).
    pub const FAULT_STACK_SIZE: usize = 32 * 1024;

    /// A stack: 16-byte aligned bytes.
    #[repr(C, align(4096))]
    pub struct Stack<const N: usize>(pub [u8; N]);

    /// The boot vCPU's kernel stack; the kernel boots on it too (the VMM starts the first
    /// vCPU with rsp [`BOOT_STACK_RESERVE`] below its top). Its section puts it last in the
    /// kernel, ending at a 32 KiB boundary (see link.ld).
    #[link_section = ".bss.zz_kernel_stack"]
    pub static mut KERNEL_STACK0: Stack<KERNEL_STACK_SIZE> = Stack([0; KERNEL_STACK_SIZE]);
    /// Its section puts it after the hot zero-initialised data (see link.ld).
    #[link_section = ".bss.zy_fault_stack"]
    static mut FAULT_STACK0: Stack<FAULT_STACK_SIZE> = Stack([0; FAULT_STACK_SIZE]);

    /// The boot vCPU's per-CPU area (its address goes into the GS base at entry).
    #[no_mangle]
    pub static mut PERCPU0: PerCpu = PerCpu::empty();

    /// Every vCPU's per-CPU area by index, as made (0: none yet; indices are handed out in
    /// order), for [`vcpus_on`].
    static AREAS: [AtomicU64; MAX_VCPUS as usize] = [const { AtomicU64::new(0) }; MAX_VCPUS as usize];

    /// The other vCPUs that run on the tables at `root`, or are about to load them, as a mask
    /// (bit `i`: vCPU `i`): those a change of their present entries concerns (the `FlushTlb`
    /// hypercall). The caller wrote the changes before; a vCPU that publishes `root` after
    /// this read loads the tables after it too ([`PerCpu::publish_root`]), and sees them.
    pub fn vcpus_on(root: u64) -> u64 {
        core::sync::atomic::fence(Ordering::SeqCst);
        let me = current().cpu_index as u32;
        let areas = AREAS.iter().map(|a| a.load(Ordering::Acquire)).take_while(|&area| area != 0);
        // SAFETY: a registered area is a PerCpu that lives forever; `root` is atomic.
        let roots = areas.enumerate().map(|(i, area)| (i as u32, unsafe { &*(area as *const PerCpu) }.loaded_root()));
        super::mask_of(roots, root, me)
    }

    /// Fills in the boot vCPU's per-CPU area. Called once, first thing at boot, before
    /// anything can fault or make a syscall.
    pub fn init_boot_cpu(hardware_virt: bool) {
        let (cs, ss) = if hardware_virt {
            (selectors::KERNEL_CS, selectors::KERNEL_DS)
        } else {
            (selectors::USER_CS, selectors::USER_DS)
        };
        // SAFETY: runs once on the boot vCPU before anything else reads these statics; the
        // addresses taken are of statics that live forever.
        unsafe {
            let pc = &mut *core::ptr::addr_of_mut!(PERCPU0);
            pc.kernel_stack_top = core::ptr::addr_of!(KERNEL_STACK0) as u64 + KERNEL_STACK_SIZE as u64;
            pc.fault_stack_top = core::ptr::addr_of!(FAULT_STACK0) as u64 + FAULT_STACK_SIZE as u64;
            pc.fault_entry = super::super::entry::fault_entry_address();
            pc.kernel_cs = cs as u64;
            pc.kernel_ss = ss as u64;
            pc.hardware_virt = u64::from(hardware_virt);
            pc.cpu_index = 0;
            pc.arm_fault_return(super::super::entry::fault_frame_entry_address());
            AREAS[0].store(pc as *mut PerCpu as u64, Ordering::Release);
        }
    }

    /// The per-CPU area and stacks of a vCPU after the first (one per app thread's vCPU),
    /// from the kernel heap and never freed: a vCPU is reused for later threads.
    #[repr(C, align(4096))]
    struct SecondaryCpu {
        kernel_stack: Stack<KERNEL_STACK_SIZE>,
        fault_stack: Stack<FAULT_STACK_SIZE>,
        percpu: PerCpu,
    }

    /// Makes the per-CPU area of vCPU `index` (its stacks are left as they are: the direct
    /// map already maps them, and an untouched stack page costs nothing). Returns the area's
    /// address, or `None` when the heap is exhausted.
    pub fn new_secondary(index: u32, hardware_virt: bool) -> Option<u64> {
        let layout = core::alloc::Layout::new::<SecondaryCpu>();
        // SAFETY: the layout has a nonzero size.
        let cpu = unsafe { alloc::alloc::alloc(layout) } as *mut SecondaryCpu;
        if cpu.is_null() {
            return None;
        }
        let (cs, ss) = if hardware_virt {
            (selectors::KERNEL_CS, selectors::KERNEL_DS)
        } else {
            (selectors::USER_CS, selectors::USER_DS)
        };
        // SAFETY: `cpu` is a fresh, exclusively owned allocation of the right layout; only its
        // `percpu` field is written (the stacks need no initial value) and it lives forever.
        unsafe {
            let area = core::ptr::addr_of_mut!((*cpu).percpu);
            area.write(PerCpu::empty());
            let pc = &mut *area;
            pc.kernel_stack_top = core::ptr::addr_of!((*cpu).kernel_stack) as u64 + KERNEL_STACK_SIZE as u64;
            pc.fault_stack_top = core::ptr::addr_of!((*cpu).fault_stack) as u64 + FAULT_STACK_SIZE as u64;
            pc.fault_entry = super::super::entry::fault_entry_address();
            pc.kernel_cs = cs as u64;
            pc.kernel_ss = ss as u64;
            pc.hardware_virt = u64::from(hardware_virt);
            pc.cpu_index = u64::from(index);
            pc.arm_fault_return(super::super::entry::fault_frame_entry_address());
            if let Some(slot) = AREAS.get(index as usize) {
                slot.store(area as u64, Ordering::Release);
            }
            Some(area as u64)
        }
    }

    /// Where a thread's first trap frame goes on the vCPU whose area is at `area`: the spot
    /// the syscall entry uses, at the top of its kernel stack.
    pub fn start_frame_address(area: u64) -> u64 {
        // SAFETY: `area` is a PerCpu made by `new_secondary` or PERCPU0 (never freed); only
        // a plain field written before the vCPU started is read.
        let top = unsafe { (*(area as *const PerCpu)).kernel_stack_top };
        top - crate::arch::frame::TRAP_FRAME_SIZE as u64
    }

    /// Prepares the vCPU whose area is at `area` to start a thread with `frame` and FS base
    /// `fs_base`. The vCPU must not be running app code (new, or idle and waiting for
    /// [`request_start`]); the caller holds the process lock.
    pub fn prepare_start(area: u64, frame: &crate::arch::frame::TrapFrame, fs_base: u64, root: u64) {
        let at = start_frame_address(area) as *mut crate::arch::frame::TrapFrame;
        // SAFETY: the frame spot is the top of that vCPU's kernel stack, which no code uses
        // while the vCPU is new or idle (its idle loop runs deeper in the stack); the area
        // lives forever; the vCPU reads these only after `request_start` or its first entry.
        unsafe {
            at.write(*frame);
            (*(area as *mut PerCpu)).start_fs_base = fs_base;
            (*(area as *mut PerCpu)).start_root = root;
            // A new vCPU starts on `root` (the VMM loads it): published before it is asked to.
            let pc = &*(area as *const PerCpu);
            if pc.loaded_root() == 0 {
                pc.publish_root(root);
            }
        }
    }

    /// Lets the idle vCPU whose area is at `area` start its prepared thread.
    pub fn request_start(area: u64) {
        // SAFETY: the area lives forever; the flag is atomic.
        let pc = unsafe { &*(area as *const PerCpu) };
        pc.start_requested.store(1, core::sync::atomic::Ordering::Release);
    }

    /// Takes this vCPU's start request, if one came.
    pub fn take_start_request() -> bool {
        current().start_requested.swap(0, core::sync::atomic::Ordering::Acquire) != 0
    }

    /// The signals from outside the VM the VMM left for the app (in the boot vCPU's area,
    /// read from any vCPU).
    pub fn outside_signals() -> &'static core::sync::atomic::AtomicU64 {
        let area = &raw const PERCPU0;
        // SAFETY: a shared reference to an atomic field of the boot vCPU's static area; the
        // field is only ever accessed atomically (here and by the VMM).
        unsafe { &(*area).outside_signals }
    }

    /// This vCPU's per-CPU area.
    pub fn current() -> &'static mut PerCpu {
        let base = super::super::instr::read_gs_base();
        // SAFETY: the GS base always points at this vCPU's PerCpu (set at entry, never
        // changed), and only this vCPU uses it. Callers do not hold two of these at once.
        unsafe { &mut *(base as *mut PerCpu) }
    }
}
