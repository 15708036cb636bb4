//! Shared code of the boot tests (`boot.rs`, which runs the apps under `uvm`) and the native
//! reference run (`native.rs`, which runs the same cases directly on the host).
//!
//! - [`apps`]: builds the test apps in `tests/apps/` (once per test process).
//! - [`manifest`]: a tiny reader for the TOML subset our manifests use.
//! - [`cases`]: every scenario and its expected stdout, stderr and exit status.
//! - [`compat`]: the compatibility suite (`compat.rs`): busybox, C and Rust programs with
//!   their expected output, packaged from `tests/compat/`.
//! - [`guest_etc`]: the `/etc` network files `uvm build` adds to every image.
//! - [`net`]: the network tests' servers in the background, free ports, an HTTP client.
//! - [`stage`]: lays out a work directory: manifest + built binary + packaged files.
//! - [`process`]: runs a command with stdin, captured output and a timeout.
//! - [`vm`]: runs a case under `uvm build` / `uvm run` and checks it.
//!
//! Std only, on purpose: the harness must not need new dependencies.
#![allow(dead_code)]

pub mod apps;
pub mod cases;
pub mod compat;
pub mod guest_etc;
pub mod manifest;
pub mod net;
pub mod process;
pub mod stage;
pub mod vm;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The top-level `tests/` folder: apps, manifests and packaged files.
pub fn tests_dir() -> PathBuf {
    repo_root().join("tests")
}

/// Scratch space for built apps and work directories (kept after the run for inspection).
pub fn tmp_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("uvm-boot")
}

/// Which test suite a case belongs to: where its apps, manifests and data live, and where its
/// builds and work directories go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Suite {
    /// The boot tests (`boot.rs`): `tests/{apps,manifests,data}`.
    Boot,
    /// The compatibility suite (`compat.rs`): `tests/compat/{apps,manifests,data}`.
    Compat,
}

impl Suite {
    /// The folder holding the suite's `apps/`, `manifests/` and `data/`.
    pub fn dir(self) -> PathBuf {
        match self {
            Suite::Boot => tests_dir(),
            Suite::Compat => tests_dir().join("compat"),
        }
    }

    /// The suite's scratch space (built apps, work directories).
    pub fn tmp(self) -> PathBuf {
        match self {
            Suite::Boot => tmp_root(),
            Suite::Compat => tmp_root().join("compat"),
        }
    }
}

/// Whether we run under CI (`CI=true`): missing prerequisites then fail instead of skipping.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// A prerequisite is missing: under CI this fails the test, otherwise it prints a note and
/// the caller returns early (the test counts as passed: cargo has no "skipped" state).
pub fn skip(test: &str, reason: &str) {
    if ci() {
        panic!("{test}: {reason}\n(CI=true, so a missing prerequisite is a failure, not a skip)");
    }
    eprintln!("note: skipping {test}: {reason} (set CI=true to make this a failure)");
}

/// Whether `/dev/kvm` exists and can be opened for reading and writing.
pub fn kvm() -> Result<(), String> {
    let path = Path::new("/dev/kvm");
    if !path.exists() {
        return Err("/dev/kvm is missing (no KVM on this machine)".into());
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map(drop)
        .map_err(|e| format!("/dev/kvm cannot be opened read-write: {e}"))
}

/// Whether `name` is an executable file in `$PATH` (or, with a `/`, at that path).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// FNV-1a (32-bit), the checksum the C apps print.
pub fn fnv1a(data: &[u8]) -> u32 {
    data.iter().fold(2_166_136_261u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(16_777_619))
}

/// `len` deterministic, non-text bytes (every value 0..=250 occurs), for stdin tests.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 251) % 251) as u8).collect()
}
