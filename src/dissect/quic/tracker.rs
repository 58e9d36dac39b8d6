//! Per-flow state: feeds client datagrams through header parsing, Initial
//! decryption, frame walking and CRYPTO reassembly until the client hello is
//! complete.

use super::assembler::CryptoAssembler;
use super::frames::{Frame, Frames};
use super::gquic::{self, GoogleChlo};
use super::header::{negotiation_versions, LongPacket, Packet, PacketType, Packets, MAX_CID_LEN};
use super::protection::InitialKeys;
use super::version::{
    family, initial_params, initial_params_all, Family, Handshake, InitialParams,
};
use super::QuicError;

/// Smallest datagram a client may send an Initial in (RFC 9000 §14.1).
const MIN_INITIAL_DATAGRAM: usize = 1200;
/// Shortest DCID a client may choose for its first Initial (RFC 9000 §7.2).
const MIN_CLIENT_DCID: usize = 8;
/// Key sets kept per flow (first DCID, Retry DCID, a changed DCID, a new version).
const MAX_CACHED_KEYS: usize = 4;

/// Bounds on the work and memory spent on one flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerLimits {
    /// Client datagrams inspected before giving up.
    pub max_datagrams: u32,
    /// Highest CRYPTO stream offset buffered.
    pub max_crypto_bytes: usize,
}

impl Default for TrackerLimits {
    fn default() -> Self {
        TrackerLimits {
            max_datagrams: 16,
            max_crypto_bytes: super::assembler::DEFAULT_LIMIT,
        }
    }
}

/// Unusual things seen on a flow; flags, never errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Anomalies(u32);

impl Anomalies {
    /// A long header ended before its fields did.
    pub const TRUNCATED_HEADER: Self = Self(1 << 0);
    /// A long header's Length ran past the datagram.
    pub const LENGTH_BEYOND_DATAGRAM: Self = Self(1 << 1);
    /// A connection ID longer than 20 bytes in a v1/v2 header.
    pub const CID_TOO_LONG: Self = Self(1 << 2);
    /// A client Initial with a DCID shorter than 8 bytes.
    pub const SHORT_DCID: Self = Self(1 << 3);
    /// A client Initial in a datagram under 1200 bytes.
    pub const SMALL_INITIAL_DATAGRAM: Self = Self(1 << 4);
    /// An Initial that no candidate key opened.
    pub const DECRYPT_FAILED: Self = Self(1 << 5);
    /// An Initial opened with its own DCID, not the flow's first one.
    pub const DCID_CHANGED: Self = Self(1 << 6);
    /// A long header of a version we cannot decrypt.
    pub const UNSUPPORTED_VERSION: Self = Self(1 << 7);
    /// The client switched version (after Version Negotiation).
    pub const VERSION_CHANGED: Self = Self(1 << 8);
    /// Frame walk stopped at an unknown or truncated frame.
    pub const BAD_FRAME: Self = Self(1 << 9);
    /// Overlapping CRYPTO data disagreed.
    pub const CRYPTO_CONFLICT: Self = Self(1 << 10);
    /// CRYPTO data beyond the reassembly bounds.
    pub const CRYPTO_LIMIT: Self = Self(1 << 11);
    /// More coalesced packets in a datagram than inspected.
    pub const TOO_MANY_PACKETS: Self = Self(1 << 12);
    /// No client hello within the datagram limit.
    pub const DATAGRAM_LIMIT: Self = Self(1 << 13);
    /// The first handshake message is not a client hello.
    pub const NOT_CLIENT_HELLO: Self = Self(1 << 14);
    /// Version Negotiation or Retry seen from the client side.
    pub const SERVER_PACKET_FROM_CLIENT: Self = Self(1 << 15);
    /// A Google CHLO cut short.
    pub const TRUNCATED_CHLO: Self = Self(1 << 16);
    /// A Version Negotiation or Retry from the server.
    pub const VERSION_NEGOTIATION: Self = Self(1 << 17);
    pub const RETRY: Self = Self(1 << 18);
    /// A Google CHLO's SNI or UAID was cut at its cap.
    pub const FIELD_TRUNCATED: Self = Self(1 << 19);

    const NAMES: [(Self, &'static str); 20] = [
        (Self::TRUNCATED_HEADER, "truncated_header"),
        (Self::LENGTH_BEYOND_DATAGRAM, "length_beyond_datagram"),
        (Self::CID_TOO_LONG, "cid_too_long"),
        (Self::SHORT_DCID, "short_dcid"),
        (Self::SMALL_INITIAL_DATAGRAM, "small_initial_datagram"),
        (Self::DECRYPT_FAILED, "decrypt_failed"),
        (Self::DCID_CHANGED, "dcid_changed"),
        (Self::UNSUPPORTED_VERSION, "unsupported_version"),
        (Self::VERSION_CHANGED, "version_changed"),
        (Self::BAD_FRAME, "bad_frame"),
        (Self::CRYPTO_CONFLICT, "crypto_conflict"),
        (Self::CRYPTO_LIMIT, "crypto_limit"),
        (Self::TOO_MANY_PACKETS, "too_many_packets"),
        (Self::DATAGRAM_LIMIT, "datagram_limit"),
        (Self::NOT_CLIENT_HELLO, "not_client_hello"),
        (Self::SERVER_PACKET_FROM_CLIENT, "server_packet_from_client"),
        (Self::TRUNCATED_CHLO, "truncated_chlo"),
        (Self::VERSION_NEGOTIATION, "version_negotiation"),
        (Self::RETRY, "retry"),
        (Self::FIELD_TRUNCATED, "field_truncated"),
    ];

    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn bits(self) -> u32 {
        self.0
    }

    /// Names of the flags set, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }

    fn for_error(e: QuicError) -> Self {
        match e {
            QuicError::Truncated | QuicError::BadVersionList => Self::TRUNCATED_HEADER,
            QuicError::LengthBeyondDatagram => Self::LENGTH_BEYOND_DATAGRAM,
            QuicError::CidTooLong(_) => Self::CID_TOO_LONG,
            QuicError::PayloadTooShort | QuicError::KeyDerivation | QuicError::DecryptFailed => {
                Self::DECRYPT_FAILED
            }
            QuicError::Frame(_) => Self::BAD_FRAME,
            QuicError::Assembly(_) => Self::CRYPTO_LIMIT,
            QuicError::NotClientHello(_) | QuicError::NotChlo => Self::NOT_CLIENT_HELLO,
            QuicError::DatagramLimit(_) => Self::DATAGRAM_LIMIT,
        }
    }
}

/// What a datagram brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Nothing final yet; keep feeding.
    NeedMore,
    /// The complete TLS ClientHello handshake message (4-byte header included).
    /// Returned once; the tracker is finished afterwards.
    ClientHello { version: u32, msg: Vec<u8> },
    /// A Google QUIC client hello (Q0xx). Returned once, finishing the tracker.
    GoogleChlo { version: u32, chlo: GoogleChlo },
    /// The server listed the versions it supports; the client may retry.
    VersionNegotiation { versions: Vec<u32> },
    /// The server asked the client to retry with `new_dcid` (keys now derive from it).
    Retry { version: u32, new_dcid: Vec<u8> },
    /// The flow does not start like QUIC; the tracker is finished.
    NotQuic,
    /// Inspection gave up; the tracker is finished.
    Failed(QuicError),
    /// The tracker already returned a final answer.
    Finished,
}

/// A connection ID held inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cid {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl Cid {
    fn new(s: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; MAX_CID_LEN];
        bytes.get_mut(..s.len())?.copy_from_slice(s);
        Some(Cid {
            len: u8::try_from(s.len()).ok()?,
            bytes,
        })
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

#[derive(Debug)]
struct CachedKeys {
    version: u32,
    /// The salt the keys came from (a reserved version has two candidates).
    salt: &'static [u8; 20],
    dcid: Cid,
    keys: InitialKeys,
}

/// Follows the client side of one UDP flow until its client hello is known.
///
/// Keys come from the DCID of the client's first Initial; a later Initial
/// that does not open with them is tried with its own DCID (some clients
/// change it between Initials) and with a DCID set from a Retry.
#[derive(Debug)]
pub struct QuicClientTracker {
    limits: TrackerLimits,
    client_datagrams: u32,
    server_datagrams: u32,
    finished: bool,
    seen_quic: bool,
    version: Option<u32>,
    crypto_version: Option<u32>,
    first_dcid: Option<Cid>,
    retry_dcid: Option<Cid>,
    keys: Vec<CachedKeys>,
    largest_pn: Option<u64>,
    assembler: CryptoAssembler,
    scratch: Vec<u8>,
    anomalies: Anomalies,
}

impl Default for QuicClientTracker {
    fn default() -> Self {
        Self::new(TrackerLimits::default())
    }
}

impl QuicClientTracker {
    pub fn new(limits: TrackerLimits) -> Self {
        QuicClientTracker {
            limits,
            client_datagrams: 0,
            server_datagrams: 0,
            finished: false,
            seen_quic: false,
            version: None,
            crypto_version: None,
            first_dcid: None,
            retry_dcid: None,
            keys: Vec::new(),
            largest_pn: None,
            assembler: CryptoAssembler::new(limits.max_crypto_bytes),
            scratch: Vec::new(),
            anomalies: Anomalies::default(),
        }
    }

    /// Last QUIC version seen in a client long header (or Google header).
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// DCID of the client's first Initial that could be opened.
    pub fn initial_dcid(&self) -> Option<&[u8]> {
        self.first_dcid.as_ref().map(Cid::as_slice)
    }

    pub fn anomalies(&self) -> Anomalies {
        self.anomalies
    }

    /// True once a final answer was returned.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Client datagrams inspected.
    pub fn datagrams(&self) -> u32 {
        self.client_datagrams
    }

    /// Derive Initial keys from `dcid` from now on (the SCID of a Retry the
    /// server sent, which the client uses as its new DCID). Reassembly starts
    /// over, since the client sends its ClientHello again.
    pub fn set_initial_dcid(&mut self, dcid: &[u8]) {
        if let Some(c) = Cid::new(dcid) {
            self.retry_dcid = Some(c);
            self.assembler.reset();
        }
    }

    /// Looks at a datagram the server sent, for Retry and Version Negotiation.
    pub fn push_server_datagram(&mut self, dgram: &[u8]) -> Progress {
        if self.finished {
            return Progress::Finished;
        }
        self.server_datagrams = self.server_datagrams.saturating_add(1);
        if self.server_datagrams > self.limits.max_datagrams
            || dgram.first().is_none_or(|b| b & 0x80 == 0)
        {
            return Progress::NeedMore;
        }
        match super::header::parse_packet(dgram) {
            Ok((Packet::VersionNegotiation { versions, .. }, _)) => {
                self.anomalies.insert(Anomalies::VERSION_NEGOTIATION);
                Progress::VersionNegotiation {
                    versions: negotiation_versions(versions).collect(),
                }
            }
            Ok((Packet::Retry { version, scid, .. }, _)) => {
                self.anomalies.insert(Anomalies::RETRY);
                self.set_initial_dcid(scid);
                Progress::Retry {
                    version,
                    new_dcid: scid.to_vec(),
                }
            }
            _ => Progress::NeedMore,
        }
    }

    /// Feeds one datagram the client sent.
    pub fn push_client_datagram(&mut self, dgram: &[u8]) -> Progress {
        if self.finished {
            return Progress::Finished;
        }
        self.client_datagrams = self.client_datagrams.saturating_add(1);
        if self.client_datagrams > self.limits.max_datagrams {
            self.anomalies.insert(Anomalies::DATAGRAM_LIMIT);
            return self.finish(Progress::Failed(QuicError::DatagramLimit(
                self.limits.max_datagrams,
            )));
        }
        let Some(&first) = dgram.first() else {
            return self.not_quic_unless_seen();
        };
        if let Some(p) = gquic::parse_legacy(dgram) {
            self.seen_quic = true;
            self.version = Some(p.version);
            return self.legacy(p);
        }
        if first & 0x80 == 0 {
            // Short header: 1-RTT data, nothing to open. Without the fixed
            // bit it cannot be a first packet of QUIC either.
            if first & 0x40 == 0 {
                return self.not_quic_unless_seen();
            }
            return Progress::NeedMore;
        }

        let mut packets = Packets::new(dgram);
        let mut progress = Progress::NeedMore;
        let mut index = 0usize;
        for item in packets.by_ref() {
            index += 1;
            let pkt = match item {
                Ok(p) => p,
                Err(e) => {
                    self.anomalies.insert(Anomalies::for_error(e));
                    if index == 1 {
                        return self.not_quic_unless_seen();
                    }
                    break;
                }
            };
            match pkt {
                Packet::Long(lp) => {
                    self.seen_quic = true;
                    self.version = Some(lp.version);
                    if lp.ptype != PacketType::Initial {
                        continue;
                    }
                    if initial_params(lp.version).is_none() {
                        self.anomalies.insert(Anomalies::UNSUPPORTED_VERSION);
                        continue;
                    }
                    if dgram.len() < MIN_INITIAL_DATAGRAM {
                        self.anomalies.insert(Anomalies::SMALL_INITIAL_DATAGRAM);
                    }
                    if lp.dcid.len() < MIN_CLIENT_DCID {
                        self.anomalies.insert(Anomalies::SHORT_DCID);
                    }
                    match self.initial(&lp) {
                        Progress::NeedMore => {}
                        done => return done,
                    }
                }
                Packet::VersionNegotiation { versions, .. } => {
                    self.seen_quic = true;
                    self.anomalies.insert(Anomalies::SERVER_PACKET_FROM_CLIENT);
                    progress = Progress::VersionNegotiation {
                        versions: negotiation_versions(versions).collect(),
                    };
                }
                Packet::Retry { version, scid, .. } => {
                    self.seen_quic = true;
                    self.anomalies.insert(Anomalies::SERVER_PACKET_FROM_CLIENT);
                    progress = Progress::Retry {
                        version,
                        new_dcid: scid.to_vec(),
                    };
                }
                Packet::OtherVersion { version, .. } => {
                    if family(version) == Family::Unknown && !self.seen_quic {
                        return self.not_quic_unless_seen();
                    }
                    self.seen_quic = true;
                    self.version = Some(version);
                    self.anomalies.insert(Anomalies::UNSUPPORTED_VERSION);
                }
                Packet::Short(_) => break,
            }
        }
        if packets.hit_packet_limit() {
            self.anomalies.insert(Anomalies::TOO_MANY_PACKETS);
        }
        progress
    }

    fn finish(&mut self, p: Progress) -> Progress {
        self.finished = true;
        p
    }

    fn not_quic_unless_seen(&mut self) -> Progress {
        if self.seen_quic {
            Progress::NeedMore
        } else {
            self.finish(Progress::NotQuic)
        }
    }

    /// Index of the cached keys for (`version`, `dcid`), deriving them if needed.
    fn keys_for(
        &mut self,
        version: u32,
        params: &'static InitialParams,
        dcid: Cid,
    ) -> Result<usize, QuicError> {
        if let Some(i) = self.keys.iter().position(|k| {
            k.version == version && k.dcid == dcid && std::ptr::eq(k.salt, params.salt)
        }) {
            return Ok(i);
        }
        let keys = InitialKeys::client(params, dcid.as_slice())?;
        if self.keys.len() >= MAX_CACHED_KEYS {
            // Keep the first DCID's keys; replace the oldest of the others.
            self.keys.remove(1.min(self.keys.len() - 1));
        }
        self.keys.push(CachedKeys {
            version,
            salt: params.salt,
            dcid,
            keys,
        });
        Ok(self.keys.len() - 1)
    }

    /// Opens a client Initial and feeds its CRYPTO frames.
    fn initial(&mut self, lp: &LongPacket<'_>) -> Progress {
        let Some(own) = Cid::new(lp.dcid) else {
            self.anomalies.insert(Anomalies::CID_TOO_LONG);
            return Progress::NeedMore;
        };
        let mut candidates: [Option<Cid>; 3] = [self.retry_dcid, self.first_dcid, Some(own)];
        // Drop repeats so each key is tried once.
        if candidates[1] == candidates[0] {
            candidates[1] = None;
        }
        if candidates[2] == candidates[0] || candidates[2] == candidates[1] {
            candidates[2] = None;
        }
        let mut opened = None;
        let tries = initial_params_all(lp.version)
            .into_iter()
            .flatten()
            .flat_map(|p| candidates.into_iter().flatten().map(move |c| (p, c)));
        for (params, cand) in tries {
            let idx = match self.keys_for(lp.version, params, cand) {
                Ok(i) => i,
                Err(e) => {
                    self.anomalies.insert(Anomalies::for_error(e));
                    return Progress::NeedMore;
                }
            };
            let Some(k) = self.keys.get(idx) else {
                continue;
            };
            match k
                .keys
                .open(lp.bytes, lp.pn_offset, self.largest_pn, &mut self.scratch)
            {
                Ok(o) => {
                    opened = Some((cand, o, params));
                    break;
                }
                Err(QuicError::DecryptFailed) => continue,
                Err(e) => {
                    self.anomalies.insert(Anomalies::for_error(e));
                    return Progress::NeedMore;
                }
            }
        }
        let Some((used, o, params)) = opened else {
            self.anomalies.insert(Anomalies::DECRYPT_FAILED);
            return Progress::NeedMore;
        };
        match self.first_dcid {
            None => self.first_dcid = Some(used),
            Some(f) if f != used && Some(used) != self.retry_dcid => {
                self.anomalies.insert(Anomalies::DCID_CHANGED);
            }
            Some(_) => {}
        }
        self.largest_pn = Some(self.largest_pn.map_or(o.pn, |l| l.max(o.pn)));
        if self.crypto_version != Some(lp.version) {
            if self.crypto_version.is_some() {
                self.anomalies.insert(Anomalies::VERSION_CHANGED);
                self.assembler.reset();
            }
            self.crypto_version = Some(lp.version);
        }

        let payload = self.scratch.get(o.payload).unwrap_or(&[]);
        for frame in Frames::new(payload, params.frames) {
            match frame {
                Ok(Frame::Crypto { offset, data }) => {
                    if let Err(e) = self.assembler.insert(offset, data) {
                        self.anomalies.insert(Anomalies::CRYPTO_LIMIT);
                        self.finished = true;
                        return Progress::Failed(e.into());
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    self.anomalies.insert(Anomalies::BAD_FRAME);
                    break;
                }
            }
        }
        if self.assembler.conflicts() > 0 {
            self.anomalies.insert(Anomalies::CRYPTO_CONFLICT);
        }
        match params.handshake {
            Handshake::Tls => self.tls_hello(lp.version),
            Handshake::GoogleChlo => self.assembled_chlo(lp.version),
        }
    }

    fn tls_hello(&mut self, version: u32) -> Progress {
        if let Some(&t) = self.assembler.contiguous().first() {
            if t != 1 {
                self.anomalies.insert(Anomalies::NOT_CLIENT_HELLO);
                return self.finish(Progress::Failed(QuicError::NotClientHello(t)));
            }
        }
        match self.assembler.first_tls_message() {
            Ok(Some(msg)) => {
                let msg = msg.to_vec();
                self.finish(Progress::ClientHello { version, msg })
            }
            Ok(None) => Progress::NeedMore,
            Err(e) => {
                self.anomalies.insert(Anomalies::CRYPTO_LIMIT);
                self.finish(Progress::Failed(e.into()))
            }
        }
    }

    fn assembled_chlo(&mut self, version: u32) -> Progress {
        let c = self.assembler.contiguous();
        if c.len() >= 4 && c.get(..4) != Some(b"CHLO".as_slice()) {
            self.anomalies.insert(Anomalies::NOT_CLIENT_HELLO);
            return self.finish(Progress::Failed(QuicError::NotChlo));
        }
        let Some(len) = gquic::chlo_len(c) else {
            return Progress::NeedMore;
        };
        if len > self.limits.max_crypto_bytes {
            self.anomalies.insert(Anomalies::CRYPTO_LIMIT);
            return self.finish(Progress::Failed(QuicError::Assembly(
                super::AssemblyError::LimitExceeded {
                    end: len as u64,
                    limit: self.limits.max_crypto_bytes,
                },
            )));
        }
        match c.get(..len).and_then(gquic::parse_chlo) {
            Some(chlo) => self.finish(Progress::GoogleChlo { version, chlo }),
            None => Progress::NeedMore,
        }
    }

    /// A clear-text Google QUIC packet (Q046 and older).
    fn legacy(&mut self, p: gquic::LegacyPacket<'_>) -> Progress {
        let Some((offset, data)) = gquic::legacy_crypto_stream(p.payload, p.version) else {
            return Progress::NeedMore;
        };
        // A CHLO starting in this packet (also a second CHLO after a reject,
        // at a non-zero offset) is read on its own.
        if data.starts_with(b"CHLO") {
            if let Some(chlo) = gquic::parse_chlo(data) {
                if !chlo.truncated || chlo.sni.is_some() {
                    if chlo.truncated {
                        self.anomalies.insert(Anomalies::TRUNCATED_CHLO);
                    }
                    if chlo.field_truncated {
                        self.anomalies.insert(Anomalies::FIELD_TRUNCATED);
                    }
                    let version = p.version;
                    return self.finish(Progress::GoogleChlo { version, chlo });
                }
            }
        }
        // Otherwise reassemble the crypto stream from offset 0.
        if self.assembler.insert(offset, data).is_err() {
            self.anomalies.insert(Anomalies::CRYPTO_LIMIT);
            return Progress::NeedMore;
        }
        self.assembled_chlo(p.version)
    }
}

#[cfg(test)]
mod tests {
    use super::super::protection::{initial_material, Side};
    use super::super::version::{V1, V2};
    use super::*;
    use ring::aead::{quic as hp, Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn varint2(v: usize) -> [u8; 2] {
        [0x40 | (v >> 8) as u8, v as u8]
    }

    /// Builds a protected client Initial (4-byte packet number) whose payload
    /// is `frames` padded to `payload_len`, with the keys of `key_dcid`.
    fn initial(
        version: u32,
        dcid: &[u8],
        key_dcid: &[u8],
        pn: u32,
        frames: &[u8],
        payload_len: usize,
    ) -> Vec<u8> {
        let params = initial_params(version).unwrap();
        initial_with(params, version, dcid, key_dcid, pn, frames, payload_len)
    }

    /// [`initial`] protected with `params`, whatever the version says.
    fn initial_with(
        params: &InitialParams,
        version: u32,
        dcid: &[u8],
        key_dcid: &[u8],
        pn: u32,
        frames: &[u8],
        payload_len: usize,
    ) -> Vec<u8> {
        let m = initial_material(params, key_dcid, Side::Client).unwrap();
        let first = if params.v2_packet_types { 0xd3 } else { 0xc3 };
        let mut pkt = vec![first];
        pkt.extend(version.to_be_bytes());
        pkt.push(dcid.len() as u8);
        pkt.extend(dcid);
        pkt.extend([0, 0]); // SCID length, token length
        pkt.extend(varint2(4 + payload_len + 16));
        let pn_offset = pkt.len();
        pkt.extend(pn.to_be_bytes());
        let mut payload = frames.to_vec();
        payload.resize(payload_len, 0);
        let mut nonce = m.iv;
        for (n, p) in nonce.iter_mut().rev().zip(u64::from(pn).to_le_bytes()) {
            *n ^= p;
        }
        let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &m.key).unwrap());
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&pkt[..]),
                &mut payload,
            )
            .unwrap();
        pkt.extend(&payload);
        pkt.extend(tag.as_ref());
        let hpk = hp::HeaderProtectionKey::new(&hp::AES_128, &m.hp).unwrap();
        let mask = hpk.new_mask(&pkt[pn_offset + 4..pn_offset + 20]).unwrap();
        pkt[0] ^= mask[0] & 0x0f;
        for i in 0..4 {
            pkt[pn_offset + i] ^= mask[1 + i];
        }
        pkt
    }

    fn crypto(offset: usize, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06];
        f.extend(varint2(offset));
        f.extend(varint2(data.len()));
        f.extend(data);
        f
    }

    fn client_hello(len: usize) -> Vec<u8> {
        let mut m = vec![1, 0, (len >> 8) as u8, len as u8];
        m.extend((0..len).map(|i| (i % 251) as u8));
        m
    }

    const DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];

    #[test]
    fn rfc_samples_yield_the_client_hello() {
        let frame = hex(include_str!("testdata/rfc_client_crypto_frame.hex"));
        for (file, version) in [
            (include_str!("testdata/rfc9001_client_initial.hex"), V1),
            (include_str!("testdata/rfc9369_client_initial.hex"), V2),
        ] {
            let mut t = QuicClientTracker::default();
            let got = t.push_client_datagram(&hex(file));
            assert_eq!(
                got,
                Progress::ClientHello {
                    version,
                    msg: frame[4..].to_vec()
                }
            );
            assert_eq!(t.initial_dcid(), Some(&DCID[..]));
            assert!(t.anomalies().is_empty(), "{:?}", t.anomalies());
            assert_eq!(t.push_client_datagram(&hex(file)), Progress::Finished);
        }
    }

    #[test]
    fn hello_split_across_datagrams_out_of_order() {
        let ch = client_hello(2500);
        // Second half first, in a packet with PING + PADDING; then the first
        // part split in two CRYPTO frames in reverse order.
        let mut f2 = vec![0x01];
        f2.extend(crypto(1300, &ch[1300..]));
        let d2 = initial(V1, &DCID, &DCID, 1, &f2, 1300);
        let mut f1 = crypto(700, &ch[700..1300]);
        f1.extend(crypto(0, &ch[..700]));
        let d1 = initial(V1, &DCID, &DCID, 0, &f1, 1320);
        let mut t = QuicClientTracker::default();
        assert_eq!(t.push_client_datagram(&d2), Progress::NeedMore);
        assert_eq!(
            t.push_client_datagram(&d1),
            Progress::ClientHello {
                version: V1,
                msg: ch.clone()
            }
        );
        assert_eq!(t.datagrams(), 2);
        assert!(t.anomalies().is_empty(), "{:?}", t.anomalies());
    }

    #[test]
    fn later_initial_with_server_chosen_dcid_uses_first_keys() {
        let ch = client_hello(1500);
        let d1 = initial(V1, &DCID, &DCID, 0, &crypto(0, &ch[..1000]), 1180);
        // After the server's Initial the client addresses its new CID but
        // keeps the keys of the first DCID.
        let server_cid = [9u8; 5];
        let d2 = initial(V1, &server_cid, &DCID, 1, &crypto(1000, &ch[1000..]), 1180);
        let mut t = QuicClientTracker::default();
        assert_eq!(t.push_client_datagram(&d1), Progress::NeedMore);
        assert_eq!(
            t.push_client_datagram(&d2),
            Progress::ClientHello {
                version: V1,
                msg: ch
            }
        );
        assert!(!t.anomalies().contains(Anomalies::DCID_CHANGED));
        assert!(t.anomalies().contains(Anomalies::SHORT_DCID));
    }

    #[test]
    fn initial_keyed_by_its_own_changed_dcid() {
        let ch = client_hello(1500);
        let other = [7u8; 8];
        let d1 = initial(V1, &DCID, &DCID, 0, &crypto(0, &ch[..1000]), 1180);
        let d2 = initial(V1, &other, &other, 1, &crypto(1000, &ch[1000..]), 1180);
        let mut t = QuicClientTracker::default();
        assert_eq!(t.push_client_datagram(&d1), Progress::NeedMore);
        assert_eq!(
            t.push_client_datagram(&d2),
            Progress::ClientHello {
                version: V1,
                msg: ch
            }
        );
        assert!(t.anomalies().contains(Anomalies::DCID_CHANGED));
    }

    #[test]
    fn retry_sets_new_dcid() {
        let ch = client_hello(300);
        let retry = hex(include_str!("testdata/rfc9001_retry.hex"));
        let new_dcid = hex("f067a5502a4262b5");
        let mut t = QuicClientTracker::default();
        // A first Initial whose CRYPTO data will be sent again after the Retry.
        let d0 = initial(V1, &DCID, &DCID, 0, &crypto(0, &ch[..100]), 1180);
        assert_eq!(t.push_client_datagram(&d0), Progress::NeedMore);
        assert_eq!(
            t.push_server_datagram(&retry),
            Progress::Retry {
                version: V1,
                new_dcid: new_dcid.clone()
            }
        );
        let d1 = initial(V1, &new_dcid, &new_dcid, 1, &crypto(0, &ch), 1180);
        assert_eq!(
            t.push_client_datagram(&d1),
            Progress::ClientHello {
                version: V1,
                msg: ch
            }
        );
        assert!(t.anomalies().contains(Anomalies::RETRY));
        assert!(!t.anomalies().contains(Anomalies::DCID_CHANGED));
    }

    #[test]
    fn version_negotiation_then_new_version() {
        let ch = client_hello(200);
        let mut t = QuicClientTracker::default();
        // Reserved-version first attempt whose payload is not v1-protected:
        // recognised, opened with the v1 keys, which fail.
        let mut grease = hex("c0 1a2a3a4a 08 0102030405060708 00 00 44 00");
        grease.resize(18 + 0x400, 0xaa);
        grease.resize(1200, 0);
        assert_eq!(t.push_client_datagram(&grease), Progress::NeedMore);
        assert_eq!(t.version(), Some(0x1a2a_3a4a));
        let vn = hex("80 00000000 00 08 0102030405060708 00000001 6b3343cf");
        assert_eq!(
            t.push_server_datagram(&vn),
            Progress::VersionNegotiation {
                versions: vec![V1, V2]
            }
        );
        let d = initial(V2, &DCID, &DCID, 0, &crypto(0, &ch), 1180);
        assert_eq!(
            t.push_client_datagram(&d),
            Progress::ClientHello {
                version: V2,
                msg: ch
            }
        );
        let a = t.anomalies();
        assert!(a.contains(Anomalies::VERSION_NEGOTIATION));
        assert!(a.contains(Anomalies::DECRYPT_FAILED));
        assert!(!a.contains(Anomalies::UNSUPPORTED_VERSION));
    }

    /// A client Initial with a reserved version `0x?a?a?a?a` built the v1
    /// way: its ClientHello is read with the v1 keys (as tshark reads it).
    #[test]
    fn reserved_version_initial_is_read_with_v1_keys() {
        // Built from a v1 Initial (current tshark reads them so), or with
        // draft-29's salt (what Wireshark 4.0 uses for an unknown version).
        let v1 = initial_params(V1).unwrap();
        let d29 = initial_params(super::super::version::DRAFT_29).unwrap();
        for version in [0x1a2a_3a4a, 0xdada_dada] {
            for params in [v1, d29] {
                let ch = client_hello(300);
                let d = initial_with(params, version, &DCID, &DCID, 0, &crypto(0, &ch), 1180);
                let mut t = QuicClientTracker::default();
                assert_eq!(
                    t.push_client_datagram(&d),
                    Progress::ClientHello { version, msg: ch }
                );
                assert!(!t.anomalies().contains(Anomalies::DECRYPT_FAILED));
            }
        }
    }

    #[test]
    fn coalesced_initial_and_handshake() {
        let ch = client_hello(100);
        let mut d = initial(V1, &DCID, &DCID, 0, &crypto(0, &ch), 1100);
        d.extend(hex("e0 00000001 08 0102030405060708 00 05 0102030405"));
        d.resize(1250, 0);
        let mut t = QuicClientTracker::default();
        assert_eq!(
            t.push_client_datagram(&d),
            Progress::ClientHello {
                version: V1,
                msg: ch
            }
        );
    }

    #[test]
    fn not_quic_and_limits() {
        let mut t = QuicClientTracker::default();
        assert_eq!(t.push_client_datagram(b"\x00\x01dns?"), Progress::NotQuic);
        assert_eq!(t.push_client_datagram(b"x"), Progress::Finished);

        let mut t = QuicClientTracker::default();
        // Long header of an unknown version family.
        assert_eq!(
            t.push_client_datagram(&hex("c0 12345678 00 00 00")),
            Progress::NotQuic
        );

        let mut t = QuicClientTracker::default();
        // Truncated long header as first datagram.
        assert_eq!(
            t.push_client_datagram(&hex("c0 00000001 08 01")),
            Progress::NotQuic
        );
        assert!(t.anomalies().contains(Anomalies::TRUNCATED_HEADER));

        let limits = TrackerLimits {
            max_datagrams: 2,
            ..TrackerLimits::default()
        };
        let mut t = QuicClientTracker::new(limits);
        let short = hex("41 0102030405060708 aabbcc");
        assert_eq!(t.push_client_datagram(&short), Progress::NeedMore);
        assert_eq!(t.push_client_datagram(&short), Progress::NeedMore);
        assert_eq!(
            t.push_client_datagram(&short),
            Progress::Failed(QuicError::DatagramLimit(2))
        );
        assert!(t.anomalies().contains(Anomalies::DATAGRAM_LIMIT));
    }

    #[test]
    fn crypto_bound_exceeded() {
        let limits = TrackerLimits {
            max_crypto_bytes: 1000,
            ..TrackerLimits::default()
        };
        let mut t = QuicClientTracker::new(limits);
        let d = initial(V1, &DCID, &DCID, 0, &crypto(990, &[1; 20]), 1180);
        assert_eq!(
            t.push_client_datagram(&d),
            Progress::Failed(QuicError::Assembly(
                crate::dissect::quic::AssemblyError::LimitExceeded {
                    end: 1010,
                    limit: 1000
                }
            ))
        );
        assert!(t.anomalies().contains(Anomalies::CRYPTO_LIMIT));

        // A ClientHello header announcing more than the bound.
        let mut t = QuicClientTracker::new(limits);
        let d = initial(V1, &DCID, &DCID, 0, &crypto(0, &[1, 0, 0x10, 0]), 1180);
        assert!(matches!(
            t.push_client_datagram(&d),
            Progress::Failed(QuicError::Assembly(_))
        ));
    }

    #[test]
    fn wrong_keys_and_non_hello() {
        let ch = client_hello(100);
        let mut t = QuicClientTracker::default();
        // Encrypted with keys of another DCID than the one in the header.
        let d = initial(V1, &DCID, &[5u8; 8], 0, &crypto(0, &ch), 1180);
        assert_eq!(t.push_client_datagram(&d), Progress::NeedMore);
        assert!(t.anomalies().contains(Anomalies::DECRYPT_FAILED));

        let mut t = QuicClientTracker::default();
        let d = initial(V1, &DCID, &DCID, 0, &crypto(0, &[2, 0, 0, 1, 0]), 1180);
        assert_eq!(
            t.push_client_datagram(&d),
            Progress::Failed(QuicError::NotClientHello(2))
        );

        // An unknown frame after the CRYPTO frame: the hello still counts.
        let mut t = QuicClientTracker::default();
        let mut f = crypto(0, &ch);
        f.push(0x21);
        let d = initial(V1, &DCID, &DCID, 0, &f, 1180);
        assert_eq!(
            t.push_client_datagram(&d),
            Progress::ClientHello {
                version: V1,
                msg: ch
            }
        );
        assert!(t.anomalies().contains(Anomalies::BAD_FRAME));
    }

    #[test]
    fn google_legacy_chlo() {
        let mut msg = b"CHLO".to_vec();
        msg.extend([2, 0, 0, 0]);
        msg.extend(b"SNI\0");
        msg.extend(11u32.to_le_bytes());
        msg.extend(b"UAID");
        msg.extend(20u32.to_le_bytes());
        msg.extend(b"example.com");
        msg.extend(b"Chrome/99");
        let mut d = vec![0x0d, 1, 2, 3, 4, 5, 6, 7, 8];
        d.extend(b"Q043");
        d.push(1);
        d.extend([0; 12]);
        d.extend([0xa0, 0x01]);
        d.extend((msg.len() as u16).to_be_bytes());
        d.extend(&msg);
        let mut t = QuicClientTracker::default();
        let Progress::GoogleChlo { version, chlo } = t.push_client_datagram(&d) else {
            panic!("no chlo")
        };
        assert_eq!(version, 0x5130_3433);
        assert_eq!(chlo.sni.as_deref(), Some("example.com"));
        assert_eq!(chlo.uaid.as_deref(), Some("Chrome/99"));
        assert_eq!(t.version(), Some(0x5130_3433));
    }
}
