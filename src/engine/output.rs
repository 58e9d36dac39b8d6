//! The single ordered stage after the merge: resolve → judge → report.
//!
//! Events arrive in capture order whatever the worker count, so DNS answers
//! are learnt before the flows they explain end, and findings do not depend
//! on which worker saw what.

use crate::event::{AppBody, Event, EventKind};
use crate::flow::community_id;
use crate::judge::{Finding, Judge};
use crate::report::dedup::{splice_dedup, Dedup, DedupKey, Summary, Verdict};
use crate::report::eve::{EveWriter, Ext};
use crate::report::sink::{splice_stats, SinkReport, Sinks};
use crate::resolve::Resolver;
use std::io::Write;

/// Counters of the stage, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputCounts {
    pub events: u64,
    /// Flow records attributed to a catalogued endpoint.
    pub attributed_flows: u64,
    /// DNS questions for catalogued names.
    pub dns_questions: u64,
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
    // --- sinks (src/report/sink) ---
    /// Other outputs, fed every line the EVE writer writes (empty: none).
    pub sinks: Sinks,
    /// Alert deduplication (none: off).
    pub dedup: Option<Dedup<Finding>>,
    /// Evidence bundle (`--evidence`): which flows back which finding.
    pub evidence: Option<crate::report::evidence::FlowIndex>,
}

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
        }
    }

    /// Resolves, judges and writes one event, and hands its line to the sinks.
    pub fn event(&mut self, ev: &Event) -> std::io::Result<()> {
        self.write_event(ev)?;
        if !self.sinks.is_empty() {
            self.sinks.event(self.eve.last_line());
        }
        Ok(())
    }

    fn write_event(&mut self, ev: &Event) -> std::io::Result<()> {
        self.counts.events += 1;
        if self.counts.events % GEOIP_RECHECK == 0 {
            self.resolver.reload_geoip_if_changed();
        }
        if !self.attribute {
            return self.eve.event(ev, &Ext::default());
        }
        match &ev.kind {
            EventKind::Flow(f) => {
                let geo = self.resolver.geo(f.meta.dst);
                let all = self.resolver.attribute_all(f);
                if !all.is_empty() {
                    self.counts.attributed_flows += 1;
                    let cid = community_id::encode(&f.meta.community_id);
                    self.judge.on_flow(f, &all, &geo, cid);
                }
                // Evidence hook: every record, so DNS-asked flows learn their packet range.
                if let Some(ix) = &mut self.evidence {
                    ix.on_flow(ev.key, f, &all, self.judge.policy());
                }
                self.eve.event(
                    ev,
                    &Ext {
                        dest: Some(&geo),
                        matched: all.first(),
                    },
                )
            }
            EventKind::App(a) => {
                let geo = self.resolver.geo(a.meta.dst);
                if let AppBody::Dns(d) = &a.body {
                    let asked = self.resolver.on_dns(a, d);
                    for q in &asked {
                        self.counts.dns_questions += 1;
                        let cid = community_id::encode(&a.meta.community_id);
                        self.judge
                            .on_dns_query(a.meta.src, q, cid, a.meta.flow_id, a.ts_ns);
                        if let Some(ix) = &mut self.evidence {
                            ix.on_dns(a, q, self.judge.policy());
                        }
                    }
                    return self.eve.event(
                        ev,
                        &Ext {
                            dest: Some(&geo),
                            matched: asked.first(),
                        },
                    );
                }
                let matched = self.resolver.match_event(a);
                self.eve.event(
                    ev,
                    &Ext {
                        dest: Some(&geo),
                        matched: matched.as_ref(),
                    },
                )
            }
        }
    }

    /// Judges what was seen, writes one alert per finding, and returns the findings.
    pub fn finish(&mut self) -> std::io::Result<Vec<Finding>> {
        let findings = if self.attribute {
            self.judge.findings()
        } else {
            Vec::new()
        };
        for f in &findings {
            if let Some(d) = &mut self.dedup {
                if d.offer(&dedup_key(f), f.first_seen_ns, f.clone()) == Verdict::Suppressed {
                    continue;
                }
            }
            self.eve.alert(f)?;
            self.sinks.alert(self.eve.last_line(), f);
        }
        if let Some(d) = &mut self.dedup {
            for s in d.drain() {
                self.alert_update(&s)?;
            }
        }
        Ok(findings)
    }

    // --- sinks (src/report/sink) ---

    /// An alert for a deduplication window that had repeats: the latest
    /// finding, with `phonehome.dedup`.
    fn alert_update(&mut self, s: &Summary<Finding>) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(4096);
        crate::report::eve::alert_event(&mut line, &s.latest);
        line.push(b'\n');
        splice_dedup(&mut line, s);
        self.eve.write_line(&line)?;
        self.sinks.alert(&line, &s.latest);
        Ok(())
    }

    /// Writes the final `stats` event: the sinks first deliver what they
    /// have (bounded wait) so their counters in `stats.phonehome.sinks` cover
    /// every event before it; then the stats event itself is delivered.
    pub fn stats(&mut self, st: &crate::engine::RunStats) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(8192);
        crate::report::eve::stats_event(&mut line, st);
        line.push(b'\n');
        if !self.sinks.is_empty() {
            self.sinks.flush();
            splice_stats(&mut line, &self.sinks.snapshots());
        }
        self.eve.write_line(&line)?;
        if !self.sinks.is_empty() {
            self.sinks.event(&line);
            self.sinks.flush();
        }
        Ok(())
    }

    /// Stops the sinks (after [`Output::stats`]); what each did.
    pub fn finish_sinks(&mut self) -> Vec<SinkReport> {
        std::mem::take(&mut self.sinks).finish()
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
