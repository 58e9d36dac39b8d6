//! The header walker shared by `decode`, `shard` and the defragmenter, so the
//! three can never disagree on which IP packet a frame carries.
//!
//! It follows link, VLAN/MPLS/PPPoE and tunnel headers down to the innermost
//! IP packet and stops there (transport parsing is `decode`'s job). Offsets are
//! positions in the frame; every read is bounds-checked.
//!
//! Tunnel payloads are walked up to the end of the frame, not to the outer
//! length fields: a reassembled inner packet (see `defrag`) keeps the outer
//! headers of its first fragment, whose lengths no longer match. Each inner IP
//! packet is still clipped to its own length.

use super::stats::{Counter as C, Invalid, Sink};
use super::{Tunnel, TunnelKind};
use etherparse::err::ipv4::{HeaderError as V4Err, HeaderSliceError as V4SliceErr};
use etherparse::err::ipv6::{HeaderError as V6Err, HeaderSliceError as V6SliceErr};
use etherparse::{
    Ethernet2HeaderSlice, IpAuthHeaderSlice, Ipv4HeaderSlice, Ipv6FragmentHeaderSlice,
    Ipv6HeaderSlice, Ipv6RawExtHeaderSlice, SingleVlanHeaderSlice,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Headers a frame may stack (Suricata's default `decoder.max-layers`).
pub(crate) const MAX_LAYERS: u8 = 16;

// IP protocol numbers.
pub(crate) const P_HOPOPT: u8 = 0;
pub(crate) const P_ICMP: u8 = 1;
pub(crate) const P_IGMP: u8 = 2;
pub(crate) const P_IPIP: u8 = 4;
pub(crate) const P_TCP: u8 = 6;
pub(crate) const P_UDP: u8 = 17;
pub(crate) const P_IPV6: u8 = 41;
pub(crate) const P_ROUTING: u8 = 43;
pub(crate) const P_FRAGMENT: u8 = 44;
pub(crate) const P_GRE: u8 = 47;
pub(crate) const P_ESP: u8 = 50;
pub(crate) const P_AH: u8 = 51;
pub(crate) const P_ICMPV6: u8 = 58;
pub(crate) const P_NONE: u8 = 59;
pub(crate) const P_DSTOPTS: u8 = 60;
pub(crate) const P_MOBILITY: u8 = 135;
pub(crate) const P_SCTP: u8 = 132;
pub(crate) const P_MPLS_IN_IP: u8 = 137;
pub(crate) const P_HIP: u8 = 139;
pub(crate) const P_SHIM6: u8 = 140;

// Link types handled beyond those in `capture::linktype`.
const LT_PPP_HDLC: u16 = 50;
const LT_PPP_ETHER: u16 = 51;
const LT_CHDLC: u16 = 104;
const LT_IEEE802_11: u16 = 105;
const LT_IEEE802_11_RADIOTAP: u16 = 127;
const LT_NFLOG: u16 = 239;
const LT_PKTAP: u16 = 258;

/// Fragmentation of the innermost IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FragInfo {
    pub id: u32,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u16,
    pub more: bool,
    /// IPv6: frame offset of the fragment header. IPv4: end of the IP header.
    pub frag_hdr: usize,
    /// IPv6: frame offset of the next-header byte that names the fragment header.
    pub nh_field: usize,
}

impl Ip {
    pub fn src_addr(&self, frame: &[u8]) -> IpAddr {
        addr_at(frame, self.src, self.version == 6)
    }

    pub fn dst_addr(&self, frame: &[u8]) -> IpAddr {
        addr_at(frame, self.dst, self.version == 6)
    }

    /// An address as a number, for hashing without building an `IpAddr`.
    #[inline]
    pub fn addr_bits(&self, frame: &[u8], at: usize) -> u128 {
        if self.version == 4 {
            frame
                .get(at..at + 4)
                .and_then(|s| s.try_into().ok())
                .map_or(0, |b| u128::from(u32::from_be_bytes(b)))
        } else {
            frame
                .get(at..at + 16)
                .and_then(|s| s.try_into().ok())
                .map_or(0, u128::from_be_bytes)
        }
    }
}

/// The innermost IP packet of a frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ip {
    pub version: u8,
    /// Frame offsets of the source and destination addresses (4 or 16 bytes):
    /// kept as offsets so the walk copies no addresses (`shard` hashes the
    /// bytes in place).
    pub src: usize,
    pub dst: usize,
    /// Protocol after the header chain (for a fragment: of the fragmented data).
    pub proto: u8,
    /// Frame offset of the IP header.
    pub ip_off: usize,
    /// Frame offset of the transport header (after options and extension headers).
    pub l4_off: usize,
    /// End of the IP packet in the frame (length field clipped to the capture).
    pub end: usize,
    /// The length field claims more than was captured.
    pub truncated: bool,
    pub frag: Option<FragInfo>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Walked {
    pub ip: Ip,
    pub vlan: [u16; 3],
    pub vlan_len: u8,
    pub tunnel: Option<TunnelAt>,
    /// Why the payload of the tunnel packet `ip` could not be decoded (it is
    /// then the innermost IP packet); `None` also when that payload was not IP.
    pub inner_invalid: Option<Invalid>,
}

/// The tunnel packet to fall back to when its payload cannot be decoded,
/// with the state of the walk at that point.
#[derive(Clone, Copy)]
struct Fallback {
    ip: Ip,
    vlan: [u16; 3],
    vlan_len: u8,
    tunnel: Option<TunnelAt>,
}

/// The outermost tunnel, with its outer addresses as frame offsets (the walk
/// copies this around; `IpAddr`s are built only for the caller).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TunnelAt {
    pub kind: TunnelKind,
    /// Frame offsets of the outer addresses.
    src: u32,
    dst: u32,
    outer_version: u8,
    proto: u8,
    sport: u16,
    dport: u16,
    depth: u8,
    /// VLAN tags of the outer frame (the tunnel's own flow is in that VLAN).
    vlan: [u16; 3],
    vlan_len: u8,
}

impl TunnelAt {
    pub fn to_tunnel(self, frame: &[u8]) -> Tunnel {
        let (src, dst) = self.outer_addrs(frame);
        Tunnel {
            kind: self.kind,
            src,
            dst,
            sport: self.sport,
            dport: self.dport,
            proto: self.proto,
            depth: self.depth,
            vlan: self.vlan,
            vlan_len: self.vlan_len,
        }
    }

    /// The outer frame's VLAN tags packed for the shard hash.
    pub fn vlan_bits(self) -> u64 {
        let v = self.vlan;
        u64::from(v[0])
            | u64::from(v[1]) << 16
            | u64::from(v[2]) << 32
            | u64::from(self.vlan_len) << 48
    }

    /// The outer addresses as integers (for the shard hash), without building `IpAddr`s.
    pub fn outer_bits(self, frame: &[u8]) -> (u128, u128) {
        let n = if self.outer_version == 6 { 16 } else { 4 };
        let bits = |at: u32| {
            frame.get(at as usize..at as usize + n).map_or(0, |s| {
                s.iter().fold(0u128, |acc, &b| acc << 8 | u128::from(b))
            })
        };
        (bits(self.src), bits(self.dst))
    }

    pub fn outer_version(self) -> u8 {
        self.outer_version
    }

    pub fn outer_addrs(self, frame: &[u8]) -> (IpAddr, IpAddr) {
        let v6 = self.outer_version == 6;
        (
            addr_at(frame, self.src as usize, v6),
            addr_at(frame, self.dst as usize, v6),
        )
    }
}

/// The IPv4 or IPv6 address at frame offset `at` (unspecified if absent,
/// which the walk rules out).
fn addr_at(frame: &[u8], at: usize, v6: bool) -> IpAddr {
    if v6 {
        let b: [u8; 16] = frame
            .get(at..at + 16)
            .and_then(|s| s.try_into().ok())
            .unwrap_or_default();
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        let b: [u8; 4] = frame
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or_default();
        IpAddr::V4(Ipv4Addr::from(b))
    }
}

/// Why the walk found no IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    NotIp,
    Invalid(Invalid),
    Unsupported(u16),
}

/// What to parse next, at `Walker::off`.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A link-layer header of this `LINKTYPE_*`.
    Link(u16),
    /// An Ethernet II header.
    Ether,
    /// A payload identified by this EtherType.
    Type(u16),
    Ipv4,
    Ipv6,
    /// IPv4 or IPv6 by the version nibble.
    IpGuess,
    /// A PPP header (optional address/control, 1- or 2-byte protocol).
    Ppp,
    /// A PPP payload of this protocol.
    PppProto(u16),
    Mpls,
    /// An 802.11 MAC header.
    Wlan,
}

/// Result of one IP layer: descend further, or this is the innermost packet.
enum Next {
    Step(Step),
    Done(Ip),
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(s.try_into().ok()?))
}

#[inline]
fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(s.try_into().ok()?))
}

#[inline]
fn byte(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}

struct Walker<'f, 's, S: Sink> {
    frame: &'f [u8],
    s: &'s mut S,
    off: usize,
    layers: u8,
    vlan: [u16; 3],
    vlan_len: u8,
    tunnel: Option<TunnelAt>,
    fallback: Option<Fallback>,
}

/// Walks `frame` (of link type `lt`) down to its innermost IP packet.
#[inline(always)]
pub(crate) fn walk<S: Sink>(lt: u16, frame: &[u8], s: &mut S) -> Result<Walked, Stop> {
    // Tunnel offsets are kept in 32 bits; no real frame comes near 4 GiB.
    let frame = frame.get(..u32::MAX as usize).unwrap_or(frame);
    let mut w = Walker {
        frame,
        s,
        off: 0,
        layers: 0,
        vlan: [0; 3],
        vlan_len: 0,
        tunnel: None,
        fallback: None,
    };
    match w.run(Step::Link(lt)) {
        Ok(ip) => Ok(Walked {
            ip,
            vlan: w.vlan,
            vlan_len: w.vlan_len,
            tunnel: w.tunnel,
            inner_invalid: None,
        }),
        // A tunnel whose payload is not IP or is broken: the tunnel packet is
        // the innermost IP packet (its flow is real; Suricata keeps it too).
        Err(stop @ (Stop::NotIp | Stop::Invalid(_))) => match w.fallback {
            Some(fb) => {
                if stop == Stop::NotIp {
                    w.s.inc(C::TunnelNotIp);
                }
                Ok(Walked {
                    ip: fb.ip,
                    vlan: fb.vlan,
                    vlan_len: fb.vlan_len,
                    tunnel: fb.tunnel,
                    inner_invalid: match stop {
                        Stop::Invalid(r) => Some(r),
                        _ => None,
                    },
                })
            }
            None => Err(stop),
        },
        Err(e) => Err(e),
    }
}

impl<'f, S: Sink> Walker<'f, '_, S> {
    #[inline]
    fn invalid(&mut self, r: Invalid) -> Stop {
        self.s.inc(r.counter());
        self.s.inc(C::Invalid);
        Stop::Invalid(r)
    }

    /// A malformed tunnel header inside the UDP packet `ip`: that packet is
    /// then the innermost one (see `walk`).
    fn invalid_in(&mut self, ip: &Ip, r: Invalid) -> Stop {
        self.fallback = Some(Fallback {
            ip: *ip,
            vlan: self.vlan,
            vlan_len: self.vlan_len,
            tunnel: self.tunnel,
        });
        self.invalid(r)
    }

    #[inline]
    fn rest(&self) -> &'f [u8] {
        self.frame.get(self.off..).unwrap_or_default()
    }

    /// Bytes left from `off` to the end of the frame.
    #[inline]
    fn left(&self) -> usize {
        self.frame.len().saturating_sub(self.off)
    }

    #[inline(always)]
    fn run(&mut self, mut step: Step) -> Result<Ip, Stop> {
        loop {
            if !matches!(step, Step::Type(_) | Step::PppProto(_)) {
                self.layers += 1;
                if self.layers > MAX_LAYERS {
                    return Err(self.invalid(Invalid::TooManyLayers));
                }
            }
            step = match step {
                Step::Link(lt) => self.link(lt)?,
                Step::Ether => self.ether()?,
                Step::Type(t) => self.ethertype(t)?,
                Step::Ipv4 => match self.ipv4()? {
                    Next::Step(s) => s,
                    Next::Done(ip) => return Ok(ip),
                },
                Step::Ipv6 => match self.ipv6()? {
                    Next::Step(s) => s,
                    Next::Done(ip) => return Ok(ip),
                },
                Step::IpGuess => match byte(self.frame, self.off).map(|b| b >> 4) {
                    Some(4) => Step::Ipv4,
                    Some(6) => Step::Ipv6,
                    _ => return Err(self.invalid(Invalid::TunnelIpWrongVersion)),
                },
                Step::Ppp => self.ppp()?,
                Step::PppProto(p) => self.ppp_proto(p)?,
                Step::Mpls => self.mpls()?,
                Step::Wlan => self.wlan()?,
            };
        }
    }

    #[inline]
    fn link(&mut self, lt: u16) -> Result<Step, Stop> {
        use crate::capture::linktype as L;
        let f = self.frame;
        let o = self.off;
        Ok(match lt {
            L::ETHERNET => Step::Ether,
            L::LINUX_SLL => {
                self.s.inc(C::Sll);
                if self.left() < 16 {
                    return Err(self.invalid(Invalid::SllPktTooSmall));
                }
                let hatype = be16(f, o + 2).unwrap_or(0);
                let proto = be16(f, o + 14).unwrap_or(0);
                self.off += 16;
                // 824: netlink messages, not packets.
                if hatype == 824 {
                    return Err(Stop::NotIp);
                }
                self.cooked(proto)?
            }
            L::LINUX_SLL2 => {
                self.s.inc(C::Sll2);
                if self.left() < 20 {
                    return Err(self.invalid(Invalid::Sll2PktTooSmall));
                }
                let proto = be16(f, o).unwrap_or(0);
                let hatype = be16(f, o + 8).unwrap_or(0);
                self.off += 20;
                if hatype == 824 {
                    return Err(Stop::NotIp);
                }
                self.cooked(proto)?
            }
            L::NULL | L::LOOP => {
                self.s.inc(C::Null);
                let Some(raw) = f.get(o..o + 4) else {
                    return Err(self.invalid(Invalid::LtnullPktTooSmall));
                };
                // The family is in the writer's byte order (NULL) or network
                // order (LOOP), and some writers get it wrong: take whichever
                // reading is small.
                let mut b = [0u8; 4];
                b.copy_from_slice(raw);
                let le = u32::from_le_bytes(b);
                let family = if le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(b)
                };
                self.off += 4;
                match family {
                    2 => Step::Ipv4,
                    // AF_INET6: BSD 24, FreeBSD 28, Darwin 30, Linux 10, Winsock 23, Solaris 26.
                    10 | 23 | 24 | 26 | 28 | 30 => Step::Ipv6,
                    _ => {
                        self.s.inc(C::LtnullUnsupportedType);
                        return Err(Stop::NotIp);
                    }
                }
            }
            L::RAW | L::RAW_DLT12 | L::RAW_DLT14 => {
                self.s.inc(C::Raw);
                match byte(f, o).map(|b| b >> 4) {
                    Some(4) => Step::Ipv4,
                    Some(6) => Step::Ipv6,
                    None => return Err(self.invalid(Invalid::Ipv4PktTooSmall)),
                    Some(_) => return Err(self.invalid(Invalid::IprawInvalidIpVersion)),
                }
            }
            // Trust the version nibble over the link type (as tshark does).
            L::IPV4 | L::IPV6 => {
                let want = if lt == L::IPV4 { 4 } else { 6 };
                match byte(f, o).map(|b| b >> 4) {
                    Some(v) if v != want && (v == 4 || v == 6) => {
                        self.s.inc(C::IprawLinktypeMismatch);
                        if v == 4 {
                            Step::Ipv4
                        } else {
                            Step::Ipv6
                        }
                    }
                    _ if lt == L::IPV4 => Step::Ipv4,
                    _ => Step::Ipv6,
                }
            }
            L::PPP | LT_PPP_HDLC => Step::Ppp,
            LT_PPP_ETHER => Step::Type(0x8864),
            LT_CHDLC => {
                self.s.inc(C::Chdlc);
                let Some(proto) = be16(f, o + 2) else {
                    return Err(self.invalid(Invalid::ChdlcPktTooSmall));
                };
                self.off += 4;
                Step::Type(proto)
            }
            LT_NFLOG => self.nflog()?,
            LT_PKTAP => {
                self.s.inc(C::Pktap);
                // Header length and inner DLT, little-endian (written on Darwin).
                let (Some(hl), Some(dlt)) = (f.get(o..o + 4), f.get(o + 4..o + 8)) else {
                    return Err(self.invalid(Invalid::PktapPktTooSmall));
                };
                let hl = u32::from_le_bytes(hl.try_into().unwrap_or_default()) as usize;
                let dlt = u32::from_le_bytes(dlt.try_into().unwrap_or_default());
                if hl < 8 || hl > self.left() {
                    return Err(self.invalid(Invalid::PktapPktTooSmall));
                }
                self.off += hl;
                // DLT values of the inner frame: the few that differ from LINKTYPE.
                let inner = match dlt {
                    12 => L::RAW,
                    x => u16::try_from(x).unwrap_or(u16::MAX),
                };
                if inner == LT_PKTAP {
                    return Err(Stop::Unsupported(lt));
                }
                Step::Link(inner)
            }
            LT_IEEE802_11_RADIOTAP => {
                let Some(len) = f.get(o + 2..o + 4) else {
                    return Err(self.invalid(Invalid::Ieee80211PktTooSmall));
                };
                let len = usize::from(u16::from_le_bytes(len.try_into().unwrap_or_default()));
                if len < 8 || len > self.left() {
                    return Err(self.invalid(Invalid::Ieee80211PktTooSmall));
                }
                self.off += len;
                Step::Wlan
            }
            LT_IEEE802_11 => Step::Wlan,
            _ => return Err(Stop::Unsupported(lt)),
        })
    }

    /// The protocol field of a Linux cooked header.
    fn cooked(&mut self, proto: u16) -> Result<Step, Stop> {
        match proto {
            // 802.2 LLC frames carry SNAP at best.
            0x0004 => self.llc(),
            p if p >= 0x0600 => Ok(Step::Type(p)),
            _ => Err(Stop::NotIp),
        }
    }

    /// LLC: only SNAP with an EtherType leads anywhere.
    fn llc(&mut self) -> Result<Step, Stop> {
        let r = self.rest();
        if r.get(0..3) == Some(&[0xaa, 0xaa, 0x03]) {
            if let Some(t) = be16(r, 6) {
                self.s.inc(C::LlcSnap);
                self.off += 8;
                return Ok(Step::Type(t));
            }
        }
        Err(Stop::NotIp)
    }

    #[inline]
    fn ether(&mut self) -> Result<Step, Stop> {
        self.s.inc(C::Ethernet);
        let Ok(eth) = Ethernet2HeaderSlice::from_slice(self.rest()) else {
            return Err(self.invalid(Invalid::EthernetPktTooSmall));
        };
        let t = eth.ether_type().0;
        self.off += 14;
        // Tags belong to the innermost Ethernet layer.
        self.vlan_len = 0;
        self.vlan = [0; 3];
        if t < 0x0600 {
            // 802.3 length field.
            return self.llc();
        }
        Ok(Step::Type(t))
    }

    #[inline]
    fn ethertype(&mut self, t: u16) -> Result<Step, Stop> {
        let f = self.frame;
        let o = self.off;
        Ok(match t {
            0x0800 => Step::Ipv4,
            0x86dd => Step::Ipv6,
            0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
                self.layers += 1;
                let c = match self.vlan_len {
                    0 => C::Vlan,
                    1 => C::VlanQinq,
                    _ => C::VlanQinqinq,
                };
                self.s.inc(c);
                let Ok(v) = SingleVlanHeaderSlice::from_slice(self.rest()) else {
                    return Err(self.invalid(Invalid::VlanHeaderTooSmall));
                };
                let Some(slot) = self.vlan.get_mut(usize::from(self.vlan_len)) else {
                    return Err(self.invalid(Invalid::VlanTooManyLayers));
                };
                *slot = v.vlan_identifier().value();
                self.vlan_len += 1;
                let next = v.ether_type().0;
                self.off += 4;
                if !known_ethertype(next) {
                    self.s.inc(C::VlanUnknownType);
                }
                Step::Type(next)
            }
            0x8847 | 0x8848 => Step::Mpls,
            0x8864 => {
                self.s.inc(C::Pppoe);
                // ver/type, code, session, length, then the PPP protocol.
                if self.left() < 7 {
                    return Err(self.invalid(Invalid::PppoePktTooSmall));
                }
                self.off += 6;
                match self.ppp_header() {
                    Some(p) => Step::PppProto(p),
                    None => return Err(self.invalid(Invalid::PppoePktTooSmall)),
                }
            }
            0x8863 => {
                self.s.inc(C::Pppoe);
                return Err(Stop::NotIp);
            }
            0x0806 => {
                self.s.inc(C::Arp);
                return Err(Stop::NotIp);
            }
            0x88e7 => {
                // 802.1ah I-TAG, then the customer's Ethernet header.
                self.s.inc(C::Ieee8021ah);
                if self.left() < 4 + 14 {
                    return Err(self.invalid(Invalid::Ieee8021ahHeaderTooSmall));
                }
                self.off += 4;
                Step::Ether
            }
            0x8926 => {
                self.s.inc(C::Vntag);
                let Some(next) = be16(f, o + 4) else {
                    return Err(self.invalid(Invalid::VntagHeaderTooSmall));
                };
                self.off += 6;
                Step::Type(next)
            }
            0x893f => {
                self.s.inc(C::Etag);
                let Some(next) = be16(f, o + 6) else {
                    return Err(self.invalid(Invalid::EtagHeaderTooSmall));
                };
                self.off += 8;
                Step::Type(next)
            }
            0x8903 => {
                // Cisco FabricPath: FTag/TTL, then the classical Ethernet frame.
                self.s.inc(C::FabricPath);
                if self.left() < 2 + 14 {
                    return Err(self.invalid(Invalid::FabricPathPktTooSmall));
                }
                self.off += 2;
                Step::Ether
            }
            0x6558 => Step::Ether,
            _ => {
                if !known_ethertype(t) {
                    self.s.inc(C::UnknownEthertype);
                    self.s.inc(C::EthernetUnknownEthertype);
                }
                return Err(Stop::NotIp);
            }
        })
    }

    fn ppp(&mut self) -> Result<Step, Stop> {
        self.s.inc(C::Ppp);
        match self.ppp_header() {
            Some(p) => Ok(Step::PppProto(p)),
            None => Err(self.invalid(Invalid::PppPktTooSmall)),
        }
    }

    /// Reads a PPP header at `off` and moves past it. Address/control (0xff
    /// 0x03) is optional; a protocol whose first byte is odd is one byte long
    /// (protocol-field compression).
    fn ppp_header(&mut self) -> Option<u16> {
        let r = self.rest();
        let skip = if r.get(0..2) == Some(&[0xff, 0x03]) {
            2
        } else {
            0
        };
        let b0 = byte(r, skip)?;
        if b0 & 1 == 1 {
            self.off += skip + 1;
            return Some(u16::from(b0));
        }
        let proto = be16(r, skip)?;
        self.off += skip + 2;
        Some(proto)
    }

    fn ppp_proto(&mut self, proto: u16) -> Result<Step, Stop> {
        Ok(match proto {
            0x0021 => {
                if self.left() < 20 {
                    return Err(self.invalid(Invalid::PppIp4PktTooSmall));
                }
                Step::Ipv4
            }
            0x0057 => {
                if self.left() < 40 {
                    return Err(self.invalid(Invalid::PppIp6PktTooSmall));
                }
                Step::Ipv6
            }
            0x0281 | 0x0283 => Step::Mpls,
            // Link and network control protocols, compressed TCP/IP: no IP packet here.
            0xc021 | 0xc023 | 0xc025 | 0xc223 | 0x8021 | 0x8057 | 0x80fd | 0x80fb | 0x8281
            | 0x002d | 0x002f | 0x00fd | 0x00fb | 0xc029 | 0x8207 => return Err(Stop::NotIp),
            _ => {
                self.s.inc(C::PppUnsupProto);
                return Err(Stop::NotIp);
            }
        })
    }

    fn mpls(&mut self) -> Result<Step, Stop> {
        self.s.inc(C::Mpls);
        let mut label;
        loop {
            // Each label is a layer: a forged stack cannot loop for long.
            self.layers += 1;
            if self.layers > MAX_LAYERS {
                return Err(self.invalid(Invalid::TooManyLayers));
            }
            let Some(entry) = be32(self.frame, self.off) else {
                return Err(self.invalid(Invalid::MplsHeaderTooSmall));
            };
            self.off += 4;
            label = entry >> 12;
            if entry & 0x100 != 0 {
                break;
            }
        }
        // Explicit-null labels say what follows; otherwise guess from the first nibble.
        match label {
            0 => return Ok(Step::Ipv4),
            2 => return Ok(Step::Ipv6),
            _ => {}
        }
        match byte(self.frame, self.off).map(|b| b >> 4) {
            Some(4) => Ok(Step::Ipv4),
            Some(6) => Ok(Step::Ipv6),
            Some(0) => {
                // Ethernet pseudowire with its 4-byte control word.
                if self.left() < 4 + 14 {
                    return Err(self.invalid(Invalid::MplsPktTooSmall));
                }
                self.off += 4;
                Ok(Step::Ether)
            }
            None => Err(self.invalid(Invalid::MplsPktTooSmall)),
            Some(_) => Err(self.invalid(Invalid::MplsUnknownPayloadType)),
        }
    }

    fn nflog(&mut self) -> Result<Step, Stop> {
        self.s.inc(C::Nflog);
        let f = self.frame;
        let Some(family) = byte(f, self.off) else {
            return Err(self.invalid(Invalid::NflogPktTooSmall));
        };
        let mut p = self.off + 4;
        if p > f.len() {
            return Err(self.invalid(Invalid::NflogPktTooSmall));
        }
        // TLVs in the writer's byte order (little-endian in practice): length
        // (including the 4-byte TLV header), type; values padded to 4 bytes.
        while let Some(tlv) = f.get(p..p + 4) {
            let [a, b, c, d]: [u8; 4] = tlv.try_into().unwrap_or_default();
            let mut len = usize::from(u16::from_le_bytes([a, b]));
            let mut ty = u16::from_le_bytes([c, d]);
            if len < 4 || len > f.len() - p {
                len = usize::from(u16::from_be_bytes([a, b]));
                ty = u16::from_be_bytes([c, d]);
                if len < 4 || len > f.len() - p {
                    break;
                }
            }
            // NFULA_PAYLOAD
            if ty & 0x7fff == 9 {
                self.off = p + 4;
                return Ok(match family {
                    2 => Step::Ipv4,
                    10 => Step::Ipv6,
                    _ => Step::IpGuess,
                });
            }
            p += (len + 3) & !3;
        }
        Err(self.invalid(Invalid::NflogPktTooSmall))
    }

    fn wlan(&mut self) -> Result<Step, Stop> {
        self.s.inc(C::Ieee80211);
        let r = self.rest();
        let (Some(fc), Some(flags)) = (byte(r, 0), byte(r, 1)) else {
            return Err(self.invalid(Invalid::Ieee80211PktTooSmall));
        };
        // Only unprotected data frames that carry data.
        let ftype = (fc >> 2) & 3;
        let subtype = fc >> 4;
        if ftype != 2 || subtype & 4 != 0 || flags & 0x40 != 0 {
            return Err(Stop::NotIp);
        }
        let mut hl = 24;
        if flags & 3 == 3 {
            hl += 6; // fourth address (WDS)
        }
        if subtype & 8 != 0 {
            hl += 2; // QoS control
            if flags & 0x80 != 0 {
                hl += 4; // HT control
            }
        }
        if r.len() < hl {
            return Err(self.invalid(Invalid::Ieee80211PktTooSmall));
        }
        self.off += hl;
        self.llc()
    }

    /// Opens (or deepens) the tunnel record around the packet `outer`.
    fn enter(&mut self, kind: TunnelKind, outer: &Ip, sport: u16, dport: u16) {
        self.fallback = Some(Fallback {
            ip: *outer,
            vlan: self.vlan,
            vlan_len: self.vlan_len,
            tunnel: self.tunnel,
        });
        match &mut self.tunnel {
            Some(t) => t.depth = t.depth.saturating_add(1),
            None => {
                // Offsets fit: the walk only looks at the first 4 GiB of a frame.
                self.tunnel = Some(TunnelAt {
                    kind,
                    src: u32::try_from(outer.src).unwrap_or(u32::MAX),
                    dst: u32::try_from(outer.dst).unwrap_or(u32::MAX),
                    outer_version: outer.version,
                    proto: outer.proto,
                    sport,
                    dport,
                    depth: 1,
                    vlan: self.vlan,
                    vlan_len: self.vlan_len,
                })
            }
        }
    }

    #[inline]
    fn ipv4(&mut self) -> Result<Next, Stop> {
        self.s.inc(C::Ipv4);
        let o = self.off;
        let rest = self.rest();
        if rest.len() < 20 {
            return Err(self.invalid(Invalid::Ipv4PktTooSmall));
        }
        let h = match Ipv4HeaderSlice::from_slice(rest) {
            Ok(h) => h,
            Err(V4SliceErr::Content(V4Err::UnexpectedVersion { .. })) => {
                return Err(self.invalid(Invalid::Ipv4WrongIpVersion))
            }
            Err(_) => return Err(self.invalid(Invalid::Ipv4HlenTooSmall)),
        };
        let hl = h.slice().len();
        let total = usize::from(h.total_len());
        let avail = rest.len();
        let (len, truncated) = if total == 0 {
            // Segmentation offload on the capturing host leaves the length at 0.
            self.s.inc(C::Ipv4TsoZeroLength);
            (avail, false)
        } else if total < hl {
            return Err(self.invalid(Invalid::Ipv4IplenSmallerThanHlen));
        } else if total > avail {
            self.s.inc(C::Ipv4TruncPkt);
            (avail, true)
        } else {
            (total, false)
        };
        let frag_off = h.fragments_offset().byte_offset();
        let more = h.more_fragments();
        let mut ip = Ip {
            version: 4,
            src: o + 12,
            dst: o + 16,
            proto: h.protocol().0,
            ip_off: o,
            l4_off: o + hl,
            end: o + len,
            truncated,
            frag: None,
        };
        if more || frag_off != 0 {
            ip.frag = Some(FragInfo {
                id: u32::from(h.identification()),
                offset: frag_off,
                more,
                frag_hdr: o + hl,
                nh_field: 0,
            });
            return Ok(Next::Done(ip));
        }
        self.upper(ip)
    }

    #[inline]
    fn ipv6(&mut self) -> Result<Next, Stop> {
        self.s.inc(C::Ipv6);
        let o = self.off;
        let rest = self.rest();
        let h = match Ipv6HeaderSlice::from_slice(rest) {
            Ok(h) => h,
            Err(V6SliceErr::Content(V6Err::UnexpectedVersion { .. })) => {
                return Err(self.invalid(Invalid::Ipv6WrongIpVersion))
            }
            Err(_) => return Err(self.invalid(Invalid::Ipv6PktTooSmall)),
        };
        let plen = usize::from(h.payload_length());
        let avail = rest.len() - 40;
        let mut nh = h.next_header().0;
        let (len, truncated) = if plen == 0 && nh != P_NONE {
            // Jumbogram or segmentation offload: take what was captured.
            self.s.inc(C::Ipv6ZeroPayloadLength);
            (avail, false)
        } else if plen > avail {
            self.s.inc(C::Ipv6TruncPkt);
            (avail, true)
        } else {
            (plen, false)
        };
        let end = o + 40 + len;
        let mut ip = Ip {
            version: 6,
            src: o + 8,
            dst: o + 24,
            proto: nh,
            ip_off: o,
            l4_off: o + 40,
            end,
            truncated,
            frag: None,
        };
        let f = self.frame;
        let mut p = o + 40;
        let mut nh_field = o + 6;
        // Extension headers: each is at least 8 bytes, so this ends.
        loop {
            let data = f.get(p..end).unwrap_or_default();
            let hlen = match nh {
                P_HOPOPT | P_ROUTING | P_DSTOPTS | P_MOBILITY | P_HIP | P_SHIM6 => {
                    match Ipv6RawExtHeaderSlice::from_slice(data) {
                        Ok(x) => {
                            if nh == P_ROUTING {
                                if let Some(d) = final_destination(x.slice()) {
                                    ip.dst = p + d;
                                }
                            }
                            nh_field = p;
                            nh = x.next_header().0;
                            x.slice().len()
                        }
                        Err(_) => return Err(self.invalid(Invalid::Ipv6TruncExthdr)),
                    }
                }
                P_AH => match IpAuthHeaderSlice::from_slice(data) {
                    Ok(x) => {
                        nh_field = p;
                        nh = x.next_header().0;
                        x.slice().len()
                    }
                    Err(_) => return Err(self.invalid(Invalid::Ipv6TruncExthdr)),
                },
                P_FRAGMENT => match Ipv6FragmentHeaderSlice::from_slice(data) {
                    Ok(x) => {
                        if x.is_fragmenting_payload() {
                            ip.proto = x.next_header().0;
                            ip.l4_off = p + 8;
                            ip.frag = Some(FragInfo {
                                id: x.identification(),
                                offset: x.fragment_offset().byte_offset(),
                                more: x.more_fragments(),
                                frag_hdr: p,
                                nh_field,
                            });
                            return Ok(Next::Done(ip));
                        }
                        // Atomic fragment: just skip the header.
                        nh_field = p;
                        nh = x.next_header().0;
                        8
                    }
                    Err(_) => return Err(self.invalid(Invalid::Ipv6TruncExthdr)),
                },
                _ => break,
            };
            p += hlen;
        }
        ip.proto = nh;
        ip.l4_off = p;
        if nh == P_NONE && p < end {
            self.s.inc(C::Ipv6DataAfterNoneHeader);
        }
        self.upper(ip)
    }

    /// What follows the IP header chain of `ip`: a tunnel to descend into, or
    /// the end of the walk.
    #[inline]
    fn upper(&mut self, ip: Ip) -> Result<Next, Stop> {
        let p = ip.l4_off;
        let f = self.frame;
        match ip.proto {
            P_IPIP | P_IPV6 => {
                let inner_v4 = ip.proto == P_IPIP;
                let left = f.len().saturating_sub(p);
                let nibble = byte(f, p).map(|b| b >> 4);
                let (c, small, wrong) = match (ip.version, inner_v4) {
                    (6, true) => (
                        C::Ipv4InIpv6,
                        Invalid::Ipv4InIpv6TooSmall,
                        Invalid::Ipv4InIpv6WrongVersion,
                    ),
                    (6, false) => (
                        C::Ipv6InIpv6,
                        Invalid::Ipv6InIpv6TooSmall,
                        Invalid::Ipv6InIpv6WrongVersion,
                    ),
                    (_, true) => (
                        C::Ipv4InIpv4,
                        Invalid::Ipv4PktTooSmall,
                        Invalid::TunnelIpWrongVersion,
                    ),
                    (_, false) => (
                        C::Ipv6InIpv4,
                        Invalid::Ipv6PktTooSmall,
                        Invalid::TunnelIpWrongVersion,
                    ),
                };
                if left < if inner_v4 { 20 } else { 40 } {
                    return Err(self.invalid(small));
                }
                if nibble != Some(if inner_v4 { 4 } else { 6 }) {
                    return Err(self.invalid(wrong));
                }
                self.s.inc(c);
                self.enter(TunnelKind::IpInIp, &ip, 0, 0);
                self.off = p;
                Ok(Next::Step(if inner_v4 { Step::Ipv4 } else { Step::Ipv6 }))
            }
            P_GRE => {
                self.off = p;
                self.gre(ip, 0, 0)
            }
            P_MPLS_IN_IP => {
                self.s.inc(C::MplsInIp);
                self.enter(TunnelKind::Mpls, &ip, 0, 0);
                self.off = p;
                Ok(Next::Step(Step::Mpls))
            }
            P_UDP => self.udp_tunnel(ip),
            _ => Ok(Next::Done(ip)),
        }
    }

    /// UDP-encapsulated tunnels, recognised by port and header sanity. A UDP
    /// packet that is not one is the innermost packet.
    #[inline]
    fn udp_tunnel(&mut self, ip: Ip) -> Result<Next, Stop> {
        let f = self.frame;
        let p = ip.l4_off;
        let (Some(sport), Some(dport)) = (be16(f, p), be16(f, p + 2)) else {
            return Ok(Next::Done(ip));
        };
        if ip.end < p + 8 {
            return Ok(Next::Done(ip));
        }
        let q = p + 8;
        let has = |port: u16| sport == port || dport == port;
        match dport {
            4789 | 8472 => {
                // VXLAN: the I flag must be set; the rest is not checked
                // (implementations put things in the reserved bits).
                let Some(flags) = byte(f, q) else {
                    return Ok(Next::Done(ip));
                };
                if flags & 0x08 == 0 || !plausible(f, q + 8, Step::Ether) {
                    return Ok(Next::Done(ip));
                }
                self.s.inc(C::Vxlan);
                if f.len() < q + 8 {
                    return Err(self.invalid_in(&ip, Invalid::VxlanHeaderTooSmall));
                }
                self.enter(TunnelKind::Vxlan, &ip, sport, dport);
                self.off = q + 8;
                return Ok(Next::Step(Step::Ether));
            }
            6081 => {
                let (Some(b0), Some(proto)) = (byte(f, q), be16(f, q + 2)) else {
                    return Ok(Next::Done(ip));
                };
                if b0 >> 6 != 0 {
                    return Ok(Next::Done(ip));
                }
                self.s.inc(C::Geneve);
                let hl = 8 + usize::from(b0 & 0x3f) * 4;
                if f.len() < q + hl {
                    return Err(self.invalid_in(&ip, Invalid::GeneveHeaderTooSmall));
                }
                let next = match proto {
                    0x6558 => Step::Ether,
                    0x0800 => Step::Ipv4,
                    0x86dd => Step::Ipv6,
                    _ => {
                        self.s.inc(C::GeneveUnknownPayloadType);
                        return Ok(Next::Done(ip));
                    }
                };
                if !plausible(f, q + hl, next) {
                    return Ok(Next::Done(ip));
                }
                self.enter(TunnelKind::Geneve, &ip, sport, dport);
                self.off = q + hl;
                return Ok(Next::Step(next));
            }
            6635 => {
                if !plausible(f, q, Step::Mpls) {
                    return Ok(Next::Done(ip));
                }
                self.s.inc(C::MplsOverUdp);
                self.enter(TunnelKind::Mpls, &ip, sport, dport);
                self.off = q;
                return Ok(Next::Step(Step::Mpls));
            }
            4754 => {
                if !gre_plausible(f, q) {
                    return Ok(Next::Done(ip));
                }
                self.s.inc(C::GreOverUdp);
                self.off = q;
                return self.gre(ip, sport, dport);
            }
            _ => {}
        }
        if has(3544) {
            if let Some(start) = teredo(f, q) {
                self.s.inc(C::Teredo);
                self.enter(TunnelKind::Teredo, &ip, sport, dport);
                self.off = start;
                return Ok(Next::Step(Step::Ipv6));
            }
        } else if has(2152) {
            return self.gtpu(ip, sport, dport);
        } else if has(5072) {
            return self.ayiya(ip, sport, dport);
        }
        Ok(Next::Done(ip))
    }

    /// GTP-U: only G-PDUs (message type 255) carry user packets; signalling
    /// stays a UDP packet.
    fn gtpu(&mut self, ip: Ip, sport: u16, dport: u16) -> Result<Next, Stop> {
        let f = self.frame;
        let q = ip.l4_off + 8;
        let (Some(flags), Some(ty)) = (byte(f, q), byte(f, q + 1)) else {
            return Ok(Next::Done(ip));
        };
        // Version 1, protocol type GTP.
        if flags >> 5 != 1 || flags & 0x10 == 0 || ty != 255 {
            return Ok(Next::Done(ip));
        }
        self.s.inc(C::Gtpu);
        let mut hl = 8;
        if flags & 0x07 != 0 {
            // Sequence number, N-PDU number, next extension type.
            hl += 4;
            let mut next = byte(f, q + hl - 1);
            // Extension headers: length in 4-byte units, last byte names the next.
            let mut n = 0;
            while flags & 0x04 != 0 && next.is_some_and(|t| t != 0) {
                let Some(len) = byte(f, q + hl).map(|l| usize::from(l) * 4) else {
                    return Err(self.invalid_in(&ip, Invalid::GtpuHeaderTooSmall));
                };
                n += 1;
                if len == 0 || n > 8 {
                    return Err(self.invalid_in(&ip, Invalid::GtpuHeaderTooSmall));
                }
                hl += len;
                next = byte(f, q + hl - 1);
            }
        }
        let inner = q + hl;
        match byte(f, inner).map(|b| b >> 4) {
            Some(4) | Some(6) => {}
            None => return Err(self.invalid(Invalid::GtpuHeaderTooSmall)),
            // Not IP (e.g. an empty or PPP payload): leave it as UDP.
            Some(_) => return Ok(Next::Done(ip)),
        }
        self.enter(TunnelKind::GtpU, &ip, sport, dport);
        self.off = inner;
        Ok(Next::Step(Step::IpGuess))
    }

    /// AYIYA (RFC draft, SixXS): forwarded IPv4/IPv6 after identity and signature.
    fn ayiya(&mut self, ip: Ip, sport: u16, dport: u16) -> Result<Next, Stop> {
        let f = self.frame;
        let q = ip.l4_off + 8;
        let (Some(b0), Some(b1), Some(b2), Some(nh)) =
            (byte(f, q), byte(f, q + 1), byte(f, q + 2), byte(f, q + 3))
        else {
            return Ok(Next::Done(ip));
        };
        // Opcode 1: forward. Next header must be an IP version.
        if b2 & 0x0f != 1 || !(nh == P_IPIP || nh == P_IPV6) {
            return Ok(Next::Done(ip));
        }
        self.s.inc(C::Ayiya);
        let id_len = 1usize << (b0 >> 4);
        let sig_len = usize::from(b1 >> 4) * 4;
        let hl = 8 + id_len + sig_len;
        if f.len() < q + hl {
            return Err(self.invalid_in(&ip, Invalid::AyiyaHeaderTooSmall));
        }
        self.enter(TunnelKind::Ayiya, &ip, sport, dport);
        self.off = q + hl;
        Ok(Next::Step(if nh == P_IPIP {
            Step::Ipv4
        } else {
            Step::Ipv6
        }))
    }

    /// GRE at `self.off` inside `ip` (or inside UDP when `dport` is 4754).
    fn gre(&mut self, ip: Ip, sport: u16, dport: u16) -> Result<Next, Stop> {
        self.s.inc(C::Gre);
        self.layers += 1;
        if self.layers > MAX_LAYERS {
            return Err(self.invalid(Invalid::TooManyLayers));
        }
        let f = self.frame;
        let o = self.off;
        let left = self.left();
        let (Some(flags), Some(proto)) = (be16(f, o), be16(f, o + 2)) else {
            return Err(self.invalid(Invalid::GrePktTooSmall));
        };
        let (csum, route, key, seq, ssr) = (
            flags & 0x8000 != 0,
            flags & 0x4000 != 0,
            flags & 0x2000 != 0,
            flags & 0x1000 != 0,
            flags & 0x0800 != 0,
        );
        let recur = flags & 0x0700 != 0;
        let mut hl = 4usize;
        match flags & 7 {
            0 => {
                if recur {
                    return Err(self.invalid(Invalid::GreV0Recur));
                }
                if flags & 0x00f8 != 0 {
                    return Err(self.invalid(Invalid::GreV0Flags));
                }
                if csum || route {
                    hl += 4;
                }
                if key {
                    hl += 4;
                }
                if seq {
                    hl += 4;
                }
                if hl > left {
                    return Err(self.invalid(Invalid::GreV0HdrTooBig));
                }
                if route {
                    // Source route entries: address family, offset, length; a
                    // zero family with zero length ends the list.
                    loop {
                        let (Some(af), Some(len)) = (be16(f, o + hl), byte(f, o + hl + 3)) else {
                            return Err(self.invalid(Invalid::GreV0MalformedSreHdr));
                        };
                        hl += 4;
                        if af == 0 && len == 0 {
                            break;
                        }
                        hl += usize::from(len);
                        if hl > left {
                            return Err(self.invalid(Invalid::GreV0MalformedSreHdr));
                        }
                    }
                }
            }
            1 => {
                // Enhanced GRE (PPTP).
                let bad = if csum {
                    Some(Invalid::GreV1Chksum)
                } else if route {
                    Some(Invalid::GreV1Route)
                } else if ssr {
                    Some(Invalid::GreV1Ssr)
                } else if recur {
                    Some(Invalid::GreV1Recur)
                } else if flags & 0x0078 != 0 {
                    Some(Invalid::GreV1Flags)
                } else if proto != 0x880b {
                    Some(Invalid::GreV1WrongProtocol)
                } else if !key {
                    Some(Invalid::GreV1NoKey)
                } else {
                    None
                };
                if let Some(r) = bad {
                    return Err(self.invalid(r));
                }
                hl += 4;
                if seq {
                    hl += 4;
                }
                if flags & 0x0080 != 0 {
                    hl += 4;
                }
                if hl > left {
                    return Err(self.invalid(Invalid::GreV1HdrTooBig));
                }
                // Payload length 0: an acknowledgement only.
                if be16(f, o + 4) == Some(0) {
                    return Ok(Next::Done(ip));
                }
            }
            _ => return Err(self.invalid(Invalid::GreWrongVersion)),
        }
        let q = o + hl;
        let (kind, next, at) = match proto {
            0x0800 => (TunnelKind::Gre, Step::Ipv4, q),
            0x86dd => (TunnelKind::Gre, Step::Ipv6, q),
            0x6558 => (TunnelKind::Gre, Step::Ether, q),
            0x880b => (TunnelKind::Gre, Step::Ppp, q),
            0x8847 | 0x8848 => (TunnelKind::Gre, Step::Mpls, q),
            0x8100 | 0x88a8 => (TunnelKind::Gre, Step::Type(proto), q),
            // Aruba WLAN: an AP tunnels its clients' 802.11 frames to the
            // controller (no FCS), as tshark's `gre.proto` table decodes them.
            0x8200..=0x8370 if proto & 0xf == 0 => (TunnelKind::Gre, Step::Wlan, q),
            0x88be => {
                self.s.inc(C::Erspan);
                if !seq {
                    // Type I: the mirrored frame follows the GRE header directly.
                    (TunnelKind::Erspan, Step::Ether, q)
                } else {
                    let Some(ver) = byte(f, q).map(|b| b >> 4) else {
                        return Err(self.invalid(Invalid::ErspanHeaderTooSmall));
                    };
                    if left < hl + 8 {
                        return Err(self.invalid(Invalid::ErspanHeaderTooSmall));
                    }
                    if ver != 1 {
                        return Err(self.invalid(Invalid::ErspanUnsupportedVersion));
                    }
                    (TunnelKind::Erspan, Step::Ether, q + 8)
                }
            }
            0x22eb => {
                // Type III: 12-byte header, then an optional 8-byte platform subheader.
                self.s.inc(C::Erspan);
                let (Some(b0), Some(b10), Some(b11)) =
                    (byte(f, q), byte(f, q + 10), byte(f, q + 11))
                else {
                    return Err(self.invalid(Invalid::ErspanHeaderTooSmall));
                };
                if b0 >> 4 != 2 {
                    return Err(self.invalid(Invalid::ErspanUnsupportedVersion));
                }
                let sub = if b11 & 1 != 0 { 8 } else { 0 };
                if left < hl + 12 + sub {
                    return Err(self.invalid(Invalid::ErspanHeaderTooSmall));
                }
                let next = match (b10 >> 2) & 0x1f {
                    0 => Step::Ether,
                    2 => Step::IpGuess,
                    _ => return Err(self.invalid(Invalid::ErspanUnknownFrameType)),
                };
                (TunnelKind::Erspan, next, q + 12 + sub)
            }
            // Something we cannot look into: the GRE packet is the innermost one.
            _ => return Ok(Next::Done(ip)),
        };
        self.enter(kind, &ip, sport, dport);
        self.off = at;
        Ok(Next::Step(next))
    }
}

/// The address a routing header is taking the packet to, when hops remain:
/// the flow's real endpoint (tshark's conversations use it too). Type 0
/// lists the hops in order, type 2 (Mobile IPv6) holds one address, type 4
/// (segment routing) lists them in reverse.
/// Returns the address's offset in the header.
fn final_destination(rh: &[u8]) -> Option<usize> {
    let (rtype, left) = (byte(rh, 2)?, byte(rh, 3)?);
    if left == 0 {
        return None;
    }
    let at = match rtype {
        0 => 8 + (rh.len().checked_sub(8)? / 16).checked_sub(1)? * 16,
        2 | 4 => 8,
        _ => return None,
    };
    rh.get(at..at + 16)?;
    Some(at)
}

/// Whether the bytes at `at` can start what `step` reads. False only when
/// they are there and clearly are not: a port alone does not make a tunnel
/// (a DNS client may pick 4754 or 4789 as its own port), so a UDP packet on
/// a tunnel port whose payload is not a tunnel stays a UDP packet.
fn plausible(f: &[u8], at: usize, step: Step) -> bool {
    let ip4 = |at: usize| byte(f, at).is_none_or(|b| b >> 4 == 4 && b & 0x0f >= 5);
    let ip6 = |at: usize| byte(f, at).is_none_or(|b| b >> 4 == 6);
    match step {
        Step::Ipv4 => ip4(at),
        Step::Ipv6 => ip6(at),
        Step::IpGuess => byte(f, at).is_none_or(|b| matches!(b >> 4, 4 | 6)),
        Step::Ether => {
            let mut t_at = at + 12;
            // Up to three VLAN tags before the payload type.
            for _ in 0..3 {
                match be16(f, t_at) {
                    Some(0x8100 | 0x88a8 | 0x9100) => t_at += 4,
                    _ => break,
                }
            }
            match be16(f, t_at) {
                None => true,
                Some(0x0800) => ip4(t_at + 2),
                Some(0x86dd) => ip6(t_at + 2),
                Some(t) => known_ethertype(t),
            }
        }
        Step::Mpls => {
            // Labels up to the bottom of the stack, then IP or a
            // pseudowire control word (first nibble 0) and Ethernet.
            let mut p = at;
            for _ in 0..8 {
                let Some(b2) = byte(f, p + 2) else {
                    return true;
                };
                p += 4;
                if b2 & 1 != 0 {
                    return match byte(f, p).map(|b| b >> 4) {
                        None => true,
                        Some(4) => ip4(p),
                        Some(6) => true,
                        Some(0) => plausible(f, p + 4, Step::Ether),
                        Some(_) => false,
                    };
                }
            }
            false
        }
        _ => true,
    }
}

/// A GRE header over UDP (4754) that [`Walk::gre`] would accept, with a
/// payload that looks like its protocol.
fn gre_plausible(f: &[u8], o: usize) -> bool {
    let (Some(flags), Some(proto)) = (be16(f, o), be16(f, o + 2)) else {
        return false;
    };
    // Version 0, no routing, no recursion, no reserved flags.
    if flags & 0x47ff != 0 {
        return false;
    }
    let hl = 4
        + 4 * usize::from(flags & 0x8000 != 0)
        + 4 * usize::from(flags & 0x2000 != 0)
        + 4 * usize::from(flags & 0x1000 != 0);
    let step = match proto {
        0x0800 => Step::Ipv4,
        0x86dd => Step::Ipv6,
        0x6558 => Step::Ether,
        0x8847 | 0x8848 => Step::Mpls,
        0x8100 | 0x88a8 | 0x880b | 0x88be | 0x22eb => return f.len() >= o + hl,
        0x8200..=0x8370 if proto & 0xf == 0 => return f.len() >= o + hl,
        _ => return false,
    };
    f.len() >= o + hl && plausible(f, o + hl, step)
}

/// EtherTypes that are not "unknown" even though they carry no IP packet.
fn known_ethertype(t: u16) -> bool {
    matches!(
        t,
        0x0800
            | 0x86dd
            | 0x0806
            | 0x8035
            | 0x8100
            | 0x88a8
            | 0x9100
            | 0x9200
            | 0x8847
            | 0x8848
            | 0x8863
            | 0x8864
            | 0x88e7
            | 0x8926
            | 0x893f
            | 0x8903
            | 0x6558
    )
}

/// Start of the IPv6 packet in a Teredo payload at `q`, if it looks like one:
/// optional authentication and origin indications, then an IPv6 header whose
/// length fits in the packet.
fn teredo(f: &[u8], q: usize) -> Option<usize> {
    let mut p = q;
    if be16(f, p)? == 0x0001 {
        let id_len = usize::from(byte(f, p + 2)?);
        let au_len = usize::from(byte(f, p + 3)?);
        // header, client id, authenticator, nonce, confirmation
        p += 4 + id_len + au_len + 8 + 1;
    }
    if be16(f, p)? == 0x0000 {
        p += 8;
    }
    let v = byte(f, p)?;
    if v >> 4 != 6 {
        return None;
    }
    let plen = usize::from(be16(f, p + 4)?);
    let nh = byte(f, p + 6)?;
    // The outer lengths may be stale after reassembly: bound by the frame.
    let room = f.len().saturating_sub(p);
    if room < 40 || 40 + plen > room || (plen == 0 && nh != P_NONE) {
        return None;
    }
    Some(p)
}
