use super::*;

const NS: u64 = 1_000_000_000;
/// 2026-06-30T00:00:00Z and the next day, in seconds.
const JUN30: u64 = 1_782_777_600;
const JUL01: u64 = 1_782_864_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn codes(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn dests(v: &[Option<&str>]) -> Vec<Option<String>> {
    v.iter().map(|d| d.map(str::to_string)).collect()
}

fn parse(text: &str) -> Policy {
    Policy::from_toml(text, "policy.toml").unwrap()
}

/// The error of `text` as (line, message).
fn error(text: &str) -> (u32, String) {
    match Policy::from_toml(text, "policy.toml") {
        Err(e @ PolicyError::Invalid { line, .. }) => (line, e.to_string()),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

fn candidate<'a>(
    jurisdiction: &'a [String],
    destinations: &'a [Option<String>],
    dns_only: bool,
) -> Candidate<'a> {
    Candidate {
        host: ip("10.1.2.3"),
        vendor: "Example Vendor",
        product: "Example Agent",
        jurisdiction,
        destination_countries: destinations,
        dns_only,
        last_seen_ns: JUN30 * NS,
    }
}

#[test]
fn default_toml_round_trips_to_default_for() {
    for home in ["DE", "us", " fr "] {
        let text = Policy::default_toml(home);
        let from_file = Policy::from_toml(&text, "default.toml").unwrap();
        assert_eq!(from_file, Policy::default_for(home).unwrap(), "{home}");
    }
    let p = Policy::default_for("de").unwrap();
    assert_eq!(p.home_country(), "DE");
    assert_eq!(p.allowed_destination_countries(), ["DE"]);
    assert_eq!(p.foreign_jurisdictions(), &ForeignJurisdictions::AllButHome);
    assert_eq!(*p.severity_rules(), SeverityRules::default());
    assert!(p.exceptions().is_empty());
    let nets: Vec<String> = p
        .internal_networks()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        nets,
        [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "169.254.0.0/16",
            "127.0.0.0/8",
            "fc00::/7",
            "fe80::/10",
            "::1/128"
        ]
    );
}

#[test]
fn default_toml_comments_every_setting() {
    let text = Policy::default_toml("DE");
    let lines: Vec<&str> = text.lines().collect();
    let mut keys = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        if t.starts_with('#') || t.is_empty() {
            continue;
        }
        if let Some((key, _)) = t.split_once(" = ") {
            keys.push(key);
            let above = lines[i - 1].trim_start();
            assert!(above.starts_with('#'), "`{key}` has no comment above it");
        } else if t.starts_with('"') {
            // A list element: commented on its own line.
            assert!(t.contains(" # "), "list element without a comment: {t}");
        }
    }
    assert_eq!(
        keys,
        [
            "home_country",
            "internal_networks",
            "foreign_jurisdictions",
            "allowed_destination_countries",
            "foreign_vendor_data_abroad",
            "foreign_vendor_data_home",
            "domestic_vendor_data_abroad",
            "domestic_vendor_data_home",
            "dns_only"
        ]
    );
}

#[test]
fn default_toml_example_exception_is_valid() {
    // The commented example, uncommented, must load as documented.
    let text = Policy::default_toml("DE");
    let start = text.find("# [[exception]]").unwrap();
    let example: String = text[start..]
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let p = parse(&format!("{text}\n{example}\n"));
    let e = &p.exceptions()[0];
    assert_eq!(e.host, Some("10.20.0.0/16".parse().unwrap()));
    assert_eq!(e.vendor.as_deref(), Some("Example Vendor"));
    assert_eq!(e.product.as_deref(), Some("Example Endpoint Agent"));
    assert_eq!(e.expires, Date::new(2026, 6, 30));
    assert_eq!(e.line, text.lines().count() as u32 + 2);
}

#[test]
fn default_for_rejects_a_bad_home_country() {
    let e = Policy::default_for("UK").unwrap_err();
    assert_eq!(
        e.to_string(),
        "home country: unknown country code 'UK' (did you mean GB?)"
    );
    assert!(matches!(
        e,
        PolicyError::HomeCountry(Problem::UnknownCountry { ref code, .. }) if code == "UK"
    ));
    assert_eq!(
        Policy::default_for("DEU").unwrap_err().to_string(),
        "home country: unknown country code 'DEU' (use the two-letter ISO 3166-1 alpha-2 code, \
         not the three-letter one)"
    );
    assert_eq!(
        Policy::default_for("ZZ").unwrap_err().to_string(),
        "home country: unknown country code 'ZZ'"
    );
    assert_eq!(Policy::default_for("XK").unwrap().home_country(), "XK");
}

#[test]
fn country_list_is_sorted_and_complete() {
    assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
    // 249 assigned codes plus XK.
    assert_eq!(ISO_3166_ALPHA2.len(), 250);
    assert!(!ISO_3166_ALPHA2.contains(&"UK"));
}

#[test]
fn internal_networks() {
    let p = Policy::default_for("DE").unwrap();
    for inside in [
        "10.1.2.3",
        "172.31.255.255",
        "192.168.0.1",
        "100.64.0.1",
        "100.127.255.254",
        "169.254.1.1",
        "127.0.0.1",
        "fd12:3456::1",
        "fe80::1",
        "::1",
        "::ffff:192.168.1.1",
    ] {
        assert!(p.is_internal(ip(inside)), "{inside}");
    }
    for outside in ["172.32.0.1", "100.128.0.1", "8.8.8.8", "2001:db8::1", "::2"] {
        assert!(!p.is_internal(ip(outside)), "{outside}");
    }
    let own = parse(
        "home_country = \"DE\"\ninternal_networks = [\"198.51.100.0/24\", \"203.0.113.9\"]\n",
    );
    assert!(own.is_internal(ip("198.51.100.77")));
    assert!(own.is_internal(ip("203.0.113.9")));
    assert!(!own.is_internal(ip("203.0.113.10")));
    assert!(!own.is_internal(ip("10.0.0.1")));
}

#[test]
fn foreign_vendor_all_but_home() {
    let p = Policy::default_for("DE").unwrap();
    assert!(!p.is_foreign_vendor(&codes(&["DE"])));
    assert!(!p.is_foreign_vendor(&codes(&["de"])));
    assert!(p.is_foreign_vendor(&codes(&["US"])));
    // Israeli-founded, US headquarters: foreign because either is.
    assert!(p.is_foreign_vendor(&codes(&["US", "IL"])));
    // Domestic headquarters, foreign founding country: still foreign.
    assert!(p.is_foreign_vendor(&codes(&["DE", "IL"])));
    // Unknown jurisdiction cannot be shown domestic.
    assert!(p.is_foreign_vendor(&[]));
}

#[test]
fn foreign_vendor_listed() {
    let p = parse("home_country = \"DE\"\nforeign_jurisdictions = [\"US\", \"cn\"]\n");
    assert_eq!(
        p.foreign_jurisdictions(),
        &ForeignJurisdictions::Listed(codes(&["US", "CN"]))
    );
    assert!(!p.is_foreign_vendor(&codes(&["IL"])));
    assert!(!p.is_foreign_vendor(&codes(&["GB", "DE"])));
    assert!(p.is_foreign_vendor(&codes(&["IL", "US"])));
    assert!(p.is_foreign_vendor(&codes(&["CN"])));
    assert!(p.is_foreign_vendor(&[]));
}

#[test]
fn destinations() {
    let p =
        parse("home_country = \"DE\"\nallowed_destination_countries = [\"DE\", \"fr\", \"DE\"]\n");
    assert_eq!(p.allowed_destination_countries(), ["DE", "FR"]);
    assert!(p.destination_allowed(Some("DE")));
    assert!(p.destination_allowed(Some("fr")));
    assert!(!p.destination_allowed(Some("US")));
    // Unknown country: cannot be shown to stay home.
    assert!(!p.destination_allowed(None));
}

#[test]
fn each_kind_of_finding_and_its_default_severity() {
    use FindingKind::*;
    let p = Policy::default_for("DE").unwrap();
    let us = codes(&["US"]);
    let de = codes(&["DE"]);
    let home = dests(&[Some("DE"), Some("DE")]);
    let abroad = dests(&[Some("DE"), Some("US")]);
    let unknown = dests(&[Some("DE"), None]);
    // (kind, severity, foreign_vendor, data_abroad) of a verdict.
    let judge = |jur: &[String], dst: &[Option<String>], dns_only: bool| {
        let v = p.judge(&candidate(jur, dst, dns_only));
        assert_eq!(v.exception, None);
        (v.kind, v.severity, v.foreign_vendor, v.data_abroad)
    };
    use Severity::{High, Info, Low, Medium};
    assert_eq!(
        judge(&us, &abroad, false),
        (ForeignVendorDataAbroad, High, true, true)
    );
    // An unknown destination country is not shown to stay home.
    assert_eq!(
        judge(&us, &unknown, false),
        (ForeignVendorDataAbroad, High, true, true)
    );
    assert_eq!(
        judge(&us, &home, false),
        (ForeignVendorDataHome, Medium, true, false)
    );
    assert_eq!(
        judge(&de, &abroad, false),
        (DomesticVendorDataAbroad, Medium, false, true)
    );
    assert_eq!(
        judge(&de, &home, false),
        (DomesticVendorDataHome, Info, false, false)
    );
    // No destination at all: nothing shown to leave.
    assert_eq!(
        judge(&de, &[], false),
        (DomesticVendorDataHome, Info, false, false)
    );
    // DNS only: never data abroad, whatever the answers pointed at.
    assert_eq!(judge(&us, &abroad, true), (DnsOnly, Low, true, false));
    assert_eq!(judge(&de, &home, true), (DnsOnly, Low, false, false));
}

#[test]
fn severity_overrides_and_names() {
    let p = parse(
        "home_country = \"DE\"\n[severity]\ndns_only = \"critical\"\nforeign_vendor_data_home = \"HIGH\"\n",
    );
    let r = p.severity_rules();
    assert_eq!(r.dns_only, Severity::Critical);
    assert_eq!(r.foreign_vendor_data_home, Severity::High);
    assert_eq!(r.foreign_vendor_data_abroad, Severity::High);
    assert_eq!(r.domestic_vendor_data_home, Severity::Info);
    let us = codes(&["US"]);
    let v = p.judge(&candidate(&us, &[], true));
    assert_eq!(
        (v.kind, v.severity),
        (FindingKind::DnsOnly, Severity::Critical)
    );

    let names: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "foreign_vendor_data_abroad",
            "foreign_vendor_data_home",
            "domestic_vendor_data_abroad",
            "domestic_vendor_data_home",
            "dns_only"
        ]
    );
    let sev: Vec<(&str, u8)> = Severity::ALL
        .iter()
        .map(|s| (s.as_str(), s.suricata_severity()))
        .collect();
    assert_eq!(
        sev,
        [
            ("info", 4),
            ("low", 3),
            ("medium", 2),
            ("high", 1),
            ("critical", 1)
        ]
    );
    assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
    assert_eq!(
        serde_json::to_string(&FindingKind::DnsOnly).unwrap(),
        "\"dns_only\""
    );
    assert_eq!(
        serde_json::to_string(&Severity::Medium).unwrap(),
        "\"medium\""
    );
}

const EXCEPTIONS: &str = r#"home_country = "DE"

[[exception]]
host = "10.1.2.3"
reason = "lab machine"

[[exception]]
host = "10.9.0.0/16"
vendor = "example vendor"
reason = "pilot network"

[[exception]]
vendor = "Other Vendor"
product = "Other Agent"
reason = "contract until mid-2026"
expires = 2026-06-30

[[exception]]
product = "Lone Product"
reason = "string date"
expires = "2026-06-29"
"#;

#[test]
fn exceptions_parse_with_lines() {
    let p = parse(EXCEPTIONS);
    let ex = p.exceptions();
    assert_eq!(ex.len(), 4);
    assert_eq!(ex[0].host, Some("10.1.2.3/32".parse().unwrap()));
    assert_eq!(ex[1].host, Some("10.9.0.0/16".parse().unwrap()));
    assert_eq!(ex[1].vendor.as_deref(), Some("example vendor"));
    assert_eq!(ex[2].expires, Date::new(2026, 6, 30));
    assert_eq!(ex[3].expires, Date::new(2026, 6, 29));
    let lines: Vec<u32> = ex.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 7, 12, 18]);
}

#[test]
fn exceptions_match_by_host_cidr_vendor_and_product() {
    let p = parse(EXCEPTIONS);
    let us = codes(&["US"]);
    let abroad = dests(&[Some("US")]);
    let judge = |host: &str, vendor: &str, product: &str| {
        p.judge(&Candidate {
            host: ip(host),
            vendor,
            product,
            ..candidate(&us, &abroad, false)
        })
        .exception
        .map(|e| (e.reason, e.expired, e.line))
    };
    // Host alone: any vendor on that host.
    assert_eq!(
        judge("10.1.2.3", "Anyone", "Anything"),
        Some(("lab machine".into(), false, 3))
    );
    assert_eq!(judge("10.1.2.4", "Anyone", "Anything"), None);
    // CIDR and vendor: both must match; vendor case does not matter.
    assert_eq!(
        judge("10.9.200.1", "Example VENDOR", "X"),
        Some(("pilot network".into(), false, 7))
    );
    assert_eq!(judge("10.9.200.1", "Another", "X"), None);
    assert_eq!(judge("10.8.0.1", "Example Vendor", "X"), None);
    // Vendor and product.
    assert_eq!(
        judge("192.168.1.1", "Other Vendor", "other agent"),
        Some(("contract until mid-2026".into(), false, 12))
    );
    assert_eq!(judge("192.168.1.1", "Other Vendor", "Another Agent"), None);
    // Product alone, expired the day before last_seen (2026-06-30).
    assert_eq!(
        judge("192.168.1.1", "V", "Lone Product"),
        Some(("string date".into(), true, 18))
    );
    // The verdict itself is unchanged by an exception.
    let v = p.judge(&Candidate {
        host: ip("10.1.2.3"),
        ..candidate(&us, &abroad, false)
    });
    assert_eq!(
        (v.kind, v.severity),
        (FindingKind::ForeignVendorDataAbroad, Severity::High)
    );
    assert!(v.is_excepted());
}

#[test]
fn exception_expiry_is_inclusive_of_the_last_day() {
    let p = parse(EXCEPTIONS);
    let us = codes(&["US"]);
    let at = |last_seen_ns: u64| {
        let v = p.judge(&Candidate {
            host: ip("192.168.1.1"),
            vendor: "Other Vendor",
            product: "Other Agent",
            last_seen_ns,
            ..candidate(&us, &[], false)
        });
        (v.exception.as_ref().map(|e| e.expired), v.is_excepted())
    };
    assert_eq!(at(JUN30 * NS), (Some(false), true));
    assert_eq!(at(JUL01 * NS - 1), (Some(false), true));
    assert_eq!(at(JUL01 * NS), (Some(true), false));
    let expired: Vec<u32> = p.expired_exceptions(JUL01 * NS).map(|e| e.line).collect();
    assert_eq!(expired, [12, 18]);
    let expired: Vec<u32> = p.expired_exceptions(JUN30 * NS).map(|e| e.line).collect();
    assert_eq!(expired, [18]);
}

#[test]
fn an_exception_in_force_beats_an_earlier_expired_one() {
    let p = parse(
        r#"home_country = "DE"
[[exception]]
vendor = "V"
reason = "old"
expires = 2020-01-01
[[exception]]
vendor = "V"
reason = "renewed"
expires = 2030-01-01
"#,
    );
    let us = codes(&["US"]);
    let c = Candidate {
        vendor: "V",
        ..candidate(&us, &[], false)
    };
    let m = p.judge(&c).exception.unwrap();
    assert_eq!(
        (m.reason.as_str(), m.expired, m.line),
        ("renewed", false, 6)
    );
    assert_eq!(m.expires, Date::new(2030, 1, 1));
    // Once both ran out, the first expired one is reported.
    let late = Candidate {
        last_seen_ns: 1_900_000_000 * NS, // 2030-03-17
        ..c
    };
    let m = p.judge(&late).exception.unwrap();
    assert_eq!((m.reason.as_str(), m.expired), ("old", true));
}

#[test]
fn unknown_keys_are_rejected_with_their_line() {
    let (line, msg) = error("home_country = \"DE\"\n\nhome_contry = \"FR\"\n");
    assert_eq!(line, 3);
    assert!(
        msg.starts_with("policy.toml:3: unknown field `home_contry`"),
        "{msg}"
    );

    let (line, msg) =
        error("home_country = \"DE\"\n[severity]\ndns_only = \"low\"\ndns = \"low\"\n");
    assert_eq!(line, 4);
    assert!(msg.contains("unknown field `dns`"), "{msg}");

    let (line, msg) =
        error("home_country = \"DE\"\n[[exception]]\nvendor = \"V\"\nreason = \"r\"\nuntil = 2026-01-01\n");
    assert_eq!(line, 5);
    assert!(msg.contains("unknown field `until`"), "{msg}");
}

#[test]
fn bad_countries_name_their_line() {
    let (line, msg) = error("# policy\nhome_country = \"UK\"\n");
    assert_eq!(line, 2);
    assert_eq!(
        msg,
        "policy.toml:2: unknown country code 'UK' (did you mean GB?)"
    );

    let (_, msg) = error(
        "home_country = \"DE\"\nallowed_destination_countries = [\n  \"DE\",\n  \"FR\",\n  \"EL\",\n]\n",
    );
    assert_eq!(
        msg,
        "policy.toml:5: unknown country code 'EL' (did you mean GR?)"
    );

    let (_, msg) = error("home_country = \"DE\"\nforeign_jurisdictions = [\"US\",\n \"EU\"]\n");
    assert_eq!(
        msg,
        "policy.toml:3: unknown country code 'EU' (a group, not a country: list its member states here (groups are allowed in allowed_destination_countries))"
    );

    let (_, msg) = error("home_country = \"DE\"\nforeign_jurisdictions = [\"US\", \"de\"]\n");
    assert_eq!(
        msg,
        "policy.toml:2: home country DE cannot be listed in `foreign_jurisdictions`"
    );

    let (_, msg) = error("home_country = \"Germany\"\n");
    assert_eq!(
        msg,
        "policy.toml:1: unknown country code 'Germany' (use a two-letter ISO 3166-1 alpha-2 code such as \"DE\")"
    );
}

#[test]
fn bad_networks_name_their_line() {
    let (_, msg) = error("home_country = \"DE\"\ninternal_networks = [\n  \"10.0.0.0/33\",\n]\n");
    assert_eq!(
        msg,
        "policy.toml:3: bad network '10.0.0.0/33': expected an address/prefix-length CIDR"
    );
    let (_, msg) = error("home_country = \"DE\"\ninternal_networks = [\"10.1.2.3/8\"]\n");
    assert_eq!(
        msg,
        "policy.toml:2: bad network '10.1.2.3/8': address bits set past the prefix; did you mean 10.0.0.0/8?"
    );
    let (_, msg) =
        error("home_country = \"DE\"\n[[exception]]\nhost = \"lab-pc\"\nreason = \"r\"\n");
    assert_eq!(
        msg,
        "policy.toml:3: bad network 'lab-pc': expected an IP address or CIDR"
    );
}

#[test]
fn exceptions_need_a_reason_and_a_subject() {
    let (line, msg) = error("home_country = \"DE\"\n\n[[exception]]\nvendor = \"V\"\n");
    assert_eq!(line, 3);
    assert_eq!(
        msg,
        "policy.toml:3: exception without a `reason`: say why the finding is accepted"
    );
    let (_, msg) = error("home_country = \"DE\"\n[[exception]]\nvendor = \"V\"\nreason = \"  \"\n");
    assert_eq!(
        msg,
        "policy.toml:4: exception without a `reason`: say why the finding is accepted"
    );
    let (line, msg) = error("home_country = \"DE\"\n[[exception]]\nreason = \"everything\"\n");
    assert_eq!(line, 2);
    assert!(msg.ends_with("exception matches everything: give `host`, `vendor` and/or `product`"));
    let (_, msg) = error("home_country = \"DE\"\n[[exception]]\nvendor = \"\"\nreason = \"r\"\n");
    assert_eq!(msg, "policy.toml:3: empty `vendor`");
}

#[test]
fn other_bad_values() {
    let (_, msg) =
        error("home_country = \"DE\"\n[severity]\nforeign_vendor_data_abroad = \"severe\"\n");
    assert_eq!(
        msg,
        "policy.toml:3: unknown severity 'severe' (expected info, low, medium, high or critical)"
    );
    let (_, msg) = error("home_country = \"DE\"\nforeign_jurisdictions = \"everyone\"\n");
    assert_eq!(
        msg,
        "policy.toml:2: `foreign_jurisdictions` must be \"all-but-home\" or a list of country codes, not \"everyone\""
    );
    let (_, msg) = error("home_country = \"DE\"\n[[exception]]\nvendor = \"V\"\nreason = \"r\"\nexpires = \"2026-02-30\"\n");
    assert_eq!(
        msg,
        "policy.toml:5: bad date '2026-02-30': expected YYYY-MM-DD"
    );
    let (_, msg) = error("home_country = \"DE\"\n[[exception]]\nvendor = \"V\"\nreason = \"r\"\nexpires = 2026-06-30T12:00:00\n");
    assert_eq!(
        msg,
        "policy.toml:5: bad date '2026-06-30T12:00:00': expected YYYY-MM-DD"
    );
    let (line, msg) = error("# nothing\n");
    assert_eq!(
        (line, msg.as_str()),
        (1, "policy.toml:1: missing `home_country`")
    );
    let (line, msg) = error("home_country = \"DE\"\ninternal_networks = \"10.0.0.0/8\"\n");
    assert_eq!(line, 2);
    assert!(msg.contains("invalid type"), "{msg}");
    let (line, _) = error("home_country = \"DE\"\n\n[severity\n");
    assert_eq!(line, 3);
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, "home_country = \"DE\"\nbogus = 1\n").unwrap();
    let msg = Policy::load(&path).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}:2: unknown field `bogus`", path.display())),
        "{msg}"
    );
    std::fs::write(&path, Policy::default_toml("NL")).unwrap();
    assert_eq!(
        Policy::load(&path).unwrap(),
        Policy::default_for("NL").unwrap()
    );
    let missing = dir.path().join("nope.toml");
    assert!(
        matches!(Policy::load(&missing), Err(PolicyError::Io { ref path, .. }) if path == &missing)
    );
}

#[test]
fn dates() {
    assert_eq!(Date::from_unix_ns(0).to_string(), "1970-01-01");
    assert_eq!(
        Date::from_unix_ns(951_782_400 * NS).to_string(),
        "2000-02-29"
    );
    assert_eq!(Date::from_unix_ns(JUN30 * NS).to_string(), "2026-06-30");
    assert_eq!(Date::from_unix_ns(JUL01 * NS - 1).to_string(), "2026-06-30");
    assert_eq!(
        Date::from_unix_ns(1_735_603_200 * NS + 86_399 * NS).to_string(),
        "2024-12-31"
    );
    assert_eq!(Date::from_unix_ns(u64::MAX).to_string(), "2554-07-21");
    assert_eq!(Date::parse("2024-02-29"), Date::new(2024, 2, 29));
    assert_eq!(Date::parse("2000-02-29").map(|d| d.day), Some(29));
    assert_eq!(Date::parse("1900-02-29"), None);
    assert_eq!(Date::parse("2023-02-29"), None);
    assert_eq!(Date::parse("2026-13-01"), None);
    assert_eq!(Date::parse("2026-6-30"), None);
    assert_eq!(Date::parse("2026-06-3x"), None);
    assert_eq!(Date::parse("+026-06-30"), None);
    assert!(Date::new(2026, 6, 30) < Date::new(2026, 7, 1));
}

/// An exception must name what the catalog has, or it silently never applies.
#[test]
fn exceptions_must_name_catalogued_vendors_and_products() {
    use crate::resolve::catalog::Catalog;
    const ACME: &str = r#"
vendor = "Acme Security"
jurisdiction = ["US"]
[[product]]
name = "Sensor"
[[product.endpoint]]
host = "t.acme-cloud.example"
purpose = "telemetry"
confidence = "documented"
source = "https://acme.example/docs"
"#;
    let catalog = Catalog::from_files([("acme.toml".into(), "acme".into(), ACME.into())]).unwrap();
    let check = |exceptions: &str| {
        let text = format!("home_country = \"DE\"\n{exceptions}");
        Policy::from_toml(&text, "p.toml")
            .unwrap()
            .check_catalog(&catalog, "p.toml")
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        check("[[exception]]\nvendor = \"ACME security\"\nproduct = \"sensor\"\nreason = \"approved\"\n"),
        Ok(())
    );
    assert_eq!(
        check("[[exception]]\nproduct = \"Sensor\"\nreason = \"approved\"\n"),
        Ok(())
    );
    assert_eq!(
        check("\n[[exception]]\nvendor = \"Acme Secrity\"\nreason = \"typo\"\n"),
        Err("p.toml:3: exception names vendor 'Acme Secrity', which is not in the catalog".into())
    );
    // The file's slug is not the name findings carry.
    assert_eq!(
        check("[[exception]]\nvendor = \"acme\"\nreason = \"slug\"\n"),
        Err("p.toml:2: exception names vendor 'acme', which is not in the catalog (did you mean \"Acme Security\"?)".into())
    );
    assert_eq!(
        check("[[exception]]\nvendor = \"Acme Security\"\nproduct = \"Agent\"\nreason = \"x\"\n"),
        Err("p.toml:2: exception names product 'Agent', not a product of Acme Security (its products: Sensor)".into())
    );
    assert_eq!(
        check("[[exception]]\nhost = \"10.0.0.0/8\"\nproduct = \"Agent\"\nreason = \"x\"\n"),
        Err(
            "p.toml:2: exception names product 'Agent', not a product of any vendor in the catalog"
                .into()
        )
    );
}

#[test]
fn catalog_extra_is_read_and_resolved_against_the_policy_file() {
    let p = Policy::from_toml(
        "home_country = \"DE\"\ncatalog_extra = \"site\"\n",
        "p.toml",
    )
    .unwrap();
    assert_eq!(p.catalog_extra(), Some(std::path::Path::new("site")));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, "home_country = \"DE\"\ncatalog_extra = \"site\"\n").unwrap();
    let p = Policy::load(&file).unwrap();
    assert_eq!(p.catalog_extra(), Some(dir.path().join("site").as_path()));
    assert_eq!(Policy::default_for("DE").unwrap().catalog_extra(), None);
    // The documented default keeps it commented out.
    assert!(Policy::default_toml("DE").contains("# catalog_extra = "));
    let empty = Policy::from_toml("home_country = \"DE\"\ncatalog_extra = \" \"\n", "p.toml");
    assert!(empty
        .unwrap_err()
        .to_string()
        .starts_with("p.toml:2: empty `catalog_extra`"));
}

#[test]
fn country_groups_in_allowed_destinations() {
    let p = Policy::from_toml(
        "home_country = \"DE\"\nallowed_destination_countries = [\"eu\", \"NO\", \"DE\"]\n",
        "policy.toml",
    )
    .unwrap();
    let allowed = p.allowed_destination_countries();
    assert_eq!(
        allowed.len(),
        28,
        "27 EU members and Norway, DE once: {allowed:?}"
    );
    assert!(p.destination_allowed(Some("FR")) && p.destination_allowed(Some("no")));
    assert!(!p.destination_allowed(Some("GB")) && !p.destination_allowed(Some("CH")));
    let eea = Policy::from_toml(
        "home_country = \"FR\"\nallowed_destination_countries = [\"EEA\"]\n",
        "p",
    )
    .unwrap();
    assert_eq!(eea.allowed_destination_countries().len(), 30);
    assert!(eea.destination_allowed(Some("IS")) && !eea.destination_allowed(Some("US")));
}
