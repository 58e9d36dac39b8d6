//! Certificate message parsing (X.509 through x509-parser).
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::base::json::Obj;
use phonehome::dissect::tls::{parse_certificate, write_eve, EveTls, Transport, MAX_CERTS};

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = parse_certificate(data) {
        assert!(c.certs.len() <= MAX_CERTS);
        assert!(c.certs.len() <= c.total);
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        write_eve(
            &mut o,
            &EveTls {
                client_hello: None,
                server_hello: None,
                server_cert: c.certs.first(),
                transport: Transport::Tcp,
            },
        );
        o.end();
        // What the writer writes is JSON whatever the input.
        assert!(serde_json::from_slice::<serde_json::Value>(&buf).is_ok());
    }
});
