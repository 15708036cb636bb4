//! Robustness: whatever the app passes to its syscalls, it gets an error back (EFAULT, EINVAL,
//! ENOMEM, ...), and neither the guest kernel nor uvm falls over; a corrupted image is refused
//! before boot with exit status 125; a large image does not inflate uvm's own memory.

mod support;

use support::apps::Toolchain::{self, Glibc, Musl};
use support::cases::{self, contains, Run};
use support::process::show;
use support::vm::{self, expect_code, uvm};

const EXPECTED: &str = "\
read into NULL                           EFAULT
read into low memory                     EFAULT
read into the kernel area                EFAULT
read into the direct map                 EFAULT
read into an unmapped page               EFAULT
read into a read-only page               EFAULT
write from the kernel area               EFAULT
write with a huge length                 EFAULT
open with a NULL path                    EFAULT
open with a kernel-area path             EFAULT
stat into the kernel area                EFAULT
clock_gettime into NULL                  EFAULT
uname into an unmapped page              EFAULT
getrandom into the direct map            EFAULT
writev with 100000 iovecs                EINVAL
writev with a bad iovec pointer          EFAULT
writev of a kernel-area buffer           EFAULT
mmap of length 0                         EINVAL
mmap of 2^63 bytes                       ENOMEM
mmap of -1 bytes                         ENOMEM
mmap MAP_FIXED over the kernel           ENOMEM
mmap MAP_FIXED unaligned                 EINVAL
mmap with bad flags                      EINVAL
munmap of the kernel area                ok
mprotect of the kernel area              ENOMEM
mprotect with unknown bits               EINVAL
brk to the kernel area                   refused
rt_sigaction with a bad size             EINVAL
rt_sigaction of signal 0                 EINVAL
nanosleep with a bad pointer             EFAULT
nanosleep of a negative time             EINVAL
close of fd -1                           EBADF
close of fd 100000                       EBADF
syscall number 100000                    ENOSYS
still running: yes
";

fn bad_inputs(test: &str, toolchain: Toolchain) {
    if !vm::require_kvm(test) {
        return;
    }
    let case = cases::Case {
        suite: support::Suite::Boot,
        manifest: "bad_inputs",
        toolchain,
        app: "bad_inputs",
        runs: Vec::<Run>::new(),
    };
    let Some(staged) = vm::stage_case(test, &case) else { return };
    let image = vm::build(test, &staged);
    let out = expect_code(test, uvm(["run".as_ref(), image.as_os_str()]), 0);
    assert_eq!(show(&out.stdout), show(EXPECTED.as_bytes()), "{test}");
}

#[test]
fn glibc_bad_syscall_arguments_are_errors() {
    bad_inputs("glibc_bad_syscall_arguments_are_errors", Glibc);
}

#[test]
fn musl_bad_syscall_arguments_are_errors() {
    bad_inputs("musl_bad_syscall_arguments_are_errors", Musl);
}

/// An image whose app ELF was corrupted after `uvm build` (the checksum no longer matches) is
/// refused before boot.
#[test]
fn corrupted_app_bytes_are_refused_before_boot() {
    let test = "corrupted_app_bytes_are_refused_before_boot";
    if !vm::require_kvm(test) {
        return;
    }
    let case = cases::hello(Glibc);
    let Some(staged) = vm::stage_case(test, &case) else { return };
    let image = vm::build(test, &staged);
    let mut bytes = std::fs::read(&image).expect("read the image");
    // The app's ELF header sits somewhere after the kernel; flip its class byte.
    let at = bytes.windows(4).rposition(|w| w == b"\x7fELF").expect("the app's ELF header") + 4;
    bytes[at] ^= 0x3;
    std::fs::write(&image, &bytes).expect("write the image");
    let out = expect_code(test, uvm(["run".as_ref(), image.as_os_str()]), 125);
    assert!(contains(&out.stderr, b"corrupt"), "{test}: {}", show(&out.stderr));
    assert!(out.stdout.is_empty(), "{test}: the app must not run");
}

/// A large packaged file does not inflate uvm's own memory: the image is mapped, checked and
/// given back page by page, so `uvm run` of a hello with a 32 MiB file peaks far below 32 MiB.
/// Measured by `bench/peak_rss.c` (wait4's ru_maxrss of a child forked from a small process:
/// one forked from this test binary would carry the test's own high-water mark).
#[test]
fn a_large_image_does_not_stay_resident() {
    let test = "a_large_image_does_not_stay_resident";
    if !vm::require_kvm(test) {
        return;
    }
    let Ok(hello) = support::apps::app(Glibc, "hello") else {
        panic!("{test}: cannot build the glibc hello app");
    };
    let dir = vm::work_dir(test);
    std::fs::create_dir_all(&dir).expect("work dir");
    let launcher = dir.join("peak_rss");
    let gcc = support::find_tool("gcc").expect("gcc builds the test apps");
    let built = std::process::Command::new(gcc)
        .args(["-O2", "-o"])
        .arg(&launcher)
        .arg(support::repo_root().join("bench/peak_rss.c"))
        .status()
        .expect("run gcc");
    assert!(built.success(), "{test}: building bench/peak_rss.c failed");
    const DATA_MIB: usize = 32;
    let data: Vec<u8> = (0..DATA_MIB << 20).map(|i| (i * 31 % 253) as u8).collect();
    std::fs::write(dir.join("data.bin"), &data).expect("write the data file");
    std::fs::copy(&hello, dir.join("hello")).expect("copy the app");
    let manifest = dir.join("big.toml");
    std::fs::write(
        &manifest,
        "[app]\nname = \"big\"\nbinary = \"hello\"\nargs = [\"world\"]\nenv = { GREETING = \"Hello\" }\n\n\
         [[files]]\nsrc = \"data.bin\"\ndst = \"/data/big.bin\"\n",
    )
    .expect("write the manifest");
    expect_code(test, uvm(["build".as_ref(), manifest.as_os_str()]), 0);
    let out = std::process::Command::new(&launcher)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .arg("1")
        .arg(vm::uvm_bin())
        .arg("run")
        .arg(dir.join("big.uvm"))
        .output()
        .expect("run peak_rss");
    assert!(out.status.success(), "{test}: {}", show(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = text
        .split_whitespace()
        .skip_while(|w| *w != "median")
        .nth(1)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{test}: unexpected peak_rss output {text:?}"));
    // The whole image would be > 32 MiB; uvm itself (a debug build here) needs a few MiB.
    assert!(kib < 16 * 1024, "{test}: peak RSS {kib} KiB with a {DATA_MIB} MiB image");
}
