//! One reader thread per interface: libpcap ring → batches for the merge.
//!
//! The capture is non-blocking and the thread waits in `poll` on its file
//! descriptor with a short timeout, so it wakes to honour a stop request,
//! read `pcap_stats`, check the interface and send a watermark even when the
//! link is quiet. libpcap hands packets over a whole TPACKET_V3 block at a
//! time (immediate mode off): `pcap_dispatch` drains what is ready.

use super::iface::{iface_state, IfaceState};
use super::{open_capture, Batch, IfaceCounters, LiveConfig, TS_SUBSEC_NS};
use crate::base::stop::Stop;
use crossbeam_channel::{Receiver, Sender};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use pcap::{Active, Capture};
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one `poll` waits: the longest a stop request or a quiet tick waits.
const POLL_MS: u8 = 50;
/// pcap_stats and the interface's state are read this often.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A batch goes to the merge at least this often (a heartbeat if empty).
const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Packets taken per `pcap_dispatch` call.
const DISPATCH_MAX: usize = 1024;

pub(super) struct Reader {
    pub index: usize,
    pub name: String,
    pub cfg: LiveConfig,
    pub cap: Option<Capture<Active>>,
    pub counters: Arc<IfaceCounters>,
    pub tx: Sender<Batch>,
    /// Spent batch buffers coming back from the merge.
    pub pool: Receiver<Batch>,
    pub stop: Stop,
}

/// The last pcap_stats of the open handle (32-bit counters that wrap).
#[derive(Default)]
struct LastStat {
    received: u32,
    dropped: u32,
    if_dropped: u32,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Reader {
    fn fresh_batch(&self) -> Batch {
        match self.pool.try_recv() {
            Ok(mut b) => {
                b.reset(self.index);
                b
            }
            Err(_) => Batch::with_capacity(self.index, self.cfg.batch_bytes),
        }
    }

    /// Sends the batch with a watermark; false when the merge is gone.
    fn flush(&self, batch: &mut Batch) -> bool {
        // Packets stamped before now minus one ring-block timeout have all
        // been handed over by the kernel (best effort; see merge.rs).
        let lag = Duration::from_millis(u64::from(self.cfg.timeout_ms) + 2 * u64::from(POLL_MS));
        batch.watermark_ns = now_ns().saturating_sub(lag.as_nanos() as u64);
        let full = std::mem::replace(batch, self.fresh_batch());
        self.tx.send(full).is_ok()
    }

    fn read_stats(&mut self, last: &mut LastStat) {
        let Some(cap) = self.cap.as_mut() else {
            return;
        };
        if let Ok(s) = cap.stats() {
            let c = &self.counters;
            // Deltas modulo 2^32: libpcap's counters are 32-bit and wrap on a long run.
            c.kernel_received.fetch_add(
                u64::from(s.received.wrapping_sub(last.received)),
                Ordering::Relaxed,
            );
            c.kernel_dropped.fetch_add(
                u64::from(s.dropped.wrapping_sub(last.dropped)),
                Ordering::Relaxed,
            );
            c.kernel_if_dropped.fetch_add(
                u64::from(s.if_dropped.wrapping_sub(last.if_dropped)),
                Ordering::Relaxed,
            );
            *last = LastStat {
                received: s.received,
                dropped: s.dropped,
                if_dropped: s.if_dropped,
            };
        }
    }

    /// The interface went away: close the handle (its counters first).
    fn went_down(&mut self, last: &mut LastStat, why: &str) {
        self.read_stats(last);
        self.cap = None;
        *last = LastStat::default();
        self.counters.up.store(false, Ordering::Relaxed);
        self.counters
            .down_since_ns
            .store(now_ns(), Ordering::Relaxed);
        self.counters.down_events.fetch_add(1, Ordering::Relaxed);
        eprintln!(
            "phonehome: interface {}: {why}; capture stopped, re-opening with backoff (the gap is counted)",
            self.name
        );
    }

    pub fn run(mut self) {
        let mut batch = self.fresh_batch();
        let mut last = LastStat::default();
        let mut last_flush = Instant::now();
        let mut last_check = Instant::now();
        let mut down_since: Option<Instant> = None;
        let mut backoff = Duration::from_millis(500);
        let mut next_try = Instant::now();
        loop {
            if self.stop.requested() {
                if self.cap.is_some() {
                    // Whatever the ring holds was captured before the stop: take it.
                    let _ = self.drain(&mut batch);
                    self.read_stats(&mut last);
                }
                self.flush(&mut batch);
                return;
            }
            if self.cap.is_some() {
                let ready = self.wait();
                if ready.is_err() {
                    let why = match iface_state(&self.name) {
                        IfaceState::Down => "the interface went down",
                        IfaceState::Missing => "the interface disappeared",
                        IfaceState::Up => "the capture socket reported an error",
                    };
                    self.went_down(&mut last, why);
                    down_since = Some(Instant::now());
                    next_try = Instant::now() + backoff;
                } else if let Err(e) = self.drain(&mut batch) {
                    self.went_down(&mut last, &e);
                    down_since = Some(Instant::now());
                    next_try = Instant::now() + backoff;
                }
            } else {
                std::thread::sleep(Duration::from_millis(u64::from(POLL_MS)));
                if Instant::now() >= next_try {
                    match open_capture(&self.name, &self.cfg) {
                        Ok(c) => {
                            self.cap = Some(c);
                            let gap = down_since.take().map_or(Duration::ZERO, |t| t.elapsed());
                            let c = &self.counters;
                            c.down_ns
                                .fetch_add(gap.as_nanos() as u64, Ordering::Relaxed);
                            c.reopens.fetch_add(1, Ordering::Relaxed);
                            c.down_since_ns.store(0, Ordering::Relaxed);
                            c.up.store(true, Ordering::Relaxed);
                            backoff = Duration::from_millis(500);
                            eprintln!(
                                "phonehome: interface {}: re-opened after {:.1}s without capture",
                                self.name,
                                gap.as_secs_f64()
                            );
                        }
                        Err(_) => {
                            backoff = (backoff * 2).min(self.cfg.reopen_backoff_max);
                            next_try = Instant::now() + backoff;
                        }
                    }
                }
            }
            if batch.data.len() >= self.cfg.batch_bytes || last_flush.elapsed() >= FLUSH_EVERY {
                if !self.flush(&mut batch) {
                    return;
                }
                last_flush = Instant::now();
            }
            if last_check.elapsed() >= CHECK_EVERY {
                last_check = Instant::now();
                if self.cap.is_some() {
                    self.read_stats(&mut last);
                    match iface_state(&self.name) {
                        IfaceState::Up => {}
                        IfaceState::Down => {
                            self.went_down(&mut last, "the interface went down");
                            down_since = Some(Instant::now());
                            next_try = Instant::now() + backoff;
                        }
                        IfaceState::Missing => {
                            self.went_down(&mut last, "the interface disappeared");
                            down_since = Some(Instant::now());
                            next_try = Instant::now() + backoff;
                        }
                    }
                }
            }
        }
    }

    /// Waits for the ring to have something (or the poll timeout). An error
    /// condition on the socket (the interface went down or away) is `Err`.
    fn wait(&mut self) -> Result<(), ()> {
        let Some(cap) = self.cap.as_ref() else {
            return Ok(());
        };
        let mut fds = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, PollTimeout::from(POLL_MS)) {
            Ok(_) => {
                let bad = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
                match fds[0].revents() {
                    Some(r) if r.intersects(bad) && !r.contains(PollFlags::POLLIN) => Err(()),
                    _ => Ok(()),
                }
            }
            // EINTR: a signal; the loop checks the stop flag next.
            Err(_) => Ok(()),
        }
    }

    /// Reads what the ring holds into `batch`, sending full batches on.
    fn drain(&mut self, batch: &mut Batch) -> Result<(), String> {
        loop {
            let Some(cap) = self.cap.as_mut() else {
                return Ok(());
            };
            let linktype = u16::try_from(cap.get_datalink().0).unwrap_or(u16::MAX);
            // Unlimited would drain the whole ring into one batch.
            let got = cap.dispatch(Some(DISPATCH_MAX), |p| {
                let ts = (p.header.ts.tv_sec.max(0) as u64)
                    .saturating_mul(1_000_000_000)
                    .saturating_add((p.header.ts.tv_usec.max(0) as u64) * TS_SUBSEC_NS);
                batch.push_packet(ts, p.data, p.header.len, linktype);
            });
            match got {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    let c = &self.counters;
                    c.packets.fetch_add(n as u64, Ordering::Relaxed);
                    if batch.data.len() >= self.cfg.batch_bytes && !self.flush(batch) {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}
