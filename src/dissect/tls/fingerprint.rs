//! Client and server fingerprints: JA3 / JA3S (Salesforce) and JA4 (FoxIO,
//! the BSD-licensed TLS client fingerprint only).
//!
//! Each fingerprint is appended to a byte buffer (for EVE, the line being
//! written) with no temporary strings: numbers through `itoa`, hex through a
//! table, and the lists JA4 hashes are written at the buffer's end, hashed
//! there and replaced by their hash. The `String` functions wrap these.

use super::{ext, is_grease, ClientHello, ServerHello};
use crate::base::json::{hex_pair, push_hex, push_u16};

/// What carried the hello: the first character of JA4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Quic,
    Dtls,
}

impl Transport {
    fn marker(self) -> u8 {
        match self {
            Transport::Tcp => b't',
            Transport::Quic => b'q',
            Transport::Dtls => b'd',
        }
    }
}

/// A JA3 or JA3S fingerprint: the comma-separated string and its MD5.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ja3 {
    pub string: String,
    /// Lowercase hex MD5 of `string`.
    pub hash: String,
}

impl Ja3 {
    fn from_string(string: String) -> Self {
        Ja3 {
            hash: into_string(md5_hex(string.as_bytes()).to_vec()),
            string,
        }
    }
}

/// The fingerprints are ASCII by construction; a lossy conversion never
/// changes them.
fn into_string(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Appends `items` in decimal joined by '-', GREASE removed if asked.
fn dash_list<T: Copy + Into<u16>>(out: &mut Vec<u8>, items: &[T], drop_grease: bool) {
    let mut sep = None;
    for v in items.iter().map(|&v| v.into()) {
        if drop_grease && is_grease(v) {
            continue;
        }
        push_u16(out, v, sep);
        sep = Some(b'-');
    }
}

/// Appends the JA3 string of `ch` (see [`ja3`]); writes nothing and returns
/// false for an SSLv2-format hello.
pub fn push_ja3_string(out: &mut Vec<u8>, ch: &ClientHello) -> bool {
    if ch.sslv2 {
        return false;
    }
    push_u16(out, ch.legacy_version, None);
    out.push(b',');
    dash_list(out, &ch.cipher_suites, true);
    out.push(b',');
    dash_list(out, &ch.extensions, true);
    out.push(b',');
    dash_list(out, &ch.supported_groups, true);
    out.push(b',');
    dash_list(out, &ch.ec_point_formats, false);
    true
}

/// Appends the JA3S string of `sh` (see [`ja3s`]).
pub fn push_ja3s_string(out: &mut Vec<u8>, sh: &ServerHello) {
    push_u16(out, sh.legacy_version, None);
    out.push(b',');
    push_u16(out, sh.cipher, None);
    out.push(b',');
    dash_list(out, &sh.extensions, true);
}

/// Lowercase hex MD5 of `data` (the hash of a JA3 or JA3S string).
pub fn md5_hex(data: &[u8]) -> [u8; 32] {
    let mut hex = [0u8; 32];
    for (pair, &b) in hex.chunks_exact_mut(2).zip(super::memo::md5(data).iter()) {
        pair.copy_from_slice(&hex_pair(b));
    }
    hex
}

/// JA3: `version,ciphers,extensions,groups,point_formats` in decimal, GREASE
/// removed from the three u16 lists. `None` for an SSLv2-format hello, which
/// the JA3 convention (and tshark) does not fingerprint.
pub fn ja3(ch: &ClientHello) -> Option<Ja3> {
    let mut s = Vec::with_capacity(256);
    push_ja3_string(&mut s, ch).then(|| Ja3::from_string(into_string(s)))
}

/// JA3S: `version,cipher,extensions` in decimal (GREASE removed).
pub fn ja3s(sh: &ServerHello) -> Ja3 {
    let mut s = Vec::with_capacity(64);
    push_ja3s_string(&mut s, sh);
    Ja3::from_string(into_string(s))
}

/// JA4 version code: the highest non-GREASE supported_versions entry if that
/// extension is there, else the legacy version.
fn version_code(ch: &ClientHello) -> &'static str {
    // DTLS numbers count down (1.0 = 0xfeff, 1.3 = 0xfefc): "highest" is the
    // newest, so rank them by their complement.
    let rank = |v: u16| {
        if v >> 8 == 0xfe {
            0xfeff - v + 0xfe00
        } else {
            v
        }
    };
    let v = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|&v| !is_grease(v))
        .max_by_key(|&v| rank(v))
        .unwrap_or(ch.legacy_version);
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// First and last characters of the first ALPN value, "00" if there is none
/// or it is empty, a single character doubled.
///
/// A byte outside ASCII prints as '9', as FoxIO's own python and Rust JA4
/// tools do (their published outputs for `tls-non-ascii-alpn.pcapng` read
/// `...99_`); other ASCII characters are kept. The written specification
/// (technical_details/JA4.md) would print hex digits instead; the authors'
/// tools are what other JA4 producers are compared with, so we follow them.
/// `_` prints as '9' too: it is JA4's own separator, and a fingerprint that
/// splits into more than three parts breaks every consumer (found by the
/// `tls_client_hello` fuzz target).
fn alpn_code(ch: &ClientHello) -> [u8; 2] {
    let show = |b: u8| if b.is_ascii() && b != b'_' { b } else { b'9' };
    match ch.alpn.first().map(Vec::as_slice) {
        Some([a, .., z]) => [show(*a), show(*z)],
        Some([a]) => [show(*a), show(*a)],
        _ => [b'0', b'0'],
    }
}

fn count2(n: usize) -> [u8; 2] {
    let n = n.min(99) as u8;
    [b'0' + n / 10, b'0' + n % 10]
}

/// Appends `items` as four hex digits each, comma-separated; each item in
/// one fixed-size copy.
fn hex4_list(out: &mut Vec<u8>, items: impl Iterator<Item = u16>) {
    let mut first = true;
    for v in items {
        let [hi, lo] = v.to_be_bytes();
        let ([a, b], [c, d]) = (hex_pair(hi), hex_pair(lo));
        if first {
            out.extend_from_slice(&[a, b, c, d]);
        } else {
            out.extend_from_slice(&[b',', a, b, c, d]);
        }
        first = false;
    }
}

/// Hands `f` the items, sorted if asked, from a stack buffer when they fit
/// (hellos rarely list more than a few dozen).
fn with_u16s<R>(items: impl Iterator<Item = u16>, sort: bool, f: impl FnOnce(&[u16]) -> R) -> R {
    const STACK: usize = 128;
    let mut stack = [0u16; STACK];
    let mut n = 0;
    let mut heap: Vec<u16> = Vec::new();
    for v in items {
        if let Some(slot) = stack.get_mut(n) {
            *slot = v;
            n += 1;
        } else {
            if heap.is_empty() {
                heap.extend_from_slice(&stack);
            }
            heap.push(v);
        }
    }
    let list: &mut [u16] = if heap.is_empty() {
        stack.get_mut(..n).unwrap_or_default()
    } else {
        &mut heap
    };
    if sort {
        list.sort_unstable();
    }
    f(list)
}

/// Replaces `out[start..]` by the first 12 hex digits of its SHA-256, or by
/// twelve zeros if the list it holds is `empty`.
fn hash12_tail(out: &mut Vec<u8>, start: usize, empty: bool) {
    let digest = (!empty).then(|| super::memo::sha256_48(out.get(start..).unwrap_or_default()));
    out.truncate(start);
    match digest {
        Some(d) => push_hex(out, &d),
        None => out.extend_from_slice(b"000000000000"),
    }
}

/// Appends JA4 (`hashed`) or its raw form, over the sorted lists or, with
/// `original_order`, the lists in wire order with SNI and ALPN kept.
fn push_ja4_variant(
    out: &mut Vec<u8>,
    ch: &ClientHello,
    transport: Transport,
    original_order: bool,
    hashed: bool,
) {
    // An SSLv2-format hello has no TLS cipher or extension lists in the
    // sense of JA4: only its version counts, as FoxIO's reference renders it.
    let (suites, extensions, sig_algs): (&[u16], &[u16], &[u16]) = if ch.sslv2 {
        (&[], &[], &[])
    } else {
        (&ch.cipher_suites, &ch.extensions, &ch.signature_algorithms)
    };
    let sorted = !original_order;
    let ciphers = suites.iter().copied().filter(|&c| !is_grease(c));
    with_u16s(ciphers, sorted, |ciphers| {
        let n_exts = extensions.iter().filter(|&&e| !is_grease(e)).count();
        let exts = extensions.iter().copied().filter(|&e| {
            !is_grease(e) && (original_order || (e != ext::SERVER_NAME && e != ext::ALPN))
        });
        with_u16s(exts, sorted, |exts| {
            out.push(transport.marker());
            out.extend_from_slice(version_code(ch).as_bytes());
            // 'd' when the hello names a server. An SNI extension without a
            // host name counts as none, as FoxIO's tools print it (the
            // written spec keys on the extension alone).
            out.push(if ch.sni.is_some() { b'd' } else { b'i' });
            out.extend_from_slice(&count2(ciphers.len()));
            out.extend_from_slice(&count2(n_exts));
            out.extend_from_slice(&alpn_code(ch));
            out.push(b'_');
            let start = out.len();
            hex4_list(out, ciphers.iter().copied());
            if hashed {
                hash12_tail(out, start, ciphers.is_empty());
            }
            out.push(b'_');
            // Extensions, then `_` and the signature algorithms if there are any.
            let start = out.len();
            hex4_list(out, exts.iter().copied());
            let mut sigs = sig_algs
                .iter()
                .copied()
                .filter(|&s| !is_grease(s))
                .peekable();
            if sigs.peek().is_some() {
                out.push(b'_');
                hex4_list(out, sigs);
            }
            if hashed {
                hash12_tail(out, start, exts.is_empty());
            }
        });
    });
}

/// Appends JA4 (see [`ja4`]), remembered per thread for hellos that agree
/// on everything it depends on ([`ja4_key`]).
pub fn push_ja4(out: &mut Vec<u8>, ch: &ClientHello, transport: Transport) {
    super::memo::ja4(
        out,
        |k| ja4_key(k, ch, transport),
        |out| push_ja4_variant(out, ch, transport, false, true),
    );
}

/// What GREASE values become in a memo key: GREASE itself, so a key still
/// tells which values the fingerprint drops.
const GREASE_MARK: u16 = 0x0a0a;

/// Appends `items` to a memo key: their count, then the items (one copy),
/// GREASE values (some clients draw them afresh for every connection) made
/// one value. The count keeps lists next to each other from being read as
/// other lists.
fn key_list(k: &mut Vec<u16>, items: &[u16]) {
    let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
    k.extend_from_slice(&[n as u16, (n >> 16) as u16]);
    let start = k.len();
    k.extend_from_slice(items);
    for v in k.get_mut(start..).unwrap_or_default() {
        if is_grease(*v) {
            *v = GREASE_MARK;
        }
    }
}

/// Everything the JA3 string of `ch` depends on (see [`push_ja3_string`]),
/// as a memo key.
pub(super) fn ja3_key(k: &mut Vec<u16>, ch: &ClientHello) {
    k.push(ch.legacy_version);
    key_list(k, &ch.cipher_suites);
    key_list(k, &ch.extensions);
    key_list(k, &ch.supported_groups);
    // Not GREASE-filtered, and u8: widened one by one (a handful).
    k.extend(ch.ec_point_formats.iter().map(|&p| u16::from(p)));
}

/// Everything the JA4 of `ch` depends on (see [`push_ja4_variant`]), as a
/// memo key. The extensions are sorted, as JA4 sorts them, so that clients
/// that shuffle their extension order every connection (Chrome since version
/// 110) still find their fingerprint; with SNI and ALPN kept they also give
/// the extension count.
fn ja4_key(k: &mut Vec<u16>, ch: &ClientHello, transport: Transport) {
    let [v1, v2] = *version_code(ch).as_bytes() else {
        return k.push(u16::MAX);
    };
    let [a1, a2] = alpn_code(ch);
    k.extend_from_slice(&[
        u16::from(transport.marker()),
        u16::from_be_bytes([v1, v2]),
        u16::from(ch.sni.is_some()),
        u16::from_be_bytes([a1, a2]),
        u16::from(ch.sslv2),
    ]);
    if ch.sslv2 {
        // Only the version counts (see push_ja4_variant).
        return;
    }
    key_list(k, &ch.cipher_suites);
    let start = k.len() + 2;
    key_list(k, &ch.extensions);
    k.get_mut(start..).unwrap_or_default().sort_unstable();
    key_list(k, &ch.signature_algorithms);
}

fn ja4_string(
    ch: &ClientHello,
    transport: Transport,
    original_order: bool,
    hashed: bool,
) -> String {
    let mut s = Vec::with_capacity(if hashed { 36 } else { 256 });
    push_ja4_variant(&mut s, ch, transport, original_order, hashed);
    into_string(s)
}

/// JA4 (FoxIO): e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub fn ja4(ch: &ClientHello, transport: Transport) -> String {
    ja4_string(ch, transport, false, true)
}

/// JA4_r: JA4 with the sorted lists in clear instead of hashed.
pub fn ja4_r(ch: &ClientHello, transport: Transport) -> String {
    ja4_string(ch, transport, false, false)
}

/// JA4_o: JA4 over the lists in wire order (SNI and ALPN kept).
pub fn ja4_o(ch: &ClientHello, transport: Transport) -> String {
    ja4_string(ch, transport, true, true)
}

/// JA4_ro: the wire-order lists in clear.
pub fn ja4_ro(ch: &ClientHello, transport: Transport) -> String {
    ja4_string(ch, transport, true, false)
}

#[cfg(test)]
mod tests {
    use super::super::hello::build::*;
    use super::super::{parse_client_hello, parse_server_hello};
    use super::*;

    /// The example of FoxIO's JA4 specification (technical_details/JA4.md).
    fn spec_example() -> ClientHello {
        ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
                0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
            ],
            sni: Some("example.com".into()),
            alpn: vec![b"h2".to_vec()],
            supported_versions: vec![0x0304, 0x0303],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            ..ClientHello::default()
        }
    }

    #[test]
    fn ja4_spec_example() {
        let ch = spec_example();
        assert_eq!(
            ja4(&ch, Transport::Tcp),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
        assert_eq!(
            ja4_r(&ch, Transport::Tcp),
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(
            ja4_o(&ch, Transport::Tcp),
            "t13d1516h2_acb858a92679_18f69afefd3d"
        );
        assert_eq!(
            ja4_ro(&ch, Transport::Tcp),
            "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(
            ja4(&ch, Transport::Quic),
            "q13d1516h2_8daaf6152771_e5627efa2ab1"
        );
        // Without signature algorithms the string ends without '_' (spec: 6d807ffa2a79).
        let mut no_sigs = ch.clone();
        no_sigs.signature_algorithms.clear();
        assert_eq!(
            ja4(&no_sigs, Transport::Tcp),
            "t13d1516h2_8daaf6152771_6d807ffa2a79"
        );
    }

    #[test]
    fn grease_everywhere_is_ignored() {
        let mut ch = spec_example();
        let plain = ja4(&ch, Transport::Tcp);
        ch.cipher_suites.insert(0, 0x0a0a);
        ch.cipher_suites.push(0xfafa);
        ch.extensions.insert(0, 0x2a2a);
        ch.extensions.push(0xdada);
        ch.supported_versions.insert(0, 0x7a7a);
        ch.signature_algorithms.insert(2, 0x5a5a);
        assert_eq!(ja4(&ch, Transport::Tcp), plain);
        assert_eq!(
            ja4_o(&ch, Transport::Tcp),
            "t13d1516h2_acb858a92679_18f69afefd3d"
        );
        // Through the parser, and JA3 without GREASE.
        let exts = [
            ext(0x0a0a, &[]),
            ext(10, &vec16(&[0x1a1a, 29, 23], 2)),
            ext(11, &with_len(&[0], 1)),
            ext(43, &vec16(&[0x3a3a, 0x0304], 1)),
            ext(0xfafa, &[0]),
        ]
        .concat();
        let msg = client_hello(0x0303, &[0x4a4a, 0x1301, 0x00ff], Some(&exts));
        let ch = parse_client_hello(&msg).unwrap();
        let j = ja3(&ch).unwrap();
        assert_eq!(j.string, "771,4865-255,10-11-43,29-23,0");
        assert_eq!(j.hash, "f547d6cc4929f0972c19c923a98ac0d5");
        assert_eq!(
            ja4_r(&ch, Transport::Tcp),
            "t13i020300_00ff,1301_000a,000b,002b"
        );
    }

    #[test]
    fn ja3_known_values() {
        // From Suricata's tls13-draft22 test expectations: the string is the
        // input; the hash must be its MD5 as Suricata printed it.
        let s = "771,4865-4867,0-43-13-10-40,23,".to_owned();
        assert_eq!(Ja3::from_string(s).hash, "786468211b4d23f9b725987b0de9d090");
        // A hello with no extensions at all.
        let ch = parse_client_hello(&client_hello(0x0301, &[0x0035, 0x000a], None)).unwrap();
        assert_eq!(ja3(&ch).unwrap().string, "769,53-10,,,");
        // SSLv2 hellos are not JA3-fingerprinted.
        let v2 = ClientHello { sslv2: true, ..ch };
        assert_eq!(ja3(&v2), None);
    }

    #[test]
    fn ja3s_string() {
        let exts = [ext(0xff01, &[0]), ext(11, &with_len(&[0], 1)), ext(35, &[])].concat();
        let sh = parse_server_hello(&server_hello(0x0303, [1; 32], 0xc02f, &exts)).unwrap();
        let j = ja3s(&sh);
        assert_eq!(j.string, "771,49199,65281-11-35");
        assert_eq!(j.hash, "ccc514751b175866924439bdbb5bba34");
    }

    /// JA4 computed the plain way (strings, `format!`), for long lists that
    /// do not fit the writer's stack buffers.
    fn ja4_by_strings(ch: &ClientHello) -> String {
        let hex = |v: &[u16]| {
            v.iter()
                .map(|x| format!("{x:04x}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let hash = |s: &str| {
            let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
            d.as_ref()[..6]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let mut ciphers: Vec<u16> = ch.cipher_suites.clone();
        ciphers.retain(|&c| !is_grease(c));
        ciphers.sort_unstable();
        let mut exts: Vec<u16> = ch.extensions.clone();
        exts.retain(|&e| !is_grease(e) && e != 0 && e != 16);
        exts.sort_unstable();
        let a = format!(
            "t12i{:02}{:02}00",
            ciphers.len().min(99),
            ch.extensions.len().min(99)
        );
        let es = format!("{}_{}", hex(&exts), hex(&ch.signature_algorithms));
        format!("{a}_{}_{}", hash(&hex(&ciphers)), hash(&es))
    }

    #[test]
    fn long_lists_and_appending_to_a_line() {
        // 300 ciphers and 200 extensions in descending order, GREASE among them.
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: (0..300u16)
                .rev()
                .map(|i| i * 3 + 1)
                .chain([0x0a0a])
                .collect(),
            extensions: (0..200u16)
                .rev()
                .map(|i| i * 5 + 17)
                .chain([0xfafa])
                .collect(),
            signature_algorithms: vec![0x0403, 0x0804],
            ..ClientHello::default()
        };
        let j = ja4(&ch, Transport::Tcp);
        assert_eq!(j, ja4_by_strings(&ch));
        assert_eq!(&j[..10], "t12i999900");
        // Written after other bytes, the lists hashed at the buffer's end
        // leave the bytes before them alone.
        let mut line = b"{\"ja4\":\"".to_vec();
        push_ja4(&mut line, &ch, Transport::Tcp);
        assert_eq!(line, format!("{{\"ja4\":\"{j}").into_bytes());
        let mut line = b"x".to_vec();
        assert!(push_ja3_string(&mut line, &ch));
        assert_eq!(line[1..], ja3(&ch).unwrap().string.into_bytes()[..]);
        assert_eq!(&md5_hex(b""), b"d41d8cd98f00b204e9800998ecf8427e");
        // The wire-order variants over the same long lists.
        let r = ja4_ro(&ch, Transport::Tcp);
        assert!(r.starts_with("t12i999900_0382,037f,"), "{}", &r[..40]);
        assert!(
            r.ends_with(",0016,0011_0403,0804"),
            "{}",
            &r[r.len() - 30..]
        );
    }

    fn with_alpn(alpn: &[&[u8]]) -> ClientHello {
        let mut ch = spec_example();
        ch.alpn = alpn.iter().map(|a| a.to_vec()).collect();
        ch
    }

    fn a_part(ch: &ClientHello) -> String {
        ja4(ch, Transport::Tcp)[..10].to_owned()
    }

    #[test]
    fn alpn_codes() {
        assert_eq!(a_part(&with_alpn(&[b"http/1.1", b"h2"])), "t13d1516h1");
        // One character: used as first and last.
        assert_eq!(a_part(&with_alpn(&[b"h"])), "t13d1516hh");
        // Empty first value, or no value: "00".
        assert_eq!(a_part(&with_alpn(&[b"", b"h2"])), "t13d151600");
        assert_eq!(a_part(&with_alpn(&[])), "t13d151600");
        // Bytes outside ASCII print as '9' (FoxIO's tools); ASCII is kept.
        assert_eq!(a_part(&with_alpn(&[&[0xab]])), "t13d151699");
        assert_eq!(a_part(&with_alpn(&[&[0xab, 0xcd]])), "t13d151699");
        assert_eq!(a_part(&with_alpn(&[&[0x30, 0xab]])), "t13d151609");
        assert_eq!(
            a_part(&with_alpn(&[&[0x30, 0xab, 0xcd, 0x31]])),
            "t13d151601"
        );
        assert_eq!(a_part(&with_alpn(&[b"x/"])), "t13d1516x/");
        // JA4's separator never appears in the first part.
        assert_eq!(a_part(&with_alpn(&[b"_"])), "t13d151699");
        assert_eq!(a_part(&with_alpn(&[b"h_"])), "t13d1516h9");
    }

    /// The input the `tls_client_hello` fuzz target crashed on (bench/fuzz.sh,
    /// see docs/fuzzing.md): an SSLv2-style hello whose ALPN value is all `_`.
    #[test]
    fn fuzz_regression_alpn_underscore_keeps_three_parts() {
        let hex =
            "01ee00ee00010000001000ff00001010011001000000003d00000001000000003d00000004000000\
                   00002e000010105f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f\
                   5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f\
                   5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f01100000050400000000069dea93962e\
                   00000005000000ea01003031303100000b0100000000000000000004000080000000000000000000\
                   00000000000000000000000000000000000000000000000000000000000000000000000000000000\
                   00000000000000000000000000000100000000000200000000000000000000000000000000000000\
                   0000000000000000010000000000000000004100000000003a00f0010000ee";
        let hex: String = hex.chars().filter(char::is_ascii_hexdigit).collect();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(bytes.len(), 311);
        let parsed = [
            super::super::parse_client_hello(&bytes),
            super::super::parse_sslv2_client_hello(&bytes),
        ];
        let mut checked = 0;
        for ch in parsed.into_iter().flatten() {
            for t in [Transport::Tcp, Transport::Quic, Transport::Dtls] {
                let a = ja4(&ch, t);
                assert_eq!(a.split('_').count(), 3, "{a}");
                assert_eq!(a.find('_'), Some(10), "{a}");
            }
            checked += 1;
        }
        assert!(checked > 0, "the crash input parses as a hello");
    }

    #[test]
    fn sni_absent_empty_lists_and_caps() {
        let ch = ClientHello {
            legacy_version: 0x0301,
            ..ClientHello::default()
        };
        assert_eq!(
            ja4(&ch, Transport::Tcp),
            "t10i000000_000000000000_000000000000"
        );
        assert_eq!(ja4_r(&ch, Transport::Tcp), "t10i000000__");
        // Only SNI and ALPN: the sorted extension list is empty.
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![0x1301],
            extensions: vec![0, 16],
            sni: Some("example.com".into()),
            alpn: vec![b"h2".to_vec()],
            ..ClientHello::default()
        };
        assert_eq!(
            &ja4(&ch, Transport::Tcp)[..],
            "t12d0102h2_0f2cb44170f4_000000000000"
        );
        // Counts cap at 99.
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: (1..=150).collect(),
            extensions: (100..250).collect(),
            ..ClientHello::default()
        };
        assert_eq!(&ja4(&ch, Transport::Tcp)[..10], "t12i999900");
        // SSLv2-format hello: the version only (FoxIO's reference output for
        // ndpi/google_ssl.pcap, an SSLv2 hello offering TLS 1.0).
        let ch = ClientHello {
            legacy_version: 0x0301,
            cipher_suites: vec![0x0039, 0x0038],
            sslv2: true,
            ..ClientHello::default()
        };
        assert_eq!(
            ja4(&ch, Transport::Tcp),
            "t10i000000_000000000000_000000000000"
        );
        // DTLS versions: 1.3 is the newest even though its number is lowest.
        let ch = ClientHello {
            legacy_version: 0xfefd,
            supported_versions: vec![0xfefc, 0xfefd],
            extensions: vec![43],
            ..ClientHello::default()
        };
        assert_eq!(&ja4(&ch, Transport::Dtls)[..4], "dd3i");
    }
}
