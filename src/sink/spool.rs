//! A sink's disk spool: an append-only queue of records in segment files.
//!
//! Layout of a spool directory (one per sink):
//!
//! ```text
//! 00000000000000000001.seg   records, appended
//! 00000000000000000002.seg   the next segment once the previous one is full
//! head                       "<segment id> <byte offset>[ <note>]\n": first record not yet delivered
//! ```
//!
//! The optional note is the sink's delivery state (run, acknowledged
//! position; see `worker`): it is written in the same rename as the head, so
//! the two never disagree after a crash. With a note and no records left the
//! head file stays, as `0 0 <note>`.
//!
//! A record is `len: u32 LE | seq: u64 LE | crc32(seq ‖ payload): u32 LE | payload`.
//! The head moves (written to a temporary file, then renamed over `head`)
//! only after the destination confirmed the records before it, and fully
//! consumed segments are deleted. Nothing is fsynced: a crash of the process
//! loses nothing (the data is in the page cache), a power loss may lose the
//! last records or move the head back (then records are sent again).
//!
//! Opening checks every record. A record cut short at the end of the last
//! segment is what a crash during an append leaves: it is cut off and
//! counted. Anything else (bad checksum, impossible length, a short record
//! before the end) is [`SpoolError::Corrupt`], naming the file and offset.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const HEADER: u64 = 16;
/// Largest payload a record may hold.
pub const MAX_RECORD: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("spool file {path} is corrupt at byte {offset}: {why}; move it aside or delete it to go on (its records before that byte can be kept by cutting the file there)")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        why: &'static str,
    },
    #[error("spool head file {path} is invalid: {why}")]
    BadHead { path: PathBuf, why: String },
    #[error("spool is full ({max} bytes)")]
    Full { max: u64 },
    #[error("record of {0} bytes is larger than a spool record may be")]
    TooLarge(u64),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    id: u64,
    len: u64,
}

/// A record read back from the spool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spooled {
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// Records not yet confirmed, in append order.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    segments: VecDeque<Segment>,
    /// Offset of the first unconsumed record in the first segment.
    head_off: u64,
    /// Records read ahead by `peek`, not yet consumed: (record, its size on disk).
    window: VecDeque<(Spooled, u64)>,
    /// Where `peek` reads next: (index into `segments`, offset).
    read_at: (usize, u64),
    records: u64,
    writer: Option<File>,
    /// Records cut off at open (a crash during an append).
    pub repaired: u64,
    /// The note kept with the head (empty: none).
    note: String,
    /// Sequence number of the last record appended (found at open, then kept).
    last_seq: Option<u64>,
}

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

fn crc(seq: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&seq.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// Reads one record at the reader's position. `Ok(None)` at a clean end;
/// `Err(why)` for a damaged record; `Truncated` when the file ends inside it.
enum Read1 {
    Record(Spooled, u64),
    End,
    Truncated,
    Bad(&'static str),
}

fn read_record(r: &mut impl Read) -> std::io::Result<Read1> {
    let mut hdr = [0u8; HEADER as usize];
    let got = read_full(r, &mut hdr)?;
    if got == 0 {
        return Ok(Read1::End);
    }
    if got < hdr.len() {
        return Ok(Read1::Truncated);
    }
    let (len_b, rest) = hdr.split_at(4);
    let (seq_b, crc_b) = rest.split_at(8);
    let len = u64::from(u32::from_le_bytes(len_b.try_into().unwrap_or([0; 4])));
    let seq = u64::from_le_bytes(seq_b.try_into().unwrap_or([0; 8]));
    let want = u32::from_le_bytes(crc_b.try_into().unwrap_or([0; 4]));
    if len > MAX_RECORD {
        return Ok(Read1::Bad(
            "record length larger than any record phonehome writes",
        ));
    }
    let mut payload = vec![0u8; len as usize];
    if read_full(r, &mut payload)? < payload.len() {
        return Ok(Read1::Truncated);
    }
    if crc(seq, &payload) != want {
        return Ok(Read1::Bad("checksum mismatch"));
    }
    Ok(Read1::Record(Spooled { seq, payload }, HEADER + len))
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let Some(rest) = buf.get_mut(n..) else { break };
        match r.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Spool {
    /// Opens (or, on the first append, creates) the spool in `dir`.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        let mut s = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(64 << 10, 64 << 20),
            segments: VecDeque::new(),
            head_off: 0,
            window: VecDeque::new(),
            read_at: (0, 0),
            records: 0,
            writer: None,
            repaired: 0,
            note: String::new(),
            last_seq: None,
        };
        if !dir.exists() {
            return Ok(s);
        }
        let mut ids: Vec<u64> = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io(dir))? {
            let e = e.map_err(io(dir))?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name
                .strip_suffix(".seg")
                .and_then(|n| n.parse::<u64>().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let (head_id, head_off, note) = s.read_head()?;
        s.note = note;
        let last = ids.last().copied();
        for id in ids {
            let path = seg_path(dir, id);
            if id < head_id {
                // Consumed before a crash that came before its deletion.
                std::fs::remove_file(&path).map_err(io(&path))?;
                continue;
            }
            let start = if id == head_id { head_off } else { 0 };
            let (len, records) = s.scan(&path, start, Some(id) == last)?;
            s.records += records;
            s.segments.push_back(Segment { id, len });
        }
        match s.segments.front() {
            Some(f) if f.id == head_id => s.head_off = head_off,
            _ => s.head_off = 0,
        }
        s.read_at = (0, s.head_off);
        if s.records == 0 {
            s.last_seq = None;
            s.clear_files()?;
        }
        Ok(s)
    }

    fn head_path(&self) -> PathBuf {
        self.dir.join("head")
    }

    fn read_head(&self) -> Result<(u64, u64, String), SpoolError> {
        let p = self.head_path();
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0, String::new())),
            Err(e) => return Err(io(&p)(e)),
        };
        let bad = |why: &str| SpoolError::BadHead {
            path: p.clone(),
            why: format!("{why}: {:?}", text.trim()),
        };
        let line = text.trim();
        let mut it = line.splitn(3, ' ');
        let id = it.next().and_then(|v| v.parse::<u64>().ok());
        let off = it.next().and_then(|v| v.parse::<u64>().ok());
        let note = it.next().unwrap_or("").trim().to_string();
        match (id, off, text.lines().count()) {
            (Some(id), Some(off), 1) => Ok((id, off, note)),
            _ => Err(bad("expected \"<segment> <offset>[ <note>]\"")),
        }
    }

    /// The note kept with the head (empty when none).
    pub fn note(&self) -> &str {
        &self.note
    }

    /// Sequence number of the last record in the spool (None when empty).
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq.filter(|_| self.records > 0)
    }

    /// Replaces the note and writes it with the head at once.
    pub fn set_note(&mut self, note: String) -> Result<(), SpoolError> {
        if note == self.note {
            return Ok(());
        }
        self.note = note;
        self.save_head()
    }

    fn save_head(&self) -> Result<(), SpoolError> {
        if self.records == 0 {
            if self.note.is_empty() {
                let h = self.head_path();
                return match std::fs::remove_file(&h) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io(&h)(e)),
                };
            }
            std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
            return self.write_head(0, 0);
        }
        let id = self.segments.front().map_or(0, |s| s.id);
        self.write_head(id, self.head_off)
    }

    /// Checks every record of a segment; returns its usable length and how
    /// many records start at or after `start` (the head, in the first segment).
    fn scan(&mut self, path: &Path, start: u64, is_last: bool) -> Result<(u64, u64), SpoolError> {
        let mut r = BufReader::new(File::open(path).map_err(io(path))?);
        let mut off = 0u64;
        let mut after = 0u64;
        let mut start_ok = false;
        loop {
            start_ok |= off == start;
            match read_record(&mut r).map_err(io(path))? {
                Read1::Record(rec, n) => {
                    if off >= start {
                        after += 1;
                        self.last_seq = Some(rec.seq);
                    }
                    off += n;
                }
                Read1::End => break,
                Read1::Truncated if is_last => {
                    // A crash during an append: cut the partial record off.
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(io(path))?;
                    f.set_len(off).map_err(io(path))?;
                    self.repaired += 1;
                    break;
                }
                Read1::Truncated => {
                    return Err(SpoolError::Corrupt {
                        path: path.to_path_buf(),
                        offset: off,
                        why: "a record is cut short before the end of the spool",
                    })
                }
                Read1::Bad(why) => {
                    return Err(SpoolError::Corrupt {
                        path: path.to_path_buf(),
                        offset: off,
                        why,
                    })
                }
            }
        }
        if !(start_ok || off == start) {
            return Err(SpoolError::BadHead {
                path: self.head_path(),
                why: format!(
                    "offset {start} is not a record boundary of {} ({off} bytes of records)",
                    path.display()
                ),
            });
        }
        Ok((off, after))
    }

    /// Records not yet consumed.
    pub fn len(&self) -> u64 {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Bytes on disk of the segments still held.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.len).sum::<u64>()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends a record at the tail.
    pub fn append(&mut self, seq: u64, payload: &[u8]) -> Result<(), SpoolError> {
        let len = payload.len() as u64;
        if len > MAX_RECORD {
            return Err(SpoolError::TooLarge(len));
        }
        if self.bytes() + HEADER + len > self.max_bytes {
            return Err(SpoolError::Full {
                max: self.max_bytes,
            });
        }
        let need_new = match self.segments.back() {
            None => true,
            Some(s) => s.len >= self.segment_bytes,
        };
        if need_new || self.writer.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
            let id = if need_new {
                self.segments.back().map_or(1, |s| s.id + 1)
            } else {
                self.segments.back().map_or(1, |s| s.id)
            };
            let path = seg_path(&self.dir, id);
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io(&path))?;
            if need_new {
                self.segments.push_back(Segment { id, len: 0 });
            }
            self.writer = Some(f);
        }
        let mut rec = Vec::with_capacity(payload.len() + HEADER as usize);
        rec.extend_from_slice(&(len as u32).to_le_bytes());
        rec.extend_from_slice(&seq.to_le_bytes());
        rec.extend_from_slice(&crc(seq, payload).to_le_bytes());
        rec.extend_from_slice(payload);
        let id = self.segments.back().map_or(0, |s| s.id);
        let path = seg_path(&self.dir, id);
        if let Some(w) = self.writer.as_mut() {
            if let Err(e) = w.write_all(&rec) {
                self.writer = None;
                return Err(io(&path)(e));
            }
        }
        if let Some(s) = self.segments.back_mut() {
            s.len += rec.len() as u64;
        }
        self.records += 1;
        self.last_seq = Some(seq);
        Ok(())
    }

    /// The first `n` unconsumed records (fewer when the spool holds fewer),
    /// read ahead and kept until consumed.
    pub fn peek(&mut self, n: usize) -> Result<Vec<&Spooled>, SpoolError> {
        while self.window.len() < n {
            let (si, off) = self.read_at;
            let Some(seg) = self.segments.get(si).copied() else {
                break;
            };
            if off >= seg.len {
                if si + 1 < self.segments.len() {
                    self.read_at = (si + 1, 0);
                    continue;
                }
                break;
            }
            let path = seg_path(&self.dir, seg.id);
            let mut f = File::open(&path).map_err(io(&path))?;
            f.seek(SeekFrom::Start(off)).map_err(io(&path))?;
            let mut r = BufReader::new(f.take(seg.len - off));
            let mut at = off;
            while self.window.len() < n && at < seg.len {
                match read_record(&mut r).map_err(io(&path))? {
                    Read1::Record(rec, size) => {
                        at += size;
                        self.window.push_back((rec, size));
                    }
                    Read1::End | Read1::Truncated => {
                        return Err(SpoolError::Corrupt {
                            path,
                            offset: at,
                            why: "the spool file became shorter while in use",
                        })
                    }
                    Read1::Bad(why) => {
                        return Err(SpoolError::Corrupt {
                            path,
                            offset: at,
                            why,
                        })
                    }
                }
            }
            self.read_at = (si, at);
        }
        Ok(self.window.iter().take(n).map(|(r, _)| r).collect())
    }

    /// Marks the first `n` peeked records delivered: moves the head past
    /// them and deletes segments left behind.
    pub fn consume(&mut self, n: usize) -> Result<(), SpoolError> {
        let note = self.note.clone();
        self.consume_noting(n, note)
    }

    /// [`Spool::consume`], writing `note` with the new head in one rename.
    pub fn consume_noting(&mut self, n: usize, note: String) -> Result<(), SpoolError> {
        self.note = note;
        let mut moved = 0u64;
        for _ in 0..n {
            let Some((_, size)) = self.window.pop_front() else {
                break;
            };
            moved += size;
            self.records = self.records.saturating_sub(1);
        }
        if moved == 0 {
            return self.save_head();
        }
        self.head_off += moved;
        // Drop segments the head has passed (never the one being appended to
        // while it still has records after the head).
        while let Some(first) = self.segments.front().copied() {
            if self.head_off < first.len {
                break;
            }
            let spill = self.head_off - first.len;
            self.segments.pop_front();
            if self.segments.is_empty() {
                self.writer = None;
            }
            let p = seg_path(&self.dir, first.id);
            std::fs::remove_file(&p).map_err(io(&p))?;
            self.head_off = spill;
            self.read_at.0 = self.read_at.0.saturating_sub(1);
        }
        if self.records == 0 {
            return self.clear_files();
        }
        self.save_head()
    }

    fn write_head(&self, id: u64, off: u64) -> Result<(), SpoolError> {
        let p = self.head_path();
        let tmp = self.dir.join("head.tmp");
        let text = if self.note.is_empty() {
            format!("{id} {off}\n")
        } else {
            format!("{id} {off} {}\n", self.note)
        };
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &p).map_err(io(&p))
    }

    /// Everything was delivered: no files left behind.
    fn clear_files(&mut self) -> Result<(), SpoolError> {
        self.writer = None;
        for s in self.segments.drain(..) {
            let p = seg_path(&self.dir, s.id);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&p)(e)),
            }
        }
        self.head_off = 0;
        self.read_at = (0, 0);
        self.window.clear();
        self.records = 0;
        self.save_head()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(s: &mut Spool, n: usize) -> Vec<(u64, String)> {
        s.peek(n)
            .unwrap()
            .iter()
            .map(|r| (r.seq, String::from_utf8(r.payload.clone()).unwrap()))
            .collect()
    }

    #[test]
    fn append_peek_consume_in_order_across_segments_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("hec");
        let mut s = Spool::open(&d, 1 << 20).unwrap();
        assert!(s.is_empty());
        assert!(!d.exists(), "created only when needed");
        s.segment_bytes = 64; // a few records per segment
        for i in 1..=10u64 {
            s.append(i, format!("record {i:02} ..........").as_bytes())
                .unwrap();
        }
        assert_eq!(s.len(), 10);
        assert!(s.segments.len() >= 3, "{} segments", s.segments.len());
        let got = payloads(&mut s, 4);
        assert_eq!(got[0], (1, "record 01 ..........".into()));
        assert_eq!(got[3].0, 4);
        s.consume(3).unwrap();
        assert_eq!(s.len(), 7);
        // A new process finds the rest, from the head on.
        drop(s);
        let mut s = Spool::open(&d, 1 << 20).unwrap();
        assert_eq!(s.len(), 7);
        let got = payloads(&mut s, 100);
        let seqs: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(seqs, (4..=10).collect::<Vec<_>>());
        s.append(11, b"late").unwrap();
        assert_eq!(payloads(&mut s, 100).len(), 8);
        s.consume(8).unwrap();
        assert!(s.is_empty());
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            0,
            "nothing left behind"
        );
        // And it starts over cleanly.
        s.append(12, b"again").unwrap();
        assert_eq!(payloads(&mut s, 1), vec![(12, "again".into())]);
    }

    #[test]
    fn bounded_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 100).unwrap();
        s.append(1, &[b'x'; 60]).unwrap();
        match s.append(2, &[b'x'; 60]) {
            Err(SpoolError::Full { max: 100 }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(s.len(), 1);
        assert!(matches!(
            s.append(3, &vec![0u8; (MAX_RECORD + 1) as usize]),
            Err(SpoolError::TooLarge(_))
        ));
    }

    #[test]
    fn a_partial_last_record_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        s.append(1, b"whole").unwrap();
        s.append(2, b"cut short").unwrap();
        drop(s);
        let seg = seg_path(dir.path(), 1);
        let len = std::fs::metadata(&seg).unwrap().len();
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.set_len(len - 3).unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.repaired, 1);
        assert_eq!(payloads(&mut s, 10), vec![(1, "whole".into())]);
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), HEADER + 5);
    }

    #[test]
    fn corruption_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        s.append(1, b"first").unwrap();
        s.append(2, b"second").unwrap();
        drop(s);
        let seg = seg_path(dir.path(), 1);
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[HEADER as usize + 2] ^= 0xff; // inside the first payload
        std::fs::write(&seg, &bytes).unwrap();
        let e = Spool::open(dir.path(), 1 << 20).err().unwrap();
        let msg = e.to_string();
        assert!(
            matches!(
                e,
                SpoolError::Corrupt {
                    offset: 0,
                    why: "checksum mismatch",
                    ..
                }
            ),
            "{msg}"
        );
        assert!(
            msg.contains("00000000000000000001.seg is corrupt at byte 0"),
            "{msg}"
        );

        // An impossible length.
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&seg, &bytes).unwrap();
        assert!(matches!(
            Spool::open(dir.path(), 1 << 20),
            Err(SpoolError::Corrupt { why, .. }) if why.contains("length")
        ));

        // Garbage in the head file, and a head that is not on a record boundary.
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        s.append(1, b"x").unwrap();
        drop(s);
        std::fs::write(dir.path().join("head"), "one two\n").unwrap();
        assert!(matches!(
            Spool::open(dir.path(), 1 << 20),
            Err(SpoolError::BadHead { .. })
        ));
        std::fs::write(dir.path().join("head"), "1 3\n").unwrap();
        let e = Spool::open(dir.path(), 1 << 20).err().unwrap();
        assert!(e.to_string().contains("not a record boundary"), "{e}");
    }

    #[test]
    fn a_short_record_before_the_last_segment_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        s.segment_bytes = 1;
        s.append(1, b"aaaa").unwrap();
        s.append(2, b"bbbb").unwrap();
        drop(s);
        let seg = seg_path(dir.path(), 1);
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.set_len(HEADER + 2).unwrap();
        assert!(matches!(
            Spool::open(dir.path(), 1 << 20),
            Err(SpoolError::Corrupt { offset: 0, .. })
        ));
    }

    #[test]
    fn the_note_moves_with_the_head_and_outlives_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("s");
        let mut s = Spool::open(&d, 1 << 20).unwrap();
        for i in 5..=7u64 {
            s.append(i, b"x").unwrap();
        }
        assert_eq!(s.last_seq(), Some(7));
        s.peek(2).unwrap();
        s.consume_noting(2, "run=00000000000000aa acked=6 foreign=0".into())
            .unwrap();
        let s2 = Spool::open(&d, 1 << 20).unwrap();
        assert_eq!(s2.note(), "run=00000000000000aa acked=6 foreign=0");
        assert_eq!((s2.len(), s2.last_seq()), (1, Some(7)));
        drop(s2);
        s.peek(1).unwrap();
        s.consume_noting(1, "run=00000000000000aa acked=7 foreign=0".into())
            .unwrap();
        // No records left: the head file stays for the note alone.
        assert_eq!(
            std::fs::read_to_string(d.join("head")).unwrap(),
            "0 0 run=00000000000000aa acked=7 foreign=0\n"
        );
        let s3 = Spool::open(&d, 1 << 20).unwrap();
        assert!(s3.is_empty() && s3.last_seq().is_none());
        assert_eq!(s3.note(), "run=00000000000000aa acked=7 foreign=0");
        // An empty note with nothing spooled leaves no file.
        s.set_note(String::new()).unwrap();
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
    }
}
