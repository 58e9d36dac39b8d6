//! Benchmark: `phonehome report --inventory` over a 4-week, 10 000-host
//! inventory (issue 13: "renders in seconds"). Writes four weekly runs of a
//! synthetic fleet into a SQLite file (a third of the hosts start with a
//! foreign agent, a quarter of those drop it each week, half of those get a
//! domestic one), then times the report. Run with bench/report-inventory.sh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use phonehome::base::Progress;
use phonehome::inventory::{FindingRecord, HostSighting, IdentityBinding, RunRecord, Store};
use phonehome::report::{build_report, ReportOptions};
use std::time::Instant;

const DAY: u64 = 86_400 * 1_000_000_000;
const WEEK1: u64 = 1_767_571_200 * 1_000_000_000; // 2026-01-05

fn week(w: u64, hosts: usize) -> RunRecord {
    let start = WEEK1 + (w - 1) * 7 * DAY;
    let mut run = RunRecord {
        run_id: RunRecord::derive_id("bench", &start.to_be_bytes()),
        sensor_id: "bench".into(),
        period_start_ns: start,
        period_end_ns: start + 8 * 3600 * 1_000_000_000,
        source: format!("week{w}.pcap"),
        catalog_version: "bench".into(),
        home_country: Some("CN".into()),
        policy: Some("default policy for CN".into()),
        hosts: Vec::with_capacity(hosts),
        findings: Vec::new(),
        identities: Vec::with_capacity(hosts),
    };
    for i in 0..hosts {
        let mac = format!(
            "02:00:00:{:02x}:{:02x}:{:02x}",
            i >> 16 & 0xff,
            i >> 8 & 0xff,
            i & 0xff
        );
        let key = format!("mac:{mac}");
        let addr = format!("10.{}.{}.{}", i >> 16 & 0xff, i >> 8 & 0xff, i & 0xff);
        let t = start + i as u64 * 1_000_000;
        run.hosts.push(HostSighting {
            host_key: key.clone(),
            name: Some(format!("PC-{i:05}")),
            mac: Some(mac),
            address: addr.clone(),
            first_seen_ns: t,
            last_seen_ns: t + 3_600_000_000_000,
            flows: 40,
            bytes: 400_000,
        });
        run.identities.push(IdentityBinding {
            host_key: key.clone(),
            address: addr,
            source: "dhcp".into(),
            first_seen_ns: t,
            last_seen_ns: t + 3_600_000_000_000,
        });
        let foreign_fleet = i % 3 == 0;
        let dropped_in = (i / 3) % 4 + 1; // the week its agent goes (4: stays)
        if foreign_fleet && (dropped_in == 4 || w < dropped_in as u64 + 1) {
            run.findings.push(FindingRecord {
                host_key: key.clone(),
                vendor: ["Kaspersky", "CrowdStrike", "ESET"][i % 9 / 3].into(),
                product: "Agent".into(),
                category: Some("endpoint_protection".into()),
                foreign: true,
                first_seen_ns: t,
                last_seen_ns: t + 1_000_000_000_000,
                flows: 12,
                bytes_toserver: 50_000 + i as u64,
                bytes_toclient: 200_000,
                countries: vec![["RU", "US", "SK"][i % 9 / 3].into()],
                evidence: vec![format!("1:bench-{i}=")],
                severity: Some("high".into()),
                data_abroad: Some(true),
            });
        } else if foreign_fleet && i % 2 == 0 {
            run.findings.push(FindingRecord {
                host_key: key.clone(),
                vendor: "QiAnXin".into(),
                product: "Tianqing".into(),
                category: Some("endpoint_protection".into()),
                foreign: false,
                first_seen_ns: t,
                last_seen_ns: t + 1_000_000_000_000,
                flows: 8,
                bytes_toserver: 20_000,
                bytes_toclient: 90_000,
                countries: vec!["CN".into()],
                evidence: vec![format!("1:bench-d-{i}=")],
                severity: Some("info".into()),
                data_abroad: Some(false),
            });
        }
    }
    run
}

fn main() {
    let hosts: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile_dir();
    let loc = dir.join("inventory.sqlite");
    let loc = loc.to_str().unwrap();
    let t = Instant::now();
    let mut store = Store::open(loc).unwrap();
    let mut findings = 0;
    for w in 1..=4 {
        let run = week(w, hosts);
        findings += run.findings.len();
        store.write_run(&run).unwrap();
    }
    drop(store);
    println!(
        "inventory: 4 weekly runs, {hosts} hosts, {findings} findings written in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let out = dir.join("report");
    let built = build_report(
        &[],
        &out,
        &ReportOptions {
            title: "bench",
            inventory: Some(loc),
            ..ReportOptions::default()
        },
        &Progress::default(),
    )
    .unwrap();
    let html = std::fs::metadata(out.join("report.html")).unwrap().len();
    println!(
        "report --inventory: {} rows of the current week, progress over {hosts} hosts, report.html {:.1} MB, in {:.2} s",
        built.inventory.rows.len(),
        html as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh directory under the system's temporary directory.
fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("phonehome-report-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
