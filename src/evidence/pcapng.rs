//! A minimal pcapng encoder: Section Header, Interface Description and
//! Enhanced Packet Blocks with comments, little-endian.
//!
//! Written here rather than with pcap-parser's `serialize` feature: that
//! builds block structs and a `Vec` per block through cookie-factory, while
//! evidence files need three block types appended to a reused buffer, with
//! blocks that may be added to a file reopened for appending (an Interface
//! Description may appear anywhere in a section before the packets that use
//! it). Reading back is checked with pcap-parser and tshark in the tests.

/// Block types (pcapng specification, section 4).
const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Option codes.
const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_TSRESOL: u16 = 9;

/// Longest option value (the length field is 16 bits, padded to 4).
const MAX_OPTION: usize = 65_532;
/// Snap length written in Interface Descriptions: frames are copied as captured.
pub const SNAPLEN: u32 = 262_144;

fn u16le(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn u32le(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn pad4(buf: &mut Vec<u8>, len: usize) {
    buf.extend(std::iter::repeat_n(0u8, (4 - len % 4) % 4));
}

/// The longest prefix of `s` that fits an option and ends on a char boundary.
fn clip(s: &str) -> &str {
    if s.len() <= MAX_OPTION {
        return s;
    }
    let mut end = MAX_OPTION;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

fn option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    u16le(buf, code);
    u16le(buf, value.len() as u16);
    buf.extend_from_slice(value);
    pad4(buf, value.len());
}

fn end_options(buf: &mut Vec<u8>) {
    u16le(buf, OPT_ENDOFOPT);
    u16le(buf, 0);
}

/// Starts a block at the end of `buf`; returns where it starts.
fn begin(buf: &mut Vec<u8>, block_type: u32) -> usize {
    let start = buf.len();
    u32le(buf, block_type);
    u32le(buf, 0); // total length, patched by `finish`
    start
}

/// Writes the block's total length at both ends.
fn finish(buf: &mut Vec<u8>, start: usize) {
    let total = (buf.len() - start + 4) as u32;
    if let Some(len) = buf.get_mut(start + 4..start + 8) {
        len.copy_from_slice(&total.to_le_bytes());
    }
    u32le(buf, total);
}

/// A Section Header Block with one `opt_comment` per comment and the writing
/// application's name; the section length is left unspecified (-1).
pub fn section_header(buf: &mut Vec<u8>, comments: &[&str], application: &str) {
    let start = begin(buf, SHB);
    u32le(buf, BYTE_ORDER_MAGIC);
    u16le(buf, 1); // major
    u16le(buf, 0); // minor
    buf.extend_from_slice(&u64::MAX.to_le_bytes());
    for c in comments {
        option(buf, OPT_COMMENT, clip(c).as_bytes());
    }
    option(buf, SHB_USERAPPL, clip(application).as_bytes());
    end_options(buf);
    finish(buf, start);
}

/// An Interface Description Block for `linktype`, timestamps in nanoseconds.
pub fn interface(buf: &mut Vec<u8>, linktype: u16) {
    let start = begin(buf, IDB);
    u16le(buf, linktype);
    u16le(buf, 0); // reserved
    u32le(buf, SNAPLEN);
    // if_tsresol 9: 10^-9 s, so capture times are kept to the nanosecond.
    option(buf, IF_TSRESOL, &[9]);
    end_options(buf);
    finish(buf, start);
}

/// An Enhanced Packet Block: the frame as captured, its length on the wire,
/// the capture time in ns since the epoch, and an optional comment.
pub fn packet(
    buf: &mut Vec<u8>,
    interface_id: u32,
    ts_ns: u64,
    frame: &[u8],
    origlen: u32,
    comment: Option<&str>,
) {
    let start = begin(buf, EPB);
    u32le(buf, interface_id);
    u32le(buf, (ts_ns >> 32) as u32);
    u32le(buf, ts_ns as u32);
    let caplen = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    u32le(buf, caplen);
    u32le(buf, origlen.max(caplen));
    buf.extend_from_slice(frame);
    pad4(buf, frame.len());
    if let Some(c) = comment {
        option(buf, OPT_COMMENT, clip(c).as_bytes());
        end_options(buf);
    }
    finish(buf, start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_parser::pcapng::{parse_block_le, Block};

    /// Parses every block of `data` with pcap-parser, calling `f` on each.
    fn each_block(mut data: &[u8], mut f: impl FnMut(&Block<'_>)) -> usize {
        let mut n = 0;
        while !data.is_empty() {
            let (rest, b) = parse_block_le(data).unwrap();
            f(&b);
            n += 1;
            data = rest;
        }
        n
    }

    fn comments(opts: &[pcap_parser::PcapNGOption<'_>]) -> Vec<String> {
        opts.iter()
            .filter(|o| o.code == pcap_parser::OptionCode::Comment)
            .map(|o| String::from_utf8(o.value[..usize::from(o.len)].to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn blocks_parse_back_with_pcap_parser() {
        let mut buf = Vec::new();
        section_header(&mut buf, &["finding: a", "second"], "phonehome test");
        interface(&mut buf, 1);
        interface(&mut buf, 101);
        let frame: Vec<u8> = (0u8..61).collect();
        packet(
            &mut buf,
            0,
            1_741_003_200_123_456_789,
            &frame,
            1514,
            Some("flow x"),
        );
        packet(&mut buf, 1, 5, &[1, 2, 3, 4], 0, None);
        assert_eq!(buf.len() % 4, 0);
        let mut seen = Vec::new();
        let n = each_block(&buf, |b| match b {
            Block::SectionHeader(s) => {
                assert_eq!(
                    (s.major_version, s.minor_version, s.section_len),
                    (1, 0, -1)
                );
                assert_eq!(comments(&s.options), ["finding: a", "second"]);
                seen.push("shb".to_string());
            }
            Block::InterfaceDescription(i) => {
                assert_eq!(i.if_tsresol, 9);
                assert_eq!(i.snaplen, SNAPLEN);
                seen.push(format!("idb {}", i.linktype.0));
            }
            Block::EnhancedPacket(e) => {
                let ts = (u64::from(e.ts_high) << 32) | u64::from(e.ts_low);
                let data = e.data.get(..e.caplen as usize).unwrap();
                seen.push(format!(
                    "epb if{} ts{ts} cap{} orig{} {:?}",
                    e.if_id,
                    e.caplen,
                    e.origlen,
                    comments(&e.options)
                ));
                if e.if_id == 0 {
                    assert_eq!(data, &frame[..]);
                } else {
                    assert_eq!(data, [1, 2, 3, 4]);
                }
            }
            other => panic!("unexpected block {other:?}"),
        });
        assert_eq!(n, 5);
        assert_eq!(
            seen,
            [
                "shb",
                "idb 1",
                "idb 101",
                "epb if0 ts1741003200123456789 cap61 orig1514 [\"flow x\"]",
                // An origlen below the captured length is raised to it.
                "epb if1 ts5 cap4 orig4 []",
            ]
        );
    }

    #[test]
    fn the_capture_reader_reads_it_back_to_the_nanosecond() {
        let mut buf = Vec::new();
        section_header(&mut buf, &["c"], "t");
        interface(&mut buf, 1);
        packet(
            &mut buf,
            0,
            1_600_000_000_000_000_001,
            &[0xaa; 14],
            60,
            Some("é"),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pcapng");
        std::fs::write(&path, &buf).unwrap();
        let mut f = crate::capture::CaptureFile::open(&path).unwrap();
        let mut block = crate::capture::Block::default();
        assert!(f.fill(&mut block, 1 << 16).unwrap());
        assert_eq!(block.packets.len(), 1);
        let p = block.packets[0];
        assert_eq!(
            (p.ts_ns, p.caplen, p.origlen, p.linktype),
            (1_600_000_000_000_000_001, 14, 60, 1)
        );
        assert_eq!(block.bytes(&p), [0xaa; 14]);
    }

    #[test]
    fn long_comments_are_cut_on_a_char_boundary() {
        let long = "é".repeat(40_000); // 80 000 bytes
        let c = clip(&long);
        assert!(c.len() <= MAX_OPTION && c.len() >= MAX_OPTION - 1);
        assert!(long.starts_with(c));
        let mut buf = Vec::new();
        packet(&mut buf, 0, 0, &[0; 3], 3, Some(&long));
        let (_, b) = parse_block_le(&buf).unwrap();
        let Block::EnhancedPacket(e) = b else {
            panic!("not an EPB")
        };
        assert_eq!(comments(&e.options), [c.to_string()]);
    }
}
