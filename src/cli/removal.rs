//! `phonehome progress`: removal progress from the inventory.

use super::{EXIT_OK, EXIT_USAGE};
use anyhow::Context;
use clap::{Args, ValueEnum};
use phonehome::base::time::parse_ts;
use phonehome::inventory::progress::{compute, Baseline, ProgressQuery};
use phonehome::inventory::{render, Store};
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Csv,
}

/// `phonehome progress` arguments.
#[derive(Args, Debug, Clone)]
pub struct ProgressArgs {
    /// The inventory: a SQLite file written by `replay --inventory`, or a
    /// postgres:// URL.
    #[arg(long, value_name = "PATH|URL")]
    pub inventory: String,

    /// Start of the current period, YYYY-MM-DD (UTC). Default: the day the
    /// latest run started.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,

    /// What to compare with: a run id, or a date YYYY-MM-DD (every run that
    /// started before it). Default: every run before --since.
    #[arg(long, value_name = "RUN-or-DATE")]
    pub baseline: Option<String>,

    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Midnight UTC of `YYYY-MM-DD`, in nanoseconds.
fn date(s: &str) -> Option<u64> {
    let ok = s.len() == 10
        && s.bytes()
            .enumerate()
            .all(|(i, b)| matches!(i, 4 | 7) == (b == b'-'));
    if !ok {
        return None;
    }
    parse_ts(&format!("{s}T00:00:00Z"))
}

/// The `progress` command.
pub fn run(a: &ProgressArgs) -> anyhow::Result<u8> {
    let since_ns = match a.since.as_deref().map(|s| (s, date(s))) {
        None => None,
        Some((_, Some(t))) => Some(t),
        Some((s, None)) => {
            eprintln!("phonehome: error: --since {s}: not a date (YYYY-MM-DD)");
            return Ok(EXIT_USAGE);
        }
    };
    let baseline = a.baseline.as_deref().map(|b| match date(b) {
        Some(t) => Baseline::Before(t),
        None => Baseline::Run(b.to_owned()),
    });
    let is_url = a.inventory.starts_with("postgres://") || a.inventory.starts_with("postgresql://");
    if !is_url && !std::path::Path::new(&a.inventory).is_file() {
        anyhow::bail!(
            "inventory {}: no such file (write one with phonehome replay --inventory)",
            a.inventory
        );
    }
    let mut store = Store::open(&a.inventory)?;
    let snap = store.snapshot()?;
    let p = compute(&snap, &ProgressQuery { baseline, since_ns })?;
    let out = match a.format {
        Format::Text => render::text(&p),
        Format::Csv => render::csv(&p).context("CSV")?,
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&render::json(&p)).context("JSON")?;
            s.push('\n');
            s
        }
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("standard output")?;
    Ok(EXIT_OK)
}
