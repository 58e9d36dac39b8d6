//! In-order delivery of one direction of a TCP stream, for the dissectors.
//!
//! Only the start of a stream is inspected, so this is deliberately small:
//! in-order bytes go straight through; bytes ahead of a hole wait in a
//! bounded window that starts at the hole; retransmitted bytes are skipped.
//!
//! The window keeps the bytes *nearest* the hole: when it is full (in bytes
//! or in separate runs), the data farthest ahead is dropped, so the first
//! flight of a handshake (a ClientHello sent in tiny segments in reverse
//! order, or behind many later segments) is kept in preference to later
//! data. Each loss is named in [`Stream::anomalies`]; a hole that stays open
//! while [`GIVE_UP_AFTER`] more segments find no room stops the stream.
//!
//! A hole the peer has acknowledged was lost by the capture and will never
//! be retransmitted: it is marked ([`Piece::Hole`]) and delivery goes on
//! after it, as Suricata reports a gap.

use crate::base::budget::{self, Use};
use crate::flow::FlowAnomalies;

/// Bytes held ahead of a hole, at most.
pub const WINDOW: usize = 64 * 1024;
/// The start of a stream that is its first flight (a hello): held ahead of
/// a hole whatever the global memory budget says, while the flow is nameless.
pub const FIRST_FLIGHT: u64 = 16 * 1024;
/// Separate runs of bytes held ahead of a hole, at most.
pub const MAX_RUNS: usize = 64;
/// Segments that found no room while a hole stayed open, before the stream
/// stops (the hole will not fill: a packet the capture missed).
pub const GIVE_UP_AFTER: u32 = 256;

/// Flows whose streams lost data, by reason (`stats.phonehome.stream`);
/// a flow counts once per reason, at its last record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub ooo_dropped: u64,
    pub gave_up: u64,
    pub gap_at_end: u64,
    pub memory: u64,
}

impl StreamStats {
    pub fn count(&mut self, a: FlowAnomalies) {
        self.ooo_dropped += u64::from(a.contains(FlowAnomalies::STREAM_OOO_DROPPED));
        self.gave_up += u64::from(a.contains(FlowAnomalies::STREAM_GAVE_UP));
        self.gap_at_end += u64::from(a.contains(FlowAnomalies::STREAM_GAP_AT_END));
        self.memory += u64::from(a.contains(FlowAnomalies::STREAM_MEMORY));
    }

    pub fn merge(&mut self, o: &StreamStats) {
        self.ooo_dropped += o.ooo_dropped;
        self.gave_up += o.gave_up;
        self.gap_at_end += o.gap_at_end;
        self.memory += o.memory;
    }
}

#[derive(Debug, Default)]
pub struct Stream {
    /// Next expected sequence number (None until the SYN or first segment).
    next: Option<u32>,
    /// Bytes delivered so far.
    delivered: u64,
    /// `held[base..]` are the bytes from `next` on, as received; only the
    /// ranges in `runs` are data. Delivered bytes are dropped from the front
    /// only once they are half the buffer, so moving the window costs
    /// amortised O(1) per byte (tiny in-order segments in front of a far
    /// run would otherwise shift 64 KiB each).
    held: Vec<u8>,
    base: usize,
    /// Received ranges of `held` (offsets from `next`): sorted, disjoint,
    /// not touching.
    runs: Vec<(usize, usize)>,
    /// Segments that found no room since the hole opened.
    no_room: u32,
    /// Highest acknowledgement the peer sent for this direction.
    peer_ack: Option<u32>,
    /// The flow's names are known (its out-of-order data goes first under
    /// memory pressure).
    named: bool,
    /// Bytes of `held` taken from the global memory budget.
    accounted: u64,
    /// A gap was reported: nothing more is delivered.
    stopped: bool,
    anomalies: FlowAnomalies,
}

/// What the stream hands its consumer, in stream order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Data(&'a [u8]),
    /// Bytes the peer acknowledged but the capture does not have: they will
    /// never arrive, the data that follows is delivered after this mark.
    Hole,
}

/// What a segment did to the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Bytes (possibly none) were delivered in order.
    Ok,
    /// Bytes are missing for good: the consumer must treat the stream as cut.
    Gap,
}

/// Signed distance from `b` to `a` in sequence space.
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Stream {
    /// Heap bytes of the buffers (held data and run list).
    pub fn heap_bytes(&self) -> usize {
        self.held.capacity() + self.runs.capacity() * std::mem::size_of::<(usize, usize)>()
    }

    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The sequence number after the last byte delivered (None before any).
    pub fn next_seq(&self) -> Option<u32> {
        self.next
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// What went wrong so far (empty for a clean stream).
    pub fn anomalies(&self) -> FlowAnomalies {
        self.anomalies
    }

    /// A SYN (or SYN-ACK) with initial sequence number `isn`. Before any data,
    /// a later SYN replaces an earlier one (the last of several SYN-ACKs is the real one).
    pub fn syn(&mut self, isn: u32) {
        if self.delivered == 0 && self.runs.is_empty() {
            self.next = Some(isn.wrapping_add(1));
        }
    }

    /// Whether the flow's names are known, for the memory budget.
    pub fn set_named(&mut self, named: bool) {
        self.named = named;
    }

    /// `held`'s allocation, as counted by the global memory budget.
    fn account(&mut self) {
        let now = self.held.capacity() as u64;
        budget::global().adjust(self.accounted, now);
        self.accounted = now;
    }

    /// The peer acknowledged this direction up to `ack`.
    pub fn peer_acked(&mut self, ack: u32) {
        if self.peer_ack.is_none_or(|a| seq_diff(ack, a) > 0) {
            self.peer_ack = Some(ack);
        }
    }

    /// Handles a segment's payload at `seq`, passing in-order bytes to `out`.
    /// A segment after a hole the peer has already acknowledged is not held:
    /// what was held before it comes out, each run after a hole mark, then
    /// the segment after one.
    pub fn segment(&mut self, seq: u32, data: &[u8], out: &mut impl FnMut(Piece<'_>)) -> Delivery {
        if self.stopped {
            return Delivery::Gap;
        }
        if data.is_empty() {
            return Delivery::Ok;
        }
        let next = *self.next.get_or_insert(seq);
        let mut ahead = seq_diff(seq, next);
        if ahead > 0 {
            if self.peer_ack.is_none_or(|a| seq_diff(a, seq) < 0) {
                return self.hold(ahead as usize, data);
            }
            self.skip_holes_before(seq, out);
            let next = self.next.unwrap_or(seq);
            ahead = seq_diff(seq, next);
            if ahead > 0 {
                out(Piece::Hole);
                self.shift(ahead as usize);
            }
        }
        // Skip what was delivered already (a retransmission, or an overlap).
        let skip = usize::try_from(ahead.min(0).unsigned_abs()).unwrap_or(usize::MAX);
        if let Some(new) = data.get(skip..).filter(|d| !d.is_empty()) {
            out(Piece::Data(new));
            self.advance(new.len());
            self.drain(out);
        }
        Delivery::Ok
    }

    /// Held runs that start at or before `limit` come out, each after a
    /// hole mark (the peer acknowledged past them: the holes are for good).
    fn skip_holes_before(&mut self, limit: u32, out: &mut impl FnMut(Piece<'_>)) {
        while let (Some(next), Some(&(start, _))) = (self.next, self.runs.first()) {
            if start == 0 || seq_diff(limit, next.wrapping_add(start as u32)) < 0 {
                return;
            }
            out(Piece::Hole);
            self.shift(start);
            self.drain(out);
        }
    }

    /// `next` moves on by `n` delivered bytes; the window moves with it.
    fn advance(&mut self, n: usize) {
        self.delivered += n as u64;
        self.shift(n);
    }

    /// `next` moves on by `n` bytes (delivered, or lost for good).
    fn shift(&mut self, n: usize) {
        self.next = self.next.map(|s| s.wrapping_add(n as u32));
        if self.runs.is_empty() {
            return;
        }
        self.base = (self.base + n).min(self.held.len());
        self.runs.retain_mut(|r| {
            r.0 = r.0.saturating_sub(n);
            r.1 = r.1.saturating_sub(n);
            r.1 > r.0
        });
        if self.runs.is_empty() {
            self.held = Vec::new();
            self.account();
            self.base = 0;
            self.no_room = 0;
        } else if self.base > self.held.len() / 2 {
            self.held.drain(..self.base);
            self.base = 0;
        }
    }

    /// Delivers held bytes the stream has now reached.
    fn drain(&mut self, out: &mut impl FnMut(Piece<'_>)) {
        while let Some(&(0, end)) = self.runs.first() {
            if let Some(bytes) = self.held.get(self.base..self.base + end) {
                out(Piece::Data(bytes));
            }
            self.advance(end);
        }
    }

    /// Keeps `data`, `ahead` bytes past the hole, as far as the window allows.
    fn hold(&mut self, ahead: usize, data: &[u8]) -> Delivery {
        let end = ahead.saturating_add(data.len()).min(WINDOW);
        if ahead >= WINDOW {
            return self.no_room();
        }
        if end < ahead + data.len() {
            self.anomalies |= FlowAnomalies::STREAM_OOO_DROPPED;
        }
        let (at, to) = (self.base + ahead, self.base + end);
        if self.held.len() < to {
            let grow = (to - self.held.len()) as u64;
            let use_ = if self.named {
                Use::OooNamed
            } else if self.delivered + (end as u64) <= FIRST_FLIGHT {
                Use::FirstFlight
            } else {
                Use::OooNameless
            };
            let b = budget::global();
            if !b.allows(use_, grow) {
                b.refused(use_, grow);
                self.anomalies |= FlowAnomalies::STREAM_MEMORY;
                return self.no_room();
            }
            self.held.resize(to, 0);
            self.account();
        }
        if let (Some(dst), Some(src)) = (self.held.get_mut(at..to), data.get(..end - ahead)) {
            dst.copy_from_slice(src);
        }
        self.add_run(ahead, end);
        if self.runs.len() > MAX_RUNS {
            // Too scattered: the run farthest ahead goes, the start stays.
            if let Some((start, _)) = self.runs.pop() {
                self.held.truncate(self.base + start);
            }
            return self.no_room();
        }
        Delivery::Ok
    }

    /// Adds `[start, end)` to `runs`, merging what it overlaps or touches.
    fn add_run(&mut self, start: usize, end: usize) {
        let first = self.runs.partition_point(|r| r.1 < start);
        let last = self.runs.partition_point(|r| r.0 <= end);
        let (mut s, mut e) = (start, end);
        if let Some(merged) = self.runs.get(first..last) {
            if let (Some(a), Some(b)) = (merged.first(), merged.last()) {
                s = s.min(a.0);
                e = e.max(b.1);
            }
        }
        self.runs.splice(first..last, [(s, e)]);
    }

    /// Data dropped for lack of room; past [`GIVE_UP_AFTER`], the stream stops.
    fn no_room(&mut self) -> Delivery {
        self.anomalies |= FlowAnomalies::STREAM_OOO_DROPPED;
        self.no_room += 1;
        if self.no_room > GIVE_UP_AFTER {
            self.anomalies |= FlowAnomalies::STREAM_GAVE_UP;
            self.give_up();
            return Delivery::Gap;
        }
        Delivery::Ok
    }

    /// The hole will not fill (flow ending, budget spent): report a gap.
    pub fn give_up(&mut self) {
        self.stopped = true;
        self.held = Vec::new();
        self.account();
        self.base = 0;
        self.runs = Vec::new();
    }

    /// Bytes waiting behind a hole.
    pub fn has_pending(&self) -> bool {
        !self.runs.is_empty()
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        budget::global().give(self.accounted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut Stream, seq: u32, d: &[u8], got: &mut Vec<u8>) -> Delivery {
        s.segment(seq, d, &mut |p: Piece<'_>| match p {
            Piece::Data(b) => got.extend_from_slice(b),
            Piece::Hole => got.extend_from_slice(b"|"),
        })
    }

    #[test]
    fn a_hole_the_peer_acknowledged_is_skipped() {
        let mut s = Stream::default();
        let mut got = Vec::new();
        s.syn(99);
        assert_eq!(run(&mut s, 100, b"abc", &mut got), Delivery::Ok);
        // 103..106 never captured; unacknowledged, the next segment waits.
        assert_eq!(run(&mut s, 106, b"ghi", &mut got), Delivery::Ok);
        assert_eq!(got, b"abc");
        // The peer acknowledged past the hole: the held segment goes out
        // when it comes again, and so does new data.
        s.peer_acked(109);
        assert_eq!(run(&mut s, 106, b"ghi", &mut got), Delivery::Ok);
        assert_eq!(run(&mut s, 109, b"jk", &mut got), Delivery::Ok);
        assert_eq!(got, b"abc|ghijk");
        // An older acknowledgement does not move it back.
        s.peer_acked(50);
        assert_eq!(run(&mut s, 115, b"x", &mut got), Delivery::Ok);
        assert_eq!(got, b"abc|ghijk");
        assert!(!s.is_stopped());
    }

    #[test]
    fn held_runs_before_an_acknowledged_segment_come_out_in_order() {
        let mut s = Stream::default();
        let mut got = Vec::new();
        s.syn(99);
        run(&mut s, 100, b"ab", &mut got);
        // Two runs held behind holes, one after the segment to come.
        run(&mut s, 104, b"ef", &mut got);
        run(&mut s, 110, b"kl", &mut got);
        run(&mut s, 120, b"uv", &mut got);
        s.peer_acked(125);
        // A segment at 114: the runs before it come out after hole marks,
        // the one after it stays held until its own hole is passed.
        run(&mut s, 114, b"op", &mut got);
        assert_eq!(got, b"ab|ef|kl|op");
        assert!(s.has_pending());
        run(&mut s, 122, b"wx", &mut got);
        assert_eq!(got, b"ab|ef|kl|op|uvwx");
        assert!(!s.has_pending());
        // Far beyond the window, acknowledged: a hole mark, then delivered.
        s.peer_acked(1_000_000);
        run(&mut s, 500_000, b"z", &mut got);
        assert_eq!(got, b"ab|ef|kl|op|uvwx|z");
        assert_eq!(s.next_seq(), Some(500_001));
    }

    #[test]
    fn in_order_out_of_order_and_retransmitted() {
        let mut s = Stream::default();
        let mut got = Vec::new();
        s.syn(99);
        run(&mut s, 100, b"abc", &mut got);
        run(&mut s, 106, b"ghi", &mut got);
        assert_eq!(got, b"abc");
        run(&mut s, 103, b"def", &mut got);
        assert_eq!(got, b"abcdefghi");
        // Retransmission overlapping the end, with two new bytes.
        run(&mut s, 107, b"hijk", &mut got);
        assert_eq!(got, b"abcdefghijk");
        assert_eq!(s.delivered(), 11);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut s = Stream::default();
        let mut got = Vec::new();
        s.syn(u32::MAX - 2);
        run(&mut s, u32::MAX - 1, b"ab", &mut got);
        run(&mut s, 0, b"cd", &mut got);
        assert_eq!(got, b"abcd");
    }

    #[test]
    fn last_syn_ack_wins_before_data() {
        let mut s = Stream::default();
        let mut got = Vec::new();
        s.syn(1000);
        s.syn(5000);
        run(&mut s, 5001, b"x", &mut got);
        assert_eq!(got, b"x");
    }

    #[test]
    fn scattered_data_keeps_the_start_and_a_hole_that_never_fills_gives_up() {
        let mut s = Stream::default();
        let mut got = Vec::new();
        run(&mut s, 0, b"a", &mut got);
        // 40 separate runs fit; more than MAX_RUNS drop the farthest.
        for i in 0..(MAX_RUNS as u32 + 10) {
            assert_eq!(run(&mut s, 100 + i * 10, b"zz", &mut got), Delivery::Ok);
        }
        assert!(s.anomalies().contains(FlowAnomalies::STREAM_OOO_DROPPED));
        assert_eq!(s.runs.len(), MAX_RUNS);
        assert_eq!(
            s.runs.last(),
            Some(&(99 + (MAX_RUNS - 1) * 10, 101 + (MAX_RUNS - 1) * 10))
        );
        // Data past the window finds no room; after enough of it the stream stops.
        let mut last = Delivery::Ok;
        for i in 0..=GIVE_UP_AFTER {
            last = run(&mut s, 2 * WINDOW as u32 + i, b"far", &mut got);
        }
        assert_eq!(last, Delivery::Gap);
        assert!(s.is_stopped());
        assert!(s.anomalies().contains(FlowAnomalies::STREAM_GAVE_UP));
        assert_eq!(run(&mut s, 1, b"b", &mut got), Delivery::Gap);
        assert_eq!(got, b"a");
    }

    #[test]
    fn a_hello_in_one_byte_segments_in_reverse_order_is_delivered_whole() {
        let hello: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let mut s = Stream::default();
        let mut got = Vec::new();
        s.syn(999);
        for i in (1..hello.len()).rev() {
            assert_eq!(
                run(&mut s, 1000 + i as u32, &hello[i..=i], &mut got),
                Delivery::Ok
            );
        }
        assert!(got.is_empty());
        assert_eq!(s.runs.len(), 1, "adjacent bytes make one run");
        run(&mut s, 1000, &hello[..1], &mut got);
        assert_eq!(got, hello);
        assert!(s.anomalies().is_empty());
        assert!(!s.has_pending());
    }

    #[test]
    fn tiny_in_order_segments_before_a_far_run_move_the_window_cheaply() {
        let mut s = Stream::default();
        let mut got = Vec::new();
        s.syn(0);
        // One byte at the far end of the window, then 60,000 one-byte
        // segments in order: each moves the window by one byte.
        run(&mut s, 1 + WINDOW as u32 - 1, b"Z", &mut got);
        for i in 0..60_000u32 {
            run(&mut s, 1 + i, &[(i % 251) as u8], &mut got);
            assert!(s.held.len() <= 2 * WINDOW);
        }
        assert_eq!(got.len(), 60_000);
        assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        // Fill the rest of the hole: the far byte comes out last.
        let rest = vec![7u8; WINDOW - 1 - 60_000];
        run(&mut s, 60_001, &rest, &mut got);
        assert_eq!(got.len(), WINDOW);
        assert_eq!(got.last(), Some(&b'Z'));
        assert!(!s.has_pending());
    }

    #[test]
    fn the_first_flight_wins_over_later_data_ahead_of_it() {
        // The hello (segment 0) arrives last, after 80 KiB of later data
        // that arrived out of order: the later data beyond the window is
        // dropped, the hello and what follows it are delivered.
        let mut s = Stream::default();
        let mut got = Vec::new();
        s.syn(0);
        let later: Vec<u8> = vec![7; 1000];
        for i in (0..80u32).rev() {
            run(&mut s, 1 + 512 + i * 1000, &later, &mut got);
        }
        assert!(got.is_empty());
        let hello = vec![0x16u8; 512];
        run(&mut s, 1, &hello, &mut got);
        assert_eq!(got[..512], hello[..]);
        // What followed the hello within the window came too; beyond it, dropped.
        assert_eq!(got.len(), WINDOW);
        assert!(s.anomalies().contains(FlowAnomalies::STREAM_OOO_DROPPED));
        assert!(!s.is_stopped());
    }

    #[test]
    fn same_start_keeps_the_longer_held_copy() {
        let mut s = Stream::default();
        let mut got = Vec::new();
        run(&mut s, 0, b"a", &mut got);
        run(&mut s, 5, b"x", &mut got);
        run(&mut s, 5, b"fghij", &mut got);
        run(&mut s, 1, b"bcde", &mut got);
        assert_eq!(got, b"abcdefghij");
    }
}
