//! The reader thread: capture files → jobs for the workers.

use super::ReplayConfig;
use crate::base::Progress;
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

pub fn run(cfg: &ReplayConfig, txs: Vec<Sender<Arc<Job>>>, progress: &Progress) -> ReadResult {
    let workers = txs.len().max(1);
    let mut res = ReadResult::default();
    let (pool_tx, pool_rx) = crossbeam_channel::bounded::<Vec<u8>>(workers * cfg.queue_depth + 4);
    let mut defrag = Defragmenter::new(Default::default());
    let mut clock: u64 = 0;
    let mut tick_sec: u64 = 0;
    let mut next_idx: u64 = 0;
    let mut disk_done: u64 = 0;
    'files: for (fi, input) in cfg.inputs.iter().enumerate() {
        let mut file = match CaptureFile::open(&input.path) {
            Ok(f) => f,
            Err(e) => {
                res.file_errors.push(e);
                res.capture.damaged_files += 1;
                continue;
            }
        };
        res.capture.files += 1;
        loop {
            let buf = pool_rx.try_recv().unwrap_or_default();
            let mut block = Block::with_buffer(buf, Some(pool_tx.clone()));
            match file.fill(&mut block, cfg.block_size) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    res.file_errors.push(e);
                    res.capture.damaged_files += 1;
                    break;
                }
            }
            let mut job = Job {
                assign: vec![Vec::new(); workers],
                ticks: Vec::new(),
                file: fi as u32,
                base: next_idx,
                extra: Vec::new(),
                extra_pkts: Vec::new(),
                extra_fragments: Vec::new(),
                block,
            };
            for (pos, meta) in job.block.packets.iter().enumerate() {
                let pos = pos as u32;
                let cap = &mut res.capture;
                cap.pkts += 1;
                cap.bytes += u64::from(meta.caplen);
                cap.max_pkt_size = cap.max_pkt_size.max(u64::from(meta.caplen));
                cap.first_ts.get_or_insert(meta.ts_ns);
                cap.last_ts = Some(meta.ts_ns);
                if meta.ts_ns > clock {
                    clock = meta.ts_ns;
                    if clock / NS > tick_sec {
                        tick_sec = clock / NS;
                        job.ticks.push((pos, clock));
                        defrag.expire(clock, &mut res.decode);
                    }
                }
                let bytes = job.block.bytes(meta);
                match decode::shard(meta.linktype, bytes) {
                    Shard::Hash(h) => assign(&mut job.assign, worker_of(h, workers), (pos, RAW)),
                    // Non-IP frames still count in decoder stats: one fixed worker takes them.
                    Shard::Other => assign(&mut job.assign, 0, (pos, RAW)),
                    Shard::Fragment => {
                        let Some(frame) =
                            defrag.push(meta.linktype, bytes, meta.ts_ns, &mut res.decode)
                        else {
                            continue;
                        };
                        let w = match decode::shard(meta.linktype, &frame) {
                            Shard::Hash(h) => worker_of(h, workers),
                            _ => 0,
                        };
                        let (fragments, wire) = defrag.last_fragments();
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
            next_idx += job.block.packets.len() as u64;
            progress.packets.store(next_idx, Ordering::Relaxed);
            progress
                .disk_bytes
                .store(disk_done + file.disk_bytes(), Ordering::Relaxed);
            let job = Arc::new(job);
            for tx in &txs {
                if tx.send(Arc::clone(&job)).is_err() {
                    // The output side stopped (sink error): finish quietly.
                    break 'files;
                }
            }
        }
        disk_done += file.disk_bytes();
        let st = file.stats();
        res.capture.truncated_records += st.truncated_records;
    }
    res
}
