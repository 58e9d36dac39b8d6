//! gunzip of damaged streams: every inflated byte is handed on before the
//! damage is reported, and the damage offset lies inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::capture::{Gunzip, GzipDamage};
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let Some((&step, file)) = data.split_first() else {
        return;
    };
    let mut g = Gunzip::new(std::io::BufReader::with_capacity(usize::from(step) + 1, file));
    let mut buf = vec![0u8; usize::from(step % 64) + 1];
    let mut total = 0u64;
    loop {
        match g.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) => {
                let d = GzipDamage::of(&e).expect("errors carry their offset");
                assert!(d.offset <= file.len() as u64);
                assert_eq!(d.inflated, total);
                // The error stays: reading again gives it again.
                assert!(g.read(&mut buf).is_err());
                break;
            }
        }
        // Deflate expands at most ~1032:1; bound the work per input.
        if total > 64 << 20 {
            break;
        }
    }
});
