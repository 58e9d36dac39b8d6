//! Reading catalog files: TOML → plain model, recording per-entry problems
//! (with file and line) instead of failing, so `check` can list them all.
use super::check::{CheckIssue, IssueKind, Severity};
use super::model::{
    Confidence, Endpoint, EndpointKind, OwnedAsn, OwnedDomain, Product, ProductKind, Purpose,
    Vendor, WebPresence,
};
use super::names;
use super::platforms;
use crate::base::lines::Lines;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Why a catalog could not be loaded at all. Problems inside an entry do not
/// stop loading; they come back from `Catalog::check`.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read catalog {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: u32,
        message: String,
    },
    #[error("no catalog files (*.toml) in {0}")]
    Empty(PathBuf),
    #[error("{file}: vendor slug {slug:?} is also used by {other}")]
    DuplicateSlug {
        file: String,
        slug: String,
        other: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVendor {
    vendor: Spanned<String>,
    jurisdiction: Option<Spanned<Vec<Spanned<String>>>>,
    parent: Option<String>,
    notes: Option<String>,
    #[serde(default)]
    owned_domain: Vec<RawOwnedDomain>,
    #[serde(default)]
    web_presence: Vec<RawWebPresence>,
    #[serde(default)]
    asn: Vec<RawAsn>,
    #[serde(default)]
    product: Vec<RawProduct>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwnedDomain {
    domain: Spanned<String>,
    source: Option<Spanned<String>>,
    product: Option<Spanned<String>>,
    website: Option<bool>,
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebPresence {
    host: Option<Spanned<String>>,
    suffix: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsn {
    // i64: a negative or too large number is an entry error, not a parse failure.
    number: Spanned<i64>,
    name: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    product: Option<Spanned<String>>,
    notes: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    notes: Option<String>,
    #[serde(default)]
    endpoint: Vec<RawEndpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    host: Option<Spanned<String>>,
    suffix: Option<Spanned<String>>,
    cidr: Option<Spanned<String>>,
    cert_name: Option<Spanned<String>>,
    ja4: Option<Spanned<String>>,
    purpose: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    confidence: Option<Spanned<String>>,
    shared_cloud: Option<Spanned<bool>>,
    region: Option<String>,
    ports: Option<String>,
    notes: Option<String>,
}

/// Parses one file. Entry-level problems go to `issues`; the entry is left out.
/// `inherit`: a built-in vendor this file extends (`--catalog-extra`), whose
/// jurisdiction it takes when it names none; naming another one is an error.
pub(crate) fn parse_file(
    file: &str,
    slug: &str,
    text: &str,
    issues: &mut Vec<CheckIssue>,
    inherit: Option<&Vendor>,
) -> Result<Vendor, LoadError> {
    let lines = Lines::new(text);
    let raw: RawVendor = toml::from_str(text).map_err(|e| LoadError::Parse {
        file: file.to_string(),
        line: e.span().map_or(1, |s| lines.line(s.start)),
        message: e.message().trim().to_string(),
    })?;
    let mut issue = |line: u32, kind: IssueKind, message: String| {
        issues.push(CheckIssue {
            file: file.to_string(),
            line,
            severity: Severity::Error,
            kind,
            message,
        });
    };

    let vendor_line = lines.line(raw.vendor.span().start);
    if raw.vendor.get_ref().trim().is_empty() {
        issue(
            vendor_line,
            IssueKind::MissingField,
            "empty `vendor`".into(),
        );
    }
    let mut jurisdiction = Vec::new();
    match (&raw.jurisdiction, inherit) {
        (None, Some(base)) => jurisdiction.clone_from(&base.jurisdiction),
        (Some(list), Some(base)) => {
            let mut mine: Vec<&str> = list
                .get_ref()
                .iter()
                .map(|c| c.get_ref().as_str())
                .collect();
            let mut theirs: Vec<&str> = base.jurisdiction.iter().map(String::as_str).collect();
            mine.sort_unstable();
            mine.dedup();
            theirs.sort_unstable();
            if mine != theirs {
                return Err(LoadError::Parse {
                    file: file.to_string(),
                    line: lines.line(list.span().start),
                    message: format!(
                        "jurisdiction {:?} differs from {:?} of the built-in vendor {:?} ({}) this file extends: leave `jurisdiction` out to inherit it",
                        mine, theirs, base.name, base.file
                    ),
                });
            }
            jurisdiction.clone_from(&base.jurisdiction);
        }
        (None, None) => issue(
            vendor_line,
            IssueKind::MissingField,
            "missing `jurisdiction` (ISO 3166 alpha-2 list)".into(),
        ),
        (Some(list), None) if list.get_ref().is_empty() => issue(
            lines.line(list.span().start),
            IssueKind::MissingField,
            "empty `jurisdiction`".into(),
        ),
        (Some(list), None) => {
            for cc in list.get_ref() {
                if crate::base::country::ISO_3166_ALPHA2
                    .binary_search(&cc.get_ref().as_str())
                    .is_ok()
                {
                    if jurisdiction.contains(cc.get_ref()) {
                        issue(
                            lines.line(cc.span().start),
                            IssueKind::Duplicate,
                            format!("jurisdiction {:?} listed twice", cc.get_ref()),
                        );
                    } else {
                        jurisdiction.push(cc.get_ref().clone());
                    }
                } else {
                    issue(
                        lines.line(cc.span().start),
                        IssueKind::Malformed,
                        format!(
                            "jurisdiction {:?} is not an ISO 3166-1 alpha-2 code",
                            cc.get_ref()
                        ),
                    );
                }
            }
        }
    }
    let no_products = raw.product.is_empty();

    let mut products = Vec::with_capacity(raw.product.len());
    for rp in raw.product {
        let pline = lines.line(rp.name.span().start);
        if rp.name.get_ref().trim().is_empty() {
            issue(
                pline,
                IssueKind::MissingField,
                "empty product `name`".into(),
            );
        }
        if rp.endpoint.is_empty() {
            issue(
                pline,
                IssueKind::MissingField,
                format!(
                    "product {:?} has no `[[product.endpoint]]`",
                    rp.name.get_ref()
                ),
            );
        }
        let kind = match &rp.kind {
            None => ProductKind::Unspecified,
            Some(k) => ProductKind::parse(k.get_ref()).unwrap_or_else(|| {
                issue(
                    lines.line(k.span().start),
                    IssueKind::Malformed,
                    format!(
                        "product kind {:?} is not one of: {}",
                        k.get_ref(),
                        ProductKind::ALL.map(ProductKind::as_str).join(", ")
                    ),
                );
                ProductKind::Unspecified
            }),
        };
        let mut endpoints = Vec::with_capacity(rp.endpoint.len());
        for re in rp.endpoint {
            if let Some(ep) = build_endpoint(re, &lines, &mut issue) {
                endpoints.push(ep);
            }
        }
        products.push(Product {
            name: rp.name.into_inner(),
            kind,
            notes: rp.notes,
            line: pline,
            endpoints,
        });
    }

    let product_names: Vec<&str> = products.iter().map(|p| p.name.as_str()).collect();
    let owned_domains = raw
        .owned_domain
        .into_iter()
        .filter_map(|r| build_owned_domain(r, &lines, &product_names, &mut issue))
        .collect();
    let web_presence = raw
        .web_presence
        .into_iter()
        .filter_map(|r| build_web_presence(r, &lines, &mut issue))
        .collect();
    let asns = raw
        .asn
        .into_iter()
        .filter_map(|r| build_asn(r, &lines, &product_names, &mut issue))
        .collect();

    if no_products {
        // Legal: the vendor is known (jurisdiction, inventory) but no endpoint
        // has been found yet. A warning keeps the gap visible.
        issues.push(CheckIssue {
            file: file.to_string(),
            line: vendor_line,
            severity: Severity::Warning,
            kind: IssueKind::MissingField,
            message: format!(
                "{:?} lists no products: no endpoint known yet",
                raw.vendor.get_ref()
            ),
        });
    }

    Ok(Vendor {
        slug: slug.to_string(),
        name: raw.vendor.into_inner(),
        jurisdiction,
        parent: raw.parent,
        notes: raw.notes,
        file: file.to_string(),
        products,
        owned_domains,
        web_presence,
        asns,
    })
}

/// A required `source`: an http(s) URL. `None` (and an issue) when absent or bad.
fn required_source(
    source: Option<&Spanned<String>>,
    line: u32,
    lines: &Lines,
    issue: &mut impl FnMut(u32, IssueKind, String),
) -> Option<String> {
    match source {
        None => {
            issue(
                line,
                IssueKind::MissingSource,
                "missing `source` URL".into(),
            );
            None
        }
        Some(s) => match names::url_problem(s.get_ref()) {
            None => Some(s.get_ref().clone()),
            Some(why) => {
                issue(
                    lines.line(s.span().start),
                    IssueKind::InvalidSource,
                    format!("source {:?}: {why}", s.get_ref()),
                );
                None
            }
        },
    }
}

/// An optional `product` naming one of the vendor's products.
fn known_product(
    product: Option<Spanned<String>>,
    what: &str,
    products: &[&str],
    lines: &Lines,
    issue: &mut impl FnMut(u32, IssueKind, String),
) -> Result<Option<String>, ()> {
    let Some(p) = product else { return Ok(None) };
    match products
        .iter()
        .find(|name| name.eq_ignore_ascii_case(p.get_ref()))
    {
        Some(name) => Ok(Some((*name).to_string())),
        None => {
            issue(
                lines.line(p.span().start),
                IssueKind::UnknownProduct,
                format!(
                    "{what}: product {:?} is not one of this vendor's products ({})",
                    p.get_ref(),
                    products.join(", ")
                ),
            );
            Err(())
        }
    }
}

fn build_owned_domain(
    r: RawOwnedDomain,
    lines: &Lines,
    products: &[&str],
    issue: &mut impl FnMut(u32, IssueKind, String),
) -> Option<OwnedDomain> {
    let line = lines.line(r.domain.span().start);
    let domain = r.domain.get_ref().as_str();
    let what = format!("owned_domain {domain:?}");
    let mut ok = true;
    if let Some(why) = names::name_problem(domain, false) {
        issue(line, IssueKind::Malformed, format!("{what}: {why}"));
        ok = false;
    } else if let Some(why) = platforms::owned_domain_problem(domain) {
        issue(line, why.0, format!("{what}: {}", why.1));
        ok = false;
    }
    let source = required_source(r.source.as_ref(), line, lines, issue);
    let product = known_product(r.product, &what, products, lines, issue);
    match (ok, source, product) {
        (true, Some(source), Ok(product)) => Some(OwnedDomain {
            domain: domain.to_string(),
            source,
            product,
            website: r.website.unwrap_or(false),
            notes: r.notes,
            line,
        }),
        _ => None,
    }
}

fn build_web_presence(
    r: RawWebPresence,
    lines: &Lines,
    issue: &mut impl FnMut(u32, IssueKind, String),
) -> Option<WebPresence> {
    let (kind, pattern) = match (r.host, r.suffix) {
        (Some(h), None) => (EndpointKind::Host, h),
        (None, Some(s)) => (EndpointKind::Suffix, s),
        (h, s) => {
            let at = h.or(s).map_or(0, |x| x.span().start);
            let at = r.source.as_ref().map_or(at, |x| at.min(x.span().start));
            issue(
                lines.line(at),
                IssueKind::Malformed,
                "web_presence needs exactly one of host, suffix".into(),
            );
            return None;
        }
    };
    let line = lines.line(pattern.span().start);
    let mut ok = true;
    if let Err(why) = normalize_pattern(kind, pattern.get_ref()) {
        issue(
            line,
            IssueKind::Malformed,
            format!("web_presence {} {:?}: {why}", kind.key(), pattern.get_ref()),
        );
        ok = false;
    }
    let source = required_source(r.source.as_ref(), line, lines, issue);
    match (ok, source) {
        (true, Some(source)) => Some(WebPresence {
            kind,
            pattern: pattern.into_inner(),
            source,
            notes: r.notes,
            line,
        }),
        _ => None,
    }
}

fn build_asn(
    r: RawAsn,
    lines: &Lines,
    products: &[&str],
    issue: &mut impl FnMut(u32, IssueKind, String),
) -> Option<OwnedAsn> {
    let line = lines.line(r.number.span().start);
    let raw_number = *r.number.get_ref();
    let mut ok = true;
    let number = match u32::try_from(raw_number) {
        Ok(n) if n > 0 => n,
        _ => {
            issue(
                line,
                IssueKind::Malformed,
                format!("asn {raw_number}: not an AS number (1 to 4294967295)"),
            );
            ok = false;
            0
        }
    };
    let what = format!("asn {number}");
    if ok {
        if let Some((kind, why)) = platforms::asn_problem(number) {
            issue(line, kind, format!("{what}: {why}"));
            ok = false;
        }
    }
    let name = match &r.name {
        Some(n) if !n.get_ref().trim().is_empty() => n.get_ref().trim().to_string(),
        _ => {
            issue(
                line,
                IssueKind::MissingField,
                format!(
                    "{what}: missing `name` (the organisation as geoip/asn.mmdb gives it; see `phonehome geoip <address in the AS>`)"
                ),
            );
            ok = false;
            String::new()
        }
    };
    let source = required_source(r.source.as_ref(), line, lines, issue);
    let product = known_product(r.product, &what, products, lines, issue);
    match (ok, source, product) {
        (true, Some(source), Ok(product)) => Some(OwnedAsn {
            number,
            pattern: format!("AS{number}"),
            name,
            source,
            product,
            notes: r.notes,
            line,
        }),
        _ => None,
    }
}

fn build_endpoint(
    re: RawEndpoint,
    lines: &Lines,
    issue: &mut impl FnMut(u32, IssueKind, String),
) -> Option<Endpoint> {
    // The entry's line: its earliest key.
    let spans = [
        re.host.as_ref().map(|s| s.span().start),
        re.suffix.as_ref().map(|s| s.span().start),
        re.cidr.as_ref().map(|s| s.span().start),
        re.cert_name.as_ref().map(|s| s.span().start),
        re.ja4.as_ref().map(|s| s.span().start),
        re.purpose.as_ref().map(|s| s.span().start),
        re.source.as_ref().map(|s| s.span().start),
        re.confidence.as_ref().map(|s| s.span().start),
        re.shared_cloud.as_ref().map(|s| s.span().start),
    ];
    let line = lines.line(spans.into_iter().flatten().min().unwrap_or(0));

    let given: Vec<(EndpointKind, &Spanned<String>)> = [
        (EndpointKind::Host, re.host.as_ref()),
        (EndpointKind::Suffix, re.suffix.as_ref()),
        (EndpointKind::Cidr, re.cidr.as_ref()),
        (EndpointKind::CertName, re.cert_name.as_ref()),
        (EndpointKind::Ja4, re.ja4.as_ref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    let (kind, raw_pattern) = match given.as_slice() {
        [one] => *one,
        [] => {
            issue(
                line,
                IssueKind::Malformed,
                "endpoint has none of host, suffix, cidr, cert_name, ja4".into(),
            );
            return None;
        }
        many => {
            let keys: Vec<&str> = many.iter().map(|(k, _)| k.key()).collect();
            issue(
                line,
                IssueKind::Malformed,
                format!(
                    "endpoint has several patterns ({}); give one per entry",
                    keys.join(", ")
                ),
            );
            return None;
        }
    };
    let mut ok = true;
    let pattern = match normalize_pattern(kind, raw_pattern.get_ref()) {
        Ok(p) => p,
        Err(why) => {
            issue(
                line,
                IssueKind::Malformed,
                format!("{} {:?}: {why}", kind.key(), raw_pattern.get_ref()),
            );
            ok = false;
            String::new()
        }
    };

    let purpose = match &re.purpose {
        None => {
            issue(line, IssueKind::MissingField, "missing `purpose`".into());
            ok = false;
            Purpose::Unspecified
        }
        Some(p) => match Purpose::parse(p.get_ref()) {
            Some(p) => p,
            None => {
                let all: Vec<&str> = Purpose::ALL.iter().map(|p| p.as_str()).collect();
                issue(
                    lines.line(p.span().start),
                    IssueKind::UnknownPurpose,
                    format!("purpose {:?} is not one of {}", p.get_ref(), all.join(", ")),
                );
                ok = false;
                Purpose::Unspecified
            }
        },
    };
    let source = match &re.source {
        None => {
            issue(
                line,
                IssueKind::MissingSource,
                "missing `source` URL".into(),
            );
            ok = false;
            String::new()
        }
        Some(s) => match names::url_problem(s.get_ref()) {
            None => s.get_ref().clone(),
            Some(why) => {
                issue(
                    lines.line(s.span().start),
                    IssueKind::InvalidSource,
                    format!("source {:?}: {why}", s.get_ref()),
                );
                ok = false;
                String::new()
            }
        },
    };
    let confidence = match &re.confidence {
        None => {
            issue(line, IssueKind::MissingField, "missing `confidence`".into());
            ok = false;
            Confidence::Inferred
        }
        Some(c) => match Confidence::parse(c.get_ref()) {
            Some(c) => c,
            None => {
                issue(
                    lines.line(c.span().start),
                    IssueKind::Malformed,
                    format!(
                        "confidence {:?} is not one of documented, community, inferred",
                        c.get_ref()
                    ),
                );
                ok = false;
                Confidence::Inferred
            }
        },
    };
    let shared_cloud = re.shared_cloud.as_ref().is_some_and(|b| *b.get_ref());
    if ok && shared_cloud && kind == EndpointKind::Cidr {
        issue(
            line,
            IssueKind::SharedCloud,
            "a cidr cannot be shared_cloud: shared cloud addresses are never matched".into(),
        );
        ok = false;
    }
    if ok && matches!(kind, EndpointKind::Host | EndpointKind::Suffix) {
        if let Some(cloud) = names::shared_cloud_domain(&pattern) {
            if kind == EndpointKind::Suffix {
                issue(
                    line,
                    IssueKind::SharedCloud,
                    format!(
                        "suffix {pattern:?} is at or under shared cloud domain {cloud:?}: it would match other customers' traffic"
                    ),
                );
                ok = false;
            } else if !shared_cloud {
                issue(
                    line,
                    IssueKind::SharedCloud,
                    format!(
                        "host {pattern:?} is on shared cloud {cloud:?}: set shared_cloud = true"
                    ),
                );
                ok = false;
            }
        }
    }
    if ok && kind == EndpointKind::Suffix {
        // A suffix claims every name under it, like an owned domain: never
        // a public suffix or a general platform's apex.
        if let Some((k @ (IssueKind::PublicSuffix | IssueKind::GeneralPlatform), why)) =
            platforms::owned_domain_problem(&pattern)
        {
            issue(line, k, format!("suffix {pattern:?} {why}"));
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    Some(Endpoint {
        kind,
        pattern,
        purpose,
        source,
        confidence,
        shared_cloud,
        region: re.region,
        ports: re.ports,
        notes: re.notes,
        line,
    })
}

/// Validates and normalises one pattern.
pub(crate) fn normalize_pattern(kind: EndpointKind, p: &str) -> Result<String, String> {
    match kind {
        EndpointKind::Host | EndpointKind::Suffix => {
            if let Some(why) = names::name_problem(p, false) {
                return Err(why);
            }
            if kind == EndpointKind::Suffix && !p.contains('.') {
                return Err("a suffix needs at least two labels".into());
            }
            Ok(p.to_string())
        }
        EndpointKind::CertName => match names::name_problem(p, true) {
            Some(why) => Err(why),
            None => Ok(p.to_string()),
        },
        EndpointKind::Cidr => {
            let net: ipnet::IpNet = p
                .parse()
                .map_err(|_| "not a CIDR (address/length)".to_string())?;
            if net.trunc() != net {
                return Err(format!("host bits set; the network is {}", net.trunc()));
            }
            if net.prefix_len() == 0 {
                return Err("a /0 covers everything".into());
            }
            Ok(net.to_string())
        }
        EndpointKind::Ja4 => {
            if names::is_ja4(p) {
                Ok(p.to_string())
            } else {
                Err("not a JA4 fingerprint (e.g. t13d1516h2_8daaf6152771_e5627efa2ab1)".into())
            }
        }
    }
}

/// The catalog files in `dir`: (display name, slug, text), sorted by name.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<(String, String, String)>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let Some(slug) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        out.push((path.display().to_string(), slug, text));
    }
    if out.is_empty() {
        return Err(LoadError::Empty(dir.to_path_buf()));
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_normalisation() {
        assert_eq!(
            normalize_pattern(EndpointKind::Cidr, "146.112.0.0/16"),
            Ok("146.112.0.0/16".into())
        );
        assert_eq!(
            normalize_pattern(EndpointKind::Cidr, "2a02:E980::/29"),
            Ok("2a02:e980::/29".into())
        );
        assert!(normalize_pattern(EndpointKind::Cidr, "146.112.1.0/16")
            .unwrap_err()
            .contains("host bits"));
        assert!(normalize_pattern(EndpointKind::Cidr, "146.112.0.0/33").is_err());
        assert!(normalize_pattern(EndpointKind::Cidr, "sophos.com").is_err());
    }
}
