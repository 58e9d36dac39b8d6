//! Alert deduplication: one alert per (host, vendor, product, destination
//! country) per window of packet time; repeats are counted and folded into
//! one update when the window closes.
//!
//! Rules, precisely:
//!
//! * The first alert for a key opens a window `[t, t + window)` (`t` its
//!   packet time) and is emitted.
//! * Alerts for the key with a time inside the window are suppressed: the
//!   window's `count` grows and its payload (the latest finding) is replaced.
//! * When packet time passes the window's end ([`Dedup::expire`]), or at the
//!   end of the run ([`Dedup::drain`]), a window with suppressed repeats
//!   yields a [`Summary`]: the caller emits it as an update, an alert for the
//!   latest finding carrying `phonehome.dedup` = `{count, suppressed,
//!   window_start, window_end}`. A window without repeats yields nothing.
//! * An alert after the window opens a new window and is emitted.
//! * At most `max_keys` windows are open; a new key beyond that closes the
//!   oldest window first (its update, if any, is emitted early).
//!
//! Time is packet time, so a replay gives the same alerts on any machine.

use std::collections::HashMap;
use std::net::IpAddr;

/// What makes two alerts the same for deduplication.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupKey {
    pub host: IpAddr,
    pub vendor: String,
    pub product: String,
    /// ISO country of the destination (none: DNS only, or behind a proxy).
    pub country: Option<String>,
}

/// Whether to emit an alert now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Alert,
    Suppressed,
}

/// A closed window that had repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary<T> {
    pub key: DedupKey,
    /// Alerts in the window, the first included.
    pub count: u64,
    pub suppressed: u64,
    pub window_start_ns: u64,
    pub window_end_ns: u64,
    /// Packet time of the last alert folded in.
    pub last_ns: u64,
    /// The latest payload offered (the finding as it stands).
    pub latest: T,
}

struct Window<T> {
    start_ns: u64,
    count: u64,
    last_ns: u64,
    latest: T,
}

pub struct Dedup<T> {
    window_ns: u64,
    max_keys: usize,
    open: HashMap<DedupKey, Window<T>>,
    ready: Vec<Summary<T>>,
    /// No open window ends before this (u64::MAX: none open). May be early
    /// (a window it named was closed another way); [`Dedup::expire`] makes
    /// it exact again.
    earliest_end_ns: u64,
    /// Alerts suppressed so far.
    pub suppressed: u64,
}

impl<T> Dedup<T> {
    pub fn new(window_ns: u64, max_keys: usize) -> Self {
        Dedup {
            window_ns: window_ns.max(1),
            max_keys: max_keys.max(1),
            open: HashMap::new(),
            ready: Vec::new(),
            earliest_end_ns: u64::MAX,
            suppressed: 0,
        }
    }

    /// Whether [`Dedup::expire`] at `now_ns` may have something to do: a
    /// window ended by then, or an update is already due (a window closed by
    /// a reopening or to make room). One comparison when not.
    pub fn due(&self, now_ns: u64) -> bool {
        now_ns >= self.earliest_end_ns || !self.ready.is_empty()
    }

    fn end(&self, w: &Window<T>) -> u64 {
        w.start_ns.saturating_add(self.window_ns)
    }

    fn close(&mut self, key: DedupKey, w: Window<T>) {
        if w.count > 1 {
            let end = self.end(&w);
            self.ready.push(Summary {
                key,
                count: w.count,
                suppressed: w.count - 1,
                window_start_ns: w.start_ns,
                window_end_ns: end,
                last_ns: w.last_ns,
                latest: w.latest,
            });
        }
    }

    /// An alert for `key` at packet time `ts_ns`, about `payload`.
    pub fn offer(&mut self, key: &DedupKey, ts_ns: u64, payload: T) -> Verdict {
        let window_ns = self.window_ns;
        if let Some(w) = self.open.get_mut(key) {
            if ts_ns < w.start_ns.saturating_add(window_ns) {
                w.count += 1;
                w.last_ns = w.last_ns.max(ts_ns);
                w.latest = payload;
                self.suppressed += 1;
                return Verdict::Suppressed;
            }
            if let Some(old) = self.open.remove(key) {
                self.close(key.clone(), old);
            }
        }
        if self.open.len() >= self.max_keys {
            let oldest = self
                .open
                .iter()
                .min_by(|a, b| a.1.start_ns.cmp(&b.1.start_ns).then(a.0.cmp(b.0)))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                if let Some(w) = self.open.remove(&k) {
                    self.close(k, w);
                }
            }
        }
        self.earliest_end_ns = self.earliest_end_ns.min(ts_ns.saturating_add(window_ns));
        self.open.insert(
            key.clone(),
            Window {
                start_ns: ts_ns,
                count: 1,
                last_ns: ts_ns,
                latest: payload,
            },
        );
        Verdict::Alert
    }

    /// Closes the windows that ended by packet time `now_ns`; returns the
    /// updates due, in (window end, key) order.
    pub fn expire(&mut self, now_ns: u64) -> Vec<Summary<T>> {
        let window_ns = self.window_ns;
        let done: Vec<DedupKey> = self
            .open
            .iter()
            .filter(|(_, w)| w.start_ns.saturating_add(window_ns) <= now_ns)
            .map(|(k, _)| k.clone())
            .collect();
        for k in done {
            if let Some(w) = self.open.remove(&k) {
                self.close(k, w);
            }
        }
        self.earliest_end_ns = self
            .open
            .values()
            .map(|w| w.start_ns.saturating_add(window_ns))
            .min()
            .unwrap_or(u64::MAX);
        self.take_ready()
    }

    /// Closes every window (end of the run).
    pub fn drain(&mut self) -> Vec<Summary<T>> {
        let all: Vec<(DedupKey, Window<T>)> = self.open.drain().collect();
        for (k, w) in all {
            self.close(k, w);
        }
        self.earliest_end_ns = u64::MAX;
        self.take_ready()
    }

    fn take_ready(&mut self) -> Vec<Summary<T>> {
        let mut out = std::mem::take(&mut self.ready);
        out.sort_by(|a, b| {
            a.window_end_ns
                .cmp(&b.window_end_ns)
                .then_with(|| a.key.cmp(&b.key))
        });
        out
    }

    /// Windows open now.
    pub fn open_windows(&self) -> usize {
        self.open.len()
    }
}

/// Inserts `"dedup":{...}` at the end of the `phonehome` object of an alert
/// line written by [`crate::output::eve::alert_event`] (its last member).
/// Returns false, leaving the line alone, if it does not have that shape.
pub fn splice_dedup<T>(line: &mut Vec<u8>, s: &Summary<T>) -> bool {
    let nl = line.last() == Some(&b'\n');
    let end = line.len() - usize::from(nl);
    if end < 2 || line.get(end - 2..end) != Some(b"}}".as_slice()) {
        return false;
    }
    let mut ins = Vec::with_capacity(160);
    ins.extend_from_slice(b",\"dedup\":");
    let mut o = crate::base::json::Obj::new(&mut ins);
    o.u64("count", s.count)
        .u64("suppressed", s.suppressed)
        .ts("window_start", s.window_start_ns)
        .ts("window_end", s.window_end_ns)
        .ts("last", s.last_ns);
    o.end();
    let at = end - 2;
    line.splice(at..at, ins);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn key(host: &str, country: Option<&str>) -> DedupKey {
        DedupKey {
            host: host.parse().unwrap(),
            vendor: "CrowdStrike".into(),
            product: "Falcon".into(),
            country: country.map(str::to_string),
        }
    }

    #[test]
    fn first_alerts_repeats_fold_into_one_update() {
        let mut d: Dedup<&str> = Dedup::new(3600 * S, 100);
        let k = key("10.0.0.1", Some("US"));
        assert_eq!(d.offer(&k, 100 * S, "f1"), Verdict::Alert);
        assert_eq!(d.offer(&k, 200 * S, "f2"), Verdict::Suppressed);
        assert_eq!(d.offer(&k, 3699 * S, "f3"), Verdict::Suppressed);
        assert!(d.expire(3699 * S).is_empty(), "window still open");
        let u = d.expire(3700 * S);
        assert_eq!(
            u,
            vec![Summary {
                key: k.clone(),
                count: 3,
                suppressed: 2,
                window_start_ns: 100 * S,
                window_end_ns: 3700 * S,
                last_ns: 3699 * S,
                latest: "f3",
            }]
        );
        assert_eq!(d.suppressed, 2);
        assert_eq!(d.open_windows(), 0);
        // After the window: a new alert.
        assert_eq!(d.offer(&k, 3700 * S, "f4"), Verdict::Alert);
    }

    #[test]
    fn keys_differ_by_country_and_host() {
        let mut d: Dedup<u32> = Dedup::new(60 * S, 100);
        assert_eq!(d.offer(&key("10.0.0.1", Some("US")), 0, 1), Verdict::Alert);
        assert_eq!(d.offer(&key("10.0.0.1", Some("NL")), S, 2), Verdict::Alert);
        assert_eq!(d.offer(&key("10.0.0.2", Some("US")), S, 3), Verdict::Alert);
        assert_eq!(d.offer(&key("10.0.0.1", None), S, 4), Verdict::Alert);
        assert_eq!(
            d.offer(&key("10.0.0.1", Some("US")), 59 * S, 5),
            Verdict::Suppressed
        );
        assert_eq!(
            d.offer(&key("10.0.0.1", Some("US")), 60 * S, 6),
            Verdict::Alert,
            "a late repeat reopens"
        );
        // The closed window's repeat comes out at the next expire/drain.
        let u = d.drain();
        assert_eq!(u.len(), 1);
        assert_eq!((u[0].count, u[0].latest), (2, 5));
    }

    #[test]
    fn windows_without_repeats_say_nothing_and_the_table_is_bounded() {
        let mut d: Dedup<u8> = Dedup::new(10 * S, 2);
        let (a, b, c) = (
            key("10.0.0.1", None),
            key("10.0.0.2", None),
            key("10.0.0.3", None),
        );
        d.offer(&a, 0, 0);
        d.offer(&a, S, 1);
        d.offer(&b, 2 * S, 0);
        // Full: the oldest window (a) closes early and its update is due.
        d.offer(&c, 3 * S, 0);
        assert_eq!(d.open_windows(), 2);
        let u = d.expire(3 * S);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].key, a);
        assert!(d.drain().is_empty(), "b and c had no repeats");
    }

    #[test]
    fn due_only_when_a_window_ended_or_an_update_waits() {
        let mut d: Dedup<u8> = Dedup::new(10 * S, 100);
        assert!(!d.due(u64::MAX - 1), "nothing open");
        let (a, b) = (key("10.0.0.1", None), key("10.0.0.2", None));
        d.offer(&a, 5 * S, 0);
        d.offer(&b, 8 * S, 0);
        d.offer(&a, 6 * S, 1);
        assert!(!d.due(14 * S));
        assert!(d.due(15 * S));
        let u = d.expire(15 * S);
        assert_eq!((u.len(), u[0].count, u[0].suppressed), (1, 2, 1));
        // b's window is the earliest now.
        assert!(!d.due(17 * S));
        assert!(d.due(18 * S));
        // A repeat after the window reopens it and leaves an update due.
        d.offer(&b, 9 * S, 1);
        d.offer(&b, 30 * S, 2);
        assert!(d.due(30 * S));
        let u = d.expire(30 * S);
        assert_eq!((u.len(), u[0].count, u[0].latest), (1, 2, 1));
        assert!(!d.due(39 * S));
        assert!(d.due(40 * S));
    }

    #[test]
    fn dedup_object_lands_in_phonehome() {
        let mut line =
            br#"{"event_type":"alert","alert":{"gid":1},"phonehome":{"host":"10.0.0.1"}}"#.to_vec();
        line.push(b'\n');
        let s = Summary {
            key: key("10.0.0.1", None),
            count: 4,
            suppressed: 3,
            window_start_ns: 0,
            window_end_ns: 3600 * S,
            last_ns: 10 * S,
            latest: (),
        };
        assert!(splice_dedup(&mut line, &s));
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["phonehome"]["dedup"]["count"], 4);
        assert_eq!(v["phonehome"]["dedup"]["suppressed"], 3);
        assert_eq!(
            v["phonehome"]["dedup"]["window_end"],
            "1970-01-01T01:00:00.000000+0000"
        );
        assert_eq!(v["phonehome"]["host"], "10.0.0.1");
        let mut bad = b"{}".to_vec();
        assert!(!splice_dedup(&mut bad, &s));
    }
}
