//! The same input gives byte-identical output whatever the worker count.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use common::*;

#[test]
fn whole_corpus_directory_is_identical_for_1_2_4_and_8_workers() {
    let dir = shared().join("captures");
    // Short timeouts so that many flows end on clock ticks, not only at shutdown.
    let extra = [
        "--idle-timeout",
        "5",
        "--tcp-idle-timeout",
        "10",
        "--active-timeout",
        "30",
    ];
    let one = replay(&dir, 1, &extra);
    let events = one.events();
    let flows = events.iter().filter(|e| e["event_type"] == "flow").count();
    let timeouts = events
        .iter()
        .filter(|e| e["flow"]["reason"] == "timeout")
        .count();
    assert!(flows > 1500, "only {flows} flows");
    assert!(timeouts > 100, "only {timeouts} flows ended on a timeout");
    for workers in [2, 4, 8] {
        let other = replay(&dir, workers, &extra);
        assert_identical(&one, &other, &format!("corpus, 1 and {workers} workers"));
    }
}

/// The project's own captures, where flows overlap (the corpus is mostly one
/// conversation per file): the stats event too must not depend on the
/// worker count.
#[test]
fn project_captures_are_identical_for_1_2_4_and_8_workers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let realstack_policy = root.join("tests/data/realstack-policy.toml");
    let policy = realstack_policy.to_string_lossy().into_owned();
    // Stream alerts with deduplication: alerts written as activity arrives
    // depend on the order of every event before them.
    let stream = ["--alerts", "stream", "--dedup-window", "60"];
    let cases: [(&str, Vec<&str>); 3] = [
        ("captures/demo.pcap", vec![]),
        ("captures/realstack.pcap", vec!["--policy", policy.as_str()]),
        (
            "captures/realstack.pcap",
            [["--policy", policy.as_str()].as_slice(), &stream].concat(),
        ),
    ];
    for (file, extra) in &cases {
        let path = root.join(file);
        let one = replay(&path, 1, extra);
        assert_eq!(one.code, 0, "{file}: {}", one.stderr);
        let alerts = one
            .events()
            .iter()
            .filter(|e| e["event_type"] == "alert")
            .count();
        assert!(alerts >= 10, "{file}: only {alerts} alerts");
        for workers in [2, 4, 8] {
            let other = replay(&path, workers, extra);
            assert_identical(&one, &other, &format!("{file}: 1 and {workers} workers"));
        }
    }
}

/// Every file of an evidence bundle (per-finding pcapng files, findings.json,
/// manifest, EVE) as bytes, by name. The bundle is written to `dir` (removed
/// first): findings.json names the EVE file by its path, so every run uses
/// the same one.
fn bundle_files(
    dir: &std::path::Path,
    capture: &std::path::Path,
    workers: u16,
    extra: &[&str],
) -> Vec<(String, Vec<u8>)> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    let eve = dir.join("eve.json");
    let w = workers.to_string();
    let mut args = vec![
        "replay",
        capture.to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
        "--evidence",
        dir.to_str().unwrap(),
        "--workers",
        w.as_str(),
        "-q",
    ];
    args.extend_from_slice(extra);
    let run = phonehome(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut files: Vec<(String, Vec<u8>)> = walk(dir)
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn evidence_bundles_are_identical_for_1_2_4_and_8_workers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = root.join("tests/data/realstack-policy.toml");
    let policy = policy.to_string_lossy().into_owned();
    let capture = root.join("captures/realstack.pcap");
    let extra = ["--policy", policy.as_str()];
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    let one = bundle_files(&dir, &capture, 1, &extra);
    let pcapngs = one.iter().filter(|(n, _)| n.ends_with(".pcapng")).count();
    assert!(pcapngs >= 10, "only {pcapngs} evidence files");
    for workers in [2, 4, 8] {
        let other = bundle_files(&dir, &capture, workers, &extra);
        let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&one),
            names(&other),
            "1 and {workers} workers: bundle files"
        );
        for ((name, a), (_, b)) in one.iter().zip(&other) {
            assert!(a == b, "{name}: differs between 1 and {workers} workers");
        }
    }
}
