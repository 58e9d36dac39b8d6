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
use std::collections::BTreeMap;

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

/// Per capture: (tcp flows, udp flows) phonehome counts differently from
/// tshark's conversation counts, and why.
const FLOW_COUNT_EXCEPTIONS: &[(&str, &str)] = &[];

#[test]
fn corpus_flow_counts_match_tshark_conversations() {
    let root = shared().join("captures");
    let exceptions: BTreeMap<&str, &str> = FLOW_COUNT_EXCEPTIONS.iter().copied().collect();
    let mut failures = Vec::new();
    let mut agree = 0;
    for rel in corpus() {
        let oracle = oracle_flows(&rel);
        if oracle.get("tshark_exit").map(String::as_str) != Some("0") {
            continue;
        }
        let run = replay(&root.join(&rel), 2, &[]);
        let mut tcp = std::collections::BTreeSet::new();
        let mut udp = std::collections::BTreeSet::new();
        for e in run.events().iter().filter(|e| e["event_type"] == "flow") {
            let k = (
                e["src_ip"].as_str().unwrap().to_string(),
                e["src_port"].as_u64().unwrap_or(0),
                e["dest_ip"].as_str().unwrap().to_string(),
                e["dest_port"].as_u64().unwrap_or(0),
                e["flow_id"].as_u64().unwrap(),
            );
            match e["proto"].as_str().unwrap() {
                "TCP" => tcp.insert(k),
                "UDP" => udp.insert(k),
                _ => false,
            };
        }
        let want_tcp: usize = oracle["tcp_conversations"].parse().unwrap();
        let want_udp: usize = oracle["udp_conversations"].parse().unwrap();
        let got = format!("tcp {} udp {}", tcp.len(), udp.len());
        let want = format!("tcp {want_tcp} udp {want_udp}");
        if got == want {
            agree += 1;
            assert!(
                !exceptions.contains_key(rel.as_str()),
                "{rel}: listed as an exception but agrees; remove it"
            );
        } else if !exceptions.contains_key(rel.as_str()) {
            failures.push(format!("{rel}: phonehome {got}, tshark {want}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} unexplained differences ({agree} agree):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
