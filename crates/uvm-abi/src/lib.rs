//! The one contract between the uvm host (VMM, image builder) and the uvm guest kernel.
//!
//! Both sides compile this crate, so every address, number and `#[repr(C)]` layout shared
//! across the VM boundary is written down exactly once, here. It is `no_std`, has no
//! dependencies and contains no code with side effects: only constants, plain data types and
//! the pure helpers both sides need to read them.
//!
//! - [`layout`]: the guest-physical and guest-virtual memory map.
//! - [`boot`]: [`boot::BootInfo`], what the VMM hands the guest kernel at entry.
//! - [`kernel`]: [`kernel::KernelHeader`], how the VMM finds the guest kernel's entry points.
//! - [`hypercall`]: hypercall numbers and their parameter blocks.
//! - [`console`]: the console ring, stdout and stderr without an exit per write.
//! - [`image`]: the on-disk image format (header, file table), read by the host and the guest.
//! - [`net`]: IP sockets held by the VMM: the Net hypercall's operations and the shared
//!   readiness area.
//! - [`hostfs`]: volumes, host directories the VMM holds: the HostFs hypercall's operations.
//! - [`signal`]: Linux signal names.
#![no_std]

pub mod boot;
pub mod console;
pub mod hostfs;
pub mod hypercall;
pub mod image;
pub mod kernel;
pub mod layout;
pub mod net;
pub mod percpu;
pub mod signal;

/// Version of the contract between the VMM and the guest kernel (the boot info, the kernel
/// header, hypercalls, the memory map). Both are built into one `uvm`, and the guest kernel
/// refuses a [`boot::BootInfo`] of another version. Bump it on any change to a layout, number
/// or meaning in this crate, except the image's layout, which has its own
/// [`image::IMAGE_FORMAT_VERSION`]. An image records the ABI version of the `uvm` that built
/// it, for information only: a newer `uvm` runs it while its format is supported.
pub const ABI_VERSION: u32 = 17;
