//! Address ranges that are never a country: private, loopback, CGNAT,
//! link-local, documentation and the other special-purpose blocks of the IANA
//! registries (RFC 6890 and successors). A flow to one of them is local
//! traffic or a misconfiguration, never telemetry leaving for a country, so
//! GeoIP answers them as internal without consulting any database.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// Why an address is internal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InternalKind {
    /// `0.0.0.0/8` ("this network", RFC 1122) and `::/128`.
    Unspecified,
    /// `127.0.0.0/8` and `::1/128`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16` (RFC 1918).
    Private,
    /// `100.64/10`, shared address space for carrier-grade NAT (RFC 6598).
    SharedCgnat,
    /// `169.254/16` (RFC 3927) and `fe80::/10` (RFC 4291).
    LinkLocal,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24` (RFC 5737),
    /// `2001:db8::/32` (RFC 3849) and `3fff::/20` (RFC 9637).
    Documentation,
    /// `198.18/15` (RFC 2544) and `2001:2::/48` (RFC 5180).
    Benchmarking,
    /// `fc00::/7`, unique local addresses (RFC 4193).
    UniqueLocal,
    /// `fec0::/10`, deprecated site-local addresses (RFC 3879).
    SiteLocal,
    /// `224/4` and `ff00::/8`.
    Multicast,
    /// `255.255.255.255`, limited broadcast (RFC 919).
    Broadcast,
    /// Other special-purpose blocks: `240/4` (RFC 1112), `192.0.0/24` IETF
    /// protocol assignments (RFC 6890), the deprecated 6to4 relay anycast
    /// `192.88.99/24` (RFC 7526), the discard prefix `100::/64` (RFC 6666)
    /// and local-use translation `64:ff9b:1::/48` (RFC 8215).
    Reserved,
}

impl InternalKind {
    /// Its name in JSON (as serde writes it), for writers that skip serde.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedCgnat => "shared_cgnat",
            Self::LinkLocal => "link_local",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::UniqueLocal => "unique_local",
            Self::SiteLocal => "site_local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
        }
    }

    /// Short human text, as printed by `phonehome geoip`.
    pub fn description(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified, RFC 1122",
            Self::Loopback => "loopback",
            Self::Private => "private, RFC 1918",
            Self::SharedCgnat => "shared address space (CGNAT), RFC 6598",
            Self::LinkLocal => "link-local",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking, RFC 2544",
            Self::UniqueLocal => "unique local, RFC 4193",
            Self::SiteLocal => "site-local (deprecated), RFC 3879",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved (IANA special-purpose)",
        }
    }
}

/// The address a lookup should use: IPv4-mapped (`::ffff:a.b.c.d`) and
/// NAT64 well-known-prefix (`64:ff9b::a.b.c.d`, RFC 6052) addresses carry
/// the IPv4 destination that the traffic really goes to.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let [a, b, c, d, e, f, hi, lo] = v6.segments();
            if (a, b, c, d, e, f) == (0x64, 0xff9b, 0, 0, 0, 0) {
                return IpAddr::V4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
            }
            ip.to_canonical()
        }
    }
}

/// Classifies `ip` (after [`canonical`]); `None` for public unicast.
pub fn classify(ip: IpAddr) -> Option<InternalKind> {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: u32, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    ip & mask == u32::from_be_bytes(net) & mask
}

fn classify_v4(ip: Ipv4Addr) -> Option<InternalKind> {
    use InternalKind::*;
    // Most specific blocks first where they nest (broadcast inside 240/4).
    const TABLE: &[([u8; 4], u32, InternalKind)] = &[
        ([255, 255, 255, 255], 32, Broadcast),
        ([0, 0, 0, 0], 8, Unspecified),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedCgnat),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 0, 2, 0], 24, Documentation),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Benchmarking),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    let ip = u32::from(ip);
    TABLE
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, kind)| *kind)
}

fn in_v6(ip: u128, net: [u16; 8], len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    ip & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn classify_v6(ip: Ipv6Addr) -> Option<InternalKind> {
    use InternalKind::*;
    const TABLE: &[([u16; 8], u32, InternalKind)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, Unspecified),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, Loopback),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Reserved),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved),
        ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, Benchmarking),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Documentation),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Documentation),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, UniqueLocal),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, SiteLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
    ];
    let ip = u128::from(ip);
    TABLE
        .iter()
        .find(|(net, len, _)| in_v6(ip, *net, *len))
        .map(|(_, _, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use InternalKind::*;

    fn kind(s: &str) -> Option<InternalKind> {
        classify(s.parse().unwrap())
    }

    #[test]
    fn json_names_are_serdes() {
        for k in [
            Unspecified,
            Loopback,
            Private,
            SharedCgnat,
            LinkLocal,
            Documentation,
            Benchmarking,
            UniqueLocal,
            SiteLocal,
            Multicast,
            Broadcast,
            Reserved,
        ] {
            let serde = serde_json::to_string(&k).unwrap();
            assert_eq!(serde, format!("\"{}\"", k.as_str()));
        }
    }

    #[test]
    fn ipv4_blocks_and_their_edges() {
        let cases: &[(&str, Option<InternalKind>)] = &[
            ("0.0.0.0", Some(Unspecified)),
            ("0.255.255.255", Some(Unspecified)),
            ("1.0.0.0", None),
            ("9.255.255.255", None),
            ("10.0.0.1", Some(Private)),
            ("10.255.255.255", Some(Private)),
            ("11.0.0.0", None),
            ("100.63.255.255", None),
            ("100.64.0.0", Some(SharedCgnat)),
            ("100.127.255.255", Some(SharedCgnat)),
            ("100.128.0.0", None),
            ("127.0.0.1", Some(Loopback)),
            ("169.254.169.254", Some(LinkLocal)),
            ("169.255.0.0", None),
            ("172.15.255.255", None),
            ("172.16.0.0", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("172.32.0.0", None),
            ("192.0.0.8", Some(Reserved)),
            ("192.0.1.0", None),
            ("192.0.2.1", Some(Documentation)),
            ("192.0.3.0", None),
            ("192.88.99.1", Some(Reserved)),
            ("192.167.255.255", None),
            ("192.168.1.1", Some(Private)),
            ("192.169.0.0", None),
            ("198.17.255.255", None),
            ("198.18.0.0", Some(Benchmarking)),
            ("198.19.255.255", Some(Benchmarking)),
            ("198.20.0.0", None),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.255", Some(Documentation)),
            ("203.0.114.0", None),
            ("223.255.255.255", None),
            ("224.0.0.251", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("240.0.0.1", Some(Reserved)),
            ("255.255.255.254", Some(Reserved)),
            ("255.255.255.255", Some(Broadcast)),
            ("8.8.8.8", None),
        ];
        for (ip, want) in cases {
            assert_eq!(kind(ip), *want, "{ip}");
        }
    }

    #[test]
    fn ipv6_blocks_and_their_edges() {
        let cases: &[(&str, Option<InternalKind>)] = &[
            ("::", Some(Unspecified)),
            ("::1", Some(Loopback)),
            ("::2", None),
            ("64:ff9b:1::1", Some(Reserved)),
            ("100::1", Some(Reserved)),
            ("100:0:0:1::", None),
            ("2001:2::1", Some(Benchmarking)),
            ("2001:2:1::", None),
            ("2001:db8::1", Some(Documentation)),
            ("2001:db9::", None),
            ("3fff:fff::1", Some(Documentation)),
            ("3fff:1000::", None),
            ("fbff::1", None),
            ("fc00::1", Some(UniqueLocal)),
            ("fdff:ffff::1", Some(UniqueLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("febf::1", Some(LinkLocal)),
            ("fec0::1", Some(SiteLocal)),
            ("ff02::fb", Some(Multicast)),
            ("2001:4860:4860::8888", None),
        ];
        for (ip, want) in cases {
            assert_eq!(kind(ip), *want, "{ip}");
        }
    }

    #[test]
    fn embedded_ipv4_is_judged_as_ipv4() {
        assert_eq!(kind("::ffff:10.1.2.3"), Some(Private));
        assert_eq!(kind("::ffff:8.8.8.8"), None);
        assert_eq!(kind("64:ff9b::192.168.0.1"), Some(Private));
        assert_eq!(
            canonical("64:ff9b::8.8.4.4".parse().unwrap()),
            "8.8.4.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            canonical("::ffff:1.2.3.4".parse().unwrap()),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        // Outside the well-known /96 the address stays IPv6.
        assert_eq!(
            canonical("64:ff9b:0:0:0:1:808:808".parse().unwrap()),
            "64:ff9b::1:808:808".parse::<IpAddr>().unwrap()
        );
    }
}
