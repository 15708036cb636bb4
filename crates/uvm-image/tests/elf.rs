//! The build-time ELF checks, one committed fixture per rejection (see tests/fixtures/README.md).

mod common;

use common::fixture;
use uvm_image::{check_elf_file, ElfError, ElfInfo, ElfKind, ImageError};

/// Checks a fixture that must be rejected; returns the error and asserts the message names it.
fn reject(name: &str) -> ElfError {
    let path = fixture(name);
    match check_elf_file(&path) {
        Err(ImageError::Elf(e)) => {
            let message = e.to_string();
            assert!(message.contains(&path.display().to_string()), "message does not name {name}: {message}");
            e
        }
        other => panic!("{name}: expected an ELF rejection, got {other:?}"),
    }
}

fn accept(name: &str) -> ElfInfo {
    check_elf_file(&fixture(name)).unwrap_or_else(|e| panic!("{name} rejected: {e}"))
}

#[test]
fn static_executable_is_accepted() {
    let info = accept("static.elf");
    assert_eq!(info.kind, ElfKind::Static);
    assert_eq!(info.entry, 0x4000e8);
    assert_eq!(info.segments.len(), 2);
    assert_eq!((info.segments[0].vaddr, info.segments[0].flags_str().as_str()), (0x400000, "r-x"));
    assert_eq!((info.segments[1].filesz, info.segments[1].memsz), (0, 0x2000));
    assert!(!info.has_tls);
    assert_eq!(info.interp, None);
}

#[test]
fn static_pie_is_accepted() {
    let info = accept("static-pie.elf");
    assert_eq!(info.kind, ElfKind::StaticPie);
    assert!(info.has_tls);
    assert_eq!(info.segments[0].vaddr, 0);
}

#[test]
fn a_script_is_not_elf() {
    let e = reject("script.sh");
    assert!(
        matches!(&e, ElfError::NotElf { what, .. } if what.contains("#!/bin/sh") && what.contains("script")),
        "{e}"
    );
}

#[test]
fn elf32_is_refused() {
    assert!(matches!(reject("elf32.elf"), ElfError::Elf32 { .. }));
}

#[test]
fn other_machines_are_named() {
    let e = reject("aarch64.elf");
    assert!(matches!(&e, ElfError::WrongMachine { machine, .. } if machine.contains("AArch64")), "{e}");
}

#[test]
fn object_files_core_dumps_and_libraries_are_not_executables() {
    for (name, what) in
        [("object.o", "relocatable object"), ("core.elf", "core dump"), ("shared-lib.so", "shared library")]
    {
        let e = reject(name);
        assert!(matches!(&e, ElfError::NotExecutable { what: w, .. } if w.contains(what)), "{name}: {e}");
    }
}

#[test]
fn dynamic_executables_name_their_interpreter_and_the_fix() {
    let e = reject("dynamic.elf");
    assert!(matches!(&e, ElfError::Dynamic { interpreter, .. } if interpreter == "/lib64/ld-linux-x86-64.so.2"), "{e}");
    let message = e.to_string();
    for fix in ["gcc -static", "musl-gcc -static", "+crt-static", "CGO_ENABLED=0"] {
        assert!(message.contains(fix), "{message}");
    }
}

#[test]
fn no_load_segments() {
    assert!(matches!(reject("no-load.elf"), ElfError::NoLoadSegments { .. }));
}

#[test]
fn segment_past_end_of_file() {
    assert!(matches!(reject("past-eof.elf"), ElfError::SegmentPastEof { index: 0, .. }));
}

#[test]
fn filesz_over_memsz() {
    assert!(matches!(reject("filesz-over-memsz.elf"), ElfError::FileszExceedsMemsz { .. }));
}

#[test]
fn overlapping_segments() {
    assert!(matches!(reject("overlap.elf"), ElfError::SegmentsOverlap { first: 0, second: 1, .. }));
}

#[test]
fn segments_sharing_a_page() {
    assert!(matches!(reject("shared-page.elf"), ElfError::SegmentsOverlap { .. }));
}

#[test]
fn segment_not_page_congruent() {
    assert!(matches!(reject("misaligned.elf"), ElfError::SegmentMisaligned { offset: 0, vaddr: 0x400010, .. }));
}

#[test]
fn segment_below_the_user_range() {
    let e = reject("below-min.elf");
    assert!(matches!(e, ElfError::SegmentOutOfRange { start: 0x10000, min: 0x400000, .. }), "{e}");
}

#[test]
fn segment_above_the_user_range() {
    assert!(matches!(reject("above-end.elf"), ElfError::SegmentOutOfRange { .. }));
}

#[test]
fn entry_in_a_non_executable_segment() {
    assert!(matches!(reject("entry-not-executable.elf"), ElfError::EntryNotExecutable { .. }));
}

#[test]
fn entry_outside_every_segment() {
    assert!(matches!(reject("entry-outside.elf"), ElfError::EntryNotExecutable { entry: 0x500000, .. }));
}

#[test]
fn truncated_header() {
    assert!(matches!(reject("truncated.elf"), ElfError::Malformed { .. }));
}

#[test]
fn fixtures_stay_small() {
    let dir = fixture("");
    for entry in std::fs::read_dir(&dir).expect("fixtures dir") {
        let entry = entry.expect("entry");
        let len = entry.metadata().expect("metadata").len();
        assert!(len < 16 * 1024, "{:?} is {len} bytes", entry.file_name());
    }
}

#[test]
fn missing_file_is_a_read_error() {
    let path = fixture("does-not-exist");
    let e = check_elf_file(&path).expect_err("missing");
    assert!(matches!(e, ImageError::ReadInput { .. }));
    assert!(e.to_string().contains("does-not-exist"));
}

/// Real toolchain output, when the toolchain is installed (skipped otherwise): gcc -static and
/// gcc -static-pie are accepted, plain gcc (dynamic) is refused.
#[test]
fn real_gcc_binaries_when_available() {
    let scratch = common::Scratch::new("gcc");
    let src = scratch.write("hello.c", b"#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n");
    let build = |flags: &[&str], out: &str| {
        let out = scratch.path(out);
        let ok = std::process::Command::new("gcc")
            .args(flags)
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(out)
    };
    let Some(static_exe) = build(&["-static", "-O2"], "hello-static") else {
        eprintln!("gcc -static unavailable; skipping");
        return;
    };
    assert_eq!(check_elf_file(&static_exe).expect("gcc -static").kind, ElfKind::Static);
    if let Some(pie) = build(&["-static-pie", "-O2"], "hello-static-pie") {
        assert_eq!(check_elf_file(&pie).expect("gcc -static-pie").kind, ElfKind::StaticPie);
    }
    if let Some(dynamic) = build(&["-O2"], "hello-dynamic") {
        assert!(matches!(check_elf_file(&dynamic), Err(ImageError::Elf(ElfError::Dynamic { .. }))));
    }
}
