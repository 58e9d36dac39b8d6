//! The hostile-input suite: floods, cost bombs, damaged gzip, odd encapsulation,
//! mutated real captures, broken pipes and bad configuration.
//!
//! The captures are generated at test time by phonehome's own generator
//! (`gencap::hostile`, independent of the code under test) into a temporary
//! directory; nothing binary is committed. Each is built around one catalogued
//! connection (a host reaching CrowdStrike's `ts01-b.cloudsink.net`) that must
//! still give its finding. Every replay is measured: exit code, the counters of
//! the stats event, and the child's peak RSS (GNU time's `%M`, from wait4).
//! No timing is asserted; CPU times are printed for the record.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use gencap::hostile::{self, Case, EVIDENCE};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const PHONEHOME: &str = env!("CARGO_BIN_EXE_phonehome");

/// The generated suite, once per test binary.
fn suite() -> &'static (tempfile::TempDir, Vec<Case>) {
    static SUITE: OnceLock<(tempfile::TempDir, Vec<Case>)> = OnceLock::new();
    SUITE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cases = hostile::write_all(dir.path()).unwrap();
        (dir, cases)
    })
}

fn case(name: &str) -> &'static Case {
    suite()
        .1
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// One measured replay.
struct Measured {
    name: String,
    code: i32,
    stderr: String,
    events: Vec<Value>,
    /// Longest EVE line, bytes.
    longest_line: usize,
    rss_kb: u64,
    cpu_s: f64,
}

impl Measured {
    fn stats(&self) -> &Value {
        let last = self.events.last().expect("no events");
        assert_eq!(
            last["event_type"], "stats",
            "{}: last event is not stats",
            self.name
        );
        &last["stats"]
    }

    fn of_type(&self, t: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["event_type"] == t)
            .collect()
    }

    /// The alert for `host`'s CrowdStrike finding.
    fn finding(&self, host: &str) -> Option<&Value> {
        self.of_type("alert")
            .into_iter()
            .find(|a| a["phonehome"]["host"] == host && a["phonehome"]["vendor"] == "CrowdStrike")
    }

    fn assert_finding(&self, case: &Case) {
        let host = case.host.expect("case has a host").to_string();
        assert!(
            self.finding(&host).is_some(),
            "{}: no CrowdStrike finding for {host} ({})",
            self.name,
            case.what
        );
    }

    fn anomalies(e: &Value) -> Vec<&str> {
        e["phonehome"]["anomalies"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    fn report(&self) {
        eprintln!(
            "hostile: {:<28} exit {} peak RSS {:>7} KiB  CPU {:>6.2} s  {:>7} events  longest line {:>7} B",
            self.name,
            self.code,
            self.rss_kb,
            self.cpu_s,
            self.events.len(),
            self.longest_line
        );
    }
}

/// `phonehome replay PATH --eve - -q --workers 2 EXTRA`, under GNU time.
fn replay(name: &str, path: &Path, extra: &[&str]) -> Measured {
    assert!(
        Path::new("/usr/bin/time").is_file(),
        "GNU time is needed to measure peak RSS (apt-get install time; scripts/test does)"
    );
    let timing = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M %U %S")
        .arg("-o")
        .arg(timing.path())
        .arg(PHONEHOME)
        .args([
            "replay",
            path.to_str().unwrap(),
            "--eve",
            "-",
            "-q",
            "--workers",
            "2",
        ])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "{name}: phonehome panicked:\n{stderr}"
    );
    let t = std::fs::read_to_string(timing.path()).unwrap();
    let last = t.lines().last().unwrap_or_default();
    let f: Vec<f64> = last
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(f.len(), 3, "{name}: cannot read GNU time's output {t:?}");
    let mut longest = 0;
    let events = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            longest = longest.max(l.len());
            serde_json::from_slice(l)
                .unwrap_or_else(|e| panic!("{name}: an EVE line is not JSON ({e})"))
        })
        .collect();
    let m = Measured {
        name: name.to_string(),
        code: out.status.code().unwrap_or(-1),
        stderr,
        events,
        longest_line: longest,
        rss_kb: f[0] as u64,
        cpu_s: f[1] + f[2],
    };
    m.report();
    m
}

fn run_case(name: &str, extra: &[&str]) -> (Measured, &'static Case) {
    let c = case(name);
    (replay(name, &c.path, extra), c)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

const MIB: u64 = 1024;

/// What a replay may hold at most, in KiB: the binary and its tables (~64 MiB
/// measured for the evidence alone) plus what the case's bounds allow.
fn assert_rss(m: &Measured, limit_mib: u64) {
    assert!(
        m.rss_kb < limit_mib * MIB,
        "{}: peak RSS {} KiB over {limit_mib} MiB",
        m.name,
        m.rss_kb
    );
}

#[test]
fn the_evidence_alone() {
    let (m, c) = run_case("evidence", &[]);
    assert_eq!(m.code, 0);
    m.assert_finding(c);
    assert_rss(&m, 128);
}

// ------------------------------------------------------------------ gzip

/// Packets wholly inside a classic pcap's bytes (little-endian, 16-byte headers).
fn whole_records(pcap: &[u8]) -> u64 {
    let mut p = 24;
    let mut n = 0;
    while let Some(h) = pcap.get(p..p + 16) {
        let len = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
        if p + 16 + len > pcap.len() {
            break;
        }
        n += 1;
        p += 16 + len;
    }
    n
}

/// What gunzip gives for (damaged) gzip bytes: every byte up to the damage.
fn inflate_prefix(gz: &[u8]) -> Vec<u8> {
    let mut d = flate2::read::MultiGzDecoder::new(gz);
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = d.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn gzip_damage_keeps_every_packet_before_it() {
    let g = hostile::gzip_cases().unwrap();
    let all = whole_records(&g.plain);
    let (plain, c) = run_case("gzip_plain", &[]);
    assert_eq!((plain.code, u(&plain.stats()["decoder"]["pkts"])), (0, all));
    plain.assert_finding(c);

    // Cut at 60 %: like a plain file cut at the same inflated byte, every
    // whole record before the cut is read; exit 0.
    let (cut, c) = run_case("gzip_truncated", &[]);
    let before_cut = whole_records(&inflate_prefix(&g.truncated));
    assert!(before_cut > 1000 && before_cut < all, "{before_cut}");
    assert_eq!(cut.code, 0, "{}", cut.stderr);
    assert_eq!(u(&cut.stats()["decoder"]["pkts"]), before_cut);
    assert!(u(&cut.stats()["phonehome"]["capture"]["truncated_records"]) <= 1);
    cut.assert_finding(c);

    // Garbage after the stream: every packet, and the damage named where the
    // garbage starts in the file.
    let (garbage, c) = run_case("gzip_garbage", &[]);
    assert_eq!(garbage.code, 1);
    assert_eq!(u(&garbage.stats()["decoder"]["pkts"]), all);
    assert!(
        garbage.stderr.contains(&format!(
            "damaged at byte {}: gzip: data after the last gzip member",
            g.garbage_at
        )),
        "{}",
        garbage.stderr
    );
    assert_eq!(
        u(&garbage.stats()["phonehome"]["capture"]["damaged_files"]),
        1
    );
    garbage.assert_finding(c);

    // A corrupt second member: at least the whole first member's packets.
    let (corrupt, c) = run_case("gzip_corrupt_member", &[]);
    assert_eq!(corrupt.code, 1);
    assert!(
        corrupt.stderr.contains("damaged at byte"),
        "{}",
        corrupt.stderr
    );
    let pkts = u(&corrupt.stats()["decoder"]["pkts"]);
    let first_member = whole_records(&g.plain[..g.plain.len() / 2]);
    assert!(
        (first_member..all).contains(&pkts),
        "{pkts} of {all}, first member {first_member}"
    );
    corrupt.assert_finding(c);
}

// ------------------------------------------------------------------ floods

#[test]
fn a_flood_of_flows_is_evicted_and_counted() {
    let (m, c) = run_case("flow_flood", &["--max-flows", "5000"]);
    assert_eq!(m.code, 0);
    let evicted = u(&m.stats()["phonehome"]["flow"]["evicted"]);
    assert!(evicted >= 55_000, "{evicted} evicted");
    m.assert_finding(c);
    // 5,000 flows held at a time.
    assert_rss(&m, 256);
}

#[test]
fn out_of_order_floods_are_named_counted_and_bounded() {
    let (m, c) = run_case("ooo_flood", &[]);
    assert_eq!(m.code, 0);
    let s = &m.stats()["phonehome"]["stream"];
    // Each of the 600 connections sent 70 KB behind a hole that never filled.
    assert_eq!(u(&s["ooo_dropped"]), 600, "{s}");
    assert_eq!(u(&s["gap_at_end"]), 600, "{s}");
    assert_eq!(u(&s["gave_up"]), 0, "{s}");
    let flagged = m
        .of_type("flow")
        .into_iter()
        .filter(|f| Measured::anomalies(f).contains(&"stream.ooo_dropped"))
        .count();
    assert_eq!(flagged, 600);
    m.assert_finding(c);
    // 600 windows of 64 KiB held at once, at most.
    assert_rss(&m, 64 + 600 * 64 / 1024 + 128);
}

#[test]
fn a_dns_flood_does_not_evict_the_catalogued_binding() {
    let (m, c) = run_case("dns_binding_flood", &[]);
    assert_eq!(m.code, 0);
    let d = &m.stats()["phonehome"]["dns_cache"];
    // 1 + 1,100 × 250 bindings for a cache of 262,144.
    assert_eq!(u(&d["added"]), 275_001, "{d}");
    assert_eq!(u(&d["evicted"]), 275_001 - 262_144, "{d}");
    assert_eq!(u(&d["protected_evicted"]), 0, "{d}");
    assert_eq!(u(&d["bindings"]), 262_144, "{d}");
    // The connection without a server name is attributed by the early answer.
    let host = c.host.unwrap().to_string();
    let alert = m.finding(&host).expect("finding");
    let kinds: Vec<&str> = alert["phonehome"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"dns_answer"), "{kinds:?}");
    assert_eq!(alert["phonehome"]["flows"], 1);
    // The cache's bound: 262,144 bindings.
    assert_rss(&m, 512);
}

// ------------------------------------------------------------------ first flight

#[test]
fn the_first_flight_survives_tiny_reversed_segments_and_later_data() {
    for name in ["hello_tiny_reversed", "hello_behind_later_data"] {
        let (m, c) = run_case(name, &[]);
        assert_eq!(m.code, 0);
        let tls = m.of_type("tls");
        assert_eq!(tls.len(), 1, "{name}");
        assert_eq!(tls[0]["tls"]["sni"], EVIDENCE, "{name}");
        m.assert_finding(c);
        let flow = &m.of_type("flow")[0];
        let a = Measured::anomalies(flow);
        if name == "hello_behind_later_data" {
            // 100 KB arrived ahead of the hello: what did not fit is named.
            assert!(a.contains(&"stream.ooo_dropped"), "{a:?}");
            assert_eq!(u(&m.stats()["phonehome"]["stream"]["ooo_dropped"]), 1);
        } else {
            assert!(a.is_empty(), "{name}: {a:?}");
        }
        assert_rss(&m, 128);
    }
}

// ------------------------------------------------------------------ cost bombs

#[test]
fn dns_pointer_bombs_are_cut_at_their_budget() {
    let (bomb, c) = run_case("dns_pointer_bomb", &[]);
    let (plain, _) = run_case("dns_plain_same_size", &[]);
    assert_eq!((bomb.code, plain.code), (0, 0));
    let dns = bomb.of_type("dns");
    let flagged = dns
        .iter()
        .filter(|e| Measured::anomalies(e).contains(&"dns.name_budget"))
        .count();
    assert_eq!(flagged, 2000, "every bomb is cut at its budget");
    // Names decoded from a message: at most 8 bytes of text per message byte
    // (phonehome::dissect::dns::NAME_WORK_PER_BYTE) plus 2 KiB.
    let size = hostile::dns_pointer_bomb_message(hostile::BOMB_RECORDS).len();
    for e in &dns {
        let text: usize = e["dns"]["answers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["rrname"].as_str())
                    .map(str::len)
                    .sum()
            })
            .unwrap_or(0);
        assert!(
            text <= 8 * size + 2050,
            "{text} characters of names from {size} bytes"
        );
    }
    bomb.assert_finding(c);
    eprintln!(
        "hostile: 2000 DNS messages of {} bytes: pointer bombs {:.2} s CPU, plain {:.2} s CPU (ratio {:.1})",
        size,
        bomb.cpu_s,
        plain.cpu_s,
        bomb.cpu_s / plain.cpu_s.max(0.01)
    );
    // Events in flight (queue depth × block size × 8 of names per byte): the
    // global memory budget is a later change.
    assert_rss(&bomb, 384);
}

#[test]
fn huge_null_rdata_is_written_once_and_capped() {
    let (m, c) = run_case("huge_null_rdata", &[]);
    assert_eq!(m.code, 0);
    let response = m
        .of_type("dns")
        .into_iter()
        .find(|e| e["dns"]["type"] == "response" && e["dns"]["answers"][0]["rrtype"] == "NULL")
        .expect("the NULL response");
    assert!(Measured::anomalies(response).contains(&"dns.rdata_truncated"));
    assert!(response["dns"]["grouped"].get("NULL").is_none());
    let line = serde_json::to_string(response).unwrap();
    // 2,048 bytes kept, each written as \xNN escaped for JSON (5 characters).
    assert!(line.len() < 16 * 1024, "{} bytes", line.len());
    m.assert_finding(c);
}

#[test]
fn a_65000_byte_sni_is_cut_to_a_host_name_and_flagged() {
    let (m, c) = run_case("huge_sni", &[]);
    assert_eq!(m.code, 0);
    let tls = &m.of_type("tls")[0];
    let sni = tls["tls"]["sni"].as_str().unwrap();
    assert!(sni.len() <= 253 && sni.ends_with(EVIDENCE), "{sni}");
    assert!(Measured::anomalies(tls).contains(&"tls.client_hello.sni_truncated"));
    assert!(m.longest_line < 8 * 1024, "{} bytes", m.longest_line);
    // The padded name is not the catalogued host; the DNS answer before the
    // connection still attributes it.
    m.assert_finding(c);
}

// ------------------------------------------------------------------ misclassification, encapsulation

#[test]
fn dns_from_a_tunnel_port_stays_dns() {
    let (m, c) = run_case("dns_on_tunnel_ports", &[]);
    assert_eq!(m.code, 0);
    let dns = m.of_type("dns");
    assert_eq!(dns.len(), 8, "a query and a response from each of 4 ports");
    for e in &dns {
        assert_eq!(e["dns"]["queries"][0]["rrname"], EVIDENCE);
        assert!(e.get("tunnel").is_none());
    }
    assert_eq!(u(&m.stats()["decoder"]["invalid"]), 0);
    m.assert_finding(c);
}

#[test]
fn deep_encapsulation_is_bounded_and_the_evidence_found_three_layers_down() {
    let (m, c) = run_case("deep_encapsulation", &[]);
    assert_eq!(m.code, 0);
    let d = &m.stats()["decoder"];
    assert!(u(&d["invalid"]) >= 1, "the 40-layer packet is invalid: {d}");
    let tls = &m.of_type("tls")[0];
    assert_eq!(tls["tls"]["sni"], EVIDENCE);
    assert!(tls["tunnel"].is_object(), "{tls}");
    m.assert_finding(c);
}

/// tshark's answer for `field` over a capture, one value per line.
fn tshark(path: &Path, filter: &str, field: &str) -> Vec<String> {
    let out = Command::new("tshark")
        .args([
            "-r",
            path.to_str().unwrap(),
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            field,
        ])
        .output()
        .expect("tshark is needed (apt-get install tshark; scripts/test does)");
    assert!(out.status.success(), "tshark failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn gre_aruba_wlan_frames_are_decoded_as_tshark_does() {
    let (m, c) = run_case("aruba_gre", &[]);
    assert_eq!(m.code, 0);
    let ours: Vec<String> = m
        .of_type("tls")
        .iter()
        .map(|e| e["tls"]["sni"].as_str().unwrap().to_string())
        .collect();
    let theirs = tshark(
        &c.path,
        "tls.handshake.type == 1",
        "tls.handshake.extensions_server_name",
    );
    assert_eq!(ours, theirs);
    assert_eq!(ours, [EVIDENCE]);
    let flow = m
        .of_type("flow")
        .into_iter()
        .find(|f| f["app_proto"] == "tls")
        .expect("the inner flow");
    assert_eq!(flow["src_ip"], c.host.unwrap().to_string());
    assert_eq!(flow["tunnel"]["proto"], "GRE", "{flow}");
    m.assert_finding(c);
}

#[test]
fn quic_initials_of_reserved_versions_are_read() {
    // Protected with draft-29's salt: what tshark 4.0 opens such a version with.
    let (m, c) = run_case("quic_reserved_d29_keys", &[]);
    let quic = m.of_type("quic");
    assert_eq!(quic.len(), 1);
    assert_eq!(quic[0]["quic"]["version"], "1a2a3a4a");
    let theirs = tshark(&c.path, "quic", "tls.handshake.extensions_server_name");
    assert_eq!(theirs, [quic[0]["quic"]["sni"].as_str().unwrap()]);
    assert_eq!(quic[0]["quic"]["sni"], EVIDENCE);
    m.assert_finding(c);
    // Protected with v1's keys, as clients build them (newer tshark reads
    // them so; this one only sees the version).
    let (m, c) = run_case("quic_reserved_v1_keys", &[]);
    let quic = m.of_type("quic");
    assert_eq!(quic.len(), 1);
    assert_eq!(quic[0]["quic"]["sni"], EVIDENCE);
    assert_eq!(tshark(&c.path, "quic", "quic.version"), ["0x1a2a3a4a"]);
    m.assert_finding(c);
}

// ------------------------------------------------------------------ mutated real captures

#[test]
fn mutated_real_captures_never_panic_and_always_end_with_stats() {
    let shared = common::shared().join("captures");
    // The demo capture and a spread of the corpus: every 25th file (15).
    let mut sources: Vec<PathBuf> =
        vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/demo.pcap")];
    sources.extend(
        common::corpus()
            .iter()
            .step_by(25)
            .map(|rel| shared.join(rel)),
    );
    let dir = tempfile::tempdir().unwrap();
    let (mut runs, mut damaged, mut peak) = (0, 0, 0u64);
    for (i, src) in sources.iter().enumerate() {
        let bytes = std::fs::read(src).unwrap();
        for seed in 0..8u64 {
            let path = dir.path().join(format!("m{i}-{seed}.pcap"));
            std::fs::write(&path, hostile::mutate(&bytes, seed * 1000 + i as u64)).unwrap();
            let name = format!(
                "mutant {}#{seed}",
                src.file_name().unwrap().to_string_lossy()
            );
            let m = replay(&name, &path, &[]);
            // 0, or 1 for a file found damaged (or not a capture at all).
            assert!(
                m.code == 0 || m.code == 1,
                "{name}: exit {}: {}",
                m.code,
                m.stderr
            );
            if m.code == 1 {
                damaged += 1;
                assert_eq!(
                    m.stderr.lines().count(),
                    1,
                    "{name}: one error line: {}",
                    m.stderr
                );
            }
            if !m.events.is_empty() {
                m.stats();
            }
            peak = peak.max(m.rss_kb);
            runs += 1;
        }
    }
    eprintln!(
        "hostile: {runs} mutants replayed, {damaged} reported as damaged, peak RSS {peak} KiB"
    );
    assert!(peak < 256 * MIB);
}

// ------------------------------------------------------------------ broken pipes

/// Every command that prints, as the shell runs `cmd | head -1`.
fn printing_commands(eve: &Path) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&["geoip", "8.8.8.8", "1.1.1.1", "9.9.9.9", "10.0.0.1"]),
        s(&["geoip", "--json", "8.8.8.8", "1.1.1.1"]),
        s(&["catalog", "list"]),
        s(&["catalog", "list", "--json"]),
        s(&["catalog", "show", "CrowdStrike"]),
        s(&[
            "catalog",
            "match",
            "ts01-b.cloudsink.net",
            "wdcp.microsoft.com",
        ]),
        s(&["catalog", "check"]),
        s(&["policy", "init", "--home-country", "DE"]),
        s(&["replay", eve.to_str().unwrap(), "--eve", "-", "-q"]),
        s(&["--help"]),
        s(&["replay", "--help"]),
    ]
}

#[test]
fn every_printing_command_ends_quietly_on_a_closed_pipe() {
    let evidence = &case("evidence").path;
    for args in printing_commands(evidence) {
        // As the shell does it: `cmd | head -1`, with the pipeline's status.
        let line = format!(
            "set -o pipefail; '{PHONEHOME}' {} | head -1 >/dev/null",
            args.iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let out = Command::new("bash").args(["-c", &line]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?} | head -1: {stderr}");

        // The reader gone before the first byte: every write fails with EPIPE.
        let mut child = Command::new(PHONEHOME)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(status.code(), Some(0), "{args:?} with stdout closed: {err}");
    }
}

#[test]
fn a_closed_stderr_does_not_stop_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("eve.json");
    // Not quiet: the summary and findings table go to the closed stderr.
    let mut child = Command::new(PHONEHOME)
        .args(["replay", case("evidence").path.to_str().unwrap(), "--eve"])
        .arg(&eve)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let lines: Vec<Value> = BufReader::new(std::fs::File::open(&eve).unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(lines.last().unwrap()["event_type"], "stats");
    assert!(lines.iter().any(|e| e["event_type"] == "alert"));
}

// ------------------------------------------------------------------ strict loading

#[test]
fn bad_configuration_refuses_to_start_in_one_line() {
    let evidence = case("evidence").path.to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        let out = Command::new(PHONEHOME).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // An invalid home country is a usage error.
    let (code, err) = run(&["replay", &evidence, "--eve", "-", "--home-country", "XX"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown country code 'XX'"), "{err}");
    let (code, _) = run(&["policy", "init", "--home-country", "UK"]);
    assert_eq!(code, Some(2));

    // The shipped ASN database given as the country database.
    let asn = Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/asn.mmdb");
    let (code, err) = run(&[
        "replay",
        &evidence,
        "--eve",
        "-",
        "--geoip-country",
        asn.to_str().unwrap(),
        "--geoip-asn",
        asn.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "GeoIP country database {} is not a country database",
            asn.display()
        )),
        "{err}"
    );

    // A policy exception naming a vendor the catalog does not have.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "home_country = \"DE\"\n\n[[exception]]\nvendor = \"CrowdStrke\"\nreason = \"approved by the CISO\"\n",
    )
    .unwrap();
    let (code, err) = run(&[
        "replay",
        &evidence,
        "--eve",
        "-",
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!(
            "{}:3: exception names vendor 'CrowdStrke', which is not in the catalog",
            policy.display()
        )),
        "{err}"
    );
}

// ------------------------------------------------------------ memory budget

#[test]
fn the_memory_budget_holds_the_peak_and_sheds_in_its_order() {
    // 600 connections of 70 KB behind holes: unbounded they hold 600 stream
    // windows. Under 128 MiB for the whole process the nameless flows' data
    // past their first flight is refused first; the evidence survives.
    let (m, c) = run_case("ooo_flood", &["--memory-limit", "128M"]);
    assert_eq!(m.code, 0, "{}", m.stderr);
    let st = m.stats();
    let shed = &st["phonehome"]["memory"]["shed"];
    assert!(u(&shed["ooo_nameless"]["times"]) > 1000, "{shed}");
    assert_eq!(u(&shed["ooo_named"]["times"]), 0, "{shed}");
    let flagged = m
        .of_type("flow")
        .into_iter()
        .filter(|f| Measured::anomalies(f).contains(&"stream.memory"))
        .count() as u64;
    assert!(flagged > 100, "{flagged} flows flagged stream.memory");
    assert_eq!(flagged, u(&st["phonehome"]["stream"]["memory"]));
    m.assert_finding(c);
    assert_rss(&m, 128);
    let (m, c) = run_case("ooo_flood", &["--memory-limit", "192M"]);
    assert_eq!(m.code, 0, "{}", m.stderr);
    m.assert_finding(c);
    assert_rss(&m, 192);

    // 60,000 flows with no --max-flows bound to speak of: the budget ends the
    // flows nearest their timeout to make room, each counted. Each eviction
    // is an event on its way to the ordered stage, and every flow still open
    // is written at the end: those events in flight are bounded too (the
    // in-flight credit, parts), so the whole process stays under the limit.
    for (limit, mib, min_refused) in [("128M", 128, 10_000), ("192M", 192, 0)] {
        let (f, c) = run_case(
            "flow_flood",
            &["--max-flows", "100000000", "--memory-limit", limit],
        );
        assert_eq!(f.code, 0, "{}", f.stderr);
        let st = f.stats();
        let refused = u(&st["phonehome"]["memory"]["shed"]["flow"]["times"]);
        assert!(refused >= min_refused, "{limit}: {refused} flows refused");
        assert_eq!(u(&st["phonehome"]["flow"]["evicted"]), refused);
        // Waits are counted (how many depends on timing).
        u(&st["phonehome"]["memory"]["in_flight_waits"]);
        f.assert_finding(c);
        assert_rss(&f, mib);
    }

    // A limit below what start-up holds is one line, not a run.
    let (small, _) = run_case("evidence", &["--memory-limit", "16M"]);
    assert_eq!(small.code, 1);
    assert!(
        small
            .stderr
            .starts_with("phonehome: error: --memory-limit 16 MiB is too small: ")
            && small.stderr.lines().count() == 1,
        "{}",
        small.stderr
    );
}
