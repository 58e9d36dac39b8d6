//! EVE JSON object for the `http` key of a request, as Suricata 8 logs it.

use super::request::HttpRequest;
use crate::base::json::Obj;
#[cfg(test)]
use serde_json::{json, Map, Value};

#[cfg(test)]
/// `hostname`, `http_port`, `url`, `http_user_agent`, `http_method`, `protocol`.
///
/// Like Suricata (libhtp), the host of an absolute-form URI wins over the Host
/// header, and `http_port` is the port written in whichever of the two gave the
/// hostname (never the TCP port).
///
/// [`write_eve`] writes the same object, byte for byte, without building it.
pub fn to_eve(r: &HttpRequest) -> Value {
    let mut o = Map::new();
    let (host, port) = host_port(r);
    if let Some(h) = host {
        o.insert("hostname".into(), json!(h));
    }
    if let Some(p) = port {
        o.insert("http_port".into(), json!(p));
    }
    o.insert("url".into(), json!(r.uri));
    if let Some(ua) = &r.user_agent {
        o.insert("http_user_agent".into(), json!(ua));
    }
    o.insert("http_method".into(), json!(r.method));
    if let Some(v) = &r.version {
        o.insert("protocol".into(), json!(v));
    }
    Value::Object(o)
}

/// The hostname and port to log: an absolute-form URI's, else the Host header's.
fn host_port(r: &HttpRequest) -> (Option<String>, Option<u16>) {
    match r.uri_host() {
        Some(h) => (Some(h), r.uri_port()),
        None => (r.host_name(), r.host_port()),
    }
}

/// Writes the fields of the EVE `http` object into `o`: the same keys and
/// bytes as `to_eve` (the test-only twin) serialized (keys in sorted order, as a
/// `serde_json::Map` keeps them), with no intermediate tree.
pub fn write_eve(o: &mut Obj<'_>, r: &HttpRequest) {
    let (host, port) = host_port(r);
    if let Some(h) = &host {
        o.str("hostname", h);
    }
    o.str("http_method", &r.method);
    if let Some(p) = port {
        o.u64("http_port", u64::from(p));
    }
    if let Some(ua) = &r.user_agent {
        o.str("http_user_agent", ua);
    }
    if let Some(v) = &r.version {
        o.str("protocol", v);
    }
    o.str("url", &r.uri);
}

#[cfg(test)]
mod tests {
    use super::super::{parse_request, Parse};
    use super::*;

    #[test]
    fn writer_gives_the_bytes_of_the_serialized_value() {
        let requests: &[&[u8]] = &[
            b"GET /index.html?q=1 HTTP/1.1\r\nHost: WWW.Example.com:8080\r\nUser-Agent: curl/8.5.0\r\n\r\n",
            b"GET http://Proxy.Example.:3128/x HTTP/1.0\r\nHost: other.example\r\n\r\n",
            b"CONNECT vendor.example:443 HTTP/1.1\r\nHost: vendor.example:443\r\n\r\n",
            b"POST /\"q\\ HTTP/1.1\r\nHost: [2001:db8::1]:80\r\nUser-Agent: a\"b\\c\x7f\xc3\xa9\r\n\r\n",
            b"GET /no-host HTTP/1.1\r\nHost: :99999\r\n\r\n",
            b"GET /\r\n\r\n",
        ];
        for raw in requests {
            let Parse::Done { value: r, .. } = parse_request(raw) else {
                panic!("{:?}", String::from_utf8_lossy(raw));
            };
            let mut buf = Vec::new();
            let mut o = Obj::new(&mut buf);
            write_eve(&mut o, &r);
            o.end();
            let expected = serde_json::to_vec(&to_eve(&r)).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&buf),
                String::from_utf8_lossy(&expected)
            );
        }
        // The first request, in full.
        let Parse::Done { value: r, .. } = parse_request(requests[0]) else {
            panic!()
        };
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        write_eve(&mut o, &r);
        o.end();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            concat!(
                r#"{"hostname":"www.example.com","http_method":"GET","http_port":8080,"#,
                r#""http_user_agent":"curl/8.5.0","protocol":"HTTP/1.1","url":"/index.html?q=1"}"#
            )
        );
    }
}
