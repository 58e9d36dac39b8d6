//! The ways to a destination: the [`Transport`] trait the sink threads send
//! through (implemented in `file`, `http`, `net` and `redis`; built in
//! `connect`).

/// What a transport did with a batch: the first `settled` records were
/// delivered or, `rejected` of them, refused for good by the destination;
/// when `settled` is short of the batch, `error` says why the rest was not
/// sent (they are retried).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    pub settled: usize,
    pub rejected: u64,
    pub error: Option<String>,
    /// The records after `settled` were written but their answers were lost
    /// (the connection broke): the destination may have applied them. Only
    /// a transport that [`Transport::reads_back`] says so.
    pub maybe_applied: bool,
}

impl Delivery {
    pub fn all(n: usize) -> Self {
        Delivery {
            settled: n,
            ..Delivery::default()
        }
    }

    pub fn failed(settled: usize, error: impl Into<String>) -> Self {
        Delivery {
            settled,
            error: Some(error.into()),
            ..Delivery::default()
        }
    }
}

/// The digest of a record as sent (SHA-256, first 8 bytes), by which a sink
/// notes what it sent without an answer and a transport recognises it at
/// the destination.
pub fn digest(payload: &[u8]) -> u64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(payload);
    let mut k = [0u8; 8];
    k.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(k)
}

/// How a sink starts on its destination (only files care).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Nothing is owed from an earlier run: a file starts empty.
    Fresh,
    /// The spool holds an earlier run's records: a file keeps what it has.
    Keep,
    /// An interrupted run of the same identity goes on: a file is cut back
    /// to the position it had when its last record was acknowledged.
    Resume(Option<u64>),
}

/// A way to a destination. Implementations connect lazily and reconnect
/// after [`Transport::reset`].
pub trait Transport: Send {
    /// Prepares the destination before the first send.
    fn start(&mut self, how: Start) -> Result<(), String> {
        let _ = how;
        Ok(())
    }
    /// Sends the records of `batch` in order.
    fn send(&mut self, batch: &[&[u8]]) -> Delivery;
    /// Forgets the connection after a failure.
    fn reset(&mut self) {}
    /// Most records per send. A transport whose only acknowledgement is the
    /// kernel taking a write (TCP syslog) sends one at a time, so that the
    /// position is written after each record: a kill between a write and
    /// that note resends one record, not a batch.
    fn batch_limit(&self) -> usize {
        usize::MAX
    }
    /// Where the destination stands after the last acknowledged record, for
    /// [`Start::Resume`] (a file's length; None for the others).
    fn position(&self) -> Option<u64> {
        None
    }
    /// Whether the destination can be asked afterwards which records it
    /// applied ([`Transport::applied`]; Redis reads back the tail). The sink
    /// then notes the digests of each batch before sending it, so that what
    /// a lost answer or a kill left unknown is looked up, not sent again.
    fn reads_back(&self) -> bool {
        false
    }
    /// Of records written earlier whose answers never came (their
    /// [`digest`]s, in the order written), how many the destination applied.
    /// Commands are applied in order: the last one found fixes the count.
    fn applied(&mut self, sent: &[u64]) -> std::io::Result<usize> {
        let _ = sent;
        Ok(0)
    }
}
