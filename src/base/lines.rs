//! Byte offset → 1-based line number, for errors that name `file:line`
//! (the vendor catalog, the policy, the sink configuration).

/// The newline offsets of a text, found once; each lookup is a binary search.
pub struct Lines(Vec<usize>);

impl Lines {
    pub fn new(text: &str) -> Self {
        Lines(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    /// The line (from 1) that holds byte `offset`.
    pub fn line(&self, offset: usize) -> u32 {
        let n = self.0.partition_point(|&nl| nl < offset) + 1;
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// The line of one offset, without keeping the table.
pub fn line_of(text: &str, offset: usize) -> u32 {
    Lines::new(text).line(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_from_offsets() {
        let l = Lines::new("a\nbb\n\nc");
        assert_eq!(l.line(0), 1);
        assert_eq!(l.line(1), 1); // the newline itself belongs to line 1
        assert_eq!(l.line(2), 2);
        assert_eq!(l.line(5), 3);
        assert_eq!(l.line(6), 4);
        assert_eq!(l.line(100), 4);
        assert_eq!(line_of("", 0), 1);
        assert_eq!(line_of("x\ny", 2), 2);
    }
}
