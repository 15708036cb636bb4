//! Robustness: whatever the app passes to its syscalls, it gets an error back (EFAULT, EINVAL,
//! ENOMEM, ...), and neither the guest kernel nor uvm falls over; a corrupted image is refused
//! before boot with exit status 125.

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
