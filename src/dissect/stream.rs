//! In-order delivery of one direction of a TCP stream, for the dissectors.
//!
//! Only the start of a stream is inspected, so this is deliberately small:
//! in-order bytes go straight through; segments ahead of a hole wait in a
//! bounded list; retransmitted bytes are skipped. When the list overflows, or
//! a hole never fills, the stream reports a gap and stops.

/// Segments held ahead of a hole, at most.
const MAX_PENDING_SEGMENTS: usize = 32;
/// Bytes held ahead of a hole, at most.
const MAX_PENDING_BYTES: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct Stream {
    /// Next expected sequence number (None until the SYN or first segment).
    next: Option<u32>,
    /// Bytes delivered so far.
    delivered: u64,
    pending: Vec<(u32, Vec<u8>)>,
    pending_bytes: usize,
    /// Highest acknowledgement the peer sent for this direction.
    peer_ack: Option<u32>,
    /// A gap was reported: nothing more is delivered.
    stopped: bool,
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

    /// A SYN (or SYN-ACK) with initial sequence number `isn`. Before any data,
    /// a later SYN replaces an earlier one (the last of several SYN-ACKs is the real one).
    pub fn syn(&mut self, isn: u32) {
        if self.delivered == 0 && self.pending.is_empty() {
            self.next = Some(isn.wrapping_add(1));
        }
    }

    /// The peer acknowledged this direction up to `ack`.
    pub fn peer_acked(&mut self, ack: u32) {
        if self.peer_ack.is_none_or(|a| seq_diff(ack, a) > 0) {
            self.peer_ack = Some(ack);
        }
    }

    /// Handles a segment's payload at `seq`, passing in-order bytes to `out`.
    /// A segment after a hole the peer has already acknowledged (lost by the
    /// capture, so never retransmitted) is not held: the hole is marked and
    /// delivery goes on from the segment, as Suricata reports a gap.
    pub fn segment(&mut self, seq: u32, data: &[u8], out: &mut impl FnMut(Piece<'_>)) -> Delivery {
        if self.stopped {
            return Delivery::Gap;
        }
        if data.is_empty() {
            return Delivery::Ok;
        }
        let next = *self.next.get_or_insert(seq);
        let ahead = seq_diff(seq, next);
        if ahead > 0 {
            if self.peer_ack.is_none_or(|a| seq_diff(a, seq) < 0) {
                return self.hold(seq, data);
            }
            out(Piece::Hole);
            self.next = Some(seq);
        }
        self.deliver(seq, data, out);
        self.drain(out);
        Delivery::Ok
    }

    /// Delivers the part of `data` (at `seq`, not after `next`) not yet delivered.
    fn deliver(&mut self, seq: u32, data: &[u8], out: &mut impl FnMut(Piece<'_>)) {
        let Some(next) = self.next else {
            return;
        };
        let skip = (-seq_diff(seq, next)).max(0) as usize;
        if let Some(new) = data.get(skip..).filter(|d| !d.is_empty()) {
            out(Piece::Data(new));
            self.delivered += new.len() as u64;
            self.next = Some(next.wrapping_add(new.len() as u32));
        }
    }

    fn hold(&mut self, seq: u32, data: &[u8]) -> Delivery {
        if let Some(slot) = self.pending.iter_mut().find(|(s, _)| *s == seq) {
            // Same start twice: keep the longer copy.
            if data.len() > slot.1.len() {
                self.pending_bytes = self.pending_bytes + data.len() - slot.1.len();
                slot.1 = data.to_vec();
            }
        } else {
            self.pending.push((seq, data.to_vec()));
            self.pending_bytes += data.len();
        }
        if self.pending.len() > MAX_PENDING_SEGMENTS || self.pending_bytes > MAX_PENDING_BYTES {
            self.give_up();
            return Delivery::Gap;
        }
        Delivery::Ok
    }

    /// Delivers held segments that the stream has now reached.
    fn drain(&mut self, out: &mut impl FnMut(Piece<'_>)) {
        while let Some(next) = self.next {
            let Some(i) = self
                .pending
                .iter()
                .position(|(s, _)| seq_diff(*s, next) <= 0)
            else {
                break;
            };
            let (seq, data) = self.pending.swap_remove(i);
            self.pending_bytes -= data.len();
            self.deliver(seq, &data, out);
        }
    }

    /// The hole will not fill (flow ending, budget spent): report a gap.
    pub fn give_up(&mut self) {
        self.stopped = true;
        self.pending = Vec::new();
        self.pending_bytes = 0;
    }

    /// Bytes waiting behind a hole.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
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
    fn too_much_behind_a_hole_is_a_gap() {
        let mut s = Stream::default();
        let mut got = Vec::new();
        run(&mut s, 0, b"a", &mut got);
        let mut last = Delivery::Ok;
        for i in 0..40u32 {
            last = run(&mut s, 100 + i * 10, b"zz", &mut got);
        }
        assert_eq!(last, Delivery::Gap);
        assert!(s.is_stopped());
        assert_eq!(run(&mut s, 1, b"b", &mut got), Delivery::Gap);
        assert_eq!(got, b"a");
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
