//! Attribution: which catalogued endpoint a flow (or a DNS query) reached,
//! and what evidence says so.
//!
//! Evidence is tried strongest first: the names the flow itself carried (TLS
//! SNI, QUIC SNI, HTTP Host, CONNECT target), then the names a DNS answer
//! bound to its destination shortly before it started, then the server
//! certificate's names, then the vendor's published address ranges.

use super::catalog::{Catalog, Match};
use super::dns_cache::{DnsCache, DnsCacheConfig, DnsCacheStats, ResponseOutcome};
use super::geoip::{GeoAnswer, GeoIp};
use crate::dissect::dns::DnsFlavor;
use crate::dissect::DnsEvent;
use crate::event::{AppRecord, FlowRecord};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Where an attribution came from (what the report shows as evidence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    TlsSni,
    QuicSni,
    HttpHost,
    HttpConnect,
    /// A DNS answer bound the flow's destination address to a catalogued name.
    DnsAnswer,
    CertName,
    /// The destination is in a range the vendor publishes.
    AddressRange,
    /// The host asked DNS for a catalogued name (it tried to reach it).
    DnsQuery,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::TlsSni => "tls_sni",
            EvidenceKind::QuicSni => "quic_sni",
            EvidenceKind::HttpHost => "http_host",
            EvidenceKind::HttpConnect => "http_connect",
            EvidenceKind::DnsAnswer => "dns_answer",
            EvidenceKind::CertName => "cert_name",
            EvidenceKind::AddressRange => "address_range",
            EvidenceKind::DnsQuery => "dns_query",
        }
    }

    /// How the report names it in a sentence.
    pub fn label(self) -> &'static str {
        match self {
            EvidenceKind::TlsSni => "TLS SNI",
            EvidenceKind::QuicSni => "QUIC SNI",
            EvidenceKind::HttpHost => "HTTP Host",
            EvidenceKind::HttpConnect => "HTTP CONNECT",
            EvidenceKind::DnsAnswer => "DNS answer",
            EvidenceKind::CertName => "server certificate",
            EvidenceKind::AddressRange => "vendor address range",
            EvidenceKind::DnsQuery => "DNS query",
        }
    }

    /// Names the host itself sent, or the server presented: the strongest evidence.
    pub fn is_direct(self) -> bool {
        matches!(
            self,
            EvidenceKind::TlsSni
                | EvidenceKind::QuicSni
                | EvidenceKind::HttpHost
                | EvidenceKind::HttpConnect
                | EvidenceKind::CertName
        )
    }
}

/// A catalogued endpoint reached, and how we know.
#[derive(Clone, Debug)]
pub struct Attribution<'c> {
    pub kind: EvidenceKind,
    /// The name (or address) that matched.
    pub value: String,
    pub endpoint: Match<'c>,
}

/// Catalog, GeoIP and DNS bindings: everything that turns addresses and names
/// into vendors and countries. Lives in the single ordered output stage.
pub struct Resolver {
    pub catalog: Catalog,
    pub geoip: GeoIp,
    dns: DnsCache,
    /// Recent GeoIP answers (bounded; cleared when full).
    geo_cache: HashMap<IpAddr, Arc<GeoAnswer>, rustc_hash::FxBuildHasher>,
}

/// GeoIP answers kept between lookups.
const GEO_CACHE: usize = 1 << 16;

/// Lowercase without a trailing dot, as catalog patterns are written.
fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Resolver {
    pub fn new(catalog: Catalog, geoip: GeoIp, dns: DnsCacheConfig) -> Self {
        Resolver {
            catalog,
            geoip,
            dns: DnsCache::new(dns),
            geo_cache: HashMap::default(),
        }
    }

    /// Reopens GeoIP files replaced since they were opened (long runs), and
    /// forgets cached answers if so. A bad new file keeps the old data and is
    /// reported once.
    pub fn reload_geoip_if_changed(&mut self) {
        match self.geoip.reload_if_changed() {
            Ok(true) => self.geo_cache.clear(),
            Ok(false) => {}
            Err(e) => eprintln!("phonehome: warning: {e}; keeping the GeoIP data in use"),
        }
    }

    pub fn dns_stats(&self) -> &DnsCacheStats {
        self.dns.stats()
    }

    /// Country and AS of `ip` (cached).
    pub fn geo(&mut self, ip: IpAddr) -> Arc<GeoAnswer> {
        if let Some(a) = self.geo_cache.get(&ip) {
            return Arc::clone(a);
        }
        if self.geo_cache.len() >= GEO_CACHE {
            self.geo_cache.clear();
        }
        let a = Arc::new(self.geoip.lookup(ip));
        self.geo_cache.insert(ip, Arc::clone(&a));
        a
    }

    fn name<'c>(&'c self, kind: EvidenceKind, name: &str) -> Option<Attribution<'c>> {
        let n = normal(name);
        let m = self.catalog.match_name(&n)?;
        Some(Attribution {
            kind,
            value: n,
            endpoint: m,
        })
    }

    /// The catalogued endpoint a finished flow reached, by its strongest evidence.
    pub fn attribute(&self, rec: &FlowRecord) -> Option<Attribution<'_>> {
        self.attribute_all(rec).into_iter().next()
    }

    /// Every piece of evidence that ties a finished flow to a catalogued
    /// endpoint, strongest first, at most one per kind: the flow's own names
    /// (TLS SNI, QUIC SNI, HTTP Host, CONNECT target), the names a DNS answer
    /// bound to its destination shortly before it started, the server
    /// certificate's own name, the vendor's published ranges.
    pub fn attribute_all(&self, rec: &FlowRecord) -> Vec<Attribution<'_>> {
        let mut out: Vec<Attribution<'_>> = Vec::new();
        let names = rec.names.as_deref();
        if let Some(n) = names {
            // With ECH the SNI is only the provider's public name: not evidence.
            let (sni, quic_sni) = if n.ech {
                (None, None)
            } else {
                (n.sni.as_deref(), n.quic_sni.as_deref())
            };
            // Through a proxy the CONNECT target is the flow's real
            // destination; what the tunnel carries (SNI) confirms it.
            let direct = [
                (
                    EvidenceKind::HttpConnect,
                    n.connect_target.as_ref().map(|(h, _)| h.as_str()),
                ),
                (EvidenceKind::TlsSni, sni),
                (EvidenceKind::QuicSni, quic_sni),
                (EvidenceKind::HttpHost, n.http_host.as_deref()),
            ];
            out.extend(
                direct
                    .into_iter()
                    .filter_map(|(kind, name)| name.and_then(|v| self.name(kind, v))),
            );
        }
        let m = &rec.meta;
        if let Some(b) = self.dns.lookup(m.dst, m.src, rec.start_ns) {
            // The question name first, then the CNAME chain: the first catalogued wins.
            if let Some(a) = b
                .names
                .iter()
                .find_map(|n| self.name(EvidenceKind::DnsAnswer, n))
            {
                out.push(a);
            }
        }
        if let Some(n) = names {
            // A certificate lists every name its front end serves (shared
            // CDN and cloud front ends list dozens): only an explicit
            // `cert_name` entry, or a concrete (non-wildcard) first name, the
            // subject's own, counts.
            let cert = n.cert_names.iter().enumerate().find_map(|(i, c)| {
                let c = normal(c);
                let m = self.catalog.match_cert_name(&c).or_else(|| {
                    (i == 0 && !c.starts_with("*."))
                        .then(|| self.catalog.match_name(&c))
                        .flatten()
                })?;
                Some(Attribution {
                    kind: EvidenceKind::CertName,
                    value: c,
                    endpoint: m,
                })
            });
            out.extend(cert);
        }
        if let Some(endpoint) = self.catalog.match_ip(m.dst) {
            out.push(Attribution {
                kind: EvidenceKind::AddressRange,
                value: m.dst.to_string(),
                endpoint,
            });
        }
        // Evidence for another product than the strongest is a different
        // claim (e.g. a shared address): keep the primary product's only.
        if let Some(first) = out.first().map(|a| a.endpoint.id) {
            let (v, p) = (first.vendor, first.product);
            out.retain(|a| a.endpoint.id.vendor == v && a.endpoint.id.product == p);
        }
        out
    }

    /// The endpoint an application event's own name points at (TLS/QUIC SNI
    /// unless ECH, HTTP Host or CONNECT target), for annotating that event.
    pub fn match_event(&self, rec: &AppRecord) -> Option<Attribution<'_>> {
        use crate::event::AppBody;
        match &rec.body {
            AppBody::Tls(t) => t
                .client_hello
                .as_ref()
                .filter(|ch| !ch.ech)
                .and_then(|ch| ch.sni.as_deref())
                .and_then(|n| self.name(EvidenceKind::TlsSni, n)),
            AppBody::Quic(q) => {
                let sni = q
                    .client_hello
                    .as_ref()
                    .filter(|ch| !ch.ech)
                    .and_then(|ch| ch.sni.as_deref())
                    .or(q.gquic.as_ref().and_then(|g| g.sni.as_deref()));
                sni.and_then(|n| self.name(EvidenceKind::QuicSni, n))
            }
            AppBody::Http(h) => {
                let r = &h.request;
                match &r.connect_target {
                    Some((host, _)) => self.name(EvidenceKind::HttpConnect, host),
                    None => r
                        .uri_host()
                        .or_else(|| r.host_name())
                        .and_then(|n| self.name(EvidenceKind::HttpHost, &n)),
                }
            }
            AppBody::Dns(_) => None,
        }
    }

    /// Learns DNS bindings from a DNS event, and returns what its questions
    /// show the client tried to reach. Only plain DNS feeds the cache:
    /// mDNS/LLMNR answers are unsolicited by design.
    pub fn on_dns(&mut self, rec: &AppRecord, d: &DnsEvent) -> Vec<Attribution<'_>> {
        if d.flavor != DnsFlavor::Dns {
            return Vec::new();
        }
        let m = &rec.meta;
        let kind = if d.msg.is_response() {
            let catalog = &self.catalog;
            let catalogued = |n: &str| catalog.match_name(n).is_some();
            match self
                .dns
                .response_protecting(m.flow_id, m.src, &d.msg, rec.ts_ns, &catalogued)
            {
                // The host got an address for the name: stronger than asking.
                ResponseOutcome::Answered {
                    bound, refreshed, ..
                } if bound + refreshed > 0 => EvidenceKind::DnsAnswer,
                // A response whose query was not captured still shows the question.
                ResponseOutcome::Unsolicited => EvidenceKind::DnsQuery,
                _ => return Vec::new(),
            }
        } else {
            self.dns.query(m.flow_id, m.src, &d.msg, rec.ts_ns);
            EvidenceKind::DnsQuery
        };
        d.msg
            .queries
            .iter()
            .filter_map(|q| self.name(kind, &q.rrname))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EndReason, FlowMeta, FlowNames, FlowState, Vlan};

    const CATALOG: &str = r#"
vendor = "Acme"
jurisdiction = ["US"]
[[product]]
name = "Sensor"
[[product.endpoint]]
host = "t.acme-cloud.example"
purpose = "telemetry"
confidence = "documented"
source = "https://acme.example/docs"
[[product.endpoint]]
suffix = "acme-cloud.example"
purpose = "update"
confidence = "documented"
source = "https://acme.example/docs"
[[product.endpoint]]
cidr = "198.51.100.0/24"
purpose = "telemetry"
confidence = "documented"
source = "https://acme.example/docs"
"#;

    fn resolver() -> Resolver {
        let cat =
            Catalog::from_files([("acme.toml".into(), "acme".into(), CATALOG.into())]).unwrap();
        Resolver::new(cat, GeoIp::none(), DnsCacheConfig::default())
    }

    fn record(dst: &str, names: Option<FlowNames>) -> FlowRecord {
        FlowRecord {
            meta: FlowMeta {
                flow_id: 7,
                src: "10.0.0.5".parse().unwrap(),
                dst: dst.parse().unwrap(),
                sport: 50000,
                dport: 443,
                proto: 6,
                vlan: Vlan::default(),
                community_id: [0; 20],
                tunnel: None,
                icmp: None,
            },
            start_ns: 1_000_000_000,
            end_ns: 2_000_000_000,
            pkts_toserver: 1,
            pkts_toclient: 1,
            bytes_toserver: 100,
            bytes_toclient: 100,
            state: FlowState::Established,
            reason: EndReason::Shutdown,
            tcp: None,
            app_proto: None,
            names: names.map(Box::new),
            anomalies: Default::default(),
            file: 0,
            empty: false,
        }
    }

    fn kinds(r: &Resolver, rec: &FlowRecord) -> Vec<(EvidenceKind, String)> {
        r.attribute_all(rec)
            .into_iter()
            .map(|a| (a.kind, a.value))
            .collect()
    }

    #[test]
    fn direct_names_come_first_and_are_normalised() {
        let r = resolver();
        let names = FlowNames {
            sni: Some("T.Acme-Cloud.Example.".into()),
            ..FlowNames::default()
        };
        let rec = record("198.51.100.7", Some(names));
        assert_eq!(
            kinds(&r, &rec),
            [
                (EvidenceKind::TlsSni, "t.acme-cloud.example".to_string()),
                (EvidenceKind::AddressRange, "198.51.100.7".to_string()),
            ]
        );
        let a = r.attribute(&rec).unwrap();
        assert_eq!(a.endpoint.pattern, "t.acme-cloud.example");
        assert_eq!(a.endpoint.purpose.as_str(), "telemetry");
    }

    #[test]
    fn an_ech_outer_name_is_not_evidence() {
        let r = resolver();
        let names = FlowNames {
            sni: Some("u.acme-cloud.example".into()),
            ech: true,
            ..FlowNames::default()
        };
        assert!(r.attribute(&record("203.0.113.9", Some(names))).is_none());
    }

    #[test]
    fn certificates_count_only_by_their_own_concrete_name() {
        let r = resolver();
        let shared = FlowNames {
            cert_names: vec!["cdn.example.net".into(), "x.acme-cloud.example".into()],
            ..FlowNames::default()
        };
        assert!(r.attribute(&record("203.0.113.9", Some(shared))).is_none());
        let wildcard = FlowNames {
            cert_names: vec!["*.acme-cloud.example".into()],
            ..FlowNames::default()
        };
        assert!(r
            .attribute(&record("203.0.113.9", Some(wildcard)))
            .is_none());
        let own = FlowNames {
            cert_names: vec!["x.acme-cloud.example".into()],
            ..FlowNames::default()
        };
        let a = r.attribute(&record("203.0.113.9", Some(own))).unwrap();
        assert_eq!(a.kind, EvidenceKind::CertName);
    }

    #[test]
    fn a_connect_target_is_the_destination_behind_a_proxy() {
        let r = resolver();
        let names = FlowNames {
            connect_target: Some(("t.acme-cloud.example".into(), 443)),
            sni: Some("t.acme-cloud.example".into()),
            ..FlowNames::default()
        };
        let k = kinds(&r, &record("10.0.0.3", Some(names)));
        assert_eq!(k.first().map(|x| x.0), Some(EvidenceKind::HttpConnect));
        assert_eq!(k.len(), 2);
    }

    #[test]
    fn a_flow_without_names_is_attributed_by_an_earlier_dns_answer() {
        use crate::dissect::dns::{parse_message, DnsFlavor, Transport};
        let mut r = resolver();
        // Query and answer for u.acme-cloud.example A 203.0.113.9, ttl 60.
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in ["u", "acme-cloud", "example"] {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 1;
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 9]);
        let meta = record("10.0.0.53", None).meta;
        let ev = |msg: Vec<u8>, ts: u64| {
            let d = DnsEvent {
                flavor: DnsFlavor::Dns,
                transport: Transport::Udp,
                msg: parse_message(&msg).unwrap(),
            };
            let rec = AppRecord {
                meta: meta.clone(),
                ts_ns: ts,
                pcap_cnt: None,
                file: 0,
                to_server: true,
                body: crate::event::AppBody::Dns(Box::new(d.clone())),
            };
            (rec, d)
        };
        let (rq, dq) = ev(q, 500_000_000);
        assert_eq!(
            r.on_dns(&rq, &dq).first().map(|a| a.kind),
            Some(EvidenceKind::DnsQuery)
        );
        let (ra, da) = ev(a, 600_000_000);
        assert_eq!(
            r.on_dns(&ra, &da).first().map(|a| a.kind),
            Some(EvidenceKind::DnsAnswer)
        );
        let flow = record("203.0.113.9", None);
        let got = r.attribute(&flow).unwrap();
        assert_eq!(
            (got.kind, got.value.as_str()),
            (EvidenceKind::DnsAnswer, "u.acme-cloud.example")
        );
        // A flow long after the TTL (60 s + 300 s grace) is not attributed by it.
        let mut late = record("203.0.113.9", None);
        late.start_ns = 1_000_000_000_000;
        assert!(r.attribute(&late).is_none());
    }
}
