//! Hypercall handlers. Each copies its parameter block in from guest RAM, validates every
//! field (a buffer must lie in RAM; a length must be within its bound), acts, and copies the
//! result back. Nothing the guest passes can make the host panic or touch memory outside RAM.
//! What a call needs from the VM's vCPUs (parking, starting one, giving up the run slot while
//! a call blocks) goes through [`VcpuOps`], so the handlers are tested without a VM. A few
//! calls have no parameter block: the value written is their argument (FlushTlb's names the
//! other vCPUs to flush, SetRoot takes it as the new page-table root).

use std::time::Duration;

use uvm_abi::hypercall::{
    Alarm, BackRam, ConsolePoll, ConsoleRead, ConsoleRing, ConsoleWrite, CopyFromImage, Exit, Fatal, FatalReason,
    Hypercall, Interrupt, MemoryChunk, Message, Park, RamReady, ReleaseRam, VcpuStart, BACK_RAM_MAX_LEN,
    CONSOLE_MAX_CHUNK, COPY_MAX_CHUNKS, MESSAGE_MAX_LEN, PARK_FLUSH_NET, SLEEP_MAX_NS,
};

use crate::error::HypercallError;
use crate::host_io::HostIo;
use crate::memory::{GuestMemory, Plain};
use crate::net::Network;
use crate::vcpus::StartError;
use crate::volumes::Volumes;

/// What the hypercall handlers ask of the vCPU that made the call and of the VM's others
/// (implemented by the run loop).
pub trait VcpuOps {
    /// Runs `wait` (a sleep or a console wait, which may block) without holding a run slot.
    fn blocking(&self, wait: &mut dyn FnMut());
    /// Parks the calling vCPU up to `timeout`: whether an unpark's token was consumed.
    fn park(&self, timeout: Duration) -> bool;
    /// Sets vCPU `index`'s park token and wakes it; false if it was never started.
    fn unpark(&self, index: u32) -> bool;
    /// Wakes vCPU `index` and has it take the interrupt entry before it next runs app code;
    /// false if it was never started.
    fn interrupt(&self, index: u32) -> bool;
    /// Creates and runs vCPU `start.index` at `start.rip` with `start.rsp`, `rdi = start.arg`
    /// and CR3 `start.root` (the boot tables when 0; a nonzero root was already checked to be
    /// a page-aligned RAM address).
    fn start(&self, start: &VcpuStart) -> Result<(), StartError>;
    /// Starts registering the rest of guest RAM with KVM if that has not begun
    /// (`crate::late_ram`); with `wait`, waits until it is done, without holding a run slot.
    fn ram_ready(&self, wait: bool) -> crate::late_ram::RamReadiness;
    /// Starts the VM's network poller (`crate::net::Network::run_poller`) on a thread of its own
    /// that ends with the VM; false if the host could not start it.
    fn start_net_poller(&self) -> bool;
    /// Registers the guest's console ring (`crate::console_ring::Console::register`) and
    /// starts the console thread: the streams it may carry (bit 1 stdout, bit 2 stderr);
    /// Err(errno) when the ring cannot be served (the guest keeps the console hypercalls).
    fn start_console_ring(&self, header_gpa: u64, data_gpa: u64) -> Result<u32, i32> {
        let _ = (header_gpa, data_gpa);
        Err(libc::ENOSYS)
    }
    /// Wakes the console thread: a console doorbell write that reached the VMM (KVM handles
    /// it itself once the ring is registered).
    fn console_doorbell(&self) {}
    /// Arms the VM's alarm (`crate::alarm`): vCPU `index` is interrupted after `timeout`
    /// (`None` cancels it); Err(errno) when the host cannot keep it.
    fn arm_alarm(&self, timeout: Option<Duration>, index: u32) -> Result<(), i32> {
        let _ = (timeout, index);
        Err(libc::ENOSYS)
    }
}

/// What a handled hypercall asks of the run loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HypercallAction {
    /// Resume the vCPU.
    Resume,
    /// Resync the vCPU's shadow page tables and those of the other vCPUs in the mask (bit
    /// `i`: vCPU `i`), then resume.
    FlushTlb(u64),
    /// Load this page-table root (CR3, a page-aligned GPA in RAM) into the vCPU, then resume.
    SetRoot(u64),
    /// The app exited with this status (and these guest counters).
    Exit(i32, uvm_abi::hypercall::GuestStats),
    /// The app was killed.
    Killed(Fatal),
    /// The guest kernel panicked with this message.
    Panic(String),
}

pub(crate) fn read_params<T: Plain>(memory: &GuestMemory, call: Hypercall, gpa: u64) -> Result<T, HypercallError> {
    memory.read_plain(gpa).ok_or(HypercallError::BadAddress {
        name: name(call),
        gpa,
        len: std::mem::size_of::<T>() as u64,
    })
}

pub(crate) fn write_params<T: Plain>(
    memory: &GuestMemory,
    call: Hypercall,
    gpa: u64,
    value: &T,
) -> Result<(), HypercallError> {
    memory.write_plain(gpa, value).ok_or(HypercallError::BadAddress {
        name: name(call),
        gpa,
        len: std::mem::size_of::<T>() as u64,
    })
}

/// The hypercall's name, for messages.
pub fn name(call: Hypercall) -> &'static str {
    match call {
        Hypercall::ConsoleWrite => "console-write",
        Hypercall::ConsoleRead => "console-read",
        Hypercall::Exit => "exit",
        Hypercall::FlushTlb => "flush-tlb",
        Hypercall::Fatal => "fatal",
        Hypercall::Panic => "panic",
        Hypercall::Trace => "trace",
        Hypercall::CopyFromImage => "copy-from-image",
        Hypercall::ConsolePoll => "console-poll",
        Hypercall::VcpuStart => "vcpu-start",
        Hypercall::Park => "park",
        Hypercall::Interrupt => "interrupt",
        Hypercall::Alarm => "alarm",
        Hypercall::Net => "net",
        Hypercall::BackRam => "back-ram",
        Hypercall::RamReady => "ram-ready",
        Hypercall::ConsoleRing => "console-ring",
        Hypercall::SetRoot => "set-root",
        Hypercall::HostFs => "host-fs",
        Hypercall::ReleaseRam => "release-ram",
    }
}

/// Whether `root` can be a page-table root (CR3): a page-aligned guest-physical address whose
/// page lies in RAM.
fn valid_root(memory: &GuestMemory, root: u64) -> bool {
    let page = uvm_abi::layout::PAGE_SIZE;
    root.is_multiple_of(page) && memory.is_ram(root, page)
}

fn errno_of(e: &std::io::Error) -> i64 {
    -i64::from(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Serves hypercall `call` whose parameter block is at `params_gpa` (for the calls without
/// one, `params_gpa` is the value written: see [`Hypercall::FlushTlb`], [`Hypercall::SetRoot`]).
/// `net` serves the Net calls, `volumes` the HostFs calls.
pub fn handle(
    call: Hypercall,
    params_gpa: u64,
    memory: &GuestMemory,
    io: &dyn HostIo,
    net: &Network,
    volumes: &Volumes,
    vcpu: &dyn VcpuOps,
) -> Result<HypercallAction, HypercallError> {
    match call {
        Hypercall::Net => {
            net.serve(params_gpa, memory, io, vcpu)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::HostFs => {
            volumes.serve(params_gpa, memory)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::ConsoleWrite => {
            let mut p: ConsoleWrite = read_params(memory, call, params_gpa)?;
            if p.fd != 1 && p.fd != 2 {
                return Err(HypercallError::BadParameter {
                    name: name(call),
                    what: format!("fd {} is not 1 or 2", p.fd),
                });
            }
            let bytes = guest_buffer(memory, call, p.buf_gpa, p.len, CONSOLE_MAX_CHUNK)?;
            p.result = match io.write_all(p.fd, &bytes) {
                Ok(()) => p.len as i64,
                Err(e) => errno_of(&e),
            };
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::ConsoleRing => {
            let mut p: ConsoleRing = read_params(memory, call, params_gpa)?;
            p.result = match vcpu.start_console_ring(p.header_gpa, p.data_gpa) {
                Ok(streams) => i64::from(streams),
                Err(errno) => -i64::from(errno),
            };
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::ConsoleRead => {
            let mut p: ConsoleRead = read_params(memory, call, params_gpa)?;
            if p.fd != 0 {
                return Err(HypercallError::BadParameter { name: name(call), what: format!("fd {} is not 0", p.fd) });
            }
            check_buffer(memory, call, p.buf_gpa, p.len, CONSOLE_MAX_CHUNK)?;
            let mut buf = vec![0u8; p.len as usize];
            let mut read = Ok(0);
            vcpu.blocking(&mut || read = io.read_stdin(&mut buf));
            p.result = match read {
                Ok(n) => {
                    memory.write_ram(p.buf_gpa, &buf[..n]).ok_or(HypercallError::BadAddress {
                        name: name(call),
                        gpa: p.buf_gpa,
                        len: n as u64,
                    })?;
                    n as i64
                }
                Err(e) => errno_of(&e),
            };
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::Exit => {
            let p: Exit = read_params(memory, call, params_gpa)?;
            crate::hot_pages::take_report(memory);
            Ok(HypercallAction::Exit(p.status, p.stats))
        }
        Hypercall::FlushTlb => Ok(HypercallAction::FlushTlb(params_gpa)),
        Hypercall::SetRoot => {
            let root = params_gpa;
            if !valid_root(memory, root) {
                return Err(HypercallError::BadParameter {
                    name: name(call),
                    what: format!("root {root:#x} is not a page-aligned guest-physical address in RAM"),
                });
            }
            Ok(HypercallAction::SetRoot(root))
        }
        Hypercall::Fatal => {
            let p: Fatal = read_params(memory, call, params_gpa)?;
            if FatalReason::from_raw(p.reason).is_none() || p.signal == 0 || p.signal > 64 {
                return Err(HypercallError::BadParameter {
                    name: name(call),
                    what: format!("reason {} / signal {} is not valid", p.reason, p.signal),
                });
            }
            Ok(HypercallAction::Killed(p))
        }
        Hypercall::Panic => {
            let p: Message = read_params(memory, call, params_gpa)?;
            let text = message_text(memory, call, &p)?;
            Ok(HypercallAction::Panic(text))
        }
        Hypercall::ConsolePoll => {
            let mut p: ConsolePoll = read_params(memory, call, params_gpa)?;
            let timeout = Duration::from_nanos(p.timeout_ns.min(SLEEP_MAX_NS));
            let mut ready = false;
            vcpu.blocking(&mut || ready = io.wait_stdin(timeout));
            p.result = i64::from(ready);
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::CopyFromImage => {
            let mut p: CopyFromImage = read_params(memory, call, params_gpa)?;
            if p.chunk_count > COPY_MAX_CHUNKS {
                return Err(HypercallError::BadParameter {
                    name: name(call),
                    what: format!("{} chunks exceed {COPY_MAX_CHUNKS}", p.chunk_count),
                });
            }
            let mut offset = p.image_offset;
            for i in 0..p.chunk_count {
                let at = p.chunks_gpa.checked_add(i * 16).ok_or(HypercallError::BadAddress {
                    name: name(call),
                    gpa: p.chunks_gpa,
                    len: p.chunk_count * 16,
                })?;
                let chunk: MemoryChunk = read_params(memory, call, at)?;
                memory.copy_image_to_ram(offset, chunk.gpa, chunk.len).ok_or(HypercallError::BadParameter {
                    name: name(call),
                    what: format!(
                        "image bytes {offset:#x}+{:#x} or guest range {:#x}+{:#x} out of bounds",
                        chunk.len, chunk.gpa, chunk.len
                    ),
                })?;
                offset += chunk.len;
            }
            p.result = (offset - p.image_offset) as i64;
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::VcpuStart => {
            let mut p: VcpuStart = read_params(memory, call, params_gpa)?;
            p.result = if p.root != 0 && !valid_root(memory, p.root) {
                StartError::Invalid.errno()
            } else {
                match vcpu.start(&p) {
                    Ok(()) => 0,
                    Err(e) => e.errno(),
                }
            };
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::Park => {
            let mut p: Park = read_params(memory, call, params_gpa)?;
            if p.flags & PARK_FLUSH_NET != 0 {
                net.flush(memory, vcpu);
            }
            let timeout = Duration::from_nanos(p.timeout_ns.min(SLEEP_MAX_NS));
            p.result = i64::from(vcpu.park(timeout));
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::Interrupt => {
            let mut p: Interrupt = read_params(memory, call, params_gpa)?;
            p.result = if vcpu.interrupt(p.index) { 0 } else { -i64::from(libc::EINVAL) };
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::Alarm => {
            let mut p: Alarm = read_params(memory, call, params_gpa)?;
            let timeout = (p.timeout_ns > 0).then(|| Duration::from_nanos(p.timeout_ns.min(SLEEP_MAX_NS)));
            p.result = match vcpu.arm_alarm(timeout, p.index) {
                Ok(()) => 0,
                Err(errno) => -i64::from(errno),
            };
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::BackRam => {
            let mut p: BackRam = read_params(memory, call, params_gpa)?;
            check_ram_pages(memory, call, p.gpa, p.len, BACK_RAM_MAX_LEN)?;
            memory.prefault_ram(p.gpa, p.len);
            p.result = 0;
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::ReleaseRam => {
            let mut p: ReleaseRam = read_params(memory, call, params_gpa)?;
            check_ram_pages(memory, call, p.gpa, p.len, u64::MAX)?;
            memory.release_ram(p.gpa, p.len);
            p.result = 0;
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::RamReady => {
            use crate::late_ram::RamReadiness;
            let mut p: RamReady = read_params(memory, call, params_gpa)?;
            p.result = match vcpu.ram_ready(p.wait != 0) {
                RamReadiness::Ready(bytes) => bytes as i64,
                RamReadiness::Failed => -i64::from(libc::ENOMEM),
                RamReadiness::Stopping => -i64::from(libc::EINTR),
            };
            write_params(memory, call, params_gpa, &p)?;
            Ok(HypercallAction::Resume)
        }
        Hypercall::Trace => {
            let p: Message = read_params(memory, call, params_gpa)?;
            let text = message_text(memory, call, &p)?;
            io.diagnostic(&format!("[uvm trace] {text}"));
            Ok(HypercallAction::Resume)
        }
    }
}

/// Checks that `[gpa, gpa + len)` is whole pages of RAM, at most `max` bytes.
fn check_ram_pages(memory: &GuestMemory, call: Hypercall, gpa: u64, len: u64, max: u64) -> Result<(), HypercallError> {
    let page = uvm_abi::layout::PAGE_SIZE;
    if !gpa.is_multiple_of(page) || !len.is_multiple_of(page) {
        return Err(HypercallError::BadParameter {
            name: name(call),
            what: format!("range {gpa:#x}+{len:#x} is not page-aligned"),
        });
    }
    check_buffer(memory, call, gpa, len, max)
}

pub(crate) fn check_buffer(
    memory: &GuestMemory,
    call: Hypercall,
    gpa: u64,
    len: u64,
    max: u64,
) -> Result<(), HypercallError> {
    if len > max {
        return Err(HypercallError::BadParameter { name: name(call), what: format!("length {len} exceeds {max}") });
    }
    if !memory.is_ram(gpa, len) {
        return Err(HypercallError::BadAddress { name: name(call), gpa, len });
    }
    Ok(())
}

pub(crate) fn guest_buffer(
    memory: &GuestMemory,
    call: Hypercall,
    gpa: u64,
    len: u64,
    max: u64,
) -> Result<Vec<u8>, HypercallError> {
    check_buffer(memory, call, gpa, len, max)?;
    let mut buf = vec![0u8; len as usize];
    memory.read_ram(gpa, &mut buf).ok_or(HypercallError::BadAddress { name: name(call), gpa, len })?;
    Ok(buf)
}

fn message_text(memory: &GuestMemory, call: Hypercall, p: &Message) -> Result<String, HypercallError> {
    let len = p.len.min(MESSAGE_MAX_LEN);
    let bytes = guest_buffer(memory, call, p.buf_gpa, len, MESSAGE_MAX_LEN)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
