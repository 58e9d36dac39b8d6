//! Progress of a pass over the input files, readable while it runs.

use std::sync::atomic::AtomicU64;

/// Progress counters readable while a replay, an evidence pass or a report
/// runs. Writers update them once per block (or per file), never per
/// packet; a progress bar samples them a few times a second.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the input files read from disk so far.
    pub disk_bytes: AtomicU64,
    pub packets: AtomicU64,
    /// The input file being read, 1-based (0: none yet).
    pub file: AtomicU64,
    /// Flows created so far (over all workers).
    pub flows: AtomicU64,
    /// Findings so far (kept by the consumer of the events).
    pub findings: AtomicU64,
}
