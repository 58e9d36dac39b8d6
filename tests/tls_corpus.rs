//! The TLS dissector against every capture of the shared corpus.
//!
//! A deliberately naive decoder lives in this file (the project's own
//! decoder and flow stage are not used): link layers by etherparse, TCP
//! directions reassembled by sorting segments by sequence number and
//! dropping retransmitted bytes. Every direction is fed to a
//! `HandshakeReassembler`; hellos are compared with tshark's answers
//! (`shared/oracle`) and FoxIO's reference JA4 output:
//!
//! * SNI: the set of server names vs `<file>.sni.txt` minus `<file>.quic-sni.txt`;
//! * JA3 / JA3S: the multiset of hashes vs `<file>.ja3.txt` / `.ja3s.txt`
//!   (rows of UDP frames left out; tshark's empty JA3 rows are SSLv2 hellos);
//! * JA4: the multiset of (client, server, JA4) vs `<file>.ja4.txt`, and for
//!   foxio-ja4 captures vs `expected/<file>.python.json`.
//!
//! Any difference fails the test unless it is listed in [`EXCEPTIONS`] with
//! its reason; an exception that no longer happens fails it too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
use phonehome::base::json::Obj;
use phonehome::capture::{linktype, Block, CaptureFile};
use phonehome::dissect::tls::{
    handshake_type, ja3, ja3s, ja4, ja4_r, parse_certificate, parse_server_hello, write_eve,
    CertInfo, ClientHello, EveTls, HandshakeReassembler, ReassemblyAnomalies, ServerHello,
    Transport,
};

/// Known differences: (capture, check, reason). `check` is one of "sni",
/// "ja3", "ja3s", "ja4", "ja4-foxio", "suricata".
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    // FoxIO's python follows a stream into its HTTP (or SOCKS) branch and never
    // fingerprints the TLS carried after the proxy handshake; tshark does see
    // these ClientHellos (their JA3 matches). We skip the preamble.
    ("foxio-ja4/https-connect.pcap", "ja4", PROXIED),
    ("foxio-ja4/https-connect.pcap", "ja4-foxio", PROXIED),
    ("ndpi/http_connect.pcap", "ja4", PROXIED),
    ("zeek/http/connect-with-header.pcap", "ja4", PROXIED),
    ("zeek/socks-with-ssl.pcap", "ja4", PROXIED),
    // Server flights whose segments arrive out of order (or retransmitted
    // after a loss): tshark, without out-of-order reassembly, never
    // dissects the ServerHello; sorting by sequence number recovers it.
    ("foxio-ja4/socks4-https.pcap", "ja3s", OUT_OF_ORDER),
    ("ndpi/android.pcap", "ja3s", OUT_OF_ORDER),
    ("ndpi/google_ssl.pcap", "ja3s", OUT_OF_ORDER),
    ("ndpi/teams.pcap", "ja3s", OUT_OF_ORDER),
    ("suricata-verify/tls__tls-subjectaltname.pcap", "ja3s", OUT_OF_ORDER),
    // The capture ends inside the server's first record (ServerHello +
    // part of the Certificate): tshark waits for the whole record, we hand
    // out the ServerHello message as soon as it is complete.
    ("ndpi/4in6tunnel.pcap", "ja3s", "the capture ends inside the record holding the ServerHello; we hand out complete messages before their record ends"),
    // IPv4 inside IPv6: FoxIO's row names the outer IPv6 endpoints, we name
    // the inner IPv4 ones; the JA4 value itself is equal.
    ("ndpi/4in6tunnel.pcap", "ja4", "4in6 tunnel: the JA4 value is equal, FoxIO names the outer IPv6 endpoints"),
    // A 2-byte bogus segment overlaps the start of each ClientHello (same
    // sequence number): tshark keeps the short one and loses the hello; our
    // test reassembly keeps the longer segment. nDPI's expected output has
    // the same five SNIs as we do.
    ("ndpi/heuristic_tcp_ack_payload.pcap", "sni", OVERLAP),
    ("ndpi/heuristic_tcp_ack_payload.pcap", "ja3", OVERLAP),
    ("ndpi/heuristic_tcp_ack_payload.pcap", "ja3s", OVERLAP),
    ("ndpi/heuristic_tcp_ack_payload.pcap", "ja4", OVERLAP),
    // Several SYN-ACKs with different sequence numbers: tshark takes the
    // server data for retransmissions and never dissects the ServerHello;
    // FoxIO names the stream after its first packet, a SYN-ACK from the
    // server, so client and server are swapped in its row (same JA4).
    ("ndpi/tls_multiple_synack_different_seq.pcapng", "ja3s", "SYN-ACKs with different ISNs: tshark treats the server flight as retransmissions"),
    ("ndpi/tls_multiple_synack_different_seq.pcapng", "ja4", "FoxIO names the stream after its first packet, the server's SYN-ACK (same JA4, endpoints swapped)"),
    // TLS to port 80: tshark dissects port 80 as HTTP only.
    ("ndpi/tls_port_80.pcapng", "ja3", PORT_80),
    ("ndpi/tls_port_80.pcapng", "ja3s", PORT_80),
    ("ndpi/tls_port_80.pcapng", "ja4", PORT_80),
    ("zeek/tls/https-to-http.pcap", "ja3", PORT_80),
    ("zeek/tls/https-to-http.pcap", "ja4", PORT_80),
    // One ClientHello is malformed (compression-methods length 0, then one
    // stray byte where the extensions length belongs): tshark stops and
    // prints a truncated JA3 string "769,<ciphers>," (md5 88d4e7...); ours
    // keeps the five JA3 fields ("769,<ciphers>,,,"). Its other hello
    // travels in a UDP tunnel our test decoder does not open.
    ("ndpi/tls_invalid_reads.pcap", "sni", "the hello naming e.crashlytics.com travels in a UDP tunnel the test decoder does not open"),
    ("ndpi/tls_invalid_reads.pcap", "ja3", "malformed hello: tshark prints a 2-field JA3 string, we keep the 5 fields; the other hello is in a UDP tunnel"),
    ("ndpi/tls_invalid_reads.pcap", "ja4", "the other hello is in a UDP tunnel the test decoder does not open"),
    // FoxIO's python printed nothing for these captures (empty .ja4.txt)
    // although tshark decodes their ClientHellos (JA3 matches ours).
    ("suricata-verify/tls__tls-subjectaltname.pcap", "ja4", NO_FOXIO_OUTPUT),
    ("zeek/tls/tls1.2.pcap", "ja4", NO_FOXIO_OUTPUT),
    // A pure SSLv2 CLIENT-HELLO (version 0x0002): FoxIO's python finds no
    // TLS version field and prints nothing; the spec maps 0x0002 to "s2".
    ("zeek/tls/ssl-v2.pcap", "ja4", "pure SSLv2 hello: FoxIO's python prints nothing, the spec maps version 0x0002 to s2"),
    // TLS 1.3 draft 14 ServerHello (version 0x0304, no session id):
    // tshark reads a session id into it and prints a bogus JA3S
    // "772,44205,"; Suricata calls it "TLS 1.3 draft-<16", as we do.
    ("suricata-verify/tls__tls13-draft14.pcap", "ja3s", "draft-14 ServerHello has no session id; tshark misreads it (JA3S 772,44205,)"),
    // The real ServerHello after a HelloRetryRequest follows the server's
    // compatibility ChangeCipherSpec; tshark stops at the CCS.
    ("zeek/tls/hrr.pcap", "ja3s", "the ServerHello after the HelloRetryRequest follows a compatibility CCS; tshark misses it"),
];

const PROXIED: &str =
    "TLS after an HTTP CONNECT / SOCKS exchange: FoxIO's python does not fingerprint it";
const OUT_OF_ORDER: &str =
    "server flight out of order: tshark (no out-of-order reassembly) misses the ServerHello";
const OVERLAP: &str = "a 2-byte segment overlaps each ClientHello at the same sequence number: tshark keeps it and loses the hello (nDPI agrees with us)";
const PORT_80: &str = "TLS to port 80: tshark dissects that port as HTTP only";
const NO_FOXIO_OUTPUT: &str =
    "FoxIO's python printed no JA4 for this capture although tshark decodes its hellos";

fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("PHONEHOME_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        dir.join("captures").is_dir() && dir.join("oracle").is_dir(),
        "shared data missing at {} (set PHONEHOME_SHARED)",
        dir.display()
    );
    dir
}

fn captures(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "expected") {
                    walk(&p, out);
                }
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    // Captures live in the source folders; the root holds MANIFEST and README.
    for source in std::fs::read_dir(root).unwrap() {
        let p = source.unwrap().path();
        if p.is_dir() {
            walk(&p, &mut out);
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------- decoding

type Key = (IpAddr, u16, IpAddr, u16);

struct Seg {
    seq: u32,
    data: Vec<u8>,
}

#[derive(Default)]
struct Dir {
    isn: Option<u32>,
    segs: Vec<Seg>,
}

#[derive(Default)]
struct Packets {
    /// Per direction, one entry per connection (a new SYN starts another).
    tcp: BTreeMap<Key, Vec<Dir>>,
    udp_frames: BTreeSet<u64>,
}

fn ether(proto: u16, payload: &[u8]) -> Option<SlicedPacket<'_>> {
    SlicedPacket::from_ether_type(EtherType(proto), payload).ok()
}

fn slice(lt: u16, data: &[u8]) -> Option<SlicedPacket<'_>> {
    match lt {
        linktype::ETHERNET => SlicedPacket::from_ethernet(data).ok(),
        linktype::RAW
        | linktype::RAW_DLT12
        | linktype::RAW_DLT14
        | linktype::IPV4
        | linktype::IPV6 => SlicedPacket::from_ip(data).ok(),
        linktype::NULL | linktype::LOOP => SlicedPacket::from_ip(data.get(4..)?).ok(),
        // SLL: 16-byte header, protocol in the last two bytes (whatever the
        // hardware type, which etherparse is strict about).
        linktype::LINUX_SLL => ether(
            u16::from_be_bytes([*data.get(14)?, *data.get(15)?]),
            data.get(16..)?,
        ),
        linktype::LINUX_SLL2 => ether(
            u16::from_be_bytes([*data.first()?, *data.get(1)?]),
            data.get(20..)?,
        ),
        linktype::PPP => {
            // Optional address/control bytes ff 03, then the PPP protocol.
            let d = if data.starts_with(&[0xff, 0x03]) {
                data.get(2..)?
            } else {
                data
            };
            match u16::from_be_bytes([*d.first()?, *d.get(1)?]) {
                0x0021 | 0x0057 => SlicedPacket::from_ip(d.get(2..)?).ok(),
                _ => None,
            }
        }
        _ => None,
    }
}

/// IP-in-IP (IPv4 or IPv6 inside IPv4 or IPv6): the inner packet.
fn inner_ip<'a>(p: &SlicedPacket<'a>) -> Option<SlicedPacket<'a>> {
    let payload = p.ip_payload()?;
    match payload.ip_number.0 {
        4 | 41 if !payload.fragmented => SlicedPacket::from_ip(payload.payload).ok(),
        _ => None,
    }
}

fn read_packets(path: &Path) -> (Packets, Option<String>) {
    let mut pk = Packets::default();
    let mut file = match CaptureFile::open(path) {
        Ok(f) => f,
        Err(e) => return (pk, Some(e.to_string())),
    };
    let mut block = Block::default();
    let mut frame = 0u64;
    let mut err = None;
    loop {
        match file.fill(&mut block, 1 << 20) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                err = Some(e.to_string());
                break;
            }
        }
        for meta in &block.packets {
            frame += 1;
            let Some(mut p) = slice(meta.linktype, block.bytes(meta)) else {
                continue;
            };
            for _ in 0..4 {
                match inner_ip(&p) {
                    Some(inner) => p = inner,
                    None => break,
                }
            }
            let (src, dst) = match &p.net {
                Some(NetSlice::Ipv4(ip)) => (
                    IpAddr::V4(ip.header().source_addr()),
                    IpAddr::V4(ip.header().destination_addr()),
                ),
                Some(NetSlice::Ipv6(ip)) => (
                    IpAddr::V6(ip.header().source_addr()),
                    IpAddr::V6(ip.header().destination_addr()),
                ),
                _ => continue,
            };
            match &p.transport {
                Some(TransportSlice::Tcp(tcp)) => {
                    let key = (src, tcp.source_port(), dst, tcp.destination_port());
                    let conns = pk.tcp.entry(key).or_default();
                    if tcp.syn() {
                        let isn = tcp.sequence_number().wrapping_add(1);
                        let same = conns.last().is_some_and(|d| d.isn == Some(isn));
                        let fresh = conns
                            .last()
                            .is_some_and(|d| d.isn.is_none() && d.segs.is_empty());
                        if fresh {
                            if let Some(d) = conns.last_mut() {
                                d.isn = Some(isn);
                            }
                        } else if !same {
                            conns.push(Dir {
                                isn: Some(isn),
                                segs: Vec::new(),
                            });
                        }
                    }
                    if conns.is_empty() {
                        conns.push(Dir::default());
                    }
                    let payload = tcp.payload();
                    if !payload.is_empty() {
                        let seq = tcp.sequence_number().wrapping_add(u32::from(tcp.syn()));
                        conns.last_mut().unwrap().segs.push(Seg {
                            seq,
                            data: payload.to_vec(),
                        });
                    }
                }
                Some(TransportSlice::Udp(_)) => {
                    pk.udp_frames.insert(frame);
                }
                _ => {}
            }
        }
    }
    (pk, err)
}

/// The direction's bytes in sequence order, retransmissions dropped, up to
/// the first hole. Returns the chunks and whether a hole cut them.
fn reassemble(dir: &Dir) -> (Vec<&[u8]>, bool) {
    let Some(first) = dir.segs.first() else {
        return (Vec::new(), false);
    };
    let base = dir.isn.unwrap_or(first.seq);
    let rel = |s: u32| i64::from(s.wrapping_sub(base) as i32);
    let mut order: Vec<&Seg> = dir
        .segs
        .iter()
        .filter(|s| rel(s.seq) >= 0 || dir.isn.is_none())
        .collect();
    order.sort_by_key(|s| (rel(s.seq), std::cmp::Reverse(s.data.len())));
    let mut cur = if dir.isn.is_some() {
        0
    } else {
        order.first().map_or(0, |s| rel(s.seq))
    };
    let mut out = Vec::new();
    for s in order {
        let start = rel(s.seq);
        let end = start + s.data.len() as i64;
        if end <= cur {
            continue;
        }
        if start > cur {
            return (out, true);
        }
        out.push(&s.data[(cur - start) as usize..]);
        cur = end;
    }
    (out, false)
}

// ---------------------------------------------------------------- dissecting

#[derive(Default)]
struct Found {
    snis: BTreeSet<String>,
    ja3: Vec<String>,
    sslv2_hellos: usize,
    ja3s: Vec<String>,
    /// (client, client port, server, server port, JA4)
    ja4: Vec<(String, String, String, String, String)>,
    ja4_raw: Vec<String>,
    ech: usize,
    /// First certificate subjects of the server chains.
    cert_subjects: Vec<String>,
    /// SAN DNS names of the servers' own certificates.
    cert_sans: BTreeSet<String>,
    hellos: usize,
    sslv2_server_hellos: usize,
    /// EVE `tls` objects, one per connection with a ClientHello.
    eve: Vec<serde_json::Value>,
}

/// What one direction of one connection showed.
#[derive(Default)]
struct DirResult {
    client_hellos: Vec<ClientHello>,
    server_hellos: Vec<ServerHello>,
    first_cert: Option<CertInfo>,
}

fn dissect_dir(dir: &Dir, f: &mut Found) -> DirResult {
    let mut out = DirResult::default();
    let (chunks, hole) = reassemble(dir);
    let mut r = HandshakeReassembler::new();
    let mut on_msg = |h: phonehome::dissect::tls::Handshake<'_>| match h.msg_type {
        handshake_type::CLIENT_HELLO => {
            if let Some(Ok(ch)) = h.client_hello() {
                out.client_hellos.push(ch);
            }
        }
        handshake_type::SERVER_HELLO => {
            if let Ok(sh) = parse_server_hello(h.message) {
                out.server_hellos.push(sh);
            }
        }
        handshake_type::CERTIFICATE => {
            if let Ok(c) = parse_certificate(h.message) {
                if out.first_cert.is_none() {
                    out.first_cert = c.certs.into_iter().next();
                }
            }
        }
        _ => {}
    };
    for c in chunks {
        r.push(c, &mut on_msg);
    }
    if hole {
        r.gap();
    }
    if r.anomalies()
        .contains(ReassemblyAnomalies::SSLV2_SERVER_HELLO)
    {
        f.sslv2_server_hellos += 1;
    }
    out
}

fn dissect(pk: &Packets) -> Found {
    let mut f = Found::default();
    let mut results: BTreeMap<Key, Vec<DirResult>> = BTreeMap::new();
    for (key, conns) in &pk.tcp {
        let v = conns.iter().map(|d| dissect_dir(d, &mut f)).collect();
        results.insert(*key, v);
    }
    for (key, dirs) in &results {
        let reverse = (key.2, key.3, key.0, key.1);
        for (i, d) in dirs.iter().enumerate() {
            for ch in &d.client_hellos {
                f.hellos += 1;
                if let Some(s) = &ch.sni {
                    f.snis.insert(s.clone());
                }
                if ch.ech {
                    f.ech += 1;
                }
                match ja3(ch) {
                    Some(j) => f.ja3.push(j.hash),
                    None => f.sslv2_hellos += 1,
                }
                f.ja4.push((
                    key.0.to_string(),
                    key.1.to_string(),
                    key.2.to_string(),
                    key.3.to_string(),
                    ja4(ch, Transport::Tcp),
                ));
                f.ja4_raw.push(ja4_r(ch, Transport::Tcp));
            }
            for sh in &d.server_hellos {
                f.ja3s.push(ja3s(sh).hash);
            }
            if let Some(c) = &d.first_cert {
                f.cert_subjects.push(c.subject.clone());
                f.cert_sans.extend(c.san_dns.iter().cloned());
            }
            // One EVE object per connection, as Suricata logs it: the first
            // ClientHello (a repeated one does not overwrite it, Suricata
            // issue 6634) and the last ServerHello (after a HelloRetryRequest,
            // the real one).
            if let Some(ch) = d.client_hellos.first() {
                let server = results.get(&reverse).and_then(|v| v.get(i).or(v.last()));
                f.eve.push(tls_object(&EveTls {
                    client_hello: Some(ch),
                    server_hello: server.and_then(|s| s.server_hellos.last()),
                    server_cert: server.and_then(|s| s.first_cert.as_ref()),
                    transport: Transport::Tcp,
                }));
            }
        }
    }
    f
}

/// The EVE `tls` object as the writer writes it into an event line.
fn tls_object(t: &EveTls<'_>) -> serde_json::Value {
    let mut buf = Vec::new();
    let mut o = Obj::new(&mut buf);
    write_eve(&mut o, t);
    o.end();
    serde_json::from_slice(&buf).expect("the tls writer writes JSON")
}

/// `tls.a.b[i]`-style paths and values of an EVE object, values rendered as
/// Suricata's test files write them.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeSet<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                flatten(&format!("{prefix}.{k}"), x, out);
            }
        }
        serde_json::Value::Array(a) => {
            out.insert((prefix.to_owned(), v.to_string()));
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        serde_json::Value::String(s) => {
            out.insert((prefix.to_owned(), s.clone()));
        }
        other => {
            out.insert((prefix.to_owned(), other.to_string()));
        }
    }
}

// ---------------------------------------------------------------- oracle

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn multiset<T: Ord + Clone>(v: &[T]) -> BTreeMap<T, usize> {
    let mut m = BTreeMap::new();
    for x in v {
        *m.entry(x.clone()).or_insert(0) += 1;
    }
    m
}

/// Ok(number of items that matched) or Err(description of the difference).
type Check = Result<usize, String>;

fn compare_multisets<T: Ord + Clone + std::fmt::Debug>(ours: &[T], theirs: &[T]) -> Check {
    let (a, b) = (multiset(ours), multiset(theirs));
    if a == b {
        return Ok(ours.len());
    }
    let mut s = String::new();
    for (k, n) in &b {
        let m = a.get(k).copied().unwrap_or(0);
        if m < *n {
            let _ = write!(s, " missing {k:?} x{}", n - m);
        }
    }
    for (k, n) in &a {
        let m = b.get(k).copied().unwrap_or(0);
        if m < *n {
            let _ = write!(s, " extra {k:?} x{}", n - m);
        }
    }
    Err(s)
}

fn check_capture(
    shared: &Path,
    rel: &str,
    found: &Found,
    pk: &Packets,
) -> Vec<(&'static str, Check)> {
    let oracle = shared.join("oracle").join(rel);
    let with = |suffix: &str| PathBuf::from(format!("{}.{suffix}", oracle.display()));
    let mut checks = Vec::new();

    // SNI over TCP: tshark's set less what it saw inside QUIC.
    let quic: BTreeSet<String> = lines(&with("quic-sni.txt")).into_iter().collect();
    let theirs: BTreeSet<String> = lines(&with("sni.txt"))
        .into_iter()
        .filter(|s| !quic.contains(s))
        .collect();
    let ours: BTreeSet<String> = found
        .snis
        .iter()
        .filter(|s| !quic.contains(*s))
        .cloned()
        .collect();
    checks.push((
        "sni",
        if ours == theirs {
            Ok(ours.len())
        } else {
            Err(format!(
                " missing {:?} extra {:?}",
                theirs.difference(&ours).collect::<Vec<_>>(),
                ours.difference(&theirs).collect::<Vec<_>>()
            ))
        },
    ));

    // JA3: TCP frames only; an empty hash is tshark's answer for SSLv2.
    let mut theirs = Vec::new();
    let mut their_sslv2 = 0;
    for l in lines(&with("ja3.txt")) {
        let cols: Vec<&str> = l.split('\t').collect();
        let frame: u64 = cols[0].parse().unwrap();
        if pk.udp_frames.contains(&frame) {
            continue;
        }
        match cols.get(2) {
            Some(h) if !h.is_empty() => theirs.push((*h).to_owned()),
            _ => their_sslv2 += 1,
        }
    }
    let mut ja3 = compare_multisets(&found.ja3, &theirs);
    if their_sslv2 != found.sslv2_hellos {
        let e = format!(
            " SSLv2 hellos: ours {} tshark {their_sslv2}",
            found.sslv2_hellos
        );
        ja3 = Err(ja3.err().unwrap_or_default() + &e);
    }
    checks.push(("ja3", ja3));

    let mut theirs = Vec::new();
    let mut their_sslv2 = 0;
    for l in lines(&with("ja3s.txt")) {
        let cols: Vec<&str> = l.split('\t').collect();
        let frame: u64 = cols[0].parse().unwrap();
        if pk.udp_frames.contains(&frame) {
            continue;
        }
        match cols.get(1) {
            Some(h) if !h.is_empty() => theirs.push((*h).to_owned()),
            _ => their_sslv2 += 1,
        }
    }
    let mut ja3s = compare_multisets(&found.ja3s, &theirs);
    if their_sslv2 != found.sslv2_server_hellos {
        let e = format!(
            " SSLv2 server hellos: ours {} tshark {their_sslv2}",
            found.sslv2_server_hellos
        );
        ja3s = Err(ja3s.err().unwrap_or_default() + &e);
    }
    checks.push(("ja3s", ja3s));

    // JA4 per client/server pair; QUIC (q...) rows are not TCP.
    let theirs: Vec<_> = lines(&with("ja4.txt"))
        .iter()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() >= 7 && c[6].starts_with('t')).then(|| {
                (
                    c[1].to_owned(),
                    c[2].to_owned(),
                    c[3].to_owned(),
                    c[4].to_owned(),
                    c[6].to_owned(),
                )
            })
        })
        .collect();
    checks.push(("ja4", compare_multisets(&found.ja4, &theirs)));

    // Suricata's own expectations (tls.* fields of its test files) must all
    // appear in our EVE objects.
    if let Some(name) = rel.strip_prefix("suricata-verify/") {
        let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
        let yaml = shared.join(format!(
            "captures/suricata-verify/expected/{stem}.test.yaml"
        ));
        if let Ok(text) = std::fs::read_to_string(&yaml) {
            let mut ours = BTreeSet::new();
            for e in &found.eve {
                flatten("tls", e, &mut ours);
            }
            let mut expected = Vec::new();
            for l in text.lines() {
                let t = l.trim();
                let Some((k, v)) = t.split_once(": ") else {
                    continue;
                };
                if !k.starts_with("tls.") || k.contains("has-key") {
                    continue;
                }
                let v = v.trim().trim_matches('"');
                // Lists are compared in compact JSON form.
                let v = if v.starts_with('[') {
                    v.replace(", ", ",")
                } else {
                    v.to_owned()
                };
                expected.push((k.to_owned(), v));
            }
            if !expected.is_empty() {
                let missing: Vec<_> = expected.iter().filter(|p| !ours.contains(*p)).collect();
                checks.push((
                    "suricata",
                    if missing.is_empty() {
                        Ok(expected.len())
                    } else {
                        Err(format!(" missing {missing:?}"))
                    },
                ));
            }
        }
    }

    if let Some(name) = rel.strip_prefix("foxio-ja4/") {
        let json = shared.join(format!("captures/foxio-ja4/expected/{name}.python.json"));
        if json.exists() {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
            let mut theirs = Vec::new();
            for e in v.as_array().unwrap() {
                let s = |k: &str| {
                    e[k].as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| e[k].to_string())
                };
                for (k, val) in e.as_object().unwrap() {
                    let is_ja4 = k
                        .strip_prefix("JA4.")
                        .is_some_and(|n| n.parse::<u32>().is_ok());
                    if let (true, Some(j)) = (is_ja4, val.as_str()) {
                        if j.starts_with('t') {
                            theirs.push((
                                s("src"),
                                s("srcport"),
                                s("dst"),
                                s("dstport"),
                                j.to_owned(),
                            ));
                        }
                    }
                }
            }
            checks.push(("ja4-foxio", compare_multisets(&found.ja4, &theirs)));
        }
    }
    checks
}

#[test]
fn corpus_matches_tshark_and_foxio() {
    let shared = shared_dir();
    let root = shared.join("captures");
    let files = captures(&root);
    assert!(
        files.len() >= 300,
        "expected the whole corpus, found {} captures",
        files.len()
    );

    let exceptions: HashMap<(&str, &str), &str> = EXCEPTIONS
        .iter()
        .map(|(c, k, why)| ((*c, *k), *why))
        .collect();
    let mut failures = Vec::new();
    let mut totals: BTreeMap<&str, (usize, usize)> = BTreeMap::new(); // check -> (captures ok, items)
    let mut excepted = 0;
    let mut hellos = 0;
    let mut ech = 0;
    let mut subjects = BTreeSet::new();
    let mut eve_objects = 0;
    let mut defender_sans = BTreeSet::new();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("reference/suricata-eve-schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();

    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let (pk, _read_error) = read_packets(path);
        let found = dissect(&pk);
        hellos += found.hellos;
        ech += found.ech;
        subjects.extend(found.cert_subjects.iter().cloned());
        eve_objects += found.eve.len();
        if rel == "ndpi/tls_certificate_too_long.pcap" {
            defender_sans = found.cert_sans.clone();
        }
        for e in &found.eve {
            let ev = serde_json::json!({
                "timestamp": "2024-01-01T00:00:00.000000+0000",
                "event_type": "tls",
                "tls": e,
            });
            let errors: Vec<String> = validator.iter_errors(&ev).map(|x| x.to_string()).collect();
            if !errors.is_empty() {
                failures.push(format!("{rel} [schema]: {errors:?} in {e}"));
            }
        }
        for (check, result) in check_capture(&shared, &rel, &found, &pk) {
            let key = (rel.as_str(), check);
            match (result, exceptions.get(&key)) {
                (Ok(n), None) => {
                    let t = totals.entry(check).or_default();
                    t.0 += 1;
                    t.1 += n;
                }
                (Ok(_), Some(_)) => failures.push(format!(
                    "{rel} [{check}]: listed as exception but matches now"
                )),
                (Err(_), Some(_)) => excepted += 1,
                (Err(e), None) => {
                    let raw = if check.starts_with("ja4") && found.ja4_raw.len() <= 3 {
                        format!(" (our JA4_r: {:?})", found.ja4_raw)
                    } else {
                        String::new()
                    };
                    failures.push(format!("{rel} [{check}]:{e}{raw}"));
                }
            }
        }
    }
    for (c, k, _) in EXCEPTIONS {
        if !files
            .iter()
            .any(|p| p.strip_prefix(&root).unwrap().to_string_lossy() == *c)
        {
            failures.push(format!("{c} [{k}]: exception names no capture"));
        }
    }

    println!("captures compared: {}", files.len());
    println!("client hellos parsed: {hellos} (ECH: {ech})");
    for (check, (ok, items)) in &totals {
        println!("{check:>10}: {ok} captures matched, {items} items matched");
    }
    println!("exceptions applied: {excepted}");
    println!("EVE tls objects validated against the schema: {eve_objects}");
    println!("distinct server certificate subjects: {}", subjects.len());
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Microsoft Defender cloud protection (shared/captures/README.md): its
    // certificate chain spans many records and segments.
    println!("tls_certificate_too_long SANs: {defender_sans:?}");
    for san in [
        "wdcp.microsoft.com",
        "spynet2.microsoft.com",
        "wdcpalt.microsoft.com",
        "spynetalt.microsoft.com",
        "*.cp.wd.microsoft.com",
    ] {
        assert!(defender_sans.contains(san), "missing SAN {san}");
    }
    // The SSLv2-upgrade capture's server certificate, as Suricata logs it.
    assert!(subjects.contains(
        "C=US, ST=California, L=Sunnyvale, O=NetScreen Technologies, Inc., OU=Security Team, CN=sigdb.secteam.netscreen.com, Email=aturner@netscreen.com"
    ));
}
