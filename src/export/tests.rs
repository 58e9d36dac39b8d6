use super::*;
use crate::judge::policy::Policy;
use crate::resolve::catalog::Catalog;

const SRC: &str = "https://example.org/doc";

fn vendor_file(slug: &str, name: &str, cc: &str, body: &str) -> (String, String, String) {
    (
        format!("{slug}.toml"),
        slug.to_string(),
        format!("vendor = \"{name}\"\njurisdiction = [\"{cc}\"]\n\n{body}"),
    )
}

fn endpoint(kind: &str, pattern: &str, purpose: &str) -> String {
    format!(
        "[[product.endpoint]]\n{kind} = \"{pattern}\"\npurpose = \"{purpose}\"\nconfidence = \"documented\"\nsource = \"{SRC}\"\n\n"
    )
}

fn two_vendors(extra_alpha: &str) -> Vec<(String, String, String)> {
    vec![
        vendor_file(
            "alpha",
            "Alpha",
            "US",
            &format!(
                "[[owned_domain]]\ndomain = \"alpha.example\"\nwebsite = true\nsource = \"{SRC}\"\n\n\
                 [[product]]\nname = \"Alpha Agent\"\n\n{}{extra_alpha}{}{}",
                endpoint("host", "t.alpha.example", "telemetry"),
                endpoint("suffix", "lookup.alpha.example", "cloud_lookup"),
                endpoint("cidr", "192.0.2.0/24", "management"),
            ),
        ),
        vendor_file(
            "beta",
            "Beta",
            "CN",
            &format!(
                "[[product]]\nname = \"Beta AV\"\n\n{}{}",
                endpoint("host", "u.beta.example", "update"),
                endpoint("cidr", "2001:db8:20::/48", "telemetry"),
            ),
        ),
    ]
}

fn catalog(files: Vec<(String, String, String)>) -> Catalog {
    let c = Catalog::from_files(files).unwrap();
    assert!(c.first_error().is_none(), "{:?}", c.first_error());
    c
}

fn text(c: &Catalog, opts: &Options<'_>) -> String {
    let mut out = Vec::new();
    export(c, opts, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// (sid, pattern) of every Suricata rule.
fn sids(c: &Catalog) -> Vec<(u32, String)> {
    let rules = text(c, &Options::new(Format::Suricata));
    rules
        .lines()
        .filter(|l| l.starts_with("alert "))
        .map(|l| {
            let sid = l.split("sid:").nth(1).unwrap().split(';').next().unwrap();
            let id = l
                .split("phonehome_id ")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap();
            (sid.parse().unwrap(), id.to_string())
        })
        .collect()
}

#[test]
fn ids_do_not_depend_on_file_order_or_other_entries() {
    let before = sids(&catalog(two_vendors("")));
    // A new endpoint in the middle of the first file, and the files in the
    // other order: every earlier rule keeps its sid.
    let mut files = two_vendors(&endpoint("host", "new.alpha.example", "telemetry"));
    files.reverse();
    let after = sids(&catalog(files));
    assert_eq!(after.len(), before.len() + 4, "one host = four rules");
    for rule in &before {
        assert!(after.contains(rule), "{rule:?} changed");
    }
}

#[test]
fn sids_are_unique_in_range_and_end_with_the_protocol() {
    let c = Catalog::embedded().unwrap();
    let rules = text(&c, &Options::new(Format::Suricata));
    let mut seen = HashSet::new();
    let mut n = 0;
    for l in rules.lines().filter(|l| l.starts_with("alert ")) {
        let sid: u32 = l
            .split("sid:")
            .nth(1)
            .and_then(|s| s.split(';').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!((SID_BASE..=1_999_999_999).contains(&sid), "{sid}");
        assert!(seen.insert(sid), "duplicate sid {sid}");
        let digit = sid % 10;
        let want = match l.split_whitespace().nth(1) {
            Some("ip") => 5,
            _ if l.contains("dns.query;") => 1,
            _ if l.contains("tls.sni;") => 2,
            _ if l.contains("quic.sni;") => 3,
            _ if l.contains("http.host;") => 4,
            _ if l.contains("tls.subjectaltname;") => 6,
            _ => 7,
        };
        assert_eq!(digit, want, "{l}");
        n += 1;
    }
    // Every host and suffix has four rules, every network one.
    let names: usize = c
        .vendors()
        .iter()
        .flat_map(|v| v.products.iter().flat_map(|p| &p.endpoints))
        .filter(|e| matches!(e.kind, EndpointKind::Host | EndpointKind::Suffix))
        .count();
    assert!(n > 4 * names, "{n} rules for {names} names");
}

#[test]
fn colliding_slots_move_deterministically_and_stay_unique() {
    let c = catalog(two_vendors(""));
    // Three slots for seven entries cannot hold them: use 8, forcing collisions.
    let a = Entries::collect_with_slots(&c, 8);
    let mut slots: Vec<u32> = a.list.iter().map(|e| e.slot).collect();
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(slots.len(), a.list.len(), "slots unique");
    assert!(a.sid_collisions > 0, "8 slots for {} entries", a.list.len());
    // The same set in another file order gets the same slots.
    let mut files = two_vendors("");
    files.reverse();
    let c2 = catalog(files);
    let b = Entries::collect_with_slots(&c2, 8);
    let key = |e: &Entry<'_>| (e.id, e.slot);
    let mut ka: Vec<_> = a.list.iter().map(key).collect();
    let mut kb: Vec<_> = b.list.iter().map(key).collect();
    ka.sort_unstable();
    kb.sort_unstable();
    assert_eq!(ka, kb);
}

#[test]
fn entry_id_is_a_pure_function_of_identity() {
    let a = entry_id(
        "alpha",
        Tier::Endpoint,
        EndpointKind::Host,
        "t.alpha.example",
    );
    assert_eq!(
        a,
        entry_id(
            "alpha",
            Tier::Endpoint,
            EndpointKind::Host,
            "t.alpha.example"
        )
    );
    assert_ne!(
        a,
        entry_id(
            "alpha",
            Tier::Endpoint,
            EndpointKind::Suffix,
            "t.alpha.example"
        )
    );
    assert_ne!(
        a,
        entry_id(
            "beta",
            Tier::Endpoint,
            EndpointKind::Host,
            "t.alpha.example"
        )
    );
    // Field boundaries are part of the hash: ("ab", "c") is not ("a", "bc").
    assert_ne!(
        entry_id("ab", Tier::Endpoint, EndpointKind::Host, "c.example"),
        entry_id("a", Tier::Endpoint, EndpointKind::Host, "bc.example")
    );
}

#[test]
fn rpz_ip_triggers_reverse_the_address() {
    assert_eq!(
        dns::rpz_ip("192.0.2.0/24").as_deref(),
        Some("24.0.2.0.192.rpz-ip")
    );
    assert_eq!(
        dns::rpz_ip("198.51.100.7/32").as_deref(),
        Some("32.7.100.51.198.rpz-ip")
    );
    // IPv6: words reversed, the longest zero run as zz.
    assert_eq!(
        dns::rpz_ip("2001:2:3::1/128").as_deref(),
        Some("128.1.zz.3.2.2001.rpz-ip")
    );
    assert_eq!(
        dns::rpz_ip("2001:db8:20::/48").as_deref(),
        Some("48.zz.20.db8.2001.rpz-ip")
    );
    // A single zero word is written, not compressed; of two equal runs the
    // first is (RFC 5952: 2001:0:1::1:0:0).
    assert_eq!(
        dns::rpz_ip("2001:0:1:0:0:1:0:0/128").as_deref(),
        Some("128.0.0.1.zz.1.0.2001.rpz-ip")
    );
    assert_eq!(
        dns::rpz_ip("2001:db8:0:1:0:0:0:0/64").as_deref(),
        Some("64.zz.1.0.db8.2001.rpz-ip")
    );
    assert_eq!(dns::rpz_ip("not a network"), None);
}

#[test]
fn uuid_v5_is_stable_and_well_formed() {
    let u = uuid_v5("sigma\nalpha\nendpoint\nAlpha Agent\ndns");
    assert_eq!(u, uuid_v5("sigma\nalpha\nendpoint\nAlpha Agent\ndns"));
    assert_ne!(u, uuid_v5("sigma\nalpha\nendpoint\nAlpha Agent\nproxy"));
    let parts: Vec<&str> = u.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12]
    );
    assert!(parts[2].starts_with('5'), "version 5: {u}");
    assert!(
        matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b')),
        "RFC variant: {u}"
    );
}

#[test]
fn foreign_only_follows_the_policy() {
    let c = catalog(two_vendors(""));
    let policy = Policy::default_for("CN").unwrap();
    let mut opts = Options::new(Format::Hosts);
    opts.filter.foreign_only = Some(&policy);
    let hosts = text(&c, &opts);
    assert!(hosts.contains("0.0.0.0 t.alpha.example"), "{hosts}");
    assert!(!hosts.contains("beta"), "Beta is domestic in CN: {hosts}");
    let policy = Policy::default_for("US").unwrap();
    opts.filter.foreign_only = Some(&policy);
    let hosts = text(&c, &opts);
    assert!(hosts.contains("0.0.0.0 u.beta.example"), "{hosts}");
    assert!(!hosts.contains("alpha"), "{hosts}");
}

#[test]
fn purpose_and_tier_filters() {
    let c = catalog(two_vendors(""));
    let mut opts = Options::new(Format::ZeekIntel);
    opts.filter.purposes = vec![Purpose::Telemetry, Purpose::CloudLookup];
    let intel = text(&c, &opts);
    let indicators: Vec<&str> = intel
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    // Owned domains carry "unspecified": left out by this filter.
    assert_eq!(
        indicators,
        [
            "t.alpha.example",
            "lookup.alpha.example",
            "2001:db8:20::/48"
        ]
    );
    let mut opts = Options::new(Format::Suricata);
    opts.filter.tiers = vec![Tier::OwnedDomain];
    let rules = text(&c, &opts);
    assert!(rules
        .lines()
        .filter(|l| l.starts_with("alert"))
        .all(|l| l.contains("tier owned_domain")));
    assert_eq!(rules.lines().filter(|l| l.starts_with("alert")).count(), 4);
}

#[test]
fn an_empty_selection_and_an_unknown_vendor_are_errors() {
    let c = catalog(two_vendors(""));
    let mut opts = Options::new(Format::Sigma);
    opts.filter.purposes = vec![Purpose::Licensing];
    let mut out = Vec::new();
    assert!(matches!(
        export(&c, &opts, &mut out),
        Err(ExportError::Empty(Format::Sigma))
    ));
    assert!(out.is_empty(), "nothing written");
    let mut opts = Options::new(Format::Json);
    opts.filter.vendors = vec!["gamma".into()];
    let err = export(&c, &opts, &mut out).unwrap_err().to_string();
    assert_eq!(
        err,
        "no vendor named 'gamma' in the catalog (see `phonehome catalog list`)"
    );
}

#[test]
fn a_catalog_with_errors_is_refused() {
    // Two vendors claiming the same host: check reports an overlap error.
    let mut files = two_vendors("");
    files.push(vendor_file(
        "gamma",
        "Gamma",
        "DE",
        &format!(
            "[[product]]\nname = \"G\"\n\n{}",
            endpoint("host", "t.alpha.example", "telemetry")
        ),
    ));
    let c = Catalog::from_files(files).unwrap();
    let err = export(&c, &Options::new(Format::Hosts), &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("the catalog has errors, first: "), "{err}");
}

#[test]
fn web_presence_scope_of_a_suffix() {
    let files = vec![vendor_file(
        "alpha",
        "Alpha",
        "US",
        &format!(
            "[[owned_domain]]\ndomain = \"alpha.example\"\nwebsite = true\nsource = \"{SRC}\"\n\n\
             [[web_presence]]\nhost = \"wiki.alpha.example\"\nsource = \"{SRC}\"\n\n\
             [[web_presence]]\nsuffix = \"shop-eu.alpha.example\"\nsource = \"{SRC}\"\n\n\
             [[product]]\nname = \"A\"\n\n{}",
            endpoint("host", "t.alpha.example", "telemetry")
        ),
    )];
    let c = catalog(files);
    let all = Entries::collect(&c);
    let owned = all
        .list
        .iter()
        .find(|e| e.tier == Tier::OwnedDomain)
        .unwrap();
    assert!(!owned.scope.apex, "a website apex is not evidence");
    assert_eq!(owned.scope.web_hosts, ["wiki.alpha.example"]);
    assert_eq!(owned.scope.web_suffixes, ["shop-eu.alpha.example"]);
    // The scope the formats encode agrees with the attribution's own rule
    // (the catalog's, not a copy): names within the web depth, where the
    // formats' web-label filters apply.
    let d = "alpha.example";
    let encoded_web = |name: &str| {
        let first_is_web =
            name.len() > d.len() && crate::resolve::catalog::platforms::has_web_label(name);
        (name == d && !owned.scope.apex)
            || first_is_web
            || owned.scope.web_hosts.contains(&name)
            || owned
                .scope
                .web_suffixes
                .iter()
                .any(|w| name == *w || name.ends_with(&format!(".{w}")))
    };
    for (name, is_web) in [
        ("alpha.example", true),
        ("www.alpha.example", true),
        ("www.eu.alpha.example", true),
        ("eu.www.alpha.example", false),
        ("wiki.alpha.example", true),
        ("x.shop-eu.alpha.example", true),
        ("t.alpha.example", false),
        ("agent.alpha.example", false),
    ] {
        assert_eq!(c.is_web_presence(name), is_web, "catalog: {name}");
        assert_eq!(encoded_web(name), is_web, "export scope: {name}");
    }
}

#[test]
fn free_text_cannot_break_a_rule_or_a_line() {
    let files = vec![vendor_file(
        "odd",
        "Odd \\\"Vendor\\\"; x, y",
        "US",
        &format!(
            "notes = \"line1\\nline2\"\n\n[[product]]\nname = \"P;\\\\ \\\"q\\\", r\\tTab\"\n\n{}",
            endpoint("host", "h.odd.example", "telemetry")
        )
        .replace(SRC, "https://example.org/a,b;c\\\"d\\\""),
    )];
    let c = catalog(files);
    let rules = text(&c, &Options::new(Format::Suricata));
    for l in rules.lines().filter(|l| l.starts_with("alert")) {
        let msg = l
            .split("msg:\"")
            .nth(1)
            .unwrap()
            .split("\";")
            .next()
            .unwrap();
        assert!(!msg.contains(['"', ';', '\\']), "{msg}");
        let meta = l
            .split("metadata:")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        // Ten key/value pairs (one country), no stray separator from the text.
        assert_eq!(meta.split(", ").count(), 10, "{meta}");
        assert!(meta.contains("vendor Odd_Vendor_x_y,"), "{meta}");
        assert!(
            meta.contains("source https://example.org/a%2Cb%3Bc%22d%22"),
            "{meta}"
        );
    }
    let intel = text(&c, &Options::new(Format::ZeekIntel));
    for l in intel.lines().skip(1) {
        assert_eq!(l.split('\t').count(), 5, "{l:?}");
    }
    for format in [Format::Rpz, Format::Hosts] {
        let t = text(&c, &Options::new(format));
        // Every line is a comment, a directive or a record: no text leaked onto its own line.
        assert!(
            t.lines().all(|l| l.starts_with([';', '#', '$', '@', '0'])
                || l.starts_with("h.odd.example")),
            "{t}"
        );
    }
    let sigma = text(&c, &Options::new(Format::Sigma));
    assert!(sigma.contains("vendor: 'Odd \"Vendor\"; x, y'"), "{sigma}");
}
