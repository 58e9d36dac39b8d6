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
fn whole_corpus_directory_is_identical_for_1_and_4_workers() {
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
    let four = replay(&dir, 4, &extra);
    let events = one.events();
    let flows = events.iter().filter(|e| e["event_type"] == "flow").count();
    let timeouts = events
        .iter()
        .filter(|e| e["flow"]["reason"] == "timeout")
        .count();
    assert!(flows > 1500, "only {flows} flows");
    assert!(timeouts > 100, "only {timeouts} flows ended on a timeout");
    assert_identical(&one, &four, "corpus, 1 and 4 workers");
}

/// The project's own captures, where flows overlap (the corpus is mostly one
/// conversation per file): the stats event too must not depend on the
/// worker count.
#[test]
fn project_captures_are_identical_for_1_2_and_4_workers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let realstack_policy = root.join("tests/data/realstack-policy.toml");
    let policy = realstack_policy.to_string_lossy().into_owned();
    let cases: [(&str, Vec<&str>); 2] = [
        ("captures/demo.pcap", vec![]),
        ("captures/realstack.pcap", vec!["--policy", policy.as_str()]),
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
        for workers in [2, 4] {
            let other = replay(&path, workers, extra);
            assert_identical(&one, &other, &format!("{file}: 1 and {workers} workers"));
        }
    }
}
