//! Command line: argument parsing, exit codes and the human side of each command.
//!
//! Exit codes are stable: 0 success, 1 runtime error (bad or damaged input,
//! unwritable output; output is still written for what could be read),
//! 2 usage error.

use crate::capture::{expand_inputs, CaptureError};
use crate::engine::output::{AlertMode, Output};
use crate::engine::{self, Progress, ReplayConfig};
use crate::flow::FlowConfig;
use crate::judge::policy::Policy;
use crate::judge::{Finding, Judge};
use crate::report::eve::EveWriter;
use crate::report::summary::summary;
use crate::resolve::catalog::Catalog;
use crate::resolve::dns_cache::DnsCacheConfig;
use crate::resolve::geoip::{GeoIp, GeoIpOptions};
use crate::resolve::Resolver;
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    Replay(Box<ReplayArgs>),
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
    Report(crate::report::html::ReportArgs),
    // --- end report ---
}

#[derive(Args, Debug, Clone)]
pub struct CatalogArgs {
    /// A directory of vendor TOML files instead of the built-in catalog.
    #[arg(long, value_name = "DIR", global = true)]
    pub catalog: Option<PathBuf>,
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
    },
    /// Lint the catalog: duplicates, overlaps, malformed entries, missing sources.
    Check {
        #[command(flatten)]
        src: CatalogArgs,
    },
}

#[derive(Args, Debug)]
pub struct GeoipArgs {
    #[arg(required = true, value_name = "IP")]
    pub ips: Vec<String>,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub geoip: GeoIpOptions,
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
fn home_country(s: &str) -> Result<String, String> {
    Policy::default_for(s)
        .map(|p| p.home_country().to_string())
        .map_err(|e| e.to_string())
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Capture files or directories (searched recursively). Files are read in
    /// the order of their first packet's time; the format comes from the
    /// file's magic number, whatever its name.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Where to write EVE JSON lines ("-" for standard output).
    #[arg(long, value_name = "FILE|-", default_value = "eve.json")]
    pub eve: String,

    /// Worker threads [default: number of CPU cores]. The output is identical for any value.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Community ID seed.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    pub community_id_seed: u16,

    /// Most flows held at once (shared among workers); beyond, the flow
    /// nearest its timeout is written out early with reason "forced".
    #[arg(long, value_name = "N", default_value_t = 1 << 20)]
    pub max_flows: usize,

    /// Idle timeout in seconds for UDP, ICMP and other flows (packet time).
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub idle_timeout: u64,

    /// Idle timeout in seconds for established TCP flows (packet time).
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub tcp_idle_timeout: u64,

    /// A flow open longer than this many seconds is written out and continues
    /// (reason "active_timeout", same flow_id).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub active_timeout: u64,

    /// No progress bar and no summary on stderr (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,

    /// Track flows only: no DNS/TLS/QUIC/HTTP dissection (for measuring its cost).
    #[arg(long)]
    pub no_dissect: bool,

    /// No vendor attribution, GeoIP or findings (for measuring their cost).
    #[arg(long)]
    pub no_attribution: bool,

    /// Jurisdiction policy file (see `phonehome policy init`).
    #[arg(long, value_name = "FILE", conflicts_with = "home_country")]
    pub policy: Option<PathBuf>,

    /// Home country (ISO alpha-2) for the default policy, when no --policy is given.
    #[arg(long, value_name = "CC", default_value = DEFAULT_HOME, value_parser = home_country)]
    pub home_country: String,

    /// A directory of vendor TOML files instead of the built-in catalog.
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,

    #[command(flatten)]
    pub geoip: GeoIpOptions,

    /// When alerts are written: "end" (one complete alert per finding at the
    /// end of the run) or "stream" (as flows and DNS questions touch a
    /// finding, deduplicated per --dedup-window, with an update per window
    /// that had repeats).
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = AlertMode::End)]
    pub alerts: AlertMode,

    /// Benchmarking: use a catalog this many times larger (synthetic vendors added).
    #[arg(long, value_name = "N", hide = true)]
    pub bench_catalog_scale: Option<usize>,

    // --- sinks (src/report/sink): --config, --syslog, --hec, --elastic,
    // --redis, --ecs, --eve-rotate-*, --spool-dir, --sink-timeout, --dedup-window
    #[command(flatten)]
    pub sinks: crate::report::sink::SinkArgs,
    // --- evidence bundle (issue #5) ---
    #[command(flatten)]
    pub evidence: crate::report::evidence::EvidenceOptions,
    // --- end evidence bundle ---
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
        Command::Replay(a) => replay(&a),
        Command::Catalog(c) => catalog_cmd(c),
        Command::Geoip(g) => geoip_cmd(&g),
        Command::Policy(p) => policy_cmd(p),
        Command::Report(r) => crate::report::html::run(&r),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // The reader of `--eve -` went away: a normal end, as for printing commands.
        Err(e) if crate::stdio::is_broken_pipe(&e) => ExitCode::from(EXIT_OK),
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

fn open_output(
    spec: &str,
    rotate: crate::report::sink::file::Rotate,
) -> anyhow::Result<Box<dyn Write + Send>> {
    if spec == "-" {
        if rotate != crate::report::sink::file::Rotate::default() {
            anyhow::bail!(
                "--eve-rotate-size/--eve-rotate-secs need --eve FILE, not standard output"
            );
        }
        return Ok(Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        )));
    }
    let f = crate::report::sink::file::EveFile::create(std::path::Path::new(spec), rotate)
        .with_context(|| {
            format!("cannot write EVE output to {spec}: check the directory exists and is writable")
        })?;
    Ok(Box::new(f))
}

fn progress_bar(
    total: u64,
    progress: Arc<Progress>,
) -> Option<(
    indicatif::ProgressBar,
    std::thread::JoinHandle<()>,
    Arc<std::sync::atomic::AtomicBool>,
)> {
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} (eta {eta})",
        )
        .ok()?,
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (pb2, stop2) = (pb.clone(), Arc::clone(&stop));
    let h = std::thread::spawn(move || {
        while !stop2.load(Ordering::Relaxed) {
            pb2.set_position(progress.disk_bytes.load(Ordering::Relaxed));
            pb2.set_message(format!("{} pkts", progress.packets.load(Ordering::Relaxed)));
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    Some((pb, h, stop))
}

fn replay(a: &ReplayArgs) -> anyhow::Result<u8> {
    let inputs = expand_inputs(&a.paths)?;
    if !a.quiet && !inputs.skipped.is_empty() {
        // Directories often hold notes and logs beside captures: say so once.
        let shown: Vec<String> = inputs
            .skipped
            .iter()
            .take(3)
            .map(|e| e.to_string())
            .collect();
        eprintln!(
            "phonehome: note: skipped {} file(s) in the given directories that are not captures, e.g.\n  {}",
            inputs.skipped.len(),
            shown.join("\n  ")
        );
    }
    let names: Vec<String> = inputs
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    let total_bytes: u64 = inputs
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    let mut cfg = ReplayConfig::new(inputs.files);
    if let Some(w) = a.workers {
        cfg.workers = usize::from(w);
    }
    cfg.dissect = !a.no_dissect;
    cfg.flow = FlowConfig {
        max_flows: (a.max_flows / cfg.workers).max(1),
        idle_timeout: a.idle_timeout,
        tcp_idle_timeout: a.tcp_idle_timeout,
        active_timeout: a.active_timeout,
        community_id_seed: a.community_id_seed,
        ..FlowConfig::default()
    };
    let mut catalog = load_catalog(a.catalog.as_deref())?;
    if let Some(n) = a.bench_catalog_scale {
        catalog = catalog.synthetic_scaled(n);
    }
    let geoip = GeoIp::open(&a.geoip.to_config()?)?;
    let policy = match &a.policy {
        Some(p) => {
            let policy = Policy::load(p)?;
            // An exception naming what the catalog lacks would never apply.
            policy.check_catalog(&catalog, &p.display().to_string())?;
            policy
        }
        None => Policy::default_for(&a.home_country)?,
    };
    // --- evidence bundle (issue #5): refuse a used directory before writing anything ---
    if let Some(dir) = &a.evidence.evidence {
        let eve = (a.eve != "-").then(|| std::path::Path::new(&a.eve));
        crate::report::bundle::prepare_dir(dir, eve)?;
    }
    // --- end evidence bundle ---
    // --- sinks (src/report/sink) ---
    let sink_settings = a.sinks.settings(&a.eve)?;
    let out = open_output(&a.eve, sink_settings.eve_rotate)?;
    let mut output = Output::new(
        Resolver::new(catalog, geoip, DnsCacheConfig::default()),
        Judge::new(policy),
        EveWriter::new(out, names),
    );
    output.attribute = !a.no_attribution;
    output.alert_mode = a.alerts;
    output.sinks = crate::report::sink::Sinks::start(&sink_settings)?;
    if sink_settings.dedup_window_ns > 0 {
        output.dedup = Some(crate::report::dedup::Dedup::new(
            sink_settings.dedup_window_ns,
            1 << 16,
        ));
    }
    if a.evidence.evidence.is_some() {
        output.evidence = Some(crate::report::evidence::FlowIndex::new(Default::default()));
    }
    let progress = Arc::new(Progress::default());
    let bar = if !a.quiet && std::io::stderr().is_terminal() {
        progress_bar(total_bytes, Arc::clone(&progress))
    } else {
        None
    };
    let started = Instant::now();
    let eve_name = a.eve.clone();
    let result = engine::replay(&cfg, Arc::clone(&progress), &mut |ev| {
        output
            .event(&ev)
            .with_context(|| format!("cannot write EVE output to {eve_name}"))
    });
    if let Some((pb, h, stop)) = bar {
        stop.store(true, Ordering::Relaxed);
        let _ = h.join();
        pb.finish_and_clear();
    }
    let outcome = result?;
    let findings = output
        .finish()
        .and_then(|f| {
            output.stats(&outcome.stats)?;
            output.eve.flush()?;
            Ok(f)
        })
        .with_context(|| format!("cannot write EVE output to {}", a.eve))?;
    for r in output.finish_sinks() {
        if !a.quiet || r.backlog > 0 || r.counts.dropped > 0 {
            eprintln!("phonehome: {r}");
        }
    }
    let elapsed = started.elapsed();
    for e in &outcome.file_errors {
        eprintln!("phonehome: error: {e}");
    }
    if !a.quiet {
        let written = output.counts.events + output.counts.alerts + 1;
        eprint!("{}", summary(&outcome.stats, elapsed, written));
        if !a.no_attribution {
            let home = output.judge.policy().home_country();
            eprint!("{}", findings_table(&findings, home));
        }
    }
    // --- evidence bundle (issue #5) ---
    if let Some(index) = output.evidence.take() {
        use crate::report::bundle::{run_evidence, EveTarget, EvidenceRun};
        run_evidence(&EvidenceRun {
            options: &a.evidence,
            inputs: &cfg.inputs,
            index: &index,
            findings: &findings,
            eve: if a.eve == "-" {
                EveTarget::Stdout
            } else {
                EveTarget::File(PathBuf::from(&a.eve))
            },
            home_country: output.judge.policy().home_country(),
            replayed_packets: outcome.stats.capture.pkts,
            quiet: a.quiet,
        })?;
    }
    // --- end evidence bundle ---
    let damaged = outcome
        .file_errors
        .iter()
        .any(|e| !matches!(e, CaptureError::EmptyDirectory { .. }));
    Ok(if damaged { EXIT_RUNTIME } else { EXIT_OK })
}

fn load_catalog(dir: Option<&std::path::Path>) -> anyhow::Result<Catalog> {
    Ok(match dir {
        Some(d) => Catalog::load_dir(d)?,
        None => Catalog::embedded()?,
    })
}

/// The findings as a table an analyst reads at the end of a replay.
pub fn findings_table(findings: &[Finding], home: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if findings.is_empty() {
        let _ = writeln!(s, "  findings: none (home country {home})");
        return s;
    }
    let _ = writeln!(s, "  findings ({}, home country {home}):", findings.len());
    let _ = writeln!(
        s,
        "  {:<8} {:<18} {:<40} {:<10} {:>6}  {:<10} EVIDENCE",
        "SEVERITY", "HOST", "VENDOR / PRODUCT", "VENDOR CC", "FLOWS", "DEST CC"
    );
    let mut rows: Vec<&Finding> = findings.iter().collect();
    rows.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.host.cmp(&b.host)));
    for f in rows {
        let cc = f.destination_countries();
        let vp = format!("{} / {}", f.vendor, f.product);
        let ev = f.best_evidence().map_or(String::new(), |e| {
            format!("{} ({})", e.value, e.kind.label())
        });
        let mark = match &f.exception {
            Some(x) if !x.expired => " [excepted]",
            _ => "",
        };
        let _ = writeln!(
            s,
            "  {:<8} {:<18} {:<40} {:<10} {:>6}  {:<10} {}{mark}",
            f.severity.as_str(),
            f.host.to_string(),
            truncate(&vp, 40),
            f.vendor_country.join("/"),
            f.flows,
            if f.dns_only {
                "dns only".to_string()
            } else {
                cc.join(",")
            },
            ev
        );
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn catalog_cmd(c: CatalogCmd) -> anyhow::Result<u8> {
    match c {
        CatalogCmd::List { src, json } => {
            let cat = load_catalog(src.catalog.as_deref())?;
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
            let cat = load_catalog(src.catalog.as_deref())?;
            let Some(v) = cat.vendor(&vendor) else {
                anyhow::bail!(
                    "no vendor named '{vendor}' in the catalog (see `phonehome catalog list`)"
                );
            };
            println!("{}", serde_json::to_string_pretty(v)?);
            Ok(EXIT_OK)
        }
        CatalogCmd::Match { items, src } => {
            let cat = load_catalog(src.catalog.as_deref())?;
            let mut missing = false;
            for item in &items {
                let m = match item.parse::<std::net::IpAddr>() {
                    Ok(ip) => cat.match_ip(ip),
                    Err(_) => {
                        let n = item.trim_end_matches('.').to_ascii_lowercase();
                        cat.match_name(&n).or_else(|| cat.match_cert_name(&n))
                    }
                };
                match m {
                    Some(m) => println!(
                        "{item}\t{} / {}\t{}\t{} {}\t{}\t{}\t{}",
                        m.vendor,
                        m.product,
                        m.jurisdiction.join("/"),
                        m.kind.key(),
                        m.pattern,
                        m.purpose.as_str(),
                        m.confidence.as_str(),
                        m.source
                    ),
                    None => {
                        missing = true;
                        println!("{item}\tno match");
                    }
                }
            }
            // Like grep: 1 when something did not match.
            Ok(if missing { EXIT_RUNTIME } else { EXIT_OK })
        }
        CatalogCmd::Check { src } => {
            let cat = load_catalog(src.catalog.as_deref())?;
            let issues = cat.check();
            for i in &issues {
                println!("{i}");
            }
            let errors = issues
                .iter()
                .filter(|i| i.severity == crate::resolve::catalog::Severity::Error)
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
    use crate::resolve::geoip::{geoip_command, geoip_command_json, geoip_lookup_all, ATTRIBUTION};
    let geo = GeoIp::open(&g.geoip.to_config()?)?;
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
