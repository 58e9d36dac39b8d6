//! The flow key: both directions of a conversation map to the same key.

use super::community_id::icmp_ports;
use crate::decode::{Packet, L4};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv6Addr};

/// Which endpoint of the key sent a packet: the lower (address, port) or the higher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Lo,
    Hi,
}

/// An address as 16 bytes (IPv4 as IPv4-mapped IPv6): compared and hashed as
/// two words, with no per-family branching on the per-packet path.
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v) => u128::from(v.to_ipv6_mapped()),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// An address as two words (high, low): the key then aligns on 8 bytes,
/// not 16, and a table entry is 8 bytes smaller (so is each timer's key).
fn words(bits: u128) -> [u64; 2] {
    [(bits >> 64) as u64, bits as u64]
}

fn unwords([high, low]: [u64; 2]) -> u128 {
    u128::from(high) << 64 | u128::from(low)
}

fn addr(bits: u128, v6: bool) -> IpAddr {
    let a = Ipv6Addr::from(bits);
    match (v6, a.to_ipv4_mapped()) {
        (false, Some(v4)) => IpAddr::V4(v4),
        _ => IpAddr::V6(a),
    }
}

/// A normalised flow key: the lower (address, port) endpoint first.
/// For ICMP the "ports" are Community ID's type/counterpart pair, so an echo
/// request and its reply share a flow while unrelated messages do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    lo: [u64; 2],
    hi: [u64; 2],
    pub lo_port: u16,
    pub hi_port: u16,
    pub proto: u8,
    pub v6: bool,
    /// VLAN ids, outermost first; `vlan_len` of them are present (an id of 0
    /// is a priority tag, still a tag: the shard hash tells it from none).
    pub vlan_len: u8,
    pub vlan: [u16; 3],
    /// For a flow inside a tunnel, a hash of the tunnel's outer address pair
    /// (0 otherwise): the same inner 5-tuple in two tunnels (two ERSPAN
    /// mirrors, two VXLAN tenants) is two flows.
    pub tunnel: u64,
}

impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // A handful of words: the hasher's cost, not the key's layout, decides.
        h.write_u128(unwords(self.lo) ^ unwords(self.hi).rotate_left(64));
        h.write_u64(
            u64::from(self.lo_port)
                | u64::from(self.hi_port) << 16
                | u64::from(self.proto) << 32
                | u64::from(self.vlan_len) << 40,
        );
        h.write_u64(
            u64::from(self.vlan[0]) | u64::from(self.vlan[1]) << 16 | u64::from(self.vlan[2]) << 32,
        );
        h.write_u64(self.tunnel);
    }
}

impl FlowKey {
    pub fn lo(&self) -> IpAddr {
        addr(unwords(self.lo), self.v6)
    }

    pub fn hi(&self) -> IpAddr {
        addr(unwords(self.hi), self.v6)
    }

    /// The key of a packet, which side sent it, and for ICMP whether the
    /// message type is one-way (no reply type), as Community ID defines it.
    pub fn of(p: &Packet<'_>) -> (FlowKey, Side, bool) {
        let (sport, dport, one_way) = match p.l4 {
            L4::Icmp { icmp_type, code } => icmp_ports(p.proto, icmp_type, code),
            _ => (p.sport, p.dport, false),
        };
        let (s, d) = (bits(p.src), bits(p.dst));
        let side = if (s, sport) <= (d, dport) {
            Side::Lo
        } else {
            Side::Hi
        };
        let (lo, lo_port, hi, hi_port) = match side {
            Side::Lo => (s, sport, d, dport),
            Side::Hi => (d, dport, s, sport),
        };
        let key = FlowKey {
            lo: words(lo),
            hi: words(hi),
            lo_port,
            hi_port,
            proto: p.proto,
            v6: p.src.is_ipv6(),
            vlan_len: p.vlan_len,
            vlan: p.vlan,
            tunnel: p.tunnel.as_ref().map_or(0, tunnel_id),
        };
        (key, side, one_way)
    }
}

/// A symmetric, never-zero hash of a tunnel's outer addresses and kind.
fn tunnel_id(t: &crate::decode::Tunnel) -> u64 {
    let (a, b) = if t.src <= t.dst {
        (t.src, t.dst)
    } else {
        (t.dst, t.src)
    };
    let mut h = rustc_hash::FxHasher::default();
    (a, b, t.proto, t.kind as u8, t.vlan, t.vlan_len).hash(&mut h);
    h.finish() | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_the_key() {
        for ip in ["10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1", "::"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(addr(bits(ip), ip.is_ipv6()), ip);
        }
    }
}
