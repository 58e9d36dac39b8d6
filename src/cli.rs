//! Command line: argument parsing, exit codes and the human side of each command.
//!
//! Exit codes are stable: 0 success, 1 runtime error (bad or damaged input,
//! unwritable output; output is still written for what could be read),
//! 2 usage error.

use crate::capture::{expand_inputs, CaptureError};
use crate::engine::{self, Progress, ReplayConfig};
use crate::flow::FlowConfig;
use crate::report::eve::EveWriter;
use crate::report::summary::summary;
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
tracks every flow, and writes Suricata-compatible EVE JSON for SOC tools.\n\n\
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
    /// Replay capture files and write EVE JSON events.
    Replay(ReplayArgs),
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
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("phonehome: error: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn open_output(spec: &str) -> anyhow::Result<Box<dyn Write + Send>> {
    if spec == "-" {
        return Ok(Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        )));
    }
    let f = std::fs::File::create(spec).with_context(|| {
        format!("cannot write EVE output to {spec}: check the directory exists and is writable")
    })?;
    Ok(Box::new(std::io::BufWriter::with_capacity(1 << 16, f)))
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
    let out = open_output(&a.eve)?;
    let mut eve = EveWriter::new(out, names);
    let progress = Arc::new(Progress::default());
    let bar = if !a.quiet && std::io::stderr().is_terminal() {
        progress_bar(total_bytes, Arc::clone(&progress))
    } else {
        None
    };
    let started = Instant::now();
    let eve_name = a.eve.clone();
    let result = engine::replay(&cfg, Arc::clone(&progress), &mut |ev| {
        eve.event(&ev)
            .with_context(|| format!("cannot write EVE output to {eve_name}"))
    });
    if let Some((pb, h, stop)) = bar {
        stop.store(true, Ordering::Relaxed);
        let _ = h.join();
        pb.finish_and_clear();
    }
    let outcome = result?;
    eve.stats(&outcome.stats)
        .and_then(|()| eve.flush())
        .with_context(|| format!("cannot write EVE output to {}", a.eve))?;
    let elapsed = started.elapsed();
    for e in &outcome.file_errors {
        eprintln!("phonehome: error: {e}");
    }
    if !a.quiet {
        eprint!(
            "{}",
            summary(&outcome.stats, elapsed, outcome.stats.events + 1)
        );
    }
    let damaged = outcome
        .file_errors
        .iter()
        .any(|e| !matches!(e, CaptureError::EmptyDirectory { .. }));
    Ok(if damaged { EXIT_RUNTIME } else { EXIT_OK })
}
