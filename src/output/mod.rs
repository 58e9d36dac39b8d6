//! Output stage: the documents phonehome writes about what it saw, from
//! typed records: EVE JSON lines ([`eve`], in Suricata's shape), ECS
//! documents ([`ecs`]), CEF ([`cef`]), the finding document of alerts and
//! evidence bundles ([`finding`]), and alert deduplication ([`dedup`]).
//! Delivering them elsewhere is the job of the `sink` module, above this one.
pub mod cef;
pub mod dedup;
pub mod ecs;
pub mod eve;
pub mod finding;

use crate::capture::CaptureStats;
use crate::decode::DecodeStats;
use crate::flow::FlowStats;

/// Everything counted during a replay: what the `stats` event reports.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    pub capture: CaptureStats,
    /// Decoder counters from the workers and the reader (fragments).
    pub decode: DecodeStats,
    pub flows: FlowStats,
    /// Flows whose TCP streams lost data, by reason.
    pub stream: crate::dissect::stream::StreamStats,
    /// The DNS cache's counters (filled by the output stage).
    pub dns_cache: crate::resolve::dns_cache::DnsCacheStats,
    /// The global memory budget's counters (filled by the output stage).
    pub memory: crate::base::budget::MemoryStats,
    /// The host-identity table's claims and what it shed to stay bounded
    /// (filled by the output stage).
    pub host_identity: crate::resolve::hosts::HostTableStats,
    /// Events handed to the sink.
    pub events: u64,
}

/// Suricata's name for an IP protocol number in `proto`.
pub fn proto_name(proto: u8) -> std::borrow::Cow<'static, str> {
    match proto {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        58 => "IPv6-ICMP".into(),
        132 => "SCTP".into(),
        n => n.to_string().into(),
    }
}
