//! A worker thread: decode, flow tracking and dissection for its share of packets.

use super::handoff::Sender;
use crate::base::budget::InFlight;
use crate::base::Progress;
use crate::decode::{self, worker_of, Batch, DecodeStats, Decoded};
use crate::dissect::stream::StreamStats;
use crate::dissect::{AppRecord, Event, EventKind};
use crate::dissect::{AppState, Emitted, FlowFacts};
use crate::flow::{EndReason, EventKey};
use crate::flow::{Ended, FlowConfig, FlowStats, FlowTable, PacketCtx};
use crate::output::eve;
use crate::resolve::geoip::GeoAnswer;
use crate::resolve::{GeoCache, Hits, NameMatcher};
use crossbeam_channel::Receiver;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A worker's events of one job, in key order, with each event's EVE line
/// already written whole but for its `match` (see [`eve::event_tail_open`]),
/// and the GeoIP answer for its destination: the ordered stage only adds
/// what depends on the order of events (DNS bindings). Rounds go back to
/// the worker through its pool, so their buffers are reused, not grown
/// anew per job.
#[derive(Default)]
pub struct Round {
    pub events: Vec<Event>,
    /// The lines, one after the other.
    pub lines: Vec<u8>,
    /// Where each event's line ends in `lines` (an empty line: not written).
    pub ends: Vec<u32>,
    /// Where each line's `match` goes.
    pub marks: Vec<eve::TailMark>,
    /// Each event's destination in GeoIP (none: not looked up here).
    pub geos: Vec<Option<Arc<GeoAnswer>>>,
    /// What each event's own evidence matched in the catalog (none: not
    /// matched here).
    pub hits: Vec<Option<Hits>>,
    /// The in-flight credit taken for it, given back when it is written.
    pub bytes: u64,
}

impl Round {
    pub fn clear(&mut self) {
        self.events.clear();
        self.lines.clear();
        self.ends.clear();
        self.marks.clear();
        self.geos.clear();
        self.hits.clear();
        self.bytes = 0;
    }

    /// What the round holds, for the in-flight credit: its buffers, and per
    /// event a boxed record with its names (an estimate: the record's size
    /// plus [`EVENT_HEAP`]).
    fn weight(&self) -> u64 {
        let record = std::mem::size_of::<crate::flow::FlowRecord>()
            .max(std::mem::size_of::<AppRecord>()) as u64;
        (self.lines.capacity()
            + self.ends.capacity() * 4
            + self.marks.capacity() * std::mem::size_of::<eve::TailMark>()
            + self.geos.capacity() * std::mem::size_of::<Option<Arc<GeoAnswer>>>()
            + self.hits.capacity() * std::mem::size_of::<Option<Hits>>()
            + self.events.capacity() * std::mem::size_of::<Event>()) as u64
            + self.events.len() as u64 * (record + EVENT_HEAP)
    }

    /// Writes the lines of its events (in key order), each with the
    /// destination's GeoIP answer when `geo` is given (the run resolves),
    /// and matches their own names in the catalog when `matcher` is.
    /// `per_line` is the expected bytes of a line: the buffer is sized for
    /// all of them before the first is written.
    fn write_lines(
        &mut self,
        names: &[String],
        mut geo: Option<&mut GeoCache>,
        matcher: Option<&NameMatcher>,
        per_line: usize,
    ) {
        let n = self.events.len();
        presize(&mut self.lines, n.saturating_mul(per_line));
        presize(&mut self.ends, n);
        presize(&mut self.marks, n);
        presize(&mut self.geos, n);
        presize(&mut self.hits, n);
        for ev in &self.events {
            let (file, dst) = match &ev.kind {
                EventKind::Flow(f) => (f.file, f.meta.dst),
                EventKind::App(a) => (a.file, a.meta.dst),
            };
            let name = names.get(file as usize).map_or("", String::as_str);
            let start = self.lines.len();
            let mut mark = eve::TailMark::default();
            let mut answer = None;
            if eve::event_head(&mut self.lines, ev, name) {
                answer = geo.as_deref_mut().map(|g| g.geo(dst));
                let ext = eve::Ext {
                    dest: answer.as_deref(),
                    matched: None,
                };
                mark = eve::event_tail_open(&mut self.lines, start, ev, &ext);
                self.lines.push(b'\n');
            }
            // What needs no history of other events is matched here, off
            // the ordered stage: a flow's names, certificate, range and AS;
            // an application event's name; a DNS message's questions and
            // CNAME chains (the DNS cache stays the ordered stage's).
            let hits = match (&ev.kind, matcher, &answer) {
                (EventKind::Flow(f), Some(m), Some(g)) => Some(m.flow(f, g.asn)),
                (EventKind::App(a), Some(m), Some(_)) => Some(m.event(a)),
                _ => None,
            };
            self.hits.push(hits);
            self.marks.push(mark);
            self.geos.push(answer);
            // Lines of one job stay far below 4 GiB (a block is 1 MiB of packets).
            self.ends
                .push(u32::try_from(self.lines.len()).unwrap_or(u32::MAX));
        }
    }
}

/// Empties `v` and makes room for `n` items. A buffer too small is replaced,
/// not grown: growing would copy the old bytes, which are not needed
/// (callgrind, bench seed: lines grown by doubling cost the worker 5 % of
/// its instructions in `realloc` and its copies).
fn presize<T>(v: &mut Vec<T>, n: usize) {
    v.clear();
    if v.capacity() < n {
        *v = Vec::with_capacity(n);
    }
}

/// Bytes of an EVE line expected before any was written (a flow's line on
/// the bench capture is ~800).
const FIRST_LINE_GUESS: usize = 1024;

/// Heap bytes an event's record holds beyond its box, as counted against
/// the in-flight credit (names, a DNS message's records): an estimate.
const EVENT_HEAP: u64 = 256;

/// A worker's answer to one job, or its last words.
pub enum Output {
    /// Part of a job's events, in key order; the rest follow (a burst is
    /// handed on in parts so that memory in flight stays bounded).
    Part(Round),
    /// A batch's events, and the capture clock of its last tick (if any).
    Events(Round, Option<u64>),
    Done {
        events: Round,
        decode: Box<DecodeStats>,
        flows: FlowStats,
        stream: StreamStats,
    },
}

/// Writes out an ended flow: first what its dissector still held, then its record.
fn close_flow(e: Ended<AppState>, events: &mut Vec<Event>, stream: &mut StreamStats) {
    let Ended {
        key,
        mut record,
        app,
    } = e;
    let mut seq = 0;
    if let Some(app) = app {
        let mut bodies = Emitted::new();
        let mut facts = FlowFacts {
            names: &mut record.names,
            app_proto: &mut record.app_proto,
            anomalies: &mut record.anomalies,
        };
        app.finish(&mut facts, &mut bodies);
        for body in bodies {
            events.push(Event {
                key: key.with_seq(seq),
                kind: EventKind::App(Box::new(AppRecord {
                    meta: record.meta.clone(),
                    ts_ns: record.end_ns,
                    pcap_cnt: None,
                    file: record.file,
                    to_server: true,
                    body,
                })),
            });
            seq += 1;
        }
    }
    if record.reason != EndReason::ActiveTimeout {
        stream.count(record.anomalies);
    }
    if !record.empty {
        events.push(Event {
            key: key.with_seq(u32::MAX),
            kind: EventKind::Flow(Box::new(record)),
        });
    }
}

/// The flow table's bytes per active flow at its peak, for the bench
/// (`bench/run.sh` reads the line the counting build prints). Measured in
/// the counting build only: it walks the table each time the flow count
/// has grown by 1/16 since the last measurement.
#[derive(Default)]
#[cfg_attr(not(feature = "alloc-count"), allow(dead_code))]
struct TablePeak {
    flows: usize,
    bytes: crate::flow::TableBytes,
}

impl TablePeak {
    #[cfg(feature = "alloc-count")]
    fn update(&mut self, table: &FlowTable<AppState>) {
        let n = table.len();
        if n > self.flows + self.flows / 16 {
            self.flows = n;
            self.bytes = table.bytes(AppState::heap_bytes);
        }
    }

    #[cfg(not(feature = "alloc-count"))]
    fn update(&mut self, _: &FlowTable<AppState>) {}

    #[cfg(feature = "alloc-count")]
    fn report(&self, me: usize) {
        let b = &self.bytes;
        let per = |n: usize| n.checked_div(self.flows).unwrap_or(0);
        eprintln!(
            "phonehome: flow-table: worker {me}: peak {} flows, {} bytes, {} bytes/flow \
             (map {}, records {}, names {}, dissectors {}, timers {})",
            self.flows,
            b.total(),
            per(b.total()),
            per(b.map),
            per(b.records),
            per(b.names),
            per(b.app),
            per(b.timers)
        );
    }

    #[cfg(not(feature = "alloc-count"))]
    fn report(&self, _: usize) {}
}

/// What a worker is given.
pub struct Setup {
    pub me: usize,
    pub workers: usize,
    pub flow: FlowConfig,
    pub dissect: bool,
    /// Input names, written as `pcap_filename`.
    pub names: Arc<[String]>,
    pub jobs: super::handoff::Receiver<Arc<Batch>>,
    pub out: Sender<Output>,
    /// Rounds handed back by the merge for reuse.
    pub pool: Receiver<Round>,
    /// Flows created are added to `progress.flows` (once per batch, for the bar).
    pub progress: Arc<Progress>,
    /// Live mode: the per-worker health counters.
    pub counters: Option<Arc<super::EngineCounters>>,
    /// Bytes of events in flight to the merge.
    pub credit: Arc<InFlight>,
    /// Events per part handed to the merge (at least 1).
    pub part_events: usize,
    /// GeoIP for the events' destinations (none: the run does not resolve).
    pub geo: Option<Arc<crate::resolve::GeoShare>>,
    /// The catalog for the events' own names (none: matched on the ordered stage).
    pub catalog: Option<Arc<crate::resolve::CatalogShare>>,
}

/// Where a worker hands its events: the merge's channel, the pool of
/// rounds, the in-flight credit, the input names, the part size, and the
/// worker's GeoIP cache.
struct Handoff<'a> {
    out: &'a Sender<Output>,
    pool: &'a Receiver<Round>,
    credit: &'a InFlight,
    names: &'a [String],
    part_events: usize,
    geo: Option<GeoCache>,
    matcher: Option<NameMatcher>,
    /// Bytes per line expected in the next part: a moving average of the
    /// parts written, with a margin, so that a part's lines fit the room
    /// made for them in one allocation.
    per_line: usize,
}

/// Hands a job's events to the merge, sorted, in parts of at most
/// `to.part_events`, each under the in-flight credit (`job` numbers the
/// round); the last part as `last` makes it. False: the merge is gone.
fn hand_on(
    mut round: Round,
    job: u64,
    to: &mut Handoff<'_>,
    last: impl FnOnce(Round) -> Output,
) -> bool {
    round.events.sort_unstable_by_key(|e| e.key);
    while round.events.len() > to.part_events {
        let mut part = fresh(to.pool);
        part.events.extend(round.events.drain(..to.part_events));
        if !to.send_part(part, job, Output::Part) {
            return false;
        }
    }
    to.send_part(round, job, last)
}

impl Handoff<'_> {
    /// Writes the lines of a sorted part and hands it on under the credit,
    /// wrapped by `wrap` (a part with more to come, or the job's last).
    fn send_part(&mut self, mut part: Round, job: u64, wrap: impl FnOnce(Round) -> Output) -> bool {
        part.write_lines(
            self.names,
            self.geo.as_mut(),
            self.matcher.as_ref(),
            self.per_line,
        );
        if let Some(avg) = part.lines.len().checked_div(part.events.len()) {
            // A quarter margin over the moving average; bounded so that one
            // odd part cannot make every later part reserve megabytes.
            let next = (3 * self.per_line + avg + avg / 4) / 4;
            self.per_line = next.clamp(64, 4 * 1024);
        }
        part.bytes = part.weight();
        self.credit.take(job, part.bytes);
        self.out.send(wrap(part)).is_ok()
    }
}

/// The largest round (bytes of EVE lines) kept for reuse.
const POOLED_ROUND_MAX: usize = 1 << 20;

/// A cleared round from the pool, or a new one. A round grown by a burst
/// (a flood's evictions, the final flush) is freed here, not kept: pooled
/// rounds would otherwise hold the burst's memory for the rest of the run,
/// outside the memory budget.
fn fresh(pool: &Receiver<Round>) -> Round {
    while let Ok(mut r) = pool.try_recv() {
        if r.lines.capacity() <= POOLED_ROUND_MAX {
            r.clear();
            return r;
        }
    }
    Round::default()
}

pub fn run(setup: Setup) {
    let Setup {
        me,
        workers,
        flow: cfg,
        dissect,
        names,
        jobs,
        out,
        pool,
        progress,
        counters,
        credit,
        part_events,
        geo,
        catalog,
    } = setup;
    let mut to = Handoff {
        out: &out,
        pool: &pool,
        credit: &credit,
        names: &names,
        part_events,
        geo: geo.map(GeoCache::new),
        matcher: catalog.map(NameMatcher::new),
        per_line: FIRST_LINE_GUESS,
    };
    // Flows created, as last added to `progress`.
    let mut counted_flows = 0;
    // Jobs answered: the number of the round the next answer belongs to.
    let mut job_no = 0u64;
    let mut table: FlowTable<AppState> = FlowTable::new(cfg);
    let mut dstats = DecodeStats::default();
    let mut ended: Vec<Ended<AppState>> = Vec::new();
    let mut bodies = Emitted::new();
    let mut stream = StreamStats::default();
    let mut peak = TablePeak::default();
    for job in jobs {
        // A GeoIP reload published by the ordered stage applies from here.
        if let Some(g) = &mut to.geo {
            g.refresh();
        }
        // So does a catalog reload (and the ordered stage matches again
        // what was matched in the old one).
        if let Some(m) = &mut to.matcher {
            m.refresh();
        }
        let mut round = fresh(&pool);
        let events = &mut round.events;
        let mut ticks = job.ticks.iter().peekable();
        for (pos, &slot) in job.slots.iter().enumerate() {
            let Some(hash) = slot.hash() else {
                continue;
            };
            if worker_of(hash, workers) != me {
                continue;
            }
            let pos = pos as u32;
            while let Some(&&(tpos, clock)) = ticks.peek() {
                if tpos > pos {
                    break;
                }
                table.tick(clock, job.base + u64::from(tpos), &mut ended);
                ticks.next();
            }
            let Some(item) = job.item(pos as usize, slot) else {
                continue;
            };
            let (meta, bytes, packets) = (item.meta, item.bytes, item.packets);
            let ctx = PacketCtx {
                idx: job.base + u64::from(pos),
                ts_ns: meta.ts_ns,
                wire_len: meta.origlen.max(meta.caplen),
                packets,
                file: job.input(),
                layer: 0,
            };
            let Decoded::Packet(p) = decode::decode(meta.linktype, bytes, &mut dstats) else {
                continue;
            };
            if let Some(t) = p.tunnel.as_ref().filter(|t| t.has_own_flow()) {
                // The tunnel's own flow (VXLAN, IP in IP, ...) is a flow too,
                // as Suricata counts it; nothing in it is dissected.
                let outer = decode::outer_packet(t);
                let octx = PacketCtx { layer: 1, ..ctx };
                let (of, _) = table.packet(&outer, &octx, &mut ended);
                of.app = AppState::Done;
            }
            let (flow, to_server) = table.packet(&p, &ctx, &mut ended);
            if !dissect {
                flow.app = AppState::Done;
            }
            if matches!(flow.app, AppState::Done) {
                // The hot path: names known (or nothing to learn), counters only.
                continue;
            }
            let info = &mut flow.info;
            let mut facts = FlowFacts {
                names: &mut info.names,
                app_proto: &mut info.app_proto,
                anomalies: &mut info.anomalies,
            };
            flow.app.on_packet(&p, to_server, &mut facts, &mut bodies);
            if !bodies.is_empty() {
                let fmeta = flow.meta();
                for (seq, body) in bodies.drain(..).enumerate() {
                    events.push(Event {
                        key: EventKey::packet(ctx.idx, seq as u32),
                        kind: EventKind::App(Box::new(AppRecord {
                            meta: fmeta.clone(),
                            ts_ns: ctx.ts_ns,
                            pcap_cnt: Some(ctx.idx + 1),
                            file: ctx.file,
                            to_server,
                            body,
                        })),
                    });
                }
            }
        }
        for &(tpos, clock) in ticks {
            table.tick(clock, job.base + u64::from(tpos), &mut ended);
        }
        for e in ended.drain(..) {
            close_flow(e, events, &mut stream);
        }
        let clock = job.ticks.last().map(|&(_, c)| c);
        // Release the block before answering so its buffer can be reused.
        let created = table.stats().created;
        progress
            .flows
            .fetch_add(created.saturating_sub(counted_flows), Ordering::Relaxed);
        counted_flows = created;
        drop(job);
        if let Some(c) = counters.as_ref().and_then(|c| c.workers.get(me)) {
            use std::sync::atomic::Ordering::Relaxed;
            let st = table.stats();
            c.flows_active.store(table.len() as u64, Relaxed);
            c.flows_created.store(st.created, Relaxed);
            c.flows_evicted.store(st.ended_forced, Relaxed);
            c.flows_timed_out.store(st.ended_timeout, Relaxed);
            if let Ok(mut d) = c.decode.lock() {
                d.clone_from(&dstats);
            }
        }
        peak.update(&table);
        if !hand_on(round, job_no, &mut to, |r| Output::Events(r, clock)) {
            return;
        }
        job_no += 1;
    }
    peak.report(me);
    // Every flow still open, in parts as they are closed: written out by
    // the merge while the next part is made, not all held at once.
    table.flush(&mut ended);
    let flows = table.stats().clone();
    // The table's own memory goes before the records are written.
    drop(table);
    let mut ended = ended.into_iter();
    loop {
        let mut round = fresh(&pool);
        // Room for a part at once (a flow and its dissector's last event).
        round.events.reserve(part_events);
        // A flow may add its dissector's last events to its record.
        for e in ended.by_ref().take(part_events.div_ceil(2)) {
            close_flow(e, &mut round.events, &mut stream);
        }
        if ended.len() == 0 {
            let _ = hand_on(round, job_no, &mut to, |r| Output::Done {
                events: r,
                decode: Box::new(dstats),
                flows,
                stream,
            });
            return;
        }
        round.events.sort_unstable_by_key(|e| e.key);
        if !to.send_part(round, job_no, Output::Part) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{FlowInfo, FlowKey};
    use std::mem::size_of;

    /// Issue 10's budget is 512 bytes per active flow; the parts every flow
    /// has (its slot in the table's slab, a map bucket of 5 bytes at most
    /// half full) must leave room for its names, a dissector's state and
    /// its timer entry within it.
    #[test]
    fn a_flow_fits_its_budget() {
        let slot = FlowTable::<AppState>::slot_bytes();
        eprintln!(
            "sizes: key {} slot {} info {} names {} app {} tcp {}",
            size_of::<FlowKey>(),
            slot,
            size_of::<FlowInfo>(),
            size_of::<crate::flow::FlowNames>(),
            size_of::<AppState>(),
            size_of::<crate::flow::TcpTrack>()
        );
        assert!(slot + 10 <= 224, "slot {slot} bytes");
    }
}
