//! SIGTERM at several moments of a replay that delivers every event to real
//! receivers (Elasticsearch `_bulk` and Splunk HEC on the HTTP receiver, a
//! private redis-server, a private rsyslogd over TCP), then the same replay
//! run again, as an operator restarts a stopped job.
//!
//! Each stopped run: every EVE line is whole JSON, the last is the stats
//! event, the flows still open are ended `shutdown`, and the exit code is 3
//! (stopped while reading) or 0 (the signal came after the input was read),
//! or the process ends at once if the signal comes before it has set up.
//! After the restart, each sink holds exactly the stopped run's records plus
//! the restart's records that differ from the stopped run's record of the
//! same number: nothing lost, nothing alike twice (docs/sinks.md, "Stopping
//! and restarting").
//!
//! redis-server and rsyslogd must be installed (scripts/test installs them):
//! a missing one fails this test, it does not skip it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;
#[path = "common/receivers.rs"]
mod receivers;

use receivers::{free_port, wait_for, HttpReceiver, Received, RedisServer, Rsyslog};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where SIGTERM is sent. The capture goes in on standard input (`replay -`).
/// `Read(f)`: once the fraction `f` of it was written and records of it
/// reached the sinks, before the rest is written: the reader stops at its
/// next block (exit 3). `Run(f)`: with all of it written, at the fraction
/// `f` of a whole run's wall time (the input may be read by then: exit 0).
#[derive(Clone, Copy, Debug)]
enum Point {
    Read(f64),
    Run(f64),
}

const POINTS: [Point; 4] = [
    Point::Read(0.3),
    Point::Read(0.6),
    Point::Run(0.1),
    Point::Run(0.5),
];

/// Copies of the demo capture in the test's capture, each an hour after the
/// one before: flows of a copy time out during the next, so events come out
/// all along the run, and the reader (held back by the slow sinks through
/// the bounded queues) reads for most of it.
const COPIES: u32 = 30;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `demo.pcap` (classic pcap, microseconds) `copies` times over, each copy
/// shifted an hour later.
fn repeated_capture(demo: &[u8], copies: u32) -> Vec<u8> {
    let (header, records) = demo.split_at(24);
    assert_eq!(
        &header[..4],
        &0xa1b2_c3d4u32.to_le_bytes(),
        "little-endian µs pcap"
    );
    let mut out = header.to_vec();
    for k in 0..copies {
        let mut at = 0;
        while at + 16 <= records.len() {
            let le = |o: usize| u32::from_le_bytes(records[at + o..at + o + 4].try_into().unwrap());
            let (sec, len) = (le(0), le(8) as usize);
            out.extend_from_slice(&(sec + k * 3600).to_le_bytes());
            out.extend_from_slice(&records[at + 4..at + 16 + len]);
            at += 16 + len;
        }
    }
    out
}

/// Runs phonehome with `input` on its standard input.
fn phonehome_stdin(args: &[&str], input: &[u8]) -> common::Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr,
    }
}

/// An EVE file's lines: each must be whole JSON ending in a newline.
fn eve_lines(path: &Path, what: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{what}: the EVE file ends in a partial line"
    );
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{what}: EVE line {} is not JSON ({e}): {l}", i + 1))
        })
        .collect()
}

/// Canonical text of each event, counted.
fn counts<'a>(events: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for v in events {
        *m.entry(v.to_string()).or_insert(0) += 1;
    }
    m
}

fn without_stats(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|v| v["event_type"] != "stats")
        .collect()
}

/// What a sink must hold after a stopped run and its restart: every record
/// of the stopped run, then each record of the restart that differs from the
/// stopped run's record of the same number (the restart skips those made
/// alike, before and after the stop point: docs/sinks.md).
fn expected<'a>(stopped: &'a [Value], restart: &'a [Value]) -> Vec<&'a Value> {
    let mut want: Vec<&Value> = stopped.iter().collect();
    want.extend(
        restart
            .iter()
            .enumerate()
            .filter(|(q, v)| stopped.get(*q) != Some(*v))
            .map(|(_, v)| v),
    );
    want
}

fn check_arrivals(what: &str, arrived: &[Value], want: &[&Value]) {
    let got = counts(arrived);
    let want = counts(want.iter().copied());
    if got == want {
        return;
    }
    let missing: Vec<_> = want
        .iter()
        .filter(|(l, n)| got.get(*l).copied().unwrap_or(0) < **n)
        .map(|(l, _)| l.clone())
        .collect();
    let extra: Vec<_> = got
        .iter()
        .filter(|(l, n)| want.get(*l).copied().unwrap_or(0) < **n)
        .map(|(l, _)| l.clone())
        .collect();
    panic!(
        "{what}: {} received, {} expected; {} missing e.g. {:?}; {} extra e.g. {:?}",
        arrived.len(),
        want.values().sum::<i64>(),
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first()
    );
}

#[test]
fn sigterm_at_several_points_then_a_restart_delivers_each_record_once() {
    let daemons = tempfile::tempdir().unwrap();
    let redis_dir = daemons.path().join("redis");
    let syslog_dir = daemons.path().join("syslog");
    std::fs::create_dir_all(&redis_dir).unwrap();
    std::fs::create_dir_all(&syslog_dir).unwrap();
    let redis = RedisServer::start(free_port(), &redis_dir);
    let rsyslog = Rsyslog::start(&syslog_dir, free_port(), free_port());
    let got = Arc::new(Mutex::new(Received::default()));
    // Slow answers and short queues: the sinks hold the reader back, so
    // that the run reads for most of its time and a signal lands mid-read.
    let http = HttpReceiver::start_slow(0, Arc::clone(&got), Duration::from_millis(20));
    let demo = std::fs::read(root().join("captures/demo.pcap")).unwrap();
    let pcap = repeated_capture(&demo, COPIES);
    let bin = env!("CARGO_BIN_EXE_phonehome");

    let mut full: Option<(Duration, Vec<Value>)> = None;
    let mut stopped_mid_read = 0;
    let mut killed_at_start = 0;
    let mut alerts_checked = 0;
    for (rep, at) in std::iter::once(None)
        .chain(POINTS.iter().copied().map(Some))
        .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let eve = dir.path().join("eve.json");
        let conf = dir.path().join("sinks.toml");
        let tag = format!("s{rep}");
        std::fs::write(
            &conf,
            format!(
                r#"spool_dir = "{spool}"
timeout = 60

[[sink]]
type = "elastic"
url = "{url}"
index = "{tag}"
format = "eve"
batch = 50
queue = 2

[[sink]]
type = "hec"
url = "{url}"
token = "T0KEN"
index = "{tag}"
batch = 50
queue = 2

[[sink]]
type = "redis"
url = "redis://127.0.0.1:{redis_port}/0"
key = "{tag}"
mode = "list"
format = "eve"
batch = 50
queue = 2

[[sink]]
type = "syslog"
url = "tcp://127.0.0.1:{syslog_port}"
events = "all"
format = "eve"
app_name = "{tag}"
queue = 2
"#,
                spool = dir.path().join("spool").display(),
                url = http.url(),
                redis_port = redis.port,
                syslog_port = rsyslog.tcp,
            ),
        )
        .unwrap();
        let args = [
            "replay",
            "-",
            "--eve",
            eve.to_str().unwrap(),
            "--config",
            conf.to_str().unwrap(),
        ];
        let mut runs = Vec::new();
        if let (Some(at), Some((whole, _))) = (at, &full) {
            let mut child = Command::new(bin)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            match at {
                Point::Read(f) => {
                    let (first, rest) = pcap.split_at((pcap.len() as f64 * f) as usize);
                    // A closed pipe (the replay stopped reading) is no error here.
                    let _ = stdin.write_all(first);
                    wait_for(60, "records of the first part at the sinks", || {
                        (!got.lock().unwrap().bulk_docs(&tag).is_empty()).then_some(())
                    });
                    common::netns::signal(child.id(), "TERM");
                    // More input wakes the reader, which then sees the stop.
                    let rest = rest.to_vec();
                    std::thread::spawn(move || {
                        let _ = stdin.write_all(&rest);
                    });
                }
                Point::Run(f) => {
                    let all = pcap.clone();
                    std::thread::spawn(move || {
                        let _ = stdin.write_all(&all);
                    });
                    std::thread::sleep(whole.mul_f64(f));
                    common::netns::signal(child.id(), "TERM");
                }
            }
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let what = format!("SIGTERM at {at:?}");
            assert!(!stderr.contains("panicked"), "{what}: {stderr}");
            let (_, whole_events) = full.as_ref().unwrap();
            // Before the replay has set up (catalog, GeoIP, sinks) a signal
            // has its default meaning: the process ends at once, having
            // written nothing (README: exit codes).
            if std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(15) {
                let text = std::fs::read(&eve).unwrap_or_default();
                assert!(
                    text.is_empty(),
                    "{what}: killed while starting, yet EVE output"
                );
                killed_at_start += 1;
                runs.push((what, Vec::new()));
            } else {
                let code = out.status.code().unwrap_or(-1);
                let events = eve_lines(&eve, &what);
                assert_eq!(
                    events.last().map(|v| v["event_type"].clone()),
                    Some(Value::from("stats")),
                    "{what}: the last EVE event is the stats event"
                );
                match code {
                    3 => {
                        stopped_mid_read += 1;
                        assert!(
                            stderr.contains("SIGTERM: stopping"),
                            "{what}: exit 3 without the stop message: {stderr}"
                        );
                        let shutdown = events
                            .iter()
                            .filter(|v| {
                                v["event_type"] == "flow" && v["flow"]["reason"] == "shutdown"
                            })
                            .count();
                        assert!(shutdown > 0, "{what}: no flow ended `shutdown`");
                        assert!(
                            counts(without_stats(&events)) != counts(without_stats(whole_events)),
                            "{what}: exit 3 but the output is the whole run's"
                        );
                    }
                    0 => assert_eq!(
                        counts(without_stats(&events)),
                        counts(without_stats(whole_events)),
                        "{what}: exit 0, so the whole input was read"
                    ),
                    c => panic!("{what}: exit code {c} (documented: 3 stopped, 0 done): {stderr}"),
                }
                runs.push((what, events));
                std::fs::rename(&eve, dir.path().join("stopped.json")).unwrap();
            }
        }
        let started = Instant::now();
        let run = phonehome_stdin(&args, &pcap);
        assert_eq!(run.code, 0, "restart {rep}: {}", run.stderr);
        let elapsed = started.elapsed();
        let restart = eve_lines(&eve, "restart");
        if full.is_none() {
            assert!(restart.len() > 100, "{} events", restart.len());
            full = Some((elapsed, restart.clone()));
        }
        let Some((what, stopped)) = runs.pop() else {
            continue;
        };
        let g = got.lock().unwrap();
        let bulk: Vec<Value> = g.bulk_docs(&tag).into_iter().cloned().collect();
        let hec: Vec<Value> = g
            .hec_events(&tag)
            .into_iter()
            .map(|v| v["event"].clone())
            .collect();
        drop(g);
        let list: Vec<Value> = redis
            .list(&tag)
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap())
            .collect();
        let want = expected(&stopped, &restart);
        check_arrivals(&format!("{what}, _bulk"), &bulk, &want);
        // rsyslogd writes on its own time: wait for as many as _bulk got.
        let syslog: Vec<Value> = wait_for(30, "rsyslogd to write every message", || {
            let m = rsyslog.messages(&tag);
            (m.len() >= bulk.len()).then_some(m)
        })
        .iter()
        .map(|m| serde_json::from_str(m).unwrap())
        .collect();
        for (sink, arrived) in [("hec", &hec), ("redis", &list), ("syslog tcp", &syslog)] {
            check_arrivals(&format!("{what}, {sink}"), arrived, &want);
        }
        // Every alert of the restart's EVE is there, once per run that made
        // it differently.
        for a in restart.iter().filter(|v| v["event_type"] == "alert") {
            let n = bulk.iter().filter(|v| *v == a).count();
            let w = want.iter().filter(|v| **v == a).count();
            assert!(
                n >= 1 && n == w,
                "{what}: alert {a} arrived {n} times, not {w}"
            );
            alerts_checked += 1;
        }
        let resent = want.len() - stopped.len();
        eprintln!(
            "{what}: stopped run {} events, restart {} (alike for the first {}); the restart delivered {resent}",
            stopped.len(),
            restart.len(),
            stopped.iter().zip(&restart).take_while(|(a, b)| a == b).count()
        );
    }
    assert!(
        stopped_mid_read >= 2,
        "only {stopped_mid_read} of {} signals landed while reading: the test would test little",
        POINTS.len()
    );
    eprintln!(
        "{} SIGTERMs: {killed_at_start} while starting (killed, nothing written), {stopped_mid_read} while reading (exit 3), the rest after reading (exit 0); a whole run took {:.2}s; {alerts_checked} alerts checked",
        POINTS.len(),
        full.as_ref().map_or(0.0, |f| f.0.as_secs_f64())
    );
}
