//! Tests of the Net handler against real sockets on the host's loopback, with guest memory
//! made for tests and no VM: calls are written into RAM and served as the hypercall would be.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use uvm_abi::hypercall::{MemoryChunk, VcpuStart};
use uvm_abi::net::{NetCall, NetOp, NetOption, ACCEPT_LOCAL_AT, NET_MAX_CHUNKS, POLLIN, POLLOUT};
use uvm_net::{EgressPolicy, EgressRule, NetworkConfig, PortMapping, Proto};

use super::addr;
use super::Net;
use crate::error::VmError;
use crate::host_io::MemoryIo;
use crate::hypercall::VcpuOps;
use crate::memory::GuestMemory;
use crate::vcpus::StartError;

const PARAMS: u64 = 0x10_0000;
const CHUNKS: u64 = 0x11_0000;
const BUF: u64 = 0x12_0000;
const AREA: u64 = 0x20_0000;

struct NoVcpus;

impl VcpuOps for NoVcpus {
    fn blocking(&self, wait: &mut dyn FnMut()) {
        wait()
    }
    fn park(&self, _: Duration) -> bool {
        false
    }
    fn unpark(&self, _: u32) -> bool {
        false
    }
    fn interrupt(&self, _: u32) -> bool {
        false
    }
    fn start(&self, _: &VcpuStart) -> Result<(), StartError> {
        Err(StartError::Invalid)
    }
    fn ram_ready(&self, _wait: bool) -> crate::late_ram::RamReadiness {
        crate::late_ram::RamReadiness::Ready(64 << 20)
    }
    fn start_net_poller(&self) -> bool {
        // The tests that need the poller run it themselves.
        true
    }
}

struct Guest {
    net: Net,
    memory: GuestMemory,
    io: MemoryIo,
}

fn guest_with(config: NetworkConfig) -> Guest {
    let guest = Guest {
        net: Net::new(&config, true).expect("network"),
        memory: GuestMemory::for_tests(32 << 20),
        io: MemoryIo::default(),
    };
    assert_eq!(guest.call(NetOp::Setup, 0, |c| c.arg[0] = AREA).result, 0);
    guest
}

fn guest() -> Guest {
    guest_with(NetworkConfig::default())
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn with_addr(c: &mut NetCall, a: SocketAddr) {
    let (bytes, len) = addr::encode(&a);
    c.addr[..len].copy_from_slice(&bytes[..len]);
    c.addr_len = len as u32;
}

fn addr_of(c: &NetCall) -> SocketAddr {
    match addr::decode(&c.addr[..c.addr_len as usize]) {
        Ok(addr::SockAddr::Inet(a)) => a,
        other => panic!("no address: {other:?}"),
    }
}

const EAGAIN: i64 = -(libc::EAGAIN as i64);

impl Guest {
    fn call(&self, op: NetOp, handle: u32, fill: impl FnOnce(&mut NetCall)) -> NetCall {
        let mut c = NetCall { op: op as u32, handle, ..Default::default() };
        fill(&mut c);
        self.memory.write_plain(PARAMS, &c).unwrap();
        self.net.serve(PARAMS, &self.memory, &self.io, &NoVcpus).expect("served");
        self.memory.read_plain(PARAMS).unwrap()
    }

    fn socket(&self, family: u64, ty: u64) -> u32 {
        let r = self.call(NetOp::Socket, 0, |c| c.arg = [family, ty, 0, 0]).result;
        assert!(r > 0, "socket: {r}");
        r as u32
    }

    fn tcp(&self) -> u32 {
        self.socket(2, 1)
    }

    fn bind(&self, h: u32, a: &str) -> i64 {
        self.call(NetOp::Bind, h, |c| with_addr(c, sa(a))).result
    }

    fn listen(&self, h: u32) -> i64 {
        self.call(NetOp::Listen, h, |c| c.arg[0] = 16).result
    }

    fn connect(&self, h: u32, a: &str) -> i64 {
        self.call(NetOp::Connect, h, |c| with_addr(c, sa(a))).result
    }

    fn name(&self, op: NetOp, h: u32) -> SocketAddr {
        let c = self.call(op, h, |_| {});
        assert_eq!(c.result, 0, "{op:?}");
        addr_of(&c)
    }

    /// Calls `op` until it stops answering EAGAIN (the guest would wait for readiness).
    fn until_ready(&self, op: NetOp, h: u32, fill: impl Fn(&mut NetCall)) -> NetCall {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let c = self.call(op, h, &fill);
            if c.result != EAGAIN || Instant::now() > deadline {
                return c;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn accept(&self, h: u32) -> (i64, Option<SocketAddr>) {
        let c = self.until_ready(NetOp::Accept, h, |_| {});
        (c.result, (c.result > 0).then(|| addr_of(&c)))
    }

    fn send(&self, h: u32, bytes: &[u8], to: Option<&str>) -> i64 {
        self.memory.write_ram(BUF, bytes).unwrap();
        self.memory.write_plain(CHUNKS, &MemoryChunk { gpa: BUF, len: bytes.len() as u64 }).unwrap();
        self.call(NetOp::Send, h, |c| {
            c.chunks_gpa = CHUNKS;
            c.chunk_count = 1;
            if let Some(to) = to {
                with_addr(c, sa(to));
            }
        })
        .result
    }

    fn recv(&self, h: u32, len: u64) -> (Vec<u8>, Option<SocketAddr>) {
        self.memory.write_plain(CHUNKS, &MemoryChunk { gpa: BUF, len }).unwrap();
        let c = self.until_ready(NetOp::Recv, h, |c| {
            c.chunks_gpa = CHUNKS;
            c.chunk_count = 1;
        });
        assert!(c.result >= 0, "recv: {}", c.result);
        let mut bytes = vec![0u8; c.result as usize];
        self.memory.read_ram(BUF, &mut bytes).unwrap();
        (bytes, (c.addr_len > 0).then(|| addr_of(&c)))
    }

    fn slot(&self, h: u32) -> [u32; 4] {
        self.net.area.get().unwrap().slot(&self.memory, h)
    }

    /// The host address behind guest TCP port `port`.
    fn host_of_tcp_port(&self, port: u16) -> SocketAddr {
        self.net.lock().tcp.get(port).and_then(|e| e.host).expect("host address")
    }
}

fn free_host_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_loopback_connection_is_served_inside_the_vm_with_guest_addresses() {
    let g = guest();
    let server = g.tcp();
    assert_eq!(g.bind(server, "0.0.0.0:80"), 0);
    assert_eq!(g.listen(server), 0);
    assert_eq!(g.name(NetOp::GetSockName, server), sa("0.0.0.0:80"));
    // The host socket is on a private loopback port, not 80.
    let host = g.host_of_tcp_port(80);
    assert!(host.ip().is_loopback() && host.port() != 80, "{host}");

    let client = g.tcp();
    let r = g.connect(client, "127.0.0.1:80");
    assert!(r == 0 || r == -(libc::EINPROGRESS as i64), "connect: {r}");
    let (conn, peer) = g.accept(server);
    assert!(conn > 0, "accept: {conn}");
    let conn = conn as u32;
    let client_name = g.name(NetOp::GetSockName, client);
    assert_eq!(client_name.ip(), sa("127.0.0.1:0").ip());
    assert_eq!(peer, Some(client_name), "the peer is the client as the guest knows it");
    assert_eq!(g.name(NetOp::GetPeerName, client), sa("127.0.0.1:80"));
    assert_eq!(g.name(NetOp::GetSockName, conn), sa("127.0.0.1:80"));
    assert_eq!(g.name(NetOp::GetPeerName, conn), client_name);

    assert_eq!(g.send(client, b"hello", None), 5);
    let (bytes, from) = g.recv(conn, 64);
    assert_eq!(bytes, b"hello");
    assert_eq!(from, None);
    assert_eq!(g.send(conn, b"world!", None), 6);
    assert_eq!(g.recv(client, 64).0, b"world!");
}

#[test]
fn readiness_bits_follow_the_host_socket() {
    let g = guest();
    let server = g.tcp();
    g.bind(server, "127.0.0.1:7000");
    g.listen(server);
    assert_eq!(g.slot(server)[0] & POLLIN, 0, "nothing to accept yet");
    let client = g.tcp();
    g.connect(client, "127.0.0.1:7000");
    let (conn, _) = g.accept(server);
    let conn = conn as u32;
    assert_eq!(g.slot(conn)[0] & POLLIN, 0);
    assert_ne!(g.slot(conn)[0] & POLLOUT, 0, "room to write");
    g.send(client, b"x", None);
    std::thread::sleep(Duration::from_millis(20));
    // Any call naming the handle re-polls it.
    let pending = g.call(NetOp::Pending, conn, |_| {});
    assert_eq!((pending.result, pending.arg[0]), (0, 1));
    assert_ne!(g.slot(conn)[0] & POLLIN, 0);
    g.recv(conn, 16);
    assert_eq!(g.slot(conn)[0] & POLLIN, 0, "drained");
}

#[test]
fn the_poller_sets_bits_bumps_counters_and_wakes_waiters() {
    let g = guest();
    let server = g.tcp();
    g.bind(server, "127.0.0.1:7001");
    g.listen(server);
    let client = g.tcp();
    g.connect(client, "127.0.0.1:7001");
    let (conn, _) = g.accept(server);
    let conn = conn as u32;
    // vCPU 3 waits for a socket.
    g.memory.atomic_u64(AREA + 8).unwrap().store(1 << 3, std::sync::atomic::Ordering::SeqCst);
    let woken = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| g.net.run_poller(&g.memory, &|i| woken.lock().unwrap().push(i)));
        std::thread::sleep(Duration::from_millis(20));
        let input_before = g.slot(conn)[1];
        g.send(client, b"ping", None);
        let deadline = Instant::now() + Duration::from_secs(5);
        while g.slot(conn)[1] == input_before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        g.net.stop_poller();
    });
    let slot = g.slot(conn);
    assert_ne!(slot[0] & POLLIN, 0, "{slot:?}");
    assert!(slot[1] > 0, "input counted: {slot:?}");
    assert!(g.memory.atomic_u32(AREA).unwrap().load(std::sync::atomic::Ordering::SeqCst) > 0, "generation");
    assert!(woken.lock().unwrap().contains(&3));
    let counts = g.net.counts();
    assert!(counts.poller_batches > 0 && counts.poller_wakes > 0 && counts.calls > 0, "{counts:?}");
}

#[test]
fn the_egress_policy_refuses_what_it_does_not_allow() {
    let g = guest();
    let s = g.tcp();
    assert_eq!(g.connect(s, "1.2.3.4:443"), -(libc::ECONNREFUSED as i64));
    let lines = g.io.diagnostics();
    assert_eq!(
        lines,
        ["[uvm trace] net: connect to 1.2.3.4:443 denied by the egress policy (allow it with --egress 1.2.3.4:443 or [network] egress in the manifest)"]
    );
    // The host gateway is outside too.
    assert_eq!(g.connect(s, "10.0.2.2:22"), -(libc::ECONNREFUSED as i64));
    let u = g.socket(2, 2);
    assert_eq!(g.send(u, b"q", Some("8.8.8.8:53")), -(libc::EACCES as i64));
    assert!(g.io.diagnostics().last().unwrap().contains("send to 8.8.8.8:53 denied"));
}

#[test]
fn the_host_gateway_reaches_the_hosts_loopback_when_allowed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let egress = EgressPolicy {
        rules: vec![EgressRule::Net { network: "10.0.2.2".parse().unwrap(), prefix_len: 32, port: Some(port) }],
    };
    let g = guest_with(NetworkConfig { ports: vec![], egress });
    let s = g.tcp();
    let r = g.connect(s, &format!("10.0.2.2:{port}"));
    assert!(r == 0 || r == -(libc::EINPROGRESS as i64), "{r}");
    let (mut stream, _) = listener.accept().unwrap();
    stream.write_all(b"from the host").unwrap();
    assert_eq!(g.recv(s, 64).0, b"from the host");
    assert_eq!(g.name(NetOp::GetPeerName, s), sa(&format!("10.0.2.2:{port}")));
    assert_eq!(g.name(NetOp::GetSockName, s).ip(), sa("10.0.2.15:0").ip());
}

#[test]
fn a_published_port_takes_connections_queued_before_the_app_listens() {
    let host_port = free_host_port();
    let mapping = PortMapping { host_ip: "127.0.0.1".parse().unwrap(), host_port, guest_port: 80, proto: Proto::Tcp };
    let g = guest_with(NetworkConfig { ports: vec![mapping], egress: EgressPolicy::default() });
    // The connection queues on the port bound before boot.
    let mut outside = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    outside.write_all(b"GET /").unwrap();
    let outside_port = outside.local_addr().unwrap().port();

    let server = g.socket(10, 1);
    assert_eq!(
        g.call(NetOp::SetOpt, server, |c| {
            c.arg[0] = libc::IPPROTO_IPV6 as u64;
            c.arg[1] = libc::IPV6_V6ONLY as u64;
            c.addr[..4].copy_from_slice(&0i32.to_ne_bytes());
            c.addr_len = 4;
        })
        .result,
        0
    );
    assert_eq!(g.bind(server, "[::]:80"), 0);
    assert_eq!(g.listen(server), 0);
    assert_eq!(g.name(NetOp::GetSockName, server), sa("[::]:80"));
    let (conn, peer) = g.accept(server);
    assert!(conn > 0, "{conn}");
    // Someone on the host's loopback shows as the gateway, in the socket's family.
    assert_eq!(peer, Some(sa(&format!("[::ffff:10.0.2.2]:{outside_port}"))));
    assert_eq!(g.recv(conn as u32, 64).0, b"GET /");
    assert_eq!(g.send(conn as u32, b"200", None), 3);
    let mut answer = [0u8; 3];
    outside.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"200");
    let domain = g.call(NetOp::GetOpt, server, |c| {
        c.arg[0] = libc::SOL_SOCKET as u64;
        c.arg[1] = libc::SO_DOMAIN as u64;
        c.addr_len = 4;
    });
    assert_eq!(i32::from_ne_bytes(domain.addr[..4].try_into().unwrap()), libc::AF_INET6);

    // The app closes its listener and listens again (on its loopback address, which is
    // published all the same): the port stayed bound.
    assert_eq!(g.call(NetOp::Close, server, |_| {}).result, 0);
    let again = g.tcp();
    assert_eq!(g.bind(again, "127.0.0.1:80"), 0);
    assert_eq!(g.listen(again), 0);
    let _second = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    assert!(g.accept(again).0 > 0);
}

#[test]
fn a_private_listener_drops_connections_from_elsewhere_on_the_host() {
    let g = guest();
    let server = g.tcp();
    g.bind(server, "0.0.0.0:8080");
    g.listen(server);
    let host = g.host_of_tcp_port(8080);
    let mut stray = TcpStream::connect(host).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(g.call(NetOp::Accept, server, |_| {}).result, EAGAIN);
    stray.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut byte = [0u8; 1];
    assert!(matches!(stray.read(&mut byte), Ok(0) | Err(_)), "the stray connection was closed");
    // The VM's own connections still get through.
    let client = g.tcp();
    g.connect(client, "127.0.0.1:8080");
    assert!(g.accept(server).0 > 0);
}

#[test]
fn a_busy_published_port_fails_before_boot_naming_the_port_and_the_fix() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mapping =
        PortMapping { host_ip: "127.0.0.1".parse().unwrap(), host_port: port, guest_port: 80, proto: Proto::Tcp };
    let config = NetworkConfig { ports: vec![mapping], egress: EgressPolicy::default() };
    let error = Net::new(&config, false).err().expect("the port is taken");
    assert!(matches!(error, VmError::PortInUse { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("host port {port} is already in use (published as 127.0.0.1:{port}:80/tcp): choose another host port with -p, or stop what listens there")
    );
}

#[test]
fn a_guest_port_is_held_until_its_socket_closes() {
    let g = guest();
    let a = g.tcp();
    assert_eq!(g.bind(a, "0.0.0.0:5000"), 0);
    let b = g.tcp();
    assert_eq!(g.bind(b, "127.0.0.1:5000"), -(libc::EADDRINUSE as i64));
    // The other protocol has ports of its own.
    let u = g.socket(2, 2);
    assert_eq!(g.bind(u, "0.0.0.0:5000"), 0);
    assert_eq!(g.call(NetOp::Close, a, |_| {}).result, 0);
    assert_eq!(g.bind(b, "127.0.0.1:5000"), 0);
    // Port 0 picks from the ephemeral range.
    let c = g.tcp();
    assert_eq!(g.bind(c, "0.0.0.0:0"), 0);
    let port = g.name(NetOp::GetSockName, c).port();
    assert!((32768..=60999).contains(&port), "{port}");
    // Only the VM's addresses can be bound.
    let d = g.tcp();
    assert_eq!(g.bind(d, "1.2.3.4:80"), -(libc::EADDRNOTAVAIL as i64));
}

#[test]
fn datagrams_between_vm_sockets_show_guest_ports() {
    let g = guest();
    let server = g.socket(2, 2);
    assert_eq!(g.bind(server, "127.0.0.1:53"), 0);
    let client = g.socket(2, 2);
    assert_eq!(g.send(client, b"query", Some("127.0.0.1:53")), 5);
    let client_name = g.name(NetOp::GetSockName, client);
    let (bytes, from) = g.recv(server, 512);
    assert_eq!(bytes, b"query");
    assert_eq!(from, Some(sa(&format!("127.0.0.1:{}", client_name.port()))));
    assert_eq!(g.send(server, b"answer", Some(&from.unwrap().to_string())), 6);
    let (bytes, from) = g.recv(client, 512);
    assert_eq!(bytes, b"answer");
    assert_eq!(from, Some(sa("127.0.0.1:53")));
    // Nobody holds port 9: the datagram is dropped, as on Linux.
    assert_eq!(g.send(client, b"void", Some("127.0.0.1:9")), 4);
}

#[test]
fn whatever_the_guest_passes_is_an_errno_not_a_crash() {
    let g = Guest {
        net: Net::new(&NetworkConfig::default(), false).unwrap(),
        memory: GuestMemory::for_tests(32 << 20),
        io: MemoryIo::default(),
    };
    assert_eq!(g.call(NetOp::Socket, 0, |c| c.arg = [2, 1, 0, 0]).result, -(libc::EINVAL as i64), "before Setup");
    assert_eq!(g.call(NetOp::Setup, 0, |c| c.arg[0] = AREA + 8).result, -(libc::EINVAL as i64), "unaligned");
    assert_eq!(g.call(NetOp::Setup, 0, |c| c.arg[0] = 1 << 40).result, -(libc::EINVAL as i64), "not RAM");
    assert_eq!(g.call(NetOp::Setup, 0, |c| c.arg[0] = AREA).result, 0);
    assert_eq!(g.call(NetOp::Setup, 0, |c| c.arg[0] = AREA).result, -(libc::EBUSY as i64));
    let mut unknown = NetCall { op: 99, ..Default::default() };
    g.memory.write_plain(PARAMS, &unknown).unwrap();
    g.net.serve(PARAMS, &g.memory, &g.io, &NoVcpus).unwrap();
    unknown = g.memory.read_plain(PARAMS).unwrap();
    assert_eq!(unknown.result, -(libc::ENOSYS as i64));
    assert_eq!(g.call(NetOp::Socket, 0, |c| c.arg = [1, 1, 0, 0]).result, -(libc::EAFNOSUPPORT as i64));
    assert_eq!(g.call(NetOp::Socket, 0, |c| c.arg = [2, 3, 0, 0]).result, -(libc::ESOCKTNOSUPPORT as i64));
    assert_eq!(g.call(NetOp::Socket, 0, |c| c.arg = [2, 1, 17, 0]).result, -(libc::EPROTONOSUPPORT as i64));
    for handle in [0, 5, 1023, 1024, u32::MAX] {
        assert_eq!(g.call(NetOp::Listen, handle, |_| {}).result, -(libc::EBADF as i64), "{handle}");
    }
    let s = g.tcp();
    assert_eq!(g.call(NetOp::Bind, s, |c| c.addr_len = 500).result, -(libc::EINVAL as i64));
    assert_eq!(g.call(NetOp::Bind, s, |c| with_addr(c, sa("[::1]:80"))).result, -(libc::EAFNOSUPPORT as i64));
    assert_eq!(g.call(NetOp::Send, s, |c| c.chunk_count = NET_MAX_CHUNKS + 1).result, -(libc::EINVAL as i64));
    g.memory.write_plain(CHUNKS, &MemoryChunk { gpa: u64::MAX - 4, len: 16 }).unwrap();
    assert_eq!(
        g.call(NetOp::Send, s, |c| {
            c.chunks_gpa = CHUNKS;
            c.chunk_count = 1
        })
        .result,
        -(libc::EFAULT as i64)
    );
    assert_eq!(
        g.call(NetOp::Send, s, |c| {
            c.chunks_gpa = u64::MAX;
            c.chunk_count = 2
        })
        .result,
        -(libc::EFAULT as i64)
    );
    assert_eq!(g.call(NetOp::Shutdown, s, |c| c.arg[0] = 7).result, -(libc::EINVAL as i64));
    assert_eq!(
        g.call(NetOp::SetOpt, s, |c| {
            c.arg[0] = 1;
            c.arg[1] = libc::SO_RCVTIMEO as u64;
            c.addr_len = 16
        })
        .result,
        -(libc::ENOPROTOOPT as i64)
    );
    assert_eq!(
        g.call(NetOp::GetOpt, s, |c| {
            c.arg[0] = u64::MAX;
            c.arg[1] = u64::MAX;
            c.addr_len = u32::MAX
        })
        .result,
        -(libc::ENOPROTOOPT as i64)
    );
    // A parameter block outside RAM ends the VM.
    assert!(g.net.serve(1 << 40, &g.memory, &g.io, &NoVcpus).is_err());
}

#[test]
fn ipv6_sockets_talk_over_the_vms_ipv6_loopback() {
    let g = guest();
    let server = g.socket(10, 1);
    assert_eq!(g.bind(server, "[::]:443"), 0);
    assert_eq!(g.listen(server), 0);
    let client = g.socket(10, 1);
    let r = g.connect(client, "[::1]:443");
    assert!(r == 0 || r == -(libc::EINPROGRESS as i64), "{r}");
    let (conn, peer) = g.accept(server);
    assert!(conn > 0);
    let client_name = g.name(NetOp::GetSockName, client);
    assert_eq!(client_name.ip(), sa("[::1]:0").ip());
    assert_eq!(peer, Some(client_name));
    assert_eq!(g.name(NetOp::GetSockName, conn as u32), sa("[::1]:443"));
    // An IPv4 client reaches the dual-stack listener too, and shows as IPv4-mapped.
    let v4 = g.tcp();
    g.connect(v4, "127.0.0.1:443");
    let (_, peer) = g.accept(server);
    let v4_name = g.name(NetOp::GetSockName, v4);
    assert_eq!(peer, Some(sa(&format!("[::ffff:127.0.0.1]:{}", v4_name.port()))));
}

#[test]
fn a_published_datagram_port_hears_outside_and_may_answer() {
    let host_port = {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mapping = PortMapping { host_ip: "127.0.0.1".parse().unwrap(), host_port, guest_port: 53, proto: Proto::Udp };
    let g = guest_with(NetworkConfig { ports: vec![mapping], egress: EgressPolicy::default() });
    let server = g.socket(2, 2);
    assert_eq!(g.bind(server, "0.0.0.0:53"), 0);
    let outside = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    outside.send_to(b"who", ("127.0.0.1", host_port)).unwrap();
    let (bytes, from) = g.recv(server, 512);
    assert_eq!(bytes, b"who");
    let from = from.unwrap();
    assert_eq!(from, sa(&format!("10.0.2.2:{}", outside.local_addr().unwrap().port())));
    // The egress policy allows nothing, but a published port answers whoever asked.
    assert_eq!(g.send(server, b"me", Some(&from.to_string())), 2);
    outside.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 8];
    let (n, _) = outside.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"me");
}

#[test]
fn whitelisted_options_reach_the_host_socket() {
    let g = guest();
    let s = g.tcp();
    let set = |level: i32, name: i32, value: i32| {
        g.call(NetOp::SetOpt, s, |c| {
            c.arg[0] = level as u64;
            c.arg[1] = name as u64;
            c.addr[..4].copy_from_slice(&value.to_ne_bytes());
            c.addr_len = 4;
        })
        .result
    };
    let get = |level: i32, name: i32| {
        let c = g.call(NetOp::GetOpt, s, |c| {
            c.arg[0] = level as u64;
            c.arg[1] = name as u64;
            c.addr_len = 4;
        });
        assert_eq!((c.result, c.addr_len), (0, 4), "{level}/{name}");
        i32::from_ne_bytes(c.addr[..4].try_into().unwrap())
    };
    assert_eq!(set(libc::IPPROTO_TCP, libc::TCP_NODELAY, 1), 0);
    assert_eq!(get(libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
    assert_eq!(set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1), 0);
    assert_eq!(get(libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
    assert_eq!(get(libc::SOL_SOCKET, libc::SO_TYPE), libc::SOCK_STREAM);
    assert_eq!(get(libc::SOL_SOCKET, libc::SO_DOMAIN), libc::AF_INET);
    assert_eq!(get(libc::SOL_SOCKET, libc::SO_ERROR), 0);
    assert_eq!(set(libc::SOL_SOCKET, libc::SO_ERROR, 1), -(libc::ENOPROTOOPT as i64));
    assert_eq!(set(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1), -(libc::ENOPROTOOPT as i64), "not on IPv4");
}

/// The soft limit on open files, from /proc.
fn open_file_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn handles_run_out_at_the_areas_size_and_come_back() {
    if open_file_limit() < 1200 {
        eprintln!("skipped: fewer than 1200 open files allowed");
        return;
    }
    let g = guest();
    let handles: Vec<u32> = (1..uvm_abi::net::NET_MAX_HANDLES).map(|_| g.tcp()).collect();
    assert_eq!(handles.last(), Some(&(uvm_abi::net::NET_MAX_HANDLES - 1)));
    assert_eq!(g.call(NetOp::Socket, 0, |c| c.arg = [2, 1, 0, 0]).result, -(libc::ENFILE as i64));
    assert_eq!(g.call(NetOp::Close, 7, |_| {}).result, 0);
    assert_eq!(g.tcp(), 7, "the lowest free handle");
}

/// A connected pair inside the VM: (listener, client, accepted), with the accept's call.
fn connected_pair(g: &Guest) -> (u32, u32, u32, NetCall) {
    let server = g.tcp();
    assert_eq!(g.bind(server, "127.0.0.1:8080"), 0);
    assert_eq!(g.listen(server), 0);
    let client = g.tcp();
    let r = g.connect(client, "127.0.0.1:8080");
    assert!(r == 0 || r == -(libc::EINPROGRESS as i64), "connect: {r}");
    let call = g.until_ready(NetOp::Accept, server, |_| {});
    assert!(call.result > 0, "accept: {}", call.result);
    (server, client, call.result as u32, call)
}

#[test]
fn accept_gives_the_new_sockets_local_address_too() {
    let g = guest();
    let (_, _, conn, call) = connected_pair(&g);
    let len = call.arg[1] as usize;
    let mut local = NetCall { addr_len: len as u32, ..NetCall::default() };
    local.addr[..len].copy_from_slice(&call.addr[ACCEPT_LOCAL_AT..ACCEPT_LOCAL_AT + len]);
    assert_eq!(addr_of(&local), sa("127.0.0.1:8080"));
    assert_eq!(g.name(NetOp::GetSockName, conn), sa("127.0.0.1:8080"), "what getsockname says");
}

#[test]
fn deferred_options_are_set_before_the_call_runs() {
    let g = guest();
    let (_, client, _, _) = connected_pair(&g);
    let nodelay = |g: &Guest, options: &[NetOption]| {
        let c = g.call(NetOp::GetOpt, client, |c| {
            c.arg[0] = libc::IPPROTO_TCP as u64;
            c.arg[1] = libc::TCP_NODELAY as u64;
            c.addr_len = 4;
            c.options[..options.len()].copy_from_slice(options);
            c.option_count = options.len() as u32;
        });
        assert_eq!(c.result, 0);
        i32::from_ne_bytes(c.addr[..4].try_into().unwrap())
    };
    assert_eq!(nodelay(&g, &[]), 0);
    let on = NetOption { level: libc::IPPROTO_TCP as u32, name: libc::TCP_NODELAY as u32, value: 1, reserved: 0 };
    assert_ne!(nodelay(&g, &[on]), 0, "the GetOpt that carried it reads it set");
    // An option the whitelist refuses is dropped, and the call still runs.
    let bogus = NetOption { level: 0xdead, name: 1, value: 1, reserved: 0 };
    assert_ne!(nodelay(&g, &[bogus]), 0);
}

#[test]
fn a_vm_peer_sees_a_close_and_data_when_the_call_returns() {
    let g = guest();
    let (_, client, conn, _) = connected_pair(&g);
    let pollin = libc::POLLIN as u32;
    assert_eq!(g.slot(conn)[0] & pollin, 0, "nothing to read yet");
    assert_eq!(g.send(client, b"hi", None), 2);
    assert_ne!(g.slot(conn)[0] & pollin, 0, "readable as soon as the send returned");
    let (data, _) = g.recv(conn, 16);
    assert_eq!(data, b"hi");
    assert_eq!(g.call(NetOp::Close, client, |_| {}).result, 0);
    assert_ne!(g.slot(conn)[0] & (pollin | libc::POLLRDHUP as u32), 0, "the hang-up shows at once");
}

mod rings;

#[test]
fn a_refresh_never_shows_a_steady_bit_clear_and_reports_a_bit_it_cleared_and_set_again() {
    let g = guest();
    let area = *g.net.area.get().unwrap();
    let slot = || g.memory.atomic_u32(AREA + 16 * 5).unwrap();
    slot().store(POLLOUT | POLLIN, std::sync::atomic::Ordering::SeqCst);
    // POLLOUT holds all along: no poll ever finds it clear in the slot.
    let polls = std::cell::Cell::new(0);
    let steady = area.refresh(&g.memory, 5, || {
        assert_ne!(slot().load(std::sync::atomic::Ordering::SeqCst) & POLLOUT, 0);
        polls.set(polls.get() + 1);
        POLLOUT
    });
    assert_eq!((steady, polls.get(), g.slot(5)[0]), (false, 2, POLLOUT), "the stale POLLIN went");
    // The poller sets POLLIN between the two polls; the first clears it, the second sets it
    // again: a guest may have looked in between, so the caller is told to wake it.
    let first = std::cell::Cell::new(true);
    let woke = area.refresh(&g.memory, 5, || {
        if first.replace(false) {
            slot().fetch_or(POLLIN, std::sync::atomic::Ordering::SeqCst);
            POLLOUT
        } else {
            POLLOUT | POLLIN
        }
    });
    assert!(woke);
    assert_eq!(g.slot(5)[0], POLLOUT | POLLIN);
}
