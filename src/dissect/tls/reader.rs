//! Bounds-checked big-endian cursor over a byte slice: every read returns
//! `None` instead of panicking when the input runs out.

#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    pub(crate) fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(be24(b))
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    /// Takes `n` bytes, or all that is left if fewer; says whether it fell short.
    pub(crate) fn take_upto(&mut self, n: usize) -> (&'a [u8], bool) {
        let k = n.min(self.buf.len());
        let (head, rest) = self.buf.split_at(k);
        self.buf = rest;
        (head, k < n)
    }
}

/// Big-endian 24-bit length from the first three bytes (0 if fewer).
pub(crate) fn be24(b: &[u8]) -> usize {
    match b {
        [a, b, c, ..] => (usize::from(*a) << 16) | (usize::from(*b) << 8) | usize::from(*c),
        _ => 0,
    }
}

/// Big-endian u16 list of a length-prefixed vector body; an odd trailing
/// byte is ignored and reported by the `bool`.
pub(crate) fn u16_list(b: &[u8]) -> (Vec<u16>, bool) {
    let mut chunks = b.chunks_exact(2);
    let v = chunks
        .by_ref()
        .map(|c| match c {
            [x, y] => u16::from_be_bytes([*x, *y]),
            _ => 0,
        })
        .collect();
    (v, !chunks.remainder().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.u16(), Some(0x0203));
        assert_eq!(r.take(4), None);
        assert_eq!(r.remaining(), 3);
        assert_eq!(r.take_upto(2), (&[4u8, 5][..], false));
        assert_eq!(r.u24(), None);
        assert_eq!(r.take_upto(5), (&[6u8][..], true));
        assert!(r.is_empty());
        assert_eq!(r.u8(), None);
        assert_eq!(be24(&[1, 0, 0]), 65536);
        assert_eq!(be24(&[1]), 0);
        assert_eq!(u16_list(&[0, 1, 0xca, 0xca, 7]), (vec![1, 0xcaca], true));
    }
}
