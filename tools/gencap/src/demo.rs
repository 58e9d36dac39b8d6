//! The demo scene: a small enterprise network whose security agents phone home, written to a
//! capture together with `demo.expected.json`, the generator's own account of what it wrote.
//!
//! Every number in the JSON is counted while the packets are emitted and every fingerprint is
//! computed from the ClientHello that was built, never typed in.

use crate::dns::{self, RData, Record};
use crate::fingerprint;
use crate::frame::{self, Hop, TcpFlags, Vlan};
use crate::pcap::{CaptureWriter, Format};
use crate::quic;
use crate::rng::Rng;
use crate::tls::{self, ClientHello, HelloParams, Profile, ServerVersion};
use crate::x509;
use crate::GenError;
use ring::signature::Ed25519KeyPair;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Scene start: 2025-03-03T12:00:00Z, in microseconds.
pub const T0: u64 = 1_741_003_200_000_000;
const SEED: u64 = 0x7068_6f6e_6568_6f6d; // "phonehom"
const S: u64 = 1_000_000;
const MS: u64 = 1_000;
const ROUTER_MAC: [u8; 6] = [0x00, 0x1c, 0x73, 0x00, 0x00, 0x01];
/// Ethernet minimum frame length without FCS: a tap sees short frames padded to this.
const MIN_FRAME: usize = 60;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    ToServer,
    ToClient,
}

// ---------------------------------------------------------------- expected JSON

#[derive(Serialize, Default, Clone, Debug)]
pub struct Counters {
    pub packets: u64,
    /// Captured frame bytes (link header and Ethernet padding included).
    pub bytes: u64,
    /// IP bytes (IP header + payload) of the flow's own IP layer.
    pub ip_bytes: u64,
    /// Transport payload bytes (TCP/UDP payload; ICMP data).
    pub payload_bytes: u64,
}

#[derive(Serialize, Default, Clone, Debug)]
pub struct Names {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic_sni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_qtype: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_answers: Vec<Record>,
}

#[derive(Serialize, Clone, Debug)]
pub struct CertOut {
    pub subject: String,
    pub subject_cn: String,
    pub issuer: String,
    pub san_dns: Vec<String>,
    pub self_signed: bool,
    pub der_len: usize,
    pub sha256: String,
}

#[derive(Serialize, Clone, Debug)]
pub struct ServerOut {
    pub version: &'static str,
    pub cipher: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// The chain sent in the Certificate message, leaf first (TLS 1.2 only; TLS 1.3 encrypts it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertOut>,
}

#[derive(Serialize, Clone, Debug)]
pub struct TlsOut {
    pub client_profile: &'static str,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub ech_extension: bool,
    pub ja3: String,
    pub ja3_md5: String,
    pub ja4: String,
    pub ja4_r: String,
    /// Bytes of the ClientHello record(s) and the number of TCP segments / QUIC packets it spans.
    pub client_hello_len: usize,
    pub client_hello_segments: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerOut>,
}

#[derive(Serialize, Clone, Debug)]
pub struct QuicOut {
    pub version: u32,
    pub dcid: String,
    pub client_initial_packets: usize,
}

#[derive(Serialize, Clone, Debug)]
pub struct VendorOut {
    pub vendor: &'static str,
    pub product: &'static str,
    pub hq_country: &'static str,
    /// Where the generator meant the server to be (the address is chosen from that
    /// country's public ranges); a GeoIP test database must agree for this to hold.
    pub server_country: &'static str,
}

#[derive(Serialize, Clone, Debug)]
pub struct FlowOut {
    pub id: usize,
    pub transport: &'static str,
    pub app: &'static str,
    pub client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_port: Option<u16>,
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_port: Option<u16>,
    pub client_host: &'static str,
    pub vlan: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<String>,
    /// For a flow carried inside a tunnel, the id of the tunnel's own flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_flow: Option<usize>,
    pub first_ts_us: u64,
    pub last_ts_us: u64,
    pub to_server: Counters,
    pub to_client: Counters,
    /// "fin" (FIN both ways), "rst", "open" (no FIN, no RST), "half_closed".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_end: Option<&'static str>,
    pub ipv4_fragments: u64,
    /// For a 5-tuple that appears again after an idle gap: 1 for the first appearance, 2...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appearance: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_gap_before_us: Option<u64>,
    pub names: Names,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<QuicOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<VendorOut>,
    pub security_product: bool,
    pub note: &'static str,
}

#[derive(Serialize, Clone, Debug)]
pub struct HostOut {
    pub name: &'static str,
    pub role: &'static str,
    pub mac: String,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub vlan: Vec<u16>,
    pub security_products: Vec<&'static str>,
}

#[derive(Serialize, Clone, Debug)]
pub struct DnsOut {
    pub flow: usize,
    pub ts_us: u64,
    pub client: String,
    pub resolver: String,
    pub query: String,
    pub qtype: &'static str,
    pub answers: Vec<Record>,
}

#[derive(Serialize, Clone, Debug)]
pub struct VendorSummary {
    pub hq_country: &'static str,
    pub products: BTreeSet<&'static str>,
    pub hosts: BTreeSet<String>,
    pub flows: Vec<usize>,
    pub names: BTreeSet<String>,
}

#[derive(Serialize, Clone, Debug)]
pub struct Summary {
    pub flows: usize,
    pub flows_by_transport: BTreeMap<&'static str, usize>,
    pub flows_by_app: BTreeMap<&'static str, usize>,
    pub security_flows: usize,
    pub benign_flows: usize,
    pub vendors: BTreeMap<&'static str, VendorSummary>,
    pub snis: BTreeSet<String>,
    pub quic_snis: BTreeSet<String>,
    pub http_hosts: BTreeSet<String>,
    pub connect_targets: BTreeSet<String>,
    pub dns_queries: BTreeSet<String>,
    pub ja3_md5: BTreeSet<String>,
    pub ja4: BTreeSet<String>,
    /// Conversations keyed by transport and the two (address, port) ends only, no VLAN, no
    /// idle timeout: what `tshark -z conv,tcp` / `conv,udp` count (tunnel contents included).
    pub conversations_tcp: usize,
    pub conversations_udp: usize,
}

#[derive(Serialize, Clone, Debug)]
pub struct CaptureInfo {
    pub file: String,
    pub format: &'static str,
    pub linktype: u32,
    pub packets: u64,
    pub frame_bytes: u64,
    pub file_bytes: u64,
    pub first_ts_us: u64,
    pub last_ts_us: u64,
}

#[derive(Serialize, Clone, Debug)]
pub struct Conventions {
    pub direction: &'static str,
    pub bytes: &'static str,
    pub udp_idle_timeout_s: u64,
    pub fragments: &'static str,
    pub tunnels: &'static str,
    pub vendor: &'static str,
}

#[derive(Serialize, Clone, Debug)]
pub struct Expected {
    pub schema: &'static str,
    pub regenerate: &'static str,
    pub capture: CaptureInfo,
    pub conventions: Conventions,
    pub hosts: Vec<HostOut>,
    pub flows: Vec<FlowOut>,
    pub dns: Vec<DnsOut>,
    pub summary: Summary,
}

// ---------------------------------------------------------------- scene machinery

struct FlowRec {
    out: FlowOut,
    fin_c: bool,
    fin_s: bool,
    rst: bool,
    is_tcp: bool,
}

struct Pkt {
    ts: u64,
    order: u64,
    frame: Vec<u8>,
}

/// How one packet counts towards a flow.
struct Count {
    flow: usize,
    dir: Dir,
    ip_bytes: usize,
    payload: usize,
    fragment: bool,
}

#[derive(Clone, Copy)]
struct Host {
    name: &'static str,
    role: &'static str,
    mac: [u8; 6],
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
    vlan: Vlan,
    /// Initial TTL of the OS (128 Windows, 64 Linux).
    ttl: u8,
}

#[derive(Clone, Copy)]
struct Vendor {
    vendor: &'static str,
    product: &'static str,
    hq: &'static str,
    server_country: &'static str,
}

impl Vendor {
    fn out(&self) -> VendorOut {
        VendorOut {
            vendor: self.vendor,
            product: self.product,
            hq_country: self.hq,
            server_country: self.server_country,
        }
    }
}

struct Scene {
    rng: Rng,
    pkts: Vec<Pkt>,
    flows: Vec<FlowRec>,
    dns: Vec<DnsOut>,
    order: u64,
    ip_id: u16,
    hosts: Vec<(Host, Vec<&'static str>)>,
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn mac_str(m: &[u8; 6]) -> String {
    m.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Scene {
    fn new() -> Self {
        Self {
            rng: Rng::derive(SEED, "content"),
            pkts: Vec::new(),
            flows: Vec::new(),
            dns: Vec::new(),
            order: 0,
            ip_id: 0x1f00,
            hosts: Vec::new(),
        }
    }

    fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1 + (self.rng.next_u16() & 0x3));
        self.ip_id
    }

    #[allow(clippy::too_many_arguments)]
    fn new_flow(
        &mut self,
        transport: &'static str,
        app: &'static str,
        host: &Host,
        client: IpAddr,
        cport: Option<u16>,
        server: IpAddr,
        sport: Option<u16>,
        vendor: Option<Vendor>,
        note: &'static str,
    ) -> usize {
        let id = self.flows.len() + 1;
        self.flows.push(FlowRec {
            out: FlowOut {
                id,
                transport,
                app,
                client: client.to_string(),
                client_port: cport,
                server: server.to_string(),
                server_port: sport,
                client_host: host.name,
                vlan: host.vlan.ids(),
                encap: None,
                tunnel_flow: None,
                first_ts_us: 0,
                last_ts_us: 0,
                to_server: Counters::default(),
                to_client: Counters::default(),
                tcp_end: None,
                ipv4_fragments: 0,
                appearance: None,
                idle_gap_before_us: None,
                names: Names::default(),
                tls: None,
                quic: None,
                security_product: vendor.is_some(),
                vendor: vendor.map(|v| v.out()),
                note,
            },
            fin_c: false,
            fin_s: false,
            rst: false,
            is_tcp: transport == "tcp",
        });
        id
    }

    /// Flow ids are 1-based indices handed out by `new_flow`.
    fn flow(&mut self, id: usize) -> Result<&mut FlowOut, GenError> {
        self.flows
            .get_mut(id.wrapping_sub(1))
            .map(|f| &mut f.out)
            .ok_or_else(|| GenError::Build(format!("unknown flow {id}")))
    }

    fn emit(&mut self, ts: u64, mut frame: Vec<u8>, counts: &[Count]) {
        if frame.len() < MIN_FRAME {
            frame.resize(MIN_FRAME, 0);
        }
        for c in counts {
            if let Some(f) = self.flows.get_mut(c.flow.wrapping_sub(1)) {
                let o = &mut f.out;
                if o.to_server.packets + o.to_client.packets == 0 {
                    o.first_ts_us = ts;
                }
                o.first_ts_us = o.first_ts_us.min(ts);
                o.last_ts_us = o.last_ts_us.max(ts);
                let k = if c.dir == Dir::ToServer {
                    &mut o.to_server
                } else {
                    &mut o.to_client
                };
                k.packets += 1;
                k.bytes += frame.len() as u64;
                k.ip_bytes += c.ip_bytes as u64;
                k.payload_bytes += c.payload as u64;
                if c.fragment {
                    o.ipv4_fragments += 1;
                }
            }
        }
        self.order += 1;
        self.pkts.push(Pkt {
            ts,
            order: self.order,
            frame,
        });
    }

    fn mark_tcp(&mut self, flow: usize, dir: Dir, flags: TcpFlags) {
        if let Some(f) = self.flows.get_mut(flow.wrapping_sub(1)) {
            if flags.rst {
                f.rst = true;
            }
            if flags.fin {
                match dir {
                    Dir::ToServer => f.fin_c = true,
                    Dir::ToClient => f.fin_s = true,
                }
            }
        }
    }
}

/// An endpoint as seen on the capture link.
#[derive(Clone, Copy)]
struct End {
    mac: [u8; 6],
    ip: IpAddr,
    ttl: u8,
}

/// Where the packets of a connection travel: the client's VLAN, and optionally inside VXLAN.
#[derive(Clone, Copy)]
struct Path {
    vlan: Vlan,
    client: End,
    server: End,
    rtt: u64,
    tunnel: Option<Tunnel>,
}

#[derive(Clone, Copy)]
struct Tunnel {
    flow: usize,
    vni: u32,
    vtep_local: End,
    vtep_remote: End,
    vlan: Vlan,
    sport: u16,
}

fn path(host: &Host, client_ip: IpAddr, server_ip: IpAddr, server_ttl: u8, rtt_ms: u64) -> Path {
    Path {
        vlan: host.vlan,
        client: End {
            mac: host.mac,
            ip: client_ip,
            ttl: host.ttl,
        },
        server: End {
            mac: ROUTER_MAC,
            ip: server_ip,
            ttl: server_ttl,
        },
        rtt: rtt_ms * MS,
        tunnel: None,
    }
}

impl Path {
    fn hop(&self, dir: Dir, ip_id: u16) -> Hop {
        let (a, b) = match dir {
            Dir::ToServer => (self.client, self.server),
            Dir::ToClient => (self.server, self.client),
        };
        Hop {
            src_mac: a.mac,
            dst_mac: b.mac,
            vlan: if self.tunnel.is_some() {
                Vlan::None
            } else {
                self.vlan
            },
            src: a.ip,
            dst: b.ip,
            ttl: a.ttl,
            ip_id,
        }
    }

    /// Emits `inner` (a complete frame of this path) into the scene, wrapping it in VXLAN
    /// when the path is tunnelled.
    fn send(
        &self,
        sc: &mut Scene,
        ts: u64,
        dir: Dir,
        inner: Vec<u8>,
        flow: usize,
        payload: usize,
    ) -> Result<(), GenError> {
        let inner_l2 = if self.tunnel.is_some() {
            14
        } else {
            self.vlan.header_len()
        };
        let ip_bytes = inner.len().saturating_sub(inner_l2);
        let count = Count {
            flow,
            dir,
            ip_bytes,
            payload,
            fragment: false,
        };
        match self.tunnel {
            None => sc.emit(ts, inner, &[count]),
            Some(t) => {
                let (a, b) = match dir {
                    Dir::ToServer => (t.vtep_local, t.vtep_remote),
                    Dir::ToClient => (t.vtep_remote, t.vtep_local),
                };
                let id = sc.next_ip_id();
                let hop = Hop {
                    src_mac: a.mac,
                    dst_mac: b.mac,
                    vlan: t.vlan,
                    src: a.ip,
                    dst: b.ip,
                    ttl: a.ttl,
                    ip_id: id,
                };
                let (sp, dp) = (t.sport, 4789);
                let outer_payload = frame::vxlan_payload(t.vni, &inner);
                let outer = frame::udp(&hop, sp, dp, &outer_payload)?;
                let outer_ip = outer.len().saturating_sub(t.vlan.header_len());
                sc.emit(
                    ts,
                    outer,
                    &[
                        count,
                        Count {
                            flow: t.flow,
                            dir,
                            ip_bytes: outer_ip,
                            payload: outer_payload.len(),
                            fragment: false,
                        },
                    ],
                );
            }
        }
        Ok(())
    }
}

/// A TCP connection with consistent sequence numbers. Time is as seen at the capture point,
/// next to the client: a server's answer shows up one RTT after the client's packet.
struct Tcp {
    flow: usize,
    p: Path,
    cport: u16,
    sport: u16,
    cseq: u32,
    sseq: u32,
    mss: usize,
    /// Segments the client has received since its last ACK.
    unacked: u32,
}

impl Tcp {
    fn new(sc: &mut Scene, flow: usize, p: Path, cport: u16, sport: u16) -> Self {
        let cseq = sc.rng.next_u32();
        let sseq = sc.rng.next_u32();
        let base = if p.client.ip.is_ipv4() { 1460 } else { 1440 };
        let mss = base - if p.tunnel.is_some() { 50 } else { 0 };
        Self {
            flow,
            p,
            cport,
            sport,
            cseq,
            sseq,
            mss,
            unacked: 0,
        }
    }

    fn seg(
        &mut self,
        sc: &mut Scene,
        ts: u64,
        dir: Dir,
        flags: TcpFlags,
        payload: &[u8],
    ) -> Result<(), GenError> {
        let id = sc.next_ip_id();
        let hop = self.p.hop(dir, id);
        let (sp, dp, seq, ack, win) = match dir {
            Dir::ToServer => (self.cport, self.sport, self.cseq, self.sseq, 1026),
            Dir::ToClient => (self.sport, self.cport, self.sseq, self.cseq, 501),
        };
        let f = frame::tcp(
            &hop,
            sp,
            dp,
            seq,
            ack,
            flags,
            if flags.syn { 64240 } else { win },
            flags.syn,
            payload,
        )?;
        let adv = payload.len() as u32 + u32::from(flags.syn) + u32::from(flags.fin);
        match dir {
            Dir::ToServer => self.cseq = self.cseq.wrapping_add(adv),
            Dir::ToClient => self.sseq = self.sseq.wrapping_add(adv),
        }
        sc.mark_tcp(self.flow, dir, flags);
        self.p.send(sc, ts, dir, f, self.flow, payload.len())
    }

    fn connect(&mut self, sc: &mut Scene, t: u64) -> Result<u64, GenError> {
        self.seg(
            sc,
            t,
            Dir::ToServer,
            TcpFlags {
                syn: true,
                ..Default::default()
            },
            &[],
        )?;
        let t = t + self.p.rtt;
        self.seg(
            sc,
            t,
            Dir::ToClient,
            TcpFlags {
                syn: true,
                ack: true,
                ..Default::default()
            },
            &[],
        )?;
        let t = t + 150;
        self.seg(sc, t, Dir::ToServer, ack(), &[])?;
        Ok(t)
    }

    /// Sends `data` in MSS-sized segments. Returns (time of the last segment, segments).
    fn send(
        &mut self,
        sc: &mut Scene,
        t: u64,
        dir: Dir,
        data: &[u8],
    ) -> Result<(u64, usize), GenError> {
        let mut t = t;
        let chunks: Vec<&[u8]> = data.chunks(self.mss.max(1)).collect();
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            if i > 0 {
                t += 40 + (sc.rng.below(20));
            }
            let last = i + 1 == n;
            self.seg(
                sc,
                t,
                dir,
                TcpFlags {
                    ack: true,
                    psh: last,
                    ..Default::default()
                },
                c,
            )?;
            if dir == Dir::ToClient {
                self.unacked += 1;
                // The client acknowledges every second segment and the end of a burst.
                if self.unacked >= 2 || last {
                    self.unacked = 0;
                    self.seg(sc, t + 120, Dir::ToServer, ack(), &[])?;
                }
            }
        }
        Ok((t, n))
    }

    fn server_ack(&mut self, sc: &mut Scene, t: u64) -> Result<(), GenError> {
        self.seg(sc, t, Dir::ToClient, ack(), &[])
    }

    /// Orderly close started by `first`; each FIN is acknowledged.
    fn close(&mut self, sc: &mut Scene, t: u64, first: Dir) -> Result<u64, GenError> {
        let fin = TcpFlags {
            fin: true,
            ack: true,
            ..Default::default()
        };
        let other = if first == Dir::ToServer {
            Dir::ToClient
        } else {
            Dir::ToServer
        };
        self.seg(sc, t, first, fin, &[])?;
        let t2 = if first == Dir::ToServer {
            t + self.p.rtt
        } else {
            t + 200
        };
        self.seg(sc, t2, other, fin, &[])?;
        let t3 = if first == Dir::ToServer {
            t2 + 150
        } else {
            t2 + self.p.rtt
        };
        self.seg(sc, t3, first, ack(), &[])?;
        Ok(t3)
    }

    fn reset(&mut self, sc: &mut Scene, t: u64, dir: Dir) -> Result<(), GenError> {
        self.seg(
            sc,
            t,
            dir,
            TcpFlags {
                rst: true,
                ack: true,
                ..Default::default()
            },
            &[],
        )
    }
}

fn ack() -> TcpFlags {
    TcpFlags {
        ack: true,
        ..Default::default()
    }
}

// ---------------------------------------------------------------- building blocks

const RESOLVER4: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 53);
const RESOLVER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x53);
const PROXY: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 3);

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(s: [u16; 8]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
    ))
}

fn ephemeral(sc: &mut Scene, windows: bool) -> u16 {
    if windows {
        49152 + sc.rng.below(16000) as u16
    } else {
        32768 + sc.rng.below(28000) as u16
    }
}

/// One DNS transaction (query + answer) from `host` to the internal resolver. Returns the time
/// the answer arrived.
#[allow(clippy::too_many_arguments)]
fn dns_lookup(
    sc: &mut Scene,
    t: u64,
    host: &Host,
    use_v6: bool,
    qname: &str,
    qtype: u16,
    answers: &[(String, u32, RData)],
    vendor: Option<Vendor>,
    fragment_mtu: Option<usize>,
) -> Result<u64, GenError> {
    let (client, resolver) = match (use_v6, host.v4, host.v6) {
        (true, _, Some(a)) => (IpAddr::V6(a), IpAddr::V6(RESOLVER6)),
        (_, Some(a), _) => (IpAddr::V4(a), IpAddr::V4(RESOLVER4)),
        (_, None, Some(a)) => (IpAddr::V6(a), IpAddr::V6(RESOLVER6)),
        (_, None, None) => {
            return Err(GenError::Build(format!(
                "host {} has no address",
                host.name
            )))
        }
    };
    let cport = ephemeral(sc, host.ttl == 128);
    let note = if fragment_mtu.is_some() {
        "DNS answer too big for one frame: IPv4 fragments"
    } else {
        "DNS lookup"
    };
    let flow = sc.new_flow(
        "udp",
        "dns",
        host,
        client,
        Some(cport),
        resolver,
        Some(53),
        vendor,
        note,
    );
    let id = sc.rng.next_u16();
    let edns = if fragment_mtu.is_some() {
        Some(4096)
    } else {
        None
    };
    let q = dns::Message {
        id,
        response: false,
        qname,
        qtype,
        answers: &[],
        edns,
    }
    .encode();
    let p = path(host, client, resolver, 64, 1);
    let ipid = sc.next_ip_id();
    let f = frame::udp(&p.hop(Dir::ToServer, ipid), cport, 53, &q)?;
    p.send(sc, t, Dir::ToServer, f, flow, q.len())?;
    let r = dns::Message {
        id,
        response: true,
        qname,
        qtype,
        answers,
        edns,
    }
    .encode();
    let t2 = t + 800 + sc.rng.below(3000);
    let ipid = sc.next_ip_id();
    let mut hop = p.hop(Dir::ToClient, ipid);
    hop.ttl = 64;
    let f = frame::udp(&hop, 53, cport, &r)?;
    match fragment_mtu {
        Some(mtu) if client.is_ipv4() => {
            let frags = frame::fragment_ipv4(&f, host.vlan, mtu)?;
            let l2 = host.vlan.header_len();
            for (i, fr) in frags.into_iter().enumerate() {
                let ip_bytes = fr.len().saturating_sub(l2);
                let payload = if i == 0 { r.len() } else { 0 };
                sc.emit(
                    t2 + i as u64 * 5,
                    fr,
                    &[Count {
                        flow,
                        dir: Dir::ToClient,
                        ip_bytes,
                        payload,
                        fragment: true,
                    }],
                );
            }
        }
        _ => p.send(sc, t2, Dir::ToClient, f, flow, r.len())?,
    }
    let o = sc.flow(flow)?;
    o.names.dns_query = Some(qname.to_string());
    o.names.dns_qtype = Some(dns::qtype_name(qtype));
    o.names.dns_answers = dns::describe(answers);
    sc.dns.push(DnsOut {
        flow,
        ts_us: t2,
        client: client.to_string(),
        resolver: resolver.to_string(),
        query: qname.to_string(),
        qtype: dns::qtype_name(qtype),
        answers: dns::describe(answers),
    });
    Ok(t2)
}

fn a(name: &str, ttl: u32, ip: IpAddr) -> (String, u32, RData) {
    (name.to_string(), ttl, RData::Addr(ip))
}

fn cname(name: &str, ttl: u32, target: &str) -> (String, u32, RData) {
    (name.to_string(), ttl, RData::Cname(target.to_string()))
}

/// Certificates for a TLS 1.2 server: a leaf for `names` signed by a per-vendor demo CA, and
/// that self-signed CA. Keys come from the scene seed, so the DER is stable.
struct Chain {
    der: Vec<Vec<u8>>,
    out: Vec<CertOut>,
    leaf_key: Ed25519KeyPair,
}

fn cert_chain(sc: &mut Scene, org: &str, country: &str, names: &[&str]) -> Result<Chain, GenError> {
    let ca_key = Ed25519KeyPair::from_seed_unchecked(&sc.rng.bytes::<32>())
        .map_err(|e| GenError::Build(e.to_string()))?;
    let leaf_key = Ed25519KeyPair::from_seed_unchecked(&sc.rng.bytes::<32>())
        .map_err(|e| GenError::Build(e.to_string()))?;
    let ca_name = x509::Name {
        country: country.into(),
        org: org.into(),
        cn: format!("{org} Demo Issuing CA"),
    };
    let cn = names.first().copied().unwrap_or("localhost");
    let leaf_name = x509::Name {
        country: country.into(),
        org: org.into(),
        cn: cn.into(),
    };
    let leaf_spec = x509::CertSpec {
        serial: sc.rng.next_u64() >> 1,
        subject: leaf_name.clone(),
        issuer: ca_name.clone(),
        san_dns: names.iter().map(|s| (*s).to_string()).collect(),
        is_ca: false,
        not_before: "250101000000Z",
        not_after: "260201000000Z",
    };
    let ca_spec = x509::CertSpec {
        serial: sc.rng.next_u64() >> 1,
        subject: ca_name.clone(),
        issuer: ca_name.clone(),
        san_dns: vec![],
        is_ca: true,
        not_before: "240101000000Z",
        not_after: "340101000000Z",
    };
    let leaf = x509::certificate(&leaf_spec, &leaf_key, &ca_key);
    let ca = x509::certificate(&ca_spec, &ca_key, &ca_key);
    let describe = |spec: &x509::CertSpec<'_>, der: &[u8]| CertOut {
        subject: spec.subject.rfc4514(),
        subject_cn: spec.subject.cn.clone(),
        issuer: spec.issuer.rfc4514(),
        san_dns: spec.san_dns.clone(),
        self_signed: spec.subject.rfc4514() == spec.issuer.rfc4514(),
        der_len: der.len(),
        sha256: hexs(ring::digest::digest(&ring::digest::SHA256, der).as_ref()),
    };
    let out = vec![describe(&leaf_spec, &leaf), describe(&ca_spec, &ca)];
    Ok(Chain {
        der: vec![leaf, ca],
        out,
        leaf_key,
    })
}

fn tls_out(ch: &ClientHello, segments: usize) -> TlsOut {
    let ja3 = fingerprint::ja3_string(ch);
    let j4 = fingerprint::ja4(ch);
    TlsOut {
        client_profile: ch.profile,
        sni: ch.sni().map(str::to_string),
        alpn: ch.alpn(),
        ech_extension: ch.has_ech(),
        ja3_md5: fingerprint::ja3_md5(&ja3),
        ja3,
        ja4: j4.ja4,
        ja4_r: j4.ja4_r,
        client_hello_len: ch.record_bytes().len(),
        client_hello_segments: segments,
        server: None,
    }
}

/// How a TLS session proceeds after the ClientHello.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Close {
    Fin,
    Rst,
    Open,
}

struct TlsPlan<'a> {
    profile: Profile,
    sni: Option<&'a str>,
    alpn: &'a [&'a str],
    fixed_order: Option<&'a [u16]>,
    version: ServerVersion,
    cipher: u16,
    /// TLS 1.2 only: send a certificate chain for these names (leaf CN = first).
    cert: Option<(&'a str, &'a str, &'a [&'a str])>,
    /// (client bytes, server bytes) of application data exchanges after the handshake.
    exchanges: &'a [(usize, usize)],
    /// Gap between exchanges.
    period: u64,
    end: Close,
}

/// Runs the TLS handshake and application data on an established connection starting at `t`;
/// records the TLS description on the flow. Returns the end time.
fn run_tls(sc: &mut Scene, c: &mut Tcp, t: u64, plan: &TlsPlan<'_>) -> Result<u64, GenError> {
    let mut hp = HelloParams::new(plan.sni, plan.alpn);
    hp.fixed_order = plan.fixed_order;
    let ch = tls::client_hello(plan.profile, &hp, &mut sc.rng);
    let rec = ch.record_bytes();
    let (t, segs) = c.send(sc, t, Dir::ToServer, &rec)?;
    let mut tout = tls_out(&ch, segs);
    let alpn_sel = ch.alpn().first().cloned();
    let mut t = t + c.p.rtt + 2 * MS;
    let sid = if plan.version == ServerVersion::Tls13 {
        ch.session_id.clone()
    } else {
        sc.rng.vec(32)
    };
    let sh = tls::server_hello(
        plan.version,
        plan.cipher,
        &sid,
        if plan.version == ServerVersion::Tls12 {
            alpn_sel.as_deref()
        } else {
            None
        },
        &mut sc.rng,
    );
    let mut certs = Vec::new();
    match plan.version {
        ServerVersion::Tls12 => {
            let mut flight = sh.clone();
            if let Some((org, country, names)) = plan.cert {
                let chain = cert_chain(sc, org, country, names)?;
                flight.extend_from_slice(&tls::certificate(&chain.der));
                let server_random = sh.get(6..38).unwrap_or_default();
                flight.extend_from_slice(&tls::server_key_exchange(
                    &ch.random,
                    server_random,
                    &chain.leaf_key,
                    &mut sc.rng,
                ));
                certs = chain.out;
            }
            flight.extend_from_slice(&tls::server_hello_done());
            let (t1, _) = c.send(
                sc,
                t,
                Dir::ToClient,
                &tls::records(tls::CT_HANDSHAKE, 0x0303, &flight),
            )?;
            // ClientKeyExchange, ChangeCipherSpec, Finished
            let mut cf = tls::records(
                tls::CT_HANDSHAKE,
                0x0303,
                &tls::client_key_exchange(&mut sc.rng),
            );
            cf.extend_from_slice(&tls::records(tls::CT_CCS, 0x0303, &[1]));
            cf.extend_from_slice(&tls::opaque_record(tls::CT_HANDSHAKE, 40, &mut sc.rng));
            let (t2, _) = c.send(sc, t1 + MS, Dir::ToServer, &cf)?;
            let mut sf = tls::records(tls::CT_CCS, 0x0303, &[1]);
            sf.extend_from_slice(&tls::opaque_record(tls::CT_HANDSHAKE, 40, &mut sc.rng));
            let (t3, _) = c.send(sc, t2 + c.p.rtt, Dir::ToClient, &sf)?;
            t = t3;
        }
        ServerVersion::Tls13 => {
            let mut fl = tls::records(tls::CT_HANDSHAKE, 0x0303, &sh);
            fl.extend_from_slice(&tls::records(tls::CT_CCS, 0x0303, &[1]));
            // EncryptedExtensions, Certificate, CertificateVerify, Finished: opaque.
            let enc = 2400 + sc.rng.below(1600) as usize;
            fl.extend_from_slice(&tls::opaque_record(tls::CT_APPDATA, enc, &mut sc.rng));
            let (t1, _) = c.send(sc, t, Dir::ToClient, &fl)?;
            let mut cf = tls::records(tls::CT_CCS, 0x0303, &[1]);
            cf.extend_from_slice(&tls::opaque_record(tls::CT_APPDATA, 53, &mut sc.rng));
            let (t2, _) = c.send(sc, t1 + MS, Dir::ToServer, &cf)?;
            t = t2;
        }
    }
    tout.server = Some(ServerOut {
        version: if plan.version == ServerVersion::Tls13 {
            "TLS 1.3"
        } else {
            "TLS 1.2"
        },
        cipher: format!("0x{:04x}", plan.cipher),
        alpn: alpn_sel.filter(|_| plan.version == ServerVersion::Tls12),
        certificates: certs,
    });
    for (i, (up, down)) in plan.exchanges.iter().enumerate() {
        if i > 0 {
            t += plan.period + sc.rng.below(plan.period / 10 + 1);
        } else {
            t += 3 * MS;
        }
        if *up > 0 {
            let rec = tls::opaque_record(tls::CT_APPDATA, *up, &mut sc.rng);
            let (t1, _) = c.send(sc, t, Dir::ToServer, &rec)?;
            t = t1 + c.p.rtt + 4 * MS;
        }
        if *down > 0 {
            let rec = tls::opaque_record(tls::CT_APPDATA, *down, &mut sc.rng);
            let (t1, _) = c.send(sc, t, Dir::ToClient, &rec)?;
            t = t1;
        } else {
            c.server_ack(sc, t)?;
        }
    }
    match plan.end {
        Close::Fin => {
            // close_notify from the client, then FIN both ways
            let rec = tls::opaque_record(tls::CT_APPDATA, 26, &mut sc.rng);
            let (t1, _) = c.send(sc, t + 20 * MS, Dir::ToServer, &rec)?;
            t = c.close(sc, t1 + 100, Dir::ToServer)?;
        }
        Close::Rst => {
            c.reset(sc, t + 15 * MS, Dir::ToClient)?;
            t += 15 * MS;
        }
        Close::Open => {}
    }
    sc.flow(c.flow)?.names.sni = ch.sni().map(str::to_string);
    sc.flow(c.flow)?.tls = Some(tout);
    Ok(t)
}

/// A TLS client session to a vendor (or not), preceded by nothing: the caller does DNS.
#[allow(clippy::too_many_arguments)]
fn tls_session(
    sc: &mut Scene,
    t: u64,
    host: &Host,
    server: IpAddr,
    rtt_ms: u64,
    vendor: Option<Vendor>,
    note: &'static str,
    plan: &TlsPlan<'_>,
) -> Result<u64, GenError> {
    let client = match (server, host.v4, host.v6) {
        (IpAddr::V4(_), Some(a), _) => IpAddr::V4(a),
        (IpAddr::V6(_), _, Some(a)) => IpAddr::V6(a),
        _ => {
            return Err(GenError::Build(format!(
                "{} lacks the address family of {server}",
                host.name
            )))
        }
    };
    let cport = ephemeral(sc, host.ttl == 128);
    let flow = sc.new_flow(
        "tcp",
        "tls",
        host,
        client,
        Some(cport),
        server,
        Some(443),
        vendor,
        note,
    );
    let p = path(host, client, server, 50, rtt_ms);
    let mut c = Tcp::new(sc, flow, p, cport, 443);
    let t = c.connect(sc, t)?;
    run_tls(sc, &mut c, t + 200, plan)
}

fn plan<'a>(
    profile: Profile,
    sni: Option<&'a str>,
    alpn: &'a [&'a str],
    version: ServerVersion,
    end: Close,
) -> TlsPlan<'a> {
    TlsPlan {
        profile,
        sni,
        alpn,
        fixed_order: None,
        version,
        cipher: if version == ServerVersion::Tls13 {
            0x1301
        } else {
            0xc02b
        },
        cert: None,
        exchanges: &[(620, 1480), (1200, 310)],
        period: 2 * S,
        end,
    }
}

/// A QUIC connection attempt: the ClientHello split over two protected client Initials, the
/// server's protected Initial (ACK + ServerHello), then a few short-header packets.
#[allow(clippy::too_many_arguments)]
fn quic_session(
    sc: &mut Scene,
    t: u64,
    host: &Host,
    server: IpAddr,
    sni: &str,
    vendor: Option<Vendor>,
    note: &'static str,
) -> Result<u64, GenError> {
    let client = match (server, host.v4, host.v6) {
        (IpAddr::V4(_), Some(a), _) => IpAddr::V4(a),
        (IpAddr::V6(_), _, Some(a)) => IpAddr::V6(a),
        _ => return Err(GenError::Build("address family".into())),
    };
    let cport = ephemeral(sc, host.ttl == 128);
    let flow = sc.new_flow(
        "udp",
        "quic",
        host,
        client,
        Some(cport),
        server,
        Some(443),
        vendor,
        note,
    );
    let p = path(host, client, server, 56, 18);
    let dcid = sc.rng.bytes::<8>();
    let scid: [u8; 0] = [];
    let server_cid = sc.rng.bytes::<8>();
    let mut hp = HelloParams::new(Some(sni), &["h3"]);
    hp.quic_tp = quic::chrome_transport_parameters(&scid);
    let ch = tls::client_hello(Profile::ChromeQuic, &hp, &mut sc.rng);
    let hs = ch.handshake_bytes();
    let keys = quic::initial_keys(&dcid, false)?;
    // First Initial carries what fits; the rest goes in the second (Chrome's ClientHello with
    // an ML-KEM key share is ~1.7 KB, more than one 1250-byte datagram).
    let first_len = 1100.min(hs.len());
    let (h1, h2) = hs.split_at(first_len);
    let mut t = t;
    let mut parts = vec![(0u64, h1)];
    if !h2.is_empty() {
        parts.push((first_len as u64, h2));
    }
    let n_initials = parts.len();
    for (pn, (off, data)) in parts.into_iter().enumerate() {
        let frames = quic::crypto_frame(off, data);
        let pkt = quic::initial_packet(&keys, &dcid, &scid, pn as u32, &frames, 1250)?;
        let ipid = sc.next_ip_id();
        let f = frame::udp(&p.hop(Dir::ToServer, ipid), cport, 443, &pkt)?;
        p.send(sc, t, Dir::ToServer, f, flow, pkt.len())?;
        t += 60;
    }
    // Server Initial: ACK + ServerHello, protected with the server's Initial keys.
    let skeys = quic::initial_keys(&dcid, true)?;
    let sh = tls::server_hello(ServerVersion::Tls13, 0x1301, &[], None, &mut sc.rng);
    let mut frames = quic::ack_frame(n_initials as u64 - 1);
    frames.extend_from_slice(&quic::crypto_frame(0, &sh));
    let spkt = quic::initial_packet(&skeys, &scid, &server_cid, 0, &frames, 0)?;
    // Coalesced Handshake packet (keys unknown to an observer: opaque).
    let mut dgram = spkt;
    let mut hsk = vec![0xe1];
    hsk.extend_from_slice(&1u32.to_be_bytes());
    hsk.push(0);
    hsk.push(8);
    hsk.extend_from_slice(&server_cid);
    let body = sc.rng.vec(1000);
    hsk.extend_from_slice(&((body.len() as u16) | 0x4000).to_be_bytes());
    hsk.extend_from_slice(&body);
    dgram.extend_from_slice(&hsk);
    t += p.rtt;
    let ipid = sc.next_ip_id();
    let f = frame::udp(&p.hop(Dir::ToClient, ipid), 443, cport, &dgram)?;
    p.send(sc, t, Dir::ToClient, f, flow, dgram.len())?;
    // A few 1-RTT packets each way (short header, opaque).
    for i in 0..4u64 {
        let dir = if i % 2 == 0 {
            Dir::ToServer
        } else {
            Dir::ToClient
        };
        let len = if dir == Dir::ToServer {
            60 + sc.rng.below(200) as usize
        } else {
            1200
        };
        let mut d = vec![0x40 | (sc.rng.next_u64() as u8 & 0x1f)];
        if dir == Dir::ToServer {
            d.extend_from_slice(server_cid.as_slice());
        }
        d.extend_from_slice(&sc.rng.vec(len));
        t += 2 * MS + sc.rng.below(3 * MS);
        let ipid = sc.next_ip_id();
        let (sp, dp) = if dir == Dir::ToServer {
            (cport, 443)
        } else {
            (443, cport)
        };
        let f = frame::udp(&p.hop(dir, ipid), sp, dp, &d)?;
        p.send(sc, t, dir, f, flow, d.len())?;
    }
    let segments = n_initials;
    let o = sc.flow(flow)?;
    o.names.quic_sni = Some(sni.to_string());
    o.tls = Some(tls_out(&ch, segments));
    o.quic = Some(QuicOut {
        version: 1,
        dcid: hexs(&dcid),
        client_initial_packets: n_initials,
    });
    Ok(t)
}

/// Plain HTTP/1.1 request and response.
#[allow(clippy::too_many_arguments)]
fn http_get(
    sc: &mut Scene,
    t: u64,
    host: &Host,
    server: IpAddr,
    http_host: &str,
    path_: &str,
    agent: &str,
    body_len: usize,
    vendor: Option<Vendor>,
    note: &'static str,
) -> Result<u64, GenError> {
    let client = IpAddr::V4(host.v4.ok_or_else(|| GenError::Build("v4".into()))?);
    let cport = ephemeral(sc, host.ttl == 128);
    let flow = sc.new_flow(
        "tcp",
        "http",
        host,
        client,
        Some(cport),
        server,
        Some(80),
        vendor,
        note,
    );
    let p = path(host, client, server, 54, 12);
    let mut c = Tcp::new(sc, flow, p, cport, 80);
    let t = c.connect(sc, t)?;
    let req = format!("GET {path_} HTTP/1.1\r\nHost: {http_host}\r\nUser-Agent: {agent}\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    let (t, _) = c.send(sc, t + 100, Dir::ToServer, req.as_bytes())?;
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    resp.extend_from_slice(&sc.rng.vec(body_len));
    let (t, _) = c.send(sc, t + p.rtt + 3 * MS, Dir::ToClient, &resp)?;
    let t = c.close(sc, t + 300, Dir::ToClient)?;
    sc.flow(flow)?.names.http_host = Some(http_host.to_string());
    Ok(t)
}

// ---------------------------------------------------------------- the scene

fn hosts() -> Vec<(Host, Vec<&'static str>)> {
    let h = |name,
             role,
             last: u8,
             v4: Option<Ipv4Addr>,
             v6: Option<Ipv6Addr>,
             vlan,
             ttl,
             products: Vec<&'static str>| {
        (
            Host {
                name,
                role,
                mac: [0x00, 0x50, 0x56, 0xa1, 0x10, last],
                v4,
                v6,
                vlan,
                ttl,
            },
            products,
        )
    };
    vec![
        h(
            "ws-fin-01",
            "Windows 11 workstation",
            0x11,
            Some(Ipv4Addr::new(10, 1, 10, 11)),
            None,
            Vlan::Single(10),
            128,
            vec!["CrowdStrike Falcon", "Microsoft Defender for Endpoint"],
        ),
        h(
            "ws-fin-02",
            "Windows 11 workstation",
            0x12,
            Some(Ipv4Addr::new(10, 1, 10, 12)),
            None,
            Vlan::Single(10),
            128,
            vec!["SentinelOne Singularity", "CrowdStrike Falcon"],
        ),
        h(
            "ws-ops-21",
            "Windows 10 workstation (QinQ access)",
            0x21,
            Some(Ipv4Addr::new(10, 1, 20, 21)),
            None,
            Vlan::Double(200, 20),
            128,
            vec!["Kaspersky Endpoint Security"],
        ),
        h(
            "ws-ops-22",
            "Windows 10 workstation (QinQ access)",
            0x22,
            Some(Ipv4Addr::new(10, 1, 20, 22)),
            None,
            Vlan::Double(200, 20),
            128,
            vec!["ESET Endpoint Security"],
        ),
        h(
            "srv-app-31",
            "Windows Server",
            0x31,
            Some(Ipv4Addr::new(10, 1, 30, 31)),
            None,
            Vlan::Single(30),
            128,
            vec!["Sophos Intercept X"],
        ),
        h(
            "srv-lnx-32",
            "Linux server",
            0x32,
            Some(Ipv4Addr::new(10, 1, 30, 32)),
            None,
            Vlan::Single(30),
            64,
            vec!["Palo Alto Cortex XDR", "Trend Micro Deep Security"],
        ),
        h(
            "ws-cn-41",
            "Windows 10 workstation, dual stack",
            0x41,
            Some(Ipv4Addr::new(10, 1, 40, 41)),
            Some(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x141)),
            Vlan::Single(40),
            128,
            vec![
                "Qihoo 360 Total Security",
                "Tencent PC Manager",
                "QiAnXin Tianqing",
            ],
        ),
        h(
            "ws-adm-42",
            "Windows 11 admin workstation, dual stack",
            0x42,
            Some(Ipv4Addr::new(10, 1, 40, 42)),
            Some(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x142)),
            Vlan::Single(40),
            128,
            vec!["Microsoft Defender for Endpoint"],
        ),
        h(
            "ws-user-51",
            "Windows 11 workstation, no security agent",
            0x51,
            Some(Ipv4Addr::new(10, 1, 50, 51)),
            None,
            Vlan::Single(50),
            128,
            vec![],
        ),
        h(
            "ws-dns-61",
            "Windows 10 workstation, egress blocked",
            0x61,
            Some(Ipv4Addr::new(10, 1, 60, 61)),
            None,
            Vlan::Single(60),
            128,
            vec!["Kaspersky Endpoint Security"],
        ),
        h(
            "hv-70",
            "hypervisor VTEP (VXLAN)",
            0x70,
            Some(Ipv4Addr::new(10, 1, 70, 10)),
            None,
            Vlan::Single(70),
            64,
            vec![],
        ),
        h(
            "vm-71-15",
            "Linux VM inside VXLAN VNI 5001",
            0x71,
            Some(Ipv4Addr::new(10, 1, 71, 15)),
            None,
            Vlan::None,
            64,
            vec!["SentinelOne Singularity"],
        ),
    ]
}

const CROWDSTRIKE: Vendor = Vendor {
    vendor: "CrowdStrike",
    product: "Falcon sensor",
    hq: "US",
    server_country: "US",
};
const MICROSOFT: Vendor = Vendor {
    vendor: "Microsoft",
    product: "Defender for Endpoint",
    hq: "US",
    server_country: "US",
};
const MICROSOFT_EU: Vendor = Vendor {
    vendor: "Microsoft",
    product: "Defender for Endpoint",
    hq: "US",
    server_country: "NL",
};
const SENTINELONE: Vendor = Vendor {
    vendor: "SentinelOne",
    product: "Singularity agent",
    hq: "US",
    server_country: "US",
};
const KASPERSKY: Vendor = Vendor {
    vendor: "Kaspersky",
    product: "Kaspersky Security Network",
    hq: "RU",
    server_country: "RU",
};
const ESET: Vendor = Vendor {
    vendor: "ESET",
    product: "ESET LiveGuard / EDF",
    hq: "SK",
    server_country: "US",
};
const SOPHOS: Vendor = Vendor {
    vendor: "Sophos",
    product: "SophosLabs Intelix / Live Protection",
    hq: "GB",
    server_country: "IE",
};
const TREND: Vendor = Vendor {
    vendor: "Trend Micro",
    product: "ActiveUpdate",
    hq: "JP",
    server_country: "US",
};
const PALOALTO: Vendor = Vendor {
    vendor: "Palo Alto Networks",
    product: "Cortex XDR agent",
    hq: "US",
    server_country: "US",
};
const QIHOO: Vendor = Vendor {
    vendor: "Qihoo 360",
    product: "360 Total Security",
    hq: "CN",
    server_country: "CN",
};
const TENCENT: Vendor = Vendor {
    vendor: "Tencent",
    product: "PC Manager",
    hq: "CN",
    server_country: "CN",
};
const QIANXIN: Vendor = Vendor {
    vendor: "QiAnXin",
    product: "Tianqing (domestic-only product, China)",
    hq: "CN",
    server_country: "CN",
};

#[allow(clippy::too_many_lines)]
fn build(sc: &mut Scene) -> Result<(), GenError> {
    sc.hosts = hosts();
    let hs: Vec<Host> = sc.hosts.iter().map(|(h, _)| *h).collect();
    let host = |name: &str| {
        hs.iter()
            .find(|h| h.name == name)
            .copied()
            .ok_or_else(|| GenError::Build(format!("no host {name}")))
    };
    let fin01 = host("ws-fin-01")?;
    let fin02 = host("ws-fin-02")?;
    let ops21 = host("ws-ops-21")?;
    let ops22 = host("ws-ops-22")?;
    let app31 = host("srv-app-31")?;
    let lnx32 = host("srv-lnx-32")?;
    let cn41 = host("ws-cn-41")?;
    let adm42 = host("ws-adm-42")?;
    let user51 = host("ws-user-51")?;
    let dns61 = host("ws-dns-61")?;
    let hv70 = host("hv-70")?;
    let vm71 = host("vm-71-15")?;
    const A: u16 = dns::TYPE_A;
    const AAAA: u16 = dns::TYPE_AAAA;

    // --- ARP for the gateway on VLAN 10, at the very start.
    {
        let gw = [10, 1, 10, 1];
        let fl = sc.new_flow(
            "arp",
            "arp",
            &fin01,
            v4(10, 1, 10, 11),
            None,
            v4(10, 1, 10, 1),
            None,
            None,
            "ARP who-has the VLAN 10 gateway",
        );
        let fr = frame::arp(
            fin01.mac,
            [0xff; 6],
            fin01.vlan,
            false,
            (fin01.mac, [10, 1, 10, 11]),
            ([0; 6], gw),
        )?;
        sc.emit(
            T0 + 120 * MS,
            fr,
            &[Count {
                flow: fl,
                dir: Dir::ToServer,
                ip_bytes: 0,
                payload: 28,
                fragment: false,
            }],
        );
        let fr = frame::arp(
            ROUTER_MAC,
            fin01.mac,
            fin01.vlan,
            true,
            (ROUTER_MAC, gw),
            (fin01.mac, [10, 1, 10, 11]),
        )?;
        sc.emit(
            T0 + 121 * MS,
            fr,
            &[Count {
                flow: fl,
                dir: Dir::ToClient,
                ip_bytes: 0,
                payload: 28,
                fragment: false,
            }],
        );
    }

    // --- CrowdStrike: DNS, then the long-lived pinned TLS 1.2 channel, left open.
    let cs_ip = v4(54, 183, 140, 32);
    let t = dns_lookup(
        sc,
        T0 + 2 * S,
        &fin01,
        false,
        "ts01-b.cloudsink.net",
        A,
        &[a("ts01-b.cloudsink.net", 60, cs_ip)],
        Some(CROWDSTRIKE),
        None,
    )?;
    let cs_names: [&str; 2] = ["ts01-b.cloudsink.net", "*.cloudsink.net"];
    let heartbeats: Vec<(usize, usize)> = (0..20)
        .map(|i| if i % 6 == 0 { (4200, 380) } else { (310, 90) })
        .collect();
    let mut p = plan(
        Profile::OpensslTls12,
        Some("ts01-b.cloudsink.net"),
        &[],
        ServerVersion::Tls12,
        Close::Open,
    );
    p.cipher = 0xc02f;
    p.cert = Some(("CrowdStrike", "US", &cs_names));
    p.exchanges = &heartbeats;
    p.period = 30 * S;
    tls_session(
        sc,
        t + 2 * MS,
        &fin01,
        cs_ip,
        24,
        Some(CROWDSTRIKE),
        "Falcon sensor TS channel: long-lived TLS 1.2, left open at capture end",
        &p,
    )?;

    // --- Microsoft Defender cloud protection: CNAME chain, SChannel/WinINET TLS 1.2, FIN.
    let md_ip = v4(20, 42, 65, 90);
    let t = dns_lookup(
        sc,
        T0 + 14 * S,
        &fin01,
        false,
        "wdcp.microsoft.com",
        A,
        &[
            cname(
                "wdcp.microsoft.com",
                3600,
                "wdcp.microsoft.com.trafficmanager.net",
            ),
            cname(
                "wdcp.microsoft.com.trafficmanager.net",
                300,
                "wd-prod-cp-us-east-1-fe.eastus.cloudapp.azure.com",
            ),
            a(
                "wd-prod-cp-us-east-1-fe.eastus.cloudapp.azure.com",
                10,
                md_ip,
            ),
        ],
        Some(MICROSOFT),
        None,
    )?;
    let md_names: [&str; 2] = ["wdcp.microsoft.com", "*.wdcp.microsoft.com"];
    let mut p = plan(
        Profile::SchannelWinInet,
        Some("wdcp.microsoft.com"),
        &[],
        ServerVersion::Tls12,
        Close::Fin,
    );
    p.cipher = 0xc030;
    p.cert = Some(("Microsoft Corporation", "US", &md_names));
    p.exchanges = &[(2900, 820), (1450, 260)];
    tls_session(
        sc,
        t + MS,
        &fin01,
        md_ip,
        31,
        Some(MICROSOFT),
        "Defender MAPS cloud protection over WinINET: TLS 1.2, FIN both ways",
        &p,
    )?;

    // --- ICMP ping from ws-fin-01 to the resolver and to 8.8.8.8.
    {
        let dst = v4(8, 8, 8, 8);
        let client = v4(10, 1, 10, 11);
        let fl = sc.new_flow(
            "icmp",
            "icmp",
            &fin01,
            client,
            None,
            dst,
            None,
            None,
            "ping 8.8.8.8 (4 echo requests and replies)",
        );
        let p = path(&fin01, client, dst, 117, 9);
        let data: Vec<u8> = (0..32u8).map(|i| b'a' + (i % 23)).collect();
        for i in 0..4u16 {
            let t = T0 + 41 * S + u64::from(i) * S;
            let ipid = sc.next_ip_id();
            let f = frame::icmp_echo(&p.hop(Dir::ToServer, ipid), false, 1, 100 + i, &data)?;
            p.send(sc, t, Dir::ToServer, f, fl, data.len())?;
            let ipid = sc.next_ip_id();
            let f = frame::icmp_echo(&p.hop(Dir::ToClient, ipid), true, 1, 100 + i, &data)?;
            p.send(sc, t + p.rtt, Dir::ToClient, f, fl, data.len())?;
        }
    }

    // --- SentinelOne: DNS then curl/OpenSSL-style TLS 1.3, the server resets.
    let s1_ip = v4(3, 213, 45, 150);
    let t = dns_lookup(
        sc,
        T0 + 33 * S,
        &fin02,
        false,
        "usea1-014.sentinelone.net",
        A,
        &[a("usea1-014.sentinelone.net", 60, s1_ip)],
        Some(SENTINELONE),
        None,
    )?;
    let p = plan(
        Profile::CurlOpenssl,
        Some("usea1-014.sentinelone.net"),
        &["h2", "http/1.1"],
        ServerVersion::Tls13,
        Close::Rst,
    );
    tls_session(
        sc,
        t + MS,
        &fin02,
        s1_ip,
        72,
        Some(SENTINELONE),
        "SentinelOne management channel: TLS 1.3, ends with RST from the server",
        &p,
    )?;

    // --- CrowdStrike without SNI: the DNS answer binds the address, the hello names nothing.
    let lfo_ip = v4(35, 162, 239, 174);
    let t = dns_lookup(
        sc,
        T0 + 58 * S,
        &fin02,
        false,
        "lfodown01-gyr-maverick.cloudsink.net",
        A,
        &[a("lfodown01-gyr-maverick.cloudsink.net", 60, lfo_ip)],
        Some(CROWDSTRIKE),
        None,
    )?;
    let lfo_names: [&str; 2] = ["*.cloudsink.net", "cloudsink.net"];
    let mut p = plan(
        Profile::OpensslTls12,
        None,
        &[],
        ServerVersion::Tls12,
        Close::Fin,
    );
    p.cert = Some(("CrowdStrike", "US", &lfo_names));
    p.exchanges = &[(900, 14_000)];
    tls_session(
        sc,
        t + 3 * MS,
        &fin02,
        lfo_ip,
        27,
        Some(CROWDSTRIKE),
        "Falcon LFO download without SNI: only the earlier DNS answer names the address",
        &p,
    )?;

    // --- Kaspersky: CNAME chain, KSN over TLS 1.2 from a QinQ host.
    let ksn_ip = v4(77, 74, 181, 36);
    let t = dns_lookup(
        sc,
        T0 + 75 * S,
        &ops21,
        false,
        "ksn-url-geo.kaspersky-labs.com",
        A,
        &[
            cname(
                "ksn-url-geo.kaspersky-labs.com",
                300,
                "ksn-url.geoksn.kaspersky.com",
            ),
            a("ksn-url.geoksn.kaspersky.com", 120, ksn_ip),
        ],
        Some(KASPERSKY),
        None,
    )?;
    let ksn_names: [&str; 2] = ["*.kaspersky-labs.com", "*.geoksn.kaspersky.com"];
    let mut p = plan(
        Profile::SchannelTls13,
        Some("ksn-url-geo.kaspersky-labs.com"),
        &["http/1.1"],
        ServerVersion::Tls12,
        Close::Fin,
    );
    p.cert = Some(("AO Kaspersky Lab", "RU", &ksn_names));
    tls_session(
        sc,
        t + 2 * MS,
        &ops21,
        ksn_ip,
        48,
        Some(KASPERSKY),
        "Kaspersky Security Network URL reputation: TLS 1.2 from a QinQ (200/20) host",
        &p,
    )?;

    // --- Kaspersky update pool: an EDNS answer of 100 A records, IPv4-fragmented.
    let pool: Vec<(String, u32, RData)> = std::iter::once(cname(
        "dnl-01.geo.kaspersky.com",
        300,
        "dnl-01.kaspersky-labs.com",
    ))
    .chain((0..100u8).map(|i| {
        a(
            "dnl-01.kaspersky-labs.com",
            120,
            v4(77, 74, 176 + i / 50, 10 + i % 50),
        )
    }))
    .collect();
    dns_lookup(
        sc,
        T0 + 96 * S,
        &ops21,
        false,
        "dnl-01.geo.kaspersky.com",
        A,
        &pool,
        Some(KASPERSKY),
        Some(1480),
    )?;

    // --- ESET LiveGuard: the documented CNAME chain through Azure Traffic Manager.
    let eset_ip = v4(13, 91, 60, 30);
    let t = dns_lookup(
        sc,
        T0 + 110 * S,
        &ops22,
        false,
        "edf.eset.com",
        A,
        &[
            cname("edf.eset.com", 3600, "edfpcs.trafficmanager.net"),
            cname("edfpcs.trafficmanager.net", 300, "edf-pcs.cloudapp.net"),
            a("edf-pcs.cloudapp.net", 60, eset_ip),
        ],
        Some(ESET),
        None,
    )?;
    let mut p = plan(
        Profile::CurlOpenssl,
        Some("edf.eset.com"),
        &["h2", "http/1.1"],
        ServerVersion::Tls13,
        Close::Fin,
    );
    p.exchanges = &[(48_000, 420), (900, 2600)];
    tls_session(
        sc,
        t + MS,
        &ops22,
        eset_ip,
        150,
        Some(ESET),
        "ESET LiveGuard sample upload: TLS 1.3 to Azure West US",
        &p,
    )?;

    // --- Sophos Live Protection 4.sophosxl.net, SChannel TLS 1.3 with ALPN.
    let sxl_ip = v4(18, 202, 143, 25);
    let t = dns_lookup(
        sc,
        T0 + 140 * S,
        &app31,
        false,
        "4.sophosxl.net",
        A,
        &[a("4.sophosxl.net", 300, sxl_ip)],
        Some(SOPHOS),
        None,
    )?;
    let p = plan(
        Profile::SchannelTls13,
        Some("4.sophosxl.net"),
        &["h2", "http/1.1"],
        ServerVersion::Tls13,
        Close::Fin,
    );
    tls_session(
        sc,
        t + MS,
        &app31,
        sxl_ip,
        22,
        Some(SOPHOS),
        "Sophos Live Protection lookup: TLS 1.3",
        &p,
    )?;

    // --- Sophos updates through the HTTP proxy: CONNECT, then TLS inside the tunnel.
    {
        let client = IpAddr::V4(app31.v4.ok_or_else(|| GenError::Build("v4".into()))?);
        let proxy = IpAddr::V4(PROXY);
        let cport = ephemeral(sc, true);
        let target = "d1.sophosupd.com:443";
        let fl = sc.new_flow(
            "tcp",
            "http-connect",
            &app31,
            client,
            Some(cport),
            proxy,
            Some(3128),
            Some(SOPHOS),
            "CONNECT through the proxy 10.1.0.3:3128, then TLS inside the tunnel",
        );
        let p = path(&app31, client, proxy, 64, 1);
        let mut c = Tcp::new(sc, fl, p, cport, 3128);
        let t = c.connect(sc, T0 + 162 * S)?;
        let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: SophosUpdate/1.0\r\nProxy-Connection: Keep-Alive\r\n\r\n");
        let (t, _) = c.send(sc, t + 100, Dir::ToServer, req.as_bytes())?;
        // The proxy's answer comes after it resolved and connected upstream (~30 ms).
        let (t, _) = c.send(
            sc,
            t + 31 * MS,
            Dir::ToClient,
            b"HTTP/1.1 200 Connection established\r\n\r\n",
        )?;
        c.p.rtt = 30 * MS; // from here on the far end is the vendor, through the proxy
        let mut pl = plan(
            Profile::SchannelTls13,
            Some("d1.sophosupd.com"),
            &["http/1.1"],
            ServerVersion::Tls13,
            Close::Fin,
        );
        pl.exchanges = &[(540, 36_000)];
        run_tls(sc, &mut c, t + MS, &pl)?;
        sc.flow(fl)?.names.connect_target = Some(target.to_string());
    }

    // --- Palo Alto Cortex XDR from a Linux server (curl/OpenSSL).
    let xdr_ip = v4(35, 186, 224, 25);
    let t = dns_lookup(
        sc,
        T0 + 185 * S,
        &lnx32,
        false,
        "cc-acmecorp.traps.paloaltonetworks.com",
        A,
        &[a("cc-acmecorp.traps.paloaltonetworks.com", 300, xdr_ip)],
        Some(PALOALTO),
        None,
    )?;
    let p = plan(
        Profile::CurlOpenssl,
        Some("cc-acmecorp.traps.paloaltonetworks.com"),
        &["http/1.1"],
        ServerVersion::Tls13,
        Close::Fin,
    );
    tls_session(
        sc,
        t + MS,
        &lnx32,
        xdr_ip,
        95,
        Some(PALOALTO),
        "Cortex XDR agent to its tenant on GCP",
        &p,
    )?;

    // --- Trend Micro ActiveUpdate over plain HTTP, behind an Akamai CNAME chain.
    let tm_ip = v4(23, 50, 232, 17);
    let t = dns_lookup(
        sc,
        T0 + 205 * S,
        &lnx32,
        false,
        "iaus.activeupdate.trendmicro.com",
        A,
        &[
            cname(
                "iaus.activeupdate.trendmicro.com",
                300,
                "iaus.activeupdate.trendmicro.com.edgekey.net",
            ),
            cname(
                "iaus.activeupdate.trendmicro.com.edgekey.net",
                300,
                "e8534.a.akamaiedge.net",
            ),
            a("e8534.a.akamaiedge.net", 20, tm_ip),
        ],
        Some(TREND),
        None,
    )?;
    http_get(
        sc,
        t + MS,
        &lnx32,
        tm_ip,
        "iaus.activeupdate.trendmicro.com",
        "/activeupdate/server.ini",
        "Mozilla/4.0 (compatible; MSIE 6.0; Trend Micro ActiveUpdate)",
        6200,
        Some(TREND),
        "Trend Micro ActiveUpdate: HTTP/1.1 GET with Host, on a shared CDN address",
    )?;

    // --- Chinese vendors from a dual-stack host: 360 over IPv4 (Chrome-like), Tencent over IPv6.
    let q360_ip = v4(101, 199, 97, 65);
    let t = dns_lookup(
        sc,
        T0 + 230 * S,
        &cn41,
        false,
        "update.360safe.com",
        A,
        &[a("update.360safe.com", 600, q360_ip)],
        Some(QIHOO),
        None,
    )?;
    let p = plan(
        Profile::Chrome,
        Some("update.360safe.com"),
        &["h2", "http/1.1"],
        ServerVersion::Tls13,
        Close::Fin,
    );
    tls_session(
        sc,
        t + MS,
        &cn41,
        q360_ip,
        190,
        Some(QIHOO),
        "360 Total Security cloud update: Chromium-style hello",
        &p,
    )?;
    let tx_ip6 = v6([0x240e, 0x97c, 0x2f, 0x3003, 0, 0, 0, 0x7a]);
    let t = dns_lookup(
        sc,
        T0 + 252 * S,
        &cn41,
        true,
        "pcmgrmonitor.3g.qq.com",
        AAAA,
        &[
            cname(
                "pcmgrmonitor.3g.qq.com",
                600,
                "pcmgrmonitor.3g.qq.com.cdn.dnsv1.com",
            ),
            a("pcmgrmonitor.3g.qq.com.cdn.dnsv1.com", 60, tx_ip6),
        ],
        Some(TENCENT),
        None,
    )?;
    let p = plan(
        Profile::SchannelTls13,
        Some("pcmgrmonitor.3g.qq.com"),
        &["http/1.1"],
        ServerVersion::Tls13,
        Close::Fin,
    );
    tls_session(
        sc,
        t + MS,
        &cn41,
        tx_ip6,
        205,
        Some(TENCENT),
        "Tencent PC Manager monitor report over IPv6",
        &p,
    )?;
    let qax_ip = v4(106, 120, 168, 92);
    let t = dns_lookup(
        sc,
        T0 + 268 * S,
        &cn41,
        false,
        "sandbox.qianxin.com",
        A,
        &[a("sandbox.qianxin.com", 600, qax_ip)],
        Some(QIANXIN),
        None,
    )?;
    let p = plan(
        Profile::CurlOpenssl,
        Some("sandbox.qianxin.com"),
        &["http/1.1"],
        ServerVersion::Tls13,
        Close::Fin,
    );
    tls_session(
        sc,
        t + MS,
        &cn41,
        qax_ip,
        185,
        Some(QIANXIN),
        "domestic-only product (sold and hosted only in China)",
        &p,
    )?;

    // --- Defender from the admin workstation over IPv6 (SChannel TLS 1.3), and the Defender
    //     portal over QUIC from Edge.
    let mde6 = v6([0x2603, 0x1020, 0x0201, 0x0010, 0, 0, 0, 0x1c2]);
    let t = dns_lookup(
        sc,
        T0 + 290 * S,
        &adm42,
        true,
        "europe.x.cp.wd.microsoft.com",
        AAAA,
        &[a("europe.x.cp.wd.microsoft.com", 300, mde6)],
        Some(MICROSOFT_EU),
        None,
    )?;
    let p = plan(
        Profile::SchannelTls13,
        Some("europe.x.cp.wd.microsoft.com"),
        &["h2", "http/1.1"],
        ServerVersion::Tls13,
        Close::Fin,
    );
    tls_session(
        sc,
        t + MS,
        &adm42,
        mde6,
        14,
        Some(MICROSOFT_EU),
        "Defender cloud protection, EU front end, over IPv6",
        &p,
    )?;
    let portal6 = v6([0x2603, 0x1030, 0x0b00, 0x0036, 0, 0, 0, 0x2d]);
    let t = dns_lookup(
        sc,
        T0 + 305 * S,
        &adm42,
        true,
        "security.microsoft.com",
        AAAA,
        &[a("security.microsoft.com", 300, portal6)],
        Some(MICROSOFT),
        None,
    )?;
    quic_session(
        sc,
        t + MS,
        &adm42,
        portal6,
        "security.microsoft.com",
        Some(MICROSOFT),
        "Defender portal over QUIC (Edge): ClientHello across two Initial packets",
    )?;

    // --- Benign traffic from a workstation without agents.
    let g4 = v4(142, 250, 185, 196);
    let t = dns_lookup(
        sc,
        T0 + 320 * S,
        &user51,
        false,
        "www.google.com",
        A,
        &[a("www.google.com", 300, g4)],
        None,
        None,
    )?;
    let p = plan(
        Profile::Chrome,
        Some("www.google.com"),
        &["h2", "http/1.1"],
        ServerVersion::Tls13,
        Close::Fin,
    );
    tls_session(
        sc,
        t + MS,
        &user51,
        g4,
        18,
        None,
        "benign: Chrome to Google over TLS",
        &p,
    )?;
    quic_session(
        sc,
        t + 9 * S,
        &user51,
        g4,
        "www.google.com",
        None,
        "benign: Chrome to Google over QUIC, ClientHello across two Initial packets",
    )?;
    let wu_ip = v4(13, 107, 4, 50);
    let t = dns_lookup(
        sc,
        T0 + 345 * S,
        &user51,
        false,
        "download.windowsupdate.com",
        A,
        &[
            cname(
                "download.windowsupdate.com",
                3600,
                "download.windowsupdate.com.delivery.microsoft.com",
            ),
            a(
                "download.windowsupdate.com.delivery.microsoft.com",
                60,
                wu_ip,
            ),
        ],
        None,
        None,
    )?;
    http_get(
        sc,
        t + MS,
        &user51,
        wu_ip,
        "download.windowsupdate.com",
        "/c/msdownload/update/software/defu/2025/03/am_delta_patch_1.425.102.0_3f9a1c.exe",
        "Microsoft-Delivery-Optimization/10.0",
        18_000,
        None,
        "benign: Windows Update download over HTTP",
    )?;
    // ECH: the outer SNI is the client-facing server's public name.
    let cf_ip = v4(104, 18, 10, 118);
    let t = dns_lookup(
        sc,
        T0 + 372 * S,
        &user51,
        false,
        "crypto.cloudflare.com",
        A,
        &[a("crypto.cloudflare.com", 300, cf_ip)],
        None,
        None,
    )?;
    let mut p = plan(
        Profile::Chrome,
        Some("cloudflare-ech.com"),
        &["h2", "http/1.1"],
        ServerVersion::Tls13,
        Close::Fin,
    );
    p.fixed_order = Some(&tls::CHROME_143_ORDER);
    tls_session(
        sc,
        t + MS,
        &user51,
        cf_ip,
        11,
        None,
        "ECH (0xfe0d): outer SNI is the public name cloudflare-ech.com, real name hidden",
        &p,
    )?;

    // --- NTP: same 5-tuple, idle for > 120 s between two polling bursts: two flows.
    {
        let ntp_ip = v4(168, 61, 215, 74);
        dns_lookup(
            sc,
            T0 + 29 * S,
            &user51,
            false,
            "time.windows.com",
            A,
            &[
                cname("time.windows.com", 3600, "twc.trafficmanager.net"),
                a("twc.trafficmanager.net", 300, ntp_ip),
            ],
            None,
            None,
        )?;
        let client = v4(10, 1, 50, 51);
        let p = path(&user51, client, ntp_ip, 113, 19);
        let bursts: [(u64, u32); 2] = [(30, 1), (402, 2)];
        let mut prev_end: Option<u64> = None;
        for (start, appearance) in bursts {
            let fl = sc.new_flow(
                "udp",
                "ntp",
                &user51,
                client,
                Some(123),
                ntp_ip,
                Some(123),
                None,
                "NTP poll; the same 5-tuple returns after > 120 s idle, so it is a new flow",
            );
            for k in 0..3u64 {
                let t = T0 + start * S + k * 64 * S;
                // LI 0, VN 4, mode 3 (client); transmit timestamp in NTP seconds
                let ts = ((t / S + 2_208_988_800) as u32).to_be_bytes();
                let mut req = vec![0x23];
                req.resize(40, 0);
                req.extend_from_slice(&ts);
                req.resize(48, 0);
                let ipid = sc.next_ip_id();
                let f = frame::udp(&p.hop(Dir::ToServer, ipid), 123, 123, &req)?;
                p.send(sc, t, Dir::ToServer, f, fl, 48)?;
                let mut resp = vec![0x24, 3]; // mode 4 (server), stratum 3
                resp.resize(40, 0);
                resp.extend_from_slice(&ts);
                resp.resize(48, 0);
                let ipid = sc.next_ip_id();
                let f = frame::udp(&p.hop(Dir::ToClient, ipid), 123, 123, &resp)?;
                p.send(sc, t + p.rtt, Dir::ToClient, f, fl, 48)?;
            }
            let o = sc.flow(fl)?;
            o.appearance = Some(appearance);
            o.idle_gap_before_us = prev_end.map(|e| o.first_ts_us - e);
            prev_end = Some(o.last_ts_us);
        }
    }

    // --- DNS-only host: resolves a vendor name, never connects (egress is blocked).
    dns_lookup(
        sc,
        T0 + 420 * S,
        &dns61,
        false,
        "ksn-info.geoksn.kaspersky.com",
        A,
        &[a("ksn-info.geoksn.kaspersky.com", 120, v4(77, 74, 181, 40))],
        Some(KASPERSKY),
        None,
    )?;
    dns_lookup(
        sc,
        T0 + 480 * S,
        &dns61,
        false,
        "ksn-info.geoksn.kaspersky.com",
        A,
        &[a("ksn-info.geoksn.kaspersky.com", 120, v4(77, 74, 181, 40))],
        Some(KASPERSKY),
        None,
    )?;

    // --- VXLAN: a VM's DNS and TLS to SentinelOne, carried between two VTEPs.
    {
        let vtep_local = End {
            mac: hv70.mac,
            ip: v4(10, 1, 70, 10),
            ttl: 64,
        };
        let vtep_remote = End {
            mac: ROUTER_MAC,
            ip: v4(10, 1, 0, 30),
            ttl: 64,
        };
        let tunnel_flow = sc.new_flow("udp", "vxlan", &hv70, vtep_local.ip, Some(4789), vtep_remote.ip, Some(4789), None, "VXLAN tunnel (VNI 5001) between the hypervisor and the gateway VTEP; both VTEPs use source port 4789");
        let vm_ip = v4(10, 1, 71, 15);
        let s1b = v4(3, 213, 45, 151);
        let cport = 41_022;
        let fl = sc.new_flow(
            "tcp",
            "tls",
            &vm71,
            vm_ip,
            Some(cport),
            s1b,
            Some(443),
            Some(SENTINELONE),
            "SentinelOne agent in a VM; the flow travels inside VXLAN",
        );
        let o = sc.flow(fl)?;
        o.encap = Some("vxlan vni 5001".into());
        o.tunnel_flow = Some(tunnel_flow);
        o.vlan = vec![];
        let tun = Tunnel {
            flow: tunnel_flow,
            vni: 5001,
            vtep_local,
            vtep_remote,
            vlan: hv70.vlan,
            sport: 4789,
        };
        let p = Path {
            vlan: Vlan::None,
            client: End {
                mac: vm71.mac,
                ip: vm_ip,
                ttl: 64,
            },
            server: End {
                mac: [0x00, 0x1c, 0x73, 0x00, 0x07, 0x01],
                ip: s1b,
                ttl: 52,
            },
            rtt: 70 * MS,
            tunnel: Some(tun),
        };
        let mut c = Tcp::new(sc, fl, p, cport, 443);
        let t = c.connect(sc, T0 + 445 * S)?;
        let pl = plan(
            Profile::CurlOpenssl,
            Some("usea1-021.sentinelone.net"),
            &["h2", "http/1.1"],
            ServerVersion::Tls13,
            Close::Fin,
        );
        run_tls(sc, &mut c, t + 200, &pl)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- output

fn finish(sc: Scene, format: Format, file: &str) -> Result<(Vec<u8>, Expected), GenError> {
    let Scene {
        mut pkts,
        flows,
        dns,
        hosts,
        ..
    } = sc;
    pkts.sort_by_key(|p| (p.ts, p.order));
    let mut w = CaptureWriter::new(Vec::new(), format)?;
    for p in &pkts {
        w.write(p.ts, &p.frame)?;
    }
    let (packets, frame_bytes, file_bytes) = (w.packets, w.frame_bytes, w.file_bytes);
    let bytes = w.finish()?;
    let flows: Vec<FlowOut> = flows
        .into_iter()
        .map(|f| {
            let mut o = f.out;
            if f.is_tcp {
                o.tcp_end = Some(if f.rst {
                    "rst"
                } else if f.fin_c && f.fin_s {
                    "fin"
                } else if f.fin_c || f.fin_s {
                    "half_closed"
                } else {
                    "open"
                });
            }
            o
        })
        .collect();
    let summary = summarize(&flows);
    let hosts = hosts
        .iter()
        .map(|(h, prods)| HostOut {
            name: h.name,
            role: h.role,
            mac: mac_str(&h.mac),
            ipv4: h.v4.map(|a| a.to_string()),
            ipv6: h.v6.map(|a| a.to_string()),
            vlan: h.vlan.ids(),
            security_products: prods.clone(),
        })
        .collect();
    let expected = Expected {
        schema: "gencap-demo-expected/1",
        regenerate: "cargo run -p gencap -- demo -o captures/demo.pcap",
        capture: CaptureInfo {
            file: file.to_string(),
            format: match format {
                Format::Pcap => "pcap (microsecond, little-endian)",
                Format::Pcapng => "pcapng",
            },
            linktype: crate::pcap::LINKTYPE_ETHERNET,
            packets,
            frame_bytes,
            file_bytes,
            first_ts_us: pkts.first().map(|p| p.ts).unwrap_or(0),
            last_ts_us: pkts.last().map(|p| p.ts).unwrap_or(0),
        },
        conventions: Conventions {
            direction: "to_server = from the flow's client (the side that sent the first packet) to its server",
            bytes: "bytes = captured frame length incl. link header and padding to 60; ip_bytes = IP header + payload of the flow's own IP layer; payload_bytes = TCP/UDP payload",
            udp_idle_timeout_s: 120,
            fragments: "each IPv4 fragment is one packet of the flow it belongs to; payload_bytes counts the reassembled datagram once",
            tunnels: "a packet inside VXLAN counts for the inner flow (its ip_bytes are the inner IP packet's) and for the tunnel flow",
            vendor: "vendor = what the generator meant the traffic to be; server_country = the country whose public range the address was picked from",
        },
        hosts,
        flows,
        dns,
        summary,
    };
    Ok((bytes, expected))
}

fn summarize(flows: &[FlowOut]) -> Summary {
    let mut s = Summary {
        flows: flows.len(),
        flows_by_transport: BTreeMap::new(),
        flows_by_app: BTreeMap::new(),
        security_flows: 0,
        benign_flows: 0,
        vendors: BTreeMap::new(),
        snis: BTreeSet::new(),
        quic_snis: BTreeSet::new(),
        http_hosts: BTreeSet::new(),
        connect_targets: BTreeSet::new(),
        dns_queries: BTreeSet::new(),
        ja3_md5: BTreeSet::new(),
        ja4: BTreeSet::new(),
        conversations_tcp: 0,
        conversations_udp: 0,
    };
    let mut conv: BTreeSet<(&str, String, String)> = BTreeSet::new();
    for f in flows {
        *s.flows_by_transport.entry(f.transport).or_default() += 1;
        *s.flows_by_app.entry(f.app).or_default() += 1;
        if f.security_product {
            s.security_flows += 1;
        } else {
            s.benign_flows += 1;
        }
        let n = &f.names;
        let mut names = Vec::new();
        if let Some(x) = &n.sni {
            if f.quic.is_none() {
                s.snis.insert(x.clone());
            }
            names.push(x.clone());
        }
        if let Some(x) = &n.quic_sni {
            s.quic_snis.insert(x.clone());
            names.push(x.clone());
        }
        if let Some(x) = &n.http_host {
            s.http_hosts.insert(x.clone());
            names.push(x.clone());
        }
        if let Some(x) = &n.connect_target {
            s.connect_targets.insert(x.clone());
            names.push(x.clone());
        }
        if let Some(x) = &n.dns_query {
            s.dns_queries.insert(x.clone());
            names.push(x.clone());
        }
        if let Some(t) = &f.tls {
            s.ja3_md5.insert(t.ja3_md5.clone());
            s.ja4.insert(t.ja4.clone());
        }
        if let Some(v) = &f.vendor {
            let e = s.vendors.entry(v.vendor).or_insert_with(|| VendorSummary {
                hq_country: v.hq_country,
                products: BTreeSet::new(),
                hosts: BTreeSet::new(),
                flows: Vec::new(),
                names: BTreeSet::new(),
            });
            e.products.insert(v.product);
            e.hosts.insert(f.client_host.to_string());
            e.flows.push(f.id);
            e.names.extend(names);
        }
        if let (Some(cp), Some(sp)) = (f.client_port, f.server_port) {
            if f.transport == "tcp" || f.transport == "udp" {
                let a = format!("{}:{cp}", f.client);
                let b = format!("{}:{sp}", f.server);
                let (x, y) = if a <= b { (a, b) } else { (b, a) };
                conv.insert((f.transport, x, y));
            }
        }
    }
    s.conversations_tcp = conv.iter().filter(|c| c.0 == "tcp").count();
    s.conversations_udp = conv.iter().filter(|c| c.0 == "udp").count();
    s
}

/// Builds the demo capture in memory: (capture bytes, expected description).
/// `file` is the capture's file name as recorded in the description.
pub fn generate(format: Format, file: &str) -> Result<(Vec<u8>, Expected), GenError> {
    let mut sc = Scene::new();
    build(&mut sc)?;
    finish(sc, format, file)
}

/// The expected description as pretty JSON with a trailing newline.
pub fn expected_json(e: &Expected) -> Result<String, GenError> {
    let mut s = serde_json::to_string_pretty(e)?;
    s.push('\n');
    Ok(s)
}
