//! Resolve stage: destinations to vendor endpoints, countries and ASNs.
pub mod catalog;
pub mod dns_cache;
pub mod geoip;
