//! Lookup tables. Every lookup costs a bounded number of hash probes that does
//! not grow with the catalog: names one probe per label, addresses one probe per
//! distinct prefix length present (at most 33 for IPv4, 129 for IPv6).
use super::model::{EndpointId, EndpointKind, Vendor};
use super::names;
use super::platforms;
use rustc_hash::{FxHashMap, FxHashSet};
use std::net::IpAddr;

#[derive(Debug, Default, Clone)]
pub(crate) struct Index {
    pub(crate) host: FxHashMap<Box<str>, EndpointId>,
    pub(crate) suffix: FxHashMap<Box<str>, EndpointId>,
    pub(crate) cert: FxHashMap<Box<str>, EndpointId>,
    pub(crate) ja4: FxHashMap<Box<str>, EndpointId>,
    v4: PrefixTable<u32>,
    v6: PrefixTable<u128>,
    /// Owned domain → (vendor, index in `owned_domains`).
    owned: FxHashMap<Box<str>, OwnedRef>,
    /// Every label suffix, at or under an owned domain of the same vendor, of
    /// that vendor's host and suffix endpoints → the product(s) they belong to.
    product_at: FxHashMap<Box<str>, Pick>,
    /// Web presence: exact hosts, subtrees, and owned domains whose apex is
    /// the vendor's web site.
    web_host: FxHashSet<Box<str>>,
    web_suffix: FxHashSet<Box<str>>,
    /// AS number → (vendor, index in `asns`).
    asn: FxHashMap<u32, OwnedRef>,
}

/// An owned domain or AS of a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwnedRef {
    pub(crate) vendor: u16,
    pub(crate) index: u32,
}

/// Which product a suffix under an owned domain points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    One(u16),
    /// Endpoints of several products share it.
    Tie,
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
        // Sized once (callgrind: growing the tables by rehashing was about a
        // fifth of the shipped catalog's start-up).
        let mut per_kind = [0usize; 5];
        for e in vendors
            .iter()
            .flat_map(|v| &v.products)
            .flat_map(|p| &p.endpoints)
        {
            let k = match e.kind {
                EndpointKind::Host => 0,
                EndpointKind::Suffix => 1,
                EndpointKind::CertName => 2,
                EndpointKind::Ja4 => 3,
                EndpointKind::Cidr => 4,
            };
            if let Some(n) = per_kind.get_mut(k) {
                *n += 1;
            }
        }
        let [hosts, suffixes, certs, ja4s, _] = per_kind;
        ix.host.reserve(hosts);
        ix.suffix.reserve(suffixes);
        ix.cert.reserve(certs);
        ix.ja4.reserve(ja4s);
        ix.owned
            .reserve(vendors.iter().map(|v| v.owned_domains.len()).sum());
        ix.product_at.reserve(hosts + suffixes);
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
        ix.build_owned(vendors);
        ix
    }

    fn build_owned(&mut self, vendors: &[Vendor]) {
        for (vi, v) in vendors.iter().enumerate() {
            let vendor = u16::try_from(vi).unwrap_or(u16::MAX);
            for (di, d) in v.owned_domains.iter().enumerate() {
                let r = OwnedRef {
                    vendor,
                    index: u32::try_from(di).unwrap_or(u32::MAX),
                };
                // First claim wins; `check` reports the overlap.
                self.owned.entry(d.domain.as_str().into()).or_insert(r);
                if d.website {
                    self.web_host.insert(d.domain.as_str().into());
                }
            }
            for w in &v.web_presence {
                match w.kind {
                    EndpointKind::Host => self.web_host.insert(w.pattern.as_str().into()),
                    _ => self.web_suffix.insert(w.pattern.as_str().into()),
                };
            }
            for (ai, a) in v.asns.iter().enumerate() {
                if platforms::is_shared_network(a.number) {
                    continue;
                }
                let r = OwnedRef {
                    vendor,
                    index: u32::try_from(ai).unwrap_or(u32::MAX),
                };
                self.asn.entry(a.number).or_insert(r);
            }
        }
        // Products by shared suffix, per vendor, under its own owned domains.
        for (vi, v) in vendors.iter().enumerate() {
            let vendor = u16::try_from(vi).unwrap_or(u16::MAX);
            for (pi, p) in v.products.iter().enumerate() {
                let product = u16::try_from(pi).unwrap_or(u16::MAX);
                for e in &p.endpoints {
                    if !matches!(e.kind, EndpointKind::Host | EndpointKind::Suffix) {
                        continue;
                    }
                    let Some(domain_at) = names::suffixes(&e.pattern)
                        .position(|s| self.owned.get(s).is_some_and(|o| o.vendor == vendor))
                    else {
                        continue;
                    };
                    for s in names::suffixes(&e.pattern).take(domain_at + 1) {
                        self.product_at
                            .entry(s.into())
                            .and_modify(|pick| {
                                if *pick != Pick::One(product) {
                                    *pick = Pick::Tie;
                                }
                            })
                            .or_insert(Pick::One(product));
                    }
                }
            }
        }
    }

    /// `name` must already be normalised. Exact host first, then the longest
    /// suffix on a label boundary (unless `name` is web presence there).
    pub(crate) fn name(&self, name: &str) -> Option<EndpointId> {
        if let Some(id) = self.host.get(name) {
            return Some(*id);
        }
        let (at, id) = names::suffixes(name).find_map(|s| Some((s, *self.suffix.get(s)?)))?;
        (!self.is_web(name, at)).then_some(id)
    }

    /// The owned domain `name` (normalised) lies under, unless `name` is the
    /// vendor's web presence. Returns the domain's reference and the product
    /// whose endpoints share the longest suffix with `name` (`None`: none
    /// does, or several tie at that length).
    pub(crate) fn owned_name(&self, name: &str) -> Option<(OwnedRef, Option<u16>)> {
        let (depth, (domain, r)) = names::suffixes(name)
            .enumerate()
            .find_map(|(i, s)| Some((i, (s, *self.owned.get(s)?))))?;
        if self.is_web(name, domain) {
            return None;
        }
        let pick = names::suffixes(name)
            .take(depth + 1)
            .find_map(|s| self.product_at.get(s).copied());
        Some((
            r,
            match pick {
                Some(Pick::One(p)) => Some(p),
                _ => None,
            },
        ))
    }

    /// Whether `name`, found under `matched` (a suffix or owned domain), is a
    /// vendor's web presence: a web first label below `matched`, a website
    /// apex, or a `[[web_presence]]` host or subtree.
    pub(crate) fn is_web(&self, name: &str, matched: &str) -> bool {
        (name.len() > matched.len() && platforms::has_web_label(name) && {
            // Web sites sit at or just under the vendor's domain (www.x,
            // docs.product.x); a web-looking label deeper down is a service
            // name (resources.prod-me-central-1.irs.trendmicro.com).
            let above = name.get(..name.len() - matched.len()).unwrap_or("");
            above.bytes().filter(|b| *b == b'.').count() <= platforms::WEB_DEPTH
        }) || self.web_host.contains(name)
            || (!self.web_suffix.is_empty()
                && names::suffixes(name).any(|s| self.web_suffix.contains(s)))
    }

    /// The longest documented suffix or owned domain `name` lies under.
    pub(crate) fn base_of<'n>(&self, name: &'n str) -> Option<&'n str> {
        names::suffixes(name).find(|s| self.suffix.contains_key(*s) || self.owned.contains_key(*s))
    }

    pub(crate) fn asn(&self, number: u32) -> Option<OwnedRef> {
        self.asn.get(&number).copied()
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
