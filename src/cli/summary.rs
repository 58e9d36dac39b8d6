//! The short human summary printed on stderr at the end of a replay.

use phonehome::output::RunStats;
use std::fmt::Write;
use std::time::Duration;

/// A few lines an analyst reads at a glance: what was read, how fast, what was odd.
pub fn summary(st: &RunStats, elapsed: Duration, events: u64) -> String {
    let cap = &st.capture;
    let fl = &st.flows;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "phonehome: {} packets ({} bytes) from {} file(s) in {:.2}s ({:.2} Mpkt/s)",
        cap.pkts,
        cap.bytes,
        cap.files,
        secs,
        cap.pkts as f64 / secs / 1e6
    );
    let _ = writeln!(
        s,
        "  flows: {} (tcp {}, udp {}, icmp {}, other {}); events written: {}",
        fl.created,
        fl.tcp,
        fl.udp,
        fl.icmpv4 + fl.icmpv6,
        fl.other,
        events
    );
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
    s
}
