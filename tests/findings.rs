//! Findings from captures whose contents are known: the real-protocol-stack
//! capture (tools/realcap), the generated demo (tools/gencap), and the shared
//! corpus, where only real security-product telemetry may give a finding.
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

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn alerts(run: &Run) -> Vec<Value> {
    run.events()
        .into_iter()
        .filter(|e| e["event_type"] == "alert")
        .collect()
}

fn strs(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn realstack_capture_gives_exactly_the_expected_findings() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("captures/realstack.expected.json")).unwrap(),
    )
    .unwrap();
    let policy = root().join("tests/data/realstack-policy.toml");
    let run = replay(
        &root().join("captures/realstack.pcap"),
        2,
        &["--policy", policy.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: BTreeMap<(String, String, String), Value> = alerts(&run)
        .into_iter()
        .map(|a| {
            let p = &a["phonehome"];
            let k = (
                p["host"].as_str().unwrap().to_string(),
                p["vendor"].as_str().unwrap().to_string(),
                p["product"].as_str().unwrap().to_string(),
            );
            (k, a)
        })
        .collect();
    let mut want = BTreeSet::new();
    for f in expected["findings"].as_array().unwrap() {
        let (vendor, product) = (
            f["vendor"].as_str().unwrap(),
            f["product"].as_str().unwrap(),
        );
        let client = f["client"].as_str().unwrap();
        let key = (client.to_string(), vendor.to_string(), product.to_string());
        let a = got
            .get(&key)
            .unwrap_or_else(|| panic!("no finding for {key:?} (scene {})", f["scene"]));
        let p = &a["phonehome"];
        let scene = f["scene"].as_str().unwrap();
        // Evidence: everything the generator says is visible (its names for our kinds).
        let kinds: BTreeSet<String> = p["evidence_counts"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        for k in f["evidence_kinds"].as_array().unwrap() {
            let ours = match k.as_str().unwrap() {
                "tls_certificate" => "cert_name",
                // A hello without SNI is the absence of a name: the DNS answer is the evidence.
                "tls_no_sni" => continue,
                other => other,
            };
            assert!(
                kinds.contains(ours),
                "{scene}: evidence {ours} missing from {kinds:?}"
            );
        }
        let best = match f["attribution"].as_str().unwrap() {
            "dns_binding" => "dns_answer",
            other => other,
        };
        // A lookup that got an answer is reported by its answer.
        let shown = if best == "dns_query" {
            "dns_answer"
        } else {
            best
        };
        // "(TLS SNI)" for a documented endpoint, "(TLS SNI, owned domain
        // cloudsink.net)" for the other tiers.
        assert!(
            p["reason"]
                .as_str()
                .unwrap()
                .contains(&format!("({}", label(shown))),
            "{scene}: reason {} does not name {shown}",
            p["reason"]
        );
        // The strongest tier: documented endpoint, owned domain, certificate, owned network.
        assert_eq!(p["tier"], f["tier"], "{scene}");
        if f["connected"] == true {
            let d = &p["destinations"][0];
            assert_eq!(
                d["country"].as_str(),
                f["server_country"].as_str(),
                "{scene}"
            );
            assert_eq!(d["asn"].as_u64(), f["server_asn"].as_u64(), "{scene}");
            // A flow without a name is named by what matched (its certificate, its AS).
            if let Some(name) = f["server_name"].as_str() {
                assert!(strs(&d["names"]).contains(name), "{scene}");
            }
            if best == "http_connect" {
                // Behind the proxy only the name is known, not the address.
                assert!(d["ip"].is_null(), "{scene}");
            } else {
                assert_eq!(d["ip"], f["server_ip"], "{scene}");
            }
        }
        // Under the CN policy: domestic vendors with data at home are inventory,
        // every foreign vendor that connected sends data abroad (a destination
        // behind the proxy has no known country: it cannot be shown to stay home).
        let kind = match (f["home_cn"]["vendor"].as_str(), f["connected"] == true) {
            (Some("domestic"), true) => "domestic_vendor_data_home",
            (Some("foreign"), true) => "foreign_vendor_data_abroad",
            (_, false) => "dns_only",
            other => panic!("{scene}: {other:?}"),
        };
        assert_eq!(p["finding_kind"], kind, "{scene}");
        assert_eq!(
            strs(&a["alert"]["metadata"]["jurisdiction"]),
            strs(&f["vendor_jurisdiction"]),
            "{scene}"
        );
        want.insert(key);
    }
    // The dual-stack SentinelOne host resolved over IPv4 and connected over
    // IPv6: its IPv4 address only looked the name up.
    want.insert((
        "10.20.0.13".into(),
        "SentinelOne".into(),
        "Singularity".into(),
    ));
    let got_keys: BTreeSet<_> = got.keys().cloned().collect();
    assert_eq!(got_keys, want);
    for h in expected["no_finding_addresses"].as_array().unwrap() {
        assert!(
            got.keys().all(|(host, _, _)| host != h.as_str().unwrap()),
            "finding for benign address {h}"
        );
    }
}

fn label(kind: &str) -> &'static str {
    match kind {
        "tls_sni" => "TLS SNI",
        "quic_sni" => "QUIC SNI",
        "http_host" => "HTTP Host",
        "http_connect" => "HTTP CONNECT",
        "dns_answer" => "DNS answer",
        "dns_query" => "DNS query",
        "cert_name" => "server certificate",
        "destination_as" => "destination AS",
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn demo_capture_finds_every_agent_and_no_benign_host() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("captures/demo.expected.json")).unwrap(),
    )
    .unwrap();
    let run = replay(&root().join("captures/demo.pcap"), 2, &[]);
    let got: BTreeSet<(String, String)> = alerts(&run)
        .iter()
        .map(|a| {
            (
                a["phonehome"]["host"].as_str().unwrap().to_string(),
                a["phonehome"]["vendor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want = BTreeSet::new();
    for f in expected["flows"].as_array().unwrap() {
        if f["security_product"] == true {
            want.insert((
                f["client"].as_str().unwrap().to_string(),
                f["vendor"]["vendor"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert_eq!(got, want);
    let benign: BTreeSet<String> = expected["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["security_products"].as_array().is_some_and(Vec::is_empty))
        .flat_map(|h| [h["ipv4"].as_str(), h["ipv6"].as_str()])
        .flatten()
        .map(str::to_string)
        .collect();
    assert!(!benign.is_empty());
    assert!(
        got.iter().all(|(h, _)| !benign.contains(h)),
        "finding for a benign host"
    );
}

/// Security-product telemetry that really is in the corpus (see its README),
/// with every address treated as internal so any catalog hit anywhere shows.
const CORPUS_FINDINGS: &[(&str, &str, &str)] = &[
    ("Microsoft", "Defender for Endpoint", "ndpi/tls_certificate_too_long.pcap: Defender cloud protection, TLS to wdcp.microsoft.com"),
    ("Microsoft", "Defender Antivirus", "ndpi/tls_certificate_too_long.pcap: DNS for its wd-prod-cp front end"),
    ("Sophos", "Sophos Central / Intercept X", "foxio-ja4/ssh2.pcapng: Sophos look-ups and TLS to hydra.sophos.com"),
    ("Cisco", "Umbrella", "ndpi/malware.pcap block page, OpenDNS resolver and API in ssh2.pcapng and wlanmon.pcap"),
    ("Gen Digital", "Avast", "ndpi/avast_securedns.pcapng: Avast SecureDNS"),
    ("CrowdStrike", "Falcon", "foxio-ja4/https-connect.pcap: a CONNECT to ts01-b.cloudsink.net (CrowdStrike's certificate)"),
];

#[test]
fn corpus_gives_findings_only_for_security_products() {
    let policy = root().join("tests/data/everything-internal.toml");
    let run = replay(
        &shared().join("captures"),
        2,
        &["--policy", policy.to_str().unwrap()],
    );
    let got: BTreeSet<(String, String)> = alerts(&run)
        .iter()
        .map(|a| {
            (
                a["phonehome"]["vendor"].as_str().unwrap().to_string(),
                a["phonehome"]["product"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = CORPUS_FINDINGS
        .iter()
        .map(|(v, p, _)| (v.to_string(), p.to_string()))
        .collect();
    assert_eq!(got, want);
}
