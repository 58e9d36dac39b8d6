//! Evidence on a live capture (`live --evidence DIR`).
//!
//! A replay finds the packets of a finding's flows by reading its files a
//! second time; an interface cannot be read twice. So a live sensor keeps
//! the first packets of every flow as they go by ([`Keeper`], fed with the
//! engine's batches in packet order, bounded in bytes) until the flow's
//! record reaches the output stage and is judged: the packets of a flow that
//! backs a finding are then appended to that finding's pcapng, those of any
//! other flow are freed. What the bound sheds is counted, per finding too.
//! At the end, findings.json, README.txt and MANIFEST.sha256 are written as
//! a replay writes them.

use super::bundle::{self, BundleInput, BundleSummary, EveTarget, LiveEvidenceStats};
use super::extract::{self, flow_comment, io_err, Extracted, Frame, Out, Outs, Visitor, Walk};
use super::index::{FlowIndex, FlowRef};
use super::pcapng;
use super::{EvidenceError, FindingEvidence, Limits};
use crate::decode::{self, Batch, Packet};
use crate::flow::{EndReason, EventKey, FlowKey, FlowRecord};
use crate::judge::Finding;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

/// Bookkeeping bytes charged per flow held, besides its frames.
const FLOW_OVERHEAD: usize = 160;
/// Flows whose packets were shed, remembered so that their later packets
/// are not kept as if they were the first ones.
const MAX_SHED_KEYS: usize = 1 << 16;

/// One flow key's packets, held until its flow record is judged.
#[derive(Default)]
struct Held {
    /// Index of the first packet held (tells a shed entry from a new one).
    first: u64,
    frames: Vec<(u64, Vec<Frame>)>,
    bytes: usize,
    /// Packets accepted for the current flow (the per-flow bound).
    accepted: u32,
    /// Packets past the per-flow bound.
    over: u64,
    cut: bool,
    /// Written already (an active-timeout record): nothing more is kept.
    done: bool,
}

fn frames_bytes(frames: &[Frame]) -> usize {
    frames.iter().map(|f| f.data.len() + 32).sum()
}

/// The first packets of every open flow, bounded in bytes.
pub(crate) struct Keeper {
    per_flow: u32,
    max_bytes: usize,
    held: FxHashMap<FlowKey, Held>,
    /// Keys in the order they were first held (stale entries skipped).
    order: VecDeque<(FlowKey, u64)>,
    shed: FxHashSet<FlowKey>,
    bytes: usize,
    stats: LiveEvidenceStats,
}

impl Keeper {
    fn new(per_flow: u32, max_bytes: usize) -> Keeper {
        Keeper {
            per_flow,
            max_bytes,
            held: FxHashMap::default(),
            order: VecDeque::new(),
            shed: FxHashSet::default(),
            bytes: 0,
            stats: LiveEvidenceStats {
                memory_limit_bytes: max_bytes as u64,
                ..Default::default()
            },
        }
    }

    fn keep(&mut self, key: FlowKey, idx: u64, frames: Vec<Frame>) -> bool {
        if self.shed.contains(&key) {
            self.stats.packets_of_shed_flows += frames.len() as u64;
            return false;
        }
        let n = frames.len() as u32;
        let h = self.held.entry(key).or_insert_with(|| Held {
            first: idx,
            ..Held::default()
        });
        if h.frames.is_empty() && h.accepted == 0 && !h.done && !h.cut {
            h.first = idx;
            self.order.push_back((key, idx));
            self.bytes += FLOW_OVERHEAD;
        }
        if h.done || h.cut || h.accepted.saturating_add(n) > self.per_flow {
            h.cut |= !h.done;
            h.over += u64::from(n);
            return false;
        }
        h.accepted += n;
        let size = frames_bytes(&frames);
        h.bytes += size;
        h.frames.push((idx, frames));
        self.bytes += size;
        self.stats.packets_kept += u64::from(n);
        self.stats.held_bytes_max = self.stats.held_bytes_max.max(self.bytes as u64);
        self.shed_to_bound();
        true
    }

    /// Sheds the oldest flows' packets until the bound holds.
    fn shed_to_bound(&mut self) {
        while self.bytes > self.max_bytes {
            let Some((key, first)) = self.order.pop_front() else {
                break;
            };
            if self.held.get(&key).is_none_or(|h| h.first != first) {
                continue;
            }
            if let Some(h) = self.held.remove(&key) {
                self.bytes = self.bytes.saturating_sub(h.bytes + FLOW_OVERHEAD);
                self.stats.flows_shed += 1;
                self.stats.packets_shed += h.frames.iter().map(|f| f.1.len() as u64).sum::<u64>();
                if self.shed.len() < MAX_SHED_KEYS {
                    self.shed.insert(key);
                } else {
                    self.stats.shed_flows_not_remembered += 1;
                }
            }
        }
        // Keys released since they were queued leave stale entries.
        if self.order.len() > 2 * self.held.len() + 1024 {
            let held = &self.held;
            self.order
                .retain(|(k, first)| held.get(k).is_some_and(|h| h.first == *first));
        }
    }

    /// Takes the packets of the flow on `key` that started at packet `first`
    /// and ended before packet `end`. A final record frees the key for the
    /// next flow on it; an active-timeout one marks the flow `done` when its
    /// packets were taken. Returns (frames, over-limit packets, shed).
    fn take(
        &mut self,
        key: &FlowKey,
        first: u64,
        end: u64,
        last: bool,
        want: bool,
    ) -> (Vec<(u64, Vec<Frame>)>, u64, bool) {
        let was_shed = if last {
            self.shed.remove(key)
        } else {
            self.shed.contains(key)
        };
        let Some(h) = self.held.get_mut(key) else {
            return (Vec::new(), 0, was_shed);
        };
        if !last && !want {
            // Its names may come later: keep its packets until then.
            return (Vec::new(), 0, was_shed);
        }
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut h.frames)
            .into_iter()
            .partition(|f| f.0 < end);
        let freed: usize = mine.iter().map(|f| frames_bytes(&f.1)).sum();
        h.bytes = h.bytes.saturating_sub(freed);
        self.bytes = self.bytes.saturating_sub(freed);
        let over = h.over;
        h.over = 0;
        h.frames = rest;
        if last {
            // What is left belongs to the next flow on this key.
            h.accepted = h.frames.iter().map(|f| f.1.len() as u32).sum();
            h.cut = false;
            h.done = false;
            match h.frames.first() {
                Some(&(i, _)) => {
                    h.first = i;
                    self.order.push_back((*key, i));
                }
                None => {
                    self.held.remove(key);
                    self.bytes = self.bytes.saturating_sub(FLOW_OVERHEAD);
                }
            }
        } else {
            h.done = true;
        }
        let mine = mine.into_iter().filter(|f| f.0 >= first).collect();
        (mine, over, was_shed)
    }
}

impl Visitor for Keeper {
    fn wants(&mut self, key: &FlowKey) -> bool {
        if self.shed.contains(key) {
            self.stats.packets_of_shed_flows += 1;
            return false;
        }
        match self.held.get_mut(key) {
            Some(h) if h.done => false,
            Some(h) if h.cut => {
                h.over += 1;
                false
            }
            _ => true,
        }
    }

    fn packet(
        &mut self,
        p: &Packet<'_>,
        idx: u64,
        frames: Vec<Frame>,
    ) -> Result<bool, EvidenceError> {
        let key = FlowKey::of(p).0;
        let mut kept = false;
        if let Some(t) = &p.tunnel {
            // The tunnel's own flow, as the worker tracks it.
            let outer = FlowKey::of(&decode::outer_packet(t)).0;
            kept |= self.keep(outer, idx, frames.clone());
        }
        kept |= self.keep(key, idx, frames);
        Ok(kept)
    }
}

/// `live --evidence DIR`: the keeper, the evidence files being appended to,
/// and at the end the bundle.
pub struct LiveEvidence {
    dir: PathBuf,
    limits: Limits,
    walk: Walk,
    keeper: Keeper,
    outs: Outs,
    /// Finding slot (in the output stage's [`FlowIndex`]) → evidence file.
    slot_out: HashMap<u32, usize>,
    taken: HashSet<String>,
    packets_written: u64,
    /// Flows of a finding whose packets were shed before it was judged.
    shed_per_slot: HashMap<u32, u64>,
}

impl LiveEvidence {
    /// Prepares `dir` (new or empty; `eve` may already be in it) and keeps
    /// at most `max_bytes` of frames awaiting judgement.
    pub fn new(
        dir: &Path,
        eve: Option<&Path>,
        limits: Limits,
        max_bytes: usize,
    ) -> Result<Self, EvidenceError> {
        bundle::prepare_dir(dir, eve)?;
        let pkt_dir = dir.join("packets");
        std::fs::create_dir_all(&pkt_dir).map_err(io_err(&pkt_dir))?;
        Ok(LiveEvidence {
            dir: dir.to_owned(),
            limits,
            walk: Walk::default(),
            keeper: Keeper::new(limits.packets_per_flow, max_bytes),
            outs: Outs::default(),
            slot_out: HashMap::new(),
            taken: HashSet::new(),
            packets_written: 0,
            shed_per_slot: HashMap::new(),
        })
    }

    /// The packets of one batch of the engine, in packet order.
    pub fn batch(&mut self, batch: &Batch) -> Result<(), EvidenceError> {
        self.walk.batch(batch, &mut self.keeper)
    }

    /// Bytes held now (frames awaiting judgement, fragments awaiting their
    /// datagram).
    pub fn held_bytes(&self) -> u64 {
        (self.keeper.bytes + self.walk.held_bytes()) as u64
    }

    pub fn stats(&self) -> &LiveEvidenceStats {
        &self.keeper.stats
    }

    /// A flow record the output stage has just judged (after
    /// `FlowIndex::on_flow`): its packets go to its findings' files, or are
    /// freed. Every packet before the record's has been given to
    /// [`LiveEvidence::batch`].
    pub fn on_flow(
        &mut self,
        ev: EventKey,
        rec: &FlowRecord,
        index: &FlowIndex,
    ) -> Result<(), EvidenceError> {
        let flow = index.flow(rec.meta.flow_id);
        let key = match flow {
            Some(fr) => fr.key,
            None => super::index::key_of(&rec.meta),
        };
        let last = rec.reason != EndReason::ActiveTimeout;
        let (frames, over, shed) = self
            .keeper
            .take(&key, ev.sub / 2, ev.pkt, last, flow.is_some());
        let Some(fr) = flow else {
            return Ok(());
        };
        if shed {
            for s in &fr.findings {
                *self.shed_per_slot.entry(*s).or_default() += 1;
            }
        }
        self.write_flow(fr, index, &frames, over)
    }

    fn out_of(&mut self, slot: u32, index: &FlowIndex) -> Result<usize, EvidenceError> {
        if let Some(&i) = self.slot_out.get(&slot) {
            return Ok(i);
        }
        let Some((host, vendor, product)) = index.finding_key(slot) else {
            return Err(EvidenceError::Internal("finding slot without a key"));
        };
        let name = extract::file_name_of(*host, vendor, product, &mut self.taken);
        let path = self.dir.join("packets").join(&name);
        let comments = [
            format!("phonehome finding (live capture): host {host}; vendor {vendor}; product {product}; the finding itself is in findings.json"),
            format!(
                "packets of the flows behind the finding, appended as each flow was judged: the first {} of each flow, at most {} bytes in all; original timestamps and frames as captured (IP fragments as they were on the wire)",
                self.limits.packets_per_flow, self.limits.bytes_per_finding
            ),
        ];
        let refs: Vec<&str> = comments.iter().map(String::as_str).collect();
        let mut buf = Vec::new();
        pcapng::section_header(
            &mut buf,
            &refs,
            concat!("phonehome ", env!("CARGO_PKG_VERSION")),
        );
        std::fs::write(&path, &buf).map_err(io_err(&path))?;
        let i = self.outs.outs.len();
        self.outs
            .outs
            .push(Out::new(path, format!("packets/{name}")));
        self.slot_out.insert(slot, i);
        Ok(i)
    }

    fn write_flow(
        &mut self,
        fr: &FlowRef,
        index: &FlowIndex,
        frames: &[(u64, Vec<Frame>)],
        over: u64,
    ) -> Result<(), EvidenceError> {
        let n: u64 = frames.iter().map(|f| f.1.len() as u64).sum();
        if n == 0 && over == 0 {
            return Ok(());
        }
        let comment = flow_comment(fr);
        for &slot in &fr.findings {
            let oi = self.out_of(slot, index)?;
            let Some(o) = self.outs.outs.get_mut(oi) else {
                continue;
            };
            if over > 0 {
                o.ev.flows_cut += 1;
                o.ev.packets_over_flow_limit += over;
            }
            let mut any = false;
            for (_, group) in frames {
                let size: u64 = group.iter().map(|f| f.data.len() as u64).sum();
                let Some(o) = self.outs.outs.get_mut(oi) else {
                    continue;
                };
                if o.ev.bytes + size > self.limits.bytes_per_finding {
                    o.ev.packets_over_byte_limit += group.len() as u64;
                    continue;
                }
                any = true;
                for (k, f) in group.iter().enumerate() {
                    if group.len() > 1 {
                        let c = format!("{comment}; IP fragment {} of {}", k + 1, group.len());
                        self.outs.write(oi, f, Some(&c))?;
                    } else {
                        self.outs.write(oi, f, Some(&comment))?;
                    }
                }
                self.packets_written += group.len() as u64;
            }
            if any {
                if let Some(o) = self.outs.outs.get_mut(oi) {
                    o.ev.flows_with_packets += 1;
                }
            }
        }
        Ok(())
    }

    /// At the end of the run: one file per finding (created empty for a
    /// finding none of whose packets were kept), files of flows that backed
    /// no finding removed, then findings.json, README.txt and the manifest.
    pub fn finish(
        mut self,
        findings: &[Finding],
        index: &FlowIndex,
        eve: EveTarget,
        source: &str,
        home_country: &str,
    ) -> Result<(BundleSummary, Extracted, LiveEvidenceStats), EvidenceError> {
        let mut per_finding = Vec::with_capacity(findings.len());
        let mut used = HashSet::new();
        for f in findings {
            let slot = index.finding_slot(f.host, &f.vendor, &f.product);
            let oi = match slot {
                Some(s) => Some(self.out_of(s, index)?),
                None => None,
            };
            let mut ev = match oi.and_then(|i| self.outs.outs.get(i)) {
                Some(o) => o.ev.clone(),
                None => {
                    // No flow of it was indexed (bounds): an empty file still
                    // says so, as a replay's does.
                    let name =
                        extract::file_name_of(f.host, &f.vendor, &f.product, &mut self.taken);
                    let path = self.dir.join("packets").join(&name);
                    let mut buf = Vec::new();
                    pcapng::section_header(
                        &mut buf,
                        &[],
                        concat!("phonehome ", env!("CARGO_PKG_VERSION")),
                    );
                    std::fs::write(&path, &buf).map_err(io_err(&path))?;
                    FindingEvidence {
                        file: format!("packets/{name}"),
                        ..Default::default()
                    }
                }
            };
            if let Some(i) = oi {
                used.insert(i);
            }
            let ff = slot.and_then(|s| index.findings.get(s as usize));
            ev.flows = ff.map_or(0, |x| x.flows.len() as u64);
            ev.flows_not_indexed = ff.map_or(0, |x| x.dropped);
            ev.flows_packets_shed = slot
                .and_then(|s| self.shed_per_slot.get(&s))
                .copied()
                .unwrap_or(0);
            per_finding.push(ev);
        }
        self.outs.close_all()?;
        for (i, o) in self.outs.outs.iter().enumerate() {
            if !used.contains(&i) {
                std::fs::remove_file(&o.path).map_err(io_err(&o.path))?;
                self.keeper.stats.files_without_finding += 1;
            }
        }
        let mut stats = self.walk.stats.clone();
        stats.packets_written = self.packets_written;
        let extracted = Extracted {
            findings: per_finding,
            stats,
        };
        let live = self.keeper.stats.clone();
        let summary = bundle::write_bundle(&BundleInput {
            dir: &self.dir,
            inputs: &[],
            eve,
            findings,
            extracted: &extracted,
            limits: self.limits,
            home_country,
            live: Some(bundle::LiveSource {
                source,
                stats: &live,
            }),
        })?;
        Ok((summary, extracted, live))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowMeta;

    fn key(port: u16) -> FlowKey {
        let m = FlowMeta {
            flow_id: 1,
            src: "10.0.0.1".parse().unwrap(),
            dst: "192.0.2.1".parse().unwrap(),
            sport: port,
            dport: 443,
            proto: 6,
            vlan: Default::default(),
            community_id: [0; 20],
            tunnel: None,
            icmp: None,
        };
        super::super::index::key_of(&m)
    }

    fn frame(n: usize) -> Vec<Frame> {
        vec![Frame {
            ts_ns: 1,
            linktype: 1,
            origlen: n as u32,
            data: vec![0; n],
        }]
    }

    #[test]
    fn first_packets_per_flow_then_cut_and_released_for_the_next_flow() {
        let mut k = Keeper::new(2, 1 << 20);
        let a = key(1000);
        assert!(k.keep(a, 0, frame(10)));
        assert!(k.keep(a, 1, frame(10)));
        assert!(!k.keep(a, 2, frame(10)));
        assert!(!k.wants(&a));
        // The flow ended before packet 3; packets 5.. are the next flow's.
        let (mine, over, shed) = k.take(&a, 0, 3, true, true);
        assert_eq!(mine.iter().map(|f| f.0).collect::<Vec<_>>(), [0, 1]);
        assert_eq!((over, shed), (2, false));
        assert!(k.held.is_empty());
        assert_eq!(k.bytes, 0);
        assert!(k.keep(a, 5, frame(10)));
        let (mine, over, _) = k.take(&a, 5, u64::MAX, true, false);
        assert_eq!((mine.len(), over), (1, 0));
        assert_eq!(k.bytes, 0);
    }

    #[test]
    fn an_active_timeout_record_keeps_an_unnamed_flow_and_ends_a_named_one() {
        let mut k = Keeper::new(5, 1 << 20);
        let a = key(1000);
        k.keep(a, 0, frame(10));
        let (mine, _, _) = k.take(&a, 0, 1, false, false);
        assert!(mine.is_empty());
        assert_eq!(k.held[&a].frames.len(), 1);
        let (mine, _, _) = k.take(&a, 0, 2, false, true);
        assert_eq!(mine.len(), 1);
        // Written: later packets of the flow are not kept again.
        assert!(!k.wants(&a));
        assert!(!k.keep(a, 3, frame(10)));
        let (mine, _, _) = k.take(&a, 0, u64::MAX, true, true);
        assert!(mine.is_empty());
        assert!(k.held.is_empty());
    }

    #[test]
    fn the_byte_bound_sheds_the_oldest_flows_and_counts_them() {
        let per = FLOW_OVERHEAD + 100 + 32;
        let mut k = Keeper::new(50, 3 * per);
        for (i, port) in (1000..1005).enumerate() {
            k.keep(key(port), i as u64, frame(100));
        }
        assert!(k.bytes <= 3 * per);
        assert_eq!(k.stats.flows_shed, 2);
        assert_eq!(k.stats.packets_shed, 2);
        // A shed flow's later packets are not taken for its first ones.
        assert!(!k.wants(&key(1000)));
        assert!(!k.keep(key(1000), 9, frame(100)));
        assert_eq!(k.stats.packets_of_shed_flows, 2);
        let (mine, _, shed) = k.take(&key(1000), 0, 10, true, true);
        assert!(mine.is_empty() && shed);
        // Its key is free again for the next flow.
        assert!(k.wants(&key(1000)));
        let (mine, _, shed) = k.take(&key(1004), 4, 10, true, true);
        assert_eq!((mine.len(), shed), (1, false));
    }
}
