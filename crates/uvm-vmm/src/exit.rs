//! The exit handler: one `match` over why the vCPU stopped, as a free function over an owned
//! description of the exit, so tests can feed it synthetic exits without a VM.

use uvm_abi::hypercall::{unpark_doorbell_of, Fatal, Hypercall};

use crate::error::{HypercallError, VmError};
use crate::host_io::HostIo;
use crate::hypercall::{self, HypercallAction, VcpuOps};
use crate::memory::GuestMemory;
use crate::net::Network;
use crate::volumes::Volumes;

/// Why KVM_RUN returned, copied out of `kvm_run`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmExit {
    /// The guest wrote `len` bytes (`data`, little-endian) to an address with no memory.
    MmioWrite {
        /// Guest-physical address.
        gpa: u64,
        /// The bytes (first `len` valid).
        data: [u8; 8],
        /// How many bytes were written.
        len: usize,
    },
    /// The guest read from an address with no memory.
    MmioRead {
        /// Guest-physical address.
        gpa: u64,
    },
    /// Port I/O (never used by uvm's guest).
    Io {
        /// The port.
        port: u16,
    },
    /// `hlt` in ring 0.
    Hlt,
    /// Triple fault or similar: the vCPU is dead.
    Shutdown,
    /// KVM could not emulate an instruction or enter the guest.
    InternalError,
    /// Entry into the guest failed.
    FailEntry {
        /// Hardware reason code.
        reason: u64,
    },
    /// Anything else, named.
    Other(String),
}

/// What the run loop does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitAction {
    /// Resume the vCPU.
    Resume,
    /// Resync the shadow page tables, and those of the other vCPUs in the mask (bit `i`:
    /// vCPU `i`), then resume.
    FlushTlbAndResume(u64),
    /// Load this page-table root into the vCPU's CR3 (the SetRoot hypercall; already checked
    /// to be a page-aligned RAM address), then resume.
    SetRootAndResume(u64),
    /// The VM is done.
    Stop(Outcome),
    /// The guest did something the VMM cannot serve: stop with this reason (the run loop
    /// attaches the registers).
    Fault(String),
}

/// How the app ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It called exit/exit_group (with the guest's counters).
    Exited(i32, uvm_abi::hypercall::GuestStats),
    /// It was killed (a fault with no handler, a fatal signal, out of memory).
    Killed(Fatal),
    /// uvm stopped it (timeout, SIGINT, SIGTERM).
    Stopped(crate::stop::StopReason),
}

/// Counts of exits by kind, for `--timings`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitCounts {
    /// Every exit.
    pub total: u64,
    /// Hypercalls, indexed by number.
    pub hypercalls: [u64; Hypercall::SLOTS],
    /// Doorbell writes that reached the VMM: unparks of a vCPU whose doorbell KVM did not
    /// handle itself yet (see `doorbell.rs`), and console doorbells before the console thread
    /// registered its own (`console_ring.rs`).
    pub doorbells: u64,
    /// Everything that was not a hypercall or a doorbell.
    pub other: u64,
}

impl ExitCounts {
    /// Adds `other`'s counts (another vCPU's) to these.
    pub fn add(&mut self, other: &ExitCounts) {
        self.total += other.total;
        self.doorbells += other.doorbells;
        self.other += other.other;
        for (sum, n) in self.hypercalls.iter_mut().zip(other.hypercalls) {
            *sum += n;
        }
    }
}

/// Handles one exit.
pub fn handle_exit(
    exit: &VmExit,
    memory: &GuestMemory,
    io: &dyn HostIo,
    net: &Network,
    volumes: &Volumes,
    vcpu: &dyn VcpuOps,
    counts: &mut ExitCounts,
) -> Result<ExitAction, VmError> {
    counts.total += 1;
    match *exit {
        VmExit::MmioWrite { gpa, data, len } => {
            if let Some(index) = unpark_doorbell_of(gpa) {
                // An unknown or not yet started vCPU is no one to wake: nothing happens.
                counts.doorbells += 1;
                vcpu.unpark(index);
                return Ok(ExitAction::Resume);
            }
            if gpa == uvm_abi::console::CONSOLE_DOORBELL_GPA {
                // KVM rings the console thread itself once the ring is registered; before
                // that (or where it refused) the write lands here.
                counts.doorbells += 1;
                vcpu.console_doorbell();
                return Ok(ExitAction::Resume);
            }
            let Some(call) = Hypercall::from_gpa(gpa) else {
                counts.other += 1;
                return Ok(ExitAction::Fault(format!(
                    "the guest wrote {len} bytes to guest-physical address {gpa:#x}, which is neither memory nor a hypercall"
                )));
            };
            if let Some(slot) = counts.hypercalls.get_mut(call as usize) {
                *slot += 1;
            }
            if len != 8 {
                return Err(HypercallError::BadWidth { name: hypercall::name(call), len }.into());
            }
            let params_gpa = u64::from_le_bytes(data);
            Ok(match hypercall::handle(call, params_gpa, memory, io, net, volumes, vcpu)? {
                HypercallAction::Resume => ExitAction::Resume,
                HypercallAction::FlushTlb(others) => ExitAction::FlushTlbAndResume(others),
                HypercallAction::SetRoot(root) => ExitAction::SetRootAndResume(root),
                HypercallAction::Exit(status, stats) => ExitAction::Stop(Outcome::Exited(status, stats)),
                HypercallAction::Killed(fatal) => ExitAction::Stop(Outcome::Killed(fatal)),
                HypercallAction::Panic(message) => return Err(VmError::GuestPanic(message)),
            })
        }
        VmExit::MmioRead { gpa } => {
            counts.other += 1;
            Ok(ExitAction::Fault(format!("the guest read guest-physical address {gpa:#x}, which is not memory")))
        }
        VmExit::Io { port } => {
            counts.other += 1;
            Ok(ExitAction::Fault(format!("the guest used I/O port {port:#x}; uvm guests have no I/O ports")))
        }
        VmExit::Hlt => {
            counts.other += 1;
            Ok(ExitAction::Fault("the guest halted without exiting".to_string()))
        }
        VmExit::Shutdown => {
            counts.other += 1;
            Ok(ExitAction::Fault("the guest kernel triple-faulted (an exception while handling an exception)".into()))
        }
        VmExit::InternalError => {
            counts.other += 1;
            Ok(ExitAction::Fault("KVM could not emulate a guest instruction (internal error)".to_string()))
        }
        VmExit::FailEntry { reason } => {
            counts.other += 1;
            Ok(ExitAction::Fault(format!("KVM could not enter the guest (hardware reason {reason:#x})")))
        }
        VmExit::Other(ref what) => {
            counts.other += 1;
            Ok(ExitAction::Fault(format!("unexpected exit from the guest: {what}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_io::MemoryIo;
    use crate::vcpus::{StartError, Vcpus};
    use std::sync::Mutex;
    use uvm_abi::hypercall::{unpark_doorbell_gpa, ConsoleRead, ConsoleWrite, Exit, FatalReason, Park, VcpuStart};

    /// The vCPU side of hypercalls without KVM: starts are only claimed and recorded.
    struct TestVcpus {
        vcpus: Vcpus,
        started: Mutex<Vec<VcpuStart>>,
        /// Whether unparks and interrupts ring the (process-wide) doorbells.
        rings_doorbells: bool,
    }

    impl TestVcpus {
        fn new() -> TestVcpus {
            TestVcpus { vcpus: Vcpus::new(1), started: Mutex::new(Vec::new()), rings_doorbells: true }
        }

        /// For hypercalls made at random: their unparks and interrupts of random vCPUs would
        /// ring the doorbells other tests, running in parallel, park on.
        fn without_doorbells() -> TestVcpus {
            TestVcpus { rings_doorbells: false, ..TestVcpus::new() }
        }
    }

    impl VcpuOps for TestVcpus {
        fn blocking(&self, wait: &mut dyn FnMut()) {
            wait()
        }
        /// As vCPU 2: the doorbells are process-wide, and other tests ring vCPU 0's.
        fn park(&self, timeout: std::time::Duration) -> bool {
            self.vcpus.park(2, timeout)
        }
        fn unpark(&self, index: u32) -> bool {
            self.rings_doorbells && self.vcpus.unpark(index)
        }

        fn interrupt(&self, index: u32) -> bool {
            self.rings_doorbells && self.vcpus.interrupt(index, &|_| {})
        }
        fn start(&self, start: &VcpuStart) -> Result<(), StartError> {
            self.vcpus.claim(start.index)?;
            self.started.lock().unwrap().push(*start);
            Ok(())
        }
        fn ram_ready(&self, _wait: bool) -> crate::late_ram::RamReadiness {
            crate::late_ram::RamReadiness::Ready(64 << 20)
        }
        fn start_net_poller(&self) -> bool {
            true
        }
    }

    fn no_network() -> Network {
        Network::new(&uvm_net::NetworkConfig::default(), false).expect("network")
    }

    const PARAMS: u64 = 0x10_0000;
    const BUF: u64 = 0x11_0000;

    fn memory() -> GuestMemory {
        let path = std::env::temp_dir().join(format!(
            "uvm-exit-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, [0u8; 4096]).unwrap();
        let image = crate::mapped::MappedFile::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        GuestMemory::new(32 << 20, &image).expect("guest memory")
    }

    fn hypercall_exit(call: Hypercall, params: u64) -> VmExit {
        VmExit::MmioWrite { gpa: call.gpa(), data: params.to_le_bytes(), len: 8 }
    }

    fn run(exit: &VmExit, memory: &GuestMemory, io: &MemoryIo) -> Result<ExitAction, VmError> {
        handle_exit(exit, memory, io, &no_network(), &Volumes::none(), &TestVcpus::new(), &mut ExitCounts::default())
    }

    #[test]
    fn console_write_reaches_the_right_stream() {
        let mem = memory();
        let io = MemoryIo::default();
        mem.write_ram(BUF, b"hello").unwrap();
        for fd in [1, 2] {
            mem.write_plain(PARAMS, &ConsoleWrite { fd, buf_gpa: BUF, len: 5, ..Default::default() }).unwrap();
            assert_eq!(run(&hypercall_exit(Hypercall::ConsoleWrite, PARAMS), &mem, &io).unwrap(), ExitAction::Resume);
            let back: ConsoleWrite = mem.read_plain(PARAMS).unwrap();
            assert_eq!(back.result, 5);
        }
        assert_eq!(io.stdout(), b"hello");
        assert_eq!(io.stderr(), b"hello");
    }

    #[test]
    fn console_read_delivers_data_then_eof() {
        let mem = memory();
        let io = MemoryIo::with_stdin(b"abc");
        mem.write_plain(PARAMS, &ConsoleRead { fd: 0, buf_gpa: BUF, len: 100, ..Default::default() }).unwrap();
        run(&hypercall_exit(Hypercall::ConsoleRead, PARAMS), &mem, &io).unwrap();
        let back: ConsoleRead = mem.read_plain(PARAMS).unwrap();
        assert_eq!(back.result, 3);
        let mut got = [0u8; 3];
        mem.read_ram(BUF, &mut got).unwrap();
        assert_eq!(&got, b"abc");
        run(&hypercall_exit(Hypercall::ConsoleRead, PARAMS), &mem, &io).unwrap();
        assert_eq!(mem.read_plain::<ConsoleRead>(PARAMS).unwrap().result, 0);
    }

    #[test]
    fn exit_and_fatal_stop_the_vm() {
        let mem = memory();
        let io = MemoryIo::default();
        let stats = uvm_abi::hypercall::GuestStats { syscalls: 3, ..Default::default() };
        mem.write_plain(PARAMS, &Exit { status: 7, reserved: 0, stats }).unwrap();
        assert_eq!(
            run(&hypercall_exit(Hypercall::Exit, PARAMS), &mem, &io).unwrap(),
            ExitAction::Stop(Outcome::Exited(7, stats))
        );
        let fatal = Fatal {
            reason: FatalReason::Signal as u32,
            signal: 11,
            fault_address: 0x10,
            instruction_pointer: 0x401000,
            vector: 14,
            error_code: 6,
        };
        mem.write_plain(PARAMS, &fatal).unwrap();
        assert_eq!(
            run(&hypercall_exit(Hypercall::Fatal, PARAMS), &mem, &io).unwrap(),
            ExitAction::Stop(Outcome::Killed(fatal))
        );
    }

    #[test]
    fn bad_guest_input_is_refused_not_panicked_on() {
        let mem = memory();
        let io = MemoryIo::default();
        // Parameter block outside RAM.
        assert!(run(&hypercall_exit(Hypercall::ConsoleWrite, u64::MAX - 3), &mem, &io).is_err());
        // Buffer outside RAM, and a length over the bound.
        mem.write_plain(PARAMS, &ConsoleWrite { fd: 1, buf_gpa: 64 << 20, len: 5, ..Default::default() }).unwrap();
        assert!(run(&hypercall_exit(Hypercall::ConsoleWrite, PARAMS), &mem, &io).is_err());
        mem.write_plain(PARAMS, &ConsoleWrite { fd: 1, buf_gpa: BUF, len: u64::MAX, ..Default::default() }).unwrap();
        assert!(run(&hypercall_exit(Hypercall::ConsoleWrite, PARAMS), &mem, &io).is_err());
        // Wrong fd.
        mem.write_plain(PARAMS, &ConsoleWrite { fd: 7, buf_gpa: BUF, len: 1, ..Default::default() }).unwrap();
        assert!(run(&hypercall_exit(Hypercall::ConsoleWrite, PARAMS), &mem, &io).is_err());
        // A 4-byte write to the hypercall page.
        let narrow = VmExit::MmioWrite { gpa: Hypercall::Exit.gpa(), data: [0; 8], len: 4 };
        assert!(run(&narrow, &mem, &io).is_err());
        // Invalid fatal signal.
        mem.write_plain(PARAMS, &Fatal { reason: 1, signal: 0, ..Default::default() }).unwrap();
        assert!(run(&hypercall_exit(Hypercall::Fatal, PARAMS), &mem, &io).is_err());
        assert!(io.stdout().is_empty());
    }

    #[test]
    fn unknown_addresses_and_exits_stop_with_a_reason() {
        let mem = memory();
        let io = MemoryIo::default();
        for exit in [
            VmExit::MmioWrite { gpa: 0xdead_0000, data: [0; 8], len: 8 },
            VmExit::MmioRead { gpa: 0xdead_0000 },
            VmExit::Io { port: 0x3f8 },
            VmExit::Hlt,
            VmExit::Shutdown,
            VmExit::InternalError,
            VmExit::FailEntry { reason: 3 },
        ] {
            match run(&exit, &mem, &io).unwrap() {
                ExitAction::Fault(reason) => assert!(!reason.is_empty()),
                other => panic!("{exit:?} gave {other:?}"),
            }
        }
        match run(&VmExit::MmioWrite { gpa: 0xdead_0000, data: [0; 8], len: 8 }, &mem, &io).unwrap() {
            ExitAction::Fault(reason) => assert!(reason.contains("0xdead0000")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn back_ram_backs_page_aligned_ram_and_refuses_the_rest() {
        use uvm_abi::hypercall::BackRam;
        let (mem, io) = (memory(), MemoryIo::default());
        let call = BackRam { gpa: 1 << 20, len: 64 << 10, result: -1 };
        mem.write_plain(PARAMS, &call).unwrap();
        assert_eq!(run(&hypercall_exit(Hypercall::BackRam, PARAMS), &mem, &io).unwrap(), ExitAction::Resume);
        assert_eq!(mem.read_plain::<BackRam>(PARAMS).unwrap().result, 0);
        for bad in [
            BackRam { gpa: (1 << 20) + 8, ..call },
            BackRam { len: 100, ..call },
            BackRam { gpa: 1 << 40, ..call },
            BackRam { len: 64 << 20, ..call },
        ] {
            mem.write_plain(PARAMS, &bad).unwrap();
            assert!(run(&hypercall_exit(Hypercall::BackRam, PARAMS), &mem, &io).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn release_ram_zeroes_the_pages_given_back_and_refuses_the_rest() {
        use uvm_abi::hypercall::ReleaseRam;
        let (mem, io) = (memory(), MemoryIo::default());
        let at = 2 << 20;
        mem.write_ram(at, &[0xaa; 3 * 4096]).unwrap();
        let call = ReleaseRam { gpa: at + 4096, len: 4096, result: -1 };
        mem.write_plain(PARAMS, &call).unwrap();
        assert_eq!(run(&hypercall_exit(Hypercall::ReleaseRam, PARAMS), &mem, &io).unwrap(), ExitAction::Resume);
        assert_eq!(mem.read_plain::<ReleaseRam>(PARAMS).unwrap().result, 0);
        let mut pages = vec![0u8; 3 * 4096];
        mem.read_ram(at, &mut pages).unwrap();
        assert!(pages[..4096].iter().all(|&b| b == 0xaa), "the page before is kept");
        assert!(pages[4096..8192].iter().all(|&b| b == 0), "the page given back reads zeros");
        assert!(pages[8192..].iter().all(|&b| b == 0xaa), "the page after is kept");
        for bad in
            [ReleaseRam { gpa: at + 8, ..call }, ReleaseRam { len: 100, ..call }, ReleaseRam { gpa: 1 << 40, ..call }]
        {
            mem.write_plain(PARAMS, &bad).unwrap();
            assert!(run(&hypercall_exit(Hypercall::ReleaseRam, PARAMS), &mem, &io).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ram_ready_reports_the_ram_the_vcpu_ops_say_is_registered() {
        use uvm_abi::hypercall::RamReady;
        let (mem, io) = (memory(), MemoryIo::default());
        mem.write_plain(PARAMS, &RamReady { wait: 1, reserved: 0, result: -1 }).unwrap();
        assert_eq!(run(&hypercall_exit(Hypercall::RamReady, PARAMS), &mem, &io).unwrap(), ExitAction::Resume);
        assert_eq!(mem.read_plain::<RamReady>(PARAMS).unwrap().result, 64 << 20);
    }

    #[test]
    fn copy_from_image_fills_guest_chunks_and_checks_bounds() {
        use uvm_abi::hypercall::{CopyFromImage, MemoryChunk};
        let path = std::env::temp_dir().join(format!("uvm-copy-test-{}", std::process::id()));
        let image: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &image).unwrap();
        let mapped = crate::mapped::MappedFile::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let mem = GuestMemory::new(32 << 20, &mapped).unwrap();
        let io = MemoryIo::default();
        let chunks = [MemoryChunk { gpa: BUF, len: 100 }, MemoryChunk { gpa: BUF + 0x1000, len: 50 }];
        for (i, c) in chunks.iter().enumerate() {
            mem.write_plain(PARAMS + 0x100 + 16 * i as u64, c).unwrap();
        }
        let call = CopyFromImage { image_offset: 10, chunks_gpa: PARAMS + 0x100, chunk_count: 2, result: 0 };
        mem.write_plain(PARAMS, &call).unwrap();
        assert_eq!(run(&hypercall_exit(Hypercall::CopyFromImage, PARAMS), &mem, &io).unwrap(), ExitAction::Resume);
        assert_eq!(mem.read_plain::<CopyFromImage>(PARAMS).unwrap().result, 150);
        let mut got = [0u8; 100];
        mem.read_ram(BUF, &mut got).unwrap();
        assert_eq!(&got[..], &image[10..110]);
        let mut got = [0u8; 50];
        mem.read_ram(BUF + 0x1000, &mut got).unwrap();
        assert_eq!(&got[..], &image[110..160]);
        // Past the end of the image, into non-RAM, or too many chunks: refused.
        for bad in [
            CopyFromImage { image_offset: 8190, ..call },
            CopyFromImage { chunk_count: 5000, ..call },
            CopyFromImage { chunks_gpa: 1 << 40, ..call },
        ] {
            mem.write_plain(PARAMS, &bad).unwrap();
            assert!(run(&hypercall_exit(Hypercall::CopyFromImage, PARAMS), &mem, &io).is_err(), "{bad:?}");
        }
        mem.write_plain(PARAMS + 0x100, &MemoryChunk { gpa: 40 << 20, len: 10 }).unwrap();
        mem.write_plain(PARAMS, &call).unwrap();
        assert!(run(&hypercall_exit(Hypercall::CopyFromImage, PARAMS), &mem, &io).is_err(), "outside RAM");
    }

    /// Random parameter blocks and addresses for every hypercall: the handler answers or
    /// refuses, it never panics and never writes outside guest RAM.
    #[test]
    fn random_hypercalls_never_panic() {
        let mem = memory();
        let io = MemoryIo::with_stdin(&[7; 64]);
        let vcpus = TestVcpus::without_doorbells();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..5000 {
            let mut block = [0u8; 64];
            for chunk in block.chunks_mut(8) {
                // Mostly small numbers and in-RAM addresses, sometimes anything.
                let v = match next() % 4 {
                    0 => next(),
                    1 => next() % (40 << 20),
                    2 => next() % 4096,
                    _ => next() % 4,
                };
                chunk.copy_from_slice(&v.to_le_bytes());
            }
            mem.write_ram(PARAMS, &block).unwrap();
            let call = Hypercall::ALL[round % Hypercall::ALL.len()];
            if call == Hypercall::Park {
                continue;
            }
            let params = if round % 7 == 0 { next() } else { PARAMS };
            let len = if round % 11 == 0 { (next() % 9) as usize } else { 8 };
            let exit = VmExit::MmioWrite { gpa: call.gpa(), data: params.to_le_bytes(), len };
            let _ = handle_exit(&exit, &mem, &io, &no_network(), &Volumes::none(), &vcpus, &mut ExitCounts::default());
        }
    }

    #[test]
    fn trace_lines_become_diagnostics_and_panics_errors() {
        let mem = memory();
        let io = MemoryIo::default();
        mem.write_ram(BUF, b"write(1, ...) = 5").unwrap();
        mem.write_plain(PARAMS, &uvm_abi::hypercall::Message { buf_gpa: BUF, len: 17 }).unwrap();
        run(&hypercall_exit(Hypercall::Trace, PARAMS), &mem, &io).unwrap();
        assert_eq!(io.diagnostics(), vec!["[uvm trace] write(1, ...) = 5".to_string()]);
        let err = run(&hypercall_exit(Hypercall::Panic, PARAMS), &mem, &io).unwrap_err();
        assert!(err.to_string().contains("guest kernel panic: write(1"));
    }

    #[test]
    fn vcpu_start_park_and_unpark_answer_through_their_blocks() {
        let mem = memory();
        let io = MemoryIo::default();
        let vcpus = TestVcpus::new();
        let call = |h: Hypercall| {
            let exit = hypercall_exit(h, PARAMS);
            handle_exit(&exit, &mem, &io, &no_network(), &Volumes::none(), &vcpus, &mut ExitCounts::default()).unwrap()
        };
        let start = VcpuStart { index: 2, rip: 0x20_1000, rsp: 0x20_8000, arg: 0x4000_0000_1000, ..Default::default() };
        for (index, expected) in [(2, 0), (2, -22), (0, -22), (uvm_abi::layout::MAX_VCPUS, -22), (u32::MAX, -22)] {
            mem.write_plain(PARAMS, &VcpuStart { index, result: 99, ..start }).unwrap();
            assert_eq!(call(Hypercall::VcpuStart), ExitAction::Resume);
            assert_eq!(mem.read_plain::<VcpuStart>(PARAMS).unwrap().result, expected, "index {index}");
        }
        assert_eq!(*vcpus.started.lock().unwrap(), vec![VcpuStart { result: 99, ..start }]);

        // Doorbell writes (here without KVM's handling, so they reach the VMM) unpark; one to a
        // vCPU never started does nothing.
        let mut counts = ExitCounts::default();
        for index in [2, 3] {
            let ring = VmExit::MmioWrite { gpa: unpark_doorbell_gpa(index), data: [0; 8], len: 8 };
            assert_eq!(
                handle_exit(&ring, &mem, &io, &no_network(), &Volumes::none(), &vcpus, &mut counts).unwrap(),
                ExitAction::Resume
            );
        }
        assert_eq!((counts.total, counts.doorbells, counts.other), (2, 2, 0));
        // vCPU 2 (whose thread these parks stand for) was unparked: the park takes the token;
        // the next times out.
        mem.write_plain(PARAMS, &Park { timeout_ns: u64::MAX, result: 99, ..Default::default() }).unwrap();
        assert_eq!(call(Hypercall::Park), ExitAction::Resume);
        assert_eq!(mem.read_plain::<Park>(PARAMS).unwrap().result, 1);
        mem.write_plain(PARAMS, &Park { timeout_ns: 1_000_000, result: 99, ..Default::default() }).unwrap();
        assert_eq!(call(Hypercall::Park), ExitAction::Resume);
        assert_eq!(mem.read_plain::<Park>(PARAMS).unwrap().result, 0);
        // Asking for the transmit rings to be written out first, with no network made yet.
        let flushing =
            Park { timeout_ns: 1_000_000, flags: uvm_abi::hypercall::PARK_FLUSH_NET, reserved: 0, result: 99 };
        mem.write_plain(PARAMS, &flushing).unwrap();
        assert_eq!(call(Hypercall::Park), ExitAction::Resume);
        assert_eq!(mem.read_plain::<Park>(PARAMS).unwrap().result, 0);
        // Parameter blocks outside RAM are refused.
        let exit = hypercall_exit(Hypercall::Park, 1 << 40);
        assert!(
            handle_exit(&exit, &mem, &io, &no_network(), &Volumes::none(), &vcpus, &mut ExitCounts::default()).is_err()
        );
    }

    #[test]
    fn set_root_takes_the_value_written_as_the_new_root() {
        let (mem, io) = (memory(), MemoryIo::default());
        let mut counts = ExitCounts::default();
        let exit = hypercall_exit(Hypercall::SetRoot, 0x80_3000);
        let action =
            handle_exit(&exit, &mem, &io, &no_network(), &Volumes::none(), &TestVcpus::new(), &mut counts).unwrap();
        assert_eq!(action, ExitAction::SetRootAndResume(0x80_3000));
        assert_eq!(counts.hypercalls[Hypercall::SetRoot as usize], 1);
        // The last page of RAM is a root too.
        let last = (32 << 20) - uvm_abi::layout::PAGE_SIZE;
        assert_eq!(
            run(&hypercall_exit(Hypercall::SetRoot, last), &mem, &io).unwrap(),
            ExitAction::SetRootAndResume(last)
        );
    }

    #[test]
    fn set_root_refuses_misaligned_roots_and_roots_outside_ram() {
        let (mem, io) = (memory(), MemoryIo::default());
        for bad in [0x80_3008, 0x80_3fff, 32 << 20, 1 << 40, !0xfff] {
            let err = run(&hypercall_exit(Hypercall::SetRoot, bad), &mem, &io).unwrap_err();
            let message = err.to_string();
            assert!(message.contains("set-root") && message.contains(&format!("{bad:#x}")), "{message}");
        }
    }

    #[test]
    fn vcpu_start_refuses_a_bad_root_and_passes_a_good_one_on() {
        let (mem, io) = (memory(), MemoryIo::default());
        let vcpus = TestVcpus::new();
        let call = || {
            let exit = hypercall_exit(Hypercall::VcpuStart, PARAMS);
            handle_exit(&exit, &mem, &io, &no_network(), &Volumes::none(), &vcpus, &mut ExitCounts::default()).unwrap()
        };
        let start =
            VcpuStart { index: 3, rip: 0x20_1000, rsp: 0x20_8000, arg: 0x1000, root: 0x80_3000, ..Default::default() };
        for root in [0x80_3008, 32 << 20, 1 << 40, u64::MAX] {
            mem.write_plain(PARAMS, &VcpuStart { root, result: 99, ..start }).unwrap();
            assert_eq!(call(), ExitAction::Resume);
            assert_eq!(mem.read_plain::<VcpuStart>(PARAMS).unwrap().result, -22, "root {root:#x}");
        }
        assert!(vcpus.started.lock().unwrap().is_empty(), "nothing started");
        // The index was not claimed by the refused starts: a good root starts it.
        mem.write_plain(PARAMS, &VcpuStart { result: 99, ..start }).unwrap();
        assert_eq!(call(), ExitAction::Resume);
        assert_eq!(mem.read_plain::<VcpuStart>(PARAMS).unwrap().result, 0);
        // And 0 (the boot tables) is accepted as well.
        mem.write_plain(PARAMS, &VcpuStart { index: 4, root: 0, result: 99, ..start }).unwrap();
        assert_eq!(call(), ExitAction::Resume);
        assert_eq!(mem.read_plain::<VcpuStart>(PARAMS).unwrap().result, 0);
        let started = vcpus.started.lock().unwrap();
        assert_eq!(
            *started,
            vec![VcpuStart { result: 99, ..start }, VcpuStart { index: 4, root: 0, result: 99, ..start }]
        );
    }

    #[test]
    fn exit_counts_add_up() {
        let mut a = ExitCounts { total: 3, other: 1, ..Default::default() };
        a.hypercalls[4] = 2;
        let mut b = ExitCounts { total: 5, other: 0, ..Default::default() };
        b.hypercalls[4] = 1;
        b.hypercalls[12] = 4;
        a.add(&b);
        assert_eq!((a.total, a.other, a.hypercalls[4], a.hypercalls[12]), (8, 1, 3, 4));
    }
}
