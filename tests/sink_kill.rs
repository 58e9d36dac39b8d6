//! Exactly-once delivery across a crash: `phonehome replay` is killed with
//! SIGKILL at random moments while it delivers to real receivers (an HTTP
//! receiver speaking Elasticsearch `_bulk`, a private redis-server, a
//! private rsyslogd over TCP), then the same replay is run again, as an
//! operator restarts a job. Twenty times: what arrived, over both runs, is
//! exactly the EVE file's events, each once.
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

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REPETITIONS: u64 = 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn need(program: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!("{program} is not installed: this test needs a real one (apt-get install {package}; scripts/test installs it)");
}

fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// xorshift64*: kill moments reproducible from the repetition number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

// ------------------------------------------------------------ _bulk receiver

/// Documents by index, in arrival order, kept once per `_id` (a second
/// `create` of an id is answered 409, as Elasticsearch does). Each request
/// is answered after a short pause, so that delivery takes a while.
#[derive(Default)]
struct Bulk {
    docs: BTreeMap<String, Vec<Value>>,
    ids: std::collections::HashSet<(String, String)>,
    conflicts: u64,
}

fn serve_bulk(c: TcpStream, got: Arc<Mutex<Bulk>>, stop: Arc<AtomicBool>) {
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut w = c;
    loop {
        let mut line = String::new();
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match r.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) if line.ends_with('\n') => break,
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        }
        r.get_ref()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        r.get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(15));
        let text = String::from_utf8(body).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut items = Vec::new();
        {
            let mut g = got.lock().unwrap();
            for pair in lines.chunks(2) {
                let action: Value = serde_json::from_str(pair[0]).unwrap();
                let index = action["create"]["_index"].as_str().unwrap().to_string();
                let id = action["create"]["_id"].as_str().unwrap().to_string();
                if g.ids.insert((index.clone(), id)) {
                    let doc: Value = serde_json::from_str(pair[1]).unwrap();
                    g.docs.entry(index).or_default().push(doc);
                    items.push(serde_json::json!({"create": {"status": 201}}));
                } else {
                    g.conflicts += 1;
                    items.push(serde_json::json!({"create": {"status": 409,
                        "error": {"type": "version_conflict_engine_exception"}}}));
                }
            }
        }
        let errors = items.iter().any(|i| i["create"]["status"] != 201);
        let answer = serde_json::json!({"took": 1, "errors": errors, "items": items}).to_string();
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

fn start_bulk(got: Arc<Mutex<Bulk>>, stop: Arc<AtomicBool>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((c, _)) => {
                    c.set_nonblocking(false).unwrap();
                    let (g, s) = (Arc::clone(&got), Arc::clone(&stop));
                    std::thread::spawn(move || serve_bulk(c, g, s));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    port
}

// ------------------------------------------------------------ redis, rsyslog

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_query(port: u16, args: &[&[u8]]) -> std::io::Result<phonehome::sink::redis::Reply> {
    let mut c = TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut out = Vec::new();
    phonehome::sink::redis::command(&mut out, args);
    c.write_all(&out)?;
    phonehome::sink::redis::read_reply(&mut BufReader::new(c))
}

fn start_redis(dir: &Path) -> (Daemon, u16) {
    let port = free_port();
    let child = Command::new(need("redis-server", "redis-server"))
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", dir.to_str().unwrap(), "--save", ""])
        .args(["--daemonize", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let d = Daemon(child);
    wait_for(20, "redis-server to answer", || {
        redis_query(port, &[b"PING"]).ok().map(|_| ())
    });
    (d, port)
}

fn redis_list(port: u16, key: &str) -> Vec<Vec<u8>> {
    use phonehome::sink::redis::Reply;
    match redis_query(port, &[b"LRANGE", key.as_bytes(), b"0", b"-1"]).unwrap() {
        Reply::Array(Some(items)) => items
            .into_iter()
            .map(|r| match r {
                Reply::Bulk(Some(b)) => b,
                o => panic!("unexpected item {o:?}"),
            })
            .collect(),
        o => panic!("unexpected LRANGE reply {o:?}"),
    }
}

/// A private rsyslogd on a TCP port writing `app-name|msg` per message.
fn start_rsyslog(dir: &Path) -> (Daemon, u16, PathBuf) {
    let tcp = free_port();
    let conf = dir.join("rsyslog.conf");
    let work = dir.join("work");
    let out = dir.join("out.log");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}" maxMessageSize="256k")
module(load="imtcp")
input(type="imtcp" port="{tcp}" address="127.0.0.1")
template(name="m" type="string" string="%app-name%|%msg%\n")
*.* action(type="omfile" file="{out}" template="m")
"#,
            work = work.display(),
            out = out.display(),
        ),
    )
    .unwrap();
    let child = Command::new(need("rsyslogd", "rsyslog"))
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let d = Daemon(child);
    wait_for(20, "rsyslogd to listen", || {
        TcpStream::connect(("127.0.0.1", tcp)).is_ok().then_some(())
    });
    (d, tcp, out)
}

fn syslog_messages(out: &Path, app: &str) -> Vec<String> {
    let prefix = format!("{app}|");
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|m| m.trim_start().to_string())
        .collect()
}

// ------------------------------------------------------------ the test

/// Events as canonical JSON text, counted; the stats event apart (its sink
/// counters differ between a killed run and its restart).
fn tally<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> (BTreeMap<String, u32>, u32) {
    let mut m = BTreeMap::new();
    let mut stats = 0;
    for l in lines {
        let v: Value = serde_json::from_slice(l)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)));
        if v["event_type"] == "stats" {
            stats += 1;
        } else {
            *m.entry(v.to_string()).or_insert(0) += 1;
        }
    }
    (m, stats)
}

/// The syslog sink's batch in this test: what a kill between a write and
/// the recorded position may send again.
const SYSLOG_BATCH: usize = 4;

/// `resent_at_most`: records a kill may deliver twice (0 for the sinks that
/// acknowledge; one batch for TCP syslog, whose only acknowledgement is the
/// kernel taking the write: docs/sinks.md).
fn check(
    what: &str,
    rep: u64,
    want: &BTreeMap<String, u32>,
    got: (BTreeMap<String, u32>, u32),
    resent_at_most: usize,
) {
    let (got, stats) = got;
    let dups: Vec<_> = got.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        dups.len() <= resent_at_most && dups.iter().all(|(_, &n)| n == 2),
        "{what}, repetition {rep}: duplicates {dups:?}"
    );
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{what}, repetition {rep}: {} of {} events never arrived, e.g. {:?}",
        missing.len(),
        want.len(),
        missing.first()
    );
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        extra.is_empty(),
        "{what}, repetition {rep}: events not in the EVE file: {:?}",
        extra.first()
    );
    assert_eq!(stats, 1, "{what}, repetition {rep}: one stats event");
}

#[test]
fn kill_9_at_random_moments_then_a_restart_delivers_every_event_once() {
    let daemons = tempfile::tempdir().unwrap();
    let redis_dir = daemons.path().join("redis");
    let syslog_dir = daemons.path().join("syslog");
    std::fs::create_dir_all(&redis_dir).unwrap();
    std::fs::create_dir_all(&syslog_dir).unwrap();
    let (_redis, redis_port) = start_redis(&redis_dir);
    let (_rsyslog, syslog_port, syslog_out) = start_rsyslog(&syslog_dir);
    let bulk = Arc::new(Mutex::new(Bulk::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let bulk_port = start_bulk(Arc::clone(&bulk), Arc::clone(&stop));
    let capture = root().join("captures/demo.pcap");
    let bin = env!("CARGO_BIN_EXE_phonehome");

    // How long one whole run takes: kills are drawn within it.
    let mut full = Duration::ZERO;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut kills_mid_delivery = 0;
    for rep in 0..=REPETITIONS {
        let dir = tempfile::tempdir().unwrap();
        let eve = dir.path().join("eve.json");
        let conf = dir.path().join("sinks.toml");
        let tag = format!("r{rep}");
        std::fs::write(
            &conf,
            format!(
                r#"spool_dir = "{spool}"
timeout = 60

[[sink]]
type = "elastic"
url = "http://127.0.0.1:{bulk_port}"
index = "{tag}"
format = "eve"
batch = 4

[[sink]]
type = "redis"
url = "redis://127.0.0.1:{redis_port}/0"
key = "{tag}"
mode = "list"
format = "eve"
batch = 4

[[sink]]
type = "syslog"
url = "tcp://127.0.0.1:{syslog_port}"
events = "all"
format = "eve"
app_name = "{tag}"
batch = {SYSLOG_BATCH}
"#,
                spool = dir.path().join("spool").display(),
            ),
        )
        .unwrap();
        let args = [
            "replay",
            capture.to_str().unwrap(),
            "-q",
            "--eve",
            eve.to_str().unwrap(),
            "--config",
            conf.to_str().unwrap(),
        ];
        if rep > 0 {
            // A kill at a random moment of the run, then the same run again.
            let at = Duration::from_micros(rng.next() % (full.as_micros() as u64).max(1));
            let mut child = Command::new(bin)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(at);
            child.kill().unwrap();
            child.wait().unwrap();
            if dir.path().join("spool").exists() {
                kills_mid_delivery += 1;
            }
        }
        let started = Instant::now();
        let run = common::phonehome(&args);
        assert_eq!(run.code, 0, "repetition {rep}: {}", run.stderr);
        if rep == 0 {
            full = started.elapsed();
        }
        let text = std::fs::read(&eve).unwrap();
        let (want, want_stats) = tally(text.split(|&b| b == b'\n').filter(|l| !l.is_empty()));
        assert_eq!(want_stats, 1);
        assert!(want.len() > 100, "{} events", want.len());
        let total = want.len() + 1;

        let docs = bulk
            .lock()
            .unwrap()
            .docs
            .get(&tag)
            .cloned()
            .unwrap_or_default();
        let docs: Vec<Vec<u8>> = docs.iter().map(|d| d.to_string().into_bytes()).collect();
        check(
            "_bulk",
            rep,
            &want,
            tally(docs.iter().map(Vec::as_slice)),
            0,
        );

        let list = redis_list(redis_port, &tag);
        check(
            "redis",
            rep,
            &want,
            tally(list.iter().map(Vec::as_slice)),
            0,
        );

        let msgs = wait_for(30, "rsyslogd to write every message", || {
            let m = syslog_messages(&syslog_out, &tag);
            (m.len() >= total).then_some(m)
        });
        check(
            "syslog tcp",
            rep,
            &want,
            tally(msgs.iter().map(String::as_bytes)),
            SYSLOG_BATCH,
        );
    }
    stop.store(true, Ordering::SeqCst);
    eprintln!(
        "{REPETITIONS} kills within a {:.2}s run, {kills_mid_delivery} after the sinks had started; _bulk conflicts (resends kept once): {}",
        full.as_secs_f64(),
        bulk.lock().unwrap().conflicts
    );
    assert!(
        kills_mid_delivery >= REPETITIONS / 4,
        "too few kills landed during delivery ({kills_mid_delivery}) to test anything"
    );
}
