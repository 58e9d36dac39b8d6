//! Plain records.
