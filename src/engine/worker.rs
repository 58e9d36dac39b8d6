//! A worker thread: decode, flow tracking and dissection for its share of packets.

use crate::base::Progress;
use crate::decode::{self, worker_of, Batch, DecodeStats, Decoded};
use crate::dissect::stream::StreamStats;
use crate::dissect::{AppRecord, Event, EventKind};
use crate::dissect::{AppState, Emitted, FlowFacts};
use crate::flow::{EndReason, EventKey};
use crate::flow::{Ended, FlowConfig, FlowStats, FlowTable, PacketCtx};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A worker's answer to one job, or its last words.
pub enum Output {
    Events(Vec<Event>),
    Done {
        events: Vec<Event>,
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

pub fn run(
    me: usize,
    workers: usize,
    cfg: FlowConfig,
    dissect: bool,
    jobs: Receiver<Arc<Batch>>,
    out: Sender<Output>,
    progress: &Progress,
) {
    // Flows created, as last added to `progress` (once per batch, for the bar).
    let mut counted_flows = 0;
    let mut table: FlowTable<AppState> = FlowTable::new(cfg);
    let mut dstats = DecodeStats::default();
    let mut ended: Vec<Ended<AppState>> = Vec::new();
    let mut bodies = Emitted::new();
    let mut stream = StreamStats::default();
    for job in jobs {
        let mut events = Vec::new();
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
            let info = &mut *flow.info;
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
            close_flow(e, &mut events, &mut stream);
        }
        // Release the block before answering so its buffer can be reused.
        let created = table.stats().created;
        progress
            .flows
            .fetch_add(created.saturating_sub(counted_flows), Ordering::Relaxed);
        counted_flows = created;
        drop(job);
        if out.send(Output::Events(events)).is_err() {
            return;
        }
    }
    let mut events = Vec::new();
    table.flush(&mut ended);
    for e in ended.drain(..) {
        close_flow(e, &mut events, &mut stream);
    }
    let _ = out.send(Output::Done {
        events,
        decode: Box::new(dstats),
        flows: table.stats().clone(),
        stream,
    });
}
