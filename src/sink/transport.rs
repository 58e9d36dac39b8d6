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
            rejected: 0,
            error: Some(error.into()),
        }
    }
}

/// A way to a destination. Implementations connect lazily and reconnect
/// after [`Transport::reset`].
pub trait Transport: Send {
    /// Sends the records of `batch` in order.
    fn send(&mut self, batch: &[&[u8]]) -> Delivery;
    /// Forgets the connection after a failure.
    fn reset(&mut self) {}
}
