//! Reading a policy file: TOML → [`Policy`], with file:line errors.

use super::{
    country, Date, Exception, FindingKind, ForeignJurisdictions, Policy, Severity, SeverityRules,
};
use crate::base::lines::Lines;
use ipnet::IpNet;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use toml::Spanned;

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A problem at a line of the policy text.
    #[error("{origin}:{line}: {problem}")]
    Invalid {
        origin: String,
        line: u32,
        problem: Problem,
    },
    /// The home country given to [`Policy::default_for`].
    #[error("home country: {0}")]
    HomeCountry(Problem),
}

/// What is wrong in a policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// TOML syntax, an unknown key or a value of the wrong type (the TOML
    /// parser's message).
    #[error("{0}")]
    Toml(String),
    #[error("missing `{0}`")]
    Missing(&'static str),
    #[error("empty `{0}`")]
    Empty(&'static str),
    #[error("unknown country code '{code}'{}", hint_suffix(.hint))]
    UnknownCountry { code: String, hint: Option<String> },
    #[error("home country {0} cannot be listed in `foreign_jurisdictions`")]
    HomeListedForeign(String),
    #[error("bad network '{value}': {reason}")]
    BadNetwork { value: String, reason: String },
    #[error("unknown severity '{0}' (expected info, low, medium, high or critical)")]
    BadSeverity(String),
    #[error(
        "`foreign_jurisdictions` must be \"all-but-home\" or a list of country codes, not \"{0}\""
    )]
    BadForeignJurisdictions(String),
    #[error("exception without a `reason`: say why the finding is accepted")]
    MissingReason,
    #[error("exception matches everything: give `host`, `vendor` and/or `product`")]
    EmptyException,
    #[error("bad date '{0}': expected YYYY-MM-DD")]
    BadDate(String),
    /// An exception naming a vendor the catalog does not have: it would
    /// never match, and the findings it was meant for would stand.
    #[error("exception names vendor '{name}', which is not in the catalog{}", hint_suffix(.hint))]
    UnknownVendor { name: String, hint: Option<String> },
    #[error("exception names product '{product}', not a product of {}{}", .vendor.as_deref().unwrap_or("any vendor in the catalog"), hint_suffix(.hint))]
    UnknownProduct {
        product: String,
        vendor: Option<String>,
        hint: Option<String>,
    },
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_deref()
        .map(|h| format!(" ({h})"))
        .unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    home_country: Option<Spanned<String>>,
    internal_networks: Option<Vec<Spanned<String>>>,
    foreign_jurisdictions: Option<Spanned<RawForeign>>,
    allowed_destination_countries: Option<Vec<Spanned<String>>>,
    severity: Option<RawSeverity>,
    /// A directory of the site's own catalog files (`--catalog-extra`).
    catalog_extra: Option<Spanned<String>>,
    #[serde(default)]
    exception: Vec<Spanned<RawException>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeverity {
    foreign_vendor_data_abroad: Option<Spanned<String>>,
    foreign_vendor_data_home: Option<Spanned<String>>,
    domestic_vendor_data_abroad: Option<Spanned<String>>,
    domestic_vendor_data_home: Option<Spanned<String>>,
    dns_only: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    host: Option<Spanned<String>>,
    vendor: Option<Spanned<String>>,
    product: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
    /// A TOML date (`2026-06-30`) or a string (`"2026-06-30"`).
    expires: Option<Spanned<toml::Value>>,
}

/// `"all-but-home"` or a list of codes, each with its span.
enum RawForeign {
    Word(String),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawForeign {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawForeign;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"all-but-home\" or a list of country codes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawForeign, E> {
                Ok(RawForeign::Word(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawForeign, A::Error> {
                let mut list = Vec::new();
                while let Some(cc) = seq.next_element::<Spanned<String>>()? {
                    list.push(cc);
                }
                Ok(RawForeign::List(list))
            }
        }
        d.deserialize_any(V)
    }
}

struct Ctx<'a> {
    origin: &'a str,
    lines: Lines,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, problem: Problem) -> PolicyError {
        PolicyError::Invalid {
            origin: self.origin.to_string(),
            line: self.lines.line(span.start),
            problem,
        }
    }

    fn country(&self, s: &Spanned<String>) -> Result<String, PolicyError> {
        country::parse(s.get_ref()).map_err(|p| self.err(s.span(), p))
    }

    /// Codes of a list, upper-cased, duplicates dropped.
    fn countries(&self, list: &[Spanned<String>]) -> Result<Vec<String>, PolicyError> {
        self.countries_or_groups(list, false)
    }

    /// Codes of a list where a group (`EU`, `EEA`) may stand for its
    /// members when `groups`; upper-cased, duplicates dropped.
    fn countries_or_groups(
        &self,
        list: &[Spanned<String>],
        groups: bool,
    ) -> Result<Vec<String>, PolicyError> {
        let mut out: Vec<String> = Vec::with_capacity(list.len());
        for s in list {
            let codes = match country::group(s.get_ref()).filter(|_| groups) {
                Some(members) => members.into_iter().map(str::to_owned).collect(),
                None => vec![self.country(s)?],
            };
            for cc in codes {
                if !out.contains(&cc) {
                    out.push(cc);
                }
            }
        }
        Ok(out)
    }
}

/// A CIDR or a single address (a host network).
pub(super) fn parse_network(s: &str) -> Result<IpNet, Problem> {
    let bad = |reason: String| Problem::BadNetwork {
        value: s.to_string(),
        reason,
    };
    let t = s.trim();
    if t.contains('/') {
        let net: IpNet = t
            .parse()
            .map_err(|_| bad("expected an address/prefix-length CIDR".into()))?;
        if net.addr() != net.network() {
            return Err(bad(format!(
                "address bits set past the prefix; did you mean {}?",
                net.trunc()
            )));
        }
        Ok(net)
    } else {
        let ip: IpAddr = t
            .parse()
            .map_err(|_| bad("expected an IP address or CIDR".into()))?;
        Ok(IpNet::from(ip))
    }
}

fn text_field(
    ctx: &Ctx<'_>,
    v: Option<Spanned<String>>,
    key: &'static str,
) -> Result<Option<String>, PolicyError> {
    match v {
        None => Ok(None),
        Some(s) if s.get_ref().trim().is_empty() => Err(ctx.err(s.span(), Problem::Empty(key))),
        Some(s) => Ok(Some(s.into_inner().trim().to_string())),
    }
}

fn expiry(ctx: &Ctx<'_>, v: Spanned<toml::Value>) -> Result<Date, PolicyError> {
    let span = v.span();
    let date = match v.get_ref() {
        toml::Value::String(s) => Date::parse(s.trim()),
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            dt.date.and_then(|d| Date::new(d.year, d.month, d.day))
        }
        _ => None,
    };
    date.ok_or_else(|| {
        let shown = match v.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(dt) => dt.to_string(),
            other => format!("a {}", other.type_str()),
        };
        ctx.err(span, Problem::BadDate(shown))
    })
}

pub(super) fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
    let ctx = Ctx {
        origin,
        lines: Lines::new(text),
    };
    let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::Invalid {
        origin: origin.to_string(),
        line: e.span().map_or(1, |s| ctx.lines.line(s.start)),
        problem: Problem::Toml(e.message().trim().to_string()),
    })?;

    let Some(home) = raw.home_country else {
        return Err(ctx.err(0..0, Problem::Missing("home_country")));
    };
    let home_country = ctx.country(&home)?;

    let internal_networks = match raw.internal_networks {
        None => super::default::internal_networks(),
        Some(list) => {
            let mut nets: Vec<IpNet> = Vec::with_capacity(list.len());
            for s in &list {
                let net = parse_network(s.get_ref()).map_err(|p| ctx.err(s.span(), p))?;
                if !nets.contains(&net) {
                    nets.push(net);
                }
            }
            nets
        }
    };

    let foreign_jurisdictions = match raw.foreign_jurisdictions {
        None => ForeignJurisdictions::AllButHome,
        Some(f) => match f.get_ref() {
            RawForeign::Word(w) if w.trim().eq_ignore_ascii_case("all-but-home") => {
                ForeignJurisdictions::AllButHome
            }
            RawForeign::Word(w) => {
                return Err(ctx.err(f.span(), Problem::BadForeignJurisdictions(w.clone())))
            }
            RawForeign::List(list) => {
                let codes = ctx.countries(list)?;
                if let Some(s) = list
                    .iter()
                    .find(|s| s.get_ref().trim().eq_ignore_ascii_case(&home_country))
                {
                    return Err(ctx.err(s.span(), Problem::HomeListedForeign(home_country.clone())));
                }
                ForeignJurisdictions::Listed(codes)
            }
        },
    };

    let allowed_destination_countries = match raw.allowed_destination_countries {
        None => vec![home_country.clone()],
        Some(list) => ctx.countries_or_groups(&list, true)?,
    };

    let mut severity = SeverityRules::default();
    if let Some(rs) = raw.severity {
        let given = [
            (
                FindingKind::ForeignVendorDataAbroad,
                rs.foreign_vendor_data_abroad,
            ),
            (
                FindingKind::ForeignVendorDataHome,
                rs.foreign_vendor_data_home,
            ),
            (
                FindingKind::DomesticVendorDataAbroad,
                rs.domestic_vendor_data_abroad,
            ),
            (
                FindingKind::DomesticVendorDataHome,
                rs.domestic_vendor_data_home,
            ),
            (FindingKind::DnsOnly, rs.dns_only),
        ];
        for (kind, value) in given {
            if let Some(v) = value {
                *severity.get_mut(kind) = Severity::parse(v.get_ref())
                    .ok_or_else(|| ctx.err(v.span(), Problem::BadSeverity(v.get_ref().clone())))?;
            }
        }
    }

    let mut exceptions = Vec::with_capacity(raw.exception.len());
    for spanned in raw.exception {
        let span = spanned.span();
        let line = ctx.lines.line(span.start);
        let ex = spanned.into_inner();
        let reason = match ex.reason {
            None => return Err(ctx.err(span, Problem::MissingReason)),
            Some(r) if r.get_ref().trim().is_empty() => {
                return Err(ctx.err(r.span(), Problem::MissingReason))
            }
            Some(r) => r.into_inner().trim().to_string(),
        };
        let host = match ex.host {
            None => None,
            Some(h) => Some(parse_network(h.get_ref()).map_err(|p| ctx.err(h.span(), p))?),
        };
        let vendor = text_field(&ctx, ex.vendor, "vendor")?;
        let product = text_field(&ctx, ex.product, "product")?;
        if host.is_none() && vendor.is_none() && product.is_none() {
            return Err(ctx.err(span, Problem::EmptyException));
        }
        let expires = ex.expires.map(|v| expiry(&ctx, v)).transpose()?;
        exceptions.push(Exception {
            host,
            vendor,
            product,
            reason,
            expires,
            line,
        });
    }

    let catalog_extra = text_field(&ctx, raw.catalog_extra, "catalog_extra")?.map(PathBuf::from);

    Ok(Policy {
        home_country,
        internal_networks,
        foreign_jurisdictions,
        allowed_destination_countries,
        severity,
        exceptions,
        catalog_extra,
    })
}
