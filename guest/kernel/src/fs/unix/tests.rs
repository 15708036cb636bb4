//! Host tests of `fs::unix`: stream and datagram semantics, listen/accept, shutdown, peer
//! close, fds in flight, addresses, readiness.

use super::*;

const ME: Cred = Cred { pid: 1, uid: 0, gid: 0 };

fn pair(kind: SockType) -> (Arc<UnixSocket>, Arc<UnixSocket>) {
    UnixSocket::pair(kind, (1, 2), ME, Timespec::default())
}

fn send(from: &Arc<UnixSocket>, data: &[u8]) -> Result<usize, Errno> {
    from.send(None, data, Vec::new(), ME)
}

fn recv(on: &UnixSocket, max: usize) -> Result<Vec<u8>, Errno> {
    on.recv(max, false).map(|r| r.data)
}

#[test]
fn stream_pairs_carry_bytes_then_eof() {
    let (a, b) = pair(SockType::Stream);
    assert_eq!(send(&a, b"hello "), Ok(6));
    assert_eq!(send(&a, b"world"), Ok(5));
    assert_eq!(b.available(), 11);
    assert_eq!(b.recv(4, true).unwrap().data, b"hell", "peek leaves the data");
    assert_eq!(recv(&b, 4).unwrap(), b"hell");
    assert_eq!(recv(&b, 64).unwrap(), b"o world", "a stream read crosses chunks");
    assert_eq!(recv(&b, 64).err(), Some(MUST_WAIT));
    assert_eq!(b.poll() & POLLIN, 0);
    send(&a, b"x").unwrap();
    assert_eq!(b.poll() & (POLLIN | POLLOUT), POLLIN | POLLOUT);
    a.close();
    assert_eq!(recv(&b, 64).unwrap(), b"x", "data still comes after the peer closed");
    assert_eq!(recv(&b, 64).unwrap(), b"", "then end of file");
    assert_eq!(send(&b, b"y"), Err(Errno::EPIPE));
    assert_eq!(b.poll() & (POLLHUP | POLLRDHUP | POLLIN), POLLHUP | POLLRDHUP | POLLIN);
    assert_eq!(b.peer_addr(), Ok(UnixAddr::Unnamed), "the peer's name outlives it");
}

#[test]
fn stream_buffers_are_bounded() {
    let (a, b) = pair(SockType::Stream);
    let big = alloc::vec![7u8; DEFAULT_BUF + 100];
    assert_eq!(send(&a, &big), Ok(DEFAULT_BUF), "a send takes what fits");
    assert_eq!(send(&a, b"x"), Err(MUST_WAIT));
    assert_eq!(a.poll() & POLLOUT, 0);
    let before = a.changes();
    assert_eq!(recv(&b, 1000).unwrap().len(), 1000);
    assert_ne!(a.changes().output, before.output, "a read wakes the writer");
    assert_eq!(send(&a, &big), Ok(1000));
}

#[test]
fn closing_with_unread_data_resets_the_peer() {
    let (a, b) = pair(SockType::Stream);
    send(&b, b"unread").unwrap();
    a.close();
    assert_eq!(b.poll() & POLLERR, POLLERR);
    assert_eq!(recv(&b, 8).err(), Some(Errno::ECONNRESET));
    assert_eq!(recv(&b, 8).unwrap(), b"", "the error is reported once");
}

#[test]
fn shutdown_ends_one_direction() {
    let (a, b) = pair(SockType::Stream);
    assert_eq!(a.shutdown(3), Err(Errno::EINVAL));
    a.shutdown(1).unwrap();
    assert_eq!(send(&a, b"x"), Err(Errno::EPIPE));
    assert_eq!(recv(&b, 8).unwrap(), b"", "the peer reads end of file");
    assert_eq!(b.poll() & (POLLRDHUP | POLLHUP), POLLRDHUP);
    assert_eq!(send(&b, b"back"), Ok(4), "the other direction still works");
    assert_eq!(recv(&a, 8).unwrap(), b"back");
    b.shutdown(0).unwrap();
    assert_eq!(b.poll() & POLLHUP, 0, "RD alone is no hang-up");
    assert_eq!(send(&a, b"x"), Err(Errno::EPIPE));
}

#[test]
fn datagrams_keep_boundaries_and_truncate() {
    let (a, b) = pair(SockType::Dgram);
    send(&a, b"first").unwrap();
    send(&a, b"").unwrap();
    send(&a, b"third message").unwrap();
    assert_eq!(b.available(), 5);
    let r = b.recv(3, false).unwrap();
    assert_eq!((r.data.as_slice(), r.full_len), (&b"fir"[..], 5), "the rest of a short read is gone");
    let r = b.recv(64, false).unwrap();
    assert_eq!((r.data.len(), r.from), (0, Some(UnixAddr::Unnamed)), "an empty datagram");
    assert_eq!(recv(&b, 64).unwrap(), b"third message");
    assert_eq!(recv(&b, 64).err(), Some(MUST_WAIT));
    let huge = alloc::vec![0u8; DEFAULT_BUF];
    assert_eq!(send(&a, &huge), Err(Errno::EMSGSIZE));
    b.close();
    assert_eq!(send(&a, b"x"), Err(Errno::ECONNREFUSED));
    assert_eq!(send(&a, b"x"), Err(Errno::ENOTCONN), "the dead peer is forgotten");
}

#[test]
fn seqpacket_keeps_boundaries_and_eof() {
    let (a, b) = pair(SockType::SeqPacket);
    send(&a, b"one").unwrap();
    send(&a, b"two").unwrap();
    assert_eq!(recv(&b, 64).unwrap(), b"one");
    a.close();
    assert_eq!(recv(&b, 64).unwrap(), b"two");
    assert_eq!(b.recv(64, false).unwrap().from, None, "end of file");
    let lone = UnixSocket::new(SockType::SeqPacket, 3, ME, Timespec::default());
    assert_eq!(recv(&lone, 8).err(), Some(Errno::ENOTCONN));
    assert_eq!(send(&lone, b"x"), Err(Errno::ENOTCONN));
}

#[test]
fn listen_connect_accept() {
    let listener = UnixSocket::new(SockType::Stream, 10, ME, Timespec::default());
    assert_eq!(listener.listen(1), Err(Errno::EINVAL), "unbound");
    listener.bind(UnixAddr::Path(b"/tmp/s".to_vec())).unwrap();
    assert_eq!(listener.bind(UnixAddr::Path(b"/tmp/t".to_vec())), Err(Errno::EINVAL));
    listener.listen(0).unwrap();
    assert!(listener.is_listening());
    assert_eq!(listener.accept().err(), Some(MUST_WAIT));
    assert_eq!(listener.poll() & (POLLIN | POLLOUT), 0);
    let c1 = UnixSocket::new(SockType::Stream, 11, ME, Timespec::default());
    let c2 = UnixSocket::new(SockType::Stream, 12, ME, Timespec::default());
    let c3 = UnixSocket::new(SockType::Stream, 13, ME, Timespec::default());
    assert_eq!(c1.poll() & POLLHUP, POLLHUP, "an unconnected stream socket is hung up");
    c1.connect(&listener, 21, ME).unwrap();
    assert_eq!(c1.connect(&listener, 22, ME), Err(Errno::EISCONN));
    assert_eq!(c2.connect(&listener, 22, ME), Err(MUST_WAIT), "backlog 0 admits one");
    listener.listen(5).unwrap();
    c2.connect(&listener, 22, ME).unwrap();
    assert_eq!(listener.poll() & POLLIN, POLLIN);
    send(&c1, b"early").unwrap();
    let s1 = listener.accept().unwrap();
    assert_eq!(s1.ino(), 21);
    assert_eq!(recv(&s1, 8).unwrap(), b"early", "data sent before accept waits");
    assert_eq!(s1.local_addr(), UnixAddr::Path(b"/tmp/s".to_vec()));
    assert_eq!(c1.peer_addr(), Ok(UnixAddr::Path(b"/tmp/s".to_vec())));
    assert_eq!(s1.peer_addr(), Ok(UnixAddr::Unnamed));
    assert_eq!(s1.peer_cred(), ME);
    assert_eq!(c3.peer_cred(), Cred::NONE);
    let dgram = UnixSocket::new(SockType::Dgram, 14, ME, Timespec::default());
    assert_eq!(dgram.listen(1), Err(Errno::EOPNOTSUPP));
    let seq = UnixSocket::new(SockType::SeqPacket, 15, ME, Timespec::default());
    assert_eq!(seq.connect(&listener, 23, ME), Err(Errno::EPROTOTYPE));
    assert_eq!(recv(&listener, 8).err(), Some(Errno::EINVAL));
    listener.close();
    assert_eq!(recv(&c2, 8).err(), Some(Errno::ECONNRESET), "a pending connection is reset");
    assert_eq!(c3.connect(&listener, 24, ME), Err(Errno::ECONNREFUSED));
}

#[test]
fn dgram_connect_and_sendto() {
    let a = UnixSocket::new(SockType::Dgram, 1, ME, Timespec::default());
    let b = UnixSocket::new(SockType::Dgram, 2, ME, Timespec::default());
    let c = UnixSocket::new(SockType::Dgram, 3, ME, Timespec::default());
    b.bind(UnixAddr::Abstract(b"b".to_vec())).unwrap();
    a.bind(UnixAddr::Path(b"/tmp/a".to_vec())).unwrap();
    assert_eq!(send(&a, b"x"), Err(Errno::ENOTCONN));
    assert_eq!(a.send(Some(&b), b"to b", Vec::new(), ME), Ok(4));
    let r = b.recv(16, false).unwrap();
    assert_eq!(r.from, Some(UnixAddr::Path(b"/tmp/a".to_vec())));
    b.connect_dgram(Some(&a)).unwrap();
    assert_eq!(c.send(Some(&b), b"x", Vec::new(), ME), Err(Errno::EPERM), "b only hears a");
    assert_eq!(c.connect_dgram(Some(&b)), Err(Errno::EPERM));
    b.connect_dgram(None).unwrap();
    assert_eq!(c.send(Some(&b), b"x", Vec::new(), ME), Ok(1));
    let stream = UnixSocket::new(SockType::Stream, 4, ME, Timespec::default());
    assert_eq!(a.connect_dgram(Some(&stream)), Err(Errno::EPROTOTYPE));
}

#[test]
fn fds_travel_with_the_data() {
    use crate::fs::node::{Location, Node};
    let (a, b) = pair(SockType::Stream);
    let (x, y) = pair(SockType::Stream);
    let passed =
        Arc::new(OpenFile::new(Location::new(7, Node::Socket(x.clone()), b"socket:[1]".to_vec()), 2, Vec::new()));
    assert_eq!(a.send(None, b"1", Vec::new(), ME), Ok(1));
    assert_eq!(a.send(None, b"2", alloc::vec![passed.clone(), passed.clone()], ME), Ok(1));
    assert_eq!(a.send(None, b"3", Vec::new(), ME), Ok(1));
    drop(passed);
    assert!(!x.is_closed(), "a file in flight stays open");
    let peeked = b.recv(8, true).unwrap();
    assert!(peeked.fds.is_empty(), "a peek passes no fds");
    let r = b.recv(8, false).unwrap();
    assert_eq!((r.data.as_slice(), r.fds.len()), (&b"12"[..], 2), "a read stops after the chunk with fds");
    assert_eq!(recv(&b, 8).unwrap(), b"3");
    drop(r);
    assert!(x.is_closed(), "the last reference closed it");
    assert_eq!(recv(&y, 8).unwrap(), b"");
    // Fds queued on a socket that closes are dropped with the queue.
    let (c, d) = pair(SockType::Dgram);
    let (u, _v) = pair(SockType::Stream);
    let file = Arc::new(OpenFile::new(Location::new(7, Node::Socket(u.clone()), b"s".to_vec()), 2, Vec::new()));
    c.send(None, b"m", alloc::vec![file], ME).unwrap();
    assert!(!u.is_closed());
    d.close();
    assert!(u.is_closed());
}

#[test]
fn addresses_parse_and_encode_like_linux() {
    let mut raw = AF_UNIX.to_le_bytes().to_vec();
    assert_eq!(UnixAddr::parse(&raw), Ok(UnixAddr::Unnamed));
    raw.extend_from_slice(b"/tmp/s\0garbage");
    assert_eq!(UnixAddr::parse(&raw), Ok(UnixAddr::Path(b"/tmp/s".to_vec())));
    assert_eq!(UnixAddr::Path(b"/tmp/s".to_vec()).to_bytes().len(), 2 + 6 + 1);
    let abs = [1, 0, 0, b'a', 0, b'b'];
    assert_eq!(UnixAddr::parse(&abs), Ok(UnixAddr::Abstract(b"a\0b".to_vec())), "abstract names are exact");
    assert_eq!(UnixAddr::Abstract(b"a\0b".to_vec()).to_bytes(), abs);
    assert_eq!(UnixAddr::Unnamed.to_bytes().len(), 2);
    assert_eq!(UnixAddr::parse(&[1]), Err(Errno::EINVAL));
    assert_eq!(UnixAddr::parse(&[2, 0, b'x']), Err(Errno::EINVAL), "another family");
    assert_eq!(UnixAddr::parse(&[1u8; 111]), Err(Errno::EINVAL));
    assert_eq!(Cred { pid: 1, uid: 2, gid: 3 }.to_bytes(), [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
    assert_eq!(SockType::from_raw(3), Err(Errno::ESOCKTNOSUPPORT));
    assert_eq!(SockType::from_raw(9), Err(Errno::EINVAL));
}

#[test]
fn names_are_unique_while_their_socket_lives() {
    let mut names = UnixNames::default();
    let a = UnixSocket::new(SockType::Stream, names.next_ino(), ME, Timespec::default());
    let b = UnixSocket::new(SockType::Stream, names.next_ino(), ME, Timespec::default());
    assert_ne!(a.ino(), b.ino());
    names.bind_abstract(b"n", &a).unwrap();
    assert_eq!(names.bind_abstract(b"n", &b), Err(Errno::EADDRINUSE));
    assert!(names.find_abstract(b"n").is_some_and(|s| Arc::ptr_eq(&s, &a)));
    a.close();
    assert!(names.find_abstract(b"n").is_none(), "a closed socket's name is free");
    names.bind_abstract(b"n", &b).unwrap();
    let c = UnixSocket::new(SockType::Dgram, 9, ME, Timespec::default());
    names.autobind(&c).unwrap();
    assert_eq!(c.local_addr(), UnixAddr::Abstract(b"00000".to_vec()));
    names.bind_path((1, 5), &c);
    assert!(names.find_path((1, 5)).is_some());
    assert!(names.find_path((1, 6)).is_none());
    assert_eq!(c.stat().mode, 0o140777);
}
