//! Walks arbitrary bytes as decrypted Initial payloads (both frame syntaxes),
//! reassembles their CRYPTO frames and parses Google CHLO messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::dissect::quic::frames::{Frame, Frames};
use phonehome::dissect::quic::version::FrameSyntax;
use phonehome::dissect::quic::{gquic, CryptoAssembler};

fuzz_target!(|data: &[u8]| {
    for syntax in [FrameSyntax::Ietf, FrameSyntax::Google] {
        let mut asm = CryptoAssembler::new(4096).with_max_ranges(8);
        for frame in Frames::new(data, syntax) {
            if let Ok(Frame::Crypto { offset, data }) = frame {
                let _ = asm.insert(offset, data);
            }
        }
        assert!(asm.buffered() <= 4096);
        assert!(asm.range_count() <= 8);
        if let Ok(Some(msg)) = asm.first_tls_message() {
            assert!(msg.len() >= 4);
        }
        let _ = gquic::chlo_len(asm.contiguous());
    }
    let _ = gquic::parse_chlo(data);
    let _ = gquic::legacy_crypto_stream(data, 0x5130_3433);
    let _ = gquic::legacy_crypto_stream(data, 0x5130_3235);
});
