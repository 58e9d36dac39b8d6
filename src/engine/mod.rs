//! Runs the pipeline over threads.
//!
//! ```text
//!  reader ──Arc<Job>──▶ worker 0 ─┐
//!  (capture, shard,  ──▶ worker 1 ─┼─ events per job ─▶ merge by EventKey ─▶ sink
//!   defrag, clock)   ──▶ worker N ─┘                     (resolve, judge, report)
//! ```
//!
//! * The reader reads blocks of packets, counts them, keeps the capture clock
//!   (the largest packet time so far), reassembles IP fragments and assigns each
//!   packet to a worker by a symmetric hash of its innermost address pair. Every
//!   worker receives every block (shared, not copied) with the list of packets
//!   that are its own, and the clock ticks of that block.
//! * Each worker owns its flow table: decode, flow lookup, counters and
//!   dissection run with no lock. Clock ticks reach all workers at the same
//!   global packet index, so timeouts fire at the same place whatever the
//!   number of workers.
//! * Workers answer every block with its events, each keyed by the global
//!   index of the packet that caused it; the merge puts each round in key
//!   order, so the output is byte-identical for any `--workers`.

#[cfg(test)]
mod eve_writer_tests;
mod handoff;
#[cfg(test)]
mod order_tests;
pub mod output;
mod reader;
mod worker;

use crate::base::budget::InFlight;
use crate::base::cpu::CpuTime;
use crate::base::Progress;
use crate::capture::{CaptureError, FileSource, InputFile, PacketSource};
use crate::decode::{PacketStream, StreamConfig};
use crate::dissect::Event;
use crate::flow::{EventKey, FlowConfig};
use crate::output::eve::TailMark;
use crate::output::RunStats;
use crate::resolve::geoip::GeoAnswer;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Settings of one replay.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    pub inputs: Vec<InputFile>,
    /// The name of each input as the EVE output writes it (`pcap_filename`).
    pub file_names: Vec<String>,
    /// Worker threads (at least 1).
    pub workers: usize,
    pub flow: FlowConfig,
    /// Bytes read per block.
    pub block_size: usize,
    /// Blocks in flight to each worker before the reader waits.
    pub queue_depth: usize,
    /// Run the dissectors (off: flows only, for measuring their cost).
    pub dissect: bool,
    /// Set from another thread (a signal handler) to stop reading: flows
    /// still open are written with reason `shutdown`, then the findings,
    /// as at the end of the input ([`Outcome::stopped`]).
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Counters the workers publish while they run (a live sensor's health).
    pub counters: Option<Arc<EngineCounters>>,
    /// Every batch also goes here, before the workers get it (a live
    /// sensor's evidence keeper, drained on the output thread: by the time
    /// an event reaches the sink, its packet's batch is in this channel).
    pub tap: Option<crossbeam_channel::Sender<Arc<crate::decode::Batch>>>,
    /// Bytes of events in flight between the workers and the merge before
    /// a worker waits (see [`InFlight`]); a burst of events (a flood's
    /// evictions, the flows still open at the end) is handed on in parts
    /// of at most [`ReplayConfig::part_events`] events, each under this
    /// credit. None: [`IN_FLIGHT_PER_WORKER`] per worker.
    pub in_flight: Option<u64>,
    /// Events per part of a round handed from a worker to the merge.
    pub part_events: usize,
    /// GeoIP for the workers to look the events' destinations up in
    /// ([`crate::resolve::Resolver::geo_share`]); none: the run does not
    /// resolve, and the lines carry no `dest`.
    pub geo: Option<Arc<crate::resolve::GeoShare>>,
    /// The catalog for the workers to match their events' own names in
    /// ([`crate::resolve::Resolver::catalog_share`]), with `geo`; none: the
    /// ordered stage matches them.
    pub catalog: Option<Arc<crate::resolve::CatalogShare>>,
}

/// Default [`ReplayConfig::in_flight`] per worker.
pub const IN_FLIGHT_PER_WORKER: u64 = 8 << 20;

/// What each worker publishes after every batch, for a running sensor's health.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    pub flows_active: AtomicU64,
    pub flows_created: AtomicU64,
    pub flows_evicted: AtomicU64,
    pub flows_timed_out: AtomicU64,
    /// Times the reader found this worker's queue full and waited for it,
    /// and for how long in all (ns). Nothing is dropped there (see
    /// `reader::run`): a lasting wait shows up as kernel ring drops.
    pub queue_full: AtomicU64,
    pub queue_wait_ns: AtomicU64,
    /// The worker's decoder counters as of its last batch (a copy per
    /// batch, for the sensor's periodic stats; the lock is uncontended).
    pub decode: std::sync::Mutex<crate::decode::DecodeStats>,
}

/// Per-worker counters, indexed by worker.
#[derive(Debug, Default)]
pub struct EngineCounters {
    pub workers: Vec<WorkerCounters>,
    /// The reader's own decoder counters (IP fragments), as of its last batch.
    pub reader_decode: std::sync::Mutex<crate::decode::DecodeStats>,
}

impl EngineCounters {
    pub fn new(workers: usize) -> Self {
        EngineCounters {
            workers: (0..workers.max(1))
                .map(|_| WorkerCounters::default())
                .collect(),
            reader_decode: Default::default(),
        }
    }
}

impl ReplayConfig {
    pub fn new(inputs: Vec<InputFile>) -> Self {
        ReplayConfig {
            file_names: inputs
                .iter()
                .map(|f| f.path.display().to_string())
                .collect(),
            inputs,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            flow: FlowConfig::default(),
            block_size: 1 << 20,
            queue_depth: 4,
            dissect: true,
            stop: None,
            counters: None,
            tap: None,
            in_flight: None,
            part_events: 2048,
            geo: None,
            catalog: None,
        }
    }
}

/// Memory the pipeline itself may hold for a replay with `cfg`, beyond the
/// tables the global budget counts: the reader's blocks, the events in
/// flight to the merge ([`ReplayConfig::in_flight`]), one job's events per
/// worker while it makes them (bounded by the packets of a block), and a
/// margin for stacks, the writers' buffers and allocator slack. The CLI sets
/// this aside from `--memory-limit`.
pub fn pipeline_bytes(cfg: &ReplayConfig) -> u64 {
    let workers = cfg.workers.max(1) as u64;
    let block = cfg.block_size as u64;
    let blocks = (workers * cfg.queue_depth as u64 + 4) * block;
    let in_flight = cfg.in_flight.unwrap_or(IN_FLIGHT_PER_WORKER * workers);
    blocks + in_flight + workers * 8 * block + (16 << 20)
}

/// When the reader, asleep on a worker's full queue, is woken again.
///
/// One worker: once the queue has drained by half, so that the reader
/// refills it in one go (fewer wake-ups than one per batch). Several
/// workers: as soon as one slot is free. While the reader sleeps on the
/// slowest worker's queue it reads nothing for the others, which run dry
/// and leave a CPU idle; `perf sched` on 2 workers (bench/idle.sh) showed
/// "only one worker runnable" as the main idle state, and waking at the
/// first free slot cut it in every interleaved pair (steady-state shortfall
/// 6.5/8.3/6.8 % → 1.5/5.1/4.2 % of 2 CPUs), for about one more wake-up per
/// batch on the reader.
fn reader_resume_at(cfg: &ReplayConfig) -> usize {
    if cfg.workers > 1 {
        cfg.queue_depth.saturating_sub(1)
    } else {
        cfg.queue_depth / 2
    }
}

/// Errors that stop a replay.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("a pipeline thread stopped unexpectedly ({0})")]
    Crashed(&'static str),
    #[error(transparent)]
    Sink(#[from] anyhow::Error),
}

/// The result of a replay: counters, and the input files that were damaged
/// (the packets before the damage were processed).
#[derive(Debug, Default)]
pub struct Outcome {
    pub stats: RunStats,
    pub file_errors: Vec<CaptureError>,
    /// Reading stopped on [`ReplayConfig::stop`] before the input ended.
    pub stopped: bool,
    /// CPU time of the reader and of each worker, each taken as the thread
    /// ended (`reader`, `worker-0`, ...), for the bench's per-thread split.
    pub threads: Vec<(String, CpuTime)>,
}

/// An event's EVE line as a worker wrote it: whole but for the `match`
/// member, which the ordered stage puts in at `mark`
/// ([`crate::output::eve::event_tail_open`]), and the GeoIP answer for its
/// destination.
#[derive(Clone, Copy, Debug)]
pub struct Prepared<'a> {
    /// The line with its newline (empty: the event is not written).
    pub line: &'a [u8],
    pub mark: TailMark,
    /// None when the worker had no GeoIP ([`ReplayConfig::geo`]).
    pub geo: Option<&'a Arc<GeoAnswer>>,
    /// What the event's own evidence matched in the catalog (none: the
    /// worker had no catalog, [`ReplayConfig::catalog`]).
    pub hits: Option<&'a crate::resolve::Hits>,
}

impl<'a> Prepared<'a> {
    /// The line's head ([`crate::output::eve::event_head`]).
    pub fn head(&self) -> &'a [u8] {
        self.line.get(..self.mark.head as usize).unwrap_or(&[])
    }
}

/// Hands one event to the ordered stage, with its line as a worker made it.
pub type EventSink<'a> = dyn FnMut(&Event, &Prepared<'_>) -> anyhow::Result<()> + 'a;

/// Replays `cfg.inputs`, handing every event to `sink` in a deterministic order.
pub fn replay(
    cfg: &ReplayConfig,
    progress: Arc<Progress>,
    sink: &mut EventSink<'_>,
) -> Result<Outcome, EngineError> {
    run(cfg, FileSource::new(cfg.inputs.clone()), progress, sink)
}

/// Runs the pipeline over any packet source (capture files, standard
/// input, live interfaces); `cfg.inputs` only names the inputs.
pub fn run<S: PacketSource + 'static>(
    cfg: &ReplayConfig,
    source: S,
    progress: Arc<Progress>,
    sink: &mut EventSink<'_>,
) -> Result<Outcome, EngineError> {
    run_with(cfg, source, progress, sink, &mut |_| Ok(()))
}

/// [`run`], with `round` called on the output thread after every round of
/// events (a live source's idle pulls make rounds too, about once a second
/// on a quiet link): the place for periodic work such as stats events and
/// reloads, in order with the events. It is given the capture clock when
/// the round's batch moved it into a new second: every event before that
/// point has been handed to `sink` (timers on packet time fire there).
pub fn run_with<S: PacketSource + 'static>(
    cfg: &ReplayConfig,
    source: S,
    progress: Arc<Progress>,
    sink: &mut EventSink<'_>,
    round_done: &mut dyn FnMut(Option<u64>) -> anyhow::Result<()>,
) -> Result<Outcome, EngineError> {
    let workers = cfg.workers.max(1);
    let names: Arc<[String]> = cfg.file_names.clone().into();
    let credit = Arc::new(InFlight::new(
        cfg.in_flight
            .unwrap_or(IN_FLIGHT_PER_WORKER * workers as u64),
    ));
    let mut job_txs = Vec::with_capacity(workers);
    let mut out_rxs = Vec::with_capacity(workers);
    let mut pool_txs = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let (job_tx, job_rx) = handoff::bounded(cfg.queue_depth, reader_resume_at(cfg));
        let (out_tx, out_rx) =
            handoff::bounded::<worker::Output>(cfg.queue_depth + 2, cfg.queue_depth / 2 + 1);
        let (pool_tx, pool_rx) = crossbeam_channel::bounded::<worker::Round>(cfg.queue_depth + 2);
        let setup = worker::Setup {
            me: w,
            workers,
            flow: cfg.flow.clone(),
            dissect: cfg.dissect,
            names: Arc::clone(&names),
            jobs: job_rx,
            out: out_tx,
            pool: pool_rx,
            progress: Arc::clone(&progress),
            counters: cfg.counters.clone(),
            credit: Arc::clone(&credit),
            part_events: cfg.part_events.max(1),
            geo: cfg.geo.clone(),
            catalog: cfg.catalog.clone(),
        };
        let h = std::thread::Builder::new()
            .name(format!("phonehome-worker-{w}"))
            .spawn(move || {
                worker::run(setup);
                CpuTime::thread()
            })
            .map_err(EngineError::Thread)?;
        job_txs.push(job_tx);
        out_rxs.push(out_rx);
        pool_txs.push(pool_tx);
        handles.push(h);
    }
    let stream = PacketStream::new(
        source,
        StreamConfig {
            block_size: cfg.block_size,
            pool: workers * cfg.queue_depth + 4,
            stop: cfg.stop.clone(),
            // One worker takes every packet: no hash to place them by.
            shard: workers > 1,
        },
    );
    let reader_progress = Arc::clone(&progress);
    let tap = cfg.tap.clone();
    let reader_counters = cfg.counters.clone();
    let reader = std::thread::Builder::new()
        .name("phonehome-reader".into())
        .spawn(move || {
            let end = reader::run(stream, job_txs, tap, reader_counters, &reader_progress);
            (end, CpuTime::thread())
        })
        .map_err(EngineError::Thread)?;

    let mut stats = RunStats::default();
    let mut parts: Vec<Part> = Vec::with_capacity(workers);
    let mut finished = 0usize;
    let mut sink_error: Option<anyhow::Error> = None;
    let mut round_no = 0u64;
    'rounds: while finished < workers {
        credit.merging(round_no);
        round_no += 1;
        let mut clock = None;
        let mut events = 0u64;
        parts.clear();
        for rx in &out_rxs {
            let Some(p) = receive(rx, &mut stats, &mut finished, &mut clock) else {
                break 'rounds;
            };
            parts.push(p);
        }
        // Each worker's parts are in key order: merge the runs.
        let written = merge_parts(
            &mut parts,
            &mut |w| {
                let rx = out_rxs.get(w)?;
                receive(rx, &mut stats, &mut finished, &mut clock)
            },
            &mut |w, r| recycle(r, &credit, pool_txs.get(w)),
            &mut |ev, line| {
                events += 1;
                sink(ev, line)
            },
        );
        stats.events += events;
        match written {
            Ok(true) => {}
            Ok(false) => break 'rounds,
            Err(e) => {
                sink_error = Some(e);
                break 'rounds;
            }
        }
        for (w, p) in parts.drain(..).enumerate() {
            recycle(p.round, &credit, pool_txs.get(w));
        }
        if let Err(e) = round_done(clock) {
            sink_error = Some(e);
            break 'rounds;
        }
    }
    // Workers waiting for credit must not wait on a merge that stopped.
    credit.close();
    // On a sink error, dropping the receivers stops the workers, then the reader.
    drop(out_rxs);
    let mut crashed = None;
    let mut threads = Vec::with_capacity(workers + 1);
    let mut worker_times = Vec::with_capacity(workers);
    for (w, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(t) => worker_times.push((format!("worker-{w}"), t.unwrap_or_default())),
            Err(_) => crashed = Some("worker"),
        }
    }
    let read = match reader.join() {
        Ok((r, t)) => {
            threads.push(("reader".to_owned(), t.unwrap_or_default()));
            Some(r)
        }
        Err(_) => {
            crashed = Some("reader");
            None
        }
    };
    if let Some(e) = sink_error {
        return Err(EngineError::Sink(e));
    }
    if let Some(what) = crashed {
        return Err(EngineError::Crashed(what));
    }
    if finished < workers {
        return Err(EngineError::Crashed("worker"));
    }
    let Some(read) = read else {
        return Err(EngineError::Crashed("reader"));
    };
    stats.capture = read.capture;
    stats.decode.merge(&read.decode);
    threads.extend(worker_times);
    Ok(Outcome {
        stats,
        file_errors: read.errors,
        stopped: read.stopped,
        threads,
    })
}

/// One worker's part of a round in the merge: its events, the next to
/// write, and whether more parts of the round follow.
struct Part {
    round: worker::Round,
    next: usize,
    more: bool,
}

impl Part {
    fn exhausted(&self) -> bool {
        self.next >= self.round.events.len()
    }
}

/// The next part a worker sent (None: it is gone); counts a worker's last words.
fn receive(
    rx: &handoff::Receiver<worker::Output>,
    stats: &mut RunStats,
    finished: &mut usize,
    clock: &mut Option<u64>,
) -> Option<Part> {
    let (round, more) = match rx.recv().ok()? {
        worker::Output::Part(r) => (r, true),
        worker::Output::Events(r, c) => {
            *clock = (*clock).max(c);
            (r, false)
        }
        worker::Output::Done {
            events,
            decode,
            flows,
            stream,
        } => {
            stats.decode.merge(&decode);
            stats.flows.merge(&flows);
            stats.stream.merge(&stream);
            *finished += 1;
            (events, false)
        }
    };
    Some(Part {
        round,
        next: 0,
        more,
    })
}

/// A written part: its credit back, and the round back to its worker, which
/// clears it (freeing the records on the thread that made them).
fn recycle(
    r: worker::Round,
    credit: &InFlight,
    pool: Option<&crossbeam_channel::Sender<worker::Round>>,
) {
    credit.give(r.bytes);
    // Every round goes back, a burst's too: its worker frees what it holds
    // (callgrind, bench capture: dropping the final flush's rounds here cost
    // this thread 4.2 M instructions). Only a full pool or a finished worker
    // leaves the drop to this thread.
    if let Some(tx) = pool {
        let _ = tx.try_send(r);
    }
}

/// Hands the events of one round to `sink` in key order: a merge of the
/// workers' runs, each already sorted (keys are unique across workers) and
/// perhaps split into parts; `more(w)` receives worker `w`'s next part, and
/// `done(w, round)` takes a part that was written. Returns false when a
/// worker went away mid-round.
fn merge_parts(
    parts: &mut [Part],
    more: &mut dyn FnMut(usize) -> Option<Part>,
    done: &mut dyn FnMut(usize, worker::Round),
    sink: &mut dyn FnMut(&Event, &Prepared<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<bool> {
    loop {
        // A spent part with more to come is replaced first: the next one's
        // first key may be the smallest.
        for (w, p) in parts.iter_mut().enumerate() {
            while p.more && p.exhausted() {
                let Some(next) = more(w) else {
                    return Ok(false);
                };
                done(w, std::mem::replace(p, next).round);
            }
        }
        let mut best: Option<(usize, EventKey)> = None;
        for (w, p) in parts.iter().enumerate() {
            let Some(ev) = p.round.events.get(p.next) else {
                continue;
            };
            if best.is_none_or(|(_, k)| ev.key < k) {
                best = Some((w, ev.key));
            }
        }
        let Some((w, _)) = best else {
            return Ok(true);
        };
        let Some(p) = parts.get_mut(w) else {
            return Ok(true);
        };
        let (r, i) = (&p.round, p.next);
        let start = match i.checked_sub(1) {
            Some(prev) => r.ends.get(prev).copied().unwrap_or(0),
            None => 0,
        } as usize;
        let end = r.ends.get(i).copied().unwrap_or(0) as usize;
        let line = Prepared {
            line: r.lines.get(start..end).unwrap_or(&[]),
            mark: r.marks.get(i).copied().unwrap_or_default(),
            geo: r.geos.get(i).and_then(Option::as_ref),
            hits: r.hits.get(i).and_then(Option::as_ref),
        };
        if let Some(ev) = r.events.get(i) {
            sink(ev, &line)?;
        }
        p.next += 1;
    }
}
