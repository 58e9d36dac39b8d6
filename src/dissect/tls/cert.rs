//! Certificate messages of TLS 1.2 and earlier (RFC 5246 §7.4.2): the chain
//! the server sends in clear. X.509 is read with x509-parser, the crate
//! Suricata uses, so subject and issuer render as Suricata logs them.

use std::fmt::Write as _;

use sha1::{Digest as _, Sha1};
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

use super::reader::Reader;
use super::{escape_name, handshake_type, hex_digit, TlsError};
use crate::dissect::caps::{cut_host, cut_text, MAX_DN, MAX_HOST_NAME, MAX_SERIAL_BYTES};

/// Certificates read from one message; further ones are counted, not kept.
pub const MAX_CERTS: usize = 16;
/// SAN DNS names kept per certificate.
const MAX_SAN: usize = 256;

bitflags::bitflags! {
    /// What was odd about a Certificate message.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct CertAnomalies: u32 {
        /// The bytes end before the declared chain does.
        const TRUNCATED = 1 << 0;
        /// Declared lengths disagree with each other or with the bytes.
        const LENGTH_MISMATCH = 1 << 1;
        /// A certificate is not valid DER X.509 (its fingerprint is still given).
        const MALFORMED_CERT = 1 << 2;
        /// More than [`MAX_CERTS`] certificates.
        const TOO_MANY_CERTS = 1 << 3;
        /// The chain is empty.
        const EMPTY_CHAIN = 1 << 4;
    }
}

/// One certificate, with fields formatted as Suricata's EVE `tls` logs them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// SHA-1 of the DER, lowercase hex pairs joined by ':'.
    pub fingerprint: String,
    pub der_len: usize,
    /// The DER could not be parsed: only `fingerprint` and `der_len` are set.
    pub malformed: bool,
    /// Subject DN, e.g. "C=US, O=Example, CN=www.example.com".
    pub subject: String,
    pub issuerdn: String,
    /// Serial, uppercase hex pairs joined by ':'.
    pub serial: String,
    /// Validity, UTC, "2019-01-01T00:00:00" (absent outside years 1000-2999).
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    pub subject_cn: Option<String>,
    /// subjectAltName dNSName entries (escaped if not clean UTF-8).
    pub san_dns: Vec<String>,
    /// A field was cut at its cap (subject or issuer over [`MAX_DN`], a
    /// serial over [`MAX_SERIAL_BYTES`], a name over a host name's 253
    /// bytes, more than 256 SAN names).
    pub truncated: bool,
}

/// The certificates of one Certificate message, the server's (or client's)
/// own first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Certificates {
    pub certs: Vec<CertInfo>,
    /// How many certificates the message holds, kept or not.
    pub total: usize,
    pub anomalies: CertAnomalies,
}

/// Parses a TLS <= 1.2 Certificate handshake message (with its 4-byte
/// header). Works on a truncated message too: whole certificates before the
/// cut are returned and the cut is flagged.
pub fn parse_certificate(msg: &[u8]) -> Result<Certificates, TlsError> {
    let mut r = Reader::new(msg);
    let (Some(t), Some(len)) = (r.u8(), r.u24()) else {
        return Err(TlsError::TooShort {
            len: msg.len(),
            need: 4,
        });
    };
    if t != handshake_type::CERTIFICATE {
        return Err(TlsError::WrongType {
            expected: handshake_type::CERTIFICATE,
            found: t,
        });
    }
    let mut out = Certificates::default();
    let (body, short) = r.take_upto(len);
    if short {
        out.anomalies |= CertAnomalies::TRUNCATED;
    }
    if !r.is_empty() {
        out.anomalies |= CertAnomalies::LENGTH_MISMATCH;
    }
    let mut r = Reader::new(body);
    let Some(list_len) = r.u24() else {
        out.anomalies |= CertAnomalies::TRUNCATED;
        return Ok(out);
    };
    let (list, short) = r.take_upto(list_len);
    if short {
        out.anomalies |= CertAnomalies::TRUNCATED;
    }
    if !r.is_empty() {
        out.anomalies |= CertAnomalies::LENGTH_MISMATCH;
    }
    let mut r = Reader::new(list);
    while !r.is_empty() {
        let Some(cert_len) = r.u24() else {
            out.anomalies |= CertAnomalies::TRUNCATED;
            break;
        };
        let Some(der) = r.take(cert_len) else {
            out.anomalies |= CertAnomalies::TRUNCATED;
            break;
        };
        out.total += 1;
        if out.certs.len() >= MAX_CERTS {
            out.anomalies |= CertAnomalies::TOO_MANY_CERTS;
            continue;
        }
        let info = cert_info(der);
        if info.malformed {
            out.anomalies |= CertAnomalies::MALFORMED_CERT;
        }
        out.certs.push(info);
    }
    if out.total == 0 && !out.anomalies.contains(CertAnomalies::TRUNCATED) {
        out.anomalies |= CertAnomalies::EMPTY_CHAIN;
    }
    Ok(out)
}

fn hex_pairs(bytes: &[u8], upper: bool) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        for n in [b >> 4, b & 0x0f] {
            let c = hex_digit(n);
            s.push(if upper { c.to_ascii_uppercase() } else { c });
        }
    }
    s
}

fn cert_info(der: &[u8]) -> CertInfo {
    let mut info = CertInfo {
        fingerprint: hex_pairs(&Sha1::digest(der), false),
        der_len: der.len(),
        ..CertInfo::default()
    };
    let cert = match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert,
        Err(_) => {
            info.malformed = true;
            return info;
        }
    };
    info.subject = cert.subject().to_string();
    info.issuerdn = cert.issuer().to_string();
    let mut cut = cut_text(&mut info.subject, MAX_DN);
    cut |= cut_text(&mut info.issuerdn, MAX_DN);
    let serial = cert.raw_serial();
    cut |= serial.len() > MAX_SERIAL_BYTES;
    info.serial = hex_pairs(serial.get(..MAX_SERIAL_BYTES).unwrap_or(serial), true);
    let validity = cert.validity();
    info.not_before = eve_time(&validity.not_before);
    info.not_after = eve_time(&validity.not_after);
    info.subject_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .map(|cn| match cn.as_str() {
            Ok(s) => escape_name(s.as_bytes()).0,
            Err(_) => escape_name(cn.as_slice()).0,
        });
    if let Some(cn) = &mut info.subject_cn {
        cut |= cut_host(cn, MAX_HOST_NAME);
    }
    // A SAN extension that does not parse (or appears twice) leaves the list empty.
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let mut names = san.value.general_names.iter().filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(escape_name(d.as_bytes()).0),
            _ => None,
        });
        info.san_dns = names.by_ref().take(MAX_SAN).collect();
        cut |= names.next().is_some();
        for n in &mut info.san_dns {
            cut |= cut_host(n, MAX_HOST_NAME);
        }
    }
    info.truncated = cut;
    info
}

/// "YYYY-MM-DDTHH:MM:SS" in UTC, as Suricata logs certificate validity.
fn eve_time(t: &x509_parser::time::ASN1Time) -> Option<String> {
    let dt = t.to_datetime();
    if !(1000..=2999).contains(&dt.year()) {
        return None;
    }
    let mut s = String::with_capacity(19);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate (subject CN=test.example, O=Phonehome Test,
    /// C=DE, SAN test.example and *.test.example, serial 0x1234ab,
    /// 2020-01-02 03:04:05 .. 2030-01-02 03:04:05, P-256 key), made with
    /// Python's `cryptography` for these tests.
    const TEST_CERT: &[u8] = include_bytes!("testdata/test-cert.der");

    fn certificate_msg(certs: &[&[u8]]) -> Vec<u8> {
        let mut list: Vec<u8> = Vec::new();
        for c in certs {
            list.extend(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend(*c);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend(list);
        let mut m = vec![11];
        m.extend(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend(body);
        m
    }

    /// DER: a tag, its length, its content.
    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = content.len();
        if n < 128 {
            v.push(n as u8);
        } else if n < 256 {
            v.extend([0x81, n as u8]);
        } else {
            v.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        v.extend(content);
        v
    }

    /// A Name with one CN of `cn`.
    fn name(cn: &str) -> Vec<u8> {
        let atv = [der(0x06, &[0x55, 4, 3]), der(0x0c, cn.as_bytes())].concat();
        der(0x30, &der(0x31, &der(0x30, &atv)))
    }

    /// A minimal certificate with the given serial, subject CN and SAN names
    /// (the signature is not checked by anyone here).
    fn cert(serial: &[u8], cn: &str, sans: &[String]) -> Vec<u8> {
        let ecdsa_sha256 = der(0x30, &der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2]));
        let time = der(0x17, b"200102030405Z");
        let ec_key = [
            der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 2, 1]),
            der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7]),
        ]
        .concat();
        let mut point = vec![0, 4];
        point.extend([7u8; 64]);
        let spki = der(0x30, &[der(0x30, &ec_key), der(0x03, &point)].concat());
        let names: Vec<u8> = sans.iter().flat_map(|n| der(0x82, n.as_bytes())).collect();
        let san_ext = der(
            0x30,
            &[der(0x06, &[0x55, 29, 17]), der(0x04, &der(0x30, &names))].concat(),
        );
        let tbs = der(
            0x30,
            &[
                der(0xa0, &der(0x02, &[2])),
                der(0x02, serial),
                ecdsa_sha256.clone(),
                name("issuer.example"),
                der(0x30, &[time.clone(), time].concat()),
                name(cn),
                spki,
                der(0xa3, &der(0x30, &san_ext)),
            ]
            .concat(),
        );
        der(
            0x30,
            &[tbs, ecdsa_sha256, der(0x03, &[0, 1, 2, 3])].concat(),
        )
    }

    #[test]
    fn long_fields_are_capped_and_flagged() {
        let sans: Vec<String> = (0..300).map(|i| format!("n{i}.example")).collect();
        let cn = format!("{}.edge.vendor.example", "c".repeat(3000));
        let c = cert(&[0x11; 100], &cn, &sans);
        let parsed = parse_certificate(&certificate_msg(&[&c])).unwrap();
        let info = &parsed.certs[0];
        assert!(!info.malformed, "the test certificate parses");
        assert!(info.truncated);
        assert_eq!(info.subject_cn.as_deref(), Some("edge.vendor.example"));
        assert_eq!(info.subject.len(), MAX_DN);
        assert_eq!(info.serial.len(), MAX_SERIAL_BYTES * 3 - 1);
        assert_eq!(info.san_dns.len(), MAX_SAN);
        // Within every cap: nothing cut.
        let small = cert(&[1, 2], "ok.example", &sans[..3]);
        let parsed = parse_certificate(&certificate_msg(&[&small])).unwrap();
        let info = &parsed.certs[0];
        assert!(!info.malformed && !info.truncated);
        assert_eq!(info.subject, "CN=ok.example");
        assert_eq!(info.san_dns, sans[..3]);
    }

    #[test]
    fn parses_test_certificate() {
        let msg = certificate_msg(&[TEST_CERT]);
        let c = parse_certificate(&msg).unwrap();
        assert_eq!(c.total, 1);
        assert_eq!(c.anomalies, CertAnomalies::empty());
        let info = &c.certs[0];
        assert!(!info.malformed);
        assert_eq!(info.subject, "C=DE, O=Phonehome Test, CN=test.example");
        assert_eq!(info.issuerdn, "C=DE, O=Phonehome Test, CN=test.example");
        assert_eq!(info.serial, "12:34:AB");
        assert_eq!(info.not_before.as_deref(), Some("2020-01-02T03:04:05"));
        assert_eq!(info.not_after.as_deref(), Some("2030-01-02T03:04:05"));
        assert_eq!(info.subject_cn.as_deref(), Some("test.example"));
        assert_eq!(info.san_dns, vec!["test.example", "*.test.example"]);
        assert_eq!(info.der_len, TEST_CERT.len());
        // As `openssl x509 -fingerprint -sha1` prints it, lowercased.
        assert_eq!(
            info.fingerprint,
            "53:15:b6:72:0e:7c:5c:e4:46:77:e5:6b:ee:97:8c:6b:84:06:a2:d5"
        );
    }

    #[test]
    fn malformed_and_truncated_chains() {
        let junk = [0x30u8, 0x03, 0x01, 0x01, 0xff];
        let msg = certificate_msg(&[&junk, TEST_CERT]);
        let c = parse_certificate(&msg).unwrap();
        assert_eq!(c.total, 2);
        assert!(c.certs[0].malformed);
        assert_eq!(c.certs[0].fingerprint.len(), 59);
        assert_eq!(c.certs[0].subject, "");
        assert_eq!(c.certs[1].subject_cn.as_deref(), Some("test.example"));
        assert_eq!(c.anomalies, CertAnomalies::MALFORMED_CERT);
        // Cut inside the second certificate: the first is still read.
        let msg = certificate_msg(&[TEST_CERT, TEST_CERT]);
        let c = parse_certificate(&msg[..msg.len() - 10]).unwrap();
        assert_eq!(c.total, 1);
        assert_eq!(c.certs[0].subject_cn.as_deref(), Some("test.example"));
        assert!(c.anomalies.contains(CertAnomalies::TRUNCATED));
        // Empty chain, wrong type, too short.
        let c = parse_certificate(&certificate_msg(&[])).unwrap();
        assert_eq!(c.anomalies, CertAnomalies::EMPTY_CHAIN);
        assert_eq!(
            parse_certificate(&[2, 0, 0, 0]),
            Err(TlsError::WrongType {
                expected: 11,
                found: 2
            })
        );
        assert_eq!(
            parse_certificate(&[11]),
            Err(TlsError::TooShort { len: 1, need: 4 })
        );
    }

    #[test]
    fn chain_is_bounded() {
        let certs: Vec<&[u8]> = vec![TEST_CERT; MAX_CERTS + 3];
        let c = parse_certificate(&certificate_msg(&certs)).unwrap();
        assert_eq!(c.total, MAX_CERTS + 3);
        assert_eq!(c.certs.len(), MAX_CERTS);
        assert_eq!(c.anomalies, CertAnomalies::TOO_MANY_CERTS);
    }
}
