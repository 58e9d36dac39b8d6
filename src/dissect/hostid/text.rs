//! MAC addresses and names as display text.

use std::fmt;

/// Characters kept of a host name; DHCP allows 255 bytes, a NetBIOS name 15.
pub const MAX_NAME_TEXT: usize = 255;

/// An Ethernet (EUI-48) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The address in a 6-byte slice; `None` for any other length.
    pub fn from_slice(b: &[u8]) -> Option<Mac> {
        <[u8; 6]>::try_from(b).ok().map(Mac)
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// Group (multicast/broadcast) addresses are never a host's own.
    pub fn is_group(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// Parses `aa:bb:cc:dd:ee:ff` (or with `-`), either case.
    pub fn parse(s: &str) -> Option<Mac> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in &mut out {
            let p = parts.next()?;
            if p.len() != 2 {
                return None;
            }
            *b = u8::from_str_radix(p, 16).ok()?;
        }
        parts.next().is_none().then_some(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// A name from the wire as text that is safe to print: valid UTF-8 is kept
/// (host names such as "Luca’s iMac" are UTF-8), control characters and
/// bytes of invalid UTF-8 become `\xNN`, a backslash becomes `\\`. Only the
/// first [`MAX_NAME_TEXT`] bytes are read (a character cut there is escaped),
/// so the text is at most 4 × [`MAX_NAME_TEXT`] bytes.
pub fn display_text(raw: &[u8]) -> String {
    let raw = raw.get(..MAX_NAME_TEXT).unwrap_or(raw);
    let mut out = String::with_capacity(raw.len());
    let push_hex = |out: &mut String, b: u8| {
        out.push_str(&format!("\\x{b:02x}"));
    };
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for &b in c.encode_utf8(&mut buf).as_bytes() {
                        push_hex(&mut out, b);
                    }
                }
                c => out.push(c),
            }
        }
        for &b in chunk.invalid() {
            push_hex(&mut out, b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trips_through_text() {
        let m = Mac([0xd8, 0x30, 0x62, 0x56, 0x00, 0x1c]);
        assert_eq!(m.to_string(), "d8:30:62:56:00:1c");
        assert_eq!(Mac::parse("D8-30-62-56-00-1C"), Some(m));
        assert_eq!(Mac::parse("d8:30:62:56:00"), None);
        assert_eq!(Mac::parse("d8:30:62:56:00:1c:00"), None);
        assert!(Mac([1, 0, 0x5e, 0, 0, 1]).is_group());
    }

    #[test]
    fn display_text_escapes_controls_and_bad_utf8() {
        assert_eq!(display_text("Luca’s iMac".as_bytes()), "Luca’s iMac");
        assert_eq!(display_text(b"a\x00b\x1b[31m"), "a\\x00b\\x1b[31m");
        assert_eq!(display_text(b"ok\xff\\"), "ok\\xff\\\\");
        assert_eq!(display_text(&[b'x'; 400]).len(), MAX_NAME_TEXT);
        // C1 controls are 2 bytes of UTF-8 and 8 bytes escaped: still bounded.
        let c1 = "\u{85}".repeat(300);
        assert_eq!(display_text(c1.as_bytes()).len(), MAX_NAME_TEXT / 2 * 8 + 4);
        assert!(display_text(c1.as_bytes()).len() <= 4 * MAX_NAME_TEXT);
    }
}
