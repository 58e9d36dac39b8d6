//! Stream bytes through the record/handshake reassembler in chunks whose
//! sizes the input chooses, then through every parser that applies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::dissect::tls::{
    handshake_type, ja3, ja3s, ja4, parse_certificate, parse_server_hello, HandshakeReassembler,
    Limits, Transport,
};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    // Small limits too, so the truncation paths are reached.
    let limits = if split & 0x80 != 0 {
        Limits {
            max_message: 300,
            max_preamble: 64,
        }
    } else {
        Limits::default()
    };
    let mut r = HandshakeReassembler::with_limits(limits);
    let step = usize::from(split & 0x3f) + 1;
    for chunk in rest.chunks(step) {
        r.push(chunk, |h| {
            assert!(h.message.len() <= limits.max_message + 4 || h.sslv2);
            match h.msg_type {
                handshake_type::CLIENT_HELLO => {
                    if let Some(Ok(ch)) = h.client_hello() {
                        let _ = ja3(&ch);
                        let _ = ja4(&ch, Transport::Tcp);
                    }
                }
                handshake_type::SERVER_HELLO => {
                    if let Ok(sh) = parse_server_hello(h.message) {
                        let _ = ja3s(&sh);
                    }
                }
                handshake_type::CERTIFICATE => {
                    let _ = parse_certificate(h.message);
                }
                _ => {}
            }
        });
    }
    if split & 0x40 != 0 {
        r.gap();
        assert!(r.is_done());
    }
});
