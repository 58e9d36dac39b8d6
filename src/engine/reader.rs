//! The reader thread: capture files → jobs for the workers.

use super::ReplayConfig;
use crate::base::Progress;
use crate::capture::live::{Fill, LiveSource};
use crate::capture::{Block, CaptureError, CaptureFile, CaptureStats, PacketMeta};
use crate::decode::{self, DecodeStats, Defragmenter, Shard};
use crossbeam_channel::Sender;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const NS: u64 = 1_000_000_000;

/// Marks an assignment that refers to a reassembled packet in [`Job::extra_pkts`].
pub const RAW: u32 = u32::MAX;

/// One block of packets, shared by all workers.
#[derive(Debug)]
pub struct Job {
    pub block: Block,
    /// Input file index.
    pub file: u32,
    /// Global index of `block.packets[0]`.
    pub base: u64,
    /// Per worker: (position in the block, RAW or index into `extra_pkts`).
    pub assign: Vec<Vec<(u32, u32)>>,
    /// Clock ticks: (position, capture clock in ns) — handled before that position's packet.
    pub ticks: Vec<(u32, u64)>,
    /// Reassembled datagrams, rebuilt as whole frames (`offset` into `extra`).
    pub extra: Vec<u8>,
    pub extra_pkts: Vec<PacketMeta>,
    /// How many fragments each reassembled datagram was made of.
    pub extra_fragments: Vec<u32>,
}

impl Job {
    /// Bytes of an assigned packet.
    /// The packet's descriptor, bytes, and how many packets on the wire it
    /// stands for (a reassembled datagram: its fragments).
    pub fn bytes(&self, pos: u32, src: u32) -> Option<(&PacketMeta, &[u8], u32)> {
        if src == RAW {
            let m = self.block.packets.get(pos as usize)?;
            Some((m, self.block.bytes(m), 1))
        } else {
            let m = self.extra_pkts.get(src as usize)?;
            let start = m.offset as usize;
            let b = self.extra.get(start..start + m.caplen as usize)?;
            Some((m, b, *self.extra_fragments.get(src as usize)?))
        }
    }
}

/// What the reader hands back when it is done.
#[derive(Debug, Default)]
pub struct ReadResult {
    pub capture: CaptureStats,
    pub decode: DecodeStats,
    pub file_errors: Vec<CaptureError>,
    /// Reading ended on a stop request, not at the end of the input.
    pub stopped: bool,
}

fn assign(lists: &mut [Vec<(u32, u32)>], w: usize, entry: (u32, u32)) {
    if let Some(l) = lists.get_mut(w) {
        l.push(entry);
    }
}

fn worker_of(hash: u32, workers: usize) -> usize {
    // Multiply-shift spreads any hash evenly without a division.
    ((u64::from(hash) * workers as u64) >> 32) as usize
}

/// The reader's running state: clock, packet numbering, reassembly, counters.
struct State {
    workers: usize,
    res: ReadResult,
    defrag: Defragmenter,
    clock: u64,
    tick_sec: u64,
    next_idx: u64,
}

impl State {
    fn new(workers: usize) -> Self {
        State {
            workers,
            res: ReadResult::default(),
            defrag: Defragmenter::new(Default::default()),
            clock: 0,
            tick_sec: 0,
            next_idx: 0,
        }
    }

    /// Moves the capture clock to `ts` at position `pos` of a job; a tick
    /// when it enters a new second.
    fn advance(&mut self, ts: u64, pos: u32, ticks: &mut Vec<(u32, u64)>) {
        if ts > self.clock {
            self.clock = ts;
            if ts / NS > self.tick_sec {
                self.tick_sec = ts / NS;
                ticks.push((pos, ts));
                self.defrag.expire(ts, &mut self.res.decode);
            }
        }
    }

    /// Counts, clocks, reassembles and assigns the packets of one block.
    fn job(&mut self, block: Block, file: u32) -> Job {
        let workers = self.workers;
        let mut job = Job {
            assign: vec![Vec::new(); workers],
            ticks: Vec::new(),
            file,
            base: self.next_idx,
            extra: Vec::new(),
            extra_pkts: Vec::new(),
            extra_fragments: Vec::new(),
            block,
        };
        for (pos, meta) in job.block.packets.iter().enumerate() {
            let pos = pos as u32;
            let cap = &mut self.res.capture;
            cap.pkts += 1;
            cap.bytes += u64::from(meta.caplen);
            cap.max_pkt_size = cap.max_pkt_size.max(u64::from(meta.caplen));
            cap.first_ts.get_or_insert(meta.ts_ns);
            cap.last_ts = Some(meta.ts_ns);
            self.advance(meta.ts_ns, pos, &mut job.ticks);
            let bytes = job.block.bytes(meta);
            match decode::shard(meta.linktype, bytes) {
                Shard::Hash(h) => assign(&mut job.assign, worker_of(h, workers), (pos, RAW)),
                // Non-IP frames still count in decoder stats: one fixed worker takes them.
                Shard::Other => assign(&mut job.assign, 0, (pos, RAW)),
                Shard::Fragment => {
                    let Some(frame) =
                        self.defrag
                            .push(meta.linktype, bytes, meta.ts_ns, &mut self.res.decode)
                    else {
                        continue;
                    };
                    let w = match decode::shard(meta.linktype, &frame) {
                        Shard::Hash(h) => worker_of(h, workers),
                        _ => 0,
                    };
                    let (fragments, wire) = self.defrag.last_fragments();
                    let m = PacketMeta {
                        ts_ns: meta.ts_ns,
                        offset: job.extra.len() as u32,
                        caplen: frame.len() as u32,
                        // The fragments' frames, as they were on the wire.
                        origlen: u32::try_from(wire).unwrap_or(u32::MAX),
                        linktype: meta.linktype,
                    };
                    job.extra_fragments.push(fragments);
                    job.extra.extend_from_slice(&frame);
                    let n = job.extra_pkts.len() as u32;
                    assign(&mut job.assign, w, (pos, n));
                    job.extra_pkts.push(m);
                }
            }
        }
        self.next_idx += job.block.packets.len() as u64;
        job
    }

    /// A job with no packets that moves the clock to `ts` (a quiet live link).
    fn idle_job(&mut self, ts: u64, pool: Vec<u8>) -> Job {
        let mut job = self.job(Block::with_buffer(pool, None), 0);
        let mut ticks = Vec::new();
        self.advance(ts, 0, &mut ticks);
        job.ticks = ticks;
        job
    }
}

fn send(txs: &[Sender<Arc<Job>>], job: Job) -> bool {
    let job = Arc::new(job);
    // false: the output side stopped (sink error): finish quietly.
    txs.iter().all(|tx| tx.send(Arc::clone(&job)).is_ok())
}

pub fn run(cfg: &ReplayConfig, txs: Vec<Sender<Arc<Job>>>, progress: &Progress) -> ReadResult {
    let workers = txs.len().max(1);
    let mut st = State::new(workers);
    let (pool_tx, pool_rx) = crossbeam_channel::bounded::<Vec<u8>>(workers * cfg.queue_depth + 4);
    let mut disk_done: u64 = 0;
    'files: for (fi, input) in cfg.inputs.iter().enumerate() {
        let mut file = match CaptureFile::open(&input.path) {
            Ok(f) => f,
            Err(e) => {
                st.res.file_errors.push(e);
                st.res.capture.damaged_files += 1;
                continue;
            }
        };
        st.res.capture.files += 1;
        loop {
            if cfg.stop.as_ref().is_some_and(|s| s.requested()) {
                st.res.stopped = true;
                break 'files;
            }
            let buf = pool_rx.try_recv().unwrap_or_default();
            let mut block = Block::with_buffer(buf, Some(pool_tx.clone()));
            match file.fill(&mut block, cfg.block_size) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    st.res.file_errors.push(e);
                    st.res.capture.damaged_files += 1;
                    break;
                }
            }
            let job = st.job(block, fi as u32);
            progress.packets.store(st.next_idx, Ordering::Relaxed);
            progress
                .disk_bytes
                .store(disk_done + file.disk_bytes(), Ordering::Relaxed);
            if !send(&txs, job) {
                break 'files;
            }
        }
        disk_done += file.disk_bytes();
        let fs = file.stats();
        st.res.capture.truncated_records += fs.truncated_records;
    }
    st.res
}

/// Reads a live capture until it ends (a stop request), as one input. A
/// quiet link still moves the clock (an empty job with a tick), so flows
/// time out and the output stage gets a round to write periodic events.
pub fn run_live(
    cfg: &ReplayConfig,
    mut source: LiveSource,
    txs: Vec<Sender<Arc<Job>>>,
    progress: &Progress,
) -> ReadResult {
    let workers = txs.len().max(1);
    let mut st = State::new(workers);
    st.res.capture.files = 1;
    let (pool_tx, pool_rx) = crossbeam_channel::bounded::<Vec<u8>>(workers * cfg.queue_depth + 4);
    loop {
        let buf = pool_rx.try_recv().unwrap_or_default();
        let mut block = Block::with_buffer(buf, Some(pool_tx.clone()));
        let job = match source.fill(&mut block, cfg.block_size) {
            Fill::Packets => st.job(block, 0),
            Fill::Idle { clock_ns } => {
                drop(block);
                st.idle_job(clock_ns, Vec::new())
            }
            Fill::End => {
                st.res.stopped = true;
                break;
            }
        };
        progress.packets.store(st.next_idx, Ordering::Relaxed);
        if !send(&txs, job) {
            break;
        }
    }
    st.res
}
