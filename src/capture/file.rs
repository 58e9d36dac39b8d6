//! Reading one capture file into blocks.
//!
//! Records are parsed in place: a [`PacketMeta`] is an offset into the block's
//! buffer, so nothing is copied per packet. A record cut short by the end of
//! the file ends that file and is counted; a structurally impossible record
//! (a length that cannot be) stops the file with [`CaptureError::Corrupt`],
//! keeping the packets before it.

use super::gzip::{Gunzip, GzipDamage};
use super::{Block, CaptureError, PacketMeta};
use std::fs::File;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts bytes taken from the file on disk (compressed bytes for gzip), for progress.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Whether `path` names standard input (`-`; a file of that name is `./-`).
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Largest record accepted. Real snap lengths stop at 256 KiB; anything far
/// beyond is a corrupt length field, not a packet.
const MAX_RECORD: usize = 64 << 20;

/// libpcap's largest snap length; a classic pcap record beyond it and beyond
/// the file's own snap length is damage.
const MAX_SNAPLEN: usize = 262_144;

/// How a file is laid out, from its magic number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap {
        big_endian: bool,
        nanos: bool,
        /// The "modified" (Kuznetsov) variant with 8 extra bytes per record.
        modified: bool,
    },
    PcapNg,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Format::Pcap {
                big_endian,
                nanos,
                modified,
            } => write!(
                f,
                "pcap ({}, {}{})",
                if *big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                },
                if *nanos { "ns" } else { "µs" },
                if *modified { ", modified" } else { "" }
            ),
            Format::PcapNg => f.write_str("pcapng"),
        }
    }
}

/// What reading a file found, beyond its packets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileStats {
    pub packets: u64,
    /// Records cut short by the end of the file (the last one, normally).
    pub truncated_records: u64,
    /// pcapng blocks that carry no packet (statistics, name resolution, custom...).
    pub skipped_blocks: u64,
    /// pcapng packets naming an interface that was never described.
    pub unknown_interface: u64,
    /// pcapng sections (1 for a plain file).
    pub sections: u64,
    pub interfaces: u64,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u16,
    snaplen: u32,
    /// Timestamp units per second (10^6 unless `if_tsresol` says otherwise).
    units_per_sec: u64,
    /// `if_tsoffset`, seconds added to every timestamp.
    offset_secs: i64,
    /// Nanoseconds per unit when a whole number (10^-9 to 1 s units), else 0.
    ns_per_unit: u64,
}

/// A capture file opened for reading.
pub struct CaptureFile {
    path: PathBuf,
    reader: Box<dyn Read + Send>,
    format: Format,
    gzip: bool,
    /// Bytes read from the file but not yet parsed (a record split by a block boundary).
    carry: Vec<u8>,
    eof: bool,
    /// Offset in the (decompressed) stream of the first byte of `carry`.
    stream_pos: u64,
    /// pcap: the file's link type. pcapng: unused.
    pcap_linktype: u16,
    /// pcap: the snap length from the file header.
    pcap_snaplen: u32,
    /// pcapng: byte order of the current section.
    ng_big_endian: bool,
    interfaces: Vec<Interface>,
    /// Timestamp given to pcapng Simple Packet Blocks, which carry none.
    last_ts: u64,
    stats: FileStats,
    /// Damage found after packets that were already handed out; returned by the next `fill`.
    pending_error: Option<CaptureError>,
    /// Take plain records in the tight loops (off only to test them against
    /// `parse_record`).
    fast: bool,
    disk_bytes: Arc<AtomicU64>,
}

impl std::fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFile")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("gzip", &self.gzip)
            .finish()
    }
}

/// Reads until `buf` is full or the input ends. The bytes read before an
/// error are counted too: a damaged gzip stream hands over what it inflated.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> (usize, Option<std::io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// What a read error means for the file.
enum ReadEnd {
    /// The data simply stops (a gzip stream cut short): like the end of a
    /// plain file, a record cut by it is counted, nothing is an error.
    Cut,
    Fail(CaptureError),
}

/// One `read`, retried if interrupted (0: the end of the input).
fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

#[inline(always)]
fn rd32<const BE: bool>(b: [u8; 4]) -> u32 {
    if BE {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

fn u16_at(b: &[u8], at: usize, be: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    })
}

fn u32_at(b: &[u8], at: usize, be: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

fn u64_at(b: &[u8], at: usize, be: bool) -> Option<u64> {
    let a: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(if be {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    })
}

fn pcap_format(magic: [u8; 4]) -> Option<Format> {
    let (big_endian, nanos, modified) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, true, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, true, false),
        [0x34, 0xcd, 0xb2, 0xa1] => (false, false, true),
        [0xa1, 0xb2, 0xcd, 0x34] => (true, false, true),
        _ => return None,
    };
    Some(Format::Pcap {
        big_endian,
        nanos,
        modified,
    })
}

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_OPB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;

/// Converts `units` at `units_per_sec` to nanoseconds, saturating.
fn units_to_ns(units: u64, units_per_sec: u64, offset_secs: i64) -> u64 {
    let ns = if units_per_sec == 1_000_000_000 {
        units as u128
    } else if units_per_sec == 0 {
        0
    } else {
        (units as u128) * 1_000_000_000 / units_per_sec as u128
    };
    let ns = ns as i128 + offset_secs as i128 * 1_000_000_000;
    ns.clamp(0, u64::MAX as i128) as u64
}

/// Units per second from a pcapng `if_tsresol` byte.
fn tsresol_units(v: u8) -> Option<u64> {
    let exp = u32::from(v & 0x7f);
    if v & 0x80 == 0 {
        10u64.checked_pow(exp)
    } else {
        1u64.checked_shl(exp).filter(|_| exp < 64)
    }
}

enum Parsed {
    /// A record was consumed: its total length, and the packet in it if any.
    Record(usize, Option<PacketMeta>),
    /// More bytes are needed (this many in total from the record's start).
    NeedMore(usize),
}

impl CaptureFile {
    /// Opens `path` (standard input for `-`), unwrapping gzip and sniffing
    /// the capture format.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        if is_stdin(path) {
            return Self::from_reader(path, Box::new(std::io::stdin()));
        }
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_owned(),
            source,
        })?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(CaptureError::NotACapture {
                path: path.to_owned(),
                detail: "it is a directory".into(),
            });
        }
        Self::from_reader(path, Box::new(file))
    }

    /// Reads a capture from any byte stream (a pipe, a socket), named
    /// `path` in errors; gzip and the format are sniffed as for a file.
    pub fn from_reader(path: &Path, inner: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        let disk_bytes = Arc::new(AtomicU64::new(0));
        let counted = Counting {
            inner,
            count: Arc::clone(&disk_bytes),
        };
        let mut raw = std::io::BufReader::with_capacity(1 << 16, counted);
        let head = raw.fill_buf().map_err(|source| CaptureError::Read {
            path: path.to_owned(),
            source,
        })?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn Read + Send> = if gzip {
            Box::new(Gunzip::new(raw))
        } else {
            Box::new(raw)
        };
        let mut me = CaptureFile {
            path: path.to_owned(),
            reader,
            format: Format::PcapNg,
            gzip,
            carry: Vec::new(),
            eof: false,
            stream_pos: 0,
            pcap_linktype: 0,
            pcap_snaplen: 0,
            ng_big_endian: false,
            interfaces: Vec::new(),
            last_ts: 0,
            stats: FileStats::default(),
            pending_error: None,
            fast: true,
            disk_bytes,
        };
        me.read_header()?;
        Ok(me)
    }

    fn not_capture(&self, detail: impl Into<String>) -> CaptureError {
        CaptureError::NotACapture {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    fn corrupt(&self, offset: u64, detail: impl Into<String>) -> CaptureError {
        let mut detail = detail.into();
        if self.gzip {
            // Record offsets count inflated bytes; gzip damage counts file bytes.
            detail.push_str(" (offset in the inflated data)");
        }
        CaptureError::Corrupt {
            path: self.path.clone(),
            offset,
            detail,
        }
    }

    /// Reads until `carry` holds at least `want` bytes or the file ends.
    fn fill_carry(&mut self, want: usize) -> Result<(), CaptureError> {
        while self.carry.len() < want && !self.eof {
            let have = self.carry.len();
            let grow = (want - have).max(1 << 16);
            self.carry.resize(have + grow, 0);
            // One read at a time: a stream (a pipe from `tcpdump -U -w -`)
            // hands over its header long before 64 KiB follow it.
            let (got, err) = match read_some(
                self.reader.as_mut(),
                self.carry.get_mut(have..).unwrap_or_default(),
            ) {
                Ok(n) => (n, None),
                Err(e) => (0, Some(e)),
            };
            self.carry.truncate(have + got);
            if let Some(e) = err {
                self.eof = true;
                if let ReadEnd::Fail(e) = self.read_end(e) {
                    return Err(e);
                }
            } else if got == 0 {
                self.eof = true;
            }
        }
        Ok(())
    }

    fn read_end(&self, source: std::io::Error) -> ReadEnd {
        match GzipDamage::of(&source) {
            Some(d) if d.truncated => ReadEnd::Cut,
            // Offsets of gzip damage are in the compressed file, as on disk.
            Some(d) => ReadEnd::Fail(CaptureError::Corrupt {
                path: self.path.clone(),
                offset: d.offset,
                detail: format!(
                    "gzip: {} ({} bytes inflated before it)",
                    d.detail, d.inflated
                ),
            }),
            None => ReadEnd::Fail(CaptureError::Read {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn read_header(&mut self) -> Result<(), CaptureError> {
        self.fill_carry(24)?;
        let Some(magic) = self
            .carry
            .get(..4)
            .and_then(|m| <[u8; 4]>::try_from(m).ok())
        else {
            return Err(if self.carry.is_empty() {
                self.not_capture("the file is empty")
            } else {
                self.not_capture(format!("only {} bytes", self.carry.len()))
            });
        };
        if let Some(format) = pcap_format(magic) {
            let Format::Pcap { big_endian, .. } = format else {
                return Err(self.not_capture("unreachable format"));
            };
            let Some(network) = u32_at(&self.carry, 20, big_endian) else {
                return Err(self.not_capture("pcap header cut short"));
            };
            self.format = format;
            // The upper 16 bits may carry FCS information; the link type is the low half.
            self.pcap_linktype = (network & 0xffff) as u16;
            self.pcap_snaplen = u32_at(&self.carry, 16, big_endian).unwrap_or(0);
            self.consume(24);
            self.stats.sections = 1;
            return Ok(());
        }
        if u32::from_le_bytes(magic) == PCAPNG_SHB {
            self.format = Format::PcapNg;
            return Ok(());
        }
        Err(self.not_capture(format!(
            "starts with {:02x} {:02x} {:02x} {:02x}{}",
            magic[0],
            magic[1],
            magic[2],
            magic[3],
            if self.gzip { " after gunzip" } else { "" }
        )))
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.carry.len());
        self.carry.drain(..n);
        self.stream_pos += n as u64;
    }

    /// Off: every record through the general parser, never the tight
    /// loops (for the test that holds them equal; not for use).
    #[doc(hidden)]
    pub fn set_fast(&mut self, fast: bool) {
        self.fast = fast;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    pub fn stats(&self) -> &FileStats {
        &self.stats
    }

    /// Bytes read from the file on disk so far (before decompression).
    pub fn disk_bytes(&self) -> u64 {
        self.disk_bytes.load(Ordering::Relaxed)
    }

    /// A shared handle on [`Self::disk_bytes`], readable from another thread.
    pub fn disk_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.disk_bytes)
    }

    /// Fills `block` with the next packets, reading about `target` bytes.
    ///
    /// Returns `Ok(false)` once the file is exhausted (the block is then empty).
    /// The block's buffer may extend past its last packet.
    pub fn fill(&mut self, block: &mut Block, target: usize) -> Result<bool, CaptureError> {
        block.packets.clear();
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        loop {
            // Move what is carried to the front of the block's buffer, then read behind it.
            let carried = self.carry.len();
            // What is carried is parsed before anything more is read: a
            // stream's last record may already be here, with nothing behind it.
            let want = target.max(carried).max(1);
            if block.data.len() < want {
                block.data.resize(want, 0);
            }
            if let Some(dst) = block.data.get_mut(..carried) {
                dst.copy_from_slice(&self.carry);
            }
            self.carry.clear();
            let mut filled = carried;
            // Damage met while reading: reported after the packets before it.
            let mut damage: Option<CaptureError> = None;
            if !self.eof {
                let (got, err) = read_full(
                    self.reader.as_mut(),
                    block.data.get_mut(filled..want).unwrap_or_default(),
                );
                filled += got;
                if let Some(e) = err {
                    self.eof = true;
                    if let ReadEnd::Fail(e) = self.read_end(e) {
                        damage = Some(e);
                    }
                } else if got < want - carried {
                    self.eof = true;
                }
            }
            let base = self.stream_pos;
            let mut pos = 0usize;
            let mut need = 0usize;
            let mut stop: Option<CaptureError> = None;
            while pos < filled {
                // Whole, plain packet records in a tight loop; what it
                // leaves (a pcapng block of another type, a record to wait
                // for, damage) is for `parse_record`, one at a time.
                if self.fast {
                    pos = self.fast_records(block, pos, filled);
                    if pos >= filled {
                        break;
                    }
                }
                let rest = block.data.get(pos..filled).unwrap_or_default();
                match self.parse_record(rest, pos) {
                    Ok(Parsed::Record(len, pkt)) => {
                        if let Some(p) = pkt {
                            self.stats.packets += 1;
                            block.packets.push(p);
                        }
                        pos += len;
                    }
                    Ok(Parsed::NeedMore(n)) => {
                        need = n;
                        break;
                    }
                    Err(detail) => {
                        stop = Some(self.corrupt(base + pos as u64, detail));
                        break;
                    }
                }
            }
            self.stream_pos = base + pos as u64;
            if let Some(e) = stop {
                // Keep what was read; the caller reports the damage after handing these on.
                self.eof = true;
                self.carry.clear();
                if block.packets.is_empty() {
                    return Err(e);
                }
                self.pending_error = Some(e);
                return Ok(true);
            }
            let tail = block.data.get(pos..filled).unwrap_or_default();
            if let Some(e) = damage {
                // The bytes after the last whole record belong to the damage.
                if block.packets.is_empty() {
                    return Err(e);
                }
                self.pending_error = Some(e);
                return Ok(true);
            }
            if self.eof {
                if !tail.is_empty() {
                    self.stats.truncated_records += 1;
                    self.stream_pos += tail.len() as u64;
                }
                return Ok(!block.packets.is_empty());
            }
            self.carry.extend_from_slice(tail);
            if !block.packets.is_empty() {
                return Ok(true);
            }
            // Nothing whole yet: the next record is bigger than what was read.
            if need > MAX_RECORD {
                return Err(self.corrupt(self.stream_pos, format!("record of {need} bytes")));
            }
            if need > target {
                return self.fill(block, need);
            }
        }
    }

    /// The fast loop for the file's format, from `pos` (see `fill`).
    #[inline]
    fn fast_records(&mut self, block: &mut Block, pos: usize, filled: usize) -> usize {
        match self.format {
            Format::Pcap {
                big_endian: false,
                nanos,
                modified,
            } => self.pcap_records::<false>(block, pos, filled, nanos, modified),
            Format::Pcap {
                big_endian: true,
                nanos,
                modified,
            } => self.pcap_records::<true>(block, pos, filled, nanos, modified),
            Format::PcapNg if self.ng_big_endian => self.ng_packets::<true>(block, pos, filled),
            Format::PcapNg => self.ng_packets::<false>(block, pos, filled),
        }
    }

    /// Classic pcap, nearly every capture: whole, sane records from `pos`
    /// up to `filled`, in one tight loop (the reader thread's hot path).
    /// Returns where it stopped; what it cannot take (a partial or damaged
    /// record) is left to `parse_record`.
    #[inline]
    fn pcap_records<const BE: bool>(
        &mut self,
        block: &mut Block,
        mut pos: usize,
        filled: usize,
        nanos: bool,
        modified: bool,
    ) -> usize {
        let data = block.data.get(..filled).unwrap_or_default();
        // `parse_record`'s rule, as one bound.
        let max = (self.pcap_snaplen as usize).clamp(MAX_SNAPLEN, MAX_RECORD);
        let scale = if nanos { 1 } else { 1000 };
        let hdr = if modified { 24 } else { 16 };
        let linktype = self.pcap_linktype;
        let mut records = 0u64;
        while let Some(h) = data.get(pos..pos + 16) {
            let Ok(&[s0, s1, s2, s3, f0, f1, f2, f3, c0, c1, c2, c3, o0, o1, o2, o3]): Result<
                &[u8; 16],
                _,
            > = h.try_into() else {
                break;
            };
            let caplen = rd32::<BE>([c0, c1, c2, c3]) as usize;
            if caplen > max || data.len() - pos < hdr + caplen {
                break;
            }
            let sec = u64::from(rd32::<BE>([s0, s1, s2, s3]));
            let frac = u64::from(rd32::<BE>([f0, f1, f2, f3]));
            block.packets.push(PacketMeta {
                ts_ns: sec * 1_000_000_000 + frac * scale,
                offset: (pos + hdr) as u32,
                caplen: caplen as u32,
                origlen: rd32::<BE>([o0, o1, o2, o3]),
                linktype,
            });
            records += 1;
            pos += hdr + caplen;
        }
        self.stats.packets += records;
        pos
    }

    /// pcapng: Enhanced Packet Blocks of described interfaces, whole and
    /// sane, from `pos` up to `filled`, in one loop; it stops at any other
    /// block (a section or interface header, statistics, an Enhanced Packet
    /// Block that `parse_ng_block` would count or refuse), which
    /// `parse_record` then takes. Gives the same packets as that function.
    #[inline]
    fn ng_packets<const BE: bool>(
        &mut self,
        block: &mut Block,
        mut pos: usize,
        filled: usize,
    ) -> usize {
        let data = block.data.get(..filled).unwrap_or_default();
        let mut records = 0u64;
        // Body of an EPB: interface, time (2 words), captured and wire length.
        while let Some(h) = data.get(pos..pos + 28) {
            let Ok(
                &[t0, t1, t2, t3, l0, l1, l2, l3, i0, i1, i2, i3, h0, h1, h2, h3, w0, w1, w2, w3, c0, c1, c2, c3, o0, o1, o2, o3],
            ): Result<&[u8; 28], _> = h.try_into()
            else {
                break;
            };
            // The section header's type reads the same in both orders, so
            // it is never taken for a packet block.
            let blen = rd32::<BE>([l0, l1, l2, l3]) as usize;
            let caplen = rd32::<BE>([c0, c1, c2, c3]);
            if rd32::<BE>([t0, t1, t2, t3]) != PCAPNG_EPB
                || blen > MAX_RECORD
                || data.len() - pos < blen
                // The body (blen - 12) holds the 20 bytes above and the packet.
                || blen < 32
                || caplen as usize > blen - 32
            {
                break;
            }
            let Some(iface) = self.interfaces.get(rd32::<BE>([i0, i1, i2, i3]) as usize) else {
                break;
            };
            let units = (u64::from(rd32::<BE>([h0, h1, h2, h3])) << 32)
                | u64::from(rd32::<BE>([w0, w1, w2, w3]));
            let ts_ns = match (iface.ns_per_unit, iface.offset_secs) {
                (k @ 1.., 0) => units.saturating_mul(k),
                _ => units_to_ns(units, iface.units_per_sec, iface.offset_secs),
            };
            self.last_ts = ts_ns;
            block.packets.push(PacketMeta {
                ts_ns,
                offset: (pos + 28) as u32,
                caplen,
                origlen: rd32::<BE>([o0, o1, o2, o3]),
                linktype: iface.linktype,
            });
            records += 1;
            pos += blen;
        }
        self.stats.packets += records;
        pos
    }

    /// Parses the record at the start of `rest` (which sits at `pos` in the block).
    fn parse_record(&mut self, rest: &[u8], pos: usize) -> Result<Parsed, String> {
        match self.format {
            Format::Pcap {
                big_endian,
                nanos,
                modified,
            } => {
                let hdr = if modified { 24 } else { 16 };
                if rest.len() < hdr {
                    return Ok(Parsed::NeedMore(hdr));
                }
                let field = |at| u32_at(rest, at, big_endian).unwrap_or(0);
                let (sec, frac, caplen, origlen) = (field(0), field(4), field(8), field(12));
                let caplen = caplen as usize;
                // libpcap's rule: more than both the snap length and 256 KiB is damage.
                if caplen > MAX_RECORD || caplen > (self.pcap_snaplen as usize).max(MAX_SNAPLEN) {
                    return Err(format!("record claims {caplen} captured bytes"));
                }
                let total = hdr + caplen;
                if rest.len() < total {
                    return Ok(Parsed::NeedMore(total));
                }
                let frac_ns = if nanos {
                    u64::from(frac)
                } else {
                    u64::from(frac) * 1000
                };
                let ts_ns = u64::from(sec) * 1_000_000_000 + frac_ns;
                Ok(Parsed::Record(
                    total,
                    Some(PacketMeta {
                        ts_ns,
                        offset: (pos + hdr) as u32,
                        caplen: caplen as u32,
                        origlen,
                        linktype: self.pcap_linktype,
                    }),
                ))
            }
            Format::PcapNg => self.parse_ng_block(rest, pos),
        }
    }

    fn parse_ng_block(&mut self, rest: &[u8], pos: usize) -> Result<Parsed, String> {
        if rest.len() < 12 {
            return Ok(Parsed::NeedMore(12));
        }
        let btype_le = u32_at(rest, 0, false).unwrap_or(0);
        if btype_le == PCAPNG_SHB {
            match u32_at(rest, 8, false) {
                Some(PCAPNG_BOM) => self.ng_big_endian = false,
                Some(b) if b.swap_bytes() == PCAPNG_BOM => self.ng_big_endian = true,
                _ => return Err("section header with a bad byte-order magic".into()),
            }
        }
        let be = self.ng_big_endian;
        let btype = u32_at(rest, 0, be).unwrap_or(0);
        let blen = u32_at(rest, 4, be).unwrap_or(0) as usize;
        if blen < 12 {
            return Err(format!("block of type {btype:#x} claims {blen} bytes"));
        }
        if blen > MAX_RECORD {
            return Err(format!("block of type {btype:#x} claims {blen} bytes"));
        }
        if rest.len() < blen {
            return Ok(Parsed::NeedMore(blen));
        }
        let body = rest.get(8..blen - 4).unwrap_or_default();
        let body_pos = pos + 8;
        let packet = match btype {
            PCAPNG_SHB => {
                self.interfaces.clear();
                self.stats.sections += 1;
                None
            }
            PCAPNG_IDB => {
                let linktype = u16_at(body, 0, be).ok_or("interface block cut short")?;
                let snaplen = u32_at(body, 4, be).unwrap_or(0);
                let (units_per_sec, offset_secs) =
                    idb_options(body.get(8..).unwrap_or_default(), be);
                let ns_per_unit = match units_per_sec {
                    u @ 1..=1_000_000_000 if 1_000_000_000 % u == 0 => 1_000_000_000 / u,
                    _ => 0,
                };
                self.interfaces.push(Interface {
                    linktype,
                    snaplen,
                    units_per_sec,
                    offset_secs,
                    ns_per_unit,
                });
                self.stats.interfaces += 1;
                None
            }
            PCAPNG_EPB | PCAPNG_OPB => {
                let (if_id, ts_at) = if btype == PCAPNG_EPB {
                    (u32_at(body, 0, be), 4)
                } else {
                    (u16_at(body, 0, be).map(u32::from), 4)
                };
                let (Some(if_id), Some(hi), Some(lo), Some(caplen), Some(origlen)) = (
                    if_id,
                    u32_at(body, ts_at, be),
                    u32_at(body, ts_at + 4, be),
                    u32_at(body, ts_at + 8, be),
                    u32_at(body, ts_at + 12, be),
                ) else {
                    return Err("packet block cut short".into());
                };
                let data_at = ts_at + 16;
                if caplen as usize > body.len().saturating_sub(data_at) {
                    return Err(format!(
                        "packet block holds fewer than its {caplen} captured bytes"
                    ));
                }
                match self.interfaces.get(if_id as usize) {
                    None => {
                        self.stats.unknown_interface += 1;
                        None
                    }
                    Some(iface) => {
                        let units = (u64::from(hi) << 32) | u64::from(lo);
                        let ts_ns = units_to_ns(units, iface.units_per_sec, iface.offset_secs);
                        self.last_ts = ts_ns;
                        Some(PacketMeta {
                            ts_ns,
                            offset: (body_pos + data_at) as u32,
                            caplen,
                            origlen,
                            linktype: iface.linktype,
                        })
                    }
                }
            }
            PCAPNG_SPB => {
                let origlen = u32_at(body, 0, be).ok_or("simple packet block cut short")?;
                match self.interfaces.first() {
                    None => {
                        self.stats.unknown_interface += 1;
                        None
                    }
                    Some(iface) => {
                        let mut caplen = (origlen as usize).min(body.len().saturating_sub(4));
                        if iface.snaplen != 0 {
                            caplen = caplen.min(iface.snaplen as usize);
                        }
                        Some(PacketMeta {
                            ts_ns: self.last_ts,
                            offset: (body_pos + 4) as u32,
                            caplen: caplen as u32,
                            origlen,
                            linktype: iface.linktype,
                        })
                    }
                }
            }
            _ => {
                self.stats.skipped_blocks += 1;
                None
            }
        };
        Ok(Parsed::Record(blen, packet))
    }
}

/// Reads `if_tsresol` and `if_tsoffset` from an interface block's options.
fn idb_options(mut opts: &[u8], be: bool) -> (u64, i64) {
    let mut units = 1_000_000;
    let mut offset = 0i64;
    while let (Some(code), Some(len)) = (u16_at(opts, 0, be), u16_at(opts, 2, be)) {
        let len = len as usize;
        let value = opts.get(4..4 + len).unwrap_or_default();
        match code {
            0 => break,
            9 => {
                if let Some(u) = value.first().and_then(|&v| tsresol_units(v)) {
                    units = u;
                }
            }
            14 => {
                if let Some(v) = u64_at(value, 0, be) {
                    offset = v as i64;
                }
            }
            _ => {}
        }
        let padded = 4 + len.div_ceil(4) * 4;
        opts = opts.get(padded..).unwrap_or_default();
    }
    (units, offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// A classic pcap (Ethernet) of `n` packets of varied sizes.
    fn pcap(n: u32) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend(0xa1b2_c3d4u32.to_le_bytes());
        f.extend(2u16.to_le_bytes());
        f.extend(4u16.to_le_bytes());
        f.extend([0u8; 8]);
        f.extend(65_535u32.to_le_bytes());
        f.extend(1u32.to_le_bytes());
        for i in 0..n {
            let len = 60 + (i * 37) % 1400;
            f.extend((1_700_000_000 + i).to_le_bytes());
            f.extend(i.to_le_bytes());
            f.extend(len.to_le_bytes());
            f.extend(len.to_le_bytes());
            f.extend((0..len).map(|b| (b ^ i) as u8));
        }
        f
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Every packet's time, the file's stats and the error that ended it.
    fn read(bytes: &[u8]) -> (Vec<u64>, FileStats, Option<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        std::fs::write(&path, bytes).unwrap();
        let mut f = match CaptureFile::open(&path) {
            Ok(f) => f,
            Err(e) => return (Vec::new(), FileStats::default(), Some(e.to_string())),
        };
        let mut ts = Vec::new();
        let mut block = Block::default();
        // Small blocks: damage lands in every position relative to a block.
        loop {
            match f.fill(&mut block, 4096) {
                Ok(true) => ts.extend(block.packets.iter().map(|p| p.ts_ns)),
                Ok(false) => return (ts, f.stats().clone(), None),
                Err(e) => return (ts, f.stats().clone(), Some(e.to_string())),
            }
        }
    }

    /// Inflated length of a (damaged) gzip file.
    fn inflated(file: &[u8]) -> usize {
        let mut g = Gunzip::new(file);
        let mut out = Vec::new();
        let _ = g.read_to_end(&mut out);
        out.len()
    }

    #[test]
    fn a_cut_gzip_reads_like_the_same_cut_plain_file() {
        let plain = pcap(300);
        let packed = gz(&plain);
        for cut in (10..packed.len())
            .step_by(packed.len() / 23)
            .chain([packed.len() - 3])
        {
            let short = &packed[..cut];
            let upto = inflated(short);
            let (ts_gz, st_gz, err_gz) = read(short);
            let (ts_plain, st_plain, err_plain) = read(&plain[..upto]);
            assert_eq!(ts_gz, ts_plain, "cut at {cut} ({upto} inflated)");
            assert_eq!(
                st_gz.truncated_records, st_plain.truncated_records,
                "cut at {cut}"
            );
            assert_eq!(
                err_gz.is_some(),
                err_plain.is_some(),
                "cut at {cut}: {err_gz:?}"
            );
        }
        // A cut inside the trailer loses nothing.
        let (ts, st, err) = read(&packed[..packed.len() - 4]);
        assert_eq!((ts.len(), st.truncated_records, err), (300, 0, None));
    }

    #[test]
    fn trailing_garbage_after_gzip_is_damage_at_its_offset_after_every_packet() {
        let plain = pcap(200);
        let mut packed = gz(&plain);
        let end = packed.len();
        packed.extend_from_slice(&[0x42; 100]);
        let (ts, _, err) = read(&packed);
        assert_eq!(ts.len(), 200);
        let err = err.expect("garbage is damage");
        assert!(err.contains(&format!("damaged at byte {end}:")), "{err}");
        // Zero padding after the stream is not damage (gzip -d ignores it too).
        let mut padded = gz(&plain);
        padded.extend_from_slice(&[0; 4096]);
        assert_eq!(read(&padded).2, None);
    }

    #[test]
    fn a_corrupt_record_in_gzip_is_at_the_same_offset_as_in_plain() {
        let mut plain = pcap(50);
        // Packet 20's caplen field: an impossible length.
        let mut at = 24;
        for i in 0..20u32 {
            at += 16 + (60 + (i * 37) % 1400) as usize;
        }
        plain[at + 8..at + 12].copy_from_slice(&0x4000_0000u32.to_le_bytes());
        let (ts_p, _, err_p) = read(&plain);
        let (ts_g, _, err_g) = read(&gz(&plain));
        assert_eq!(ts_p.len(), 20);
        assert_eq!(ts_g, ts_p);
        let (err_p, err_g) = (err_p.unwrap(), err_g.unwrap());
        assert!(err_p.contains(&format!("damaged at byte {at}:")), "{err_p}");
        assert!(err_g.contains(&format!("damaged at byte {at}:")), "{err_g}");
        assert!(err_g.contains("inflated data"), "{err_g}");
    }
}
