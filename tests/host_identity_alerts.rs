//! Host identity in alerts and findings.json (issue 13): the programme's
//! weeks 3 and 4 replayed together, where PC-ECHO's DHCP lease moves from
//! 10.20.0.15 to 10.20.0.25 and its CrowdStrike agent phones home from
//! both. End mode gives one finding with both addresses, the DHCP host name
//! and the MAC, in the EVE alert and in findings.json; stream mode's alerts
//! name the host too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{phonehome, EveValidator};
use serde_json::Value;
use std::path::{Path, PathBuf};

const ECHO_MAC: &str = "02:00:5e:13:00:05";

fn weeks_3_and_4(dir: &Path) -> Vec<PathBuf> {
    [3u8, 4]
        .iter()
        .map(|w| {
            let p = dir.join(format!("week{w}.pcap"));
            std::fs::write(&p, gencap::programme::week(*w).unwrap()).unwrap();
            p
        })
        .collect()
}

fn alerts(eve: &Path) -> Vec<Value> {
    std::fs::read_to_string(eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event_type"] == "alert")
        .collect()
}

fn crowdstrike<'a>(docs: impl Iterator<Item = &'a Value>) -> Vec<&'a Value> {
    docs.filter(|d| d["vendor"] == "CrowdStrike").collect()
}

/// PC-ECHO, by name and MAC, at both addresses, old one first.
fn assert_echo(doc: &Value, what: &str) {
    let h = &doc["host_identity"];
    assert_eq!(h["name"], "PC-ECHO", "{what}: {doc}");
    assert_eq!(h["mac"], ECHO_MAC, "{what}");
    assert_eq!(h["key"], format!("mac:{ECHO_MAC}"), "{what}");
    let ips: Vec<&str> = h["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["10.20.0.15", "10.20.0.25"], "{what}");
    for a in h["addresses"].as_array().unwrap() {
        assert!(a["first_seen"].as_str().unwrap() <= a["last_seen"].as_str().unwrap());
    }
}

#[test]
fn a_dhcp_move_gives_one_finding_naming_the_host_in_alert_and_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let caps = weeks_3_and_4(dir.path());
    let eve = dir.path().join("eve.json");
    let bundle = dir.path().join("bundle");
    let mut args = vec!["replay"];
    args.extend(caps.iter().map(|p| p.to_str().unwrap()));
    args.extend([
        "--eve",
        eve.to_str().unwrap(),
        "-q",
        "--evidence",
        bundle.to_str().unwrap(),
    ]);
    let r = phonehome(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Every event, the alerts with `host_identity` included, validates
    // against Suricata's EVE schema and the documented extensions.
    let v = EveValidator::new();
    let text = std::fs::read_to_string(&eve).unwrap();
    for line in text.lines() {
        let ev: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v.problems(&ev), Vec::<String>::new(), "{line}");
    }

    // The identity table's counters reach the stats event: claims read,
    // nothing shed on a capture this small.
    let stats: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|e| e["event_type"] == "stats")
        .unwrap();
    let hid = &stats["stats"]["phonehome"]["host_identity"];
    assert!(hid["claims"].as_u64().unwrap() > 0, "{hid}");
    for shed in [
        "identities_dropped",
        "names_dropped",
        "addresses_dropped",
        "bindings_dropped",
        "held_dropped",
    ] {
        assert_eq!(hid[shed], 0, "{shed}: {hid}");
    }

    let alerts = alerts(&eve);
    let docs: Vec<&Value> = alerts.iter().map(|a| &a["phonehome"]).collect();
    let echo = crowdstrike(docs.iter().copied());
    assert_eq!(
        echo.len(),
        1,
        "one CrowdStrike finding for PC-ECHO: {echo:?}"
    );
    assert_echo(echo[0], "EVE alert");
    // Both weeks' connections, one from each address.
    assert_eq!(echo[0]["flows"], 2);
    assert_eq!(echo[0]["host"], "10.20.0.15");
    // Every other finding's host is named by its own DHCP claims.
    for d in &docs {
        assert!(
            d["host_identity"]["mac"]
                .as_str()
                .unwrap()
                .starts_with("02:00:5e:13:00:0"),
            "{d}"
        );
    }

    let fj: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("findings.json")).unwrap())
            .unwrap();
    let findings = fj["findings"].as_array().unwrap();
    let echo = crowdstrike(findings.iter());
    assert_eq!(echo.len(), 1, "findings.json: {echo:?}");
    assert_echo(echo[0], "findings.json");
    assert_eq!(findings.len(), alerts.len());
}

#[test]
fn stream_alerts_name_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let caps = weeks_3_and_4(dir.path());
    let eve = dir.path().join("eve.json");
    let mut args = vec!["replay"];
    args.extend(caps.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--eve", eve.to_str().unwrap(), "-q", "--alerts", "stream"]);
    let r = phonehome(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let alerts = alerts(&eve);
    let echo = crowdstrike(alerts.iter().map(|a| &a["phonehome"]));
    assert!(!echo.is_empty());
    for d in &echo {
        assert_eq!(d["host_identity"]["name"], "PC-ECHO", "{d}");
        assert_eq!(d["host_identity"]["mac"], ECHO_MAC, "{d}");
    }
    // The alert from the new address, after the move, knows both addresses.
    let last = echo
        .iter()
        .find(|d| d["host"] == "10.20.0.25")
        .expect("an alert from 10.20.0.25");
    assert_echo(last, "stream alert after the move");
}
