//! Per-stage costs on the project's own demo capture (criterion):
//! `cargo bench --bench pipeline`. The whole-process figures (packets/s beside
//! a bare loop, ndpiReader and tshark) come from `bench/run.sh`.

// Inputs are the project's own files: a broken one should stop the bench loudly.
#![allow(clippy::panic, clippy::indexing_slicing)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use phonehome::capture::{Block, CaptureFile};
use phonehome::decode::{decode, shard, DecodeStats, Decoded, Shard};
use phonehome::dissect::tls::{parse_client_hello, push_ja3_string, push_ja4, Transport};
use phonehome::resolve::catalog::Catalog;
use std::hint::black_box;
use std::path::Path;

/// (link type, frame) of every packet of `captures/demo.pcap`.
fn demo_frames() -> Vec<(u16, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/demo.pcap");
    let mut f = CaptureFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut b = Block::default();
    let mut v = Vec::new();
    while let Ok(true) = f.fill(&mut b, 1 << 20) {
        for m in &b.packets {
            v.push((m.linktype, b.bytes(m).to_vec()));
        }
    }
    assert!(!v.is_empty(), "no packets in {}", path.display());
    v
}

/// The handshake message of the first TLS ClientHello record in the frames.
fn first_client_hello(frames: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut stats = DecodeStats::new();
    for (lt, b) in frames {
        if let Decoded::Packet(p) = decode(*lt, b, &mut stats) {
            let pl = p.payload;
            if pl.len() > 9 && pl[0] == 0x16 && pl[1] == 0x03 && pl[5] == 0x01 {
                return pl[5..].to_vec();
            }
        }
    }
    panic!("no TLS ClientHello in captures/demo.pcap");
}

fn decode_and_shard(c: &mut Criterion) {
    let frames = demo_frames();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("decode demo.pcap", |bch| {
        let mut stats = DecodeStats::new();
        bch.iter(|| {
            let mut n = 0usize;
            for (lt, b) in &frames {
                if let Decoded::Packet(p) = decode(*lt, b, &mut stats) {
                    n = n.wrapping_add(p.payload.len());
                }
            }
            black_box(n)
        })
    });
    g.bench_function("shard demo.pcap", |bch| {
        bch.iter(|| {
            let mut n = 0u64;
            for (lt, b) in &frames {
                if let Shard::Hash(h) = shard(*lt, b) {
                    n = n.wrapping_add(u64::from(h));
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

fn tls_hello(c: &mut Criterion) {
    let msg = first_client_hello(&demo_frames());
    let mut g = c.benchmark_group("tls");
    g.bench_function("parse ClientHello", |b| {
        b.iter(|| black_box(parse_client_hello(black_box(&msg)).map(|ch| ch.extensions.len())))
    });
    let ch = match parse_client_hello(&msg) {
        Ok(ch) => ch,
        Err(e) => panic!("demo ClientHello does not parse: {e}"),
    };
    g.bench_function("JA3 string + JA4 (memoised digests)", |b| {
        b.iter_batched_ref(
            || Vec::with_capacity(512),
            |out| {
                push_ja3_string(out, &ch);
                push_ja4(out, &ch, Transport::Tcp);
                black_box(out.len())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn catalog_match(c: &mut Criterion) {
    let cat = match Catalog::embedded() {
        Ok(c) => c,
        Err(e) => panic!("embedded catalog: {e}"),
    };
    let names = [
        "ts01-b.cloudsink.net",
        "wdcp.microsoft.com",
        "d1.sophosxl.net",
        "www.example.org",
        "a.b.c.d.e.f.unrelated.example.com",
    ];
    let mut g = c.benchmark_group("catalog");
    g.throughput(Throughput::Elements(names.len() as u64));
    g.bench_function("match_name (3 hits, 2 misses)", |b| {
        b.iter(|| {
            names
                .iter()
                .filter(|n| cat.match_name(black_box(n)).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, decode_and_shard, tls_hello, catalog_match);
criterion_main!(benches);
