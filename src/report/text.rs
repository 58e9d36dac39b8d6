//! The inventory as Markdown, CSV and JSON: the same rows as the HTML table,
//! in the same order.

use super::model::{kind_label, Inventory, Row};
use super::page::countries_text;
use serde_json::json;
use std::fmt::Write as _;

/// Markdown text: ASCII punctuation that could start markup (emphasis,
/// links, raw HTML, table cells) backslash-escaped; line breaks as spaces;
/// control characters as U+FFFD.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '!' | '~' | '&' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The columns shared by the Markdown table and the CSV file.
fn cells(r: &Row) -> [String; 16] {
    [
        r.host.clone(),
        r.vendor.clone(),
        r.product.clone(),
        r.vendor_country.join("/"),
        r.origin.to_string(),
        r.finding_kind.clone(),
        r.severity.clone(),
        r.confidence.clone(),
        r.tier.clone(),
        countries_text(r),
        r.flows.to_string(),
        format!("{} / {}", r.bytes_toserver, r.bytes_toclient),
        r.first_seen.clone(),
        r.last_seen.clone(),
        match &r.exception {
            Some(x) => format!("{} [{x}]", r.evidence),
            None => r.evidence.clone(),
        },
        match (&r.evidence_file, r.evidence_packets) {
            (Some(f), Some(n)) => format!("{n} in {f}"),
            _ => String::new(),
        },
    ]
}

const HEADERS: [&str; 16] = [
    "Host",
    "Vendor",
    "Product",
    "Vendor country",
    "Origin",
    "Finding",
    "Severity",
    "Confidence",
    "Tier",
    "Destination countries",
    "Flows",
    "Bytes out / in",
    "First seen (UTC)",
    "Last seen (UTC)",
    "Evidence",
    "Packets",
];

/// report.md
pub fn markdown(inv: &Inventory, title: &str) -> String {
    let sm = &inv.summary;
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", md(title));
    if let (Some(a), Some(b)) = (&sm.first_seen, &sm.last_seen) {
        let _ = writeln!(s, "Traffic from {} to {} (UTC).\n", md(a), md(b));
    }
    if let Some(h) = &sm.home_country {
        let _ = writeln!(s, "Home country: {}.\n", md(h));
    }
    let _ = writeln!(s, "## Summary\n");
    let _ = writeln!(
        s,
        "- {} host(s), {} product finding(s): {} foreign, {} domestic\n- {} sending data abroad, {} looked up only\n- {} vendor(s); destination countries: {}\n",
        sm.hosts,
        sm.findings,
        sm.foreign,
        sm.domestic,
        sm.data_abroad,
        sm.dns_only,
        sm.vendors,
        md(&sm.destination_countries.join(", "))
    );
    let _ = writeln!(s, "## Inventory by host\n");
    let _ = writeln!(s, "| {} |", HEADERS.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(HEADERS.len()));
    for r in &inv.rows {
        let c: Vec<String> = cells(r).iter().map(|x| md(x)).collect();
        let _ = writeln!(s, "| {} |", c.join(" | "));
    }
    let _ = writeln!(s, "\n## Findings in detail\n");
    for r in &inv.rows {
        let _ = writeln!(
            s,
            "### {} — {} {}\n",
            md(&r.host),
            md(&r.vendor),
            md(&r.product)
        );
        let _ = writeln!(s, "{}\n", md(&r.reason));
        for d in &r.destinations {
            let names: Vec<&str> = d.names.iter().map(String::as_str).collect();
            let asn = d.asn.map_or(String::new(), |a| {
                format!(", AS{a} {}", d.as_org.as_deref().unwrap_or(""))
            });
            let _ = writeln!(
                s,
                "- to {} ({}{}) {}: {} flow(s), {} / {} bytes",
                md(d.ip.as_deref().unwrap_or("a host behind a proxy")),
                md(d.country.as_deref().unwrap_or("unknown country")),
                md(asn.trim_end()),
                md(&names.join(", ")),
                d.flows,
                d.bytes_toserver,
                d.bytes_toclient
            );
        }
        for e in &r.evidence_items {
            let _ = writeln!(
                s,
                "- evidence: {} {} (pattern {}, flow {}, {})",
                md(kind_label(&e.kind)),
                md(&e.value),
                md(&e.pattern),
                md(&e.community_id),
                md(e.timestamp.as_deref().unwrap_or(""))
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Sources\n");
    for src in &inv.sources {
        let _ = writeln!(
            s,
            "- {} ({}), SHA-256 {}: {} events, {} findings",
            md(&src.path),
            src.kind,
            src.sha256,
            src.events,
            src.findings
        );
    }
    s
}

/// A CSV cell that a spreadsheet will not run as a formula.
fn cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// findings.csv: the table's columns and the numbers split out.
pub fn csv(inv: &Inventory) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "host",
        "vendor",
        "product",
        "vendor_country",
        "origin",
        "finding_kind",
        "severity",
        "confidence",
        "tier",
        "destination_countries",
        "flows",
        "bytes_toserver",
        "bytes_toclient",
        "first_seen",
        "last_seen",
        "evidence",
        "exception",
        "evidence_file",
        "evidence_packets",
        "reason",
    ];
    let _ = w.write_record(header);
    for r in &inv.rows {
        let rec = [
            cell(&r.host),
            cell(&r.vendor),
            cell(&r.product),
            cell(&r.vendor_country.join("/")),
            r.origin.to_string(),
            cell(&r.finding_kind),
            cell(&r.severity),
            cell(&r.confidence),
            cell(&r.tier),
            cell(&countries_text(r)),
            r.flows.to_string(),
            r.bytes_toserver.to_string(),
            r.bytes_toclient.to_string(),
            cell(&r.first_seen),
            cell(&r.last_seen),
            cell(&r.evidence),
            cell(r.exception.as_deref().unwrap_or("")),
            cell(r.evidence_file.as_deref().unwrap_or("")),
            r.evidence_packets.map_or(String::new(), |n| n.to_string()),
            cell(&r.reason),
        ];
        let _ = w.write_record(&rec);
    }
    w.into_inner().unwrap_or_default()
}

/// report.json
pub fn json(inv: &Inventory, title: &str) -> Vec<u8> {
    let doc = json!({
        "generator": concat!("phonehome ", env!("CARGO_PKG_VERSION")),
        "title": title,
        "summary": inv.summary,
        "sources": inv.sources,
        "findings": inv.rows,
    });
    let mut v = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_text_cannot_open_markup() {
        assert_eq!(md("a|b"), r"a\|b");
        assert_eq!(md("<script>x</script>"), r"\<script\>x\</script\>");
        assert_eq!(md("*[x](javascript:y)*"), r"\*\[x\](javascript:y)\*");
        assert_eq!(md("two\nlines"), "two lines");
        assert_eq!(md("10.1.2.3"), "10.1.2.3");
    }

    #[test]
    fn csv_cells_are_not_formulas() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("-1+1"), "'-1+1");
        assert_eq!(cell("10.0.0.1"), "10.0.0.1");
        assert_eq!(cell(""), "");
    }
}
