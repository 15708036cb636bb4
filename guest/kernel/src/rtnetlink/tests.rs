//! Host tests of `rtnetlink`: dumps, single links, errors and acknowledgements, several
//! requests in one datagram, malformed lengths, dump packing.

use super::*;

const PORT: u32 = 77;

fn sender(cap_ack: bool) -> Sender {
    Sender { port: PORT, uid: 1000, cap_ack }
}

/// A request: header and payload.
fn request(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// A message of an answer: (type, flags, seq, port, payload).
type Parsed = (u16, u16, u32, u32, Vec<u8>);

/// The messages of a datagram.
fn messages(datagram: &[u8]) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < datagram.len() {
        let word = |i: usize| u32::from_le_bytes(datagram[at + i..at + i + 4].try_into().unwrap());
        let len = word(0) as usize;
        assert!(len >= NLMSG_HDRLEN && at + len <= datagram.len(), "bad length {len} at {at}");
        let kind = word(4) as u16;
        let flags = (word(4) >> 16) as u16;
        out.push((kind, flags, word(8), word(12), datagram[at + NLMSG_HDRLEN..at + len].to_vec()));
        at += len.next_multiple_of(4);
    }
    out
}

/// The value of attribute `kind` after a fixed header of `skip` bytes.
fn attr(payload: &[u8], skip: usize, kind: u16) -> Option<Vec<u8>> {
    attributes(&payload[skip..]).find(|&(k, _)| k == kind).map(|(_, v)| v.to_vec())
}

fn error_of(message: &Parsed) -> i32 {
    assert_eq!(message.0, NLMSG_ERROR);
    i32::from_le_bytes(message.4[..4].try_into().unwrap())
}

#[test]
fn a_link_dump_lists_lo_and_eth0_then_done() {
    let answers = answer(&request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 9, &[0]), sender(false), usize::MAX);
    assert_eq!(answers.len(), 1, "one datagram");
    let all = messages(&answers[0]);
    assert_eq!(all.len(), 3);
    for (i, (name, index, mtu)) in [(&b"lo\0"[..], 1u32, 65536u32), (b"eth0\0", 2, 1500)].into_iter().enumerate() {
        let (kind, flags, seq, port, payload) = &all[i];
        assert_eq!((*kind, *flags, *seq, *port), (RTM_NEWLINK, NLM_F_MULTI, 9, PORT));
        assert_eq!(u32::from_le_bytes(payload[4..8].try_into().unwrap()), index);
        assert_eq!(attr(payload, 16, IFLA_IFNAME).unwrap(), name);
        assert_eq!(attr(payload, 16, IFLA_MTU).unwrap(), mtu.to_le_bytes());
    }
    assert_eq!(attr(&all[1].4, 16, IFLA_ADDRESS).unwrap(), [0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    assert_eq!((all[2].0, all[2].1, all[2].4.clone()), (NLMSG_DONE, NLM_F_MULTI, vec![0; 4]));
}

#[test]
fn an_address_dump_keeps_the_asked_family() {
    let dump = |family: u8| {
        let answers =
            answer(&request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, &[family]), sender(false), usize::MAX);
        let all = messages(&answers.concat());
        all.into_iter().filter(|m| m.0 == RTM_NEWADDR).map(|m| attr(&m.4, 8, IFA_ADDRESS).unwrap()).collect::<Vec<_>>()
    };
    let v4 = [vec![127, 0, 0, 1], vec![10, 0, 2, 15]];
    let mut v6 = vec![0u8; 16];
    v6[15] = 1;
    assert_eq!(dump(0), [v4[0].clone(), v4[1].clone(), v6.clone()]);
    assert_eq!(dump(2), v4);
    assert_eq!(dump(10), [v6]);
    let eth0 =
        messages(&answer(&request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, &[2]), sender(false), usize::MAX)[0])[1]
            .clone();
    assert_eq!(&eth0.4[..2], &[2, 24], "family and prefix length");
    assert_eq!(attr(&eth0.4, 8, IFA_BROADCAST).unwrap(), [10, 0, 2, 255]);
    assert_eq!(attr(&eth0.4, 8, IFA_LABEL).unwrap(), b"eth0\0");
}

#[test]
fn a_route_dump_starts_with_the_default_route_via_the_host() {
    let answers = answer(&request(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 1, &[2]), sender(false), usize::MAX);
    let all = messages(&answers.concat());
    let routes: Vec<_> = all.iter().filter(|m| m.0 == RTM_NEWROUTE).collect();
    assert_eq!(routes.len(), 7);
    assert_eq!(attr(&routes[0].4, 12, RTA_GATEWAY).unwrap(), [10, 0, 2, 2]);
    assert_eq!(attr(&routes[0].4, 12, RTA_OIF).unwrap(), 2u32.to_le_bytes());
    assert_eq!(routes[0].4[1], 0, "a default route has no destination");
    assert_eq!(all.last().unwrap().0, NLMSG_DONE);
}

#[test]
fn one_link_by_index_or_name_with_an_ack() {
    let mut by_index = [0u8; 16];
    by_index[4..8].copy_from_slice(&1i32.to_le_bytes());
    let answers = answer(&request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, 5, &by_index), sender(false), usize::MAX);
    assert_eq!(answers.len(), 2);
    let link = &messages(&answers[0])[0];
    assert_eq!((link.0, link.1), (RTM_NEWLINK, 0));
    assert_eq!(attr(&link.4, 16, IFLA_IFNAME).unwrap(), b"lo\0");
    let ack = &messages(&answers[1])[0];
    assert_eq!((error_of(ack), ack.1, ack.4.len()), (0, NLM_F_CAPPED, 4 + NLMSG_HDRLEN));

    let mut by_name = [0u8; 16].to_vec();
    by_name.extend_from_slice(&9u16.to_le_bytes());
    by_name.extend_from_slice(&IFLA_IFNAME.to_le_bytes());
    by_name.extend_from_slice(b"eth0\0\0\0\0");
    let answers = answer(&request(RTM_GETLINK, NLM_F_REQUEST, 5, &by_name), sender(false), usize::MAX);
    let link = &messages(&answers[0])[0];
    assert_eq!(u32::from_le_bytes(link.4[4..8].try_into().unwrap()), 2);
    by_name[24..28].copy_from_slice(b"eth9");
    let answers = answer(&request(RTM_GETLINK, NLM_F_REQUEST, 5, &by_name), sender(false), usize::MAX);
    assert_eq!(error_of(&messages(&answers[0])[0]), -19, "ENODEV");
}

#[test]
fn errors_echo_the_request_unless_capped() {
    let req = request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK, 3, &[2, 24, 0, 0, 2, 0, 0, 0]);
    let full = messages(&answer(&req, sender(false), usize::MAX)[0])[0].clone();
    assert_eq!((error_of(&full), full.1, full.2, full.3), (-1, 0, 3, PORT), "EPERM");
    assert_eq!(&full.4[4..], &req[..]);
    let capped = messages(&answer(&req, sender(true), usize::MAX)[0])[0].clone();
    assert_eq!((error_of(&capped), capped.1), (-1, NLM_F_CAPPED));
    assert_eq!(&capped.4[4..], &req[..NLMSG_HDRLEN]);
    // A GET this kernel has no handler for, and a type past the last.
    for kind in [38u16, 0x80] {
        let answers = answer(&request(kind, NLM_F_REQUEST | NLM_F_DUMP, 1, &[0]), sender(false), usize::MAX);
        assert_eq!(error_of(&messages(&answers[0])[0]), -95, "EOPNOTSUPP for {kind}");
    }
}

#[test]
fn non_requests_and_control_messages_are_only_acknowledged() {
    assert!(answer(&request(RTM_GETLINK, 0, 1, &[0]), sender(false), usize::MAX).is_empty());
    assert!(answer(&request(1, NLM_F_REQUEST, 1, &[]), sender(false), usize::MAX).is_empty());
    let answers = answer(&request(RTM_GETLINK, NLM_F_ACK, 1, &[0]), sender(false), usize::MAX);
    assert_eq!(error_of(&messages(&answers[0])[0]), 0);
}

#[test]
fn a_datagram_may_hold_several_requests_and_a_bad_length_ends_it() {
    let mut datagram = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, &[0]);
    datagram.resize(datagram.len().next_multiple_of(4), 0);
    datagram.extend_from_slice(&request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 2, &[0]));
    let seqs: Vec<u32> =
        answer(&datagram, sender(false), usize::MAX).iter().flat_map(|d| messages(d)).map(|m| m.2).collect();
    assert!(seqs.contains(&1) && seqs.contains(&2));
    let mut bad = request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, &[0]);
    bad[..4].copy_from_slice(&64u32.to_le_bytes());
    assert!(answer(&bad, sender(false), usize::MAX).is_empty(), "a length past the datagram");
    assert!(answer(&bad[..8], sender(false), usize::MAX).is_empty(), "shorter than a header");
}

#[test]
fn a_dump_packs_messages_up_to_the_datagram_size() {
    let mut dump = Dump::default();
    for _ in 0..3 {
        let mut message = Message::new(RTM_NEWLINK, NLM_F_MULTI, 1, PORT);
        message.put(&[0u8; 1500]);
        dump.push(message);
    }
    let sizes: Vec<usize> = dump.datagrams.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2 * 1516, 1516]);
}

/// A `RTM_GETROUTE` request for one IPv4 address.
fn route_get(ip: [u8; 4]) -> Result<Parsed, i32> {
    let mut payload = vec![2, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    payload.extend_from_slice(&8u16.to_le_bytes());
    payload.extend_from_slice(&RTA_DST.to_le_bytes());
    payload.extend_from_slice(&ip);
    let answers = answer(&request(RTM_GETROUTE, NLM_F_REQUEST, 4, &payload), sender(false), usize::MAX);
    let message = messages(&answers[0])[0].clone();
    if message.0 == NLMSG_ERROR {
        return Err(error_of(&message));
    }
    Ok(message)
}

/// What Linux answers for `ip route get` in a namespace set up as the VM's (the type, the
/// flags, the output interface, the source and the gateway).
#[test]
fn the_route_to_one_address_is_linux_s() {
    let summary = |ip: [u8; 4]| {
        let m = route_get(ip).unwrap();
        let flags = u32::from_le_bytes(m.4[8..12].try_into().unwrap());
        let oif = u32::from_le_bytes(attr(&m.4, 12, RTA_OIF).unwrap().try_into().unwrap());
        (m.4[7], flags, oif, attr(&m.4, 12, RTA_PREFSRC).unwrap(), attr(&m.4, 12, RTA_GATEWAY))
    };
    assert_eq!(summary([1, 1, 1, 1]), (1, 0x200, 2, vec![10, 0, 2, 15], Some(vec![10, 0, 2, 2])));
    assert_eq!(summary([10, 0, 2, 7]), (1, 0x200, 2, vec![10, 0, 2, 15], None));
    assert_eq!(summary([10, 0, 2, 15]), (2, 0x8000_0200, 1, vec![10, 0, 2, 15], None));
    assert_eq!(summary([127, 0, 0, 5]), (2, 0x8000_0200, 1, vec![127, 0, 0, 1], None));
    assert_eq!(summary([0, 0, 0, 0]), (2, 0x8000_0200, 1, vec![127, 0, 0, 1], None));
    let m = route_get([1, 1, 1, 1]).unwrap();
    assert_eq!(&m.4[..8], &[2, 32, 0, 0, 254, 0, 0, 1], "rtmsg: main table, unicast");
    assert_eq!(attr(&m.4, 12, RTA_DST).unwrap(), [1, 1, 1, 1]);
    assert_eq!(attr(&m.4, 12, RTA_UID).unwrap(), 1000u32.to_le_bytes());
    let mut v6 = vec![10, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0];
    v6.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let answers = answer(&request(RTM_GETROUTE, NLM_F_REQUEST, 4, &v6), sender(false), usize::MAX);
    assert_eq!(error_of(&messages(&answers[0])[0]), -101, "ENETUNREACH: no IPv6 route");
    v6[16..].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let answers = answer(&request(RTM_GETROUTE, NLM_F_REQUEST, 4, &v6), sender(false), usize::MAX);
    let local = &messages(&answers[0])[0];
    assert_eq!(&local.4[..8], &[10, 128, 128, 0, 255, 2, 0, 2], "::1: the local table's route, as Linux's IPv6 lookup");
    assert_eq!(attr(&local.4, 12, RTA_SRC).unwrap(), [0; 16]);
}

/// Linux's default rules: IPv4's three, IPv6's two, as `ip rule` reads them.
#[test]
fn the_rules_are_linux_s_defaults() {
    let dump = |family: u8| {
        let answers = answer(
            &request(RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, 1, &[family, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            sender(false),
            usize::MAX,
        );
        messages(&answers.concat()).into_iter().filter(|m| m.0 == RTM_NEWRULE).map(|m| m.4).collect::<Vec<_>>()
    };
    let v4 = dump(2);
    assert_eq!(v4.len(), 3);
    assert_eq!(&v4[1][..12], &[2, 0, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(attr(&v4[1], 12, FRA_PRIORITY).unwrap(), 32766u32.to_le_bytes());
    assert_eq!(attr(&v4[0], 12, FRA_PRIORITY), None, "priority 0 is left out, as Linux");
    assert_eq!(attr(&v4[2], 12, FRA_TABLE).unwrap(), 253u32.to_le_bytes());
    assert_eq!(dump(10).len(), 2);
    assert_eq!(dump(0).len(), 5);
}

/// A datagram of many requests is answered only as far as the sender's queue has room.
#[test]
fn answers_stop_where_the_queue_is_full() {
    let mut datagram = Vec::new();
    for seq in 0..1000 {
        datagram.extend_from_slice(&request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, &[0, 0, 0, 0]));
    }
    let one = answer(&request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 0, &[0, 0, 0, 0]), sender(false), usize::MAX);
    let one_len = one.iter().map(Vec::len).sum::<usize>();
    let answers = answer(&datagram, sender(false), 10 * one_len);
    assert_eq!(answers.len(), 11, "up to the room, and the request that crossed it");
    assert_eq!(answer(&datagram, sender(false), usize::MAX).len(), 1000);
}
