//! The report behind `phonehome report`: the inventory of security products per host, from
//! EVE files or evidence bundles, as a self-contained HTML page (inline CSS
//! and SVG charts, no script, no external resource, a print stylesheet),
//! Markdown, CSV and JSON, with a SHA-256 manifest.
//!
//! Everything shown comes from capture data (host names, SNI, DNS names,
//! vendor strings of a foreign EVE file): it is escaped at the one place it
//! is written ([`esc`] for HTML and SVG, Markdown and CSV their own), and the
//! page forbids scripts with a Content-Security-Policy as a second wall.

pub mod load;
pub mod model;
pub mod page;
pub mod svg;
pub mod text;

use crate::base::Progress;
use crate::evidence::bundle::{write_manifest_of, MANIFEST};
use crate::evidence::EvidenceError;
use std::path::{Path, PathBuf};

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a phonehome evidence bundle: {detail}")]
    Format { path: PathBuf, detail: String },
    #[error("{path}: not an EVE file: {detail}")]
    NotEve { path: PathBuf, detail: &'static str },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] EvidenceError),
}

/// Text for HTML (element content and quoted attribute values) and SVG:
/// the five markup characters as entities, control characters (which HTML
/// forbids) as U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The files a report consists of.
pub const FILES: [&str; 4] = ["report.html", "report.md", "findings.csv", "report.json"];

/// What was built.
#[derive(Debug)]
pub struct Built {
    pub inventory: model::Inventory,
    pub files: Vec<PathBuf>,
}

/// Reads `paths` and writes the report files and their manifest into `out`.
pub fn build_report(
    paths: &[PathBuf],
    out: &Path,
    title: &str,
    progress: &Progress,
) -> Result<Built, ReportError> {
    let loaded = load::load(paths, progress)?;
    let inv = model::build(loaded);
    std::fs::create_dir_all(out).map_err(|source| ReportError::Write {
        path: out.to_owned(),
        source,
    })?;
    let contents: [(&str, Vec<u8>); 4] = [
        ("report.html", page::html(&inv, title).into_bytes()),
        ("report.md", text::markdown(&inv, title).into_bytes()),
        ("findings.csv", text::csv(&inv)),
        ("report.json", text::json(&inv, title)),
    ];
    let mut files = Vec::new();
    for (name, bytes) in contents {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        files.push(path);
    }
    write_report_manifest(out)?;
    files.push(out.join(MANIFEST));
    Ok(Built {
        inventory: inv,
        files,
    })
}

/// The manifest of a report directory covers the report's own files only
/// (the directory may hold other things).
fn write_report_manifest(out: &Path) -> Result<(), ReportError> {
    let files: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
    write_manifest_of(out, &files)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc("a\u{0}b\u{1b}c\u{85}"), "a\u{FFFD}b\u{FFFD}c\u{FFFD}");
        assert_eq!(esc("电脑管家"), "电脑管家");
    }
}
