//! Link, network, tunnel and transport decoding of arbitrary frames, under
//! every link type phonehome reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::decode::{decode, DecodeStats, Decoded};

const LINKTYPES: [u16; 14] = [1, 0, 9, 12, 14, 101, 108, 113, 228, 229, 276, 239, 105, 127];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let lt = LINKTYPES[usize::from(pick) % LINKTYPES.len()];
    let mut stats = DecodeStats::default();
    if let Decoded::Packet(p) = decode(lt, frame, &mut stats) {
        // The payload is a slice of the frame, never beyond it.
        assert!(p.payload.len() <= frame.len());
        if let Some(t) = p.tunnel {
            assert!(t.depth >= 1);
        }
    }
});
