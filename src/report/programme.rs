//! What the report takes from the inventory (issue 13): the removal
//! progress, the runs' sensors, period and catalogs, the findings of the
//! current period as report rows; and what it computes over the rows: the
//! "what to remove first" ranking, data abroad by country, the product →
//! hosts roll-up.

use super::load::{DestIn, FindingIn, Loaded, Source};
use super::model::Inventory;
use crate::inventory::progress::{compute, Progress, ProgressError, ProgressQuery};
use crate::inventory::{render, Snapshot};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The inventory as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Programme {
    pub location: String,
    pub progress: Progress,
    pub sensors: Vec<String>,
    pub hosts_observed: u64,
    /// First and last day of the runs (UTC).
    pub period: Option<(String, String)>,
    pub catalog_versions: Vec<String>,
    /// The policies that judged the runs (file and hash, or the default).
    pub policies: Vec<String>,
    /// Host key → its latest address.
    pub addresses: BTreeMap<String, String>,
}

impl Programme {
    pub fn from_snapshot(
        location: &str,
        snap: &Snapshot,
        q: &ProgressQuery,
    ) -> Result<Programme, ProgressError> {
        let progress = compute(snap, q)?;
        let sensors: BTreeSet<&str> = snap.runs.iter().map(|r| r.sensor_id.as_str()).collect();
        let catalogs: BTreeSet<&str> = snap
            .runs
            .iter()
            .map(|r| r.catalog_version.as_str())
            .collect();
        let policies: BTreeSet<String> = snap
            .runs
            .iter()
            .map(|r| match (&r.policy, &r.home_country) {
                (Some(p), Some(h)) => format!("{p} (home country {h})"),
                (Some(p), None) => p.clone(),
                (None, _) => "not recorded (run written before schema 2)".to_owned(),
            })
            .collect();
        let hosts: BTreeSet<&str> = snap
            .sightings
            .iter()
            .map(|(_, s)| s.host_key.as_str())
            .collect();
        let start = snap.runs.iter().map(|r| r.period_start_ns).min();
        let end = snap.runs.iter().map(|r| r.period_end_ns).max();
        let mut addresses: BTreeMap<String, (u64, String)> = BTreeMap::new();
        for (_, s) in &snap.sightings {
            let e = addresses
                .entry(s.host_key.clone())
                .or_insert((s.last_seen_ns, s.address.clone()));
            if s.last_seen_ns >= e.0 {
                *e = (s.last_seen_ns, s.address.clone());
            }
        }
        Ok(Programme {
            location: location.to_owned(),
            progress,
            sensors: sensors.into_iter().map(str::to_owned).collect(),
            hosts_observed: hosts.len() as u64,
            period: start
                .zip(end)
                .map(|(a, b)| (render::day(a), render::day(b))),
            catalog_versions: catalogs.into_iter().map(str::to_owned).collect(),
            policies: policies.into_iter().collect(),
            addresses: addresses.into_iter().map(|(k, (_, a))| (k, a)).collect(),
        })
    }

    pub fn address_of(&self, host_key: &str) -> &str {
        self.addresses.get(host_key).map_or("", String::as_str)
    }
}

/// The current period's findings of the inventory as report input, one
/// source: hosts named by name, else MAC, else address. Abroad is judged
/// against each run's recorded home country (and the judge's verdict, when
/// the run recorded it); the source carries the home country when the
/// current runs agree on one.
pub fn findings_of(snap: &Snapshot, progress: &Progress, location: &str) -> Loaded {
    let current: BTreeSet<&str> = progress.current_runs.iter().map(String::as_str).collect();
    let home_of: BTreeMap<&str, &str> = snap
        .runs
        .iter()
        .filter_map(|r| Some((r.run_id.as_str(), r.home_country.as_deref()?)))
        .collect();
    let names: BTreeMap<&str, String> = snap
        .hosts
        .iter()
        .map(|h| {
            let shown = h
                .name
                .clone()
                .or_else(|| h.mac.clone())
                .unwrap_or_else(|| h.host_key.trim_start_matches("ip:").to_owned());
            (h.host_key.as_str(), shown)
        })
        .collect();
    let mut findings = Vec::new();
    for (run, f) in snap
        .findings
        .iter()
        .filter(|(r, _)| current.contains(r.as_str()))
    {
        let host = names
            .get(f.host_key.as_str())
            .cloned()
            .unwrap_or_else(|| f.host_key.clone());
        let ts = |ns: u64| Some(crate::base::time::eve_ts(ns));
        let home = home_of.get(run.as_str()).copied();
        let data_abroad = f.sends_abroad(home);
        let whose = if f.foreign { "foreign" } else { "domestic" };
        findings.push((
            0,
            FindingIn {
                host,
                vendor: f.vendor.clone(),
                product: f.product.clone(),
                foreign_vendor: f.foreign,
                severity: f.severity.clone().unwrap_or_else(|| "n/a".into()),
                confidence: "n/a".into(),
                data_abroad,
                finding_kind: match (home, data_abroad) {
                    // Without a home country, "abroad" cannot be told.
                    (None, _) => format!("{whose}_vendor"),
                    (Some(_), true) => format!("{whose}_vendor_data_abroad"),
                    (Some(_), false) => format!("{whose}_vendor_data_home"),
                },
                reason: format!(
                    "recorded in the inventory by run {run}; evidence: {}",
                    f.evidence.join(", ")
                ),
                first_seen: ts(f.first_seen_ns),
                last_seen: ts(f.last_seen_ns),
                flows: f.flows,
                bytes_toserver: f.bytes_toserver,
                bytes_toclient: f.bytes_toclient,
                // The inventory keeps countries, not bytes per country: the
                // bytes go with a country only when there is one.
                destinations: f
                    .countries
                    .iter()
                    .map(|c| DestIn {
                        country: Some(c.clone()),
                        flows: if f.countries.len() == 1 { f.flows } else { 0 },
                        bytes_toserver: if f.countries.len() == 1 {
                            f.bytes_toserver
                        } else {
                            0
                        },
                        bytes_toclient: if f.countries.len() == 1 {
                            f.bytes_toclient
                        } else {
                            0
                        },
                        ..DestIn::default()
                    })
                    .collect(),
                ..FindingIn::default()
            },
        ));
    }
    let homes: BTreeSet<&str> = current
        .iter()
        .filter_map(|r| home_of.get(r).copied())
        .collect();
    Loaded {
        sources: vec![Source {
            path: location.to_owned(),
            kind: "inventory",
            findings: findings.len() as u64,
            home_country: match (homes.len(), homes.first()) {
                (1, Some(h)) => Some((*h).to_owned()),
                _ => None,
            },
            ..Source::default()
        }],
        findings,
    }
}

/// How much the kind of data a product sends weighs in the ranking:
/// telemetry (events, samples, file submission) above look-ups and
/// management, above update and licence checks.
fn purpose_weight(purpose: &str) -> (u8, &'static str) {
    match purpose {
        "telemetry" => (3, "telemetry / file submission"),
        "cloud_lookup" => (2, "cloud look-ups"),
        "management" => (2, "management channel"),
        "console" => (1, "console"),
        "licensing" => (1, "licence checks"),
        "update" => (1, "update checks"),
        _ => (1, "unspecified traffic"),
    }
}

/// A foreign product in the ranking, with the reasoning shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ranked {
    pub vendor: String,
    pub product: String,
    pub vendor_country: String,
    pub hosts: u64,
    pub bytes_abroad: u64,
    pub countries_abroad: Vec<String>,
    pub data_kind: String,
    pub reasoning: String,
}

fn abroad(home: Option<&str>, country: Option<&str>) -> bool {
    match (home, country) {
        (_, None) => true,
        (Some(h), Some(c)) => !h.eq_ignore_ascii_case(c),
        (None, Some(_)) => true,
    }
}

/// Foreign products, the most urgent first.
pub fn ranking(inv: &Inventory) -> Vec<Ranked> {
    let home = inv.summary.home_country.as_deref();
    #[derive(Default)]
    struct Acc {
        country: BTreeSet<String>,
        hosts: BTreeSet<String>,
        bytes: u64,
        countries: BTreeSet<String>,
        weight: (u8, &'static str),
        sends_abroad: bool,
    }
    let mut by: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for r in inv.rows.iter().filter(|r| r.origin == "foreign") {
        let a = by.entry((r.vendor.clone(), r.product.clone())).or_default();
        a.country.extend(r.vendor_country.iter().cloned());
        a.hosts.insert(r.host.clone());
        for e in &r.evidence_items {
            let w = purpose_weight(&e.purpose);
            if w.0 > a.weight.0 {
                a.weight = w;
            }
        }
        if a.weight.0 == 0 {
            a.weight = purpose_weight("");
        }
        if r.data_abroad
            || r.destinations
                .iter()
                .any(|d| abroad(home, d.country.as_deref()))
        {
            for d in r
                .destinations
                .iter()
                .filter(|d| abroad(home, d.country.as_deref()))
            {
                a.sends_abroad = true;
                a.bytes += d.bytes_toserver;
                a.countries
                    .insert(d.country.clone().unwrap_or_else(|| "unknown".into()));
            }
        }
    }
    let mut out: Vec<(bool, Ranked, u8)> = by
        .into_iter()
        .map(|((vendor, product), a)| {
            let countries: Vec<String> = a.countries.into_iter().collect();
            let abroad_text = if a.sends_abroad {
                format!(
                    "sends {} abroad ({})",
                    super::model::human_bytes(a.bytes),
                    countries.join(", ")
                )
            } else {
                "data stays in the allowed countries".to_owned()
            };
            let reasoning = format!(
                "{abroad_text}; carries {}; on {} host(s)",
                a.weight.1,
                a.hosts.len()
            );
            (
                a.sends_abroad,
                Ranked {
                    vendor,
                    product,
                    vendor_country: a.country.into_iter().collect::<Vec<_>>().join("/"),
                    hosts: a.hosts.len() as u64,
                    bytes_abroad: a.bytes,
                    countries_abroad: countries,
                    data_kind: a.weight.1.to_owned(),
                    reasoning,
                },
                a.weight.0,
            )
        })
        .collect();
    out.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.2.cmp(&a.2))
            .then(b.1.hosts.cmp(&a.1.hosts))
            .then(b.1.bytes_abroad.cmp(&a.1.bytes_abroad))
            .then(a.1.vendor.cmp(&b.1.vendor))
            .then(a.1.product.cmp(&b.1.product))
    });
    out.into_iter().map(|(_, r, _)| r).collect()
}

/// Data sent abroad by one destination country.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Abroad {
    pub country: String,
    pub hosts: u64,
    pub products: u64,
    pub bytes_toserver: u64,
    pub flows: u64,
}

/// Per destination country outside home (unknown countries as `unknown`),
/// the most bytes first, over the findings the policy judged as sending
/// data abroad: a finding whose destinations all lie in the policy's
/// allowed countries (e.g. the EU for an EU home) is not listed. A finding
/// with data abroad still lists each of its non-home destinations: the
/// alert names the verdict, not which destinations were allowed.
pub fn abroad_by_country(inv: &Inventory) -> Vec<Abroad> {
    let home = inv.summary.home_country.as_deref();
    type Acc = (BTreeSet<String>, BTreeSet<(String, String)>, u64, u64);
    let mut by: BTreeMap<String, Acc> = BTreeMap::new();
    for r in inv.rows.iter().filter(|r| !r.dns_only && r.data_abroad) {
        for d in r
            .destinations
            .iter()
            .filter(|d| abroad(home, d.country.as_deref()))
        {
            let e = by
                .entry(d.country.clone().unwrap_or_else(|| "unknown".into()))
                .or_default();
            e.0.insert(r.host.clone());
            e.1.insert((r.vendor.clone(), r.product.clone()));
            e.2 += d.bytes_toserver;
            e.3 += d.flows;
        }
    }
    let mut out: Vec<Abroad> = by
        .into_iter()
        .map(|(country, (h, p, b, f))| Abroad {
            country,
            hosts: h.len() as u64,
            products: p.len() as u64,
            bytes_toserver: b,
            flows: f,
        })
        .collect();
    out.sort_by(|a, b| {
        b.bytes_toserver
            .cmp(&a.bytes_toserver)
            .then(a.country.cmp(&b.country))
    });
    out
}

/// A product (vendor, product, origin) and the hosts that run it.
pub type Rollup = ((String, String, &'static str), Vec<String>);

/// (vendor, product, origin) → hosts, the most hosts first.
pub fn rollup(inv: &Inventory) -> Vec<Rollup> {
    let mut by: BTreeMap<(String, String, &'static str), BTreeSet<String>> = BTreeMap::new();
    for r in &inv.rows {
        by.entry((r.vendor.clone(), r.product.clone(), r.origin))
            .or_default()
            .insert(r.host.clone());
    }
    let mut out: Vec<_> = by
        .into_iter()
        .map(|(k, h)| (k, h.into_iter().collect::<Vec<_>>()))
        .collect();
    out.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{Dest, Row, Summary};

    fn row(host: &str, data_abroad: bool, countries: &[&str]) -> Row {
        Row {
            host: host.into(),
            vendor: "V".into(),
            product: "P".into(),
            origin: "foreign",
            data_abroad,
            destinations: countries
                .iter()
                .map(|c| Dest {
                    country: Some((*c).into()),
                    flows: 1,
                    bytes_toserver: 100,
                    ..Dest::default()
                })
                .collect(),
            ..Row::default()
        }
    }

    #[test]
    fn destinations_the_policy_allowed_are_not_abroad() {
        let inv = Inventory {
            summary: Summary {
                home_country: Some("DE".into()),
                ..Summary::default()
            },
            // h1: only to France, allowed by an EU policy (the judge said
            // no data abroad); h2: to the US and to home.
            rows: vec![row("h1", false, &["FR"]), row("h2", true, &["US", "DE"])],
            sources: Vec::new(),
        };
        let got: Vec<(String, u64, u64)> = abroad_by_country(&inv)
            .into_iter()
            .map(|a| (a.country, a.hosts, a.bytes_toserver))
            .collect();
        assert_eq!(got, vec![("US".to_string(), 1, 100)]);
    }
}
