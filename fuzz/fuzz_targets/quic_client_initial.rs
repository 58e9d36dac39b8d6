//! Feeds arbitrary datagrams to the QUIC client tracker.
//!
//! Input: records of [direction byte][u16 length][bytes]; an even direction
//! byte is a client datagram, odd a server one. The first record is also
//! wrapped into a valid-looking v1 Initial header so the decryption path is
//! reached with hostile lengths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::dissect::quic::header::Packets;
use phonehome::dissect::quic::{gquic, Progress, QuicClientTracker};

fuzz_target!(|data: &[u8]| {
    let mut tracker = QuicClientTracker::default();
    let mut rest = data;
    while let [dir, a, b, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (dgram, next) = tail.split_at(len);
        rest = next;
        for p in Packets::new(dgram) {
            let _ = p;
        }
        let _ = gquic::parse_legacy(dgram);
        let progress = if dir % 2 == 0 {
            tracker.push_client_datagram(dgram)
        } else {
            tracker.push_server_datagram(dgram)
        };
        if let Progress::ClientHello { msg, .. } = progress {
            assert_eq!(msg.first(), Some(&1));
        }
    }
    // The raw input as the payload of an Initial with a fixed DCID.
    let mut pkt = vec![0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0];
    let len = data.len().min(0x3fff);
    pkt.push(0x40 | (len >> 8) as u8);
    pkt.push(len as u8);
    pkt.extend_from_slice(data);
    let _ = QuicClientTracker::default().push_client_datagram(&pkt);
});
