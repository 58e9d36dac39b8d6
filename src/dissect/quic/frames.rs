//! Frames of a decrypted Initial payload.
//!
//! IETF frames (RFC 9000 §19, plus DATAGRAM from RFC 9221) are all walked by
//! their encodings so that a CRYPTO frame behind an unexpected frame is still
//! found; an unknown type ends the walk, since its length cannot be known.
//! Google's Q050/T05x use their own numbering: PADDING, PING (0x07), ACK
//! (0x40–0x7f) and CRYPTO (0x08) are enough for a client's first packets.

use super::version::FrameSyntax;
use super::wire::Reader;

/// One frame; only what the dissector needs is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A run of PADDING bytes.
    Padding(usize),
    Ping,
    Ack {
        largest: u64,
    },
    Crypto {
        offset: u64,
        data: &'a [u8],
    },
    ConnectionClose {
        error_code: u64,
        /// Frame type that caused the close (transport-level close only).
        frame_type: Option<u64>,
        reason: &'a [u8],
    },
    /// Any other known frame, skipped by its encoding.
    Other {
        frame_type: u64,
    },
}

/// Why the frame walk stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame type {0:#x} is cut short")]
    Truncated(u64),
    #[error("unknown frame type {0:#x}")]
    Unknown(u64),
}

/// Iterator over the frames of a payload; yields at most one error, then ends.
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    r: Reader<'a>,
    syntax: FrameSyntax,
    done: bool,
}

impl<'a> Frames<'a> {
    pub fn new(payload: &'a [u8], syntax: FrameSyntax) -> Self {
        Frames {
            r: Reader::new(payload),
            syntax,
            done: false,
        }
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.r.is_empty() {
            return None;
        }
        let start = self.r.clone();
        let item = match self.syntax {
            FrameSyntax::Ietf => ietf_frame(&mut self.r),
            FrameSyntax::Google => google_frame(&mut self.r),
        };
        if item.is_err() {
            self.done = true;
            // Keep the reader at the frame that failed, for diagnostics.
            self.r = start;
        }
        Some(item)
    }
}

/// Skips a run of PADDING (zero bytes), eight at a time: a client Initial
/// is padded to 1200 bytes, often with most of it (callgrind: ~3
/// instructions a byte counted one by one).
fn padding(r: &mut Reader<'_>) -> usize {
    let rest = r.rest();
    let zero_words = rest
        .chunks_exact(8)
        .take_while(|w| <[u8; 8]>::try_from(*w).is_ok_and(|w| u64::from_ne_bytes(w) == 0))
        .count();
    let n = zero_words * 8
        + rest
            .get(zero_words * 8..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| b == 0)
            .count();
    let _ = r.skip(n);
    n
}

fn ietf_frame<'a>(r: &mut Reader<'a>) -> Result<Frame<'a>, FrameError> {
    if r.peek_u8() == Some(0) {
        return Ok(Frame::Padding(padding(r)));
    }
    let ty = r.varint().ok_or(FrameError::Truncated(0))?;
    let t = FrameError::Truncated(ty);
    let vi = |r: &mut Reader<'a>| r.varint().ok_or(t);
    let frame = match ty {
        0x01 => Frame::Ping,
        0x02 | 0x03 => {
            let largest = vi(r)?;
            let _delay = vi(r)?;
            let ranges = vi(r)?;
            let _first = vi(r)?;
            // Each range is two varints of at least one byte: bound the loop by the input.
            if ranges > r.remaining() as u64 {
                return Err(t);
            }
            for _ in 0..ranges {
                vi(r)?;
                vi(r)?;
            }
            if ty == 0x03 {
                for _ in 0..3 {
                    vi(r)?;
                }
            }
            Frame::Ack { largest }
        }
        0x04 => skip_varints(r, 3, ty)?,
        0x05 => skip_varints(r, 2, ty)?,
        0x06 => {
            let offset = vi(r)?;
            let len = vi(r)?;
            let data = r.take_u64(len).ok_or(t)?;
            Frame::Crypto { offset, data }
        }
        0x07 => {
            let len = vi(r)?;
            r.take_u64(len).ok_or(t)?;
            Frame::Other { frame_type: ty }
        }
        0x08..=0x0f => {
            vi(r)?;
            if ty & 0x04 != 0 {
                vi(r)?;
            }
            if ty & 0x02 != 0 {
                let len = vi(r)?;
                r.take_u64(len).ok_or(t)?;
            } else {
                r.take_rest();
            }
            Frame::Other { frame_type: ty }
        }
        0x10 | 0x12 | 0x13 | 0x14 | 0x16 | 0x17 | 0x19 => skip_varints(r, 1, ty)?,
        0x11 | 0x15 => skip_varints(r, 2, ty)?,
        0x18 => {
            vi(r)?;
            vi(r)?;
            let len = r.u8().ok_or(t)?;
            r.skip(usize::from(len) + 16).ok_or(t)?;
            Frame::Other { frame_type: ty }
        }
        0x1a | 0x1b => {
            r.skip(8).ok_or(t)?;
            Frame::Other { frame_type: ty }
        }
        0x1c | 0x1d => {
            let error_code = vi(r)?;
            let frame_type = if ty == 0x1c { Some(vi(r)?) } else { None };
            let len = vi(r)?;
            let reason = r.take_u64(len).ok_or(t)?;
            Frame::ConnectionClose {
                error_code,
                frame_type,
                reason,
            }
        }
        0x1e => Frame::Other { frame_type: ty },
        0x30 => {
            r.take_rest();
            Frame::Other { frame_type: ty }
        }
        0x31 => {
            let len = vi(r)?;
            r.take_u64(len).ok_or(t)?;
            Frame::Other { frame_type: ty }
        }
        _ => return Err(FrameError::Unknown(ty)),
    };
    Ok(frame)
}

fn skip_varints<'a>(r: &mut Reader<'a>, n: usize, ty: u64) -> Result<Frame<'a>, FrameError> {
    for _ in 0..n {
        r.varint().ok_or(FrameError::Truncated(ty))?;
    }
    Ok(Frame::Other { frame_type: ty })
}

/// Bytes of a Google ACK field from its 2-bit length code.
fn google_len(code: u8) -> usize {
    match code & 0x03 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => 6,
    }
}

pub(crate) fn google_frame<'a>(r: &mut Reader<'a>) -> Result<Frame<'a>, FrameError> {
    let Some(ty) = r.peek_u8() else {
        return Err(FrameError::Truncated(0));
    };
    if ty == 0 {
        return Ok(Frame::Padding(padding(r)));
    }
    let _ = r.u8();
    let t = FrameError::Truncated(u64::from(ty));
    match ty {
        0x07 => Ok(Frame::Ping),
        0x08 => {
            let offset = r.varint().ok_or(t)?;
            let len = r.varint().ok_or(t)?;
            let data = r.take_u64(len).ok_or(t)?;
            Ok(Frame::Crypto { offset, data })
        }
        0x40..=0x7f => {
            // 01nullmm: n = several ack blocks, ll/mm = field length codes.
            let largest = r.uint_be(google_len(ty >> 2)).ok_or(t)?;
            r.skip(2).ok_or(t)?; // ack delay
            let blocks = if ty & 0x20 != 0 { r.u8().ok_or(t)? } else { 0 };
            let block_len = google_len(ty);
            r.skip(block_len).ok_or(t)?;
            for _ in 0..blocks {
                r.skip(1 + block_len).ok_or(t)?;
            }
            let timestamps = r.u8().ok_or(t)?;
            if timestamps > 0 {
                r.skip(1 + 4).ok_or(t)?;
                r.skip(usize::from(timestamps - 1) * 3).ok_or(t)?;
            }
            Ok(Frame::Ack { largest })
        }
        _ => Err(FrameError::Unknown(u64::from(ty))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn ietf(p: &[u8]) -> Vec<Result<Frame<'_>, FrameError>> {
        Frames::new(p, FrameSyntax::Ietf).collect()
    }

    #[test]
    fn padding_runs_of_any_length_and_alignment() {
        for lead in 0..3 {
            for n in 1..40 {
                // `lead` PINGs shift the run off word alignment; a PING after
                // the run, then a run to the end of the payload.
                let mut p = vec![1u8; lead];
                p.extend(std::iter::repeat_n(0, n));
                p.push(1);
                p.extend(std::iter::repeat_n(0, n + 5));
                let mut want = vec![Ok(Frame::Ping); lead];
                want.extend([
                    Ok(Frame::Padding(n)),
                    Ok(Frame::Ping),
                    Ok(Frame::Padding(n + 5)),
                ]);
                assert_eq!(ietf(&p), want, "lead {lead} run {n}");
            }
        }
    }

    #[test]
    fn initial_frames() {
        // PING, ACK(largest 5, 1 range), CRYPTO(off 0, "abc"), PADDING x3,
        // CRYPTO(off 3, "de") with a 2-byte offset, CONNECTION_CLOSE.
        let p = hex(
            "01 02 05 00 01 00 01 01 06 00 03 616263 000000 06 4003 02 6465 \
             1c 0a 06 02 6869",
        );
        let got = ietf(&p);
        assert_eq!(
            got,
            vec![
                Ok(Frame::Ping),
                Ok(Frame::Ack { largest: 5 }),
                Ok(Frame::Crypto {
                    offset: 0,
                    data: b"abc"
                }),
                Ok(Frame::Padding(3)),
                Ok(Frame::Crypto {
                    offset: 3,
                    data: b"de"
                }),
                Ok(Frame::ConnectionClose {
                    error_code: 10,
                    frame_type: Some(6),
                    reason: b"hi"
                }),
            ]
        );
    }

    #[test]
    fn other_frames_are_skipped_by_encoding() {
        // NEW_TOKEN, STREAM with offset+len, MAX_DATA, NEW_CONNECTION_ID,
        // PATH_CHALLENGE, HANDSHAKE_DONE, DATAGRAM with length, then CRYPTO.
        let mut p = hex("07 02 aabb 0e 04 10 02 6869 10 4100");
        p.extend(hex("18 01 00 04 01020304"));
        p.extend([0x55; 16]);
        p.extend(hex("1a 0102030405060708 1e 31 01 ff 06 00 01 7a"));
        let got: Vec<_> = ietf(&p).into_iter().map(|f| f.unwrap()).collect();
        let types: Vec<_> = got
            .iter()
            .map(|f| match f {
                Frame::Other { frame_type } => *frame_type,
                Frame::Crypto { .. } => 6,
                _ => 999,
            })
            .collect();
        assert_eq!(types, vec![0x07, 0x0e, 0x10, 0x18, 0x1a, 0x1e, 0x31, 0x06]);
        assert_eq!(
            got[7],
            Frame::Crypto {
                offset: 0,
                data: b"z"
            }
        );
    }

    #[test]
    fn unknown_and_truncated_stop_the_walk() {
        let p = hex("01 21 06 00 01 7a");
        assert_eq!(
            ietf(&p),
            vec![Ok(Frame::Ping), Err(FrameError::Unknown(0x21))]
        );
        // CRYPTO length beyond the payload.
        let p = hex("06 00 05 6162");
        assert_eq!(ietf(&p), vec![Err(FrameError::Truncated(6))]);
        // ACK whose range count cannot be satisfied by the bytes left.
        let p = hex("02 05 00 7fff 00");
        assert_eq!(ietf(&p), vec![Err(FrameError::Truncated(2))]);
        // Frame type varint cut short.
        assert_eq!(ietf(&hex("40")), vec![Err(FrameError::Truncated(0))]);
    }

    #[test]
    fn google_frames() {
        // ACK (0x40: 1-byte largest, 1-byte block, 0 timestamps), CRYPTO, PADDING.
        let p = hex("40 07 0000 07 00 08 00 02 4348 0000");
        let got: Vec<_> = Frames::new(&p, FrameSyntax::Google).collect();
        assert_eq!(
            got,
            vec![
                Ok(Frame::Ack { largest: 7 }),
                Ok(Frame::Crypto {
                    offset: 0,
                    data: b"CH"
                }),
                Ok(Frame::Padding(2)),
            ]
        );
        let p = hex("07 0b");
        let got: Vec<_> = Frames::new(&p, FrameSyntax::Google).collect();
        assert_eq!(got, vec![Ok(Frame::Ping), Err(FrameError::Unknown(0x0b))]);
    }
}
