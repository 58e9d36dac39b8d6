//! phonehome: proves from the network which security products phone home, and where.
//!
//! The crate is laid out as the pipeline it runs, data flowing one way through
//! plain types:
//!
//! `capture → decode → flow → dissect → resolve → judge → report`
//!
//! * [`capture`] reads pcap/pcapng (optionally gzip-compressed) into blocks of raw packets.
//! * [`decode`] slices link, network, tunnel and transport headers (etherparse).
//! * [`flow`] tracks bidirectional flows, TCP state, timeouts and Community ID.
//! * [`dissect`] pulls names and fingerprints from the first packets of a flow.
//! * [`resolve`] maps destinations to vendors, countries and ASNs.
//! * [`judge`] applies the jurisdiction policy and makes findings.
//! * [`report`] writes EVE JSON, stats and the human summary.
//!
//! [`engine`] wires the stages together over threads; [`event`] holds the plain
//! records that travel from the per-packet workers to the single ordered output stage.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

// First, so its print!/println!/eprint!/eprintln! (safe on a closed pipe)
// replace std's in every module below.
#[macro_use]
pub mod stdio;

pub mod capture;
pub mod cli;
pub mod decode;
pub mod dissect;
pub mod engine;
pub mod event;
pub mod flow;
pub mod judge;
pub mod report;
pub mod resolve;
