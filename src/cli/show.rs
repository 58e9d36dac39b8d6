//! `phonehome catalog show VENDOR` as text: what an analyst reads first
//! (jurisdiction, products and their endpoints), with every source.

use super::table::Table;
use phonehome::resolve::catalog::Vendor;
use std::fmt::Write as _;

/// The vendor as text: a heading, then one aligned table per product and
/// for owned domains, web presence and networks.
pub fn vendor_text(v: &Vendor) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} ({})", v.name, v.file);
    let _ = writeln!(s, "  jurisdiction: {}", v.jurisdiction.join(", "));
    if let Some(p) = &v.parent {
        let _ = writeln!(s, "  parent: {p}");
    }
    if let Some(n) = &v.notes {
        let _ = writeln!(s, "  notes: {}", one_line(n));
    }
    for p in &v.products {
        let _ = writeln!(
            s,
            "\n  product: {} ({} endpoint{})",
            p.name,
            p.endpoints.len(),
            if p.endpoints.len() == 1 { "" } else { "s" }
        );
        if let Some(n) = &p.notes {
            let _ = writeln!(s, "    notes: {}", one_line(n));
        }
        let mut t = Table::new(4, &["KIND", "PATTERN", "PURPOSE", "CONFIDENCE", "SOURCE"]);
        for e in &p.endpoints {
            let mut src = e.source.clone();
            let extra: Vec<String> = [
                e.shared_cloud
                    .then(|| "shared cloud: name only".to_string()),
                e.region.as_ref().map(|r| format!("region {r}")),
                e.ports.as_ref().map(|p| format!("ports {p}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            if !extra.is_empty() {
                src = format!("{src} ({})", extra.join("; "));
            }
            t.row(vec![
                e.kind.key().to_string(),
                e.pattern.clone(),
                e.purpose.as_str().to_string(),
                e.confidence.as_str().to_string(),
                src,
            ]);
        }
        s.push_str(&t.render());
    }
    if !v.owned_domains.is_empty() {
        let _ = writeln!(
            s,
            "\n  owned domains (every other name under them is {}'s):",
            v.name
        );
        let mut t = Table::new(4, &["DOMAIN", "PRODUCT", "SOURCE"]);
        for d in &v.owned_domains {
            let product = d.product.clone().unwrap_or_else(|| "-".into());
            let src = if d.website {
                format!("{} (apex and www. are the web site)", d.source)
            } else {
                d.source.clone()
            };
            t.row(vec![d.domain.clone(), product, src]);
        }
        s.push_str(&t.render());
    }
    if !v.web_presence.is_empty() {
        let _ = writeln!(s, "\n  web presence (never evidence):");
        let mut t = Table::new(4, &["KIND", "PATTERN", "SOURCE"]);
        for w in &v.web_presence {
            t.row(vec![
                w.kind.key().to_string(),
                w.pattern.clone(),
                w.source.clone(),
            ]);
        }
        s.push_str(&t.render());
    }
    if !v.asns.is_empty() {
        let _ = writeln!(
            s,
            "\n  networks (autonomous systems registered to the vendor):"
        );
        let mut t = Table::new(4, &["AS", "NAME", "PRODUCT", "SOURCE"]);
        for a in &v.asns {
            t.row(vec![
                format!("AS{}", a.number),
                a.name.clone(),
                a.product.clone().unwrap_or_else(|| "-".into()),
                a.source.clone(),
            ]);
        }
        s.push_str(&t.render());
    }
    s
}

/// Notes may span lines in TOML; the text view keeps one line each.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
