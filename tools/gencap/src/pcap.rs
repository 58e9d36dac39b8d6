//! Capture file writers: classic pcap (microsecond, little-endian) and a minimal pcapng
//! (one section, one Ethernet interface, Enhanced Packet Blocks). Both stream to any `Write`.

use std::io::{self, Write};

pub const LINKTYPE_ETHERNET: u32 = 1;
const SNAPLEN: u32 = 65_535;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Classic libpcap, microsecond timestamps, little-endian.
    Pcap,
    /// pcapng: SHB + one IDB (Ethernet, microseconds) + EPBs.
    Pcapng,
}

/// Streams packets into a capture file. Timestamps are microseconds since the Unix epoch.
pub struct CaptureWriter<W: Write> {
    out: W,
    format: Format,
    pub packets: u64,
    /// Bytes written to the file, headers included.
    pub file_bytes: u64,
    /// Sum of captured frame lengths.
    pub frame_bytes: u64,
}

impl<W: Write> CaptureWriter<W> {
    pub fn new(mut out: W, format: Format) -> io::Result<Self> {
        let mut file_bytes = 0u64;
        match format {
            Format::Pcap => {
                let mut h = [0u8; 24];
                put(&mut h, 0, &0xa1b2_c3d4u32.to_le_bytes());
                put(&mut h, 4, &2u16.to_le_bytes());
                put(&mut h, 6, &4u16.to_le_bytes());
                // thiszone and sigfigs stay 0
                put(&mut h, 16, &SNAPLEN.to_le_bytes());
                put(&mut h, 20, &LINKTYPE_ETHERNET.to_le_bytes());
                out.write_all(&h)?;
                file_bytes += 24;
            }
            Format::Pcapng => {
                // Section Header Block, no options, section length unknown (-1).
                let mut shb = Vec::with_capacity(28);
                shb.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
                shb.extend_from_slice(&28u32.to_le_bytes());
                shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
                shb.extend_from_slice(&1u16.to_le_bytes());
                shb.extend_from_slice(&0u16.to_le_bytes());
                shb.extend_from_slice(&u64::MAX.to_le_bytes());
                shb.extend_from_slice(&28u32.to_le_bytes());
                // Interface Description Block: Ethernet; default if_tsresol is microseconds.
                let mut idb = Vec::with_capacity(20);
                idb.extend_from_slice(&1u32.to_le_bytes());
                idb.extend_from_slice(&20u32.to_le_bytes());
                idb.extend_from_slice(&(LINKTYPE_ETHERNET as u16).to_le_bytes());
                idb.extend_from_slice(&0u16.to_le_bytes());
                idb.extend_from_slice(&SNAPLEN.to_le_bytes());
                idb.extend_from_slice(&20u32.to_le_bytes());
                out.write_all(&shb)?;
                out.write_all(&idb)?;
                file_bytes += 48;
            }
        }
        Ok(Self {
            out,
            format,
            packets: 0,
            file_bytes,
            frame_bytes: 0,
        })
    }

    /// Writes one frame given as consecutive parts (header template, payload...), so callers
    /// on the hot path never have to concatenate into a temporary buffer.
    pub fn write_parts(&mut self, ts_us: u64, parts: &[&[u8]]) -> io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len32 = u32::try_from(len).map_err(|_| io::Error::other("frame too large"))?;
        match self.format {
            Format::Pcap => {
                let mut h = [0u8; 16];
                put(&mut h, 0, &((ts_us / 1_000_000) as u32).to_le_bytes());
                put(&mut h, 4, &((ts_us % 1_000_000) as u32).to_le_bytes());
                put(&mut h, 8, &len32.to_le_bytes());
                put(&mut h, 12, &len32.to_le_bytes());
                self.out.write_all(&h)?;
                for p in parts {
                    self.out.write_all(p)?;
                }
                self.file_bytes += 16 + len as u64;
            }
            Format::Pcapng => {
                let pad = (4 - len % 4) % 4;
                let block_len = 32 + len + pad;
                let bl =
                    u32::try_from(block_len).map_err(|_| io::Error::other("frame too large"))?;
                let mut h = [0u8; 28];
                put(&mut h, 0, &6u32.to_le_bytes());
                put(&mut h, 4, &bl.to_le_bytes());
                // interface id 0 at offset 8
                put(&mut h, 12, &((ts_us >> 32) as u32).to_le_bytes());
                put(&mut h, 16, &(ts_us as u32).to_le_bytes());
                put(&mut h, 20, &len32.to_le_bytes());
                put(&mut h, 24, &len32.to_le_bytes());
                self.out.write_all(&h)?;
                for p in parts {
                    self.out.write_all(p)?;
                }
                self.out
                    .write_all([0u8; 3].get(..pad).unwrap_or_default())?;
                self.out.write_all(&bl.to_le_bytes())?;
                self.file_bytes += block_len as u64;
            }
        }
        self.packets += 1;
        self.frame_bytes += len as u64;
        Ok(())
    }

    pub fn write(&mut self, ts_us: u64, frame: &[u8]) -> io::Result<()> {
        self.write_parts(ts_us, &[frame])
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Copies `src` into `dst` at `at`; out-of-range parts are ignored (callers use fixed layouts).
fn put(dst: &mut [u8], at: usize, src: &[u8]) {
    if let Some(d) = dst.get_mut(at..at + src.len()) {
        d.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_header_and_record_layout() {
        let mut w = CaptureWriter::new(Vec::new(), Format::Pcap).unwrap();
        w.write(1_700_000_000_123_456, &[0xaa, 0xbb, 0xcc]).unwrap();
        assert_eq!(w.packets, 1);
        assert_eq!(w.frame_bytes, 3);
        let b = w.finish().unwrap();
        assert_eq!(
            b,
            [
                0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0,
                0, 0, // global header
                0x00, 0xf1, 0x53, 0x65, // 1_700_000_000 s
                0x40, 0xe2, 0x01, 0x00, // 123_456 us
                3, 0, 0, 0, 3, 0, 0, 0, 0xaa, 0xbb, 0xcc
            ]
        );
    }

    #[test]
    fn pcapng_blocks_are_padded_and_sized() {
        let mut w = CaptureWriter::new(Vec::new(), Format::Pcapng).unwrap();
        w.write((1u64 << 32) + 5, &[1, 2, 3, 4, 5]).unwrap();
        let size = w.file_bytes;
        let b = w.finish().unwrap();
        assert_eq!(b.len() as u64, size);
        assert_eq!(b.len(), 28 + 20 + 32 + 8);
        let epb = &b[48..];
        assert_eq!(&epb[0..4], &6u32.to_le_bytes());
        assert_eq!(&epb[4..8], &40u32.to_le_bytes());
        assert_eq!(&epb[12..16], &1u32.to_le_bytes());
        assert_eq!(&epb[16..20], &5u32.to_le_bytes());
        assert_eq!(&epb[28..33], &[1, 2, 3, 4, 5]);
        assert_eq!(&epb[33..36], &[0, 0, 0]);
        assert_eq!(&epb[36..40], &40u32.to_le_bytes());
    }
}
