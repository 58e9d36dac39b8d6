//! Progress of a pass over the input files, readable while it runs.

use std::sync::atomic::AtomicU64;

/// Progress counters readable while a replay, an evidence pass or a report runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of the input files read from disk so far.
    pub disk_bytes: AtomicU64,
    pub packets: AtomicU64,
}
