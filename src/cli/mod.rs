//! Command line: argument parsing, exit codes and the human side of each
//! command (progress bars, summaries on stderr). Binary side only: the
//! library never sees clap or an exit code.
//!
//! Exit codes are stable and listed once, in [`EXIT_CODES`] (shown by
//! `--help` and copied into the README, where a test compares them).

// First, so that its print!/println!/eprint!/eprintln! (safe on a closed
// pipe) replace std's in every module below.
#[macro_use]
mod stdio;

mod export;
mod live;
mod progress;
mod removal;
mod replay;
mod report;
mod setup;
mod show;
mod signals;
mod sinks;
mod summary;
mod table;

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
/// `catalog match`: some item matched nothing. Apart from 1 so that a
/// script can tell "not in the catalog" from "the catalog did not load".
pub const EXIT_NO_MATCH: u8 = 3;

/// The exit code table, as `--help` prints it (the README holds the same
/// lines); a macro so that `concat!` can put it under each command's examples.
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  success
  1  runtime error: a missing, unreadable or non-capture input, a capture damaged part-way
     (its earlier packets are still used; --keep-going reports it and exits 0), a bad
     policy, catalog or GeoIP file, unwritable output, a sink's full spool (records lost),
     report on an EVE file cut short (no final stats event) without --allow-partial
  2  usage error: unknown option, missing or bad value
  3  replay: stopped by SIGTERM/SIGINT (output complete for what was read before the
     signal; live exits 0 on a signal, as a service does); catalog match: at least one
     name or address matched nothing
  130, 143  a second SIGINT/SIGTERM: exit at once (128 + the signal number)"
    };
}
/// `replay` stopped by SIGTERM/SIGINT: flows written `shutdown`, findings
/// and stats written, but the input was not read to its end.
pub const EXIT_STOPPED: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "phonehome",
    version,
    about = "Prove from the network which security products phone home, and where",
    long_about = "phonehome reads packet captures (pcap, pcapng, optionally gzip-compressed), \
tracks every flow, pulls names and fingerprints from DNS, TLS, QUIC and HTTP, ties them to a \
catalog of security vendors' cloud endpoints, and reports which security products on which \
hosts send data to which countries, as Suricata-compatible EVE JSON for SOC tools.",
    after_help = concat!("Examples:\n  phonehome replay captures/demo.pcap --eve eve.json\n  \
phonehome replay /data/pcaps/ --workers 4 --eve - | jq 'select(.event_type==\"flow\")'\n  \
phonehome catalog match wdcp.microsoft.com 208.67.222.222\n\n", exit_codes!())
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Replay capture files: flows, names, and findings of security products
    /// phoning home, written as EVE JSON events.
    #[command(after_help = concat!("Examples:
  phonehome replay captures/demo.pcap                   # EVE to ./eve.json, summary and findings on stderr
  phonehome replay /data/pcaps/ --keep-going --eve /var/log/phonehome/eve.json
  phonehome replay day1.pcap.gz day2.pcap.gz --policy our-policy.toml
  phonehome replay capture.pcap --eve - | jq -c 'select(.event_type==\"alert\")'
  phonehome replay capture.pcap --evidence case-42/ && phonehome report case-42/ -o case-42/report

", exit_codes!()))]
    Replay(Box<replay::ReplayArgs>),
    /// Capture on network interfaces (a tap or SPAN port) as a sensor:
    /// streamed alerts, periodic stats, SIGHUP reload, graceful SIGTERM.
    #[command(after_help = concat!("Examples:
  phonehome live -i eth1 --eve /var/log/phonehome/eve.json --metrics 127.0.0.1:9750
  phonehome live -i eth1 -i eth2 --bpf 'not port 22' --workers 2 --user phonehome
  tcpdump -U -w - -i eth1 | phonehome live -r - --eve -

", exit_codes!()))]
    Live(Box<live::LiveArgs>),
    /// Inspect and check the vendor catalog.
    #[command(subcommand)]
    #[command(after_help = "Examples:
  phonehome catalog list
  phonehome catalog show crowdstrike
  phonehome catalog match ts01-b.cloudsink.net 91.228.165.30
  phonehome catalog check --catalog-extra /etc/phonehome/catalog.d
  phonehome catalog export --format suricata -o phonehome.rules")]
    Catalog(CatalogCmd),
    /// Country and AS of addresses, as phonehome sees them.
    #[command(after_help = "Examples:
  phonehome geoip 8.8.8.8 10.0.0.1
  phonehome geoip 2a00:1450:4001::1 --json
  phonehome geoip 91.228.165.30 --geoip-dir /var/lib/GeoIP

Exit codes: 0 every address looked up; 1 an item is not an IP address or a database failed to open; 2 usage error.")]
    Geoip(GeoipArgs),
    /// The jurisdiction policy.
    #[command(subcommand)]
    #[command(after_help = "Examples:
  phonehome policy init --home-country DE -o policy.toml
  phonehome policy check policy.toml
  phonehome replay capture.pcap --policy policy.toml")]
    Policy(PolicyCmd),
    // --- report (issue #5) ---
    /// Inventory report (HTML, Markdown, CSV, JSON) from EVE files or an
    /// evidence bundle.
    #[command(after_help = "Examples:
  phonehome report eve.json -o report/
  phonehome replay capture.pcap --evidence case-42/ && phonehome report case-42/ -o case-42/report

Exit codes: 0 written; 1 an input is missing or unreadable, or DIR is not writable; 2 usage error.")]
    Report(report::ReportArgs),
    // --- end report ---
    /// Removal progress from the inventory: per host and product still
    /// present, removed, replaced, new (or host not seen), totals per
    /// product, and the share of hosts clear per day.
    #[command(after_help = "Examples:
  phonehome progress --inventory inventory.sqlite
  phonehome progress --inventory inventory.sqlite --since 2026-11-01 --format csv
  phonehome progress --inventory postgres://phonehome@db/inventory --baseline 2026-10-01

Exit codes: 0 shown; 1 the inventory or a run is missing; 2 usage error (also a bad date).")]
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
    #[command(after_help = "Examples:
  phonehome catalog list
  phonehome catalog list --json | jq -r 'select(.jurisdiction[0]==\"US\") | .name'")]
    List {
        #[command(flatten)]
        src: CatalogArgs,
        /// JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Everything the catalog knows about a vendor (name or file name).
    #[command(after_help = "Examples:
  phonehome catalog show crowdstrike
  phonehome catalog show \"Trend Micro\"
  phonehome catalog show eset --json | jq '.products[].endpoints[].pattern'

Exit codes: 0 shown; 1 no such vendor, or the catalog did not load; 2 usage error.")]
    Show {
        /// The vendor's name ("Trend Micro") or catalog file name (trendmicro),
        /// any case; `phonehome catalog list` lists them.
        #[arg(value_name = "VENDOR")]
        vendor: String,
        #[command(flatten)]
        src: CatalogArgs,
        /// The vendor as JSON (every field, with file lines) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Which endpoint a host name or address matches, and why: one
    /// tab-separated line per item (item, vendor / product, jurisdiction,
    /// tier, kind and pattern, purpose, confidence, source).
    #[command(after_help = "Examples:
  phonehome catalog match wdcp.microsoft.com 208.67.222.222 www.example.com
  phonehome catalog match --catalog-extra site-catalog/ av.site.example
  phonehome catalog match 91.228.165.30 || echo \"not in the catalog\"

Exit codes: 0 every item matched; 1 the catalog did not load (or has entry errors, see
--allow-catalog-errors); 2 usage error; 3 at least one item matched nothing (its line
says \"no match\").")]
    Match {
        /// Host names (as a client would ask for them; a trailing dot is fine)
        /// or IPv4/IPv6 addresses to look up.
        #[arg(required = true, value_name = "NAME-or-IP")]
        items: Vec<String>,
        #[command(flatten)]
        src: CatalogArgs,
        /// Use a catalog with entry errors (those entries are left out).
        #[arg(long)]
        allow_catalog_errors: bool,
    },
    /// Lint the catalog: duplicates, overlaps, malformed entries, missing sources.
    #[command(after_help = "Examples:
  phonehome catalog check
  phonehome catalog check --catalog-extra /etc/phonehome/catalog.d

Exit codes: 0 no errors (warnings may be listed); 1 errors found, or the catalog did not load; 2 usage error.")]
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
    /// IPv4 or IPv6 addresses to look up.
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
    #[command(after_help = "Examples:
  phonehome policy init --home-country DE -o policy.toml
  phonehome policy init | less

Exit codes: 0 written; 1 bad country code or FILE exists (never overwritten); 2 usage error.")]
    Init {
        /// ISO 3166 alpha-2 code of the home country.
        #[arg(long, value_name = "CC", default_value = DEFAULT_HOME, value_parser = home_country)]
        home_country: String,
        /// Write to FILE (which must not exist yet) instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load a policy file and report problems with file and line.
    #[command(after_help = "Examples:
  phonehome policy check policy.toml

Exit codes: 0 valid; 1 the file is missing or has a problem (named with its line); 2 usage error.")]
    Check {
        /// The policy file (TOML, as `phonehome policy init` writes it).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
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
        Command::Live(a) => live::run(&a),
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
        CatalogCmd::Show { vendor, src, json } => {
            let cat = load_catalog(&src)?;
            let Some(v) = cat.vendor(&vendor) else {
                anyhow::bail!(
                    "no vendor named '{vendor}' in the catalog (see `phonehome catalog list`)"
                );
            };
            if json {
                println!("{}", serde_json::to_string_pretty(v)?);
            } else {
                print!("{}", show::vendor_text(v));
            }
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
            Ok(if missing { EXIT_NO_MATCH } else { EXIT_OK })
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command, with its path ("phonehome catalog match").
    fn commands() -> Vec<(String, clap::Command)> {
        let mut out = Vec::new();
        let mut stack = vec![("phonehome".to_string(), Cli::command())];
        while let Some((path, cmd)) = stack.pop() {
            for sub in cmd.get_subcommands() {
                stack.push((format!("{path} {}", sub.get_name()), sub.clone()));
            }
            out.push((path, cmd));
        }
        out
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_positional_has_help_and_every_command_examples() {
        let mut missing = Vec::new();
        for (path, cmd) in commands() {
            if cmd.get_name() == "help" {
                continue;
            }
            for arg in cmd.get_positionals() {
                if arg.get_help().is_none() {
                    missing.push(format!("{path} <{}>: no help", arg.get_id()));
                }
            }
            let examples = cmd
                .get_after_help()
                .is_some_and(|h| h.to_string().contains("Examples:\n  phonehome "));
            if !examples {
                missing.push(format!("{path}: no examples"));
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }

    #[test]
    fn benchmark_flags_are_hidden() {
        let cmd = Cli::command();
        let replay = cmd.find_subcommand("replay").expect("replay");
        for flag in [
            "no_dissect",
            "no_attribution",
            "bench_catalog_scale",
            "bench_thread_times",
        ] {
            let arg = replay
                .get_arguments()
                .find(|a| a.get_id() == flag)
                .unwrap_or_else(|| panic!("{flag}"));
            assert!(arg.is_hide_set(), "{flag} is shown in --help");
        }
    }
}
