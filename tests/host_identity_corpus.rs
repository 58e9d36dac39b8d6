//! The DHCP and NBNS dissectors, and the mDNS host-name claims, against
//! tshark on every shared capture that holds them.
//!
//! Every capture of the corpus is walked with phonehome's own decoder; each
//! capture where a UDP datagram on port 67/68 (DHCP), 137 (NBNS) or 5353
//! (mDNS) turned up is then read by tshark, and the two must agree frame by
//! frame: the same frames, and the same header fields, addresses, names and
//! options. tshark is a test dependency (scripts/test installs it); a
//! missing tshark fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::shared;
use phonehome::capture::{Block, CaptureFile};
use phonehome::decode::{decode, DecodeStats, Decoded, L4};
use phonehome::dissect::hostid::{self, ClaimAction};
use phonehome::dissect::{dhcp, dns, nbns};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

/// What our decoder saw in one capture, keyed by 1-based frame number.
#[derive(Default)]
struct Seen {
    dhcp: BTreeMap<u64, Result<dhcp::DhcpMessage, dhcp::NotDhcp>>,
    nbns: BTreeMap<u64, (IpAddr, Result<nbns::NbnsMessage, nbns::NotNbns>)>,
    mdns: BTreeMap<u64, (IpAddr, dns::DnsMessage)>,
    fragments: u64,
}

fn walk(path: &Path) -> Seen {
    let mut seen = Seen::default();
    let Ok(mut f) = CaptureFile::open(path) else {
        return seen;
    };
    let mut block = Block::with_buffer(Vec::new(), None);
    let mut stats = DecodeStats::default();
    let mut frame = 0u64;
    loop {
        let more = f.fill(&mut block, 1 << 20);
        for p in &block.packets {
            frame += 1;
            let pkt = match decode(p.linktype, block.bytes(p), &mut stats) {
                Decoded::Packet(pkt) if pkt.l4 == L4::Udp && pkt.tunnel.is_none() => pkt,
                Decoded::Fragment => {
                    seen.fragments += 1;
                    continue;
                }
                _ => continue,
            };
            let port = |p: u16| pkt.sport == p || pkt.dport == p;
            if port(dhcp::SERVER_PORT) || port(dhcp::CLIENT_PORT) {
                seen.dhcp.insert(frame, dhcp::parse(pkt.payload));
            } else if port(nbns::PORT) {
                seen.nbns.insert(frame, (pkt.src, nbns::parse(pkt.payload)));
            } else if port(dns::MDNS_PORT) {
                if let Ok(m) = dns::parse_message(pkt.payload) {
                    seen.mdns.insert(frame, (pkt.src, m));
                }
            }
        }
        match more {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
    }
    seen
}

/// tshark's fields for the frames matching `filter`: frame number → columns.
fn tshark(path: &Path, filter: &str, fields: &[&str]) -> BTreeMap<u64, Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path).args([
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-e",
        "frame.number",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark is needed for this test (scripts/test installs it)");
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut cols: Vec<String> = l.split('\t').map(str::to_owned).collect();
            cols.resize(fields.len() + 1, String::new());
            let frame = cols.remove(0).parse().unwrap();
            (frame, cols)
        })
        .collect()
}

const DHCP_FIELDS: &[&str] = &[
    "dhcp.type",
    "dhcp.id",
    "dhcp.hw.mac_addr",
    "dhcp.ip.client",
    "dhcp.ip.your",
    "dhcp.option.dhcp",
    "dhcp.option.hostname",
    "dhcp.fqdn.name",
    "dhcp.option.requested_ip_address",
    "dhcp.option.dhcp_server_id",
    "dhcp.option.ip_address_lease_time",
    "dhcp.option.vendor_class_id",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Our message in tshark's columns. Fields that come from options are empty
/// when tshark would not have reached them (a message cut inside the header).
fn dhcp_columns(m: &dhcp::DhcpMessage) -> Vec<String> {
    let macs: Vec<String> = [m.client_mac(), m.client_id_mac()]
        .into_iter()
        .flatten()
        .map(|m| m.to_string())
        .collect();
    vec![
        m.op.to_string(),
        format!("0x{:08x}", m.xid),
        macs.join(","),
        m.ciaddr.to_string(),
        m.yiaddr.to_string(),
        opt(m.message_type.map(|t| t.code())),
        opt(m.hostname.as_ref()),
        opt(m.client_fqdn.as_ref().map(|f| &f.name)),
        opt(m.requested_ip),
        opt(m.server_id),
        opt(m.lease_time),
        opt(m.vendor_class.as_ref()),
    ]
}

const NBNS_FIELDS: &[&str] = &[
    "nbns.id",
    "nbns.flags.response",
    "nbns.flags.opcode",
    "nbns.count.queries",
    "nbns.count.answers",
    "nbns.count.auth_rr",
    "nbns.count.add_rr",
    "nbns.name",
    "nbns.type",
    "nbns.addr",
    "nbns.nb_flags",
];

fn nb_name(n: &Option<nbns::NbName>) -> String {
    match n {
        Some(n) => n.display(),
        None => "<illegal>".into(),
    }
}

fn nbns_columns(m: &nbns::NbnsMessage) -> Vec<String> {
    let mut names = Vec::new();
    let mut types = Vec::new();
    let mut addrs = Vec::new();
    let mut flags = Vec::new();
    for q in &m.questions {
        names.push(nb_name(&q.name));
        types.push(q.qtype.to_string());
    }
    for r in m.records() {
        names.push(nb_name(&r.name));
        types.push(r.rtype.to_string());
        if let nbns::NbRdata::Nb(entries) = &r.rdata {
            for e in entries {
                addrs.push(e.addr.to_string());
                flags.push(format!("0x{:04x}", e.flags));
            }
        }
    }
    vec![
        format!("0x{:04x}", m.id),
        u8::from(m.response).to_string(),
        m.opcode.code().to_string(),
        m.counts[0].to_string(),
        m.counts[1].to_string(),
        m.counts[2].to_string(),
        m.counts[3].to_string(),
        names.join(","),
        types.join(","),
        addrs.join(","),
        flags.join(","),
    ]
}

/// tshark's `nbns.name` for a record is `NAME<xx>` followed by a description
/// of the suffix (`WORKGROUP<1e> (Browser Election Service)`) and, for names
/// it cannot decode, a sentence: keep the name, and mark illegal ones as ours.
fn tshark_nb_names(col: &str) -> String {
    col.split(',')
        .filter(|s| !s.is_empty())
        .map(|n| {
            if n.starts_with("Illegal NetBIOS name") {
                "<illegal>".to_owned()
            } else {
                n.split(" (").next().unwrap_or(n).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Default)]
struct Tally {
    captures: usize,
    messages: usize,
    /// DHCP: cut by the snap length so early that tshark shows no field at all.
    /// NBNS: tshark marks the message malformed.
    odd: usize,
}

#[test]
fn dhcp_nbns_and_mdns_identity_match_tshark() {
    let root = shared().join("captures");
    let mut failures = Vec::new();
    let (mut d, mut n, mut m) = (Tally::default(), Tally::default(), Tally::default());
    let mut claims = 0usize;
    for rel in common::corpus() {
        let path = root.join(&rel);
        let seen = walk(&path);
        if !seen.dhcp.is_empty() {
            d.captures += 1;
            let theirs: Vec<(u64, Vec<String>)> =
                tshark(&path, "dhcp", DHCP_FIELDS).into_iter().collect();
            let mut ours = Vec::new();
            for (i, (f, r)) in seen.dhcp.iter().enumerate() {
                let Ok(msg) = r else {
                    failures.push(format!("dhcp {rel} frame {f}: not parsed: {r:?}"));
                    continue;
                };
                let mut cols = dhcp_columns(msg);
                // tshark reads the options first (for its summary) and, when
                // they run past the snap length, shows no field of the message.
                let blank = theirs
                    .get(i)
                    .is_some_and(|(_, t)| t.iter().all(String::is_empty));
                if blank {
                    d.odd += 1;
                    assert!(
                        msg.anomalies.truncated || msg.anomalies.no_end,
                        "{rel} frame {f}"
                    );
                    cols.iter_mut().for_each(String::clear);
                }
                ours.push((*f, cols));
            }
            compare("dhcp", &rel, &ours, &theirs, &mut failures);
            d.messages += ours.len();
            claims += seen
                .dhcp
                .values()
                .filter_map(|r| hostid::from_dhcp(r.as_ref().ok()?))
                .count();
        }
        if !seen.nbns.is_empty() {
            n.captures += 1;
            let malformed = tshark(&path, "nbns && _ws.malformed", &[]);
            let mut theirs: Vec<(u64, Vec<String>)> =
                tshark(&path, "nbns", NBNS_FIELDS).into_iter().collect();
            for (_, cols) in &mut theirs {
                cols[7] = tshark_nb_names(&cols[7]);
            }
            let mut ours = Vec::new();
            for (i, (f, (src, r))) in seen.nbns.iter().enumerate() {
                let Ok(msg) = r else {
                    failures.push(format!("nbns {rel} frame {f}: not parsed: {r:?}"));
                    continue;
                };
                claims += hostid::from_nbns(msg, *src).len();
                let mut cols = nbns_columns(msg);
                // tshark stops at the first malformed field and shows what it
                // had read; compare such messages on the header and the first
                // question, which both sides read whole.
                if let Some((tf, t)) = theirs.get_mut(i) {
                    if malformed.contains_key(tf) {
                        n.odd += 1;
                        // No name at all: the name ran past the message (an exception).
                        let first = match t[7].split(',').next().unwrap_or_default() {
                            "" => "<illegal>".to_owned(),
                            n => n.to_owned(),
                        };
                        t.truncate(7);
                        t.push(first);
                        let q = match msg.questions.first() {
                            Some(q) => nb_name(&q.name),
                            None => {
                                assert!(msg.anomalies.truncated, "{rel} frame {f}");
                                "<illegal>".to_owned()
                            }
                        };
                        cols.truncate(7);
                        cols.push(q);
                    }
                }
                ours.push((*f, cols));
            }
            compare("nbns", &rel, &ours, &theirs, &mut failures);
            n.messages += ours.len();
        }
        if !seen.mdns.is_empty() {
            m.captures += 1;
            m.messages += seen.mdns.len();
            let ours: Vec<String> = seen
                .mdns
                .values()
                .filter_map(|(src, msg)| hostid::from_mdns(msg, *src))
                .map(|c| {
                    let verb = if c.action == ClaimAction::Release {
                        "bye"
                    } else {
                        "bind"
                    };
                    format!("{verb} {} {}", opt(c.hostname.as_ref()), opt(c.address))
                })
                .collect();
            claims += ours.len();
            let theirs = tshark_mdns_claims(&path);
            if ours != theirs {
                failures.push(format!(
                    "mdns {rel}:\n  ours   {ours:?}\n  tshark {theirs:?}"
                ));
            }
        }
    }
    eprintln!(
        "dhcp: {} captures, {} messages agree ({} cut before tshark shows any field); \
         nbns: {} captures, {} messages agree ({} malformed, compared on header and first question); \
         mdns: {} captures, {} messages, host-name claims agree; {} identity claims in all",
        d.captures, d.messages, d.odd, n.captures, n.messages, n.odd, m.captures, m.messages, claims
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The corpus holds DHCP in the FoxIO, nDPI and pcapng-generator captures,
    // NBNS in the nDPI fuzz, Suricata and FoxIO ones, mDNS in nDPI and Zeek's.
    assert!(d.captures >= 5 && d.messages >= 40, "too little DHCP found");
    assert!(
        n.captures >= 4 && n.messages >= 100,
        "too little NBNS found"
    );
    assert!(m.captures >= 5 && claims >= 10, "too few identity claims");
}

/// The host-name claims tshark's dissection implies, in capture order: an
/// mDNS response (opcode 0, rcode 0) with an A/AAAA record for the sender's
/// own address under a one-label `.local` name (the first such record).
fn tshark_mdns_claims(path: &Path) -> Vec<String> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args([
            "-Y",
            "mdns && dns.flags.response == 1 && dns.flags.opcode == 0 && dns.flags.rcode == 0",
            "-T",
            "json",
        ])
        .output()
        .expect("tshark is needed for this test");
    assert!(out.status.success(), "tshark failed on {}", path.display());
    let packets: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut claims = Vec::new();
    for p in &packets {
        let layers = &p["_source"]["layers"];
        let src = layers["ip"]["ip.src"]
            .as_str()
            .or(layers["ipv6"]["ipv6.src"].as_str());
        let Some(src) = src.and_then(|s| s.parse::<IpAddr>().ok()) else {
            continue;
        };
        let mdns = &layers["mdns"];
        let records = ["Answers", "Additional records"]
            .iter()
            .filter_map(|s| mdns[*s].as_object())
            .flat_map(|o| o.values());
        for r in records {
            let addr = r["dns.a"].as_str().or(r["dns.aaaa"].as_str());
            let name = r["dns.resp.name"].as_str().unwrap_or_default();
            let name = name.strip_suffix('.').unwrap_or(name);
            let host = name
                .len()
                .checked_sub(6)
                .and_then(|cut| Some((name.get(..cut)?, name.get(cut..)?)))
                .filter(|(h, s)| {
                    s.eq_ignore_ascii_case(".local") && !h.is_empty() && !h.contains('.')
                })
                .map(|(h, _)| h);
            if let (Some(addr), Some(host)) = (addr, host) {
                if addr.parse::<IpAddr>().ok() == Some(src) {
                    let verb = if r["dns.resp.ttl"].as_str() == Some("0") {
                        "bye"
                    } else {
                        "bind"
                    };
                    claims.push(format!("{verb} {host} {src}"));
                    break;
                }
            }
        }
    }
    claims
}

/// Compares in capture order: tshark numbers pcapng custom blocks as frames,
/// our reader does not, so frame numbers can differ by the blocks before.
fn compare(
    what: &str,
    rel: &str,
    ours: &[(u64, Vec<String>)],
    theirs: &[(u64, Vec<String>)],
    failures: &mut Vec<String>,
) {
    if ours.len() != theirs.len() {
        failures.push(format!(
            "{what} {rel}: {} messages ours, {} tshark's",
            ours.len(),
            theirs.len()
        ));
    }
    for ((fa, a), (fb, b)) in ours.iter().zip(theirs) {
        if a != b {
            failures.push(format!(
                "{what} {rel} frame {fa} (tshark {fb}):\n  ours   {a:?}\n  tshark {b:?}"
            ));
        }
    }
}
