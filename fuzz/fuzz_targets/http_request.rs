//! HTTP request-head parser and EVE rendering on arbitrary bytes, pipelined.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phonehome::base::json::Obj;
use phonehome::dissect::http::{self, Parse};

fuzz_target!(|data: &[u8]| {
    let _ = http::is_http_request_start(data);
    let mut rest = data;
    // Each Done consumes at least one byte, so this ends.
    while let Parse::Done { value, consumed } = http::parse_request(rest) {
        assert!(consumed > 0 && consumed <= rest.len());
        let _ = (
            value.host_name(),
            value.host_port(),
            value.uri_host(),
            value.uri_port(),
        );
        let mut buf = Vec::new();
        let mut o = Obj::new(&mut buf);
        http::write_eve(&mut o, &value);
        o.end();
        // What the writer writes is JSON whatever the input.
        assert!(serde_json::from_slice::<serde_json::Value>(&buf).is_ok());
        rest = &rest[consumed..];
    }
});
