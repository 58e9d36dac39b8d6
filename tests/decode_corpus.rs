//! Decodes every capture of the shared corpus and compares the TCP and UDP
//! conversations found with tshark's (`shared/oracle/<capture>.flows.txt`).
//!
//! A conversation is an unordered pair of address:port endpoints (no VLAN, no
//! timeouts). Like tshark, the outermost tunnel's UDP conversation counts too
//! (VXLAN, Geneve, Teredo, GTP-U...). Remaining differences are definitions
//! that legitimately differ; each is listed in `EXPECTED` with its reason, and
//! any other difference (or a stale entry) fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use phonehome::capture::{Block, CaptureError, CaptureFile};
use phonehome::decode::{decode, shard, DecodeStats, Decoded, DefragLimits, Defragmenter, Shard};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// (capture, ours - tshark for TCP, ours - tshark for UDP, why).
const EXPECTED: &[(&str, i64, i64, &str)] = &[
    (
        "ndpi/fuzz-2006-09-29-28586.pcap",
        -1,
        0,
        "tshark numbers TCP streams: the pair 172.20.3.5:2601-172.20.3.13:80, \
         reused after its close, is two conversations there; we count pairs",
    ),
    (
        "tcpdump/esp_truncated.pcap",
        0,
        -1,
        "a lone first fragment, cut by the snap length, never completed: tshark \
         reads the UDP ports in it; flows come from whole datagrams only here",
    ),
];

fn shared() -> PathBuf {
    let p = std::env::var_os("PHONEHOME_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")));
    assert!(
        p.join("captures").is_dir() && p.join("oracle").is_dir(),
        "shared corpus not found at {} (set PHONEHOME_SHARED)",
        p.display()
    );
    p
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "expected") {
                files(&p, out);
            }
        } else {
            out.push(p);
        }
    }
}

type End = (IpAddr, u16);
type Conv = (End, End);

fn conv(a: End, b: End) -> Conv {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[derive(Default)]
struct Found {
    tcp: BTreeSet<Conv>,
    udp: BTreeSet<Conv>,
    packets: u64,
}

fn record(found: &mut Found, d: &Decoded) {
    let Decoded::Packet(p) = d else { return };
    if let Some(t) = p.tunnel {
        if t.proto == 17 {
            found.udp.insert(conv((t.src, t.sport), (t.dst, t.dport)));
        }
    }
    let c = conv((p.src, p.sport), (p.dst, p.dport));
    match p.proto {
        6 => {
            found.tcp.insert(c);
        }
        17 => {
            found.udp.insert(c);
        }
        _ => {}
    }
}

/// Decodes one capture; `None` when the file is not a capture at all.
fn run(path: &Path, stats: &mut DecodeStats) -> Option<Found> {
    let mut f = match CaptureFile::open(path) {
        Ok(f) => f,
        Err(CaptureError::NotACapture { .. }) => return None,
        Err(e) => panic!("{e}"),
    };
    let mut found = Found::default();
    let mut defrag = Defragmenter::new(DefragLimits::default());
    let mut block = Block::default();
    while let Ok(true) = f.fill(&mut block, 1 << 20) {
        for m in &block.packets {
            found.packets += 1;
            let bytes = block.bytes(m);
            let d = decode(m.linktype, bytes, stats);
            // shard must agree with decode on what is a fragment or IP at all.
            match (&d, shard(m.linktype, bytes)) {
                (Decoded::Fragment, Shard::Fragment) => {}
                (Decoded::Packet(_), Shard::Hash(_)) => {}
                (Decoded::Invalid(_), _) => {}
                (Decoded::NotIp | Decoded::UnsupportedLink(_), Shard::Other) => {}
                (d, s) => panic!("{}: decode {d:?} but shard {s:?}", path.display()),
            }
            if d != Decoded::Fragment {
                record(&mut found, &d);
                continue;
            }
            // Reassembled frames may hold further fragments (inner ones).
            let mut whole = defrag.push(m.linktype, bytes, m.ts_ns, stats);
            let mut rounds = 0;
            while let Some(frame) = whole.take() {
                rounds += 1;
                let d = decode(m.linktype, &frame, stats);
                if d == Decoded::Fragment && rounds < 4 {
                    whole = defrag.push(m.linktype, &frame, m.ts_ns, stats);
                } else {
                    record(&mut found, &d);
                }
            }
        }
    }
    Some(found)
}

struct Oracle {
    tcp: i64,
    udp: i64,
    tcp_list: BTreeSet<String>,
    udp_list: BTreeSet<String>,
}

fn oracle(path: &Path) -> Oracle {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut o = Oracle {
        tcp: -1,
        udp: -1,
        tcp_list: BTreeSet::new(),
        udp_list: BTreeSet::new(),
    };
    let mut section = "";
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("tcp_conversations\t") {
            o.tcp = v.trim().parse().unwrap();
        } else if let Some(v) = line.strip_prefix("udp_conversations\t") {
            o.udp = v.trim().parse().unwrap();
        } else if line.starts_with("# tcp") {
            section = "tcp";
        } else if line.starts_with("# udp") {
            section = "udp";
        } else if !line.starts_with('#') && !section.is_empty() {
            let mut it = line.split_whitespace();
            if let (Some(a), Some(b)) = (it.next(), it.next()) {
                let key = norm(a, b);
                if section == "tcp" {
                    o.tcp_list.insert(key);
                } else {
                    o.udp_list.insert(key);
                }
            }
        }
    }
    assert!(o.tcp >= 0 && o.udp >= 0, "{}: no counts", path.display());
    o
}

fn end_str(e: &End) -> String {
    format!("{}:{}", e.0, e.1)
}

/// tshark's "addr:port" endpoints as an ordered pair string.
fn norm(a: &str, b: &str) -> String {
    let parse = |s: &str| -> Option<End> {
        let (ip, port) = s.rsplit_once(':')?;
        Some((ip.parse().ok()?, port.parse().ok()?))
    };
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => {
            let (x, y) = conv(x, y);
            format!("{} {}", end_str(&x), end_str(&y))
        }
        _ => format!("{a} {b}"),
    }
}

fn ours(set: &BTreeSet<Conv>) -> BTreeSet<String> {
    set.iter()
        .map(|(a, b)| format!("{} {}", end_str(a), end_str(b)))
        .collect()
}

fn diff(ours: &BTreeSet<String>, theirs: &BTreeSet<String>) -> String {
    let only_ours: Vec<_> = ours.difference(theirs).take(6).collect();
    let only_theirs: Vec<_> = theirs.difference(ours).take(6).collect();
    format!("only ours {only_ours:?}; only tshark {only_theirs:?}")
}

#[test]
fn corpus_conversations_match_tshark() {
    let shared = shared();
    let cap_root = shared.join("captures");
    let mut all = Vec::new();
    files(&cap_root, &mut all);
    let expected: BTreeMap<&str, (i64, i64, &str)> = EXPECTED
        .iter()
        .map(|&(p, t, u, r)| (p, (t, u, r)))
        .collect();
    let mut stats = DecodeStats::new();
    let (mut read, mut exact, mut packets) = (0, 0, 0u64);
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for path in &all {
        let Some(found) = run(path, &mut stats) else {
            continue;
        };
        read += 1;
        packets += found.packets;
        let rel = path
            .strip_prefix(&cap_root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let o = oracle(&shared.join("oracle").join(format!("{rel}.flows.txt")));
        let dt = found.tcp.len() as i64 - o.tcp;
        let du = found.udp.len() as i64 - o.udp;
        seen.insert(rel.clone());
        let want = expected.get(rel.as_str()).map(|e| (e.0, e.1));
        // Where tshark lists every conversation, the sets must match, not just the counts.
        let (ot, ou) = (ours(&found.tcp), ours(&found.udp));
        let same_lists = (o.tcp > 2000 || ot == o.tcp_list) && (o.udp > 2000 || ou == o.udp_list);
        if (dt, du) == (0, 0) && want.is_none() && same_lists {
            exact += 1;
            continue;
        }
        if want == Some((dt, du)) && (dt, du) != (0, 0) {
            continue;
        }
        failures.push(format!(
            "{rel}: tcp {} vs tshark {} ({}), udp {} vs tshark {} ({}); expected {want:?}",
            found.tcp.len(),
            o.tcp,
            diff(&ot, &o.tcp_list),
            found.udp.len(),
            o.udp,
            diff(&ou, &o.udp_list),
        ));
    }
    for p in expected.keys() {
        if !seen.contains(*p) {
            failures.push(format!("{p}: listed in EXPECTED but not read"));
        }
    }
    eprintln!(
        "captures read: {read}, packets: {packets}, agree exactly: {exact}, \
         listed differences: {}, failures: {}",
        expected.len(),
        failures.len()
    );
    assert!(read > 300, "only {read} captures read");
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The corpus' counters must validate against Suricata's stats.decoder schema.
    let schema_text =
        std::fs::read_to_string(shared.join("reference/suricata-eve-schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    let stats_schema = &schema["properties"]["stats"]["properties"];
    let (decoder, phonehome) = stats.to_eve();
    if let Err(e) = jsonschema::validate(&stats_schema["decoder"], &decoder) {
        panic!("stats.decoder does not validate: {e}");
    }
    if let Err(e) = jsonschema::validate(&stats_schema["defrag"], &stats.to_eve_defrag()) {
        panic!("stats.defrag does not validate: {e}");
    }
    eprintln!("stats.decoder: {decoder}");
    eprintln!("stats.phonehome.decoder: {phonehome}");
    eprintln!("stats.defrag: {}", stats.to_eve_defrag());
}
