//! Receive rings against real sockets: data lands in the ring with no Recv, in order across
//! the wrap; a full ring stalls until a Refill; the end, an error and a close with data in
//! flight; handle reuse; and rings a guest got wrong.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uvm_abi::hypercall::MemoryChunk;
use uvm_abi::net::{NetOp, NET_RX_EOF, NET_RX_ERROR, NET_RX_RING_SIZE, NET_RX_STALLED, NET_TX_ERROR, NET_TX_RING_SIZE};
use uvm_net::{EgressPolicy, NetworkConfig, PortMapping, Proto};

use super::{free_host_port, guest, guest_with, Guest, BUF, CHUNKS};

const SIZE: u32 = NET_RX_RING_SIZE;

/// Where a test puts a ring: header and data.
#[derive(Clone, Copy)]
struct Place(u64, u64);

const RING: Place = Place(0x30_0010, 0x31_0000);
const OTHER: Place = Place(0x40_0000, 0x41_0000);

/// The ring's header words: head, tail, flags, error.
fn header(g: &Guest, at: Place) -> [u32; 4] {
    [0, 4, 8, 12].map(|offset| g.memory.atomic_u32(at.0 + offset).unwrap().load(Ordering::SeqCst))
}

/// Takes up to `max` bytes out of the ring, as the guest does.
fn take(g: &Guest, at: Place, max: usize) -> Vec<u8> {
    let [head, tail, ..] = header(g, at);
    let n = (head.wrapping_sub(tail) as usize).min(max);
    let mut out = vec![0u8; n];
    for (i, byte) in out.iter_mut().enumerate() {
        let offset = tail.wrapping_add(i as u32) & (SIZE - 1);
        let mut b = [0u8];
        g.memory.read_ram(at.1 + u64::from(offset), &mut b).unwrap();
        *byte = b[0];
    }
    g.memory.atomic_u32(at.0 + 4).unwrap().store(tail.wrapping_add(n as u32), Ordering::SeqCst);
    out
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

impl Guest {
    /// Accepts on `listener` (waiting), the new socket getting the ring at `at`.
    fn accept_ringed(&self, listener: u32, at: Place) -> u32 {
        let c = self.until_ready(NetOp::Accept, listener, |c| {
            c.arg[2] = at.0;
            c.arg[3] = at.1;
        });
        assert!(c.result > 0, "accept: {}", c.result);
        c.result as u32
    }

    /// A listener on guest port `port` and a client connected to it: (listener, client).
    fn listener_and_client(&self, port: u16) -> (u32, u32) {
        let server = self.tcp();
        assert_eq!(self.bind(server, &format!("127.0.0.1:{port}")), 0);
        assert_eq!(self.listen(server), 0);
        let client = self.tcp();
        let r = self.connect(client, &format!("127.0.0.1:{port}"));
        assert!(r == 0 || r == -(libc::EINPROGRESS as i64), "connect: {r}");
        (server, client)
    }

    /// Sends all of `bytes` from `h` (in pieces of at most 64 KiB).
    fn send_all(&self, h: u32, bytes: &[u8]) {
        for piece in bytes.chunks(64 * 1024) {
            assert_eq!(self.send(h, piece, None), piece.len() as i64);
        }
    }

    fn refill(&self, h: u32, chunk: u64) -> i64 {
        self.memory.write_plain(CHUNKS, &MemoryChunk { gpa: BUF, len: chunk }).unwrap();
        self.call(NetOp::Refill, h, |c| {
            if chunk > 0 {
                c.chunks_gpa = CHUNKS;
                c.chunk_count = 1;
            }
        })
        .result
    }
}

/// A guest with port 80 published on a free host port: the guest and the host port.
fn published_guest() -> (Guest, u16) {
    let host_port = free_host_port();
    let mapping = PortMapping { host_ip: "127.0.0.1".parse().unwrap(), host_port, guest_port: 80, proto: Proto::Tcp };
    (guest_with(NetworkConfig { ports: vec![mapping], egress: EgressPolicy::default() }), host_port)
}

#[test]
fn data_arriving_from_outside_lands_in_the_ring_with_no_recv() {
    let (g, host_port) = published_guest();
    let server = g.tcp();
    assert_eq!(g.bind(server, "0.0.0.0:80"), 0);
    assert_eq!(g.listen(server), 0);
    let mut outside = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    // Sent before the accept: the ring is filled when it is registered.
    outside.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let conn = g.accept_ringed(server, RING);
    assert_eq!(take(&g, RING, 100), b"GET / HTTP/1.1\r\n");
    g.memory.atomic_u64(super::AREA + 8).unwrap().store(1 << 2, Ordering::SeqCst);
    let woken = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| g.net.run_poller(&g.memory, &|i| woken.lock().unwrap().push(i)));
        let input = g.slot(conn)[1];
        outside.write_all(b"Host: x\r\n\r\n").unwrap();
        wait_until("the poller's fill", || header(&g, RING)[0] == 16 + 11);
        wait_until("the wake-up", || woken.lock().unwrap().contains(&2));
        assert!(g.slot(conn)[1] > input, "the input count moved");
        g.net.stop_poller();
    });
    assert_eq!(take(&g, RING, 100), b"Host: x\r\n\r\n");
    assert_eq!(header(&g, RING)[2], 0, "no flags");
    // The ring holds the stream: no reading around it.
    assert_eq!(g.call(NetOp::Recv, conn, |_| {}).result, -(libc::EINVAL as i64));
}

#[test]
fn the_ring_wraps_and_keeps_the_order() {
    let g = guest();
    let (server, client) = g.listener_and_client(9100);
    let conn = g.accept_ringed(server, RING);
    let mut received = Vec::new();
    let sent = pattern(5 * SIZE as usize / 2, 7);
    for piece in sent.chunks(6000) {
        // A send to a VM socket fills its ring before the call returns.
        g.send_all(client, piece);
        received.extend(take(&g, RING, usize::MAX));
    }
    assert_eq!(received.len(), sent.len());
    assert!(received == sent, "the bytes came out in order");
    let pieces = sent.len().div_ceil(6000) as u32;
    assert_eq!(g.slot(conn)[1], pieces, "each fill counted as input");
}

#[test]
fn a_full_ring_stalls_until_a_refill() {
    let g = guest();
    let (server, client) = g.listener_and_client(9101);
    let conn = g.accept_ringed(server, RING);
    let sent = pattern(3 * SIZE as usize + 1000, 3);
    g.send_all(client, &sent);
    let [head, tail, flags, _] = header(&g, RING);
    assert_eq!((head.wrapping_sub(tail), flags), (SIZE, NET_RX_STALLED));
    let mut received = take(&g, RING, 100);
    // Room made: a refill reads on (the ring is not empty, so no bytes come directly).
    assert_eq!(g.refill(conn, 4096), 0);
    assert_eq!(header(&g, RING)[2], NET_RX_STALLED, "full again");
    received.extend(take(&g, RING, usize::MAX));
    // Empty: the socket's next bytes go into the chunk first, then the ring fills.
    let direct = g.refill(conn, 4096);
    assert_eq!(direct, 4096);
    let mut chunk = vec![0u8; 4096];
    g.memory.read_ram(BUF, &mut chunk).unwrap();
    received.extend(chunk);
    while received.len() < sent.len() {
        let more = take(&g, RING, usize::MAX);
        assert!(!more.is_empty() || header(&g, RING)[2] & NET_RX_STALLED != 0);
        received.extend(more);
        g.refill(conn, 0);
    }
    assert!(received == sent, "in order through ring, chunk and ring");
    assert_eq!(header(&g, RING)[2], 0);
}

#[test]
fn the_end_and_a_reset_are_flags_after_the_data() {
    let g = guest();
    let (server, client) = g.listener_and_client(9102);
    let conn = g.accept_ringed(server, RING);
    g.send_all(client, b"last words");
    assert_eq!(g.call(NetOp::Close, client, |_| {}).result, 0);
    assert_eq!(header(&g, RING)[2], NET_RX_EOF, "the end shows when the peer's close returns");
    assert_eq!(take(&g, RING, 100), b"last words");
    assert_eq!(g.call(NetOp::Close, conn, |_| {}).result, 0);

    // A peer that closes with SO_LINGER 0 resets the connection.
    let client = g.tcp();
    let r = g.connect(client, "127.0.0.1:9102");
    assert!(r == 0 || r == -(libc::EINPROGRESS as i64), "connect: {r}");
    let conn = g.accept_ringed(server, OTHER);
    let linger = g.call(NetOp::SetOpt, client, |c| {
        c.arg[0] = libc::SOL_SOCKET as u64;
        c.arg[1] = libc::SO_LINGER as u64;
        c.addr[..8].copy_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        c.addr_len = 8;
    });
    assert_eq!(linger.result, 0);
    g.send_all(client, b"then");
    assert_eq!(g.call(NetOp::Close, client, |_| {}).result, 0);
    let [_, _, flags, error] = header(&g, OTHER);
    assert_eq!((flags, error), (NET_RX_ERROR, libc::ECONNRESET as u32));
    let _ = conn;
}

#[test]
fn shutting_down_reading_ends_the_ring_at_once() {
    let g = guest();
    let (server, _client) = g.listener_and_client(9103);
    let conn = g.accept_ringed(server, RING);
    assert_eq!(g.call(NetOp::Shutdown, conn, |c| c.arg[0] = 0).result, 0);
    assert_eq!(header(&g, RING)[2], NET_RX_EOF);
}

#[test]
fn a_closed_handles_ring_is_never_written_again_even_when_the_handle_comes_back() {
    let (g, host_port) = published_guest();
    let server = g.tcp();
    assert_eq!(g.bind(server, "0.0.0.0:80"), 0);
    assert_eq!(g.listen(server), 0);
    let outside = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    let conn = g.accept_ringed(server, RING);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| g.net.run_poller(&g.memory, &|_| {}));
        // Data in flight all along: the poller fills while the guest takes.
        s.spawn(|| {
            let mut outside = &outside;
            while !stop.load(Ordering::SeqCst) {
                if outside.write_all(&[0xab; 1000]).is_err() {
                    break;
                }
            }
        });
        wait_until("data", || header(&g, RING)[0] > 3000);
        take(&g, RING, usize::MAX);
        assert_eq!(g.call(NetOp::Close, conn, |_| {}).result, 0);
        // What the ring looks like when Close returned must stay as it is.
        let mut before = vec![0u8; SIZE as usize];
        g.memory.read_ram(RING.1, &mut before).unwrap();
        let header_before = header(&g, RING);
        // The handle comes back for another connection, with a ring elsewhere.
        let second = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
        let again = g.accept_ringed(server, OTHER);
        assert_eq!(again, conn, "the lowest free handle is the closed one's");
        (&second).write_all(b"second").unwrap();
        wait_until("the second connection's data", || header(&g, OTHER)[0] == 6);
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::SeqCst);
        let mut after = vec![0u8; SIZE as usize];
        g.memory.read_ram(RING.1, &mut after).unwrap();
        assert!(before == after, "nothing written into the forgotten ring");
        assert_eq!(header(&g, RING), header_before);
        assert_eq!(take(&g, OTHER, 100), b"second", "only the new socket's bytes");
        g.net.stop_poller();
    });
}

#[test]
fn rings_a_guest_gets_wrong_are_refused_or_only_stop() {
    let g = guest();
    let (server, client) = g.listener_and_client(9104);
    let einval = -(libc::EINVAL as i64);
    for (header_gpa, data) in [(0x30_0004, 0x31_0000), (0x30_0000, 0x31_0800), (0x30_0000, (32 << 20) - 4096)] {
        let c = g.call(NetOp::Accept, server, |c| c.arg[2..4].copy_from_slice(&[header_gpa, data]));
        assert_eq!(c.result, einval, "{header_gpa:#x} {data:#x}");
    }
    // Refused before anything was accepted: the connection is still there (without a ring).
    let (conn, _) = g.accept(server);
    assert!(conn > 0, "accept: {conn}");
    let conn = conn as u32;
    let ring = |h: u32, at: Place| {
        g.call(NetOp::RxRing, h, |c| {
            c.arg[2] = at.0;
            c.arg[3] = at.1;
        })
        .result
    };
    assert_eq!(ring(server, RING), -(libc::ENOTCONN as i64), "a listener");
    let udp = g.socket(2, 2);
    assert_eq!(ring(udp, RING), einval, "a datagram socket");
    assert_eq!(ring(client, RING), 0, "a connected client");
    assert_eq!(ring(client, OTHER), einval, "only one");
    assert_eq!(g.call(NetOp::Refill, udp, |_| {}).result, einval, "no ring to refill");

    // A tail claiming more than the ring holds: the ring stops, nothing else happens.
    g.memory.atomic_u32(RING.0 + 4).unwrap().store(0x8000_0000, Ordering::SeqCst);
    g.send_all(conn, &pattern(5000, 1));
    assert_eq!(header(&g, RING)[0], 0, "nothing written");
    assert_eq!(g.refill(client, 4096), 0);
    // The guest puts it right: the ring reads on.
    g.memory.atomic_u32(RING.0 + 4).unwrap().store(0, Ordering::SeqCst);
    assert_eq!(g.refill(client, 0), 0);
    assert_eq!(take(&g, RING, usize::MAX), pattern(5000, 1));
}

// ---------------------------------------------------------------- transmit rings

/// Where a test puts a transmit ring.
const TX: Place = Place(0x50_0010, 0x51_0000);
const TX_SIZE: u32 = NET_TX_RING_SIZE;

/// Puts as much of `bytes` as fits into the transmit ring at `at`, as the guest does: the
/// bytes, then `head`, then the area's `tx_pending`. How many.
fn push(g: &Guest, at: Place, bytes: &[u8]) -> usize {
    let [head, tail, ..] = header(g, at);
    let room = TX_SIZE - head.wrapping_sub(tail);
    let n = (room as usize).min(bytes.len());
    for (i, &b) in bytes[..n].iter().enumerate() {
        let offset = head.wrapping_add(i as u32) & (TX_SIZE - 1);
        g.memory.write_ram(at.1 + u64::from(offset), &[b]).unwrap();
    }
    g.memory.atomic_u32(at.0).unwrap().store(head.wrapping_add(n as u32), Ordering::Release);
    g.memory.atomic_u32(super::AREA + 4).unwrap().store(1, Ordering::SeqCst);
    n
}

impl Guest {
    /// Accepts on `listener` (waiting), the new socket getting the receive ring at `rx` and
    /// the transmit ring at `tx`.
    fn accept_with_tx(&self, listener: u32, rx: Place, tx: Place) -> u32 {
        let c = self.until_ready(NetOp::Accept, listener, |c| c.arg = [tx.0, tx.1, rx.0, rx.1]);
        assert!(c.result > 0, "accept: {}", c.result);
        c.result as u32
    }

    fn flush(&self) -> i64 {
        self.call(NetOp::Flush, 0, |_| {}).result
    }

    fn tx_pending(&self) -> bool {
        self.net.area.get().unwrap().tx_pending(&self.memory)
    }
}

/// A published guest with a connection from outside, accepted with both rings.
fn outside_connection() -> (Guest, TcpStream, u32) {
    let (g, host_port) = published_guest();
    let server = g.tcp();
    assert_eq!(g.bind(server, "0.0.0.0:80"), 0);
    assert_eq!(g.listen(server), 0);
    let outside = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
    outside.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let conn = g.accept_with_tx(server, RING, TX);
    (g, outside, conn)
}

fn read_exactly(mut from: &TcpStream, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    std::io::Read::read_exact(&mut from, &mut out).unwrap();
    out
}

#[test]
fn bytes_in_a_transmit_ring_go_out_on_a_flush() {
    let (g, outside, conn) = outside_connection();
    assert_eq!(header(&g, TX), [0; 4], "a fresh ring");
    assert_eq!(push(&g, TX, b"HTTP/1.1 200 OK\r\n\r\n"), 19);
    assert!(g.tx_pending());
    assert_eq!(g.flush(), 0);
    assert!(!g.tx_pending(), "the flush clears tx_pending");
    assert_eq!(header(&g, TX)[1], 19, "tail: all written");
    assert_eq!(read_exactly(&outside, 19), b"HTTP/1.1 200 OK\r\n\r\n");
    // A direct Send comes after the ring's bytes.
    push(&g, TX, b"first ");
    assert_eq!(g.send(conn, b"second", None), 6);
    assert_eq!(read_exactly(&outside, 12), b"first second");
}

#[test]
fn a_transmit_ring_wraps_and_keeps_the_order() {
    let (g, outside, _conn) = outside_connection();
    let sent = pattern(5 * TX_SIZE as usize / 2, 11);
    let reader = std::thread::spawn(move || read_exactly(&outside, 5 * TX_SIZE as usize / 2));
    for piece in sent.chunks(7000) {
        assert_eq!(push(&g, TX, piece), piece.len());
        assert_eq!(g.flush(), 0);
        wait_until("the ring written out", || {
            let [head, tail, ..] = header(&g, TX);
            head == tail || g.flush() != 0
        });
    }
    assert!(reader.join().unwrap() == sent, "the bytes came out in order");
}

/// Nobody reads the outside end: fills the host socket, then the transmit ring behind it.
/// Returns every byte pushed, in order.
fn fill_socket_then_ring(g: &Guest) -> Vec<u8> {
    let mut sent = Vec::new();
    let mut seed = 0u8;
    loop {
        let piece = pattern(4096, seed);
        seed = seed.wrapping_add(1);
        let n = push(g, TX, &piece);
        sent.extend_from_slice(&piece[..n]);
        g.flush();
        let [head, tail, ..] = header(g, TX);
        if head.wrapping_sub(tail) == TX_SIZE {
            return sent;
        }
        assert!(sent.len() < 64 << 20, "the host socket never filled");
    }
}

#[test]
fn shut_rd_with_bytes_in_the_ring_leaves_the_writing_half_open() {
    let (g, outside, conn) = outside_connection();
    let sent = fill_socket_then_ring(&g);
    // A write half shut by mistake would leave the last read waiting: fail instead.
    outside.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    assert_eq!(g.call(NetOp::Shutdown, conn, |c| c.arg[0] = 0).result, 0, "SHUT_RD");
    let outcome = std::thread::scope(|s| {
        s.spawn(|| g.net.run_poller(&g.memory, &|_| {}));
        // The poller stops whatever the checks find (a failed one must not leave it running).
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let early = read_exactly(&outside, sent.len());
            assert!(early == sent, "the ring's bytes arrived");
            // The writing half is still open: more bytes go out, and no end of stream came.
            // (The reader can have the ring's last bytes a moment before the VMM publishes the
            // ring's new tail: room may show a little later.)
            let more = b"and more after SHUT_RD";
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let mut pushed = push(&g, TX, more);
            while pushed < more.len() {
                assert!(std::time::Instant::now() < deadline, "the ring never had room again");
                std::thread::sleep(std::time::Duration::from_millis(1));
                pushed += push(&g, TX, &more[pushed..]);
            }
            g.flush();
            assert_eq!(read_exactly(&outside, more.len()), more);
        }));
        g.net.stop_poller();
        outcome
    });
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure);
    }
}

#[test]
fn a_full_host_socket_keeps_the_ring_pending_until_the_poller_sees_room() {
    let (g, outside, conn) = outside_connection();
    let sent = fill_socket_then_ring(&g);
    assert_eq!(header(&g, TX)[2], 0, "no error: only full");
    g.memory.atomic_u64(super::AREA + 8).unwrap().store(1 << 3, Ordering::SeqCst);
    let woken = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        s.spawn(|| g.net.run_poller(&g.memory, &|i| woken.lock().unwrap().push(i)));
        let output = g.slot(conn)[2];
        let total = sent.len();
        let reader = s.spawn(move || read_exactly(&outside, total));
        wait_until("the ring written out by the poller", || {
            let [head, tail, ..] = header(&g, TX);
            head == tail
        });
        assert!(reader.join().unwrap() == sent, "everything arrived in order");
        assert!(g.slot(conn)[2] > output, "room in the ring counted as output");
        wait_until("the wake-up", || woken.lock().unwrap().contains(&3));
        g.net.stop_poller();
    });
}

#[test]
fn a_peer_gone_is_an_error_in_the_transmit_ring() {
    let (g, outside, _conn) = outside_connection();
    drop(outside);
    wait_until("the error", || {
        push(&g, TX, b"anyone there?");
        g.flush();
        header(&g, TX)[2] == NET_TX_ERROR
    });
    let error = header(&g, TX)[3];
    assert!(error == libc::EPIPE as u32 || error == libc::ECONNRESET as u32, "errno {error}");
    // The ring takes nothing more and the flush does not fail.
    assert_eq!(g.flush(), 0);
}

#[test]
fn a_close_with_bytes_in_the_ring_still_delivers_all_of_them() {
    let (g, outside, conn) = outside_connection();
    let sent = fill_socket_then_ring(&g);
    assert_eq!(g.call(NetOp::Close, conn, |_| {}).result, 0);
    // The guest may reuse the ring now: scribbling over it changes nothing.
    g.memory.write_ram(TX.1, &vec![0xee; TX_SIZE as usize]).unwrap();
    g.memory.atomic_u32(TX.0).unwrap().store(12345, Ordering::SeqCst);
    std::thread::scope(|s| {
        s.spawn(|| g.net.run_poller(&g.memory, &|_| {}));
        let mut received = Vec::new();
        let mut from = &outside;
        std::io::Read::read_to_end(&mut from, &mut received).unwrap();
        assert_eq!(received.len(), sent.len());
        assert!(received == sent, "every byte, then the end");
        g.net.stop_poller();
    });
}

#[test]
fn a_transmit_ring_a_guest_gets_wrong_only_stops() {
    let (g, outside, conn) = outside_connection();
    // A head more than a ring ahead of the tail.
    g.memory.atomic_u32(TX.0).unwrap().store(TX_SIZE + 1, Ordering::SeqCst);
    assert_eq!(g.flush(), 0);
    let [_, tail, flags, error] = header(&g, TX);
    assert_eq!((tail, flags, error), (0, NET_TX_ERROR, libc::EINVAL as u32));
    // The socket itself still works.
    assert_eq!(g.send(conn, b"ok", None), 2);
    assert_eq!(read_exactly(&outside, 2), b"ok");
    // Wrong places are refused before anything is accepted.
    let server = g.tcp();
    assert_eq!(g.bind(server, "127.0.0.1:9105"), 0);
    assert_eq!(g.listen(server), 0);
    let c = g.call(NetOp::Accept, server, |c| c.arg = [0x50_0004, TX.1, RING.0, RING.1]);
    assert_eq!(c.result, -(libc::EINVAL as i64));
}

#[test]
fn when_the_vm_stops_the_rings_bytes_still_go_out_while_the_peer_reads() {
    let (g, outside, _conn) = outside_connection();
    let mut sent = Vec::new();
    let mut seed = 0u8;
    loop {
        let piece = pattern(4096, seed);
        seed = seed.wrapping_add(5);
        let n = push(&g, TX, &piece);
        sent.extend_from_slice(&piece[..n]);
        g.flush();
        let [head, tail, ..] = header(&g, TX);
        if head.wrapping_sub(tail) == TX_SIZE {
            break;
        }
    }
    let total = sent.len();
    let reader = std::thread::spawn(move || read_exactly(&outside, total));
    // The poller stops at once: it writes out the ring before it returns.
    g.net.stop_poller();
    g.net.run_poller(&g.memory, &|_| {});
    let [head, tail, ..] = header(&g, TX);
    assert_eq!(head, tail, "written out");
    assert!(reader.join().unwrap() == sent);
}
