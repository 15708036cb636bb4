//! Host tests of `fs::netlink`: port ids, the receive queue and its overrun, readiness.

use super::*;

fn socket() -> Arc<NetlinkSocket> {
    NetlinkSocket::new(3, 1, (0, 0), Timespec::default())
}

#[test]
fn automatic_ports_take_the_process_id_then_count_down_from_minus_4096() {
    let mut ports = NetlinkPorts::default();
    let (a, b, c) = (socket(), socket(), socket());
    assert_eq!(ports.autobind(&a, 42), Ok(42));
    assert_eq!(ports.autobind(&a, 42), Ok(42), "a bound socket keeps its port");
    assert_eq!(ports.autobind(&b, 42), Ok(-4096i32 as u32));
    assert_eq!(ports.autobind(&c, 42), Ok(-4097i32 as u32));
    assert_eq!(ports.bind(&socket(), 42), Err(Errno::EADDRINUSE));
    drop(a);
    let d = socket();
    assert_eq!(ports.bind(&d, 42), Ok(()), "a closed socket's port is free again");
    assert_eq!(d.local(), (42, 0));
}

#[test]
fn the_queue_gives_one_datagram_per_receive_and_reports_an_overrun_once() {
    let s = socket();
    assert_eq!(s.recv(false), Err(Errno::EAGAIN));
    assert_eq!(s.poll() & POLLIN, 0);
    s.deliver(vec![1, 2]);
    s.deliver(vec![3]);
    assert_ne!(s.poll() & POLLIN, 0);
    assert_eq!(s.recv(true), Ok(vec![1, 2]), "a peek leaves it");
    assert_eq!(s.recv(false), Ok(vec![1, 2]));
    assert_eq!(s.recv(false), Ok(vec![3]));
    s.set_options(|o| o.rcvbuf = 10);
    s.deliver(vec![0; 8]);
    s.deliver(vec![0; 8]);
    assert_ne!(s.poll() & POLLERR, 0);
    assert_eq!(s.recv(false), Err(Errno::ENOBUFS));
    assert_eq!(s.recv(false), Ok(vec![0; 8]), "the first still queued");
    s.set_flag(NETLINK_NO_ENOBUFS, true);
    s.deliver(vec![0; 8]);
    s.deliver(vec![0; 8]);
    assert_eq!(s.recv(false), Ok(vec![0; 8]));
    assert_eq!(s.recv(false), Err(Errno::EAGAIN), "dropped silently");
}

#[test]
fn groups_are_joined_and_left_by_number() {
    let s = socket();
    s.set_group(1, true);
    s.set_group(5, true);
    s.set_group(40, true);
    assert_eq!(s.local().1, 0b1_0001);
    s.set_group(1, false);
    assert_eq!(s.local().1, 0b1_0000);
}
