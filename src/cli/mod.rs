//! Command line: argument parsing, exit codes and the human side of each
//! command (progress bars, summaries on stderr). Binary side only: the
//! library never sees clap or an exit code.
//!
//! Exit codes are stable: 0 success, 1 runtime error (bad or damaged input,
//! unwritable output; output is still written for what could be read),
//! 2 usage error.

// First, so that its print!/println!/eprint!/eprintln! (safe on a closed
// pipe) replace std's in every module below.
#[macro_use]
mod stdio;

mod export;
mod progress;
mod removal;
mod replay;
mod report;
mod sinks;
mod summary;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use phonehome::judge::policy::Policy;
use phonehome::resolve::catalog::Catalog;
use phonehome::resolve::geoip::{GeoIp, GeoIpOptions};
use std::path::PathBuf;
use std::process::ExitCode;

pub const EXIT_OK: u8 = 0;
pub const EXIT_RUNTIME: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "phonehome",
    version,
    about = "Prove from the network which security products phone home, and where",
    long_about = "phonehome reads packet captures (pcap, pcapng, optionally gzip-compressed), \
tracks every flow, pulls names and fingerprints from DNS, TLS, QUIC and HTTP, ties them to a \
catalog of security vendors' cloud endpoints, and reports which security products on which \
hosts send data to which countries, as Suricata-compatible EVE JSON for SOC tools.\n\n\
Exit codes: 0 success, 1 runtime error (missing, unreadable, damaged or non-capture \
input; unwritable output), 2 usage error.",
    after_help = "Examples:\n  phonehome replay captures/demo.pcap --eve eve.json\n  \
phonehome replay /data/pcaps/ --workers 4 --eve - | jq 'select(.event_type==\"flow\")'"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay capture files: flows, names, and findings of security products
    /// phoning home, written as EVE JSON events.
    Replay(Box<replay::ReplayArgs>),
    /// Inspect and check the vendor catalog.
    #[command(subcommand)]
    Catalog(CatalogCmd),
    /// Country and AS of addresses, as phonehome sees them.
    Geoip(GeoipArgs),
    /// The jurisdiction policy.
    #[command(subcommand)]
    Policy(PolicyCmd),
    // --- report (issue #5) ---
    /// Inventory report (HTML, Markdown, CSV, JSON) from EVE files or an
    /// evidence bundle.
    Report(report::ReportArgs),
    // --- end report ---
    /// Removal progress from the inventory: per host and product still
    /// present, removed, replaced, new (or host not seen), totals per
    /// product, and the share of hosts clear per day.
    Progress(removal::ProgressArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CatalogArgs {
    /// A directory of vendor TOML files instead of the built-in catalog.
    #[arg(long, value_name = "DIR", global = true)]
    pub catalog: Option<PathBuf>,
    /// A directory of the site's own vendor TOML files, added on top of the
    /// catalog (a file with a built-in vendor's slug extends that vendor).
    #[arg(long, value_name = "DIR", global = true)]
    pub catalog_extra: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum CatalogCmd {
    /// One line per vendor: jurisdiction, products, endpoints.
    List {
        #[command(flatten)]
        src: CatalogArgs,
        /// JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Everything the catalog knows about a vendor (name or file name).
    Show {
        vendor: String,
        #[command(flatten)]
        src: CatalogArgs,
    },
    /// Which endpoint a host name or address matches, and why.
    Match {
        #[arg(required = true, value_name = "NAME-or-IP")]
        items: Vec<String>,
        #[command(flatten)]
        src: CatalogArgs,
        /// Use a catalog with entry errors (those entries are left out).
        #[arg(long)]
        allow_catalog_errors: bool,
    },
    /// Lint the catalog: duplicates, overlaps, malformed entries, missing sources.
    Check {
        #[command(flatten)]
        src: CatalogArgs,
    },
    /// Write the catalog as Suricata rules, a Zeek intel file, Sigma rules,
    /// an RPZ zone, a hosts file or JSON.
    Export(Box<export::ExportArgs>),
}

#[derive(Args, Debug)]
pub struct GeoipArgs {
    #[arg(required = true, value_name = "IP")]
    pub ips: Vec<String>,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub geoip: GeoIpFlags,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Write the documented default policy (to standard output, or -o FILE).
    Init {
        /// ISO 3166 alpha-2 code of the home country.
        #[arg(long, value_name = "CC", default_value = DEFAULT_HOME, value_parser = home_country)]
        home_country: String,
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load a policy file and report problems with file and line.
    Check { file: PathBuf },
}

/// The home country when neither --policy nor --home-country says: the
/// audits phonehome was first written for.
pub const DEFAULT_HOME: &str = "CN";

/// `--home-country`: a bad code is a usage error (exit 2), found before any work.
pub fn home_country(s: &str) -> Result<String, String> {
    Policy::default_for(s)
        .map(|p| p.home_country().to_string())
        .map_err(|e| e.to_string())
}

/// The `--geoip-*` flags, ready for `#[command(flatten)]`.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoIpFlags {
    /// Country database (MaxMind or ip-location-db layout) instead of the built-in one
    #[arg(long = "geoip-country", value_name = "FILE")]
    pub country: Option<PathBuf>,
    /// ASN database (MaxMind or ip-location-db layout) instead of the built-in one
    #[arg(long = "geoip-asn", value_name = "FILE")]
    pub asn: Option<PathBuf>,
    /// geoipupdate directory: use GeoIP2/GeoLite2 Country (or City) and ASN (or ISP) found there
    #[arg(long = "geoip-dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Look for geoipupdate databases in /usr/share/GeoIP, /var/lib/GeoIP and similar
    #[arg(long = "geoip-system-dirs")]
    pub system_dirs: bool,
}

impl GeoIpFlags {
    pub fn options(&self) -> GeoIpOptions {
        GeoIpOptions {
            country: self.country.clone(),
            asn: self.asn.clone(),
            dir: self.dir.clone(),
            system_dirs: self.system_dirs,
        }
    }
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Replay(a) => replay::run(&a),
        Command::Catalog(c) => catalog_cmd(c),
        Command::Geoip(g) => geoip_cmd(&g),
        Command::Policy(p) => policy_cmd(p),
        Command::Report(r) => report::run(&r),
        Command::Progress(p) => removal::run(&p),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // The reader of `--eve -` went away: a normal end, as for printing commands.
        Err(e) if stdio::is_broken_pipe(&e) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("phonehome: error: {}", one_line(&e));
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text the
/// line already holds (library errors name their source in their own message).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn load_catalog(src: &CatalogArgs) -> anyhow::Result<Catalog> {
    let base = match &src.catalog {
        Some(d) => Catalog::load_dir(d)?,
        None => Catalog::embedded()?,
    };
    Ok(match &src.catalog_extra {
        Some(d) => base.with_overlay_dir(d)?,
        None => base,
    })
}

/// The catalog for a run: refuses to start on any catalog error (an entry
/// left out of matching would silently lose its findings) unless allowed.
fn load_catalog_strict(
    dir: Option<&std::path::Path>,
    extra: Option<&std::path::Path>,
    allow_errors: bool,
) -> anyhow::Result<Catalog> {
    let cat = load_catalog(&CatalogArgs {
        catalog: dir.map(PathBuf::from),
        catalog_extra: extra.map(PathBuf::from),
    })?;
    if !allow_errors {
        if let Some(e) = cat.first_error() {
            anyhow::bail!(
                "catalog {}:{}: {} (see `phonehome catalog check`; --allow-catalog-errors leaves such entries out)",
                e.file,
                e.line,
                e.message
            );
        }
    }
    Ok(cat)
}

fn catalog_cmd(c: CatalogCmd) -> anyhow::Result<u8> {
    match c {
        CatalogCmd::Export(a) => Ok(export::run(&a, DEFAULT_HOME)?),
        CatalogCmd::List { src, json } => {
            let cat = load_catalog(&src)?;
            for v in cat.list() {
                if json {
                    println!("{}", serde_json::to_string(&v)?);
                } else {
                    println!(
                        "{:<32} {:<8} {:>3} products {:>5} endpoints  {}",
                        v.name,
                        v.jurisdiction.join("/"),
                        v.products,
                        v.endpoints,
                        v.file
                    );
                }
            }
            Ok(EXIT_OK)
        }
        CatalogCmd::Show { vendor, src } => {
            let cat = load_catalog(&src)?;
            let Some(v) = cat.vendor(&vendor) else {
                anyhow::bail!(
                    "no vendor named '{vendor}' in the catalog (see `phonehome catalog list`)"
                );
            };
            println!("{}", serde_json::to_string_pretty(v)?);
            Ok(EXIT_OK)
        }
        CatalogCmd::Match {
            items,
            src,
            allow_catalog_errors,
        } => {
            let cat = load_catalog_strict(
                src.catalog.as_deref(),
                src.catalog_extra.as_deref(),
                allow_catalog_errors,
            )?;
            // Addresses without a published range: the AS they are in.
            let geo = if cat.has_asns() {
                GeoIp::embedded()?
            } else {
                GeoIp::none()
            };
            let mut missing = false;
            for item in &items {
                let m = match item.parse::<std::net::IpAddr>() {
                    Ok(ip) => cat
                        .match_ip(ip)
                        .or_else(|| geo.lookup(ip).asn.and_then(|n| cat.match_asn(n))),
                    Err(_) => cat.match_name(item).or_else(|| {
                        let n = item.trim_end_matches('.').to_ascii_lowercase();
                        cat.match_cert_name(&n)
                    }),
                };
                match m {
                    Some(m) => println!(
                        "{item}\t{} / {}\t{}\t{}\t{} {}\t{}\t{}\t{}",
                        m.vendor,
                        m.product,
                        m.jurisdiction.join("/"),
                        m.tier.as_str(),
                        match m.tier {
                            phonehome::resolve::catalog::Tier::OwnedDomain => "owned_domain",
                            phonehome::resolve::catalog::Tier::OwnedNetwork => "asn",
                            _ => m.kind.key(),
                        },
                        m.pattern,
                        m.purpose.as_str(),
                        m.confidence.as_str(),
                        m.source
                    ),
                    None => {
                        missing = true;
                        if item.parse::<std::net::IpAddr>().is_err() && cat.is_web_presence(item) {
                            println!("{item}\tno match (web presence: never evidence)");
                        } else {
                            println!("{item}\tno match");
                        }
                    }
                }
            }
            // Like grep: 1 when something did not match.
            Ok(if missing { EXIT_RUNTIME } else { EXIT_OK })
        }
        CatalogCmd::Check { src } => {
            let cat = load_catalog(&src)?;
            let mut issues = cat.check();
            // [[asn]] numbers and names against the shipped ASN database.
            issues.extend(cat.check_asn_database(&GeoIp::embedded()?)?);
            for i in &issues {
                println!("{i}");
            }
            let errors = issues
                .iter()
                .filter(|i| i.severity == phonehome::resolve::catalog::Severity::Error)
                .count();
            eprintln!(
                "phonehome: catalog: {} vendors, {} endpoints, {errors} errors, {} warnings",
                cat.vendors().len(),
                cat.endpoint_count(),
                issues.len() - errors
            );
            Ok(if errors > 0 { EXIT_RUNTIME } else { EXIT_OK })
        }
    }
}

fn geoip_cmd(g: &GeoipArgs) -> anyhow::Result<u8> {
    use phonehome::resolve::geoip::{
        geoip_command, geoip_command_json, geoip_lookup_all, ATTRIBUTION,
    };
    let geo = GeoIp::open(&g.geoip.options().to_config()?)?;
    if g.json {
        print!("{}", geoip_command_json(&g.ips, &geo));
    } else {
        print!("{}", geoip_command(&g.ips, &geo));
        eprintln!("{ATTRIBUTION}");
    }
    let bad = geoip_lookup_all(&g.ips, &geo).iter().any(|l| l.is_error());
    Ok(if bad { EXIT_RUNTIME } else { EXIT_OK })
}

fn policy_cmd(p: PolicyCmd) -> anyhow::Result<u8> {
    match p {
        PolicyCmd::Init {
            home_country,
            output,
        } => {
            // Validate the country before writing anything.
            Policy::default_for(&home_country)?;
            let text = Policy::default_toml(&home_country);
            match output {
                Some(path) => {
                    if path.exists() {
                        anyhow::bail!("{} exists; not overwriting it", path.display());
                    }
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("phonehome: wrote {}", path.display());
                }
                None => print!("{text}"),
            }
            Ok(EXIT_OK)
        }
        PolicyCmd::Check { file } => {
            let p = Policy::load(&file)?;
            eprintln!(
                "phonehome: {} is valid (home country {})",
                file.display(),
                p.home_country()
            );
            Ok(EXIT_OK)
        }
    }
}
