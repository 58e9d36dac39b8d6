//! `phonehome replay -` reads a capture from standard input (pcap or
//! pcapng, gzip or not) and writes what the same file gives.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// `phonehome replay - --eve - ...` with `input` piped to standard input.
fn replay_stdin(input: &[u8], extra: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(["replay", "-", "--eve", "-", "-q"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run phonehome");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    // Written from another thread: the output pipe must be drained meanwhile.
    let writer = std::thread::spawn(move || {
        // Small writes, as a pipe from tcpdump would deliver them.
        for chunk in data.chunks(1000) {
            if stdin.write_all(chunk).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr,
    }
}

/// The EVE lines with `pcap_filename` (the only field naming the input) blanked.
fn without_file_names(run: &Run) -> Vec<serde_json::Value> {
    run.events()
        .into_iter()
        .map(|mut e| {
            if let Some(o) = e.as_object_mut() {
                if o.contains_key("pcap_filename") {
                    o.insert("pcap_filename".into(), "".into());
                }
            }
            e
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

#[test]
fn standard_input_gives_the_same_events_as_the_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = root.join("tests/data/realstack-policy.toml");
    let policy = policy.to_str().unwrap();
    for (file, extra) in [
        ("captures/demo.pcap", vec![]),
        ("captures/realstack.pcap", vec!["--policy", policy]),
    ] {
        let path = root.join(file);
        let from_file = replay(&path, 2, &extra);
        assert_eq!(from_file.code, 0, "{file}: {}", from_file.stderr);
        let bytes = std::fs::read(&path).unwrap();
        let mut args = vec!["--workers", "2"];
        args.extend_from_slice(&extra);
        for (how, input) in [("plain", bytes.clone()), ("gzip", gzip(&bytes))] {
            let from_stdin = replay_stdin(&input, &args);
            assert_eq!(from_stdin.code, 0, "{file} ({how}): {}", from_stdin.stderr);
            let events = from_stdin.events();
            assert!(
                events.iter().filter(|e| e["event_type"] == "alert").count() >= 5,
                "{file} ({how}): too few alerts"
            );
            assert!(events
                .iter()
                .filter_map(|e| e["pcap_filename"].as_str())
                .all(|n| n == "-"));
            assert_eq!(
                without_file_names(&from_stdin),
                without_file_names(&from_file),
                "{file} ({how}): standard input and file differ"
            );
        }
    }
}

#[test]
fn standard_input_must_be_the_only_input_and_cannot_give_evidence() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = root.join("captures/demo.pcap");
    let run = phonehome(&["replay", "-", demo.to_str().unwrap(), "--eve", "-", "-q"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("standard input"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("bundle");
    let run = replay_stdin(
        &std::fs::read(&demo).unwrap(),
        &["--evidence", ev.to_str().unwrap()],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("standard input"), "{}", run.stderr);
    assert!(!ev.exists(), "nothing is written before refusing");
}

#[test]
fn empty_or_foreign_standard_input_is_one_clear_error() {
    for (what, input) in [("empty", Vec::new()), ("text", b"hello\n".to_vec())] {
        let run = replay_stdin(&input, &[]);
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: {}", run.stderr);
        assert!(
            lines[0].contains("-:"),
            "{what}: names the input: {}",
            lines[0]
        );
        assert!(run.stdout.is_empty(), "{what}");
    }
}
