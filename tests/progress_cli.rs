//! `phonehome progress` over an inventory written through the library:
//! text, CSV and JSON, a baseline run or date, and its errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use phonehome::inventory::{FindingRecord, HostSighting, RunRecord, Store};
use std::process::Command;

const DAY: u64 = 86_400 * 1_000_000_000;
/// 2026-01-05T00:00:00Z.
const WEEK1: u64 = 20_458 * DAY;

fn finding(host: &str, vendor: &str, product: &str, foreign: bool, t: u64) -> FindingRecord {
    FindingRecord {
        host_key: host.into(),
        vendor: vendor.into(),
        product: product.into(),
        category: Some("edr".into()),
        foreign,
        first_seen_ns: t,
        last_seen_ns: t + 1,
        flows: 1,
        bytes_toserver: 1,
        bytes_toclient: 1,
        countries: vec!["US".into()],
        evidence: vec![],
        // Judged before schema 2: progress compares the countries with the run's home.
        severity: None,
        data_abroad: None,
    }
}

fn sighting(host: &str, t: u64) -> HostSighting {
    HostSighting {
        host_key: host.into(),
        name: Some(host.trim_start_matches("name:").to_uppercase()),
        mac: None,
        address: "10.0.0.1".into(),
        first_seen_ns: t,
        last_seen_ns: t + 1,
        flows: 1,
        bytes: 1,
    }
}

fn run(week: u64, hosts: &[&str], findings: Vec<FindingRecord>) -> RunRecord {
    let t = WEEK1 + week * 7 * DAY + 3_600_000_000_000;
    RunRecord {
        run_id: format!("week{}", week + 1),
        sensor_id: "s1".into(),
        period_start_ns: t,
        period_end_ns: t + 1,
        source: "x.pcap".into(),
        catalog_version: "test".into(),
        home_country: Some("CN".into()),
        policy: Some("default policy for CN".into()),
        hosts: hosts.iter().map(|h| sighting(h, t)).collect(),
        findings,
        identities: vec![],
    }
}

fn inventory(dir: &std::path::Path) -> String {
    let loc = dir.join("inv.sqlite").to_str().unwrap().to_owned();
    let mut s = Store::open(&loc).unwrap();
    let t1 = WEEK1 + 3_600_000_000_000;
    let t3 = t1 + 14 * DAY;
    s.write_run(&run(
        0,
        &["name:a", "name:b", "name:c"],
        ["name:a", "name:b", "name:c"]
            .iter()
            .map(|h| finding(h, "ForeignCo", "EDR", true, t1))
            .collect(),
    ))
    .unwrap();
    s.write_run(&run(
        2,
        &["name:a", "name:b"],
        vec![
            finding("name:a", "ForeignCo", "EDR", true, t3),
            FindingRecord {
                countries: vec!["CN".into()],
                ..finding("name:b", "HomeSec", "Guard", false, t3)
            },
        ],
    ))
    .unwrap();
    loc
}

fn progress(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .arg("progress")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn progress_states_in_csv_json_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let (code, csv, err) = progress(&["--inventory", &inv, "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        csv,
        "host_key,host_name,mac,vendor,product,category,foreign,state,last_seen,host_last_seen,replaced_by,\
         severity,data_abroad,countries_abroad\n\
         name:a,A,,ForeignCo,EDR,edr,true,still_present,2026-01-19,2026-01-19,,,true,US\n\
         name:b,B,,ForeignCo,EDR,edr,true,replaced,2026-01-05,2026-01-19,HomeSec Guard,,true,US\n\
         name:b,B,,HomeSec,Guard,edr,false,new,2026-01-19,2026-01-19,,,false,\n\
         name:c,C,,ForeignCo,EDR,edr,true,host_not_seen,2026-01-05,2026-01-05,,,true,US\n"
    );
    // The same with the baseline named, by run and by date.
    for b in ["week1", "2026-01-06"] {
        let (code, again, _) = progress(&[
            "--inventory",
            &inv,
            "--format",
            "csv",
            "--baseline",
            b,
            "--since",
            "2026-01-19",
        ]);
        assert_eq!((code, again.as_str()), (0, csv.as_str()), "baseline {b}");
    }
    let (code, json, _) = progress(&["--inventory", &inv, "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["baseline_runs"], serde_json::json!(["week1"]));
    assert_eq!(v["timeline"][1]["clear_per_mille"], 500);
    let (code, text, _) = progress(&["--inventory", &inv]);
    assert_eq!(code, 0);
    assert!(
        text.starts_with(
            "Removal progress since 2026-01-19 (baseline: 1 run(s); current period: 1 run(s))\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n2026-01-19  2           1             1      50.0%\n"),
        "{text}"
    );
}

#[test]
fn progress_errors_are_one_line_with_their_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let (code, out, err) = progress(&["--inventory", &inv, "--since", "19/01/2026"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        "phonehome: error: --since 19/01/2026: not a date (YYYY-MM-DD)\n"
    );
    let (code, _, err) = progress(&["--inventory", &inv, "--baseline", "week9"]);
    assert_eq!(code, 1);
    assert_eq!(err, "phonehome: error: no run week9 in the inventory (phonehome progress --format json lists the runs compared)\n");
    let missing = dir.path().join("none.sqlite");
    let (code, _, err) = progress(&["--inventory", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("phonehome: error: inventory {}: no such file (write one with phonehome replay --inventory)\n", missing.display())
    );
}
