//! `phonehome live`: a sensor on network interfaces (taps, SPAN ports).
//!
//! The same pipeline as `replay` over a live source: alerts stream by
//! default, a `stats` event every `--stats-interval` (cumulative and per
//! interval, kernel drops included), an optional Prometheus endpoint,
//! SIGTERM/SIGINT for a graceful stop (exit 0), SIGHUP to reopen the EVE
//! file and reload the catalog, policy and GeoIP (a bad file keeps the old
//! one), `--user` to drop root once the interfaces are open.

use super::replay::EvidenceArgs;
use super::setup::Alerts;
use super::setup::{self, Eve};
use super::signals;
use super::sinks::SinkArgs;
use super::{GeoIpFlags, DEFAULT_HOME, EXIT_OK};
use anyhow::Context;
use clap::Args;
use phonehome::base::Progress;
use phonehome::capture::live::pipe::PipeSource;
use phonehome::capture::live::{privilege, LiveConfig, LiveSource};
use phonehome::capture::{Block, CaptureError, CaptureFile, PacketSource, Pull, SourceCounts};
use phonehome::dissect::EventKind;
use phonehome::engine::output::Output;
use phonehome::engine::{self, EngineCounters, ReplayConfig};
use phonehome::evidence::bundle::{EveTarget, MANIFEST};
use phonehome::evidence::{FlowIndex, LiveEvidence};
use phonehome::flow::{FlowConfig, FlowStats};
use phonehome::health::{self, stats::Interval, Shared, Snapshot};
use phonehome::judge::policy::Policy;
use phonehome::output::RunStats;
use phonehome::resolve::dns_cache::DnsCacheConfig;
use phonehome::resolve::geoip::GeoIp;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct LiveArgs {
    /// Interface to capture on (repeat for several: both directions of a
    /// tap on two ports join one flow).
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        required_unless_present = "read"
    )]
    pub interfaces: Vec<String>,

    /// Read a pcap or pcapng stream instead of interfaces ("-": standard
    /// input, e.g. `tcpdump -U -w - | phonehome live -r -`): alerts, stats,
    /// metrics and signals as on an interface; ends when the stream does.
    #[arg(short = 'r', long = "read", value_name = "FILE|-",
          conflicts_with_all = ["interfaces", "bpf", "user"])]
    pub read: Option<PathBuf>,

    /// Capture filter in tcpdump syntax (compiled by libpcap, applied in the kernel).
    #[arg(long, value_name = "EXPR")]
    pub bpf: Option<String>,

    /// Bytes kept of each packet.
    #[arg(long, value_name = "BYTES", default_value_t = 262_144,
          value_parser = clap::value_parser!(u32).range(64..=262_144))]
    pub snaplen: u32,

    /// Promiscuous mode (a SPAN port or tap needs it): --promisc false to turn off.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub promisc: bool,

    /// Kernel capture ring per interface, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=2047))]
    pub buffer_size: u32,

    /// Seconds between `stats` events (cumulative and per interval).
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub stats_interval: u64,

    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9750), at /metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,

    /// Run as this user once the interfaces are open, keeping only
    /// CAP_NET_RAW and CAP_NET_ADMIN (to re-open an interface that went down).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Where to write EVE JSON lines ("-" for standard output). Reopened on SIGHUP.
    #[arg(long, value_name = "FILE|-", default_value = "eve.json")]
    pub eve: String,

    /// Worker threads [default: number of CPU cores].
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

    /// A flow open longer than this is written out and continues ("active_timeout").
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub active_timeout: u64,

    /// No messages on stderr but errors.
    #[arg(long, short)]
    pub quiet: bool,

    /// Jurisdiction policy file (reloaded on SIGHUP).
    #[arg(long, value_name = "FILE", conflicts_with = "home_country")]
    pub policy: Option<PathBuf>,

    /// Home country (ISO alpha-2) for the default policy, when no --policy is given.
    #[arg(long, value_name = "CC", default_value = DEFAULT_HOME)]
    pub home_country: String,

    /// A directory of vendor TOML files instead of the built-in catalog (reloaded on SIGHUP).
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,

    /// A directory of the site's own vendor TOML files, added on top of the catalog.
    #[arg(long, value_name = "DIR")]
    pub catalog_extra: Option<PathBuf>,

    /// Start even if the catalog has entry errors (those entries are left out).
    #[arg(long)]
    pub allow_catalog_errors: bool,

    #[command(flatten)]
    pub geoip: GeoIpFlags,

    /// When alerts are written: "stream" (as activity arrives, deduplicated)
    /// or "end" (at shutdown).
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = Alerts::Stream)]
    pub alerts: Alerts,

    #[command(flatten)]
    pub sinks: SinkArgs,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    /// Memory for the packets kept while their flows are open, awaiting
    /// judgement (K/M/G); beyond it the oldest flows' packets are shed, and
    /// counted (findings.json "live").
    #[arg(long, value_name = "BYTES", default_value = "256M", requires = "evidence",
          value_parser = phonehome::sink::config::parse_size)]
    pub evidence_memory: u64,
}

/// The catalog and policy files as the command line named them, to reload.
struct Sources<'a> {
    a: &'a LiveArgs,
}

impl Sources<'_> {
    fn policy(&self) -> anyhow::Result<Policy> {
        setup::load_policy(self.a.policy.as_deref(), &self.a.home_country)
    }

    fn catalog(&self, policy: &Policy) -> anyhow::Result<phonehome::resolve::catalog::Catalog> {
        setup::load_catalog(
            self.a.catalog.as_deref(),
            self.a.catalog_extra.as_deref(),
            self.a.allow_catalog_errors,
            policy,
            self.a.policy.as_deref(),
        )
    }
}

/// What `live` reads: interfaces, or a capture stream (`-r`).
enum Source {
    Interfaces(Box<LiveSource>),
    Stream(PipeSource),
}

impl PacketSource for Source {
    fn pull(&mut self, block: &mut Block, target: usize) -> Pull {
        match self {
            Source::Interfaces(s) => s.pull(block, target),
            Source::Stream(s) => s.pull(block, target),
        }
    }

    fn take_errors(&mut self) -> Vec<CaptureError> {
        match self {
            Source::Interfaces(s) => s.take_errors(),
            Source::Stream(s) => s.take_errors(),
        }
    }

    fn counts(&self) -> SourceCounts {
        match self {
            Source::Interfaces(s) => s.counts(),
            Source::Stream(s) => s.counts(),
        }
    }

    fn disk_bytes(&self) -> u64 {
        0
    }
}

fn wall_ns() -> u64 {
    health::wall_ns()
}

pub fn run(a: &LiveArgs) -> anyhow::Result<u8> {
    let sources = Sources { a };
    let policy = sources.policy()?;
    let catalog = sources.catalog(&policy)?;
    let geoip = GeoIp::open(&a.geoip.options().to_config()?)?;
    let sink_settings = a.sinks.settings(&a.eve)?;

    // Open the interfaces: the one step that needs the capabilities.
    let live_cfg = LiveConfig {
        interfaces: a.interfaces.clone(),
        snaplen: a.snaplen,
        promisc: a.promisc,
        buffer_size: (a.buffer_size as usize) << 20,
        bpf: a.bpf.clone(),
        ..LiveConfig::default()
    };
    let flags_stop = phonehome::base::stop::Stop::new();
    let (mut interfaces, stream) = match &a.read {
        // A bad header is reported before anything is written, as replay does.
        Some(path) => (None, Some(CaptureFile::open(path)?)),
        None => (Some(LiveSource::open(live_cfg, flags_stop.clone())?), None),
    };
    if let Some(user) = &a.user {
        // Before any thread starts: capability sets are per thread.
        let uid = privilege::drop_privileges(user)?;
        if !a.quiet {
            eprintln!(
                "phonehome: running as {user} (uid {uid}), keeping CAP_NET_RAW and CAP_NET_ADMIN only"
            );
        }
    }
    // After the switch: a thread started before it would keep root's powers.
    let flags = signals::install(flags_stop.clone(), true, a.quiet)?;

    // The evidence directory is refused before anything is written, as replay does.
    let mut evidence = match &a.evidence.evidence {
        Some(dir) => {
            let eve = (a.eve != "-").then(|| std::path::Path::new(&a.eve));
            let max = usize::try_from(a.evidence_memory).unwrap_or(usize::MAX);
            Some(LiveEvidence::new(dir, eve, a.evidence.limits(), max)?)
        }
        None => None,
    };
    let what = match &a.read {
        Some(path) => path.display().to_string(),
        None => {
            let names: Vec<String> = a.interfaces.iter().map(|i| format!("live:{i}")).collect();
            names.join(",")
        }
    };
    let mut output = setup::build_output(setup::OutputParts {
        catalog,
        geoip,
        dns_cache: DnsCacheConfig::default(),
        policy,
        eve: &a.eve,
        names: vec![what.clone()],
        alerts: a.alerts,
        sinks: &sink_settings,
    })?;

    let mut cfg = ReplayConfig::new(Vec::new());
    // The workers write `pcap_filename` into each EVE head: the same name
    // as the writer's.
    cfg.file_names = vec![what.clone()];
    if let Some(w) = a.workers {
        cfg.workers = usize::from(w);
    }
    cfg.flow = FlowConfig {
        max_flows: (a.max_flows / cfg.workers).max(1),
        idle_timeout: a.idle_timeout,
        tcp_idle_timeout: a.tcp_idle_timeout,
        active_timeout: a.active_timeout,
        community_id_seed: a.community_id_seed,
        ..FlowConfig::default()
    };
    // The stop flag goes to the live source, not the engine: the source
    // first hands out what its readers already took from the kernel, then ends.
    cfg.stop = None;
    let counters = Arc::new(EngineCounters::new(cfg.workers));
    cfg.counters = Some(Arc::clone(&counters));
    // The workers look destinations up in GeoIP (a SIGHUP reload reaches
    // them at their next batch) and write the lines whole.
    cfg.geo = output.attribute.then(|| output.resolver.geo_share());
    cfg.catalog = output.attribute.then(|| output.resolver.catalog_share());
    // Evidence: every batch also reaches the keeper, on this (the output)
    // thread; the channel holds no more than the batches in flight.
    let tap = evidence.as_ref().map(|_| {
        let (tx, rx) = crossbeam_channel::bounded(64);
        cfg.tap = Some(tx);
        output.evidence = Some(FlowIndex::new(Default::default()));
        rx
    });

    let shared = Shared::new(
        interfaces
            .as_ref()
            .map(|s| s.counters())
            .unwrap_or_default(),
    );
    if let Some(addr) = a.metrics {
        let bound = health::metrics::serve(addr, shared.clone())
            .with_context(|| format!("--metrics {addr}: cannot listen there"))?;
        if !a.quiet {
            eprintln!("phonehome: metrics at http://{bound}/metrics");
        }
    }
    // Reading starts after the signal handlers and the privilege switch.
    let (source, handed) = match (interfaces.take(), stream) {
        (Some(mut s), _) => {
            let h = s.handed();
            s.start()?;
            (Source::Interfaces(Box::new(s)), h)
        }
        (None, Some(f)) => {
            let s = PipeSource::start(f, flags_stop.clone(), Duration::from_secs(1))
                .context("cannot start the thread reading the capture stream")?;
            let h = s.handed();
            (Source::Stream(s), h)
        }
        (None, None) => anyhow::bail!("nothing to read: give -i IFACE or -r FILE|-"),
    };
    if !a.quiet {
        let on = match &a.read {
            Some(_) => format!("reading {what}"),
            None => format!("capturing on {}", a.interfaces.join(", ")),
        };
        eprintln!(
            "phonehome: {on} ({} worker(s)); EVE to {}; SIGTERM or Ctrl-C stops",
            cfg.workers, a.eve
        );
    }

    let started = Instant::now();
    let first_wall = wall_ns();
    let output = RefCell::new(output);
    let evidence_cell = RefCell::new(evidence.take());
    // Hands the keeper every batch read so far: all packets before the
    // event about to be judged.
    let drain = || -> anyhow::Result<()> {
        if let (Some(rx), Some(ev)) = (&tap, evidence_cell.borrow_mut().as_mut()) {
            while let Ok(b) = rx.try_recv() {
                ev.batch(&b).context("live --evidence")?;
            }
        }
        Ok(())
    };
    let mut interval = Interval::default();
    let mut reloads = (0u64, 0u64);
    let mut stats_events = 0u64;
    let mut next_stats = Instant::now() + Duration::from_secs(a.stats_interval);
    let mut next_health = Instant::now();

    // What the sensor knows of itself now (the output stage's view).
    let snapshot = |out: &Output<Eve>, reloads: (u64, u64), stats_events: u64| {
        let dns = out.resolver.dns_stats();
        let mut s = Snapshot {
            wall_ns: wall_ns(),
            uptime_secs: started.elapsed().as_secs_f64(),
            interfaces: shared.interface_stats(),
            packets: handed.packets.load(Ordering::Relaxed),
            bytes: handed.bytes.load(Ordering::Relaxed),
            worker_queue_full: counters
                .workers
                .iter()
                .map(|w| w.queue_full.load(Ordering::Relaxed))
                .collect(),
            worker_queue_wait_ns: counters
                .workers
                .iter()
                .map(|w| w.queue_wait_ns.load(Ordering::Relaxed))
                .collect(),
            dns_cache_bindings_now: dns.bindings,
            dns_cache_evicted: dns.evicted,
            dns_pending_dropped: dns.pending_dropped,
            events: out.counts.events + out.counts.alerts + stats_events,
            alerts: out.counts.alerts,
            sinks: out.sinks.health(),
            reloads_ok: reloads.0,
            reloads_failed: reloads.1,
            resident_bytes_now: health::resident_bytes(),
            ..Snapshot::default()
        };
        s.packets_invalid = s.decode.get(phonehome::decode::Counter::Invalid);
        if let Ok(d) = counters.reader_decode.lock() {
            s.decode.merge(&d);
        }
        for w in &counters.workers {
            if let Ok(d) = w.decode.lock() {
                s.decode.merge(&d);
            }
            s.flows_active_now += w.flows_active.load(Ordering::Relaxed);
            s.flows_created += w.flows_created.load(Ordering::Relaxed);
            s.flows_evicted += w.flows_evicted.load(Ordering::Relaxed);
            s.flows_timed_out += w.flows_timed_out.load(Ordering::Relaxed);
        }
        s
    };
    // The stats event's usual body from the live counters.
    let run_stats = |s: &Snapshot| {
        let mut st = RunStats::default();
        st.capture.files = 1;
        st.capture.pkts = s.packets;
        st.capture.bytes = s.bytes;
        st.capture.first_ts = Some(first_wall);
        st.capture.last_ts = Some(s.wall_ns);
        st.decode = s.decode.clone();
        st.flows = FlowStats {
            created: s.flows_created,
            ended_forced: s.flows_evicted,
            ended_timeout: s.flows_timed_out,
            ..FlowStats::default()
        };
        st
    };

    let progress = Arc::new(Progress::default());
    let eve_name = a.eve.clone();
    let result = engine::run_with(
        &cfg,
        source,
        progress,
        &mut |ev, line| {
            drain()?;
            let mut out = output.borrow_mut();
            out.event_prepared(ev, Some(line))
                .with_context(|| format!("cannot write EVE output to {eve_name}"))?;
            if let (EventKind::Flow(f), Some(keeper), Some(index)) = (
                &ev.kind,
                evidence_cell.borrow_mut().as_mut(),
                out.evidence.as_ref(),
            ) {
                keeper
                    .on_flow(ev.key, f, index)
                    .context("live --evidence")?;
            }
            Ok(())
        },
        &mut |clock| {
            drain()?;
            let mut out = output.borrow_mut();
            if flags.take_hup() {
                match reload(&sources, &mut out) {
                    Ok(()) => {
                        reloads.0 += 1;
                        if !a.quiet {
                            eprintln!("phonehome: SIGHUP: reloaded catalog, policy and GeoIP; EVE file reopened");
                        }
                    }
                    Err(e) => {
                        reloads.1 += 1;
                        eprintln!(
                            "phonehome: SIGHUP: {}; keeping the catalog, policy and GeoIP in use",
                            super::one_line(&e)
                        );
                    }
                }
            }
            // Stream mode's timers (DNS grace, dedup windows) run on the
            // capture clock of what was processed, not the wall clock: a
            // stream (-r) may be a recorded capture, and a busy pipeline lags.
            if let Some(clock) = clock {
                out.tick(clock)?;
            }
            let now = Instant::now();
            if now >= next_health {
                shared.set(snapshot(&out, reloads, stats_events));
                next_health = now + Duration::from_secs(1);
            }
            if now >= next_stats {
                next_stats = now + Duration::from_secs(a.stats_interval);
                let s = snapshot(&out, reloads, stats_events);
                let st = run_stats(&s);
                out.stats_with(&st, false, |line| interval.splice(line, &s, false))
                    .with_context(|| format!("cannot write EVE output to {eve_name}"))?;
                out.eve.flush()?;
                stats_events += 1;
            }
            Ok(())
        },
    );
    let outcome = result?;
    drain()?;
    let mut output = output.into_inner();
    // Stream mode: only the updates of open deduplication windows are left.
    let findings = output
        .finish()
        .with_context(|| format!("cannot write EVE output to {}", a.eve))?;
    let mut s = snapshot(&output, reloads, stats_events);
    // The workers' final counts are exact: use them.
    s.flows_created = outcome.stats.flows.created;
    s.flows_evicted = outcome.stats.flows.ended_forced;
    s.flows_timed_out = outcome.stats.flows.ended_timeout;
    s.flows_active_now = 0;
    s.decode = outcome.stats.decode.clone();
    let mut st = outcome.stats.clone();
    st.capture.first_ts = Some(first_wall);
    st.capture.last_ts = Some(s.wall_ns);
    output
        .stats_with(&st, true, |line| interval.splice(line, &s, true))
        .and_then(|()| output.eve.flush())
        .with_context(|| format!("cannot write EVE output to {}", a.eve))?;
    for r in output.finish_sinks() {
        if !a.quiet || r.backlog > 0 || r.counts.dropped > 0 {
            eprintln!("phonehome: {r}");
        }
    }
    if let (Some(keeper), Some(index), Some(dir)) = (
        evidence_cell.into_inner(),
        output.evidence.take(),
        a.evidence.evidence.as_deref(),
    ) {
        let eve = if a.eve == "-" {
            EveTarget::Stdout
        } else {
            EveTarget::File(PathBuf::from(&a.eve))
        };
        let home = output.judge.policy().home_country().to_owned();
        let (summary, extracted, kept) = keeper
            .finish(&findings, &index, eve, &what, &home)
            .context("live --evidence")?;
        if !a.quiet || kept.flows_shed > 0 {
            eprintln!(
                "phonehome: evidence: {} pcapng file(s), {} packets in {}/{MANIFEST}; {} packets kept while flows were open (at most {} bytes held of {}), {} flow(s) shed ({} packets) to stay within --evidence-memory",
                summary.evidence_files,
                extracted.stats.packets_written,
                dir.display(),
                kept.packets_kept,
                kept.held_bytes_max,
                kept.memory_limit_bytes,
                kept.flows_shed,
                kept.packets_shed,
            );
        }
    }
    if !a.quiet {
        let k = s.kernel_received();
        eprintln!(
            "phonehome: stopped after {:.1}s: {} packets captured, kernel {} received / {} dropped / {} dropped by the interface; {} flows, {} alerts",
            started.elapsed().as_secs_f64(),
            s.packets,
            k,
            s.kernel_dropped(),
            s.kernel_if_dropped(),
            s.flows_created,
            output.counts.alerts
        );
    }
    Ok(EXIT_OK)
}

/// SIGHUP: loads the policy, catalog and GeoIP again and swaps them in, all
/// or nothing: an error keeps everything in use and names the file and line.
fn reload(sources: &Sources<'_>, out: &mut Output<Eve>) -> anyhow::Result<()> {
    let policy = sources.policy()?;
    let catalog = sources.catalog(&policy)?;
    let geoip = GeoIp::open(&sources.a.geoip.options().to_config()?)?;
    out.judge.set_policy(policy);
    out.resolver.set_catalog(catalog);
    out.resolver.set_geoip(geoip);
    out.restart_dedup()?;
    Ok(())
}
