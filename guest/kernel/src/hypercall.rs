//! Hypercalls from the guest side: one 8-byte store to the hypercall page (see uvm-abi's
//! `hypercall` module), carrying the guest-physical address of a parameter block.
//!
//! Parameter blocks and buffers must sit in memory whose GPA the kernel knows: the kernel
//! image and its stacks (identity-mapped) or the direct map. [`gpa_of`] translates.

use uvm_abi::hypercall::{
    BackRam, ConsolePoll, ConsoleRead, ConsoleRing, ConsoleWrite, CopyFromImage, Exit, Fatal, GuestStats, Hypercall,
    Interrupt, MemoryChunk, Message, Park, RamReady, ReleaseRam, VcpuStart, BACK_RAM_MAX_LEN, CONSOLE_MAX_CHUNK,
};
use uvm_abi::layout::{DIRECT_MAP_VA, IMAGE_GPA, KERNEL_BASE, KERNEL_END};

/// The guest-physical address of kernel memory at virtual address `va`.
pub fn gpa_of(va: u64) -> u64 {
    if (KERNEL_BASE..KERNEL_END).contains(&va) {
        va
    } else if (DIRECT_MAP_VA..DIRECT_MAP_VA + IMAGE_GPA).contains(&va) {
        va - DIRECT_MAP_VA
    } else {
        // Only kernel memory is ever passed; anything else is a kernel bug, which the VMM
        // refuses loudly (the address is not RAM).
        u64::MAX
    }
}

#[cfg(not(test))]
fn call<T>(call: Hypercall, params: &mut T) {
    let gpa = gpa_of(params as *mut T as u64);
    let port = uvm_abi::layout::HYPERCALL_VA + 8 * call as u64;
    // SAFETY: the hypercall page is mapped (user, writable, no memory behind it): the store
    // exits to the VMM, which reads and writes `params` through its GPA before the vCPU
    // resumes. The asm clobbers memory, so `params` is written before and re-read after.
    unsafe {
        core::arch::asm!("mov {gpa}, ({port})", gpa = in(reg) gpa, port = in(reg) port, options(att_syntax, nostack))
    }
}

#[cfg(test)]
fn call<T>(_call: Hypercall, _params: &mut T) {}

/// Writes `bytes` (kernel memory, at most [`CONSOLE_MAX_CHUNK`]) to the host's stdout (1)
/// or stderr (2). Returns bytes written or -errno.
pub fn console_write(fd: u32, bytes: &[u8]) -> i64 {
    let len = (bytes.len() as u64).min(CONSOLE_MAX_CHUNK);
    let mut p = ConsoleWrite { fd, reserved: 0, buf_gpa: gpa_of(bytes.as_ptr() as u64), len, result: 0 };
    call(Hypercall::ConsoleWrite, &mut p);
    p.result
}

/// Registers the console ring (uvm-abi's `console`): its header and data area's GPAs.
/// Returns the streams it may carry (bit 1 stdout, bit 2 stderr) or -errno (the host serves
/// no ring: writes keep going through hypercalls).
pub fn console_ring(header_gpa: u64, data_gpa: u64) -> i64 {
    let mut p = ConsoleRing { header_gpa, data_gpa, result: -(crate::errno::Errno::ENOSYS as i64) };
    call(Hypercall::ConsoleRing, &mut p);
    p.result
}

/// Reads from the host's stdin into `buf` (kernel memory). Returns bytes read, 0 at end of
/// input, or -errno.
pub fn console_read(buf: &mut [u8]) -> i64 {
    let len = (buf.len() as u64).min(CONSOLE_MAX_CHUNK);
    let mut p = ConsoleRead { fd: 0, reserved: 0, buf_gpa: gpa_of(buf.as_mut_ptr() as u64), len, result: 0 };
    call(Hypercall::ConsoleRead, &mut p);
    p.result
}

/// Ends the VM with the app's exit status, reporting the guest's counters.
pub fn exit(status: i32, stats: GuestStats) -> ! {
    let mut p = Exit { status, reserved: 0, stats };
    loop {
        call(Hypercall::Exit, &mut p);
        core::hint::spin_loop();
    }
}

/// Ends the VM: the app was killed.
pub fn fatal(mut info: Fatal) -> ! {
    loop {
        call(Hypercall::Fatal, &mut info);
        core::hint::spin_loop();
    }
}

/// Asks the VMM to resync the shadow page tables of this vCPU and of the vCPUs in `others`
/// (bit `i`: vCPU `i`) after present entries changed: the value written is the mask, not a
/// parameter block's address.
pub fn flush_tlb(others: u64) {
    write_value(Hypercall::FlushTlb, others);
}

/// Starts vCPU `index` at `rip` with `rsp`, `rdi = arg` and the page tables at `root`.
/// Returns 0 or -errno.
pub fn vcpu_start(index: u32, rip: u64, rsp: u64, arg: u64, root: u64) -> i64 {
    let mut p = VcpuStart { index, reserved: 0, rip, rsp, arg, root, result: 0 };
    call(Hypercall::VcpuStart, &mut p);
    p.result
}

/// Switches this vCPU to the page tables at `root` (see `Hypercall::SetRoot`: the value
/// written is the root itself, not a parameter block's address).
pub fn set_root(root: u64) {
    write_value(Hypercall::SetRoot, root);
}

/// A hypercall without a parameter block: `value` itself is written to its port.
#[cfg(not(test))]
fn write_value(call: Hypercall, value: u64) {
    let port = uvm_abi::layout::HYPERCALL_VA + 8 * call as u64;
    // SAFETY: the hypercall page is mapped (user, writable, no memory behind it): the store
    // exits to the VMM, which acts on `value` (SetRoot loads it as this vCPU's CR3; every
    // address space maps the kernel alike, so this code runs on where the store returns)
    // before it resumes.
    unsafe {
        core::arch::asm!("mov {value}, ({port})", value = in(reg) value, port = in(reg) port, options(att_syntax, nostack))
    }
}

#[cfg(test)]
fn write_value(_call: Hypercall, _value: u64) {}

/// Parks this vCPU until another unparks it (or already did since its last park), up to
/// `timeout_ns` (`u64::MAX`: no limit; the VMM may return earlier; 0 hands its run slot on).
/// Whether an unpark woke it. Callers re-check what they wait for: a wake may be stale.
pub fn park(timeout_ns: u64) -> bool {
    park_flushing(timeout_ns, false, false)
}

/// [`park`] for what another vCPU most likely ends soon: a short spin first, and no exit if
/// the wake comes within it ([`crate::wake`]).
pub fn park_spinning(timeout_ns: u64) -> bool {
    park_flushing(timeout_ns, false, true)
}

/// [`park`], having the VMM write out every transmit ring first if `flush_net` (what a Net
/// `Flush` does, in the same exit), and spinning first if `spin` and nothing is to flush.
pub fn park_flushing(timeout_ns: u64, flush_net: bool, spin: bool) -> bool {
    let cpu = crate::process::current_cpu();
    if timeout_ns > 0 && crate::wake::woken_before_park(cpu, timeout_ns, spin && !flush_net) {
        return true;
    }
    let flags = if flush_net { uvm_abi::hypercall::PARK_FLUSH_NET } else { 0 };
    let mut p = Park { timeout_ns, flags, reserved: 0, result: 0 };
    call(Hypercall::Park, &mut p);
    crate::wake::back_from_park(cpu);
    p.result > 0
}

/// Doorbell writes so far (`--timings`: KVM counts each as an emulated fault, so the VMM
/// tells them apart from the guest's page-table writes with this).
static DOORBELL_WRITES: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// How many doorbells (unpark and console) the guest has rung.
pub fn doorbell_writes() -> u64 {
    DOORBELL_WRITES.load(core::sync::atomic::Ordering::Relaxed)
}

/// Writes the doorbell at guest-physical `gpa` (in the hypercall page), counting it.
#[cfg(not(test))]
#[inline(always)]
fn ring_doorbell(gpa: u64) {
    DOORBELL_WRITES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    let doorbell = uvm_abi::layout::HYPERCALL_VA + (gpa - uvm_abi::layout::HYPERCALL_GPA);
    // SAFETY: the doorbells lie in the hypercall page (mapped user and writable, no memory
    // behind it): the store only signals the host, nothing in guest memory changes.
    unsafe {
        core::arch::asm!("mov {one}, ({doorbell})", one = in(reg) 1u64, doorbell = in(reg) doorbell, options(att_syntax, nostack))
    }
}

/// Wakes vCPU `index` from its park (or makes its next park return at once): a write to its
/// doorbell (uvm-abi's `unpark_doorbell_gpa`), which the host kernel usually handles without
/// an exit to the VMM.
#[cfg(not(test))]
pub fn unpark(index: u32) {
    if index < uvm_abi::layout::MAX_VCPUS && crate::wake::wake(index) {
        ring_doorbell(uvm_abi::hypercall::unpark_doorbell_gpa(index));
    }
}

#[cfg(test)]
pub fn unpark(_index: u32) {}

/// Wakes the VMM's console thread (uvm-abi's `console`): a write to the console doorbell,
/// which the host kernel handles without an exit.
#[cfg(not(test))]
pub fn ring_console_doorbell() {
    ring_doorbell(uvm_abi::console::CONSOLE_DOORBELL_GPA);
}

#[cfg(test)]
pub fn ring_console_doorbell() {}

/// Tells vCPU `index` that a signal waits for its thread: the VMM wakes it from a park and,
/// if it runs app code, sends it to the fault entry with the interrupt vector.
pub fn interrupt(index: u32) {
    let mut p = Interrupt { index, reserved: 0, result: 0 };
    call(Hypercall::Interrupt, &mut p);
}

/// Arms the VM's alarm: the VMM interrupts vCPU `index` after `timeout_ns` (0 cancels it).
/// A host that cannot keep it (no thread for it) says so in `result`; nothing changes then
/// for the timer, which the kernel's own checks still fire, only a thread that spins in app
/// code is not interrupted for it.
pub fn alarm(timeout_ns: u64, index: u32) {
    let mut p = uvm_abi::hypercall::Alarm { timeout_ns, index, reserved: 0, result: 0 };
    call(Hypercall::Alarm, &mut p);
}

/// Has the host back `len` bytes of guest RAM from `gpa` (page-aligned, at most
/// [`BACK_RAM_MAX_LEN`]) now: fresh frames the kernel is about to fill, so their first touches
/// take one shadow-page fault per 8 pages instead of one each. A hint: nothing changes.
pub fn back_ram(gpa: u64, len: u64) {
    let mut p = BackRam { gpa, len: len.min(BACK_RAM_MAX_LEN), result: 0 };
    call(Hypercall::BackRam, &mut p);
}

/// Gives `len` bytes of guest RAM from `gpa` (page-aligned) back to the host: the kernel
/// no longer uses them (they read as zeros if touched again).
pub fn release_ram(gpa: u64, len: u64) {
    let mut p = ReleaseRam { gpa, len, result: 0 };
    call(Hypercall::ReleaseRam, &mut p);
}

/// Has the VMM register the rest of a large guest RAM with KVM (see uvm-abi's `RamReady`),
/// and with `wait`, waits until it is there: the bytes of RAM from GPA 0 now usable, or
/// `None` if the host could not add the rest. The frame allocator's way to the host
/// (`FrameAllocator::with_ready`).
pub fn ram_ready(wait: bool) -> Option<u64> {
    let mut p = RamReady { wait: u32::from(wait), reserved: 0, result: 0 };
    call(Hypercall::RamReady, &mut p);
    u64::try_from(p.result).ok().filter(|&bytes| bytes > 0)
}

/// Has the VMM copy image bytes from `image_offset` into the guest-RAM `chunks` (kernel
/// memory holds the list). Returns the bytes copied or -errno.
pub fn copy_from_image(image_offset: u64, chunks: &[MemoryChunk]) -> i64 {
    let mut p = CopyFromImage {
        image_offset,
        chunks_gpa: gpa_of(chunks.as_ptr() as u64),
        chunk_count: chunks.len() as u64,
        result: 0,
    };
    call(Hypercall::CopyFromImage, &mut p);
    p.result
}

/// Waits up to `timeout_ns` (0: look, `u64::MAX`: for ever) until the host's stdin has input
/// or is at its end; whether it is. The VMM caps one wait, so a longer one loops here.
pub fn console_poll(timeout_ns: u64) -> bool {
    let start = crate::time::rdtsc();
    let clock = crate::time::clock();
    loop {
        let waited = clock.since_boot_ns(crate::time::rdtsc()).saturating_sub(clock.since_boot_ns(start));
        let left = timeout_ns.saturating_sub(waited);
        let mut p = ConsolePoll { timeout_ns: left, result: 0 };
        call(Hypercall::ConsolePoll, &mut p);
        if p.result != 0 {
            return p.result > 0;
        }
        if left <= uvm_abi::hypercall::SLEEP_MAX_NS {
            return false;
        }
    }
}

/// Makes one socket call on a host socket the VMM holds (uvm-abi's `net` module): `call` is
/// in kernel memory; the VMM fills in its outputs. Returns `call.result`.
pub fn net(call: &mut uvm_abi::net::NetCall) -> i64 {
    self::call(Hypercall::Net, call);
    call.result
}

/// Makes one file operation on a volume the VMM holds (uvm-abi's `hostfs` module): `call`
/// is in kernel memory, its names and buffer too; the VMM fills in its outputs. Returns
/// `call.result`.
pub fn host_fs(call: &mut uvm_abi::hostfs::FsCall) -> i64 {
    self::call(Hypercall::HostFs, call);
    call.result
}

/// Sends one syscall-trace line to the host's stderr.
pub fn trace(line: &[u8]) {
    let mut p = Message { buf_gpa: gpa_of(line.as_ptr() as u64), len: line.len() as u64 };
    call(Hypercall::Trace, &mut p);
}

/// Reports a kernel bug and ends the VM.
pub fn panic(message: &[u8]) -> ! {
    let mut p = Message { buf_gpa: gpa_of(message.as_ptr() as u64), len: message.len() as u64 };
    loop {
        call(Hypercall::Panic, &mut p);
        core::hint::spin_loop();
    }
}

/// Bytes moved per console hypercall. App buffers have no known GPA, so console data goes
/// through this kernel buffer (identity-mapped, so its GPA is its address).
const BOUNCE_SIZE: usize = 64 * 1024;
/// Its section puts it right after the kernel's small statics, its first page with them and
/// the rest in the cold range the VMM leaves unbacked (see link.ld).
#[link_section = ".bss.zx_console_buffer"]
static BOUNCE: crate::sync::SpinLock<[u8; BOUNCE_SIZE]> = crate::sync::SpinLock::new([0; BOUNCE_SIZE]);

/// Writes all of `bytes` (any memory) to the host's stdout (1) or stderr (2), in chunks.
/// Returns the bytes written, or -errno if nothing could be written.
pub fn console_write_all(fd: u32, bytes: &[u8]) -> i64 {
    let mut bounce = BOUNCE.lock();
    let mut done = 0usize;
    for chunk in bytes.chunks(BOUNCE_SIZE) {
        bounce[..chunk.len()].copy_from_slice(chunk);
        let r = console_write(fd, &bounce[..chunk.len()]);
        if r < 0 {
            return if done == 0 { r } else { done as i64 };
        }
        done += chunk.len();
    }
    done as i64
}

/// Reads from the host's stdin into `buf` (any memory): at most one chunk. Returns the bytes
/// read (0 at end of input) or -errno.
pub fn console_read_some(buf: &mut [u8]) -> i64 {
    let mut bounce = BOUNCE.lock();
    let n = buf.len().min(BOUNCE_SIZE);
    let r = console_read(&mut bounce[..n]);
    if r > 0 {
        let got = (r as usize).min(n);
        buf[..got].copy_from_slice(&bounce[..got]);
    }
    r
}
