//! `phonehome catalog check`: everything wrong or doubtful in the catalog,
//! with file and line.
use super::model::{EndpointKind, Vendor};
use super::names;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::fmt;

/// How bad a finding is.
///
/// * `Error`: the catalog is wrong or ambiguous; the entry was left out of
///   matching, or which vendor a lookup returns would depend on file order.
///   The shipped catalog must have none (a test enforces it).
/// * `Warning`: legal but worth a reviewer's eye, e.g. one vendor's CIDR or
///   suffix enclosing another vendor's more specific entry (the most specific
///   entry wins, so matching is well defined).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// The same pattern twice in one vendor, or the same product/vendor name twice.
    Duplicate,
    /// Two vendors claim the same pattern, or one encloses the other's.
    Overlap,
    /// Bad characters, wildcard in the middle, bad CIDR, scheme or port in a host...
    Malformed,
    MissingSource,
    InvalidSource,
    UnknownPurpose,
    /// A required field is absent or empty.
    MissingField,
    /// A pattern would match a shared cloud or CDN beyond the vendor's own names.
    SharedCloud,
    /// An owned domain that is a public suffix (Public Suffix List), or above one.
    PublicSuffix,
    /// An owned domain at a general platform's apex (microsoft.com, qq.com...),
    /// or an AS of a hyperscaler, CDN, hosting provider or general platform.
    GeneralPlatform,
    /// `product = ...` names no product of the vendor.
    UnknownProduct,
    /// An `[[asn]]` the ASN database does not know, or knows under another name.
    AsnDatabase,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckIssue {
    pub file: String,
    pub line: u32,
    pub severity: Severity,
    pub kind: IssueKind,
    pub message: String,
}

impl fmt::Display for CheckIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}: {sev}: {}", self.file, self.line, self.message)
    }
}

/// Where an entry lives, for messages.
#[derive(Clone, Copy)]
struct At<'a> {
    vendor: usize,
    v: &'a Vendor,
    line: u32,
}

pub(crate) fn run(vendors: &[Vendor]) -> Vec<CheckIssue> {
    // An overlay file extending a vendor (same slug) is that vendor: its
    // entries compare as the vendor's own.
    let canon: Vec<usize> = vendors
        .iter()
        .map(|v| vendors.iter().position(|o| o.slug == v.slug).unwrap_or(0))
        .collect();
    let id = |vi: usize| canon.get(vi).copied().unwrap_or(vi);
    let mut out = Vec::new();
    let mut push = |at: At<'_>, severity, kind, message: String| {
        out.push(CheckIssue {
            file: at.v.file.clone(),
            line: at.line,
            severity,
            kind,
            message,
        });
    };

    // Vendor names and product names must be unique.
    let mut vendor_names: FxHashMap<String, &Vendor> = FxHashMap::default();
    for (vi, v) in vendors.iter().enumerate() {
        let key = v.name.to_lowercase();
        if let Some(first) = vendor_names.get(&key).filter(|f| f.slug != v.slug) {
            push(
                At {
                    vendor: vi,
                    v,
                    line: 1,
                },
                Severity::Error,
                IssueKind::Duplicate,
                format!("vendor name {:?} also used in {}", v.name, first.file),
            );
        } else {
            vendor_names.insert(key, v);
        }
        let mut seen: FxHashMap<String, u32> = FxHashMap::default();
        for p in &v.products {
            if let Some(first) = seen.get(&p.name.to_lowercase()) {
                push(
                    At {
                        vendor: vi,
                        v,
                        line: p.line,
                    },
                    Severity::Error,
                    IssueKind::Duplicate,
                    format!("product {:?} already declared at line {first}", p.name),
                );
            } else {
                seen.insert(p.name.to_lowercase(), p.line);
            }
        }
    }

    // Every pattern, by kind and text.
    let mut by_pattern: FxHashMap<(EndpointKind, &str), Vec<At<'_>>> = FxHashMap::default();
    for (vi, v) in vendors.iter().enumerate() {
        for p in &v.products {
            for e in &p.endpoints {
                by_pattern
                    .entry((e.kind, e.pattern.as_str()))
                    .or_default()
                    .push(At {
                        vendor: id(vi),
                        v,
                        line: e.line,
                    });
            }
        }
    }
    let mut keys: Vec<&(EndpointKind, &str)> = by_pattern.keys().collect();
    keys.sort();

    // Same pattern twice: within a vendor a duplicate, across vendors an overlap.
    for key in &keys {
        let Some(list) = by_pattern.get(*key) else {
            continue;
        };
        let Some(first) = list.first() else { continue };
        for later in list.iter().skip(1) {
            let (kind, pat) = **key;
            if later.vendor == first.vendor {
                push(
                    *later,
                    Severity::Error,
                    IssueKind::Duplicate,
                    format!("{kind} {pat:?} already listed at line {}", first.line),
                );
            } else {
                push(
                    *later,
                    Severity::Error,
                    IssueKind::Overlap,
                    format!(
                        "{kind} {pat:?} is also claimed by {} ({}:{})",
                        first.v.name, first.v.file, first.line
                    ),
                );
            }
        }
    }

    // One vendor's suffix enclosing another vendor's host or suffix.
    for key in &keys {
        let (kind, pat) = **key;
        if !matches!(kind, EndpointKind::Host | EndpointKind::Suffix) {
            continue;
        }
        let Some(list) = by_pattern.get(*key) else {
            continue;
        };
        for at in list {
            // A suffix equal to the pattern covers a host of that name; for a
            // suffix the equal case is the duplicate check above.
            let parents = names::suffixes(pat).skip(usize::from(kind == EndpointKind::Suffix));
            for parent in parents {
                let Some(enclosing) = by_pattern.get(&(EndpointKind::Suffix, parent)) else {
                    continue;
                };
                for outer in enclosing.iter().filter(|o| o.vendor != at.vendor) {
                    push(
                        *at,
                        Severity::Warning,
                        IssueKind::Overlap,
                        format!(
                            "{kind} {pat:?} lies inside {}'s suffix {parent:?} ({}:{}); the more specific entry wins",
                            outer.v.name, outer.v.file, outer.line
                        ),
                    );
                }
            }
        }
    }

    // CIDRs of one vendor inside another vendor's.
    let nets: Vec<(ipnet::IpNet, At<'_>)> = keys
        .iter()
        .filter(|k| k.0 == EndpointKind::Cidr)
        .filter_map(|k| {
            let net: ipnet::IpNet = k.1.parse().ok()?;
            Some(by_pattern.get(*k)?.iter().map(move |at| (net, *at)))
        })
        .flatten()
        .collect();
    for (inner, at) in &nets {
        for (outer, oat) in &nets {
            if oat.vendor != at.vendor
                && outer.prefix_len() < inner.prefix_len()
                && outer.contains(inner)
            {
                push(
                    *at,
                    Severity::Warning,
                    IssueKind::Overlap,
                    format!(
                        "cidr {inner} lies inside {}'s {outer} ({}:{}); the longest prefix wins",
                        oat.v.name, oat.v.file, oat.line
                    ),
                );
            }
        }
    }

    owned(vendors, &id, &mut push);
    out
}

/// Owned domains, web presence and ASNs across vendors.
fn owned(
    vendors: &[Vendor],
    id: &impl Fn(usize) -> usize,
    push: &mut impl FnMut(At<'_>, Severity, IssueKind, String),
) {
    // Owned domains: unique across the catalog, and none under another
    // vendor's (the vendor would be decided by which is more specific, and
    // two vendors cannot both own a domain).
    let mut domains: FxHashMap<&str, At<'_>> = FxHashMap::default();
    for (vi, v) in vendors.iter().enumerate() {
        for d in &v.owned_domains {
            let at = At {
                vendor: id(vi),
                v,
                line: d.line,
            };
            match domains.get(d.domain.as_str()) {
                Some(first) if first.vendor == id(vi) => push(
                    at,
                    Severity::Error,
                    IssueKind::Duplicate,
                    format!(
                        "owned_domain {:?} already listed at line {}",
                        d.domain, first.line
                    ),
                ),
                Some(first) => push(
                    at,
                    Severity::Error,
                    IssueKind::Overlap,
                    format!(
                        "owned_domain {:?} is also owned by {} ({}:{})",
                        d.domain, first.v.name, first.v.file, first.line
                    ),
                ),
                None => {
                    domains.insert(&d.domain, at);
                }
            }
        }
    }
    for (vi, v) in vendors.iter().enumerate() {
        for d in &v.owned_domains {
            let at = At {
                vendor: id(vi),
                v,
                line: d.line,
            };
            for parent in names::suffixes(&d.domain).skip(1) {
                if let Some(outer) = domains.get(parent).filter(|o| o.vendor != id(vi)) {
                    push(
                        at,
                        Severity::Error,
                        IssueKind::Overlap,
                        format!(
                            "owned_domain {:?} lies inside {}'s owned domain {parent:?} ({}:{})",
                            d.domain, outer.v.name, outer.v.file, outer.line
                        ),
                    );
                }
            }
        }
        // Another vendor's documented endpoint under this vendor's owned
        // domain: legal (the endpoint is more specific and wins) but odd.
        for p in &v.products {
            for e in &p.endpoints {
                if !matches!(e.kind, EndpointKind::Host | EndpointKind::Suffix) {
                    continue;
                }
                for parent in names::suffixes(&e.pattern) {
                    if let Some(outer) = domains.get(parent).filter(|o| o.vendor != id(vi)) {
                        push(
                            At {
                                vendor: id(vi),
                                v,
                                line: e.line,
                            },
                            Severity::Warning,
                            IssueKind::Overlap,
                            format!(
                                "{} {:?} lies inside {}'s owned domain {parent:?} ({}:{}); the endpoint wins",
                                e.kind, e.pattern, outer.v.name, outer.v.file, outer.line
                            ),
                        );
                    }
                }
            }
        }
        // Web presence only matters under the vendor's owned domains or suffixes.
        for w in &v.web_presence {
            let same = || vendors.iter().filter(|o| o.slug == v.slug);
            let covered = names::suffixes(&w.pattern).any(|s| {
                same().any(|o| {
                    o.owned_domains.iter().any(|d| d.domain == s)
                        || o.products.iter().any(|p| {
                            p.endpoints
                                .iter()
                                .any(|e| e.kind == EndpointKind::Suffix && e.pattern == s)
                        })
                })
            });
            if !covered {
                push(
                    At {
                        vendor: id(vi),
                        v,
                        line: w.line,
                    },
                    Severity::Warning,
                    IssueKind::MissingField,
                    format!(
                        "web_presence {:?} is under none of {}'s owned domains or suffixes: it has no effect",
                        w.pattern, v.name
                    ),
                );
            }
        }
    }

    // ASNs: one vendor each.
    let mut asns: FxHashMap<u32, At<'_>> = FxHashMap::default();
    for (vi, v) in vendors.iter().enumerate() {
        for a in &v.asns {
            let at = At {
                vendor: id(vi),
                v,
                line: a.line,
            };
            match asns.get(&a.number) {
                Some(first) if first.vendor == id(vi) => push(
                    at,
                    Severity::Error,
                    IssueKind::Duplicate,
                    format!("asn {} already listed at line {}", a.number, first.line),
                ),
                Some(first) => push(
                    at,
                    Severity::Error,
                    IssueKind::Overlap,
                    format!(
                        "asn {} is also claimed by {} ({}:{})",
                        a.number, first.v.name, first.v.file, first.line
                    ),
                ),
                None => {
                    asns.insert(a.number, at);
                }
            }
        }
    }
}

/// Each `[[asn]]` against an ASN database's table (number → organisation):
/// an error when the database names another organisation, a warning when it
/// does not know the number.
pub(crate) fn asn_database(
    vendors: &[Vendor],
    table: &std::collections::BTreeMap<u32, crate::resolve::geoip::AsnEntry>,
    database: &str,
) -> Vec<CheckIssue> {
    let mut out = Vec::new();
    for v in vendors {
        for a in &v.asns {
            let (severity, message) = match table.get(&a.number) {
                None => (
                    Severity::Warning,
                    format!(
                        "asn {} ({:?}) is not in {database}: no address will match it",
                        a.number, a.name
                    ),
                ),
                Some(e) if !e.name.trim().eq_ignore_ascii_case(&a.name) => (
                    Severity::Error,
                    format!(
                        "asn {}: {database} names it {:?}, not {:?} (e.g. {}): check the number",
                        a.number, e.name, a.name, e.address
                    ),
                ),
                Some(_) => continue,
            };
            out.push(CheckIssue {
                file: v.file.clone(),
                line: a.line,
                severity,
                kind: IssueKind::AsnDatabase,
                message,
            });
        }
    }
    out
}
