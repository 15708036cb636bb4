//! The VMM's errors: one enum for setting up and running a VM, one for refused hypercalls.

use std::io;
use std::path::PathBuf;

/// Why a VM could not be set up or could not go on running.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// /dev/kvm is missing or cannot be opened.
    #[error("cannot open /dev/kvm: {0}; uvm needs KVM: load the kvm module and give this user read/write access to /dev/kvm")]
    KvmUnavailable(#[source] kvm_ioctls::Error),
    /// A KVM ioctl failed.
    #[error("KVM refused {what}: {source}")]
    Kvm {
        /// The operation, e.g. "KVM_CREATE_VM".
        what: &'static str,
        /// The kernel's error.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// Host memory for the guest could not be mapped.
    #[error("cannot map {what} for the guest: {source}")]
    Memory {
        /// What was being mapped.
        what: &'static str,
        /// The error from the mapping code.
        #[source]
        source: io::Error,
    },
    /// The requested guest memory size is outside what uvm supports.
    #[error("guest memory of {mib} MiB is not supported: choose between {min} and {max} MiB")]
    MemorySize {
        /// What was asked.
        mib: u64,
        /// Smallest size.
        min: u64,
        /// Largest size.
        max: u64,
    },
    /// The requested number of vCPUs is outside what uvm supports.
    #[error("{cpus} vCPUs are not supported: choose between 1 and {max} (`[vm] cpus` or `--cpus`)")]
    CpuCount {
        /// What was asked.
        cpus: u32,
        /// Most vCPUs.
        max: u32,
    },
    /// The guest kernel (the one built into `uvm`) is unusable: this `uvm` was built wrongly.
    #[error("uvm's guest kernel is unusable: {0}; this uvm was built wrongly: rebuild it (`cargo build --release`)")]
    BadKernel(String),
    /// The arguments, environment and volume paths do not fit the boot-info area.
    #[error("the arguments, environment and volume paths take {len} bytes, more than the {max} bytes uvm passes to the guest")]
    ArgsTooLarge {
        /// Bytes needed.
        len: u64,
        /// Bytes available.
        max: u64,
    },
    /// The app's user has more supplementary groups than the boot info carries.
    #[error("the app's user has {count} supplementary groups, more than the {max} uvm passes to the guest")]
    TooManyGroups {
        /// How many.
        count: usize,
        /// The most there may be ([`uvm_abi::boot::MAX_BOOT_GROUPS`]).
        max: usize,
    },
    /// Guest RAM is too small for the boot structures.
    #[error("guest memory is too small for the boot page tables; raise memory_mib")]
    OutOfBootMemory,
    /// The guest did something the VMM cannot serve; the VM was stopped.
    #[error("the VM was stopped: {reason}\n{registers}")]
    GuestFault {
        /// What happened, naming addresses.
        reason: String,
        /// The vCPU's registers at the time, formatted.
        registers: String,
    },
    /// The guest kernel reported a bug in itself.
    #[error("guest kernel panic: {0}")]
    GuestPanic(String),
    /// A published host port is taken.
    #[error("host port {port} is already in use (published as {published}): choose another host port with -p, or stop what listens there")]
    PortInUse {
        /// The host port.
        port: u16,
        /// The mapping, as `-p` takes it.
        published: String,
    },
    /// A published host port cannot be bound for another reason.
    #[error("cannot bind host port {port} (published as {published}): {why}; {fix}")]
    PortUnavailable {
        /// The host port.
        port: u16,
        /// The mapping, as `-p` takes it.
        published: String,
        /// What the host said.
        why: String,
        /// What to do about it.
        fix: String,
    },
    /// The host resources of the VM's network (epoll, eventfd) could not be made.
    #[error("cannot set up the VM's network: {0}")]
    Network(#[source] io::Error),
    /// A volume's host directory does not exist.
    #[error("volume {}: no such directory on the host; create it, or give -v an existing directory", host.display())]
    VolumeMissing {
        /// The host directory.
        host: PathBuf,
    },
    /// A volume's host path is not a directory.
    #[error("volume {} is not a directory; a volume is a host directory: give -v a directory", host.display())]
    VolumeNotDirectory {
        /// The host path.
        host: PathBuf,
    },
    /// A volume's host directory cannot be opened (permissions, a broken file system).
    #[error("cannot open volume {}: {source}; give this user access to it, or choose another directory", host.display())]
    VolumeUnopenable {
        /// The host directory.
        host: PathBuf,
        /// What the host said.
        #[source]
        source: io::Error,
    },
    /// A volume's guest path is not an absolute path other than `/`.
    #[error("volume guest path `{guest}` is not valid: give an absolute path other than /, e.g. /data")]
    VolumeGuestPath {
        /// The guest path.
        guest: String,
    },
    /// More volumes than a VM mounts.
    #[error("{count} volumes are more than the {max} a VM mounts: mount a common parent directory instead")]
    TooManyVolumes {
        /// How many were given.
        count: usize,
        /// The most a VM mounts.
        max: u32,
    },
    /// A hypercall was refused (the guest passed bad parameters).
    #[error(transparent)]
    Hypercall(#[from] HypercallError),
}

/// Why a hypercall's parameters were refused. The VM stops: only the guest kernel makes
/// hypercalls, and a bad one means it is broken or compromised.
#[derive(Debug, thiserror::Error)]
pub enum HypercallError {
    /// A write to the hypercall page at an offset that is not a hypercall.
    #[error("unknown hypercall at guest-physical address {gpa:#x}")]
    Unknown {
        /// The address written.
        gpa: u64,
    },
    /// The value written was not 8 bytes.
    #[error("hypercall {name} written with {len} bytes instead of 8")]
    BadWidth {
        /// The hypercall.
        name: &'static str,
        /// Bytes written.
        len: usize,
    },
    /// A parameter block or buffer lies outside guest RAM.
    #[error("hypercall {name}: guest-physical range {gpa:#x}+{len:#x} is not guest RAM")]
    BadAddress {
        /// The hypercall.
        name: &'static str,
        /// Start of the range.
        gpa: u64,
        /// Length of the range.
        len: u64,
    },
    /// A parameter has a value the hypercall does not accept.
    #[error("hypercall {name}: {what}")]
    BadParameter {
        /// The hypercall.
        name: &'static str,
        /// What is wrong.
        what: String,
    },
}
