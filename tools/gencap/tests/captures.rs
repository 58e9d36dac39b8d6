//! Determinism of both generators, the committed demo capture, and an independent check of
//! demo.expected.json against the capture bytes (parsed here with etherparse and a small
//! ClientHello/DNS/HTTP reader, not with the generator's own builders).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use gencap::pcap::Format;
use gencap::{bench, demo};
use md5::{Digest, Md5};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

const REGEN: &str = "cargo run -p gencap -- demo -o captures/demo.pcap";

fn captures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../captures")
}

fn demo_now() -> (Vec<u8>, String) {
    let (pcap, expected) = demo::generate(Format::Pcap, "demo.pcap").unwrap();
    (pcap, demo::expected_json(&expected).unwrap())
}

#[test]
fn demo_is_byte_identical_across_runs() {
    let (a, ja) = demo_now();
    let (b, jb) = demo_now();
    assert_eq!(a, b);
    assert_eq!(ja, jb);
    let (c, _) = demo::generate(Format::Pcapng, "demo.pcapng").unwrap();
    let (d, _) = demo::generate(Format::Pcapng, "demo.pcapng").unwrap();
    assert_eq!(c, d);
}

#[test]
fn committed_demo_capture_is_what_the_generator_writes_now() {
    let (pcap, json) = demo_now();
    let dir = captures_dir();
    let committed = std::fs::read(dir.join("demo.pcap"))
        .unwrap_or_else(|e| panic!("captures/demo.pcap missing ({e}); create it with: {REGEN}"));
    let committed_json =
        std::fs::read_to_string(dir.join("demo.expected.json")).unwrap_or_else(|e| {
            panic!("captures/demo.expected.json missing ({e}); create it with: {REGEN}")
        });
    assert!(
        committed == pcap,
        "captures/demo.pcap differs from the generator's output: the generator changed. \
         Regenerate and commit both files with: {REGEN}"
    );
    assert!(
        committed_json == json,
        "captures/demo.expected.json differs from the generator's output. Regenerate with: {REGEN}"
    );
}

#[test]
fn bench_is_deterministic_and_exact_in_packet_count() {
    let (s1, a) = bench::generate(Vec::new(), Format::Pcap, 40_000).unwrap();
    let (s2, b) = bench::generate(Vec::new(), Format::Pcap, 40_000).unwrap();
    assert_eq!(s1, s2);
    assert!(a == b, "two runs wrote different bytes");
    assert_eq!(s1.packets, 40_000);
    assert_eq!(a.len() as u64, s1.file_bytes);
    assert!(s1.flows > 1_000, "{s1:?}");
    assert!(s1.flows_v6 * 100 / s1.flows >= 12, "{s1:?}");
    assert!(s1.vendor_flows > 0 && s1.fragments > 0, "{s1:?}");
    // A prefix of a longer run is the shorter run, minus the flows cut at its end: the
    // packet stream does not depend on N.
    let (_, c) = bench::generate(Vec::new(), Format::Pcap, 40_500).unwrap();
    assert_eq!(&c[..a.len()], &a[..]);
}

#[test]
fn quic_short_mix_has_more_and_shorter_flows_than_the_enterprise_mix() {
    let n = 40_000;
    let (e, eb) = bench::generate_mix(Vec::new(), Format::Pcap, n, bench::Mix::ENTERPRISE).unwrap();
    let (d, db) = bench::generate(Vec::new(), Format::Pcap, n).unwrap();
    assert!(eb == db, "generate is the enterprise mix");
    assert_eq!(e, d);
    let (q, qb) = bench::generate_mix(Vec::new(), Format::Pcap, n, bench::Mix::QUIC_SHORT).unwrap();
    assert_eq!(q.packets, n);
    assert!(qb != eb, "another seed, other bytes");
    assert_eq!(q.long_flows, 0, "{q:?}");
    // Same packet count, shorter flows: more of them (the gap grows with the
    // capture, as long flows take more of the enterprise mix: 1M packets
    // hold 61,747 flows against 34,598).
    assert!(q.flows > e.flows, "{q:?} vs {e:?}");
    // QUIC flows are UDP on port 443: count client Initials' flows by frames.
    let quic = |pcap: &[u8]| {
        records(pcap)
            .iter()
            .filter(|(_, f)| {
                etherparse::SlicedPacket::from_ethernet(f).is_ok_and(|p| {
                    matches!(p.transport, Some(etherparse::TransportSlice::Udp(u)) if u.destination_port() == 443)
                })
            })
            .count()
    };
    assert!(
        quic(&qb) > 2 * quic(&eb),
        "QUIC frames: {} vs {}",
        quic(&qb),
        quic(&eb)
    );
}

// ------------------------------------------------------------------ a tiny pcap reader

fn records(pcap: &[u8]) -> Vec<(u64, &[u8])> {
    assert_eq!(&pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let u = |o: usize| u32::from_le_bytes(pcap[o..o + 4].try_into().unwrap()) as u64;
        let ts = u(off) * 1_000_000 + u(off + 4);
        let len = u(off + 8) as usize;
        out.push((ts, &pcap[off + 16..off + 16 + len]));
        off += 16 + len;
    }
    assert_eq!(off, pcap.len());
    out
}

#[test]
fn bench_frames_parse_and_have_valid_checksums() {
    let (_, bytes) = bench::generate(Vec::new(), Format::Pcap, 30_000).unwrap();
    let (mut tcp, mut udp, mut v6, mut frags, mut qinq) = (0, 0, 0, 0, 0);
    for (_, f) in records(&bytes) {
        let p = SlicedPacket::from_ethernet(f).unwrap();
        if p.vlan_ids().len() == 2 {
            qinq += 1;
        }
        match &p.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header();
                assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
                if h.is_fragmenting_payload() {
                    frags += 1;
                    continue;
                }
                match &p.transport {
                    Some(TransportSlice::Tcp(t)) => {
                        tcp += 1;
                        assert_eq!(
                            t.calc_checksum_ipv4(h.source(), h.destination()).unwrap(),
                            t.checksum()
                        );
                    }
                    Some(TransportSlice::Udp(u)) => {
                        udp += 1;
                        let want = u
                            .to_header()
                            .calc_checksum_ipv4_raw(h.source(), h.destination(), u.payload())
                            .unwrap();
                        assert_eq!(want, u.checksum());
                    }
                    other => panic!("unexpected transport {other:?}"),
                }
            }
            Some(NetSlice::Ipv6(ip)) => {
                v6 += 1;
                let h = ip.header();
                match &p.transport {
                    Some(TransportSlice::Tcp(t)) => {
                        assert_eq!(
                            t.calc_checksum_ipv6(h.source(), h.destination()).unwrap(),
                            t.checksum()
                        )
                    }
                    Some(TransportSlice::Udp(u)) => {
                        let want = u
                            .to_header()
                            .calc_checksum_ipv6_raw(h.source(), h.destination(), u.payload())
                            .unwrap();
                        assert_eq!(want, u.checksum());
                    }
                    other => panic!("unexpected transport {other:?}"),
                }
            }
            other => panic!("unexpected network layer {other:?}"),
        }
    }
    assert!(
        tcp > 20_000 && udp > 500 && v6 > 1_000 && frags > 10 && qinq > 1_000,
        "{tcp} {udp} {v6} {frags} {qinq}"
    );
}

// ------------------------------------------------------------------ demo vs. its description

#[derive(Default, Debug, Clone, PartialEq)]
struct Dir {
    packets: u64,
    bytes: u64,
    ip_bytes: u64,
    payload_bytes: u64,
}

/// One observation of a packet for some flow: (transport, src, sport, dst, dport, vlan ids,
/// inside a tunnel?), with its sizes.
#[derive(Debug, Clone)]
struct Obs {
    transport: &'static str,
    src: IpAddr,
    sport: Option<u16>,
    dst: IpAddr,
    dport: Option<u16>,
    vlan: Vec<u16>,
    tunnelled: bool,
    ts: u64,
    frame_len: u64,
    ip_len: u64,
    payload: u64,
    l4_payload: Vec<u8>,
}

fn ip_pair(net: &NetSlice<'_>) -> (IpAddr, IpAddr, u64) {
    match net {
        NetSlice::Ipv4(ip) => {
            let h = ip.header();
            (
                IpAddr::from(h.source()),
                IpAddr::from(h.destination()),
                u64::from(h.total_len()),
            )
        }
        NetSlice::Ipv6(ip) => {
            let h = ip.header();
            (
                IpAddr::from(h.source()),
                IpAddr::from(h.destination()),
                40 + u64::from(h.payload_length()),
            )
        }
        NetSlice::Arp(_) => panic!("arp"),
    }
}

fn observe(
    ts: u64,
    frame: &[u8],
    frame_len: u64,
    vlan: Vec<u16>,
    tunnelled: bool,
    frags: &mut BTreeMap<(IpAddr, u16), (u16, u16)>,
    out: &mut Vec<Obs>,
) {
    let p = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(net) = &p.net else { return };
    if let NetSlice::Arp(a) = net {
        let (s, t) = (a.sender_protocol_addr(), a.target_protocol_addr());
        let s = IpAddr::from(<[u8; 4]>::try_from(s).unwrap());
        let t = IpAddr::from(<[u8; 4]>::try_from(t).unwrap());
        let (src, dst) = if a.operation().0 == 1 { (s, t) } else { (t, s) };
        // requests go client->server; replies are matched the other way round
        let (src, dst) = if a.operation().0 == 1 {
            (src, dst)
        } else {
            (dst, src)
        };
        out.push(Obs {
            transport: "arp",
            src,
            sport: None,
            dst,
            dport: None,
            vlan,
            tunnelled,
            ts,
            frame_len,
            ip_len: 0,
            payload: 28,
            l4_payload: vec![],
        });
        return;
    }
    let (src, dst, ip_len) = ip_pair(net);
    if let NetSlice::Ipv4(ip) = net {
        let h = ip.header();
        if h.is_fragmenting_payload() {
            let key = (src, h.identification());
            let (sport, dport, payload) = if h.fragments_offset().value() == 0 {
                let u = ip.payload().payload;
                let (sp, dp) = (
                    u16::from_be_bytes([u[0], u[1]]),
                    u16::from_be_bytes([u[2], u[3]]),
                );
                let ulen = u16::from_be_bytes([u[4], u[5]]);
                frags.insert(key, (sp, dp));
                (sp, dp, u64::from(ulen) - 8)
            } else {
                let (sp, dp) = frags[&key];
                (sp, dp, 0)
            };
            out.push(Obs {
                transport: "udp",
                src,
                sport: Some(sport),
                dst,
                dport: Some(dport),
                vlan,
                tunnelled,
                ts,
                frame_len,
                ip_len,
                payload,
                l4_payload: vec![],
            });
            return;
        }
    }
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => out.push(Obs {
            transport: "tcp",
            src,
            sport: Some(t.source_port()),
            dst,
            dport: Some(t.destination_port()),
            vlan,
            tunnelled,
            ts,
            frame_len,
            ip_len,
            payload: t.payload().len() as u64,
            l4_payload: t.payload().to_vec(),
        }),
        Some(TransportSlice::Udp(u)) => {
            out.push(Obs {
                transport: "udp",
                src,
                sport: Some(u.source_port()),
                dst,
                dport: Some(u.destination_port()),
                vlan: vlan.clone(),
                tunnelled,
                ts,
                frame_len,
                ip_len,
                payload: u.payload().len() as u64,
                l4_payload: u.payload().to_vec(),
            });
            if u.destination_port() == 4789 {
                observe(ts, &u.payload()[8..], frame_len, vec![], true, frags, out);
            }
        }
        Some(TransportSlice::Icmpv4(i)) => out.push(Obs {
            transport: "icmp",
            src,
            sport: None,
            dst,
            dport: None,
            vlan,
            tunnelled,
            ts,
            frame_len,
            ip_len,
            payload: i.payload().len() as u64,
            l4_payload: vec![],
        }),
        Some(TransportSlice::Icmpv6(i)) => out.push(Obs {
            transport: "icmp",
            src,
            sport: None,
            dst,
            dport: None,
            vlan,
            tunnelled,
            ts,
            frame_len,
            ip_len,
            payload: i.payload().len() as u64,
            l4_payload: vec![],
        }),
        _ => {}
    }
}

fn demo_observations() -> (Value, Vec<Obs>) {
    let (pcap, json) = demo_now();
    let exp: Value = serde_json::from_str(&json).unwrap();
    let mut obs = Vec::new();
    let mut frags = BTreeMap::new();
    for (ts, f) in records(&pcap) {
        let p = SlicedPacket::from_ethernet(f).unwrap();
        let vlan: Vec<u16> = p.vlan_ids().iter().map(|v| v.value()).collect();
        observe(ts, f, f.len() as u64, vlan, false, &mut frags, &mut obs);
    }
    (exp, obs)
}

fn flow_packets<'a>(flow: &Value, obs: &'a [Obs]) -> Vec<(bool, &'a Obs)> {
    let client: IpAddr = flow["client"].as_str().unwrap().parse().unwrap();
    let server: IpAddr = flow["server"].as_str().unwrap().parse().unwrap();
    let cport = flow["client_port"].as_u64().map(|p| p as u16);
    let sport = flow["server_port"].as_u64().map(|p| p as u16);
    let vlan: Vec<u16> = flow["vlan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u16)
        .collect();
    let tunnelled = flow.get("encap").is_some();
    let (t0, t1) = (
        flow["first_ts_us"].as_u64().unwrap(),
        flow["last_ts_us"].as_u64().unwrap(),
    );
    obs.iter()
        .filter(|o| {
            o.transport == flow["transport"].as_str().unwrap()
                && o.tunnelled == tunnelled
                && o.vlan == vlan
                && o.ts >= t0
                && o.ts <= t1
        })
        .filter_map(|o| {
            if o.src == client && o.dst == server && o.sport == cport && o.dport == sport {
                Some((true, o))
            } else if o.src == server && o.dst == client && o.sport == sport && o.dport == cport {
                Some((false, o))
            } else {
                None
            }
        })
        .collect()
}

fn dir_json(v: &Value) -> Dir {
    Dir {
        packets: v["packets"].as_u64().unwrap(),
        bytes: v["bytes"].as_u64().unwrap(),
        ip_bytes: v["ip_bytes"].as_u64().unwrap(),
        payload_bytes: v["payload_bytes"].as_u64().unwrap(),
    }
}

#[test]
fn expected_counters_match_an_independent_parse_of_the_capture() {
    let (exp, obs) = demo_observations();
    let flows = exp["flows"].as_array().unwrap();
    let mut counted = 0;
    for f in flows {
        let mut up = Dir::default();
        let mut down = Dir::default();
        for (to_server, o) in flow_packets(f, &obs) {
            let d = if to_server { &mut up } else { &mut down };
            d.packets += 1;
            d.bytes += o.frame_len;
            d.ip_bytes += o.ip_len;
            d.payload_bytes += o.payload;
        }
        assert_eq!(up, dir_json(&f["to_server"]), "flow {} to_server", f["id"]);
        assert_eq!(
            down,
            dir_json(&f["to_client"]),
            "flow {} to_client",
            f["id"]
        );
        counted += up.packets + down.packets;
    }
    // every packet belongs to exactly one flow, except tunnelled ones which count twice
    let tunnelled = obs.iter().filter(|o| o.tunnelled).count() as u64;
    assert_eq!(
        counted,
        exp["capture"]["packets"].as_u64().unwrap() + tunnelled
    );
    let vxlan = flows.iter().find(|f| f["app"] == "vxlan").unwrap();
    assert_eq!(
        tunnelled,
        vxlan["to_server"]["packets"].as_u64().unwrap()
            + vxlan["to_client"]["packets"].as_u64().unwrap()
    );
    // the scene's promises
    let s = &exp["summary"];
    assert_eq!(s["flows_by_app"]["quic"], 2);
    let end = |state: &str| flows.iter().filter(|f| f["tcp_end"] == state).count();
    assert_eq!((end("rst"), end("open")), (1, 1));
    assert!(end("fin") >= 10);
    let ntp: Vec<&Value> = flows.iter().filter(|f| f["app"] == "ntp").collect();
    assert_eq!(ntp.len(), 2);
    assert!(ntp[1]["idle_gap_before_us"].as_u64().unwrap() > 120_000_000);
    assert_eq!(
        flows
            .iter()
            .map(|f| f["ipv4_fragments"].as_u64().unwrap())
            .sum::<u64>(),
        2
    );
    assert!(flows
        .iter()
        .any(|f| f["vlan"].as_array().unwrap().len() == 2));
    let first = exp["capture"]["first_ts_us"].as_u64().unwrap();
    let last = exp["capture"]["last_ts_us"].as_u64().unwrap();
    assert!(
        last - first > 500_000_000,
        "about ten minutes of capture time"
    );
}

// A ClientHello reader independent of gencap::tls: returns (SNI, JA3 string).
fn parse_hello(rec: &[u8]) -> (Option<String>, String) {
    assert_eq!(rec[0], 22);
    let hs = &rec[5..];
    assert_eq!(hs[0], 1);
    let body = &hs[4..];
    let version = u16::from_be_bytes([body[0], body[1]]);
    let mut i = 2 + 32;
    i += 1 + body[i] as usize;
    let clen = u16::from_be_bytes([body[i], body[i + 1]]) as usize;
    let grease = |v: u16| v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff;
    let ciphers: Vec<u16> = body[i + 2..i + 2 + clen]
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .filter(|c| !grease(*c))
        .collect();
    i += 2 + clen;
    i += 1 + body[i] as usize;
    let elen = u16::from_be_bytes([body[i], body[i + 1]]) as usize;
    let mut ext = &body[i + 2..i + 2 + elen];
    let (mut sni, mut types, mut groups, mut formats) = (None, vec![], vec![], vec![]);
    while !ext.is_empty() {
        let t = u16::from_be_bytes([ext[0], ext[1]]);
        let l = u16::from_be_bytes([ext[2], ext[3]]) as usize;
        let d = &ext[4..4 + l];
        if !grease(t) {
            types.push(t);
        }
        match t {
            0 => sni = Some(String::from_utf8(d[5..].to_vec()).unwrap()),
            10 => {
                groups = d[2..]
                    .chunks(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .filter(|g| !grease(*g))
                    .collect()
            }
            11 => formats = d[1..].to_vec(),
            _ => {}
        }
        ext = &ext[4 + l..];
    }
    let j = |v: Vec<String>| v.join("-");
    let ja3 = format!(
        "{version},{},{},{},{}",
        j(ciphers.iter().map(u16::to_string).collect()),
        j(types.iter().map(u16::to_string).collect()),
        j(groups.iter().map(u16::to_string).collect()),
        j(formats.iter().map(u8::to_string).collect())
    );
    (sni, ja3)
}

#[test]
fn expected_names_and_fingerprints_match_the_wire() {
    let (exp, obs) = demo_observations();
    let mut checked = 0;
    for f in exp["flows"].as_array().unwrap() {
        let pk = flow_packets(f, &obs);
        // TLS over TCP (directly or after CONNECT): the client's bytes from the first record
        if f["transport"] == "tcp" && f.get("tls").is_some() {
            let up: Vec<u8> = pk
                .iter()
                .filter(|(c, _)| *c)
                .flat_map(|(_, o)| o.l4_payload.clone())
                .collect();
            let start = up.iter().position(|b| *b == 22).unwrap();
            let (sni, ja3) = parse_hello(&up[start..]);
            let t = &f["tls"];
            assert_eq!(sni.as_deref(), t["sni"].as_str(), "flow {}", f["id"]);
            assert_eq!(ja3, t["ja3"].as_str().unwrap(), "flow {}", f["id"]);
            let md5: String = Md5::digest(ja3.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(md5, t["ja3_md5"].as_str().unwrap());
            checked += 1;
        }
        if f["app"] == "http" || f["app"] == "http-connect" {
            let up: Vec<u8> = pk
                .iter()
                .filter(|(c, _)| *c)
                .flat_map(|(_, o)| o.l4_payload.clone())
                .collect();
            let text = String::from_utf8_lossy(&up);
            if let Some(h) = f["names"]["http_host"].as_str() {
                assert!(text.contains(&format!("\r\nHost: {h}\r\n")), "{text}");
            }
            if let Some(c) = f["names"]["connect_target"].as_str() {
                assert!(text.starts_with(&format!("CONNECT {c} HTTP/1.1\r\n")));
            }
            checked += 1;
        }
        if f["app"] == "dns" {
            let q = pk.iter().find(|(c, _)| *c).unwrap().1;
            // QNAME as labels after the 12-byte header
            let mut i = 12;
            let mut labels = vec![];
            while q.l4_payload[i] != 0 {
                let l = q.l4_payload[i] as usize;
                labels.push(String::from_utf8(q.l4_payload[i + 1..i + 1 + l].to_vec()).unwrap());
                i += 1 + l;
            }
            assert_eq!(labels.join("."), f["names"]["dns_query"].as_str().unwrap());
            checked += 1;
        }
    }
    assert_eq!(checked, 16 + 3 + 21);
    // the published JA4s for the fixed-order Chrome 143 and WinINET hellos are in the scene
    let ja4: Vec<&str> = exp["summary"]["ja4"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(ja4.contains(&"t13d1516h2_8daaf6152771_d8a2da3f94cd"));
    assert!(ja4.contains(&"t12d190800_d83cc789557e_7af1ed941c26"));
}
