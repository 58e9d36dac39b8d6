//! DNS messages: header, question and resource-record sections, rdata.

use super::anomalies::{hex_digit, DnsAnomalies};
use super::name::{read_name, skip_name, slice_to_text, NameCx};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Length of the fixed DNS header.
pub const HEADER_LEN: usize = 12;
/// Records kept per section; the rest are parsed past and counted in
/// [`DnsAnomalies::records_dropped`]. A 64 KiB message could hold ~5 900 tiny
/// records; no real message needs more than a few dozen.
pub const MAX_RECORDS_PER_SECTION: usize = 256;
/// EDNS options / SVCB parameters kept per record.
pub const MAX_OPTIONS: usize = 32;
/// Raw rdata bytes kept per record (NULL, unknown and malformed data, TXT
/// strings together) and per EDNS option or SVCB value: the rest is cut and
/// flagged `rdata_truncated`. A record may carry 64 KiB; written escaped or
/// in hex that made one packet a line of hundreds of KiB.
pub const MAX_RDATA_BYTES: usize = 2048;

/// The bytes cannot be a DNS message at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotDns {
    #[error("{0} bytes is shorter than the 12-byte DNS header")]
    TooShort(usize),
}

/// Header flags, decoded from the 16-bit flags word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsFlags {
    /// The flags word as on the wire (opcode and rcode included).
    pub raw: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: bool,
    pub ad: bool,
    pub cd: bool,
}

impl DnsFlags {
    pub fn from_raw(raw: u16) -> Self {
        DnsFlags {
            raw,
            qr: raw & 0x8000 != 0,
            opcode: ((raw >> 11) & 0x0F) as u8,
            aa: raw & 0x0400 != 0,
            tc: raw & 0x0200 != 0,
            rd: raw & 0x0100 != 0,
            ra: raw & 0x0080 != 0,
            z: raw & 0x0040 != 0,
            ad: raw & 0x0020 != 0,
            cd: raw & 0x0010 != 0,
        }
    }
}

/// One entry of the question section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsQuery {
    pub rrname: String,
    pub rrname_truncated: bool,
    pub rrtype: u16,
    /// Class as on the wire (mDNS puts the unicast-response bit in bit 15).
    pub rrclass: u16,
}

/// One resource record (answer, authority or additional section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsRecord {
    pub rrname: String,
    pub rrname_truncated: bool,
    pub rrtype: u16,
    /// Class as on the wire (mDNS cache-flush bit; OPT: UDP payload size).
    pub rrclass: u16,
    /// TTL as on the wire (OPT: extended rcode, version and flags).
    pub ttl: u32,
    pub rdata: RData,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    pub mname: String,
    pub rname: String,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// SVCB (64) and HTTPS (65) records (RFC 9460).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Svcb {
    pub priority: u16,
    /// Empty string for ".", meaning the owner name itself.
    pub target: String,
    /// (key, value) pairs, at most [`MAX_OPTIONS`].
    pub params: Vec<(u16, Vec<u8>)>,
}

impl Svcb {
    /// Protocol ids of the `alpn` parameter (key 1), e.g. `["h2", "h3"]`.
    pub fn alpn(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, v) in self.params.iter().filter(|(k, _)| *k == 1) {
            let mut rest = v.as_slice();
            while let Some((&l, tail)) = rest.split_first() {
                let Some(id) = tail.get(..usize::from(l)) else {
                    break;
                };
                out.push(slice_to_text(id));
                rest = tail.get(usize::from(l)..).unwrap_or_default();
            }
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdnsOption {
    pub code: u16,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sshfp {
    pub algo: u8,
    pub fp_type: u8,
    pub fingerprint: Vec<u8>,
}

/// Decoded rdata. Types without a variant are kept as [`RData::Other`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Cname(String),
    Ns(String),
    Ptr(String),
    Mx {
        preference: u16,
        exchange: String,
    },
    /// The character-strings, raw bytes each.
    Txt(Vec<Vec<u8>>),
    Soa(Soa),
    Srv(Srv),
    Svcb(Svcb),
    Opt(Vec<EdnsOption>),
    Sshfp(Sshfp),
    Null(Vec<u8>),
    /// A type this parser does not decode; the rdata bytes.
    Other(Vec<u8>),
    /// A known type whose rdata did not fit its format (or was cut by the end of
    /// the message); the bytes that were present.
    Malformed(Vec<u8>),
}

impl RData {
    /// The name this record points at (CNAME, NS, PTR, MX, SRV, SVCB/HTTPS target).
    pub fn target_name(&self) -> Option<&str> {
        match self {
            RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => Some(n),
            RData::Mx { exchange, .. } => Some(exchange),
            RData::Srv(s) => Some(&s.target),
            RData::Svcb(s) => Some(&s.target),
            _ => None,
        }
    }
}

/// A parsed DNS (or mDNS / LLMNR) message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    pub flags: DnsFlags,
    /// The 4-bit header rcode.
    pub rcode: u8,
    /// Counts announced by the header: questions, answers, authorities, additionals.
    pub counts: [u16; 4],
    pub queries: Vec<DnsQuery>,
    pub answers: Vec<DnsRecord>,
    pub authorities: Vec<DnsRecord>,
    pub additionals: Vec<DnsRecord>,
    pub anomalies: DnsAnomalies,
}

impl DnsMessage {
    pub fn is_response(&self) -> bool {
        self.flags.qr
    }

    /// Every address record in every section, with its owner name.
    pub fn addresses(&self) -> impl Iterator<Item = (&str, std::net::IpAddr)> {
        self.answers
            .iter()
            .chain(&self.authorities)
            .chain(&self.additionals)
            .filter_map(|r| match r.rdata {
                RData::A(a) => Some((r.rrname.as_str(), a.into())),
                RData::Aaaa(a) => Some((r.rrname.as_str(), a.into())),
                _ => None,
            })
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_be_bytes(a))
}

/// Parses one DNS message (a UDP payload, or a TCP message without its length
/// prefix). Only a buffer shorter than the header is an error; anything odd
/// after it is flagged in [`DnsMessage::anomalies`] with what could be read.
pub fn parse_message(buf: &[u8]) -> Result<DnsMessage, NotDns> {
    let (Some(id), Some(flags), Some(qd), Some(an), Some(ns), Some(ar)) = (
        be16(buf, 0),
        be16(buf, 2),
        be16(buf, 4),
        be16(buf, 6),
        be16(buf, 8),
        be16(buf, 10),
    ) else {
        return Err(NotDns::TooShort(buf.len()));
    };
    let mut m = DnsMessage {
        id,
        flags: DnsFlags::from_raw(flags),
        rcode: (flags & 0x0F) as u8,
        counts: [qd, an, ns, ar],
        queries: Vec::new(),
        answers: Vec::new(),
        authorities: Vec::new(),
        additionals: Vec::new(),
        anomalies: DnsAnomalies::default(),
    };
    let mut pos = HEADER_LEN;
    let mut cx = NameCx::new(buf.len());
    let complete = parse_all(buf, &mut pos, &mut m, &mut cx);
    m.anomalies = cx.anom;
    if complete && pos < buf.len() {
        m.anomalies.trailing_bytes = true;
    }
    Ok(m)
}

/// [`parse_message`], also returning the bytes the name reader walked.
#[cfg(test)]
pub(crate) fn parse_counting_steps(buf: &[u8]) -> (DnsMessage, usize) {
    let mut m = parse_message(buf).unwrap_or_else(|_| panic!("not DNS"));
    m.queries.clear();
    m.answers.clear();
    m.authorities.clear();
    m.additionals.clear();
    let mut cx = NameCx::new(buf.len());
    parse_all(buf, &mut HEADER_LEN.clone(), &mut m, &mut cx);
    m.anomalies = cx.anom;
    (m, cx.steps)
}

/// Walks the four sections; false when the message ended early.
fn parse_all(buf: &[u8], pos: &mut usize, m: &mut DnsMessage, cx: &mut NameCx) -> bool {
    let [qd, an, ns, ar] = m.counts;
    for _ in 0..qd {
        if *pos >= buf.len() {
            cx.anom.bad_counts = true;
            return false;
        }
        if m.queries.len() >= MAX_RECORDS_PER_SECTION {
            // Past the cap nothing is kept: find the next one without decoding.
            let Some(next) = skip_name(buf, *pos).filter(|n| n + 4 <= buf.len()) else {
                cx.anom.truncated = true;
                cx.anom.bad_counts = true;
                return false;
            };
            *pos = next + 4;
            cx.anom.records_dropped = cx.anom.records_dropped.saturating_add(1);
            continue;
        }
        let Some(q) = parse_query(buf, pos, cx) else {
            cx.anom.truncated = true;
            cx.anom.bad_counts = true;
            return false;
        };
        m.queries.push(q);
    }
    for (count, section) in [(an, 0u8), (ns, 1), (ar, 2)] {
        for _ in 0..count {
            if *pos >= buf.len() {
                cx.anom.bad_counts = true;
                return false;
            }
            let list = match section {
                0 => &mut m.answers,
                1 => &mut m.authorities,
                _ => &mut m.additionals,
            };
            if list.len() >= MAX_RECORDS_PER_SECTION {
                if !skip_record(buf, pos) {
                    cx.anom.truncated = true;
                    cx.anom.bad_counts = true;
                    return false;
                }
                cx.anom.records_dropped = cx.anom.records_dropped.saturating_add(1);
                continue;
            }
            let (rec, whole) = parse_record(buf, pos, cx);
            if let Some(rec) = rec {
                list.push(rec);
            }
            if !whole {
                cx.anom.truncated = true;
                cx.anom.bad_counts = true;
                return false;
            }
        }
    }
    true
}

/// Moves past one record without decoding it; false if it does not fit.
fn skip_record(buf: &[u8], pos: &mut usize) -> bool {
    let Some(at) = skip_name(buf, *pos) else {
        return false;
    };
    let Some(rdlen) = be16(buf, at + 8) else {
        return false;
    };
    let end = at + 10 + usize::from(rdlen);
    if end > buf.len() {
        return false;
    }
    *pos = end;
    true
}

/// At most [`MAX_RDATA_BYTES`] of `raw`, flagging a cut.
fn capped(raw: &[u8], anom: &mut DnsAnomalies) -> Vec<u8> {
    if raw.len() > MAX_RDATA_BYTES {
        anom.rdata_truncated = true;
    }
    raw.get(..MAX_RDATA_BYTES).unwrap_or(raw).to_vec()
}

fn parse_query(buf: &[u8], pos: &mut usize, cx: &mut NameCx) -> Option<DnsQuery> {
    let name = read_name(buf, *pos, cx).ok()?;
    let rrtype = be16(buf, name.next)?;
    let rrclass = be16(buf, name.next + 2)?;
    *pos = name.next + 4;
    Some(DnsQuery {
        rrname: name.text,
        rrname_truncated: name.truncated,
        rrtype,
        rrclass,
    })
}

/// Parses one record. Returns the record if at least its fixed part was
/// present (rdata cut short becomes [`RData::Malformed`]) and whether the
/// record was whole, i.e. parsing can go on.
fn parse_record(buf: &[u8], pos: &mut usize, cx: &mut NameCx) -> (Option<DnsRecord>, bool) {
    let Ok(name) = read_name(buf, *pos, cx) else {
        return (None, false);
    };
    let at = name.next;
    let (Some(rrtype), Some(rrclass), Some(ttl), Some(rdlen)) = (
        be16(buf, at),
        be16(buf, at + 2),
        be32(buf, at + 4),
        be16(buf, at + 8),
    ) else {
        return (None, false);
    };
    let start = at + 10;
    let end = start + usize::from(rdlen);
    let mut rec = DnsRecord {
        rrname: name.text,
        rrname_truncated: name.truncated,
        rrtype,
        rrclass,
        ttl,
        rdata: RData::Other(Vec::new()),
    };
    match buf.get(start..end) {
        Some(_) => {
            rec.rdata = parse_rdata(buf, start, end, rrtype, cx);
            *pos = end;
            (Some(rec), true)
        }
        None => {
            let have = buf.get(start..).unwrap_or_default();
            rec.rdata = RData::Malformed(capped(have, &mut cx.anom));
            *pos = buf.len();
            (Some(rec), false)
        }
    }
}

pub(crate) mod rrtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const NULL: u16 = 10;
    pub const PTR: u16 = 12;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const OPT: u16 = 41;
    pub const SSHFP: u16 = 44;
    pub const SVCB: u16 = 64;
    pub const HTTPS: u16 = 65;
}

/// Decodes the rdata in `buf[start..end]` (the whole message is needed for
/// compressed names). `buf.get(start..end)` is known to be present.
fn parse_rdata(buf: &[u8], start: usize, end: usize, rrtype: u16, cx: &mut NameCx) -> RData {
    let raw = buf.get(start..end).unwrap_or_default();
    let decoded = match rrtype {
        rrtype::A => <[u8; 4]>::try_from(raw).ok().map(|a| RData::A(a.into())),
        rrtype::AAAA => <[u8; 16]>::try_from(raw)
            .ok()
            .map(|a| RData::Aaaa(a.into())),
        rrtype::CNAME => rdata_name(buf, start, end, cx).map(RData::Cname),
        rrtype::NS => rdata_name(buf, start, end, cx).map(RData::Ns),
        rrtype::PTR => rdata_name(buf, start, end, cx).map(RData::Ptr),
        rrtype::MX => be16(raw, 0).and_then(|preference| {
            rdata_name(buf, start + 2, end, cx).map(|exchange| RData::Mx {
                preference,
                exchange,
            })
        }),
        rrtype::TXT => parse_txt(raw, &mut cx.anom),
        rrtype::SOA => parse_soa(buf, start, end, cx),
        rrtype::SRV => parse_srv(buf, start, end, cx),
        rrtype::SVCB | rrtype::HTTPS => parse_svcb(buf, start, end, cx),
        rrtype::OPT => parse_opt(raw, &mut cx.anom),
        rrtype::SSHFP => match raw {
            [algo, fp_type, fp @ ..] => Some(RData::Sshfp(Sshfp {
                algo: *algo,
                fp_type: *fp_type,
                fingerprint: capped(fp, &mut cx.anom),
            })),
            _ => None,
        },
        rrtype::NULL => Some(RData::Null(capped(raw, &mut cx.anom))),
        _ => Some(RData::Other(capped(raw, &mut cx.anom))),
    };
    decoded.unwrap_or_else(|| {
        cx.anom.bad_rdata = true;
        RData::Malformed(capped(raw, &mut cx.anom))
    })
}

/// A name that must end inside the rdata (it may point elsewhere).
fn rdata_name(buf: &[u8], start: usize, end: usize, cx: &mut NameCx) -> Option<String> {
    let (text, next) = rdata_name_at(buf, start, end, cx)?;
    (next == end).then_some(text)
}

/// A name inside the rdata followed by more fields; returns where they start.
fn rdata_name_at(buf: &[u8], start: usize, end: usize, cx: &mut NameCx) -> Option<(String, usize)> {
    if start >= end {
        return None;
    }
    // Pointers may lead anywhere in the message, but the name's own bytes
    // must stay inside the rdata.
    let n = read_name(buf, start, cx).ok()?;
    (n.next <= end).then_some((n.text, n.next))
}

fn parse_txt(raw: &[u8], anom: &mut DnsAnomalies) -> Option<RData> {
    let mut strings = Vec::new();
    let mut rest = raw;
    let mut kept = 0usize;
    while let Some((&l, tail)) = rest.split_first() {
        let s = tail.get(..usize::from(l))?;
        if kept + s.len() > MAX_RDATA_BYTES {
            anom.rdata_truncated = true;
        } else if strings.len() < MAX_RECORDS_PER_SECTION {
            kept += s.len();
            strings.push(s.to_vec());
        }
        rest = tail.get(usize::from(l)..).unwrap_or_default();
    }
    Some(RData::Txt(strings))
}

fn parse_soa(buf: &[u8], start: usize, end: usize, cx: &mut NameCx) -> Option<RData> {
    let (mname, p) = rdata_name_at(buf, start, end, cx)?;
    let (rname, p) = rdata_name_at(buf, p, end, cx)?;
    if p + 20 != end {
        return None;
    }
    Some(RData::Soa(Soa {
        mname,
        rname,
        serial: be32(buf, p)?,
        refresh: be32(buf, p + 4)?,
        retry: be32(buf, p + 8)?,
        expire: be32(buf, p + 12)?,
        minimum: be32(buf, p + 16)?,
    }))
}

fn parse_srv(buf: &[u8], start: usize, end: usize, cx: &mut NameCx) -> Option<RData> {
    if start + 6 >= end {
        return None;
    }
    Some(RData::Srv(Srv {
        priority: be16(buf, start)?,
        weight: be16(buf, start + 2)?,
        port: be16(buf, start + 4)?,
        target: rdata_name(buf, start + 6, end, cx)?,
    }))
}

fn parse_svcb(buf: &[u8], start: usize, end: usize, cx: &mut NameCx) -> Option<RData> {
    let priority = be16(buf, start)?;
    let (target, mut p) = rdata_name_at(buf, start + 2, end, cx)?;
    let mut params = Vec::new();
    while p < end {
        let key = be16(buf, p)?;
        let len = usize::from(be16(buf, p + 2)?);
        let value_end = p + 4 + len;
        if value_end > end {
            return None;
        }
        if params.len() < MAX_OPTIONS {
            params.push((key, capped(buf.get(p + 4..value_end)?, &mut cx.anom)));
        }
        p = value_end;
    }
    Some(RData::Svcb(Svcb {
        priority,
        target,
        params,
    }))
}

fn parse_opt(raw: &[u8], anom: &mut DnsAnomalies) -> Option<RData> {
    let mut opts = Vec::new();
    let mut p = 0usize;
    while p < raw.len() {
        let code = be16(raw, p)?;
        let len = usize::from(be16(raw, p + 2)?);
        let data = raw.get(p + 4..p + 4 + len)?;
        if opts.len() < MAX_OPTIONS {
            opts.push(EdnsOption {
                code,
                data: capped(data, anom),
            });
        }
        p += 4 + len;
    }
    Some(RData::Opt(opts))
}

/// Lowercase hex of rdata bytes (for types kept as [`RData::Other`]).
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(hex_digit(b >> 4));
        s.push(hex_digit(b & 0x0F));
    }
    s
}

/// Strict content check for DNS on ports that are not DNS ports (e.g. Avast
/// SecureDNS on UDP 443): a standard query or response with exactly one
/// clean question (hostname characters only, class IN), sane section counts
/// and no anomaly at all. Meant to have almost no false positives on random or
/// encrypted payloads, at the price of missing odd-but-real DNS.
pub fn looks_like_dns(buf: &[u8]) -> bool {
    let Ok(m) = parse_message(buf) else {
        return false;
    };
    let [qd, an, ns, ar] = m.counts;
    let counts_ok = if m.flags.qr {
        an <= 64 && ns <= 64 && ar <= 64
    } else {
        an == 0 && ns == 0 && ar <= 1
    };
    let Some(q) = m.queries.first() else {
        return false;
    };
    qd == 1
        && counts_ok
        && m.flags.opcode == 0
        && m.rcode <= 5
        && m.anomalies.is_empty()
        && q.rrtype != 0
        && q.rrclass & 0x7FFF == 1
        && !q.rrname.is_empty()
        && q.rrname.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
