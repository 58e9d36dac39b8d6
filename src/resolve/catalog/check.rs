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
        if let Some(first) = vendor_names.get(&key) {
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
                        vendor: vi,
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

    out
}
