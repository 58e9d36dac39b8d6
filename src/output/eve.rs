//! EVE JSON: one event per line, in Suricata's shape.
//!
//! Common fields come first in a fixed order (`timestamp`, `flow_id`,
//! `pcap_cnt`, `pcap_filename`, `event_type`, addresses, `proto`,
//! `app_proto`, `community_id`, `vlan`, `tunnel`), then the event's object.
//! phonehome's additions to Suricata's schema live in `phonehome` objects and
//! are listed in the README; `tests/schema/eve-extensions.json` holds them.

use super::proto_name;
use crate::base::json::Obj;
use crate::dissect::{dns, http, quic, tls};
use crate::dissect::{AppBody, AppRecord, Event, EventKind};
use crate::flow::tcp;
use crate::flow::{FlowAnomalies, FlowMeta, FlowNames, FlowRecord};
use crate::judge::policy::FindingKind;
use crate::judge::Finding;
use crate::output::finding::push_doc;
use crate::output::RunStats;
use crate::resolve::geoip::GeoAnswer;
use crate::resolve::Attribution;
use std::io::Write;

/// Bytes of whole lines gathered before they go to the writer in one call:
/// as much as the `BufWriter`s behind it hold, which then pass it straight
/// through (callgrind, bench capture: a lock and a buffered write per line
/// cost the main thread 5.1 M instructions per 200k packets).
const BATCH: usize = 1 << 16;

/// Writes EVE lines to any writer; names input files as given.
///
/// Lines are gathered and handed to the writer whole, [`BATCH`] bytes or
/// more at a time, and at [`EveWriter::flush`] (or when dropped); the
/// writer never sees part of a line.
pub struct EveWriter<W: Write> {
    /// None only once [`EveWriter::into_inner`] took it.
    out: Option<W>,
    /// Whole lines not yet written.
    pending: Vec<u8>,
    /// Where the last line begins in `pending` (it ends at its end).
    last: usize,
    files: Vec<String>,
}

impl<W: Write> EveWriter<W> {
    pub fn new(out: W, files: Vec<String>) -> Self {
        EveWriter {
            out: Some(out),
            pending: Vec::with_capacity(BATCH + 8192),
            last: 0,
            files,
        }
    }

    fn file(&self, i: u32) -> &str {
        self.files.get(i as usize).map_or("", String::as_str)
    }

    /// Starts a line: the gathered lines go out first once they reach
    /// [`BATCH`] bytes.
    fn begin(&mut self) -> std::io::Result<()> {
        let r = if self.pending.len() >= BATCH {
            self.write_pending()
        } else {
            Ok(())
        };
        self.last = self.pending.len();
        r
    }

    /// Hands the gathered lines to the writer.
    fn write_pending(&mut self) -> std::io::Result<()> {
        let r = match &mut self.out {
            Some(out) if !self.pending.is_empty() => out.write_all(&self.pending),
            _ => Ok(()),
        };
        // Kept or not, they are done with: a failed write ends the run.
        self.pending.clear();
        self.last = 0;
        r
    }

    /// Takes back a line begun but not written.
    fn unbegin(&mut self) {
        self.pending.truncate(self.last);
    }

    pub fn event(&mut self, ev: &Event, ext: &Ext<'_>) -> std::io::Result<()> {
        self.begin()?;
        let name = |i: u32| self.files.get(i as usize).map_or("", String::as_str);
        let file = match &ev.kind {
            EventKind::Flow(f) => f.file,
            EventKind::App(a) => a.file,
        };
        if !event_head(&mut self.pending, ev, name(file)) {
            self.unbegin();
            return Ok(());
        }
        event_tail(&mut self.pending, ev, ext);
        self.pending.push(b'\n');
        Ok(())
    }

    /// Writes an event whose head [`event_head`] wrote elsewhere (a
    /// worker): `head` (empty: nothing to write), then the tail from `ext`.
    pub fn event_with_head(
        &mut self,
        ev: &Event,
        head: &[u8],
        ext: &Ext<'_>,
    ) -> std::io::Result<()> {
        self.begin()?;
        if head.is_empty() {
            return Ok(());
        }
        self.pending.extend_from_slice(head);
        event_tail(&mut self.pending, ev, ext);
        self.pending.push(b'\n');
        Ok(())
    }

    /// Writes a line a worker made whole ([`event_tail_open`]; empty: not
    /// written), with `matched` put in where `mark` says. Like every line,
    /// it is [`EveWriter::last_line`] until the next (what the sinks take).
    pub fn write_prepared(
        &mut self,
        line: &[u8],
        mark: TailMark,
        matched: Option<&Attribution<'_>>,
    ) -> std::io::Result<()> {
        self.begin()?;
        let Some(a) = matched else {
            self.pending.extend_from_slice(line);
            return Ok(());
        };
        if line.is_empty() {
            return Ok(());
        }
        let (first, rest) = line.split_at((mark.at as usize).min(line.len()));
        self.pending.extend_from_slice(first);
        splice_match(&mut self.pending, mark, a);
        self.pending.extend_from_slice(rest);
        Ok(())
    }

    /// An `alert` event for a finding.
    pub fn alert(&mut self, f: &Finding) -> std::io::Result<()> {
        self.begin()?;
        alert_event(&mut self.pending, f);
        self.pending.push(b'\n');
        Ok(())
    }

    /// The final `stats` event, stamped with the capture's last packet time.
    pub fn stats(&mut self, st: &RunStats) -> std::io::Result<()> {
        self.begin()?;
        stats_event(&mut self.pending, st);
        self.pending.push(b'\n');
        Ok(())
    }

    /// Writes the gathered lines and flushes the writer.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.write_pending()?;
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }

    /// The writer, after the gathered lines were written to it (not flushed).
    pub fn into_inner(mut self) -> std::io::Result<W> {
        self.write_pending()?;
        // `out` is taken only here, which consumes the writer: always there.
        self.out
            .take()
            .ok_or_else(|| std::io::Error::other("EVE writer already taken"))
    }

    /// The line the last call wrote (with its newline; empty when nothing
    /// was written, e.g. an empty flow record): what the sinks are fed.
    pub fn last_line(&self) -> &[u8] {
        self.pending.get(self.last..).unwrap_or(&[])
    }

    /// Writes a line made elsewhere (a stats event or alert update that the
    /// output stage extended); it becomes [`EveWriter::last_line`].
    pub fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.begin()?;
        self.pending.extend_from_slice(line);
        if self.pending.last() != Some(&b'\n') {
            self.pending.push(b'\n');
        }
        Ok(())
    }

    /// The name written as `pcap_filename` for input `i`.
    pub fn file_name(&self, i: u32) -> &str {
        self.file(i)
    }
}

impl<W: Write> Drop for EveWriter<W> {
    /// What was gathered is written, as a `BufWriter` would.
    fn drop(&mut self) {
        let _ = self.write_pending();
    }
}

/// Writes the common header fields of an event about flow `m`.
pub fn header(
    o: &mut Obj<'_>,
    ts_ns: u64,
    m: &FlowMeta,
    pcap_cnt: Option<u64>,
    pcap_filename: &str,
    event_type: &str,
    app_proto: Option<&str>,
) {
    o.ts("timestamp", ts_ns).u64("flow_id", m.flow_id);
    if let Some(c) = pcap_cnt {
        o.u64("pcap_cnt", c);
    }
    // Program-owned names (event type, protocol) need no escaping scan.
    o.str("pcap_filename", pcap_filename)
        .plain("event_type", event_type.as_bytes())
        .suricata_ip("src_ip", m.src);
    if m.icmp.is_none() {
        o.u64("src_port", u64::from(m.sport));
    }
    o.suricata_ip("dest_ip", m.dst);
    if m.icmp.is_none() {
        o.u64("dest_port", u64::from(m.dport));
    }
    o.plain("proto", proto_name(m.proto).as_bytes());
    if let Some((t, c)) = m.icmp {
        o.u64("icmp_type", u64::from(t))
            .u64("icmp_code", u64::from(c));
    }
    if let Some(a) = app_proto {
        o.plain("app_proto", a.as_bytes());
    }
    o.raw("community_id", |out| {
        // `"1:<base64>"` in one fixed-size copy (as community_id::encode).
        let mut text = [b'"'; 32];
        let [_, one, colon, body @ .., _] = &mut text;
        (*one, *colon) = (b'1', b':');
        *body = crate::base::json::base64_20(&m.community_id);
        out.extend_from_slice(&text);
    });
    if m.vlan.len > 0 {
        o.u16_list("vlan", m.vlan.as_slice());
    }
    if let Some(t) = &m.tunnel {
        o.obj("tunnel", |t2| {
            t2.suricata_ip("src_ip", t.src)
                .u64("src_port", u64::from(t.sport))
                .suricata_ip("dest_ip", t.dst)
                .u64("dest_port", u64::from(t.dport))
                .plain("proto", proto_name(t.proto).as_bytes())
                .u64("depth", u64::from(t.depth));
        });
    }
}

fn flags_obj(o: &mut Obj<'_>, f: u8) {
    for (bit, name) in [
        (tcp::SYN, "syn"),
        (tcp::FIN, "fin"),
        (tcp::RST, "rst"),
        (tcp::PSH, "psh"),
        (tcp::ACK, "ack"),
        (tcp::URG, "urg"),
        (tcp::ECE, "ecn"),
        (tcp::CWR, "cwr"),
    ] {
        if f & bit != 0 {
            o.bool(name, true);
        }
    }
}

/// Two lowercase hex digits (`format!("{f:02x}")`, without the allocation).
fn hex2(f: u8) -> [u8; 2] {
    crate::base::json::hex_pair(f)
}

/// What the resolve stage adds to an event: the destination's country and AS,
/// and the catalogued endpoint it matched (phonehome's extension).
#[derive(Clone, Copy, Default)]
pub struct Ext<'a> {
    pub dest: Option<&'a GeoAnswer>,
    pub matched: Option<&'a Attribution<'a>>,
}

/// The `phonehome` object of an event, when there is anything to say.
fn write_ext(
    o: &mut Obj<'_>,
    ech: bool,
    body: Option<&AppBody>,
    names: Option<&FlowNames>,
    flow_anomalies: FlowAnomalies,
    ext: &Ext<'_>,
) {
    let mut anomalies = !flow_anomalies.is_empty();
    if let Some(b) = body {
        for_each_anomaly(b, &mut |_, _, _| anomalies = true);
    }
    let dest = ext
        .dest
        .filter(|g| g.country.is_some() || g.asn.is_some() || g.internal.is_some());
    let names = names.filter(|n| **n != FlowNames::default());
    if !ech && !anomalies && dest.is_none() && ext.matched.is_none() && names.is_none() {
        return;
    }
    o.obj("phonehome", |p| {
        if ech {
            p.bool("ech", true);
        }
        if anomalies {
            p.arr("anomalies", |l| {
                for name in flow_anomalies.names() {
                    l.str(name);
                }
                let Some(b) = body else {
                    return;
                };
                for_each_anomaly(b, &mut |prefix, name, upper| {
                    l.str_with(|out| {
                        out.extend_from_slice(prefix.as_bytes());
                        if upper {
                            out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
                        } else {
                            out.extend_from_slice(name.as_bytes());
                        }
                    });
                });
            });
        }
        if let Some(g) = dest {
            p.obj("dest", |d| geo_fields(d, g));
        }
        if let Some(a) = ext.matched {
            write_match(p, a);
        }
        if let Some(n) = names {
            write_names(p, n);
        }
    });
}

/// The `match` member of the `phonehome` object.
fn write_match(p: &mut Obj<'_>, a: &Attribution<'_>) {
    p.obj("match", |m| {
        m.str("vendor", a.endpoint.vendor)
            .str("product", a.endpoint.product)
            .value("vendor_country", a.endpoint.jurisdiction)
            .str("evidence", a.kind.as_str())
            .str("name", &a.value)
            .str("pattern", a.endpoint.pattern)
            .str("purpose", a.endpoint.purpose.as_str())
            .str("tier", a.endpoint.tier.as_str());
    });
}

/// The `names` member of the `phonehome` object.
fn write_names(p: &mut Obj<'_>, n: &FlowNames) {
    p.obj("names", |m| {
        if let Some(v) = &n.sni {
            m.str("sni", v);
        }
        if let Some(v) = &n.quic_sni {
            m.str("quic_sni", v);
        }
        if let Some(v) = &n.http_host {
            m.str("http_host", v);
        }
        if let Some((h, port)) = &n.connect_target {
            m.str("connect_target", &format!("{h}:{port}"));
        }
        if !n.cert_names.is_empty() {
            m.value("cert_names", &n.cert_names);
        }
        if n.ech {
            m.bool("ech", true);
        }
        if let Some(v) = &n.ja4 {
            m.str("ja4", v);
        }
    });
}

fn geo_fields(d: &mut Obj<'_>, g: &GeoAnswer) {
    if let Some(c) = &g.country {
        d.str("country", c);
    }
    if let Some(n) = g.asn {
        d.u64("asn", u64::from(n));
    }
    if let Some(org) = &g.as_org {
        d.str("as_org", org);
    }
    if let Some(k) = g.internal {
        d.plain("internal", k.as_str().as_bytes());
    }
}

/// A `flow` event; its timestamp is the flow's start, as Suricata's.
pub fn flow_event(buf: &mut Vec<u8>, f: &FlowRecord, pcap_filename: &str, ext: &Ext<'_>) {
    flow_head(buf, f, pcap_filename);
    let mut o = Obj::resume(buf);
    write_ext(&mut o, false, None, f.names.as_deref(), f.anomalies, ext);
    o.end();
}

/// The head of an EVE event: everything but the `phonehome` object and the
/// closing brace, which [`event_tail`] adds. The head depends only on the
/// event, so workers write it in parallel; the tail needs the resolve stage.
/// Returns false (and writes nothing) for an event that is not written (an
/// empty flow record).
pub fn event_head(buf: &mut Vec<u8>, ev: &Event, pcap_filename: &str) -> bool {
    match &ev.kind {
        EventKind::Flow(f) => {
            if f.empty {
                return false;
            }
            flow_head(buf, f, pcap_filename);
        }
        // Host identity messages feed the inventory only.
        EventKind::App(a) if matches!(a.body, AppBody::HostId(_)) => return false,
        EventKind::App(a) => app_head(buf, a, pcap_filename),
    }
    true
}

/// Closes an event that [`event_head`] opened: the `phonehome` object from
/// what the resolve stage found, and the closing brace.
pub fn event_tail(buf: &mut Vec<u8>, ev: &Event, ext: &Ext<'_>) {
    let mut o = Obj::resume(buf);
    match &ev.kind {
        EventKind::Flow(f) => write_ext(&mut o, false, None, f.names.as_deref(), f.anomalies, ext),
        EventKind::App(a) => write_ext(
            &mut o,
            app_ech(a),
            Some(&a.body),
            None,
            FlowAnomalies::empty(),
            ext,
        ),
    }
    o.end();
}

/// Where an event's `match` member goes in a line written without it by
/// [`event_tail_open`] (offsets from the line's start).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TailMark {
    /// Where the tail starts (the head's length).
    pub head: u32,
    /// Where `match` goes.
    pub at: u32,
    /// The line has a `phonehome` object (else `match` brings one).
    pub open: bool,
    /// Members of the object come before `match` (ech, anomalies, dest).
    pub before: bool,
    /// A member comes after it (names).
    pub after: bool,
}

/// [`event_tail`] without `match` (ext.matched is ignored), for a worker:
/// the line is complete, and [`splice_match`] puts a match into it where
/// the mark says, giving the bytes `event_tail` writes with it. `line_start`
/// is where the event's line starts in `buf`.
pub fn event_tail_open(
    buf: &mut Vec<u8>,
    line_start: usize,
    ev: &Event,
    ext: &Ext<'_>,
) -> TailMark {
    let (ech, body, names, flow_anomalies) = match &ev.kind {
        EventKind::Flow(f) => (false, None, f.names.as_deref(), f.anomalies),
        EventKind::App(a) => (app_ech(a), Some(&a.body), None, FlowAnomalies::empty()),
    };
    let offset =
        |b: &Vec<u8>| u32::try_from(b.len().saturating_sub(line_start)).unwrap_or(u32::MAX);
    let head = offset(buf);
    let names = names.filter(|n| **n != FlowNames::default());
    let pre = Ext {
        dest: ext.dest,
        matched: None,
    };
    let mut o = Obj::resume(buf);
    write_ext(&mut o, ech, body, None, flow_anomalies, &pre);
    let opened = buf.len() > line_start + head as usize;
    let mark = if !opened && names.is_none() {
        TailMark {
            head,
            at: head,
            ..TailMark::default()
        }
    } else {
        if opened {
            // Reopen the object for the names after the match's place.
            buf.pop();
        } else {
            Obj::resume(buf).obj("phonehome", |_| {});
            buf.pop();
        }
        let before = buf.last() != Some(&b'{');
        let at = offset(buf);
        match names {
            Some(n) if before => {
                let mut o = Obj::resume(buf);
                write_names(&mut o, n);
                o.end();
            }
            Some(n) => {
                buf.pop();
                let mut o = Obj::new(buf);
                write_names(&mut o, n);
                o.end();
            }
            None => buf.push(b'}'),
        }
        TailMark {
            head,
            at,
            open: true,
            before,
            after: names.is_some(),
        }
    };
    buf.push(b'}');
    mark
}

/// Appends to `out` the bytes that put match `a` into a line at `mark.at`
/// (see [`event_tail_open`]).
pub fn splice_match(out: &mut Vec<u8>, mark: TailMark, a: &Attribution<'_>) {
    if !mark.open {
        Obj::resume(out).obj("phonehome", |p| write_match(p, a));
        return;
    }
    let start = out.len();
    write_match(&mut Obj::resume(out), a);
    if !mark.before {
        // Obj::resume wrote a separating comma the object's first member has none of.
        out.remove(start);
    }
    if mark.after && !mark.before {
        // What follows was written as the first member, without a comma.
        out.push(b',');
    }
}

fn flow_head(buf: &mut Vec<u8>, f: &FlowRecord, pcap_filename: &str) {
    let mut o = Obj::new(buf);
    header(
        &mut o,
        f.start_ns,
        &f.meta,
        None,
        pcap_filename,
        "flow",
        f.app_proto,
    );
    o.obj("flow", |fl| {
        fl.u64("pkts_toserver", f.pkts_toserver)
            .u64("pkts_toclient", f.pkts_toclient)
            .u64("bytes_toserver", f.bytes_toserver)
            .u64("bytes_toclient", f.bytes_toclient)
            .ts("start", f.start_ns)
            .ts("end", f.end_ns)
            .u64("age", f.end_ns.saturating_sub(f.start_ns) / 1_000_000_000)
            .plain("state", f.state.as_str().as_bytes())
            .plain("reason", f.reason.as_str().as_bytes())
            .bool("alerted", false);
    });
    if let Some(t) = &f.tcp {
        o.obj("tcp", |tc| {
            tc.plain("tcp_flags", &hex2(t.flags_ts | t.flags_tc))
                .plain("tcp_flags_ts", &hex2(t.flags_ts))
                .plain("tcp_flags_tc", &hex2(t.flags_tc));
            flags_obj(tc, t.flags_ts | t.flags_tc);
            tc.plain("state", t.state.as_bytes());
        });
    }
}

/// An application event (`dns`/`mdns`/`llmnr`, `tls`, `quic`, `http`): the
/// common header, Suricata's object for the protocol, and phonehome's
/// additions (anomaly flags, ECH) in a `phonehome` object.
///
/// Everything is written straight into `buf`, in the key order and with the
/// bytes the dissectors' `to_eve` objects serialize to.
pub fn app_event(buf: &mut Vec<u8>, a: &AppRecord, pcap_filename: &str, ext: &Ext<'_>) {
    app_head(buf, a, pcap_filename);
    let mut o = Obj::resume(buf);
    write_ext(
        &mut o,
        app_ech(a),
        Some(&a.body),
        None,
        FlowAnomalies::empty(),
        ext,
    );
    o.end();
}

/// Whether the event's client hello offered ECH.
fn app_ech(a: &AppRecord) -> bool {
    let ch = match &a.body {
        AppBody::Tls(t) => t.client_hello.as_ref(),
        AppBody::Quic(q) => q.client_hello.as_ref(),
        AppBody::Dns(_) | AppBody::Http(_) | AppBody::HostId(_) => None,
    };
    ch.is_some_and(|ch| ch.ech)
}

fn app_head(buf: &mut Vec<u8>, a: &AppRecord, pcap_filename: &str) {
    let event_type = match &a.body {
        AppBody::Dns(d) => d.flavor.event_type(),
        AppBody::Tls(_) => "tls",
        AppBody::Quic(_) => "quic",
        AppBody::Http(_) => "http",
        // Never written: event_head refuses host identity messages.
        AppBody::HostId(_) => return,
    };
    let packet_side;
    let meta = if from_server(a) {
        packet_side = reversed(&a.meta);
        &packet_side
    } else {
        &a.meta
    };
    let mut o = Obj::new(buf);
    header(
        &mut o,
        a.ts_ns,
        meta,
        a.pcap_cnt,
        pcap_filename,
        event_type,
        None,
    );
    o.obj(event_type, |p| match &a.body {
        AppBody::Dns(d) => dns::write_eve(p, &d.msg, d.flavor),
        AppBody::Tls(t) => tls::write_eve(
            p,
            &tls::EveTls {
                client_hello: t.client_hello.as_ref(),
                server_hello: t.server_hello.as_ref(),
                server_cert: t.cert.as_ref(),
                transport: t.transport,
            },
        ),
        AppBody::Quic(q) => quic_object(p, q),
        AppBody::Http(h) => http::write_eve(p, &h.request),
        AppBody::HostId(_) => {}
    });
}

/// Whether an event is written server → client. Suricata logs a DNS message
/// over UDP in its own packet's direction and one over TCP by its kind (a
/// response from the server), while TLS, QUIC and HTTP events keep the
/// flow's client → server. (A TCP event goes out on the packet that
/// acknowledges it, which runs the other way: hence the kind.)
pub fn from_server(a: &AppRecord) -> bool {
    match &a.body {
        AppBody::Dns(d) => match d.transport {
            dns::Transport::Udp => !a.to_server,
            dns::Transport::Tcp => d.msg.is_response(),
        },
        _ => false,
    }
}

/// The flow seen from its server's side.
pub fn reversed(m: &FlowMeta) -> FlowMeta {
    FlowMeta {
        src: m.dst,
        dst: m.src,
        sport: m.dport,
        dport: m.sport,
        ..m.clone()
    }
}

/// phonehome's signature ids (gid 1), one per kind of finding, in a range no
/// public rule set uses.
pub fn signature_id(kind: FindingKind) -> u64 {
    match kind {
        FindingKind::ForeignVendorDataAbroad => 9_100_001,
        FindingKind::ForeignVendorDataHome => 9_100_002,
        FindingKind::DomesticVendorDataAbroad => 9_100_003,
        FindingKind::DomesticVendorDataHome => 9_100_004,
        FindingKind::DnsOnly => 9_100_005,
    }
}

/// Appends the alert's signature text, `PHONEHOME <what>: <vendor> <product>`.
fn push_signature(out: &mut Vec<u8>, f: &Finding) {
    let what = match f.kind {
        FindingKind::ForeignVendorDataAbroad => "foreign security product sends data abroad",
        FindingKind::ForeignVendorDataHome => "foreign security product in use",
        FindingKind::DomesticVendorDataAbroad => "domestic security product sends data abroad",
        FindingKind::DomesticVendorDataHome => "domestic security product in use",
        FindingKind::DnsOnly => "security product endpoint looked up",
    };
    for part in ["PHONEHOME ", what, ": ", &f.vendor, " ", &f.product] {
        out.extend_from_slice(part.as_bytes());
    }
}

/// An `alert` for a finding: Suricata's alert object (a private signature-id
/// range; metadata for SIEM filters) and the finding itself under `phonehome`
/// (its [`crate::output::finding::FindingDoc`]).
pub fn alert_event(buf: &mut Vec<u8>, f: &Finding) {
    let countries = f.destination_countries();
    let first_dest = f.destinations.iter().find_map(|d| d.ip);
    let mut o = Obj::new(buf);
    o.ts("timestamp", f.first_seen_ns)
        .str("event_type", "alert")
        .suricata_ip("src_ip", f.host);
    if let Some(ip) = first_dest {
        o.suricata_ip("dest_ip", ip);
    }
    o.obj("alert", |a| {
        a.str("action", "allowed")
            .u64("gid", 1)
            .u64("signature_id", signature_id(f.kind))
            .u64("rev", 1)
            .str_with("signature", |out| push_signature(out, f))
            .str("category", "Security product telemetry")
            .u64("severity", u64::from(f.severity.suricata_severity()))
            .obj("metadata", |m| {
                m.str_list("vendor", [f.vendor.as_str()])
                    .str_list("product", [f.product.as_str()])
                    .str_list("jurisdiction", f.vendor_country.iter().map(String::as_str))
                    .str_list("finding_kind", [f.kind.as_str()])
                    .str_list("confidence", [f.confidence.as_str()]);
                if !countries.is_empty() {
                    m.str_list("country", countries.iter().copied());
                }
            });
    });
    // The finding's document, written directly (the same bytes serde
    // writes for its `FindingDoc`).
    o.raw("phonehome", |out| push_doc(out, f));
    o.end();
}

/// The `quic` object, keys in sorted order: `ja3`, `ja4`, `sni` (a Google
/// QUIC CHLO's wins over the TLS hello's), `ua`, `version`.
fn quic_object(o: &mut Obj<'_>, q: &crate::dissect::QuicEvent) {
    if let Some(ch) = &q.client_hello {
        tls::write_ja3(o, ch);
        tls::write_ja4(o, ch, tls::Transport::Quic);
    }
    let gquic_sni = q.gquic.as_ref().and_then(|g| g.sni.as_deref());
    let ch_sni = q.client_hello.as_ref().and_then(|ch| ch.sni.as_deref());
    if let Some(sni) = gquic_sni.or(ch_sni) {
        o.str("sni", sni);
    }
    if let Some(ua) = q.gquic.as_ref().and_then(|g| g.uaid.as_deref()) {
        o.str("ua", ua);
    }
    o.raw("version", |out| {
        out.push(b'"');
        quic::push_version_name(out, q.version);
        out.push(b'"');
    });
}

/// Calls `f(prefix, name, upper)` for each anomaly flag of an event, in
/// output order; `upper` names (bitflags constants) are written lowercased.
fn for_each_anomaly(body: &AppBody, f: &mut dyn FnMut(&str, &str, bool)) {
    fn flags<F: bitflags::Flags>(v: &F, prefix: &str, f: &mut dyn FnMut(&str, &str, bool)) {
        for (name, _) in v.iter_names() {
            f(prefix, name, true);
        }
    }
    match body {
        AppBody::Dns(d) => d.msg.anomalies.names().for_each(|n| f("dns.", n, false)),
        AppBody::Tls(t) => {
            if let Some(ch) = &t.client_hello {
                flags(&ch.anomalies, "tls.client_hello.", f);
            }
            if let Some(sh) = &t.server_hello {
                flags(&sh.anomalies, "tls.server_hello.", f);
            }
            if t.cert.as_ref().is_some_and(|c| c.truncated) {
                f("tls.certificate.", "field_truncated", false);
            }
        }
        AppBody::Quic(q) => {
            q.anomalies.names().for_each(|n| f("quic.", n, false));
            // The hello's own flags are TLS-over-TCP business, except a cut.
            if let Some(ch) = &q.client_hello {
                let cut = ch.anomalies
                    & (tls::HelloAnomalies::SNI_TRUNCATED | tls::HelloAnomalies::LIST_TRUNCATED);
                flags(&cut, "quic.client_hello.", f);
            }
        }
        AppBody::Http(h) => h
            .request
            .anomalies
            .names()
            .for_each(|n| f("http.", n, false)),
        AppBody::HostId(_) => {}
    }
}

/// The `stats` event: Suricata's counter names where they exist, the rest
/// under `stats.phonehome`.
pub fn stats_event(buf: &mut Vec<u8>, st: &RunStats) {
    let cap = &st.capture;
    let fl = &st.flows;
    let (decoder_extra, ph_decoder) = st.decode.to_eve();
    let mut o = Obj::new(buf);
    o.ts("timestamp", cap.last_ts.unwrap_or(0))
        .str("event_type", "stats");
    o.obj("stats", |s| {
        s.obj("decoder", |d| {
            d.u64("pkts", cap.pkts)
                .u64("bytes", cap.bytes)
                .u64("avg_pkt_size", cap.bytes.checked_div(cap.pkts).unwrap_or(0))
                .u64("max_pkt_size", cap.max_pkt_size);
            if let serde_json::Value::Object(m) = &decoder_extra {
                for (k, v) in m {
                    d.value(k, v);
                }
            }
        });
        if let serde_json::Value::Object(m) = st.decode.to_eve_defrag() {
            if !m.is_empty() {
                s.value("defrag", &m);
            }
        }
        s.obj("flow", |f| {
            f.u64("total", fl.created)
                .u64("tcp", fl.tcp)
                .u64("udp", fl.udp)
                .u64("icmpv4", fl.icmpv4)
                .u64("icmpv6", fl.icmpv6)
                .u64("tcp_reuse", fl.ended_tcp_reuse)
                .obj("end", |e| {
                    e.obj("state", |s2| {
                        s2.u64("new", fl.end_state_new)
                            .u64("established", fl.end_state_established)
                            .u64("closed", fl.end_state_closed);
                    });
                })
                .obj("mgr", |m| {
                    m.u64("flows_timeout", fl.ended_timeout);
                });
        });
        s.obj("phonehome", |p| {
            p.obj("capture", |c| {
                c.u64("files", cap.files)
                    .u64("damaged_files", cap.damaged_files)
                    .u64("truncated_records", cap.truncated_records);
            })
            .obj("stream", |t| {
                t.u64("ooo_dropped", st.stream.ooo_dropped)
                    .u64("gave_up", st.stream.gave_up)
                    .u64("gap_at_end", st.stream.gap_at_end)
                    .u64("memory", st.stream.memory);
            })
            .obj("memory", |m| {
                // The limit and the peak are left out: they differ from
                // run to run (start-up memory) and with --workers.
                m.obj("shed", |s| {
                    for u in ["ooo_named", "ooo_nameless", "fragments", "flow"] {
                        let (b, t) = st
                            .memory
                            .shed
                            .iter()
                            .find(|x| x.0 == u)
                            .map_or((0, 0), |x| (x.1, x.2));
                        s.obj(u, |o| {
                            o.u64("bytes", b).u64("times", t);
                        });
                    }
                })
                // Waits depend on timing too, but there are none unless a
                // burst of events passes the in-flight credit.
                .u64("in_flight_waits", st.memory.in_flight_waits);
            })
            .obj("dns_cache", |d| {
                let c = &st.dns_cache;
                d.u64("bindings", c.bindings)
                    .u64("pending", c.pending)
                    .u64("queries", c.queries)
                    .u64("solicited", c.solicited)
                    .u64("unsolicited", c.unsolicited)
                    .u64("added", c.added)
                    .u64("refreshed", c.refreshed)
                    .u64("evicted", c.evicted)
                    .u64("protected_evicted", c.protected_evicted)
                    .u64("history_dropped", c.history_dropped)
                    .u64("expired", c.expired)
                    .u64("pending_dropped", c.pending_dropped)
                    .u64("pending_expired", c.pending_expired)
                    .u64("chains_truncated", c.chains_truncated)
                    .u64("loops", c.loops);
            })
            .obj("host_identity", |h| {
                let c = &st.host_identity;
                h.u64("claims", c.claims)
                    .u64("identities_dropped", c.identities_dropped)
                    .u64("names_dropped", c.names_dropped)
                    .u64("addresses_dropped", c.addresses_dropped)
                    .u64("bindings_dropped", c.bindings_dropped)
                    .u64("held_dropped", c.held_dropped);
            })
            .obj("flow", |f| {
                f.u64("other", fl.other)
                    .u64("evicted", fl.ended_forced)
                    .u64("active_timeouts", fl.ended_active_timeout)
                    .u64("ended_at_shutdown", fl.ended_shutdown);
                // No max_active: each worker knows only its own peak, and
                // their sum would differ with the worker count.
            })
            .value("decoder", &ph_decoder);
        });
    });
    o.end();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::dissect::dns::{parse_message, DnsFlavor, Transport};
    use crate::dissect::DnsEvent;
    use crate::flow::Vlan;

    fn meta() -> FlowMeta {
        FlowMeta {
            flow_id: 7,
            src: "10.0.0.2".parse().unwrap(),
            dst: "10.0.0.53".parse().unwrap(),
            sport: 40000,
            dport: 53,
            proto: 17,
            vlan: Vlan::default(),
            community_id: [0; 20],
            tunnel: None,
            icmp: None,
        }
    }

    fn dns_line(to_server: bool) -> serde_json::Value {
        let rec = dns_record(to_server);
        let mut buf = Vec::new();
        app_event(&mut buf, &rec, "x.pcap", &Ext::default());
        serde_json::from_slice(&buf).unwrap()
    }

    fn dns_record(to_server: bool) -> AppRecord {
        // A query for a.example, A; as a response when it goes to the client.
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
        if !to_server {
            m[2] = 0x81;
            m[3] = 0x80;
        }
        AppRecord {
            meta: meta(),
            ts_ns: 1,
            pcap_cnt: Some(2),
            file: 0,
            to_server,
            body: AppBody::Dns(Box::new(DnsEvent {
                flavor: DnsFlavor::Dns,
                transport: Transport::Udp,
                msg: parse_message(&m).unwrap(),
            })),
        }
    }

    /// A worker's line (everything but the match, spliced in by the
    /// ordered stage) is the line written in one piece, for every mix of
    /// the `phonehome` object's members.
    #[test]
    fn a_spliced_match_gives_the_line_written_whole() {
        use crate::flow::{EndReason, EventKey, FlowAnomalies, FlowState};
        use crate::resolve::catalog::Catalog;
        use crate::resolve::EvidenceKind;
        let cat = Catalog::from_files([(
            "acme.toml".into(),
            "acme".into(),
            "vendor = \"Acme\"\njurisdiction = [\"US\"]\n[[product]]\nname = \"Sensor\"\n\
             [[product.endpoint]]\nhost = \"t.acme.example\"\npurpose = \"telemetry\"\n\
             confidence = \"documented\"\nsource = \"https://acme.example/docs\"\n"
                .into(),
        )])
        .unwrap();
        let matched = Attribution {
            kind: EvidenceKind::TlsSni,
            value: "t.acme.example".into(),
            endpoint: cat.match_name("t.acme.example").unwrap(),
        };
        let geo = GeoAnswer {
            country: Some("US".into()),
            asn: Some(64500),
            ..GeoAnswer::default()
        };
        let names = FlowNames {
            sni: Some("t.acme.example".into()),
            ..FlowNames::default()
        };
        let flow = |names: Option<FlowNames>, anomalies: FlowAnomalies| FlowRecord {
            meta: meta(),
            start_ns: 1,
            end_ns: 2,
            pkts_toserver: 1,
            pkts_toclient: 1,
            bytes_toserver: 10,
            bytes_toclient: 10,
            state: FlowState::Established,
            reason: EndReason::Shutdown,
            tcp: None,
            app_proto: None,
            names: names.map(Box::new),
            file: 0,
            empty: false,
            anomalies,
        };
        let mut events = Vec::new();
        for n in [None, Some(names.clone())] {
            for an in [FlowAnomalies::empty(), FlowAnomalies::STREAM_GAVE_UP] {
                events.push(Event {
                    key: EventKey::packet(1, 0),
                    kind: EventKind::Flow(Box::new(flow(n.clone(), an))),
                });
            }
        }
        events.push(Event {
            key: EventKey::packet(1, 0),
            kind: EventKind::App(Box::new(dns_record(true))),
        });
        let mut checked = 0;
        for ev in &events {
            for dest in [None, Some(&geo), Some(&GeoAnswer::default())] {
                for m in [None, Some(&matched)] {
                    let whole_ext = Ext { dest, matched: m };
                    let mut whole = Vec::new();
                    assert!(event_head(&mut whole, ev, "x.pcap"));
                    event_tail(&mut whole, ev, &whole_ext);
                    whole.push(b'\n');
                    serde_json::from_slice::<serde_json::Value>(&whole).unwrap();
                    let mut line = b"previous line\n".to_vec();
                    let start = line.len();
                    assert!(event_head(&mut line, ev, "x.pcap"));
                    let mark = event_tail_open(
                        &mut line,
                        start,
                        ev,
                        &Ext {
                            dest,
                            matched: None,
                        },
                    );
                    line.push(b'\n');
                    let mut w = EveWriter::new(Vec::new(), vec![]);
                    w.write_prepared(&line[start..], mark, m).unwrap();
                    assert_eq!(
                        String::from_utf8_lossy(w.last_line()),
                        String::from_utf8_lossy(&whole)
                    );
                    assert_eq!(w.into_inner().unwrap(), whole);
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 30);
    }

    #[test]
    fn dns_events_carry_their_own_packets_direction() {
        let q = dns_line(true);
        assert_eq!(q["dns"]["type"], "request");
        assert_eq!(
            (&q["src_ip"], &q["src_port"], &q["dest_ip"], &q["dest_port"]),
            (
                &"10.0.0.2".into(),
                &40000.into(),
                &"10.0.0.53".into(),
                &53.into()
            )
        );
        let r = dns_line(false);
        assert_eq!(r["dns"]["type"], "response");
        assert_eq!(
            (&r["src_ip"], &r["src_port"], &r["dest_ip"], &r["dest_port"]),
            (
                &"10.0.0.53".into(),
                &53.into(),
                &"10.0.0.2".into(),
                &40000.into()
            )
        );
        // The flow's identity is the same either way.
        assert_eq!(q["flow_id"], r["flow_id"]);
        assert_eq!(q["community_id"], r["community_id"]);
    }

    #[test]
    fn dns_over_tcp_reads_by_message_kind() {
        // Over TCP a message goes out on the peer's acknowledging packet:
        // the response still reads server → client, the query the other way.
        for (response, packet_to_server) in [(true, true), (true, false), (false, false)] {
            let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
            m.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
            if response {
                m[2] = 0x81;
            }
            let rec = AppRecord {
                meta: FlowMeta { proto: 6, ..meta() },
                ts_ns: 1,
                pcap_cnt: None,
                file: 0,
                to_server: packet_to_server,
                body: AppBody::Dns(Box::new(DnsEvent {
                    flavor: DnsFlavor::Dns,
                    transport: Transport::Tcp,
                    msg: parse_message(&m).unwrap(),
                })),
            };
            assert_eq!(from_server(&rec), response, "{response} {packet_to_server}");
        }
    }

    /// Lines reach the writer whole and gathered (one call per BATCH bytes
    /// or more), the rest at a flush, or when the writer is dropped; each is
    /// the last line until the next.
    #[test]
    fn lines_are_handed_on_whole_in_batches() {
        use std::cell::RefCell;
        use std::rc::Rc;
        #[derive(Clone, Default)]
        struct Calls(Rc<RefCell<Vec<Vec<u8>>>>);
        impl Write for Calls {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.borrow_mut().push(buf.to_vec());
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let calls = Calls::default();
        let lines: Vec<String> = (0..3000)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 97)))
            .collect();
        let mut w = EveWriter::new(calls.clone(), vec![]);
        for (i, l) in lines.iter().enumerate() {
            // Every other line without its newline: the writer adds it.
            let l = if i % 2 == 0 { l.as_str() } else { l.trim_end() };
            w.write_line(l.as_bytes()).unwrap();
            assert_eq!(w.last_line(), lines[i].as_bytes());
        }
        let before_flush = calls.0.borrow().len();
        assert!(before_flush >= 2, "{before_flush} writes");
        for c in calls.0.borrow().iter() {
            assert!(c.len() >= BATCH && c.ends_with(b"\n"), "{} bytes", c.len());
        }
        w.flush().unwrap();
        w.write_line(b"{\"last\":1}").unwrap();
        drop(w);
        let mut want = lines.concat();
        want.push_str("{\"last\":1}\n");
        assert_eq!(calls.0.borrow().len(), before_flush + 2);
        assert_eq!(String::from_utf8(calls.0.borrow().concat()).unwrap(), want);
    }
}
