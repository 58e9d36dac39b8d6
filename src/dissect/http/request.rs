//! HTTP/1.x request heads: request line and the headers that name a destination.

use crate::dissect::caps::{
    cut_host, cut_text, MAX_HOST_NAME, MAX_HTTP_HOST, MAX_HTTP_URI, MAX_HTTP_USER_AGENT,
    MAX_HTTP_VERSION,
};
use crate::dissect::dns::slice_to_text;

/// Most bytes of request line + headers examined. Browsers and servers cap
/// the head at 8-16 KiB; beyond this the head is reported as oversized.
pub const MAX_HEAD: usize = 16 * 1024;
/// Longest method token accepted (the longest registered method is 17 bytes).
pub const MAX_METHOD: usize = 24;

/// Outcome of parsing the start of a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parse<T> {
    /// A request head; `consumed` bytes of the buffer belong to it (the body,
    /// if any, starts there: see [`HttpRequest::content_length`]).
    Done { value: T, consumed: usize },
    /// Could be a request; more bytes needed.
    Incomplete,
    /// Not an HTTP request.
    NotHttp,
}

/// What was odd about a request head; none of these stops parsing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpAnomalies {
    /// No end of the head within [`MAX_HEAD`]: fields are from what was read,
    /// and `consumed` covers [`MAX_HEAD`] bytes (stop parsing this stream).
    pub oversized: bool,
    /// Lines ended by LF alone.
    pub bare_lf: bool,
    /// Empty lines before the request line.
    pub leading_empty_lines: bool,
    /// More than one space (or tabs) between request-line parts.
    pub request_line_whitespace: bool,
    /// A version that is not `HTTP/<digit>.<digit>`.
    pub bad_version: bool,
    /// No request target between method and version (`GET HTTP/1.1`).
    pub missing_uri: bool,
    /// Obsolete line folding (a header line starting with whitespace).
    pub folded_header: bool,
    /// A header line without a colon (ignored).
    pub header_without_colon: bool,
    /// Whitespace between a header name and its colon.
    pub space_before_colon: bool,
    /// HTTP/1.1 without a Host header.
    pub missing_host: bool,
    /// Several Host headers (the first is kept).
    pub duplicate_host: bool,
    /// A Host header whose port is not a number 0-65535.
    pub bad_host_port: bool,
    /// CONNECT whose target is not `host:port`.
    pub bad_connect_target: bool,
    /// Content-Length not a number, or repeated with different values.
    pub bad_content_length: bool,
    /// The request target was cut at [`MAX_HTTP_URI`] bytes.
    pub uri_truncated: bool,
    /// The Host header (or CONNECT target) was longer than a host name can
    /// be: its last whole labels are kept.
    pub host_truncated: bool,
    /// The User-Agent was cut at [`MAX_HTTP_USER_AGENT`] bytes.
    pub user_agent_truncated: bool,
    /// The version token was cut at [`MAX_HTTP_VERSION`] bytes.
    pub version_truncated: bool,
}

impl HttpAnomalies {
    pub fn is_empty(&self) -> bool {
        *self == HttpAnomalies::default()
    }

    /// Names of the flags that are set, for logging.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.oversized, "oversized"),
            (self.bare_lf, "bare_lf"),
            (self.leading_empty_lines, "leading_empty_lines"),
            (self.request_line_whitespace, "request_line_whitespace"),
            (self.bad_version, "bad_version"),
            (self.missing_uri, "missing_uri"),
            (self.folded_header, "folded_header"),
            (self.header_without_colon, "header_without_colon"),
            (self.space_before_colon, "space_before_colon"),
            (self.missing_host, "missing_host"),
            (self.duplicate_host, "duplicate_host"),
            (self.bad_host_port, "bad_host_port"),
            (self.bad_connect_target, "bad_connect_target"),
            (self.bad_content_length, "bad_content_length"),
            (self.uri_truncated, "uri_truncated"),
            (self.host_truncated, "host_truncated"),
            (self.user_agent_truncated, "user_agent_truncated"),
            (self.version_truncated, "version_truncated"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
    }
}

/// A parsed request head. Text fields are as on the wire (bytes that are not
/// UTF-8 become `\xNN`, as Suricata prints them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub uri: String,
    /// `HTTP/1.1` etc. as sent; `None` for an HTTP/0.9 request.
    pub version: Option<String>,
    /// The Host header value, trimmed (port included if sent).
    pub host: Option<String>,
    pub user_agent: Option<String>,
    /// CONNECT: the target host (IPv6 without brackets) and port.
    pub connect_target: Option<(String, u16)>,
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// Header lines seen (folded continuations not counted).
    pub header_count: usize,
    pub anomalies: HttpAnomalies,
}

impl HttpRequest {
    /// HTTP/0.9: a bare `GET /path` line with no version and no headers.
    pub fn is_http09(&self) -> bool {
        self.version.is_none()
    }

    /// Host header without `:port`, lowercased (IPv6 keeps its brackets, as
    /// Suricata). `None` when absent or empty.
    pub fn host_name(&self) -> Option<String> {
        let (h, _) = split_host_port(self.host.as_deref()?);
        (!h.is_empty()).then(|| h.to_ascii_lowercase())
    }

    /// Port from the Host header, if one is given and valid.
    pub fn host_port(&self) -> Option<u16> {
        split_host_port(self.host.as_deref()?)
            .1
            .and_then(parse_port)
    }

    /// Host of an absolute-form URI (`GET http://host:port/path`, sent to a
    /// proxy), lowercased, trailing dots removed (as Suricata normalises it).
    pub fn uri_host(&self) -> Option<String> {
        let (h, _) = split_host_port(uri_authority(&self.uri)?);
        let h = h.trim_end_matches('.');
        (!h.is_empty()).then(|| h.to_ascii_lowercase())
    }

    /// Port of an absolute-form URI, if given.
    pub fn uri_port(&self) -> Option<u16> {
        split_host_port(uri_authority(&self.uri)?)
            .1
            .and_then(parse_port)
    }
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

/// Splits `host[:port]` / `[v6][:port]`; the port part is returned unparsed.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    let s = s.trim();
    if s.starts_with('[') {
        if let Some(close) = s.find(']') {
            let (h, rest) = s.split_at(close + 1);
            return (h, rest.strip_prefix(':').map(str::trim));
        }
        return (s, None);
    }
    match s.split_once(':') {
        Some((h, p)) => (h.trim_end(), Some(p.trim())),
        None => (s, None),
    }
}

/// The authority of an absolute URI (`scheme://[userinfo@]authority/...`).
fn uri_authority(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = rest.get(..end)?;
    Some(auth.rsplit_once('@').map_or(auth, |(_, a)| a))
}

fn is_method_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b == b'-' || b == b'_'
}

enum Method {
    /// Token length; a space follows it.
    Found(usize),
    NeedMore,
    Bad,
}

fn method_prefix(buf: &[u8]) -> Method {
    for (i, &b) in buf.iter().enumerate() {
        if b == b' ' {
            return if i == 0 {
                Method::Bad
            } else {
                Method::Found(i)
            };
        }
        if i >= MAX_METHOD || !is_method_char(b) {
            return Method::Bad;
        }
    }
    Method::NeedMore
}

/// Quick probe for protocol detection: the buffer starts with an uppercase
/// method token and a space. [`parse_request`] then confirms (it needs the
/// `HTTP/x.y` version, or `GET /` for HTTP/0.9).
pub fn is_http_request_start(buf: &[u8]) -> bool {
    matches!(method_prefix(buf), Method::Found(_))
}

/// Methods trusted enough to call an over-long request line HTTP.
const KNOWN_METHODS: &[&str] = &[
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH", "PROPFIND",
];

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Which header a folded continuation line extends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    None,
    Host,
    UserAgent,
    Other,
}

/// The request head a stream ended in the middle of (the client reset or
/// closed, or the capture stopped): what its bytes say so far, as libhtp
/// completes a request at the end of the stream (`GET /` with nothing after
/// it is a request for `/`). None when the bytes are not a request start.
pub fn parse_unfinished_request(buf: &[u8]) -> Option<HttpRequest> {
    if !matches!(parse_request(buf), Parse::Incomplete) {
        return None;
    }
    let mut ended = Vec::with_capacity(buf.len() + 4);
    ended.extend_from_slice(buf);
    ended.extend_from_slice(b"\r\n\r\n");
    match parse_request(&ended) {
        Parse::Done { value, .. } => Some(value),
        _ => None,
    }
}

/// Parses the request head at the start of `buf`. Text fields are capped
/// (see [`crate::dissect::caps`]) and a cut is flagged.
pub fn parse_request(buf: &[u8]) -> Parse<HttpRequest> {
    match parse_head(buf) {
        Parse::Done {
            mut value,
            consumed,
        } => {
            cap_fields(&mut value);
            Parse::Done { value, consumed }
        }
        other => other,
    }
}

fn cap_fields(req: &mut HttpRequest) {
    let a = &mut req.anomalies;
    a.uri_truncated = cut_text(&mut req.uri, MAX_HTTP_URI);
    if let Some(h) = &mut req.host {
        a.host_truncated |= cut_host(h, MAX_HTTP_HOST);
    }
    if let Some((h, _)) = &mut req.connect_target {
        a.host_truncated |= cut_host(h, MAX_HOST_NAME);
    }
    if let Some(ua) = &mut req.user_agent {
        a.user_agent_truncated = cut_text(ua, MAX_HTTP_USER_AGENT);
    }
    if let Some(v) = &mut req.version {
        a.version_truncated = cut_text(v, MAX_HTTP_VERSION);
    }
}

fn parse_head(buf: &[u8]) -> Parse<HttpRequest> {
    let mut req = HttpRequest::default();
    // Empty lines before a request are tolerated (RFC 9112 §2.2), e.g. a CRLF
    // left after a pipelined body.
    let lead = buf
        .iter()
        .take(MAX_HEAD)
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    if lead >= MAX_HEAD {
        return Parse::NotHttp;
    }
    req.anomalies.leading_empty_lines = lead > 0;
    let b = buf.get(lead..).unwrap_or_default();
    let mlen = match method_prefix(b) {
        Method::Found(n) => n,
        Method::NeedMore => return Parse::Incomplete,
        Method::Bad => return Parse::NotHttp,
    };
    let window = b.get(..MAX_HEAD).unwrap_or(b);
    let full_window = b.len() >= MAX_HEAD;
    req.method = slice_to_text(b.get(..mlen).unwrap_or_default());

    let Some(line_end) = window.iter().position(|&c| c == b'\n') else {
        if !full_window {
            return Parse::Incomplete;
        }
        // A request line longer than the cap: HTTP only if the method is a real one.
        if !KNOWN_METHODS.contains(&req.method.as_str()) {
            return Parse::NotHttp;
        }
        req.uri = slice_to_text(trim_ows(window.get(mlen + 1..).unwrap_or_default()));
        req.anomalies.oversized = true;
        return Parse::Done {
            value: req,
            consumed: lead + window.len(),
        };
    };
    let line = strip_cr(window.get(..line_end).unwrap_or_default(), &mut req);
    let rest = line.get(mlen + 1..).unwrap_or_default();
    if rest.first().is_some_and(|&c| c == b' ' || c == b'\t') {
        req.anomalies.request_line_whitespace = true;
    }
    let rest = trim_ows(rest);
    // The version is the last word, if it looks like one.
    let split = rest.iter().rposition(|&c| c == b' ' || c == b'\t');
    let is_version = |v: &&[u8]| v.get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"HTTP/"));
    let version = match split {
        Some(i) => rest.get(i + 1..).filter(is_version).map(|v| (v, i)),
        // "GET HTTP/1.1": a version and no target (tshark and libhtp accept it).
        None => Some(rest).filter(is_version).map(|v| {
            req.anomalies.missing_uri = true;
            (v, 0)
        }),
    };
    match version {
        Some((v, i)) => {
            let uri = rest.get(..i).unwrap_or_default();
            if uri.last().is_some_and(|&c| c == b' ' || c == b'\t') {
                req.anomalies.request_line_whitespace = true;
            }
            req.uri = slice_to_text(trim_ows(uri));
            if !matches!(v, [b'H', b'T', b'T', b'P', b'/', a, b'.', c] if a.is_ascii_digit() && c.is_ascii_digit())
            {
                req.anomalies.bad_version = true;
            }
            req.version = Some(slice_to_text(v));
        }
        None => {
            // HTTP/0.9: "GET /path" and nothing else, no headers.
            if req.method != "GET" || !rest.starts_with(b"/") || split.is_some() {
                return Parse::NotHttp;
            }
            req.uri = slice_to_text(rest);
            return Parse::Done {
                value: req,
                consumed: lead + line_end + 1,
            };
        }
    }

    let mut pos = line_end + 1;
    let mut last = Last::None;
    let consumed = loop {
        let Some(rel) = window
            .get(pos..)
            .and_then(|w| w.iter().position(|&c| c == b'\n'))
        else {
            if !full_window {
                return Parse::Incomplete;
            }
            req.anomalies.oversized = true;
            break lead + window.len();
        };
        let end = pos + rel;
        let line = strip_cr(window.get(pos..end).unwrap_or_default(), &mut req);
        pos = end + 1;
        if line.is_empty() {
            break lead + pos;
        }
        if let [b' ' | b'\t', ..] = line {
            req.anomalies.folded_header = true;
            let more = slice_to_text(trim_ows(line));
            let target = match last {
                Last::Host => req.host.as_mut(),
                Last::UserAgent => req.user_agent.as_mut(),
                Last::None | Last::Other => None,
            };
            if let Some(v) = target {
                if !more.is_empty() {
                    if !v.is_empty() {
                        v.push(' ');
                    }
                    v.push_str(&more);
                }
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            req.anomalies.header_without_colon = true;
            last = Last::None;
            continue;
        };
        req.header_count += 1;
        let raw_name = line.get(..colon).unwrap_or_default();
        let name = trim_ows(raw_name);
        if name.len() != raw_name.len() {
            req.anomalies.space_before_colon = true;
        }
        let value = trim_ows(line.get(colon + 1..).unwrap_or_default());
        last = Last::Other;
        if name.eq_ignore_ascii_case(b"host") {
            if req.host.is_some() {
                req.anomalies.duplicate_host = true;
            } else {
                req.host = Some(slice_to_text(value));
                last = Last::Host;
            }
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            if req.user_agent.is_none() {
                req.user_agent = Some(slice_to_text(value));
                last = Last::UserAgent;
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = std::str::from_utf8(value)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok());
            match (n, req.content_length) {
                (None, _) => req.anomalies.bad_content_length = true,
                (Some(n), Some(prev)) if n != prev => req.anomalies.bad_content_length = true,
                (Some(n), _) => req.content_length = Some(n),
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let v = value.to_ascii_lowercase();
            if v.windows(7).any(|w| w == b"chunked") {
                req.chunked = true;
            }
        }
    };

    if let Some(h) = &req.host {
        if split_host_port(h)
            .1
            .is_some_and(|p| parse_port(p).is_none())
        {
            req.anomalies.bad_host_port = true;
        }
    }
    if req.host.is_none()
        && req
            .version
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("HTTP/1.1"))
    {
        req.anomalies.missing_host = true;
    }
    if req.method == "CONNECT" {
        req.connect_target = connect_target(&req.uri);
        if req.connect_target.is_none() {
            req.anomalies.bad_connect_target = true;
        }
    }
    Parse::Done {
        value: req,
        consumed,
    }
}

fn strip_cr<'a>(line: &'a [u8], req: &mut HttpRequest) -> &'a [u8] {
    match line {
        [rest @ .., b'\r'] => rest,
        _ => {
            req.anomalies.bare_lf = true;
            line
        }
    }
}

/// Authority-form target of CONNECT: `host:port` or `[v6]:port`.
fn connect_target(uri: &str) -> Option<(String, u16)> {
    let (host, port) = split_host_port(uri);
    let port = parse_port(port?)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (!host.is_empty() && !host.contains(['/', ' '])).then(|| (host.to_owned(), port))
}
