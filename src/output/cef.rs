//! ArcSight Common Event Format (CEF) for findings: what a syslog sink
//! sends for an alert.

use crate::judge::policy::Severity;
use crate::judge::Finding;
use std::fmt::Write as _;
use std::net::IpAddr;

/// CEF severity (0–10) of a finding.
fn cef_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 10,
        Severity::High => 8,
        Severity::Medium => 5,
        Severity::Low => 3,
        Severity::Info => 1,
    }
}

/// Escapes a CEF header field: `\` and `|` take a backslash; line breaks
/// become spaces (a header is one line).
pub fn cef_header(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '|' => o.push_str("\\|"),
            '\r' | '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Escapes a CEF extension value: `\` and `=` take a backslash, line
/// breaks are written `\n` / `\r`.
pub fn cef_value(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '=' => o.push_str("\\="),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o
}

/// ArcSight Common Event Format line for a finding.
pub fn cef(f: &Finding, seq: u64) -> String {
    let sig = super::eve::signature_id(f.kind);
    let name = format!(
        "PHONEHOME {}: {} {}",
        f.kind.as_str().replace('_', " "),
        f.vendor,
        f.product
    );
    let mut s = format!(
        "CEF:0|phonehome|phonehome|{}|{sig}|{}|{}|",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(&name),
        cef_severity(f.severity)
    );
    let mut ext: Vec<(&str, String)> = Vec::new();
    let ms = |ns: u64| (ns / 1_000_000).to_string();
    ext.push(("rt", ms(f.last_seen_ns)));
    ext.push(("start", ms(f.first_seen_ns)));
    ext.push(("end", ms(f.last_seen_ns)));
    match f.host {
        IpAddr::V4(a) => ext.push(("src", a.to_string())),
        IpAddr::V6(a) => {
            ext.push(("c6a2", a.to_string()));
            ext.push(("c6a2Label", "Source IPv6 Address".into()));
        }
    }
    let first = f.destinations.first();
    match first.and_then(|d| d.ip) {
        Some(IpAddr::V4(a)) => ext.push(("dst", a.to_string())),
        Some(IpAddr::V6(a)) => {
            ext.push(("c6a3", a.to_string()));
            ext.push(("c6a3Label", "Destination IPv6 Address".into()));
        }
        None => {}
    }
    if let Some(n) = first
        .and_then(|d| d.names.iter().next())
        .or_else(|| f.best_evidence().map(|e| &e.value))
    {
        ext.push(("dhost", n.clone()));
    }
    ext.push(("cat", f.kind.as_str().to_string()));
    ext.push(("cnt", f.flows.to_string()));
    ext.push(("out", f.bytes_toserver.to_string()));
    ext.push(("in", f.bytes_toclient.to_string()));
    ext.push(("externalId", seq.to_string()));
    ext.push(("cs1Label", "vendor".into()));
    ext.push(("cs1", f.vendor.clone()));
    ext.push(("cs2Label", "product".into()));
    ext.push(("cs2", f.product.clone()));
    ext.push(("cs3Label", "vendorCountry".into()));
    ext.push(("cs3", f.vendor_country.join(",")));
    let cc = f.destination_countries();
    if !cc.is_empty() {
        ext.push(("cs4Label", "destinationCountries".into()));
        ext.push(("cs4", cc.join(",")));
    }
    ext.push(("cs5Label", "confidence".into()));
    ext.push(("cs5", f.confidence.as_str().into()));
    if let Some(e) = f.best_evidence() {
        ext.push(("cs6Label", "communityId".into()));
        ext.push(("cs6", e.community_id.clone()));
    }
    ext.push(("msg", f.reason.clone()));
    for (i, (k, v)) in ext.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{k}={}", cef_value(v));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cef_escaping() {
        assert_eq!(cef_header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(cef_header("x\ny"), "x y");
        assert_eq!(cef_value(r"k=v\w"), r"k\=v\\w");
        assert_eq!(
            cef_value("a|b"),
            "a|b",
            "a pipe needs no escape in the extension"
        );
        assert_eq!(cef_value("l1\nl2\r"), r"l1\nl2\r");
    }
}
