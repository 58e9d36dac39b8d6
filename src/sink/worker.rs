//! One sink's thread: format, send in batches, back off and spool while the
//! destination is down, replay the spool in order once it is back.

use super::config::{SinkSettings, SinkSpec};
use super::connect;
use super::format::Formatter;
use super::spool::Spool;
use super::transport::{Start, Transport};
use super::{Counters, Handle, Msg, SinkError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exponential backoff: `initial`, doubling, at most `max`.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    /// The wait before the next attempt; doubles the one after.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// Where a sink stands, kept as the note of its spool's head (one rename
/// with the head, so the two agree after any crash):
/// `run=<key hex> acked=<seq> [pos=<n>] foreign=<n>`.
///
/// Records carry their sequence number in the run, and a run gives the same
/// records the same numbers (the output is deterministic), so a run that
/// follows an interrupted one of the same identity skips what that one
/// had acknowledged or spooled. `foreign` records at the head of the spool
/// belong to an earlier, other run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct DeliveryState {
    pub run: Option<u64>,
    pub acked: u64,
    pub pos: Option<u64>,
    pub foreign: u64,
}

impl DeliveryState {
    pub fn parse(note: &str) -> DeliveryState {
        let mut s = DeliveryState::default();
        for (k, v) in note.split_whitespace().filter_map(|t| t.split_once('=')) {
            match k {
                "run" => s.run = u64::from_str_radix(v, 16).ok(),
                "acked" => s.acked = v.parse().unwrap_or(0),
                "pos" => s.pos = v.parse().ok(),
                "foreign" => s.foreign = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        s
    }

    pub fn note(&self) -> String {
        let Some(run) = self.run else {
            return String::new();
        };
        let mut n = format!("run={run:016x} acked={}", self.acked);
        if let Some(p) = self.pos {
            n.push_str(&format!(" pos={p}"));
        }
        n.push_str(&format!(" foreign={}", self.foreign));
        n
    }
}

pub(super) fn spawn(spec: &SinkSpec, settings: &SinkSettings) -> Result<Handle, SinkError> {
    let spool_dir = settings.spool_dir.join(&spec.name);
    let spool_err = |source| SinkError::Spool {
        name: spec.name.clone(),
        source,
    };
    let mut spool = Spool::open(&spool_dir, spec.spool_max).map_err(spool_err)?;
    if spool.repaired > 0 {
        eprintln!(
            "phonehome: sink {}: cut off {} partly written record(s) at the end of its spool (a crash while spooling)",
            spec.name, spool.repaired
        );
    }
    let open_err = |msg| SinkError::Open {
        name: spec.name.clone(),
        msg,
    };
    let mut transport = connect::open(&spec.dest).map_err(open_err)?;
    let before = DeliveryState::parse(spool.note());
    let resuming = settings.run_key.is_some() && before.run == settings.run_key;
    let (state, skip_upto, start) = if resuming {
        // Its own records still spooled are sent from the spool.
        let own_spooled = (spool.len() > before.foreign)
            .then(|| spool.last_seq())
            .flatten()
            .unwrap_or(0);
        let start = Start::Resume(before.pos);
        let skip = before.acked.max(own_spooled);
        (before, skip, start)
    } else {
        let state = DeliveryState {
            run: settings.run_key,
            acked: 0,
            pos: None,
            foreign: spool.len(),
        };
        let start = if spool.is_empty() {
            Start::Fresh
        } else {
            Start::Keep
        };
        (state, 0, start)
    };
    transport.start(start).map_err(open_err)?;
    spool.set_note(state.note()).map_err(spool_err)?;
    let formatter = Formatter::new(&spec.dest).for_run(settings.run_key);
    let counters = Arc::new(Counters::default());
    counters.backlog.store(spool.len(), Ordering::Relaxed);
    let (tx, rx) = bounded(spec.queue.max(1));
    let w = Worker {
        name: spec.name.clone(),
        transport,
        formatter,
        rx,
        spool,
        counters: Arc::clone(&counters),
        live: VecDeque::new(),
        backoff: Backoff::new(Duration::from_millis(100), spec.retry_max),
        retry_at: None,
        batch: spec.batch.max(1),
        down_since: None,
        spool_warned: false,
        state,
        skip_upto,
    };
    let thread = std::thread::Builder::new()
        .name(format!("phonehome-sink-{}", spec.name))
        .spawn(move || w.run())
        .map_err(|e| SinkError::Thread(spec.name.clone(), e))?;
    Ok(Handle {
        name: spec.name.clone(),
        select: spec.select.clone(),
        tx: Some(tx),
        counters,
        spool_dir,
        thread: Some(thread),
    })
}

pub(super) struct Worker {
    pub(super) name: String,
    pub(super) transport: Box<dyn Transport>,
    pub(super) formatter: Formatter,
    pub(super) rx: Receiver<Msg>,
    pub(super) spool: Spool,
    pub(super) counters: Arc<Counters>,
    /// Formatted records to send now, in order (only while the spool is empty).
    pub(super) live: VecDeque<(u64, Vec<u8>)>,
    pub(super) backoff: Backoff,
    pub(super) retry_at: Option<Instant>,
    pub(super) batch: usize,
    pub(super) down_since: Option<Instant>,
    pub(super) spool_warned: bool,
    /// The acknowledged position, written with the spool's head.
    pub(super) state: DeliveryState,
    /// Records up to this sequence number were delivered or spooled by an
    /// interrupted run of the same identity.
    pub(super) skip_upto: u64,
}

impl Worker {
    pub(super) fn run(mut self) {
        loop {
            let wait = self.wait();
            let msg = match wait {
                Some(d) if d.is_zero() => match self.rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(crossbeam_channel::TryRecvError::Empty) => None,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => break,
                },
                Some(d) => match self.rx.recv_timeout(d) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match self.rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                },
            };
            if let Some(m) = msg {
                self.handle(m);
                // Take what else is queued, up to a batch, before sending.
                while self.live.len() < self.batch {
                    match self.rx.try_recv() {
                        Ok(m) => self.handle(m),
                        Err(_) => break,
                    }
                }
            }
            self.pump();
        }
        // The dispatcher is gone: keep what was not sent for the next run.
        self.live_to_spool();
        self.update_backlog();
    }

    /// How long to wait for input: zero with work to do, until the next
    /// attempt while backing off, forever when idle.
    fn wait(&self) -> Option<Duration> {
        if let Some(t) = self.retry_at {
            return Some(t.saturating_duration_since(Instant::now()));
        }
        if !self.live.is_empty() || !self.spool.is_empty() {
            return Some(Duration::ZERO);
        }
        None
    }

    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Record(r) => match self.formatter.format(&r) {
                Ok(payload) => self.accept(r.seq, payload),
                Err(e) => {
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    self.note_error(format!("cannot format record {}: {e}", r.seq));
                }
            },
            Msg::Flush { deadline, done } => {
                self.flush(deadline);
                let _ = done.send(());
            }
        }
    }

    fn accept(&mut self, seq: u64, payload: Vec<u8>) {
        if seq <= self.skip_upto {
            self.counters.resumed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.retry_at.is_some() || !self.spool.is_empty() {
            self.spool_record(seq, &payload);
        } else {
            self.live.push_back((seq, payload));
        }
    }

    fn spool_record(&mut self, seq: u64, payload: &[u8]) {
        match self.spool.append(seq, payload) {
            Ok(()) => {
                self.counters.spooled.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                self.counters.spool_lost.fetch_add(1, Ordering::Relaxed);
                if !self.spool_warned {
                    self.spool_warned = true;
                    eprintln!(
                        "phonehome: sink {}: cannot spool ({e}): records are dropped and counted",
                        self.name
                    );
                }
            }
        }
        self.update_backlog();
    }

    fn live_to_spool(&mut self) {
        while let Some((seq, p)) = self.live.pop_front() {
            self.spool_record(seq, &p);
        }
    }

    fn update_backlog(&self) {
        self.counters
            .backlog
            .store(self.spool.len(), Ordering::Relaxed);
    }

    fn note_error(&self, e: String) {
        if let Ok(mut g) = self.counters.last_error.lock() {
            *g = Some(e);
        }
    }

    /// One send attempt, if one is due: the spool first, else live records.
    fn pump(&mut self) {
        if let Some(t) = self.retry_at {
            if Instant::now() < t {
                self.live_to_spool();
                return;
            }
        }
        if !self.spool.is_empty() {
            let batch = match self.spool.peek(self.batch) {
                Ok(b) => b,
                Err(e) => {
                    // The spool went bad under us: say so and stop reading it.
                    self.note_error(e.to_string());
                    eprintln!("phonehome: sink {}: {e}", self.name);
                    self.retry_at = Some(Instant::now() + Duration::from_secs(3600));
                    return;
                }
            };
            let payloads: Vec<&[u8]> = batch.iter().map(|r| r.payload.as_slice()).collect();
            let n = payloads.len();
            let d = self.transport.send(&payloads);
            let settled = d.settled.min(n);
            for r in batch.iter().take(settled) {
                if self.state.foreign > 0 {
                    self.state.foreign -= 1;
                } else {
                    self.state.acked = r.seq;
                }
            }
            self.state.pos = self.transport.position();
            if let Err(e) = self.spool.consume_noting(settled, self.state.note()) {
                self.note_error(e.to_string());
                eprintln!("phonehome: sink {}: {e}", self.name);
            }
            let ok = (settled as u64).saturating_sub(d.rejected);
            self.counters.sent.fetch_add(ok, Ordering::Relaxed);
            self.counters.replayed.fetch_add(ok, Ordering::Relaxed);
            self.counters
                .dropped
                .fetch_add(d.rejected, Ordering::Relaxed);
            self.update_backlog();
            self.outcome(d.error, settled == n);
        } else if !self.live.is_empty() {
            let n = self.live.len().min(self.batch);
            let payloads: Vec<&[u8]> = self
                .live
                .iter()
                .take(n)
                .map(|(_, p)| p.as_slice())
                .collect();
            let d = self.transport.send(&payloads);
            let settled = d.settled.min(n);
            if let Some(&(seq, _)) = self.live.get(settled.wrapping_sub(1)) {
                self.state.acked = seq;
                self.state.pos = self.transport.position();
                if let Err(e) = self.spool.set_note(self.state.note()) {
                    self.note_error(e.to_string());
                }
            }
            self.live.drain(..settled);
            let ok = (settled as u64).saturating_sub(d.rejected);
            self.counters.sent.fetch_add(ok, Ordering::Relaxed);
            self.counters
                .dropped
                .fetch_add(d.rejected, Ordering::Relaxed);
            let failed = settled < n;
            self.outcome(d.error, !failed);
            if failed {
                self.live_to_spool();
            }
        }
    }

    fn outcome(&mut self, error: Option<String>, complete: bool) {
        if complete {
            if let Some(e) = error {
                // Everything settled, some of it rejected.
                self.note_error(e);
            }
            if let Some(since) = self.down_since.take() {
                eprintln!(
                    "phonehome: sink {}: destination back after {:.1}s",
                    self.name,
                    since.elapsed().as_secs_f64()
                );
            }
            self.backoff.reset();
            self.retry_at = None;
            return;
        }
        let e = error.unwrap_or_else(|| "send incomplete".into());
        self.counters.retries.fetch_add(1, Ordering::Relaxed);
        self.transport.reset();
        let delay = self.backoff.next_delay();
        self.retry_at = Some(Instant::now() + delay);
        if self.down_since.is_none() {
            self.down_since = Some(Instant::now());
            eprintln!(
                "phonehome: sink {}: {e}; spooling to {} and retrying",
                self.name,
                self.spool.dir().display()
            );
        }
        self.note_error(e);
    }

    /// Sends until nothing is left or the deadline passes; then whatever is
    /// left is in the spool.
    fn flush(&mut self, deadline: Instant) {
        loop {
            if self.live.is_empty() && self.spool.is_empty() {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                self.live_to_spool();
                return;
            }
            if let Some(t) = self.retry_at {
                if t > now {
                    std::thread::sleep(t.min(deadline) - now);
                    continue;
                }
            }
            self.pump();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::format::Formatter;
    use crate::sink::transport::Delivery;
    use crate::sink::{Msg, Record};
    use std::sync::Mutex;

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let got: Vec<u64> = (0..5).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(got, vec![100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    /// A destination that is down while `up` is false and records what it got.
    struct Fake {
        up: Arc<Mutex<bool>>,
        got: Arc<Mutex<Vec<Vec<u8>>>>,
        /// Accept only this many of a batch, then fail (a connection dying mid-batch).
        partial: Option<usize>,
    }

    impl Transport for Fake {
        fn send(&mut self, batch: &[&[u8]]) -> Delivery {
            if !*self.up.lock().unwrap() {
                return Delivery::failed(0, "connection refused");
            }
            let n = self.partial.take().unwrap_or(batch.len()).min(batch.len());
            let mut g = self.got.lock().unwrap();
            for p in batch.iter().take(n) {
                g.push(p.to_vec());
            }
            if n < batch.len() {
                Delivery::failed(n, "reset mid-batch")
            } else {
                Delivery::all(n)
            }
        }
    }

    fn worker(dir: &std::path::Path, fake: Fake) -> (Worker, crossbeam_channel::Sender<Msg>) {
        let (tx, rx) = bounded(16);
        let w = Worker {
            name: "fake".into(),
            transport: Box::new(fake),
            formatter: Formatter::Eve,
            rx,
            spool: Spool::open(dir, 1 << 20).unwrap(),
            counters: Arc::new(Counters::default()),
            live: VecDeque::new(),
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(4)),
            retry_at: None,
            batch: 3,
            down_since: None,
            spool_warned: false,
            state: DeliveryState::default(),
            skip_upto: 0,
        };
        (w, tx)
    }

    fn rec(seq: u64) -> Msg {
        Msg::Record(Arc::new(Record {
            seq,
            event_type: "alert".into(),
            line: format!("{{\"n\":{seq}}}").into_bytes(),
            finding: None,
        }))
    }

    #[test]
    fn spools_while_down_and_replays_in_order_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let up = Arc::new(Mutex::new(true));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (mut w, _tx) = worker(
            dir.path(),
            Fake {
                up: Arc::clone(&up),
                got: Arc::clone(&got),
                partial: None,
            },
        );
        for i in 1..=4 {
            w.handle(rec(i));
        }
        w.pump();
        w.pump();
        assert_eq!(got.lock().unwrap().len(), 4);
        *up.lock().unwrap() = false;
        for i in 5..=9 {
            w.handle(rec(i));
            w.pump();
        }
        assert_eq!(w.spool.len(), 5);
        *up.lock().unwrap() = true;
        for i in 10..=11 {
            w.handle(rec(i));
        }
        w.flush(Instant::now() + Duration::from_secs(5));
        let got: Vec<String> = got
            .lock()
            .unwrap()
            .iter()
            .map(|p| String::from_utf8(p.clone()).unwrap())
            .collect();
        let want: Vec<String> = (1..=11).map(|i| format!("{{\"n\":{i}}}")).collect();
        assert_eq!(got, want);
        let s = w.counters.snapshot();
        assert_eq!(s.sent, 11);
        assert_eq!(s.spooled, 7, "5 while down, 2 behind the spool");
        assert_eq!(s.replayed, 7);
        assert_eq!(s.dropped, 0);
        assert!(s.retries >= 1);
        assert!(w.spool.is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn partial_batch_resends_only_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let (mut w, _tx) = worker(
            dir.path(),
            Fake {
                up: Arc::new(Mutex::new(true)),
                got: Arc::clone(&got),
                partial: Some(2),
            },
        );
        for i in 1..=3 {
            w.handle(rec(i));
        }
        w.flush(Instant::now() + Duration::from_secs(5));
        let n: Vec<Vec<u8>> = got.lock().unwrap().clone();
        assert_eq!(n.len(), 3);
        assert_eq!(n[2], b"{\"n\":3}".to_vec());
        let s = w.counters.snapshot();
        assert_eq!((s.sent, s.spooled, s.replayed, s.retries), (3, 1, 1, 1));
    }

    #[test]
    fn deadline_leaves_the_rest_spooled() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _tx) = worker(
            dir.path(),
            Fake {
                up: Arc::new(Mutex::new(false)),
                got: Arc::new(Mutex::new(Vec::new())),
                partial: None,
            },
        );
        for i in 1..=5 {
            w.handle(rec(i));
        }
        w.flush(Instant::now() + Duration::from_millis(30));
        assert_eq!(w.spool.len(), 5);
        assert_eq!(w.counters.backlog.load(Ordering::Relaxed), 5);
        // The next run finds them.
        drop(w);
        let s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn delivery_state_round_trips_through_its_note() {
        let st = DeliveryState {
            run: Some(0xab),
            acked: 41,
            pos: Some(9000),
            foreign: 3,
        };
        assert_eq!(
            st.note(),
            "run=00000000000000ab acked=41 pos=9000 foreign=3"
        );
        assert_eq!(DeliveryState::parse(&st.note()), st);
        assert_eq!(DeliveryState::default().note(), "");
        assert_eq!(DeliveryState::parse("garbage"), DeliveryState::default());
    }

    #[test]
    fn a_resumed_run_skips_what_the_killed_one_delivered_and_notes_progress() {
        let dir = tempfile::tempdir().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let (mut w, _tx) = worker(
            dir.path(),
            Fake {
                up: Arc::new(Mutex::new(true)),
                got: Arc::clone(&got),
                partial: None,
            },
        );
        w.state = DeliveryState {
            run: Some(7),
            acked: 3,
            pos: None,
            foreign: 0,
        };
        w.skip_upto = 3;
        for i in 1..=5 {
            w.handle(rec(i));
        }
        w.flush(Instant::now() + Duration::from_secs(5));
        assert_eq!(
            *got.lock().unwrap(),
            vec![b"{\"n\":4}".to_vec(), b"{\"n\":5}".to_vec()]
        );
        assert_eq!(w.counters.snapshot().resumed, 3);
        // The acknowledged position is on disk, with the head.
        let s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(DeliveryState::parse(s.note()).acked, 5);
    }

    #[test]
    fn records_of_an_earlier_run_at_the_spool_head_do_not_move_this_runs_position() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
            s.append(90, b"old-a").unwrap();
            s.append(91, b"old-b").unwrap();
        }
        let got = Arc::new(Mutex::new(Vec::new()));
        let (mut w, _tx) = worker(
            dir.path(),
            Fake {
                up: Arc::new(Mutex::new(true)),
                got: Arc::clone(&got),
                partial: None,
            },
        );
        w.state = DeliveryState {
            run: Some(8),
            acked: 0,
            pos: None,
            foreign: 2,
        };
        w.handle(rec(1));
        w.flush(Instant::now() + Duration::from_secs(5));
        let got: Vec<Vec<u8>> = got.lock().unwrap().clone();
        assert_eq!(
            got,
            vec![b"old-a".to_vec(), b"old-b".to_vec(), b"{\"n\":1}".to_vec()]
        );
        let st = DeliveryState::parse(Spool::open(dir.path(), 1 << 20).unwrap().note());
        assert_eq!((st.acked, st.foreign), (1, 0));
    }
}
