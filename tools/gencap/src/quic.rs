//! QUIC v1 Initial packets with real packet protection (RFC 9001 section 5): keys derived from
//! the client's Destination Connection ID, AES-128-GCM payload, AES-ECB header protection.

use ring::aead::{self, quic::HeaderProtectionKey, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

/// RFC 9001 section 5.2 initial salt for QUIC version 1.
const INITIAL_SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];

#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    #[error("key derivation failed")]
    Hkdf,
    #[error("packet protection failed")]
    Seal,
    #[error("packet too short for a header-protection sample")]
    Short,
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context.
fn expand_label(prk: &hkdf::Prk, label: &str, out: &mut [u8]) -> Result<(), QuicError> {
    let full = format!("tls13 {label}");
    let len = (out.len() as u16).to_be_bytes();
    let lbl_len = [full.len() as u8];
    let ctx_len = [0u8];
    let info: [&[u8]; 4] = [&len, &lbl_len, full.as_bytes(), &ctx_len];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| QuicError::Hkdf)
}

/// Keys for one direction of the Initial space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialKeys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// The initial salt of QUIC draft-29 (draft-ietf-quic-tls-29 section 5.2), which Wireshark
/// 4.0 also uses for a version it does not know (such as a reserved one).
pub const INITIAL_SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];

pub fn initial_keys(dcid: &[u8], server: bool) -> Result<InitialKeys, QuicError> {
    initial_keys_salted(&INITIAL_SALT_V1, dcid, server)
}

/// [`initial_keys`] from another initial salt (the labels stay v1's).
pub fn initial_keys_salted(
    salt: &[u8; 20],
    dcid: &[u8],
    server: bool,
) -> Result<InitialKeys, QuicError> {
    let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(dcid);
    let mut secret = [0u8; 32];
    expand_label(
        &initial,
        if server { "server in" } else { "client in" },
        &mut secret,
    )?;
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
    let mut k = InitialKeys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&prk, "quic key", &mut k.key)?;
    expand_label(&prk, "quic iv", &mut k.iv)?;
    expand_label(&prk, "quic hp", &mut k.hp)?;
    Ok(k)
}

pub fn put_varint(out: &mut Vec<u8>, v: u64) {
    if v < 1 << 6 {
        out.push(v as u8);
    } else if v < 1 << 14 {
        out.extend_from_slice(&((v as u16) | 0x4000).to_be_bytes());
    } else if v < 1 << 30 {
        out.extend_from_slice(&((v as u32) | 0x8000_0000).to_be_bytes());
    } else {
        out.extend_from_slice(&(v | 0xc000_0000_0000_0000).to_be_bytes());
    }
}

/// A CRYPTO frame.
pub fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    put_varint(&mut f, offset);
    put_varint(&mut f, data.len() as u64);
    f.extend_from_slice(data);
    f
}

/// An ACK frame acknowledging packet numbers 0..=largest in one range.
pub fn ack_frame(largest: u64) -> Vec<u8> {
    let mut f = vec![0x02];
    put_varint(&mut f, largest);
    put_varint(&mut f, 0); // ack delay
    put_varint(&mut f, 0); // no extra ranges
    put_varint(&mut f, largest); // first range
    f
}

/// Builds a protected Initial packet. `frames` is padded with PADDING frames so the whole
/// packet is at least `min_len` bytes (1200 for a client's datagram). Packet numbers are
/// encoded on 2 bytes.
pub fn initial_packet(
    keys: &InitialKeys,
    dcid: &[u8],
    scid: &[u8],
    pn: u32,
    frames: &[u8],
    min_len: usize,
) -> Result<Vec<u8>, QuicError> {
    initial_packet_version(keys, 1, dcid, scid, pn, frames, min_len)
}

/// [`initial_packet`] with another version number in the long header and the same v1
/// layout and keys, as clients build an Initial of a reserved version `0x?a?a?a?a` (RFC 9000
/// section 15) to provoke version negotiation.
pub fn initial_packet_version(
    keys: &InitialKeys,
    version: u32,
    dcid: &[u8],
    scid: &[u8],
    pn: u32,
    frames: &[u8],
    min_len: usize,
) -> Result<Vec<u8>, QuicError> {
    const PN_LEN: usize = 2;
    let mut hdr = vec![0xc0 | (PN_LEN as u8 - 1)];
    hdr.extend_from_slice(&version.to_be_bytes());
    hdr.push(dcid.len() as u8);
    hdr.extend_from_slice(dcid);
    hdr.push(scid.len() as u8);
    hdr.extend_from_slice(scid);
    hdr.push(0); // token length
                 // Length is a 2-byte varint here; pad the plaintext so the packet reaches min_len.
    let fixed = hdr.len() + 2 + PN_LEN + 16;
    let mut plain = frames.to_vec();
    if plain.len() + fixed < min_len {
        plain.resize(min_len - fixed, 0);
    }
    // Header protection samples 16 bytes starting 4 bytes after the packet number.
    if plain.len() + 16 < 4 + 16 - PN_LEN + 16 {
        plain.resize(4 + 16 - PN_LEN, 0);
    }
    let length = PN_LEN + plain.len() + 16;
    hdr.extend_from_slice(&((length as u16) | 0x4000).to_be_bytes());
    let pn_offset = hdr.len();
    hdr.extend_from_slice(&(pn as u16).to_be_bytes());

    let mut nonce = keys.iv;
    for (n, p) in nonce
        .iter_mut()
        .rev()
        .zip(u64::from(pn).to_be_bytes().iter().rev())
    {
        *n ^= p;
    }
    let key = LessSafeKey::new(
        UnboundKey::new(&aead::AES_128_GCM, &keys.key).map_err(|_| QuicError::Seal)?,
    );
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(&hdr),
        &mut plain,
    )
    .map_err(|_| QuicError::Seal)?;
    let mut pkt = hdr;
    pkt.extend_from_slice(&plain);

    let hp =
        HeaderProtectionKey::new(&aead::quic::AES_128, &keys.hp).map_err(|_| QuicError::Seal)?;
    let sample = pkt
        .get(pn_offset + 4..pn_offset + 20)
        .ok_or(QuicError::Short)?;
    let mask = hp.new_mask(sample).map_err(|_| QuicError::Seal)?;
    if let Some(b) = pkt.first_mut() {
        *b ^= mask[0] & 0x0f;
    }
    for (i, m) in mask.iter().skip(1).take(PN_LEN).enumerate() {
        if let Some(b) = pkt.get_mut(pn_offset + i) {
            *b ^= m;
        }
    }
    Ok(pkt)
}

/// QUIC transport parameters as Chrome sends them (values are typical, not significant).
pub fn chrome_transport_parameters(scid: &[u8]) -> Vec<u8> {
    let mut tp = Vec::new();
    let mut param = |id: u64, val: &[u8]| {
        put_varint(&mut tp, id);
        put_varint(&mut tp, val.len() as u64);
        tp.extend_from_slice(val);
    };
    let vi = |v: u64| {
        let mut b = Vec::new();
        put_varint(&mut b, v);
        b
    };
    param(0x01, &vi(30_000)); // max_idle_timeout
    param(0x03, &vi(1472)); // max_udp_payload_size
    param(0x04, &vi(15_728_640)); // initial_max_data
    param(0x05, &vi(6_291_456)); // initial_max_stream_data_bidi_local
    param(0x06, &vi(6_291_456)); // initial_max_stream_data_bidi_remote
    param(0x07, &vi(6_291_456)); // initial_max_stream_data_uni
    param(0x08, &vi(100)); // initial_max_streams_bidi
    param(0x09, &vi(103)); // initial_max_streams_uni
    param(0x0f, scid); // initial_source_connection_id
    param(0x20, &vi(65_536)); // max_datagram_frame_size
    param(0x6ab2, &[0, 0, 0, 1, 0, 0, 0, 1]); // google version_information
    tp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // RFC 9001 Appendix A.1.
    #[test]
    fn rfc9001_initial_keys() {
        let dcid = hex("8394c8f03e515708");
        let c = initial_keys(&dcid, false).unwrap();
        assert_eq!(c.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(c.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(c.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        let s = initial_keys(&dcid, true).unwrap();
        assert_eq!(s.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(s.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
        assert_eq!(s.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
    }

    // RFC 9001 Appendix A.3: the server Initial is small enough to check whole. Its header uses
    // a 2-byte packet number (pn=1) and a 2-byte length, like ours.
    #[test]
    fn rfc9001_server_initial_packet() {
        let dcid = hex("8394c8f03e515708");
        let keys = initial_keys(&dcid, true).unwrap();
        let frames = hex(
            "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df566dc5430b9a04\
             5a1200130100002e00330024001d00209d3c940d89690b84d08a60993c144eca684d1081287c834d5311bcf3\
             2bb9da1a002b00020304",
        );
        let pkt = initial_packet(&keys, &[], &hex("f067a5502a4262b5"), 1, &frames, 0).unwrap();
        let want = hex(
            "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a5816b6394100f37a1c69797554\
             780bb38cc5a99f5ede4cf73c3ec2493a1839b3dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded7\
             4b562bfb19fb84022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc42158407dd07\
             4ee",
        );
        assert_eq!(pkt, want);
    }

    #[test]
    fn varints() {
        let mut v = Vec::new();
        put_varint(&mut v, 37);
        put_varint(&mut v, 15293);
        put_varint(&mut v, 494_878_333);
        assert_eq!(v, hex("257bbd9d7f3e7d"));
    }
}
