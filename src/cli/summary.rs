//! The short human summary printed on stderr at the end of a replay.

use phonehome::output::RunStats;
use std::fmt::Write;
use std::time::Duration;

/// What the run wrote, and whether damage was tolerated.
pub struct Written<'a> {
    /// EVE events and alerts written, the stats event included.
    pub events: u64,
    /// `--eve`: a file name, or "-" for standard output.
    pub eve: &'a str,
    /// With `--keep-going`: how many named inputs were left out.
    pub keep_going: Option<u64>,
}

/// A few lines an analyst reads at a glance: what was read, how fast, where
/// the events went, what was odd.
pub fn summary(st: &RunStats, elapsed: Duration, w: &Written<'_>) -> String {
    let cap = &st.capture;
    let fl = &st.flows;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "phonehome: {} packets ({} bytes) from {} file(s) in {:.2}s ({} packets/s)",
        cap.pkts,
        cap.bytes,
        cap.files,
        secs,
        super::progress::si(cap.pkts as f64 / secs)
    );
    let _ = writeln!(
        s,
        "  flows: {} (tcp {}, udp {}, icmp {}, other {})",
        fl.created,
        fl.tcp,
        fl.udp,
        fl.icmpv4 + fl.icmpv6,
        fl.other,
    );
    let to = match w.eve {
        "-" => "standard output".to_string(),
        f => f.to_string(),
    };
    let _ = writeln!(s, "  EVE: {} events written to {to}", w.events);
    let invalid = st.decode.get(phonehome::decode::Counter::Invalid);
    let mut odd = Vec::new();
    if invalid > 0 {
        odd.push(format!("{invalid} malformed packets"));
    }
    if cap.truncated_records > 0 {
        odd.push(format!("{} truncated records", cap.truncated_records));
    }
    if cap.damaged_files > 0 {
        odd.push(format!("{} damaged file(s)", cap.damaged_files));
    }
    if fl.ended_forced > 0 {
        odd.push(format!("{} flows evicted (table full)", fl.ended_forced));
    }
    if !odd.is_empty() {
        let _ = writeln!(s, "  note: {} (see the stats event)", odd.join(", "));
    }
    if let Some(left_out) = w.keep_going {
        let bad = cap.damaged_files + left_out;
        if bad > 0 {
            let _ = writeln!(
                s,
                "  --keep-going: {bad} input(s) missing, not captures or damaged (reported above); \
                 what could be read was used, and the run does not fail for them"
            );
        }
    }
    s
}
