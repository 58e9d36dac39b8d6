//! The report on paper (issue 13): printed to PDF by headless Chromium, a
//! 36-finding report takes at most 9 pages (25 pages once, for fewer
//! findings), every page is numbered "page N of M", no page is under a
//! quarter full, and nothing was dropped to get there (every finding's
//! heading is in the PDF's text).
//!
//! The last page's fill depends on how much there is to print: this checks
//! this report, and a report that ends a few lines into a new page would
//! fail it.
//!
//! The report is of real replays: the real-stack capture (with its policy),
//! the demo capture, and the four weeks of the removal programme
//! (`gencap::programme`), six EVE files. Pages are read with poppler's
//! `pdfinfo` and `pdftotext -bbox` (scripts/test installs poppler-utils);
//! without Chromium or poppler the test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/chromium.rs"]
mod chromium;
mod common;

use common::phonehome;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The most pages the 36-finding report may print to: a third of the 25 a
/// smaller report took before the print styles, rounded up.
const MAX_PAGES: usize = 9;

/// A4 landscape margins of the page's `@page` rule, in points.
const MARGIN_TOP_PT: f64 = 10.0 * 72.0 / 25.4;
const MARGIN_BOTTOM_PT: f64 = 14.0 * 72.0 / 25.4;

fn replay(capture: &Path, eve: &Path, extra: &[&str]) {
    let mut args = vec![
        "replay",
        capture.to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
        "-q",
    ];
    args.extend_from_slice(extra);
    let run = phonehome(&args);
    assert_eq!(
        run.code,
        0,
        "replay of {}: {}",
        capture.display(),
        run.stderr
    );
}

/// The six EVE files of the report.
fn eve_files(dir: &Path) -> Vec<PathBuf> {
    let policy = root().join("tests/data/realstack-policy.toml");
    let mut out = Vec::new();
    let rs = dir.join("realstack.eve.json");
    replay(
        &root().join("captures/realstack.pcap"),
        &rs,
        &["--policy", policy.to_str().unwrap()],
    );
    out.push(rs);
    let demo = dir.join("demo.eve.json");
    replay(&root().join("captures/demo.pcap"), &demo, &[]);
    out.push(demo);
    for week in 1..=gencap::programme::WEEKS {
        let cap = dir.join(format!("week{week}.pcap"));
        std::fs::write(&cap, gencap::programme::week(week).unwrap()).unwrap();
        let eve = dir.join(format!("week{week}.eve.json"));
        replay(&cap, &eve, &[]);
        out.push(eve);
    }
    out
}

fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{program} (poppler-utils) is needed for this test; scripts/test installs it: {e}"
            )
        });
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One word of `pdftotext -bbox`: its text and its bottom edge (points from the top).
struct Word {
    text: String,
    y_max: f64,
}

struct Page {
    height: f64,
    words: Vec<Word>,
}

fn attr(tag: &str, name: &str) -> f64 {
    let key = format!("{name}=\"");
    let start = tag.find(&key).unwrap() + key.len();
    let len = tag[start..].find('"').unwrap();
    tag[start..start + len].parse().unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The pages of `pdftotext -bbox` (XHTML: `<page width height>` holding
/// `<word xMin yMin xMax yMax>text</word>`).
fn pages(bbox: &str) -> Vec<Page> {
    let mut out = Vec::new();
    for chunk in bbox.split("<page ").skip(1) {
        let head_end = chunk.find('>').unwrap();
        let height = attr(&chunk[..head_end], "height");
        let body = &chunk[..chunk.find("</page>").unwrap()];
        let mut words = Vec::new();
        for w in body.split("<word ").skip(1) {
            let tag_end = w.find('>').unwrap();
            let text_end = w.find("</word>").unwrap();
            words.push(Word {
                text: unescape(&w[tag_end + 1..text_end]),
                y_max: attr(&w[..tag_end], "yMax"),
            });
        }
        out.push(Page { height, words });
    }
    out
}

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn the_36_finding_report_prints_on_few_full_numbered_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let eves = eve_files(tmp.path());
    let out = tmp.path().join("report");
    let mut args: Vec<String> = vec!["report".into()];
    args.extend(eves.iter().map(|p| p.display().to_string()));
    args.extend(["-o".into(), out.display().to_string()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = phonehome(&a);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("phonehome: report: 36 finding(s) on 23 host(s)"),
        "{}",
        run.stderr
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 36);

    let pdf = tmp.path().join("report.pdf");
    chromium::chromium_pdf(&out.join("report.html"), &pdf);
    let pdf = pdf.to_str().unwrap();
    let info = tool("pdfinfo", &[pdf]);
    let count: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("no page count from pdfinfo: {info}"))
        .trim()
        .parse()
        .unwrap();
    let pages = pages(&tool("pdftotext", &["-bbox", pdf, "-"]));
    assert_eq!(pages.len(), count, "pdftotext and pdfinfo disagree");
    assert!(
        (2..=MAX_PAGES).contains(&count),
        "{count} pages (at most {MAX_PAGES})"
    );

    let mut text = String::new();
    for (n, page) in pages.iter().enumerate() {
        let footer_top = page.height - MARGIN_BOTTOM_PT;
        let (body, footer): (Vec<&Word>, Vec<&Word>) =
            page.words.iter().partition(|w| w.y_max < footer_top);
        // Numbered, in the bottom margin.
        let number: Vec<&str> = footer.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            number.join(" "),
            format!("page {} of {count}", n + 1),
            "page {}",
            n + 1
        );
        // How far down the printable area the page's text reaches.
        let bottom = body.iter().map(|w| w.y_max).fold(0.0, f64::max);
        let printable = footer_top - MARGIN_TOP_PT;
        let full = (bottom - MARGIN_TOP_PT) / printable;
        assert!(
            full >= 0.25,
            "page {} of {count} is {:.0}% full",
            n + 1,
            full * 100.0
        );
        for w in body {
            text.push_str(&w.text);
        }
    }
    // Nothing dropped: every finding's heading in the details is on paper
    // ("host — vendor", then each word of the product: Chromium writes CJK
    // glyphs in fonts of their own, which pdftotext gives out of line).
    let text = squeeze(&text);
    for f in findings {
        let heading = format!(
            "{} — {}",
            f["host"].as_str().unwrap(),
            f["vendor"].as_str().unwrap()
        );
        assert!(
            text.contains(&squeeze(&heading)),
            "{heading} is not in the PDF"
        );
        let product = f["product"].as_str().unwrap();
        for word in product.split(|c: char| !c.is_ascii_alphanumeric()) {
            assert!(text.contains(word), "{heading}: {word} is not in the PDF");
        }
        for c in product.chars().filter(|c| !c.is_ascii()) {
            assert!(text.contains(c), "{heading}: {c} is not in the PDF");
        }
    }
}
