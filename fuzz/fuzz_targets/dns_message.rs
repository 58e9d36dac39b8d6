//! DNS message parser, EVE rendering and TCP framing on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::dissect::dns::{self, DnsFlavor, TcpDnsFramer};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = dns::parse_message(data) {
        for q in &m.queries {
            // Text cap plus escaping (`\xNN` is 4 characters per byte).
            assert!(q.rrname.len() <= dns::MAX_NAME_TEXT * 4);
        }
        assert!(m.queries.len() <= dns::MAX_RECORDS_PER_SECTION);
        for flavor in [DnsFlavor::Dns, DnsFlavor::Mdns, DnsFlavor::Llmnr] {
            let _ = dns::to_eve(&m, flavor);
        }
    }
    let _ = dns::looks_like_dns(data);

    // The same bytes as a TCP stream, split where the first byte says.
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (a, b) = data.split_at(cut);
    let mut framer = TcpDnsFramer::with_limits(512, 2048);
    let mut total = 0usize;
    for part in [a, b] {
        framer.feed(part, |msg| {
            total += msg.len() + 2;
            let _ = dns::parse_message(msg);
        });
    }
    assert!(total <= data.len());
    assert!(framer.buffered() <= 2048);
});
