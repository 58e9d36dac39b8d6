//! `phonehome progress` output: text for people, CSV and JSON for tools.
//! Deterministic: rows come ordered from [`super::progress::compute`].

use super::progress::{Progress, State};
use crate::base::time::eve_ts;

/// `YYYY-MM-DD` (UTC) of a time in nanoseconds.
pub fn day(ns: u64) -> String {
    eve_ts(ns).get(..10).unwrap_or_default().to_owned()
}

/// The progress as aligned text tables: per host and product, totals per
/// product, and hosts clear per day.
pub fn text(p: &Progress) -> String {
    let mut out = format!(
        "Removal progress since {} (baseline: {} run(s); current period: {} run(s))\n",
        day(p.since_ns),
        p.baseline_runs.len(),
        p.current_runs.len()
    );
    out.push_str(&match &p.home_country {
        Some(h) => format!("Home country: {h}\n\n"),
        None => "No home country recorded: every destination counts as abroad\n\n".to_owned(),
    });
    let mut rows = vec![cells(&[
        "host",
        "name",
        "mac",
        "vendor",
        "product",
        "state",
        "severity",
        "abroad",
        "last seen",
        "replaced by",
    ])];
    for r in &p.rows {
        let by: Vec<String> = r
            .replaced_by
            .iter()
            .map(|(v, p)| format!("{v} {p}"))
            .collect();
        rows.push(vec![
            r.host_key.clone(),
            r.host_name.clone().unwrap_or_default(),
            r.mac.clone().unwrap_or_default(),
            r.vendor.clone(),
            r.product.clone(),
            r.state.as_str().to_owned(),
            r.severity.clone().unwrap_or_default(),
            abroad_cell(r),
            day(r.last_seen_ns),
            by.join("; "),
        ]);
    }
    table(&mut out, &rows);
    out.push_str("\nPer product\n");
    let mut rows = vec![cells(&[
        "vendor",
        "product",
        "foreign",
        "hosts before",
        "hosts now",
        State::StillPresent.as_str(),
        State::Removed.as_str(),
        State::Replaced.as_str(),
        State::New.as_str(),
        State::HostNotSeen.as_str(),
    ])];
    for t in &p.totals {
        rows.push(vec![
            t.vendor.clone(),
            t.product.clone(),
            if t.foreign { "yes" } else { "no" }.to_owned(),
            t.hosts_baseline.to_string(),
            t.hosts_current.to_string(),
            t.still_present.to_string(),
            t.removed.to_string(),
            t.replaced.to_string(),
            t.new.to_string(),
            t.host_not_seen.to_string(),
        ]);
    }
    table(&mut out, &rows);
    out.push_str("\nHosts clear of foreign products\n");
    let mut rows = vec![cells(&[
        "day",
        "hosts seen",
        "with foreign",
        "clear",
        "share clear",
    ])];
    for c in &p.timeline {
        rows.push(vec![
            day(c.day_start_ns),
            c.hosts_seen.to_string(),
            c.hosts_with_foreign.to_string(),
            c.hosts_clear.to_string(),
            format!("{}.{}%", c.clear_per_mille / 10, c.clear_per_mille % 10),
        ]);
    }
    table(&mut out, &rows);
    out
}

fn cells(s: &[&str]) -> Vec<String> {
    s.iter().map(|c| (*c).to_owned()).collect()
}

/// The countries a row's product sent data to abroad, `no` when none.
fn abroad_cell(r: &super::progress::ProgressRow) -> String {
    match (r.data_abroad, r.countries_abroad.is_empty()) {
        (false, _) => "no".to_owned(),
        (true, true) => "yes".to_owned(),
        (true, false) => r.countries_abroad.join(","),
    }
}

/// Left-aligned columns two spaces apart; no trailing spaces.
fn table(out: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            let pad = widths.get(i).copied().unwrap_or(0) - c.chars().count();
            line.extend(std::iter::repeat_n(' ', pad + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// One CSV row per host and product (RFC 4180 quoting).
pub fn csv(p: &Progress) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "host_key",
        "host_name",
        "mac",
        "vendor",
        "product",
        "category",
        "foreign",
        "state",
        "last_seen",
        "host_last_seen",
        "replaced_by",
        "severity",
        "data_abroad",
        "countries_abroad",
    ])?;
    for r in &p.rows {
        let by: Vec<String> = r
            .replaced_by
            .iter()
            .map(|(v, p)| format!("{v} {p}"))
            .collect();
        w.write_record([
            r.host_key.as_str(),
            r.host_name.as_deref().unwrap_or_default(),
            r.mac.as_deref().unwrap_or_default(),
            &r.vendor,
            &r.product,
            r.category.as_deref().unwrap_or_default(),
            if r.foreign { "true" } else { "false" },
            match r.state {
                State::StillPresent => "still_present",
                State::Removed => "removed",
                State::Replaced => "replaced",
                State::New => "new",
                State::HostNotSeen => "host_not_seen",
            },
            &day(r.last_seen_ns),
            &r.host_last_seen_ns.map(day).unwrap_or_default(),
            &by.join("; "),
            r.severity.as_deref().unwrap_or_default(),
            if r.data_abroad { "true" } else { "false" },
            &r.countries_abroad.join(" "),
        ])?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The whole progress as JSON (rows, totals, timeline, the runs compared).
pub fn json(p: &Progress) -> serde_json::Value {
    serde_json::to_value(p).unwrap_or(serde_json::Value::Null)
}
