//! Resolve stage: destinations to vendor endpoints, countries and ASNs.
mod attribute;
pub mod catalog;
pub mod dns_cache;
pub mod geoip;
pub mod hosts;

pub use attribute::{
    Attribution, CatalogShare, EvidenceKind, FlowHits, GeoCache, GeoShare, Hits, NameMatcher,
    Resolver, Share,
};
