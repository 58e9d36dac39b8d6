//! A small fixed-capacity byte buffer on the stack.

/// A few bytes put together on the stack and appended in one copy: the
/// small fixed-shape fields (addresses, timestamps) cost one bounds check a
/// byte instead of a `Vec` capacity check and a `memcpy` call a part.
pub struct Stack<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Default for Stack<N> {
    fn default() -> Self {
        Stack {
            buf: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> Stack<N> {
    /// Adds `b` (dropped if full: callers size `N` for their longest text).
    #[inline]
    pub fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    #[inline]
    pub fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// The two decimal digits of every value below 100.
const DEC2: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    // Evaluated at compile time: an out-of-bounds index would not compile.
    #[allow(clippy::indexing_slicing)]
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// The two decimal digits of `v % 100`, from a table.
#[inline]
pub fn dec2(v: u32) -> [u8; 2] {
    DEC2.get((v % 100) as usize).copied().unwrap_or(*b"00")
}
