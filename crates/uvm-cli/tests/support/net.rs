//! The network tests' tools (`net.rs`): a server app started in the background, either under
//! `uvm run -p HOST:GUEST[/udp]` or natively on the host (the same binary, listening on the
//! host port itself: the native twin of every test proves the app and the test's client side
//! against Linux), free host ports, a minimal HTTP/1.1 client, and a host-side peer for the
//! egress tests.

use super::apps::{self, BuildError, Toolchain};
use super::cases::{contains, Case, Run};
use super::process::{self, show};
use super::vm::{self, uvm};
use super::Suite;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Where a server app runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Under `uvm run -p HOST:GUEST`: the app listens on the guest port in the VM.
    Vm,
    /// Directly on the host: the app listens on the host port itself.
    Native,
}

/// A published port's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP (`-p H:G/udp`).
    Udp,
}

/// A boot-suite app with its manifest in `tests/manifests/` (no runs: the tests drive it).
pub fn app_case(manifest: &'static str, toolchain: Toolchain, app: &'static str) -> Case {
    Case { suite: Suite::Boot, manifest, toolchain, app, runs: Vec::<Run>::new() }
}

/// A host port that was free a moment ago, for TCP and UDP on every address (bound on
/// 0.0.0.0 port 0 and released: another process may take it before us; starting a server
/// retries on a busy port).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind a TCP port on 0.0.0.0");
        let port = tcp.local_addr().expect("local_addr").port();
        if UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok() {
            return port;
        }
    }
    panic!("no host port is free for both TCP and UDP");
}

/// What the app needs before it can start: for the VM, KVM and the built image; natively, the
/// built binary. `None`: skipped (note printed, or a panic under CI).
pub fn prepare(test: &str, mode: Mode, case: &Case) -> Option<PathBuf> {
    match mode {
        Mode::Vm => {
            if !vm::require_kvm(test) {
                return None;
            }
            let staged = vm::stage_case(test, case)?;
            Some(vm::build(test, &staged))
        }
        Mode::Native => match apps::app_in(case.suite, case.toolchain, case.app) {
            Ok(path) => Some(path),
            Err(BuildError::Unavailable(why)) => {
                super::skip(test, &why);
                None
            }
            Err(BuildError::Failed(why)) => {
                panic!("{test}: building {} app `{}` failed: {why}", case.toolchain, case.app)
            }
        },
    }
}

/// How to start a server.
pub struct Launch<'a> {
    /// The image (VM) or the binary (native), from [`prepare`].
    pub target: &'a std::path::Path,
    /// The guest port the app listens on (natively it listens on the host port instead).
    pub guest_port: u16,
    /// The published port's protocol.
    pub proto: Proto,
    /// The app's arguments; `{port}` is replaced by the port the app must listen on.
    pub args: &'a [&'a str],
    /// More `uvm run` options (VM only), before the image.
    pub uvm_args: &'a [&'a str],
}

/// A server app running in the background.
pub struct Server {
    /// Names it in failure messages.
    pub what: String,
    /// The host port that reaches it.
    pub port: u16,
    child: Option<Child>,
    lines: Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

/// Starts the server and waits (at most the test timeout) for its first stdout line, which
/// must start with "listening". Under uvm a host port another process took in the meantime
/// makes uvm fail with 125 naming it: then another port is tried (5 times).
pub fn start(test: &str, mode: Mode, launch: &Launch) -> Server {
    for attempt in 1..=5 {
        let port = free_port();
        let app_port = if mode == Mode::Vm { launch.guest_port } else { port };
        let args: Vec<String> = launch.args.iter().map(|a| a.replace("{port}", &app_port.to_string())).collect();
        let cmd = match mode {
            Mode::Vm => {
                let mut cmd = uvm(["run"]);
                let udp = if launch.proto == Proto::Udp { "/udp" } else { "" };
                cmd.arg("-p").arg(format!("{port}:{}{udp}", launch.guest_port));
                cmd.args(launch.uvm_args).arg(launch.target).arg("--").args(&args);
                cmd
            }
            Mode::Native => {
                let mut cmd = Command::new(launch.target);
                cmd.args(&args);
                cmd
            }
        };
        let what = format!("{cmd:?}");
        let mut server = spawn(cmd, what, port);
        match server.wait_for_line("listening") {
            Ok(()) => return server,
            Err(why) => {
                let (status, stdout, stderr) = server.finish();
                let busy = mode == Mode::Vm
                    && status.code() == Some(125)
                    && contains(stderr.as_bytes(), port.to_string().as_bytes());
                if busy && attempt < 5 {
                    eprintln!("{test}: host port {port} was taken meanwhile, trying another: {stderr}");
                    continue;
                }
                panic!(
                    "{test}: `{}` did not report that it listens: {why}\n--- status: {status}\n--- stdout: {}\n--- stderr: {}",
                    server.what,
                    show(stdout.as_bytes()),
                    show(stderr.as_bytes())
                );
            }
        }
    }
    unreachable!()
}

/// Spawns `cmd` with its stdout read line by line and its stderr collected.
pub fn spawn(mut cmd: Command, what: String, port: u16) -> Server {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let (tx, lines) = mpsc::channel();
    let stdout = Arc::new(Mutex::new(String::new()));
    let all = Arc::clone(&stdout);
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            all.lock().unwrap_or_else(|e| e.into_inner()).push_str(&format!("{line}\n"));
            let _ = tx.send(line);
        }
    });
    let stderr = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    Server { what, port, child: Some(child), lines, stdout, stderr: Some(stderr) }
}

impl Server {
    /// Waits for a stdout line starting with `prefix` (at most the test timeout).
    pub fn wait_for_line(&mut self, prefix: &str) -> Result<(), String> {
        let deadline = Instant::now() + process::timeout();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(()),
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no line starting with {prefix:?} within {:?}", process::timeout()))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("stdout closed before a line starting with {prefix:?}"))
                }
            }
        }
    }

    /// Waits for the server to exit (killing it after the test timeout: a failure) and returns
    /// its status, stdout and stderr.
    pub fn finish(&mut self) -> (ExitStatus, String, String) {
        let mut child = self.child.take().expect("finished twice");
        let deadline = Instant::now() + process::timeout();
        let status = loop {
            match child.try_wait().expect("try_wait") {
                Some(status) => break status,
                None if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("`{}` did not exit within {:?} and was killed", self.what, process::timeout());
                }
            }
        };
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        // The reader thread ends at EOF; give it a moment to store the last lines.
        thread::sleep(Duration::from_millis(50));
        let stdout = self.stdout.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (status, stdout, String::from_utf8_lossy(&stderr).into_owned())
    }

    /// Sends SIGTERM (uvm then stops the VM and exits 143).
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        }
    }

    /// [`Self::finish`], then checks the exit status is `code`; returns stdout.
    pub fn expect_exit(&mut self, test: &str, code: i32) -> String {
        let what = self.what.clone();
        let (status, stdout, stderr) = self.finish();
        assert!(
            status.code() == Some(code),
            "{test}: `{what}` exited with {status}, expected {code}\n--- stdout: {}\n--- stderr: {}",
            show(stdout.as_bytes()),
            show(stderr.as_bytes())
        );
        stdout
    }
}

impl Drop for Server {
    /// A failed test must not leave a VM (or a server) running.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The host's loopback address at `port`.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A TCP connection to 127.0.0.1:`port` with 30 s read and write timeouts.
pub fn connect(port: u16) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&local(port), Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One HTTP/1.1 connection, kept alive across requests.
pub struct Http {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Http {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> std::io::Result<Http> {
        let stream = connect(port)?;
        Ok(Http { writer: stream.try_clone()?, reader: BufReader::new(stream) })
    }

    /// `GET path` on this connection: (status code, body). Needs a Content-Length answer.
    pub fn get(&mut self, path: &str) -> Result<(u16, String), String> {
        write!(self.writer, "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: uvm-test\r\n\r\n")
            .map_err(|e| format!("send GET {path}: {e}"))?;
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).map_err(|e| format!("read the status line: {e}"))?;
        let code = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut length = None;
        loop {
            let mut header = String::new();
            self.reader.read_line(&mut header).map_err(|e| format!("read a header: {e}"))?;
            if header.is_empty() {
                return Err("connection closed in the headers".into());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.ok_or("no Content-Length")?;
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).map_err(|e| format!("read the body: {e}"))?;
        Ok((code, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// A host TCP peer for the egress tests: listens on 127.0.0.1 (a free port), answers each
/// connection's first line with "pong <line>", and counts connections.
pub struct HostPeer {
    /// Its port.
    pub port: u16,
    accepted: Arc<Mutex<usize>>,
    stop: Arc<Mutex<bool>>,
}

impl HostPeer {
    /// Starts the peer.
    pub fn start() -> HostPeer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().expect("local_addr").port();
        let accepted = Arc::new(Mutex::new(0));
        let stop = Arc::new(Mutex::new(false));
        let (count, done) = (Arc::clone(&accepted), Arc::clone(&stop));
        thread::spawn(move || {
            while !*done.lock().unwrap() {
                match listener.accept() {
                    Ok((stream, _)) => {
                        *count.lock().unwrap() += 1;
                        thread::spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                            let mut out = stream.try_clone().expect("clone");
                            let mut line = String::new();
                            if BufReader::new(stream).read_line(&mut line).is_ok() {
                                let _ = writeln!(out, "pong {}", line.trim_end());
                            }
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HostPeer { port, accepted, stop }
    }

    /// How many connections it accepted.
    pub fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }
}

impl Drop for HostPeer {
    fn drop(&mut self) {
        *self.stop.lock().unwrap() = true;
    }
}

/// A host UDP peer for the egress tests: on 127.0.0.1 (a free port), answers each datagram
/// with "pong <datagram>".
pub fn udp_host_peer() -> (u16, Arc<Mutex<usize>>) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind udp 127.0.0.1:0");
    let port = socket.local_addr().expect("local_addr").port();
    let count = Arc::new(Mutex::new(0));
    let seen = Arc::clone(&count);
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            *seen.lock().unwrap() += 1;
            let mut reply = b"pong ".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&reply, from);
        }
    });
    (port, count)
}
