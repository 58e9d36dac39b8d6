//! Inline SVG charts: horizontal bar charts and a timeline. Colours come
//! from classes styled by the page (so print and screen agree). Built with
//! maud: every text and attribute value is escaped by construction.

use super::model::{Inventory, Row};
use maud::{html, Markup};
use std::collections::BTreeMap;

const WIDTH: f64 = 760.0;
const LABEL: f64 = 230.0;
const ROW: f64 = 22.0;
const TOP: f64 = 8.0;

/// One bar: a label and segments (value, CSS class, tooltip).
pub struct Bar {
    pub label: String,
    pub segments: Vec<(u64, &'static str, String)>,
}

fn clip_label(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// A horizontal stacked bar chart; `id` names it for tests and links.
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> Markup {
    let max = bars
        .iter()
        .map(|b| b.segments.iter().map(|s| s.0).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let height = TOP * 2.0 + ROW * bars.len().max(1) as f64;
    let scale = (WIDTH - LABEL - 50.0) / max as f64;
    html! {
        svg id=(id) class="chart" role="img" aria-label=(title)
            viewBox=(format!("0 0 {WIDTH} {height}")) width=(WIDTH) height=(height)
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @if bars.is_empty() {
                text x="10" y=(TOP + 15.0) class="label" { "no data" }
            }
            @for (i, b) in bars.iter().enumerate() {
                @let y = TOP + ROW * i as f64;
                text x=(LABEL - 6.0) y=(y + 15.0) class="label" text-anchor="end" {
                    (clip_label(&b.label, 34))
                }
                @let mut x = LABEL;
                @let mut total = 0;
                @for (v, class, tip) in b.segments.iter().filter(|s| s.0 > 0) {
                    @let w = *v as f64 * scale;
                    rect x=(format!("{x:.1}")) y=(y + 3.0) width=(format!("{w:.1}"))
                        height=(ROW - 6.0) class=(class) { title { (tip) } }
                    ({ x += w; total += v; "" })
                }
                text x=(format!("{:.1}", x + 5.0)) y=(y + 15.0) class="value" { (total) }
            }
        }
    }
}

/// Findings per destination country, foreign and domestic vendors stacked;
/// DNS-only findings and destinations of unknown country as their own bars.
pub fn by_country(inv: &Inventory) -> Markup {
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in &inv.rows {
        let mut places = r.destination_countries.clone();
        if r.destinations_unknown_country > 0 {
            places.push("unknown".into());
        }
        if r.dns_only {
            places.push("DNS only".into());
        }
        for c in places {
            let e = counts.entry(c).or_default();
            if r.origin == "foreign" {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }
    let mut v: Vec<(String, (u64, u64))> = counts.into_iter().collect();
    v.sort_by(|a, b| {
        (b.1 .0 + b.1 .1)
            .cmp(&(a.1 .0 + a.1 .1))
            .then(a.0.cmp(&b.0))
    });
    let bars: Vec<Bar> = v
        .into_iter()
        .map(|(c, (f, d))| Bar {
            segments: vec![
                (f, "foreign", format!("{c}: {f} foreign product finding(s)")),
                (
                    d,
                    "domestic",
                    format!("{c}: {d} domestic product finding(s)"),
                ),
            ],
            label: c,
        })
        .collect();
    bar_chart("chart-countries", "Findings by destination country", &bars)
}

/// Hosts per vendor, coloured foreign or domestic.
pub fn by_vendor(inv: &Inventory) -> Markup {
    let mut counts: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    for r in &inv.rows {
        let label = if r.vendor_country.is_empty() {
            r.vendor.clone()
        } else {
            format!("{} ({})", r.vendor, r.vendor_country.join("/"))
        };
        *counts.entry((label, r.origin)).or_default() += 1;
    }
    let mut v: Vec<((String, &'static str), u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let bars: Vec<Bar> = v
        .into_iter()
        .map(|((label, origin), n)| Bar {
            segments: vec![(
                n,
                origin,
                format!("{label}: {n} finding(s), {origin} vendor"),
            )],
            label,
        })
        .collect();
    bar_chart("chart-vendors", "Findings by vendor", &bars)
}

fn hms(ns: u64) -> String {
    let t = crate::base::time::eve_ts(ns);
    t.get(11..19).unwrap_or_default().to_string()
}

fn day(ns: u64) -> String {
    let t = crate::base::time::eve_ts(ns);
    t.get(..10).unwrap_or_default().to_string()
}

/// First and last seen of every finding on one time axis (UTC).
pub fn timeline(inv: &Inventory) -> Markup {
    let rows: Vec<&Row> = inv
        .rows
        .iter()
        .filter(|r| r.first_ns.is_some() && r.last_ns.is_some())
        .collect();
    let t0 = rows.iter().filter_map(|r| r.first_ns).min().unwrap_or(0);
    let t1 = rows.iter().filter_map(|r| r.last_ns).max().unwrap_or(0);
    let span = t1.saturating_sub(t0).max(1_000_000_000);
    // Labels name host and product: a wider margin than the bar charts'.
    const LABEL: f64 = 290.0;
    let plot = WIDTH - LABEL - 30.0;
    let x = |t: u64| LABEL + (t.saturating_sub(t0) as f64 / span as f64) * plot;
    let axis_y = TOP + ROW * rows.len().max(1) as f64 + 4.0;
    let height = axis_y + 34.0;
    let title = "Timeline: first and last seen (UTC)";
    let days = if day(t0) == day(t1) {
        day(t0)
    } else {
        format!("{} – {}", day(t0), day(t1))
    };
    html! {
        svg id="chart-timeline" class="chart" role="img" aria-label=(title)
            viewBox=(format!("0 0 {WIDTH} {height}")) width=(WIDTH) height=(height)
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for (i, r) in rows.iter().enumerate() {
                @let y = TOP + ROW * i as f64;
                @let (a, b) = (r.first_ns.unwrap_or(t0), r.last_ns.unwrap_or(t0));
                @let (xa, xb) = (x(a), x(b.max(a)));
                @let label = format!("{} · {} {}", r.host, r.vendor, r.product);
                text x=(LABEL - 6.0) y=(y + 15.0) class="label" text-anchor="end" {
                    (clip_label(&label, 46))
                }
                rect x=(format!("{xa:.1}")) y=(y + 4.0) width=(format!("{:.1}", (xb - xa).max(3.0)))
                    height=(ROW - 8.0) class=(format!("sev-{}", r.severity)) {
                    title { (label) ": " (r.first_seen) " to " (r.last_seen) }
                }
            }
            line x1=(LABEL) y1=(axis_y) x2=(LABEL + plot) y2=(axis_y) class="axis" {}
            @for k in 0..=4u64 {
                @let xt = format!("{:.1}", x(t0 + span / 4 * k));
                line x1=(xt) y1=(axis_y) x2=(xt) y2=(axis_y + 4.0) class="axis" {}
                text x=(xt) y=(axis_y + 16.0) class="tick" text-anchor="middle" { (hms(t0 + span / 4 * k)) }
            }
            text x=(LABEL) y=(axis_y + 30.0) class="tick" { (days) }
        }
    }
}

/// One point of the removal progress chart.
pub struct ClearDay {
    pub day: String,
    pub hosts_seen: u64,
    pub hosts_clear: u64,
}

/// Share of the hosts seen each day that carried no foreign product, as
/// columns (per mille in `data-clear-per-mille`, counts in `data-*`, for
/// readers that check the chart against the inventory).
pub fn clear_chart(points: &[ClearDay]) -> Markup {
    const H: f64 = 180.0;
    const LEFT: f64 = 50.0;
    let col = ((WIDTH - LEFT - 20.0) / points.len().max(1) as f64).min(90.0);
    let title = "Share of hosts clear of foreign products, per day seen (UTC)";
    html! {
        svg id="chart-progress" class="chart" role="img" aria-label=(title)
            viewBox=(format!("0 0 {WIDTH} {}", H + 50.0)) width=(WIDTH) height=(H + 50.0)
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            line x1=(LEFT) y1=(H + 10.0) x2=(WIDTH - 10.0) y2=(H + 10.0) class="axis" {}
            @for (pct, y) in [(0u32, H + 10.0), (50, H / 2.0 + 10.0), (100, 10.0)] {
                text x=(LEFT - 6.0) y=(y + 4.0) class="tick" text-anchor="end" { (pct) "%" }
            }
            @if points.is_empty() {
                text x=(LEFT + 10.0) y=(H / 2.0) class="label" { "no runs in the inventory" }
            }
            @for (i, p) in points.iter().enumerate() {
                @let per_mille = p.hosts_clear * 1000 / p.hosts_seen.max(1);
                @let h = H * per_mille as f64 / 1000.0;
                @let x = LEFT + col * i as f64 + 6.0;
                g class="day" data-day=(p.day) data-hosts-seen=(p.hosts_seen)
                    data-hosts-clear=(p.hosts_clear) data-clear-per-mille=(per_mille) {
                    rect x=(format!("{x:.1}")) y=(format!("{:.1}", H + 10.0 - h))
                        width=(format!("{:.1}", col - 12.0)) height=(format!("{h:.1}")) class="domestic" {
                        title { (p.day) ": " (p.hosts_clear) " of " (p.hosts_seen) " hosts clear" }
                    }
                    text x=(format!("{:.1}", x + (col - 12.0) / 2.0)) y=(format!("{:.1}", H + 4.0 - h))
                        class="value" text-anchor="middle" { (p.hosts_clear) "/" (p.hosts_seen) }
                    text x=(format!("{:.1}", x + (col - 12.0) / 2.0)) y=(H + 26.0)
                        class="tick" text-anchor="middle" { (p.day.get(5..).unwrap_or(&p.day)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_labels() {
        let bars = vec![
            Bar {
                label: "<b>US</b>".into(),
                segments: vec![(4, "foreign", "t<".into()), (0, "domestic", String::new())],
            },
            Bar {
                label: "CN".into(),
                segments: vec![
                    (1, "foreign", String::new()),
                    (1, "domestic", String::new()),
                ],
            },
        ];
        let s = bar_chart("c", "T & t", &bars).into_string();
        assert!(s.contains("&lt;b&gt;US&lt;/b&gt;"));
        assert!(!s.contains("<b>"));
        assert!(s.contains("<title>T &amp; t</title>"));
        // Widest bar: the whole plot (760 - 230 - 50 = 480 px for 4).
        assert!(s.contains(r#"width="480.0""#), "{s}");
        assert!(s.contains(r#"width="120.0""#));
        // Zero segments are not drawn: 3 rects.
        assert_eq!(s.matches("<rect").count(), 3);
        assert!(bar_chart("e", "E", &[]).into_string().contains("no data"));
    }
}
