//! Evidence bundles (`replay --evidence`): each finding's pcapng holds exactly
//! the first packets of the flows behind it, checked against an independent
//! reading of the source capture (libpcap and a small decoder here, with the
//! flows taken from the EVE output), opened with tshark, and the manifest
//! checked with sha256sum.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// EVE's `2025-03-03T12:00:02.000123+0000` (UTC only) in ns.
fn eve_ns(s: &str) -> u64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    assert_eq!(&s[26..], "+0000");
    let secs = days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19);
    secs as u64 * 1_000_000_000 + n(20, 26) as u64 * 1000
}

/// A frame (or reassembled datagram) of the source capture as this test
/// decodes it, independently of phonehome's decoder.
#[derive(Clone, Debug)]
struct Unit {
    ts: u64,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    vlan: Vec<u16>,
    /// Outer addresses of a VXLAN tunnel.
    tunnel: Option<(IpAddr, IpAddr)>,
    /// The frames as captured: (ts, bytes).
    frames: Vec<(u64, Vec<u8>)>,
}

struct Ip {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    /// IPv4 fragment: (id, more fragments, offset in bytes).
    frag: Option<(u16, bool, usize)>,
    payload: Vec<u8>,
}

fn ip(b: &[u8]) -> Option<Ip> {
    match b.first()? >> 4 {
        4 => {
            let ihl = usize::from(b[0] & 15) * 4;
            let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
            let fo = u16::from_be_bytes([b[6], b[7]]);
            let (more, off) = (fo & 0x2000 != 0, usize::from(fo & 0x1fff) * 8);
            let src: [u8; 4] = b[12..16].try_into().ok()?;
            let dst: [u8; 4] = b[16..20].try_into().ok()?;
            Some(Ip {
                src: IpAddr::from(src),
                dst: IpAddr::from(dst),
                proto: b[9],
                frag: (more || off > 0).then_some((u16::from_be_bytes([b[4], b[5]]), more, off)),
                payload: b.get(ihl..total.min(b.len()))?.to_vec(),
            })
        }
        6 => {
            let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
            let src: [u8; 16] = b[8..24].try_into().ok()?;
            let dst: [u8; 16] = b[24..40].try_into().ok()?;
            Some(Ip {
                src: IpAddr::from(src),
                dst: IpAddr::from(dst),
                proto: b[6],
                frag: None,
                payload: b.get(40..(40 + len).min(b.len()))?.to_vec(),
            })
        }
        _ => None,
    }
}

/// Ethernet, VLAN tags, IPv4/IPv6, and VXLAN inside UDP 4789.
fn ether(f: &[u8]) -> Option<(Vec<u16>, Ip)> {
    let mut at = 12;
    let mut vlan = Vec::new();
    let mut et = u16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]);
    while matches!(et, 0x8100 | 0x88a8) {
        vlan.push(u16::from_be_bytes([f[at + 2], f[at + 3]]) & 0xfff);
        at += 4;
        et = u16::from_be_bytes([f[at], f[at + 1]]);
    }
    if !matches!(et, 0x0800 | 0x86dd) {
        return None;
    }
    Some((vlan, ip(&f[at + 2..])?))
}

fn ports(p: &[u8]) -> (u16, u16) {
    if p.len() < 4 {
        return (0, 0);
    }
    (
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    )
}

/// Reads a capture with libpcap (nanosecond times).
fn read_pcap(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut cap = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano).unwrap();
    let mut out = Vec::new();
    while let Ok(p) = cap.next_packet() {
        let ts = p.header.ts.tv_sec as u64 * 1_000_000_000 + p.header.ts.tv_usec as u64;
        out.push((ts, p.data.to_vec()));
    }
    out
}

/// The capture as units, in the order a reader completes them.
fn units(path: &Path) -> Vec<Unit> {
    let mut out = Vec::new();
    // (src, dst, id) → frames so far, and the first fragment's ports.
    type Pending = (Vec<(u64, Vec<u8>)>, Option<(u16, u16)>);
    let mut frags: BTreeMap<(IpAddr, IpAddr, u16), Pending> = BTreeMap::new();
    for (ts, f) in read_pcap(path) {
        let Some((vlan, mut p)) = ether(&f) else {
            continue;
        };
        let mut vlan = vlan;
        let mut tunnel = None;
        if p.proto == 17 && ports(&p.payload).1 == 4789 && p.frag.is_none() {
            if let Some((v, inner)) = ether(&p.payload[16..]) {
                tunnel = Some((p.src, p.dst));
                vlan = v;
                p = inner;
            }
        }
        let (sport, dport, frames) = match p.frag {
            None => {
                let (s, d) = ports(&p.payload);
                (s, d, vec![(ts, f.clone())])
            }
            Some((id, more, off)) => {
                let e = frags.entry((p.src, p.dst, id)).or_default();
                e.0.push((ts, f.clone()));
                if off == 0 {
                    e.1 = Some(ports(&p.payload));
                }
                if more {
                    continue;
                }
                let (frames, ports) = frags.remove(&(p.src, p.dst, id)).unwrap();
                let (s, d) = ports.expect("first fragment before the last");
                (s, d, frames)
            }
        };
        let (sport, dport) = if matches!(p.proto, 6 | 17) {
            (sport, dport)
        } else {
            (0, 0)
        };
        out.push(Unit {
            ts,
            src: p.src,
            dst: p.dst,
            sport,
            dport,
            proto: p.proto,
            vlan,
            tunnel,
            frames,
        });
    }
    out
}

/// A flow as EVE tells it: 5-tuple, VLAN, tunnel and its records' times.
#[derive(Clone, Debug)]
struct EveFlow {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    vlan: Vec<u16>,
    tunnel: Option<(IpAddr, IpAddr)>,
    ranges: Vec<(u64, u64)>,
    community_id: String,
    /// pkts_toserver + pkts_toclient over the flow's records.
    pkts: u64,
}

impl EveFlow {
    fn has(&self, u: &Unit) -> bool {
        let same = |a: (IpAddr, u16), b: (IpAddr, u16)| {
            (a == (self.src, self.sport) && b == (self.dst, self.dport))
                || (b == (self.src, self.sport) && a == (self.dst, self.dport))
        };
        let tunnel_ok = match (self.tunnel, u.tunnel) {
            (None, None) => true,
            (Some((a, b)), Some((c, d))) => (a, b) == (c, d) || (a, b) == (d, c),
            _ => false,
        };
        u.proto == self.proto
            && same((u.src, u.sport), (u.dst, u.dport))
            && u.vlan == self.vlan
            && tunnel_ok
            && self.ranges.iter().any(|&(a, b)| a <= u.ts && u.ts <= b)
    }
}

fn proto_num(p: &str) -> u8 {
    match p {
        "TCP" => 6,
        "UDP" => 17,
        "ICMP" => 1,
        "IPv6-ICMP" => 58,
        other => other.parse().unwrap(),
    }
}

type FindingKey = (String, String, String);

/// Per finding, its flows (by flow_id) from the EVE events: attributed flow
/// records of the host, and DNS events of the host that matched the product.
fn finding_flows(events: &[Value]) -> BTreeMap<FindingKey, BTreeMap<u64, EveFlow>> {
    let mut records: BTreeMap<u64, EveFlow> = BTreeMap::new();
    for e in events.iter().filter(|e| e["event_type"] == "flow") {
        let id = e["flow_id"].as_u64().unwrap();
        let (a, b) = (
            eve_ns(e["flow"]["start"].as_str().unwrap()),
            eve_ns(e["flow"]["end"].as_str().unwrap()),
        );
        let r = records.entry(id).or_insert_with(|| EveFlow {
            src: e["src_ip"].as_str().unwrap().parse().unwrap(),
            dst: e["dest_ip"].as_str().unwrap().parse().unwrap(),
            sport: e["src_port"].as_u64().unwrap_or(0) as u16,
            dport: e["dest_port"].as_u64().unwrap_or(0) as u16,
            proto: proto_num(e["proto"].as_str().unwrap()),
            vlan: e["vlan"]
                .as_array()
                .map(|v| v.iter().map(|x| x.as_u64().unwrap() as u16).collect())
                .unwrap_or_default(),
            tunnel: e.get("tunnel").map(|t| {
                (
                    t["src_ip"].as_str().unwrap().parse().unwrap(),
                    t["dest_ip"].as_str().unwrap().parse().unwrap(),
                )
            }),
            ranges: Vec::new(),
            community_id: e["community_id"].as_str().unwrap().to_string(),
            pkts: 0,
        });
        r.ranges.push((a, b));
        r.pkts += e["flow"]["pkts_toserver"].as_u64().unwrap()
            + e["flow"]["pkts_toclient"].as_u64().unwrap();
    }
    let alerts: BTreeSet<FindingKey> = events
        .iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|a| {
            let p = &a["phonehome"];
            (
                p["host"].as_str().unwrap().to_string(),
                p["vendor"].as_str().unwrap().to_string(),
                p["product"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut out: BTreeMap<FindingKey, BTreeMap<u64, EveFlow>> = alerts
        .iter()
        .map(|k| (k.clone(), BTreeMap::new()))
        .collect();
    for e in events {
        let Some(m) = e["phonehome"].get("match") else {
            continue;
        };
        let t = e["event_type"].as_str().unwrap();
        if !matches!(t, "flow" | "dns" | "mdns" | "llmnr") {
            continue;
        }
        let key = (
            ip_text(e["src_ip"].as_str().unwrap()),
            m["vendor"].as_str().unwrap().to_string(),
            m["product"].as_str().unwrap().to_string(),
        );
        if let Some(flows) = out.get_mut(&key) {
            let id = e["flow_id"].as_u64().unwrap();
            let rec = records
                .get(&id)
                .unwrap_or_else(|| panic!("flow {id} of {key:?} has no flow record"));
            flows.insert(id, rec.clone());
        }
    }
    out
}

/// What the bundle's file for a finding must hold: the first `n` packets of
/// each of its flows, as (ts, bytes) with multiplicity.
fn expected(
    units: &[Unit],
    flows: &BTreeMap<u64, EveFlow>,
    n: usize,
) -> (BTreeMap<(u64, Vec<u8>), usize>, usize) {
    let mut want = BTreeMap::new();
    let mut cut = 0;
    for f in flows.values() {
        let mut taken = 0;
        for u in units.iter().filter(|u| f.has(u)) {
            if taken + u.frames.len() > n {
                cut += 1;
                break;
            }
            taken += u.frames.len();
            for fr in &u.frames {
                *want.entry(fr.clone()).or_insert(0) += 1;
            }
        }
    }
    (want, cut)
}

fn tool(name: &str, args: &[&str], dir: Option<&Path>) -> String {
    let mut c = Command::new(name);
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let out = c.output().unwrap_or_else(|e| {
        panic!("{name} is needed for this test (scripts/test installs it): {e}")
    });
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Bundle {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    events: Vec<Value>,
    stderr: String,
}

fn bundle(capture: &Path, extra: &[&str]) -> Bundle {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    let eve = dir.join("eve.json");
    let mut args = vec![
        "replay",
        capture.to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
        "--evidence",
        dir.to_str().unwrap(),
        "--workers",
        "2",
    ];
    args.extend_from_slice(extra);
    let run = phonehome(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Bundle {
        _tmp: tmp,
        dir,
        events,
        stderr: run.stderr,
    }
}

/// Everything the bundle must satisfy; returns (files, packets, flows cut).
fn check_bundle(capture: &Path, b: &Bundle, n: usize) -> (usize, usize, usize) {
    let flows = finding_flows(&b.events);
    let units = units(capture);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(b.dir.join("findings.json")).unwrap())
            .unwrap();
    assert_eq!(doc["format"], "phonehome-evidence-1");
    assert_eq!(doc["limits"]["packets_per_flow"], n as u64);
    // The capture and EVE file are named with their hashes.
    let (cap_hash, eve_hash) = (
        tool("sha256sum", &[capture.to_str().unwrap()], None),
        tool(
            "sha256sum",
            &[b.dir.join("eve.json").to_str().unwrap()],
            None,
        ),
    );
    assert_eq!(
        doc["inputs"][0]["sha256"].as_str().unwrap(),
        &cap_hash[..64]
    );
    assert_eq!(doc["eve"]["sha256"].as_str().unwrap(), &eve_hash[..64]);
    assert_eq!(doc["eve"]["in_bundle"], "eve.json");
    let listed = doc["findings"].as_array().unwrap();
    assert_eq!(listed.len(), flows.len(), "one evidence file per finding");
    let (mut total, mut cut_total) = (0, 0);
    for f in listed {
        let key = (
            f["host"].as_str().unwrap().to_string(),
            f["vendor"].as_str().unwrap().to_string(),
            f["product"].as_str().unwrap().to_string(),
        );
        let fl = &flows[&key];
        assert!(!fl.is_empty(), "{key:?} has no flows in EVE");
        let (want, cut) = expected(&units, fl, n);
        let file = b.dir.join(f["packets"]["file"].as_str().unwrap());
        let got: BTreeMap<(u64, Vec<u8>), usize> =
            read_pcap(&file)
                .into_iter()
                .fold(BTreeMap::new(), |mut m, p| {
                    *m.entry(p).or_insert(0) += 1;
                    m
                });
        let count: usize = want.values().sum();
        assert!(count > 0, "{key:?}: no packets expected");
        assert_eq!(
            got.values().sum::<usize>(),
            count,
            "{key:?}: packet count in {}",
            file.display()
        );
        assert_eq!(got, want, "{key:?}: packets of {}", file.display());
        assert_eq!(f["packets"]["packets"], count as u64, "{key:?}");
        assert_eq!(f["packets"]["flows"], fl.len() as u64, "{key:?}");
        assert_eq!(f["packets"]["flows_cut"], cut as u64, "{key:?}");
        total += count;
        cut_total += cut;
        // tshark opens it, sees the same packets, and every packet's comment
        // names one of the finding's flows.
        let out = tool(
            "tshark",
            &[
                "-r",
                file.to_str().unwrap(),
                "-T",
                "fields",
                "-E",
                "separator=|",
                "-e",
                "frame.time_epoch",
                "-e",
                "frame.comment",
            ],
            None,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), count, "{key:?}: tshark's packet count");
        let cids: Vec<&str> = fl.values().map(|f| f.community_id.as_str()).collect();
        let mut tshark_ts: Vec<u64> = Vec::new();
        for l in &lines {
            let (ts, comment) = l.split_once('|').unwrap();
            let (sec, frac) = ts.split_once('.').unwrap();
            tshark_ts
                .push(sec.parse::<u64>().unwrap() * 1_000_000_000 + frac.parse::<u64>().unwrap());
            assert!(
                comment.starts_with("phonehome flow 1:")
                    && cids.iter().any(|c| comment.contains(c)),
                "{key:?}: comment {comment:?} names none of {cids:?}"
            );
        }
        tshark_ts.sort_unstable();
        let mut want_ts: Vec<u64> = want
            .iter()
            .flat_map(|((t, _), n)| std::iter::repeat_n(*t, *n))
            .collect();
        want_ts.sort_unstable();
        assert_eq!(tshark_ts, want_ts, "{key:?}: tshark's timestamps");
        let info = tool("capinfos", &["-k", file.to_str().unwrap()], None);
        let reason = f["reason"].as_str().unwrap();
        assert!(
            info.contains(&format!("phonehome finding: {reason}")),
            "{key:?}: section comment missing in {info}"
        );
        assert!(info.contains(&format!(
            "host {}; vendor {}; product {};",
            key.0, key.1, key.2
        )));
    }
    // The manifest covers every file and checks.
    let check = tool("sha256sum", &["-c", "MANIFEST.sha256"], Some(&b.dir));
    let ok = check.lines().filter(|l| l.ends_with(": OK")).count();
    assert_eq!(ok, listed.len() + 3, "{check}");
    assert!(check.contains("findings.json: OK") && check.contains("eve.json: OK"));
    (listed.len(), total, cut_total)
}

/// A second, coarser reading for bundles written without a per-flow bound
/// (and without IP fragments or tunnels): per finding, the packet count of
/// its file as capinfos reads it equals the packets the EVE flow records
/// counted (pkts_toserver + pkts_toclient) and the packets tshark's own
/// dissector finds in the source capture on the flows' 5-tuples (ICMP errors
/// quoting a flow's header are not the flow's packets). Returns the counts.
fn cross_check_counts(capture: &Path, b: &Bundle) -> BTreeMap<FindingKey, usize> {
    let flows = finding_flows(&b.events);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(b.dir.join("findings.json")).unwrap())
            .unwrap();
    let mut out = BTreeMap::new();
    for f in doc["findings"].as_array().unwrap() {
        let key = (
            f["host"].as_str().unwrap().to_string(),
            f["vendor"].as_str().unwrap().to_string(),
            f["product"].as_str().unwrap().to_string(),
        );
        let fl = &flows[&key];
        let eve_pkts: u64 = fl.values().map(|f| f.pkts).sum();
        let file = b.dir.join(f["packets"]["file"].as_str().unwrap());
        let info = tool("capinfos", &["-c", "-M", file.to_str().unwrap()], None);
        let in_file: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("Number of packets:"))
            .unwrap_or_else(|| panic!("no packet count from capinfos: {info}"))
            .trim()
            .parse()
            .unwrap();
        let tuples: Vec<String> = fl
            .values()
            .map(|f| {
                let ip = if f.src.is_ipv4() { "ip" } else { "ipv6" };
                let l4 = match f.proto {
                    6 => "tcp",
                    17 => "udp",
                    p => panic!("{key:?}: a flow of protocol {p}"),
                };
                format!(
                    "({ip}.addr == {} and {ip}.addr == {} and {l4}.port == {} and {l4}.port == {})",
                    f.src, f.dst, f.sport, f.dport
                )
            })
            .collect();
        let filter = format!("not icmp and not icmpv6 and ({})", tuples.join(" or "));
        let listed = tool(
            "tshark",
            &[
                "-r",
                capture.to_str().unwrap(),
                "-Y",
                &filter,
                "-T",
                "fields",
                "-e",
                "frame.number",
            ],
            None,
        );
        let by_tshark = listed.lines().count() as u64;
        assert_eq!(
            (in_file, by_tshark),
            (eve_pkts, eve_pkts),
            "{key:?}: packets in {} / by tshark on the source's 5-tuples / counted by the EVE flow records",
            file.display()
        );
        out.insert(key, in_file as usize);
    }
    out
}

#[test]
fn demo_bundle_holds_exactly_the_findings_packets() {
    let cap = root().join("captures/demo.pcap");
    let b = bundle(&cap, &[]);
    let (files, packets, cut) = check_bundle(&cap, &b, 50);
    // 15 findings; the CrowdStrike heartbeats and two bulk transfers run past
    // 50 packets; the IPv4-fragmented DNS answer is there as two fragments.
    assert_eq!((files, cut), (15, 3));
    assert_eq!(packets, 442);
    assert!(
        b.stderr
            .contains("evidence: 15 pcapng file(s), 442 packets"),
        "{}",
        b.stderr
    );
    let kas = b
        .dir
        .join("packets/10.1.20.21_Kaspersky_Kaspersky_Endpoint_Security.pcapng");
    let out = tool(
        "tshark",
        &[
            "-r",
            kas.to_str().unwrap(),
            "-Y",
            "ip.flags.mf == 1 or ip.frag_offset > 0",
            "-T",
            "fields",
            "-e",
            "ip.id",
            "-e",
            "frame.comment",
        ],
        None,
    );
    let frags: Vec<&str> = out.lines().collect();
    assert_eq!(frags.len(), 2, "{out}");
    assert!(frags[0].starts_with("0x20b5\t") && frags[0].ends_with("IP fragment 1 of 2"));
    assert!(frags[1].ends_with("IP fragment 2 of 2"));
    // The VM's flow inside VXLAN is written as captured, outer headers included.
    let vm = b
        .dir
        .join("packets/10.1.71.15_SentinelOne_Singularity.pcapng");
    let out = tool(
        "tshark",
        &[
            "-r",
            vm.to_str().unwrap(),
            "-Y",
            "vxlan",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
        None,
    );
    assert!(out.lines().count() >= 10, "{out}");
}

#[test]
fn realstack_bundle_with_a_small_per_flow_bound() {
    let cap = root().join("captures/realstack.pcap");
    let policy = root().join("tests/data/realstack-policy.toml");
    let b = bundle(
        &cap,
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--evidence-packets",
            "5",
        ],
    );
    let (files, packets, cut) = check_bundle(&cap, &b, 5);
    assert_eq!(files, 14);
    // 12 flows run past 5 packets; every count above was checked flow by flow.
    assert_eq!((packets, cut), (98, 12));
}

#[test]
fn realstack_bundle_holds_every_packet_of_the_findings_flows() {
    let cap = root().join("captures/realstack.pcap");
    let policy = root().join("tests/data/realstack-policy.toml");
    let b = bundle(
        &cap,
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--evidence-packets",
            "100000",
        ],
    );
    let (files, packets, cut) = check_bundle(&cap, &b, 100_000);
    assert_eq!((files, packets, cut), (14, 229, 0));
    let counts = cross_check_counts(&cap, &b);
    assert_eq!(counts.len(), 14);
    assert_eq!(counts.values().sum::<usize>(), 229);
    assert_eq!(
        counts[&(
            "2001:db8:20::13".to_string(),
            "SentinelOne".to_string(),
            "Singularity".to_string()
        )],
        9
    );
}

/// Real captures of the shared corpus with security-product telemetry (see
/// tests/findings.rs), every address taken as internal: (capture, files,
/// packets in all).
const CORPUS_BUNDLES: &[(&str, usize, usize)] = &[
    // Defender cloud protection (TLS to wdcp.microsoft.com) and its DNS.
    ("ndpi/tls_certificate_too_long.pcap", 2, 97),
    // Sophos Central and Cisco Umbrella; a TCP flow of it drew an ICMP
    // "fragmentation needed" that is not one of its packets.
    ("foxio-ja4/ssh2.pcapng", 2, 87),
    // The Umbrella block page.
    ("ndpi/malware.pcap", 1, 22),
];

#[test]
fn corpus_bundles_hold_exactly_the_findings_packets() {
    let policy = root().join("tests/data/everything-internal.toml");
    for &(name, want_files, want_packets) in CORPUS_BUNDLES {
        let cap = shared().join("captures").join(name);
        assert!(cap.is_file(), "{} is missing", cap.display());
        let b = bundle(
            &cap,
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--evidence-packets",
                "100000",
            ],
        );
        let (files, packets, cut) = check_bundle(&cap, &b, 100_000);
        assert_eq!(
            (files, packets, cut),
            (want_files, want_packets, 0),
            "{name}"
        );
        let counts = cross_check_counts(&cap, &b);
        assert_eq!(counts.values().sum::<usize>(), want_packets, "{name}");
    }
}

#[test]
fn a_tampered_bundle_fails_its_manifest() {
    let cap = root().join("captures/realstack.pcap");
    let policy = root().join("tests/data/realstack-policy.toml");
    let b = bundle(&cap, &["--policy", policy.to_str().unwrap(), "-q"]);
    let ok = Command::new("sha256sum")
        .args(["-c", "--quiet", "MANIFEST.sha256"])
        .current_dir(&b.dir)
        .output()
        .expect("sha256sum is needed for this test");
    assert!(ok.status.success());
    // One bit of one packet changed: sha256sum names that file and only it.
    let rel = "packets/10.20.0.16_Kaspersky_Kaspersky_Endpoint_Security.pcapng";
    let path = b.dir.join(rel);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let bad = Command::new("sha256sum")
        .args(["-c", "MANIFEST.sha256"])
        .current_dir(&b.dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let text = String::from_utf8_lossy(&bad.stdout);
    let failed: Vec<&str> = text.lines().filter(|l| l.ends_with(": FAILED")).collect();
    assert_eq!(failed, [format!("{rel}: FAILED")], "{text}");
    // phonehome report refuses it as well, naming the file.
    let out = b.dir.parent().unwrap().join("report");
    let run = phonehome(&[
        "report",
        b.dir.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{rel}: SHA-256 differs")),
        "{}",
        run.stderr
    );
    // A file added after the fact is no part of the bundle; one removed is.
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    std::fs::remove_file(b.dir.join("findings.json")).unwrap();
    let run = phonehome(&[
        "report",
        b.dir.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("findings.json"), "{}", run.stderr);
    assert_eq!(
        run.stderr.trim().lines().count(),
        1,
        "one line: {}",
        run.stderr
    );
}

#[test]
fn a_used_evidence_directory_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("old.pcapng"), b"x").unwrap();
    let eve = tmp.path().join("eve.json");
    let cap = root().join("captures/demo.pcap");
    let run = phonehome(&[
        "replay",
        cap.to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
        "--evidence",
        tmp.path().to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("is not empty"), "{}", run.stderr);
    assert!(!eve.exists());
    let run = phonehome(&[
        "replay",
        cap.to_str().unwrap(),
        "--evidence-packets",
        "5",
        "--eve",
        "-",
    ]);
    assert_eq!(run.code, 2, "--evidence-packets needs --evidence");
}
