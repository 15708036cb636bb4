//! Every scenario: which manifest, which app, and for each run its extra `uvm run` options,
//! stdin, and the exact expected stdout, stderr and exit status.
//!
//! The same table drives the VM tests (`boot.rs`) and the native reference run (`native.rs`),
//! which runs each app directly on the host in a chroot that mimics the guest (packaged files
//! read-only, /tmp a tmpfs, cwd "/", argv[0] the binary's file name, env exactly the manifest's).
//! So every expectation here has been checked against real Linux.

use super::apps::Toolchain::{self, Busybox, Glibc, Musl, Rust};
use super::{fnv1a, pattern, tests_dir, Suite};
use std::time::Duration;

/// One scenario: a manifest, the app staged next to it, and the runs of its image.
pub struct Case {
    /// Where the manifest, app and data come from ([`Suite::dir`]).
    pub suite: Suite,
    /// `<suite dir>/manifests/<manifest>.toml`.
    pub manifest: &'static str,
    /// Where the app comes from.
    pub toolchain: Toolchain,
    /// `tests/apps/<app>.c` or `tests/apps/rust/<app>.rs` (ignored for busybox).
    pub app: &'static str,
    /// Runs of the same image, in order.
    pub runs: Vec<Run>,
}

/// One `uvm run` of a case's image.
#[derive(Clone)]
pub struct Run {
    /// Names the run in failure messages.
    pub label: String,
    /// `-- ARGS`: replaces the manifest's args.
    pub args: Option<Vec<String>>,
    /// `-e KEY=VALUE`, in order.
    pub env: Vec<(String, String)>,
    /// `--memory-mib N`.
    pub memory_mib: Option<u32>,
    /// `--cpus N`.
    pub cpus: Option<u32>,
    /// Piped to stdin, then EOF; `None`: stdin is /dev/null.
    pub stdin: Option<Vec<u8>>,
    /// Set in uvm's own environment; must NOT reach the app.
    pub host_env: Vec<(String, String)>,
    /// Skipped by the native reference run (it depends on the VM, e.g. on its memory size).
    pub vm_only: bool,
    /// The run must take at least this long, wall time (e.g. a sleep); `uvm run` also spends
    /// time booting, so this is only a lower bound.
    pub min_elapsed: Option<Duration>,
    /// The app's stdout.
    pub stdout: Out,
    /// The app's stderr. With [`Status::Signal`], uvm adds its fault line: in the VM only the
    /// signal name is checked on stderr.
    pub stderr: Out,
    /// How the app ends.
    pub status: Status,
}

/// An expectation on an output stream.
#[derive(Clone, Debug)]
pub enum Out {
    /// Exactly these bytes.
    Exact(Vec<u8>),
    /// Contains these bytes.
    Contains(Vec<u8>),
    /// Does not contain these bytes.
    Lacks(Vec<u8>),
    /// Meets every one of these expectations.
    All(Vec<Out>),
}

impl Out {
    /// Whether `got` meets the expectation.
    pub fn matches(&self, got: &[u8]) -> bool {
        match self {
            Out::Exact(want) => got == want.as_slice(),
            Out::Contains(want) => contains(got, want),
            Out::Lacks(want) => !contains(got, want),
            Out::All(all) => all.iter().all(|out| out.matches(got)),
        }
    }
}

/// Whether `hay` contains `needle`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// How the app ends.
#[derive(Clone, Copy, Debug)]
pub enum Status {
    /// It exits with this status (uvm exits with it too).
    Code(i32),
    /// A fault kills it with this signal: uvm exits 128+signal and names it on stderr (but
    /// for SIGPIPE, which ends it quietly).
    Signal(i32, &'static str),
    /// It fails somehow: any non-zero status.
    Fails,
}

/// SIGSEGV.
pub const SEGV: Status = Status::Signal(11, "SIGSEGV");
/// SIGABRT (`abort()`).
pub const ABRT: Status = Status::Signal(6, "SIGABRT");
/// SIGFPE (integer division by zero).
pub const FPE: Status = Status::Signal(8, "SIGFPE");
/// SIGALRM (a timer expired with no handler).
pub const ALRM: Status = Status::Signal(14, "SIGALRM");
/// SIGILL (an undefined instruction, `__builtin_trap`).
pub const ILL: Status = Status::Signal(4, "SIGILL");

impl Run {
    /// A run with the manifest's args and env, no stdin, expecting empty output and status 0.
    pub fn new(label: &str) -> Run {
        Run {
            label: label.to_string(),
            args: None,
            env: Vec::new(),
            memory_mib: None,
            cpus: None,
            stdin: None,
            host_env: Vec::new(),
            vm_only: false,
            min_elapsed: None,
            stdout: Out::Exact(Vec::new()),
            stderr: Out::Exact(Vec::new()),
            status: Status::Code(0),
        }
    }
    /// `-- ARGS`.
    pub fn args(mut self, args: &[&str]) -> Run {
        self.args = Some(args.iter().map(|s| s.to_string()).collect());
        self
    }
    /// `-e KEY=VALUE`.
    pub fn env(mut self, key: &str, value: &str) -> Run {
        self.env.push((key.into(), value.into()));
        self
    }
    /// `--memory-mib N`.
    pub fn memory_mib(mut self, mib: u32) -> Run {
        self.memory_mib = Some(mib);
        self
    }

    /// Runs with `--cpus n`.
    pub fn cpus(mut self, n: u32) -> Run {
        self.cpus = Some(n);
        self
    }
    /// Feed `data` on stdin, then EOF.
    pub fn stdin(mut self, data: impl AsRef<[u8]>) -> Run {
        self.stdin = Some(data.as_ref().to_vec());
        self
    }
    /// Set in uvm's own environment (must not leak into the guest).
    pub fn host_env(mut self, key: &str, value: &str) -> Run {
        self.host_env.push((key.into(), value.into()));
        self
    }
    /// Not part of the native reference run.
    pub fn vm_only(mut self) -> Run {
        self.vm_only = true;
        self
    }
    /// Takes at least `duration` of wall time.
    pub fn min_elapsed(mut self, duration: Duration) -> Run {
        self.min_elapsed = Some(duration);
        self
    }
    /// Exact stdout.
    pub fn stdout(mut self, text: impl AsRef<[u8]>) -> Run {
        self.stdout = Out::Exact(text.as_ref().to_vec());
        self
    }
    /// Any stdout expectation.
    pub fn stdout_is(mut self, out: Out) -> Run {
        self.stdout = out;
        self
    }
    /// Any stderr expectation.
    pub fn stderr_is(mut self, out: Out) -> Run {
        self.stderr = out;
        self
    }
    /// Exact stderr.
    pub fn stderr(mut self, text: impl AsRef<[u8]>) -> Run {
        self.stderr = Out::Exact(text.as_ref().to_vec());
        self
    }
    /// Exit status.
    pub fn code(mut self, code: i32) -> Run {
        self.status = Status::Code(code);
        self
    }
    /// Any status expectation.
    pub fn status(mut self, status: Status) -> Run {
        self.status = status;
        self
    }
}

fn case(manifest: &'static str, toolchain: Toolchain, app: &'static str, runs: Vec<Run>) -> Case {
    Case { suite: Suite::Boot, manifest, toolchain, app, runs }
}

fn c_only(toolchain: Toolchain) -> Toolchain {
    assert!(matches!(toolchain, Glibc | Musl), "the C apps are built with glibc or musl, not {toolchain}");
    toolchain
}

fn read_test_file(rel: &str) -> Vec<u8> {
    let path = tests_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every case, for the native reference run.
pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    for tc in [Glibc, Musl] {
        cases.extend([
            hello(tc),
            stdio_split(tc),
            args_env(tc),
            args_override(tc),
            env_override(tc),
            workdir(tc),
            stdin_echo(tc),
            files(tc),
            tmp_write(tc),
            root_write(tc),
            crash(tc),
            guard_page(tc),
            remap(tc),
            exit_code(tc),
            memory(tc),
            sig_segv(tc),
            sig_context(tc),
            sig_avx(tc),
            cpu_features(tc),
            sig_fpe(tc),
            sig_raise(tc),
            sig_mask(tc),
            sig_altstack(tc),
            sig_abort(tc),
            pipes(tc),
            epoll(tc),
            unix_sockets(tc),
            remap_threads(tc),
            thread_signals(tc),
            hot_syscalls(tc),
            fdcopy(tc),
            mremap(tc),
            procfs(tc),
            fsmisc(tc),
            exec(tc),
            fork(tc),
            locks(tc),
            prctl(tc),
            misc_calls(tc),
            itimer(tc),
            timerfd(tc),
            signalfd(tc),
            inotify(tc),
            pidfd(tc),
            creds(tc),
            jobs(tc),
            dac(tc),
            cputime(tc),
            posix_timer(tc),
            fifo(tc),
        ]);
    }
    cases.extend([rust_hello(), rust_collections(), rust_stack_overflow(), busybox_echo(), busybox_cat()]);
    cases
}

// ---------------------------------------------------------------- C apps (glibc and musl)

/// `hello`: a greeting from argv[1] and $GREETING.
pub fn hello(tc: Toolchain) -> Case {
    case("hello", c_only(tc), "hello", vec![Run::new("manifest args").stdout("Hello, world!\n")])
}

/// `stdio_split`: stdout and stderr kept apart and complete, exit status 3.
pub fn stdio_split(tc: Toolchain) -> Case {
    let mut out = String::from("this goes to stdout\n");
    let mut err = String::from("this goes to stderr\n");
    for i in 1..=2000 {
        out += &format!("stdout line {i:04}\n");
    }
    for i in 1..=200 {
        err += &format!("stderr line {i:03}\n");
    }
    out += "stdout done\n";
    err += "stderr done, exiting with 3\n";
    case("stdio_split", c_only(tc), "stdio_split", vec![Run::new("split").stdout(out).stderr(err).code(3)])
}

/// What `args_env` prints for this argv (argv[0] included), environment and cwd.
pub fn args_env_output(argv: &[&str], env: &[(&str, &str)], cwd: &str) -> String {
    let mut s = format!("argc={}\n", argv.len());
    for (i, a) in argv.iter().enumerate() {
        s += &format!("argv[{i}]=<{a}>\n");
    }
    s += &format!("envc={}\n", env.len());
    for name in ["GREETING", "MODE", "EMPTY", "SPACES", "EQUALS", "EXTRA", "PATH", "HOME", "UVM_HOST_LEAK"] {
        match env.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => s += &format!("{name}=<{v}>\n"),
            None => s += &format!("{name} unset\n"),
        }
    }
    s + &format!("cwd={cwd}\n")
}

const ARGS_ENV_ARGV: [&str; 6] = ["args_env", "first", "two words", "", "ünïcödé", "--flag"];
const ARGS_ENV_ENV: [(&str, &str); 5] =
    [("GREETING", "hi"), ("MODE", "manifest"), ("EMPTY", ""), ("SPACES", "a b  c"), ("EQUALS", "x=y")];

/// `args_env`: exact argv and environment from the manifest; uvm's own environment (PATH,
/// HOME, UVM_HOST_LEAK) does not leak in; cwd is "/".
pub fn args_env(tc: Toolchain) -> Case {
    let run = Run::new("manifest args and env").host_env("UVM_HOST_LEAK", "leaked").stdout(args_env_output(
        &ARGS_ENV_ARGV,
        &ARGS_ENV_ENV,
        "/",
    ));
    case("args_env", c_only(tc), "args_env", vec![run])
}

/// `uvm run IMAGE -- ARGS` replaces the manifest's args (argv[0] stays the binary's name),
/// even ARGS that look like uvm's own options.
pub fn args_override(tc: Toolchain) -> Case {
    let args = ["one", "two words", "-e", "X=1", "--memory-mib", "1", "--", "last"];
    let mut argv = vec!["args_env"];
    argv.extend(args);
    let run = Run::new("-- ARGS").args(&args).stdout(args_env_output(&argv, &ARGS_ENV_ENV, "/"));
    case("args_env", c_only(tc), "args_env", vec![run])
}

/// `-e KEY=VALUE` overrides (MODE, EMPTY) and adds (EXTRA, its value holding `=`) variables.
pub fn env_override(tc: Toolchain) -> Case {
    let env = [
        ("GREETING", "hi"),
        ("MODE", "cli"),
        ("EMPTY", "now set"),
        ("SPACES", "a b  c"),
        ("EQUALS", "x=y"),
        ("EXTRA", "x=y=z"),
    ];
    let run = Run::new("-e overrides")
        .env("MODE", "cli")
        .env("EXTRA", "x=y=z")
        .env("EMPTY", "now set")
        .stdout(args_env_output(&ARGS_ENV_ARGV, &env, "/"));
    case("args_env", c_only(tc), "args_env", vec![run])
}

/// Empty args and env, and `workdir` inside a packaged directory.
pub fn workdir(tc: Toolchain) -> Case {
    let run = Run::new("workdir").stdout(args_env_output(&["args_env"], &[], "/usr/share/app"));
    case("args_env_workdir", c_only(tc), "args_env", vec![run])
}

/// What `stdin_echo` prints after reading `data`.
pub fn stdin_echo_output(data: &[u8]) -> String {
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    format!("bytes={} lines={lines} fnv1a={:08x}\nread after eof=0\n", data.len(), fnv1a(data))
}

/// `stdin_echo`: uvm's stdin reaches the app, then EOF (also with no stdin at all).
pub fn stdin_echo(tc: Toolchain) -> Case {
    let text = b"first line\nsecond line\nno newline at the end";
    let big = pattern(1 << 20);
    let runs = vec![
        Run::new("short text").stdin(text).stdout(stdin_echo_output(text)),
        Run::new("1 MiB of binary data").stdin(&big).stdout(stdin_echo_output(&big)),
        Run::new("empty pipe").stdin(b"").stdout(stdin_echo_output(b"")),
        Run::new("stdin is /dev/null").stdout(stdin_echo_output(b"")),
    ];
    case("stdin_echo", c_only(tc), "stdin_echo", runs)
}

/// `files`: the packaged /etc/app.conf and /usr/share/app tree, as in `tests/data/`.
pub fn files(tc: Toolchain) -> Case {
    let conf = read_test_file("data/app.conf");
    let mut out = b"== /etc/app.conf\n".to_vec();
    out.extend(&conf);
    out.extend(b"==\n");
    let mut text = String::new();
    for (guest, host) in [("/usr/share/app", "data/share"), ("/usr/share/app/sub", "data/share/sub")] {
        let mut entries: Vec<(String, bool)> = std::fs::read_dir(tests_dir().join(host))
            .expect("read tests/data/share")
            .map(|e| {
                let e = e.expect("dir entry");
                (e.file_name().into_string().expect("UTF-8 name"), e.path().is_dir())
            })
            .collect();
        entries.sort();
        text += &format!("ls {guest}:\n");
        for (name, dir) in entries {
            text += &format!("  {} {name}\n", if dir { 'd' } else { 'f' });
        }
    }
    for (guest, host) in [
        ("/etc/app.conf", "data/app.conf"),
        ("/usr/share/app/numbers.txt", "data/share/numbers.txt"),
        ("/usr/share/app/sub/nested.txt", "data/share/sub/nested.txt"),
    ] {
        let data = read_test_file(host);
        text += &format!("{guest}: size={0} read={0} fnv1a={1:08x}\n", data.len(), fnv1a(&data));
    }
    text += "/usr/share/app is a directory: yes\n";
    text += "stat /usr/share/app/missing: ENOENT\n";
    text += "open /etc/app.conf/x: ENOTDIR\n";
    out.extend(text.as_bytes());
    case("files", c_only(tc), "files", vec![Run::new("packaged files").stdout(out)])
}

/// `tmp_write`: /tmp is a writable tmpfs, fresh at every boot; packaged files are EROFS.
pub fn tmp_write(tc: Toolchain) -> Case {
    let out = "mkdir /tmp/x: ok\n\
               wrote 6 bytes\n\
               read back 6 bytes: hello\n\
               lseek end: 6\n\
               read at offset 2: llo\n\
               size after append: 12\n\
               content: hello|world|\n\
               ls /tmp/x: y.txt\n\
               rmdir non-empty /tmp/x: ENOTEMPTY\n\
               unlink: ok\n\
               open after unlink: ENOENT\n\
               stat after unlink: ENOENT\n\
               rmdir: ok\n\
               write packaged /etc/app.conf: EROFS\n\
               create /etc/new.txt: EROFS\n\
               packaged /etc/app.conf still readable: yes\n";
    let runs = vec![Run::new("first boot").stdout(out), Run::new("second boot (fresh /tmp)").stdout(out)];
    case("tmp_write", c_only(tc), "tmp_write", runs)
}

/// `root_write`: the root is writable by default (an overlay over the image, as a
/// container's): packaged files and directories change (a larger one, copied by the host when
/// it is made writable, keeps its bytes), new ones appear outside /tmp, a program written
/// there runs; every boot starts from the image again.
pub fn root_write(tc: Toolchain) -> Case {
    let out = "root is an overlay: yes\n\
               access W_OK /etc/app.conf: ok\n\
               the earlier reader reads 104 bytes\n\
               /etc/app.conf (104 bytes): # app.conf: a packaged file for the uvm boot tests\n\
               name = uvm-test\n\
               color = blue\n\
               answer = 42\n\
               added = yes\n\
               lines.txt: same bytes once writable: yes\n\
               lines.txt at 40000 through the first fd: LINEk brown fo\n\
               /usr/share/app/numbers.txt (6 bytes): 1\n\
               2\n\
               3\n\
               numbers.link: mode 600, 2 links\n\
               /var/run/app.pid (2 bytes): 1\n\
               /etc/current.conf (4 bytes): new\n\
               ls /usr/share/app: README.old numbers.link numbers.txt sub\n\
               rmdir a packaged directory with files: ENOTEMPTY\n\
               ls /usr/share/app: README.old numbers.link numbers.txt\n\
               ls /etc: app.conf current.conf hosts new.conf nsswitch.conf resolv.conf\n\
               rename across to /tmp: EXDEV\n\
               /usr/share/app/README.old (67 bytes): MAPPEDirectory is packaged into the test images at /usr/share/app.\n\
               the copy in /usr/local/bin runs\n\
               the copy's status: 0\n";
    let runs = vec![Run::new("first boot").stdout(out), Run::new("second boot (the image again)").stdout(out)];
    case("root_write", c_only(tc), "root_write", runs)
}

/// `crash`: a write to 0x10 kills the app with SIGSEGV: status 139, the signal named on stderr.
pub fn crash(tc: Toolchain) -> Case {
    let run = Run::new("wild write").stdout("about to write through 0x10\n").status(SEGV);
    case("crash", c_only(tc), "crash", vec![run])
}

/// `exec`: execve runs another program of the image in the same process (the app itself, in
/// another mode, and #! scripts naming it): Linux's errors first, then what survives the call
/// (argv, env, fds without close-on-exec, the signal mask, pending and ignored signals, the
/// cwd) and what does not (handlers, the alternate stack, memory); the other threads end.
pub fn exec(tc: Toolchain) -> Case {
    let failures = "missing file: ENOENT\n\
                    not executable: EACCES\n\
                    a directory: EACCES\n\
                    neither ELF nor script: ENOEXEC\n\
                    #! without interpreter: ENOEXEC\n\
                    #! loop: ELOOP\n\
                    a 200 KiB argument: E2BIG\n\
                    execveat with an unknown flag: EINVAL\n\
                    execveat of a symlink with AT_SYMLINK_NOFOLLOW: ELOOP\n\
                    execveat of an empty path without AT_EMPTY_PATH: ENOENT\n";
    // The fd `exec fd` opens the program as (0-2 are the console's).
    const FD: i32 = 3;
    // What the program run by execve prints: with the set-up run's changes kept or not.
    let check = |argv: &str, env: &str, kept: bool| {
        let (fd5, usr2, blocked, cwd) =
            if kept { ("open", "ignored", "yes", "/usr/share") } else { ("closed", "default", "no", "/") };
        format!(
            "{argv}\nenv: {env}\nfd 5 (no close-on-exec): {fd5}\nfd 6 (close-on-exec): closed\n\
             SIGUSR1 (had a handler): default, SIGUSR2: {usr2}\nSIGTERM blocked: {blocked}\n\
             SIGHUP pending: {blocked}\nalternate stack: none\ncwd: {cwd}\n\
             /proc/self/exe: /bin/exec, AT_EXECFN: /bin/exec\nThreads:\t1\ntid is the pid: yes\n\
             fresh data: 7\n"
        )
    };
    let state = failures.to_string()
        + &check("argc 4: [renamed] [check] [an argument with spaces] []", "[FROM=exec] [EMPTY=]", true);
    let script = "interpreter argv: [/bin/exec] [argv] [/usr/share/exec/script.sh] [x] [y z]\n";
    let nested = "interpreter argv: [/bin/exec] [argv] [/usr/share/exec/script.sh] \
                  [/usr/share/exec/nested.sh] [x] [y z]\n";
    let threads = "Threads:\t3\n".to_string() + &check("argc 2: [exec] [check]", "[FROM=exec]", false);
    let runs = vec![
        Run::new("errors, then what survives").stdout(state),
        Run::new("a #! script").args(&["script", "/usr/share/exec/script.sh"]).stdout(script),
        Run::new("a script whose interpreter is a script")
            .args(&["script", "/usr/share/exec/nested.sh"])
            .stdout(nested),
        Run::new("other threads end first").args(&["threads"]).stdout(threads.clone()),
        Run::new("other threads end first, one vCPU for three threads")
            .args(&["threads"])
            .cpus(1)
            .stdout(threads.clone())
            .vm_only(),
        Run::new("from a thread, another one waiting on a pipe").args(&["from-thread"]).stdout(threads.replacen(
            "Threads:\t3\n",
            "",
            1,
        )),
        Run::new("execveat of an fd").args(&["fd"]).stdout(
            check("argc 2: [by-fd] [check]", "[FROM=exec]", false)
                .replace("AT_EXECFN: /bin/exec", &format!("AT_EXECFN: /dev/fd/{FD}")),
        ),
        Run::new("execve through a symlink").args(&["link"]).stdout(
            check("argc 2: [by-link] [check]", "[FROM=exec]", false)
                .replace("AT_EXECFN: /bin/exec", "AT_EXECFN: /usr/share/exec/link-to-exec"),
        ),
        Run::new("a script in /tmp").args(&["tmp"]).stdout("interpreter argv: [/bin/exec] [argv] [/tmp/tool] [one]\n"),
        Run::new("a program in /tmp").args(&["tmp-elf"]).stdout(
            check("argc 2: [copy] [check]", "[FROM=exec]", false).replace(
                "/proc/self/exe: /bin/exec, AT_EXECFN: /bin/exec",
                "/proc/self/exe: /tmp/exec-copy, AT_EXECFN: /tmp/exec-copy",
            ),
        ),
        // Linux runs a dynamically linked program through its interpreter; uvm runs static
        // programs, and says so once.
        Run::new("a dynamically linked program")
            .vm_only()
            .args(&["dynamic"])
            .stdout("a dynamically linked program: ENOEXEC\nagain: ENOEXEC\n")
            .stderr(
                "uvm: note: the app ran /usr/share/exec/dynamic, which is dynamically linked; uvm runs static \
                 programs only: execve failed with ENOEXEC (noted once per run)\n",
            )
            .code(1),
    ];
    case("exec", c_only(tc), "exec", runs)
}

/// `prctl`: thread names (the first thread's is /proc/self/comm; a new thread starts with its
/// creator's) and the process attributes Linux keeps and reports back.
pub fn prctl(tc: Toolchain) -> Case {
    let out = "name at start: prctl\n\
               /proc/self/comm: prctl\n\
               after PR_SET_NAME: a-name-longer-t\n\
               /proc/self/comm: a-name-longer-t\n\
               a new thread starts as: a-name-longer-t\n\
               the thread renamed itself: worker\n\
               the first thread is still: a-name-longer-t\n\
               parent death signal: 0, then 15\n\
               dumpable: 1, then 0, then 1\n\
               no_new_privs: 0, set: 0, then 1\n\
               child subreaper: 1\n\
               CAP_SYS_ADMIN in the bounding set: 1\n\
               capability 1000: -1 EINVAL\n\
               an unknown option: -1 EINVAL\n\
               capget, version 0, no data: 0, version now 0x20080522\n\
               at start: effective = permitted 1, inheritable 0, CAP_SYS_ADMIN effective 1, bounding has them 1, \
               status CapEff agrees 1\n\
               capget of no such process: -1 ESRCH\n\
               drop CAP_SYS_ADMIN from the bounding set: 0, then in it: 0, status CapBnd lost it 1\n\
               capset to NET_BIND_SERVICE: 0\n\
               after it: effective 400, permitted 401, inheritable 400, status CapEff 400 CapPrm 401\n\
               capset, permitted back: -1 EPERM\n\
               capset of another process: -1 EPERM\n\
               bounding drop without CAP_SETPCAP: -1 EPERM\n\
               ambient NET_BIND_SERVICE: raise 0, is set 1, status CapAmb 400\n\
               ambient CHOWN (not inheritable): -1 EPERM\n\
               keepcaps: 0, set 0, then 1\n\
               personality: 0, set ADDR_NO_RANDOMIZE: old 0, now 0x40000\n";
    case("prctl", c_only(tc), "prctl", vec![Run::new("prctl").stdout(out)])
}

/// `itimer`: SIGALRM from setitimer(ITIMER_REAL) and alarm reaches a loop without syscalls, a
/// pause() and a blocked read (EINTR); a periodic timer fires again; what is left is reported;
/// the timer survives execve; without a handler SIGALRM ends the app.
pub fn itimer(tc: Toolchain) -> Case {
    let out = "a one-shot timer reached a loop without syscalls\n\
               a periodic timer fired 3 times, then disarmed: 0.000000 left\n\
               a read waiting on an empty pipe: -1 EINTR, SIGALRM came\n\
               getitimer: about 2 s left, interval 0.500000\n\
               alarm: 0, then 5 left, then 0\n\
               the timer survived execve: SIGALRM came\n";
    let runs = vec![
        Run::new("timers").stdout(out),
        Run::new("no handler").args(&["kill"]).stdout("spinning until SIGALRM\n").status(ALRM),
    ];
    case("itimer", c_only(tc), "itimer", runs)
}

/// `timerfd`: timers read through a file: creation and its errors, one-shot and periodic
/// timers, a blocking read, poll and edge-triggered epoll waking at the deadline, an absolute
/// CLOCK_REALTIME time, disarming, what the file shows of itself.
pub fn timerfd(tc: Toolchain) -> Case {
    let out = "clock CLOCK_PROCESS_CPUTIME_ID: -1 EINVAL\n\
               flag 4: -1 EINVAL\n\
               timerfd: mode 0600, cloexec yes, nonblock yes, link anon_inode:[timerfd]\n\
               write: -1 EINVAL\n\
               read 4 bytes: -1 EINVAL\n\
               read, disarmed: -1 EAGAIN\n\
               settime with 1e9 ns: -1 EINVAL\n\
               settime flag 4: -1 EINVAL\n\
               settime of a pipe: -1 EINVAL\n\
               gettime: 0 < left <= 50 ms yes, interval 0\n\
               read before the deadline: -1 EAGAIN\n\
               poll: 1, POLLIN yes, after the deadline yes\n\
               read: 1 expiration(s)\n\
               read again: -1 EAGAIN\n\
               gettime after it fired: 0.000000000\n\
               periodic, after 55 ms: at least 5 expirations yes\n\
               disarmed: the old interval 10 ms, the old value set yes\n\
               read after disarming: -1 EAGAIN\n\
               blocking read: 1 expiration(s), after the deadline yes\n\
               settime ABSTIME|CANCEL_ON_SET: 0\n\
               absolute realtime: 1 expiration(s), after it yes\n\
               epoll, disarmed: 0\n\
               epoll: 1 (data 7), after the deadline yes\n\
               epoll, edge again: 0\n\
               read: 1 expiration(s)\n";
    case("timerfd", c_only(tc), "timerfd", vec![Run::new("timers").stdout(out)])
}

/// `signalfd`: signals read through a file: creation and its errors, what the file shows,
/// reads of one signal and many (real-time ones queue), a changed mask, poll and
/// edge-triggered epoll, sigqueue's value (and rt_sigqueueinfo's checks), a blocking read woken by another process's kill, a child's end as
/// SIGCHLD, an interval timer's and a POSIX timer's signals, a read a handled signal
/// interrupts.
pub fn signalfd(tc: Toolchain) -> Case {
    let out = "sizemask 4: -1 EINVAL\n\
               flag 1: -1 EINVAL\n\
               bad mask pointer: -1 EFAULT\n\
               change a pipe's mask: -1 EINVAL\n\
               change a closed fd's mask: -1 EBADF\n\
               signalfd: mode 0600, cloexec yes, nonblock yes, access rdwr, link anon_inode:[signalfd]\n\
               write: -1 EINVAL\n\
               read 64 bytes: -1 EINVAL\n\
               read, nothing pending: -1 EAGAIN\n\
               poll, nothing pending: 0\n\
               poll after kill: 1, POLLIN yes\n\
               \x20\x20read: 1 entry (128 bytes): 10/0\n\
               \x20\x20sender is this process: yes, uid mine\n\
               SIGUSR1 pending after the read: no\n\
               SIGUSR2, not in the mask:   read: -1 EAGAIN\n\
               change the mask: the same fd\n\
               three entries' room, USR1 (tgkill) and USR2 pending:\n\
               \x20\x20read: 2 entries (256 bytes): 10/-6 12/0\n\
               real-time signals queue:\n\
               \x20\x20read: 1 entry (128 bytes): RTMIN+0/0\n\
               \x20\x20read: 1 entry (128 bytes): RTMIN+0/0\n\
               \x20\x20read: -1 EAGAIN\n\
               epoll, nothing pending: 0\n\
               epoll after kill: 1 (data 5)\n\
               epoll, edge again: 0\n\
               \x20\x20read: 1 entry (128 bytes): 12/0\n\
               sigqueue:\n\
               \x20\x20read: 1 entry (128 bytes): 10/-1\n\
               \x20\x20value 99, SI_QUEUE yes, sender is this process yes\n\
               rt_sigqueueinfo, SI_USER, to a child: -1 EPERM\n\
               rt_sigqueueinfo, signal 65: -1 EINVAL\n\
               rt_tgsigqueueinfo, SI_QUEUE, to the child's thread: 0\n\
               blocking read, a child sends SIGUSR2:\n\
               \x20\x20read: 1 entry (128 bytes): 12/0\n\
               \x20\x20sender is the child: yes\n\
               the first child's SIGCHLD: taken\n\
               SIGCHLD through poll then a read:\n\
               \x20\x20poll: 1\n\
               \x20\x20read: 1 entry (128 bytes): 17/1\n\
               \x20\x20child pid matches: yes, status 7\n\
               \x20\x20waitpid: the child, exit 7\n\
               setitimer's SIGALRM through epoll: 1 (data 9)\n\
               \x20\x20read: 1 entry (128 bytes): 14/128\n\
               a POSIX timer's signal, blocking read:\n\
               \x20\x20read: 1 entry (128 bytes): RTMIN+1/-2\n\
               \x20\x20value 42, overrun 0, code SI_TIMER yes\n\
               a blocking read interrupted by a handled SIGALRM:\n\
               \x20\x20read: -1 EINTR\n";
    case("signalfd", c_only(tc), "signalfd", vec![Run::new("signals").stdout(out)])
}

/// `pidfd`: processes named by files: pidfd_open and its errors, what the file shows, the
/// caller's own pidfd (Go's start-up checks), kill's and sigqueue's signals through one, a
/// copy of a child's fd, readiness as a child ends and is reaped (poll, edge-triggered epoll),
/// waitid(P_PIDFD) (WNOWAIT, a PIDFD_NONBLOCK pidfd's EAGAIN), a zombie's pidfd, a child
/// reaped at once because SIGCHLD is ignored, clone's and clone3's CLONE_PIDFD.
pub fn pidfd(tc: Toolchain) -> Case {
    let out = "open, flag 1: -1 EINVAL\n\
               open, pid 0: -1 EINVAL\n\
               open, pid -1: -1 EINVAL\n\
               open, no such pid: -1 ESRCH\n\
               open, a thread's tid: -1 ENOENT\n\
               send_signal to stdin: -1 EBADF\n\
               send_signal, flag 8: -1 EINVAL\n\
               getfd of stdin: -1 EBADF\n\
               waitid P_PIDFD on stdin: -1 EBADF\n\
               waitid P_PIDFD -1: -1 EINVAL\n\
               own pidfd: cloexec yes, nonblock no, access rdwr, link anon_inode:[pidfd]\n\
               read: -1 EINVAL\n\
               write: -1 EINVAL\n\
               poll: none\n\
               waitid on itself: -1 ECHILD\n\
               signal 0 to itself: 0\n\
               SIGUSR1 to itself: 0\n\
               \x20\x20taken: yes, SI_USER yes, sender is this process yes\n\
               a siginfo for another signal: -1 EINVAL\n\
               sigqueue's siginfo: 0\n\
               \x20\x20taken: yes, SI_QUEUE yes, value 42\n\
               child: poll none\n\
               getfd: cloexec yes, reads ping\n\
               getfd, flag 1: -1 EINVAL\n\
               getfd, an fd it lacks: -1 EBADF\n\
               SIGTERM through the pidfd: 0\n\
               poll until it ends: 1, IN\n\
               ended, not reaped: signal 0 0, kill 0 0\n\
               a pidfd opened now: poll IN\n\
               waitid P_PIDFD, WNOWAIT: 0, killed 15\n\
               poll after WNOWAIT: IN\n\
               waitid P_PIDFD (another pidfd): 0, killed 15\n\
               reaped: poll IN HUP, signal 0 -1 ESRCH, getfd -1 ESRCH\n\
               open a reaped pid: -1 ESRCH\n\
               nonblocking pidfd: nonblock yes\n\
               waitid: -1 EAGAIN\n\
               waitid, WNOHANG: 0, none\n\
               epoll, running: 0\n\
               epoll until it ends: 1 (data 7, IN)\n\
               epoll, edge again: 0\n\
               waitid: 0, exited 7\n\
               epoll after the reap: 1 (IN HUP)\n\
               SIGCHLD ignored: poll 1, IN HUP\n\
               \x20\x20waitid: -1 ECHILD\n\
               clone CLONE_PIDFD: pidfd set, cloexec yes\n\
               \x20\x20waitid P_PIDFD: 0, exited 3\n\
               clone CLONE_PIDFD|CLONE_PARENT_SETTID: -1 EINVAL\n\
               clone CLONE_PIDFD, a bad pointer: -1 EFAULT\n\
               \x20\x20no child made: -1 ECHILD\n\
               clone3 CLONE_PIDFD: pidfd set; waitid 0, exited 4\n";
    case("pidfd", c_only(tc), "pidfd", vec![Run::new("pidfds").stdout(out)])
}

/// `creds`: user and group ids, each scenario in a child of its own: supplementary groups,
/// dropping root for good (setgid, setuid; no way back; a file's owner, a child's ids, a
/// signal's si_uid), keeping root as the saved uid (setresuid, seteuid back, setreuid's
/// saved-id rule), setfsuid/setfsgid and the owner of what is made meanwhile, and the
/// capabilities that follow the uids (PR_SET_KEEPCAPS).
pub fn creds(tc: Toolchain) -> Case {
    let out = "groups:\n\
               \x20\x20setgroups: 0\n\
               \x20\x20groups (4): 10 10 20 30\n\
               \x20\x20getgroups(0): 4\n\
               \x20\x20getgroups(1): -1 EINVAL\n\
               \x20\x20status Groups: 10 10 20 30\x20\n\
               \x20\x20setgroups(-1): -1 EINVAL\n\
               \x20\x20setgroups(0): 0\n\
               \x20\x20groups (0):\n\
               dropping root for good:\n\
               \x20\x20setgid(100): 0\n\
               \x20\x20setuid(1000): 0\n\
               \x20\x20after: uid 1000 1000 1000 fs 1000, gid 100 100 100 fs 100\n\
               \x20\x20after: permitted none, effective none\n\
               \x20\x20setuid(0): -1 EPERM\n\
               \x20\x20setgid(0): -1 EPERM\n\
               \x20\x20setgroups: -1 EPERM\n\
               \x20\x20setuid(1000) again: 0\n\
               \x20\x20setuid(-1): -1 EINVAL\n\
               \x20\x20its /proc/self/environ: owner 0:0, readable no\n\
               \x20\x20dumpable again: owner 1000:100, readable yes\n\
               \x20\x20status Uid: 1000\t1000\t1000\t1000\n\
               \x20\x20status Gid: 100\t100\t100\t100\n\
               \x20\x20a file it made: owner 1000:100\n\
               \x20\x20its child: uid 1000, euid 1000, gid 100\n\
               \x20\x20a signal it sent itself: si_uid 1000\n\
               keeping root as the saved uid:\n\
               \x20\x20setresgid(100, 100, 0): 0\n\
               \x20\x20setresuid(1000, 1000, 0): 0\n\
               \x20\x20after: uid 1000 1000 0 fs 1000, gid 100 100 0 fs 100\n\
               \x20\x20after: permitted all, effective none\n\
               \x20\x20setresuid(5, -1, -1): -1 EPERM\n\
               \x20\x20seteuid(0) through the saved uid: 0\n\
               \x20\x20back: uid 1000 0 0 fs 0, gid 100 100 0 fs 100\n\
               \x20\x20back: permitted all, effective all permitted\n\
               \x20\x20setreuid(-1, 7): 0\n\
               \x20\x20setreuid(-1, 7): uid 1000 7 7 fs 7, gid 100 100 0 fs 100\n\
               \x20\x20setreuid(0, 0): -1 EPERM\n\
               \x20\x20setreuid(0, 0): uid 1000 7 7 fs 7, gid 100 100 0 fs 100\n\
               \x20\x20setreuid(7, 0): -1 EPERM\n\
               \x20\x20setreuid(7, 0): uid 1000 7 7 fs 7, gid 100 100 0 fs 100\n\
               \x20\x20setregid(-1, 3): -1 EPERM\n\
               \x20\x20setregid(-1, 3): uid 1000 7 7 fs 7, gid 100 100 0 fs 100\n\
               file-system ids:\n\
               \x20\x20setfsuid(1000) was 0\n\
               \x20\x20setfsgid(100) was 0\n\
               \x20\x20after: uid 0 0 0 fs 1000, gid 0 0 0 fs 100\n\
               \x20\x20after: permitted all, effective some\n\
               \x20\x20a file it made: owner 1000:100\n\
               \x20\x20a directory it made: owner 1000:100\n\
               \x20\x20setfsuid(0) was 1000\n\
               \x20\x20fsuid 0 again: permitted all, effective all permitted\n\
               PR_SET_KEEPCAPS:\n\
               \x20\x20PR_SET_KEEPCAPS: 0\n\
               \x20\x20setresuid(1000, 1000, 1000): 0\n\
               \x20\x20after: permitted all, effective none\n\
               \x20\x20PR_GET_KEEPCAPS: 1\n";
    case("creds", c_only(tc), "creds", vec![Run::new("ids").stdout(out)])
}

/// `jobs`: stopped processes: a two-thread child spinning in app code stopped by SIGSTOP
/// (WUNTRACED, CLD_STOPPED, /proc's `T`, frozen counters), continued (WCONTINUED,
/// CLD_CONTINUED) and killed while stopped; children stopped in read and nanosleep going on
/// without an error after SIGCONT; SIGTSTP in a group of its own, and with a handler; a
/// blocked SIGTSTP discarded by SIGCONT; SA_NOCLDSTOP; waitid's WSTOPPED (WNOWAIT) and
/// WCONTINUED.
pub fn jobs(tc: Toolchain) -> Case {
    let out = "SIGSTOP: waitpid WUNTRACED: stopped by 19\n\
               \x20\x20SIGCHLD: CLD_STOPPED (SIGSTOP)\n\
               \x20\x20/proc state: T\n\
               \x20\x20both threads frozen: yes\n\
               \x20\x20waitpid WUNTRACED|WNOHANG again: 0\n\
               SIGCONT: waitpid WCONTINUED: continued\n\
               \x20\x20SIGCHLD: CLD_CONTINUED (SIGCONT)\n\
               \x20\x20both threads move: yes\n\
               \x20\x20/proc state: R\n\
               SIGKILL while stopped: killed by 9\n\
               \x20\x20SIGCHLD: CLD_KILLED\n\
               blocked in read: stopped by 19\n\
               \x20\x20data written while it is stopped: answered no\n\
               \x20\x20after SIGCONT its read returned 1\n\
               blocked in nanosleep: stopped by 19\n\
               \x20\x20after SIGCONT nanosleep returned 0\n\
               blocked in epoll_wait: stopped by 19\n\
               \x20\x20after SIGCONT epoll_wait returned -1 EINTR\n\
               blocked in sigtimedwait: stopped by 19\n\
               \x20\x20after SIGCONT sigtimedwait returned -1 EINTR\n\
               SIGTSTP, own group: stopped by 20\n\
               SIGTSTP with a handler: handled\n\
               \x20\x20then: exited 0\n\
               a blocked SIGTSTP after a SIGCONT: still pending no\n\
               SA_NOCLDSTOP: handler calls after a stop and a continue: 0\n\
               \x20\x20after its end: 1\n\
               waitid WSTOPPED|WNOWAIT: 0, CLD_STOPPED, status 19\n\
               \x20\x20again: 0, CLD_STOPPED\n\
               \x20\x20and again: 0, pid 0\n\
               waitid WCONTINUED: 0, CLD_CONTINUED, status 18\n";
    case("jobs", c_only(tc), "jobs", vec![Run::new("stops").stdout(out)])
}

/// `dac`: file permissions against user and group ids: root (refused only what needs an
/// execute bit), a child that became uid 1000 (gid 100, group 50) opening, searching,
/// listing, creating, removing, renaming, running and changing root's files and its own
/// (EACCES, EPERM, the sticky /tmp rule, chown to its own group), and access() answering for
/// the real ids while faccessat(AT_EACCESS) answers for the effective ones.
pub fn dac(tc: Toolchain) -> Case {
    let out = "as root:\n\
               \x20\x20read a 0000 file: 0\n\
               \x20\x20access X_OK a 0644 file: -1 EACCES\n\
               \x20\x20access X_OK a 0700 file: 0\n\
               \x20\x20run a 0644 file: EACCES\n\
               as uid 1000, gid 100, group 50:\n\
               \x20\x20read root's 0600 file: -1 EACCES\n\
               \x20\x20read a 0640 file of group 50: 0\n\
               \x20\x20write it: -1 EACCES\n\
               \x20\x20read a 0644 file: 0\n\
               \x20\x20write it: -1 EACCES\n\
               \x20\x20truncate it: -1 EACCES\n\
               \x20\x20open in a 0700 directory: -1 EACCES\n\
               \x20\x20stat in it: -1 EACCES\n\
               \x20\x20list it: -1 EACCES\n\
               \x20\x20chdir into it: -1 EACCES\n\
               \x20\x20create in a 0755 directory of root's: -1 EACCES\n\
               \x20\x20mkdir there: -1 EACCES\n\
               \x20\x20unlink there: -1 EACCES\n\
               \x20\x20access R_OK root's 0600 file: -1 EACCES\n\
               \x20\x20access R_OK a 0640 file of group 50: 0\n\
               \x20\x20access W_OK a 0644 file: -1 EACCES\n\
               \x20\x20chmod root's file: -1 EPERM\n\
               \x20\x20utimensat now on root's file: -1 EACCES\n\
               \x20\x20utimensat to a time: -1 EPERM\n\
               \x20\x20run a 0700 program of root's: EACCES\n\
               \x20\x20run a 0755 one: ran\n\
               \x20\x20run a 0711 one (no read permission): ran\n\
               \x20\x20make a file in sticky /tmp/s: 0\n\
               \x20\x20it is owned by 1000:100\n\
               \x20\x20chown it to root: -1 EPERM\n\
               \x20\x20chgrp it to group 50: 0\n\
               \x20\x20chgrp it to group 7: -1 EPERM\n\
               \x20\x20chmod it: 0\n\
               \x20\x20unlink root's file there: -1 EPERM\n\
               \x20\x20rename root's file there: -1 EPERM\n\
               \x20\x20rename its own: 0\n\
               \x20\x20unlink its own: 0\n\
               real uid 1000, effective 0:\n\
               \x20\x20open root's 0600 file: 0\n\
               \x20\x20access R_OK (real ids): -1 EACCES\n\
               \x20\x20faccessat AT_EACCESS (effective): 0\n";
    case("dac", c_only(tc), "dac", vec![Run::new("permissions").stdout(out)])
}

/// `inotify`: file-system change notification: creation and its errors, what the file
/// shows, a directory watch seeing its children made, written, read, closed, changed,
/// renamed and removed (in /tmp and in the root), a watch on a file until it is deleted,
/// one-shot watches, IN_MASK_ADD/CREATE, a watched directory that moves, readiness, and a
/// blocking read woken by another process.
pub fn inotify(tc: Toolchain) -> Case {
    let out = "init1 flag 1: -1 EINVAL\n\
               inotify: mode 0600, cloexec yes, nonblock yes, access rdonly, link anon_inode:inotify\n\
               add_watch, mask 0: -1 EINVAL\n\
               add_watch, MASK_ADD|MASK_CREATE: -1 EINVAL\n\
               add_watch on a pipe: -1 EINVAL\n\
               add_watch on a closed fd: -1 EBADF\n\
               add_watch, a missing path: -1 ENOENT\n\
               add_watch ONLYDIR on a file: -1 ENOTDIR\n\
               rm_watch of an unknown wd: -1 EINVAL\n\
               read, nothing queued: -1 EAGAIN\n\
               a directory in /tmp:\n\
               \x20\x20create: [/tmp/watched CREATE - a] [/tmp/watched OPEN - a]\n\
               \x20\x20two writes: [/tmp/watched MODIFY - a]\n\
               \x20\x20close: [/tmp/watched CLOSE_WRITE - a]\n\
               \x20\x20open, read, close: [/tmp/watched OPEN - a] [/tmp/watched ACCESS - a] [/tmp/watched CLOSE_NOWRITE - a]\n\
               \x20\x20chmod: [/tmp/watched ATTRIB - a]\n\
               \x20\x20truncate: [/tmp/watched MODIFY - a]\n\
               \x20\x20rename a -> b: [/tmp/watched MOVED_FROM c a] [/tmp/watched MOVED_TO c= b]\n\
               \x20\x20mkdir sub, open the directory: [/tmp/watched CREATE|ISDIR - sub] [/tmp/watched OPEN|ISDIR -] [/tmp/watched CLOSE_NOWRITE|ISDIR -]\n\
               \x20\x20rmdir sub: [/tmp/watched DELETE|ISDIR - sub]\n\
               \x20\x20link b -> a: [/tmp/watched CREATE - a]\n\
               \x20\x20unlink b, unlink a: [/tmp/watched DELETE - b] [/tmp/watched DELETE - a]\n\
               \x20\x20rm_watch: [/tmp/watched IGNORED -]\n\
               a directory in the root file system:\n\
               \x20\x20create: [/srv-watched CREATE - a] [/srv-watched OPEN - a]\n\
               \x20\x20two writes: [/srv-watched MODIFY - a]\n\
               \x20\x20close: [/srv-watched CLOSE_WRITE - a]\n\
               \x20\x20open, read, close: [/srv-watched OPEN - a] [/srv-watched ACCESS - a] [/srv-watched CLOSE_NOWRITE - a]\n\
               \x20\x20chmod: [/srv-watched ATTRIB - a]\n\
               \x20\x20truncate: [/srv-watched MODIFY - a]\n\
               \x20\x20rename a -> b: [/srv-watched MOVED_FROM c a] [/srv-watched MOVED_TO c= b]\n\
               \x20\x20mkdir sub, open the directory: [/srv-watched CREATE|ISDIR - sub] [/srv-watched OPEN|ISDIR -] [/srv-watched CLOSE_NOWRITE|ISDIR -]\n\
               \x20\x20rmdir sub: [/srv-watched DELETE|ISDIR - sub]\n\
               \x20\x20link b -> a: [/srv-watched CREATE - a]\n\
               \x20\x20unlink b, unlink a: [/srv-watched DELETE - b] [/srv-watched DELETE - a]\n\
               \x20\x20rm_watch: [/srv-watched IGNORED -]\n\
               the same file again, MASK_ADD: the same wd, MASK_CREATE: -1 EEXIST\n\
               file watch: rewrite: [plain OPEN -] [plain MODIFY -] [plain CLOSE_WRITE -]\n\
               file watch: unlink: [plain ATTRIB -] [plain DELETE_SELF -] [plain IGNORED -]\n\
               rm_watch after IN_IGNORED: -1 EINVAL\n\
               one-shot, two rewrites: [once MODIFY -] [once IGNORED -]\n\
               directory moved, then a file made in it: [d1 MOVE_SELF -] [d1 CREATE - new] [d1 CLOSE_WRITE - new]\n\
               emptied and removed: [d1 IGNORED -]\n\
               poll, nothing queued: 0\n\
               poll after a create: 1, POLLIN yes\n\
               FIONREAD: 48 bytes (a 16-byte header and a 17-byte name padded to 32)\n\
               read into 20 bytes: -1 EINVAL\n\
               epoll, one event queued: 1\n\
               epoll, edge again: 0\n\
               read: [ready CREATE - abcdefghijklmnop]\n\
               blocking read: 32 bytes, CREATE from-child\n";
    case("inotify", c_only(tc), "inotify", vec![Run::new("events").stdout(out)])
}

/// `posix_timer`: timer_create and friends: a NULL sigevent, a signal reaching an app that
/// spins in its own code, a periodic timer, an absolute CLOCK_REALTIME time, SIGEV_THREAD_ID,
/// the C library's SIGEV_THREAD, gettime, getoverrun, delete, and the calls refused.
pub fn posix_timer(tc: Toolchain) -> Case {
    let out = "timer_delete of no timer: -1 EINVAL\n\
               signal 65: -1 EINVAL\n\
               a thread of another process: -1 EINVAL\n\
               NULL sigevent: SIGALRM yes, SI_TIMER yes\n\
               one-shot, spinning: reached yes, SIGUSR1 yes, value 42\n\
               timer_getoverrun: 0\n\
               periodic, spinning: 3 signals yes\n\
               gettime: interval 10 ms yes, 0 < left <= 10 ms yes\n\
               disarmed: 0.000000000\n\
               timer_delete: 0\n\
               absolute realtime: value 7, after its time yes\n\
               SIGEV_THREAD_ID: 0\n\
               a thread-directed timer reached its thread: yes\n\
               SIGEV_THREAD: 0\n\
               its function ran: value 5\n\
               sigwaitinfo of a blocked SIGALRM from setitimer: yes\n";
    case("posix_timer", c_only(tc), "posix_timer", vec![Run::new("timers").stdout(out)])
}

/// `fifo`: named pipes (mkfifo): the file's type and mode, a non-blocking writer without a
/// reader (ENXIO), data, end of file and fstat of an end, blocking opens that wait for the
/// other side across processes (both ways), O_RDWR at once, the data gone once every end
/// closed, an unlinked FIFO still open, and a blocking open ended by a signal (EINTR).
pub fn fifo(tc: Toolchain) -> Case {
    let out = "mkfifo: a FIFO: yes, mode 640\n\
               mkfifo again: -1 EEXIST\n\
               non-blocking writer, no reader: -1 ENXIO\n\
               non-blocking reader, no writer: opened; read = 0; poll: none\n\
               through the FIFO: 5 \"hello\"\n\
               fstat of an end: a FIFO: yes, the file's inode: yes\n\
               empty, a writer open: -1 EAGAIN\n\
               the writer closed: read = 0; poll: HUP\n\
               blocking reader waited for the writer: yes; read \"from the child\" then end of file; child 0\n\
               blocking writer waited for the reader: yes; the child read it: yes\n\
               O_RDWR: opened at once; another open reads its bytes: 4 \"kept\"\n\
               every end closed, then opened again: -1 EAGAIN\n\
               unlinked while open: 5 \"still\"; stat: -1 ENOENT\n\
               blocking open interrupted by a signal: -1 EINTR\n";
    case("fifo", c_only(tc), "fifo", vec![Run::new("named pipes").stdout(out)])
}

/// `cputime`: computing is CPU time, sleeping is not (another thread's neither, while it
/// sleeps), an ended thread's counts for the
/// process; times, getrusage and /proc/self/stat agree with clock_gettime; a waited-for
/// child's time is in wait4's rusage, RUSAGE_CHILDREN and times.
pub fn cputime(tc: Toolchain) -> Case {
    let out = "computing 100 ms is CPU time: yes\n\
               sleeping 300 ms is not: yes\n\
               nor another thread's sleep, while it sleeps: yes\n\
               an ended thread's 100 ms count for the process: yes\n\
               but not for the main thread: yes\n\
               getrusage agrees: yes\n\
               times agrees: yes\n\
               /proc/self/stat agrees: yes\n\
               no child yet: yes\n\
               wait4's rusage has the child's 100 ms: yes\n\
               RUSAGE_CHILDREN too: yes\n\
               times' children too: yes\n";
    case("cputime", c_only(tc), "cputime", vec![Run::new("cpu time").stdout(out)])
}

/// `misc_calls`: calls answered without doing anything once their arguments are checked: the
/// wait family (no child can exist), the mlock family, readahead, sync_file_range; extended
/// attributes, which no file system of the VM stores (VM only: the host's have them).
pub fn misc_calls(tc: Toolchain) -> Case {
    let out = "wait: ECHILD\n\
               waitpid WNOHANG: ECHILD\n\
               wait4 with an unknown option: EINVAL\n\
               waitid P_ALL WEXITED: ECHILD\n\
               waitid without WEXITED: EINVAL\n\
               mlock: ok\n\
               munlock: ok\n\
               mlock past the mapping: ENOMEM\n\
               mlockall: ok\n\
               munlockall: ok\n\
               mlockall without a flag: EINVAL\n\
               readahead: ok\n\
               readahead of a pipe: EINVAL\n\
               sync_file_range: ok\n\
               sync_file_range with an unknown flag: EINVAL\n\
               sync_file_range of a pipe: ESPIPE\n";
    let xattr = "getxattr: ENOTSUP\n\
                 lgetxattr: ENOTSUP\n\
                 setxattr on /tmp: ENOTSUP\n\
                 removexattr: ENOTSUP\n\
                 listxattr: 0\n\
                 getxattr of a missing file: ENOENT\n\
                 fgetxattr: ENOTSUP\n\
                 flistxattr: 0\n\
                 fgetxattr of a closed fd: EBADF\n";
    let runs = vec![
        Run::new("misc calls").stdout(out),
        Run::new("extended attributes").args(&["xattr"]).stdout(xattr).vm_only(),
    ];
    case("misc_calls", c_only(tc), "misc_calls", runs)
}

/// `clone_refused`: a clone for a process that shares its parent's fd table or working
/// directory fails with ENOSYS, and uvm notes it once on stderr; fork still works. Only in
/// the VM: natively the calls succeed, so it is not in [`all`].
pub fn clone_refused(tc: Toolchain) -> Case {
    let run = Run::new("refused processes")
        .stdout("clone CLONE_FILES: ENOSYS\nclone CLONE_FS: ENOSYS\nfork: a child that exited 4\n")
        .stderr(
            "uvm: note: the app called clone to start a process that shares its fd table, signal \
             handlers or working directory with its parent, which uvm does not serve: the call \
             failed with ENOSYS (noted once per run)\n",
        );
    case("clone_refused", c_only(tc), "clone_refused", vec![run])
}

/// `fork`: more than one process. fork copies memory (each side keeps its own writes) and shares
/// open file descriptions (offset, status flags; not fd flags); the wait family (waitpid -1 and
/// WNOHANG, wait4's rusage, waitid's siginfo and WNOWAIT, ECHILD once reaped); children killed
/// by SIGKILL, SIGSEGV and a group's SIGTERM; SIGCHLD once per exit, and no zombies while it is
/// ignored; execve, posix_spawn and vfork in a child; an orphan's new parent; process groups and
/// sessions; 200 forks in a row and 8 children at once. One run per part, then all in one
/// process; the app prints relations (`1` true), never pids, and exits 0 only if all held.
pub fn fork(tc: Toolchain) -> Case {
    let parts: [(&str, &str); 13] = [
        (
            "fork",
            "fork: /proc/PID/stat of the child names it 1 and its parent 1\n\
             fork: pid!=parent 1, ppid==parent 1, fork returned the child's pid 1\n\
             fork: the child's copies kept its writes, not the parent's 1\n\
             fork: the parent's copies kept its writes, not the child's 1\n\
             fork: waitpid WIFEXITED 1 WEXITSTATUS 7\n\
             fork: second waitpid -1 ECHILD\n\
             fork: the child's writes to MAP_SHARED memory show in the parent: anonymous 1, a /dev/shm file 1; to MAP_PRIVATE memory not 1\n\
             fork: a process-shared semaphore: the child waited 100 ms 1, then the parent's sem_post woke it 1\n\
             fork: a robust process-shared mutex the child held when it ended: the parent's lock EOWNERDEAD\n",
        ),
        (
            "pipe",
            "pipe: read 102400 bytes, checksum matches 1\n\
             pipe: the child alive, both write ends open: poll none\n\
             pipe: the child alive, the parent's write end closed: poll none\n\
             pipe: the child exited (WIFEXITED 1 WEXITSTATUS 0): poll HUP, read 0\n\
             pipe: the child exited, the parent's write end open: poll none; closed: read 0\n",
        ),
        (
            "wait",
            "wait: waitpid(-1) returned the child 1, WIFEXITED 1 WEXITSTATUS 11\n\
             wait: WNOHANG while the child waits: 0; after it ran on: the child 1, WIFEXITED 1 WEXITSTATUS 12\n\
             wait: wait4 returned the child 1, WIFEXITED 1 WEXITSTATUS 13, rusage filled 1\n\
             wait: waitid 0: si_signo SIGCHLD 1, si_pid==child 1, si_code CLD_EXITED 1, si_status 14\n\
             wait: waitpid after waitid reaped it: -1 ECHILD\n\
             wait: waitid WNOWAIT twice saw it 1, then waitpid reaped the child 1, WIFEXITED 1 WEXITSTATUS 15\n\
             wait: waitpid of its own pid (not a child): -1 ECHILD\n",
        ),
        (
            "signals",
            "signals: SIGKILL from the parent: WIFSIGNALED 1 WTERMSIG 9\n\
             signals: a write to NULL in the child: WIFSIGNALED 1 WTERMSIG 11\n\
             signals: SIGCHLD handler ran 3 times for 3 children, si_pid/si_code/si_status right 1\n\
             signals: SIGCHLD ignored, the child exited: waitpid -1 ECHILD\n\
             signals: sigwaitinfo across processes: the parent's 1 (from the child 1), the child's 1 (from the \
             parent 1)\n",
        ),
        (
            "fds",
            "fds: the child's write moved the shared offset to 13; the file: parent|child|parent again|\n\
             fds: the parent's fd open after the child closed its copy 1\n\
             fds: O_NONBLOCK set by the child shows in the parent 1, FD_CLOEXEC set by the child does not 1\n\
             fds: close-on-exec fd inherited with its flag 1 and readable 1; after execve closed 1, other fds kept 1\n",
        ),
        (
            "exec",
            "hello-child: argv [fork] [hello-child]\n\
             hello-child: /proc/self/maps read 1, shows its parent's page 0\n\
             exec: fork, then execve in the child: WIFEXITED 1 WEXITSTATUS 3\n\
             hello-child: argv [fork] [hello-child]\n\
             hello-child: /proc/self/maps read 1, shows its parent's page 0\n\
             exec: posix_spawn: WIFEXITED 1 WEXITSTATUS 3\n\
             exec: posix_spawn of a missing program: ENOENT\n\
             exec: vfork, then _exit in the child: WIFEXITED 1 WEXITSTATUS 5\n",
        ),
        (
            "orphan",
            "orphan: the child WIFEXITED 1 WEXITSTATUS 0\norphan reparented 1\n\
             orphan: a grandchild with PR_SET_PDEATHSIG SIGKILL ended with its parent 1\n",
        ),
        (
            "pgroup",
            "pgroup: the child's group is the parent's 1, its session the parent's 1\n\
             pgroup: after setpgid(0, 0) getpgrp()==getpid() 1, getpgid from the parent 1\n\
             pgroup: kill(-pgid, SIGTERM): WIFSIGNALED 1 WTERMSIG 15; then kill(-pgid, 0) -1 ESRCH\n\
             pgroup: setsid in the child leads a new session and group 1, WIFEXITED 1 WEXITSTATUS 0\n",
        ),
        (
            "many",
            "many: 200 of 200 forks one after another exited with their number and were reaped\n\
             many: 8 alive at once each wrote its index once 1, then EOF 1\n\
             many: all 8 reaped by waitpid(-1) with their statuses 1, then ECHILD\n",
        ),
        (
            "reuse",
            "reuse: 60 of 60 children saw the parent's memory as at their fork and nothing of an earlier child's\n",
        ),
        ("big", "big: the child saw the parent's 1024 pages 1, its writes stayed its own 1\n"),
        ("sibling", "sibling: 300 unmaps while a child spun 1, the child exited 0 1\n"),
        ("sigchld", "sigchld: 20 children reaped, the handler ran once each 1\n"),
    ];
    let mut runs: Vec<Run> = parts.iter().map(|&(part, out)| Run::new(part).args(&[part]).stdout(out)).collect();
    let many = parts.iter().find(|&&(part, _)| part == "many").expect("the many part").1;
    runs.push(Run::new("many, processes sharing one vCPU").args(&["many"]).cpus(1).stdout(many).vm_only());
    runs.push(Run::new("every part in one process").stdout(parts.iter().map(|(_, out)| *out).collect::<String>()));
    case("fork", c_only(tc), "fork", runs)
}

/// `locks`: advisory file locks between processes. flock is held by an open file description
/// (a fork-inherited fd shares it, another open conflicts, its last close releases it, a failed
/// upgrade drops the old lock); fcntl record locks are held by a process (F_GETLK names the
/// holder's pid, unlocking a middle range splits a lock, read locks coexist, F_SETLKW waits,
/// closing any fd of the file or exiting drops them, SEEK_CUR/SEEK_END and negative lengths,
/// l_len 0 reaches past the end, EBADF for a mode the fd lacks, EINVAL); OFD locks are held by
/// the description (two opens in one process conflict, l_pid -1, they go with the last fd, and
/// conflict with POSIX locks). A process still blocked is one that has not reported after
/// 100 ms. One run per part, then all in one process; the app prints relations, never pids.
pub fn locks(tc: Toolchain) -> Case {
    let parts: [(&str, &str); 3] = [
        (
            "flock",
            "flock: the parent's LOCK_EX: ok\n\
             flock: a child's own open: LOCK_EX|LOCK_NB EWOULDBLOCK, LOCK_SH|LOCK_NB EWOULDBLOCK\n\
             flock: a child's inherited fd (the same open file description): LOCK_EX|LOCK_NB ok; after it exited, a child's own open: LOCK_EX|LOCK_NB EWOULDBLOCK\n\
             flock: a child's LOCK_UN on its inherited fd ok (the description's lock): then a child's own open: LOCK_EX|LOCK_NB ok; the parent's LOCK_EX|LOCK_NB again ok\n\
             flock: a child's LOCK_EX on its own open: not done after 100 ms 1; the parent's LOCK_UN ok, then the child's LOCK_EX ok\n\
             flock: while that child holds it: the parent's LOCK_SH|LOCK_NB EWOULDBLOCK; after it exited: ok\n\
             flock: shared locks coexist: the parent's LOCK_SH and a child's LOCK_SH|LOCK_NB ok; the parent's LOCK_EX|LOCK_NB then EWOULDBLOCK\n\
             flock: while the parent holds LOCK_SH: a child's own open: LOCK_EX|LOCK_NB EWOULDBLOCK\n\
             flock: the parent's second open: LOCK_EX|LOCK_NB EWOULDBLOCK, LOCK_SH|LOCK_NB ok; the first open's upgrade LOCK_EX|LOCK_NB EWOULDBLOCK, which dropped its LOCK_SH: the second's LOCK_EX|LOCK_NB ok\n\
             flock: after the second open's only fd was closed, the first's LOCK_EX|LOCK_NB ok\n\
             flock: the parent closed its fd while a child kept a copy: a child's own open: LOCK_EX|LOCK_NB EWOULDBLOCK; after that child exited ok\n\
             flock: a new open's LOCK_EX ok: a child's LOCK_EX|LOCK_NB EWOULDBLOCK; after the parent closed that only fd ok\n\
             flock: operation 0 EINVAL, LOCK_SH|LOCK_EX EINVAL, LOCK_NB alone EINVAL; LOCK_UN with no lock ok\n\
             flock: a closed fd: LOCK_EX EBADF, LOCK_UN EBADF, operation 0 EINVAL\n",
        ),
        (
            "posix",
            "posix: the parent's F_SETLK F_WRLCK 0..99 ok; its own F_GETLK on 50..59: F_UNLCK\n\
             posix: a child's F_GETLK F_WRLCK 50..59 ok: F_WRLCK SEEK_SET 0..99, l_pid==parent 1\n\
             posix: a child's F_GETLK F_WRLCK 100..199 ok: F_UNLCK, the other fields as they were 1\n\
             posix: a child's F_SETLK F_WRLCK 100..199 ok, F_WRLCK 50..50 EAGAIN or EACCES, F_RDLCK 0..9 EAGAIN or EACCES\n\
             posix: a child that closed its inherited copy of the parent's fd: F_WRLCK 0..0 EAGAIN or EACCES\n\
             posix: after the parent's F_UNLCK 40..59 ok: a child's F_WRLCK 45..50 ok, 30..30 EAGAIN or EACCES, 70..70 EAGAIN or EACCES\n\
             posix: a child's F_GETLK at 30: F_WRLCK SEEK_SET 0..39; at 70: F_WRLCK SEEK_SET 60..99\n\
             posix: after the parent's F_UNLCK 0.. ok: a child's F_WRLCK on the whole file ok\n\
             posix: F_RDLCK 200..299: the parent's ok, a child's ok; a third process's F_WRLCK 250..250 EAGAIN or EACCES, its F_RDLCK 250..250 ok; the parent's upgrade to F_WRLCK EAGAIN or EACCES\n\
             posix: after the child with the read lock exited: the parent's read lock outlived its failed upgrade: a child's F_WRLCK 250..250 EAGAIN or EACCES; the parent's upgrade now ok\n\
             posix: the parent's F_WRLCK 300..399 ok; a child's F_SETLKW F_WRLCK 350..350: not done after 100 ms 1; the parent's F_UNLCK ok, then the child's lock ok\n\
             posix: while that child holds 350..350, the parent's F_SETLK there EAGAIN or EACCES; after it exited ok\n\
             posix: the parent's F_WRLCK 0..99 ok (a child's F_WRLCK 0..0 EAGAIN or EACCES); after it opened the file again and closed that fd: ok\n\
             posix: the same with close(dup(fd)): the parent's F_WRLCK 0..99 ok (a child's EAGAIN or EACCES); after: ok\n\
             posix: a child's F_WRLCK 500..599 ok: the parent's F_SETLK there EAGAIN or EACCES, F_GETLK F_WRLCK SEEK_SET 500..599 l_pid==child 1; after the child exited: ok\n\
             posix: the parent's F_WRLCK l_start 10 l_len -5 from SEEK_SET ok, from SEEK_CUR (offset 100) ok, l_start -10 l_len 5 from SEEK_END (size 1000) ok\n\
             posix: a child's F_GETLK on 0..19: F_WRLCK SEEK_SET 5..9; on 100..119: F_WRLCK SEEK_SET 105..109; on l_start -20 l_len 20 from SEEK_END: F_WRLCK SEEK_SET 990..994\n\
             posix: a child's F_WRLCK on byte 4 ok, 10 ok, 104 ok, 995 ok\n\
             posix: l_start -1 from SEEK_SET EINVAL; l_start 3 l_len -5 EINVAL\n\
             posix: the parent's F_WRLCK l_start 1000 l_len 0 ok: a child's F_WRLCK at 1000000 EAGAIN or EACCES, F_GETLK there F_WRLCK SEEK_SET 1000..; at 999 ok\n\
             posix: F_RDLCK on an O_WRONLY fd EBADF, F_WRLCK on an O_RDONLY fd EBADF; F_WRLCK on O_WRONLY ok, F_RDLCK on O_RDONLY ok, F_UNLCK on O_RDONLY ok; F_GETLK F_WRLCK on O_RDONLY ok\n\
             posix: F_SETLK l_type 42 EINVAL, l_whence 7 EINVAL; F_GETLK l_type F_UNLCK EINVAL, l_type 42 EINVAL; a closed fd EBADF\n",
        ),
        (
            "ofd",
            "ofd: one process, two opens: the first's F_OFD_SETLK F_WRLCK 0..9 ok, the second's EAGAIN or EACCES\n\
             ofd: the second's F_OFD_GETLK: F_WRLCK SEEK_SET 0..9 l_pid -1\n\
             ofd: the first's own F_OFD_GETLK: F_UNLCK\n\
             ofd: l_pid 1 (it must be 0): F_OFD_SETLK EINVAL, F_OFD_GETLK EINVAL\n\
             ofd: a child's inherited copy of the first: F_OFD_SETLK F_WRLCK 0..9 ok, F_OFD_GETLK F_UNLCK; its own open: EAGAIN or EACCES; after those children exited, the parent's second open: EAGAIN or EACCES\n\
             ofd: the parent's F_SETLK F_WRLCK 0..9 (a POSIX lock) EAGAIN or EACCES; a child's F_GETLK there: F_WRLCK SEEK_SET 0..9 l_pid -1\n\
             ofd: the parent's F_SETLK F_WRLCK 100..109 ok; its F_OFD_SETLK there EAGAIN or EACCES, F_OFD_GETLK F_WRLCK SEEK_SET 100..109 l_pid==parent 1\n\
             ofd: the second open's F_OFD_SETLK F_WRLCK 0..9 after another fd of the file was closed EAGAIN or EACCES; after the first's fd was closed, a dup of it open EAGAIN or EACCES; after the dup was closed ok\n\
             ofd: the parent's F_OFD_SETLK F_WRLCK 0..99 ok; a child's F_OFD_SETLKW F_WRLCK 50..59 on its own open: not done after 100 ms 1; the parent's F_UNLCK ok, then the child's lock ok\n\
             ofd: while that child holds it, the parent's F_OFD_SETLK there EAGAIN or EACCES; after its open went with its exit ok\n\
             ofd: F_OFD_SETLK F_WRLCK on an O_RDONLY fd EBADF, l_type 42 EINVAL\n",
        ),
    ];
    let mut runs: Vec<Run> = parts.iter().map(|&(part, out)| Run::new(part).args(&[part]).stdout(out)).collect();
    runs.push(Run::new("every part in one process").stdout(parts.iter().map(|(_, out)| *out).collect::<String>()));
    case("locks", c_only(tc), "locks", runs)
}

/// `guard_page`: touching a PROT_NONE page between two good ones: SIGSEGV, status 139.
pub fn guard_page(tc: Toolchain) -> Case {
    let run = Run::new("guard page").stdout("guard page ready, neighbours hold axxc\n").status(SEGV);
    case("guard_page", c_only(tc), "guard_page", vec![run])
}

/// `remap`: replaced and re-created mappings show their new content, never the old.
pub fn remap(tc: Toolchain) -> Case {
    let out = "round1 munmap+MAP_FIXED: OK\n\
               round2 MAP_FIXED over live mapping: OK\n\
               round3 munmap+hint: OK\n\
               round4 8 MiB mapping: OK\n\
               round5 file mapping: OK\n\
               all rounds OK\n";
    case("remap", c_only(tc), "remap", vec![Run::new("remap").stdout(out)])
}

/// `exit_code`: uvm exits with the app's status (the low 8 bits, as on Linux), also when a thread
/// other than the first ends the process (its last output kept).
pub fn exit_code(tc: Toolchain) -> Case {
    let mut runs = vec![Run::new("manifest args (7)").code(7)];
    for (arg, code) in [("0", 0), ("1", 1), ("42", 42), ("125", 125), ("255", 255), ("256", 0), ("300", 44)] {
        runs.push(Run::new(&format!("-- {arg}")).args(&[arg]).code(code));
    }
    // From a thread that is not the first, while the first waits for it.
    runs.push(Run::new("-- 42 thread").args(&["42", "thread"]).stdout("bye").code(42));
    case("exit_code", c_only(tc), "exit_code", runs)
}

/// `memtouch`: `--memory-mib` sizes guest RAM: 96 MiB fit in 256 MiB but not in the
/// manifest's 64 MiB (then the app must fail somehow, and never claim success); 96 MiB of a
/// 256 MiB VM and 300 MiB of a 512 MiB VM reach past the part of RAM registered before boot.
pub fn memory(tc: Toolchain) -> Case {
    // memtouch writes (page index & 0xff) into each page and sums it back.
    let sum: u64 = (0..96u64 * 256).map(|i| i & 0xff).sum();
    let sum_300: u64 = (0..300u64 * 256).map(|i| i & 0xff).sum();
    let runs = vec![
        Run::new("--memory-mib 256").memory_mib(256).stdout(format!("touched 96 MiB, checksum {sum}\n")),
        // Past the first 32 MiB, which is all the VMM registers with KVM before boot: the
        // guest's frame allocator asks for the rest once it has handed out half of that
        // (uvm_vmm::late_ram), and waits for it if it gets there first.
        Run::new("--memory-mib 512, 300 MiB")
            .memory_mib(512)
            .args(&["300"])
            .stdout(format!("touched 300 MiB, checksum {sum_300}\n")),
        // One mapping larger than the whole machine: Linux's overcommit heuristic refuses it
        // at mmap time (ENOMEM); touching more than there is, in pieces, is the compatibility
        // suite's `oom` case (137).
        Run::new("manifest's 64 MiB").vm_only().stdout("mmap 96 MiB: ENOMEM\n").code(1),
    ];
    case("memtouch", c_only(tc), "memtouch", runs)
}

// ---------------------------------------------------------------- signals (C apps)

/// `sig_segv`: SA_SIGINFO SIGSEGV handler: si_addr, si_code (MAPERR/ACCERR), trapno and cr2
/// in the ucontext; siglongjmp out restores the mask.
pub fn sig_segv(tc: Toolchain) -> Case {
    let tail = "trapno 14, cr2 ok, blocked in handler yes, frame on stack yes, unblocked after siglongjmp yes\n";
    let out = format!(
        "write to 0x10: signal 11, SEGV_MAPERR, si_addr ok, {tail}\
         write to a read-only page: signal 11, SEGV_ACCERR, si_addr ok, {tail}\
         read of a PROT_NONE page: signal 11, SEGV_ACCERR, si_addr ok, {tail}\
         handler ran 3 times\n"
    );
    case("sig_segv", c_only(tc), "sig_segv", vec![Run::new("three faults caught").stdout(out)])
}

/// `sig_context`: a SIGILL handler reads and edits the interrupted registers and FP state.
pub fn sig_context(tc: Toolchain) -> Case {
    let out = "SIGILL: code ILL_ILLOPN, si_addr is the ud2\n\
               handler saw rax=7 yes, rbx=0x1234 yes, xmm0=42.5 yes, mxcsr=0x1f80 yes, fpregs set, \
               16-byte aligned frame yes\n\
               after return: rax=1234 rbx=0x1234 xmm0=99.25 xmm1=2\n";
    case("sig_context", c_only(tc), "sig_context", vec![Run::new("ucontext round trip").stdout(out)])
}

/// `sig_avx`: the signal frame is an XSAVE image: ymm0-15 (upper halves included) survive a
/// handler that clobbers them, and an upper half the handler edits in the frame comes back.
pub fn sig_avx(tc: Toolchain) -> Case {
    let out = "handler ran 1 time(s): UC_FP_XSTATE set, fpregs magic1 0x46505853, ymm0 upper half in the frame yes\n\
               after return: ymm0,ymm2-15 intact 15/15 (upper halves 15/15), ymm1 upper half from the frame yes\n";
    case("sig_avx", c_only(tc), "sig_avx", vec![Run::new("ymm state round trip").stdout(out)])
}

/// `cpu_features`: the app sees the host CPU's instruction sets (SSE3 to AVX2, AES, SHA) and AVX
/// state enabled, as it would natively, and those instructions run. Expected: what this host's
/// CPUID says (Linux enables YMM state wherever the CPU has AVX and XSAVE).
pub fn cpu_features(tc: Toolchain) -> Case {
    let bit = |leaf: u32, reg: usize, b: u32| {
        let r = std::arch::x86_64::__cpuid_count(leaf, 0);
        ([r.eax, r.ebx, r.ecx, r.edx][reg] >> b) & 1
    };
    let ymm = bit(1, 2, 27) & bit(1, 2, 28);
    let (aes, avx2) = (bit(1, 2, 25), bit(7, 1, 5));
    let mut out = format!(
        "sse3 {} ssse3 {} sse4.1 {} sse4.2 {} popcnt {} aes {aes} pclmul {}\n\
         avx {} avx2 {avx2} bmi2 {} erms {} sha {} ymm state {ymm}\n\
         compiler runtime: avx2 {} aes {aes}\n",
        bit(1, 2, 0),
        bit(1, 2, 9),
        bit(1, 2, 19),
        bit(1, 2, 20),
        bit(1, 2, 23),
        bit(1, 2, 1),
        bit(1, 2, 28),
        bit(7, 1, 8),
        bit(7, 1, 9),
        bit(7, 1, 29),
        avx2 & ymm,
    );
    if aes == 1 {
        out.push_str("aesenc executed\n");
    }
    if ymm & avx2 == 1 {
        out.push_str("vpaddd ymm executed\n");
    }
    case("cpu_features", c_only(tc), "cpu_features", vec![Run::new("host instruction sets").stdout(out)])
}

/// `sig_fpe`: integer division by zero: SIGFPE, FPE_INTDIV, si_addr at the divide.
pub fn sig_fpe(tc: Toolchain) -> Case {
    let out = "100/0 caught: FPE_INTDIV, si_addr set\n\
               div by zero skipped: quotient 42, FPE_INTDIV, si_addr is the div\n\
               handler ran 2 times\n";
    case("sig_fpe", c_only(tc), "sig_fpe", vec![Run::new("division by zero caught").stdout(out)])
}

/// `sig_raise`: raise/kill to itself: handlers, siginfo, SA_NODEFER/SA_RESETHAND, ignored
/// signals, then SIGTERM's default action (143).
pub fn sig_raise(tc: Toolchain) -> Case {
    let out = "raise(SIGUSR1) = 0\n\
               handler ran 1 time(s); inside: SIGUSR1 blocked yes, SIGUSR2 (sa_mask) blocked yes; after: unblocked yes\n\
               kill(getpid(), SIGUSR2) = 0: SI_USER, si_pid ok, si_uid ok\n\
               raise(SIGUSR2): SI_TKILL, si_pid ok\n\
               SA_NODEFER: blocked in its handler no\n\
               SA_RESETHAND: ran 1 time(s), disposition now SIG_DFL\n\
               ignored SIGUSR1: raise = 0\n\
               SIGCHLD, SIGURG, SIGWINCH, SIGCONT (default: ignore): 0\n\
               kill(0, 0) = 0, kill(getpid(), 0) = 0\n\
               rt_sigaction(SIGKILL): EINVAL\n";
    let run = Run::new("raise and kill").stdout(out).status(Status::Signal(15, "SIGTERM"));
    case("sig_raise", c_only(tc), "sig_raise", vec![run])
}

/// `sig_mask`: blocked signals stay pending until unblocked; real-time ones queue; nesting
/// order; SIG_IGN discards; sigsuspend and sigtimedwait; ppoll and pselect run with their
/// mask.
pub fn sig_mask(tc: Toolchain) -> Case {
    let out = "blocked: ran 0, pending USR1 \n\
               unblocked: ran 1, pending none\n\
               real-time blocked: ran 0, pending RT \n\
               real-time unblocked: ran 3 (queued, not merged)\n\
               both unblocked at once, handlers ran: USR2 USR1 \n\
               SIG_IGN on a pending signal: pending none\n\
               unblocked after SIG_IGN: ran 2 in all\n\
               sigsuspend = -1 (EINTR), ran 3 in all, SIGUSR1 blocked again yes\n\
               sigtimedwait = SIGUSR2, si_signo ok, from raise yes, handler not run yes\n\
               sigtimedwait with nothing pending = -1 (EAGAIN)\n\
               sigtimedwait for 20 ms = -1 (EAGAIN)\n\
               ppoll keeping SIGUSR1 blocked = 0, handler ran 0\n\
               ppoll unblocking it = -1 (EINTR), handler ran 1, SIGUSR1 blocked again yes\n\
               pselect unblocking it = -1 (EINTR), handler ran 2, SIGUSR1 blocked again yes\n";
    case("sig_mask", c_only(tc), "sig_mask", vec![Run::new("masks").stdout(out)])
}

/// `sig_altstack`: SA_ONSTACK handlers run on the sigaltstack; a stack overflow is caught there.
pub fn sig_altstack(tc: Toolchain) -> Case {
    let out = "alternate stack installed: flags 0, size ok yes\n\
               SA_ONSTACK handler on the alternate stack: yes\n\
               handler without SA_ONSTACK on the alternate stack: no\n\
               stack overflow caught: on the alternate stack yes, SS_ONSTACK reported yes, SEGV_MAPERR, \
               fault just below the deepest frame yes\n\
               after siglongjmp: flags 0\n\
               disabled: flags SS_DISABLE\n";
    case("sig_altstack", c_only(tc), "sig_altstack", vec![Run::new("stack overflow caught").stdout(out)])
}

/// `sig_abort`: abort() ends the app with SIGABRT (134), also after a handler that returns.
pub fn sig_abort(tc: Toolchain) -> Case {
    let abrt = Status::Signal(6, "SIGABRT");
    let runs = vec![
        Run::new("abort").stdout("about to abort\n").status(abrt),
        Run::new("abort with a handler")
            .args(&["handler"])
            .stdout("about to abort\nSIGABRT handler ran\n")
            .status(abrt),
    ];
    case("sig_abort", c_only(tc), "sig_abort", runs)
}

// ---------------------------------------------------------------- Rust apps

/// `rust/hello.rs`: args, env, a packaged file, stderr and exit code from a std program.
pub fn rust_hello() -> Case {
    let conf = String::from_utf8(read_test_file("data/app.conf")).expect("UTF-8 app.conf");
    let lines = conf.lines().count();
    let runs = vec![
        Run::new("manifest args")
            .stdout(format!("Hello, world! (from Rust)\nargv0=\"hello\" argc=3\napp.conf: {lines} lines, answer=42\n"))
            .stderr("exiting with 7\n")
            .code(7),
        Run::new("-- Ferris 0 and -e GREETING")
            .args(&["Ferris", "0"])
            .env("GREETING", "Ahoy")
            .stdout(format!("Ahoy, Ferris! (from Rust)\nargv0=\"hello\" argc=3\napp.conf: {lines} lines, answer=42\n"))
            .stderr("exiting with 0\n"),
    ];
    case("rust_hello", Rust, "hello", runs)
}

/// `rust/collections.rs`: HashMap & co. (random seed from getrandom), sorted output.
pub fn rust_collections() -> Case {
    let out = "and 1\nbrown 1\ndog 2\nfox 1\njumps 1\nlazy 1\nover 1\nquick 1\nsleeps 1\nthe 3\n\
               squares: 10000 entries, sum 333283335000, 1234^2 = 1522756\n\
               distinct residues: 100\n\
               len 3: and,dog,fox,the\n\
               len 4: lazy,over\n\
               len 5: brown,jumps,quick\n\
               len 6: sleeps\n\
               sorted: 50 values, first [0, 3, 4], last [95, 97, 98]\n";
    case("rust_collections", Rust, "collections", vec![Run::new("collections").stdout(out)])
}

/// `rust/stack_overflow.rs`: std reports the overflow from its SIGSEGV handler on its
/// sigaltstack, then aborts (134). The message is checked natively; `boot.rs` checks it in
/// the VM (where a signal status checks only the signal's name on stderr).
pub fn rust_stack_overflow() -> Case {
    let run = Run::new("overflow")
        .stdout("recursing until the stack runs out\n")
        .stderr_is(Out::Contains(RUST_OVERFLOW_MESSAGE.to_vec()))
        .status(Status::Signal(6, "SIGABRT"));
    case("rust_stack_overflow", Rust, "stack_overflow", vec![run])
}

/// What Rust's std prints when the main thread overflows its stack.
pub const RUST_OVERFLOW_MESSAGE: &[u8] = b"has overflowed its stack";

// ---------------------------------------------------------------- busybox-static, unmodified

/// `busybox echo`, binary referenced by absolute path.
pub fn busybox_echo() -> Case {
    let runs = vec![
        Run::new("manifest args").stdout("hello from busybox\n"),
        Run::new("-- echo -n").args(&["echo", "-n", "no", "newline"]).stdout("no newline"),
    ];
    case("busybox_echo", Busybox, "busybox", runs)
}

/// `busybox cat`: stdin to stdout, a packaged file, a missing file, and a named pipe.
pub fn busybox_cat() -> Case {
    let text = b"cat me\nplease\n";
    let big = pattern(256 << 10);
    let runs = vec![
        Run::new("cat stdin").stdin(text).stdout(text),
        Run::new("cat 256 KiB of stdin").stdin(&big).stdout(&big),
        Run::new("cat /etc/app.conf").args(&["cat", "/etc/app.conf"]).stdout(read_test_file("data/app.conf")),
        Run::new("cat a missing file")
            .args(&["cat", "/etc/missing"])
            .stderr("cat: can't open '/etc/missing': No such file or directory\n")
            .code(1),
        Run::new("cat a named pipe a background writer fills")
            .args(&["sh", "-c", "f=/tmp/fifo-$$; mkfifo $f && (echo through a FIFO > $f &) && cat $f; rm $f"])
            .stdout("through a FIFO\n"),
    ];
    case("busybox_cat", Busybox, "busybox", runs)
}

// ---------------------------------------------------------------- pipes, copies, mremap, /proc
/// `thread_signals`: kill() blocked by the sender is taken by the thread that does not block
/// it, while that one spins in app code; a signal blocked everywhere goes to sigwait.
pub fn thread_signals(tc: Toolchain) -> Case {
    let out = "spinner took SIGUSR1: yes, sigwait got 12\n";
    case("thread_signals", c_only(tc), "thread_signals", vec![Run::new("thread_signals").stdout(out)])
}

/// `hot_syscalls`: calls made again and again from the same sites (which the kernel rewrites
/// to enter it without a trap) stay right, from two threads too, and a read a signal
/// interrupts at such a site restarts after a SA_RESTART handler.
pub fn hot_syscalls(tc: Toolchain) -> Case {
    let out = "a read blocked before its site was rewritten, restarted after: 4 bytes, 1 signal(s), 0 wrong\n\
               getppid x1000: same every time\npipe round trips x200: 0 wrong\n\
               pipe round trips with threads x200: 0 wrong\ninterrupted read: 4 bytes \"late\" after 1 signal(s)\n\
               two threads x500: same every time\n\
               stat and fstat x1000: 0 wrong; mmap and munmap x1000: 0 wrong\n\
               stdio lines x1000: 1000 read back, 0 wrong; syscall(SYS_getppid) x1000: 0 wrong\n\
               signals during round trips: 20 or more, 0 at a pc outside the program's code, 0 wrong\n";
    case("hot_syscalls", c_only(tc), "hot_syscalls", vec![Run::new("hot_syscalls").stdout(out)])
}

/// `remap_threads`: a page replaced (MAP_FIXED) by one thread while another thread reads it on
/// another vCPU: the reader never sees the old page once mmap returned.
pub fn remap_threads(tc: Toolchain) -> Case {
    let out = "rounds: 200, stale reads: 0\n";
    case("remap_threads", c_only(tc), "remap_threads", vec![Run::new("remap_threads").stdout(out)])
}

/// `epoll`: eventfd counters (semaphore, EAGAIN, overflow) and epoll in one thread: epoll_ctl's
/// errors, level, edge and one-shot reporting on pipes and eventfds, nesting, timeouts.
pub fn epoll(tc: Toolchain) -> Case {
    let out = "eventfd: mode 0600, type bits none, O_RDWR yes\n\
               readlink /proc/self/fd: anon_inode:[eventfd]\n\
               read 4 bytes: -1 EINVAL\n\
               read: 5\n\
               write 4 bytes: -1 EINVAL\n\
               write 3: 8\n\
               write 4: 8\n\
               read: 7\n\
               write UINT64_MAX: -1 EINVAL\n\
               lseek: 0\n\
               pread: -1 ESPIPE\n\
               EFD_NONBLOCK: yes, EFD_CLOEXEC: yes\n\
               read of 0: -1 EAGAIN\n\
               write 0xfffffffffffffffe: 8\n\
               write 1 more: -1 EAGAIN\n\
               write 0 more: 8\n\
               full: poll IN\n\
               read: the max\n\
               empty: poll OUT\n\
               semaphore reads: 1 1 1 -1 EAGAIN\n\
               eventfd2 with flag 2: -1 EINVAL\n\
               epoll_create(0): -1 EINVAL\n\
               epoll_create1(1): -1 EINVAL\n\
               epoll: cloexec yes, mode 0600, link anon_inode:[eventpoll]\n\
               ADD a regular file: -1 EPERM\n\
               ADD a directory: -1 EPERM\n\
               ADD the epoll fd itself: -1 EINVAL\n\
               ADD to an eventfd: -1 EINVAL\n\
               ADD a closed fd: -1 EBADF\n\
               MOD a missing entry: -1 ENOENT\n\
               DEL a missing entry: -1 ENOENT\n\
               ADD: 0\n\
               ADD again: -1 EEXIST\n\
               unknown op: -1 EINVAL\n\
               ADD EPOLLEXCLUSIVE|EPOLLONESHOT: -1 EINVAL\n\
               ADD EPOLLEXCLUSIVE: 0\n\
               MOD an EPOLLEXCLUSIVE entry: -1 EINVAL\n\
               ADD an epoll fd: 0\n\
               ADD back (a loop): -1 ELOOP\n\
               epoll_wait maxevents 0: -1 EINVAL\n\
               epoll_wait on an eventfd: -1 EINVAL\n\
               epoll_wait on a closed fd: -1 EBADF\n\
               level, nothing to read: 1: 11=OUT\n\
               level, after writes: 3: 10=IN, 11=OUT, 12=IN\n\
               level, again: 3: 10=IN, 11=OUT, 12=IN\n\
               poll of the epoll fd: IN\n\
               level, a byte left: 2: 10=IN, 11=OUT\n\
               after DEL of the read end: 1: 11=OUT\n\
               write end closed: 1: 10=IN HUP\n\
               drained: 1: 10=HUP\n\
               eventfd closed: 1: 10=HUP\n\
               all closed: 0\n\
               3 ready, maxevents 2: 20 21 /22 20 /21 22\n\
               edge, at first: 1: 31=OUT\n\
               edge, again: 0\n\
               edge, pipe written: 1: 30=IN\n\
               edge, again: 0\n\
               edge, a byte read: 0\n\
               edge, written again: 1: 30=IN\n\
               edge, eventfd written: 1: 32=IN\n\
               edge, written again: 1: 32=IN\n\
               edge, eventfd read: 0\n\
               edge, after MOD: 1: 32=OUT\n\
               edge, write end closed: 1: 30=IN HUP\n\
               edge, again: 0\n\
               oneshot: 1: 40=IN\n\
               oneshot, again: 0\n\
               oneshot, written: 0\n\
               oneshot, after MOD: 1: 41=IN\n\
               nested, nothing: 0\n\
               nested, inner ready: 1: 42=IN\n\
               inner itself: 1: 50=IN\n\
               epoll_wait timeout 0: 0\n\
               epoll_wait timeout 20 ms: 0\n\
               waited at least 20 ms: yes\n\
               epoll_pwait timeout 0: 0\n\
               epoll_pwait2 timeout {0, 0}: 0\n\
               epoll_pwait2 timeout {0, 2e9}: -1 EINVAL\n\
               epoll_pwait2 with an event: 1\n\
               done\n";
    case("epoll", c_only(tc), "epoll", vec![Run::new("epoll").stdout(out)])
}

/// `unix_sockets`: AF_UNIX sockets: socketpair (stream, datagram), a path-bound listener in /tmp
/// with a client thread, accept4 flags, EAGAIN, shutdown, EPIPE/SIGPIPE, names, SCM_RIGHTS,
/// SO_PEERCRED, poll/epoll readiness, abstract names, connect errors, unlink.
pub fn unix_sockets(tc: Toolchain) -> Case {
    let out = "socketpair stream: 0\n\
               write: 5\n\
               send: 6\n\
               peek 3: 3 hel\n\
               read: 11 hello world\n\
               recv empty DONTWAIT: -1 EAGAIN\n\
               fstat: sock yes, mode 777\n\
               readlink: socket:[N]\n\
               lseek: -1 E29\n\
               SO_TYPE 1 SO_DOMAIN 1 SO_PROTOCOL 0\n\
               SO_SNDBUF 4096 -> 8192\n\
               unknown option: -1 ENOPROTOOPT\n\
               SO_PEERCRED: pid self uid self gid self len 12\n\
               getsockname pair: unnamed (len 2)\n\
               poll idle: OUT\n\
               shutdown WR: 0\n\
               poll after peer SHUT_WR: IN OUT RDHUP\n\
               read at EOF: 0\n\
               send after SHUT_WR, NOSIGNAL: -1 EPIPE\n\
               write to closed peer: -1 EPIPE\n\
               sigpipes: 1\n\
               send NOSIGNAL to closed: -1 EPIPE, sigpipes 1\n\
               socketpair dgram: 0\n\
               nonblock yes cloexec yes\n\
               recv 2 of 3: 2\n\
               recv empty datagram: 0\n\
               recv MSG_TRUNC 2 of 6: 6\n\
               recv none: -1 EAGAIN\n\
               recvmsg 4 of 6: 4 flags TRUNC\n\
               recvfrom unnamed sender: 1\n\
               bind path: 0\n\
               stat: sock yes\n\
               open socket file: -1 ENXIO\n\
               bind again: -1 EADDRINUSE\n\
               connect before listen: -1 ECONNREFUSED\n\
               listen: 0\n\
               SO_ACCEPTCONN: 1\n\
               accept none, nonblocking: -1 EAGAIN\n\
               getsockname listener: /tmp/uvm_unix_test.sock (len 26)\n\
               accept4: ok, peer unnamed (len 2)\n\
               accepted nonblock yes cloexec yes\n\
               getsockname accepted: /tmp/uvm_unix_test.sock (len 26)\n\
               server recv: 4 ping\n\
               server send: 4\n\
               client got 4: pong\n\
               poll after client closed: IN OUT HUP\n\
               recv after client closed: 0\n\
               epoll listener idle: 0\n\
               connect: 0\n\
               connect again: -1 EISCONN\n\
               epoll listener pending: 1 IN\n\
               epoll ET empty: 0\n\
               epoll ET after write: 1\n\
               epoll ET again: 0\n\
               epoll ET after more: 1\n\
               read all: 4\n\
               sendmsg SCM_RIGHTS: 1\n\
               recvmsg: 1\n\
               control: len 24, fd yes, flags 1073741824\n\
               passed fd cloexec: yes\n\
               write through passed fd: 3\n\
               pipe read: 3 via\n\
               pipe read EOF: 0\n\
               recvmsg small control: 1 ctrunc yes controllen 0\n\
               dropped fd's pipe at EOF: 0\n\
               bind abstract: 0\n\
               bind abstract again: -1 EADDRINUSE\n\
               getsockname abstract: @uvm-test (len 11)\n\
               sendto abstract: 2\n\
               recvfrom: 2 from unnamed\n\
               recvfrom: 3 from @uvm-peer (len 11)\n\
               getpeername unconnected: -1 ENOTCONN\n\
               sendto closed abstract: -1 ECONNREFUSED\n\
               connect missing path: -1 ENOENT\n\
               connect missing abstract: -1 ECONNREFUSED\n\
               connect closed listener: -1 ECONNREFUSED\n\
               unlink: 0\n\
               stat after unlink: -1 ENOENT\n\
               connect after unlink: -1 ENOENT\n\
               socket AF_INET: ok or EAFNOSUPPORT\n\
               socket unknown family: -1 EAFNOSUPPORT\n\
               socket bad flags: -1 EINVAL\n\
               getsockopt on a pipe: -1 ENOTSOCK\n\
               done\n";
    case("unix_sockets", c_only(tc), "unix_sockets", vec![Run::new("unix_sockets").stdout(out)])
}

/// `pipes`: one process's pipes: data in order, EOF once every writer is gone, EPIPE with
/// SIGPIPE handled or ignored, O_NONBLOCK's EAGAIN, 64 KiB of room, atomic small writes,
/// pipe2 flags, poll and select readiness and timeouts; then SIGPIPE's default action (141).
pub fn pipes(tc: Toolchain) -> Case {
    let out = "fstat: fifo yes, size 0, same inode yes\n\
               readlink /proc/self/fd: pipe:[inode] yes\n\
               lseek: -1 ESPIPE\n\
               write: 11\n\
               FIONREAD: 11\n\
               read 5: 5 <hello>\n\
               read the rest: 6 <, pipe>\n\
               read the write end: -1 EBADF\n\
               write the read end: -1 EBADF\n\
               empty: read -1 EAGAIN; poll read end none, write end OUT\n\
               F_GETPIPE_SZ: 65536\n\
               filled with 4 KiB writes: 65536 bytes, then EAGAIN\n\
               full: write 1 byte -1 EAGAIN; poll read end IN, write end none\n\
               FIONREAD 65536, drained 65536 bytes, all intact yes, then EAGAIN\n\
               write 61540: 61540\n\
               4096 into 3996 bytes of room: -1 EAGAIN\n\
               100 into 3996 bytes of room: 100\n\
               one writer left: poll none\n\
               no writer, data left: poll IN HUP\n\
               read 4 <last>\n\
               then read 0 (end of file), poll HUP\n\
               pipe2: cloexec yes, nonblock yes, read end O_RDONLY yes, write end O_WRONLY yes\n\
               pipe2(O_APPEND): -1 EINVAL\n\
               no reader, SIGPIPE handled: write -1 EPIPE, handler ran 1 time(s)\n\
               no reader, SIGPIPE ignored: write -1 EPIPE; poll write end OUT ERR\n\
               select empty: 1, readable no, writable yes\n\
               select with data: 2, readable yes, writable yes\n\
               select timing out: 0, readable no\n\
               select of a closed fd: -1 EBADF\n\
               pselect timing out: 0\n\
               poll with a closed fd: 1: none, none, NVAL\n\
               poll timing out: 0\n\
               poll after the writer closed: 1 HUP\n";
    let runs = vec![
        Run::new("pipes").stdout(out),
        Run::new("SIGPIPE's default action")
            .args(&["sigpipe"])
            .stdout("writing to a pipe without readers\n")
            .status(Status::Signal(13, "SIGPIPE")),
    ];
    case("pipes", c_only(tc), "pipes", runs)
}

/// `fdcopy`: sendfile (offsets, positions, into a pipe, errors), copy_file_range (within
/// /tmp; EXDEV from the image, EINVAL for pipes and overlaps) and preadv/pwritev/preadv2/
/// pwritev2.
pub fn fdcopy(tc: Toolchain) -> Case {
    let out = "sendfile 5000 at 100: 5000, offset now 5100, source position 10000\n\
               sendfile from 9000: 1000 (end of file), source position 10000, target position 6000\n\
               copied bytes intact: yes\n\
               sendfile /etc/app.conf to a pipe: whole file, read back intact\n\
               sendfile from a write-only fd: -1 EBADF\n\
               sendfile to a read-only fd: -1 EBADF\n\
               sendfile to an O_APPEND file: -1 EINVAL\n\
               sendfile from a pipe with an offset: -1 ESPIPE\n\
               sendfile at a negative offset: -1 EINVAL\n\
               copy_file_range 3000 from 2000 to 10: 3000, offsets now 5000 3010\n\
               copied bytes intact: yes, hole before them zero: yes\n\
               copy_file_range from the positions: 500, positions now 10000 500\n\
               copy_file_range at the end of the input: 0 OK\n\
               copy_file_range overlapping in one file: -1 EINVAL\n\
               copy_file_range within one file: 1000 OK\n\
               copy_file_range with flags: -1 EINVAL\n\
               copy_file_range from /etc to /tmp: -1 EXDEV\n\
               copy_file_range to a pipe: -1 EINVAL\n\
               copy_file_range from a directory: -1 EISDIR\n\
               copy_file_range to an O_APPEND file: -1 EBADF\n\
               pwritev 3 buffers at 100: 16, size 116, position 0\n\
               preadv at 98: 18 <00a|lpha-bet|a-gamma> (two zero bytes of the hole first)\n\
               preadv2 at the position: 6 <alpha->, position now 106\n\
               pwritev2 at the position then pread: <a-XYta-g>, position 108\n\
               preadv at a negative offset: -1 EINVAL\n\
               preadv of a pipe: -1 ESPIPE\n\
               preadv2 with an unknown flag: -1 EOPNOTSUPP\n\
               pwritev of a read-only fd: -1 EBADF\n";
    case("fdcopy", c_only(tc), "fdcopy", vec![Run::new("copies").stdout(out)])
}

/// `mremap`: grow in place, ENOMEM without MREMAP_MAYMOVE, moves (whole and part of a
/// mapping), MREMAP_FIXED, shrinking, the errors; realloc of mmapped blocks.
pub fn mremap(tc: Toolchain) -> Case {
    let out = "grow in place: same address, content kept yes, new pages zero yes\n\
               grow into the next page without MAYMOVE: ENOMEM\n\
               grow with MAYMOVE: moved yes, content kept yes, new pages zero yes, old range unmapped\n\
               middle page moved: yes, holds 2 yes; left of the hole intact, hole unmapped, right intact\n\
               MREMAP_FIXED: at the target yes, holds pages 3 and 4 yes, source unmapped\n\
               shrink: same address yes, first page kept, tail unmapped\n\
               unaligned: EINVAL\n\
               new size 0: EINVAL\n\
               MREMAP_FIXED without MAYMOVE: EINVAL\n\
               range past the mapping: EFAULT\n\
               nothing mapped there: EFAULT\n\
               realloc 1 MiB -> 16 MiB: content kept yes\n\
               realloc -> 512 KiB: content kept yes\n";
    case("mremap", c_only(tc), "mremap", vec![Run::new("mremap").stdout(out)])
}

/// `madvise`: MADV_DONTNEED drops anonymous pages (zero again) and private file pages (the
/// file's bytes again); MADV_FREE may keep or drop them, but a write after it stays; 2000
/// malloc/free rounds of large blocks (musl frees them with MADV_FREE) keep their contents;
/// WILLNEED is a hint; unaligned addresses and unknown advice are EINVAL.
pub fn madvise(tc: Toolchain) -> Case {
    let out = "DONTNEED: OK, dropped pages zero yes, others kept yes\n\
               FREE: OK, pages old or zero yes, a write after it kept yes\n\
               DONTNEED on a private file mapping: OK, reads the file again yes\n\
               malloc/free of 20000-byte blocks x2000: 0 wrong\n\
               WILLNEED: OK, content kept yes\n\
               unaligned: EINVAL\n\
               unknown advice: EINVAL\n\
               mincore, page 1 touched: OK, page 1 in 1\n\
               mincore, unaligned: EINVAL\n\
               mincore over an unmapped page: ENOMEM\n";
    case("madvise", c_only(tc), "madvise", vec![Run::new("madvise").stdout(out)])
}

/// `procfs`: /proc/self/maps in Linux's format (an mprotect split, [heap], [stack], the
/// executable by path), status, stat, statm, comm, cmdline and environ as the app got them,
/// and /proc/loadavg, /proc/version, /proc/meminfo, /proc/uptime and /proc/stat (its lines,
/// a cpuN line per CPU the app may use, busy time that a spin moves), mountinfo (Linux's
/// fields, the root's device), cgroup lines and limits (Linux's layout, the open files' soft
/// limit as setrlimit set it, and held: no new fd past it); a child's sethostname
/// and setdomainname seen by its parent's uname.
pub fn procfs(tc: Toolchain) -> Case {
    let out = "maps: 3-page r--p mapping ok\n\
               maps: after mprotect of the middle page: ok, ok, ok\n\
               maps: [heap] yes, [stack] yes\n\
               maps: the executable (/bin/procfs) is named: yes, with an r-xp line: yes\n\
               maps: every line parses: yes\n\
               status: Name procfs yes, State R yes, Pid matches yes, Threads 1 yes, VmRSS yes, VmSize yes\n\
               stat: pid matches yes, comm procfs, state R, 52 fields yes\n\
               statm: 7 numbers yes\n\
               comm: procfs\n\
               cmdline: 24 bytes, matches argv yes\n\
               environ: matches environ yes\n\
               loadavg: parses yes\n\
               version: starts with \"Linux version \" yes, names the release yes\n\
               meminfo: MemTotal yes, MemFree yes, MemAvailable yes\n\
               uptime: parses yes\n\
               stat: cpu line parses yes, a cpuN line per CPU yes, the other lines yes, btime is a date yes\n\
               stat: after 0.3 s of CPU, busy time grew by 0.2 s or more yes, idle time never fell yes\n\
               mountinfo: every line has Linux's fields yes, the root's device is stat's yes\n\
               cgroup: every line is ID:CONTROLLERS:PATH yes\n\
               limits: Linux's header yes, 17 lines, open files' soft limit as set yes\n\
               the soft limit holds: dup2 to fd 250 -1 EBADF, F_DUPFD from 250 -1 EINVAL\n\
               hard limit lowered: getrlimit 200/300, /proc 300; soft past it -1 EINVAL\n\
               raising it as a user: status 1 (1: EPERM)\n\
               a child's sethostname/setdomainname: status 0, uname says from-child / example.test\n\
               sethostname of 65 bytes: EINVAL\n";
    case("procfs", c_only(tc), "procfs", vec![Run::new("/proc/self").stdout(out)])
}

/// `fsmisc`: link/linkat (EEXIST, EPERM, EXDEV, AT_EMPTY_PATH), mknod, creat, statfs and
/// fstatfs, flock, posix_fadvise, fallocate on tmpfs, close_range, ids, scheduling queries,
/// nice values (setpriority, getpriority, inherited by fork), I/O priorities (ioprio_set,
/// ioprio_get: classes, checks, inherited by fork), utime/utimes/futimesat,
/// affinity (narrowed, inherited by fork, restored; bad masks and threads), scheduling
/// policies (set, read back, SCHED_RESET_ON_FORK in a child, the round-robin slice, bad
/// values), fchmodat2 (a path, a symlink itself, AT_EMPTY_PATH), sysinfo, times and getrusage.
pub fn fsmisc(tc: Toolchain) -> Case {
    let out = "link /tmp/a /tmp/b: 0 OK\n\
               links of /tmp/a: 2\n\
               link onto an existing name: -1 EEXIST\n\
               link a directory: -1 EPERM\n\
               link across file systems: -1 EXDEV\n\
               link a missing file: -1 ENOENT\n\
               linkat AT_EMPTY_PATH of an open file: 0 OK\n\
               linkat AT_SYMLINK_FOLLOW through /proc/self/fd: 0 OK\n\
               links of /tmp/a: 4\n\
               linkat with an unknown flag: -1 EINVAL\n\
               mknod a regular file: 0 OK\n\
               mknod with a bad type: -1 EINVAL\n\
               statfs /tmp: tmpfs yes\n\
               statfs /proc: proc yes\n\
               fstatfs of a pipe: pipefs yes\n\
               statfs of a missing path: -1 ENOENT\n\
               flock LOCK_EX|LOCK_NB: 0 OK\n\
               flock LOCK_UN: 0 OK\n\
               flock with a bad operation: -1 EINVAL\n\
               posix_fadvise DONTNEED: 0\n\
               posix_fadvise of a pipe: E29\n\
               fallocate 8192: 0 OK\n\
               size 8192\n\
               fallocate KEEP_SIZE past the end: 0 OK\n\
               size 8192\n\
               fallocate PUNCH_HOLE: 0 OK\n\
               after the hole: <00ta>\n\
               fallocate ZERO_RANGE: -1 EOPNOTSUPP\n\
               fallocate of a pipe: -1 E29\n\
               fallocate of length 0: -1 EINVAL\n\
               sync of the fd's file system: 0 OK\n\
               close_range CLOEXEC: 0 OK\n\
               close-on-exec: yes yes\n\
               close_range: 0 OK\n\
               after close_range: fcntl -1 EBADF, the fds below stay: yes\n\
               close_range with first > last: -1 EINVAL\n\
               getresuid/getresgid match getuid/getgid: yes\n\
               setuid to the uid: 0 OK\n\
               setgid to the gid: 0 OK\n\
               setresuid(-1, -1, -1): 0 OK\n\
               getpgid(0) is getpgrp(): yes, getsid(0) is getsid(pid): yes\n\
               getpgid of no such process: -1 ESRCH\n\
               sched_getscheduler: 0, priority range FIFO 1..99, OTHER 0..0\n\
               sched_getcpu: ok\n\
               sysinfo: total ram > 0 yes, free <= total yes, mem_unit 1, procs >= 1 yes\n\
               times: ok\n\
               getrusage: self maxrss > 0 yes, children maxrss 0\n\
               getrusage of an unknown who: -1 EINVAL\n\
               setpriority 5: 0 OK\n\
               getpriority: 5\n\
               setpriority 40 (clamped): 0 OK\n\
               getpriority: 19\n\
               setpriority -30 (clamped): 0 OK\n\
               getpriority: -20\n\
               a child's: -20\n\
               setpriority of no such process: -1 ESRCH\n\
               getpriority of no such process: -1 ESRCH\n\
               setpriority with a bad which: -1 EINVAL\n\
               setpriority back to 0: 0 OK\n\
               ioprio_get at first: 0 OK\n\
               ioprio_set best-effort 7: 0 OK\n\
               ioprio_get: 16391 OK\n\
               a child's ioprio: 16391 OK\n\
               ioprio_set idle: 0 OK\n\
               ioprio_get: 24576 OK\n\
               ioprio_set real-time 0 (as root): 0 OK\n\
               ioprio_get: 8192 OK\n\
               ioprio_set no class with a level: -1 EINVAL\n\
               ioprio_set class 5: -1 EINVAL\n\
               ioprio_set with a bad which: -1 EINVAL\n\
               ioprio_get of no such process: -1 ESRCH\n\
               ioprio_set back to none: 0 OK\n\
               ioprio_get: 0 OK\n\
               utimes: 0 OK\n\
               after utimes: atime 1000.500000000, mtime 2000.250000000\n\
               utime: 0 OK\n\
               after utime: atime 3000, mtime 4000.000000000\n\
               futimesat: 0 OK\n\
               after futimesat: mtime 2000\n\
               utimes with NULL (now): 0 OK\n\
               now: yes\n\
               utimes with 1000000 microseconds: -1 EINVAL\n\
               utime of a missing file: -1 ENOENT\n\
               sched_setaffinity to CPU 0: 0 OK\n\
               affinity now: 1 CPU(s), CPU 0 yes\n\
               a child's affinity: 1 CPU(s)\n\
               sched_setaffinity to no CPU: -1 EINVAL\n\
               sched_setaffinity to CPU 1000 only: -1 EINVAL\n\
               sched_setaffinity of no such thread: -1 ESRCH\n\
               sched_getaffinity of no such thread: -1 ESRCH\n\
               sched_setaffinity back: 0 OK\n\
               restored: yes\n\
               SCHED_BATCH with SCHED_RESET_ON_FORK: 0 OK\n\
               sched_getscheduler: 1073741827 OK\n\
               a child's policy: 3\n\
               SCHED_RR at 10: 0 OK\n\
               sched_rr_get_interval: 0 OK\n\
               slice 0.100000000\n\
               sched_setparam 20: 0 OK\n\
               priority now 20\n\
               SCHED_FIFO at 0: -1 EINVAL\n\
               SCHED_OTHER at 5: -1 EINVAL\n\
               SCHED_DEADLINE: -1 EINVAL\n\
               a null sched_param: -1 EINVAL\n\
               sched_setscheduler of no such thread: -1 ESRCH\n\
               SCHED_OTHER back: 0 OK\n\
               sched_getscheduler: 0 OK\n\
               fchmodat2 0640: 0 OK\n\
               mode 640\n\
               fchmodat2 of a symlink itself: -1 EOPNOTSUPP\n\
               fchmodat2 through a symlink: 0 OK\n\
               fchmodat2 AT_EMPTY_PATH of an O_PATH fd: 0 OK\n\
               mode 600\n\
               fchmodat2 with an unknown flag: -1 EINVAL\n";
    case("fsmisc", c_only(tc), "fsmisc", vec![Run::new("file and process calls").stdout(out)])
}
