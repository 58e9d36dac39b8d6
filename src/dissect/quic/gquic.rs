//! Google QUIC: the clear-text packets of Q0xx up to Q046 and the tag/value
//! `CHLO` handshake message they (and the encrypted Q050) carry.
//!
//! Google QUIC is not TLS: the client hello is a tag/value map whose `SNI`
//! tag holds the server name and `UAID` the user agent.

use super::frames::{google_frame, Frame};
use super::version::{family, google_number, Family};
use super::wire::Reader;

/// Tags kept from a CHLO, beyond which the message is not read.
pub const MAX_TAGS: usize = 128;
/// Message tag of a client hello.
const CHLO: &[u8; 4] = b"CHLO";

/// What a Google QUIC client hello says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GoogleChlo {
    /// `SNI` tag value.
    pub sni: Option<String>,
    /// `UAID` tag value (user agent, e.g. `Chrome/79.0.3945.117 ...`).
    pub uaid: Option<String>,
    /// The tags in wire order (for fingerprints such as Suricata's CYU).
    pub tags: Vec<[u8; 4]>,
    /// The message was cut before its last value.
    pub truncated: bool,
    /// `SNI` or `UAID` was longer than its cap (a host name's 253 bytes,
    /// [`MAX_HTTP_USER_AGENT`](crate::dissect::caps::MAX_HTTP_USER_AGENT)) and was cut.
    pub field_truncated: bool,
}

/// Total length of the CHLO at the start of `buf`, once its tag table is there.
pub fn chlo_len(buf: &[u8]) -> Option<usize> {
    let mut r = Reader::new(buf);
    if r.take(4)? != CHLO {
        return None;
    }
    let n = usize::from(r.u16_le()?);
    r.skip(2)?;
    r.skip(n.checked_sub(1)? * 8 + 4)?;
    let last_end = r.u32_le()?;
    (8 + n * 8).checked_add(usize::try_from(last_end).ok()?)
}

/// Parses a CHLO message; values cut off by the end of `msg` are skipped
/// and flagged in [`GoogleChlo::truncated`]. `None` if `msg` is not a CHLO.
pub fn parse_chlo(msg: &[u8]) -> Option<GoogleChlo> {
    let mut r = Reader::new(msg);
    if r.take(4)? != CHLO {
        return None;
    }
    let n = usize::from(r.u16_le()?);
    r.skip(2)?;
    let values_at = 8 + n * 8;
    let mut out = GoogleChlo::default();
    let mut prev_end = 0usize;
    for _ in 0..n.min(MAX_TAGS) {
        let (Some(tag), Some(end)) = (r.take(4), r.u32_le()) else {
            out.truncated = true;
            break;
        };
        let Ok(tag) = <[u8; 4]>::try_from(tag) else {
            break;
        };
        let end = usize::try_from(end).unwrap_or(usize::MAX);
        if end < prev_end {
            // Offsets must not go backwards; the rest cannot be trusted.
            out.truncated = true;
            break;
        }
        out.tags.push(tag);
        let value = values_at
            .checked_add(prev_end)
            .zip(values_at.checked_add(end))
            .and_then(|(s, e)| msg.get(s..e));
        prev_end = end;
        let Some(value) = value else {
            out.truncated = true;
            continue;
        };
        let text = || std::str::from_utf8(value).ok().map(str::to_owned);
        use crate::dissect::caps::{cut_host, cut_text, MAX_HOST_NAME, MAX_HTTP_USER_AGENT};
        match &tag {
            b"SNI\0" => {
                out.sni = text();
                if let Some(s) = &mut out.sni {
                    out.field_truncated |= cut_host(s, MAX_HOST_NAME);
                }
            }
            b"UAID" => {
                out.uaid = text();
                if let Some(s) = &mut out.uaid {
                    out.field_truncated |= cut_text(s, MAX_HTTP_USER_AGENT);
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// A clear-text Google QUIC packet (Q046 and older).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegacyPacket<'a> {
    pub version: u32,
    pub packet_number: u64,
    /// Frames, after the 12-byte message authentication hash.
    pub payload: &'a [u8],
}

/// Recognises a client's clear-text Google QUIC packet carrying its version:
/// the public header of Q043 and older, or Q046's long header.
pub fn parse_legacy(dgram: &[u8]) -> Option<LegacyPacket<'_>> {
    let mut r = Reader::new(dgram);
    let first = r.u8()?;
    let (version, pn_len) = if first & 0x80 != 0 {
        // Q046: long header with DCIL/SCIL nibbles (value + 3 when non-zero).
        let version = r.u32_be()?;
        if family(version) != Family::GoogleLegacy {
            return None;
        }
        let lens = r.u8()?;
        let cid = |n: u8| if n == 0 { 0 } else { usize::from(n) + 3 };
        r.skip(cid(lens >> 4) + cid(lens & 0x0f))?;
        (version, usize::from(first & 0x03) + 1)
    } else {
        // Public flags: 0x01 version present, 0x08 8-byte connection ID,
        // 0x30 packet number length. 0x40 and 0x80 are unused by clients.
        if first & 0xc1 != 0x01 {
            return None;
        }
        if first & 0x08 != 0 {
            r.skip(8)?;
        }
        let version = r.u32_be()?;
        if family(version) != Family::GoogleLegacy {
            return None;
        }
        let pn_len = match (first >> 4) & 0x03 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => 6,
        };
        (version, pn_len)
    };
    let packet_number = r.uint_be(pn_len)?;
    r.skip(12)?; // message authentication hash of the null encryption
    if google_number(version).is_some_and(|n| n < 34) {
        r.skip(1)?; // private flags
    }
    Some(LegacyPacket {
        version,
        packet_number,
        payload: r.rest(),
    })
}

/// The first STREAM frame of stream 1 (the crypto stream) in a legacy
/// payload: its offset and data. ACK, PING and PADDING before it are skipped.
pub fn legacy_crypto_stream(payload: &[u8], version: u32) -> Option<(u64, &[u8])> {
    let big_endian = google_number(version).is_some_and(|n| n >= 39);
    let mut r = Reader::new(payload);
    loop {
        let ty = r.peek_u8()?;
        if ty & 0x80 == 0 {
            match google_frame(&mut r).ok()? {
                Frame::Padding(_) => return None,
                _ => continue,
            }
        }
        let _ = r.u8();
        // 1fdooosss: d = length present, ooo = offset length, ss = id length.
        let id = r.uint_be(usize::from(ty & 0x03) + 1)?;
        let off_code = usize::from((ty >> 2) & 0x07);
        let offset = r.uint_be(if off_code == 0 { 0 } else { off_code + 1 })?;
        let data = if ty & 0x20 != 0 {
            let len = if big_endian { r.u16_be()? } else { r.u16_le()? };
            r.take(usize::from(len))?
        } else {
            r.take_rest()
        };
        if id == 1 {
            return Some((offset, data));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a CHLO with the given tags and values.
    fn chlo(entries: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut m = b"CHLO".to_vec();
        m.extend((entries.len() as u16).to_le_bytes());
        m.extend([0, 0]);
        let mut end = 0u32;
        for (tag, v) in entries {
            end += v.len() as u32;
            m.extend(*tag);
            m.extend(end.to_le_bytes());
        }
        for (_, v) in entries {
            m.extend(*v);
        }
        m
    }

    #[test]
    fn chlo_tags() {
        let m = chlo(&[
            (b"PAD\0", &[0x2d; 5]),
            (b"SNI\0", b"www.example.org"),
            (b"VER\0", b"Q043"),
            (b"UAID", b"Chrome/79"),
        ]);
        assert_eq!(chlo_len(&m), Some(m.len()));
        let c = parse_chlo(&m).unwrap();
        assert_eq!(c.sni.as_deref(), Some("www.example.org"));
        assert_eq!(c.uaid.as_deref(), Some("Chrome/79"));
        assert_eq!(c.tags, vec![*b"PAD\0", *b"SNI\0", *b"VER\0", *b"UAID"]);
        assert!(!c.truncated);

        // Cut inside the UAID value: SNI still found, truncation flagged.
        let c = parse_chlo(&m[..m.len() - 3]).unwrap();
        assert_eq!(c.sni.as_deref(), Some("www.example.org"));
        assert_eq!(c.uaid, None);
        assert!(c.truncated);
        assert_eq!(chlo_len(&m[..20]), None);
        assert_eq!(parse_chlo(b"SHLO\0\0\0\0"), None);

        // Offsets going backwards stop the walk.
        let mut bad = m.clone();
        bad[8 + 8 + 4] = 0; // SNI end offset 0 < PAD end 5
        let c = parse_chlo(&bad).unwrap();
        assert!(c.truncated);
        assert_eq!(c.sni, None);
    }

    #[test]
    fn q043_public_header_and_stream_frame() {
        let msg = chlo(&[(b"SNI\0", b"dns.google.com")]);
        let mut d = vec![0x0d];
        d.extend([0xe8, 0x3c, 0x77, 0xbd, 0x8f, 0x89, 0x15, 0xf9]);
        d.extend(b"Q043");
        d.push(0x01); // packet number
        d.extend([0xaa; 12]);
        d.extend([0xa0, 0x01]);
        d.extend((msg.len() as u16).to_be_bytes());
        d.extend(&msg);
        d.extend([0; 20]);
        let p = parse_legacy(&d).unwrap();
        assert_eq!(p.version, 0x5130_3433);
        assert_eq!(p.packet_number, 1);
        let (off, data) = legacy_crypto_stream(p.payload, p.version).unwrap();
        assert_eq!(off, 0);
        assert_eq!(data, &msg[..]);
        assert_eq!(
            parse_chlo(data).unwrap().sni.as_deref(),
            Some("dns.google.com")
        );
    }

    #[test]
    fn q046_long_header_with_offset_and_ack() {
        let msg = chlo(&[(b"SNI\0", b"i.ytimg.com")]);
        let mut d = vec![0xc3];
        d.extend(b"Q046");
        d.push(0x50);
        d.extend([1, 2, 3, 4, 5, 6, 7, 8]);
        d.extend([0, 0, 0, 3]);
        d.extend([0xbb; 12]);
        d.extend([0x40, 0x01, 0x00, 0x00, 0x01, 0x00]); // ACK
        d.extend([0xa4, 0x01, 0x04, 0x00]); // stream 1, offset 1024
        d.extend((msg.len() as u16).to_be_bytes());
        d.extend(&msg);
        let p = parse_legacy(&d).unwrap();
        assert_eq!(p.version, 0x5130_3436);
        assert_eq!(p.packet_number, 3);
        let (off, data) = legacy_crypto_stream(p.payload, p.version).unwrap();
        assert_eq!(off, 1024);
        assert_eq!(data, &msg[..]);
    }

    #[test]
    fn not_legacy() {
        // IETF short header, IETF long header, truncated gQUIC.
        assert_eq!(parse_legacy(&[0x41, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), None);
        assert_eq!(parse_legacy(&[0xc0, 0, 0, 0, 1, 8]), None);
        assert_eq!(parse_legacy(b"\x0d12345678Q043"), None);
        assert_eq!(parse_legacy(b"\x0d12345678Q0x3\x01"), None);
        assert_eq!(parse_legacy(&[]), None);
    }
}
