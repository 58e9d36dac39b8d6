//! Application records: the events the dissectors make of a flow's
//! packets, and [`Event`], what the workers hand on (a flow record or an
//! application record, placed by its [`EventKey`]).

use crate::flow::{EventKey, FlowMeta, FlowRecord};

/// One output event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub key: EventKey,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    Flow(Box<FlowRecord>),
    App(Box<AppRecord>),
}

/// An application-layer event (DNS message, TLS or QUIC hello, HTTP request).
#[derive(Clone, Debug, PartialEq)]
pub struct AppRecord {
    pub meta: FlowMeta,
    pub ts_ns: u64,
    /// 1-based packet number in the replay (Suricata's `pcap_cnt`); none
    /// for what is reported when the flow ends.
    pub pcap_cnt: Option<u64>,
    pub file: u32,
    /// Whether the packet that completed it went client → server.
    pub to_server: bool,
    pub body: AppBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AppBody {
    Dns(Box<super::DnsEvent>),
    Tls(Box<super::TlsEvent>),
    Quic(Box<super::QuicEvent>),
    Http(Box<super::HttpEvent>),
    /// A DHCP or NBNS message: who a host says it is. Not an EVE event;
    /// only the host-identity table reads it.
    HostId(Box<super::HostIdEvent>),
}
