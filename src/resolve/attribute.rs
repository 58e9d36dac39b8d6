//! Attribution: which catalogued endpoint a flow (or a DNS query) reached,
//! and what evidence says so.
//!
//! Evidence is tried strongest first: the names the flow itself carried (TLS
//! SNI, QUIC SNI, HTTP Host, CONNECT target), then the names a DNS answer
//! bound to its destination shortly before it started, then the server
//! certificate's names, then the vendor's published address ranges. A flow
//! that carried no name at all is then tried by its destination's AS and
//! its JA4.
//!
//! Each name is matched against documented endpoints first and vendor-owned
//! domains second ([`Tier`]); a vendor's web presence never matches.

use super::catalog::{platforms, Catalog, Hit, Match, Tier};
use super::dns_cache::{DnsCache, DnsCacheConfig, DnsCacheStats, ResponseOutcome};
use super::geoip::{GeoAnswer, GeoIp};
use crate::dissect::dns::{DnsFlavor, DnsMessage};
use crate::dissect::AppRecord;
use crate::dissect::DnsEvent;
use crate::flow::{FlowNames, FlowRecord};
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
    /// A flow without names went to an AS registered to the vendor.
    DestinationAs,
    /// A flow without names sent a TLS/QUIC ClientHello with a catalogued JA4.
    Ja4,
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
            EvidenceKind::DestinationAs => "destination_as",
            EvidenceKind::Ja4 => "ja4",
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
            EvidenceKind::DestinationAs => "destination AS",
            EvidenceKind::Ja4 => "JA4 fingerprint",
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
    /// The name (or address, or fingerprint) that matched.
    pub value: String,
    /// What it matched, with its tier (`endpoint.tier`).
    pub endpoint: Match<'c>,
}

impl Attribution<'_> {
    /// Which catalog tier matched.
    pub fn tier(&self) -> Tier {
        self.endpoint.tier
    }
}

/// Evidence for another vendor or product than the strongest is a different
/// claim (e.g. a shared address): keeps the primary product's only. Evidence
/// that names no product (an owned domain or network shared by several)
/// supports any product of its vendor; when the strongest names none, the
/// first that does decides, and the rest are told that product.
fn primary_product_only(out: &mut Vec<Attribution<'_>>) {
    use super::catalog::EndpointId;
    let Some(first) = out.first().map(|a| a.endpoint.id) else {
        return;
    };
    let v = first.vendor;
    let named = out
        .iter()
        .find(|a| a.endpoint.id.vendor == v && a.endpoint.id.product != EndpointId::NO_PRODUCT)
        .map(|a| (a.endpoint.id.product, a.endpoint.product));
    let p = named.map_or(first.product, |(p, _)| p);
    out.retain(|a| {
        a.endpoint.id.vendor == v
            && (a.endpoint.id.product == p || a.endpoint.id.product == EndpointId::NO_PRODUCT)
    });
    if let Some((p, name)) = named {
        for a in out.iter_mut() {
            a.endpoint.id.product = p;
            a.endpoint.product = name;
        }
    }
}

/// Data shared by the ordered stage and the workers (GeoIP, the catalog),
/// each thread reading it through its own cache. A reload publishes a new
/// version; a reader picks it up when it next looks (a worker: at the start
/// of each job).
#[derive(Debug)]
pub struct Share<T> {
    current: std::sync::RwLock<Arc<T>>,
    version: std::sync::atomic::AtomicU64,
}

/// The GeoIP data in use ([`GeoCache`] looks addresses up in it).
pub type GeoShare = Share<GeoIp>;

/// The catalog in use ([`NameMatcher`] matches in it).
pub type CatalogShare = Share<Catalog>;

impl<T> Share<T> {
    pub fn new(data: T) -> Self {
        Share {
            current: std::sync::RwLock::new(Arc::new(data)),
            version: Default::default(),
        }
    }

    /// The data in use now, and its version.
    pub fn current(&self) -> (u64, Arc<T>) {
        // Read the version first: a publish in between only makes the
        // reader look again at its next refresh.
        let v = self.version.load(std::sync::atomic::Ordering::Acquire);
        let g = match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        (v, g)
    }

    /// Replaces the data in use.
    pub fn publish(&self, data: T) {
        let g = Arc::new(data);
        match self.current.write() {
            Ok(mut cur) => *cur = g,
            Err(poisoned) => *poisoned.into_inner() = g,
        }
        self.version
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// One thread's view of a [`Share`]: the data it uses, and that data's
/// version.
#[derive(Debug)]
struct View<T> {
    share: Arc<Share<T>>,
    data: Arc<T>,
    version: u64,
}

impl<T> View<T> {
    fn new(share: Arc<Share<T>>) -> Self {
        let (version, data) = share.current();
        View {
            share,
            data,
            version,
        }
    }

    /// Takes up newly published data; true when it did (an atomic load
    /// when nothing changed).
    fn refresh(&mut self) -> bool {
        if self.share.version() == self.version {
            return false;
        }
        (self.version, self.data) = self.share.current();
        true
    }
}

/// One thread's GeoIP lookups over a [`GeoShare`]: recent answers kept
/// (bounded; cleared when full or when the shared data changed).
#[derive(Debug)]
pub struct GeoCache {
    view: View<GeoIp>,
    answers: HashMap<IpAddr, Arc<GeoAnswer>, rustc_hash::FxBuildHasher>,
}

impl GeoCache {
    pub fn new(share: Arc<GeoShare>) -> Self {
        GeoCache {
            view: View::new(share),
            answers: HashMap::default(),
        }
    }

    /// Takes up newly published data, forgetting the old answers (an
    /// atomic load when nothing changed).
    pub fn refresh(&mut self) {
        if self.view.refresh() {
            self.answers.clear();
        }
    }

    /// Country and AS of `ip` (cached).
    pub fn geo(&mut self, ip: IpAddr) -> Arc<GeoAnswer> {
        if let Some(a) = self.answers.get(&ip) {
            return Arc::clone(a);
        }
        if self.answers.len() >= GEO_CACHE {
            self.answers.clear();
        }
        let a = Arc::new(self.view.data.lookup(ip));
        self.answers.insert(ip, Arc::clone(&a));
        a
    }

    /// The data this cache answers from.
    pub fn geoip(&self) -> &GeoIp {
        &self.view.data
    }

    pub fn share(&self) -> &Arc<GeoShare> {
        &self.view.share
    }
}

/// Catalog, GeoIP and DNS bindings: everything that turns addresses and names
/// into vendors and countries. Lives in the single ordered output stage;
/// the workers look GeoIP up themselves over [`Resolver::geo_share`].
pub struct Resolver {
    /// The catalog, with this stage's own memory of names it does not know.
    names: NameMatcher,
    dns: DnsCache,
    /// GeoIP, with this stage's own cache of answers.
    geo: GeoCache,
    /// The files' version whose reopening failed (reported once).
    geo_failed: Option<u64>,
}

/// GeoIP answers kept between lookups (per thread).
const GEO_CACHE: usize = 1 << 16;

/// Names remembered as unknown to the catalog.
const NAME_MISSES: usize = 1 << 13;

/// Longest name remembered as unknown (DNS names are at most 253 bytes;
/// longer text is hostile or garbage, and not kept).
const NAME_MISS_LEN: usize = 255;

/// Lowercase without a trailing dot, as catalog patterns are written.
fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// [`normal`] without a copy when the name is already in normal form (the
/// usual case: a worker checks every certificate name of every flow).
fn normal_ref(name: &str) -> std::borrow::Cow<'_, str> {
    let n = name.trim_end_matches('.');
    if n.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(n.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(n)
    }
}

impl Resolver {
    pub fn new(catalog: Catalog, geoip: GeoIp, dns: DnsCacheConfig) -> Self {
        Resolver {
            names: NameMatcher::new(Arc::new(CatalogShare::new(catalog))),
            dns: DnsCache::new(dns),
            geo: GeoCache::new(Arc::new(GeoShare::new(geoip))),
            geo_failed: None,
        }
    }

    pub fn catalog(&self) -> &Catalog {
        self.names.catalog()
    }

    /// Replaces the catalog (a reload), for this stage and the workers.
    /// What a worker matched in the old one is matched again here
    /// ([`Hits`] carry their catalog's version), so the new catalog applies
    /// from the same event on whatever the workers were doing.
    pub fn set_catalog(&mut self, catalog: Catalog) {
        self.names.view.share.publish(catalog);
        self.names.refresh();
    }

    /// The catalog the workers match their events' own names in.
    pub fn catalog_share(&self) -> Arc<CatalogShare> {
        Arc::clone(&self.names.view.share)
    }

    /// The GeoIP data the workers look up in (a reload here reaches them).
    pub fn geo_share(&self) -> Arc<GeoShare> {
        Arc::clone(self.geo.share())
    }

    /// Reopens GeoIP files replaced since they were opened (long runs) and
    /// publishes them to every thread. A bad new file keeps the old data
    /// and is reported once.
    pub fn reload_geoip_if_changed(&mut self) {
        let (on_disk, loaded) = {
            let g = self.geo.geoip();
            (g.stamps_on_disk(), g.stamps_loaded())
        };
        if on_disk == loaded || self.geo_failed == Some(on_disk) {
            return;
        }
        match self.geo.geoip().reopen() {
            Ok(g) => {
                self.geo_failed = None;
                self.set_geoip(g);
            }
            Err(e) => {
                self.geo_failed = Some(on_disk);
                eprintln!("phonehome: warning: {e}; keeping the GeoIP data in use");
            }
        }
    }

    /// Replaces the GeoIP data (a reload) for this stage and the workers.
    pub fn set_geoip(&mut self, geoip: GeoIp) {
        self.geo.share().publish(geoip);
        self.geo.refresh();
    }

    pub fn dns_stats(&self) -> &DnsCacheStats {
        self.dns.stats()
    }

    /// Country and AS of `ip` (cached).
    pub fn geo(&mut self, ip: IpAddr) -> Arc<GeoAnswer> {
        self.geo.geo(ip)
    }

    fn name<'c>(&'c self, kind: EvidenceKind, name: &str) -> Option<Attribution<'c>> {
        // Matching normalises on the stack; only a hit allocates the value.
        let m = self.names.name(name)?;
        Some(Attribution {
            kind,
            value: normal(name),
            endpoint: m,
        })
    }

    /// The catalogued endpoint a finished flow reached, by its strongest
    /// evidence (the destination's AS looked up here, uncached).
    pub fn attribute(&self, rec: &FlowRecord) -> Option<Attribution<'_>> {
        self.attribute_all(rec).into_iter().next()
    }

    /// [`attribute_flow`](Self::attribute_flow), looking the destination's
    /// AS up here (uncached; the engine passes the answer it already has).
    pub fn attribute_all(&self, rec: &FlowRecord) -> Vec<Attribution<'_>> {
        let asn = if self.catalog().has_asns() {
            self.geo.geoip().lookup(rec.meta.dst).asn
        } else {
            None
        };
        self.attribute_flow(rec, asn)
    }

    /// Every piece of evidence that ties a finished flow to a vendor,
    /// strongest first, at most one per kind: the flow's own names (TLS SNI,
    /// QUIC SNI, HTTP Host, CONNECT target), the names a DNS answer bound to
    /// its destination shortly before it started, the server certificate,
    /// the vendor's published ranges; for a flow that carried no name and
    /// had no DNS binding, its destination AS (`asn`) and its JA4.
    pub fn attribute_flow(&self, rec: &FlowRecord, asn: Option<u32>) -> Vec<Attribution<'_>> {
        self.attribute_flow_hits(rec, &self.names.flow_hits(rec, asn))
    }

    /// [`attribute_flow`](Self::attribute_flow) from what a worker already
    /// matched of the flow's own evidence (`hits`, made with `asn`); hits
    /// from another catalog than the one in use, or none, are made here.
    pub fn attribute_flow_with(
        &self,
        rec: &FlowRecord,
        asn: Option<u32>,
        hits: Option<&Hits>,
    ) -> Vec<Attribution<'_>> {
        match hits {
            Some(Hits {
                version,
                of: HitsOf::Flow(h),
            }) if *version == self.names.view.version => self.attribute_flow_hits(rec, h),
            _ => self.attribute_flow(rec, asn),
        }
    }

    /// The flow's evidence in order from its catalog hits and the DNS
    /// bindings (the one part that depends on what came before it).
    fn attribute_flow_hits(&self, rec: &FlowRecord, hits: &FlowHits) -> Vec<Attribution<'_>> {
        let catalog = self.catalog();
        // The value is written only for a hit.
        let attribution = |kind, value: &dyn Fn() -> String, hit: Option<Hit>| {
            Some(Attribution {
                kind,
                endpoint: catalog.resolve(hit?)?,
                value: value(),
            })
        };
        let mut out: Vec<Attribution<'_>> = Vec::new();
        let names = rec.names.as_deref();
        // Whether the client named its destination (a name not attributed is
        // then a statement that the flow is not the vendor's).
        let mut named = false;
        if let Some(n) = names {
            let direct = direct_names(n);
            named = n.ech || direct.iter().any(|(_, name)| name.is_some());
            for ((kind, name), hit) in direct.into_iter().zip(hits.direct) {
                if let (Some(name), Some(hit)) = (name, hit) {
                    out.extend(attribution(kind, &|| normal(name), Some(hit)));
                }
            }
        }
        let m = &rec.meta;
        if let Some(b) = self.dns.lookup(m.dst, m.src, rec.start_ns) {
            named = true;
            if let Some(a) = self.chain(EvidenceKind::DnsAnswer, &b.names) {
                out.push(a.1);
            }
        }
        if let Some(n) = names {
            // The certificate's own names count unless the client named
            // another destination.
            let cert = match hits.cert_documented {
                Some((i, hit)) => n
                    .cert_names
                    .get(i as usize)
                    .and_then(|c| attribution(EvidenceKind::CertName, &|| normal(c), Some(hit))),
                None if named && out.is_empty() => None,
                None => n.cert_names.first().and_then(|c| {
                    attribution(EvidenceKind::CertName, &|| normal(c), hits.cert_owned)
                }),
            };
            out.extend(cert);
        }
        out.extend(attribution(
            EvidenceKind::AddressRange,
            &|| m.dst.to_string(),
            hits.range,
        ));
        // Address and fingerprint say nothing about a flow whose client
        // named a destination that is not the vendor's (its web site on the
        // vendor's own network, say).
        if !named || !out.is_empty() {
            if let Some((number, hit)) = hits.asn {
                out.extend(attribution(
                    EvidenceKind::DestinationAs,
                    &|| format!("AS{number}"),
                    Some(hit),
                ));
            }
            if let Some(ja4) = names.and_then(|n| n.ja4.as_deref()) {
                out.extend(attribution(
                    EvidenceKind::Ja4,
                    &|| ja4.to_string(),
                    hits.ja4,
                ));
            }
        }
        primary_product_only(&mut out);
        out
    }

    /// The first name of a DNS chain (question, then CNAME targets) that
    /// matches, as (its position, attribution). Nothing when the question is
    /// a vendor's web presence: `www.vendor.com` CNAME'd onto the vendor's
    /// own load balancer is still a visit to its web site.
    fn chain<'c>(
        &'c self,
        kind: EvidenceKind,
        chain: &[String],
    ) -> Option<(usize, Attribution<'c>)> {
        let hit = chain
            .iter()
            .enumerate()
            .find_map(|(i, n)| Some((i, self.name(kind, n)?)))?;
        // Checked on a hit only: most chains match nothing.
        let question = chain.first()?;
        (hit.0 == 0 || !self.catalog().is_web_presence(question)).then_some(hit)
    }

    /// The endpoint an application event's own name points at (TLS/QUIC SNI
    /// unless ECH, HTTP Host or CONNECT target), for annotating that event.
    pub fn match_event(&self, rec: &AppRecord) -> Option<Attribution<'_>> {
        let (kind, name) = event_name(rec)?;
        self.name(kind, &name)
    }

    /// [`match_event`](Self::match_event) from what a worker already
    /// matched (`hits`); hits from another catalog, or none, are made here.
    pub fn match_event_with(
        &self,
        rec: &AppRecord,
        hits: Option<&Hits>,
    ) -> Option<Attribution<'_>> {
        match hits {
            Some(Hits {
                version,
                of: HitsOf::Event(hit),
            }) if *version == self.names.view.version => {
                let hit = (*hit)?;
                let (kind, name) = event_name(rec)?;
                Some(Attribution {
                    kind,
                    value: normal(&name),
                    endpoint: self.catalog().resolve(hit)?,
                })
            }
            _ => self.match_event(rec),
        }
    }

    /// Learns DNS bindings from a DNS event, and returns what its questions
    /// show the client tried to reach. Only plain DNS feeds the cache:
    /// mDNS/LLMNR answers are unsolicited by design.
    pub fn on_dns(&mut self, rec: &AppRecord, d: &DnsEvent) -> Vec<Attribution<'_>> {
        self.on_dns_with(rec, d, None)
    }

    /// [`on_dns`](Self::on_dns) from what a worker already matched of the
    /// message's names (`hits`); hits from another catalog, or none, are
    /// made here. Only the cache (what was asked before, on which flow) is
    /// this stage's: the names are matched the same wherever.
    pub fn on_dns_with(
        &mut self,
        rec: &AppRecord,
        d: &DnsEvent,
        hits: Option<&Hits>,
    ) -> Vec<Attribution<'_>> {
        if d.flavor != DnsFlavor::Dns {
            return Vec::new();
        }
        let made = match hits {
            Some(Hits {
                version,
                of: HitsOf::Dns(h),
            }) if *version == self.names.view.version => Some(*h),
            _ => None,
        };
        let m = &rec.meta;
        let kind = if d.msg.is_response() {
            let names = &self.names;
            // No name of any chain is catalogued: nothing to protect.
            let none = made.is_some_and(|h| !h.chained);
            let catalogued = |n: &str| !none && names.name(n).is_some();
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
        let catalog = self.names.catalog();
        let mut out = Vec::new();
        for (i, q) in d.msg.queries.iter().enumerate() {
            let qh = match made.as_ref().and_then(|h| h.questions.get(i)) {
                Some(qh) => *qh,
                None => self.names.question_hits(&d.msg, &q.rrname, &mut false),
            };
            let own = qh.own.and_then(|hit| catalog.resolve(hit));
            if let Some(endpoint) = own {
                out.push(Attribution {
                    kind,
                    endpoint,
                    value: normal(&q.rrname),
                });
                continue;
            }
            // The answer's CNAME chain ends at a vendor: the name asked for is
            // the vendor's (a customer alias, a regional front name).
            if kind != EvidenceKind::DnsAnswer {
                continue;
            }
            if let Some(endpoint) = qh.via_cname.and_then(|hit| catalog.resolve(hit)) {
                out.push(Attribution {
                    kind,
                    endpoint,
                    value: super::dns_cache::normalized(&q.rrname),
                });
            }
        }
        out
    }
}

/// The names an event's evidence may come from, in order of strength:
/// the CONNECT target (through a proxy, the flow's real destination; what
/// the tunnel carries confirms it), TLS SNI, QUIC SNI, HTTP Host. With ECH
/// the SNI is only the provider's public name: not evidence.
fn direct_names(n: &FlowNames) -> [(EvidenceKind, Option<&str>); 4] {
    let (sni, quic_sni) = if n.ech {
        (None, None)
    } else {
        (n.sni.as_deref(), n.quic_sni.as_deref())
    };
    [
        (
            EvidenceKind::HttpConnect,
            n.connect_target.as_ref().map(|(h, _)| h.as_str()),
        ),
        (EvidenceKind::TlsSni, sni),
        (EvidenceKind::QuicSni, quic_sni),
        (EvidenceKind::HttpHost, n.http_host.as_deref()),
    ]
}

/// An application event's own name, if it has one (TLS/QUIC SNI unless
/// ECH, HTTP CONNECT target, else the HTTP request's host).
fn event_name(rec: &AppRecord) -> Option<(EvidenceKind, std::borrow::Cow<'_, str>)> {
    use crate::dissect::AppBody;
    use std::borrow::Cow;
    match &rec.body {
        AppBody::Tls(t) => t
            .client_hello
            .as_ref()
            .filter(|ch| !ch.ech)
            .and_then(|ch| ch.sni.as_deref())
            .map(|n| (EvidenceKind::TlsSni, Cow::Borrowed(n))),
        AppBody::Quic(q) => q
            .client_hello
            .as_ref()
            .filter(|ch| !ch.ech)
            .and_then(|ch| ch.sni.as_deref())
            .or(q.gquic.as_ref().and_then(|g| g.sni.as_deref()))
            .map(|n| (EvidenceKind::QuicSni, Cow::Borrowed(n))),
        AppBody::Http(h) => {
            let r = &h.request;
            match &r.connect_target {
                Some((host, _)) => Some((EvidenceKind::HttpConnect, Cow::Borrowed(host.as_str()))),
                None => r
                    .uri_host()
                    .or_else(|| r.host_name())
                    .map(|n| (EvidenceKind::HttpHost, Cow::Owned(n))),
            }
        }
        AppBody::Dns(_) | AppBody::HostId(_) => None,
    }
}

/// What a flow's own evidence matched in the catalog: everything but the
/// DNS bindings, which depend on what came before the flow.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowHits {
    /// The [`direct_names`], in their order.
    direct: [Option<Hit>; 4],
    /// A certificate name listed as an endpoint (or the subject's own
    /// concrete name), with its place in the certificate's names.
    cert_documented: Option<(u32, Hit)>,
    /// Else the certificate's first name under an owned domain.
    cert_owned: Option<Hit>,
    /// The destination in a published range (not on a shared network).
    range: Option<Hit>,
    /// The destination's AS, registered to a vendor.
    asn: Option<(u32, Hit)>,
    ja4: Option<Hit>,
}

#[derive(Clone, Copy, Debug)]
enum HitsOf {
    Flow(FlowHits),
    /// An application event's own name ([`Resolver::match_event`]).
    Event(Option<Hit>),
    /// A DNS message's names ([`Resolver::on_dns_with`]).
    Dns(DnsHits),
    /// Not matched by the worker (a DNS message with many questions): the
    /// ordered stage matches.
    Unmatched,
}

/// Questions of a DNS message whose hits a worker hands on (almost every
/// message has one); a message with more is matched in the ordered stage.
const DNS_QUESTIONS: usize = 2;

/// What a DNS message's names matched in the catalog.
#[derive(Clone, Copy, Debug, Default)]
struct DnsHits {
    questions: [QuestionHits; DNS_QUESTIONS],
    /// A response only: some name of some question's CNAME chain (its own
    /// included) is catalogued, so its bindings are kept longest.
    chained: bool,
}

/// What one DNS question matched.
#[derive(Clone, Copy, Debug, Default)]
struct QuestionHits {
    /// The name asked for.
    own: Option<Hit>,
    /// A response only: the first catalogued name further down the
    /// question's CNAME chain, unless the question is a vendor's web
    /// presence (`www.vendor.com` CNAME'd onto the vendor's own load
    /// balancer is still a visit to its web site).
    via_cname: Option<Hit>,
}

/// What an event's own evidence matched in the catalog, made by a worker
/// ([`NameMatcher`]) for the ordered stage; `version` is the catalog's.
#[derive(Clone, Copy, Debug)]
pub struct Hits {
    version: u64,
    of: HitsOf,
}

/// One thread's catalog matching over a [`CatalogShare`].
#[derive(Debug)]
pub struct NameMatcher {
    view: View<Catalog>,
    /// Names the catalog was asked about and does not know (most names in
    /// traffic): asked again, they cost a hash lookup, not a catalog walk
    /// (callgrind, bench capture: ~1,500 instructions a name). Bounded;
    /// cleared when full or when the catalog is replaced.
    misses: std::cell::RefCell<rustc_hash::FxHashSet<Box<str>>>,
}

impl NameMatcher {
    pub fn new(share: Arc<CatalogShare>) -> Self {
        NameMatcher {
            view: View::new(share),
            misses: Default::default(),
        }
    }

    /// Takes up a newly published catalog, forgetting the old misses (an
    /// atomic load when nothing changed).
    pub fn refresh(&mut self) {
        if self.view.refresh() {
            self.misses.get_mut().clear();
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.view.data
    }

    /// [`Catalog::match_name`], skipping the names remembered as unknown
    /// and remembering the new ones.
    fn name(&self, name: &str) -> Option<Match<'_>> {
        if self.misses.borrow().contains(name) {
            return None;
        }
        let m = self.view.data.match_name(name);
        if m.is_none() && name.len() <= NAME_MISS_LEN {
            let mut misses = self.misses.borrow_mut();
            if misses.len() >= NAME_MISSES {
                misses.clear();
            }
            misses.insert(name.into());
        }
        m
    }

    /// What a finished flow's own evidence matches: its names, its server
    /// certificate, its destination's range and AS (`asn`), its JA4.
    fn flow_hits(&self, rec: &FlowRecord, asn: Option<u32>) -> FlowHits {
        let catalog = self.catalog();
        let mut hits = FlowHits::default();
        let names = rec.names.as_deref();
        if let Some(n) = names {
            for ((_, name), hit) in direct_names(n).into_iter().zip(hits.direct.iter_mut()) {
                *hit = name.and_then(|v| self.name(v)).map(|m| m.hit);
            }
            // A certificate lists every name its front end serves (shared
            // CDN and cloud front ends list dozens): only an explicit
            // `cert_name` entry or the subject's own (first, concrete) name
            // matching an endpoint counts, or (tier `certificate`) that
            // first name under an owned domain, wildcard or not.
            hits.cert_documented = n.cert_names.iter().enumerate().find_map(|(i, c)| {
                let c = normal_ref(c);
                let m = catalog.match_cert_name(&c).or_else(|| {
                    (i == 0 && !c.starts_with("*."))
                        .then(|| catalog.match_endpoint_name(&c))
                        .flatten()
                })?;
                Some((u32::try_from(i).ok()?, m.hit))
            });
            if hits.cert_documented.is_none() {
                hits.cert_owned = n.cert_names.first().and_then(|c| {
                    let m = catalog.match_owned(&normal_ref(c), Tier::Certificate)?;
                    Some(m.hit)
                });
            }
            hits.ja4 = n
                .ja4
                .as_deref()
                .and_then(|j| catalog.match_ja4(j))
                .map(|m| m.hit);
        }
        // A published range announced by a hyperscaler, CDN or hosting AS
        // (a vendor's block on a cloud) may hold other tenants: not evidence.
        if !asn.is_some_and(platforms::is_shared_network) {
            hits.range = catalog.match_ip(rec.meta.dst).map(|m| m.hit);
        }
        hits.asn = asn.and_then(|a| Some((a, catalog.match_asn(a)?.hit)));
        hits
    }

    /// [`Resolver::attribute_flow_with`]'s hits for a finished flow whose
    /// destination is in `asn`.
    pub fn flow(&self, rec: &FlowRecord, asn: Option<u32>) -> Hits {
        Hits {
            version: self.view.version,
            of: HitsOf::Flow(self.flow_hits(rec, asn)),
        }
    }

    /// [`Resolver::match_event_with`]'s hit for an application event, or
    /// [`Resolver::on_dns_with`]'s for a DNS message.
    pub fn event(&self, rec: &AppRecord) -> Hits {
        let of = match &rec.body {
            crate::dissect::AppBody::Dns(d) => self.dns_hits(d),
            _ => HitsOf::Event(
                event_name(rec)
                    .and_then(|(_, n)| self.name(&n))
                    .map(|m| m.hit),
            ),
        };
        Hits {
            version: self.view.version,
            of,
        }
    }

    /// A DNS message's questions and, in a response, their CNAME chains
    /// (plain DNS only: the resolver ignores mDNS/LLMNR).
    fn dns_hits(&self, d: &DnsEvent) -> HitsOf {
        if d.flavor != DnsFlavor::Dns || d.msg.queries.len() > DNS_QUESTIONS {
            return HitsOf::Unmatched;
        }
        let mut h = DnsHits::default();
        for (q, slot) in d.msg.queries.iter().zip(h.questions.iter_mut()) {
            *slot = self.question_hits(&d.msg, &q.rrname, &mut h.chained);
        }
        HitsOf::Dns(h)
    }

    /// What `question` of `msg` matches: its own name and, in a response,
    /// the rest of its CNAME chain; `chained` is set when any name of the
    /// chain is catalogued.
    fn question_hits(&self, msg: &DnsMessage, question: &str, chained: &mut bool) -> QuestionHits {
        let own = self.name(question).map(|m| m.hit);
        let mut via_cname = None;
        if msg.is_response() {
            let found = super::dns_cache::find_in_chain(msg, question, |n| self.name(n));
            if let Some((at, m)) = found {
                *chained = true;
                // The question as the chain holds it (one trailing dot dropped).
                let asked = question.strip_suffix('.').unwrap_or(question);
                if at > 0 && !self.view.data.is_web_presence(asked) {
                    via_cname = Some(m.hit);
                }
            }
        }
        QuestionHits { own, via_cname }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{EndReason, FlowMeta, FlowNames, FlowState, Vlan};

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
    fn a_published_geoip_reaches_each_cache_at_its_refresh() {
        let share = Arc::new(GeoShare::new(GeoIp::none()));
        let mut worker = GeoCache::new(Arc::clone(&share));
        let ip: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(worker.geo(ip).country, None);
        share.publish(GeoIp::embedded().unwrap());
        // Until it looks again, a cache answers from the data it had.
        assert_eq!(worker.geo(ip).country, None);
        worker.refresh();
        assert_eq!(worker.geo(ip).country.as_deref(), Some("US"));
        // The resolver publishes to the workers through the same share.
        let mut r = resolver();
        let mut w = GeoCache::new(r.geo_share());
        assert_eq!(w.geo(ip).country, None);
        r.set_geoip(GeoIp::embedded().unwrap());
        assert_eq!(r.geo(ip).country.as_deref(), Some("US"));
        w.refresh();
        assert_eq!(w.geo(ip).country.as_deref(), Some("US"));
    }

    #[test]
    fn a_replaced_catalog_forgets_the_names_the_old_one_did_not_know() {
        let mut r = resolver();
        let rec = record(
            "203.0.113.9",
            Some(FlowNames {
                sni: Some("t.other.example".into()),
                ..FlowNames::default()
            }),
        );
        // Asked twice: the second answer comes from the remembered miss.
        assert!(r.attribute(&rec).is_none());
        assert!(r.attribute(&rec).is_none());
        let other = CATALOG
            .replace("Acme", "Other")
            .replace("t.acme-cloud.example", "t.other.example");
        let cat = Catalog::from_files([("other.toml".into(), "other".into(), other)]).unwrap();
        r.set_catalog(cat);
        let a = r.attribute(&rec).unwrap();
        assert_eq!(
            (a.kind, a.value.as_str()),
            (EvidenceKind::TlsSni, "t.other.example")
        );
    }

    #[test]
    fn a_name_in_normal_form_is_borrowed_and_any_other_is_normalised() {
        for name in [
            "x.acme-cloud.example",
            "X.Acme-Cloud.Example.",
            "a.b..",
            "",
            ".",
            "ÉX.example",
        ] {
            assert_eq!(normal_ref(name), normal(name), "{name:?}");
        }
        assert!(matches!(
            normal_ref("x.acme-cloud.example."),
            std::borrow::Cow::Borrowed("x.acme-cloud.example")
        ));
        assert!(matches!(
            normal_ref("X.example"),
            std::borrow::Cow::Owned(_)
        ));
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

    /// (kind, value, vendor, product, pattern, tier) of each attribution.
    fn shown(all: &[Attribution<'_>]) -> Vec<(EvidenceKind, String, String, String, String, Tier)> {
        all.iter()
            .map(|a| {
                (
                    a.kind,
                    a.value.clone(),
                    a.endpoint.vendor.to_string(),
                    a.endpoint.product.to_string(),
                    a.endpoint.pattern.to_string(),
                    a.tier(),
                )
            })
            .collect()
    }

    #[test]
    fn a_workers_hits_attribute_as_the_ordered_stage_would() {
        let r = resolver();
        // A worker's matcher over the resolver's catalog.
        let worker = NameMatcher::new(r.catalog_share());
        let cases = [
            record(
                "198.51.100.7",
                Some(FlowNames {
                    sni: Some("T.Acme-Cloud.Example.".into()),
                    ..FlowNames::default()
                }),
            ),
            record(
                "203.0.113.9",
                Some(FlowNames {
                    cert_names: vec!["x.acme-cloud.example".into()],
                    http_host: Some("www.other.example".into()),
                    ..FlowNames::default()
                }),
            ),
            record(
                "10.0.0.3",
                Some(FlowNames {
                    connect_target: Some(("t.acme-cloud.example".into(), 443)),
                    sni: Some("u.acme-cloud.example".into()),
                    ..FlowNames::default()
                }),
            ),
            record("198.51.100.8", None),
            record("203.0.113.10", None),
        ];
        let mut attributed = 0;
        for rec in &cases {
            let here = r.attribute_flow(rec, None);
            let hits = worker.flow(rec, None);
            let there = r.attribute_flow_with(rec, None, Some(&hits));
            assert_eq!(shown(&here), shown(&there), "{rec:?}");
            attributed += usize::from(!here.is_empty());
        }
        assert_eq!(attributed, 4);
    }

    #[test]
    fn hits_from_a_replaced_catalog_are_matched_again_in_the_new_one() {
        let mut r = resolver();
        let worker = NameMatcher::new(r.catalog_share());
        let rec = record(
            "203.0.113.9",
            Some(FlowNames {
                sni: Some("t.other.example".into()),
                ..FlowNames::default()
            }),
        );
        // Matched by the worker in the old catalog: nothing.
        let stale = worker.flow(&rec, None);
        assert!(r.attribute_flow_with(&rec, None, Some(&stale)).is_empty());
        let other = CATALOG
            .replace("Acme", "Other")
            .replace("t.acme-cloud.example", "t.other.example");
        r.set_catalog(Catalog::from_files([("other.toml".into(), "other".into(), other)]).unwrap());
        // The reload reaches the ordered stage at once: the stale hits are
        // not trusted.
        let a = r.attribute_flow_with(&rec, None, Some(&stale));
        assert_eq!(
            shown(&a).first().map(|x| (x.0, x.1.as_str(), x.2.as_str())),
            Some((EvidenceKind::TlsSni, "t.other.example", "Other"))
        );
        // A worker takes the new catalog up at its refresh.
        let mut worker = worker;
        worker.refresh();
        let fresh = worker.flow(&rec, None);
        assert_eq!(
            shown(&r.attribute_flow_with(&rec, None, Some(&fresh))),
            shown(&a)
        );
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
                body: crate::dissect::AppBody::Dns(Box::new(d.clone())),
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

    const OWNED: &str = r#"
vendor = "Owner"
jurisdiction = ["RU"]

[[owned_domain]]
domain = "owner-telemetry.example"
source = "https://owner.example/docs"

[[owned_domain]]
domain = "owner.example"
source = "https://owner.example/docs"
website = true

[[asn]]
number = 64200
name = "OWNER-NET"
source = "https://owner.example/docs"

[[product]]
name = "AV"
[[product.endpoint]]
host = "ksn.owner-telemetry.example"
purpose = "cloud_lookup"
confidence = "documented"
source = "https://owner.example/docs"
[[product.endpoint]]
ja4 = "t13d1516h2_8daaf6152771_e5627efa2ab1"
purpose = "telemetry"
confidence = "community"
source = "https://owner.example/lab"
"#;

    fn owned_resolver() -> Resolver {
        let cat = Catalog::from_files([
            ("acme.toml".into(), "acme".into(), CATALOG.into()),
            ("owner.toml".into(), "owner".into(), OWNED.into()),
        ])
        .unwrap();
        assert!(cat.first_error().is_none(), "{:?}", cat.first_error());
        Resolver::new(cat, GeoIp::none(), DnsCacheConfig::default())
    }

    fn tiers(
        r: &Resolver,
        rec: &FlowRecord,
        asn: Option<u32>,
    ) -> Vec<(EvidenceKind, Tier, String)> {
        r.attribute_flow(rec, asn)
            .into_iter()
            .map(|a| (a.kind, a.tier(), a.value))
            .collect()
    }

    #[test]
    fn unlisted_names_under_an_owned_domain_attribute_at_that_tier() {
        let r = owned_resolver();
        for (names, kind) in [
            (
                FlowNames {
                    sni: Some("ksn-eu7.owner-telemetry.example".into()),
                    ..FlowNames::default()
                },
                EvidenceKind::TlsSni,
            ),
            (
                FlowNames {
                    http_host: Some("ksn-eu7.owner-telemetry.example".into()),
                    ..FlowNames::default()
                },
                EvidenceKind::HttpHost,
            ),
        ] {
            let got = tiers(&r, &record("203.0.113.9", Some(names)), None);
            assert_eq!(
                got,
                [(
                    kind,
                    Tier::OwnedDomain,
                    "ksn-eu7.owner-telemetry.example".to_string()
                )]
            );
        }
        // The vendor's web site is not evidence, by name or on its own network.
        let web = FlowNames {
            sni: Some("www.owner.example".into()),
            ..FlowNames::default()
        };
        assert!(tiers(&r, &record("203.0.113.9", Some(web)), Some(64200)).is_empty());
    }

    #[test]
    fn nameless_flows_are_attributed_by_owned_network_and_ja4_only() {
        let r = owned_resolver();
        // TLS without SNI to the vendor's AS: owned network, then the JA4.
        let nameless = FlowNames {
            ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1".into()),
            ..FlowNames::default()
        };
        assert_eq!(
            tiers(
                &r,
                &record("203.0.113.9", Some(nameless.clone())),
                Some(64200)
            ),
            [
                (
                    EvidenceKind::DestinationAs,
                    Tier::OwnedNetwork,
                    "AS64200".to_string()
                ),
                (
                    EvidenceKind::Ja4,
                    Tier::Ja4,
                    "t13d1516h2_8daaf6152771_e5627efa2ab1".to_string()
                ),
            ]
        );
        // A bare flow (no names at all) to the AS.
        assert_eq!(
            tiers(&r, &record("203.0.113.9", None), Some(64200)).len(),
            1
        );
        // Any other AS: nothing.
        assert!(tiers(&r, &record("203.0.113.9", None), Some(64201)).is_empty());
        // A flow that named another destination is not the vendor's, whatever
        // its address or fingerprint.
        let named = FlowNames {
            sni: Some("example.org".into()),
            ja4: None,
            ..nameless
        };
        assert!(tiers(&r, &record("203.0.113.9", Some(named)), Some(64200)).is_empty());
    }

    #[test]
    fn certificates_under_owned_domains_attribute_flows_without_names() {
        let r = owned_resolver();
        let cert = |sni: Option<&str>, names: &[&str]| FlowNames {
            sni: sni.map(str::to_string),
            cert_names: names.iter().map(|n| n.to_string()).collect(),
            ..FlowNames::default()
        };
        assert_eq!(
            tiers(
                &r,
                &record(
                    "203.0.113.9",
                    Some(cert(None, &["*.owner-telemetry.example"]))
                ),
                None
            ),
            [(
                EvidenceKind::CertName,
                Tier::Certificate,
                "*.owner-telemetry.example".to_string()
            )]
        );
        // Only the subject's own (first) name: a front end listing it among others is not enough.
        assert!(tiers(
            &r,
            &record(
                "203.0.113.9",
                Some(cert(
                    None,
                    &["cdn.example.net", "a.owner-telemetry.example"]
                ))
            ),
            None
        )
        .is_empty());
        // The web site's certificate.
        assert!(tiers(
            &r,
            &record("203.0.113.9", Some(cert(None, &["*.owner.example"]))),
            None
        )
        .is_empty());
        // The client asked for another name: the certificate does not override it.
        assert!(tiers(
            &r,
            &record(
                "203.0.113.9",
                Some(cert(Some("example.org"), &["a.owner-telemetry.example"]))
            ),
            None
        )
        .is_empty());
    }

    /// A DNS query and its response (`answers`: (owner, CNAME target or A address)).
    fn dns_pair(question: &str, answers: &[(&str, &str)]) -> (Vec<u8>, Vec<u8>) {
        fn name(out: &mut Vec<u8>, n: &str) {
            for l in n.split('.') {
                out.push(l.len() as u8);
                out.extend_from_slice(l.as_bytes());
            }
            out.push(0);
        }
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        name(&mut q, question);
        q.extend_from_slice(&[0, 1, 0, 1]);
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = answers.len() as u8;
        for (owner, target) in answers {
            name(&mut a, owner);
            match target.parse::<std::net::Ipv4Addr>() {
                Ok(ip) => {
                    a.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                    a.extend_from_slice(&ip.octets());
                }
                Err(_) => {
                    let mut t = Vec::new();
                    name(&mut t, target);
                    a.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 60, 0, t.len() as u8]);
                    a.extend_from_slice(&t);
                }
            }
        }
        (q, a)
    }

    fn dns_exchange(r: &mut Resolver, q: Vec<u8>, a: Vec<u8>) -> Vec<(EvidenceKind, Tier, String)> {
        use crate::dissect::dns::{parse_message, DnsFlavor, Transport};
        let meta = record("10.0.0.53", None).meta;
        let mut last = Vec::new();
        for (msg, ts) in [(q, 500_000_000), (a, 600_000_000)] {
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
                body: crate::dissect::AppBody::Dns(Box::new(d.clone())),
            };
            last = r
                .on_dns(&rec, &d)
                .into_iter()
                .map(|a| (a.kind, a.tier(), a.value))
                .collect();
        }
        last
    }

    #[test]
    fn cname_chains_ending_under_an_owned_domain_attribute_the_name_asked() {
        let mut r = owned_resolver();
        let (q, a) = dns_pair(
            "av.customer.example",
            &[
                ("av.customer.example", "edge7.owner-telemetry.example"),
                ("edge7.owner-telemetry.example", "192.0.2.20"),
            ],
        );
        assert_eq!(
            dns_exchange(&mut r, q, a),
            [(
                EvidenceKind::DnsAnswer,
                Tier::OwnedDomain,
                "av.customer.example".to_string()
            )]
        );
        // The flow that follows is attributed through the binding.
        let got = tiers(&r, &record("192.0.2.20", None), Some(64200));
        assert_eq!(
            got.first(),
            Some(&(
                EvidenceKind::DnsAnswer,
                Tier::OwnedDomain,
                "edge7.owner-telemetry.example".to_string()
            ))
        );
        // The web site behind the vendor's own load balancer: not evidence,
        // and the flow to it is named, so its AS does not count either.
        let (q, a) = dns_pair(
            "www.owner.example",
            &[
                ("www.owner.example", "lb.owner-telemetry.example"),
                ("lb.owner-telemetry.example", "192.0.2.21"),
            ],
        );
        assert!(dns_exchange(&mut r, q, a).is_empty());
        assert_eq!(tiers(&r, &record("192.0.2.21", None), Some(64200)), []);
    }

    /// A worker's hits for DNS messages ([`NameMatcher::event`]) give the
    /// ordered stage exactly what it finds matching them itself: the same
    /// attributions, and the same bindings kept when a small cache evicts
    /// (catalogued chains are protected).
    #[test]
    fn dns_hits_made_by_a_worker_give_what_the_ordered_stage_finds() {
        use crate::dissect::dns::{parse_message, DnsQuery, Transport};
        let small = DnsCacheConfig {
            max_bindings: 3,
            ..DnsCacheConfig::default()
        };
        let resolver = || {
            let r = owned_resolver();
            Resolver::new(r.catalog().clone(), GeoIp::none(), small.clone())
        };
        let (mut here, mut with_hits) = (resolver(), resolver());
        let worker = NameMatcher::new(with_hits.catalog_share());
        /// A question, the answers (owner, address or CNAME target), more questions.
        type Exchange<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>);
        let exchanges: Vec<Exchange<'_>> = vec![
            (
                "ksn.owner-telemetry.example",
                vec![("ksn.owner-telemetry.example", "192.0.2.1")],
                vec![],
            ),
            (
                "KSN.Owner-Telemetry.Example",
                vec![("ksn.owner-telemetry.example", "192.0.2.2")],
                vec![],
            ),
            (
                "av.customer.example",
                vec![
                    ("av.customer.example", "x.customer.example"),
                    ("x.customer.example", "edge7.owner-telemetry.example"),
                    ("edge7.owner-telemetry.example", "192.0.2.3"),
                ],
                vec![],
            ),
            (
                "www.owner.example",
                vec![
                    ("www.owner.example", "lb.owner-telemetry.example"),
                    ("lb.owner-telemetry.example", "192.0.2.4"),
                ],
                vec![],
            ),
            (
                "unknown.example",
                vec![("unknown.example", "192.0.2.5")],
                vec![],
            ),
            (
                "t.acme-cloud.example",
                vec![("t.acme-cloud.example", "192.0.2.6")],
                vec!["other.example"],
            ),
            (
                "a.example",
                vec![
                    ("a.example", "b.example"),
                    ("b.example", "a.example"),
                    ("b.example", "192.0.2.7"),
                ],
                vec!["x.acme-cloud.example", "y.example"],
            ),
            ("www.example", vec![("www.example", "192.0.2.8")], vec![]),
            ("www2.example", vec![("www2.example", "192.0.2.9")], vec![]),
        ];
        let meta = record("10.0.0.53", None).meta;
        let mut compared = 0;
        for (n, (question, answers, more)) in exchanges.iter().enumerate() {
            let (q, a) = dns_pair(question, answers);
            for (msg, ts) in [(q, 1 + n as u64 * 1_000_000), (a, 2 + n as u64 * 1_000_000)] {
                let mut msg = parse_message(&msg).unwrap();
                // More questions than a worker hands hits for, some of them.
                for extra in more {
                    msg.queries.push(DnsQuery {
                        rrname: (*extra).into(),
                        rrname_truncated: false,
                        rrtype: 1,
                        rrclass: 1,
                    });
                }
                let d = DnsEvent {
                    flavor: DnsFlavor::Dns,
                    transport: Transport::Udp,
                    msg,
                };
                let rec = AppRecord {
                    meta: meta.clone(),
                    ts_ns: ts,
                    pcap_cnt: None,
                    file: 0,
                    to_server: true,
                    body: crate::dissect::AppBody::Dns(Box::new(d.clone())),
                };
                fn view(v: Vec<Attribution<'_>>) -> Vec<(EvidenceKind, Tier, String, String)> {
                    v.into_iter()
                        .map(|a| {
                            let who = format!("{} {}", a.endpoint.vendor, a.endpoint.product);
                            (a.kind, a.tier(), a.value, who)
                        })
                        .collect()
                }
                let mine = view(here.on_dns(&rec, &d));
                let hits = worker.event(&rec);
                let theirs = view(with_hits.on_dns_with(&rec, &d, Some(&hits)));
                assert_eq!(mine, theirs, "{question}");
                compared += usize::from(!mine.is_empty());
            }
        }
        assert!(compared >= 4, "only {compared} messages attributed");
        assert_eq!(here.dns_stats(), with_hits.dns_stats());
        assert!(here.dns_stats().evicted > 0);
        for i in 1..=9 {
            let addr: IpAddr = format!("192.0.2.{i}").parse().unwrap();
            let client: IpAddr = "10.0.0.53".parse().unwrap();
            let names = |r: &Resolver| {
                r.dns
                    .lookup(addr, client, 20_000_000)
                    .map(|b| b.names.clone())
            };
            assert_eq!(names(&here), names(&with_hits), "{addr}");
        }
    }

    #[test]
    fn a_published_range_announced_by_a_hyperscaler_is_not_evidence() {
        let r = resolver();
        let rec = record("198.51.100.7", None);
        assert_eq!(r.attribute_flow(&rec, Some(64496)).len(), 1);
        assert_eq!(r.attribute_flow(&rec, None).len(), 1);
        // AS16509: Amazon.
        assert!(r.attribute_flow(&rec, Some(16509)).is_empty());
    }
}
