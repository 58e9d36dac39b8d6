//! TLS record layer and handshake message reassembly for one direction of a
//! TCP stream.
//!
//! Bytes are pushed in stream order. Records are parsed as they stream by
//! (never buffered whole); handshake bytes are cut into messages. A message
//! lying wholly inside one pushed chunk is handed out without copying; one
//! spanning records or segments is assembled in a buffer bounded by
//! [`Limits::max_message`]. Inspection stops at the first ChangeCipherSpec or
//! application-data record (what follows is encrypted) or when the bytes are
//! clearly not TLS; after that `push` costs nothing.

use super::reader::be24;

/// Largest record body allowed by RFC 5246 §6.2.3 (2^14 + 2048).
const MAX_RECORD: usize = 16384 + 2048;

const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPLICATION_DATA: u8 = 23;
const CT_HEARTBEAT: u8 = 24;

/// Bounds of one reassembler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest handshake message body kept. A longer message is handed out
    /// truncated to this many bytes (flagged) and the rest is dropped.
    pub max_message: usize,
    /// How many bytes of non-TLS preamble (proxy CONNECT, SOCKS) are searched
    /// for the first handshake record before the stream is declared not TLS.
    pub max_preamble: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 64 * 1024,
            max_preamble: 4096,
        }
    }
}

bitflags::bitflags! {
    /// What was odd about a stream's record layer.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct ReassemblyAnomalies: u32 {
        /// The bytes are not TLS records; inspection stopped.
        const NOT_TLS = 1 << 0;
        /// Non-TLS bytes preceded the first handshake record and were skipped.
        const PREAMBLE_SKIPPED = 1 << 1;
        /// A record announced more than 2^14+2048 bytes; inspection stopped.
        const RECORD_TOO_LONG = 1 << 2;
        /// A handshake message exceeded [`Limits::max_message`]; its head was
        /// handed out truncated and the rest dropped.
        const MESSAGE_TOO_LONG = 1 << 3;
        /// A handshake message was cut short by another record type or a gap.
        const INCOMPLETE_MESSAGE = 1 << 4;
        /// A handshake record with no body.
        const EMPTY_RECORD = 1 << 5;
        /// The caller reported missing stream bytes; inspection stopped.
        const GAP = 1 << 6;
        /// The stream began with an SSLv2-format CLIENT-HELLO.
        const SSLV2_CLIENT_HELLO = 1 << 7;
        /// The stream began with an SSLv2 SERVER-HELLO; inspection stopped.
        const SSLV2_SERVER_HELLO = 1 << 8;
    }
}

/// Why a reassembler stopped looking at its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    ChangeCipherSpec,
    ApplicationData,
    NotTls,
    RecordTooLong,
    Gap,
    Sslv2,
}

/// Counters of one reassembler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    pub records: u64,
    pub messages: u64,
    /// Handshake bytes dropped because a message exceeded the limit.
    pub dropped_bytes: u64,
    /// Non-TLS bytes skipped before the first record.
    pub preamble_bytes: u64,
}

/// One complete handshake message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake<'a> {
    pub msg_type: u8,
    /// The message with its 4-byte header (for SSLv2: the record body,
    /// starting at the message type byte).
    pub message: &'a [u8],
    /// Only the first [`Limits::max_message`] body bytes are present.
    pub truncated: bool,
    /// An SSLv2-format CLIENT-HELLO (read it with
    /// [`parse_sslv2_client_hello`](super::parse_sslv2_client_hello)).
    pub sslv2: bool,
}

impl<'a> Handshake<'a> {
    /// The message body (after the 4-byte header; SSLv2: after the type byte).
    pub fn body(&self) -> &'a [u8] {
        let skip = if self.sslv2 { 1 } else { 4 };
        self.message.get(skip..).unwrap_or(&[])
    }

    /// The ClientHello this message carries, whatever its format.
    pub fn client_hello(&self) -> Option<Result<super::ClientHello, super::TlsError>> {
        if self.msg_type != super::handshake_type::CLIENT_HELLO {
            return None;
        }
        Some(if self.sslv2 {
            super::parse_sslv2_client_hello(self.message)
        } else {
            super::parse_client_hello(self.message)
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing seen yet.
    Start,
    /// The first bytes were not a TLS record: buffering them in `pre_buf` to
    /// recognise SSLv2 or find the first handshake record.
    Preamble,
    Records,
    /// After a ChangeCipherSpec: what follows is encrypted, except a second
    /// ClientHello / ServerHello after a TLS 1.3 HelloRetryRequest (the
    /// middlebox-compatibility CCS may precede it, RFC 8446 D.4).
    AfterCcs,
    Done(StopReason),
}

/// Reassembles handshake messages from one direction of a TCP stream.
#[derive(Debug)]
pub struct HandshakeReassembler {
    limits: Limits,
    phase: Phase,
    anomalies: ReassemblyAnomalies,
    stats: ReassemblyStats,
    // Record layer.
    rec_hdr: [u8; 5],
    rec_hdr_len: usize,
    rec_type: u8,
    rec_remaining: usize,
    /// After a CCS: the first body bytes of a handshake record, to tell a
    /// clear hello from an encrypted Finished.
    probe: [u8; 6],
    probe_len: usize,
    probing: bool,
    // Handshake message being assembled.
    msg_buf: Vec<u8>,
    in_body: bool,
    msg_len: usize,
    msg_have: usize,
    msg_truncated: bool,
    prefix_emitted: bool,
    // Preamble / SSLv2 detection.
    pre_buf: Vec<u8>,
    scan_from: usize,
}

impl Default for HandshakeReassembler {
    fn default() -> Self {
        Self::new()
    }
}

impl HandshakeReassembler {
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Self {
        HandshakeReassembler {
            limits,
            phase: Phase::Start,
            anomalies: ReassemblyAnomalies::empty(),
            stats: ReassemblyStats::default(),
            rec_hdr: [0; 5],
            rec_hdr_len: 0,
            rec_type: 0,
            rec_remaining: 0,
            probe: [0; 6],
            probe_len: 0,
            probing: false,
            msg_buf: Vec::new(),
            in_body: false,
            msg_len: 0,
            msg_have: 0,
            msg_truncated: false,
            prefix_emitted: false,
            pre_buf: Vec::new(),
            scan_from: 0,
        }
    }

    /// True once inspection has stopped; further bytes are ignored.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done(_))
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        match self.phase {
            Phase::Done(r) => Some(r),
            _ => None,
        }
    }

    pub fn anomalies(&self) -> ReassemblyAnomalies {
        self.anomalies
    }

    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// True while part of a handshake message is buffered.
    pub fn in_message(&self) -> bool {
        self.in_body || !self.msg_buf.is_empty()
    }

    /// The caller lost stream bytes (a hole in TCP reassembly): what follows
    /// cannot be framed, so inspection stops.
    pub fn gap(&mut self) {
        if !self.is_done() {
            self.anomalies |= ReassemblyAnomalies::GAP;
            self.stop(StopReason::Gap);
        }
    }

    /// Feeds the next in-order stream bytes; `on_msg` is called for every
    /// handshake message completed by them, in order.
    pub fn push<F: FnMut(Handshake<'_>)>(&mut self, data: &[u8], mut on_msg: F) {
        let mut data = data;
        loop {
            if data.is_empty() {
                return;
            }
            match self.phase {
                Phase::Done(_) => return,
                Phase::Start => {
                    let first = data.first().copied().unwrap_or(0);
                    self.phase = if is_content_type(first) {
                        Phase::Records
                    } else {
                        Phase::Preamble
                    };
                }
                Phase::Preamble => {
                    data = match self.preamble(data, &mut on_msg) {
                        Some(rest) => rest,
                        None => return,
                    };
                }
                Phase::Records | Phase::AfterCcs => {
                    self.records(data, &mut on_msg);
                    return;
                }
            }
        }
    }

    /// Buffers the start of a stream that did not begin with a TLS record.
    /// Returns the bytes of `data` still to be fed as records once SSLv2 or a
    /// handshake record was found (after feeding what the buffer held).
    fn preamble<'d, F: FnMut(Handshake<'_>)>(
        &mut self,
        data: &'d [u8],
        on_msg: &mut F,
    ) -> Option<&'d [u8]> {
        // Only a possible SSLv2 record (top bit set) may be buffered past
        // `max_preamble`, up to its own length limit.
        let first = self.pre_buf.first().or(data.first()).copied().unwrap_or(0);
        let cap = if first & 0x80 != 0 {
            self.limits
                .max_preamble
                .max(2 + 0x7fff.min(self.limits.max_message))
        } else {
            self.limits.max_preamble
        };
        let room = cap.saturating_sub(self.pre_buf.len());
        let (now, later) = data.split_at(room.min(data.len()));
        self.pre_buf.extend_from_slice(now);

        // SSLv2 record: 2-byte header with the top bit set, then the message.
        if self.stats.preamble_bytes == 0 && self.scan_from == 0 {
            match sslv2_hello(&self.pre_buf, self.limits.max_message) {
                Sslv2::NeedMore => return None,
                Sslv2::Client(total) => {
                    let buf = std::mem::take(&mut self.pre_buf);
                    self.anomalies |= ReassemblyAnomalies::SSLV2_CLIENT_HELLO;
                    self.stats.records += 1;
                    self.stats.messages += 1;
                    on_msg(Handshake {
                        msg_type: super::handshake_type::CLIENT_HELLO,
                        message: buf.get(2..total).unwrap_or(&[]),
                        truncated: false,
                        sslv2: true,
                    });
                    // A client that upgrades continues with TLS records.
                    self.phase = Phase::Records;
                    self.records(buf.get(total..).unwrap_or(&[]), on_msg);
                    return Some(later);
                }
                Sslv2::Server => {
                    self.anomalies |= ReassemblyAnomalies::SSLV2_SERVER_HELLO;
                    self.stop(StopReason::Sslv2);
                    return None;
                }
                Sslv2::No => {}
            }
        }

        // Look for `16 03 0x len len 01|02 00`: a handshake record holding a
        // hello shorter than 64 KiB.
        let found = self
            .pre_buf
            .windows(7)
            .enumerate()
            .skip(self.scan_from)
            .find(|(_, w)| is_hello_record_start(w))
            .map(|(i, _)| i);
        match found {
            Some(i) => {
                let buf = std::mem::take(&mut self.pre_buf);
                self.stats.preamble_bytes += i as u64;
                self.anomalies |= ReassemblyAnomalies::PREAMBLE_SKIPPED;
                self.phase = Phase::Records;
                self.records(buf.get(i..).unwrap_or(&[]), on_msg);
                Some(later)
            }
            None => {
                self.scan_from = self.pre_buf.len().saturating_sub(6);
                if self.pre_buf.len() >= self.limits.max_preamble {
                    self.anomalies |= ReassemblyAnomalies::NOT_TLS;
                    self.stop(StopReason::NotTls);
                }
                None
            }
        }
    }

    fn records<F: FnMut(Handshake<'_>)>(&mut self, data: &[u8], on_msg: &mut F) {
        let mut data = data;
        while !data.is_empty() && matches!(self.phase, Phase::Records | Phase::AfterCcs) {
            if self.rec_remaining == 0 {
                // Record header, possibly split across pushes.
                let hdr: [u8; 5] = if self.rec_hdr_len == 0 && data.len() >= 5 {
                    let (h, rest) = data.split_at(5);
                    data = rest;
                    match h.try_into() {
                        Ok(h) => h,
                        Err(_) => return,
                    }
                } else {
                    let take = (5 - self.rec_hdr_len).min(data.len());
                    let (h, rest) = data.split_at(take);
                    if let Some(dst) = self
                        .rec_hdr
                        .get_mut(self.rec_hdr_len..self.rec_hdr_len + take)
                    {
                        dst.copy_from_slice(h);
                    }
                    self.rec_hdr_len += take;
                    data = rest;
                    if self.rec_hdr_len < 5 {
                        return;
                    }
                    self.rec_hdr_len = 0;
                    self.rec_hdr
                };
                self.record_header(hdr);
            } else {
                let n = self.rec_remaining.min(data.len());
                let (body, rest) = data.split_at(n);
                data = rest;
                self.rec_remaining -= n;
                if self.probing {
                    self.probe_bytes(body, on_msg);
                } else if self.rec_type == CT_HANDSHAKE {
                    self.handshake_bytes(body, on_msg);
                }
            }
        }
    }

    fn record_header(&mut self, hdr: [u8; 5]) {
        let [ct, major, minor, hi, lo] = hdr;
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if !is_content_type(ct) || major != 3 || minor > 4 {
            self.anomalies |= ReassemblyAnomalies::NOT_TLS;
            self.stop(StopReason::NotTls);
            return;
        }
        if len > MAX_RECORD {
            self.anomalies |= ReassemblyAnomalies::RECORD_TOO_LONG;
            self.stop(StopReason::RecordTooLong);
            return;
        }
        self.stats.records += 1;
        let after_ccs = self.phase == Phase::AfterCcs;
        match ct {
            CT_CHANGE_CIPHER_SPEC if after_ccs || self.in_message() => {
                self.stop(StopReason::ChangeCipherSpec)
            }
            CT_CHANGE_CIPHER_SPEC => {
                self.phase = Phase::AfterCcs;
                self.rec_type = ct;
                self.rec_remaining = len;
            }
            CT_APPLICATION_DATA => self.stop(StopReason::ApplicationData),
            CT_HANDSHAKE if after_ccs && len < self.probe.len() => {
                self.stop(StopReason::ChangeCipherSpec)
            }
            _ => {
                if ct == CT_HANDSHAKE && len == 0 {
                    self.anomalies |= ReassemblyAnomalies::EMPTY_RECORD;
                }
                self.probing = after_ccs && ct == CT_HANDSHAKE;
                self.probe_len = 0;
                self.rec_type = ct;
                self.rec_remaining = len;
            }
        }
    }

    /// Collects the first bytes of a handshake record after a CCS; a clear
    /// ClientHello / ServerHello header resumes reassembly, anything else
    /// (an encrypted Finished) ends it.
    fn probe_bytes<F: FnMut(Handshake<'_>)>(&mut self, body: &[u8], on_msg: &mut F) {
        let take = (self.probe.len() - self.probe_len).min(body.len());
        let (head, rest) = body.split_at(take);
        if let Some(dst) = self.probe.get_mut(self.probe_len..self.probe_len + take) {
            dst.copy_from_slice(head);
        }
        self.probe_len += take;
        if self.probe_len < self.probe.len() {
            return;
        }
        self.probing = false;
        match self.probe {
            [1 | 2, _, _, _, 3, 0..=4] => {
                self.phase = Phase::Records;
                let probe = self.probe;
                self.handshake_bytes(&probe, on_msg);
                self.handshake_bytes(rest, on_msg);
            }
            _ => self.stop(StopReason::ChangeCipherSpec),
        }
    }

    /// Cuts handshake-record body bytes into messages.
    fn handshake_bytes<F: FnMut(Handshake<'_>)>(&mut self, bytes: &[u8], on_msg: &mut F) {
        let max = self.limits.max_message;
        let mut bytes = bytes;
        while !bytes.is_empty() {
            if !self.in_body {
                // Fast path: a whole message inside this chunk, no copy.
                if self.msg_buf.is_empty() {
                    if let (Some(&t), Some(len_bytes)) = (bytes.first(), bytes.get(1..4)) {
                        let len = be24(len_bytes);
                        if len <= max {
                            if let Some(message) = bytes.get(..4 + len) {
                                self.stats.messages += 1;
                                on_msg(Handshake {
                                    msg_type: t,
                                    message,
                                    truncated: false,
                                    sslv2: false,
                                });
                                bytes = bytes.get(4 + len..).unwrap_or(&[]);
                                continue;
                            }
                        }
                    }
                }
                let take = (4 - self.msg_buf.len()).min(bytes.len());
                let (h, rest) = bytes.split_at(take);
                self.msg_buf.extend_from_slice(h);
                bytes = rest;
                if self.msg_buf.len() < 4 {
                    return;
                }
                self.in_body = true;
                self.msg_len = self.msg_buf.get(1..4).map_or(0, be24);
                self.msg_have = 0;
                self.msg_truncated = self.msg_len > max;
                self.prefix_emitted = false;
                if self.msg_truncated {
                    self.anomalies |= ReassemblyAnomalies::MESSAGE_TOO_LONG;
                }
            }
            let take = (self.msg_len - self.msg_have).min(bytes.len());
            let (chunk, rest) = bytes.split_at(take);
            bytes = rest;
            self.msg_have += take;
            let stored = self.msg_buf.len().saturating_sub(4);
            let keep = if self.prefix_emitted {
                0
            } else {
                max.saturating_sub(stored).min(chunk.len())
            };
            self.msg_buf
                .extend_from_slice(chunk.get(..keep).unwrap_or(&[]));
            self.stats.dropped_bytes += (chunk.len() - keep) as u64;

            if self.msg_truncated && !self.prefix_emitted && self.msg_buf.len() >= 4 + max {
                // Hand out the head now: the tail may never come.
                self.prefix_emitted = true;
                self.stats.messages += 1;
                on_msg(Handshake {
                    msg_type: self.msg_buf.first().copied().unwrap_or(0),
                    message: &self.msg_buf,
                    truncated: true,
                    sslv2: false,
                });
                self.msg_buf.clear();
            }
            if self.msg_have == self.msg_len {
                if !self.msg_truncated {
                    self.stats.messages += 1;
                    on_msg(Handshake {
                        msg_type: self.msg_buf.first().copied().unwrap_or(0),
                        message: &self.msg_buf,
                        truncated: false,
                        sslv2: false,
                    });
                }
                self.msg_buf.clear();
                self.in_body = false;
            }
        }
    }

    fn stop(&mut self, reason: StopReason) {
        if self.in_message() {
            self.anomalies |= ReassemblyAnomalies::INCOMPLETE_MESSAGE;
        }
        self.phase = Phase::Done(reason);
        // Nothing more will be read: give the buffers back.
        self.msg_buf = Vec::new();
        self.pre_buf = Vec::new();
        self.in_body = false;
    }
}

fn is_content_type(b: u8) -> bool {
    matches!(
        b,
        CT_CHANGE_CIPHER_SPEC | CT_ALERT | CT_HANDSHAKE | CT_APPLICATION_DATA | CT_HEARTBEAT
    )
}

fn is_hello_record_start(w: &[u8]) -> bool {
    match *w {
        [CT_HANDSHAKE, 3, minor, hi, lo, t, 0] => {
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            minor <= 4 && (4..=MAX_RECORD).contains(&len) && (t == 1 || t == 2)
        }
        _ => false,
    }
}

enum Sslv2 {
    NeedMore,
    /// A CLIENT-HELLO record of this many bytes (header included) is buffered.
    Client(usize),
    Server,
    No,
}

/// Recognises an SSLv2 record (2-byte header form) holding a CLIENT-HELLO
/// (type 1, version SSLv2..TLS 1.2) or SERVER-HELLO (type 4).
fn sslv2_hello(buf: &[u8], max: usize) -> Sslv2 {
    let Some(&[h0, h1, t, v0, v1]) = buf.get(..5).and_then(|b| <&[u8; 5]>::try_from(b).ok()) else {
        return match buf.first() {
            Some(b) if b & 0x80 == 0 => Sslv2::No,
            _ => Sslv2::NeedMore,
        };
    };
    if h0 & 0x80 == 0 {
        return Sslv2::No;
    }
    let len = (usize::from(h0 & 0x7f) << 8) | usize::from(h1);
    match (t, v0, v1) {
        // CLIENT-HELLO: version, then three u16 lengths.
        (1, 0, 2) | (1, 3, 0..=3) if (9..=max).contains(&len) => {
            if buf.len() >= 2 + len {
                Sslv2::Client(2 + len)
            } else {
                Sslv2::NeedMore
            }
        }
        // SERVER-HELLO: session-id-hit, certificate type, then version 0x0002.
        (4, 0 | 1, 1) if len >= 10 => Sslv2::Server,
        _ => Sslv2::No,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(r: &mut HandshakeReassembler, data: &[u8], out: &mut Vec<(u8, Vec<u8>, bool)>) {
        r.push(data, |h| {
            out.push((h.msg_type, h.message.to_vec(), h.truncated))
        });
    }

    fn record(ct: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ct, 3, 3];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn msg(t: u8, body: &[u8]) -> Vec<u8> {
        let l = body.len();
        let mut v = vec![t, (l >> 16) as u8, (l >> 8) as u8, l as u8];
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn one_record_one_message_zero_copy() {
        let m = msg(1, &[0xaa; 40]);
        let data = record(22, &m);
        let mut r = HandshakeReassembler::new();
        let mut seen = Vec::new();
        r.push(&data, |h| {
            // The message is a slice of the pushed bytes, not a copy.
            assert!(std::ptr::eq(h.message.as_ptr(), data[5..].as_ptr()));
            seen.push(h.msg_type);
        });
        assert_eq!(seen, vec![1]);
        assert_eq!(r.stats().records, 1);
        assert_eq!(r.stats().messages, 1);
        assert!(!r.is_done());
        assert_eq!(r.anomalies(), ReassemblyAnomalies::empty());
    }

    #[test]
    fn split_in_one_byte_pieces() {
        let m1 = msg(2, &[1; 70]);
        let m2 = msg(11, &[2; 300]);
        let mut data = record(22, &[m1.clone(), m2.clone()].concat());
        data.extend(record(20, &[1]));
        data.extend(record(23, &[9; 10]));
        let mut r = HandshakeReassembler::new();
        let mut out = Vec::new();
        for b in &data {
            collect(&mut r, std::slice::from_ref(b), &mut out);
        }
        assert_eq!(out, vec![(2, m1, false), (11, m2, false)]);
        assert_eq!(r.stop_reason(), Some(StopReason::ApplicationData));
        assert_eq!(r.stats().records, 3);
        assert_eq!(r.anomalies(), ReassemblyAnomalies::empty());
    }

    #[test]
    fn message_spanning_three_records() {
        let m = msg(1, &(0..=255u8).cycle().take(1000).collect::<Vec<_>>());
        let (a, rest) = m.split_at(3); // even the header is split
        let (b, c) = rest.split_at(500);
        let data = [record(22, a), record(22, b), record(22, c)].concat();
        let mut r = HandshakeReassembler::new();
        let mut out = Vec::new();
        collect(&mut r, &data, &mut out);
        assert_eq!(out, vec![(1, m, false)]);
        assert_eq!(r.stats().records, 3);
        assert!(!r.in_message());
    }

    #[test]
    fn two_messages_in_one_record_then_partial() {
        let m1 = msg(2, &[1; 10]);
        let m2 = msg(14, &[]);
        let m3 = msg(11, &[3; 20]);
        let data = record(22, &[m1.clone(), m2.clone(), m3[..10].to_vec()].concat());
        let mut r = HandshakeReassembler::new();
        let mut out = Vec::new();
        collect(&mut r, &data, &mut out);
        assert_eq!(out, vec![(2, m1, false), (14, m2, false)]);
        assert!(r.in_message());
        collect(&mut r, &record(22, &m3[10..]), &mut out);
        assert_eq!(out.last(), Some(&(11, m3, false)));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn oversized_message_head_handed_out_and_tail_dropped() {
        let limits = Limits {
            max_message: 100,
            ..Limits::default()
        };
        let m = msg(11, &[7; 250]);
        let tail = msg(14, &[]);
        let data = [record(22, &m), record(22, &tail)].concat();
        let mut r = HandshakeReassembler::with_limits(limits);
        let mut out = Vec::new();
        for chunk in data.chunks(33) {
            collect(&mut r, chunk, &mut out);
        }
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], (11, m[..104].to_vec(), true));
        assert_eq!(out[1], (14, tail, false));
        assert_eq!(r.stats().dropped_bytes, 150);
        assert!(r
            .anomalies()
            .contains(ReassemblyAnomalies::MESSAGE_TOO_LONG));
    }

    #[test]
    fn bogus_lengths_stop_inspection() {
        // A record claiming 0xffff bytes is not TLS.
        let mut r = HandshakeReassembler::new();
        let mut out = Vec::new();
        collect(&mut r, &[22, 3, 1, 0xff, 0xff, 1, 0, 0], &mut out);
        assert_eq!(r.stop_reason(), Some(StopReason::RecordTooLong));
        // A second header with a bad version after a good record.
        let mut r = HandshakeReassembler::new();
        let data = [
            record(22, &msg(1, &[0; 4])),
            vec![22, 9, 9, 0, 4, 0, 0, 0, 0],
        ]
        .concat();
        collect(&mut r, &data, &mut out);
        assert_eq!(r.stop_reason(), Some(StopReason::NotTls));
        assert_eq!(out.len(), 1);
        // A handshake message announcing 16 MiB inside a short record: the
        // prefix never fills, the CCS that follows marks it incomplete.
        let mut r = HandshakeReassembler::new();
        let data = [record(22, &[1, 0xff, 0xff, 0xff, 1, 2]), record(20, &[1])].concat();
        collect(&mut r, &data, &mut out);
        assert_eq!(r.stop_reason(), Some(StopReason::ChangeCipherSpec));
        assert!(r.anomalies().contains(
            ReassemblyAnomalies::MESSAGE_TOO_LONG | ReassemblyAnomalies::INCOMPLETE_MESSAGE
        ));
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn not_tls_after_preamble_limit() {
        let mut r = HandshakeReassembler::new();
        let mut out = Vec::new();
        let http = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".repeat(200);
        collect(&mut r, &http, &mut out);
        assert!(out.is_empty());
        assert_eq!(r.stop_reason(), Some(StopReason::NotTls));
        // The limit is exact: one byte short of it, still looking.
        let mut r2 = HandshakeReassembler::new();
        r2.push(&http[..Limits::default().max_preamble - 1], |_| {});
        assert!(!r2.is_done());
        r2.push(&http[..1], |_| {});
        assert_eq!(r2.stop_reason(), Some(StopReason::NotTls));
        // Bytes after the stop are ignored.
        collect(&mut r, &record(22, &msg(1, &[0; 4])), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn connect_preamble_skipped() {
        let hello = msg(1, &[5; 60]);
        let mut data =
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_vec();
        let pre = data.len();
        data.extend(record(22, &hello));
        let mut r = HandshakeReassembler::new();
        let mut out = Vec::new();
        for chunk in data.chunks(7) {
            collect(&mut r, chunk, &mut out);
        }
        assert_eq!(out, vec![(1, hello, false)]);
        assert_eq!(r.stats().preamble_bytes, pre as u64);
        assert!(r
            .anomalies()
            .contains(ReassemblyAnomalies::PREAMBLE_SKIPPED));
    }

    #[test]
    fn sslv2_client_hello_then_tls_records() {
        // SSLv2 CLIENT-HELLO: version 3.1, 2 cipher specs, no session id, 16-byte challenge.
        let mut body = vec![1, 3, 1, 0, 6, 0, 0, 0, 16];
        body.extend([0x00, 0x00, 0x04, 0x01, 0x00, 0x80]);
        body.extend([0x11; 16]);
        let mut data = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
        data.extend(&body);
        let later = msg(16, &[1; 8]);
        data.extend(record(22, &later));
        let mut r = HandshakeReassembler::new();
        let mut hellos = Vec::new();
        let mut out = Vec::new();
        for b in &data {
            r.push(std::slice::from_ref(b), |h| {
                if h.sslv2 {
                    hellos.push(h.client_hello().unwrap().unwrap());
                } else {
                    out.push((h.msg_type, h.message.to_vec()));
                }
            });
        }
        assert_eq!(hellos.len(), 1);
        assert!(hellos[0].sslv2);
        assert_eq!(hellos[0].legacy_version, 0x0301);
        assert_eq!(hellos[0].cipher_suites, vec![0x0004]);
        assert_eq!(out, vec![(16, later)]);
        assert!(r
            .anomalies()
            .contains(ReassemblyAnomalies::SSLV2_CLIENT_HELLO));
    }

    #[test]
    fn sslv2_server_hello_stops() {
        let mut r = HandshakeReassembler::new();
        let mut n = 0;
        r.push(&[0x80, 0x40, 4, 0, 1, 0, 2, 1, 0, 0, 0, 0], |_| n += 1);
        assert_eq!(n, 0);
        assert_eq!(r.stop_reason(), Some(StopReason::Sslv2));
    }

    #[test]
    fn second_client_hello_after_compat_ccs() {
        // TLS 1.3 HelloRetryRequest: ClientHello, CCS, second ClientHello.
        let ch1 = msg(1, &[3, 3, 1, 1, 1]);
        let ch2 = msg(1, &[3, 3, 2, 2, 2, 2]);
        let data = [
            record(22, &ch1),
            record(20, &[1]),
            record(22, &ch2),
            record(23, &[0; 30]),
        ]
        .concat();
        for step in [1, 3, data.len()] {
            let mut r = HandshakeReassembler::new();
            let mut out = Vec::new();
            for chunk in data.chunks(step) {
                collect(&mut r, chunk, &mut out);
            }
            assert_eq!(out, vec![(1, ch1.clone(), false), (1, ch2.clone(), false)]);
            assert_eq!(r.stop_reason(), Some(StopReason::ApplicationData));
        }
    }

    #[test]
    fn encrypted_finished_after_ccs_stops() {
        // TLS 1.2: CCS then an encrypted Finished in a handshake record.
        let data = [
            record(22, &msg(16, &[1; 10])),
            record(20, &[1]),
            record(22, &[0, 0, 0, 0, 0, 0, 0, 0, 0x8f, 0x11, 0x27, 0x5e]),
            record(22, &msg(1, &[3, 3, 0])),
        ]
        .concat();
        let mut r = HandshakeReassembler::new();
        let mut out = Vec::new();
        collect(&mut r, &data, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(r.stop_reason(), Some(StopReason::ChangeCipherSpec));
        // A CCS in the middle of a message ends inspection at once.
        let mut r = HandshakeReassembler::new();
        collect(
            &mut r,
            &[record(22, &msg(1, &[3; 10])[..6]), record(20, &[1])].concat(),
            &mut out,
        );
        assert_eq!(r.stop_reason(), Some(StopReason::ChangeCipherSpec));
        assert!(r
            .anomalies()
            .contains(ReassemblyAnomalies::INCOMPLETE_MESSAGE));
    }

    #[test]
    fn application_data_first_stops_at_once() {
        let mut r = HandshakeReassembler::new();
        let mut n = 0;
        r.push(&record(23, &[1, 2, 3]), |_| n += 1);
        assert_eq!(r.stop_reason(), Some(StopReason::ApplicationData));
        assert_eq!(n, 0);
    }

    #[test]
    fn gap_marks_incomplete() {
        let mut r = HandshakeReassembler::new();
        let mut n = 0;
        r.push(&record(22, &msg(11, &[0; 10])[..8]), |_| n += 1);
        assert!(r.in_message());
        r.gap();
        assert_eq!(r.stop_reason(), Some(StopReason::Gap));
        assert!(r
            .anomalies()
            .contains(ReassemblyAnomalies::GAP | ReassemblyAnomalies::INCOMPLETE_MESSAGE));
        assert_eq!(n, 0);
    }

    #[test]
    fn alerts_and_empty_records_are_skipped() {
        let m = msg(2, &[1; 5]);
        let data = [record(21, &[2, 40]), record(22, &[]), record(22, &m)].concat();
        let mut r = HandshakeReassembler::new();
        let mut out = Vec::new();
        collect(&mut r, &data, &mut out);
        assert_eq!(out, vec![(2, m, false)]);
        assert!(r.anomalies().contains(ReassemblyAnomalies::EMPTY_RECORD));
    }
}
