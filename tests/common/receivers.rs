//! Real receivers for the sink tests (tests/sinks.rs, tests/sink_kill.rs,
//! tests/signals_sinks.rs): an HTTP server in this file speaking Splunk HEC
//! and Elasticsearch `_bulk`, a private redis-server, a private rsyslogd.
//!
//! redis-server and rsyslogd must be installed (scripts/test installs them):
//! a missing one fails the test, it never skips it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use phonehome::sink::redis::{command, read_reply, Reply};
use serde_json::Value;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The installed program, or a failure naming the package to install.
pub fn need(program: &str, package: &str) -> PathBuf {
    for dir in [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/bin",
        "/usr/local/sbin",
    ] {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!("{program} is not installed: this test needs a real one (apt-get install {package}; scripts/test installs it)");
}

/// Polls `f` until it returns Some, for at most `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------- HTTP

/// One `_bulk` document as stored.
#[derive(Clone, Debug)]
pub struct BulkDoc {
    pub index: String,
    pub id: String,
    pub doc: Value,
}

#[derive(Default)]
pub struct Received {
    /// HEC events, in arrival order (resends included: HEC keeps them).
    pub hec: Vec<Value>,
    /// `_bulk` documents by arrival, kept once per (`_index`, `_id`).
    pub bulk: Vec<BulkDoc>,
    pub bulk_ids: HashSet<(String, String)>,
    /// Bulk items answered 409 (already there).
    pub conflicts: u64,
    pub unauthorized: u64,
}

impl Received {
    /// The `_bulk` documents of one index, in arrival order.
    pub fn bulk_docs(&self, index: &str) -> Vec<&Value> {
        self.bulk
            .iter()
            .filter(|d| d.index == index)
            .map(|d| &d.doc)
            .collect()
    }

    /// The HEC events of one `index` field, in arrival order.
    pub fn hec_events(&self, index: &str) -> Vec<&Value> {
        self.hec.iter().filter(|v| v["index"] == index).collect()
    }
}

/// A small HTTP/1.1 server: `/services/collector/event` (HEC, token
/// "T0KEN") and `/_bulk` (a second `create` of an (`_index`, `_id`) is
/// answered 409, as Elasticsearch does). Stopping it closes the listener and
/// every connection after the request in progress is answered.
pub struct HttpReceiver {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpReceiver {
    /// On `port` (0: any free port).
    pub fn start(port: u16, got: Arc<Mutex<Received>>) -> HttpReceiver {
        HttpReceiver::start_slow(port, got, Duration::ZERO)
    }

    /// Answers each request after `delay`, so that delivery takes a while.
    pub fn start_slow(port: u16, got: Arc<Mutex<Received>>, delay: Duration) -> HttpReceiver {
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (g, st) = (got, Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !st.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        let (g, st) = (Arc::clone(&g), Arc::clone(&st));
                        conns.push(std::thread::spawn(move || serve(c, &g, &st, delay)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            drop(l);
            for c in conns {
                let _ = c.join();
            }
        });
        HttpReceiver {
            port,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops; the port, to start again on it.
    pub fn stop(mut self) -> u16 {
        self.halt();
        self.port
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.halt();
    }
}

fn set_read_timeout(r: &BufReader<TcpStream>, d: Duration) {
    r.get_ref().set_read_timeout(Some(d)).unwrap();
}

fn serve(c: TcpStream, got: &Mutex<Received>, stop: &AtomicBool, delay: Duration) {
    c.set_nonblocking(false).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut w = c;
    loop {
        // Wait for a request line, checking for a stop between requests.
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
        set_read_timeout(&r, Duration::from_secs(5));
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut len = 0usize;
        let mut auth = String::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            match k.to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap(),
                "authorization" => auth = v.trim().to_string(),
                _ => {}
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        set_read_timeout(&r, Duration::from_millis(50));
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let (status, answer) = answer(got, &path, &auth, body);
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// Stores what a request carries; the status and body to answer.
fn answer(got: &Mutex<Received>, path: &str, auth: &str, body: Vec<u8>) -> (u16, String) {
    let mut g = got.lock().unwrap();
    if path == "/services/collector/event" {
        if auth != "Splunk T0KEN" {
            g.unauthorized += 1;
            return (401, r#"{"text":"Invalid token","code":4}"#.to_string());
        }
        for v in serde_json::Deserializer::from_slice(&body).into_iter::<Value>() {
            g.hec.push(v.unwrap());
        }
        return (200, r#"{"text":"Success","code":0}"#.to_string());
    }
    if path != "/_bulk" {
        return (404, "{}".to_string());
    }
    let text = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut items = Vec::new();
    for pair in lines.chunks(2) {
        let action: Value = serde_json::from_str(pair[0]).unwrap();
        let index = action["create"]["_index"].as_str().unwrap().to_string();
        let id = action["create"]["_id"].as_str().unwrap().to_string();
        let doc: Value = serde_json::from_str(pair[1]).unwrap();
        if g.bulk_ids.insert((index.clone(), id.clone())) {
            g.bulk.push(BulkDoc { index, id, doc });
            items.push(serde_json::json!({"create": {"status": 201}}));
        } else {
            g.conflicts += 1;
            items.push(serde_json::json!({"create": {"status": 409,
                "error": {"type": "version_conflict_engine_exception"}}}));
        }
    }
    let errors = items.iter().any(|i| i["create"]["status"] != 201);
    (
        200,
        serde_json::json!({"took": 1, "errors": errors, "items": items}).to_string(),
    )
}

// ---------------------------------------------------------------- redis

/// A private redis-server on loopback, append-only file fsynced always.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    /// The default user's password (`requirepass`), sent before each query.
    password: Option<String>,
}

impl RedisServer {
    pub fn start(port: u16, dir: &Path) -> RedisServer {
        RedisServer::start_with_password(port, dir, None)
    }

    pub fn start_with_password(port: u16, dir: &Path, password: Option<&str>) -> RedisServer {
        let bin = need("redis-server", "redis-server");
        let mut cmd = Command::new(bin);
        if let Some(p) = password {
            cmd.args(["--requirepass", p]);
        }
        let child = cmd
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                dir.to_str().unwrap(),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let r = RedisServer {
            child,
            port,
            dir: dir.to_path_buf(),
            password: password.map(String::from),
        };
        wait_for(20, "redis-server to answer", || match r.query(&[b"PING"]) {
            Ok(Reply::Simple(s)) if s == "PONG" => Some(()),
            _ => None,
        });
        r
    }

    pub fn query(&self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let mut c = TcpStream::connect(("127.0.0.1", self.port))?;
        c.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut out = Vec::new();
        if let Some(p) = &self.password {
            command(&mut out, &[b"AUTH", p.as_bytes()]);
            c.write_all(&out)?;
            let mut r = BufReader::new(c.try_clone()?);
            if read_reply(&mut r)? != Reply::Simple("OK".into()) {
                return Err(std::io::Error::other("AUTH refused"));
            }
            out.clear();
        }
        command(&mut out, args);
        c.write_all(&out)?;
        read_reply(&mut BufReader::new(c))
    }

    /// Every value of a list, in order.
    pub fn list(&self, key: &str) -> Vec<Vec<u8>> {
        match self
            .query(&[b"LRANGE", key.as_bytes(), b"0", b"-1"])
            .unwrap()
        {
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

    /// Killed, as by a crash (SIGKILL); the port and data folder, to start
    /// again on them.
    pub fn kill(mut self) -> (u16, PathBuf) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        (self.port, self.dir.clone())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- rsyslog

/// A private rsyslogd on loopback UDP and TCP ports and a unix socket,
/// writing each message as
/// `inputname|msgid|app-name|facility|severity|structured-data|msg`.
pub struct Rsyslog {
    child: Child,
    dir: PathBuf,
    pub udp: u16,
    pub tcp: u16,
}

impl Rsyslog {
    pub fn sock(dir: &Path) -> PathBuf {
        dir.join("log.sock")
    }

    pub fn out(dir: &Path) -> PathBuf {
        dir.join("out.log")
    }

    pub fn start(dir: &Path, udp: u16, tcp: u16) -> Rsyslog {
        let bin = need("rsyslogd", "rsyslog");
        let conf = dir.join("rsyslog.conf");
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}" maxMessageSize="256k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
input(type="imudp" port="{udp}" address="127.0.0.1")
input(type="imtcp" port="{tcp}" address="127.0.0.1")
input(type="imuxsock" Socket="{sock}" UseSpecialParser="off" ParseHostname="on")
template(name="fields" type="string" string="%inputname%|%msgid%|%app-name%|%syslogfacility%|%syslogseverity%|%structured-data%|%msg%\n")
*.* action(type="omfile" file="{out}" template="fields")
"#,
                work = work.display(),
                sock = Self::sock(dir).display(),
                out = Self::out(dir).display(),
            ),
        )
        .unwrap();
        let _ = std::fs::remove_file(Self::sock(dir));
        let child = Command::new(bin)
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let r = Rsyslog {
            child,
            dir: dir.to_path_buf(),
            udp,
            tcp,
        };
        wait_for(20, "rsyslogd to listen", || {
            (TcpStream::connect(("127.0.0.1", tcp)).is_ok() && Self::sock(dir).exists())
                .then_some(())
        });
        r
    }

    /// The fields of every message that came in on `input` (imudp, imtcp,
    /// imuxsock).
    pub fn lines(&self, input: &str) -> Vec<Vec<String>> {
        std::fs::read_to_string(Self::out(&self.dir))
            .unwrap_or_default()
            .lines()
            .map(|l| l.splitn(7, '|').map(str::to_string).collect::<Vec<_>>())
            .filter(|f| f[0] == input)
            .collect()
    }

    /// The MSG of every message of app-name `app`, in arrival order.
    pub fn messages(&self, app: &str) -> Vec<String> {
        std::fs::read_to_string(Self::out(&self.dir))
            .unwrap_or_default()
            .lines()
            .map(|l| l.splitn(7, '|').collect::<Vec<_>>())
            .filter(|f| f.len() == 7 && f[2] == app)
            .map(|f| f[6].trim_start().to_string())
            .collect()
    }

    pub fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
