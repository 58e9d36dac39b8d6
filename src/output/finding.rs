//! A finding as phonehome writes it: the `phonehome` object of its EVE
//! alert, and each finding of an evidence bundle's findings.json. One
//! definition, serialized from the typed [`Finding`] (the bundle takes it
//! as a `serde_json::Value` without writing and re-reading an alert line).

use crate::base::json::Obj;
use crate::base::time::eve_ts;
use crate::judge::{Destination, Evidence, Finding};
use crate::resolve::EvidenceKind;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The finding's document, fields in the order the alert writes them.
#[derive(Serialize)]
pub struct FindingDoc<'a> {
    host: IpAddr,
    /// Only where identity claims named the host: captures without them
    /// give the documents they always gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    host_identity: Option<HostDoc<'a>>,
    vendor: &'a str,
    product: &'a str,
    vendor_country: &'a [String],
    finding_kind: &'static str,
    severity: &'static str,
    confidence: &'static str,
    tier: &'static str,
    foreign_vendor: bool,
    data_abroad: bool,
    reason: &'a str,
    #[serde(serialize_with = "timestamp")]
    first_seen: u64,
    #[serde(serialize_with = "timestamp")]
    last_seen: u64,
    flows: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    destinations: Vec<DestinationDoc<'a>>,
    evidence: Vec<EvidenceDoc<'a>>,
    evidence_counts: &'a BTreeMap<EvidenceKind, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exception: Option<ExceptionDoc<'a>>,
}

/// Who the host is: its identity key, the names and MAC its claims gave,
/// and each address it was bound to with the times of those claims.
#[derive(Serialize)]
struct HostDoc<'a> {
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fqdn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<&'a str>,
    addresses: Vec<HostAddressDoc>,
}

#[derive(Serialize)]
struct HostAddressDoc {
    ip: IpAddr,
    #[serde(serialize_with = "timestamp")]
    first_seen: u64,
    #[serde(serialize_with = "timestamp")]
    last_seen: u64,
}

#[derive(Serialize)]
struct DestinationDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    names: &'a BTreeSet<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_org: Option<&'a str>,
    flows: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
}

#[derive(Serialize)]
struct EvidenceDoc<'a> {
    kind: &'static str,
    tier: &'static str,
    value: &'a str,
    pattern: &'a str,
    purpose: &'a str,
    source: &'a str,
    community_id: &'a str,
    flow_id: u64,
    #[serde(serialize_with = "timestamp")]
    timestamp: u64,
}

#[derive(Serialize)]
struct ExceptionDoc<'a> {
    /// An exception in force covers the finding (its severity is `info`).
    excepted: bool,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<&'a str>,
    expired: bool,
    policy_line: u64,
}

/// Packet time in ns as an EVE timestamp string.
fn timestamp<S: Serializer>(ns: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&eve_ts(*ns))
}

impl<'a> FindingDoc<'a> {
    pub fn new(f: &'a Finding) -> Self {
        FindingDoc {
            host: f.host,
            host_identity: f.identity.as_ref().map(|h| HostDoc {
                key: &h.key,
                name: h.name.as_deref(),
                fqdn: h.fqdn.as_deref(),
                mac: h.mac.as_deref(),
                addresses: h
                    .addresses
                    .iter()
                    .map(|a| HostAddressDoc {
                        ip: a.ip,
                        first_seen: a.first_ns,
                        last_seen: a.last_ns,
                    })
                    .collect(),
            }),
            vendor: &f.vendor,
            product: &f.product,
            vendor_country: &f.vendor_country,
            finding_kind: f.kind.as_str(),
            severity: f.severity.as_str(),
            confidence: f.confidence.as_str(),
            tier: f.tier.as_str(),
            foreign_vendor: f.foreign_vendor,
            data_abroad: f.data_abroad,
            reason: &f.reason,
            first_seen: f.first_seen_ns,
            last_seen: f.last_seen_ns,
            flows: f.flows,
            bytes_toserver: f.bytes_toserver,
            bytes_toclient: f.bytes_toclient,
            destinations: f.destinations.iter().map(DestinationDoc::new).collect(),
            evidence: f.evidence.iter().map(EvidenceDoc::new).collect(),
            evidence_counts: &f.evidence_counts,
            exception: f.exception.as_ref().map(|x| ExceptionDoc {
                excepted: !x.expired,
                reason: &x.reason,
                expires: x.expires.as_deref(),
                expired: x.expired,
                policy_line: u64::from(x.line),
            }),
        }
    }

    /// The document as a JSON tree (keys sorted, as `serde_json::Map` keeps them).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Appends `f`'s document as its alert writes it: the same bytes as
/// serializing its [`FindingDoc`] with serde_json (a test holds them equal),
/// written directly (callgrind, bench capture: the serde path was 5.6 M
/// instructions of the main thread's 9.6 M end-of-run judgement).
pub fn push_doc(out: &mut Vec<u8>, f: &Finding) {
    let mut o = Obj::new(out);
    o.ip("host", f.host);
    if let Some(h) = &f.identity {
        o.obj("host_identity", |d| {
            d.str("key", &h.key);
            for (k, v) in [("name", &h.name), ("fqdn", &h.fqdn), ("mac", &h.mac)] {
                if let Some(v) = v {
                    d.str(k, v);
                }
            }
            d.key_array("addresses", h.addresses.iter(), |a, x| {
                a.ip("ip", x.ip)
                    .ts("first_seen", x.first_ns)
                    .ts("last_seen", x.last_ns);
            });
        });
    }
    o.str("vendor", &f.vendor)
        .str("product", &f.product)
        .str_list(
            "vendor_country",
            f.vendor_country.iter().map(String::as_str),
        )
        .str("finding_kind", f.kind.as_str())
        .str("severity", f.severity.as_str())
        .str("confidence", f.confidence.as_str())
        .str("tier", f.tier.as_str())
        .bool("foreign_vendor", f.foreign_vendor)
        .bool("data_abroad", f.data_abroad)
        .str("reason", &f.reason)
        .ts("first_seen", f.first_seen_ns)
        .ts("last_seen", f.last_seen_ns)
        .u64("flows", f.flows)
        .u64("bytes_toserver", f.bytes_toserver)
        .u64("bytes_toclient", f.bytes_toclient)
        .key_array("destinations", f.destinations.iter(), |o, d| {
            if let Some(ip) = d.ip {
                o.ip("ip", ip);
            }
            o.str_list("names", d.names.iter().map(String::as_str));
            if let Some(c) = &d.country {
                o.str("country", c);
            }
            if let Some(n) = d.asn {
                o.u64("asn", u64::from(n));
            }
            if let Some(org) = &d.as_org {
                o.str("as_org", org);
            }
            o.u64("flows", d.flows)
                .u64("bytes_toserver", d.bytes_toserver)
                .u64("bytes_toclient", d.bytes_toclient);
        })
        .key_array("evidence", f.evidence.iter(), |o, e| {
            o.str("kind", e.kind.as_str())
                .str("tier", e.tier.as_str())
                .str("value", &e.value)
                .str("pattern", &e.pattern)
                .str("purpose", e.purpose)
                .str("source", &e.source)
                .str("community_id", &e.community_id)
                .u64("flow_id", e.flow_id)
                .ts("timestamp", e.timestamp_ns);
        })
        .obj("evidence_counts", |c| {
            for (k, n) in &f.evidence_counts {
                c.u64(k.as_str(), *n);
            }
        });
    if let Some(x) = &f.exception {
        o.obj("exception", |e| {
            e.bool("excepted", !x.expired).str("reason", &x.reason);
            if let Some(d) = &x.expires {
                e.str("expires", d);
            }
            e.bool("expired", x.expired)
                .u64("policy_line", u64::from(x.line));
        });
    }
    o.end();
}

impl<'a> DestinationDoc<'a> {
    fn new(d: &'a Destination) -> Self {
        DestinationDoc {
            ip: d.ip,
            names: &d.names,
            country: d.country.as_deref(),
            asn: d.asn,
            as_org: d.as_org.as_deref(),
            flows: d.flows,
            bytes_toserver: d.bytes_toserver,
            bytes_toclient: d.bytes_toclient,
        }
    }
}

impl<'a> EvidenceDoc<'a> {
    fn new(e: &'a Evidence) -> Self {
        EvidenceDoc {
            kind: e.kind.as_str(),
            tier: e.tier.as_str(),
            value: &e.value,
            pattern: &e.pattern,
            purpose: e.purpose,
            source: &e.source,
            community_id: &e.community_id,
            flow_id: e.flow_id,
            timestamp: e.timestamp_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::policy::{FindingKind, Severity};
    use crate::judge::{Confidence, Excepted};
    use crate::resolve::catalog::Tier;

    fn finding() -> Finding {
        Finding {
            host: "2001:db8::7".parse().unwrap(),
            vendor: "Vendor \"Q\"".into(),
            product: "Agent\u{1}".into(),
            vendor_country: vec!["US".into()],
            kind: FindingKind::ForeignVendorDataAbroad,
            severity: Severity::High,
            confidence: Confidence::Medium,
            tier: Tier::OwnedDomain,
            foreign_vendor: true,
            data_abroad: true,
            first_seen_ns: 1_700_000_000_123_456_789,
            last_seen_ns: 1_700_000_060_000_000_000,
            flows: 2,
            bytes_toserver: 10,
            bytes_toclient: 20,
            destinations: vec![
                Destination {
                    ip: Some("192.0.2.1".parse().unwrap()),
                    names: ["a.example".to_string()].into(),
                    country: Some("US".into()),
                    asn: Some(64500),
                    as_org: None,
                    flows: 2,
                    bytes_toserver: 10,
                    bytes_toclient: 20,
                },
                Destination {
                    ip: None,
                    names: BTreeSet::new(),
                    country: None,
                    asn: None,
                    as_org: Some("Org".into()),
                    flows: 0,
                    bytes_toserver: 0,
                    bytes_toclient: 0,
                },
            ],
            destinations_dropped: 0,
            evidence: vec![Evidence {
                kind: EvidenceKind::DnsAnswer,
                tier: Tier::OwnedDomain,
                value: "a.example".into(),
                pattern: "*.example".into(),
                purpose: "telemetry",
                source: "https://docs.example/x".into(),
                community_id: "1:abc=".into(),
                flow_id: 42,
                timestamp_ns: 1_700_000_000_000_000_000,
            }],
            evidence_counts: [(EvidenceKind::DnsAnswer, 3)].into(),
            dns_only: false,
            exception: Some(Excepted {
                reason: "approved".into(),
                expires: Some("2027-06-30".into()),
                expired: false,
                line: 12,
            }),
            reason: "r".into(),
            identity: None,
        }
    }

    #[test]
    fn the_alert_object_bytes_and_the_bundle_value() {
        let f = finding();
        let bytes = serde_json::to_string(&FindingDoc::new(&f)).unwrap();
        // Key order and escaping as the alert has always written them.
        assert_eq!(
            bytes,
            concat!(
                r#"{"host":"2001:db8::7","vendor":"Vendor \"Q\"","product":"Agent\u0001","#,
                r#""vendor_country":["US"],"finding_kind":"foreign_vendor_data_abroad","#,
                r#""severity":"high","confidence":"medium","tier":"owned_domain","foreign_vendor":true,"#,
                r#""data_abroad":true,"#,
                r#""reason":"r","first_seen":"2023-11-14T22:13:20.123456+0000","#,
                r#""last_seen":"2023-11-14T22:14:20.000000+0000","flows":2,"bytes_toserver":10,"#,
                r#""bytes_toclient":20,"destinations":[{"ip":"192.0.2.1","names":["a.example"],"#,
                r#""country":"US","asn":64500,"flows":2,"bytes_toserver":10,"bytes_toclient":20},"#,
                r#"{"names":[],"as_org":"Org","flows":0,"bytes_toserver":0,"bytes_toclient":0}],"#,
                r#""evidence":[{"kind":"dns_answer","tier":"owned_domain","value":"a.example","#,
                r#""pattern":"*.example","#,
                r#""purpose":"telemetry","source":"https://docs.example/x","community_id":"1:abc=","#,
                r#""flow_id":42,"timestamp":"2023-11-14T22:13:20.000000+0000"}],"#,
                r#""evidence_counts":{"dns_answer":3},"#,
                r#""exception":{"excepted":true,"reason":"approved","expires":"2027-06-30","#,
                r#""expired":false,"policy_line":12}}"#
            )
        );
        // The alert carries exactly this object; the bundle's value is the same tree.
        let mut line = Vec::new();
        crate::output::eve::alert_event(&mut line, &f);
        let alert: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(alert["phonehome"], FindingDoc::new(&f).to_value());
        assert!(String::from_utf8(line)
            .unwrap()
            .ends_with(&format!(",\"phonehome\":{bytes}}}")));
    }

    /// The hand-written alert document is serde's, byte for byte, over the
    /// shapes a finding takes: with and without identity, exception,
    /// expiry, destinations, evidence; IPv4 and IPv6; text needing escapes.
    #[test]
    fn the_written_document_is_serdes_byte_for_byte() {
        use crate::resolve::hosts::{HostAddress, HostRecord};
        let mut shapes = vec![finding()];
        let mut f = finding();
        f.host = "10.1.2.3".parse().unwrap();
        f.exception = Some(Excepted {
            reason: "tab\there \"quoted\" \\ back, é, \u{7f}".into(),
            expires: None,
            expired: true,
            line: 0,
        });
        f.identity = Some(HostRecord {
            key: "mac:aa:bb:cc:dd:ee:ff".into(),
            name: Some("WS-01\n".into()),
            fqdn: None,
            mac: Some("aa:bb:cc:dd:ee:ff".into()),
            addresses: vec![
                HostAddress {
                    ip: "10.1.2.3".parse().unwrap(),
                    first_ns: 1,
                    last_ns: 1_700_000_000_999_999_999,
                },
                HostAddress {
                    ip: "fe80::1:2".parse().unwrap(),
                    first_ns: 0,
                    last_ns: u64::MAX,
                },
            ],
        });
        shapes.push(f.clone());
        f.identity.as_mut().unwrap().addresses.clear();
        f.identity.as_mut().unwrap().name = None;
        f.destinations.clear();
        f.evidence.clear();
        f.evidence_counts.clear();
        f.vendor_country.clear();
        f.exception = None;
        f.reason = "\u{0}\u{1f}日本".into();
        shapes.push(f.clone());
        f.identity = None;
        f.evidence_counts = [
            (EvidenceKind::Ja4, 1),
            (EvidenceKind::TlsSni, u64::MAX),
            (EvidenceKind::DestinationAs, 0),
        ]
        .into();
        f.kind = FindingKind::DnsOnly;
        f.severity = Severity::Info;
        f.confidence = Confidence::Low;
        f.tier = Tier::Certificate;
        shapes.push(f);
        for f in &shapes {
            let mut written = Vec::new();
            push_doc(&mut written, f);
            let serde = serde_json::to_vec(&FindingDoc::new(f)).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(serde).unwrap()
            );
        }
    }
}
