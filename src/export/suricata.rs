//! Suricata rules: one per entry and protocol.
//!
//! * names: `dns.query`, `tls.sni`, `quic.sni` (Suricata 7+) and `http.host`;
//!   an exact `host` with `startswith; endswith`, a `suffix` or owned domain
//!   with `dotprefix; content:".D"; endswith` (the name itself and every
//!   subdomain, on label boundaries), minus its web presence by a negated
//!   `pcre` on the same buffer;
//! * networks: an `ip` rule towards the CIDR, at most one alert per source
//!   host and hour (`threshold`), since every packet would match;
//! * certificate names: `tls.subjectaltname`; JA4: `ja4.hash` (Suricata 8).
//!
//! sids: `SID_BASE + slot * 10 + protocol digit`. The slot comes from the
//! entry's stable id ([`super::entry_id`]), so sids never depend on file
//! order, and lie in 1,000,000,000..=1,999,999,999: above the 1,000,000 that
//! Snort and Suricata leave to local rules, and apart from the ranges the
//! public rule sets publish in (ET Open/Pro use 2,000,000-2,999,999).
//! Metadata keys: `phonehome_id`, `vendor`, `vendor_slug`, `product`,
//! `purpose`, `jurisdiction` (repeated per country), `tier`, `match`,
//! `confidence`, `shared_cloud` and `source`.

use super::{count, one_line, plain_name, vendor_count, Entry, Summary, Tier};
use crate::resolve::catalog::{platforms, EndpointKind};
use std::fmt::Write as _;

/// First sid (the slot-0 rules).
pub const SID_BASE: u32 = 1_000_000_000;
/// Number of sid slots: each has ten sids, one per [`Protocol`].
pub const SID_SLOTS: u32 = 100_000_000;

/// What a rule inspects; the digit is the sid's last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Dns = 1,
    Tls = 2,
    Quic = 3,
    Http = 4,
    Ip = 5,
    TlsCert = 6,
    Ja4 = 7,
}

impl Protocol {
    const NAMES: [Protocol; 4] = [Protocol::Dns, Protocol::Tls, Protocol::Quic, Protocol::Http];

    /// Rule header protocol, sticky buffer, flow option, words for `msg`.
    fn parts(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Protocol::Dns => ("dns", "dns.query", "", "DNS query"),
            Protocol::Tls => ("tls", "tls.sni", "flow:established,to_server; ", "TLS SNI"),
            Protocol::Quic => ("quic", "quic.sni", "", "QUIC SNI"),
            Protocol::Http => (
                "http",
                "http.host",
                "flow:established,to_server; ",
                "HTTP Host",
            ),
            Protocol::TlsCert => (
                "tls",
                "tls.subjectaltname",
                "flow:established,to_client; ",
                "TLS certificate name",
            ),
            Protocol::Ja4 => ("tls", "ja4.hash", "", "JA4"),
            Protocol::Ip => ("ip", "", "", "traffic to"),
        }
    }
}

/// The sid of `slot`'s rule for `proto`.
pub fn sid(slot: u32, proto: Protocol) -> u32 {
    SID_BASE + (slot % SID_SLOTS) * 10 + proto as u32
}

pub(super) fn write(entries: &[&Entry<'_>], out: &mut Vec<u8>, summary: &mut Summary) {
    let mut s = String::new();
    s.push_str(
        "# phonehome catalog export: Suricata rules (phonehome catalog export --format suricata)\n\
         # One rule per catalog entry and protocol. sids are stable across catalog edits (a hash of\n\
         # vendor and pattern) in 1000000000-1999999999; the last digit is the protocol: 1 dns.query,\n\
         # 2 tls.sni, 3 quic.sni, 4 http.host, 5 ip, 6 tls.subjectaltname, 7 ja4.hash.\n\
         # Needs Suricata 7 or later (quic.sni; ja4.hash needs 8 with JA4 enabled).\n\
         # A name can match several rules: a host rule (tier endpoint) is more specific than a\n\
         # suffix rule, and both beat an owned-domain rule (tier owned_domain, lower priority).\n",
    );
    let mut rules = 0;
    for e in entries {
        let before = rules;
        match e.kind {
            EndpointKind::Host | EndpointKind::Suffix if !plain_name(e.pattern) => {
                summary.not_expressible += 1;
            }
            EndpointKind::Host | EndpointKind::Suffix => {
                for proto in Protocol::NAMES {
                    name_rule(&mut s, e, proto);
                    rules += 1;
                }
            }
            EndpointKind::Cidr => {
                ip_rule(&mut s, e);
                rules += 1;
            }
            EndpointKind::CertName => {
                exact_rule(&mut s, e, Protocol::TlsCert);
                rules += 1;
            }
            EndpointKind::Ja4 => {
                exact_rule(&mut s, e, Protocol::Ja4);
                rules += 1;
            }
        }
        if rules > before {
            count(summary, e);
        }
    }
    summary.items = rules;
    summary.vendors = vendor_count(entries);
    out.extend_from_slice(s.as_bytes());
}

fn name_rule(s: &mut String, e: &Entry<'_>, proto: Protocol) {
    let (app, buffer, flow, what) = proto.parts();
    // http.host is normalised to lower case and refuses `nocase`.
    let nocase = if proto == Protocol::Http {
        ""
    } else {
        " nocase;"
    };
    let _ = write!(
        s,
        "alert {app} any any -> any any (msg:\"{}\"; {flow}{buffer}; ",
        msg(e, what)
    );
    if e.kind == EndpointKind::Host {
        let _ = write!(
            s,
            "content:\"{}\";{nocase} startswith; endswith; ",
            e.pattern
        );
    } else {
        let _ = write!(
            s,
            "dotprefix; content:\".{}\";{nocase} endswith; ",
            e.pattern
        );
        let _ = write!(s, "pcre:!\"/{}/i\"; ", web_exclusion(e));
    }
    tail(s, e, proto);
}

fn exact_rule(s: &mut String, e: &Entry<'_>, proto: Protocol) {
    let (mut app, buffer, flow, what) = proto.parts();
    // A JA4 of a QUIC client starts with 'q'.
    if proto == Protocol::Ja4 && e.pattern.starts_with('q') {
        app = "quic";
    }
    let _ = write!(
        s,
        "alert {app} any any -> any any (msg:\"{}\"; {flow}{buffer}; content:\"{}\"; nocase; startswith; endswith; ",
        msg(e, what),
        content_text(e.pattern)
    );
    tail(s, e, proto);
}

fn ip_rule(s: &mut String, e: &Entry<'_>) {
    let _ = write!(
        s,
        "alert ip any any -> {} any (msg:\"{}\"; threshold:type limit, track by_src, count 1, seconds 3600; ",
        e.pattern,
        msg(e, Protocol::Ip.parts().3)
    );
    tail(s, e, Protocol::Ip);
}

/// classtype, priority, metadata, sid, rev and the closing parenthesis.
fn tail(s: &mut String, e: &Entry<'_>, proto: Protocol) {
    // Exact names are the strongest evidence, owned domains the weakest.
    let priority = match (e.tier, e.kind) {
        (Tier::OwnedDomain, _) => 4,
        (_, EndpointKind::Suffix | EndpointKind::Cidr) => 3,
        _ => 2,
    };
    let _ = writeln!(
        s,
        "classtype:policy-violation; priority:{priority}; metadata:{}; sid:{}; rev:1;)",
        metadata(e),
        sid(e.slot, proto)
    );
}

fn msg(e: &Entry<'_>, what: &str) -> String {
    let place = match (e.kind, e.tier) {
        (EndpointKind::Suffix, Tier::OwnedDomain) => format!("under {} (owned domain)", e.pattern),
        (EndpointKind::Suffix, _) => format!("under {}", e.pattern),
        _ => e.pattern.to_string(),
    };
    msg_text(&format!(
        "phonehome {} {} ({}): {what} {place}",
        e.vendor.name, e.product, e.purpose
    ))
}

/// `msg` text: no quote, semicolon or backslash (which the rule grammar
/// would need escaped), on one line.
fn msg_text(s: &str) -> String {
    one_line(s)
        .chars()
        .map(|c| match c {
            '"' => '\'',
            ';' => ',',
            '\\' => '/',
            c => c,
        })
        .collect()
}

/// A pattern inside `content:"..."`: the catalog's patterns hold no
/// character the grammar reserves; anything else is written as hex bytes.
fn content_text(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*') {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            out.push('|');
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "{b:02x} ");
            }
            out.pop();
            out.push('|');
        }
    }
    out
}

/// One `metadata` value: no comma or semicolon (the separators), spaces as
/// underscores (the convention of the public rule sets), on one line.
fn meta_value(s: &str) -> String {
    let v: String = one_line(s)
        .chars()
        .map(|c| match c {
            ' ' => '_',
            ',' | ';' | '"' | '\\' => '_',
            c => c,
        })
        .collect();
    // Runs of separators read as one.
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_matches('_');
    if out.is_empty() {
        "-".to_string()
    } else {
        out.to_string()
    }
}

/// A source URL as a metadata value: the separators percent-encoded.
fn meta_url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        match c {
            ',' => out.push_str("%2C"),
            ';' => out.push_str("%3B"),
            ' ' => out.push_str("%20"),
            '"' => out.push_str("%22"),
            '\\' => out.push_str("%5C"),
            c => out.push(c),
        }
    }
    out
}

fn metadata(e: &Entry<'_>) -> String {
    let mut m = format!(
        "phonehome_id {}, vendor {}, vendor_slug {}, product {}, purpose {}",
        e.hex_id(),
        meta_value(&e.vendor.name),
        meta_value(&e.vendor.slug),
        meta_value(e.product),
        e.purpose
    );
    for cc in &e.vendor.jurisdiction {
        let _ = write!(m, ", jurisdiction {}", meta_value(cc));
    }
    let _ = write!(
        m,
        ", tier {}, match {}, confidence {}",
        e.tier,
        e.kind.key(),
        e.confidence
    );
    if e.shared_cloud {
        m.push_str(", shared_cloud true");
    }
    let _ = write!(m, ", source {}", meta_url(e.source));
    m
}

/// The negated pcre (on the dot-prefixed buffer) that leaves out the web
/// presence under suffix `D`: a web first label below `D`, web presence
/// hosts and subtrees below `D`, and `D` itself when it is not evidence.
fn web_exclusion(e: &Entry<'_>) -> String {
    let d = regex_escape(e.pattern);
    let mut alts = vec![format!(
        "\\.(?:{})\\.(?:[^.]+\\.)*{d}",
        platforms::WEB_LABELS
            .iter()
            .map(|l| regex_escape(l))
            .collect::<Vec<_>>()
            .join("|")
    )];
    if !e.scope.apex {
        alts.push(format!("\\.{d}"));
    }
    for h in &e.scope.web_hosts {
        alts.push(format!("\\.{}", regex_escape(h)));
    }
    for w in &e.scope.web_suffixes {
        alts.push(format!("(?:\\.[^.]+)*\\.{}", regex_escape(w)));
    }
    format!("^(?:{})$", alts.join("|"))
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if c == '-' {
            out.push('-');
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}
