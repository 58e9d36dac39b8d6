//! A removal programme over four weeks, from captures the test generates
//! (`gencap::programme`): week 1 the baseline; week 2 two hosts removed their
//! foreign agent; week 3 one of them installed a domestic one and another
//! host was switched off; week 4 a host moved to a new address through DHCP
//! and a new host took its old one. Each week is replayed into the inventory
//! with `replay --inventory`, and `phonehome progress` must give exactly the
//! expected state of every host and product, on SQLite and on a real
//! PostgreSQL server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/chromium.rs"]
mod chromium;
mod common;
#[path = "common/pg.rs"]
mod pg;

use common::phonehome;
use phonehome::inventory::Store;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// (host name, vendor) → state, as `progress --format json` gives it.
type States = BTreeMap<(String, String), String>;

fn expected(week: u8) -> States {
    let rows: &[(&str, &str, &str)] = match week {
        1 => &[
            ("PC-ALPHA", "Kaspersky", "new"),
            ("PC-BRAVO", "CrowdStrike", "new"),
            ("PC-CHARLIE", "ESET", "new"),
            ("PC-DELTA", "Kaspersky", "new"),
            ("PC-ECHO", "CrowdStrike", "new"),
        ],
        2 => &[
            ("PC-ALPHA", "Kaspersky", "still_present"),
            ("PC-BRAVO", "CrowdStrike", "removed"),
            ("PC-CHARLIE", "ESET", "removed"),
            ("PC-DELTA", "Kaspersky", "still_present"),
            ("PC-ECHO", "CrowdStrike", "still_present"),
        ],
        3 => &[
            ("PC-ALPHA", "Kaspersky", "still_present"),
            ("PC-BRAVO", "CrowdStrike", "replaced"),
            ("PC-BRAVO", "QiAnXin", "new"),
            ("PC-CHARLIE", "ESET", "removed"),
            // Switched off: not counted as cleaned.
            ("PC-DELTA", "Kaspersky", "host_not_seen"),
            ("PC-ECHO", "CrowdStrike", "still_present"),
        ],
        _ => &[
            ("PC-ALPHA", "Kaspersky", "still_present"),
            ("PC-BRAVO", "CrowdStrike", "replaced"),
            ("PC-BRAVO", "QiAnXin", "still_present"),
            ("PC-CHARLIE", "ESET", "removed"),
            ("PC-DELTA", "Kaspersky", "host_not_seen"),
            // Moved from 10.20.0.15 to 10.20.0.25 by DHCP: the same host.
            ("PC-ECHO", "CrowdStrike", "still_present"),
        ],
    };
    rows.iter()
        .map(|(h, v, s)| ((h.to_string(), v.to_string()), s.to_string()))
        .collect()
}

fn progress(location: &str) -> Value {
    let r = phonehome(&["progress", "--inventory", location, "--format", "json"]);
    assert_eq!(r.code, 0, "progress failed: {}", r.stderr);
    serde_json::from_slice(&r.stdout).unwrap()
}

fn states(p: &Value) -> States {
    p["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let host = r["host_name"].as_str().unwrap_or_else(|| {
                panic!("a row keyed on no host name (an address?): {r}");
            });
            (
                (host.to_owned(), r["vendor"].as_str().unwrap().to_owned()),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn replay_week(dir: &Path, week: u8, location: &str) {
    let cap = dir.join(format!("week{week}.pcap"));
    std::fs::write(&cap, gencap::programme::week(week).unwrap()).unwrap();
    let eve = dir.join(format!("week{week}.eve.json"));
    let r = phonehome(&[
        "replay",
        cap.to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
        "--workers",
        "2",
        "-q",
        "--inventory",
        location,
        "--sensor-id",
        "office",
    ]);
    assert_eq!(r.code, 0, "replay of week {week} failed: {}", r.stderr);
}

fn programme(location: &str) {
    let dir = tempfile::tempdir().unwrap();
    for week in 1..=gencap::programme::WEEKS {
        replay_week(dir.path(), week, location);
        let p = progress(location);
        assert_eq!(states(&p), expected(week), "week {week}");
        // Every row is keyed on the host's MAC, never on an address.
        for r in p["rows"].as_array().unwrap() {
            let key = r["host_key"].as_str().unwrap();
            assert!(
                key.starts_with("mac:02:00:5e:13:00:0"),
                "week {week}: {key}"
            );
        }
        let replaced: Vec<&Value> = p["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["state"] == "replaced")
            .collect();
        for r in replaced {
            assert_eq!(
                r["replaced_by"],
                serde_json::json!([["QiAnXin", "Tianqing (天擎) endpoint security"]])
            );
        }
    }
    let p = progress(location);
    // Hosts seen per week (the gateway answering the pings is one of them)
    // and hosts carrying a foreign agent.
    let timeline: Vec<(u64, u64, u64)> = p["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["hosts_seen"].as_u64().unwrap(),
                t["hosts_with_foreign"].as_u64().unwrap(),
                t["hosts_clear"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(timeline, [(6, 5, 1), (6, 3, 3), (5, 2, 3), (6, 2, 4)]);

    // Week 4 in the store: ECHO at its new address, FOXTROT at ECHO's old one.
    let mut store = Store::open(location).unwrap();
    let snap = store.snapshot().unwrap();
    assert_eq!(snap.runs.len(), 4);
    let week4 = &p["current_runs"][0];
    let addr = |mac: &str| -> String {
        snap.sightings
            .iter()
            .find(|(run, s)| run == week4.as_str().unwrap() && s.host_key == format!("mac:{mac}"))
            .map(|(_, s)| s.address.clone())
            .unwrap_or_else(|| panic!("{mac} not seen in week 4"))
    };
    assert_eq!(addr("02:00:5e:13:00:05"), "10.20.0.25");
    assert_eq!(addr("02:00:5e:13:00:06"), "10.20.0.15");
    assert!(snap
        .findings
        .iter()
        .all(|(_, f)| f.host_key.starts_with("mac:")));

    // Replaying a week again changes nothing.
    replay_week(dir.path(), 4, location);
    assert_eq!(store.snapshot().unwrap(), snap);

    report_matches_the_inventory(dir.path(), location, &p, &snap);
}

/// The attributes of every element whose start tag begins with `start`.
fn elements(dom: &str, start: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find(start) {
        let tag = &rest[i..];
        let end = tag.find('>').unwrap();
        let mut attrs = BTreeMap::new();
        let mut t = &tag[..end];
        while let Some(eq) = t.find("=\"") {
            let name = t[..eq].rsplit(' ').next().unwrap().to_owned();
            let v = &t[eq + 2..];
            let close = v.find('"').unwrap();
            attrs.insert(name, v[..close].to_owned());
            t = &v[close + 1..];
        }
        out.push(attrs);
        rest = &tag[end..];
    }
    out
}

/// The text of the front page field `key` (`<dd data-k="key">`).
fn front(dom: &str, key: &str) -> String {
    let start = format!("data-k=\"{key}\">");
    let i = dom
        .find(&start)
        .unwrap_or_else(|| panic!("no {key} on the front page"))
        + start.len();
    dom[i..i + dom[i..].find('<').unwrap()].to_owned()
}

/// `phonehome report --inventory`, read back by headless Chromium: the front
/// page numbers, the ranking and the progress chart's data against the
/// inventory; printed to PDF.
fn report_matches_the_inventory(
    dir: &Path,
    location: &str,
    p: &Value,
    snap: &phonehome::inventory::Snapshot,
) {
    let out = dir.join("report");
    let r = phonehome(&[
        "report",
        "--inventory",
        location,
        "--case-id",
        "CASE-13/2026",
        "--scope",
        "Office 3 <10.20.0.0/24>",
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(r.code, 0, "report failed: {}", r.stderr);
    let dom = chromium::chromium_dom(&out.join("report.html"));
    assert_eq!(front(&dom, "case-id"), "CASE-13/2026");
    assert_eq!(front(&dom, "scope"), "Office 3 &lt;10.20.0.0/24&gt;");
    assert_eq!(front(&dom, "sensors"), "office");
    assert_eq!(front(&dom, "period"), "2026-01-05 to 2026-01-26 (UTC)");
    let observed: std::collections::BTreeSet<&str> = snap
        .sightings
        .iter()
        .map(|(_, s)| s.host_key.as_str())
        .collect();
    assert_eq!(front(&dom, "hosts-observed"), observed.len().to_string());
    // Abroad is judged against the home country the runs recorded (the
    // default policy's CN): the domestic agent's CN destination is not abroad.
    assert_eq!(front(&dom, "home-country"), "CN");
    assert_eq!(p["home_country"], "CN");
    for r in &snap.runs {
        assert_eq!(
            (r.home_country.as_deref(), r.policy.as_deref()),
            (Some("CN"), Some("default policy for CN"))
        );
    }
    let week4_countries: std::collections::BTreeSet<String> = snap
        .findings
        .iter()
        .filter(|(r, _)| r.as_str() == p["current_runs"][0].as_str().unwrap())
        .flat_map(|(_, f)| f.countries.iter().cloned())
        .filter(|c| c != "CN")
        .collect();
    let abroad: std::collections::BTreeSet<String> = elements(&dom, "<tr data-country=")
        .into_iter()
        .map(|a| a["data-country"].clone())
        .collect();
    assert_eq!(abroad, week4_countries);
    assert!(!abroad.is_empty());
    for r in p["rows"].as_array().unwrap() {
        // Every finding of the programme has a severity; only the foreign agents send abroad.
        assert!(r["severity"].is_string(), "{r}");
        assert_eq!(r["data_abroad"], r["foreign"], "{r}");
    }
    // The current period (week 4): foreign agents on PC-ALPHA and PC-ECHO.
    let week4 = p["current_runs"][0].as_str().unwrap();
    let mut foreign: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for (_, f) in snap
        .findings
        .iter()
        .filter(|(r, f)| r == week4 && f.foreign)
    {
        let e = foreign
            .entry((f.vendor.clone(), f.product.clone()))
            .or_default();
        e.0 += 1;
        e.1 += f.bytes_toserver;
    }
    assert_eq!(front(&dom, "foreign-products"), foreign.len().to_string());
    assert_eq!(foreign.len(), 2);
    // The ranking: both send data abroad with the same kind of data (the
    // inventory does not keep purposes), so hosts, then bytes abroad decide.
    let mut want: Vec<(String, String, String)> = foreign
        .iter()
        .map(|((v, _), (h, b))| (v.clone(), h.to_string(), b.to_string()))
        .collect();
    want.sort_by(|a, b| {
        b.1.parse::<u64>()
            .unwrap()
            .cmp(&a.1.parse().unwrap())
            .then(b.2.parse::<u64>().unwrap().cmp(&a.2.parse().unwrap()))
            .then(a.0.cmp(&b.0))
    });
    let ranking: Vec<(String, String, String)> = elements(&dom, "<li data-rank=")
        .into_iter()
        .map(|a| {
            (
                a["data-vendor"].clone(),
                a["data-hosts"].clone(),
                a["data-bytes-abroad"].clone(),
            )
        })
        .collect();
    assert_eq!(ranking, want);
    // The chart's data: one column per day, as progress computes it.
    let chart: Vec<(u64, u64)> = elements(&dom, "<g class=\"day\"")
        .into_iter()
        .map(|a| {
            (
                a["data-hosts-seen"].parse().unwrap(),
                a["data-hosts-clear"].parse().unwrap(),
            )
        })
        .collect();
    let timeline: Vec<(u64, u64)> = p["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["hosts_seen"].as_u64().unwrap(),
                t["hosts_clear"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(chart, timeline);
    // The before/after table: each host's state as progress gives it.
    let states: Vec<(String, String)> = elements(&dom, "<tr data-host=")
        .into_iter()
        .map(|a| (a["data-host"].clone(), a["data-state"].clone()))
        .collect();
    let want: Vec<(String, String)> = p["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["host_key"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(states, want);
    let pdf = chromium::chromium_pdf(&out.join("report.html"), &dir.join("report.pdf"));
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
}

#[test]
fn removal_programme_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().join("inventory.sqlite");
    programme(loc.to_str().unwrap());
}

#[test]
fn removal_programme_on_postgres() {
    let pg = pg::PgCluster::start();
    programme(&pg.url());
}
