//! The project's own demo capture (written by tools/gencap, independently of
//! this crate) replays to exactly what its generator says is inside:
//! `captures/demo.expected.json`.
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
use std::path::Path;

fn demo() -> (Value, Vec<Value>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("demo.expected.json")).unwrap())
            .unwrap();
    let run = replay(&root.join("demo.pcap"), 2, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    (expected, run.events())
}

/// (proto, client, client port, server, server port, vlan) → the flow events.
type Key = (String, String, u64, String, u64, String);

fn key_of_event(e: &Value) -> Key {
    (
        e["proto"].as_str().unwrap().to_lowercase(),
        ip_text(e["src_ip"].as_str().unwrap()),
        e["src_port"].as_u64().unwrap_or(0),
        ip_text(e["dest_ip"].as_str().unwrap()),
        e["dest_port"].as_u64().unwrap_or(0),
        e["vlan"].to_string().replace("null", "[]"),
    )
}

fn key_of_expected(f: &Value) -> Key {
    (
        f["transport"].as_str().unwrap().to_string(),
        ip_text(f["client"].as_str().unwrap()),
        f["client_port"].as_u64().unwrap_or(0),
        ip_text(f["server"].as_str().unwrap()),
        f["server_port"].as_u64().unwrap_or(0),
        f["vlan"].to_string(),
    )
}

#[test]
fn every_flow_has_the_generators_counts_and_end_state() {
    let (expected, events) = demo();
    let mut ours: BTreeMap<Key, Vec<&Value>> = BTreeMap::new();
    for e in events.iter().filter(|e| e["event_type"] == "flow") {
        ours.entry(key_of_event(e)).or_default().push(e);
    }
    let mut checked = 0;
    for f in expected["flows"].as_array().unwrap() {
        let transport = f["transport"].as_str().unwrap();
        if transport == "arp" {
            continue; // not IP: counted in stats.decoder.arp, not a flow
        }
        let k = key_of_expected(f);
        let Some(recs) = ours.get(&k) else {
            panic!("flow {} {k:?} ({}) not found", f["id"], f["note"]);
        };
        // The NTP pair shares a 5-tuple: the idle gap makes two flows, matched in time order.
        let rec = recs
            .iter()
            .find(|r| {
                r["timestamp"].as_str().unwrap()
                    == phonehome::base::time::eve_ts(f["first_ts_us"].as_u64().unwrap() * 1000)
            })
            .unwrap_or_else(|| {
                panic!(
                    "flow {} {k:?}: no record starting at its first packet",
                    f["id"]
                )
            });
        let fl = &rec["flow"];
        let what = format!("flow {} ({})", f["id"], f["note"]);
        assert_eq!(fl["pkts_toserver"], f["to_server"]["packets"], "{what}");
        assert_eq!(fl["pkts_toclient"], f["to_client"]["packets"], "{what}");
        assert_eq!(fl["bytes_toserver"], f["to_server"]["bytes"], "{what}");
        assert_eq!(fl["bytes_toclient"], f["to_client"]["bytes"], "{what}");
        assert_eq!(
            fl["end"].as_str().unwrap(),
            phonehome::base::time::eve_ts(f["last_ts_us"].as_u64().unwrap() * 1000),
            "{what}"
        );
        match f["tcp_end"].as_str() {
            Some("open") => assert_eq!(rec["tcp"]["state"], "established", "{what}"),
            Some("fin") | Some("rst") => assert_eq!(fl["state"], "closed", "{what}"),
            Some(other) => panic!("{what}: unknown tcp_end {other}"),
            None => {}
        }
        if let Some(t) = f["tls"].as_object() {
            // A QUIC hello is reported in a quic event, a TCP one in a tls event.
            let kind = if transport == "udp" { "quic" } else { "tls" };
            let ev = events
                .iter()
                .find(|e| e["event_type"] == kind && e["flow_id"] == rec["flow_id"])
                .unwrap_or_else(|| panic!("{what}: no {kind} event"));
            let o = &ev[kind];
            assert_eq!(o["ja3"]["string"], t["ja3"], "{what}");
            assert_eq!(o["ja3"]["hash"], t["ja3_md5"], "{what}");
            assert_eq!(o["ja4"], t["ja4"], "{what}");
            if t["ech_extension"] == true {
                assert_eq!(ev["phonehome"]["ech"], true, "{what}");
            }
            match t["sni"].as_str() {
                Some(sni) => assert_eq!(o["sni"], sni, "{what}"),
                None => assert!(o["sni"].is_null(), "{what}"),
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 45, "IP flows checked");
}

#[test]
fn names_seen_equal_the_generators() {
    let (expected, events) = demo();
    let mut want: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for f in expected["flows"].as_array().unwrap() {
        let n = &f["names"];
        for (k, kind) in [
            ("sni", "sni"),
            ("quic_sni", "quic_sni"),
            ("http_host", "http_host"),
            ("dns_query", "dns_query"),
        ] {
            if let Some(v) = n[k].as_str() {
                want.entry(kind).or_default().insert(v.to_string());
            }
        }
        if let Some(t) = n["connect_target"].as_str() {
            want.entry("connect").or_default().insert(t.to_string());
        }
    }
    let mut got: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for e in &events {
        let s = |v: &Value| v.as_str().map(str::to_string);
        match e["event_type"].as_str().unwrap() {
            "tls" => got.entry("sni").or_default().extend(s(&e["tls"]["sni"])),
            "quic" => got
                .entry("quic_sni")
                .or_default()
                .extend(s(&e["quic"]["sni"])),
            "http" if e["http"]["http_method"] == "CONNECT" => {
                got.entry("connect")
                    .or_default()
                    .extend(s(&e["http"]["url"]));
            }
            "http" => got
                .entry("http_host")
                .or_default()
                .extend(s(&e["http"]["hostname"])),
            "dns" => {
                for q in e["dns"]["queries"].as_array().into_iter().flatten() {
                    got.entry("dns_query").or_default().extend(s(&q["rrname"]));
                }
            }
            _ => {}
        }
    }
    assert_eq!(got, want);
    assert!(want["sni"].len() >= 14, "{:?}", want["sni"]);
}
