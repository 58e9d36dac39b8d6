//! Matching and checking semantics on small hand-made catalogs.
use super::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const SRC: &str = "https://example.com/doc";

fn cat(files: &[(&str, &str)]) -> Catalog {
    Catalog::from_files(files.iter().map(|(slug, text)| {
        (
            format!("{slug}.toml"),
            (*slug).to_string(),
            (*text).to_string(),
        )
    }))
    .unwrap()
}

fn vendor(name: &str, cc: &str, entries: &[(&str, &str)]) -> String {
    let mut s =
        format!("vendor = \"{name}\"\njurisdiction = [\"{cc}\"]\n\n[[product]]\nname = \"P\"\n");
    for (k, v) in entries {
        s.push_str(&format!(
            "\n[[product.endpoint]]\n{k} = \"{v}\"\npurpose = \"telemetry\"\nsource = \"{SRC}\"\nconfidence = \"documented\"\n"
        ));
    }
    s
}

fn hit(c: &Catalog, name: &str) -> Option<(String, String)> {
    c.match_name(name)
        .map(|m| (m.vendor.to_string(), m.pattern.to_string()))
}

fn basic() -> Catalog {
    cat(&[
        (
            "amazon",
            &vendor(
                "Amazon",
                "US",
                &[
                    ("suffix", "aws.amazon.com"),
                    ("host", "exact.aws.amazon.com"),
                ],
            ),
        ),
        (
            "higan",
            &vendor(
                "Higan",
                "JP",
                &[("suffix", "higan.org"), ("suffix", "deep.a.higan.org")],
            ),
        ),
    ])
}

#[test]
fn suffix_matches_itself_and_subdomains_on_label_boundaries() {
    let c = basic();
    let aws = Some(("Amazon".to_string(), "aws.amazon.com".to_string()));
    assert_eq!(hit(&c, "aws.amazon.com"), aws);
    assert_eq!(hit(&c, "x.y.aws.amazon.com"), aws);
    assert_eq!(hit(&c, "ws.amazon.com"), None);
    assert_eq!(hit(&c, "xaws.amazon.com"), None);
    assert_eq!(hit(&c, "amazon.com"), None);
    assert_eq!(hit(&c, "michigan.org"), None);
    assert_eq!(hit(&c, "www.michigan.org"), None);
    assert_eq!(
        hit(&c, "cdn.higan.org"),
        Some(("Higan".into(), "higan.org".into()))
    );
    // A web first label under a suffix is the vendor's web site, not evidence.
    assert_eq!(hit(&c, "www.higan.org"), None);
}

#[test]
fn case_and_trailing_dot_are_ignored() {
    let c = basic();
    let aws = Some(("Amazon".to_string(), "aws.amazon.com".to_string()));
    assert_eq!(hit(&c, "AWS.Amazon.COM"), aws);
    assert_eq!(hit(&c, "aws.amazon.com."), aws);
    assert_eq!(hit(&c, "Foo.AWS.amazon.com."), aws);
    // Only one trailing dot is a DNS root; two is not a name.
    assert_eq!(hit(&c, "aws.amazon.com.."), None);
    assert_eq!(hit(&c, ""), None);
    assert_eq!(hit(&c, "."), None);
}

#[test]
fn most_specific_wins() {
    let c = basic();
    // Exact host beats the suffix that also covers it.
    let m = c.match_name("EXACT.aws.amazon.com").unwrap();
    assert_eq!(
        (m.kind, m.pattern),
        (EndpointKind::Host, "exact.aws.amazon.com")
    );
    // But only for the exact name: its subdomains fall back to the suffix.
    let m = c.match_name("sub.exact.aws.amazon.com").unwrap();
    assert_eq!(
        (m.kind, m.pattern),
        (EndpointKind::Suffix, "aws.amazon.com")
    );
    // Longest suffix wins.
    assert_eq!(hit(&c, "x.deep.a.higan.org").unwrap().1, "deep.a.higan.org");
    assert_eq!(hit(&c, "a.higan.org").unwrap().1, "higan.org");
}

#[test]
fn match_carries_vendor_product_jurisdiction_and_provenance() {
    let c = basic();
    let m = c.match_name("a.higan.org").unwrap();
    assert_eq!(m.vendor, "Higan");
    assert_eq!(m.vendor_slug, "higan");
    assert_eq!(m.product, "P");
    assert_eq!(m.jurisdiction, ["JP".to_string()]);
    assert_eq!(m.purpose, Purpose::Telemetry);
    assert_eq!(m.confidence, Confidence::Documented);
    assert_eq!(m.source, SRC);
    assert_eq!(c.get(m.id).unwrap().pattern, "higan.org");
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("\"kind\":\"suffix\""), "{json}");
    assert!(json.contains("\"purpose\":\"telemetry\""), "{json}");
}

#[test]
fn ip_longest_prefix_and_v4_mapped() {
    let c = cat(&[
        (
            "a",
            &vendor(
                "A",
                "US",
                &[("cidr", "10.0.0.0/8"), ("cidr", "2001:db8::/32")],
            ),
        ),
        (
            "b",
            &vendor(
                "B",
                "DE",
                &[("cidr", "10.1.0.0/16"), ("cidr", "2001:db8:1::/48")],
            ),
        ),
        ("c", &vendor("C", "FR", &[("cidr", "10.1.2.3/32")])),
    ]);
    let v = |ip: IpAddr| c.match_ip(ip).map(|m| m.vendor.to_string());
    assert_eq!(v(Ipv4Addr::new(10, 9, 9, 9).into()), Some("A".into()));
    assert_eq!(v(Ipv4Addr::new(10, 1, 9, 9).into()), Some("B".into()));
    assert_eq!(v(Ipv4Addr::new(10, 1, 2, 3).into()), Some("C".into()));
    assert_eq!(v(Ipv4Addr::new(10, 1, 2, 4).into()), Some("B".into()));
    assert_eq!(v(Ipv4Addr::new(11, 0, 0, 0).into()), None);
    assert_eq!(v("2001:db8:1::5".parse().unwrap()), Some("B".into()));
    assert_eq!(v("2001:db8:2::5".parse().unwrap()), Some("A".into()));
    assert_eq!(v("2001:db9::".parse().unwrap()), None);
    // An IPv4-mapped IPv6 address is the IPv4 address.
    let mapped: Ipv6Addr = "::ffff:10.1.2.3".parse().unwrap();
    assert_eq!(v(mapped.into()), Some("C".into()));
    assert_eq!(c.prefix_levels(), (3, 2));
    // Nested ranges of different vendors are legal but flagged for review.
    let issues = c.check();
    assert!(
        issues.iter().all(|i| i.severity == Severity::Warning),
        "{issues:#?}"
    );
    assert_eq!(issues.len(), 4, "{issues:#?}"); // B/16 in A/8, C/32 in A/8 and B/16, B/48 in A/32
}

#[test]
fn shared_cloud_hosts_match_by_name_never_by_ip() {
    let text = format!(
        "vendor = \"V\"\njurisdiction = [\"GB\"]\n[[product]]\nname = \"P\"\n\
         [[product.endpoint]]\nhost = \"bucket.s3.amazonaws.com\"\nshared_cloud = true\npurpose = \"update\"\nsource = \"{SRC}\"\nconfidence = \"documented\"\n\
         [[product.endpoint]]\ncidr = \"52.0.0.0/8\"\nshared_cloud = true\npurpose = \"update\"\nsource = \"{SRC}\"\nconfidence = \"documented\"\n"
    );
    let c = cat(&[("v", &text)]);
    let m = c.match_name("BUCKET.s3.amazonaws.com").unwrap();
    assert!(m.shared_cloud);
    assert!(c.match_ip(Ipv4Addr::new(52, 1, 2, 3).into()).is_none());
    let issues = c.check();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0].kind, IssueKind::SharedCloud);
    assert_eq!(issues[0].line, 12);
}

#[test]
fn cert_name_and_ja4_are_exact() {
    let c = cat(&[(
        "v",
        &vendor(
            "V",
            "US",
            &[
                ("cert_name", "*.cloudsink.net"),
                ("ja4", "t13d1516h2_8daaf6152771_e5627efa2ab1"),
            ],
        ),
    )]);
    assert_eq!(c.match_cert_name("*.CloudSink.net").unwrap().vendor, "V");
    assert!(c.match_cert_name("ts01-b.cloudsink.net").is_none());
    assert!(c.match_name("ts01-b.cloudsink.net").is_none());
    assert_eq!(
        c.match_ja4("T13D1516H2_8daaf6152771_e5627efa2ab1")
            .unwrap()
            .kind,
        EndpointKind::Ja4
    );
    assert!(c
        .match_ja4("t13d1516h2_8daaf6152771_e5627efa2ab2")
        .is_none());
}

#[test]
fn check_reports_problems_with_file_and_line() {
    let text = format!(
        r#"vendor = "Bad"
jurisdiction = ["UK", "US"]

[[product]]
name = "P"

[[product.endpoint]]
host = "https://x.example.com"
purpose = "telemetry"
source = "{SRC}"
confidence = "documented"

[[product.endpoint]]
suffix = "a.*.example.com"
purpose = "telemetry"
source = "{SRC}"
confidence = "documented"

[[product.endpoint]]
cidr = "10.0.0.1/8"
purpose = "telemetry"
source = "{SRC}"
confidence = "documented"

[[product.endpoint]]
host = "ok.example.com"
purpose = "phoning"
source = "public GitHub code"
confidence = "documented"

[[product.endpoint]]
host = "ok2.example.com"
purpose = "update"
confidence = "documented"

[[product.endpoint]]
host = "dup.example.com"
purpose = "update"
source = "{SRC}"
confidence = "documented"

[[product.endpoint]]
host = "dup.example.com"
purpose = "update"
source = "{SRC}"
confidence = "documented"

[[product.endpoint]]
suffix = "cloudfront.net"
purpose = "update"
source = "{SRC}"
confidence = "documented"

[[product.endpoint]]
host = "x.example.com:443"
purpose = "update"
source = "{SRC}"
confidence = "documented"
"#
    );
    let other = vendor(
        "Other",
        "SK",
        &[("suffix", "example.com"), ("host", "dup.example.com")],
    );
    let c = cat(&[("bad", &text), ("other", &other)]);
    let got: Vec<(String, u32, Severity, IssueKind)> = c
        .check()
        .into_iter()
        .map(|i| (i.file, i.line, i.severity, i.kind))
        .collect();
    use IssueKind::*;
    use Severity::*;
    let f = |l, s, k| ("bad.toml".to_string(), l, s, k);
    assert_eq!(
        got,
        vec![
            f(2, Error, Malformed),  // "UK" is not ISO 3166 (GB is)
            f(8, Error, Malformed),  // scheme
            f(14, Error, Malformed), // wildcard in the middle
            f(20, Error, Malformed), // host bits set
            f(27, Error, UnknownPurpose),
            f(28, Error, InvalidSource),
            f(32, Error, MissingSource),
            f(37, Warning, Overlap), // inside Other's suffix example.com
            f(43, Error, Duplicate),
            f(43, Warning, Overlap),
            f(49, Error, SharedCloud),
            f(55, Error, Malformed),                        // port
            ("other.toml".to_string(), 14, Error, Overlap), // dup.example.com claimed twice
        ]
    );
    // Broken entries are left out of matching; the good ones still match.
    assert_eq!(c.match_name("dup.example.com").unwrap().vendor, "Bad");
    assert_eq!(c.match_name("zzz.example.com").unwrap().vendor, "Other");
    assert!(c.match_name("x.cloudfront.net").is_none());
    let shown = c.check()[0].to_string();
    assert!(
        shown.starts_with("bad.toml:2: error: jurisdiction \"UK\""),
        "{shown}"
    );
}

#[test]
fn syntax_and_unknown_keys_fail_loading_with_line() {
    let bad = "vendor = \"V\"\njurisdiction = [\"US\"]\n[[product]]\nname = \"P\"\n[[product.endpoint]]\nsufix = \"a.com\"\n";
    let err = Catalog::from_files([("v.toml".into(), "v".into(), bad.into())]).unwrap_err();
    match err {
        LoadError::Parse {
            file,
            line,
            message,
        } => {
            assert_eq!(file, "v.toml");
            assert_eq!(line, 6, "{message}");
            assert!(message.contains("sufix"), "{message}");
        }
        e => panic!("{e}"),
    }
    let err =
        Catalog::from_files([("v.toml".into(), "v".into(), "vendor = \n".into())]).unwrap_err();
    assert!(matches!(err, LoadError::Parse { line: 1, .. }), "{err}");
}

#[test]
fn several_patterns_in_one_entry_is_malformed() {
    let text = format!(
        "vendor = \"V\"\njurisdiction = [\"US\"]\n[[product]]\nname = \"P\"\n[[product.endpoint]]\nhost = \"a.com\"\ncidr = \"1.2.3.0/24\"\npurpose = \"update\"\nsource = \"{SRC}\"\nconfidence = \"documented\"\n"
    );
    let c = cat(&[("v", &text)]);
    let issues = c.check();
    assert_eq!(issues.len(), 1);
    assert_eq!((issues[0].line, issues[0].kind), (6, IssueKind::Malformed));
    assert_eq!(c.endpoint_count(), 0);
}

#[test]
fn synthetic_scaling_keeps_real_matches() {
    let c = basic();
    let big = c.synthetic_scaled(10);
    assert_eq!(big.vendors().len(), 20);
    assert_eq!(big.endpoint_count(), 10 * c.endpoint_count());
    for name in [
        "x.aws.amazon.com",
        "exact.aws.amazon.com",
        "a.deep.a.higan.org",
        "michigan.org",
    ] {
        assert_eq!(hit(&big, name), hit(&c, name), "{name}");
    }
    assert_eq!(
        hit(&big, "syn3-aws.amazon.com").unwrap().0,
        "Amazon (synthetic 3)"
    );
    assert!(big.check().iter().all(|i| i.severity == Severity::Warning));
    let ipc = cat(&[(
        "a",
        &vendor(
            "A",
            "US",
            &[("cidr", "10.0.0.0/8"), ("cidr", "2001:db8::/48")],
        ),
    )]);
    let ipbig = ipc.synthetic_scaled(5);
    assert_eq!(ipbig.prefix_levels(), ipc.prefix_levels());
    assert_eq!(
        ipbig
            .match_ip(Ipv4Addr::new(10, 2, 3, 4).into())
            .unwrap()
            .vendor,
        "A"
    );
    let syn = &ipbig.vendors()[1].products[0].endpoints[0].pattern;
    let net: ipnet::Ipv4Net = syn.parse().unwrap();
    let reserved: ipnet::Ipv4Net = "240.0.0.0/4".parse().unwrap();
    assert!(reserved.contains(&net) && net.prefix_len() == 8, "{syn}");
}

#[test]
fn accessors() {
    let c = basic();
    let l = c.list();
    assert_eq!(l.len(), 2);
    assert_eq!((l[0].slug, l[0].endpoints), ("amazon", 2));
    assert_eq!(c.vendor("HIGAN").unwrap().name, "Higan");
    assert_eq!(c.vendor("amazon").unwrap().slug, "amazon");
    assert!(c.vendor("nobody").is_none());
}

#[test]
fn shipped_catalog_is_embedded_and_has_no_errors() {
    let c = Catalog::embedded().unwrap();
    assert_eq!(c.vendors().len(), 55);
    assert!(c.endpoint_count() > 1300, "{}", c.endpoint_count());
    let errors: Vec<String> = c
        .check()
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors, Vec::<String>::new());
    // Spot checks that need no shared data.
    assert_eq!(
        c.match_name("WDCP.microsoft.com.").unwrap().vendor_slug,
        "microsoft"
    );
    assert_eq!(
        c.match_name("security.guanjia.qq.com").unwrap().vendor_slug,
        "tencent"
    );
    assert!(c.match_name("qq.com").is_none());
    assert!(c.match_name("www.huawei.com").is_none());
    assert!(c.match_name("events.data.microsoft.com").is_none());
}

/// The pre-built shipped catalog (`build.rs`) is exactly what loading the TOML
/// files at run time gives: every vendor, entry, line and note, the same
/// `check` findings (warnings included), the same matches.
#[test]
fn prebuilt_catalog_equals_the_toml_files_loaded_at_run_time() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let files: Vec<(String, String, String)> = super::load::read_dir(&dir)
        .unwrap()
        .into_iter()
        .map(|(path, slug, text)| {
            let name = std::path::Path::new(&path).file_name().unwrap();
            (format!("catalog/{}", name.to_str().unwrap()), slug, text)
        })
        .collect();
    let from_toml = Catalog::from_files(files).unwrap();
    let shipped = Catalog::embedded().unwrap();
    let json = |c: &Catalog| serde_json::to_string(c.vendors()).unwrap();
    assert_eq!(json(&shipped), json(&from_toml));
    let asn_patterns = |c: &Catalog| -> Vec<String> {
        c.vendors()
            .iter()
            .flat_map(|v| v.asns.iter().map(|a| a.pattern.clone()))
            .collect()
    };
    assert_eq!(asn_patterns(&shipped), asn_patterns(&from_toml));
    let text = |c: &Catalog| -> Vec<String> { c.check().iter().map(ToString::to_string).collect() };
    let findings = text(&shipped);
    assert!(
        !findings.is_empty(),
        "the shipped catalog has warnings to compare"
    );
    assert_eq!(findings, text(&from_toml));
    assert_eq!(shipped.prefix_levels(), from_toml.prefix_levels());
    // Skipping the start-up check is only sound because it finds nothing.
    assert!(from_toml.first_error().is_none());
    assert!(shipped.first_error().is_none());
    for v in from_toml.vendors() {
        for p in &v.products {
            for e in &p.endpoints {
                let m = |c: &Catalog| {
                    c.match_endpoint_name(&e.pattern)
                        .map(|m| (m.id, m.vendor_slug.to_string()))
                };
                assert_eq!(m(&shipped), m(&from_toml), "{}", e.pattern);
            }
        }
    }
}

/// A catalog built from the shipped one (overlay) is checked at run time again.
#[test]
fn overlay_on_the_shipped_catalog_is_checked_at_start() {
    let extra = vendor("Impostor", "US", &[("suffix", "wdcpalt.microsoft.com")]);
    let c = Catalog::embedded()
        .unwrap()
        .with_overlay([(
            "extra/impostor.toml".to_string(),
            "impostor".to_string(),
            extra,
        )])
        .unwrap();
    let e = c
        .first_error()
        .expect("an overlap with Microsoft is an error");
    assert_eq!(e.file, "extra/impostor.toml");
    assert_eq!(e.kind, IssueKind::Overlap);
}

/// A vendor with owned domains, web presence and ASNs, as research files write them.
fn owner(name: &str, extra: &str, endpoints: &[(&str, &str)]) -> String {
    let v = vendor(name, "US", endpoints);
    // The vendor-level tables go before the first [[product]].
    let at = v.find("[[product]]").unwrap();
    format!("{}{extra}\n{}", &v[..at], &v[at..])
}

#[test]
fn owned_domains_web_presence_and_asns_load() {
    let extra = format!(
        r#"
[[owned_domain]]
domain = "acme-cloud.net"
source = "{SRC}"
product = "p"
notes = "telemetry domain"

[[owned_domain]]
domain = "acme.com"
source = "{SRC}"
website = true

[[web_presence]]
suffix = "esupport.acme.com"
source = "{SRC}"

[[web_presence]]
host = "portal.acme.com"
source = "{SRC}"

[[asn]]
number = 64000
name = "ACME-NET"
source = "{SRC}"
"#
    );
    let c = cat(&[(
        "acme",
        &owner("Acme", &extra, &[("host", "t.acme-cloud.net")]),
    )]);
    assert!(c.check().is_empty(), "{:?}", c.check());
    let v = c.vendor("acme").unwrap();
    assert_eq!(v.owned_domains.len(), 2);
    let d = &v.owned_domains[0];
    assert_eq!(
        (d.domain.as_str(), d.product.as_deref(), d.website, d.line),
        ("acme-cloud.net", Some("P"), false, 6)
    );
    assert!(v.owned_domains[1].website);
    assert_eq!(v.web_presence.len(), 2);
    assert_eq!(v.web_presence[0].kind, EndpointKind::Suffix);
    assert_eq!(v.web_presence[1].kind, EndpointKind::Host);
    assert_eq!(v.asns.len(), 1);
    assert_eq!(
        (v.asns[0].number, v.asns[0].name.as_str()),
        (64000, "ACME-NET")
    );
    // `catalog show` prints them.
    let json = serde_json::to_string(v).unwrap();
    assert!(json.contains("\"owned_domains\"") && json.contains("\"asns\""));
}

#[test]
fn owned_entry_problems_are_entry_errors_with_lines() {
    let extra = format!(
        r#"
[[owned_domain]]
domain = "co.uk"
source = "{SRC}"

[[owned_domain]]
domain = "microsoft.com"
source = "{SRC}"

[[owned_domain]]
domain = "github.io"
source = "{SRC}"

[[owned_domain]]
domain = "ok.example"
source = "not a url"

[[owned_domain]]
domain = "other.example"
source = "{SRC}"
product = "Nope"

[[owned_domain]]
domain = "Bad.Example"
source = "{SRC}"

[[web_presence]]
host = "a.ok2.example"
suffix = "ok2.example"
source = "{SRC}"

[[asn]]
number = 16509
name = "Amazon.com, Inc."
source = "{SRC}"

[[asn]]
number = 65000
name = "PRIVATE"
source = "{SRC}"

[[asn]]
number = 36692
source = "{SRC}"

[[asn]]
number = -1
name = "X"
source = "{SRC}"
"#
    );
    let c = cat(&[("bad", &owner("Bad", &extra, &[("host", "t.ok.example")]))]);
    let got: Vec<(u32, IssueKind)> = c
        .check()
        .into_iter()
        .filter(|i| i.severity == Severity::Error)
        .map(|i| (i.line, i.kind))
        .collect();
    use IssueKind::*;
    assert_eq!(
        got,
        vec![
            (6, PublicSuffix),
            (10, GeneralPlatform),
            (14, PublicSuffix), // private section of the list: still anyone's
            (19, InvalidSource),
            (24, UnknownProduct),
            (27, Malformed), // upper case
            (31, Malformed), // both host and suffix
            (36, GeneralPlatform),
            (41, Malformed), // private-use AS number
            (46, MissingField),
            (50, Malformed),
        ]
    );
    let v = c.vendor("bad").unwrap();
    assert!(v.owned_domains.is_empty() && v.web_presence.is_empty() && v.asns.is_empty());
    let first = c.first_error().unwrap().to_string();
    assert!(
        first.starts_with("bad.toml:6: error: owned_domain \"co.uk\": is a public suffix"),
        "{first}"
    );
}

#[test]
fn suffix_endpoints_at_public_suffixes_or_platform_apexes_are_errors() {
    let c = cat(&[(
        "v",
        &vendor(
            "V",
            "US",
            &[
                ("suffix", "com.cn"),
                ("suffix", "qq.com"),
                ("suffix", "guanjia.qq.com"),
            ],
        ),
    )]);
    let kinds: Vec<IssueKind> = c.check().into_iter().map(|i| i.kind).collect();
    assert_eq!(kinds, [IssueKind::PublicSuffix, IssueKind::GeneralPlatform]);
    assert!(c.match_name("im.qq.com").is_none());
    assert_eq!(c.match_name("x.guanjia.qq.com").unwrap().vendor, "V");
}

#[test]
fn owned_domains_and_asns_must_not_overlap_across_vendors() {
    let a = owner(
        "A",
        &format!(
            "[[owned_domain]]\ndomain = \"shared.example\"\nsource = \"{SRC}\"\n\n[[asn]]\nnumber = 64000\nname = \"A\"\nsource = \"{SRC}\"\n\n[[web_presence]]\nhost = \"www.elsewhere.example\"\nsource = \"{SRC}\"\n"
        ),
        &[("host", "t.shared.example")],
    );
    let b = owner(
        "B",
        &format!(
            "[[owned_domain]]\ndomain = \"shared.example\"\nsource = \"{SRC}\"\n\n[[owned_domain]]\ndomain = \"sub.shared.example\"\nsource = \"{SRC}\"\n\n[[asn]]\nnumber = 64000\nname = \"B\"\nsource = \"{SRC}\"\n"
        ),
        &[("host", "u.shared.example")],
    );
    let c = cat(&[("a", &a), ("b", &b)]);
    let got: Vec<(String, u32, Severity, IssueKind)> = c
        .check()
        .into_iter()
        .map(|i| (i.file, i.line, i.severity, i.kind))
        .collect();
    use IssueKind::*;
    use Severity::*;
    assert_eq!(
        got,
        vec![
            ("a.toml".into(), 14, Warning, MissingField), // web presence outside its domains
            ("b.toml".into(), 5, Error, Overlap),         // shared.example twice
            ("b.toml".into(), 9, Error, Overlap),         // inside A's shared.example
            ("b.toml".into(), 13, Error, Overlap),        // AS64000 twice
            ("b.toml".into(), 21, Warning, Overlap),      // B's host inside A's domain
        ]
    );
}

#[test]
fn asns_are_checked_against_the_asn_database() {
    let mut table = std::collections::BTreeMap::new();
    let entry = |name: &str| crate::resolve::geoip::AsnEntry {
        name: name.into(),
        address: "198.51.100.1".parse().unwrap(),
    };
    table.insert(64001, entry("Acme Networks"));
    table.insert(64002, entry("Someone Else"));
    let extra = format!(
        "[[asn]]\nnumber = 64001\nname = \"ACME NETWORKS\"\nsource = \"{SRC}\"\n\n[[asn]]\nnumber = 64002\nname = \"Acme\"\nsource = \"{SRC}\"\n\n[[asn]]\nnumber = 64003\nname = \"Acme\"\nsource = \"{SRC}\"\n"
    );
    let c = cat(&[(
        "acme",
        &owner("Acme", &extra, &[("host", "t.acme.example")]),
    )]);
    let got: Vec<(u32, Severity)> = check::asn_database(c.vendors(), &table, "test.mmdb")
        .into_iter()
        .map(|i| (i.line, i.severity))
        .collect();
    // Names compare case-insensitively; a different organisation is an
    // error, a number the database lacks a warning.
    assert_eq!(got, [(10, Severity::Error), (15, Severity::Warning)]);
}

/// Two products under one owned telemetry domain, a website domain, an AS.
fn owned_catalog() -> Catalog {
    let text = format!(
        r#"vendor = "Acme"
jurisdiction = ["IL"]

[[owned_domain]]
domain = "acme-cloud.net"
source = "{SRC}"

[[owned_domain]]
domain = "acme.com"
source = "{SRC}"
website = true

[[owned_domain]]
domain = "acme-edr.io"
source = "{SRC}"
product = "EDR"

[[web_presence]]
suffix = "portal.acme.com"
source = "{SRC}"

[[asn]]
number = 64100
name = "ACME-AS"
source = "{SRC}"
product = "EDR"

[[product]]
name = "EDR"

[[product.endpoint]]
host = "ts01.edr.acme-cloud.net"
purpose = "telemetry"
source = "{SRC}"
confidence = "documented"

[[product.endpoint]]
host = "api.acme-cloud.net"
purpose = "management"
source = "{SRC}"
confidence = "documented"

[[product.endpoint]]
host = "www.acme-cloud.net"
purpose = "update"
source = "{SRC}"
confidence = "documented"

[[product]]
name = "Mail"

[[product.endpoint]]
host = "relay.mail.acme-cloud.net"
purpose = "telemetry"
source = "{SRC}"
confidence = "documented"

[[product.endpoint]]
host = "api2.acme-cloud.net"
purpose = "management"
source = "{SRC}"
confidence = "documented"
"#
    );
    cat(&[("acme", &text)])
}

fn tier_of(c: &Catalog, name: &str) -> Option<(Tier, String, String)> {
    c.match_name(name)
        .map(|m| (m.tier, m.product.to_string(), m.pattern.to_string()))
}

#[test]
fn names_under_owned_domains_go_to_the_most_specific_product() {
    let c = owned_catalog();
    assert!(c.check().is_empty(), "{:?}", c.check());
    let owned = |p: &str, d: &str| Some((Tier::OwnedDomain, p.to_string(), d.to_string()));
    // Listed: the endpoint tier.
    assert_eq!(
        tier_of(&c, "ts01.edr.acme-cloud.net"),
        Some((
            Tier::Endpoint,
            "EDR".into(),
            "ts01.edr.acme-cloud.net".into()
        ))
    );
    // Unlisted, sharing edr.acme-cloud.net with an EDR endpoint only.
    assert_eq!(
        tier_of(&c, "ts77.edr.acme-cloud.net"),
        owned("EDR", "acme-cloud.net")
    );
    assert_eq!(
        tier_of(&c, "x.mail.acme-cloud.net"),
        owned("Mail", "acme-cloud.net")
    );
    // Only the domain itself in common, with endpoints of both products.
    assert_eq!(
        tier_of(&c, "new.acme-cloud.net"),
        owned(UNIDENTIFIED_PRODUCT, "acme-cloud.net")
    );
    // No endpoint under it, but the owned domain names its product.
    assert_eq!(tier_of(&c, "eu.acme-edr.io"), owned("EDR", "acme-edr.io"));
    // Label boundaries: not under acme-cloud.net.
    assert_eq!(tier_of(&c, "xacme-cloud.net"), None);
    assert_eq!(tier_of(&c, "acme-cloud.net.evil.example"), None);
    let m = c.match_name("new.acme-cloud.net").unwrap();
    assert_eq!(m.id.product, EndpointId::NO_PRODUCT);
    assert_eq!(m.id.endpoint, EndpointId::NO_ENDPOINT);
    assert_eq!((m.vendor, m.source), ("Acme", SRC));
}

#[test]
fn web_presence_is_never_evidence() {
    let c = owned_catalog();
    for web in [
        "acme.com",               // website apex
        "www.acme.com",           // shared rule
        "support.acme-cloud.net", // shared rule under a telemetry domain too
        "docs.acme-edr.io",
        "portal.acme.com", // [[web_presence]] suffix
        "eu.portal.acme.com",
        "WWW.Acme.com.",
    ] {
        assert_eq!(tier_of(&c, web), None, "{web}");
        assert!(c.is_web_presence(web), "{web}");
    }
    // Not web: another first label, or a web label deeper down.
    assert!(c.match_name("telemetry.acme.com").is_some());
    assert!(c.match_name("agent.www.acme.com").is_some());
    // A documented host keeps counting even with a web label.
    assert_eq!(
        tier_of(&c, "www.acme-cloud.net").map(|t| t.0),
        Some(Tier::Endpoint)
    );
    // Certificates: a wildcard is read as the domain it covers; the web
    // site's own certificate is not evidence.
    assert_eq!(
        c.match_owned("*.edr.acme-cloud.net", Tier::Certificate)
            .map(|m| (m.tier, m.product)),
        Some((Tier::Certificate, "EDR"))
    );
    assert!(c.match_owned("*.acme.com", Tier::Certificate).is_none());
    assert!(c.match_owned("www.acme.com", Tier::Certificate).is_none());
}

#[test]
fn owned_networks_match_by_as_number_never_shared_ones() {
    let c = owned_catalog();
    let m = c.match_asn(64100).unwrap();
    assert_eq!(
        (m.tier, m.vendor, m.product, m.pattern),
        (Tier::OwnedNetwork, "Acme", "EDR", "AS64100")
    );
    assert!(c.match_asn(64101).is_none());
    // A hyperscaler's AS is refused at load and never matches.
    let aws = owner(
        "Cloudy",
        &format!("[[asn]]\nnumber = 16509\nname = \"Amazon.com, Inc.\"\nsource = \"{SRC}\"\n"),
        &[("host", "t.cloudy.example")],
    );
    let c = cat(&[("cloudy", &aws)]);
    assert!(c.match_asn(16509).is_none());
    assert!(!c.has_asns());
}

#[test]
fn an_overlay_adds_vendors_and_extends_built_in_ones() {
    let site = format!(
        r#"vendor = "Acme"
jurisdiction = ["IL"]

[[owned_domain]]
domain = "acme-lab.example"
source = "{SRC}"

[[product]]
name = "EDR"

[[product.endpoint]]
host = "onprem-relay.corp.example"
purpose = "telemetry"
source = "{SRC}"
confidence = "inferred"
"#
    );
    let local = vendor("Local", "DE", &[("suffix", "local-av.example")]);
    let c = owned_catalog()
        .with_overlay([
            ("site/acme.toml".into(), "acme".into(), site),
            ("site/local.toml".into(), "local".into(), local),
        ])
        .unwrap();
    assert!(c.check().is_empty(), "{:?}", c.check());
    assert_eq!(
        c.match_name("onprem-relay.corp.example").unwrap().product,
        "EDR"
    );
    assert_eq!(c.match_name("x.acme-lab.example").unwrap().vendor, "Acme");
    assert_eq!(c.match_name("a.local-av.example").unwrap().vendor, "Local");
    // Built-in entries still match.
    assert_eq!(
        c.match_name("api.acme-cloud.net").unwrap().tier,
        Tier::Endpoint
    );
    // An overlay claiming another vendor's owned domain is an overlap.
    let clash = owner(
        "Other",
        &format!("[[owned_domain]]\ndomain = \"acme-cloud.net\"\nsource = \"{SRC}\"\n"),
        &[("host", "t.other.example")],
    );
    let c = owned_catalog()
        .with_overlay([("site/other.toml".into(), "other".into(), clash)])
        .unwrap();
    let e = c.first_error().unwrap();
    assert_eq!(
        (e.file.as_str(), e.kind),
        ("site/other.toml", IssueKind::Overlap)
    );
}

#[test]
fn an_overlay_extending_a_built_in_vendor_inherits_its_jurisdiction_or_is_refused() {
    let extension = |jurisdiction: &str| {
        format!(
            "vendor = \"Acme\"\n{jurisdiction}\n[[product]]\nname = \"EDR\"\n\n[[product.endpoint]]\nhost = \"relay.site.example\"\npurpose = \"telemetry\"\nsource = \"{SRC}\"\nconfidence = \"inferred\"\n"
        )
    };
    // Left out: the built-in vendor's (IL) is taken.
    let c = owned_catalog()
        .with_overlay([("site/acme.toml".into(), "acme".into(), extension(""))])
        .unwrap();
    assert!(c.check().is_empty(), "{:?}", c.check());
    let m = c.match_name("relay.site.example").unwrap();
    assert_eq!(
        (m.vendor, m.jurisdiction),
        ("Acme", &["IL".to_string()][..])
    );
    // Restated alike: accepted.
    let c = owned_catalog()
        .with_overlay([(
            "site/acme.toml".into(),
            "acme".into(),
            extension("jurisdiction = [\"IL\"]"),
        )])
        .unwrap();
    assert_eq!(
        c.match_name("relay.site.example").unwrap().jurisdiction,
        &["IL".to_string()][..]
    );
    // Another one: refused, one line naming the file and the line.
    let e = owned_catalog()
        .with_overlay([(
            "site/acme.toml".into(),
            "acme".into(),
            extension("jurisdiction = [\"US\"]"),
        )])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("site/acme.toml:2: jurisdiction"), "{e}");
    assert!(
        e.contains("\"US\"") && e.contains("\"IL\"") && !e.contains('\n'),
        "{e}"
    );
    // A new vendor still must name its own.
    let c = owned_catalog()
        .with_overlay([(
            "site/new.toml".into(),
            "new".into(),
            extension("").replace("Acme", "New"),
        )])
        .unwrap();
    assert!(c
        .check()
        .iter()
        .any(|i| i.file == "site/new.toml" && i.message.contains("missing `jurisdiction`")));
}

#[test]
fn hiding_endpoints_leaves_owned_domains_to_attribute_them() {
    let c = owned_catalog();
    let hidden = c.retain_endpoints(|_, _, e| e.pattern != "ts01.edr.acme-cloud.net");
    assert_eq!(c.endpoint_count() - 1, hidden.endpoint_count());
    // The vendor is still known; with its only edr.* endpoint gone, nothing
    // narrows the product below the domain both products use.
    let m = hidden.match_name("ts01.edr.acme-cloud.net").unwrap();
    assert_eq!(
        (m.tier, m.vendor, m.product),
        (Tier::OwnedDomain, "Acme", UNIDENTIFIED_PRODUCT)
    );
}

#[test]
fn owned_matches_are_the_same_against_a_much_larger_catalog() {
    // Lookups are hash probes per label: a catalog 50 times larger answers
    // the same (and the synthetic copies never match real names).
    let c = owned_catalog();
    let big = c.synthetic_scaled(50);
    assert!(big.vendors().len() >= 50);
    for n in [
        "ts77.edr.acme-cloud.net",
        "new.acme-cloud.net",
        "www.acme.com",
        "eu.acme-edr.io",
        "example.org",
    ] {
        let a = c.match_name(n).map(|m| (m.vendor.to_string(), m.tier));
        let b = big.match_name(n).map(|m| (m.vendor.to_string(), m.tier));
        assert_eq!(a, b, "{n}");
    }
    assert_eq!(big.match_asn(64100).map(|m| m.vendor), Some("Acme"));
}

#[test]
fn web_labels_count_near_the_domain_only() {
    let c = owned_catalog();
    // Two labels above the domain: still a web site (docs of a product).
    assert!(c.match_name("docs.edr.acme-cloud.net").is_none());
    assert!(c.is_web_presence("docs.edr.acme-cloud.net"));
    // Deeper: a service name that happens to start with a web word.
    assert_eq!(
        tier_of(&c, "resources.prod-eu-1.edr.acme-cloud.net").map(|t| t.0),
        Some(Tier::OwnedDomain)
    );
    assert!(!c.is_web_presence("resources.prod-eu-1.edr.acme-cloud.net"));
    // Names outside the catalog: relative to their registrable domain.
    assert!(c.is_web_presence("www.customer.example.co.uk"));
    assert!(!c.is_web_presence("api.customer.example.co.uk"));
}
