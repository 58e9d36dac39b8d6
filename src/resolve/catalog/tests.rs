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
        hit(&c, "www.higan.org"),
        Some(("Higan".into(), "higan.org".into()))
    );
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
        c.match_name("x.guanjia.qq.com").unwrap().vendor_slug,
        "tencent"
    );
    assert!(c.match_name("qq.com").is_none());
    assert!(c.match_name("www.huawei.com").is_none());
    assert!(c.match_name("events.data.microsoft.com").is_none());
}
