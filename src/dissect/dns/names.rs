//! Mnemonics for record types and response codes, as Suricata prints them.

use std::borrow::Cow;

/// Suricata's rrtype table (its `DNSRecordType`), so EVE output matches. Types
/// outside it (SVCB = 64, CAA = 257, ...) print as their number, like Suricata.
const RRTYPES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (19, "X25"),
    (20, "ISDN"),
    (21, "RT"),
    (22, "NSAP"),
    (23, "NSAPPTR"),
    (24, "SIG"),
    (25, "KEY"),
    (26, "PX"),
    (27, "GPOS"),
    (28, "AAAA"),
    (29, "LOC"),
    (30, "NXT"),
    (33, "SRV"),
    (34, "ATMA"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (38, "A6"),
    (39, "DNAME"),
    (41, "OPT"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (55, "HIP"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (65, "HTTPS"),
    (99, "SPF"),
    (249, "TKEY"),
    (250, "TSIG"),
    (254, "MAILA"),
    (255, "ANY"),
    (256, "URI"),
];

/// Record type mnemonic ("A", "AAAA", "HTTPS"...), else the number as text.
pub fn rrtype_name(rrtype: u16) -> Cow<'static, str> {
    match RRTYPES.binary_search_by_key(&rrtype, |&(t, _)| t) {
        Ok(i) => RRTYPES.get(i).map_or_else(
            || Cow::Owned(rrtype.to_string()),
            |&(_, n)| Cow::Borrowed(n),
        ),
        Err(_) => Cow::Owned(rrtype.to_string()),
    }
}

const RCODES: &[&str] = &[
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",
];

/// Response code mnemonic, else the number as text. 16 is BADVERS in an OPT
/// record and BADSIG in TSIG; Suricata prints both names.
pub fn rcode_name(rcode: u8) -> Cow<'static, str> {
    let name = match rcode {
        0..=10 => RCODES.get(usize::from(rcode)).copied(),
        16 => Some("BADVERS/BADSIG"),
        17 => Some("BADKEY"),
        18 => Some("BADTIME"),
        19 => Some("BADMODE"),
        20 => Some("BADNAME"),
        21 => Some("BADALG"),
        22 => Some("BADTRUNC"),
        _ => None,
    };
    name.map_or_else(|| Cow::Owned(rcode.to_string()), Cow::Borrowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(RRTYPES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn rrtype_names() {
        assert_eq!(rrtype_name(1), "A");
        assert_eq!(rrtype_name(28), "AAAA");
        assert_eq!(rrtype_name(5), "CNAME");
        assert_eq!(rrtype_name(65), "HTTPS");
        assert_eq!(rrtype_name(256), "URI");
        assert_eq!(rrtype_name(64), "64");
        assert_eq!(rrtype_name(0), "0");
        assert_eq!(rrtype_name(65535), "65535");
    }

    #[test]
    fn rcode_names() {
        assert_eq!(rcode_name(0), "NOERROR");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(10), "NOTZONE");
        assert_eq!(rcode_name(11), "11");
        assert_eq!(rcode_name(15), "15");
        assert_eq!(rcode_name(16), "BADVERS/BADSIG");
        assert_eq!(rcode_name(22), "BADTRUNC");
        assert_eq!(rcode_name(23), "23");
    }
}
