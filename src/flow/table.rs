//! One worker's flow table: a bounded hash map plus timers on packet time.

use super::community_id;
use super::key::{FlowKey, Side};
use super::record::{
    EndReason, EventKey, FlowMeta, FlowNames, FlowRecord, FlowState, TcpSummary, Vlan,
};
use super::slab::Slab;
use super::tcp::TcpTrack;
use crate::base::budget::{self, Use};
use crate::decode::{Packet, Tunnel, L4};
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::collections::BTreeMap;
use std::hash::BuildHasher;

const NS: u64 = 1_000_000_000;
const PROTO_TCP: u8 = 6;

/// Limits and timeouts (seconds, on packet time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Flows this table may hold; beyond, the flow closest to timing out is
    /// ended with reason `forced` and counted.
    pub max_flows: usize,
    /// TCP before the handshake completes.
    pub tcp_new_timeout: u64,
    pub tcp_idle_timeout: u64,
    /// TCP after RST or FIN both ways (late packets still join the flow).
    pub tcp_closed_timeout: u64,
    /// UDP, ICMP and other protocols.
    pub idle_timeout: u64,
    /// A flow open longer than this is written out and goes on (`active_timeout`).
    pub active_timeout: u64,
    pub community_id_seed: u16,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1 << 20,
            tcp_new_timeout: 60,
            tcp_idle_timeout: 600,
            tcp_closed_timeout: 10,
            idle_timeout: 120,
            active_timeout: 3600,
            community_id_seed: 0,
        }
    }
}

/// Counters of one table (summed over workers for `stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub created: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmpv4: u64,
    pub icmpv6: u64,
    pub other: u64,
    pub ended_timeout: u64,
    pub ended_active_timeout: u64,
    pub ended_forced: u64,
    pub ended_shutdown: u64,
    pub ended_tcp_reuse: u64,
    pub end_state_new: u64,
    pub end_state_established: u64,
    pub end_state_closed: u64,
    /// Most flows held at once.
    pub max_active: u64,
}

impl FlowStats {
    pub fn merge(&mut self, o: &FlowStats) {
        self.created += o.created;
        self.tcp += o.tcp;
        self.udp += o.udp;
        self.icmpv4 += o.icmpv4;
        self.icmpv6 += o.icmpv6;
        self.other += o.other;
        self.ended_timeout += o.ended_timeout;
        self.ended_active_timeout += o.ended_active_timeout;
        self.ended_forced += o.ended_forced;
        self.ended_shutdown += o.ended_shutdown;
        self.ended_tcp_reuse += o.ended_tcp_reuse;
        self.end_state_new += o.end_state_new;
        self.end_state_established += o.end_state_established;
        self.end_state_closed += o.end_state_closed;
        // Per-worker peaks add up to an upper bound of the global peak.
        self.max_active += o.max_active;
    }
}

/// Where the packet being handled sits in the capture.
#[derive(Clone, Copy, Debug, Default)]
pub struct PacketCtx {
    /// Global packet index (0-based), the same whatever the worker count.
    pub idx: u64,
    pub ts_ns: u64,
    /// Length on the wire, counted in the flow's bytes.
    pub wire_len: u32,
    /// Packets on the wire this stands for (the fragments of a reassembled datagram).
    pub packets: u32,
    /// Input file index.
    pub file: u32,
    /// 0 for the packet's innermost flow, 1 for the flow of the tunnel around it.
    pub layer: u8,
}

/// A flow (or a record of it) that a table operation ended, for the worker
/// to write out. `app` is the per-flow dissector state when the flow itself
/// is gone (not after an active timeout, where the flow goes on).
#[derive(Debug)]
pub struct Ended<A> {
    pub key: EventKey,
    pub record: FlowRecord,
    pub app: Option<A>,
}

/// One bidirectional flow; `A` is the dissect stage's per-flow state.
///
/// Held in the table's slab, one record in one slot: the fields every
/// packet touches come first, what packets rarely touch ([`FlowInfo`])
/// after them in the same record (the hash map holds slot numbers, so the
/// record's size no longer multiplies the map's empty buckets).
#[derive(Debug)]
pub struct Flow<A> {
    /// First: every packet's lookup compares it.
    pub key: FlowKey,
    /// Which side of the key is the client.
    pub client: Side,
    /// False after an active-timeout record until the flow's next packet.
    pub record_open: bool,
    /// Packets went both ways at some point.
    pub both_ways: bool,
    pub tcp: TcpTrack,
    pub file: u32,
    pub last_ts: u64,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// The timer bucket (second) this flow is filed under; older entries are stale.
    timer_sec: u32,
    /// Per-flow dissector state (dropped by its owner once inspection is over).
    pub app: A,
    pub info: FlowInfo,
}

/// What a flow's packets rarely touch.
#[derive(Debug)]
pub struct FlowInfo {
    /// 2 × the index of the flow's first packet, + 1 for a tunnel's outer
    /// flow (created by the same packet as the flow inside it): unique, and
    /// the same for any worker count.
    pub uid: u64,
    /// Start of the current record (differs from the flow's first packet after an active timeout).
    pub record_start: u64,
    /// Boxed: few flows are tunnelled, and inline it would add ~40 bytes to every flow.
    pub tunnel: Option<Box<Tunnel>>,
    pub icmp: Option<(u8, u8)>,
    /// Its Community ID, hashed once when the flow is made: every flow
    /// writes at least its record, and a flow with application events
    /// carries it on each of them (hashed per event, it cost twice as much).
    pub community_id: [u8; 20],
    pub app_proto: Option<&'static str>,
    /// Names learnt from the flow's own packets (SNI, Host, ...).
    pub names: Option<Box<FlowNames>>,
    /// What went wrong putting its streams in order (set by the dissectors).
    pub anomalies: crate::flow::FlowAnomalies,
}

impl<A> Flow<A> {
    pub fn replied(&self) -> bool {
        self.both_ways
    }

    pub fn state(&self) -> FlowState {
        if self.key.proto == PROTO_TCP {
            if self.tcp.is_closed() {
                FlowState::Closed
            } else if self.tcp.is_established() {
                FlowState::Established
            } else {
                FlowState::New
            }
        } else if self.replied() {
            FlowState::Established
        } else {
            FlowState::New
        }
    }

    /// The fields every event of this flow carries, client → server.
    pub fn meta(&self) -> FlowMeta {
        let (src, sport, dst, dport) = endpoints(&self.key, self.client);
        let (sport, dport) = if self.info.icmp.is_some() {
            (0, 0)
        } else {
            (sport, dport)
        };
        FlowMeta {
            flow_id: flow_id(self.info.uid),
            src,
            dst,
            sport,
            dport,
            proto: self.key.proto,
            vlan: Vlan {
                ids: self.key.vlan,
                len: self.key.vlan_len,
            },
            community_id: self.info.community_id,
            tunnel: self.info.tunnel.as_deref().copied(),
            icmp: self.info.icmp,
        }
    }

    fn record(&self, reason: EndReason) -> FlowRecord {
        FlowRecord {
            meta: self.meta(),
            start_ns: self.info.record_start,
            end_ns: self.last_ts,
            pkts_toserver: self.pkts_toserver,
            pkts_toclient: self.pkts_toclient,
            bytes_toserver: self.bytes_toserver,
            bytes_toclient: self.bytes_toclient,
            state: self.state(),
            reason,
            tcp: (self.key.proto == PROTO_TCP).then(|| TcpSummary {
                flags_ts: self.tcp.flags_ts,
                flags_tc: self.tcp.flags_tc,
                state: self.tcp.state_name(),
            }),
            app_proto: self.info.app_proto,
            names: self.info.names.clone(),
            anomalies: self.info.anomalies,
            file: self.file,
            empty: false,
        }
    }
}

/// A flow's Community ID, from its key, its client and (ICMP) its first
/// message. The digest orders the endpoints itself except for one-way ICMP,
/// whose order is its first packet's, and that packet's sender is the client.
fn community_id_of(seed: u16, key: &FlowKey, client: Side, icmp: Option<(u8, u8)>) -> [u8; 20] {
    let (src, sport, dst, dport) = endpoints(key, client);
    let (sport, dport, one_way) = match icmp {
        Some((icmp_type, code)) => community_id::icmp_ports(key.proto, icmp_type, code),
        None => (sport, dport, false),
    };
    community_id::digest(seed, src, dst, sport, dport, key.proto, one_way)
}

/// Client address and port, then the server's.
fn endpoints(k: &FlowKey, client: Side) -> (std::net::IpAddr, u16, std::net::IpAddr, u16) {
    match client {
        Side::Lo => (k.lo(), k.lo_port, k.hi(), k.hi_port),
        Side::Hi => (k.hi(), k.hi_port, k.lo(), k.lo_port),
    }
}

/// A stable flow id from the flow's uid (splitmix64), kept within 2^53 so
/// JSON readers that use doubles do not round it.
pub fn flow_id(uid: u64) -> u64 {
    let mut z = uid.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) & ((1 << 53) - 1)
}

/// Ports at or above 1024 that are nonetheless usually the server's.
const SERVER_PORTS: &[u16] = &[
    1080, 1194, 1433, 1521, 1883, 2049, 3128, 3306, 3389, 3544, 4433, 4500, 4789, 5060, 5061, 5222,
    5223, 5228, 5349, 5353, 5355, 5432, 5671, 5672, 5938, 6081, 6379, 6443, 6653, 8000, 8008, 8080,
    8081, 8088, 8443, 8883, 9000, 9092, 9200, 9443, 10050, 10051, 27017,
];

fn looks_like_server_port(p: u16) -> bool {
    p < 1024 || SERVER_PORTS.contains(&p)
}

/// Who is the client of a new flow, judged from its first packet.
fn orient(p: &Packet<'_>, sender: Side) -> Side {
    let other = match sender {
        Side::Lo => Side::Hi,
        Side::Hi => Side::Lo,
    };
    match p.l4 {
        L4::Tcp(t) => {
            let syn = t.flags & super::tcp::SYN != 0;
            let ack = t.flags & super::tcp::ACK != 0;
            if syn && !ack {
                return sender;
            }
            if syn && ack {
                return other;
            }
        }
        // ICMP has no handshake to read: as in Suricata, whoever sent the
        // first packet is the flow's source, a reply without its request
        // (the request unseen, or on another VLAN or tunnel) included.
        L4::Icmp { .. } => return sender,
        _ => {}
    }
    let (s, d) = (
        looks_like_server_port(p.sport),
        looks_like_server_port(p.dport),
    );
    match (s, d) {
        (true, false) => other,
        (false, true) => sender,
        // Both or neither look like services: the lower port is the service
        // when they differ in kind, else the first sender is the client.
        _ if s && d && p.sport < p.dport => other,
        _ => sender,
    }
}

/// When `f` times out: idle timeout by state, capped by the active timeout.
fn deadline<A>(cfg: &FlowConfig, f: &Flow<A>) -> u64 {
    idle_end(cfg, f).min(active_end(cfg, f))
}

fn idle_end<A>(cfg: &FlowConfig, f: &Flow<A>) -> u64 {
    let idle = if f.key.proto == PROTO_TCP {
        if f.tcp.is_closed() {
            cfg.tcp_closed_timeout
        } else if f.tcp.is_established() {
            cfg.tcp_idle_timeout
        } else {
            cfg.tcp_new_timeout
        }
    } else {
        cfg.idle_timeout
    };
    f.last_ts.saturating_add(idle.saturating_mul(NS))
}

/// When the current record reaches the active timeout (never while the
/// record holds no packet yet).
fn active_end<A>(cfg: &FlowConfig, f: &Flow<A>) -> u64 {
    if f.record_open {
        f.info
            .record_start
            .saturating_add(cfg.active_timeout.saturating_mul(NS))
    } else {
        u64::MAX
    }
}

/// A timer's reference to its flow: the flow's slot, and the low half of
/// its uid to tell it from a later flow in the same slot (8 bytes; the
/// key's hash and the whole uid took 16, and found the flow through the
/// map). A later flow that matches both (2^31 packets apart, in the same
/// slot, filed for the same second) is harmless: a timer only makes the
/// table look at that flow's own deadline.
#[derive(Clone, Copy, Debug)]
struct TimerRef {
    slot: u32,
    tag: u32,
}

fn uid_tag(uid: u64) -> u32 {
    uid as u32
}

impl TimerRef {
    /// The flow this refers to, if it is still in its slot.
    fn flow<A>(self, slab: &mut Slab<Flow<A>>) -> Option<&mut Flow<A>> {
        slab.get_mut(self.slot)
            .filter(|f| uid_tag(f.info.uid) == self.tag)
    }
}

/// Deadline second → flows filed there.
type Timers = BTreeMap<u32, Vec<TimerRef>>;

/// Entries [`FlowTable::tick`]'s lists keep room for between ticks.
const TICK_SCRATCH_MAX: usize = 4096;

fn hash_key(key: &FlowKey) -> u64 {
    FxBuildHasher.hash_one(key)
}

/// Files the flow in `slot` under the second of its deadline; any older
/// entry becomes stale. Seconds past 2106 (hostile timestamps) share the
/// last second.
fn file_timer<A>(cfg: &FlowConfig, timers: &mut Timers, slot: u32, f: &mut Flow<A>) {
    let sec = u32::try_from(deadline(cfg, f).div_ceil(NS)).unwrap_or(u32::MAX);
    f.timer_sec = sec;
    timers.entry(sec).or_default().push(TimerRef {
        slot,
        tag: uid_tag(f.info.uid),
    });
}

/// Counts a flow's end and turns it into what the worker writes out.
fn close<A>(stats: &mut FlowStats, f: Flow<A>, reason: EndReason, key: EventKey) -> Ended<A> {
    match reason {
        EndReason::Timeout => stats.ended_timeout += 1,
        EndReason::ActiveTimeout => stats.ended_active_timeout += 1,
        EndReason::Forced => stats.ended_forced += 1,
        EndReason::Shutdown => stats.ended_shutdown += 1,
        EndReason::TcpReuse => stats.ended_tcp_reuse += 1,
    }
    match f.state() {
        FlowState::New => stats.end_state_new += 1,
        FlowState::Established => stats.end_state_established += 1,
        FlowState::Closed => stats.end_state_closed += 1,
    }
    let mut record = f.record(reason);
    // After an active-timeout record with nothing since, that record was the last word.
    record.empty = !f.record_open;
    Ended {
        key,
        record,
        app: Some(f.app),
    }
}

/// What [`FlowTable::bytes`] counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableBytes {
    /// The hash map of slot numbers, empty buckets included.
    pub map: usize,
    /// The slab's pages (every slot made, held or free), its page and free lists.
    pub records: usize,
    /// The flows' names, on the heap.
    pub names: usize,
    /// What the dissectors' state holds on the heap.
    pub app: usize,
    pub timers: usize,
}

impl TableBytes {
    pub fn total(&self) -> usize {
        self.map + self.records + self.names + self.app + self.timers
    }
}

/// Most flows a table may hold: slot numbers are `u32`, and this bound
/// (~400 GB of records) keeps every slot made addressable.
const MAX_FLOWS: usize = 1 << 31;

/// A worker's flows.
pub struct FlowTable<A> {
    cfg: FlowConfig,
    /// Slot numbers by key hash (5 bytes a bucket); the flows are in `slab`.
    map: HashTable<u32>,
    slab: Slab<Flow<A>>,
    /// Never used while the table keeps its bound (fewer flows than
    /// [`MAX_FLOWS`]): a flow the slab had no slot number for, so that
    /// [`FlowTable::packet`] always has a flow to give.
    spare: Option<Flow<A>>,
    /// Deadline second → flows filed there (checked lazily, stale entries skipped).
    timers: Timers,
    stats: FlowStats,
    /// [`FlowTable::tick`]'s lists, kept between ticks (emptied).
    tick_ended: Vec<(u64, TimerRef, EndReason)>,
    tick_refile: Vec<TimerRef>,
    /// Bytes of the global memory budget taken: the map's and the slab's
    /// allocations as they are, and [`FLOW_HEAP`] per flow held.
    accounted: u64,
}

/// Heap bytes per flow beyond the table's own allocations (the map and the
/// slab, charged as allocated): a dissector's state, the flow's names and
/// timer entry, its record on its way out, allocator slack. Measured: a
/// flood of 60,000 one-packet UDP flows costs about 1.2 KiB of peak RSS per
/// flow in all.
const FLOW_HEAP: u64 = 1280;

impl<A> Drop for FlowTable<A> {
    fn drop(&mut self) {
        budget::global().give(self.accounted);
    }
}

impl<A: Default> FlowTable<A> {
    pub fn new(mut cfg: FlowConfig) -> Self {
        cfg.max_flows = cfg.max_flows.min(MAX_FLOWS);
        FlowTable {
            // Not pre-sized: the map grows by doubling, but its buckets are
            // 5 bytes (2^17 of them 640 KB), so what the smaller maps leave
            // behind is small, and a worker holding few flows pays for few
            // buckets. Records never move when it grows.
            map: HashTable::new(),
            slab: Slab::default(),
            spare: None,
            timers: BTreeMap::new(),
            cfg,
            stats: FlowStats::default(),
            tick_ended: Vec::new(),
            tick_refile: Vec::new(),
            accounted: 0,
        }
    }

    /// What one more flow costs the global memory budget: its slot, its
    /// share of the map (a bucket at 7/8 full, doubled after a resize), and
    /// [`FLOW_HEAP`].
    pub fn flow_cost() -> u64 {
        (Self::slot_bytes() + 12) as u64 + FLOW_HEAP
    }

    /// Bytes a flow's slot takes in the slab.
    pub fn slot_bytes() -> usize {
        Slab::<Flow<A>>::SLOT_BYTES
    }

    /// Brings the budget's count of this table up to date: the map's and
    /// the slab's allocations, and [`FLOW_HEAP`] per flow (O(1)).
    fn account(&mut self) {
        let now = (self.map.allocation_size() + self.slab.bytes()) as u64
            + self.slab.len() as u64 * FLOW_HEAP;
        budget::global().adjust(self.accounted, now);
        self.accounted = now;
    }

    /// Bytes of the global memory budget this table holds now.
    pub fn accounted(&self) -> u64 {
        self.accounted
    }

    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Bytes this table holds (the bench's bytes-per-active-flow figure),
    /// in five parts: the map and the slab as allocated (what the budget is
    /// charged for them), each flow's names, what `app_heap` says each
    /// flow's dissector state holds, the timer entries. Walks every flow:
    /// for measurement, not for the per-packet path.
    pub fn bytes(&self, app_heap: impl Fn(&A) -> usize) -> TableBytes {
        let mut b = TableBytes {
            map: self.map.allocation_size(),
            records: self.slab.bytes(),
            ..TableBytes::default()
        };
        for f in self.slab.iter() {
            if let Some(names) = &f.info.names {
                b.names += std::mem::size_of::<FlowNames>() + names.heap_bytes();
            }
            b.app += app_heap(&f.app);
        }
        // A B-tree entry (second and Vec header, ~48 bytes with node slack)
        // per timer second, plus the references filed there.
        b.timers = self
            .timers
            .values()
            .map(|v| 48 + v.capacity() * std::mem::size_of::<TimerRef>())
            .sum();
        b
    }

    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    fn file_timer(&mut self, t: TimerRef) {
        if let Some(f) = t.flow(&mut self.slab) {
            file_timer(&self.cfg, &mut self.timers, t.slot, f);
        }
    }

    /// Takes the flow `t` refers to out of the map and the slab.
    fn remove(&mut self, t: TimerRef) -> Option<Flow<A>> {
        let hash = hash_key(&t.flow(&mut self.slab)?.key);
        if let Ok(entry) = self.map.find_entry(hash, |&s| s == t.slot) {
            entry.remove();
        }
        self.slab.remove(t.slot)
    }

    fn end(&mut self, t: TimerRef, reason: EndReason, ev_key: EventKey, out: &mut Vec<Ended<A>>) {
        if let Some(f) = self.remove(t) {
            out.push(close(&mut self.stats, f, reason, ev_key));
        }
    }

    /// Makes room for one flow by ending the one whose timer is due first.
    fn evict_one(&mut self, idx: u64, out: &mut Vec<Ended<A>>) {
        while let Some(mut entry) = self.timers.first_entry() {
            let sec = *entry.key();
            let Some(t) = entry.get_mut().pop() else {
                entry.remove();
                continue;
            };
            if let Some(uid) = t
                .flow(&mut self.slab)
                .filter(|f| f.timer_sec == sec)
                .map(|f| f.info.uid)
            {
                let ev = EventKey {
                    pkt: idx,
                    class: 0,
                    sub: uid,
                    seq: 0,
                };
                self.end(t, EndReason::Forced, ev, out);
                return;
            }
        }
    }

    /// Accounts a decoded packet to its flow, creating the flow if needed.
    /// Flows this packet ends (port reuse, eviction) are written to `out`.
    /// Returns the flow and whether the packet goes client → server.
    pub fn packet(
        &mut self,
        p: &Packet<'_>,
        ctx: &PacketCtx,
        out: &mut Vec<Ended<A>>,
    ) -> (&mut Flow<A>, bool) {
        let (key, sender, _) = FlowKey::of(p);
        let hash = hash_key(&key);
        let tcp_flags = match p.l4 {
            L4::Tcp(t) => Some(t.flags),
            _ => None,
        };
        let syn_only =
            tcp_flags.is_some_and(|fl| fl & super::tcp::SYN != 0 && fl & super::tcp::ACK == 0);
        // Rare: a full table, or a spent memory budget, makes room first
        // (the only second lookup).
        let full = self.slab.len() >= self.cfg.max_flows;
        let cost = Self::flow_cost();
        if (full || !budget::global().allows(Use::Flow, cost)) && !self.holds(hash, &key) {
            if !full {
                budget::global().refused(Use::Flow, cost);
            }
            self.evict_one(ctx.idx, out);
            self.account();
        }
        let held = self.slab.len() as u64;
        let mut created = false;
        // One hash lookup per packet; the map compares keys in the slab.
        let slab = &self.slab;
        let slot = match self.map.entry(
            hash,
            |&s| slab.get(s).is_some_and(|f| f.key == key),
            |&s| slab.get(s).map_or(0, |f| hash_key(&f.key)),
        ) {
            hashbrown::hash_table::Entry::Occupied(o) => Some(*o.get()),
            hashbrown::hash_table::Entry::Vacant(v) => {
                created = true;
                let flow = new_flow(&self.cfg, p, key, sender, ctx);
                self.slab.insert(flow).map(|(slot, _)| {
                    v.insert(slot);
                    slot
                })
            }
        };
        if created {
            // Counted at once: a flood within one second of packet time
            // must not outrun the budget until the next tick.
            self.account();
        }
        let f = match slot.and_then(|s| self.slab.get_mut(s)) {
            Some(f) => f,
            None => self.spare.insert(new_flow(&self.cfg, p, key, sender, ctx)),
        };
        let slot = slot.unwrap_or(u32::MAX);
        if !created && syn_only && f.tcp.is_closed() {
            // A fresh SYN on a closed connection starts a new flow in the
            // same slot (its old timers no longer match its uid).
            let old = std::mem::replace(f, new_flow(&self.cfg, p, key, sender, ctx));
            let ev = EventKey {
                pkt: ctx.idx,
                class: 0,
                sub: old.info.uid,
                seq: 0,
            };
            out.push(close(&mut self.stats, old, EndReason::TcpReuse, ev));
            created = true;
        }
        if created {
            self.stats.created += 1;
            self.stats.max_active = self.stats.max_active.max(held + 1);
            match p.l4 {
                L4::Tcp(_) => self.stats.tcp += 1,
                L4::Udp => self.stats.udp += 1,
                L4::Icmp { .. } if p.proto == 58 => self.stats.icmpv6 += 1,
                L4::Icmp { .. } => self.stats.icmpv4 += 1,
                L4::Other => self.stats.other += 1,
            }
            file_timer(&self.cfg, &mut self.timers, slot, f);
        }
        let to_server = sender == f.client;
        if !f.record_open {
            // A new record after an active timeout: its own active deadline applies.
            f.record_open = true;
            f.info.record_start = ctx.ts_ns;
            file_timer(&self.cfg, &mut self.timers, slot, f);
        }
        if to_server {
            f.pkts_toserver += u64::from(ctx.packets);
            f.bytes_toserver += u64::from(ctx.wire_len);
        } else {
            f.pkts_toclient += u64::from(ctx.packets);
            f.bytes_toclient += u64::from(ctx.wire_len);
        }
        // Out-of-order timestamps never move a flow backwards in time.
        f.last_ts = f.last_ts.max(ctx.ts_ns);
        f.file = ctx.file;
        f.both_ways |= if to_server {
            f.pkts_toclient > 0
        } else {
            f.pkts_toserver > 0
        };
        if let Some(fl) = tcp_flags {
            let was_closed = f.tcp.is_closed();
            f.tcp.update(fl, to_server, f.both_ways);
            if !was_closed && f.tcp.is_closed() {
                // Closing shortens the timeout: file an earlier timer.
                file_timer(&self.cfg, &mut self.timers, slot, f);
            }
        }
        (f, to_server)
    }

    /// Whether a flow with `key` is held.
    fn holds(&self, hash: u64, key: &FlowKey) -> bool {
        self.map
            .find(hash, |&s| self.slab.get(s).is_some_and(|f| f.key == *key))
            .is_some()
    }

    /// Ends flows whose deadline is at or before `now_ns` (the capture clock
    /// at global packet `idx`), in first-packet order.
    pub fn tick(&mut self, now_ns: u64, idx: u64, out: &mut Vec<Ended<A>>) {
        let now_sec = u32::try_from(now_ns / NS).unwrap_or(u32::MAX);
        // (uid, timer, why): ended in uid order, the same for any worker count.
        let mut ended = std::mem::take(&mut self.tick_ended);
        let mut refile = std::mem::take(&mut self.tick_refile);
        while let Some(entry) = self.timers.first_entry() {
            let sec = *entry.key();
            if sec > now_sec {
                break;
            }
            for t in entry.remove() {
                let Some(f) = t.flow(&mut self.slab) else {
                    continue;
                };
                // Stale (refiled since) or already seen in this tick (filed twice).
                if f.timer_sec != sec {
                    continue;
                }
                f.timer_sec = 0;
                if deadline(&self.cfg, f) > now_ns {
                    refile.push(t);
                } else if idle_end(&self.cfg, f) <= now_ns {
                    ended.push((f.info.uid, t, EndReason::Timeout));
                } else {
                    ended.push((f.info.uid, t, EndReason::ActiveTimeout));
                }
            }
        }
        ended.sort_unstable_by_key(|&(uid, _, _)| uid);
        for (uid, t, reason) in ended.drain(..) {
            let ev = EventKey {
                pkt: idx,
                class: 0,
                sub: uid,
                seq: 0,
            };
            if reason == EndReason::ActiveTimeout {
                let Some(f) = t.flow(&mut self.slab) else {
                    continue;
                };
                let rec = f.record(reason);
                // The next record starts with the flow's next packet.
                f.record_open = false;
                f.pkts_toserver = 0;
                f.pkts_toclient = 0;
                f.bytes_toserver = 0;
                f.bytes_toclient = 0;
                self.stats.ended_active_timeout += 1;
                out.push(Ended {
                    key: ev,
                    record: rec,
                    app: None,
                });
                refile.push(t);
            } else {
                self.end(t, reason, ev, out);
            }
        }
        for t in refile.drain(..) {
            self.file_timer(t);
        }
        // Kept for the next tick, unless a burst grew them.
        if ended.capacity() <= TICK_SCRATCH_MAX {
            self.tick_ended = ended;
        }
        if refile.capacity() <= TICK_SCRATCH_MAX {
            self.tick_refile = refile;
        }
        // The ended flows' bytes go back at once.
        self.account();
    }

    /// Ends every flow still open (end of capture), in first-packet order,
    /// and gives the table's memory back.
    pub fn flush(&mut self, out: &mut Vec<Ended<A>>) {
        let start = out.len();
        self.map = HashTable::new();
        self.timers.clear();
        for f in self.slab.drain().chain(self.spare.take()) {
            let ev = EventKey {
                pkt: u64::MAX,
                class: 0,
                sub: f.info.uid,
                seq: 0,
            };
            out.push(close(&mut self.stats, f, EndReason::Shutdown, ev));
        }
        if let Some(flushed) = out.get_mut(start..) {
            flushed.sort_unstable_by_key(|e| e.key.sub);
        }
        self.account();
    }
}

fn new_flow<A: Default>(
    cfg: &FlowConfig,
    p: &Packet<'_>,
    key: FlowKey,
    sender: Side,
    ctx: &PacketCtx,
) -> Flow<A> {
    let icmp = match p.l4 {
        L4::Icmp { icmp_type, code } => Some((icmp_type, code)),
        _ => None,
    };
    let client = orient(p, sender);
    Flow {
        key,
        client,
        record_open: true,
        both_ways: false,
        tcp: TcpTrack::default(),
        file: ctx.file,
        last_ts: ctx.ts_ns,
        pkts_toserver: 0,
        pkts_toclient: 0,
        bytes_toserver: 0,
        bytes_toclient: 0,
        timer_sec: 0,
        app: A::default(),
        info: FlowInfo {
            uid: ctx.idx * 2 + u64::from(ctx.layer),
            record_start: ctx.ts_ns,
            tunnel: p.tunnel.map(Box::new),
            icmp,
            community_id: community_id_of(cfg.community_id_seed, &key, client, icmp),
            app_proto: None,
            names: None,
            anomalies: Default::default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpInfo;
    use crate::flow::tcp::{ACK, FIN, RST, SYN};

    fn pkt(src: &str, sport: u16, dst: &str, dport: u16, l4: L4) -> Packet<'static> {
        let proto = match l4 {
            L4::Tcp(_) => 6,
            L4::Udp => 17,
            L4::Icmp { .. } => 1,
            L4::Other => 47,
        };
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            proto,
            ip_version: 4,
            vlan: [0; 3],
            vlan_len: 0,
            l4,
            payload: &[],
            tunnel: None,
            truncated: false,
            inner_invalid: None,
        }
    }

    fn tcp(flags: u8) -> L4 {
        L4::Tcp(TcpInfo {
            flags,
            seq: 0,
            ack: 0,
            window: 0,
        })
    }

    fn ctx(idx: u64, secs: u64) -> PacketCtx {
        PacketCtx {
            idx,
            ts_ns: secs * NS,
            wire_len: 100,
            packets: 1,
            file: 0,
            layer: 0,
        }
    }

    fn records(out: &[Ended<()>]) -> Vec<&FlowRecord> {
        out.iter().map(|e| &e.record).collect()
    }

    #[test]
    fn handshake_orients_and_fin_closes() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let mut out = Vec::new();
        let c = ("10.0.0.9", 50000);
        let s = ("10.0.0.1", 443);
        t.packet(&pkt(c.0, c.1, s.0, s.1, tcp(SYN)), &ctx(0, 1), &mut out);
        t.packet(
            &pkt(s.0, s.1, c.0, c.1, tcp(SYN | ACK)),
            &ctx(1, 1),
            &mut out,
        );
        t.packet(&pkt(c.0, c.1, s.0, s.1, tcp(ACK)), &ctx(2, 1), &mut out);
        t.packet(
            &pkt(c.0, c.1, s.0, s.1, tcp(FIN | ACK)),
            &ctx(3, 2),
            &mut out,
        );
        t.packet(
            &pkt(s.0, s.1, c.0, c.1, tcp(FIN | ACK)),
            &ctx(4, 2),
            &mut out,
        );
        assert!(out.is_empty());
        t.flush(&mut out);
        let r = records(&out);
        assert_eq!(r.len(), 1);
        let f = r[0];
        assert_eq!(f.meta.src, "10.0.0.9".parse::<std::net::IpAddr>().unwrap());
        assert_eq!((f.meta.sport, f.meta.dport), (50000, 443));
        assert_eq!((f.pkts_toserver, f.pkts_toclient), (3, 2));
        assert_eq!((f.bytes_toserver, f.bytes_toclient), (300, 200));
        assert_eq!(f.state, FlowState::Closed);
        assert_eq!(f.reason, EndReason::Shutdown);
        let tcp = f.tcp.unwrap();
        assert_eq!(tcp.flags_ts, SYN | ACK | FIN);
        assert_eq!(tcp.flags_tc, SYN | ACK | FIN);
        assert_eq!(tcp.state, "closed");
        assert_eq!((f.start_ns, f.end_ns), (NS, 2 * NS));
    }

    #[test]
    fn midstream_flow_is_oriented_by_the_service_port() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let mut out = Vec::new();
        t.packet(
            &pkt("10.0.0.1", 443, "10.0.0.9", 50000, tcp(ACK)),
            &ctx(0, 1),
            &mut out,
        );
        t.flush(&mut out);
        let f = records(&out)[0];
        assert_eq!((f.meta.sport, f.meta.dport), (50000, 443));
        assert_eq!((f.pkts_toserver, f.pkts_toclient), (0, 1));
        assert_eq!(f.state, FlowState::New);
    }

    #[test]
    fn udp_idle_timeout_ends_flow_at_the_tick_and_a_later_packet_starts_a_new_one() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let mut out = Vec::new();
        let q = pkt("10.0.0.9", 5353, "10.0.0.1", 53, L4::Udp);
        t.packet(&q, &ctx(0, 100), &mut out);
        t.tick(219 * NS, 5, &mut out);
        assert!(out.is_empty(), "idle 119 s of 120");
        t.tick(220 * NS, 6, &mut out);
        let r = records(&out);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].reason, EndReason::Timeout);
        assert_eq!(
            out[0].key,
            EventKey {
                pkt: 6,
                class: 0,
                sub: 0,
                seq: 0
            }
        );
        t.packet(&q, &ctx(7, 230), &mut out);
        t.flush(&mut out);
        assert_eq!(records(&out).len(), 2);
        assert_eq!(t.stats().created, 2);
        assert_ne!(records(&out)[0].meta.flow_id, records(&out)[1].meta.flow_id);
    }

    #[test]
    fn active_timeout_splits_a_long_flow_into_records_with_the_same_id() {
        let cfg = FlowConfig {
            active_timeout: 30,
            ..FlowConfig::default()
        };
        let mut t: FlowTable<()> = FlowTable::new(cfg);
        let mut out = Vec::new();
        let p = pkt("10.0.0.9", 40000, "10.0.0.1", 123, L4::Udp);
        for i in 0..10u64 {
            t.tick(i * 10 * NS, i * 2, &mut out);
            t.packet(&p, &ctx(i * 2 + 1, i * 10), &mut out);
        }
        t.flush(&mut out);
        let r = records(&out);
        assert_eq!(r.len(), 4, "{r:#?}");
        assert_eq!(r.iter().map(|f| f.pkts_toserver).sum::<u64>(), 10);
        assert_eq!(
            r.iter().map(|f| f.pkts_toserver).collect::<Vec<_>>(),
            [3, 3, 3, 1]
        );
        assert!(r.iter().all(|f| f.meta.flow_id == r[0].meta.flow_id));
        assert_eq!(r[0].reason, EndReason::ActiveTimeout);
        assert_eq!(r[3].reason, EndReason::Shutdown);
        assert_eq!((r[1].start_ns, r[1].end_ns), (30 * NS, 50 * NS));
    }

    #[test]
    fn syn_on_a_closed_connection_starts_a_new_flow() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let mut out = Vec::new();
        let (c, s) = (("10.0.0.9", 50000), ("10.0.0.1", 80));
        t.packet(&pkt(c.0, c.1, s.0, s.1, tcp(SYN)), &ctx(0, 1), &mut out);
        t.packet(
            &pkt(s.0, s.1, c.0, c.1, tcp(RST | ACK)),
            &ctx(1, 1),
            &mut out,
        );
        t.packet(&pkt(c.0, c.1, s.0, s.1, tcp(SYN)), &ctx(2, 2), &mut out);
        let r = records(&out);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].reason, EndReason::TcpReuse);
        assert_eq!(
            out[0].key,
            EventKey {
                pkt: 2,
                class: 0,
                sub: 0,
                seq: 0
            }
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn full_table_evicts_the_flow_due_first_and_counts_it() {
        let cfg = FlowConfig {
            max_flows: 2,
            ..FlowConfig::default()
        };
        let mut t: FlowTable<()> = FlowTable::new(cfg);
        let mut out = Vec::new();
        t.packet(
            &pkt("10.0.0.1", 1000, "10.0.0.2", 53, L4::Udp),
            &ctx(0, 1),
            &mut out,
        );
        t.packet(
            &pkt("10.0.0.1", 1001, "10.0.0.2", 53, L4::Udp),
            &ctx(1, 5),
            &mut out,
        );
        t.packet(
            &pkt("10.0.0.1", 1002, "10.0.0.2", 53, L4::Udp),
            &ctx(2, 6),
            &mut out,
        );
        let r = records(&out);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].reason, EndReason::Forced);
        assert_eq!(r[0].meta.sport, 1000);
        assert_eq!(t.stats().ended_forced, 1);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn echo_request_and_reply_share_a_flow_unlike_an_unreachable() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let mut out = Vec::new();
        let echo = |ty| L4::Icmp {
            icmp_type: ty,
            code: 0,
        };
        t.packet(
            &pkt("10.0.0.9", 0, "10.0.0.1", 0, echo(8)),
            &ctx(0, 1),
            &mut out,
        );
        t.packet(
            &pkt("10.0.0.1", 0, "10.0.0.9", 0, echo(0)),
            &ctx(1, 1),
            &mut out,
        );
        t.packet(
            &pkt(
                "10.0.0.1",
                0,
                "10.0.0.9",
                0,
                L4::Icmp {
                    icmp_type: 3,
                    code: 3,
                },
            ),
            &ctx(2, 1),
            &mut out,
        );
        t.flush(&mut out);
        let r = records(&out);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].pkts_toserver, r[0].pkts_toclient), (1, 1));
        assert_eq!(r[0].meta.icmp, Some((8, 0)));
        assert_eq!(
            r[0].meta.src,
            "10.0.0.9".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(r[1].meta.icmp, Some((3, 3)));
    }

    #[test]
    fn echo_reply_without_its_request_is_a_flow_from_its_sender() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let mut out = Vec::new();
        let reply = L4::Icmp {
            icmp_type: 0,
            code: 0,
        };
        t.packet(
            &pkt("10.0.0.1", 0, "10.0.0.9", 0, reply),
            &ctx(0, 1),
            &mut out,
        );
        t.packet(
            &pkt("10.0.0.1", 0, "10.0.0.9", 0, reply),
            &ctx(1, 1),
            &mut out,
        );
        t.flush(&mut out);
        let r = records(&out);
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].meta.src,
            "10.0.0.1".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(r[0].meta.icmp, Some((0, 0)));
        assert_eq!((r[0].pkts_toserver, r[0].pkts_toclient), (2, 0));
    }

    fn udp_from(i: u32) -> Packet<'static> {
        let src = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
        let mut p = pkt("10.9.9.9", 53, "10.0.0.1", 53, L4::Udp);
        p.src = src.parse().unwrap();
        p.sport = 1024 + (i % 60_000) as u16;
        p
    }

    /// What the budget is charged: the map and the slab as allocated, and
    /// FLOW_HEAP per flow; the same bytes `bytes()` reports for them.
    fn assert_charged_as_counted(t: &FlowTable<()>) {
        let b = t.bytes(|_| 0);
        assert_eq!(
            t.accounted(),
            (b.map + b.records) as u64 + t.len() as u64 * FLOW_HEAP
        );
    }

    #[test]
    fn a_free_slot_costs_nothing_beside_a_flow() {
        assert_eq!(
            FlowTable::<()>::slot_bytes(),
            std::mem::size_of::<Flow<()>>()
        );
    }

    #[test]
    fn a_flood_past_the_bound_reuses_slots_and_holds_its_bytes() {
        let cfg = FlowConfig {
            max_flows: 300,
            ..FlowConfig::default()
        };
        let mut t: FlowTable<()> = FlowTable::new(cfg);
        let mut out = Vec::new();
        let mut after_first = 0;
        for i in 0..20_000u32 {
            // Hostile: every packet a new flow, all in the same second.
            t.packet(&udp_from(i), &ctx(u64::from(i), 1), &mut out);
            assert!(t.len() <= 300);
            if i == 999 {
                after_first = t.bytes(|_| 0).records;
            }
        }
        assert_eq!(t.len(), 300);
        assert_eq!(t.slab.slots(), 300, "a slot per flow held, no more");
        assert_eq!(t.stats().ended_forced, 19_700);
        assert_eq!(out.len(), 19_700);
        assert!(out.iter().all(|e| e.record.reason == EndReason::Forced));
        assert_eq!(
            t.bytes(|_| 0).records,
            after_first,
            "no growth after the bound"
        );
        assert_charged_as_counted(&t);
        t.flush(&mut out);
        assert_eq!(out.len(), 20_000);
        assert_eq!((t.len(), t.accounted()), (0, 0));
    }

    #[test]
    fn timed_out_flows_leave_slots_that_new_flows_take() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let mut out = Vec::new();
        for i in 0..2_000u32 {
            t.packet(&udp_from(i), &ctx(u64::from(i), 10), &mut out);
        }
        assert_charged_as_counted(&t);
        let (slots, bytes) = (t.slab.slots(), t.bytes(|_| 0));
        // UDP idle timeout 120 s: all end at 130 s, in first-packet order.
        t.tick(130 * NS, 5_000, &mut out);
        assert_eq!(out.len(), 2_000);
        assert!(out.windows(2).all(|w| w[0].key.sub < w[1].key.sub));
        assert_eq!(t.len(), 0);
        assert_charged_as_counted(&t);
        for i in 0..2_000u32 {
            t.packet(&udp_from(i + 7), &ctx(10_000 + u64::from(i), 131), &mut out);
        }
        assert_eq!(t.slab.slots(), slots);
        let again = t.bytes(|_| 0);
        assert_eq!((again.map, again.records), (bytes.map, bytes.records));
        assert_charged_as_counted(&t);
    }

    #[test]
    fn a_flow_that_took_a_slot_is_not_ended_by_its_predecessors_timer() {
        let mut t: FlowTable<()> = FlowTable::new(FlowConfig::default());
        let mut out = Vec::new();
        let (c, s) = (("10.0.0.9", 50000), ("10.0.0.1", 80));
        t.packet(&pkt(c.0, c.1, s.0, s.1, tcp(SYN)), &ctx(0, 1), &mut out);
        // RST: closed, timer at 1 + 10 s.
        t.packet(
            &pkt(s.0, s.1, c.0, c.1, tcp(RST | ACK)),
            &ctx(1, 1),
            &mut out,
        );
        // The closed flow times out; a new one takes its slot, due at 15 + 60 s.
        t.tick(11 * NS, 2, &mut out);
        assert_eq!(out.len(), 1);
        t.packet(&pkt(c.0, c.1, s.0, s.1, tcp(SYN)), &ctx(3, 15), &mut out);
        // A port reuse in place: the third flow is in the same slot again.
        t.packet(
            &pkt(s.0, s.1, c.0, c.1, tcp(RST | ACK)),
            &ctx(4, 15),
            &mut out,
        );
        t.packet(&pkt(c.0, c.1, s.0, s.1, tcp(SYN)), &ctx(5, 16), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].record.reason, EndReason::TcpReuse);
        assert_eq!(t.slab.slots(), 1);
        // The second flow's closed timer (15 + 10 s) must not end the third.
        t.tick(30 * NS, 6, &mut out);
        assert_eq!((out.len(), t.len()), (2, 1));
        t.tick(76 * NS, 7, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].record.reason, EndReason::Timeout);
        assert_eq!(out[2].key.sub, 10, "the flow of packet 5");
    }

    #[test]
    fn every_record_of_a_flow_carries_its_community_id() {
        let cfg = FlowConfig {
            active_timeout: 30,
            community_id_seed: 7,
            ..FlowConfig::default()
        };
        let mut t: FlowTable<()> = FlowTable::new(cfg);
        let mut out = Vec::new();
        // First seen from the server: the digest is of client → server all the same.
        let from_server = pkt("10.0.0.1", 443, "10.0.0.9", 40000, tcp(SYN | ACK));
        for i in 0..7u64 {
            t.tick(i * 10 * NS, i * 2, &mut out);
            t.packet(&from_server, &ctx(i * 2 + 1, i * 10), &mut out);
        }
        t.flush(&mut out);
        assert_eq!(out.len(), 3);
        let want = community_id::digest(
            7,
            "10.0.0.9".parse().unwrap(),
            "10.0.0.1".parse().unwrap(),
            40000,
            443,
            6,
            false,
        );
        assert!(out.iter().all(|e| e.record.meta.community_id == want));
    }
}
