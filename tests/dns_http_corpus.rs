//! DNS query names and HTTP Host headers from every shared capture, compared
//! with tshark's answers (`shared/oracle/<rel>.dns.tsv` / `.http.txt`).
//!
//! Self-contained on purpose: a tiny decoder (link layers, VLAN, a few tunnels,
//! naive in-order TCP) feeds the pure parsers, so a difference points at the
//! parsers, not at the project's decoder or flow table. Every difference must
//! be listed, exactly, in the exception tables below with its reason.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::tshark_form;
use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use phonehome::capture::{Block, CaptureFile};
use phonehome::dissect::dns::{self, DnsFlavor, TcpDnsFramer, Transport};
use phonehome::dissect::http::{self, Parse};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn shared_dir() -> PathBuf {
    let dir = std::env::var("PHONEHOME_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")));
    assert!(
        dir.join("captures/MANIFEST.tsv").is_file(),
        "shared data missing at {} (set PHONEHOME_SHARED)",
        dir.display()
    );
    dir
}

// ------------------------------------------------------------------ exceptions

/// A capture whose names differ from tshark's, with the exact difference.
struct Exception {
    capture: &'static str,
    /// Lowercased names tshark has and we do not.
    only_oracle: &'static [&'static str],
    /// Lowercased names we have and tshark does not.
    only_ours: &'static [&'static str],
    reason: &'static str,
}

const DNS_EXCEPTIONS: &[Exception] = &[
    Exception {
        capture: "ndpi/avast_securedns.pcapng",
        only_oracle: &["2.securedns.avast.com"],
        only_ours: &[],
        reason: "Avast SecureDNS is plain DNS on UDP 443, not a DNS-family port; \
                 dns::looks_like_dns finds it (checked below)",
    },
    Exception {
        capture: "tcpdump/dns_udp_8053.pcap",
        only_oracle: &["www.tcpdump.org"],
        only_ours: &[],
        reason: "DNS on UDP 8053, not a DNS-family port; dns::looks_like_dns finds it",
    },
    Exception {
        capture: "suricata-verify/dns__dns-incomplete.pcap",
        only_oracle: &["google.com", "google.net"],
        only_ours: &[],
        reason: "DNS over TCP port 5353: mDNS is UDP-only, so the port rule gives no flavor",
    },
    Exception {
        capture: "ndpi/dnscrypt-v2.pcap",
        only_oracle: &[],
        only_ours: &[""],
        reason: "DNSCrypt (encrypted) on UDP 5353: one packet happens to parse as a header \
                 plus a root question, flagged truncated/bad_counts/bad_pointer/bad_label_type; \
                 tshark shows those rows without a name",
    },
    Exception {
        capture: "suricata-verify/dns-udp-junkrequest-first.pcap",
        only_oracle: &[],
        only_ours: &["\\002\\005"],
        reason: "junk on UDP 53 parses as a header plus a 2-byte name, flagged \
                 truncated/bad_counts/bad_pointer; tshark shows the row without a name",
    },
    Exception {
        capture: "zeek/dns/dns-invalid-names.pcap",
        only_oracle: &["<name contains a pointer that loops>"],
        only_ours: &[""],
        reason: "a question name that is only a pointer loop: tshark prints a placeholder, \
                 we return the empty name read so far with pointer_loop set",
    },
    Exception {
        capture: "ndpi/malformed_dns.pcap",
        only_oracle: &["<name too long>"],
        only_ours: &["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.\\000\\000\\000\\000???*"],
        reason: "an over-long question name: tshark prints a placeholder, we keep it cut at \
                 1025 characters with name_too_long/name_truncated/too_many_labels",
    },
    Exception {
        capture: "tcpdump/dns_fwdptr.pcap",
        only_oracle: &["<name too long>"],
        only_ours: &[
            "\\001\u{FFFD}\\003.\u{FFFD}.*",
            "\u{FFFD}.\\001\u{FFFD}\\003.*",
        ],
        reason: "forward pointers building over-long names: tshark prints a placeholder, \
                 we keep them cut at 1025 characters, flagged",
    },
    Exception {
        capture: "ndpi/fuzz-2006-06-26-2594.pcap",
        only_oracle: &["<unknown extended label>"],
        only_ours: &["1.0", "1.0.0"],
        reason: "fuzzed capture: for 0x40 extended labels tshark prints a placeholder where \
                 we flag bad_label_type and keep no name; two malformed frames tshark shows \
                 without a name give us the part before a bad pointer (flagged bad_pointer)",
    },
];

const HTTP_EXCEPTIONS: &[Exception] = &[
    Exception {
        capture: "ndpi/fuzz-2006-09-29-28586.pcap",
        only_oracle: &["%s"],
        only_ours: &["%s\u{0}2.20.3.5"],
        reason: "fuzzed Host header with a NUL byte: tshark stops at the NUL, we keep the bytes",
    },
    Exception {
        capture: "ndpi/http_on_sip_port.pcap",
        only_oracle: &[],
        only_ours: &["45.58.148.2"],
        reason: "HTTP request on TCP 5060: tshark dissects the stream as SIP",
    },
    Exception {
        capture: "zeek/tunnels/socks.pcap",
        only_oracle: &["www.icir.org"],
        only_ours: &[],
        reason: "HTTP inside a SOCKS connection: the stream starts with the SOCKS handshake, \
                 which the test's naive stream walk does not strip",
    },
];

// ------------------------------------------------------------------ packet walk

/// What the corpus walk collected from one capture.
#[derive(Default)]
struct Found {
    dns_names: BTreeSet<String>,
    /// Names from UDP payloads on other ports that `looks_like_dns` accepted.
    probe_names: BTreeSet<String>,
    http_hosts: BTreeSet<String>,
    dns_messages: usize,
    http_requests: usize,
}

struct TcpDir {
    next_seq: Option<u32>,
    framer: TcpDnsFramer,
    http: HttpDir,
}

#[derive(Default)]
struct HttpDir {
    buf: Vec<u8>,
    dead: bool,
    /// Body bytes still to skip.
    skip: u64,
    /// Waiting for a whole chunked body.
    chunked: bool,
}

#[derive(Default)]
struct Walker {
    found: Found,
    tcp: HashMap<(Vec<u8>, u16, Vec<u8>, u16), TcpDir>,
}

const MAX_DEPTH: u8 = 6;
const LINKTYPE_IEEE802_11: u16 = 105;
const LINKTYPE_RADIOTAP: u16 = 127;
const LINKTYPE_NFLOG: u16 = 239;
const LINKTYPE_PKTAP: u16 = 258;

impl Walker {
    fn packet(&mut self, linktype: u16, data: &[u8]) {
        use phonehome::capture::linktype as lt;
        match linktype {
            lt::ETHERNET => self.ethernet(data, 0),
            lt::NULL | lt::LOOP => self.ip(data.get(4..).unwrap_or_default(), 0),
            lt::RAW | lt::RAW_DLT12 | lt::RAW_DLT14 | lt::IPV4 | lt::IPV6 => self.ip(data, 0),
            lt::LINUX_SLL if data.len() >= 16 => {
                let et = u16::from_be_bytes([data[14], data[15]]);
                self.ether_type(et, &data[16..], 0);
            }
            lt::LINUX_SLL2 if data.len() >= 20 => {
                let et = u16::from_be_bytes([data[0], data[1]]);
                self.ether_type(et, &data[20..], 0);
            }
            lt::PPP => {
                // Optional address/control 0xff03, then a 1- or 2-byte protocol.
                let d = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
                let (proto, rest) = match d {
                    [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
                    [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
                    _ => return,
                };
                match proto {
                    0x21 | 0x57 => self.ip(rest, 0),
                    _ => {}
                }
            }
            LINKTYPE_IEEE802_11 => self.wifi(data),
            LINKTYPE_RADIOTAP if data.len() >= 4 => {
                let len = usize::from(u16::from_le_bytes([data[2], data[3]]));
                self.wifi(data.get(len..).unwrap_or_default());
            }
            LINKTYPE_NFLOG if data.len() >= 4 => {
                // 4-byte header, then TLVs (little-endian length and type, padded
                // to 4); type 9 holds the packet.
                let mut off = 4;
                while let Some(tlv) = data.get(off..off + 4) {
                    let len = usize::from(u16::from_le_bytes([tlv[0], tlv[1]]));
                    let ty = u16::from_le_bytes([tlv[2], tlv[3]]);
                    if len < 4 {
                        return;
                    }
                    if ty == 9 {
                        return self.ip(data.get(off + 4..off + len).unwrap_or_default(), 0);
                    }
                    off += (len + 3) & !3;
                }
            }
            LINKTYPE_PKTAP if data.len() >= 12 => {
                // Header length and the inner DLT, little-endian.
                let hlen = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
                let dlt = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
                if let (Some(inner), Ok(dlt)) = (data.get(hlen..), u16::try_from(dlt)) {
                    if dlt != LINKTYPE_PKTAP {
                        self.packet(dlt, inner);
                    }
                }
            }
            _ => {}
        }
    }

    /// Unprotected 802.11 data frames with LLC/SNAP.
    fn wifi(&mut self, d: &[u8]) {
        let [fc0, fc1, ..] = *d else { return };
        if (fc0 >> 2) & 3 != 2 || fc1 & 0x40 != 0 {
            return;
        }
        let qos = fc0 & 0x80 != 0;
        let mut hdr = 24;
        if fc1 & 3 == 3 {
            hdr += 6;
        }
        if qos {
            hdr += 2;
            if fc1 & 0x80 != 0 {
                hdr += 4;
            }
        }
        if let Some([0xAA, 0xAA, 0x03, _, _, _, hi, lo, rest @ ..]) = d.get(hdr..) {
            self.ether_type(u16::from_be_bytes([*hi, *lo]), rest, 1);
        }
    }

    fn ethernet(&mut self, data: &[u8], depth: u8) {
        if depth > MAX_DEPTH {
            return;
        }
        let Ok(p) = LaxSlicedPacket::from_ethernet(data) else {
            return;
        };
        if p.net.is_some() {
            return self.sliced(p, depth);
        }
        // Encapsulations etherparse leaves alone.
        let Some(ep) = p.ether_payload() else { return };
        match ep.ether_type.0 {
            et if et < 0x0600 => {
                // 802.3 length field + LLC/SNAP.
                if let [0xAA, 0xAA, 0x03, _, _, _, hi, lo, rest @ ..] = ep.payload {
                    self.ether_type(u16::from_be_bytes([*hi, *lo]), rest, depth + 1);
                }
            }
            _ => self.ether_type(ep.ether_type.0, ep.payload, depth + 1),
        }
    }

    fn ether_type(&mut self, et: u16, data: &[u8], depth: u8) {
        if depth > MAX_DEPTH {
            return;
        }
        match et {
            0x6558 => self.ethernet(data, depth),
            0x8847 | 0x8848 => {
                // MPLS: labels until bottom-of-stack, then IP.
                let mut off = 0;
                while let Some(l) = data.get(off..off + 4) {
                    off += 4;
                    if l[2] & 1 == 1 {
                        return self.ip(data.get(off..).unwrap_or_default(), depth + 1);
                    }
                }
            }
            0x8864 => {
                // PPPoE session: 6-byte header, then the PPP protocol (1 byte
                // when compressed: odd first byte).
                let (proto, rest) = match data.get(6..) {
                    Some([p, rest @ ..]) if p & 1 == 1 => (u16::from(*p), rest),
                    Some([a, b, rest @ ..]) => (u16::from_be_bytes([*a, *b]), rest),
                    _ => return,
                };
                if matches!(proto, 0x21 | 0x57) {
                    self.ip(rest, depth + 1);
                }
            }
            _ => self.sliced(LaxSlicedPacket::from_ether_type(EtherType(et), data), depth),
        }
    }

    fn ip(&mut self, data: &[u8], depth: u8) {
        if let Ok(p) = LaxSlicedPacket::from_ip(data) {
            self.sliced(p, depth);
        }
    }

    fn sliced(&mut self, p: LaxSlicedPacket<'_>, depth: u8) {
        if depth > MAX_DEPTH {
            return;
        }
        let (src, dst): (Vec<u8>, Vec<u8>) = match &p.net {
            Some(LaxNetSlice::Ipv4(s)) => (
                s.header().source().to_vec(),
                s.header().destination().to_vec(),
            ),
            Some(LaxNetSlice::Ipv6(s)) => (
                s.header().source().to_vec(),
                s.header().destination().to_vec(),
            ),
            _ => return,
        };
        match &p.transport {
            Some(TransportSlice::Udp(u)) => {
                let (sp, dp) = (u.source_port(), u.destination_port());
                self.udp(sp, dp, u.payload(), depth);
            }
            Some(TransportSlice::Tcp(t)) => {
                self.tcp(
                    (src, t.source_port(), dst, t.destination_port()),
                    t.sequence_number(),
                    t.syn(),
                    t.payload(),
                );
            }
            _ => {
                let Some(ipp) = p.ip_payload() else { return };
                if ipp.fragmented {
                    return;
                }
                match ipp.ip_number.0 {
                    4 | 41 => self.ip(ipp.payload, depth + 1),
                    47 => self.gre(ipp.payload, depth + 1),
                    _ => {}
                }
            }
        }
    }

    fn gre(&mut self, d: &[u8], depth: u8) {
        if d.len() < 4 {
            return;
        }
        let flags = d[0];
        let proto = u16::from_be_bytes([d[2], d[3]]);
        let mut off = 4;
        for bit in [0x80u8, 0x20, 0x10] {
            if flags & bit != 0 {
                off += 4;
            }
        }
        let Some(inner) = d.get(off..) else { return };
        match proto {
            0x88BE => self.ethernet(inner.get(8..).unwrap_or_default(), depth), // ERSPAN II
            _ => self.ether_type(proto, inner, depth),
        }
    }

    fn udp(&mut self, sp: u16, dp: u16, payload: &[u8], depth: u8) {
        let either = |p: u16| sp == p || dp == p;
        if either(4789) && payload.len() > 8 {
            return self.ethernet(&payload[8..], depth + 1);
        }
        if either(2152) && payload.len() >= 8 && payload[1] == 0xFF {
            // GTP-U G-PDU: 8 bytes, +4 if E/S/PN, then extension headers.
            let mut off = 8;
            if payload[0] & 0x07 != 0 {
                off = 12;
                let mut next = payload.get(11).copied().unwrap_or(0);
                while next != 0 {
                    let Some(&len) = payload.get(off) else { return };
                    off += usize::from(len) * 4;
                    next = payload.get(off.wrapping_sub(1)).copied().unwrap_or(0);
                }
            }
            return self.ip(payload.get(off..).unwrap_or_default(), depth + 1);
        }
        if either(3544) {
            // Teredo: optional authentication (0x0001) and origin (0x0000) indicators.
            let mut d = payload;
            if d.starts_with(&[0, 1]) && d.len() >= 4 {
                let skip = 4 + usize::from(d[2]) + usize::from(d[3]) + 9;
                d = d.get(skip..).unwrap_or_default();
            }
            if d.starts_with(&[0, 0]) {
                d = d.get(8..).unwrap_or_default();
            }
            if d.first().is_some_and(|b| b >> 4 == 6) {
                return self.ip(d, depth + 1);
            }
        }
        if either(4754) {
            return self.gre(payload, depth + 1);
        }
        if either(5072) && payload.len() >= 8 && payload[3] == 41 {
            // AYIYA: 8 bytes, identity of 2^idlen bytes, signature of 4*siglen.
            let id = 1usize << (payload[0] >> 4);
            let sig = usize::from(payload[1] >> 4) * 4;
            return self.ip(payload.get(8 + id + sig..).unwrap_or_default(), depth + 1);
        }
        if either(6081) && payload.len() >= 8 {
            let opt = usize::from(payload[0] & 0x3F) * 4;
            let proto = u16::from_be_bytes([payload[2], payload[3]]);
            return self.ether_type(proto, payload.get(8 + opt..).unwrap_or_default(), depth + 1);
        }
        if DnsFlavor::from_ports(Transport::Udp, sp, dp).is_some() {
            self.dns(payload);
        } else if !either(137) && dns::looks_like_dns(payload) {
            // (NetBIOS name service on 137 shares the format; tshark calls it NBNS.)
            if let Ok(m) = dns::parse_message(payload) {
                for q in &m.queries {
                    self.found
                        .probe_names
                        .insert(tshark_form(&dns::lowercase_name(&q.rrname)));
                }
            }
        }
    }

    fn dns(&mut self, msg: &[u8]) {
        if let Ok(m) = dns::parse_message(msg) {
            self.found.dns_messages += 1;
            for q in &m.queries {
                self.found
                    .dns_names
                    .insert(tshark_form(&dns::lowercase_name(&q.rrname)));
            }
        }
    }

    fn tcp(&mut self, key: (Vec<u8>, u16, Vec<u8>, u16), seq: u32, syn: bool, payload: &[u8]) {
        let is_dns = DnsFlavor::from_ports(Transport::Tcp, key.1, key.3).is_some();
        let dir = self.tcp.entry(key).or_insert_with(|| TcpDir {
            next_seq: None,
            framer: TcpDnsFramer::new(),
            http: HttpDir::default(),
        });
        let start = seq.wrapping_add(u32::from(syn));
        let next = *dir.next_seq.get_or_insert(start);
        if syn {
            dir.next_seq = Some(start);
        }
        if payload.is_empty() {
            return;
        }
        // Naive in-order reassembly: drop what was already seen, restart on a gap.
        let ahead = start.wrapping_sub(next) as i32;
        let data = if ahead < 0 {
            let seen = ahead.unsigned_abs() as usize;
            if seen >= payload.len() {
                return;
            }
            &payload[seen..]
        } else {
            if ahead > 0 {
                dir.framer.reset();
                dir.http = HttpDir::default();
            }
            payload
        };
        let end = start.wrapping_add(payload.len() as u32);
        dir.next_seq = Some(end);
        let mut msgs = Vec::new();
        if is_dns {
            dir.framer.feed(data, |m| msgs.push(m.to_vec()));
        }
        let hosts = http_push(&mut dir.http, data);
        for m in msgs {
            self.dns(&m);
        }
        for h in hosts {
            self.found.http_requests += 1;
            if let Some(h) = h {
                self.found.http_hosts.insert(h.to_lowercase());
            }
        }
    }
}

/// Feeds one direction's bytes to the request parser; returns the Host of
/// every request completed.
fn http_push(st: &mut HttpDir, data: &[u8]) -> Vec<Option<String>> {
    let mut out = Vec::new();
    if st.dead {
        return out;
    }
    st.buf.extend_from_slice(data);
    loop {
        if st.skip > 0 {
            let n = st.skip.min(st.buf.len() as u64) as usize;
            st.buf.drain(..n);
            st.skip -= n as u64;
            if st.skip > 0 {
                return out;
            }
        }
        if st.chunked {
            match chunked_len(&st.buf) {
                Some(n) => {
                    st.buf.drain(..n);
                    st.chunked = false;
                }
                None => return out,
            }
        }
        match http::parse_request(&st.buf) {
            Parse::Done { value, consumed } => {
                out.push(value.host.clone());
                st.buf.drain(..consumed);
                if value.anomalies.oversized {
                    st.dead = true;
                    return out;
                }
                st.skip = value.content_length.unwrap_or(0);
                st.chunked = value.chunked;
            }
            Parse::Incomplete => return out,
            Parse::NotHttp => {
                st.dead = true;
                st.buf = Vec::new();
                return out;
            }
        }
    }
}

/// Length of a whole chunked body at the start of `b`, trailers included.
fn chunked_len(b: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let eol = pos + b[pos..].windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&b[pos..eol]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        pos = eol + 2;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                let eol = pos + b[pos..].windows(2).position(|w| w == b"\r\n")?;
                let empty = eol == pos;
                pos = eol + 2;
                if empty {
                    return Some(pos);
                }
            }
        }
        pos += size + 2;
        if pos > b.len() {
            return None;
        }
    }
}

fn walk(path: &Path) -> Found {
    let mut w = Walker::default();
    let Ok(mut f) = CaptureFile::open(path) else {
        return w.found;
    };
    let mut block = Block::with_buffer(Vec::new(), None);
    loop {
        let more = f.fill(&mut block, 1 << 20);
        for p in &block.packets {
            w.packet(p.linktype, block.bytes(p));
        }
        match more {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
    }
    w.found
}

// ------------------------------------------------------------------ oracle

fn oracle_dns(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeSet::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let Some(&qnames) = cols.get(9) else { continue };
        // Rows with an empty qname are tshark mis-dissecting non-DNS payload.
        if qnames.is_empty() {
            continue;
        }
        // Several questions (or messages in one frame) are ';'-joined.
        for q in qnames.split(';') {
            let q = if q == "<Root>" { "" } else { q };
            out.insert(q.to_lowercase());
        }
    }
    out
}

fn oracle_http(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| l.to_lowercase()).collect()
}

fn captures(shared: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(shared.join("captures/MANIFEST.tsv")).unwrap();
    manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every name is matched by a pattern and every pattern matches a name; a
/// pattern ending in `*` is a prefix (for the kilobyte-long garbage names).
fn matches_exactly(patterns: &[&str], names: &BTreeSet<&str>) -> bool {
    let hit = |p: &str, n: &str| match p.strip_suffix('*') {
        Some(prefix) => n.starts_with(prefix),
        None => p == n,
    };
    names.iter().all(|n| patterns.iter().any(|p| hit(p, n)))
        && patterns.iter().all(|p| names.iter().any(|n| hit(p, n)))
}

fn compare(
    what: &str,
    rel: &str,
    ours: &BTreeSet<String>,
    oracle: &BTreeSet<String>,
    exceptions: &[Exception],
    failures: &mut Vec<String>,
) -> bool {
    let only_oracle: BTreeSet<&str> = oracle.difference(ours).map(String::as_str).collect();
    let only_ours: BTreeSet<&str> = ours.difference(oracle).map(String::as_str).collect();
    let exc = exceptions.iter().find(|e| e.capture == rel);
    match exc {
        None if only_oracle.is_empty() && only_ours.is_empty() => true,
        None => {
            failures.push(format!(
                "{what} {rel}: only tshark {only_oracle:?}, only ours {only_ours:?}"
            ));
            false
        }
        Some(e) => {
            if !matches_exactly(e.only_oracle, &only_oracle)
                || !matches_exactly(e.only_ours, &only_ours)
            {
                failures.push(format!(
                    "{what} {rel}: exception ({}) out of date: only tshark {only_oracle:?}, only ours {only_ours:?}",
                    e.reason
                ));
            }
            false
        }
    }
}

#[test]
fn dns_names_and_http_hosts_match_tshark() {
    let shared = shared_dir();
    let caps = captures(&shared);
    assert!(
        caps.len() >= 300,
        "only {} captures in the manifest",
        caps.len()
    );
    let mut failures = Vec::new();
    let (mut dns_agree, mut dns_with_names, mut http_agree, mut http_with_hosts) = (0, 0, 0, 0);
    let (mut msgs, mut reqs) = (0, 0);
    let mut probe_found = BTreeSet::new();
    for rel in &caps {
        let path = shared.join("captures").join(rel);
        assert!(path.is_file(), "{} missing", path.display());
        let found = walk(&path);
        msgs += found.dns_messages;
        reqs += found.http_requests;
        let oracle = shared.join("oracle").join(rel);
        let o_dns = oracle_dns(&PathBuf::from(format!("{}.dns.tsv", oracle.display())));
        let o_http = oracle_http(&PathBuf::from(format!("{}.http.txt", oracle.display())));
        // The content probe must never invent a name tshark does not have.
        for n in &found.probe_names {
            if !o_dns.contains(n) {
                failures.push(format!(
                    "probe {rel}: looks_like_dns accepted {n:?}, unknown to tshark"
                ));
            }
            probe_found.insert(n.clone());
        }
        if !o_dns.is_empty() || !found.dns_names.is_empty() {
            dns_with_names += 1;
        }
        if !o_http.is_empty() || !found.http_hosts.is_empty() {
            http_with_hosts += 1;
        }
        if compare(
            "dns",
            rel,
            &found.dns_names,
            &o_dns,
            DNS_EXCEPTIONS,
            &mut failures,
        ) {
            dns_agree += 1;
        }
        if compare(
            "http",
            rel,
            &found.http_hosts,
            &o_http,
            HTTP_EXCEPTIONS,
            &mut failures,
        ) {
            http_agree += 1;
        }
    }
    for (kind, table) in [("dns", DNS_EXCEPTIONS), ("http", HTTP_EXCEPTIONS)] {
        for e in table {
            assert!(
                caps.iter().any(|c| c == e.capture),
                "{kind} exception for unknown capture {}",
                e.capture
            );
        }
    }
    assert_eq!(
        probe_found,
        // Avast SecureDNS on UDP 443, DNS on 8053, and fuzzed ports in
        // ndpi/fuzz-2006-06-26-2594.pcap (all in tshark's answers too).
        [
            "1.0.0.127.in-addr.arpa",
            "2.securedns.avast.com",
            "_sip._udp.sip.cybercity.dk",
            "sip.cybercity.dk",
            "www.tcpdump.org",
        ]
        .map(String::from)
        .into(),
        "names found by looks_like_dns on non-DNS ports"
    );
    eprintln!(
        "{} captures; DNS: {msgs} messages, {dns_agree} agree (of which {} with names), {} exceptions; \
         HTTP: {reqs} requests, {http_agree} agree (of which {} with hosts), {} exceptions",
        caps.len(),
        dns_agree - (caps.len() - dns_with_names).min(dns_agree),
        DNS_EXCEPTIONS.len(),
        http_agree - (caps.len() - http_with_hosts).min(http_agree),
        HTTP_EXCEPTIONS.len(),
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
