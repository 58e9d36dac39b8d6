//! Judge stage: attributed evidence becomes findings, one per (host, vendor,
//! product), judged by the jurisdiction policy.
//!
//! A finding is only made for a host inside the policy's internal networks
//! (the client of the flow, or the asker of a DNS question). Everything a
//! finding holds is bounded: destinations and evidence items are capped and
//! what did not fit is counted.

pub mod policy;

use crate::flow::FlowRecord;
use crate::resolve::catalog::Tier;
use crate::resolve::geoip::GeoAnswer;
use crate::resolve::{Attribution, EvidenceKind};
use policy::{Candidate, FindingKind, Policy, Severity};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Evidence items kept per finding (the first ones; the rest are counted).
pub const MAX_EVIDENCE: usize = 32;
/// Distinct destinations kept per finding.
pub const MAX_DESTINATIONS: usize = 64;
/// Distinct flow ids remembered per finding to count flows once.
const MAX_FLOW_IDS: usize = 4096;

/// One piece of evidence behind a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    /// Which catalog tier matched: documented endpoint, owned domain, ...
    pub tier: Tier,
    /// The name (or address) that matched the catalog.
    pub value: String,
    /// The catalog pattern it matched.
    pub pattern: String,
    pub purpose: &'static str,
    /// Where the catalog says the endpoint is documented.
    pub source: String,
    pub community_id: String,
    pub flow_id: u64,
    pub timestamp_ns: u64,
}

/// Where a product's traffic went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Destination {
    /// None for a CONNECT through a proxy (only the name is known) or a DNS-only finding.
    pub ip: Option<IpAddr>,
    pub names: BTreeSet<String>,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
    pub flows: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
}

/// How sure the finding is: direct names beat DNS bindings beat address
/// ranges and lone DNS questions; catalog entries built by inference never
/// reach high.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// The exception of the policy that covers a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Excepted {
    pub reason: String,
    /// The exception's last day (`YYYY-MM-DD`), if it has one.
    pub expires: Option<String>,
    pub expired: bool,
    pub line: u32,
}

/// Host X runs vendor Y's product Z, which phones home to these places.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub host: IpAddr,
    pub vendor: String,
    pub product: String,
    pub vendor_country: Vec<String>,
    pub kind: FindingKind,
    pub severity: Severity,
    pub confidence: Confidence,
    /// The strongest catalog tier among the evidence.
    pub tier: Tier,
    pub foreign_vendor: bool,
    pub data_abroad: bool,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// Distinct flows (an active-timeout split counts once).
    pub flows: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub destinations: Vec<Destination>,
    pub destinations_dropped: u64,
    pub evidence: Vec<Evidence>,
    /// Evidence seen, by kind (including what `evidence` had no room for).
    pub evidence_counts: BTreeMap<EvidenceKind, u64>,
    pub dns_only: bool,
    pub exception: Option<Excepted>,
    /// One line an auditor can read.
    pub reason: String,
    /// Who the host is, where identity claims (DHCP, NBNS, mDNS) say so.
    pub identity: Option<crate::resolve::hosts::HostRecord>,
}

#[derive(Clone, Debug)]
struct Acc {
    vendor_country: Vec<String>,
    first_seen_ns: u64,
    last_seen_ns: u64,
    flow_ids: BTreeSet<u64>,
    flows: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    /// Keyed by address (or, behind a proxy, by name).
    destinations: BTreeMap<String, Destination>,
    destinations_dropped: u64,
    evidence: Vec<Evidence>,
    evidence_counts: BTreeMap<EvidenceKind, u64>,
    best: Confidence,
    best_tier: Tier,
}

impl Acc {
    /// Adds what another address of the same host saw (same bounds as
    /// when the evidence arrived; what does not fit is counted).
    fn absorb(&mut self, o: &Acc) {
        self.first_seen_ns = self.first_seen_ns.min(o.first_seen_ns);
        self.last_seen_ns = self.last_seen_ns.max(o.last_seen_ns);
        for id in &o.flow_ids {
            if self.flow_ids.len() >= MAX_FLOW_IDS {
                break;
            }
            self.flow_ids.insert(*id);
        }
        // Flows of different client addresses are different flows.
        self.flows = self.flows.saturating_add(o.flows);
        self.bytes_toserver = self.bytes_toserver.saturating_add(o.bytes_toserver);
        self.bytes_toclient = self.bytes_toclient.saturating_add(o.bytes_toclient);
        for (k, d) in &o.destinations {
            if let Some(mine) = self.destinations.get_mut(k) {
                mine.flows = mine.flows.saturating_add(d.flows);
                mine.bytes_toserver = mine.bytes_toserver.saturating_add(d.bytes_toserver);
                mine.bytes_toclient = mine.bytes_toclient.saturating_add(d.bytes_toclient);
                mine.names.extend(d.names.iter().cloned());
            } else if self.destinations.len() < MAX_DESTINATIONS {
                self.destinations.insert(k.clone(), d.clone());
            } else {
                self.destinations_dropped += 1;
            }
        }
        self.destinations_dropped += o.destinations_dropped;
        let room = MAX_EVIDENCE.saturating_sub(self.evidence.len());
        self.evidence.extend(o.evidence.iter().take(room).cloned());
        for (k, n) in &o.evidence_counts {
            let c = self.evidence_counts.entry(*k).or_insert(0);
            *c = c.saturating_add(*n);
        }
        self.best = self.best.max(o.best);
        self.best_tier = self.best_tier.min(o.best_tier);
    }
}

/// What a finding is about: (host, vendor, product).
pub type FindingKey = (IpAddr, String, String);
type Key = FindingKey;

/// Collects attributed flows and DNS questions into findings.
pub struct Judge {
    policy: Policy,
    acc: BTreeMap<Key, Acc>,
}

fn key_of(host: IpAddr, a: &Attribution<'_>) -> FindingKey {
    (
        host,
        a.endpoint.vendor.to_string(),
        a.endpoint.product.to_string(),
    )
}

/// Confidence of one attribution: by how it was seen (direct names high, DNS
/// bindings medium, the rest low), capped by what it matched: a name under an
/// owned domain, or a certificate, sits below a documented endpoint (at most
/// medium); an owned network or a JA4 is low.
fn confidence(a: &Attribution<'_>) -> Confidence {
    use crate::resolve::catalog::Confidence as Cat;
    let by_kind = match a.kind {
        k if k.is_direct() => Confidence::High,
        EvidenceKind::DnsAnswer => Confidence::Medium,
        _ => Confidence::Low,
    };
    let by_tier = match a.tier() {
        Tier::Endpoint => by_kind,
        Tier::Certificate | Tier::OwnedDomain => by_kind.min(Confidence::Medium),
        Tier::OwnedNetwork | Tier::Ja4 => Confidence::Low,
    };
    match a.endpoint.confidence {
        Cat::Inferred => by_tier.min(Confidence::Medium),
        _ => by_tier,
    }
}

impl Judge {
    pub fn new(policy: Policy) -> Self {
        Judge {
            policy,
            acc: BTreeMap::new(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// How many findings there are so far (without judging them).
    pub fn len(&self) -> usize {
        self.acc.len()
    }

    pub fn is_empty(&self) -> bool {
        self.acc.is_empty()
    }

    /// Replaces the policy (a reload): what is judged from now on, alerts
    /// included, uses the new one; what was seen is kept.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    fn entry(&mut self, host: IpAddr, a: &Attribution<'_>, ts: u64) -> &mut Acc {
        let key = key_of(host, a);
        let acc = self.acc.entry(key).or_insert_with(|| Acc {
            vendor_country: a.endpoint.jurisdiction.to_vec(),
            first_seen_ns: ts,
            last_seen_ns: ts,
            flow_ids: BTreeSet::new(),
            flows: 0,
            bytes_toserver: 0,
            bytes_toclient: 0,
            destinations: BTreeMap::new(),
            destinations_dropped: 0,
            evidence: Vec::new(),
            evidence_counts: BTreeMap::new(),
            best: Confidence::Low,
            best_tier: a.tier(),
        });
        acc.first_seen_ns = acc.first_seen_ns.min(ts);
        acc.last_seen_ns = acc.last_seen_ns.max(ts);
        acc.best = acc.best.max(confidence(a));
        acc.best_tier = acc.best_tier.min(a.tier());
        acc
    }

    fn add_evidence(
        acc: &mut Acc,
        a: &Attribution<'_>,
        community_id: String,
        flow_id: u64,
        ts: u64,
    ) {
        *acc.evidence_counts.entry(a.kind).or_default() += 1;
        if acc.evidence.len() < MAX_EVIDENCE {
            acc.evidence.push(Evidence {
                kind: a.kind,
                tier: a.tier(),
                value: a.value.clone(),
                pattern: a.endpoint.pattern.to_string(),
                purpose: a.endpoint.purpose.as_str(),
                source: a.endpoint.source.to_string(),
                community_id,
                flow_id,
                timestamp_ns: ts,
            });
        }
    }

    /// A finished flow (or flow record) attributed to a catalogued endpoint.
    /// `all` holds the flow's evidence, strongest first; the first decides
    /// the destination's name and the finding it counts for. Returns that
    /// finding's key (none: no evidence, or the client is not internal).
    pub fn on_flow(
        &mut self,
        rec: &FlowRecord,
        all: &[Attribution<'_>],
        geo: &GeoAnswer,
        community_id: String,
    ) -> Option<FindingKey> {
        self.flow(rec, all, geo, Some(community_id))
    }

    /// A flow still open whose own name (`a`: TLS/QUIC SNI, HTTP Host) is
    /// known: counted for its finding now (stream mode alerts it), without
    /// evidence or bytes, which its record adds when it ends; so the
    /// finding ends up as if only the record had been seen.
    pub fn on_flow_named(
        &mut self,
        rec: &FlowRecord,
        a: &Attribution<'_>,
        geo: &GeoAnswer,
    ) -> Option<FindingKey> {
        self.flow(rec, std::slice::from_ref(a), geo, None)
    }

    fn flow(
        &mut self,
        rec: &FlowRecord,
        all: &[Attribution<'_>],
        geo: &GeoAnswer,
        community_id: Option<String>,
    ) -> Option<FindingKey> {
        let m = &rec.meta;
        let a = all.first()?;
        if !self.policy.is_internal(m.src) {
            return None;
        }
        let acc = self.entry(m.src, a, rec.start_ns);
        acc.last_seen_ns = acc.last_seen_ns.max(rec.end_ns);
        let new_flow = if acc.flow_ids.len() < MAX_FLOW_IDS {
            acc.flow_ids.insert(m.flow_id)
        } else {
            !acc.flow_ids.contains(&m.flow_id)
        };
        if new_flow {
            acc.flows += 1;
        }
        acc.bytes_toserver += rec.bytes_toserver;
        acc.bytes_toclient += rec.bytes_toclient;
        // Behind a proxy the address is the proxy's: the destination is the CONNECT name.
        let (dest_key, ip) = if a.kind == EvidenceKind::HttpConnect {
            (format!("name:{}", a.value), None)
        } else {
            (m.dst.to_string(), Some(m.dst))
        };
        let full = acc.destinations.len() >= MAX_DESTINATIONS;
        match acc.destinations.get_mut(&dest_key) {
            Some(d) => {
                d.names.insert(a.value.clone());
                if new_flow {
                    d.flows += 1;
                }
                d.bytes_toserver += rec.bytes_toserver;
                d.bytes_toclient += rec.bytes_toclient;
            }
            None if full => acc.destinations_dropped += 1,
            None => {
                let (country, asn, as_org) = match ip {
                    Some(_) => (geo.country.clone(), geo.asn, geo.as_org.clone()),
                    None => (None, None, None),
                };
                acc.destinations.insert(
                    dest_key,
                    Destination {
                        ip,
                        names: BTreeSet::from([a.value.clone()]),
                        country,
                        asn,
                        as_org,
                        flows: u64::from(new_flow),
                        bytes_toserver: rec.bytes_toserver,
                        bytes_toclient: rec.bytes_toclient,
                    },
                );
            }
        }
        if let Some(cid) = community_id {
            for e in all {
                Self::add_evidence(acc, e, cid.clone(), m.flow_id, rec.start_ns);
            }
        }
        Some(key_of(m.src, a))
    }

    /// A DNS question for a catalogued name from `host`. Returns the key of
    /// the finding it counts for (none: `host` is not internal).
    pub fn on_dns_query(
        &mut self,
        host: IpAddr,
        a: &Attribution<'_>,
        community_id: String,
        flow_id: u64,
        ts: u64,
    ) -> Option<FindingKey> {
        if !self.policy.is_internal(host) {
            return None;
        }
        let acc = self.entry(host, a, ts);
        Self::add_evidence(acc, a, community_id, flow_id, ts);
        Some(key_of(host, a))
    }

    /// The finding for one key as it stands now, judged by the policy (none:
    /// nothing was seen for it).
    pub fn finding_for(&self, key: &FindingKey) -> Option<Finding> {
        let acc = self.acc.get(key)?;
        Some(self.finding(key.0, &key.1, &key.2, acc))
    }

    /// The findings so far, judged by the policy, in (host, vendor, product) order.
    pub fn findings(&self) -> Vec<Finding> {
        self.acc
            .iter()
            .map(|((host, vendor, product), acc)| self.finding(*host, vendor, product, acc))
            .collect()
    }

    /// [`Judge::findings`], with the findings of one host identity, vendor
    /// and product at several addresses (a DHCP move) made one: judged at
    /// the first address, with everything seen at each. `identity(host,
    /// first_seen_ns)` names the identity an address had; findings without
    /// one stay as they are, in the same order.
    pub fn findings_by_identity(
        &self,
        identity: &dyn Fn(IpAddr, u64) -> Option<String>,
    ) -> Vec<Finding> {
        let mut merged: Vec<(IpAddr, &str, &str, std::borrow::Cow<'_, Acc>)> = Vec::new();
        let mut at: BTreeMap<(String, &str, &str), usize> = BTreeMap::new();
        for ((host, vendor, product), acc) in &self.acc {
            let id = identity(*host, acc.first_seen_ns);
            let slot = id.map(|k| (k, vendor.as_str(), product.as_str()));
            match slot.as_ref().and_then(|k| at.get(k)) {
                Some(&i) => {
                    if let Some((_, _, _, m)) = merged.get_mut(i) {
                        m.to_mut().absorb(acc);
                    }
                }
                None => {
                    if let Some(k) = slot {
                        at.insert(k, merged.len());
                    }
                    merged.push((*host, vendor, product, std::borrow::Cow::Borrowed(acc)));
                }
            }
        }
        merged
            .iter()
            .map(|(host, vendor, product, acc)| self.finding(*host, vendor, product, acc))
            .collect()
    }

    fn finding(&self, host: IpAddr, vendor: &str, product: &str, acc: &Acc) -> Finding {
        let dns_only = acc.flows == 0;
        // A destination behind a proxy has no known country: it cannot be
        // shown to stay home.
        let countries: Vec<Option<String>> = acc
            .destinations
            .values()
            .map(|d| d.country.clone())
            .collect();
        let verdict = self.policy.judge(&Candidate {
            host,
            vendor,
            product,
            jurisdiction: &acc.vendor_country,
            destination_countries: &countries,
            dns_only,
            last_seen_ns: acc.last_seen_ns,
        });
        let destinations: Vec<Destination> = acc.destinations.values().cloned().collect();
        let mut f = Finding {
            host,
            vendor: vendor.to_string(),
            product: product.to_string(),
            vendor_country: acc.vendor_country.clone(),
            kind: verdict.kind,
            // An exception in force downgrades the finding; it stays visible.
            severity: if verdict.is_excepted() {
                Severity::Info
            } else {
                verdict.severity
            },
            confidence: acc.best,
            tier: acc.best_tier,
            foreign_vendor: verdict.foreign_vendor,
            data_abroad: verdict.data_abroad,
            first_seen_ns: acc.first_seen_ns,
            last_seen_ns: acc.last_seen_ns,
            flows: acc.flows,
            bytes_toserver: acc.bytes_toserver,
            bytes_toclient: acc.bytes_toclient,
            destinations,
            destinations_dropped: acc.destinations_dropped,
            evidence: acc.evidence.clone(),
            evidence_counts: acc.evidence_counts.clone(),
            dns_only,
            exception: verdict.exception.map(|e| Excepted {
                reason: e.reason,
                expires: e.expires.map(|d| d.to_string()),
                expired: e.expired,
                line: e.line,
            }),
            reason: String::new(),
            identity: None,
        };
        f.reason = reason(&f);
        f
    }
}

impl Finding {
    /// The countries of its destinations, sorted, each once.
    pub fn destination_countries(&self) -> Vec<&str> {
        let mut cc: Vec<&str> = self
            .destinations
            .iter()
            .filter_map(|d| d.country.as_deref())
            .collect();
        cc.sort_unstable();
        cc.dedup();
        cc
    }

    /// The strongest piece of evidence (direct names first, then DNS answers,
    /// certificates, ranges, lone DNS questions), the earliest of its kind.
    pub fn best_evidence(&self) -> Option<&Evidence> {
        let rank = |k: EvidenceKind| match k {
            k if k.is_direct() && k != EvidenceKind::CertName => 0,
            EvidenceKind::DnsAnswer => 1,
            EvidenceKind::CertName => 2,
            EvidenceKind::AddressRange => 3,
            EvidenceKind::DnsQuery => 4,
            EvidenceKind::DestinationAs => 5,
            _ => 6,
        };
        self.evidence
            .iter()
            .min_by_key(|e| (e.tier, rank(e.kind), e.timestamp_ns))
    }
}

/// "10.1.2.3 runs CrowdStrike Falcon (US vendor): 14 flows to US, AS16509
/// Amazon, via ts01-b.cloudsink.net (TLS SNI)".
pub fn reason(f: &Finding) -> String {
    let jur = if f.vendor_country.is_empty() {
        "vendor of unknown jurisdiction".to_string()
    } else {
        format!("{} vendor", f.vendor_country.join("/"))
    };
    let via = f.best_evidence().map_or(String::new(), |e| match e.tier {
        Tier::Endpoint => format!(", via {} ({})", e.value, e.kind.label()),
        t if e.value == e.pattern => {
            format!(", via {} ({}, {})", e.value, e.kind.label(), t.label())
        }
        t => format!(
            ", via {} ({}, {} {})",
            e.value,
            e.kind.label(),
            t.label(),
            e.pattern
        ),
    });
    if f.dns_only {
        return format!(
            "{} looked up {} {} ({jur}) but no connection was seen{via}",
            f.host, f.vendor, f.product
        );
    }
    let mut places: Vec<String> = Vec::new();
    for d in &f.destinations {
        let country = d.country.clone().unwrap_or_else(|| match d.ip {
            Some(_) => "an unknown country".into(),
            None => "a host behind a proxy".into(),
        });
        let asn = match (d.asn, &d.as_org) {
            (Some(n), Some(org)) => format!(", AS{n} {org}"),
            (Some(n), None) => format!(", AS{n}"),
            _ => String::new(),
        };
        let p = format!("{country}{asn}");
        if !places.contains(&p) {
            places.push(p);
        }
    }
    let shown: Vec<String> = places.iter().take(3).cloned().collect();
    let more = if places.len() > 3 {
        format!(" and {} more", places.len() - 3)
    } else {
        String::new()
    };
    format!(
        "{} runs {} {} ({jur}): {} flow{} to {}{more}{via}",
        f.host,
        f.vendor,
        f.product,
        f.flows,
        if f.flows == 1 { "" } else { "s" },
        shown.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{EndReason, FlowMeta, FlowState, Vlan};
    use crate::resolve::catalog::Catalog;

    fn catalog() -> Catalog {
        let text = r#"
vendor = "Acme"
jurisdiction = ["US", "IL"]
[[product]]
name = "Sensor"
[[product.endpoint]]
host = "t.acme.example"
purpose = "telemetry"
confidence = "documented"
source = "https://acme.example/docs"
"#;
        Catalog::from_files([("acme.toml".into(), "acme".into(), text.into())]).unwrap()
    }

    fn attr<'c>(cat: &'c Catalog, kind: EvidenceKind) -> Attribution<'c> {
        Attribution {
            kind,
            value: "t.acme.example".into(),
            endpoint: cat.match_name("t.acme.example").unwrap(),
        }
    }

    fn flow(src: &str, dst: &str, flow_id: u64, start_s: u64) -> FlowRecord {
        FlowRecord {
            meta: FlowMeta {
                flow_id,
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                sport: 40000,
                dport: 443,
                proto: 6,
                vlan: Vlan::default(),
                community_id: [0; 20],
                tunnel: None,
                icmp: None,
            },
            start_ns: start_s * 1_000_000_000,
            end_ns: (start_s + 5) * 1_000_000_000,
            pkts_toserver: 3,
            pkts_toclient: 2,
            bytes_toserver: 300,
            bytes_toclient: 200,
            state: FlowState::Closed,
            reason: EndReason::Timeout,
            tcp: None,
            app_proto: None,
            names: None,
            anomalies: Default::default(),
            file: 0,
            empty: false,
        }
    }

    fn geo(cc: &str, asn: u32) -> GeoAnswer {
        GeoAnswer {
            country: Some(cc.into()),
            asn: Some(asn),
            as_org: Some("Example Cloud".into()),
            ..GeoAnswer::default()
        }
    }

    #[test]
    fn flows_aggregate_per_host_and_product_with_a_readable_reason() {
        let cat = catalog();
        let mut j = Judge::new(Policy::default_for("DE").unwrap());
        let a = attr(&cat, EvidenceKind::TlsSni);
        j.on_flow(
            &flow("10.1.2.3", "198.51.100.7", 1, 100),
            std::slice::from_ref(&a),
            &geo("US", 64500),
            "1:x".into(),
        );
        // The same flow again (an active-timeout record): bytes add, the flow counts once.
        j.on_flow(
            &flow("10.1.2.3", "198.51.100.7", 1, 200),
            std::slice::from_ref(&a),
            &geo("US", 64500),
            "1:x".into(),
        );
        j.on_flow(
            &flow("10.1.2.3", "198.51.100.8", 2, 300),
            std::slice::from_ref(&a),
            &geo("US", 64500),
            "1:y".into(),
        );
        // A public host is not ours: no finding.
        j.on_flow(
            &flow("8.8.8.8", "198.51.100.7", 3, 100),
            &[a],
            &geo("US", 64500),
            "1:z".into(),
        );
        let f = j.findings();
        assert_eq!(f.len(), 1);
        let f = &f[0];
        assert_eq!((f.flows, f.bytes_toserver, f.bytes_toclient), (2, 900, 600));
        assert_eq!(f.destinations.len(), 2);
        assert_eq!(f.kind, FindingKind::ForeignVendorDataAbroad);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.confidence, Confidence::High);
        assert_eq!(
            (f.first_seen_ns, f.last_seen_ns),
            (100_000_000_000, 305_000_000_000)
        );
        assert_eq!(
            f.reason,
            "10.1.2.3 runs Acme Sensor (US/IL vendor): 2 flows to US, AS64500 Example Cloud, via t.acme.example (TLS SNI)"
        );
    }

    #[test]
    fn one_identity_at_two_addresses_is_one_finding_and_the_rest_stay_apart() {
        let cat = catalog();
        let mut j = Judge::new(Policy::default_for("DE").unwrap());
        let a = attr(&cat, EvidenceKind::TlsSni);
        for (src, dst, id, t) in [
            ("10.1.2.3", "198.51.100.7", 1, 100),
            ("10.1.2.9", "198.51.100.7", 2, 400),
            ("10.1.2.4", "198.51.100.8", 3, 200),
        ] {
            j.on_flow(
                &flow(src, dst, id, t),
                std::slice::from_ref(&a),
                &geo("US", 64500),
                "1:x".into(),
            );
        }
        let who = |ip: IpAddr, _ts: u64| match ip.to_string().as_str() {
            "10.1.2.3" | "10.1.2.9" => Some("mac:02:00:00:00:00:0a".to_owned()),
            _ => None,
        };
        let f = j.findings_by_identity(&who);
        let hosts: Vec<String> = f.iter().map(|f| f.host.to_string()).collect();
        assert_eq!(hosts, ["10.1.2.3", "10.1.2.4"]);
        let m = &f[0];
        assert_eq!((m.flows, m.bytes_toserver), (2, 600));
        assert_eq!(m.destinations.len(), 1);
        assert_eq!(m.destinations[0].flows, 2);
        assert_eq!(
            (m.first_seen_ns, m.last_seen_ns),
            (100_000_000_000, 405_000_000_000)
        );
        // Without identities, nothing changes.
        assert_eq!(j.findings_by_identity(&|_, _| None), j.findings());
    }

    #[test]
    fn an_excepted_finding_is_downgraded_to_info_until_its_exception_expires() {
        let cat = catalog();
        let policy = |expires: &str| {
            Policy::from_toml(
                &format!(
                    "home_country = \"DE\"\n[[exception]]\nvendor = \"Acme\"\nreason = \"contract until migration\"\nexpires = \"{expires}\"\n"
                ),
                "p",
            )
            .unwrap()
        };
        // The flow is on 1970-01-01: in force until 2030, expired after 1969-12-31.
        for (expires, severity, expired) in [
            ("2030-06-30", Severity::Info, false),
            ("1969-12-31", Severity::High, true),
        ] {
            let mut j = Judge::new(policy(expires));
            j.on_flow(
                &flow("10.1.2.3", "198.51.100.7", 1, 100),
                &[attr(&cat, EvidenceKind::TlsSni)],
                &geo("US", 64500),
                "1:x".into(),
            );
            let f = j.findings();
            assert_eq!(f[0].severity, severity, "{expires}");
            let x = f[0].exception.as_ref().unwrap();
            assert_eq!(
                (x.reason.as_str(), x.expires.as_deref(), x.expired),
                ("contract until migration", Some(expires), expired)
            );
        }
    }

    #[test]
    fn a_proxied_destination_has_no_country_and_counts_as_abroad() {
        let cat = catalog();
        let mut j = Judge::new(Policy::default_for("US").unwrap());
        let a = attr(&cat, EvidenceKind::HttpConnect);
        let proxy = GeoAnswer::default();
        j.on_flow(
            &flow("10.1.2.3", "10.0.0.3", 1, 100),
            &[a],
            &proxy,
            "1:x".into(),
        );
        let f = &j.findings()[0];
        assert_eq!(f.destinations[0].ip, None);
        assert!(
            f.data_abroad,
            "a US vendor, but where the proxy sent it is unknown"
        );
        assert_eq!(f.kind, FindingKind::ForeignVendorDataAbroad);
    }

    #[test]
    fn evidence_says_which_finding_it_touched_and_that_finding_stands_alone() {
        let cat = catalog();
        let mut j = Judge::new(Policy::default_for("DE").unwrap());
        let host: IpAddr = "10.1.2.3".parse().unwrap();
        let key: FindingKey = (host, "Acme".into(), "Sensor".into());
        assert_eq!(j.finding_for(&key), None);
        let q = attr(&cat, EvidenceKind::DnsQuery);
        assert_eq!(
            j.on_dns_query(host, &q, "1:q".into(), 1, 1_000_000_000),
            Some(key.clone())
        );
        assert!(j.finding_for(&key).unwrap().dns_only);
        let a = attr(&cat, EvidenceKind::TlsSni);
        let got = j.on_flow(
            &flow("10.1.2.3", "198.51.100.7", 2, 100),
            std::slice::from_ref(&a),
            &geo("US", 64500),
            "1:x".into(),
        );
        assert_eq!(got, Some(key.clone()));
        let now = j.finding_for(&key).unwrap();
        assert_eq!((now.dns_only, now.flows), (false, 1));
        assert_eq!(j.findings(), vec![now]);
        // Not ours: nothing touched.
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(j.on_dns_query(public, &q, "1:p".into(), 3, 1), None);
        let none = j.on_flow(
            &flow("8.8.8.8", "198.51.100.7", 4, 100),
            &[a],
            &geo("US", 64500),
            "1:z".into(),
        );
        assert_eq!(none, None);
        assert_eq!(j.findings().len(), 1);
    }

    #[test]
    fn a_lookup_alone_is_a_low_dns_only_finding() {
        let cat = catalog();
        let mut j = Judge::new(Policy::default_for("CN").unwrap());
        let a = attr(&cat, EvidenceKind::DnsQuery);
        j.on_dns_query(
            "10.9.9.9".parse().unwrap(),
            &a,
            "1:q".into(),
            5,
            1_000_000_000,
        );
        let f = &j.findings()[0];
        assert!(f.dns_only);
        assert_eq!(
            (f.kind, f.severity, f.confidence),
            (FindingKind::DnsOnly, Severity::Low, Confidence::Low)
        );
        assert!(f.reason.contains("looked up Acme Sensor"), "{}", f.reason);
    }
}
