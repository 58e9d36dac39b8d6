//! The fast path of `shard` (the reader) and `decode` (the workers) must give
//! the full walk's answer on every frame where it answers at all, counters
//! included: otherwise a flow would move to another worker, or a packet or a
//! decoder statistic would change, with nothing else changed.
//!
//! Checked on every packet of every capture under ../shared/captures (or
//! $PHONEHOME_SHARED; missing is a failure, never a skip), the project's own
//! captures, a generated benchmark capture of each traffic mix, and hostile
//! mutations of sample frames: truncation at every length over the headers,
//! random bytes and header-significant values written over the headers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::Rng;

use phonehome::capture::{Block, CaptureError, CaptureFile};
use phonehome::decode::{decode, decode_walked, shard, shard_fast, shard_walked, DecodeStats};
use std::path::{Path, PathBuf};

/// Values that steer the walk: EtherTypes (IPv4, IPv6, VLAN kinds, MPLS,
/// PPPoE, ARP), IP version/IHL bytes, fragment bits, IP protocols (tunnels,
/// extension headers) and the tunnel ports, as 16-bit words.
const WORDS: &[u16] = &[
    0x0800, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x9200, 0x8847, 0x8864, 0x0806, 0x6558, 0x4500, 0x4600,
    0x4f00, 0x6000, 0x2000, 0x0001, 0x3fff, 0x0000, 0xffff, 0x0014, 0x0013, 4789, 8472, 6081, 6635,
    4754, 3544, 2152, 5072, 53, 443,
];
const BYTES: &[u8] = &[
    0x45, 0x46, 0x44, 0x40, 0x60, 0x65, 0x00, 0xff, 0x20, 0x01, 0x3f, 4, 6, 17, 41, 47, 137, 0, 43,
    44, 50, 51, 58, 59, 60, 135, 139, 140,
];

#[derive(Default)]
struct Tally {
    frames: u64,
    fast: u64,
}

impl Tally {
    /// Holds the fast paths to the walk on one frame: the shard, the decoded
    /// packet and every decoder counter.
    fn check(&mut self, what: &str, lt: u16, f: &[u8]) {
        self.frames += 1;
        let slow = shard_walked(lt, f);
        if let Some(fast) = shard_fast(lt, f) {
            self.fast += 1;
            assert_eq!(fast, slow, "{what}: linktype {lt}, frame {f:02x?}");
        }
        assert_eq!(shard(lt, f), slow, "{what}: linktype {lt}, frame {f:02x?}");
        let (mut fast_stats, mut slow_stats) = (DecodeStats::default(), DecodeStats::default());
        assert_eq!(
            decode(lt, f, &mut fast_stats),
            decode_walked(lt, f, &mut slow_stats),
            "{what}: linktype {lt}, frame {f:02x?}"
        );
        assert_eq!(
            fast_stats, slow_stats,
            "{what}: linktype {lt}, frame {f:02x?}"
        );
    }
}

/// Truncations of `f` at every length over its first 256 bytes (where any
/// header the walk reads for sharding lies), and `n` mutants of its headers.
fn mutate(t: &mut Tally, rng: &mut Rng, what: &str, lt: u16, f: &[u8], n: usize) {
    for len in 0..f.len().min(256) {
        t.check(what, lt, &f[..len]);
    }
    let span = f.len().min(96);
    if span < 2 {
        return;
    }
    let mut m = f.to_vec();
    for _ in 0..n {
        m.copy_from_slice(f);
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(span - 1);
            match rng.below(3) {
                0 => m[at] = rng.next() as u8,
                1 => m[at] = BYTES[rng.below(BYTES.len())],
                _ => m[at..at + 2].copy_from_slice(&WORDS[rng.below(WORDS.len())].to_be_bytes()),
            }
        }
        t.check(what, lt, &m);
        // The same mutant cut short where it still has a transport header.
        let cut = rng.below(m.len().min(80));
        t.check(what, lt, &m[..cut]);
    }
}

/// Checks every packet of a capture file, and mutants of every `sample`-th;
/// `None` when the file is not a capture.
fn run_file(path: &Path, sample: u64, t: &mut Tally, rng: &mut Rng) -> Option<()> {
    let mut file = match CaptureFile::open(path) {
        Ok(f) => f,
        Err(CaptureError::NotACapture { .. }) => return None,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    let what = path.display().to_string();
    let mut block = Block::default();
    let mut n = 0u64;
    while let Ok(true) = file.fill(&mut block, 1 << 20) {
        for m in &block.packets {
            let bytes = block.bytes(m);
            t.check(&what, m.linktype, bytes);
            if n % sample == 0 {
                mutate(t, rng, &what, m.linktype, bytes, 24);
            }
            n += 1;
        }
    }
    Some(())
}

#[test]
fn fast_path_equals_the_walk_on_every_shared_capture_packet_and_mutant() {
    let root = common::shared().join("captures");
    let paths: Vec<PathBuf> = common::corpus().iter().map(|r| root.join(r)).collect();
    let mut t = Tally::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut captures = 0;
    for p in &paths {
        if run_file(p, 7, &mut t, &mut rng).is_some() {
            captures += 1;
        }
    }
    assert!(captures > 300, "only {captures} captures read");
    // The fast path must actually carry the corpus's plain frames.
    assert!(
        t.fast * 4 > t.frames,
        "fast path answered {} of {} frames",
        t.fast,
        t.frames
    );
}

#[test]
fn fast_path_equals_the_walk_on_the_projects_captures_and_mutants() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut t = Tally::default();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for name in ["demo.pcap", "realstack.pcap"] {
        run_file(&root.join("captures").join(name), 3, &mut t, &mut rng)
            .expect("a project capture");
    }
    assert!(
        t.fast * 4 > t.frames,
        "fast path answered {} of {} frames",
        t.fast,
        t.frames
    );
}

#[test]
fn fast_path_equals_the_walk_on_generated_bench_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for (name, mix) in [
        ("enterprise", gencap::bench::Mix::ENTERPRISE),
        ("quic-short", gencap::bench::Mix::QUIC_SHORT),
    ] {
        let path = dir.path().join(format!("{name}.pcap"));
        let out = std::fs::File::create(&path).unwrap();
        let (_, mut out) =
            gencap::bench::generate_mix(out, gencap::pcap::Format::Pcap, 20_000, mix).unwrap();
        std::io::Write::flush(&mut out).unwrap();
        drop(out);
        let mut t = Tally::default();
        run_file(&path, 101, &mut t, &mut rng).unwrap();
        // Plain Ethernet TCP/UDP nearly throughout: the walk is the exception.
        assert!(
            t.fast * 2 > t.frames,
            "{name}: fast path answered {} of {} frames",
            t.fast,
            t.frames
        );
    }
}
