//! Community ID of every flow of the spec's combined.pcap.gz equals the
//! reference implementation's answers (seed 0 and seed 1).
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

type Tuple = (u64, String, String, u64, u64);

/// Baseline rows per packet → the set of IDs expected for each unordered tuple.
fn baseline(file: &str) -> BTreeMap<Tuple, BTreeSet<String>> {
    let path = shared().join("community-id").join(file);
    let rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut m: BTreeMap<Tuple, BTreeSet<String>> = BTreeMap::new();
    for r in rows {
        let t: Tuple = (
            r["proto"].as_u64().unwrap(),
            ip_text(r["saddr"].as_str().unwrap()),
            ip_text(r["daddr"].as_str().unwrap()),
            r["sport"].as_u64().unwrap_or(0),
            r["dport"].as_u64().unwrap_or(0),
        );
        m.entry(t)
            .or_default()
            .insert(r["communityid"].as_str().unwrap().to_string());
    }
    m
}

fn proto_num(p: &str) -> u64 {
    match p {
        "TCP" => 6,
        "UDP" => 17,
        "ICMP" => 1,
        "IPv6-ICMP" => 58,
        "SCTP" => 132,
        n => n.parse().unwrap(),
    }
}

fn check(seed: &str, file: &str) {
    let base = baseline(file);
    let run = replay(
        &shared().join("community-id/combined.pcap.gz"),
        2,
        &["--community-id-seed", seed],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut matched = BTreeSet::new();
    let flows: Vec<Value> = run
        .events()
        .into_iter()
        .filter(|e| e["event_type"] == "flow")
        .collect();
    assert!(flows.len() >= 10, "only {} flows", flows.len());
    for f in &flows {
        let proto = proto_num(f["proto"].as_str().unwrap());
        let (s, d) = (
            &ip_text(f["src_ip"].as_str().unwrap()),
            &ip_text(f["dest_ip"].as_str().unwrap()),
        );
        let (sp, dp) = if proto == 1 || proto == 58 {
            // ICMP flows are listed in the baseline by type/counterpart.
            let t = f["icmp_type"].as_u64().unwrap();
            let c = f["icmp_code"].as_u64().unwrap();
            (t, c)
        } else {
            (
                f["src_port"].as_u64().unwrap_or(0),
                f["dest_port"].as_u64().unwrap_or(0),
            )
        };
        let id = f["community_id"].as_str().unwrap();
        // The flow's tuple as the baseline lists it, in either direction.
        let cands: Vec<&Tuple> = base
            .keys()
            .filter(|(p, a, b, x, y)| {
                *p == proto
                    && ((a == s && b == d) || (a == d && b == s))
                    && (proto == 1
                        || proto == 58
                        || (x == &sp && y == &dp)
                        || (x == &dp && y == &sp))
            })
            .collect();
        assert!(
            !cands.is_empty(),
            "flow {s}:{sp} -> {d}:{dp} proto {proto} not in baseline"
        );
        let hit = cands.iter().find(|t| base[**t].contains(id));
        assert!(
            hit.is_some(),
            "seed {seed}: flow {s}:{sp} -> {d}:{dp} proto {proto} has {id}, baseline {:?}",
            cands.iter().map(|t| &base[*t]).collect::<Vec<_>>()
        );
        matched.insert(id.to_string());
    }
    let all: BTreeSet<String> = base.values().flatten().cloned().collect();
    let missing: Vec<_> = all.difference(&matched).collect();
    assert!(
        missing.is_empty(),
        "seed {seed}: baseline IDs with no flow: {missing:?}"
    );
}

#[test]
fn community_id_seed0_matches_spec_baseline() {
    check("0", "baseline_deflt.json");
}

#[test]
fn community_id_seed1_matches_spec_baseline() {
    check("1", "baseline_seed1.json");
}
