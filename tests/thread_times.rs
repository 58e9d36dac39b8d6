//! `--bench-thread-times`: each engine thread's CPU time on stderr, adding
//! up to no more than the whole process's, and nothing of it in the output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// `name -> (user µs, sys µs, total µs)` from the `thread-times` lines.
fn times(stderr: &str) -> BTreeMap<String, (u64, u64, u64)> {
    let us = |s: &str| (s.parse::<f64>().unwrap() * 1e6).round() as u64;
    let mut out = BTreeMap::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("phonehome: thread-times: ") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // name user U s sys S s total T s waits N
        assert_eq!(f.len(), 12, "{line}");
        assert_eq!((f[1], f[4], f[7], f[10]), ("user", "sys", "total", "waits"));
        f[11].parse::<u64>().unwrap();
        let (u, s, t) = (us(f[2]), us(f[5]), us(f[8]));
        assert!(t.abs_diff(u + s) <= 1, "{line}");
        assert!(out.insert(f[0].to_owned(), (u, s, t)).is_none(), "{line}");
    }
    out
}

#[test]
fn each_engine_thread_prints_its_cpu_time_within_the_process_and_outside_the_output() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/demo.pcap");
    let run = replay(&demo, 2, &["--bench-thread-times"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let t = times(&run.stderr);
    let names: Vec<&str> = t.keys().map(String::as_str).collect();
    assert_eq!(names, ["main", "process", "reader", "worker-0", "worker-1"]);
    let threads: u64 = t
        .iter()
        .filter(|(n, _)| *n != "process")
        .map(|(_, v)| v.2)
        .sum();
    let process = t["process"].2;
    // Every thread did work (microsecond clock), and no more than the process
    // did: each figure is cut to the microsecond, the process's user and
    // system times separately, hence 2 µs of slack.
    assert!(t.values().all(|v| v.2 > 0), "{t:?}");
    assert!(
        threads <= process + 2,
        "threads {threads} µs > process {process} µs"
    );
    // The figures go to stderr only: the EVE output is the same without the flag.
    let plain = replay(&demo, 2, &[]);
    assert_identical(&plain, &run, "demo with and without --bench-thread-times");
    assert!(!String::from_utf8_lossy(&run.stdout).contains("thread-times"));
}
