//! The host side of the console ring (uvm-abi's `console` module): the app's stdout and
//! stderr records, written out by a console thread of the VM without an exit per write.
//!
//! [`Console`] wraps the VM's [`HostIo`] and is what the vCPUs use as theirs: every call that
//! reaches the host's streams (a console hypercall's write, read or poll, a trace line) first
//! writes out what the ring holds, under the same lock, so bytes reach the streams in the
//! order the app wrote them and before uvm's own lines. The console thread
//! ([`Console::run_thread`]) drains the ring whenever the guest rings the console doorbell,
//! which the guest does only after the thread said it sleeps (`IDLE`); the run drains it a
//! last time before it reports how the app ended.
//!
//! Everything in the ring is the guest's to write: the VMM keeps its own `head`, bounds every
//! offset and length by the ring's size, and on anything inconsistent stops reading the ring
//! for good and says so once (a guest kernel bug; the app's writes from then on fail with EIO).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use kvm_ioctls::{IoEventAddress, NoDatamatch, VmFd};
use uvm_abi::console::{
    parse_record_header, record_size, CONSOLE_DOORBELL_GPA, DATA_SIZE, ERRORS, HEAD, HEADER_SIZE, IDLE, RECORD_HEADER,
    RECORD_MAX, TAIL,
};
use vmm_sys_util::eventfd::EventFd;

use crate::host_io::HostIo;
use crate::memory::GuestMemory;

/// How many bytes of consecutive records of one stream go out in one write, at most.
const BATCH_MAX: usize = 64 << 10;

/// A registered ring.
struct Ring {
    /// GPA of the header.
    header: u64,
    /// GPA of the data area.
    data: u64,
    /// The console thread sleeps on it; KVM signals it on a console doorbell write.
    wake: EventFd,
}

/// The VM's console: the host streams, with the ring in front of them once the guest has
/// registered one.
pub struct Console<'a> {
    io: &'a dyn HostIo,
    memory: &'a GuestMemory,
    ring: OnceLock<Ring>,
    /// Held while anything is written to the host streams.
    streams: Mutex<()>,
    /// The stream offset up to which records were written out (the VMM's own copy).
    head: AtomicU64,
    /// The ring was found inconsistent: it is not read again.
    broken: AtomicBool,
    /// The console thread is to end.
    stopping: AtomicBool,
    /// Bytes of stdout's and stderr's records a host write failed on, other than EPIPE, and
    /// the first errno: reported at the end of the run ([`Console::report_losses`]), since
    /// the app may have ended before a later write told it.
    lost: Mutex<[(u64, i32); 2]>,
}

impl<'a> Console<'a> {
    /// The console of a VM whose guest memory is `memory`, in front of `io`.
    pub fn new(io: &'a dyn HostIo, memory: &'a GuestMemory) -> Console<'a> {
        Console {
            io,
            memory,
            ring: OnceLock::new(),
            streams: Mutex::new(()),
            head: AtomicU64::new(0),
            broken: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            lost: Mutex::new([(0, 0); 2]),
        }
    }

    /// Registers the guest's ring (its header at `header`, its data area at `data`): the
    /// streams it may carry (bit 1 stdout, bit 2 stderr: those [`HostIo::ring_allowed`]).
    /// Err(errno) when the header is not aligned to its size or the data not to a page,
    /// either not in RAM (EINVAL), one is registered already (EBUSY), neither stream may use
    /// it (EOPNOTSUPP), or the host refuses an eventfd: the guest then keeps writing through
    /// hypercalls. The caller starts
    /// [`Console::run_thread`] after a success; until that thread has KVM take the console
    /// doorbell, a doorbell write exits to the VMM, which wakes the thread the same way
    /// ([`Console::doorbell`]).
    pub fn register(&self, header: u64, data: u64) -> Result<u32, i32> {
        if !self.placement_ok(header, data) {
            return Err(libc::EINVAL);
        }
        if self.ring.get().is_some() {
            return Err(libc::EBUSY);
        }
        let streams = [1, 2].into_iter().filter(|&fd| self.io.ring_allowed(fd)).fold(0, |mask, fd| mask | 1 << fd);
        if streams == 0 {
            return Err(libc::EOPNOTSUPP);
        }
        let wake = EventFd::new(libc::EFD_CLOEXEC).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        self.ring.set(Ring { header, data, wake }).map_err(|_| libc::EBUSY)?;
        Ok(streams)
    }

    fn placement_ok(&self, header: u64, data: u64) -> bool {
        header.is_multiple_of(HEADER_SIZE)
            && data.is_multiple_of(uvm_abi::layout::PAGE_SIZE)
            && self.memory.is_ram(header, HEADER_SIZE)
            && self.memory.is_ram(data, DATA_SIZE)
    }

    /// The console thread: has KVM (`vm`; none in tests) signal its eventfd on a console
    /// doorbell write, then writes records out as the guest publishes them, until
    /// [`Console::stop_thread`]; then drains the ring a last time. Returns at once without a
    /// registered ring. The registration waits for a grace period of the VM (it rebuilds its
    /// MMIO bus): here, not on the vCPU that asked for the ring. If KVM refuses it, doorbell
    /// writes keep exiting to the VMM, which wakes this thread itself.
    pub fn run_thread(&self, vm: Option<&VmFd>) {
        let Some(ring) = self.ring.get() else { return };
        if let Some(vm) = vm {
            let _ = vm.register_ioevent(&ring.wake, &IoEventAddress::Mmio(CONSOLE_DOORBELL_GPA), NoDatamatch);
        }
        loop {
            self.drain();
            if self.stopping.load(Ordering::SeqCst) {
                self.drain();
                return;
            }
            // Say it sleeps, then look once more: a record published before the guest could
            // see `IDLE` set is written out now, one published after it rings the doorbell.
            let Some(idle) = self.memory.atomic_u32(ring.header + IDLE) else { return };
            idle.store(1, Ordering::SeqCst);
            if self.pending() && !self.broken.load(Ordering::SeqCst) {
                idle.store(0, Ordering::SeqCst);
                continue;
            }
            // Blocks until a doorbell or a stop; an error (none is expected of an eventfd)
            // would spin, so it waits a little instead.
            if ring.wake.read().is_err() {
                std::thread::sleep(Duration::from_millis(1));
            }
            idle.store(0, Ordering::SeqCst);
        }
    }

    /// Ends [`Console::run_thread`] (after a last drain).
    pub fn stop_thread(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.doorbell();
    }

    /// Wakes the console thread (a console doorbell write that reached the VMM).
    pub fn doorbell(&self) {
        if let Some(ring) = self.ring.get() {
            let _ = ring.wake.write(1);
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes out every record published so far.
    pub fn drain(&self) {
        let _streams = self.lock();
        self.drain_locked();
    }

    /// Whether the guest published records not yet written out.
    fn pending(&self) -> bool {
        let Some(ring) = self.ring.get() else { return false };
        self.memory.atomic_u64(ring.header + TAIL).is_some_and(|tail| tail.load(Ordering::SeqCst) != self.head())
    }

    fn head(&self) -> u64 {
        self.head.load(Ordering::SeqCst)
    }

    /// [`Console::drain`] with the streams' lock held.
    fn drain_locked(&self) {
        let Some(ring) = self.ring.get() else { return };
        while !self.broken.load(Ordering::SeqCst) {
            let Some(tail) = self.memory.atomic_u64(ring.header + TAIL).map(|t| t.load(Ordering::SeqCst)) else {
                return;
            };
            let head = self.head();
            if tail == head {
                return;
            }
            match self.write_out(ring, head, tail) {
                Ok(()) => {
                    self.head.store(tail, Ordering::SeqCst);
                    if let Some(word) = self.memory.atomic_u64(ring.header + HEAD) {
                        word.store(tail, Ordering::SeqCst);
                    }
                }
                Err(what) => {
                    self.broken.store(true, Ordering::SeqCst);
                    self.io.diagnostic(&format!(
                        "uvm: the guest kernel's console ring is inconsistent ({what}); the app's output \
                         from here on is lost (a guest kernel bug)"
                    ));
                }
            }
        }
    }

    /// Writes out the records from stream offset `head` to `tail`, consecutive records of
    /// one stream in one write. A write error is stored in the ring for the guest (the first
    /// one of each stream until the guest has taken it); the records' bytes are dropped.
    fn write_out(&self, ring: &Ring, head: u64, tail: u64) -> Result<(), String> {
        let used = tail.wrapping_sub(head);
        if used > DATA_SIZE || !used.is_multiple_of(8) {
            return Err(format!("{used} bytes published"));
        }
        let mut batch: Vec<u8> = Vec::new();
        let mut batch_fd = 0u32;
        let mut at = head;
        while at != tail {
            let header = self
                .memory
                .read_u64(ring.data + at % DATA_SIZE)
                .ok_or_else(|| "a record header outside RAM".to_string())?;
            let (fd, len) = parse_record_header(header);
            let size = record_size(u64::from(len));
            if (fd != 1 && fd != 2) || u64::from(len) > RECORD_MAX || size > tail.wrapping_sub(at) {
                return Err(format!("a record for fd {fd} of {len} bytes"));
            }
            if fd != batch_fd || batch.len() + len as usize > BATCH_MAX {
                self.write_batch(ring, batch_fd, &batch);
                batch.clear();
                batch_fd = fd;
            }
            let start = (at + RECORD_HEADER) % DATA_SIZE;
            let first = u64::from(len).min(DATA_SIZE - start);
            let from = batch.len();
            batch.resize(from + len as usize, 0);
            let (a, b) = batch[from..].split_at_mut(first as usize);
            self.memory.read_ram(ring.data + start, a).ok_or_else(|| "record bytes outside RAM".to_string())?;
            self.memory.read_ram(ring.data, b).ok_or_else(|| "record bytes outside RAM".to_string())?;
            at = at.wrapping_add(size);
        }
        self.write_batch(ring, batch_fd, &batch);
        Ok(())
    }

    fn write_batch(&self, ring: &Ring, fd: u32, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Err(e) = self.io.write_all(fd, bytes) {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            if let Some(word) = self.memory.atomic_u32(ring.header + ERRORS + 4 * u64::from(fd - 1)) {
                let _ = word.compare_exchange(0, errno as u32, Ordering::SeqCst, Ordering::SeqCst);
            }
            // A reader that went away is the usual end of a pipeline (`uvm run app | head`):
            // nothing to report, as a shell reports nothing.
            if errno != libc::EPIPE {
                let mut lost = self.lost.lock().unwrap_or_else(PoisonError::into_inner);
                let (bytes_lost, first) = &mut lost[fd as usize - 1];
                *bytes_lost += bytes.len() as u64;
                if *first == 0 {
                    *first = errno;
                }
            }
        }
    }

    /// Says on stderr (through the host streams' `diagnostic`) how many bytes of the app's
    /// stdout or stderr a host write failed on (a full disk, an I/O error), once at the end of
    /// the run: the app learns of such an error only at its next write to that stream, which
    /// may never come. Quiet for EPIPE.
    pub fn report_losses(&self) {
        let lost = *self.lost.lock().unwrap_or_else(PoisonError::into_inner);
        for (stream, (bytes, errno)) in ["stdout", "stderr"].into_iter().zip(lost) {
            if bytes > 0 {
                let why = std::io::Error::from_raw_os_error(errno);
                self.io.diagnostic(&format!("uvm: {bytes} bytes the app wrote to {stream} were lost: {why}"));
            }
        }
    }
}

impl HostIo for Console<'_> {
    fn write_all(&self, fd: u32, bytes: &[u8]) -> std::io::Result<()> {
        let _streams = self.lock();
        self.drain_locked();
        if self.broken.load(Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        self.io.write_all(fd, bytes)
    }

    fn read_stdin(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        // What the app wrote before it reads (a prompt) is out before the read blocks.
        self.drain();
        self.io.read_stdin(buf)
    }

    fn wait_stdin(&self, timeout: Duration) -> bool {
        self.drain();
        self.io.wait_stdin(timeout)
    }

    fn diagnostic(&self, line: &str) {
        let _streams = self.lock();
        self.drain_locked();
        self.io.diagnostic(line);
    }

    fn ring_allowed(&self, fd: u32) -> bool {
        self.io.ring_allowed(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_io::MemoryIo;
    use uvm_abi::console::record_header;

    const HEADER: u64 = 1 << 20;
    const DATA: u64 = 2 << 20;

    /// Publishes a record as the guest does.
    fn publish(memory: &GuestMemory, fd: u32, bytes: &[u8]) {
        let tail_word = memory.atomic_u64(HEADER + TAIL).expect("tail");
        let tail = tail_word.load(Ordering::SeqCst);
        memory.write_u64(DATA + tail % DATA_SIZE, record_header(fd, bytes.len() as u32)).expect("header");
        for (i, &b) in bytes.iter().enumerate() {
            let at = (tail + RECORD_HEADER + i as u64) % DATA_SIZE;
            memory.write_ram(DATA + at, &[b]).expect("byte");
        }
        tail_word.store(tail + record_size(bytes.len() as u64), Ordering::SeqCst);
    }

    fn memory() -> GuestMemory {
        GuestMemory::for_tests(16 << 20)
    }

    /// Runs `test` with a console in front of `io`, its ring registered in fresh memory.
    fn with_console(io: &dyn HostIo, test: impl FnOnce(&Console<'_>, &GuestMemory)) {
        let memory = memory();
        let console = Console::new(io, &memory);
        console.register(HEADER, DATA).expect("a ring in RAM");
        test(&console, &memory);
    }

    #[test]
    fn records_go_out_in_order_and_streams_interleave_as_written() {
        let io = MemoryIo::default();
        with_console(&io, |console, memory| {
            publish(memory, 1, b"one ");
            publish(memory, 1, b"two ");
            publish(memory, 2, b"warn ");
            // A sync write drains what came before it first.
            console.write_all(1, b"three").expect("write");
            assert_eq!(memory.read_u64(HEADER + HEAD), memory.read_u64(HEADER + TAIL), "head published");
        });
        assert_eq!(io.stdout(), b"one two three");
        assert_eq!(io.stderr(), b"warn ");
    }

    #[test]
    fn records_wrap_around_the_ring() {
        let io = MemoryIo::default();
        let mut expected = Vec::new();
        with_console(&io, |console, memory| {
            for round in 0..40u32 {
                let line: Vec<u8> = (0..(3000 + round * 7)).map(|i| (i + round) as u8).collect();
                publish(memory, 1, &line);
                expected.extend_from_slice(&line);
                console.drain();
            }
            assert!(memory.read_u64(HEADER + TAIL).expect("tail") > DATA_SIZE, "the stream wrapped");
        });
        assert_eq!(io.stdout(), expected);
    }

    #[test]
    fn an_inconsistent_ring_is_dropped_with_a_message_and_writes_fail() {
        let io = MemoryIo::default();
        with_console(&io, |console, memory| {
            publish(memory, 7, b"bad fd");
            console.drain();
            assert!(console.write_all(1, b"x").is_err());
        });
        assert!(io.stdout().is_empty());
        assert_eq!(io.diagnostics().len(), 1, "{:?}", io.diagnostics());
        // A tail past the ring's size is refused the same way, without reading records.
        let io = MemoryIo::default();
        with_console(&io, |console, memory| {
            memory.write_u64(HEADER + TAIL, DATA_SIZE + 8).expect("tail");
            console.drain();
        });
        assert_eq!(io.diagnostics().len(), 1);
    }

    #[test]
    fn a_failed_write_is_left_for_the_guest_once_per_stream() {
        struct Broken;
        impl HostIo for Broken {
            fn write_all(&self, _fd: u32, _bytes: &[u8]) -> std::io::Result<()> {
                Err(std::io::Error::from_raw_os_error(libc::EPIPE))
            }
            fn read_stdin(&self, _buf: &mut [u8]) -> std::io::Result<usize> {
                Ok(0)
            }
            fn wait_stdin(&self, _timeout: Duration) -> bool {
                true
            }
            fn diagnostic(&self, _line: &str) {}
        }
        with_console(&Broken, |console, memory| {
            publish(memory, 1, b"lost");
            console.drain();
            let errors =
                |fd: u64| memory.atomic_u32(HEADER + ERRORS + 4 * (fd - 1)).expect("word").load(Ordering::SeqCst);
            assert_eq!(errors(1), libc::EPIPE as u32);
            assert_eq!(errors(2), 0);
        });
    }

    #[test]
    fn bytes_a_host_write_failed_on_are_reported_at_the_end_but_not_for_a_reader_gone() {
        struct Full(i32, MemoryIo);
        impl HostIo for Full {
            fn write_all(&self, _fd: u32, _bytes: &[u8]) -> std::io::Result<()> {
                Err(std::io::Error::from_raw_os_error(self.0))
            }
            fn read_stdin(&self, _buf: &mut [u8]) -> std::io::Result<usize> {
                Ok(0)
            }
            fn wait_stdin(&self, _timeout: Duration) -> bool {
                true
            }
            fn diagnostic(&self, line: &str) {
                self.1.diagnostic(line);
            }
        }
        for (errno, reported) in [(libc::ENOSPC, true), (libc::EPIPE, false)] {
            let io = Full(errno, MemoryIo::default());
            with_console(&io, |console, memory| {
                publish(memory, 1, b"0123456789");
                publish(memory, 1, b"abc");
                console.drain();
                console.report_losses();
            });
            let lines = io.1.diagnostics();
            if reported {
                assert_eq!(lines.len(), 1, "{lines:?}");
                assert!(lines[0].starts_with("uvm: 13 bytes the app wrote to stdout were lost: "), "{lines:?}");
            } else {
                assert!(lines.is_empty(), "{lines:?}");
            }
        }
    }

    #[test]
    fn the_thread_drains_on_a_doorbell_and_ends_on_a_stop() {
        let io = MemoryIo::default();
        with_console(&io, |console, memory| the_thread_runs(console, memory, &io));
        assert_eq!(io.stdout(), b"hello\n");
        assert_eq!(io.stderr(), b"last\n", "the stop drains first");
    }

    fn the_thread_runs(console: &Console<'_>, memory: &GuestMemory, io: &MemoryIo) {
        std::thread::scope(|s| {
            s.spawn(|| console.run_thread(None));
            // Wait until it sleeps, then publish and ring as the guest does.
            let idle = memory.atomic_u32(HEADER + IDLE).expect("idle");
            while idle.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            publish(memory, 1, b"hello\n");
            if idle.swap(0, Ordering::SeqCst) == 1 {
                console.doorbell();
            }
            while io.stdout().is_empty() {
                std::thread::yield_now();
            }
            publish(memory, 2, b"last\n");
            console.stop_thread();
        });
    }

    #[test]
    fn registering_checks_the_ring_lies_in_ram() {
        let memory = memory();
        let io = MemoryIo::default();
        let console = Console::new(&io, &memory);
        assert_eq!(console.register(HEADER + 8, DATA), Err(libc::EINVAL), "unaligned header");
        assert_eq!(console.register(HEADER, DATA + 8), Err(libc::EINVAL), "unaligned data");
        assert_eq!(console.register(HEADER, (16 << 20) - 4096), Err(libc::EINVAL), "past RAM");
        assert_eq!(console.register(u64::MAX - 31, DATA), Err(libc::EINVAL), "header past RAM");
        assert!(console.ring.get().is_none());
        assert_eq!(console.register(HEADER, DATA), Ok(0b110), "both streams (in memory: no files)");
        assert_eq!(console.register(HEADER, DATA), Err(libc::EBUSY), "one ring per VM");
    }
}
