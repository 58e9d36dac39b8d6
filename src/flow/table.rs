//! One worker's flow table: a bounded hash map plus timers on packet time.

use super::community_id;
use super::key::{FlowKey, Side};
use super::tcp::TcpTrack;
use crate::decode::{Packet, Tunnel, L4};
use crate::event::{
    EndReason, Event, EventKey, EventKind, FlowMeta, FlowRecord, FlowState, TcpSummary, Vlan,
};
use hashbrown::HashMap;
use rustc_hash::FxBuildHasher;
use std::collections::BTreeMap;

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
    /// Input file index.
    pub file: u32,
}

/// One bidirectional flow.
#[derive(Debug)]
pub struct Flow {
    pub key: FlowKey,
    /// Index of the flow's first packet: unique, and the same for any worker count.
    pub first_idx: u64,
    /// Which side of the key is the client.
    pub client: Side,
    pub first_ts: u64,
    pub last_ts: u64,
    /// Start of the current record (differs from `first_ts` after an active timeout).
    pub record_start: u64,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub tcp: TcpTrack,
    pub tunnel: Option<Tunnel>,
    pub icmp: Option<(u8, u8)>,
    pub community_id: [u8; 20],
    pub app_proto: Option<&'static str>,
    pub file: u32,
    /// The timer bucket (second) this flow is filed under; older entries are stale.
    timer_sec: u64,
}

impl Flow {
    pub fn replied(&self) -> bool {
        self.pkts_toserver > 0 && self.pkts_toclient > 0
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

    fn endpoints(&self) -> (std::net::IpAddr, u16, std::net::IpAddr, u16) {
        let k = &self.key;
        match self.client {
            Side::Lo => (k.lo, k.lo_port, k.hi, k.hi_port),
            Side::Hi => (k.hi, k.hi_port, k.lo, k.lo_port),
        }
    }

    /// The fields every event of this flow carries, client → server.
    pub fn meta(&self) -> FlowMeta {
        let (src, sport, dst, dport) = self.endpoints();
        let (sport, dport) = if self.icmp.is_some() {
            (0, 0)
        } else {
            (sport, dport)
        };
        let vlan_len = self.key.vlan.iter().take_while(|&&v| v != 0).count() as u8;
        FlowMeta {
            flow_id: flow_id(self.first_idx),
            src,
            dst,
            sport,
            dport,
            proto: self.key.proto,
            vlan: Vlan {
                ids: self.key.vlan,
                len: vlan_len,
            },
            community_id: self.community_id,
            tunnel: self.tunnel,
            icmp: self.icmp,
        }
    }

    fn record(&self, reason: EndReason) -> FlowRecord {
        FlowRecord {
            meta: self.meta(),
            start_ns: self.record_start,
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
            app_proto: self.app_proto,
            file: self.file,
        }
    }
}

/// A stable flow id from the first packet index (splitmix64), kept within
/// 2^53 so JSON readers that use doubles do not round it.
pub fn flow_id(first_idx: u64) -> u64 {
    let mut z = first_idx.wrapping_add(0x9e37_79b9_7f4a_7c15);
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
        L4::Icmp { icmp_type, .. } => {
            // Replies come from the server.
            return if matches!(icmp_type, 0 | 14 | 16 | 18 | 129) {
                other
            } else {
                sender
            };
        }
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
fn deadline(cfg: &FlowConfig, f: &Flow) -> u64 {
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
    let idle_end = f.last_ts.saturating_add(idle.saturating_mul(NS));
    idle_end.min(active_end(cfg, f))
}

fn active_end(cfg: &FlowConfig, f: &Flow) -> u64 {
    f.record_start
        .saturating_add(cfg.active_timeout.saturating_mul(NS))
}

/// Files `f` under the second of its deadline; any older entry becomes stale.
fn file_timer(cfg: &FlowConfig, timers: &mut BTreeMap<u64, Vec<FlowKey>>, f: &mut Flow) {
    let sec = deadline(cfg, f).div_ceil(NS);
    f.timer_sec = sec;
    timers.entry(sec).or_default().push(f.key);
}

/// A worker's flows.
pub struct FlowTable {
    cfg: FlowConfig,
    flows: HashMap<FlowKey, Flow, FxBuildHasher>,
    /// Deadline second → flows filed there (checked lazily, stale entries skipped).
    timers: BTreeMap<u64, Vec<FlowKey>>,
    stats: FlowStats,
}

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            flows: HashMap::with_capacity_and_hasher(cfg.max_flows.min(1 << 16), FxBuildHasher),
            timers: BTreeMap::new(),
            cfg,
            stats: FlowStats::default(),
        }
    }

    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    fn file_timer(&mut self, key: FlowKey) {
        if let Some(f) = self.flows.get_mut(&key) {
            file_timer(&self.cfg, &mut self.timers, f);
        }
    }

    fn end(&mut self, key: &FlowKey, reason: EndReason, ev_key: EventKey, out: &mut Vec<Event>) {
        let Some(f) = self.flows.remove(key) else {
            return;
        };
        self.count_end(&f, reason);
        out.push(Event {
            key: ev_key,
            kind: EventKind::Flow(Box::new(f.record(reason))),
        });
    }

    fn count_end(&mut self, f: &Flow, reason: EndReason) {
        match reason {
            EndReason::Timeout => self.stats.ended_timeout += 1,
            EndReason::ActiveTimeout => self.stats.ended_active_timeout += 1,
            EndReason::Forced => self.stats.ended_forced += 1,
            EndReason::Shutdown => self.stats.ended_shutdown += 1,
            EndReason::TcpReuse => self.stats.ended_tcp_reuse += 1,
        }
        match f.state() {
            FlowState::New => self.stats.end_state_new += 1,
            FlowState::Established => self.stats.end_state_established += 1,
            FlowState::Closed => self.stats.end_state_closed += 1,
        }
    }

    /// Makes room for one flow by ending the one whose timer is due first.
    fn evict_one(&mut self, idx: u64, out: &mut Vec<Event>) {
        while let Some(mut entry) = self.timers.first_entry() {
            let sec = *entry.key();
            let Some(key) = entry.get_mut().pop() else {
                entry.remove();
                continue;
            };
            let live = self.flows.get(&key).is_some_and(|f| f.timer_sec == sec);
            if live {
                let first = self.flows.get(&key).map_or(0, |f| f.first_idx);
                let ev = EventKey {
                    pkt: idx,
                    class: 0,
                    sub: first,
                };
                self.end(&key, EndReason::Forced, ev, out);
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
        out: &mut Vec<Event>,
    ) -> (&mut Flow, bool) {
        let (key, sender, one_way) = FlowKey::of(p);
        let tcp_flags = match p.l4 {
            L4::Tcp(t) => Some(t.flags),
            _ => None,
        };
        // A fresh SYN on a closed connection starts a new flow.
        if let (Some(fl), Some(existing)) = (tcp_flags, self.flows.get(&key)) {
            let syn_only = fl & super::tcp::SYN != 0 && fl & super::tcp::ACK == 0;
            if syn_only && existing.tcp.is_closed() {
                let ev = EventKey {
                    pkt: ctx.idx,
                    class: 0,
                    sub: existing.first_idx,
                };
                self.end(&key, EndReason::TcpReuse, ev, out);
            }
        }
        if !self.flows.contains_key(&key) && self.flows.len() >= self.cfg.max_flows {
            self.evict_one(ctx.idx, out);
        }
        let held = self.flows.len() as u64;
        let f = match self.flows.entry(key) {
            hashbrown::hash_map::Entry::Occupied(o) => o.into_mut(),
            hashbrown::hash_map::Entry::Vacant(v) => {
                let f = v.insert(new_flow(&self.cfg, p, key, sender, one_way, ctx));
                self.stats.created += 1;
                self.stats.max_active = self.stats.max_active.max(held + 1);
                match p.l4 {
                    L4::Tcp(_) => self.stats.tcp += 1,
                    L4::Udp => self.stats.udp += 1,
                    L4::Icmp { .. } if p.proto == 58 => self.stats.icmpv6 += 1,
                    L4::Icmp { .. } => self.stats.icmpv4 += 1,
                    L4::Other => self.stats.other += 1,
                }
                file_timer(&self.cfg, &mut self.timers, f);
                f
            }
        };
        let to_server = sender == f.client;
        if to_server {
            f.pkts_toserver += 1;
            f.bytes_toserver += u64::from(ctx.wire_len);
        } else {
            f.pkts_toclient += 1;
            f.bytes_toclient += u64::from(ctx.wire_len);
        }
        // Out-of-order timestamps never move a flow backwards in time.
        f.last_ts = f.last_ts.max(ctx.ts_ns);
        f.file = ctx.file;
        if let Some(fl) = tcp_flags {
            let was_closed = f.tcp.is_closed();
            let replied = f.pkts_toserver > 0 && f.pkts_toclient > 0;
            f.tcp.update(fl, to_server, replied);
            if !was_closed && f.tcp.is_closed() {
                // Closing shortens the timeout: file an earlier timer.
                file_timer(&self.cfg, &mut self.timers, f);
            }
        }
        (f, to_server)
    }

    /// Ends flows whose deadline is at or before `now_ns` (the capture clock
    /// at global packet `idx`), in first-packet order.
    pub fn tick(&mut self, now_ns: u64, idx: u64, out: &mut Vec<Event>) {
        let now_sec = now_ns / NS;
        let due: Vec<u64> = self.timers.range(..=now_sec).map(|(s, _)| *s).collect();
        let mut ended: Vec<(u64, FlowKey, EndReason)> = Vec::new();
        let mut refile: Vec<FlowKey> = Vec::new();
        for sec in due {
            let Some(keys) = self.timers.remove(&sec) else {
                continue;
            };
            for key in keys {
                let Some(f) = self.flows.get(&key) else {
                    continue;
                };
                if f.timer_sec != sec {
                    continue;
                }
                let deadline = deadline(&self.cfg, f);
                if deadline > now_ns {
                    refile.push(key);
                    continue;
                }
                let idle_end = deadline < active_end(&self.cfg, f);
                let reason = if idle_end {
                    EndReason::Timeout
                } else {
                    EndReason::ActiveTimeout
                };
                ended.push((f.first_idx, key, reason));
            }
        }
        ended.sort_unstable_by_key(|(first, _, _)| *first);
        for (first, key, reason) in ended {
            let ev = EventKey {
                pkt: idx,
                class: 0,
                sub: first,
            };
            if reason == EndReason::ActiveTimeout {
                let Some(f) = self.flows.get_mut(&key) else {
                    continue;
                };
                let rec = f.record(reason);
                f.record_start = f.last_ts.max(now_ns);
                f.pkts_toserver = 0;
                f.pkts_toclient = 0;
                f.bytes_toserver = 0;
                f.bytes_toclient = 0;
                self.stats.ended_active_timeout += 1;
                out.push(Event {
                    key: ev,
                    kind: EventKind::Flow(Box::new(rec)),
                });
                refile.push(key);
            } else {
                self.end(&key, reason, ev, out);
            }
        }
        for key in refile {
            self.file_timer(key);
        }
    }

    /// Ends every flow still open (end of capture), in first-packet order.
    pub fn flush(&mut self, out: &mut Vec<Event>) {
        let mut keys: Vec<(u64, FlowKey)> =
            self.flows.values().map(|f| (f.first_idx, f.key)).collect();
        keys.sort_unstable_by_key(|(first, _)| *first);
        for (first, key) in keys {
            let ev = EventKey {
                pkt: u64::MAX,
                class: 0,
                sub: first,
            };
            self.end(&key, EndReason::Shutdown, ev, out);
        }
        self.timers.clear();
    }
}

fn new_flow(
    cfg: &FlowConfig,
    p: &Packet<'_>,
    key: FlowKey,
    sender: Side,
    one_way: bool,
    ctx: &PacketCtx,
) -> Flow {
    let (icmp, sport, dport) = match p.l4 {
        L4::Icmp { icmp_type, code } => {
            let (s, d, _) = community_id::icmp_ports(p.proto, icmp_type, code);
            (Some((icmp_type, code)), s, d)
        }
        _ => (None, p.sport, p.dport),
    };
    Flow {
        key,
        first_idx: ctx.idx,
        client: orient(p, sender),
        first_ts: ctx.ts_ns,
        last_ts: ctx.ts_ns,
        record_start: ctx.ts_ns,
        pkts_toserver: 0,
        pkts_toclient: 0,
        bytes_toserver: 0,
        bytes_toclient: 0,
        tcp: TcpTrack::default(),
        tunnel: p.tunnel,
        icmp,
        community_id: community_id::digest(
            cfg.community_id_seed,
            p.src,
            p.dst,
            sport,
            dport,
            p.proto,
            one_way,
        ),
        app_proto: None,
        file: ctx.file,
        timer_sec: 0,
    }
}
