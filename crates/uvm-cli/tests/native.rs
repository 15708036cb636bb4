//! The native reference run: every case of the boot tests, run directly on the host instead
//! of under uvm, in an environment that mimics the guest:
//!
//! - a private mount namespace and a chroot holding only the manifest's `[[files]]` (at their
//!   `dst`), every mtime 0 as in an image: bind-mounted read-only for a manifest with
//!   `[vm] read_only = true`, else writable as an overlay over them whose changes vanish with
//!   the run (a container's root, uvm's writable root); plus a tmpfs on /tmp and one on /dev/shm, the usual /dev nodes (null, zero, full, random, urandom,
//!   stdin/stdout/stderr/fd links) and /proc;
//! - argv[0] = the binary's file name, args and env exactly the manifest's (plus the run's
//!   `-- ARGS` / `-e` overrides), cwd = the manifest's workdir or "/".
//!
//! It proves the expectations in `support/cases.rs` (the boot tests) and `support/compat.rs`
//! (the compatibility suite, the `native_compat_*` tests) are what real Linux does, so a VM test
//! failure points at uvm, not at the test. Needs root (for the namespace, chroot and mounts);
//! without it the tests print a note and pass. Runs marked `vm_only` are skipped.
//!
//! `cargo test -p uvm-cli --test native -- --nocapture`

mod support;

use std::ffi::{c_char, c_int, c_ulong, c_void, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::apps::Toolchain;
use support::cases::{self, Case, Run, Status};
use support::compat;
use support::guest_etc;
use support::process::{self as proc, show, Output};
use support::stage::{self, copy_executable, copy_tree, Staged};
use support::vm::{judge_elapsed, judge_stream};

extern "C" {
    fn unshare(flags: c_int) -> c_int;
    fn mount(
        src: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: c_ulong,
        data: *const c_void,
    ) -> c_int;
    fn chroot(path: *const c_char) -> c_int;
    fn mkdir(path: *const c_char, mode: u32) -> c_int;
    fn chdir(path: *const c_char) -> c_int;
    fn geteuid() -> u32;
    fn utimensat(dirfd: c_int, path: *const c_char, times: *const [i64; 4], flags: c_int) -> c_int;
}

const AT_FDCWD: c_int = -100;
const AT_SYMLINK_NOFOLLOW: c_int = 0x100;

const CLONE_NEWNS: c_int = 0x0002_0000;
/// A UTS namespace of its own: a case that sets the host name changes the sandbox's only.
const CLONE_NEWUTS: c_int = 0x0400_0000;
const MS_RDONLY: c_ulong = 1;
const MS_REMOUNT: c_ulong = 32;
const MS_BIND: c_ulong = 4096;
const MS_REC: c_ulong = 16384;
const MS_PRIVATE: c_ulong = 1 << 18;

#[test]
fn native_glibc() {
    check_all("native_glibc", Toolchain::Glibc);
}

#[test]
fn native_musl() {
    check_all("native_musl", Toolchain::Musl);
}

#[test]
fn native_rust() {
    check_all("native_rust", Toolchain::Rust);
}

#[test]
fn native_busybox() {
    check_all("native_busybox", Toolchain::Busybox);
}

#[test]
fn native_compat_glibc() {
    check_compat("native_compat_glibc", Toolchain::Glibc);
}

#[test]
fn native_compat_musl() {
    check_compat("native_compat_musl", Toolchain::Musl);
}

#[test]
fn native_compat_rust() {
    check_compat("native_compat_rust", Toolchain::Rust);
}

#[test]
fn native_compat_go() {
    check_compat("native_compat_go", Toolchain::Go);
}

#[test]
fn native_compat_busybox() {
    check_compat("native_compat_busybox", Toolchain::Busybox);
}

#[test]
fn native_compat_bash() {
    check_compat("native_compat_bash", Toolchain::Bash);
}

/// The boot tests' cases built with `toolchain`.
fn check_all(test: &str, toolchain: Toolchain) {
    check_cases(test, cases::all().into_iter().filter(|c| c.toolchain == toolchain).collect());
}

/// The compatibility suite's cases built with `toolchain`.
fn check_compat(test: &str, toolchain: Toolchain) {
    check_cases(test, compat::all().into_iter().filter(|(_, c)| c.toolchain == toolchain).map(|(_, c)| c).collect());
}

/// The native run is a developer tool: without root it only notes the skip, even under CI.
fn check_cases(test: &str, cases: Vec<Case>) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { geteuid() } != 0 {
        eprintln!("note: skipping {test}: the native reference run needs root (mount namespace, chroot)");
        return;
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases {
        let (suite, toolchain) = (case.suite, case.toolchain);
        let dir = suite.tmp().join("native").join(format!("{toolchain}-{}-{}", case.manifest, case.app));
        let staged = match stage::stage_in(suite, &dir.join("work"), case.manifest, toolchain, case.app) {
            Ok(staged) => staged,
            Err(why) => {
                eprintln!("note: skipping {test}: {why}");
                return;
            }
        };
        let root = make_root(&dir.join("root"), &staged);
        for run in case.runs.iter().filter(|r| !r.vm_only) {
            let start = Instant::now();
            let out = match run_native(&root, &staged, run) {
                Ok(out) => out,
                Err(e) if e.raw_os_error() == Some(1) || e.kind() == io::ErrorKind::PermissionDenied => {
                    eprintln!("note: skipping {test}: cannot set up the sandbox ({e}); needs CAP_SYS_ADMIN");
                    return;
                }
                Err(e) => panic!("{test}: cannot run {} natively: {e}", staged.binary.display()),
            };
            checked += 1;
            let mut problems = judge_native(run, &out);
            problems.extend(judge_elapsed(run, start.elapsed()));
            if !problems.is_empty() {
                failures.push(format!(
                    "{} [{}] ({}): {}\n--- status: {}\n--- stdout: {}\n--- stderr: {}",
                    case.manifest,
                    run.label,
                    case.app,
                    problems.join("\n"),
                    out.status,
                    show(&out.stdout),
                    show(&out.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{test}: native runs differ from the expectations:\n\n{}", failures.join("\n\n"));
    eprintln!("{test}: {checked} native runs match the expectations");
}

/// The device nodes bind-mounted from the host into the sandbox's /dev.
const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

/// `<dir>` = the guest's file tree: each `[[files]]` src at its dst, an empty /tmp (and /dev/shm), and the
/// binary at /bin/<name> (where uvm puts it, see uvm-manifest's `BINARY_GUEST_DIR`); every
/// mtime 0 and every directory 0755, as in an image. Also the mount points of /dev's
/// nodes and /proc, and /dev's links.
fn make_root(dir: &Path, staged: &Staged) -> PathBuf {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap_or_else(|e| panic!("rm -r {}: {e}", dir.display()));
    }
    std::fs::create_dir_all(dir).expect("mkdir root");
    for (src, dst) in &staged.manifest.files {
        let to = dir.join(dst.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().expect("dst has a parent")).expect("mkdir dst parent");
        copy_tree(&staged.dir.join(src), &to).unwrap_or_else(|e| panic!("copy {src} to {}: {e}", to.display()));
    }
    std::fs::create_dir_all(dir.join("tmp")).expect("mkdir tmp");
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir bin");
    copy_executable(&staged.binary, &dir.join("bin").join(staged.manifest.argv0())).expect("copy the binary");
    let dev = dir.join("dev");
    std::fs::create_dir_all(&dev).expect("mkdir dev");
    for name in DEVICES {
        std::fs::write(dev.join(name), b"").expect("create a device mount point");
    }
    std::fs::create_dir_all(dev.join("shm")).expect("mkdir dev/shm");
    for (name, target) in [
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("fd", "/proc/self/fd"),
    ] {
        std::os::unix::fs::symlink(target, dev.join(name)).expect("create a /dev link");
    }
    std::fs::create_dir_all(dir.join("proc")).expect("mkdir proc");
    add_guest_etc(dir);
    image_like(dir);
    dir.to_path_buf()
}

/// Writes the `/etc` files `uvm build` adds, where the packaged files leave room for them, as
/// the build does: not over a packaged file or directory, nor through a non-directory `/etc`.
fn add_guest_etc(root: &Path) {
    let etc = root.join("etc");
    if std::fs::symlink_metadata(&etc).is_ok_and(|m| !m.is_dir()) {
        return;
    }
    std::fs::create_dir_all(&etc).expect("mkdir etc");
    for (path, content) in guest_etc::FILES {
        let to = root.join(path.trim_start_matches('/'));
        if std::fs::symlink_metadata(&to).is_err() {
            std::fs::write(&to, content).unwrap_or_else(|e| panic!("write {}: {e}", to.display()));
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).expect("chmod 0644");
        }
    }
}

/// Sets every mtime under `path` to 0 (children first: adding them changed their directory's)
/// and every directory's mode to 0755 (copy_tree gives copied ones that mode already).
fn image_like(path: &Path) {
    let meta = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).expect("read_dir") {
            image_like(&entry.expect("dir entry").path());
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod 0755");
    }
    let times = [0i64; 4]; // atime and mtime: 0 s, 0 ns
    let c = cstring(path);
    // SAFETY: `c` is NUL-terminated and `times` is two timespecs, both live for the call.
    check(unsafe { utimensat(AT_FDCWD, c.as_ptr(), &times, AT_SYMLINK_NOFOLLOW) })
        .unwrap_or_else(|e| panic!("utimensat {}: {e}", path.display()));
}

fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in path")
}

fn check(ret: c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Runs the binary in the sandbox at `root` the way `uvm run` would run it in the guest.
fn run_native(root: &Path, staged: &Staged, run: &Run) -> io::Result<Output> {
    let m = &staged.manifest;
    let mut cmd = Command::new(Path::new("/bin").join(m.argv0()));
    cmd.arg0(m.argv0());
    cmd.args(run.args.as_ref().unwrap_or(&m.args));
    cmd.env_clear();
    let mut env = m.env.clone();
    for (key, value) in &run.env {
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    cmd.envs(env);
    // (run.host_env is deliberately not passed: env_clear is what uvm must do too.)

    let root_c = cstring(root);
    let tmp_c = cstring(&root.join("tmp"));
    let shm_c = cstring(&root.join("dev/shm"));
    let proc_c = cstring(&root.join("proc"));
    let devices: Vec<(CString, CString)> = DEVICES
        .iter()
        .map(|name| (cstring(&Path::new("/dev").join(name)), cstring(&root.join("dev").join(name))))
        .collect();
    let cwd_c = CString::new(m.workdir.as_deref().unwrap_or("/")).expect("workdir");
    let (none, tmpfs, slash, proc) = (c"none", c"tmpfs", c"/", c"proc");
    let tmpfs_opts = c"size=64m,mode=1777";
    let read_only = m.read_only;
    // The writable root's layers: the staged tree below, a tmpfs (mounted on the tree's /tmp
    // until the overlay hides it) above.
    let (upper, work) = (root.join("tmp/upper"), root.join("tmp/work"));
    let overlay_opts =
        CString::new(format!("lowerdir={},upperdir={},workdir={}", root.display(), upper.display(), work.display()))
            .expect("no NUL in paths");
    let (upper_c, work_c, overlay) = (cstring(&upper), cstring(&work), c"overlay");
    let sandbox = move || -> io::Result<()> {
        // SAFETY: plain syscalls on NUL-terminated strings that live as long as this closure;
        // they only touch this (forked, single-threaded) child's namespace and root.
        unsafe {
            check(unshare(CLONE_NEWNS | CLONE_NEWUTS))?;
            check(mount(none.as_ptr(), slash.as_ptr(), std::ptr::null(), MS_REC | MS_PRIVATE, std::ptr::null()))?;
            check(mount(root_c.as_ptr(), root_c.as_ptr(), std::ptr::null(), MS_BIND | MS_REC, std::ptr::null()))?;
            if read_only {
                check(mount(
                    std::ptr::null(),
                    root_c.as_ptr(),
                    std::ptr::null(),
                    MS_REMOUNT | MS_BIND | MS_RDONLY,
                    std::ptr::null(),
                ))?;
            } else {
                check(mount(tmpfs.as_ptr(), tmp_c.as_ptr(), tmpfs.as_ptr(), 0, tmpfs_opts.as_ptr().cast()))?;
                check(mkdir(upper_c.as_ptr(), 0o755))?;
                check(mkdir(work_c.as_ptr(), 0o755))?;
                check(mount(overlay.as_ptr(), root_c.as_ptr(), overlay.as_ptr(), 0, overlay_opts.as_ptr().cast()))?;
            }
            check(mount(tmpfs.as_ptr(), tmp_c.as_ptr(), tmpfs.as_ptr(), 0, tmpfs_opts.as_ptr().cast()))?;
            check(mount(tmpfs.as_ptr(), shm_c.as_ptr(), tmpfs.as_ptr(), 0, tmpfs_opts.as_ptr().cast()))?;
            for (host, inside) in &devices {
                check(mount(host.as_ptr(), inside.as_ptr(), std::ptr::null(), MS_BIND, std::ptr::null()))?;
            }
            check(mount(proc.as_ptr(), proc_c.as_ptr(), proc.as_ptr(), 0, std::ptr::null()))?;
            check(chroot(root_c.as_ptr()))?;
            check(chdir(cwd_c.as_ptr()))?;
        }
        Ok(())
    };
    // SAFETY: the closure only makes async-signal-safe syscalls (no allocation, no locks), as
    // required between fork and exec.
    unsafe { cmd.pre_exec(sandbox) };
    proc::try_run(cmd, run.stdin.as_deref())
}

/// What is wrong with a native run's output: as in the VM, except that a fault shows as the
/// process being killed by the signal, and stderr is then the app's alone.
fn judge_native(run: &Run, out: &Output) -> Vec<String> {
    let mut problems = Vec::new();
    match run.status {
        Status::Code(want) if out.status.code() != Some(want) => {
            problems.push(format!("expected exit status {want}, got {}", out.status));
        }
        Status::Signal(signo, name) if out.status.signal() != Some(signo) => {
            problems.push(format!("expected to be killed by {name}, got {}", out.status));
        }
        Status::Fails if out.status.success() => problems.push("expected a failure".into()),
        _ => {}
    }
    problems.extend(judge_stream("stdout", &run.stdout, &out.stdout));
    problems.extend(judge_stream("stderr", &run.stderr, &out.stderr));
    problems
}
