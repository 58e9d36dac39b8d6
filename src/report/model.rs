//! The inventory: one row per (host, vendor, product), findings of several
//! sources merged, in host order. Every output format renders these rows.

use super::load::{DestIn, EvidenceIn, FindingIn, Loaded, Source};
use crate::base::time::parse_ts;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A destination, merged over sources.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Dest {
    /// Address, or "via proxy" when only the name is known.
    pub ip: Option<String>,
    pub names: BTreeSet<String>,
    pub country: Option<String>,
    pub asn: Option<u64>,
    pub as_org: Option<String>,
    pub flows: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
}

/// One line of the inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Row {
    pub host: String,
    pub vendor: String,
    pub product: String,
    pub vendor_country: Vec<String>,
    /// "foreign" or "domestic" (the vendor, under the policy of the replay).
    pub origin: &'static str,
    pub finding_kind: String,
    pub severity: String,
    pub confidence: String,
    /// The catalog tier of the attribution: how direct the evidence is.
    pub tier: String,
    pub data_abroad: bool,
    pub dns_only: bool,
    /// ISO codes of the destinations, sorted.
    pub destination_countries: Vec<String>,
    /// Destinations with no known country (behind a proxy, or not in the database).
    pub destinations_unknown_country: u64,
    pub flows: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub first_seen: String,
    pub last_seen: String,
    #[serde(skip)]
    pub first_ns: Option<u64>,
    #[serde(skip)]
    pub last_ns: Option<u64>,
    /// The strongest evidence: "value (kind)".
    pub evidence: String,
    /// Evidence seen, by kind.
    pub evidence_counts: BTreeMap<String, u64>,
    pub exception: Option<String>,
    pub reason: String,
    pub evidence_file: Option<String>,
    pub evidence_packets: Option<u64>,
    pub destinations: Vec<Dest>,
    #[serde(skip)]
    pub evidence_items: Vec<EvidenceIn>,
    /// Indices of the sources this row was read from.
    #[serde(skip)]
    pub sources: BTreeSet<usize>,
}

/// Counts over the inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub hosts: usize,
    pub findings: usize,
    pub foreign: usize,
    pub domestic: usize,
    pub data_abroad: usize,
    pub dns_only: usize,
    pub vendors: usize,
    pub destination_countries: Vec<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub home_country: Option<String>,
}

/// The report's data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    pub summary: Summary,
    pub rows: Vec<Row>,
    pub sources: Vec<Source>,
}

/// The reader's label of an evidence kind.
pub fn kind_label(kind: &str) -> &str {
    match kind {
        "tls_sni" => "TLS SNI",
        "quic_sni" => "QUIC SNI",
        "http_host" => "HTTP Host",
        "http_connect" => "HTTP CONNECT",
        "dns_answer" => "DNS answer",
        "cert_name" => "server certificate",
        "address_range" => "vendor address range",
        "dns_query" => "DNS query",
        other => other,
    }
}

/// As the judge ranks evidence: names the client sent first, then DNS
/// answers, certificates, address ranges, lone questions; earliest first.
fn best(ev: &[EvidenceIn]) -> Option<&EvidenceIn> {
    let rank = |k: &str| match k {
        "tls_sni" | "quic_sni" | "http_host" | "http_connect" => 0,
        "dns_answer" => 1,
        "cert_name" => 2,
        "address_range" => 3,
        _ => 4,
    };
    ev.iter().min_by_key(|e| {
        (
            rank(&e.kind),
            e.timestamp
                .as_deref()
                .and_then(parse_ts)
                .unwrap_or(u64::MAX),
        )
    })
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "high" => 4,
        "medium" => 3,
        "low" => 2,
        "info" => 1,
        _ => 0,
    }
}

fn dest_key(d: &DestIn) -> String {
    match &d.ip {
        Some(ip) => ip.clone(),
        None => format!("name:{}", d.names.join(",")),
    }
}

/// Host order: addresses numerically (IPv4 before IPv6), then anything else.
fn host_order(h: &str) -> (u8, Option<IpAddr>, String) {
    match h.parse::<IpAddr>() {
        Ok(ip @ IpAddr::V4(_)) => (0, Some(ip), String::new()),
        Ok(ip) => (1, Some(ip), String::new()),
        Err(_) => (2, None, h.to_string()),
    }
}

fn merge(row: &mut Row, f: &FindingIn, src: usize, dests: &mut BTreeMap<String, Dest>) {
    row.sources.insert(src);
    row.flows += f.flows;
    row.bytes_toserver += f.bytes_toserver;
    row.bytes_toclient += f.bytes_toclient;
    let first = f.first_seen.as_deref().and_then(parse_ts);
    let last = f.last_seen.as_deref().and_then(parse_ts);
    if first.is_some() && (row.first_ns.is_none() || first < row.first_ns) {
        row.first_ns = first;
        row.first_seen = f.first_seen.clone().unwrap_or_default();
    }
    if last.is_some() && last > row.last_ns {
        row.last_ns = last;
        row.last_seen = f.last_seen.clone().unwrap_or_default();
    }
    // The gravest judgement wins; its reason and kind go with it.
    if severity_rank(&f.severity) > severity_rank(&row.severity) || row.severity.is_empty() {
        row.severity = f.severity.clone();
        row.finding_kind = f.finding_kind.clone();
        row.reason = f.reason.clone();
        row.confidence = f.confidence.clone();
    }
    if row.tier.is_empty() {
        row.tier = f.tier.clone();
    }
    row.data_abroad |= f.data_abroad;
    for c in &f.vendor_country {
        if !row.vendor_country.contains(c) {
            row.vendor_country.push(c.clone());
        }
    }
    for d in &f.destinations {
        let e = dests.entry(dest_key(d)).or_insert_with(|| Dest {
            ip: d.ip.clone(),
            country: d.country.clone(),
            asn: d.asn,
            as_org: d.as_org.clone(),
            ..Default::default()
        });
        e.names.extend(d.names.iter().cloned());
        e.flows += d.flows;
        e.bytes_toserver += d.bytes_toserver;
        e.bytes_toclient += d.bytes_toclient;
    }
    for (k, n) in &f.evidence_counts {
        *row.evidence_counts.entry(k.clone()).or_default() += n;
    }
    row.evidence_items.extend(f.evidence.iter().cloned());
    if let Some(x) = &f.exception {
        let until = x
            .expires
            .as_deref()
            .map_or(String::new(), |d| format!(" (until {d})"));
        let s = if x.expired {
            format!("expired exception: {}{until}", x.reason)
        } else {
            format!("excepted: {}{until}", x.reason)
        };
        row.exception = Some(s);
    }
    if let Some(p) = &f.packets {
        row.evidence_file = Some(p.file.clone());
        *row.evidence_packets.get_or_insert(0) += p.packets;
    }
}

/// Builds the inventory from everything read.
pub fn build(loaded: Loaded) -> Inventory {
    type Key = (String, String, String);
    let mut rows: BTreeMap<Key, (Row, BTreeMap<String, Dest>)> = BTreeMap::new();
    let mut foreign: BTreeMap<Key, bool> = BTreeMap::new();
    // The same finding read twice (a bundle and its own EVE file) counts
    // once; the bundle's evidence file is kept whichever came first.
    type Sig = (Key, Option<String>, Option<String>, u64, u64, u64);
    let mut seen: BTreeSet<Sig> = BTreeSet::new();
    for (src, f) in &loaded.findings {
        let key = (f.host.clone(), f.vendor.clone(), f.product.clone());
        let sig = (
            key.clone(),
            f.first_seen.clone(),
            f.last_seen.clone(),
            f.flows,
            f.bytes_toserver,
            f.bytes_toclient,
        );
        if !seen.insert(sig) {
            if let (Some(p), Some((row, _))) = (&f.packets, rows.get_mut(&key)) {
                if row.evidence_file.is_none() {
                    row.evidence_file = Some(p.file.clone());
                    *row.evidence_packets.get_or_insert(0) += p.packets;
                }
            }
            continue;
        }
        let (row, dests) = rows.entry(key.clone()).or_insert_with(|| {
            (
                Row {
                    host: f.host.clone(),
                    vendor: f.vendor.clone(),
                    product: f.product.clone(),
                    ..Default::default()
                },
                BTreeMap::new(),
            )
        });
        merge(row, f, *src, dests);
        *foreign.entry(key).or_default() |= f.foreign_vendor;
    }
    let mut out: Vec<Row> = rows
        .into_iter()
        .map(|(key, (mut row, dests))| {
            row.origin = if foreign.get(&key).copied().unwrap_or(false) {
                "foreign"
            } else {
                "domestic"
            };
            let countries: BTreeSet<String> =
                dests.values().filter_map(|d| d.country.clone()).collect();
            row.destination_countries = countries.into_iter().collect();
            row.destinations_unknown_country =
                dests.values().filter(|d| d.country.is_none()).count() as u64;
            row.destinations = dests.into_values().collect();
            row.dns_only = row.flows == 0 && row.destinations.is_empty();
            row.evidence = best(&row.evidence_items).map_or(String::new(), |e| {
                format!("{} ({})", e.value, kind_label(&e.kind))
            });
            row
        })
        .collect();
    out.sort_by(|a, b| {
        host_order(&a.host)
            .cmp(&host_order(&b.host))
            .then_with(|| a.vendor.cmp(&b.vendor))
            .then_with(|| a.product.cmp(&b.product))
    });
    let hosts: BTreeSet<&str> = out.iter().map(|r| r.host.as_str()).collect();
    let vendors: BTreeSet<&str> = out.iter().map(|r| r.vendor.as_str()).collect();
    let countries: BTreeSet<&String> = out
        .iter()
        .flat_map(|r| r.destination_countries.iter())
        .collect();
    let first = out
        .iter()
        .filter(|r| r.first_ns.is_some())
        .min_by_key(|r| r.first_ns);
    let last = out
        .iter()
        .filter(|r| r.last_ns.is_some())
        .max_by_key(|r| r.last_ns);
    let homes: BTreeSet<&String> = loaded
        .sources
        .iter()
        .filter_map(|s| s.home_country.as_ref())
        .collect();
    let summary = Summary {
        hosts: hosts.len(),
        findings: out.len(),
        foreign: out.iter().filter(|r| r.origin == "foreign").count(),
        domestic: out.iter().filter(|r| r.origin == "domestic").count(),
        data_abroad: out.iter().filter(|r| r.data_abroad).count(),
        dns_only: out.iter().filter(|r| r.dns_only).count(),
        vendors: vendors.len(),
        destination_countries: countries.into_iter().cloned().collect(),
        first_seen: first.map(|r| r.first_seen.clone()),
        last_seen: last.map(|r| r.last_seen.clone()),
        home_country: (homes.len() == 1)
            .then(|| homes.into_iter().next().cloned())
            .flatten(),
    };
    Inventory {
        summary,
        rows: out,
        sources: loaded.sources,
    }
}

/// Bytes as a reader takes them in.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(u).copied().unwrap_or("B"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(host: &str, vendor: &str, sev: &str, first: &str, countries: &[&str]) -> FindingIn {
        FindingIn {
            host: host.into(),
            vendor: vendor.into(),
            product: "P".into(),
            vendor_country: vec!["US".into()],
            severity: sev.into(),
            finding_kind: format!("kind-{sev}"),
            foreign_vendor: true,
            first_seen: Some(first.into()),
            last_seen: Some(first.into()),
            flows: 1,
            bytes_toserver: 10,
            destinations: countries
                .iter()
                .enumerate()
                .map(|(i, c)| DestIn {
                    ip: Some(format!("192.0.2.{i}")),
                    country: Some(c.to_string()),
                    flows: 1,
                    ..Default::default()
                })
                .collect(),
            evidence: vec![
                EvidenceIn {
                    kind: "dns_query".into(),
                    value: "q.example".into(),
                    ..Default::default()
                },
                EvidenceIn {
                    kind: "tls_sni".into(),
                    value: "s.example".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn rows_merge_per_host_and_product_in_host_order() {
        let loaded = Loaded {
            sources: vec![Source::default(), Source::default()],
            findings: vec![
                (
                    0,
                    finding(
                        "10.0.0.10",
                        "V",
                        "low",
                        "2025-03-03T12:00:05.000000+0000",
                        &["NL"],
                    ),
                ),
                (
                    0,
                    finding(
                        "fd00::1",
                        "V",
                        "high",
                        "2025-03-03T12:00:01.000000+0000",
                        &[],
                    ),
                ),
                (
                    1,
                    finding(
                        "10.0.0.10",
                        "V",
                        "high",
                        "2025-03-03T12:00:02.000000+0000",
                        &["NL", "US"],
                    ),
                ),
                (
                    1,
                    finding(
                        "10.0.0.9",
                        "A",
                        "info",
                        "2025-03-03T12:00:03.000000+0000",
                        &["CN"],
                    ),
                ),
            ],
        };
        let inv = build(loaded);
        let keys: Vec<(&str, &str)> = inv
            .rows
            .iter()
            .map(|r| (r.host.as_str(), r.vendor.as_str()))
            .collect();
        assert_eq!(
            keys,
            [("10.0.0.9", "A"), ("10.0.0.10", "V"), ("fd00::1", "V")]
        );
        let r = &inv.rows[1];
        assert_eq!(r.flows, 2);
        assert_eq!(r.severity, "high");
        assert_eq!(r.finding_kind, "kind-high");
        assert_eq!(r.first_seen, "2025-03-03T12:00:02.000000+0000");
        assert_eq!(r.last_seen, "2025-03-03T12:00:05.000000+0000");
        assert_eq!(r.destination_countries, ["NL", "US"]);
        // 192.0.2.0 seen in both sources: one destination, two flows.
        assert_eq!(r.destinations.len(), 2);
        assert_eq!(r.destinations[0].flows, 2);
        assert_eq!(r.evidence, "s.example (TLS SNI)");
        assert_eq!(r.sources.len(), 2);
        assert!(!inv.rows[2].dns_only && inv.rows[2].destination_countries.is_empty());
        assert_eq!(inv.summary.hosts, 3);
        assert_eq!(inv.summary.destination_countries, ["CN", "NL", "US"]);
        assert_eq!(
            inv.summary.first_seen.as_deref(),
            Some("2025-03-03T12:00:01.000000+0000")
        );
    }
}
