//! What a replay's events tell the inventory beyond the findings: who held
//! each address (DHCP, NBNS and mDNS claims into a [`HostTable`]) and which
//! internal addresses were active at all. It reads the event stream the
//! output stage reads; it does no per-packet work of its own (claims are
//! rare, flow records one per flow), and only when an inventory is asked for.

use super::build::HostActivity;
use crate::dissect::{Event, EventKind};
use crate::resolve::hosts::HostTable;
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Internal addresses whose activity is kept (as the host table's bound).
pub const MAX_ACTIVE_ADDRESSES: usize = crate::resolve::hosts::MAX_ADDRESSES;

/// Collects host identities and activity from a replay's events.
#[derive(Debug)]
pub struct Collector {
    internal: Vec<IpNet>,
    hosts: HostTable,
    activity: BTreeMap<IpAddr, HostActivity>,
    /// Addresses not kept because the activity table was full.
    pub activity_shed: u64,
    first_ns: Option<u64>,
    last_ns: u64,
}

/// What the collector learnt.
#[derive(Debug)]
pub struct Collected {
    pub hosts: HostTable,
    pub activity: Vec<HostActivity>,
    pub activity_shed: u64,
    /// Packet time of the first and last event (0, 0 when none).
    pub period_ns: (u64, u64),
}

impl Collector {
    /// Activity is kept for addresses in `internal` (the policy's networks).
    pub fn new(internal: &[IpNet]) -> Self {
        Collector {
            internal: internal.to_vec(),
            hosts: HostTable::new(),
            activity: BTreeMap::new(),
            activity_shed: 0,
            first_ns: None,
            last_ns: 0,
        }
    }

    fn is_internal(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let unicast = match ip {
            IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()),
            IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
        };
        unicast && self.internal.iter().any(|n| n.contains(&ip))
    }

    fn active(&mut self, ip: IpAddr, first: u64, last: u64, bytes: u64) {
        if !self.is_internal(ip) {
            return;
        }
        if !self.activity.contains_key(&ip) && self.activity.len() >= MAX_ACTIVE_ADDRESSES {
            self.activity_shed += 1;
            return;
        }
        let a = self.activity.entry(ip).or_insert(HostActivity {
            address: ip,
            first_seen_ns: first,
            last_seen_ns: last,
            flows: 0,
            bytes: 0,
        });
        a.first_seen_ns = a.first_seen_ns.min(first);
        a.last_seen_ns = a.last_seen_ns.max(last);
        a.flows += 1;
        a.bytes = a.bytes.saturating_add(bytes);
    }

    fn clock(&mut self, first: u64, last: u64) {
        self.first_ns = Some(self.first_ns.map_or(first, |f| f.min(first)));
        self.last_ns = self.last_ns.max(last);
    }

    /// Takes one event of the replay.
    pub fn observe(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::Flow(f) => {
                self.clock(f.start_ns, f.end_ns);
                let bytes = f.bytes_toserver.saturating_add(f.bytes_toclient);
                if f.pkts_toserver > 0 {
                    self.active(f.meta.src, f.start_ns, f.end_ns, bytes);
                }
                // The server side counts as active only if it answered.
                if f.pkts_toclient > 0 {
                    self.active(f.meta.dst, f.start_ns, f.end_ns, bytes);
                }
            }
            EventKind::App(a) => {
                self.clock(a.ts_ns, a.ts_ns);
                self.hosts.observe_app(a);
            }
        }
    }

    pub fn finish(self) -> Collected {
        Collected {
            hosts: self.hosts,
            activity: self.activity.into_values().collect(),
            activity_shed: self.activity_shed,
            period_ns: (self.first_ns.unwrap_or(0), self.last_ns),
        }
    }
}

/// What a replay knows about itself, for its inventory record.
pub struct RunInfo<'a> {
    pub sensor_id: &'a str,
    /// What was replayed (file names).
    pub source: &'a str,
    pub catalog_version: &'a str,
    /// The policy's home country, and which policy it was (file and hash).
    pub home_country: &'a str,
    pub policy: &'a str,
    /// Capture time of the first and last packet, packets and bytes read:
    /// the same capture gives the same run id, so replaying it again
    /// changes nothing.
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
    pub packets: u64,
    pub bytes: u64,
}

/// The run's inventory record: findings keyed by host identity, with each
/// product's kind from `kind_of(vendor, product)`.
pub fn record(
    info: &RunInfo<'_>,
    findings: &[crate::judge::Finding],
    collected: &Collected,
    kind_of: &dyn Fn(&str, &str) -> Option<String>,
) -> super::RunRecord {
    let mut fp = Vec::with_capacity(32);
    for v in [
        info.first_ts.unwrap_or(0),
        info.last_ts.unwrap_or(0),
        info.packets,
        info.bytes,
    ] {
        fp.extend_from_slice(&v.to_be_bytes());
    }
    let meta = super::build::RunMeta {
        sensor_id: info.sensor_id,
        fingerprint: &fp,
        period_start_ns: info.first_ts.unwrap_or(collected.period_ns.0),
        period_end_ns: info.last_ts.unwrap_or(collected.period_ns.1),
        source: info.source,
        catalog_version: info.catalog_version,
        home_country: Some(info.home_country),
        policy: Some(info.policy),
    };
    let mut run = super::build::run_record(&meta, findings, &collected.hosts, &collected.activity);
    for f in &mut run.findings {
        f.category = kind_of(&f.vendor, &f.product);
    }
    run
}
