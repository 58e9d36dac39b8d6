//! TLS dissector: pure functions over byte slices (no flow state, no I/O).
//!
//! * [`HandshakeReassembler`] turns one direction of a TCP stream into
//!   complete handshake messages (records and segments reassembled, bounded).
//! * [`parse_client_hello`], [`parse_server_hello`], [`parse_certificate`]
//!   read those messages; anomalies are flags on what they return.
//! * [`ja3`], [`ja3s`], [`ja4`] (and raw / original-order variants) fingerprint
//!   the hellos; [`write_eve`] writes Suricata's EVE `tls` object (`to_eve`, its
//!   `serde_json::Value` twin, is built in tests only, to check it).
//!
//! QUIC hands [`parse_client_hello`] the ClientHello it decrypted from Initial
//! packets and asks for [`ja4`] with [`Transport::Quic`].

mod cert;
mod eve;
mod fingerprint;
mod hello;
mod memo;
mod reader;
mod record;

pub use cert::{parse_certificate, CertAnomalies, CertInfo, Certificates, MAX_CERTS};
#[cfg(test)]
pub use eve::to_eve;
pub use eve::{write_eve, write_ja3, write_ja4, EveTls};
pub use fingerprint::{
    ja3, ja3s, ja4, ja4_o, ja4_r, ja4_ro, md5_hex, push_ja3_string, push_ja3s_string, push_ja4,
    Ja3, Transport,
};
pub use hello::{
    parse_client_hello, parse_server_hello, parse_sslv2_client_hello, ClientHello, HelloAnomalies,
    ServerHello,
};
pub use record::{
    Handshake, HandshakeReassembler, Limits, ReassemblyAnomalies, ReassemblyStats, StopReason,
};

/// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
pub mod handshake_type {
    pub const HELLO_REQUEST: u8 = 0;
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// TLS 1.3 drafts before 22 sent HelloRetryRequest as its own type.
    pub const HELLO_RETRY_REQUEST_DRAFT: u8 = 6;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
}

/// Extension types this module reads (IANA "TLS ExtensionType Values").
pub mod ext {
    pub const SERVER_NAME: u16 = 0x0000;
    pub const SUPPORTED_GROUPS: u16 = 0x000a;
    pub const EC_POINT_FORMATS: u16 = 0x000b;
    pub const SIGNATURE_ALGORITHMS: u16 = 0x000d;
    pub const ALPN: u16 = 0x0010;
    pub const PADDING: u16 = 0x0015;
    pub const SUPPORTED_VERSIONS: u16 = 0x002b;
    pub const QUIC_TRANSPORT_PARAMETERS: u16 = 0x0039;
    /// Pre-RFC 9000 drafts' codepoint for quic_transport_parameters.
    pub const QUIC_TRANSPORT_PARAMETERS_DRAFT: u16 = 0xffa5;
    /// Encrypted ClientHello (draft-ietf-tls-esni, the codepoint browsers ship).
    pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
}

/// Why a message could not be read at all. Anything less severe is an
/// anomaly flag on the parsed value instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("handshake message type {found}, expected {expected}")]
    WrongType { expected: u8, found: u8 },
    #[error("handshake message too short: {len} bytes, need at least {need}")]
    TooShort { len: usize, need: usize },
    #[error("not an SSLv2 CLIENT-HELLO")]
    NotSslv2ClientHello,
}

/// GREASE values (RFC 8701): 0x?a?a with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// Suricata's name for a protocol version, as it logs `tls.version`.
///
/// Unknown values give "UNDETERMINED" (Suricata prints the number there;
/// see [`version_string`] for that).
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0200 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        0x7f1c => "TLS 1.3 draft-28",
        0x7f1b => "TLS 1.3 draft-27",
        0x7f1a => "TLS 1.3 draft-26",
        0x7f19 => "TLS 1.3 draft-25",
        0x7f18 => "TLS 1.3 draft-24",
        0x7f17 => "TLS 1.3 draft-23",
        0x7f16 => "TLS 1.3 draft-22",
        0x7f15 => "TLS 1.3 draft-21",
        0x7f14 => "TLS 1.3 draft-20",
        0x7f13 => "TLS 1.3 draft-19",
        0x7f12 => "TLS 1.3 draft-18",
        0x7f11 => "TLS 1.3 draft-17",
        0x7f10 => "TLS 1.3 draft-16",
        0x7f01 => "TLS 1.3 draft-<16",
        0xfb14 => "TLS 1.3 draft-20-fb",
        0xfb15 => "TLS 1.3 draft-21-fb",
        0xfb16 => "TLS 1.3 draft-22-fb",
        0xfb17 => "TLS 1.3 draft-23-fb",
        0xfb1a => "TLS 1.3 draft-26-fb",
        _ => "UNDETERMINED",
    }
}

/// [`version_name`], but unknown non-zero versions as their decimal value,
/// as current Suricata does.
pub fn version_string(v: u16) -> std::borrow::Cow<'static, str> {
    match version_name(v) {
        "UNDETERMINED" if v != 0 => std::borrow::Cow::Owned(v.to_string()),
        name => std::borrow::Cow::Borrowed(name),
    }
}

/// Renders name bytes from the wire as a string: valid UTF-8 without control
/// characters is kept as is; otherwise every byte outside printable ASCII, and
/// the backslash, is written `\xNN`. Returns the string and whether anything
/// was escaped. Names are never dropped for being odd: odd names are evidence.
pub fn escape_name(bytes: &[u8]) -> (String, bool) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !s.chars().any(|c| c.is_control() || c == '\\') {
            return (s.to_owned(), false);
        }
    }
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            out.push(char::from(b));
        } else {
            out.push_str("\\x");
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
    }
    (out, true)
}

pub(crate) fn hex_digit(n: u8) -> char {
    char::from(
        b"0123456789abcdef"
            .get(usize::from(n & 0x0f))
            .copied()
            .unwrap_or(b'0'),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|&v| is_grease(v)).collect();
        assert_eq!(all.len(), 16);
        assert_eq!(all.first(), Some(&0x0a0a));
        assert_eq!(all.last(), Some(&0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
    }

    #[test]
    fn version_names_match_suricata() {
        assert_eq!(version_name(0x0301), "TLSv1");
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x0304), "TLS 1.3");
        assert_eq!(version_name(0x0300), "SSLv3");
        assert_eq!(version_name(0x0200), "SSLv2");
        assert_eq!(version_name(0x7f16), "TLS 1.3 draft-22");
        assert_eq!(version_name(0x7f01), "TLS 1.3 draft-<16");
        assert_eq!(version_name(0), "UNDETERMINED");
        assert_eq!(version_name(0x1234), "UNDETERMINED");
        assert_eq!(version_string(0x1234), "4660");
        assert_eq!(version_string(0), "UNDETERMINED");
        assert_eq!(version_string(0x0302), "TLS 1.1");
    }

    #[test]
    fn escape_names() {
        assert_eq!(
            escape_name(b"example.com"),
            ("example.com".to_owned(), false)
        );
        assert_eq!(
            escape_name("bücher.de".as_bytes()),
            ("bücher.de".to_owned(), false)
        );
        assert_eq!(escape_name(b"a\xffb"), ("a\\xffb".to_owned(), true));
        assert_eq!(escape_name(b"a\x00b\\"), ("a\\x00b\\x5c".to_owned(), true));
        assert_eq!(escape_name(b""), (String::new(), false));
    }
}
