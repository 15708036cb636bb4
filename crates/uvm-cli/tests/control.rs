//! Control from the host: `--timeout` stops a runaway guest (124); SIGINT, SIGTERM and the
//! other signals uvm passes on reach the app (its handler runs, or its default action ends
//! it: 130, 143), and a second one or `--stop-timeout` stops an app that ignores them; a
//! container init processes (tini, catatonit) pass uvm's SIGTERM on to their child; a
//! sleeping guest really waits (nanosleep parks the vCPU), and uvm copes with closed standard
//! descriptors and broken pipes. Also here: a running VM maps its
//! kernel's cold text from the `uvm` binary (shared between VMs), as seen from the host.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::apps::Toolchain::{self, Glibc, Musl};
use support::cases::contains;
use support::process::show;
use support::vm::{self, expect_code, uvm};

fn staged_image(test: &str) -> Option<std::path::PathBuf> {
    vm::app_image(test, "sleep_spin", Glibc)
}

#[test]
fn sleeping_guest_waits_the_full_time() {
    let test = "sleeping_guest_waits_the_full_time";
    let Some(image) = staged_image(test) else { return };
    let started = Instant::now();
    let out =
        expect_code(test, uvm(["run".as_ref(), image.as_os_str(), "--".as_ref(), "sleep".as_ref(), "300".as_ref()]), 0);
    assert_eq!(show(&out.stdout), show(b"slept at least 300 ms\n"), "{test}");
    assert!(started.elapsed() >= Duration::from_millis(300), "{test}: uvm returned before the guest's sleep ended");
}

#[test]
fn timeout_stops_a_runaway_guest_with_124() {
    let test = "timeout_stops_a_runaway_guest_with_124";
    let Some(image) = staged_image(test) else { return };
    let started = Instant::now();
    let args =
        ["run".as_ref(), image.as_os_str(), "--timeout".as_ref(), "400ms".as_ref(), "--".as_ref(), "spin".as_ref()];
    let out = expect_code(test, uvm(args), 124);
    assert!(started.elapsed() < Duration::from_secs(10), "{test}: took {:?}", started.elapsed());
    assert!(contains(&out.stdout, b"spinning"), "{test}: the app ran first; stdout {}", show(&out.stdout));
    assert!(contains(&out.stderr, b"--timeout"), "{test}: stderr {}", show(&out.stderr));
}

/// Starts the guest with `app_args`, sends uvm `signal` after half a second, and expects it to
/// stop promptly with `code` and a line naming the signal.
fn stop_with_signal(test: &str, signal: &str, code: i32, app_args: &[&str]) {
    let Some(image) = staged_image(test) else { return };
    let mut cmd = uvm(["run".as_ref(), image.as_os_str(), "--".as_ref()]);
    cmd.args(app_args);
    let child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn uvm");
    std::thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill").args([format!("-{signal}"), child.id().to_string()]).status().expect("run kill");
    assert!(status.success(), "{test}: kill failed");
    let started = Instant::now();
    let out = child.wait_with_output().expect("wait for uvm");
    assert!(started.elapsed() < Duration::from_secs(5), "{test}: uvm took {:?} to stop", started.elapsed());
    assert_eq!(out.status.code(), Some(code), "{test}: stderr {}", show(&out.stderr));
    assert!(contains(&out.stderr, signal.as_bytes()), "{test}: stderr {}", show(&out.stderr));
}

/// What [`signal_app`] saw: uvm's exit status, its stdout and stderr, and how long it ran
/// after the first signal.
struct Signalled {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    after_signal: Duration,
}

/// Runs `outside_signal MODE` (built with `toolchain`) under `uvm run FLAGS`, waits for its
/// "ready", then sends uvm each of `signals` (kill names) 300 ms apart, writes `input` to its
/// stdin (then closes it), and waits for uvm to end (at most 20 s).
fn signal_app(
    test: &str,
    toolchain: Toolchain,
    flags: &[&str],
    mode: &str,
    signals: &[&str],
    input: &[u8],
) -> Option<Signalled> {
    signal_app_of("outside_signal", test, toolchain, flags, mode, signals, input)
}

/// [`signal_app`], packaged by `tests/manifests/<manifest>.toml`.
fn signal_app_of(
    manifest: &'static str,
    test: &str,
    toolchain: Toolchain,
    flags: &[&str],
    mode: &str,
    signals: &[&str],
    input: &[u8],
) -> Option<Signalled> {
    let image = vm::manifest_image(test, manifest, "outside_signal", toolchain)?;
    Some(signal_image(test, &image, flags, &[mode], signals, input))
}

/// Runs `uvm run FLAGS IMAGE -- ARGS`, waits for "ready" on its stdout, then signals it as
/// [`signal_app`] does.
fn signal_image(
    test: &str,
    image: &std::path::Path,
    flags: &[&str],
    args: &[&str],
    signals: &[&str],
    input: &[u8],
) -> Signalled {
    use std::io::{Read, Write};
    let mut cmd = uvm(["run".as_ref(), image.as_os_str()]);
    cmd.args(flags).arg("--").args(args);
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn uvm");
    let (sender, chunks) = std::sync::mpsc::channel::<Vec<u8>>();
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            let _ = sender.send(buf[..n].to_vec());
        }
    });
    let mut stderr = child.stderr.take().expect("stderr");
    let errors = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stderr.read_to_end(&mut all);
        all
    });
    let mut out = Vec::new();
    let ready_by = Instant::now() + Duration::from_secs(20);
    while !contains(&out, b"ready\n") {
        let left = ready_by.saturating_duration_since(Instant::now());
        match chunks.recv_timeout(left) {
            Ok(chunk) => out.extend(chunk),
            Err(_) => {
                let _ = child.kill();
                panic!("{test}: no \"ready\" from the app; stdout {}", show(&out));
            }
        }
    }
    let started = Instant::now();
    for (i, signal) in signals.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(300));
        }
        let sent = Command::new("kill").args([format!("-{signal}"), child.id().to_string()]).status();
        assert!(sent.expect("run kill").success(), "{test}: kill -{signal} failed");
    }
    let mut stdin = child.stdin.take().expect("stdin");
    if !input.is_empty() {
        std::thread::sleep(Duration::from_millis(300));
        stdin.write_all(input).expect("write to uvm's stdin");
    }
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for uvm") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{test}: uvm still ran 20 s after the signals; stdout {}", show(&out));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let after_signal = started.elapsed();
    reader.join().expect("stdout reader");
    out.extend(chunks.try_iter().flatten());
    let stderr = errors.join().expect("stderr reader");
    Signalled {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        after_signal,
    }
}

/// The app's handler sees every signal uvm passes on, as sent from outside its pid namespace
/// (SI_USER, pid 0), and SIGTERM lets it end on its own terms, with its own exit status.
fn an_app_handles_what_uvm_passes_on(test: &str, toolchain: Toolchain) {
    let Some(run) = signal_app(test, toolchain, &[], "wait", &["HUP", "USR1", "TERM"], b"") else { return };
    assert_eq!(run.code, Some(3), "{test}: the app's own status; stderr {}", run.stderr);
    assert_eq!(
        run.stdout,
        "ready\ngot signal 1 (si_code SI_USER, si_pid 0)\ngot signal 10 (si_code SI_USER, si_pid 0)\n\
         got signal 15 (si_code SI_USER, si_pid 0)\ncleaned up\n",
        "{test}: stderr {}",
        run.stderr
    );
    assert_eq!(run.stderr, "", "{test}: uvm has nothing to report");
}

#[test]
fn glibc_app_handles_the_signals_uvm_passes_on() {
    an_app_handles_what_uvm_passes_on("glibc_app_handles_the_signals_uvm_passes_on", Glibc);
}

#[test]
fn musl_app_handles_the_signals_uvm_passes_on() {
    an_app_handles_what_uvm_passes_on("musl_app_handles_the_signals_uvm_passes_on", Musl);
}

/// An app spinning in its own code (no syscall to return from) is interrupted for SIGINT.
#[test]
fn sigint_reaches_an_app_spinning_in_its_own_code() {
    let test = "sigint_reaches_an_app_spinning_in_its_own_code";
    let Some(run) = signal_app(test, Glibc, &[], "spin", &["INT"], b"") else { return };
    assert_eq!(run.code, Some(3), "{test}: stderr {}", run.stderr);
    assert_eq!(run.stdout, "ready\ngot signal 2 (si_code SI_USER, si_pid 0)\ncleaned up\n", "{test}");
}

/// An app that ignores SIGTERM runs on; a second SIGTERM stops the VM (143).
#[test]
fn a_second_sigterm_stops_an_app_that_ignores_the_first() {
    let test = "a_second_sigterm_stops_an_app_that_ignores_the_first";
    let Some(run) = signal_app(test, Musl, &[], "ignore", &["TERM", "TERM"], b"") else { return };
    assert_eq!(run.code, Some(143), "{test}: stderr {}", run.stderr);
    assert!(run.after_signal >= Duration::from_millis(300), "{test}: the first SIGTERM stopped it");
    assert!(run.stderr.contains("stopped by SIGTERM"), "{test}: stderr {}", run.stderr);
}

/// ... and with `--stop-timeout`, one SIGTERM stops it once that time has passed.
#[test]
fn the_stop_timeout_stops_an_app_that_ignores_sigterm() {
    let test = "the_stop_timeout_stops_an_app_that_ignores_sigterm";
    let Some(run) = signal_app(test, Glibc, &["--stop-timeout", "700ms"], "ignore", &["TERM"], b"") else { return };
    assert_eq!(run.code, Some(143), "{test}: stderr {}", run.stderr);
    assert!(run.after_signal >= Duration::from_millis(700), "{test}: stopped after {:?}", run.after_signal);
    assert!(run.stderr.contains("--stop-timeout"), "{test}: stderr {}", run.stderr);
}

/// `--stop-timeout 0`: SIGTERM stops the VM at once; the app's handler never runs.
#[test]
fn a_zero_stop_timeout_stops_the_vm_at_the_first_sigterm() {
    let test = "a_zero_stop_timeout_stops_the_vm_at_the_first_sigterm";
    let Some(run) = signal_app(test, Glibc, &["--stop-timeout", "0"], "wait", &["TERM"], b"") else { return };
    assert_eq!(run.code, Some(143), "{test}: stderr {}", run.stderr);
    assert_eq!(run.stdout, "ready\n", "{test}: the handler ran");
    assert!(run.stderr.contains("stopped by SIGTERM"), "{test}: stderr {}", run.stderr);
}

/// A signal ends the wait of a read of stdin; after the SA_RESTART handler the read is made
/// again and gets the line written afterwards.
#[test]
fn a_read_of_stdin_goes_on_after_a_sa_restart_handler() {
    let test = "a_read_of_stdin_goes_on_after_a_sa_restart_handler";
    let Some(run) = signal_app(test, Glibc, &[], "read", &["USR1"], b"line\n") else { return };
    assert_eq!(run.code, Some(0), "{test}: stderr {}", run.stderr);
    assert_eq!(run.stdout, "ready\ngot signal 10 (si_code SI_USER, si_pid 0)\nread: line\n", "{test}");
}

/// `--timeout` ends a run as timeout(1) does: SIGTERM to the app (whose handler runs), exit
/// status 124 however it then ends.
#[test]
fn timeout_sends_sigterm_first_and_exits_124() {
    let test = "timeout_sends_sigterm_first_and_exits_124";
    let Some(run) = signal_app(test, Musl, &["--timeout", "500ms"], "wait", &[], b"") else { return };
    assert_eq!(run.code, Some(124), "{test}: stderr {}", run.stderr);
    assert_eq!(run.stdout, "ready\ngot signal 15 (si_code SI_USER, si_pid 0)\ncleaned up\n", "{test}");
    assert!(run.stderr.contains("sent SIGTERM and ended with status 3"), "{test}: stderr {}", run.stderr);
}

/// ... and an app that ignores it is stopped `--stop-timeout` later.
#[test]
fn timeout_stops_an_app_that_ignores_sigterm_after_the_stop_timeout() {
    let test = "timeout_stops_an_app_that_ignores_sigterm_after_the_stop_timeout";
    let flags = ["--timeout", "300ms", "--stop-timeout", "400ms"];
    let Some(run) = signal_app(test, Glibc, &flags, "ignore", &[], b"") else { return };
    assert_eq!(run.code, Some(124), "{test}: stderr {}", run.stderr);
    // `after_signal` counts from the app's "ready", which comes a start-up after uvm's
    // `--timeout` clock began: the stop (700 ms on that clock) is at least the stop timeout
    // after it, and the SIGTERM (300 ms) less.
    assert!(run.after_signal >= Duration::from_millis(400), "{test}: stopped after {:?}", run.after_signal);
    assert!(run.stderr.contains("after SIGTERM, and was stopped"), "{test}: stderr {}", run.stderr);
}

/// The image's `[app] stop_signal` (here SIGINT) is what the app gets for SIGTERM, and for
/// `--timeout`; `--stop-signal` overrides it.
#[test]
fn sigterm_reaches_the_app_as_its_stop_signal() {
    let test = "sigterm_reaches_the_app_as_its_stop_signal";
    let Some(run) = signal_app_of("outside_signal_int", test, Musl, &[], "wait", &["TERM"], b"") else { return };
    assert_eq!(run.code, Some(3), "{test}: stderr {}", run.stderr);
    assert_eq!(run.stdout, "ready\ngot signal 2 (si_code SI_USER, si_pid 0)\ncleaned up\n", "{test}");
    let flags = ["--timeout", "300ms"];
    let Some(run) = signal_app_of("outside_signal_int", test, Musl, &flags, "wait", &[], b"") else { return };
    assert_eq!(run.code, Some(124), "{test}: stderr {}", run.stderr);
    assert!(run.stderr.contains("sent SIGINT and ended with status 3"), "{test}: stderr {}", run.stderr);
    let flags = ["--stop-signal", "hup"];
    let Some(run) = signal_app_of("outside_signal_int", test, Musl, &flags, "wait", &["TERM", "INT"], b"") else {
        return;
    };
    assert_eq!(run.code, Some(130), "{test}: the second stop request stops the VM; stderr {}", run.stderr);
    assert_eq!(run.stdout, "ready\ngot signal 1 (si_code SI_USER, si_pid 0)\n", "{test}");
}

/// A bad `--stop-signal` is a named error before anything boots.
#[test]
fn a_bad_stop_signal_is_a_named_error() {
    let test = "a_bad_stop_signal_is_a_named_error";
    let Some(image) = vm::app_image(test, "outside_signal", Musl) else { return };
    let out =
        expect_code(test, uvm(["run".as_ref(), image.as_os_str(), "--stop-signal".as_ref(), "STOP".as_ref()]), 125);
    assert!(contains(&out.stderr, b"`--stop-signal` is \"STOP\""), "{test}: stderr {}", show(&out.stderr));
}

/// A SIGTERM the app blocks and waits for in sigwaitinfo (a daemon's signal loop) ends the
/// wait: it is queued before the wait looks for it, not after.
#[test]
fn sigwaitinfo_takes_a_blocked_sigterm_from_outside() {
    let test = "sigwaitinfo_takes_a_blocked_sigterm_from_outside";
    let Some(run) = signal_app(test, Glibc, &[], "sigwait", &["TERM"], b"") else { return };
    assert_eq!(run.code, Some(4), "{test}: stderr {}", run.stderr);
    assert_eq!(run.stdout, "ready\nsigwaitinfo: signal 15 (si_code SI_USER, si_pid 0)\n", "{test}");
}

/// A SIGTERM the app blocks and reads from a signalfd it watches with epoll (a container
/// init's loop) wakes the epoll wait and is read from the file.
#[test]
fn a_signalfd_reads_a_sigterm_from_outside() {
    let test = "a_signalfd_reads_a_sigterm_from_outside";
    let Some(run) = signal_app(test, Musl, &[], "signalfd", &["TERM"], b"") else { return };
    assert_eq!(run.code, Some(5), "{test}: stderr {}", run.stderr);
    assert_eq!(
        run.stdout, "ready\nepoll_wait: 1; signalfd read 128 bytes: signal 15 (si_code SI_USER, si_pid 0)\n",
        "{test}"
    );
}

/// The image of a container init process the host has installed (`init`, a static build),
/// packaged with the host's busybox as `/bin/busybox`; None (with a note, or a failure under
/// CI) if either is missing.
fn init_image(test: &str, name: &str, init: &str) -> Option<std::path::PathBuf> {
    if !vm::require_kvm(test) {
        return None;
    }
    for needed in [init, support::apps::BUSYBOX] {
        if !std::path::Path::new(needed).is_file() {
            support::skip(test, &format!("{needed} is missing (Debian packages tini, catatonit, busybox-static)"));
            return None;
        }
    }
    let dir = vm::work_dir(test);
    std::fs::create_dir_all(&dir).expect("work dir");
    let manifest = dir.join(format!("{name}.toml"));
    let text = format!(
        "[app]\nname = \"{name}\"\nbinary = \"{init}\"\nenv = {{ PATH = \"/bin\" }}\n\n\
         [[files]]\nsrc = \"{busybox}\"\ndst = \"/bin/busybox\"\n",
        busybox = support::apps::BUSYBOX
    );
    std::fs::write(&manifest, text).expect("write the manifest");
    let image = dir.join(format!("{name}.uvm"));
    let mut cmd = uvm(["build".as_ref(), manifest.as_os_str(), "-o".as_ref(), image.as_os_str()]);
    cmd.env_remove("SOURCE_DATE_EPOCH");
    expect_code(test, cmd, 0);
    Some(image)
}

/// Container init processes, unmodified (Debian's static builds), as `docker run --init`
/// (tini) and podman (catatonit, which waits for signals with a signalfd) run them: each runs
/// a busybox shell as its child, passes uvm's SIGTERM on to it and ends as the child did
/// (128 + 15), and otherwise exits with the child's status after reaping it.
#[test]
fn container_inits_pass_sigterm_on_and_exit_as_their_child() {
    let test = "container_inits_pass_sigterm_on_and_exit_as_their_child";
    for (name, init) in [("catatonit", "/usr/bin/catatonit"), ("tini", "/usr/bin/tini-static")] {
        let Some(image) = init_image(test, name, init) else { return };
        let shell = ["--", "/bin/busybox", "sh", "-c"];
        let args = [&shell[..], &["echo ready; exec busybox sleep 20"]].concat();
        let run = signal_image(test, &image, &[], &args, &["TERM"], b"");
        assert_eq!(run.code, Some(143), "{test}: {name}: stderr {}", run.stderr);
        assert_eq!(run.stdout, "ready\n", "{test}: {name}");
        assert!(run.after_signal < Duration::from_secs(5), "{test}: {name}: took {:?}", run.after_signal);
        let args = [&shell[..], &["echo ready; busybox sleep 0.01 & busybox sleep 0.05; echo done; exit 3"]].concat();
        let mut cmd = uvm(["run".as_ref(), image.as_os_str(), "--".as_ref()]);
        cmd.args(&args);
        let out = expect_code(test, cmd, 3);
        assert_eq!(show(&out.stdout), show(b"ready\ndone\n"), "{test}: {name}");
    }
}

/// The image's users for [`gosu_runs_its_command_as_another_user`].
const GOSU_PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n\
                           nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GOSU_GROUP: &str = "root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n";

/// An image of `binary` with busybox at /bin/busybox (which `binary` may be), the users of [`GOSU_PASSWD`] and
/// [`GOSU_GROUP`] as its /etc/passwd and /etc/group, a file only root may read at /srv/secret (mode 0600),
/// `app_lines` added to its `[app]` and `files` (`[[files]]` tables) to the manifest.
fn users_image(test: &str, name: &str, binary: &str, app_lines: &str, files: &str) -> std::path::PathBuf {
    let dir = vm::work_dir(test);
    std::fs::create_dir_all(&dir).expect("work dir");
    std::fs::write(dir.join("passwd"), GOSU_PASSWD).expect("write passwd");
    std::fs::write(dir.join("group"), GOSU_GROUP).expect("write group");
    let secret = dir.join("secret");
    std::fs::write(&secret, "root only\n").expect("write secret");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod secret");
    let manifest = dir.join(format!("{name}.toml"));
    let busybox = if binary == support::apps::BUSYBOX {
        String::new() // the binary is packaged at /bin/busybox already
    } else {
        format!("[[files]]\nsrc = \"{}\"\ndst = \"/bin/busybox\"\n\n", support::apps::BUSYBOX)
    };
    let text = format!(
        "[app]\nname = \"{name}\"\nbinary = \"{binary}\"\nenv = {{ PATH = \"/bin\" }}\n{app_lines}\n{busybox}\
         [[files]]\nsrc = \"passwd\"\ndst = \"/etc/passwd\"\n\n[[files]]\nsrc = \"group\"\ndst = \"/etc/group\"\n\n\
         [[files]]\nsrc = \"secret\"\ndst = \"/srv/secret\"\n\n{files}"
    );
    std::fs::write(&manifest, text).expect("write the manifest");
    let image = dir.join(format!("{name}.uvm"));
    let mut cmd = uvm(["build".as_ref(), manifest.as_os_str(), "-o".as_ref(), image.as_os_str()]);
    cmd.env_remove("SOURCE_DATE_EPOCH");
    expect_code(test, cmd, 0);
    image
}

/// `[app] user` and `uvm run --user`, as docker's USER and `--user`: the app starts as the
/// user the image's /etc/passwd and /etc/group name (its groups from /etc/group when no
/// group is named), `-u` overrides the image's user (numeric ids need no entry), and a
/// name the image does not know is uvm's error (125), naming it.
#[test]
fn an_image_runs_as_its_user_and_run_user_overrides_it() {
    let test = "an_image_runs_as_its_user_and_run_user_overrides_it";
    if !vm::require_kvm(test) {
        return;
    }
    let image = users_image(test, "as-app", support::apps::BUSYBOX, "user = \"app\"\n", "");
    let run = |flags: &[&str], code: i32| {
        let mut cmd = uvm(["run".as_ref(), image.as_os_str()]);
        cmd.args(flags).args(["--", "id"]);
        expect_code(test, cmd, code)
    };
    let id = |flags: &[&str]| String::from_utf8_lossy(&run(flags, 0).stdout).into_owned();
    assert_eq!(id(&[]), "uid=1000(app) gid=1000(app) groups=50(staff)\n", "{test}: the image's user");
    assert_eq!(id(&["--user", "nobody:staff"]), "uid=65534(nobody) gid=50(staff)\n", "{test}");
    assert_eq!(id(&["-u", "1234:5678"]), "uid=1234 gid=5678\n", "{test}: numeric ids");
    assert_eq!(id(&["-u", "0"]), "uid=0(root) gid=0(root)\n", "{test}: root again");
    let out = run(&["-u", "ghost"], 125);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ghost") && stderr.contains("/etc/passwd"), "{test}: {stderr}");
}

/// `[[files]] owner` and `mode`, as docker's `COPY --chown` and `--chmod`: a packaged
/// directory and everything in it take the mode and belong to the user it names (with its primary group unless a group is named, as docker's
/// builder has it), the directories made on the way stay root's, and the app, running as that user,
/// changes those files and makes new ones among them, reads a file its group may read, and
/// still cannot write where root's mode forbids it.
#[test]
fn packaged_files_take_the_owner_and_mode_their_files_entry_names() {
    let test = "packaged_files_take_the_owner_and_mode_their_files_entry_names";
    if !vm::require_kvm(test) {
        return;
    }
    let dir = vm::work_dir(test);
    let _ = std::fs::remove_dir_all(dir.join("data"));
    std::fs::create_dir_all(dir.join("data/logs")).expect("make data/logs");
    let mode = |path: &str, mode: u32| {
        std::fs::set_permissions(dir.join(path), std::os::unix::fs::PermissionsExt::from_mode(mode)).expect("chmod");
    };
    std::fs::write(dir.join("data/state"), "v1\n").expect("write data/state");
    std::fs::write(dir.join("data/logs/old.log"), "old\n").expect("write data/logs/old.log");
    std::fs::write(dir.join("app.conf"), "conf\n").expect("write app.conf");
    for (path, bits) in [("data", 0o755), ("data/logs", 0o755), ("data/state", 0o644), ("data/logs/old.log", 0o644)] {
        mode(path, bits);
    }
    mode("app.conf", 0o640);
    let files = "[[files]]\nsrc = \"data\"\ndst = \"/srv/app/data\"\nowner = \"app\"\nmode = \"0750\"\n\n\
                 [[files]]\nsrc = \"app.conf\"\ndst = \"/etc/app.conf\"\nowner = \"1234:staff\"\n";
    let image = users_image(test, "owned", support::apps::BUSYBOX, "user = \"app\"\n", files);
    let script = "stat -c '%u:%g %a %n' /srv/app /srv/app/data /srv/app/data/state /srv/app/data/logs \
                  /srv/app/data/logs/old.log /etc/app.conf; \
                  echo v2 >> /srv/app/data/state && cat /srv/app/data/state; \
                  touch /srv/app/data/logs/new.log && stat -c '%u:%g %n' /srv/app/data/logs/new.log; \
                  cat /etc/app.conf; echo x > /srv/app/new || echo refused";
    let mut cmd = uvm(["run".as_ref(), image.as_os_str()]);
    cmd.args(["--", "sh", "-c", script]);
    let out = expect_code(test, cmd, 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0:0 755 /srv/app\n1000:1000 750 /srv/app/data\n1000:1000 750 /srv/app/data/state\n\
         1000:1000 750 /srv/app/data/logs\n1000:1000 750 /srv/app/data/logs/old.log\n1234:50 640 /etc/app.conf\n\
         v1\nv2\n1000:1000 /srv/app/data/logs/new.log\nconf\nrefused\n",
        "{test}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("can't create /srv/app/new: Permission denied"), "{test}: {stderr}");
}

/// `--env-file` and `-e`, as docker reads them: an env file's `NAME=VALUE` lines as written
/// (quotes kept, leading whitespace and `#` comments dropped), `NAME` alone from uvm's own
/// environment (left out where uvm has none), `-e KEY` alike, and `-e` over the files over the
/// image's `env`; a bad line is uvm's error (125) naming the file and the line.
#[test]
fn env_files_and_env_flags_set_the_environment_as_docker_does() {
    let test = "env_files_and_env_flags_set_the_environment_as_docker_does";
    if !vm::require_kvm(test) {
        return;
    }
    let image = users_image(test, "env", support::apps::BUSYBOX, "", "");
    let dir = vm::work_dir(test);
    let env_file = dir.join("app.env");
    let text =
        "# the app's settings\nMODE=file\n  GREETING=hello world\nQUOTED=\"as written\"\nFROM_HOST\nUNSET_HERE\n";
    std::fs::write(&env_file, text).expect("write app.env");
    let mut cmd = uvm(["run".as_ref(), image.as_os_str(), "--env-file".as_ref(), env_file.as_os_str()]);
    cmd.args(["-e", "MODE=flag", "-e", "HOST_ONLY", "-e", "NOT_HERE", "--", "env"]);
    cmd.env("FROM_HOST", "host value").env("HOST_ONLY", "yes").env_remove("UNSET_HERE").env_remove("NOT_HERE");
    let out = expect_code(test, cmd, 0);
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    let expected = [
        "FROM_HOST=host value",
        "GREETING=hello world",
        "HOST_ONLY=yes",
        "MODE=flag",
        "PATH=/bin",
        "QUOTED=\"as written\"",
    ];
    for line in expected {
        assert!(lines.iter().any(|l| l == line), "{test}: {line:?} missing from {lines:?}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("UNSET_HERE") || l.starts_with("NOT_HERE")), "{test}: {lines:?}");
    std::fs::write(&env_file, "A=1\nMY VAR=2\n").expect("write app.env");
    let cmd = uvm(["run".as_ref(), image.as_os_str(), "--env-file".as_ref(), env_file.as_os_str()]);
    let out = expect_code(test, cmd, 125);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("app.env, line 2: environment variable name \"MY VAR\" contains whitespace"),
        "{test}: {stderr}"
    );
}

/// `uvm run --entrypoint`, as docker's: the program runs instead of the image's app, with the
/// arguments after `--` (not the manifest's), as the image's user; a name without a `/` is
/// looked up in the app's PATH, and a `#!` script runs under its interpreter. No such
/// program ends with 127, one that cannot run with 126, each saying why; an empty one is
/// uvm's error (125).
#[test]
fn an_entrypoint_runs_instead_of_the_app_as_dockers_does() {
    let test = "an_entrypoint_runs_instead_of_the_app_as_dockers_does";
    if !vm::require_kvm(test) {
        return;
    }
    let app = support::apps::app(Musl, "args_env").unwrap_or_else(|e| panic!("{test}: build args_env: {e:?}"));
    let dir = vm::work_dir(test);
    std::fs::create_dir_all(&dir).expect("work dir");
    std::fs::write(dir.join("greet"), "#!/bin/busybox sh\necho \"greet $* as $(busybox id -u)\"\n")
        .expect("write greet");
    let files = "[[files]]\nsrc = \"greet\"\ndst = \"/bin/greet\"\nmode = \"755\"\n";
    let app_lines = "args = [\"from\", \"manifest\"]\nuser = \"app\"\n";
    let image = users_image(test, "entrypoint", &app.to_string_lossy(), app_lines, files);
    let run = |entrypoint: Option<&str>, args: &[&str], code: i32| {
        let mut cmd = uvm(["run".as_ref(), image.as_os_str()]);
        if let Some(entrypoint) = entrypoint {
            cmd.args(["--entrypoint", entrypoint]);
        }
        if !args.is_empty() {
            cmd.arg("--").args(args);
        }
        let out = expect_code(test, cmd, code);
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (out, _) = run(None, &[], 0);
    assert!(out.contains("argv[1]=<from>\nargv[2]=<manifest>\n"), "{test}: the app with its args: {out}");
    assert_eq!(run(Some("greet"), &["a", "b"], 0).0, "greet a b as 1000\n", "{test}: a script found in PATH");
    let (out, _) = run(Some("/bin/busybox"), &["sh", "-c", "echo \"$0 $# $*\""], 0);
    assert_eq!(out, "sh 0 \n", "{test}: a path, with the args after -- alone");
    let (_, stderr) = run(Some("nope"), &[], 127);
    assert_eq!(stderr, "uvm: --entrypoint nope: not found in the VM or its PATH\n", "{test}");
    let (_, stderr) = run(Some("/srv/secret"), &[], 126);
    assert_eq!(stderr, "uvm: --entrypoint /srv/secret: permission denied\n", "{test}: no execute bit");
    let (_, stderr) = run(Some(""), &[], 125);
    assert!(stderr.contains("`--entrypoint` is empty"), "{test}: {stderr}");
}

/// docker's `run [OPTIONS] IMAGE [COMMAND] [ARG...]`: a command after the image replaces
/// the manifest's args as ARGS after `--` do, and from its first word on everything is the
/// app's (options and `--` too); uvm's options may still come between the image and the
/// command; `-i`, `-t` and `-it` are accepted (stdin is always passed on; uvm makes no
/// pseudo-terminal, so with stdin from /dev/null the app sees none).
#[test]
fn the_command_follows_the_image_as_docker_s_does() {
    let test = "the_command_follows_the_image_as_docker_s_does";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = vm::stage_case(test, &support::cases::busybox_echo()) else {
        return;
    };
    let image = vm::build(test, &staged);
    let run = |words: &[&str]| {
        let mut cmd = uvm(["run"]);
        for word in words {
            cmd.arg(if *word == "IMAGE" { image.as_os_str() } else { word.as_ref() });
        }
        cmd.stdin(Stdio::null());
        let out = expect_code(test, cmd, 0);
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(run(&["IMAGE"]).0, "hello from busybox\n", "{test}: the manifest's args");
    assert_eq!(run(&["IMAGE", "echo", "-n", "a", "--", "b"]).0, "a -- b", "{test}: all of it the app's");
    assert_eq!(run(&["-it", "IMAGE", "sh", "-c", "echo $0 $1", "x", "y"]).0, "x y\n", "{test}: -it");
    let (out, err) = run(&["IMAGE", "--timings", "echo", "--timings"]);
    assert_eq!(out, "--timings\n", "{test}: the second --timings is the app's");
    assert!(err.contains("total"), "{test}: the first is uvm's: {err}");
    let tty = run(&["-t", "IMAGE", "sh", "-c", "[ -t 0 ] && echo a tty || echo no tty"]).0;
    assert_eq!(tty, "no tty\n", "{test}: no pseudo-terminal of uvm's");
    assert_eq!(run(&["IMAGE", "--", "echo", "after --"]).0, "after --\n");
}

/// `uvm run --hostname` and `[vm] hostname`, as docker's and compose's: uname's nodename and
/// `hostname` say the name, and the image's /etc/hosts names the VM's address with it (the
/// flag's line appended, not with --read-only); without either the name is `uvm`; a name that
/// is no host name is uvm's error (125).
#[test]
fn a_hostname_names_the_vm_as_dockers_does() {
    let test = "a_hostname_names_the_vm_as_dockers_does";
    if !vm::require_kvm(test) {
        return;
    }
    let image = users_image(test, "named", support::apps::BUSYBOX, "", "");
    let run = |flags: &[&str], code: i32| {
        let mut cmd = uvm(["run".as_ref(), image.as_os_str()]);
        cmd.args(flags).args(["--", "sh", "-c", "hostname; uname -n; grep -c . /etc/hosts; tail -1 /etc/hosts"]);
        let out = expect_code(test, cmd, code);
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (default, _) = run(&[], 0);
    assert_eq!(default, "uvm\nuvm\n5\n10.0.2.15\tuvm\n", "{test}: the default name");
    let (named, _) = run(&["--hostname", "api-1.internal"], 0);
    assert_eq!(named, "api-1.internal\napi-1.internal\n6\n10.0.2.15\tapi-1.internal\n", "{test}");
    let (as_app, _) = run(&["--hostname", "web", "--user", "app"], 0);
    assert_eq!(as_app, "web\nweb\n6\n10.0.2.15\tweb\n", "{test}: the line joins root's file whoever the app is");
    let (read_only, _) = run(&["--hostname", "web", "--read-only"], 0);
    assert_eq!(read_only, "web\nweb\n5\n10.0.2.15\tuvm\n", "{test}: the root cannot change");
    let (_, stderr) = run(&["--hostname", "web_1"], 125);
    assert!(stderr.contains("`--hostname` is \"web_1\", which is not a host name"), "{test}: {stderr}");
    // The manifest's [vm] hostname: the image's /etc/hosts names it; --hostname replaces it.
    let named_image = users_image(test, "named-db", support::apps::BUSYBOX, "", "[vm]\nhostname = \"db\"\n");
    let run_named = |flags: &[&str]| {
        let mut cmd = uvm(["run".as_ref(), named_image.as_os_str()]);
        cmd.args(flags).args(["--", "sh", "-c", "hostname; grep -c . /etc/hosts; tail -1 /etc/hosts"]);
        String::from_utf8_lossy(&expect_code(test, cmd, 0).stdout).into_owned()
    };
    assert_eq!(run_named(&[]), "db\n5\n10.0.2.15\tdb\n", "{test}: the manifest's name");
    assert_eq!(run_named(&["--hostname", "web"]), "web\n6\n10.0.2.15\tweb\n", "{test}: the flag's over it");
}

/// `uvm run PROGRAM`: a static program runs without a manifest (as `ops run` runs one), its
/// image built once into uvm's cache and built again only when the program changes; the
/// arguments after `--` and `-e` reach it; a dynamically linked program is uvm's error (125),
/// saying how to rebuild it.
#[test]
fn a_static_program_runs_without_a_manifest() {
    let test = "a_static_program_runs_without_a_manifest";
    if !vm::require_kvm(test) {
        return;
    }
    let built = support::apps::app(Musl, "args_env").unwrap_or_else(|e| panic!("{test}: build args_env: {e:?}"));
    let dir = vm::work_dir(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("work dir");
    let program = dir.join("args env");
    std::fs::copy(&built, &program).expect("copy the program");
    let cache = dir.join("cache");
    let run = || {
        let mut cmd = uvm(["run".as_ref(), program.as_os_str(), "-e".as_ref(), "GREETING=hi".as_ref()]);
        cmd.args(["--", "one", "two words"]).env("XDG_CACHE_HOME", &cache);
        expect_code(test, cmd, 0)
    };
    let out = String::from_utf8_lossy(&run().stdout).into_owned();
    assert!(out.starts_with("argc=3\nargv[0]=<args env>\nargv[1]=<one>\nargv[2]=<two words>\n"), "{test}: {out}");
    assert!(out.contains("GREETING=<hi>\n") && out.contains("cwd=/\n"), "{test}: {out}");
    let images = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        std::fs::read_dir(cache.join("uvm/programs"))
            .expect("the programs' images")
            .map(|e| {
                let e = e.expect("entry");
                (e.path(), e.metadata().and_then(|m| m.modified()).expect("mtime"))
            })
            .collect()
    };
    let first = images();
    assert_eq!(first.len(), 1, "{test}: {first:?}");
    assert!(first[0].0.file_name().is_some_and(|n| n.to_string_lossy().starts_with("args-env-")), "{test}");
    run();
    assert_eq!(images(), first, "{test}: the cached image is used again");
    std::thread::sleep(Duration::from_millis(20));
    std::fs::copy(&built, &program).expect("the program again, newer");
    run();
    let again = images();
    assert_eq!(again.len(), 1, "{test}");
    assert!(again[0].1 > first[0].1, "{test}: a newer program is packed again");
    if std::path::Path::new("/bin/true").exists() {
        let mut cmd = uvm(["run", "/bin/true"]);
        cmd.env("XDG_CACHE_HOME", &cache);
        let out = expect_code(test, cmd, 125);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("dynamically linked") && stderr.contains("-static"), "{test}: {stderr}");
    }
}

/// gosu (Debian's static Go build, unmodified), the tool docker images' entrypoints use to
/// drop root (`exec gosu app "$@"`): it takes the groups, gid and uid from the image's
/// /etc/passwd and /etc/group (Go's runtime has every thread take them) and execs its
/// command, which runs as that user, with no capabilities, makes files it owns, and cannot
/// switch back. The expected output is a native run of the same files under chroot.
#[test]
fn gosu_runs_its_command_as_another_user() {
    let test = "gosu_runs_its_command_as_another_user";
    let gosu = "/usr/sbin/gosu";
    if !vm::require_kvm(test) {
        return;
    }
    if !std::path::Path::new(gosu).is_file() {
        support::skip(test, "/usr/sbin/gosu is missing (Debian package gosu)");
        return;
    }
    let image = users_image(test, "gosu", gosu, "", "");
    let run = |args: &[&str], code: i32| {
        let mut cmd = uvm(["run".as_ref(), image.as_os_str(), "--".as_ref()]);
        cmd.args(args);
        expect_code(test, cmd, code)
    };
    let out = run(&["app", "busybox", "id"], 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "uid=1000(app) gid=1000(app) groups=50(staff)\n", "{test}");
    let script = "id; touch /tmp/x; busybox stat -c '%u:%g' /tmp/x; busybox grep -E 'Uid|Gid|Groups|CapPrm|CapEff' /proc/self/status";
    let out = run(&["nobody:staff", "busybox", "sh", "-c", script], 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "uid=65534(nobody) gid=50(staff)\n65534:50\nUid:\t65534\t65534\t65534\t65534\nGid:\t50\t50\t50\t50\n\
         Groups:\t \nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n",
        "{test}"
    );
    let out = run(&["1234:5678", "busybox", "id"], 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "uid=1234 gid=5678\n", "{test}");
    // The command runs in gosu's own process, which dropped root: root's file is refused.
    let out = run(&["nobody", "busybox", "cat", "/srv/secret"], 1);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "cat: can't open '/srv/secret': Permission denied\n", "{test}");
    let out = run(&["root", "busybox", "cat", "/srv/secret"], 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "root only\n", "{test}");
    let out = run(&["app", "busybox", "sh", "-c", "gosu root id"], 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: failed switching to \"root\": operation not permitted\n",
        "{test}"
    );
}

/// With no handler, a signal passed on ends the app by its default action, as it would end
/// the program run without uvm: SIGQUIT gives 131.
#[test]
fn sigquit_ends_an_app_without_a_handler_with_131() {
    let test = "sigquit_ends_an_app_without_a_handler_with_131";
    let Some(run) = signal_app(test, Musl, &[], "default", &["QUIT"], b"") else { return };
    assert_eq!(run.code, Some(131), "{test}: stderr {}", run.stderr);
    assert!(run.stderr.contains("SIGQUIT"), "{test}: stderr {}", run.stderr);
}

#[test]
fn sigint_stops_a_spinning_guest_with_130() {
    stop_with_signal("sigint_stops_a_spinning_guest_with_130", "INT", 130, &["spin"]);
}

#[test]
fn sigterm_stops_a_spinning_guest_with_143() {
    stop_with_signal("sigterm_stops_a_spinning_guest_with_143", "TERM", 143, &["spin"]);
}

#[test]
fn sigterm_stops_a_sleeping_guest_with_143() {
    stop_with_signal("sigterm_stops_a_sleeping_guest_with_143", "TERM", 143, &["sleep", "60000"]);
}

/// The clock functions go through uvm's vDSO: right answers, and no clock syscall at all.
fn vdso_serves_the_clock(test: &str, toolchain: Toolchain) {
    let Some(image) = vm::app_image(test, "vdso_clock", toolchain) else { return };
    let out = expect_code(test, uvm(["run".as_ref(), image.as_os_str(), "--trace-syscalls".as_ref()]), 0);
    assert_eq!(
        show(&out.stdout),
        show(b"vdso offered: yes\nmonotonic moves forward: yes\nclocks agree: yes\n"),
        "{test}"
    );
    for call in [&b"clock_gettime("[..], b"gettimeofday(", b"] time("] {
        assert!(!contains(&out.stderr, call), "{test}: a syscall was made: {}", show(&out.stderr));
    }
    assert!(contains(&out.stderr, b"exit_group("), "{test}: the trace is on: {}", show(&out.stderr));
}

#[test]
fn glibc_vdso_serves_the_clock() {
    vdso_serves_the_clock("glibc_vdso_serves_the_clock", Glibc);
}

#[test]
fn musl_vdso_serves_the_clock() {
    vdso_serves_the_clock("musl_vdso_serves_the_clock", Musl);
}

/// `--trace-syscalls` shows path arguments as strings, read before the call runs: here an
/// execve (which replaces the memory its path was in) of a `#!` script.
#[test]
fn the_trace_shows_paths_as_strings() {
    let test = "the_trace_shows_paths_as_strings";
    let Some(image) = vm::app_image(test, "exec", Musl) else { return };
    let args = ["run".as_ref(), image.as_os_str(), "--trace-syscalls".as_ref(), "--".as_ref()];
    let script = ["script".as_ref(), "/usr/share/exec/script.sh".as_ref()];
    let out = expect_code(test, uvm(args.iter().chain(script.iter())), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let execve = stderr.lines().find(|l| l.starts_with("[uvm trace] execve(")).unwrap_or_default();
    assert!(execve.starts_with("[uvm trace] execve(\"/usr/share/exec/script.sh\", 0x"), "{test}: {stderr}");
    assert!(execve.ends_with(") = 0"), "{test}: {stderr}");
}

/// Large reads of packaged files (copied by the VMM) give the same bytes as small reads
/// (copied in the guest), with read and pread, odd sizes and an unaligned buffer.
#[test]
fn large_reads_of_packaged_files_match_small_reads() {
    let test = "large_reads_of_packaged_files_match_small_reads";
    let Some(image) = vm::app_image(test, "big_read", Glibc) else { return };
    let out = expect_code(test, uvm(["run".as_ref(), image.as_os_str()]), 0);
    assert_eq!(
        show(&out.stdout),
        show(b"read: large pieces match small pieces\npread: large pieces match small pieces\nposition after preads: unchanged\n"),
        "{test}"
    );
}

/// Reads and writes of 3000 sizes leave the guest kernel's heap about as large as one of
/// them: its free page runs merge. Before they did, each new size split them further and took
/// fresh pages, ~6 KiB a call (3000 rounds: ~18 MiB of guest memory in use, against ~2 MiB).
#[test]
fn io_of_many_sizes_leaves_the_kernel_heap_bounded() {
    let test = "io_of_many_sizes_leaves_the_kernel_heap_bounded";
    let Some(image) = vm::app_image(test, "io_sizes", Glibc) else { return };
    let out = expect_code(test, uvm(["run".as_ref(), image.as_os_str(), "--timings".as_ref()]), 0);
    assert_eq!(show(&out.stdout), show(b"io_sizes: 3000 rounds, every byte back\n"), "{test}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let Some(in_use) = vm::count_before(&stderr, " KiB of guest memory in use") else {
        panic!("{test}: no guest memory figure in\n{stderr}");
    };
    assert!(in_use <= 6 << 10, "{test}: {in_use} KiB of guest memory in use\n{stderr}");
}

/// Once a /tmp file has filled the VM's RAM (ENOSPC) and gone, the guest kernel's heap can
/// still grow by page runs: freed frames are no run, so the last fresh frames are kept for
/// it. Without them, the 20000 files' directory table (a 128 KiB run) was a kernel panic.
#[test]
fn the_kernel_heap_grows_after_a_file_filled_ram() {
    let test = "the_kernel_heap_grows_after_a_file_filled_ram";
    let Some(image) = vm::app_image(test, "ram_refill", Glibc) else { return };
    let out = expect_code(test, uvm(["run".as_ref(), image.as_os_str()]), 0);
    assert_eq!(show(&out.stdout), show(b"ram_refill: ENOSPC, then 20000 files\n"), "{test}: {}", show(&out.stderr));
}

/// Runs `poll_stdin` with `app_args`, writes `input` to its stdin after `delay` (keeping stdin
/// open meanwhile; `None`: never writes), and returns its stdout and how long it took.
fn poll_stdin(test: &str, app_args: &[&str], input: Option<(&[u8], Duration)>) -> Option<(String, Duration)> {
    use std::io::Write;
    let image = vm::app_image(test, "poll_stdin", Glibc)?;
    let mut cmd = uvm(["run".as_ref(), image.as_os_str(), "--".as_ref()]);
    cmd.args(app_args);
    let started = Instant::now();
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn uvm");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some((bytes, delay)) = input {
        std::thread::sleep(delay);
        stdin.write_all(bytes).expect("write to uvm's stdin");
    }
    let out = child.wait_with_output().expect("wait for uvm");
    drop(stdin);
    assert_eq!(out.status.code(), Some(0), "{test}: {}", show(&out.stderr));
    Some((String::from_utf8_lossy(&out.stdout).into_owned(), started.elapsed()))
}

#[test]
fn poll_waits_for_input_on_the_hosts_stdin() {
    let test = "poll_waits_for_input_on_the_hosts_stdin";
    let Some((out, took)) = poll_stdin(test, &["poll", "-1"], Some((b"hello\n", Duration::from_millis(400)))) else {
        return;
    };
    assert_eq!(out, "ready: 1, read 6 bytes\n", "{test}");
    assert!(took >= Duration::from_millis(400), "{test}: returned before the input came ({took:?})");
}

#[test]
fn select_times_out_when_stdin_stays_quiet() {
    let test = "select_times_out_when_stdin_stays_quiet";
    let Some((out, took)) = poll_stdin(test, &["select", "300"], None) else { return };
    assert_eq!(out, "nothing to read after 300 ms\n", "{test}");
    assert!(took >= Duration::from_millis(300), "{test}: {took:?}");
}

#[test]
fn poll_sees_the_end_of_stdin_at_once() {
    let test = "poll_sees_the_end_of_stdin_at_once";
    let Some(image) = vm::app_image(test, "poll_stdin", Glibc) else { return };
    let out =
        expect_code(test, uvm(["run".as_ref(), image.as_os_str(), "--".as_ref(), "poll".as_ref(), "5000".as_ref()]), 0);
    assert_eq!(show(&out.stdout), show(b"ready: 1, read 0 bytes\n"), "{test}: stdin is /dev/null");
}

/// uvm started with its standard descriptors closed (it opens /dev/null in their place, as it
/// skips the Rust runtime that would) runs the app normally; and when the app writes to a pipe
/// whose reader is gone, the app dies of SIGPIPE (141, as natively, and as quietly), not uvm
/// itself.
#[test]
fn closed_standard_descriptors_and_broken_pipes() {
    let test = "closed_standard_descriptors_and_broken_pipes";
    let Some(image) = vm::app_image(test, "hello", Musl) else { return };
    let mut closed = Command::new("sh");
    closed.arg("-c").arg("exec \"$0\" run \"$1\" <&- >&- 2>&-").arg(vm::uvm_bin()).arg(&image);
    closed.env("XDG_CACHE_HOME", support::tmp_root().join("cache"));
    expect_code(test, closed, 0);

    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = uvm(["run".as_ref(), image.as_os_str()]).stdout(writer).output().expect("uvm runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{test}: {:?}, stderr: {stderr}", out.status);
    // As in a shell pipeline (`uvm run app | head`): the status tells, nothing is printed.
    assert!(stderr.is_empty(), "{test}: a broken pipe should end the app quietly: {stderr}");
}

/// A running VM reads its kernel's cold text from the `uvm` binary's page cache, not from a
/// copy of its own: the binary is mapped once more, privately and writable (the VMM's map
/// over guest RAM), at file offsets that one of its read-only loaded segments covers.
#[test]
fn a_running_vm_maps_the_kernels_cold_text_from_the_uvm_binary() {
    let test = "a_running_vm_maps_the_kernels_cold_text_from_the_uvm_binary";
    let Some(image) = staged_image(test) else { return };
    let mut child = uvm(["run".as_ref(), image.as_os_str(), "--".as_ref(), "sleep".as_ref(), "3000".as_ref()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn uvm");
    let exe = std::fs::canonicalize(vm::uvm_bin()).expect("the uvm binary's path");
    let maps_path = format!("/proc/{}/maps", child.id());
    // (start, end, perms, offset) of each mapping of the `uvm` binary.
    let binary_mappings = || -> Vec<(u64, u64, String, u64)> {
        let maps = std::fs::read_to_string(&maps_path).unwrap_or_default();
        maps.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let (range, perms, offset, path) = (fields.first()?, fields.get(1)?, fields.get(2)?, fields.get(5)?);
                if std::path::Path::new(path) != exe {
                    return None;
                }
                let (start, end) = range.split_once('-')?;
                let hex = |v: &str| u64::from_str_radix(v, 16).ok();
                Some((hex(start)?, hex(end)?, perms.to_string(), hex(offset)?))
            })
            .collect()
    };
    let shared_text = |mappings: &[(u64, u64, String, u64)]| {
        mappings.iter().any(|(start, end, perms, offset)| {
            let len = end - start;
            perms == "rw-p"
                && len >= 8 * 4096
                && mappings.iter().any(|(s, e, p, o)| p == "r--p" && *o <= *offset && offset + len <= o + (e - s))
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut mappings = binary_mappings();
    while !shared_text(&mappings) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        mappings = binary_mappings();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(shared_text(&mappings), "{test}: no mapping of the kernel's text from {}: {mappings:?}", exe.display());
}

/// Past its first few writes an app's small stdout and stderr writes go into the console ring
/// (no exit each), and still reach the host as the app made them: both streams on one pipe
/// interleave in the app's order; a crash's message comes after every line written before it;
/// a reader that goes away still ends the app with SIGPIPE (141), quietly; `--timings` counts
/// the ring's writes; output a host write lost (`/dev/full`) is reported at the end; stdout
/// redirected to a regular file keeps the hypercall.
#[test]
fn console_writes_through_the_ring_keep_their_order_and_errors() {
    let test = "console_writes_through_the_ring_keep_their_order_and_errors";
    let Some(image) = vm::app_image(test, "console_burst", Musl) else { return };
    let in_shell = |script: &str, args: &[&str]| {
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(script).arg(vm::uvm_bin()).arg(&image).args(args);
        cmd.env("XDG_CACHE_HOME", support::tmp_root().join("cache"));
        cmd
    };

    let both = support::process::run(in_shell("exec \"$0\" run \"$1\" -- interleave 1000 2>&1", &[]), None);
    let expected: String = (0..1000).map(|i| format!("out {i}\nerr {i}\n")).collect();
    assert!(both.status.success(), "{test}: {:?}", both.status);
    assert!(
        String::from_utf8_lossy(&both.stdout) == expected,
        "{test}: stdout and stderr on one pipe:\n{}",
        show(&both.stdout)
    );

    let timed = expect_code(
        test,
        uvm([
            "run".as_ref(),
            image.as_os_str(),
            "--timings".as_ref(),
            "--".as_ref(),
            "interleave".as_ref(),
            "300".as_ref(),
        ]),
        0,
    );
    let stderr = String::from_utf8_lossy(&timed.stderr);
    let ring_writes = vm::count_before(&stderr, " writes through the console ring")
        .unwrap_or_else(|| panic!("{test}: no console ring count in\n{stderr}"));
    assert!(ring_writes >= 500, "{test}: {ring_writes} of 600 writes through the console ring\n{stderr}");

    let crashed = expect_code(
        test,
        uvm(["run".as_ref(), image.as_os_str(), "--".as_ref(), "crash".as_ref(), "500".as_ref()]),
        139,
    );
    let lines: String = (0..500).map(|i| format!("line {i}\n")).collect();
    assert!(
        String::from_utf8_lossy(&crashed.stdout) == lines,
        "{test}: the lines before the crash:\n{}",
        show(&crashed.stdout)
    );

    let piped = support::process::run(
        in_shell("\"$0\" run \"$1\" -- endless | head -n 3; echo \"status ${PIPESTATUS[0]}\" >&2", &[]),
        None,
    );
    assert_eq!(String::from_utf8_lossy(&piped.stdout), "line 0\nline 1\nline 2\n", "{test}: what head kept");
    assert_eq!(
        String::from_utf8_lossy(&piped.stderr),
        "status 141\n",
        "{test}: a reader gone ends the app quietly with SIGPIPE"
    );

    // A full disk: the app's first writes (through the hypercall) fail at once; a write that
    // fails in the ring is the app's to learn of at its next write, which may come after the
    // app has put all of its lines in the ring, so uvm says at the end how much was lost.
    let full = support::process::run(in_shell("exec \"$0\" run \"$1\" -- ignore 300 >/dev/full", &[]), None);
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert!(full.status.success(), "{test}: {:?} {stderr}", full.status);
    let failed = vm::count_before(&stderr, "\n").filter(|_| stderr.starts_with("failed writes: "));
    let before_ring = uvm_abi::console::RING_AFTER_WRITES;
    assert!(failed.is_some_and(|n| n >= before_ring), "{test}: the app saw its writes fail:\n{stderr}");
    assert!(
        stderr.contains("bytes the app wrote to stdout were lost: No space left on device"),
        "{test}: uvm reports the lost output:\n{stderr}"
    );

    // Stdout a regular file: its writes keep the hypercall (an error such as a full disk
    // then fails the write that met it, as on Linux), all of them land in the file.
    let file = support::tmp_root().join(format!("{test}.out"));
    let to_file = support::process::run(
        in_shell("exec \"$0\" run --timings \"$1\" -- ignore 300 >\"$2\"", &[file.to_str().expect("utf-8 path")]),
        None,
    );
    let stderr = String::from_utf8_lossy(&to_file.stderr);
    assert!(to_file.status.success(), "{test}: {:?} {stderr}", to_file.status);
    // The one ring write is the app's closing line on stderr (a pipe here).
    assert_eq!(vm::count_before(&stderr, " writes through the console ring"), Some(1), "{test}:\n{stderr}");
    let lines: String = (0..300).map(|i| format!("line {i}\n")).collect();
    assert!(std::fs::read_to_string(&file).is_ok_and(|got| got == lines), "{test}: the file holds every line");
    let _ = std::fs::remove_file(&file);
}

/// A prompt written through the console ring is out before the app waits for its answer on
/// stdin (a console read writes the ring out first).
#[test]
fn a_prompt_through_the_console_ring_shows_before_the_app_reads() {
    use std::io::{Read, Write};
    let test = "a_prompt_through_the_console_ring_shows_before_the_app_reads";
    let Some(image) = vm::app_image(test, "console_burst", Musl) else { return };
    let mut child = uvm(["run".as_ref(), image.as_os_str(), "--".as_ref(), "prompt".as_ref(), "100".as_ref()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn uvm");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + support::process::timeout();
    let mut seen = Vec::new();
    while !seen.ends_with(b"name? ") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => seen.extend_from_slice(&bytes),
            Err(_) => {
                let _ = child.kill();
                panic!("{test}: no prompt while the app waits for stdin; saw:\n{}", show(&seen));
            }
        }
    }
    child.stdin.take().expect("piped stdin").write_all(b"uvm\n").expect("answer");
    while let Ok(bytes) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        seen.extend_from_slice(&bytes);
    }
    let status = child.wait().expect("uvm ends");
    let mut expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
    expected += "name? uvm\n";
    assert!(status.success(), "{test}: {status:?}");
    assert!(String::from_utf8_lossy(&seen) == expected, "{test}: got\n{}", show(&seen));
}
