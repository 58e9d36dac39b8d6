//! The whole catalog as one JSON document, for other tools: every vendor
//! with its products, endpoints, owned domains, web presence and networks,
//! each with its source and stable export id, and the filter that made it.
//! With a filter, products and vendors left with nothing are omitted.

use super::{entry_id, ExportError, Format, Options, Summary, Tier};
use crate::resolve::catalog::{Catalog, Confidence, EndpointKind, Purpose};
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct Doc<'a> {
    format: &'static str,
    version: u32,
    filter: FilterDoc<'a>,
    vendors: Vec<VendorDoc<'a>>,
}

#[derive(Serialize)]
struct FilterDoc<'a> {
    vendors: &'a [String],
    purposes: Vec<&'static str>,
    confidences: Vec<&'static str>,
    tiers: Vec<&'static str>,
    /// The home country whose policy kept foreign vendors only.
    #[serde(skip_serializing_if = "Option::is_none")]
    foreign_only_home_country: Option<&'a str>,
}

#[derive(Serialize)]
struct VendorDoc<'a> {
    slug: &'a str,
    name: &'a str,
    jurisdiction: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a str>,
    products: Vec<ProductDoc<'a>>,
    owned_domains: Vec<OwnedDomainDoc<'a>>,
    web_presence: Vec<WebDoc<'a>>,
    asns: Vec<AsnDoc<'a>>,
}

#[derive(Serialize)]
struct ProductDoc<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a str>,
    endpoints: Vec<EndpointDoc<'a>>,
}

#[derive(Serialize)]
struct EndpointDoc<'a> {
    id: String,
    kind: EndpointKind,
    pattern: &'a str,
    purpose: Purpose,
    confidence: Confidence,
    source: &'a str,
    shared_cloud: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ports: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a str>,
}

#[derive(Serialize)]
struct OwnedDomainDoc<'a> {
    id: String,
    domain: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<&'a str>,
    website: bool,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a str>,
}

#[derive(Serialize)]
struct WebDoc<'a> {
    kind: EndpointKind,
    pattern: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a str>,
}

#[derive(Serialize)]
struct AsnDoc<'a> {
    id: String,
    number: u32,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<&'a str>,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<&'a str>,
}

pub(super) fn write(
    catalog: &Catalog,
    opts: &Options<'_>,
    out: &mut dyn Write,
) -> Result<Summary, ExportError> {
    let f = &opts.filter;
    let filtered = !f.is_empty();
    let mut summary = Summary::default();
    let mut vendors = Vec::new();
    for v in catalog.vendors().iter().filter(|v| f.keeps_vendor(v)) {
        let mut products = Vec::new();
        for p in &v.products {
            let endpoints: Vec<EndpointDoc<'_>> = p
                .endpoints
                .iter()
                .filter(|e| f.keeps(Tier::Endpoint, e.purpose, e.confidence))
                .map(|e| EndpointDoc {
                    id: format!(
                        "{:016x}",
                        entry_id(&v.slug, Tier::Endpoint, e.kind, &e.pattern)
                    ),
                    kind: e.kind,
                    pattern: &e.pattern,
                    purpose: e.purpose,
                    confidence: e.confidence,
                    source: &e.source,
                    shared_cloud: e.shared_cloud,
                    region: e.region.as_deref(),
                    ports: e.ports.as_deref(),
                    notes: e.notes.as_deref(),
                })
                .collect();
            for e in &endpoints {
                match e.kind {
                    EndpointKind::Host => summary.hosts += 1,
                    EndpointKind::Suffix => summary.suffixes += 1,
                    EndpointKind::Cidr => summary.networks += 1,
                    _ => {}
                }
            }
            if !filtered || !endpoints.is_empty() {
                summary.items += endpoints.len();
                products.push(ProductDoc {
                    name: &p.name,
                    notes: p.notes.as_deref(),
                    endpoints,
                });
            }
        }
        let owned = |tier| f.keeps(tier, Purpose::Unspecified, Confidence::Documented);
        let owned_domains: Vec<OwnedDomainDoc<'_>> = if owned(Tier::OwnedDomain) {
            v.owned_domains
                .iter()
                .map(|d| OwnedDomainDoc {
                    id: format!(
                        "{:016x}",
                        entry_id(&v.slug, Tier::OwnedDomain, EndpointKind::Suffix, &d.domain)
                    ),
                    domain: &d.domain,
                    product: d.product.as_deref(),
                    website: d.website,
                    source: &d.source,
                    notes: d.notes.as_deref(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let asns: Vec<AsnDoc<'_>> = if owned(Tier::OwnedNetwork) {
            v.asns
                .iter()
                .map(|a| AsnDoc {
                    id: format!(
                        "{:016x}",
                        entry_id(
                            &v.slug,
                            Tier::OwnedNetwork,
                            EndpointKind::Cidr,
                            &format!("AS{}", a.number)
                        )
                    ),
                    number: a.number,
                    name: &a.name,
                    product: a.product.as_deref(),
                    source: &a.source,
                    notes: a.notes.as_deref(),
                })
                .collect()
        } else {
            Vec::new()
        };
        if filtered && products.is_empty() && owned_domains.is_empty() && asns.is_empty() {
            continue;
        }
        summary.owned_domains += owned_domains.len();
        summary.owned_networks += asns.len();
        summary.items += owned_domains.len() + asns.len();
        vendors.push(VendorDoc {
            slug: &v.slug,
            name: &v.name,
            jurisdiction: &v.jurisdiction,
            parent: v.parent.as_deref(),
            notes: v.notes.as_deref(),
            products,
            owned_domains,
            web_presence: v
                .web_presence
                .iter()
                .map(|w| WebDoc {
                    kind: w.kind,
                    pattern: &w.pattern,
                    source: &w.source,
                    notes: w.notes.as_deref(),
                })
                .collect(),
            asns,
        });
    }
    summary.vendors = vendors.len();
    if vendors.is_empty() {
        return Err(ExportError::Empty(Format::Json));
    }
    let doc = Doc {
        format: "phonehome-catalog",
        version: 1,
        filter: FilterDoc {
            vendors: &f.vendors,
            purposes: f.purposes.iter().map(|p| p.as_str()).collect(),
            confidences: f.confidences.iter().map(|c| c.as_str()).collect(),
            tiers: f.tiers.iter().map(|t| t.as_str()).collect(),
            foreign_only_home_country: f.foreign_only.map(|p| p.home_country()),
        },
        vendors,
    };
    let mut text = serde_json::to_vec_pretty(&doc)
        .map_err(|e| ExportError::Write(std::io::Error::other(e)))?;
    text.push(b'\n');
    out.write_all(&text).map_err(ExportError::Write)?;
    Ok(summary)
}
