//! Builds the guest kernel (the separate cargo workspace in guest/) and turns its ELF into the
//! flat binary embedded in `uvm` (src/lib.rs), so that `cargo build` alone makes a
//! self-contained `uvm`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the kernel is loaded (uvm-abi's `layout::KERNEL_BASE`; checked against the ELF).
const KERNEL_BASE: u64 = 0x20_0000;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..").canonicalize().expect("the repository root exists");
    let guest = root.join("guest");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for path in
        ["guest/Cargo.toml", "guest/Cargo.lock", "guest/kernel", "crates/uvm-abi/src", "crates/uvm-abi/Cargo.toml"]
    {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }

    // A probe layout of scripts/kernel-hot-text.py (guest/kernel/build.rs reads it too).
    println!("cargo:rerun-if-env-changed=UVM_KERNEL_LINK_SCRIPT");
    let target_dir = out_dir.join("guest-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "--offline", "--manifest-path"])
        .arg(guest.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The guest is built for the host target with its own flags: drop everything the outer
    // build set that would leak into it.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME"
            || key == "RUSTFLAGS"
            || key.ends_with("MAKEFLAGS")
            || key == "MFLAGS"
        {
            build.env_remove(key);
        }
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the guest kernel (guest/) failed; see the errors above");

    let elf_path = target_dir.join("release/uvm-kernel");
    let flat = flatten(&elf_path);
    std::fs::write(out_dir.join("uvm-kernel.bin"), flat).expect("OUT_DIR is writable");
}

/// Lays the ELF's PT_LOAD segments out as they sit in memory from KERNEL_BASE, up to the end
/// of the last segment's file bytes (the zero-initialised rest is the VMM's fresh RAM).
fn flatten(elf_path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(elf_path).expect("the guest kernel was built");
    let elf = goblin::elf::Elf::parse(&bytes).expect("the guest kernel is an ELF");
    let mut flat = Vec::new();
    for ph in elf.program_headers.iter().filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD) {
        assert!(ph.p_vaddr >= KERNEL_BASE, "kernel segment at {:#x} is below KERNEL_BASE", ph.p_vaddr);
        let at = (ph.p_vaddr - KERNEL_BASE) as usize;
        let file = &bytes[ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize];
        if flat.len() < at + file.len() {
            flat.resize(at + file.len(), 0);
        }
        flat[at..at + file.len()].copy_from_slice(file);
    }
    assert!(flat.starts_with(b"UVMKERN\0"), "the kernel header is not first in the guest kernel");
    flat
}
