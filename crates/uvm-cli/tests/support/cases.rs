//! Every scenario: which manifest, which app, and for each run its extra `uvm run` options,
//! stdin, and the exact expected stdout, stderr and exit status.
//!
//! The same table drives the VM tests (`boot.rs`) and the native reference run (`native.rs`),
//! which runs each app directly on the host in a chroot that mimics the guest (packaged files
//! read-only, /tmp a tmpfs, cwd "/", argv[0] the binary's file name, env exactly the manifest's).
//! So every expectation here has been checked against real Linux.

use super::apps::Toolchain::{self, Busybox, Glibc, Musl, Rust};
use super::{fnv1a, pattern, tests_dir};

/// One scenario: a manifest, the app staged next to it, and the runs of its image.
pub struct Case {
    /// `tests/manifests/<manifest>.toml`.
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
    /// Piped to stdin, then EOF; `None`: stdin is /dev/null.
    pub stdin: Option<Vec<u8>>,
    /// Set in uvm's own environment; must NOT reach the app.
    pub host_env: Vec<(String, String)>,
    /// Skipped by the native reference run (it depends on the VM, e.g. on its memory size).
    pub vm_only: bool,
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
}

impl Out {
    /// Whether `got` meets the expectation.
    pub fn matches(&self, got: &[u8]) -> bool {
        match self {
            Out::Exact(want) => got == want.as_slice(),
            Out::Contains(want) => contains(got, want),
            Out::Lacks(want) => !contains(got, want),
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
    /// A fault kills it with this signal: uvm exits 128+signal and names it on stderr.
    Signal(i32, &'static str),
    /// It fails somehow: any non-zero status.
    Fails,
}

/// SIGSEGV.
pub const SEGV: Status = Status::Signal(11, "SIGSEGV");

impl Run {
    /// A run with the manifest's args and env, no stdin, expecting empty output and status 0.
    pub fn new(label: &str) -> Run {
        Run {
            label: label.to_string(),
            args: None,
            env: Vec::new(),
            memory_mib: None,
            stdin: None,
            host_env: Vec::new(),
            vm_only: false,
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
    Case { manifest, toolchain, app, runs }
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
            crash(tc),
            guard_page(tc),
            remap(tc),
            exit_code(tc),
            memory(tc),
        ]);
    }
    cases.extend([rust_hello(), rust_collections(), busybox_echo(), busybox_cat()]);
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

/// `crash`: a write to 0x10 kills the app with SIGSEGV: status 139, the signal named on stderr.
pub fn crash(tc: Toolchain) -> Case {
    let run = Run::new("wild write").stdout("about to write through 0x10\n").status(SEGV);
    case("crash", c_only(tc), "crash", vec![run])
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

/// `exit_code`: uvm exits with the app's status (the low 8 bits, as on Linux).
pub fn exit_code(tc: Toolchain) -> Case {
    let mut runs = vec![Run::new("manifest args (7)").code(7)];
    for (arg, code) in [("0", 0), ("1", 1), ("42", 42), ("125", 125), ("255", 255), ("256", 0), ("300", 44)] {
        runs.push(Run::new(&format!("-- {arg}")).args(&[arg]).code(code));
    }
    case("exit_code", c_only(tc), "exit_code", runs)
}

/// `memtouch`: `--memory-mib` sizes guest RAM: 96 MiB fit in 256 MiB but not in the
/// manifest's 64 MiB (then the app must fail somehow, and never claim success).
pub fn memory(tc: Toolchain) -> Case {
    // memtouch writes (page index & 0xff) into each page and sums it back.
    let sum: u64 = (0..96u64 * 256).map(|i| i & 0xff).sum();
    let runs = vec![
        Run::new("--memory-mib 256").memory_mib(256).stdout(format!("touched 96 MiB, checksum {sum}\n")),
        // Linux's answer to an app touching more than the machine has: the OOM killer
        // (SIGKILL, 137), and uvm says why.
        Run::new("manifest's 64 MiB")
            .vm_only()
            .stdout_is(Out::Lacks(b"touched".to_vec()))
            .stderr_is(Out::Contains(b"ran out of memory".to_vec()))
            .code(137),
    ];
    case("memtouch", c_only(tc), "memtouch", runs)
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

// ---------------------------------------------------------------- busybox-static, unmodified

/// `busybox echo`, binary referenced by absolute path.
pub fn busybox_echo() -> Case {
    let runs = vec![
        Run::new("manifest args").stdout("hello from busybox\n"),
        Run::new("-- echo -n").args(&["echo", "-n", "no", "newline"]).stdout("no newline"),
    ];
    case("busybox_echo", Busybox, "busybox", runs)
}

/// `busybox cat`: stdin to stdout, a packaged file, and a missing file.
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
    ];
    case("busybox_cat", Busybox, "busybox", runs)
}
