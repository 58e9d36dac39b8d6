//! Flow records: what the flow stage hands on about a flow, from its
//! identity ([`FlowMeta`]) to its end ([`FlowRecord`]), with the
//! [`EventKey`] that places every event in the output.
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
    /// Class 0: the ended flow's uid (from its first packet index). Class 1: 0.
    pub sub: u64,
    /// Order among the events of one packet, or of one ended flow (its
    /// pending application events first, the flow record last).
    pub seq: u32,
}

impl EventKey {
    /// The key of the `seq`-th event caused by packet `pkt`.
    pub fn packet(pkt: u64, seq: u32) -> Self {
        EventKey {
            pkt,
            class: 1,
            sub: 0,
            seq,
        }
    }

    /// The same position with another `seq`.
    pub fn with_seq(self, seq: u32) -> Self {
        EventKey { seq, ..self }
    }
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

bitflags::bitflags! {
    /// What went wrong while a flow's TCP streams were put in order for the
    /// dissectors: `phonehome.anomalies` on its flow event (`stream.*`), and
    /// counted in `stats.phonehome.stream`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct FlowAnomalies: u8 {
        /// Out-of-order data beyond the reassembly window was dropped,
        /// farthest first (the start of the stream, its handshake, is kept).
        const STREAM_OOO_DROPPED = 1 << 0;
        /// A hole stayed open while more data found no room: the stream
        /// stopped, nothing after the hole was inspected.
        const STREAM_GAVE_UP = 1 << 1;
        /// The flow ended with data still held behind a hole.
        const STREAM_GAP_AT_END = 1 << 2;
        /// Out-of-order data was dropped for the global memory budget
        /// (`--memory-limit`), not for the stream's own window.
        const STREAM_MEMORY = 1 << 3;
    }
}

impl FlowAnomalies {
    /// The EVE names of the flags that are set.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [
            (Self::STREAM_OOO_DROPPED, "stream.ooo_dropped"),
            (Self::STREAM_GAVE_UP, "stream.gave_up"),
            (Self::STREAM_GAP_AT_END, "stream.gap_at_end"),
            (Self::STREAM_MEMORY, "stream.memory"),
        ]
        .into_iter()
        .filter_map(move |(f, n)| self.contains(f).then_some(n))
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
    /// Names the flow's own packets carried.
    pub names: Option<Box<FlowNames>>,
    /// What went wrong putting its streams in order.
    pub anomalies: FlowAnomalies,
    /// Input file (index into the replay's file list) of the flow's last packet.
    pub file: u32,
    /// Nothing happened since the previous (active-timeout) record: not written.
    pub empty: bool,
}

/// Names and fingerprints a flow's own packets carried: the evidence for
/// attributing it to a destination name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowNames {
    /// TLS server name (over TCP).
    pub sni: Option<String>,
    /// The ClientHello offered Encrypted Client Hello: `sni` is only the outer, public name.
    pub ech: bool,
    /// Server name in a QUIC Initial's ClientHello (or a Google QUIC CHLO).
    pub quic_sni: Option<String>,
    /// HTTP Host of the first request (without port), or an absolute URI's host.
    pub http_host: Option<String>,
    /// HTTP CONNECT target: the real destination behind a proxy.
    pub connect_target: Option<(String, u16)>,
    /// DNS names of the server's certificate (subject CN and SAN DNS names).
    pub cert_names: Vec<String>,
    /// JA4 of the first ClientHello (TLS or QUIC), kept only when it carried
    /// no server name: the catalog's `ja4` tier attributes nameless flows only.
    pub ja4: Option<String>,
}

impl FlowNames {
    /// Heap bytes of the names' text.
    pub fn heap_bytes(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        text(&self.sni)
            + text(&self.quic_sni)
            + text(&self.http_host)
            + text(&self.ja4)
            + self
                .connect_target
                .as_ref()
                .map_or(0, |(h, _)| h.capacity())
            + self.cert_names.capacity() * std::mem::size_of::<String>()
            + self.cert_names.iter().map(String::capacity).sum::<usize>()
    }
}
