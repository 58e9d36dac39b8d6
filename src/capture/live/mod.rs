//! Live capture: libpcap on one or more network interfaces.
//!
//! Each interface is opened through the `pcap` crate (libpcap: a TPACKET_V3
//! memory-mapped ring on Linux, immediate mode off so the kernel hands over
//! whole blocks, a ring-block timeout so a quiet link still delivers) and
//! read by its own thread ([`reader`]). The threads' batches are put in
//! time order across interfaces ([`merge`]), so both directions of a tap on
//! two ports join one flow, and handed out as [`Block`]s, like a file's.
//!
//! Opening needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode and a
//! large ring); [`LiveError::Permission`] says how to grant them. Opening
//! happens before the threads start, so `--user` can drop privileges in
//! between ([`privilege`]). An interface that goes down or disappears is
//! closed, re-opened with backoff when it is back, and the gap is counted.
//!
//! The source honours a [`Stop`] request: readers take what the kernel
//! already holds, then end, and [`LiveSource::fill`] reports the end once
//! everything they sent was handed out.
//!
//! [`pipe::PipeSource`] reads a capture stream (`live -r -`) the same way:
//! packets as they arrive, idle ticks while the writer is quiet.

mod iface;
mod merge;
pub mod pipe;
pub mod privilege;
mod reader;

pub use iface::{iface_state, valid_name, IfaceState};

use super::{Block, PacketMeta};
use crate::base::stop::Stop;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use pcap::{Active, Capture};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings of a live capture.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub interfaces: Vec<String>,
    /// Bytes kept of each packet.
    pub snaplen: u32,
    pub promisc: bool,
    /// Kernel ring size in bytes, per interface.
    pub buffer_size: usize,
    /// A capture filter (tcpdump syntax), compiled by libpcap.
    pub bpf: Option<String>,
    /// Ring-block timeout (ms): the longest a packet waits in the kernel.
    pub timeout_ms: u32,
    /// Bytes of packets per batch sent from a reader to the merge.
    pub batch_bytes: usize,
    /// Longest wait between attempts to re-open an interface.
    pub reopen_backoff_max: Duration,
    /// With nothing captured for this long, [`LiveSource::fill`] returns
    /// [`Fill::Idle`] so flow timeouts can run on a quiet link.
    pub idle_tick: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            interfaces: Vec::new(),
            snaplen: 262_144,
            promisc: true,
            buffer_size: 64 << 20,
            bpf: None,
            timeout_ms: 100,
            batch_bytes: 1 << 20,
            reopen_backoff_max: Duration::from_secs(30),
            idle_tick: Duration::from_secs(1),
        }
    }
}

/// Why capturing cannot start. Each names the interface and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("interface {iface}: no such network interface (see `ip link`)")]
    NoSuchInterface { iface: String },
    #[error(
        "interface {iface}: permission denied: capturing needs CAP_NET_RAW and CAP_NET_ADMIN; \
run as root, grant them once with `sudo setcap cap_net_raw,cap_net_admin=eip {exe}`, \
or run the systemd unit (AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)"
    )]
    Permission { iface: String, exe: String },
    #[error("interface {iface}: the interface is down; bring it up with `ip link set {iface} up`")]
    Down { iface: String },
    #[error("interface {iface}: bad --bpf filter: {detail}")]
    Filter { iface: String, detail: String },
    #[error("interface {iface}: cannot capture: {detail}")]
    Open { iface: String, detail: String },
    #[error("interface {iface} is given twice")]
    Duplicate { iface: String },
    #[error("cannot start a capture thread: {0}")]
    Thread(std::io::Error),
}

/// Counters of one interface, shared with its reader thread. Kernel
/// counters (pcap_stats) add up over re-opens.
#[derive(Debug, Default)]
pub struct IfaceCounters {
    /// Packets the kernel passed to the capture socket (drops included).
    pub kernel_received: AtomicU64,
    /// Packets dropped because the ring was full (the pipeline too slow).
    pub kernel_dropped: AtomicU64,
    /// Packets the interface or its driver dropped.
    pub kernel_if_dropped: AtomicU64,
    /// Packets read from the ring.
    pub packets: AtomicU64,
    /// Times the interface went down or away.
    pub down_events: AtomicU64,
    /// Times it was opened again.
    pub reopens: AtomicU64,
    /// Total time without capture, ns (gaps that ended).
    pub down_ns: AtomicU64,
    /// Wall-clock ns when the current gap began (0: capturing).
    pub down_since_ns: AtomicU64,
    pub up: AtomicBool,
}

/// A snapshot of one interface's counters, for the stats event and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    pub name: String,
    pub kernel_received: u64,
    pub kernel_dropped: u64,
    pub kernel_if_dropped: u64,
    pub packets: u64,
    pub down_events: u64,
    pub reopens: u64,
    pub down_ns: u64,
    pub up: bool,
}

/// Packets from one interface, in the order the kernel gave them.
#[derive(Debug, Default)]
pub struct Batch {
    pub iface: usize,
    pub data: Vec<u8>,
    pub packets: Vec<PacketMeta>,
    /// Capture time before which this interface will send nothing more.
    pub watermark_ns: u64,
}

impl Batch {
    #[cfg(test)]
    fn new(iface: usize) -> Self {
        Batch {
            iface,
            ..Batch::default()
        }
    }

    fn with_capacity(iface: usize, bytes: usize) -> Self {
        Batch {
            iface,
            data: Vec::with_capacity(bytes + (64 << 10)),
            packets: Vec::with_capacity(bytes / 512),
            watermark_ns: 0,
        }
    }

    fn reset(&mut self, iface: usize) {
        self.iface = iface;
        self.data.clear();
        self.packets.clear();
        self.watermark_ns = 0;
    }

    fn push_packet(&mut self, ts_ns: u64, bytes: &[u8], wire_len: u32, linktype: u16) {
        self.packets.push(PacketMeta {
            ts_ns,
            offset: self.data.len() as u32,
            caplen: bytes.len() as u32,
            origlen: wire_len.max(bytes.len() as u32),
            linktype,
        });
        self.data.extend_from_slice(bytes);
    }

    fn bytes(&self, p: &PacketMeta) -> &[u8] {
        let start = p.offset as usize;
        self.data
            .get(start..start.saturating_add(p.caplen as usize))
            .unwrap_or(&[])
    }
}

/// What [`LiveSource::fill`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Packets were appended to the block.
    Packets,
    /// Nothing arrived for the idle tick; `clock_ns` is the capture clock
    /// moved on by the wall-clock time since the last packet (0: no packet yet).
    Idle { clock_ns: u64 },
    /// The capture stopped (a stop request) and everything was handed out.
    End,
}

#[cfg(target_os = "linux")]
const PRECISION: pcap::Precision = pcap::Precision::Nano;
#[cfg(not(target_os = "linux"))]
const PRECISION: pcap::Precision = pcap::Precision::Micro;

/// Nanoseconds per unit of `tv_usec` in what libpcap hands over.
pub(crate) const TS_SUBSEC_NS: u64 = match PRECISION {
    pcap::Precision::Nano => 1,
    pcap::Precision::Micro => 1000,
};

fn classify(iface: &str, e: &pcap::Error) -> LiveError {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    let iface = iface.to_string();
    if lower.contains("permission") || lower.contains("not permitted") {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "/usr/bin/phonehome".into());
        LiveError::Permission { iface, exe }
    } else if lower.contains("no such device") {
        LiveError::NoSuchInterface { iface }
    } else if lower.contains("not up") || lower.contains("went down") {
        LiveError::Down { iface }
    } else {
        LiveError::Open {
            iface,
            detail: text.trim_start_matches("libpcap error: ").to_string(),
        }
    }
}

/// Opens one interface for capture (non-blocking, filter applied).
fn open_capture(name: &str, cfg: &LiveConfig) -> Result<Capture<Active>, LiveError> {
    match iface_state(name) {
        IfaceState::Missing => {
            return Err(LiveError::NoSuchInterface {
                iface: name.to_string(),
            })
        }
        IfaceState::Down => {
            return Err(LiveError::Down {
                iface: name.to_string(),
            })
        }
        IfaceState::Up => {}
    }
    let cap = Capture::from_device(name)
        .map_err(|e| classify(name, &e))?
        .promisc(cfg.promisc)
        .snaplen(i32::try_from(cfg.snaplen).unwrap_or(i32::MAX))
        .buffer_size(i32::try_from(cfg.buffer_size).unwrap_or(i32::MAX))
        .timeout(i32::try_from(cfg.timeout_ms).unwrap_or(i32::MAX).max(1))
        .immediate_mode(false)
        .precision(PRECISION)
        .open()
        .map_err(|e| classify(name, &e))?;
    let mut cap = cap.setnonblock().map_err(|e| classify(name, &e))?;
    if let Some(expr) = &cfg.bpf {
        cap.filter(expr, true).map_err(|e| LiveError::Filter {
            iface: name.to_string(),
            detail: e.to_string().trim_start_matches("libpcap error: ").into(),
        })?;
    }
    Ok(cap)
}

/// A live capture on one or more interfaces, yielding blocks in time order.
pub struct LiveSource {
    cfg: LiveConfig,
    names: Vec<String>,
    counters: Vec<Arc<IfaceCounters>>,
    /// Opened handles waiting for [`LiveSource::start`].
    opened: Vec<Option<Capture<Active>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    rx: Option<Receiver<Batch>>,
    pool_tx: Option<Sender<Batch>>,
    merge: merge::Merge,
    stop: Stop,
    /// All readers ended: release everything queued.
    readers_done: bool,
    /// The last packet handed out: its time, and when.
    last_packet: Option<(u64, Instant)>,
    /// Packets and bytes handed out, shared (health reads them).
    handed: Arc<Handed>,
}

/// What a live source handed to the pipeline so far.
#[derive(Debug, Default)]
pub struct Handed {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
}

impl LiveSource {
    /// Opens every interface now (this is what needs the privileges).
    pub fn open(cfg: LiveConfig, stop: Stop) -> Result<LiveSource, LiveError> {
        let mut opened = Vec::new();
        let mut counters = Vec::new();
        for (i, name) in cfg.interfaces.iter().enumerate() {
            if cfg.interfaces.iter().take(i).any(|n| n == name) {
                return Err(LiveError::Duplicate {
                    iface: name.clone(),
                });
            }
            if !valid_name(name) {
                return Err(LiveError::NoSuchInterface {
                    iface: name.clone(),
                });
            }
            opened.push(Some(open_capture(name, &cfg)?));
            let c = IfaceCounters::default();
            c.up.store(true, Ordering::Relaxed);
            counters.push(Arc::new(c));
        }
        Ok(LiveSource {
            names: cfg.interfaces.clone(),
            merge: merge::Merge::new(cfg.interfaces.len(), 64 << 20),
            cfg,
            counters,
            opened,
            threads: Vec::new(),
            rx: None,
            pool_tx: None,
            stop,
            readers_done: false,
            last_packet: None,
            handed: Arc::default(),
        })
    }

    /// Link-layer types of the opened interfaces (before [`LiveSource::start`]).
    pub fn linktypes(&self) -> Vec<u16> {
        self.opened
            .iter()
            .flatten()
            .map(|c| u16::try_from(c.get_datalink().0).unwrap_or(u16::MAX))
            .collect()
    }

    /// Starts one reader thread per interface.
    pub fn start(&mut self) -> Result<(), LiveError> {
        let (tx, rx) = crossbeam_channel::bounded::<Batch>(64);
        let (pool_tx, pool_rx) = crossbeam_channel::bounded::<Batch>(16);
        for (i, cap) in self.opened.iter_mut().enumerate() {
            let (Some(name), Some(counters)) = (self.names.get(i), self.counters.get(i)) else {
                continue;
            };
            let r = reader::Reader {
                index: i,
                name: name.clone(),
                cfg: self.cfg.clone(),
                cap: cap.take(),
                counters: Arc::clone(counters),
                tx: tx.clone(),
                pool: pool_rx.clone(),
                stop: self.stop.clone(),
            };
            let h = std::thread::Builder::new()
                .name(format!("phonehome-capture-{name}"))
                .spawn(move || r.run())
                .map_err(LiveError::Thread)?;
            self.threads.push(h);
        }
        self.rx = Some(rx);
        self.pool_tx = Some(pool_tx);
        Ok(())
    }

    /// Packets and bytes handed out so far (shared: readable while it runs).
    pub fn handed(&self) -> Arc<Handed> {
        Arc::clone(&self.handed)
    }

    pub fn interface_names(&self) -> &[String] {
        &self.names
    }

    /// The interfaces' counters, shared (for a metrics endpoint).
    pub fn counters(&self) -> Vec<(String, Arc<IfaceCounters>)> {
        self.names
            .iter()
            .cloned()
            .zip(self.counters.iter().cloned())
            .collect()
    }

    /// A snapshot of every interface's counters.
    pub fn stats(&self) -> Vec<InterfaceStats> {
        snapshot(&self.counters())
    }

    fn clock_now(&self) -> u64 {
        match self.last_packet {
            Some((ts, at)) => ts.saturating_add(at.elapsed().as_nanos() as u64),
            None => 0,
        }
    }

    fn take(&mut self, batch: Batch) {
        self.merge.push(batch);
    }

    /// Appends packets to `block` (up to about `max_bytes`), waiting at most
    /// the idle tick for some.
    pub fn fill(&mut self, block: &mut Block, max_bytes: usize) -> Fill {
        block.data.clear();
        block.packets.clear();
        let Some(rx) = self.rx.clone() else {
            return Fill::End;
        };
        let deadline = Instant::now() + self.cfg.idle_tick;
        loop {
            // Take everything already waiting, so the merge sees all interfaces.
            while let Ok(b) = rx.try_recv() {
                self.take(b);
            }
            let n = self.merge.release(block, max_bytes, self.readers_done);
            if n > 0 {
                self.handed.packets.fetch_add(n as u64, Ordering::Relaxed);
                self.handed
                    .bytes
                    .fetch_add(block.data.len() as u64, Ordering::Relaxed);
                if let Some(p) = block.packets.last() {
                    let ts = self.last_packet.map_or(p.ts_ns, |(t, _)| t.max(p.ts_ns));
                    self.last_packet = Some((ts, Instant::now()));
                }
                return Fill::Packets;
            }
            if self.readers_done && self.merge.is_empty() {
                self.join();
                return Fill::End;
            }
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(b) => self.take(b),
                Err(RecvTimeoutError::Timeout) => {
                    return Fill::Idle {
                        clock_ns: self.clock_now(),
                    }
                }
                Err(RecvTimeoutError::Disconnected) => self.readers_done = true,
            }
        }
    }

    fn join(&mut self) {
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

/// Snapshots of shared interface counters; a gap still open counts up to now.
pub fn snapshot(counters: &[(String, Arc<IfaceCounters>)]) -> Vec<InterfaceStats> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    counters
        .iter()
        .map(|(name, c)| InterfaceStats {
            name: name.clone(),
            kernel_received: c.kernel_received.load(Ordering::Relaxed),
            kernel_dropped: c.kernel_dropped.load(Ordering::Relaxed),
            kernel_if_dropped: c.kernel_if_dropped.load(Ordering::Relaxed),
            packets: c.packets.load(Ordering::Relaxed),
            down_events: c.down_events.load(Ordering::Relaxed),
            reopens: c.reopens.load(Ordering::Relaxed),
            down_ns: c.down_ns.load(Ordering::Relaxed)
                + match c.down_since_ns.load(Ordering::Relaxed) {
                    0 => 0,
                    since => now.saturating_sub(since),
                },
            up: c.up.load(Ordering::Relaxed),
        })
        .collect()
}

/// The live capture at the packet-source seam: the engine reads it as it
/// reads files. All interfaces are one input (0), merged in time order.
impl super::PacketSource for LiveSource {
    fn pull(&mut self, block: &mut Block, target: usize) -> super::Pull {
        block.input = 0;
        match self.fill(block, target) {
            Fill::Packets => super::Pull::Packets,
            Fill::Idle { clock_ns } => super::Pull::Idle { now_ns: clock_ns },
            Fill::End => super::Pull::End,
        }
    }

    /// Interface problems are not input errors: a downed interface is
    /// re-opened and its gap counted in [`IfaceCounters`].
    fn take_errors(&mut self) -> Vec<super::CaptureError> {
        Vec::new()
    }

    fn counts(&self) -> super::SourceCounts {
        super::SourceCounts {
            files: 1,
            ..super::SourceCounts::default()
        }
    }

    fn disk_bytes(&self) -> u64 {
        0
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        // Readers end on the stop flag or when the merge side is gone.
        self.rx = None;
        self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_interface_is_a_clear_error() {
        let cfg = LiveConfig {
            interfaces: vec!["ph-missing9".into()],
            ..LiveConfig::default()
        };
        let e = LiveSource::open(cfg, Stop::new()).err().unwrap();
        assert!(matches!(e, LiveError::NoSuchInterface { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "interface ph-missing9: no such network interface (see `ip link`)"
        );
    }

    #[test]
    fn duplicate_interface_is_refused() {
        let cfg = LiveConfig {
            interfaces: vec!["lo".into(), "lo".into()],
            ..LiveConfig::default()
        };
        let e = LiveSource::open(cfg, Stop::new()).err().unwrap();
        assert!(matches!(e, LiveError::Duplicate { .. }), "{e}");
    }

    #[test]
    fn permission_message_names_the_capabilities() {
        let e = classify(
            "eth0",
            &pcap::Error::PcapError(
                "eth0: You don't have permission to perform this capture on that device (socket: Operation not permitted)".into(),
            ),
        );
        let text = e.to_string();
        assert!(
            text.contains("CAP_NET_RAW") && text.contains("CAP_NET_ADMIN"),
            "{text}"
        );
        assert!(
            text.contains("setcap cap_net_raw,cap_net_admin=eip"),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }

    #[test]
    fn batch_records_wire_length_and_linktype() {
        let mut b = Batch::new(0);
        b.push_packet(7, &[1, 2, 3], 60, 1);
        let p = b.packets[0];
        assert_eq!((p.ts_ns, p.caplen, p.origlen, p.linktype), (7, 3, 60, 1));
        assert_eq!(b.bytes(&p), &[1, 2, 3]);
    }
}
