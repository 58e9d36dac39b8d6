//! The shipped catalog in its pre-built form. `build.rs` loads `catalog/*.toml`
//! with this module's own loader and checks (`load.rs`, `check.rs`), fails the
//! build on any error, and writes the validated vendors as static data, so a
//! start-up only copies them into the model: no TOML parse, no per-entry
//! validation, no cross-vendor check (about 100M instructions before).
use super::check::{CheckIssue, IssueKind, Severity};
use super::model::{
    Confidence, Endpoint, EndpointKind, OwnedAsn, OwnedDomain, Product, ProductKind, Purpose,
    Vendor, WebPresence,
};

pub(crate) struct SVendor {
    slug: &'static str,
    name: &'static str,
    jurisdiction: &'static [&'static str],
    parent: Option<&'static str>,
    notes: Option<&'static str>,
    file: &'static str,
    products: &'static [SProduct],
    owned_domains: &'static [SOwnedDomain],
    web_presence: &'static [SWebPresence],
    asns: &'static [SAsn],
}

struct SProduct {
    name: &'static str,
    kind: ProductKind,
    notes: Option<&'static str>,
    line: u32,
    endpoints: &'static [SEndpoint],
}

struct SEndpoint {
    kind: EndpointKind,
    pattern: &'static str,
    purpose: Purpose,
    source: &'static str,
    confidence: Confidence,
    shared_cloud: bool,
    region: Option<&'static str>,
    ports: Option<&'static str>,
    notes: Option<&'static str>,
    line: u32,
}

struct SOwnedDomain {
    domain: &'static str,
    source: &'static str,
    product: Option<&'static str>,
    website: bool,
    notes: Option<&'static str>,
    line: u32,
}

struct SWebPresence {
    kind: EndpointKind,
    pattern: &'static str,
    source: &'static str,
    notes: Option<&'static str>,
    line: u32,
}

struct SAsn {
    number: u32,
    name: &'static str,
    source: &'static str,
    product: Option<&'static str>,
    notes: Option<&'static str>,
    line: u32,
}

/// A load-time finding (only warnings: the build refuses errors).
struct SIssue {
    file: &'static str,
    line: u32,
    severity: Severity,
    kind: IssueKind,
    message: &'static str,
}

// VENDORS: &[SVendor] and LOAD_ISSUES: &[SIssue], written by build.rs.
include!(concat!(env!("OUT_DIR"), "/catalog_shipped.rs"));

fn own(s: Option<&'static str>) -> Option<String> {
    s.map(str::to_string)
}

/// The shipped vendors, in file-name order, as `Catalog::from_files` would
/// build them from the TOML files.
pub(crate) fn vendors() -> Vec<Vendor> {
    VENDORS.iter().map(SVendor::to_model).collect()
}

/// What loading the shipped files reported (warnings only).
pub(crate) fn load_issues() -> Vec<CheckIssue> {
    LOAD_ISSUES
        .iter()
        .map(|i| CheckIssue {
            file: i.file.to_string(),
            line: i.line,
            severity: i.severity,
            kind: i.kind,
            message: i.message.to_string(),
        })
        .collect()
}

impl SVendor {
    fn to_model(&self) -> Vendor {
        Vendor {
            slug: self.slug.to_string(),
            name: self.name.to_string(),
            jurisdiction: self.jurisdiction.iter().map(|c| c.to_string()).collect(),
            parent: own(self.parent),
            notes: own(self.notes),
            file: self.file.to_string(),
            products: self
                .products
                .iter()
                .map(|p| Product {
                    name: p.name.to_string(),
                    kind: p.kind,
                    notes: own(p.notes),
                    line: p.line,
                    endpoints: p
                        .endpoints
                        .iter()
                        .map(|e| Endpoint {
                            kind: e.kind,
                            pattern: e.pattern.to_string(),
                            purpose: e.purpose,
                            source: e.source.to_string(),
                            confidence: e.confidence,
                            shared_cloud: e.shared_cloud,
                            region: own(e.region),
                            ports: own(e.ports),
                            notes: own(e.notes),
                            line: e.line,
                        })
                        .collect(),
                })
                .collect(),
            owned_domains: self
                .owned_domains
                .iter()
                .map(|d| OwnedDomain {
                    domain: d.domain.to_string(),
                    source: d.source.to_string(),
                    product: own(d.product),
                    website: d.website,
                    notes: own(d.notes),
                    line: d.line,
                })
                .collect(),
            web_presence: self
                .web_presence
                .iter()
                .map(|w| WebPresence {
                    kind: w.kind,
                    pattern: w.pattern.to_string(),
                    source: w.source.to_string(),
                    notes: own(w.notes),
                    line: w.line,
                })
                .collect(),
            asns: self
                .asns
                .iter()
                .map(|a| OwnedAsn {
                    number: a.number,
                    pattern: format!("AS{}", a.number),
                    name: a.name.to_string(),
                    source: a.source.to_string(),
                    product: own(a.product),
                    notes: own(a.notes),
                    line: a.line,
                })
                .collect(),
        }
    }
}
