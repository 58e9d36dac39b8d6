//! The flow key: both directions of a conversation map to the same key.

use super::community_id::icmp_ports;
use crate::decode::{Packet, L4};
use std::net::IpAddr;

/// Which endpoint of the key sent a packet: the lower (address, port) or the higher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Lo,
    Hi,
}

/// A normalised flow key: the lower (address, port) endpoint first.
/// For ICMP the "ports" are Community ID's type/counterpart pair, so an echo
/// request and its reply share a flow while unrelated messages do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: IpAddr,
    pub hi: IpAddr,
    pub lo_port: u16,
    pub hi_port: u16,
    pub proto: u8,
    /// VLAN ids, outermost first; `vlan_len` of them are present (an id of 0
    /// is a priority tag, still a tag: the shard hash tells it from none).
    pub vlan: [u16; 3],
    pub vlan_len: u8,
    /// For a flow inside a tunnel, a hash of the tunnel's outer address pair
    /// (0 otherwise): the same inner 5-tuple in two tunnels (two ERSPAN
    /// mirrors, two VXLAN tenants) is two flows.
    pub tunnel: u64,
}

impl FlowKey {
    /// The key of a packet, which side sent it, and for ICMP whether the
    /// message type is one-way (no reply type), as Community ID defines it.
    pub fn of(p: &Packet<'_>) -> (FlowKey, Side, bool) {
        let (sport, dport, one_way) = match p.l4 {
            L4::Icmp { icmp_type, code } => icmp_ports(p.proto, icmp_type, code),
            _ => (p.sport, p.dport, false),
        };
        let (vlan, vlan_len) = (p.vlan, p.vlan_len);
        let tunnel = p.tunnel.as_ref().map_or(0, tunnel_id);
        if (p.src, sport) <= (p.dst, dport) {
            (
                FlowKey {
                    lo: p.src,
                    hi: p.dst,
                    lo_port: sport,
                    hi_port: dport,
                    proto: p.proto,
                    vlan,
                    vlan_len,
                    tunnel,
                },
                Side::Lo,
                one_way,
            )
        } else {
            (
                FlowKey {
                    lo: p.dst,
                    hi: p.src,
                    lo_port: dport,
                    hi_port: sport,
                    proto: p.proto,
                    vlan,
                    vlan_len,
                    tunnel,
                },
                Side::Hi,
                one_way,
            )
        }
    }
}

/// A symmetric, never-zero hash of a tunnel's outer addresses and kind.
fn tunnel_id(t: &crate::decode::Tunnel) -> u64 {
    use std::hash::{Hash, Hasher};
    let (a, b) = if t.src <= t.dst {
        (t.src, t.dst)
    } else {
        (t.dst, t.src)
    };
    let mut h = rustc_hash::FxHasher::default();
    (a, b, t.proto, t.kind as u8, t.vlan, t.vlan_len).hash(&mut h);
    h.finish() | 1
}
