//! EVE JSON objects for the `dns`, `mdns` and `llmnr` keys, shaped as Suricata 8
//! logs them (DNS: version 3, detailed + grouped answers, its default).
//!
//! Suricata's loggers emit a few keys its own schema does not list (e.g. `opt`
//! in answers, `a`/`srv` in mDNS answers). The schema is the contract SIEMs
//! validate against, so every record object is filtered through the keys the
//! schema allows for its section; what is dropped stays available on
//! [`DnsMessage`].

#[cfg(test)]
use super::message::hex;
use super::message::{DnsMessage, DnsRecord, RData};
use super::name::slice_to_text;
use super::names::{rcode_name, rrtype_name};
use super::DnsFlavor;
use crate::base::json::{
    hex_pair, push_hex, push_hex_u64, push_ipv4, push_str, push_str_with, Obj,
};
#[cfg(test)]
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

#[cfg(test)]
/// The object for the event's `dns`, `mdns` or `llmnr` key (see
/// [`DnsFlavor::event_type`]).
///
/// [`write_eve`] writes the same object, byte for byte, without building it.
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

#[cfg(test)]
fn keep(mut obj: Map<String, Value>, allowed: &[&str]) -> Map<String, Value> {
    obj.retain(|k, _| allowed.contains(&k.as_str()));
    obj
}

#[cfg(test)]
fn push_nonempty(o: &mut Map<String, Value>, key: &str, items: Vec<Value>) {
    if !items.is_empty() {
        o.insert(key.to_owned(), Value::Array(items));
    }
}

/// OPT records without options are not logged (as Suricata).
fn skip_additional(r: &DnsRecord) -> bool {
    matches!(&r.rdata, RData::Opt(o) if o.is_empty())
}

#[cfg(test)]
fn soa_json(s: &super::message::Soa) -> Value {
    json!({
        "mname": s.mname, "rname": s.rname, "serial": s.serial, "refresh": s.refresh,
        "retry": s.retry, "expire": s.expire, "minimum": s.minimum,
    })
}

#[cfg(test)]
fn srv_json(s: &super::message::Srv) -> Value {
    json!({"priority": s.priority, "weight": s.weight, "port": s.port, "name": s.target})
}

#[cfg(test)]
fn sshfp_json(s: &super::message::Sshfp) -> Value {
    let fp: Vec<String> = s.fingerprint.iter().map(|b| format!("{b:02x}")).collect();
    json!({"fingerprint": fp.join(":"), "algo": s.algo, "type": s.fp_type})
}

#[cfg(test)]
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

#[cfg(test)]
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

#[cfg(test)]
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

#[cfg(test)]
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

#[cfg(test)]
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
            // NULL data is opaque and may be large: written once, in `answers`.
            RData::Null(_) => {}
            RData::Soa(s) => add("SOA", soa_json(s)),
            RData::Srv(s) => add("SRV", srv_json(s)),
            RData::Sshfp(s) => add("SSHFP", sshfp_json(s)),
            RData::Svcb(_) | RData::Opt(_) | RData::Other(_) | RData::Malformed(_) => {}
        }
    }
    g
}

// ---------------------------------------------------------------- mdns / llmnr

#[cfg(test)]
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

#[cfg(test)]
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

#[cfg(test)]
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

#[cfg(test)]
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

#[cfg(test)]
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

// ---------------------------------------------------------------- writer
//
// The writer gives the bytes `to_eve` serializes to: object keys in sorted
// order (a `serde_json::Map` is a BTreeMap), each record object filtered
// through its section's allowed keys, empty arrays and objects left out.

/// Every key a section's allowed list names; the list becomes a bit mask
/// over these at compile time.
const RECORD_KEYS: &[&str] = &[
    "a",
    "aaaa",
    "cname",
    "mx",
    "ns",
    "null",
    "opt",
    "ptr",
    "rdata",
    "rdata_truncated",
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

const fn same(a: &[u8], b: &[u8]) -> bool {
    match (a.split_first(), b.split_first()) {
        (Some((x, ra)), Some((y, rb))) => *x == *y && same(ra, rb),
        (None, None) => true,
        _ => false,
    }
}

/// The bit of `key` in [`RECORD_KEYS`] (0 for a key not there).
const fn key_bit(key: &str) -> u32 {
    let mut rest = RECORD_KEYS;
    let mut bit = 1u32;
    while let Some((k, tail)) = rest.split_first() {
        if same(k.as_bytes(), key.as_bytes()) {
            return bit;
        }
        rest = tail;
        bit <<= 1;
    }
    0
}

/// A section's allowed keys as a bit mask.
#[derive(Clone, Copy)]
struct Keys(u32);

impl Keys {
    const fn of(list: &[&str]) -> Keys {
        let mut rest = list;
        let mut m = 0;
        while let Some((k, tail)) = rest.split_first() {
            m |= key_bit(k);
            rest = tail;
        }
        Keys(m)
    }

    fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

const K_OPT: u32 = key_bit("opt");
const K_RDATA: u32 = key_bit("rdata");
const K_RRNAME: u32 = key_bit("rrname");
const K_RRNAME_TRUNCATED: u32 = key_bit("rrname_truncated");
const K_RRTYPE: u32 = key_bit("rrtype");
const K_SOA: u32 = key_bit("soa");
const K_SRV: u32 = key_bit("srv");
const K_SSHFP: u32 = key_bit("sshfp");
const K_TTL: u32 = key_bit("ttl");

const W_DNS_ANSWER: Keys = Keys::of(DNS_ANSWER_KEYS);
const W_DNS_AUTHORITY: Keys = Keys::of(DNS_AUTHORITY_KEYS);
const W_DNS_ADDITIONAL: Keys = Keys::of(DNS_ADDITIONAL_KEYS);
const W_MDNS_ANSWER: Keys = Keys::of(MDNS_ANSWER_KEYS);
const W_MDNS_AUTHORITY: Keys = Keys::of(MDNS_AUTHORITY_KEYS);
const W_LLMNR_ANSWER: Keys = Keys::of(LLMNR_ANSWER_KEYS);
const W_LLMNR_AUTHORITY: Keys = Keys::of(LLMNR_AUTHORITY_KEYS);
const W_LLMNR_ADDITIONAL: Keys = Keys::of(LLMNR_ADDITIONAL_KEYS);

/// Writes the fields of the `dns`, `mdns` or `llmnr` object into `o`: the
/// same keys and bytes as `to_eve` (the test-only twin) serialized, with no intermediate tree.
pub fn write_eve(o: &mut Obj<'_>, m: &DnsMessage, flavor: DnsFlavor) {
    match flavor {
        DnsFlavor::Dns => write_dns(o, m),
        DnsFlavor::Mdns => write_typed(o, m, true),
        DnsFlavor::Llmnr => write_typed(o, m, false),
    }
}

/// [`slice_to_text`] as a JSON string (no copy when the bytes are UTF-8).
fn push_text(out: &mut Vec<u8>, raw: &[u8]) {
    match std::str::from_utf8(raw) {
        Ok(s) => push_str(out, s),
        Err(_) => push_str(out, &slice_to_text(raw)),
    }
}

/// [`suricata_ipv6`] without a temporary string.
fn push_ipv6(out: &mut Vec<u8>, a: &Ipv6Addr) {
    for (i, group) in a.octets().chunks_exact(2).enumerate() {
        if i > 0 {
            out.push(b':');
        }
        push_hex(out, group);
    }
}

fn write_soa(o: &mut Obj<'_>, s: &super::message::Soa) {
    o.u64("expire", u64::from(s.expire))
        .u64("minimum", u64::from(s.minimum))
        .str("mname", &s.mname)
        .u64("refresh", u64::from(s.refresh))
        .u64("retry", u64::from(s.retry))
        .str("rname", &s.rname)
        .u64("serial", u64::from(s.serial));
}

fn write_srv(o: &mut Obj<'_>, s: &super::message::Srv) {
    o.str("name", &s.target)
        .u64("port", u64::from(s.port))
        .u64("priority", u64::from(s.priority))
        .u64("weight", u64::from(s.weight));
}

fn write_sshfp(o: &mut Obj<'_>, s: &super::message::Sshfp) {
    o.u64("algo", u64::from(s.algo))
        .str_with("fingerprint", |out| {
            for (i, &b) in s.fingerprint.iter().enumerate() {
                if i > 0 {
                    out.push(b':');
                }
                out.extend_from_slice(&hex_pair(b));
            }
        })
        .u64("type", u64::from(s.fp_type));
}

fn write_opts(o: &mut Obj<'_>, key: &str, opts: &[super::message::EdnsOption]) {
    o.arr(key, |a| {
        for opt in opts {
            a.obj(|e| {
                e.u64("code", u64::from(opt.code))
                    .str_with("data", |out| push_hex(out, &opt.data));
            });
        }
    });
}

/// Whether a record's data has a text form (`rdata`, a `grouped` item, the
/// value of an mDNS/LLMNR key).
fn has_text(rd: &RData) -> bool {
    matches!(
        rd,
        RData::A(_)
            | RData::Aaaa(_)
            | RData::Cname(_)
            | RData::Ns(_)
            | RData::Ptr(_)
            | RData::Mx { .. }
            | RData::Null(_)
    )
}

/// Appends the text form of a record's data as a JSON string (see
/// [`has_text`]; `null` for data without one).
fn push_rdata_text(out: &mut Vec<u8>, rd: &RData) {
    match rd {
        RData::A(ip) => push_str_with(out, |o| push_ipv4(o, *ip)),
        RData::Aaaa(ip) => push_str_with(out, |o| push_ipv6(o, ip)),
        RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => push_str(out, n),
        RData::Mx { exchange, .. } => push_str(out, exchange),
        RData::Null(b) => push_text(out, b),
        _ => out.extend_from_slice(b"null"),
    }
}

// ---------------------------------------------------------------- dns (v3)

fn write_dns(o: &mut Obj<'_>, m: &DnsMessage) {
    let f = &m.flags;
    if f.aa {
        o.bool("aa", true);
    }
    write_details(
        o,
        "additionals",
        m.additionals.iter().filter(|r| !skip_additional(r)),
        W_DNS_ADDITIONAL,
    );
    write_details(o, "answers", m.answers.iter(), W_DNS_ANSWER);
    write_details(o, "authorities", m.authorities.iter(), W_DNS_AUTHORITY);
    o.str_with("flags", |out| push_hex_u64(out, u64::from(f.raw)));
    write_grouped(o, &m.answers);
    o.u64("id", u64::from(m.id))
        .u64("opcode", u64::from(f.opcode));
    if f.qr {
        o.bool("qr", true);
    }
    o.arr_nonempty("queries", |a| {
        for q in &m.queries {
            a.obj(|e| {
                e.str("rrname", &q.rrname);
                if q.rrname_truncated {
                    e.bool("rrname_truncated", true);
                }
                e.str("rrtype", &rrtype_name(q.rrtype));
            });
        }
    });
    if f.ra {
        o.bool("ra", true);
    }
    o.str("rcode", &rcode_name(m.rcode));
    if f.rd {
        o.bool("rd", true);
    }
    if f.tc {
        o.bool("tc", true);
    }
    o.str("type", msg_type(m)).u64("version", 3);
    if f.z {
        o.bool("z", true);
    }
}

/// Detailed entries; a TXT record gives one entry per string (as Suricata).
fn write_details<'a>(
    o: &mut Obj<'_>,
    key: &str,
    recs: impl Iterator<Item = &'a DnsRecord>,
    allowed: Keys,
) {
    o.arr_nonempty(key, |a| {
        for r in recs {
            match &r.rdata {
                RData::Txt(strings) => {
                    for s in strings {
                        a.obj(|e| write_detail(e, r, Some(s), allowed));
                    }
                }
                _ => {
                    a.obj(|e| write_detail(e, r, None, allowed));
                }
            }
        }
    });
}

fn write_detail(e: &mut Obj<'_>, r: &DnsRecord, txt: Option<&[u8]>, allowed: Keys) {
    if let RData::Opt(opts) = &r.rdata {
        if allowed.has(K_OPT) {
            write_opts(e, "opt", opts);
        }
    }
    if allowed.has(K_RDATA) {
        match txt {
            Some(s) => {
                e.raw("rdata", |out| push_text(out, s));
            }
            None if has_text(&r.rdata) => {
                e.raw("rdata", |out| push_rdata_text(out, &r.rdata));
            }
            None => {}
        }
    }
    if allowed.has(K_RRNAME) {
        e.str("rrname", &r.rrname);
    }
    if r.rrname_truncated && allowed.has(K_RRNAME_TRUNCATED) {
        e.bool("rrname_truncated", true);
    }
    if allowed.has(K_RRTYPE) {
        e.str("rrtype", &rrtype_name(r.rrtype));
    }
    match &r.rdata {
        RData::Soa(s) if allowed.has(K_SOA) => {
            e.obj("soa", |x| write_soa(x, s));
        }
        RData::Srv(s) if allowed.has(K_SRV) => {
            e.obj("srv", |x| write_srv(x, s));
        }
        RData::Sshfp(s) if allowed.has(K_SSHFP) => {
            e.obj("sshfp", |x| write_sshfp(x, s));
        }
        _ => {}
    }
    if allowed.has(K_TTL) {
        e.u64("ttl", u64::from(r.ttl));
    }
}

/// `grouped` keys, in sorted order.
const GROUPS: [&str; 11] = [
    "A", "AAAA", "CNAME", "MX", "NS", "NULL", "PTR", "SOA", "SRV", "SSHFP", "TXT",
];

/// Index in [`GROUPS`] of the list a record's data goes to, if any.
fn group_of(rd: &RData) -> Option<usize> {
    Some(match rd {
        RData::A(_) => 0,
        RData::Aaaa(_) => 1,
        RData::Cname(_) => 2,
        RData::Mx { .. } => 3,
        RData::Ns(_) => 4,
        RData::Ptr(_) => 6,
        RData::Soa(_) => 7,
        RData::Srv(_) => 8,
        RData::Sshfp(_) => 9,
        RData::Txt(s) if !s.is_empty() => 10,
        // NULL data is opaque and may be large: written once, in `answers`.
        RData::Null(_)
        | RData::Txt(_)
        | RData::Svcb(_)
        | RData::Opt(_)
        | RData::Other(_)
        | RData::Malformed(_) => return None,
    })
}

fn write_grouped(o: &mut Obj<'_>, answers: &[DnsRecord]) {
    let present = answers
        .iter()
        .filter_map(|r| group_of(&r.rdata))
        .fold(0u32, |m, g| m | 1 << g);
    if present == 0 {
        return;
    }
    o.obj("grouped", |g| {
        for (i, name) in GROUPS.iter().enumerate() {
            if present & 1 << i == 0 {
                continue;
            }
            g.arr(name, |a| {
                for r in answers.iter().filter(|r| group_of(&r.rdata) == Some(i)) {
                    match &r.rdata {
                        RData::Txt(strings) => {
                            for s in strings {
                                a.raw(|out| push_text(out, s));
                            }
                        }
                        RData::Soa(s) => {
                            a.obj(|x| write_soa(x, s));
                        }
                        RData::Srv(s) => {
                            a.obj(|x| write_srv(x, s));
                        }
                        RData::Sshfp(s) => {
                            a.obj(|x| write_sshfp(x, s));
                        }
                        other => {
                            a.raw(|out| push_rdata_text(out, other));
                        }
                    }
                }
            });
        }
    });
}

// ---------------------------------------------------------------- mdns / llmnr

/// mDNS (`mdns`) or LLMNR (`!mdns`) object.
fn write_typed(o: &mut Obj<'_>, m: &DnsMessage, mdns: bool) {
    let f = &m.flags;
    let [ans, auth, add] = if mdns {
        [W_MDNS_ANSWER, W_MDNS_AUTHORITY, W_MDNS_ANSWER]
    } else {
        [W_LLMNR_ANSWER, W_LLMNR_AUTHORITY, W_LLMNR_ADDITIONAL]
    };
    let section = |o: &mut Obj<'_>, key: &str, recs: &mut dyn Iterator<Item = &DnsRecord>, k| {
        o.arr_nonempty(key, |a| {
            for r in recs {
                a.obj(|e| write_typed_detail(e, r, k));
            }
        });
    };
    section(
        o,
        "additionals",
        &mut m.additionals.iter().filter(|r| !skip_additional(r)),
        add,
    );
    section(o, "answers", &mut m.answers.iter(), ans);
    section(o, "authorities", &mut m.authorities.iter(), auth);
    o.arr_nonempty("flags", |a| {
        // LLMNR reuses the AA, TC and RD bits as C (conflict), TC and T (tentative).
        let names: &[(bool, &str)] = if mdns {
            &[
                (f.aa, "aa"),
                (f.tc, "tc"),
                (f.rd, "rd"),
                (f.ra, "ra"),
                (f.z, "z"),
                (f.ad, "ad"),
                (f.cd, "cd"),
            ]
        } else {
            &[(f.aa, "c"), (f.tc, "tc"), (f.rd, "t")]
        };
        for &(set, name) in names {
            if set {
                a.str(name);
            }
        }
    });
    o.u64("id", u64::from(m.id))
        .u64("opcode", u64::from(f.opcode));
    o.arr_nonempty("queries", |a| {
        for q in &m.queries {
            a.obj(|e| {
                e.str("rrname", &q.rrname);
                if q.rrname_truncated {
                    e.bool("rrname_truncated", true);
                }
                e.str_with("rrtype", |out| {
                    out.extend(
                        rrtype_name(q.rrtype)
                            .bytes()
                            .map(|b| b.to_ascii_lowercase()),
                    );
                });
            });
        }
    });
    if mdns {
        o.u64("rcode", u64::from(m.rcode));
    }
    o.str("type", msg_type(m));
}

/// The key a record's data goes under in mDNS and LLMNR objects.
fn typed_key(rd: &RData) -> &'static str {
    match rd {
        RData::A(_) => "a",
        RData::Aaaa(_) => "aaaa",
        RData::Cname(_) => "cname",
        RData::Ns(_) => "ns",
        RData::Ptr(_) => "ptr",
        RData::Mx { .. } => "mx",
        RData::Txt(_) => "txt",
        RData::Null(_) => "null",
        RData::Soa(_) => "soa",
        RData::Srv(_) => "srv",
        RData::Sshfp(_) => "sshfp",
        RData::Opt(_) => "opt",
        RData::Svcb(_) | RData::Other(_) | RData::Malformed(_) => "unknown",
    }
}

fn write_typed_detail(e: &mut Obj<'_>, r: &DnsRecord, allowed: Keys) {
    let key = typed_key(&r.rdata);
    let has_value = match &r.rdata {
        RData::Txt(s) => !s.is_empty(),
        RData::Other(b) | RData::Malformed(b) => !b.is_empty(),
        RData::Svcb(_) => false,
        _ => true,
    };
    let typed = has_value && allowed.has(key_bit(key));
    // Sorted among `rrname` and `rrname_truncated`: "a" .. "ptr" go before.
    let first = key < "rrname";
    if typed && first {
        write_typed_value(e, key, &r.rdata);
    }
    if allowed.has(K_RRNAME) {
        e.str("rrname", &r.rrname);
    }
    if r.rrname_truncated && allowed.has(K_RRNAME_TRUNCATED) {
        e.bool("rrname_truncated", true);
    }
    if typed && !first {
        write_typed_value(e, key, &r.rdata);
    }
}

fn write_typed_value(e: &mut Obj<'_>, key: &str, rd: &RData) {
    match rd {
        RData::Txt(strings) => {
            e.arr(key, |a| {
                for s in strings {
                    a.raw(|out| push_text(out, s));
                }
            });
        }
        RData::Soa(s) => {
            e.obj(key, |x| write_soa(x, s));
        }
        RData::Srv(s) => {
            e.obj(key, |x| write_srv(x, s));
        }
        RData::Sshfp(s) => {
            e.obj(key, |x| write_sshfp(x, s));
        }
        RData::Opt(opts) => write_opts(e, key, opts),
        RData::Other(b) | RData::Malformed(b) => {
            e.str_with(key, |out| push_hex(out, b));
        }
        other => {
            e.raw(key, |out| push_rdata_text(out, other));
        }
    }
}

#[cfg(test)]
mod writer_tests {
    use super::super::anomalies::DnsAnomalies;
    use super::super::message::{DnsFlags, DnsQuery, EdnsOption, Soa, Srv, Sshfp, Svcb};
    use super::*;

    fn written(m: &DnsMessage, flavor: DnsFlavor) -> String {
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        write_eve(&mut o, m, flavor);
        o.end();
        String::from_utf8(buf).unwrap()
    }

    fn rec(rrname: &str, rrtype: u16, rdata: RData) -> DnsRecord {
        DnsRecord {
            rrname: rrname.into(),
            rrname_truncated: false,
            rrtype,
            rrclass: 1,
            ttl: 3600,
            rdata,
        }
    }

    /// One record of every rdata kind, with odd text in places.
    fn every_kind() -> Vec<DnsRecord> {
        let soa = Soa {
            mname: "ns1.example".into(),
            rname: "host\"master.example".into(),
            serial: 2024010101,
            refresh: 7200,
            retry: 900,
            expire: 1209600,
            minimum: 86400,
        };
        let mut truncated = rec("cut.\u{7}example", 5, RData::Cname("x.example".into()));
        truncated.rrname_truncated = true;
        vec![
            rec("a.example", 1, RData::A("192.0.2.1".parse().unwrap())),
            rec("a.example", 28, RData::Aaaa("2001:db8::1".parse().unwrap())),
            truncated,
            rec("n.example", 2, RData::Ns("ns.example".into())),
            rec("1.2.0.192.in-addr.arpa", 12, RData::Ptr("bücher.de".into())),
            rec(
                "m.example",
                15,
                RData::Mx {
                    preference: 10,
                    exchange: "mx.example".into(),
                },
            ),
            rec(
                "t.example",
                16,
                RData::Txt(vec![
                    b"v=spf1 -all".to_vec(),
                    b"a\xffb\\\"".to_vec(),
                    vec![],
                ]),
            ),
            rec("t0.example", 16, RData::Txt(vec![])),
            rec("s.example", 6, RData::Soa(soa)),
            rec(
                "_sip._tcp.example",
                33,
                RData::Srv(Srv {
                    priority: 1,
                    weight: 2,
                    port: 5060,
                    target: "sip.example".into(),
                }),
            ),
            rec(
                "h.example",
                65,
                RData::Svcb(Svcb {
                    priority: 1,
                    target: String::new(),
                    params: vec![(1, b"\x02h2".to_vec())],
                }),
            ),
            rec(
                "",
                41,
                RData::Opt(vec![EdnsOption {
                    code: 8,
                    data: vec![0, 1, 24, 0, 192, 0, 2],
                }]),
            ),
            rec("", 41, RData::Opt(vec![])),
            rec(
                "f.example",
                44,
                RData::Sshfp(Sshfp {
                    algo: 4,
                    fp_type: 2,
                    fingerprint: vec![0xde, 0xad, 0x00, 0x0f],
                }),
            ),
            rec("z.example", 10, RData::Null(b"\x00\x01raw\xfe".to_vec())),
            rec("o.example", 99, RData::Other(vec![0xab, 0xcd])),
            rec("o0.example", 4321, RData::Other(vec![])),
            rec("bad.example", 1, RData::Malformed(vec![1, 2, 3])),
            rec("bad0.example", 28, RData::Malformed(vec![])),
        ]
    }

    fn message(flags: u16, rcode: u8, records: Vec<DnsRecord>) -> DnsMessage {
        DnsMessage {
            id: 0xbeef,
            flags: DnsFlags::from_raw(flags),
            rcode,
            counts: [0; 4],
            queries: vec![
                DnsQuery {
                    rrname: "a.example".into(),
                    rrname_truncated: false,
                    rrtype: 1,
                    rrclass: 1,
                },
                DnsQuery {
                    rrname: "odd\tname".into(),
                    rrname_truncated: true,
                    rrtype: 65280,
                    rrclass: 0x8001,
                },
            ],
            answers: records.clone(),
            authorities: records.iter().rev().cloned().collect(),
            additionals: records,
            anomalies: DnsAnomalies::default(),
        }
    }

    #[test]
    fn writer_gives_the_bytes_of_the_serialized_value() {
        let mut cases = vec![
            message(0x85b0, 3, every_kind()),
            message(0xffff, 15, every_kind()),
            message(0x0100, 0, Vec::new()),
            message(0x0000, 22, every_kind()),
        ];
        // Each record alone, in each section, too.
        for r in every_kind() {
            for section in 0..3 {
                let mut m = message(0x8180, 0, Vec::new());
                m.queries.clear();
                [&mut m.answers, &mut m.authorities, &mut m.additionals][section].push(r.clone());
                cases.push(m);
            }
        }
        let mut compared = 0;
        for m in &cases {
            for flavor in [DnsFlavor::Dns, DnsFlavor::Mdns, DnsFlavor::Llmnr] {
                let expected = serde_json::to_string(&to_eve(m, flavor)).unwrap();
                assert_eq!(written(m, flavor), expected, "{flavor:?} {m:?}");
                compared += 1;
            }
        }
        assert_eq!(compared, 4 * 3 + 19 * 3 * 3);
    }

    #[test]
    fn writer_values() {
        let m = message(0x8180, 0, every_kind()[..2].to_vec());
        assert_eq!(
            written(&m, DnsFlavor::Dns),
            concat!(
                r#"{"additionals":[{"rdata":"192.0.2.1","rrname":"a.example","rrtype":"A","ttl":3600},"#,
                r#"{"rdata":"2001:0db8:0000:0000:0000:0000:0000:0001","rrname":"a.example","rrtype":"AAAA","ttl":3600}],"#,
                r#""answers":[{"rdata":"192.0.2.1","rrname":"a.example","rrtype":"A","ttl":3600},"#,
                r#"{"rdata":"2001:0db8:0000:0000:0000:0000:0000:0001","rrname":"a.example","rrtype":"AAAA","ttl":3600}],"#,
                r#""authorities":[{"rdata":"2001:0db8:0000:0000:0000:0000:0000:0001","rrname":"a.example","rrtype":"AAAA","ttl":3600},"#,
                r#"{"rdata":"192.0.2.1","rrname":"a.example","rrtype":"A","ttl":3600}],"#,
                r#""flags":"8180","grouped":{"A":["192.0.2.1"],"AAAA":["2001:0db8:0000:0000:0000:0000:0000:0001"]},"#,
                r#""id":48879,"opcode":0,"qr":true,"queries":[{"rrname":"a.example","rrtype":"A"},"#,
                r#"{"rrname":"odd\tname","rrname_truncated":true,"rrtype":"65280"}],"#,
                r#""ra":true,"rcode":"NOERROR","rd":true,"type":"response","version":3}"#
            )
        );
    }

    #[test]
    fn every_allowed_key_has_a_bit() {
        for list in [
            DNS_ANSWER_KEYS,
            DNS_AUTHORITY_KEYS,
            DNS_ADDITIONAL_KEYS,
            MDNS_ANSWER_KEYS,
            MDNS_AUTHORITY_KEYS,
            LLMNR_ANSWER_KEYS,
            LLMNR_AUTHORITY_KEYS,
            LLMNR_ADDITIONAL_KEYS,
        ] {
            for k in list {
                assert_ne!(key_bit(k), 0, "{k}");
            }
            assert_eq!(Keys::of(list).0.count_ones() as usize, list.len());
        }
        assert_eq!(key_bit("a"), 1);
        assert_eq!(key_bit("unknown"), 1 << (RECORD_KEYS.len() - 1));
        assert_eq!(key_bit("nope"), 0);
        assert_eq!(W_DNS_ANSWER.0, Keys::of(DNS_ANSWER_KEYS).0);
    }
}
