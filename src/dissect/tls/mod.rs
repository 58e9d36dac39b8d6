//! tls dissector (pure parsers over byte slices).
