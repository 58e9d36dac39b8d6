//! Plain catalog types, as the CLI and the judge see them (all `Serialize`).
use serde::Serialize;
use std::fmt;

/// One vendor: one catalog file.
#[derive(Debug, Clone, Serialize)]
pub struct Vendor {
    /// File stem, e.g. `sophos` for `catalog/sophos.toml`.
    pub slug: String,
    /// Display name, e.g. "Sophos".
    pub name: String,
    /// ISO 3166-1 alpha-2 codes; the headquarters country first, then others
    /// the vendor answers to (e.g. Israeli founders/R&D of a US company).
    pub jurisdiction: Vec<String>,
    /// Owner, if the vendor belongs to a group (e.g. "Gen Digital").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Catalog file the vendor came from (`sophos.toml`, or a path when loaded
    /// from a directory).
    pub file: String,
    pub products: Vec<Product>,
    /// Registrable domains (or a general platform's security sub-suffixes)
    /// the vendor owns and its products use: every unlisted name under one is
    /// the vendor's (the `owned_domain` tier).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owned_domains: Vec<OwnedDomain>,
    /// The vendor's own web presence beyond the shared rule: never evidence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub web_presence: Vec<WebPresence>,
    /// Autonomous systems registered to the vendor itself (the `owned_network` tier).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub asns: Vec<OwnedAsn>,
}

impl Vendor {
    /// Number of endpoints over all products.
    pub fn endpoint_count(&self) -> usize {
        self.products.iter().map(|p| p.endpoints.len()).sum()
    }
}

/// `[[owned_domain]]`: a domain the vendor owns and its products use.
#[derive(Debug, Clone, Serialize)]
pub struct OwnedDomain {
    /// Lower case, no trailing dot; never a public suffix or a general
    /// platform's apex (the loader refuses those).
    pub domain: String,
    pub source: String,
    /// Set when every name under the domain belongs to this product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The apex and `www.` are the vendor's public web site (not evidence).
    pub website: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub line: u32,
}

/// `[[web_presence]]`: a host or a subtree that is the vendor's web site,
/// support portal, shop...: visiting it is not evidence of a product.
#[derive(Debug, Clone, Serialize)]
pub struct WebPresence {
    /// `host` (exactly this name) or `suffix` (the name and its subdomains).
    pub kind: EndpointKind,
    pub pattern: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub line: u32,
}

/// `[[asn]]`: an autonomous system registered to the vendor itself.
#[derive(Debug, Clone, Serialize)]
pub struct OwnedAsn {
    pub number: u32,
    /// The organisation name as the shipped ASN database gives it.
    pub name: String,
    /// `AS<number>`, as matches show it.
    #[serde(skip)]
    pub pattern: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub line: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Product {
    /// As the vendor names it, e.g. "Falcon", "Defender for Endpoint".
    pub name: String,
    /// What kind of product it is: what a domestic product must be to
    /// replace it. Unspecified (the default) never counts as a replacement.
    pub kind: ProductKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub line: u32,
    pub endpoints: Vec<Endpoint>,
}

/// One network endpoint a product talks to.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub kind: EndpointKind,
    /// Normalised pattern: lower case, no trailing dot; CIDRs in canonical form.
    pub pattern: String,
    pub purpose: Purpose,
    pub source: String,
    pub confidence: Confidence,
    /// On a shared cloud or CDN: match by name only, never by IP.
    pub shared_cloud: bool,
    /// The vendor's data region, e.g. "EU" (not a GeoIP result).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Ports as the source states them, free text (e.g. "443/tcp").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// 1-based line of the entry in its file.
    pub line: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// Exact host name.
    Host,
    /// The name itself and any subdomain, on label boundaries.
    Suffix,
    /// IPv4 or IPv6 prefix, longest prefix wins.
    Cidr,
    /// Certificate subject CN or SAN entry, compared whole (may be `*.x.y`).
    CertName,
    /// JA4 TLS client fingerprint.
    Ja4,
}

impl EndpointKind {
    pub const ALL: [EndpointKind; 5] = [
        EndpointKind::Host,
        EndpointKind::Suffix,
        EndpointKind::Cidr,
        EndpointKind::CertName,
        EndpointKind::Ja4,
    ];
    /// The TOML key that introduces this kind.
    pub fn key(self) -> &'static str {
        match self {
            EndpointKind::Host => "host",
            EndpointKind::Suffix => "suffix",
            EndpointKind::Cidr => "cidr",
            EndpointKind::CertName => "cert_name",
            EndpointKind::Ja4 => "ja4",
        }
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// What the product uses the endpoint for, in the vendor's own words as far
/// as they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Events, detections, diagnostics, samples sent to the vendor.
    Telemetry,
    /// Reputation / verdict queries (file, URL, IP), cloud scanning, DNS filtering.
    CloudLookup,
    /// Signatures, engines, product binaries.
    Update,
    /// Agent check-in, policy, configuration, tunnels to the vendor's service.
    Management,
    /// Activation, entitlement, licence checks.
    Licensing,
    /// Administrator web console or API (people, not agents).
    Console,
    /// The vendor names the endpoint without saying what it carries.
    Unspecified,
}

/// The kind of a security product (`kind` of a `[[product]]`). Antivirus,
/// EPP and EDR agents are one kind: each replaces the others on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    /// Antivirus, endpoint protection platform, EDR/XDR agent.
    EndpointProtection,
    /// Network firewall, IPS, secure gateway appliance.
    Firewall,
    /// SASE / secure web gateway / DNS filtering / ZTNA client or service.
    NetworkSecurity,
    /// Mail gateway or mail security service.
    EmailSecurity,
    /// Identity, MFA, privileged access.
    Identity,
    /// Web application firewall, bot and DDoS protection.
    WebApplicationSecurity,
    /// Vulnerability and posture scanning agents, cloud security posture.
    VulnerabilityManagement,
    /// Log management, SIEM, SOC platforms.
    Siem,
    /// OT / IoT / medical device security.
    OtSecurity,
    /// The catalog does not say.
    #[default]
    Unspecified,
}

impl ProductKind {
    pub const ALL: [ProductKind; 10] = [
        ProductKind::EndpointProtection,
        ProductKind::Firewall,
        ProductKind::NetworkSecurity,
        ProductKind::EmailSecurity,
        ProductKind::Identity,
        ProductKind::WebApplicationSecurity,
        ProductKind::VulnerabilityManagement,
        ProductKind::Siem,
        ProductKind::OtSecurity,
        ProductKind::Unspecified,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ProductKind::EndpointProtection => "endpoint_protection",
            ProductKind::Firewall => "firewall",
            ProductKind::NetworkSecurity => "network_security",
            ProductKind::EmailSecurity => "email_security",
            ProductKind::Identity => "identity",
            ProductKind::WebApplicationSecurity => "web_application_security",
            ProductKind::VulnerabilityManagement => "vulnerability_management",
            ProductKind::Siem => "siem",
            ProductKind::OtSecurity => "ot_security",
            ProductKind::Unspecified => "unspecified",
        }
    }
    pub fn parse(s: &str) -> Option<ProductKind> {
        ProductKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// The kind as the inventory stores it: none when unspecified.
    pub fn category(self) -> Option<&'static str> {
        (self != ProductKind::Unspecified).then_some(self.as_str())
    }
}

impl Purpose {
    pub const ALL: [Purpose; 7] = [
        Purpose::Telemetry,
        Purpose::CloudLookup,
        Purpose::Update,
        Purpose::Management,
        Purpose::Licensing,
        Purpose::Console,
        Purpose::Unspecified,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Telemetry => "telemetry",
            Purpose::CloudLookup => "cloud_lookup",
            Purpose::Update => "update",
            Purpose::Management => "management",
            Purpose::Licensing => "licensing",
            Purpose::Console => "console",
            Purpose::Unspecified => "unspecified",
        }
    }
    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the catalog is that the endpoint belongs to the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// From the vendor's own documentation (or a faithful copy of it).
    Documented,
    /// Seen in a third-party public source (block lists, nDPI, integration code, captures).
    Community,
    /// Built by us from several observations; a hint only.
    Inferred,
}

impl Confidence {
    pub const ALL: [Confidence; 3] = [
        Confidence::Documented,
        Confidence::Community,
        Confidence::Inferred,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Documented => "documented",
            Confidence::Community => "community",
            Confidence::Inferred => "inferred",
        }
    }
    pub fn parse(s: &str) -> Option<Confidence> {
        Confidence::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of catalog knowledge an attribution rests on, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// A `[[product.endpoint]]`: a host, suffix, range or certificate name the catalog lists.
    Endpoint,
    /// A server certificate whose name lies under an owned domain.
    Certificate,
    /// A name under an owned domain that no endpoint lists.
    OwnedDomain,
    /// A destination in an autonomous system registered to the vendor.
    OwnedNetwork,
    /// A TLS client fingerprint (JA4) the catalog lists.
    Ja4,
}

impl Tier {
    pub const ALL: [Tier; 5] = [
        Tier::Endpoint,
        Tier::Certificate,
        Tier::OwnedDomain,
        Tier::OwnedNetwork,
        Tier::Ja4,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Endpoint => "endpoint",
            Tier::Certificate => "certificate",
            Tier::OwnedDomain => "owned_domain",
            Tier::OwnedNetwork => "owned_network",
            Tier::Ja4 => "ja4",
        }
    }
    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Tier::Endpoint => "documented endpoint",
            Tier::Certificate => "certificate under an owned domain",
            Tier::OwnedDomain => "owned domain",
            Tier::OwnedNetwork => "owned network",
            Tier::Ja4 => "JA4 fingerprint",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The product of an owned-domain or owned-network match that no endpoint
/// or entry pins to one product.
pub const UNIDENTIFIED_PRODUCT: &str = "unidentified product";

/// Compact handle of what matched, cheap to keep in a flow record. For the
/// owned tiers `endpoint` is [`EndpointId::NO_ENDPOINT`] and `product` may
/// be [`EndpointId::NO_PRODUCT`] (an unidentified product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EndpointId {
    pub vendor: u16,
    pub product: u16,
    pub endpoint: u32,
}

impl EndpointId {
    pub const NO_PRODUCT: u16 = u16::MAX;
    pub const NO_ENDPOINT: u32 = u32::MAX;
}

/// A catalog hit as plain data, with no borrow: what a worker thread hands
/// on to the ordered stage, which reads the [`Match`] back from the same
/// catalog with [`super::Catalog::resolve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub(crate) id: EndpointId,
    /// [`Tier::Endpoint`] for every endpoint (a JA4 one too: its tier is
    /// read from the endpoint); else the owned tier.
    pub(crate) tier: Tier,
    /// The vendor's owned domain (tiers certificate and owned domain) or
    /// owned AS (owned network) that matched.
    pub(crate) owned: u32,
}

/// A catalog hit: borrowed from the catalog, so matching never allocates.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Match<'a> {
    /// The same hit without the borrow.
    #[serde(skip)]
    pub hit: Hit,
    pub id: EndpointId,
    pub tier: Tier,
    pub vendor: &'a str,
    pub vendor_slug: &'a str,
    pub jurisdiction: &'a [String],
    pub product: &'a str,
    /// The pattern's shape: an owned domain matches like a `suffix`, an
    /// owned AS like a `cidr` (its pattern is then `AS<number>`).
    pub kind: EndpointKind,
    /// The endpoint pattern, owned domain, or `AS<number>` that matched.
    pub pattern: &'a str,
    pub purpose: Purpose,
    pub source: &'a str,
    pub confidence: Confidence,
    pub shared_cloud: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
}

/// Summary row for `catalog list`.
#[derive(Debug, Clone, Serialize)]
pub struct VendorSummary<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub jurisdiction: &'a [String],
    pub products: usize,
    pub endpoints: usize,
    pub file: &'a str,
}
