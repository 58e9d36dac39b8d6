//! The single ordered stage after the merge: resolve → judge → report.
//!
//! Events arrive in capture order whatever the worker count, so DNS answers
//! are learnt before the flows they explain end, and findings do not depend
//! on which worker saw what.

use crate::event::{AppBody, Event, EventKind};
use crate::flow::community_id;
use crate::judge::{Finding, Judge};
use crate::report::eve::{EveWriter, Ext};
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
            evidence: None,
        }
    }

    /// Resolves, judges and writes one event.
    pub fn event(&mut self, ev: &Event) -> std::io::Result<()> {
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
            self.eve.alert(f)?;
        }
        Ok(findings)
    }
}
