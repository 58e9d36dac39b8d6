//! A worker thread: decode, flow tracking and dissection for its share of packets.

use super::reader::Job;
use crate::decode::{self, DecodeStats, Decoded};
use crate::event::Event;
use crate::flow::{FlowConfig, FlowStats, FlowTable, PacketCtx};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;

/// A worker's answer to one job, or its last words.
pub enum Output {
    Events(Vec<Event>),
    Done {
        events: Vec<Event>,
        decode: DecodeStats,
        flows: FlowStats,
    },
}

pub fn run(me: usize, cfg: FlowConfig, jobs: Receiver<Arc<Job>>, out: Sender<Output>) {
    let mut table = FlowTable::new(cfg);
    let mut dstats = DecodeStats::default();
    for job in jobs {
        let mut events = Vec::new();
        let mine = job.assign.get(me).map(Vec::as_slice).unwrap_or_default();
        let mut ticks = job.ticks.iter().peekable();
        for &(pos, src) in mine {
            while let Some(&&(tpos, clock)) = ticks.peek() {
                if tpos > pos {
                    break;
                }
                table.tick(clock, job.base + u64::from(tpos), &mut events);
                ticks.next();
            }
            let Some((meta, bytes)) = job.bytes(pos, src) else {
                continue;
            };
            let ctx = PacketCtx {
                idx: job.base + u64::from(pos),
                ts_ns: meta.ts_ns,
                wire_len: meta.origlen.max(meta.caplen),
                file: job.file,
            };
            if let Decoded::Packet(p) = decode::decode(meta.linktype, bytes, &mut dstats) {
                let (_flow, _to_server) = table.packet(&p, &ctx, &mut events);
            }
        }
        for &(tpos, clock) in ticks {
            table.tick(clock, job.base + u64::from(tpos), &mut events);
        }
        // Release the block before answering so its buffer can be reused.
        drop(job);
        if out.send(Output::Events(events)).is_err() {
            return;
        }
    }
    let mut events = Vec::new();
    table.flush(&mut events);
    let _ = out.send(Output::Done {
        events,
        decode: dstats,
        flows: table.stats().clone(),
    });
}
