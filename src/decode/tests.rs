//! Hand-made frames for every link type, encapsulation and malformation.

use super::*;
use etherparse::{IpNumber, PacketBuilder};
use std::net::{Ipv4Addr, Ipv6Addr};

pub(crate) const A4: [u8; 4] = [192, 168, 0, 1];
pub(crate) const B4: [u8; 4] = [192, 168, 0, 2];
pub(crate) const A6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub(crate) const B6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

pub(crate) fn ipv4_udp(sport: u16, dport: u16, payload: &[u8], s: [u8; 4], d: [u8; 4]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(s, d, 64).udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

pub(crate) fn ipv4_tcp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(A4, B4, 64)
        .tcp(sport, dport, 1000, 512)
        .syn()
        .ack(77);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

pub(crate) fn ipv6_udp(
    sport: u16,
    dport: u16,
    payload: &[u8],
    s: [u8; 16],
    d: [u8; 16],
) -> Vec<u8> {
    let b = PacketBuilder::ipv6(s, d, 64).udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

pub(crate) fn ipv6_tcp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv6(A6, B6, 64).tcp(sport, dport, 5, 100);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// IPv4 with protocol `proto` around `payload`.
pub(crate) fn ipv4_proto(s: [u8; 4], d: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(s, d, 64)
        .write(&mut v, IpNumber(proto), payload)
        .unwrap();
    v
}

pub(crate) fn ipv6_proto(s: [u8; 16], d: [u8; 16], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(s, d, 64)
        .write(&mut v, IpNumber(proto), payload)
        .unwrap();
    v
}

pub(crate) fn eth_wrap(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub(crate) fn eth_ipv4_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    eth_wrap(0x0800, &ipv4_udp(sport, dport, payload, A4, B4))
}

pub(crate) fn eth_ipv6_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    eth_wrap(0x86dd, &ipv6_udp(sport, dport, payload, A6, B6))
}

/// `inner` (an Ethernet frame) in VXLAN over IPv4 1.1.1.1 -> 2.2.2.2, UDP 12345 -> 4789.
pub(crate) fn vxlan_frame(inner: &[u8]) -> Vec<u8> {
    let mut p = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
    p.extend_from_slice(inner);
    eth_wrap(
        0x0800,
        &ipv4_udp(12345, 4789, &p, [1, 1, 1, 1], [2, 2, 2, 2]),
    )
}

/// Splits the IPv4 packet at `ip_off` of `frame` into fragments of `chunk`
/// bytes (a multiple of 8), each with `frame[..ip_off]` in front.
pub(crate) fn ipv4_fragments(frame: &[u8], ip_off: usize, chunk: usize) -> Vec<Vec<u8>> {
    let ip = &frame[ip_off..];
    let hl = usize::from(ip[0] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let data = &ip[hl..total];
    let mut out = Vec::new();
    for (i, c) in data.chunks(chunk).enumerate() {
        let mut f = frame[..ip_off].to_vec();
        let mut h = ip[..hl].to_vec();
        h[2..4].copy_from_slice(&((hl + c.len()) as u16).to_be_bytes());
        let more = (i + 1) * chunk < data.len();
        let off = ((i * chunk) / 8) as u16 | if more { 0x2000 } else { 0 };
        let off = off | (u16::from(ip[6] & 0x40) << 8);
        h[6..8].copy_from_slice(&off.to_be_bytes());
        f.extend_from_slice(&h);
        f.extend_from_slice(c);
        out.push(f);
    }
    out
}

/// Splits the IPv6 packet (no extension headers) at `ip_off` into fragments.
pub(crate) fn ipv6_fragments(frame: &[u8], ip_off: usize, chunk: usize) -> Vec<Vec<u8>> {
    let ip = &frame[ip_off..];
    let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let nh = ip[6];
    let data = &ip[40..40 + plen];
    let mut out = Vec::new();
    for (i, c) in data.chunks(chunk).enumerate() {
        let mut f = frame[..ip_off].to_vec();
        let mut h = ip[..40].to_vec();
        h[4..6].copy_from_slice(&((8 + c.len()) as u16).to_be_bytes());
        h[6] = 44;
        f.extend_from_slice(&h);
        let more = (i + 1) * chunk < data.len();
        let off = ((i * chunk) as u16) | u16::from(more);
        f.extend_from_slice(&[nh, 0]);
        f.extend_from_slice(&off.to_be_bytes());
        f.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        f.extend_from_slice(c);
        out.push(f);
    }
    out
}

/// Test frames are often temporaries: keep a copy alive for the returned packet.
fn keep(frame: &[u8]) -> &'static [u8] {
    Box::leak(frame.to_vec().into_boxed_slice())
}

fn pkt(lt: u16, frame: &[u8]) -> (Packet<'static>, DecodeStats) {
    let frame = keep(frame);
    let mut st = DecodeStats::new();
    match decode(lt, frame, &mut st) {
        Decoded::Packet(p) => (p, st),
        x => panic!("expected a packet, got {x:?}"),
    }
}

fn outcome(lt: u16, frame: &[u8]) -> (Decoded<'static>, DecodeStats) {
    let frame = keep(frame);
    let mut st = DecodeStats::new();
    let d = decode(lt, frame, &mut st);
    (d, st)
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn v6(a: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a))
}

const PAYLOAD: &[u8] = b"hello, world";

/// Checks the inner UDP flow A4:1111 -> B4:53 carrying PAYLOAD.
fn assert_inner_udp4(p: &Packet) {
    assert_eq!((p.src, p.dst), (v4(A4), v4(B4)));
    assert_eq!((p.sport, p.dport, p.proto, p.ip_version), (1111, 53, 17, 4));
    assert_eq!(p.l4, L4::Udp);
    assert_eq!(p.payload, PAYLOAD);
}

fn udp4() -> Vec<u8> {
    ipv4_udp(1111, 53, PAYLOAD, A4, B4)
}

#[test]
fn ethernet_ipv4_tcp() {
    let f = eth_wrap(0x0800, &ipv4_tcp(40000, 443, b"GET"));
    let (p, st) = pkt(1, &f);
    assert_eq!(
        (p.src, p.dst, p.sport, p.dport),
        (v4(A4), v4(B4), 40000, 443)
    );
    assert_eq!(
        p.l4,
        L4::Tcp(TcpInfo {
            flags: 0x12,
            seq: 1000,
            ack: 77,
            window: 512
        })
    );
    assert_eq!(p.payload, b"GET");
    assert_eq!((p.vlan_len, p.tunnel, p.truncated), (0, None, false));
    assert_eq!(st.get(Counter::Ethernet), 1);
    assert_eq!(st.get(Counter::Ipv4), 1);
    assert_eq!(st.get(Counter::Tcp), 1);
    assert_eq!(st.get(Counter::Invalid), 0);
}

#[test]
fn ethernet_ipv6_udp_and_padding() {
    let f = eth_ipv6_udp(5353, 5353, PAYLOAD);
    let (p, st) = pkt(1, &f);
    assert_eq!(
        (p.src, p.dst, p.ip_version, p.proto),
        (v6(A6), v6(B6), 6, 17)
    );
    assert_eq!(p.payload, PAYLOAD);
    assert_eq!(st.get(Counter::Ipv6), 1);
    // Ethernet padding after a short IPv4 packet is not payload.
    let mut f = eth_wrap(0x0800, &udp4());
    f.resize(f.len() + 20, 0);
    let (p, _) = pkt(1, &f);
    assert_inner_udp4(&p);
}

#[test]
fn ipv4_options_and_ipv6_extension_headers() {
    // IHL 6: one 4-byte option (NOP NOP NOP EOL).
    let mut ip = udp4();
    let mut h = ip[..20].to_vec();
    h[0] = 0x46;
    let tl = u16::from_be_bytes([h[2], h[3]]) + 4;
    h[2..4].copy_from_slice(&tl.to_be_bytes());
    h.extend_from_slice(&[1, 1, 1, 0]);
    h.extend_from_slice(&ip.split_off(20));
    let (p, _) = pkt(228, &h);
    assert_inner_udp4(&p);

    // Hop-by-hop, destination options, routing, then TCP.
    let tcp = &ipv6_tcp(1, 2, b"x")[40..];
    let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0]; // HBH -> DSTOPTS, PadN
    ext.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]); // DSTOPTS -> ROUTING
    ext.extend_from_slice(&[6, 0, 4, 0, 0, 0, 0, 0]); // ROUTING -> TCP
    ext.extend_from_slice(tcp);
    // (etherparse's builder refuses hop-by-hop as a raw next header: patch it in.)
    let mut f = ipv6_proto(A6, B6, 253, &ext);
    f[6] = 0;
    let (p, st) = pkt(229, &f);
    assert_eq!((p.proto, p.sport, p.dport, p.payload), (6, 1, 2, &b"x"[..]));
    assert_eq!(st.get(Counter::Tcp), 1);

    // A source route with hops left: the last address is the destination.
    let mut rh = vec![17, 4, 0, 1, 0, 0, 0, 0];
    rh.extend_from_slice(&A6);
    rh.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
    rh.extend_from_slice(&ipv6_udp(1, 2, b"", A6, B6)[40..]);
    let (p, _) = pkt(229, &ipv6_proto(B6, A6, 43, &rh));
    assert_eq!(p.dst.to_string(), "2001:db8::9");
    assert_eq!((p.proto, p.sport, p.dport), (17, 1, 2));
    // No hops left: the header's destination stands.
    rh[3] = 0;
    assert_eq!(pkt(229, &ipv6_proto(B6, A6, 43, &rh)).0.dst, v6(A6));
    // An extension header cut short.
    let mut f = ipv6_proto(A6, B6, 253, &[6, 1, 0, 0, 0, 0, 0, 0]);
    f[6] = 0;
    let (d, st) = outcome(229, &f);
    assert_eq!(d, Decoded::Invalid(Invalid::Ipv6TruncExthdr));
    assert_eq!(st.get(Counter::Ipv6TruncExthdr), 1);
    assert_eq!(st.get(Counter::Invalid), 1);
}

#[test]
fn icmp_v4_and_v6() {
    let mut v = Vec::new();
    PacketBuilder::ipv4(A4, B4, 1)
        .icmpv4_echo_request(7, 9)
        .write(&mut v, b"ping")
        .unwrap();
    let (p, st) = pkt(101, &v);
    assert_eq!(
        p.l4,
        L4::Icmp {
            icmp_type: 8,
            code: 0
        }
    );
    assert_eq!((p.proto, p.sport, p.dport), (1, 0, 0));
    assert_eq!(p.payload.len(), 12);
    assert_eq!(st.get(Counter::Icmpv4), 1);
    assert_eq!(st.get(Counter::Raw), 1);
    let mut v = Vec::new();
    PacketBuilder::ipv6(A6, B6, 1)
        .icmpv6_echo_reply(7, 9)
        .write(&mut v, b"pong")
        .unwrap();
    let (p, st) = pkt(101, &v);
    assert_eq!(
        p.l4,
        L4::Icmp {
            icmp_type: 129,
            code: 0
        }
    );
    assert_eq!(st.get(Counter::Icmpv6), 1);
    // Truncated ICMP header.
    let f = ipv4_proto(A4, B4, 1, &[8, 0, 0]);
    assert_eq!(
        outcome(228, &f).0,
        Decoded::Invalid(Invalid::Icmpv4PktTooSmall)
    );
}

#[test]
fn link_types() {
    let ip = udp4();
    let ip6 = ipv6_udp(1111, 53, PAYLOAD, A6, B6);
    // Linux cooked v1 and v2.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    let (p, st) = pkt(113, &sll);
    assert_inner_udp4(&p);
    assert_eq!(st.get(Counter::Sll), 1);
    let mut sll2 = vec![
        0x08, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&ip);
    let (p, st) = pkt(276, &sll2);
    assert_inner_udp4(&p);
    assert_eq!(st.get(Counter::Sll2), 1);
    // BSD NULL (host order) and LOOP (network order), each IPv6 family number.
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&ip);
    assert_inner_udp4(&pkt(0, &null).0);
    for fam in [10u32, 24, 28, 30] {
        for bytes in [fam.to_le_bytes(), fam.to_be_bytes()] {
            let mut f = bytes.to_vec();
            f.extend_from_slice(&ip6);
            let (p, st) = pkt(108, &f);
            assert_eq!(p.ip_version, 6);
            assert_eq!(st.get(Counter::Null), 1);
        }
    }
    let mut f = 99u32.to_le_bytes().to_vec();
    f.extend_from_slice(&ip);
    let (d, st) = outcome(0, &f);
    assert_eq!(d, Decoded::NotIp);
    assert_eq!(st.get(Counter::LtnullUnsupportedType), 1);
    // Raw IP in all its numbers.
    for lt in [101, 12, 14, 228] {
        assert_inner_udp4(&pkt(lt, &ip).0);
    }
    assert_eq!(pkt(229, &ip6).0.ip_version, 6);
    assert_eq!(pkt(101, &ip6).0.ip_version, 6);
    let mut bad = ip.clone();
    bad[0] = 0x55;
    let (d, st) = outcome(101, &bad);
    assert_eq!(d, Decoded::Invalid(Invalid::IprawInvalidIpVersion));
    assert_eq!(st.get(Counter::IprawInvalidIpVersion), 1);
    // LINKTYPE_IPV4 carrying IPv6: the version nibble wins, and is counted.
    let (p, st) = pkt(228, &ip6);
    assert_eq!(p.ip_version, 6);
    assert_eq!(st.get(Counter::IprawLinktypeMismatch), 1);
    // Cisco HDLC.
    let mut f = vec![0x0f, 0, 0x08, 0];
    f.extend_from_slice(&ip);
    let (p, st) = pkt(104, &f);
    assert_inner_udp4(&p);
    assert_eq!(st.get(Counter::Chdlc), 1);
    // Unsupported: counted by number.
    let mut st = DecodeStats::new();
    assert_eq!(decode(147, &ip, &mut st), Decoded::UnsupportedLink(147));
    assert_eq!(decode(147, &ip, &mut st), Decoded::UnsupportedLink(147));
    assert_eq!(st.unsupported_link(147), 2);
    assert_eq!(st.get(Counter::Invalid), 0);
}

#[test]
fn ppp_variants() {
    let ip = udp4();
    for prefix in [&[0xff, 0x03, 0x00, 0x21][..], &[0x00, 0x21], &[0x21]] {
        let mut f = prefix.to_vec();
        f.extend_from_slice(&ip);
        let (p, st) = pkt(9, &f);
        assert_inner_udp4(&p);
        assert_eq!(st.get(Counter::Ppp), 1);
        assert_inner_udp4(&pkt(50, &f).0);
    }
    let mut f = vec![0xff, 0x03, 0x00, 0x57];
    f.extend_from_slice(&ipv6_udp(1, 2, b"", A6, B6));
    assert_eq!(pkt(9, &f).0.ip_version, 6);
    // LCP is not IP; an unknown protocol is counted.
    let (d, st) = outcome(9, &[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4]);
    assert_eq!(d, Decoded::NotIp);
    assert_eq!(st.get(Counter::PppUnsupProto), 0);
    let (d, st) = outcome(9, &[0x7e, 0x08, 0, 0]);
    assert_eq!(d, Decoded::NotIp);
    assert_eq!(st.get(Counter::PppUnsupProto), 1);
    // IPv4 too short for a header.
    assert_eq!(
        outcome(9, &[0x00, 0x21, 0x45, 0]).0,
        Decoded::Invalid(Invalid::PppIp4PktTooSmall)
    );
    // PPP_ETHER (51): a PPPoE session header first.
    let mut f = vec![0x11, 0, 0, 1, 0, 0, 0x00, 0x21];
    f.extend_from_slice(&ip);
    assert_inner_udp4(&pkt(51, &f).0);
}

#[test]
fn nflog_pktap_and_wifi() {
    let ip = udp4();
    // NFLOG: header, a prefix TLV, then the payload TLV (little-endian TLVs).
    let mut f = vec![2, 0, 0, 0];
    f.extend_from_slice(&[8, 0, 10, 0, b'a', b'b', b'c', 0]);
    f.extend_from_slice(&((4 + ip.len()) as u16).to_le_bytes());
    f.extend_from_slice(&9u16.to_le_bytes());
    f.extend_from_slice(&ip);
    let (p, st) = pkt(239, &f);
    assert_inner_udp4(&p);
    assert_eq!(st.get(Counter::Nflog), 1);
    // No payload TLV.
    assert_eq!(
        outcome(239, &f[..12]).0,
        Decoded::Invalid(Invalid::NflogPktTooSmall)
    );
    // PKTAP with an Ethernet frame inside.
    let mut f = vec![0u8; 108];
    f[0..4].copy_from_slice(&108u32.to_le_bytes());
    f[4..8].copy_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&eth_wrap(0x0800, &ip));
    let (p, st) = pkt(258, &f);
    assert_inner_udp4(&p);
    assert_eq!((st.get(Counter::Pktap), st.get(Counter::Ethernet)), (1, 1));
    // Radiotap + 802.11 QoS data + LLC/SNAP.
    let mut f = vec![0, 0, 8, 0, 0, 0, 0, 0];
    let mut wlan = vec![0x88, 0x01, 0, 0];
    wlan.extend_from_slice(&[0; 18]); // three addresses
    wlan.extend_from_slice(&[0, 0, 0, 0]); // sequence, QoS
    wlan.extend_from_slice(&[0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00]);
    f.extend_from_slice(&wlan);
    f.extend_from_slice(&ip);
    assert_inner_udp4(&pkt(127, &f).0);
    assert_inner_udp4(&pkt(105, &f[8..]).0);
    // Protected frame: not decodable.
    let mut prot = f[8..].to_vec();
    prot[1] |= 0x40;
    assert_eq!(outcome(105, &prot).0, Decoded::NotIp);
}

fn vlan_tag(tpid: u16, vid: u16) -> Vec<u8> {
    let mut v = tpid.to_be_bytes().to_vec();
    v.extend_from_slice(&vid.to_be_bytes());
    v
}

/// Ethernet frame with the given (TPID, VID) tags, then `ethertype` and `payload`.
fn tagged(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    for &(t, id) in tags {
        v.extend_from_slice(&vlan_tag(t, id));
    }
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

#[test]
fn vlan_stacks() {
    let ip = udp4();
    let f = tagged(&[(0x8100, 0x2064)], 0x0800, &ip); // PCP 1, VID 100
    let (p, st) = pkt(1, &f);
    assert_inner_udp4(&p);
    assert_eq!((p.vlan, p.vlan_len), ([100, 0, 0], 1));
    assert_eq!(st.get(Counter::Vlan), 1);
    let f = tagged(&[(0x88a8, 10), (0x8100, 20)], 0x0800, &ip);
    let (p, st) = pkt(1, &f);
    assert_eq!((p.vlan, p.vlan_len), ([10, 20, 0], 2));
    assert_eq!((st.get(Counter::Vlan), st.get(Counter::VlanQinq)), (1, 1));
    let f = tagged(&[(0x9100, 1), (0x88a8, 2), (0x8100, 3)], 0x0800, &ip);
    let (p, st) = pkt(1, &f);
    assert_eq!((p.vlan, p.vlan_len), ([1, 2, 3], 3));
    assert_eq!(st.get(Counter::VlanQinqinq), 1);
    let f = tagged(
        &[(0x9100, 1), (0x88a8, 2), (0x8100, 3), (0x8100, 4)],
        0x0800,
        &ip,
    );
    let (d, st) = outcome(1, &f);
    assert_eq!(d, Decoded::Invalid(Invalid::VlanTooManyLayers));
    assert_eq!(st.get(Counter::VlanTooManyLayers), 1);
    // Tag cut short.
    let f = tagged(&[], 0x8100, &[0]);
    assert_eq!(
        outcome(1, &f).0,
        Decoded::Invalid(Invalid::VlanHeaderTooSmall)
    );
    // ARP inside a VLAN: not IP, not unknown.
    let (d, st) = outcome(1, &tagged(&[(0x8100, 5)], 0x0806, &[0; 28]));
    assert_eq!(d, Decoded::NotIp);
    assert_eq!(
        (st.get(Counter::Arp), st.get(Counter::UnknownEthertype)),
        (1, 0)
    );
    // An unknown EtherType inside a VLAN.
    let (d, st) = outcome(1, &tagged(&[(0x8100, 5)], 0x1234, &[0; 28]));
    assert_eq!(d, Decoded::NotIp);
    assert_eq!(st.get(Counter::UnknownEthertype), 1);
    assert_eq!(st.get(Counter::VlanUnknownType), 1);
}

fn mpls(labels: &[u32]) -> Vec<u8> {
    let mut v = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let bos = u32::from(i + 1 == labels.len()) << 8;
        v.extend_from_slice(&((l << 12) | bos | 64).to_be_bytes());
    }
    v
}

#[test]
fn mpls_stacks() {
    let ip = udp4();
    let mut m = mpls(&[100, 200]);
    m.extend_from_slice(&ip);
    let (p, st) = pkt(1, &eth_wrap(0x8847, &m));
    assert_inner_udp4(&p);
    assert_eq!(st.get(Counter::Mpls), 1);
    // IPv6 explicit null.
    let mut m = mpls(&[2]);
    m.extend_from_slice(&ipv6_udp(1, 2, b"", A6, B6));
    assert_eq!(pkt(1, &eth_wrap(0x8848, &m)).0.ip_version, 6);
    // Ethernet pseudowire with control word, VLAN inside.
    let mut m = mpls(&[16]);
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(&tagged(&[(0x8100, 7)], 0x0800, &ip));
    let (p, _) = pkt(1, &eth_wrap(0x8847, &m));
    assert_inner_udp4(&p);
    assert_eq!((p.vlan, p.vlan_len), ([7, 0, 0], 1));
    // Unknown payload, truncated stack.
    let mut m = mpls(&[16]);
    m.extend_from_slice(&[0x90; 30]);
    assert_eq!(
        outcome(1, &eth_wrap(0x8847, &m)).0,
        Decoded::Invalid(Invalid::MplsUnknownPayloadType)
    );
    let mut m = mpls(&[16; 20]);
    m.extend_from_slice(&udp4());
    let (d, st) = outcome(1, &eth_wrap(0x8847, &m));
    assert_eq!(d, Decoded::Invalid(Invalid::TooManyLayers));
    assert_eq!(st.get(Counter::TooManyLayers), 1);
    let m = &mpls(&[16, 17])[..6];
    assert_eq!(
        outcome(1, &eth_wrap(0x8847, m)).0,
        Decoded::Invalid(Invalid::MplsHeaderTooSmall)
    );
}

#[test]
fn pppoe_pbb_vntag_etag_fabricpath() {
    let ip = udp4();
    let mut s = vec![0x11, 0, 0, 1, 0, 0, 0x00, 0x21];
    s.extend_from_slice(&ip);
    let (p, st) = pkt(1, &eth_wrap(0x8864, &s));
    assert_inner_udp4(&p);
    assert_eq!(st.get(Counter::Pppoe), 1);
    let (d, st) = outcome(1, &eth_wrap(0x8863, &[0x11, 0x09, 0, 0, 0, 0]));
    assert_eq!(d, Decoded::NotIp);
    assert_eq!(st.get(Counter::Pppoe), 1);
    assert_eq!(
        outcome(1, &eth_wrap(0x8864, &[0x11, 0])).0,
        Decoded::Invalid(Invalid::PppoePktTooSmall)
    );
    // 802.1ah: B-VLAN, I-TAG, then the customer frame with its own C-VLAN.
    let mut i = vec![0, 0, 0, 1];
    i.extend_from_slice(&tagged(&[(0x8100, 42)], 0x0800, &ip));
    let f = tagged(&[(0x88a8, 9)], 0x88e7, &i);
    let (p, st) = pkt(1, &f);
    assert_inner_udp4(&p);
    assert_eq!((p.vlan, p.vlan_len), ([42, 0, 0], 1));
    assert_eq!(
        (st.get(Counter::Ieee8021ah), st.get(Counter::Ethernet)),
        (1, 2)
    );
    // VN-Tag and E-Tag.
    let mut t = vec![0x80, 0x01, 0x00, 0x02, 0x08, 0x00];
    t.extend_from_slice(&ip);
    let (p, st) = pkt(1, &eth_wrap(0x8926, &t));
    assert_inner_udp4(&p);
    assert_eq!(st.get(Counter::Vntag), 1);
    let mut t = vec![0, 0, 0, 1, 0, 0, 0x08, 0x00];
    t.extend_from_slice(&ip);
    let (p, st) = pkt(1, &eth_wrap(0x893f, &t));
    assert_inner_udp4(&p);
    assert_eq!(st.get(Counter::Etag), 1);
    assert_eq!(
        outcome(1, &eth_wrap(0x893f, &[0, 0, 0])).0,
        Decoded::Invalid(Invalid::EtagHeaderTooSmall)
    );
    // Cisco FabricPath: FTag/TTL then the classical frame.
    let mut t = vec![0, 0x3f];
    t.extend_from_slice(&eth_wrap(0x0800, &ip));
    assert_inner_udp4(&pkt(1, &eth_wrap(0x8903, &t)).0);
}

fn udp_tunnel(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    eth_wrap(
        0x0800,
        &ipv4_udp(sport, dport, payload, [1, 1, 1, 1], [2, 2, 2, 2]),
    )
}

fn assert_tunnel(p: &Packet, kind: TunnelKind, sport: u16, dport: u16, proto: u8, depth: u8) {
    let t = p.tunnel.expect("tunnel");
    assert_eq!(t.kind, kind);
    assert_eq!((t.src, t.dst), (v4([1, 1, 1, 1]), v4([2, 2, 2, 2])));
    assert_eq!(
        (t.sport, t.dport, t.proto, t.depth),
        (sport, dport, proto, depth)
    );
    // Suricata tracks UDP and IP-in-IP carriers as flows, not GRE or MPLS in IP.
    assert_eq!(t.has_own_flow(), matches!(proto, 17 | 4 | 41), "{kind:?}");
}

#[test]
fn vxlan_and_geneve() {
    let inner = tagged(&[(0x8100, 33)], 0x0800, &udp4());
    let f = vxlan_frame(&inner);
    let (p, st) = pkt(1, &f);
    assert_inner_udp4(&p);
    assert_eq!((p.vlan, p.vlan_len), ([33, 0, 0], 1));
    assert_tunnel(&p, TunnelKind::Vxlan, 12345, 4789, 17, 1);
    assert_eq!((st.get(Counter::Vxlan), st.get(Counter::Ethernet)), (1, 2));
    assert_eq!((st.get(Counter::Udp), st.get(Counter::Ipv4)), (1, 2));
    // VXLAN port without the I flag: plain UDP.
    let f = udp_tunnel(1, 4789, &[0; 8]);
    let (p, _) = pkt(1, &f);
    assert_eq!((p.dport, p.tunnel), (4789, None));
    // Geneve with 8 bytes of options, Ethernet payload.
    let mut g = vec![0x02, 0, 0x65, 0x58, 0, 0, 1, 0];
    g.extend_from_slice(&[0; 8]);
    g.extend_from_slice(&eth_wrap(0x0800, &udp4()));
    let (p, st) = pkt(1, &udp_tunnel(999, 6081, &g));
    assert_inner_udp4(&p);
    assert_tunnel(&p, TunnelKind::Geneve, 999, 6081, 17, 1);
    assert_eq!(st.get(Counter::Geneve), 1);
    // Geneve carrying IPv4 directly.
    let mut g = vec![0, 0, 0x08, 0x00, 0, 0, 1, 0];
    g.extend_from_slice(&udp4());
    assert_inner_udp4(&pkt(1, &udp_tunnel(999, 6081, &g)).0);
    // Options longer than the packet.
    let g = [0x3f, 0, 0x65, 0x58, 0, 0, 1, 0];
    let (p, st) = pkt(1, &udp_tunnel(999, 6081, &g));
    assert_eq!(
        (p.dport, p.inner_invalid),
        (6081, Some(Invalid::GeneveHeaderTooSmall))
    );
    assert_eq!(st.get(Counter::GeneveHeaderTooSmall), 1);
}

fn gre(flags: u16, proto: u16, extra: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut g = flags.to_be_bytes().to_vec();
    g.extend_from_slice(&proto.to_be_bytes());
    g.extend_from_slice(extra);
    g.extend_from_slice(payload);
    eth_wrap(0x0800, &ipv4_proto([1, 1, 1, 1], [2, 2, 2, 2], 47, &g))
}

#[test]
fn gre_variants() {
    let ip = udp4();
    let (p, st) = pkt(1, &gre(0, 0x0800, &[], &ip));
    assert_inner_udp4(&p);
    assert_tunnel(&p, TunnelKind::Gre, 0, 0, 47, 1);
    assert_eq!(st.get(Counter::Gre), 1);
    // Checksum, key and sequence present.
    let (p, _) = pkt(1, &gre(0xb000, 0x0800, &[0; 12], &ip));
    assert_inner_udp4(&p);
    // Transparent Ethernet bridging.
    let (p, _) = pkt(1, &gre(0x2000, 0x6558, &[0; 4], &eth_wrap(0x0800, &ip)));
    assert_inner_udp4(&p);
    // PPTP enhanced GRE: key (payload length, call id), sequence, PPP.
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend_from_slice(&ip);
    let mut key = (ppp.len() as u16).to_be_bytes().to_vec();
    key.extend_from_slice(&[0, 7, 0, 0, 0, 1]);
    let (p, _) = pkt(1, &gre(0x3001, 0x880b, &key, &ppp));
    assert_inner_udp4(&p);
    // PPTP acknowledgement only: the GRE packet itself.
    let (p, _) = pkt(1, &gre(0x2081, 0x880b, &[0, 0, 0, 7, 0, 0, 0, 1], &[]));
    assert_eq!((p.proto, p.tunnel), (47, None));
    // Unknown GRE protocol: the GRE packet itself.
    let (p, _) = pkt(1, &gre(0, 0x1234, &[], &[0; 10]));
    assert_eq!((p.proto, p.tunnel), (47, None));
    // Malformations, with Suricata's names.
    let cases: &[(u16, u16, &[u8], Invalid)] = &[
        (0x0002, 0x0800, &[], Invalid::GreWrongVersion),
        (0x0100, 0x0800, &[], Invalid::GreV0Recur),
        (0x0008, 0x0800, &[], Invalid::GreV0Flags),
        (0x9000, 0x0800, &[0; 4], Invalid::GreV0HdrTooBig),
        (
            0x4000,
            0x0800,
            &[0, 0, 0, 0, 0, 1, 0, 9],
            Invalid::GreV0MalformedSreHdr,
        ),
        (0x8001, 0x880b, &[], Invalid::GreV1Chksum),
        (0x2001, 0x0800, &[0; 4], Invalid::GreV1WrongProtocol),
        (0x0001, 0x880b, &[], Invalid::GreV1NoKey),
        (0x3001, 0x880b, &[0, 1, 0, 0], Invalid::GreV1HdrTooBig),
    ];
    for (flags, proto, extra, want) in cases {
        let g = gre(*flags, *proto, extra, &[]);
        let (d, st) = outcome(1, &g);
        assert_eq!(d, Decoded::Invalid(*want), "flags {flags:#x}");
        assert_eq!(st.get(want.counter()), 1);
    }
    // Routing with a well-formed SRE list: checksum/offset, one SRE, terminator.
    let mut sre = vec![0, 0, 0, 0, 0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0];
    sre.extend_from_slice(&ip);
    assert_inner_udp4(&pkt(1, &gre(0x4000, 0x0800, &[], &sre)).0);
    // A broken tunnel payload: the GRE packet is the innermost packet, flagged.
    let (p, st) = pkt(1, &gre(0, 0x0800, &[], &[]));
    assert_eq!(
        (p.proto, p.tunnel, p.inner_invalid),
        (47, None, Some(Invalid::Ipv4PktTooSmall))
    );
    assert_eq!(st.get(Counter::Invalid), 1);
    assert_eq!(st.get(Counter::Ipv4PktTooSmall), 1);
    // Not IP inside (LCP over PPTP): also the GRE packet, not flagged.
    let mut key = 8u16.to_be_bytes().to_vec();
    key.extend_from_slice(&[0, 7]);
    let (p, st) = pkt(
        1,
        &gre(0x2001, 0x880b, &key, &[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4]),
    );
    assert_eq!((p.proto, p.inner_invalid), (47, None));
    assert_eq!(st.get(Counter::TunnelNotIp), 1);
    let g = eth_wrap(0x0800, &ipv4_proto(A4, B4, 47, &[0, 0]));
    assert_eq!(outcome(1, &g).0, Decoded::Invalid(Invalid::GrePktTooSmall));
}

#[test]
fn erspan_types() {
    let inner = eth_wrap(0x0800, &udp4());
    // Type I: no sequence, no header.
    let (p, st) = pkt(1, &gre(0, 0x88be, &[], &inner));
    assert_inner_udp4(&p);
    assert_tunnel(&p, TunnelKind::Erspan, 0, 0, 47, 1);
    assert_eq!(st.get(Counter::Erspan), 1);
    // Type II: sequence, 8-byte header with version 1.
    let mut e = vec![0x10, 0x05, 0, 1, 0, 0, 0, 0];
    e.extend_from_slice(&inner);
    let (p, _) = pkt(1, &gre(0x1000, 0x88be, &[0, 0, 0, 1], &e));
    assert_inner_udp4(&p);
    let mut e = vec![0x20, 0x05, 0, 1, 0, 0, 0, 0];
    e.extend_from_slice(&inner);
    assert_eq!(
        outcome(1, &gre(0x1000, 0x88be, &[0, 0, 0, 1], &e)).0,
        Decoded::Invalid(Invalid::ErspanUnsupportedVersion)
    );
    assert_eq!(
        outcome(1, &gre(0x1000, 0x88be, &[0, 0, 0, 1], &[0x10, 0])).0,
        Decoded::Invalid(Invalid::ErspanHeaderTooSmall)
    );
    // Type III without and with the platform subheader.
    let mut e = vec![0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    e.extend_from_slice(&inner);
    assert_inner_udp4(&pkt(1, &gre(0x1000, 0x22eb, &[0, 0, 0, 1], &e)).0);
    let mut e = vec![0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    e.extend_from_slice(&[0xff; 8]);
    e.extend_from_slice(&inner);
    let (p, _) = pkt(1, &gre(0x1000, 0x22eb, &[0, 0, 0, 1], &e));
    assert_inner_udp4(&p);
    assert_tunnel(&p, TunnelKind::Erspan, 0, 0, 47, 1);
}

#[test]
fn ip_in_ip_all_four() {
    let in4 = udp4();
    let in6 = ipv6_udp(1111, 53, PAYLOAD, A6, B6);
    let o4 = |p: u8, x: &[u8]| eth_wrap(0x0800, &ipv4_proto([1, 1, 1, 1], [2, 2, 2, 2], p, x));
    let o6 = |p: u8, x: &[u8]| eth_wrap(0x86dd, &ipv6_proto(B6, A6, p, x));
    let (p, st) = pkt(1, &o4(4, &in4));
    assert_inner_udp4(&p);
    assert_tunnel(&p, TunnelKind::IpInIp, 0, 0, 4, 1);
    assert_eq!(st.get(Counter::Ipv4InIpv4), 1);
    let (p, st) = pkt(1, &o4(41, &in6));
    assert_eq!((p.src, p.ip_version), (v6(A6), 6));
    assert_eq!(p.tunnel.unwrap().proto, 41);
    assert_eq!(st.get(Counter::Ipv6InIpv4), 1);
    let (p, st) = pkt(1, &o6(4, &in4));
    assert_inner_udp4(&p);
    assert_eq!(p.tunnel.unwrap().src, v6(B6));
    assert_eq!(st.get(Counter::Ipv4InIpv6), 1);
    let (p, st) = pkt(1, &o6(41, &in6));
    assert_eq!(p.payload, PAYLOAD);
    assert_eq!(st.get(Counter::Ipv6InIpv6), 1);
    // Wrong inner versions and short inner packets, Suricata's IPv6 names.
    assert_eq!(
        outcome(1, &o6(4, &in6)).0,
        Decoded::Invalid(Invalid::Ipv4InIpv6WrongVersion)
    );
    assert_eq!(
        outcome(1, &o6(41, &in4)).0,
        Decoded::Invalid(Invalid::Ipv6InIpv6WrongVersion)
    );
    assert_eq!(
        outcome(1, &o6(41, &in6[..30])).0,
        Decoded::Invalid(Invalid::Ipv6InIpv6TooSmall)
    );
    assert_eq!(
        outcome(1, &o6(4, &in4[..10])).0,
        Decoded::Invalid(Invalid::Ipv4InIpv6TooSmall)
    );
    assert_eq!(
        outcome(1, &o4(4, &in6)).0,
        Decoded::Invalid(Invalid::TunnelIpWrongVersion)
    );
}

#[test]
fn teredo_gtp_mpls_udp_gre_udp_ayiya() {
    let in6 = ipv6_udp(1111, 53, PAYLOAD, A6, B6);
    // Teredo, bare and with an origin indication.
    let (p, st) = pkt(1, &udp_tunnel(3544, 50000, &in6));
    assert_eq!((p.src, p.payload), (v6(A6), PAYLOAD));
    assert_tunnel(&p, TunnelKind::Teredo, 3544, 50000, 17, 1);
    assert_eq!(st.get(Counter::Teredo), 1);
    let mut t = vec![0, 0, 0x12, 0x34, 1, 2, 3, 4];
    t.extend_from_slice(&in6);
    assert_eq!(pkt(1, &udp_tunnel(50000, 3544, &t)).0.payload, PAYLOAD);
    // Something else on port 3544 stays UDP.
    let (p, _) = pkt(
        1,
        &udp_tunnel(
            3544,
            50000,
            b"not teredo at all, not at all......................",
        ),
    );
    assert_eq!((p.sport, p.tunnel), (3544, None));
    // GTP-U G-PDU, with and without the optional fields.
    let mut g = vec![0x30, 0xff, 0, 0, 0, 0, 0, 1];
    g.extend_from_slice(&udp4());
    let (p, st) = pkt(1, &udp_tunnel(2152, 2152, &g));
    assert_inner_udp4(&p);
    assert_tunnel(&p, TunnelKind::GtpU, 2152, 2152, 17, 1);
    assert_eq!(st.get(Counter::Gtpu), 1);
    let mut g = vec![0x32, 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0];
    g.extend_from_slice(&in6);
    assert_eq!(pkt(1, &udp_tunnel(2152, 2152, &g)).0.src, v6(A6));
    // GTP echo request: plain UDP.
    let (p, _) = pkt(
        1,
        &udp_tunnel(2152, 2152, &[0x32, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]),
    );
    assert_eq!(p.tunnel, None);
    // MPLS over UDP.
    let mut m = mpls(&[100]);
    m.extend_from_slice(&udp4());
    let (p, _) = pkt(1, &udp_tunnel(7, 6635, &m));
    assert_inner_udp4(&p);
    assert_tunnel(&p, TunnelKind::Mpls, 7, 6635, 17, 1);
    // GRE over UDP.
    let mut g = vec![0, 0, 0x08, 0];
    g.extend_from_slice(&udp4());
    let (p, _) = pkt(1, &udp_tunnel(7, 4754, &g));
    assert_inner_udp4(&p);
    assert_tunnel(&p, TunnelKind::Gre, 7, 4754, 17, 1);
    // AYIYA: 16-byte identity, 20-byte signature, forward opcode, IPv6.
    let mut a = vec![0x41, 0x52, 0x11, 41, 0, 0, 0, 0];
    a.extend_from_slice(&[0; 36]);
    a.extend_from_slice(&in6);
    let (p, st) = pkt(1, &udp_tunnel(5072, 5072, &a));
    assert_eq!(p.payload, PAYLOAD);
    assert_tunnel(&p, TunnelKind::Ayiya, 5072, 5072, 17, 1);
    assert_eq!(st.get(Counter::Ayiya), 1);
}

#[test]
fn nested_tunnels_report_the_outermost() {
    // VXLAN inside GRE inside IPv4.
    let vx = vxlan_frame(&eth_wrap(0x0800, &udp4()));
    let f = gre(0, 0x6558, &[], &vx);
    let (p, _) = pkt(1, &f);
    assert_inner_udp4(&p);
    assert_tunnel(&p, TunnelKind::Gre, 0, 0, 47, 2);
    // Deep IP-in-IP nesting hits the layer bound.
    let mut ip = udp4();
    for _ in 0..20 {
        ip = ipv4_proto([1, 1, 1, 1], [2, 2, 2, 2], 4, &ip);
    }
    // The deepest tunnel packet reached is returned, flagged.
    let (p, st) = pkt(228, &ip);
    assert_eq!(p.inner_invalid, Some(Invalid::TooManyLayers));
    assert_eq!((p.proto, p.tunnel.unwrap().depth), (4, 14));
    assert_eq!(st.get(Counter::TooManyLayers), 1);
    assert_eq!(st.get(Counter::Invalid), 1);
    // 15 levels are fine.
    let mut ip = udp4();
    for _ in 0..14 {
        ip = ipv4_proto([1, 1, 1, 1], [2, 2, 2, 2], 4, &ip);
    }
    let (p, _) = pkt(228, &ip);
    assert_eq!(p.tunnel.unwrap().depth, 14);
}

#[test]
fn truncation_at_every_byte() {
    // Ethernet / IPv4 / TCP with 4 payload bytes, cut at every length.
    let f = eth_wrap(0x0800, &ipv4_tcp(1, 2, b"abcd"));
    assert_eq!(f.len(), 14 + 20 + 20 + 4);
    for n in 0..=f.len() {
        let (d, st) = outcome(1, &f[..n]);
        let want = match n {
            0..=13 => Some(Invalid::EthernetPktTooSmall),
            14..=33 => Some(Invalid::Ipv4PktTooSmall),
            34..=53 => Some(Invalid::TcpPktTooSmall),
            _ => None,
        };
        match (d, want) {
            (Decoded::Invalid(r), Some(w)) => {
                assert_eq!(r, w, "cut at {n}");
                assert_eq!(st.get(Counter::Invalid), 1);
            }
            (Decoded::Packet(p), None) => {
                assert_eq!(p.payload, &b"abcd"[..n - 54], "cut at {n}");
                assert_eq!(p.truncated, n < f.len());
                assert_eq!(st.get(Counter::Ipv4TruncPkt), u64::from(n < f.len()));
            }
            (d, w) => panic!("cut at {n}: {d:?}, wanted {w:?}"),
        }
    }
    // The same through VXLAN: cuts inside the VXLAN header or the inner
    // headers leave the outer UDP packet as the innermost one, flagged with
    // the inner layer's reason; a cut inside the inner TCP header is invalid.
    let f = vxlan_frame(&eth_wrap(0x0800, &ipv4_tcp(1, 2, b"abcd")));
    let inner_eth = 14 + 20 + 8 + 8;
    for n in 0..=f.len() {
        let (d, _) = outcome(1, &f[..n]);
        let want = match n {
            0..=13 => Some(Invalid::EthernetPktTooSmall),
            14..=33 => Some(Invalid::Ipv4PktTooSmall),
            34..=41 => Some(Invalid::UdpHlenTooSmall),
            // The UDP header ends exactly: an empty UDP packet, no tunnel yet.
            42 => None,
            43..=49 => Some(Invalid::VxlanHeaderTooSmall),
            x if x < inner_eth + 14 => Some(Invalid::EthernetPktTooSmall),
            x if x < inner_eth + 34 => Some(Invalid::Ipv4PktTooSmall),
            x if x < inner_eth + 54 => Some(Invalid::TcpPktTooSmall),
            _ => None,
        };
        let outer_ok = (43..inner_eth + 34).contains(&n);
        match (d, want) {
            (Decoded::Packet(p), Some(w)) if outer_ok => {
                assert_eq!((p.dport, p.tunnel), (4789, None), "cut at {n}");
                assert_eq!(p.inner_invalid, Some(w), "cut at {n}");
            }
            (Decoded::Invalid(r), Some(w)) if !outer_ok => assert_eq!(r, w, "cut at {n}"),
            (Decoded::Packet(p), None) => {
                assert_eq!(p.tunnel.is_some(), n != 42);
                assert_eq!(p.inner_invalid, None);
            }
            (d, w) => panic!("cut at {n}: {d:?}, wanted {w:?}"),
        }
    }
    // IPv6 / UDP.
    let f = eth_ipv6_udp(1, 2, b"xy");
    for n in 0..=f.len() {
        let (d, _) = outcome(1, &f[..n]);
        let want = match n {
            0..=13 => Some(Invalid::EthernetPktTooSmall),
            14..=53 => Some(Invalid::Ipv6PktTooSmall),
            54..=61 => Some(Invalid::UdpHlenTooSmall),
            _ => None,
        };
        match (d, want) {
            (Decoded::Invalid(r), Some(w)) => assert_eq!(r, w, "cut at {n}"),
            (Decoded::Packet(p), None) => assert_eq!(p.payload, &b"xy"[..n - 62]),
            (d, w) => panic!("cut at {n}: {d:?}, wanted {w:?}"),
        }
    }
}

#[test]
fn bad_lengths() {
    let good = udp4();
    let set = |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_be_bytes());
    // IHL below 5.
    let mut f = good.clone();
    f[0] = 0x44;
    let (d, st) = outcome(228, &f);
    assert_eq!(d, Decoded::Invalid(Invalid::Ipv4HlenTooSmall));
    assert_eq!(st.get(Counter::Ipv4HlenTooSmall), 1);
    // Options beyond the data.
    let mut f = good[..24].to_vec();
    f[0] = 0x4f;
    assert_eq!(
        outcome(228, &f).0,
        Decoded::Invalid(Invalid::Ipv4HlenTooSmall)
    );
    // Total length shorter than the header.
    let mut f = good.clone();
    set(&mut f, 2, 12);
    assert_eq!(
        outcome(228, &f).0,
        Decoded::Invalid(Invalid::Ipv4IplenSmallerThanHlen)
    );
    // Total length 0 (segmentation offload): taken from the capture.
    let mut f = good.clone();
    set(&mut f, 2, 0);
    let (p, st) = pkt(228, &f);
    assert_inner_udp4(&p);
    assert_eq!(st.get(Counter::Ipv4TsoZeroLength), 1);
    // Total length beyond the capture: truncated packet.
    let mut f = good.clone();
    set(&mut f, 2, 1000);
    let (p, st) = pkt(228, &f);
    assert!(p.truncated);
    assert_eq!(st.get(Counter::Ipv4TruncPkt), 1);
    // UDP length below 8, beyond the IP payload, and 0.
    let mut f = good.clone();
    set(&mut f, 24, 5);
    assert_eq!(outcome(228, &f).0, Decoded::Invalid(Invalid::UdpLenInvalid));
    let mut f = good.clone();
    set(&mut f, 24, 300);
    let (p, st) = pkt(228, &f);
    assert_eq!((p.payload, p.truncated), (PAYLOAD, true));
    assert_eq!(st.get(Counter::UdpPktTooSmall), 1);
    let mut f = good.clone();
    set(&mut f, 24, 0);
    assert_eq!(pkt(228, &f).0.payload, PAYLOAD);
    // UDP length shorter than the IP payload: the UDP length wins.
    let mut f = good.clone();
    set(&mut f, 24, 8 + 5);
    assert_eq!(pkt(228, &f).0.payload, b"hello");
    // TCP data offset below 5, and beyond the data.
    let mut f = ipv4_tcp(1, 2, b"");
    f[32] = 0x40;
    assert_eq!(
        outcome(228, &f).0,
        Decoded::Invalid(Invalid::TcpHlenTooSmall)
    );
    f[32] = 0xf0;
    assert_eq!(
        outcome(228, &f).0,
        Decoded::Invalid(Invalid::TcpHlenTooSmall)
    );
    // IPv6 payload length 0 with a payload (jumbogram/offload).
    let mut f = ipv6_udp(1111, 53, PAYLOAD, A6, B6);
    set(&mut f, 4, 0);
    let (p, st) = pkt(229, &f);
    assert_eq!(p.payload, PAYLOAD);
    assert_eq!(st.get(Counter::Ipv6ZeroPayloadLength), 1);
    // IPv6 with a wrong version nibble.
    let mut f = ipv6_udp(1, 2, b"", A6, B6);
    f[0] = 0x55;
    assert_eq!(
        outcome(229, &f).0,
        Decoded::Invalid(Invalid::Ipv6WrongIpVersion)
    );
}

#[test]
fn fragments_are_recognised() {
    let whole = eth_ipv4_udp(1, 2, &[0; 64]);
    let frags = ipv4_fragments(&whole, 14, 32);
    let mut st = DecodeStats::new();
    for f in &frags {
        assert_eq!(decode(1, f, &mut st), Decoded::Fragment);
        assert_eq!(shard(1, f), Shard::Fragment);
    }
    let whole6 = eth_ipv6_udp(1, 2, &[0; 64]);
    for f in &ipv6_fragments(&whole6, 14, 32) {
        assert_eq!(decode(1, f, &mut st), Decoded::Fragment);
    }
    // IPv6 atomic fragment (offset 0, no more fragments): a normal packet.
    let frag6 = ipv6_fragments(&whole6, 14, 128);
    assert_eq!(frag6.len(), 1);
    let (p, _) = pkt(1, &frag6[0]);
    assert_eq!((p.sport, p.dport, p.payload.len()), (1, 2, 64));
    // DF alone is not fragmentation.
    let mut f = whole.clone();
    f[20] = 0x40;
    assert!(matches!(decode(1, &f, &mut st), Decoded::Packet(_)));
}

#[test]
fn shard_is_symmetric_portless_and_deterministic() {
    let ab = eth_wrap(0x0800, &ipv4_udp(1, 2, b"", A4, B4));
    let ba = eth_wrap(0x0800, &ipv4_udp(3, 4, b"", B4, A4));
    let h = shard(1, &ab);
    assert_eq!(h, shard(1, &ba));
    // Fixed seed: the same value on every run and machine.
    assert_eq!(h, Shard::Hash(0x36e9_f295));
    let tagged_ab = tagged(&[(0x8100, 5)], 0x0800, &ipv4_udp(1, 2, b"", A4, B4));
    assert_ne!(shard(1, &tagged_ab), h);
    let six_ab = eth_wrap(0x86dd, &ipv6_udp(1, 2, b"", A6, B6));
    let six_ba = eth_wrap(0x86dd, &ipv6_udp(1, 2, b"", B6, A6));
    assert_eq!(shard(1, &six_ab), shard(1, &six_ba));
    assert_ne!(shard(1, &six_ab), h);
    // Tunnelled: the outer pair decides, so every flow of one tunnel (and the
    // tunnel's own flow) lands on the same worker.
    let other_inner = eth_wrap(0x0800, &ipv4_udp(7, 8, b"", [10, 9, 9, 9], [10, 8, 8, 8]));
    assert_eq!(
        shard(1, &vxlan_frame(&ab)),
        shard(1, &vxlan_frame(&other_inner))
    );
    assert!(matches!(shard(1, &vxlan_frame(&ab)), Shard::Hash(_)));
    assert_eq!(shard(1, &eth_wrap(0x0806, &[0; 28])), Shard::Other);
    assert_eq!(shard(147, &ab), Shard::Other);
    // Different pairs spread.
    let mut seen = std::collections::HashSet::new();
    for i in 0..64u8 {
        let f = eth_wrap(0x0800, &ipv4_udp(1, 2, b"", [10, 0, 0, i], B4));
        if let Shard::Hash(x) = shard(1, &f) {
            seen.insert(x % 8);
        }
    }
    assert_eq!(seen.len(), 8);
}

/// One frame of every kind the tests above build.
fn sample_frames() -> Vec<(u16, Vec<u8>)> {
    let ip = udp4();
    let in6 = ipv6_udp(1111, 53, PAYLOAD, A6, B6);
    let eth = eth_wrap(0x0800, &ip);
    let mut v = vec![
        (1, eth_wrap(0x0800, &ipv4_tcp(1, 2, b"abcd"))),
        (1, eth_wrap(0x86dd, &ipv6_tcp(1, 2, b"abcd"))),
        (1, tagged(&[(0x88a8, 1), (0x8100, 2)], 0x0800, &ip)),
        (1, vxlan_frame(&tagged(&[(0x8100, 3)], 0x0800, &ip))),
        (1, gre(0xb000, 0x0800, &[0; 12], &ip)),
        (
            1,
            gre(
                0x1000,
                0x88be,
                &[0, 0, 0, 1],
                &[&[0x10, 5, 0, 1, 0, 0, 0, 0][..], &eth].concat(),
            ),
        ),
        (
            1,
            gre(
                0x1000,
                0x22eb,
                &[0, 0, 0, 1],
                &[&[0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1][..], &[0; 8], &eth].concat(),
            ),
        ),
        (
            1,
            gre(
                0x4000,
                0x0800,
                &[],
                &[&[0, 0, 0, 0, 8, 0, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0][..], &ip].concat(),
            ),
        ),
        (1, udp_tunnel(3544, 9, &in6)),
        (
            1,
            udp_tunnel(
                2152,
                2152,
                &[
                    &[0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0, 0, 0][..],
                    &ip,
                ]
                .concat(),
            ),
        ),
        (
            1,
            udp_tunnel(
                5072,
                5072,
                &[&[0x41, 0x52, 0x11, 41, 0, 0, 0, 0][..], &[0; 36], &in6].concat(),
            ),
        ),
        (
            1,
            udp_tunnel(
                9,
                6081,
                &[&[0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0][..], &eth].concat(),
            ),
        ),
        (1, udp_tunnel(9, 6635, &[mpls(&[5]), ip.clone()].concat())),
        (
            1,
            eth_wrap(
                0x8847,
                &[mpls(&[100, 200]), vec![0, 0, 0, 0], eth.clone()].concat(),
            ),
        ),
        (
            1,
            eth_wrap(0x8864, &[&[0x11, 0, 0, 1, 0, 0, 0x21][..], &ip].concat()),
        ),
        (
            1,
            tagged(&[(0x88a8, 9)], 0x88e7, &[&[0, 0, 0, 1][..], &eth].concat()),
        ),
        (
            1,
            eth_wrap(0x8926, &[&[0x80, 1, 0, 2, 8, 0][..], &ip].concat()),
        ),
        (
            1,
            eth_wrap(0x893f, &[&[0, 0, 0, 1, 0, 0, 8, 0][..], &ip].concat()),
        ),
        (1, eth_wrap(0x8903, &[&[0, 0x3f][..], &eth].concat())),
        (1, eth_wrap(0x86dd, &ipv6_proto(B6, A6, 4, &ip))),
        (
            113,
            [&[0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 8, 0][..], &ip].concat(),
        ),
        (
            276,
            [
                &[
                    0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
                ][..],
                &in6,
            ]
            .concat(),
        ),
        (0, [&24u32.to_le_bytes()[..], &in6].concat()),
        (9, [&[0xff, 0x03, 0, 0x21][..], &ip].concat()),
        (104, [&[0x0f, 0, 8, 0][..], &ip].concat()),
        (
            239,
            [
                &[2, 0, 0, 0][..],
                &((4 + ip.len()) as u16).to_le_bytes(),
                &[9, 0],
                &ip,
            ]
            .concat(),
        ),
        (
            258,
            [
                &108u32.to_le_bytes()[..],
                &1u32.to_le_bytes(),
                &[0; 100],
                &eth,
            ]
            .concat(),
        ),
        (
            127,
            [
                &[0, 0, 8, 0, 0, 0, 0, 0, 0x88, 1, 0, 0][..],
                &[0; 22],
                &[0xaa, 0xaa, 3, 0, 0, 0, 8, 0],
                &ip,
            ]
            .concat(),
        ),
    ];
    for f in ipv4_fragments(&eth_ipv4_udp(1, 2, &[9; 40]), 14, 16) {
        v.push((1, f));
    }
    for f in ipv6_fragments(&eth_ipv6_udp(1, 2, &[9; 40]), 14, 16) {
        v.push((1, f));
    }
    v
}

/// Decodes `frame` and checks the invariants that hold for any input.
fn check_invariants(lt: u16, frame: &[u8], defrag: &mut Defragmenter) {
    let mut st = DecodeStats::new();
    let d = decode(lt, frame, &mut st);
    let sh = shard(lt, frame);
    let flagged = match d {
        Decoded::Packet(p) => {
            let r = frame.as_ptr_range();
            let q = p.payload.as_ptr_range();
            assert!(
                p.payload.is_empty() || (r.start <= q.start && q.end <= r.end),
                "payload outside the frame"
            );
            assert!(matches!(sh, Shard::Hash(_)), "{d:?} vs {sh:?}");
            u64::from(p.inner_invalid.is_some())
        }
        Decoded::Fragment => {
            assert_eq!(sh, Shard::Fragment);
            if let Some(whole) = defrag.push(lt, frame, 0, &mut st) {
                let _ = decode(lt, &whole, &mut DecodeStats::new());
            }
            0
        }
        Decoded::NotIp | Decoded::UnsupportedLink(_) => {
            assert_eq!(sh, Shard::Other, "{d:?}");
            0
        }
        Decoded::Invalid(_) => 1,
    };
    // Every malformed result is counted once as `invalid`.
    let mut only_decode = DecodeStats::new();
    let _ = decode(lt, frame, &mut only_decode);
    assert_eq!(only_decode.get(Counter::Invalid), flagged, "{d:?}");
}

#[test]
fn every_prefix_and_random_corruption_is_handled() {
    let mut defrag = Defragmenter::new(DefragLimits {
        max_datagrams: 64,
        ..DefragLimits::default()
    });
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for (lt, frame) in sample_frames() {
        // Each sample decodes to a packet (or is a fragment).
        let d = decode(lt, &frame, &mut DecodeStats::new());
        assert!(
            matches!(
                d,
                Decoded::Packet(Packet {
                    inner_invalid: None,
                    ..
                }) | Decoded::Fragment
            ),
            "lt {lt}: {d:?}"
        );
        for n in 0..frame.len() {
            check_invariants(lt, &frame[..n], &mut defrag);
        }
        for _ in 0..300 {
            let mut f = frame.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % f.len();
                f[i] = next() as u8;
            }
            let cut = f.len() - (next() as usize % 8).min(f.len());
            check_invariants(lt, &f[..cut], &mut defrag);
        }
    }
}

/// A DNS response to a client that picked a tunnel's port as its own stays
/// a UDP packet: the port alone does not make a tunnel.
#[test]
fn udp_on_a_tunnel_port_without_a_tunnel_header_stays_udp() {
    // Response id 0x0800 (looks like a GRE flags word), flags 0x8180, one
    // question "update.example" type A, one A answer.
    let mut dns = vec![0x08, 0x00, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    dns.extend_from_slice(b"\x06update\x07example\x00\x00\x01\x00\x01");
    dns.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01");
    // The same with an id whose first byte has VXLAN's I flag and a
    // question name whose bytes could be a Geneve or MPLS header.
    let mut dns2 = dns.clone();
    dns2[0] = 0x08;
    dns2[1] = 0x08;
    for port in [4754, 4789, 8472, 6081, 6635] {
        for d in [&dns, &dns2] {
            let (p, st) = pkt(1, &udp_tunnel(53, port, d));
            assert_eq!(p.tunnel, None, "port {port}");
            assert_eq!((p.sport, p.dport), (53, port));
            assert_eq!(p.payload, &d[..], "port {port}");
            assert_eq!(p.inner_invalid, None, "port {port}");
            assert_eq!(st.get(Counter::Invalid), 0, "port {port}");
        }
    }
    // Real tunnels on those ports still decode.
    let mut g = vec![0, 0, 0x08, 0];
    g.extend_from_slice(&udp4());
    assert_tunnel(
        &pkt(1, &udp_tunnel(7, 4754, &g)).0,
        TunnelKind::Gre,
        7,
        4754,
        17,
        1,
    );
    let f = vxlan_frame(&eth_wrap(0x0800, &udp4()));
    assert_inner_udp4(&pkt(1, &f).0);
}

/// Aruba APs tunnel clients' 802.11 frames to the controller in GRE with
/// protocol type 0x8200 (and 0x8210 .. 0x8370); tshark decodes them as wlan.
#[test]
fn gre_aruba_wlan_carries_802_11_frames() {
    let ip = udp4();
    let mut wlan = vec![0x08, 0x01, 0, 0]; // data, to DS
    wlan.extend_from_slice(&[0x11; 18]); // three addresses
    wlan.extend_from_slice(&[0, 0]); // sequence
    wlan.extend_from_slice(&[0xaa, 0xaa, 3, 0, 0, 0, 0x08, 0x00]);
    wlan.extend_from_slice(&ip);
    for proto in [0x8200, 0x8210, 0x8370] {
        let (p, _) = pkt(1, &gre(0, proto, &[], &wlan));
        assert_inner_udp4(&p);
        assert_eq!(
            p.tunnel.map(|t| (t.kind, t.proto)),
            Some((TunnelKind::Gre, 47))
        );
    }
    // Not a value tshark gives to wlan: the GRE packet is the innermost.
    let (p, _) = pkt(1, &gre(0, 0x8201, &[], &wlan));
    assert_eq!(p.tunnel, None);
    assert_eq!(p.proto, 47);
}

#[test]
fn pair_hash_v4_is_pair_hash_of_ipv4_addresses() {
    // xorshift: many address pairs and VLAN words, deterministic.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (a, b) = (x as u32, (x >> 32) as u32);
        let vl = x.rotate_left(17) & 0x0003_0fff_0fff_0fff;
        assert_eq!(
            super::pair_hash_v4(a, b, vl),
            super::pair_hash(a.into(), b.into(), 4, vl)
        );
        assert_eq!(super::pair_hash_v4(a, b, vl), super::pair_hash_v4(b, a, vl));
    }
}
