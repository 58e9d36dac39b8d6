//! Host names from mDNS announcements (RFC 6762), read with the DNS
//! dissector's message parser.

use super::{display_text, ClaimAction, IdentityClaim, IdentitySource};
use crate::dissect::dns::{DnsMessage, RData};
use std::net::IpAddr;

/// The host name an mDNS response announces for the address it came from.
///
/// A responder announces `<host>.local` A/AAAA records for itself; a Sleep
/// Proxy or a gateway may also answer for other machines, so only a name
/// with a record for `src` itself counts. A record with TTL 0 is a goodbye
/// (the host gives the name up). Queries (including probes) claim nothing.
pub fn from_mdns(msg: &DnsMessage, src: IpAddr) -> Option<IdentityClaim> {
    if !msg.is_response() || msg.flags.opcode != 0 || msg.rcode != 0 {
        return None;
    }
    let rec = msg.answers.iter().chain(&msg.additionals).find(|r| {
        let addr: Option<IpAddr> = match r.rdata {
            RData::A(a) => Some(a.into()),
            RData::Aaaa(a) => Some(a.into()),
            _ => None,
        };
        addr == Some(src) && local_host(&r.rrname).is_some()
    })?;
    let host = local_host(&rec.rrname)?;
    Some(IdentityClaim {
        source: IdentitySource::Mdns,
        action: if rec.ttl == 0 {
            ClaimAction::Release
        } else {
            ClaimAction::Bind
        },
        mac: None,
        address: Some(src),
        hostname: Some(display_text(host.as_bytes())),
        fqdn: None,
        ttl: Some(rec.ttl),
    })
}

/// `host` of `host.local` (one label; case-insensitive suffix, final dot allowed).
fn local_host(name: &str) -> Option<&str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let cut = name.len().checked_sub(".local".len())?;
    let (host, suffix) = (name.get(..cut)?, name.get(cut..)?);
    if !suffix.eq_ignore_ascii_case(".local") || host.is_empty() || host.contains('.') {
        return None;
    }
    Some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_host_takes_one_label_before_local() {
        assert_eq!(local_host("Lucas-iMac.local"), Some("Lucas-iMac"));
        assert_eq!(local_host("MBPro.LOCAL."), Some("MBPro"));
        assert_eq!(local_host("_kerberos.Lucas-iMac.local"), None);
        assert_eq!(local_host(".local"), None);
        assert_eq!(local_host("local"), None);
        assert_eq!(local_host("example.com"), None);
    }
}
