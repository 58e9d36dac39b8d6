//! Every capture of the shared corpus replays without a crash, and the
//! packet and flow counts agree with tshark's (the oracle), or the
//! difference is listed here with its reason.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};

#[test]
fn corpus_packet_counts_equal_tshark() {
    let root = shared().join("captures");
    let mut failures = Vec::new();
    let mut compared = 0;
    for rel in corpus() {
        let oracle = oracle_flows(&rel);
        let run = replay(&root.join(&rel), 2, &[]);
        let expected = oracle.get("packets").map(String::as_str).unwrap_or("?");
        let tshark_ok = oracle.get("tshark_exit").map(String::as_str) == Some("0");
        if run.stdout.is_empty() {
            // Not a capture at all: one clear line naming the file, exit 1.
            assert_eq!(run.code, 1, "{rel}: {}", run.stderr);
            assert!(
                run.stderr.contains(&rel),
                "{rel}: error does not name the file: {}",
                run.stderr
            );
            assert!(
                !tshark_ok,
                "{rel}: tshark read it but phonehome refused: {}",
                run.stderr
            );
            continue;
        }
        let pkts = run.stats()["stats"]["decoder"]["pkts"].as_u64().unwrap();
        if expected != "?" {
            compared += 1;
            if pkts.to_string() != expected {
                failures.push(format!("{rel}: pkts {pkts}, tshark {expected}"));
            }
        }
        assert!(run.code == 0 || run.code == 1, "{rel}: exit {}", run.code);
        if run.code == 1 {
            assert!(
                run.stderr.contains("damaged"),
                "{rel}: exit 1 without a reason: {}",
                run.stderr
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 300, "only {compared} captures compared");
}

/// An unordered pair of endpoints, as tshark lists a conversation.
type Conv = (String, String);

fn conv(a: String, b: String) -> Conv {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// tshark's conversation lists from the oracle: (tcp, udp), deduplicated.
fn tshark_conversations(rel: &str) -> (BTreeSet<Conv>, BTreeSet<Conv>) {
    let p = shared().join("oracle").join(format!("{rel}.flows.txt"));
    let text = std::fs::read_to_string(p).unwrap();
    let (mut tcp, mut udp) = (BTreeSet::new(), BTreeSet::new());
    let mut in_udp = None;
    for line in text.lines() {
        if line.starts_with("# tcp") {
            in_udp = Some(false);
        } else if line.starts_with("# udp") {
            in_udp = Some(true);
        } else if let (Some(u), [a, b, _frames]) =
            (in_udp, line.split(' ').collect::<Vec<_>>().as_slice())
        {
            let set = if u { &mut udp } else { &mut tcp };
            set.insert(conv(a.to_string(), b.to_string()));
        }
    }
    (tcp, udp)
}

fn endpoint(ip: &str, port: u64) -> String {
    format!("{}:{port}", ip_text(ip))
}

/// Per capture: phonehome's (tcp, udp) flow-record counts where they differ
/// from tshark's conversation counts, and why. The test checks the listed
/// counts, so the table stays true.
const FLOW_COUNT_EXCEPTIONS: &[(&str, usize, usize, &str)] = &[
    // tshark has no idle timeout: one conversation however long it pauses.
    ("ndpi/4in4tunnel.pcap", 0, 5, "idle timeout: 5 UDP packets far apart in time, one record each"),
    ("ndpi/fuzz-2006-06-26-2594.pcap", 23, 227, "idle timeout: DNS and SIP flows resume after more than 120 s"),
    ("ndpi/ossfuzz_seed_fake_traces_1.pcapng", 7, 4, "idle timeout: a TCP flow without handshake pauses past the 60 s new-flow timeout"),
    ("pcapng-test-generator/output_be/basic/test011.pcapng", 0, 3, "idle timeout: the DHCP discover repeats after more than 120 s"),
    ("pcapng-test-generator/output_be/basic/test016.pcapng", 0, 3, "idle timeout: the DHCP discover repeats after more than 120 s"),
    ("pcapng-test-generator/output_be/basic/test018.pcapng", 0, 3, "idle timeout: the DHCP discover repeats after more than 120 s"),
    ("pcapng-test-generator/output_le/advanced/test100.pcapng", 0, 4, "idle timeout: the DHCP discover repeats after more than 120 s"),
    ("pcapng-test-generator/output_le/basic/test011.pcapng", 0, 3, "idle timeout: the DHCP discover repeats after more than 120 s"),
    ("pcapng-test-generator/output_le/basic/test016.pcapng", 0, 3, "idle timeout: the DHCP discover repeats after more than 120 s"),
    ("pcapng-test-generator/output_le/basic/test018.pcapng", 0, 3, "idle timeout: the DHCP discover repeats after more than 120 s"),
    ("ndpi/reasm_crash_anon.pcapng", 3, 0, "idle timeout: the only TCP flow pauses past its timeout twice"),
    ("tcpdump/timestamp_invalid_micro.pcap", 2, 0, "idle timeout: a bogus timestamp jumps the clock past the flow's timeout"),
    ("suricata-verify/tls__tls-subjectaltname.pcap", 77, 40, "idle timeouts (10) and ports reused by a new SYN after close (8): tshark's conversation list counts such TCP streams once"),
    ("ndpi/fuzz-2006-09-29-28586.pcap", 36, 0, "tshark numbers TCP streams and counts a reused port pair twice without a new SYN; phonehome splits only on a SYN after close"),
    // tshark ignores VLAN tags and tunnels when it pairs endpoints.
    ("zeek/dns/loc-29-trunc.pcap", 0, 2, "query and answer travel in different VLANs (1041/120 vs 1042/120): two flows"),
    ("zeek/dns/sshfp-trunc.pcap", 0, 4, "query and answer in different VLANs (34 vs 47), and each pair repeats after the idle timeout"),
    ("zeek/vlan-pcp-dei.pcapng", 3, 0, "the same TCP 5-tuple untagged, in VLAN 20 and in QinQ 10/20: three flows"),
    ("ndpi/6in6tunnel.pcap", 0, 2, "the same inner UDP 5-tuple inside two different IPv6-in-IPv6 tunnels: two flows"),
    ("tcpdump/erspan-type-ii-2.pcap", 0, 8, "two ERSPAN sources mirror the same four UDP flows: one flow per tunnel"),
    // Fragments.
    ("tcpdump/esp_truncated.pcap", 0, 0, "a lone first fragment never completed: flows come from whole datagrams only"),
];

/// Captures whose set of conversations (endpoint pairs) differs from tshark's, and why.
const CONVERSATION_EXCEPTIONS: &[(&str, &str)] = &[(
    "tcpdump/esp_truncated.pcap",
    "a lone first fragment never completed: tshark reads its ports, phonehome makes no flow of a datagram it cannot reassemble",
)];

#[test]
fn corpus_flow_counts_match_tshark_conversations() {
    let root = shared().join("captures");
    let count_exc: BTreeMap<&str, (usize, usize, &str)> = FLOW_COUNT_EXCEPTIONS
        .iter()
        .map(|(c, t, u, r)| (*c, (*t, *u, *r)))
        .collect();
    let conv_exc: BTreeMap<&str, &str> = CONVERSATION_EXCEPTIONS.iter().copied().collect();
    let mut failures = Vec::new();
    let (mut agree, mut compared) = (0, 0);
    for rel in corpus() {
        let oracle = oracle_flows(&rel);
        if oracle.get("tshark_exit").map(String::as_str) != Some("0") {
            continue;
        }
        compared += 1;
        let run = replay(&root.join(&rel), 2, &[]);
        let (mut tcp, mut udp) = (0usize, 0usize);
        let (mut tcp_conv, mut udp_conv) = (BTreeSet::new(), BTreeSet::new());
        for e in run.events().iter().filter(|e| e["event_type"] == "flow") {
            let a = endpoint(
                e["src_ip"].as_str().unwrap(),
                e["src_port"].as_u64().unwrap_or(0),
            );
            let b = endpoint(
                e["dest_ip"].as_str().unwrap(),
                e["dest_port"].as_u64().unwrap_or(0),
            );
            match e["proto"].as_str().unwrap() {
                "TCP" => {
                    tcp += 1;
                    tcp_conv.insert(conv(a, b));
                }
                "UDP" => {
                    udp += 1;
                    udp_conv.insert(conv(a, b));
                }
                _ => {}
            }
        }
        let want_tcp: usize = oracle["tcp_conversations"].parse().unwrap();
        let want_udp: usize = oracle["udp_conversations"].parse().unwrap();
        match count_exc.get(rel.as_str()) {
            None if (tcp, udp) == (want_tcp, want_udp) => agree += 1,
            None => failures.push(format!(
                "{rel}: phonehome tcp {tcp} udp {udp}, tshark tcp {want_tcp} udp {want_udp} (unexplained)"
            )),
            Some(&(t, u, why)) => {
                if (t, u) != (tcp, udp) {
                    failures.push(format!("{rel}: listed as tcp {t} udp {u} ({why}) but is tcp {tcp} udp {udp}"));
                }
                if (tcp, udp) == (want_tcp, want_udp) {
                    failures.push(format!("{rel}: listed as an exception but agrees with tshark; remove it"));
                }
            }
        }
        let (t_tcp, t_udp) = tshark_conversations(&rel);
        let same = tcp_conv == t_tcp && udp_conv == t_udp;
        match (same, conv_exc.get(rel.as_str())) {
            (true, None) => {}
            (true, Some(_)) => failures.push(format!("{rel}: conversation exception no longer needed")),
            (false, Some(_)) => {}
            (false, None) => failures.push(format!(
                "{rel}: conversations differ: tcp only ours {:?} only tshark {:?}; udp only ours {:?} only tshark {:?}",
                tcp_conv.difference(&t_tcp).collect::<Vec<_>>(),
                t_tcp.difference(&tcp_conv).collect::<Vec<_>>(),
                udp_conv.difference(&t_udp).collect::<Vec<_>>(),
                t_udp.difference(&udp_conv).collect::<Vec<_>>()
            )),
        }
    }
    eprintln!(
        "{agree} of {compared} captures have exactly tshark's TCP and UDP conversation counts"
    );
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
