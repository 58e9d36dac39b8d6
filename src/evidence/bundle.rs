//! Evidence bundle: a directory that can be handed over and checked.
//!
//! `replay --evidence DIR` writes the per-finding pcapng files
//! (`packets/`), `findings.json` (the findings, the inputs and the EVE file
//! with their SHA-256, what the evidence files hold), `README.txt` and
//! `MANIFEST.sha256`: the SHA-256 of every other file in the directory, in
//! the format `sha256sum -c` checks. `phonehome report` writes the same kind
//! of manifest for the reports.

use crate::capture::InputFile;
use crate::evidence::{EvidenceError, Extracted, Limits};
use crate::judge::Finding;
use crate::output::finding::FindingDoc;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "MANIFEST.sha256";
/// `format` of findings.json, for readers to check.
pub const FINDINGS_FORMAT: &str = "phonehome-evidence-1";

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 (lowercase hex) and size of a file, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok((hex(&h.finalize()), size))
}

/// The lowercase hex of a finished hash.
pub fn hex_digest(h: Sha256) -> String {
    hex(&h.finalize())
}

/// SHA-256 (lowercase hex) of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Makes `dir` ready for a bundle: created if missing, refused if it holds
/// anything (files of an older bundle would mix with the new one). `allow`
/// may name one file that is already there (the EVE file being written).
pub fn prepare_dir(dir: &Path, allow: Option<&Path>) -> Result<(), EvidenceError> {
    let write_err = |source| EvidenceError::Write {
        path: dir.to_owned(),
        source,
    };
    if dir.exists() {
        let same_dir = |p: &Path| match (p.canonicalize(), dir.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => p == dir,
        };
        let allowed = allow
            .filter(|p| p.parent().is_some_and(same_dir))
            .and_then(|p| p.file_name().map(|n| n.to_owned()));
        let mut entries = std::fs::read_dir(dir).map_err(write_err)?;
        let busy = entries.any(|e| e.ok().is_none_or(|e| Some(e.file_name()) != allowed));
        if busy {
            return Err(EvidenceError::NotEmpty {
                path: dir.to_owned(),
            });
        }
    }
    std::fs::create_dir_all(dir).map_err(write_err)
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let p = e.path();
        if e.file_type()?.is_dir() {
            walk(&p, root, out)?;
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// Writes `dir/MANIFEST.sha256` over every other file under `dir`, sorted by
/// path, in `sha256sum` format. Returns the number of files listed.
pub fn write_manifest(dir: &Path) -> Result<usize, EvidenceError> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files).map_err(|source| EvidenceError::Read {
        path: dir.to_owned(),
        source,
    })?;
    files.retain(|f| f != MANIFEST);
    write_manifest_of(dir, &files)
}

/// Writes `dir/MANIFEST.sha256` over the given files (paths relative to
/// `dir`), sorted by path. Returns the number of files listed.
pub fn write_manifest_of(dir: &Path, files: &[String]) -> Result<usize, EvidenceError> {
    let mut files = files.to_vec();
    files.sort();
    let mut text = String::new();
    for rel in &files {
        let path = dir.join(rel);
        let (h, _) = sha256_file(&path).map_err(|source| EvidenceError::Read { path, source })?;
        // Names are ours (sanitised) or the EVE file's; a name sha256sum would
        // need escaped (backslash, newline) is listed as it is and fails the
        // check loudly rather than silently.
        text.push_str(&format!("{h}  {rel}\n"));
    }
    let path = dir.join(MANIFEST);
    std::fs::write(&path, text).map_err(|source| EvidenceError::Write { path, source })?;
    Ok(files.len())
}

/// Where the replay's EVE output went.
#[derive(Clone, Debug)]
pub enum EveTarget {
    File(PathBuf),
    Stdout,
}

/// Everything the bundle records besides the packets.
pub struct BundleInput<'a> {
    pub dir: &'a Path,
    pub inputs: &'a [InputFile],
    pub eve: EveTarget,
    pub findings: &'a [Finding],
    pub extracted: &'a Extracted,
    pub limits: Limits,
    pub home_country: &'a str,
    /// A live capture's bundle: what was captured and what the keeper shed.
    pub live: Option<LiveSource<'a>>,
}

/// What a live bundle records of its capture (it has no input files).
pub struct LiveSource<'a> {
    /// The interfaces (`live:IFACE,...`) or the stream read.
    pub source: &'a str,
    pub stats: &'a LiveEvidenceStats,
}

/// What the keeper did over the run (findings.json "live", the stop line).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LiveEvidenceStats {
    /// Bound of the frames held awaiting judgement.
    pub memory_limit_bytes: u64,
    /// Most bytes held at once.
    pub held_bytes_max: u64,
    /// Packets copied while their flow was open.
    pub packets_kept: u64,
    /// Flows whose held packets were shed to stay within the bound (oldest
    /// first), and their packets.
    pub flows_shed: u64,
    pub packets_shed: u64,
    /// Later packets of shed flows, not kept.
    pub packets_of_shed_flows: u64,
    /// Shed flows that could not be remembered (their later packets may have
    /// been kept as if they were the first ones).
    pub shed_flows_not_remembered: u64,
    /// Evidence files removed at the end: their flows backed no finding.
    pub files_without_finding: u64,
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleSummary {
    pub files: usize,
    pub evidence_files: usize,
    pub packets: u64,
}

const README: &str = "\
phonehome evidence bundle
=========================

This directory was written by `phonehome replay --evidence` (or by
`phonehome live --evidence`, which keeps each flow's first packets as they
go by and appends them as the flow is judged). It holds:

  findings.json     the findings (host, vendor, product, destinations,
                    evidence), the SHA-256 of the replayed captures and of
                    the EVE output, and what each evidence file holds
  packets/*.pcapng  per finding, the packets of the flows behind it: the first
                    packets of each flow (see findings.json \"limits\"), with
                    their original timestamps and bytes. The section comment
                    names the finding; each packet's comment names its flow
                    (Community ID, flow_id) and the kind of evidence. Open
                    them with Wireshark or tshark, e.g.
                      tshark -r packets/FILE.pcapng -T fields -e frame.time_epoch -e frame.comment
                    and `capinfos -k FILE` for the section comments.
  MANIFEST.sha256   the SHA-256 of every other file here

To check that nothing was changed since it was written, run in this directory:

  sha256sum -c MANIFEST.sha256

and compare the SHA-256 of the original captures and EVE file with the
\"inputs\" and \"eve\" entries of findings.json (sha256sum FILE). Keep the
SHA-256 of MANIFEST.sha256 itself with the hand-over record.

A readable report: phonehome report THIS-DIRECTORY -o REPORT-DIRECTORY
";

/// Writes findings.json, README.txt and MANIFEST.sha256 (after the packets).
pub fn write_bundle(b: &BundleInput<'_>) -> Result<BundleSummary, EvidenceError> {
    let dir = b.dir;
    let mut inputs = Vec::new();
    for i in b.inputs {
        let (h, size) = sha256_file(&i.path).map_err(|source| EvidenceError::Read {
            path: i.path.clone(),
            source,
        })?;
        inputs.push(json!({
            "path": i.path.display().to_string(),
            "bytes": size,
            "sha256": h,
        }));
    }
    let eve = match &b.eve {
        EveTarget::Stdout => {
            json!({"path": "-", "sha256": null, "note": "written to standard output"})
        }
        EveTarget::File(p) => {
            let (h, size) = sha256_file(p).map_err(|source| EvidenceError::Read {
                path: p.clone(),
                source,
            })?;
            let inside = match (p.canonicalize(), dir.canonicalize()) {
                (Ok(a), Ok(d)) => a.strip_prefix(&d).ok().map(|r| r.display().to_string()),
                _ => None,
            };
            json!({
                "path": p.display().to_string(),
                "bytes": size,
                "sha256": h,
                "in_bundle": inside,
            })
        }
    };
    let findings: Vec<Value> = b
        .findings
        .iter()
        .zip(&b.extracted.findings)
        .map(|(f, ev)| {
            let mut v = FindingDoc::new(f).to_value();
            if let Value::Object(m) = &mut v {
                m.insert("packets".into(), json!(ev));
            }
            v
        })
        .collect();
    let doc = json!({
        "format": FINDINGS_FORMAT,
        "generator": concat!("phonehome ", env!("CARGO_PKG_VERSION")),
        "home_country": b.home_country,
        "inputs": inputs,
        "eve": eve,
        "limits": b.limits,
        "stats": b.extracted.stats,
        "findings": findings,
    });
    let mut doc = doc;
    if let (Some(l), Value::Object(m)) = (&b.live, &mut doc) {
        m.insert(
            "live".into(),
            json!({"source": l.source, "keeper": l.stats}),
        );
    }
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| EvidenceError::Write { path, source })
    };
    let mut text = serde_json::to_vec_pretty(&doc).map_err(|_| EvidenceError::Internal("json"))?;
    text.push(b'\n');
    write("findings.json", &text)?;
    write("README.txt", README.as_bytes())?;
    let files = write_manifest(dir)?;
    Ok(BundleSummary {
        files,
        evidence_files: b.extracted.findings.len(),
        packets: b.extracted.stats.packets_written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![b'a'; 3 << 20]).unwrap();
        let (h, n) = sha256_file(&p).unwrap();
        assert_eq!(n, 3 << 20);
        assert_eq!(h, sha256(&vec![b'a'; 3 << 20]));
    }

    #[test]
    fn manifest_lists_every_file_but_itself_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("packets")).unwrap();
        std::fs::write(dir.path().join("packets/b.pcapng"), b"b").unwrap();
        std::fs::write(dir.path().join("a.json"), b"a").unwrap();
        std::fs::write(dir.path().join(MANIFEST), b"old").unwrap();
        assert_eq!(write_manifest(dir.path()).unwrap(), 2);
        let m = std::fs::read_to_string(dir.path().join(MANIFEST)).unwrap();
        assert_eq!(
            m,
            format!(
                "{}  a.json\n{}  packets/b.pcapng\n",
                sha256(b"a"),
                sha256(b"b")
            )
        );
    }

    #[test]
    fn a_used_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("new");
        prepare_dir(&d, None).unwrap();
        assert!(d.is_dir());
        // Empty, or holding only the EVE file being written: accepted.
        std::fs::write(d.join("eve.json"), b"").unwrap();
        prepare_dir(&d, Some(&d.join("eve.json"))).unwrap();
        assert!(matches!(
            prepare_dir(&d, None),
            Err(EvidenceError::NotEmpty { .. })
        ));
        assert!(matches!(
            prepare_dir(&d, Some(&dir.path().join("eve.json"))),
            Err(EvidenceError::NotEmpty { .. })
        ));
    }
}
