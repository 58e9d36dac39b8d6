//! `phonehome report`: the inventory report from EVE files and evidence
//! bundles, with a progress bar and a summary on stderr.

use super::progress::Bar;
use super::{EXIT_OK, EXIT_RUNTIME};
use clap::Args;
use phonehome::base::Progress;
use phonehome::report::{build_report, ReportOptions};
use std::path::PathBuf;
use std::sync::Arc;

/// `phonehome report` arguments.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// EVE files written by `phonehome replay` (other events and other
    /// tools' alerts are passed over) or evidence bundle directories.
    /// (Optional with --inventory: the report then shows the inventory's
    /// current period.)
    #[arg(value_name = "EVE-or-DIR", required_unless_present = "inventory")]
    pub paths: Vec<PathBuf>,

    /// The inventory written by `replay --inventory` (a SQLite file or a
    /// postgres:// URL): adds sensors, hosts observed, removal progress.
    #[arg(long, value_name = "PATH|URL")]
    pub inventory: Option<String>,

    /// Case identifier shown on the front page.
    #[arg(long, value_name = "ID")]
    pub case_id: Option<String>,

    /// Scope of the examination shown on the front page (sites, networks).
    #[arg(long, value_name = "TEXT")]
    pub scope: Option<String>,

    /// Directory for report.html, report.md, findings.csv, report.json and
    /// MANIFEST.sha256 (created if missing; those files are replaced).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Title of the report.
    #[arg(long, default_value = "Security products phoning home")]
    pub title: String,

    /// No progress bar and no summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,

    /// Report on EVE files that do not end with the replay's final stats
    /// event (the replay was killed, or is still running): warn, and go on.
    #[arg(long)]
    pub allow_partial: bool,
}

/// Longest tail of an EVE file read to find its last line (the stats
/// event is a few KiB).
const MAX_TAIL: u64 = 4 << 20;

/// Whether the last line of `path` is a whole `stats` event: what a replay
/// writes last, so its absence means the run was cut short.
fn ends_with_stats(path: &std::path::Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let mut first = [0u8; 1];
    if f.read(&mut first)? == 0 || first != *b"{" {
        // Not an EVE file at all: the report says so itself.
        return Ok(true);
    }
    let len = f.metadata()?.len();
    let from = len.saturating_sub(MAX_TAIL);
    f.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::new();
    f.take(MAX_TAIL).read_to_end(&mut tail)?;
    let Some(body) = tail.strip_suffix(b"\n") else {
        return Ok(false);
    };
    let last = body
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(body, |i| body.get(i + 1..).unwrap_or_default());
    let v: serde_json::Value = match serde_json::from_slice(last) {
        Ok(v) => v,
        Err(_) => return Ok(false),
    };
    Ok(v.get("event_type").and_then(|t| t.as_str()) == Some("stats"))
}

/// EVE inputs that do not end with a stats event. A file rotated away by
/// the replay (`<eve>.<stamp>`, given with `<eve>`) is a part of a run and
/// ends without one.
fn partial_inputs(paths: &[PathBuf]) -> Vec<PathBuf> {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    paths
        .iter()
        .filter(|p| p.is_file())
        .filter(|p| {
            let s = p.display().to_string();
            !names.iter().any(|n| s.starts_with(&format!("{n}.")))
        })
        .filter(|p| !ends_with_stats(p).unwrap_or(true))
        .cloned()
        .collect()
}

/// The `report` command.
pub fn run(a: &ReportArgs) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    for p in partial_inputs(&a.paths) {
        if !a.allow_partial {
            eprintln!(
                "phonehome: error: {} does not end with the replay's stats event: the run was cut short (killed, or still running) and its findings may be incomplete; pass --allow-partial to report on it anyway",
                p.display()
            );
            return Ok(EXIT_RUNTIME);
        }
        eprintln!(
            "phonehome: warning: {} does not end with the replay's stats event: the run was cut short, its findings may be incomplete",
            p.display()
        );
    }
    let total: u64 = a
        .paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = Arc::new(Progress::default());
    let bar = Bar::start("report", total, Arc::clone(&progress), a.quiet);
    let opts = ReportOptions {
        title: &a.title,
        case_id: a.case_id.as_deref(),
        scope: a.scope.as_deref(),
        inventory: a.inventory.as_deref(),
        progress: Default::default(),
    };
    if let Some(loc) = &a.inventory {
        let is_url = loc.starts_with("postgres://") || loc.starts_with("postgresql://");
        if !is_url && !std::path::Path::new(loc).is_file() {
            anyhow::bail!(
                "inventory {loc}: no such file (write one with phonehome replay --inventory)"
            );
        }
    }
    let built = build_report(&a.paths, &a.output, &opts, &progress);
    drop(bar);
    let built = built?;
    let inv = &built.inventory;
    let failures: Vec<&String> = inv
        .sources
        .iter()
        .flat_map(|s| s.verify_failures.iter())
        .collect();
    if !a.quiet {
        let events: u64 = inv.sources.iter().map(|s| s.events).sum();
        let skipped: u64 = inv.sources.iter().map(|s| s.malformed + s.oversized).sum();
        let s = &inv.summary;
        eprintln!(
            "phonehome: report: {} finding(s) on {} host(s) ({} foreign, {} domestic, {} sending data abroad) from {} source(s), {events} events{} in {:.2}s",
            s.findings,
            s.hosts,
            s.foreign,
            s.domestic,
            s.data_abroad,
            inv.sources.len(),
            if skipped > 0 {
                format!(" ({skipped} unreadable lines skipped)")
            } else {
                String::new()
            },
            started.elapsed().as_secs_f64()
        );
        for f in &built.files {
            eprintln!("  wrote {}", f.display());
        }
    }
    for f in &failures {
        eprintln!("phonehome: error: evidence bundle does not verify: {f}");
    }
    Ok(if failures.is_empty() {
        EXIT_OK
    } else {
        EXIT_RUNTIME
    })
}
