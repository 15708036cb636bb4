//! Running cases under the real `uvm` binary: `uvm build MANIFEST`, then `uvm run IMAGE ...`
//! for each run, checking stdout, stderr and the exit status.

use super::apps::Toolchain;
use super::cases::{contains, Case, Out, Run, Status};
use super::process::{self, first_difference, show, Output};
use super::stage::{self, Staged};
use super::Suite;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `uvm` binary under test: this crate's, or `$UVM_TEST_BIN` (e.g. a release build).
pub fn uvm_bin() -> PathBuf {
    std::env::var_os("UVM_TEST_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_uvm")), PathBuf::from)
}

/// A `uvm` command with the given arguments.
pub fn uvm<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(uvm_bin());
    cmd.args(args);
    // Verified stamps go to the tests' scratch space, not the user's cache.
    cmd.env("XDG_CACHE_HOME", super::tmp_root().join("cache"));
    cmd
}

/// The number right before `marker` in `text` (a count in a `--timings` report), if the
/// marker is there.
pub fn count_before(text: &str, marker: &str) -> Option<u64> {
    text.split_once(marker)?.0.rsplit([' ', '(']).next()?.parse().ok()
}

/// The number right after `marker` in `text`, if the marker is there.
pub fn count_after(text: &str, marker: &str) -> Option<u64> {
    text.split_once(marker)?.1.split(' ').next()?.parse().ok()
}

/// The work directory of a test: `$CARGO_TARGET_TMPDIR/uvm-boot/vm/<test>`.
pub fn work_dir(test: &str) -> PathBuf {
    work_dir_in(Suite::Boot, test)
}

/// The work directory of a test of `suite`: `<suite tmp>/vm/<test>`.
pub fn work_dir_in(suite: Suite, test: &str) -> PathBuf {
    suite.tmp().join("vm").join(test)
}

/// Checks that KVM works; if not, fails (CI) or notes the skip. `false`: return early.
pub fn require_kvm(test: &str) -> bool {
    match super::kvm() {
        Ok(()) => true,
        Err(why) => {
            super::skip(test, &why);
            false
        }
    }
}

/// Stages a case for `test`; `None` (after the skip note, or a panic under CI) if its
/// toolchain is missing.
/// The image of the boot app `app` (its manifest `tests/manifests/<app>.toml`) built with
/// `toolchain`, for tests that run it their own way; None (with a note) without KVM or the
/// toolchain.
pub fn app_image(test: &str, app: &'static str, toolchain: Toolchain) -> Option<PathBuf> {
    manifest_image(test, app, app, toolchain)
}

/// [`app_image`] of boot app `app` packaged by the manifest `tests/manifests/<manifest>.toml`.
pub fn manifest_image(test: &str, manifest: &'static str, app: &'static str, toolchain: Toolchain) -> Option<PathBuf> {
    if !require_kvm(test) {
        return None;
    }
    let case = Case { suite: Suite::Boot, manifest, toolchain, app, runs: Vec::new() };
    let staged = stage_case(test, &case)?;
    Some(build(test, &staged))
}

pub fn stage_case(test: &str, case: &Case) -> Option<Staged> {
    match stage::stage_in(case.suite, &work_dir_in(case.suite, test), case.manifest, case.toolchain, case.app) {
        Ok(staged) => Some(staged),
        Err(why) => {
            super::skip(test, &why);
            None
        }
    }
}

/// Runs a command, panicking with everything it printed if it did not exit with `code`.
pub fn expect_code(test: &str, cmd: Command, code: i32) -> Output {
    let shown = format!("{cmd:?}");
    let out = process::run(cmd, None);
    if out.status.code() != Some(code) {
        panic!(
            "{test}: `{shown}` exited with {}, expected {code}\nstdout: {}\nstderr: {}",
            out.status,
            show(&out.stdout),
            show(&out.stderr)
        );
    }
    out
}

/// `uvm build MANIFEST`: must succeed, print the image's path and create it beside the manifest.
pub fn build(test: &str, staged: &Staged) -> PathBuf {
    let mut cmd = uvm([Path::new("build"), &staged.manifest_path]);
    // The documented default: every mtime in the image is 0 (tests list packaged files).
    cmd.env_remove("SOURCE_DATE_EPOCH");
    let out = expect_code(test, cmd, 0);
    let image = staged.default_image();
    assert!(image.is_file(), "{test}: `uvm build` succeeded but {} does not exist", image.display());
    let name = image.file_name().expect("name").to_string_lossy().into_owned();
    assert!(
        contains(&out.stdout, name.as_bytes()),
        "{test}: `uvm build` should print the image path (containing {name:?}); stdout: {}",
        show(&out.stdout)
    );
    image
}

/// The `uvm run` command for one run of a case: `uvm run TARGET [-e K=V].. [--memory-mib N]
/// [--cpus N] [-- ARGS]`.
pub fn run_command(target: &Path, run: &Run) -> Command {
    let mut cmd = uvm([Path::new("run"), target]);
    for (key, value) in &run.env {
        cmd.arg("-e").arg(format!("{key}={value}"));
    }
    if let Some(mib) = run.memory_mib {
        cmd.arg("--memory-mib").arg(mib.to_string());
    }
    if let Some(cpus) = run.cpus {
        cmd.arg("--cpus").arg(cpus.to_string());
    }
    if let Some(args) = &run.args {
        cmd.arg("--").args(args);
    }
    for (key, value) in &run.host_env {
        cmd.env(key, value);
    }
    cmd
}

/// Runs one run of a case with `target` (an image or a manifest) and checks it.
pub fn check_run(test: &str, target: &Path, run: &Run) {
    let cmd = run_command(target, run);
    let shown = format!("{cmd:?}");
    let start = Instant::now();
    let out = process::run(cmd, run.stdin.as_deref());
    let mut problems = judge_vm(run, &out);
    problems.extend(judge_elapsed(run, start.elapsed()));
    if !problems.is_empty() {
        panic!(
            "{test} [{}]: `{shown}`{}\n{}\n--- exit status: {}\n--- stdout: {}\n--- stderr: {}",
            run.label,
            if run.stdin.is_some() { " (with stdin)" } else { "" },
            problems.join("\n"),
            out.status,
            show(&out.stdout),
            show(&out.stderr)
        );
    }
}

/// What is wrong with a VM run's output (empty: nothing).
pub fn judge_vm(run: &Run, out: &Output) -> Vec<String> {
    let mut problems = Vec::new();
    let code = out.status.code();
    match run.status {
        Status::Code(want) if code != Some(want) => {
            problems.push(format!("expected exit status {want}, got {}", out.status));
        }
        Status::Signal(signo, name) => {
            if code != Some(128 + signo) {
                problems.push(format!("expected exit status {} (killed by {name}), got {}", 128 + signo, out.status));
            }
            // A broken pipe ends the app quietly, as in a shell pipeline; other signals are named.
            if signo == uvm_abi::signal::SIGPIPE as i32 {
                if contains(&out.stderr, b"uvm: ") {
                    problems.push("expected no word from uvm about a SIGPIPE death".to_string());
                }
            } else if !contains(&out.stderr, name.as_bytes()) {
                problems.push(format!("expected stderr to name the signal {name:?}"));
            }
        }
        Status::Fails if code == Some(0) || code.is_none() => {
            problems.push(format!("expected a non-zero exit status, got {}", out.status));
        }
        _ => {}
    }
    problems.extend(judge_stream("stdout", &run.stdout, &out.stdout));
    // With a fault, uvm's own fault line shares stderr with the app's: checked above.
    if !matches!(run.status, Status::Signal(..)) {
        problems.extend(judge_stream("stderr", &run.stderr, &out.stderr));
    }
    problems
}

/// What is wrong with a run's wall time (None: nothing).
pub fn judge_elapsed(run: &Run, elapsed: Duration) -> Option<String> {
    let min = run.min_elapsed?;
    (elapsed < min).then(|| format!("expected the run to take at least {min:?}, it took {elapsed:?}"))
}

/// What is wrong with one output stream (None: nothing).
pub fn judge_stream(name: &str, want: &Out, got: &[u8]) -> Option<String> {
    if want.matches(got) {
        return None;
    }
    Some(match want {
        Out::Exact(w) => format!("{name} differs: {}; expected {}", first_difference(w, got), show(w)),
        Out::Contains(w) => format!("{name} should contain {}", show(w)),
        Out::Lacks(w) => format!("{name} should not contain {}", show(w)),
        Out::All(all) => all.iter().filter_map(|out| judge_stream(name, out, got)).collect::<Vec<_>>().join("\n"),
    })
}

/// The whole test for a case: KVM check, stage, `uvm build`, then every run.
pub fn check_case(test: &str, case: Case) {
    if !require_kvm(test) {
        return;
    }
    let Some(staged) = stage_case(test, &case) else {
        return;
    };
    let image = build(test, &staged);
    for run in &case.runs {
        check_run(test, &image, run);
    }
}
