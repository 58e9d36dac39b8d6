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
    assert_eq!(one.code, four.code);
    let events = one.events();
    let flows = events.iter().filter(|e| e["event_type"] == "flow").count();
    let timeouts = events
        .iter()
        .filter(|e| e["flow"]["reason"] == "timeout")
        .count();
    assert!(flows > 1500, "only {flows} flows");
    assert!(timeouts > 100, "only {timeouts} flows ended on a timeout");
    assert!(
        one.stdout == four.stdout,
        "outputs differ ({} vs {} bytes)",
        one.stdout.len(),
        four.stdout.len()
    );
}
