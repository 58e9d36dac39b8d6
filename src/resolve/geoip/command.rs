//! `phonehome geoip <IP>...`: what GeoIP says about each address, as
//! tab-separated text or JSON lines.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;

use super::{GeoAnswer, GeoIp};

/// The answer for one command-line argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum GeoLine {
    Answer {
        /// The argument as given.
        input: String,
        ip: IpAddr,
        #[serde(flatten)]
        answer: GeoAnswer,
    },
    Error {
        input: String,
        error: String,
    },
}

impl GeoLine {
    pub fn is_error(&self) -> bool {
        matches!(self, GeoLine::Error { .. })
    }

    /// One line: `8.8.8.8\tUS\tAS15169\tGoogle LLC`, `-` for what is unknown;
    /// `10.0.0.1\tinternal (private, RFC 1918)`; `foo\terror: ...`.
    pub fn to_text(&self) -> String {
        match self {
            GeoLine::Error { input, error } => format!("{input}\terror: {error}"),
            GeoLine::Answer { input, answer, .. } => match answer.internal {
                Some(kind) => format!("{input}\tinternal ({})", kind.description()),
                None => {
                    let mut s = String::with_capacity(64);
                    let _ = write!(s, "{input}\t{}\t", answer.country.as_deref().unwrap_or("-"));
                    match answer.asn {
                        Some(n) => {
                            let _ = write!(s, "AS{n}");
                        }
                        None => s.push('-'),
                    }
                    s.push('\t');
                    s.push_str(answer.as_org.as_deref().unwrap_or("-"));
                    s
                }
            },
        }
    }

    /// One JSON object, e.g. `{"input":"8.8.8.8","ip":"8.8.8.8","country":"US","asn":15169,"as_org":"Google LLC"}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// Parses an address as typed: plain, in brackets, or with an IPv6 zone.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(t);
    let t = t.split_once('%').map_or(t, |(addr, _zone)| addr);
    t.parse().ok()
}

/// Looks up every argument; text that is no IP address gives an error line.
pub fn geoip_lookup_all(inputs: &[String], geo: &GeoIp) -> Vec<GeoLine> {
    inputs
        .iter()
        .map(|input| match parse_ip(input) {
            None => GeoLine::Error {
                input: input.clone(),
                error: "not an IP address".to_owned(),
            },
            Some(ip) => match geo.try_lookup(ip) {
                Ok(answer) => GeoLine::Answer {
                    input: input.clone(),
                    ip,
                    answer,
                },
                Err(e) => GeoLine::Error {
                    input: input.clone(),
                    error: e.to_string(),
                },
            },
        })
        .collect()
}

/// Tab-separated text, one line per argument.
pub fn geoip_command(inputs: &[String], geo: &GeoIp) -> String {
    join(geoip_lookup_all(inputs, geo).iter().map(GeoLine::to_text))
}

/// JSON lines, one object per argument.
pub fn geoip_command_json(inputs: &[String], geo: &GeoIp) -> String {
    join(geoip_lookup_all(inputs, geo).iter().map(GeoLine::to_json))
}

fn join(lines: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_addresses_as_typed() {
        assert_eq!(parse_ip(" 1.2.3.4 "), "1.2.3.4".parse().ok());
        assert_eq!(parse_ip("[2001:db8::1]"), "2001:db8::1".parse().ok());
        assert_eq!(parse_ip("fe80::1%eth0"), "fe80::1".parse().ok());
        assert_eq!(parse_ip("1.2.3"), None);
        assert_eq!(parse_ip("example.com"), None);
    }

    #[test]
    fn text_and_json_on_built_in_data() {
        let geo = GeoIp::embedded().unwrap();
        let a = args(&[
            "8.8.8.8",
            "10.0.0.1",
            "bogus",
            "::ffff:192.168.1.1",
            "2001:db8::5",
        ]);
        let text = geoip_command(&a, &geo);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "8.8.8.8\tUS\tAS15169\tGoogle LLC");
        assert_eq!(lines[1], "10.0.0.1\tinternal (private, RFC 1918)");
        assert_eq!(lines[2], "bogus\terror: not an IP address");
        assert_eq!(lines[3], "::ffff:192.168.1.1\tinternal (private, RFC 1918)");
        assert_eq!(lines[4], "2001:db8::5\tinternal (documentation)");

        let json = geoip_command_json(&a, &geo);
        let lines: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"input":"8.8.8.8","ip":"8.8.8.8","country":"US",
                               "asn":15169,"as_org":"Google LLC"})
        );
        assert_eq!(
            lines[1],
            serde_json::json!({"input":"10.0.0.1","ip":"10.0.0.1","internal":"private"})
        );
        assert_eq!(
            lines[2],
            serde_json::json!({"input":"bogus","error":"not an IP address"})
        );
        let all = geoip_lookup_all(&a, &geo);
        assert_eq!(all.iter().filter(|l| l.is_error()).count(), 1);
    }

    #[test]
    fn unknown_fields_print_as_dashes() {
        let geo = GeoIp::none();
        assert_eq!(
            geoip_command(&args(&["8.8.8.8"]), &geo),
            "8.8.8.8\t-\t-\t-\n"
        );
    }
}
