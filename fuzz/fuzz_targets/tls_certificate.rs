//! Certificate message parsing (X.509 through x509-parser).
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::dissect::tls::{parse_certificate, to_eve, EveTls, Transport, MAX_CERTS};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = parse_certificate(data) {
        assert!(c.certs.len() <= MAX_CERTS);
        assert!(c.certs.len() <= c.total);
        let _ = to_eve(&EveTls {
            client_hello: None,
            server_hello: None,
            server_cert: c.certs.first(),
            transport: Transport::Tcp,
        });
    }
});
