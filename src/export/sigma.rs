//! Sigma rules, one YAML document per (vendor, product, log source), in one
//! multi-document file (`---` between rules).
//!
//! * `category: dns`, field `query`, and `category: proxy`, field `cs-host`
//!   (the taxonomy's names), for host names: exact names in `host_<purpose>`
//!   selections, suffixes and owned domains as `|endswith: '.D'` in
//!   `suffix_<purpose>` ones (the apex, when it is evidence, among the exact
//!   names), and the web presence under them as `filter_*` (web first
//!   labels, web presence hosts and subtrees), which only the suffixes obey:
//!   a documented host always counts;
//! * `category: firewall`, field `dst_ip|cidr`, for networks.
//!
//! Selections are named after the endpoints' purpose, so a match says what
//! the traffic carries. Owned domains get their own rule per vendor (and
//! product, when the domain names one), at level `informational`; endpoint
//! rules are `low`: the rules inventory phone-home traffic, they do not
//! detect an attack. Rule ids are UUIDv5 (SHA-1, RFC 9562) of the vendor slug,
//! tier, product and log source: stable across catalog edits.
//! The custom attribute `phonehome` carries vendor, product, jurisdiction
//! and tier.

use super::{count, one_line, plain_name, Entry, Summary, Tier, UNIDENTIFIED_PRODUCT};
use crate::resolve::catalog::{platforms, EndpointKind, Purpose};
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// UUIDv5 namespace of phonehome's Sigma rules (a random UUID, fixed forever).
const NAMESPACE: [u8; 16] = [
    0xd3, 0x84, 0x6b, 0x98, 0x05, 0x6e, 0x4f, 0xfa, 0xb8, 0x84, 0x39, 0x0e, 0x4f, 0x43, 0x09, 0x6b,
];

/// A UUIDv5 of `name` in phonehome's namespace.
pub fn uuid_v5(name: &str) -> String {
    let mut h = Sha1::new();
    h.update(NAMESPACE);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    for (dst, src) in b.iter_mut().zip(d.iter()) {
        *dst = *src;
    }
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or(""),
        hex.get(8..12).unwrap_or(""),
        hex.get(12..16).unwrap_or(""),
        hex.get(16..20).unwrap_or(""),
        hex.get(20..32).unwrap_or("")
    )
}

/// The entries of one rule family: a vendor's product (or its owned domains).
struct Group<'e, 'a> {
    entries: Vec<&'e Entry<'a>>,
}

/// Log sources: (category, field for names or networks, words for the title).
const DNS: (&str, &str, &str) = ("dns", "query", "DNS queries for");
const PROXY: (&str, &str, &str) = ("proxy", "cs-host", "proxy requests to");
const FIREWALL: (&str, &str, &str) = ("firewall", "dst_ip|cidr", "connections to");

pub(super) fn write(entries: &[&Entry<'_>], out: &mut Vec<u8>, summary: &mut Summary) {
    // Groups in catalog order: (vendor slug, tier, product).
    let mut order: Vec<(&str, Tier, &str)> = Vec::new();
    let mut groups: BTreeMap<(&str, Tier, &str), Group<'_, '_>> = BTreeMap::new();
    for e in entries {
        let key = (e.vendor.slug.as_str(), e.tier, e.product);
        let g = groups.entry(key).or_insert_with(|| {
            order.push(key);
            Group {
                entries: Vec::new(),
            }
        });
        g.entries.push(e);
    }
    let mut s = String::new();
    let mut rules = 0;
    let mut vendors = std::collections::BTreeSet::new();
    for key in order {
        let Some(g) = groups.get(&key) else { continue };
        let names: Vec<&Entry<'_>> = g
            .entries
            .iter()
            .copied()
            .filter(|e| {
                matches!(e.kind, EndpointKind::Host | EndpointKind::Suffix) && plain_name(e.pattern)
            })
            .collect();
        let nets: Vec<&Entry<'_>> = g
            .entries
            .iter()
            .copied()
            .filter(|e| e.kind == EndpointKind::Cidr)
            .collect();
        summary.not_expressible += g.entries.len() - names.len() - nets.len();
        let mut wrote = false;
        if !names.is_empty() {
            for source in [DNS, PROXY] {
                if let Some(doc) = name_rule(&names, source) {
                    push_doc(&mut s, &doc);
                    rules += 1;
                    wrote = true;
                }
            }
        }
        if !nets.is_empty() {
            push_doc(&mut s, &net_rule(&nets));
            rules += 1;
            wrote = true;
        }
        if wrote {
            vendors.insert(key.0);
            for e in names.iter().chain(&nets) {
                count(summary, e);
            }
        }
    }
    summary.items = rules;
    summary.vendors = vendors.len();
    out.extend_from_slice(s.as_bytes());
}

fn push_doc(s: &mut String, doc: &str) {
    if !s.is_empty() {
        s.push_str("---\n");
    }
    s.push_str(doc);
}

/// A YAML single-quoted scalar, on one line.
fn q(s: &str) -> String {
    format!("'{}'", one_line(s).replace('\'', "''"))
}

/// The rule's head: title, id, status, description, references, author, logsource.
fn head(
    s: &mut String,
    first: &Entry<'_>,
    category: &str,
    what: &str,
    purposes: &[Purpose],
    sources: &[&str],
) {
    let v = first.vendor;
    let (title, subject) = match first.tier {
        Tier::OwnedDomain if first.product == UNIDENTIFIED_PRODUCT => (
            format!("phonehome: {} owned domains - {what} them", v.name),
            format!("names under the domains {} owns", v.name),
        ),
        Tier::OwnedDomain => (
            format!(
                "phonehome: {} {} owned domains - {what} them",
                v.name, first.product
            ),
            format!(
                "names under the domains {} owns for {}",
                v.name, first.product
            ),
        ),
        _ => (
            format!(
                "phonehome: {} {} - {what} its cloud endpoints",
                v.name, first.product
            ),
            format!("the cloud endpoints of {} {}", v.name, first.product),
        ),
    };
    let purposes: Vec<&str> = purposes.iter().map(|p| p.as_str()).collect();
    let _ = writeln!(s, "title: {}", q(&title));
    let _ = writeln!(
        s,
        "id: {}",
        uuid_v5(&format!(
            "sigma\n{}\n{}\n{}\n{category}",
            v.slug, first.tier, first.product
        ))
    );
    s.push_str("status: experimental\n");
    let _ = writeln!(
        s,
        "description: {}",
        q(&format!(
            "{what} {subject} (vendor jurisdiction {}; purposes: {}), from the phonehome catalog ({} tier). Security products phone home by design: this inventories where they send data.",
            if v.jurisdiction.is_empty() { "unknown".to_string() } else { v.jurisdiction.join(", ") },
            purposes.join(", "),
            first.tier
        ))
    );
    s.push_str("references:\n");
    for src in sources {
        let _ = writeln!(s, "    - {}", q(src));
    }
    s.push_str("author: 'phonehome catalog export'\n");
    let _ = writeln!(s, "logsource:\n    category: {category}");
}

fn tail(s: &mut String, first: &Entry<'_>, entries: usize) {
    s.push_str("falsepositives:\n    - 'Every host that runs the product: the rule inventories its traffic, it is not an attack'\n");
    let level = if first.tier == Tier::OwnedDomain {
        "informational"
    } else {
        "low"
    };
    let _ = writeln!(s, "level: {level}");
    let v = first.vendor;
    s.push_str("phonehome:\n");
    let _ = writeln!(s, "    vendor: {}", q(&v.name));
    let _ = writeln!(s, "    vendor_slug: {}", q(&v.slug));
    let _ = writeln!(s, "    product: {}", q(first.product));
    if v.jurisdiction.is_empty() {
        s.push_str("    jurisdiction: []\n");
    } else {
        s.push_str("    jurisdiction:\n");
        for cc in &v.jurisdiction {
            let _ = writeln!(s, "        - {}", q(cc));
        }
    }
    let _ = writeln!(s, "    tier: {}", q(first.tier.as_str()));
    let _ = writeln!(s, "    entries: {entries}");
}

fn list(s: &mut String, indent: &str, key: &str, values: &[String]) {
    let _ = writeln!(s, "{indent}{key}:");
    for v in values {
        let _ = writeln!(s, "{indent}    - {}", q(v));
    }
}

/// Purposes in the catalog's order, deduplicated.
fn purposes_of(entries: &[&Entry<'_>]) -> Vec<Purpose> {
    Purpose::ALL
        .into_iter()
        .filter(|p| entries.iter().any(|e| e.purpose == *p))
        .collect()
}

fn sources_of<'a>(entries: &[&Entry<'a>]) -> Vec<&'a str> {
    let mut v: Vec<&str> = Vec::new();
    for e in entries {
        if !v.contains(&e.source) {
            v.push(e.source);
        }
    }
    v
}

fn name_rule(names: &[&Entry<'_>], (category, field, what): (&str, &str, &str)) -> Option<String> {
    let first = names.first()?;
    let purposes = purposes_of(names);
    let mut det = String::new();
    let (mut any_host, mut any_suffix) = (false, false);
    let mut web_hosts: Vec<String> = Vec::new();
    let mut web_subtrees: Vec<String> = Vec::new();
    for p in &purposes {
        let of_p: Vec<&&Entry<'_>> = names.iter().filter(|e| e.purpose == *p).collect();
        let exact: Vec<String> = of_p
            .iter()
            .filter(|e| e.kind == EndpointKind::Host || e.scope.apex)
            .map(|e| e.pattern.to_string())
            .collect();
        let under: Vec<String> = of_p
            .iter()
            .filter(|e| e.kind == EndpointKind::Suffix)
            .map(|e| format!(".{}", e.pattern))
            .collect();
        if !exact.is_empty() {
            let _ = writeln!(det, "    host_{p}:");
            list(&mut det, "        ", field, &exact);
            any_host = true;
        }
        if !under.is_empty() {
            let _ = writeln!(det, "    suffix_{p}:");
            list(&mut det, "        ", &format!("{field}|endswith"), &under);
            any_suffix = true;
        }
        for e in of_p.iter().filter(|e| e.kind == EndpointKind::Suffix) {
            for h in &e.scope.web_hosts {
                web_hosts.push((*h).to_string());
            }
            for w in &e.scope.web_suffixes {
                web_hosts.push((*w).to_string());
                web_subtrees.push(format!(".{w}"));
            }
        }
    }
    if !any_host && !any_suffix {
        return None;
    }
    let mut s = String::new();
    head(&mut s, first, category, what, &purposes, &sources_of(names));
    s.push_str("detection:\n");
    s.push_str(&det);
    if any_suffix {
        s.push_str("    filter_web_label:\n");
        let labels: Vec<String> = platforms::WEB_LABELS
            .iter()
            .map(|l| format!("{l}."))
            .collect();
        list(&mut s, "        ", &format!("{field}|startswith"), &labels);
        dedup(&mut web_hosts);
        dedup(&mut web_subtrees);
        if !web_hosts.is_empty() {
            s.push_str("    filter_web_presence:\n");
            list(&mut s, "        ", field, &web_hosts);
        }
        if !web_subtrees.is_empty() {
            s.push_str("    filter_web_subtree:\n");
            list(
                &mut s,
                "        ",
                &format!("{field}|endswith"),
                &web_subtrees,
            );
        }
    }
    let condition = match (any_host, any_suffix) {
        (true, true) => "1 of host_* or (1 of suffix_* and not 1 of filter_*)",
        (true, false) => "1 of host_*",
        _ => "1 of suffix_* and not 1 of filter_*",
    };
    let _ = writeln!(s, "    condition: {condition}");
    tail(&mut s, first, names.len());
    Some(s)
}

fn net_rule(nets: &[&Entry<'_>]) -> String {
    let mut s = String::new();
    let Some(first) = nets.first() else {
        return s;
    };
    let (category, field, what) = FIREWALL;
    let purposes = purposes_of(nets);
    head(&mut s, first, category, what, &purposes, &sources_of(nets));
    s.push_str("detection:\n");
    for p in &purposes {
        let cidrs: Vec<String> = nets
            .iter()
            .filter(|e| e.purpose == *p)
            .map(|e| e.pattern.to_string())
            .collect();
        let _ = writeln!(s, "    net_{p}:");
        list(&mut s, "        ", field, &cidrs);
    }
    s.push_str("    condition: 1 of net_*\n");
    tail(&mut s, first, nets.len());
    s
}

fn dedup(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
}
