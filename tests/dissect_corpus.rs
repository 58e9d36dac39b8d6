//! Names and fingerprints found by the whole pipeline over every capture of
//! the shared corpus, compared with tshark's (the oracle) and with the JA4
//! authors' published values. Every difference is listed with its reason.
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

type Set = BTreeSet<String>;

fn oracle_lines(rel: &str, suffix: &str) -> Vec<String> {
    let p = shared().join("oracle").join(format!("{rel}.{suffix}"));
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

fn oracle_set(rel: &str, suffix: &str) -> Set {
    oracle_lines(rel, suffix)
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect()
}

/// Column `col` (0-based) of a TSV oracle file with a header line.
fn oracle_column(rel: &str, suffix: &str, col: usize) -> Set {
    oracle_lines(rel, suffix)
        .into_iter()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(col).map(str::to_string))
        .filter(|v| !v.is_empty())
        .collect()
}

/// What phonehome found in one capture.
#[derive(Default, Debug)]
struct Found {
    tls_sni: Set,
    quic_sni: Set,
    gquic_sni: Set,
    dns_qnames: Set,
    http_hosts: Set,
    ja3: Set,
    ja4_tcp: Set,
}

fn found(events: &[Value]) -> Found {
    let mut f = Found::default();
    for e in events {
        let s = |v: &Value| v.as_str().map(str::to_string);
        match e["event_type"].as_str().unwrap() {
            "tls" => {
                let t = &e["tls"];
                f.tls_sni.extend(s(&t["sni"]));
                f.ja3.extend(s(&t["ja3"]["hash"]));
                f.ja4_tcp.extend(s(&t["ja4"]));
            }
            "quic" => {
                let q = &e["quic"];
                let v = q["version"].as_str().unwrap();
                // Google QUIC versions are named Q0xx or written in hex of "Q0xx"/"T05x".
                let google = v.starts_with('Q') || v.starts_with("5130") || v.starts_with("5430");
                if google && q["ja4"].is_null() {
                    f.gquic_sni.extend(s(&q["sni"]));
                } else {
                    f.quic_sni.extend(s(&q["sni"]));
                    f.ja3.extend(s(&q["ja3"]["hash"]));
                }
            }
            t @ ("dns" | "mdns" | "llmnr") => {
                if let Some(qs) = e[t]["queries"].as_array() {
                    for q in qs {
                        f.dns_qnames
                            .extend(s(&q["rrname"]).map(|n| n.to_lowercase()));
                    }
                }
            }
            "http" => {
                f.http_hosts
                    .extend(s(&e["http"]["hostname"]).map(|h| h.to_lowercase()));
            }
            _ => {}
        }
    }
    f
}

fn strip_port(h: &str) -> String {
    let h = h.trim();
    if h.starts_with('[') {
        return h
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or("")
            .to_lowercase();
    }
    match h.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            name.to_lowercase()
        }
        _ => h.to_lowercase(),
    }
}

/// (capture, what differs) → why. A listed difference that stops happening fails the test too.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn diff(what: &str, ours: &Set, theirs: &Set) -> Option<String> {
    (ours != theirs).then(|| {
        let only_ours: Vec<_> = ours.difference(theirs).collect();
        let only_theirs: Vec<_> = theirs.difference(ours).collect();
        format!("{what}: only phonehome {only_ours:?}, only tshark {only_theirs:?}")
    })
}

#[test]
fn names_and_fingerprints_match_the_oracle() {
    let root = shared().join("captures");
    let exceptions: BTreeMap<(&str, &str), &str> =
        EXCEPTIONS.iter().map(|(c, w, r)| ((*c, *w), *r)).collect();
    let mut used = BTreeSet::new();
    let mut failures = Vec::new();
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    for rel in corpus() {
        let run = replay(&root.join(&rel), 2, &[]);
        if run.stdout.is_empty() {
            continue;
        }
        let f = found(&run.events());
        let all_sni: Set = f.tls_sni.union(&f.quic_sni).cloned().collect();
        let dns_oracle: Set = oracle_column(&rel, "dns.tsv", 9)
            .into_iter()
            .map(|n| n.to_lowercase())
            .collect();
        let http_oracle: Set = oracle_set(&rel, "http.txt")
            .iter()
            .map(|h| strip_port(h))
            .collect();
        let ja3_oracle = oracle_column(&rel, "ja3.txt", 2);
        let checks = [
            ("sni", diff("sni", &all_sni, &oracle_set(&rel, "sni.txt"))),
            (
                "quic_sni",
                diff("quic_sni", &f.quic_sni, &oracle_set(&rel, "quic-sni.txt")),
            ),
            (
                "gquic_sni",
                diff(
                    "gquic_sni",
                    &f.gquic_sni,
                    &oracle_set(&rel, "gquic-sni.txt"),
                ),
            ),
            ("dns", diff("dns", &f.dns_qnames, &dns_oracle)),
            ("http", diff("http", &f.http_hosts, &http_oracle)),
            ("ja3", diff("ja3", &f.ja3, &ja3_oracle)),
            (
                "ja4",
                diff("ja4", &f.ja4_tcp, &oracle_column(&rel, "ja4.txt", 6)),
            ),
        ];
        *totals.entry("sni").or_default() += all_sni.len();
        *totals.entry("dns").or_default() += f.dns_qnames.len();
        *totals.entry("http").or_default() += f.http_hosts.len();
        *totals.entry("ja3").or_default() += f.ja3.len();
        *totals.entry("ja4").or_default() += f.ja4_tcp.len();
        for (what, d) in checks {
            match (d, exceptions.get(&(rel.as_str(), what))) {
                (None, None) => {}
                (None, Some(_)) => failures.push(format!(
                    "{rel}: {what} listed as an exception but agrees now"
                )),
                (Some(_), Some(_)) => {
                    used.insert((rel.clone(), what));
                }
                (Some(d), None) => failures.push(format!("{rel}: {d}")),
            }
        }
    }
    eprintln!(
        "names found across the corpus: {totals:?}; exceptions used: {}",
        used.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The JA4 authors' own expected outputs beside their captures are the reference.
#[test]
fn ja4_equals_the_authors_published_values() {
    let root = shared().join("captures/foxio-ja4");
    let mut compared = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(root.join("expected")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let Some(capture) = name.strip_suffix(".python.json") else {
            continue;
        };
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let want: Set = expected
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|o| o.as_object().unwrap().iter())
            .filter(|(k, _)| k.starts_with("JA4.") && !k.starts_with("JA4S"))
            .filter_map(|(_, v)| v.as_str().map(str::to_string))
            .collect();
        if want.is_empty() {
            continue;
        }
        let run = replay(&root.join(capture), 1, &[]);
        let got: Set = run
            .events()
            .iter()
            .filter(|e| e["event_type"] == "tls")
            .filter_map(|e| e["tls"]["ja4"].as_str().map(str::to_string))
            .collect();
        compared += want.len();
        if !want.is_subset(&got) {
            failures.push(format!(
                "{capture}: missing {:?}",
                want.difference(&got).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 30, "only {compared} JA4 values compared");
}
