//! The inventory: what every replay found, remembered across runs and sensors.
//!
//! A run (one replay of one sensor's capture) is written whole, in one
//! transaction: its hosts, its findings (host, vendor, product, first and
//! last seen, flows, bytes, destination countries, evidence references) and
//! the address → identity bindings it learnt. Rows are keyed by run id,
//! and the run id is derived from the sensor and the capture, so writing the
//! same run again replaces it with itself: nothing changes. Runs of different
//! sensors touch different rows; the one table they share (`hosts`, first and
//! last seen per host) is updated with atomic upserts, so concurrent writers
//! lose nothing. A writer killed mid-run leaves no trace of that run.
//!
//! Two stores, one schema and one list of migrations ([`schema`]):
//! SQLite (a file; rusqlite with its bundled library) for one sensor, and
//! PostgreSQL (`postgres://...`; the synchronous `postgres` client, since
//! phonehome has no async runtime) for a fleet writing to one database.
//!
//! [`progress`] turns what the store holds into removal progress.

mod backend;
pub mod build;
pub mod collect;
pub mod progress;
pub mod render;
pub mod schema;

pub use backend::{Store, StoreKind};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Why the inventory could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("inventory {location}: {source}")]
    Sqlite {
        location: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("inventory {location}: {source}")]
    Postgres {
        location: String,
        #[source]
        source: postgres::Error,
    },
    #[error("inventory {location}: schema version {found} is newer than this phonehome knows ({known}); upgrade phonehome")]
    SchemaTooNew {
        location: String,
        found: i64,
        known: i64,
    },
    #[error("inventory {location}: {what}")]
    Invalid { location: String, what: String },
}

/// A host seen in a run (any traffic at all): what makes "removed" differ
/// from "switched off".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostSighting {
    /// The host's identity key: `mac:…` when its MAC is known, `name:…`
    /// when only a name is, else `ip:…`.
    pub host_key: String,
    pub name: Option<String>,
    pub mac: Option<String>,
    /// The address it used last in the run.
    pub address: String,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub flows: u64,
    pub bytes: u64,
}

/// One (host, vendor, product) finding of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingRecord {
    pub host_key: String,
    pub vendor: String,
    pub product: String,
    /// The kind of product (e.g. `endpoint_protection`), which says what a
    /// domestic product replaces; none when the catalog does not say.
    pub category: Option<String>,
    /// The vendor is foreign under the policy in force for the run.
    pub foreign: bool,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub flows: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// ISO 3166 codes of the destinations, sorted, unique.
    pub countries: Vec<String>,
    /// References to the evidence (Community IDs, bundle file names).
    pub evidence: Vec<String>,
    /// The judge's severity (`high`, `medium`, `low`, `info`); none in runs
    /// written before schema 2.
    pub severity: Option<String>,
    /// The judge said data left the allowed countries (the policy's, which
    /// may allow more than home); none before schema 2, when progress and
    /// the report compare the countries with the run's home country.
    pub data_abroad: Option<bool>,
}

impl FindingRecord {
    /// Destination countries outside `home` (all of them when the home
    /// country is not known, as in runs written before schema 2).
    pub fn countries_abroad(&self, home: Option<&str>) -> Vec<String> {
        self.countries
            .iter()
            .filter(|c| home.is_none_or(|h| !h.eq_ignore_ascii_case(c)))
            .cloned()
            .collect()
    }

    /// Whether the product sent data abroad: the judge's word when the run
    /// recorded it, else any destination country other than `home`.
    pub fn sends_abroad(&self, home: Option<&str>) -> bool {
        self.data_abroad
            .unwrap_or_else(|| !self.countries_abroad(home).is_empty())
    }
}

/// An address held by an identity during part of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentityBinding {
    pub host_key: String,
    pub address: String,
    /// `dhcp`, `nbns`, `mdns` or `link`.
    pub source: String,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
}

/// Everything one run writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub sensor_id: String,
    /// Packet time the run covers.
    pub period_start_ns: u64,
    pub period_end_ns: u64,
    /// What was replayed (file names), for the report.
    pub source: String,
    pub catalog_version: String,
    /// The policy's home country (ISO 3166 alpha-2): what "abroad" means
    /// for this run's findings. None in runs written before schema 2.
    pub home_country: Option<String>,
    /// Which policy judged the run: its file name and SHA-256, or the
    /// default policy for the home country.
    pub policy: Option<String>,
    pub hosts: Vec<HostSighting>,
    pub findings: Vec<FindingRecord>,
    pub identities: Vec<IdentityBinding>,
}

impl RunRecord {
    /// The run id of `sensor_id` replaying a capture summarised by
    /// `fingerprint` (e.g. first and last packet times, packet and byte
    /// counts): the same capture on the same sensor gets the same id, so a
    /// second write replaces the first with itself.
    pub fn derive_id(sensor_id: &str, fingerprint: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update((sensor_id.len() as u64).to_be_bytes());
        h.update(sensor_id.as_bytes());
        h.update(fingerprint);
        let d = h.finalize();
        let mut out = String::with_capacity(32);
        for b in d.iter().take(16) {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// A run as the store lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub sensor_id: String,
    pub period_start_ns: u64,
    pub period_end_ns: u64,
    pub source: String,
    pub catalog_version: String,
    pub home_country: Option<String>,
    pub policy: Option<String>,
    pub host_count: u64,
    pub finding_count: u64,
    pub identity_count: u64,
}

/// A host over all runs (the shared `hosts` table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostSummary {
    pub host_key: String,
    pub name: Option<String>,
    pub mac: Option<String>,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
}

/// What the store holds, read in one go (for progress and the report).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub runs: Vec<RunSummary>,
    pub hosts: Vec<HostSummary>,
    /// (run id, sighting), ordered by run id then host key.
    pub sightings: Vec<(String, HostSighting)>,
    /// (run id, finding), ordered by run id, host, vendor, product.
    pub findings: Vec<(String, FindingRecord)>,
    /// (run id, binding), ordered.
    pub identities: Vec<(String, IdentityBinding)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_depends_on_sensor_and_capture_only() {
        let a = RunRecord::derive_id("s1", b"cap");
        assert_eq!(a, RunRecord::derive_id("s1", b"cap"));
        assert_ne!(a, RunRecord::derive_id("s2", b"cap"));
        assert_ne!(a, RunRecord::derive_id("s1", b"cap2"));
        // The length prefix keeps ("s1c", "ap") apart from ("s1", "cap").
        assert_ne!(a, RunRecord::derive_id("s1c", b"ap"));
        assert_eq!(a.len(), 32);
    }
}
