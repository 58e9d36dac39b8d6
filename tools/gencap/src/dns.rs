//! DNS messages with name compression, as a resolver would send them.

use serde::Serialize;
use std::net::IpAddr;

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;

/// One resource record of an answer section.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: &'static str,
    pub ttl: u32,
    pub data: String,
}

#[derive(Clone, Debug)]
pub enum RData {
    Addr(IpAddr),
    Cname(String),
    Txt(String),
}

struct Writer {
    buf: Vec<u8>,
    /// Names already written (lower-case) and their offsets, for compression pointers.
    names: Vec<(String, u16)>,
}

impl Writer {
    fn name(&mut self, name: &str) {
        let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
        for i in 0..labels.len() {
            let suffix = labels
                .iter()
                .skip(i)
                .copied()
                .collect::<Vec<_>>()
                .join(".")
                .to_ascii_lowercase();
            if let Some((_, off)) = self.names.iter().find(|(n, _)| *n == suffix) {
                self.buf.extend_from_slice(&(0xc000 | off).to_be_bytes());
                return;
            }
            if self.buf.len() < 0x3fff {
                self.names.push((suffix, self.buf.len() as u16));
            }
            if let Some(l) = labels.get(i) {
                self.buf.push(l.len() as u8);
                self.buf.extend_from_slice(l.as_bytes());
            }
        }
        self.buf.push(0);
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
}

/// A query or response. `answers` are (owner, ttl, data); `edns` adds an OPT record with the
/// given UDP payload size.
pub struct Message<'a> {
    pub id: u16,
    pub response: bool,
    pub qname: &'a str,
    pub qtype: u16,
    pub answers: &'a [(String, u32, RData)],
    pub edns: Option<u16>,
}

impl Message<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer {
            buf: Vec::with_capacity(512),
            names: Vec::new(),
        };
        w.u16(self.id);
        // QR, RD (+RA in responses); rcode NOERROR
        w.u16(if self.response { 0x8180 } else { 0x0100 });
        w.u16(1);
        w.u16(if self.response {
            self.answers.len() as u16
        } else {
            0
        });
        w.u16(0);
        w.u16(u16::from(self.edns.is_some()));
        w.name(self.qname);
        w.u16(self.qtype);
        w.u16(1);
        if self.response {
            for (owner, ttl, data) in self.answers {
                w.name(owner);
                let t = match data {
                    RData::Addr(IpAddr::V4(_)) => TYPE_A,
                    RData::Addr(IpAddr::V6(_)) => TYPE_AAAA,
                    RData::Cname(_) => TYPE_CNAME,
                    RData::Txt(_) => TYPE_TXT,
                };
                w.u16(t);
                w.u16(1);
                w.buf.extend_from_slice(&ttl.to_be_bytes());
                let len_at = w.buf.len();
                w.u16(0);
                match data {
                    RData::Addr(IpAddr::V4(a)) => w.buf.extend_from_slice(&a.octets()),
                    RData::Addr(IpAddr::V6(a)) => w.buf.extend_from_slice(&a.octets()),
                    RData::Cname(n) => w.name(n),
                    RData::Txt(s) => {
                        for chunk in s.as_bytes().chunks(255) {
                            w.buf.push(chunk.len() as u8);
                            w.buf.extend_from_slice(chunk);
                        }
                    }
                }
                let rdlen = (w.buf.len() - len_at - 2) as u16;
                if let Some(d) = w.buf.get_mut(len_at..len_at + 2) {
                    d.copy_from_slice(&rdlen.to_be_bytes());
                }
            }
        }
        if let Some(size) = self.edns {
            w.buf.push(0); // root
            w.u16(41);
            w.u16(size);
            w.buf.extend_from_slice(&[0, 0, 0, 0]);
            w.u16(0);
        }
        w.buf
    }
}

pub fn describe(answers: &[(String, u32, RData)]) -> Vec<Record> {
    answers
        .iter()
        .map(|(name, ttl, d)| {
            let (rtype, data) = match d {
                RData::Addr(IpAddr::V4(a)) => ("A", a.to_string()),
                RData::Addr(IpAddr::V6(a)) => ("AAAA", a.to_string()),
                RData::Cname(n) => ("CNAME", n.clone()),
                RData::Txt(t) => ("TXT", t.clone()),
            };
            Record {
                name: name.clone(),
                rtype,
                ttl: *ttl,
                data,
            }
        })
        .collect()
}

pub fn qtype_name(t: u16) -> &'static str {
    match t {
        TYPE_A => "A",
        TYPE_AAAA => "AAAA",
        TYPE_CNAME => "CNAME",
        TYPE_TXT => "TXT",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn cname_chain_uses_compression_pointers() {
        let answers = vec![
            (
                "a.example.com".to_string(),
                60,
                RData::Cname("b.cdn.example.net".into()),
            ),
            (
                "b.cdn.example.net".to_string(),
                30,
                RData::Addr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            ),
        ];
        let m = Message {
            id: 0x1234,
            response: true,
            qname: "a.example.com",
            qtype: TYPE_A,
            answers: &answers,
            edns: None,
        };
        let b = m.encode();
        let want: Vec<u8> = [
            &[0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0][..],
            b"\x01a\x07example\x03com\x00",
            &[0, 1, 0, 1],
            // answer 1: owner = pointer to offset 12
            &[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 19],
            b"\x01b\x03cdn\x07example\x03net\x00",
            // answer 2: owner = pointer to the CNAME target at offset 43
            &[0xc0, 43, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 1],
        ]
        .concat();
        assert_eq!(b, want);
    }

    #[test]
    fn query_with_edns() {
        let m = Message {
            id: 1,
            response: false,
            qname: "x.y",
            qtype: TYPE_AAAA,
            answers: &[],
            edns: Some(1232),
        };
        let b = m.encode();
        assert_eq!(&b[2..4], &[0x01, 0x00]);
        assert_eq!(&b[10..12], &[0, 1]);
        assert_eq!(
            &b[b.len() - 11..],
            &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]
        );
    }
}
