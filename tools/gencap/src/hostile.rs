//! Hostile inputs: captures an attacker (or a broken tap) could feed phonehome, each built
//! around one piece of evidence that must survive it.
//!
//! Every case holds a host (10.9.0.0/24) reaching the catalogued CrowdStrike endpoint
//! [`EVIDENCE`], plus the hostile part: floods, cost bombs, damaged files, odd encapsulation.
//! The integration test (`tests/hostile.rs` in the phonehome crate) generates them into a
//! temporary directory at test time and replays each one; nothing here is committed as a binary.
//! Like the rest of gencap, everything is deterministic and independent of the phonehome crate.

use crate::frame::{self, Hop, TcpFlags, Vlan};
use crate::pcap::{CaptureWriter, Format};
use crate::rng::Rng;
use crate::tls::{self, HelloParams, Profile};
use crate::{dns, quic, GenError};
use flate2::write::GzEncoder;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// The catalogued name every case carries (CrowdStrike Falcon's cloud).
pub const EVIDENCE: &str = "ts01-b.cloudsink.net";
/// Its server address in these captures.
pub const EVIDENCE_ADDR: Ipv4Addr = Ipv4Addr::new(54, 230, 10, 10);
/// The internal resolver.
pub const RESOLVER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 53);
/// First packet time: 2023-11-14T22:13:20Z.
const T0_US: u64 = 1_700_000_000_000_000;

/// One generated file and what it holds.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: &'static str,
    pub path: PathBuf,
    /// The internal host whose finding must survive (none for cases without evidence).
    pub host: Option<Ipv4Addr>,
    pub what: &'static str,
}

/// A capture being written in memory, with its clock.
struct Cap {
    w: CaptureWriter<Vec<u8>>,
    t_us: u64,
}

impl Cap {
    fn new() -> Result<Self, GenError> {
        Ok(Cap {
            w: CaptureWriter::new(Vec::new(), Format::Pcap)?,
            t_us: T0_US,
        })
    }

    /// Writes `frame` `gap_us` after the previous one.
    fn put(&mut self, gap_us: u64, frame: &[u8]) -> Result<(), GenError> {
        self.t_us += gap_us;
        self.w.write(self.t_us, frame)?;
        Ok(())
    }

    fn bytes(self) -> Result<Vec<u8>, GenError> {
        Ok(self.w.finish()?)
    }
}

fn mac(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

fn hop(src: Ipv4Addr, dst: Ipv4Addr) -> Hop {
    Hop {
        src_mac: mac(src),
        dst_mac: mac(dst),
        vlan: Vlan::None,
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ttl: 64,
        ip_id: 0,
    }
}

/// A TCP connection between a client and a server.
struct Tcp {
    c: Hop,
    s: Hop,
    cport: u16,
    sport: u16,
    cisn: u32,
    sisn: u32,
}

const ACK: TcpFlags = TcpFlags {
    syn: false,
    ack: true,
    fin: false,
    rst: false,
    psh: true,
};

impl Tcp {
    fn new(client: Ipv4Addr, server: Ipv4Addr, cport: u16, sport: u16) -> Self {
        let seed = u32::from(client) ^ u32::from(cport).rotate_left(16);
        Tcp {
            c: hop(client, server),
            s: hop(server, client),
            cport,
            sport,
            cisn: seed.wrapping_mul(2_654_435_761),
            sisn: seed.wrapping_mul(40_503).wrapping_add(7),
        }
    }

    /// SYN, SYN-ACK, ACK.
    fn open(&self, cap: &mut Cap) -> Result<(), GenError> {
        let syn = TcpFlags {
            syn: true,
            ..TcpFlags::default()
        };
        let synack = TcpFlags {
            syn: true,
            ack: true,
            ..TcpFlags::default()
        };
        cap.put(
            1000,
            &frame::tcp(
                &self.c,
                self.cport,
                self.sport,
                self.cisn,
                0,
                syn,
                64240,
                true,
                &[],
            )?,
        )?;
        cap.put(
            800,
            &frame::tcp(
                &self.s,
                self.sport,
                self.cport,
                self.sisn,
                self.cisn.wrapping_add(1),
                synack,
                65160,
                true,
                &[],
            )?,
        )?;
        cap.put(100, &self.client_at(0, &[])?)
    }

    /// A client segment carrying `data` at stream offset `off`.
    fn client_at(&self, off: u32, data: &[u8]) -> Result<Vec<u8>, GenError> {
        frame::tcp(
            &self.c,
            self.cport,
            self.sport,
            self.cisn.wrapping_add(1).wrapping_add(off),
            self.sisn.wrapping_add(1),
            ACK,
            502,
            false,
            data,
        )
    }

    /// The client's bytes in segments of `mss`, in order.
    fn send(&self, cap: &mut Cap, data: &[u8], mss: usize) -> Result<(), GenError> {
        for (i, chunk) in data.chunks(mss.max(1)).enumerate() {
            cap.put(50, &self.client_at((i * mss) as u32, chunk)?)?;
        }
        Ok(())
    }
}

fn udp(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Result<Vec<u8>, GenError> {
    frame::udp(&hop(src, dst), sport, dport, payload)
}

/// A DNS query for `name` and its answer binding it to `addrs`, over UDP.
fn dns_exchange(
    cap: &mut Cap,
    client: Ipv4Addr,
    cport: u16,
    id: u16,
    name: &str,
    addrs: &[Ipv4Addr],
) -> Result<(), GenError> {
    let answers: Vec<(String, u32, dns::RData)> = addrs
        .iter()
        .map(|a| (name.to_string(), 300, dns::RData::Addr(IpAddr::V4(*a))))
        .collect();
    let mut m = dns::Message {
        id,
        response: false,
        qname: name,
        qtype: dns::TYPE_A,
        answers: &answers,
        edns: None,
    };
    cap.put(1000, &udp(client, RESOLVER, cport, 53, &m.encode())?)?;
    m.response = true;
    cap.put(900, &udp(RESOLVER, client, 53, cport, &m.encode())?)
}

/// A curl/OpenSSL ClientHello naming `sni` (none: no server_name), as TLS records.
fn hello(sni: Option<&str>, seed: u64) -> Vec<u8> {
    let mut rng = Rng::derive(seed, "hostile-hello");
    tls::client_hello(
        Profile::CurlOpenssl,
        &HelloParams::new(sni, &["http/1.1"]),
        &mut rng,
    )
    .record_bytes()
}

/// The evidence: `host` resolves [`EVIDENCE`] and sends it a ClientHello naming it.
fn evidence(cap: &mut Cap, host: Ipv4Addr) -> Result<(), GenError> {
    dns_exchange(cap, host, 40_001, 0x4242, EVIDENCE, &[EVIDENCE_ADDR])?;
    let c = Tcp::new(host, EVIDENCE_ADDR, 40_002, 443);
    c.open(cap)?;
    c.send(
        cap,
        &hello(Some(EVIDENCE), u64::from(u32::from(host))),
        1400,
    )
}

/// Plain UDP chatter between internal hosts: filler that is not evidence.
fn filler(cap: &mut Cap, n: u32, seed: u64) -> Result<(), GenError> {
    let mut rng = Rng::derive(seed, "filler");
    for i in 0..n {
        let src = Ipv4Addr::new(10, 9, 1, (i % 200) as u8 + 1);
        let dst = Ipv4Addr::new(10, 9, 2, (i % 97) as u8 + 1);
        let payload = rng.vec(40 + (i as usize * 13) % 900);
        cap.put(
            200,
            &udp(src, dst, 20_000 + (i % 5000) as u16, 9999, &payload)?,
        )?;
    }
    Ok(())
}

fn gz(data: &[u8]) -> Result<Vec<u8>, GenError> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data)?;
    Ok(e.finish()?)
}

/// The base case: the evidence alone.
pub fn evidence_only() -> Result<Vec<u8>, GenError> {
    let mut cap = Cap::new()?;
    evidence(&mut cap, Ipv4Addr::new(10, 9, 0, 10))?;
    cap.bytes()
}

/// Evidence first, then `n` filler packets (for cutting and damaging).
pub fn evidence_then_filler(n: u32) -> Result<Vec<u8>, GenError> {
    let mut cap = Cap::new()?;
    evidence(&mut cap, Ipv4Addr::new(10, 9, 0, 11))?;
    filler(&mut cap, n, 11)?;
    cap.bytes()
}

/// gzip damage: the plain capture, and the compressed file cut at 60 %, with garbage
/// after its end, and with a second member whose deflate data is overwritten.
pub struct GzipCases {
    pub plain: Vec<u8>,
    pub truncated: Vec<u8>,
    pub garbage: Vec<u8>,
    /// Offset in `garbage` where the garbage starts.
    pub garbage_at: u64,
    pub corrupt_member: Vec<u8>,
}

pub fn gzip_cases() -> Result<GzipCases, GenError> {
    let plain = evidence_then_filler(3000)?;
    let whole = gz(&plain)?;
    let truncated = whole
        .get(..whole.len() * 6 / 10)
        .unwrap_or_default()
        .to_vec();
    let mut garbage = whole.clone();
    let garbage_at = garbage.len() as u64;
    garbage.extend_from_slice(b"trailing garbage that is not a gzip member");
    // Member 1: the file header and the first half of the records; member 2 the rest,
    // its middle overwritten with bytes that are not valid deflate.
    let cut = plain.len() / 2;
    let mut corrupt_member = gz(plain.get(..cut).unwrap_or_default())?;
    let mut second = gz(plain.get(cut..).unwrap_or_default())?;
    let mid = second.len() / 2;
    for b in second.iter_mut().skip(mid).take(48) {
        *b = 0xff;
    }
    corrupt_member.extend_from_slice(&second);
    Ok(GzipCases {
        plain,
        truncated,
        garbage,
        garbage_at,
        corrupt_member,
    })
}

/// `flows` one-packet UDP flows from distinct ports, then the evidence.
pub fn flow_flood(flows: u32) -> Result<Vec<u8>, GenError> {
    let mut cap = Cap::new()?;
    for i in 0..flows {
        let src = Ipv4Addr::new(10, 9, 3 + (i / 60_000) as u8, 1);
        let dst = Ipv4Addr::new(192, 0, 2, (i % 250) as u8 + 1);
        cap.put(20, &udp(src, dst, 1024 + (i % 60_000) as u16, 7, b"flood")?)?;
    }
    evidence(&mut cap, Ipv4Addr::new(10, 9, 0, 12))?;
    cap.bytes()
}

/// `flows` TCP connections that each send `segments` segments of 1400 bytes, all ahead of
/// a first segment that never comes; then the evidence.
pub fn out_of_order_flood(flows: u32, segments: u32) -> Result<Vec<u8>, GenError> {
    let mut cap = Cap::new()?;
    let payload = vec![0x17u8; 1400];
    for i in 0..flows {
        let client = Ipv4Addr::new(10, 9, 4 + (i / 250) as u8, (i % 250) as u8 + 1);
        let c = Tcp::new(client, Ipv4Addr::new(198, 51, 100, 7), 30_000, 443);
        c.open(&mut cap)?;
        for k in 1..=segments {
            cap.put(10, &c.client_at(k * 1400, &payload)?)?;
        }
    }
    evidence(&mut cap, Ipv4Addr::new(10, 9, 0, 13))?;
    cap.bytes()
}

/// The evidence's ClientHello sent one byte per segment, last byte first.
pub fn hello_tiny_reversed() -> Result<Vec<u8>, GenError> {
    let host = Ipv4Addr::new(10, 9, 0, 14);
    let mut cap = Cap::new()?;
    let c = Tcp::new(host, EVIDENCE_ADDR, 40_100, 443);
    c.open(&mut cap)?;
    let h = hello(Some(EVIDENCE), 14);
    for i in (0..h.len()).rev() {
        cap.put(5, &c.client_at(i as u32, h.get(i..=i).unwrap_or_default())?)?;
    }
    cap.bytes()
}

/// The evidence's ClientHello arriving after 100 KiB of the connection's later data, which
/// came out of order first.
pub fn hello_behind_later_data() -> Result<Vec<u8>, GenError> {
    let host = Ipv4Addr::new(10, 9, 0, 15);
    let mut cap = Cap::new()?;
    let c = Tcp::new(host, EVIDENCE_ADDR, 40_200, 443);
    c.open(&mut cap)?;
    let h = hello(Some(EVIDENCE), 15);
    let later = vec![0x17u8; 1000];
    for k in (0..100u32).rev() {
        cap.put(5, &c.client_at(h.len() as u32 + k * 1000, &later)?)?;
    }
    cap.put(5, &c.client_at(0, &h)?)?;
    cap.bytes()
}

/// A ClientHello whose server name is 65,000 bytes: padding labels, then [`EVIDENCE`]
/// (a name the catalog does not list; the DNS answer before it attributes the connection).
pub fn huge_sni() -> Result<Vec<u8>, GenError> {
    let host = Ipv4Addr::new(10, 9, 0, 16);
    let mut name = String::with_capacity(65_000);
    while name.len() + EVIDENCE.len() + 64 < 65_000 {
        name.push_str(&"x".repeat(62));
        name.push('.');
    }
    while name.len() + EVIDENCE.len() < 65_000 {
        name.push('y');
    }
    name.push('.');
    name.push_str(EVIDENCE);
    let mut rng = Rng::derive(16, "huge-sni");
    let h = tls::client_hello(
        Profile::OpensslTls12,
        &HelloParams::new(Some(&name), &[]),
        &mut rng,
    )
    .record_bytes();
    let mut cap = Cap::new()?;
    dns_exchange(&mut cap, host, 40_301, 0x1616, EVIDENCE, &[EVIDENCE_ADDR])?;
    let c = Tcp::new(host, EVIDENCE_ADDR, 40_300, 443);
    c.open(&mut cap)?;
    c.send(&mut cap, &h, 1400)?;
    cap.bytes()
}

/// Records per pointer bomb: a 6 KB message whose names would expand to 256 KB.
pub const BOMB_RECORDS: u16 = 250;

/// A DNS response of `records` A records, each named by a pointer to a 31-node chain of
/// 60-byte labels (a message of pointers that expands ~60 times), in one UDP datagram.
pub fn dns_pointer_bomb_message(records: u16) -> Vec<u8> {
    let mut m = vec![0x13, 0x37, 0x81, 0x80, 0, 1];
    m.extend_from_slice(&(records + 1).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(b"\x01q\x07example\x00\x00\x01\x00\x01");
    m.extend_from_slice(b"\xc0\x0c\x00\x0a\x00\x01\x00\x00\x00\x3c");
    let chain_at = m.len() + 2;
    let mut chain = Vec::new();
    for i in 0..31usize {
        chain.push(60);
        chain.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, 60));
        let next = (chain_at + (i + 1) * 63) as u16;
        chain.extend_from_slice(&(0xc000 | next).to_be_bytes());
    }
    chain.push(0);
    m.extend_from_slice(&(chain.len() as u16).to_be_bytes());
    m.extend_from_slice(&chain);
    let head = (0xc000 | chain_at as u16).to_be_bytes();
    for i in 0..records {
        m.extend_from_slice(&head);
        m.extend_from_slice(b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02");
        m.push((i % 250) as u8 + 1);
    }
    m
}

/// A plain DNS response of about `size` bytes (A records for one name), for comparison.
pub fn dns_plain_message(size: usize) -> Vec<u8> {
    let mut m = vec![0x13, 0x38, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    let mut n = 0u16;
    while m.len() + 16 <= size {
        m.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02");
        m.push((n % 250) as u8 + 1);
        n += 1;
    }
    if let Some(c) = m.get_mut(6..8) {
        c.copy_from_slice(&n.to_be_bytes());
    }
    m
}

/// `copies` pointer-bomb responses of `records` records each (then the evidence), and
/// the same number of plain responses of the same size in a second capture.
pub fn dns_bombs(copies: u32, records: u16) -> Result<(Vec<u8>, Vec<u8>), GenError> {
    let host = Ipv4Addr::new(10, 9, 0, 17);
    let bomb = dns_pointer_bomb_message(records);
    let plain = dns_plain_message(bomb.len());
    let mut out = Vec::new();
    for msg in [&bomb, &plain] {
        let mut cap = Cap::new()?;
        for i in 0..copies {
            cap.put(
                500,
                &udp(RESOLVER, host, 53, 50_000 + (i % 10_000) as u16, msg)?,
            )?;
        }
        evidence(&mut cap, host)?;
        out.push(cap.bytes()?);
    }
    let plain_cap = out.pop().unwrap_or_default();
    let bomb_cap = out.pop().unwrap_or_default();
    Ok((bomb_cap, plain_cap))
}

/// A response carrying a 60,000-byte NULL record (then the evidence).
pub fn huge_null_rdata() -> Result<Vec<u8>, GenError> {
    let host = Ipv4Addr::new(10, 9, 0, 18);
    let mut m = vec![0x22, 0x22, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(b"\x04null\x07example\x00\x00\x0a\x00\x01");
    m.extend_from_slice(b"\xc0\x0c\x00\x0a\x00\x01\x00\x00\x00\x3c");
    let len: u16 = 60_000;
    m.extend_from_slice(&len.to_be_bytes());
    m.extend((0..len).map(|i| 0x80 | (i % 128) as u8));
    let mut cap = Cap::new()?;
    let q = dns::Message {
        id: 0x2222,
        response: false,
        qname: "null.example",
        qtype: 10,
        answers: &[],
        edns: None,
    };
    cap.put(100, &udp(host, RESOLVER, 45_000, 53, &q.encode())?)?;
    cap.put(100, &udp(RESOLVER, host, 53, 45_000, &m)?)?;
    evidence(&mut cap, host)?;
    cap.bytes()
}

/// DNS for [`EVIDENCE`] from client ports that are tunnel ports (GRE-in-UDP 4754, VXLAN
/// 4789, Geneve 6081, MPLS-in-UDP 6635), with ids whose bits look like those headers.
pub fn dns_on_tunnel_ports() -> Result<Vec<u8>, GenError> {
    let host = Ipv4Addr::new(10, 9, 0, 19);
    let mut cap = Cap::new()?;
    for (i, port) in [4754u16, 4789, 6081, 6635].into_iter().enumerate() {
        dns_exchange(
            &mut cap,
            host,
            port,
            0x0808 + i as u16,
            EVIDENCE,
            &[EVIDENCE_ADDR],
        )?;
    }
    cap.bytes()
}

fn checksum(h: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in h.chunks(2) {
        let w = match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet of protocol `proto` around `payload`.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()).min(65_535) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = checksum(&h);
    if let Some(x) = h.get_mut(10..12) {
        x.copy_from_slice(&c.to_be_bytes());
    }
    h.extend_from_slice(payload);
    h
}

fn ethernet(src: Ipv4Addr, dst: Ipv4Addr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = mac(dst).to_vec();
    f.extend_from_slice(&mac(src));
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn gre(proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut g = vec![0, 0];
    g.extend_from_slice(&proto.to_be_bytes());
    g.extend_from_slice(payload);
    g
}

/// Strips the Ethernet header from a frame built without VLAN tags: the IP packet.
fn ip_of(frame: &[u8]) -> Vec<u8> {
    frame.get(14..).unwrap_or_default().to_vec()
}

/// The evidence's TLS connection as IP packets (handshake and hello).
fn evidence_ip_packets(host: Ipv4Addr, cport: u16) -> Result<Vec<Vec<u8>>, GenError> {
    let mut cap = Cap::new()?;
    let c = Tcp::new(host, EVIDENCE_ADDR, cport, 443);
    c.open(&mut cap)?;
    c.send(&mut cap, &hello(Some(EVIDENCE), u64::from(cport)), 1400)?;
    // Re-read the frames just written: 24-byte file header, 16-byte record headers.
    let bytes = cap.bytes()?;
    let mut out = Vec::new();
    let mut p = 24usize;
    while let Some(len) = bytes.get(p + 8..p + 12) {
        let caplen = len
            .iter()
            .rev()
            .fold(0usize, |n, &b| n << 8 | usize::from(b));
        out.push(ip_of(
            bytes.get(p + 16..p + 16 + caplen).unwrap_or_default(),
        ));
        p += 16 + caplen;
    }
    Ok(out)
}

/// Encapsulation: 40 GRE layers (beyond any sane depth), then the evidence three layers
/// down (IP-in-IP around GRE around VXLAN around Ethernet).
pub fn deep_encapsulation() -> Result<Vec<u8>, GenError> {
    let (a, b) = (Ipv4Addr::new(10, 9, 9, 1), Ipv4Addr::new(10, 9, 9, 2));
    let mut cap = Cap::new()?;
    let inner = ip_of(&udp(
        Ipv4Addr::new(10, 9, 0, 99),
        Ipv4Addr::new(10, 9, 0, 98),
        1,
        2,
        b"deep",
    )?);
    let mut pkt = inner;
    for _ in 0..40 {
        pkt = ipv4(a, b, 47, &gre(0x0800, &pkt));
    }
    cap.put(100, &ethernet(a, b, 0x0800, &pkt))?;
    let host = Ipv4Addr::new(10, 9, 0, 20);
    for ip in evidence_ip_packets(host, 40_400)? {
        let l2 = ethernet(host, EVIDENCE_ADDR, 0x0800, &ip);
        let vx = ip_of(&udp(a, b, 49_152, 4789, &frame::vxlan_payload(77, &l2))?);
        let g = ipv4(a, b, 47, &gre(0x0800, &vx));
        let ipip = ipv4(
            Ipv4Addr::new(10, 9, 8, 1),
            Ipv4Addr::new(10, 9, 8, 2),
            4,
            &g,
        );
        cap.put(100, &ethernet(a, b, 0x0800, &ipip))?;
    }
    cap.bytes()
}

/// An Aruba AP tunnelling a wireless client to its controller: GRE protocol type 0x8200
/// carrying 802.11 data frames (no FCS) whose LLC/SNAP payload is the evidence's IPv4.
pub fn aruba_gre() -> Result<Vec<u8>, GenError> {
    let (ap, controller) = (Ipv4Addr::new(10, 9, 7, 2), Ipv4Addr::new(10, 9, 7, 1));
    let host = Ipv4Addr::new(10, 9, 0, 21);
    let mut cap = Cap::new()?;
    for (i, ip) in evidence_ip_packets(host, 40_500)?.iter().enumerate() {
        let to_ds = ip.get(12..16) == Some(host.octets().as_slice());
        let mut w = vec![0x08, if to_ds { 0x01 } else { 0x02 }, 0x2c, 0x00];
        let (sta, bssid) = (mac(host), [0x02, 0x1a, 0x1e, 0, 0, 1]);
        let router = mac(EVIDENCE_ADDR);
        if to_ds {
            // Address 1 BSSID, 2 source (the station), 3 destination.
            for a in [bssid, sta, router] {
                w.extend_from_slice(&a);
            }
        } else {
            // Address 1 destination (the station), 2 BSSID, 3 source.
            for a in [sta, bssid, router] {
                w.extend_from_slice(&a);
            }
        }
        w.extend_from_slice(&((i as u16) << 4).to_le_bytes());
        w.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        w.extend_from_slice(ip);
        let outer = ipv4(ap, controller, 47, &gre(0x8200, &w));
        cap.put(100, &ethernet(ap, controller, 0x0800, &outer))?;
    }
    cap.bytes()
}

/// A QUIC client Initial of the reserved version 0x1a2a3a4a carrying a Chrome ClientHello
/// naming [`EVIDENCE`]: protected with v1's keys (`draft29_salt` false: how clients build it
/// from their v1 Initial) or with draft-29's salt (what Wireshark 4.0 opens such a version
/// with, so that tshark can check it).
pub fn quic_reserved_version(draft29_salt: bool) -> Result<Vec<u8>, GenError> {
    let host = Ipv4Addr::new(10, 9, 0, 22);
    let mut rng = Rng::derive(22, "quic-reserved");
    let dcid = rng.vec(8);
    let scid = rng.vec(8);
    let mut hp = HelloParams::new(Some(EVIDENCE), &["h3"]);
    hp.quic_tp = quic::chrome_transport_parameters(&scid);
    let ch = tls::client_hello(Profile::ChromeQuic, &hp, &mut rng);
    let keys = if draft29_salt {
        quic::initial_keys_salted(&quic::INITIAL_SALT_DRAFT_29, &dcid, false)?
    } else {
        quic::initial_keys(&dcid, false)?
    };
    let frames = quic::crypto_frame(0, &ch.handshake_bytes());
    let pkt = quic::initial_packet_version(&keys, 0x1a2a_3a4a, &dcid, &scid, 0, &frames, 1250)?;
    // Chrome offers (GREASE) ECH, so the SNI is not evidence by itself: the DNS answer
    // before it attributes the flow.
    let mut cap = Cap::new()?;
    dns_exchange(&mut cap, host, 51_001, 0x2222, EVIDENCE, &[EVIDENCE_ADDR])?;
    cap.put(100, &udp(host, EVIDENCE_ADDR, 51_000, 443, &pkt)?)?;
    cap.bytes()
}

/// The evidence's name bound first, then `responses` answers of `per` A records each for
/// other names (more bindings than the DNS cache holds), then a connection to the evidence's
/// address whose hello names nothing: only the early DNS answer can attribute it.
pub fn dns_binding_flood(responses: u32, per: u16) -> Result<Vec<u8>, GenError> {
    let host = Ipv4Addr::new(10, 9, 0, 23);
    let mut cap = Cap::new()?;
    dns_exchange(&mut cap, host, 40_600, 0x6000, EVIDENCE, &[EVIDENCE_ADDR])?;
    for r in 0..responses {
        let addrs: Vec<Ipv4Addr> = (0..u32::from(per))
            .map(|k| Ipv4Addr::from(0x6400_0000 + r * u32::from(per) + k))
            .collect();
        let name = format!("flood{r}.example.net");
        dns_exchange(
            &mut cap,
            host,
            41_000 + (r % 20_000) as u16,
            r as u16,
            &name,
            &addrs,
        )?;
    }
    let c = Tcp::new(host, EVIDENCE_ADDR, 40_601, 443);
    c.open(&mut cap)?;
    c.send(&mut cap, &hello(None, 23), 1400)?;
    cap.bytes()
}

/// Flips, overwrites, cuts and duplicates bytes of a real capture, keeping its first 24
/// bytes (so it is still read as a capture): `seed` picks what.
pub fn mutate(capture: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = Rng::derive(seed, "mutate");
    let mut v = capture.to_vec();
    if v.len() <= 32 {
        return v;
    }
    let body = |rng: &mut Rng, len: usize| 24 + rng.below((len - 24) as u64) as usize;
    match seed % 4 {
        0 => {
            // Bit flips.
            for _ in 0..1 + rng.below(32) {
                let at = body(&mut rng, v.len());
                if let Some(b) = v.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        1 => {
            // A run overwritten with random bytes (lengths and headers included).
            let at = body(&mut rng, v.len());
            let n = (1 + rng.below(64) as usize).min(v.len() - at);
            let fill = rng.vec(n);
            if let Some(dst) = v.get_mut(at..at + n) {
                dst.copy_from_slice(&fill);
            }
        }
        2 => {
            // Cut anywhere.
            let at = body(&mut rng, v.len());
            v.truncate(at);
        }
        _ => {
            // A slice repeated elsewhere (records overlapping each other).
            let from = body(&mut rng, v.len());
            let n = (1 + rng.below(256) as usize).min(v.len() - from);
            let chunk = v.get(from..from + n).unwrap_or_default().to_vec();
            let to = body(&mut rng, v.len());
            v.splice(to..to, chunk);
        }
    }
    v
}

/// Writes every case into `dir`; returns them in a fixed order.
pub fn write_all(dir: &Path) -> Result<Vec<Case>, GenError> {
    let mut cases = Vec::new();
    let mut put = |name: &'static str,
                   file: &str,
                   host: Option<[u8; 4]>,
                   what: &'static str,
                   bytes: Vec<u8>|
     -> Result<(), GenError> {
        let path = dir.join(file);
        std::fs::write(&path, bytes)?;
        cases.push(Case {
            name,
            path,
            host: host.map(Ipv4Addr::from),
            what,
        });
        Ok(())
    };
    put(
        "evidence",
        "evidence.pcap",
        Some([10, 9, 0, 10]),
        "the evidence alone",
        evidence_only()?,
    )?;
    let g = gzip_cases()?;
    put(
        "gzip_plain",
        "gzip-plain.pcap",
        Some([10, 9, 0, 11]),
        "evidence, then filler",
        g.plain,
    )?;
    put(
        "gzip_truncated",
        "gzip-truncated.pcap.gz",
        Some([10, 9, 0, 11]),
        "cut at 60 %",
        g.truncated,
    )?;
    put(
        "gzip_garbage",
        "gzip-garbage.pcap.gz",
        Some([10, 9, 0, 11]),
        "garbage after the stream",
        g.garbage,
    )?;
    put(
        "gzip_corrupt_member",
        "gzip-corrupt-member.pcap.gz",
        Some([10, 9, 0, 11]),
        "second member corrupt",
        g.corrupt_member,
    )?;
    put(
        "flow_flood",
        "flow-flood.pcap",
        Some([10, 9, 0, 12]),
        "60,000 one-packet flows",
        flow_flood(60_000)?,
    )?;
    put(
        "ooo_flood",
        "ooo-flood.pcap",
        Some([10, 9, 0, 13]),
        "600 connections with 50 segments each behind a hole",
        out_of_order_flood(600, 50)?,
    )?;
    put(
        "hello_tiny_reversed",
        "hello-tiny-reversed.pcap",
        Some([10, 9, 0, 14]),
        "ClientHello in 1-byte segments, last first",
        hello_tiny_reversed()?,
    )?;
    put(
        "hello_behind_later_data",
        "hello-behind-later-data.pcap",
        Some([10, 9, 0, 15]),
        "ClientHello after 100 KiB of later data",
        hello_behind_later_data()?,
    )?;
    put(
        "huge_sni",
        "huge-sni.pcap",
        Some([10, 9, 0, 16]),
        "65,000-byte SNI",
        huge_sni()?,
    )?;
    let (bomb, plain) = dns_bombs(2000, BOMB_RECORDS)?;
    put(
        "dns_pointer_bomb",
        "dns-pointer-bomb.pcap",
        Some([10, 9, 0, 17]),
        "DNS compression-pointer bombs",
        bomb,
    )?;
    put(
        "dns_plain_same_size",
        "dns-plain.pcap",
        Some([10, 9, 0, 17]),
        "plain DNS of the same size",
        plain,
    )?;
    put(
        "huge_null_rdata",
        "huge-null-rdata.pcap",
        Some([10, 9, 0, 18]),
        "60,000-byte NULL rdata",
        huge_null_rdata()?,
    )?;
    put(
        "dns_on_tunnel_ports",
        "dns-tunnel-ports.pcap",
        Some([10, 9, 0, 19]),
        "DNS from client ports 4754, 4789, 6081, 6635",
        dns_on_tunnel_ports()?,
    )?;
    put(
        "deep_encapsulation",
        "deep-encapsulation.pcap",
        Some([10, 9, 0, 20]),
        "40 GRE layers; evidence in IPIP/GRE/VXLAN",
        deep_encapsulation()?,
    )?;
    put(
        "aruba_gre",
        "aruba-gre.pcap",
        Some([10, 9, 0, 21]),
        "GRE 0x8200 (Aruba WLAN)",
        aruba_gre()?,
    )?;
    put(
        "quic_reserved_v1_keys",
        "quic-reserved-v1-keys.pcap",
        Some([10, 9, 0, 22]),
        "QUIC Initial of version 0x1a2a3a4a, v1 keys",
        quic_reserved_version(false)?,
    )?;
    put(
        "quic_reserved_d29_keys",
        "quic-reserved-d29-keys.pcap",
        Some([10, 9, 0, 22]),
        "QUIC Initial of version 0x1a2a3a4a, draft-29 salt",
        quic_reserved_version(true)?,
    )?;
    put(
        "dns_binding_flood",
        "dns-binding-flood.pcap",
        Some([10, 9, 0, 23]),
        "1,100 answers of 250 addresses after the evidence's",
        dns_binding_flood(1100, 250)?,
    )?;
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_mutations_differ() {
        assert_eq!(evidence_only().unwrap(), evidence_only().unwrap());
        let base = evidence_then_filler(50).unwrap();
        let mutants: Vec<Vec<u8>> = (0..8).map(|s| mutate(&base, s)).collect();
        for (i, m) in mutants.iter().enumerate() {
            assert_ne!(m, &base, "seed {i} changed nothing");
            assert_eq!(m[..24], base[..24]);
            assert_eq!(m, &mutate(&base, i as u64));
        }
    }

    #[test]
    fn bomb_message_is_one_udp_datagram() {
        let m = dns_pointer_bomb_message(3900);
        assert!(m.len() < 65_507 && m.len() > 60_000, "{}", m.len());
        let p = dns_plain_message(m.len());
        assert!(p.len() <= m.len() && p.len() + 16 > m.len());
    }
}
