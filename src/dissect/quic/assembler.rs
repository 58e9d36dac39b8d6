//! Reassembly of the CRYPTO stream of one packet number space.
//!
//! CRYPTO frames arrive in any order, split at any byte, repeated, and (from
//! Chrome) deliberately shuffled across several Initial packets. Data is
//! placed by offset into one buffer; the first copy of a byte wins and a
//! later copy that disagrees is counted as a conflict. Memory is bounded by
//! `limit` (highest offset kept) and by the number of disjoint ranges.

use std::ops::Range;

/// Default highest CRYPTO offset kept (a ClientHello is far smaller).
pub const DEFAULT_LIMIT: usize = 64 * 1024;
/// Default number of disjoint ranges (holes + 1) tracked.
pub const DEFAULT_MAX_RANGES: usize = 64;

/// Why data was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssemblyError {
    #[error("CRYPTO data reaches offset {end}, beyond the {limit}-byte bound")]
    LimitExceeded { end: u64, limit: usize },
    #[error("CRYPTO data split into more than {0} disjoint ranges")]
    TooManyRanges(usize),
}

/// Bounded reassembler of CRYPTO data.
#[derive(Clone, Debug)]
pub struct CryptoAssembler {
    buf: Vec<u8>,
    /// Sorted, disjoint, non-adjacent ranges of `buf` that hold received data.
    ranges: Vec<Range<usize>>,
    limit: usize,
    max_ranges: usize,
    conflicts: u32,
    duplicate_bytes: u64,
    refused_bytes: u64,
}

impl Default for CryptoAssembler {
    fn default() -> Self {
        Self::new(DEFAULT_LIMIT)
    }
}

impl CryptoAssembler {
    /// A reassembler keeping offsets below `limit`.
    pub fn new(limit: usize) -> Self {
        CryptoAssembler {
            buf: Vec::new(),
            ranges: Vec::new(),
            limit,
            max_ranges: DEFAULT_MAX_RANGES,
            conflicts: 0,
            duplicate_bytes: 0,
            refused_bytes: 0,
        }
    }

    /// Sets the bound on disjoint ranges.
    pub fn with_max_ranges(mut self, max_ranges: usize) -> Self {
        self.max_ranges = max_ranges.max(1);
        self
    }

    /// Forgets all data (e.g. after a Retry or a version change); counters are kept.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.ranges.clear();
    }

    /// Places `data` at stream offset `offset`.
    ///
    /// Data past the bound, or that would open one range too many, is refused
    /// whole and counted in [`refused_bytes`](Self::refused_bytes).
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> Result<(), AssemblyError> {
        if data.is_empty() {
            return Ok(());
        }
        let end = offset.saturating_add(data.len() as u64);
        let span = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(end).ok())
            .filter(|&(_, e)| e <= self.limit);
        let Some((s, e)) = span else {
            self.refused_bytes += data.len() as u64;
            return Err(AssemblyError::LimitExceeded {
                end,
                limit: self.limit,
            });
        };
        let touches = self.ranges.iter().any(|r| r.start <= e && s <= r.end);
        if !touches && self.ranges.len() >= self.max_ranges {
            self.refused_bytes += data.len() as u64;
            return Err(AssemblyError::TooManyRanges(self.max_ranges));
        }
        if self.buf.len() < e {
            self.buf.resize(e, 0);
        }

        // Fill the gaps; compare where data is already present.
        let mut cursor = s;
        for r in &self.ranges {
            if r.end <= cursor {
                continue;
            }
            if r.start >= e {
                break;
            }
            if r.start > cursor {
                copy_part(&mut self.buf, data, s, cursor..r.start);
            }
            let overlap = r.start.max(cursor)..r.end.min(e);
            if !overlap.is_empty() {
                let old = self.buf.get(overlap.clone());
                let new = data.get(overlap.start - s..overlap.end - s);
                if old != new {
                    self.conflicts = self.conflicts.saturating_add(1);
                }
                self.duplicate_bytes += overlap.len() as u64;
            }
            cursor = cursor.max(overlap.end);
        }
        if cursor < e {
            copy_part(&mut self.buf, data, s, cursor..e);
        }

        // Merge the new range with every range it overlaps or touches.
        let mut merged = s..e;
        self.ranges.retain(|r| {
            if r.start <= merged.end && merged.start <= r.end {
                merged = merged.start.min(r.start)..merged.end.max(r.end);
                false
            } else {
                true
            }
        });
        let at = self.ranges.partition_point(|r| r.start < merged.start);
        self.ranges.insert(at, merged);
        Ok(())
    }

    /// The data received contiguously from offset 0.
    pub fn contiguous(&self) -> &[u8] {
        match self.ranges.first() {
            Some(r) if r.start == 0 => self.buf.get(..r.end).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The first TLS handshake message (4-byte header: type, 24-bit length)
    /// once it is complete from offset 0.
    ///
    /// Fails when the header announces a message that cannot fit the bound.
    pub fn first_tls_message(&self) -> Result<Option<&[u8]>, AssemblyError> {
        let c = self.contiguous();
        let Some(&[_, a, b, d]) = c.get(..4) else {
            return Ok(None);
        };
        let total = 4 + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(d));
        if total > self.limit {
            return Err(AssemblyError::LimitExceeded {
                end: total as u64,
                limit: self.limit,
            });
        }
        Ok(c.get(..total))
    }

    /// Number of disjoint received ranges.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// Bytes held (including holes).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Overlapping inserts whose bytes disagreed with what was already held.
    pub fn conflicts(&self) -> u32 {
        self.conflicts
    }

    /// Bytes received more than once.
    pub fn duplicate_bytes(&self) -> u64 {
        self.duplicate_bytes
    }

    /// Bytes refused because of the bounds.
    pub fn refused_bytes(&self) -> u64 {
        self.refused_bytes
    }
}

/// Copies the part `range` (stream offsets) of `data` (which starts at `base`).
fn copy_part(buf: &mut [u8], data: &[u8], base: usize, range: Range<usize>) {
    let src = data.get(range.start - base..range.end - base);
    if let (Some(dst), Some(src)) = (buf.get_mut(range), src) {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(len: usize) -> Vec<u8> {
        let mut m = vec![1, 0, (len >> 8) as u8, len as u8];
        m.extend((0..len).map(|i| (i * 7 + 3) as u8));
        m
    }

    #[test]
    fn in_order_single_piece() {
        let m = hello(10);
        let mut a = CryptoAssembler::default();
        a.insert(0, &m).unwrap();
        assert_eq!(a.first_tls_message(), Ok(Some(&m[..])));
    }

    #[test]
    fn out_of_order_with_overlap_and_duplicates() {
        let m = hello(300);
        let mut a = CryptoAssembler::default();
        a.insert(200, &m[200..]).unwrap();
        assert_eq!(a.first_tls_message(), Ok(None));
        a.insert(50, &m[50..120]).unwrap();
        assert_eq!(a.range_count(), 2);
        assert_eq!(a.contiguous(), b"");
        // Overlaps both ends of [50,120) and fills part of the hole.
        a.insert(40, &m[40..150]).unwrap();
        assert_eq!(a.range_count(), 2);
        a.insert(0, &m[..45]).unwrap();
        assert_eq!(a.contiguous(), &m[..150]);
        assert_eq!(a.first_tls_message(), Ok(None));
        // Exact duplicate.
        a.insert(200, &m[200..]).unwrap();
        a.insert(150, &m[150..200]).unwrap();
        assert_eq!(a.range_count(), 1);
        assert_eq!(a.first_tls_message(), Ok(Some(&m[..])));
        assert_eq!(a.conflicts(), 0);
        assert_eq!(a.duplicate_bytes(), 70 + 5 + 104);
    }

    #[test]
    fn conflicting_overlap_keeps_first_copy() {
        let m = hello(20);
        let mut a = CryptoAssembler::default();
        a.insert(0, &m[..12]).unwrap();
        let mut other = m[8..].to_vec();
        other[0] ^= 0xff;
        a.insert(8, &other).unwrap();
        assert_eq!(a.conflicts(), 1);
        assert_eq!(a.first_tls_message(), Ok(Some(&m[..])));
    }

    #[test]
    fn every_split_order_reassembles() {
        let m = hello(97);
        // Reverse order, one byte at a time, then odd strides.
        let mut a = CryptoAssembler::default().with_max_ranges(200);
        for i in (0..m.len()).rev() {
            a.insert(i as u64, &m[i..=i]).unwrap();
        }
        assert_eq!(a.first_tls_message(), Ok(Some(&m[..])));
        let mut a = CryptoAssembler::default();
        for start in [3usize, 0, 1, 2] {
            let mut i = start;
            while i < m.len() {
                let e = (i + 4).min(m.len());
                a.insert(i as u64, &m[i..e]).unwrap();
                i += 13;
            }
        }
        let mut i = 0;
        while i < m.len() {
            let e = (i + 9).min(m.len());
            a.insert(i as u64, &m[i..e]).unwrap();
            i += 9;
        }
        assert_eq!(a.first_tls_message(), Ok(Some(&m[..])));
        assert_eq!(a.conflicts(), 0);
    }

    #[test]
    fn bounds_are_enforced() {
        let mut a = CryptoAssembler::new(100);
        assert_eq!(
            a.insert(90, &[0; 11]),
            Err(AssemblyError::LimitExceeded {
                end: 101,
                limit: 100
            })
        );
        assert_eq!(
            a.insert(u64::MAX - 1, &[0; 4]),
            Err(AssemblyError::LimitExceeded {
                end: u64::MAX,
                limit: 100
            })
        );
        assert_eq!(a.refused_bytes(), 15);
        assert_eq!(a.buffered(), 0);
        a.insert(90, &[0; 10]).unwrap();
        assert_eq!(a.buffered(), 100);

        // A header announcing a message larger than the bound.
        let mut a = CryptoAssembler::new(100);
        a.insert(0, &[1, 0, 0, 200]).unwrap();
        assert_eq!(
            a.first_tls_message(),
            Err(AssemblyError::LimitExceeded {
                end: 204,
                limit: 100
            })
        );

        let mut a = CryptoAssembler::default().with_max_ranges(3);
        for off in [10u64, 20, 30] {
            a.insert(off, &[1]).unwrap();
        }
        assert_eq!(a.insert(40, &[1]), Err(AssemblyError::TooManyRanges(3)));
        // Extending an existing range is still accepted.
        a.insert(11, &[1]).unwrap();
        assert_eq!(a.range_count(), 3);
        a.reset();
        assert_eq!(a.range_count(), 0);
        assert_eq!(a.contiguous(), b"");
    }
}
