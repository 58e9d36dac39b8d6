//! dns dissector (pure parsers over byte slices).
