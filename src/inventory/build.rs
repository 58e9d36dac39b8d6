//! A run's inventory record from what the replay produced: the judge's
//! findings (keyed by address), the address → identity history, and each
//! internal address's activity. Findings and sightings are keyed by the
//! identity that held the address, so a host that DHCP moved during the run
//! is one host.

use super::{FindingRecord, HostSighting, IdentityBinding, RunRecord};
use crate::judge::Finding;
use crate::resolve::hosts::HostTable;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// What one internal address did during the run (any traffic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostActivity {
    pub address: IpAddr,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub flows: u64,
    pub bytes: u64,
}

/// The run's identity, findings and sightings.
pub struct RunMeta<'a> {
    pub sensor_id: &'a str,
    /// What makes the capture this capture (see [`RunRecord::derive_id`]).
    pub fingerprint: &'a [u8],
    pub period_start_ns: u64,
    pub period_end_ns: u64,
    pub source: &'a str,
    pub catalog_version: &'a str,
    pub home_country: Option<&'a str>,
    pub policy: Option<&'a str>,
}

/// The key, name and MAC of whoever held `addr` at `ts_ns`.
fn who(hosts: &HostTable, addr: IpAddr, ts_ns: u64) -> (String, Option<String>, Option<String>) {
    match hosts.identity_at(addr, ts_ns) {
        Some(i) => (
            i.key.clone(),
            i.name.clone().or_else(|| i.fqdn.clone()),
            i.mac.map(|m| m.to_string()),
        ),
        None => (format!("ip:{addr}"), None, None),
    }
}

/// A finding being merged, with its countries, evidence references and
/// highest severity.
type Merged = (
    FindingRecord,
    BTreeSet<String>,
    BTreeSet<String>,
    crate::judge::policy::Severity,
);

/// Builds the record of one run.
pub fn run_record(
    meta: &RunMeta<'_>,
    findings: &[Finding],
    hosts: &HostTable,
    activity: &[HostActivity],
) -> RunRecord {
    let mut sightings: BTreeMap<String, HostSighting> = BTreeMap::new();
    for a in activity {
        let (key, name, mac) = who(hosts, a.address, a.first_seen_ns);
        let s = sightings
            .entry(key.clone())
            .or_insert_with(|| HostSighting {
                host_key: key,
                name,
                mac,
                address: a.address.to_string(),
                first_seen_ns: a.first_seen_ns,
                last_seen_ns: a.last_seen_ns,
                flows: 0,
                bytes: 0,
            });
        if a.last_seen_ns >= s.last_seen_ns {
            s.address = a.address.to_string();
        }
        s.first_seen_ns = s.first_seen_ns.min(a.first_seen_ns);
        s.last_seen_ns = s.last_seen_ns.max(a.last_seen_ns);
        s.flows += a.flows;
        s.bytes += a.bytes;
    }
    let mut merged: BTreeMap<(String, String, String), Merged> = BTreeMap::new();
    for f in findings {
        let (key, name, mac) = who(hosts, f.host, f.first_seen_ns);
        // A host with a finding was active even if no flow record said so.
        sightings
            .entry(key.clone())
            .or_insert_with(|| HostSighting {
                host_key: key.clone(),
                name,
                mac,
                address: f.host.to_string(),
                first_seen_ns: f.first_seen_ns,
                last_seen_ns: f.last_seen_ns,
                flows: f.flows,
                bytes: f.bytes_toserver + f.bytes_toclient,
            });
        let e = merged
            .entry((key.clone(), f.vendor.clone(), f.product.clone()))
            .or_insert_with(|| {
                (
                    FindingRecord {
                        host_key: key,
                        vendor: f.vendor.clone(),
                        product: f.product.clone(),
                        category: None,
                        foreign: f.foreign_vendor,
                        first_seen_ns: f.first_seen_ns,
                        last_seen_ns: f.last_seen_ns,
                        flows: 0,
                        bytes_toserver: 0,
                        bytes_toclient: 0,
                        countries: Vec::new(),
                        evidence: Vec::new(),
                        severity: None,
                        data_abroad: Some(false),
                    },
                    BTreeSet::new(),
                    BTreeSet::new(),
                    f.severity,
                )
            });
        e.0.first_seen_ns = e.0.first_seen_ns.min(f.first_seen_ns);
        e.0.last_seen_ns = e.0.last_seen_ns.max(f.last_seen_ns);
        e.0.flows += f.flows;
        e.0.bytes_toserver += f.bytes_toserver;
        e.0.bytes_toclient += f.bytes_toclient;
        e.1.extend(f.destination_countries().into_iter().map(str::to_owned));
        e.2.extend(f.evidence.iter().map(|ev| ev.community_id.clone()));
        e.3 = e.3.max(f.severity);
        e.0.data_abroad = Some(e.0.data_abroad == Some(true) || f.data_abroad);
    }
    let findings = merged
        .into_values()
        .map(|(mut r, countries, evidence, severity)| {
            r.countries = countries.into_iter().collect();
            r.evidence = evidence.into_iter().collect();
            r.severity = Some(severity.as_str().to_owned());
            r
        })
        .collect();
    let mut bindings: BTreeMap<(String, String, &'static str), IdentityBinding> = BTreeMap::new();
    for (addr, b, ident) in hosts.bindings() {
        let until = b.until_ns.unwrap_or(b.last_ns).max(b.last_ns);
        let e = bindings
            .entry((ident.key.clone(), addr.to_string(), b.source.as_str()))
            .or_insert_with(|| IdentityBinding {
                host_key: ident.key.clone(),
                address: addr.to_string(),
                source: b.source.as_str().to_owned(),
                first_seen_ns: b.from_ns,
                last_seen_ns: until,
            });
        e.first_seen_ns = e.first_seen_ns.min(b.from_ns);
        e.last_seen_ns = e.last_seen_ns.max(until);
    }
    RunRecord {
        run_id: RunRecord::derive_id(meta.sensor_id, meta.fingerprint),
        sensor_id: meta.sensor_id.to_owned(),
        period_start_ns: meta.period_start_ns,
        period_end_ns: meta.period_end_ns,
        source: meta.source.to_owned(),
        catalog_version: meta.catalog_version.to_owned(),
        home_country: meta.home_country.map(str::to_owned),
        policy: meta.policy.map(str::to_owned),
        hosts: sightings.into_values().collect(),
        findings,
        identities: bindings.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::hostid::{ClaimAction, IdentityClaim, IdentitySource, Mac};
    use crate::judge::policy::{FindingKind, Severity};
    use crate::judge::{Confidence, Destination, Evidence};
    use crate::resolve::EvidenceKind;

    fn finding(host: &str, first: u64, cid: &str, country: &str) -> Finding {
        Finding {
            host: host.parse().unwrap(),
            vendor: "ForeignCo".into(),
            product: "EDR".into(),
            vendor_country: vec!["US".into()],
            kind: FindingKind::ForeignVendorDataAbroad,
            severity: Severity::High,
            confidence: Confidence::High,
            foreign_vendor: true,
            data_abroad: true,
            first_seen_ns: first,
            last_seen_ns: first + 10,
            flows: 2,
            bytes_toserver: 100,
            bytes_toclient: 1000,
            destinations: vec![Destination {
                ip: Some("198.51.100.1".parse().unwrap()),
                names: Default::default(),
                country: Some(country.into()),
                asn: None,
                as_org: None,
                flows: 2,
                bytes_toserver: 100,
                bytes_toclient: 1000,
            }],
            destinations_dropped: 0,
            evidence: vec![Evidence {
                kind: EvidenceKind::TlsSni,
                value: "t.foreign.example".into(),
                pattern: "foreign.example".into(),
                purpose: "telemetry",
                source: "https://example.com".into(),
                community_id: cid.into(),
                flow_id: 1,
                timestamp_ns: first,
                tier: crate::resolve::catalog::Tier::Endpoint,
            }],
            evidence_counts: Default::default(),
            tier: crate::resolve::catalog::Tier::Endpoint,
            dns_only: false,
            exception: None,
            reason: String::new(),
            identity: None,
        }
    }

    fn bind(t: &mut HostTable, ts: u64, mac: &str, addr: &str, name: Option<&str>) {
        t.observe(
            ts,
            &IdentityClaim {
                source: IdentitySource::Dhcp,
                action: ClaimAction::Bind,
                mac: Mac::parse(mac),
                address: Some(addr.parse().unwrap()),
                hostname: name.map(Into::into),
                fqdn: None,
                ttl: Some(3600),
            },
        );
    }

    fn activity(addr: &str, first: u64, last: u64) -> HostActivity {
        HostActivity {
            address: addr.parse().unwrap(),
            first_seen_ns: first,
            last_seen_ns: last,
            flows: 1,
            bytes: 10,
        }
    }

    #[test]
    fn a_host_moved_by_dhcp_is_one_host_with_one_finding() {
        let mut t = HostTable::new();
        bind(&mut t, 0, "02:00:00:00:00:0a", "10.0.0.5", Some("PC-A"));
        bind(&mut t, 100, "02:00:00:00:00:0a", "10.0.0.9", None);
        let findings = [
            finding("10.0.0.5", 10, "1:aaa=", "US"),
            finding("10.0.0.9", 150, "1:bbb=", "IE"),
            finding("10.0.0.77", 20, "1:ccc=", "US"),
        ];
        let act = [
            activity("10.0.0.5", 5, 90),
            activity("10.0.0.9", 110, 200),
            activity("10.0.0.77", 1, 2),
        ];
        let meta = RunMeta {
            sensor_id: "s1",
            fingerprint: b"cap",
            period_start_ns: 0,
            period_end_ns: 200,
            source: "week4.pcap",
            catalog_version: "test",
            home_country: Some("CN"),
            policy: Some("default policy for CN"),
        };
        let run = run_record(&meta, &findings, &t, &act);
        let keys: Vec<&str> = run.hosts.iter().map(|h| h.host_key.as_str()).collect();
        assert_eq!(keys, ["ip:10.0.0.77", "mac:02:00:00:00:00:0a"]);
        let a = &run.hosts[1];
        assert_eq!(
            (a.address.as_str(), a.flows, a.first_seen_ns, a.last_seen_ns),
            ("10.0.0.9", 2, 5, 200)
        );
        assert_eq!(a.name.as_deref(), Some("PC-A"));
        assert_eq!(run.findings.len(), 2);
        let f = &run.findings[1];
        assert_eq!(f.host_key, "mac:02:00:00:00:00:0a");
        assert_eq!((f.flows, f.first_seen_ns, f.last_seen_ns), (4, 10, 160));
        assert_eq!(f.countries, ["IE", "US"]);
        assert_eq!(f.evidence, ["1:aaa=", "1:bbb="]);
        assert_eq!(
            (f.severity.as_deref(), f.data_abroad),
            (Some("high"), Some(true))
        );
        assert_eq!(run.home_country.as_deref(), Some("CN"));
        assert_eq!(run.identities.len(), 2);
        assert_eq!(run.identities[0].address, "10.0.0.5");
        assert_eq!(
            run.identities[0].last_seen_ns, 100,
            "handed over at the move"
        );
        assert_eq!(run.run_id, RunRecord::derive_id("s1", b"cap"));
    }
}
