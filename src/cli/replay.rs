//! `phonehome replay`: the pipeline over the inputs, the EVE output and the
//! sinks, the summary and findings table on stderr, the evidence bundle.

use super::progress::{Bar, Show};
use super::setup::Alerts;
use super::sinks::SinkArgs;
use super::summary::{summary, Written};
use super::table::{Align, Table};
use super::{GeoIpFlags, DEFAULT_HOME, EXIT_OK, EXIT_RUNTIME};
use anyhow::Context;
use clap::Args;
use phonehome::base::Progress;
use phonehome::capture::{
    expand_inputs, is_stdin, CaptureError, CaptureFile, FileSource, InputFile,
};
use phonehome::engine::{self, ReplayConfig};
use phonehome::evidence::bundle::{self, BundleInput, BundleSummary, EveTarget, MANIFEST};
use phonehome::evidence::{EvidenceError, FlowIndex, Limits};
use phonehome::flow::FlowConfig;
use phonehome::inventory::collect::{Collector, RunInfo};
use phonehome::judge::Finding;
use phonehome::resolve::catalog::Catalog;
use phonehome::resolve::dns_cache::DnsCacheConfig;
use phonehome::resolve::geoip::GeoIp;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Capture files or directories (searched recursively). Files are read in
    /// the order of their first packet's time; the format comes from the
    /// file's magic number, whatever its name. `-` reads one capture (pcap
    /// or pcapng, gzip or not) from standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Report inputs that are missing, not captures, or damaged part-way,
    /// use what can be read, and exit 0 (the summary counts them).
    #[arg(long)]
    pub keep_going: bool,

    /// Where to write EVE JSON lines ("-" for standard output).
    #[arg(long, value_name = "FILE|-", default_value = "eve.json")]
    pub eve: String,

    /// Worker threads [default: number of CPU cores]. The output is identical for any value.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Community ID seed.
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    pub community_id_seed: u16,

    /// Memory the whole replay may use (K/M/G), the catalog and GeoIP data
    /// included [default: half the machine's memory, or of the cgroup's
    /// limit]. Under pressure, out-of-order data of flows already named is
    /// dropped first, then that of nameless flows past their first flight,
    /// then flows are ended early; a nameless flow's hello is always kept.
    /// Counted in stats.phonehome.memory.
    #[arg(long, value_name = "BYTES", value_parser = phonehome::sink::config::parse_size)]
    pub memory_limit: Option<u64>,

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
    #[arg(long, short, conflicts_with = "progress")]
    pub quiet: bool,

    /// Show the progress bar even when stderr is not a terminal (it is
    /// shown on a terminal anyway).
    #[arg(long)]
    pub progress: bool,

    /// Benchmarking: track flows only, no DNS/TLS/QUIC/HTTP dissection.
    #[arg(long, hide = true)]
    pub no_dissect: bool,

    /// Benchmarking: no vendor attribution, GeoIP or findings.
    #[arg(long, hide = true, conflicts_with = "evidence")]
    pub no_attribution: bool,

    /// Jurisdiction policy file (see `phonehome policy init`).
    #[arg(long, value_name = "FILE", conflicts_with = "home_country")]
    pub policy: Option<PathBuf>,

    /// Home country (ISO alpha-2) for the default policy, when no --policy is given.
    #[arg(long, value_name = "CC", default_value = DEFAULT_HOME, value_parser = super::home_country)]
    pub home_country: String,

    /// A directory of vendor TOML files instead of the built-in catalog.
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,

    /// A directory of the site's own vendor TOML files, added on top of the
    /// catalog [default: the policy's `catalog_extra`, if any].
    #[arg(long, value_name = "DIR")]
    pub catalog_extra: Option<PathBuf>,

    /// Start even if the catalog has entry errors (those entries are left
    /// out of matching, so their findings are missed).
    #[arg(long)]
    pub allow_catalog_errors: bool,

    #[command(flatten)]
    pub geoip: GeoIpFlags,

    /// When alerts are written: "end" (one complete alert per finding at the
    /// end of the run) or "stream" (as flows and DNS questions touch a
    /// finding, deduplicated per --dedup-window, with an update per window
    /// that had repeats).
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = Alerts::End)]
    pub alerts: Alerts,

    /// Benchmarking: use a catalog this many times larger (synthetic vendors added).
    #[arg(long, value_name = "N", hide = true)]
    pub bench_catalog_scale: Option<usize>,

    /// Benchmarking: print each engine thread's CPU time (user, system) and
    /// the process's to stderr at the end (never in EVE or stats).
    #[arg(long, hide = true)]
    pub bench_thread_times: bool,

    /// Record the run's findings in this inventory: a SQLite file (created
    /// if missing) or a postgres:// URL shared by a fleet of sensors.
    /// Replaying the same capture again changes nothing.
    #[arg(long, value_name = "PATH|URL", conflicts_with = "no_attribution")]
    pub inventory: Option<String>,

    /// This sensor's name in the inventory [default: the host name].
    #[arg(long, value_name = "NAME", requires = "inventory")]
    pub sensor_id: Option<String>,

    // --- sinks (src/sink): --config, --syslog, --hec, --elastic,
    // --redis, --ecs, --eve-rotate-*, --spool-dir, --sink-timeout, --dedup-window
    #[command(flatten)]
    pub sinks: SinkArgs,
    // --- evidence bundle (issue #5) ---
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    // --- end evidence bundle ---
}

/// `replay` and `live` options for the evidence bundle.
#[derive(Args, Debug, Clone, Default)]
pub struct EvidenceArgs {
    /// Write an evidence bundle to DIR (new or empty): per finding, the
    /// packets of its flows as pcapng; findings.json; MANIFEST.sha256.
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,

    /// Packets kept per flow in the evidence files (the first ones).
    #[arg(long, value_name = "N", default_value_t = 50, requires = "evidence",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub evidence_packets: u32,

    /// Bytes of frames kept per finding in the evidence files.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20, requires = "evidence")]
    pub evidence_bytes: u64,
}

impl EvidenceArgs {
    pub(super) fn limits(&self) -> Limits {
        Limits {
            packets_per_flow: self.evidence_packets,
            bytes_per_finding: self.evidence_bytes,
        }
    }
}

/// The inputs; with `--keep-going`, a named path that is missing or not a
/// capture is reported and left out (the run fails only when none is left).
/// Also returns how many named paths were left out.
fn inputs(a: &ReplayArgs) -> anyhow::Result<(phonehome::capture::Inputs, u64)> {
    if !a.keep_going {
        return Ok((expand_inputs(&a.paths)?, 0));
    }
    let mut usable = Vec::new();
    let mut first_error = None;
    for p in &a.paths {
        match expand_inputs(std::slice::from_ref(p)) {
            Ok(_) => usable.push(p.clone()),
            Err(e) => {
                eprintln!("phonehome: warning: {e}; skipped (--keep-going)");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if usable.is_empty() => Err(e.into()),
        _ => Ok((
            expand_inputs(&usable)?,
            (a.paths.len() - usable.len()) as u64,
        )),
    }
}

pub fn run(a: &ReplayArgs) -> anyhow::Result<u8> {
    let (inputs, left_out) = inputs(a)?;
    let stdin = inputs.files.iter().any(|f| is_stdin(&f.path));
    if stdin && a.evidence.evidence.is_some() {
        anyhow::bail!(
            "--evidence reads the captures a second time, which standard input cannot be: save the capture to a file and replay that"
        );
    }
    // Standard input is checked before anything is written, as a file is.
    let stdin_file = if stdin {
        Some(CaptureFile::open(std::path::Path::new("-"))?)
    } else {
        None
    };
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
    let policy = super::setup::load_policy(a.policy.as_deref(), &a.home_country)?;
    let mut catalog = super::setup::load_catalog(
        a.catalog.as_deref(),
        a.catalog_extra.as_deref(),
        a.allow_catalog_errors,
        &policy,
        a.policy.as_deref(),
    )?;
    if let Some(n) = a.bench_catalog_scale {
        catalog = catalog.synthetic_scaled(n);
    }
    let geoip = GeoIp::open(&a.geoip.options().to_config()?)?;
    let dns_cache = memory_budget(a.memory_limit, &cfg)?;
    // --- inventory (issue 13): what it needs of the catalog and the policy ---
    let inventory = match &a.inventory {
        Some(loc) => Some(InventoryRun {
            store: phonehome::inventory::Store::open(loc)?,
            sensor_id: a.sensor_id.clone().unwrap_or_else(default_sensor_id),
            kinds: product_kinds(&catalog),
            catalog_version: catalog_version(&catalog),
            home_country: policy.home_country().to_owned(),
            policy: policy_identity(a.policy.as_deref(), policy.home_country())?,
            collector: Collector::new(policy.internal_networks()),
        }),
        None => None,
    };
    let mut inventory = inventory;
    // --- end inventory ---
    // --- evidence bundle (issue #5): refuse a used directory before writing anything ---
    if let Some(dir) = &a.evidence.evidence {
        let eve = (a.eve != "-").then(|| std::path::Path::new(&a.eve));
        bundle::prepare_dir(dir, eve)?;
    }
    // --- end evidence bundle ---
    // --- sinks (src/sink) ---
    let mut sink_settings = a.sinks.settings(&a.eve)?;
    sink_settings.run_key = Some(run_key(&cfg.inputs));
    let mut output = super::setup::build_output(super::setup::OutputParts {
        catalog,
        geoip,
        dns_cache,
        policy,
        eve: &a.eve,
        names: cfg.file_names.clone(),
        alerts: a.alerts,
        sinks: &sink_settings,
    })?;
    output.attribute = !a.no_attribution;
    if a.evidence.evidence.is_some() {
        output.evidence = Some(FlowIndex::new(Default::default()));
    }
    // SIGTERM/SIGINT: stop reading and finish as at the end of the input
    // (exit EXIT_STOPPED); a second one exits at once.
    let flags = super::signals::install(phonehome::base::stop::Stop::new(), false, a.quiet)?;
    cfg.stop = Some(flags.stop.flag());
    // Records made after a stop are this run's own: a restart must not skip its own.
    output.sinks.watch_stop(flags.stop.flag());
    let progress = Arc::new(Progress::default());
    let show = match (a.quiet, a.progress) {
        (true, _) => Show::Never,
        (false, true) => Show::Always,
        (false, false) => Show::Auto,
    };
    let bar = Bar::start_files(
        "replay",
        total_bytes,
        cfg.inputs.len() as u64,
        Arc::clone(&progress),
        show,
    );
    let started = Instant::now();
    let eve_name = a.eve.clone();
    let source = match stdin_file {
        Some(f) => FileSource::opened(cfg.inputs.clone(), f),
        None => FileSource::new(cfg.inputs.clone()),
    };
    // The workers look destinations up in GeoIP and write the lines whole.
    cfg.geo = output.attribute.then(|| output.resolver.geo_share());
    cfg.catalog = output.attribute.then(|| output.resolver.catalog_share());
    let result = engine::run(&cfg, source, Arc::clone(&progress), &mut |ev, line| {
        if let Some(inv) = &mut inventory {
            inv.collector.observe(ev);
        }
        let r = output
            .event_prepared(ev, Some(line))
            .with_context(|| format!("cannot write EVE output to {eve_name}"));
        progress.findings.store(
            output.judge.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        r
    });
    drop(bar);
    let outcome = result?;
    let findings = output
        .finish()
        .and_then(|f| {
            output.stats(&outcome.stats)?;
            output.eve.flush()?;
            Ok(f)
        })
        .with_context(|| format!("cannot write EVE output to {}", a.eve))?;
    let mut sink_lost = false;
    for r in output.finish_sinks() {
        if !a.quiet || r.backlog > 0 || r.counts.dropped > 0 {
            eprintln!("phonehome: {r}");
        }
        if r.counts.spool_lost > 0 {
            sink_lost = true;
            eprintln!(
                "phonehome: error: sink {}: {} records were lost because its spool was full or unwritable; raise spool_max or free {}",
                r.name,
                r.counts.spool_lost,
                r.spool_dir.display()
            );
        }
    }
    let elapsed = started.elapsed();
    if a.bench_thread_times {
        print_thread_times(&outcome.threads);
    }
    for e in &outcome.file_errors {
        if a.keep_going {
            eprintln!("phonehome: warning: {e} (--keep-going)");
        } else {
            eprintln!("phonehome: error: {e}");
        }
    }
    if !a.quiet {
        let written = Written {
            events: output.counts.events + output.counts.alerts + 1,
            eve: &a.eve,
            keep_going: a.keep_going.then_some(left_out),
        };
        eprint!("{}", summary(&outcome.stats, elapsed, &written));
        if !a.no_attribution {
            let home = output.judge.policy().home_country();
            eprint!("{}", findings_table(&findings, home));
        }
    }
    // --- evidence bundle (issue #5) ---
    if let Some(index) = output.evidence.take() {
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
    if let Some(inv) = inventory {
        record_run(inv, &findings, &outcome.stats.capture, &cfg.inputs, a.quiet)?;
    }
    let damaged = outcome
        .file_errors
        .iter()
        .any(|e| !matches!(e, CaptureError::EmptyDirectory { .. }));
    Ok(if (damaged && !a.keep_going) || sink_lost {
        EXIT_RUNTIME
    } else if outcome.stopped {
        super::EXIT_STOPPED
    } else {
        EXIT_OK
    })
}

/// Bytes per DNS cache binding at most (name, address, history slot, map).
const DNS_BINDING_BYTES: u64 = 320;

/// Sets the global memory budget from `--memory-limit` (default: half the
/// machine's memory): what is left for the growing tables once the
/// process's memory now (binary, catalog, GeoIP), the pipeline's blocks
/// and events in flight and the DNS cache (sized to an eighth of the limit)
/// are set aside. Returns the DNS cache's settings.
fn memory_budget(limit: Option<u64>, cfg: &ReplayConfig) -> anyhow::Result<DnsCacheConfig> {
    use phonehome::base::budget;
    let mut dns = DnsCacheConfig::default();
    let Some(limit) = limit.or_else(|| budget::machine_memory().map(|m| m / 2)) else {
        return Ok(dns);
    };
    let w = cfg.workers as u64;
    dns.max_bindings = dns
        .max_bindings
        .min((limit / 8 / DNS_BINDING_BYTES).max(1024) as usize);
    let now = budget::resident().unwrap_or(0);
    let pipeline = phonehome::engine::pipeline_bytes(cfg);
    let fixed = now + pipeline + dns.max_bindings as u64 * DNS_BINDING_BYTES;
    let tables = limit.saturating_sub(fixed);
    if tables < 8 << 20 {
        anyhow::bail!(
            "--memory-limit {} MiB is too small: {} MiB are taken before any flow (the catalog and GeoIP data {} MiB, {} workers' blocks and the DNS cache); give at least {} MiB",
            limit >> 20,
            fixed >> 20,
            now >> 20,
            w,
            (fixed >> 20) + 8
        );
    }
    budget::global().set_limit(tables);
    Ok(dns)
}

/// The identity of this run for the sinks' resume after a crash: the
/// command line, and each input's path, size and modification time. The
/// same replay run again after a kill then delivers only what the killed
/// one had not (see `sink::worker::DeliveryState`).
fn run_key(inputs: &[InputFile]) -> u64 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for a in std::env::args_os().skip(1) {
        h.update(a.as_encoded_bytes());
        h.update([0]);
    }
    for i in inputs {
        h.update(i.path.as_os_str().as_encoded_bytes());
        if let Ok(m) = std::fs::metadata(&i.path) {
            h.update(m.len().to_le_bytes());
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            h.update(mtime.to_le_bytes());
        }
    }
    let d = h.finalize();
    let mut k = [0u8; 8];
    k.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(k)
}

/// `replay --inventory`: the store, opened before the run (a bad location
/// fails before the capture is read), and what the run record needs.
struct InventoryRun {
    store: phonehome::inventory::Store,
    sensor_id: String,
    /// (vendor, product) → product kind.
    kinds: HashMap<(String, String), &'static str>,
    catalog_version: String,
    home_country: String,
    /// Which policy judged the run (see [`policy_identity`]).
    policy: String,
    collector: Collector,
}

/// Names the policy in the inventory: the file's name and the start of its
/// SHA-256 (an edited policy is another policy), or the default one.
fn policy_identity(path: Option<&std::path::Path>, home: &str) -> anyhow::Result<String> {
    use sha2::Digest;
    let Some(path) = path else {
        return Ok(format!("default policy for {home}"));
    };
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read policy {}", path.display()))?;
    let digest = sha2::Sha256::digest(&bytes);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(format!("{name} sha256:{hex}"))
}

/// The machine's host name, the default sensor id.
fn default_sensor_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sensor".to_owned())
}

fn product_kinds(catalog: &Catalog) -> HashMap<(String, String), &'static str> {
    let mut m = HashMap::new();
    for v in catalog.vendors() {
        for p in &v.products {
            if let Some(k) = p.kind.category() {
                m.insert((v.name.clone(), p.name.clone()), k);
            }
        }
    }
    m
}

/// What names the catalog a run used, in the inventory and the report.
fn catalog_version(catalog: &Catalog) -> String {
    format!(
        "phonehome {} catalog: {} vendors, {} endpoints",
        env!("CARGO_PKG_VERSION"),
        catalog.vendors().len(),
        catalog.endpoint_count()
    )
}

/// Writes the run's record into the inventory, after the run.
fn record_run(
    mut inv: InventoryRun,
    findings: &[Finding],
    capture: &phonehome::capture::CaptureStats,
    inputs: &[InputFile],
    quiet: bool,
) -> anyhow::Result<()> {
    let collected = inv.collector.finish();
    let source: Vec<String> = inputs
        .iter()
        .map(|f| {
            f.path.file_name().map_or_else(
                || f.path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let info = RunInfo {
        sensor_id: &inv.sensor_id,
        source: &source.join(", "),
        catalog_version: &inv.catalog_version,
        home_country: &inv.home_country,
        policy: &inv.policy,
        first_ts: capture.first_ts,
        last_ts: capture.last_ts,
        packets: capture.pkts,
        bytes: capture.bytes,
    };
    let kinds = &inv.kinds;
    let run = phonehome::inventory::collect::record(&info, findings, &collected, &|v, p| {
        kinds
            .get(&(v.to_owned(), p.to_owned()))
            .map(|k| (*k).to_owned())
    });
    let location = inv.store.location().to_owned();
    inv.store
        .write_run(&run)
        .with_context(|| format!("cannot record the run in inventory {location}"))?;
    if !quiet {
        eprintln!(
            "  inventory: run {} of sensor {} recorded in {location}: {} host(s), {} finding(s), {} address binding(s){}",
            run.run_id,
            run.sensor_id,
            run.hosts.len(),
            run.findings.len(),
            run.identities.len(),
            if collected.activity_shed > 0 {
                format!(" ({} addresses not tracked: table full)", collected.activity_shed)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// The findings as a table an analyst reads at the end of a replay, its
/// columns sized by display width.
pub fn findings_table(findings: &[Finding], home: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if findings.is_empty() {
        let _ = writeln!(s, "  findings: none (home country {home})");
        return s;
    }
    let _ = writeln!(s, "  findings ({}, home country {home}):", findings.len());
    let mut t = Table::new(
        2,
        &[
            "SEVERITY",
            "HOST",
            "VENDOR / PRODUCT",
            "VENDOR CC",
            "FLOWS",
            "DEST CC",
            "EVIDENCE",
        ],
    )
    .max_width(2, 40)
    .align(4, Align::Right);
    let mut rows: Vec<&Finding> = findings.iter().collect();
    rows.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.host.cmp(&b.host)));
    for f in rows {
        // The tier when it is not a documented endpoint: an analyst weighs
        // an owned-domain or owned-network attribution differently.
        let ev = f.best_evidence().map_or(String::new(), |e| match e.tier {
            phonehome::resolve::catalog::Tier::Endpoint => {
                format!("{} ({})", e.value, e.kind.label())
            }
            t => format!("{} ({}, {})", e.value, e.kind.label(), t.label()),
        });
        let mark = match &f.exception {
            Some(x) if !x.expired => format!(
                " [excepted: {}{}]",
                x.reason,
                x.expires
                    .as_deref()
                    .map_or(String::new(), |d| format!(", until {d}"))
            ),
            _ => String::new(),
        };
        t.row(vec![
            f.severity.as_str().to_string(),
            f.host.to_string(),
            format!("{} / {}", f.vendor, f.product),
            f.vendor_country.join("/"),
            f.flows.to_string(),
            dest_countries(f),
            format!("{ev}{mark}"),
        ]);
    }
    s.push_str(&t.render());
    s
}

/// Where a finding's traffic went, by country: a destination with no
/// country is "unknown", or "unknown (proxy)" when only a proxy's CONNECT
/// named it (the proxy's own address says nothing of where it went).
fn dest_countries(f: &Finding) -> String {
    if f.dns_only {
        return "dns only".into();
    }
    let mut cc: Vec<&str> = f.destination_countries();
    if f.destinations
        .iter()
        .any(|d| d.country.is_none() && d.ip.is_some())
    {
        cc.push("unknown");
    }
    if f.destinations
        .iter()
        .any(|d| d.country.is_none() && d.ip.is_none())
    {
        cc.push("unknown (proxy)");
    }
    cc.join(",")
}

/// What `replay --evidence` needs from the replay.
struct EvidenceRun<'a> {
    options: &'a EvidenceArgs,
    inputs: &'a [InputFile],
    index: &'a FlowIndex,
    findings: &'a [Finding],
    eve: EveTarget,
    home_country: &'a str,
    /// Packets the replay read (the evidence pass must read as many).
    replayed_packets: u64,
    quiet: bool,
}

/// The evidence pass and the bundle, with a progress bar and a summary line.
fn run_evidence(r: &EvidenceRun<'_>) -> Result<BundleSummary, EvidenceError> {
    let Some(dir) = r.options.evidence.as_deref() else {
        return Err(EvidenceError::Internal("no evidence directory"));
    };
    let started = std::time::Instant::now();
    let total: u64 = r
        .inputs
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    let progress = Arc::new(Progress::default());
    let bar = Bar::start("evidence", total, Arc::clone(&progress), r.quiet);
    let limits = r.options.limits();
    let extracted = phonehome::evidence::extract(
        r.inputs,
        r.index,
        r.findings,
        dir,
        limits,
        r.replayed_packets,
        &progress,
    );
    drop(bar);
    let extracted = extracted?;
    let summary = bundle::write_bundle(&BundleInput {
        dir,
        inputs: r.inputs,
        eve: r.eve.clone(),
        findings: r.findings,
        extracted: &extracted,
        limits,
        home_country: r.home_country,
        live: None,
    })?;
    if !r.quiet {
        let st = &extracted.stats;
        let cut: u64 = extracted.findings.iter().map(|f| f.flows_cut).sum();
        let over_bytes: u64 = extracted
            .findings
            .iter()
            .map(|f| f.packets_over_byte_limit)
            .sum();
        eprintln!(
            "  evidence: {} pcapng file(s), {} packets of {} flow(s) ({} flow(s) cut at {} packets, {} packets over the {}-byte limit) in {:.2}s; {} files in {}/{MANIFEST}",
            summary.evidence_files,
            st.packets_written,
            r.index.flows.len(),
            cut,
            limits.packets_per_flow,
            over_bytes,
            limits.bytes_per_finding,
            started.elapsed().as_secs_f64(),
            summary.files,
            dir.display(),
        );
        if st.fragments_unkeyed > 0 || st.fragments_not_held > 0 || r.index.dropped() > 0 {
            eprintln!(
                "  evidence: note: {} reassembled datagram(s) written as their last fragment only (fragments inside a tunnel), {} fragment(s) not held (bounds), {} flow(s) not indexed (bounds)",
                st.fragments_unkeyed,
                st.fragments_not_held,
                r.index.dropped()
            );
        }
    }
    Ok(summary)
}

/// `--bench-thread-times`: one line per engine thread, then the main thread
/// (start-up, the ordered stage, the final report) and the whole process
/// (every thread, those that ended included), all taken now.
fn print_thread_times(threads: &[(String, phonehome::base::cpu::CpuTime)]) {
    use phonehome::base::cpu::CpuTime;
    let main = CpuTime::thread().unwrap_or_default();
    let process = CpuTime::process().unwrap_or_default();
    for (name, t) in threads {
        eprintln!("phonehome: thread-times: {name} {t}");
    }
    eprintln!("phonehome: thread-times: main {main}");
    eprintln!("phonehome: thread-times: process {process}");
}
