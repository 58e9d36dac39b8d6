//! Bounded IPv4/IPv6 reassembly, written here rather than taken from
//! etherparse: its `IpDefragPool` has no bound on datagrams in progress or on
//! memory, slices with `SlicedPacket` (so it cannot see inside our tunnels or
//! MPLS) and expires by rebuilding its map; its `IpDefragBuf` rejects what
//! real stacks and tshark accept (a non-final fragment whose length is not a
//! multiple of 8, a fragment running past the datagram's end) and grows its
//! buffer over uninitialised memory. This pool bounds datagrams, fragments,
//! bytes per datagram and bytes in total, times datagrams out on packet time,
//! and counts everything it drops, under Suricata's defrag names where they
//! exist.
//!
//! Overlaps: the first data received wins (later bytes only fill holes);
//! an overlap whose bytes differ is counted as `frag_overlap`. Data beyond
//! the end set by the last fragment is cut off.
//!
//! A completed datagram comes back as a whole new frame: the first fragment's
//! bytes up to its fragmentable part (link, VLAN and tunnel headers, the IP
//! header and, for IPv6, the extension headers before the fragment header),
//! with the IP header rewritten as unfragmented, followed by the data.

use super::stats::{Counter as C, DecodeStats};
use super::walk::{walk, FragInfo, Stop, Walked};
use crate::base::budget::{self, Use};
use std::collections::HashMap;
use std::net::IpAddr;

/// Bounds of a [`Defragmenter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragLimits {
    /// Datagrams in progress at once; fragments of further datagrams are dropped.
    pub max_datagrams: usize,
    /// Largest reassembled IP payload in bytes (at most 65535).
    pub max_bytes: usize,
    /// Fragments accepted per datagram.
    pub max_fragments: u32,
    /// Bytes held by all datagrams in progress.
    pub max_total_bytes: usize,
    /// A datagram not complete this long (packet time) after its first
    /// fragment is dropped.
    pub timeout_ns: u64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 4096,
            max_bytes: 65_535,
            max_fragments: 256,
            max_total_bytes: 64 << 20,
            // Suricata's default defrag timeout.
            timeout_ns: 60_000_000_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    /// IPv4 protocol (part of the IPv4 datagram identity); 0 for IPv6.
    proto: u8,
    vlan: [u16; 3],
    /// Outer endpoints of the tunnel around the fragments, if any.
    outer: Option<(IpAddr, IpAddr)>,
}

/// One datagram's data: bytes, the ranges filled (sorted, disjoint, merged
/// when they touch) and the end once the last fragment has been seen.
#[derive(Debug, Default)]
struct Datagram {
    data: Vec<u8>,
    ranges: Vec<(usize, usize)>,
    end: Option<usize>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Added {
    /// Some bytes were already there, and differ.
    conflict: bool,
    /// Bytes past the datagram's end were cut off.
    clipped: bool,
}

/// A last fragment disagreeing with an earlier last fragment on the end.
#[derive(Debug, PartialEq, Eq)]
struct ConflictingEnd;

impl Datagram {
    fn with_buffer(mut data: Vec<u8>) -> Self {
        data.clear();
        Datagram {
            data,
            ranges: Vec::new(),
            end: None,
        }
    }

    fn add(&mut self, start: usize, more: bool, payload: &[u8]) -> Result<Added, ConflictingEnd> {
        let mut added = Added::default();
        let mut stop = start + payload.len();
        match self.end {
            Some(e) => {
                if !more && stop != e {
                    return Err(ConflictingEnd);
                }
                if stop > e {
                    stop = e;
                    added.clipped = true;
                }
                if start >= stop {
                    return Ok(added);
                }
            }
            None if !more => {
                // The end is known now: drop what earlier fragments put past it.
                if self.ranges.iter().any(|r| r.1 > stop) {
                    added.clipped = true;
                    self.ranges.retain_mut(|r| {
                        r.1 = r.1.min(stop);
                        r.0 < r.1
                    });
                    self.data.truncate(stop);
                }
                self.end = Some(stop);
            }
            None => {}
        }
        let payload = payload.get(..stop - start).unwrap_or_default();
        if self.data.len() < stop {
            self.data.resize(stop, 0);
        }
        // Fill the holes in [start, stop); compare what overlaps.
        let mut pos = start;
        for &(a, b) in &self.ranges {
            if b <= pos {
                continue;
            }
            if a >= stop {
                break;
            }
            if a > pos {
                fill(&mut self.data, pos, payload.get(pos - start..a - start));
            }
            let (oa, ob) = (a.max(pos), b.min(stop));
            if self.data.get(oa..ob) != payload.get(oa - start..ob - start) {
                added.conflict = true;
            }
            pos = ob;
        }
        if pos < stop {
            fill(&mut self.data, pos, payload.get(pos - start..));
        }
        // Insert the range and merge neighbours that touch.
        self.ranges.push((start, stop));
        self.ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(self.ranges.len());
        for &(a, b) in &self.ranges {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.ranges = merged;
        Ok(added)
    }

    fn is_complete(&self) -> bool {
        self.end
            .is_some_and(|e| e > 0 && self.ranges.as_slice() == [(0, e)])
    }
}

fn fill(data: &mut [u8], at: usize, src: Option<&[u8]>) {
    if let Some(src) = src {
        if let Some(dst) = data.get_mut(at..at + src.len()) {
            dst.copy_from_slice(src);
        }
    }
}

struct Tracker {
    buf: Datagram,
    /// The first fragment's frame up to its fragmentable part (empty until seen).
    prefix: Vec<u8>,
    ip_off: usize,
    /// IPv6: prefix offset of the next-header byte that named the fragment header.
    nh_field: usize,
    /// Protocol of the fragmentable part (IPv6: the fragment header's next header).
    next_proto: u8,
    version: u8,
    first_ts: u64,
    frags: u32,
    /// Sum of the accepted fragments' frame lengths.
    wire: u64,
    /// Bytes charged to `Defragmenter::mem`.
    mem: usize,
}

/// Spare data buffers kept for reuse.
const POOL: usize = 16;

/// Reassembles IP fragments (see the module documentation).
pub struct Defragmenter {
    limits: DefragLimits,
    map: HashMap<Key, Tracker>,
    mem: usize,
    /// `mem` as last counted by the global memory budget.
    accounted: usize,
    spare: Vec<Vec<u8>>,
    /// Packet time of the next opportunistic expiry sweep.
    next_sweep: u64,
    /// Fragments and their frame bytes in the datagram `push` last returned.
    last: (u32, u64),
}

impl Defragmenter {
    pub fn new(limits: DefragLimits) -> Self {
        let max_bytes = limits.max_bytes.min(65_535);
        Defragmenter {
            limits: DefragLimits {
                max_bytes,
                ..limits
            },
            map: HashMap::new(),
            mem: 0,
            accounted: 0,
            spare: Vec::new(),
            next_sweep: 0,
            last: (0, 0),
        }
    }

    /// Datagrams in progress.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How many fragments, and how many frame bytes, made up the datagram the
    /// last `push` returned (flows count the packets as they were on the wire).
    pub fn last_fragments(&self) -> (u32, u64) {
        self.last
    }

    /// Takes one fragment (a frame for which `decode` says `Fragment`). Counts
    /// the frame's layers like `decode` would, so give a fragment to one of the
    /// two only. Returns the whole frame once the datagram is complete.
    pub fn push(
        &mut self,
        linktype: u16,
        frame: &[u8],
        ts_ns: u64,
        stats: &mut DecodeStats,
    ) -> Option<Vec<u8>> {
        let out = self.push_fragment(linktype, frame, ts_ns, stats);
        // The fragments held count against the global memory budget.
        budget::global().adjust(self.accounted as u64, self.mem as u64);
        self.accounted = self.mem;
        out
    }

    fn push_fragment(
        &mut self,
        linktype: u16,
        frame: &[u8],
        ts_ns: u64,
        stats: &mut DecodeStats,
    ) -> Option<Vec<u8>> {
        let w = match walk(linktype, frame, stats) {
            Ok(w) => w,
            Err(Stop::Unsupported(lt)) => {
                stats.count_unsupported_link(lt, 1);
                return None;
            }
            Err(_) => return None,
        };
        let Some(fi) = w.ip.frag else {
            stats.inc(C::DefragNotAFragment);
            return None;
        };
        let v6 = w.ip.version == 6;
        stats.inc(if v6 {
            C::DefragIpv6Fragments
        } else {
            C::DefragIpv4Fragments
        });
        if ts_ns >= self.next_sweep {
            self.expire(ts_ns, stats);
            self.next_sweep = ts_ns.saturating_add(self.limits.timeout_ns / 4);
        }
        let data = frame.get(w.ip.l4_off..w.ip.end).unwrap_or_default();
        if w.ip.truncated {
            // Cut by the snap length: the datagram could only be rebuilt with a hole.
            self.drop_fragment(stats, data.len());
            stats.inc(if v6 {
                C::Ipv6FragIgnored
            } else {
                C::Ipv4FragIgnored
            });
            return None;
        }
        let key = Key {
            src: w.ip.src_addr(frame),
            dst: w.ip.dst_addr(frame),
            id: fi.id,
            proto: if v6 { 0 } else { w.ip.proto },
            vlan: w.vlan,
            outer: w.tunnel.map(|t| t.outer_addrs(frame)),
        };
        let too_large = if v6 {
            C::Ipv6FragPktTooLarge
        } else {
            C::Ipv4FragPktTooLarge
        };
        let end = usize::from(fi.offset) + data.len();
        if end > self.limits.max_bytes {
            stats.inc(too_large);
            self.drop_fragment(stats, data.len());
            self.remove(&key, stats);
            return None;
        }
        if !self.map.contains_key(&key) {
            if self.map.len() >= self.limits.max_datagrams {
                stats.inc(C::DefragMaxTrackersReached);
                self.drop_fragment(stats, data.len());
                return None;
            }
            let buf = Datagram::with_buffer(self.spare.pop().unwrap_or_default());
            self.map.insert(
                key,
                Tracker {
                    buf,
                    prefix: Vec::new(),
                    ip_off: 0,
                    nh_field: 0,
                    next_proto: w.ip.proto,
                    version: w.ip.version,
                    first_ts: ts_ns,
                    frags: 0,
                    wire: 0,
                    mem: 0,
                },
            );
        }
        let verdict = self.add(&key, &w, &fi, frame, data, stats);
        match verdict {
            Verdict::Keep => None,
            Verdict::DropFragment => {
                self.drop_fragment(stats, data.len());
                // A datagram whose only fragment was refused holds nothing.
                if self.map.get(&key).is_some_and(|t| t.frags == 0) {
                    self.remove(&key, stats);
                }
                None
            }
            Verdict::DropDatagram(c) => {
                stats.inc(c);
                self.drop_fragment(stats, data.len());
                self.remove(&key, stats);
                None
            }
            Verdict::Complete => {
                let t = self.map.remove(&key)?;
                self.mem = self.mem.saturating_sub(t.mem);
                self.last = (t.frags, t.wire);
                let out = rebuild(&t);
                self.recycle(t);
                match out {
                    Some(f) => {
                        stats.inc(if v6 {
                            C::DefragIpv6Reassembled
                        } else {
                            C::DefragIpv4Reassembled
                        });
                        Some(f)
                    }
                    None => {
                        stats.inc(too_large);
                        None
                    }
                }
            }
        }
    }

    fn add(
        &mut self,
        key: &Key,
        w: &Walked,
        fi: &FragInfo,
        frame: &[u8],
        data: &[u8],
        stats: &mut DecodeStats,
    ) -> Verdict {
        let limits = self.limits;
        let mem_total = self.mem;
        let Some(t) = self.map.get_mut(key) else {
            return Verdict::DropFragment;
        };
        let v6 = t.version == 6;
        if t.frags >= limits.max_fragments {
            return Verdict::DropDatagram(C::DefragMaxFragsReached);
        }
        let start = usize::from(fi.offset);
        let end = start + data.len();
        let prefix_len = if v6 { fi.frag_hdr } else { w.ip.l4_off };
        let new_mem = end.max(t.buf.data.len())
            + if start == 0 {
                prefix_len
            } else {
                t.prefix.len()
            };
        if mem_total - t.mem + new_mem > limits.max_total_bytes {
            return Verdict::DropDatagram(C::DefragMemcap);
        }
        if new_mem > t.mem {
            let b = budget::global();
            let grow = (new_mem - t.mem) as u64;
            if !b.allows(Use::Fragments, grow) {
                b.refused(Use::Fragments, grow);
                return Verdict::DropDatagram(C::DefragMemcap);
            }
        }
        if fi.more && data.len() % 8 != 0 {
            // Real stacks never send this; tshark and Zeek still reassemble.
            stats.inc(if v6 {
                C::Ipv6FragInvalidLength
            } else {
                C::DefragUnalignedLength
            });
        }
        match t.buf.add(start, fi.more, data) {
            Ok(added) => {
                if added.conflict {
                    stats.inc(if v6 {
                        C::Ipv6FragOverlap
                    } else {
                        C::Ipv4FragOverlap
                    });
                }
                if added.clipped {
                    stats.inc(C::DefragBeyondEnd);
                }
            }
            Err(ConflictingEnd) => {
                stats.inc(C::DefragConflictingEnd);
                return Verdict::DropFragment;
            }
        }
        t.frags += 1;
        t.wire += frame.len() as u64;
        if start == 0 {
            t.prefix.clear();
            t.prefix
                .extend_from_slice(frame.get(..prefix_len).unwrap_or_default());
            t.ip_off = w.ip.ip_off;
            t.nh_field = fi.nh_field;
            t.next_proto = w.ip.proto;
        }
        let mem = t.buf.data.len() + t.prefix.len();
        self.mem = self.mem - t.mem + mem;
        t.mem = mem;
        if t.buf.is_complete() && !t.prefix.is_empty() {
            Verdict::Complete
        } else {
            Verdict::Keep
        }
    }

    fn drop_fragment(&mut self, stats: &mut DecodeStats, bytes: usize) {
        stats.inc(C::DefragDroppedFragments);
        stats.add(C::DefragDroppedBytes, bytes as u64);
    }

    /// Drops a datagram in progress, counting its fragments.
    fn remove(&mut self, key: &Key, stats: &mut DecodeStats) {
        if let Some(t) = self.map.remove(key) {
            stats.add(C::DefragDroppedFragments, u64::from(t.frags));
            stats.add(C::DefragDroppedBytes, t.buf.data.len() as u64);
            self.mem = self.mem.saturating_sub(t.mem);
            self.recycle(t);
        }
    }

    fn recycle(&mut self, t: Tracker) {
        if self.spare.len() < POOL {
            let mut data = t.buf.data;
            data.clear();
            self.spare.push(data);
        }
    }

    /// Drops datagrams whose first fragment is older than the timeout at
    /// packet time `now_ns`, counting them as timeouts.
    pub fn expire(&mut self, now_ns: u64, stats: &mut DecodeStats) {
        let timeout = self.limits.timeout_ns;
        let mut freed = 0usize;
        let spare = &mut self.spare;
        self.map.retain(|_, t| {
            if now_ns.saturating_sub(t.first_ts) <= timeout {
                return true;
            }
            stats.inc(if t.version == 6 {
                C::DefragIpv6Timeouts
            } else {
                C::DefragIpv4Timeouts
            });
            stats.add(C::DefragDroppedFragments, u64::from(t.frags));
            stats.add(C::DefragDroppedBytes, t.buf.data.len() as u64);
            freed += t.mem;
            if spare.len() < POOL {
                let mut data = std::mem::take(&mut t.buf.data);
                data.clear();
                spare.push(data);
            }
            false
        });
        self.mem = self.mem.saturating_sub(freed);
    }
}

impl Drop for Defragmenter {
    fn drop(&mut self) {
        budget::global().give(self.accounted as u64);
    }
}

enum Verdict {
    Keep,
    DropFragment,
    DropDatagram(C),
    Complete,
}

/// The whole frame of a complete datagram, or None if it exceeds 64 KiB.
fn rebuild(t: &Tracker) -> Option<Vec<u8>> {
    let data = &t.buf.data;
    let mut out = Vec::with_capacity(t.prefix.len() + data.len());
    out.extend_from_slice(&t.prefix);
    out.extend_from_slice(data);
    let o = t.ip_off;
    if t.version == 4 {
        let hl = t.prefix.len().checked_sub(o)?;
        let total = u16::try_from(hl + data.len()).ok()?;
        let hdr = out.get_mut(o..o + hl)?;
        hdr.get_mut(2..4)?.copy_from_slice(&total.to_be_bytes());
        // Keep DF, clear MF and the offset.
        *hdr.get_mut(6)? &= 0x40;
        *hdr.get_mut(7)? = 0;
        hdr.get_mut(10..12)?.copy_from_slice(&[0, 0]);
        let sum = checksum(hdr);
        hdr.get_mut(10..12)?.copy_from_slice(&sum.to_be_bytes());
    } else {
        let ext = t.prefix.len().checked_sub(o + 40)?;
        let plen = u16::try_from(ext + data.len()).ok()?;
        out.get_mut(o + 4..o + 6)?
            .copy_from_slice(&plen.to_be_bytes());
        *out.get_mut(t.nh_field)? = t.next_proto;
    }
    Some(out)
}

/// Internet checksum of an IPv4 header whose checksum field is zero.
fn checksum(hdr: &[u8]) -> u16 {
    let mut sum: u32 = hdr
        .chunks(2)
        .map(|c| match c {
            [a, b] => u32::from(u16::from_be_bytes([*a, *b])),
            [a] => u32::from(*a) << 8,
            _ => 0,
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::*;
    use crate::decode::{decode, Decoded, L4};

    fn lim() -> DefragLimits {
        DefragLimits::default()
    }

    #[test]
    fn ipv4_in_order_and_out_of_order() {
        let payload: Vec<u8> = (0..100u8).collect();
        let whole = eth_ipv4_udp(1111, 53, &payload);
        let frags = ipv4_fragments(&whole, 14, 32);
        assert_eq!(frags.len(), 4); // 108 bytes of UDP in 32-byte pieces
        for order in [[0usize, 1, 2, 3], [3, 1, 0, 2]] {
            let mut d = Defragmenter::new(lim());
            let mut st = DecodeStats::new();
            let mut out = None;
            for (n, &i) in order.iter().enumerate() {
                assert_eq!(decode(1, &frags[i], &mut st), Decoded::Fragment);
                let r = d.push(1, &frags[i], 1_000 + n as u64, &mut st);
                if n < 3 {
                    assert!(r.is_none());
                } else {
                    out = r;
                }
            }
            let out = out.unwrap();
            assert_eq!(out, whole, "rebuilt frame equals the unfragmented one");
            match decode(1, &out, &mut st) {
                Decoded::Packet(p) => {
                    assert_eq!((p.sport, p.dport, p.l4), (1111, 53, L4::Udp));
                    assert_eq!(p.payload, &payload[..]);
                }
                x => panic!("{x:?}"),
            }
            assert_eq!(st.get(C::DefragIpv4Fragments), 4);
            assert_eq!(st.get(C::DefragIpv4Reassembled), 1);
            assert_eq!(st.get(C::Ipv4FragOverlap), 0);
            assert!(d.is_empty());
        }
    }

    #[test]
    fn ipv6_fragments_rebuild_without_fragment_header() {
        let payload: Vec<u8> = (0..200u8).collect();
        let whole = eth_ipv6_udp(5353, 5353, &payload);
        let frags = ipv6_fragments(&whole, 14, 64);
        assert_eq!(frags.len(), 4);
        let mut d = Defragmenter::new(lim());
        let mut st = DecodeStats::new();
        let mut out = None;
        for f in frags.iter().rev() {
            assert_eq!(shard(1, f), crate::decode::Shard::Fragment);
            out = d.push(1, f, 5, &mut st).or(out);
        }
        let out = out.unwrap();
        assert_eq!(out, whole);
        assert_eq!(st.get(C::DefragIpv6Reassembled), 1);
    }

    #[test]
    fn overlap_is_counted_and_first_data_wins() {
        let payload = [0xaau8; 40];
        let whole = eth_ipv4_udp(1, 2, &payload);
        let mut frags = ipv4_fragments(&whole, 14, 24);
        assert_eq!(frags.len(), 2); // 48 bytes: 24 + 24
                                    // A duplicate of the first fragment with different bytes.
        let mut dup = frags[0].clone();
        let last = dup.len() - 1;
        dup[last] = 0x55;
        let mut d = Defragmenter::new(lim());
        let mut st = DecodeStats::new();
        assert!(d.push(1, &frags[0], 0, &mut st).is_none());
        assert!(d.push(1, &dup, 0, &mut st).is_none());
        let out = d.push(1, &frags.remove(1), 0, &mut st).unwrap();
        assert_eq!(st.get(C::Ipv4FragOverlap), 1);
        assert_eq!(out, whole);
        // An identical duplicate is not a conflicting overlap.
        let mut st = DecodeStats::new();
        let frags = ipv4_fragments(&whole, 14, 24);
        assert!(d.push(1, &frags[0], 0, &mut st).is_none());
        assert!(d.push(1, &frags[0], 0, &mut st).is_none());
        assert_eq!(d.push(1, &frags[1], 0, &mut st).unwrap(), whole);
        assert_eq!(st.get(C::Ipv4FragOverlap), 0);
    }

    #[test]
    fn datagram_ranges() {
        // Unaligned first piece, last piece, then an over-long piece from 0
        // that fills the hole (zeek/ipv4/fragmented-1.pcap has this shape).
        let mut g = Datagram::default();
        assert_eq!(g.add(0, true, &[1; 18]), Ok(Added::default()));
        assert_eq!(g.add(48, false, &[2; 116]), Ok(Added::default()));
        assert!(!g.is_complete());
        let added = g.add(0, true, &[3; 304]).unwrap();
        assert!(added.clipped && added.conflict);
        assert!(g.is_complete());
        assert_eq!(g.data.len(), 164);
        assert_eq!(
            (g.data[17], g.data[18], g.data[47], g.data[48]),
            (1, 3, 3, 2)
        );
        // Data beyond a later-learned end is cut off.
        let mut g = Datagram::default();
        g.add(16, true, &[1; 32]).unwrap();
        let added = g.add(0, false, &[0; 8]).unwrap();
        assert!(added.clipped);
        assert_eq!((g.ranges.as_slice(), g.end), ([(0, 8)].as_slice(), Some(8)));
        assert!(g.is_complete());
        let mut g = Datagram::default();
        g.add(8, true, &[1; 32]).unwrap();
        let added = g.add(0, false, &[0; 24]).unwrap();
        assert!(added.clipped);
        assert!(g.is_complete());
        assert_eq!(g.data, [[0u8; 8].as_slice(), &[1; 16]].concat());
        assert_eq!(g.add(0, false, &[0; 16]), Err(ConflictingEnd));
    }

    #[test]
    fn too_many_datagrams_and_timeout() {
        let limits = DefragLimits {
            max_datagrams: 2,
            timeout_ns: 1_000,
            ..lim()
        };
        let mut d = Defragmenter::new(limits);
        let mut st = DecodeStats::new();
        for id in 0..3u16 {
            let whole = eth_ipv4_udp(1, 2, &[0; 40]);
            let mut f = ipv4_fragments(&whole, 14, 24).remove(0);
            f[14 + 4..14 + 6].copy_from_slice(&id.to_be_bytes());
            assert!(d.push(1, &f, 10, &mut st).is_none());
        }
        assert_eq!(d.len(), 2);
        assert_eq!(st.get(C::DefragMaxTrackersReached), 1);
        assert_eq!(st.get(C::DefragDroppedFragments), 1);
        d.expire(500, &mut st);
        assert_eq!(d.len(), 2);
        d.expire(1_011, &mut st);
        assert_eq!(d.len(), 0);
        assert_eq!(st.get(C::DefragIpv4Timeouts), 2);
        assert_eq!(st.get(C::DefragDroppedFragments), 3);
        assert_eq!(d.mem, 0);
    }

    #[test]
    fn memory_bound() {
        let limits = DefragLimits {
            max_total_bytes: 200,
            ..lim()
        };
        let mut d = Defragmenter::new(limits);
        let mut st = DecodeStats::new();
        // Two datagrams of 14+20 prefix + 64 bytes each fit; the third does not.
        for id in 0..3u16 {
            let whole = eth_ipv4_udp(1, 2, &[0; 100]);
            let mut f = ipv4_fragments(&whole, 14, 64).remove(0);
            f[18..20].copy_from_slice(&id.to_be_bytes());
            assert!(d.push(1, &f, 0, &mut st).is_none());
        }
        assert_eq!(st.get(C::DefragMemcap), 1);
        assert_eq!(d.len(), 2);
        assert!(d.mem <= 200);
    }

    #[test]
    fn oversized_datagram_is_dropped() {
        let limits = DefragLimits {
            max_bytes: 40,
            ..lim()
        };
        let mut d = Defragmenter::new(limits);
        let mut st = DecodeStats::new();
        let whole = eth_ipv4_udp(1, 2, &[7; 80]);
        let frags = ipv4_fragments(&whole, 14, 32);
        for f in &frags {
            assert!(d.push(1, f, 0, &mut st).is_none());
        }
        assert_eq!(st.get(C::Ipv4FragPktTooLarge), 2);
        assert_eq!(st.get(C::DefragIpv4Reassembled), 0);
    }

    #[test]
    fn too_many_fragments() {
        let limits = DefragLimits {
            max_fragments: 2,
            ..lim()
        };
        let mut d = Defragmenter::new(limits);
        let mut st = DecodeStats::new();
        let whole = eth_ipv4_udp(1, 2, &[7; 40]);
        let frags = ipv4_fragments(&whole, 14, 16);
        assert_eq!(frags.len(), 3);
        for f in &frags {
            assert!(d.push(1, f, 0, &mut st).is_none());
        }
        assert_eq!(st.get(C::DefragMaxFragsReached), 1);
        assert_eq!(st.get(C::DefragIpv4Reassembled), 0);
    }

    #[test]
    fn conflicting_end_and_not_a_fragment() {
        let mut d = Defragmenter::new(lim());
        let mut st = DecodeStats::new();
        let whole = eth_ipv4_udp(1, 2, &[7; 40]);
        let frags = ipv4_fragments(&whole, 14, 16);
        // Last fragment twice, the second claiming a different end.
        let last = frags.last().unwrap().clone();
        let mut other = last.clone();
        other.truncate(other.len() - 8);
        let tl = u16::from_be_bytes([other[16], other[17]]) - 8;
        other[16..18].copy_from_slice(&tl.to_be_bytes());
        assert!(d.push(1, &last, 0, &mut st).is_none());
        assert!(d.push(1, &other, 0, &mut st).is_none());
        assert_eq!(st.get(C::DefragConflictingEnd), 1);
        assert!(d.push(1, &whole, 0, &mut st).is_none());
        assert_eq!(st.get(C::DefragNotAFragment), 1);
    }

    #[test]
    fn fragments_inside_a_tunnel_keep_the_outer_headers() {
        let payload: Vec<u8> = (0..64u8).collect();
        let inner = ipv4_udp(1000, 2000, &payload, [10, 0, 0, 1], [10, 0, 0, 2]);
        let whole = vxlan_frame(&eth_wrap(0x0800, &inner));
        // Inner IPv4 starts after outer eth(14)+ip(20)+udp(8)+vxlan(8)+eth(14).
        let frags = ipv4_fragments(&whole, 64, 32);
        let mut d = Defragmenter::new(lim());
        let mut st = DecodeStats::new();
        let mut out = None;
        for f in &frags {
            assert_eq!(decode(1, f, &mut st), Decoded::Fragment);
            out = d.push(1, f, 0, &mut st).or(out);
        }
        let out = out.unwrap();
        match decode(1, &out, &mut st) {
            Decoded::Packet(p) => {
                assert_eq!(p.payload, &payload[..]);
                assert_eq!(p.tunnel.unwrap().kind, crate::decode::TunnelKind::Vxlan);
                assert_eq!((p.sport, p.dport), (1000, 2000));
            }
            x => panic!("{x:?}"),
        }
    }

    use crate::decode::shard;
}
