//! HTTP request-head parser and EVE rendering on arbitrary bytes, pipelined.
#![no_main]

use libfuzzer_sys::fuzz_target;
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
        let _ = http::to_eve(&value);
        rest = &rest[consumed..];
    }
});
