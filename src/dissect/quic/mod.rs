//! QUIC client-Initial dissector: recovers the client's first handshake
//! message from the UDP datagrams of a flow.
//!
//! For TLS-based QUIC (v1, v2, drafts 22–34, mvfst, Google T05x) that is the
//! TLS ClientHello, decrypted from the client's Initial packets and
//! reassembled from their CRYPTO frames, for the TLS dissector to read. For
//! Google QUIC (Q0xx) it is the tag/value `CHLO`, clear text up to Q046 and
//! encrypted in Q050, whose SNI and user agent are returned directly.
//!
//! * [`QuicClientTracker`] is the per-flow entry point: feed it the client's
//!   datagrams until it returns [`Progress::ClientHello`] (once).
//! * [`header`] splits a datagram into its coalesced packets.
//! * [`protection`] derives Initial keys and opens packets (ring).
//! * [`frames`] walks the decrypted frames; [`assembler`] reassembles CRYPTO data.
//! * [`gquic`] handles Google QUIC's clear-text packets and CHLO.
//! * [`version_name`] renders a version as Suricata's EVE `quic.version` does.

pub mod assembler;
pub mod frames;
pub mod gquic;
pub mod header;
pub mod protection;
mod tracker;
pub mod version;
mod wire;

pub use assembler::{AssemblyError, CryptoAssembler};
pub use frames::{Frame, FrameError, Frames};
pub use gquic::GoogleChlo;
pub use header::{LongPacket, Packet, PacketType, Packets};
pub use protection::InitialKeys;
pub use tracker::{Anomalies, Progress, QuicClientTracker, TrackerLimits};
pub use version::{family, push_version_name, version_name, Family};

/// Why a packet or a flow could not be dissected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuicError {
    #[error("packet header cut short")]
    Truncated,
    #[error("long-header length field runs past the datagram")]
    LengthBeyondDatagram,
    #[error("connection ID of {0} bytes (at most 20 allowed)")]
    CidTooLong(u8),
    #[error("version negotiation list is empty or not a multiple of 4 bytes")]
    BadVersionList,
    #[error("protected payload too short for header protection and tag")]
    PayloadTooShort,
    #[error("key derivation failed")]
    KeyDerivation,
    #[error("Initial packet did not decrypt with any candidate key")]
    DecryptFailed,
    #[error("frames: {0}")]
    Frame(#[from] FrameError),
    #[error("crypto reassembly: {0}")]
    Assembly(#[from] AssemblyError),
    #[error("first handshake message has type {0}, not ClientHello (1)")]
    NotClientHello(u8),
    #[error("first handshake message is not a Google CHLO")]
    NotChlo,
    #[error("no client hello within the first {0} datagrams")]
    DatagramLimit(u32),
}
