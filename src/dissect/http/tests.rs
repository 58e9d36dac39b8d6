use super::*;
use crate::dissect::dns::tests::validate;
use serde_json::json;

fn done(buf: &[u8]) -> (HttpRequest, usize) {
    match parse_request(buf) {
        Parse::Done { value, consumed } => (value, consumed),
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(buf)),
    }
}

const SIMPLE: &[u8] = b"GET /index.html?q=1 HTTP/1.1\r\nHost: WWW.Example.com:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

#[test]
fn simple_request() {
    let (r, n) = done(SIMPLE);
    assert_eq!(n, SIMPLE.len());
    assert_eq!(r.method, "GET");
    assert_eq!(r.uri, "/index.html?q=1");
    assert_eq!(r.version.as_deref(), Some("HTTP/1.1"));
    assert_eq!(r.host.as_deref(), Some("WWW.Example.com:8080"));
    assert_eq!(r.host_name().as_deref(), Some("www.example.com"));
    assert_eq!(r.host_port(), Some(8080));
    assert_eq!(r.user_agent.as_deref(), Some("curl/8.5.0"));
    assert_eq!(r.header_count, 3);
    assert_eq!(r.uri_host(), None);
    assert_eq!(r.connect_target, None);
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
    let e = to_eve(&r);
    assert_eq!(
        e,
        json!({"hostname": "www.example.com", "http_port": 8080, "url": "/index.html?q=1",
               "http_user_agent": "curl/8.5.0", "http_method": "GET", "protocol": "HTTP/1.1"})
    );
    validate("http", &e);
}

#[test]
fn split_at_every_byte_is_incomplete_until_the_end() {
    for cut in 0..SIMPLE.len() {
        assert_eq!(
            parse_request(&SIMPLE[..cut]),
            Parse::Incomplete,
            "cut {cut}"
        );
    }
    assert!(matches!(parse_request(SIMPLE), Parse::Done { .. }));
}

#[test]
fn pipelined_requests_and_bodies() {
    let mut buf = SIMPLE.to_vec();
    buf.extend_from_slice(
        b"POST /up HTTP/1.1\r\nhost: b.example\r\nContent-Length: 5\r\n\r\nhello",
    );
    buf.extend_from_slice(b"\r\nHEAD / HTTP/1.0\r\n\r\n");
    let (r1, n1) = done(&buf);
    assert_eq!(r1.host.as_deref(), Some("WWW.Example.com:8080"));
    let (r2, n2) = done(&buf[n1..]);
    assert_eq!(r2.method, "POST");
    assert_eq!(r2.host.as_deref(), Some("b.example"));
    assert_eq!(r2.content_length, Some(5));
    let body = r2.content_length.unwrap() as usize;
    assert_eq!(&buf[n1 + n2..n1 + n2 + body], b"hello");
    // A stray CRLF after the body is skipped and flagged.
    let (r3, n3) = done(&buf[n1 + n2 + body..]);
    assert_eq!(r3.method, "HEAD");
    assert_eq!(r3.version.as_deref(), Some("HTTP/1.0"));
    assert!(r3.anomalies.leading_empty_lines);
    assert!(!r3.anomalies.missing_host, "HTTP/1.0 needs no Host");
    assert_eq!(n1 + n2 + body + n3, buf.len());
}

#[test]
fn chunked_flag() {
    let (r, _) = done(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
    assert!(r.chunked);
    assert_eq!(r.content_length, None);
}

#[test]
fn connect_ipv4_name_and_ipv6() {
    let (r, _) = done(b"CONNECT 93.184.216.34:443 HTTP/1.1\r\nHost: 93.184.216.34:443\r\n\r\n");
    assert_eq!(r.connect_target, Some(("93.184.216.34".into(), 443)));
    assert_eq!(r.host_name().as_deref(), Some("93.184.216.34"));
    let (r, _) =
        done(b"CONNECT telemetry.Vendor.example:8443 HTTP/1.1\r\nUser-Agent: agent\r\n\r\n");
    assert_eq!(
        r.connect_target,
        Some(("telemetry.Vendor.example".into(), 8443))
    );
    assert!(r.anomalies.missing_host);
    let (r, _) = done(b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n");
    assert_eq!(r.connect_target, Some(("2001:db8::1".into(), 443)));
    assert_eq!(r.host_name().as_deref(), Some("[2001:db8::1]"));
    assert_eq!(r.host_port(), Some(443));
    let e = to_eve(&r);
    assert_eq!(e["hostname"], json!("[2001:db8::1]"));
    assert_eq!(e["url"], json!("[2001:db8::1]:443"));
    validate("http", &e);
    // No port, or a port out of range: flagged.
    let (r, _) = done(b"CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(r.connect_target, None);
    assert!(r.anomalies.bad_connect_target);
    let (r, _) = done(b"CONNECT example.com:70000 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(r.connect_target, None);
}

#[test]
fn absolute_uri_to_proxy() {
    let (r, _) = done(
        b"GET http://user:pw@Update.Vendor.example.:8080/v1/check?x=1 HTTP/1.1\r\nHost: proxy.local:3128\r\n\r\n",
    );
    assert_eq!(r.uri_host().as_deref(), Some("update.vendor.example"));
    assert_eq!(r.uri_port(), Some(8080));
    assert_eq!(r.host_name().as_deref(), Some("proxy.local"));
    let e = to_eve(&r);
    // The URI's host wins, with its port (as libhtp).
    assert_eq!(e["hostname"], json!("update.vendor.example"));
    assert_eq!(e["http_port"], json!(8080));
    validate("http", &e);
    let (r, _) = done(b"GET HTTPS://[2001:DB8::2]/x HTTP/1.1\r\nHost: p\r\n\r\n");
    assert_eq!(r.uri_host().as_deref(), Some("[2001:db8::2]"));
    assert_eq!(r.uri_port(), None);
    let (r, _) = done(b"GET /not://absolute HTTP/1.1\r\nHost: p\r\n\r\n");
    assert_eq!(r.uri_host(), None);
}

#[test]
fn header_without_space_after_colon_and_odd_spacing() {
    let (r, _) = done(b"GET / HTTP/1.1\r\nhOsT:example.org\r\nUSER-AGENT:\tUA/1 \r\n\r\n");
    assert_eq!(r.host.as_deref(), Some("example.org"));
    assert_eq!(r.user_agent.as_deref(), Some("UA/1"));
    assert!(r.anomalies.is_empty());
    let (r, _) = done(b"GET  /a  HTTP/1.1\r\nHost : x\r\n\r\n");
    assert_eq!(r.uri, "/a");
    assert_eq!(r.host.as_deref(), Some("x"));
    assert!(r.anomalies.space_before_colon && r.anomalies.request_line_whitespace);
}

#[test]
fn no_host() {
    let (r, _) = done(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n");
    assert_eq!(r.host, None);
    assert_eq!(r.host_name(), None);
    assert!(r.anomalies.missing_host);
    let e = to_eve(&r);
    assert_eq!(
        e,
        json!({"url": "/", "http_method": "GET", "protocol": "HTTP/1.1"})
    );
    validate("http", &e);
}

#[test]
fn folded_headers_bare_lf_and_junk_lines() {
    let buf = b"GET / HTTP/1.1\nUser-Agent: Mozilla/5.0\n (Windows NT 10.0)\nHost: h.example\nGarbage line\n\nNEXT";
    let (r, n) = done(buf);
    assert_eq!(
        r.user_agent.as_deref(),
        Some("Mozilla/5.0 (Windows NT 10.0)")
    );
    assert_eq!(r.host.as_deref(), Some("h.example"));
    assert!(r.anomalies.bare_lf && r.anomalies.folded_header && r.anomalies.header_without_colon);
    assert_eq!(n, buf.len() - 4);
}

#[test]
fn duplicate_host_and_bad_port() {
    let (r, _) = done(b"GET / HTTP/1.1\r\nHost: first:99999\r\nHost: second\r\n\r\n");
    assert_eq!(r.host.as_deref(), Some("first:99999"));
    assert_eq!(r.host_name().as_deref(), Some("first"));
    assert_eq!(r.host_port(), None);
    assert!(r.anomalies.duplicate_host && r.anomalies.bad_host_port);
    let e = to_eve(&r);
    assert!(e.get("http_port").is_none());
    validate("http", &e);
}

#[test]
fn content_length_anomalies() {
    let (r, _) = done(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12x\r\n\r\n");
    assert!(r.anomalies.bad_content_length);
    assert_eq!(r.content_length, None);
    let (r, _) =
        done(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n");
    assert!(r.anomalies.bad_content_length);
    assert_eq!(r.content_length, Some(3));
}

#[test]
fn huge_header() {
    let mut buf = b"GET / HTTP/1.1\r\nHost: big.example\r\nCookie: ".to_vec();
    buf.extend(std::iter::repeat_n(b'a', MAX_HEAD));
    // Below the cap with no end yet: incomplete.
    assert_eq!(parse_request(&buf[..MAX_HEAD - 1]), Parse::Incomplete);
    let (r, n) = done(&buf);
    assert!(r.anomalies.oversized);
    assert_eq!(n, MAX_HEAD);
    assert_eq!(r.host.as_deref(), Some("big.example"));

    // An over-long request line: HTTP if the method is known, else not.
    let mut line = b"GET /".to_vec();
    line.extend(std::iter::repeat_n(b'x', MAX_HEAD));
    let (r, n) = done(&line);
    assert!(r.anomalies.oversized);
    assert_eq!(n, MAX_HEAD);
    // The URI read is cut to its cap, and says so.
    assert_eq!(r.uri.len(), crate::dissect::caps::MAX_HTTP_URI);
    assert!(r.anomalies.uri_truncated);
    let mut line = b"FOO /".to_vec();
    line.extend(std::iter::repeat_n(b'x', MAX_HEAD));
    assert_eq!(parse_request(&line), Parse::NotHttp);
}

#[test]
fn missing_uri() {
    let (r, _) = done(b"GET HTTP/1.1\r\n123User-Agent: Wget\r\nHost: bro.org\r\n\r\n");
    assert_eq!(r.uri, "");
    assert_eq!(r.version.as_deref(), Some("HTTP/1.1"));
    assert_eq!(r.host.as_deref(), Some("bro.org"));
    assert_eq!(r.user_agent, None);
    assert_eq!(r.anomalies.names().collect::<Vec<_>>(), vec!["missing_uri"]);
    validate("http", &to_eve(&r));
}

#[test]
fn http09_and_versions() {
    let (r, n) = done(b"GET /old\r\nrest");
    assert!(r.is_http09());
    assert_eq!(r.uri, "/old");
    assert_eq!(n, 10);
    let e = to_eve(&r);
    assert_eq!(e, json!({"url": "/old", "http_method": "GET"}));
    validate("http", &e);
    let (r, _) = done(b"GET / HTTP/1.1x\r\nHost: h\r\n\r\n");
    assert!(r.anomalies.bad_version);
    assert_eq!(r.version.as_deref(), Some("HTTP/1.1x"));
}

#[test]
fn not_http() {
    for buf in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"EHLO mail.example.com\r\n",
        b"POST /x\r\n",
        b"get / HTTP/1.1\r\n\r\n",
        b" GET / HTTP/1.1\r\n\r\n",
        b"GET /a b\r\n",
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n",
    ] {
        assert_eq!(
            parse_request(buf),
            Parse::NotHttp,
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
    assert_eq!(parse_request(b""), Parse::Incomplete);
    assert_eq!(parse_request(b"\r\n"), Parse::Incomplete);
    assert_eq!(parse_request(b"PO"), Parse::Incomplete);
}

#[test]
fn probe() {
    assert!(is_http_request_start(b"GET / HTTP/1.1\r\n"));
    assert!(is_http_request_start(b"M-SEARCH * HTTP/1.1"));
    assert!(is_http_request_start(b"CONNECT "));
    assert!(!is_http_request_start(b"GET"));
    assert!(!is_http_request_start(b"\x16\x03\x01"));
    assert!(!is_http_request_start(b"HTTP/1.1 200 OK"));
    assert!(!is_http_request_start(b" GET /"));
}

#[test]
fn non_utf8_bytes_escaped() {
    let (r, _) =
        done(b"GET /caf\xe9 HTTP/1.1\r\nHost: h\xffst\r\nUser-Agent: \xc3\xa9t\xc3\xa9\r\n\r\n");
    assert_eq!(r.uri, "/caf\\xe9");
    assert_eq!(r.host.as_deref(), Some("h\\xffst"));
    assert_eq!(r.user_agent.as_deref(), Some("\u{e9}t\u{e9}"));
    validate("http", &to_eve(&r));
}

#[test]
fn long_fields_are_capped_and_flagged() {
    use crate::dissect::caps::{MAX_HTTP_URI, MAX_HTTP_USER_AGENT};
    let uri = format!("/{}", "u".repeat(6000));
    let host = format!("{}.update.example.com:8443", "h".repeat(3000));
    let ua = "A".repeat(4000);
    let head = format!("GET {uri} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n\r\n");
    let (r, n) = done(head.as_bytes());
    assert_eq!(n, head.len());
    assert_eq!(r.uri.len(), MAX_HTTP_URI);
    assert_eq!(
        r.user_agent.as_deref().map(str::len),
        Some(MAX_HTTP_USER_AGENT)
    );
    // The host keeps its end (the part a catalog matches) and its port.
    assert_eq!(r.host.as_deref(), Some("update.example.com:8443"));
    assert_eq!(r.host_name().as_deref(), Some("update.example.com"));
    let a = r.anomalies;
    assert!(a.uri_truncated && a.host_truncated && a.user_agent_truncated);
    let names: Vec<_> = a.names().collect();
    assert!(names.contains(&"uri_truncated") && names.contains(&"host_truncated"));
    // A CONNECT target too.
    let head = format!(
        "CONNECT {}.ts01-b.cloudsink.net:443 HTTP/1.1\r\n\r\n",
        "c".repeat(500)
    );
    let (r, _) = done(head.as_bytes());
    assert_eq!(
        r.connect_target,
        Some(("ts01-b.cloudsink.net".to_string(), 443))
    );
    assert!(r.anomalies.host_truncated);
}

#[test]
fn a_request_cut_short_by_the_end_of_the_stream() {
    let r = parse_unfinished_request(b"GET /").unwrap();
    assert_eq!(
        (r.method.as_str(), r.uri.as_str(), r.version),
        ("GET", "/", None)
    );
    let r = parse_unfinished_request(b"GET /a HTTP/1.1\r\nHost: x.example\r\nUser-Ag").unwrap();
    assert_eq!(r.uri, "/a");
    assert_eq!(r.host.as_deref(), Some("x.example"));
    let r = parse_unfinished_request(b"POST /up HTTP/1.1\r\n").unwrap();
    assert_eq!(r.method, "POST");
    // Not a request start, or a whole request (reported already): nothing.
    assert_eq!(parse_unfinished_request(b"GE"), None);
    assert_eq!(parse_unfinished_request(b"\x16\x03\x01"), None);
    assert_eq!(parse_unfinished_request(SIMPLE), None);
}
