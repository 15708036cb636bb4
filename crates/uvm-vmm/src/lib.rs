//! uvm-vmm: the host side of a uvm micro-VM.
//!
//! It creates the KVM VM, maps guest RAM and the image (read-only, zero copy), writes the boot
//! state (guest kernel, descriptor tables, page tables, boot info), starts vCPU 0 at the
//! guest kernel's entry (and further vCPUs, one host thread each, when the guest asks) and
//! then only answers hypercalls and exits. Every hypercall argument is validated; nothing the
//! guest does can make the host panic or touch memory outside the guest's.
//!
//! unsafe is confined to `memory.rs` (plain-data copies, the image region, atomics on the
//! network's readiness area), `net/sys.rs` (the host socket calls), `volumes/sys.rs` (the
//! host file calls of volumes), `mapped.rs` (mmap), `vm.rs` (memory slots, host libc calls),
//! `stop.rs` (signal handlers, eventfd, poll, futex, tgkill, the `immediate_exit` bytes),
//! `kvm_stats.rs` (one ioctl), `teardown.rs` (the reaper) and `boot.rs` (rdtsc).

mod alarm;
pub mod boot;
pub mod cache_leaf;
pub mod console_ring;
pub mod cpu;
mod doorbell;
pub mod error;
pub mod exit;
pub mod host_io;
pub mod hot_copies;
pub mod hot_pages;
pub mod hypercall;
mod interrupt;
pub mod kvm_stats;
pub mod late_ram;
pub mod mapped;
pub mod memory;
pub mod net;
pub mod paging;
pub mod process;
mod run_loop;
pub mod stop;
mod supported_cpuid;
mod syscall_result;
pub mod teardown;
pub mod timings;
pub mod vcpus;
pub mod vcpus_ahead;
pub mod vm;
pub mod volumes;

pub use boot::{AppLaunch, AppUser, Entrypoint, HostName, KernelFile};
pub use error::{HypercallError, VmError};
pub use exit::{ExitCounts, Outcome};
pub use host_io::{HostIo, MemoryIo, StdIo};
pub use mapped::MappedFile;
pub use net::NetCounts;
pub use stop::{StopPolicy, StopReason};
pub use vm::{
    host_cpus, prepare, run, run_staged, stage_memory, vm_handoff, EarlyCopies, PreparedVm, RunReport, StagedMemory,
    VmReceiver, VmResources, VmSender, VmSpec,
};
pub use volumes::VolumeSpec;
