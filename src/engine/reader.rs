//! The reader thread: the packet stream → batches shared by all workers.

use crate::base::Progress;
use crate::capture::PacketSource;
use crate::decode::{Batch, PacketStream, StreamEnd};
use crossbeam_channel::Sender;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Reads `stream` to its end, handing every batch to every worker (shared,
/// not copied; each worker takes the packets whose hash is its own).
pub fn run<S: PacketSource>(
    mut stream: PacketStream<S>,
    txs: Vec<Sender<Arc<Batch>>>,
    tap: Option<Sender<Arc<Batch>>>,
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
        for tx in &txs {
            if tx.send(Arc::clone(&batch)).is_err() {
                // The output side stopped (sink error): finish quietly.
                return stream.finish();
            }
        }
    }
    stream.finish()
}
