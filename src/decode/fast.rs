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
use super::{pair_hash, Shard};
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

/// A frame of the common shape, as far as this path read it.
#[derive(Clone, Copy)]
pub(super) struct Plain<'f> {
    /// The IP header: 20 bytes (IPv4, no options) or 40 (IPv6).
    ip: &'f [u8],
    ip_off: usize,
    v6: bool,
    vlan: [u16; 3],
    tags: u8,
}

/// Recognises the common shape, or `None` when only the walk can tell.
#[inline(always)]
pub(super) fn plain(linktype: u16, frame: &[u8]) -> Option<Plain<'_>> {
    if linktype != ETHERNET {
        return None;
    }
    let mut ty = be16(frame, 12)?;
    let mut off = 14;
    let mut vlan = [0u16; 3];
    let mut tags = 0u8;
    while matches!(ty, 0x8100 | 0x88a8 | 0x9100 | 0x9200) {
        let slot = match tags {
            0 => &mut vlan[0],
            1 => &mut vlan[1],
            _ => return None,
        };
        let tag: [u8; 4] = frame.get(off..off + 4)?.try_into().ok()?;
        let [t0, t1, n0, n1] = tag;
        *slot = u16::from_be_bytes([t0, t1]) & 0x0fff;
        tags += 1;
        ty = u16::from_be_bytes([n0, n1]);
        off += 4;
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
                ip: h,
                ip_off: off,
                v6: false,
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
                    P_HOPOPT | P_ROUTING | P_DSTOPTS | P_MOBILITY | P_HIP | P_SHIM6 | P_AH | P_FRAGMENT
                )
                || may_tunnel(frame, nh, off + 40)
            {
                return None;
            }
            Some(Plain {
                ip: h,
                ip_off: off,
                v6: true,
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
        let vl = u64::from(self.vlan[0])
            | u64::from(self.vlan[1]) << 16
            | u64::from(self.tags) << 48;
        let word = |at: usize| -> u128 {
            let b: [u8; 16] = self
                .ip
                .get(at..at + 16)
                .and_then(|s| s.try_into().ok())
                .unwrap_or_default();
            u128::from_be_bytes(b)
        };
        let quad = |at: usize| -> u128 {
            let b: [u8; 4] = self
                .ip
                .get(at..at + 4)
                .and_then(|s| s.try_into().ok())
                .unwrap_or_default();
            u128::from(u32::from_be_bytes(b))
        };
        Shard::Hash(if self.v6 {
            pair_hash(word(8), word(24), 6, vl)
        } else {
            pair_hash(quad(12), quad(16), 4, vl)
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
        let field = |at: usize| {
            self.ip
                .get(at..at + 2)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u16::from_be_bytes)
        };
        let ip = if self.v6 {
            s.inc(C::Ipv6);
            let plen = usize::from(field(4));
            let nh = self.ip.get(6).copied().unwrap_or(0);
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
        } else {
            s.inc(C::Ipv4);
            let total = usize::from(field(2));
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
                proto: self.ip.get(9).copied().unwrap_or(0),
                ip_off: o,
                l4_off: o + 20,
                end: o + len,
                truncated,
                frag: None,
            }
        };
        Walked {
            ip,
            vlan: self.vlan,
            vlan_len: self.tags,
            tunnel: None,
            inner_invalid: None,
        }
    }
}
