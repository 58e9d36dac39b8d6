//! Vendor catalog: loading, matching, checking.
