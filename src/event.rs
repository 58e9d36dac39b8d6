//! Plain records that travel from the per-packet workers to the single,
//! ordered output stage (resolve → judge → report).
//!
//! Every event carries an [`EventKey`] derived only from the capture (the
//! global index of the packet that caused it), so merging the workers'
//! streams by key gives the same order whatever the number of workers.

use crate::decode::Tunnel;
use std::net::IpAddr;

/// Position of an event in the output. Ordered by packet index first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    /// Global index (0-based) of the packet that caused the event; for flows
    /// ended by a clock tick, the packet whose time advanced the clock; for
    /// flows flushed at the end, `u64::MAX`.
    pub pkt: u64,
    /// 0: flows ended before this packet was handled; 1: events of the packet itself.
    pub class: u8,
    /// Tie-breaker inside a class: the ended flow's first packet index, or
    /// the sequence number of the event among those of one packet.
    pub sub: u64,
}

/// VLAN ids, outermost first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Vlan {
    pub ids: [u16; 3],
    pub len: u8,
}

impl Vlan {
    pub fn as_slice(&self) -> &[u16] {
        self.ids.get(..self.len as usize).unwrap_or(&[])
    }
}

/// What identifies a flow in every event about it, oriented client → server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowMeta {
    pub flow_id: u64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub vlan: Vlan,
    pub community_id: [u8; 20],
    pub tunnel: Option<Tunnel>,
    /// ICMP type and code of the flow's first packet.
    pub icmp: Option<(u8, u8)>,
}

/// Flow state at its end, with Suricata's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowState {
    /// Packets seen in one direction only.
    New,
    Established,
    /// TCP: RST, or FIN in both directions.
    Closed,
}

impl FlowState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::New => "new",
            FlowState::Established => "established",
            FlowState::Closed => "closed",
        }
    }
}

/// Why a flow record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Idle longer than its timeout (packet time).
    Timeout,
    /// Open longer than the active timeout: this record covers the time so
    /// far and the flow goes on under the same flow_id.
    ActiveTimeout,
    /// Pushed out of a full flow table.
    Forced,
    /// The capture ended with the flow still open.
    Shutdown,
    /// A new TCP handshake reused the ports of a closed flow.
    TcpReuse,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::ActiveTimeout => "active_timeout",
            EndReason::Forced => "forced",
            EndReason::Shutdown => "shutdown",
            EndReason::TcpReuse => "tcp_reuse",
        }
    }
}

/// TCP details of a flow: flags seen each way and the connection state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpSummary {
    pub flags_ts: u8,
    pub flags_tc: u8,
    pub state: &'static str,
}

/// A finished (or timed-out) flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub meta: FlowMeta,
    pub start_ns: u64,
    pub end_ns: u64,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub state: FlowState,
    pub reason: EndReason,
    pub tcp: Option<TcpSummary>,
    pub app_proto: Option<&'static str>,
    /// Input file (index into the replay's file list) of the flow's last packet.
    pub file: u32,
}

/// One output event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub key: EventKey,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Flow(Box<FlowRecord>),
}
