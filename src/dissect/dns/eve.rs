//! EVE JSON objects for the `dns`, `mdns` and `llmnr` keys, shaped as Suricata 8
//! logs them (DNS: version 3, detailed + grouped answers, its default).
//!
//! Suricata's loggers emit a few keys its own schema does not list (e.g. `opt`
//! in answers, `a`/`srv` in mDNS answers). The schema is the contract SIEMs
//! validate against, so every record object is filtered through the keys the
//! schema allows for its section; what is dropped stays available on
//! [`DnsMessage`].

use super::message::{hex, DnsMessage, DnsRecord, RData};
use super::name::slice_to_text;
use super::names::{rcode_name, rrtype_name};
use super::DnsFlavor;
use serde_json::{json, Map, Value};
use std::net::Ipv6Addr;

/// Keys allowed by the schema per flavor and section.
const DNS_ANSWER_KEYS: &[&str] = &["rdata", "rrname", "rrtype", "soa", "srv", "sshfp", "ttl"];
const DNS_AUTHORITY_KEYS: &[&str] = &[
    "rdata",
    "rdata_truncated",
    "rrname",
    "rrname_truncated",
    "rrtype",
    "soa",
    "ttl",
];
const DNS_ADDITIONAL_KEYS: &[&str] = &["opt", "rdata", "rrname", "rrtype", "ttl"];
const MDNS_ANSWER_KEYS: &[&str] = &["ptr", "rrname", "rrname_truncated", "txt"];
const MDNS_AUTHORITY_KEYS: &[&str] = &["rrname", "rrname_truncated"];
const LLMNR_ANSWER_KEYS: &[&str] = &[
    "a",
    "aaaa",
    "cname",
    "mx",
    "ns",
    "null",
    "ptr",
    "rrname",
    "rrname_truncated",
    "rrtype",
    "soa",
    "srv",
    "sshfp",
    "ttl",
    "txt",
    "unknown",
];
const LLMNR_AUTHORITY_KEYS: &[&str] = &[
    "a",
    "aaaa",
    "cname",
    "mx",
    "ns",
    "null",
    "ptr",
    "rrname",
    "rrname_truncated",
    "rrtype",
    "soa",
    "ttl",
    "txt",
    "unknown",
];
const LLMNR_ADDITIONAL_KEYS: &[&str] = &[
    "a",
    "aaaa",
    "cname",
    "mx",
    "ns",
    "null",
    "opt",
    "ptr",
    "rrname",
    "rrname_truncated",
    "rrtype",
    "ttl",
    "txt",
    "unknown",
];

/// The object for the event's `dns`, `mdns` or `llmnr` key (see
/// [`DnsFlavor::event_type`]).
pub fn to_eve(m: &DnsMessage, flavor: DnsFlavor) -> Value {
    match flavor {
        DnsFlavor::Dns => dns_eve(m),
        DnsFlavor::Mdns => mdns_eve(m),
        DnsFlavor::Llmnr => llmnr_eve(m),
    }
}

/// IPv6 as Suricata prints it: eight zero-padded groups, no `::` compression.
pub fn suricata_ipv6(a: &Ipv6Addr) -> String {
    let [s0, s1, s2, s3, s4, s5, s6, s7] = a.segments();
    format!("{s0:04x}:{s1:04x}:{s2:04x}:{s3:04x}:{s4:04x}:{s5:04x}:{s6:04x}:{s7:04x}")
}

fn msg_type(m: &DnsMessage) -> &'static str {
    if m.flags.qr {
        "response"
    } else {
        "request"
    }
}

fn keep(mut obj: Map<String, Value>, allowed: &[&str]) -> Map<String, Value> {
    obj.retain(|k, _| allowed.contains(&k.as_str()));
    obj
}

fn push_nonempty(o: &mut Map<String, Value>, key: &str, items: Vec<Value>) {
    if !items.is_empty() {
        o.insert(key.to_owned(), Value::Array(items));
    }
}

/// OPT records without options are not logged (as Suricata).
fn skip_additional(r: &DnsRecord) -> bool {
    matches!(&r.rdata, RData::Opt(o) if o.is_empty())
}

fn soa_json(s: &super::message::Soa) -> Value {
    json!({
        "mname": s.mname, "rname": s.rname, "serial": s.serial, "refresh": s.refresh,
        "retry": s.retry, "expire": s.expire, "minimum": s.minimum,
    })
}

fn srv_json(s: &super::message::Srv) -> Value {
    json!({"priority": s.priority, "weight": s.weight, "port": s.port, "name": s.target})
}

fn sshfp_json(s: &super::message::Sshfp) -> Value {
    let fp: Vec<String> = s.fingerprint.iter().map(|b| format!("{b:02x}")).collect();
    json!({"fingerprint": fp.join(":"), "algo": s.algo, "type": s.fp_type})
}

fn opt_json(r: &RData) -> Option<Value> {
    match r {
        RData::Opt(opts) => Some(Value::Array(
            opts.iter()
                .map(|o| json!({"code": o.code, "data": hex(&o.data)}))
                .collect(),
        )),
        _ => None,
    }
}

// ---------------------------------------------------------------- dns (v3)

fn dns_eve(m: &DnsMessage) -> Value {
    let f = &m.flags;
    let mut o = Map::new();
    o.insert("version".into(), json!(3));
    o.insert("type".into(), json!(msg_type(m)));
    o.insert("id".into(), json!(m.id));
    o.insert("flags".into(), json!(format!("{:x}", f.raw)));
    for (set, key) in [
        (f.qr, "qr"),
        (f.aa, "aa"),
        (f.tc, "tc"),
        (f.rd, "rd"),
        (f.ra, "ra"),
        (f.z, "z"),
    ] {
        if set {
            o.insert(key.into(), json!(true));
        }
    }
    o.insert("opcode".into(), json!(f.opcode));
    o.insert("rcode".into(), json!(rcode_name(m.rcode)));

    let queries = m
        .queries
        .iter()
        .map(|q| {
            let mut e = Map::new();
            e.insert("rrname".into(), json!(q.rrname));
            e.insert("rrtype".into(), json!(rrtype_name(q.rrtype)));
            if q.rrname_truncated {
                e.insert("rrname_truncated".into(), json!(true));
            }
            Value::Object(e)
        })
        .collect();
    push_nonempty(&mut o, "queries", queries);

    let answers = dns_details(m.answers.iter(), DNS_ANSWER_KEYS);
    push_nonempty(&mut o, "answers", answers);
    let grouped = dns_grouped(&m.answers);
    if !grouped.is_empty() {
        o.insert("grouped".into(), Value::Object(grouped));
    }
    let auth = dns_details(m.authorities.iter(), DNS_AUTHORITY_KEYS);
    push_nonempty(&mut o, "authorities", auth);
    let add = dns_details(
        m.additionals.iter().filter(|r| !skip_additional(r)),
        DNS_ADDITIONAL_KEYS,
    );
    push_nonempty(&mut o, "additionals", add);
    Value::Object(o)
}

/// Detailed entries; a TXT record gives one entry per string (as Suricata).
fn dns_details<'a>(recs: impl Iterator<Item = &'a DnsRecord>, allowed: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    for r in recs {
        match &r.rdata {
            RData::Txt(strings) => {
                for s in strings {
                    let mut e = dns_detail_base(r);
                    e.insert("rdata".into(), json!(slice_to_text(s)));
                    out.push(Value::Object(keep(e, allowed)));
                }
            }
            other => {
                let mut e = dns_detail_base(r);
                match other {
                    RData::A(a) => {
                        e.insert("rdata".into(), json!(a.to_string()));
                    }
                    RData::Aaaa(a) => {
                        e.insert("rdata".into(), json!(suricata_ipv6(a)));
                    }
                    RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => {
                        e.insert("rdata".into(), json!(n));
                    }
                    RData::Mx { exchange, .. } => {
                        e.insert("rdata".into(), json!(exchange));
                    }
                    RData::Null(b) => {
                        e.insert("rdata".into(), json!(slice_to_text(b)));
                    }
                    RData::Soa(s) => {
                        e.insert("soa".into(), soa_json(s));
                    }
                    RData::Srv(s) => {
                        e.insert("srv".into(), srv_json(s));
                    }
                    RData::Sshfp(s) => {
                        e.insert("sshfp".into(), sshfp_json(s));
                    }
                    RData::Opt(_) => {
                        if let Some(v) = opt_json(other) {
                            e.insert("opt".into(), v);
                        }
                    }
                    // Suricata logs no rdata for types it does not decode.
                    RData::Txt(_) | RData::Svcb(_) | RData::Other(_) | RData::Malformed(_) => {}
                }
                out.push(Value::Object(keep(e, allowed)));
            }
        }
    }
    out
}

fn dns_detail_base(r: &DnsRecord) -> Map<String, Value> {
    let mut e = Map::new();
    e.insert("rrname".into(), json!(r.rrname));
    if r.rrname_truncated {
        e.insert("rrname_truncated".into(), json!(true));
    }
    e.insert("rrtype".into(), json!(rrtype_name(r.rrtype)));
    e.insert("ttl".into(), json!(r.ttl));
    e
}

fn dns_grouped(answers: &[DnsRecord]) -> Map<String, Value> {
    let mut g: Map<String, Value> = Map::new();
    let mut add = |key: &str, v: Value| {
        if let Value::Array(a) = g
            .entry(key.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            a.push(v);
        }
    };
    for r in answers {
        match &r.rdata {
            RData::A(a) => add("A", json!(a.to_string())),
            RData::Aaaa(a) => add("AAAA", json!(suricata_ipv6(a))),
            RData::Cname(n) => add("CNAME", json!(n)),
            RData::Ns(n) => add("NS", json!(n)),
            RData::Ptr(n) => add("PTR", json!(n)),
            RData::Mx { exchange, .. } => add("MX", json!(exchange)),
            RData::Txt(strings) => {
                for s in strings {
                    add("TXT", json!(slice_to_text(s)));
                }
            }
            RData::Null(b) => add("NULL", json!(slice_to_text(b))),
            RData::Soa(s) => add("SOA", soa_json(s)),
            RData::Srv(s) => add("SRV", srv_json(s)),
            RData::Sshfp(s) => add("SSHFP", sshfp_json(s)),
            RData::Svcb(_) | RData::Opt(_) | RData::Other(_) | RData::Malformed(_) => {}
        }
    }
    g
}

// ---------------------------------------------------------------- mdns / llmnr

/// Record object keyed by the lowercase type name, as Suricata's mDNS and
/// LLMNR loggers write it (`{"rrname": .., "a": "1.2.3.4"}`).
fn typed_detail(r: &DnsRecord, allowed: &[&str]) -> Value {
    let mut e = Map::new();
    e.insert("rrname".into(), json!(r.rrname));
    if r.rrname_truncated {
        e.insert("rrname_truncated".into(), json!(true));
    }
    let (key, v): (&str, Option<Value>) = match &r.rdata {
        RData::A(a) => ("a", Some(json!(a.to_string()))),
        RData::Aaaa(a) => ("aaaa", Some(json!(suricata_ipv6(a)))),
        RData::Cname(n) => ("cname", Some(json!(n))),
        RData::Ns(n) => ("ns", Some(json!(n))),
        RData::Ptr(n) => ("ptr", Some(json!(n))),
        RData::Mx { exchange, .. } => ("mx", Some(json!(exchange))),
        RData::Txt(s) if !s.is_empty() => (
            "txt",
            Some(Value::Array(
                s.iter().map(|t| json!(slice_to_text(t))).collect(),
            )),
        ),
        RData::Txt(_) => ("txt", None),
        RData::Null(b) => ("null", Some(json!(slice_to_text(b)))),
        RData::Soa(s) => ("soa", Some(soa_json(s))),
        RData::Srv(s) => ("srv", Some(srv_json(s))),
        RData::Sshfp(s) => ("sshfp", Some(sshfp_json(s))),
        RData::Opt(_) => ("opt", opt_json(&r.rdata)),
        // The schemas name undecoded data `unknown`; hex keeps it printable.
        RData::Other(b) | RData::Malformed(b) if !b.is_empty() => ("unknown", Some(json!(hex(b)))),
        RData::Svcb(_) | RData::Other(_) | RData::Malformed(_) => ("unknown", None),
    };
    if let Some(v) = v {
        e.insert(key.into(), v);
    }
    Value::Object(keep(e, allowed))
}

fn typed_queries(m: &DnsMessage) -> Vec<Value> {
    m.queries
        .iter()
        .map(|q| {
            let mut e = Map::new();
            e.insert("rrname".into(), json!(q.rrname));
            e.insert(
                "rrtype".into(),
                json!(rrtype_name(q.rrtype).to_ascii_lowercase()),
            );
            if q.rrname_truncated {
                e.insert("rrname_truncated".into(), json!(true));
            }
            Value::Object(e)
        })
        .collect()
}

fn typed_sections(o: &mut Map<String, Value>, m: &DnsMessage, keys: [&[&str]; 3]) {
    let [ans, auth, add] = keys;
    let a = m.answers.iter().map(|r| typed_detail(r, ans)).collect();
    push_nonempty(o, "answers", a);
    let a = m
        .authorities
        .iter()
        .map(|r| typed_detail(r, auth))
        .collect();
    push_nonempty(o, "authorities", a);
    let a = m
        .additionals
        .iter()
        .filter(|r| !skip_additional(r))
        .map(|r| typed_detail(r, add))
        .collect();
    push_nonempty(o, "additionals", a);
}

fn mdns_eve(m: &DnsMessage) -> Value {
    let f = &m.flags;
    let mut o = Map::new();
    o.insert("type".into(), json!(msg_type(m)));
    o.insert("id".into(), json!(m.id));
    let flags: Vec<Value> = [
        (f.aa, "aa"),
        (f.tc, "tc"),
        (f.rd, "rd"),
        (f.ra, "ra"),
        (f.z, "z"),
        (f.ad, "ad"),
        (f.cd, "cd"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, k)| json!(k))
    .collect();
    push_nonempty(&mut o, "flags", flags);
    o.insert("opcode".into(), json!(f.opcode));
    o.insert("rcode".into(), json!(m.rcode));
    push_nonempty(&mut o, "queries", typed_queries(m));
    typed_sections(
        &mut o,
        m,
        [MDNS_ANSWER_KEYS, MDNS_AUTHORITY_KEYS, MDNS_ANSWER_KEYS],
    );
    Value::Object(o)
}

fn llmnr_eve(m: &DnsMessage) -> Value {
    let f = &m.flags;
    let mut o = Map::new();
    o.insert("type".into(), json!(msg_type(m)));
    o.insert("id".into(), json!(m.id));
    // LLMNR reuses the AA, TC and RD bits as C (conflict), TC and T (tentative).
    let flags: Vec<Value> = [(f.aa, "c"), (f.tc, "tc"), (f.rd, "t")]
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, k)| json!(k))
        .collect();
    push_nonempty(&mut o, "flags", flags);
    o.insert("opcode".into(), json!(f.opcode));
    push_nonempty(&mut o, "queries", typed_queries(m));
    typed_sections(
        &mut o,
        m,
        [
            LLMNR_ANSWER_KEYS,
            LLMNR_AUTHORITY_KEYS,
            LLMNR_ADDITIONAL_KEYS,
        ],
    );
    Value::Object(o)
}
