//! What was odd about a DNS message, flagged by the message and name
//! parsers alike (below both, so neither imports the other for it).

/// What was odd about a message. Every flag leaves a usable (partial) result;
/// Suricata's EVE has no field for most of these, so they are exposed here only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsAnomalies {
    /// The message ends inside a name or record.
    pub truncated: bool,
    /// The header announces more records than the message holds.
    pub bad_counts: bool,
    /// Bytes left after the last announced record.
    pub trailing_bytes: bool,
    /// A compression pointer led back to a place already visited.
    pub pointer_loop: bool,
    /// A compression pointer beyond the end of the message.
    pub bad_pointer: bool,
    /// A label of the reserved 0x40/0x80 types.
    pub bad_label_type: bool,
    /// A name longer than 255 bytes in wire form (kept, up to the text cap).
    pub name_too_long: bool,
    /// A name cut at the text or label cap.
    pub name_truncated: bool,
    /// A name with more than 255 labels.
    pub too_many_labels: bool,
    /// Rdata that does not match its type (wrong length, name overrunning it).
    pub bad_rdata: bool,
    /// Records parsed past but not kept ([`super::MAX_RECORDS_PER_SECTION`]).
    pub records_dropped: u32,
    /// Compressed names cost more than the message's budget (see
    /// [`super::name::NAME_WORK_PER_BYTE`]); the names past it were cut.
    pub name_budget: bool,
    /// Rdata cut at [`super::MAX_RDATA_BYTES`].
    pub rdata_truncated: bool,
}

impl DnsAnomalies {
    pub fn is_empty(&self) -> bool {
        *self == DnsAnomalies::default()
    }

    /// Names of the flags that are set, for logging.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.truncated, "truncated"),
            (self.bad_counts, "bad_counts"),
            (self.trailing_bytes, "trailing_bytes"),
            (self.pointer_loop, "pointer_loop"),
            (self.bad_pointer, "bad_pointer"),
            (self.bad_label_type, "bad_label_type"),
            (self.name_too_long, "name_too_long"),
            (self.name_truncated, "name_truncated"),
            (self.too_many_labels, "too_many_labels"),
            (self.bad_rdata, "bad_rdata"),
            (self.records_dropped > 0, "records_dropped"),
            (self.name_budget, "name_budget"),
            (self.rdata_truncated, "rdata_truncated"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
    }
}

/// Lowercase hex digit of a nibble.
pub(crate) fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n & 0x0F), 16).unwrap_or('0')
}
