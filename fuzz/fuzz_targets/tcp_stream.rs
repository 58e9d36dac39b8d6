//! In-order delivery of a TCP stream from segments in any order, overlap
//! and size: what comes out is never more than what went in, in order
//! without repeats, and the held window stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::dissect::stream::{Delivery, Stream};

fuzz_target!(|data: &[u8]| {
    let mut s = Stream::default();
    s.syn(0);
    let mut rest = data;
    let mut fed = 0usize;
    let mut out = 0usize;
    // Each segment: 2 bytes of offset (from 1, so up to ~64 KiB ahead or
    // behind by wrapping), 1 byte of length, then that many bytes.
    while let [a, b, len, tail @ ..] = rest {
        let seq = 1u32.wrapping_add(u32::from(u16::from_be_bytes([*a, *b])).wrapping_mul(3));
        let n = usize::from(*len).min(tail.len());
        let (seg, after) = tail.split_at(n);
        fed += n;
        let d = s.segment(seq, seg, &mut |bytes: &[u8]| out += bytes.len());
        if d == Delivery::Gap {
            assert!(s.is_stopped());
        }
        rest = after;
    }
    // Delivered bytes are distinct stream positions from 1 on.
    assert_eq!(out as u64, s.delivered());
    assert!(out <= fed);
});
