//! phonehome: proves from the network which security products phone home, and where.
//!
//! The crate is laid out as the pipeline it runs, data flowing one way
//! through plain typed records; a module imports only the ones above it in
//! this list, never a later one (`tests/architecture.rs` holds the rule):
//!
//! ```text
//!  capture → decode → flow → dissect → resolve → judge → output ─┬→ sink
//!                                                   │            └→ evidence → report
//!                                                   └→ export (the catalog as rules)
//!  base: under every stage          engine: runs the stages over threads
//! ```
//!
//! * [`base`]: the bottom layer: JSON writer, EVE timestamps, offset → line,
//!   the ISO country list, progress counters.
//! * [`capture`] reads pcap/pcapng (optionally gzip-compressed) into blocks of raw packets.
//! * [`decode`] slices link, network, tunnel and transport headers (etherparse).
//! * [`flow`] tracks bidirectional flows, TCP state, timeouts and Community ID,
//!   and owns the flow records ([`flow::FlowRecord`]).
//! * [`dissect`] pulls names and fingerprints from the first packets of a flow,
//!   and owns the application records ([`dissect::AppRecord`]) and the
//!   [`dissect::Event`] the workers hand on.
//! * [`resolve`] maps destinations to vendors, countries and ASNs.
//! * [`judge`] applies the jurisdiction policy and makes findings.
//! * [`output`] writes EVE JSON lines and the other document formats (ECS,
//!   CEF, the finding document of alerts and bundles), and deduplicates alerts.
//! * [`export`] writes the vendor catalog as Suricata rules, a Zeek intel
//!   file, Sigma rules, an RPZ zone, a hosts file or JSON.
//! * [`sink`] delivers them to SOC tools (syslog, Splunk HEC, Elasticsearch,
//!   Redis, files), spooling what cannot be sent yet.
//! * [`evidence`] reads the inputs again for the packets behind each finding
//!   and writes the evidence bundle.
//! * [`report`] builds the HTML, Markdown, CSV and JSON inventory report from
//!   EVE files and bundles.
//! * [`engine`] wires the stages together over threads: a reader, per-flow
//!   workers and the single ordered output stage.
//!
//! The command line (argument parsing, progress bars, exit codes) lives in
//! the binary (`src/main.rs`, `src/cli/`); no library module knows of it.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

// First, so that base::stdio's print!/println!/eprint!/eprintln! (safe on a
// closed pipe) replace std's in every module below.
#[macro_use]
pub mod base;
pub mod capture;
pub mod decode;
pub mod dissect;
pub mod engine;
pub mod evidence;
pub mod export;
pub mod flow;
pub mod inventory;
pub mod judge;
pub mod output;
pub mod report;
pub mod resolve;
pub mod sink;
