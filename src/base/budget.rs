//! The global memory budget (`--memory-limit`): one count of the bytes the
//! growing tables hold, shared by every thread, that each table consults
//! before it grows.
//!
//! Under pressure memory is refused in a documented order: each kind of use
//! may grow only while the budget's use is below its own share of the
//! limit, so the cheapest evidence to lose goes first and the dearest last:
//!
//! | order | use | refused above | what happens |
//! |---|---|---|---|
//! | 1 | out-of-order data of a flow whose names are known | 50 % | dropped (`stream.ooo_dropped`) |
//! | 2 | out-of-order data of a nameless flow, past its first flight | 70 % | dropped (`stream.ooo_dropped`) |
//! | 3 | IP fragments waiting for the rest of their datagram | 80 % | the datagram is dropped (`defrag.memcap`) |
//! | 4 | a new flow | 90 % | the flow closest to timing out is ended (`forced`) to make room |
//! | — | a nameless flow's first flight (its first 16 KiB: the hello) | never | always kept |
//!
//! Refusals are counted by use, in bytes and times (`stats.phonehome.memory`).
//! The DNS cache and alert deduplication have fixed bounds of their own,
//! set aside from `--memory-limit` when a replay starts (the CLI sizes the
//! DNS cache to an eighth of the limit).
//!
//! One process-wide budget ([`global`]) keeps the tables' signatures as they
//! were; it is unlimited until [`Budget::set_limit`] is called. Which flow a
//! refusal hits depends on timing between worker threads, so output is
//! deterministic whatever `--workers` only while nothing is refused.

use std::sync::atomic::{AtomicU64, Ordering};

/// What memory is for, in shedding order (first shed first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Out-of-order stream data of a flow whose names are known.
    OooNamed = 0,
    /// Out-of-order stream data of a nameless flow, past its first flight.
    OooNameless = 1,
    /// IP fragments waiting for the rest of their datagram.
    Fragments = 2,
    /// A flow table entry.
    Flow = 3,
    /// A nameless flow's first flight: never refused.
    FirstFlight = 4,
}

const USES: usize = 5;
const ALL: [Use; USES] = [
    Use::OooNamed,
    Use::OooNameless,
    Use::Fragments,
    Use::Flow,
    Use::FirstFlight,
];

impl Use {
    /// Percent of the limit the budget's use must stay under for this use to grow.
    fn share(self) -> u64 {
        match self {
            Use::OooNamed => 50,
            Use::OooNameless => 70,
            Use::Fragments => 80,
            Use::Flow => 90,
            Use::FirstFlight => 100,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Use::OooNamed => "ooo_named",
            Use::OooNameless => "ooo_nameless",
            Use::Fragments => "fragments",
            Use::Flow => "flow",
            Use::FirstFlight => "first_flight",
        }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Budget {
    limit: AtomicU64,
    used: AtomicU64,
    peak: AtomicU64,
    shed_bytes: [AtomicU64; USES],
    shed_times: [AtomicU64; USES],
}

/// A copy of the budget's counters (`stats.phonehome.memory`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes the tables may hold (None: no limit).
    pub limit: Option<u64>,
    /// Most bytes held at once.
    pub peak: u64,
    /// (use, bytes refused, times refused), for uses that were refused.
    pub shed: Vec<(&'static str, u64, u64)>,
}

static GLOBAL: Budget = Budget::new();

/// The process-wide budget the tables consult.
pub fn global() -> &'static Budget {
    &GLOBAL
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new()
    }
}

impl Budget {
    /// An unlimited budget.
    pub const fn new() -> Budget {
        Budget {
            limit: AtomicU64::new(u64::MAX),
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            shed_bytes: [const { AtomicU64::new(0) }; USES],
            shed_times: [const { AtomicU64::new(0) }; USES],
        }
    }

    pub fn set_limit(&self, bytes: u64) {
        self.limit.store(bytes, Ordering::Relaxed);
    }

    fn cap(&self, u: Use) -> u64 {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit == u64::MAX || u == Use::FirstFlight {
            return u64::MAX;
        }
        limit / 100 * u.share()
    }

    /// Takes `n` bytes for `u` if the budget allows it; a refusal is counted.
    pub fn take(&self, u: Use, n: u64) -> bool {
        let before = self.used.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > self.cap(u) {
            self.used.fetch_sub(n, Ordering::Relaxed);
            self.refused(u, n);
            return false;
        }
        self.peak.fetch_max(before + n, Ordering::Relaxed);
        true
    }

    /// Whether `n` more bytes for `u` would be allowed now (nothing taken).
    pub fn allows(&self, u: Use, n: u64) -> bool {
        self.used.load(Ordering::Relaxed).saturating_add(n) <= self.cap(u)
    }

    /// Counts a refusal the caller decided on after [`Budget::allows`].
    pub fn refused(&self, u: Use, n: u64) {
        if let (Some(b), Some(t)) = (
            self.shed_bytes.get(u as usize),
            self.shed_times.get(u as usize),
        ) {
            b.fetch_add(n, Ordering::Relaxed);
            t.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes `n` bytes whatever the budget says (memory already in use).
    pub fn force(&self, n: u64) {
        let before = self.used.fetch_add(n, Ordering::Relaxed);
        self.peak.fetch_max(before + n, Ordering::Relaxed);
    }

    /// Gives `n` bytes back.
    pub fn give(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }

    /// Moves a holder's count from `had` to `now` bytes (forced when it grows).
    pub fn adjust(&self, had: u64, now: u64) {
        if now > had {
            self.force(now - had);
        } else if had > now {
            self.give(had - now);
        }
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> MemoryStats {
        let limit = self.limit.load(Ordering::Relaxed);
        MemoryStats {
            limit: (limit != u64::MAX).then_some(limit),
            peak: self.peak.load(Ordering::Relaxed),
            shed: ALL
                .iter()
                .filter_map(|&u| {
                    let b = self.shed_bytes.get(u as usize)?.load(Ordering::Relaxed);
                    let t = self.shed_times.get(u as usize)?.load(Ordering::Relaxed);
                    (t > 0).then_some((u.name(), b, t))
                })
                .collect(),
        }
    }
}

/// The machine's memory for a default limit: the smaller of physical memory
/// (`MemTotal`) and the cgroup's limit (`memory.max`), in bytes.
pub fn machine_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        })?;
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    Some(cgroup.map_or(total, |c| c.min(total)))
}

/// This process's resident memory now, in bytes (Linux).
pub fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_are_refused_in_order_and_counted() {
        assert!(
            Budget::new().take(Use::OooNamed, 1 << 40),
            "unlimited until set"
        );
        let b = Budget::new();
        b.set_limit(1000);
        assert!(b.take(Use::Flow, 450));
        // At 45 %: named out-of-order data still fits under 50 %, not past it.
        assert!(b.take(Use::OooNamed, 50));
        assert!(!b.take(Use::OooNamed, 1));
        assert!(b.take(Use::OooNameless, 150));
        assert!(!b.take(Use::OooNameless, 101));
        assert!(b.allows(Use::Flow, 250) && !b.allows(Use::Flow, 251));
        assert!(b.take(Use::Flow, 250));
        // The first flight is never refused.
        assert!(b.take(Use::FirstFlight, 100));
        assert_eq!(b.used(), 1000);
        b.force(500);
        assert!(b.take(Use::FirstFlight, 1));
        let s = b.stats();
        assert_eq!(s.limit, Some(1000));
        assert_eq!(s.peak, 1501);
        assert_eq!(s.shed, vec![("ooo_named", 1, 1), ("ooo_nameless", 101, 1)]);
        b.adjust(501, 0);
        assert_eq!(b.used(), 1000);
    }
}
