//! The single ordered stage after the merge: resolve → judge → report.
//!
//! Events arrive in capture order whatever the worker count, so DNS answers
//! are learnt before the flows they explain end, and findings do not depend
//! on which worker saw what.

use super::Prepared;
use crate::dissect::{AppBody, Event, EventKind};
use crate::flow::community_id;
use crate::judge::{Finding, FindingKey, Judge};
use crate::output::dedup::{splice_dedup, Dedup, DedupKey, Summary, Verdict};
use crate::output::eve::{EveWriter, Ext, TailMark};
use crate::resolve::hosts::HostTable;
use crate::resolve::{EvidenceKind, Resolver};
use crate::sink::{splice_stats, SinkReport, Sinks};
use std::io::Write;
use std::sync::Arc;

/// When alerts are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlertMode {
    /// At the end of the run: one complete alert per finding.
    #[default]
    End,
    /// As activity arrives: an alert when a flow or DNS question touches a
    /// finding (deduplicated per window), updates when windows with
    /// repeats close.
    Stream,
}

/// Counters of the stage, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputCounts {
    pub events: u64,
    /// Flow records attributed to a catalogued endpoint.
    pub attributed_flows: u64,
    /// DNS questions for catalogued names.
    pub dns_questions: u64,
    /// Alert events written (deduplication updates included).
    pub alerts: u64,
}

/// Events between checks of the GeoIP files for a newer version (one `stat` each).
const GEOIP_RECHECK: u64 = 1 << 18;

pub struct Output<W: Write> {
    pub resolver: Resolver,
    pub judge: Judge,
    pub eve: EveWriter<W>,
    /// Resolve and judge at all (off: flows and names only, for measuring their cost).
    pub attribute: bool,
    pub counts: OutputCounts,
    // --- sinks (src/sink) ---
    /// Other outputs, fed every line the EVE writer writes (empty: none).
    pub sinks: Sinks,
    /// Alert deduplication (none: off).
    pub dedup: Option<Dedup<Finding>>,
    /// Evidence bundle (`--evidence`): which flows back which finding.
    pub evidence: Option<crate::evidence::FlowIndex>,
    /// When alerts are written.
    pub alert_mode: AlertMode,
    /// Stream mode: the findings the current event touched, with the country
    /// of its destination (none: DNS only, or behind a proxy). Reused.
    touched: Vec<(FindingKey, Option<String>)>,
    /// Stream mode: the latest packet time of the events so far.
    clock_ns: u64,
    /// Stream mode: DNS-only findings waiting out [`DNS_GRACE_NS`] for a
    /// flow to the bound address (then the flow's alert says more), with
    /// when the wait ends. In order of arrival.
    pending_dns: Vec<(FindingKey, u64)>,
    /// Stream mode: flows already judged on their names (TLS/QUIC SNI,
    /// HTTP Host) before they ended. Bounded; cleared when full.
    judged_early: rustc_hash::FxHashSet<u64>,
    /// Who held which address when, from the DHCP/NBNS/mDNS claims seen so
    /// far: alerts and findings name the host, and the findings of one
    /// host at two addresses are made one.
    hosts: HostTable,
}

/// How long (packet time) a DNS-only finding waits for its flow before it
/// is alerted on its own.
pub const DNS_GRACE_NS: u64 = 2_000_000_000;

/// Flows remembered as judged early.
const JUDGED_EARLY_MAX: usize = 1 << 16;

impl<W: Write> Output<W> {
    pub fn new(resolver: Resolver, judge: Judge, eve: EveWriter<W>) -> Self {
        Output {
            resolver,
            judge,
            eve,
            attribute: true,
            counts: OutputCounts::default(),
            sinks: Sinks::default(),
            dedup: None,
            evidence: None,
            alert_mode: AlertMode::End,
            touched: Vec::new(),
            clock_ns: 0,
            pending_dns: Vec::new(),
            judged_early: Default::default(),
            hosts: HostTable::new(),
        }
    }

    /// Resolves, judges and writes one event, and hands its line to the
    /// sinks; in stream mode, then the alerts it causes.
    pub fn event(&mut self, ev: &Event) -> std::io::Result<()> {
        self.event_prepared(ev, None)
    }

    /// [`Output::event`] for an event whose EVE line a worker already wrote
    /// (`Some`, all but its `match`; an empty line: not written); `None`:
    /// write it here.
    pub fn event_prepared(
        &mut self,
        ev: &Event,
        head: Option<&Prepared<'_>>,
    ) -> std::io::Result<()> {
        if let EventKind::App(a) = &ev.kind {
            if self.attribute {
                self.hosts.observe_app(a);
            }
            // DHCP/NBNS messages are for the host-identity table, not EVE.
            if matches!(a.body, AppBody::HostId(_)) {
                return Ok(());
            }
        }
        self.write_event(ev, head)?;
        if !self.sinks.is_empty() {
            // The line the writer just took.
            self.sinks.event(self.eve.last_line());
        }
        if self.alert_mode == AlertMode::Stream && self.attribute {
            self.stream_alerts(ev)?;
        }
        Ok(())
    }

    /// Stream mode, after the event's own line: the updates of windows that
    /// ended by its packet time, then an alert for each finding it touched
    /// unless deduplication suppresses it.
    ///
    /// Packet time here is the latest seen so far (a flow record's is its
    /// last packet's), so it never goes back: windows close in order.
    fn stream_alerts(&mut self, ev: &Event) -> std::io::Result<()> {
        let ts = match &ev.kind {
            EventKind::Flow(f) => f.end_ns,
            EventKind::App(a) => a.ts_ns,
        };
        self.clock_ns = self.clock_ns.max(ts);
        let now = self.clock_ns;
        self.write_due_updates(now)?;
        self.write_due_dns(now)?;
        if self.touched.is_empty() {
            return Ok(());
        }
        let mut touched = std::mem::take(&mut self.touched);
        let mut result = Ok(());
        for (key, country) in touched.drain(..) {
            let Some(f) = self.judge.finding_for(&key) else {
                continue;
            };
            if f.dns_only {
                // A flow to the bound address may follow at once: wait for it.
                if !self.pending_dns.iter().any(|(k, _)| *k == key) {
                    self.pending_dns
                        .push((key, now.saturating_add(DNS_GRACE_NS)));
                }
                continue;
            }
            result = self.offer_alert(key, country, &f, now);
            if result.is_err() {
                break;
            }
        }
        touched.clear();
        self.touched = touched;
        result?;
        // A window closed by a reopening or to make room.
        self.write_due_updates(now)
    }

    /// Stream mode: moves the clock on without an event (a quiet live link)
    /// and writes what became due: window updates, DNS-only findings whose
    /// grace ended.
    pub fn tick(&mut self, now_ns: u64) -> std::io::Result<()> {
        if self.alert_mode != AlertMode::Stream || !self.attribute {
            return Ok(());
        }
        self.clock_ns = self.clock_ns.max(now_ns);
        let now = self.clock_ns;
        self.write_due_updates(now)?;
        self.write_due_dns(now)
    }

    /// DNS-only findings whose grace ended by `now` (all with `u64::MAX`):
    /// alerted if still DNS only; a flow finding was alerted in their place.
    fn write_due_dns(&mut self, now: u64) -> std::io::Result<()> {
        if self.pending_dns.first().is_none_or(|(_, due)| *due > now) {
            return Ok(());
        }
        let due: Vec<FindingKey> = {
            let (ready, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_dns)
                .into_iter()
                .partition(|(_, d)| *d <= now);
            self.pending_dns = wait;
            ready.into_iter().map(|(k, _)| k).collect()
        };
        for key in due {
            let Some(f) = self.judge.finding_for(&key) else {
                continue;
            };
            if f.dns_only {
                self.offer_alert(key, None, &f, now)?;
            }
        }
        Ok(())
    }

    /// An alert for finding `f` unless deduplication suppresses it.
    fn offer_alert(
        &mut self,
        key: FindingKey,
        country: Option<String>,
        f: &Finding,
        now: u64,
    ) -> std::io::Result<()> {
        {
            let mut f = f.clone();
            f.identity = self.hosts.host_at(f.host, f.last_seen_ns);
            if let Some(d) = &mut self.dedup {
                let (host, vendor, product) = key;
                let dk = DedupKey {
                    host,
                    vendor,
                    product,
                    country,
                };
                if d.offer(&dk, now, f.clone()) == Verdict::Suppressed {
                    return Ok(());
                }
            }
            self.write_alert(&f)
        }
    }

    /// Writes the updates of deduplication windows closed by `now_ns`.
    fn write_due_updates(&mut self, now_ns: u64) -> std::io::Result<()> {
        let due = match &mut self.dedup {
            Some(d) if d.due(now_ns) => d.expire(now_ns),
            _ => return Ok(()),
        };
        for s in &due {
            self.alert_update(s)?;
        }
        Ok(())
    }

    /// One alert for a finding as it stands, to the EVE output and the sinks.
    fn write_alert(&mut self, f: &Finding) -> std::io::Result<()> {
        self.eve.alert(f)?;
        self.sinks.alert(self.eve.last_line(), f);
        self.counts.alerts += 1;
        Ok(())
    }

    fn write_event(&mut self, ev: &Event, made: Option<&Prepared<'_>>) -> std::io::Result<()> {
        self.counts.events += 1;
        if self.counts.events % GEOIP_RECHECK == 0 {
            self.resolver.reload_geoip_if_changed();
        }
        if !self.attribute {
            // A line written without GeoIP is the whole line here.
            let made = made.map(|p| match p.geo {
                None => Made::Whole(p.line, p.mark),
                Some(_) => Made::Head(p.head()),
            });
            return write_eve(&mut self.eve, ev, made, &Ext::default());
        }
        let dst = match &ev.kind {
            EventKind::Flow(f) => f.meta.dst,
            EventKind::App(a) => a.meta.dst,
        };
        // A worker that looked the destination up wrote all of the line
        // but its match; else the tail is written here.
        let hits = made.and_then(|p| p.hits);
        let (geo, made) = match made {
            Some(&Prepared {
                geo: Some(geo),
                line,
                mark,
                ..
            }) => (Arc::clone(geo), Some(Made::Whole(line, mark))),
            Some(p) => (self.resolver.geo(dst), Some(Made::Head(p.head()))),
            None => (self.resolver.geo(dst), None),
        };
        match &ev.kind {
            EventKind::Flow(f) => {
                let all = self.resolver.attribute_flow_with(f, geo.asn, hits);
                if !all.is_empty() {
                    self.counts.attributed_flows += 1;
                    let cid = community_id::encode(&f.meta.community_id);
                    let key = self.judge.on_flow(f, &all, &geo, cid);
                    // Behind a proxy the address is the proxy's: no country.
                    let proxied = all.first().map(|a| a.kind) == Some(EvidenceKind::HttpConnect);
                    let country = if proxied { None } else { geo.country.as_ref() };
                    touch(&mut self.touched, self.alert_mode, key, country);
                }
                // Evidence hook: every record, so DNS-asked flows learn their packet range.
                if let Some(ix) = &mut self.evidence {
                    ix.on_flow(ev.key, f, &all, self.judge.policy());
                }
                let ext = Ext {
                    dest: Some(&geo),
                    matched: all.first(),
                };
                write_eve(&mut self.eve, ev, made, &ext)
            }
            EventKind::App(a) => {
                if let AppBody::Dns(d) = &a.body {
                    let asked = self.resolver.on_dns_with(a, d, hits);
                    for q in &asked {
                        self.counts.dns_questions += 1;
                        let cid = community_id::encode(&a.meta.community_id);
                        let key =
                            self.judge
                                .on_dns_query(a.meta.src, q, cid, a.meta.flow_id, a.ts_ns);
                        touch(&mut self.touched, self.alert_mode, key, None);
                        if let Some(ix) = &mut self.evidence {
                            ix.on_dns(a, q, self.judge.policy());
                        }
                    }
                    let ext = Ext {
                        dest: Some(&geo),
                        matched: asked.first(),
                    };
                    return write_eve(&mut self.eve, ev, made, &ext);
                }
                let matched = self.resolver.match_event_with(a, hits);
                if self.alert_mode == AlertMode::Stream
                    && !self.judged_early.contains(&a.meta.flow_id)
                {
                    // A long flow is judged, and alerted, once its names
                    // are known (its own, or a DNS answer bound to its
                    // destination), not when it ends.
                    let rec = early_record(a);
                    let by_binding;
                    let early = match &matched {
                        Some(m) => Some(m),
                        None => {
                            // Only a DNS binding: the tiers after it (the
                            // certificate, ranges, AS) may still be outranked
                            // by what the rest of the flow shows.
                            by_binding = self.resolver.attribute_flow(&rec, geo.asn);
                            by_binding
                                .first()
                                .filter(|a| a.kind == EvidenceKind::DnsAnswer)
                        }
                    };
                    if let Some(m) = early {
                        if self.judged_early.len() >= JUDGED_EARLY_MAX {
                            self.judged_early.clear();
                        }
                        self.judged_early.insert(a.meta.flow_id);
                        let key = self.judge.on_flow_named(&rec, m, &geo);
                        touch(
                            &mut self.touched,
                            self.alert_mode,
                            key,
                            geo.country.as_ref(),
                        );
                    }
                }
                let ext = Ext {
                    dest: Some(&geo),
                    matched: matched.as_ref(),
                };
                write_eve(&mut self.eve, ev, made, &ext)
            }
        }
    }

    /// Judges what was seen and returns the findings. End mode: writes one
    /// alert per finding. Stream mode: the alerts were written as activity
    /// came; only the updates of the windows still open are left.
    pub fn finish(&mut self) -> std::io::Result<Vec<Finding>> {
        let findings = if self.attribute {
            let hosts = &self.hosts;
            let mut all = self
                .judge
                .findings_by_identity(&|ip, ts| hosts.identity_at(ip, ts).map(|i| i.key.clone()));
            for f in &mut all {
                f.identity = hosts.host_at(f.host, f.first_seen_ns);
            }
            all
        } else {
            Vec::new()
        };
        if self.alert_mode == AlertMode::End {
            for f in &findings {
                if let Some(d) = &mut self.dedup {
                    if d.offer(&dedup_key(f), f.first_seen_ns, f.clone()) == Verdict::Suppressed {
                        continue;
                    }
                }
                self.write_alert(f)?;
            }
        }
        if self.alert_mode == AlertMode::Stream && self.attribute {
            // The end of the capture ends every grace period.
            self.write_due_dns(u64::MAX)?;
        }
        if let Some(d) = &mut self.dedup {
            for s in d.drain() {
                self.alert_update(&s)?;
            }
        }
        Ok(findings)
    }

    /// Closes every open deduplication window now (writing their updates),
    /// so what comes next is alerted afresh: after a policy reload, new
    /// activity is judged, and alerted, under the new policy.
    pub fn restart_dedup(&mut self) -> std::io::Result<()> {
        if let Some(d) = &mut self.dedup {
            for s in d.drain() {
                self.alert_update(&s)?;
            }
        }
        Ok(())
    }

    // --- sinks (src/sink) ---

    /// An alert for a deduplication window that had repeats: the latest
    /// finding, with `phonehome.dedup`.
    fn alert_update(&mut self, s: &Summary<Finding>) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(4096);
        crate::output::eve::alert_event(&mut line, &s.latest);
        line.push(b'\n');
        splice_dedup(&mut line, s);
        self.eve.write_line(&line)?;
        self.sinks.alert(&line, &s.latest);
        self.counts.alerts += 1;
        Ok(())
    }

    /// Writes the final `stats` event: the sinks first deliver what they
    /// have (bounded wait) so their counters in `stats.phonehome.sinks` cover
    /// every event before it; then the stats event itself is delivered.
    pub fn stats(&mut self, st: &crate::output::RunStats) -> std::io::Result<()> {
        self.stats_with(st, true, |_| {})
    }

    /// [`Output::stats`] with more spliced into the line (a live sensor's
    /// health); `wait` lets the sinks deliver first (the final event).
    pub fn stats_with(
        &mut self,
        st: &crate::output::RunStats,
        wait: bool,
        extra: impl FnOnce(&mut Vec<u8>),
    ) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(8192);
        let mut st = st.clone();
        st.dns_cache = self.resolver.dns_stats().clone();
        st.memory = crate::base::budget::global().stats();
        st.host_identity = self.hosts.stats;
        crate::output::eve::stats_event(&mut line, &st);
        line.push(b'\n');
        if !self.sinks.is_empty() {
            if wait {
                self.sinks.flush();
            }
            splice_stats(&mut line, &self.sinks.snapshots());
        }
        extra(&mut line);
        self.eve.write_line(&line)?;
        if !self.sinks.is_empty() {
            self.sinks.event(&line);
            if wait {
                self.sinks.flush();
            }
        }
        Ok(())
    }

    /// Stops the sinks (after [`Output::stats`]); what each did.
    pub fn finish_sinks(&mut self) -> Vec<SinkReport> {
        std::mem::take(&mut self.sinks).finish()
    }
}

/// A flow as far as an application event on it shows: its addresses and
/// start; its counters come with its record when it ends.
fn early_record(a: &crate::dissect::AppRecord) -> crate::flow::FlowRecord {
    use crate::flow::{EndReason, FlowRecord, FlowState};
    FlowRecord {
        meta: a.meta.clone(),
        start_ns: a.ts_ns,
        end_ns: a.ts_ns,
        pkts_toserver: 0,
        pkts_toclient: 0,
        bytes_toserver: 0,
        bytes_toclient: 0,
        state: FlowState::Established,
        reason: EndReason::Shutdown,
        tcp: None,
        app_proto: None,
        names: None,
        file: a.file,
        empty: false,
        anomalies: Default::default(),
    }
}

/// What a worker made of an event's line.
#[derive(Clone, Copy)]
enum Made<'a> {
    /// All of it but the `match`, which goes in at the mark.
    Whole(&'a [u8], TailMark),
    /// Its head only (the worker had no GeoIP for the tail).
    Head(&'a [u8]),
}

/// Writes `ev`, from what a worker made of its line when there is that.
fn write_eve<W: Write>(
    eve: &mut EveWriter<W>,
    ev: &Event,
    made: Option<Made<'_>>,
    ext: &Ext<'_>,
) -> std::io::Result<()> {
    match made {
        Some(Made::Whole(line, mark)) => eve.write_prepared(line, mark, ext.matched),
        Some(Made::Head(h)) => eve.event_with_head(ev, h, ext),
        None => eve.event(ev, ext),
    }
}

/// Stream mode: notes that the current event touched finding `key` (once
/// per key and country).
fn touch(
    touched: &mut Vec<(FindingKey, Option<String>)>,
    mode: AlertMode,
    key: Option<FindingKey>,
    country: Option<&String>,
) {
    if mode != AlertMode::Stream {
        return;
    }
    let Some(key) = key else {
        return;
    };
    if !touched
        .iter()
        .any(|(k, c)| *k == key && c.as_ref() == country)
    {
        touched.push((key, country.cloned()));
    }
}

/// The deduplication key of a finding's alert: its host, vendor, product
/// and the country of the destination the alert names.
pub fn dedup_key(f: &Finding) -> DedupKey {
    DedupKey {
        host: f.host,
        vendor: f.vendor.clone(),
        product: f.product.clone(),
        country: f
            .destinations
            .iter()
            .find(|d| d.ip.is_some())
            .and_then(|d| d.country.clone()),
    }
}
