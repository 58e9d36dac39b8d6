//! Bad input gets one clear line naming the thing and what is wrong, and the
//! documented exit code (1 runtime, 2 usage).
#![allow(clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::phonehome;

fn error_line(args: &[&str], code: i32) -> String {
    let run = phonehome(args);
    assert_eq!(run.code, code, "{args:?}: stderr {}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line expected, got {lines:?}");
    lines[0].to_string()
}

#[test]
fn missing_capture_is_named_once_with_its_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such.pcap");
    let m = missing.to_string_lossy().into_owned();
    let line = error_line(&["replay", &m, "--eve", "/dev/null", "-q"], 1);
    assert_eq!(
        line,
        format!("phonehome: error: {m}: cannot open: No such file or directory (os error 2)")
    );
}

#[test]
fn a_text_file_is_not_a_capture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("notes.pcap");
    std::fs::write(&f, b"root:x:0:0\n").expect("write");
    let p = f.to_string_lossy().into_owned();
    let line = error_line(&["replay", &p, "--eve", "/dev/null", "-q"], 1);
    assert_eq!(
        line,
        format!("phonehome: error: {p}: not a pcap or pcapng capture (starts with 72 6f 6f 74)")
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let run = phonehome(&["replay", "--no-such-flag", "x.pcap"]);
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert!(
        run.stderr.contains("unexpected argument '--no-such-flag'"),
        "stderr: {}",
        run.stderr
    );
}
