//! Memo of fingerprint digests. A network has a handful of TLS client stacks,
//! so the strings JA3 and JA4 hash repeat across flows: the MD5 or SHA-256 of
//! a string seen before is looked up instead of computed (one digest cost
//! ~10,000 instructions, a lookup ~100). Per thread, so no locks; a fixed
//! number of slots whose buffers are reused, so no allocation once warm and
//! bounded memory (slots × `MAX_INPUT`).
//!
//! One level up, whole fingerprints are remembered too ([`ja3_object`],
//! [`ja4`]): keyed on a compact binary form of what they depend on, which is
//! cheaper to build and compare than the decimal and hex strings they hash
//! (callgrind, bench seed: ~6,100 instructions a ClientHello for JA3 + JA4).

use std::cell::RefCell;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use rustc_hash::FxHasher;

const SLOTS: usize = 256;
/// Longer inputs (rare, hostile or huge hellos) are hashed every time.
const MAX_INPUT: usize = 2048;

struct Slot<const N: usize> {
    input: Vec<u8>,
    digest: [u8; N],
    used: bool,
}

struct Memo<const N: usize> {
    slots: Vec<Slot<N>>,
}

impl<const N: usize> Memo<N> {
    fn new() -> Self {
        let slots = (0..SLOTS)
            .map(|_| Slot {
                input: Vec::new(),
                digest: [0; N],
                used: false,
            })
            .collect();
        Memo { slots }
    }

    /// `compute(input)`, or its remembered value for an input seen before.
    fn get(&mut self, input: &[u8], compute: impl FnOnce(&[u8]) -> [u8; N]) -> [u8; N] {
        if input.len() > MAX_INPUT {
            return compute(input);
        }
        let h = BuildHasherDefault::<FxHasher>::default().hash_one(input);
        let Some(slot) = self.slots.get_mut(h as usize % SLOTS) else {
            return compute(input);
        };
        if slot.used && slot.input == input {
            return slot.digest;
        }
        let digest = compute(input);
        slot.input.clear();
        slot.input.extend_from_slice(input);
        slot.digest = digest;
        slot.used = true;
        digest
    }
}

/// Longest fingerprint text kept (a JA3 object of a large hello is a few
/// hundred bytes); longer ones are computed every time.
const MAX_VALUE: usize = 1024;

struct BytesSlot {
    key: Vec<u16>,
    value: Vec<u8>,
    used: bool,
}

/// Like [`Memo`], for text of any length keyed on numbers the caller
/// lists (the u16 lists of a hello copy into it in one go).
struct BytesMemo {
    slots: Vec<BytesSlot>,
    /// The key being looked up (reused, so no allocation per lookup).
    key: Vec<u16>,
}

impl BytesMemo {
    fn new() -> Self {
        let slots = (0..SLOTS)
            .map(|_| BytesSlot {
                key: Vec::new(),
                value: Vec::new(),
                used: false,
            })
            .collect();
        BytesMemo {
            slots,
            key: Vec::new(),
        }
    }

    /// Appends to `out` what `compute` appends, or its remembered value for
    /// the key `key` writes. Two calls with equal keys must compute equal
    /// text: the key holds everything the text depends on.
    fn append(
        &mut self,
        out: &mut Vec<u8>,
        key: impl FnOnce(&mut Vec<u16>),
        compute: impl FnOnce(&mut Vec<u8>),
    ) {
        let BytesMemo { slots, key: k } = self;
        k.clear();
        key(k);
        if k.len() > MAX_INPUT / 2 {
            return compute(out);
        }
        let h = hash_u16s(k);
        let Some(slot) = slots.get_mut(h as usize % SLOTS) else {
            return compute(out);
        };
        if slot.used && slot.key == *k {
            out.extend_from_slice(&slot.value);
            return;
        }
        let start = out.len();
        compute(out);
        let value = out.get(start..).unwrap_or_default();
        if value.len() <= MAX_VALUE {
            slot.key.clear();
            slot.key.extend_from_slice(k);
            slot.value.clear();
            slot.value.extend_from_slice(value);
            slot.used = true;
        }
    }
}

/// FxHash of `k`, four numbers to a word.
fn hash_u16s(k: &[u16]) -> u64 {
    let mut h = FxHasher::default();
    let mut quads = k.chunks_exact(4);
    for q in &mut quads {
        if let [a, b, c, d] = *q {
            h.write_u64(
                u64::from(a) | (u64::from(b) << 16) | (u64::from(c) << 32) | (u64::from(d) << 48),
            );
        }
    }
    for &v in quads.remainder() {
        h.write_u16(v);
    }
    h.write_usize(k.len());
    h.finish()
}

fn remembered(
    memo: &'static std::thread::LocalKey<RefCell<BytesMemo>>,
    out: &mut Vec<u8>,
    key: impl FnOnce(&mut Vec<u16>),
    compute: impl FnOnce(&mut Vec<u8>),
) {
    let mut compute = Some(compute);
    memo.with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            if let Some(c) = compute.take() {
                m.append(out, key, c);
            }
        }
    });
    // Only when the memo was busy (a re-entrant call) or gone (thread exit).
    if let Some(c) = compute {
        c(out);
    }
}

/// Appends a JA3 object (`{"hash":..,"string":..}`) that `compute` appends,
/// or the one remembered for the inputs `key` writes.
pub(super) fn ja3_object(
    out: &mut Vec<u8>,
    key: impl FnOnce(&mut Vec<u16>),
    compute: impl FnOnce(&mut Vec<u8>),
) {
    remembered(&JA3, out, key, compute);
}

/// Appends a JA4 string that `compute` appends, or the one remembered for
/// the inputs `key` writes.
pub(super) fn ja4(
    out: &mut Vec<u8>,
    key: impl FnOnce(&mut Vec<u16>),
    compute: impl FnOnce(&mut Vec<u8>),
) {
    remembered(&JA4, out, key, compute);
}

thread_local! {
    static JA3: RefCell<BytesMemo> = RefCell::new(BytesMemo::new());
    static JA4: RefCell<BytesMemo> = RefCell::new(BytesMemo::new());
    static MD5: RefCell<Memo<16>> = RefCell::new(Memo::new());
    static SHA256_48: RefCell<Memo<6>> = RefCell::new(Memo::new());
}

/// MD5 of `data`.
pub fn md5(data: &[u8]) -> [u8; 16] {
    let compute = |d: &[u8]| {
        use md5::Digest as _;
        md5::Md5::digest(d).into()
    };
    MD5.with(|m| match m.try_borrow_mut() {
        Ok(mut m) => m.get(data, compute),
        Err(_) => compute(data),
    })
}

/// The first 6 bytes (JA4's 12 hex digits) of the SHA-256 of `data`. ring's
/// SHA-256 (assembly with AVX or SHA-NI), which costs half of sha2's
/// portable code on machines without SHA-NI.
pub fn sha256_48(data: &[u8]) -> [u8; 6] {
    let compute = |d: &[u8]| {
        let full = ring::digest::digest(&ring::digest::SHA256, d);
        let mut out = [0u8; 6];
        for (o, b) in out.iter_mut().zip(full.as_ref()) {
            *o = *b;
        }
        out
    };
    SHA256_48.with(|m| match m.try_borrow_mut() {
        Ok(mut m) => m.get(data, compute),
        Err(_) => compute(data),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_digests_equal_computed_ones() {
        // Known answers: MD5("abc"), SHA-256("abc") first 6 bytes.
        for _ in 0..3 {
            assert_eq!(
                md5(b"abc"),
                [
                    0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0, 0xd6, 0x96, 0x3f, 0x7d, 0x28,
                    0xe1, 0x7f, 0x72
                ]
            );
            assert_eq!(sha256_48(b"abc"), [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01]);
        }
    }

    #[test]
    fn colliding_slots_never_return_another_inputs_digest() {
        // More distinct inputs than slots: every answer must still be exact.
        for round in 0..2 {
            for i in 0..(3 * SLOTS) {
                let s = format!("input-{i}");
                let want = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
                assert_eq!(
                    &sha256_48(s.as_bytes())[..],
                    &want.as_ref()[..6],
                    "round {round} input {i}"
                );
            }
        }
        let long = vec![7u8; MAX_INPUT + 1];
        let want = ring::digest::digest(&ring::digest::SHA256, &long);
        assert_eq!(&sha256_48(&long)[..], &want.as_ref()[..6]);
    }

    /// The text for key `k` as the memo gives it, `compute` counting its calls.
    fn texts(memo: &mut BytesMemo, k: &[u16], text: &[u8], calls: &mut u32) -> Vec<u8> {
        let mut out = b"prefix:".to_vec();
        memo.append(
            &mut out,
            |key| key.extend_from_slice(k),
            |o| {
                *calls += 1;
                o.extend_from_slice(text);
            },
        );
        out
    }

    #[test]
    fn bytes_memo_remembers_per_key_and_never_mixes_keys() {
        let mut memo = BytesMemo::new();
        let mut calls = 0;
        // More distinct keys than slots, twice: collisions replace, never mix.
        for round in 0..2 {
            for i in 0..(3 * SLOTS) {
                // Distinct keys (each starts with i) of lengths 1 to 10.
                let k: Vec<u16> = (0..=i % 10).map(|j| (i + j) as u16).collect();
                let text = format!("text-{i}");
                let got = texts(&mut memo, &k, text.as_bytes(), &mut calls);
                assert_eq!(
                    got,
                    format!("prefix:text-{i}").into_bytes(),
                    "round {round}"
                );
            }
        }
        assert!(calls >= 3 * SLOTS as u32);
        // A key just seen is remembered: no second computation.
        calls = 0;
        texts(&mut memo, &[60_000, 1, 2, 3, 4, 5], b"v", &mut calls);
        let got = texts(&mut memo, &[60_000, 1, 2, 3, 4, 5], b"other", &mut calls);
        assert_eq!((got, calls), (b"prefix:v".to_vec(), 1));
        // Too long a key, or too long a text: computed every time.
        calls = 0;
        let long_key = vec![1u16; MAX_INPUT / 2 + 1];
        texts(&mut memo, &long_key, b"x", &mut calls);
        texts(&mut memo, &long_key, b"x", &mut calls);
        let long_text = vec![b'a'; MAX_VALUE + 1];
        texts(&mut memo, &[60_001], &long_text, &mut calls);
        let got = texts(&mut memo, &[60_001], &long_text, &mut calls);
        assert_eq!(got.len(), 7 + MAX_VALUE + 1);
        assert_eq!(calls, 4);
    }
}
