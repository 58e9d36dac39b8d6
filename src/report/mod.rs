//! The report behind `phonehome report`: the inventory of security products per host, from
//! EVE files or evidence bundles, as a self-contained HTML page (inline CSS
//! and SVG charts, no script, no external resource, a print stylesheet),
//! Markdown, CSV and JSON, with a SHA-256 manifest.
//!
//! Everything shown comes from capture data (host names, SNI, DNS names,
//! vendor strings of a foreign EVE file): the HTML and SVG are built with
//! maud, which escapes every value by construction (Markdown and CSV have
//! their own quoting), and the page forbids scripts with a
//! Content-Security-Policy as a second wall.
//!
//! With an inventory (`--inventory`), the report also shows the removal
//! programme: sensors, period, hosts observed, progress over time.

pub mod load;
pub mod model;
pub mod page;
pub mod programme;
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
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error("inventory: {0}")]
    Progress(#[from] crate::inventory::progress::ProgressError),
    #[error("nothing to report: give EVE files or bundles, or --inventory")]
    NoInput,
}

/// What the report is about and where its data comes from besides the paths.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions<'a> {
    pub title: &'a str,
    pub case_id: Option<&'a str>,
    pub scope: Option<&'a str>,
    /// A SQLite file or postgres:// URL written by `replay --inventory`.
    pub inventory: Option<&'a str>,
    /// Which runs the progress compares.
    pub progress: crate::inventory::progress::ProgressQuery,
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
    opts: &ReportOptions<'_>,
    progress: &Progress,
) -> Result<Built, ReportError> {
    let title = opts.title;
    let programme = match opts.inventory {
        Some(loc) => {
            let mut store = crate::inventory::Store::open(loc)?;
            let snap = store.snapshot()?;
            let g = programme::Programme::from_snapshot(loc, &snap, &opts.progress)?;
            Some((snap, g))
        }
        None => None,
    };
    let loaded = match (&programme, paths.is_empty()) {
        (_, false) => load::load(paths, progress)?,
        (Some((snap, g)), true) => programme::findings_of(snap, &g.progress, &g.location),
        (None, true) => return Err(ReportError::NoInput),
    };
    let programme = programme.map(|(_, g)| g);
    let inv = model::build(loaded);
    let ranking = programme::ranking(&inv);
    let page_input = page::PageInput {
        title,
        case_id: opts.case_id,
        scope: opts.scope,
        ranking: &ranking,
        programme: programme.as_ref(),
    };
    std::fs::create_dir_all(out).map_err(|source| ReportError::Write {
        path: out.to_owned(),
        source,
    })?;
    let contents: [(&str, Vec<u8>); 4] = [
        ("report.html", page::html(&inv, &page_input).into_bytes()),
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
    use crate::report::load::{FindingIn, Loaded, Source};

    /// Names off the wire cannot open markup anywhere on the page: maud
    /// escapes every value; control characters become U+FFFD.
    #[test]
    fn wire_names_cannot_open_markup() {
        let evil = "<script>alert(\"x\")</script>&'y'\u{0}\u{1b}电脑管家";
        let f = FindingIn {
            host: evil.into(),
            vendor: evil.into(),
            product: evil.into(),
            vendor_country: vec![evil.into()],
            reason: evil.into(),
            foreign_vendor: true,
            ..FindingIn::default()
        };
        let inv = model::build(Loaded {
            sources: vec![Source {
                path: evil.into(),
                ..Source::default()
            }],
            findings: vec![(0, f)],
        });
        let ranked = programme::ranking(&inv);
        let html = page::html(
            &inv,
            &page::PageInput {
                title: evil,
                case_id: Some(evil),
                scope: Some(evil),
                ranking: &ranked,
                programme: None,
            },
        );
        assert!(!html.contains("<script>"), "unescaped markup");
        assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;"));
        assert!(!html.contains('\u{0}') && !html.contains('\u{1b}'));
        assert!(html.contains("电脑管家\u{FFFD}") || html.contains("\u{FFFD}\u{FFFD}电脑管家"));
    }
}
