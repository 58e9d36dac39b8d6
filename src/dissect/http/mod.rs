//! HTTP dissector (pure parsers over byte slices): HTTP/1.x request heads.
//!
//! * [`is_http_request_start`] is the cheap probe for protocol detection.
//! * [`parse_request`] parses one request head; `consumed` lets the caller
//!   step to the body (see [`HttpRequest::content_length`] / `chunked`) and
//!   then to the next pipelined request.
//! * [`write_eve`] writes the `http` object of an EVE event (`to_eve`, its
//!   `serde_json::Value` twin, is built in tests only, to check it).

mod eve;
mod request;

#[cfg(test)]
pub use eve::to_eve;
pub use eve::write_eve;
pub use request::{
    is_http_request_start, parse_request, parse_unfinished_request, HttpAnomalies, HttpRequest,
    Parse, MAX_HEAD, MAX_METHOD,
};

#[cfg(test)]
mod tests;
