//! Size caps on the text fields the dissectors take from the wire.
//!
//! Every field written to EVE from packet bytes has a cap; a field that is
//! cut carries an anomaly flag on its event (`tls.client_hello.sni_truncated`,
//! `http.uri_truncated`, ...), so nothing is cut silently. The caps are far
//! above what real traffic sends and are listed in the README (EVE section).
//! DNS has its own, beside its parser: [`super::dns::MAX_NAME_TEXT`] and
//! [`super::dns::MAX_RDATA_BYTES`].
//!
//! Host names (TLS SNI, HTTP Host, CONNECT target, certificate names) keep
//! their *end*: a DNS name is at most 253 characters, and what the catalog
//! matches is the suffix, so a name padded at the front to hide a vendor's
//! domain still shows it. Other text keeps its start.

/// Host names: the longest a DNS name can be (RFC 1035, presentation form).
pub const MAX_HOST_NAME: usize = 253;
/// HTTP Host header: a host name with brackets and a port.
pub const MAX_HTTP_HOST: usize = MAX_HOST_NAME + 8;
/// HTTP request target (URI). Browsers stop at about 2 KiB for links they emit.
pub const MAX_HTTP_URI: usize = 2048;
/// HTTP User-Agent.
pub const MAX_HTTP_USER_AGENT: usize = 512;
/// HTTP version token (`HTTP/1.1`; anything else is also flagged `bad_version`).
pub const MAX_HTTP_VERSION: usize = 32;
/// Certificate subject and issuer DNs, as rendered.
pub const MAX_DN: usize = 1024;
/// Certificate serial, in bytes (RFC 5280 allows 20).
pub const MAX_SERIAL_BYTES: usize = 64;
/// Entries kept per ClientHello list (cipher suites, groups, signature
/// algorithms, versions, point formats); real hellos send under 100.
pub const MAX_HELLO_LIST: usize = 1024;

/// The last whole labels of `raw` within [`MAX_HOST_NAME`] bytes, and
/// whether it was cut.
pub fn host_tail(raw: &[u8]) -> (&[u8], bool) {
    if raw.len() <= MAX_HOST_NAME {
        return (raw, false);
    }
    let tail = raw.get(raw.len() - MAX_HOST_NAME..).unwrap_or(raw);
    let whole = tail
        .iter()
        .position(|&b| b == b'.')
        .and_then(|i| tail.get(i + 1..))
        .filter(|t| !t.is_empty())
        .unwrap_or(tail);
    (whole, true)
}

/// Cuts `s` to at most `max` bytes, keeping its start (at a character
/// boundary); true if it was cut.
pub fn cut_text(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}

/// Cuts a host name (text) to its last whole labels within `max` bytes;
/// true if it was cut.
pub fn cut_host(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    let tail = s.get(start..).unwrap_or_default();
    let whole = match tail.find('.') {
        Some(i) if i + 1 < tail.len() => tail.get(i + 1..).unwrap_or(tail),
        _ => tail,
    };
    *s = whole.to_owned();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_host_keeps_its_last_whole_labels() {
        let long = format!("{}.ts01-b.cloudsink.net", "a".repeat(65_000));
        let (kept, cut) = host_tail(long.as_bytes());
        assert!(cut);
        assert_eq!(kept, b"ts01-b.cloudsink.net");
        let long = format!("{}.ts01-b.cloudsink.net", "ab.".repeat(200));
        let (kept, cut) = host_tail(long.as_bytes());
        assert!(cut && kept.len() <= MAX_HOST_NAME && kept.ends_with(b".cloudsink.net"));
        assert!(kept.starts_with(b"ab."), "whole labels only");
        assert_eq!(host_tail(b"short.example"), (&b"short.example"[..], false));
        // One label longer than the cap: its end.
        let (kept, cut) = host_tail(&[b'x'; 300]);
        assert!(cut && kept.len() == MAX_HOST_NAME);

        let mut s = format!("{}.example.com", "é".repeat(200));
        assert!(cut_host(&mut s, 20));
        assert_eq!(s, "example.com");
        let mut s = "é".repeat(100);
        assert!(cut_host(&mut s, 11));
        assert_eq!(s, "é".repeat(5));
    }

    #[test]
    fn text_keeps_its_start_on_a_character_boundary() {
        let mut s = "ab€cd".to_string();
        assert!(cut_text(&mut s, 3));
        assert_eq!(s, "ab");
        let mut s = "short".to_string();
        assert!(!cut_text(&mut s, 5));
        assert_eq!(s, "short");
    }
}
