//! Headless Chromium for the report tests: the DOM of a page after it is
//! parsed (`--dump-dom`) and its print to PDF. Chromium is a test
//! dependency (scripts/test installs it); without it these tests fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs headless Chromium on a file and returns the DOM it built. Fails the
/// test if Chromium is missing or hangs.
pub fn chromium_dom(page: &Path) -> String {
    let bin = std::env::var("PHONEHOME_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = Command::new(&bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            &url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{bin} is needed for this test (scripts/test installs it): {e}")
        });
    // Drain stdout while Chromium runs: a DOM larger than the pipe buffer
    // would otherwise block it forever.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).map(|_| buf)
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{bin} did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{bin} failed");
    let out_stdout = reader.join().unwrap().unwrap();
    let dom = String::from_utf8(out_stdout).unwrap();
    assert!(dom.contains("</html>"), "no DOM from {bin}: {dom}");
    dom
}

/// Prints a page to PDF with headless Chromium; returns the PDF's bytes.
pub fn chromium_pdf(page: &Path, pdf: &Path) -> Vec<u8> {
    let bin = std::env::var("PHONEHOME_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let out = Command::new(&bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--print-to-pdf={}", pdf.display()),
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("{bin} is needed for this test (scripts/test installs it): {e}")
        });
    assert!(out.status.success(), "{bin} --print-to-pdf failed");
    std::fs::read(pdf).unwrap_or_else(|e| panic!("{bin} wrote no PDF: {e}"))
}
