//! ServerHello parsing and JA3S.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::base::json::Obj;
use phonehome::dissect::tls::{ja3s, parse_server_hello, write_eve, EveTls, Transport};

fuzz_target!(|data: &[u8]| {
    if let Ok(sh) = parse_server_hello(data) {
        let _ = ja3s(&sh);
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        write_eve(
            &mut o,
            &EveTls {
                client_hello: None,
                server_hello: Some(&sh),
                server_cert: None,
                transport: Transport::Tcp,
            },
        );
        o.end();
        // What the writer writes is JSON whatever the input.
        assert!(serde_json::from_slice::<serde_json::Value>(&buf).is_ok());
    }
});
