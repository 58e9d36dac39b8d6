//! Decode stage (TEMPORARY minimal version until the decode branch lands).
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
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
    Vxlan,
    Geneve,
    Gre,
    Erspan,
    IpInIp,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub kind: TunnelKind,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub depth: u8,
}
#[derive(Clone, Debug)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub ip_version: u8,
    pub vlan: [u16; 3],
    pub vlan_len: u8,
    pub l4: L4,
    pub payload: &'a [u8],
    pub tunnel: Option<Tunnel>,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    Malformed,
}
pub enum Decoded<'a> {
    Packet(Packet<'a>),
    NotIp,
    Fragment,
    Invalid(Invalid),
    UnsupportedLink(u16),
}
#[derive(Clone, Debug, Default)]
pub struct DecodeStats {
    pub invalid: u64,
}
impl DecodeStats {
    pub fn merge(&mut self, o: &DecodeStats) {
        self.invalid += o.invalid;
    }
    pub fn invalid_total(&self) -> u64 {
        self.invalid
    }
    pub fn to_eve(&self) -> (serde_json::Value, serde_json::Value) {
        (
            serde_json::json!({"invalid": self.invalid}),
            serde_json::json!({}),
        )
    }
}
pub enum Shard {
    Hash(u32),
    Fragment,
    Other,
}
pub fn shard(linktype: u16, frame: &[u8]) -> Shard {
    let mut st = DecodeStats::default();
    match decode(linktype, frame, &mut st) {
        Decoded::Packet(p) => {
            let (a, b) = if p.src <= p.dst {
                (p.src, p.dst)
            } else {
                (p.dst, p.src)
            };
            use std::hash::{Hash, Hasher};
            let mut h = rustc_hash::FxHasher::default();
            a.hash(&mut h);
            b.hash(&mut h);
            Shard::Hash(h.finish() as u32)
        }
        Decoded::Fragment => Shard::Fragment,
        _ => Shard::Other,
    }
}
#[derive(Default)]
pub struct DefragLimits;
pub struct Defragmenter;
impl Defragmenter {
    pub fn new(_l: DefragLimits) -> Self {
        Defragmenter
    }
    pub fn push(&mut self, _lt: u16, _f: &[u8], _ts: u64, _s: &mut DecodeStats) -> Option<Vec<u8>> {
        None
    }
    pub fn expire(&mut self, _now: u64, _s: &mut DecodeStats) {}
}
pub fn decode<'a>(linktype: u16, frame: &'a [u8], stats: &mut DecodeStats) -> Decoded<'a> {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let sl = match linktype {
        1 => SlicedPacket::from_ethernet(frame),
        101 | 228 | 229 | 12 | 14 => SlicedPacket::from_ip(frame),
        113 => SlicedPacket::from_linux_sll(frame),
        0 | 108 => match frame.get(4..) {
            Some(f) => SlicedPacket::from_ip(f),
            None => {
                stats.invalid += 1;
                return Decoded::Invalid(Invalid::Malformed);
            }
        },
        lt => return Decoded::UnsupportedLink(lt),
    };
    let Ok(sl) = sl else {
        stats.invalid += 1;
        return Decoded::Invalid(Invalid::Malformed);
    };
    let mut vlan = [0u16; 3];
    let mut vlan_len = 0u8;
    for e in sl.link_exts.iter() {
        if let etherparse::LinkExtSlice::Vlan(v) = e {
            if let Some(slot) = vlan.get_mut(vlan_len as usize) {
                *slot = v.vlan_identifier().value();
                vlan_len += 1;
            }
        }
    }
    let (src, dst, ver, frag) = match &sl.net {
        Some(NetSlice::Ipv4(v)) => (
            IpAddr::V4(v.header().source_addr()),
            IpAddr::V4(v.header().destination_addr()),
            4,
            v.is_payload_fragmented(),
        ),
        Some(NetSlice::Ipv6(v)) => (
            IpAddr::V6(v.header().source_addr()),
            IpAddr::V6(v.header().destination_addr()),
            6,
            v.is_payload_fragmented(),
        ),
        _ => return Decoded::NotIp,
    };
    if frag {
        return Decoded::Fragment;
    }
    let proto = match &sl.net {
        Some(n) => n.ip_payload_ref().map(|p| p.ip_number.0).unwrap_or(0),
        None => 0,
    };
    let (sport, dport, l4, payload) = match &sl.transport {
        Some(TransportSlice::Tcp(t)) => {
            let flags = (t.fin() as u8)
                | (t.syn() as u8) << 1
                | (t.rst() as u8) << 2
                | (t.psh() as u8) << 3
                | (t.ack() as u8) << 4
                | (t.urg() as u8) << 5
                | (t.ece() as u8) << 6
                | (t.cwr() as u8) << 7;
            (
                t.source_port(),
                t.destination_port(),
                L4::Tcp(TcpInfo {
                    flags,
                    seq: t.sequence_number(),
                    ack: t.acknowledgment_number(),
                    window: t.window_size(),
                }),
                t.payload(),
            )
        }
        Some(TransportSlice::Udp(u)) => {
            (u.source_port(), u.destination_port(), L4::Udp, u.payload())
        }
        Some(TransportSlice::Icmpv4(i)) => (
            0,
            0,
            L4::Icmp {
                icmp_type: i.type_u8(),
                code: i.code_u8(),
            },
            i.payload(),
        ),
        Some(TransportSlice::Icmpv6(i)) => (
            0,
            0,
            L4::Icmp {
                icmp_type: i.type_u8(),
                code: i.code_u8(),
            },
            i.payload(),
        ),
        _ => (0, 0, L4::Other, &[][..]),
    };
    Decoded::Packet(Packet {
        src,
        dst,
        sport,
        dport,
        proto,
        ip_version: ver,
        vlan,
        vlan_len,
        l4,
        payload,
        tunnel: None,
    })
}
