//! Long-header parsing (RFC 8999 invariants, RFC 9000 §17.2, RFC 9369 §3.2)
//! and the walk over the packets coalesced into one UDP datagram.

use super::version::{family, initial_params, Family};
use super::wire::Reader;
use super::QuicError;

/// Longest connection ID QUIC v1 and v2 allow (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;
/// Packets looked at in one datagram before the rest is ignored.
pub const MAX_PACKETS_PER_DATAGRAM: usize = 8;

/// Long-header packet types (the names of RFC 9000; v2 encodes them differently).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

impl PacketType {
    /// Type from the two type bits of the first byte.
    pub fn from_bits(first: u8, v2: bool) -> PacketType {
        let bits = (first >> 4) & 0x03;
        let bits = if v2 {
            bits.wrapping_sub(1) & 0x03
        } else {
            bits
        };
        match bits {
            0 => PacketType::Initial,
            1 => PacketType::ZeroRtt,
            2 => PacketType::Handshake,
            _ => PacketType::Retry,
        }
    }
}

/// A long-header packet carrying a protected payload (Initial, 0-RTT, Handshake).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongPacket<'a> {
    pub version: u32,
    pub ptype: PacketType,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// Token of an Initial (empty otherwise).
    pub token: &'a [u8],
    /// The whole packet: header, packet number and protected payload.
    pub bytes: &'a [u8],
    /// Where the (protected) packet number starts in `bytes`.
    pub pn_offset: usize,
}

/// One packet found in a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Initial, 0-RTT or Handshake of a version we know the layout of.
    Long(LongPacket<'a>),
    /// Version Negotiation (version 0); `versions` holds 4-byte entries.
    VersionNegotiation {
        dcid: &'a [u8],
        scid: &'a [u8],
        versions: &'a [u8],
    },
    /// Retry: the new connection ID is `scid`; `tag` is the integrity tag.
    Retry {
        version: u32,
        dcid: &'a [u8],
        scid: &'a [u8],
        token: &'a [u8],
        tag: &'a [u8],
    },
    /// Long header of a version whose layout past the connection IDs is
    /// unknown (greased, future, Google legacy): it takes the rest of the datagram.
    OtherVersion {
        version: u32,
        dcid: &'a [u8],
        scid: &'a [u8],
        rest: &'a [u8],
    },
    /// Short header: takes the rest of the datagram (its DCID length is not on the wire).
    Short(&'a [u8]),
}

/// Iterates over the packets of one datagram.
///
/// Stops after an error, after a packet that takes the rest of the datagram,
/// at trailing zero bytes (padding some stacks add after the last packet),
/// or after [`MAX_PACKETS_PER_DATAGRAM`] packets (then
/// [`Packets::hit_packet_limit`] is true).
#[derive(Clone, Debug)]
pub struct Packets<'a> {
    rest: &'a [u8],
    count: usize,
    limit_hit: bool,
    trailing_padding: usize,
}

impl<'a> Packets<'a> {
    pub fn new(datagram: &'a [u8]) -> Self {
        Packets {
            rest: datagram,
            count: 0,
            limit_hit: false,
            trailing_padding: 0,
        }
    }

    /// True when packets were left unread because of the per-datagram limit.
    pub fn hit_packet_limit(&self) -> bool {
        self.limit_hit
    }

    /// Zero bytes found after the last packet.
    pub fn trailing_padding(&self) -> usize {
        self.trailing_padding
    }
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<Packet<'a>, QuicError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        // A coalesced packet never starts with 0x00; zeros here are padding.
        if self.count > 0 && self.rest.iter().all(|&b| b == 0) {
            self.trailing_padding = self.rest.len();
            self.rest = &[];
            return None;
        }
        if self.count >= MAX_PACKETS_PER_DATAGRAM {
            self.limit_hit = true;
            self.rest = &[];
            return None;
        }
        self.count += 1;
        match parse_packet(self.rest) {
            Ok((pkt, used)) => {
                self.rest = self.rest.get(used..).unwrap_or(&[]);
                Some(Ok(pkt))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Parses the packet at the start of `buf`; returns it and the bytes it spans.
pub fn parse_packet(buf: &[u8]) -> Result<(Packet<'_>, usize), QuicError> {
    let mut r = Reader::new(buf);
    let first = r.u8().ok_or(QuicError::Truncated)?;
    if first & 0x80 == 0 {
        return Ok((Packet::Short(buf), buf.len()));
    }
    let version = r.u32_be().ok_or(QuicError::Truncated)?;
    let fam = family(version);
    if fam == Family::GoogleLegacy {
        // Q046 and older do not use length-prefixed connection IDs.
        return Ok((
            Packet::OtherVersion {
                version,
                dcid: &[],
                scid: &[],
                rest: r.rest(),
            },
            buf.len(),
        ));
    }
    let dcid_len = r.u8().ok_or(QuicError::Truncated)?;
    let dcid = r.take(usize::from(dcid_len)).ok_or(QuicError::Truncated)?;
    let scid_len = r.u8().ok_or(QuicError::Truncated)?;
    let scid = r.take(usize::from(scid_len)).ok_or(QuicError::Truncated)?;

    if fam == Family::Negotiation {
        let versions = r.take_rest();
        if versions.is_empty() || versions.len() % 4 != 0 {
            return Err(QuicError::BadVersionList);
        }
        return Ok((
            Packet::VersionNegotiation {
                dcid,
                scid,
                versions,
            },
            buf.len(),
        ));
    }

    let v2_types = match initial_params(version) {
        Some(p) => p.v2_packet_types,
        // Drafts and mvfst we cannot decrypt still share v1's layout.
        None if fam == Family::Ietf || fam == Family::GoogleIetfHeader => false,
        None => {
            return Ok((
                Packet::OtherVersion {
                    version,
                    dcid,
                    scid,
                    rest: r.rest(),
                },
                buf.len(),
            ))
        }
    };
    if dcid.len() > MAX_CID_LEN || scid.len() > MAX_CID_LEN {
        return Err(QuicError::CidTooLong(dcid_len.max(scid_len)));
    }
    let ptype = PacketType::from_bits(first, v2_types);
    if ptype == PacketType::Retry {
        let body = r.take_rest();
        let split = body.len().checked_sub(16).ok_or(QuicError::Truncated)?;
        let (token, tag) = body.split_at(split);
        return Ok((
            Packet::Retry {
                version,
                dcid,
                scid,
                token,
                tag,
            },
            buf.len(),
        ));
    }
    let token = if ptype == PacketType::Initial {
        let len = r.varint().ok_or(QuicError::Truncated)?;
        r.take_u64(len).ok_or(QuicError::Truncated)?
    } else {
        &[]
    };
    let length = r.varint().ok_or(QuicError::Truncated)?;
    let pn_offset = r.pos();
    let end = usize::try_from(length)
        .ok()
        .and_then(|l| pn_offset.checked_add(l))
        .filter(|&e| e <= buf.len())
        .ok_or(QuicError::LengthBeyondDatagram)?;
    let bytes = buf.get(..end).ok_or(QuicError::LengthBeyondDatagram)?;
    Ok((
        Packet::Long(LongPacket {
            version,
            ptype,
            dcid,
            scid,
            token,
            bytes,
            pn_offset,
        }),
        end,
    ))
}

/// Iterates over the versions of a Version Negotiation packet.
pub fn negotiation_versions(versions: &[u8]) -> impl Iterator<Item = u32> + '_ {
    versions
        .chunks_exact(4)
        .filter_map(|c| <[u8; 4]>::try_from(c).ok().map(u32::from_be_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc9001_client_initial_header() {
        let pkt = hex(include_str!("testdata/rfc9001_client_initial.hex"));
        let (p, used) = parse_packet(&pkt).unwrap();
        assert_eq!(used, 1200);
        let Packet::Long(lp) = p else {
            panic!("not long: {p:?}")
        };
        assert_eq!(lp.version, 1);
        assert_eq!(lp.ptype, PacketType::Initial);
        assert_eq!(lp.dcid, hex("8394c8f03e515708"));
        assert_eq!(lp.scid, b"");
        assert_eq!(lp.token, b"");
        assert_eq!(lp.pn_offset, 18);
        assert_eq!(lp.bytes.len(), 18 + 1182);
    }

    #[test]
    fn v2_packet_types_are_renumbered() {
        assert_eq!(PacketType::from_bits(0xd0, true), PacketType::Initial);
        assert_eq!(PacketType::from_bits(0xe0, true), PacketType::ZeroRtt);
        assert_eq!(PacketType::from_bits(0xf0, true), PacketType::Handshake);
        assert_eq!(PacketType::from_bits(0xc0, true), PacketType::Retry);
        assert_eq!(PacketType::from_bits(0xc0, false), PacketType::Initial);
        assert_eq!(PacketType::from_bits(0xf0, false), PacketType::Retry);
        let pkt = hex(include_str!("testdata/rfc9369_client_initial.hex"));
        let (Packet::Long(lp), _) = parse_packet(&pkt).unwrap() else {
            panic!("not long")
        };
        assert_eq!(lp.ptype, PacketType::Initial);
        assert_eq!(lp.version, 0x6b33_43cf);
    }

    #[test]
    fn retry_packets_v1_and_v2() {
        for (file, version) in [
            (include_str!("testdata/rfc9001_retry.hex"), 1u32),
            (include_str!("testdata/rfc9369_retry.hex"), 0x6b33_43cf),
        ] {
            let pkt = hex(file);
            let (p, used) = parse_packet(&pkt).unwrap();
            assert_eq!(used, pkt.len());
            let Packet::Retry {
                version: v,
                dcid,
                scid,
                token,
                tag,
            } = p
            else {
                panic!("not retry: {p:?}")
            };
            assert_eq!(v, version);
            assert_eq!(dcid, b"");
            assert_eq!(scid, hex("f067a5502a4262b5"));
            assert_eq!(token, b"token");
            assert_eq!(tag.len(), 16);
        }
    }

    #[test]
    fn version_negotiation() {
        let pkt = hex("c5 00000000 04 01020304 02 0a0b 00000001 ff00001d 1a2a3a4a");
        let (p, _) = parse_packet(&pkt).unwrap();
        let Packet::VersionNegotiation {
            dcid,
            scid,
            versions,
        } = p
        else {
            panic!("not vn")
        };
        assert_eq!(dcid, [1, 2, 3, 4]);
        assert_eq!(scid, [0x0a, 0x0b]);
        assert_eq!(
            negotiation_versions(versions).collect::<Vec<_>>(),
            vec![1, 0xff00_001d, 0x1a2a_3a4a]
        );
        // A version list that is not a multiple of 4 bytes is malformed.
        let bad = hex("c5 00000000 00 00 000000");
        assert_eq!(parse_packet(&bad), Err(QuicError::BadVersionList));
    }

    #[test]
    fn truncated_and_garbled_headers() {
        let full = hex("c3 00000001 08 0102030405060708 00 00 4010 00000000");
        for cut in 0..full.len() - 4 {
            // Every prefix up to the length field is truncated.
            let got = parse_packet(&full[..cut]);
            assert!(
                matches!(
                    got,
                    Err(QuicError::Truncated) | Err(QuicError::LengthBeyondDatagram)
                ),
                "cut {cut}: {got:?}"
            );
        }
        // Length 0x10 but only 4 bytes follow.
        assert_eq!(parse_packet(&full), Err(QuicError::LengthBeyondDatagram));
        // DCID length 21 is not allowed in v1.
        let mut long_cid = hex("c3 00000001 15");
        long_cid.extend_from_slice(&[7u8; 21]);
        long_cid.extend_from_slice(&hex("00 00 01 00"));
        assert_eq!(parse_packet(&long_cid), Err(QuicError::CidTooLong(21)));
        // DCID length byte claims more than there is.
        assert_eq!(
            parse_packet(&hex("c3 00000001 14 0102")),
            Err(QuicError::Truncated)
        );
        // Retry shorter than its integrity tag.
        assert_eq!(
            parse_packet(&hex("f0 00000001 00 00 0102")),
            Err(QuicError::Truncated)
        );
    }

    #[test]
    fn coalesced_initial_handshake_and_padding() {
        let mut d = hex("c0 00000001 04 aabbccdd 00 00 05 0001020304");
        d.extend(hex("e0 00000001 04 aabbccdd 00 03 090909"));
        d.extend([0u8; 7]);
        let mut it = Packets::new(&d);
        let Some(Ok(Packet::Long(a))) = it.next() else {
            panic!("first")
        };
        assert_eq!(a.ptype, PacketType::Initial);
        assert_eq!(a.bytes.len(), 18);
        let Some(Ok(Packet::Long(b))) = it.next() else {
            panic!("second")
        };
        assert_eq!(b.ptype, PacketType::Handshake);
        assert_eq!(b.bytes, hex("e0 00000001 04 aabbccdd 00 03 090909"));
        assert!(it.next().is_none());
        assert_eq!(it.trailing_padding(), 7);

        // An Initial followed by a short-header packet.
        let mut d = hex("c0 00000001 00 00 00 01 00");
        d.extend(hex("40 0102030405"));
        let kinds: Vec<_> = Packets::new(&d).map(|p| p.unwrap()).collect();
        assert_eq!(kinds.len(), 2);
        assert_eq!(kinds[1], Packet::Short(&d[10..]));
    }

    #[test]
    fn packet_limit_per_datagram() {
        let one = hex("e0 00000001 00 00 01 00");
        let d: Vec<u8> = one.iter().copied().cycle().take(one.len() * 12).collect();
        let mut it = Packets::new(&d);
        assert_eq!(it.by_ref().count(), MAX_PACKETS_PER_DATAGRAM);
        assert!(it.hit_packet_limit());
    }

    #[test]
    fn unknown_and_google_versions_take_the_rest() {
        let d = hex("c0 12345678 01 aa 00 99 98 97");
        let (p, used) = parse_packet(&d).unwrap();
        assert_eq!(used, d.len());
        assert_eq!(
            p,
            Packet::OtherVersion {
                version: 0x1234_5678,
                dcid: &[0xaa],
                scid: &[],
                rest: &[0x99, 0x98, 0x97],
            }
        );
        // A reserved version 0x?a?a?a?a has v1's layout (it is opened with v1's keys).
        let d = hex("c0 1a2a3a4a 01 aa 00 00 04 01020304");
        let (p, _) = parse_packet(&d).unwrap();
        assert!(matches!(p, Packet::Long(l) if l.version == 0x1a2a_3a4a));
        // Q046's DCIL/SCIL nibble byte is not parsed as IETF lengths.
        let q46 = hex("c3 51303436 50 0102030405060708 00000001");
        let (p, _) = parse_packet(&q46).unwrap();
        assert!(matches!(
            p,
            Packet::OtherVersion {
                version: 0x5130_3436,
                ..
            }
        ));
    }
}
