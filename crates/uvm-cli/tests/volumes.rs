//! Volumes (`uvm run -v HOST:GUEST[:ro]`): a host directory mounted in the VM.
//!
//! `tests/apps/volume.c` works on files in the mounted directory; its output in the VM must
//! equal its output run natively on a plain directory, and what it left must be on the host
//! afterwards (written data survives the VM). Also: a read-only volume refuses every change
//! with EROFS and is not changed; symlinks in a volume resolve in the VM's tree, never the
//! host's (`..` and absolute targets cannot leave it); bad `-v` values are errors that name
//! the value (exit 125) before anything boots. Also the other mounts a run asks for: tmpfs
//! mounts (`--tmpfs`) and the root kept read-only (`--read-only`).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::apps::{self, Toolchain};
use support::cases::{contains, Case};
use support::process::{self as proc, show};
use support::vm::{self, expect_code, uvm};
use support::Suite;

/// A fresh host directory for `test` holding what volume.c expects: `seed.txt` and `sub/`.
fn seeded_dir(test: &str, tag: &str) -> PathBuf {
    let dir = support::tmp_root().join("volumes").join(format!("{test}-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).expect("make the volume directory");
    std::fs::write(dir.join("seed.txt"), "from the host\n").expect("write seed.txt");
    dir
}

/// The image of `manifest` of `suite` with `app` built by `tc` (`None`: no KVM here).
fn image_of(test: &str, suite: Suite, manifest: &'static str, tc: Toolchain, app: &'static str) -> Option<PathBuf> {
    if !vm::require_kvm(test) {
        return None;
    }
    let case = Case { suite, manifest, toolchain: tc, app, runs: Vec::new() };
    let staged = vm::stage_case(test, &case)?;
    Some(vm::build(test, &staged))
}

fn volume_arg(dir: &Path, guest: &str, suffix: &str) -> String {
    format!("{}:{guest}{suffix}", dir.display())
}

/// Runs the app in a VM with `dir` mounted at /data (`suffix` ":ro" or ""), with `mode`.
fn run_in_vm(test: &str, tc: Toolchain, dir: &Path, suffix: &str, mode: &str) -> Option<proc::Output> {
    let image = vm::app_image(test, "volume", tc)?;
    let volume = volume_arg(dir, "/data", suffix);
    let args = ["run", image.to_str()?, "-v", &volume, "--", "/data", mode];
    Some(expect_code(test, uvm(args), 0))
}

fn volume_rw(tc: Toolchain, test: &str) {
    let in_vm = seeded_dir(test, "vm");
    let Some(out) = run_in_vm(test, tc, &in_vm, "", "rw") else { return };
    let native_dir = seeded_dir(test, "native");
    let binary = apps::app(tc, "volume").unwrap_or_else(|e| panic!("{test}: build volume.c: {e:?}"));
    let mut native = Command::new(binary);
    native.args([native_dir.to_str().expect("utf-8 path"), "rw"]);
    let native = proc::run(native, None);
    assert!(native.status.success(), "{test}: native run failed: {}", show(&native.stderr));
    assert_eq!(show(&out.stdout), show(&native.stdout), "{test}: the VM's output differs from the native run's");
    assert!(contains(&out.stdout, b"at the end: out.txt seed.txt shared.bin sub\n"), "{test}: {}", show(&out.stdout));
    // Small reads served from a window read ahead saw the app's own changes at once.
    let seen = b"read ahead: a write through another descriptor seen: 1\nread ahead: after a truncation to 110 bytes, a read at 108 gets 2\n";
    assert!(contains(&out.stdout, seen), "{test}: {}", show(&out.stdout));
    // What the app wrote is on the host, with the mode it asked for; what it removed is gone.
    let written = std::fs::read(in_vm.join("out.txt")).expect("out.txt on the host");
    assert_eq!(written, b"written inside\n", "{test}");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(in_vm.join("out.txt")).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o640, "{test}: out.txt's mode");
    let mut names: Vec<_> =
        std::fs::read_dir(&in_vm).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["out.txt", "seed.txt", "shared.bin", "sub"], "{test}: the host directory after the run");
    // What the app and its child wrote through a shared mapping reached the host file.
    let shared = std::fs::read(in_vm.join("shared.bin")).expect("shared.bin on the host");
    assert_eq!(shared.len(), 8192, "{test}");
    assert_eq!(&shared[100..115], b"via the mapping", "{test}");
    assert_eq!(&shared[200..209], b"the child", "{test}");
    assert_eq!(&shared[5000..5009], b"via write", "{test}");
}

fn volume_read_only(tc: Toolchain, test: &str) {
    let dir = seeded_dir(test, "ro");
    let Some(out) = run_in_vm(test, tc, &dir, ":ro", "ro") else { return };
    let expected = "seed.txt: from the host\n\
                    open for writing: EROFS\n\
                    create: EROFS\n\
                    mkdir: EROFS, rmdir: EROFS, unlink: EROFS\n\
                    rename: EROFS, symlink: EROFS, link: EROFS\n\
                    chmod: EROFS, truncate: EROFS, utimensat: EROFS\n\
                    access W_OK: EROFS, R_OK: ok\n\
                    statfs ST_RDONLY: 1\n\
                    listing: seed.txt sub\n";
    assert_eq!(show(&out.stdout), show(expected.as_bytes()), "{test}");
    assert_eq!(std::fs::read(dir.join("seed.txt")).unwrap(), b"from the host\n", "{test}: seed.txt changed");
}

fn volume_escape(tc: Toolchain, test: &str) {
    let dir = seeded_dir(test, "escape");
    let outside = dir.parent().expect("a parent").join(format!("{test}-outside.txt"));
    std::fs::write(&outside, "the host's secret\n").unwrap();
    std::os::unix::fs::symlink(format!("../{test}-outside.txt"), dir.join("up")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("abs")).unwrap();
    let Some(out) = run_in_vm(test, tc, &dir, "", "escape") else { return };
    let expected = format!(
        "readlink up: ../{test}-outside.txt\n\
         open up (../outside.txt): ENOENT\n\
         open abs (the host's absolute path): ENOENT\n\
         open DIR/../outside.txt: ENOENT\n\
         DIR/.. is the VM's /: 1\n"
    );
    assert_eq!(show(&out.stdout), show(expected.as_bytes()), "{test}");
    assert!(!contains(&out.stdout, b"secret"), "{test}");
}

#[test]
fn glibc_volume_rw() {
    volume_rw(Toolchain::Glibc, "glibc_volume_rw");
}

#[test]
fn musl_volume_rw() {
    volume_rw(Toolchain::Musl, "musl_volume_rw");
}

#[test]
fn glibc_volume_read_only() {
    volume_read_only(Toolchain::Glibc, "glibc_volume_read_only");
}

#[test]
fn musl_volume_escape() {
    volume_escape(Toolchain::Musl, "musl_volume_escape");
}

/// SQLite in WAL mode with its database in a volume: the `-shm` index is a MAP_SHARED mapping
/// of a volume's file (frames every connection shares, written back to the host), the
/// database and its log are the host's files; after the run the host has all 1000 rows.
#[test]
fn sqlite_wal_database_in_a_volume() {
    let test = "sqlite_wal_database_in_a_volume";
    let Some(image) = image_of(test, Suite::Compat, "sqlite_wal", Toolchain::Glibc, "sqlite_wal") else { return };
    let dir = seeded_dir(test, "db");
    let volume = volume_arg(&dir, "/data", "");
    let out = expect_code(test, uvm(["run", image.to_str().unwrap(), "-v", &volume, "--", "/data/test.db"]), 0);
    let expected = std::fs::read(Suite::Compat.dir().join("expected/sqlite_wal.out")).expect("the expected output");
    assert_eq!(show(&out.stdout), show(&expected), "{test}");
    let db = std::fs::read(dir.join("test.db")).expect("test.db on the host");
    assert!(db.starts_with(b"SQLite format 3\0"), "{test}: the host file is a database");
    assert!(db.len() >= 16 * 1024, "{test}: the checkpoint wrote the rows into the database: {} bytes", db.len());
}

/// tmpfs mounts: the image's `[vm] tmpfs = ["/run"]`, `--tmpfs /srv` (the image has neither
/// directory) and `--tmpfs /a/b` (nor `/a`: the VM makes it, as docker makes mount points),
/// beside a volume: each new, empty, writable, a tmpfs by statfs, listed in `/proc/mounts`;
/// a flag that repeats the image's mount, one with options and one whose parent the image
/// lacks when the root is read-only are errors naming the value.
#[test]
fn tmpfs_mounts_make_writable_directories() {
    let test = "tmpfs_mounts_make_writable_directories";
    let Some(image) = image_of(test, Suite::Boot, "volume_tmpfs", Toolchain::Musl, "volume") else { return };
    let image = image.to_str().unwrap();
    let dir = seeded_dir(test, "beside");
    let volume = volume_arg(&dir, "/data", "");
    let expected = "empty:\n\
                    write 5, pread 5: 1234\n\
                    mkdir: ok\n\
                    listing: cache pid\n\
                    a tmpfs: 1\n\
                    in /proc/mounts: 1\n";
    for at in ["/run", "/srv", "/a/b"] {
        let args = ["run", image, "-v", &volume, "--tmpfs", "/srv", "--tmpfs", "/a/b", "--", at, "tmpfs"];
        let out = expect_code(test, uvm(args), 0);
        assert_eq!(show(&out.stdout), show(expected.as_bytes()), "{test}: {at}");
    }
    for (flags, named) in [
        (&["--tmpfs", "/run"][..], &b"`--tmpfs /run` and another mount both mount at /run"[..]),
        (&["--tmpfs", "/srv:size=1m"], b"--tmpfs /srv:size=1m"),
        (
            &["--tmpfs", "/a/b", "--read-only"],
            b"tmpfs /a/b: /a is not a directory in the image, and the root is read-only",
        ),
    ] {
        let args = ["run", image].into_iter().chain(flags.iter().copied()).chain(["--", "/run", "tmpfs"]);
        let out = expect_code(test, uvm(args), 125);
        assert!(contains(&out.stderr, named), "{test}: {flags:?}: {}", show(&out.stderr));
    }
}

/// `volume.c` in `mode` on a fresh seeded directory mounted at /data, started in the
/// background: the directory, uvm, and the app's stdout lines, once it said "ready".
fn started(
    test: &str,
    tc: Toolchain,
    mode: &str,
) -> Option<(PathBuf, std::process::Child, std::io::Lines<std::io::BufReader<std::process::ChildStdout>>)> {
    use std::io::BufRead;
    let image = vm::app_image(test, "volume", tc)?;
    let dir = seeded_dir(test, mode);
    let volume = volume_arg(&dir, "/data", "");
    let mut child = uvm(["run", image.to_str().unwrap(), "-v", &volume, "--", "/data", mode])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start uvm");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"), "{test}");
    Some((dir, child, lines))
}

/// A host process's change in a volume shows in the VM: the app's repeated `stat` of a file
/// sees the host grow it within the volume's metadata timeout (1 s; the app allows 2).
#[test]
fn host_changes_show_within_the_metadata_timeout() {
    let test = "host_changes_show_within_the_metadata_timeout";
    let Some((dir, mut child, mut lines)) = started(test, Toolchain::Musl, "host-change") else { return };
    std::fs::write(dir.join("seed.txt"), "from the host, longer now\n").unwrap();
    let seen = lines.next().and_then(Result::ok);
    let status = child.wait().expect("wait for uvm");
    assert_eq!(seen.as_deref(), Some("the host's change seen within 2 s: 1"), "{test}");
    assert!(status.success(), "{test}: {status}");
}

/// A host process's append to a file the app has read to its end (from a window its kernel
/// read ahead) is read by the app's next reads at once: a read past the window asks the host.
#[test]
fn a_host_append_is_read_at_once() {
    let test = "a_host_append_is_read_at_once";
    let Some((dir, mut child, mut lines)) = started(test, Toolchain::Musl, "host-append") else { return };
    let mut seed = std::fs::OpenOptions::new().append(true).open(dir.join("seed.txt")).unwrap();
    std::io::Write::write_all(&mut seed, b"appended by the host\n").unwrap();
    let seen = lines.next().and_then(Result::ok);
    let status = child.wait().expect("wait for uvm");
    assert_eq!(seen.as_deref(), Some("the host's append read: appended by the host"), "{test}");
    assert!(status.success(), "{test}: {status}");
}

/// SIGTERM sent to uvm goes to the app, whose end (here by the signal's default action)
/// writes its shared mappings of a volume's files back: nothing it wrote through one is lost.
#[test]
fn shared_mappings_reach_the_host_when_sigterm_ends_the_app() {
    let test = "shared_mappings_reach_the_host_when_sigterm_ends_the_app";
    let Some((dir, child, _lines)) = started(test, Toolchain::Glibc, "mapped") else { return };
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(sent.expect("run kill").success(), "{test}: kill failed");
    let out = child.wait_with_output().expect("wait for uvm");
    assert_eq!(out.status.code(), Some(143), "{test}: stderr {}", show(&out.stderr));
    let kept = std::fs::read(dir.join("kept.bin")).expect("kept.bin");
    assert_eq!(kept.len(), 8192, "{test}");
    assert!(kept.starts_with(b"written through a shared mapping\n"), "{test}: first page lost");
    assert!(kept[4096..].starts_with(b"and its second page\n"), "{test}: second page lost");
}

#[test]
fn bad_volume_values_are_named_errors() {
    let test = "bad_volume_values_are_named_errors";
    let Some(image) = vm::app_image(test, "volume", Toolchain::Musl) else { return };
    let dir = seeded_dir(test, "bad");
    let file = dir.join("seed.txt");
    let cases: [(String, &str); 6] = [
        ("/no/such/host/dir:/data".to_string(), "/no/such/host/dir"),
        (volume_arg(&file, "/data", ""), "not a directory"),
        (volume_arg(&dir, "data", ""), "data"),
        (volume_arg(&dir, "/proc", ""), "/proc"),
        (volume_arg(&dir, "/data", ":rx"), "rx"),
        (volume_arg(&dir, "/bin/volume/here", ""), "/bin/volume is a file in the image"),
    ];
    for (value, named) in cases {
        let out = expect_code(test, uvm(["run", image.to_str().unwrap(), "-v", &value, "--", "/data", "rw"]), 125);
        assert!(contains(&out.stderr, named.as_bytes()), "{test}: -v {value}: stderr {}", show(&out.stderr));
        assert!(out.stdout.is_empty(), "{test}: -v {value}: the app ran: {}", show(&out.stdout));
    }
    // A mount point whose parents the image lacks: made in the VM, unless the root is read-only.
    let value = volume_arg(&dir, "/no/parent/here", "");
    let args = ["run", image.to_str().unwrap(), "--read-only", "-v", &value, "--", "/data", "rw"];
    let out = expect_code(test, uvm(args), 125);
    assert!(contains(&out.stderr, b"/no is not a directory in the image, and the root is read-only"), "{test}");
    let args = ["run", image.to_str().unwrap(), "-v", &value, "--", "/no/parent/here", "rw"];
    let out = expect_code(test, uvm(args), 0);
    assert!(contains(&out.stdout, b"seed.txt: 14 bytes"), "{test}: {}", show(&out.stdout));
}

/// `uvm run --read-only` (docker's flag) keeps the root the image itself, whatever the image
/// says: the `root_write` app, which changes the root by default (a boot case), finds it
/// read-only (not an overlay by statfs, `W_OK` and an open for writing `EROFS`).
#[test]
fn the_read_only_flag_keeps_the_root_the_image() {
    let test = "the_read_only_flag_keeps_the_root_the_image";
    let Some(image) = image_of(test, Suite::Boot, "root_write", Toolchain::Musl, "root_write") else { return };
    let out = expect_code(test, uvm(["run", image.to_str().unwrap(), "--read-only"]), 1);
    let expected = "root is an overlay: no\n\
                    access W_OK /etc/app.conf: EROFS\n\
                    open for appending: FAILED EROFS\n";
    assert_eq!(show(&out.stdout), show(expected.as_bytes()), "{test}");
}

/// `uvm run -w DIR` (docker's flag) sets the app's working directory; one the image lacks is
/// made in the VM, unless the root is read-only (then a named error before anything boots).
#[test]
fn the_workdir_flag_makes_a_missing_directory() {
    let test = "the_workdir_flag_makes_a_missing_directory";
    let Some(image) = image_of(test, Suite::Boot, "args_env", Toolchain::Musl, "args_env") else { return };
    let image = image.to_str().unwrap();
    for (dir, cwd) in [("/srv/app/", "/srv/app"), ("/tmp", "/tmp"), ("/", "/")] {
        let out = expect_code(test, uvm(["run", image, "-w", dir]), 0);
        assert!(contains(&out.stdout, format!("cwd={cwd}\n").as_bytes()), "{test}: -w {dir}: {}", show(&out.stdout));
    }
    for (flags, named) in [
        (
            &["-w", "/srv/app", "--read-only"][..],
            &b"working directory /srv/app: /srv is not a directory in the image"[..],
        ),
        (&["-w", "srv"], b"`--workdir` must be an absolute path"),
        (&["--workdir", "/bin/args_env/x"], b"/bin/args_env is a file in the image"),
    ] {
        let out = expect_code(test, uvm(["run", image].into_iter().chain(flags.iter().copied())), 125);
        assert!(contains(&out.stderr, named), "{test}: {flags:?}: {}", show(&out.stderr));
    }
}
