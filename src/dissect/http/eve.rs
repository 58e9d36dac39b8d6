//! EVE JSON object for the `http` key of a request, as Suricata 8 logs it.

use super::request::HttpRequest;
use serde_json::{json, Map, Value};

/// `hostname`, `http_port`, `url`, `http_user_agent`, `http_method`, `protocol`.
///
/// Like Suricata (libhtp), the host of an absolute-form URI wins over the Host
/// header, and `http_port` is the port written in whichever of the two gave the
/// hostname (never the TCP port).
pub fn to_eve(r: &HttpRequest) -> Value {
    let mut o = Map::new();
    let (host, port) = match r.uri_host() {
        Some(h) => (Some(h), r.uri_port()),
        None => (r.host_name(), r.host_port()),
    };
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
