//! Health of a running sensor: what it captured, dropped, holds and uses.
//!
//! The output stage refreshes one [`Snapshot`] about once a second; the
//! periodic `stats` event ([`stats`]) and the Prometheus endpoint
//! ([`metrics`]) both read it, so the two always say the same. Interface
//! counters are read live from the capture threads' atomics.
//!
//! Every drop has a counter here: kernel ring drops and interface drops
//! (pcap_stats), per-worker queue drops, flow table evictions, DNS cache
//! evictions, sink drops. Nothing is lost silently.

pub mod metrics;
pub mod stats;

use crate::capture::live::{snapshot as iface_snapshot, IfaceCounters, InterfaceStats};
use crate::sink::SinkHealth;
use std::sync::{Arc, Mutex};

/// Everything a sensor reports about itself, at one moment. Counters are
/// totals since start; `*_now` fields are current sizes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Wall-clock time of the snapshot, ns since the epoch.
    pub wall_ns: u64,
    /// Seconds since start.
    pub uptime_secs: f64,
    pub interfaces: Vec<InterfaceStats>,
    /// Packets and bytes that reached the decoder.
    pub packets: u64,
    pub bytes: u64,
    /// Packets the decoder could not use.
    pub packets_invalid: u64,
    /// Per worker: times the reader found its queue full and waited, and
    /// the time waited (ns). Backpressure, not drops: what a lasting wait
    /// costs is counted by the kernel ring (`kernel_dropped`).
    pub worker_queue_full: Vec<u64>,
    pub worker_queue_wait_ns: Vec<u64>,
    pub flows_created: u64,
    pub flows_active_now: u64,
    /// Flows written out early to stay within --max-flows.
    pub flows_evicted: u64,
    pub flows_timed_out: u64,
    pub dns_cache_bindings_now: u64,
    pub dns_cache_evicted: u64,
    pub dns_pending_dropped: u64,
    /// EVE lines written (events, alerts, stats).
    pub events: u64,
    pub alerts: u64,
    pub sinks: Vec<SinkHealth>,
    /// SIGHUP reloads that took, and that kept the old files.
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    pub resident_bytes_now: u64,
    /// The workers' decoder counters, merged (layers, decoder events, the
    /// unsupported link types), as replay's final `stats.decoder` has them.
    pub decode: crate::decode::DecodeStats,
}

impl Snapshot {
    pub fn kernel_received(&self) -> u64 {
        self.interfaces.iter().map(|i| i.kernel_received).sum()
    }
    pub fn kernel_dropped(&self) -> u64 {
        self.interfaces.iter().map(|i| i.kernel_dropped).sum()
    }
    pub fn kernel_if_dropped(&self) -> u64 {
        self.interfaces.iter().map(|i| i.kernel_if_dropped).sum()
    }
}

/// The latest snapshot, shared between the output stage (writer) and the
/// metrics endpoint (reader), with the interfaces' live counters.
#[derive(Clone, Debug, Default)]
pub struct Shared {
    latest: Arc<Mutex<Snapshot>>,
    interfaces: Arc<Vec<(String, Arc<IfaceCounters>)>>,
}

impl Shared {
    pub fn new(interfaces: Vec<(String, Arc<IfaceCounters>)>) -> Self {
        Shared {
            latest: Arc::default(),
            interfaces: Arc::new(interfaces),
        }
    }

    pub fn set(&self, s: Snapshot) {
        if let Ok(mut l) = self.latest.lock() {
            *l = s;
        }
    }

    /// The latest snapshot with the interface counters as they are now.
    pub fn get(&self) -> Snapshot {
        let mut s = self.latest.lock().map(|l| l.clone()).unwrap_or_default();
        if !self.interfaces.is_empty() {
            s.interfaces = iface_snapshot(&self.interfaces);
        }
        s
    }

    pub fn interface_stats(&self) -> Vec<InterfaceStats> {
        iface_snapshot(&self.interfaces)
    }
}

/// Resident memory of this process in bytes (Linux: VmRSS; 0 elsewhere).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| vm_field(&s, "VmRSS:"))
        .unwrap_or(0)
}

/// Peak resident memory (VmHWM) in bytes.
pub fn peak_resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| vm_field(&s, "VmHWM:"))
        .unwrap_or(0)
}

/// `VmRSS:     1234 kB` → 1234 * 1024.
fn vm_field(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line
        .get(key.len()..)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read() {
        assert_eq!(
            vm_field("Name:\tx\nVmRSS:\t    2048 kB\n", "VmRSS:"),
            Some(2048 * 1024)
        );
        assert_eq!(vm_field("VmRSS: junk kB\n", "VmRSS:"), None);
        assert!(resident_bytes() > 0);
        assert!(peak_resident_bytes() >= resident_bytes() / 2);
    }

    #[test]
    fn kernel_totals_add_up_over_interfaces() {
        let s = Snapshot {
            interfaces: vec![
                InterfaceStats {
                    kernel_received: 10,
                    kernel_dropped: 1,
                    ..Default::default()
                },
                InterfaceStats {
                    kernel_received: 5,
                    kernel_if_dropped: 2,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            (
                s.kernel_received(),
                s.kernel_dropped(),
                s.kernel_if_dropped()
            ),
            (15, 1, 2)
        );
    }
}
