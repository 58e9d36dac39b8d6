//! The HTML report: one self-contained page, built with maud so that every
//! text and attribute value (host names, SNI, certificate names and vendor
//! strings come off the wire) is escaped by construction.

use super::model::{human_bytes, kind_label, Inventory, Row};
use super::programme::{Programme, Ranked};
use super::svg;
use maud::{html, Markup, PreEscaped, DOCTYPE};

const CSS: &str = r#"
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--foreign:#b2182b;--domestic:#2166ac}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","Noto Sans CJK JP",sans-serif;color:var(--fg);margin:24px;max-width:1600px}
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
.print-only{display:none}
footer{margin-top:32px;border-top:1px solid var(--line);padding-top:8px;color:var(--muted);font-size:12px}
@page{size:A4 landscape;margin:10mm 10mm 14mm;@bottom-right{content:"page " counter(page) " of " counter(pages);font:9px system-ui,sans-serif;color:#57606a}}
dl.front{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0}
dl.front dt{color:var(--muted)}
dl.front dd{margin:0;font-weight:600}
ol.ranking li{margin:4px 0}
.state-removed,.state-replaced{color:var(--domestic);font-weight:600}
.state-still_present,.state-new{color:var(--foreign);font-weight:600}
@media print{
 body{margin:0;max-width:none;font-size:9px;line-height:1.3}
 *{print-color-adjust:exact;-webkit-print-color-adjust:exact}
 h1{font-size:18px}
 h2{font-size:13px;margin:10px 0 4px;break-after:avoid}
 h3{font-size:11px;margin:8px 0 3px;break-after:avoid;break-inside:avoid}
 .mono,code{font-size:1em}
 table{font-size:7.5px;margin:3px 0}
 td,th{padding:1px 3px}
 thead{display:table-header-group}
 tr,figure{break-inside:avoid}
 .card{padding:2px 8px}
 .card b{font-size:15px}
 /* Short cells on one line: a wrapped date or "foreign vendor, data abroad" triples a row's height. */
 td.num,td.time,td[data-col=severity],td[data-col=confidence],td[data-col=tier],td[data-col=origin],td[data-col=vendor_country],td[data-col=finding]{white-space:nowrap}
 #inventory-table td[data-col=product]{min-width:32mm}
 #inventory-table td[data-col=vendor]{min-width:14mm}
 tr.host-row th{font-size:8px;padding:1px 3px}
 /* The two bar charts stacked beside the timeline; no chart taller than ~60% of a page, so
    one that does not fit never leaves most of the page before it blank. */
 #charts{display:grid;grid-template-columns:1fr 1fr;column-gap:6mm;align-items:start}
 #charts>h2,#charts>p{grid-column:1/-1}
 #charts figure{margin:2px 0}
 #charts figure:last-child{grid-column:2;grid-row:3/span 2}
 svg.chart{max-height:110mm;width:auto;max-width:100%}
 #details{columns:4;column-gap:4mm;font-size:7px}
 #details>h2{column-span:all}
 #details li.more{display:none}
 .print-only{display:list-item}
 #details article{break-inside:auto;margin-bottom:5px}
 #details h3{font-size:8.5px;margin:5px 0 2px}
 #details p{margin:1px 0}
 #details table,ul.evidence{font-size:6.5px}
 ul.evidence{padding-left:10px;margin:2px 0}
 ol.ranking li{margin:1px 0}
 footer{margin-top:8px}
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

/// What the page shows besides the findings.
pub struct PageInput<'a> {
    pub title: &'a str,
    pub case_id: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub ranking: &'a [Ranked],
    pub programme: Option<&'a Programme>,
}

fn cell(col: &str, class: &str, text: &str) -> Markup {
    html! { td data-col=(col) class=[(!class.is_empty()).then_some(class)] { (text) } }
}

fn inventory_table(inv: &Inventory) -> Markup {
    let mut groups: Vec<&[Row]> = Vec::new();
    let mut rest = inv.rows.as_slice();
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .take_while(|r| r.host == first.host)
            .count()
            .max(1);
        let (g, r) = rest.split_at(n.min(rest.len()));
        groups.push(g);
        rest = r;
    }
    let mut n = 0usize;
    html! {
        table id="inventory-table" {
            thead { tr {
                th { "Host" } th { "Vendor" } th { "Product" } th { "Vendor country" } th { "Origin" }
                th { "Finding" } th { "Severity" } th { "Confidence" } th { "Tier" }
                th { "Destination countries" } th { "Flows" } th { "Bytes out / in" }
                th { "First seen (UTC)" } th { "Last seen (UTC)" } th { "Evidence" } th { "Packets" }
            } }
            @for g in &groups {
                @let host = g.first().map_or("", |r| r.host.as_str());
                @let foreign = g.iter().filter(|r| r.origin == "foreign").count();
                tbody class="host" data-host=(host) {
                    tr class="host-row" { th colspan="16" {
                        (host) " — " (g.len()) " product(s): " (foreign) " foreign, " (g.len() - foreign) " domestic"
                    } }
                    @for r in g.iter() {
                        tr class="finding" id=(format!("row-{n}")) {
                            (cell("host", "mono", &r.host))
                            (cell("vendor", "", &r.vendor))
                            (cell("product", "", &r.product))
                            (cell("vendor_country", "", &r.vendor_country.join("/")))
                            (cell("origin", &format!("origin-{}", r.origin), r.origin))
                            (cell("finding", "", kind_words(&r.finding_kind)))
                            (cell("severity", &format!("severity-{}", r.severity), &r.severity))
                            (cell("confidence", "", &r.confidence))
                            (cell("tier", "", &r.tier))
                            (cell("countries", "", &countries_text(r)))
                            (cell("flows", "num", &r.flows.to_string()))
                            (cell("bytes", "num", &format!("{} / {}", r.bytes_toserver, r.bytes_toclient)))
                            (cell("first_seen", "time", &short_time(&r.first_seen)))
                            (cell("last_seen", "time", &short_time(&r.last_seen)))
                            (cell("evidence", "", &match &r.exception {
                                Some(x) => format!("{} [{x}]", r.evidence),
                                None => r.evidence.clone(),
                            }))
                            // The file is named in the details; the count is enough here.
                            (cell("packets", "num", &r.evidence_packets.map_or(String::new(), |n| n.to_string())))
                        }
                        ({ n += 1; "" })
                    }
                }
            }
        }
    }
}

/// Pieces of evidence per finding on paper (the page on screen, report.json
/// and findings.csv keep them all): the details are most of a printed
/// report's pages otherwise.
const PRINTED_EVIDENCE: usize = 2;

fn details(inv: &Inventory) -> Markup {
    html! {
        @for (n, r) in inv.rows.iter().enumerate() {
            article id=(format!("finding-{n}")) {
                h3 { (r.host) " — " (r.vendor) " " (r.product) }
                p { (r.reason) }
                @if let Some(x) = &r.exception { p { b { "Policy: " } (x) } }
                p class="muted" {
                    "First seen " (r.first_seen) ", last seen " (r.last_seen) " (UTC); "
                    (r.flows) " flow(s), " (r.bytes_toserver) " bytes out, " (r.bytes_toclient) " bytes in; attribution tier "
                    (if r.tier.is_empty() { "not recorded" } else { r.tier.as_str() }) "."
                    @if let (Some(f), Some(n)) = (&r.evidence_file, r.evidence_packets) {
                        " Packets: " (n) " in " code { (f) } "."
                    }
                }
                @if !r.destinations.is_empty() {
                    table class="destinations" {
                        thead { tr { th { "Destination" } th { "Names" } th { "Country" } th { "AS" } th { "Flows" } th { "Bytes out / in" } } }
                        tbody {
                            @for d in &r.destinations {
                                @let names: Vec<&str> = d.names.iter().map(String::as_str).collect();
                                @let asn = match (d.asn, &d.as_org) {
                                    (Some(a), Some(o)) => format!("AS{a} {o}"),
                                    (Some(a), None) => format!("AS{a}"),
                                    _ => String::new(),
                                };
                                tr {
                                    (cell("ip", "mono", d.ip.as_deref().unwrap_or("(via proxy)")))
                                    (cell("names", "mono", &names.join(", ")))
                                    (cell("country", "", d.country.as_deref().unwrap_or("unknown")))
                                    (cell("as", "", &asn))
                                    (cell("flows", "num", &d.flows.to_string()))
                                    (cell("bytes", "num", &format!("{} / {}", d.bytes_toserver, d.bytes_toclient)))
                                }
                            }
                        }
                    }
                }
                @let counts: Vec<String> = r.evidence_counts.iter().map(|(k, v)| format!("{} ×{v}", kind_label(k))).collect();
                p class="muted" { "Evidence seen: " (counts.join(", ")) }
                ul class="evidence" {
                    // Sources are shown as text, never as links: the page opens nothing.
                    @for (k, e) in r.evidence_items.iter().enumerate() {
                        li class=[(k >= PRINTED_EVIDENCE).then_some("more")] {
                            (kind_label(&e.kind)) ": " code { (e.value) } " (pattern " code { (e.pattern) } ", " (e.purpose) ") flow "
                            code { (e.community_id) } " at " (e.timestamp.as_deref().unwrap_or("")) " — source: "
                            span class="mono" { (e.source) }
                        }
                    }
                    @if r.evidence_items.len() > PRINTED_EVIDENCE {
                        li class="print-only" {
                            "… and " (r.evidence_items.len() - PRINTED_EVIDENCE)
                            " more piece(s) of evidence: on screen, in report.json and findings.csv"
                        }
                    }
                }
            }
        }
    }
}

fn sources(inv: &Inventory) -> Markup {
    html! {
        table id="sources-table" {
            thead { tr {
                th { "Source" } th { "Kind" } th { "SHA-256" } th { "Bytes" } th { "Events" } th { "Findings" }
                th { "Other alerts" } th { "Unreadable" } th { "Verified" }
            } }
            tbody {
                @for src in &inv.sources {
                    @let verified = match src.verified {
                        None => "n/a".to_string(),
                        Some(n) if src.verify_failures.is_empty() => format!("{n} files match MANIFEST.sha256"),
                        Some(n) => format!("FAILED: {n} files match, {} do not: {}", src.verify_failures.len(), src.verify_failures.join("; ")),
                    };
                    tr {
                        (cell("path", "mono", &src.path))
                        (cell("kind", "", src.kind))
                        (cell("sha256", "mono", &src.sha256))
                        (cell("bytes", "num", &src.bytes.to_string()))
                        (cell("events", "num", &src.events.to_string()))
                        (cell("findings", "num", &src.findings.to_string()))
                        (cell("other_alerts", "num", &src.other_alerts.to_string()))
                        (cell("unreadable", "num", &(src.malformed + src.oversized).to_string()))
                        (cell("verified", "", &verified))
                    }
                }
            }
        }
    }
}

fn front(inv: &Inventory, p: &PageInput<'_>) -> Markup {
    let sm = &inv.summary;
    let prog = p.programme;
    let period = match prog.and_then(|g| g.period.clone()) {
        Some((a, b)) => format!("{a} to {b} (UTC)"),
        None => match (&sm.first_seen, &sm.last_seen) {
            (Some(a), Some(b)) => format!("{} to {} (UTC)", short_time(a), short_time(b)),
            _ => "no traffic".to_string(),
        },
    };
    let sensors = prog.map_or_else(
        || "not recorded (EVE input)".to_string(),
        |g| g.sensors.join(", "),
    );
    let hosts = prog.map_or(sm.hosts as u64, |g| g.hosts_observed);
    let foreign: std::collections::BTreeSet<(&str, &str)> = inv
        .rows
        .iter()
        .filter(|r| r.origin == "foreign")
        .map(|r| (r.vendor.as_str(), r.product.as_str()))
        .collect();
    let abroad = super::programme::abroad_by_country(inv);
    html! {
        section id="front" {
            h1 { (p.title) }
            dl class="front" {
                dt { "Case" } dd data-k="case-id" { (p.case_id.unwrap_or("—")) }
                dt { "Scope" } dd data-k="scope" { (p.scope.unwrap_or("—")) }
                dt { "Period" } dd data-k="period" { (period) }
                dt { "Sensors" } dd data-k="sensors" { (sensors) }
                dt { "Hosts observed" } dd data-k="hosts-observed" { (hosts) }
                dt { "Hosts with a finding" } dd data-k="hosts-with-findings" { (sm.hosts) }
                dt { "Foreign products found" } dd data-k="foreign-products" { (foreign.len()) }
                @if let Some(h) = &sm.home_country { dt { "Home country" } dd data-k="home-country" { (h) } }
            }
            h3 { "Data sent abroad, by destination country" }
            @if abroad.is_empty() {
                p data-k="abroad-none" { "No finding sent data to a country outside the allowed ones." }
            } @else {
                table id="abroad-table" {
                    thead { tr { th { "Country" } th { "Hosts" } th { "Products" } th { "Bytes sent" } th { "Flows" } } }
                    tbody {
                        @for a in &abroad {
                            tr data-country=(a.country) {
                                (cell("country", "", &a.country))
                                (cell("hosts", "num", &a.hosts.to_string()))
                                (cell("products", "num", &a.products.to_string()))
                                td data-col="bytes" class="num" data-bytes=(a.bytes_toserver) { (human_bytes(a.bytes_toserver)) }
                                (cell("flows", "num", &a.flows.to_string()))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn ranking(ranked: &[Ranked]) -> Markup {
    html! {
        section id="ranking" {
            h2 { "What to remove first" }
            p class="muted" {
                "Foreign products ranked by: whether they send data abroad; the kind of data (telemetry and file "
                "submission above cloud look-ups and management, above update and licence checks); hosts affected; "
                "bytes sent abroad."
            }
            @if ranked.is_empty() { p { "No foreign product was found." } }
            ol class="ranking" {
                @for (i, r) in ranked.iter().enumerate() {
                    li data-rank=(i + 1) data-vendor=(r.vendor) data-product=(r.product) data-hosts=(r.hosts)
                        data-bytes-abroad=(r.bytes_abroad) {
                        b { (r.vendor) " " (r.product) } " (" (r.vendor_country) ") — " (r.reasoning)
                    }
                }
            }
        }
    }
}

fn programme_section(g: &Programme) -> Markup {
    let points: Vec<svg::ClearDay> = g
        .progress
        .timeline
        .iter()
        .map(|t| svg::ClearDay {
            day: crate::inventory::render::day(t.day_start_ns),
            hosts_seen: t.hosts_seen,
            hosts_clear: t.hosts_clear,
        })
        .collect();
    html! {
        section id="progress" {
            h2 { "Removal progress" }
            p class="muted" {
                "From the inventory: " (g.progress.baseline_runs.len()) " baseline run(s) before "
                (crate::inventory::render::day(g.progress.since_ns)) ", " (g.progress.current_runs.len())
                " run(s) since. Removed: not seen since while the host stayed active; a host not seen at all is not counted as cleaned."
            }
            figure { figcaption { "Hosts clear of foreign products over time" } (svg::clear_chart(&points)) }
            h3 { "Before and after, per host" }
            table id="progress-table" {
                thead { tr { th { "Host" } th { "MAC" } th { "Address" } th { "Vendor" } th { "Product" } th { "Kind" } th { "State" } th { "Replaced by" } } }
                tbody {
                    @for r in &g.progress.rows {
                        tr data-host=(r.host_key) data-state=(r.state.key()) {
                            (cell("name", "", r.host_name.as_deref().unwrap_or(&r.host_key)))
                            (cell("mac", "mono", r.mac.as_deref().unwrap_or("")))
                            (cell("address", "mono", g.address_of(&r.host_key)))
                            (cell("vendor", "", &r.vendor))
                            (cell("product", "", &r.product))
                            (cell("kind", "", r.category.as_deref().unwrap_or("unspecified")))
                            (cell("state", &format!("state-{}", r.state.key()), r.state.as_str()))
                            (cell("replaced_by", "", &r.replaced_by.iter().map(|(v, p)| format!("{v} {p}")).collect::<Vec<_>>().join(", ")))
                        }
                    }
                }
            }
            h3 { "Per product" }
            table id="progress-totals" {
                thead { tr { th { "Vendor" } th { "Product" } th { "Foreign" } th { "Hosts before" } th { "Hosts now" } th { "Still present" } th { "Removed" } th { "Replaced" } th { "New" } th { "Host not seen" } } }
                tbody {
                    @for t in &g.progress.totals {
                        tr {
                            (cell("vendor", "", &t.vendor)) (cell("product", "", &t.product))
                            (cell("foreign", "", if t.foreign { "yes" } else { "no" }))
                            (cell("before", "num", &t.hosts_baseline.to_string())) (cell("now", "num", &t.hosts_current.to_string()))
                            (cell("still_present", "num", &t.still_present.to_string())) (cell("removed", "num", &t.removed.to_string()))
                            (cell("replaced", "num", &t.replaced.to_string())) (cell("new", "num", &t.new.to_string()))
                            (cell("host_not_seen", "num", &t.host_not_seen.to_string()))
                        }
                    }
                }
            }
        }
    }
}

fn rollup(inv: &Inventory) -> Markup {
    let groups = super::programme::rollup(inv);
    html! {
        section id="rollup" {
            h2 { "Products and the hosts that run them" }
            table id="rollup-table" {
                thead { tr { th { "Vendor" } th { "Product" } th { "Origin" } th { "Hosts" } th { "Host list" } } }
                tbody {
                    @for (k, hosts) in &groups {
                        tr data-vendor=(k.0) data-product=(k.1) {
                            (cell("vendor", "", &k.0)) (cell("product", "", &k.1))
                            (cell("origin", &format!("origin-{}", k.2), k.2))
                            (cell("hosts", "num", &hosts.len().to_string()))
                            (cell("host_list", "mono", &hosts.join(", ")))
                        }
                    }
                }
            }
        }
    }
}

fn method(inv: &Inventory, g: Option<&Programme>) -> Markup {
    let unreadable: u64 = inv.sources.iter().map(|s| s.malformed + s.oversized).sum();
    html! {
        section id="method" {
            h2 { "Method and limitations" }
            ul {
                li data-k="catalog" { "Vendor catalog: "
                    @match g.map(|g| g.catalog_versions.join("; ")).filter(|c| !c.is_empty()) {
                        Some(c) => (c),
                        None => "the version is recorded in the inventory only (EVE input)",
                    }
                    ". Products not in the catalog are not found: the catalog's coverage bounds every \"none found\"."
                }
                @if let Some(g) = g {
                    li data-k="policy" { "Policy: " (g.policies.join("; ")) ". Abroad is judged against each run's home country and allowed countries." }
                }
                li data-k="tiers" { "Evidence tiers, strongest first: endpoint (a documented product endpoint), "
                    "owned domain, owned network (the vendor's address ranges / ASNs), certificate name, CNAME chain, "
                    "JA4 fingerprint (weakest). Each finding's tier is in the inventory table and the CSV." }
                li data-k="geoip" { "Destination countries come from the GeoIP database the replay used (its source and "
                    "build date are in the replay's stats event); an address of unknown country counts as abroad." }
                li data-k="gaps" { "Capture gaps and drops: " (unreadable) " unreadable line(s) in the inputs; "
                    "packets a sensor dropped before the capture file are not visible to phonehome. "
                    "A host switched off during a run cannot be shown clean." }
                li { "Encrypted Client Hello hides the real server name; such flows attribute by address only." }
            }
        }
    }
}

/// Control characters (which HTML forbids) as U+FFFD, on the whole page.
fn without_controls(s: String) -> String {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return s;
    }
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// The whole page.
pub fn html(inv: &Inventory, p: &PageInput<'_>) -> String {
    let sm = &inv.summary;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(format!("phonehome {}", env!("CARGO_PKG_VERSION")));
                title { (p.title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                (front(inv, p))
                section id="summary" {
                    h2 { "Summary" }
                    div class="cards" {
                        @for (n, what) in [(sm.hosts, "hosts"), (sm.findings, "products found"), (sm.foreign, "foreign"),
                            (sm.domestic, "domestic"), (sm.data_abroad, "sending data abroad"), (sm.dns_only, "looked up only"),
                            (sm.vendors, "vendors"), (sm.destination_countries.len(), "destination countries")] {
                            div class="card" { b { (n) } (what) }
                        }
                    }
                }
                (ranking(p.ranking))
                @if let Some(g) = p.programme { (programme_section(g)) }
                (rollup(inv))
                section id="charts" {
                    h2 { "Charts" }
                    p class="legend" { span class="foreign" {} "foreign vendor" span class="domestic" {} "domestic vendor" }
                    figure { figcaption { "Findings by destination country" } (svg::by_country(inv)) }
                    figure { figcaption { "Findings by vendor" } (svg::by_vendor(inv)) }
                    figure { figcaption { "Timeline: first and last seen per host and product (UTC)" } (svg::timeline(inv)) }
                }
                section id="inventory" { h2 { "Inventory by host" } (inventory_table(inv)) }
                section id="details" { h2 { "Findings in detail" } (details(inv)) }
                section id="sources" { h2 { "Sources" } (sources(inv)) }
                (method(inv, p.programme))
                footer {
                    "Written by phonehome " (env!("CARGO_PKG_VERSION")) ". The report files are listed with their SHA-256 in "
                    "MANIFEST.sha256 beside this page: check them with " code { "sha256sum -c MANIFEST.sha256" } "."
                }
            }
        }
    };
    let mut s = without_controls(page.into_string());
    s.push('\n');
    s
}
