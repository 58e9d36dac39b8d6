//! Reading findings for the report: `alert` events from EVE files (streamed,
//! other events and other tools' alerts passed over) or `findings.json` from
//! an evidence bundle (whose manifest is checked on the way).

use super::ReportError;
use crate::base::Progress;
use crate::evidence::bundle::{sha256, sha256_file, FINDINGS_FORMAT, MANIFEST};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Longest EVE line read; longer ones are skipped and counted.
pub const MAX_LINE: usize = 16 << 20;

/// A destination of a finding, as the alert's `phonehome` object gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct DestIn {
    pub ip: Option<String>,
    pub names: Vec<String>,
    pub country: Option<String>,
    pub asn: Option<u64>,
    pub as_org: Option<String>,
    pub flows: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
}

/// One piece of evidence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct EvidenceIn {
    pub kind: String,
    pub value: String,
    pub pattern: String,
    pub purpose: String,
    pub source: String,
    pub community_id: String,
    pub flow_id: Option<u64>,
    pub timestamp: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct ExceptionIn {
    pub reason: String,
    pub expires: Option<String>,
    pub expired: bool,
    pub policy_line: Option<u64>,
}

/// What an evidence bundle wrote for a finding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct PacketsIn {
    pub file: String,
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub flows_cut: u64,
}

/// A finding: the `phonehome` object of a phonehome alert.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct FindingIn {
    pub host: String,
    pub vendor: String,
    pub product: String,
    pub vendor_country: Vec<String>,
    pub finding_kind: String,
    pub severity: String,
    pub confidence: String,
    /// The catalog tier of the attribution (endpoint, owned_domain, ...).
    pub tier: String,
    pub foreign_vendor: bool,
    pub data_abroad: bool,
    pub reason: String,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub flows: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub destinations: Vec<DestIn>,
    pub evidence: Vec<EvidenceIn>,
    pub evidence_counts: BTreeMap<String, u64>,
    pub exception: Option<ExceptionIn>,
    pub packets: Option<PacketsIn>,
}

/// An input of the report and what was read from it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Source {
    pub path: String,
    /// "eve" or "evidence bundle".
    pub kind: &'static str,
    pub sha256: String,
    pub bytes: u64,
    pub events: u64,
    pub findings: u64,
    /// Alerts of other tools (no `phonehome` object): not findings.
    pub other_alerts: u64,
    /// Lines that are not JSON, or phonehome alerts of an unknown shape.
    pub malformed: u64,
    /// Lines longer than [`MAX_LINE`].
    pub oversized: u64,
    /// Bundles: files verified against MANIFEST.sha256, and those that differ or are missing.
    pub verified: Option<u64>,
    pub verify_failures: Vec<String>,
    pub home_country: Option<String>,
}

/// Everything read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: Vec<Source>,
    /// Findings with the index of their source.
    pub findings: Vec<(usize, FindingIn)>,
}

/// Reads one line into `line` (without the newline), at most [`MAX_LINE`]
/// bytes; a longer line is consumed and reported as `Some(false)`.
/// `None` at the end of input.
fn read_line<R: BufRead>(
    r: &mut R,
    line: &mut Vec<u8>,
    hash: &mut Sha256,
    read: &mut u64,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(!too_long));
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (buf.get(..i + 1).unwrap_or_default(), true),
            None => (buf, false),
        };
        hash.update(chunk);
        let n = chunk.len();
        *read += n as u64;
        if !too_long {
            let body = if done {
                chunk.get(..n - 1).unwrap_or_default()
            } else {
                chunk
            };
            if line.len() + body.len() > MAX_LINE {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(body);
            }
        }
        r.consume(n);
        if done {
            return Ok(Some(!too_long));
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Streams an EVE file: alert events with a `phonehome` object are findings.
pub fn load_eve(
    path: &Path,
    out: &mut Loaded,
    progress: &Progress,
    base: u64,
) -> Result<(), ReportError> {
    let f = std::fs::File::open(path).map_err(|source| ReportError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut src = Source {
        path: path.display().to_string(),
        kind: "eve",
        ..Default::default()
    };
    let idx = out.sources.len();
    let mut hash = Sha256::new();
    let mut line = Vec::new();
    let mut read = 0u64;
    loop {
        let got = read_line(&mut r, &mut line, &mut hash, &mut read).map_err(|source| {
            ReportError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
        let Some(fits) = got else { break };
        if src.events % 4096 == 0 {
            progress.disk_bytes.store(base + read, Ordering::Relaxed);
            progress.packets.store(src.events, Ordering::Relaxed);
        }
        let first = src.events == 0;
        if !fits {
            if first {
                return Err(ReportError::NotEve {
                    path: path.to_owned(),
                    detail: "its first line is longer than an EVE record can be",
                });
            }
            src.events += 1;
            src.oversized += 1;
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        src.events += 1;
        // EVE is one JSON object a line: anything else is counted, and a file
        // that does not even start so (a capture given by mistake) refused.
        let t = line.trim_ascii();
        if !(t.starts_with(b"{") && t.ends_with(b"}")) {
            if first {
                return Err(ReportError::NotEve {
                    path: path.to_owned(),
                    detail: "its first line is not a JSON object",
                });
            }
            src.malformed += 1;
            continue;
        }
        // Only alerts are parsed; `"alert"` (quoted) is not in other phonehome
        // events (flow records say "alerted").
        if !find(&line, b"\"alert\"") {
            continue;
        }
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&line) else {
            src.malformed += 1;
            continue;
        };
        if v.get("event_type").and_then(|t| t.as_str()) != Some("alert") {
            continue;
        }
        match v.get_mut("phonehome").map(serde_json::Value::take) {
            Some(p) => match serde_json::from_value::<FindingIn>(p) {
                Ok(f) if !f.host.is_empty() => {
                    src.findings += 1;
                    out.findings.push((idx, f));
                }
                _ => src.malformed += 1,
            },
            None => src.other_alerts += 1,
        }
    }
    src.bytes = read;
    src.sha256 = crate::evidence::bundle::hex_digest(hash);
    out.sources.push(src);
    Ok(())
}

#[derive(Deserialize)]
struct BundleDoc {
    format: String,
    #[serde(default)]
    home_country: Option<String>,
    #[serde(default)]
    findings: Vec<FindingIn>,
}

/// Checks a bundle's manifest: (files verified, problems).
fn verify_manifest(dir: &Path) -> Result<(u64, Vec<String>), ReportError> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Read {
        path: path.clone(),
        source,
    })?;
    let mut ok = 0;
    let mut bad = Vec::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((want, name)) = l.split_once("  ") else {
            bad.push(format!("unreadable manifest line: {l}"));
            continue;
        };
        // Names stay inside the bundle.
        let rel = Path::new(name);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            bad.push(format!("{name}: outside the bundle"));
            continue;
        }
        match sha256_file(&dir.join(rel)) {
            Ok((got, _)) if got == want => ok += 1,
            Ok(_) => bad.push(format!("{name}: SHA-256 differs")),
            Err(e) => bad.push(format!("{name}: {e}")),
        }
    }
    Ok((ok, bad))
}

/// Reads an evidence bundle's findings.json and checks its manifest.
pub fn load_bundle(dir: &Path, out: &mut Loaded) -> Result<(), ReportError> {
    let path = dir.join("findings.json");
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| ReportError::Read {
            path: path.clone(),
            source,
        })?;
    let doc: BundleDoc = serde_json::from_slice(&bytes).map_err(|e| ReportError::Format {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    if doc.format != FINDINGS_FORMAT {
        return Err(ReportError::Format {
            path,
            detail: format!("format {:?}, expected {FINDINGS_FORMAT:?}", doc.format),
        });
    }
    let (verified, failures) = verify_manifest(dir)?;
    let idx = out.sources.len();
    let n = doc.findings.len() as u64;
    out.findings
        .extend(doc.findings.into_iter().map(|f| (idx, f)));
    out.sources.push(Source {
        path: dir.display().to_string(),
        kind: "evidence bundle",
        sha256: sha256(&bytes),
        bytes: bytes.len() as u64,
        events: n,
        findings: n,
        verified: Some(verified),
        verify_failures: failures,
        home_country: doc.home_country,
        ..Default::default()
    });
    Ok(())
}

/// Reads every input: directories as evidence bundles, files as EVE.
pub fn load(paths: &[PathBuf], progress: &Progress) -> Result<Loaded, ReportError> {
    let mut out = Loaded::default();
    let mut base = 0u64;
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| ReportError::Read {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            load_bundle(p, &mut out)?;
        } else {
            load_eve(p, &mut out, progress, base)?;
        }
        base += meta.len();
        progress.disk_bytes.store(base, Ordering::Relaxed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eve_of(lines: &[&str]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eve.json");
        std::fs::write(&p, lines.join("\n")).unwrap();
        (dir, p)
    }

    #[test]
    fn only_phonehome_alerts_are_findings() {
        let (_d, p) = eve_of(&[
            r#"{"event_type":"flow","flow":{"alerted":false}}"#,
            r#"{"event_type":"alert","alert":{"signature":"ET foo"}}"#,
            r#"{"event_type":"alert","phonehome":{"host":"10.0.0.1","vendor":"V","product":"P","flows":3,"destinations":[{"ip":"1.2.3.4","country":"US"}]}}"#,
            r#"{"event_type": "alert", "phonehome": {"host": "10.0.0.2", "vendor": "W", "product": "Q", "extra": [1]}}"#,
            r#"{"event_type":"alert","phonehome":{"host":7}}"#,
            r#"{"event_type":"alert" broken"#,
            "",
            r#"{"event_type":"dns","dns":{"rrname":"alert"}}"#,
        ]);
        let mut out = Loaded::default();
        load_eve(&p, &mut out, &Progress::default(), 0).unwrap();
        let s = &out.sources[0];
        assert_eq!(
            (
                s.events,
                s.findings,
                s.other_alerts,
                s.malformed,
                s.oversized
            ),
            (7, 2, 1, 2, 0)
        );
        assert_eq!(s.sha256, sha256_file(&p).unwrap().0);
        assert_eq!(s.bytes, std::fs::metadata(&p).unwrap().len());
        let f = &out.findings[0].1;
        assert_eq!((f.host.as_str(), f.flows), ("10.0.0.1", 3));
        assert_eq!(f.destinations[0].country.as_deref(), Some("US"));
        assert_eq!(out.findings[1].1.vendor, "W");
    }

    #[test]
    fn lines_are_bounded() {
        let long = format!(
            "{{\"event_type\":\"alert\",\"x\":\"{}\"}}",
            "a".repeat(MAX_LINE)
        );
        let ok = r#"{"event_type":"alert","phonehome":{"host":"h","vendor":"v","product":"p"}}"#;
        let (_d, p) = eve_of(&[ok, &long, ok]);
        let mut out = Loaded::default();
        load_eve(&p, &mut out, &Progress::default(), 0).unwrap();
        let s = &out.sources[0];
        assert_eq!((s.events, s.oversized, s.findings), (3, 1, 2));
    }

    #[test]
    fn a_file_that_does_not_start_as_eve_is_refused() {
        let ok = r#"{"event_type":"flow"}"#;
        let long = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_LINE));
        for first in ["\u{d4}\u{c3}\u{b2}\u{a1} pcap", "not json", long.as_str()] {
            let (_d, p) = eve_of(&["", first, ok]);
            let mut out = Loaded::default();
            let e = load_eve(&p, &mut out, &Progress::default(), 0);
            assert!(
                matches!(e, Err(ReportError::NotEve { .. })),
                "{:?}",
                e.map(|_| ())
            );
            assert!(out.sources.is_empty());
        }
        // Later lines that are not JSON are counted, not fatal.
        let (_d, p) = eve_of(&[ok, "not json", ok]);
        let mut out = Loaded::default();
        load_eve(&p, &mut out, &Progress::default(), 0).unwrap();
        assert_eq!((out.sources[0].events, out.sources[0].malformed), (3, 1));
    }

    #[test]
    fn a_bundle_with_a_changed_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let doc = format!(
            r#"{{"format":"{FINDINGS_FORMAT}","home_country":"CN","findings":[{{"host":"10.0.0.1","vendor":"V","product":"P","packets":{{"file":"packets/a.pcapng","packets":4}}}}]}}"#
        );
        std::fs::write(dir.path().join("findings.json"), doc).unwrap();
        std::fs::write(dir.path().join("x.pcapng"), b"x").unwrap();
        crate::evidence::bundle::write_manifest(dir.path()).unwrap();
        let mut out = Loaded::default();
        load_bundle(dir.path(), &mut out).unwrap();
        assert_eq!(out.sources[0].verified, Some(2));
        assert!(out.sources[0].verify_failures.is_empty());
        assert_eq!(out.findings[0].1.packets.as_ref().unwrap().packets, 4);
        assert_eq!(out.sources[0].home_country.as_deref(), Some("CN"));
        std::fs::write(dir.path().join("x.pcapng"), b"y").unwrap();
        let mut out = Loaded::default();
        load_bundle(dir.path(), &mut out).unwrap();
        assert_eq!(out.sources[0].verified, Some(1));
        assert_eq!(
            out.sources[0].verify_failures,
            ["x.pcapng: SHA-256 differs"]
        );
    }
}
