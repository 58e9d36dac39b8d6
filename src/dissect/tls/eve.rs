//! Suricata EVE `tls` object (see reference/suricata-eve-schema.json).
//!
//! Only fields of Suricata's schema are written here; phonehome's own
//! additions (the ECH flag) are added by the report stage.

use serde_json::{json, Map, Value};

use super::{ja3, ja3s, ja4, version_string, CertInfo, ClientHello, ServerHello, Transport};

/// What one TLS session showed, for [`to_eve`].
#[derive(Clone, Copy, Debug)]
pub struct EveTls<'a> {
    pub client_hello: Option<&'a ClientHello>,
    pub server_hello: Option<&'a ServerHello>,
    /// The server's own certificate (first of its chain).
    pub server_cert: Option<&'a CertInfo>,
    /// What carried the ClientHello (for JA4).
    pub transport: Transport,
}

/// Builds the EVE `tls` object. `version` is the server's negotiated
/// version, "UNDETERMINED" without a ServerHello, as Suricata logs it.
pub fn to_eve(t: &EveTls<'_>) -> Value {
    let mut o = Map::new();
    let version = t.server_hello.map_or(0, |sh| sh.version);
    o.insert("version".into(), json!(version_string(version)));

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

/// The schema wants at least one item in these arrays: omit empty ones.
fn insert_list(o: &mut Map<String, Value>, key: &str, items: &[u16]) {
    if !items.is_empty() {
        o.insert(key.into(), json!(items));
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
        assert_eq!(
            v,
            json!({
                "version": "UNDETERMINED",
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
