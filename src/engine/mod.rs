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

use crate::base::Progress;
use crate::capture::{CaptureError, FileSource, InputFile, PacketSource};
use crate::decode::{PacketStream, StreamConfig};
use crate::dissect::Event;
use crate::flow::FlowConfig;
use crate::output::RunStats;
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
    /// Set from another thread (a signal handler) to stop reading: flows
    /// still open are written with reason `shutdown`, then the findings,
    /// as at the end of the input ([`Outcome::stopped`]).
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
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
    /// Reading stopped on [`ReplayConfig::stop`] before the input ended.
    pub stopped: bool,
}

/// Replays `cfg.inputs`, handing every event to `sink` in a deterministic order.
pub fn replay(
    cfg: &ReplayConfig,
    progress: Arc<Progress>,
    sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
) -> Result<Outcome, EngineError> {
    run(cfg, FileSource::new(cfg.inputs.clone()), progress, sink)
}

/// Runs the pipeline over any packet source (capture files, standard
/// input, live interfaces); `cfg.inputs` only names the inputs.
pub fn run<S: PacketSource + 'static>(
    cfg: &ReplayConfig,
    source: S,
    progress: Arc<Progress>,
    sink: &mut dyn FnMut(Event) -> anyhow::Result<()>,
) -> Result<Outcome, EngineError> {
    let workers = cfg.workers.max(1);
    let mut job_txs = Vec::with_capacity(workers);
    let mut out_rxs = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        let (job_tx, job_rx) = crossbeam_channel::bounded(cfg.queue_depth);
        let (out_tx, out_rx) = crossbeam_channel::bounded::<worker::Output>(cfg.queue_depth + 2);
        let flow_cfg = cfg.flow.clone();
        let dissect = cfg.dissect;
        let worker_progress = Arc::clone(&progress);
        let h = std::thread::Builder::new()
            .name(format!("phonehome-worker-{w}"))
            .spawn(move || {
                worker::run(
                    w,
                    workers,
                    flow_cfg,
                    dissect,
                    job_rx,
                    out_tx,
                    &worker_progress,
                )
            })
            .map_err(EngineError::Thread)?;
        job_txs.push(job_tx);
        out_rxs.push(out_rx);
        handles.push(h);
    }
    let stream = PacketStream::new(
        source,
        StreamConfig {
            block_size: cfg.block_size,
            pool: workers * cfg.queue_depth + 4,
            stop: cfg.stop.clone(),
        },
    );
    let reader_progress = Arc::clone(&progress);
    let reader = std::thread::Builder::new()
        .name("phonehome-reader".into())
        .spawn(move || reader::run(stream, job_txs, &reader_progress))
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
                    stream,
                }) => {
                    round.extend(events);
                    stats.decode.merge(&decode);
                    stats.flows.merge(&flows);
                    stats.stream.merge(&stream);
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
        file_errors: read.errors,
        stopped: read.stopped,
    })
}
