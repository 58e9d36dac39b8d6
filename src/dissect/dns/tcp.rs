//! DNS over TCP: messages behind a 2-byte length prefix (RFC 1035 §4.2.2).

/// Largest message the length prefix can announce.
pub const MAX_TCP_MESSAGE: usize = 65_535;
/// Default cap on buffered bytes: one whole message plus a large segment.
pub const DEFAULT_BUFFER_CAP: usize = 2 * (MAX_TCP_MESSAGE + 2);

/// What a framer saw and what it threw away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FramerStats {
    /// Messages handed out.
    pub messages: u64,
    /// Messages skipped: over the size limit, or zero-length.
    pub dropped_messages: u64,
    /// Bytes discarded (skipped message bodies, overflowed buffer).
    pub dropped_bytes: u64,
    /// Times framing was lost because the buffer cap was hit.
    pub desyncs: u64,
}

/// Splits one direction of an in-order TCP byte stream into DNS messages.
///
/// Feed it with [`push`](Self::push) and drain with
/// [`next_message`](Self::next_message) after each push (or use
/// [`feed`](Self::feed)). Memory is bounded: a message longer than the
/// configured maximum is skipped and counted, and if the caller lets more than
/// the buffer cap pile up, the buffer is dropped and the framer stops
/// (`is_desynced`) until [`reset`](Self::reset), since the message boundaries
/// are then lost.
#[derive(Debug)]
pub struct TcpDnsFramer {
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    start: usize,
    /// Body bytes of an oversized message still to skip.
    skip: usize,
    desynced: bool,
    max_message: usize,
    max_buffer: usize,
    stats: FramerStats,
}

impl Default for TcpDnsFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl TcpDnsFramer {
    pub fn new() -> Self {
        Self::with_limits(MAX_TCP_MESSAGE, DEFAULT_BUFFER_CAP)
    }

    /// `max_message`: longest message kept; `max_buffer`: most bytes held.
    pub fn with_limits(max_message: usize, max_buffer: usize) -> Self {
        TcpDnsFramer {
            buf: Vec::new(),
            start: 0,
            skip: 0,
            desynced: false,
            max_message,
            max_buffer,
            stats: FramerStats::default(),
        }
    }

    pub fn stats(&self) -> FramerStats {
        self.stats
    }

    pub fn is_desynced(&self) -> bool {
        self.desynced
    }

    /// Bytes held waiting for the rest of a message.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Forgets buffered bytes and framing state (e.g. after a gap in the stream);
    /// the next byte pushed must be the start of a length prefix.
    pub fn reset(&mut self) {
        self.stats.dropped_bytes = self
            .stats
            .dropped_bytes
            .saturating_add(self.buffered() as u64);
        self.buf.clear();
        self.start = 0;
        self.skip = 0;
        self.desynced = false;
    }

    /// Appends the next in-order bytes of the stream.
    pub fn push(&mut self, data: &[u8]) {
        if self.desynced {
            self.count_dropped(data.len());
            return;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let mut data = data;
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            self.count_dropped(n);
            data = data.get(n..).unwrap_or_default();
        }
        if self.buf.len().saturating_add(data.len()) > self.max_buffer {
            let lost = self.buf.len() + data.len();
            self.count_dropped(lost);
            self.buf.clear();
            self.desynced = true;
            self.stats.desyncs += 1;
            return;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete message (without its length prefix), if buffered.
    pub fn next_message(&mut self) -> Option<&[u8]> {
        loop {
            if self.desynced {
                return None;
            }
            let avail = self.buf.get(self.start..)?;
            let [hi, lo, ..] = *avail else {
                return None;
            };
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            let have = avail.len() - 2;
            if len == 0 || len > self.max_message {
                self.stats.dropped_messages += 1;
                if have >= len {
                    self.start += 2 + len;
                    self.count_dropped(len);
                    continue;
                }
                // Skip the rest of this body as it arrives.
                self.skip = len - have;
                self.count_dropped(have);
                self.start = self.buf.len();
                return None;
            }
            if have < len {
                return None;
            }
            let from = self.start + 2;
            self.start = from + len;
            self.stats.messages += 1;
            return self.buf.get(from..from + len);
        }
    }

    /// Pushes `data` in chunks that cannot overflow the buffer and calls `f`
    /// on every message completed by it.
    pub fn feed(&mut self, data: &[u8], mut f: impl FnMut(&[u8])) {
        // After draining, at most one partial message (< 2 + max_message bytes)
        // stays buffered; a chunk of the remaining room always fits beside it.
        let chunk = self.max_buffer.saturating_sub(self.max_message + 1).max(1);
        for part in data.chunks(chunk) {
            self.push(part);
            while let Some(m) = self.next_message() {
                f(m);
            }
        }
    }

    fn count_dropped(&mut self, n: usize) {
        self.stats.dropped_bytes = self.stats.dropped_bytes.saturating_add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(msgs: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for m in msgs {
            v.extend_from_slice(&(m.len() as u16).to_be_bytes());
            v.extend_from_slice(m);
        }
        v
    }

    fn drain(f: &mut TcpDnsFramer) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(m) = f.next_message() {
            out.push(m.to_vec());
        }
        out
    }

    #[test]
    fn several_messages_in_one_segment() {
        let mut f = TcpDnsFramer::new();
        f.push(&framed(&[b"first", b"second!", b"3"]));
        assert_eq!(
            drain(&mut f),
            vec![b"first".to_vec(), b"second!".to_vec(), b"3".to_vec()]
        );
        assert_eq!(f.stats().messages, 3);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn every_split_point_of_two_messages() {
        let stream = framed(&[b"hello world", b"dns"]);
        for cut in 0..=stream.len() {
            for cut2 in cut..=stream.len() {
                let mut f = TcpDnsFramer::new();
                let mut got = Vec::new();
                for part in [&stream[..cut], &stream[cut..cut2], &stream[cut2..]] {
                    f.push(part);
                    got.extend(drain(&mut f));
                }
                assert_eq!(
                    got,
                    vec![b"hello world".to_vec(), b"dns".to_vec()],
                    "cuts {cut} {cut2}"
                );
                assert_eq!(f.buffered(), 0);
            }
        }
    }

    #[test]
    fn byte_by_byte() {
        let stream = framed(&[b"abc", b"", b"defg"]);
        let mut f = TcpDnsFramer::new();
        let mut got = Vec::new();
        for b in &stream {
            f.push(std::slice::from_ref(b));
            got.extend(drain(&mut f));
        }
        assert_eq!(got, vec![b"abc".to_vec(), b"defg".to_vec()]);
        // The zero-length message is dropped and counted.
        assert_eq!(f.stats().dropped_messages, 1);
        assert_eq!(f.stats().messages, 2);
    }

    #[test]
    fn oversized_message_is_skipped_across_segments() {
        let mut f = TcpDnsFramer::with_limits(8, 1024);
        let big = [0xAAu8; 20];
        let stream = framed(&[b"ok", &big, b"after"]);
        // Cut inside the oversized body.
        f.push(&stream[..10]);
        assert_eq!(drain(&mut f), vec![b"ok".to_vec()]);
        f.push(&stream[10..15]);
        assert!(drain(&mut f).is_empty());
        f.push(&stream[15..]);
        assert_eq!(drain(&mut f), vec![b"after".to_vec()]);
        assert_eq!(f.stats().dropped_messages, 1);
        assert_eq!(f.stats().dropped_bytes, 20);
    }

    #[test]
    fn buffer_cap_desyncs_until_reset() {
        let mut f = TcpDnsFramer::with_limits(MAX_TCP_MESSAGE, 16);
        // Announces 100 bytes, never drained fast enough: 2 + 20 > 16.
        let mut s = vec![0u8, 100];
        s.extend_from_slice(&[1u8; 20]);
        f.push(&s);
        assert!(f.is_desynced());
        assert_eq!(f.stats().desyncs, 1);
        assert_eq!(f.stats().dropped_bytes, 22);
        f.push(b"\x00\x01x");
        assert!(f.next_message().is_none());
        f.reset();
        f.push(b"\x00\x01x");
        assert_eq!(drain(&mut f), vec![b"x".to_vec()]);
    }

    #[test]
    fn feed_handles_input_larger_than_the_cap() {
        let msgs: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 30]).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        let stream = framed(&refs);
        let mut f = TcpDnsFramer::with_limits(64, 100);
        let mut got = Vec::new();
        f.feed(&stream, |m| got.push(m.to_vec()));
        assert_eq!(got, msgs);
        assert!(!f.is_desynced());
    }
}
