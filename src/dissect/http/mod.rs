//! http dissector (pure parsers over byte slices).
