//! Sinks: where events and alerts go besides the EVE file, and how they get
//! there without loss when a destination hiccups.
//!
//! # Shape
//!
//! ```text
//!  output stage ──EVE line (+ Finding)──▶ Sinks::event/alert
//!   (one thread)                           │ selection per sink (event types)
//!                                          ├─▶ [bounded queue] ─▶ sink thread: format ─▶ send ──▶ destination
//!                                          │                         │  down? ─▶ spool dir ─┘ replayed in order
//!                                          └─▶ ...one thread per sink
//! ```
//!
//! * The output stage hands every event's EVE line (the very bytes of the EVE
//!   file, without the newline) to [`Sinks`]; alerts come with their
//!   [`Finding`]. With no sink configured [`Sinks`] is empty and nothing is
//!   copied. A record is allocated once and shared by the sinks that select it.
//! * Each sink has its own thread and a bounded queue (`queue`, default
//!   10 000 records). A full queue blocks the output stage (backpressure,
//!   never a silent drop); the queue only fills when the sink thread cannot
//!   even write its spool.
//! * The sink thread formats the record (ECS, RFC 5424 + CEF, HEC JSON, bulk
//!   action+document, or the EVE line as is) and sends batches. A failed send
//!   is retried with exponential backoff (100 ms doubling up to `retry_max`,
//!   default 30 s). While the destination is down every record, in order,
//!   goes to the sink's spool directory (`<spool_dir>/<sink name>/`, see
//!   [`spool`]); once a send succeeds again the spool is replayed in order
//!   and only then does live sending resume, so order is kept. The spool is
//!   bounded (`spool_max`, default 256 MiB): what does not fit is dropped and
//!   counted. A spool left by an earlier run is replayed first.
//! * The spool only moves its head after the destination confirmed a batch:
//!   an HTTP 2xx (and, for `_bulk`, per-item statuses), a Redis reply per
//!   command, a successful write on a TCP/unix socket whose peer has not
//!   closed. Nothing confirmed is sent again, so without crashes every record
//!   arrives exactly once, in order — except in the window where a request
//!   was sent and the connection broke before its answer: then the record is
//!   sent again (at-least-once). Elasticsearch documents carry a fixed `_id`
//!   so such a resend is answered 409 and counted as delivered; Redis
//!   resends are avoided by reading back the tail of the stream or list and
//!   looking for the digests of what was written, noted in the spool's head
//!   before each batch (`worker::DeliveryState::sent`), so a restart after a
//!   kill finds them too.
//!   Syslog over TCP has no acknowledgement at all: records the peer had
//!   received but not read when it died are lost; over UDP nothing is known.
//!   See docs/sinks.md for the table.
//! * At the end of a replay [`Sinks::flush`] waits (bounded, `timeout`,
//!   default 30 s) until every queue and spool is empty; what is left stays
//!   in the spool for the next run and is reported on stderr. Counters per
//!   sink (`sent`, `spooled`, `replayed`, `dropped`, `retries`) go to the
//!   `stats` event under `stats.phonehome.sinks.<name>`.
//!
//! # Selection and formats
//!
//! | sink | default events | format |
//! |---|---|---|
//! | `syslog` (udp, tcp, unix) | alerts | RFC 5424; MSG is CEF for alerts, EVE JSON otherwise (`format = "eve"`/`"ecs"` to change) |
//! | `hec` | all | Splunk HEC event JSON, `sourcetype` `suricata:<event_type>` |
//! | `elastic` | all | `_bulk` `create` actions with ECS documents |
//! | `redis` | all | EVE lines, `XADD key * eve <line>` or `RPUSH key <line>` |
//! | `file` (ECS or EVE) | all | one JSON document per line |
//!
//! Custom fields in ECS documents live under `phonehome.*`, as ECS asks
//! of fields it does not define.

pub mod config;
mod connect;
pub mod file;
pub mod format;
mod http;
mod net;
pub mod redis;
pub mod spool;
mod transport;
mod worker;

pub use config::{SinkSettings, SinkSpec};

use crate::judge::Finding;
use crossbeam_channel::{bounded, Sender};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which events a sink takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Select {
    All,
    Alerts,
    /// These `event_type`s.
    Types(Vec<String>),
}

impl Select {
    pub fn wants(&self, event_type: &str) -> bool {
        match self {
            Select::All => true,
            Select::Alerts => event_type == "alert",
            Select::Types(t) => t.iter().any(|x| x == event_type),
        }
    }
}

/// One event on its way to the sinks.
#[derive(Debug)]
pub struct Record {
    /// Order of the record in this run (1, 2, ...).
    pub seq: u64,
    pub event_type: String,
    /// The EVE line, without newline.
    pub line: Vec<u8>,
    /// For alerts: the finding behind it.
    pub finding: Option<Finding>,
    /// Set on records made after a graceful stop (SIGTERM) was requested:
    /// the sequence number of the last record made before it. Records up
    /// to that one are what a full run of the same replay makes too; the
    /// later ones (flows ended `shutdown`, the findings so far, the stats)
    /// are this run's own, never made again by a restart.
    pub stop_at: Option<u64>,
}

/// What a sink counted (also the `stats.phonehome.sinks.<name>` object).
#[derive(Debug, Default)]
pub struct Counters {
    /// Records the destination confirmed (live and replayed).
    pub sent: AtomicU64,
    /// Records written to the spool because the destination was down.
    pub spooled: AtomicU64,
    /// Records sent from the spool.
    pub replayed: AtomicU64,
    /// Records lost: the spool was full or unwritable, the destination
    /// rejected them for good, or they could not be formatted.
    pub dropped: AtomicU64,
    /// Failed attempts that were retried.
    pub retries: AtomicU64,
    /// Of `dropped`: records lost because the spool was full or unwritable.
    pub spool_lost: AtomicU64,
    /// Records an interrupted earlier run with the same identity had
    /// delivered or spooled already: not sent again.
    pub resumed: AtomicU64,
    /// Records waiting in the spool now.
    pub backlog: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// A copy of [`Counters`] at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub sent: u64,
    pub spooled: u64,
    pub replayed: u64,
    pub dropped: u64,
    pub retries: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub spool_lost: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub resumed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Counters {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            sent: self.sent.load(Ordering::Relaxed),
            spooled: self.spooled.load(Ordering::Relaxed),
            replayed: self.replayed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            spool_lost: self.spool_lost.load(Ordering::Relaxed),
            resumed: self.resumed.load(Ordering::Relaxed),
        }
    }
}

/// A sink's counters and sizes while it runs (health: stats events, metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkHealth {
    pub name: String,
    pub counts: Snapshot,
    /// Records in its spool now.
    pub backlog: u64,
    /// Messages in its queue now.
    pub queued: u64,
}

/// How a sink ended: what it counted, what is still spooled and where.
#[derive(Clone, Debug)]
pub struct SinkReport {
    pub name: String,
    pub counts: Snapshot,
    pub backlog: u64,
    pub spool_dir: PathBuf,
    pub last_error: Option<String>,
}

impl std::fmt::Display for SinkReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "sink {}: {} sent ({} from the spool), {} spooled, {} dropped, {} retries",
            self.name, c.sent, c.replayed, c.spooled, c.dropped, c.retries
        )?;
        if c.resumed > 0 {
            write!(
                f,
                "; {} delivered or spooled by the interrupted run before this one",
                c.resumed
            )?;
        }
        if c.spool_lost > 0 {
            write!(
                f,
                "; {} records LOST: the spool in {} was full or unwritable",
                c.spool_lost,
                self.spool_dir.display()
            )?;
        }
        if self.backlog > 0 {
            write!(
                f,
                "; {} records not delivered are kept in {} for the next run",
                self.backlog,
                self.spool_dir.display()
            )?;
            if let Some(e) = &self.last_error {
                write!(f, " (last error: {e})")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{0}")]
    Config(String),
    #[error("sink {name}: {source}")]
    Spool {
        name: String,
        source: spool::SpoolError,
    },
    #[error("cannot start the thread of sink {0}: {1}")]
    Thread(String, std::io::Error),
    #[error("sink {name}: {msg}")]
    Open { name: String, msg: String },
}

pub(crate) enum Msg {
    Record(Arc<Record>),
    /// Deliver everything queued or spooled, give up at the deadline, then answer.
    Flush {
        deadline: Instant,
        done: Sender<()>,
    },
}

struct Handle {
    name: String,
    select: Select,
    tx: Option<Sender<Msg>>,
    counters: Arc<Counters>,
    spool_dir: PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The running sinks, fed in event order by the output stage.
#[derive(Default)]
pub struct Sinks {
    handles: Vec<Handle>,
    seq: u64,
    timeout: Duration,
    /// The graceful-stop flag of the run ([`Sinks::watch_stop`]).
    stop: Option<Arc<AtomicBool>>,
    /// The last record made before the stop flag was seen set.
    stop_at: Option<u64>,
}

/// `event_type` of an EVE line (its header writes it early, as a plain string).
pub fn event_type_of(line: &[u8]) -> &str {
    const KEY: &[u8] = b"\"event_type\":\"";
    let Some(at) = line.windows(KEY.len()).position(|w| w == KEY) else {
        return "";
    };
    let rest = line.get(at + KEY.len()..).unwrap_or(&[]);
    let end = rest.iter().position(|&b| b == b'"').unwrap_or(0);
    std::str::from_utf8(rest.get(..end).unwrap_or(&[])).unwrap_or("")
}

impl Sinks {
    /// Starts one thread per sink. A destination that cannot be reached now
    /// is not an error (its records are spooled); a spool that cannot be
    /// read is.
    pub fn start(settings: &SinkSettings) -> Result<Sinks, SinkError> {
        let mut handles = Vec::new();
        for spec in &settings.sinks {
            handles.push(worker::spawn(spec, settings)?);
        }
        Ok(Sinks {
            handles,
            seq: 0,
            timeout: settings.timeout,
            stop: None,
            stop_at: None,
        })
    }

    /// Watches the run's graceful-stop flag (set by SIGTERM/SIGINT). The
    /// flag is set before the reader stops, so every record the stop
    /// changes (flows ended `shutdown` early, the findings so far, the
    /// stats) is made after it is seen: those records are marked
    /// ([`Record::stop_at`]) and a restart of the same replay does not take
    /// them for its own.
    pub fn watch_stop(&mut self, flag: Arc<AtomicBool>) {
        self.stop = Some(flag);
    }

    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    pub fn names(&self) -> Vec<String> {
        self.handles.iter().map(|h| h.name.clone()).collect()
    }

    fn dispatch(&mut self, line: &[u8], event_type: &str, finding: Option<&Finding>) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line.is_empty() || !self.handles.iter().any(|h| h.select.wants(event_type)) {
            return;
        }
        if self.stop_at.is_none() && self.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst)) {
            self.stop_at = Some(self.seq);
        }
        self.seq += 1;
        let rec = Arc::new(Record {
            seq: self.seq,
            event_type: event_type.to_string(),
            line: line.to_vec(),
            finding: finding.cloned(),
            stop_at: self.stop_at,
        });
        for h in &self.handles {
            if h.select.wants(event_type) {
                if let Some(tx) = &h.tx {
                    // Blocks while the queue is full: backpressure, not loss.
                    if tx.send(Msg::Record(Arc::clone(&rec))).is_err() {
                        h.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// An event's EVE line (alerts go through [`Sinks::alert`]).
    pub fn event(&mut self, line: &[u8]) {
        if self.handles.is_empty() {
            return;
        }
        let et = event_type_of(line).to_string();
        self.dispatch(line, &et, None);
    }

    /// An alert's EVE line and the finding it reports.
    pub fn alert(&mut self, line: &[u8], f: &Finding) {
        if self.handles.is_empty() {
            return;
        }
        self.dispatch(line, "alert", Some(f));
    }

    /// Waits until every sink delivered what it was given, at most the
    /// configured timeout; what is left stays spooled.
    pub fn flush(&mut self) {
        let deadline = Instant::now() + self.timeout;
        let mut waits = Vec::new();
        for h in &self.handles {
            if let Some(tx) = &h.tx {
                let (done_tx, done_rx) = bounded(1);
                if tx
                    .send(Msg::Flush {
                        deadline,
                        done: done_tx,
                    })
                    .is_ok()
                {
                    waits.push(done_rx);
                }
            }
        }
        for w in waits {
            // A worker past the deadline answers promptly; allow it a margin.
            let _ = w.recv_timeout(self.timeout + Duration::from_secs(5));
        }
    }

    /// Counters, spool backlog and queue length of every sink.
    pub fn health(&self) -> Vec<SinkHealth> {
        self.handles
            .iter()
            .map(|h| SinkHealth {
                name: h.name.clone(),
                counts: h.counters.snapshot(),
                backlog: h.counters.backlog.load(Ordering::Relaxed),
                queued: h.tx.as_ref().map_or(0, |t| t.len() as u64),
            })
            .collect()
    }

    /// Counters of every sink, in configuration order.
    pub fn snapshots(&self) -> Vec<(String, Snapshot)> {
        self.handles
            .iter()
            .map(|h| (h.name.clone(), h.counters.snapshot()))
            .collect()
    }

    /// Stops the threads (after [`Sinks::flush`]): records still queued are
    /// spooled. Returns what each sink did.
    pub fn finish(mut self) -> Vec<SinkReport> {
        for h in &mut self.handles {
            h.tx = None;
        }
        let mut out = Vec::new();
        for h in &mut self.handles {
            if let Some(t) = h.thread.take() {
                let _ = t.join();
            }
            out.push(SinkReport {
                name: h.name.clone(),
                counts: h.counters.snapshot(),
                backlog: h.counters.backlog.load(Ordering::Relaxed),
                spool_dir: h.spool_dir.clone(),
                last_error: h.counters.last_error.lock().ok().and_then(|e| e.clone()),
            });
        }
        out
    }
}

/// Inserts `"sinks":{...}` at the end of `stats.phonehome` in a stats line
/// written by [`crate::output::eve::stats_event`] (whose `phonehome` object
/// is the last of `stats`, itself the last member). Returns false, leaving
/// the line alone, if the line does not have that shape.
pub fn splice_stats(line: &mut Vec<u8>, sinks: &[(String, Snapshot)]) -> bool {
    let nl = line.last() == Some(&b'\n');
    let body_end = line.len() - usize::from(nl);
    if body_end < 3 || line.get(body_end - 3..body_end) != Some(b"}}}".as_slice()) {
        return false;
    }
    if !line.windows(13).any(|w| w == b"\"phonehome\":{") {
        return false;
    }
    let mut m = serde_json::Map::new();
    for (name, s) in sinks {
        if let Ok(v) = serde_json::to_value(s) {
            m.insert(name.clone(), v);
        }
    }
    let Ok(obj) = serde_json::to_vec(&m) else {
        return false;
    };
    let mut ins = Vec::with_capacity(obj.len() + 10);
    ins.extend_from_slice(b",\"sinks\":");
    ins.extend_from_slice(&obj);
    let at = body_end - 3;
    line.splice(at..at, ins);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_event_type() {
        assert_eq!(
            event_type_of(
                br#"{"timestamp":"x","flow_id":1,"event_type":"tls","src_ip":"1.2.3.4"}"#
            ),
            "tls"
        );
        assert_eq!(event_type_of(b"{}"), "");
        assert_eq!(event_type_of(br#"{"event_type":"unterminated"#), "");
    }

    #[test]
    fn selection() {
        assert!(Select::All.wants("flow"));
        assert!(Select::Alerts.wants("alert"));
        assert!(!Select::Alerts.wants("flow"));
        let t = Select::Types(vec!["dns".into(), "alert".into()]);
        assert!(t.wants("dns") && t.wants("alert") && !t.wants("tls"));
    }

    #[test]
    fn stats_splice_lands_in_stats_phonehome() {
        let mut line =
            br#"{"timestamp":"t","event_type":"stats","stats":{"decoder":{"pkts":1},"phonehome":{"capture":{"files":1}}}}"#
                .to_vec();
        line.push(b'\n');
        let snap = Snapshot {
            sent: 3,
            spooled: 2,
            replayed: 2,
            dropped: 0,
            retries: 1,
            ..Snapshot::default()
        };
        assert!(splice_stats(&mut line, &[("hec".into(), snap)]));
        assert_eq!(line.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            v["stats"]["phonehome"]["sinks"]["hec"],
            serde_json::json!({"sent":3,"spooled":2,"replayed":2,"dropped":0,"retries":1})
        );
        assert_eq!(v["stats"]["phonehome"]["capture"]["files"], 1);
        let mut odd = br#"{"event_type":"stats"}"#.to_vec();
        assert!(!splice_stats(&mut odd, &[]));
    }

    #[test]
    fn empty_sinks_take_nothing() {
        let mut s = Sinks::default();
        s.event(br#"{"event_type":"flow"}"#);
        assert!(s.is_empty());
        assert_eq!(s.seq, 0);
    }
}
