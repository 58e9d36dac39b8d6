//! DNS dissector (pure parsers over byte slices): DNS, mDNS and LLMNR messages,
//! DNS-over-TCP framing, and the EVE objects Suricata 8 logs for them.
//!
//! * [`parse_message`] decodes one message; only a buffer shorter than the
//!   header is an error, everything else odd is a flag in [`DnsAnomalies`].
//! * [`TcpDnsFramer`] splits one direction of a TCP stream into messages.
//! * [`DnsFlavor::from_ports`] tells DNS, mDNS and LLMNR apart (same wire format);
//!   [`looks_like_dns`] is a strict content check for DNS on other ports.
//! * [`write_eve`] writes the `dns` / `mdns` / `llmnr` object of an EVE event
//!   (`to_eve`, its `serde_json::Value` twin, is built in tests only, to check it).
//!
//! Names are in presentation form with the case kept as on the wire (0x20
//! randomisation is visible); use [`lowercase_name`] for matching.

mod anomalies;
mod eve;
mod message;
pub(crate) mod name;
mod names;
mod tcp;

pub use anomalies::DnsAnomalies;
#[cfg(test)]
pub use eve::to_eve;
pub use eve::{suricata_ipv6, write_eve};
pub use message::{
    hex, looks_like_dns, parse_message, DnsFlags, DnsMessage, DnsQuery, DnsRecord, EdnsOption,
    NotDns, RData, Soa, Srv, Sshfp, Svcb, HEADER_LEN, MAX_OPTIONS, MAX_RDATA_BYTES,
    MAX_RECORDS_PER_SECTION,
};
pub use name::{
    bytes_to_text, lowercase_name, slice_to_text, MAX_LABELS, MAX_NAME_TEXT, MAX_POINTER_HOPS,
    MAX_WIRE_NAME, NAME_WORK_PER_BYTE,
};
pub use names::{rcode_name, rrtype_name};
pub use tcp::{FramerStats, TcpDnsFramer, DEFAULT_BUFFER_CAP, MAX_TCP_MESSAGE};

/// Transport a DNS-like message came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Which protocol of the DNS family a message belongs to; parsing is the same,
/// the EVE object and event type differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnsFlavor {
    Dns,
    /// Multicast DNS, UDP 5353 (RFC 6762).
    Mdns,
    /// Link-Local Multicast Name Resolution, UDP and TCP 5355 (RFC 4795).
    Llmnr,
}

pub const DNS_PORT: u16 = 53;
pub const MDNS_PORT: u16 = 5353;
pub const LLMNR_PORT: u16 = 5355;

impl DnsFlavor {
    /// The flavor for a flow's ports, or `None` if neither port is a DNS-family
    /// port. Port 53 wins over the others (a resolver query from source port
    /// 5353 is still DNS).
    pub fn from_ports(transport: Transport, src_port: u16, dst_port: u16) -> Option<DnsFlavor> {
        let either = |p: u16| src_port == p || dst_port == p;
        if either(DNS_PORT) {
            Some(DnsFlavor::Dns)
        } else if either(MDNS_PORT) && transport == Transport::Udp {
            Some(DnsFlavor::Mdns)
        } else if either(LLMNR_PORT) {
            Some(DnsFlavor::Llmnr)
        } else {
            None
        }
    }

    /// The EVE `event_type`, which is also the key of the object [`write_eve`] writes.
    pub fn event_type(self) -> &'static str {
        match self {
            DnsFlavor::Dns => "dns",
            DnsFlavor::Mdns => "mdns",
            DnsFlavor::Llmnr => "llmnr",
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
