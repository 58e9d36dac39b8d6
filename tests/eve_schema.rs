//! Every event phonehome writes validates against Suricata's EVE schema
//! (extended only by the documented additions in schema/eve-extensions.json).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use common::*;
use std::collections::BTreeMap;

#[test]
fn every_event_of_the_corpus_validates() {
    let v = EveValidator::new();
    let root = shared().join("captures");
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    for rel in corpus() {
        let run = replay(&root.join(&rel), 2, &[]);
        for ev in run.events() {
            *by_type
                .entry(ev["event_type"].as_str().unwrap().to_string())
                .or_default() += 1;
            for p in v.problems(&ev) {
                if failures.len() < 20 {
                    failures.push(format!("{rel}: {p}\n  {ev}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "invalid events:\n{}",
        failures.join("\n")
    );
    assert!(by_type["flow"] > 1000, "{by_type:?}");
    assert!(by_type["stats"] > 300, "{by_type:?}");
}

#[test]
fn extensions_cannot_hide_a_broken_event() {
    // The validator is not vacuous: a Suricata field of the wrong type fails.
    let v = EveValidator::new();
    let bad = serde_json::json!({"timestamp": "2024-01-01T00:00:00.000000+0000", "event_type": "flow",
        "flow": {"pkts_toserver": "three"}});
    assert!(!v.problems(&bad).is_empty());
    let unknown = serde_json::json!({"timestamp": "2024-01-01T00:00:00.000000+0000", "event_type": "flow",
        "made_up_field": 1});
    assert!(!v.problems(&unknown).is_empty());
}
