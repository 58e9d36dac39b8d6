//! gencap command line: writes phonehome's own demo and benchmark captures.

use clap::{Parser, Subcommand};
use gencap::pcap::Format;
use gencap::{bench, demo, hostile, GenError};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Deterministic generator of phonehome's own captures.
///
/// Same version, same arguments: same bytes, on every machine and every run (fixed seeds, no
/// clock, no hash-map order). Independent of the phonehome crate.
#[derive(Parser)]
#[command(
    name = "gencap",
    version,
    after_help = "Examples:\n  gencap demo -o captures/demo.pcap      (also writes captures/demo.expected.json)\n  gencap bench -o /tmp/bench.pcap        (8,000,000 packets, ~3 GB)\n  gencap bench -o /tmp/b.pcap.gz --packets 100000 --format pcapng"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The demo scene: an enterprise network whose security agents phone home (~10 minutes,
    /// a few hundred packets). Also writes `<stem>.expected.json` next to the capture: every
    /// flow, its counters, names and fingerprints, as the generator built them.
    ///
    /// The committed copy is regenerated with: cargo run -p gencap -- demo -o captures/demo.pcap
    Demo {
        /// Output capture path (e.g. captures/demo.pcap).
        #[arg(short, long)]
        output: PathBuf,
        /// Capture format.
        #[arg(long, value_enum, default_value = "pcap")]
        format: Format,
        /// Where to write the expected JSON (default: next to the capture, <stem>.expected.json).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The "enterprise mix" benchmark capture, streamed to disk in constant memory: many hosts,
    /// VLANs and QinQ, ~20 % IPv6, mostly TLS over TCP, DNS, QUIC, NTP, IPv4 fragments, a few
    /// percent of flows to security vendors. A name ending in .gz is gzip-compressed.
    Bench {
        /// Output capture path.
        #[arg(short, long)]
        output: PathBuf,
        /// Number of packets (frames) to write.
        #[arg(long, default_value_t = bench::DEFAULT_PACKETS)]
        packets: u64,
        /// Capture format.
        #[arg(long, value_enum, default_value = "pcap")]
        format: Format,
        /// Traffic mix: the enterprise mix, or a second seed with more QUIC and shorter flows.
        #[arg(long, value_enum, default_value = "enterprise")]
        mix: MixArg,
    },
    /// The removal programme (issue 13): week N (1-4) of an office dropping its foreign
    /// security agents: DHCP leases, pings, agents' TLS hellos (see src/programme.rs).
    Programme {
        /// Week, 1 to 4.
        #[arg(long)]
        week: u8,
        /// Output capture path (classic pcap).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// The hostile-input suite: floods, cost bombs, damaged gzip, odd encapsulation, each
    /// around one catalogued connection that must survive (what tests/hostile.rs replays).
    Hostile {
        /// Directory to write the captures into (created if missing).
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum MixArg {
    Enterprise,
    QuicShort,
}

impl MixArg {
    fn mix(self) -> bench::Mix {
        match self {
            MixArg::Enterprise => bench::Mix::ENTERPRISE,
            MixArg::QuicShort => bench::Mix::QUIC_SHORT,
        }
    }
}

fn expected_path(capture: &Path) -> PathBuf {
    let name = capture
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("capture");
    let mut stem = name;
    for ext in [".gz", ".pcapng", ".pcap"] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    capture.with_file_name(format!("{stem}.expected.json"))
}

fn run(cli: Cli) -> Result<(), GenError> {
    match cli.cmd {
        Cmd::Demo {
            output,
            format,
            json,
        } => {
            let file = output
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("demo.pcap")
                .to_string();
            let (bytes, expected) = demo::generate(format, &file)?;
            std::fs::write(&output, &bytes)?;
            let jpath = json.unwrap_or_else(|| expected_path(&output));
            std::fs::write(&jpath, demo::expected_json(&expected)?)?;
            eprintln!(
                "gencap demo: {} packets, {} flows, {} bytes -> {}; expected -> {}",
                expected.capture.packets,
                expected.flows.len(),
                bytes.len(),
                output.display(),
                jpath.display()
            );
        }
        Cmd::Hostile { output } => {
            std::fs::create_dir_all(&output)?;
            for c in hostile::write_all(&output)? {
                let size = std::fs::metadata(&c.path).map(|m| m.len()).unwrap_or(0);
                eprintln!(
                    "gencap hostile: {:<26} {:>10} bytes  {}",
                    c.name, size, c.what
                );
            }
        }
        Cmd::Bench {
            output,
            packets,
            format,
            mix,
        } => {
            let start = Instant::now();
            let file = BufWriter::with_capacity(1 << 20, File::create(&output)?);
            let gz = output.extension().is_some_and(|e| e == "gz");
            let stats = if gz {
                let enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                let (s, enc) = bench::generate_mix(enc, format, packets, mix.mix())?;
                enc.finish()?.flush()?;
                s
            } else {
                let (s, mut f) = bench::generate_mix(file, format, packets, mix.mix())?;
                f.flush()?;
                s
            };
            let secs = start.elapsed().as_secs_f64();
            eprintln!(
                "gencap bench: {} packets, {} frame bytes ({:.1} MB, mean {:.0} B/packet), {} file bytes, \
                 {} flows ({} IPv6, {} to security vendors, {} long), {} IPv4 fragments, \
                 {:.1} s of capture time -> {}",
                stats.packets,
                stats.frame_bytes,
                stats.frame_bytes as f64 / 1e6,
                stats.frame_bytes as f64 / stats.packets.max(1) as f64,
                stats.file_bytes,
                stats.flows,
                stats.flows_v6,
                stats.vendor_flows,
                stats.long_flows,
                stats.fragments,
                (stats.last_ts_us - stats.first_ts_us) as f64 / 1e6,
                output.display()
            );
            eprintln!(
                "gencap bench: generated in {secs:.2} s ({:.2} M packets/s)",
                stats.packets as f64 / secs.max(1e-9) / 1e6
            );
        }
        Cmd::Programme { week, output } => {
            std::fs::write(&output, gencap::programme::week(week)?)?;
            eprintln!("gencap programme: week {week} -> {}", output.display());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gencap: {e}");
            ExitCode::FAILURE
        }
    }
}
