//! GeoIP: country and AS number of an address, from MaxMind-format databases.
//!
//! Two optional databases are consulted: one for the country and one for the
//! ASN. Each is either the data shipped in `geoip/` (compiled into the binary,
//! so it works with no files around) or a file named by the user, such as a
//! GeoLite2/GeoIP2 database kept fresh by `geoipupdate`. One record type reads
//! both the MaxMind and the ip-location-db layouts ([`record`]).
//!
//! Private, loopback, CGNAT, link-local, documentation and the other
//! special-purpose ranges are answered as internal, never with a country
//! ([`internal`]).
//!
//! Databases from files are verified when opened (maxminddb's own verifier
//! walks the whole search tree and decodes every record), so a corrupt file is
//! refused with an error naming it instead of failing lookups later.
//! [`GeoIp::reload_if_changed`] reopens files that changed on disk.

mod command;
pub mod internal;
mod record;

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use maxminddb::{MaxMindDbError, Reader};
use serde::Serialize;

pub use command::{geoip_command, geoip_command_json, geoip_lookup_all, GeoLine};
pub use internal::{classify, InternalKind};
use record::{AnyRecord, GeoRecord};

/// The shipped country database (see `geoip/README.md`).
pub const EMBEDDED_COUNTRY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/geoip/geo-whois-asn-country.mmdb"
));
/// Where [`EMBEDDED_COUNTRY`] comes from, for messages.
pub const EMBEDDED_COUNTRY_NAME: &str = "geoip/geo-whois-asn-country.mmdb (built in)";
/// The shipped ASN database (see `geoip/README.md`).
pub const EMBEDDED_ASN: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/geoip/asn.mmdb"));
/// Where [`EMBEDDED_ASN`] comes from, for messages.
pub const EMBEDDED_ASN_NAME: &str = "geoip/asn.mmdb (built in)";

/// Credit that CC BY 4.0 requires for the built-in data (geoip/README.md);
/// show it wherever the program names its data sources.
pub const ATTRIBUTION: &str = "GeoIP data: IP to ASN by DB-IP (db-ip.com, IP to ASN Lite), \
RouteViews (routeviews.org) and NRO (nro.net), CC BY 4.0; country data with RIR data by \
NRO, CC BY 4.0; compiled by ip-location-db; ASN data converted to MaxMind DB by phonehome.";

/// File names looked for in a `geoipupdate` directory, best first.
pub const DIR_COUNTRY_NAMES: &[&str] = &[
    "GeoIP2-Country.mmdb",
    "GeoLite2-Country.mmdb",
    "GeoIP2-City.mmdb",
    "GeoLite2-City.mmdb",
];
/// ASN file names looked for in a `geoipupdate` directory, best first.
pub const DIR_ASN_NAMES: &[&str] = &["GeoIP2-ISP.mmdb", "GeoLite2-ASN.mmdb"];
/// Where `geoipupdate` and distributions put databases (Zeek looks in the
/// first). Searched only when asked for.
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr/share/GeoIP",
    "/var/lib/GeoIP",
    "/usr/local/share/GeoIP",
    "/opt/homebrew/var/GeoIP",
];

/// What a database is consulted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Country,
    Asn,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Country => "country",
            Role::Asn => "ASN",
        })
    }
}

/// Errors name the database file and say what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    #[error("GeoIP {role} database {name}: cannot read it: {source}")]
    Read {
        role: Role,
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("GeoIP {role} database {name} is not a MaxMind DB file (no metadata marker)")]
    NotMaxMindDb { role: Role, name: String },
    #[error("GeoIP {role} database {name} is corrupt: {source}")]
    Corrupt {
        role: Role,
        name: String,
        #[source]
        source: MaxMindDbError,
    },
    #[error("GeoIP {role} database {name}: lookup of {ip} failed: {source}")]
    Lookup {
        role: Role,
        name: String,
        ip: IpAddr,
        #[source]
        source: MaxMindDbError,
    },
    /// A database of the other kind (an ASN database given as the country
    /// database, or the reverse): every destination would be "unknown".
    #[error("GeoIP {role} database {name} is not a {role} database: {detail}")]
    WrongKind {
        role: Role,
        name: String,
        detail: String,
    },
    #[error("GeoIP directory {dir}: found none of {looked_for}")]
    NothingInDir { dir: PathBuf, looked_for: String },
    #[error("no GeoIP database in any of {looked_in}")]
    NothingInSystemDirs { looked_in: String },
}

/// Where one database comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The data shipped in `geoip/`, compiled in.
    Embedded,
    /// A MaxMind-format file.
    File(PathBuf),
    /// Not consulted.
    Disabled,
}

/// Which databases to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoIpConfig {
    pub country: Source,
    pub asn: Source,
    /// Run maxminddb's verifier over files when they are (re)opened. The
    /// built-in data is checked by the tests instead, to keep start-up fast.
    pub verify_files: bool,
}

impl Default for GeoIpConfig {
    fn default() -> Self {
        Self {
            country: Source::Embedded,
            asn: Source::Embedded,
            verify_files: true,
        }
    }
}

/// Where GeoIP data comes from, as the user gave it (the command line maps
/// its `--geoip-*` flags to this).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeoIpOptions {
    /// Country database (MaxMind or ip-location-db layout) instead of the built-in one.
    pub country: Option<PathBuf>,
    /// ASN database (MaxMind or ip-location-db layout) instead of the built-in one.
    pub asn: Option<PathBuf>,
    /// geoipupdate directory: GeoIP2/GeoLite2 Country (or City) and ASN (or ISP) found there.
    pub dir: Option<PathBuf>,
    /// Look for geoipupdate databases in /usr/share/GeoIP, /var/lib/GeoIP and similar.
    pub system_dirs: bool,
}

impl GeoIpOptions {
    /// Explicit files win over a directory, a directory over the system
    /// directories, and whatever is still unset uses the built-in data.
    pub fn to_config(&self) -> Result<GeoIpConfig, GeoIpError> {
        let mut config = GeoIpConfig::default();
        if let Some(dir) = &self.dir {
            let (country, asn) = scan_dir(dir);
            if country.is_none() && asn.is_none() {
                return Err(GeoIpError::NothingInDir {
                    dir: dir.clone(),
                    looked_for: DIR_COUNTRY_NAMES
                        .iter()
                        .chain(DIR_ASN_NAMES)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            set_found(&mut config, country, asn);
        } else if self.system_dirs {
            let found = SYSTEM_DIRS
                .iter()
                .map(|d| scan_dir(Path::new(d)))
                .find(|(c, a)| c.is_some() || a.is_some());
            match found {
                Some((country, asn)) => set_found(&mut config, country, asn),
                None => {
                    return Err(GeoIpError::NothingInSystemDirs {
                        looked_in: SYSTEM_DIRS.join(", "),
                    })
                }
            }
        }
        if let Some(f) = &self.country {
            config.country = Source::File(f.clone());
        }
        if let Some(f) = &self.asn {
            config.asn = Source::File(f.clone());
        }
        Ok(config)
    }
}

fn set_found(config: &mut GeoIpConfig, country: Option<PathBuf>, asn: Option<PathBuf>) {
    if let Some(c) = country {
        config.country = Source::File(c);
    }
    if let Some(a) = asn {
        config.asn = Source::File(a);
    }
}

/// The best country and ASN files in a `geoipupdate` directory.
pub fn scan_dir(dir: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let first = |names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| p.is_file());
    (first(DIR_COUNTRY_NAMES), first(DIR_ASN_NAMES))
}

/// What GeoIP knows about one address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GeoAnswer {
    /// ISO 3166-1 alpha-2 code, upper case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
    /// Set for special-purpose ranges, which never get a country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal: Option<InternalKind>,
    /// A database failed to decode this address's record; counted in
    /// [`GeoIp::lookup_errors`]. The other database may still have answered.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub db_error: bool,
}

/// Summary of one open database, for logs and stats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbInfo {
    pub role: Role,
    pub name: String,
    pub database_type: String,
    pub build_epoch: u64,
    pub ip_version: u16,
}

type Db = Reader<Cow<'static, [u8]>>;

/// What identifies a version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<Self> {
        let m = std::fs::metadata(path)?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(Self {
            len: m.len(),
            modified: m.modified().ok(),
            inode,
        })
    }
}

#[derive(Debug)]
struct Database {
    role: Role,
    reader: Db,
    /// The file and the stamp of the version that `reader` holds; `None` for
    /// the built-in data.
    file: Option<(PathBuf, Stamp)>,
    /// The last version that failed to open (or `None` stamp for a missing
    /// file), so a bad file is reported once, not at every reload check.
    failed: Option<Option<Stamp>>,
}

impl Database {
    fn name(&self) -> String {
        match (&self.file, self.role) {
            (Some((p, _)), _) => p.display().to_string(),
            (None, Role::Country) => EMBEDDED_COUNTRY_NAME.to_owned(),
            (None, Role::Asn) => EMBEDDED_ASN_NAME.to_owned(),
        }
    }
}

/// Opens MaxMind-format data; `verify` walks the search tree and decodes
/// every record once, which is where corrupt files are caught.
fn open_bytes(
    role: Role,
    name: &str,
    bytes: Cow<'static, [u8]>,
    verify: bool,
) -> Result<Db, GeoIpError> {
    let corrupt = |source: MaxMindDbError| match &source {
        MaxMindDbError::InvalidDatabase { message, .. }
            if message.contains("could not find MaxMind DB metadata") =>
        {
            GeoIpError::NotMaxMindDb {
                role,
                name: name.to_owned(),
            }
        }
        _ => GeoIpError::Corrupt {
            role,
            name: name.to_owned(),
            source,
        },
    };
    let reader = Reader::from_source(bytes).map_err(corrupt)?;
    if verify {
        check_records(&reader).map_err(corrupt)?;
    }
    Ok(reader)
}

/// Walks the whole search tree and decodes every distinct record the way
/// lookups will, so that a database that passes never fails a lookup.
///
/// maxminddb's own `Reader::verify` is stricter about metadata than real
/// files are (it refuses the ip-location-db databases for their empty
/// `description`), so this pass is built on its public iterator instead.
fn check_records(reader: &Db) -> Result<usize, MaxMindDbError> {
    let options = maxminddb::WithinOptions::default().include_networks_without_data();
    // A sound tree has node_count + 1 leaves; more means a cycle.
    let max_leaves = usize::try_from(reader.metadata().node_count)
        .unwrap_or(usize::MAX)
        .saturating_mul(2)
        .saturating_add(2);
    let mut seen = std::collections::HashSet::new();
    for (leaves, item) in reader.networks(options)?.enumerate() {
        if leaves > max_leaves {
            return Err(MaxMindDbError::invalid_database(format!(
                "corrupt search tree: more than {max_leaves} leaves for {} nodes (a cycle?)",
                reader.metadata().node_count
            )));
        }
        let found = item?;
        if let Some(offset) = found.offset() {
            if seen.insert(offset) {
                found.decode::<AnyRecord<'_>>()?;
            }
        }
    }
    Ok(seen.len())
}

fn open_file(role: Role, path: &Path, verify: bool) -> Result<(Db, Stamp), GeoIpError> {
    let name = path.display().to_string();
    let read_err = |source| GeoIpError::Read {
        role,
        name: name.clone(),
        source,
    };
    // Stat before reading: if the file is replaced meanwhile, the stamp is
    // older than the contents and the next reload check reads it again.
    let stamp = Stamp::of(path).map_err(read_err)?;
    let bytes = std::fs::read(path).map_err(read_err)?;
    let reader = open_bytes(role, &name, Cow::Owned(bytes), verify)?;
    if verify {
        check_kind(role, &name, &reader)?;
    }
    Ok((reader, stamp))
}

/// Records read to see what a database holds.
const KIND_SAMPLE: usize = 4096;

/// Refuses a database of the wrong kind for `role`: by the type its
/// metadata names, then by what its records hold (a country database in
/// which no record names a country would make every destination unknown,
/// and unknown counts as abroad).
fn check_kind(role: Role, name: &str, reader: &Db) -> Result<(), GeoIpError> {
    let wrong = |detail: String| GeoIpError::WrongKind {
        role,
        name: name.to_owned(),
        detail,
    };
    let db_type = reader.metadata().database_type.clone();
    let t = db_type.to_ascii_lowercase();
    let names_asn = t.contains("asn") || t.contains("isp");
    let names_country = t.contains("country") || t.contains("city") || t.contains("enterprise");
    match role {
        Role::Country if names_asn && !names_country => {
            return Err(wrong(format!(
                "its type is \"{db_type}\"; pass it with --geoip-asn"
            )))
        }
        Role::Asn if names_country && !names_asn => {
            return Err(wrong(format!(
                "its type is \"{db_type}\"; pass it with --geoip-country"
            )))
        }
        _ => {}
    }
    let (mut records, mut countries, mut asns) = (0usize, 0usize, 0usize);
    let mut seen = std::collections::HashSet::new();
    let corrupt = |source| GeoIpError::Corrupt {
        role,
        name: name.to_owned(),
        source,
    };
    for item in reader
        .networks(maxminddb::WithinOptions::default())
        .map_err(corrupt)?
    {
        let found = item.map_err(corrupt)?;
        let Some(offset) = found.offset() else {
            continue;
        };
        if !seen.insert(offset) {
            continue;
        }
        if let Some(AnyRecord(r)) = found.decode::<AnyRecord<'_>>().map_err(corrupt)? {
            countries += usize::from(r.country().is_some());
            asns += usize::from(r.asn().is_some());
        }
        records += 1;
        if records >= KIND_SAMPLE {
            break;
        }
    }
    let (what, other) = match role {
        Role::Country if records > 0 && countries == 0 => (
            "a country code",
            (asns > 0).then_some("they hold AS numbers: pass it with --geoip-asn"),
        ),
        Role::Asn if records > 0 && asns == 0 => (
            "an AS number",
            (countries > 0).then_some("they hold country codes: pass it with --geoip-country"),
        ),
        _ => return Ok(()),
    };
    Err(wrong(format!(
        "none of its first {records} records holds {what} (its type is \"{db_type}\"){}",
        other.map(|o| format!("; {o}")).unwrap_or_default()
    )))
}

fn open_source(role: Role, source: &Source, verify: bool) -> Result<Option<Database>, GeoIpError> {
    let (reader, file) = match source {
        Source::Disabled => return Ok(None),
        Source::Embedded => {
            let (bytes, name) = match role {
                Role::Country => (EMBEDDED_COUNTRY, EMBEDDED_COUNTRY_NAME),
                Role::Asn => (EMBEDDED_ASN, EMBEDDED_ASN_NAME),
            };
            (open_bytes(role, name, Cow::Borrowed(bytes), false)?, None)
        }
        Source::File(path) => {
            let (reader, stamp) = open_file(role, path, verify)?;
            (reader, Some((path.clone(), stamp)))
        }
    };
    Ok(Some(Database {
        role,
        reader,
        file,
        failed: None,
    }))
}

/// One AS of the ASN database ([`GeoIp::asn_table`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsnEntry {
    /// Organisation name as the database gives it (may be empty).
    pub name: String,
    /// An address announced by the AS.
    pub address: IpAddr,
}

/// Country and ASN lookups. `Send + Sync`: share it behind an `Arc`, or give
/// each thread its own.
#[derive(Debug)]
pub struct GeoIp {
    country: Option<Database>,
    asn: Option<Database>,
    verify_files: bool,
    lookup_errors: AtomicU64,
}

impl GeoIp {
    /// The built-in country and ASN data.
    pub fn embedded() -> Result<Self, GeoIpError> {
        Self::open(&GeoIpConfig::default())
    }

    /// No databases: every public address is unknown, internal ones are
    /// still recognised.
    pub fn none() -> Self {
        Self {
            country: None,
            asn: None,
            verify_files: true,
            lookup_errors: AtomicU64::new(0),
        }
    }

    pub fn open(config: &GeoIpConfig) -> Result<Self, GeoIpError> {
        Ok(Self {
            country: open_source(Role::Country, &config.country, config.verify_files)?,
            asn: open_source(Role::Asn, &config.asn, config.verify_files)?,
            verify_files: config.verify_files,
            lookup_errors: AtomicU64::new(0),
        })
    }

    /// The open databases.
    pub fn databases(&self) -> Vec<DbInfo> {
        [&self.country, &self.asn]
            .into_iter()
            .flatten()
            .map(|db| {
                let m = db.reader.metadata();
                DbInfo {
                    role: db.role,
                    name: db.name(),
                    database_type: m.database_type.clone(),
                    build_epoch: m.build_epoch,
                    ip_version: m.ip_version,
                }
            })
            .collect()
    }

    /// Every AS in the ASN database: its organisation name and one address
    /// in it (the first network found), by number. Walks the whole database
    /// (about a second for the shipped one): for `catalog check` and tests,
    /// never per flow. Empty without an ASN database.
    pub fn asn_table(&self) -> Result<std::collections::BTreeMap<u32, AsnEntry>, GeoIpError> {
        let mut out = std::collections::BTreeMap::new();
        let Some(db) = self.asn.as_ref() else {
            return Ok(out);
        };
        let corrupt = |source| GeoIpError::Corrupt {
            role: Role::Asn,
            name: db.name(),
            source,
        };
        let mut seen = std::collections::HashSet::new();
        for item in db
            .reader
            .networks(maxminddb::WithinOptions::default())
            .map_err(corrupt)?
        {
            let found = item.map_err(corrupt)?;
            let Some(offset) = found.offset() else {
                continue;
            };
            if !seen.insert(offset) {
                continue;
            }
            let Some(AnyRecord(rec)) = found.decode::<AnyRecord<'_>>().map_err(corrupt)? else {
                continue;
            };
            let Some(number) = rec.asn() else { continue };
            let address = found.network().map_err(corrupt)?.ip();
            out.entry(number).or_insert_with(|| AsnEntry {
                name: rec.as_org().unwrap_or_default().to_owned(),
                address,
            });
        }
        Ok(out)
    }

    /// How many lookups met a record that failed to decode.
    pub fn lookup_errors(&self) -> u64 {
        self.lookup_errors.load(Ordering::Relaxed)
    }

    /// Country and ASN of `ip`; special-purpose ranges are answered as
    /// internal without consulting the databases. A record that fails to
    /// decode sets `db_error` and is counted; it never stops the caller.
    pub fn lookup(&self, ip: IpAddr) -> GeoAnswer {
        let ip = internal::canonical(ip);
        if let Some(kind) = internal::classify(ip) {
            return GeoAnswer {
                internal: Some(kind),
                ..GeoAnswer::default()
            };
        }
        self.lookup_databases(ip)
    }

    /// Like [`lookup`](Self::lookup), but the first database error is
    /// returned instead of flagged (for `phonehome geoip`).
    pub fn try_lookup(&self, ip: IpAddr) -> Result<GeoAnswer, GeoIpError> {
        let ip = internal::canonical(ip);
        if let Some(kind) = internal::classify(ip) {
            return Ok(GeoAnswer {
                internal: Some(kind),
                ..GeoAnswer::default()
            });
        }
        let mut answer = GeoAnswer::default();
        let country = lookup_in(self.country.as_ref(), ip)?;
        let asn = lookup_in(self.asn.as_ref(), ip)?;
        fill(&mut answer, country.as_ref(), asn.as_ref());
        Ok(answer)
    }

    /// The databases' answer for `ip` as given: no internal ranges, no
    /// IPv4-mapped conversion. What `mmdblookup` would say.
    pub fn lookup_databases(&self, ip: IpAddr) -> GeoAnswer {
        let mut answer = GeoAnswer::default();
        let country = self.flagged(&mut answer, self.country.as_ref(), ip);
        let asn = self.flagged(&mut answer, self.asn.as_ref(), ip);
        fill(&mut answer, country.as_ref(), asn.as_ref());
        answer
    }

    /// A lookup whose error becomes a flag and a count.
    fn flagged<'a>(
        &self,
        answer: &mut GeoAnswer,
        db: Option<&'a Database>,
        ip: IpAddr,
    ) -> Option<GeoRecord<'a>> {
        lookup_in(db, ip).unwrap_or_else(|_| {
            answer.db_error = true;
            self.lookup_errors.fetch_add(1, Ordering::Relaxed);
            None
        })
    }

    /// A digest of the database files' versions as loaded (size, time,
    /// inode); compare with [`GeoIp::stamps_on_disk`].
    pub fn stamps_loaded(&self) -> u64 {
        self.stamps(|db| db.file.as_ref().map(|(_, st)| *st))
    }

    /// The same digest for the files as they are on disk now: it differs
    /// from [`GeoIp::stamps_loaded`] once a file was replaced.
    pub fn stamps_on_disk(&self) -> u64 {
        self.stamps(|db| db.file.as_ref().and_then(|(p, _)| Stamp::of(p).ok()))
    }

    fn stamps(&self, stamp: impl Fn(&Database) -> Option<Stamp>) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for db in [&self.country, &self.asn].into_iter().flatten() {
            stamp(db).hash(&mut h);
        }
        h.finish()
    }

    /// The same databases opened again (files read again, built-in data
    /// kept): how a `GeoIp` shared by several threads is reloaded, where
    /// [`GeoIp::reload_if_changed`] cannot run.
    pub fn reopen(&self) -> Result<GeoIp, GeoIpError> {
        let again = |db: &Option<Database>, role: Role| -> Result<Option<Database>, GeoIpError> {
            let Some(db) = db else {
                return Ok(None);
            };
            let source = match &db.file {
                Some((path, _)) => Source::File(path.clone()),
                None => Source::Embedded,
            };
            open_source(role, &source, self.verify_files)
        };
        Ok(GeoIp {
            country: again(&self.country, Role::Country)?,
            asn: again(&self.asn, Role::Asn)?,
            verify_files: self.verify_files,
            lookup_errors: AtomicU64::new(0),
        })
    }

    /// Reopens every file-backed database whose file changed (size, mtime or
    /// inode) since it was read. Cheap when nothing changed (one `stat` per
    /// file), so callers can call it every few seconds; opening a changed
    /// file walks all of it (about 60 ms for the 8-10 MB shipped files in a
    /// release build, proportionally more for GeoLite2-City), so call it off
    /// the per-packet path. On error the old data stays in use
    /// and the error is returned once per bad version of the file. Returns
    /// whether anything was reopened.
    pub fn reload_if_changed(&mut self) -> Result<bool, GeoIpError> {
        let verify = self.verify_files;
        let mut reloaded = false;
        let mut first_err = None;
        for db in [&mut self.country, &mut self.asn].into_iter().flatten() {
            match reload_one(db, verify) {
                Ok(r) => reloaded |= r,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(reloaded),
        }
    }
}

fn reload_one(db: &mut Database, verify: bool) -> Result<bool, GeoIpError> {
    let Some((path, stamp)) = &db.file else {
        return Ok(false);
    };
    let now = Stamp::of(path).ok();
    if now == Some(*stamp) || db.failed == Some(now) {
        return Ok(false);
    }
    match open_file(db.role, path, verify) {
        Ok((reader, new_stamp)) => {
            db.reader = reader;
            db.file = Some((path.clone(), new_stamp));
            db.failed = None;
            Ok(true)
        }
        Err(e) => {
            db.failed = Some(now);
            Err(e)
        }
    }
}

fn lookup_in<'a>(
    db: Option<&'a Database>,
    ip: IpAddr,
) -> Result<Option<GeoRecord<'a>>, GeoIpError> {
    let Some(db) = db else { return Ok(None) };
    // An IPv4-only database has no answer for IPv6 (the crate calls it an
    // input error, which it is not for us).
    if ip.is_ipv6() && db.reader.metadata().ip_version == 4 {
        return Ok(None);
    }
    let err = |source| GeoIpError::Lookup {
        role: db.role,
        name: db.name(),
        ip,
        source,
    };
    db.reader
        .lookup(ip)
        .and_then(|r| r.decode::<AnyRecord<'a>>())
        .map(|r| r.map(|r| r.0))
        .map_err(err)
}

/// The country database gives the country and the ASN database the ASN;
/// where one has nothing, the other's record is used if it carries that
/// field (a City database with ASN traits, an ASN database with countries).
fn fill(answer: &mut GeoAnswer, country: Option<&GeoRecord<'_>>, asn: Option<&GeoRecord<'_>>) {
    let code = country
        .and_then(GeoRecord::country)
        .or_else(|| asn.and_then(GeoRecord::country));
    answer.country = code.map(|c| String::from_utf8_lossy(&c).into_owned());
    let as_rec = match asn.and_then(GeoRecord::asn) {
        Some(_) => asn,
        None => country.filter(|r| r.asn().is_some()),
    };
    answer.asn = as_rec.and_then(GeoRecord::asn);
    answer.as_org = as_rec.and_then(GeoRecord::as_org).map(str::to_owned);
}

#[cfg(test)]
mod tests;
