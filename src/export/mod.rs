//! `phonehome catalog export`: the vendor catalog in the formats SOC tools
//! already read: Suricata rules, a Zeek Intel framework file, Sigma rules, a
//! DNS response policy zone (RPZ), a hosts file, and JSON.
//!
//! The exporter reads only the catalog ([`crate::resolve::catalog`]) and the
//! jurisdiction policy ([`crate::judge::policy`], to keep foreign vendors
//! only); it writes plain text to any `Write`. The command line
//! (`src/cli/export.rs`) parses the flags into [`Options`].
//!
//! What every format carries, as far as it can: one rule or line per
//! endpoint, and per owned domain (marked `owned_domain`), with vendor,
//! product, purpose, jurisdiction and source. Owned networks (`[[asn]]`)
//! only reach the JSON export: no other format matches an AS.
//!
//! **Stable identifiers.** Each entry's id is a hash of (vendor slug, tier,
//! kind, pattern): never its position in a file, so adding, removing or
//! reordering entries leaves every other id as it was. Suricata sids and
//! Sigma rule UUIDs derive from it (see [`suricata`] and [`sigma`]).
//!
//! **Web presence.** phonehome never counts a vendor's web site as evidence
//! (catalog/README.md, "Never evidence"): under a `suffix` or owned domain,
//! a name whose first label is a web label (`www`, `docs`, `support`, ...), a
//! `[[web_presence]]` entry and the apex of an owned domain with
//! `website = true`. Formats that can say so exclude them (Suricata with a
//! negated `pcre`, Sigma with filters); the DNS formats say what they cannot.

mod dns;
mod json;
mod sigma;
mod suricata;
mod zeek;

use crate::judge::policy::Policy;
use crate::resolve::catalog::{Catalog, Confidence, EndpointKind, Purpose, Vendor};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::io::Write;
use std::path::PathBuf;

pub use sigma::uuid_v5;
pub use suricata::{sid, Protocol, SID_BASE, SID_SLOTS};

/// The product an owned domain or network is attributed to when it names
/// none (the same words the attribution uses).
pub const UNIDENTIFIED_PRODUCT: &str = "unidentified product";

/// An export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Suricata rules (tls.sni, dns.query, http.host, quic.sni, ip).
    Suricata,
    /// A Zeek Intel framework file (Intel::DOMAIN, Intel::ADDR, Intel::SUBNET).
    ZeekIntel,
    /// Sigma rules over DNS, proxy and firewall logs, one per vendor, product and log source.
    Sigma,
    /// A DNS response policy zone (BIND, Unbound, PowerDNS, Knot).
    Rpz,
    /// A hosts file (0.0.0.0 NAME), exact names only.
    Hosts,
    /// The whole catalog with its sources and the export ids.
    Json,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Suricata,
        Format::ZeekIntel,
        Format::Sigma,
        Format::Rpz,
        Format::Hosts,
        Format::Json,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Suricata => "suricata",
            Format::ZeekIntel => "zeek-intel",
            Format::Sigma => "sigma",
            Format::Rpz => "rpz",
            Format::Hosts => "hosts",
            Format::Json => "json",
        }
    }

    /// What the exported items are called in the summary line.
    fn items(self) -> &'static str {
        match self {
            Format::Suricata => "Suricata rules",
            Format::ZeekIntel => "Zeek intel items",
            Format::Sigma => "Sigma rules",
            Format::Rpz => "RPZ records",
            Format::Hosts => "hosts entries",
            Format::Json => "JSON catalog entries",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of catalog knowledge an entry is (the attribution's tiers that
/// come from catalog entries; certificate and JA4 evidence are endpoint kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Tier {
    /// A `[[product.endpoint]]`: host, suffix, cidr, cert_name or ja4.
    Endpoint,
    /// An `[[owned_domain]]`: every name under it that is not web presence.
    OwnedDomain,
    /// An `[[asn]]` (JSON only).
    OwnedNetwork,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Endpoint => "endpoint",
            Tier::OwnedDomain => "owned_domain",
            Tier::OwnedNetwork => "owned_network",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which entries to export. Empty lists keep everything.
#[derive(Clone, Debug, Default)]
pub struct Filter<'p> {
    /// Vendor slugs or names (case-insensitive).
    pub vendors: Vec<String>,
    /// Endpoint purposes. Owned domains and networks carry `unspecified`.
    pub purposes: Vec<Purpose>,
    /// Endpoint confidences. Owned domains and networks count as `documented`
    /// (the vendor's ownership is documented, as the attribution says).
    pub confidences: Vec<Confidence>,
    pub tiers: Vec<Tier>,
    /// Only vendors this policy judges foreign ([`Policy::is_foreign_vendor`]).
    pub foreign_only: Option<&'p Policy>,
}

impl Filter<'_> {
    fn keeps_vendor(&self, v: &Vendor) -> bool {
        (self.vendors.is_empty()
            || self
                .vendors
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&v.slug) || n.eq_ignore_ascii_case(&v.name)))
            && self
                .foreign_only
                .is_none_or(|p| p.is_foreign_vendor(&v.jurisdiction))
    }

    fn keeps(&self, tier: Tier, purpose: Purpose, confidence: Confidence) -> bool {
        (self.tiers.is_empty() || self.tiers.contains(&tier))
            && (self.purposes.is_empty() || self.purposes.contains(&purpose))
            && (self.confidences.is_empty() || self.confidences.contains(&confidence))
    }

    fn is_empty(&self) -> bool {
        self.vendors.is_empty()
            && self.purposes.is_empty()
            && self.confidences.is_empty()
            && self.tiers.is_empty()
            && self.foreign_only.is_none()
    }
}

/// Everything an export needs besides the catalog.
#[derive(Clone, Debug)]
pub struct Options<'p> {
    pub format: Format,
    pub filter: Filter<'p>,
    /// RPZ: the SOA serial.
    pub serial: u32,
}

impl Options<'_> {
    pub fn new(format: Format) -> Options<'static> {
        Options {
            format,
            filter: Filter::default(),
            serial: 1,
        }
    }
}

/// What an export wrote, for the summary line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rules, lines, records or entries written.
    pub items: usize,
    pub vendors: usize,
    /// Catalog entries that reached the output, by kind.
    pub hosts: usize,
    pub suffixes: usize,
    pub networks: usize,
    pub owned_domains: usize,
    pub owned_networks: usize,
    /// Entries the format cannot express (e.g. a JA4 in a hosts file, a
    /// network in Sigma's DNS rules is not counted: it has a firewall rule).
    pub not_expressible: usize,
    /// Suffixes and owned domains left out because all of them is web presence.
    pub web_only: usize,
    /// Entries whose sid slot was taken by another entry's hash (moved to the next free slot).
    pub sid_collisions: usize,
}

impl Summary {
    /// One line for stderr, e.g. `wrote 45 Suricata rules to x.rules (3
    /// vendors: 6 hosts, ...)`.
    pub fn line(&self, format: Format, target: &str) -> String {
        let mut s = format!(
            "wrote {} {} to {target} ({} vendors: {} hosts, {} suffixes, {} networks, {} owned domains",
            self.items,
            format.items(),
            self.vendors,
            self.hosts,
            self.suffixes,
            self.networks,
            self.owned_domains
        );
        if format == Format::Json {
            s.push_str(&format!(", {} owned networks", self.owned_networks));
        }
        if self.not_expressible > 0 {
            s.push_str(&format!(
                "; {} entries this format cannot express",
                self.not_expressible
            ));
        }
        if self.web_only > 0 {
            s.push_str(&format!(
                "; {} left out as web presence only",
                self.web_only
            ));
        }
        if self.sid_collisions > 0 && format == Format::Suricata {
            s.push_str(&format!(
                "; {} sids moved off a slot another entry's hash took",
                self.sid_collisions
            ));
        }
        s.push(')');
        s
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the catalog has errors, first: {0}; fix them before exporting (`phonehome catalog check` lists them)")]
    Catalog(String),
    #[error("no vendor named '{0}' in the catalog (see `phonehome catalog list`)")]
    UnknownVendor(String),
    #[error("nothing to export: the filter leaves no {0} entries")]
    Empty(Format),
    #[error("cannot write the export: {0}")]
    Write(#[source] std::io::Error),
    #[error(transparent)]
    Load(#[from] crate::resolve::catalog::LoadError),
    #[error(transparent)]
    Policy(#[from] crate::judge::policy::PolicyError),
    #[error("cannot write {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `catalog` in `opts.format` to `out`.
pub fn export(
    catalog: &Catalog,
    opts: &Options<'_>,
    out: &mut dyn Write,
) -> Result<Summary, ExportError> {
    if let Some(issue) = catalog.first_error() {
        return Err(ExportError::Catalog(issue.to_string()));
    }
    for name in &opts.filter.vendors {
        if catalog.vendor(name).is_none() {
            return Err(ExportError::UnknownVendor(name.clone()));
        }
    }
    if opts.format == Format::Json {
        return json::write(catalog, opts, out);
    }
    let all = Entries::collect(catalog);
    let kept: Vec<&Entry<'_>> = all
        .list
        .iter()
        .filter(|e| {
            opts.filter.keeps_vendor(e.vendor) && opts.filter.keeps(e.tier, e.purpose, e.confidence)
        })
        .collect();
    let mut summary = Summary {
        sid_collisions: all.sid_collisions,
        web_only: all
            .web_only
            .iter()
            .filter_map(|slug| catalog.vendor(slug))
            .filter(|v| opts.filter.keeps_vendor(v))
            .count(),
        ..Summary::default()
    };
    let mut text = Vec::new();
    match opts.format {
        Format::Suricata => suricata::write(&kept, &mut text, &mut summary),
        Format::ZeekIntel => zeek::write(&kept, &mut text, &mut summary),
        Format::Sigma => sigma::write(&kept, &mut text, &mut summary),
        Format::Rpz => dns::write_rpz(&kept, opts, &mut text, &mut summary),
        Format::Hosts => dns::write_hosts(&kept, &mut text, &mut summary),
        Format::Json => {}
    }
    if summary.items == 0 {
        return Err(ExportError::Empty(opts.format));
    }
    out.write_all(&text).map_err(ExportError::Write)?;
    Ok(summary)
}

/// Writes the export to `path` through a temporary file in the same
/// directory, renamed into place: a reader that watches the file (Zeek's
/// intel framework, a name server reloading its zone) never sees half of it.
pub fn write_file(
    catalog: &Catalog,
    opts: &Options<'_>,
    path: &std::path::Path,
) -> Result<Summary, ExportError> {
    let mut text = Vec::new();
    let summary = export(catalog, opts, &mut text)?;
    let file_err = |source| ExportError::File {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, &text).map_err(file_err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        file_err(e)
    })?;
    Ok(summary)
}

/// One exportable catalog entry (an endpoint or an owned domain).
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    /// Stable id: [`entry_id`].
    pub id: u64,
    /// Suricata sid slot (see [`suricata::sid`]).
    pub slot: u32,
    pub tier: Tier,
    /// Owned domains are `Suffix`.
    pub kind: EndpointKind,
    pub pattern: &'a str,
    pub vendor: &'a Vendor,
    pub product: &'a str,
    pub purpose: Purpose,
    pub confidence: Confidence,
    pub source: &'a str,
    pub shared_cloud: bool,
    /// For `Suffix`: which names under it are web presence.
    pub scope: Scope<'a>,
}

impl Entry<'_> {
    /// The id as 16 hex digits, as every format writes it.
    pub fn hex_id(&self) -> String {
        format!("{:016x}", self.id)
    }
}

/// The web presence inside a suffix or owned domain `D`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Scope<'a> {
    /// `D` itself is evidence (not a website apex, not web presence).
    pub apex: bool,
    /// `[[web_presence]]` hosts (and website apexes) strictly under `D`.
    pub web_hosts: Vec<&'a str>,
    /// `[[web_presence]]` subtrees strictly under `D`.
    pub web_suffixes: Vec<&'a str>,
}

/// Web presence of the whole catalog: as the attribution, it applies to
/// every vendor's names (a web presence entry is nobody's evidence).
#[derive(Debug, Default)]
pub(crate) struct Web<'a> {
    pub hosts: BTreeSet<&'a str>,
    pub suffixes: BTreeSet<&'a str>,
}

impl<'a> Web<'a> {
    fn new(vendors: &'a [Vendor]) -> Web<'a> {
        let mut web = Web::default();
        for v in vendors {
            for d in v.owned_domains.iter().filter(|d| d.website) {
                web.hosts.insert(d.domain.as_str());
            }
            for w in &v.web_presence {
                match w.kind {
                    EndpointKind::Host => web.hosts.insert(w.pattern.as_str()),
                    _ => web.suffixes.insert(w.pattern.as_str()),
                };
            }
        }
        web
    }

    /// `d` lies at or under a web presence subtree: nothing under it is evidence.
    fn covers(&self, d: &str) -> bool {
        suffixes(d).any(|s| self.suffixes.contains(s))
    }

    /// What the formats leave out under `d`; whether `d` itself is
    /// evidence is the attribution's own rule ([`Catalog::is_web_presence`]).
    fn scope(&self, d: &'a str, catalog: &Catalog) -> Scope<'a> {
        let under = |x: &&str| x.len() > d.len() && x.ends_with(d) && is_label_suffix(x, d);
        Scope {
            apex: !catalog.is_web_presence(d),
            web_hosts: self.hosts.iter().copied().filter(under).collect(),
            web_suffixes: self.suffixes.iter().copied().filter(under).collect(),
        }
    }
}

/// `x` ends with `.d` on a label boundary (the caller checked `x` ends with `d`).
fn is_label_suffix(x: &str, d: &str) -> bool {
    x.len() > d.len()
        && x.as_bytes()
            .get(x.len() - d.len() - 1)
            .is_some_and(|&b| b == b'.')
}

/// `name` and each parent on label boundaries.
fn suffixes(name: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(name);
    std::iter::from_fn(move || {
        let cur = next?;
        next = cur.find('.').and_then(|i| cur.get(i + 1..));
        Some(cur)
    })
}

/// All exportable entries of a catalog, with sid slots assigned over the
/// whole catalog (so a filter never moves a sid).
pub(crate) struct Entries<'a> {
    pub list: Vec<Entry<'a>>,
    /// Entries whose SID slot had to move (hash collision).
    pub sid_collisions: usize,
    /// Slugs of the vendors of entries left out because all of them is web presence.
    pub web_only: Vec<&'a str>,
}

impl<'a> Entries<'a> {
    pub(crate) fn collect(catalog: &'a Catalog) -> Entries<'a> {
        Entries::collect_with_slots(catalog, SID_SLOTS)
    }

    /// `slots`: size of the sid slot space (smaller in tests, to force collisions).
    pub(crate) fn collect_with_slots(catalog: &'a Catalog, slots: u32) -> Entries<'a> {
        let vendors = catalog.vendors();
        let web = Web::new(vendors);
        let mut list = Vec::new();
        let mut web_only = Vec::new();
        for v in vendors {
            for d in &v.owned_domains {
                if web.covers(&d.domain) {
                    web_only.push(v.slug.as_str());
                    continue;
                }
                list.push(Entry {
                    id: entry_id(&v.slug, Tier::OwnedDomain, EndpointKind::Suffix, &d.domain),
                    slot: 0,
                    tier: Tier::OwnedDomain,
                    kind: EndpointKind::Suffix,
                    pattern: &d.domain,
                    vendor: v,
                    product: owned_product(v, d.product.as_deref()),
                    purpose: Purpose::Unspecified,
                    confidence: Confidence::Documented,
                    source: &d.source,
                    shared_cloud: false,
                    scope: web.scope(&d.domain, catalog),
                });
            }
            for p in &v.products {
                for e in &p.endpoints {
                    let scope = if e.kind == EndpointKind::Suffix {
                        if web.covers(&e.pattern) {
                            web_only.push(v.slug.as_str());
                            continue;
                        }
                        web.scope(&e.pattern, catalog)
                    } else {
                        Scope::default()
                    };
                    list.push(Entry {
                        id: entry_id(&v.slug, Tier::Endpoint, e.kind, &e.pattern),
                        slot: 0,
                        tier: Tier::Endpoint,
                        kind: e.kind,
                        pattern: &e.pattern,
                        vendor: v,
                        product: &p.name,
                        purpose: e.purpose,
                        confidence: e.confidence,
                        source: &e.source,
                        shared_cloud: e.shared_cloud,
                        scope,
                    });
                }
            }
        }
        // Endpoint entries first within a vendor reads better: products, then
        // the owned domains that catch what the products' lists miss.
        list.sort_by_key(|e| (e.vendor.slug.as_str(), e.tier == Tier::OwnedDomain));
        let sid_collisions = assign_slots(&mut list, slots);
        Entries {
            list,
            sid_collisions,
            web_only,
        }
    }
}

/// The owned domain's product name as the vendor spells it, else "unidentified product".
fn owned_product<'a>(v: &'a Vendor, product: Option<&str>) -> &'a str {
    product
        .and_then(|want| {
            v.products
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(want))
        })
        .map_or(UNIDENTIFIED_PRODUCT, |p| p.name.as_str())
}

/// Stable id of an entry: the first 8 bytes of SHA-256 over its identity.
/// Not its position: adding or moving other entries never changes it.
pub fn entry_id(vendor_slug: &str, tier: Tier, kind: EndpointKind, pattern: &str) -> u64 {
    let mut h = Sha256::new();
    for part in [vendor_slug, tier.as_str(), kind.key(), pattern] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(d.iter()) {
        *dst = *src;
    }
    u64::from_be_bytes(b)
}

/// Gives each entry the slot `id % slots`, or on a collision the next free
/// one. Entries are placed in (home slot, id, pattern) order, so the result
/// depends only on the set of entries, never on file order; an added entry
/// can move another only by colliding with it. Returns how many moved.
fn assign_slots(list: &mut [Entry<'_>], slots: u32) -> usize {
    let slots = slots.max(1);
    let home = |e: &Entry<'_>| u32::try_from(e.id % u64::from(slots)).unwrap_or(0);
    let mut order: Vec<(u32, u64, &str, Tier, EndpointKind, &str, usize)> = list
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                home(e),
                e.id,
                e.vendor.slug.as_str(),
                e.tier,
                e.kind,
                e.pattern,
                i,
            )
        })
        .collect();
    order.sort_unstable();
    let order: Vec<usize> = order.into_iter().map(|k| k.6).collect();
    let mut used: HashSet<u32> = HashSet::with_capacity(list.len());
    let mut moved = 0;
    for i in order {
        let Some(e) = list.get_mut(i) else { continue };
        let mut slot = home(e);
        if used.len() >= slots as usize {
            break; // more entries than slots: cannot happen at 10^8 slots
        }
        if used.contains(&slot) {
            moved += 1;
            while used.contains(&slot) {
                slot = (slot + 1) % slots;
            }
        }
        used.insert(slot);
        e.slot = slot;
    }
    moved
}

/// Free text from a catalog file made safe for one line of any format:
/// control characters become spaces, runs of spaces one space.
pub(crate) fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// A catalog name the DNS formats can write as is: lower-case letters,
/// digits, `-`, `_` and dots between non-empty labels. The loader already
/// refuses anything else; this keeps a hand-built catalog from breaking a
/// zone file.
pub(crate) fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

/// Counts an entry in the summary by kind and tier.
pub(crate) fn count(summary: &mut Summary, e: &Entry<'_>) {
    match (e.tier, e.kind) {
        (Tier::OwnedDomain, _) => summary.owned_domains += 1,
        (_, EndpointKind::Host) => summary.hosts += 1,
        (_, EndpointKind::Suffix) => summary.suffixes += 1,
        (_, EndpointKind::Cidr) => summary.networks += 1,
        _ => {}
    }
}

/// Number of distinct vendors among `entries`.
pub(crate) fn vendor_count(entries: &[&Entry<'_>]) -> usize {
    entries
        .iter()
        .map(|e| e.vendor.slug.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

#[cfg(test)]
mod tests;
