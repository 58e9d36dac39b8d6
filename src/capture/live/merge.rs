//! Puts the packets of several interfaces into one stream in time order.
//!
//! Both directions of a tap on two ports arrive on two interfaces; a flow's
//! SYN and SYN-ACK must reach the flow table in the order they happened.
//! Each interface's reader sends batches of packets with a watermark: the
//! capture time before which it will send nothing more (best effort: the
//! kernel hands packets over at most one ring-block timeout late). A packet
//! is released when no interface can still send an earlier one: its time is
//! at or before the watermark of every interface with nothing queued.
//! A packet that arrives later than that anyway is released at once (the
//! flow clock only moves forward, so it is handled like any reordering).

use super::Batch;
use crate::capture::{Block, PacketMeta};
use std::collections::VecDeque;

struct Queue {
    batches: VecDeque<Batch>,
    /// Next packet of the front batch.
    cursor: usize,
    watermark_ns: u64,
}

impl Queue {
    fn head(&self) -> Option<(&PacketMeta, &Batch)> {
        let b = self.batches.front()?;
        b.packets.get(self.cursor).map(|p| (p, b))
    }

    /// Moves past the head packet, dropping an exhausted batch; returns
    /// the bytes of the batches dropped.
    fn advance(&mut self) -> usize {
        self.cursor += 1;
        self.skip_empty()
    }

    fn skip_empty(&mut self) -> usize {
        let mut freed = 0;
        while let Some(b) = self.batches.front() {
            if self.cursor < b.packets.len() {
                break;
            }
            freed += b.data.len();
            self.batches.pop_front();
            self.cursor = 0;
        }
        freed
    }
}

/// The merge of `n` interfaces.
pub(super) struct Merge {
    queues: Vec<Queue>,
    /// Bytes queued, to bound what a stalled interface can hold back.
    queued_bytes: usize,
    max_queued: usize,
}

impl Merge {
    pub fn new(interfaces: usize, max_queued: usize) -> Self {
        Merge {
            queues: (0..interfaces)
                .map(|_| Queue {
                    batches: VecDeque::new(),
                    cursor: 0,
                    watermark_ns: 0,
                })
                .collect(),
            queued_bytes: 0,
            max_queued,
        }
    }

    pub fn push(&mut self, batch: Batch) {
        let Some(q) = self.queues.get_mut(batch.iface) else {
            return;
        };
        q.watermark_ns = q.watermark_ns.max(batch.watermark_ns);
        if !batch.packets.is_empty() {
            self.queued_bytes += batch.data.len();
            q.batches.push_back(batch);
        }
        let freed = q.skip_empty();
        self.queued_bytes = self.queued_bytes.saturating_sub(freed);
    }

    pub fn is_empty(&self) -> bool {
        self.queues.iter().all(|q| q.batches.is_empty())
    }

    /// Moves releasable packets into `block` (appending) until it holds
    /// `max_bytes`; with `all`, every queued packet is releasable (the end of
    /// the capture). Returns how many packets were moved.
    pub fn release(&mut self, block: &mut Block, max_bytes: usize, all: bool) -> usize {
        let mut moved = 0;
        // Over the bound, the oldest packets go out whatever the watermarks:
        // an interface that stopped sending must not hold the others back.
        let force = all || self.queued_bytes > self.max_queued;
        while block.data.len() < max_bytes {
            // The interface with the earliest head packet (ties: lower index).
            let mut best: Option<(usize, u64)> = None;
            for (i, q) in self.queues.iter().enumerate() {
                if let Some((p, _)) = q.head() {
                    if best.is_none_or(|(_, t)| p.ts_ns < t) {
                        best = Some((i, p.ts_ns));
                    }
                }
            }
            let Some((i, ts)) = best else {
                break;
            };
            // An interface with nothing queued may still send something earlier.
            let blocked = !force
                && self
                    .queues
                    .iter()
                    .any(|q| q.batches.is_empty() && q.watermark_ns < ts);
            if blocked {
                break;
            }
            let Some(q) = self.queues.get_mut(i) else {
                break;
            };
            if let Some((p, b)) = q.head() {
                let bytes = b.bytes(p);
                block.packets.push(PacketMeta {
                    offset: block.data.len() as u32,
                    ..*p
                });
                block.data.extend_from_slice(bytes);
            }
            let freed = q.advance();
            self.queued_bytes = self.queued_bytes.saturating_sub(freed);
            moved += 1;
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(iface: usize, ts: &[u64], watermark_ns: u64) -> Batch {
        let mut b = Batch::new(iface);
        for &t in ts {
            b.push_packet(t, &t.to_be_bytes(), 8, 1);
        }
        b.watermark_ns = watermark_ns;
        b
    }

    fn times(block: &Block) -> Vec<u64> {
        block
            .packets
            .iter()
            .map(|p| u64::from_be_bytes(block.bytes(p).try_into().unwrap()))
            .collect()
    }

    #[test]
    fn one_interface_passes_straight_through() {
        let mut m = Merge::new(1, 1 << 20);
        m.push(batch(0, &[5, 3, 9], 0));
        let mut blk = Block::default();
        assert_eq!(m.release(&mut blk, 1 << 20, false), 3);
        // Order within one interface is kept as the kernel gave it.
        assert_eq!(times(&blk), [5, 3, 9]);
        assert!(m.is_empty());
    }

    #[test]
    fn two_interfaces_interleave_by_time_and_wait_for_the_quiet_one() {
        let mut m = Merge::new(2, 1 << 20);
        m.push(batch(0, &[10, 30, 50], 60));
        let mut blk = Block::default();
        // Interface 1 has said nothing: it could still send time 1.
        assert_eq!(m.release(&mut blk, 1 << 20, false), 0);
        m.push(batch(1, &[20, 40], 45));
        m.release(&mut blk, 1 << 20, false);
        // 50 waits: interface 1 could still send something up to 45..50.
        assert_eq!(times(&blk), [10, 20, 30, 40]);
        m.push(batch(1, &[], 100));
        m.release(&mut blk, 1 << 20, false);
        assert_eq!(times(&blk), [10, 20, 30, 40, 50]);
        assert!(m.is_empty());
        // Offsets point into the block's own buffer.
        assert_eq!(blk.packets[4].offset, 32);
    }

    #[test]
    fn end_releases_everything_and_bound_overrides_watermarks() {
        let mut m = Merge::new(2, 1 << 20);
        m.push(batch(0, &[10, 30], 0));
        let mut blk = Block::default();
        assert_eq!(m.release(&mut blk, 1 << 20, true), 2);

        let mut m = Merge::new(2, 8);
        m.push(batch(0, &[10, 30], 0));
        let mut blk = Block::default();
        // 16 bytes queued over a bound of 8: released without waiting.
        assert_eq!(m.release(&mut blk, 1 << 20, false), 2);
    }

    #[test]
    fn block_size_limits_one_release() {
        let mut m = Merge::new(1, 1 << 20);
        m.push(batch(0, &[1, 2, 3, 4], 0));
        let mut blk = Block::default();
        assert_eq!(m.release(&mut blk, 16, false), 2);
        let mut blk2 = Block::default();
        assert_eq!(m.release(&mut blk2, 16, false), 2);
        assert_eq!(times(&blk2), [3, 4]);
    }
}
