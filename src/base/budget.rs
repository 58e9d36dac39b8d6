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
//! Events between the workers and the ordered merge are bounded apart from
//! the tables, by [`InFlight`]: a byte credit a worker takes before it hands
//! a round of events on and the merge gives back once it has written them.
//! A worker that finds the credit spent waits (the reader then waits on the
//! worker's full queue); waits are counted (`memory.in_flight_waits`).
//!
//! One process-wide budget ([`global`]) keeps the tables' signatures as they
//! were; it is unlimited until [`Budget::set_limit`] is called. Which flow a
//! refusal hits depends on timing between worker threads, so output is
//! deterministic whatever `--workers` only while nothing is refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

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
    /// Times a worker waited for [`InFlight`] credit.
    in_flight_waits: AtomicU64,
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
    /// Times a worker waited for the merge to write events in flight.
    pub in_flight_waits: u64,
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
            in_flight_waits: AtomicU64::new(0),
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
            in_flight_waits: self.in_flight_waits.load(Ordering::Relaxed),
        }
    }
}

/// A byte credit for events in flight between the workers and the ordered
/// merge (see the module documentation).
///
/// Rounds are numbered by job, the same for every worker, and the merge
/// writes them in that order. A worker never waits with a round the merge
/// is at (or past): the merge may be waiting for exactly that round, so
/// this cannot deadlock, and what is in flight stays under the cap plus the
/// parts of the round being merged.
#[derive(Debug)]
pub struct InFlight {
    cap: u64,
    state: Mutex<InFlightState>,
    changed: Condvar,
    peak: AtomicU64,
}

#[derive(Debug, Default)]
struct InFlightState {
    used: u64,
    /// The round the merge is writing.
    merging: u64,
    /// The merge stopped (an error): nobody waits any more.
    closed: bool,
    /// Workers waiting now.
    waiting: u32,
}

impl InFlight {
    pub fn new(cap: u64) -> InFlight {
        InFlight {
            cap,
            state: Mutex::new(InFlightState::default()),
            changed: Condvar::new(),
            peak: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, InFlightState> {
        // A poisoned lock only means a thread panicked holding it; the
        // counts stay usable and the engine reports the crash itself.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `n` bytes for events of `round`, first waiting while they
    /// would pass the cap (see the type's documentation). Returns whether
    /// it waited; each wait is counted in the global budget's stats.
    pub fn take(&self, round: u64, n: u64) -> bool {
        let mut s = self.lock();
        let mut waited = false;
        while !s.closed && round > s.merging && s.used > 0 && s.used.saturating_add(n) > self.cap {
            waited = true;
            s.waiting += 1;
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
            s.waiting -= 1;
        }
        s.used = s.used.saturating_add(n);
        self.peak.fetch_max(s.used, Ordering::Relaxed);
        drop(s);
        if waited {
            global().in_flight_waits.fetch_add(1, Ordering::Relaxed);
        }
        waited
    }

    /// The merge wrote events worth `n` bytes.
    pub fn give(&self, n: u64) {
        let mut s = self.lock();
        s.used = s.used.saturating_sub(n);
        // A notify is a futex call even with nobody waiting: only when
        // someone waits (counted under the lock they wait with).
        let wake = s.waiting > 0;
        drop(s);
        if wake {
            self.changed.notify_all();
        }
    }

    /// The merge moved on to `round`.
    pub fn merging(&self, round: u64) {
        let mut s = self.lock();
        s.merging = round;
        let wake = s.waiting > 0;
        drop(s);
        if wake {
            self.changed.notify_all();
        }
    }

    /// The merge stopped: wake every waiting worker, and wait no more.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Bytes in flight now.
    pub fn used(&self) -> u64 {
        self.lock().used
    }

    /// Most bytes in flight at once.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Workers waiting now.
    pub fn waiting(&self) -> u32 {
        self.lock().waiting
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

    #[test]
    fn in_flight_credit_waits_for_the_merge_but_never_on_the_round_it_merges() {
        let c = std::sync::Arc::new(InFlight::new(100));
        // The round the merge is at always goes through, over the cap too:
        // the merge may be waiting for exactly these events.
        assert!(!c.take(0, 80));
        assert!(!c.take(0, 80));
        assert_eq!(c.used(), 160);
        // A later round waits until the merge has written enough.
        let worker = {
            let c = std::sync::Arc::clone(&c);
            std::thread::spawn(move || c.take(1, 50))
        };
        while c.waiting() == 0 {
            std::thread::yield_now();
        }
        c.give(80);
        // 80 + 50 is still over the cap: it waits on.
        while c.waiting() == 0 {
            std::thread::yield_now();
        }
        c.give(80);
        assert!(worker.join().unwrap(), "the worker waited");
        assert_eq!((c.used(), c.peak()), (50, 160));
        // The merge moving on to the round lets it through at once.
        let worker = {
            let c = std::sync::Arc::clone(&c);
            std::thread::spawn(move || c.take(2, 100))
        };
        while c.waiting() == 0 {
            std::thread::yield_now();
        }
        c.merging(2);
        assert!(worker.join().unwrap());
        assert_eq!(c.used(), 150);
        // A stopped merge frees every waiter.
        let worker = {
            let c = std::sync::Arc::clone(&c);
            std::thread::spawn(move || c.take(9, 100))
        };
        while c.waiting() == 0 {
            std::thread::yield_now();
        }
        c.close();
        assert!(worker.join().unwrap());
        assert!(!c.take(10, 1000), "no waiting once closed");
    }
}
