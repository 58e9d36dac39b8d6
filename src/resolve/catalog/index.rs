//! Lookup tables. Every lookup costs a bounded number of hash probes that does
//! not grow with the catalog: names one probe per label, addresses one probe per
//! distinct prefix length present (at most 33 for IPv4, 129 for IPv6).
use super::model::{EndpointId, EndpointKind, Vendor};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

#[derive(Debug, Default, Clone)]
pub(crate) struct Index {
    pub(crate) host: FxHashMap<Box<str>, EndpointId>,
    pub(crate) suffix: FxHashMap<Box<str>, EndpointId>,
    pub(crate) cert: FxHashMap<Box<str>, EndpointId>,
    pub(crate) ja4: FxHashMap<Box<str>, EndpointId>,
    v4: PrefixTable<u32>,
    v6: PrefixTable<u128>,
}

/// Prefixes grouped by length, longest first.
#[derive(Debug, Clone)]
struct PrefixTable<T> {
    levels: Vec<(u8, FxHashMap<T, EndpointId>)>,
}

impl<T> Default for PrefixTable<T> {
    fn default() -> Self {
        PrefixTable { levels: Vec::new() }
    }
}

trait Bits: Copy + Eq + std::hash::Hash {
    fn masked(self, len: u8) -> Self;
}
impl Bits for u32 {
    fn masked(self, len: u8) -> u32 {
        self & u32::MAX
            .checked_shl(32 - u32::from(len.min(32)))
            .unwrap_or(0)
    }
}
impl Bits for u128 {
    fn masked(self, len: u8) -> u128 {
        self & u128::MAX
            .checked_shl(128 - u32::from(len.min(128)))
            .unwrap_or(0)
    }
}

impl<T: Bits> PrefixTable<T> {
    /// Keeps the first entry for a prefix (catalog order); `check` reports the rest.
    fn insert(&mut self, net: T, len: u8, id: EndpointId) {
        let pos = match self.levels.binary_search_by(|(l, _)| len.cmp(l)) {
            Ok(p) => p,
            Err(p) => {
                self.levels.insert(p, (len, FxHashMap::default()));
                p
            }
        };
        if let Some((_, map)) = self.levels.get_mut(pos) {
            map.entry(net.masked(len)).or_insert(id);
        }
    }
    fn longest(&self, addr: T) -> Option<EndpointId> {
        self.levels
            .iter()
            .find_map(|(len, map)| map.get(&addr.masked(*len)).copied())
    }
}

impl Index {
    pub(crate) fn build(vendors: &[Vendor]) -> Index {
        let mut ix = Index::default();
        for (vi, v) in vendors.iter().enumerate() {
            for (pi, p) in v.products.iter().enumerate() {
                for (ei, e) in p.endpoints.iter().enumerate() {
                    let id = EndpointId {
                        vendor: u16::try_from(vi).unwrap_or(u16::MAX),
                        product: u16::try_from(pi).unwrap_or(u16::MAX),
                        endpoint: u32::try_from(ei).unwrap_or(u32::MAX),
                    };
                    let key = || Box::<str>::from(e.pattern.as_str());
                    match e.kind {
                        EndpointKind::Host => {
                            ix.host.entry(key()).or_insert(id);
                        }
                        EndpointKind::Suffix => {
                            ix.suffix.entry(key()).or_insert(id);
                        }
                        EndpointKind::CertName => {
                            ix.cert.entry(key()).or_insert(id);
                        }
                        EndpointKind::Ja4 => {
                            ix.ja4.entry(key()).or_insert(id);
                        }
                        EndpointKind::Cidr => {
                            // Shared-cloud addresses are never evidence; the loader
                            // already refuses shared_cloud on a cidr, this is belt and braces.
                            if e.shared_cloud {
                                continue;
                            }
                            match e.pattern.parse::<ipnet::IpNet>() {
                                Ok(ipnet::IpNet::V4(n)) => {
                                    ix.v4.insert(u32::from(n.network()), n.prefix_len(), id)
                                }
                                Ok(ipnet::IpNet::V6(n)) => {
                                    ix.v6.insert(u128::from(n.network()), n.prefix_len(), id)
                                }
                                Err(_) => {}
                            }
                        }
                    }
                }
            }
        }
        ix
    }

    /// `name` must already be normalised. Exact host first, then the longest
    /// suffix on a label boundary.
    pub(crate) fn name(&self, name: &str) -> Option<EndpointId> {
        if let Some(id) = self.host.get(name) {
            return Some(*id);
        }
        super::names::suffixes(name).find_map(|s| self.suffix.get(s).copied())
    }

    pub(crate) fn ip(&self, ip: IpAddr) -> Option<EndpointId> {
        match ip.to_canonical() {
            IpAddr::V4(a) => self.v4.longest(u32::from(a)),
            IpAddr::V6(a) => self.v6.longest(u128::from(a)),
        }
    }

    /// Distinct prefix lengths present (IPv4, IPv6): the cost of an IP lookup.
    pub(crate) fn prefix_levels(&self) -> (usize, usize) {
        (self.v4.levels.len(), self.v6.levels.len())
    }
}
