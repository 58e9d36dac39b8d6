//! Minimal DER encoder for X.509 v3 certificates signed with Ed25519. Ed25519 signatures are
//! deterministic (RFC 8032), so the certificates, and the capture, are the same on every run.

use ring::signature::{Ed25519KeyPair, KeyPair};

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let rest: Vec<u8> = bytes.iter().skip(skip).copied().collect();
        out.push(0x80 | rest.len() as u8);
        out.extend_from_slice(&rest);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(content.len() + 4);
    v.push(tag);
    der_len(&mut v, content.len());
    v.extend_from_slice(content);
    v
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

const OID_ED25519: [u8; 3] = [0x2b, 0x65, 0x70];
const OID_CN: [u8; 3] = [0x55, 0x04, 0x03];
const OID_C: [u8; 3] = [0x55, 0x04, 0x06];
const OID_O: [u8; 3] = [0x55, 0x04, 0x0a];
const OID_SAN: [u8; 3] = [0x55, 0x1d, 0x11];
const OID_BASIC_CONSTRAINTS: [u8; 3] = [0x55, 0x1d, 0x13];

/// A distinguished name: country, organisation, common name.
#[derive(Clone, Debug)]
pub struct Name {
    pub country: String,
    pub org: String,
    pub cn: String,
}

impl Name {
    fn der(&self) -> Vec<u8> {
        let atv =
            |oid: &[u8], tag: u8, v: &str| set(&[seq(&[tlv(0x06, oid), tlv(tag, v.as_bytes())])]);
        seq(&[
            atv(&OID_C, 0x13, &self.country), // PrintableString
            atv(&OID_O, 0x0c, &self.org),     // UTF8String
            atv(&OID_CN, 0x0c, &self.cn),
        ])
    }

    /// RFC 4514-style rendering, most specific first (as openssl -nameopt RFC2253 prints).
    pub fn rfc4514(&self) -> String {
        format!("CN={},O={},C={}", self.cn, self.org, self.country)
    }
}

pub struct CertSpec<'a> {
    pub serial: u64,
    pub subject: Name,
    pub issuer: Name,
    pub san_dns: Vec<String>,
    pub is_ca: bool,
    /// UTCTime strings, e.g. "250101000000Z".
    pub not_before: &'a str,
    pub not_after: &'a str,
}

/// Signs `spec` with `issuer_key`; the subject key is `subject_key`. Returns DER.
pub fn certificate(
    spec: &CertSpec<'_>,
    subject_key: &Ed25519KeyPair,
    issuer_key: &Ed25519KeyPair,
) -> Vec<u8> {
    let alg = seq(&[tlv(0x06, &OID_ED25519)]);
    let mut serial = spec.serial.to_be_bytes().to_vec();
    while serial.len() > 1 && serial.first() == Some(&0) {
        serial.remove(0);
    }
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        serial.insert(0, 0);
    }
    let mut spki_bits = vec![0u8];
    spki_bits.extend_from_slice(subject_key.public_key().as_ref());
    let spki = seq(&[alg.clone(), tlv(0x03, &spki_bits)]);
    let mut exts = Vec::new();
    if !spec.san_dns.is_empty() {
        let names: Vec<Vec<u8>> = spec
            .san_dns
            .iter()
            .map(|n| tlv(0x82, n.as_bytes()))
            .collect();
        exts.push(seq(&[tlv(0x06, &OID_SAN), tlv(0x04, &seq(&names))]));
    }
    if spec.is_ca {
        // critical, cA TRUE
        exts.push(seq(&[
            tlv(0x06, &OID_BASIC_CONSTRAINTS),
            tlv(0x01, &[0xff]),
            tlv(0x04, &seq(&[tlv(0x01, &[0xff])])),
        ]));
    }
    let tbs = seq(&[
        tlv(0xa0, &tlv(0x02, &[2])),
        tlv(0x02, &serial),
        alg.clone(),
        spec.issuer.der(),
        seq(&[
            tlv(0x17, spec.not_before.as_bytes()),
            tlv(0x17, spec.not_after.as_bytes()),
        ]),
        spec.subject.der(),
        spki,
        tlv(0xa3, &seq(&exts)),
    ]);
    let sig = issuer_key.sign(&tbs);
    let mut sig_bits = vec![0u8];
    sig_bits.extend_from_slice(sig.as_ref());
    seq(&[tbs, alg, tlv(0x03, &sig_bits)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_use_the_long_form() {
        let mut v = Vec::new();
        der_len(&mut v, 0x7f);
        der_len(&mut v, 0x80);
        der_len(&mut v, 0x1234);
        assert_eq!(v, [0x7f, 0x81, 0x80, 0x82, 0x12, 0x34]);
    }

    #[test]
    fn certificate_verifies_with_the_issuer_key_and_carries_its_names() {
        let ca = Ed25519KeyPair::from_seed_unchecked(&[1u8; 32]).unwrap();
        let leaf = Ed25519KeyPair::from_seed_unchecked(&[2u8; 32]).unwrap();
        let issuer = Name {
            country: "US".into(),
            org: "Demo".into(),
            cn: "Demo CA".into(),
        };
        let spec = CertSpec {
            serial: 0x8001,
            subject: Name {
                country: "US".into(),
                org: "Demo".into(),
                cn: "a.example".into(),
            },
            issuer,
            san_dns: vec!["a.example".into(), "*.example".into()],
            is_ca: false,
            not_before: "250101000000Z",
            not_after: "260101000000Z",
        };
        let der = certificate(&spec, &leaf, &ca);
        let again = certificate(&spec, &leaf, &ca);
        assert_eq!(der, again, "Ed25519 signing is deterministic");
        // Outer SEQUENCE length matches, signature is the last 64 bytes and verifies.
        assert_eq!(der[0], 0x30);
        let sig = &der[der.len() - 64..];
        // tbs is the first element inside the outer sequence
        let hdr = if der[1] & 0x80 != 0 {
            2 + (der[1] & 0x7f) as usize
        } else {
            2
        };
        let tbs_hdr = if der[hdr + 1] & 0x80 != 0 {
            2 + (der[hdr + 1] & 0x7f) as usize
        } else {
            2
        };
        let tbs_len = match tbs_hdr {
            2 => der[hdr + 1] as usize,
            3 => der[hdr + 2] as usize,
            _ => u16::from_be_bytes([der[hdr + 2], der[hdr + 3]]) as usize,
        };
        let tbs = &der[hdr..hdr + tbs_hdr + tbs_len];
        let pk = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ED25519,
            ca.public_key().as_ref(),
        );
        pk.verify(tbs, sig).unwrap();
        assert!(der.windows(9).any(|w| w == b"a.example"));
        assert!(der.windows(9).any(|w| w == b"*.example"));
    }
}
