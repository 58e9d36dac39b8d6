//! The live sensor's `stats` events: cumulative, and per interval.
//!
//! Every `--stats-interval` (and once at the end) the output stage writes
//! the usual `stats` event ([`crate::output::eve::stats_event`], totals since
//! start) with the sensor's health spliced in:
//!
//! * `stats.capture`: `kernel_packets`, `kernel_drops`, `kernel_ifdrops`
//!   summed over the interfaces, as Suricata names them;
//! * `stats.uptime` (seconds);
//! * `stats.phonehome.live`: per interface (kernel counters, packets read,
//!   gaps), per-worker queue drops, active flows, DNS cache size and
//!   evictions, sink queues and spools, resident memory, SIGHUP reloads,
//!   and `final` on the last event of the run;
//! * `stats.phonehome.interval`: what changed since the previous stats
//!   event, over `seconds`, the decoder's detail counters included
//!   (`decoder`: Suricata's layer and event names; `phonehome_decoder`).
//!
//! The cumulative decoder counters (`stats.decoder`, `stats.phonehome.decoder`)
//! come from the snapshot through the usual stats event.

use super::Snapshot;
use serde_json::{json, Value};

/// Remembers the previous snapshot to write per-interval figures.
#[derive(Debug, Default)]
pub struct Interval {
    prev: Option<Snapshot>,
}

/// Nanoseconds as seconds, to the microsecond.
fn secs(ns: u64) -> f64 {
    (ns / 1000) as f64 / 1e6
}

fn live_object(s: &Snapshot, final_event: bool) -> Value {
    let interfaces: Vec<Value> = s
        .interfaces
        .iter()
        .map(|i| {
            json!({
                "name": i.name,
                "kernel_packets": i.kernel_received,
                "kernel_drops": i.kernel_dropped,
                "kernel_ifdrops": i.kernel_if_dropped,
                "packets": i.packets,
                "up": i.up,
                "down_events": i.down_events,
                "down_seconds": i.down_ns as f64 / 1e9,
            })
        })
        .collect();
    let sinks: serde_json::Map<String, Value> = s
        .sinks
        .iter()
        .map(|k| {
            (
                k.name.clone(),
                json!({ "queued": k.queued, "spool_backlog": k.backlog }),
            )
        })
        .collect();
    json!({
        "interfaces": interfaces,
        "worker_queue_full": s.worker_queue_full,
        "worker_queue_wait_seconds": s.worker_queue_wait_ns.iter().map(|&n| secs(n)).collect::<Vec<f64>>(),
        "flows_active": s.flows_active_now,
        "dns_cache": {
            "bindings": s.dns_cache_bindings_now,
            "evicted": s.dns_cache_evicted,
            "pending_dropped": s.dns_pending_dropped,
        },
        "sinks": sinks,
        "memory": { "rss_bytes": s.resident_bytes_now },
        "reloads": { "ok": s.reloads_ok, "failed": s.reloads_failed },
        "final": final_event,
    })
}

fn interval_object(now: &Snapshot, prev: &Snapshot) -> Value {
    let d = |a: u64, b: u64| a.saturating_sub(b);
    let queue_full = |s: &Snapshot| s.worker_queue_full.iter().sum::<u64>();
    let queue_wait = |s: &Snapshot| s.worker_queue_wait_ns.iter().sum::<u64>();
    let sink_dropped = |s: &Snapshot| s.sinks.iter().map(|k| k.counts.dropped).sum::<u64>();
    let (now_sur, now_ph) = now.decode.to_eve();
    let (prev_sur, prev_ph) = prev.decode.to_eve();
    json!({
        "seconds": ((now.uptime_secs - prev.uptime_secs).max(0.0) * 1000.0).round() / 1000.0,
        "kernel_packets": d(now.kernel_received(), prev.kernel_received()),
        "kernel_drops": d(now.kernel_dropped(), prev.kernel_dropped()),
        "kernel_ifdrops": d(now.kernel_if_dropped(), prev.kernel_if_dropped()),
        "pkts": d(now.packets, prev.packets),
        "bytes": d(now.bytes, prev.bytes),
        "worker_queue_full": d(queue_full(now), queue_full(prev)),
        "worker_queue_wait_seconds": secs(d(queue_wait(now), queue_wait(prev))),
        "flows": d(now.flows_created, prev.flows_created),
        "flows_evicted": d(now.flows_evicted, prev.flows_evicted),
        "dns_cache_evicted": d(now.dns_cache_evicted, prev.dns_cache_evicted),
        "events": d(now.events, prev.events),
        "alerts": d(now.alerts, prev.alerts),
        "sink_dropped": d(sink_dropped(now), sink_dropped(prev)),
        "decoder": diff(&now_sur, &prev_sur),
        "phonehome_decoder": diff(&now_ph, &prev_ph),
    })
}

/// `now - prev` for every number of a JSON tree (counters only grow; a
/// key missing before counts from 0).
fn diff(now: &Value, prev: &Value) -> Value {
    match now {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), diff(v, prev.get(k).unwrap_or(&Value::Null))))
                .collect(),
        ),
        Value::Number(n) => {
            let a = n.as_u64().unwrap_or(0);
            let b = prev.as_u64().unwrap_or(0);
            Value::from(a.saturating_sub(b))
        }
        other => other.clone(),
    }
}

/// Inserts `,"key":value` before the `depth`-th closing brace from the end
/// of a one-line JSON object (1: the event, 2: `stats`, 3: `stats.phonehome`).
fn splice(line: &mut Vec<u8>, depth: usize, key: &str, v: &Value) -> bool {
    let nl = line.last() == Some(&b'\n');
    let end = line.len() - usize::from(nl);
    let Some(tail) = end.checked_sub(depth) else {
        return false;
    };
    if line
        .get(tail..end)
        .is_none_or(|t| t.iter().any(|&b| b != b'}'))
    {
        return false;
    }
    let Ok(body) = serde_json::to_vec(v) else {
        return false;
    };
    let mut ins = Vec::with_capacity(key.len() + body.len() + 4);
    ins.extend_from_slice(b",\"");
    ins.extend_from_slice(key.as_bytes());
    ins.extend_from_slice(b"\":");
    ins.extend_from_slice(&body);
    line.splice(tail..tail, ins);
    true
}

impl Interval {
    /// Adds the sensor's health to a `stats` event line (as written by
    /// [`crate::output::eve::stats_event`], sinks possibly spliced in).
    pub fn splice(&mut self, line: &mut Vec<u8>, now: &Snapshot, final_event: bool) {
        let prev = self.prev.take().unwrap_or_default();
        splice(line, 3, "live", &live_object(now, final_event));
        splice(line, 3, "interval", &interval_object(now, &prev));
        splice(
            line,
            2,
            "capture",
            &json!({
                "kernel_packets": now.kernel_received(),
                "kernel_drops": now.kernel_dropped(),
                "kernel_ifdrops": now.kernel_if_dropped(),
            }),
        );
        splice(line, 2, "uptime", &json!(now.uptime_secs.floor() as u64));
        self.prev = Some(now.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::live::InterfaceStats;
    use crate::output::{eve::stats_event, RunStats};

    fn snap(rx: u64, drops: u64, pkts: u64, up: f64) -> Snapshot {
        Snapshot {
            uptime_secs: up,
            interfaces: vec![InterfaceStats {
                name: "eth1".into(),
                kernel_received: rx,
                kernel_dropped: drops,
                ..Default::default()
            }],
            packets: pkts,
            worker_queue_full: vec![0],
            worker_queue_wait_ns: vec![0],
            ..Default::default()
        }
    }

    #[test]
    fn cumulative_and_interval_figures_are_spliced_in() {
        let mut iv = Interval::default();
        let mut first = Vec::new();
        stats_event(&mut first, &RunStats::default());
        first.push(b'\n');
        iv.splice(&mut first, &snap(100, 1, 99, 60.0), false);
        let v: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(v["event_type"], "stats");
        assert_eq!(v["stats"]["capture"]["kernel_packets"], 100);
        assert_eq!(v["stats"]["capture"]["kernel_drops"], 1);
        assert_eq!(v["stats"]["uptime"], 60);
        assert_eq!(
            v["stats"]["phonehome"]["live"]["interfaces"][0]["name"],
            "eth1"
        );
        assert_eq!(v["stats"]["phonehome"]["interval"]["kernel_packets"], 100);
        assert_eq!(v["stats"]["phonehome"]["live"]["final"], false);
        assert!(first.ends_with(b"}\n"));

        let mut second = Vec::new();
        stats_event(&mut second, &RunStats::default());
        iv.splice(&mut second, &snap(250, 4, 240, 120.0), true);
        let v: Value = serde_json::from_slice(&second).unwrap();
        assert_eq!(v["stats"]["capture"]["kernel_packets"], 250);
        assert_eq!(v["stats"]["phonehome"]["interval"]["kernel_packets"], 150);
        assert_eq!(v["stats"]["phonehome"]["interval"]["kernel_drops"], 3);
        assert_eq!(v["stats"]["phonehome"]["interval"]["pkts"], 141);
        assert_eq!(v["stats"]["phonehome"]["interval"]["seconds"], 60.0);
        assert_eq!(v["stats"]["phonehome"]["live"]["final"], true);
    }

    #[test]
    fn decoder_detail_counters_are_cumulative_and_per_interval() {
        use crate::decode::Counter;
        let mut iv = Interval::default();
        let mut a = snap(10, 0, 10, 1.0);
        a.decode.add(Counter::Ipv4, 7);
        a.decode.add(Counter::Ipv4TruncPkt, 1);
        a.decode.count_unsupported_link(147, 2);
        let mut b = snap(30, 0, 30, 2.0);
        b.decode.add(Counter::Ipv4, 20);
        b.decode.add(Counter::Ipv6, 3);
        b.decode.add(Counter::Ipv4TruncPkt, 1);
        b.decode.count_unsupported_link(147, 5);
        let line = |s: &Snapshot, iv: &mut Interval| {
            let st = RunStats {
                decode: s.decode.clone(),
                ..Default::default()
            };
            let mut l = Vec::new();
            stats_event(&mut l, &st);
            iv.splice(&mut l, s, false);
            serde_json::from_slice::<Value>(&l).unwrap()
        };
        let v = line(&a, &mut iv);
        assert_eq!(v["stats"]["decoder"]["ipv4"], 7);
        assert_eq!(v["stats"]["phonehome"]["interval"]["decoder"]["ipv4"], 7);
        let v = line(&b, &mut iv);
        // Cumulative in stats.decoder, as replay writes it; the change since
        // the previous event in the interval.
        assert_eq!(v["stats"]["decoder"]["ipv4"], 20);
        assert_eq!(v["stats"]["decoder"]["event"]["ipv4"]["trunc_pkt"], 1);
        let i = &v["stats"]["phonehome"]["interval"];
        assert_eq!(i["decoder"]["ipv4"], 13);
        assert_eq!(i["decoder"]["ipv6"], 3);
        assert_eq!(i["decoder"]["event"]["ipv4"]["trunc_pkt"], 0);
        assert_eq!(i["phonehome_decoder"]["unsupported_link_type"]["147"], 3);
    }

    #[test]
    fn a_line_of_another_shape_is_left_alone() {
        let mut line = b"{\"a\":1}".to_vec();
        Interval::default().splice(&mut line, &Snapshot::default(), false);
        assert_eq!(line, b"{\"a\":1}");
    }
}
