//! quic dissector (pure parsers over byte slices).
