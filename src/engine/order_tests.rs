//! The merge's order holds whatever the in-flight credit and part size: a
//! worker that hands a round on in many parts, or waits for credit at every
//! part, must give the same events, with the same lines, in the same order
//! as one worker with room to spare, for 1, 2, 4 and 8 workers.

use super::{replay, ReplayConfig};
use crate::base::Progress;
use crate::capture::expand_inputs;
use crate::flow::EventKey;
use std::path::PathBuf;
use std::sync::Arc;

fn events(cfg: &ReplayConfig) -> Vec<(EventKey, Vec<u8>)> {
    let mut out = Vec::new();
    let outcome = replay(cfg, Arc::new(Progress::default()), &mut |ev, line| {
        out.push((ev.key, line.line.to_vec()));
        Ok(())
    })
    .unwrap();
    assert_eq!(outcome.stats.events, out.len() as u64);
    out
}

#[test]
fn parts_and_credit_waits_keep_the_order_for_any_worker_count() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures");
    let inputs = expand_inputs(&[dir]).unwrap().files;
    assert!(inputs.len() >= 2, "the project's captures");
    let mut base = ReplayConfig::new(inputs);
    base.workers = 1;
    let want = events(&base);
    assert!(want.len() > 200, "{} events", want.len());
    // Every flow still open at the end goes out as a part of its own; a
    // credit of one byte makes every part after the first of a round wait.
    for (in_flight, part_events) in [(None, 2048), (Some(1), 1), (Some(64 << 10), 3)] {
        for workers in [1, 2, 4, 8] {
            let mut cfg = base.clone();
            cfg.workers = workers;
            cfg.in_flight = in_flight;
            cfg.part_events = part_events;
            let got = events(&cfg);
            assert!(
                got == want,
                "{workers} workers, credit {in_flight:?}, parts of {part_events}: {} events, first difference at {:?}",
                got.len(),
                got.iter().zip(&want).position(|(a, b)| a != b)
            );
        }
    }
}

/// Small queues (the reader wakes at the first free slot with several
/// workers) and small blocks (many batches) with a one-byte credit: no
/// deadlock, and the same events in the same order as one worker.
#[test]
fn small_queues_and_blocks_keep_the_order_for_any_worker_count() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures");
    let inputs = expand_inputs(&[dir]).unwrap().files;
    let mut base = ReplayConfig::new(inputs);
    base.workers = 1;
    let want = events(&base);
    assert!(want.len() > 200, "{} events", want.len());
    for queue_depth in [1, 2, 3] {
        for workers in [1, 2, 4, 8] {
            let mut cfg = base.clone();
            cfg.workers = workers;
            cfg.queue_depth = queue_depth;
            cfg.block_size = 8 << 10;
            cfg.in_flight = Some(1);
            cfg.part_events = 7;
            let got = events(&cfg);
            assert!(
                got == want,
                "{workers} workers, queues of {queue_depth}: {} events, first difference at {:?}",
                got.len(),
                got.iter().zip(&want).position(|(a, b)| a != b)
            );
        }
    }
}
