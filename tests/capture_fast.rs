//! The capture reader's tight loops (classic pcap in both byte orders and
//! the modified variant, pcapng Enhanced Packet Blocks in both byte orders)
//! must hand out exactly what the general record parser does: the same
//! packets, bytes, times, link types, file statistics and damage reports.
//!
//! Checked on every capture under ../shared/captures (or $PHONEHOME_SHARED;
//! missing is a failure, never a skip), at two block sizes (records split by
//! block boundaries everywhere), on generated pcap, pcapng and big-endian
//! pcap traffic, and on mutants (bytes overwritten, files cut short) of the
//! corpus's pcapng and big-endian files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::Rng;

use phonehome::capture::{Block, CaptureError, CaptureFile, FileStats, Format};
use std::path::{Path, PathBuf};

/// Everything a reader hands out: per packet (time, captured and wire
/// length, link type, bytes), the file's statistics, and how it ended.
#[derive(Debug, PartialEq)]
struct Read {
    packets: Vec<(u64, u32, u32, u16, Vec<u8>)>,
    stats: FileStats,
    end: Option<String>,
}

fn read(name: &str, bytes: &[u8], fast: bool, block_size: usize) -> Option<(Format, Read)> {
    let src = Box::new(std::io::Cursor::new(bytes.to_vec()));
    let mut f = match CaptureFile::from_reader(Path::new(name), src) {
        Ok(f) => f,
        Err(CaptureError::NotACapture { .. }) => return None,
        Err(e) => {
            let r = Read {
                packets: vec![],
                stats: FileStats::default(),
                end: Some(e.to_string()),
            };
            return Some((Format::PcapNg, r));
        }
    };
    f.set_fast(fast);
    let mut block = Block::default();
    let mut packets = Vec::new();
    let end = loop {
        match f.fill(&mut block, block_size) {
            Ok(true) => packets.extend(block.packets.iter().map(|m| {
                (
                    m.ts_ns,
                    m.caplen,
                    m.origlen,
                    m.linktype,
                    block.bytes(m).to_vec(),
                )
            })),
            Ok(false) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    let stats = f.stats().clone();
    Some((
        f.format(),
        Read {
            packets,
            stats,
            end,
        },
    ))
}

/// Holds the fast loops to the parser on one file's bytes; its format and
/// packet count, or none if it is not a capture.
fn same(name: &str, bytes: &[u8]) -> Option<(Format, usize)> {
    let mut out = None;
    for block_size in [4096, 1 << 20] {
        let (format, fast) = read(name, bytes, true, block_size)?;
        let (_, slow) = read(name, bytes, false, block_size)?;
        assert_eq!(
            fast.stats, slow.stats,
            "{name}, blocks of {block_size}: statistics differ"
        );
        assert_eq!(
            fast.end, slow.end,
            "{name}, blocks of {block_size}: the ends differ"
        );
        assert_eq!(
            fast.packets.len(),
            slow.packets.len(),
            "{name}, blocks of {block_size}: packet counts differ"
        );
        for (i, (a, b)) in fast.packets.iter().zip(&slow.packets).enumerate() {
            assert_eq!(a, b, "{name}, blocks of {block_size}: packet {i} differs");
        }
        out = Some((format, fast.packets.len()));
    }
    out
}

/// Values that steer the parsers when written over a length, type,
/// interface or time field.
const WORDS: &[u32] = &[
    0,
    1,
    2,
    3,
    6,
    12,
    28,
    31,
    32,
    33,
    64,
    0xffff,
    0x0004_0000,
    0x0400_0000,
    0xffff_ffff,
    0x0a0d_0d0a,
    0x1a2b_3c4d,
    0x4d3c_2b1a,
];

/// `n` mutants of `bytes`: fields overwritten in its first 64 KiB, and cuts.
fn mutants(name: &str, bytes: &[u8], rng: &mut Rng, n: usize) -> usize {
    let span = bytes.len().min(1 << 16);
    let mut checked = 0;
    for i in 0..n {
        let mut m = bytes.to_vec();
        if i % 4 == 3 {
            m.truncate(rng.below(span));
        } else {
            for _ in 0..1 + rng.below(3) {
                // Aligned as the formats' fields are, mostly.
                let at = (rng.below(span.saturating_sub(4)) & !3) + usize::from(i % 5 == 0);
                let w = WORDS[rng.below(WORDS.len())];
                let w = if rng.below(2) == 0 { w } else { w.swap_bytes() };
                if let Some(dst) = m.get_mut(at..at + 4) {
                    dst.copy_from_slice(&w.to_le_bytes());
                }
            }
        }
        if same(&format!("{name} mutant {i}"), &m).is_some() {
            checked += 1;
        }
    }
    checked
}

#[test]
fn fast_capture_loops_equal_the_record_parser_on_every_shared_capture_and_mutant() {
    let root = common::shared().join("captures");
    let paths: Vec<PathBuf> = common::corpus().iter().map(|r| root.join(r)).collect();
    let (mut ng, mut be, mut le, mut mutated) = (0, 0, 0, 0);
    let mut ng_packets = 0;
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let name = path.display().to_string();
        let Some((format, packets)) = same(&name, &bytes) else {
            continue;
        };
        match format {
            Format::PcapNg => {
                ng += 1;
                ng_packets += packets;
            }
            Format::Pcap {
                big_endian: true, ..
            } => be += 1,
            Format::Pcap { .. } => le += 1,
        }
        let odd = !matches!(
            format,
            Format::Pcap {
                big_endian: false,
                ..
            }
        );
        if odd && bytes.len() <= 4 << 20 {
            mutated += mutants(&name, &bytes, &mut rng, 40);
        }
    }
    eprintln!("{le} little-endian pcap, {be} big-endian pcap, {ng} pcapng ({ng_packets} packets), {mutated} mutants");
    assert!(le >= 200, "only {le} little-endian pcap files");
    assert!(
        ng >= 30 && ng_packets >= 5_000,
        "only {ng} pcapng files, {ng_packets} packets"
    );
    assert!(be >= 2, "only {be} big-endian pcap files");
    assert!(mutated >= 1000, "only {mutated} mutants read");
}

/// A classic little-endian pcap rewritten in big-endian order.
fn to_big_endian(le: &[u8]) -> Vec<u8> {
    let mut out = le.to_vec();
    let swap32 = |b: &mut [u8]| b.reverse();
    swap32(&mut out[0..4]);
    out[4..6].reverse();
    out[6..8].reverse();
    for at in (8..24).step_by(4) {
        swap32(&mut out[at..at + 4]);
    }
    let mut pos = 24;
    while pos + 16 <= out.len() {
        let caplen = u32::from_le_bytes(le[pos + 8..pos + 12].try_into().unwrap()) as usize;
        for at in (pos..pos + 16).step_by(4) {
            swap32(&mut out[at..at + 4]);
        }
        pos += 16 + caplen;
    }
    out
}

#[test]
fn fast_capture_loops_equal_the_record_parser_on_generated_pcap_pcapng_and_big_endian() {
    for format in [gencap::pcap::Format::Pcap, gencap::pcap::Format::Pcapng] {
        let (_, out) =
            gencap::bench::generate_mix(Vec::new(), format, 20_000, gencap::bench::Mix::ENTERPRISE)
                .unwrap();
        let bytes = out;
        let (got, n) = same(&format!("{format:?}"), &bytes).unwrap();
        assert_eq!(n, 20_000, "{format:?}");
        if format == gencap::pcap::Format::Pcap {
            let be = to_big_endian(&bytes);
            let (got_be, n_be) = same("big-endian", &be).unwrap();
            assert!(matches!(
                got_be,
                Format::Pcap {
                    big_endian: true,
                    ..
                }
            ));
            assert_eq!(n_be, 20_000);
            // The same packets whatever the byte order.
            assert_eq!(
                read("le", &bytes, true, 1 << 20).unwrap().1.packets,
                read("be", &be, true, 1 << 20).unwrap().1.packets
            );
        } else {
            assert_eq!(got, Format::PcapNg);
        }
    }
}
