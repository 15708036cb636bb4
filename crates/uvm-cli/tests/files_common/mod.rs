//! What the `[[files]]` attribute tests (`files_owner.rs`, `files_mode.rs`) share: a manifest
//! of the test ELF with `[[files]]` entries, and running `uvm` with an expected status. They
//! build images only, booting no VM.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One `[[files]]` entry: src, dst, and the `owner` and `mode` keys when given.
pub struct Entry<'a>(pub &'a str, pub &'a str, pub Option<&'a str>, pub Option<&'a str>);

/// Writes `dir/app.toml`: the app `app` (in `dir`) with the `[[files]]` entries `files`.
pub fn manifest(dir: &Path, files: &[Entry]) -> PathBuf {
    let mut text = String::from("[app]\nname = \"app\"\nbinary = \"app\"\n");
    for Entry(src, dst, owner, mode) in files {
        text.push_str(&format!("\n[[files]]\nsrc = {src:?}\ndst = {dst:?}\n"));
        if let Some(owner) = owner {
            text.push_str(&format!("owner = {owner:?}\n"));
        }
        if let Some(mode) = mode {
            text.push_str(&format!("mode = {mode:?}\n"));
        }
    }
    let path = dir.join("app.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs uvm, expects exit status `code`, and returns its stdout and stderr as text.
pub fn expect(args: &[&str], code: i32) -> (String, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_uvm")).args(args).output().expect("run uvm");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "uvm {args:?}\nstdout: {stdout}\nstderr: {stderr}");
    (stdout.into_owned(), stderr.into_owned())
}

/// `p` as text (the tests' paths are UTF-8).
pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The test ELF the images package as their app.
pub fn test_elf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../uvm-image/tests/fixtures/static.elf")
}
