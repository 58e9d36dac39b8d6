//! Community ID v1 (corelight/community-id-spec): a flow hash shared by Zeek,
//! Suricata and Elastic so that records from different tools can be joined.

use base64::Engine;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMP6: u8 = 58;
const PROTO_SCTP: u8 = 132;

/// ICMP message types that have a counterpart, as Zeek pairs them (request ↔ reply).
fn icmp_counterpart(proto: u8, t: u8) -> Option<u8> {
    match (proto, t) {
        (PROTO_ICMP, 8) => Some(0),
        (PROTO_ICMP, 0) => Some(8),
        (PROTO_ICMP, 13) => Some(14),
        (PROTO_ICMP, 14) => Some(13),
        (PROTO_ICMP, 15) => Some(16),
        (PROTO_ICMP, 16) => Some(15),
        (PROTO_ICMP, 10) => Some(9),
        (PROTO_ICMP, 9) => Some(10),
        (PROTO_ICMP, 17) => Some(18),
        (PROTO_ICMP, 18) => Some(17),
        (PROTO_ICMP6, 128) => Some(129),
        (PROTO_ICMP6, 129) => Some(128),
        (PROTO_ICMP6, 130) => Some(131),
        (PROTO_ICMP6, 131) => Some(130),
        (PROTO_ICMP6, 133) => Some(134),
        (PROTO_ICMP6, 134) => Some(133),
        (PROTO_ICMP6, 135) => Some(136),
        (PROTO_ICMP6, 136) => Some(135),
        (PROTO_ICMP6, 139) => Some(140),
        (PROTO_ICMP6, 140) => Some(139),
        (PROTO_ICMP6, 144) => Some(145),
        (PROTO_ICMP6, 145) => Some(144),
        _ => None,
    }
}

/// The port-like pair the spec uses for ICMP: (type, counterpart type) for
/// request/response messages, else (type, code) and the flow is one-way.
pub fn icmp_ports(proto: u8, icmp_type: u8, code: u8) -> (u16, u16, bool) {
    match icmp_counterpart(proto, icmp_type) {
        Some(other) => (u16::from(icmp_type), u16::from(other), false),
        None => (u16::from(icmp_type), u16::from(code), true),
    }
}

fn has_ports(proto: u8) -> bool {
    matches!(
        proto,
        PROTO_TCP | PROTO_UDP | PROTO_SCTP | PROTO_ICMP | PROTO_ICMP6
    )
}

/// The 20-byte digest of a flow tuple as seen on one packet (`src` sent it).
/// For ICMP, `sport`/`dport` are the values from [`icmp_ports`].
pub fn digest(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    one_way: bool,
) -> [u8; 20] {
    let (mut a, mut b, mut pa, mut pb) = (src, dst, sport, dport);
    let ports = has_ports(proto);
    let ordered = if ports { (a, pa) <= (b, pb) } else { a <= b };
    if !one_way && !ordered {
        std::mem::swap(&mut a, &mut b);
        std::mem::swap(&mut pa, &mut pb);
    }
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    for addr in [a, b] {
        match addr {
            IpAddr::V4(v) => h.update(v.octets()),
            IpAddr::V6(v) => h.update(v.octets()),
        }
    }
    h.update([proto, 0]);
    if ports {
        h.update(pa.to_be_bytes());
        h.update(pb.to_be_bytes());
    }
    h.finalize().into()
}

/// Appends [`encode`]'s text (no allocation: written once per EVE event).
pub fn push_encoded(out: &mut Vec<u8>, d: &[u8; 20]) {
    let mut b64 = [0u8; 28];
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(d, &mut b64)
        .unwrap_or(0);
    out.extend_from_slice(b"1:");
    out.extend_from_slice(b64.get(..n).unwrap_or_default());
}

/// `1:` followed by the base64 of the digest: the form EVE and Zeek log.
pub fn encode(d: &[u8; 20]) -> String {
    let mut s = String::with_capacity(30);
    s.push_str("1:");
    base64::engine::general_purpose::STANDARD.encode_string(d, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushed_text_is_the_encoded_string() {
        for d in [[0u8; 20], [0xff; 20], *b"\x01\x02abcdefghijklmnopq\xfe"] {
            let mut out = b"x".to_vec();
            push_encoded(&mut out, &d);
            assert_eq!(out, format!("x{}", encode(&d)).into_bytes());
        }
    }

    fn id(seed: u16, s: &str, d: &str, sp: u16, dp: u16, proto: u8) -> String {
        encode(&digest(
            seed,
            s.parse().unwrap(),
            d.parse().unwrap(),
            sp,
            dp,
            proto,
            false,
        ))
    }

    // From the spec's README (peers.md quotes it) and its baseline_deflt.json.
    #[test]
    fn spec_vectors() {
        assert_eq!(
            id(0, "1.2.3.4", "5.6.7.8", 1122, 3344, 6),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        assert_eq!(
            id(0, "5.6.7.8", "1.2.3.4", 3344, 1122, 6),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        let (s, d) = ("fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea");
        assert_eq!(id(0, s, d, 135, 136, 58), "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=");
        assert_eq!(id(0, d, s, 136, 135, 58), "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=");
        assert_eq!(id(0, d, s, 135, 136, 58), "1:zavyT/cezQr1fmImYCwYnMXbgck=");
    }

    #[test]
    fn icmp_pairs_requests_with_replies() {
        assert_eq!(icmp_ports(1, 8, 0), (8, 0, false));
        assert_eq!(icmp_ports(1, 0, 0), (0, 8, false));
        assert_eq!(icmp_ports(1, 3, 1), (3, 1, true));
        assert_eq!(icmp_ports(58, 135, 0), (135, 136, false));
    }
}
