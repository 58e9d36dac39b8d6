//! QUIC version numbers: which family a version belongs to, the Initial
//! packet protection parameters of those we can decrypt, and the display name.

/// QUIC version 1 (RFC 9000).
pub const V1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const V2: u32 = 0x6b33_43cf;
/// IETF draft-29, the last widely deployed draft.
pub const DRAFT_29: u32 = 0xff00_001d;

/// Initial salts: RFC 9001 §5.2, RFC 9369 §3.3.1, the quic-tls drafts, and
/// for Google's Q050/T050/T051 the values Chromium defines (as Wireshark and
/// nDPI use them).
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
const SALT_DRAFT_22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];
const SALT_Q050: [u8; 20] = [
    0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0,
    0xd3, 0xb5, 0x6b, 0x45,
];
const SALT_T050: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c,
    0x60, 0x48, 0x83, 0x10,
];
const SALT_T051: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc,
    0xda, 0x6e, 0x03, 0x3d,
];

/// Which handshake the CRYPTO stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// A TLS 1.3 handshake (IETF QUIC, Google T05x).
    Tls,
    /// Google's QUIC crypto handshake: a tag/value `CHLO` message (Q050).
    GoogleChlo,
}

/// Which frame encoding the decrypted payload uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameSyntax {
    /// RFC 9000 §19 frames.
    Ietf,
    /// Google QUIC frames (Q050/T05x: CRYPTO is type 0x08).
    Google,
}

/// What is needed to open a client Initial of one version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitialParams {
    pub salt: &'static [u8; 20],
    /// HKDF-Expand-Label labels for the packet key, IV and header-protection key.
    pub key_label: &'static [u8],
    pub iv_label: &'static [u8],
    pub hp_label: &'static [u8],
    /// RFC 9369 renumbered the long-header packet types.
    pub v2_packet_types: bool,
    pub frames: FrameSyntax,
    pub handshake: Handshake,
}

const V1_LABELS: (&[u8], &[u8], &[u8]) = (b"quic key", b"quic iv", b"quic hp");
const V2_LABELS: (&[u8], &[u8], &[u8]) = (b"quicv2 key", b"quicv2 iv", b"quicv2 hp");

const fn params(
    salt: &'static [u8; 20],
    labels: (&'static [u8], &'static [u8], &'static [u8]),
    v2_packet_types: bool,
    frames: FrameSyntax,
    handshake: Handshake,
) -> InitialParams {
    InitialParams {
        salt,
        key_label: labels.0,
        iv_label: labels.1,
        hp_label: labels.2,
        v2_packet_types,
        frames,
        handshake,
    }
}

static P_V1: InitialParams = params(
    &SALT_V1,
    V1_LABELS,
    false,
    FrameSyntax::Ietf,
    Handshake::Tls,
);
static P_V2: InitialParams = params(&SALT_V2, V2_LABELS, true, FrameSyntax::Ietf, Handshake::Tls);
static P_D29: InitialParams = params(
    &SALT_DRAFT_29,
    V1_LABELS,
    false,
    FrameSyntax::Ietf,
    Handshake::Tls,
);
static P_D23: InitialParams = params(
    &SALT_DRAFT_23,
    V1_LABELS,
    false,
    FrameSyntax::Ietf,
    Handshake::Tls,
);
static P_D22: InitialParams = params(
    &SALT_DRAFT_22,
    V1_LABELS,
    false,
    FrameSyntax::Ietf,
    Handshake::Tls,
);
static P_Q050: InitialParams = params(
    &SALT_Q050,
    V1_LABELS,
    false,
    FrameSyntax::Google,
    Handshake::GoogleChlo,
);
static P_T050: InitialParams = params(
    &SALT_T050,
    V1_LABELS,
    false,
    FrameSyntax::Google,
    Handshake::Tls,
);
static P_T051: InitialParams = params(
    &SALT_T051,
    V1_LABELS,
    false,
    FrameSyntax::Google,
    Handshake::Tls,
);

/// Initial protection parameters for `version`, if we know how to open its
/// client Initials.
///
/// Drafts share salts in ranges (22; 23–28; 29–32; 33–34 use the v1 salt).
/// Facebook's mvfst versions map onto the draft they were built from.
/// Reserved versions `0x?a?a?a?a` (RFC 9000 §15), which clients send to
/// force version negotiation, have v1's layout and are opened with v1's
/// keys (clients build them from their v1 Initial, ClientHello and all);
/// [`initial_params_all`] adds a second candidate.
pub fn initial_params(version: u32) -> Option<&'static InitialParams> {
    match version {
        _ if family(version) == Family::Greased => Some(&P_V1),
        V1 | 0xff00_0021 | 0xff00_0022 | 0xface_b003 => Some(&P_V1),
        V2 => Some(&P_V2),
        0xff00_001d..=0xff00_0020 => Some(&P_D29),
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e | 0xface_b010..=0xface_b013 => {
            Some(&P_D23)
        }
        0xff00_0016 | 0xface_b001 => Some(&P_D22),
        0x5130_3530 => Some(&P_Q050),
        0x5430_3530 => Some(&P_T050),
        0x5430_3531 => Some(&P_T051),
        _ => None,
    }
}

/// Every parameter set worth trying for `version`, most likely first: the
/// one of a known version; for a reserved version `0x?a?a?a?a`, v1's keys
/// (clients build these Initials from their v1 one; current tshark reads
/// them so) and then draft-29's salt (what Wireshark 4.0 uses for a version
/// it does not know). The AEAD tag tells which one opened a packet.
pub fn initial_params_all(version: u32) -> [Option<&'static InitialParams>; 2] {
    if family(version) == Family::Greased {
        [Some(&P_V1), Some(&P_D29)]
    } else {
        [initial_params(version), None]
    }
}

/// Broad family of a version number, for recognising QUIC we cannot decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Version 0: a Version Negotiation packet.
    Negotiation,
    /// IETF QUIC: v1, v2, drafts (`0xff0000xx`), mvfst (`0xfaceb00x`).
    Ietf,
    /// Google QUIC with IETF-style encrypted Initials (Q05x, T05x).
    GoogleIetfHeader,
    /// Google QUIC with clear-text handshake (Q0xx up to Q046).
    GoogleLegacy,
    /// `0x?a?a?a?a`: reserved to force version negotiation (RFC 9000 §15).
    Greased,
    /// Anything else.
    Unknown,
}

/// Classifies a version number.
pub fn family(version: u32) -> Family {
    let hi = version & 0xffff_ff00;
    match version {
        0 => Family::Negotiation,
        V1 | V2 => Family::Ietf,
        _ if version & 0x0f0f_0f0f == 0x0a0a_0a0a => Family::Greased,
        _ if hi == 0xff00_0000 || version & 0xffff_f000 == 0xface_b000 => Family::Ietf,
        // v2 drafts used 0xff020000 and 0x709a50c4.
        0xff02_0000 | 0x709a_50c4 => Family::Ietf,
        _ if hi == 0x5130_3500 || hi == 0x5430_3500 => Family::GoogleIetfHeader,
        _ if is_google_digits(version) && (version >> 24) == u32::from(b'Q') => {
            Family::GoogleLegacy
        }
        _ => Family::Unknown,
    }
}

/// `Q0dd` / `T0dd` with decimal digits.
fn is_google_digits(version: u32) -> bool {
    let [_, a, b, c] = version.to_be_bytes();
    a == b'0' && b.is_ascii_digit() && c.is_ascii_digit()
}

/// Google legacy version number (e.g. 43 for `Q043`), if it is one.
pub(crate) fn google_number(version: u32) -> Option<u32> {
    if !is_google_digits(version) {
        return None;
    }
    let [_, _, b, c] = version.to_be_bytes();
    Some(u32::from(b - b'0') * 10 + u32::from(c - b'0'))
}

/// The version as Suricata's EVE `quic.version` shows it: the Google names it
/// knows (`Q039`, `Q043`–`Q046`), otherwise lowercase hex without leading
/// zeros (`1`, `6b3343cf`, `ff00001d`, `51303530` for Q050).
pub fn version_name(version: u32) -> String {
    let mut out = Vec::with_capacity(8);
    push_version_name(&mut out, version);
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends [`version_name`] (ASCII) to `out`, without a temporary string.
pub fn push_version_name(out: &mut Vec<u8>, version: u32) {
    match version {
        // The Google versions: "Q039", "Q043".."Q046", all ASCII.
        0x5130_3339 | 0x5130_3433..=0x5130_3436 => out.extend_from_slice(&version.to_be_bytes()),
        _ => crate::base::json::push_hex_u64(out, u64::from(version)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_suricata() {
        assert_eq!(version_name(V1), "1");
        assert_eq!(version_name(V2), "6b3343cf");
        assert_eq!(version_name(DRAFT_29), "ff00001d");
        assert_eq!(version_name(0x5130_3433), "Q043");
        assert_eq!(version_name(0x5130_3339), "Q039");
        assert_eq!(version_name(0x5130_3436), "Q046");
        assert_eq!(version_name(0x5130_3530), "51303530");
        assert_eq!(version_name(0x5430_3531), "54303531");
        assert_eq!(version_name(0xface_b002), "faceb002");
        assert_eq!(version_name(0), "0");
    }

    #[test]
    fn salts_are_the_published_values() {
        assert_eq!(SALT_V1[0], 0x38);
        assert_eq!(SALT_V1[19], 0x0a);
        assert_eq!(SALT_T050[..4], [0x7f, 0xf5, 0x79, 0xe5]);
        assert_eq!(SALT_T050[19], 0x10);
        assert_eq!(SALT_V2[19], 0xd9);
    }

    #[test]
    fn families_and_params() {
        assert_eq!(family(0), Family::Negotiation);
        assert_eq!(family(V1), Family::Ietf);
        assert_eq!(family(0xff00_0017), Family::Ietf);
        assert_eq!(family(0xface_b00e), Family::Ietf);
        assert_eq!(family(0x1a2a_3a4a), Family::Greased);
        assert_eq!(family(0x5130_3433), Family::GoogleLegacy);
        assert_eq!(family(0x5130_3530), Family::GoogleIetfHeader);
        assert_eq!(family(0x5430_3531), Family::GoogleIetfHeader);
        assert_eq!(family(0x1234_5678), Family::Unknown);
        assert_eq!(google_number(0x5130_3433), Some(43));
        assert_eq!(google_number(V1), None);

        assert_eq!(initial_params(V1).map(|p| p.salt), Some(&SALT_V1));
        assert_eq!(initial_params(0xff00_0022).map(|p| p.salt), Some(&SALT_V1));
        assert_eq!(
            initial_params(DRAFT_29).map(|p| p.salt),
            Some(&SALT_DRAFT_29)
        );
        assert_eq!(
            initial_params(0xff00_001b).map(|p| p.salt),
            Some(&SALT_DRAFT_23)
        );
        assert_eq!(
            initial_params(0xface_b001).map(|p| p.salt),
            Some(&SALT_DRAFT_22)
        );
        let v2 = initial_params(V2).expect("v2");
        assert!(v2.v2_packet_types);
        assert_eq!(v2.key_label, b"quicv2 key");
        let q50 = initial_params(0x5130_3530).expect("q050");
        assert_eq!(q50.handshake, Handshake::GoogleChlo);
        assert_eq!(q50.frames, FrameSyntax::Google);
        assert_eq!(initial_params(0x5130_3433), None);
        assert_eq!(initial_params(0x0a0a_0a0a).map(|p| p.salt), Some(&SALT_V1));
        assert_eq!(initial_params(0xfafa_fafa).map(|p| p.salt), Some(&SALT_V1));
        assert_eq!(initial_params(0x1234_5678), None);
    }
}
