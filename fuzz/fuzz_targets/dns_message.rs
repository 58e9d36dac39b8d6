//! DNS message parser, EVE rendering and TCP framing on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::base::json::Obj;
use phonehome::dissect::dns::{self, DnsFlavor, TcpDnsFramer};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = dns::parse_message(data) {
        for q in &m.queries {
            // Text cap plus escaping (`\xNN` is 4 characters per byte).
            assert!(q.rrname.len() <= dns::MAX_NAME_TEXT * 4);
        }
        assert!(m.queries.len() <= dns::MAX_RECORDS_PER_SECTION);
        for flavor in [DnsFlavor::Dns, DnsFlavor::Mdns, DnsFlavor::Llmnr] {
            let mut buf = Vec::new();
            let mut o = Obj::new(&mut buf);
            dns::write_eve(&mut o, &m, flavor);
            o.end();
            // What the writer writes is JSON whatever the input.
            assert!(serde_json::from_slice::<serde_json::Value>(&buf).is_ok());
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
