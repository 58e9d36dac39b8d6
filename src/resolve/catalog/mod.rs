//! Vendor catalog: which security products phone home to which endpoints.
//!
//! The data lives in `catalog/<vendor>.toml` (format: `catalog/README.md`) and
//! is embedded in the binary by `build.rs`; a directory can be loaded instead.
//!
//! Matching rules:
//! * names (SNI, DNS query, HTTP Host): case-insensitive, one trailing dot
//!   ignored; an exact `host` beats any `suffix`; among suffixes the longest
//!   wins; suffixes match on label boundaries only (`higan.org` never matches
//!   `michigan.org`). Cost: one hash probe per label.
//! * addresses: longest CIDR prefix; `shared_cloud` entries are names only and
//!   never produce an address match. Cost: one probe per distinct prefix length.
//! * certificate names and JA4: exact (case-insensitive) comparison.
//!
//! Entries with problems are left out of matching and reported by
//! [`Catalog::check`] with file and line.
mod check;
mod index;
mod load;
mod model;
mod names;
pub mod platforms;
mod shipped;

pub use check::{CheckIssue, IssueKind, Severity};
pub use load::LoadError;
pub use model::{
    Confidence, Endpoint, EndpointId, EndpointKind, Hit, Match, OwnedAsn, OwnedDomain, Product,
    ProductKind, Purpose, Tier, Vendor, VendorSummary, WebPresence, UNIDENTIFIED_PRODUCT,
};

use index::Index;
use std::net::IpAddr;
use std::path::Path;

/// The loaded catalog with its lookup tables.
#[derive(Debug, Clone)]
pub struct Catalog {
    vendors: Vec<Vendor>,
    /// Entry-level problems found while loading (those entries are left out).
    load_issues: Vec<CheckIssue>,
    index: Index,
    /// Exactly the shipped catalog, which the build checked: no errors
    /// (`build.rs` refuses them), so `first_error` need not run `check`.
    prechecked: bool,
}

impl Catalog {
    /// The catalog shipped inside the binary.
    /// `catalog/*.toml` as `build.rs` loaded and checked them at build time
    /// (the same vendors, lines and load warnings as `load_dir("catalog")`).
    pub fn embedded() -> Result<Catalog, LoadError> {
        let mut c = Catalog::assemble(shipped::vendors(), shipped::load_issues());
        c.prechecked = true;
        Ok(c)
    }

    /// Every `*.toml` in `dir`, instead of the shipped catalog.
    pub fn load_dir(dir: &Path) -> Result<Catalog, LoadError> {
        Catalog::from_files(load::read_dir(dir)?)
    }

    /// From in-memory files: (file name for messages, slug, TOML text).
    pub fn from_files<I>(files: I) -> Result<Catalog, LoadError>
    where
        I: IntoIterator<Item = (String, String, String)>,
    {
        let mut vendors: Vec<Vendor> = Vec::new();
        let mut load_issues = Vec::new();
        for (file, slug, text) in files {
            if let Some(other) = vendors.iter().find(|v| v.slug == slug) {
                return Err(LoadError::DuplicateSlug {
                    file,
                    slug,
                    other: other.file.clone(),
                });
            }
            vendors.push(load::parse_file(
                &file,
                &slug,
                &text,
                &mut load_issues,
                None,
            )?);
        }
        if vendors.len() > usize::from(u16::MAX) {
            return Err(LoadError::Parse {
                file: String::new(),
                line: 0,
                message: format!("too many vendors ({})", vendors.len()),
            });
        }
        Ok(Catalog::assemble(vendors, load_issues))
    }

    /// This catalog with a site's own files from `dir` on top (`--catalog-extra`).
    /// A file whose slug is new adds a vendor; a file with the slug of a
    /// vendor already here extends it (its products, endpoints, owned
    /// domains, web presence and ASNs are added; findings merge by vendor
    /// and product name) and inherits its jurisdiction: it may leave
    /// `jurisdiction` out, and one that differs is refused. Problems are
    /// reported with the overlay's file and line.
    pub fn with_overlay_dir(self, dir: &Path) -> Result<Catalog, LoadError> {
        self.with_overlay(load::read_dir(dir)?)
    }

    /// [`with_overlay_dir`](Self::with_overlay_dir) from in-memory files:
    /// (file name for messages, slug, TOML text).
    pub fn with_overlay<I>(self, files: I) -> Result<Catalog, LoadError>
    where
        I: IntoIterator<Item = (String, String, String)>,
    {
        let Catalog {
            mut vendors,
            mut load_issues,
            ..
        } = self;
        let base = vendors.len();
        for (file, slug, text) in files {
            if let Some(other) = vendors.iter().skip(base).find(|v| v.slug == slug) {
                return Err(LoadError::DuplicateSlug {
                    file,
                    slug,
                    other: other.file.clone(),
                });
            }
            let built_in = vendors.iter().take(base).find(|v| v.slug == slug);
            let v = load::parse_file(&file, &slug, &text, &mut load_issues, built_in)?;
            vendors.push(v);
        }
        if vendors.len() > usize::from(u16::MAX) {
            return Err(LoadError::Parse {
                file: String::new(),
                line: 0,
                message: format!("too many vendors ({})", vendors.len()),
            });
        }
        Ok(Catalog::assemble(vendors, load_issues))
    }

    /// A copy keeping only the endpoints `keep` accepts (for held-out
    /// evaluations: hide endpoints, then see what still attributes them).
    pub fn retain_endpoints(&self, keep: impl Fn(&Vendor, &Product, &Endpoint) -> bool) -> Catalog {
        let mut vendors = self.vendors.clone();
        for (v, orig) in vendors.iter_mut().zip(&self.vendors) {
            for (p, op) in v.products.iter_mut().zip(&orig.products) {
                p.endpoints.retain(|e| keep(orig, op, e));
            }
        }
        Catalog::assemble(vendors, self.load_issues.clone())
    }

    fn assemble(vendors: Vec<Vendor>, load_issues: Vec<CheckIssue>) -> Catalog {
        let index = Index::build(&vendors);
        Catalog {
            vendors,
            load_issues,
            index,
            prechecked: false,
        }
    }

    /// All vendors, in file-name order.
    pub fn vendors(&self) -> &[Vendor] {
        &self.vendors
    }

    /// One row per vendor, for `catalog list`.
    pub fn list(&self) -> Vec<VendorSummary<'_>> {
        self.vendors
            .iter()
            .map(|v| VendorSummary {
                slug: &v.slug,
                name: &v.name,
                jurisdiction: &v.jurisdiction,
                products: v.products.len(),
                endpoints: v.endpoint_count(),
                file: &v.file,
            })
            .collect()
    }

    /// A vendor by slug or display name, case-insensitive.
    pub fn vendor(&self, name: &str) -> Option<&Vendor> {
        self.vendors
            .iter()
            .find(|v| v.slug.eq_ignore_ascii_case(name) || v.name.eq_ignore_ascii_case(name))
    }

    /// Total number of endpoints in matching.
    pub fn endpoint_count(&self) -> usize {
        self.vendors.iter().map(Vendor::endpoint_count).sum()
    }

    /// The endpoint behind an id from an earlier match.
    pub fn get(&self, id: EndpointId) -> Option<Match<'_>> {
        let v = self.vendors.get(usize::from(id.vendor))?;
        let p = v.products.get(usize::from(id.product))?;
        let e = p.endpoints.get(usize::try_from(id.endpoint).ok()?)?;
        Some(Match {
            hit: Hit {
                id,
                tier: Tier::Endpoint,
                owned: 0,
            },
            id,
            tier: if e.kind == EndpointKind::Ja4 {
                Tier::Ja4
            } else {
                Tier::Endpoint
            },
            vendor: &v.name,
            vendor_slug: &v.slug,
            jurisdiction: &v.jurisdiction,
            product: &p.name,
            kind: e.kind,
            pattern: &e.pattern,
            purpose: e.purpose,
            source: &e.source,
            confidence: e.confidence,
            shared_cloud: e.shared_cloud,
            region: e.region.as_deref(),
        })
    }

    /// The match behind a hit made on this catalog (a worker's; a hit from
    /// another catalog is meaningless here).
    pub fn resolve(&self, hit: Hit) -> Option<Match<'_>> {
        let v = self.vendors.get(usize::from(hit.id.vendor))?;
        let product = (hit.id.product != EndpointId::NO_PRODUCT).then_some(hit.id.product);
        let index = usize::try_from(hit.owned).ok()?;
        match hit.tier {
            Tier::Endpoint | Tier::Ja4 => self.get(hit.id),
            Tier::Certificate | Tier::OwnedDomain => {
                let d = v.owned_domains.get(index)?;
                let m = self.owned_match(
                    hit.id.vendor,
                    product,
                    hit.tier,
                    EndpointKind::Suffix,
                    &d.domain,
                    &d.source,
                );
                Some(Match { hit, ..m })
            }
            Tier::OwnedNetwork => {
                let a = v.asns.get(index)?;
                let m = self.owned_match(
                    hit.id.vendor,
                    product,
                    hit.tier,
                    EndpointKind::Cidr,
                    &a.pattern,
                    &a.source,
                );
                Some(Match { hit, ..m })
            }
        }
    }

    /// A host name from SNI, DNS or HTTP Host: a documented endpoint (exact
    /// host, then the longest suffix), else an owned domain. A vendor's web
    /// presence never matches, except as an exact `host` endpoint. Does not
    /// allocate; costs a few hash probes per label, whatever the catalog size.
    pub fn match_name(&self, name: &str) -> Option<Match<'_>> {
        let mut buf = [0u8; 256];
        let n = names::normalize_into(name, &mut buf)?;
        match self.index.name(n) {
            Some(id) => self.get(id),
            None => self.owned(n, Tier::OwnedDomain),
        }
    }

    /// Like [`match_name`](Self::match_name), documented endpoints only.
    pub fn match_endpoint_name(&self, name: &str) -> Option<Match<'_>> {
        let mut buf = [0u8; 256];
        let n = names::normalize_into(name, &mut buf)?;
        self.get(self.index.name(n)?)
    }

    /// A name under an owned domain (not web presence), attributed at `tier`
    /// ([`Tier::OwnedDomain`] for names the client used, [`Tier::Certificate`]
    /// for a server certificate's). A leading `*.` (certificate wildcard) is
    /// read as the domain it covers.
    pub fn match_owned(&self, name: &str, tier: Tier) -> Option<Match<'_>> {
        let mut buf = [0u8; 256];
        let n = names::normalize_into(name, &mut buf)?;
        self.owned(n.strip_prefix("*.").unwrap_or(n), tier)
    }

    fn owned(&self, n: &str, tier: Tier) -> Option<Match<'_>> {
        let (r, pick) = self.index.owned_name(n)?;
        let v = self.vendors.get(usize::from(r.vendor))?;
        let d = v.owned_domains.get(usize::try_from(r.index).ok()?)?;
        let product = pick.or_else(|| {
            let name = d.product.as_deref()?;
            let i = v.products.iter().position(|p| p.name == name)?;
            u16::try_from(i).ok()
        });
        let m = self.owned_match(
            r.vendor,
            product,
            tier,
            EndpointKind::Suffix,
            &d.domain,
            &d.source,
        );
        Some(Match {
            hit: Hit {
                owned: r.index,
                ..m.hit
            },
            ..m
        })
    }

    fn owned_match<'a>(
        &'a self,
        vendor: u16,
        product: Option<u16>,
        tier: Tier,
        kind: EndpointKind,
        pattern: &'a str,
        source: &'a str,
    ) -> Match<'a> {
        let v = self.vendors.get(usize::from(vendor));
        let p = product.and_then(|p| v?.products.get(usize::from(p)));
        let id = EndpointId {
            vendor,
            product: match p {
                Some(_) => product.unwrap_or(EndpointId::NO_PRODUCT),
                None => EndpointId::NO_PRODUCT,
            },
            endpoint: EndpointId::NO_ENDPOINT,
        };
        Match {
            // The caller names the owned entry.
            hit: Hit { id, tier, owned: 0 },
            id,
            tier,
            vendor: v.map_or("", |v| v.name.as_str()),
            vendor_slug: v.map_or("", |v| v.slug.as_str()),
            jurisdiction: v.map_or(&[], |v| v.jurisdiction.as_slice()),
            product: p.map_or(UNIDENTIFIED_PRODUCT, |p| p.name.as_str()),
            kind,
            pattern,
            purpose: Purpose::Unspecified,
            source,
            confidence: Confidence::Documented,
            shared_cloud: false,
            region: None,
        }
    }

    /// A destination's autonomous system, when it is registered to a vendor
    /// (never a hyperscaler, CDN or hosting network).
    pub fn match_asn(&self, number: u32) -> Option<Match<'_>> {
        let r = self.index.asn(number)?;
        let v = self.vendors.get(usize::from(r.vendor))?;
        let a = v.asns.get(usize::try_from(r.index).ok()?)?;
        let product = a.product.as_deref().and_then(|name| {
            let i = v.products.iter().position(|p| p.name == name)?;
            u16::try_from(i).ok()
        });
        let m = self.owned_match(
            r.vendor,
            product,
            Tier::OwnedNetwork,
            EndpointKind::Cidr,
            &a.pattern,
            &a.source,
        );
        Some(Match {
            hit: Hit {
                owned: r.index,
                ..m.hit
            },
            ..m
        })
    }

    /// Whether `name` is web presence: a web first label such as `www.` or
    /// `support.` at most [`platforms::WEB_DEPTH`] labels above the vendor
    /// domain it lies under (or its registrable domain), a website apex, or
    /// a `[[web_presence]]`.
    pub fn is_web_presence(&self, name: &str) -> bool {
        let mut buf = [0u8; 256];
        let Some(n) = names::normalize_into(name, &mut buf) else {
            return false;
        };
        // Relative to the vendor domain it lies under, else to its
        // registrable domain (`www.customer.example`).
        let base = self
            .index
            .base_of(n)
            .or_else(|| platforms::registrable_domain(n))
            .unwrap_or("");
        self.index.is_web(n, base)
    }

    /// Whether the catalog lists any JA4 (flows without names are then checked).
    pub fn has_ja4(&self) -> bool {
        !self.index.ja4.is_empty()
    }

    /// Whether the catalog lists any AS.
    pub fn has_asns(&self) -> bool {
        self.vendors.iter().any(|v| !v.asns.is_empty())
    }

    /// A destination address: longest prefix among the vendors' published ranges.
    pub fn match_ip(&self, ip: IpAddr) -> Option<Match<'_>> {
        self.get(self.index.ip(ip)?)
    }

    /// A certificate subject CN or SAN entry (possibly itself `*.x.y`).
    pub fn match_cert_name(&self, name: &str) -> Option<Match<'_>> {
        let mut buf = [0u8; 256];
        let n = names::normalize_into(name, &mut buf)?;
        self.get(*self.index.cert.get(n)?)
    }

    /// A JA4 client fingerprint.
    pub fn match_ja4(&self, ja4: &str) -> Option<Match<'_>> {
        let mut buf = [0u8; 256];
        let n = names::normalize_into(ja4, &mut buf)?;
        self.get(*self.index.ja4.get(n)?)
    }

    /// Everything wrong (errors) or doubtful (warnings) in the catalog, sorted
    /// by file and line.
    pub fn check(&self) -> Vec<CheckIssue> {
        let mut all = self.load_issues.clone();
        all.extend(check::run(&self.vendors));
        all.sort_by(|a, b| {
            (a.file.as_str(), a.line, a.severity, &a.message).cmp(&(
                b.file.as_str(),
                b.line,
                b.severity,
                &b.message,
            ))
        });
        all
    }

    /// The `[[asn]]` entries against an ASN database (the shipped one for
    /// `catalog check`): wrong names are errors, unknown numbers warnings.
    pub fn check_asn_database(
        &self,
        geoip: &crate::resolve::geoip::GeoIp,
    ) -> Result<Vec<CheckIssue>, crate::resolve::geoip::GeoIpError> {
        if self.vendors.iter().all(|v| v.asns.is_empty()) {
            return Ok(Vec::new());
        }
        let name = geoip
            .databases()
            .into_iter()
            .find(|d| d.role == crate::resolve::geoip::Role::Asn)
            .map_or_else(|| "the ASN database".to_string(), |d| d.name);
        Ok(check::asn_database(
            &self.vendors,
            &geoip.asn_table()?,
            &name,
        ))
    }

    /// The first error `check` finds (entry errors and cross-vendor
    /// conflicts), for refusing to start on a broken catalog.
    pub fn first_error(&self) -> Option<CheckIssue> {
        if self.prechecked {
            return None;
        }
        self.check()
            .into_iter()
            .find(|i| i.severity == Severity::Error)
    }

    /// Distinct prefix lengths (IPv4, IPv6): what one address lookup costs.
    pub fn prefix_levels(&self) -> (usize, usize) {
        self.index.prefix_levels()
    }

    /// Benchmark hook: this catalog plus `factor - 1` synthetic copies of every
    /// vendor, so the result is about `factor` times larger. Synthetic names get
    /// a `synN-` prefix on their first label (same label counts, never seen on a
    /// real network); synthetic CIDRs keep their prefix length but move into
    /// reserved space (240.0.0.0/4, 2001:db8::/32); owned domains get the
    /// same prefix, owned ASNs private-use numbers. Real traffic therefore
    /// matches exactly as against `self`, only against bigger tables.
    pub fn synthetic_scaled(&self, factor: usize) -> Catalog {
        let mut vendors = self.vendors.clone();
        let mut counter: u128 = 0;
        for copy in 1..factor.max(1) {
            for v in &self.vendors {
                if vendors.len() >= usize::from(u16::MAX) {
                    break;
                }
                let mut s = v.clone();
                s.slug = format!("syn{copy}-{}", v.slug);
                s.name = format!("{} (synthetic {copy})", v.name);
                for p in &mut s.products {
                    for e in &mut p.endpoints {
                        counter = counter.wrapping_add(1);
                        e.pattern = synthetic_pattern(e.kind, &e.pattern, copy, counter);
                    }
                }
                for d in &mut s.owned_domains {
                    d.domain = format!("syn{copy}-{}", d.domain);
                }
                for w in &mut s.web_presence {
                    w.pattern = format!("syn{copy}-{}", w.pattern);
                }
                // Private-use AS numbers: never announced on the Internet.
                for a in &mut s.asns {
                    counter = counter.wrapping_add(1);
                    a.number = 4_200_000_000 + u32::try_from(counter % 90_000_000).unwrap_or(0);
                    a.pattern = format!("AS{}", a.number);
                }
                vendors.push(s);
            }
        }
        Catalog::assemble(vendors, Vec::new())
    }
}

fn synthetic_pattern(kind: EndpointKind, p: &str, copy: usize, counter: u128) -> String {
    match kind {
        EndpointKind::Host | EndpointKind::Suffix => format!("syn{copy}-{p}"),
        EndpointKind::CertName => match p.strip_prefix("*.") {
            Some(rest) => format!("*.syn{copy}-{rest}"),
            None => format!("syn{copy}-{p}"),
        },
        // Keep the shape, change the hashes' first characters.
        EndpointKind::Ja4 => {
            let tail = p.get(23..).unwrap_or("");
            format!(
                "{}_{:012x}{tail}",
                p.get(..10).unwrap_or(""),
                counter & 0xffff_ffff_ffff
            )
        }
        EndpointKind::Cidr => match p.parse::<ipnet::IpNet>() {
            Ok(ipnet::IpNet::V4(n)) => {
                let len = n.prefix_len().max(4);
                let host_bits = 32 - u32::from(len);
                // Slot number inside 240.0.0.0/4, wrapping when the space is full.
                let slots = 1u64 << (u32::from(len) - 4);
                let slot = u64::try_from(counter % u128::from(slots)).unwrap_or(0);
                let addr = (240u64 << 24) | (slot << host_bits);
                let addr = u32::try_from(addr & 0xffff_ffff).unwrap_or(0xf000_0000);
                format!("{}/{len}", std::net::Ipv4Addr::from(addr))
            }
            Ok(ipnet::IpNet::V6(n)) => {
                let len = n.prefix_len().max(32);
                let host_bits = 128 - u32::from(len);
                let slot_bits = u32::from(len) - 32;
                let slot = if slot_bits >= 96 {
                    counter
                } else {
                    counter % (1u128 << slot_bits)
                };
                let base: u128 = 0x2001_0db8 << 96;
                let addr = base | slot.checked_shl(host_bits).unwrap_or(0);
                format!("{}/{len}", std::net::Ipv6Addr::from(addr))
            }
            Err(_) => p.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
