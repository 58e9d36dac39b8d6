//! Evidence packets: for every finding, the packets of the flows behind it,
//! as a pcapng with comments naming the finding and each packet's flow.
//!
//! Findings are only known once flows end, when their packets are long gone,
//! so the evidence is gathered in two steps: while the replay runs, the
//! output stage records which flows back which finding ([`FlowIndex`]); after
//! it, [`extract`] reads the inputs again and copies the first packets of
//! each of those flows. [`bundle`] writes them with findings.json and a
//! SHA-256 manifest into a directory that can be handed over. See
//! docs/evidence.md.

pub mod bundle;
pub mod extract;
pub mod frag;
pub mod index;
pub mod live;
pub mod pcapng;

pub use bundle::LiveEvidenceStats;
pub use extract::{extract, ExtractStats, Extracted, FindingEvidence, Limits};
pub use index::{FlowIndex, IndexLimits};
pub use live::LiveEvidence;

use std::path::PathBuf;

/// Why an evidence bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{path}: cannot write evidence: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: the evidence directory exists and is not empty; give a new or empty directory"
    )]
    NotEmpty { path: PathBuf },
    #[error("the inputs changed since the replay: {replayed} packets replayed, {read} read for the evidence")]
    InputsChanged { replayed: u64, read: u64 },
    #[error("internal error: {0}")]
    Internal(&'static str),
}
