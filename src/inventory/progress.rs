//! Removal progress: for each host and product, whether it is still there,
//! removed, new or replaced, between a baseline and the current period.
//!
//! * **still present**: seen in the baseline and seen since `since`;
//! * **removed**: seen in the baseline, not seen since `since`, while the
//!   host itself was seen since `since` (so a machine that was switched off
//!   is not counted as cleaned: it is **host not seen** instead);
//! * **replaced**: a foreign product removed (as above) from a host on
//!   which a domestic product of the same category was seen since `since`;
//! * **new**: not in the baseline, seen since `since`.
//!
//! Plain computation over a [`Snapshot`]: no store access, no clock.

use super::{FindingRecord, Snapshot};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Nanoseconds in a day: timeline points are UTC days.
pub const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// What the current period is compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// One run, by id.
    Run(String),
    /// Every run that started before this time.
    Before(u64),
}

/// What to compare.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgressQuery {
    /// Default: every run before `since`.
    pub baseline: Option<Baseline>,
    /// Start of the current period. Default: the UTC day the latest run started.
    pub since_ns: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    StillPresent,
    Removed,
    Replaced,
    New,
    /// In the baseline, and the host has not been seen since: not verified.
    HostNotSeen,
}

impl State {
    /// The state as JSON names it (`still_present`, ...).
    pub fn key(self) -> &'static str {
        match self {
            State::StillPresent => "still_present",
            State::Removed => "removed",
            State::Replaced => "replaced",
            State::New => "new",
            State::HostNotSeen => "host_not_seen",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::StillPresent => "still present",
            State::Removed => "removed",
            State::Replaced => "replaced",
            State::New => "new",
            State::HostNotSeen => "host not seen",
        }
    }
}

/// One host and product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProgressRow {
    pub host_key: String,
    pub host_name: Option<String>,
    pub mac: Option<String>,
    pub vendor: String,
    pub product: String,
    pub category: Option<String>,
    pub foreign: bool,
    pub state: State,
    /// When the product was last seen on the host (any period).
    pub last_seen_ns: u64,
    /// When the host was last seen at all.
    pub host_last_seen_ns: Option<u64>,
    /// For `replaced`: the domestic products of the same category seen since.
    pub replaced_by: Vec<(String, String)>,
    /// The judge's severity in the run the row is taken from (the current
    /// period's, else the baseline's); none for runs before schema 2.
    pub severity: Option<String>,
    /// Data left the allowed countries, judged against that run's policy
    /// (older runs: any destination outside its home country, or any at all
    /// when the run recorded no home country).
    pub data_abroad: bool,
    /// Destination countries other than that run's home country.
    pub countries_abroad: Vec<String>,
}

/// Totals for one vendor and product.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProductTotal {
    pub vendor: String,
    pub product: String,
    pub foreign: bool,
    pub hosts_baseline: u64,
    pub hosts_current: u64,
    pub still_present: u64,
    pub removed: u64,
    pub replaced: u64,
    pub new: u64,
    pub host_not_seen: u64,
}

/// Hosts clear of foreign products on one UTC day with runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClearPoint {
    pub day_start_ns: u64,
    pub hosts_seen: u64,
    pub hosts_with_foreign: u64,
    pub hosts_clear: u64,
    /// hosts_clear / hosts_seen, in thousandths (integer for exact output).
    pub clear_per_mille: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The home country of the current period's runs (several joined by
    /// `/` if sensors disagree; none if no run recorded one).
    pub home_country: Option<String>,
    /// The runs of the baseline and of the current period.
    pub baseline_runs: Vec<String>,
    pub current_runs: Vec<String>,
    pub since_ns: u64,
    pub rows: Vec<ProgressRow>,
    pub totals: Vec<ProductTotal>,
    pub timeline: Vec<ClearPoint>,
}

/// Why progress cannot be computed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProgressError {
    #[error("the inventory holds no runs yet: replay a capture with --inventory first")]
    Empty,
    #[error(
        "no run {0} in the inventory (phonehome progress --format json lists the runs compared)"
    )]
    UnknownRun(String),
}

type ProductKey = (String, String);

/// Computes progress over `snap`.
pub fn compute(snap: &Snapshot, q: &ProgressQuery) -> Result<Progress, ProgressError> {
    let latest = snap
        .runs
        .iter()
        .map(|r| r.period_start_ns)
        .max()
        .ok_or(ProgressError::Empty)?;
    let since = q.since_ns.unwrap_or(latest - latest % DAY_NS);
    let baseline: BTreeSet<&str> = match &q.baseline {
        Some(Baseline::Run(id)) => {
            if !snap.runs.iter().any(|r| &r.run_id == id) {
                return Err(ProgressError::UnknownRun(id.clone()));
            }
            BTreeSet::from([id.as_str()])
        }
        Some(Baseline::Before(t)) => runs_where(snap, |start| start < *t),
        None => runs_where(snap, |start| start < since),
    };
    let current = runs_where(snap, |start| start >= since);

    // host → (name, mac, last seen), from the shared hosts table.
    let host_info: BTreeMap<&str, _> = snap
        .hosts
        .iter()
        .map(|h| (h.host_key.as_str(), h))
        .collect();
    let active_now: BTreeSet<&str> = snap
        .sightings
        .iter()
        .filter(|(run, _)| current.contains(run.as_str()))
        .map(|(_, s)| s.host_key.as_str())
        .collect();

    // What "abroad" means for each run's findings: its own home country.
    let home_of: BTreeMap<&str, Option<&str>> = snap
        .runs
        .iter()
        .map(|r| (r.run_id.as_str(), r.home_country.as_deref()))
        .collect();
    let home = |run: &str| home_of.get(run).copied().flatten();
    let homes: BTreeSet<&str> = current.iter().filter_map(|r| home(r)).collect();
    type Seen<'a> = (&'a FindingRecord, Option<&'a str>);
    let mut before: BTreeMap<(&str, ProductKey), Seen<'_>> = BTreeMap::new();
    let mut now: BTreeMap<(&str, ProductKey), Seen<'_>> = BTreeMap::new();
    let mut last_seen: BTreeMap<(&str, ProductKey), u64> = BTreeMap::new();
    for (run, f) in &snap.findings {
        let key = (f.host_key.as_str(), (f.vendor.clone(), f.product.clone()));
        let ls = last_seen.entry(key.clone()).or_default();
        *ls = (*ls).max(f.last_seen_ns);
        if baseline.contains(run.as_str()) {
            before.entry(key.clone()).or_insert((f, home(run)));
        }
        if current.contains(run.as_str()) {
            now.entry(key).or_insert((f, home(run)));
        }
    }

    let mut rows = Vec::new();
    let keys: BTreeSet<&(&str, ProductKey)> = before.keys().chain(now.keys()).collect();
    for key in keys {
        let (host, (vendor, product)) = key;
        let f = now.get(key).or_else(|| before.get(key)).copied();
        let Some((f, f_home)) = f else { continue };
        let mut replaced_by = Vec::new();
        let state = match (before.contains_key(key), now.contains_key(key)) {
            (true, true) => State::StillPresent,
            (false, true) => State::New,
            (true, false) if !active_now.contains(host) => State::HostNotSeen,
            (true, false) => {
                if f.foreign {
                    replaced_by = now
                        .iter()
                        .filter(|((h, _), (g, _))| {
                            h == host
                                && !g.foreign
                                && g.category.is_some()
                                && g.category == f.category
                        })
                        .map(|((_, p), _)| p.clone())
                        .collect();
                }
                if replaced_by.is_empty() {
                    State::Removed
                } else {
                    State::Replaced
                }
            }
            (false, false) => continue,
        };
        let info = host_info.get(host);
        rows.push(ProgressRow {
            host_key: (*host).to_owned(),
            host_name: info.and_then(|h| h.name.clone()),
            mac: info.and_then(|h| h.mac.clone()),
            vendor: vendor.clone(),
            product: product.clone(),
            category: f.category.clone(),
            foreign: f.foreign,
            state,
            last_seen_ns: last_seen.get(key).copied().unwrap_or(f.last_seen_ns),
            host_last_seen_ns: info.map(|h| h.last_seen_ns),
            replaced_by,
            severity: f.severity.clone(),
            data_abroad: f.sends_abroad(f_home),
            countries_abroad: f.countries_abroad(f_home),
        });
    }

    let mut totals: BTreeMap<ProductKey, ProductTotal> = BTreeMap::new();
    for r in &rows {
        let t = totals
            .entry((r.vendor.clone(), r.product.clone()))
            .or_insert_with(|| ProductTotal {
                vendor: r.vendor.clone(),
                product: r.product.clone(),
                foreign: r.foreign,
                ..ProductTotal::default()
            });
        let key = (r.host_key.as_str(), (r.vendor.clone(), r.product.clone()));
        t.hosts_baseline += u64::from(before.contains_key(&key));
        t.hosts_current += u64::from(now.contains_key(&key));
        match r.state {
            State::StillPresent => t.still_present += 1,
            State::Removed => t.removed += 1,
            State::Replaced => t.replaced += 1,
            State::New => t.new += 1,
            State::HostNotSeen => t.host_not_seen += 1,
        }
    }

    Ok(Progress {
        home_country: (!homes.is_empty()).then(|| homes.into_iter().collect::<Vec<_>>().join("/")),
        baseline_runs: baseline.iter().map(|s| (*s).to_owned()).collect(),
        current_runs: current.iter().map(|s| (*s).to_owned()).collect(),
        since_ns: since,
        rows,
        totals: totals.into_values().collect(),
        timeline: timeline(snap),
    })
}

fn runs_where(snap: &Snapshot, keep: impl Fn(u64) -> bool) -> BTreeSet<&str> {
    snap.runs
        .iter()
        .filter(|r| keep(r.period_start_ns))
        .map(|r| r.run_id.as_str())
        .collect()
}

/// Per UTC day with runs: hosts seen, hosts with a foreign product, share clear.
fn timeline(snap: &Snapshot) -> Vec<ClearPoint> {
    let day_of: BTreeMap<&str, u64> = snap
        .runs
        .iter()
        .map(|r| {
            (
                r.run_id.as_str(),
                r.period_start_ns - r.period_start_ns % DAY_NS,
            )
        })
        .collect();
    let mut seen: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    let mut foreign: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    for (run, s) in &snap.sightings {
        if let Some(d) = day_of.get(run.as_str()) {
            seen.entry(*d).or_default().insert(&s.host_key);
        }
    }
    for (run, f) in snap.findings.iter().filter(|(_, f)| f.foreign) {
        if let Some(d) = day_of.get(run.as_str()) {
            foreign.entry(*d).or_default().insert(&f.host_key);
            // A host with a finding was seen, even if no sighting was written.
            seen.entry(*d).or_default().insert(&f.host_key);
        }
    }
    seen.into_iter()
        .map(|(day, hosts)| {
            let with_foreign = foreign.get(&day).map_or(0, |f| f.len() as u64);
            let n = hosts.len() as u64;
            let clear = n - with_foreign;
            ClearPoint {
                day_start_ns: day,
                hosts_seen: n,
                hosts_with_foreign: with_foreign,
                hosts_clear: clear,
                clear_per_mille: (clear * 1000).checked_div(n).unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
