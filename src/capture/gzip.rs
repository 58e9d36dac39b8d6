//! gunzip that keeps every byte before damage and says where the damage is.
//!
//! flate2's `MultiGzDecoder` returns an error for a whole read call, so the
//! bytes it had already inflated in that call were lost (a truncated `.gz`
//! gave no packets at all), and it cannot say where in the file it stopped.
//! This reader drives flate2's raw inflater itself: each read returns what was
//! inflated, the error comes on the next read, and every position is an exact
//! byte offset in the compressed file.
//!
//! Members follow one another (RFC 1952, as `gzip -d`). After the last one,
//! zero bytes (padding) are ignored, as `gzip -d` does; anything else is
//! damage at the offset where it starts.

use flate2::{Decompress, FlushDecompress, Status};
use std::io::{BufRead, Read};

/// Where and how a gzip stream is damaged; carried inside the `io::Error`
/// that [`Gunzip`] returns (kind `UnexpectedEof` when `truncated`, else `InvalidData`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct GzipDamage {
    /// Byte offset in the compressed file.
    pub offset: u64,
    /// Bytes inflated before it.
    pub inflated: u64,
    pub detail: String,
    /// The file simply ends inside a member (cut short), nothing is corrupt.
    pub truncated: bool,
}

impl GzipDamage {
    fn to_io(&self) -> std::io::Error {
        let kind = if self.truncated {
            std::io::ErrorKind::UnexpectedEof
        } else {
            std::io::ErrorKind::InvalidData
        };
        std::io::Error::new(kind, self.clone())
    }

    /// The damage behind an I/O error from [`Gunzip`], if that is what it is.
    pub fn of(e: &std::io::Error) -> Option<&GzipDamage> {
        e.get_ref()?.downcast_ref::<GzipDamage>()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before a member header (the first, or one after a trailer).
    Header,
    Body,
    Trailer,
    Done,
}

/// gzip header flag bits (RFC 1952 2.3.1).
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xE0;

/// Longest read handed to the inflater at once.
const MAX_CHUNK: usize = 1 << 16;

pub struct Gunzip<R> {
    inner: R,
    /// Compressed bytes consumed.
    pos: u64,
    /// Bytes inflated, all members.
    out: u64,
    state: State,
    members: u64,
    inflate: Decompress,
    crc: crc32fast::Hasher,
    /// Inflated size of the current member, modulo 2^32 (ISIZE).
    size: u32,
    failed: Option<GzipDamage>,
}

impl<R: BufRead> Gunzip<R> {
    pub fn new(inner: R) -> Self {
        Gunzip {
            inner,
            pos: 0,
            out: 0,
            state: State::Header,
            members: 0,
            inflate: Decompress::new(false),
            crc: crc32fast::Hasher::new(),
            size: 0,
            failed: None,
        }
    }

    fn fail(&mut self, offset: u64, detail: impl Into<String>, truncated: bool) -> std::io::Error {
        let d = GzipDamage {
            offset,
            inflated: self.out,
            detail: detail.into(),
            truncated,
        };
        let e = d.to_io();
        self.failed = Some(d);
        e
    }

    /// The next byte, or `None` at the end of the file.
    fn byte(&mut self) -> std::io::Result<Option<u8>> {
        let b = self.inner.fill_buf()?.first().copied();
        if b.is_some() {
            self.inner.consume(1);
            self.pos += 1;
        }
        Ok(b)
    }

    /// The next byte of a header or trailer that started at `start`.
    fn need(&mut self, start: u64, what: &str) -> std::io::Result<u8> {
        match self.byte()? {
            Some(b) => Ok(b),
            None => Err(self.fail(
                start,
                format!(
                    "gzip member cut short in its {what} (the file ends at byte {})",
                    self.pos
                ),
                true,
            )),
        }
    }

    /// Reads a member header. `Ok(false)`: no member here (end of the stream).
    fn header(&mut self) -> std::io::Result<bool> {
        let start = self.pos;
        let Some(id1) = self.byte()? else {
            if self.members == 0 {
                return Err(self.fail(start, "empty gzip stream", true));
            }
            return Ok(false);
        };
        if self.members > 0 && id1 == 0 {
            return self.zero_padding(start);
        }
        let id2 = self.byte()?;
        if id1 != 0x1f || id2 != Some(0x8b) {
            let detail = if self.members == 0 {
                "not a gzip member header"
            } else {
                "data after the last gzip member"
            };
            return Err(self.fail(start, detail, false));
        }
        let cm = self.need(start, "header")?;
        let flags = self.need(start, "header")?;
        if cm != 8 || flags & FRESERVED != 0 {
            return Err(self.fail(
                start,
                format!("gzip member with compression method {cm} and flags {flags:#04x}"),
                false,
            ));
        }
        for _ in 0..6 {
            self.need(start, "header")?; // mtime, xfl, os
        }
        if flags & FEXTRA != 0 {
            let lo = self.need(start, "header")?;
            let hi = self.need(start, "header")?;
            for _ in 0..u16::from_le_bytes([lo, hi]) {
                self.need(start, "header")?;
            }
        }
        for flag in [FNAME, FCOMMENT] {
            if flags & flag != 0 {
                while self.need(start, "header")? != 0 {}
            }
        }
        if flags & FHCRC != 0 {
            self.need(start, "header")?;
            self.need(start, "header")?;
        }
        self.inflate.reset(false);
        self.crc = crc32fast::Hasher::new();
        self.size = 0;
        self.members += 1;
        Ok(true)
    }

    /// After the last member, zero bytes up to the end of the file are padding.
    fn zero_padding(&mut self, start: u64) -> std::io::Result<bool> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            match buf.iter().position(|&b| b != 0) {
                None => {
                    let n = buf.len();
                    self.inner.consume(n);
                    self.pos += n as u64;
                }
                Some(i) => {
                    self.inner.consume(i);
                    self.pos += i as u64;
                    let detail = format!(
                        "data after the last gzip member and {} zero bytes",
                        self.pos - start
                    );
                    return Err(self.fail(self.pos, detail, false));
                }
            }
        }
    }

    fn trailer(&mut self) -> std::io::Result<()> {
        let start = self.pos;
        let mut t = [0u8; 8];
        for b in &mut t {
            *b = self.need(start, "trailer")?;
        }
        let [c0, c1, c2, c3, s0, s1, s2, s3] = t;
        let crc = u32::from_le_bytes([c0, c1, c2, c3]);
        let isize = u32::from_le_bytes([s0, s1, s2, s3]);
        let ours = std::mem::replace(&mut self.crc, crc32fast::Hasher::new()).finalize();
        if crc != ours || isize != self.size {
            return Err(self.fail(
                start,
                format!(
                    "gzip member trailer does not match its data (CRC {crc:08x}, inflated {ours:08x}; size {isize}, inflated {})",
                    self.size
                ),
                false,
            ));
        }
        Ok(())
    }

    /// Inflates into `buf`; `Ok(0)` when the member's deflate stream ended.
    fn body(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let input = self.inner.fill_buf()?;
            let at_eof = input.is_empty();
            let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
            let res = self.inflate.decompress(input, buf, FlushDecompress::None);
            let consumed = (self.inflate.total_in() - in0) as usize;
            let produced = (self.inflate.total_out() - out0) as usize;
            self.inner.consume(consumed);
            self.pos += consumed as u64;
            let done = buf.get(..produced).unwrap_or_default();
            self.crc.update(done);
            self.size = self.size.wrapping_add(produced as u32);
            self.out += produced as u64;
            match res {
                Err(e) => {
                    // What was inflated before the bad code is good: hand it
                    // on now, report the damage on the next read.
                    let e = self.fail(self.pos, format!("corrupt deflate data: {e}"), false);
                    return if produced > 0 { Ok(produced) } else { Err(e) };
                }
                Ok(Status::StreamEnd) => {
                    self.state = State::Trailer;
                    return Ok(produced);
                }
                Ok(_) if produced > 0 => return Ok(produced),
                Ok(_) if at_eof => {
                    return Err(self.fail(
                        self.pos,
                        format!("gzip member cut short (the file ends at byte {})", self.pos),
                        true,
                    ));
                }
                Ok(_) if consumed == 0 && buf.is_empty() => return Ok(0),
                Ok(_) => {}
            }
        }
    }
}

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(d) = &self.failed {
            return Err(d.to_io());
        }
        let len = buf.len().min(MAX_CHUNK);
        let buf = buf.get_mut(..len).unwrap_or_default();
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Header => {
                    self.state = if self.header()? {
                        State::Body
                    } else {
                        State::Done
                    };
                }
                State::Body => {
                    let n = self.body(buf)?;
                    if n > 0 || buf.is_empty() {
                        return Ok(n);
                    }
                }
                State::Trailer => {
                    self.trailer()?;
                    self.state = State::Header;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Reads everything, returning the bytes and the damage (if any).
    fn read_all(file: &[u8]) -> (Vec<u8>, Option<GzipDamage>) {
        let mut g = Gunzip::new(std::io::BufReader::with_capacity(7, file));
        let mut out = Vec::new();
        let mut buf = [0u8; 100];
        loop {
            match g.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, GzipDamage::of(&e).cloned()),
            }
        }
    }

    fn sample() -> Vec<u8> {
        (0..20_000u32)
            .flat_map(|i| (i * 7919).to_le_bytes())
            .collect()
    }

    #[test]
    fn members_in_a_row_and_zero_padding() {
        let (a, b) = (b"first member ".to_vec(), b"second".to_vec());
        let mut file = gz(&a);
        file.extend(gz(&b));
        file.extend([0u8; 512]);
        let (out, damage) = read_all(&file);
        assert_eq!(out, [a, b].concat());
        assert_eq!(damage, None);
    }

    #[test]
    fn a_cut_keeps_every_byte_inflated_before_it() {
        let data = sample();
        let file = gz(&data);
        for cut in [
            11,
            file.len() / 3,
            file.len() / 2,
            file.len() - 9,
            file.len() - 1,
        ] {
            let (out, damage) = read_all(&file[..cut]);
            let d = damage.expect("a cut is reported");
            assert!(d.truncated, "cut at {cut}: {d:?}");
            assert_eq!(d.inflated, out.len() as u64);
            assert_eq!(out[..], data[..out.len()], "cut at {cut}: bytes differ");
            // Near the end, everything but what sat in the last few bytes is there.
            if cut >= file.len() - 9 {
                assert_eq!(out, data, "cut at {cut} is inside the trailer");
            }
        }
    }

    #[test]
    fn trailing_garbage_is_damage_where_it_starts() {
        let data = sample();
        let mut file = gz(&data);
        let end = file.len() as u64;
        file.extend_from_slice(b"GARBAGE!");
        let (out, damage) = read_all(&file);
        assert_eq!(out, data, "every packet byte is read");
        let d = damage.unwrap();
        assert_eq!(d.offset, end);
        assert!(!d.truncated);
        assert!(
            d.detail.contains("after the last gzip member"),
            "{}",
            d.detail
        );
    }

    #[test]
    fn corrupt_deflate_data_keeps_what_came_before() {
        // A stored block of packet bytes, then a block of the reserved type 3.
        let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let len = data.len() as u16;
        let mut file = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        file.push(0x00); // BFINAL 0, BTYPE 00 (stored)
        file.extend(len.to_le_bytes());
        file.extend((!len).to_le_bytes());
        file.extend(&data);
        let bad_at = file.len() as u64;
        file.push(0x07); // BFINAL 1, BTYPE 11: invalid
        file.extend([0u8; 8]);
        let (out, damage) = read_all(&file);
        assert_eq!(out, data, "every byte before the bad block is handed on");
        let d = damage.expect("damage is reported");
        assert!(!d.truncated);
        assert!(d.detail.contains("corrupt deflate"), "{}", d.detail);
        assert!(
            (bad_at..=bad_at + 1).contains(&d.offset),
            "{d:?} vs {bad_at}"
        );
    }

    #[test]
    fn damage_mid_stream_is_found_and_earlier_bytes_kept() {
        let data = sample();
        let mut file = gz(&data);
        let at = file.len() / 2;
        for b in &mut file[at..at + 64] {
            *b = 0xff;
        }
        let (out, damage) = read_all(&file);
        let d = damage.expect("damage is reported (bad code or trailer)");
        assert!(!d.truncated);
        let same = out.iter().zip(&data).take_while(|(a, b)| a == b).count();
        assert!(same > data.len() / 4, "only {same} bytes intact");
    }

    #[test]
    fn crc_mismatch_is_reported_at_the_trailer() {
        let data = b"some packet bytes".to_vec();
        let mut file = gz(&data);
        let n = file.len();
        file[n - 8] ^= 1;
        let (out, damage) = read_all(&file);
        assert_eq!(out, data);
        let d = damage.unwrap();
        assert_eq!(d.offset, n as u64 - 8);
        assert!(d.detail.contains("trailer"));
    }
}
