//! Which flows back which finding: filled by the output stage while the
//! replay runs, read by the evidence pass afterwards.
//!
//! A flow is identified as the flow table knows it: its key (addresses,
//! ports, protocol, VLAN tags, tunnel) and the packet indices it spans, from
//! the index of its first packet (the flow's uid, carried in the record's
//! event key) to the index of the packet that ended it. Indices, unlike
//! timestamps, tell apart two flows on one 5-tuple even when packet times
//! tie or run backwards.

use crate::decode::{Packet, TcpInfo, L4};
use crate::dissect::AppRecord;
use crate::flow::{community_id, FlowKey};
use crate::flow::{EventKey, FlowMeta, FlowRecord};
use crate::judge::policy::Policy;
use crate::resolve::{Attribution, EvidenceKind};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Findings are keyed as the judge keys them.
pub type FindingKey = (IpAddr, String, String);

/// Bounds of a [`FlowIndex`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexLimits {
    /// Flows remembered in all.
    pub max_flows: usize,
    /// Flows remembered per finding.
    pub max_flows_per_finding: usize,
}

impl Default for IndexLimits {
    fn default() -> Self {
        IndexLimits {
            max_flows: 1 << 18,
            max_flows_per_finding: 10_000,
        }
    }
}

/// A flow behind one or more findings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRef {
    pub key: FlowKey,
    pub flow_id: u64,
    pub community_id: String,
    /// Client → server, as the flow's events name it.
    pub meta: FlowMeta,
    /// Index of the flow's first packet (`u64::MAX` until its record is seen).
    pub first_pkt: u64,
    /// Index of the packet that ended it (exclusive; `u64::MAX` for a flow
    /// still open at the end of the capture; 0 until its record is seen).
    pub end_pkt: u64,
    /// Findings (indices into [`FlowIndex::findings`]) this flow backs.
    pub findings: Vec<u32>,
    /// Kinds of evidence the flow gave, in the order first seen.
    pub kinds: Vec<EvidenceKind>,
}

impl FlowRef {
    /// Whether packet `idx` of the replay falls inside this flow.
    pub fn covers(&self, idx: u64) -> bool {
        self.first_pkt <= idx && idx < self.end_pkt
    }
}

/// The flows of one finding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingFlows {
    /// Indices into [`FlowIndex::flows`].
    pub flows: Vec<u32>,
    /// Flows not remembered: the per-finding or global bound was reached.
    pub dropped: u64,
}

/// Flows per finding, collected in the output stage (see the module docs).
#[derive(Debug, Default)]
pub struct FlowIndex {
    limits: IndexLimits,
    pub flows: Vec<FlowRef>,
    by_id: HashMap<u64, u32>,
    slots: BTreeMap<FindingKey, u32>,
    pub findings: Vec<FindingFlows>,
}

/// The flow key of a flow's events, rebuilt from its metadata exactly as the
/// flow table built it from the flow's first packet.
pub fn key_of(m: &FlowMeta) -> FlowKey {
    let l4 = match (m.icmp, m.proto) {
        (Some((icmp_type, code)), _) => L4::Icmp { icmp_type, code },
        (None, 6) => L4::Tcp(TcpInfo {
            flags: 0,
            seq: 0,
            ack: 0,
            window: 0,
        }),
        (None, 17) => L4::Udp,
        _ => L4::Other,
    };
    let p = Packet {
        src: m.src,
        dst: m.dst,
        sport: m.sport,
        dport: m.dport,
        proto: m.proto,
        ip_version: if m.src.is_ipv6() { 6 } else { 4 },
        vlan: m.vlan.ids,
        vlan_len: m.vlan.len,
        l4,
        payload: &[],
        tunnel: m.tunnel,
        truncated: false,
        inner_invalid: None,
    };
    FlowKey::of(&p).0
}

impl FlowIndex {
    pub fn new(limits: IndexLimits) -> Self {
        FlowIndex {
            limits,
            ..Default::default()
        }
    }

    /// The flows of finding (host, vendor, product), if it has any.
    pub fn finding(&self, host: IpAddr, vendor: &str, product: &str) -> Option<&FindingFlows> {
        self.finding_slot(host, vendor, product)
            .and_then(|i| self.findings.get(i as usize))
    }

    /// The flow with this flow_id, if it backs a finding.
    pub fn flow(&self, flow_id: u64) -> Option<&FlowRef> {
        self.by_id
            .get(&flow_id)
            .and_then(|&i| self.flows.get(i as usize))
    }

    /// The (host, vendor, product) of finding slot `slot`.
    pub fn finding_key(&self, slot: u32) -> Option<&FindingKey> {
        self.slots.iter().find(|(_, &s)| s == slot).map(|(k, _)| k)
    }

    /// The index of finding (host, vendor, product) in [`FlowIndex::findings`].
    pub fn finding_slot(&self, host: IpAddr, vendor: &str, product: &str) -> Option<u32> {
        let k = (host, vendor.to_string(), product.to_string());
        self.slots.get(&k).copied()
    }

    fn slot(&mut self, key: FindingKey) -> u32 {
        let next = self.findings.len() as u32;
        let i = *self.slots.entry(key).or_insert(next);
        if i == next {
            self.findings.push(FindingFlows::default());
        }
        i
    }

    /// Records that the flow of `meta` backs finding (`host`, `a`'s vendor and
    /// product) with evidence of `a`'s kind.
    fn add(&mut self, meta: &FlowMeta, host: IpAddr, a: &Attribution<'_>) -> Option<u32> {
        let slot = self.slot((
            host,
            a.endpoint.vendor.to_string(),
            a.endpoint.product.to_string(),
        ));
        let flow = match self.by_id.get(&meta.flow_id) {
            Some(&i) => i,
            None => {
                if self.flows.len() >= self.limits.max_flows {
                    if let Some(f) = self.findings.get_mut(slot as usize) {
                        f.dropped += 1;
                    }
                    return None;
                }
                let i = self.flows.len() as u32;
                self.flows.push(FlowRef {
                    key: key_of(meta),
                    flow_id: meta.flow_id,
                    community_id: community_id::encode(&meta.community_id),
                    meta: meta.clone(),
                    first_pkt: u64::MAX,
                    end_pkt: 0,
                    findings: Vec::new(),
                    kinds: Vec::new(),
                });
                self.by_id.insert(meta.flow_id, i);
                i
            }
        };
        let limit = self.limits.max_flows_per_finding;
        let fr = self.flows.get_mut(flow as usize)?;
        if !fr.kinds.contains(&a.kind) {
            fr.kinds.push(a.kind);
        }
        if !fr.findings.contains(&slot) {
            let ff = self.findings.get_mut(slot as usize)?;
            if ff.flows.len() >= limit {
                ff.dropped += 1;
                return None;
            }
            ff.flows.push(flow);
            fr.findings.push(slot);
        }
        Some(flow)
    }

    /// A flow record (every one, attributed or not: a flow asked about in DNS
    /// learns its packet range here). `all` is the record's attribution,
    /// strongest first, as the judge got it.
    pub fn on_flow(
        &mut self,
        ev: EventKey,
        rec: &FlowRecord,
        all: &[Attribution<'_>],
        policy: &Policy,
    ) {
        let m = &rec.meta;
        // The judge keys a flow by its client and first attribution.
        if let Some(first) = all.first() {
            if policy.is_internal(m.src) {
                if let Some(i) = self.add(m, m.src, first) {
                    if let Some(fr) = self.flows.get_mut(i as usize) {
                        for a in all.iter().skip(1) {
                            if !fr.kinds.contains(&a.kind) {
                                fr.kinds.push(a.kind);
                            }
                        }
                    }
                }
            }
        }
        if let Some(&i) = self.by_id.get(&m.flow_id) {
            if let Some(fr) = self.flows.get_mut(i as usize) {
                // Every record of a flow carries its uid (2 × first packet
                // index, + 1 for a tunnel's outer flow) in `sub`.
                fr.first_pkt = fr.first_pkt.min(ev.sub / 2);
                fr.end_pkt = fr.end_pkt.max(ev.pkt);
            }
        }
    }

    /// A DNS question (or answer) for a catalogued name, asked by `a`'s client.
    pub fn on_dns(&mut self, a: &AppRecord, q: &Attribution<'_>, policy: &Policy) {
        if policy.is_internal(a.meta.src) {
            self.add(&a.meta, a.meta.src, q);
        }
    }

    /// Flows not remembered, over all findings.
    pub fn dropped(&self) -> u64 {
        self.findings.iter().map(|f| f.dropped).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Tunnel;
    use crate::flow::Vlan;

    fn meta(src: &str, sport: u16, dst: &str, dport: u16, proto: u8) -> FlowMeta {
        FlowMeta {
            flow_id: 7,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            proto,
            vlan: Vlan {
                ids: [10, 0, 0],
                len: 1,
            },
            community_id: [0; 20],
            tunnel: None,
            icmp: None,
        }
    }

    fn packet<'a>(m: &FlowMeta, reverse: bool, l4: L4) -> Packet<'a> {
        let (src, dst, sport, dport) = if reverse {
            (m.dst, m.src, m.dport, m.sport)
        } else {
            (m.src, m.dst, m.sport, m.dport)
        };
        Packet {
            src,
            dst,
            sport,
            dport,
            proto: m.proto,
            ip_version: 4,
            vlan: m.vlan.ids,
            vlan_len: m.vlan.len,
            l4,
            payload: b"x",
            tunnel: m.tunnel,
            truncated: false,
            inner_invalid: None,
        }
    }

    #[test]
    fn rebuilt_key_matches_both_directions_of_the_flow() {
        let m = meta("10.1.10.11", 49152, "54.183.140.32", 443, 6);
        let tcp = L4::Tcp(TcpInfo {
            flags: 0x18,
            seq: 9,
            ack: 3,
            window: 100,
        });
        let k = key_of(&m);
        assert_eq!(FlowKey::of(&packet(&m, false, tcp)).0, k);
        assert_eq!(FlowKey::of(&packet(&m, true, tcp)).0, k);
        // Another VLAN, another flow.
        let mut other = m.clone();
        other.vlan.ids[0] = 11;
        assert_ne!(key_of(&other), k);
        // Inside a tunnel, another flow again.
        let mut tun = m.clone();
        tun.tunnel = Some(Tunnel {
            kind: crate::decode::TunnelKind::Vxlan,
            src: "192.0.2.1".parse().unwrap(),
            dst: "192.0.2.2".parse().unwrap(),
            sport: 5555,
            dport: 4789,
            proto: 17,
            depth: 1,
            vlan: [0; 3],
            vlan_len: 0,
        });
        assert_ne!(key_of(&tun), k);
        assert_eq!(FlowKey::of(&packet(&tun, true, tcp)).0, key_of(&tun));
    }

    #[test]
    fn icmp_echo_and_reply_share_the_rebuilt_key() {
        let mut m = meta("10.1.10.11", 0, "8.8.8.8", 0, 1);
        m.icmp = Some((8, 0));
        let k = key_of(&m);
        let req = packet(
            &m,
            false,
            L4::Icmp {
                icmp_type: 8,
                code: 0,
            },
        );
        let rep = packet(
            &m,
            true,
            L4::Icmp {
                icmp_type: 0,
                code: 0,
            },
        );
        assert_eq!(FlowKey::of(&req).0, k);
        assert_eq!(FlowKey::of(&rep).0, k);
    }

    #[test]
    fn packet_ranges_come_from_the_record_keys() {
        let m = meta("10.1.10.11", 49152, "54.183.140.32", 443, 6);
        let mut fr = FlowRef {
            key: key_of(&m),
            flow_id: 7,
            community_id: String::new(),
            meta: m,
            first_pkt: u64::MAX,
            end_pkt: 0,
            findings: vec![],
            kinds: vec![],
        };
        assert!(!fr.covers(0));
        fr.first_pkt = 4;
        fr.end_pkt = 9;
        assert!(!fr.covers(3) && fr.covers(4) && fr.covers(8) && !fr.covers(9));
    }
}
