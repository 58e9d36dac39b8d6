//! ClientHello parsing (TLS and SSLv2 forms), every fingerprint and the
//! EVE object built from it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::base::json::Obj;
use phonehome::dissect::tls::{
    ja3, ja4, ja4_o, ja4_r, ja4_ro, parse_client_hello, parse_sslv2_client_hello, write_eve, EveTls,
    Transport,
};

fuzz_target!(|data: &[u8]| {
    for parsed in [parse_client_hello(data), parse_sslv2_client_hello(data)] {
        let Ok(ch) = parsed else { continue };
        let _ = ja3(&ch);
        for t in [Transport::Tcp, Transport::Quic, Transport::Dtls] {
            let a = ja4(&ch, t);
            let _ = (ja4_r(&ch, t), ja4_o(&ch, t), ja4_ro(&ch, t));
            // JA4 always has its three parts and a 10-character head.
            assert_eq!(a.split('_').count(), 3);
            assert_eq!(a.find('_'), Some(10));
        }
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        write_eve(
            &mut o,
            &EveTls {
                client_hello: Some(&ch),
                server_hello: None,
                server_cert: None,
                transport: Transport::Tcp,
            },
        );
        o.end();
        // What the writer writes is JSON whatever the input.
        assert!(serde_json::from_slice::<serde_json::Value>(&buf).is_ok());
    }
});
