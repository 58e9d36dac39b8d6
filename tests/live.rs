//! `phonehome live` on real interfaces (as root, as CI runs): two network
//! namespaces joined by a veth pair (tests/common/netns.rs).
//!
//! * Captures replayed with tcpreplay into the pair give the flows and the
//!   findings of `phonehome replay` on the same file; kernel counters are
//!   read and reported; the metrics endpoint parses as Prometheus text.
//! * Live traffic (curl/OpenSSL against a local TLS server, dnsmasq for the
//!   names) is alerted while it runs; SIGHUP with a changed policy changes
//!   the judgement of new activity, with a broken one keeps the old;
//!   SIGTERM mid-traffic leaves a complete EVE file.
//! * `--user` drops to an unprivileged user with only CAP_NET_RAW and
//!   CAP_NET_ADMIN; without them the error names the capabilities.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::netns::{signal, Pair};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_phonehome")
}

/// Long timeouts: the replayed captures span minutes of packet time that
/// tcpreplay sends in seconds; both runs must end every flow the same way.
const TIMEOUTS: [&str; 6] = [
    "--idle-timeout",
    "100000",
    "--tcp-idle-timeout",
    "100000",
    "--active-timeout",
    "100000",
];

/// A running `phonehome live` with its stderr collected line by line.
struct Sensor {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Sensor {
    fn start(ns: &str, args: &[&str]) -> Sensor {
        let mut child = Pair::cmd(ns, bin())
            .arg("live")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr);
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        });
        let s = Sensor { child, stderr };
        s.wait_for("capturing on", Duration::from_secs(30));
        s
    }

    /// `live -i <pair's B end> --eve EVE EXTRA...` in the B namespace.
    fn on(pair: &Pair, eve: &Path, extra: &[&str]) -> Sensor {
        let mut args = vec!["-i", pair.if_b.as_str(), "--eve", eve.to_str().unwrap()];
        args.extend_from_slice(extra);
        Sensor::start(&pair.b, &args)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    fn wait_for(&self, text: &str, limit: Duration) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(l) = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(text))
            {
                return l.clone();
            }
            assert!(
                t0.elapsed() < limit,
                "no {text:?} on stderr within {limit:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit code (bounded wait).
    fn stop(mut self) -> (i32, String) {
        signal(self.child.id(), "TERM");
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (st.code().unwrap_or(-1), self.stderr());
            }
            if t0.elapsed() > Duration::from_secs(40) {
                let _ = self.child.kill();
                panic!(
                    "live did not stop within 40 s of SIGTERM:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Every line of an EVE file, each of which must be valid JSON.
fn eve(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "last line cut");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

type FlowKey = (String, u64, String, u64, String, u64, u64, u64, u64);

/// The flows as (5-tuple, packets and bytes each way), counted.
fn flows(events: &[Value]) -> BTreeMap<FlowKey, usize> {
    let mut out = BTreeMap::new();
    for e in events.iter().filter(|e| e["event_type"] == "flow") {
        let f = &e["flow"];
        let k = (
            e["src_ip"].as_str().unwrap_or("").to_string(),
            e["src_port"].as_u64().unwrap_or(0),
            e["dest_ip"].as_str().unwrap_or("").to_string(),
            e["dest_port"].as_u64().unwrap_or(0),
            e["proto"].as_str().unwrap_or("").to_string(),
            f["pkts_toserver"].as_u64().unwrap(),
            f["pkts_toclient"].as_u64().unwrap(),
            f["bytes_toserver"].as_u64().unwrap(),
            f["bytes_toclient"].as_u64().unwrap(),
        );
        *out.entry(k).or_insert(0) += 1;
    }
    out
}

/// The findings alerted: (host, vendor, product, kind, severity).
fn findings(events: &[Value]) -> BTreeSet<(String, String, String, String, String)> {
    events
        .iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|e| {
            let p = &e["phonehome"];
            let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
            (
                s("host"),
                s("vendor"),
                s("product"),
                s("finding_kind"),
                s("severity"),
            )
        })
        .collect()
}

/// Scrapes the metrics endpoint from inside `ns` and parses it.
fn scrape(ns: &str, url: &str) -> prometheus_parse::Scrape {
    let out = Pair::cmd(ns, "curl")
        .args(["-sS", "--max-time", "5", url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn sample<'a>(
    s: &'a prometheus_parse::Scrape,
    name: &str,
    label: Option<(&str, &str)>,
) -> &'a prometheus_parse::Sample {
    s.samples
        .iter()
        .find(|x| x.metric == name && label.is_none_or(|(k, v)| x.labels.get(k) == Some(v)))
        .unwrap_or_else(|| panic!("no sample {name} {label:?}"))
}

fn value(s: &prometheus_parse::Sample) -> f64 {
    match s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => v,
        _ => panic!("not a plain value: {s:?}"),
    }
}

/// Per evidence file of a bundle, its frames (bytes as captured), sorted:
/// a live bundle appends each flow as it is judged, a replay writes in
/// capture order. Read with pcap-parser, an independent reader.
fn evidence_frames(dir: &Path) -> BTreeMap<String, Vec<Vec<u8>>> {
    use pcap_parser::pcapng::{parse_block_le, Block};
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("packets")).unwrap() {
        let e = e.unwrap();
        let bytes = std::fs::read(e.path()).unwrap();
        let mut data = bytes.as_slice();
        let mut frames = Vec::new();
        while !data.is_empty() {
            let (rest, b) = parse_block_le(data).unwrap();
            if let Block::EnhancedPacket(p) = b {
                frames.push(p.data[..p.caplen as usize].to_vec());
            }
            data = rest;
        }
        frames.sort();
        out.insert(e.file_name().to_string_lossy().into_owned(), frames);
    }
    out
}

fn replayed_like_replay(capture: &str, tag: &str) {
    let pair = Pair::new(tag);
    let dir = tempfile::tempdir().unwrap();
    let live_eve = dir.path().join("live.json");
    let live_evidence = dir.path().join("live-evidence");
    let file = root().join(capture);
    let mut args = vec![
        "--evidence",
        live_evidence.to_str().unwrap(),
        "--workers",
        "2",
        "--stats-interval",
        "1",
        "--metrics",
        "127.0.0.1:0",
    ];
    args.extend(TIMEOUTS);
    let sensor = Sensor::on(&pair, &live_eve, &args);
    let url = sensor.wait_for("metrics at http://", Duration::from_secs(5));
    let url = url.split("metrics at ").nth(1).unwrap().trim().to_string();

    let sent = Pair::cmd(&pair.a, "tcpreplay")
        .args(["-q", "-i", &pair.if_a, "--pps", "200"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "tcpreplay: {}",
        String::from_utf8_lossy(&sent.stderr)
    );
    // The ring hands packets over within its block timeout (100 ms).
    std::thread::sleep(Duration::from_millis(1500));

    let (want_pkts, want_decoder) = {
        let r = common::phonehome(&["replay", file.to_str().unwrap(), "--eve", "-", "-q"]);
        let stats = r
            .events()
            .into_iter()
            .rfind(|e| e["event_type"] == "stats")
            .unwrap();
        (
            stats["stats"]["decoder"]["pkts"].as_u64().unwrap(),
            stats["stats"]["decoder"].clone(),
        )
    };
    // The decoder's detail counters reach the endpoint within a snapshot
    // refresh (about a second) of the last packet.
    let want_ipv4 = want_decoder["ipv4"].as_f64().unwrap();
    let t0 = Instant::now();
    let m = loop {
        let m = scrape(&pair.b, &url);
        let layer = Some(("layer", "ipv4"));
        if value(sample(&m, "phonehome_decoder_layer_packets_total", layer)) == want_ipv4
            || t0.elapsed() > Duration::from_secs(10)
        {
            break m;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        value(sample(
            &m,
            "phonehome_decoder_layer_packets_total",
            Some(("layer", "ipv4"))
        )),
        want_ipv4
    );
    assert_eq!(
        value(sample(
            &m,
            "phonehome_decoder_layer_packets_total",
            Some(("layer", "tcp"))
        )),
        want_decoder["tcp"].as_f64().unwrap()
    );
    sample(
        &m,
        "phonehome_decoder_events_total",
        Some(("event", "ipv4.trunc_pkt")),
    );
    let iface = Some(("interface", pair.if_b.as_str()));
    assert_eq!(
        value(sample(&m, "phonehome_kernel_received_packets_total", iface)),
        want_pkts as f64
    );
    assert_eq!(
        value(sample(&m, "phonehome_kernel_dropped_packets_total", iface)),
        0.0
    );
    assert_eq!(value(sample(&m, "phonehome_interface_up", iface)), 1.0);
    assert!(value(sample(&m, "process_resident_memory_bytes", None)) > 1e6);
    sample(&m, "phonehome_flows_active", None);
    sample(
        &m,
        "phonehome_worker_queue_full_total",
        Some(("worker", "1")),
    );
    sample(
        &m,
        "phonehome_worker_queue_wait_seconds_total",
        Some(("worker", "1")),
    );

    let (code, err) = sensor.stop();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("kernel"), "{err}");

    let (live, _) = same_as_replay(
        &file,
        &live_eve,
        &live_evidence,
        &dir.path().join("replay-evidence"),
        capture,
    );
    // Kernel counters in the stats events: read, and reported per interval.
    let stats: Vec<&Value> = live.iter().filter(|e| e["event_type"] == "stats").collect();
    assert!(stats.len() >= 2, "periodic stats events");
    let last = stats.last().unwrap();
    assert_eq!(last["stats"]["phonehome"]["live"]["final"], true);
    assert_eq!(last["stats"]["capture"]["kernel_packets"], want_pkts);
    assert_eq!(last["stats"]["capture"]["kernel_drops"], 0);
    assert_eq!(last["stats"]["decoder"]["pkts"], want_pkts);
    let per_interval: u64 = stats
        .iter()
        .map(|s| {
            s["stats"]["phonehome"]["interval"]["kernel_packets"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(per_interval, want_pkts, "intervals add up to the total");
    // The decoder's detail counters: cumulative as replay's final stats has
    // them, per interval adding up to the total, and in the periodic events
    // too, not only the last.
    for k in ["ipv4", "ipv6", "tcp", "udp", "ethernet", "vlan", "event"] {
        assert_eq!(
            last["stats"]["decoder"][k], want_decoder[k],
            "{capture}: stats.decoder.{k}"
        );
    }
    let interval_ipv4: u64 = stats
        .iter()
        .map(|s| {
            s["stats"]["phonehome"]["interval"]["decoder"]["ipv4"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(interval_ipv4, want_decoder["ipv4"].as_u64().unwrap());
    assert!(
        stats[..stats.len() - 1]
            .iter()
            .any(|s| s["stats"]["decoder"]["ipv4"].as_u64().unwrap() > 0),
        "periodic stats carry the decoder counters"
    );
    let ended_shutdown = live
        .iter()
        .filter(|e| e["event_type"] == "flow" && e["flow"]["reason"] == "shutdown")
        .count();
    assert!(ended_shutdown > 0);
    // Every event names the interface it was captured on (the workers write
    // this field into their EVE heads, from the engine's input names).
    let named = format!("live:{}", pair.if_b);
    for e in live
        .iter()
        .filter(|e| !matches!(e["event_type"].as_str(), Some("stats" | "alert")))
    {
        assert_eq!(e["pcap_filename"], named.as_str(), "{e}");
    }
}

#[test]
fn demo_capture_replayed_on_a_veth_matches_replay() {
    replayed_like_replay("captures/demo.pcap", "phld");
}

#[test]
fn realstack_capture_replayed_on_a_veth_matches_replay() {
    replayed_like_replay("captures/realstack.pcap", "phlr");
}

/// A private CA-less certificate for `name` (test only), in `dir`.
fn cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join("srv.key");
    let crt = dir.join("srv.pem");
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName=DNS:{name}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    (key, crt)
}

fn write_policy(path: &Path, home: &str) {
    let out = common::phonehome(&["policy", "init", "--home-country", home]);
    assert_eq!(out.code, 0);
    std::fs::write(path, &out.stdout).unwrap();
}

/// Waits until the EVE file has an alert matching `pred`; its wall time.
fn wait_alert(path: &Path, pred: impl Fn(&Value) -> bool, limit: Duration) -> (Instant, Value) {
    let t0 = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            for l in text.lines() {
                if let Ok(v) = serde_json::from_str::<Value>(l) {
                    if v["event_type"] == "alert" && pred(&v) {
                        return (Instant::now(), v);
                    }
                }
            }
        }
        assert!(t0.elapsed() < limit, "no such alert within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn eve_ts_secs(v: &Value) -> f64 {
    // "2026-12-06T23:41:28.123366+0000"
    let ts = v["timestamp"].as_str().unwrap();
    let out = Command::new("date")
        .args(["-u", "-d", &ts.replace("+0000", "Z"), "+%s.%N"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Real clients and servers: dnsmasq answers the CrowdStrike Falcon cloud
/// name with an address (a real one of that service, on an isolated
/// namespace: nothing leaves the machine), openssl s_server serves TLS
/// there, curl fetches in a loop. The sensor runs on the server's end.
#[test]
fn live_traffic_is_alerted_while_it_runs_reloads_and_stops_cleanly() {
    const NAME: &str = "ts01-b.cloudsink.net";
    const ADDR: &str = "54.176.84.15";
    let pair = Pair::new("phlt");
    pair.address("10.77.0");
    let dir = tempfile::tempdir().unwrap();
    let run = |ns: &str, args: &[&str]| {
        let st = Pair::cmd(ns, args[0]).args(&args[1..]).status().unwrap();
        assert!(st.success(), "{args:?}");
    };
    run(
        &pair.b,
        &["ip", "addr", "add", &format!("{ADDR}/32"), "dev", "lo"],
    );
    run(
        &pair.a,
        &[
            "ip",
            "route",
            "add",
            &format!("{ADDR}/32"),
            "via",
            "10.77.0.2",
        ],
    );
    // The client's resolver: `ip netns exec` mounts /etc/netns/NS/resolv.conf.
    let etc = PathBuf::from("/etc/netns").join(&pair.a);
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("resolv.conf"), "nameserver 10.77.0.2\n").unwrap();
    struct Cleanup(PathBuf, Vec<Child>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            for c in &mut self.1 {
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let mut cleanup = Cleanup(etc, Vec::new());
    let dnsmasq = Pair::cmd(&pair.b, "dnsmasq")
        .args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
        ])
        .args([
            "--listen-address=10.77.0.2",
            "--bind-interfaces",
            "--user=root",
        ])
        .arg(format!("--address=/{NAME}/{ADDR}"))
        .arg(format!(
            "--pid-file={}",
            dir.path().join("dnsmasq.pid").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq (installed by scripts/test)");
    cleanup.1.push(dnsmasq);
    let (key, crt) = cert(dir.path(), NAME);
    let server = Pair::cmd(&pair.b, "openssl")
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("{ADDR}:443"),
        ])
        .arg("-key")
        .arg(&key)
        .arg("-cert")
        .arg(&crt)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    cleanup.1.push(server);

    let policy = dir.path().join("policy.toml");
    write_policy(&policy, "CN");
    let live_eve = dir.path().join("eve.json");
    let sensor = Sensor::on(
        &pair,
        &live_eve,
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--stats-interval",
            "2",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    // Clients: a fetch every half second for as long as the test needs.
    let mut clients = Pair::cmd(&pair.a, "sh")
        .arg("-c")
        .arg(format!(
            "while :; do curl -sk --max-time 3 -o /dev/null https://{NAME}/; sleep 0.5; done"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = now_secs();

    // 1. Alerted while the traffic runs, within 10 s of its first flow.
    let (_, first) = wait_alert(
        &live_eve,
        |v| v["phonehome"]["vendor"] == "CrowdStrike",
        Duration::from_secs(20),
    );
    let seen = now_secs();
    assert!(
        clients.try_wait().unwrap().is_none(),
        "traffic still running"
    );
    let first_activity = eve_ts_secs(&first).max(started - 1.0);
    assert!(
        seen - first_activity <= 10.0,
        "alert {:.1}s after its first flow",
        seen - first_activity
    );
    assert_eq!(
        first["phonehome"]["finding_kind"],
        "foreign_vendor_data_abroad"
    );
    assert_eq!(first["phonehome"]["host"], "10.77.0.1");

    // 2. SIGHUP with a broken policy: one line naming file and line; old kept.
    std::fs::write(&policy, "home_country = \"CN\"\nthis is not toml\n").unwrap();
    signal(sensor.child.id(), "HUP");
    let line = sensor.wait_for("SIGHUP:", Duration::from_secs(10));
    assert!(
        line.contains("policy.toml") && line.contains(":2"),
        "{line}"
    );
    assert!(line.contains("keeping"), "{line}");

    // 3. SIGHUP with a changed policy (home country US): new activity is
    // judged under it (a domestic vendor with data at home), nothing lost.
    write_policy(&policy, "US");
    signal(sensor.child.id(), "HUP");
    sensor.wait_for("reloaded", Duration::from_secs(10));
    let (_, after) = wait_alert(
        &live_eve,
        |v| {
            v["phonehome"]["vendor"] == "CrowdStrike"
                && v["phonehome"]["finding_kind"] == "domestic_vendor_data_home"
        },
        Duration::from_secs(30),
    );
    assert!(after["phonehome"].get("dedup").is_none() || after["phonehome"]["dedup"].is_object());

    // 4. SIGTERM mid-traffic: a complete EVE file.
    assert!(clients.try_wait().unwrap().is_none());
    let (code, err) = sensor.stop();
    let _ = clients.kill();
    let _ = clients.wait();
    assert_eq!(code, 0, "{err}");
    let events = eve(&live_eve);
    assert!(events
        .iter()
        .any(|e| e["event_type"] == "flow" && e["flow"]["reason"] == "shutdown"));
    let last = events.last().unwrap();
    assert_eq!(
        last["event_type"], "stats",
        "the final stats event ends the file"
    );
    assert_eq!(last["stats"]["phonehome"]["live"]["final"], true);
    assert_eq!(last["stats"]["phonehome"]["live"]["reloads"]["ok"], 1);
    assert_eq!(last["stats"]["phonehome"]["live"]["reloads"]["failed"], 1);
    // No flow lost over the reloads: every TCP connection the clients made
    // is a flow record, each with its packets both ways.
    let tls: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "flow" && e["dest_port"] == 443)
        .collect();
    assert!(tls.len() >= 5, "{} TLS flows", tls.len());
    assert!(tls
        .iter()
        .all(|f| f["flow"]["pkts_toserver"].as_u64() > Some(2)
            && f["flow"]["pkts_toclient"].as_u64() > Some(2)));
}

/// `--user` keeps only the two capabilities; without them the error says
/// which are needed and how to grant them.
#[test]
fn user_switch_and_missing_permission() {
    let pair = Pair::new("phlu");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    std::fs::File::create(&out).unwrap();
    // The EVE file is opened after the switch: the user must be able to write it.
    let st = Command::new("chmod")
        .args(["777", dir.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let _ = std::fs::remove_file(&out);
    let sensor = Sensor::on(&pair, &out, &["--user", "nobody"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", sensor_pid(&sensor))).unwrap();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    let nobody = Command::new("id").args(["-u", "nobody"]).output().unwrap();
    let nobody = String::from_utf8(nobody.stdout).unwrap().trim().to_string();
    assert_eq!(field("Uid:"), nobody);
    // CAP_NET_ADMIN (12) and CAP_NET_RAW (13): 0x3000, nothing else.
    assert_eq!(field("CapEff:"), "0000000000003000");
    assert_eq!(field("CapPrm:"), "0000000000003000");
    let (code, err) = sensor.stop();
    assert_eq!(code, 0, "{err}");
    assert!(eve(&out).last().unwrap()["event_type"] == "stats");

    // No capabilities at all: one line naming them and how to grant them.
    let r = Pair::cmd(&pair.b, "setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .args([bin(), "live", "-i", &pair.if_b, "--eve", "/dev/null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("CAP_NET_RAW") && err.contains("CAP_NET_ADMIN"),
        "{err}"
    );
    assert!(err.contains("setcap"), "{err}");

    // A missing interface: one clear line.
    let r = common::phonehome(&["live", "-i", "phl-none0", "--eve", "/dev/null"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim(),
        "phonehome: error: interface phl-none0: no such network interface (see `ip link`)"
    );
}

/// The sensor's own pid: `ip netns exec` execs it in place.
fn sensor_pid(s: &Sensor) -> u32 {
    s.child.id()
}

/// An interface that goes down is closed with one line, re-opened with
/// backoff when it is back, and the gap is counted; capture goes on.
#[test]
fn interface_down_and_back_is_reopened_and_the_gap_counted() {
    let pair = Pair::new("phli");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let sensor = Sensor::on(&pair, &out, &["--stats-interval", "1"]);
    let ip = |state: &str| {
        let st = Command::new("ip")
            .args(["-n", &pair.b, "link", "set", &pair.if_b, state])
            .status()
            .unwrap();
        assert!(st.success());
    };
    ip("down");
    let line = sensor.wait_for("went down", Duration::from_secs(10));
    assert!(line.contains(&pair.if_b), "{line}");
    std::thread::sleep(Duration::from_secs(2));
    ip("up");
    sensor.wait_for("re-opened after", Duration::from_secs(40));
    // Capture works again.
    let sent = Pair::cmd(&pair.a, "tcpreplay")
        .args(["-q", "-i", &pair.if_a, "--pps", "200"])
        .arg(root().join("captures/realstack.pcap"))
        .output()
        .unwrap();
    assert!(sent.status.success());
    std::thread::sleep(Duration::from_millis(1500));
    let (code, err) = sensor.stop();
    assert_eq!(code, 0, "{err}");
    let events = eve(&out);
    let last = events.last().unwrap();
    let i = &last["stats"]["phonehome"]["live"]["interfaces"][0];
    assert_eq!(i["down_events"], 1, "{i}");
    assert!(i["down_seconds"].as_f64().unwrap() >= 2.0, "{i}");
    assert_eq!(i["up"], true);
    assert!(last["stats"]["decoder"]["pkts"].as_u64().unwrap() >= 386);
}

/// `live -r -`: a capture stream on standard input (`tcpdump -U -w - |`)
/// runs the live pipeline: alerts arrive while the stream is still open,
/// and when it closes the flows and findings are those of `replay`.
#[test]
fn a_capture_stream_on_stdin_is_alerted_while_open_and_matches_replay() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let live_eve = dir.path().join("live.json");
    let err_path = dir.path().join("stderr.txt");
    // The evidence of a stream, which replay cannot read twice.
    let live_evidence = dir.path().join("live-evidence");
    let file = root().join("captures/demo.pcap");
    let mut args = vec![
        "live",
        "-r",
        "-",
        "--eve",
        live_eve.to_str().unwrap(),
        "--evidence",
        live_evidence.to_str().unwrap(),
        "--workers",
        "2",
        "--stats-interval",
        "1",
    ];
    args.extend(TIMEOUTS);
    let mut child = Command::new(bin())
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&std::fs::read(&file).unwrap()).unwrap();
    stdin.flush().unwrap();
    // The writer stays open: what arrived is processed and alerted anyway.
    wait_alert(&live_eve, |_| true, Duration::from_secs(30));
    assert!(
        child.try_wait().unwrap().is_none(),
        "live ended while its input stream was still open"
    );
    drop(stdin);
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(40) {
            let _ = child.kill();
            panic!("live -r - did not end within 40 s of its input closing");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("reading -"), "{err}");

    let (live, reference) = same_as_replay(
        &file,
        &live_eve,
        &live_evidence,
        &dir.path().join("replay-evidence"),
        "stdin",
    );
    let last = live.iter().rfind(|e| e["event_type"] == "stats").unwrap();
    let want = reference
        .iter()
        .rfind(|e| e["event_type"] == "stats")
        .unwrap();
    assert_eq!(last["stats"]["phonehome"]["live"]["final"], true);
    assert_eq!(
        last["stats"]["decoder"]["pkts"],
        want["stats"]["decoder"]["pkts"]
    );
}

/// Replays `file` with `--evidence` into `replay_evidence` and checks that the
/// live run (its EVE file and bundle) agrees: the same frames per finding
/// file (timestamps aside), a manifest that checks, nothing shed, the same
/// flows and findings. Returns the live and the replay's events.
fn same_as_replay(
    file: &Path,
    live_eve: &Path,
    live_evidence: &Path,
    replay_evidence: &Path,
    label: &str,
) -> (Vec<Value>, Vec<Value>) {
    let mut rargs = vec![
        "replay",
        file.to_str().unwrap(),
        "--eve",
        "-",
        "-q",
        "--alerts",
        "stream",
        "--evidence",
        replay_evidence.to_str().unwrap(),
    ];
    rargs.extend(TIMEOUTS);
    let reference = common::phonehome(&rargs).events();
    let live = eve(live_eve);
    let want = evidence_frames(replay_evidence);
    assert!(!want.is_empty());
    assert_eq!(
        evidence_frames(live_evidence),
        want,
        "{label}: evidence differs"
    );
    let manifest = Command::new("sha256sum")
        .args(["-c", "--quiet", "MANIFEST.sha256"])
        .current_dir(live_evidence)
        .output()
        .unwrap();
    assert!(manifest.status.success(), "{manifest:?}");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(live_evidence.join("findings.json")).unwrap())
            .unwrap();
    assert_eq!(doc["live"]["keeper"]["flows_shed"], 0);
    assert_eq!(
        doc["findings"].as_array().unwrap().len(),
        findings(&live).len()
    );
    assert_eq!(flows(&live), flows(&reference), "{label}: flows differ");
    assert_eq!(
        findings(&live),
        findings(&reference),
        "{label}: findings differ"
    );
    assert!(!findings(&live).is_empty());
    (live, reference)
}
