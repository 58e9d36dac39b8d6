//! Domain names on the wire: labels, compression pointers, limits.

use super::anomalies::{hex_digit, DnsAnomalies};

/// Longest name in wire form allowed by RFC 1035 (labels + length bytes + root).
pub const MAX_WIRE_NAME: usize = 255;
/// Presentation-form cap, as Suricata (dnsmasq's limit): longer names are cut
/// and flagged, never rejected, since a name is still worth reporting.
pub const MAX_NAME_TEXT: usize = 1025;
/// Labels walked per name; a 255-byte wire name holds at most 127, Suricata
/// allows 255 before giving up.
pub const MAX_LABELS: usize = 255;
/// Compression pointers followed per name. Real messages need one or two;
/// the visited check catches loops long before this.
pub const MAX_POINTER_HOPS: usize = 32;
/// Work allowed on compressed names per byte of message: label bytes and
/// pointer hops walked after a name's first pointer (a name's own bytes are
/// paid for by the message length). Real messages stay under 5 (many records
/// pointing at one long name); past the budget names are cut and flagged
/// `dns.name_budget`, so a message of pointers costs at most this many times
/// a plain one.
pub const NAME_WORK_PER_BYTE: usize = 8;
/// Budget every message gets on top, so short messages with long names are never cut.
const NAME_WORK_BASE: usize = 2 * MAX_NAME_TEXT;

/// Name decoding state shared by every name of one message: the anomalies,
/// the work budget and the loop check.
#[derive(Debug)]
pub(crate) struct NameCx {
    pub anom: DnsAnomalies,
    /// Work left for compressed names (see [`NAME_WORK_PER_BYTE`]).
    budget: usize,
    /// Per message offset, the number of the name that last jumped there:
    /// a loop check in constant time (a list of visited targets per name
    /// made a message of long pointer chains cost quadratic time).
    seen: Vec<u32>,
    name_no: u32,
    /// Bytes walked by the name reader in total, in place or through
    /// pointers (what the budget bounds; for tests).
    pub steps: usize,
}

impl NameCx {
    pub fn new(msg_len: usize) -> Self {
        NameCx {
            anom: DnsAnomalies::default(),
            budget: msg_len
                .saturating_mul(NAME_WORK_PER_BYTE)
                .saturating_add(NAME_WORK_BASE),
            seen: Vec::new(),
            name_no: 0,
            steps: 0,
        }
    }

    /// Marks `target` visited by the current name; false if it already was.
    fn visit(&mut self, msg_len: usize, target: usize) -> bool {
        if self.seen.is_empty() {
            self.seen = vec![0; msg_len];
        }
        match self.seen.get_mut(target) {
            Some(s) if *s == self.name_no => false,
            Some(s) => {
                *s = self.name_no;
                true
            }
            None => false,
        }
    }

    /// Spends `cost` of the budget; false (nothing spent) when it is used up.
    fn spend(&mut self, cost: usize) -> bool {
        match self.budget.checked_sub(cost) {
            Some(left) => {
                self.budget = left;
                true
            }
            None => {
                self.budget = 0;
                false
            }
        }
    }
}

/// A decoded name plus where the record continues after it.
#[derive(Debug)]
pub(crate) struct DecodedName {
    pub text: String,
    /// Cut at [`MAX_NAME_TEXT`] or [`MAX_LABELS`] (Suricata's `rrname_truncated`),
    /// or when the message's name budget ran out.
    pub truncated: bool,
    /// Offset just past the name in its original position (after the first pointer
    /// if it was compressed).
    pub next: usize,
}

/// The name cannot be delimited: it runs past the end of the message (or uses a
/// label type whose length is unknown) before any pointer told us where it ends.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Undelimited;

/// Where the name at `start` ends in place, without decoding it (for records
/// past the per-section cap): its labels up to the root or its first pointer.
pub(crate) fn skip_name(msg: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xC0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += 1 + usize::from(len),
            0xC0 => return (pos + 2 <= msg.len()).then_some(pos + 2),
            _ => return None,
        }
    }
}

/// A name's labels as on the wire, joined by `.` (for NetBIOS names, whose
/// first label is decoded apart).
#[derive(Debug)]
pub(crate) struct RawName {
    pub raw: Vec<u8>,
    /// As [`DecodedName::truncated`].
    pub truncated: bool,
    pub next: usize,
}

/// Reads the name starting at `start` in `msg`, following compression pointers
/// anywhere in the message (forward or backward). Anomalies go to `cx.anom`;
/// an error only when the reader cannot know where the name ends.
pub(crate) fn read_name(
    msg: &[u8],
    start: usize,
    cx: &mut NameCx,
) -> Result<DecodedName, Undelimited> {
    let n = read_name_raw(msg, start, cx)?;
    Ok(DecodedName {
        text: bytes_to_text(n.raw),
        truncated: n.truncated,
        next: n.next,
    })
}

/// [`read_name`] without the presentation form: the label bytes.
pub(crate) fn read_name_raw(
    msg: &[u8],
    start: usize,
    cx: &mut NameCx,
) -> Result<RawName, Undelimited> {
    // Most names fit: one allocation rather than growth label by label.
    let mut raw: Vec<u8> = Vec::with_capacity(48);
    let mut pos = start;
    // Set once the first pointer is followed: the name ends there in the record.
    let mut next: Option<usize> = None;
    let mut hops = 0usize;
    let mut labels = 0usize;
    let mut wire_len = 1usize; // the root byte
    let mut truncated = false;
    cx.name_no = cx.name_no.wrapping_add(1).max(1);

    loop {
        cx.steps += 1;
        let Some(&len) = msg.get(pos) else {
            // Ran off the end of the message.
            cx.anom.truncated = true;
            match next {
                Some(_) => break,
                None => return Err(Undelimited),
            }
        };
        match len & 0xC0 {
            0x00 if len == 0 => {
                if next.is_none() {
                    next = Some(pos + 1);
                }
                break;
            }
            0x00 => {
                let l = usize::from(len);
                let Some(label) = msg.get(pos + 1..pos + 1 + l) else {
                    cx.anom.truncated = true;
                    match next {
                        Some(_) => break,
                        None => return Err(Undelimited),
                    }
                };
                cx.steps += l;
                if next.is_some() && !cx.spend(l + 1) {
                    cx.anom.name_budget = true;
                    truncated = true;
                    break;
                }
                labels += 1;
                wire_len += l + 1;
                if labels > MAX_LABELS {
                    cx.anom.too_many_labels = true;
                    truncated = true;
                    // Past a pointer we know where the record continues; before it,
                    // keep walking (bounded by the message) to find the name's end.
                    if next.is_some() {
                        break;
                    }
                } else if !truncated {
                    if !raw.is_empty() {
                        raw.push(b'.');
                    }
                    raw.extend_from_slice(label);
                    if raw.len() > MAX_NAME_TEXT {
                        raw.truncate(MAX_NAME_TEXT);
                        truncated = true;
                        if next.is_some() {
                            break;
                        }
                    }
                }
                pos += 1 + l;
            }
            0xC0 => {
                let Some(&lo) = msg.get(pos + 1) else {
                    cx.anom.truncated = true;
                    match next {
                        Some(_) => break,
                        None => return Err(Undelimited),
                    }
                };
                if next.is_none() {
                    next = Some(pos + 2);
                }
                let target = (usize::from(len & 0x3F) << 8) | usize::from(lo);
                if target >= msg.len() {
                    cx.anom.bad_pointer = true;
                    break;
                }
                if !cx.visit(msg.len(), target) || hops >= MAX_POINTER_HOPS {
                    cx.anom.pointer_loop = true;
                    break;
                }
                if !cx.spend(1) {
                    cx.anom.name_budget = true;
                    truncated = true;
                    break;
                }
                hops += 1;
                pos = target;
            }
            _ => {
                // 0x40 (extended) and 0x80 (reserved) label types: length unknown.
                cx.anom.bad_label_type = true;
                match next {
                    Some(_) => break,
                    None => return Err(Undelimited),
                }
            }
        }
    }
    if wire_len > MAX_WIRE_NAME {
        cx.anom.name_too_long = true;
    }
    if truncated {
        cx.anom.name_truncated = true;
    }
    Ok(RawName {
        raw,
        truncated,
        next: next.unwrap_or(pos),
    })
}

/// Presentation form as Suricata logs it: valid UTF-8 is kept as is; otherwise
/// ASCII bytes stay and bytes >= 0x80 become `\xNN`. Case is kept.
pub fn bytes_to_text(raw: Vec<u8>) -> String {
    match String::from_utf8(raw) {
        Ok(s) => s,
        Err(e) => escape_non_utf8(e.as_bytes()),
    }
}

/// Like [`bytes_to_text`] for a borrowed slice.
pub fn slice_to_text(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => escape_non_utf8(raw),
    }
}

fn escape_non_utf8(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    for &b in raw {
        if b < 0x80 {
            out.push(char::from(b));
        } else {
            out.push_str("\\x");
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0F));
        }
    }
    out
}

/// Lowercase form for matching (ASCII only: DNS case-insensitivity is ASCII,
/// and 0x20-randomised resolvers flip only ASCII letters).
pub fn lowercase_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(msg: &[u8], start: usize) -> (Result<DecodedName, Undelimited>, DnsAnomalies) {
        let mut cx = NameCx::new(msg.len());
        let r = read_name(msg, start, &mut cx);
        (r, cx.anom)
    }

    #[test]
    fn plain_name() {
        let msg = b"\x03www\x07example\x03com\x00rest";
        let (r, a) = read(msg, 0);
        let n = r.unwrap();
        assert_eq!(n.text, "www.example.com");
        assert_eq!(n.next, 17);
        assert!(!n.truncated);
        assert!(a.is_empty());
    }

    #[test]
    fn root_name_is_empty_string() {
        let (r, a) = read(b"\x00", 0);
        let n = r.unwrap();
        assert_eq!(n.text, "");
        assert_eq!(n.next, 1);
        assert!(a.is_empty());
    }

    #[test]
    fn backward_pointer() {
        // "example.com" at 0, then "www" + pointer to 0 at 13.
        let msg = b"\x07example\x03com\x00\x03www\xC0\x00";
        let (r, a) = read(msg, 13);
        let n = r.unwrap();
        assert_eq!(n.text, "www.example.com");
        assert_eq!(n.next, 19);
        assert!(a.is_empty());
    }

    #[test]
    fn forward_pointer() {
        // Name at 0 points forward to offset 4 where "fwd.test" lives.
        let msg = b"\x01a\xC0\x04\x03fwd\x04test\x00";
        let (r, a) = read(msg, 0);
        let n = r.unwrap();
        assert_eq!(n.text, "a.fwd.test");
        assert_eq!(n.next, 4);
        assert!(a.is_empty());
    }

    #[test]
    fn self_pointer_is_a_loop() {
        let msg = b"\x01x\xC0\x02";
        let (r, a) = read(msg, 0);
        let n = r.unwrap();
        assert_eq!(n.text, "x");
        assert_eq!(n.next, 4);
        assert!(a.pointer_loop);
    }

    #[test]
    fn two_pointer_loop() {
        // 0: "a" -> ptr 4 ; 4: "b" -> ptr 0
        let msg = b"\x01a\xC0\x04\x01b\xC0\x00";
        let (r, a) = read(msg, 0);
        let n = r.unwrap();
        assert!(a.pointer_loop);
        assert_eq!(n.next, 4);
        // a, b, a again, then the pointer to b is seen a second time.
        assert_eq!(n.text, "a.b.a");
    }

    #[test]
    fn pointer_out_of_message() {
        let msg = b"\x01a\xC0\xFF";
        let (r, a) = read(msg, 0);
        let n = r.unwrap();
        assert_eq!(n.text, "a");
        assert!(a.bad_pointer);
        assert_eq!(n.next, 4);
    }

    #[test]
    fn truncated_label_without_pointer_is_undelimited() {
        let (r, a) = read(b"\x05ab", 0);
        assert_eq!(r.unwrap_err(), Undelimited);
        assert!(a.truncated);
        let (r, _) = read(b"\x03abc", 0);
        assert!(r.is_err());
        let (r, _) = read(b"\x01a\xC0", 0);
        assert!(r.is_err());
    }

    #[test]
    fn extended_label_type() {
        let (r, a) = read(b"\x41abc\x00", 0);
        assert!(r.is_err());
        assert!(a.bad_label_type);
    }

    #[test]
    fn name_at_255_limit_and_over() {
        // Four 62-byte labels: 4*63 + 1 = 253 wire bytes; plus a 1-byte label: 255.
        let mut msg = Vec::new();
        for _ in 0..4 {
            msg.push(62);
            msg.extend_from_slice(&[b'a'; 62]);
        }
        msg.extend_from_slice(b"\x01b\x00");
        let (r, a) = read(&msg, 0);
        let n = r.unwrap();
        assert_eq!(n.text.len(), 4 * 63 + 1);
        assert!(!a.name_too_long);
        assert_eq!(n.next, 255);

        // One more byte in the last label: 256 wire bytes -> flagged, still decoded.
        let mut msg = Vec::new();
        for _ in 0..4 {
            msg.push(62);
            msg.extend_from_slice(&[b'a'; 62]);
        }
        msg.extend_from_slice(b"\x02bb\x00");
        let (r, a) = read(&msg, 0);
        let n = r.unwrap();
        assert!(a.name_too_long);
        assert!(!n.truncated);
        assert!(n.text.ends_with(".bb"));
        assert_eq!(n.next, 256);
    }

    #[test]
    fn name_over_text_cap_is_truncated_but_delimited() {
        // 20 labels of 63 bytes = 1280 characters of text.
        let mut msg = Vec::new();
        for _ in 0..20 {
            msg.push(63);
            msg.extend_from_slice(&[b'z'; 63]);
        }
        msg.push(0);
        msg.extend_from_slice(b"tail");
        let (r, a) = read(&msg, 0);
        let n = r.unwrap();
        assert_eq!(n.text.len(), MAX_NAME_TEXT);
        assert!(n.truncated);
        assert!(a.name_truncated && a.name_too_long);
        assert_eq!(n.next, 20 * 64 + 1);
    }

    #[test]
    fn too_many_labels() {
        let mut msg = Vec::new();
        for _ in 0..300 {
            msg.extend_from_slice(b"\x01q");
        }
        msg.push(0);
        let (r, a) = read(&msg, 0);
        let n = r.unwrap();
        assert!(a.too_many_labels);
        assert!(n.truncated);
        assert_eq!(n.next, 601);
        assert_eq!(n.text.len(), 255 * 2 - 1);
    }

    #[test]
    fn zero_length_label_ends_name() {
        // A zero-length label is the root: the name ends there.
        let msg = b"\x03abc\x00\x03def\x00";
        let (r, _) = read(msg, 0);
        let n = r.unwrap();
        assert_eq!(n.text, "abc");
        assert_eq!(n.next, 5);
    }

    #[test]
    fn non_ascii_bytes_are_escaped_case_kept() {
        let msg = b"\x04Ab\xFFc\x03CoM\x00";
        let (r, _) = read(msg, 0);
        assert_eq!(r.unwrap().text, "Ab\\xffc.CoM");
        // Valid UTF-8 is kept as is (mDNS device names).
        let msg = "\x05caf\u{e9}\x05local\x00".as_bytes();
        let (r, _) = read(msg, 0);
        assert_eq!(r.unwrap().text, "caf\u{e9}.local");
        assert_eq!(
            lowercase_name("2.SeCURednS.aVasT.CoM"),
            "2.securedns.avast.com"
        );
    }
}
