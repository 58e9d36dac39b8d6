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

/// Column `col` (0-based) of a TSV oracle file (`header`: skip its first line).
fn oracle_column(rel: &str, suffix: &str, col: usize, header: bool) -> Set {
    oracle_lines(rel, suffix)
        .into_iter()
        .skip(usize::from(header))
        .filter_map(|l| l.split('\t').nth(col).map(str::to_string))
        .filter(|v| !v.is_empty())
        .collect()
}

/// DNS query names as tshark prints them: several per row joined by ';',
/// the root as `<Root>`.
fn oracle_qnames(rel: &str) -> Set {
    oracle_column(rel, "dns.tsv", 9, true)
        .iter()
        .flat_map(|v| v.split(';'))
        .map(|q| {
            if q == "<Root>" {
                String::new()
            } else {
                q.to_lowercase()
            }
        })
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
                            .extend(s(&q["rrname"]).map(|n| tshark_form(&n).to_lowercase()));
                    }
                }
            }
            "http" => {
                f.http_hosts
                    .extend(s(&e["http"]["hostname"]).map(|h| strip_port(&h)));
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
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    // tshark does not see it; phonehome does (checked by hand against nDPI or the capture's README).
    ("foxio-ja4/https-connect.pcap", "ja4", PROXIED),
    ("zeek/http/connect-with-header.pcap", "ja4", PROXIED),
    ("zeek/socks-with-ssl.pcap", "ja4", PROXIED),
    ("ndpi/tls_port_80.pcapng", "ja3", PORT_80),
    ("ndpi/tls_port_80.pcapng", "ja4", PORT_80),
    ("zeek/tls/https-to-http.pcap", "ja3", PORT_80),
    ("zeek/tls/https-to-http.pcap", "ja4", PORT_80),
    ("tcpdump/dns_tcp_8053.pcap", "dns", "DNS over TCP on port 8053: tshark does not dissect it (the corpus README says so); phonehome recognises length-prefixed DNS on any port"),
    ("tcpdump/quic_vn.pcap", "sni", QUIC_AFTER_VN),
    ("tcpdump/quic_vn.pcap", "quic_sni", QUIC_AFTER_VN),
    ("tcpdump/quic_vn.pcap", "ja3", QUIC_AFTER_VN),
    ("ndpi/quic-forcing-vn-with-data.pcapng", "ja3", "tshark fails to decrypt this QUIC Initial; phonehome decrypts it (the hello has no SNI, nDPI sees its ALPN too)"),
    ("zeek/quic/quicdoq.pcap", "ja3", "DNS over QUIC on UDP 853: tshark does not try QUIC there; phonehome decodes the Initial's hello (no SNI)"),
    ("suricata-verify/tls__tls-subjectaltname.pcap", "ja4", NO_FOXIO_OUTPUT),
    ("zeek/tls/tls1.2.pcap", "ja4", NO_FOXIO_OUTPUT),
    ("zeek/tls/ssl-v2.pcap", "ja4", "pure SSLv2 hello: FoxIO's python prints no JA4; phonehome maps version 0x0002 to s2 as the spec does"),
    // Malformed or non-DNS payloads: both tools see something, and print it differently.
    ("ndpi/dnscrypt-v2.pcap", "dns", "DNSCrypt on UDP 443 parses as a DNS header with an empty (root) question; tshark does not try DNS there"),
    ("suricata-verify/dns-udp-junkrequest-first.pcap", "dns", "a junk request parses with a 2-byte name (flagged); tshark does not list it"),
    ("ndpi/fuzz-2006-06-26-2594.pcap", "dns", "fuzzed labels with the reserved extended-label bits: tshark prints <unknown extended label>, phonehome keeps the labels before it (1.0, 1.0.0) and flags the name"),
    ("ndpi/malformed_dns.pcap", "dns", "an over-long name: tshark prints <name too long>, phonehome keeps the first 1025 characters and flags name_too_long"),
    ("tcpdump/dns_fwdptr.pcap", "dns", "forward compression pointers: tshark gives up, phonehome follows them within its hop limit and flags the name"),
    ("zeek/dns/dns-invalid-names.pcap", "dns", "a pointer loop: tshark prints a placeholder, phonehome keeps the (empty) name read so far and flags pointer_loop"),
    ("ndpi/fuzz-2006-09-29-28586.pcap", "http", "a Host header with a NUL byte: tshark stops at the NUL"),
    ("ndpi/http_on_sip_port.pcap", "http", "HTTP on port 5060: tshark dissects it as SIP"),
    ("ndpi/tls_invalid_reads.pcap", "ja3", "malformed hello (compression-methods length 0, then a stray byte): tshark prints a 2-field JA3 string, phonehome the 5 fields; the extension block is read differently"),
    ("ndpi/tls_invalid_reads.pcap", "ja4", "the same malformed hello: tshark counts 5 extensions and no ALPN, phonehome reads a bogus ALPN from the stray bytes"),
    // phonehome misses it.
    ("zeek/tunnels/socks.pcap", "http", "HTTP inside a SOCKS tunnel: phonehome does not parse SOCKS, so it never sees the request (TLS after SOCKS is found; plain HTTP is not)"),
];

const PROXIED: &str = "TLS after an HTTP CONNECT or SOCKS exchange: FoxIO's python never fingerprints it; tshark's JA3 agrees with ours";
const PORT_80: &str = "TLS on port 80: tshark dissects port 80 as HTTP only";
const QUIC_AFTER_VN: &str = "the v1 Initial sent after a Version Negotiation: tshark does not decrypt it, phonehome does (localhost, as in the same suite's quic_retry.pcap)";
const NO_FOXIO_OUTPUT: &str = "FoxIO's python printed no JA4 for this capture although tshark decodes its hellos (JA3 agrees)";

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
        let dns_oracle = oracle_qnames(&rel);
        let http_oracle: Set = oracle_set(&rel, "http.txt")
            .iter()
            .map(|h| strip_port(h))
            .collect();
        let ja3_oracle = oracle_column(&rel, "ja3.txt", 2, false);
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
                diff("ja4", &f.ja4_tcp, &oracle_column(&rel, "ja4.txt", 6, true)),
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
    // Every capture of theirs that is in the corpus and has their expected output.
    let captures: Vec<String> = corpus()
        .into_iter()
        .filter_map(|rel| rel.strip_prefix("foxio-ja4/").map(str::to_string))
        .collect();
    for capture in &captures {
        let p = root.join("expected").join(format!("{capture}.python.json"));
        if !p.is_file() {
            continue;
        }
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
    assert!(compared >= 20, "only {compared} JA4 values compared");
}
