//! Bounds-checked cursor over wire bytes and QUIC variable-length integers.
//!
//! Every read returns `None` instead of panicking when the input is short, so
//! the parsers above can turn a short read into a flag.

/// Forward-only reader over a byte slice.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let b = self.peek_u8()?;
        self.pos += 1;
        Some(b)
    }

    pub(crate) fn u16_be(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    pub(crate) fn u16_le(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
    }

    pub(crate) fn u32_be(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    pub(crate) fn u32_le(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_le_bytes(b))
    }

    /// Big-endian unsigned integer of `n` bytes (0..=8).
    pub(crate) fn uint_be(&mut self, n: usize) -> Option<u64> {
        if n > 8 {
            return None;
        }
        let b = self.take(n)?;
        Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Takes `n` bytes where `n` came off the wire as a u64.
    pub(crate) fn take_u64(&mut self, n: u64) -> Option<&'a [u8]> {
        self.take(usize::try_from(n).ok()?)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    /// Takes everything left.
    pub(crate) fn take_rest(&mut self) -> &'a [u8] {
        let r = self.rest();
        self.pos = self.buf.len();
        r
    }

    /// QUIC variable-length integer (RFC 9000 §16).
    pub(crate) fn varint(&mut self) -> Option<u64> {
        let first = self.peek_u8()?;
        let len = 1usize << (first >> 6);
        let b = self.take(len)?;
        let v = b
            .iter()
            .skip(1)
            .fold(u64::from(first & 0x3f), |acc, &x| (acc << 8) | u64::from(x));
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_from_rfc9000_appendix_a1() {
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, want) in cases {
            let mut r = Reader::new(bytes);
            assert_eq!(r.varint(), Some(want));
            assert!(r.is_empty());
        }
        // Non-minimal two-byte encoding of 37.
        assert_eq!(Reader::new(&[0x40, 0x25]).varint(), Some(37));
    }

    #[test]
    fn short_reads_are_none_and_do_not_advance() {
        let mut r = Reader::new(&[0x80, 0x01]);
        assert_eq!(r.varint(), None);
        assert_eq!(r.pos(), 0);
        assert_eq!(r.u32_be(), None);
        assert_eq!(r.take(3), None);
        assert_eq!(r.u16_be(), Some(0x8001));
        assert_eq!(r.u8(), None);
        assert_eq!(r.take_u64(u64::MAX), None);
        assert_eq!(r.uint_be(9), None);
    }
}
