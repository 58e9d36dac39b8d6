//! ServerHello parsing and JA3S.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::dissect::tls::{ja3s, parse_server_hello, to_eve, EveTls, Transport};

fuzz_target!(|data: &[u8]| {
    if let Ok(sh) = parse_server_hello(data) {
        let _ = ja3s(&sh);
        let _ = to_eve(&EveTls {
            client_hello: None,
            server_hello: Some(&sh),
            server_cert: None,
            transport: Transport::Tcp,
        });
    }
});
