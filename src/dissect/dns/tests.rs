//! Message-level and EVE tests with hand-made messages.

use super::*;
use serde_json::{json, Value};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Builds a message: header then the given raw sections.
fn msg(id: u16, flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        v.extend_from_slice(&c.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// Record fixed part after the name: type, class IN, ttl, rdlength.
fn rr(rrtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&rrtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&ttl.to_be_bytes());
    v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    v.extend_from_slice(rdata);
    v
}

const QNAME: &[u8] = b"\x03www\x07example\x03com\x00"; // at offset 12, 17 bytes

/// A question section of one name (labels split at dots), type A, class IN.
fn question(name: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for label in name.split('.') {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.extend_from_slice(&[0, 0, 1, 0, 1]);
    v
}

fn query_a() -> Vec<u8> {
    let mut body = QNAME.to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    msg(0x1234, 0x0100, [1, 0, 0, 0], &body)
}

/// Response: www.example.com CNAME web.example.com (compressed), A, AAAA.
fn response() -> Vec<u8> {
    let mut body = QNAME.to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(5, 300, b"\x03web\xC0\x10"));
    // The CNAME target "web.example.com" starts at 12+17+4+2+10 = 45.
    body.extend_from_slice(b"\xC0\x2D");
    body.extend_from_slice(&rr(1, 60, &[93, 184, 216, 34]));
    body.extend_from_slice(b"\xC0\x2D");
    let v6: Ipv6Addr = "2606:2800:220:1:248:1893:25c8:1946".parse().unwrap();
    body.extend_from_slice(&rr(28, 60, &v6.octets()));
    msg(0x1234, 0x8180, [1, 3, 0, 0], &body)
}

#[test]
fn too_short_is_not_dns() {
    assert_eq!(parse_message(&[0u8; 11]), Err(NotDns::TooShort(11)));
    assert_eq!(parse_message(&[]), Err(NotDns::TooShort(0)));
    // A bare header is DNS with nothing in it.
    let m = parse_message(&[0u8; 12]).unwrap();
    assert!(m.queries.is_empty());
    assert!(m.anomalies.is_empty());
}

#[test]
fn query_header_and_question() {
    let m = parse_message(&query_a()).unwrap();
    assert_eq!(m.id, 0x1234);
    assert!(!m.is_response());
    assert!(m.flags.rd && !m.flags.qr && !m.flags.tc);
    assert_eq!(m.flags.opcode, 0);
    assert_eq!(m.rcode, 0);
    assert_eq!(m.counts, [1, 0, 0, 0]);
    assert_eq!(
        m.queries,
        vec![DnsQuery {
            rrname: "www.example.com".into(),
            rrname_truncated: false,
            rrtype: 1,
            rrclass: 1
        }]
    );
    assert!(m.anomalies.is_empty());
}

#[test]
fn response_with_compression() {
    let m = parse_message(&response()).unwrap();
    assert!(m.is_response());
    assert!(m.flags.ra && m.flags.rd);
    assert_eq!(m.answers.len(), 3);
    assert_eq!(m.answers[0].rrname, "www.example.com");
    assert_eq!(m.answers[0].ttl, 300);
    assert_eq!(m.answers[0].rdata, RData::Cname("web.example.com".into()));
    assert_eq!(m.answers[1].rrname, "web.example.com");
    assert_eq!(
        m.answers[1].rdata,
        RData::A(Ipv4Addr::new(93, 184, 216, 34))
    );
    assert_eq!(
        m.answers[2].rdata,
        RData::Aaaa("2606:2800:220:1:248:1893:25c8:1946".parse().unwrap())
    );
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    let addrs: Vec<_> = m
        .addresses()
        .map(|(n, a)| (n.to_owned(), a.to_string()))
        .collect();
    assert_eq!(
        addrs,
        vec![
            ("web.example.com".into(), "93.184.216.34".into()),
            (
                "web.example.com".into(),
                "2606:2800:220:1:248:1893:25c8:1946".into()
            )
        ]
    );
}

#[test]
fn truncated_in_each_section() {
    let full = response();
    // Cut inside the question name, after the question, inside each answer.
    let q_end = 12 + 17 + 4;
    for cut in [
        14,
        12 + 17,
        q_end,
        q_end + 5,
        q_end + 12 + 2,
        full.len() - 3,
    ] {
        let m = parse_message(&full[..cut]).unwrap();
        assert!(m.anomalies.bad_counts, "cut {cut}");
        if cut == q_end {
            // Ends exactly at a record boundary: counts too big, nothing cut.
            assert!(!m.anomalies.truncated);
            assert_eq!(m.queries.len(), 1);
            assert!(m.answers.is_empty());
        } else {
            assert!(m.anomalies.truncated, "cut {cut}");
        }
    }
    // Cut inside the AAAA rdata: the record is kept with what was there.
    let m = parse_message(&full[..full.len() - 3]).unwrap();
    assert_eq!(m.answers.len(), 3);
    assert_eq!(m.answers[2].rrname, "web.example.com");
    assert_eq!(
        m.answers[2].rdata,
        RData::Malformed(full[full.len() - 16..full.len() - 3].to_vec())
    );
    // Cut inside the question name: nothing usable, but a message.
    let m = parse_message(&full[..14]).unwrap();
    assert!(m.queries.is_empty());
    assert_eq!(m.id, 0x1234);
}

#[test]
fn counts_too_big_keeps_partial_result() {
    let mut body = QNAME.to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    // Announces 2 questions and 5 answers, holds 1 question.
    let m = parse_message(&msg(7, 0x8180, [2, 5, 0, 0], &body)).unwrap();
    assert_eq!(m.queries.len(), 1);
    assert!(m.anomalies.bad_counts);
    assert!(!m.anomalies.truncated);
    assert_eq!(m.anomalies.names().collect::<Vec<_>>(), vec!["bad_counts"]);
}

#[test]
fn trailing_bytes_flagged() {
    let mut v = query_a();
    v.extend_from_slice(b"junk");
    let m = parse_message(&v).unwrap();
    assert!(m.anomalies.trailing_bytes);
    assert_eq!(m.queries[0].rrname, "www.example.com");
}

#[test]
fn txt_with_several_strings_and_empty_one() {
    let mut body = b"\x04test\x00".to_vec();
    body.extend_from_slice(&[0, 16, 0, 1]);
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(16, 10, b"\x05hello\x00\x05world"));
    let m = parse_message(&msg(1, 0x8400, [1, 1, 0, 0], &body)).unwrap();
    assert_eq!(
        m.answers[0].rdata,
        RData::Txt(vec![b"hello".to_vec(), b"".to_vec(), b"world".to_vec()])
    );
    let e = to_eve(&m, DnsFlavor::Dns);
    assert_eq!(
        e["answers"],
        json!([
            {"rrname": "test", "rrtype": "TXT", "ttl": 10, "rdata": "hello"},
            {"rrname": "test", "rrtype": "TXT", "ttl": 10, "rdata": ""},
            {"rrname": "test", "rrtype": "TXT", "ttl": 10, "rdata": "world"},
        ])
    );
    assert_eq!(e["grouped"], json!({"TXT": ["hello", "", "world"]}));
    assert_eq!(e["aa"], json!(true));
}

#[test]
fn txt_string_overrunning_rdata_is_bad_rdata() {
    let mut body = b"\x01t\x00".to_vec();
    body.extend_from_slice(&[0, 16, 0, 1]);
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(16, 10, b"\x09short"));
    let m = parse_message(&msg(1, 0x8000, [1, 1, 0, 0], &body)).unwrap();
    assert!(m.anomalies.bad_rdata);
    assert_eq!(m.answers[0].rdata, RData::Malformed(b"\x09short".to_vec()));
}

#[test]
fn opt_record_and_ecs_option() {
    let mut body = QNAME.to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    // OPT: root name, type 41, class = 4096 payload, ttl = DO bit, one ECS option.
    body.push(0);
    body.extend_from_slice(&41u16.to_be_bytes());
    body.extend_from_slice(&4096u16.to_be_bytes());
    body.extend_from_slice(&0x0000_8000u32.to_be_bytes());
    let opt = b"\x00\x08\x00\x07\x00\x01\x18\x00\xC0\x00\x02";
    body.extend_from_slice(&(opt.len() as u16).to_be_bytes());
    body.extend_from_slice(opt);
    let m = parse_message(&msg(9, 0x0120, [1, 0, 0, 1], &body)).unwrap();
    assert!(m.anomalies.is_empty());
    let r = &m.additionals[0];
    assert_eq!(r.rrname, "");
    assert_eq!(r.rrclass, 4096);
    assert_eq!(r.ttl, 0x8000);
    assert_eq!(
        r.rdata,
        RData::Opt(vec![EdnsOption {
            code: 8,
            data: b"\x00\x01\x18\x00\xC0\x00\x02".to_vec()
        }])
    );
    assert!(m.flags.ad && m.flags.rd);
    let e = to_eve(&m, DnsFlavor::Dns);
    assert_eq!(
        e["additionals"],
        json!([{"rrname": "", "rrtype": "OPT", "ttl": 32768,
                "opt": [{"code": 8, "data": "00011800c00002"}]}])
    );
    // An OPT without options is not logged, as Suricata.
    let mut body = QNAME.to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    body.push(0);
    body.extend_from_slice(&rr(41, 0, b""));
    let m = parse_message(&msg(9, 0x0100, [1, 0, 0, 1], &body)).unwrap();
    assert_eq!(m.additionals[0].rdata, RData::Opt(vec![]));
    assert!(to_eve(&m, DnsFlavor::Dns).get("additionals").is_none());
}

#[test]
fn mx_soa_srv_ns_ptr_https_and_unknown() {
    let mut body = b"\x07example\x03com\x00".to_vec(); // offset 12
    body.extend_from_slice(&[0, 255, 0, 1]);
    // MX 10 mail.example.com
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(15, 1, b"\x00\x0A\x04mail\xC0\x0C"));
    // NS ns1.example.com
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(2, 2, b"\x03ns1\xC0\x0C"));
    // SRV 1 2 443 srv.example.com
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(33, 3, b"\x00\x01\x00\x02\x01\xBB\x03srv\xC0\x0C"));
    // HTTPS 1 . alpn=h2,h3
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(65, 4, b"\x00\x01\x00\x00\x01\x00\x06\x02h2\x02h3"));
    // PTR
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(12, 5, b"\x04host\xC0\x0C"));
    // Unknown type 99 -> SPF in Suricata's table; use CAA (257), not decoded.
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(257, 6, b"\x00\x05issue"));
    // Authority: SOA
    body.extend_from_slice(b"\xC0\x0C");
    let mut soa = b"\x02ns\xC0\x0C\x05admin\xC0\x0C".to_vec();
    for v in [2024010101u32, 7200, 3600, 1209600, 300] {
        soa.extend_from_slice(&v.to_be_bytes());
    }
    body.extend_from_slice(&rr(6, 7, &soa));
    let m = parse_message(&msg(2, 0x8580, [1, 6, 1, 0], &body)).unwrap();
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    let a = &m.answers;
    assert_eq!(
        a[0].rdata,
        RData::Mx {
            preference: 10,
            exchange: "mail.example.com".into()
        }
    );
    assert_eq!(a[1].rdata, RData::Ns("ns1.example.com".into()));
    assert_eq!(
        a[2].rdata,
        RData::Srv(Srv {
            priority: 1,
            weight: 2,
            port: 443,
            target: "srv.example.com".into()
        })
    );
    let RData::Svcb(h) = &a[3].rdata else {
        panic!("{:?}", a[3].rdata)
    };
    assert_eq!((h.priority, h.target.as_str()), (1, ""));
    assert_eq!(h.alpn(), vec!["h2".to_string(), "h3".to_string()]);
    assert_eq!(a[4].rdata.target_name(), Some("host.example.com"));
    assert_eq!(a[5].rdata, RData::Other(b"\x00\x05issue".to_vec()));
    assert_eq!(hex(b"\x00\x05is"), "00056973");
    let RData::Soa(s) = &m.authorities[0].rdata else {
        panic!()
    };
    assert_eq!(
        (s.mname.as_str(), s.rname.as_str()),
        ("ns.example.com", "admin.example.com")
    );
    assert_eq!((s.serial, s.minimum), (2024010101, 300));

    let e = to_eve(&m, DnsFlavor::Dns);
    assert_eq!(
        e["queries"],
        json!([{"rrname": "example.com", "rrtype": "ANY"}])
    );
    assert_eq!(e["answers"][0]["rdata"], json!("mail.example.com"));
    assert_eq!(
        e["answers"][2]["srv"],
        json!({"priority": 1, "weight": 2, "port": 443, "name": "srv.example.com"})
    );
    // HTTPS and unknown types: no rdata, as Suricata.
    assert_eq!(
        e["answers"][3],
        json!({"rrname": "example.com", "rrtype": "HTTPS", "ttl": 4})
    );
    assert_eq!(
        e["answers"][5],
        json!({"rrname": "example.com", "rrtype": "257", "ttl": 6})
    );
    assert_eq!(e["authorities"][0]["soa"]["serial"], json!(2024010101u32));
    assert_eq!(e["grouped"]["MX"], json!(["mail.example.com"]));
    assert_eq!(e["grouped"]["PTR"], json!(["host.example.com"]));
    assert_eq!(e["flags"], json!("8580"));
    assert_eq!(e["rcode"], json!("NOERROR"));
    validate("dns", &e);
}

#[test]
fn rdata_name_overrunning_rdata_is_bad_rdata() {
    let mut body = b"\x01x\x00".to_vec();
    body.extend_from_slice(&[0, 5, 0, 1]);
    body.extend_from_slice(b"\xC0\x0C");
    // rdlength 3 but the name inside is 5 bytes long: it spills into the next field.
    body.extend_from_slice(&5u16.to_be_bytes());
    body.extend_from_slice(&1u16.to_be_bytes());
    body.extend_from_slice(&0u32.to_be_bytes());
    body.extend_from_slice(&3u16.to_be_bytes());
    body.extend_from_slice(b"\x03abc\x00");
    let m = parse_message(&msg(1, 0x8000, [1, 1, 0, 0], &body)).unwrap();
    assert!(m.anomalies.bad_rdata);
    assert_eq!(m.answers[0].rdata, RData::Malformed(b"\x03ab".to_vec()));
    // Parsing went on past the record: the 2 leftover bytes are trailing.
    assert!(m.anomalies.trailing_bytes);
}

#[test]
fn compression_loop_in_question_is_not_fatal() {
    // Question name: label "a" then pointer to itself's pointer (offset 14).
    let mut body = b"\x01a\xC0\x0E".to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    let m = parse_message(&msg(3, 0, [1, 0, 0, 0], &body)).unwrap();
    assert!(m.anomalies.pointer_loop);
    assert_eq!(m.queries[0].rrname, "a");
    assert_eq!(m.queries[0].rrtype, 1);
    assert!(!m.anomalies.bad_counts);
}

#[test]
fn forward_pointer_in_answer() {
    // Answer owner name points forward into its own CNAME rdata.
    let mut body = b"\x01q\x00".to_vec(); // 12..15
    body.extend_from_slice(&[0, 5, 0, 1]); // 15..19
    body.extend_from_slice(b"\xC0\x1D"); // 19..21 -> offset 29 (rdata start)
    body.extend_from_slice(&rr(5, 1, b"\x03fwd\x00")); // fixed 21..31, rdata 31..
    let mut v = msg(3, 0x8000, [1, 1, 0, 0], &body);
    // Point at the rdata: 12 + 19 = 31.
    v[12 + 8] = 31;
    let m = parse_message(&v).unwrap();
    assert_eq!(m.answers[0].rrname, "fwd");
    assert_eq!(m.answers[0].rdata, RData::Cname("fwd".into()));
    assert!(m.anomalies.is_empty());
}

#[test]
fn mixed_case_kept_and_non_ascii_escaped() {
    let mut body = b"\x012\x09SeCURednS\x05aVasT\x03CoM\x00".to_vec();
    body.extend_from_slice(&[0, 16, 0, 1]);
    let m = parse_message(&msg(0x48c4, 0, [1, 0, 0, 0], &body)).unwrap();
    assert_eq!(m.queries[0].rrname, "2.SeCURednS.aVasT.CoM");
    assert_eq!(
        lowercase_name(&m.queries[0].rrname),
        "2.securedns.avast.com"
    );

    let mut body = b"\x03a\xE9b\x00".to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    let m = parse_message(&msg(1, 0, [1, 0, 0, 0], &body)).unwrap();
    assert_eq!(m.queries[0].rrname, "a\\xe9b");
    let e = to_eve(&m, DnsFlavor::Dns);
    assert_eq!(e["queries"][0]["rrname"], json!("a\\xe9b"));
}

#[test]
fn records_over_cap_are_counted() {
    let n = MAX_RECORDS_PER_SECTION + 4;
    let mut body = Vec::new();
    for _ in 0..n {
        body.extend_from_slice(b"\x00\x00\x01\x00\x01");
    }
    let m = parse_message(&msg(1, 0, [n as u16, 0, 0, 0], &body)).unwrap();
    assert_eq!(m.queries.len(), MAX_RECORDS_PER_SECTION);
    assert_eq!(m.anomalies.records_dropped, 4);
    assert!(!m.anomalies.trailing_bytes);
}

#[test]
fn looks_like_dns_is_strict() {
    assert!(looks_like_dns(&query_a()));
    assert!(looks_like_dns(&response()));
    // Avast-style 0x20 TXT query.
    let mut body = b"\x012\x09SeCURednS\x05aVasT\x03CoM\x00".to_vec();
    body.extend_from_slice(&[0, 16, 0, 1]);
    assert!(looks_like_dns(&msg(0x48c4, 0x0100, [1, 0, 0, 0], &body)));
    // Anything odd is rejected: trailing bytes, two questions, answers in a
    // query, odd characters, class CHAOS, opcode 2, too short.
    let mut v = query_a();
    v.push(0);
    assert!(!looks_like_dns(&v));
    let mut body = QNAME.to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    body.extend_from_slice(QNAME);
    body.extend_from_slice(&[0, 1, 0, 1]);
    assert!(!looks_like_dns(&msg(1, 0x0100, [2, 0, 0, 0], &body)));
    let mut body = QNAME.to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    assert!(!looks_like_dns(&msg(1, 0x0100, [1, 1, 0, 0], &body)));
    assert!(!looks_like_dns(&msg(1, 0x1100, [1, 0, 0, 0], &body)));
    let mut body = QNAME.to_vec();
    body.extend_from_slice(&[0, 1, 0, 3]);
    assert!(!looks_like_dns(&msg(1, 0x0100, [1, 0, 0, 0], &body)));
    let mut body = b"\x02\x02\x05\x00".to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    assert!(!looks_like_dns(&msg(1, 0x0100, [1, 0, 0, 0], &body)));
    assert!(!looks_like_dns(&[0u8; 12]));
    assert!(!looks_like_dns(
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x00\x00"
    ));
}

#[test]
fn flavor_from_ports() {
    use DnsFlavor::*;
    assert_eq!(DnsFlavor::from_ports(Transport::Udp, 40000, 53), Some(Dns));
    assert_eq!(DnsFlavor::from_ports(Transport::Tcp, 53, 40000), Some(Dns));
    assert_eq!(
        DnsFlavor::from_ports(Transport::Udp, 5353, 5353),
        Some(Mdns)
    );
    assert_eq!(DnsFlavor::from_ports(Transport::Udp, 5353, 53), Some(Dns));
    assert_eq!(DnsFlavor::from_ports(Transport::Tcp, 5353, 40000), None);
    assert_eq!(
        DnsFlavor::from_ports(Transport::Udp, 51000, 5355),
        Some(Llmnr)
    );
    assert_eq!(
        DnsFlavor::from_ports(Transport::Tcp, 5355, 51000),
        Some(Llmnr)
    );
    assert_eq!(DnsFlavor::from_ports(Transport::Udp, 443, 50000), None);
    assert_eq!(Mdns.event_type(), "mdns");
}

// ---------------------------------------------------------------- EVE

/// The shared Suricata schema; tests fail (never skip) without it.
pub(crate) fn eve_schema() -> Value {
    let dir = std::env::var("PHONEHOME_SHARED")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared").to_string());
    let path = format!("{dir}/reference/suricata-eve-schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Validates `{"timestamp", "event_type": key, key: obj}` against the whole schema.
pub(crate) fn validate(key: &str, obj: &Value) {
    thread_local! {
        static V: jsonschema::Validator = jsonschema::validator_for(&eve_schema()).unwrap();
    }
    let event = json!({
        "timestamp": "2024-01-01T00:00:00.000000+0000",
        "event_type": key,
        key: obj,
    });
    V.with(|v| {
        let errors: Vec<String> = v
            .iter_errors(&event)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{key}: {errors:?}\n{event:#}");
    });
}

#[test]
fn eve_dns_query() {
    let m = parse_message(&query_a()).unwrap();
    let e = to_eve(&m, DnsFlavor::Dns);
    assert_eq!(
        e,
        json!({
            "version": 3, "type": "request", "id": 0x1234, "flags": "100", "rd": true,
            "opcode": 0, "rcode": "NOERROR",
            "queries": [{"rrname": "www.example.com", "rrtype": "A"}]
        })
    );
    validate("dns", &e);
}

#[test]
fn eve_dns_response() {
    let m = parse_message(&response()).unwrap();
    let e = to_eve(&m, DnsFlavor::Dns);
    assert_eq!(
        e,
        json!({
            "version": 3, "type": "response", "id": 0x1234, "flags": "8180",
            "qr": true, "rd": true, "ra": true, "opcode": 0, "rcode": "NOERROR",
            "queries": [{"rrname": "www.example.com", "rrtype": "A"}],
            "answers": [
                {"rrname": "www.example.com", "rrtype": "CNAME", "ttl": 300, "rdata": "web.example.com"},
                {"rrname": "web.example.com", "rrtype": "A", "ttl": 60, "rdata": "93.184.216.34"},
                {"rrname": "web.example.com", "rrtype": "AAAA", "ttl": 60,
                 "rdata": "2606:2800:0220:0001:0248:1893:25c8:1946"}
            ],
            "grouped": {
                "CNAME": ["web.example.com"], "A": ["93.184.216.34"],
                "AAAA": ["2606:2800:0220:0001:0248:1893:25c8:1946"]
            }
        })
    );
    validate("dns", &e);
}

#[test]
fn eve_dns_nxdomain_tc_z_and_truncated_name() {
    // 300 one-byte labels: the name is cut and flagged.
    let mut body = Vec::new();
    for _ in 0..300 {
        body.extend_from_slice(b"\x01x");
    }
    body.push(0);
    body.extend_from_slice(&[0, 1, 0, 1]);
    let m = parse_message(&msg(5, 0x8243, [1, 0, 0, 0], &body)).unwrap();
    assert!(m.anomalies.too_many_labels && m.anomalies.name_too_long);
    let e = to_eve(&m, DnsFlavor::Dns);
    assert_eq!(e["rcode"], json!("NXDOMAIN"));
    assert_eq!(e["tc"], json!(true));
    assert_eq!(e["z"], json!(true));
    assert_eq!(e["queries"][0]["rrname_truncated"], json!(true));
    assert_eq!(
        e["queries"][0]["rrname"].as_str().unwrap().len(),
        255 * 2 - 1
    );
    validate("dns", &e);
}

#[test]
fn eve_mdns() {
    // Response: PTR _http._tcp.local -> My Printer._http._tcp.local, TXT, A in additionals.
    let mut body = b"\x05_http\x04_tcp\x05local\x00".to_vec(); // 12..35
    body.extend_from_slice(&rr(12, 4500, b"\x0aMy Printer\xC0\x0C"));
    body.extend_from_slice(b"\x0aMy Printer\xC0\x0C");
    body.extend_from_slice(&rr(16, 4500, b"\x06path=/\x05ver=1"));
    body.extend_from_slice(b"\x07printer\xC0\x17");
    body.extend_from_slice(&rr(1, 120, &[192, 168, 1, 20]));
    let m = parse_message(&msg(0, 0x8400, [0, 1, 0, 2], &body)).unwrap();
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    assert_eq!(m.additionals[1].rrname, "printer.local");
    let e = to_eve(&m, DnsFlavor::Mdns);
    assert_eq!(
        e,
        json!({
            "type": "response", "id": 0, "flags": ["aa"], "opcode": 0, "rcode": 0,
            "answers": [{"rrname": "_http._tcp.local", "ptr": "My Printer._http._tcp.local"}],
            "additionals": [
                {"rrname": "My Printer._http._tcp.local", "txt": ["path=/", "ver=1"]},
                // The schema has no key for an mDNS address: only the name is kept.
                {"rrname": "printer.local"}
            ]
        })
    );
    validate("mdns", &e);

    let mut body = b"\x05_http\x04_tcp\x05local\x00".to_vec();
    body.extend_from_slice(&[0, 12, 0x80, 1]); // QU bit set
    let m = parse_message(&msg(0, 0, [1, 0, 0, 0], &body)).unwrap();
    assert_eq!(m.queries[0].rrclass, 0x8001);
    let e = to_eve(&m, DnsFlavor::Mdns);
    assert_eq!(
        e,
        json!({"type": "request", "id": 0, "opcode": 0, "rcode": 0,
               "queries": [{"rrname": "_http._tcp.local", "rrtype": "ptr"}]})
    );
    validate("mdns", &e);
}

#[test]
fn eve_llmnr() {
    let mut body = b"\x06wpad01\x00".to_vec();
    body.extend_from_slice(&[0, 28, 0, 1]);
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(
        28,
        30,
        &"fe80::1".parse::<Ipv6Addr>().unwrap().octets(),
    ));
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(64, 30, b"\x00\x01\x00"));
    let m = parse_message(&msg(0xbeef, 0x8400, [1, 1, 0, 1], &body)).unwrap();
    let e = to_eve(&m, DnsFlavor::Llmnr);
    assert_eq!(
        e,
        json!({
            "type": "response", "id": 0xbeef, "flags": ["c"], "opcode": 0,
            "queries": [{"rrname": "wpad01", "rrtype": "aaaa"}],
            "answers": [{"rrname": "wpad01", "aaaa": "fe80:0000:0000:0000:0000:0000:0000:0001"}],
            "additionals": [{"rrname": "wpad01"}]
        })
    );
    validate("llmnr", &e);

    // Undecoded types go under "unknown" as hex.
    let mut body = b"\x01h\x00".to_vec();
    body.extend_from_slice(&[0, 1, 0, 1]);
    body.extend_from_slice(b"\xC0\x0C");
    body.extend_from_slice(&rr(257, 1, b"\x00\x01"));
    let m = parse_message(&msg(1, 0x8000, [1, 1, 0, 0], &body)).unwrap();
    let e = to_eve(&m, DnsFlavor::Llmnr);
    assert_eq!(e["answers"], json!([{"rrname": "h", "unknown": "0001"}]));
    validate("llmnr", &e);
}

/// Every flavor's object validates for messages exercising every rdata kind
/// in every section.
#[test]
fn eve_all_rdata_kinds_all_sections_validate() {
    let mut rdatas: Vec<(u16, Vec<u8>)> = vec![
        (1, vec![10, 0, 0, 1]),
        (28, vec![0; 16]),
        (5, b"\x01c\x00".to_vec()),
        (2, b"\x01n\x00".to_vec()),
        (12, b"\x01p\x00".to_vec()),
        (15, b"\x00\x01\x01m\x00".to_vec()),
        (16, b"\x01t\x01u".to_vec()),
        (16, b"".to_vec()),
        (33, b"\x00\x01\x00\x01\x00\x50\x01s\x00".to_vec()),
        (65, b"\x00\x01\x00".to_vec()),
        (44, b"\x01\x02\xAB\xCD".to_vec()),
        (10, b"nul\x01".to_vec()),
        (99, b"\x03spf".to_vec()),
        (1, vec![1, 2, 3]), // malformed
    ];
    let mut soa = b"\x00\x00".to_vec();
    soa.extend_from_slice(&[0u8; 20]);
    rdatas.push((6, soa));
    let mut opt_rr = Vec::new();
    opt_rr.push(0);
    opt_rr.extend_from_slice(&rr(41, 0, b"\x00\x0A\x00\x02\xAA\xBB"));
    let mut body = b"\x01q\x00\x00\x01\x00\x01".to_vec();
    let n = rdatas.len() as u16;
    for _ in 0..3 {
        for (t, d) in &rdatas {
            body.extend_from_slice(b"\xC0\x0C");
            body.extend_from_slice(&rr(*t, 1, d));
        }
    }
    body.extend_from_slice(&opt_rr);
    let m = parse_message(&msg(1, 0xFFF0, [1, n, n, n + 1], &body)).unwrap();
    assert_eq!(m.answers.len(), rdatas.len());
    assert_eq!(m.additionals.len(), rdatas.len() + 1);
    assert!(m.anomalies.bad_rdata);
    for flavor in [DnsFlavor::Dns, DnsFlavor::Mdns, DnsFlavor::Llmnr] {
        validate(flavor.event_type(), &to_eve(&m, flavor));
    }
    let e = to_eve(&m, DnsFlavor::Dns);
    assert_eq!(e["flags"], json!("fff0"));
    assert_eq!(e["opcode"], json!(15));
    assert_eq!(
        e["grouped"]["SSHFP"],
        json!([{"fingerprint": "ab:cd", "algo": 1, "type": 2}])
    );
    // NULL data is written once, in the detailed answers, not in `grouped`.
    assert!(e["grouped"].get("NULL").is_none());
    let nulls: Vec<_> = e["answers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rrtype"] == "NULL")
        .collect();
    assert_eq!(nulls.len(), 1);
    assert!(nulls.iter().all(|a| a["rdata"] == json!("nul\u{1}")));
}

/// A response of 64 KiB of NULL rdata makes a bounded line, written once, and says it was cut.
#[test]
fn huge_null_rdata_is_capped_and_written_once() {
    let mut body = question("null.example");
    body.extend_from_slice(b"\xC0\x0C");
    let data = vec![0xEEu8; 60_000];
    body.extend_from_slice(&rr(10, 1, &data));
    let m = parse_message(&msg(9, 0x8180, [1, 1, 0, 0], &body)).unwrap();
    assert!(m.anomalies.rdata_truncated);
    assert!(m.anomalies.names().any(|n| n == "rdata_truncated"));
    let line = serde_json::to_string(&to_eve(&m, DnsFlavor::Dns)).unwrap();
    // Each kept byte is written as `\\xee` (5 characters), once.
    assert!(
        line.len() < 5 * MAX_RDATA_BYTES + 1000,
        "{} bytes",
        line.len()
    );
    assert_eq!(line.matches("\\\\xee").count(), MAX_RDATA_BYTES);
    let mut written = Vec::new();
    let mut o = crate::base::json::Obj::new(&mut written);
    write_eve(&mut o, &m, DnsFlavor::Dns);
    o.end();
    assert_eq!(String::from_utf8(written).unwrap(), line);
}

/// Compressed names cost work bounded by the message length, whatever the
/// pointers do: a message of records that each point at a 32-hop chain of
/// long labels is cut at the budget and flagged, and the work stays linear.
#[test]
fn pointer_chains_cost_linear_work() {
    // A chain of 31 nodes, each a 60-byte label then a pointer to the next
    // node, carried as the rdata of a NULL record.
    let mut body = question("q.example");
    body.extend_from_slice(b"\xC0\x0C");
    let chain_at = HEADER_LEN + body.len() + 10;
    let mut chain = Vec::new();
    for i in 0..31usize {
        chain.push(60);
        chain.extend_from_slice(&[b'a' + (i % 26) as u8; 60]);
        let next = chain_at + (i + 1) * 63;
        chain.extend_from_slice(&(0xC000u16 | next as u16).to_be_bytes());
    }
    chain.push(0);
    body.extend_from_slice(&rr(10, 60, &chain));
    // Then 200 A records (below the per-section cap), each named by a
    // pointer to the chain's head: 16 bytes that expand to 1025 characters.
    let head = (0xC000u16 | chain_at as u16).to_be_bytes();
    let n = 200u16;
    for _ in 0..n {
        body.extend_from_slice(&head);
        body.extend_from_slice(&rr(1, 60, &[192, 0, 2, 1]));
    }
    let wire = msg(1, 0x8180, [1, n + 1, 0, 0], &body);
    let (m, steps) = super::message::parse_counting_steps(&wire);
    assert!(m.anomalies.name_budget, "the budget ran out");
    // Work: the message's own bytes once, plus the budget.
    let bound = (NAME_WORK_PER_BYTE + 2) * wire.len() + 4 * MAX_NAME_TEXT;
    assert!(steps <= bound, "{steps} steps for {} bytes", wire.len());
    assert_eq!(m.answers.len(), usize::from(n) + 1);
    // Early records got their whole (text-capped) name; later ones are cut.
    assert_eq!(m.answers[1].rrname.len(), MAX_NAME_TEXT);
    assert!(m.answers[200].rrname_truncated);
    let text: usize = m.answers.iter().map(|r| r.rrname.len()).sum();
    assert!(text <= bound, "{text} characters of names");
    assert!(m.anomalies.names().any(|a| a == "name_budget"));
}

/// The validator is live: keys the schema does not know are rejected, which is
/// why anomaly flags stay off the object.
#[test]
fn schema_rejects_unknown_keys() {
    let v = jsonschema::validator_for(&eve_schema()).unwrap();
    let mut obj = to_eve(&parse_message(&query_a()).unwrap(), DnsFlavor::Dns);
    let ok =
        json!({"timestamp": "2024-01-01T00:00:00.000000+0000", "event_type": "dns", "dns": obj});
    assert!(v.is_valid(&ok));
    obj["anomalies"] = json!(["pointer_loop"]);
    let bad =
        json!({"timestamp": "2024-01-01T00:00:00.000000+0000", "event_type": "dns", "dns": obj});
    assert!(!v.is_valid(&bad));
}
