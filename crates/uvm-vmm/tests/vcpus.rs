//! Several vCPUs on real KVM, with tiny hand-written guests instead of the guest kernel: each
//! "kernel" is a few instructions (assembled here with binutils' `as` and `ld`) that make the
//! hypercalls directly (VcpuStart, Park, FlushTlb, Exit) and ring unpark doorbells from the
//! boot state the VMM sets up. They check what the guest kernel will rely on: a started vCPU
//! runs with its registers, a doorbell wakes a parked vCPU inside the host kernel, a flush
//! and the end of the VM reach a vCPU spinning in the guest, run slots time-slice a spinning
//! vCPU, and a fault on another vCPU is reported.
//!
//! Without /dev/kvm or binutils the test prints a note and passes (CI=true: fails). All
//! scenarios run in one test, one after the other: the stop state is per process.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use uvm_abi::kernel::{EXCEPTION_STUB_STRIDE, EXCEPTION_VECTORS, KERNEL_MAGIC};
use uvm_abi::layout::KERNEL_BASE;
use uvm_vmm::{AppLaunch, MappedFile, MemoryIo, Outcome, RunReport, StopReason, VmError, VmSpec};

/// Where the code goes (one page after the header).
const TEXT: u64 = KERNEL_BASE + 0x1000;
/// The exception stubs: `hlt`s (a fault in the guest then stops the VM with a message).
const STUBS: u64 = KERNEL_BASE + 0xe000;
/// The kernel's size in memory, and vCPU 0's stack top.
const SIZE: u64 = 0x10000;

/// Hypercall addresses and blocks shared by every scenario (Intel syntax, for `as`).
const PRELUDE: &str = r#"
.intel_syntax noprefix
.set HC, 0x1ff000
.set EXIT, HC + 8*3
.set FLUSH, HC + 8*4
.set VCPU_START, HC + 8*11
.set PARK, HC + 8*12
.set UNPARK0, HC + 0x800
.set BAD, HC + 8*200
.text
.globl entry0
entry0:
"#;

/// Blocks: `exit_blk` (status at offset 0), `park0`/`park1` (no time limit), `start1` (vCPU 1
/// at `entry1`, its stack, arg 0x55, the boot tables; result at `start1_result`), `sleep_blk` and `nap_blk`
/// (Park blocks with a 1 ms and a 20 ms limit, which nothing unparks), `flag`.
const BLOCKS: &str = r#"
do_exit:
    lea rax, [rip + exit_blk]
    mov [EXIT], rax
    ud2
.balign 8
exit_blk: .long 0, 0
    .quad 0, 0, 0, 0, 0, 0, 0
park0: .quad -1, 0, 0
park1: .quad -1, 0, 0
start1: .long 1, 0
    .quad entry1, 0x20c000, 0x55, 0
start1_result: .quad 99
sleep_blk: .quad 1000000, 0, 0
nap_blk: .quad 20000000, 0, 0
flag: .quad 0
"#;

fn skip(why: &str) {
    assert!(std::env::var("CI").is_err(), "CI=true: {why}");
    eprintln!("note: skipping the multi-vCPU boot tests: {why}");
}

fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uvm-vmm-vcpus-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Assembles `body` (after [`PRELUDE`], before [`BLOCKS`]) into a flat kernel image.
fn kernel(name: &str, body: &str) -> Result<Vec<u8>, String> {
    let dir = work_dir();
    let src = dir.join(format!("{name}.s"));
    let obj = dir.join(format!("{name}.o"));
    let elf = dir.join(format!("{name}.elf"));
    let bin = dir.join(format!("{name}.bin"));
    std::fs::write(&src, format!("{PRELUDE}{body}{BLOCKS}")).map_err(|e| e.to_string())?;
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    };
    run(Command::new("as").arg("--64").arg("-o").arg(&obj).arg(&src))?;
    run(Command::new("ld").arg(format!("-Ttext={TEXT:#x}")).arg("-e").arg("entry0").arg("-o").arg(&elf).arg(&obj))?;
    run(Command::new("objcopy").args(["-O", "binary", "-j", ".text"]).arg(&elf).arg(&bin))?;
    let text = std::fs::read(&bin).map_err(|e| e.to_string())?;
    assert!(text.len() < (STUBS - TEXT) as usize, "{name}: code too large");

    let mut image =
        vec![0u8; (STUBS - KERNEL_BASE) as usize + (EXCEPTION_VECTORS as u64 * EXCEPTION_STUB_STRIDE) as usize];
    let header: [u64; 5] = [SIZE, TEXT, TEXT, STUBS, KERNEL_BASE + SIZE];
    image[..8].copy_from_slice(&KERNEL_MAGIC);
    image[8..12].copy_from_slice(&uvm_abi::ABI_VERSION.to_le_bytes());
    image[12..16].copy_from_slice(&56u32.to_le_bytes());
    for (i, v) in header.iter().enumerate() {
        image[16 + 8 * i..24 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    let text_at = (TEXT - KERNEL_BASE) as usize;
    image[text_at..text_at + text.len()].copy_from_slice(&text);
    let stubs_at = (STUBS - KERNEL_BASE) as usize;
    image[stubs_at..].fill(0xf4);
    Ok(image)
}

fn image_file() -> MappedFile {
    let path = work_dir().join("image");
    std::fs::write(&path, [0u8; 4096]).unwrap();
    MappedFile::open(&path).unwrap()
}

/// Boots `kernel` with `cpus` run slots, failing the test if it takes longer than `limit`.
fn boot(kernel: &[u8], cpus: u32, timeout: Option<Duration>, limit: Duration) -> Result<RunReport, VmError> {
    let image = image_file();
    let spec = VmSpec {
        image: &image,
        kernel,
        kernel_file: || None,
        memory_mib: 32,
        cpus,
        launch: AppLaunch { argv: vec!["t".into()], workdir: "/".into(), ..Default::default() },
        trace_syscalls: false,
        timeout,
        stop: uvm_vmm::StopPolicy { signal: libc::SIGTERM, timeout: std::time::Duration::ZERO },
        collect_stats: true,
        exit_now: None,
        network: Default::default(),
        volumes: Vec::new(),
    };
    let started = Instant::now();
    let io = MemoryIo::default();
    let result = uvm_vmm::run(&spec, &io);
    assert!(started.elapsed() < limit, "took {:?}", started.elapsed());
    result
}

fn exited(result: Result<RunReport, VmError>) -> (i32, RunReport) {
    let report = result.unwrap_or_else(|e| panic!("the VM failed: {e}"));
    match report.outcome {
        Outcome::Exited(status, _) => (status, report),
        ref other => panic!("unexpected outcome {other:?}"),
    }
}

/// vCPU 0 starts vCPU 1 and parks until vCPU 1 (running with rdi = 0x55) naps 20 ms, sets a
/// flag and rings vCPU 0's doorbell (vCPU 0 registered it with KVM at its park meanwhile); a
/// second start of vCPU 1 is refused; then a flush (vCPU 1 parked) and exit.
const START_PARK_UNPARK: &str = r#"
    lea rax, [rip + start1]
    mov [VCPU_START], rax
    mov dword ptr [rip + exit_blk], 1
    cmp qword ptr [rip + start1_result], 0
    jne do_exit
wait0:
    cmp qword ptr [rip + flag], 0
    jne woke0
    lea rax, [rip + park0]
    mov [PARK], rax
    jmp wait0
woke0:
    lea rax, [rip + start1]
    mov [VCPU_START], rax
    mov dword ptr [rip + exit_blk], 2
    cmp qword ptr [rip + start1_result], -22
    jne do_exit
    mov rax, -1
    mov [FLUSH], rax
    mov rax, [rip + flag]
    mov [rip + exit_blk], eax
    jmp do_exit
entry1:
    mov rbx, rdi
    lea rax, [rip + nap_blk]
    mov [PARK], rax
    mov [rip + flag], rbx
    mov [UNPARK0], rax
park_loop1:
    lea rax, [rip + park1]
    mov [PARK], rax
    jmp park_loop1
"#;

/// vCPU 0 starts vCPU 1, which spins in the guest for ever; vCPU 0 flushes and sleeps 1 ms,
/// 20 times, then exits 0: the flushes must get vCPU 1 out of the guest, the end of the VM
/// must stop it, and with one run slot vCPU 0 only gets to run again by time-slicing.
const SPIN_AND_FLUSH: &str = r#"
    lea rax, [rip + start1]
    mov [VCPU_START], rax
    mov ebx, 20
again0:
    mov rax, -1
    mov [FLUSH], rax
    lea rax, [rip + sleep_blk]
    mov [PARK], rax
    dec ebx
    jnz again0
    jmp do_exit
entry1:
    pause
    jmp entry1
"#;

/// vCPU 1 writes to an address that is neither memory nor a hypercall while vCPU 0 is parked.
const FAULT_ON_VCPU1: &str = r#"
    lea rax, [rip + start1]
    mov [VCPU_START], rax
park_loop0:
    lea rax, [rip + park0]
    mov [PARK], rax
    jmp park_loop0
entry1:
    mov rax, 0x1234
    mov [BAD], rax
    ud2
"#;

/// vCPU 1 exits with status 7 while vCPU 0 is parked.
const EXIT_FROM_VCPU1: &str = r#"
    lea rax, [rip + start1]
    mov [VCPU_START], rax
park_loop0:
    lea rax, [rip + park0]
    mov [PARK], rax
    jmp park_loop0
entry1:
    mov dword ptr [rip + exit_blk], 7
    jmp do_exit
"#;

/// Both vCPUs spin for ever: only `--timeout` ends the VM.
const BOTH_SPIN: &str = r#"
    lea rax, [rip + start1]
    mov [VCPU_START], rax
spin0:
    pause
    jmp spin0
entry1:
    pause
    jmp entry1
"#;

#[test]
fn several_vcpus_on_kvm() {
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        return skip(&format!("/dev/kvm: {e}"));
    }
    let build = |name, body| kernel(name, body);
    let kernels = match [
        build("start", START_PARK_UNPARK),
        build("spin", SPIN_AND_FLUSH),
        build("fault", FAULT_ON_VCPU1),
        build("exit1", EXIT_FROM_VCPU1),
        build("timeout", BOTH_SPIN),
    ]
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    {
        Ok(k) => k,
        Err(why) => return skip(&format!("cannot assemble the test guests ({why})")),
    };
    let [start, spin, fault, exit1, timeout] = &kernels[..] else { unreachable!() };
    let limit = Duration::from_secs(20);

    let (status, report) = exited(boot(start, 2, None, limit));
    assert_eq!(status, 0x55, "vCPU 1 ran with rdi = its start argument and woke vCPU 0");
    assert_eq!(report.vcpus_started, 2);
    let calls = &report.exits.hypercalls;
    assert_eq!(calls[11], 2, "two starts, summed over vCPUs");
    assert!(calls[12] >= 2, "vCPU 0 parks, vCPU 1 naps");
    assert_eq!(report.exits.doorbells, 0, "KVM rang vCPU 0's doorbell itself: no exit to the VMM");
    assert!(report.kvm_counters.iter().any(|(name, _)| name == "exits"), "{:?}", report.kvm_counters);

    for cpus in std::env::var("UVM_TEST_CPUS").map_or(vec![1, 2], |v| vec![v.parse().unwrap()]) {
        let started = Instant::now();
        let (status, report) = exited(boot(spin, cpus, None, limit));
        assert_eq!(status, 0, "cpus = {cpus}");
        assert_eq!(report.exits.hypercalls[4], 20);
        eprintln!("spin and flush with {cpus} run slot(s): {:?}", started.elapsed());
    }

    match boot(fault, 2, None, limit) {
        Err(VmError::GuestFault { reason, registers }) => {
            assert!(reason.contains("0xc000000640") && reason.contains("(vCPU 1)"), "{reason}");
            assert!(registers.contains("rax=0x1234"), "vCPU 1's registers: {registers}");
        }
        other => panic!("expected vCPU 1's fault, got {:?}", other.map(|r| r.outcome)),
    }

    let (status, report) = exited(boot(exit1, 1, None, limit));
    assert_eq!(status, 7);
    assert_eq!(report.vcpus_started, 2);

    // Last: an external stop is for good in this process.
    let report = boot(timeout, 2, Some(Duration::from_millis(300)), limit).expect("stopped");
    assert_eq!(report.outcome, Outcome::Stopped(StopReason::Timeout));
    assert_eq!(report.vcpus_started, 2);
}
