//! `phonehome report`: the inventory report from EVE files and evidence
//! bundles, with a progress bar and a summary on stderr.

use super::progress::Bar;
use super::{EXIT_OK, EXIT_RUNTIME};
use clap::Args;
use phonehome::base::Progress;
use phonehome::report::build_report;
use std::path::PathBuf;
use std::sync::Arc;

/// `phonehome report` arguments.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// EVE files written by `phonehome replay` (other events and other
    /// tools' alerts are passed over) or evidence bundle directories.
    #[arg(required = true, value_name = "EVE-or-DIR")]
    pub paths: Vec<PathBuf>,

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
}

/// The `report` command.
pub fn run(a: &ReportArgs) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let total: u64 = a
        .paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let progress = Arc::new(Progress::default());
    let bar = Bar::start("report", total, Arc::clone(&progress), a.quiet);
    let built = build_report(&a.paths, &a.output, &a.title, &progress);
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
