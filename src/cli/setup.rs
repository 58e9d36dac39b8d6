//! What `replay` and `live` set up alike: the policy and catalog from the
//! command line, the EVE output, and the output stage with its sinks.

use super::load_catalog_strict;
use anyhow::Context;
use clap::ValueEnum;
use phonehome::base::stop::LineGuard;
use phonehome::engine::output::AlertMode;
use phonehome::engine::output::Output;
use phonehome::judge::policy::Policy;
use phonehome::judge::Judge;
use phonehome::output::eve::EveWriter;
use phonehome::resolve::catalog::Catalog;
use phonehome::resolve::dns_cache::DnsCacheConfig;
use phonehome::resolve::geoip::GeoIp;
use phonehome::resolve::Resolver;
use phonehome::sink::config::{Rotate, SinkSettings};
use std::io::Write;
use std::path::Path;

/// The EVE output as both commands write it.
pub type Eve = Box<dyn Write + Send>;

/// `--policy FILE`, or the default policy for `--home-country`.
pub fn load_policy(file: Option<&Path>, home_country: &str) -> anyhow::Result<Policy> {
    Ok(match file {
        Some(p) => Policy::load(p)?,
        None => Policy::default_for(home_country)?,
    })
}

/// `--catalog`, with `--catalog-extra` (or the policy's `catalog_extra`) on
/// top; a policy file's exceptions must name what the catalog has (an
/// exception naming what it lacks would never apply).
pub fn load_catalog(
    dir: Option<&Path>,
    extra: Option<&Path>,
    allow_errors: bool,
    policy: &Policy,
    policy_file: Option<&Path>,
) -> anyhow::Result<Catalog> {
    let extra = extra.or(policy.catalog_extra());
    let catalog = load_catalog_strict(dir, extra, allow_errors)?;
    if let Some(p) = policy_file {
        policy.check_catalog(&catalog, &p.display().to_string())?;
    }
    Ok(catalog)
}

/// The EVE file (rotated as asked) or standard output ("-"), behind a
/// guard so that a second signal never exits in the middle of a line.
pub fn open_eve(spec: &str, rotate: Rotate) -> anyhow::Result<Eve> {
    if spec == "-" {
        if rotate != Rotate::default() {
            anyhow::bail!(
                "--eve-rotate-size/--eve-rotate-secs need --eve FILE, not standard output"
            );
        }
        return Ok(Box::new(LineGuard::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        ))));
    }
    let f = phonehome::sink::file::EveFile::create(Path::new(spec), rotate).with_context(|| {
        format!("cannot write EVE output to {spec}: check the directory exists and is writable")
    })?;
    Ok(Box::new(LineGuard::new(f)))
}

/// What the output stage is built from.
pub struct OutputParts<'a> {
    pub catalog: Catalog,
    pub geoip: GeoIp,
    pub dns_cache: DnsCacheConfig,
    pub policy: Policy,
    /// `--eve`, opened here.
    pub eve: &'a str,
    /// `pcap_filename` of each input, as the writer names them.
    pub names: Vec<String>,
    pub alerts: Alerts,
    pub sinks: &'a SinkSettings,
}

/// The output stage: resolver, judge, EVE writer, alert mode, the sinks
/// started and the deduplication window.
pub fn build_output(p: OutputParts<'_>) -> anyhow::Result<Output<Eve>> {
    let out = open_eve(p.eve, p.sinks.eve_rotate)?;
    let mut output = Output::new(
        Resolver::new(p.catalog, p.geoip, p.dns_cache),
        Judge::new(p.policy),
        EveWriter::new(out, p.names),
    );
    output.alert_mode = p.alerts.mode();
    output.sinks = phonehome::sink::Sinks::start(p.sinks)?;
    if p.sinks.dedup_window_ns > 0 {
        output.dedup = Some(phonehome::output::dedup::Dedup::new(
            p.sinks.dedup_window_ns,
            1 << 16,
        ));
    }
    Ok(output)
}

/// When alerts are written (`--alerts`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Alerts {
    /// At the end of the run: one complete alert per finding.
    #[default]
    End,
    /// As activity arrives: an alert when a flow or DNS question touches a
    /// finding (deduplicated per window), updates when windows with
    /// repeats close.
    Stream,
}

impl Alerts {
    pub fn mode(self) -> AlertMode {
        match self {
            Alerts::End => AlertMode::End,
            Alerts::Stream => AlertMode::Stream,
        }
    }
}
