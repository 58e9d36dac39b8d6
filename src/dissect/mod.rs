//! Dissect stage: names and fingerprints from the first packets of a flow.
//!
//! Each protocol folder holds pure parsers over byte slices (no flow state,
//! no I/O); anomalies are flags on what they return, never errors that stop
//! the flow.
pub mod dns;
pub mod http;
pub mod quic;
pub mod tls;
