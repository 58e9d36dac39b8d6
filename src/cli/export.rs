//! `phonehome catalog export`: arguments, filters and the summary line; the
//! export itself is the library's [`phonehome::export`].

use phonehome::export::{export, write_file, ExportError, Filter, Format, Options, Tier};
use phonehome::judge::policy::Policy;
use phonehome::resolve::catalog::{Catalog, Confidence, Purpose};
use std::io::Write;
use std::path::PathBuf;

/// `phonehome catalog export` arguments.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "Examples:\n  \
phonehome catalog export --format suricata -o /etc/suricata/rules/phonehome.rules\n  \
phonehome catalog export --format zeek-intel -o /opt/zeek/share/zeek/site/phonehome.intel\n  \
phonehome catalog export --format sigma --purpose telemetry,cloud_lookup -o phonehome-sigma.yml\n  \
phonehome catalog export --format rpz --foreign-only --home-country DE -o phonehome.rpz.zone\n  \
phonehome catalog export --format json --vendor crowdstrike | jq '.vendors[0].products'\n\n\
Exit codes: 0 written; 1 runtime error (catalog or policy error, unwritable output, or a filter \
that leaves nothing to export: nothing is written); 2 usage error.")]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, short, value_enum)]
    pub format: Format,

    /// Write to FILE (replaced in one step, through a temporary file beside
    /// it) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// A directory of vendor TOML files instead of the built-in catalog.
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,

    /// Only these vendors (file name or vendor name), comma-separated.
    #[arg(long, value_name = "VENDOR,...", value_delimiter = ',')]
    pub vendor: Vec<String>,

    /// Only endpoints with these purposes, comma-separated: telemetry,
    /// cloud_lookup, update, management, licensing, console, unspecified
    /// (owned domains and networks count as unspecified).
    #[arg(long, value_name = "PURPOSE,...", value_delimiter = ',', value_parser = parse_purpose)]
    pub purpose: Vec<Purpose>,

    /// Only endpoints with these confidences, comma-separated: documented,
    /// community, inferred (owned domains and networks count as documented).
    #[arg(long, value_name = "CONFIDENCE,...", value_delimiter = ',', value_parser = parse_confidence)]
    pub confidence: Vec<Confidence>,

    /// Only these kinds of entry, comma-separated: endpoint, owned-domain,
    /// owned-network (networks reach the JSON export only).
    #[arg(long, value_name = "TIER,...", value_enum, value_delimiter = ',')]
    pub tier: Vec<Tier>,

    /// Only vendors the jurisdiction policy judges foreign (any of the
    /// vendor's countries foreign, or none known).
    #[arg(long)]
    pub foreign_only: bool,

    /// Jurisdiction policy file for --foreign-only (see `phonehome policy init`).
    #[arg(
        long,
        value_name = "FILE",
        requires = "foreign_only",
        conflicts_with = "home_country"
    )]
    pub policy: Option<PathBuf>,

    /// Home country (ISO alpha-2) for --foreign-only when no --policy is given
    /// [default: the default policy's, CN].
    #[arg(long, value_name = "CC", requires = "foreign_only", value_parser = super::home_country)]
    pub home_country: Option<String>,

    /// RPZ: the zone's SOA serial [default: the current time in seconds
    /// since 1970, so that secondaries see each new export as newer].
    #[arg(long, value_name = "N")]
    pub serial: Option<u32>,

    /// No summary line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_purpose(s: &str) -> Result<Purpose, String> {
    Purpose::parse(s.trim()).ok_or_else(|| {
        let all: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
        format!("unknown purpose '{s}' (one of: {})", all.join(", "))
    })
}

fn parse_confidence(s: &str) -> Result<Confidence, String> {
    Confidence::parse(s.trim()).ok_or_else(|| {
        let all: Vec<&str> = Confidence::ALL.iter().map(|c| c.as_str()).collect();
        format!("unknown confidence '{s}' (one of: {})", all.join(", "))
    })
}

/// Runs the export; `default_home` is the home country when --foreign-only
/// has neither --policy nor --home-country. Returns the exit code.
pub fn run(a: &ExportArgs, default_home: &str) -> Result<u8, ExportError> {
    let catalog = match &a.catalog {
        Some(dir) => Catalog::load_dir(dir)?,
        None => Catalog::embedded()?,
    };
    let policy = match (&a.policy, a.foreign_only) {
        (_, false) => None,
        (Some(file), true) => Some(Policy::load(file)?),
        (None, true) => Some(Policy::default_for(
            a.home_country.as_deref().unwrap_or(default_home),
        )?),
    };
    let serial = a.serial.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| u32::try_from(d.as_secs()).ok())
            .unwrap_or(1)
    });
    let opts = Options {
        format: a.format,
        filter: Filter {
            vendors: a.vendor.clone(),
            purposes: a.purpose.clone(),
            confidences: a.confidence.clone(),
            tiers: a.tier.clone(),
            foreign_only: policy.as_ref(),
        },
        serial,
    };
    let (summary, target) = match &a.output {
        Some(path) => (
            write_file(&catalog, &opts, path)?,
            path.display().to_string(),
        ),
        None => {
            let mut out = std::io::stdout().lock();
            let s = export(&catalog, &opts, &mut out)?;
            out.flush().map_err(ExportError::Write)?;
            (s, "standard output".to_string())
        }
    };
    if !a.quiet {
        eprintln!("phonehome: {}", summary.line(a.format, &target));
        if let Some(p) = &policy {
            eprintln!(
                "phonehome: foreign vendors only (home country {})",
                p.home_country()
            );
        }
    }
    Ok(0)
}
