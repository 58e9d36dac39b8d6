//! One sink's thread: format, send in batches, back off and spool while the
//! destination is down, replay the spool in order once it is back.

use super::config::{SinkSettings, SinkSpec};
use super::connect;
use super::format::Formatter;
use super::spool::Spool;
use super::transport::{digest, Delivery, Start, Transport};
use super::{Counters, Handle, Msg, SinkError};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};
use std::collections::{HashMap, VecDeque};
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
/// `run=<key hex> acked=<seq> [pos=<n>] foreign=<n> [stop=<seq>] [sent=<seq>.<digest hex>,...]`.
///
/// Records carry their sequence number in the run, and a run gives the same
/// records the same numbers (the output is deterministic), so a run that
/// follows an interrupted one of the same identity skips what that one
/// had acknowledged or spooled. `foreign` records at the head of the spool
/// belong to an earlier run (another one, or this identity's earlier
/// attempt), and do not move `acked`. `stop` is set once a graceful stop
/// (SIGTERM) was requested: records after it are that run's own (flows
/// ended early, findings so far), not what a restart makes under the same
/// numbers, so `acked` never passes it. `sent` is kept only for a transport
/// that [`Transport::reads_back`]: the records written to it whose answers
/// have not come (yet, or ever: a broken connection, a kill), as number and
/// [`digest`] of what was written, in order. It is noted before each batch
/// goes out and they are the first records the sink sends next (the front
/// of its spool, or the live records after `acked`), so whoever sends next,
/// this run or a restart, first asks the destination which of them it
/// applied, by the digests of what was written, not by its own text of
/// those records (a stats event's sink counters differ between attempts).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct DeliveryState {
    pub run: Option<u64>,
    pub acked: u64,
    pub pos: Option<u64>,
    pub foreign: u64,
    pub stop: Option<u64>,
    pub sent: Vec<(u64, u64)>,
}

/// Entries of `sent=` read at most (a batch is far smaller).
const MAX_SENT: usize = 1 << 16;

impl DeliveryState {
    pub fn parse(note: &str) -> DeliveryState {
        let mut s = DeliveryState::default();
        for (k, v) in note.split_whitespace().filter_map(|t| t.split_once('=')) {
            match k {
                "run" => s.run = u64::from_str_radix(v, 16).ok(),
                "acked" => s.acked = v.parse().unwrap_or(0),
                "pos" => s.pos = v.parse().ok(),
                "foreign" => s.foreign = v.parse().unwrap_or(0),
                "stop" => s.stop = v.parse().ok(),
                "sent" => {
                    s.sent = v
                        .split(',')
                        .map_while(|e| {
                            let (q, d) = e.split_once('.')?;
                            Some((q.parse().ok()?, u64::from_str_radix(d, 16).ok()?))
                        })
                        .take(MAX_SENT)
                        .collect()
                }
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
        if let Some(s) = self.stop {
            n.push_str(&format!(" stop={s}"));
        }
        for (i, (q, d)) in self.sent.iter().enumerate() {
            n.push_str(if i == 0 { " sent=" } else { "," });
            n.push_str(&format!("{q}.{d:016x}"));
        }
        n
    }

    /// The last record of this identity that an interrupted run delivered
    /// or left in the spool (`spooled`: the run's records in the spool, and
    /// the last one's number). Records are spooled in order, so a spooled
    /// record made after a stop means every earlier one was settled.
    fn owed_upto(&self, spooled: u64, last_spooled: Option<u64>) -> u64 {
        let in_spool = match (spooled, last_spooled) {
            (0, _) | (_, None) => 0,
            (_, Some(last)) => self.stop.map_or(last, |s| last.min(s)),
        };
        self.acked.max(in_spool)
    }

    /// Whether an acknowledged record moves the position: not one of an
    /// earlier run's, nor one made after a stop.
    fn ack(&mut self, seq: u64) {
        if self.foreign > 0 {
            self.foreign -= 1;
        } else if self.stop.is_none_or(|s| seq <= s) {
            self.acked = seq;
        }
    }
}

/// The file in a sink's spool folder listing the records a stopped run made
/// after its stop point and delivered (or spooled): `run=<key hex>`, then
/// `<seq> <digest of the EVE line>` per line. A restart of the same replay
/// skips a record whose line is the one listed under its number: the full
/// run makes most of them alike (everything, when the signal came after the
/// input was read), and they are delivered already.
const STOP_LIST: &str = "stopped";
/// Records listed at most; later ones are sent again by a restart.
const MAX_LISTED: usize = 1 << 20;

/// The list a stopped attempt of run `run` left in `dir` (empty when none).
fn read_stop_list(dir: &std::path::Path, run: u64) -> HashMap<u64, u64> {
    let Ok(text) = std::fs::read_to_string(dir.join(STOP_LIST)) else {
        return HashMap::new();
    };
    let mut lines = text.lines();
    if lines.next() != Some(format!("run={run:016x}").as_str()) {
        return HashMap::new();
    }
    lines
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(q, d)| Some((q.parse().ok()?, u64::from_str_radix(d, 16).ok()?)))
        .take(MAX_LISTED)
        .collect()
}

fn write_stop_list(
    dir: &std::path::Path,
    run: u64,
    entries: impl Iterator<Item = (u64, u64)>,
) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{STOP_LIST}.tmp"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    writeln!(f, "run={run:016x}")?;
    for (q, d) in entries.take(MAX_LISTED) {
        writeln!(f, "{q} {d:016x}")?;
    }
    f.into_inner().map_err(|e| e.into_error())?;
    std::fs::rename(&tmp, dir.join(STOP_LIST))
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
    // The same replay again after a kill or a stop: what the earlier attempt
    // delivered or spooled is skipped, and its spooled records are sent
    // first like any earlier run's.
    let resuming = settings.run_key.is_some() && before.run == settings.run_key;
    let skip_upto = if resuming {
        before.owed_upto(spool.len().saturating_sub(before.foreign), spool.last_seq())
    } else {
        0
    };
    let listed = match (resuming, settings.run_key) {
        (true, Some(k)) => read_stop_list(&spool_dir, k),
        _ => HashMap::new(),
    };
    // What the earlier attempt wrote without an answer is the front of its
    // spool, sent first again, or its live records after `acked`: this run
    // makes those again under the same numbers if it is the same replay,
    // up to that attempt's stop point (after it, they were its own).
    let remade_upto = match (resuming, before.stop) {
        (false, _) => 0,
        (true, stop) => stop.unwrap_or(u64::MAX),
    };
    let inherited = !before.sent.is_empty();
    let state = DeliveryState {
        run: settings.run_key,
        acked: skip_upto,
        pos: before.pos.filter(|_| resuming),
        foreign: spool.len(),
        stop: None,
        sent: before.sent,
    };
    let start = match (resuming, spool.is_empty()) {
        (true, _) => Start::Resume(before.pos),
        (false, true) => Start::Fresh,
        (false, false) => Start::Keep,
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
        listed,
        after_stop: Vec::new(),
        remade_upto,
        inherited,
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
    /// Records a stopped attempt of this run delivered after its stop point
    /// (number → line digest, [`STOP_LIST`]): skipped when made alike.
    pub(super) listed: HashMap<u64, u64>,
    /// This run's records after its own stop point, delivered or spooled.
    pub(super) after_stop: Vec<(u64, u64)>,
    /// The earlier attempt's live records up to this number are made again
    /// by this run under the same numbers (0: none; see `spawn`).
    pub(super) remade_upto: u64,
    /// `state.sent` is still the earlier attempt's: what it finds applied
    /// counts as `resumed`.
    pub(super) inherited: bool,
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
        self.save_stop_list();
    }

    /// After a stop, lists what this run made after it (and what an earlier
    /// stopped attempt had listed) for a restart; after a run that was not
    /// stopped the list has served and goes.
    fn save_stop_list(&mut self) {
        let (Some(run), dir) = (self.state.run, self.spool.dir().to_path_buf()) else {
            return;
        };
        let done = if self.state.stop.is_some() {
            let mut all: Vec<(u64, u64)> = self.listed.drain().collect();
            all.append(&mut self.after_stop);
            all.sort_unstable();
            all.dedup_by_key(|e| e.0);
            write_stop_list(&dir, run, all.into_iter())
        } else {
            match std::fs::remove_file(dir.join(STOP_LIST)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        };
        if let Err(e) = done {
            eprintln!(
                "phonehome: sink {}: cannot write {}: {e} (a restart sends this run's last records again)",
                self.name,
                dir.join(STOP_LIST).display()
            );
        }
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
                Ok(payload) => {
                    self.note_stop(r.stop_at);
                    let digest =
                        (r.stop_at.is_some() || !self.listed.is_empty()).then(|| digest(&r.line));
                    self.accept(r.seq, payload, digest)
                }
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

    /// Writes the stop point down before the first record made after it is
    /// sent or spooled, so that no restart takes that record for its own.
    fn note_stop(&mut self, stop_at: Option<u64>) {
        if self.state.stop.is_some() || stop_at.is_none() {
            return;
        }
        self.state.stop = stop_at;
        if let Err(e) = self.spool.set_note(self.state.note()) {
            self.note_error(e.to_string());
            eprintln!("phonehome: sink {}: {e}", self.name);
        }
    }

    /// `digest`: of the record's EVE line, when a stop list is kept or read.
    fn accept(&mut self, seq: u64, payload: Vec<u8>, digest: Option<u64>) {
        if let (Some(d), Some(_)) = (digest, self.state.stop) {
            if self.after_stop.len() < MAX_LISTED {
                self.after_stop.push((seq, d));
            }
        }
        let listed = digest.is_some_and(|d| self.listed.get(&seq) == Some(&d));
        if seq <= self.skip_upto || listed {
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
    /// The position moves with what the destination settled: with the
    /// spool's head for spooled records, alone for live ones.
    fn pump(&mut self) {
        if let Some(t) = self.retry_at {
            if Instant::now() < t {
                self.live_to_spool();
                return;
            }
        }
        let from_spool = !self.spool.is_empty();
        let max = self.batch.min(self.transport.batch_limit());
        // Spooled records are copied out: the position (with the digests of
        // what goes out) is written to the spool's head before sending.
        let spooled: Vec<(u64, Vec<u8>)>;
        let (seqs, payloads): (Vec<u64>, Vec<&[u8]>) = if from_spool {
            spooled = match self.spool.peek(max) {
                Ok(b) => b.iter().map(|r| (r.seq, r.payload.clone())).collect(),
                Err(e) => {
                    // The spool went bad under us: say so and stop reading it.
                    self.note_error(e.to_string());
                    eprintln!("phonehome: sink {}: {e}", self.name);
                    self.retry_at = Some(Instant::now() + Duration::from_secs(3600));
                    return;
                }
            };
            spooled.iter().map(|(q, p)| (*q, p.as_slice())).unzip()
        } else if !self.live.is_empty() {
            let n = self.live.len().min(max);
            self.live
                .iter()
                .take(n)
                .map(|(q, p)| (*q, p.as_slice()))
                .unzip()
        } else {
            return;
        };
        let n = seqs.len();
        let reads_back = self.transport.reads_back();
        // Written earlier without an answer: asked, not sent again.
        let earlier = Earlier {
            foreign: if from_spool {
                usize::try_from(self.state.foreign).unwrap_or(usize::MAX)
            } else {
                0
            },
            remade_upto: self.inherited.then_some(self.remade_upto),
        };
        let known = match earlier.applied(
            self.transport.as_mut(),
            &mut self.state.sent,
            &seqs,
            &payloads,
        ) {
            Ok(k) => k,
            Err(e) => {
                self.outcome(Some(format!("{e} (reading back what was applied)")), false);
                if !from_spool {
                    self.live_to_spool();
                }
                return;
            }
        };
        // Found from a killed or stopped attempt's writes: `resumed`.
        let known_before = if self.inherited { known as u64 } else { 0 };
        let rest = payloads.get(known..).unwrap_or(&[]);
        let rest_seqs = seqs.get(known..).unwrap_or(&[]);
        let d = if rest.is_empty() {
            Delivery::default()
        } else {
            if reads_back {
                self.inherited = false;
                self.state.sent = rest_seqs
                    .iter()
                    .zip(rest)
                    .map(|(&q, p)| (q, digest(p)))
                    .collect();
                if let Err(e) = self.spool.set_note(self.state.note()) {
                    self.note_error(e.to_string());
                    eprintln!("phonehome: sink {}: {e}", self.name);
                }
            }
            self.transport.send(rest)
        };
        let now = d.settled.min(rest.len());
        let settled = known + now;
        if reads_back && !rest.is_empty() {
            let unanswered = if d.maybe_applied {
                self.state.sent.split_off(now.min(self.state.sent.len()))
            } else {
                Vec::new()
            };
            self.state.sent = unanswered;
        }
        for &q in seqs.iter().take(settled) {
            self.state.ack(q);
        }
        self.state.pos = self.transport.position();
        drop(payloads);
        let noted = if from_spool {
            self.spool.consume_noting(settled, self.state.note())
        } else {
            self.live.drain(..settled);
            if settled > 0 || reads_back {
                self.spool.set_note(self.state.note())
            } else {
                Ok(())
            }
        };
        if let Err(e) = noted {
            self.note_error(e.to_string());
            eprintln!("phonehome: sink {}: {e}", self.name);
        }
        self.counters
            .resumed
            .fetch_add(known_before, Ordering::Relaxed);
        let ok = (settled as u64)
            .saturating_sub(known_before)
            .saturating_sub(d.rejected);
        self.counters.sent.fetch_add(ok, Ordering::Relaxed);
        if from_spool {
            self.counters.replayed.fetch_add(ok, Ordering::Relaxed);
        }
        self.counters
            .dropped
            .fetch_add(d.rejected, Ordering::Relaxed);
        self.update_backlog();
        self.outcome(d.error, settled == n);
        if settled < n && !from_spool {
            self.live_to_spool();
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

/// What the records of a batch are, to tell which of them an entry of
/// `sent` (written earlier, answer lost) stands for.
struct Earlier {
    /// The batch's first records that an earlier run spooled: the very bytes
    /// it wrote.
    foreign: usize,
    /// Set while `sent` is an earlier attempt's (a restart): its records up
    /// to this number are made again by this run under the same numbers,
    /// maybe with another text (a stats event's sink counters).
    remade_upto: Option<u64>,
}

impl Earlier {
    /// How many of the first records of a batch (`seqs`, `payloads`) the
    /// destination already has from a write whose answers never came. An
    /// entry stands for the record at the same place when the numbers agree
    /// and it is the same bytes (written by this run, or spooled by an
    /// earlier one), or, in a restart, this run's remake of the earlier
    /// attempt's record of that number (never another run's record alike).
    /// `sent` is emptied once settled, or trimmed to what the next batch
    /// must answer.
    fn applied(
        &self,
        transport: &mut dyn Transport,
        sent: &mut Vec<(u64, u64)>,
        seqs: &[u64],
        payloads: &[&[u8]],
    ) -> Result<usize, String> {
        if sent.is_empty() {
            return Ok(0);
        }
        let aligned = sent
            .iter()
            .zip(seqs.iter().zip(payloads))
            .enumerate()
            .take_while(|(i, ((q, d), (s, p)))| {
                q == *s
                    && match self.remade_upto {
                        // This run's own record: the earlier attempt's of
                        // that number stands for it, whatever its text.
                        Some(upto) if *i >= self.foreign => q <= &upto,
                        _ => *d == digest(p),
                    }
            })
            .count();
        if aligned == 0 {
            // Not what is sent next (a stopped attempt's own records, or
            // another run's): this run never sends them again.
            sent.clear();
            return Ok(0);
        }
        let digests: Vec<u64> = sent.iter().map(|e| e.1).collect();
        let applied = transport.applied(&digests).map_err(|e| e.to_string())?;
        if applied > aligned && aligned == seqs.len() {
            // The next batch goes on where this one ends.
            sent.drain(..aligned);
        } else {
            sent.clear();
        }
        Ok(applied.min(aligned))
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
            listed: HashMap::new(),
            after_stop: Vec::new(),
            remade_upto: 0,
            inherited: false,
        };
        (w, tx)
    }

    fn rec(seq: u64) -> Msg {
        Msg::Record(Arc::new(Record {
            seq,
            event_type: "alert".into(),
            line: format!("{{\"n\":{seq}}}").into_bytes(),
            finding: None,
            stop_at: None,
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
            stop: None,
            sent: Vec::new(),
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
            stop: None,
            sent: Vec::new(),
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
            stop: None,
            sent: Vec::new(),
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

    fn rec_after_stop(seq: u64, stop_at: u64) -> Msg {
        Msg::Record(Arc::new(Record {
            seq,
            event_type: "flow".into(),
            line: format!("{{\"n\":{seq}}}").into_bytes(),
            finding: None,
            stop_at: Some(stop_at),
        }))
    }

    #[test]
    fn records_after_a_stop_never_move_the_position_past_it() {
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
        w.state.run = Some(7);
        for i in 1..=3 {
            w.handle(rec(i));
        }
        // The stop point is on disk before the first record after it goes.
        w.handle(rec_after_stop(4, 3));
        let noted = DeliveryState::parse(Spool::open(dir.path(), 1 << 20).unwrap().note());
        assert_eq!(noted.stop, Some(3));
        w.handle(rec_after_stop(5, 3));
        w.flush(Instant::now() + Duration::from_secs(5));
        assert_eq!(got.lock().unwrap().len(), 5);
        let st = DeliveryState::parse(Spool::open(dir.path(), 1 << 20).unwrap().note());
        assert_eq!((st.acked, st.stop), (3, Some(3)));
    }

    #[test]
    fn a_restart_owes_up_to_the_acknowledged_or_spooled_record_never_past_a_stop() {
        let st = |acked, stop| DeliveryState {
            run: Some(1),
            acked,
            pos: None,
            foreign: 0,
            stop,
            sent: Vec::new(),
        };
        assert_eq!(st(4, None).owed_upto(0, None), 4, "nothing spooled");
        assert_eq!(st(4, None).owed_upto(3, Some(9)), 9, "spooled up to 9");
        assert_eq!(
            st(4, Some(6)).owed_upto(3, Some(9)),
            6,
            "7..9 were made after the stop: the restart makes its own 7..9"
        );
        assert_eq!(st(4, Some(6)).owed_upto(2, Some(5)), 5);
        assert_eq!(st(4, Some(6)).owed_upto(0, Some(9)), 4, "only foreign ones");
    }

    #[test]
    fn stop_round_trips_through_the_note() {
        let st = DeliveryState {
            run: Some(1),
            acked: 2,
            pos: None,
            foreign: 0,
            stop: Some(2),
            sent: Vec::new(),
        };
        assert_eq!(st.note(), "run=0000000000000001 acked=2 foreign=0 stop=2");
        assert_eq!(DeliveryState::parse(&st.note()), st);
    }

    #[test]
    fn a_restart_skips_what_the_stopped_run_made_alike_after_its_stop() {
        let dir = tempfile::tempdir().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let fake = |got: &Arc<Mutex<Vec<Vec<u8>>>>| Fake {
            up: Arc::new(Mutex::new(true)),
            got: Arc::clone(got),
            partial: None,
        };
        let (mut w, _tx) = worker(dir.path(), fake(&got));
        w.state.run = Some(9);
        w.handle(rec(1));
        for i in 2..=4 {
            w.handle(rec_after_stop(i, 1));
        }
        w.flush(Instant::now() + Duration::from_secs(5));
        w.save_stop_list();
        let listed = read_stop_list(dir.path(), 9);
        assert_eq!(listed.len(), 3);
        assert!(
            read_stop_list(dir.path(), 8).is_empty(),
            "another run's list"
        );
        // The restart makes 1..=3 alike and 4 otherwise: only 4 and 5 go.
        let got2 = Arc::new(Mutex::new(Vec::new()));
        let (mut w, _tx) = worker(dir.path(), fake(&got2));
        w.state.run = Some(9);
        w.skip_upto = 1;
        w.listed = listed;
        for i in 1..=3 {
            w.handle(rec(i));
        }
        w.handle(Msg::Record(Arc::new(Record {
            seq: 4,
            event_type: "flow".into(),
            line: b"{\"other\":4}".to_vec(),
            finding: None,
            stop_at: None,
        })));
        w.handle(rec(5));
        w.flush(Instant::now() + Duration::from_secs(5));
        assert_eq!(
            *got2.lock().unwrap(),
            vec![b"{\"other\":4}".to_vec(), b"{\"n\":5}".to_vec()]
        );
        assert_eq!(w.counters.snapshot().resumed, 3);
        // A run that was not stopped removes the list.
        w.save_stop_list();
        assert!(!dir.path().join(STOP_LIST).exists());
    }

    #[test]
    fn unanswered_records_round_trip_through_the_note() {
        let st = DeliveryState {
            run: Some(1),
            acked: 2,
            pos: None,
            foreign: 0,
            stop: None,
            sent: vec![(3, 0xab), (5, u64::MAX)],
        };
        assert_eq!(
            st.note(),
            "run=0000000000000001 acked=2 foreign=0 sent=3.00000000000000ab,5.ffffffffffffffff"
        );
        assert_eq!(DeliveryState::parse(&st.note()), st);
        // A damaged entry ends the list there, it never invents one.
        let cut = DeliveryState::parse("run=1 acked=2 sent=3.ab,x.1,5.ff");
        assert_eq!(cut.sent, vec![(3, 0xab)]);
    }

    /// A destination like Redis: it keeps what it applied and can be asked
    /// afterwards; `lose_answers` makes the next send apply everything and
    /// lose every answer (a connection cut after the commands went through).
    struct ReadBack {
        held: Arc<Mutex<Vec<Vec<u8>>>>,
        lose_answers: bool,
        asked: Arc<Mutex<u32>>,
        /// The first this many questions fail (the destination is down).
        down_for: u32,
    }

    impl Transport for ReadBack {
        fn send(&mut self, batch: &[&[u8]]) -> Delivery {
            self.held
                .lock()
                .unwrap()
                .extend(batch.iter().map(|p| p.to_vec()));
            if std::mem::take(&mut self.lose_answers) {
                return Delivery {
                    maybe_applied: true,
                    ..Delivery::failed(0, "connection reset")
                };
            }
            Delivery::all(batch.len())
        }
        fn reads_back(&self) -> bool {
            true
        }
        fn applied(&mut self, sent: &[u64]) -> std::io::Result<usize> {
            *self.asked.lock().unwrap() += 1;
            if self.down_for > 0 {
                self.down_for -= 1;
                return Err(std::io::Error::other("connection refused"));
            }
            let held: Vec<u64> = self
                .held
                .lock()
                .unwrap()
                .iter()
                .map(|v| digest(v))
                .collect();
            Ok(sent
                .iter()
                .rposition(|d| held.contains(d))
                .map_or(0, |j| j + 1))
        }
    }

    fn read_back(
        dir: &std::path::Path,
        held: &Arc<Mutex<Vec<Vec<u8>>>>,
    ) -> (Worker, Arc<Mutex<u32>>) {
        let asked = Arc::new(Mutex::new(0));
        let (mut w, _tx) = worker(
            dir,
            Fake {
                up: Arc::new(Mutex::new(true)),
                got: Arc::new(Mutex::new(Vec::new())),
                partial: None,
            },
        );
        w.transport = Box::new(ReadBack {
            held: Arc::clone(held),
            lose_answers: false,
            asked: Arc::clone(&asked),
            down_for: 0,
        });
        (w, asked)
    }

    fn rec_text(seq: u64, text: &str) -> Msg {
        Msg::Record(Arc::new(Record {
            seq,
            event_type: "stats".into(),
            line: text.as_bytes().to_vec(),
            finding: None,
            stop_at: None,
        }))
    }

    fn texts(held: &Arc<Mutex<Vec<Vec<u8>>>>) -> Vec<String> {
        held.lock()
            .unwrap()
            .iter()
            .map(|v| String::from_utf8(v.clone()).unwrap())
            .collect()
    }

    #[test]
    fn answers_lost_after_the_destination_applied_a_batch_are_looked_up_not_resent() {
        let dir = tempfile::tempdir().unwrap();
        let held = Arc::new(Mutex::new(Vec::new()));
        let (mut w, asked) = read_back(dir.path(), &held);
        w.state.run = Some(7);
        for i in 1..=3 {
            w.handle(rec(i));
        }
        w.pump();
        // The next batch is applied, its answers lost: noted, then spooled.
        w.transport = Box::new(ReadBack {
            held: Arc::clone(&held),
            lose_answers: true,
            asked: Arc::clone(&asked),
            down_for: 0,
        });
        for i in 4..=6 {
            w.handle(rec(i));
        }
        w.pump();
        assert_eq!(w.spool.len(), 3);
        let noted = DeliveryState::parse(Spool::open(dir.path(), 1 << 20).unwrap().note());
        assert_eq!(
            noted.sent.iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![4, 5, 6]
        );
        w.handle(rec(7));
        w.flush(Instant::now() + Duration::from_secs(5));
        let want: Vec<String> = (1..=7).map(|i| format!("{{\"n\":{i}}}")).collect();
        assert_eq!(texts(&held), want);
        assert_eq!(*asked.lock().unwrap(), 1);
        let st = DeliveryState::parse(Spool::open(dir.path(), 1 << 20).unwrap().note());
        assert_eq!((st.acked, st.sent.len()), (7, 0));
        let c = w.counters.snapshot();
        assert_eq!((c.sent, c.resumed), (7, 0));
    }

    #[test]
    fn a_restart_finds_what_the_killed_run_wrote_by_its_digest_though_its_own_text_differs() {
        let dir = tempfile::tempdir().unwrap();
        // The killed run wrote 4 and 5 (its stats event) and Redis applied
        // them; the kill came before the answers were noted.
        let held = Arc::new(Mutex::new(vec![
            b"{\"n\":4}".to_vec(),
            b"stats sent=5".to_vec(),
        ]));
        let (mut w, asked) = read_back(dir.path(), &held);
        w.state = DeliveryState {
            run: Some(7),
            acked: 3,
            sent: vec![(4, digest(b"{\"n\":4}")), (5, digest(b"stats sent=5"))],
            ..DeliveryState::default()
        };
        w.skip_upto = 3;
        w.remade_upto = u64::MAX;
        w.inherited = true;
        for i in 1..=4 {
            w.handle(rec(i));
        }
        // The restart's stats event carries its own counters.
        w.handle(rec_text(5, "stats resumed=4"));
        w.flush(Instant::now() + Duration::from_secs(5));
        assert_eq!(texts(&held), vec!["{\"n\":4}", "stats sent=5"]);
        assert_eq!(*asked.lock().unwrap(), 1);
        assert_eq!(w.counters.snapshot().resumed, 5);
        let st = DeliveryState::parse(Spool::open(dir.path(), 1 << 20).unwrap().note());
        assert_eq!((st.acked, st.sent.len()), (5, 0));

        // Not applied (killed before Redis got them): the restart's own go.
        let dir = tempfile::tempdir().unwrap();
        let held = Arc::new(Mutex::new(Vec::new()));
        let (mut w, _) = read_back(dir.path(), &held);
        w.state = DeliveryState {
            run: Some(7),
            acked: 3,
            sent: vec![(4, digest(b"{\"n\":4}")), (5, digest(b"stats sent=5"))],
            ..DeliveryState::default()
        };
        w.skip_upto = 3;
        w.remade_upto = u64::MAX;
        w.handle(rec(4));
        w.handle(rec_text(5, "stats resumed=3"));
        w.flush(Instant::now() + Duration::from_secs(5));
        assert_eq!(texts(&held), vec!["{\"n\":4}", "stats resumed=3"]);
    }

    #[test]
    fn a_stopped_attempts_unanswered_records_after_its_stop_are_never_the_restarts() {
        let dir = tempfile::tempdir().unwrap();
        // Killed while draining after a stop at 3: its own record 4 (a flow
        // ended `shutdown`) was applied, unanswered.
        let held = Arc::new(Mutex::new(vec![b"{\"shutdown\":4}".to_vec()]));
        let (mut w, asked) = read_back(dir.path(), &held);
        w.state = DeliveryState {
            run: Some(7),
            acked: 3,
            sent: vec![(4, digest(b"{\"shutdown\":4}"))],
            ..DeliveryState::default()
        };
        w.skip_upto = 3;
        w.remade_upto = 3;
        for i in 1..=4 {
            w.handle(rec(i));
        }
        w.flush(Instant::now() + Duration::from_secs(5));
        assert_eq!(texts(&held), vec!["{\"shutdown\":4}", "{\"n\":4}"]);
        assert_eq!(*asked.lock().unwrap(), 0, "nothing to ask");
    }

    #[test]
    fn a_restart_that_cannot_ask_at_first_spools_its_own_and_still_finds_the_killed_runs() {
        let dir = tempfile::tempdir().unwrap();
        let held = Arc::new(Mutex::new(vec![b"stats sent=2".to_vec()]));
        let (mut w, asked) = read_back(dir.path(), &held);
        w.transport = Box::new(ReadBack {
            held: Arc::clone(&held),
            lose_answers: false,
            asked: Arc::clone(&asked),
            down_for: 1,
        });
        w.state = DeliveryState {
            run: Some(7),
            acked: 1,
            sent: vec![(2, digest(b"stats sent=2"))],
            ..DeliveryState::default()
        };
        w.skip_upto = 1;
        w.remade_upto = u64::MAX;
        w.inherited = true;
        w.handle(rec(1));
        w.handle(rec_text(2, "stats resumed=1"));
        w.pump();
        assert_eq!(w.spool.len(), 1, "the restart's own stats event, spooled");
        w.flush(Instant::now() + Duration::from_secs(5));
        assert_eq!(texts(&held), vec!["stats sent=2"]);
        assert_eq!(*asked.lock().unwrap(), 2);
        assert!(w.spool.is_empty());
    }

    #[test]
    fn another_runs_unanswered_record_never_stands_for_this_runs_alike_one() {
        // Another identity (the same capture, touched) was killed with its
        // record 1 applied and unanswered; this run makes the same line.
        let dir = tempfile::tempdir().unwrap();
        let held = Arc::new(Mutex::new(vec![b"{\"n\":1}".to_vec()]));
        let (mut w, _) = read_back(dir.path(), &held);
        w.state = DeliveryState {
            run: Some(8),
            sent: vec![(1, digest(b"{\"n\":1}"))],
            ..DeliveryState::default()
        };
        w.remade_upto = 0;
        w.inherited = true;
        w.handle(rec(1));
        w.flush(Instant::now() + Duration::from_secs(5));
        assert_eq!(texts(&held), vec!["{\"n\":1}", "{\"n\":1}"]);
    }
}
