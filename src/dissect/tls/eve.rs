//! Suricata EVE `tls` object (see reference/suricata-eve-schema.json).
//!
//! Only fields of Suricata's schema are written here; phonehome's own
//! additions (the ECH flag) are added by the output stage.

#[cfg(test)]
use serde_json::{json, Map, Value};

use super::fingerprint::{ja3_key, md5_hex, push_ja3_string, push_ja3s_string, push_ja4};
use super::{escape_name, version_string, CertInfo, ClientHello, ServerHello, Transport};
#[cfg(test)]
use super::{ja3, ja3s, ja4};
use crate::base::json::{push_str, Obj};

/// What one TLS session showed, for [`write_eve`].
#[derive(Clone, Copy, Debug)]
pub struct EveTls<'a> {
    pub client_hello: Option<&'a ClientHello>,
    pub server_hello: Option<&'a ServerHello>,
    /// The server's own certificate (first of its chain).
    pub server_cert: Option<&'a CertInfo>,
    /// What carried the ClientHello (for JA4).
    pub transport: Transport,
}

#[cfg(test)]
/// Builds the EVE `tls` object. `version` is the server's negotiated
/// version, else the client's offered one (see [`logged_version`]).
///
/// [`write_eve`] writes the same object, byte for byte, without building it.
pub fn to_eve(t: &EveTls<'_>) -> Value {
    let mut o = Map::new();
    o.insert("version".into(), json!(version_string(logged_version(t))));

    if let Some(ch) = t.client_hello {
        if let Some(sni) = &ch.sni {
            o.insert("sni".into(), json!(sni));
        }
        if let Some(j) = ja3(ch) {
            o.insert("ja3".into(), json!({"hash": j.hash, "string": j.string}));
        }
        o.insert("ja4".into(), json!(ja4(ch, t.transport)));
        if !ch.alpn.is_empty() {
            o.insert("client_alpns".into(), json!(ch.alpn_strings()));
        }
        let mut hs = Map::new();
        hs.insert("version".into(), json!(version_string(ch.legacy_version)));
        insert_list(&mut hs, "ciphers", &ch.cipher_suites);
        insert_list(&mut hs, "exts", &ch.extensions);
        insert_list(&mut hs, "sig_algs", &ch.signature_algorithms);
        o.insert("client_handshake".into(), Value::Object(hs));
    }

    if let Some(sh) = t.server_hello {
        let j = ja3s(sh);
        o.insert("ja3s".into(), json!({"hash": j.hash, "string": j.string}));
        if let Some(alpn) = sh.alpn_string() {
            o.insert("server_alpns".into(), json!([alpn]));
        }
        let mut hs = Map::new();
        hs.insert("version".into(), json!(version_string(sh.version)));
        hs.insert("cipher".into(), json!(sh.cipher));
        insert_list(&mut hs, "exts", &sh.extensions);
        o.insert("server_handshake".into(), Value::Object(hs));
    }

    if let Some(c) = t.server_cert {
        o.insert("fingerprint".into(), json!(c.fingerprint));
        if !c.malformed {
            o.insert("subject".into(), json!(c.subject));
            o.insert("issuerdn".into(), json!(c.issuerdn));
            o.insert("serial".into(), json!(c.serial));
            if let Some(nb) = &c.not_before {
                o.insert("notbefore".into(), json!(nb));
            }
            if let Some(na) = &c.not_after {
                o.insert("notafter".into(), json!(na));
            }
            if !c.san_dns.is_empty() {
                o.insert("subjectaltname".into(), json!(c.san_dns));
            }
        }
    }
    Value::Object(o)
}

#[cfg(test)]
/// The schema wants at least one item in these arrays: omit empty ones.
fn insert_list(o: &mut Map<String, Value>, key: &str, items: &[u16]) {
    if !items.is_empty() {
        o.insert(key.into(), json!(items));
    }
}

/// Writes the fields of the EVE `tls` object into `o`: the same keys and
/// bytes as `to_eve` (the test-only twin) serialized (keys in sorted order, as a
/// `serde_json::Map` keeps them), with no intermediate tree.
pub fn write_eve(o: &mut Obj<'_>, t: &EveTls<'_>) {
    let ch = t.client_hello;
    let sh = t.server_hello;
    // Certificate fields are logged only when the DER parsed.
    let cert = t.server_cert.filter(|c| !c.malformed);
    if let Some(ch) = ch {
        if !ch.alpn.is_empty() {
            o.arr("client_alpns", |a| {
                for v in &ch.alpn {
                    a.raw(|out| push_name(out, v));
                }
            });
        }
        o.obj("client_handshake", |hs| {
            u16_list(hs, "ciphers", &ch.cipher_suites);
            u16_list(hs, "exts", &ch.extensions);
            u16_list(hs, "sig_algs", &ch.signature_algorithms);
            version_field(hs, ch.legacy_version);
        });
    }
    if let Some(c) = t.server_cert {
        o.str("fingerprint", &c.fingerprint);
    }
    if let Some(c) = cert {
        o.str("issuerdn", &c.issuerdn);
    }
    if let Some(ch) = ch {
        write_ja3(o, ch);
    }
    if let Some(sh) = sh {
        ja3_object(o, "ja3s", |out| push_ja3s_string(out, sh));
    }
    if let Some(ch) = ch {
        write_ja4(o, ch, t.transport);
    }
    if let Some(c) = cert {
        if let Some(na) = &c.not_after {
            o.str("notafter", na);
        }
        if let Some(nb) = &c.not_before {
            o.str("notbefore", nb);
        }
        o.str("serial", &c.serial);
    }
    if let Some(sh) = sh {
        if let Some(alpn) = &sh.alpn {
            o.arr("server_alpns", |a| {
                a.raw(|out| push_name(out, alpn));
            });
        }
        o.obj("server_handshake", |hs| {
            hs.u64("cipher", u64::from(sh.cipher));
            u16_list(hs, "exts", &sh.extensions);
            version_field(hs, sh.version);
        });
    }
    if let Some(sni) = ch.and_then(|ch| ch.sni.as_deref()) {
        o.str("sni", sni);
    }
    if let Some(c) = cert {
        o.str("subject", &c.subject);
        if !c.san_dns.is_empty() {
            o.str_list("subjectaltname", c.san_dns.iter().map(String::as_str));
        }
    }
    version_field(o, logged_version(t));
}

/// `tls.version` as Suricata logs it: the server's version, falling back to
/// what the client offered when no ServerHello was seen (a client that got
/// no answer, or a capture cut short); 0 ("UNDETERMINED") without either.
pub fn logged_version(t: &EveTls<'_>) -> u16 {
    match (t.server_hello, t.client_hello) {
        (Some(sh), _) if sh.version != 0 => sh.version,
        (_, Some(ch)) => ch.offered_version(),
        _ => 0,
    }
}

/// `ja3`: `{"hash": .., "string": ..}`, absent for an SSLv2-format hello;
/// remembered per thread for hellos that agree on what it depends on.
pub fn write_ja3(o: &mut Obj<'_>, ch: &ClientHello) {
    if !ch.sslv2 {
        o.raw("ja3", |out| {
            super::memo::ja3_object(
                out,
                |k| ja3_key(k, ch),
                |out| {
                    push_ja3_object(out, |out| {
                        push_ja3_string(out, ch);
                    });
                },
            );
        });
    }
}

/// `ja4`: the JA4 fingerprint of `ch`.
pub fn write_ja4(o: &mut Obj<'_>, ch: &ClientHello, transport: Transport) {
    o.str_with("ja4", |out| push_ja4(out, ch, transport));
}

/// `{"hash":"<md5>","string":"<s>"}` where `emit` appends s (digits, commas
/// and dashes: nothing to escape). The hash goes first but is known last: a
/// placeholder is written and filled in once the string is there.
fn ja3_object(o: &mut Obj<'_>, key: &str, emit: impl FnOnce(&mut Vec<u8>)) {
    o.raw(key, |out| push_ja3_object(out, emit));
}

/// The value [`ja3_object`] writes.
fn push_ja3_object(out: &mut Vec<u8>, emit: impl FnOnce(&mut Vec<u8>)) {
    out.extend_from_slice(b"{\"hash\":\"");
    let hash_at = out.len();
    out.extend_from_slice(&[b'0'; 32]);
    out.extend_from_slice(b"\",\"string\":\"");
    let string_at = out.len();
    emit(out);
    let hash = md5_hex(out.get(string_at..).unwrap_or_default());
    if let Some(dst) = out.get_mut(hash_at..hash_at + hash.len()) {
        dst.copy_from_slice(&hash);
    }
    out.extend_from_slice(b"\"}");
}

/// A protocol name as [`escape_name`] renders it, as a JSON string; printable
/// ASCII (the usual case) is written without a temporary string.
fn push_name(out: &mut Vec<u8>, bytes: &[u8]) {
    let printable = bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\');
    match std::str::from_utf8(bytes) {
        Ok(s) if printable => push_str(out, s),
        _ => push_str(out, &escape_name(bytes).0),
    }
}

/// `version` as [`version_string`] gives it (names or digits: nothing to
/// escape).
fn version_field(o: &mut Obj<'_>, v: u16) {
    o.plain("version", version_string(v).as_bytes());
}

/// The schema wants at least one item in these arrays: omit empty ones.
fn u16_list(o: &mut Obj<'_>, key: &str, items: &[u16]) {
    if !items.is_empty() {
        o.u16_list(key, items);
    }
}

#[cfg(test)]
mod tests {
    use super::super::hello::build::*;
    use super::super::{parse_certificate, parse_client_hello, parse_server_hello};
    use super::*;

    fn schema_validator() -> jsonschema::Validator {
        let path = std::env::var("PHONEHOME_SHARED")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared").to_owned());
        let text = std::fs::read_to_string(format!("{path}/reference/suricata-eve-schema.json"))
            .expect("shared/reference/suricata-eve-schema.json must exist");
        let schema: Value = serde_json::from_str(&text).unwrap();
        jsonschema::validator_for(&schema).unwrap()
    }

    fn event(tls: Value) -> Value {
        json!({"timestamp": "2024-01-01T00:00:00.000000+0000", "event_type": "tls", "tls": tls})
    }

    fn hellos() -> (ClientHello, ServerHello) {
        let exts = [
            ext(0x0a0a, &[]),
            sni(b"www.example.com"),
            alpn(&[b"h2", b"http/1.1"]),
            ext(10, &vec16(&[29, 23], 2)),
            ext(11, &with_len(&[0], 1)),
            ext(13, &vec16(&[0x0403], 2)),
        ]
        .concat();
        let ch = parse_client_hello(&client_hello(0x0303, &[0x1a1a, 0xc02f], Some(&exts))).unwrap();
        let sexts = [ext(0xff01, &[0]), alpn(&[b"h2"])].concat();
        let sh = parse_server_hello(&server_hello(0x0303, [3; 32], 0xc02f, &sexts)).unwrap();
        (ch, sh)
    }

    #[test]
    fn full_object_matches_and_validates() {
        let (ch, sh) = hellos();
        let mut m = vec![11, 0, 0, 0, 0, 0, 0];
        let der = include_bytes!("testdata/test-cert.der");
        m.extend(&(der.len() as u32).to_be_bytes()[1..]);
        m.extend(der);
        let list = (m.len() - 7) as u32;
        m[4..7].copy_from_slice(&list.to_be_bytes()[1..]);
        m[1..4].copy_from_slice(&(list + 3).to_be_bytes()[1..]);
        let certs = parse_certificate(&m).unwrap();
        let v = to_eve(&EveTls {
            client_hello: Some(&ch),
            server_hello: Some(&sh),
            server_cert: certs.certs.first(),
            transport: Transport::Tcp,
        });
        assert_eq!(v["sni"], "www.example.com");
        assert_eq!(v["version"], "TLS 1.2");
        assert_eq!(v["ja3"]["string"], "771,49199,0-16-10-11-13,29-23,0");
        assert_eq!(v["ja3s"]["string"], "771,49199,65281-16");
        assert_eq!(v["ja4"], ja4(&ch, Transport::Tcp));
        assert_eq!(v["client_alpns"], json!(["h2", "http/1.1"]));
        assert_eq!(v["server_alpns"], json!(["h2"]));
        assert_eq!(v["subject"], "C=DE, O=Phonehome Test, CN=test.example");
        assert_eq!(v["serial"], "12:34:AB");
        assert_eq!(v["notbefore"], "2020-01-02T03:04:05");
        assert_eq!(v["notafter"], "2030-01-02T03:04:05");
        assert_eq!(
            v["subjectaltname"],
            json!(["test.example", "*.test.example"])
        );
        assert_eq!(v["client_handshake"]["ciphers"], json!([0x1a1a, 0xc02f]));
        assert_eq!(v["server_handshake"]["cipher"], json!(0xc02f));
        assert!(v.get("ech").is_none());
        let validator = schema_validator();
        let ev = event(v);
        let errors: Vec<String> = validator.iter_errors(&ev).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
    }

    fn written(t: &EveTls<'_>) -> String {
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        write_eve(&mut o, t);
        o.end();
        String::from_utf8(buf).unwrap()
    }

    fn test_cert() -> CertInfo {
        let mut m = vec![11, 0, 0, 0, 0, 0, 0];
        let der = include_bytes!("testdata/test-cert.der");
        m.extend(&(der.len() as u32).to_be_bytes()[1..]);
        m.extend(der);
        let list = (m.len() - 7) as u32;
        m[4..7].copy_from_slice(&list.to_be_bytes()[1..]);
        m[1..4].copy_from_slice(&(list + 3).to_be_bytes()[1..]);
        parse_certificate(&m).unwrap().certs.remove(0)
    }

    #[test]
    fn writer_gives_the_bytes_of_the_serialized_value() {
        let (ch, sh) = hellos();
        // Odd names: JSON escapes in SNI and ALPN, an ALPN that escape_name
        // rewrites, a quote in JA4's ALPN characters, unknown versions.
        let odd_ch = ClientHello {
            legacy_version: 0x1234,
            sni: Some("q\"uote\\d.example\u{1}".into()),
            alpn: vec![
                b"\"x\x01".to_vec(),
                b"h\\2".to_vec(),
                b"\xff\xfe".to_vec(),
                vec![],
            ],
            ech: true,
            ..ch.clone()
        };
        let empty_alpn = ClientHello {
            alpn: vec![vec![]],
            ..ch.clone()
        };
        let sslv2 = ClientHello {
            legacy_version: 0x0002,
            sslv2: true,
            cipher_suites: vec![0x0039],
            ..ClientHello::default()
        };
        let bare = ClientHello::default();
        let odd_sh = ServerHello {
            version: 0x7f17,
            alpn: Some(b"h2\"\n".to_vec()),
            extensions: Vec::new(),
            ..sh.clone()
        };
        let unknown_sh = ServerHello {
            version: 0xabcd,
            alpn: Some(b"\xc3\xa9t\xc3\xa9".to_vec()),
            ..sh.clone()
        };
        let cert = test_cert();
        let bare_cert = CertInfo {
            not_before: None,
            not_after: None,
            san_dns: Vec::new(),
            subject: "CN=\"odd\"".into(),
            ..cert.clone()
        };
        let bad_cert = CertInfo {
            fingerprint: "00:11".into(),
            malformed: true,
            ..cert.clone()
        };
        let chs = [
            None,
            Some(&ch),
            Some(&odd_ch),
            Some(&empty_alpn),
            Some(&sslv2),
            Some(&bare),
        ];
        let shs = [None, Some(&sh), Some(&odd_sh), Some(&unknown_sh)];
        let certs = [None, Some(&cert), Some(&bare_cert), Some(&bad_cert)];
        let mut compared = 0;
        for client_hello in chs {
            for server_hello in shs {
                for server_cert in certs {
                    for transport in [Transport::Tcp, Transport::Quic, Transport::Dtls] {
                        let t = EveTls {
                            client_hello,
                            server_hello,
                            server_cert,
                            transport,
                        };
                        let expected = serde_json::to_string(&to_eve(&t)).unwrap();
                        assert_eq!(written(&t), expected, "{t:?}");
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 6 * 4 * 4 * 3);
        // The quote among JA4's ALPN characters is escaped.
        let t = EveTls {
            client_hello: Some(&odd_ch),
            server_hello: None,
            server_cert: None,
            transport: Transport::Tcp,
        };
        assert!(
            written(&t).contains(r#""ja4":"t00d0105\"\u0001_"#),
            "{}",
            written(&t)
        );
    }

    #[test]
    fn version_falls_back_to_the_clients_offer() {
        let only_client = |ch: &ClientHello| {
            let t = EveTls {
                client_hello: Some(ch),
                server_hello: None,
                server_cert: None,
                transport: Transport::Tcp,
            };
            let w: Value = serde_json::from_str(&written(&t)).unwrap();
            assert_eq!(to_eve(&t)["version"], w["version"]);
            w["version"].clone()
        };
        let tls10 = ClientHello {
            legacy_version: 0x0301,
            ..ClientHello::default()
        };
        assert_eq!(only_client(&tls10), "TLSv1");
        // supported_versions: the first known one, past GREASE and unknown values.
        let tls13 = ClientHello {
            legacy_version: 0x0303,
            supported_versions: vec![0x1a1a, 0x0305, 0x0304, 0x0303],
            ..ClientHello::default()
        };
        assert_eq!(only_client(&tls13), "TLS 1.3");
        let draft = ClientHello {
            legacy_version: 0x0303,
            supported_versions: vec![0x7f17, 0x0303],
            ..ClientHello::default()
        };
        assert_eq!(only_client(&draft), "TLS 1.3 draft-23");
        // 0x0304 in legacy_version is an early draft, as in a ServerHello.
        let early = ClientHello {
            legacy_version: 0x0304,
            ..ClientHello::default()
        };
        assert_eq!(only_client(&early), "TLS 1.3 draft-<16");
        // The server's version wins when there is one.
        let sh = ServerHello {
            version: 0x0303,
            ..ServerHello::default()
        };
        let t = EveTls {
            client_hello: Some(&tls13),
            server_hello: Some(&sh),
            server_cert: None,
            transport: Transport::Tcp,
        };
        assert_eq!(to_eve(&t)["version"], "TLS 1.2");
        let none = EveTls {
            client_hello: None,
            server_hello: None,
            server_cert: None,
            transport: Transport::Tcp,
        };
        assert_eq!(to_eve(&none)["version"], "UNDETERMINED");
    }

    #[test]
    fn minimal_objects_validate() {
        let validator = schema_validator();
        // Only a bare SSLv2-style hello: no JA3, no SNI, no lists.
        let ch = ClientHello {
            legacy_version: 0x0002,
            sslv2: true,
            ..ClientHello::default()
        };
        let v = to_eve(&EveTls {
            client_hello: Some(&ch),
            server_hello: None,
            server_cert: None,
            transport: Transport::Tcp,
        });
        // No ServerHello: the version is the client's, unknown values as numbers.
        assert_eq!(
            v,
            json!({
                "version": "2",
                "ja4": "ts2i000000_000000000000_000000000000",
                "client_handshake": {"version": "2"},
            })
        );
        assert!(validator.is_valid(&event(v)));
        // A malformed certificate gives only its fingerprint.
        let bad = CertInfo {
            fingerprint: "00:11".into(),
            malformed: true,
            ..CertInfo::default()
        };
        let v = to_eve(&EveTls {
            client_hello: None,
            server_hello: None,
            server_cert: Some(&bad),
            transport: Transport::Tcp,
        });
        assert_eq!(
            v,
            json!({"version": "UNDETERMINED", "fingerprint": "00:11"})
        );
        assert!(validator.is_valid(&event(v)));
        // The validator does reject what the schema forbids.
        assert!(!validator.is_valid(&event(json!({"ech": true}))));
    }
}
