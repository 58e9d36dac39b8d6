//! Decode stage: link, network, tunnel and transport headers.
//!
//! [`decode`] turns a captured frame into a [`Packet`]: the innermost IP
//! packet's addresses, ports and transport payload, with the outermost tunnel's
//! endpoints when the packet was encapsulated. [`shard`] hashes the same
//! innermost address pair so the reader can spread flows over workers, and
//! [`Defragmenter`] rebuilds fragmented datagrams into whole frames for
//! [`decode`]. All three walk headers with the same code (`walk`).
//!
//! Ethernet, VLAN, IP, TCP and UDP headers are sliced with `etherparse`; what
//! it does not cover (link types beyond Ethernet, MPLS, PPPoE, tunnels) is
//! parsed here. Malformed input is never fatal: it is returned as
//! [`Decoded::Invalid`] and counted in [`DecodeStats`] under Suricata's decoder
//! event names where Suricata has one. A tunnel whose payload is not IP or is
//! malformed yields the tunnel packet itself (flagged in
//! [`Packet::inner_invalid`]), so the tunnel's own flow is still seen.
//!
//! [`PacketStream`] is what consumers read: a capture source's packets in one
//! global order with the capture clock, each [`shard`]ed, `Fragment` frames
//! given to [`Defragmenter::push`] (which counts their layers, so they are
//! not also `decode`d) and the datagram it returns sharded again, expired on
//! the clock's ticks. Workers call [`decode`] on what it hands them.
//! [`DecodeStats::to_eve`] gives `stats.decoder` and `stats.phonehome.decoder`;
//! [`DecodeStats::to_eve_defrag`] gives `stats.defrag`.

mod defrag;
mod fast;
mod stats;
pub mod stream;
mod walk;

pub use defrag::{DefragLimits, Defragmenter};
pub use stats::{Counter, DecodeStats, Invalid};
pub use stream::{worker_of, Batch, Item, PacketStream, Slot, StreamConfig, StreamEnd};

use stats::NoSink;
use std::net::IpAddr;
use walk::{walk, Stop, Walked};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpInfo {
    /// CWR..FIN (byte 13 of the header).
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp(TcpInfo),
    Udp,
    Icmp { icmp_type: u8, code: u8 },
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelKind {
    /// UDP 4789 / 8472.
    Vxlan,
    /// UDP 6081.
    Geneve,
    /// IP protocol 47, or GRE-in-UDP (4754, then `proto` is 17).
    Gre,
    /// ERSPAN type I, II or III (over GRE).
    Erspan,
    /// IPv4/IPv6 directly in IPv4/IPv6 (protocols 4 and 41).
    IpInIp,
    /// IPv6 over UDP 3544.
    Teredo,
    /// GTP-U G-PDU, UDP 2152.
    GtpU,
    /// AYIYA, UDP 5072.
    Ayiya,
    /// MPLS over UDP (6635) or in IP (protocol 137).
    Mpls,
}

/// The outermost tunnel around a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub kind: TunnelKind,
    /// Outer IP endpoints.
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Outer UDP ports (0 when the tunnel is not over UDP).
    pub sport: u16,
    pub dport: u16,
    /// Outer IP protocol (17, 47, 4, 41, 137).
    pub proto: u8,
    /// Number of encapsulations (1 = one tunnel).
    pub depth: u8,
    /// VLAN tags of the outer frame, outermost first.
    pub vlan: [u16; 3],
    pub vlan_len: u8,
}

impl Tunnel {
    /// Whether the carrier is a flow of its own, as Suricata tracks one: a
    /// UDP tunnel (VXLAN, Geneve, Teredo, ...) or IP in IP is; GRE (ERSPAN
    /// included) and MPLS in IP are not, only the flows inside them.
    pub fn has_own_flow(&self) -> bool {
        !matches!(self.proto, walk::P_GRE | walk::P_MPLS_IN_IP)
    }
}

/// A decoded frame: its innermost IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Ports; 0 when the protocol has none.
    pub sport: u16,
    pub dport: u16,
    /// IP protocol number of the innermost IP packet.
    pub proto: u8,
    pub ip_version: u8,
    /// VLAN ids, outermost first, of the innermost Ethernet layer that carries the packet.
    pub vlan: [u16; 3],
    pub vlan_len: u8,
    pub l4: L4,
    /// Transport payload (TCP/UDP data; for ICMP and others the bytes after the
    /// IP header chain), clipped to the IP/UDP length fields and to the capture.
    pub payload: &'a [u8],
    pub tunnel: Option<Tunnel>,
    /// A length field claimed more bytes than were captured (snap length):
    /// `payload` is what there is.
    pub truncated: bool,
    /// This is a tunnel packet whose payload could not be decoded, and why
    /// (counted as `invalid` like any malformed packet). A tunnel payload that
    /// is merely not IP (ARP in VXLAN, PPP control in GRE) leaves this `None`
    /// and the tunnel packet is likewise returned as the innermost packet.
    pub inner_invalid: Option<Invalid>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    Packet(Packet<'a>),
    /// No IP packet in the frame (ARP, LLDP, PPP control, ...).
    NotIp,
    /// An IP fragment: give the frame to [`Defragmenter::push`].
    Fragment,
    Invalid(Invalid),
    /// A link type this decoder does not handle (counted per type).
    UnsupportedLink(u16),
}

/// Decodes one frame of link type `linktype` (`LINKTYPE_*`).
///
/// Counts every layer and every anomaly in `stats` (not packets or bytes:
/// the engine counts those). Does not allocate.
#[inline]
pub fn decode<'a>(linktype: u16, frame: &'a [u8], stats: &mut DecodeStats) -> Decoded<'a> {
    match fast::plain(linktype, frame) {
        Some(p) => transport(frame, &p.walked(frame.len(), stats), stats),
        None => decode_walked(linktype, frame, stats),
    }
}

/// [`decode`] by the full header walk, never the fast path: the reference
/// the fast path is tested against (same result, same counters).
#[inline(never)]
pub fn decode_walked<'a>(linktype: u16, frame: &'a [u8], stats: &mut DecodeStats) -> Decoded<'a> {
    match walk(linktype, frame, stats) {
        Ok(w) if w.ip.frag.is_some() => Decoded::Fragment,
        Ok(w) => transport(frame, &w, stats),
        Err(Stop::NotIp) => Decoded::NotIp,
        Err(Stop::Invalid(r)) => Decoded::Invalid(r),
        Err(Stop::Unsupported(lt)) => {
            stats.count_unsupported_link(lt, 1);
            Decoded::UnsupportedLink(lt)
        }
    }
}

/// A malformed transport header. `invalid` counts frames, so it is not
/// counted again when the walk already counted a broken tunnel payload.
fn invalid<'a>(stats: &mut DecodeStats, w: &Walked, r: Invalid) -> Decoded<'a> {
    stats.inc(r.counter());
    if w.inner_invalid.is_none() {
        stats.inc(Counter::Invalid);
    }
    Decoded::Invalid(r)
}

/// The transport header of the walked packet `w`, and the packet.
///
/// Fields are settled first and the packet built once, in the return value
/// (a `Packet` built early and then moved out cost a copy per packet). TCP
/// and UDP headers are read at fixed offsets, with etherparse's length rules.
#[inline(always)]
fn transport<'a>(frame: &'a [u8], w: &Walked, stats: &mut DecodeStats) -> Decoded<'a> {
    let ip = &w.ip;
    let l4 = frame.get(ip.l4_off..ip.end).unwrap_or_default();
    let (mut sport, mut dport) = (0, 0);
    let mut info = L4::Other;
    let mut payload = l4;
    let mut truncated = ip.truncated;
    match ip.proto {
        walk::P_TCP => {
            stats.inc(Counter::Tcp);
            let Some(h) = l4.first_chunk::<20>() else {
                return invalid(stats, w, Invalid::TcpPktTooSmall);
            };
            // Data offset in 32-bit words: below 5, or past the capture, is broken.
            let hl = usize::from(h[12] >> 4) * 4;
            if hl < 20 || l4.len() < hl {
                return invalid(stats, w, Invalid::TcpHlenTooSmall);
            }
            sport = u16::from_be_bytes([h[0], h[1]]);
            dport = u16::from_be_bytes([h[2], h[3]]);
            info = L4::Tcp(TcpInfo {
                flags: h[13],
                seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
                window: u16::from_be_bytes([h[14], h[15]]),
            });
            payload = l4.get(hl..).unwrap_or_default();
        }
        walk::P_UDP => {
            stats.inc(Counter::Udp);
            let Some(h) = l4.first_chunk::<8>() else {
                return invalid(stats, w, Invalid::UdpHlenTooSmall);
            };
            let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            sport = u16::from_be_bytes([h[0], h[1]]);
            dport = u16::from_be_bytes([h[2], h[3]]);
            info = L4::Udp;
            // Length 0: jumbogram or segmentation offload; take the IP payload.
            let end = if ulen == 0 {
                l4.len()
            } else if ulen < 8 {
                return invalid(stats, w, Invalid::UdpLenInvalid);
            } else if ulen > l4.len() {
                if !ip.truncated {
                    stats.inc(Counter::UdpPktTooSmall);
                }
                truncated = true;
                l4.len()
            } else {
                ulen
            };
            payload = l4.get(8..end).unwrap_or_default();
        }
        walk::P_ICMP | walk::P_ICMPV6 => {
            let v6 = ip.proto == walk::P_ICMPV6;
            stats.inc(if v6 { Counter::Icmpv6 } else { Counter::Icmpv4 });
            if l4.len() < 8 {
                return invalid(
                    stats,
                    w,
                    if v6 {
                        Invalid::Icmpv6PktTooSmall
                    } else {
                        Invalid::Icmpv4PktTooSmall
                    },
                );
            }
            // ICMP of the other IP version: odd, but the flow is still real.
            match (v6, ip.version) {
                (true, 4) => stats.inc(Counter::Ipv4Icmpv6),
                (false, 6) => stats.inc(Counter::Ipv6Icmpv4),
                _ => {}
            }
            info = L4::Icmp {
                icmp_type: l4.first().copied().unwrap_or(0),
                code: l4.get(1).copied().unwrap_or(0),
            };
        }
        walk::P_SCTP => {
            stats.inc(Counter::Sctp);
            // Common header: ports, verification tag, checksum.
            if let Some(&[a, b, c, d]) = l4.get(0..4) {
                if l4.len() >= 12 {
                    sport = u16::from_be_bytes([a, b]);
                    dport = u16::from_be_bytes([c, d]);
                }
            }
        }
        walk::P_ESP => stats.inc(Counter::Esp),
        walk::P_IGMP => stats.inc(Counter::Igmp),
        _ => {}
    }
    Decoded::Packet(Packet {
        src: ip.src_addr(frame),
        dst: ip.dst_addr(frame),
        sport,
        dport,
        proto: ip.proto,
        ip_version: ip.version,
        vlan: w.vlan,
        vlan_len: w.vlan_len,
        l4: info,
        payload,
        tunnel: w.tunnel.map(|t| t.to_tunnel(frame)),
        truncated,
        inner_invalid: w.inner_invalid,
    })
}

/// Where the reader sends a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shard {
    /// Symmetric hash of the innermost address pair and VLAN ids.
    Hash(u32),
    /// The innermost IP packet is a fragment: reassemble it first.
    Fragment,
    /// No IP packet: send it anywhere deterministic.
    Other,
}

/// The packet of a tunnel's own flow (outer addresses and ports, no payload).
pub fn outer_packet(t: &Tunnel) -> Packet<'static> {
    Packet {
        src: t.src,
        dst: t.dst,
        sport: t.sport,
        dport: t.dport,
        proto: t.proto,
        ip_version: if t.src.is_ipv6() { 6 } else { 4 },
        vlan: t.vlan,
        vlan_len: t.vlan_len,
        l4: if t.proto == 17 { L4::Udp } else { L4::Other },
        payload: &[],
        tunnel: None,
        truncated: false,
        inner_invalid: None,
    }
}

/// Picks a worker for a frame: a symmetric hash of the innermost IP address
/// pair and VLAN ids (no ports, so a datagram's fragments and both directions
/// of a flow agree). Walks the same headers as [`decode`], skips transport
/// parsing, counts nothing, allocates nothing.
///
/// Plain Ethernet/VLAN, IPv4/IPv6 frames that cannot hold a tunnel are read
/// at fixed offsets (`fast`); everything else takes the full walk.
#[inline]
pub fn shard(linktype: u16, frame: &[u8]) -> Shard {
    match fast::plain(linktype, frame) {
        Some(p) => p.shard(),
        None => shard_walked(linktype, frame),
    }
}

/// [`shard`] without the hash, for a single consumer: `Hash(0)` for every
/// frame that is not a fragment, which the common frame tells at fixed
/// offsets; [`shard`]'s answer otherwise.
#[inline]
pub fn shard_unhashed(linktype: u16, frame: &[u8]) -> Shard {
    match fast::plain(linktype, frame) {
        Some(_) => Shard::Hash(0),
        None => match shard_walked(linktype, frame) {
            Shard::Hash(_) => Shard::Hash(0),
            other => other,
        },
    }
}

/// [`shard`]'s fast path alone: `None` where it leaves the frame to the walk
/// (public for the test that holds it equal to [`shard_walked`]).
#[inline]
pub fn shard_fast(linktype: u16, frame: &[u8]) -> Option<Shard> {
    fast::plain(linktype, frame).map(|p| p.shard())
}

/// [`shard`] by the full header walk, never the fast path: the reference the
/// fast path is tested against (its answers must be equal on every frame).
#[inline(never)]
pub fn shard_walked(linktype: u16, frame: &[u8]) -> Shard {
    match walk(linktype, frame, &mut NoSink) {
        Ok(w) if w.ip.frag.is_some() => Shard::Fragment,
        Ok(w) => Shard::Hash(flow_hash(frame, &w)),
        Err(_) => Shard::Other,
    }
}

const SEED: u64 = 0x243f_6a88_85a3_08d3;
const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn mix(h: u64, w: u64) -> u64 {
    let x = (h ^ w).wrapping_mul(MUL);
    x ^ (x >> 32)
}

/// Order-independent in the two addresses, fixed seed (same on every run).
///
/// A tunnelled packet is placed by its OUTERMOST address pair, so the
/// tunnel's own flow (e.g. the VXLAN UDP flow between two VTEPs) and every
/// flow inside it are tracked by one worker; other packets by their (only)
/// address pair plus VLAN tags.
#[inline]
fn flow_hash(frame: &[u8], w: &Walked) -> u32 {
    let (a, b, version, vl) = match w.tunnel {
        Some(t) => {
            let (a, b) = t.outer_bits(frame);
            (a, b, t.outer_version(), t.vlan_bits())
        }
        None => {
            let v = &w.vlan;
            let vl = u64::from(v[0]) | u64::from(v[1]) << 16 | u64::from(v[2]) << 32;
            let vl = vl | u64::from(w.vlan_len) << 48;
            (
                w.ip.addr_bits(frame, w.ip.src),
                w.ip.addr_bits(frame, w.ip.dst),
                w.ip.version,
                vl,
            )
        }
    };
    pair_hash(a, b, version, vl)
}

/// [`pair_hash`] of two IPv4 addresses, in 64-bit arithmetic (same value).
#[inline(always)]
fn pair_hash_v4(a: u32, b: u32, vl: u64) -> u32 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = mix(SEED, vl | 4 << 56);
    h = mix(h, u64::from(lo));
    h = mix(h, u64::from(hi));
    (h ^ (h >> 29)) as u32
}

/// The hash of an address pair (either order), IP version and packed VLAN
/// tags (see `flow_hash`): shared with the fast path so both agree.
#[inline(always)]
fn pair_hash(a: u128, b: u128, version: u8, vl: u64) -> u32 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = mix(SEED, vl | u64::from(version) << 56);
    h = mix(h, lo as u64);
    h = mix(h, hi as u64);
    if version == 6 {
        h = mix(h, (lo >> 64) as u64);
        h = mix(h, (hi >> 64) as u64);
    }
    (h ^ (h >> 29)) as u32
}

#[cfg(test)]
mod tests;
