//! NBNS parser, the identity claims it makes, and mDNS claims through the
//! DNS parser, on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::dissect::{dns, hostid, nbns};
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    if let Ok(m) = nbns::parse(data) {
        assert!(m.questions.len() <= nbns::MAX_RECORDS_PER_SECTION);
        for r in m.records() {
            if let Some(n) = &r.name {
                assert!(n.raw.len() <= 15);
                assert!(n.scope.len() <= nbns::MAX_SCOPE_TEXT + 4 * 63 + 1);
            }
        }
        let claims = hostid::from_nbns(&m, src);
        assert!(claims.len() <= 3 * nbns::MAX_RECORDS_PER_SECTION * nbns::MAX_NB_ADDRESSES);
    }
    if let Ok(m) = dns::parse_message(data) {
        if let Some(c) = hostid::from_mdns(&m, src) {
            assert_eq!(c.address, Some(src));
        }
    }
});
