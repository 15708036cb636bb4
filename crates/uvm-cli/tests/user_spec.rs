//! `[app] user` and `uvm run -u/--user` from the host's side, booting no VM: `uvm build`
//! refuses a bad spec naming the manifest, the key and the value; the image stores the spec
//! and `uvm inspect` shows it with the ids it resolves to; `uvm run` refuses a bad `--user`
//! before anything else, and a user or group the image's /etc/passwd or /etc/group lacks
//! before the VM boots, saying where the spec came from and how to fix it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh work directory for `test`, with the test ELF as `app` and an `etc` directory
/// holding a passwd and a group file.
fn work_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uvm-user-spec-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    let elf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../uvm-image/tests/fixtures/static.elf");
    std::fs::copy(elf, dir.join("app")).unwrap();
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n").unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nwww:x:33:\nstaff:x:50:www\nadm:x:4:www,root\n").unwrap();
    dir
}

/// Writes `dir/app.toml` with `[app] user = user` (none when `None`).
fn manifest(dir: &Path, user: Option<&str>) -> PathBuf {
    let user = user.map_or(String::new(), |u| format!("user = {u:?}\n"));
    let text = format!("[app]\nname = \"app\"\nbinary = \"app\"\n{user}\n[[files]]\nsrc = \"etc\"\ndst = \"/etc\"\n");
    let path = dir.join("app.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn uvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_uvm")).args(args).output().expect("run uvm")
}

/// Runs uvm, expects exit status `code`, and returns its stdout and stderr as text.
fn expect(args: &[&str], code: i32) -> (String, String) {
    let out = uvm(args);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "uvm {args:?}\nstdout: {stdout}\nstderr: {stderr}");
    (stdout.into_owned(), stderr.into_owned())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_bad_user_key_stops_the_build() {
    let dir = work_dir("bad_key");
    let manifest = manifest(&dir, Some("www:"));
    let (_, stderr) = expect(&["build", path(&manifest)], 125);
    let expected =
        format!("{}: [app] `user` is \"www:\", which is not a user spec: the group is empty", manifest.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("e.g. \"1000\", \"1000:1000\", \"www\" or \"www:www\""), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_image_stores_the_user_and_inspect_resolves_it() {
    let dir = work_dir("inspect");
    let manifest = manifest(&dir, Some("www"));
    expect(&["build", path(&manifest)], 0);
    let image = dir.join("app.uvm");
    let (stdout, _) = expect(&["inspect", path(&image)], 0);
    assert!(stdout.contains("  user = \"www\"\n"), "stored in the run configuration: {stdout}");
    assert!(stdout.contains("user:         www (uid 33, gid 33, groups 50, 4;"), "{stdout}");

    let manifest = self::manifest(&dir, None);
    expect(&["build", path(&manifest)], 0);
    let (stdout, _) = expect(&["inspect", path(&image)], 0);
    assert!(!stdout.contains("user =") && !stdout.contains("\nuser:"), "root is not shown: {stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn run_refuses_a_bad_or_unknown_user_before_booting() {
    let dir = work_dir("run");
    let manifest = manifest(&dir, Some("ghost"));
    expect(&["build", path(&manifest)], 0);
    let image = dir.join("app.uvm");
    let image = path(&image);

    // The flag's syntax first: the image need not exist.
    let (_, stderr) = expect(&["run", "-u", "a b", "/nonexistent.uvm"], 125);
    assert!(stderr.contains("`--user` is \"a b\", which is not a user spec"), "{stderr}");

    let (_, stderr) = expect(&["run", image], 125);
    assert!(
        stderr.contains(
            "the image's user \"ghost\" ([app] user): user `ghost` is not in the image's /etc/passwd; write numeric ids"
        ),
        "{stderr}"
    );
    let (_, stderr) = expect(&["run", "--user", "www:nogroup", image], 125);
    assert!(
        stderr.contains(
            "`--user www:nogroup`: group `nogroup` is not in the image's /etc/group; use numeric ids such as --user 1000:1000"
        ),
        "--user overrides the image's: {stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
