//! The fields of the guest kernel's per-vCPU area (reached through the GS base) that the VMM
//! writes when it interrupts a vCPU ([`crate::hypercall::Hypercall::Interrupt`]): the same
//! ones the kernel's fault frame entry writes for an exception; and the signals from outside the
//! VM it passes on ([`OUTSIDE_SIGNALS`]). The guest's `PerCpu` struct is laid
//! out at these offsets (its tests check them).

/// The vector the fault entry sees for an interrupt from the VMM (the first one after the
/// CPU's 32 exception vectors).
pub const INTERRUPT_VECTOR: u64 = 32;

/// The last exception's vector.
pub const FAULT_VECTOR: u64 = 32;
/// The last exception's error code.
pub const FAULT_ERROR: u64 = 40;
/// The interrupted rip.
pub const FAULT_RIP: u64 = 48;
/// The interrupted rsp.
pub const FAULT_RSP: u64 = 56;
/// The interrupted rflags.
pub const FAULT_RFLAGS: u64 = 64;
/// Where the fault entry is (read by the VMM).
pub const FAULT_ENTRY: u64 = 88;
/// The interrupted cs.
pub const FAULT_CS: u64 = 96;
/// The top of the fault entry's stack (read by the VMM).
pub const FAULT_STACK_TOP: u64 = 104;
/// Signals from outside the VM for the app (bit `sig - 1` for signal `sig`), in the boot
/// vCPU's area only: uvm sets them when it gets SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 or
/// SIGUSR2 (an atomic OR), then interrupts every vCPU; the guest kernel takes them (an atomic
/// swap with 0) on its next way back to the app or in a wait, and sends them to the app.
pub const OUTSIDE_SIGNALS: u64 = 184;
/// rflags bits the VMM clears when it starts an interrupt at the fault entry: TF, DF, AC
/// (clear too in the fixed rflags an exception reaches the fault entry with).
pub const ENTRY_RFLAGS_CLEAR: u64 = (1 << 8) | (1 << 10) | (1 << 18);
