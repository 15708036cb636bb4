//! Hypercalls: the only way the guest leaves the VM on purpose.
//!
//! A hypercall is one 8-byte write to `HYPERCALL_GPA + 8 * number` (an address with no memory
//! behind it, so the write exits to the VMM). The value written is the guest-physical address
//! of the call's parameter block, a `#[repr(C)]` struct below. The VMM copies the block in,
//! validates every field (addresses and lengths against guest RAM), acts, writes `result` back
//! and resumes the vCPU after the write. `result` is `>= 0` on success or `-errno` (Linux values).
//!
//! The second half of the same page holds the unpark doorbells ([`unpark_doorbell_gpa`]): a
//! write there wakes a parked vCPU, usually without leaving the host kernel.

use crate::layout::{HYPERCALL_GPA, MAX_VCPUS, PAGE_SIZE};

/// Hypercall numbers.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hypercall {
    /// Write bytes to the host's stdout or stderr: [`ConsoleWrite`].
    ConsoleWrite = 1,
    /// Read bytes from the host's stdin: [`ConsoleRead`].
    ConsoleRead = 2,
    /// The app is done: [`Exit`].
    Exit = 3,
    /// Present page-table entries changed: resync the shadow page tables of the caller and of
    /// the other vCPUs the value written names (no parameter block: bit `i` stands for vCPU
    /// `i`; the guest names those that run on the changed tables). Returns once none of them
    /// can run guest code with a stale translation: the caller's is resynced before it
    /// resumes, running ones are kicked out of the guest and resynced before they re-enter,
    /// parked ones before they next enter.
    FlushTlb = 4,
    /// The app was killed: [`Fatal`].
    Fatal = 5,
    /// The guest kernel hit a bug it cannot recover from: [`Message`].
    Panic = 6,
    /// One line of the syscall trace for the host's stderr: [`Message`].
    Trace = 7,
    /// Copy bytes of the image into guest RAM: [`CopyFromImage`]. Large reads of packaged
    /// files use it: the host copies from the page cache, where the guest reading through its
    /// mapping of the image would take a shadow-page fault for every 4 KiB page.
    CopyFromImage = 9,
    /// Wait until the host's stdin has input (or end of input), or a timeout: [`ConsolePoll`].
    ConsolePoll = 10,
    /// Start another vCPU (a new app thread runs on it): [`VcpuStart`].
    VcpuStart = 11,
    /// Park this vCPU's host thread until it is unparked, a timeout passes or the VM stops:
    /// [`Park`].
    Park = 12,
    // 13 was Unpark, a hypercall with a parameter block; the unpark doorbells replace it.
    /// A signal waits for the thread of another vCPU: wake it if it is parked (as an unpark)
    /// and, once it runs app code, send it to the kernel's interrupt entry: [`Interrupt`].
    Interrupt = 14,
    /// A socket operation on a host socket the VMM holds: [`crate::net::NetCall`].
    Net = 15,
    /// Have the host back a range of guest RAM now, one call for many pages: [`BackRam`].
    /// The guest asks it for fresh frames it is about to fill (a tmpfs write): the first
    /// touch of a page the host has not backed costs a shadow-page fault each (~10 us), and
    /// KVM maps 8 pages per fault where the host backs them.
    BackRam = 16,
    /// Start registering the rest of guest RAM, or wait until all of it can be used:
    /// [`RamReady`]. Of a RAM past 32 MiB the VMM registers only the first part with KVM
    /// before boot (`BootInfo::ram_ready_size`; KVM keeps metadata for each page of a slot, ~3
    /// KiB of host memory per MiB, ~0.5 ms per GiB to set up) and the rest when the guest's
    /// frame allocator asks, once it has handed out half of the first part; it waits for it
    /// before it hands out a frame beyond that part.
    RamReady = 17,
    /// Register the console ring (`crate::console`): [`ConsoleRing`]. The VMM starts its
    /// console thread and has KVM wake it on the console doorbell; stdout and stderr writes
    /// that fit then go into the ring without an exit.
    ConsoleRing = 18,
    /// Arm (or cancel) the VM's one alarm: once its time has passed, the VMM interrupts a
    /// vCPU as [`Interrupt`] does, whatever that vCPU is doing: [`Alarm`]. The guest's timers
    /// that signal (alarm, setitimer) need it, as a thread spinning in app code never enters
    /// the kernel by itself.
    Alarm = 19,
    /// Switch the calling vCPU to the page tables whose root (CR3) is the value written (a
    /// page-aligned guest-physical address in RAM). A vCPU that ran a thread of one process
    /// and is reused for a thread of another takes that process's tables this way; a process
    /// that ends moves its last vCPU off its tables before they are freed. The VMM loads the
    /// root with `KVM_SET_SREGS`, which also resyncs this vCPU's shadow page tables.
    SetRoot = 20,
    /// A file operation on a volume, a host directory the VMM holds:
    /// [`crate::hostfs::FsCall`].
    HostFs = 21,
    /// Give a range of guest RAM back to the host (`MADV_DONTNEED`): the guest no longer
    /// uses it, and reads zeros if it ever touches it again: [`ReleaseRam`]. The kernel
    /// gives its hot copies back this way once the app has started (`mm::hot`).
    ReleaseRam = 22,
}

impl Hypercall {
    /// Every hypercall, for tables and tests.
    pub const ALL: [Hypercall; 20] = [
        Hypercall::ConsoleWrite,
        Hypercall::ConsoleRead,
        Hypercall::Exit,
        Hypercall::FlushTlb,
        Hypercall::Fatal,
        Hypercall::Panic,
        Hypercall::Trace,
        Hypercall::CopyFromImage,
        Hypercall::ConsolePoll,
        Hypercall::VcpuStart,
        Hypercall::Park,
        Hypercall::Interrupt,
        Hypercall::Net,
        Hypercall::BackRam,
        Hypercall::RamReady,
        Hypercall::ConsoleRing,
        Hypercall::Alarm,
        Hypercall::SetRoot,
        Hypercall::HostFs,
        Hypercall::ReleaseRam,
    ];

    /// One more than the highest hypercall number: the size of a table indexed by number.
    pub const SLOTS: usize = {
        let (mut max, mut i) = (0, 0);
        while i < Self::ALL.len() {
            if Self::ALL[i] as usize > max {
                max = Self::ALL[i] as usize;
            }
            i += 1;
        }
        max + 1
    };

    /// The guest-physical address a write to which makes this hypercall.
    pub const fn gpa(self) -> u64 {
        HYPERCALL_GPA + 8 * self as u64
    }

    /// The hypercall a write to guest-physical `gpa` makes, if any.
    pub fn from_gpa(gpa: u64) -> Option<Hypercall> {
        let offset = gpa.checked_sub(HYPERCALL_GPA)?;
        if offset % 8 != 0 {
            return None;
        }
        Hypercall::ALL.into_iter().find(|h| *h as u64 == offset / 8)
    }
}

/// Where in the hypercall page the unpark doorbells start: hypercall numbers stay below
/// `UNPARK_DOORBELLS / 8`.
pub const UNPARK_DOORBELLS: u64 = PAGE_SIZE / 2;

const _: () = assert!(Hypercall::SLOTS as u64 <= UNPARK_DOORBELLS / 8);
const _: () = assert!(UNPARK_DOORBELLS + 8 * MAX_VCPUS as u64 <= PAGE_SIZE);

/// The guest-physical address of vCPU `index`'s unpark doorbell. An 8-byte write of any value
/// there wakes that vCPU from its park (or makes its next park return at once), as a park
/// token. The VMM has KVM turn the write into a wake-up of the parked host thread inside the
/// host kernel (an ioeventfd): ~4 us on PVM, where a hypercall's exit to the VMM and back
/// costs ~18-40 us. Until it has (a vCPU's doorbell is registered at its first park), the
/// write exits to the VMM like a hypercall and the VMM unparks the vCPU itself.
pub const fn unpark_doorbell_gpa(index: u32) -> u64 {
    HYPERCALL_GPA + UNPARK_DOORBELLS + 8 * index as u64
}

/// The vCPU whose unpark doorbell guest-physical `gpa` is, if it is one.
pub fn unpark_doorbell_of(gpa: u64) -> Option<u32> {
    let offset = gpa.checked_sub(HYPERCALL_GPA + UNPARK_DOORBELLS)?;
    let index = u32::try_from(offset / 8).ok()?;
    (offset % 8 == 0 && index < MAX_VCPUS).then_some(index)
}

/// [`Hypercall::ConsoleWrite`] parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleWrite {
    /// 1 (stdout) or 2 (stderr).
    pub fd: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// GPA of the bytes.
    pub buf_gpa: u64,
    /// Number of bytes (at most [`CONSOLE_MAX_CHUNK`]).
    pub len: u64,
    /// Out: bytes written, or -errno (EPIPE when the reader went away).
    pub result: i64,
}

/// [`Hypercall::ConsoleRing`] parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleRing {
    /// GPA of the ring's header (`crate::console::HEADER_SIZE` bytes, aligned to its size,
    /// zeroed).
    pub header_gpa: u64,
    /// GPA of its data area (page-aligned, `crate::console::DATA_SIZE` bytes).
    pub data_gpa: u64,
    /// Out: the streams the ring may carry (bit 1: stdout, bit 2: stderr), or -errno when
    /// the host serves no ring (the guest keeps the hypercalls). A stream the host has
    /// redirected to a regular file is left out: a write there keeps failing on the call that
    /// made it (a full disk), as on Linux, where the ring would tell the app only at its
    /// next write.
    pub result: i64,
}

/// [`Hypercall::ConsoleRead`] parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleRead {
    /// 0 (stdin).
    pub fd: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// GPA of the buffer.
    pub buf_gpa: u64,
    /// Buffer size (at most [`CONSOLE_MAX_CHUNK`]).
    pub len: u64,
    /// Out: bytes read (0 at end of input), or -errno.
    pub result: i64,
}

/// The most bytes one console hypercall moves; the guest splits larger transfers.
pub const CONSOLE_MAX_CHUNK: u64 = 1 << 20;

/// [`Hypercall::Exit`] parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exit {
    /// The app's exit status (only the low 8 bits reach the caller, as on Linux).
    pub status: i32,
    /// Reserved, zero.
    pub reserved: u32,
    /// What the guest counted during the run (for `uvm run --timings`).
    pub stats: GuestStats,
}

/// Counters the guest kernel keeps and reports at exit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestStats {
    /// Syscalls served in the guest.
    pub syscalls: u64,
    /// Pages filled on first touch (page faults that reached the guest kernel).
    pub demand_faults: u64,
    /// TLB-flush hypercalls.
    pub tlb_flushes: u64,
    /// 4 KiB frames in use at exit (app memory, page tables, kernel heap, tmpfs).
    pub frames_in_use: u64,
    /// TSC when the kernel started.
    pub kernel_entry_tsc: u64,
    /// TSC when the kernel entered the app.
    pub app_entry_tsc: u64,
    /// TSC at exit.
    pub exit_tsc: u64,
    /// App syscall sites rewritten to enter the kernel without the `syscall` instruction's
    /// trap (the guest's `syscall::patch`).
    pub patched_sites: u64,
    /// Syscalls that came in through such a site (counted in `syscalls` too).
    pub patched_syscalls: u64,
    /// 2 MiB pages of the app's read-only image chunks mapped whole
    /// ([`crate::boot::FLAG_IMAGE_LARGE_PAGES`]).
    pub large_image_pages: u64,
    /// Writes to doorbells: unpark doorbells (one per unpark of another vCPU) and the console
    /// doorbell. The host kernel handles most of them itself (KVM counts each as an emulated
    /// fault, not as an exit); unparks made before the vCPU's doorbell was registered exit to
    /// the VMM.
    pub doorbell_writes: u64,
    /// Writes of the app to stdout or stderr that went into the console ring (no exit).
    pub console_ring_writes: u64,
    /// Hot copies given back to the host once the app had started (`mm::hot`); 0 when none
    /// were, or there were none.
    pub hot_pages_given_back: u64,
    /// Page-table entries pointed back from the hot copies to the image then.
    pub hot_entries_repointed: u64,
    /// TSC when the give-back began and when it ended (0, 0 without one).
    pub hot_give_back_tsc: u64,
    pub hot_give_back_end_tsc: u64,
}

/// Why the app was killed ([`Fatal::reason`]).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatalReason {
    /// A signal with no handler whose default action ends the process.
    Signal = 1,
    /// The VM ran out of memory where Linux would kill the process (exit status 137).
    OutOfMemory = 2,
}

impl FatalReason {
    /// Decodes [`Fatal::reason`].
    pub fn from_raw(raw: u32) -> Option<FatalReason> {
        match raw {
            1 => Some(FatalReason::Signal),
            2 => Some(FatalReason::OutOfMemory),
            _ => None,
        }
    }
}

/// [`Hypercall::Fatal`] parameters: the app ends with status `128 + signal`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fatal {
    /// A [`FatalReason`] value.
    pub reason: u32,
    /// The signal number (Linux numbering).
    pub signal: u32,
    /// The faulting address, for SIGSEGV/SIGBUS (0 otherwise).
    pub fault_address: u64,
    /// The app's instruction pointer when it was stopped.
    pub instruction_pointer: u64,
    /// The CPU exception vector behind the signal, or `u32::MAX` for a signal the app sent.
    pub vector: u32,
    /// The CPU exception's error code (0 when it has none).
    pub error_code: u32,
}

/// [`Hypercall::Panic`] and [`Hypercall::Trace`] parameters: a UTF-8 message.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// GPA of the bytes.
    pub buf_gpa: u64,
    /// Number of bytes (at most [`MESSAGE_MAX_LEN`]; the VMM cuts longer ones).
    pub len: u64,
}

/// [`Hypercall::CopyFromImage`] parameters: copy `sum(chunk.len)` bytes of the image file,
/// starting at `image_offset`, into the guest-RAM chunks listed at `chunks_gpa`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyFromImage {
    /// Offset in the image file of the first byte.
    pub image_offset: u64,
    /// GPA of an array of `chunk_count` [`MemoryChunk`]s.
    pub chunks_gpa: u64,
    /// Number of chunks (at most [`COPY_MAX_CHUNKS`]).
    pub chunk_count: u64,
    /// Out: bytes copied, or -errno.
    pub result: i64,
}

/// [`Hypercall::BackRam`] parameters: back `[gpa, gpa + len)` of guest RAM (page-aligned,
/// at most [`BACK_RAM_MAX_LEN`] bytes). A hint: its content does not change.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackRam {
    /// First byte (page-aligned).
    pub gpa: u64,
    /// Bytes (a multiple of the page size).
    pub len: u64,
    /// Out: 0.
    pub result: i64,
}

/// [`Hypercall::ReleaseRam`] parameters: give `[gpa, gpa + len)` of guest RAM back to the
/// host (page-aligned); the range reads as zeros afterwards.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReleaseRam {
    /// First byte (page-aligned).
    pub gpa: u64,
    /// Bytes (a multiple of the page size).
    pub len: u64,
    /// Out: 0, or -EINVAL for a range that is not guest RAM.
    pub result: i64,
}

/// [`Hypercall::RamReady`] parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RamReady {
    /// 0: have the VMM start registering the rest of RAM (if it has not) and return at once
    /// with what is usable now; 1: also wait until the rest is registered.
    pub wait: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Out: bytes of guest RAM, from GPA 0, the guest may now use (all of it once the VMM has
    /// registered the rest), or -errno (ENOMEM: the host could not register it).
    pub result: i64,
}

/// The most one [`Hypercall::BackRam`] backs.
pub const BACK_RAM_MAX_LEN: u64 = 16 << 20;

/// [`Hypercall::ConsolePoll`] parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsolePoll {
    /// How long to wait: 0 only looks, `u64::MAX` waits for ever (capped per call at
    /// [`SLEEP_MAX_NS`]; the guest loops).
    pub timeout_ns: u64,
    /// Out: 1 when a read of stdin would not block (input or end of input), 0 when the time
    /// ran out, or -errno.
    pub result: i64,
}

/// [`Hypercall::VcpuStart`] parameters: create vCPU `index` (once; `1 <= index <
/// MAX_VCPUS`) with the boot vCPU's CPUID, control registers, page tables and segments, its
/// own TSS (`tss_gpa(index)`, ring-0 stack `exception_stack_top(index)`), and these
/// registers, and run it on a host thread of its own. The guest never asks twice for one
/// index: a vCPU whose thread ended parks in the guest and is reused for the next thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuStart {
    /// The vCPU to start.
    pub index: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Where it starts (a kernel address).
    pub rip: u64,
    /// Its stack pointer.
    pub rsp: u64,
    /// Its rdi (the guest passes its per-vCPU area).
    pub arg: u64,
    /// The root of its page tables (CR3): the process whose thread it runs; 0 for the boot
    /// tables. A page-aligned guest-physical address in RAM.
    pub root: u64,
    /// Out: 0, or -EINVAL (bad or used index), -EAGAIN (the host could not make its thread).
    /// The vCPU itself is made on that thread, while the caller runs on; if the host cannot
    /// make it, the VM ends with that error.
    pub result: i64,
}

/// [`Park::flags`]: write out every transmit ring first, as a Net `Flush` would (the guest
/// flushes wherever it parks with bytes in a ring: one exit instead of two).
pub const PARK_FLUSH_NET: u32 = 1;

/// [`Hypercall::Park`] parameters. Each vCPU has a wake token, as `std::thread::park` does: an
/// unpark sets it, a park consumes it, so a wake that comes before the park is not lost.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Park {
    /// How long to wait at most: `u64::MAX` for no limit (the VMM may return earlier, capped
    /// at [`SLEEP_MAX_NS`]: the guest re-checks its condition and parks again).
    pub timeout_ns: u64,
    /// [`PARK_FLUSH_NET`], or 0.
    pub flags: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Out: 1 when woken by an unpark (the token was consumed), 0 when the time ran out or the
    /// VM is stopping.
    pub result: i64,
}

/// [`Hypercall::Interrupt`] parameters. The VMM kicks the vCPU out of the guest if it runs
/// there; before it next enters, if its instruction pointer is in app code (outside
/// `KERNEL_BASE..KERNEL_END`), the VMM does what the ring-0 exception stub does for an
/// exception: it records [`crate::percpu::INTERRUPT_VECTOR`], error 0 and the interrupted
/// rip/cs/rflags/rsp in the vCPU's per-CPU area (its GS base) and resumes it at the area's
/// fault entry on its fault stack. In kernel code it tries again shortly: the kernel delivers
/// signals on its way back to the app anyway, except in the last instructions of that path.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interrupt {
    /// The vCPU to interrupt.
    pub index: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Out: 0, or -EINVAL when no such vCPU was started.
    pub result: i64,
}

/// [`Hypercall::Alarm`] parameters. Arming replaces the alarm that was armed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Alarm {
    /// Nanoseconds from now until the VMM interrupts vCPU `index`; 0 cancels the alarm.
    pub timeout_ns: u64,
    /// The vCPU to interrupt.
    pub index: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Out: 0, or -errno when the host cannot keep the alarm (it could not start the
    /// thread that waits for it).
    pub result: i64,
}

/// One destination range of guest RAM.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryChunk {
    /// Guest-physical address.
    pub gpa: u64,
    /// Bytes.
    pub len: u64,
}

/// The most chunks one [`CopyFromImage`] takes.
pub const COPY_MAX_CHUNKS: u64 = 1024;

/// The longest single wait the VMM grants (Park, ConsolePoll; the guest waits longer in
/// several calls).
pub const SLEEP_MAX_NS: u64 = 10_000_000_000;

/// The most bytes of a panic or trace message the VMM prints.
pub const MESSAGE_MAX_LEN: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doorbells_follow_the_hypercalls_and_name_their_vcpu() {
        for index in [0, 1, MAX_VCPUS - 1] {
            let gpa = unpark_doorbell_gpa(index);
            assert_eq!(unpark_doorbell_of(gpa), Some(index));
            assert_eq!(Hypercall::from_gpa(gpa), None, "a doorbell is no hypercall");
        }
        assert_eq!(unpark_doorbell_of(unpark_doorbell_gpa(MAX_VCPUS)), None, "past the last vCPU");
        assert_eq!(unpark_doorbell_of(unpark_doorbell_gpa(1) + 4), None, "unaligned");
        for h in Hypercall::ALL {
            assert_eq!(unpark_doorbell_of(h.gpa()), None, "a hypercall is no doorbell");
        }
    }

    #[test]
    fn every_hypercall_round_trips_through_its_address() {
        for h in Hypercall::ALL {
            assert_eq!(Hypercall::from_gpa(h.gpa()), Some(h));
            assert!((h as usize) < Hypercall::SLOTS, "{h:?} fits a table of SLOTS");
        }
        assert_eq!(Hypercall::from_gpa(HYPERCALL_GPA), None);
        assert_eq!(Hypercall::from_gpa(HYPERCALL_GPA + 9), None);
        assert_eq!(Hypercall::from_gpa(HYPERCALL_GPA + 8 * 200), None);
        assert_eq!(Hypercall::from_gpa(0), None);
    }

    #[test]
    fn parameter_blocks_have_fixed_layouts() {
        use core::mem::{offset_of, size_of};
        assert_eq!(size_of::<ConsoleWrite>(), 32);
        assert_eq!(offset_of!(ConsoleWrite, result), 24);
        assert_eq!(size_of::<ConsoleRead>(), 32);
        assert_eq!(size_of::<Exit>(), 136);
        assert_eq!(size_of::<ReleaseRam>(), 24);
        assert_eq!(size_of::<ConsoleRing>(), 24);
        assert_eq!(size_of::<Fatal>(), 32);
        assert_eq!(size_of::<Message>(), 16);
        assert_eq!(size_of::<CopyFromImage>(), 32);
        assert_eq!(size_of::<MemoryChunk>(), 16);
        assert_eq!(size_of::<ConsolePoll>(), 16);
        assert_eq!(size_of::<VcpuStart>(), 48);
        assert_eq!(size_of::<Park>(), 24);
        assert_eq!(size_of::<Interrupt>(), 16);
        assert_eq!(size_of::<Alarm>(), 24);
    }
}
