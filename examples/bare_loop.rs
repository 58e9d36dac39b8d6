//! The baseline for phonehome's speed claims: read every packet of a capture
//! and slice it with etherparse, nothing else. Two readers:
//! `phonehome` (this crate's zero-copy block reader) and `libpcap` (the pcap
//! crate's offline reader, which copies each packet into its own buffer).
//!
//! Usage: bare_loop [--reader phonehome|libpcap] FILE
#![allow(clippy::unwrap_used, clippy::expect_used)]

use phonehome::capture::{Block, CaptureFile};
use std::time::Instant;

fn slice(linktype: u16, data: &[u8], ok: &mut u64) {
    let r = match linktype {
        1 => etherparse::SlicedPacket::from_ethernet(data).is_ok(),
        _ => etherparse::SlicedPacket::from_ip(data).is_ok(),
    };
    *ok += u64::from(r);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (reader, file) = match args.as_slice() {
        [flag, r, f] if flag == "--reader" => (r.clone(), f.clone()),
        [f] => ("phonehome".to_string(), f.clone()),
        _ => {
            eprintln!("usage: bare_loop [--reader phonehome|libpcap] FILE");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let (mut pkts, mut ok) = (0u64, 0u64);
    match reader.as_str() {
        "phonehome" => {
            let mut f = CaptureFile::open(file.as_ref()).unwrap_or_else(|e| {
                eprintln!("{e}");
                std::process::exit(1)
            });
            let mut b = Block::default();
            while f.fill(&mut b, 1 << 20).unwrap_or(false) {
                for p in &b.packets {
                    pkts += 1;
                    slice(p.linktype, b.bytes(p), &mut ok);
                }
            }
        }
        "libpcap" => {
            let mut cap = pcap::Capture::from_file(&file).unwrap_or_else(|e| {
                eprintln!("{file}: {e}");
                std::process::exit(1)
            });
            let lt = cap.get_datalink().0 as u16;
            while let Ok(p) = cap.next_packet() {
                pkts += 1;
                slice(lt, p.data, &mut ok);
            }
        }
        other => {
            eprintln!("unknown reader {other}");
            std::process::exit(2);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "reader={reader} packets={pkts} sliced_ok={ok} seconds={secs:.3} mpps={:.2}",
        pkts as f64 / secs / 1e6
    );
}
