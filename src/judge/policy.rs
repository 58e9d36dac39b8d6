//! The jurisdiction policy: which hosts are ours, which vendors are foreign,
//! where data may go, how severe each kind of finding is, and which findings
//! are accepted (exceptions).
//!
//! The policy is a TOML file meant to be read by compliance auditors;
//! [`Policy::default_toml`] writes the commented default (`phonehome policy
//! init`). Loading is strict: unknown keys, bad country codes, bad networks
//! and exceptions without a reason are errors naming the file and line.
//!
//! Judging ([`Policy::judge`]) is pure: a [`Candidate`] (one product seen on
//! one host, with the countries its traffic went to) becomes a [`Verdict`].
//! The caller decides first whether the host is ours ([`Policy::is_internal`]).
//!
//! Rules worth knowing:
//! * a vendor is foreign if ANY of its jurisdiction countries is foreign (a
//!   vendor headquartered in the US and founded in Israel carries
//!   `["US", "IL"]`); a vendor with no known jurisdiction is foreign;
//! * a destination with no known country is not allowed: it cannot be shown
//!   to stay home;
//! * a DNS-only candidate (a lookup, no connection) never has data abroad.

mod country;
mod default;
mod load;

pub use country::ISO_3166_ALPHA2;
pub use load::{PolicyError, Problem};

use ipnet::IpNet;
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// How severe a finding is, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Suricata's alert severity, 1 the highest: critical and high are 1,
    /// medium 2, low 3, info 4.
    pub fn suricata_severity(self) -> u8 {
        match self {
            Severity::Critical | Severity::High => 1,
            Severity::Medium => 2,
            Severity::Low => 3,
            Severity::Info => 4,
        }
    }

    /// The severity named `s` (any case).
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding says about a product on a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Foreign vendor, data leaves the home country.
    ForeignVendorDataAbroad,
    /// Foreign vendor, data stays in allowed countries.
    ForeignVendorDataHome,
    /// Domestic vendor sending data abroad.
    DomesticVendorDataAbroad,
    /// Domestic vendor, data stays home: inventory only.
    DomesticVendorDataHome,
    /// Only a DNS lookup of the vendor's names, no connection seen.
    DnsOnly,
}

impl FindingKind {
    pub const ALL: [FindingKind; 5] = [
        FindingKind::ForeignVendorDataAbroad,
        FindingKind::ForeignVendorDataHome,
        FindingKind::DomesticVendorDataAbroad,
        FindingKind::DomesticVendorDataHome,
        FindingKind::DnsOnly,
    ];

    /// The snake_case name, as used in the policy's `[severity]` table.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ForeignVendorDataAbroad => "foreign_vendor_data_abroad",
            FindingKind::ForeignVendorDataHome => "foreign_vendor_data_home",
            FindingKind::DomesticVendorDataAbroad => "domestic_vendor_data_abroad",
            FindingKind::DomesticVendorDataHome => "domestic_vendor_data_home",
            FindingKind::DnsOnly => "dns_only",
        }
    }

    /// Severity used when the policy does not say otherwise.
    pub fn default_severity(self) -> Severity {
        match self {
            FindingKind::ForeignVendorDataAbroad => Severity::High,
            FindingKind::ForeignVendorDataHome => Severity::Medium,
            FindingKind::DomesticVendorDataAbroad => Severity::Medium,
            FindingKind::DomesticVendorDataHome => Severity::Info,
            FindingKind::DnsOnly => Severity::Low,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The severity of each kind of finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeverityRules {
    pub foreign_vendor_data_abroad: Severity,
    pub foreign_vendor_data_home: Severity,
    pub domestic_vendor_data_abroad: Severity,
    pub domestic_vendor_data_home: Severity,
    pub dns_only: Severity,
}

impl Default for SeverityRules {
    fn default() -> Self {
        SeverityRules {
            foreign_vendor_data_abroad: FindingKind::ForeignVendorDataAbroad.default_severity(),
            foreign_vendor_data_home: FindingKind::ForeignVendorDataHome.default_severity(),
            domestic_vendor_data_abroad: FindingKind::DomesticVendorDataAbroad.default_severity(),
            domestic_vendor_data_home: FindingKind::DomesticVendorDataHome.default_severity(),
            dns_only: FindingKind::DnsOnly.default_severity(),
        }
    }
}

impl SeverityRules {
    pub fn get(&self, kind: FindingKind) -> Severity {
        match kind {
            FindingKind::ForeignVendorDataAbroad => self.foreign_vendor_data_abroad,
            FindingKind::ForeignVendorDataHome => self.foreign_vendor_data_home,
            FindingKind::DomesticVendorDataAbroad => self.domestic_vendor_data_abroad,
            FindingKind::DomesticVendorDataHome => self.domestic_vendor_data_home,
            FindingKind::DnsOnly => self.dns_only,
        }
    }

    fn get_mut(&mut self, kind: FindingKind) -> &mut Severity {
        match kind {
            FindingKind::ForeignVendorDataAbroad => &mut self.foreign_vendor_data_abroad,
            FindingKind::ForeignVendorDataHome => &mut self.foreign_vendor_data_home,
            FindingKind::DomesticVendorDataAbroad => &mut self.domestic_vendor_data_abroad,
            FindingKind::DomesticVendorDataHome => &mut self.domestic_vendor_data_home,
            FindingKind::DnsOnly => &mut self.dns_only,
        }
    }
}

/// Which vendor jurisdictions are foreign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForeignJurisdictions {
    /// Every country but the home country.
    AllButHome,
    /// Only these countries (upper-case alpha-2 codes).
    Listed(Vec<String>),
}

/// A calendar date (proleptic Gregorian, UTC when derived from packet time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// The UTC date of a packet time in nanoseconds since the Unix epoch.
    pub fn from_unix_ns(ns: u64) -> Date {
        // Civil-from-days (H. Hinnant's algorithm): days since 1970-01-01 to
        // year/month/day. u64 nanoseconds end in year 2554, so no overflow.
        let days = ns / 86_400_000_000_000;
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z % 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        Date {
            year: u16::try_from(year).unwrap_or(u16::MAX),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }

    /// A valid `YYYY-MM-DD` date.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u16> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let year = num(0..4)?;
        let month = u8::try_from(num(5..7)?).ok()?;
        let day = u8::try_from(num(8..10)?).ok()?;
        Date::new(year, month, day)
    }

    /// The date if it exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Date { year, month, day })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// An accepted finding: every field given must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exception {
    /// Host address or network.
    pub host: Option<IpNet>,
    /// Vendor name, compared case-insensitively.
    pub vendor: Option<String>,
    /// Product name, compared case-insensitively.
    pub product: Option<String>,
    pub reason: String,
    /// Last day the exception applies (compared with the finding's last-seen
    /// date, UTC).
    pub expires: Option<Date>,
    /// Line of the exception in the policy file.
    pub line: u32,
}

impl Exception {
    fn matches(&self, c: &Candidate<'_>) -> bool {
        let eq = |want: &Option<String>, got: &str| {
            want.as_deref()
                .is_none_or(|w| w.eq_ignore_ascii_case(got.trim()))
        };
        self.host
            .is_none_or(|net| net.contains(&c.host.to_canonical()))
            && eq(&self.vendor, c.vendor)
            && eq(&self.product, c.product)
    }

    /// Whether the exception no longer applies on `date`.
    pub fn expired_on(&self, date: Date) -> bool {
        self.expires.is_some_and(|last| date > last)
    }
}

/// One security product seen on one host, to be judged.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub host: IpAddr,
    pub vendor: &'a str,
    pub product: &'a str,
    /// The vendor's jurisdiction countries (alpha-2), from the catalog.
    pub jurisdiction: &'a [String],
    /// Country of each destination the product's traffic went to; `None`
    /// when the country is unknown.
    pub destination_countries: &'a [Option<String>],
    /// Only DNS lookups of the product's names were seen, no connection.
    pub dns_only: bool,
    /// Packet time (ns since the Unix epoch) the product was last seen.
    pub last_seen_ns: u64,
}

/// The exception that matched a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptionMatch {
    pub reason: String,
    /// The exception's last day is before the finding's last-seen date: it no
    /// longer applies and the finding stands; report it as expired.
    pub expired: bool,
    pub expires: Option<Date>,
    /// Line of the exception in the policy file.
    pub line: u32,
}

/// How the policy judges a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub kind: FindingKind,
    pub severity: Severity,
    /// The first matching exception still in force, or else the first
    /// matching expired one (so its expiry can be reported).
    pub exception: Option<ExceptionMatch>,
    pub foreign_vendor: bool,
    /// Some destination is outside the allowed countries (or of unknown
    /// country). Always false for a DNS-only candidate.
    pub data_abroad: bool,
}

impl Verdict {
    /// An exception in force covers the finding.
    pub fn is_excepted(&self) -> bool {
        self.exception.as_ref().is_some_and(|e| !e.expired)
    }
}

/// A loaded jurisdiction policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    home_country: String,
    internal_networks: Vec<IpNet>,
    foreign_jurisdictions: ForeignJurisdictions,
    allowed_destination_countries: Vec<String>,
    severity: SeverityRules,
    exceptions: Vec<Exception>,
    /// The site's catalog overlay directory (`catalog_extra`), relative
    /// paths resolved against the policy file's directory by [`Policy::load`].
    catalog_extra: Option<PathBuf>,
}

impl Policy {
    /// The default policy for `home_country` (what [`Policy::default_toml`]
    /// says); an error if the code is not ISO 3166-1 alpha-2.
    pub fn default_for(home_country: &str) -> Result<Policy, PolicyError> {
        let home = country::parse(home_country).map_err(PolicyError::HomeCountry)?;
        Ok(Policy {
            internal_networks: default::internal_networks(),
            foreign_jurisdictions: ForeignJurisdictions::AllButHome,
            allowed_destination_countries: vec![home.clone()],
            severity: SeverityRules::default(),
            exceptions: Vec::new(),
            catalog_extra: None,
            home_country: home,
        })
    }

    /// The commented default policy file for `home_country` (upper-cased,
    /// not validated: [`Policy::default_for`] does that).
    pub fn default_toml(home_country: &str) -> String {
        default::default_toml(&home_country.trim().to_ascii_uppercase())
    }

    /// Checks that every exception names a vendor and product the catalog
    /// has (by display name, case-insensitively, as findings are matched):
    /// one that does not would silently never apply. The error names
    /// `origin` (the policy file) and the exception's line.
    pub fn check_catalog(
        &self,
        catalog: &crate::resolve::catalog::Catalog,
        origin: &str,
    ) -> Result<(), PolicyError> {
        let err = |line: u32, problem: Problem| PolicyError::Invalid {
            origin: origin.to_string(),
            line,
            problem,
        };
        for x in &self.exceptions {
            let vendor = match &x.vendor {
                None => None,
                Some(name) => {
                    let v = catalog
                        .vendors()
                        .iter()
                        .find(|v| v.name.eq_ignore_ascii_case(name.trim()));
                    match v {
                        Some(v) => Some(v),
                        None => {
                            // A slug or near miss: say which name to write.
                            let hint = catalog
                                .vendor(name.trim())
                                .map(|v| format!("did you mean \"{}\"?", v.name));
                            return Err(err(
                                x.line,
                                Problem::UnknownVendor {
                                    name: name.clone(),
                                    hint,
                                },
                            ));
                        }
                    }
                }
            };
            if let Some(product) = &x.product {
                let known = catalog
                    .vendors()
                    .iter()
                    .filter(|v| vendor.is_none_or(|w| w.slug == v.slug))
                    .any(|v| {
                        v.products
                            .iter()
                            .any(|p| p.name.eq_ignore_ascii_case(product.trim()))
                    });
                if !known {
                    let hint = vendor.map(|v| {
                        let names: Vec<&str> = v.products.iter().map(|p| p.name.as_str()).collect();
                        format!("its products: {}", names.join(", "))
                    });
                    return Err(err(
                        x.line,
                        Problem::UnknownProduct {
                            product: product.clone(),
                            vendor: vendor.map(|v| v.name.clone()),
                            hint,
                        },
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads and parses a policy file; errors name the file as given.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut p = Policy::from_toml(&text, &path.display().to_string())?;
        if let (Some(extra), Some(dir)) = (&p.catalog_extra, path.parent()) {
            if extra.is_relative() {
                p.catalog_extra = Some(dir.join(extra));
            }
        }
        Ok(p)
    }

    /// The site's catalog overlay directory the policy names (`catalog_extra`).
    pub fn catalog_extra(&self) -> Option<&Path> {
        self.catalog_extra.as_deref()
    }

    /// Parses policy text; `origin` names it in errors (`origin:line: ...`).
    pub fn from_toml(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        load::parse(text, origin)
    }

    /// Upper-case ISO 3166-1 alpha-2 code.
    pub fn home_country(&self) -> &str {
        &self.home_country
    }

    pub fn internal_networks(&self) -> &[IpNet] {
        &self.internal_networks
    }

    pub fn foreign_jurisdictions(&self) -> &ForeignJurisdictions {
        &self.foreign_jurisdictions
    }

    pub fn allowed_destination_countries(&self) -> &[String] {
        &self.allowed_destination_countries
    }

    pub fn severity_rules(&self) -> &SeverityRules {
        &self.severity
    }

    pub fn exceptions(&self) -> &[Exception] {
        &self.exceptions
    }

    /// Exceptions whose last day is before the date of `ts_ns` (to list them
    /// in a report even when nothing matched them).
    pub fn expired_exceptions(&self, ts_ns: u64) -> impl Iterator<Item = &Exception> {
        let date = Date::from_unix_ns(ts_ns);
        self.exceptions.iter().filter(move |e| e.expired_on(date))
    }

    /// Whether `ip` is one of our hosts (IPv4-mapped IPv6 counts as IPv4).
    pub fn is_internal(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.internal_networks.iter().any(|n| n.contains(&ip))
    }

    /// Whether a vendor with these jurisdiction countries is foreign: if ANY
    /// of them is foreign, or if none is known (it cannot be shown domestic).
    pub fn is_foreign_vendor(&self, jurisdiction: &[String]) -> bool {
        if jurisdiction.is_empty() {
            return true;
        }
        jurisdiction.iter().any(|cc| {
            let cc = cc.trim();
            match &self.foreign_jurisdictions {
                ForeignJurisdictions::AllButHome => !cc.eq_ignore_ascii_case(&self.home_country),
                ForeignJurisdictions::Listed(list) => {
                    list.iter().any(|f| f.eq_ignore_ascii_case(cc))
                }
            }
        })
    }

    /// Whether data may go to a destination in `country`. An unknown country
    /// is not allowed: it cannot be shown to stay home.
    pub fn destination_allowed(&self, country: Option<&str>) -> bool {
        country.is_some_and(|cc| {
            self.allowed_destination_countries
                .iter()
                .any(|a| a.eq_ignore_ascii_case(cc.trim()))
        })
    }

    /// Judges one candidate. Does not check that the host is internal.
    pub fn judge(&self, c: &Candidate<'_>) -> Verdict {
        let foreign_vendor = self.is_foreign_vendor(c.jurisdiction);
        let data_abroad = !c.dns_only
            && c.destination_countries
                .iter()
                .any(|d| !self.destination_allowed(d.as_deref()));
        let kind = match (c.dns_only, foreign_vendor, data_abroad) {
            (true, _, _) => FindingKind::DnsOnly,
            (false, true, true) => FindingKind::ForeignVendorDataAbroad,
            (false, true, false) => FindingKind::ForeignVendorDataHome,
            (false, false, true) => FindingKind::DomesticVendorDataAbroad,
            (false, false, false) => FindingKind::DomesticVendorDataHome,
        };
        Verdict {
            kind,
            severity: self.severity.get(kind),
            exception: self.exception_for(c),
            foreign_vendor,
            data_abroad,
        }
    }

    fn exception_for(&self, c: &Candidate<'_>) -> Option<ExceptionMatch> {
        let date = Date::from_unix_ns(c.last_seen_ns);
        let mut matching = self.exceptions.iter().filter(|e| e.matches(c));
        let first = matching.next()?;
        let chosen = if first.expired_on(date) {
            matching.find(|e| !e.expired_on(date)).unwrap_or(first)
        } else {
            first
        };
        Some(ExceptionMatch {
            reason: chosen.reason.clone(),
            expired: chosen.expired_on(date),
            expires: chosen.expires,
            line: chosen.line,
        })
    }
}

#[cfg(test)]
mod tests;
