//! Which datagram an IP fragment belongs to, so that a reassembled
//! datagram's evidence can be written as the fragment frames that carried it.
//!
//! The engine's [`Defragmenter`](crate::decode::Defragmenter) returns a
//! rebuilt frame; the wire frames are gone by then. This module keys each
//! fragment frame by its datagram identity (addresses, IP id, protocol, link
//! type and VLAN tags) so the evidence pass can hold them until the
//! datagram completes. It reads only the common link layers (Ethernet with
//! 802.1Q/802.1ad tags, raw IP, BSD loopback, Linux cooked v1/v2); fragments
//! inside tunnels, MPLS or PPPoE get no key and are counted instead.

use crate::capture::linktype as lt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The identity of the datagram a fragment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// IPv4 protocol; 0 for IPv6 (the identification covers the pair).
    pub proto: u8,
    pub linktype: u16,
    pub vlan: [u16; 3],
    pub vlan_len: u8,
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86DD;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The key of `frame` if it is an IPv4 or IPv6 fragment this module can read.
pub fn key(linktype: u16, frame: &[u8]) -> Option<FragKey> {
    let mut vlan = [0u16; 3];
    let mut vlan_len = 0u8;
    let ip_at = match linktype {
        lt::ETHERNET => {
            let mut at = 12;
            let mut ethertype = be16(frame, at)?;
            // 802.1Q, 802.1ad and the old QinQ type; deeper stacks are not ours.
            while matches!(ethertype, 0x8100 | 0x88A8 | 0x9100) {
                let tci = be16(frame, at + 2)?;
                let slot = vlan.get_mut(usize::from(vlan_len))?;
                *slot = tci & 0x0FFF;
                vlan_len += 1;
                at += 4;
                ethertype = be16(frame, at)?;
            }
            if !matches!(ethertype, ETH_IPV4 | ETH_IPV6) {
                return None;
            }
            at + 2
        }
        lt::RAW | lt::RAW_DLT12 | lt::RAW_DLT14 | lt::IPV4 | lt::IPV6 => 0,
        lt::NULL | lt::LOOP => 4,
        lt::LINUX_SLL => 16,
        lt::LINUX_SLL2 => 20,
        _ => return None,
    };
    let ip = frame.get(ip_at..)?;
    let (src, dst, id, proto) = match ip.first()? >> 4 {
        4 => ipv4(ip)?,
        6 => ipv6(ip)?,
        _ => return None,
    };
    Some(FragKey {
        src,
        dst,
        id,
        proto,
        linktype,
        vlan,
        vlan_len,
    })
}

fn ipv4(ip: &[u8]) -> Option<(IpAddr, IpAddr, u32, u8)> {
    let flags_off = be16(ip, 6)?;
    let more = flags_off & 0x2000 != 0;
    let offset = flags_off & 0x1FFF;
    if !more && offset == 0 {
        return None;
    }
    let a: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
    let b: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
    Some((
        IpAddr::V4(Ipv4Addr::from(a)),
        IpAddr::V4(Ipv4Addr::from(b)),
        u32::from(be16(ip, 4)?),
        *ip.get(9)?,
    ))
}

/// Walks the extension headers before a Fragment header (hop-by-hop,
/// routing, destination options), as far as the captured bytes go.
fn ipv6(ip: &[u8]) -> Option<(IpAddr, IpAddr, u32, u8)> {
    let a: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
    let b: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
    let mut next = *ip.get(6)?;
    let mut at = 40usize;
    // A bounded walk: a chain of options headers cannot loop us.
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                let len = (usize::from(*ip.get(at + 1)?) + 1) * 8;
                next = *ip.get(at)?;
                at = at.checked_add(len)?;
            }
            44 => {
                let id: [u8; 4] = ip.get(at + 4..at + 8)?.try_into().ok()?;
                return Some((
                    IpAddr::V6(Ipv6Addr::from(a)),
                    IpAddr::V6(Ipv6Addr::from(b)),
                    u32::from_be_bytes(id),
                    0,
                ));
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_header(id: u16, flags_off: u16, proto: u8) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 40];
        h.extend_from_slice(&id.to_be_bytes());
        h.extend_from_slice(&flags_off.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0, 10, 1, 0, 53, 10, 1, 20, 21]);
        h
    }

    fn ether(tags: &[(u16, u16)], ethertype: u16, ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for &(tpid, id) in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(ip);
        f
    }

    #[test]
    fn ipv4_fragments_in_qinq_share_a_key() {
        let first = ether(
            &[(0x88A8, 100), (0x8100, 20)],
            0x0800,
            &ipv4_header(0x20b5, 0x2000, 17),
        );
        let last = ether(
            &[(0x88A8, 100), (0x8100, 20)],
            0x0800,
            &ipv4_header(0x20b5, 185, 17),
        );
        let k = key(lt::ETHERNET, &first).unwrap();
        assert_eq!(key(lt::ETHERNET, &last), Some(k));
        assert_eq!(k.id, 0x20b5);
        assert_eq!(k.proto, 17);
        assert_eq!((k.vlan, k.vlan_len), ([100, 20, 0], 2));
        assert_eq!(k.src, "10.1.0.53".parse::<IpAddr>().unwrap());
        // Another VLAN is another datagram.
        let other = ether(&[(0x8100, 21)], 0x0800, &ipv4_header(0x20b5, 185, 17));
        assert_ne!(key(lt::ETHERNET, &other), Some(k));
    }

    #[test]
    fn whole_datagrams_and_other_frames_have_no_key() {
        assert_eq!(
            key(
                lt::ETHERNET,
                &ether(&[], 0x0800, &ipv4_header(1, 0x4000, 6))
            ),
            None
        );
        assert_eq!(key(lt::ETHERNET, &ether(&[], 0x0806, &[0; 28])), None);
        assert_eq!(key(lt::RAW, &ipv4_header(1, 0, 6)), None);
        // Truncated anywhere: no key, no panic.
        let f = ether(&[(0x8100, 5)], 0x0800, &ipv4_header(7, 0x2000, 6));
        for n in 0..f.len() {
            let k = key(lt::ETHERNET, &f[..n]);
            assert!(k.is_none() || n >= 14 + 4 + 20, "{n}");
        }
        // Four tags: more than the key holds.
        let deep = ether(&[(0x8100, 1); 4], 0x0800, &ipv4_header(7, 0x2000, 6));
        assert_eq!(key(lt::ETHERNET, &deep), None);
        assert_eq!(key(9999, &f), None);
    }

    #[test]
    fn ipv6_fragment_header_after_options() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 24, 0, 64];
        ip.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        ip.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        // Hop-by-hop (8 bytes) then Fragment (id 0xdeadbeef).
        ip.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        ip.extend_from_slice(&[17, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
        let k = key(lt::RAW, &ip).unwrap();
        assert_eq!((k.id, k.proto), (0xdead_beef, 0));
        assert_eq!(k.dst, "2001:db8::2".parse::<IpAddr>().unwrap());
        let sll2 = [vec![0u8; 20], ip.clone()].concat();
        assert_eq!(key(lt::LINUX_SLL2, &sll2).map(|k| k.id), Some(0xdead_beef));
        // A chain of options headers that never ends is cut off.
        let mut looped = ip[..40].to_vec();
        looped[6] = 60;
        for _ in 0..10 {
            looped.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
        }
        assert_eq!(key(lt::RAW, &looped), None);
    }
}
