//! IP networking from the host's side: servers in the VM reached through published ports
//! (`uvm run -p HOST:GUEST[/udp]`, manifest `[[ports]]`), a published port that is busy, guest
//! ports that are not published, and the egress policy (`--egress`, manifest `[network]
//! egress`) for a client in the VM reaching the host's loopback at 10.0.2.2.
//!
//! Every server test has a `native_` twin that runs the same binary directly on the host with
//! the same client side, so the apps and the expectations are known to be right on Linux; the
//! VM test then checks uvm. The VM's own loopback is covered by the compatibility case
//! `net_loopback` (compat.rs). See tests/README.md.
//!
//! `cargo test -p uvm-cli --test net`. Without /dev/kvm (or a toolchain) a test prints a note
//! and passes; with `CI=true` it fails instead.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use support::apps::Toolchain::{self, Glibc, Go, Musl, Rust};
use support::cases::contains;
use support::net::{self, app_case, free_port, prepare, start, Http, Launch, Mode, Proto};
use support::process::{self, show};
use support::vm::{self, expect_code, uvm};

// ---------------------------------------------------------------- the Go HTTP server

/// Connections of the load, all open at once, and requests on each (keep-alive).
const HTTP_CONNECTIONS: usize = 100;
const HTTP_REQUESTS_PER_CONNECTION: usize = 20;

/// The Go net/http server behind a published port: a plain GET, curl, 100 concurrent
/// keep-alive connections of 20 requests each without an error, then /quit ends it with
/// status 0. In the VM it also listens on a second guest port that is not published: the same
/// port number on the host reaches nothing.
fn go_http_server(test: &str, mode: Mode) {
    let case = app_case("net_http", Go, "net_http");
    let Some(target) = prepare(test, mode, &case) else { return };
    let unpublished = free_port().to_string();
    let args = ["{port}", unpublished.as_str()];
    let mut server =
        start(test, mode, &Launch { target: &target, guest_port: 80, proto: Proto::Tcp, args: &args, uvm_args: &[] });
    let port = server.port;

    // One request on a fresh connection.
    let mut http = Http::connect(port).unwrap_or_else(|e| panic!("{test}: connect to 127.0.0.1:{port}: {e}"));
    assert_eq!(http.get("/"), Ok((200, "hello from uvm\n".to_string())), "{test}: GET / through port {port}");
    assert_eq!(http.get("/missing").map(|(code, _)| code), Ok(404), "{test}: GET /missing");
    drop(http);

    // curl, when the host has it.
    if let Some(curl) = support::find_tool("curl") {
        let mut cmd = std::process::Command::new(curl);
        cmd.args(["-sS", "--max-time", "20", &format!("http://127.0.0.1:{port}/")]);
        let out = process::run(cmd, None);
        assert!(
            out.status.success() && out.stdout == b"hello from uvm\n",
            "{test}: curl http://127.0.0.1:{port}/ gave {}: stdout {}, stderr {}",
            out.status,
            show(&out.stdout),
            show(&out.stderr)
        );
    }

    // The load: every connection open at once, each doing its requests one after another.
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(std::sync::Barrier::new(HTTP_CONNECTIONS));
    let workers: Vec<_> = (0..HTTP_CONNECTIONS)
        .map(|i| {
            let (errors, done, barrier) = (Arc::clone(&errors), Arc::clone(&done), Arc::clone(&barrier));
            thread::spawn(move || {
                let http = Http::connect(port);
                barrier.wait();
                let mut http = match http {
                    Ok(http) => http,
                    Err(e) => return errors.lock().unwrap().push(format!("connection {i}: connect: {e}")),
                };
                for r in 0..HTTP_REQUESTS_PER_CONNECTION {
                    match http.get("/") {
                        Ok((200, body)) if body == "hello from uvm\n" => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        other => return errors.lock().unwrap().push(format!("connection {i}, request {r}: {other:?}")),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a load thread panicked");
    }
    let errors = errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{test}: {} of {HTTP_CONNECTIONS} keep-alive connections failed ({} requests answered); first: {:?}",
        errors.len(),
        done.load(Ordering::Relaxed),
        &errors[..errors.len().min(5)]
    );
    assert_eq!(
        done.load(Ordering::Relaxed),
        HTTP_CONNECTIONS * HTTP_REQUESTS_PER_CONNECTION,
        "{test}: answered requests"
    );

    if mode == Mode::Vm {
        // The app listens on guest port `unpublished` too; nothing publishes it, so the same
        // port on the host is closed.
        let p: u16 = unpublished.parse().unwrap();
        assert!(
            net::connect(p).is_err(),
            "{test}: host port {p} answers, but only guest port 80 is published (the app's other listener leaked onto the host)"
        );
    }

    let mut http = Http::connect(port).unwrap_or_else(|e| panic!("{test}: connect for /quit: {e}"));
    assert_eq!(http.get("/quit"), Ok((200, "bye\n".to_string())), "{test}: GET /quit");
    let stdout = server.expect_exit(test, 0);
    let listening = match mode {
        Mode::Vm => format!("listening on :80 :{unpublished}\n"),
        Mode::Native => format!("listening on :{port} :{unpublished}\n"),
    };
    assert_eq!(stdout, format!("{listening}shut down\n"), "{test}: the server's stdout");
}

#[test]
fn go_http_server_behind_published_port() {
    go_http_server("go_http_server_behind_published_port", Mode::Vm);
}

#[test]
fn native_go_http_server() {
    go_http_server("native_go_http_server", Mode::Native);
}

/// Without `-p` a guest port is reachable from nowhere but the VM: the app listens on guest
/// port H (a free host port number) and 127.0.0.1:H on the host refuses. SIGTERM then ends uvm.
#[test]
fn unpublished_guest_port_is_not_reachable_from_the_host() {
    let test = "unpublished_guest_port_is_not_reachable_from_the_host";
    let case = app_case("net_http", Go, "net_http");
    let Some(image) = prepare(test, Mode::Vm, &case) else { return };
    let port = free_port();
    let mut cmd = uvm(["run".as_ref(), image.as_os_str(), "--".as_ref()]);
    cmd.arg(port.to_string());
    let mut server = net::spawn(cmd, format!("uvm run {} -- {port}", image.display()), port);
    if let Err(why) = server.wait_for_line("listening") {
        let (status, stdout, stderr) = server.finish();
        panic!(
            "{test}: the server did not start: {why}\n--- status: {status}\n--- stdout: {stdout}\n--- stderr: {stderr}"
        );
    }
    let reached = net::connect(port);
    server.terminate();
    assert!(reached.is_err(), "{test}: 127.0.0.1:{port} answered, but the guest port {port} is not published");
    server.expect_exit(test, 143);
}

/// `[[ports]]` in the manifest publishes like `-p`.
#[test]
fn manifest_ports_publish_like_dash_p() {
    let test = "manifest_ports_publish_like_dash_p";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = vm::stage_case(test, &app_case("net_http", Go, "net_http")) else { return };
    for attempt in 1..=5 {
        let port = free_port();
        let manifest = staged.dir.join("net_http_ports.toml");
        std::fs::write(
            &manifest,
            format!(
                "[app]\nname = \"net-http-ports\"\nbinary = \"net_http\"\nargs = [\"80\"]\n\n\
                 [[ports]]\nhost = {port}\nguest = 80\nproto = \"tcp\"\n\n[vm]\nmemory_mib = 256\n"
            ),
        )
        .expect("write the manifest");
        expect_code(test, uvm(["build".as_ref(), manifest.as_os_str()]), 0);
        let image = staged.dir.join("net-http-ports.uvm");
        let mut server =
            net::spawn(uvm(["run".as_ref(), image.as_os_str()]), format!("uvm run {}", image.display()), port);
        if let Err(why) = server.wait_for_line("listening") {
            let (status, stdout, stderr) = server.finish();
            if status.code() == Some(125) && stderr.contains(&port.to_string()) && attempt < 5 {
                continue; // the port was taken meanwhile
            }
            panic!("{test}: the server did not start: {why}\n--- status: {status}\n--- stdout: {stdout}\n--- stderr: {stderr}");
        }
        let mut http = Http::connect(port).unwrap_or_else(|e| panic!("{test}: connect to 127.0.0.1:{port}: {e}"));
        assert_eq!(http.get("/"), Ok((200, "hello from uvm\n".to_string())), "{test}: GET /");
        assert_eq!(http.get("/quit"), Ok((200, "bye\n".to_string())), "{test}: GET /quit");
        server.expect_exit(test, 0);
        return;
    }
    panic!("{test}: every host port tried was taken before uvm could bind it");
}

// ---------------------------------------------------------------- a busy published port

/// Publishing a host port another socket holds fails before boot: uvm's own failure (125), a
/// message naming the port, and no output from the app. `spec` is the `-p` value, `{port}`
/// replaced by the held port.
fn busy_port(test: &str, spec: &str, proto: Proto) {
    let case = app_case("net_http", Go, "net_http");
    let Some(image) = prepare(test, Mode::Vm, &case) else { return };
    // Held on every address, so that binding it again fails on any of them.
    let (port, _tcp, _udp) = match proto {
        Proto::Tcp => {
            let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind 0.0.0.0:0");
            (l.local_addr().unwrap().port(), Some(l), None)
        }
        Proto::Udp => {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind udp 0.0.0.0:0");
            (s.local_addr().unwrap().port(), None, Some(s))
        }
    };
    let spec = spec.replace("{port}", &port.to_string());
    // If it booted anyway, the server would run until --timeout (124), not hang the test.
    let args = ["run", "-p", &spec, "--timeout", "20s", image.to_str().expect("UTF-8 path")];
    let out = process::run(uvm(args), None);
    assert!(
        out.status.code() == Some(125),
        "{test}: `uvm run -p {spec}` with host port {port} busy should fail with 125, got {}\n--- stdout: {}\n--- stderr: {}",
        out.status,
        show(&out.stdout),
        show(&out.stderr)
    );
    assert!(
        contains(&out.stderr, port.to_string().as_bytes()),
        "{test}: the error should name the busy port {port}; stderr: {}",
        show(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "{test}: the app must not start; stdout: {}", show(&out.stdout));
}

#[test]
fn busy_published_tcp_port_fails_before_boot() {
    busy_port("busy_published_tcp_port_fails_before_boot", "{port}:80", Proto::Tcp);
}

#[test]
fn busy_published_tcp_port_with_address_fails_before_boot() {
    busy_port("busy_published_tcp_port_with_address_fails_before_boot", "127.0.0.1:{port}:80", Proto::Tcp);
}

#[test]
fn busy_published_udp_port_fails_before_boot() {
    busy_port("busy_published_udp_port_fails_before_boot", "{port}:5353/udp", Proto::Udp);
}

// ---------------------------------------------------------------- the C epoll server

const EPOLL_CLIENTS: usize = 24;
const EPOLL_LINES: usize = 200;

/// The C epoll server behind a published port: 24 clients at once, each sending 200 lines of
/// up to ~3 KiB (all of them, then a half-close) and reading its exact echo back.
fn epoll_server(test: &str, mode: Mode, tc: Toolchain) {
    let case = app_case("net_epoll_server", tc, "net_epoll_server");
    let Some(target) = prepare(test, mode, &case) else { return };
    let clients = EPOLL_CLIENTS.to_string();
    let args = ["{port}", clients.as_str()];
    let mut server =
        start(test, mode, &Launch { target: &target, guest_port: 7000, proto: Proto::Tcp, args: &args, uvm_args: &[] });
    let port = server.port;
    let workers: Vec<_> = (0..EPOLL_CLIENTS)
        .map(|c| {
            thread::spawn(move || -> Result<(), String> {
                let mut stream = net::connect(port).map_err(|e| format!("client {c}: connect: {e}"))?;
                let mut sent = Vec::new();
                for i in 0..EPOLL_LINES {
                    let len = (c * 131 + i * 977) % 3000;
                    let fill: String = (0..len).map(|k| (b'a' + ((c + i + k) % 26) as u8) as char).collect();
                    sent.extend_from_slice(format!("client {c} line {i} {fill}\n").as_bytes());
                }
                stream.write_all(&sent).map_err(|e| format!("client {c}: send: {e}"))?;
                stream.shutdown(std::net::Shutdown::Write).map_err(|e| format!("client {c}: shutdown: {e}"))?;
                let mut back = Vec::new();
                std::io::Read::read_to_end(&mut stream, &mut back).map_err(|e| format!("client {c}: read: {e}"))?;
                if back != sent {
                    return Err(format!(
                        "client {c}: sent {} bytes, got {} back (or different bytes)",
                        sent.len(),
                        back.len()
                    ));
                }
                Ok(())
            })
        })
        .collect();
    let failures: Vec<String> = workers.into_iter().filter_map(|w| w.join().expect("client thread").err()).collect();
    assert!(failures.is_empty(), "{test}: {} clients failed: {failures:?}", failures.len());
    let stdout = server.expect_exit(test, 0);
    let listened = if mode == Mode::Vm { 7000 } else { port };
    assert_eq!(
        stdout,
        format!(
            "listening on port {listened}\nserved {EPOLL_CLIENTS} clients ({EPOLL_CLIENTS} accepted, 0 errors), echoed {} lines\n",
            EPOLL_CLIENTS * EPOLL_LINES
        ),
        "{test}: the server's stdout"
    );
}

#[test]
fn glibc_epoll_server_behind_published_port() {
    epoll_server("glibc_epoll_server_behind_published_port", Mode::Vm, Glibc);
}

#[test]
fn musl_epoll_server_behind_published_port() {
    epoll_server("musl_epoll_server_behind_published_port", Mode::Vm, Musl);
}

#[test]
fn native_glibc_epoll_server() {
    epoll_server("native_glibc_epoll_server", Mode::Native, Glibc);
}

#[test]
fn native_musl_epoll_server() {
    epoll_server("native_musl_epoll_server", Mode::Native, Musl);
}

// ---------------------------------------------------------------- the C pre-forking server

const PREFORK_WORKERS: usize = 3;
const PREFORK_CONNECTIONS: usize = 60;
/// Client threads, each making its share of the connections one after another.
const PREFORK_CLIENTS: usize = 8;

/// The C pre-forking server behind a published port (in the VM with 2 vCPUs): 3 worker
/// processes accept on the listener they inherited and count in MAP_SHARED|MAP_ANONYMOUS
/// memory; 60 connections (8 at a time), each one request line answered by whichever worker
/// took it, then the parent ends and reaps every worker and exits 0.
fn prefork_server(test: &str, mode: Mode, tc: Toolchain) {
    let case = app_case("net_prefork", tc, "net_prefork");
    let Some(target) = prepare(test, mode, &case) else { return };
    let (workers, connections) = (PREFORK_WORKERS.to_string(), PREFORK_CONNECTIONS.to_string());
    let args = ["{port}", workers.as_str(), connections.as_str()];
    let launch =
        Launch { target: &target, guest_port: 7100, proto: Proto::Tcp, args: &args, uvm_args: &["--cpus", "2"] };
    let mut server = start(test, mode, &launch);
    let port = server.port;
    let clients: Vec<_> = (0..PREFORK_CLIENTS)
        .map(|c| {
            thread::spawn(move || -> Result<(), String> {
                for n in (c..PREFORK_CONNECTIONS).step_by(PREFORK_CLIENTS) {
                    let mut stream = net::connect(port).map_err(|e| format!("connection {n}: connect: {e}"))?;
                    stream
                        .write_all(format!("hello {n}\n").as_bytes())
                        .map_err(|e| format!("connection {n}: send: {e}"))?;
                    let mut reply = Vec::new();
                    std::io::Read::read_to_end(&mut stream, &mut reply)
                        .map_err(|e| format!("connection {n}: read: {e}"))?;
                    if reply != format!("worker served hello {n}\n").as_bytes() {
                        return Err(format!("connection {n}: got {}", show(&reply)));
                    }
                }
                Ok(())
            })
        })
        .collect();
    let failures: Vec<String> = clients.into_iter().filter_map(|c| c.join().expect("client thread").err()).collect();
    assert!(failures.is_empty(), "{test}: {} client threads failed: {failures:?}", failures.len());
    let stdout = server.expect_exit(test, 0);
    let listened = if mode == Mode::Vm { 7100 } else { port };
    assert_eq!(
        stdout,
        format!(
            "listening on port {listened}\nserved {PREFORK_CONNECTIONS} connections with {PREFORK_WORKERS} workers, every worker reaped\n"
        ),
        "{test}: the server's stdout"
    );
}

#[test]
fn glibc_prefork_server_behind_published_port() {
    prefork_server("glibc_prefork_server_behind_published_port", Mode::Vm, Glibc);
}

#[test]
fn musl_prefork_server_behind_published_port() {
    prefork_server("musl_prefork_server_behind_published_port", Mode::Vm, Musl);
}

#[test]
fn native_glibc_prefork_server() {
    prefork_server("native_glibc_prefork_server", Mode::Native, Glibc);
}

#[test]
fn native_musl_prefork_server() {
    prefork_server("native_musl_prefork_server", Mode::Native, Musl);
}

// ---------------------------------------------------------------- the Rust std server

const RUST_CONNECTIONS: usize = 8;

/// The Rust std::net server behind a published port: 8 concurrent connections of 50 lines
/// each (answered upper-cased), after which it exits 0; then a second run ended by "quit".
fn rust_server(test: &str, mode: Mode) {
    let case = app_case("net_server", Rust, "net_server");
    let Some(target) = prepare(test, mode, &case) else { return };
    let n = RUST_CONNECTIONS.to_string();
    let args = ["{port}", n.as_str()];
    let launch = Launch { target: &target, guest_port: 7000, proto: Proto::Tcp, args: &args, uvm_args: &[] };
    let mut server = start(test, mode, &launch);
    let port = server.port;
    let workers: Vec<_> = (0..RUST_CONNECTIONS)
        .map(|c| {
            thread::spawn(move || -> Result<(), String> {
                let stream = net::connect(port).map_err(|e| format!("connection {c}: {e}"))?;
                let mut out = stream.try_clone().map_err(|e| e.to_string())?;
                let mut lines = BufReader::new(stream).lines();
                for i in 0..50 {
                    writeln!(out, "connection {c} says hello {i}").map_err(|e| format!("connection {c}: send: {e}"))?;
                    let got = lines.next().ok_or("EOF")?.map_err(|e| format!("connection {c}: read: {e}"))?;
                    if got != format!("CONNECTION {c} SAYS HELLO {i}") {
                        return Err(format!("connection {c}: got {got:?}"));
                    }
                }
                Ok(())
            })
        })
        .collect();
    let failures: Vec<String> = workers.into_iter().filter_map(|w| w.join().expect("client thread").err()).collect();
    assert!(failures.is_empty(), "{test}: {failures:?}");
    let stdout = server.expect_exit(test, 0);
    let listened = if mode == Mode::Vm { 7000 } else { port };
    assert_eq!(
        stdout,
        format!(
            "listening on port {listened}\nserved {RUST_CONNECTIONS} connections, {} lines, 0 failed\n",
            RUST_CONNECTIONS * 50
        ),
        "{test}: the server's stdout"
    );

    // "quit" ends it at once.
    let args = ["{port}", "100"];
    let mut server = start(test, mode, &Launch { args: &args, ..launch });
    let port = server.port;
    let stream = net::connect(port).unwrap_or_else(|e| panic!("{test}: connect: {e}"));
    let mut out = stream.try_clone().unwrap();
    let mut lines = BufReader::new(stream).lines();
    writeln!(out, "one").unwrap();
    assert_eq!(lines.next().map(|l| l.ok()), Some(Some("ONE".to_string())), "{test}: echo before quit");
    writeln!(out, "quit").unwrap();
    assert_eq!(lines.next().map(|l| l.ok()), Some(Some("bye".to_string())), "{test}: answer to quit");
    let stdout = server.expect_exit(test, 0);
    let listened = if mode == Mode::Vm { 7000 } else { port };
    assert_eq!(stdout, format!("listening on port {listened}\nquit after 1 lines\n"), "{test}: stdout after quit");
}

#[test]
fn rust_server_behind_published_port() {
    rust_server("rust_server_behind_published_port", Mode::Vm);
}

#[test]
fn native_rust_server() {
    rust_server("native_rust_server", Mode::Native);
}

// ---------------------------------------------------------------- the UDP echo server

/// The UDP echo server behind `-p H:5353/udp`: datagrams of 1 to 8000 bytes come back intact
/// from 127.0.0.1:H; "quit" ends it with status 0.
fn udp_echo(test: &str, mode: Mode, tc: Toolchain) {
    let case = app_case("net_udp_echo", tc, "net_udp_echo");
    let Some(target) = prepare(test, mode, &case) else { return };
    let args = ["{port}"];
    let mut server =
        start(test, mode, &Launch { target: &target, guest_port: 5353, proto: Proto::Udp, args: &args, uvm_args: &[] });
    let port = server.port;
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind udp");
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let sizes = [1usize, 4, 5, 64, 512, 1400, 1472, 4000, 8000];
    let mut buf = vec![0u8; 65536];
    let (mut sent_bytes, mut resent) = (0, 0);
    for (i, &size) in sizes.iter().cycle().take(45).enumerate() {
        let data: Vec<u8> = (0..size).map(|k| ((i * 31 + k * 7) % 251) as u8).collect();
        // Loopback datagrams are not lost; a retry only guards the very first one.
        let mut answer = None;
        for _ in 0..3 {
            socket.send_to(&data, net::local(port)).expect("send_to");
            match socket.recv_from(&mut buf) {
                Ok(got) => {
                    answer = Some(got);
                    break;
                }
                Err(_) => resent += 1,
            }
        }
        let (n, from) =
            answer.unwrap_or_else(|| panic!("{test}: no echo of datagram {i} ({size} bytes) from port {port}"));
        assert_eq!(from, net::local(port), "{test}: the echo must come from the published port");
        assert!(buf[..n] == data[..], "{test}: datagram {i} ({size} bytes) came back as {n} different bytes");
        sent_bytes += size;
    }
    socket.send_to(b"quit", net::local(port)).expect("send quit");
    let n = socket.recv(&mut buf).unwrap_or_else(|e| panic!("{test}: no answer to quit: {e}"));
    assert_eq!(&buf[..n], b"bye", "{test}: answer to quit");
    let stdout = server.expect_exit(test, 0);
    let listened = if mode == Mode::Vm { 5353 } else { port };
    if resent == 0 {
        assert_eq!(
            stdout,
            format!("listening on udp port {listened}\nechoed 45 datagrams, {sent_bytes} bytes\n"),
            "{test}"
        );
    }
}

#[test]
fn glibc_udp_echo_behind_published_port() {
    udp_echo("glibc_udp_echo_behind_published_port", Mode::Vm, Glibc);
}

#[test]
fn musl_udp_echo_behind_published_port() {
    udp_echo("musl_udp_echo_behind_published_port", Mode::Vm, Musl);
}

#[test]
fn native_glibc_udp_echo() {
    udp_echo("native_glibc_udp_echo", Mode::Native, Glibc);
}

// ---------------------------------------------------------------- egress

/// Runs the client in the VM: `uvm run [uvm_args] IMAGE -- client_args`.
fn run_client(test: &str, tc: Toolchain, uvm_args: &[String], client_args: &[String]) -> Option<process::Output> {
    let image = prepare(test, Mode::Vm, &app_case("net_client", tc, "net_client"))?;
    let mut cmd = uvm(["run"]);
    cmd.args(uvm_args).arg(&image).arg("--").args(client_args);
    Some(process::run(cmd, None))
}

fn expect_output(test: &str, out: &process::Output, code: i32, stdout: &str) {
    assert!(
        out.status.code() == Some(code) && out.stdout == stdout.as_bytes(),
        "{test}: expected status {code} and stdout {stdout:?}\n--- status: {}\n--- stdout: {}\n--- stderr: {}",
        out.status,
        show(&out.stdout),
        show(&out.stderr)
    );
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A client in the VM reaches a host listener on 127.0.0.1:P at 10.0.2.2:P when `egress`
/// (an `--egress` value, `{port}` replaced by P) allows it.
fn egress_allowed(test: &str, tc: Toolchain, egress: &str) {
    let peer = net::HostPeer::start();
    let p = peer.port.to_string();
    let uvm_args = vec!["--egress".to_string(), egress.replace("{port}", &p)];
    let Some(out) = run_client(test, tc, &uvm_args, &strings(&["10.0.2.2", &p, "ping"])) else { return };
    expect_output(test, &out, 0, "reply: pong ping\n");
    assert_eq!(peer.accepted(), 1, "{test}: the host listener should have had one connection");
}

#[test]
fn glibc_egress_to_host_gateway_by_address() {
    egress_allowed("glibc_egress_to_host_gateway_by_address", Glibc, "10.0.2.2:{port}");
}

#[test]
fn musl_egress_to_host_gateway_by_address() {
    egress_allowed("musl_egress_to_host_gateway_by_address", Musl, "10.0.2.2:{port}");
}

#[test]
fn egress_to_host_gateway_by_name() {
    egress_allowed("egress_to_host_gateway_by_name", Glibc, "host:{port}");
}

#[test]
fn egress_any() {
    egress_allowed("egress_any", Glibc, "any");
}

/// Bytes an app leaves in its socket's transmit ring and then computes without a syscall go
/// out through the VMM's poller (it waits at most 1-16 ms while rings exist), not only at the
/// app's next wait or exit: the line reaches the host while the client in the VM still
/// computes (for 500 ms after its send, with the vDSO's clock).
#[test]
fn a_ring_send_goes_out_while_the_app_computes() {
    let test = "a_ring_send_goes_out_while_the_app_computes";
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    let p = listener.local_addr().expect("local_addr").port().to_string();
    let (arrived_tx, arrived) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        let mut out = stream.try_clone().expect("clone");
        let mut line = String::new();
        if BufReader::new(stream).read_line(&mut line).is_ok() {
            let _ = arrived_tx.send(std::time::Instant::now());
            let _ = writeln!(out, "pong {}", line.trim_end());
        }
    });
    let uvm_args = strings(&["--egress", &format!("10.0.2.2:{p}")]);
    let Some(out) = run_client(test, Musl, &uvm_args, &strings(&["spin", "10.0.2.2", &p, "ping"])) else { return };
    let ended = std::time::Instant::now();
    expect_output(test, &out, 0, "reply: pong ping\n");
    let arrived = arrived.recv_timeout(Duration::from_secs(5)).expect("the host peer got the line");
    let early = ended.duration_since(arrived);
    assert!(
        early >= Duration::from_millis(250),
        "{test}: the line arrived only {early:?} before the client ended (it computed for 500 ms after sending)"
    );
}

/// With no egress rule a connect to the host gateway is refused (ECONNREFUSED), nothing
/// reaches the host listener, and the syscall trace shows the refused connect and names the
/// egress policy.
#[test]
fn egress_denied_by_default() {
    let test = "egress_denied_by_default";
    let peer = net::HostPeer::start();
    let p = peer.port.to_string();
    let Some(out) = run_client(test, Glibc, &[], &strings(&["10.0.2.2", &p, "ping"])) else { return };
    expect_output(test, &out, 1, "connect: ECONNREFUSED\n");

    let Some(out) = run_client(test, Glibc, &strings(&["--trace-syscalls"]), &strings(&["10.0.2.2", &p, "ping"]))
    else {
        return;
    };
    expect_output(test, &out, 1, "connect: ECONNREFUSED\n");
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(
        trace.lines().any(|l| l.contains("connect(") && l.contains("ECONNREFUSED")),
        "{test}: the trace should show the refused connect; stderr: {}",
        show(&out.stderr)
    );
    assert!(
        trace.lines().any(|l| l.to_ascii_lowercase().contains("egress")),
        "{test}: the trace should say the egress policy refused it; stderr: {}",
        show(&out.stderr)
    );
    thread::sleep(Duration::from_millis(100));
    assert_eq!(peer.accepted(), 0, "{test}: a denied connect must not reach the host");
}

/// A rule for another port does not open this one.
#[test]
fn egress_rule_for_another_port_denies() {
    let test = "egress_rule_for_another_port_denies";
    let peer = net::HostPeer::start();
    let p = peer.port.to_string();
    let other = format!("10.0.2.2:{}", if peer.port == 65535 { 1 } else { peer.port + 1 });
    let Some(out) = run_client(test, Glibc, &strings(&["--egress", &other]), &strings(&["10.0.2.2", &p, "ping"]))
    else {
        return;
    };
    expect_output(test, &out, 1, "connect: ECONNREFUSED\n");
    assert_eq!(peer.accepted(), 0, "{test}: a denied connect must not reach the host");
}

/// UDP: a datagram to the host gateway goes out when allowed (and the answer comes back); a
/// denied sendto fails with EACCES.
#[test]
fn egress_udp() {
    let test = "egress_udp";
    let (port, seen) = net::udp_host_peer();
    let p = port.to_string();
    let args = strings(&["udp", "10.0.2.2", &p, "ping"]);
    let Some(out) = run_client(test, Glibc, &strings(&["--egress", &format!("10.0.2.2:{p}")]), &args) else { return };
    expect_output(test, &out, 0, "reply: pong ping\n");
    let Some(out) = run_client(test, Glibc, &[], &args) else { return };
    expect_output(test, &out, 1, "sendto: EACCES\n");
    assert_eq!(*seen.lock().unwrap(), 1, "{test}: only the allowed datagram reaches the host");
}

/// `[network] egress` in the manifest allows like `--egress`.
#[test]
fn manifest_egress_allows_like_the_flag() {
    let test = "manifest_egress_allows_like_the_flag";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = vm::stage_case(test, &app_case("net_client", Glibc, "net_client")) else { return };
    let peer = net::HostPeer::start();
    let manifest = staged.dir.join("net_client_egress.toml");
    std::fs::write(
        &manifest,
        format!(
            "[app]\nname = \"net-client-egress\"\nbinary = \"net_client\"\nargs = [\"10.0.2.2\", \"{p}\", \"ping\"]\n\n\
             [network]\negress = [\"10.0.2.2:{p}\"]\n\n[vm]\nmemory_mib = 64\n",
            p = peer.port
        ),
    )
    .expect("write the manifest");
    expect_code(test, uvm(["build".as_ref(), manifest.as_os_str()]), 0);
    let image = staged.dir.join("net-client-egress.uvm");
    let out = process::run(uvm(["run".as_ref(), image.as_os_str()]), None);
    expect_output(test, &out, 0, "reply: pong ping\n");
}

/// The client natively: it reaches a host listener, and names ECONNREFUSED for a closed port
/// (what the VM's denied connect must look like to the app).
#[test]
fn native_client() {
    let test = "native_client";
    for tc in [Glibc, Musl] {
        let Some(client) = prepare(test, Mode::Native, &app_case("net_client", tc, "net_client")) else { return };
        let peer = net::HostPeer::start();
        let out = process::run(
            {
                let mut cmd = std::process::Command::new(&client);
                cmd.args(["127.0.0.1", &peer.port.to_string(), "ping"]);
                cmd
            },
            None,
        );
        expect_output(test, &out, 0, "reply: pong ping\n");
        let closed = free_port().to_string();
        let mut cmd = std::process::Command::new(&client);
        cmd.args(["127.0.0.1", &closed, "ping"]);
        expect_output(test, &process::run(cmd, None), 1, "connect: ECONNREFUSED\n");
        let (port, _) = net::udp_host_peer();
        let mut cmd = std::process::Command::new(&client);
        cmd.args(["udp", "127.0.0.1", &port.to_string(), "ping"]);
        expect_output(test, &process::run(cmd, None), 0, "reply: pong ping\n");
    }
}

// ---------------------------------------------------------------- DNS

/// A name the host resolves through DNS (the package mirror every host of this project
/// reaches), or `None` when the host's resolver answers nothing for it.
fn name_the_host_resolves() -> Option<(&'static str, Vec<std::net::IpAddr>)> {
    use std::net::ToSocketAddrs;
    let name = "deb.debian.org";
    let addrs: Vec<_> = (name, 80).to_socket_addrs().ok()?.map(|a| a.ip()).filter(|ip| ip.is_ipv4()).collect();
    (!addrs.is_empty()).then_some((name, addrs))
}

/// DNS in the VM (musl's resolver reads the image's /etc/resolv.conf: 10.0.2.3) goes to the
/// host's resolver only with `--egress dns`: then the name resolves as on the host; without
/// it the query is refused (the resolver says "Try again") and the trace names the rule.
#[test]
fn dns_through_the_host_resolver_needs_egress_dns() {
    let test = "dns_through_the_host_resolver_needs_egress_dns";
    let case = app_case("net_resolve", Musl, "net_resolve");
    let Some(image) = prepare(test, Mode::Vm, &case) else { return };
    let name = name_the_host_resolves().map_or("deb.debian.org", |(name, _)| name);
    let run = |uvm_args: &[&str]| {
        let mut cmd = uvm(["run"]);
        cmd.args(uvm_args).arg(&image).arg("--").arg(name);
        process::run(cmd, None)
    };

    let denied = run(&["--trace-syscalls"]);
    assert!(
        denied.status.code() == Some(1) && String::from_utf8_lossy(&denied.stdout).starts_with("getaddrinfo: "),
        "{test}: without --egress dns the lookup must fail\n--- status: {}\n--- stdout: {}\n--- stderr: {}",
        denied.status,
        show(&denied.stdout),
        show(&denied.stderr)
    );
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("--egress dns"),
        "{test}: the trace should name the rule that allows DNS; stderr: {}",
        show(&denied.stderr)
    );

    let Some((_, host_addrs)) = name_the_host_resolves() else {
        eprintln!("{test}: the host resolves no name through DNS here; only the refusal was checked");
        return;
    };
    let allowed = run(&["--egress", "dns"]);
    let stdout = String::from_utf8_lossy(&allowed.stdout).into_owned();
    let resolved = stdout.strip_prefix("resolved ").and_then(|s| s.trim().parse::<std::net::IpAddr>().ok());
    assert!(
        allowed.status.code() == Some(0) && resolved.is_some_and(|ip| host_addrs.contains(&ip)),
        "{test}: with --egress dns {name} should resolve to one of the host's answers {host_addrs:?}\n--- status: {}\n--- stdout: {}\n--- stderr: {}",
        allowed.status,
        show(&allowed.stdout),
        show(&allowed.stderr)
    );
}

// ---------------------------------------------------------------- interfaces

/// What the interface lister (tests/apps/net_interfaces.c) prints, with glibc and musl alike:
/// `lo`, and `eth0` at 10.0.2.15/24 with the gateway 10.0.2.2. This is Linux's own output in
/// a network namespace set up as the VM's (`native_interfaces_are_listed_as_on_linux`).
const INTERFACES_C: &str = "ifaddr lo packet addr=00:00:00:00:00:00 mask=- brd=- flags=0x10049
ifaddr eth0 packet addr=52:54:00:12:34:56 mask=- brd=ff:ff:ff:ff:ff:ff flags=0x11043
ifaddr lo inet addr=127.0.0.1 mask=255.0.0.0 brd=- flags=0x10049
ifaddr eth0 inet addr=10.0.2.15 mask=255.255.255.0 brd=10.0.2.255 flags=0x11043
ifaddr lo inet6 addr=::1 mask=ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff brd=- flags=0x10049
if_nameindex 1 lo
if_nameindex 2 eth0
if_nametoindex eth0 2, if_indextoname 1 lo
ifconf lo 127.0.0.1
ifconf eth0 10.0.2.15
eth0 netmask 255.255.255.0 broadcast 10.0.2.255 mtu 1500 flags 0x1043 qlen 1000 hw 1 52:54:00:12:34:56
SIOCSIFMTU: EPERM
SIOCGIFFLAGS eth9: ENODEV
SIOCGIFINDEX lo on AF_UNIX: OK 1
bound to the process id: 1
link 2 with an ack:
  type=16 flags=0 seq=10 to_us=1 link 2 eth0 mtu 1500
  type=2 flags=0x100 seq=10 to_us=1 error=OK echoed_type=18 len=36
  2 messages, from the kernel: 1
link 99:
  type=2 flags=0 seq=11 to_us=1 error=ENODEV echoed_type=18 len=52
  1 messages, from the kernel: 1
a new address:
  type=2 flags=0 seq=12 to_us=1 error=EPERM echoed_type=20 len=44
  1 messages, from the kernel: 1
IPv4 routes:
  type=24 flags=0x2 seq=13 to_us=1 route table=254 type=1 default/0 via 10.0.2.2 scope=0
  type=24 flags=0x2 seq=13 to_us=1 route table=254 type=1 10.0.2.0/24 via - scope=253
  type=24 flags=0x2 seq=13 to_us=1 route table=255 type=2 10.0.2.15/32 via - scope=254
  type=24 flags=0x2 seq=13 to_us=1 route table=255 type=3 10.0.2.255/32 via - scope=253
  type=24 flags=0x2 seq=13 to_us=1 route table=255 type=2 127.0.0.0/8 via - scope=254
  type=24 flags=0x2 seq=13 to_us=1 route table=255 type=2 127.0.0.1/32 via - scope=254
  type=24 flags=0x2 seq=13 to_us=1 route table=255 type=3 127.255.255.255/32 via - scope=253
  type=3 flags=0x2 seq=13 to_us=1
  8 messages, from the kernel: 1
not a request:
  type=2 flags=0x100 seq=14 to_us=1 error=OK echoed_type=18 len=36
  1 messages, from the kernel: 1
peeked length fits a link: 1; cut to 20, MSG_TRUNC 1
NETLINK_EXT_ACK: OK
SO_PROTOCOL 0 SO_DOMAIN 16 SO_TYPE 3
second port is negative: 1
sending to a port: EPERM
sending to a group: EPERM
binding a taken port: EADDRINUSE
joining a group: OK
bound: groups 0x1, an automatic port: 1
binding a bound socket to port 0: EINVAL
listen: EOPNOTSUPP
a datagram past SO_SNDBUF: EMSGSIZE
";

/// What the Go lister (tests/apps/go/net_interfaces.go) prints.
const INTERFACES_GO: &str = "1 lo mtu=65536 hw=\"\" flags=up|loopback
  127.0.0.1/8
  ::1/128
2 eth0 mtu=1500 hw=\"52:54:00:12:34:56\" flags=up|broadcast|multicast
  10.0.2.15/24
all addresses: [127.0.0.1/8 10.0.2.15/24 ::1/128] <nil>
eth0 index: 2
";

/// The network namespace the native twin runs the listers in: `lo` up, `eth0` (one end of a
/// veth pair whose other end is in another namespace, so it has a carrier) with the VM's
/// hardware address, 10.0.2.15/24, no IPv6, and the default route via 10.0.2.2. The app runs
/// without CAP_NET_ADMIN, as in a container (and in the VM): changes are EPERM.
const VM_LIKE_NETNS: &str = "set -e
ip link set lo up
ip link add eth0 index 2 type veth peer name peer0 index 3
ip link set eth0 address 52:54:00:12:34:56
sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
ip addr add 10.0.2.15/24 brd + dev eth0
unshare -n sleep 60 &
sleep 0.2
ip link set peer0 netns $!
nsenter -t $! -n ip link set peer0 up
ip link set eth0 up
ip route add default via 10.0.2.2
setpriv --bounding-set=-net_admin --inh-caps=-net_admin \"$0\"
kill $!";

/// getifaddrs, if_nameindex, the interface ioctls and raw rtnetlink requests (C, glibc and
/// musl), and Go's net.Interfaces/InterfaceAddrs/InterfaceByName, list the VM's interfaces
/// as Linux lists a container's.
#[test]
fn interfaces_are_listed_as_on_linux() {
    let test = "interfaces_are_listed_as_on_linux";
    for (toolchain, expected) in [(Glibc, INTERFACES_C), (Musl, INTERFACES_C), (Go, INTERFACES_GO)] {
        let case = app_case("net_interfaces", toolchain, "net_interfaces");
        let Some(image) = prepare(test, Mode::Vm, &case) else { return };
        let out = process::run(uvm([std::path::Path::new("run"), &image]), None);
        expect_output(&format!("{test} ({toolchain})"), &out, 0, expected);
    }
}

/// The listers natively, in a network namespace set up as the VM's network looks
/// (`VM_LIKE_NETNS`): the expectations are Linux's. Needs root (network namespaces, veth);
/// without it the test says so and passes.
#[test]
fn native_interfaces_are_listed_as_on_linux() {
    let test = "native_interfaces_are_listed_as_on_linux";
    let namespaces = std::process::Command::new("unshare").args(["-n", "true"]).status();
    if !namespaces.is_ok_and(|s| s.success()) {
        eprintln!("{test}: skipped: no network namespaces here (needs root)");
        return;
    }
    for (toolchain, expected) in [(Glibc, INTERFACES_C), (Musl, INTERFACES_C), (Go, INTERFACES_GO)] {
        let case = app_case("net_interfaces", toolchain, "net_interfaces");
        let Some(binary) = prepare(test, Mode::Native, &case) else { return };
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["-n", "sh", "-c", VM_LIKE_NETNS]).arg(&binary);
        expect_output(&format!("{test} ({toolchain})"), &process::run(cmd, None), 0, expected);
    }
}

/// busybox's `ip` (rtnetlink and the interface ioctls: addresses, links, routes, the route to
/// one address, rules), `ifconfig` (the ioctls and /proc/net/dev) and `route`
/// (/proc/net/route) show the VM's interfaces and routes as Linux
/// shows them in a namespace set up as the VM's (checked by hand: the veth pair there adds
/// `@if3` and real packet counts); changes are refused. Two processes of the script each make
/// their first IP socket (`ifconfig` twice): the VM's readiness area is registered once for
/// both (a second registration was EBUSY, so the second process's socket() failed).
#[test]
fn busybox_ip_and_ifconfig_show_the_vm_s_interfaces() {
    let test = "busybox_ip_and_ifconfig_show_the_vm_s_interfaces";
    if !vm::require_kvm(test) {
        return;
    }
    let Some(staged) = vm::stage_case(test, &support::cases::busybox_echo()) else { return };
    let image = vm::build(test, &staged);
    let script = "ip addr; ip route; ip -6 route show table local; ip link show eth0; \
                  ifconfig eth0 2>/dev/null; ifconfig lo 2>/dev/null | head -1; \
                  ip addr add 10.0.2.16/24 dev eth0 2>/dev/null || echo refused $?; route -n; \
                  ip route get 1.1.1.1; ip route get 10.0.2.15; ip -6 route get ::1; ip rule";
    let mut cmd = uvm([std::ffi::OsStr::new("run"), image.as_os_str()]);
    cmd.args(["--", "sh", "-c", script]);
    let expected = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host 
       valid_lft forever preferred_lft forever
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    inet 10.0.2.15/24 brd 10.0.2.255 scope global eth0
       valid_lft forever preferred_lft forever
default via 10.0.2.2 dev eth0 
10.0.2.0/24 dev eth0 scope link  src 10.0.2.15 
local ::1 dev lo  metric 0 
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
eth0      Link encap:Ethernet  HWaddr 52:54:00:12:34:56  
          inet addr:10.0.2.15  Bcast:10.0.2.255  Mask:255.255.255.0
          UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1
          RX packets:0 errors:0 dropped:0 overruns:0 frame:0
          TX packets:0 errors:0 dropped:0 overruns:0 carrier:0
          collisions:0 txqueuelen:1000 
          RX bytes:0 (0.0 B)  TX bytes:0 (0.0 B)

lo        Link encap:Local Loopback  
refused 2
Kernel IP routing table
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface
0.0.0.0         10.0.2.2        0.0.0.0         UG    0      0        0 eth0
10.0.2.0        0.0.0.0         255.255.255.0   U     0      0        0 eth0
1.1.1.1 via 10.0.2.2 dev eth0  src 10.0.2.15 
local 10.0.2.15 dev lo  src 10.0.2.15 
local ::1 from :: dev lo table local  src ::1  metric 0 
0:\tfrom all lookup local 
32766:\tfrom all lookup main 
32767:\tfrom all lookup default 
";
    expect_output(test, &process::run(cmd, None), 0, expected);
}

// ---------------------------------------------------------------- memory

/// 500 connections in a 16 MiB VM: rings would need 16 MiB, so the later sockets go without
/// them (each receive and send a call) and the app still makes every connection.
#[test]
fn many_connections_in_a_small_vm() {
    let test = "many_connections_in_a_small_vm";
    let case = app_case("net_many", Musl, "net_many");
    let Some(image) = prepare(test, Mode::Vm, &case) else { return };
    let mut cmd = uvm(["run"]);
    cmd.arg(&image);
    let out = process::run(cmd, None);
    expect_output(test, &out, 0, "500 connections\n");
}
