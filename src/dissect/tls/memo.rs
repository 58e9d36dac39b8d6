//! Memo of fingerprint digests. A network has a handful of TLS client stacks,
//! so the strings JA3 and JA4 hash repeat across flows: the MD5 or SHA-256 of
//! a string seen before is looked up instead of computed (one digest cost
//! ~10,000 instructions, a lookup ~100). Per thread, so no locks; a fixed
//! number of slots whose buffers are reused, so no allocation once warm and
//! bounded memory (slots × `MAX_INPUT`).

use std::cell::RefCell;
use std::hash::{BuildHasher, BuildHasherDefault};

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

thread_local! {
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
}
