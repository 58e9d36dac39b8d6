//! Initial packet protection (RFC 9001 §5, RFC 9369 §3.3): key derivation
//! from the client's Destination Connection ID, header protection removal,
//! packet number recovery and AES-128-GCM decryption.
//!
//! The ciphers, HMAC and HKDF are ring's; only the HKDF-Expand-Label framing
//! (RFC 8446 §7.1) is written here.

use ring::aead::{self, quic as hp, Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use ring::hkdf::{KeyType, Prk, Salt, HKDF_SHA256};

use super::version::InitialParams;
use super::QuicError;

const TAG_LEN: usize = 16;
const SAMPLE_LEN: usize = 16;

/// Raw Initial key material of one direction (for tests and diagnostics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyMaterial {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// Which endpoint's Initial secret to derive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) with the "tls13 " prefix.
fn expand_label(prk: &Prk, label: &[u8], out: &mut [u8]) -> Result<(), QuicError> {
    let out_len = u16::try_from(out.len()).map_err(|_| QuicError::KeyDerivation)?;
    let label_len = u8::try_from(label.len() + 6).map_err(|_| QuicError::KeyDerivation)?;
    let len_be = out_len.to_be_bytes();
    let info: [&[u8]; 5] = [&len_be, &[label_len], b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| QuicError::KeyDerivation)
}

thread_local! {
    /// The HMAC key of each Initial salt, set up once per thread rather than
    /// once per connection: 2 of the ~16 SHA-256 blocks a derivation costs.
    /// A handful of published salts; bounded all the same.
    static SALTS: std::cell::RefCell<Vec<(&'static [u8; 20], Salt)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// HKDF-Extract(salt, dcid), with the salt's key from [`SALTS`].
fn extract(salt: &'static [u8; 20], dcid: &[u8]) -> Prk {
    SALTS.with(|cell| {
        let mut salts = cell.borrow_mut();
        if let Some((_, key)) = salts.iter().find(|(s, _)| *s == salt) {
            return key.extract(dcid);
        }
        let key = Salt::new(HKDF_SHA256, salt);
        let prk = key.extract(dcid);
        if salts.len() < 16 {
            salts.push((salt, key));
        }
        prk
    })
}

/// Derives the Initial key material of `side` for a connection whose client
/// chose `dcid` as its first Destination Connection ID.
pub fn initial_material(
    params: &InitialParams,
    dcid: &[u8],
    side: Side,
) -> Result<KeyMaterial, QuicError> {
    let initial = extract(params.salt, dcid);
    let mut secret = [0u8; 32];
    let label: &[u8] = match side {
        Side::Client => b"client in",
        Side::Server => b"server in",
    };
    expand_label(&initial, label, &mut secret)?;
    let prk = Prk::new_less_safe(HKDF_SHA256, &secret);
    let mut m = KeyMaterial {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&prk, params.key_label, &mut m.key)?;
    expand_label(&prk, params.iv_label, &mut m.iv)?;
    expand_label(&prk, params.hp_label, &mut m.hp)?;
    Ok(m)
}

/// Ready-to-use Initial keys of one direction.
pub struct InitialKeys {
    aead: LessSafeKey,
    iv: [u8; 12],
    hp: hp::HeaderProtectionKey,
}

impl std::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialKeys")
    }
}

/// A decrypted packet inside the caller's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Full packet number.
    pub pn: u64,
    /// First byte with header protection removed.
    pub first: u8,
    /// Range of the plaintext payload in the output buffer.
    pub payload: std::ops::Range<usize>,
}

impl InitialKeys {
    pub fn from_material(m: &KeyMaterial) -> Result<Self, QuicError> {
        let aead = UnboundKey::new(&AES_128_GCM, &m.key)
            .map(LessSafeKey::new)
            .map_err(|_| QuicError::KeyDerivation)?;
        let hp = hp::HeaderProtectionKey::new(&hp::AES_128, &m.hp)
            .map_err(|_| QuicError::KeyDerivation)?;
        Ok(InitialKeys { aead, iv: m.iv, hp })
    }

    /// Client Initial keys for `dcid`.
    pub fn client(params: &InitialParams, dcid: &[u8]) -> Result<Self, QuicError> {
        Self::from_material(&initial_material(params, dcid, Side::Client)?)
    }

    /// Removes header protection from the long-header packet `packet` (its
    /// packet number starts at `pn_offset`) and decrypts it into `out`
    /// (cleared first; holds the unprotected header then the plaintext).
    ///
    /// `largest_pn` is the largest packet number already opened in this
    /// packet number space, used to expand the truncated number.
    pub fn open(
        &self,
        packet: &[u8],
        pn_offset: usize,
        largest_pn: Option<u64>,
        out: &mut Vec<u8>,
    ) -> Result<Opened, QuicError> {
        let sample_at = pn_offset.checked_add(4).ok_or(QuicError::Truncated)?;
        let sample = packet
            .get(sample_at..sample_at.saturating_add(SAMPLE_LEN))
            .filter(|s| s.len() == SAMPLE_LEN)
            .ok_or(QuicError::PayloadTooShort)?;
        let mask = self
            .hp
            .new_mask(sample)
            .map_err(|_| QuicError::DecryptFailed)?;
        let first = packet.first().ok_or(QuicError::Truncated)? ^ (mask[0] & 0x0f);
        let pn_len = usize::from(first & 0x03) + 1;
        let hdr_len = pn_offset + pn_len;
        let body_end = packet
            .len()
            .checked_sub(TAG_LEN)
            .filter(|&e| e >= hdr_len)
            .ok_or(QuicError::PayloadTooShort)?;

        out.clear();
        out.extend_from_slice(packet.get(..hdr_len).ok_or(QuicError::Truncated)?);
        if let Some(b) = out.first_mut() {
            *b = first;
        }
        let mut truncated = 0u64;
        for (i, m) in mask.iter().skip(1).take(pn_len).enumerate() {
            if let Some(b) = out.get_mut(pn_offset + i) {
                *b ^= m;
                truncated = (truncated << 8) | u64::from(*b);
            }
        }
        let pn = decode_packet_number(largest_pn, truncated, pn_len * 8);

        let mut nonce = self.iv;
        for (n, p) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
            *n ^= p;
        }
        let tag = packet
            .get(body_end..)
            .and_then(|t| aead::Tag::try_from(t).ok())
            .ok_or(QuicError::PayloadTooShort)?;
        out.extend_from_slice(packet.get(hdr_len..body_end).ok_or(QuicError::Truncated)?);
        let (aad, body) = out.split_at_mut(hdr_len);
        self.aead
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*aad),
                tag,
                body,
                0..,
            )
            .map_err(|_| QuicError::DecryptFailed)?;
        Ok(Opened {
            pn,
            first,
            payload: hdr_len..out.len(),
        })
    }
}

/// Expands a truncated packet number (RFC 9000 Appendix A.3).
pub fn decode_packet_number(largest: Option<u64>, truncated: u64, bits: usize) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << bits.min(62);
    let hwin = win / 2;
    let candidate = (expected & !(win - 1)) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62).saturating_sub(win) {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::super::version::{initial_params, V1, V2};
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const DCID: &str = "8394c8f03e515708";

    #[test]
    fn rfc9001_a1_keys() {
        let p = initial_params(V1).unwrap();
        let c = initial_material(p, &hex(DCID), Side::Client).unwrap();
        assert_eq!(c.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(c.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(c.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        let s = initial_material(p, &hex(DCID), Side::Server).unwrap();
        assert_eq!(s.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(s.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
        assert_eq!(s.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
    }

    #[test]
    fn rfc9369_a1_keys() {
        let p = initial_params(V2).unwrap();
        let c = initial_material(p, &hex(DCID), Side::Client).unwrap();
        assert_eq!(c.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(c.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
        assert_eq!(c.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
        let s = initial_material(p, &hex(DCID), Side::Server).unwrap();
        assert_eq!(s.key.to_vec(), hex("82db637861d55e1d011f19ea71d5d2a7"));
        assert_eq!(s.iv.to_vec(), hex("dd13c276499c0249d3310652"));
        assert_eq!(s.hp.to_vec(), hex("edf6d05c83121201b436e16877593c3a"));
    }

    fn open_client_sample(version: u32, file: &str, header: &str) {
        let p = initial_params(version).unwrap();
        let pkt = hex(file);
        let keys = InitialKeys::client(p, &hex(DCID)).unwrap();
        let mut out = Vec::new();
        let o = keys.open(&pkt, 18, None, &mut out).unwrap();
        assert_eq!(o.pn, 2);
        // The unprotected header given in the RFC.
        assert_eq!(out[..o.payload.start], hex(header)[..]);
        let payload = &out[o.payload.clone()];
        assert_eq!(payload.len(), 1162);
        let frame = hex(include_str!("testdata/rfc_client_crypto_frame.hex"));
        assert_eq!(payload[..frame.len()], frame[..]);
        assert!(payload[frame.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn rfc9001_a2_client_initial_opens() {
        open_client_sample(
            V1,
            include_str!("testdata/rfc9001_client_initial.hex"),
            "c300000001088394c8f03e5157080000449e00000002",
        );
    }

    #[test]
    fn rfc9369_a2_client_initial_opens() {
        open_client_sample(
            V2,
            include_str!("testdata/rfc9369_client_initial.hex"),
            "d36b3343cf088394c8f03e5157080000449e00000002",
        );
    }

    #[test]
    fn rfc9001_a3_server_initial_opens() {
        let p = initial_params(V1).unwrap();
        let m = initial_material(p, &hex(DCID), Side::Server).unwrap();
        let keys = InitialKeys::from_material(&m).unwrap();
        let pkt = hex(include_str!("testdata/rfc9001_server_initial.hex"));
        let mut out = Vec::new();
        // Header: c1 00000001 00 08 f067a5502a4262b5 00 4075 | pn (2 bytes)
        let o = keys.open(&pkt, 18, None, &mut out).unwrap();
        assert_eq!(o.pn, 1);
        assert_eq!(o.first, 0xc1);
        assert_eq!(
            out[o.payload.start..o.payload.start + 6],
            hex("020000000006")[..]
        );
    }

    #[test]
    fn wrong_dcid_or_tampering_fails() {
        let p = initial_params(V1).unwrap();
        let pkt = hex(include_str!("testdata/rfc9001_client_initial.hex"));
        let mut out = Vec::new();
        let wrong = InitialKeys::client(p, &hex("8394c8f03e515709")).unwrap();
        assert_eq!(
            wrong.open(&pkt, 18, None, &mut out),
            Err(QuicError::DecryptFailed)
        );
        let right = InitialKeys::client(p, &hex(DCID)).unwrap();
        let mut bad = pkt.clone();
        bad[600] ^= 1;
        assert_eq!(
            right.open(&bad, 18, None, &mut out),
            Err(QuicError::DecryptFailed)
        );
        // Too short to hold a header-protection sample.
        assert_eq!(
            right.open(&pkt[..30], 18, None, &mut out),
            Err(QuicError::PayloadTooShort)
        );
        assert_eq!(
            right.open(&pkt, 5000, None, &mut out),
            Err(QuicError::PayloadTooShort)
        );
    }

    #[test]
    fn packet_number_decoding_rfc9000_a3() {
        // The worked example of RFC 9000 Appendix A.3.
        assert_eq!(
            decode_packet_number(Some(0xa82f30ea), 0x9b32, 16),
            0xa82f9b32
        );
        assert_eq!(decode_packet_number(None, 2, 32), 2);
        assert_eq!(decode_packet_number(Some(254), 1, 8), 257);
        assert_eq!(decode_packet_number(Some(300), 0xff, 8), 255);
    }
}
