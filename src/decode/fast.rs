//! The common frame without the general header walk.
//!
//! Most frames are Ethernet, at most two VLAN tags, IPv4 without options or
//! IPv6 without extension headers, then a transport that cannot be a tunnel.
//! For those the headers sit at fixed offsets and the walk's answer is known
//! from a few bytes. Anything else (other link types, a third tag, options,
//! extension headers, fragments, IP in IP, GRE, MPLS, UDP on a port the walk
//! treats as a tunnel, short or odd headers) answers `None` and goes to the
//! walk. Where it answers, the answer must be the walk's, counters included:
//! `tests/fast_path.rs` checks that on every corpus packet and on mutants.

use super::stats::{Counter as C, Sink};
use super::walk::{
    Ip, Walked, P_AH, P_DSTOPTS, P_FRAGMENT, P_GRE, P_HIP, P_HOPOPT, P_IPIP, P_IPV6, P_MOBILITY,
    P_MPLS_IN_IP, P_NONE, P_ROUTING, P_SHIM6, P_UDP,
};
use super::{pair_hash, pair_hash_v4, Shard};
use crate::capture::linktype::ETHERNET;

#[inline(always)]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(s))
}

/// UDP ports on which the walk may find a tunnel (VXLAN, Geneve, MPLS, GRE,
/// Teredo, GTP-U, AYIYA), either side: a superset of what it checks.
#[inline(always)]
fn tunnel_port(p: u16) -> bool {
    matches!(p, 4789 | 8472 | 6081 | 6635 | 4754 | 3544 | 2152 | 5072)
}

/// Whether the walk would look past an IP header carrying `proto` whose
/// transport header starts at `l4` (then this path gives up).
#[inline(always)]
fn may_tunnel(frame: &[u8], proto: u8, l4: usize) -> bool {
    match proto {
        P_IPIP | P_IPV6 | P_GRE | P_MPLS_IN_IP => true,
        // Ports not captured: the walk ends at this UDP packet too.
        P_UDP => matches!(
            (be16(frame, l4), be16(frame, l4 + 2)),
            (Some(s), Some(d)) if tunnel_port(s) || tunnel_port(d)
        ),
        _ => false,
    }
}

/// The IP header of a frame of the common shape.
#[derive(Clone, Copy)]
enum Hdr<'f> {
    /// IPv4 without options.
    V4(&'f [u8; 20]),
    /// IPv6, no extension header.
    V6(&'f [u8; 40]),
}

/// A frame of the common shape, as far as this path read it.
#[derive(Clone, Copy)]
pub(super) struct Plain<'f> {
    ip: Hdr<'f>,
    ip_off: usize,
    /// VLAN ids, outermost first (at most two here).
    vlan: [u16; 2],
    tags: u8,
}

#[inline(always)]
fn is_vlan(ty: u16) -> bool {
    matches!(ty, 0x8100 | 0x88a8 | 0x9100 | 0x9200)
}

/// Recognises the common shape, or `None` when only the walk can tell.
#[inline(always)]
pub(super) fn plain(linktype: u16, frame: &[u8]) -> Option<Plain<'_>> {
    if linktype != ETHERNET {
        return None;
    }
    let mut ty = be16(frame, 12)?;
    let mut off = 14;
    let mut vlan = [0u16; 2];
    let mut tags = 0u8;
    if is_vlan(ty) {
        // Read as if two tags: a frame this short holds no IP header anyway.
        let tag: &[u8; 8] = frame.get(14..22)?.try_into().ok()?;
        vlan[0] = u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff;
        ty = u16::from_be_bytes([tag[2], tag[3]]);
        tags = 1;
        off = 18;
        if is_vlan(ty) {
            vlan[1] = u16::from_be_bytes([tag[4], tag[5]]) & 0x0fff;
            ty = u16::from_be_bytes([tag[6], tag[7]]);
            tags = 2;
            off = 22;
            if is_vlan(ty) {
                return None;
            }
        }
    }
    match ty {
        0x0800 => {
            let h: &[u8; 20] = frame.get(off..off + 20)?.try_into().ok()?;
            let total = u16::from_be_bytes([h[2], h[3]]);
            // No options; a length below the header is invalid (0 is offload).
            // A fragment (MF set or an offset) goes to reassembly.
            if h[0] != 0x45 || (total != 0 && total < 20) || h[6] & 0x3f != 0 || h[7] != 0 {
                return None;
            }
            if may_tunnel(frame, h[9], off + 20) {
                return None;
            }
            Some(Plain {
                ip: Hdr::V4(h),
                ip_off: off,
                vlan,
                tags,
            })
        }
        0x86dd => {
            let h: &[u8; 40] = frame.get(off..off + 40)?.try_into().ok()?;
            let nh = h[6];
            if h[0] >> 4 != 6
                || matches!(
                    nh,
                    P_HOPOPT
                        | P_ROUTING
                        | P_DSTOPTS
                        | P_MOBILITY
                        | P_HIP
                        | P_SHIM6
                        | P_AH
                        | P_FRAGMENT
                )
                || may_tunnel(frame, nh, off + 40)
            {
                return None;
            }
            Some(Plain {
                ip: Hdr::V6(h),
                ip_off: off,
                vlan,
                tags,
            })
        }
        _ => None,
    }
}

impl Plain<'_> {
    /// The shard hash, as `flow_hash` computes it from the walk.
    #[inline(always)]
    pub(super) fn shard(&self) -> Shard {
        let vl =
            u64::from(self.vlan[0]) | u64::from(self.vlan[1]) << 16 | u64::from(self.tags) << 48;
        Shard::Hash(match self.ip {
            Hdr::V4(h) => {
                let a = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
                let b = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
                pair_hash_v4(a, b, vl)
            }
            Hdr::V6(h) => {
                let mut a = [0u8; 16];
                let mut b = [0u8; 16];
                a.copy_from_slice(&h[8..24]);
                b.copy_from_slice(&h[24..40]);
                pair_hash(u128::from_be_bytes(a), u128::from_be_bytes(b), 6, vl)
            }
        })
    }

    /// What the walk returns for this frame, counting what it counts.
    #[inline(always)]
    pub(super) fn walked<S: Sink>(&self, frame_len: usize, s: &mut S) -> Walked {
        s.inc(C::Ethernet);
        if self.tags > 0 {
            s.inc(C::Vlan);
            if self.tags > 1 {
                s.inc(C::VlanQinq);
            }
        }
        let o = self.ip_off;
        let avail = frame_len.saturating_sub(o);
        let ip = match self.ip {
            Hdr::V6(h) => {
                s.inc(C::Ipv6);
                let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
                let nh = h[6];
                let avail = avail.saturating_sub(40);
                let (len, truncated) = if plen == 0 && nh != P_NONE {
                    s.inc(C::Ipv6ZeroPayloadLength);
                    (avail, false)
                } else if plen > avail {
                    s.inc(C::Ipv6TruncPkt);
                    (avail, true)
                } else {
                    (plen, false)
                };
                if nh == P_NONE && len > 0 {
                    s.inc(C::Ipv6DataAfterNoneHeader);
                }
                Ip {
                    version: 6,
                    src: o + 8,
                    dst: o + 24,
                    proto: nh,
                    ip_off: o,
                    l4_off: o + 40,
                    end: o + 40 + len,
                    truncated,
                    frag: None,
                }
            }
            Hdr::V4(h) => {
                s.inc(C::Ipv4);
                let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
                let (len, truncated) = if total == 0 {
                    s.inc(C::Ipv4TsoZeroLength);
                    (avail, false)
                } else if total > avail {
                    s.inc(C::Ipv4TruncPkt);
                    (avail, true)
                } else {
                    (total, false)
                };
                Ip {
                    version: 4,
                    src: o + 12,
                    dst: o + 16,
                    proto: h[9],
                    ip_off: o,
                    l4_off: o + 20,
                    end: o + len,
                    truncated,
                    frag: None,
                }
            }
        };
        Walked {
            ip,
            vlan: [self.vlan[0], self.vlan[1], 0],
            vlan_len: self.tags,
            tunnel: None,
            inner_invalid: None,
        }
    }
}
