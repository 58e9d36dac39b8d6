//! The packet stream: what every consumer of packets reads (the engine's
//! workers and the evidence pass alike).
//!
//! It takes a [`PacketSource`]'s blocks and adds what must be decided once,
//! in capture order, before packets can be spread over threads:
//!
//! * one global packet index (0-based), the same for any worker count;
//! * the capture clock (the largest packet time so far; a live source's idle
//!   wall clock too) and its ticks, one per new second, placed before the
//!   packet that moved the clock: flow and fragment timeouts fire there;
//! * IP reassembly: a fragment is held, and the one that completes its
//!   datagram stands for the whole datagram, rebuilt as one frame;
//! * the shard hash of each packet (a symmetric hash of its outermost
//!   address pair, see [`super::shard`]), which places it on a worker.
//!
//! Batches keep their buffers: when the last holder drops one, its vectors
//! go back to the stream for the next batch (no allocation per batch once
//! running).

use super::{shard, DecodeStats, Defragmenter, Shard};
use crate::capture::{Block, CaptureError, CaptureStats, PacketMeta, PacketSource, Pull};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const NS: u64 = 1_000_000_000;

/// What one packet position of a [`Batch`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The packet itself, placed by `hash` (0 for a frame that is not IP:
    /// it still counts in the decoder's statistics, on worker 0).
    Raw { hash: u32 },
    /// A fragment held for reassembly: nothing to process at this position.
    Held,
    /// The fragment that completed a datagram: the reassembled datagram
    /// (`index` into [`Batch::whole_pkts`]) is processed here instead.
    Whole { index: u32, hash: u32 },
}

impl Slot {
    /// The shard hash of what is processed at this position.
    pub fn hash(self) -> Option<u32> {
        match self {
            Slot::Raw { hash } | Slot::Whole { hash, .. } => Some(hash),
            Slot::Held => None,
        }
    }
}

/// Which of `workers` workers handles the shard hash `hash`.
#[inline]
pub fn worker_of(hash: u32, workers: usize) -> usize {
    // Multiply-shift spreads any hash evenly without a division.
    ((u64::from(hash) * workers as u64) >> 32) as usize
}

/// One packet to process: its descriptor, its bytes, and how many packets
/// on the wire it stands for (a reassembled datagram: its fragments).
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    pub meta: &'a PacketMeta,
    pub bytes: &'a [u8],
    pub packets: u32,
}

/// The vectors of a batch, kept for the next one.
#[derive(Default)]
struct Parts {
    data: Vec<u8>,
    packets: Vec<PacketMeta>,
    ticks: Vec<(u32, u64)>,
    slots: Vec<Slot>,
    whole: Vec<u8>,
    whole_pkts: Vec<PacketMeta>,
    whole_fragments: Vec<u32>,
}

/// A run of consecutive packets of one input, with what the stream decided
/// about them.
pub struct Batch {
    pub block: Block,
    /// Global index of `block.packets[0]` (of the next packet, for a batch
    /// that holds only a tick).
    pub base: u64,
    /// Clock ticks: (position, capture clock in ns), handled before the
    /// packet at that position.
    pub ticks: Vec<(u32, u64)>,
    /// One per packet of the block.
    pub slots: Vec<Slot>,
    /// Reassembled datagrams, rebuilt as whole frames (`offset` into `whole`).
    pub whole: Vec<u8>,
    pub whole_pkts: Vec<PacketMeta>,
    /// How many fragments each reassembled datagram was made of.
    pub whole_fragments: Vec<u32>,
    recycle: Option<Sender<Parts>>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("base", &self.base)
            .field("packets", &self.block.packets.len())
            .field("ticks", &self.ticks)
            .finish()
    }
}

impl Batch {
    pub fn len(&self) -> usize {
        self.block.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.block.packets.is_empty()
    }

    /// The input (file index) of the batch's packets.
    pub fn input(&self) -> u32 {
        self.block.input
    }

    /// What to process at `pos` (none for a held fragment).
    #[inline]
    pub fn item(&self, pos: usize, slot: Slot) -> Option<Item<'_>> {
        match slot {
            Slot::Raw { .. } => {
                let meta = self.block.packets.get(pos)?;
                Some(Item {
                    meta,
                    bytes: self.block.bytes(meta),
                    packets: 1,
                })
            }
            Slot::Whole { index, .. } => {
                let meta = self.whole_pkts.get(index as usize)?;
                let start = meta.offset as usize;
                Some(Item {
                    meta,
                    bytes: self.whole.get(start..start + meta.caplen as usize)?,
                    packets: *self.whole_fragments.get(index as usize)?,
                })
            }
            Slot::Held => None,
        }
    }

    /// The packet at `pos` as captured (a fragment is itself, not its datagram).
    pub fn captured(&self, pos: usize) -> Option<(&PacketMeta, &[u8])> {
        let meta = self.block.packets.get(pos)?;
        Some((meta, self.block.bytes(meta)))
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(tx) = self.recycle.take() {
            let _ = tx.try_send(Parts {
                data: std::mem::take(&mut self.block.data),
                packets: std::mem::take(&mut self.block.packets),
                ticks: std::mem::take(&mut self.ticks),
                slots: std::mem::take(&mut self.slots),
                whole: std::mem::take(&mut self.whole),
                whole_pkts: std::mem::take(&mut self.whole_pkts),
                whole_fragments: std::mem::take(&mut self.whole_fragments),
            });
        }
    }
}

/// Settings of a [`PacketStream`].
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// Bytes read per batch.
    pub block_size: usize,
    /// Batches that may be held at once before their buffers are no longer
    /// kept for reuse (the consumers' queues).
    pub pool: usize,
    /// Set from another thread to stop reading: the stream ends as if the
    /// input had (see [`StreamEnd::stopped`]).
    pub stop: Option<Arc<AtomicBool>>,
    /// Compute each packet's shard hash. Off (a single consumer, such as one
    /// worker): every slot's hash is 0; fragments are still found and joined.
    pub shard: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            block_size: 1 << 20,
            pool: 16,
            stop: None,
            shard: true,
        }
    }
}

/// What the stream counted, once it is done.
#[derive(Debug, Default)]
pub struct StreamEnd {
    pub capture: CaptureStats,
    /// Reassembly counters.
    pub decode: DecodeStats,
    /// Inputs that were damaged or could not be read (their earlier
    /// packets were processed).
    pub errors: Vec<CaptureError>,
    /// Reading stopped on the stop flag before the input ended.
    pub stopped: bool,
}

/// Packets of a source in global order (see the module documentation).
pub struct PacketStream<S> {
    source: S,
    cfg: StreamConfig,
    defrag: Defragmenter,
    dstats: DecodeStats,
    capture: CaptureStats,
    errors: Vec<CaptureError>,
    clock: u64,
    tick_sec: u64,
    next_idx: u64,
    pool_tx: Sender<Parts>,
    pool_rx: Receiver<Parts>,
    ended: bool,
    stopped: bool,
}

impl<S: PacketSource> PacketStream<S> {
    pub fn new(source: S, cfg: StreamConfig) -> Self {
        let (pool_tx, pool_rx) = crossbeam_channel::bounded(cfg.pool.max(1));
        PacketStream {
            source,
            cfg,
            defrag: Defragmenter::new(Default::default()),
            dstats: DecodeStats::default(),
            capture: CaptureStats::default(),
            errors: Vec::new(),
            clock: 0,
            tick_sec: 0,
            next_idx: 0,
            pool_tx,
            pool_rx,
            ended: false,
            stopped: false,
        }
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    /// Packets handed out so far (the global index of the next one).
    /// The decoder counters of the stream itself so far (IP fragments).
    pub fn decode_stats(&self) -> &DecodeStats {
        &self.dstats
    }

    pub fn packets(&self) -> u64 {
        self.next_idx
    }

    /// The next batch, or none once the source has ended (or was stopped).
    /// A batch may hold no packet: a clock tick of an idle live source.
    pub fn next_batch(&mut self) -> Option<Batch> {
        if self.ended {
            return None;
        }
        if self
            .cfg
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            self.stopped = true;
            self.ended = true;
            return None;
        }
        let p = self.pool_rx.try_recv().unwrap_or_default();
        let mut block = Block::with_buffer(p.data, None);
        block.packets = p.packets;
        let mut batch = Batch {
            block,
            base: self.next_idx,
            ticks: p.ticks,
            slots: p.slots,
            whole: p.whole,
            whole_pkts: p.whole_pkts,
            whole_fragments: p.whole_fragments,
            recycle: Some(self.pool_tx.clone()),
        };
        batch.ticks.clear();
        batch.slots.clear();
        batch.whole.clear();
        batch.whole_pkts.clear();
        batch.whole_fragments.clear();
        let pulled = self.source.pull(&mut batch.block, self.cfg.block_size);
        self.errors.extend(self.source.take_errors());
        match pulled {
            Pull::Packets => self.sequence(&mut batch),
            Pull::Idle { now_ns } => {
                batch.block.packets.clear();
                self.advance(now_ns, 0, &mut batch.ticks);
            }
            Pull::End => {
                self.ended = true;
                return None;
            }
        }
        Some(batch)
    }

    /// Moves the capture clock to `ts` if later; a new second is a tick at `pos`.
    #[inline]
    fn advance(&mut self, ts: u64, pos: u32, ticks: &mut Vec<(u32, u64)>) {
        if ts > self.clock {
            self.clock = ts;
            if ts / NS > self.tick_sec {
                self.tick_sec = ts / NS;
                ticks.push((pos, ts));
                self.defrag.expire(ts, &mut self.dstats);
            }
        }
    }

    fn sequence(&mut self, batch: &mut Batch) {
        let Batch {
            block,
            ticks,
            slots,
            whole,
            whole_pkts,
            whole_fragments,
            ..
        } = batch;
        slots.reserve(block.packets.len());
        let place = if self.cfg.shard {
            shard
        } else {
            super::shard_unhashed
        };
        for (pos, meta) in block.packets.iter().enumerate() {
            let pos = pos as u32;
            let cap = &mut self.capture;
            cap.pkts += 1;
            cap.bytes += u64::from(meta.caplen);
            cap.max_pkt_size = cap.max_pkt_size.max(u64::from(meta.caplen));
            cap.first_ts.get_or_insert(meta.ts_ns);
            cap.last_ts = Some(meta.ts_ns);
            self.advance(meta.ts_ns, pos, ticks);
            let bytes = block.bytes(meta);
            let slot = match place(meta.linktype, bytes) {
                Shard::Hash(hash) => Slot::Raw { hash },
                Shard::Other => Slot::Raw { hash: 0 },
                Shard::Fragment => {
                    match self
                        .defrag
                        .push(meta.linktype, bytes, meta.ts_ns, &mut self.dstats)
                    {
                        None => Slot::Held,
                        Some(frame) => {
                            let hash = match shard(meta.linktype, &frame) {
                                Shard::Hash(h) => h,
                                _ => 0,
                            };
                            let (fragments, wire) = self.defrag.last_fragments();
                            let index = whole_pkts.len() as u32;
                            whole_pkts.push(PacketMeta {
                                ts_ns: meta.ts_ns,
                                offset: whole.len() as u32,
                                caplen: frame.len() as u32,
                                // The fragments' frames, as they were on the wire.
                                origlen: u32::try_from(wire).unwrap_or(u32::MAX),
                                linktype: meta.linktype,
                            });
                            whole_fragments.push(fragments);
                            whole.extend_from_slice(&frame);
                            Slot::Whole { index, hash }
                        }
                    }
                }
            };
            slots.push(slot);
        }
        self.next_idx += block.packets.len() as u64;
    }

    /// Ends the stream: what it counted and the inputs' errors.
    pub fn finish(mut self) -> StreamEnd {
        self.errors.extend(self.source.take_errors());
        let c = self.source.counts();
        let mut capture = self.capture;
        capture.files = c.files;
        capture.damaged_files = c.damaged_files;
        capture.truncated_records = c.truncated_records;
        StreamEnd {
            capture,
            decode: self.dstats,
            errors: self.errors,
            stopped: self.stopped,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::capture::{FileSource, InputFile};

    /// A classic pcap of raw-IP (linktype 101) packets at the given seconds.
    fn pcap(packets: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&101u32.to_le_bytes());
        for (ns, data) in packets {
            v.extend_from_slice(&((ns / NS) as u32).to_le_bytes());
            v.extend_from_slice(&(((ns % NS) / 1000) as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(data);
        }
        v
    }

    /// An IPv4 UDP packet (or fragment: `frag` = (offset in 8-byte units, more)).
    fn ipv4(src: [u8; 4], dst: [u8; 4], id: u16, frag: (u16, bool), payload: &[u8]) -> Vec<u8> {
        let total = 20 + payload.len();
        let mut h = vec![0x45, 0, (total >> 8) as u8, total as u8];
        h.extend_from_slice(&id.to_be_bytes());
        let ff = frag.0 | if frag.1 { 0x2000 } else { 0 };
        h.extend_from_slice(&ff.to_be_bytes());
        h.extend_from_slice(&[64, 17, 0, 0]);
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        h.extend_from_slice(payload);
        h
    }

    /// A stream over one capture file per list of packets.
    fn stream_of(files: &[&[(u64, Vec<u8>)]]) -> (tempfile::TempDir, PacketStream<FileSource>) {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = Vec::new();
        for (i, packets) in files.iter().enumerate() {
            let path = dir.path().join(format!("{i}.pcap"));
            std::fs::write(&path, pcap(packets)).unwrap();
            inputs.push(InputFile {
                path,
                format: None,
                gzip: false,
                first_ts: None,
            });
        }
        let src = FileSource::new(inputs);
        (dir, PacketStream::new(src, StreamConfig::default()))
    }

    #[test]
    fn numbers_packets_ticks_each_new_second_and_reassembles() {
        let a = [10, 0, 0, 1];
        let b = [10, 0, 0, 2];
        let mut udp = vec![0x30, 0x39, 0, 53, 0, 24, 0, 0];
        udp.extend_from_slice(&[7; 16]);
        let pkts = vec![
            (NS, ipv4(a, b, 1, (0, false), &udp)),
            (NS + 5, ipv4(b, a, 2, (0, false), &udp)),
            // Out of order in time: the clock does not go back.
            (NS / 2, ipv4(a, b, 3, (0, false), &udp)),
            (3 * NS, ipv4(a, b, 4, (0, true), &udp[..16])),
            (3 * NS + 1, ipv4(a, b, 4, (2, false), &udp[16..])),
        ];
        let (_dir, mut s) = stream_of(&[&pkts]);
        let batch = s.next_batch().unwrap();
        assert_eq!(batch.base, 0);
        assert_eq!(batch.ticks, [(0, NS), (3, 3 * NS)]);
        let hashes: Vec<Option<u32>> = batch.slots.iter().map(|s| s.hash()).collect();
        // Both directions of a pair share a hash.
        assert_eq!(hashes[0], hashes[1]);
        assert_eq!(hashes[3], None, "the first fragment is held");
        assert_eq!(hashes[4], hashes[0], "the datagram is placed like its pair");
        let whole = batch.item(4, batch.slots[4]).unwrap();
        assert_eq!(whole.packets, 2);
        assert_eq!(whole.bytes.len(), 20 + udp.len());
        assert_eq!(whole.meta.origlen as usize, 2 * 20 + udp.len());
        let raw = batch.item(0, batch.slots[0]).unwrap();
        assert_eq!((raw.packets, raw.bytes.len()), (1, 20 + udp.len()));
        drop(batch);
        assert!(s.next_batch().is_none());
        assert_eq!(s.packets(), 5);
        let end = s.finish();
        assert_eq!(end.capture.pkts, 5);
        assert_eq!(end.capture.files, 1);
        assert_eq!(end.capture.first_ts, Some(NS));
        assert!(end.errors.is_empty() && !end.stopped);
    }

    #[test]
    fn a_stop_flag_ends_the_stream_and_says_so() {
        let (_dir, mut s) = stream_of(&[&[(NS, vec![0x45; 20])]]);
        let stop = Arc::new(AtomicBool::new(true));
        s.cfg.stop = Some(Arc::clone(&stop));
        assert!(s.next_batch().is_none());
        let end = s.finish();
        assert!(end.stopped);
        assert_eq!(end.capture.pkts, 0);
    }

    #[test]
    fn batch_buffers_come_back_for_reuse() {
        let p = |i: u64| {
            (
                NS * i,
                ipv4([10, 0, 0, 1], [10, 0, 0, 2], 1, (0, false), &[0; 8]),
            )
        };
        let (_dir, mut s) = stream_of(&[&[p(1)], &[p(2)]]);
        let first = s.next_batch().unwrap();
        let cap = first.slots.capacity();
        assert!(cap > 0);
        drop(first);
        let second = s.next_batch().unwrap();
        assert_eq!(
            second.slots.capacity(),
            cap,
            "the first batch's vectors are reused"
        );
        assert_eq!((second.base, second.input()), (1, 1));
    }
}
