//! ClientHello and ServerHello parsing (RFC 8446 §4.1.2-4.1.4, RFC 5246
//! §7.4.1, SSLv2-compatible CLIENT-HELLO of RFC 5246 appendix E.2).
//!
//! Parsing never stops at the first oddity: fields are read as far as the
//! bytes allow and every inconsistency is a flag in [`HelloAnomalies`]. Only
//! a message of the wrong type or one too short to hold its version and
//! random is an error.

use super::reader::{u16_list, Reader};
use super::{escape_name, ext, handshake_type, is_grease, TlsError};
use crate::dissect::caps::{host_tail, MAX_HELLO_LIST};

/// Extension types kept per hello; more are counted as an anomaly.
const MAX_EXTENSIONS: usize = 512;
/// ALPN protocol names kept per hello.
const MAX_ALPN: usize = 64;

/// Random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

bitflags::bitflags! {
    /// What was odd about a hello message.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct HelloAnomalies: u32 {
        /// The bytes end before the message's fields do.
        const TRUNCATED = 1 << 0;
        /// A declared length disagrees with the bytes (handshake header,
        /// extensions block, cipher list of odd length).
        const LENGTH_MISMATCH = 1 << 1;
        /// An extension's data runs past the end of the extensions block.
        const TRUNCATED_EXTENSION = 1 << 2;
        /// The same extension type appears twice (the first is used).
        const DUPLICATE_EXTENSION = 1 << 3;
        /// An extension's inner lengths are inconsistent.
        const MALFORMED_EXTENSION = 1 << 4;
        /// Bytes follow the last field.
        const TRAILING_DATA = 1 << 5;
        /// The server name was not clean UTF-8 and was escaped.
        const SNI_ESCAPED = 1 << 6;
        /// The server_name extension holds an empty host name.
        const EMPTY_SNI = 1 << 7;
        /// More than one host_name in server_name (the first is used).
        const MULTIPLE_SNI = 1 << 8;
        /// An ALPN protocol name of length zero.
        const EMPTY_ALPN_VALUE = 1 << 9;
        /// More extensions than kept (see the crate docs for the bound).
        const TOO_MANY_EXTENSIONS = 1 << 10;
        /// A ClientHello offering no cipher suite.
        const NO_CIPHER_SUITES = 1 << 11;
        /// The server name was longer than a DNS name can be: its last
        /// whole labels within 253 bytes are kept.
        const SNI_TRUNCATED = 1 << 12;
        /// A list (cipher suites, groups, signature algorithms, versions,
        /// point formats) longer than [`MAX_HELLO_LIST`]: the rest is not kept.
        const LIST_TRUNCATED = 1 << 13;
    }
}

/// What a ClientHello says about the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` (`client_version` before TLS 1.3).
    pub legacy_version: u16,
    /// Cipher suites in wire order, GREASE included.
    pub cipher_suites: Vec<u16>,
    pub compression_methods: Vec<u8>,
    /// Extension types in wire order, GREASE and duplicates included.
    pub extensions: Vec<u16>,
    /// First host_name of server_name, escaped if not clean UTF-8
    /// (see [`escape_name`](super::escape_name)). With `ech` it is only the
    /// outer, public name.
    pub sni: Option<String>,
    /// ALPN protocol names, raw bytes, wire order.
    pub alpn: Vec<Vec<u8>>,
    pub supported_versions: Vec<u16>,
    pub signature_algorithms: Vec<u16>,
    pub supported_groups: Vec<u16>,
    pub ec_point_formats: Vec<u8>,
    /// quic_transport_parameters (0x39, or the drafts' 0xffa5) is present.
    pub quic_transport_parameters: bool,
    /// encrypted_client_hello (0xfe0d) is present: the real server name is
    /// encrypted and `sni` is the public name of the ECH provider.
    pub ech: bool,
    /// Length of the padding extension's data, if present.
    pub padding: Option<usize>,
    /// Parsed from an SSLv2-format CLIENT-HELLO (no extensions; only the
    /// cipher specs that map to TLS suites are in `cipher_suites`).
    pub sslv2: bool,
    pub anomalies: HelloAnomalies,
}

impl ClientHello {
    pub fn has_extension(&self, t: u16) -> bool {
        self.extensions.contains(&t)
    }

    /// The SNI names only the ECH outer (public) name, not the destination.
    pub fn sni_is_ech_outer(&self) -> bool {
        self.ech && self.sni.is_some()
    }

    /// ALPN names as strings (escaped if not clean UTF-8), for logging.
    pub fn alpn_strings(&self) -> Vec<String> {
        self.alpn.iter().map(|a| escape_name(a).0).collect()
    }

    /// Highest non-GREASE version offered: supported_versions if present,
    /// else `legacy_version`.
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|&v| !is_grease(v))
            .max()
            .unwrap_or(self.legacy_version)
    }

    /// The version Suricata reads from a ClientHello (its `tls.version` when
    /// no ServerHello was seen): the first known TLS version in
    /// supported_versions (the client's preferred; GREASE and unknown values
    /// skipped), else `legacy_version`, where 0x0304 and the first drafts
    /// (0x7f01..0x7f0f) stand for "TLS 1.3 draft-<16" as in a ServerHello.
    pub fn offered_version(&self) -> u16 {
        if self.sslv2 {
            return self.legacy_version;
        }
        let known = |v: u16| v >= 0x0300 && super::version_name(v) != "UNDETERMINED";
        if let Some(v) = self.supported_versions.iter().copied().find(|&v| known(v)) {
            return v;
        }
        match self.legacy_version {
            0x0304 | 0x7f01..=0x7f0f => 0x7f01,
            v => v,
        }
    }
}

/// What a ServerHello says about the chosen parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// Negotiated version: supported_versions if present, else `legacy_version`;
    /// a ServerHello with `legacy_version` 0x0304 is a TLS 1.3 draft older
    /// than 16 (final TLS 1.3 puts 0x0303 there) and gets 0x7f01, the value
    /// Suricata uses for "TLS 1.3 draft-<16".
    pub version: u16,
    pub cipher: u16,
    pub compression: u8,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// The ALPN protocol the server selected.
    pub alpn: Option<Vec<u8>>,
    pub supported_version: Option<u16>,
    /// The random is the HelloRetryRequest marker (RFC 8446 §4.1.3).
    pub is_hello_retry_request: bool,
    pub anomalies: HelloAnomalies,
}

impl ServerHello {
    pub fn alpn_string(&self) -> Option<String> {
        self.alpn.as_ref().map(|a| escape_name(a).0)
    }
}

/// Checks the 4-byte handshake header and returns the body, cut to the
/// declared length (flags a shorter or longer message).
fn handshake_body<'a>(
    msg: &'a [u8],
    expected: u8,
    anomalies: &mut HelloAnomalies,
) -> Result<&'a [u8], TlsError> {
    let mut r = Reader::new(msg);
    let (Some(t), Some(len)) = (r.u8(), r.u24()) else {
        return Err(TlsError::TooShort {
            len: msg.len(),
            need: 4,
        });
    };
    if t != expected {
        return Err(TlsError::WrongType { expected, found: t });
    }
    let (body, short) = r.take_upto(len);
    if short {
        *anomalies |= HelloAnomalies::TRUNCATED;
    }
    if !r.is_empty() {
        *anomalies |= HelloAnomalies::LENGTH_MISMATCH;
    }
    Ok(body)
}

/// Parses a ClientHello handshake message (with its 4-byte header).
pub fn parse_client_hello(msg: &[u8]) -> Result<ClientHello, TlsError> {
    let mut ch = ClientHello::default();
    let body = handshake_body(msg, handshake_type::CLIENT_HELLO, &mut ch.anomalies)?;
    let mut r = Reader::new(body);
    let (Some(version), Some(_random)) = (r.u16(), r.take(32)) else {
        return Err(TlsError::TooShort {
            len: msg.len(),
            need: 4 + 34,
        });
    };
    ch.legacy_version = version;
    if read_client_fields(&mut r, &mut ch).is_none() {
        ch.anomalies |= HelloAnomalies::TRUNCATED;
    }
    if ch.cipher_suites.is_empty() {
        ch.anomalies |= HelloAnomalies::NO_CIPHER_SUITES;
    }
    Ok(ch)
}

/// Session id, cipher suites, compression and extensions. `None` when the
/// bytes ran out part-way (what was read is kept).
fn read_client_fields(r: &mut Reader<'_>, ch: &mut ClientHello) -> Option<()> {
    let sid_len = r.u8()?;
    r.take(usize::from(sid_len))?;
    let cs_len = usize::from(r.u16()?);
    let (cs, short) = r.take_upto(cs_len);
    let (suites, odd) = u16_list(cs);
    ch.cipher_suites = capped_list(suites, &mut ch.anomalies);
    if odd {
        ch.anomalies |= HelloAnomalies::LENGTH_MISMATCH;
    }
    if short {
        return None;
    }
    let comp_len = usize::from(r.u8()?);
    let (comp, short) = r.take_upto(comp_len);
    ch.compression_methods = comp.to_vec();
    if short {
        return None;
    }
    if r.is_empty() {
        // Hellos before extensions existed end here.
        return Some(());
    }
    let block = extensions_block(r, &mut ch.anomalies)?;
    let mut seen = ExtSeen::default();
    // One allocation of the right size, not growth by reallocation.
    ch.extensions.reserve_exact(count_extensions(block));
    let mut anomalies = ch.anomalies;
    for_each_extension(block, &mut anomalies, |t, data, anomalies| {
        if ch.extensions.len() >= MAX_EXTENSIONS {
            *anomalies |= HelloAnomalies::TOO_MANY_EXTENSIONS;
            return;
        }
        let dup = seen.insert(t, &ch.extensions);
        ch.extensions.push(t);
        if dup {
            *anomalies |= HelloAnomalies::DUPLICATE_EXTENSION;
            return;
        }
        client_extension(ch, t, data, anomalies);
    });
    ch.anomalies = anomalies;
    Some(())
}

/// The extensions block: its u16 length, then that many bytes. A length
/// that disagrees with the bytes left is flagged; parsing goes on with what
/// is there.
fn extensions_block<'a>(r: &mut Reader<'a>, anomalies: &mut HelloAnomalies) -> Option<&'a [u8]> {
    let Some(len) = r.u16() else {
        *anomalies |= HelloAnomalies::LENGTH_MISMATCH;
        return None;
    };
    let (block, short) = r.take_upto(usize::from(len));
    if short {
        *anomalies |= HelloAnomalies::LENGTH_MISMATCH | HelloAnomalies::TRUNCATED;
    }
    if !r.is_empty() {
        *anomalies |= HelloAnomalies::TRAILING_DATA;
    }
    Some(block)
}

/// Calls `f(type, data)` for every extension in the block. An extension
/// whose data runs past the block is still reported, with the bytes present.
fn for_each_extension<'a, F>(block: &'a [u8], anomalies: &mut HelloAnomalies, mut f: F)
where
    F: FnMut(u16, &'a [u8], &mut HelloAnomalies),
{
    let mut r = Reader::new(block);
    while !r.is_empty() {
        let (Some(t), Some(len)) = (r.u16(), r.u16()) else {
            *anomalies |= HelloAnomalies::TRUNCATED_EXTENSION;
            return;
        };
        let (data, short) = r.take_upto(usize::from(len));
        if short {
            *anomalies |= HelloAnomalies::TRUNCATED_EXTENSION;
        }
        f(t, data, anomalies);
    }
}

/// How many extensions [`for_each_extension`] will report (at most
/// [`MAX_EXTENSIONS`]), to size the list once.
fn count_extensions(block: &[u8]) -> usize {
    let mut r = Reader::new(block);
    let mut n = 0;
    while n < MAX_EXTENSIONS && !r.is_empty() {
        n += 1;
        match (r.u16(), r.u16()) {
            (Some(_), Some(len)) => {
                r.take_upto(usize::from(len));
            }
            _ => break,
        }
    }
    n
}

/// Extension types seen so far, for duplicate detection without allocating
/// or zeroing a 65,536-bit map per hello: a 1,024-bit filter on the low bits
/// of the type, confirmed against the types already listed only on a hit.
#[derive(Default)]
struct ExtSeen([u64; 16]);

impl ExtSeen {
    /// Marks `t`; true if it is among `earlier` (the types before it).
    fn insert(&mut self, t: u16, earlier: &[u16]) -> bool {
        let slot = usize::from(t % 1024);
        let bit = 1u64 << (slot % 64);
        match self.0.get_mut(slot / 64) {
            Some(w) if *w & bit != 0 => earlier.contains(&t),
            Some(w) => {
                *w |= bit;
                false
            }
            None => earlier.contains(&t),
        }
    }
}

/// Reads a vector with a `prefix`-byte length that must fill `data` exactly.
fn vector<'a>(data: &'a [u8], prefix: usize, anomalies: &mut HelloAnomalies) -> &'a [u8] {
    let mut r = Reader::new(data);
    let len = match prefix {
        1 => r.u8().map(usize::from),
        _ => r.u16().map(usize::from),
    };
    let Some(len) = len else {
        *anomalies |= HelloAnomalies::MALFORMED_EXTENSION;
        return &[];
    };
    let (v, short) = r.take_upto(len);
    if short || !r.is_empty() {
        *anomalies |= HelloAnomalies::MALFORMED_EXTENSION;
    }
    v
}

fn u16_vector(data: &[u8], prefix: usize, anomalies: &mut HelloAnomalies) -> Vec<u16> {
    let (v, odd) = u16_list(vector(data, prefix, anomalies));
    if odd {
        *anomalies |= HelloAnomalies::MALFORMED_EXTENSION;
    }
    capped_list(v, anomalies)
}

/// At most [`MAX_HELLO_LIST`] entries, flagging a cut.
fn capped_list<T>(mut v: Vec<T>, anomalies: &mut HelloAnomalies) -> Vec<T> {
    if v.len() > MAX_HELLO_LIST {
        v.truncate(MAX_HELLO_LIST);
        *anomalies |= HelloAnomalies::LIST_TRUNCATED;
    }
    v
}

fn client_extension(ch: &mut ClientHello, t: u16, data: &[u8], anomalies: &mut HelloAnomalies) {
    match t {
        ext::SERVER_NAME => server_name(ch, data, anomalies),
        ext::ALPN => ch.alpn = alpn_list(data, anomalies),
        ext::SUPPORTED_VERSIONS => ch.supported_versions = u16_vector(data, 1, anomalies),
        ext::SIGNATURE_ALGORITHMS => ch.signature_algorithms = u16_vector(data, 2, anomalies),
        ext::SUPPORTED_GROUPS => ch.supported_groups = u16_vector(data, 2, anomalies),
        ext::EC_POINT_FORMATS => {
            ch.ec_point_formats = capped_list(vector(data, 1, anomalies).to_vec(), anomalies);
        }
        ext::QUIC_TRANSPORT_PARAMETERS | ext::QUIC_TRANSPORT_PARAMETERS_DRAFT => {
            ch.quic_transport_parameters = true
        }
        ext::ENCRYPTED_CLIENT_HELLO => ch.ech = true,
        ext::PADDING => ch.padding = Some(data.len()),
        _ => {}
    }
}

fn server_name(ch: &mut ClientHello, data: &[u8], anomalies: &mut HelloAnomalies) {
    let mut r = Reader::new(vector(data, 2, anomalies));
    while !r.is_empty() {
        let (Some(name_type), Some(len)) = (r.u8(), r.u16()) else {
            *anomalies |= HelloAnomalies::MALFORMED_EXTENSION;
            return;
        };
        let (name, short) = r.take_upto(usize::from(len));
        if short {
            *anomalies |= HelloAnomalies::MALFORMED_EXTENSION;
        }
        if name_type != 0 {
            continue;
        }
        if ch.sni.is_some() {
            *anomalies |= HelloAnomalies::MULTIPLE_SNI;
            continue;
        }
        if name.is_empty() {
            *anomalies |= HelloAnomalies::EMPTY_SNI;
        }
        let (name, cut) = host_tail(name);
        if cut {
            *anomalies |= HelloAnomalies::SNI_TRUNCATED;
        }
        let (s, escaped) = escape_name(name);
        if escaped {
            *anomalies |= HelloAnomalies::SNI_ESCAPED;
        }
        ch.sni = Some(s);
    }
}

fn alpn_list(data: &[u8], anomalies: &mut HelloAnomalies) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut r = Reader::new(vector(data, 2, anomalies));
    while let Some(len) = r.u8() {
        let (name, short) = r.take_upto(usize::from(len));
        if short {
            *anomalies |= HelloAnomalies::MALFORMED_EXTENSION;
        }
        if name.is_empty() {
            *anomalies |= HelloAnomalies::EMPTY_ALPN_VALUE;
        }
        if out.len() < MAX_ALPN {
            out.push(name.to_vec());
        }
    }
    out
}

/// Parses an SSLv2-format CLIENT-HELLO: `msg` is the record body, starting
/// at the message type byte (as [`Handshake::message`](super::Handshake)
/// gives it).
pub fn parse_sslv2_client_hello(msg: &[u8]) -> Result<ClientHello, TlsError> {
    let mut r = Reader::new(msg);
    if r.u8() != Some(handshake_type::CLIENT_HELLO) {
        return Err(TlsError::NotSslv2ClientHello);
    }
    let (Some(version), Some(specs_len), Some(sid_len), Some(chal_len)) =
        (r.u16(), r.u16(), r.u16(), r.u16())
    else {
        return Err(TlsError::TooShort {
            len: msg.len(),
            need: 9,
        });
    };
    let mut ch = ClientHello {
        legacy_version: version,
        sslv2: true,
        ..ClientHello::default()
    };
    let (specs, short) = r.take_upto(usize::from(specs_len));
    let mut chunks = specs.chunks_exact(3);
    // Specs whose first byte is zero are TLS cipher suites (RFC 5246 E.2).
    let suites = chunks
        .by_ref()
        .filter_map(|c| match c {
            [0, a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        })
        .collect();
    ch.cipher_suites = capped_list(suites, &mut ch.anomalies);
    if !chunks.remainder().is_empty() {
        ch.anomalies |= HelloAnomalies::LENGTH_MISMATCH;
    }
    let rest = usize::from(sid_len) + usize::from(chal_len);
    if short || r.remaining() < rest {
        ch.anomalies |= HelloAnomalies::TRUNCATED;
    } else if r.remaining() > rest {
        ch.anomalies |= HelloAnomalies::TRAILING_DATA;
    }
    if ch.cipher_suites.is_empty() {
        ch.anomalies |= HelloAnomalies::NO_CIPHER_SUITES;
    }
    Ok(ch)
}

/// Parses a ServerHello handshake message (with its 4-byte header).
pub fn parse_server_hello(msg: &[u8]) -> Result<ServerHello, TlsError> {
    let mut sh = ServerHello::default();
    let body = handshake_body(msg, handshake_type::SERVER_HELLO, &mut sh.anomalies)?;
    let mut r = Reader::new(body);
    let (Some(version), Some(random)) = (r.u16(), r.take(32)) else {
        return Err(TlsError::TooShort {
            len: msg.len(),
            need: 4 + 34,
        });
    };
    sh.legacy_version = version;
    sh.version = if version == 0x0304 { 0x7f01 } else { version };
    sh.is_hello_retry_request = random == HRR_RANDOM;
    if read_server_fields(&mut r, &mut sh).is_none() {
        sh.anomalies |= HelloAnomalies::TRUNCATED;
    }
    if let Some(v) = sh.supported_version {
        sh.version = v;
    }
    Ok(sh)
}

fn read_server_fields(r: &mut Reader<'_>, sh: &mut ServerHello) -> Option<()> {
    // TLS 1.3 drafts before 22 put their version here (0x0304 before
    // draft 16) and had neither session id nor compression method.
    let draft = sh.legacy_version == 0x0304 || matches!(sh.legacy_version >> 8, 0x7f | 0xfb);
    if !draft {
        let sid_len = r.u8()?;
        r.take(usize::from(sid_len))?;
    }
    sh.cipher = r.u16()?;
    if !draft {
        sh.compression = r.u8()?;
    }
    if r.is_empty() {
        return Some(());
    }
    let block = extensions_block(r, &mut sh.anomalies)?;
    let mut seen = ExtSeen::default();
    let mut extensions = Vec::with_capacity(count_extensions(block));
    let mut alpn = None;
    let mut supported_version = None;
    for_each_extension(block, &mut sh.anomalies, |t, data, anomalies| {
        if extensions.len() >= MAX_EXTENSIONS {
            *anomalies |= HelloAnomalies::TOO_MANY_EXTENSIONS;
            return;
        }
        let dup = seen.insert(t, &extensions);
        extensions.push(t);
        if dup {
            *anomalies |= HelloAnomalies::DUPLICATE_EXTENSION;
            return;
        }
        match t {
            ext::ALPN => {
                let mut list = alpn_list(data, anomalies);
                if list.len() != 1 {
                    *anomalies |= HelloAnomalies::MALFORMED_EXTENSION;
                }
                if !list.is_empty() {
                    alpn = Some(list.swap_remove(0));
                }
            }
            ext::SUPPORTED_VERSIONS => {
                let mut d = Reader::new(data);
                supported_version = d.u16();
                if supported_version.is_none() || !d.is_empty() {
                    *anomalies |= HelloAnomalies::MALFORMED_EXTENSION;
                }
            }
            _ => {}
        }
    });
    sh.extensions = extensions;
    sh.alpn = alpn;
    sh.supported_version = supported_version;
    Some(())
}

/// Builders of hand-made hello messages, shared by the unit tests of this
/// module and of the fingerprints.
#[cfg(test)]
pub(crate) mod build {
    pub fn ext(t: u16, data: &[u8]) -> Vec<u8> {
        let mut v = t.to_be_bytes().to_vec();
        v.extend((data.len() as u16).to_be_bytes());
        v.extend(data);
        v
    }

    pub fn vec16(items: &[u16], prefix: usize) -> Vec<u8> {
        let body: Vec<u8> = items.iter().flat_map(|x| x.to_be_bytes()).collect();
        with_len(&body, prefix)
    }

    pub fn with_len(body: &[u8], prefix: usize) -> Vec<u8> {
        let mut v = if prefix == 1 {
            vec![body.len() as u8]
        } else {
            (body.len() as u16).to_be_bytes().to_vec()
        };
        v.extend(body);
        v
    }

    pub fn sni(name: &[u8]) -> Vec<u8> {
        let mut entry = vec![0u8];
        entry.extend(with_len(name, 2));
        ext(0, &with_len(&entry, 2))
    }

    pub fn alpn(names: &[&[u8]]) -> Vec<u8> {
        let list: Vec<u8> = names.iter().flat_map(|n| with_len(n, 1)).collect();
        ext(16, &with_len(&list, 2))
    }

    pub fn handshake(t: u8, body: &[u8]) -> Vec<u8> {
        let l = body.len();
        let mut v = vec![t, (l >> 16) as u8, (l >> 8) as u8, l as u8];
        v.extend(body);
        v
    }

    /// A ClientHello message with the given fields; `exts` are whole
    /// extensions (type, length, data) concatenated.
    pub fn client_hello(version: u16, ciphers: &[u16], exts: Option<&[u8]>) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend([0x42; 32]);
        b.push(32);
        b.extend([0x24; 32]);
        b.extend(vec16(ciphers, 2));
        b.extend([1, 0]);
        if let Some(e) = exts {
            b.extend(with_len(e, 2));
        }
        handshake(1, &b)
    }

    pub fn server_hello(version: u16, random: [u8; 32], cipher: u16, exts: &[u8]) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend(random);
        b.push(0);
        b.extend(cipher.to_be_bytes());
        b.push(0);
        b.extend(with_len(exts, 2));
        handshake(2, &b)
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    #[test]
    fn full_client_hello() {
        let exts = [
            ext(0x0a0a, &[]),
            sni(b"www.example.com"),
            ext(23, &[]),
            alpn(&[b"h2", b"http/1.1"]),
            ext(10, &vec16(&[0x2a2a, 29, 23, 24], 2)),
            ext(11, &with_len(&[0], 1)),
            ext(13, &vec16(&[0x0403, 0x0804], 2)),
            ext(43, &vec16(&[0x5a5a, 0x0304, 0x0303], 1)),
            ext(57, &[1, 2]),
            ext(21, &[0; 17]),
            ext(0x1a1a, &[0]),
        ]
        .concat();
        let msg = client_hello(0x0303, &[0xcaca, 0x1301, 0xc02f], Some(&exts));
        let ch = parse_client_hello(&msg).unwrap();
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.cipher_suites, vec![0xcaca, 0x1301, 0xc02f]);
        assert_eq!(ch.compression_methods, vec![0]);
        assert_eq!(
            ch.extensions,
            vec![0x0a0a, 0, 23, 16, 10, 11, 13, 43, 57, 21, 0x1a1a]
        );
        assert_eq!(ch.sni.as_deref(), Some("www.example.com"));
        assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(ch.alpn_strings(), vec!["h2", "http/1.1"]);
        assert_eq!(ch.supported_groups, vec![0x2a2a, 29, 23, 24]);
        assert_eq!(ch.ec_point_formats, vec![0]);
        assert_eq!(ch.signature_algorithms, vec![0x0403, 0x0804]);
        assert_eq!(ch.supported_versions, vec![0x5a5a, 0x0304, 0x0303]);
        assert_eq!(ch.max_version(), 0x0304);
        assert!(ch.quic_transport_parameters);
        assert!(!ch.ech);
        assert_eq!(ch.padding, Some(17));
        assert_eq!(ch.anomalies, HelloAnomalies::empty());
    }

    #[test]
    fn no_extensions_at_all() {
        let msg = client_hello(0x0301, &[0x0035, 0x00ff], None);
        let ch = parse_client_hello(&msg).unwrap();
        assert!(ch.extensions.is_empty());
        assert_eq!(ch.sni, None);
        assert_eq!(ch.max_version(), 0x0301);
        assert_eq!(ch.anomalies, HelloAnomalies::empty());
    }

    #[test]
    fn ech_keeps_outer_name_and_says_so() {
        let exts = [sni(b"public.example"), ext(0xfe0d, &[0, 0, 1, 0, 1])].concat();
        let ch = parse_client_hello(&client_hello(0x0303, &[0x1301], Some(&exts))).unwrap();
        assert!(ch.ech);
        assert_eq!(ch.sni.as_deref(), Some("public.example"));
        assert!(ch.sni_is_ech_outer());
    }

    #[test]
    fn non_utf8_sni_is_escaped_not_dropped() {
        let exts = sni(b"bad\xc3\x28name.com");
        let ch = parse_client_hello(&client_hello(0x0303, &[0x1301], Some(&exts))).unwrap();
        assert_eq!(ch.sni.as_deref(), Some("bad\\xc3(name.com"));
        assert!(ch.anomalies.contains(HelloAnomalies::SNI_ESCAPED));
    }

    #[test]
    fn a_huge_sni_keeps_its_last_labels_and_is_flagged() {
        let name = format!("{}.ts01-b.cloudsink.net", "x".repeat(65_000));
        let ch = parse_client_hello(&client_hello(
            0x0303,
            &[0x1301],
            Some(&sni(name.as_bytes())),
        ))
        .unwrap();
        assert_eq!(ch.sni.as_deref(), Some("ts01-b.cloudsink.net"));
        assert!(ch.anomalies.contains(HelloAnomalies::SNI_TRUNCATED));
        // At the cap exactly: kept whole, not flagged.
        let name = format!(
            "{}.example",
            "y".repeat(crate::dissect::caps::MAX_HOST_NAME - 8)
        );
        let ch = parse_client_hello(&client_hello(
            0x0303,
            &[0x1301],
            Some(&sni(name.as_bytes())),
        ))
        .unwrap();
        assert_eq!(ch.sni.as_deref(), Some(name.as_str()));
        assert!(!ch.anomalies.contains(HelloAnomalies::SNI_TRUNCATED));
    }

    #[test]
    fn long_lists_are_capped_and_flagged() {
        let ciphers: Vec<u16> = (0..20_000).collect();
        let ch = parse_client_hello(&client_hello(0x0303, &ciphers, None)).unwrap();
        assert_eq!(ch.cipher_suites.len(), MAX_HELLO_LIST);
        assert!(ch.anomalies.contains(HelloAnomalies::LIST_TRUNCATED));
    }

    #[test]
    fn empty_and_multiple_sni() {
        // Two host_names: the first is kept.
        let mut list = vec![0u8];
        list.extend(with_len(b"a.example", 2));
        list.push(0);
        list.extend(with_len(b"b.example", 2));
        let exts = ext(0, &with_len(&list, 2));
        let ch = parse_client_hello(&client_hello(0x0303, &[1], Some(&exts))).unwrap();
        assert_eq!(ch.sni.as_deref(), Some("a.example"));
        assert!(ch.anomalies.contains(HelloAnomalies::MULTIPLE_SNI));
        // An empty server_name extension (as servers echo it): present, no name.
        let ch = parse_client_hello(&client_hello(0x0303, &[1], Some(&ext(0, &[])))).unwrap();
        assert!(ch.has_extension(0));
        assert_eq!(ch.sni, None);
        assert!(ch.anomalies.contains(HelloAnomalies::MALFORMED_EXTENSION));
    }

    #[test]
    fn empty_alpn_value() {
        let exts = alpn(&[b"", b"h2"]);
        let ch = parse_client_hello(&client_hello(0x0303, &[1], Some(&exts))).unwrap();
        assert_eq!(ch.alpn, vec![b"".to_vec(), b"h2".to_vec()]);
        assert!(ch.anomalies.contains(HelloAnomalies::EMPTY_ALPN_VALUE));
    }

    #[test]
    fn duplicate_extension_first_wins() {
        let exts = [sni(b"first.example"), ext(23, &[]), sni(b"second.example")].concat();
        let ch = parse_client_hello(&client_hello(0x0303, &[1], Some(&exts))).unwrap();
        assert_eq!(ch.extensions, vec![0, 23, 0]);
        assert_eq!(ch.sni.as_deref(), Some("first.example"));
        assert!(ch.anomalies.contains(HelloAnomalies::DUPLICATE_EXTENSION));
    }

    #[test]
    fn truncated_extension_block() {
        let exts = [sni(b"kept.example"), ext(13, &vec16(&[0x0403, 0x0503], 2))].concat();
        let full = client_hello(0x0303, &[0x1301], Some(&exts));
        // Cut the message in the middle of the last extension (header kept
        // consistent with the cut, as a reassembler's truncated head is not).
        let cut = &full[..full.len() - 3];
        let ch = parse_client_hello(cut).unwrap();
        assert_eq!(ch.sni.as_deref(), Some("kept.example"));
        assert_eq!(ch.extensions, vec![0, 13]);
        assert!(ch
            .anomalies
            .contains(HelloAnomalies::TRUNCATED | HelloAnomalies::TRUNCATED_EXTENSION));
        // Cut inside the cipher suites: the whole suites before the cut stay.
        let msg = client_hello(0x0303, &[0x1301, 0x1302, 0x1303], None);
        let ch = parse_client_hello(&msg[..msg.len() - 5]).unwrap();
        assert_eq!(ch.cipher_suites, vec![0x1301]);
        assert!(ch
            .anomalies
            .contains(HelloAnomalies::TRUNCATED | HelloAnomalies::LENGTH_MISMATCH));
    }

    #[test]
    fn bogus_lengths() {
        // Extensions block announcing more than there is.
        let mut msg = client_hello(0x0303, &[0x1301], Some(&ext(23, &[])));
        let n = msg.len();
        msg[n - 5] = 0x40; // extensions length high byte
        let ch = parse_client_hello(&msg).unwrap();
        assert_eq!(ch.extensions, vec![23]);
        assert!(ch.anomalies.contains(HelloAnomalies::LENGTH_MISMATCH));
        // Handshake header shorter than the body: trailing bytes flagged.
        let mut msg = client_hello(0x0303, &[0x1301], Some(&ext(23, &[])));
        msg[3] -= 4;
        let ch = parse_client_hello(&msg).unwrap();
        assert!(ch.anomalies.contains(HelloAnomalies::LENGTH_MISMATCH));
        // Extension with an inner list of odd length.
        let exts = ext(10, &[0, 3, 0, 29, 0]);
        let ch = parse_client_hello(&client_hello(0x0303, &[1], Some(&exts))).unwrap();
        assert_eq!(ch.supported_groups, vec![29]);
        assert!(ch.anomalies.contains(HelloAnomalies::MALFORMED_EXTENSION));
        // Too short for version and random: an error.
        assert_eq!(
            parse_client_hello(&[1, 0, 0, 3, 3, 3, 0]),
            Err(TlsError::TooShort { len: 7, need: 38 })
        );
        assert_eq!(
            parse_client_hello(&[2, 0, 0, 0]),
            Err(TlsError::WrongType {
                expected: 1,
                found: 2
            })
        );
        assert_eq!(
            parse_client_hello(&[1, 0]),
            Err(TlsError::TooShort { len: 2, need: 4 })
        );
    }

    #[test]
    fn many_extensions_bounded() {
        let exts: Vec<u8> = (0..600u16).flat_map(|i| ext(0x1000 + i, &[])).collect();
        let ch = parse_client_hello(&client_hello(0x0303, &[1], Some(&exts))).unwrap();
        assert_eq!(ch.extensions.len(), MAX_EXTENSIONS);
        assert!(ch.anomalies.contains(HelloAnomalies::TOO_MANY_EXTENSIONS));
    }

    #[test]
    fn sslv2_client_hello() {
        let mut m = vec![1, 0, 2, 0, 9, 0, 0, 0, 16];
        m.extend([0x07, 0x00, 0xc0, 0x00, 0x00, 0x39, 0x00, 0x00, 0xff]);
        m.extend([0xab; 16]);
        let ch = parse_sslv2_client_hello(&m).unwrap();
        assert!(ch.sslv2);
        assert_eq!(ch.legacy_version, 0x0002);
        assert_eq!(ch.cipher_suites, vec![0x0039, 0x00ff]);
        assert_eq!(ch.anomalies, HelloAnomalies::empty());
        // Cut after the second spec: the TLS suite before the cut is kept.
        let cut = parse_sslv2_client_hello(&m[..15]).unwrap();
        assert_eq!(cut.cipher_suites, vec![0x0039]);
        assert_eq!(cut.anomalies, HelloAnomalies::TRUNCATED);
        // Cut inside a spec, with no TLS suite before it.
        assert_eq!(
            parse_sslv2_client_hello(&m[..13]).unwrap().anomalies,
            HelloAnomalies::TRUNCATED
                | HelloAnomalies::LENGTH_MISMATCH
                | HelloAnomalies::NO_CIPHER_SUITES
        );
        assert_eq!(
            parse_sslv2_client_hello(&[4, 0]),
            Err(TlsError::NotSslv2ClientHello)
        );
    }

    #[test]
    fn server_hello_tls13_and_hrr() {
        let exts = [ext(43, &[3, 4]), ext(51, &[0; 36])].concat();
        let sh = parse_server_hello(&server_hello(0x0303, [7; 32], 0x1301, &exts)).unwrap();
        assert_eq!(sh.legacy_version, 0x0303);
        assert_eq!(sh.version, 0x0304);
        assert_eq!(sh.supported_version, Some(0x0304));
        assert_eq!(sh.cipher, 0x1301);
        assert_eq!(sh.extensions, vec![43, 51]);
        assert!(!sh.is_hello_retry_request);
        let sh = parse_server_hello(&server_hello(0x0303, HRR_RANDOM, 0x1302, &exts)).unwrap();
        assert!(sh.is_hello_retry_request);
        assert_eq!(sh.anomalies, HelloAnomalies::empty());
    }

    #[test]
    fn server_hello_alpn_and_draft_format() {
        let exts = [ext(0xff01, &[0]), alpn(&[b"http/1.1"])].concat();
        let sh = parse_server_hello(&server_hello(0x0303, [1; 32], 0xc02f, &exts)).unwrap();
        assert_eq!(sh.alpn_string().as_deref(), Some("http/1.1"));
        assert_eq!(sh.version, 0x0303);
        // Draft-18: version 0x7f12, random, cipher, extensions.
        let mut b = vec![0x7f, 0x12];
        b.extend([9; 32]);
        b.extend([0x13, 0x01]);
        b.extend(with_len(&ext(40, &[0; 4]), 2));
        let sh = parse_server_hello(&handshake(2, &b)).unwrap();
        assert_eq!(sh.version, 0x7f12);
        assert_eq!(sh.cipher, 0x1301);
        assert_eq!(sh.extensions, vec![40]);
        assert_eq!(sh.anomalies, HelloAnomalies::empty());
        // Before draft 16 the version field said 0x0304 outright.
        b[..2].copy_from_slice(&[3, 4]);
        let sh = parse_server_hello(&handshake(2, &b)).unwrap();
        assert_eq!(
            (sh.legacy_version, sh.version, sh.cipher),
            (0x0304, 0x7f01, 0x1301)
        );
        assert_eq!(
            crate::dissect::tls::version_name(sh.version),
            "TLS 1.3 draft-<16"
        );
    }
}
