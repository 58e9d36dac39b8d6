//! Host identity claims: who a host says it is, read from DHCP, NetBIOS name
//! service and mDNS announcements.
//!
//! A claim ties some of MAC address, host name and IP address together at the
//! moment of the packet. Claims are plain records; keeping an address →
//! identity history over time is the resolve stage's job
//! (`resolve::hosts`). Each function here trusts only what the protocol makes
//! authoritative: a DHCP ACK (not an OFFER) binds a lease, an mDNS response
//! binds a `.local` name only to the address it was sent from.

mod mdns;
pub(super) mod text;

pub use mdns::from_mdns;
pub use text::{display_text, Mac, MAX_NAME_TEXT};

use super::dhcp::{DhcpMessage, MessageType};
use super::nbns::{NbName, NbRdata, NbnsMessage, Opcode};
use std::net::{IpAddr, Ipv4Addr};

/// Where a claim came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentitySource {
    Dhcp,
    Nbns,
    Mdns,
    /// The Ethernet source of a host's own packets on the sensor's segment.
    Link,
}

impl IdentitySource {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::Dhcp => "dhcp",
            IdentitySource::Nbns => "nbns",
            IdentitySource::Mdns => "mdns",
            IdentitySource::Link => "link",
        }
    }
}

/// What a claim does to the address → identity history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClaimAction {
    /// The address belongs to this identity from now on (lease granted,
    /// name registered or announced).
    Bind,
    /// The identity gives the address up (DHCP release, NBNS release, mDNS
    /// goodbye).
    Release,
    /// Names for a MAC, no address yet (DHCP DISCOVER / REQUEST).
    Describe,
}

/// One statement about a host's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityClaim {
    pub source: IdentitySource,
    pub action: ClaimAction,
    pub mac: Option<Mac>,
    pub address: Option<IpAddr>,
    /// The short host name as sent (DHCP option 12, NetBIOS name, mDNS name
    /// without `.local`).
    pub hostname: Option<String>,
    /// A fully qualified name (DHCP option 81), without the final dot.
    pub fqdn: Option<String>,
    /// Seconds the binding is good for (DHCP lease, NBNS/mDNS TTL).
    pub ttl: Option<u32>,
}

/// The claim a DHCP message makes, if any. A client's DISCOVER or REQUEST
/// describes its MAC (names); the server's ACK binds the lease address;
/// INFORM binds the client's own address; RELEASE gives it up. OFFER and NAK
/// bind nothing.
pub fn from_dhcp(msg: &DhcpMessage) -> Option<IdentityClaim> {
    let mac = msg.client_mac().or_else(|| msg.client_id_mac())?;
    let nonzero = |a: Ipv4Addr| (!a.is_unspecified()).then_some(IpAddr::V4(a));
    let (action, address) = match msg.message_type {
        Some(MessageType::Ack) => (
            ClaimAction::Bind,
            nonzero(msg.yiaddr).or_else(|| nonzero(msg.ciaddr)),
        ),
        Some(MessageType::Inform) => (ClaimAction::Bind, nonzero(msg.ciaddr)),
        Some(MessageType::Release) => (ClaimAction::Release, nonzero(msg.ciaddr)),
        Some(MessageType::Discover | MessageType::Request | MessageType::Decline) => {
            (ClaimAction::Describe, None)
        }
        // BOOTP: a reply with an address is the binding.
        None if msg.is_reply() => (ClaimAction::Bind, nonzero(msg.yiaddr)),
        _ => return None,
    };
    if action != ClaimAction::Describe && address.is_none() {
        return None;
    }
    let hostname = msg.hostname.clone().filter(|h| !h.is_empty());
    let fqdn = msg
        .client_fqdn
        .as_ref()
        .map(|f| f.name.trim_end_matches('.').to_owned())
        .filter(|n| !n.is_empty());
    if action == ClaimAction::Describe && hostname.is_none() && fqdn.is_none() {
        return None;
    }
    Some(IdentityClaim {
        source: IdentitySource::Dhcp,
        action,
        mac: Some(mac),
        address,
        hostname,
        fqdn,
        ttl: msg.lease_time.filter(|_| action == ClaimAction::Bind),
    })
}

/// A NetBIOS name that names a machine: unique (not a group) with suffix
/// `<00>` (workstation service) or `<20>` (file server service).
fn host_name(name: &NbName, group: bool) -> Option<String> {
    if group || !matches!(name.suffix, 0x00 | 0x20) || name.raw.is_empty() {
        return None;
    }
    // `*` is the wildcard of node status queries, not a name.
    if name.raw.first() == Some(&b'*') {
        return None;
    }
    Some(name.name_text())
}

/// The claims an NBNS message makes: name registrations and refreshes
/// (requests), positive query responses and node status responses bind a
/// machine name to an address; a release request gives it up. `src` is the
/// packet's source address (the node, for a status response).
pub fn from_nbns(msg: &NbnsMessage, src: IpAddr) -> Vec<IdentityClaim> {
    let mut out = Vec::new();
    let registering = matches!(
        msg.opcode,
        Opcode::Registration
            | Opcode::Refresh
            | Opcode::RefreshAlt
            | Opcode::MultiHomedRegistration
    );
    let action = match (msg.response, msg.opcode) {
        (false, _) if registering => ClaimAction::Bind,
        (false, Opcode::Release) => ClaimAction::Release,
        (true, Opcode::Query) if msg.rcode == 0 => ClaimAction::Bind,
        _ => return out,
    };
    // Requests carry the binding in the additional section, responses in answers.
    let records = if msg.response {
        &msg.answers
    } else {
        &msg.additionals
    };
    for rec in records {
        match (&rec.rdata, &rec.name) {
            (NbRdata::Nb(entries), Some(name)) => {
                for e in entries {
                    let Some(host) = host_name(name, e.is_group()) else {
                        continue;
                    };
                    if e.addr.is_unspecified() {
                        continue;
                    }
                    push_unique(
                        &mut out,
                        IdentityClaim {
                            source: IdentitySource::Nbns,
                            action,
                            mac: None,
                            address: Some(IpAddr::V4(e.addr)),
                            hostname: Some(host),
                            fqdn: None,
                            ttl: Some(rec.ttl),
                        },
                    );
                }
            }
            (NbRdata::NodeStatus(status), _) if msg.response => {
                let host = status
                    .names
                    .iter()
                    .find_map(|n| host_name(&n.name, n.is_group()));
                if host.is_none() && status.unit_id.is_none() {
                    continue;
                }
                push_unique(
                    &mut out,
                    IdentityClaim {
                        source: IdentitySource::Nbns,
                        action: ClaimAction::Bind,
                        mac: status.unit_id,
                        address: Some(src),
                        hostname: host,
                        fqdn: None,
                        ttl: None,
                    },
                );
            }
            _ => {}
        }
    }
    out
}

/// `<00>` and `<20>` registrations of one machine say the same thing twice.
fn push_unique(out: &mut Vec<IdentityClaim>, c: IdentityClaim) {
    if !out.contains(&c) {
        out.push(c);
    }
}

#[cfg(test)]
mod tests;
