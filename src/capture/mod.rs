//! Capture stage: turns capture files into blocks of raw packets.
//!
//! Files are read in large blocks (no per-packet copy): a [`Block`] owns a byte
//! buffer and the descriptors of the packets wholly inside it. Blocks are
//! shared read-only with the workers and their buffers come back to the reader
//! for reuse when the last worker drops them.
//!
//! The format is taken from the magic number, never from the file name:
//! classic pcap in both byte orders with micro- or nanosecond timestamps (and
//! the "modified" variant), pcapng (several sections and interfaces, per
//! interface link type, timestamp resolution and offset), each optionally
//! gzip-compressed.

mod file;
mod gzip;
mod inputs;
mod source;

pub use file::{is_stdin, CaptureFile, FileStats, Format};
pub use gzip::{Gunzip, GzipDamage};
pub use inputs::{expand_inputs, probe, InputFile, Inputs};
pub use source::{FileSource, PacketSource, Pull, SourceCounts};

use crossbeam_channel::Sender;
use std::path::PathBuf;

/// Link-layer header types (the `LINKTYPE_*` registry used in pcap and pcapng).
pub mod linktype {
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    pub const PPP: u16 = 9;
    /// `DLT_RAW` as written by some platforms (12 on most, 14 on OpenBSD).
    pub const RAW_DLT12: u16 = 12;
    pub const RAW_DLT14: u16 = 14;
    pub const RAW: u16 = 101;
    pub const LOOP: u16 = 108;
    pub const LINUX_SLL: u16 = 113;
    pub const IPV4: u16 = 228;
    pub const IPV6: u16 = 229;
    pub const LINUX_SLL2: u16 = 276;
}

/// One packet record inside a [`Block`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Start of the captured bytes in [`Block::data`].
    pub offset: u32,
    /// Captured length (bytes present in the block).
    pub caplen: u32,
    /// Length on the wire.
    pub origlen: u32,
    /// `LINKTYPE_*` of the interface the packet was captured on.
    pub linktype: u16,
}

/// A run of consecutive packets from one file, sharing one buffer.
#[derive(Debug, Default)]
pub struct Block {
    pub data: Vec<u8>,
    pub packets: Vec<PacketMeta>,
    /// The input the packets came from (file index; live: interface index).
    pub input: u32,
    /// Where the buffer goes when the block is dropped (the reader's pool).
    recycle: Option<Sender<Vec<u8>>>,
}

impl Block {
    pub fn with_buffer(data: Vec<u8>, recycle: Option<Sender<Vec<u8>>>) -> Self {
        Block {
            data,
            packets: Vec::new(),
            input: 0,
            recycle,
        }
    }

    /// The captured bytes of `p` (empty if the descriptor is out of range).
    pub fn bytes(&self, p: &PacketMeta) -> &[u8] {
        let start = p.offset as usize;
        self.data
            .get(start..start.saturating_add(p.caplen as usize))
            .unwrap_or(&[])
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(tx) = self.recycle.take() {
            let _ = tx.try_send(std::mem::take(&mut self.data));
        }
    }
}

/// Why a capture could not be read. Each names the file and says what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: read failed: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng capture ({detail})")]
    NotACapture { path: PathBuf, detail: String },
    #[error("{path}: damaged at byte {offset}: {detail}; packets before it were read")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    #[error("{path}: no capture files found in this directory")]
    EmptyDirectory { path: PathBuf },
    #[error("standard input (-) must be the only capture given; read other files in another run")]
    StdinNotAlone,
}

/// What the reader counted over the inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    pub files: u64,
    pub pkts: u64,
    /// Sum of captured lengths.
    pub bytes: u64,
    pub max_pkt_size: u64,
    /// Records cut short by the end of a file.
    pub truncated_records: u64,
    /// Files that stopped early on damage (their earlier packets were read).
    pub damaged_files: u64,
    /// Capture time of the first and last packet (ns), and the largest seen.
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
}
