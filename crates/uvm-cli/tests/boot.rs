//! Boot tests: build each test app, package it with `uvm build`, boot it with `uvm run` and
//! check its exact stdout, stderr and exit status. See tests/README.md.
//!
//! Without /dev/kvm (or without musl-gcc / busybox) the affected tests print a note and pass;
//! with `CI=true` they fail instead.

mod support;

use support::apps::Toolchain::{self, Glibc, Go, Musl};
use support::cases::{self, contains, Run};
use support::process::{self, show};
use support::vm::{self, check_case, expect_code, uvm};

/// One `#[test]` per (scenario, libc).
macro_rules! boot_tests {
    ($($test:ident => $case:expr;)*) => {
        $(
            #[test]
            fn $test() {
                check_case(stringify!($test), $case);
            }
        )*
    };
}

boot_tests! {
    glibc_hello => cases::hello(Glibc);
    musl_hello => cases::hello(Musl);
    glibc_stdio_split => cases::stdio_split(Glibc);
    musl_stdio_split => cases::stdio_split(Musl);
    glibc_args_env => cases::args_env(Glibc);
    musl_args_env => cases::args_env(Musl);
    glibc_args_override => cases::args_override(Glibc);
    musl_args_override => cases::args_override(Musl);
    glibc_env_override => cases::env_override(Glibc);
    musl_env_override => cases::env_override(Musl);
    glibc_workdir => cases::workdir(Glibc);
    musl_workdir => cases::workdir(Musl);
    glibc_stdin_echo => cases::stdin_echo(Glibc);
    musl_stdin_echo => cases::stdin_echo(Musl);
    glibc_files => cases::files(Glibc);
    musl_files => cases::files(Musl);
    glibc_tmp_write => cases::tmp_write(Glibc);
    musl_tmp_write => cases::tmp_write(Musl);
    glibc_root_write => cases::root_write(Glibc);
    musl_root_write => cases::root_write(Musl);
    glibc_crash => cases::crash(Glibc);
    musl_crash => cases::crash(Musl);
    glibc_hot_syscalls => cases::hot_syscalls(Glibc);
    musl_hot_syscalls => cases::hot_syscalls(Musl);
    glibc_itimer => cases::itimer(Glibc);
    musl_itimer => cases::itimer(Musl);
    glibc_timerfd => cases::timerfd(Glibc);
    musl_timerfd => cases::timerfd(Musl);
    glibc_signalfd => cases::signalfd(Glibc);
    musl_signalfd => cases::signalfd(Musl);
    glibc_inotify => cases::inotify(Glibc);
    musl_inotify => cases::inotify(Musl);
    glibc_pidfd => cases::pidfd(Glibc);
    musl_pidfd => cases::pidfd(Musl);
    glibc_creds => cases::creds(Glibc);
    musl_creds => cases::creds(Musl);
    glibc_jobs => cases::jobs(Glibc);
    musl_jobs => cases::jobs(Musl);
    glibc_dac => cases::dac(Glibc);
    musl_dac => cases::dac(Musl);
    glibc_cputime => cases::cputime(Glibc);
    musl_cputime => cases::cputime(Musl);
    glibc_fifo => cases::fifo(Glibc);
    musl_fifo => cases::fifo(Musl);
    glibc_posix_timer => cases::posix_timer(Glibc);
    musl_posix_timer => cases::posix_timer(Musl);
    glibc_misc_calls => cases::misc_calls(Glibc);
    musl_misc_calls => cases::misc_calls(Musl);
    glibc_prctl => cases::prctl(Glibc);
    musl_prctl => cases::prctl(Musl);
    glibc_exec => cases::exec(Glibc);
    musl_exec => cases::exec(Musl);
    glibc_clone_refused => cases::clone_refused(Glibc);
    musl_clone_refused => cases::clone_refused(Musl);
    glibc_fork => cases::fork(Glibc);
    musl_fork => cases::fork(Musl);
    glibc_locks => cases::locks(Glibc);
    musl_locks => cases::locks(Musl);
    glibc_guard_page => cases::guard_page(Glibc);
    musl_guard_page => cases::guard_page(Musl);
    glibc_remap => cases::remap(Glibc);
    musl_remap => cases::remap(Musl);
    glibc_exit_code => cases::exit_code(Glibc);
    musl_exit_code => cases::exit_code(Musl);
    glibc_memory_mib => cases::memory(Glibc);
    musl_memory_mib => cases::memory(Musl);
    glibc_sig_segv => cases::sig_segv(Glibc);
    musl_sig_segv => cases::sig_segv(Musl);
    glibc_sig_context => cases::sig_context(Glibc);
    musl_sig_context => cases::sig_context(Musl);
    glibc_sig_avx => cases::sig_avx(Glibc);
    musl_sig_avx => cases::sig_avx(Musl);
    glibc_cpu_features => cases::cpu_features(Glibc);
    musl_cpu_features => cases::cpu_features(Musl);
    glibc_sig_fpe => cases::sig_fpe(Glibc);
    musl_sig_fpe => cases::sig_fpe(Musl);
    glibc_sig_raise => cases::sig_raise(Glibc);
    musl_sig_raise => cases::sig_raise(Musl);
    glibc_sig_mask => cases::sig_mask(Glibc);
    musl_sig_mask => cases::sig_mask(Musl);
    glibc_sig_altstack => cases::sig_altstack(Glibc);
    musl_sig_altstack => cases::sig_altstack(Musl);
    glibc_sig_abort => cases::sig_abort(Glibc);
    musl_sig_abort => cases::sig_abort(Musl);
    glibc_pipes => cases::pipes(Glibc);
    musl_pipes => cases::pipes(Musl);
    glibc_epoll => cases::epoll(Glibc);
    musl_epoll => cases::epoll(Musl);
    glibc_unix_sockets => cases::unix_sockets(Glibc);
    musl_unix_sockets => cases::unix_sockets(Musl);
    glibc_remap_threads => cases::remap_threads(Glibc);
    musl_remap_threads => cases::remap_threads(Musl);
    glibc_thread_signals => cases::thread_signals(Glibc);
    musl_thread_signals => cases::thread_signals(Musl);
    glibc_fdcopy => cases::fdcopy(Glibc);
    musl_fdcopy => cases::fdcopy(Musl);
    glibc_mremap => cases::mremap(Glibc);
    musl_mremap => cases::mremap(Musl);
    glibc_madvise => cases::madvise(Glibc);
    musl_madvise => cases::madvise(Musl);
    glibc_procfs => cases::procfs(Glibc);
    musl_procfs => cases::procfs(Musl);
    glibc_fsmisc => cases::fsmisc(Glibc);
    musl_fsmisc => cases::fsmisc(Musl);
    rust_hello => cases::rust_hello();
    rust_collections => cases::rust_collections();
    busybox_echo => cases::busybox_echo();
    busybox_cat => cases::busybox_cat();
}

/// Rust's stack-overflow report in the VM: the case's checks, plus std's message on stderr
/// (with a signal status, `check_case` looks only for the signal's name there).
#[test]
fn rust_stack_overflow() {
    let test = "rust_stack_overflow";
    if !vm::require_kvm(test) {
        return;
    }
    let case = cases::rust_stack_overflow();
    let Some(staged) = vm::stage_case(test, &case) else {
        return;
    };
    let image = vm::build(test, &staged);
    for run in &case.runs {
        let out = process::run(vm::run_command(&image, run), run.stdin.as_deref());
        let mut problems = vm::judge_vm(run, &out);
        if !contains(&out.stderr, cases::RUST_OVERFLOW_MESSAGE) {
            problems.push(format!("stderr should contain {}", show(cases::RUST_OVERFLOW_MESSAGE)));
        }
        assert!(
            problems.is_empty(),
            "{test} [{}]:\n{}\n--- exit status: {}\n--- stdout: {}\n--- stderr: {}",
            run.label,
            problems.join("\n"),
            out.status,
            show(&out.stdout),
            show(&out.stderr)
        );
    }
}

// ---------------------------------------------------------------- the CLI surface

/// Stages the glibc `hello` case for a CLI test (None: skipped).
fn stage_hello(test: &str) -> Option<support::stage::Staged> {
    vm::stage_case(test, &cases::hello(Toolchain::Glibc))
}

/// `uvm run MANIFEST` builds the image and runs it, with `-e` and `-- ARGS` working as for an image.
#[test]
fn cli_run_manifest_builds_then_runs() {
    let test = "cli_run_manifest_builds_then_runs";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = stage_hello(test) else {
        return;
    };
    vm::check_run(test, &staged.manifest_path, &Run::new("uvm run MANIFEST").stdout("Hello, world!\n"));
    let run = Run::new("uvm run MANIFEST -e .. -- ..").env("GREETING", "Bye").args(&["moon"]).stdout("Bye, moon!\n");
    vm::check_run(test, &staged.manifest_path, &run);
}

/// `uvm run --timings [EXTRA]` of a hello image built for `test`, each start with the
/// test's own cache directory (returned too), emptied first: the first start learns the
/// image's hot pages. `None` when the hello cannot be staged.
fn timed_hello_starts(test: &str) -> Option<(impl Fn(&[&str]) -> process::Output + '_, std::path::PathBuf)> {
    let staged = stage_hello(test)?;
    let image = vm::build(test, &staged);
    let cache = vm::work_dir(test).join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    let for_starts = cache.clone();
    let start = move |extra: &[&str]| {
        let mut cmd = uvm([std::ffi::OsStr::new("run"), image.as_os_str(), "--timings".as_ref()]);
        cmd.args(extra).env("XDG_CACHE_HOME", &for_starts);
        expect_code(test, cmd, 0)
    };
    Some((start, cache))
}

/// A start without a hot-page profile for its image learns one (the app's read-only pages
/// the guest touched: the guest kernel reports them at the app's exit) and the next start
/// copies those pages (grown to whole groups of 8) into RAM before boot, so KVM maps them 8
/// to a fault: fewer shadow-page faults, the same output. The profile also holds the fresh
/// frames the first start touched, which later starts back ahead. A profile that is not one
/// is only ignored.
#[test]
fn a_second_start_copies_the_pages_the_first_touched() {
    let test = "a_second_start_copies_the_pages_the_first_touched";
    if !vm::require_kvm(test) || !std::path::Path::new("/sys/module/kvm_pvm").exists() {
        return;
    }
    let Some((start_hello, cache)) = timed_hello_starts(test) else {
        return;
    };
    let start = || {
        let out = start_hello(&[]);
        assert_eq!(out.stdout, b"Hello, world!\n", "{test}: the app's output");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let faults = vm::count_after(&stderr, "kvm: ").unwrap_or_else(|| panic!("{test}: no fault count in\n{stderr}"));
        (faults, stderr)
    };
    let (learning, learning_timings) = start();
    let profiles: Vec<_> = std::fs::read_dir(cache.join("uvm/hot-pages")).unwrap().flatten().collect();
    assert_eq!(profiles.len(), 1, "{test}: one profile learned");
    let profile = std::fs::read_to_string(profiles[0].path()).unwrap();
    assert!(profile.starts_with("uvm-hot-pages 4\n") && profile.lines().count() > 20, "{test}: {profile}");
    assert!(profile.lines().any(|line| line.starts_with("fresh ")), "{test}: no fresh frames learned: {profile}");
    let (copied, copied_timings) = start();
    assert!(
        copied + 20 <= learning,
        "{test}: {copied} shadow-page faults with the copies, {learning} without\n\
         with the copies:\n{copied_timings}\nwithout:\n{learning_timings}"
    );
    // Another command line learns a profile of its own.
    let other = start_hello(&["--", "another", "command", "line"]);
    let other = String::from_utf8_lossy(&other.stderr);
    assert!(other.contains("hot pages: learned"), "{test}: {other}");
    assert_eq!(std::fs::read_dir(cache.join("uvm/hot-pages")).unwrap().count(), 2, "{test}: one per command line");
    std::fs::write(profiles[0].path(), "not a profile\n").unwrap();
    start();
    // --no-hot-pages: no copies, and nothing learned.
    std::fs::remove_dir_all(&cache).unwrap();
    let out = start_hello(&["--no-hot-pages"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hot pages: off"), "{test}: {stderr}");
    assert!(!cache.join("uvm/hot-pages").exists(), "{test}: a profile learned with --no-hot-pages");
}

/// `uvm run --timings IMAGE -- sh -c SCRIPT` of a busybox image built for `test`, each start
/// with the test's own cache directory (returned too), emptied first, so the first start
/// learns the image's profile: a start checks the script's stdout and returns its stderr.
/// `None` when busybox cannot be staged.
fn timed_busybox_script<'a>(
    test: &'a str,
    script: &'a str,
    stdout: &'a str,
) -> Option<(impl Fn() -> String + 'a, std::path::PathBuf)> {
    let staged = vm::stage_case(test, &cases::busybox_echo())?;
    let image = vm::build(test, &staged);
    let cache = vm::work_dir(test).join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    let for_starts = cache.clone();
    let start = move || {
        let mut cmd = uvm([std::ffi::OsStr::new("run"), image.as_os_str(), "--timings".as_ref()]);
        cmd.args(["--", "sh", "-c", script]).env("XDG_CACHE_HOME", &for_starts);
        let out = expect_code(test, cmd, 0);
        assert_eq!(String::from_utf8_lossy(&out.stdout), stdout, "{test}: the script's output");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    Some((start, cache))
}

/// A start learns how many vCPUs its app ran (a script's processes run one each), and the
/// next start makes the ones after the first while the guest boots: the shell's children
/// then take vCPUs made ahead, with the same output. The script counts in a loop first, so
/// that its first child comes after the image thread has had time to make them.
#[test]
fn a_second_start_makes_ahead_the_vcpus_the_first_ran() {
    let test = "a_second_start_makes_ahead_the_vcpus_the_first_ran";
    if !vm::require_kvm(test) {
        return;
    }
    // ~40 ms of counting here, against ~2 ms of copies, fresh frames and vCPUs on the image
    // thread before the vCPUs are made.
    let script = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo a | cat; echo b | cat";
    let Some((run_script, cache)) = timed_busybox_script(test, script, "a\nb\n") else {
        return;
    };
    let start = || {
        let stderr = run_script();
        let line = stderr.lines().find(|l| l.contains("vCPUs started: ")).map(str::to_owned);
        line.unwrap_or_else(|| panic!("{test}: no vCPU count in\n{stderr}"))
    };
    let learning = start();
    assert!(!learning.contains("made ahead"), "{test}: nothing to make ahead yet: {learning}");
    let started = vm::count_after(&learning, "vCPUs started: ").expect("a count");
    assert!(started >= 2, "{test}: a pipeline runs on vCPUs of its own: {learning}");
    let profiles: Vec<_> = std::fs::read_dir(cache.join("uvm/hot-pages")).unwrap().flatten().collect();
    let profile = std::fs::read_to_string(profiles[0].path()).unwrap();
    assert!(profile.lines().any(|l| l == format!("vcpus {started}")), "{test}: the count learned: {profile}");
    let ahead = start();
    let made = vm::count_after(&ahead, "(").unwrap_or_else(|| panic!("{test}: nothing made ahead: {ahead}"));
    let taken = vm::count_after(&ahead, "booted, ").unwrap_or_else(|| panic!("{test}: {ahead}"));
    // At most one fewer than the first start ran; a child that came first makes its own.
    assert!(made >= 1 && made <= (started - 1).min(3), "{test}: vCPUs made ahead: {ahead}");
    assert!(taken >= 1 && taken <= made, "{test}: the children took vCPUs made ahead: {ahead}");
}

/// A start with hot copies gives them back a second after its boot, at the first park from
/// then on: every entry that mapped a copy maps the image page again, in every process, and
/// the host frees the frames. Here a background shell spins in app code on another vCPU while
/// the foreground one sleeps across that time; after it, new processes run the same program's
/// pages (now the image's), and the output is what it was. The first start learns (no copies,
/// nothing to give back).
#[test]
fn hot_copies_are_given_back_once_the_app_has_started() {
    let test = "hot_copies_are_given_back_once_the_app_has_started";
    if !vm::require_kvm(test) {
        return;
    }
    let script = "(i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); done; echo spun) & sleep 1.2; \
                  for w in a b c; do echo $w | cat; done | tr a-z A-Z; \
                  echo hello | sed s/h/j/ | awk '{print toupper($0)}'; touch /tmp/stop; wait";
    let Some((start, _)) = timed_busybox_script(test, script, "A\nB\nC\nJELLO\nspun\n") else {
        return;
    };
    let learning = start();
    assert!(learning.contains("hot pages: learned"), "{test}: {learning}");
    assert!(!learning.contains("given back"), "{test}: no copies to give back: {learning}");
    let copied = start();
    let line = copied.lines().find(|l| l.contains("hot copies given back at ")).unwrap_or_else(|| {
        panic!("{test}: no copies given back:\n{copied}");
    });
    let pages = vm::count_after(line, "guest: ").unwrap_or(0);
    let at_ms: f64 = line.split_once(" at ").and_then(|(_, rest)| rest.split(' ').next()?.parse().ok()).unwrap_or(0.0);
    let entries = vm::count_after(line, "ms (").unwrap_or(0);
    assert!(pages >= 50 && (1000.0..1200.0).contains(&at_ms), "{test}: after a second, at the sleep's park: {line}");
    assert!(entries >= pages / 2, "{test}: the entries that mapped them pointed back: {line}");
}

/// `uvm run --timings` prints every phase and the counts on stderr, leaving the app's output
/// alone. On PVM it also checks glibc's start-up cost in traps: with leaf 2 describing the
/// caches, glibc's `cpuid`s are ~35, not the ~68 of a cache walk through leaf 4; with its
/// writable data prestaged, the kernel's hot text first and the app's hot pages copied, its
/// shadow-page faults are ~47 (~80 without the copies, ~86 in the start that learns them).
/// The VM's clock is the host's: setting it is refused (EPERM, as in a container), and the
/// clock keeps its time. The kernel log is empty (the guest kernel logs nothing for the
/// app): `dmesg` prints nothing and succeeds. (Not in the compatibility suite: natively, as
/// root, `date -s` would set the host's clock.)
#[test]
fn the_clock_cannot_be_set_and_the_kernel_log_is_empty() {
    let test = "the_clock_cannot_be_set_and_the_kernel_log_is_empty";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = vm::stage_case(test, &cases::busybox_echo()) else { return };
    let image = vm::build(test, &staged);
    let script = "date -s 2001-02-03 2>&1 >/dev/null; [ $(date +%Y) -gt 2001 ] && echo kept; \
                  dmesg > /tmp/log; echo dmesg $? $(wc -c < /tmp/log)";
    let mut cmd = uvm([std::ffi::OsStr::new("run"), image.as_os_str()]);
    cmd.args(["--", "sh", "-c", script]);
    let out = expect_code(test, cmd, 0);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "date: can't set date: Operation not permitted\nkept\ndmesg 0 0\n",
        "{test}: stderr: {}",
        show(&out.stderr)
    );
}

#[test]
fn cli_run_timings_breakdown() {
    let test = "cli_run_timings_breakdown";
    if !vm::require_kvm(test) {
        return;
    }
    // The first start of an image learns its hot pages, with ~7 faults more; the second
    // copies them (`a_second_start_copies_the_pages_the_first_touched`).
    let Some((start_hello, _)) = timed_hello_starts(test) else {
        return;
    };
    let start = || start_hello(&[]);
    let learning = start();
    let out = start();
    assert_eq!(out.stdout, b"Hello, world!\n", "{test}: the app's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for phase in [
        "open image",
        "stage memory",
        "create VM",
        "create vCPU",
        "memory slots",
        "wait for image",
        "guest run",
        "total",
    ] {
        assert!(
            stderr.lines().any(|l| l.trim_start().starts_with(phase) && l.contains(" us")),
            "{test}: no {phase:?} line in\n{stderr}"
        );
    }
    for count in ["kernel entered at", "syscalls served in the VM", "exits: ", "teardown"] {
        assert!(stderr.contains(count), "{test}: no {count:?} in\n{stderr}");
    }
    // A hello never grows into the part of its 64 MiB registered before boot (`late_ram`),
    // nor of 1 GiB: the host keeps KVM's metadata for 32 MiB either way.
    assert!(
        stderr.contains("RAM slot") && stderr.contains("32 of 64 MiB registered with KVM"),
        "{test}: no RAM slot line in\n{stderr}"
    );
    let large = start_hello(&["--memory-mib", "1024"]);
    let large_stderr = String::from_utf8_lossy(&large.stderr);
    assert_eq!(large.stdout, b"Hello, world!\n", "{test}: the app's output with 1 GiB");
    assert!(
        large_stderr.contains("32 of 1024 MiB registered with KVM") && !large_stderr.contains("late RAM slot"),
        "{test}: a hello with 1 GiB registered more than 32 MiB\n{large_stderr}"
    );
    if std::path::Path::new("/sys/module/kvm_pvm").exists() {
        // The number right after `marker` in the `kvm:` line.
        let count_after = |marker: &str| {
            vm::count_after(&stderr, marker).unwrap_or_else(|| panic!("{test}: no count after {marker:?} in\n{stderr}"))
        };
        // 80 with the app's data prestaged by the VMM and the kernel's hot text first
        // (guest/kernel/hot-text.ld; regenerate it with scripts/kernel-hot-text.py when this
        // fails after a kernel change), ~93 while learning the hot pages, ~47 with their
        // copies. A few over are allowed; a hot function that fell out of the list costs one.
        let learning_stderr = String::from_utf8_lossy(&learning.stderr);
        let learned = vm::count_after(&learning_stderr, "kvm: ").unwrap_or(0);
        assert!(learned <= 100, "{test}: {learned} shadow-page faults learning a glibc hello\n{learning_stderr}");
        let faults = count_after("kvm: ");
        assert!(faults <= 55, "{test}: {faults} shadow-page faults for a glibc hello\n{stderr}");
        let emulated = count_after(" shadow-page faults, ");
        assert!(emulated <= 45, "{test}: {emulated} emulated instructions (cpuid traps) for a glibc hello\n{stderr}");
    }
}

/// `--timings` tells the unpark doorbells KVM rings itself apart from the guest's page-table
/// writes: KVM emulates the faulting store of both, and the report once counted every
/// doorbell as a page-table write (a Go service showed ~70 of them, of which 9 were). The
/// `threads` app's threads wake each other thousands of times (most within a waker's spin,
/// with no doorbell: the guest kernel's `wake`; still 100-170 of them ring); its page tables
/// change little.
#[test]
fn timings_count_doorbells_apart_from_page_table_writes() {
    let test = "timings_count_doorbells_apart_from_page_table_writes";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = vm::stage_case(test, &support::compat::c_threads(Musl)) else {
        return;
    };
    let image = vm::build(test, &staged);
    let out = expect_code(test, uvm([std::ffi::OsStr::new("run"), image.as_os_str(), "--timings".as_ref()]), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let Some(kvm_line) = stderr.lines().find(|l| l.trim_start().starts_with("kvm: ")) else {
        // KVM without binary statistics: nothing to split.
        return;
    };
    let count_before = |marker: &str| {
        vm::count_before(kvm_line, marker).unwrap_or_else(|| panic!("{test}: no count before {marker:?} in\n{stderr}"))
    };
    let doorbells = count_before(" doorbells rung inside KVM");
    let table_writes = count_before(" page-table writes");
    assert!(doorbells >= 10, "{test}: only {doorbells} doorbells rung inside KVM\n{stderr}");
    assert!(table_writes <= 50, "{test}: {table_writes} page-table writes (doorbells counted in?)\n{stderr}");
}

/// Forks one after another leave the guest's memory as it was: each child's tables and
/// frames go to the next fork (the guest kernel's spare trees) and nothing else stays. The
/// fork app's `many` part forks 200 children in a row and 8 at once; a first version of the
/// spare trees kept ~24 KiB more of the kernel heap per fork (its page runs split by a list
/// of the spare's entries), 2.4 MiB here against ~0.5 MiB.
#[test]
fn forks_one_after_another_leave_guest_memory_as_it_was() {
    let test = "forks_one_after_another_leave_guest_memory_as_it_was";
    let Some(stderr) = fork_part_timings(test, "many") else {
        return;
    };
    let Some(in_use) = vm::count_before(&stderr, " KiB of guest memory in use") else {
        panic!("{test}: no guest memory figure in\n{stderr}");
    };
    assert!(in_use <= 1536, "{test}: {in_use} KiB of guest memory in use after 208 forks\n{stderr}");
}

/// A fork copies its parent into frames the host backs ahead of the copy (one `back-ram`
/// hypercall), so the copies' first touches take a shadow-page fault per 8 pages instead of
/// one each. The fork app's `big` part forks a parent that wrote 4 MiB: 2720 faults without
/// the backing, 1706 with it.
#[test]
fn a_fork_has_its_copies_backed_ahead() {
    let test = "a_fork_has_its_copies_backed_ahead";
    let Some(stderr) = fork_part_timings(test, "big") else {
        return;
    };
    assert_eq!(line_count(&stderr, "exits: ", "back-ram "), Some(1), "{test}: one back-ram exit\n{stderr}");
    if let Some(faults) = vm::count_before(&stderr, " shadow-page faults") {
        assert!(faults <= 2000, "{test}: {faults} shadow-page faults\n{stderr}");
    }
}

/// A process's munmap flushes only the vCPUs on its tables: a sibling process spinning on
/// another vCPU is not kicked out of the guest for it. The fork app's `sibling` part unmaps
/// 300 times while a child spins: KVM counted ~300 signal exits (the kicks) before, ~2 now.
#[test]
fn an_unmap_does_not_stop_another_process() {
    let test = "an_unmap_does_not_stop_another_process";
    let Some(stderr) = fork_part_timings(test, "sibling") else {
        return;
    };
    // KVM's counters, where it has binary statistics.
    let Some(kicks) = line_count(&stderr, "kvm vcpu counters:", "signal_exits=") else {
        return;
    };
    assert!(kicks <= 50, "{test}: {kicks} signal exits\n{stderr}");
}

/// A signal for a thread parked in the guest kernel (a parent in waitpid getting SIGCHLD)
/// wakes it, which looks at its signals, instead of interrupting its vCPU: an interrupt of a
/// vCPU in kernel code is a kick out of the guest every 200 us until it reaches app code.
/// The fork app's `sigchld` part reaps 20 children with a SIGCHLD handler: 20-21 interrupt
/// hypercalls before, ~0 now.
#[test]
fn a_signal_for_a_waiting_thread_wakes_it_without_an_interrupt() {
    let test = "a_signal_for_a_waiting_thread_wakes_it_without_an_interrupt";
    let Some(stderr) = fork_part_timings(test, "sigchld") else {
        return;
    };
    let Some(interrupts) = line_count(&stderr, "exits: ", "interrupt ") else {
        panic!("{test}: no exits line in\n{stderr}");
    };
    assert!(interrupts <= 5, "{test}: {interrupts} interrupt hypercalls\n{stderr}");
}

/// The count after `name` on the `--timings` line that starts with `line` (0 when the line
/// leaves it out, as it does counts at 0); `None` without such a line.
fn line_count(stderr: &str, line: &str, name: &str) -> Option<u64> {
    let found = stderr.lines().find(|l| l.trim_start().starts_with(line))?;
    Some(found.split_once(name).map_or(0, |(_, rest)| {
        rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(u64::MAX)
    }))
}

/// The `--timings` report (stderr) of the fork app's `part` run in a VM, which must exit 0;
/// `None` when the test cannot run here (no /dev/kvm, no compiler).
fn fork_part_timings(test: &str, part: &str) -> Option<String> {
    if !vm::require_kvm(test) {
        return None;
    }
    let staged = vm::stage_case(test, &cases::fork(Glibc))?;
    let image = vm::build(test, &staged);
    let run = [std::ffi::OsStr::new("run"), image.as_os_str(), "--timings".as_ref(), "--".as_ref(), part.as_ref()];
    let out = expect_code(test, uvm(run), 0);
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `uvm run` confined to one CPU (`taskset -c 0`, as a cpuset or a pinned container gives it)
/// boots: its image-opening thread, otherwise started on another CPU than the main thread's
/// (`AllowedCpus::spawn_elsewhere`), then shares the one CPU with it.
#[test]
fn a_run_confined_to_one_cpu_boots() {
    let test = "a_run_confined_to_one_cpu_boots";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = stage_hello(test) else {
        return;
    };
    let image = vm::build(test, &staged);
    let run = uvm([std::ffi::OsStr::new("run"), image.as_os_str(), "--timings".as_ref()]);
    let mut confined = std::process::Command::new("taskset");
    confined.args(["-c", "0"]).arg(run.get_program()).args(run.get_args());
    for (key, value) in run.get_envs() {
        if let Some(value) = value {
            confined.env(key, value);
        }
    }
    let out = expect_code(test, confined, 0);
    assert_eq!(out.stdout, b"Hello, world!\n", "{test}: the app's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wait for image"), "{test}: no --timings report\n{stderr}");
}

/// A syscall site that keeps trapping is rewritten to jump into the kernel (on PVM, where the
/// trap costs ~6 us): `--timings` counts the sites and the calls that came through them. The
/// C app's 2000 `getppid`s come from one `mov $nr, %eax; syscall` site in both libcs; with
/// musl its pipe reads and writes (840 before its signal test, thousands in it) from the one
/// site its I/O goes through; with glibc its writes from `write`'s `mov $nr, %eax` sites and
/// its reads from `read`'s two `xor %eax, %eax` sites (before and after the first thread).
/// The Go app's 2000 pipe reads and writes come from the one site all Go I/O goes through.
/// The C app's 1000 rounds of stat, fstat, mmap and munmap come from sites with argument moves
/// between the `mov $nr, %eax` and the `syscall` in musl: those are rewritten too, so that few
/// calls trap in all.
#[test]
fn hot_syscall_sites_are_patched() {
    let test = "hot_syscall_sites_are_patched";
    if !std::path::Path::new("/sys/module/kvm_pvm").exists() {
        eprintln!("{test}: skipped: sites are patched only on PVM hosts");
        return;
    }
    for (toolchain, first_line, least) in [
        (Glibc, "a read blocked before its site was rewritten", 2700),
        (Musl, "a read blocked before its site was rewritten", 2700),
        (Go, "pipe round trips x1000: 0 wrong\n", 1900),
    ] {
        let Some(image) = vm::app_image(test, "hot_syscalls", toolchain) else { return };
        let out = expect_code(test, uvm(["run".as_ref(), image.as_os_str(), "--timings".as_ref()]), 0);
        assert!(out.stdout.starts_with(first_line.as_bytes()), "{test} ({toolchain:?}): {}", show(&out.stdout));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let served = vm::count_before(&stderr, " syscalls served in the VM (")
            .unwrap_or_else(|| panic!("{test}: no syscall count in\n{stderr}"));
        let counts = stderr
            .split("syscalls served in the VM (")
            .nth(1)
            .and_then(|rest| rest.split(" patched sites)").next())
            .and_then(|s| s.split_once(" through "))
            .and_then(|(calls, sites)| Some((calls.parse::<u64>().ok()?, sites.parse::<u64>().ok()?)))
            .unwrap_or_else(|| panic!("{test}: no patched-site counts in\n{stderr}"));
        let (calls, sites) = counts;
        assert!(sites >= 1, "{test} ({toolchain:?}): no site patched\n{stderr}");
        assert!(calls >= least, "{test} ({toolchain:?}): only {calls} calls through patched sites\n{stderr}");
        // Each hot site traps only until it is rewritten: the app's start-up and a few calls
        // per site. (musl's stat, fstat, mmap and munmap, whose `mov $nr, %eax` comes before
        // their argument moves, trapped all their ~4000 calls before those sites were.)
        let trapped = served - calls;
        assert!(trapped <= 400, "{test} ({toolchain:?}): {trapped} of {served} calls trapped\n{stderr}");
    }
}

/// Apps with a read-only 2 MiB chunk: `uvm build` lays each out so that the chunk lies
/// 2 MiB-aligned in the image, and with `--no-hot-pages` the guest maps it with one large page
/// where the host allows huge pages (`--timings` counts them; `uvm inspect` says so). By
/// default (hot copies on) it maps small pages.
/// - A Go binary the size of a small service (tests/apps/go/large_pages.go, ~4.5 MB). Its
///   Syscall6 site lies in that chunk, so with a large page the kernel rewrites it only after
///   512 traps, splitting the large page; the app's 2000 pipe reads and writes must still all
///   be right, ~1500 of them through the rewritten site. By default, or on a host whose huge
///   pages are off, the chunk stays small and the site is rewritten after 8 traps.
/// - A static-pie Rust binary with 3 MiB of read-only data (tests/apps/rust/large_pages.rs):
///   loaded where that run of pages starts on a 2 MiB boundary (`pie_load_bias`), and every
///   page of it read right.
#[test]
fn read_only_chunks_map_with_large_pages() {
    let test = "read_only_chunks_map_with_large_pages";
    let huge_pages_on = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .is_ok_and(|policy| policy.contains("[always]") || policy.contains("[madvise]"));
    let on_pvm = std::path::Path::new("/sys/module/kvm_pvm").exists();
    for (toolchain, expected, least_patched) in [
        (Go, &b"pipe round trips x1000: {\"wrong\":0}\n"[..], Some(if huge_pages_on { 1300 } else { 1900 })),
        (Toolchain::Rust, &b"read 3072 KiB of read-only data: sum 34048\n"[..], None),
    ] {
        let Some(image) = vm::app_image(test, "large_pages", toolchain) else { return };
        let inspect = expect_code(test, uvm(["inspect".as_ref(), image.as_os_str()]), 0);
        let laid_out = b"large pages:  its read-only 2 MiB chunks map with large pages";
        assert!(contains(&inspect.stdout, laid_out), "{test} ({toolchain:?}): {}", show(&inspect.stdout));
        // Settled, so that this first (hashing) run leaves a verified stamp for the second.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let shared = ["run".as_ref(), image.as_os_str(), "--timings".as_ref(), "--no-hot-pages".as_ref()];
        let out = expect_code(test, uvm(shared), 0);
        assert_eq!(out.stdout, expected, "{test} ({toolchain:?}): {}", show(&out.stdout));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let number_before = |stderr: &str, marker: &str| -> u64 {
            vm::count_before(stderr, marker)
                .unwrap_or_else(|| panic!("{test} ({toolchain:?}): no count before {marker:?} in\n{stderr}"))
        };
        let large = number_before(&stderr, " large pages (2 MiB chunks");
        if huge_pages_on && large >= 1 {
            // The page cache dropped and the image read again in small folios (as by another
            // program, or a cache reclaimed and refilled piecemeal): a later run, vouched for
            // by the stamp, reads the chunks in again as 2 MiB folios, since the first run
            // noted that this host gives the file those.
            read_back_in_small_folios(&image);
            let again = expect_code(test, uvm(shared), 0);
            let again = String::from_utf8_lossy(&again.stderr).into_owned();
            assert!(again.contains("vouched for by a verified stamp"), "{test} ({toolchain:?}): {again}");
            let large = number_before(&again, " large pages (2 MiB chunks");
            assert!(large >= 1, "{test} ({toolchain:?}): no 2 MiB page after the cache was refilled\n{again}");
        }
        if huge_pages_on {
            assert!(large >= 1, "{test} ({toolchain:?}): no 2 MiB page\n{stderr}");
        } else {
            assert_eq!(large, 0, "{test} ({toolchain:?}): 2 MiB pages on a host without huge pages\n{stderr}");
        }
        if let (Some(least), true) = (least_patched, on_pvm) {
            let patched = number_before(&stderr, " through ");
            assert!(patched >= least, "{test} ({toolchain:?}): only {patched} calls through patched sites\n{stderr}");
        }
        // With the hot copies (the default): small pages, and the sites rewritten after 8 traps.
        let copied = expect_code(test, uvm(["run".as_ref(), image.as_os_str(), "--timings".as_ref()]), 0);
        assert_eq!(copied.stdout, expected, "{test} ({toolchain:?}): {}", show(&copied.stdout));
        let copied = String::from_utf8_lossy(&copied.stderr).into_owned();
        assert_eq!(number_before(&copied, " large pages (2 MiB chunks"), 0, "{test} ({toolchain:?}): {copied}");
        if let (Some(_), true) = (least_patched, on_pvm) {
            let patched = number_before(&copied, " through ");
            assert!(patched >= 1900, "{test} ({toolchain:?}): only {patched} calls through patched sites\n{copied}");
        }
    }
}

extern "C" {
    fn posix_fadvise(fd: std::ffi::c_int, offset: i64, len: i64, advice: std::ffi::c_int) -> std::ffi::c_int;
}

/// Drops `path`'s pages from the host's page cache and reads it back 4 KiB at a time, which
/// fills the cache with small folios.
fn read_back_in_small_folios(path: &std::path::Path) {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    const POSIX_FADV_DONTNEED: std::ffi::c_int = 4;
    let mut file = std::fs::File::open(path).expect("open the image");
    // SAFETY: posix_fadvise takes an open descriptor and plain integers; it only advises the
    // kernel about the file's cached pages.
    assert_eq!(unsafe { posix_fadvise(file.as_raw_fd(), 0, 0, POSIX_FADV_DONTNEED) }, 0);
    let mut page = [0u8; 4096];
    while file.read(&mut page).expect("read the image") > 0 {}
}

/// Memory an allocator frees with MADV_FREE and takes again is not dropped while the guest has
/// plenty free: musl frees each large block that way, and a dropped page costs a TLB-flush
/// hypercall and, at the next touch, a demand fault (through the ring-0 stub on PVM). The
/// `madvise` app's 2000 malloc/free rounds of two 20000-byte blocks took ~15 000 demand
/// faults and ~4000 flushes with musl when MADV_FREE dropped the pages.
#[test]
fn memory_freed_lazily_is_not_faulted_in_again() {
    let test = "memory_freed_lazily_is_not_faulted_in_again";
    let Some(image) = vm::app_image(test, "madvise", Musl) else { return };
    let out = expect_code(test, uvm(["run".as_ref(), image.as_os_str(), "--timings".as_ref()]), 0);
    assert!(show(&out.stdout).contains("x2000: 0 wrong"), "{test}: {}", show(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let count_before = |marker: &str| {
        vm::count_before(&stderr, marker).unwrap_or_else(|| panic!("{test}: no count before {marker:?} in\n{stderr}"))
    };
    let faults = count_before(" demand page faults");
    let flushes = count_before(" TLB flushes");
    assert!(faults <= 100, "{test}: {faults} demand page faults\n{stderr}");
    assert!(flushes <= 500, "{test}: {flushes} TLB flushes\n{stderr}");
}

/// On PVM the guest kernel's only ring-0 code is the exception stub, and KVM emulates each of
/// its instructions (~1 us apiece): a demand fault costs 7 (where the CPU's frame is and CR2
/// noted, then an `iretq` through a ready-made frame to the fault frame entry, which copies
/// the CPU's frame natively), where copying the frame in ring 0 took 29. The musl `madvise`
/// app asks no `cpuid`, so every emulated instruction is the stub's.
#[test]
fn an_exception_costs_seven_emulated_instructions_on_pvm() {
    let test = "an_exception_costs_seven_emulated_instructions_on_pvm";
    if !std::path::Path::new("/sys/module/kvm_pvm").exists() {
        eprintln!("{test}: skipped (not a PVM host: ring 0 is not emulated)");
        return;
    }
    let Some(image) = vm::app_image(test, "madvise", Musl) else { return };
    let out = expect_code(test, uvm(["run".as_ref(), image.as_os_str(), "--timings".as_ref()]), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let faults = vm::count_before(&stderr, " demand page faults")
        .unwrap_or_else(|| panic!("{test}: no demand fault count in\n{stderr}"));
    let emulated = vm::count_after(&stderr, " shadow-page faults, ")
        .unwrap_or_else(|| panic!("{test}: no emulated instruction count in\n{stderr}"));
    assert!(faults > 0, "{test}: the app took no demand fault, so the stub never ran\n{stderr}");
    assert!(emulated <= 7 * faults, "{test}: {emulated} emulated instructions for {faults} demand faults\n{stderr}");
}

/// `uvm run` with no target runs the image of ./app.toml, building it first, and rebuilds it
/// when an input is newer than the image.
#[test]
fn cli_run_defaults_to_app_toml_and_rebuilds_stale_images() {
    let test = "cli_run_defaults_to_app_toml_and_rebuilds_stale_images";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = stage_hello(test) else {
        return;
    };
    let app_toml = staged.dir.join("app.toml");
    std::fs::copy(&staged.manifest_path, &app_toml).expect("copy the manifest to app.toml");
    let run_here = || {
        let mut cmd = uvm(["run"]);
        cmd.current_dir(&staged.dir);
        expect_code(test, cmd, 0)
    };
    let out = run_here();
    assert_eq!(out.stdout, b"Hello, world!\n", "{test}: first run");
    let image = staged.dir.join(format!("{}.uvm", staged.manifest.name));
    let built = std::fs::metadata(&image).expect("`uvm run` built the image").modified().expect("mtime");

    // An unchanged input leaves the image alone; a newer manifest makes `uvm run` rebuild it.
    run_here();
    assert_eq!(std::fs::metadata(&image).unwrap().modified().unwrap(), built, "{test}: rebuilt without cause");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let text = std::fs::read_to_string(&app_toml).expect("read app.toml");
    std::fs::write(&app_toml, text.replace("GREETING = \"Hello\"", "GREETING = \"Howdy\"")).expect("edit app.toml");
    let out = run_here();
    assert_eq!(out.stdout, b"Howdy, world!\n", "{test}: the edited manifest took effect");
}

/// An image is the app, its files and its settings: it carries no guest kernel (`uvm run`
/// brings its own), so a hello image is its binary plus a few KiB (the cold-start issue's
/// goal: at most 64 KiB of overhead), and `uvm inspect` says where the kernel comes from.
#[test]
fn cli_build_image_overhead_is_small() {
    let test = "cli_build_image_overhead_is_small";
    let Some(staged) = stage_hello(test) else {
        return;
    };
    let image = vm::build(test, &staged);
    let image_size = std::fs::metadata(&image).expect("image").len();
    let app_size = std::fs::metadata(&staged.binary).expect("binary").len();
    let overhead = image_size - app_size;
    assert!(overhead <= 64 << 10, "{test}: {image_size}-byte image for a {app_size}-byte app: {overhead} bytes over");
    let out = expect_code(test, uvm(["inspect".as_ref(), image.as_os_str()]), 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("format:       version 3"), "{test}: {stdout}");
    assert!(stdout.contains("guest kernel: uvm's own at run time"), "{test}: {stdout}");
}

/// Same inputs, same bytes: building twice, with `-o`, and from a fresh copy of the inputs in
/// another directory (new paths, new mtimes) gives byte-identical images.
#[test]
fn cli_build_is_deterministic() {
    let test = "cli_build_is_deterministic";
    let Some(staged) = stage_hello(test) else {
        return;
    };
    let first = std::fs::read(vm::build(test, &staged)).expect("read image");
    let second = std::fs::read(vm::build(test, &staged)).expect("read image");
    assert!(first == second, "{test}: building the same manifest twice gave different images");

    let other = staged.dir.join("elsewhere.uvm");
    let out = expect_code(
        test,
        uvm(["build".as_ref(), staged.manifest_path.as_os_str(), "-o".as_ref(), other.as_os_str()]),
        0,
    );
    assert!(other.is_file(), "{test}: `uvm build -o {}` did not create it", other.display());
    assert!(
        contains(&out.stdout, b"elsewhere.uvm"),
        "{test}: `uvm build -o` should print the output path; stdout: {}",
        show(&out.stdout)
    );
    assert!(std::fs::read(&other).expect("read image") == first, "{test}: `-o` gave a different image");

    std::thread::sleep(std::time::Duration::from_millis(1100)); // other mtimes, for sure
    let Some(copy) = vm::stage_case(&format!("{test}_copy"), &cases::hello(Toolchain::Glibc)) else {
        return;
    };
    let third = std::fs::read(vm::build(test, &copy)).expect("read image");
    assert!(third == first, "{test}: the same inputs staged in another directory gave a different image");
}

/// `uvm inspect IMAGE` describes the image: at least the app's name.
#[test]
fn cli_inspect() {
    let test = "cli_inspect";
    let Some(staged) = stage_hello(test) else {
        return;
    };
    let image = vm::build(test, &staged);
    let out = expect_code(test, uvm(["inspect".as_ref(), image.as_os_str()]), 0);
    assert!(
        contains(&out.stdout, staged.manifest.name.as_bytes()),
        "{test}: `uvm inspect` should print the app name {:?}; stdout: {}",
        staged.manifest.name,
        show(&out.stdout)
    );
    assert!(contains(&out.stdout, b"large pages:  none (no 2 MiB chunk"), "{test}: {}", show(&out.stdout));
}

/// uvm's own failures exit 125 with a message: a missing image.
#[test]
fn cli_run_missing_image_is_125() {
    let test = "cli_run_missing_image_is_125";
    let missing = vm::work_dir(test).join("does-not-exist.uvm");
    let out = expect_code(test, uvm(["run".as_ref(), missing.as_os_str()]), 125);
    assert!(!out.stderr.is_empty(), "{test}: uvm should explain its failure on stderr");
}

/// uvm's own failures exit 125 with a message: an image with one flipped byte fails its
/// checksum and never boots.
#[test]
fn cli_run_corrupt_image_is_125() {
    let test = "cli_run_corrupt_image_is_125";
    let Some(staged) = stage_hello(test) else {
        return;
    };
    let image = vm::build(test, &staged);
    let mut bytes = std::fs::read(&image).expect("read image");
    let at = bytes.len() - 100; // in the last file's data (the hello binary, the largest file)
    bytes[at] ^= 0x40;
    let corrupt = staged.dir.join("corrupt.uvm");
    std::fs::write(&corrupt, bytes).expect("write corrupt image");
    let out = expect_code(test, uvm(["run".as_ref(), corrupt.as_os_str()]), 125);
    assert!(!out.stderr.is_empty(), "{test}: uvm should explain its failure on stderr");
    assert!(out.stdout.is_empty(), "{test}: a corrupt image must not boot; stdout: {}", show(&out.stdout));
}

/// An image whose checksum passed is not hashed again while it is unchanged (a verified
/// stamp vouches for it), and a change in place is still caught.
#[test]
fn cli_run_hashes_an_image_once_per_change() {
    let test = "cli_run_hashes_an_image_once_per_change";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = stage_hello(test) else {
        return;
    };
    let image = vm::build(test, &staged);
    let cache = staged.dir.join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    let run = |code| {
        let mut cmd = uvm([std::ffi::OsStr::new("run"), image.as_os_str(), "--timings".as_ref()]);
        cmd.env("XDG_CACHE_HOME", &cache);
        let out = expect_code(test, cmd, code);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // A stamp is only written for a file left alone for a second (timestamp granularity).
    std::thread::sleep(uvm_image::SETTLED + std::time::Duration::from_millis(100));
    assert!(run(0).contains("checksum hashed"), "{test}: first run hashes");
    let second = run(0);
    assert!(second.contains("checksum vouched for by a verified stamp"), "{test}: second run\n{second}");

    let mut bytes = std::fs::read(&image).expect("read image");
    let at = bytes.len() - 100; // in the hello binary, the last file
    bytes[at] ^= 0x40;
    std::fs::write(&image, &bytes).expect("rewrite the image in place");
    let third = run(125);
    assert!(third.contains("is corrupted"), "{test}: a change after the stamp is caught\n{third}");
}

/// `uvm build` refuses a manifest whose binary is missing, with a message.
#[test]
fn cli_build_missing_binary_fails() {
    let test = "cli_build_missing_binary_fails";
    let Some(staged) = stage_hello(test) else {
        return;
    };
    std::fs::remove_file(&staged.binary).expect("remove the binary");
    let out = process::run(uvm(["build".as_ref(), staged.manifest_path.as_os_str()]), None);
    assert!(
        !out.status.success() && !out.stderr.is_empty(),
        "{test}: `uvm build` with a missing binary should fail with a message; got {}, stderr: {}",
        out.status,
        show(&out.stderr)
    );
}
