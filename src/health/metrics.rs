//! `--metrics ADDR:PORT`: the health snapshot as a Prometheus text endpoint.
//!
//! Encoded by `prometheus-client` (the Prometheus project's Rust client:
//! maintained, no global registry, the Prometheus text format 0.0.4 that
//! every scraper reads) through a collector that reads the shared snapshot
//! on each scrape. Names follow the Prometheus conventions: a `phonehome_`
//! prefix, base units in the name (`_bytes`, `_seconds`), `_total` on
//! counters, labels for the interface, worker and sink.
//!
//! The HTTP side is one thread answering `GET /metrics` on the address
//! given (loopback by default in the docs): requests are read with a size
//! cap and a timeout, one at a time.

use super::{Shared, Snapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// The collector: reads [`Shared`] on every scrape.
#[derive(Debug)]
struct Sensor(Shared);

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let m = enc.encode_descriptor(name, help, unit, MetricType::Counter)?;
    ConstCounter::new(v).encode(m)
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: f64,
) -> Result<(), std::fmt::Error> {
    let m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

/// A counter with one label, one sample per (label value, count).
fn counter_by(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    label: &'static str,
    values: &[(String, u64)],
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (l, v) in values {
        let labels = [(label, l.as_str())];
        let f = m.encode_family(&labels)?;
        ConstCounter::new(*v).encode(f)?;
    }
    Ok(())
}

fn gauge_by(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    label: &'static str,
    values: &[(String, f64)],
) -> Result<(), std::fmt::Error> {
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (l, v) in values {
        let labels = [(label, l.as_str())];
        let f = m.encode_family(&labels)?;
        ConstGauge::new(*v).encode(f)?;
    }
    Ok(())
}

/// Every number of a JSON tree as (dotted path, value), in key order.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, u64)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        serde_json::Value::Number(n) => out.push((prefix.to_owned(), n.as_u64().unwrap_or(0))),
        _ => {}
    }
}

/// The decoder's detail counters, named as in `stats.decoder`: packets per
/// layer, decoder events (Suricata's names), phonehome's own counters.
fn encode_decoder(
    e: &mut DescriptorEncoder,
    d: &crate::decode::DecodeStats,
) -> Result<(), std::fmt::Error> {
    let (sur, ph) = d.to_eve();
    let mut all = Vec::new();
    flatten("", &sur, &mut all);
    let (events, layers): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|(k, _)| k.starts_with("event."));
    let events: Vec<(String, u64)> = events
        .into_iter()
        .map(|(k, v)| (k.trim_start_matches("event.").to_owned(), v))
        .collect();
    counter_by(
        e,
        "phonehome_decoder_layer_packets",
        "Packets decoded per layer or protocol (stats.decoder, Suricata's names)",
        None,
        "layer",
        &layers,
    )?;
    counter_by(
        e,
        "phonehome_decoder_events",
        "Decoder anomalies by Suricata decoder event (stats.decoder.event)",
        None,
        "event",
        &events,
    )?;
    let mut own = Vec::new();
    flatten("", &ph, &mut own);
    counter_by(
        e,
        "phonehome_decoder_detail",
        "phonehome's own decoder counters (stats.phonehome.decoder)",
        None,
        "counter",
        &own,
    )
}

fn encode_snapshot(s: &Snapshot, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let by_iface = |f: fn(&crate::capture::live::InterfaceStats) -> u64| -> Vec<(String, u64)> {
        s.interfaces
            .iter()
            .map(|i| (i.name.clone(), f(i)))
            .collect()
    };
    counter_by(
        &mut e,
        "phonehome_kernel_received_packets",
        "Packets the kernel passed to the capture socket (pcap_stats ps_recv, drops included)",
        None,
        "interface",
        &by_iface(|i| i.kernel_received),
    )?;
    counter_by(
        &mut e,
        "phonehome_kernel_dropped_packets",
        "Packets the kernel dropped because the capture ring was full (pcap_stats ps_drop)",
        None,
        "interface",
        &by_iface(|i| i.kernel_dropped),
    )?;
    counter_by(
        &mut e,
        "phonehome_kernel_interface_dropped_packets",
        "Packets the interface or its driver dropped (pcap_stats ps_ifdrop)",
        None,
        "interface",
        &by_iface(|i| i.kernel_if_dropped),
    )?;
    counter_by(
        &mut e,
        "phonehome_captured_packets",
        "Packets read from the capture ring",
        None,
        "interface",
        &by_iface(|i| i.packets),
    )?;
    counter_by(
        &mut e,
        "phonehome_interface_down_events",
        "Times the interface went down or away (capture re-opened with backoff)",
        None,
        "interface",
        &by_iface(|i| i.down_events),
    )?;
    let down: Vec<(String, f64)> = s
        .interfaces
        .iter()
        .map(|i| (i.name.clone(), i.down_ns as f64 / 1e9))
        .collect();
    // A counter of seconds: conventional `_seconds_total`.
    let mut m = e.encode_descriptor(
        "phonehome_interface_down",
        "Time without capture on the interface",
        Some(&Unit::Seconds),
        MetricType::Counter,
    )?;
    for (l, v) in &down {
        let labels = [("interface", l.as_str())];
        ConstCounter::new(*v).encode(m.encode_family(&labels)?)?;
    }
    let up: Vec<(String, f64)> = s
        .interfaces
        .iter()
        .map(|i| (i.name.clone(), if i.up { 1.0 } else { 0.0 }))
        .collect();
    gauge_by(
        &mut e,
        "phonehome_interface_up",
        "1 while the interface is being captured, 0 during a gap",
        None,
        "interface",
        &up,
    )?;
    counter(
        &mut e,
        "phonehome_decoded_packets",
        "Packets that reached the decoder",
        None,
        s.packets,
    )?;
    counter(
        &mut e,
        "phonehome_decoded",
        "Bytes of the packets that reached the decoder",
        Some(&Unit::Bytes),
        s.bytes,
    )?;
    counter(
        &mut e,
        "phonehome_invalid_packets",
        "Packets the decoder could not use",
        None,
        s.packets_invalid,
    )?;
    encode_decoder(&mut e, &s.decode)?;
    let by_worker = |v: &[u64]| -> Vec<(String, u64)> {
        v.iter()
            .enumerate()
            .map(|(w, n)| (w.to_string(), *n))
            .collect()
    };
    counter_by(
        &mut e,
        "phonehome_worker_queue_full",
        "Times the reader found this worker's queue full and waited (backpressure: nothing is dropped there; a lasting wait shows as kernel drops)",
        None,
        "worker",
        &by_worker(&s.worker_queue_full),
    )?;
    let waited: Vec<(String, f64)> = s
        .worker_queue_wait_ns
        .iter()
        .enumerate()
        .map(|(w, n)| (w.to_string(), *n as f64 / 1e9))
        .collect();
    let mut m = e.encode_descriptor(
        "phonehome_worker_queue_wait",
        "Time the reader waited for this worker's queue",
        Some(&Unit::Seconds),
        MetricType::Counter,
    )?;
    for (l, v) in &waited {
        let labels = [("worker", l.as_str())];
        ConstCounter::new(*v).encode(m.encode_family(&labels)?)?;
    }
    counter(
        &mut e,
        "phonehome_flows_created",
        "Flows created",
        None,
        s.flows_created,
    )?;
    gauge(
        &mut e,
        "phonehome_flows_active",
        "Flows held in the flow tables now",
        None,
        s.flows_active_now as f64,
    )?;
    counter(
        &mut e,
        "phonehome_flows_evicted",
        "Flows written out early to stay within --max-flows",
        None,
        s.flows_evicted,
    )?;
    counter(
        &mut e,
        "phonehome_flows_timed_out",
        "Flows ended by an idle timeout",
        None,
        s.flows_timed_out,
    )?;
    gauge(
        &mut e,
        "phonehome_dns_cache_bindings",
        "Name-to-address bindings held in the DNS cache now",
        None,
        s.dns_cache_bindings_now as f64,
    )?;
    counter(
        &mut e,
        "phonehome_dns_cache_evicted_bindings",
        "DNS bindings evicted to stay within the cache bound",
        None,
        s.dns_cache_evicted,
    )?;
    counter(
        &mut e,
        "phonehome_dns_pending_dropped_queries",
        "Pending DNS questions dropped to stay within their bound",
        None,
        s.dns_pending_dropped,
    )?;
    counter(
        &mut e,
        "phonehome_eve_events",
        "EVE lines written (events, alerts, stats)",
        None,
        s.events,
    )?;
    counter(
        &mut e,
        "phonehome_alerts",
        "Alert events written",
        None,
        s.alerts,
    )?;
    let sink = |f: fn(&crate::sink::SinkHealth) -> u64| -> Vec<(String, u64)> {
        s.sinks.iter().map(|k| (k.name.clone(), f(k))).collect()
    };
    counter_by(
        &mut e,
        "phonehome_sink_sent_records",
        "Records the sink's destination confirmed",
        None,
        "sink",
        &sink(|k| k.counts.sent),
    )?;
    counter_by(
        &mut e,
        "phonehome_sink_spooled_records",
        "Records spooled because the destination was down",
        None,
        "sink",
        &sink(|k| k.counts.spooled),
    )?;
    counter_by(
        &mut e,
        "phonehome_sink_dropped_records",
        "Records a sink lost (spool full or unwritable, rejected for good)",
        None,
        "sink",
        &sink(|k| k.counts.dropped),
    )?;
    let q: Vec<(String, f64)> = s
        .sinks
        .iter()
        .map(|k| (k.name.clone(), k.queued as f64))
        .collect();
    gauge_by(
        &mut e,
        "phonehome_sink_queued_records",
        "Records waiting in the sink's queue now",
        None,
        "sink",
        &q,
    )?;
    let b: Vec<(String, f64)> = s
        .sinks
        .iter()
        .map(|k| (k.name.clone(), k.backlog as f64))
        .collect();
    gauge_by(
        &mut e,
        "phonehome_sink_spool_records",
        "Records waiting in the sink's spool now",
        None,
        "sink",
        &b,
    )?;
    counter_by(
        &mut e,
        "phonehome_reloads",
        "SIGHUP reloads of catalog, policy and GeoIP, by result",
        None,
        "result",
        &[
            ("ok".to_string(), s.reloads_ok),
            ("failed".to_string(), s.reloads_failed),
        ],
    )?;
    gauge(
        &mut e,
        "process_resident_memory",
        "Resident memory size",
        Some(&Unit::Bytes),
        s.resident_bytes_now as f64,
    )?;
    gauge(
        &mut e,
        "phonehome_uptime",
        "Time since the sensor started",
        Some(&Unit::Seconds),
        s.uptime_secs,
    )?;
    Ok(())
}

impl Collector for Sensor {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut s = self.0.get();
        s.resident_bytes_now = super::resident_bytes();
        encode_snapshot(&s, encoder)
    }
}

/// The text a scrape returns.
pub fn render(shared: &Shared) -> String {
    let mut reg = Registry::default();
    reg.register_collector(Box::new(Sensor(shared.clone())));
    let mut out = String::new();
    if prometheus_client::encoding::prometheus_text::encode(&mut out, &reg).is_err() {
        out.clear();
    }
    out
}

/// Longest request head read.
const MAX_REQUEST: usize = 8 << 10;

/// Binds `addr` now (so a bad or busy address is an error at start) and
/// answers scrapes on a thread. Returns the bound address (port 0 picks one).
pub fn serve(addr: SocketAddr, shared: Shared) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("phonehome-metrics".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else {
                    continue;
                };
                // One slow or hostile client only costs its own timeout.
                let _ = answer(conn, &shared);
            }
        })?;
    Ok(bound)
}

fn answer(mut conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if head.len() > MAX_REQUEST {
            return respond(
                &mut conn,
                "431 Request Header Fields Too Large",
                "text/plain",
                "",
            );
        }
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") | ("HEAD", "/metrics") => {
            let body = render(shared);
            let body = if method == "HEAD" { "" } else { body.as_str() };
            respond(
                &mut conn,
                "200 OK",
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                body,
            )
        }
        ("GET", "/") => respond(
            &mut conn,
            "200 OK",
            "text/plain; charset=utf-8",
            "phonehome sensor: metrics at /metrics\n",
        ),
        ("GET", _) | ("HEAD", _) => {
            respond(&mut conn, "404 Not Found", "text/plain", "not found\n")
        }
        _ => respond(
            &mut conn,
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n",
        ),
    }
}

fn respond(conn: &mut TcpStream, status: &str, ctype: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::live::InterfaceStats;

    fn sample() -> Shared {
        let sh = Shared::default();
        let mut decode = crate::decode::DecodeStats::default();
        decode.add(crate::decode::Counter::Ipv4, 90);
        decode.add(crate::decode::Counter::Ipv4TruncPkt, 2);
        sh.set(Snapshot {
            decode,
            interfaces: vec![InterfaceStats {
                name: "eth1".into(),
                kernel_received: 100,
                kernel_dropped: 3,
                kernel_if_dropped: 1,
                packets: 97,
                up: true,
                ..Default::default()
            }],
            packets: 97,
            bytes: 9700,
            worker_queue_full: vec![0, 2],
            worker_queue_wait_ns: vec![0, 1_500_000_000],
            flows_active_now: 5,
            ..Default::default()
        });
        sh
    }

    #[test]
    fn text_has_conventional_names_units_and_labels() {
        let text = render(&sample());
        for want in [
            "# TYPE phonehome_kernel_dropped_packets_total counter",
            "phonehome_kernel_dropped_packets_total{interface=\"eth1\"} 3",
            "phonehome_kernel_received_packets_total{interface=\"eth1\"} 100",
            "phonehome_kernel_interface_dropped_packets_total{interface=\"eth1\"} 1",
            "phonehome_decoded_bytes_total 9700",
            "phonehome_worker_queue_full_total{worker=\"1\"} 2",
            "# TYPE phonehome_worker_queue_wait_seconds_total counter",
            "phonehome_worker_queue_wait_seconds_total{worker=\"1\"} 1.5",
            "phonehome_flows_active 5",
            "phonehome_interface_up{interface=\"eth1\"} 1",
            "# TYPE phonehome_decoder_layer_packets_total counter",
            "phonehome_decoder_layer_packets_total{layer=\"ipv4\"} 90",
            "phonehome_decoder_layer_packets_total{layer=\"ipv6\"} 0",
            "phonehome_decoder_events_total{event=\"ipv4.trunc_pkt\"} 2",
            "phonehome_decoder_detail_total{counter=",
            "# TYPE process_resident_memory_bytes gauge",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn endpoint_answers_get_and_refuses_the_rest() {
        let addr = serve("127.0.0.1:0".parse().unwrap(), sample()).unwrap();
        let ask = |req: &str| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(req.as_bytes()).unwrap();
            let mut out = String::new();
            c.read_to_string(&mut out).unwrap();
            out
        };
        let ok = ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("text/plain; version=0.0.4"));
        assert!(ok.contains("phonehome_flows_active 5"));
        assert!(ask("GET /nope HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(ask("POST /metrics HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 405"));
        let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        let mut c = TcpStream::connect(addr).unwrap();
        let _ = c.write_all(huge.as_bytes());
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 431"), "{out}");
    }
}
