//! A Zeek Intel framework file: the `#fields` header, then one tab-separated
//! line per indicator (`indicator`, `indicator_type`, `meta.source`,
//! `meta.desc`, `meta.url`), as `Intel::read_files` loads it.
//!
//! * a `host` is an `Intel::DOMAIN`;
//! * a `suffix` or owned domain is an `Intel::DOMAIN` for its apex only:
//!   Zeek's intel matches a domain exactly, never its subdomains; `meta.desc`
//!   says so;
//! * a `cidr` is an `Intel::ADDR` when it holds one address (/32, /128),
//!   else an `Intel::SUBNET`;
//! * certificate names and JA4 fingerprints have no intel type: left out.
//!
//! `meta.source` is `phonehome:<vendor slug>` (Zeek keys an item's metadata
//! by source, and intel.log lists it), `meta.desc` carries vendor, product,
//! purpose, jurisdiction, tier, confidence and the stable id, and `meta.url`
//! the catalog entry's source.

use super::{count, one_line, plain_name, vendor_count, Entry, Summary, Tier};
use crate::resolve::catalog::EndpointKind;
use std::collections::HashSet;
use std::fmt::Write as _;

/// The header line, as the Intel framework documents it.
pub const HEADER: &str = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url";

pub(super) fn write(entries: &[&Entry<'_>], out: &mut Vec<u8>, summary: &mut Summary) {
    let mut s = String::new();
    s.push_str(HEADER);
    s.push('\n');
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    let mut written = Vec::new();
    for e in entries {
        let Some((indicator, kind, note)) = indicator(e) else {
            summary.not_expressible += 1;
            continue;
        };
        // One line per (indicator, source): Zeek would merge a repeat anyway.
        if !seen.insert((indicator, e.vendor.slug.as_str())) {
            continue;
        }
        let mut desc = format!(
            "{} / {}; purpose {}; jurisdiction {}; tier {}; {}; confidence {}",
            e.vendor.name,
            e.product,
            e.purpose,
            e.vendor.jurisdiction.join(","),
            e.tier,
            note,
            e.confidence
        );
        if e.shared_cloud {
            desc.push_str("; shared cloud host (match by name only)");
        }
        let _ = write!(desc, "; phonehome id {}", e.hex_id());
        let _ = writeln!(
            s,
            "{indicator}\t{kind}\t{}\t{}\t{}",
            field(&format!("phonehome:{}", e.vendor.slug)),
            field(&desc),
            field(e.source)
        );
        count(summary, e);
        written.push(*e);
    }
    summary.items = written.len();
    summary.vendors = vendor_count(&written);
    out.extend_from_slice(s.as_bytes());
}

/// (indicator, Intel type, what the line stands for), or `None` when Zeek
/// has no type for the entry or its apex is web presence.
fn indicator<'a>(e: &Entry<'a>) -> Option<(&'a str, &'static str, String)> {
    match e.kind {
        EndpointKind::Host if plain_name(e.pattern) => {
            Some((e.pattern, "Intel::DOMAIN", "host".to_string()))
        }
        EndpointKind::Suffix if plain_name(e.pattern) && e.scope.apex => {
            let what = if e.tier == Tier::OwnedDomain {
                "owned domain"
            } else {
                "suffix"
            };
            Some((
                e.pattern,
                "Intel::DOMAIN",
                format!(
                    "{what} {}: Zeek matches this name only, not its subdomains",
                    e.pattern
                ),
            ))
        }
        EndpointKind::Cidr => {
            let net: ipnet::IpNet = e.pattern.parse().ok()?;
            if net.prefix_len() == net.max_prefix_len() {
                let ip = e.pattern.split('/').next()?;
                Some((ip, "Intel::ADDR", format!("network {}", e.pattern)))
            } else {
                Some((e.pattern, "Intel::SUBNET", "network".to_string()))
            }
        }
        _ => None,
    }
}

/// One field: no tab or newline (the separators); `-` alone would read as
/// unset and an empty field as `(empty)` would not, so neither is written.
fn field(s: &str) -> String {
    let v = one_line(s);
    if v.is_empty() || v == "-" {
        "(none)".to_string()
    } else {
        v
    }
}
