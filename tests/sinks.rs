//! Sinks against real receivers: a private rsyslogd (UDP, TCP, unix socket),
//! a private redis-server, and an HTTP receiver in this file speaking Splunk
//! HEC and Elasticsearch `_bulk`. Receivers are stopped mid-run and brought
//! back: every finding must arrive exactly once, in order.
//!
//! rsyslogd and redis-server must be installed (scripts/test installs them):
//! a missing one fails these tests, it does not skip them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;
#[path = "common/receivers.rs"]
mod receivers;

use phonehome::judge::policy::{FindingKind, Severity};
use phonehome::judge::{Confidence, Destination, Evidence, Finding};
use phonehome::resolve::catalog::Tier;
use phonehome::resolve::EvidenceKind;
use phonehome::sink::config::{Dest, FileFormat, RedisMode, SyslogAddr, SyslogBody};
use phonehome::sink::redis::Reply;
use phonehome::sink::{Select, SinkSettings, SinkSpec, Sinks, Snapshot};
use receivers::{free_port, wait_for, HttpReceiver, Received, RedisServer, Rsyslog};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Finding number `i`: vendor `Vendor<i>` on host 10.0.<i/250>.<i%250+1>.
fn finding(i: u32) -> Finding {
    let host = format!("10.0.{}.{}", i / 250, i % 250 + 1).parse().unwrap();
    let ts = 1_741_003_200_000_000_000 + u64::from(i) * 1_000_000_000;
    Finding {
        host,
        vendor: format!("Vendor{i}"),
        product: "Agent | \"edge\" = 1".into(),
        vendor_country: vec!["US".into()],
        kind: FindingKind::ForeignVendorDataAbroad,
        severity: Severity::High,
        confidence: Confidence::High,
        tier: Tier::Endpoint,
        foreign_vendor: true,
        data_abroad: true,
        first_seen_ns: ts,
        last_seen_ns: ts + 500_000_000,
        flows: 1,
        bytes_toserver: 1000 + u64::from(i),
        bytes_toclient: 200,
        destinations: vec![Destination {
            ip: Some("54.183.140.32".parse().unwrap()),
            names: BTreeSet::from([format!("t{i}.cloudsink.net")]),
            country: Some("US".into()),
            asn: Some(16509),
            as_org: Some("Amazon.com, Inc.".into()),
            flows: 1,
            bytes_toserver: 1000 + u64::from(i),
            bytes_toclient: 200,
        }],
        destinations_dropped: 0,
        evidence: vec![Evidence {
            kind: EvidenceKind::TlsSni,
            tier: Tier::Endpoint,
            value: format!("t{i}.cloudsink.net"),
            pattern: "*.cloudsink.net".into(),
            purpose: "telemetry",
            source: "https://example.invalid/doc".into(),
            community_id: "1:abc=".into(),
            flow_id: u64::from(i),
            timestamp_ns: ts,
        }],
        evidence_counts: BTreeMap::from([(EvidenceKind::TlsSni, 1)]),
        dns_only: false,
        exception: None,
        reason: format!("10.0.0.{i} runs Vendor{i} Agent: a=b\\c"),
        identity: None,
    }
}

fn send_alert(s: &mut Sinks, i: u32) {
    let f = finding(i);
    let mut line = Vec::new();
    phonehome::output::eve::alert_event(&mut line, &f);
    s.alert(&line, &f);
}

fn spec(name: &str, dest: Dest, select: Select) -> SinkSpec {
    SinkSpec {
        name: name.into(),
        dest,
        select,
        queue: 100,
        batch: 8,
        retry_max: Duration::from_millis(400),
        spool_max: 16 << 20,
    }
}

fn settings(spool: &Path, sinks: Vec<SinkSpec>) -> SinkSettings {
    SinkSettings {
        sinks,
        spool_dir: spool.to_path_buf(),
        timeout: Duration::from_secs(30),
        ..SinkSettings::default()
    }
}

fn snap(s: &Sinks, name: &str) -> Snapshot {
    s.snapshots()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap()
        .1
}

// ---------------------------------------------------------------- HTTP receiver

fn vendor_of_hec(v: &Value) -> String {
    v["event"]["phonehome"]["vendor"]
        .as_str()
        .unwrap()
        .to_string()
}

fn vendors(n: std::ops::RangeInclusive<u32>) -> Vec<String> {
    n.map(|i| format!("Vendor{i}")).collect()
}

#[test]
fn http_receiver_down_mid_run_every_finding_once_in_order() {
    let got = Arc::new(Mutex::new(Received::default()));
    let rx = HttpReceiver::start(0, Arc::clone(&got));
    let spool = tempfile::tempdir().unwrap();
    let mut s = Sinks::start(&settings(
        spool.path(),
        vec![
            spec(
                "hec",
                Dest::Hec {
                    url: rx.url(),
                    token: "T0KEN".into(),
                    sourcetype: "suricata:{event_type}".into(),
                    index: None,
                },
                Select::Alerts,
            ),
            spec(
                "elastic",
                Dest::Elastic {
                    url: rx.url(),
                    index: "phonehome".into(),
                    auth: None,
                    format: FileFormat::Ecs,
                },
                Select::Alerts,
            ),
        ],
    ))
    .unwrap();
    for i in 1..=10 {
        send_alert(&mut s, i);
    }
    wait_for(20, "the first 10 findings", || {
        let g = got.lock().unwrap();
        (g.hec.len() == 10 && g.bulk.len() == 10).then_some(())
    });
    let port = rx.stop();
    for i in 11..=30 {
        send_alert(&mut s, i);
        std::thread::sleep(Duration::from_millis(10));
    }
    // Both sinks noticed and spooled what came while the receiver was down.
    wait_for(20, "spooling", || {
        (snap(&s, "hec").spooled >= 20 && snap(&s, "elastic").spooled >= 20).then_some(())
    });
    let rx = HttpReceiver::start(port, Arc::clone(&got));
    for i in 31..=40 {
        send_alert(&mut s, i);
    }
    s.flush();
    let hec = snap(&s, "hec");
    let el = snap(&s, "elastic");
    let reports = s.finish();
    rx.stop();
    let g = got.lock().unwrap();
    let hec_vendors: Vec<String> = g.hec.iter().map(vendor_of_hec).collect();
    assert_eq!(
        hec_vendors,
        vendors(1..=40),
        "HEC: each finding once, in order"
    );
    assert!(g.hec.iter().all(|v| v["sourcetype"] == "suricata:alert"));
    let seqs: Vec<u64> = g
        .bulk
        .iter()
        .map(|b| b.doc["event"]["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=40).collect::<Vec<u64>>(),
        "_bulk: each once, in order"
    );
    assert_eq!(g.bulk[0].doc["event"]["kind"], "alert");
    assert_eq!(g.bulk[39].doc["phonehome"]["vendor"], "Vendor40");
    for (name, c) in [("hec", &hec), ("elastic", &el)] {
        assert_eq!(c.sent, 40, "{name}: {c:?}");
        assert!(c.spooled >= 20, "{name}: {c:?}");
        assert_eq!(
            c.replayed, c.spooled,
            "{name}: everything spooled was replayed: {c:?}"
        );
        assert_eq!(c.dropped, 0, "{name}: {c:?}");
        assert!(c.retries >= 1, "{name}: {c:?}");
    }
    assert!(reports.iter().all(|r| r.backlog == 0), "{reports:?}");
    eprintln!(
        "http: receiver stopped after 10 alerts, back after 30; HEC {}/40 and _bulk {}/40 received once, in order; hec {hec:?}; elastic {el:?}; 409 conflicts {}",
        g.hec.len(),
        g.bulk.len(),
        g.conflicts
    );
    assert_eq!(
        std::fs::read_dir(spool.path().join("hec")).unwrap().count(),
        0
    );
}

#[test]
fn replay_to_hec_and_elastic_matches_the_eve_file() {
    let got = Arc::new(Mutex::new(Received::default()));
    let rx = HttpReceiver::start(0, Arc::clone(&got));
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("eve.json");
    let ecs = dir.path().join("ecs.json");
    let url = rx.url();
    let run = common::phonehome(&[
        "replay",
        root().join("captures/demo.pcap").to_str().unwrap(),
        "--workers",
        "2",
        "-q",
        "--eve",
        eve.to_str().unwrap(),
        "--hec",
        &url,
        "--hec-token",
        "T0KEN",
        "--elastic",
        &url,
        "--ecs",
        ecs.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    rx.stop();
    let lines: Vec<Value> = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 124);
    let g = got.lock().unwrap();
    let hec_events: Vec<&Value> = g.hec.iter().map(|v| &v["event"]).collect();
    let eve_lines: Vec<&Value> = lines.iter().collect();
    // The stats event reaches the sinks too, after their counters were taken.
    assert_eq!(hec_events.len(), 124);
    assert_eq!(hec_events[..123], eve_lines[..123]);
    assert_eq!(hec_events[123]["event_type"], "stats");
    assert_eq!(g.bulk.len(), 124);
    assert_eq!(
        g.hec
            .iter()
            .filter(|v| v["sourcetype"] == "suricata:alert")
            .count(),
        15
    );
    let stats = &lines[123]["stats"]["phonehome"]["sinks"];
    for name in ["hec", "elastic", "ecs"] {
        assert_eq!(
            stats[name],
            serde_json::json!({"sent": 123, "spooled": 0, "replayed": 0, "dropped": 0, "retries": 0}),
            "{name}"
        );
    }
    assert_eq!(std::fs::read_to_string(&ecs).unwrap().lines().count(), 124);
    let v = common::EveValidator::new();
    for l in &lines {
        let p = v.problems(l);
        assert!(p.is_empty(), "{p:?}");
    }
}

#[test]
fn undelivered_records_stay_spooled_for_the_next_run() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let url = format!("http://127.0.0.1:{port}");
    let args = |eve: &Path| -> Vec<String> {
        [
            "replay",
            root().join("captures/demo.pcap").to_str().unwrap(),
            "-q",
            "--eve",
            eve.to_str().unwrap(),
            "--hec",
            &url,
            "--hec-token",
            "T0KEN",
            "--spool-dir",
            spool.to_str().unwrap(),
            "--sink-timeout",
            "1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    // Nobody listens: everything is spooled, the run still succeeds.
    let e1 = dir.path().join("eve1.json");
    let a1 = args(&e1);
    let run = common::phonehome(&a1.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("sink hec: 0 sent (0 from the spool), 124 spooled, 0 dropped"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("124 records not delivered are kept in"),
        "{}",
        run.stderr
    );
    let last: Value = serde_json::from_str(
        std::fs::read_to_string(&e1)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["stats"]["phonehome"]["sinks"]["hec"]["spooled"], 123);
    assert_eq!(last["stats"]["phonehome"]["sinks"]["hec"]["sent"], 0);
    // The receiver is back: the next run sends the spool first, then its own.
    let got = Arc::new(Mutex::new(Received::default()));
    let rx = HttpReceiver::start(port, Arc::clone(&got));
    let e2 = dir.path().join("eve2.json");
    let a2 = args(&e2);
    let run = common::phonehome(&a2.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.stderr);
    rx.stop();
    let g = got.lock().unwrap();
    let eve1: Vec<Value> = std::fs::read_to_string(&e1)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let eve2: Vec<Value> = std::fs::read_to_string(&e2)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<&Value> = g.hec.iter().map(|v| &v["event"]).collect();
    assert_eq!(
        events.len(),
        248,
        "124 from the first run, 124 from the second"
    );
    assert_eq!(events[..124], eve1.iter().collect::<Vec<_>>()[..]);
    assert_eq!(events[124..247], eve2.iter().collect::<Vec<_>>()[..123]);
    let st = &eve2[123]["stats"]["phonehome"]["sinks"]["hec"];
    assert_eq!(st["replayed"], 124);
    assert_eq!(st["sent"], 247);
    // Nothing is left but the head, holding the run's acknowledged position.
    let left: Vec<String> = std::fs::read_dir(spool.join("hec"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["head".to_string()]);
    let head = std::fs::read_to_string(spool.join("hec/head")).unwrap();
    assert!(
        head.starts_with("0 0 run=")
            && head.contains(" acked=124 ")
            && head.ends_with(" foreign=0\n"),
        "{head}"
    );
}

// ---------------------------------------------------------------- redis

fn vendor_of_line(b: &[u8]) -> String {
    let v: Value = serde_json::from_slice(b).unwrap();
    v["phonehome"]["vendor"].as_str().unwrap().to_string()
}

#[test]
fn redis_killed_mid_run_every_finding_once_in_order() {
    let data = tempfile::tempdir().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let port = free_port();
    let r = RedisServer::start(port, data.path());
    let redis = |mode, key: &str| Dest::Redis {
        addr: format!("127.0.0.1:{port}"),
        password: None,
        db: 0,
        key: key.into(),
        mode,
        maxlen: 100_000,
        format: FileFormat::Eve,
    };
    let mut s = Sinks::start(&settings(
        spool.path(),
        vec![
            spec(
                "stream",
                redis(RedisMode::Stream, "ph:stream"),
                Select::Alerts,
            ),
            spec("list", redis(RedisMode::List, "ph:list"), Select::Alerts),
        ],
    ))
    .unwrap();
    for i in 1..=10 {
        send_alert(&mut s, i);
    }
    wait_for(20, "10 entries in redis", || {
        let n = r.query(&[b"XLEN", b"ph:stream"]).ok()?;
        let m = r.query(&[b"LLEN", b"ph:list"]).ok()?;
        (n == Reply::Int(10) && m == Reply::Int(10)).then_some(())
    });
    let (port, dir) = r.kill();
    for i in 11..=30 {
        send_alert(&mut s, i);
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_for(20, "spooling", || {
        (snap(&s, "stream").spooled >= 20 && snap(&s, "list").spooled >= 20).then_some(())
    });
    let r = RedisServer::start(port, &dir);
    for i in 31..=40 {
        send_alert(&mut s, i);
    }
    s.flush();
    let (st, li) = (snap(&s, "stream"), snap(&s, "list"));
    s.finish();
    let Reply::Array(Some(entries)) = r.query(&[b"XRANGE", b"ph:stream", b"-", b"+"]).unwrap()
    else {
        panic!("XRANGE")
    };
    let stream: Vec<String> = entries
        .iter()
        .map(|e| {
            let Reply::Array(Some(e)) = e else { panic!() };
            let Reply::Array(Some(fv)) = &e[1] else {
                panic!()
            };
            assert_eq!(fv[0], Reply::Bulk(Some(b"eve".to_vec())));
            let Reply::Bulk(Some(v)) = &fv[1] else {
                panic!()
            };
            vendor_of_line(v)
        })
        .collect();
    assert_eq!(
        stream,
        vendors(1..=40),
        "stream: each finding once, in order"
    );
    let Reply::Array(Some(items)) = r.query(&[b"LRANGE", b"ph:list", b"0", b"-1"]).unwrap() else {
        panic!("LRANGE")
    };
    let list: Vec<String> = items
        .iter()
        .map(|i| {
            let Reply::Bulk(Some(v)) = i else { panic!() };
            vendor_of_line(v)
        })
        .collect();
    assert_eq!(list, vendors(1..=40), "list: each finding once, in order");
    eprintln!(
        "redis: killed after 10 alerts, back after 30; stream {}/40, list {}/40 once, in order; stream {st:?}; list {li:?}",
        stream.len(),
        list.len()
    );
    for (name, c) in [("stream", &st), ("list", &li)] {
        assert_eq!(c.sent, 40, "{name}: {c:?}");
        assert!(c.spooled >= 20, "{name}: {c:?}");
        assert_eq!(c.replayed, c.spooled, "{name}: {c:?}");
        assert_eq!(c.dropped, 0, "{name}: {c:?}");
        assert!(c.retries >= 1, "{name}: {c:?}");
    }
}

#[test]
fn redis_password_with_slash_at_and_colon_from_the_command_line() {
    // Issue 10: a password holding '/' was cut at the slash. Percent-encoded
    // in the URL, it must reach AUTH whole.
    let password = "p/ss@w:rd";
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let r = RedisServer::start_with_password(port, data.path(), Some(password));
    let out = tempfile::tempdir().unwrap();
    let url = format!("redis://:p%2Fss%40w%3Ard@127.0.0.1:{port}/0");
    let run = common::phonehome(&[
        "replay",
        root().join("captures/demo.pcap").to_str().unwrap(),
        "-q",
        "--eve",
        out.path().join("eve.json").to_str().unwrap(),
        "--spool-dir",
        out.path().join("spool").to_str().unwrap(),
        "--redis",
        &url,
        "--redis-key",
        "ph:auth",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let eve_lines = std::fs::read_to_string(out.path().join("eve.json"))
        .unwrap()
        .lines()
        .count();
    assert!(eve_lines > 100, "{eve_lines}");
    assert_eq!(
        r.query(&[b"XLEN", b"ph:auth"]).unwrap(),
        Reply::Int(eve_lines as i64),
        "every EVE line delivered after AUTH with the decoded password; stderr: {}",
        run.stderr
    );
    // The same URL unencoded is refused as a usage error, naming the way to write it.
    let bad = format!("redis://:{password}@127.0.0.1:{port}/0");
    let run = common::phonehome(&[
        "replay",
        root().join("captures/demo.pcap").to_str().unwrap(),
        "--eve",
        "-",
        "--redis",
        &bad,
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("%2F"), "{}", run.stderr);
}

// ---------------------------------------------------------------- rsyslog

/// The CEF extension as key → value (unescaped).
fn cef_ext(msg: &str) -> BTreeMap<String, String> {
    let ext = msg.splitn(8, '|').nth(7).unwrap();
    let mut out = BTreeMap::new();
    // Keys are [A-Za-z0-9]+ followed by '='; values run to the next " key=".
    let bytes: Vec<char> = ext.chars().collect();
    let mut i = 0;
    let mut key = String::new();
    let mut val = String::new();
    let mut in_key = true;
    while i < bytes.len() {
        let c = bytes[i];
        if in_key {
            if c == '=' {
                in_key = false;
            } else {
                key.push(c);
            }
        } else if c == '\\' && i + 1 < bytes.len() {
            i += 1;
            val.push(match bytes[i] {
                'n' => '\n',
                'r' => '\r',
                o => o,
            });
        } else if c == ' ' && {
            let rest: String = bytes[i + 1..].iter().collect();
            let k: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            !k.is_empty() && rest[k.len()..].starts_with('=')
        } {
            out.insert(std::mem::take(&mut key), std::mem::take(&mut val));
            in_key = true;
        } else {
            val.push(c);
        }
        i += 1;
    }
    out.insert(key, val);
    out
}

#[test]
fn rsyslog_over_udp_tcp_and_unix_with_cef_and_a_tcp_restart() {
    let dir = tempfile::tempdir().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let (udp, tcp) = (free_port(), free_port());
    let r = Rsyslog::start(dir.path(), udp, tcp);
    let syslog = |addr| Dest::Syslog {
        addr,
        body: SyslogBody::Cef,
        facility: 21,
        app_name: "phonehome".into(),
    };
    let mut s = Sinks::start(&settings(
        spool.path(),
        vec![
            spec(
                "udp",
                syslog(SyslogAddr::Udp(format!("127.0.0.1:{udp}"))),
                Select::Alerts,
            ),
            spec(
                "tcp",
                syslog(SyslogAddr::Tcp(format!("127.0.0.1:{tcp}"))),
                Select::Alerts,
            ),
            spec(
                "unix",
                syslog(SyslogAddr::Unix(Rsyslog::sock(dir.path()))),
                Select::Alerts,
            ),
        ],
    ))
    .unwrap();
    // A non-alert event is not selected by syslog sinks.
    s.event(br#"{"timestamp":"2025-03-03T12:00:00.000000+0000","event_type":"flow"}"#);
    for i in 1..=10 {
        send_alert(&mut s, i);
    }
    s.flush();
    for input in ["imudp", "imtcp", "imuxsock"] {
        let got = wait_for(20, input, || {
            let l = r.lines(input);
            (l.len() >= 10).then_some(l)
        });
        assert_eq!(got.len(), 10, "{input}");
        for (k, f) in got.iter().enumerate() {
            let i = k as u32 + 1;
            assert_eq!(f[1], "alert", "{input} msgid");
            assert_eq!(f[2], "phonehome");
            assert_eq!(f[3], "21", "facility local5");
            assert_eq!(f[4], "3", "high finding: severity err");
            assert_eq!(f[5], format!("[phonehome@32473 seq=\"{i}\"]"), "{input}");
            let msg = &f[6];
            assert!(
                msg.starts_with(&format!(
                    "CEF:0|phonehome|phonehome|{}|9100001|PHONEHOME foreign vendor data abroad: Vendor{i} Agent \\| \"edge\" = 1|8|",
                    env!("CARGO_PKG_VERSION")
                )),
                "{msg}"
            );
            let ext = cef_ext(msg);
            assert_eq!(ext["src"], format!("10.0.0.{}", i + 1));
            assert_eq!(ext["dst"], "54.183.140.32");
            assert_eq!(ext["dhost"], format!("t{i}.cloudsink.net"));
            assert_eq!(ext["cs1"], format!("Vendor{i}"));
            assert_eq!(ext["cs2"], "Agent | \"edge\" = 1", "escaped '=' comes back");
            assert_eq!(
                ext["msg"],
                format!("10.0.0.{i} runs Vendor{i} Agent: a=b\\c")
            );
            assert_eq!(ext["out"], (1000 + i).to_string());
            assert_eq!(ext["cs4"], "US");
        }
    }
    // rsyslog goes away after reading everything; records meanwhile are
    // spooled, and replayed once it is back.
    let (udp, tcp) = (r.udp, r.tcp);
    r.stop();
    for i in 11..=25 {
        send_alert(&mut s, i);
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_for(20, "tcp spooling", || {
        (snap(&s, "tcp").spooled >= 15).then_some(())
    });
    let r = Rsyslog::start(dir.path(), udp, tcp);
    wait_for(20, "the tcp spool to drain", || {
        (snap(&s, "tcp").replayed >= 15).then_some(())
    });
    for i in 26..=30 {
        send_alert(&mut s, i);
    }
    s.flush();
    let c = snap(&s, "tcp");
    let got = wait_for(20, "30 over tcp", || {
        let l = r.lines("imtcp");
        (l.len() >= 30).then_some(l)
    });
    let dsts: Vec<String> = got.iter().map(|f| cef_ext(&f[6])["cs1"].clone()).collect();
    assert_eq!(dsts, vendors(1..=30), "tcp: each finding once, in order");
    assert_eq!(c.sent, 30, "{c:?}");
    assert_eq!(c.spooled, 15, "{c:?}");
    assert_eq!(c.replayed, 15, "{c:?}");
    assert_eq!(c.dropped, 0);
    let u = snap(&s, "unix");
    assert_eq!(
        (u.sent, u.dropped),
        (30, 0),
        "unix datagrams: refused while down, spooled: {u:?}"
    );
    eprintln!(
        "rsyslog: stopped after 10 alerts, back after 25; tcp {}/30 once, in order; tcp {c:?}; unix {u:?}",
        got.len()
    );
    s.finish();
}

#[test]
fn replay_sends_alerts_to_rsyslog_with_the_syslog_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (udp, tcp) = (free_port(), free_port());
    let r = Rsyslog::start(dir.path(), udp, tcp);
    let out = tempfile::tempdir().unwrap();
    let run = common::phonehome(&[
        "replay",
        root().join("captures/demo.pcap").to_str().unwrap(),
        "-q",
        "--eve",
        out.path().join("eve.json").to_str().unwrap(),
        "--syslog",
        &format!("tcp://127.0.0.1:{tcp}"),
        "--syslog",
        &format!("unix://{}", Rsyslog::sock(dir.path()).display()),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for input in ["imtcp", "imuxsock"] {
        let got = wait_for(20, input, || {
            let l = r.lines(input);
            (l.len() >= 15).then_some(l)
        });
        assert_eq!(got.len(), 15, "{input}: one message per finding");
        let vendors: BTreeSet<String> = got.iter().map(|f| cef_ext(&f[6])["cs1"].clone()).collect();
        assert!(
            vendors.contains("CrowdStrike") && vendors.contains("Kaspersky"),
            "{vendors:?}"
        );
        let cs = got
            .iter()
            .find(|f| f[6].contains("cs1=CrowdStrike") && f[6].contains("src=10.1.10.11"))
            .unwrap();
        let ext = cef_ext(&cs[6]);
        assert_eq!(ext["dhost"], "ts01-b.cloudsink.net");
        assert_eq!(ext["cs4"], "US");
        assert_eq!(ext["cs6"], "1:ekoPzbp8FbwgHdDvgzUsTy6Hmt8=");
    }
    r.stop();
}

// ---------------------------------------------------------------- usage

#[test]
fn malformed_sink_settings_are_usage_or_config_errors() {
    let pcap = root().join("captures/demo.pcap");
    let pcap = pcap.to_str().unwrap();
    let run = common::phonehome(&[
        "replay",
        pcap,
        "--eve",
        "-",
        "--syslog",
        "tcp://host:notaport",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .next()
            .unwrap()
            .contains("syslog URL tcp://host:notaport")
            || run.stderr.lines().next().unwrap().contains("bad port"),
        "{}",
        run.stderr
    );
    let run = common::phonehome(&["replay", pcap, "--eve", "-", "--hec", "http://127.0.0.1:1"]);
    assert_eq!(run.code, 2, "--hec without --hec-token: {}", run.stderr);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sinks.toml");
    std::fs::write(
        &cfg,
        "[[sink]]\ntype = \"redis\"\nurl = \"redis://h/notadb\"\n",
    )
    .unwrap();
    let run = common::phonehome(&[
        "replay",
        pcap,
        "--eve",
        "-",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("bad database number 'notadb'"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "nothing written on a config error");
    // A corrupt spool is a clear error too, not a panic.
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(spool.join("hec")).unwrap();
    std::fs::write(
        spool.join("hec/00000000000000000001.seg"),
        b"\x05\0\0\0garbage-garbage-x",
    )
    .unwrap();
    let run = common::phonehome(&[
        "replay",
        pcap,
        "--eve",
        "-",
        "--hec",
        "http://127.0.0.1:1",
        "--hec-token",
        "t",
        "--spool-dir",
        spool.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("is corrupt at byte 0: checksum mismatch"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- ECS

/// One line of tests/sinks_data/ecs_fields.tsv.
struct EcsField {
    ty: String,
    array: bool,
    values: Vec<String>,
}

/// ECS's own field list (tests/sinks_data/ecs_fields.tsv, generated from
/// elastic/ecs `generated/ecs/ecs_flat.yml` by tools/ecs-fields/generate.py).
fn ecs_fields() -> BTreeMap<String, EcsField> {
    let text = std::fs::read_to_string(root().join("tests/sinks_data/ecs_fields.tsv")).unwrap();
    assert!(
        text.contains("generated/ecs/ecs_flat.yml at v8.11.0"),
        "the header names its source"
    );
    let fields: BTreeMap<String, EcsField> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 4, "{l}");
            let values = if c[3] == "-" {
                Vec::new()
            } else {
                c[3].split(',').map(String::from).collect()
            };
            (
                c[0].to_string(),
                EcsField {
                    ty: c[1].to_string(),
                    array: c[2] == "array",
                    values,
                },
            )
        })
        .collect();
    // The whole of ECS 8.11, not a hand-picked subset.
    assert_eq!(fields.len(), 1659, "ECS 8.11.0 defines 1659 fields");
    fields
}

/// RFC 3339 date-time: `2025-03-03T12:00:14.002266Z` or with `+hh:mm`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
        || b[10] != b'T'
        || !(digits(11..13) && b[13] == b':' && digits(14..16) && b[16] == b':' && digits(17..19))
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':'
            && rest[1..3]
                .bytes()
                .chain(rest[4..].bytes())
                .all(|c| c.is_ascii_digit()))
}

/// Whether one JSON value fits an ECS type.
fn fits(ty: &str, v: &Value) -> bool {
    match ty {
        "keyword" | "constant_keyword" | "wildcard" | "match_only_text" | "text" => v.is_string(),
        "long" | "integer" | "short" | "byte" => v.is_i64() || v.is_u64(),
        "unsigned_long" => v.is_u64(),
        "float" | "double" | "scaled_float" | "half_float" => v.is_number(),
        "boolean" => v.is_boolean(),
        "date" => v.as_str().is_some_and(is_rfc3339),
        "ip" => v
            .as_str()
            .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
        "object" | "nested" | "flattened" => v.is_object(),
        "geo_point" => {
            v.get("lat").is_some_and(Value::is_number) && v.get("lon").is_some_and(Value::is_number)
        }
        _ => false,
    }
}

/// Checks `v` at `path` against ECS; records the fields used in `seen`.
fn check_ecs(
    path: &str,
    v: &Value,
    ecs: &BTreeMap<String, EcsField>,
    seen: &mut BTreeSet<String>,
    bad: &mut BTreeSet<String>,
) {
    let Some(f) = ecs.get(path) else {
        // Not a field: an intermediate object (`source`, `destination.geo`).
        match v.as_object() {
            Some(m) if !m.is_empty() => {
                for (k, x) in m {
                    check_ecs(&format!("{path}.{k}"), x, ecs, seen, bad);
                }
            }
            _ => {
                bad.insert(format!("{path}: not an ECS field ({v})"));
            }
        }
        return;
    };
    seen.insert(path.to_string());
    let items: Vec<&Value> = match (f.array, v) {
        (true, Value::Array(a)) if !a.is_empty() => a.iter().collect(),
        (true, _) => {
            bad.insert(format!("{path}: ECS normalizes it to an array, got {v}"));
            return;
        }
        (false, Value::Array(_)) => {
            bad.insert(format!("{path}: ECS {} is not an array, got {v}", f.ty));
            return;
        }
        (false, _) => vec![v],
    };
    for x in items {
        if !fits(&f.ty, x) {
            bad.insert(format!("{path}: {x} is not an ECS {}", f.ty));
        } else if !f.values.is_empty()
            && !x.as_str().is_some_and(|s| f.values.iter().any(|a| a == s))
        {
            bad.insert(format!(
                "{path}: {x} is not one of ECS's values {:?}",
                f.values
            ));
        } else if let Some(m) = x
            .as_object()
            .filter(|_| matches!(f.ty.as_str(), "object" | "nested"))
        {
            for (k, y) in m {
                check_ecs(&format!("{path}.{k}"), y, ecs, seen, bad);
            }
        }
    }
}

#[test]
fn ecs_documents_use_only_ecs_fields_with_their_types() {
    let ecs = ecs_fields();
    // The checker itself: each of these is caught.
    let mut probe = BTreeSet::new();
    let wrong = serde_json::json!({
        "destination": {"as": {"number": "16509"}, "geo": {"country": "US"}},
        "event": {"kind": "finding", "category": "network"},
        "dns": {"answers": {"data": "x"}},
        "source": {"ip": "10.0.0.256"},
        "@timestamp": "2025-03-03 12:00:00",
    });
    for (k, v) in wrong.as_object().unwrap() {
        check_ecs(k, v, &ecs, &mut BTreeSet::new(), &mut probe);
    }
    assert_eq!(probe.len(), 7, "{probe:#?}");
    let dir = tempfile::tempdir().unwrap();
    let mut seen = BTreeSet::new();
    let mut bad = BTreeSet::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut docs_total = 0;
    let corpus = common::shared().join("captures");
    let inputs = [
        root().join("captures/demo.pcap"),
        root().join("captures/realstack.pcap"),
        corpus,
    ];
    let mut demo_docs = Vec::new();
    for (k, input) in inputs.iter().enumerate() {
        let eve = dir.path().join(format!("eve{k}.json"));
        let ecs_out = dir.path().join(format!("ecs{k}.json"));
        let run = common::phonehome(&[
            "replay",
            input.to_str().unwrap(),
            "-q",
            "--eve",
            eve.to_str().unwrap(),
            "--ecs",
            ecs_out.to_str().unwrap(),
        ]);
        // The corpus holds two deliberately damaged captures: exit code 1
        // for those (the rest is written), nothing else.
        let damaged_only = k == 2
            && run.code == 1
            && run.stderr.lines().count() == 2
            && run.stderr.lines().all(|l| l.contains(": damaged at byte "));
        assert!(
            run.code == 0 || damaged_only,
            "{}: {}",
            input.display(),
            run.stderr
        );
        let eve: Vec<Value> = std::fs::read_to_string(&eve)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let docs: Vec<Value> = std::fs::read_to_string(&ecs_out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // One document per EVE event, in the same order (the stats event
        // included: it goes to the sinks after their counters were taken).
        assert_eq!(docs.len(), eve.len(), "{}", input.display());
        for (i, (d, e)) in docs.iter().zip(&eve).enumerate() {
            assert_eq!(d["event"]["sequence"], i as u64 + 1);
            assert_eq!(
                d["event"]["dataset"],
                format!("phonehome.{}", e["event_type"].as_str().unwrap())
            );
            assert_eq!(d["ecs"]["version"], "8.11.0");
            if let Some(ip) = e["src_ip"].as_str() {
                assert_eq!(d["source"]["ip"], ip);
                assert_eq!(d["destination"]["ip"], e["dest_ip"]);
            }
            let m = d.as_object().unwrap();
            for (k, v) in m {
                if k != "phonehome" {
                    check_ecs(k, v, &ecs, &mut seen, &mut bad);
                }
            }
            *kinds
                .entry(d["event"]["kind"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        docs_total += docs.len();
        if k == 0 {
            demo_docs = docs;
        }
    }
    assert!(
        bad.is_empty(),
        "{} problems:\n{}",
        bad.len(),
        bad.iter().cloned().collect::<Vec<_>>().join("\n")
    );
    // The fields the issue names are all there, among others.
    for f in [
        "@timestamp",
        "source.ip",
        "source.port",
        "destination.ip",
        "destination.geo.country_iso_code",
        "destination.as.number",
        "destination.as.organization.name",
        "tls.client.server_name",
        "dns.question.name",
        "dns.answers.data",
        "network.community_id",
        "event.kind",
        "rule.id",
        "rule.name",
        "rule.category",
        "threat.enrichments",
        "threat.enrichments.indicator.url.domain",
        "threat.enrichments.matched.field",
        "url.domain",
        "http.request.method",
        "tls.server.x509.subject.distinguished_name",
    ] {
        assert!(seen.contains(f), "{f} never written; written: {seen:?}");
    }
    assert!(
        kinds["alert"] >= 15 && kinds["metric"] == 3 && kinds["event"] > 1000,
        "{kinds:?}"
    );
    eprintln!("ECS: {docs_total} documents, {} distinct ECS fields, all in ECS 8.11.0 with their types; {kinds:?}", seen.len());
    // One alert in full: CrowdStrike on 10.1.10.11 in the demo capture.
    let a = demo_docs
        .iter()
        .find(|d| {
            d["event"]["kind"] == "alert"
                && d["phonehome"]["vendor"] == "CrowdStrike"
                && d["source"]["ip"] == "10.1.10.11"
        })
        .unwrap();
    assert_eq!(a["destination"]["geo"]["country_iso_code"], "US");
    assert_eq!(
        a["network"]["community_id"],
        "1:ekoPzbp8FbwgHdDvgzUsTy6Hmt8="
    );
    assert_eq!(a["rule"]["ruleset"], "phonehome");
    assert_eq!(
        a["event"]["category"],
        serde_json::json!(["intrusion_detection", "network"])
    );
    let en = a["threat"]["enrichments"].as_array().unwrap();
    assert!(
        en.iter().any(
            |x| x["indicator"]["url"]["domain"] == "ts01-b.cloudsink.net"
                && x["matched"]["field"] == "tls.client.server_name"
                && x["indicator"]["type"] == "domain-name"
        ),
        "{en:?}"
    );
}

#[test]
fn a_full_spool_loses_records_counts_them_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sinks.toml");
    let eve = dir.path().join("eve.json");
    // Nobody listens: every record goes to a spool of 4 KiB.
    std::fs::write(
        &conf,
        format!(
            "spool_dir = \"{}\"\ntimeout = 1\n\n[[sink]]\ntype = \"hec\"\nurl = \"http://127.0.0.1:{}\"\ntoken = \"T0KEN\"\nspool_max = \"4K\"\n",
            dir.path().join("spool").display(),
            free_port()
        ),
    )
    .unwrap();
    let run = common::phonehome(&[
        "replay",
        root().join("captures/demo.pcap").to_str().unwrap(),
        "-q",
        "--eve",
        eve.to_str().unwrap(),
        "--config",
        conf.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let text = std::fs::read_to_string(&eve).unwrap();
    let stats: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let hec = &stats["stats"]["phonehome"]["sinks"]["hec"];
    let lost = hec["spool_lost"].as_u64().unwrap();
    let spooled = hec["spooled"].as_u64().unwrap();
    assert!(lost > 100 && spooled > 0, "{hec}");
    assert_eq!(hec["dropped"].as_u64().unwrap(), lost, "{hec}");
    assert_eq!(
        lost + spooled,
        123,
        "every record before the stats event: {hec}"
    );
    assert!(
        run.stderr.contains(&format!(
            "phonehome: error: sink hec: {} records were lost because its spool was full or unwritable; raise spool_max or free ",
            lost + 1
        )),
        "{}",
        run.stderr
    );
}
