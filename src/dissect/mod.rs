//! Dissect stage: names and fingerprints from the first packets of a flow.
//!
//! Each protocol folder holds pure parsers over byte slices (no flow state,
//! no I/O); anomalies are flags on what they return, never errors that stop
//! the flow. What the stage hands on are the plain records of `record`:
//! [`AppRecord`] and [`Event`].
pub mod caps;
pub mod dhcp;
pub mod dns;
pub mod hostid;
pub mod http;
pub mod nbns;
pub mod quic;
mod record;
mod session;
pub mod stream;
pub mod tls;

pub use record::{AppBody, AppRecord, Event, EventKind};
pub use session::{AppState, Emitted, FlowFacts};

/// A DNS message seen on a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsEvent {
    pub flavor: dns::DnsFlavor,
    pub transport: dns::Transport,
    pub msg: dns::DnsMessage,
}

/// What one TLS session showed in clear: the hellos and the server's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsEvent {
    pub client_hello: Option<tls::ClientHello>,
    pub server_hello: Option<tls::ServerHello>,
    pub cert: Option<tls::CertInfo>,
    pub transport: tls::Transport,
}

/// A QUIC client hello: TLS inside an IETF QUIC Initial, or a Google QUIC CHLO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuicEvent {
    pub version: u32,
    pub client_hello: Option<tls::ClientHello>,
    pub gquic: Option<quic::GoogleChlo>,
    pub anomalies: quic::Anomalies,
}

/// A message that tells who a host is (see `hostid`): the claims are made
/// from it downstream, where the packet's source address is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostIdEvent {
    Dhcp(dhcp::DhcpMessage),
    Nbns(nbns::NbnsMessage),
}

/// One HTTP/1.x request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpEvent {
    pub request: http::HttpRequest,
}
