//! The reader thread: the packet stream → batches shared by all workers.

use super::handoff::{Sender, TrySendError};
use crate::base::Progress;
use crate::capture::PacketSource;
use crate::decode::{Batch, PacketStream, StreamEnd};
use crossbeam_channel::Sender as TapSender;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Reads `stream` to its end, handing every batch to every worker (shared,
/// not copied; each worker takes the packets whose hash is its own).
///
/// A full worker queue is waited on, never dropped from: every worker must
/// answer every batch (the merge takes one round from each), and a live
/// capture's backlog then lands in the kernel ring, where pcap_stats counts
/// what is lost. How often, and how long, the reader waited on each worker
/// is counted (`counters`), so a slow worker is visible.
pub fn run<S: PacketSource>(
    mut stream: PacketStream<S>,
    txs: Vec<Sender<Arc<Batch>>>,
    tap: Option<TapSender<Arc<Batch>>>,
    counters: Option<Arc<super::EngineCounters>>,
    progress: &Progress,
) -> StreamEnd {
    while let Some(batch) = stream.next_batch() {
        progress.packets.store(stream.packets(), Ordering::Relaxed);
        progress
            .file
            .store(u64::from(batch.input()) + 1, Ordering::Relaxed);
        progress
            .disk_bytes
            .store(stream.source().disk_bytes(), Ordering::Relaxed);
        if let Some(c) = &counters {
            if let Ok(mut d) = c.reader_decode.lock() {
                d.clone_from(stream.decode_stats());
            }
        }
        let batch = Arc::new(batch);
        if let Some(tap) = &tap {
            if tap.send(Arc::clone(&batch)).is_err() {
                return stream.finish();
            }
        }
        for (w, tx) in txs.iter().enumerate() {
            let sent = match tx.try_send(Arc::clone(&batch)) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(b)) => {
                    let t0 = Instant::now();
                    let r = tx.send(b);
                    if let Some(c) = counters.as_ref().and_then(|c| c.workers.get(w)) {
                        c.queue_full.fetch_add(1, Ordering::Relaxed);
                        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                        c.queue_wait_ns.fetch_add(ns, Ordering::Relaxed);
                    }
                    r.map_err(|_| ())
                }
                Err(TrySendError::Disconnected(_)) => Err(()),
            };
            if sent.is_err() {
                // The output side stopped (sink error): finish quietly.
                return stream.finish();
            }
        }
    }
    stream.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::FileSource;
    use crate::decode::StreamConfig;
    use std::time::Duration;

    #[test]
    fn a_full_worker_queue_is_waited_on_and_counted_never_dropped() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/demo.pcap");
        let source = FileSource::new(crate::capture::expand_inputs(&[path]).unwrap().files);
        // Small blocks: many batches for a queue of one.
        let stream = PacketStream::new(
            source,
            StreamConfig {
                block_size: 4096,
                ..Default::default()
            },
        );
        let counters = Arc::new(super::super::EngineCounters::new(2));
        let (fast_tx, fast_rx) = super::super::handoff::bounded(64, 32);
        let (slow_tx, slow_rx) = super::super::handoff::bounded(1, 0);
        let fast = std::thread::spawn(move || fast_rx.map(|b: Arc<Batch>| b.len()).sum::<usize>());
        let slow = std::thread::spawn(move || {
            slow_rx
                .map(|b: Arc<Batch>| {
                    std::thread::sleep(Duration::from_millis(5));
                    b.len()
                })
                .sum::<usize>()
        });
        let end = run(
            stream,
            vec![fast_tx, slow_tx],
            None,
            Some(Arc::clone(&counters)),
            &Progress::default(),
        );
        assert_eq!(end.capture.pkts, 586);
        // Both workers got every packet: nothing dropped for the slow one.
        assert_eq!(fast.join().unwrap(), 586);
        assert_eq!(slow.join().unwrap(), 586);
        let w = &counters.workers;
        assert!(w[1].queue_full.load(Ordering::Relaxed) > 0);
        assert!(w[1].queue_wait_ns.load(Ordering::Relaxed) > 0);
    }
}
