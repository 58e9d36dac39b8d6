//! DHCPv4 dissector (RFC 2131 message, RFC 2132 options, RFC 3396 long
//! options, RFC 4702 client FQDN): a pure parser over one UDP payload.
//!
//! What phonehome wants from DHCP is who a host is: the client hardware
//! address, the names it gives (option 12 host name, option 81 FQDN) and the
//! address it leases. [`parse`] decodes the fixed header and the options
//! every message carries; anything odd is a flag in [`DhcpAnomalies`], and a
//! message cut by the capture's snap length still yields its header.

// From the leaf module, not hostid itself, which reads DHCP messages: no import loop.
use super::hostid::text::{display_text, Mac};
use std::net::Ipv4Addr;

/// UDP port of the DHCP server (and of relays).
pub const SERVER_PORT: u16 = 67;
/// UDP port of the DHCP client.
pub const CLIENT_PORT: u16 = 68;
/// The BOOTP fixed part up to and including `file`: 236 bytes.
pub const FIXED_LEN: usize = 236;
/// The fixed part and the magic cookie.
pub const HEADER_LEN: usize = FIXED_LEN + 4;
/// RFC 2131's magic cookie that starts the options.
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Option instances remembered in [`DhcpMessage::option_codes`]; a 64 KiB
/// payload could hold 32 000 empty options.
pub const MAX_OPTION_CODES: usize = 128;

/// The bytes cannot be a DHCP/BOOTP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotDhcp {
    /// Not even the fixed part up to the client hardware address (44 bytes).
    #[error("{0} bytes is shorter than the 44-byte BOOTP header up to chaddr")]
    TooShort(usize),
    /// `op` is neither BOOTREQUEST (1) nor BOOTREPLY (2).
    #[error("BOOTP op {0} is neither request (1) nor reply (2)")]
    BadOp(u8),
}

/// What was odd about a message; every flag leaves a usable result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DhcpAnomalies {
    /// The payload ends before the end of the fixed part or of an option
    /// (usually the capture's snap length).
    pub truncated: bool,
    /// No magic cookie after the fixed part: plain BOOTP or not DHCP at all.
    pub no_magic: bool,
    /// No End option (255) before the end of the options.
    pub no_end: bool,
    /// `hlen` above 16, the size of the chaddr field.
    pub bad_hlen: bool,
    /// A known option whose length does not fit its format.
    pub bad_option: bool,
    /// An option code seen again, not adjacent (RFC 3396 concatenates it).
    pub repeated_option: bool,
    /// Option codes seen past [`MAX_OPTION_CODES`].
    pub options_dropped: u32,
}

impl DhcpAnomalies {
    pub fn is_empty(&self) -> bool {
        *self == DhcpAnomalies::default()
    }
}

/// The DHCP message type (option 53).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    Discover,
    Offer,
    Request,
    Decline,
    Ack,
    Nak,
    Release,
    Inform,
    Other(u8),
}

impl MessageType {
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            n => MessageType::Other(n),
        }
    }

    pub fn code(self) -> u8 {
        match self {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
            MessageType::Other(n) => n,
        }
    }
}

/// Option 81, the client's fully qualified domain name (RFC 4702).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFqdn {
    pub flags: u8,
    pub rcode1: u8,
    pub rcode2: u8,
    /// The name as text: with the E flag, decoded from DNS wire form (labels
    /// joined by dots, a final dot when the name is complete); without it, the
    /// ASCII bytes as sent (deprecated form, often with a trailing dot).
    pub name: String,
}

impl ClientFqdn {
    /// The E flag: the name is in DNS wire form.
    pub fn wire_encoded(&self) -> bool {
        self.flags & 0x04 != 0
    }
}

/// One decoded DHCP (or BOOTP) message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhcpMessage {
    /// 1 BOOTREQUEST (client → server), 2 BOOTREPLY.
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    /// Client address (filled by a client that already has one).
    pub ciaddr: Ipv4Addr,
    /// "Your" address: the address the server offers or grants.
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    /// Relay agent address.
    pub giaddr: Ipv4Addr,
    /// Client hardware address, `hlen` bytes (at most 16).
    pub chaddr: Vec<u8>,
    /// Option 53; none for BOOTP.
    pub message_type: Option<MessageType>,
    /// Option 12 host name, as display text.
    pub hostname: Option<String>,
    /// Option 81.
    pub client_fqdn: Option<ClientFqdn>,
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 51, seconds.
    pub lease_time: Option<u32>,
    /// Option 61, raw (type byte first).
    pub client_id: Option<Vec<u8>>,
    /// Option 60, as display text.
    pub vendor_class: Option<String>,
    /// Option 15 domain name, as display text.
    pub domain_name: Option<String>,
    /// Option codes in the order first seen (pad and end left out), at most
    /// [`MAX_OPTION_CODES`].
    pub option_codes: Vec<u8>,
    pub anomalies: DhcpAnomalies,
}

impl DhcpMessage {
    /// The client's MAC address: chaddr when the hardware is Ethernet
    /// (htype 1, hlen 6).
    pub fn client_mac(&self) -> Option<Mac> {
        if self.htype != 1 || self.hlen != 6 {
            return None;
        }
        Mac::from_slice(&self.chaddr)
    }

    /// The MAC inside option 61 when its type byte says Ethernet.
    pub fn client_id_mac(&self) -> Option<Mac> {
        let id = self.client_id.as_deref()?;
        match id.split_first() {
            Some((1, rest)) if rest.len() == 6 => Mac::from_slice(rest),
            _ => None,
        }
    }

    pub fn is_reply(&self) -> bool {
        self.op == 2
    }
}

fn ipv4_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(Ipv4Addr::new(
        *s.first()?,
        *s.get(1)?,
        *s.get(2)?,
        *s.get(3)?,
    ))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Where chaddr starts; the fixed part before it is 28 bytes.
const CHADDR_AT: usize = 28;
const SNAME_AT: usize = 44;
const FILE_AT: usize = 108;

/// Parses one DHCP message (the UDP payload). Only a payload too short for
/// the header up to chaddr, or an `op` that is not 1 or 2, is an error.
pub fn parse(buf: &[u8]) -> Result<DhcpMessage, NotDhcp> {
    if buf.len() < SNAME_AT {
        return Err(NotDhcp::TooShort(buf.len()));
    }
    let byte = |at: usize| buf.get(at).copied().unwrap_or(0);
    let op = byte(0);
    if op != 1 && op != 2 {
        return Err(NotDhcp::BadOp(op));
    }
    let hlen = byte(2);
    let mut anomalies = DhcpAnomalies::default();
    if usize::from(hlen) > 16 {
        anomalies.bad_hlen = true;
    }
    let chaddr_len = usize::from(hlen).min(16);
    let zero = Ipv4Addr::UNSPECIFIED;
    let mut m = DhcpMessage {
        op,
        htype: byte(1),
        hlen,
        hops: byte(3),
        xid: be32(buf, 4).unwrap_or(0),
        secs: be16(buf, 8).unwrap_or(0),
        flags: be16(buf, 10).unwrap_or(0),
        ciaddr: ipv4_at(buf, 12).unwrap_or(zero),
        yiaddr: ipv4_at(buf, 16).unwrap_or(zero),
        siaddr: ipv4_at(buf, 20).unwrap_or(zero),
        giaddr: ipv4_at(buf, 24).unwrap_or(zero),
        chaddr: buf
            .get(CHADDR_AT..CHADDR_AT + chaddr_len)
            .unwrap_or_default()
            .to_vec(),
        message_type: None,
        hostname: None,
        client_fqdn: None,
        requested_ip: None,
        server_id: None,
        lease_time: None,
        client_id: None,
        vendor_class: None,
        domain_name: None,
        option_codes: Vec::new(),
        anomalies,
    };
    if buf.len() < FIXED_LEN {
        m.anomalies.truncated = true;
        return Ok(m);
    }
    match buf.get(FIXED_LEN..HEADER_LEN) {
        Some(c) if c == MAGIC_COOKIE => {}
        Some(_) => {
            m.anomalies.no_magic = true;
            return Ok(m);
        }
        None => {
            m.anomalies.truncated = true;
            return Ok(m);
        }
    }
    let mut opts = Options::default();
    let main = buf.get(HEADER_LEN..).unwrap_or_default();
    let overload = walk(main, &mut opts, &mut m.anomalies, true);
    // RFC 2131 §4.1: with option 52 the file field, then sname, hold options too.
    if overload & 1 != 0 {
        walk(
            buf.get(FILE_AT..FIXED_LEN).unwrap_or_default(),
            &mut opts,
            &mut m.anomalies,
            false,
        );
    }
    if overload & 2 != 0 {
        walk(
            buf.get(SNAME_AT..FILE_AT).unwrap_or_default(),
            &mut opts,
            &mut m.anomalies,
            false,
        );
    }
    opts.decode_into(&mut m);
    Ok(m)
}

/// Option values gathered over the option areas; RFC 3396 concatenates the
/// instances of one code in order.
#[derive(Default)]
struct Options {
    values: Vec<(u8, Vec<u8>)>,
}

impl Options {
    fn push(&mut self, code: u8, data: &[u8], anomalies: &mut DhcpAnomalies) {
        let last_code = self.values.last().map(|(c, _)| *c);
        let full = self.values.len() >= MAX_OPTION_CODES;
        match self.values.iter_mut().find(|(c, _)| *c == code) {
            Some((_, v)) => {
                if last_code != Some(code) {
                    anomalies.repeated_option = true;
                }
                v.extend_from_slice(data);
            }
            None if !full => self.values.push((code, data.to_vec())),
            None => anomalies.options_dropped = anomalies.options_dropped.saturating_add(1),
        }
    }

    fn get(&self, code: u8) -> Option<&[u8]> {
        self.values
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    fn decode_into(self, m: &mut DhcpMessage) {
        let anomalies = &mut m.anomalies;
        let mut bad = false;
        let mut fixed = |code: u8, len: usize| -> Option<&[u8]> {
            let v = self.get(code)?;
            if v.len() == len {
                Some(v)
            } else {
                bad = true;
                None
            }
        };
        m.message_type = fixed(53, 1)
            .and_then(|v| v.first())
            .map(|&c| MessageType::from_code(c));
        m.requested_ip = fixed(50, 4).and_then(|v| ipv4_at(v, 0));
        m.server_id = fixed(54, 4).and_then(|v| ipv4_at(v, 0));
        m.lease_time = fixed(51, 4).and_then(|v| be32(v, 0));
        m.hostname = self.get(12).map(display_text);
        m.vendor_class = self.get(60).map(display_text);
        m.domain_name = self.get(15).map(display_text);
        m.client_id = self.get(61).map(<[u8]>::to_vec);
        if let Some(v) = self.get(81) {
            match parse_fqdn(v) {
                Some(f) => m.client_fqdn = Some(f),
                None => bad = true,
            }
        }
        m.option_codes = self.values.iter().map(|(c, _)| *c).collect();
        if bad {
            anomalies.bad_option = true;
        }
    }
}

/// Walks one option area; returns the option-overload value (option 52)
/// when `main` is the options field itself.
fn walk(area: &[u8], opts: &mut Options, anomalies: &mut DhcpAnomalies, main: bool) -> u8 {
    let mut overload = 0u8;
    let mut rest = area;
    loop {
        let Some((&code, tail)) = rest.split_first() else {
            // Running off the end of the options field is common (a snap
            // length); for sname/file it is only missing padding.
            if main {
                anomalies.no_end = true;
            }
            return overload;
        };
        match code {
            0 => rest = tail,
            255 => return overload,
            _ => {
                let Some((&len, tail)) = tail.split_first() else {
                    anomalies.truncated = true;
                    return overload;
                };
                let Some(data) = tail.get(..usize::from(len)) else {
                    anomalies.truncated = true;
                    return overload;
                };
                if main && code == 52 {
                    match data {
                        [v @ 1..=3] => overload = *v,
                        _ => anomalies.bad_option = true,
                    }
                }
                opts.push(code, data, anomalies);
                rest = tail.get(usize::from(len)..).unwrap_or_default();
            }
        }
    }
}

/// Option 81: flags, two rcodes, then the name (RFC 4702 §2).
fn parse_fqdn(v: &[u8]) -> Option<ClientFqdn> {
    let (&flags, rest) = v.split_first()?;
    let (&rcode1, rest) = rest.split_first()?;
    let (&rcode2, name) = rest.split_first()?;
    let name = if flags & 0x04 != 0 {
        wire_name(name)?
    } else {
        display_text(name)
    };
    Some(ClientFqdn {
        flags,
        rcode1,
        rcode2,
        name,
    })
}

/// A DNS wire-form name without compression: labels joined by dots, with a
/// final dot when it ends in the root label (a fully qualified name).
fn wire_name(mut b: &[u8]) -> Option<String> {
    let mut out = String::new();
    while let Some((&len, tail)) = b.split_first() {
        if len == 0 {
            out.push('.');
            return Some(out);
        }
        if len & 0xC0 != 0 {
            return None;
        }
        let label = tail.get(..usize::from(len))?;
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&display_text(label));
        b = tail.get(usize::from(len)..).unwrap_or_default();
    }
    // A partial name (RFC 4702 §2.3.1) has no root label.
    Some(out)
}

#[cfg(test)]
mod tests;
