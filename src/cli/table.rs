//! Text tables for the terminal, sized by display width: a CJK character
//! takes two columns, a combining mark none, so names in any script line up.

use unicode_width::UnicodeWidthStr;

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Columns of a table; the last column is never padded (no trailing blanks).
pub struct Table {
    indent: usize,
    align: Vec<Align>,
    /// Widest a column may grow; longer cells are cut with an ellipsis.
    max: Vec<usize>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with `header` as its first row; every column left-aligned
    /// and unbounded until [`Table::align`] / [`Table::max_width`] say otherwise.
    pub fn new(indent: usize, header: &[&str]) -> Table {
        Table {
            indent,
            align: vec![Align::Left; header.len()],
            max: vec![usize::MAX; header.len()],
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn align(mut self, col: usize, a: Align) -> Table {
        if let Some(x) = self.align.get_mut(col) {
            *x = a;
        }
        self
    }

    pub fn max_width(mut self, col: usize, w: usize) -> Table {
        if let Some(x) = self.max.get_mut(col) {
            *x = w.max(1);
        }
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| truncate(&c, self.max.get(i).copied().unwrap_or(usize::MAX)))
            .collect();
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let first = 0;
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; cols];
        for r in self.rows.iter().skip(first) {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.width());
            }
        }
        let mut out = String::new();
        for r in self.rows.iter().skip(first) {
            let mut line = " ".repeat(self.indent);
            for (i, c) in r.iter().enumerate() {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.width());
                let last = i + 1 == r.len();
                if i > 0 {
                    line.push_str("  ");
                }
                match self.align.get(i) {
                    Some(Align::Right) => {
                        line.push_str(&" ".repeat(pad));
                        line.push_str(c);
                    }
                    _ => {
                        line.push_str(c);
                        if !last {
                            line.push_str(&" ".repeat(pad));
                        }
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `s` cut to at most `max` display columns, the cut marked with "…".
pub fn truncate(s: &str, max: usize) -> String {
    if s.width() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_cells_line_up_by_display_width() {
        let mut t = Table::new(2, &["VENDOR", "CC", "FLOWS"]).align(2, Align::Right);
        t.row(vec!["奇虎360 / 天擎".into(), "CN".into(), "3".into()]);
        t.row(vec![
            "Sophos / Intercept X".into(),
            "GB".into(),
            "12".into(),
        ]);
        let text = t.render();
        let cc_col: Vec<usize> = text
            .lines()
            .map(|l| {
                let at = l
                    .find("CC")
                    .unwrap_or_else(|| l.find("CN").unwrap_or_else(|| l.find("GB").unwrap()));
                l[..at].width()
            })
            .collect();
        assert_eq!(cc_col, vec![24, 24, 24], "{text}");
        assert_eq!(
            text,
            "  VENDOR                CC  FLOWS\n  奇虎360 / 天擎        CN      3\n  Sophos / Intercept X  GB     12\n"
        );
    }

    #[test]
    fn truncation_counts_columns_not_chars() {
        assert_eq!(truncate("天擎终端安全", 7), "天擎终…");
        assert_eq!(truncate("天擎终端安全", 7).width(), 7);
        assert_eq!(truncate("Vision One Endpoint Security", 12), "Vision One …");
        assert_eq!(truncate("short", 12), "short");
    }
}
