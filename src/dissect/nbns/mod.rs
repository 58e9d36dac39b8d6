//! NetBIOS name service dissector (RFC 1001/1002, UDP 137): a pure parser
//! over one UDP payload.
//!
//! NBNS shares DNS's header and record layout but not its names: a NetBIOS
//! name is one 32-byte label in "first-level encoding" (each byte of the
//! 16-byte name as two letters `A`..`P`), then an optional scope. The last
//! byte of the 16 is the suffix that says what the name is for (`<00>`
//! workstation, `<20>` file server, `<1c>` domain controllers, ...). Host
//! names come from registrations, positive query responses and node status
//! responses, which also carry the adapter's MAC address.

// From the leaf module, not hostid itself, which reads NBNS messages: no import loop.
use super::dns::name::{read_name_raw, NameCx};
use super::hostid::text::{display_text, Mac};
use std::net::Ipv4Addr;

pub const PORT: u16 = 137;
pub const HEADER_LEN: usize = 12;
/// Entries kept per section; the rest are counted in [`NbnsAnomalies::records_dropped`].
pub const MAX_RECORDS_PER_SECTION: usize = 32;
/// NB address entries kept per record.
pub const MAX_NB_ADDRESSES: usize = 32;
/// Bytes of scope text kept (the wire limit of a name is 255).
pub const MAX_SCOPE_TEXT: usize = 255;

/// Record and question types (RFC 1002 §4.2.1.3).
pub const TYPE_NB: u16 = 0x20;
pub const TYPE_NBSTAT: u16 = 0x21;

/// The bytes cannot be an NBNS message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotNbns {
    #[error("{0} bytes is shorter than the 12-byte NBNS header")]
    TooShort(usize),
}

/// What was odd about a message; every flag leaves a usable result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NbnsAnomalies {
    /// The message ends inside a name or record.
    pub truncated: bool,
    /// The header announces more entries than the message holds.
    pub bad_counts: bool,
    /// A name whose first label is not 32 letters `A`..`Z` (decoded as None).
    pub bad_name: bool,
    /// A first label with letters past `P`: outside RFC 1001's encoding, but
    /// decoded the way Windows and Wireshark do (each letter minus `A`, the
    /// high half shifted and wrapped to a byte).
    pub lax_name: bool,
    /// A compression pointer out of bounds, looping or chained too long.
    pub bad_pointer: bool,
    /// Rdata that does not fit its type.
    pub bad_rdata: bool,
    /// Bytes after the last announced record.
    pub trailing_bytes: bool,
    /// Entries parsed past but not kept.
    pub records_dropped: u32,
}

impl NbnsAnomalies {
    pub fn is_empty(&self) -> bool {
        *self == NbnsAnomalies::default()
    }
}

/// The opcode of the header (RFC 1002 §4.2.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    Query,
    Registration,
    Release,
    Wack,
    Refresh,
    /// Opcode 9, used by Windows for refresh as well.
    RefreshAlt,
    MultiHomedRegistration,
    Other(u8),
}

impl Opcode {
    pub fn from_code(c: u8) -> Self {
        match c {
            0 => Opcode::Query,
            5 => Opcode::Registration,
            6 => Opcode::Release,
            7 => Opcode::Wack,
            8 => Opcode::Refresh,
            9 => Opcode::RefreshAlt,
            15 => Opcode::MultiHomedRegistration,
            n => Opcode::Other(n),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            Opcode::Query => 0,
            Opcode::Registration => 5,
            Opcode::Release => 6,
            Opcode::Wack => 7,
            Opcode::Refresh => 8,
            Opcode::RefreshAlt => 9,
            Opcode::MultiHomedRegistration => 15,
            Opcode::Other(n) => n,
        }
    }
}

/// A decoded NetBIOS name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbName {
    /// The 15 name bytes with trailing spaces removed.
    pub raw: Vec<u8>,
    /// The 16th byte.
    pub suffix: u8,
    /// Scope labels joined by dots; empty when there is none.
    pub scope: String,
}

impl NbName {
    /// The name bytes as text (printable ASCII kept, other bytes as `<xx>`),
    /// without suffix or scope: e.g. `WORKGROUP`.
    pub fn name_text(&self) -> String {
        let mut out = String::with_capacity(self.raw.len());
        for &b in &self.raw {
            if (0x20..0x7f).contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("<{b:02x}>"));
            }
        }
        out
    }

    /// The form tshark and most tools print: `NAME<xx>` and `.scope` if any.
    pub fn display(&self) -> String {
        let mut out = self.name_text();
        out.push_str(&format!("<{:02x}>", self.suffix));
        if !self.scope.is_empty() {
            out.push('.');
            out.push_str(&self.scope);
        }
        out
    }
}

/// One question entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbQuestion {
    /// None when the name is not a valid NetBIOS name (flagged).
    pub name: Option<NbName>,
    pub qtype: u16,
    pub qclass: u16,
}

/// One entry of an NB record: flags and address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NbAddress {
    /// NB_FLAGS: G (group name) in bit 15, ONT (owner node type) in bits 13-14.
    pub flags: u16,
    pub addr: Ipv4Addr,
}

impl NbAddress {
    /// The name is a group name (workgroup, domain), not a host's own.
    pub fn is_group(&self) -> bool {
        self.flags & 0x8000 != 0
    }
}

/// One name of a node status response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeName {
    pub name: NbName,
    /// NAME_FLAGS: G in bit 15, and the permanent/active/conflict/deregister bits.
    pub flags: u16,
}

impl NodeName {
    pub fn is_group(&self) -> bool {
        self.flags & 0x8000 != 0
    }
}

/// NBSTAT rdata: the names a node holds and its unit id (the MAC address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    pub names: Vec<NodeName>,
    /// The first 6 bytes of the statistics; all zero from some stacks.
    pub unit_id: Option<Mac>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NbRdata {
    Nb(Vec<NbAddress>),
    NodeStatus(NodeStatus),
    Other(Vec<u8>),
    /// A known type whose rdata did not fit; the bytes present.
    Malformed(Vec<u8>),
}

/// One resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbRecord {
    pub name: Option<NbName>,
    pub rtype: u16,
    pub rclass: u16,
    pub ttl: u32,
    pub rdata: NbRdata,
}

/// A decoded NBNS message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbnsMessage {
    pub id: u16,
    /// The flags word as on the wire.
    pub flags: u16,
    pub response: bool,
    pub opcode: Opcode,
    /// NM_FLAGS broadcast bit.
    pub broadcast: bool,
    pub rcode: u8,
    /// Counts the header announces: questions, answers, authorities, additionals.
    pub counts: [u16; 4],
    pub questions: Vec<NbQuestion>,
    pub answers: Vec<NbRecord>,
    pub authorities: Vec<NbRecord>,
    pub additionals: Vec<NbRecord>,
    pub anomalies: NbnsAnomalies,
}

impl NbnsMessage {
    /// Every record of every section.
    pub fn records(&self) -> impl Iterator<Item = &NbRecord> {
        self.answers
            .iter()
            .chain(&self.authorities)
            .chain(&self.additionals)
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([
        *b.get(at)?,
        *b.get(at.checked_add(1)?)?,
    ]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at.checked_add(1)?)?,
        *b.get(at.checked_add(2)?)?,
        *b.get(at.checked_add(3)?)?,
    ]))
}

/// Parses one NBNS message. Only a buffer shorter than the header is an
/// error; the rest is flagged in [`NbnsMessage::anomalies`].
pub fn parse(buf: &[u8]) -> Result<NbnsMessage, NotNbns> {
    let (Some(id), Some(flags), Some(qd), Some(an), Some(ns), Some(ar)) = (
        be16(buf, 0),
        be16(buf, 2),
        be16(buf, 4),
        be16(buf, 6),
        be16(buf, 8),
        be16(buf, 10),
    ) else {
        return Err(NotNbns::TooShort(buf.len()));
    };
    let mut m = NbnsMessage {
        id,
        flags,
        response: flags & 0x8000 != 0,
        opcode: Opcode::from_code(((flags >> 11) & 0x0F) as u8),
        broadcast: flags & 0x0010 != 0,
        rcode: (flags & 0x0F) as u8,
        counts: [qd, an, ns, ar],
        questions: Vec::new(),
        answers: Vec::new(),
        authorities: Vec::new(),
        additionals: Vec::new(),
        anomalies: NbnsAnomalies::default(),
    };
    let mut pos = HEADER_LEN;
    let mut cx = NameCx::new(buf.len());
    if parse_sections(buf, &mut pos, &mut cx, &mut m) && pos < buf.len() {
        m.anomalies.trailing_bytes = true;
    }
    Ok(m)
}

fn parse_sections(buf: &[u8], pos: &mut usize, cx: &mut NameCx, m: &mut NbnsMessage) -> bool {
    let [qd, an, ns, ar] = m.counts;
    for _ in 0..qd {
        if *pos >= buf.len() {
            m.anomalies.bad_counts = true;
            return false;
        }
        let Some((name, next)) = read_name(buf, *pos, cx, &mut m.anomalies) else {
            m.anomalies.truncated = true;
            return false;
        };
        let (Some(qtype), Some(qclass)) = (be16(buf, next), be16(buf, next + 2)) else {
            m.anomalies.truncated = true;
            return false;
        };
        *pos = next + 4;
        push_capped(
            &mut m.questions,
            NbQuestion {
                name,
                qtype,
                qclass,
            },
            &mut m.anomalies,
        );
    }
    for (count, section) in [(an, 0u8), (ns, 1), (ar, 2)] {
        for _ in 0..count {
            if *pos >= buf.len() {
                m.anomalies.bad_counts = true;
                return false;
            }
            let Some(rec) = parse_record(buf, pos, cx, m.opcode, &mut m.anomalies) else {
                m.anomalies.truncated = true;
                return false;
            };
            let list = match section {
                0 => &mut m.answers,
                1 => &mut m.authorities,
                _ => &mut m.additionals,
            };
            push_capped(list, rec, &mut m.anomalies);
        }
    }
    true
}

fn push_capped<T>(list: &mut Vec<T>, item: T, anom: &mut NbnsAnomalies) {
    if list.len() < MAX_RECORDS_PER_SECTION {
        list.push(item);
    } else {
        anom.records_dropped = anom.records_dropped.saturating_add(1);
    }
}

fn parse_record(
    buf: &[u8],
    pos: &mut usize,
    cx: &mut NameCx,
    opcode: Opcode,
    anom: &mut NbnsAnomalies,
) -> Option<NbRecord> {
    let (name, at) = read_name(buf, *pos, cx, anom)?;
    let rtype = be16(buf, at)?;
    let rclass = be16(buf, at + 2)?;
    let ttl = be32(buf, at + 4)?;
    let rdlen = usize::from(be16(buf, at + 8)?);
    let start = at + 10;
    let rdata_bytes = buf.get(start..start + rdlen)?;
    *pos = start + rdlen;
    let rdata = match rtype {
        // A WACK's NB rdata is the flags of the request it answers, not addresses.
        TYPE_NB if opcode == Opcode::Wack => NbRdata::Other(rdata_bytes.to_vec()),
        TYPE_NB => parse_nb(rdata_bytes, anom),
        TYPE_NBSTAT => parse_node_status(rdata_bytes, anom),
        _ => NbRdata::Other(rdata_bytes.to_vec()),
    };
    Some(NbRecord {
        name,
        rtype,
        rclass,
        ttl,
        rdata,
    })
}

fn parse_nb(b: &[u8], anom: &mut NbnsAnomalies) -> NbRdata {
    // A negative response or a query's placeholder may carry no entry at all.
    if b.len() % 6 != 0 {
        anom.bad_rdata = true;
        return NbRdata::Malformed(b.to_vec());
    }
    let mut out = Vec::new();
    for e in b.chunks_exact(6) {
        if out.len() >= MAX_NB_ADDRESSES {
            anom.records_dropped = anom.records_dropped.saturating_add(1);
            continue;
        }
        if let (Some(flags), [_, _, a, b2, c, d]) = (be16(e, 0), e) {
            out.push(NbAddress {
                flags,
                addr: Ipv4Addr::new(*a, *b2, *c, *d),
            });
        }
    }
    NbRdata::Nb(out)
}

/// RFC 1002 §4.2.18: NUM_NAMES, 18 bytes per name, then the statistics whose
/// first 6 bytes are the unit id.
fn parse_node_status(b: &[u8], anom: &mut NbnsAnomalies) -> NbRdata {
    let Some((&n, rest)) = b.split_first() else {
        anom.bad_rdata = true;
        return NbRdata::Malformed(Vec::new());
    };
    let need = usize::from(n) * 18;
    let Some(entries) = rest.get(..need) else {
        anom.bad_rdata = true;
        return NbRdata::Malformed(b.to_vec());
    };
    let mut names = Vec::new();
    for e in entries.chunks_exact(18) {
        if names.len() >= MAX_NB_ADDRESSES {
            anom.records_dropped = anom.records_dropped.saturating_add(1);
            continue;
        }
        let (Some(name16), Some(flags)) = (e.get(..16), be16(e, 16)) else {
            continue;
        };
        names.push(NodeName {
            name: name_from_16(name16, String::new()),
            flags,
        });
    }
    let unit_id = rest
        .get(need..need + 6)
        .and_then(Mac::from_slice)
        .filter(|m| !m.is_zero());
    NbRdata::NodeStatus(NodeStatus { names, unit_id })
}

/// The 16 decoded bytes split into name (trailing spaces trimmed) and suffix.
fn name_from_16(b: &[u8], scope: String) -> NbName {
    let suffix = b.get(15).copied().unwrap_or(0);
    let mut raw = b.get(..15).unwrap_or(b).to_vec();
    while raw.last() == Some(&b' ') {
        raw.pop();
    }
    NbName { raw, suffix, scope }
}

/// Reads a (possibly compressed) name at `pos` with DNS's name reader (one
/// [`NameCx`] per message: its work budget and loop check), then decodes it
/// as NetBIOS. Returns the name (None when it is not a valid NetBIOS name)
/// and the position after it; `None` when the message ends inside it.
fn read_name(
    buf: &[u8],
    pos: usize,
    cx: &mut NameCx,
    anom: &mut NbnsAnomalies,
) -> Option<(Option<NbName>, usize)> {
    cx.anom = Default::default();
    let n = read_name_raw(buf, pos, cx).ok()?;
    let a = &cx.anom;
    if a.truncated {
        return None;
    }
    if a.bad_pointer || a.pointer_loop || a.name_budget {
        anom.bad_pointer = true;
    }
    let whole = !(n.truncated
        || a.bad_pointer
        || a.pointer_loop
        || a.name_budget
        || a.bad_label_type
        || a.name_too_long
        || a.too_many_labels);
    let name = if whole {
        decode_name(&n.raw, anom)
    } else {
        None
    };
    if name.is_none() {
        anom.bad_name = true;
    }
    Some((name, n.next))
}

/// First-level decoding of the first label and the scope of the others
/// (`raw`: the labels joined by `.`).
fn decode_name(raw: &[u8], anom: &mut NbnsAnomalies) -> Option<NbName> {
    let (first, scope_raw) = match raw.iter().position(|&b| b == b'.') {
        Some(dot) => (raw.get(..dot)?, raw.get(dot + 1..)),
        None => (raw, None),
    };
    if first.len() != 32 {
        return None;
    }
    let mut b16 = [0u8; 16];
    for (out, pair) in b16.iter_mut().zip(first.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        if !hi.is_ascii_uppercase() || !lo.is_ascii_uppercase() {
            return None;
        }
        if *hi > b'P' || *lo > b'P' {
            anom.lax_name = true;
        }
        *out = ((hi - b'A') << 4) | (lo - b'A');
    }
    let scope_labels = scope_raw.into_iter().flat_map(|r| r.split(|&b| b == b'.'));
    let mut scope = String::new();
    for (i, l) in scope_labels.enumerate() {
        if i > 0 {
            scope.push('.');
        }
        scope.push_str(&display_text(l));
        if scope.len() > MAX_SCOPE_TEXT {
            break;
        }
    }
    Some(name_from_16(&b16, scope))
}

#[cfg(test)]
mod tests;
