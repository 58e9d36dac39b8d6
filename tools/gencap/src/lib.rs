//! gencap: deterministic generator of phonehome's own captures.
//!
//! Independent of the phonehome crate on purpose: test data must not be produced by the code
//! under test. Everything is derived from fixed seeds with a hand-written PRNG; no clock, no
//! hash-map iteration order, so the same version writes the same bytes on every run.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod bench;
pub mod demo;
pub mod dns;
pub mod fingerprint;
pub mod frame;
pub mod hostile;
pub mod pcap;
pub mod programme;
pub mod quic;
pub mod rng;
pub mod tls;
pub mod x509;

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("building a packet: {0}")]
    Build(String),
    #[error("QUIC: {0}")]
    Quic(#[from] quic::QuicError),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("bad argument: {0}")]
    Arg(String),
}
