//! Elastic Common Schema documents from EVE events.
//!
//! Built from the EVE JSON rather than from the pipeline's records so that
//! an ECS document says exactly what the EVE line says (and the ECS sinks
//! cost nothing when none is configured: the conversion runs in the sink's
//! own thread). Only ECS fields are used, with ECS types (the list, with
//! types, is `tests/sinks_data/ecs_fields.tsv`, taken from ECS's
//! `generated/ecs/ecs_flat.yml`); what ECS has no field for stays under
//! `phonehome.*`, the custom field set ECS asks producers to use for their
//! own data.
//!
//! | EVE | ECS |
//! |---|---|
//! | `timestamp` | `@timestamp` (RFC 3339, `Z`) |
//! | `src_ip`/`src_port`, `dest_ip`/`dest_port` | `source.*`, `destination.*` |
//! | `proto`, `app_proto`, `community_id`, `vlan[0]` | `network.transport`, `network.protocol`, `network.community_id`, `network.vlan.id` |
//! | `phonehome.dest.{country,asn,as_org}` | `destination.geo.country_iso_code`, `destination.as.number`, `destination.as.organization.name` |
//! | flow counters, start/end | `source.bytes/packets` (to server), `destination.bytes/packets`, `network.bytes/packets`, `event.start/end/duration` |
//! | `dns` | `dns.id`, `dns.type`, `dns.question.*`, `dns.answers`, `dns.header_flags`, `dns.response_code`, `dns.resolved_ip` |
//! | `tls`, `quic` | `tls.client.server_name`, `tls.client.ja3`, `tls.server.ja3s`, `tls.version(_protocol)`, `tls.server.x509.*`, `tls.server.hash.sha1` |
//! | `http` | `http.request.method`, `http.version`, `url.domain/port/original`, `user_agent.original` |
//! | `alert` | `event.kind: alert`, `rule.*`, `event.severity`, `message`, `threat.enrichments` (one per piece of evidence) |
//! | `stats` | `event.kind: metric`, counters under `phonehome.stats` |

use crate::base::time::{epoch_secs, rfc3339};
use serde_json::{json, Map, Value};

/// The ECS version the documents follow (every field used exists, with the
/// same type, in ECS 8.x and 9.x).
pub const ECS_VERSION: &str = "8.11.0";

/// Sets `path` (dot-separated) in `doc`, creating objects on the way.
fn set(doc: &mut Map<String, Value>, path: &str, v: Value) {
    let mut cur = doc;
    let mut parts = path.split('.').peekable();
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(p.to_string(), v);
            return;
        }
        let slot = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(m) = slot else { return };
        cur = m;
    }
}

fn s<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str)
}

fn n(v: &Value, path: &str) -> Option<u64> {
    v.pointer(path).and_then(Value::as_u64)
}

fn set_str(doc: &mut Map<String, Value>, path: &str, v: Option<&str>) {
    if let Some(x) = v.filter(|x| !x.is_empty()) {
        set(doc, path, Value::String(x.to_string()));
    }
}

fn set_num(doc: &mut Map<String, Value>, path: &str, v: Option<u64>) {
    if let Some(x) = v {
        set(doc, path, json!(x));
    }
}

/// Nanoseconds since the epoch of an EVE timestamp.
fn ns(ts: &str) -> Option<i64> {
    epoch_secs(ts).map(|s| (s * 1e6).round() as i64 * 1000)
}

/// `f9:7f:de` → `F97FDE` (ECS's form for hashes and serial numbers).
fn hex_upper(s: &str) -> String {
    s.chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The ECS document for one EVE event; `seq` becomes `event.sequence`.
pub fn from_eve(e: &Value, seq: u64) -> Value {
    let mut d = Map::new();
    let et = s(e, "/event_type").unwrap_or("");
    if let Some(ts) = s(e, "/timestamp") {
        set(&mut d, "@timestamp", Value::String(rfc3339(ts)));
    }
    set(&mut d, "ecs.version", json!(ECS_VERSION));
    set(&mut d, "event.module", json!("phonehome"));
    set(
        &mut d,
        "event.dataset",
        Value::String(format!("phonehome.{et}")),
    );
    set(&mut d, "event.sequence", json!(seq));
    set(&mut d, "observer.vendor", json!("phonehome"));
    set(&mut d, "observer.product", json!("phonehome"));
    set(&mut d, "observer.type", json!("sensor"));
    set(&mut d, "observer.version", json!(env!("CARGO_PKG_VERSION")));
    network(&mut d, e);
    let mut ph = e
        .get("phonehome")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(dest) = e.pointer("/phonehome/dest") {
        set_str(
            &mut d,
            "destination.geo.country_iso_code",
            s(dest, "/country"),
        );
        set_num(&mut d, "destination.as.number", n(dest, "/asn"));
        set_str(
            &mut d,
            "destination.as.organization.name",
            s(dest, "/as_org"),
        );
    }
    for k in ["flow_id", "pcap_cnt", "pcap_filename"] {
        if let Some(v) = e.get(k) {
            ph.insert(k.to_string(), v.clone());
        }
    }
    let kind = match et {
        "flow" => {
            flow(&mut d, e, &mut ph);
            "event"
        }
        "dns" | "mdns" | "llmnr" => {
            dns(&mut d, e);
            "event"
        }
        "tls" => {
            tls(&mut d, e, &mut ph);
            "event"
        }
        "quic" => {
            quic(&mut d, e, &mut ph);
            "event"
        }
        "http" => {
            http(&mut d, e);
            "event"
        }
        "alert" => {
            alert(&mut d, e);
            "alert"
        }
        "stats" => {
            if let Some(st) = e.get("stats") {
                ph.insert("stats".into(), st.clone());
            }
            "metric"
        }
        _ => "event",
    };
    set(&mut d, "event.kind", json!(kind));
    if !ph.is_empty() {
        d.insert("phonehome".into(), Value::Object(ph));
    }
    Value::Object(d)
}

fn network(d: &mut Map<String, Value>, e: &Value) {
    let Some(src) = s(e, "/src_ip") else { return };
    set(d, "source.ip", json!(src));
    set_num(d, "source.port", n(e, "/src_port"));
    set_str(d, "destination.ip", s(e, "/dest_ip"));
    set_num(d, "destination.port", n(e, "/dest_port"));
    if s(e, "/event_type") == Some("alert") {
        return;
    }
    set(
        d,
        "network.type",
        json!(if src.contains(':') { "ipv6" } else { "ipv4" }),
    );
    if let Some(p) = s(e, "/proto") {
        set(d, "network.transport", json!(p.to_ascii_lowercase()));
    }
    set_str(d, "network.community_id", s(e, "/community_id"));
    if let Some(v) = e.pointer("/vlan/0").and_then(Value::as_u64) {
        set(d, "network.vlan.id", json!(v.to_string()));
    }
    if let Some(ap) = s(e, "/app_proto") {
        set(d, "network.protocol", json!(ap.to_ascii_lowercase()));
    }
    set(d, "event.category", json!(["network"]));
}

fn flow(d: &mut Map<String, Value>, e: &Value, ph: &mut Map<String, Value>) {
    set(d, "event.type", json!(["connection", "end"]));
    let (ps, pc) = (n(e, "/flow/pkts_toserver"), n(e, "/flow/pkts_toclient"));
    let (bs, bc) = (n(e, "/flow/bytes_toserver"), n(e, "/flow/bytes_toclient"));
    set_num(d, "source.packets", ps);
    set_num(d, "source.bytes", bs);
    set_num(d, "destination.packets", pc);
    set_num(d, "destination.bytes", bc);
    set_num(d, "network.packets", ps.zip(pc).map(|(a, b)| a + b));
    set_num(d, "network.bytes", bs.zip(bc).map(|(a, b)| a + b));
    let start = s(e, "/flow/start");
    let end = s(e, "/flow/end");
    if let Some(t) = start {
        set(d, "event.start", json!(rfc3339(t)));
    }
    if let Some(t) = end {
        set(d, "event.end", json!(rfc3339(t)));
    }
    if let (Some(a), Some(b)) = (start.and_then(ns), end.and_then(ns)) {
        set(d, "event.duration", json!(b.saturating_sub(a).max(0)));
    }
    let name = ["sni", "quic_sni", "http_host"].iter().find_map(|k| {
        e.pointer(&format!("/phonehome/names/{k}"))
            .and_then(Value::as_str)
    });
    set_str(d, "destination.domain", name);
    let mut f = Map::new();
    for k in ["state", "reason", "age", "alerted"] {
        if let Some(v) = e.pointer(&format!("/flow/{k}")) {
            f.insert(k.to_string(), v.clone());
        }
    }
    ph.insert("flow".into(), Value::Object(f));
    if let Some(t) = e.get("tcp") {
        ph.insert("tcp".into(), t.clone());
    }
    if let Some(t) = e.get("icmp_type") {
        ph.insert("icmp_type".into(), t.clone());
    }
    if let Some(t) = e.get("icmp_code") {
        ph.insert("icmp_code".into(), t.clone());
    }
}

fn dns(d: &mut Map<String, Value>, e: &Value) {
    set(d, "event.type", json!(["protocol"]));
    set(d, "network.protocol", json!("dns"));
    let Some(x) = e.get("dns") else { return };
    if let Some(id) = n(x, "/id") {
        set(d, "dns.id", json!(id.to_string()));
    }
    match s(x, "/type") {
        Some("request" | "query") => set(d, "dns.type", json!("query")),
        Some("response" | "answer") => set(d, "dns.type", json!("answer")),
        _ => {}
    }
    set_str(d, "dns.question.name", s(x, "/queries/0/rrname"));
    set_str(d, "dns.question.type", s(x, "/queries/0/rrtype"));
    set_str(d, "dns.response_code", s(x, "/rcode"));
    if let Some(op) = n(x, "/opcode") {
        let name = match op {
            0 => "QUERY".to_string(),
            1 => "IQUERY".to_string(),
            2 => "STATUS".to_string(),
            4 => "NOTIFY".to_string(),
            5 => "UPDATE".to_string(),
            o => o.to_string(),
        };
        set(d, "dns.op_code", json!(name));
    }
    let flags: Vec<&str> = [("aa", "AA"), ("tc", "TC"), ("rd", "RD"), ("ra", "RA")]
        .iter()
        .filter(|(k, _)| x.get(*k).and_then(Value::as_bool) == Some(true))
        .map(|(_, f)| *f)
        .collect();
    if !flags.is_empty() {
        set(d, "dns.header_flags", json!(flags));
    }
    let mut answers = Vec::new();
    let mut ips = Vec::new();
    for a in x
        .get("answers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let mut o = Map::new();
        if let Some(v) = s(a, "/rrname") {
            o.insert("name".into(), json!(v));
        }
        let t = s(a, "/rrtype");
        if let Some(v) = t {
            o.insert("type".into(), json!(v));
        }
        if let Some(v) = n(a, "/ttl") {
            o.insert("ttl".into(), json!(v));
        }
        match a.get("rdata") {
            Some(Value::String(r)) => {
                o.insert("data".into(), json!(r));
                if matches!(t, Some("A" | "AAAA")) {
                    ips.push(r.clone());
                }
            }
            Some(other) if !other.is_null() => {
                o.insert("data".into(), json!(other.to_string()));
            }
            _ => {}
        }
        answers.push(Value::Object(o));
    }
    if !answers.is_empty() {
        set(d, "dns.answers", Value::Array(answers));
    }
    if !ips.is_empty() {
        set(d, "dns.resolved_ip", json!(ips));
    }
}

/// "TLS 1.2" → ("tls", "1.2"); "SSLv3" → ("ssl", "3.0").
fn tls_version(v: &str) -> Option<(&'static str, String)> {
    if let Some(n) = v.strip_prefix("TLS ").or_else(|| v.strip_prefix("TLSv")) {
        return Some(("tls", n.to_string()));
    }
    if let Some(n) = v.strip_prefix("SSLv").or_else(|| v.strip_prefix("SSL ")) {
        let n = if n.contains('.') {
            n.to_string()
        } else {
            format!("{n}.0")
        };
        return Some(("ssl", n));
    }
    None
}

/// EVE certificate times (`2026-02-01T00:00:00`, UTC) as RFC 3339.
fn cert_time(t: &str) -> String {
    if t.ends_with('Z') || t.contains('+') {
        t.to_string()
    } else {
        format!("{t}Z")
    }
}

fn tls(d: &mut Map<String, Value>, e: &Value, ph: &mut Map<String, Value>) {
    set(d, "event.type", json!(["protocol"]));
    set(d, "network.protocol", json!("tls"));
    let Some(x) = e.get("tls") else { return };
    set_str(d, "tls.client.server_name", s(x, "/sni"));
    set_str(d, "destination.domain", s(x, "/sni"));
    set_str(d, "tls.client.ja3", s(x, "/ja3/hash"));
    set_str(d, "tls.server.ja3s", s(x, "/ja3s/hash"));
    if let Some((proto, v)) = s(x, "/version").and_then(tls_version) {
        set(d, "tls.version_protocol", json!(proto));
        set(d, "tls.version", json!(v));
    }
    set_str(
        d,
        "tls.server.x509.subject.distinguished_name",
        s(x, "/subject"),
    );
    set_str(
        d,
        "tls.server.x509.issuer.distinguished_name",
        s(x, "/issuerdn"),
    );
    if let Some(t) = s(x, "/notbefore") {
        set(d, "tls.server.x509.not_before", json!(cert_time(t)));
    }
    if let Some(t) = s(x, "/notafter") {
        set(d, "tls.server.x509.not_after", json!(cert_time(t)));
    }
    if let Some(v) = s(x, "/serial") {
        set(d, "tls.server.x509.serial_number", json!(hex_upper(v)));
    }
    if let Some(v) = s(x, "/fingerprint") {
        set(d, "tls.server.hash.sha1", json!(hex_upper(v)));
    }
    if let Some(v) = x.get("subjectaltname").filter(|v| v.is_array()) {
        set(d, "tls.server.x509.alternative_names", v.clone());
    }
    let mut t = Map::new();
    for k in ["ja4", "client_alpns", "server_alpns"] {
        if let Some(v) = x.get(k) {
            t.insert(k.to_string(), v.clone());
        }
    }
    if !t.is_empty() {
        ph.insert("tls".into(), Value::Object(t));
    }
}

fn quic(d: &mut Map<String, Value>, e: &Value, ph: &mut Map<String, Value>) {
    set(d, "event.type", json!(["protocol"]));
    set(d, "network.protocol", json!("quic"));
    let Some(x) = e.get("quic") else { return };
    set_str(d, "tls.client.server_name", s(x, "/sni"));
    set_str(d, "destination.domain", s(x, "/sni"));
    set_str(d, "tls.client.ja3", s(x, "/ja3/hash"));
    let mut q = Map::new();
    for k in ["version", "ja4", "ua"] {
        if let Some(v) = x.get(k) {
            q.insert(k.to_string(), v.clone());
        }
    }
    ph.insert("quic".into(), Value::Object(q));
}

fn http(d: &mut Map<String, Value>, e: &Value) {
    set(d, "event.type", json!(["protocol"]));
    set(d, "network.protocol", json!("http"));
    let Some(x) = e.get("http") else { return };
    set_str(d, "http.request.method", s(x, "/http_method"));
    if let Some(p) = s(x, "/protocol") {
        set(d, "http.version", json!(p.trim_start_matches("HTTP/")));
    }
    set_str(d, "url.domain", s(x, "/hostname"));
    set_str(d, "destination.domain", s(x, "/hostname"));
    set_num(d, "url.port", n(x, "/http_port"));
    set_str(d, "url.original", s(x, "/url"));
    set_str(d, "user_agent.original", s(x, "/http_user_agent"));
    set_num(d, "http.response.status_code", n(x, "/status"));
    set_str(d, "http.request.referrer", s(x, "/http_refer"));
}

/// The ECS field an evidence kind was matched in.
fn matched_field(kind: &str) -> &'static str {
    match kind {
        "tls_sni" | "quic_sni" => "tls.client.server_name",
        "http_host" | "http_connect" => "url.domain",
        "cert_name" => "tls.server.x509.alternative_names",
        "address_range" => "destination.ip",
        _ => "dns.question.name",
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn alert(d: &mut Map<String, Value>, e: &Value) {
    set(
        d,
        "event.category",
        json!(["intrusion_detection", "network"]),
    );
    set(d, "event.type", json!(["info"]));
    if let Some(a) = e.get("alert") {
        if let Some(id) = n(a, "/signature_id") {
            set(d, "rule.id", json!(id.to_string()));
        }
        set_str(d, "rule.name", s(a, "/signature"));
        set_str(d, "rule.category", s(a, "/category"));
        if let Some(r) = n(a, "/rev") {
            set(d, "rule.version", json!(r.to_string()));
        }
        set(d, "rule.ruleset", json!("phonehome"));
        set_num(d, "event.severity", n(a, "/severity"));
    }
    let Some(p) = e.get("phonehome") else { return };
    set_str(d, "message", s(p, "/reason"));
    if let Some(t) = s(p, "/first_seen") {
        set(d, "event.start", json!(rfc3339(t)));
    }
    if let Some(t) = s(p, "/last_seen") {
        set(d, "event.end", json!(rfc3339(t)));
    }
    // The destination the alert names (its dest_ip), else the first one.
    let dests = p
        .get("destinations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let dest_ip = s(e, "/dest_ip");
    let dest = dests
        .iter()
        .find(|x| dest_ip.is_some() && s(x, "/ip") == dest_ip)
        .or_else(|| dests.first());
    if let Some(x) = dest {
        set_str(d, "destination.geo.country_iso_code", s(x, "/country"));
        set_num(d, "destination.as.number", n(x, "/asn"));
        set_str(d, "destination.as.organization.name", s(x, "/as_org"));
        set_str(d, "destination.domain", s(x, "/names/0"));
    }
    let evidence = p
        .get("evidence")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let direct = [
        "tls_sni",
        "quic_sni",
        "http_host",
        "http_connect",
        "cert_name",
    ];
    let cid = evidence
        .iter()
        .find(|x| s(x, "/kind").is_some_and(|k| direct.contains(&k)))
        .or_else(|| evidence.first())
        .and_then(|x| s(x, "/community_id"));
    set_str(d, "network.community_id", cid);
    let confidence = s(p, "/confidence").map(capitalised);
    let mut seen = std::collections::HashSet::new();
    let mut enrich = Vec::new();
    for x in evidence {
        let (Some(kind), Some(value)) = (s(x, "/kind"), s(x, "/value")) else {
            continue;
        };
        if !seen.insert((kind, value)) {
            continue;
        }
        let mut ind = Map::new();
        match value.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                let t = if ip.is_ipv4() {
                    "ipv4-addr"
                } else {
                    "ipv6-addr"
                };
                ind.insert("type".into(), json!(t));
                ind.insert("ip".into(), json!(value));
            }
            Err(_) => {
                ind.insert("type".into(), json!("domain-name"));
                ind.insert("url".into(), json!({ "domain": value }));
            }
        }
        ind.insert("provider".into(), json!("phonehome catalog"));
        if let Some(v) = s(x, "/source") {
            ind.insert("reference".into(), json!(v));
        }
        if let Some(v) = s(x, "/purpose") {
            ind.insert(
                "description".into(),
                json!(format!(
                    "{} {} endpoint ({v}); pattern {}",
                    s(p, "/vendor").unwrap_or(""),
                    s(p, "/product").unwrap_or(""),
                    s(x, "/pattern").unwrap_or("")
                )),
            );
        }
        if let Some(c) = &confidence {
            ind.insert("confidence".into(), json!(c));
        }
        if let Some(t) = s(x, "/timestamp") {
            ind.insert("first_seen".into(), json!(rfc3339(t)));
        }
        let mut m = Map::new();
        m.insert("atomic".into(), json!(value));
        m.insert("field".into(), json!(matched_field(kind)));
        m.insert("type".into(), json!("indicator_match_rule"));
        if let Some(t) = s(x, "/timestamp") {
            m.insert("occurred".into(), json!(rfc3339(t)));
        }
        enrich.push(json!({ "indicator": ind, "matched": m }));
    }
    if !enrich.is_empty() {
        set(d, "threat.enrichments", Value::Array(enrich));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_document() {
        let e: Value = serde_json::from_str(r#"{"timestamp":"2025-03-03T12:00:14.002266+0000","flow_id":86,"pcap_filename":"x.pcap","event_type":"flow","src_ip":"10.1.10.11","src_port":50608,"dest_ip":"20.42.65.90","dest_port":443,"proto":"TCP","app_proto":"tls","community_id":"1:e5v=","vlan":[10],"flow":{"pkts_toserver":14,"pkts_toclient":6,"bytes_toserver":5539,"bytes_toclient":2523,"start":"2025-03-03T12:00:14.002266+0000","end":"2025-03-03T12:00:16.404336+0000","age":2,"state":"closed","reason":"timeout","alerted":false},"phonehome":{"dest":{"country":"US","asn":8075,"as_org":"Microsoft Corporation"},"names":{"sni":"wdcp.microsoft.com"}}}"#).unwrap();
        let d = from_eve(&e, 5);
        assert_eq!(d["@timestamp"], "2025-03-03T12:00:14.002266Z");
        assert_eq!(d["event"]["kind"], "event");
        assert_eq!(d["event"]["sequence"], 5);
        assert_eq!(d["event"]["duration"], 2_402_070_000i64);
        assert_eq!(d["network"]["transport"], "tcp");
        assert_eq!(d["network"]["protocol"], "tls");
        assert_eq!(d["network"]["vlan"]["id"], "10");
        assert_eq!(d["network"]["bytes"], 8062);
        assert_eq!(d["source"]["packets"], 14);
        assert_eq!(d["destination"]["geo"]["country_iso_code"], "US");
        assert_eq!(d["destination"]["as"]["number"], 8075);
        assert_eq!(
            d["destination"]["as"]["organization"]["name"],
            "Microsoft Corporation"
        );
        assert_eq!(d["destination"]["domain"], "wdcp.microsoft.com");
        assert_eq!(d["phonehome"]["flow_id"], 86);
        assert_eq!(d["phonehome"]["flow"]["state"], "closed");
    }

    #[test]
    fn tls_helpers() {
        assert_eq!(tls_version("TLS 1.3"), Some(("tls", "1.3".into())));
        assert_eq!(tls_version("SSLv3"), Some(("ssl", "3.0".into())));
        assert_eq!(tls_version("UNDETERMINED"), None);
        assert_eq!(hex_upper("31:07:4a"), "31074A");
        assert_eq!(cert_time("2026-02-01T00:00:00"), "2026-02-01T00:00:00Z");
    }
}
