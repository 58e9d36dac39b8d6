//! The packet-source seam: where packets enter the pipeline.
//!
//! A [`PacketSource`] hands out blocks of raw packets in capture order, or
//! says that nothing came for a while (a live source, so the capture clock can
//! move on and flows can time out while the network is quiet), or that there
//! is nothing more. What sits above it (global packet numbering, the capture
//! clock, IP reassembly and the shard hash: `decode::PacketStream`) is the
//! same whatever the source, so capture files, standard input and live
//! interfaces feed the engine and the evidence pass through one path.
//!
//! [`FileSource`] reads capture files one after the other (standard input
//! when the path is `-`). A live source (several interfaces, packets arriving
//! with wall-clock gaps) implements the same trait: it merges its interfaces
//! into blocks (one interface per block, [`Block::input`] naming it) and
//! returns [`Pull::Idle`] with the wall clock when nothing arrived.

use super::{Block, CaptureError, CaptureFile, InputFile};

/// What [`PacketSource::pull`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pull {
    /// The block holds at least one packet.
    Packets,
    /// Nothing arrived for a while; the capture clock may advance to
    /// `now_ns` (wall time as packet time), so quiet flows still time out.
    Idle { now_ns: u64 },
    /// No more packets will come.
    End,
}

/// Counters a source keeps about its inputs (for `stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceCounts {
    /// Inputs opened.
    pub files: u64,
    /// Inputs that stopped early on damage or could not be opened.
    pub damaged_files: u64,
    /// Records cut short by the end of an input.
    pub truncated_records: u64,
}

/// Hands out raw packets in capture order (see the module documentation).
pub trait PacketSource: Send {
    /// Fills `block` (cleared first) with the next packets, about `target`
    /// bytes of them, and sets [`Block::input`].
    fn pull(&mut self, block: &mut Block, target: usize) -> Pull;
    /// Problems met so far (damaged or unreadable inputs); each is handed
    /// out once. Reading goes on with the next input.
    fn take_errors(&mut self) -> Vec<CaptureError>;
    fn counts(&self) -> SourceCounts;
    /// Bytes taken from disk so far, for progress (0 if not known).
    fn disk_bytes(&self) -> u64;
}

/// Capture files read one after the other, in the order given (standard
/// input for the path `-`).
pub struct FileSource {
    inputs: Vec<InputFile>,
    next: usize,
    current: Option<(u32, CaptureFile)>,
    errors: Vec<CaptureError>,
    counts: SourceCounts,
    /// Disk bytes of the files already finished.
    disk_done: u64,
}

impl FileSource {
    pub fn new(inputs: Vec<InputFile>) -> Self {
        FileSource {
            inputs,
            next: 0,
            current: None,
            errors: Vec::new(),
            counts: SourceCounts::default(),
            disk_done: 0,
        }
    }

    /// Reads `file`, already opened (standard input, whose header had to be
    /// checked before anything was written), then the rest of `inputs`.
    pub fn opened(inputs: Vec<InputFile>, file: CaptureFile) -> Self {
        let mut s = FileSource::new(inputs);
        s.current = Some((0, file));
        s.next = 1;
        s.counts.files = 1;
        s
    }

    /// Closes the current file, adding what it counted.
    fn finish_current(&mut self) {
        if let Some((_, f)) = self.current.take() {
            self.disk_done += f.disk_bytes();
            self.counts.truncated_records += f.stats().truncated_records;
        }
    }
}

impl PacketSource for FileSource {
    fn pull(&mut self, block: &mut Block, target: usize) -> Pull {
        loop {
            if self.current.is_none() {
                let Some(input) = self.inputs.get(self.next) else {
                    block.packets.clear();
                    return Pull::End;
                };
                let index = self.next as u32;
                self.next += 1;
                match CaptureFile::open(&input.path) {
                    Ok(f) => {
                        self.counts.files += 1;
                        self.current = Some((index, f));
                    }
                    Err(e) => {
                        self.errors.push(e);
                        self.counts.damaged_files += 1;
                        continue;
                    }
                }
            }
            let Some((index, file)) = self.current.as_mut() else {
                continue;
            };
            block.input = *index;
            match file.fill(block, target) {
                Ok(true) => return Pull::Packets,
                Ok(false) => self.finish_current(),
                Err(e) => {
                    self.errors.push(e);
                    self.counts.damaged_files += 1;
                    self.finish_current();
                }
            }
        }
    }

    fn take_errors(&mut self) -> Vec<CaptureError> {
        std::mem::take(&mut self.errors)
    }

    fn counts(&self) -> SourceCounts {
        let mut c = self.counts.clone();
        if let Some((_, f)) = &self.current {
            c.truncated_records += f.stats().truncated_records;
        }
        c
    }

    fn disk_bytes(&self) -> u64 {
        self.disk_done + self.current.as_ref().map_or(0, |(_, f)| f.disk_bytes())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::path::PathBuf;

    fn pcap(records: &[(u32, &[u8])]) -> Vec<u8> {
        let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        for (sec, data) in records {
            v.extend_from_slice(&sec.to_le_bytes());
            v.extend_from_slice(&0u32.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(data);
        }
        v
    }

    fn input(path: PathBuf) -> InputFile {
        InputFile {
            path,
            format: None,
            gzip: false,
            first_ts: None,
        }
    }

    #[test]
    fn files_follow_each_other_and_a_missing_one_is_reported_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pcap");
        let b = dir.path().join("b.pcap");
        std::fs::write(&a, pcap(&[(1, &[1; 60]), (2, &[2; 60])])).unwrap();
        std::fs::write(&b, pcap(&[(3, &[3; 60])])).unwrap();
        let mut src = FileSource::new(vec![
            input(a),
            input(dir.path().join("missing.pcap")),
            input(b),
        ]);
        let mut block = Block::default();
        let mut seen = Vec::new();
        while src.pull(&mut block, 1 << 16) == Pull::Packets {
            for p in &block.packets {
                seen.push((block.input, p.ts_ns / 1_000_000_000));
            }
        }
        assert_eq!(seen, [(0, 1), (0, 2), (2, 3)]);
        assert_eq!(src.take_errors().len(), 1);
        assert!(src.take_errors().is_empty());
        let c = src.counts();
        assert_eq!((c.files, c.damaged_files, c.truncated_records), (2, 1, 0));
        assert_eq!(src.pull(&mut block, 1 << 16), Pull::End);
    }
}
