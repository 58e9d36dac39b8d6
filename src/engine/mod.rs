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
pub mod output;
mod reader;
mod worker;

use crate::base::stop::Stop;
use crate::base::Progress;
use crate::capture::live::LiveSource;
use crate::capture::{CaptureError, InputFile};
use crate::dissect::Event;
use crate::flow::FlowConfig;
use crate::output::RunStats;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Settings of one replay.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    pub inputs: Vec<InputFile>,
    /// Worker threads (at least 1).
    pub workers: usize,
    pub flow: FlowConfig,
    /// Bytes read per block.
    pub block_size: usize,
    /// Blocks in flight to each worker before the reader waits.
    pub queue_depth: usize,
    /// Run the dissectors (off: flows only, for measuring their cost).
    pub dissect: bool,
    /// A stop request (SIGTERM/SIGINT): reading ends, then every flow still
    /// open is written with reason `shutdown`, as at the end of the input.
    pub stop: Option<Stop>,
    /// Counters the workers publish while they run (live health).
    pub counters: Option<Arc<EngineCounters>>,
}

/// What each worker publishes after every job, for a running sensor's health.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    pub flows_active: AtomicU64,
    pub flows_created: AtomicU64,
    pub flows_evicted: AtomicU64,
    pub flows_timed_out: AtomicU64,
    /// Packets dropped because this worker's queue was full (a lossy live
    /// feed; the file reader waits instead and drops nothing).
    pub queue_drops: AtomicU64,
}

/// Per-worker counters, indexed by worker.
#[derive(Debug, Default)]
pub struct EngineCounters {
    pub workers: Vec<WorkerCounters>,
}

impl EngineCounters {
    pub fn new(workers: usize) -> Self {
        EngineCounters {
            workers: (0..workers.max(1))
                .map(|_| WorkerCounters::default())
                .collect(),
        }
    }
}

impl ReplayConfig {
    pub fn new(inputs: Vec<InputFile>) -> Self {
        ReplayConfig {
            inputs,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            flow: FlowConfig::default(),
            block_size: 1 << 20,
            queue_depth: 4,
            dissect: true,
            stop: None,
            counters: None,
        }
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
    /// Reading ended on [`ReplayConfig::stop`], not at the end of the input.
    pub stopped: bool,
}

/// Replays `cfg.inputs`, handing every event to `sink` in a deterministic order.
pub fn replay(
    cfg: &ReplayConfig,
    progress: Arc<Progress>,
    sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
) -> Result<Outcome, EngineError> {
    let reader_cfg = cfg.clone();
    run(
        cfg,
        progress,
        move |txs, p| reader::run(&reader_cfg, txs, &p),
        sink,
        &mut || Ok(()),
    )
}

/// Runs the pipeline over a live capture until it stops (a stop request).
/// `round` is called after every round of events, at least once per idle
/// tick of the source, for periodic work (stats events, reloads).
pub fn run_live(
    cfg: &ReplayConfig,
    source: LiveSource,
    progress: Arc<Progress>,
    sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
    round: &mut dyn FnMut() -> anyhow::Result<()>,
) -> Result<Outcome, EngineError> {
    let reader_cfg = cfg.clone();
    run(
        cfg,
        progress,
        move |txs, p| reader::run_live(&reader_cfg, source, txs, &p),
        sink,
        round,
    )
}

fn run<R>(
    cfg: &ReplayConfig,
    progress: Arc<Progress>,
    read: R,
    sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
    round_done: &mut dyn FnMut() -> anyhow::Result<()>,
) -> Result<Outcome, EngineError>
where
    R: FnOnce(
            Vec<crossbeam_channel::Sender<Arc<reader::Job>>>,
            Arc<Progress>,
        ) -> reader::ReadResult
        + Send
        + 'static,
{
    let workers = cfg.workers.max(1);
    let mut job_txs = Vec::with_capacity(workers);
    let mut out_rxs = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let (job_tx, job_rx) = crossbeam_channel::bounded::<Arc<reader::Job>>(cfg.queue_depth);
        let (out_tx, out_rx) = crossbeam_channel::bounded::<worker::Output>(cfg.queue_depth + 2);
        let flow_cfg = cfg.flow.clone();
        let dissect = cfg.dissect;
        let counters = cfg.counters.clone();
        let h = std::thread::Builder::new()
            .name(format!("phonehome-worker-{w}"))
            .spawn(move || worker::run(w, flow_cfg, dissect, job_rx, out_tx, counters))
            .map_err(EngineError::Thread)?;
        job_txs.push(job_tx);
        out_rxs.push(out_rx);
        handles.push(h);
    }
    let reader_progress = Arc::clone(&progress);
    let reader = std::thread::Builder::new()
        .name("phonehome-reader".into())
        .spawn(move || read(job_txs, reader_progress))
        .map_err(EngineError::Thread)?;

    let mut stats = RunStats::default();
    let mut round: Vec<Event> = Vec::new();
    let mut finished = 0usize;
    let mut sink_error: Option<anyhow::Error> = None;
    'rounds: while finished < workers {
        round.clear();
        for rx in &out_rxs {
            match rx.recv() {
                Ok(worker::Output::Events(ev)) => round.extend(ev),
                Ok(worker::Output::Done {
                    events,
                    decode,
                    flows,
                }) => {
                    round.extend(events);
                    stats.decode.merge(&decode);
                    stats.flows.merge(&flows);
                    finished += 1;
                }
                Err(_) => break 'rounds,
            }
        }
        round.sort_unstable_by_key(|e| e.key);
        for ev in round.drain(..) {
            stats.events += 1;
            if let Err(e) = sink(ev) {
                sink_error = Some(e);
                break 'rounds;
            }
        }
        if let Err(e) = round_done() {
            sink_error = Some(e);
            break 'rounds;
        }
    }
    // On a sink error, dropping the receivers stops the workers, then the reader.
    drop(out_rxs);
    let mut crashed = None;
    for h in handles {
        if h.join().is_err() {
            crashed = Some("worker");
        }
    }
    let read = match reader.join() {
        Ok(r) => Some(r),
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
    Ok(Outcome {
        stats,
        file_errors: read.file_errors,
        stopped: read.stopped,
    })
}
