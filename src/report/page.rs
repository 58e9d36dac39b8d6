//! The HTML report: one self-contained page.

use super::esc;
use super::model::{kind_label, Inventory, Row};
use super::svg;
use std::fmt::Write as _;

const CSS: &str = r#"
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--foreign:#b2182b;--domestic:#2166ac}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);margin:24px;max-width:1600px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:15px;margin:18px 0 4px}
p.meta,.muted{color:var(--muted)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse;width:100%;font-size:12.5px;margin:6px 0}
th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}
tr.host-row th{background:#eef2f6;font-size:13px}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.origin-foreign{color:var(--foreign);font-weight:600}
.origin-domestic{color:var(--domestic);font-weight:600}
td.severity-high{background:#fbe3e4}
td.severity-medium{background:#fdf0e6}
td.severity-low{background:#fff8e6}
.mono,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11.5px;overflow-wrap:anywhere}
td[data-col=host]{white-space:nowrap;overflow-wrap:normal}
figure{margin:12px 0;break-inside:avoid}
figcaption{font-weight:600;margin-bottom:4px}
svg.chart{max-width:100%;height:auto;display:block}
svg .label,svg .value,svg .tick{font-size:11px;fill:var(--fg)}
svg .axis{stroke:#8c959f;stroke-width:1}
svg .foreign{fill:var(--foreign)}
svg .domestic{fill:var(--domestic)}
svg .sev-high{fill:#b2182b}
svg .sev-medium{fill:#ef8a62}
svg .sev-low{fill:#f4c27a}
svg .sev-info{fill:#67a9cf}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
.legend .foreign{background:var(--foreign)}
.legend .domestic{background:var(--domestic)}
ul.evidence{margin:4px 0;padding-left:18px}
footer{margin-top:32px;border-top:1px solid var(--line);padding-top:8px;color:var(--muted);font-size:12px}
@page{size:A4 landscape;margin:10mm}
@media print{
 body{margin:0;max-width:none;font-size:10px}
 *{print-color-adjust:exact;-webkit-print-color-adjust:exact}
 h2{break-after:avoid}
 table{font-size:8.5px}
 thead{display:table-header-group}
 tr,article,figure{break-inside:avoid}
 section#details{break-before:page}
 .card{padding:4px 8px}
}
"#;

/// Human words for a finding kind.
fn kind_words(k: &str) -> &str {
    match k {
        "foreign_vendor_data_abroad" => "foreign vendor, data abroad",
        "foreign_vendor_data_home" => "foreign vendor, data at home",
        "domestic_vendor_data_abroad" => "domestic vendor, data abroad",
        "domestic_vendor_data_home" => "domestic vendor, data at home",
        "dns_only" => "looked up only",
        other => other,
    }
}

/// `2025-03-03T12:00:02.000123+0000` as `2025-03-03 12:00:02` for the
/// table (the details and the other formats keep the full time).
fn short_time(t: &str) -> String {
    match (t.get(..10), t.get(11..19)) {
        (Some(d), Some(h)) if t.get(10..11) == Some("T") => format!("{d} {h}"),
        _ => t.to_string(),
    }
}

/// The destination countries cell of a row, as text.
pub fn countries_text(r: &Row) -> String {
    let mut parts: Vec<String> = r.destination_countries.clone();
    if r.destinations_unknown_country > 0 {
        parts.push(format!("unknown ({})", r.destinations_unknown_country));
    }
    if r.dns_only {
        parts.push("DNS only".into());
    }
    parts.join(", ")
}

fn td(s: &mut String, col: &str, class: &str, text: &str) {
    let _ = write!(
        s,
        r#"<td data-col="{col}"{}>{}</td>"#,
        if class.is_empty() {
            String::new()
        } else {
            format!(r#" class="{class}""#)
        },
        esc(text)
    );
}

fn inventory_table(s: &mut String, inv: &Inventory) {
    s.push_str(r#"<table id="inventory-table"><thead><tr><th>Host</th><th>Vendor</th><th>Product</th><th>Vendor country</th><th>Origin</th><th>Finding</th><th>Severity</th><th>Confidence</th><th>Destination countries</th><th>Flows</th><th>Bytes out / in</th><th>First seen (UTC)</th><th>Last seen (UTC)</th><th>Evidence</th><th>Packets</th></tr></thead>"#);
    let mut i = 0;
    while i < inv.rows.len() {
        let host = &inv.rows.get(i).map(|r| r.host.clone()).unwrap_or_default();
        let group: Vec<(usize, &Row)> = inv
            .rows
            .iter()
            .enumerate()
            .skip(i)
            .take_while(|(_, r)| &r.host == host)
            .collect();
        let foreign = group.iter().filter(|(_, r)| r.origin == "foreign").count();
        let _ = write!(
            s,
            r#"<tbody class="host" data-host="{}"><tr class="host-row"><th colspan="15">{} — {} product(s): {} foreign, {} domestic</th></tr>"#,
            esc(host),
            esc(host),
            group.len(),
            foreign,
            group.len() - foreign
        );
        for (n, r) in &group {
            let _ = write!(s, r#"<tr class="finding" id="row-{n}">"#);
            td(s, "host", "mono", &r.host);
            td(s, "vendor", "", &r.vendor);
            td(s, "product", "", &r.product);
            td(s, "vendor_country", "", &r.vendor_country.join("/"));
            td(s, "origin", &format!("origin-{}", r.origin), r.origin);
            td(s, "finding", "", kind_words(&r.finding_kind));
            td(
                s,
                "severity",
                &format!("severity-{}", esc(&r.severity)),
                &r.severity,
            );
            td(s, "confidence", "", &r.confidence);
            td(s, "countries", "", &countries_text(r));
            td(s, "flows", "num", &r.flows.to_string());
            td(
                s,
                "bytes",
                "num",
                &format!("{} / {}", r.bytes_toserver, r.bytes_toclient),
            );
            td(s, "first_seen", "time", &short_time(&r.first_seen));
            td(s, "last_seen", "time", &short_time(&r.last_seen));
            let mut ev = r.evidence.clone();
            if let Some(x) = &r.exception {
                ev.push_str(&format!(" [{x}]"));
            }
            td(s, "evidence", "", &ev);
            // The file is named in the details; the count is enough here.
            let packets = r.evidence_packets.map_or(String::new(), |n| n.to_string());
            td(s, "packets", "num", &packets);
            s.push_str("</tr>");
        }
        s.push_str("</tbody>");
        i += group.len().max(1);
    }
    s.push_str("</table>");
}

fn details(s: &mut String, inv: &Inventory) {
    for (n, r) in inv.rows.iter().enumerate() {
        let _ = write!(
            s,
            r#"<article id="finding-{n}"><h3>{} — {} {}</h3><p>{}</p>"#,
            esc(&r.host),
            esc(&r.vendor),
            esc(&r.product),
            esc(&r.reason)
        );
        if let Some(x) = &r.exception {
            let _ = write!(s, "<p><b>Policy:</b> {}</p>", esc(x));
        }
        let _ = write!(
            s,
            "<p class=\"muted\">First seen {}, last seen {} (UTC); {} flow(s), {} bytes out, {} bytes in.",
            esc(&r.first_seen),
            esc(&r.last_seen),
            r.flows,
            r.bytes_toserver,
            r.bytes_toclient
        );
        if let (Some(f), Some(n)) = (&r.evidence_file, r.evidence_packets) {
            let _ = write!(s, " Packets: {n} in <code>{}</code>.", esc(f));
        }
        s.push_str("</p>");
        if !r.destinations.is_empty() {
            s.push_str("<table class=\"destinations\"><thead><tr><th>Destination</th><th>Names</th><th>Country</th><th>AS</th><th>Flows</th><th>Bytes out / in</th></tr></thead><tbody>");
            for d in &r.destinations {
                let names: Vec<&str> = d.names.iter().map(String::as_str).collect();
                let asn = match (d.asn, &d.as_org) {
                    (Some(a), Some(o)) => format!("AS{a} {o}"),
                    (Some(a), None) => format!("AS{a}"),
                    _ => String::new(),
                };
                s.push_str("<tr>");
                td(s, "ip", "mono", d.ip.as_deref().unwrap_or("(via proxy)"));
                td(s, "names", "mono", &names.join(", "));
                td(s, "country", "", d.country.as_deref().unwrap_or("unknown"));
                td(s, "as", "", &asn);
                td(s, "flows", "num", &d.flows.to_string());
                td(
                    s,
                    "bytes",
                    "num",
                    &format!("{} / {}", d.bytes_toserver, d.bytes_toclient),
                );
                s.push_str("</tr>");
            }
            s.push_str("</tbody></table>");
        }
        let counts: Vec<String> = r
            .evidence_counts
            .iter()
            .map(|(k, v)| format!("{} ×{v}", kind_label(k)))
            .collect();
        let _ = write!(
            s,
            "<p class=\"muted\">Evidence seen: {}</p><ul class=\"evidence\">",
            esc(&counts.join(", "))
        );
        for e in &r.evidence_items {
            // Sources are shown as text, never as links: the page opens nothing.
            let _ = write!(
                s,
                r#"<li>{}: <code>{}</code> (pattern <code>{}</code>, {}) flow <code>{}</code> at {} — source: <span class="mono">{}</span></li>"#,
                esc(kind_label(&e.kind)),
                esc(&e.value),
                esc(&e.pattern),
                esc(&e.purpose),
                esc(&e.community_id),
                esc(e.timestamp.as_deref().unwrap_or("")),
                esc(&e.source)
            );
        }
        s.push_str("</ul></article>");
    }
}

fn sources(s: &mut String, inv: &Inventory) {
    s.push_str(r#"<table id="sources-table"><thead><tr><th>Source</th><th>Kind</th><th>SHA-256</th><th>Bytes</th><th>Events</th><th>Findings</th><th>Other alerts</th><th>Unreadable</th><th>Verified</th></tr></thead><tbody>"#);
    for src in &inv.sources {
        s.push_str("<tr>");
        td(s, "path", "mono", &src.path);
        td(s, "kind", "", src.kind);
        td(s, "sha256", "mono", &src.sha256);
        td(s, "bytes", "num", &src.bytes.to_string());
        td(s, "events", "num", &src.events.to_string());
        td(s, "findings", "num", &src.findings.to_string());
        td(s, "other_alerts", "num", &src.other_alerts.to_string());
        td(
            s,
            "unreadable",
            "num",
            &(src.malformed + src.oversized).to_string(),
        );
        let verified = match src.verified {
            None => "n/a".to_string(),
            Some(n) if src.verify_failures.is_empty() => format!("{n} files match MANIFEST.sha256"),
            Some(n) => format!(
                "FAILED: {n} files match, {} do not: {}",
                src.verify_failures.len(),
                src.verify_failures.join("; ")
            ),
        };
        td(s, "verified", "", &verified);
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
}

/// The whole page.
pub fn html(inv: &Inventory, title: &str) -> String {
    let sm = &inv.summary;
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="phonehome {}">
<title>{}</title><style>{CSS}</style></head><body>
<header><h1>{}</h1><p class="meta">"#,
        env!("CARGO_PKG_VERSION"),
        esc(title),
        esc(title)
    );
    let period = match (&sm.first_seen, &sm.last_seen) {
        (Some(a), Some(b)) => format!("Traffic from {a} to {b} (UTC)."),
        _ => "No findings.".to_string(),
    };
    let home = sm
        .home_country
        .as_ref()
        .map_or(String::new(), |h| format!(" Home country: {h}."));
    let _ = write!(
        s,
        "{}{} Sources: {}.</p></header>",
        esc(&period),
        esc(&home),
        inv.sources.len()
    );
    let _ = write!(
        s,
        r#"<section id="summary"><h2>Summary</h2><div class="cards"><div class="card"><b>{}</b>hosts</div><div class="card"><b>{}</b>products found</div><div class="card"><b>{}</b>foreign</div><div class="card"><b>{}</b>domestic</div><div class="card"><b>{}</b>sending data abroad</div><div class="card"><b>{}</b>looked up only</div><div class="card"><b>{}</b>vendors</div><div class="card"><b>{}</b>destination countries</div></div></section>"#,
        sm.hosts,
        sm.findings,
        sm.foreign,
        sm.domestic,
        sm.data_abroad,
        sm.dns_only,
        sm.vendors,
        sm.destination_countries.len()
    );
    s.push_str(r#"<section id="charts"><h2>Charts</h2><p class="legend"><span class="foreign"></span>foreign vendor<span class="domestic"></span>domestic vendor</p>"#);
    for (caption, chart) in [
        ("Findings by destination country", svg::by_country(inv)),
        ("Findings by vendor", svg::by_vendor(inv)),
        (
            "Timeline: first and last seen per host and product (UTC)",
            svg::timeline(inv),
        ),
    ] {
        let _ = write!(
            s,
            "<figure><figcaption>{}</figcaption>{chart}</figure>",
            esc(caption)
        );
    }
    s.push_str("</section>");
    s.push_str(r#"<section id="inventory"><h2>Inventory by host</h2>"#);
    inventory_table(&mut s, inv);
    s.push_str("</section>");
    s.push_str(r#"<section id="details"><h2>Findings in detail</h2>"#);
    details(&mut s, inv);
    s.push_str("</section>");
    s.push_str(r#"<section id="sources"><h2>Sources</h2>"#);
    sources(&mut s, inv);
    s.push_str("</section>");
    let _ = writeln!(
        s,
        "<footer>Written by phonehome {}. The report files are listed with their SHA-256 in MANIFEST.sha256 beside this page: check them with <code>sha256sum -c MANIFEST.sha256</code>.</footer></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    s
}
