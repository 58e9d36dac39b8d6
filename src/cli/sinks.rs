//! The output flags of `phonehome replay` (sinks, EVE rotation, spool,
//! deduplication window), mapped onto the library's sink settings.

use clap::Args;
use phonehome::sink::config::{
    parse_http_url, parse_redis_url, parse_size, parse_syslog_url, Dest, FileFormat, RedisMode,
    RedisUrl, SyslogAddr, SyslogBody,
};
use phonehome::sink::{SinkError, SinkSettings, SinkSpec};
use std::path::PathBuf;
use std::time::Duration;

/// Output flags of `phonehome replay`.
#[derive(Args, Debug, Default, Clone)]
#[command(next_help_heading = "Outputs (sinks; see docs/sinks.md)")]
pub struct SinkArgs {
    /// Sinks and output settings from a TOML file; the flags below add to it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Send alerts by syslog (RFC 5424; CEF for alerts): udp://HOST:PORT,
    /// tcp://HOST:PORT (octet-counted) or unix:///PATH. Repeatable.
    #[arg(long, value_name = "URL", value_parser = parse_syslog_url)]
    pub syslog: Vec<SyslogAddr>,

    /// Splunk HTTP Event Collector base URL (http[s]://HOST:8088); needs --hec-token.
    #[arg(long, value_name = "URL", value_parser = parse_http_url, requires = "hec_token")]
    pub hec: Option<String>,

    /// Splunk HEC token.
    #[arg(long, value_name = "TOKEN", requires = "hec")]
    pub hec_token: Option<String>,

    /// Elasticsearch base URL: ECS documents through _bulk.
    #[arg(long, value_name = "URL", value_parser = parse_http_url)]
    pub elastic: Option<String>,

    /// Index (or data stream) for --elastic.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "phonehome",
        requires = "elastic"
    )]
    pub elastic_index: String,

    /// Redis server: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]; EVE lines.
    /// A '/', '@' or ':' in the user name or password is written %2F, %40, %3A.
    #[arg(long, value_name = "URL", value_parser = parse_redis_url)]
    pub redis: Option<RedisUrl>,

    /// Redis key of the stream or list.
    #[arg(
        long,
        value_name = "KEY",
        default_value = "phonehome",
        requires = "redis"
    )]
    pub redis_key: String,

    /// Redis stream (XADD) or list (RPUSH).
    #[arg(long, value_name = "MODE", default_value = "stream", value_parser = ["stream", "list"], requires = "redis")]
    pub redis_mode: String,

    /// Also write ECS JSON documents, one per line, to FILE ("-": standard output).
    #[arg(long, value_name = "FILE|-")]
    pub ecs: Option<String>,

    /// Rotate the EVE file after this many bytes (K, M, G suffixes).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub eve_rotate_size: Option<u64>,

    /// Rotate the EVE file after this many seconds (wall clock).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub eve_rotate_secs: Option<u64>,

    /// Where sinks spool records while their destination is down
    /// [default: phonehome-spool beside the EVE file].
    #[arg(long, value_name = "DIR")]
    pub spool_dir: Option<PathBuf>,

    /// Seconds to wait at the end of a replay for sinks to deliver (the rest stays spooled) [default: 30].
    #[arg(long, value_name = "SECS")]
    pub sink_timeout: Option<u64>,

    /// One alert per (host, vendor, product, destination country) per this
    /// many seconds of packet time; repeats are counted into an update (0: off) [default: 3600].
    #[arg(long, value_name = "SECS")]
    pub dedup_window: Option<u64>,
}

impl SinkArgs {
    /// Reads `--config` (if any), adds the flags' sinks, and checks the whole.
    /// `eve` is the `--eve` argument (the default spool lives beside it).
    pub fn settings(&self, eve: &str) -> Result<SinkSettings, SinkError> {
        let mut s = match &self.config {
            Some(p) => SinkSettings::load(p)?,
            None => SinkSettings::beside(eve),
        };
        for a in &self.syslog {
            s.sinks.push(SinkSpec::new(Dest::Syslog {
                addr: a.clone(),
                body: SyslogBody::Cef,
                facility: 21,
                app_name: "phonehome".into(),
            }));
        }
        if let (Some(url), Some(token)) = (&self.hec, &self.hec_token) {
            s.sinks.push(SinkSpec::new(Dest::Hec {
                url: url.clone(),
                token: token.clone(),
                sourcetype: "suricata:{event_type}".into(),
                index: None,
            }));
        }
        if let Some(url) = &self.elastic {
            s.sinks.push(SinkSpec::new(Dest::Elastic {
                url: url.clone(),
                index: self.elastic_index.clone(),
                auth: None,
                format: FileFormat::Ecs,
            }));
        }
        if let Some(u) = &self.redis {
            s.sinks.push(SinkSpec::new(Dest::Redis {
                addr: u.addr.clone(),
                password: u.password.clone(),
                db: u.db,
                key: self.redis_key.clone(),
                mode: if self.redis_mode == "list" {
                    RedisMode::List
                } else {
                    RedisMode::Stream
                },
                maxlen: 100_000,
                format: FileFormat::Eve,
            }));
        }
        if let Some(path) = &self.ecs {
            s.sinks.push(SinkSpec::new(Dest::File {
                path: path.clone(),
                format: FileFormat::Ecs,
            }));
        }
        if let Some(n) = self.eve_rotate_size {
            s.eve_rotate.size = Some(n);
        }
        if let Some(n) = self.eve_rotate_secs {
            s.eve_rotate.secs = Some(n);
        }
        if let Some(d) = &self.spool_dir {
            s.spool_dir = d.clone();
        }
        if let Some(t) = self.sink_timeout {
            s.timeout = Duration::from_secs(t);
        }
        if let Some(w) = self.dedup_window {
            s.dedup_window_ns = w.saturating_mul(1_000_000_000);
        }
        s.finish(eve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_defaults() {
        let a = SinkArgs {
            syslog: vec![SyslogAddr::Udp("127.0.0.1:514".into())],
            ecs: Some("-".into()),
            elastic_index: "phonehome".into(),
            redis_key: "phonehome".into(),
            redis_mode: "stream".into(),
            ..SinkArgs::default()
        };
        let s = a.settings("out/eve.json").unwrap();
        assert_eq!(s.spool_dir, PathBuf::from("out/phonehome-spool"));
        assert_eq!(s.sinks.len(), 2);
        assert_eq!(s.dedup_window_ns, 3_600_000_000_000);
        assert!(a.settings("-").is_err(), "two outputs on stdout");
    }
}
