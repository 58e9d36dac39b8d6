//! Inline SVG charts: horizontal bar charts and a timeline. Colours come
//! from classes styled by the page (so print and screen agree); all text is
//! escaped.

use super::esc;
use super::model::{Inventory, Row};
use std::collections::BTreeMap;
use std::fmt::Write as _;

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
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> String {
    let max = bars
        .iter()
        .map(|b| b.segments.iter().map(|s| s.0).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let height = TOP * 2.0 + ROW * bars.len().max(1) as f64;
    let scale = (WIDTH - LABEL - 50.0) / max as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="{}" class="chart" role="img" aria-label="{}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(id),
        esc(title),
        esc(title)
    );
    if bars.is_empty() {
        let _ = write!(
            s,
            r#"<text x="10" y="{}" class="label">no data</text>"#,
            TOP + 15.0
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="label" text-anchor="end">{}</text>"#,
            LABEL - 6.0,
            y + 15.0,
            esc(&clip_label(&b.label, 34))
        );
        let mut x = LABEL;
        let mut total = 0;
        for (v, class, tip) in &b.segments {
            if *v == 0 {
                continue;
            }
            let w = *v as f64 * scale;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{}" width="{w:.1}" height="{}" class="{class}"><title>{}</title></rect>"#,
                y + 3.0,
                ROW - 6.0,
                esc(tip)
            );
            x += w;
            total += v;
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" class="value">{total}</text>"#,
            x + 5.0,
            y + 15.0
        );
    }
    s.push_str("</svg>");
    s
}

/// Findings per destination country, foreign and domestic vendors stacked;
/// DNS-only findings and destinations of unknown country as their own bars.
pub fn by_country(inv: &Inventory) -> String {
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
pub fn by_vendor(inv: &Inventory) -> String {
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
pub fn timeline(inv: &Inventory) -> String {
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
    let mut s = String::new();
    let title = "Timeline: first and last seen (UTC)";
    let _ = write!(
        s,
        r#"<svg id="chart-timeline" class="chart" role="img" aria-label="{title}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>"#
    );
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let (a, b) = (r.first_ns.unwrap_or(t0), r.last_ns.unwrap_or(t0));
        let (xa, xb) = (x(a), x(b.max(a)));
        let label = format!("{} · {} {}", r.host, r.vendor, r.product);
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" class="label" text-anchor="end">{}</text><rect x="{xa:.1}" y="{}" width="{:.1}" height="{}" class="sev-{}"><title>{}</title></rect>"#,
            LABEL - 6.0,
            y + 15.0,
            esc(&clip_label(&label, 46)),
            y + 4.0,
            (xb - xa).max(3.0),
            ROW - 8.0,
            esc(&r.severity),
            esc(&format!("{label}: {} to {}", r.first_seen, r.last_seen))
        );
    }
    let _ = write!(
        s,
        r#"<line x1="{LABEL}" y1="{axis_y}" x2="{}" y2="{axis_y}" class="axis"/>"#,
        LABEL + plot
    );
    for k in 0..=4u64 {
        let t = t0 + span / 4 * k;
        let xt = x(t);
        let _ = write!(
            s,
            r#"<line x1="{xt:.1}" y1="{axis_y}" x2="{xt:.1}" y2="{}" class="axis"/><text x="{xt:.1}" y="{}" class="tick" text-anchor="middle">{}</text>"#,
            axis_y + 4.0,
            axis_y + 16.0,
            hms(t)
        );
    }
    let days = if day(t0) == day(t1) {
        day(t0)
    } else {
        format!("{} – {}", day(t0), day(t1))
    };
    let _ = write!(
        s,
        r#"<text x="{LABEL}" y="{}" class="tick">{}</text></svg>"#,
        axis_y + 30.0,
        esc(&days)
    );
    s
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
        let s = bar_chart("c", "T & t", &bars);
        assert!(s.contains("&lt;b&gt;US&lt;/b&gt;"));
        assert!(!s.contains("<b>"));
        assert!(s.contains("<title>T &amp; t</title>"));
        // Widest bar: the whole plot (760 - 230 - 50 = 480 px for 4).
        assert!(s.contains(r#"width="480.0""#), "{s}");
        assert!(s.contains(r#"width="120.0""#));
        // Zero segments are not drawn: 3 rects.
        assert_eq!(s.matches("<rect").count(), 3);
        assert!(bar_chart("e", "E", &[]).contains("no data"));
    }
}
