//! The evidence pass: after the replay, read the inputs again and copy the
//! packets of every finding's flows into one pcapng per finding.
//!
//! Packets come through the same packet stream as the engine's (same file
//! order, one global index, the same reassembly expired on the same
//! one-second ticks), so a packet is in a flow here exactly when the flow
//! table put it there: same flow key, index inside the flow's range.

use super::frag::{self, FragKey};
use super::index::{FlowIndex, FlowRef};
use super::pcapng;
use super::EvidenceError;
use crate::base::Progress;
use crate::capture::{FileSource, InputFile, PacketSource};
use crate::decode::{self, Batch, DecodeStats, Decoded, Packet, PacketStream, Slot, StreamConfig};
use crate::flow::FlowKey;
use crate::judge::Finding;
use crate::output::proto_name;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

const NS: u64 = 1_000_000_000;
/// Evidence files open at once; others are closed and reopened for appending.
const MAX_OPEN: usize = 64;
/// Fragment frames held while their datagram is incomplete.
const MAX_PENDING_DATAGRAMS: usize = 4096;
const MAX_PENDING_BYTES: usize = 64 << 20;
/// As the engine's defragmenter: a datagram incomplete this long is dropped.
const FRAG_TIMEOUT_NS: u64 = 60 * NS;

/// Bounds of the evidence kept per finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Packets (frames on the wire) kept per flow: the first ones.
    pub packets_per_flow: u32,
    /// Frame bytes kept per finding.
    pub bytes_per_finding: u64,
}

/// What was written for one finding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FindingEvidence {
    /// Path of the pcapng, relative to the bundle directory.
    pub file: String,
    pub packets: u64,
    /// Captured bytes of the frames written.
    pub bytes: u64,
    /// Flows known to back the finding.
    pub flows: u64,
    /// Of those, flows with at least one packet written.
    pub flows_with_packets: u64,
    /// Flows with more packets than the per-flow bound.
    pub flows_cut: u64,
    /// Flows not remembered during the replay (index bounds).
    pub flows_not_indexed: u64,
    pub packets_over_flow_limit: u64,
    pub packets_over_byte_limit: u64,
    /// Live capture: flows whose packets were shed (memory bound) before
    /// they were judged.
    #[serde(skip_serializing_if = "is_zero")]
    pub flows_packets_shed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the pass did, over all findings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExtractStats {
    pub packets_read: u64,
    pub packets_written: u64,
    /// Reassembled datagrams in a finding's flow whose fragments could not be
    /// keyed (inside a tunnel): only the completing fragment was written.
    pub fragments_unkeyed: u64,
    /// Fragment frames not held because the bounds were reached.
    pub fragments_not_held: u64,
}

/// One frame as captured.
#[derive(Clone)]
pub(crate) struct Frame {
    pub(crate) ts_ns: u64,
    pub(crate) linktype: u16,
    pub(crate) origlen: u32,
    pub(crate) data: Vec<u8>,
}

/// An evidence file being written.
pub(crate) struct Out {
    pub(crate) path: PathBuf,
    rel: String,
    /// Link type of each Interface Description written, by interface id.
    interfaces: Vec<u16>,
    file: Option<BufWriter<File>>,
    pub(crate) ev: FindingEvidence,
}

impl Out {
    /// An evidence file already created (its section header written), at
    /// `rel` under the bundle directory.
    pub(crate) fn new(path: PathBuf, rel: String) -> Out {
        Out {
            path,
            ev: FindingEvidence {
                file: rel.clone(),
                ..Default::default()
            },
            rel,
            interfaces: Vec::new(),
            file: None,
        }
    }
}

/// The evidence files, a bounded number of them open at once.
#[derive(Default)]
pub(crate) struct Outs {
    pub(crate) outs: Vec<Out>,
    open: VecDeque<usize>,
    buf: Vec<u8>,
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EvidenceError + '_ {
    move |source| EvidenceError::Write {
        path: path.to_owned(),
        source,
    }
}

impl Outs {
    /// The open writer of evidence file `i`, reopening it if it was closed.
    fn writer(&mut self, i: usize) -> Result<&mut BufWriter<File>, EvidenceError> {
        let closed = self.outs.get(i).is_some_and(|o| o.file.is_none());
        if closed {
            if self.open.len() >= MAX_OPEN {
                if let Some(old) = self.open.pop_front() {
                    if let Some(o) = self.outs.get_mut(old) {
                        if let Some(mut f) = o.file.take() {
                            f.flush().map_err(io_err(&o.path))?;
                        }
                    }
                }
            }
            let Some(o) = self.outs.get_mut(i) else {
                return Err(EvidenceError::Internal("evidence file index"));
            };
            let f = std::fs::OpenOptions::new()
                .append(true)
                .open(&o.path)
                .map_err(io_err(&o.path))?;
            o.file = Some(BufWriter::with_capacity(1 << 16, f));
            self.open.push_back(i);
        }
        self.outs
            .get_mut(i)
            .and_then(|o| o.file.as_mut())
            .ok_or(EvidenceError::Internal("evidence file not open"))
    }

    pub(crate) fn write(
        &mut self,
        i: usize,
        f: &Frame,
        comment: Option<&str>,
    ) -> Result<(), EvidenceError> {
        self.buf.clear();
        let Some(o) = self.outs.get_mut(i) else {
            return Err(EvidenceError::Internal("evidence file index"));
        };
        let if_id = match o.interfaces.iter().position(|&l| l == f.linktype) {
            Some(n) => n,
            None => {
                pcapng::interface(&mut self.buf, f.linktype);
                o.interfaces.push(f.linktype);
                o.interfaces.len() - 1
            }
        };
        pcapng::packet(
            &mut self.buf,
            if_id as u32,
            f.ts_ns,
            &f.data,
            f.origlen,
            comment,
        );
        o.ev.packets += 1;
        o.ev.bytes += f.data.len() as u64;
        let path = o.path.clone();
        let buf = std::mem::take(&mut self.buf);
        let r = self.writer(i)?.write_all(&buf).map_err(io_err(&path));
        self.buf = buf;
        r
    }

    pub(crate) fn close_all(&mut self) -> Result<(), EvidenceError> {
        for o in &mut self.outs {
            if let Some(mut f) = o.file.take() {
                f.flush().map_err(io_err(&o.path))?;
            }
        }
        self.open.clear();
        Ok(())
    }
}

/// A part of a file name: letters, digits, dots and dashes; the rest
/// becomes one underscore. Never empty, never a path.
pub fn sanitize(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let keep = c.is_ascii_alphanumeric() || c == '.' || c == '-';
        if keep {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
        if out.len() >= max {
            break;
        }
    }
    let t = out.trim_matches(|c| c == '_' || c == '.');
    if t.is_empty() {
        "unnamed".to_string()
    } else {
        t.to_string()
    }
}

/// `<host>_<vendor>_<product>.pcapng`, unique within `taken`.
pub fn file_name(f: &Finding, taken: &mut std::collections::HashSet<String>) -> String {
    file_name_of(f.host, &f.vendor, &f.product, taken)
}

/// [`file_name`] from a finding's key.
pub fn file_name_of(
    host: std::net::IpAddr,
    vendor: &str,
    product: &str,
    taken: &mut std::collections::HashSet<String>,
) -> String {
    let host = host.to_string().replace(':', "-");
    let base = format!(
        "{}_{}_{}",
        sanitize(&host, 48),
        sanitize(vendor, 40),
        sanitize(product, 60)
    );
    let mut name = format!("{base}.pcapng");
    let mut n = 2;
    while !taken.insert(name.to_ascii_lowercase()) {
        name = format!("{base}_{n}.pcapng");
        n += 1;
    }
    name
}

/// The per-packet comment naming a flow.
pub(crate) fn flow_comment(fr: &FlowRef) -> String {
    let m = &fr.meta;
    let ep = |ip: std::net::IpAddr, port: u16| match (ip, m.icmp) {
        (_, Some(_)) => ip.to_string(),
        (std::net::IpAddr::V6(_), None) => format!("[{ip}]:{port}"),
        (std::net::IpAddr::V4(_), None) => format!("{ip}:{port}"),
    };
    let vlan = if m.vlan.len > 0 {
        let ids: Vec<String> = m.vlan.as_slice().iter().map(u16::to_string).collect();
        format!(" vlan {}", ids.join(","))
    } else {
        String::new()
    };
    let tunnel = m.tunnel.map_or(String::new(), |t| {
        format!(" in {:?} tunnel {} -> {}", t.kind, t.src, t.dst).to_lowercase()
    });
    let kinds: Vec<&str> = fr.kinds.iter().map(|k| k.as_str()).collect();
    format!(
        "phonehome flow {} (flow_id {}): {} {} -> {}{vlan}{tunnel}; evidence: {}",
        fr.community_id,
        fr.flow_id,
        proto_name(m.proto),
        ep(m.src, m.sport),
        ep(m.dst, m.dport),
        kinds.join(", ")
    )
}

/// The section comments of a finding's file.
fn section_comments(f: &Finding, flows: usize, limits: Limits) -> Vec<String> {
    vec![
        format!("phonehome finding: {}", f.reason),
        format!(
            "host {}; vendor {}; product {}; vendor country {}; finding {}; severity {}; confidence {}",
            f.host,
            f.vendor,
            f.product,
            f.vendor_country.join("/"),
            f.kind.as_str(),
            f.severity.as_str(),
            f.confidence.as_str()
        ),
        format!(
            "packets of the {flows} flow(s) behind the finding: the first {} of each flow, at most {} bytes in all; original timestamps and frames as captured (IP fragments as they were on the wire)",
            limits.packets_per_flow, limits.bytes_per_finding
        ),
    ]
}

/// Fragment frames waiting for their datagram to complete.
#[derive(Default)]
struct Pending {
    map: HashMap<FragKey, (u64, Vec<Frame>)>,
    bytes: usize,
}

impl Pending {
    fn hold(&mut self, k: FragKey, f: Frame, stats: &mut ExtractStats) {
        let full = self.bytes + f.data.len() > MAX_PENDING_BYTES
            || (!self.map.contains_key(&k) && self.map.len() >= MAX_PENDING_DATAGRAMS);
        if full {
            stats.fragments_not_held += 1;
            return;
        }
        self.bytes += f.data.len();
        let e = self.map.entry(k).or_insert_with(|| (f.ts_ns, Vec::new()));
        e.1.push(f);
    }

    fn take(&mut self, k: &FragKey) -> Option<Vec<Frame>> {
        let (_, frames) = self.map.remove(k)?;
        self.bytes -= frames.iter().map(|f| f.data.len()).sum::<usize>();
        Some(frames)
    }

    fn expire(&mut self, now: u64) {
        let mut freed = 0;
        self.map.retain(|_, (first, frames)| {
            let keep = first.saturating_add(FRAG_TIMEOUT_NS) > now;
            if !keep {
                freed += frames.iter().map(|f| f.data.len()).sum::<usize>();
            }
            keep
        });
        self.bytes -= freed;
    }
}

/// Per-flow state of the pass.
struct FlowState {
    written: u32,
    cut: bool,
    comment: String,
}

struct Pass<'a> {
    index: &'a FlowIndex,
    /// Flow key → flows (indices into `index.flows`) with that key.
    wanted: rustc_hash::FxHashMap<FlowKey, Vec<u32>>,
    /// Finding slot in the index → evidence file.
    slot_out: HashMap<u32, usize>,
    flows: Vec<FlowState>,
    limits: Limits,
    outs: Outs,
    stats: ExtractStats,
}

impl Pass<'_> {
    fn packet_frames(
        &mut self,
        p: &Packet<'_>,
        idx: u64,
        frames: &[Frame],
    ) -> Result<(), EvidenceError> {
        self.key(FlowKey::of(p).0, idx, frames)?;
        if let Some(t) = &p.tunnel {
            // The tunnel's own flow, as the worker tracks it.
            self.key(FlowKey::of(&decode::outer_packet(t)).0, idx, frames)?;
        }
        Ok(())
    }

    fn key(&mut self, key: FlowKey, idx: u64, frames: &[Frame]) -> Result<(), EvidenceError> {
        let Some(list) = self.wanted.get(&key) else {
            return Ok(());
        };
        let index = self.index;
        let hits: Vec<u32> = list
            .iter()
            .copied()
            .filter(|&i| index.flows.get(i as usize).is_some_and(|f| f.covers(idx)))
            .collect();
        for fi in hits {
            self.emit(fi, frames)?;
        }
        Ok(())
    }

    fn emit(&mut self, fi: u32, frames: &[Frame]) -> Result<(), EvidenceError> {
        let Some(fr) = self.index.flows.get(fi as usize) else {
            return Ok(());
        };
        let Some(st) = self.flows.get_mut(fi as usize) else {
            return Ok(());
        };
        let n = frames.len() as u32;
        // The first packets only: once a flow is cut, nothing later of it.
        let over = st.cut || st.written.saturating_add(n) > self.limits.packets_per_flow;
        if over {
            let first_cut = !st.cut;
            st.cut = true;
            for slot in &fr.findings {
                if let Some(o) = self
                    .slot_out
                    .get(slot)
                    .and_then(|&i| self.outs.outs.get_mut(i))
                {
                    o.ev.packets_over_flow_limit += u64::from(n);
                    if first_cut {
                        o.ev.flows_cut += 1;
                    }
                }
            }
            return Ok(());
        }
        let first_packet = st.written == 0;
        st.written += n;
        let size: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
        let comment = st.comment.clone();
        for slot in &fr.findings {
            let Some(&oi) = self.slot_out.get(slot) else {
                continue;
            };
            let Some(o) = self.outs.outs.get_mut(oi) else {
                continue;
            };
            if o.ev.bytes + size > self.limits.bytes_per_finding {
                o.ev.packets_over_byte_limit += u64::from(n);
                continue;
            }
            if first_packet {
                o.ev.flows_with_packets += 1;
            }
            for (k, f) in frames.iter().enumerate() {
                if frames.len() > 1 {
                    let c = format!("{comment}; IP fragment {} of {}", k + 1, frames.len());
                    self.outs.write(oi, f, Some(&c))?;
                } else {
                    self.outs.write(oi, f, Some(&comment))?;
                }
            }
            self.stats.packets_written += u64::from(n);
        }
        Ok(())
    }
}

/// The result of the evidence pass: one entry per finding, in the order given.
#[derive(Debug)]
pub struct Extracted {
    pub findings: Vec<FindingEvidence>,
    pub stats: ExtractStats,
}

/// Writes `dir/packets/<name>.pcapng` for every finding from the replay's
/// inputs (in replay order). `expected_packets` is the replay's packet count:
/// a different count means the inputs changed since.
pub fn extract(
    inputs: &[InputFile],
    index: &FlowIndex,
    findings: &[Finding],
    dir: &Path,
    limits: Limits,
    expected_packets: u64,
    progress: &Progress,
) -> Result<Extracted, EvidenceError> {
    let pkt_dir = dir.join("packets");
    std::fs::create_dir_all(&pkt_dir).map_err(io_err(&pkt_dir))?;
    let mut taken = std::collections::HashSet::new();
    let mut outs = Outs {
        outs: Vec::new(),
        open: VecDeque::new(),
        buf: Vec::new(),
    };
    let mut slot_out = HashMap::new();
    for f in findings {
        let name = file_name(f, &mut taken);
        let path = pkt_dir.join(&name);
        let ff = index.finding(f.host, &f.vendor, &f.product);
        let flows = ff.map_or(0, |x| x.flows.len());
        let mut buf = Vec::new();
        let comments = section_comments(f, flows, limits);
        let refs: Vec<&str> = comments.iter().map(String::as_str).collect();
        pcapng::section_header(
            &mut buf,
            &refs,
            concat!("phonehome ", env!("CARGO_PKG_VERSION")),
        );
        std::fs::write(&path, &buf).map_err(io_err(&path))?;
        if let Some(slot) = index
            .finding_slot(f.host, &f.vendor, &f.product)
            .filter(|_| ff.is_some())
        {
            slot_out.insert(slot, outs.outs.len());
        }
        outs.outs.push(Out {
            path,
            rel: format!("packets/{name}"),
            interfaces: Vec::new(),
            file: None,
            ev: FindingEvidence {
                file: format!("packets/{name}"),
                flows: flows as u64,
                flows_not_indexed: ff.map_or(0, |x| x.dropped),
                ..Default::default()
            },
        });
    }
    let mut wanted: rustc_hash::FxHashMap<FlowKey, Vec<u32>> = Default::default();
    for (i, fr) in index.flows.iter().enumerate() {
        if fr.first_pkt <= fr.end_pkt && fr.first_pkt != u64::MAX {
            wanted.entry(fr.key).or_default().push(i as u32);
        }
    }
    let flows = index
        .flows
        .iter()
        .map(|fr| FlowState {
            written: 0,
            cut: false,
            comment: flow_comment(fr),
        })
        .collect();
    let mut pass = Pass {
        index,
        wanted,
        slot_out,
        flows,
        limits,
        outs,
        stats: ExtractStats::default(),
    };
    read_inputs(inputs, &mut pass, progress)?;
    pass.outs.close_all()?;
    if pass.stats.packets_read != expected_packets {
        return Err(EvidenceError::InputsChanged {
            replayed: expected_packets,
            read: pass.stats.packets_read,
        });
    }
    let findings = pass
        .outs
        .outs
        .into_iter()
        .map(|o| {
            debug_assert_eq!(o.rel, o.ev.file);
            o.ev
        })
        .collect();
    Ok(Extracted {
        findings,
        stats: pass.stats,
    })
}

/// Reads the inputs through the same packet stream as the engine (see the
/// module docs).
fn read_inputs(
    inputs: &[InputFile],
    pass: &mut Pass<'_>,
    progress: &Progress,
) -> Result<(), EvidenceError> {
    let mut walk = Walk::default();
    let mut stream = PacketStream::new(FileSource::new(inputs.to_vec()), StreamConfig::default());
    while let Some(batch) = stream.next_batch() {
        walk.batch(&batch, pass)?;
        progress.packets.store(stream.packets(), Ordering::Relaxed);
        progress
            .disk_bytes
            .store(stream.source().disk_bytes(), Ordering::Relaxed);
    }
    pass.stats.packets_read = walk.stats.packets_read;
    pass.stats.fragments_unkeyed = walk.stats.fragments_unkeyed;
    pass.stats.fragments_not_held = walk.stats.fragments_not_held;
    Ok(())
}

/// What takes the packets of a walk over the packet stream: the replay's
/// evidence pass (flows known in advance) or a live sensor's keeper (every
/// flow's first packets, until it is judged).
pub(crate) trait Visitor {
    /// Nothing is wanted at all (the walk only counts packets).
    fn idle(&self) -> bool {
        false
    }
    /// Whether a packet of the flow of `key` is wanted (called before its
    /// frame is copied).
    fn wants(&mut self, key: &FlowKey) -> bool;
    /// A wanted packet (a reassembled datagram: the fragment frames that
    /// carried it) at global index `idx`. Returns whether it was kept.
    fn packet(
        &mut self,
        p: &Packet<'_>,
        idx: u64,
        frames: Vec<Frame>,
    ) -> Result<bool, EvidenceError>;
}

/// A walk over the batches of a packet stream, as the engine sees them:
/// one global index, IP fragments held until their datagram completes and
/// expired on the same ticks.
#[derive(Default)]
pub(crate) struct Walk {
    dstats: DecodeStats,
    pending: Pending,
    /// Packets read and fragments (the visitor counts what it writes).
    pub(crate) stats: ExtractStats,
}

impl Walk {
    /// Bytes of fragment frames held.
    pub(crate) fn held_bytes(&self) -> usize {
        self.pending.bytes
    }

    pub(crate) fn batch(
        &mut self,
        batch: &Batch,
        v: &mut impl Visitor,
    ) -> Result<(), EvidenceError> {
        let pending = &mut self.pending;
        let dstats = &mut self.dstats;
        let stats = &mut self.stats;
        let mut ticks = batch.ticks.iter().peekable();
        for (pos, &slot) in batch.slots.iter().enumerate() {
            while let Some(&&(tpos, clock)) = ticks.peek() {
                if tpos as usize > pos {
                    break;
                }
                pending.expire(clock);
                ticks.next();
            }
            let i = batch.base + pos as u64;
            stats.packets_read += 1;
            if v.idle() {
                continue;
            }
            let Some((meta, bytes)) = batch.captured(pos) else {
                continue;
            };
            let frame = || Frame {
                ts_ns: meta.ts_ns,
                linktype: meta.linktype,
                origlen: meta.origlen,
                data: bytes.to_vec(),
            };
            match slot {
                Slot::Raw { .. } => {
                    let Decoded::Packet(p) = decode::decode(meta.linktype, bytes, dstats) else {
                        continue;
                    };
                    // Borrowed frame: copied only if it is wanted.
                    let key = FlowKey::of(&p).0;
                    let outer = p
                        .tunnel
                        .as_ref()
                        .map(|t| FlowKey::of(&decode::outer_packet(t)).0);
                    let inner_hit = v.wants(&key);
                    let outer_hit = outer.is_some_and(|k| v.wants(&k));
                    if inner_hit || outer_hit {
                        v.packet(&p, i, vec![frame()])?;
                    }
                }
                Slot::Held => {
                    if let Some(k) = frag::key(meta.linktype, bytes) {
                        pending.hold(k, frame(), stats);
                    }
                }
                Slot::Whole { .. } => {
                    let key = frag::key(meta.linktype, bytes);
                    if let Some(k) = key {
                        pending.hold(k, frame(), stats);
                    }
                    let Some(whole) = batch.item(pos, slot) else {
                        continue;
                    };
                    let frames = match key.and_then(|k| pending.take(&k)) {
                        Some(fr) if !fr.is_empty() => fr,
                        _ => vec![frame()],
                    };
                    if let Decoded::Packet(p) = decode::decode(meta.linktype, whole.bytes, dstats) {
                        let kept = v.packet(&p, i, frames)?;
                        if key.is_none() && kept {
                            stats.fragments_unkeyed += 1;
                        }
                    }
                }
            }
        }
        for &(_, clock) in ticks {
            pending.expire(clock);
        }
        Ok(())
    }
}

impl Visitor for Pass<'_> {
    fn idle(&self) -> bool {
        self.wanted.is_empty()
    }

    fn wants(&mut self, key: &FlowKey) -> bool {
        self.wanted.contains_key(key)
    }

    fn packet(
        &mut self,
        p: &Packet<'_>,
        idx: u64,
        frames: Vec<Frame>,
    ) -> Result<bool, EvidenceError> {
        let before = self.stats.packets_written;
        self.packet_frames(p, idx, &frames)?;
        Ok(self.stats.packets_written > before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_file_names() {
        assert_eq!(sanitize("PC Manager (电脑管家)", 60), "PC_Manager");
        assert_eq!(sanitize("../../etc/passwd", 60), "etc_passwd");
        assert_eq!(sanitize("<script>", 60), "script");
        assert_eq!(sanitize("电脑管家", 60), "unnamed");
        assert_eq!(
            sanitize("Sophos Central / Intercept X", 60),
            "Sophos_Central_Intercept_X"
        );
        assert_eq!(sanitize(&"a".repeat(100), 10).len(), 10);
        assert_eq!(sanitize("fd00--142", 48), "fd00--142");
    }

    #[test]
    fn pending_fragments_are_bounded_and_expire() {
        let k = frag::key(
            crate::capture::linktype::RAW,
            &[
                0x45, 0, 0, 28, 0, 1, 0x20, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ],
        )
        .unwrap();
        let mut p = Pending::default();
        let mut st = ExtractStats::default();
        let fr = |ts, n| Frame {
            ts_ns: ts,
            linktype: 101,
            origlen: n as u32,
            data: vec![0; n],
        };
        p.hold(k, fr(NS, 100), &mut st);
        p.hold(k, fr(2 * NS, MAX_PENDING_BYTES), &mut st);
        assert_eq!((p.bytes, st.fragments_not_held), (100, 1));
        p.expire(NS + FRAG_TIMEOUT_NS - 1);
        assert_eq!(p.map.len(), 1);
        p.expire(NS + FRAG_TIMEOUT_NS);
        assert_eq!((p.map.len(), p.bytes), (0, 0));
        p.hold(k, fr(NS, 10), &mut st);
        p.hold(k, fr(NS, 20), &mut st);
        let got = p.take(&k).unwrap();
        assert_eq!(
            got.iter().map(|f| f.data.len()).collect::<Vec<_>>(),
            [10, 20]
        );
        assert_eq!(p.bytes, 0);
    }
}
