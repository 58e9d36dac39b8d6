//! Sink configuration: what the command line's flags and a TOML file
//! (`--config`) say, as plain settings; see docs/sinks.md.
//!
//! ```toml
//! spool_dir = "/var/spool/phonehome"   # default: phonehome-spool beside the EVE file
//! timeout = 30                          # seconds to wait for delivery at the end of a replay
//! dedup_window = 3600                   # alert deduplication window, seconds of packet time (0: off)
//!
//! [eve]
//! rotate_size = "100M"
//! rotate_secs = 3600
//!
//! [[sink]]
//! type = "syslog"                       # syslog | hec | elastic | redis | file
//! url = "tcp://127.0.0.1:601"           # udp://, tcp://, unix:///dev/log
//! events = "alerts"                     # "all" | "alerts" | ["alert", "flow", ...]
//! format = "cef"                        # syslog: cef | eve | ecs
//! ```
//!
//! Common keys of a `[[sink]]`: `name` (default: the type, numbered when
//! repeated), `events`, `queue` (records, default 10000), `batch` (records
//! per send, default 500), `retry_max` (seconds, default 30), `spool_max`
//! (bytes, `K`/`M`/`G` suffixes, default 256M).

use super::{Select, SinkError};
use crate::base::lines::line_of;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the body of a syslog message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogBody {
    /// CEF for alerts, the EVE JSON line for other events.
    Cef,
    Eve,
    Ecs,
}

/// Document format of file, Redis and Elasticsearch sinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Eve,
    Ecs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisMode {
    /// `XADD key [MAXLEN ~ n] * eve <line>`
    Stream,
    /// `RPUSH key <line>`
    List,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogAddr {
    Udp(String),
    Tcp(String),
    Unix(PathBuf),
}

/// Where a sink sends and in which shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    Syslog {
        addr: SyslogAddr,
        body: SyslogBody,
        facility: u8,
        app_name: String,
    },
    Hec {
        url: String,
        token: String,
        sourcetype: String,
        index: Option<String>,
    },
    Elastic {
        url: String,
        index: String,
        auth: Option<String>,
        format: FileFormat,
    },
    Redis {
        addr: String,
        password: Option<(Option<String>, String)>,
        db: u32,
        key: String,
        mode: RedisMode,
        maxlen: u64,
        format: FileFormat,
    },
    File {
        path: String,
        format: FileFormat,
    },
}

impl Dest {
    fn kind(&self) -> &'static str {
        match self {
            Dest::Syslog { .. } => "syslog",
            Dest::Hec { .. } => "hec",
            Dest::Elastic { .. } => "elastic",
            Dest::Redis { .. } => "redis",
            Dest::File {
                format: FileFormat::Ecs,
                ..
            } => "ecs",
            Dest::File { .. } => "file",
        }
    }

    fn default_select(&self) -> Select {
        match self {
            Dest::Syslog { .. } => Select::Alerts,
            _ => Select::All,
        }
    }
}

/// When the EVE file is rotated: the current file is renamed to
/// `<path>.<UTC time>` and a new one started. Wall-clock time, not packet time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotate {
    /// After this many bytes.
    pub size: Option<u64>,
    /// After this long since the file was opened.
    pub secs: Option<u64>,
}

/// One configured sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkSpec {
    pub name: String,
    pub dest: Dest,
    pub select: Select,
    pub queue: usize,
    pub batch: usize,
    pub retry_max: Duration,
    pub spool_max: u64,
}

/// Everything about outputs for one run.
#[derive(Clone, Debug)]
pub struct SinkSettings {
    pub sinks: Vec<SinkSpec>,
    pub spool_dir: PathBuf,
    /// Longest wait for delivery at the end of a replay.
    pub timeout: Duration,
    /// Alert deduplication window in nanoseconds of packet time (0: off).
    pub dedup_window_ns: u64,
    pub eve_rotate: Rotate,
    /// Identity of this run (its inputs and options), kept with each
    /// sink's acknowledged position: when a run with the same identity was
    /// cut short (killed), the next one delivers only what it had not
    /// delivered. None: no resuming.
    pub run_key: Option<u64>,
}

impl Default for SinkSettings {
    fn default() -> Self {
        SinkSettings {
            sinks: Vec::new(),
            spool_dir: PathBuf::from("phonehome-spool"),
            timeout: Duration::from_secs(30),
            dedup_window_ns: 3600 * 1_000_000_000,
            eve_rotate: Rotate::default(),
            run_key: None,
        }
    }
}

/// A parsed `redis://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisUrl {
    pub addr: String,
    pub password: Option<(Option<String>, String)>,
    pub db: u32,
}

/// A URL with one of `schemes` and a host: what every sink URL is.
fn parse_url(s: &str, what: &str, schemes: &[&str], form: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s).map_err(|e| {
        // A '/' or '@' in a password cuts the authority short.
        let hint = if s.contains('@') {
            " (a '/', '@' or ':' inside a user name or password is written %2F, %40, %3A)"
        } else {
            ""
        };
        let e = match e {
            url::ParseError::InvalidPort => "bad port".to_string(),
            e => e.to_string(),
        };
        format!("{what} {s}: {e}{hint}; expected {form}")
    })?;
    if !schemes.contains(&u.scheme()) {
        return Err(format!("{what} {s}: expected {form}"));
    }
    Ok(u)
}

/// `host:port` of a URL (IPv6 in brackets), the port defaulting to `default_port`.
fn host_port(u: &url::Url, s: &str, what: &str, default_port: u16) -> Result<String, String> {
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("{what} {s}: no host"))?;
    let port = u.port().unwrap_or(default_port);
    if port == 0 {
        return Err(format!("{what} {s}: bad port '0'"));
    }
    Ok(format!("{host}:{port}"))
}

/// A percent-decoded user name or password.
fn decoded(part: &str, s: &str, what: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("{what} {s}: credentials are not UTF-8 once decoded"))
}

/// `udp://host:514`, `tcp://host:601`, `unix:///dev/log`.
pub fn parse_syslog_url(s: &str) -> Result<SyslogAddr, String> {
    let form = "udp://HOST[:PORT], tcp://HOST[:PORT] or unix:///PATH";
    let u = parse_url(s, "syslog URL", &["udp", "tcp", "unix"], form)?;
    if u.scheme() == "unix" {
        if u.host_str().is_some_and(|h| !h.is_empty()) || !u.path().starts_with('/') {
            return Err(format!(
                "syslog URL {s}: a unix socket needs an absolute path (unix:///dev/log)"
            ));
        }
        let path = decoded(u.path(), s, "syslog URL")?;
        return Ok(SyslogAddr::Unix(PathBuf::from(path)));
    }
    if !matches!(u.path(), "" | "/") || u.query().is_some() || !u.username().is_empty() {
        return Err(format!("syslog URL {s}: expected {form}"));
    }
    Ok(if u.scheme() == "udp" {
        SyslogAddr::Udp(host_port(&u, s, "syslog URL", 514)?)
    } else {
        SyslogAddr::Tcp(host_port(&u, s, "syslog URL", 601)?)
    })
}

/// `http://` or `https://` with a host; returned as given.
pub fn parse_http_url(s: &str) -> Result<String, String> {
    let form = "http://HOST[:PORT][/PATH] or https://...";
    let u = parse_url(s, "URL", &["http", "https"], form)?;
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL {s}: no host"));
    }
    // The HTTP client reads it too: refuse what it would not take.
    ureq::http::Uri::try_from(s).map_err(|e| format!("URL {s}: {e}"))?;
    Ok(s.to_string())
}

/// `redis://[[user]:password@]host[:port][/db]`. User name and password are
/// percent-decoded (`%2F` for '/', `%40` for '@'); a user name alone is the
/// password (the older `redis://password@host` form).
pub fn parse_redis_url(s: &str) -> Result<RedisUrl, String> {
    let what = "redis URL";
    let u = parse_url(
        s,
        what,
        &["redis"],
        "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]",
    )?;
    let db = match u.path().trim_start_matches('/') {
        "" => 0,
        d => d
            .parse::<u32>()
            .map_err(|_| format!("{what} {s}: bad database number '{d}'"))?,
    };
    let user = decoded(u.username(), s, what)?;
    let password = match u.password() {
        Some(p) => Some(((!user.is_empty()).then_some(user), decoded(p, s, what)?)),
        None if !user.is_empty() => Some((None, user)),
        None => None,
    };
    Ok(RedisUrl {
        addr: host_port(&u, s, what, 6379)?,
        password,
        db,
    })
}

/// `1048576`, `512K`, `100M`, `2G` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("size {s}: unknown suffix '{c}' (K, M or G)")),
            };
            (t.get(..i).unwrap_or(""), m)
        }
        _ => (t, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("size {s}: expected a number of bytes, e.g. 100M"))?;
    n.checked_mul(mult)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("size {s}: out of range"))
}

// ---- TOML file ----

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    spool_dir: Option<PathBuf>,
    timeout: Option<u64>,
    dedup_window: Option<u64>,
    eve: Option<EveConfig>,
    #[serde(default)]
    sink: Vec<SinkConfig>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EveConfig {
    rotate_size: Option<SizeValue>,
    rotate_secs: Option<u64>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Int(u64),
    Text(String),
}

impl SizeValue {
    fn bytes(&self) -> Result<u64, String> {
        match self {
            SizeValue::Int(n) => Ok(*n),
            SizeValue::Text(s) => parse_size(s),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum EventsValue {
    One(String),
    Many(Vec<String>),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SinkConfig {
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    events: Option<EventsValue>,
    format: Option<String>,
    queue: Option<usize>,
    batch: Option<usize>,
    retry_max: Option<u64>,
    spool_max: Option<SizeValue>,
    // syslog
    facility: Option<String>,
    app_name: Option<String>,
    // hec
    token: Option<String>,
    sourcetype: Option<String>,
    // hec, elastic
    index: Option<String>,
    // elastic
    auth: Option<String>,
    // redis
    key: Option<String>,
    mode: Option<String>,
    maxlen: Option<u64>,
}

/// Syslog facility by name (`local0`…`local7`, `user`, `daemon`, `auth`,
/// `security`, `syslog`) or number.
pub fn facility(s: &str) -> Option<u8> {
    let named = match s.to_ascii_lowercase().as_str() {
        "kern" => 0,
        "user" => 1,
        "daemon" => 3,
        "auth" | "security" => 4,
        "syslog" => 5,
        "authpriv" => 10,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        other => return other.parse::<u8>().ok().filter(|&n| n < 24),
    };
    Some(named)
}

fn file_format(s: Option<&str>, default: FileFormat, ctx: &str) -> Result<FileFormat, String> {
    match s {
        None => Ok(default),
        Some("eve") => Ok(FileFormat::Eve),
        Some("ecs") => Ok(FileFormat::Ecs),
        Some(o) => Err(format!(
            "{ctx}: format \"{o}\" (expected \"eve\" or \"ecs\")"
        )),
    }
}

fn select(v: Option<&EventsValue>, default: Select, ctx: &str) -> Result<Select, String> {
    Ok(match v {
        None => default,
        Some(EventsValue::One(s)) if s == "all" => Select::All,
        Some(EventsValue::One(s)) if s == "alerts" => Select::Alerts,
        Some(EventsValue::One(s)) => {
            return Err(format!(
                "{ctx}: events = \"{s}\" (expected \"all\", \"alerts\" or a list of event types)"
            ))
        }
        Some(EventsValue::Many(v)) => {
            if v.is_empty() {
                return Err(format!("{ctx}: events is an empty list"));
            }
            Select::Types(v.clone())
        }
    })
}

fn need<'a>(v: &'a Option<String>, key: &str, ctx: &str) -> Result<&'a str, String> {
    v.as_deref()
        .ok_or_else(|| format!("{ctx}: `{key}` is required"))
}

fn sink_from_config(c: &SinkConfig, ctx: &str) -> Result<SinkSpec, String> {
    let dest = match c.kind.as_str() {
        "syslog" => Dest::Syslog {
            addr: parse_syslog_url(need(&c.url, "url", ctx)?).map_err(|e| format!("{ctx}: {e}"))?,
            body: match c.format.as_deref() {
                None | Some("cef") => SyslogBody::Cef,
                Some("eve") => SyslogBody::Eve,
                Some("ecs") => SyslogBody::Ecs,
                Some(o) => {
                    return Err(format!(
                        "{ctx}: format \"{o}\" (expected \"cef\", \"eve\" or \"ecs\")"
                    ))
                }
            },
            facility: match &c.facility {
                None => 21,
                Some(f) => facility(f).ok_or_else(|| format!("{ctx}: unknown facility \"{f}\""))?,
            },
            app_name: c.app_name.clone().unwrap_or_else(|| "phonehome".into()),
        },
        "hec" => Dest::Hec {
            url: parse_http_url(need(&c.url, "url", ctx)?).map_err(|e| format!("{ctx}: {e}"))?,
            token: need(&c.token, "token", ctx)?.to_string(),
            sourcetype: c
                .sourcetype
                .clone()
                .unwrap_or_else(|| "suricata:{event_type}".into()),
            index: c.index.clone(),
        },
        "elastic" => Dest::Elastic {
            url: parse_http_url(need(&c.url, "url", ctx)?).map_err(|e| format!("{ctx}: {e}"))?,
            index: c.index.clone().unwrap_or_else(|| "phonehome".into()),
            auth: c.auth.clone(),
            format: file_format(c.format.as_deref(), FileFormat::Ecs, ctx)?,
        },
        "redis" => {
            let u =
                parse_redis_url(need(&c.url, "url", ctx)?).map_err(|e| format!("{ctx}: {e}"))?;
            Dest::Redis {
                addr: u.addr,
                password: u.password,
                db: u.db,
                key: c.key.clone().unwrap_or_else(|| "phonehome".into()),
                mode: match c.mode.as_deref() {
                    None | Some("stream") => RedisMode::Stream,
                    Some("list") => RedisMode::List,
                    Some(o) => {
                        return Err(format!(
                            "{ctx}: mode \"{o}\" (expected \"stream\" or \"list\")"
                        ))
                    }
                },
                maxlen: c.maxlen.unwrap_or(100_000),
                format: file_format(c.format.as_deref(), FileFormat::Eve, ctx)?,
            }
        }
        "file" => Dest::File {
            path: need(&c.path, "path", ctx)?.to_string(),
            format: file_format(c.format.as_deref(), FileFormat::Ecs, ctx)?,
        },
        o => {
            return Err(format!(
                "{ctx}: unknown type \"{o}\" (syslog, hec, elastic, redis or file)"
            ))
        }
    };
    let default_select = dest.default_select();
    let mut spec = base_spec(dest);
    spec.select = select(c.events.as_ref(), default_select, ctx)?;
    if let Some(n) = &c.name {
        if n.is_empty()
            || !n
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(format!(
                "{ctx}: name \"{n}\" (letters, digits, '-' and '_' only: it names the spool directory)"
            ));
        }
        spec.name = n.clone();
    }
    if let Some(q) = c.queue {
        spec.queue = q.max(1);
    }
    if let Some(b) = c.batch {
        spec.batch = b.max(1);
    }
    if let Some(r) = c.retry_max {
        spec.retry_max = Duration::from_secs(r.max(1));
    }
    if let Some(s) = &c.spool_max {
        spec.spool_max = s.bytes().map_err(|e| format!("{ctx}: {e}"))?;
    }
    Ok(spec)
}

fn base_spec(dest: Dest) -> SinkSpec {
    SinkSpec {
        name: dest.kind().to_string(),
        select: dest.default_select(),
        dest,
        queue: 10_000,
        batch: 500,
        retry_max: Duration::from_secs(30),
        spool_max: 256 << 20,
    }
}

impl SinkSpec {
    /// A sink to `dest` with the defaults of its type.
    pub fn new(dest: Dest) -> SinkSpec {
        base_spec(dest)
    }
}

impl SinkSettings {
    /// The settings of a `--config` TOML file.
    pub fn load(path: &Path) -> Result<SinkSettings, SinkError> {
        let mut s = SinkSettings::default();
        apply_file(&mut s, path)?;
        Ok(s)
    }

    /// The defaults, with the spool beside the EVE file `eve` (`-`: standard output).
    pub fn beside(eve: &str) -> SinkSettings {
        SinkSettings {
            spool_dir: default_spool(eve),
            ..SinkSettings::default()
        }
    }

    /// Names the sinks uniquely (the type, then `-2`, `-3` for repeats) and
    /// checks the whole: at most one output on standard output, counting
    /// the EVE output `eve`.
    pub fn finish(mut self, eve: &str) -> Result<SinkSettings, SinkError> {
        name_sinks(&mut self.sinks);
        let stdout_users = self
            .sinks
            .iter()
            .filter(|k| matches!(&k.dest, Dest::File { path, .. } if path == "-"))
            .count()
            + usize::from(eve == "-");
        if stdout_users > 1 {
            return Err(SinkError::Config(
                "more than one output writes to standard output (--eve - and an ECS or file sink to \"-\")".into(),
            ));
        }
        Ok(self)
    }
}

/// `phonehome-spool` in the EVE file's directory (the working directory
/// when EVE goes to standard output).
fn default_spool(eve: &str) -> PathBuf {
    if eve == "-" {
        return PathBuf::from("phonehome-spool");
    }
    match Path::new(eve).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join("phonehome-spool"),
        _ => PathBuf::from("phonehome-spool"),
    }
}

/// Unique names: the type, then `-2`, `-3` for repeats of it.
fn name_sinks(sinks: &mut [SinkSpec]) {
    let mut used: HashSet<String> = HashSet::new();
    for s in sinks.iter_mut() {
        if used.contains(&s.name) {
            let base = s.name.clone();
            let mut k = 2;
            while used.contains(&format!("{base}-{k}")) {
                k += 1;
            }
            s.name = format!("{base}-{k}");
        }
        used.insert(s.name.clone());
    }
}

fn apply_file(s: &mut SinkSettings, p: &Path) -> Result<(), SinkError> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| SinkError::Config(format!("cannot read {}: {e}", p.display())))?;
    let c: FileConfig = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(0, |sp| line_of(&text, sp.start));
        SinkError::Config(format!(
            "{}:{line}: {}",
            p.display(),
            e.message().lines().next().unwrap_or("invalid TOML")
        ))
    })?;
    s.spool_dir = match c.spool_dir {
        Some(d) => d,
        None => PathBuf::from("phonehome-spool"),
    };
    if let Some(t) = c.timeout {
        s.timeout = Duration::from_secs(t);
    }
    if let Some(w) = c.dedup_window {
        s.dedup_window_ns = w.saturating_mul(1_000_000_000);
    }
    if let Some(e) = &c.eve {
        if let Some(v) = &e.rotate_size {
            s.eve_rotate.size = Some(
                v.bytes()
                    .map_err(|e| SinkError::Config(format!("{}: [eve] {e}", p.display())))?,
            );
        }
        s.eve_rotate.secs = e.rotate_secs.filter(|&v| v > 0);
    }
    for (i, k) in c.sink.iter().enumerate() {
        let ctx = format!("{}: [[sink]] #{} ({})", p.display(), i + 1, k.kind);
        s.sinks
            .push(sink_from_config(k, &ctx).map_err(SinkError::Config)?);
    }
    let mut seen = HashSet::new();
    for k in &s.sinks {
        if !seen.insert(k.name.clone()) && c.sink.iter().any(|x| x.name.as_deref() == Some(&k.name))
        {
            return Err(SinkError::Config(format!(
                "{}: two sinks are named \"{}\"",
                p.display(),
                k.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_urls() {
        assert_eq!(
            parse_syslog_url("udp://127.0.0.1:5514"),
            Ok(SyslogAddr::Udp("127.0.0.1:5514".into()))
        );
        assert_eq!(
            parse_syslog_url("tcp://logs.example"),
            Ok(SyslogAddr::Tcp("logs.example:601".into()))
        );
        assert_eq!(
            parse_syslog_url("tcp://[::1]:6514"),
            Ok(SyslogAddr::Tcp("[::1]:6514".into()))
        );
        assert_eq!(
            parse_syslog_url("unix:///dev/log"),
            Ok(SyslogAddr::Unix("/dev/log".into()))
        );
        for bad in [
            "syslog://x",
            "tcp://",
            "tcp://h:0",
            "tcp://h:99999",
            "unix://dev/log",
            "udp://[::1",
        ] {
            assert!(parse_syslog_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redis_urls() {
        assert_eq!(
            parse_redis_url("redis://127.0.0.1"),
            Ok(RedisUrl {
                addr: "127.0.0.1:6379".into(),
                password: None,
                db: 0
            })
        );
        assert_eq!(
            parse_redis_url("redis://u:p@h:7000/3"),
            Ok(RedisUrl {
                addr: "h:7000".into(),
                password: Some((Some("u".into()), "p".into())),
                db: 3
            })
        );
        assert_eq!(
            parse_redis_url("redis://:secret@h").unwrap().password,
            Some((None, "secret".into()))
        );
        assert!(parse_redis_url("http://h").is_err());
        assert!(parse_redis_url("redis://h/x").is_err());
    }

    #[test]
    fn redis_credentials_are_percent_decoded() {
        // A password holding '/', '@' and ':' (issue 10: it was cut at the '/').
        let u = parse_redis_url("redis://ops%40corp:p%2Fss%3Aw%40rd@[::1]:6390/2").unwrap();
        assert_eq!(
            u.password,
            Some((Some("ops@corp".into()), "p/ss:w@rd".into()))
        );
        assert_eq!(u.addr, "[::1]:6390");
        assert_eq!(u.db, 2);
        assert_eq!(
            parse_redis_url("redis://:%E5%AF%86%20x@h")
                .unwrap()
                .password,
            Some((None, "密 x".into()))
        );
        assert_eq!(
            parse_redis_url("redis://legacy-secret@h").unwrap().password,
            Some((None, "legacy-secret".into())),
            "a user name alone is the password"
        );
        // Unencoded, the '/' ends the host: refused with the way to write it.
        let e = parse_redis_url("redis://:pa/ss@h").unwrap_err();
        assert!(e.contains("%2F"), "{e}");
        assert!(parse_redis_url("redis://:%FF@h").is_err(), "not UTF-8");
    }

    #[test]
    fn syslog_unix_paths_are_decoded_and_hosts_kept() {
        assert_eq!(
            parse_syslog_url("unix:///run/my%20log"),
            Ok(SyslogAddr::Unix("/run/my log".into()))
        );
        assert_eq!(
            parse_syslog_url("udp://Logs.Example.COM"),
            Ok(SyslogAddr::Udp("Logs.Example.COM:514".into()))
        );
        assert!(parse_syslog_url("tcp://h:601/x").is_err(), "a path");
        assert!(parse_syslog_url("tcp://u@h").is_err(), "credentials");
    }

    #[test]
    fn http_urls_and_sizes() {
        assert!(parse_http_url("http://127.0.0.1:8088").is_ok());
        assert!(parse_http_url("https://splunk.example/").is_ok());
        assert!(parse_http_url("ftp://x").is_err());
        assert!(parse_http_url("http://").is_err());
        assert!(parse_http_url("http://h:notaport").is_err());
        assert!(parse_http_url("https://elastic:p%2Fw@es.example:9200/base").is_ok());
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn config_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sinks.toml");
        std::fs::write(
            &p,
            r#"
spool_dir = "/tmp/sp"
timeout = 5
dedup_window = 600
[eve]
rotate_size = "1M"
[[sink]]
type = "syslog"
url = "tcp://127.0.0.1:601"
facility = "local3"
[[sink]]
type = "syslog"
url = "udp://127.0.0.1"
events = ["alert", "flow"]
format = "eve"
[[sink]]
type = "hec"
name = "splunk"
url = "http://127.0.0.1:8088"
token = "t"
spool_max = "1M"
[[sink]]
type = "redis"
url = "redis://127.0.0.1:6390"
mode = "list"
"#,
        )
        .unwrap();
        let load = |p: &Path| SinkSettings::load(p).and_then(|s| s.finish("eve.json"));
        let s = load(&p).unwrap();
        assert_eq!(s.spool_dir, PathBuf::from("/tmp/sp"));
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.dedup_window_ns, 600_000_000_000);
        assert_eq!(s.eve_rotate.size, Some(1 << 20));
        let names: Vec<&str> = s.sinks.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["syslog", "syslog-2", "splunk", "redis"]);
        assert_eq!(s.sinks[0].select, Select::Alerts);
        assert!(matches!(
            s.sinks[0].dest,
            Dest::Syslog {
                facility: 19,
                body: SyslogBody::Cef,
                ..
            }
        ));
        assert_eq!(
            s.sinks[1].select,
            Select::Types(vec!["alert".into(), "flow".into()])
        );
        assert_eq!(s.sinks[2].spool_max, 1 << 20);
        assert!(matches!(
            s.sinks[3].dest,
            Dest::Redis {
                mode: RedisMode::List,
                ..
            }
        ));

        for (bad, want) in [
            ("[[sink]]\ntype = \"syslog\"\n", "`url` is required"),
            ("[[sink]]\ntype = \"carrier-pigeon\"\n", "unknown type"),
            (
                "[[sink]]\ntype = \"syslog\"\nurl = \"tcp://h:x\"\n",
                "bad port",
            ),
            ("bogus = 1\n", "unknown field"),
            (
                "[[sink]]\ntype = \"hec\"\nurl = \"http://h\"\n",
                "`token` is required",
            ),
            (
                "[[sink]]\ntype = \"file\"\npath = \"x\"\nname = \"a/b\"\n",
                "name \"a/b\"",
            ),
        ] {
            std::fs::write(&p, bad).unwrap();
            let e = load(&p).unwrap_err().to_string();
            assert!(e.contains(want), "{bad:?}: {e}");
            assert_eq!(e.lines().count(), 1, "one line: {e}");
        }
    }
}
