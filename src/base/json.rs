//! A minimal JSON writer: EVE lines are written field by field into a
//! reused buffer, in a fixed key order, without building a tree first.
//!
//! Strings are escaped exactly as serde_json escapes them (only `"`, `\` and
//! control characters below 0x20), so a writer and a `serde_json::Value`
//! holding the same data give the same bytes.

use super::stack::{dec2, Stack};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Lowercase hex digits of every byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    // Evaluated at compile time: an out-of-bounds index would not compile.
    #[allow(clippy::indexing_slicing)]
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 0x0f]];
        i += 1;
    }
    t
};

/// The two lowercase hex digits of `b`.
#[inline]
pub fn hex_pair(b: u8) -> [u8; 2] {
    HEX_PAIRS
        .get(usize::from(b))
        .copied()
        .unwrap_or([b'0', b'0'])
}

/// Appends `bytes` as lowercase hex, two digits a byte.
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.extend_from_slice(&hex_pair(b));
    }
}

/// Appends `v` in lowercase hex without leading zeros (`format!("{v:x}")`).
pub fn push_hex_u64(out: &mut Vec<u8>, v: u64) {
    let mut digits = [0u8; 16];
    let mut n = v;
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = hex_pair((n & 0x0f) as u8)[1];
        }
        n >>= 4;
        if n == 0 || at == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

/// Appends `v` in decimal. Values below 100,000 (ports, counts, list items)
/// take [`push_dec5`]'s path, larger ones `itoa`'s.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    match u32::try_from(v) {
        Ok(small) if small < 100_000 => push_dec5(out, small, None),
        _ => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
    }
}

/// Appends `v` (a u16: at most five digits) in decimal, after `sep` if given.
#[inline]
pub fn push_u16(out: &mut Vec<u8>, v: u16, sep: Option<u8>) {
    push_dec5(out, u32::from(v), sep);
}

/// Appends `v` (below 100,000) in decimal, after `sep` if given. The digits
/// come two at a time from a table, are put together in a fixed 8-byte
/// array, appended whole, and the unused tail cut off: a constant-size copy
/// instead of a `memcpy` call per number (callgrind, TLS lists: ~88
/// instructions an item through `itoa` and a variable-length copy).
#[inline]
fn push_dec5(out: &mut Vec<u8>, v: u32, sep: Option<u8>) {
    let (digits, n) = if v < 10 {
        ([b'0' + v as u8, 0, 0, 0, 0], 1)
    } else if v < 100 {
        let [a, b] = dec2(v);
        ([a, b, 0, 0, 0], 2)
    } else if v < 10_000 {
        let ([a, b], [c, d]) = (dec2(v / 100), dec2(v));
        if v < 1_000 {
            ([b, c, d, 0, 0], 3)
        } else {
            ([a, b, c, d, 0], 4)
        }
    } else {
        let r = v % 10_000;
        let ([a, b], [c, d]) = (dec2(r / 100), dec2(r));
        ([b'0' + (v / 10_000 % 10) as u8, a, b, c, d], 5)
    };
    let [a, b, c, x, y] = digits;
    let len = out.len();
    match sep {
        Some(s) => {
            out.extend_from_slice(&[s, a, b, c, x, y, 0, 0]);
            out.truncate(len + 1 + n);
        }
        None => {
            out.extend_from_slice(&[a, b, c, x, y, 0, 0, 0]);
            out.truncate(len + n);
        }
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The standard-alphabet base64 character of the low six bits of `v`.
#[inline]
fn b64(v: u32) -> u8 {
    BASE64.get((v & 0x3f) as usize).copied().unwrap_or(b'=')
}

/// Standard base64 (with padding) of a 20-byte digest, as the `base64`
/// crate's `STANDARD` engine writes it: 28 characters, appended in one copy.
pub fn base64_20(d: &[u8; 20]) -> [u8; 28] {
    let mut out = [b'='; 28];
    let mut quads = out.chunks_exact_mut(4);
    for (three, quad) in d.chunks_exact(3).zip(&mut quads) {
        if let ([a, b, c], [w, x, y, z]) = (three, quad) {
            let n = (u32::from(*a) << 16) | (u32::from(*b) << 8) | u32::from(*c);
            (*w, *x, *y, *z) = (b64(n >> 18), b64(n >> 12), b64(n >> 6), b64(n));
        }
    }
    // 20 = 6 * 3 + 2: the last two bytes make three characters and a '='.
    let [.., a, b] = *d;
    let n = (u32::from(a) << 16) | (u32::from(b) << 8);
    let [.., w, x, y, _] = &mut out;
    (*w, *x, *y) = (b64(n >> 18), b64(n >> 12), b64(n >> 6));
    out
}

/// Appends an IPv4 address in dotted decimal (as its `Display`).
pub fn push_ipv4(out: &mut Vec<u8>, a: Ipv4Addr) {
    let mut s = Stack::<15>::default();
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            s.push(b'.');
        }
        if o >= 100 {
            s.push(b'0' + o / 100);
        }
        if o >= 10 {
            s.push(b'0' + o / 10 % 10);
        }
        s.push(b'0' + o % 10);
    }
    out.extend_from_slice(s.as_slice());
}

/// An IPv6 address in full, as Suricata's EVE has it: eight groups of four
/// lowercase hex digits, no `::` compression, no dotted IPv4 tail
/// (`2001:0db8:0000:0000:0000:0000:0000:0001`). Fixed width, so the same
/// address is always the same text to grep for.
pub fn push_ipv6_full(out: &mut Vec<u8>, a: Ipv6Addr) {
    let mut s = Stack::<39>::default();
    for (i, pair) in a.octets().chunks_exact(2).enumerate() {
        if i > 0 {
            s.push(b':');
        }
        for &b in pair {
            s.extend(&hex_pair(b));
        }
    }
    out.extend_from_slice(s.as_slice());
}

/// Bytes a JSON string can hold as they are (serde_json escapes only `"`,
/// `\` and control characters).
#[inline]
fn plain(b: u8) -> bool {
    b >= 0x20 && b != b'"' && b != b'\\'
}

/// Whether every byte is [`plain`] (and ASCII, if asked), eight at a time.
#[inline]
fn all_plain(s: &[u8], ascii: bool) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        // A zero word is flagged, so a failed conversion (none) takes the slow path.
        let x = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        // Per byte, the high bit of `v - 1 & !v` is set for a zero byte, and
        // of `x - 0x20 & !x` for a byte below 0x20 (exact as a yes/no).
        let zero = |v: u64| v.wrapping_sub(LO) & !v;
        let flags = (x.wrapping_sub(LO * 0x20) & !x)
            | zero(x ^ (LO * u64::from(b'"')))
            | zero(x ^ (LO * u64::from(b'\\')))
            | if ascii { x } else { 0 };
        if flags & HI != 0 {
            return false;
        }
    }
    words
        .remainder()
        .iter()
        .all(|&b| plain(b) && (!ascii || b < 0x80))
}

/// Appends `s` as a JSON string, escaped.
#[inline]
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    if all_plain(s.as_bytes(), false) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        push_str_escaped(out, s);
    }
}

/// The rare case, kept out of line: serde_json's own escaping.
#[cold]
#[inline(never)]
fn push_str_escaped(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// Appends a JSON string whose text `f` appends to the buffer: written in
/// place when it needs no escaping (the usual case), else taken back out and
/// escaped. Text that is not UTF-8 is written lossily.
pub fn push_str_with(out: &mut Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) {
    out.push(b'"');
    let start = out.len();
    f(out);
    let clean = out.get(start..).is_some_and(|t| all_plain(t, true));
    if clean {
        out.push(b'"');
        return;
    }
    let text = out.split_off(start);
    out.pop(); // the opening quote
    push_str(out, &String::from_utf8_lossy(&text));
}

/// Writes one JSON object into `out`. Call [`Obj::end`] to close it.
pub struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    /// Goes on with an object that `out` already opened and gave at least
    /// one field (written elsewhere, e.g. by another thread).
    pub fn resume(out: &'a mut Vec<u8>) -> Self {
        Obj { out, first: false }
    }

    // Inlined: keys are literals, so their length is a constant and the
    // copies below become a few moves instead of `memcpy` calls (callgrind:
    // 60 instructions a key out of line, the largest single cost of a head).
    #[inline(always)]
    fn key(&mut self, k: &str) {
        // Keys are the program's own names (field names, record types),
        // never text from the wire: written as they are, in one reservation
        // (callgrind: the escaping check was ~30 % of a key's cost). Debug
        // builds, which run the tests, check that none needs escaping.
        debug_assert!(
            all_plain(k.as_bytes(), true),
            "JSON key {k:?} needs escaping"
        );
        self.out.reserve(k.len() + 4);
        if self.first {
            self.out.push(b'"');
        } else {
            self.out.extend_from_slice(b",\"");
        }
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.first = false;
    }

    /// A string value known to need no escaping (hex, base64, fixed ASCII
    /// names): written as it is.
    #[inline]
    pub fn plain(&mut self, k: &str, v: &[u8]) -> &mut Self {
        debug_assert!(all_plain(v, true));
        self.key(k);
        self.out.reserve(v.len() + 2);
        self.out.push(b'"');
        self.out.extend_from_slice(v);
        self.out.push(b'"');
        self
    }

    #[inline]
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        push_str(self.out, v);
        self
    }

    /// A string whose text `f` appends (see [`push_str_with`]).
    #[inline]
    pub fn str_with(&mut self, k: &str, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.key(k);
        push_str_with(self.out, f);
        self
    }

    #[inline]
    pub fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        push_u64(self.out, v);
        self
    }

    #[inline]
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    #[inline]
    pub fn ts(&mut self, k: &str, ts_ns: u64) -> &mut Self {
        self.key(k);
        self.out.push(b'"');
        super::time::push_eve_ts(self.out, ts_ns);
        self.out.push(b'"');
        self
    }

    /// An address in RFC 5952 text (IPv6 compressed): phonehome's own fields.
    pub fn ip(&mut self, k: &str, ip: IpAddr) -> &mut Self {
        use std::io::Write;
        self.key(k);
        self.out.push(b'"');
        match ip {
            IpAddr::V4(a) => push_ipv4(self.out, a),
            IpAddr::V6(a) => {
                let _ = write!(self.out, "{a}");
            }
        }
        self.out.push(b'"');
        self
    }

    /// An address as Suricata writes it (IPv6 in full): Suricata's own
    /// fields (`src_ip`, `dest_ip`, `tunnel`).
    #[inline]
    pub fn suricata_ip(&mut self, k: &str, ip: IpAddr) -> &mut Self {
        self.key(k);
        self.out.push(b'"');
        match ip {
            IpAddr::V4(a) => push_ipv4(self.out, a),
            IpAddr::V6(a) => push_ipv6_full(self.out, a),
        }
        self.out.push(b'"');
        self
    }

    /// Any serde value (used for dissector objects and nested lists).
    pub fn value<T: serde::Serialize + ?Sized>(&mut self, k: &str, v: &T) -> &mut Self {
        self.key(k);
        if serde_json::to_writer(&mut *self.out, v).is_err() {
            self.out.extend_from_slice(b"null");
        }
        self
    }

    /// A value `f` writes as raw JSON; `f` must append exactly one valid
    /// JSON value.
    #[inline]
    pub fn raw(&mut self, k: &str, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.key(k);
        f(self.out);
        self
    }

    /// A nested object written by `f`.
    #[inline]
    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(k);
        let mut inner = Obj::new(self.out);
        f(&mut inner);
        inner.end();
        self
    }

    /// An array of objects, each written by `f`.
    pub fn key_array<T>(
        &mut self,
        k: &str,
        items: impl Iterator<Item = T>,
        mut f: impl FnMut(&mut Obj<'_>, T),
    ) -> &mut Self {
        self.key(k);
        self.out.push(b'[');
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let mut inner = Obj::new(self.out);
            f(&mut inner, item);
            inner.end();
        }
        self.out.push(b']');
        self
    }

    /// An array written by `f`, even if empty.
    #[inline]
    pub fn arr(&mut self, k: &str, f: impl FnOnce(&mut Arr<'_>)) -> &mut Self {
        self.key(k);
        let mut a = Arr::new(self.out);
        f(&mut a);
        a.end();
        self
    }

    /// An array written by `f`, left out (key and all) if `f` adds no item.
    pub fn arr_nonempty(&mut self, k: &str, f: impl FnOnce(&mut Arr<'_>)) -> &mut Self {
        let mark = self.out.len();
        let was_first = self.first;
        self.key(k);
        let mut a = Arr::new(self.out);
        f(&mut a);
        if a.first {
            self.out.truncate(mark);
            self.first = was_first;
        } else {
            a.end();
        }
        self
    }

    /// An array of strings.
    pub fn str_list<'s>(&mut self, k: &str, items: impl IntoIterator<Item = &'s str>) -> &mut Self {
        self.arr(k, |a| {
            for s in items {
                a.str(s);
            }
        })
    }

    /// An array of numbers.
    pub fn u64_list(&mut self, k: &str, items: impl IntoIterator<Item = u64>) -> &mut Self {
        self.arr(k, |a| {
            for v in items {
                a.u64(v);
            }
        })
    }

    /// An array of u16 numbers (TLS code points), written without per-item
    /// calls.
    pub fn u16_list(&mut self, k: &str, items: &[u16]) -> &mut Self {
        self.key(k);
        self.out.reserve(items.len() * 6 + 2);
        self.out.push(b'[');
        let mut sep = None;
        for &v in items {
            push_u16(self.out, v, sep);
            sep = Some(b',');
        }
        self.out.push(b']');
        self
    }

    pub fn end(self) {
        self.out.push(b'}');
    }
}

/// Writes one JSON array into its buffer; closed by the [`Obj`] method that
/// opened it.
pub struct Arr<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Arr<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'[');
        Arr { out, first: true }
    }

    fn item(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    pub fn str(&mut self, v: &str) -> &mut Self {
        self.item();
        push_str(self.out, v);
        self
    }

    /// A string whose text `f` appends (see [`push_str_with`]).
    pub fn str_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.item();
        push_str_with(self.out, f);
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.item();
        push_u64(self.out, v);
        self
    }

    /// An item `f` writes as raw JSON; `f` must append exactly one valid
    /// JSON value.
    pub fn raw(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.item();
        f(self.out);
        self
    }

    /// A nested object written by `f`.
    pub fn obj(&mut self, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.item();
        let mut inner = Obj::new(self.out);
        f(&mut inner);
        inner.end();
        self
    }

    fn end(self) {
        self.out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_and_in_full() {
        for a in [
            "0.0.0.0",
            "255.255.255.255",
            "10.1.18.189",
            "104.42.9.150",
            "1.20.100.7",
        ] {
            let ip: Ipv4Addr = a.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
            let mut out = b"x".to_vec();
            push_ipv4(&mut out, ip);
            assert_eq!(out, format!("x{ip}").into_bytes());
        }
        let mut out = Vec::new();
        push_ipv6_full(
            &mut out,
            "2001:db8::ff:1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
        );
        assert_eq!(out, b"2001:0db8:0000:0000:0000:0000:00ff:0001");
        out.clear();
        push_ipv6_full(
            &mut out,
            "::ffff:10.0.0.1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
        );
        assert_eq!(out, b"0000:0000:0000:0000:0000:ffff:0a00:0001");
    }

    #[test]
    fn plain_values_and_keys() {
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.plain("f", b"1b").str("k", "v\"").u64("n", 7);
        o.end();
        assert_eq!(buf, br#"{"f":"1b","k":"v\"","n":7}"#);
    }

    #[test]
    fn writes_nested_objects_with_escaping() {
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.str("a", "x\"y\n")
            .u64("n", 42)
            .bool("b", false)
            .obj("in", |i| {
                i.ip("ip", "::1".parse().unwrap());
            });
        o.end();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["a"], "x\"y\n");
        assert_eq!(v["n"], 42);
        assert_eq!(v["b"], false);
        assert_eq!(v["in"]["ip"], "::1");
    }

    #[test]
    fn ipv6_is_written_in_full_and_reads_back() {
        for (ip, full) in [
            ("2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001"),
            ("::", "0000:0000:0000:0000:0000:0000:0000:0000"),
            (
                "fe80::a:bcde:f012",
                "fe80:0000:0000:0000:0000:000a:bcde:f012",
            ),
            (
                "::ffff:192.0.2.1",
                "0000:0000:0000:0000:0000:ffff:c000:0201",
            ),
            (
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
        ] {
            let a: Ipv6Addr = ip.parse().unwrap();
            let mut buf = Vec::new();
            push_ipv6_full(&mut buf, a);
            assert_eq!(String::from_utf8_lossy(&buf), full);
            assert_eq!(full.parse::<Ipv6Addr>().unwrap(), a);
        }
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.suricata_ip("v4", "192.0.2.1".parse().unwrap())
            .suricata_ip("v6", "2001:db8::1".parse().unwrap())
            .ip("short", "2001:db8::1".parse().unwrap());
        o.end();
        assert_eq!(
            String::from_utf8_lossy(&buf),
            r#"{"v4":"192.0.2.1","v6":"2001:0db8:0000:0000:0000:0000:0000:0001","short":"2001:db8::1"}"#
        );
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        let mut all = String::new();
        for c in (0u32..0x300).filter_map(char::from_u32) {
            all.push(c);
        }
        for s in [
            "",
            "plain.example",
            "\u{7f}del",
            "bücher.de",
            "tab\there",
            "quote\"back\\slash",
            "\u{0}\u{1f}\u{8}\u{c}\r\n",
            "\u{2028}\u{2029}\u{feff}😀",
            &all,
        ] {
            let mut buf = Vec::new();
            push_str(&mut buf, s);
            assert_eq!(buf, serde_json::to_vec(s).unwrap(), "{s:?}");
            let mut buf = Vec::new();
            push_str_with(&mut buf, |o| o.extend_from_slice(s.as_bytes()));
            assert_eq!(buf, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        // Bytes that are not UTF-8 are written lossily, never as invalid JSON.
        let mut buf = Vec::new();
        push_str_with(&mut buf, |o| o.extend_from_slice(b"a\xffb\""));
        assert_eq!(buf, b"\"a\xef\xbf\xbdb\\\"\"");
    }

    #[test]
    fn word_at_a_time_scan_matches_byte_scan() {
        let slow = |s: &[u8], ascii: bool| s.iter().all(|&b| plain(b) && (!ascii || b < 0x80));
        // Every byte value at every place of a word, among plain neighbours
        // of both kinds (a borrow from a flagged byte must not hide another).
        for len in [1usize, 7, 8, 9, 16, 17] {
            for at in 0..len {
                for b in 0..=255u8 {
                    for fill in [b'a', 0xc3, 0x20, 0x7f] {
                        let mut s = vec![fill; len];
                        s[at] = b;
                        for ascii in [false, true] {
                            assert_eq!(all_plain(&s, ascii), slow(&s, ascii), "{s:?} {ascii}");
                        }
                    }
                }
            }
        }
        assert!(all_plain(b"", true));
    }

    #[test]
    fn numbers_hex_and_addresses() {
        for v in [0u64, 1, 9, 10, 15, 16, 255, 0x8180, 0xdead_beef, u64::MAX] {
            let mut buf = Vec::new();
            push_hex_u64(&mut buf, v);
            assert_eq!(buf, format!("{v:x}").into_bytes());
            let mut buf = Vec::new();
            push_u64(&mut buf, v);
            assert_eq!(buf, v.to_string().into_bytes());
        }
        let mut buf = Vec::new();
        push_hex(&mut buf, &[0x00, 0x0f, 0xa5, 0xff]);
        assert_eq!(buf, b"000fa5ff");
        for ip in ["0.0.0.0", "10.1.20.255", "255.255.255.255"] {
            let mut buf = Vec::new();
            push_ipv4(&mut buf, ip.parse().unwrap());
            assert_eq!(buf, ip.as_bytes());
        }
    }

    #[test]
    fn small_decimals_with_separators() {
        for v in [
            0u16,
            1,
            9,
            10,
            99,
            100,
            999,
            1000,
            9999,
            10000,
            49199,
            u16::MAX,
        ] {
            for sep in [None, Some(b'-'), Some(b',')] {
                let mut buf = b"ab".to_vec();
                push_u16(&mut buf, v, sep);
                let want = match sep {
                    Some(c) => format!("ab{}{v}", char::from(c)),
                    None => format!("ab{v}"),
                };
                assert_eq!(String::from_utf8(buf).unwrap(), want);
            }
        }
        for v in [99_999u64, 100_000, 4_294_967_295, 4_294_967_296] {
            let mut buf = Vec::new();
            push_u64(&mut buf, v);
            assert_eq!(buf, v.to_string().into_bytes());
        }
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.u16_list("l", &[4866, 0, 65535]).u16_list("e", &[]);
        o.end();
        assert_eq!(buf, br#"{"l":[4866,0,65535],"e":[]}"#);
    }

    #[test]
    fn base64_of_digests_matches_the_base64_crate() {
        use base64::Engine as _;
        let mut d = [0u8; 20];
        for seed in 0..=255u8 {
            for (i, b) in d.iter_mut().enumerate() {
                *b = seed
                    .wrapping_mul(31)
                    .wrapping_add((i as u8).wrapping_mul(17))
                    ^ (i as u8);
            }
            let want = base64::engine::general_purpose::STANDARD.encode(d);
            assert_eq!(String::from_utf8(base64_20(&d).to_vec()).unwrap(), want);
        }
        for d in [[0u8; 20], [0xff; 20]] {
            let want = base64::engine::general_purpose::STANDARD.encode(d);
            assert_eq!(base64_20(&d).to_vec(), want.into_bytes());
        }
    }

    #[test]
    fn arrays_and_omitted_empty_arrays() {
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.arr_nonempty("none", |_| {})
            .str_list("s", ["a", "b\"c"])
            .arr_nonempty("skipped", |_| {})
            .u64_list("n", [1, 22])
            .arr("empty", |_| {})
            .arr_nonempty("objs", |a| {
                a.obj(|i| {
                    i.u64("x", 1);
                })
                .str_with(|t| t.extend_from_slice(b"q"));
            })
            .arr_nonempty("last", |_| {});
        o.end();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#"{"s":["a","b\"c"],"n":[1,22],"empty":[],"objs":[{"x":1},"q"]}"#
        );
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        o.arr_nonempty("only", |_| {});
        o.end();
        assert_eq!(buf, b"{}");
    }
}
