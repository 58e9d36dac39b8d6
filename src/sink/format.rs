//! What each sink sends: RFC 5424 syslog messages (CEF for findings), Splunk
//! HEC events, Elasticsearch `_bulk` items, ECS documents, EVE lines.
//!
//! The formatted bytes are what the spool keeps, so a record replayed by a
//! later run is sent exactly as it would have been.

use super::config::{Dest, FileFormat, SyslogBody};
use super::Record;
use crate::base::time::{epoch_secs, rfc3339};
use crate::judge::policy::Severity;
use crate::output::{cef, ecs};

/// How records are turned into payloads for one sink.
pub enum Formatter {
    /// The EVE line as is.
    Eve,
    /// An ECS document.
    Ecs,
    Syslog(SyslogFormat),
    Hec {
        sourcetype: String,
        index: Option<String>,
        host: String,
        ids: RecordIds,
    },
    Bulk {
        index: String,
        ids: RecordIds,
        ecs: bool,
    },
}

/// Names records for destinations that store an id with them
/// (Elasticsearch `_id`, HEC's indexed field `phonehome_record_id`):
/// `<run>-<seq>`. A run with an identity (a replay) names its records
/// from it, so a restart after a kill sends a record again under the same
/// id; records made after a graceful stop are this process's own and take
/// its own name, never reused.
#[derive(Clone, Debug)]
pub struct RecordIds {
    pub run: String,
    pub process: String,
}

impl RecordIds {
    fn new() -> Self {
        let p = run_id();
        RecordIds {
            run: p.clone(),
            process: p,
        }
    }

    pub fn of(&self, r: &Record) -> String {
        let base = if r.stop_at.is_some() {
            &self.process
        } else {
            &self.run
        };
        format!("{base}-{}", r.seq)
    }
}

/// RFC 5424 header settings.
pub struct SyslogFormat {
    pub body: SyslogBody,
    pub facility: u8,
    pub app_name: String,
    pub hostname: String,
    pub procid: String,
}

/// The private enterprise number RFC 5612 sets aside for documentation and
/// examples, used in phonehome's structured-data ID (`phonehome@32473`).
pub const SD_PEN: u32 = 32473;

impl Formatter {
    pub fn new(dest: &Dest) -> Formatter {
        match dest {
            Dest::File { format, .. } | Dest::Redis { format, .. } => match format {
                FileFormat::Eve => Formatter::Eve,
                FileFormat::Ecs => Formatter::Ecs,
            },
            Dest::Syslog {
                body,
                facility,
                app_name,
                ..
            } => Formatter::Syslog(SyslogFormat {
                body: *body,
                facility: *facility,
                app_name: header_token(app_name, 48),
                hostname: header_token(&hostname(), 255),
                procid: std::process::id().to_string(),
            }),
            Dest::Hec {
                sourcetype, index, ..
            } => Formatter::Hec {
                sourcetype: sourcetype.clone(),
                index: index.clone(),
                host: hostname(),
                ids: RecordIds::new(),
            },
            Dest::Elastic { index, format, .. } => Formatter::Bulk {
                index: index.clone(),
                ids: RecordIds::new(),
                ecs: *format == FileFormat::Ecs,
            },
        }
    }

    /// Record ids from the run's identity when it has one, so that a run
    /// resumed after a kill sends its unacknowledged records again under the
    /// same id (Elasticsearch answers 409 and keeps one; HEC keeps both, a
    /// search can drop the second by `phonehome_record_id`).
    pub fn for_run(mut self, key: Option<u64>) -> Self {
        if let (Formatter::Bulk { ids, .. } | Formatter::Hec { ids, .. }, Some(k)) =
            (&mut self, key)
        {
            ids.run = format!("ph{k:016x}");
        }
        self
    }

    pub fn format(&self, r: &Record) -> Result<Vec<u8>, String> {
        match self {
            Formatter::Eve => Ok(r.line.clone()),
            Formatter::Ecs => ecs_bytes(r),
            Formatter::Syslog(s) => s.message(r),
            Formatter::Hec {
                sourcetype,
                index,
                host,
                ids,
            } => hec_event(r, sourcetype, index.as_deref(), host, &ids.of(r)),
            Formatter::Bulk { index, ids, ecs } => {
                let doc = if *ecs { ecs_bytes(r)? } else { r.line.clone() };
                let mut out = Vec::with_capacity(doc.len() + 96);
                let action = serde_json::json!({"create": {"_index": index, "_id": ids.of(r)}});
                serde_json::to_writer(&mut out, &action).map_err(|e| e.to_string())?;
                out.push(b'\n');
                out.extend_from_slice(&doc);
                out.push(b'\n');
                Ok(out)
            }
        }
    }
}

fn ecs_bytes(r: &Record) -> Result<Vec<u8>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(&r.line).map_err(|e| format!("EVE line is not JSON: {e}"))?;
    serde_json::to_vec(&ecs::from_eve(&v, r.seq)).map_err(|e| e.to_string())
}

/// Names this run's Elasticsearch document ids: start time and process id,
/// so two runs never share an `_id` while one run's resends always do.
fn run_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("ph{:x}{:x}", t, std::process::id())
}

/// This machine's name (Linux), or "-" (RFC 5424's nil value).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

/// An RFC 5424 header field: printable US-ASCII without spaces, at most
/// `max` characters, "-" when empty.
fn header_token(s: &str, max: usize) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if t.is_empty() {
        "-".into()
    } else {
        t
    }
}

fn eve_timestamp(line: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"timestamp\":\"";
    let at = line.windows(KEY.len()).position(|w| w == KEY)?;
    let rest = line.get(at + KEY.len()..)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    std::str::from_utf8(rest.get(..end)?).ok()
}

/// Splunk HTTP Event Collector event: `{"time":..,"host":..,"source":..,
/// "sourcetype":..,["index":..,]"event":<EVE object>}`.
fn hec_event(
    r: &Record,
    sourcetype: &str,
    index: Option<&str>,
    host: &str,
    record_id: &str,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(r.line.len() + 160);
    out.push(b'{');
    if let Some(t) = eve_timestamp(&r.line).and_then(epoch_secs) {
        let _ = std::io::Write::write_fmt(&mut out, format_args!("\"time\":{t:.6},"));
    }
    let st = sourcetype.replace("{event_type}", &r.event_type);
    out.extend_from_slice(b"\"host\":");
    crate::base::json::push_str(&mut out, host);
    out.extend_from_slice(b",\"source\":\"phonehome\",\"sourcetype\":");
    crate::base::json::push_str(&mut out, &st);
    if let Some(i) = index {
        out.extend_from_slice(b",\"index\":");
        crate::base::json::push_str(&mut out, i);
    }
    // An indexed field (HEC `fields`): the same for a record sent again.
    out.extend_from_slice(b",\"fields\":{\"phonehome_record_id\":");
    crate::base::json::push_str(&mut out, record_id);
    out.push(b'}');
    out.extend_from_slice(b",\"event\":");
    out.extend_from_slice(&r.line);
    out.push(b'}');
    Ok(out)
}

/// RFC 5424 severity (0 emergency … 7 debug) of a finding.
fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    }
}

/// Escapes an RFC 5424 SD-PARAM value: `"`, `\` and `]` take a backslash.
pub fn sd_escape(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

impl SyslogFormat {
    /// One RFC 5424 message (no framing: the transport adds it).
    pub fn message(&self, r: &Record) -> Result<Vec<u8>, String> {
        let sev = r
            .finding
            .as_ref()
            .map_or(6, |f| syslog_severity(f.severity));
        let pri = u16::from(self.facility) * 8 + u16::from(sev);
        let ts = eve_timestamp(&r.line).map_or_else(|| "-".to_string(), rfc3339);
        let msgid = header_token(&r.event_type, 32);
        let mut out = format!(
            "<{pri}>1 {ts} {} {} {} {msgid} [phonehome@{SD_PEN} seq=\"{}\"] ",
            self.hostname, self.app_name, self.procid, r.seq
        )
        .into_bytes();
        match (self.body, &r.finding) {
            (SyslogBody::Cef, Some(f)) => out.extend_from_slice(cef::cef(f, r.seq).as_bytes()),
            (SyslogBody::Ecs, _) => out.extend_from_slice(&ecs_bytes(r)?),
            _ => out.extend_from_slice(&r.line),
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_param_escaping() {
        assert_eq!(sd_escape(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
    }

    #[test]
    fn header_tokens_are_printable_and_bounded() {
        assert_eq!(header_token("my host\tname", 255), "myhostname");
        assert_eq!(header_token("", 10), "-");
        assert_eq!(header_token("abcdef", 3), "abc");
    }

    fn rec(line: &str, et: &str) -> Record {
        Record {
            seq: 7,
            event_type: et.into(),
            line: line.as_bytes().to_vec(),
            finding: None,
            stop_at: None,
        }
    }

    #[test]
    fn rfc5424_message_for_an_event() {
        let f = SyslogFormat {
            body: SyslogBody::Cef,
            facility: 21,
            app_name: "phonehome".into(),
            hostname: "sensor1".into(),
            procid: "42".into(),
        };
        let line = r#"{"timestamp":"2025-03-03T12:00:02.000000+0000","event_type":"flow"}"#;
        let m = String::from_utf8(f.message(&rec(line, "flow")).unwrap()).unwrap();
        assert_eq!(
            m,
            format!("<174>1 2025-03-03T12:00:02.000000Z sensor1 phonehome 42 flow [phonehome@32473 seq=\"7\"] {line}")
        );
    }

    #[test]
    fn hec_event_wraps_the_eve_object() {
        let line = r#"{"timestamp":"2025-03-03T12:00:02.000000+0000","event_type":"alert","x":1}"#;
        let b = hec_event(
            &rec(line, "alert"),
            "suricata:{event_type}",
            Some("main"),
            "h",
            "ph1-7",
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["fields"]["phonehome_record_id"], "ph1-7");
        assert_eq!(v["time"], serde_json::json!(1_741_003_202.0));
        assert_eq!(v["sourcetype"], "suricata:alert");
        assert_eq!(v["index"], "main");
        assert_eq!(v["source"], "phonehome");
        assert_eq!(v["event"]["x"], 1);
    }

    #[test]
    fn bulk_item_has_a_stable_id() {
        let f = Formatter::Bulk {
            index: "phonehome".into(),
            ids: RecordIds {
                run: "run1".into(),
                process: "proc".into(),
            },
            ecs: false,
        };
        let b = f.format(&rec(r#"{"event_type":"dns"}"#, "dns")).unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "{\"create\":{\"_id\":\"run1-7\",\"_index\":\"phonehome\"}}\n{\"event_type\":\"dns\"}\n"
        );
    }

    #[test]
    fn records_after_a_stop_take_the_process_id_not_the_runs() {
        let f = Formatter::new(&Dest::Hec {
            url: "http://h".into(),
            token: "t".into(),
            sourcetype: "suricata:{event_type}".into(),
            index: None,
        })
        .for_run(Some(0xab));
        let mut r = rec(r#"{"event_type":"flow"}"#, "flow");
        let id = |f: &Formatter, r: &Record| -> String {
            let v: serde_json::Value = serde_json::from_slice(&f.format(r).unwrap()).unwrap();
            v["fields"]["phonehome_record_id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(id(&f, &r), "ph00000000000000ab-7");
        r.stop_at = Some(5);
        let after = id(&f, &r);
        assert!(
            after.ends_with("-7") && !after.starts_with("ph00000000000000ab"),
            "{after}"
        );
    }
}
