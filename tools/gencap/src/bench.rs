//! The "enterprise mix" benchmark capture, streamed to disk in constant memory.
//!
//! Flows arrive as a Poisson process and each one is a small state machine that yields its next
//! packet on demand; a binary heap keyed by (time, sequence) interleaves them. Frames are built
//! by hand into one reusable header buffer and written as [header, payload] slices: payloads
//! are views into a fixed random pool whose 16-bit prefix sums give any slice's checksum in
//! O(1), so the hot loop neither allocates nor walks payload bytes except to copy them out.

use crate::pcap::{CaptureWriter, Format};
use crate::quic;
use crate::rng::Rng;
use crate::tls::{self, HelloParams, Profile};
use crate::GenError;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::net::Ipv4Addr;

pub const DEFAULT_PACKETS: u64 = 8_000_000;
const SEED: u64 = 0x6265_6e63_686d_6978; // "benchmix"

/// The traffic mix of a benchmark capture: its seed, the share of each kind
/// of flow (cumulative thresholds) and how often an HTTPS flow is long or
/// medium-sized.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mix {
    pub seed: u64,
    /// A flow is HTTPS below `https`, DNS below `dns`, QUIC below `quic`,
    /// NTP below `ntp`, else IPv4 fragments.
    pub https: f64,
    pub dns: f64,
    pub quic: f64,
    pub ntp: f64,
    pub long: f64,
    pub medium: f64,
}

impl Mix {
    /// The enterprise mix (the project's benchmark capture).
    pub const ENTERPRISE: Mix = Mix {
        seed: SEED,
        https: 0.60,
        dns: 0.83,
        quic: 0.955,
        ntp: 0.995,
        long: 0.0012,
        medium: 0.06,
    };
    /// A second seed with more QUIC and shorter flows: 40 % QUIC, no long
    /// HTTPS flows, few medium ones, so nearly every packet is in a flow
    /// still being dissected.
    pub const QUIC_SHORT: Mix = Mix {
        seed: 0x7175_6963_7368_6f72, // "quicshor"
        https: 0.35,
        dns: 0.55,
        quic: 0.95,
        ntp: 0.99,
        long: 0.0,
        medium: 0.01,
    };
}
/// 2025-03-04T09:00:00Z
const T0_US: u64 = 1_741_078_800_000_000;
const POOL_LEN: usize = 1 << 20;
const ROUTER_MAC: [u8; 6] = [0x00, 0x1c, 0x73, 0x00, 0x00, 0x01];
const HOSTS: u32 = 4000;
const MAX_ACTIVE: usize = 60_000;
/// New flows per second of capture time.
const FLOW_RATE: f64 = 1800.0;

/// Summary of a generated capture, printed on stderr by the CLI.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BenchStats {
    pub packets: u64,
    pub frame_bytes: u64,
    pub file_bytes: u64,
    pub flows: u64,
    pub flows_v6: u64,
    pub vendor_flows: u64,
    pub long_flows: u64,
    pub fragments: u64,
    pub first_ts_us: u64,
    pub last_ts_us: u64,
}

// Vendor endpoints (from the research catalog) and ordinary destinations.
const VENDOR_NAMES: [&str; 24] = [
    "ts01-b.cloudsink.net",
    "lfodown01-b.cloudsink.net",
    "ts01-gyr-maverick.cloudsink.net",
    "wdcp.microsoft.com",
    "europe.x.cp.wd.microsoft.com",
    "unitedstates.x.cp.wd.microsoft.com",
    "winatp-gw-weu.microsoft.com",
    "usea1-014.sentinelone.net",
    "euce1-120-mssp.sentinelone.net",
    "ksn-url-geo.kaspersky-labs.com",
    "ksn-file-geo.kaspersky-labs.com",
    "dc1-st.ksn.kaspersky-labs.com",
    "edf.eset.com",
    "epns.eset.com",
    "h1-c01-b.eset.com",
    "4.sophosxl.net",
    "d1.sophosupd.com",
    "central.sophos.com",
    "iaus.activeupdate.trendmicro.com",
    "wildfire.paloaltonetworks.com",
    "cc-acmecorp.traps.paloaltonetworks.com",
    "update.360safe.com",
    "pcmgrmonitor.3g.qq.com",
    "nimbus.bitdefender.net",
];

const BENIGN_NAMES: [&str; 40] = [
    "www.google.com",
    "outlook.office365.com",
    "teams.microsoft.com",
    "login.microsoftonline.com",
    "graph.microsoft.com",
    "www.bing.com",
    "slack.com",
    "edge.slack.com",
    "zoom.us",
    "api.github.com",
    "github.com",
    "objects.githubusercontent.com",
    "www.youtube.com",
    "i.ytimg.com",
    "fonts.gstatic.com",
    "www.gstatic.com",
    "update.googleapis.com",
    "clients4.google.com",
    "accounts.google.com",
    "docs.google.com",
    "drive.google.com",
    "www.linkedin.com",
    "static.licdn.com",
    "www.salesforce.com",
    "login.salesforce.com",
    "s3.amazonaws.com",
    "dynamodb.eu-west-1.amazonaws.com",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "www.wikipedia.org",
    "upload.wikimedia.org",
    "ctldl.windowsupdate.com",
    "fe3cr.delivery.mp.microsoft.com",
    "settings-win.data.microsoft.com",
    "www.apple.com",
    "gateway.icloud.com",
    "api.atlassian.com",
    "acme.atlassian.net",
    "www.dropbox.com",
    "pypi.org",
];

fn log_uniform(rng: &mut Rng, (lo, hi): (usize, usize)) -> usize {
    let (a, b) = ((lo.max(1) as f64).ln(), (hi.max(lo).max(1) as f64).ln());
    (a + rng.unit() * (b - a)).exp() as usize
}

fn sum_words(b: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut it = b.chunks_exact(2);
    for w in &mut it {
        if let [x, y] = w {
            s += u64::from(u16::from_be_bytes([*x, *y]));
        }
    }
    if let [x] = it.remainder() {
        s += u64::from(*x) << 8;
    }
    s
}

fn fold(mut s: u64) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// A fixed payload (ClientHello record, DNS message, protected QUIC Initial) shared by flows.
struct Tmpl {
    bytes: Vec<u8>,
}

struct Name {
    v4: [u8; 4],
    v6: [u8; 16],
    vendor: bool,
    hellos: [usize; 2],
    /// The server's first flight: a TLS 1.3 ServerHello, the compatibility
    /// ChangeCipherSpec and the start of encrypted data, as real servers send.
    flight: usize,
    dns_q: [usize; 2],
    dns_r: [usize; 2],
    quic: usize,
}

struct Ctx {
    pool: Vec<u8>,
    /// prefix[k] = sum of the first k big-endian 16-bit words of the pool.
    prefix: Vec<u64>,
    tmpls: Vec<Tmpl>,
    names: Vec<Name>,
    vendor_idx: Vec<usize>,
    benign_idx: Vec<usize>,
    mix: Mix,
}

impl Ctx {
    fn pool_sum(&self, off: usize, len: usize) -> u64 {
        let a = off / 2;
        let b = (off + len) / 2;
        let mut s = self
            .prefix
            .get(b)
            .copied()
            .unwrap_or(0)
            .wrapping_sub(self.prefix.get(a).copied().unwrap_or(0));
        if len % 2 == 1 {
            s += u64::from(self.pool.get(off + len - 1).copied().unwrap_or(0)) << 8;
        }
        s
    }

    fn pool_slice(&self, off: usize, len: usize) -> &[u8] {
        self.pool.get(off..off + len).unwrap_or_default()
    }

    fn tmpl(&self, i: usize) -> &[u8] {
        self.tmpls
            .get(i)
            .map(|t| t.bytes.as_slice())
            .unwrap_or_default()
    }
}

fn public_v4(rng: &mut Rng) -> [u8; 4] {
    // Addresses from a handful of large public blocks (clouds, CDNs).
    const FIRST: [u8; 10] = [13, 20, 23, 34, 35, 52, 104, 142, 151, 185];
    let a = FIRST
        .get(rng.below(FIRST.len() as u64) as usize)
        .copied()
        .unwrap_or(52);
    [
        a,
        rng.next_u64() as u8,
        rng.next_u64() as u8,
        1 + rng.below(253) as u8,
    ]
}

fn build_ctx(rng: &mut Rng) -> Result<Ctx, GenError> {
    let pool = rng.vec(POOL_LEN);
    let mut prefix = Vec::with_capacity(POOL_LEN / 2 + 1);
    let mut acc = 0u64;
    prefix.push(0);
    for w in pool.chunks_exact(2) {
        if let [x, y] = w {
            acc += u64::from(u16::from_be_bytes([*x, *y]));
        }
        prefix.push(acc);
    }
    let mut tmpls = Vec::new();
    let mut names = Vec::new();
    let all: Vec<(&str, bool)> = VENDOR_NAMES
        .iter()
        .map(|n| (*n, true))
        .chain(BENIGN_NAMES.iter().map(|n| (*n, false)))
        .collect();
    for (name, vendor) in all {
        let v4 = public_v4(rng);
        let mut v6 = [0u8; 16];
        v6[0] = 0x26;
        v6[1] = 0x06;
        for b in v6.iter_mut().skip(2) {
            *b = rng.next_u64() as u8;
        }
        let mut hellos = [0usize; 2];
        let profiles = if vendor {
            [Profile::SchannelTls13, Profile::CurlOpenssl]
        } else {
            [Profile::Chrome, Profile::SchannelTls13]
        };
        for (slot, prof) in hellos.iter_mut().zip(profiles) {
            let ch = tls::client_hello(
                prof,
                &HelloParams::new(Some(name), &["h2", "http/1.1"]),
                rng,
            );
            *slot = tmpls.len();
            tmpls.push(Tmpl {
                bytes: ch.record_bytes(),
            });
        }
        let flight = tmpls.len();
        let mut fb = tls::records(
            22,
            0x0303,
            &tls::server_hello(
                tls::ServerVersion::Tls13,
                0x1301,
                &rng.bytes::<32>(),
                None,
                rng,
            ),
        );
        fb.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
        fb.extend_from_slice(&tls::records(23, 0x0303, &rng.vec(900)));
        tmpls.push(Tmpl { bytes: fb });
        let mut dns_q = [0usize; 2];
        let mut dns_r = [0usize; 2];
        for (k, (qt, data)) in [
            (crate::dns::TYPE_A, std::net::IpAddr::from(v4)),
            (crate::dns::TYPE_AAAA, std::net::IpAddr::from(v6)),
        ]
        .into_iter()
        .enumerate()
        {
            let answers = [(name.to_string(), 300u32, crate::dns::RData::Addr(data))];
            let q = crate::dns::Message {
                id: 0,
                response: false,
                qname: name,
                qtype: qt,
                answers: &[],
                edns: None,
            }
            .encode();
            let r = crate::dns::Message {
                id: 0,
                response: true,
                qname: name,
                qtype: qt,
                answers: &answers,
                edns: None,
            }
            .encode();
            if let (Some(qs), Some(rs)) = (dns_q.get_mut(k), dns_r.get_mut(k)) {
                *qs = tmpls.len();
                tmpls.push(Tmpl { bytes: q });
                *rs = tmpls.len();
                tmpls.push(Tmpl { bytes: r });
            }
        }
        // The QUIC ClientHello per name; each QUIC flow protects it under its own DCID.
        let mut hp = HelloParams::new(Some(name), &["h3"]);
        hp.quic_tp = quic::chrome_transport_parameters(&[]);
        let ch = tls::client_hello(Profile::ChromeQuic, &hp, rng);
        let quic_idx = tmpls.len();
        tmpls.push(Tmpl {
            bytes: ch.handshake_bytes(),
        });
        names.push(Name {
            v4,
            v6,
            vendor,
            hellos,
            flight,
            dns_q,
            dns_r,
            quic: quic_idx,
        });
    }
    let vendor_idx = (0..names.len())
        .filter(|i| names.get(*i).is_some_and(|n| n.vendor))
        .collect();
    let benign_idx = (0..names.len())
        .filter(|i| names.get(*i).is_some_and(|n| !n.vendor))
        .collect();
    Ok(Ctx {
        pool,
        prefix,
        tmpls,
        names,
        vendor_idx,
        benign_idx,
        mix: Mix::ENTERPRISE,
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Https,
    Dns,
    Quic,
    Ntp,
    Frag,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Syn,
    SynAck,
    Ack,
    Hello,
    Flight,
    ClientFinish,
    Request,
    Response,
    Fin1,
    Fin2,
    LastAck,
    Rst,
    Udp,
    Done,
}

/// What the next packet carries.
#[derive(Clone, Copy)]
enum Pay {
    None,
    Pool {
        off: usize,
        len: usize,
    },
    /// A 10-byte protocol header (QUIC short header, NTP header) followed by pool bytes.
    Prefixed {
        prefix: [u8; 10],
        off: usize,
        len: usize,
    },
    /// Bytes owned by the flow (its protected QUIC Initials).
    Own {
        start: usize,
        len: usize,
    },
    Tmpl {
        idx: usize,
        start: usize,
        len: usize,
        id: Option<u16>,
    },
}

struct Flow {
    kind: Kind,
    v6: bool,
    l2: [[u8; 22]; 2],
    l2_len: usize,
    addr: [[u8; 16]; 2],
    addr_sum: u64,
    port: [u16; 2],
    seq: [u32; 2],
    ip_id: [u16; 2],
    ttl: [u8; 2],
    phase: Phase,
    name: usize,
    hello: usize,
    hello_sent: usize,
    /// The server flight template (TLS flows), sent as the first server data.
    flight: Option<usize>,
    mss: usize,
    /// Bytes left in the current server burst (flight or response).
    burst_left: usize,
    since_ack: u32,
    pending_ack: bool,
    rounds_left: u32,
    req: (usize, usize),
    resp: (usize, usize),
    rst_end: bool,
    rtt_us: u64,
    think_us: f64,
    last_dir: usize,
    udp_step: u32,
    udp_total: u32,
    dns_id: u16,
    cid: [u8; 8],
    /// QUIC only: the two protected client Initials, back to back, and where the second starts.
    own: Vec<u8>,
    own_split: usize,
}

const C: usize = 0;
const SV: usize = 1;

impl Flow {
    #[allow(clippy::too_many_lines)]
    fn new(rng: &mut Rng, ctx: &Ctx, stats: &mut BenchStats) -> Result<Self, GenError> {
        let r = rng.unit();
        let mix = &ctx.mix;
        let kind = if r < mix.https {
            Kind::Https
        } else if r < mix.dns {
            Kind::Dns
        } else if r < mix.quic {
            Kind::Quic
        } else if r < mix.ntp {
            Kind::Ntp
        } else {
            Kind::Frag
        };
        let vendor = kind != Kind::Ntp && kind != Kind::Frag && rng.chance(0.03);
        let pick = |rng: &mut Rng, v: &[usize]| {
            v.get(rng.below(v.len() as u64) as usize)
                .copied()
                .unwrap_or(0)
        };
        let name = if vendor {
            pick(rng, &ctx.vendor_idx)
        } else {
            pick(rng, &ctx.benign_idx)
        };
        let v6 = kind != Kind::Frag && kind != Kind::Ntp && rng.chance(0.2);
        let host = rng.below(u64::from(HOSTS)) as u32;
        let vlan_id = 10 + (host % 48) as u16;
        let qinq = host.is_multiple_of(7);
        let host_mac = [
            0x00,
            0x50,
            0x56,
            0x80 | (host >> 16) as u8,
            (host >> 8) as u8,
            host as u8,
        ];
        let mut l2 = [[0u8; 22]; 2];
        let mut l2_len = 0;
        for (d, hdr) in l2.iter_mut().enumerate() {
            let (src, dst) = if d == C {
                (host_mac, ROUTER_MAC)
            } else {
                (ROUTER_MAC, host_mac)
            };
            let mut v = Vec::with_capacity(22);
            v.extend_from_slice(&dst);
            v.extend_from_slice(&src);
            if qinq {
                v.extend_from_slice(&[0x88, 0xa8]);
                v.extend_from_slice(&(300 + (host % 4) as u16).to_be_bytes());
            }
            v.extend_from_slice(&[0x81, 0x00]);
            v.extend_from_slice(&vlan_id.to_be_bytes());
            v.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
            l2_len = v.len();
            for (o, i) in hdr.iter_mut().zip(v) {
                *o = i;
            }
        }
        let n = ctx.names.get(name);
        let mut addr = [[0u8; 16]; 2];
        if v6 {
            let mut h = [0u8; 16];
            h[0] = 0xfd;
            h[7] = (host >> 8) as u8 & 0x0f;
            h[14] = (host >> 8) as u8;
            h[15] = host as u8;
            addr[C] = h;
            let server = match kind {
                Kind::Dns => {
                    let mut r6 = [0u8; 16];
                    r6[0] = 0xfd;
                    r6[15] = 0x53;
                    r6
                }
                _ => n.map(|n| n.v6).unwrap_or_default(),
            };
            addr[SV] = server;
        } else {
            let h = Ipv4Addr::new(10, 1, (host >> 8) as u8 + 10, host as u8).octets();
            addr[C][..4].copy_from_slice(&h);
            let server = match kind {
                Kind::Dns => [10, 1, 0, 53],
                Kind::Ntp => [168, 61, 215, 74],
                Kind::Frag => [10, 1, 0, 14],
                _ => n.map(|n| n.v4).unwrap_or([192, 0, 2, 1]),
            };
            addr[SV][..4].copy_from_slice(&server);
        }
        let alen = if v6 { 16 } else { 4 };
        let addr_sum = sum_words(addr[C].get(..alen).unwrap_or_default())
            + sum_words(addr[SV].get(..alen).unwrap_or_default());
        let cport = 49152 + rng.below(16000) as u16;
        let sport = match kind {
            Kind::Https | Kind::Quic => 443,
            Kind::Dns => 53,
            Kind::Ntp => 123,
            Kind::Frag => 514,
        };
        let port = [if kind == Kind::Ntp { 123 } else { cport }, sport];
        let long = kind == Kind::Https && rng.chance(mix.long);
        let medium = kind == Kind::Https && !long && rng.chance(mix.medium);
        let chatty = rng.chance(0.8);
        let rounds = if long {
            // tens of thousands of packets
            if chatty {
                5000 + rng.below(12000) as u32
            } else {
                800 + rng.below(2000) as u32
            }
        } else if medium {
            8 + rng.below(60) as u32
        } else {
            1 + rng.below(4) as u32
        };
        // (min, max) of log-uniform request and response sizes.
        let (req, resp) = if long && chatty {
            ((40, 260), (40, 300))
        } else if long {
            ((80, 500), (6000, 30000))
        } else if medium {
            ((60, 600), (80, 3000))
        } else {
            ((90, 900), (120, 6000))
        };
        let hello = n
            .and_then(|n| n.hellos.get(rng.below(2) as usize).copied())
            .unwrap_or(0);
        // Long flows go to nearby servers (backup, file shares, a close PoP): low RTT.
        let rtt_us = if long {
            300 + rng.below(3_000)
        } else {
            2_000 + rng.below(180_000)
        };
        let mss = if v6 { 1440 } else { 1460 };
        let (phase, udp_total) = match kind {
            Kind::Https => (Phase::Syn, 0),
            Kind::Dns => (Phase::Udp, 2),
            Kind::Quic => (Phase::Udp, 4 + rng.below(30) as u32),
            Kind::Ntp => (Phase::Udp, 2),
            Kind::Frag => (Phase::Udp, 3 * (1 + rng.below(3) as u32)),
        };
        stats.flows += 1;
        stats.flows_v6 += u64::from(v6);
        stats.vendor_flows += u64::from(vendor);
        stats.long_flows += u64::from(long);
        // A QUIC flow's Initials are protected under its own random DCID (per-flow work, not
        // per-packet: two AES-GCM seals of ~1.2 KB).
        let (own, own_split) = if kind == Kind::Quic {
            let hs = n.map(|n| ctx.tmpl(n.quic)).unwrap_or_default();
            let dcid = rng.bytes::<8>();
            let keys = quic::initial_keys(&dcid, false)?;
            let first = hs.get(..hs.len().min(1100)).unwrap_or_default();
            let rest = hs.get(first.len()..).unwrap_or_default();
            let mut own =
                quic::initial_packet(&keys, &dcid, &[], 0, &quic::crypto_frame(0, first), 1250)?;
            let split = own.len();
            let p2 = quic::initial_packet(
                &keys,
                &dcid,
                &[],
                1,
                &quic::crypto_frame(first.len() as u64, rest),
                1250,
            )?;
            own.extend_from_slice(&p2);
            (own, split)
        } else {
            (Vec::new(), 0)
        };
        Ok(Flow {
            kind,
            v6,
            l2,
            l2_len,
            addr,
            addr_sum,
            port,
            seq: [rng.next_u32(), rng.next_u32()],
            ip_id: [rng.next_u16(), rng.next_u16()],
            ttl: [
                if host.is_multiple_of(3) { 64 } else { 128 },
                40 + rng.below(20) as u8,
            ],
            phase,
            name,
            hello,
            hello_sent: 0,
            flight: ctx.names.get(name).map(|n| n.flight),
            mss,
            burst_left: 0,
            since_ack: 0,
            pending_ack: false,
            rounds_left: rounds,
            req,
            resp,
            rst_end: rng.chance(0.08),
            rtt_us,
            think_us: if long { 300.0 } else { 40_000.0 },
            last_dir: C,
            udp_step: 0,
            udp_total,
            dns_id: rng.next_u16(),
            cid: rng.bytes::<8>(),
            own,
            own_split,
        })
    }

    /// Decides the next packet: (direction, TCP flags, payload). None when the flow is over.
    fn next(&mut self, rng: &mut Rng, ctx: &Ctx) -> Option<(usize, u8, Pay)> {
        const SYN: u8 = 0x02;
        const ACK: u8 = 0x10;
        const PSH: u8 = 0x08;
        const FIN: u8 = 0x01;
        const RST: u8 = 0x04;
        let pool = |rng: &mut Rng, len: usize| Pay::Pool {
            off: (rng.below((POOL_LEN - 70_000) as u64) as usize) & !1,
            len,
        };
        if self.pending_ack {
            self.pending_ack = false;
            return Some((C, ACK, Pay::None));
        }
        match self.phase {
            Phase::Syn => {
                self.phase = Phase::SynAck;
                Some((C, SYN, Pay::None))
            }
            Phase::SynAck => {
                self.phase = Phase::Ack;
                Some((SV, SYN | ACK, Pay::None))
            }
            Phase::Ack => {
                self.phase = Phase::Hello;
                Some((C, ACK, Pay::None))
            }
            Phase::Hello => {
                let total = ctx.tmpl(self.hello).len();
                let start = self.hello_sent;
                let len = (total - start).min(self.mss);
                self.hello_sent += len;
                if self.hello_sent >= total {
                    self.phase = Phase::Flight;
                    self.burst_left = 2400 + rng.below(2000) as usize;
                }
                Some((
                    C,
                    ACK | PSH,
                    Pay::Tmpl {
                        idx: self.hello,
                        start,
                        len,
                        id: None,
                    },
                ))
            }
            Phase::Flight if self.flight.is_some() => {
                let idx = self.flight.take().unwrap_or_default();
                let len = ctx.tmpl(idx).len().min(self.mss);
                self.burst_left = self.burst_left.saturating_sub(len).max(1);
                self.since_ack += 1;
                Some((
                    SV,
                    ACK,
                    Pay::Tmpl {
                        idx,
                        start: 0,
                        len,
                        id: None,
                    },
                ))
            }
            Phase::Flight | Phase::Response => {
                let len = self.burst_left.min(self.mss);
                self.burst_left -= len;
                self.since_ack += 1;
                let end = self.burst_left == 0;
                if self.since_ack >= 2 || end {
                    self.since_ack = 0;
                    self.pending_ack = true;
                }
                if end {
                    self.phase = if self.phase == Phase::Flight {
                        Phase::ClientFinish
                    } else if self.rounds_left > 0 {
                        Phase::Request
                    } else if self.rst_end {
                        Phase::Rst
                    } else {
                        Phase::Fin1
                    };
                }
                Some((SV, ACK | if end { PSH } else { 0 }, pool(rng, len)))
            }
            Phase::ClientFinish => {
                self.phase = Phase::Request;
                let len = 64 + rng.below(70) as usize;
                Some((C, ACK | PSH, pool(rng, len)))
            }
            Phase::Request => {
                self.rounds_left = self.rounds_left.saturating_sub(1);
                self.phase = Phase::Response;
                self.burst_left = log_uniform(rng, self.resp);
                let len = log_uniform(rng, self.req);
                Some((C, ACK | PSH, pool(rng, len.min(self.mss))))
            }
            Phase::Fin1 => {
                self.phase = Phase::Fin2;
                Some((C, FIN | ACK, Pay::None))
            }
            Phase::Fin2 => {
                self.phase = Phase::LastAck;
                Some((SV, FIN | ACK, Pay::None))
            }
            Phase::LastAck => {
                self.phase = Phase::Done;
                Some((C, ACK, Pay::None))
            }
            Phase::Rst => {
                self.phase = Phase::Done;
                Some((SV, RST | ACK, Pay::None))
            }
            Phase::Udp => {
                let step = self.udp_step;
                self.udp_step += 1;
                if self.udp_step >= self.udp_total {
                    self.phase = Phase::Done;
                }
                let n = ctx.names.get(self.name)?;
                let fam = usize::from(self.v6);
                Some(match self.kind {
                    Kind::Dns => {
                        let idx = if step == 0 {
                            n.dns_q.get(fam)
                        } else {
                            n.dns_r.get(fam)
                        }
                        .copied()
                        .unwrap_or(0);
                        (
                            if step == 0 { C } else { SV },
                            0,
                            Pay::Tmpl {
                                idx,
                                start: 0,
                                len: ctx.tmpl(idx).len(),
                                id: Some(self.dns_id),
                            },
                        )
                    }
                    Kind::Quic => match step {
                        0 => (
                            C,
                            0,
                            Pay::Own {
                                start: 0,
                                len: self.own_split,
                            },
                        ),
                        1 => (
                            C,
                            0,
                            Pay::Own {
                                start: self.own_split,
                                len: self.own.len() - self.own_split,
                            },
                        ),
                        _ => {
                            let dir = if rng.chance(0.5) { SV } else { C };
                            let len = if dir == SV {
                                log_uniform(rng, (50, 1350))
                            } else {
                                30 + rng.below(80) as usize
                            };
                            // Short header: form bit clear, fixed bit set; towards the server
                            // the 8-byte connection ID it chose, towards the client none.
                            let mut prefix = [0u8; 10];
                            prefix[0] = 0x40 | (rng.next_u64() as u8 & 0x1f);
                            if dir == C {
                                prefix[1..9].copy_from_slice(&self.cid);
                            } else {
                                prefix[1..9].copy_from_slice(&rng.bytes::<8>());
                            }
                            prefix[9] = rng.next_u64() as u8;
                            let Pay::Pool { off, .. } = pool(rng, len) else {
                                return None;
                            };
                            (dir, 0, Pay::Prefixed { prefix, off, len })
                        }
                    },
                    Kind::Ntp => {
                        let dir = step as usize % 2;
                        // LI/VN/mode, stratum, poll, precision, root delay (2 of 4 bytes)...
                        let prefix = if dir == C {
                            [0x23, 0, 6, 0xe9, 0, 0, 0, 0, 0, 0]
                        } else {
                            [0x24, 3, 6, 0xe7, 0, 0, 0, 0x1d, 0, 0]
                        };
                        let Pay::Pool { off, .. } = pool(rng, 38) else {
                            return None;
                        };
                        (
                            dir,
                            0,
                            Pay::Prefixed {
                                prefix,
                                off,
                                len: 38,
                            },
                        )
                    }
                    // one datagram per step, too big for one frame: the emitter fragments it
                    _ => {
                        let len = 2000 + rng.below(1800) as usize;
                        (C, 0, pool(rng, len))
                    }
                })
            }
            Phase::Done => None,
        }
    }

    /// Gap before this flow's next packet, given the direction of the one just sent.
    fn gap(&mut self, rng: &mut Rng, dir: usize) -> u64 {
        let turn = dir != self.last_dir;
        self.last_dir = dir;
        let base = if turn {
            self.rtt_us as f64 / 2.0
        } else {
            15.0 + rng.below(120) as f64
        };
        let think = if self.phase == Phase::Request
            || (self.kind != Kind::Https && self.kind != Kind::Frag)
        {
            rng.exp(self.think_us)
        } else {
            0.0
        };
        (base + think) as u64 + 1
    }
}

/// Writes frames for one logical packet; returns how many frames it took (fragments).
struct Emitter<W: Write> {
    w: CaptureWriter<W>,
    hdr: [u8; 128],
}

impl<W: Write> Emitter<W> {
    // Offsets below index a fixed 128-byte header buffer with bounded lengths (link <= 22,
    // IP <= 40, transport <= 32), never packet input.
    #[allow(
        clippy::too_many_lines,
        clippy::indexing_slicing,
        clippy::too_many_arguments
    )]
    fn emit(
        &mut self,
        ctx: &Ctx,
        f: &mut Flow,
        ts: u64,
        dir: usize,
        flags: u8,
        pay: Pay,
        fragments: &mut u64,
    ) -> Result<u64, GenError> {
        // The payload is `prefix[..plen]` followed by `body`.
        let mut prefix = [0u8; 10];
        let (plen, body, pay_sum): (usize, &[u8], u64) = match pay {
            Pay::None => (0, &[], 0),
            Pay::Pool { off, len } => (0, ctx.pool_slice(off, len), ctx.pool_sum(off, len)),
            Pay::Prefixed {
                prefix: p,
                off,
                len,
            } => {
                prefix = p;
                (
                    10,
                    ctx.pool_slice(off, len),
                    sum_words(&p) + ctx.pool_sum(off, len),
                )
            }
            Pay::Own { start, len } => {
                let b = f.own.get(start..start + len).unwrap_or_default();
                (0, b, sum_words(b))
            }
            Pay::Tmpl {
                idx,
                start,
                len,
                id,
            } => {
                let b = ctx.tmpl(idx).get(start..start + len).unwrap_or_default();
                match id {
                    // DNS: the template's id is 0; the flow's id replaces it.
                    Some(v) => {
                        prefix[..2].copy_from_slice(&v.to_be_bytes());
                        let rest = b.get(2..).unwrap_or_default();
                        (2, rest, sum_words(rest) + u64::from(v))
                    }
                    None => (0, b, sum_words(b)),
                }
            }
        };
        let pay_len = plen + body.len();
        let is_tcp = f.kind == Kind::Https;
        let opts: &[u8] = if flags & 0x02 != 0 {
            &[
                2,
                4,
                (f.mss >> 8) as u8,
                f.mss as u8,
                1,
                3,
                3,
                8,
                1,
                1,
                4,
                2,
            ]
        } else {
            &[]
        };
        let l4_hdr_len = if is_tcp { 20 + opts.len() } else { 8 };
        let l4_len = l4_hdr_len + pay_len;
        let other = 1 - dir;
        let h = &mut self.hdr;
        let l2 = f.l2.get(dir).copied().unwrap_or([0; 22]);
        let l2_len = f.l2_len;
        h[..l2_len].copy_from_slice(&l2[..l2_len]);
        let proto: u8 = if is_tcp { 6 } else { 17 };
        let ip_id = f.ip_id[dir];
        f.ip_id[dir] = ip_id.wrapping_add(1);
        let frag_unit = 1480usize;
        let fragmenting = !f.v6 && l4_len + 20 > 1500;
        let ip_len;
        {
            let ip = &mut h[l2_len..];
            if f.v6 {
                ip[..4].copy_from_slice(&[0x60, 0, 0, 0]);
                ip[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
                ip[6] = proto;
                ip[7] = f.ttl[dir];
                ip[8..24].copy_from_slice(&f.addr[dir]);
                ip[24..40].copy_from_slice(&f.addr[other]);
                ip_len = 40;
            } else {
                ip_len = 20;
            }
        }
        // Transport header.
        let t0 = l2_len + ip_len;
        let pseudo = f.addr_sum + u64::from(proto) + l4_len as u64;
        {
            let t = &mut h[t0..];
            t[0..2].copy_from_slice(&f.port[dir].to_be_bytes());
            t[2..4].copy_from_slice(&f.port[other].to_be_bytes());
            if is_tcp {
                let seq = f.seq[dir];
                let ack = if flags & 0x10 != 0 { f.seq[other] } else { 0 };
                t[4..8].copy_from_slice(&seq.to_be_bytes());
                t[8..12].copy_from_slice(&ack.to_be_bytes());
                t[12] = ((l4_hdr_len / 4) as u8) << 4;
                t[13] = flags;
                let win: u16 = if flags & 0x02 != 0 {
                    64240
                } else if dir == C {
                    1026
                } else {
                    501
                };
                t[14..16].copy_from_slice(&win.to_be_bytes());
                t[16..18].copy_from_slice(&[0, 0]);
                t[18..20].copy_from_slice(&[0, 0]);
                t[20..20 + opts.len()].copy_from_slice(opts);
                let adv = pay_len as u32 + u32::from(flags & 0x03 != 0);
                f.seq[dir] = seq.wrapping_add(adv);
            } else {
                t[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
                t[6..8].copy_from_slice(&[0, 0]);
            }
            let hs = sum_words(&t[..l4_hdr_len]);
            let mut c = fold(pseudo + hs + pay_sum);
            if !is_tcp && c == 0 {
                c = 0xffff;
            }
            let at = if is_tcp { 16 } else { 6 };
            t[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
        let pre = &prefix[..plen];
        if !fragmenting {
            if !f.v6 {
                let ip = &mut h[l2_len..l2_len + 20];
                write_v4(
                    ip,
                    (20 + l4_len) as u16,
                    ip_id,
                    0x4000,
                    f.ttl[dir],
                    proto,
                    &f.addr[dir][..4],
                    &f.addr[other][..4],
                );
            }
            let head = &h[..t0 + l4_hdr_len];
            let pad = [0u8; 60];
            let total = head.len() + l4_len - l4_hdr_len;
            let pad_len = 60usize.saturating_sub(total);
            self.w
                .write_parts(ts, &[head, pre, body, &pad[..pad_len]])?;
            return Ok(1);
        }
        // IPv4 fragments: the first carries the transport header.
        let mut rest = body;
        let mut off = 0usize;
        let mut first = true;
        let mut frames = 0;
        while first || !rest.is_empty() {
            let room = if first {
                frag_unit - l4_hdr_len - plen
            } else {
                frag_unit
            };
            let take = rest.len().min(room);
            let (chunk, r) = rest.split_at(take);
            rest = r;
            let more = !rest.is_empty();
            let this_len = take + if first { l4_hdr_len + plen } else { 0 };
            let flags_off = (if more { 0x2000 } else { 0 }) | ((off / 8) as u16);
            let ip = &mut h[l2_len..l2_len + 20];
            write_v4(
                ip,
                (20 + this_len) as u16,
                ip_id,
                flags_off,
                f.ttl[dir],
                proto,
                &f.addr[dir][..4],
                &f.addr[other][..4],
            );
            if first {
                self.w
                    .write_parts(ts, &[&h[..t0 + l4_hdr_len], pre, chunk])?;
            } else {
                self.w.write_parts(ts + frames, &[&h[..t0], chunk])?;
            }
            off += this_len;
            first = false;
            frames += 1;
            *fragments += 1;
        }
        Ok(frames)
    }
}

#[allow(clippy::too_many_arguments, clippy::indexing_slicing)] // length checked on entry
fn write_v4(
    ip: &mut [u8],
    total: u16,
    id: u16,
    flags_off: u16,
    ttl: u8,
    proto: u8,
    src: &[u8],
    dst: &[u8],
) {
    if ip.len() < 20 || src.len() != 4 || dst.len() != 4 {
        return;
    }
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[6..8].copy_from_slice(&flags_off.to_be_bytes());
    ip[8] = ttl;
    ip[9] = proto;
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(src);
    ip[16..20].copy_from_slice(dst);
    let c = fold(sum_words(&ip[..20]));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Generates `packets` packets into `out`. Deterministic: the same arguments give the same
/// bytes.
pub fn generate<W: Write>(
    out: W,
    format: Format,
    packets: u64,
) -> Result<(BenchStats, W), GenError> {
    generate_mix(out, format, packets, Mix::ENTERPRISE)
}

/// [`generate`] with another traffic mix.
pub fn generate_mix<W: Write>(
    out: W,
    format: Format,
    packets: u64,
    mix: Mix,
) -> Result<(BenchStats, W), GenError> {
    let mut rng = Rng::derive(mix.seed, "bench");
    let mut ctx = build_ctx(&mut rng)?;
    ctx.mix = mix;
    let mut flow_rng = Rng::derive(mix.seed, "flows");
    let mut stats = BenchStats::default();
    let mut em = Emitter {
        w: CaptureWriter::new(out, format)?,
        hdr: [0u8; 128],
    };
    let mut flows: Vec<Option<Flow>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut next_arrival = T0_US;
    let mut emitted = 0u64;
    let mut fragments = 0u64;
    while emitted < packets {
        let top = heap.peek().map(|Reverse((t, _, _))| *t);
        if top.is_none_or(|t| next_arrival <= t) && flows.len() - free.len() < MAX_ACTIVE {
            let f = Flow::new(&mut flow_rng, &ctx, &mut stats)?;
            let slot = match free.pop() {
                Some(s) => {
                    if let Some(x) = flows.get_mut(s) {
                        *x = Some(f);
                    }
                    s
                }
                None => {
                    flows.push(Some(f));
                    flows.len() - 1
                }
            };
            order += 1;
            heap.push(Reverse((next_arrival, order, slot)));
            next_arrival += (flow_rng.exp(1e6 / FLOW_RATE) as u64).max(1);
            continue;
        }
        let Some(Reverse((t, _, slot))) = heap.pop() else {
            break;
        };
        let Some(Some(f)) = flows.get_mut(slot) else {
            continue;
        };
        match f.next(&mut flow_rng, &ctx) {
            Some((dir, flags, pay)) => {
                let n = em.emit(&ctx, f, t, dir, flags, pay, &mut fragments)?;
                if stats.first_ts_us == 0 {
                    stats.first_ts_us = t;
                }
                stats.last_ts_us = stats.last_ts_us.max(t + n - 1);
                emitted += n;
                let gap = f.gap(&mut flow_rng, dir);
                order += 1;
                heap.push(Reverse((t + gap, order, slot)));
            }
            None => {
                if let Some(x) = flows.get_mut(slot) {
                    *x = None;
                }
                free.push(slot);
            }
        }
    }
    stats.packets = em.w.packets;
    stats.frame_bytes = em.w.frame_bytes;
    stats.file_bytes = em.w.file_bytes;
    stats.fragments = fragments;
    let out = em.w.finish()?;
    Ok((stats, out))
}
