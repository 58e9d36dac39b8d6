//! A capture stream read as it arrives (`live -r -`: `tcpdump -U -w - | …`,
//! `ssh sensor tcpdump -U -w - … | …`).
//!
//! A file read to its end blocks in `read` whenever the writer is quiet, so
//! the pipeline would neither time flows out nor write stats events. Here a
//! thread reads the stream one record at a time and hands packets over a
//! bounded channel; [`PipeSource`] takes what is waiting and, when nothing
//! came for the idle tick, reports [`Pull::Idle`] with the capture clock
//! moved on by the wall clock, as a live interface does.

use super::{Fill, Handed};
use crate::base::stop::Stop;
use crate::capture::{
    Block, CaptureError, CaptureFile, PacketMeta, PacketSource, Pull, SourceCounts,
};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Packets waiting between the reading thread and the pipeline (the writer
/// blocks beyond: a pipe has no drops, only back-pressure).
const QUEUE: usize = 4096;

enum Piece {
    Packet(PacketMeta, Vec<u8>),
    Failed(CaptureError),
}

/// A pcap or pcapng stream (standard input, a FIFO, a growing file) as a
/// packet source that stays responsive while the writer is quiet.
pub struct PipeSource {
    rx: Receiver<Piece>,
    stop: Stop,
    idle_tick: Duration,
    errors: Vec<CaptureError>,
    damaged: u64,
    /// The last packet handed out: its time, and when.
    last_packet: Option<(u64, Instant)>,
    handed: Arc<Handed>,
    ended: bool,
}

impl PipeSource {
    /// Starts reading `file` (already opened, so a bad header is reported
    /// before anything runs) on its own thread.
    pub fn start(
        mut file: CaptureFile,
        stop: Stop,
        idle_tick: Duration,
    ) -> std::io::Result<PipeSource> {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let reader_stop = stop.clone();
        // Not joined: a stop leaves it blocked in `read` until the writer
        // closes or the process exits; it holds nothing that needs closing.
        std::thread::Builder::new()
            .name("phonehome-pipe".into())
            .spawn(move || {
                let mut block = Block::default();
                while !reader_stop.requested() {
                    // A target of one byte: each fill returns as soon as one
                    // whole record is in, never waiting for a buffer to fill.
                    match file.fill(&mut block, 1) {
                        Ok(true) => {
                            for p in &block.packets {
                                let bytes = block.bytes(p).to_vec();
                                let meta = PacketMeta { offset: 0, ..*p };
                                if tx.send(Piece::Packet(meta, bytes)).is_err() {
                                    return;
                                }
                            }
                        }
                        Ok(false) => return,
                        Err(e) => {
                            let _ = tx.send(Piece::Failed(e));
                            return;
                        }
                    }
                }
            })?;
        Ok(PipeSource {
            rx,
            stop,
            idle_tick,
            errors: Vec::new(),
            damaged: 0,
            last_packet: None,
            handed: Arc::default(),
            ended: false,
        })
    }

    /// Packets and bytes handed out so far (shared: readable while it runs).
    pub fn handed(&self) -> Arc<Handed> {
        Arc::clone(&self.handed)
    }

    fn clock_now(&self) -> u64 {
        match self.last_packet {
            Some((ts, at)) => ts.saturating_add(at.elapsed().as_nanos() as u64),
            None => 0,
        }
    }

    /// Moves what is waiting into `block`, waiting at most the idle tick for
    /// the first packet.
    fn fill(&mut self, block: &mut Block, target: usize) -> Fill {
        let deadline = Instant::now() + self.idle_tick;
        loop {
            let piece = if !block.packets.is_empty() {
                match self.rx.try_recv() {
                    Ok(p) => p,
                    Err(_) => return Fill::Packets,
                }
            } else if self.stop.requested() {
                // Hand out what was already read, then end.
                match self.rx.try_recv() {
                    Ok(p) => p,
                    Err(_) => return Fill::End,
                }
            } else {
                let wait = deadline.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(wait) {
                    Ok(p) => p,
                    Err(RecvTimeoutError::Timeout) => {
                        return Fill::Idle {
                            clock_ns: self.clock_now(),
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return Fill::End,
                }
            };
            match piece {
                Piece::Packet(meta, bytes) => {
                    block.packets.push(PacketMeta {
                        offset: block.data.len() as u32,
                        ..meta
                    });
                    block.data.extend_from_slice(&bytes);
                    if block.data.len() >= target {
                        return Fill::Packets;
                    }
                }
                Piece::Failed(e) => {
                    self.errors.push(e);
                    self.damaged += 1;
                }
            }
        }
    }
}

impl PacketSource for PipeSource {
    fn pull(&mut self, block: &mut Block, target: usize) -> Pull {
        block.data.clear();
        block.packets.clear();
        block.input = 0;
        if self.ended {
            return Pull::End;
        }
        match self.fill(block, target) {
            Fill::Packets => {
                self.handed
                    .packets
                    .fetch_add(block.packets.len() as u64, Ordering::Relaxed);
                self.handed
                    .bytes
                    .fetch_add(block.data.len() as u64, Ordering::Relaxed);
                if let Some(p) = block.packets.last() {
                    let ts = self.last_packet.map_or(p.ts_ns, |(t, _)| t.max(p.ts_ns));
                    self.last_packet = Some((ts, Instant::now()));
                }
                Pull::Packets
            }
            Fill::Idle { clock_ns } => Pull::Idle { now_ns: clock_ns },
            Fill::End => {
                self.ended = true;
                Pull::End
            }
        }
    }

    fn take_errors(&mut self) -> Vec<CaptureError> {
        std::mem::take(&mut self.errors)
    }

    fn counts(&self) -> SourceCounts {
        SourceCounts {
            files: 1,
            damaged_files: self.damaged,
            truncated_records: 0,
        }
    }

    fn disk_bytes(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::io::Write;

    fn header() -> Vec<u8> {
        let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v
    }

    fn record(sec: u32, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&sec.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    /// A FIFO whose writer sends one packet and then stays quiet: the packet
    /// comes out at once, then idle pulls with the clock moving on, then
    /// the end when the writer closes.
    #[test]
    fn a_quiet_writer_gives_the_packet_then_idle_ticks_then_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let path = fifo.clone();
        let writer = std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            w.write_all(&header()).unwrap();
            w.write_all(&record(100, &[7; 60])).unwrap();
            w.flush().unwrap();
            w
        });
        let file = CaptureFile::open(&fifo).unwrap();
        let w = writer.join().unwrap();
        let mut src = PipeSource::start(file, Stop::new(), Duration::from_millis(50)).unwrap();
        let mut block = Block::default();
        // The reading thread may be slow to start: until then, idle pulls
        // with no clock yet (no packet seen).
        let mut first = src.pull(&mut block, 1 << 20);
        for _ in 0..400 {
            if first == Pull::Packets {
                break;
            }
            assert_eq!(first, Pull::Idle { now_ns: 0 });
            first = src.pull(&mut block, 1 << 20);
        }
        assert_eq!(first, Pull::Packets);
        assert_eq!(block.packets.len(), 1);
        assert_eq!(block.bytes(&block.packets[0]), &[7; 60]);
        let Pull::Idle { now_ns } = src.pull(&mut block, 1 << 20) else {
            panic!("a quiet writer gives an idle pull")
        };
        assert!(now_ns >= 100_000_000_000);
        assert!(block.packets.is_empty());
        drop(w);
        let mut end = src.pull(&mut block, 1 << 20);
        for _ in 0..400 {
            if end == Pull::End {
                break;
            }
            end = src.pull(&mut block, 1 << 20);
        }
        assert_eq!(end, Pull::End);
        assert_eq!(src.handed().packets.load(Ordering::Relaxed), 1);
        assert!(src.take_errors().is_empty());
    }
}
