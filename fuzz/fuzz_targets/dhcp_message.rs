//! DHCP parser and the identity claim it makes, on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::dissect::{dhcp, hostid};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = dhcp::parse(data) {
        assert!(m.chaddr.len() <= 16);
        assert!(m.option_codes.len() <= dhcp::MAX_OPTION_CODES);
        // Escaping makes at most 4 characters (`\xNN`) of each kept one.
        for name in [&m.hostname, &m.vendor_class, &m.domain_name].into_iter().flatten() {
            assert!(name.len() <= hostid::MAX_NAME_TEXT * 4);
        }
        if let Some(c) = hostid::from_dhcp(&m) {
            assert!(c.mac.is_some());
        }
    }
});
