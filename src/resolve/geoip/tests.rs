//! GeoIP against independent answers: the MaxMind test databases with their
//! source records (../shared/geoip-test), the deliberately corrupt ones, and
//! `mmdblookup` (libmaxminddb's tool) on the shipped databases.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

fn shared() -> PathBuf {
    let dir = std::env::var_os("PHONEHOME_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")));
    assert!(
        dir.join("geoip-test").is_dir(),
        "shared data missing: {}/geoip-test (set PHONEHOME_SHARED)",
        dir.display()
    );
    dir
}

fn test_db(name: &str) -> PathBuf {
    shared().join("geoip-test").join(name)
}

fn only(role: Role, path: &Path) -> GeoIp {
    let file = Source::File(path.to_path_buf());
    let config = match role {
        Role::Country => GeoIpConfig {
            country: file,
            asn: Source::Disabled,
            verify_files: true,
        },
        Role::Asn => GeoIpConfig {
            country: Source::Disabled,
            asn: file,
            verify_files: true,
        },
    };
    GeoIp::open(&config).unwrap()
}

/// First address of a `network/len` as written in a source file (which may
/// have host bits set, e.g. `::74.209.24.0/116`).
fn first_address(net: &str) -> IpAddr {
    let (addr, len) = net.split_once('/').unwrap();
    let len: u32 = len.parse().unwrap();
    match addr.parse::<IpAddr>().unwrap() {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

/// (network, record) pairs of a `*.source.json`.
fn source_records(name: &str) -> Vec<(String, serde_json::Value)> {
    let text = std::fs::read_to_string(test_db(name)).unwrap();
    let list: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&text).unwrap();
    list.into_iter().flat_map(|m| m.into_iter()).collect()
}

fn expected_country(rec: &serde_json::Value) -> Option<String> {
    rec.pointer("/country/iso_code")
        .or_else(|| rec.pointer("/registered_country/iso_code"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// Looks up the first address of every network in the source file and
/// compares with the source record; returns how many networks were checked.
fn check_against_source(db: &str, source: &str, role: Role) -> usize {
    let geo = only(role, &test_db(db));
    let records = source_records(source);
    assert!(!records.is_empty());
    let mut mismatches = Vec::new();
    for (net, rec) in &records {
        let ip = first_address(net);
        let got = geo.lookup_databases(ip);
        assert!(!got.db_error, "{db} {ip}");
        let want = match role {
            Role::Country => (expected_country(rec), None, None),
            Role::Asn => (
                None,
                rec["autonomous_system_number"].as_u64().map(|n| n as u32),
                rec["autonomous_system_organization"]
                    .as_str()
                    .map(str::to_owned),
            ),
        };
        if (got.country.clone(), got.asn, got.as_org.clone()) != want {
            mismatches.push(format!("{net}: got {got:?}, want {want:?}"));
        }
        // The public lookup agrees unless the range is a special one.
        let public = geo.lookup(ip);
        assert!(
            public == got || public.internal.is_some(),
            "{net}: {public:?}"
        );
    }
    assert!(mismatches.is_empty(), "{db}: {mismatches:#?}");
    records.len()
}

#[test]
fn maxmind_test_databases_match_their_sources() {
    let n = [
        (
            "GeoLite2-Country-Test.mmdb",
            "GeoLite2-Country-Test.source.json",
            Role::Country,
        ),
        (
            "GeoIP2-Country-Test.mmdb",
            "GeoIP2-Country-Test.source.json",
            Role::Country,
        ),
        (
            "GeoLite2-City-Test.mmdb",
            "GeoLite2-City-Test.source.json",
            Role::Country,
        ),
        (
            "GeoLite2-ASN-Test.mmdb",
            "GeoLite2-ASN-Test.source.json",
            Role::Asn,
        ),
    ]
    .map(|(db, src, role)| check_against_source(db, src, role));
    // Every network of each source file was checked.
    assert_eq!(n, [244, 345, 242, 720]);
}

#[test]
fn maxmind_layout_spot_checks() {
    let geo = GeoIp::open(&GeoIpConfig {
        country: Source::File(test_db("GeoIP2-Country-Test.mmdb")),
        asn: Source::File(test_db("GeoLite2-ASN-Test.mmdb")),
        verify_files: true,
    })
    .unwrap();
    let a = geo.lookup("81.2.69.160".parse().unwrap());
    assert_eq!(a.country.as_deref(), Some("GB"));
    let a = geo.lookup("2001:218::1".parse().unwrap());
    assert_eq!(a.country.as_deref(), Some("JP"));
    let a = geo.lookup("1.128.0.1".parse().unwrap());
    assert_eq!(
        (a.asn, a.as_org.as_deref()),
        (Some(1221), Some("Telstra Pty Ltd"))
    );
    // An IPv4-mapped address answers as its IPv4 address.
    assert_eq!(geo.lookup("::ffff:1.128.0.1".parse().unwrap()), a);
    let infos = geo.databases();
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].database_type, "GeoIP2-Country");
    assert_eq!(infos[1].database_type, "GeoLite2-ASN");
}

#[test]
fn one_struct_reads_both_layouts() {
    // ip-location-db country (country_code) beside a MaxMind ASN database,
    // then a MaxMind country database beside the ip-location-db ASN data.
    let mixed = GeoIp::open(&GeoIpConfig {
        country: Source::Embedded,
        asn: Source::File(test_db("GeoLite2-ASN-Test.mmdb")),
        verify_files: true,
    })
    .unwrap();
    let a = mixed.lookup("1.128.0.1".parse().unwrap());
    assert_eq!(a.country.as_deref(), Some("AU"));
    assert_eq!(a.asn, Some(1221));
    let mixed = GeoIp::open(&GeoIpConfig {
        country: Source::File(test_db("GeoLite2-City-Test.mmdb")),
        asn: Source::Embedded,
        verify_files: true,
    })
    .unwrap();
    let a = mixed.lookup("2.125.160.216".parse().unwrap());
    assert_eq!(a.country.as_deref(), Some("GB"));
    assert!(a.asn.is_some());
}

#[test]
fn format_edge_case_databases_verify_but_are_neither_kind() {
    for name in [
        "MaxMind-DB-test-decoder.mmdb",
        "MaxMind-DB-test-mixed-24.mmdb",
        "MaxMind-DB-no-ipv4-search-tree.mmdb",
    ] {
        let path = test_db(name);
        // The format check (every record decoded) passes...
        let bytes = std::fs::read(&path).unwrap();
        let db = open_bytes(Role::Country, name, Cow::Owned(bytes), true).unwrap();
        // ...and a lookup finds nothing, no error.
        let geo = GeoIp {
            country: Some(Database {
                role: Role::Country,
                reader: db,
                file: None,
                failed: None,
            }),
            ..GeoIp::none()
        };
        let a = geo.lookup_databases("1.1.1.1".parse().unwrap());
        assert_eq!(a, GeoAnswer::default(), "{name}");
        // But none of them has country or ASN fields: refused for either role.
        for (role, flag) in [(Role::Country, "country"), (Role::Asn, "asn")] {
            let config = GeoIpConfig {
                country: Source::Disabled,
                asn: Source::Disabled,
                verify_files: true,
            };
            let config = match role {
                Role::Country => GeoIpConfig {
                    country: Source::File(path.clone()),
                    ..config
                },
                Role::Asn => GeoIpConfig {
                    asn: Source::File(path.clone()),
                    ..config
                },
            };
            let err = GeoIp::open(&config).unwrap_err();
            assert!(
                matches!(err, GeoIpError::WrongKind { .. }),
                "{name} {flag}: {err}"
            );
        }
    }
}

/// An ASN database given as the country database (and the reverse) is
/// refused in one line naming it, by its type and by its records: it would
/// otherwise make every destination unknown, which counts as abroad.
#[test]
fn a_database_of_the_other_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let asn = test_db("GeoLite2-ASN-Test.mmdb");
    let err = GeoIp::open(&GeoIpConfig {
        country: Source::File(asn.clone()),
        asn: Source::Disabled,
        verify_files: true,
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "GeoIP country database {} is not a country database: its type is \"GeoLite2-ASN\"; pass it with --geoip-asn",
            asn.display()
        )
    );
    let country = test_db("GeoLite2-Country-Test.mmdb");
    let err = GeoIp::open(&GeoIpConfig {
        country: Source::Disabled,
        asn: Source::File(country.clone()),
        verify_files: true,
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("its type is \"GeoLite2-Country\"; pass it with --geoip-country"),
        "{err}"
    );
    // The shipped ASN data, whose type ("ip-location-db-asn") is found out by
    // its records too: renamed to hide its type from the file name.
    let shipped = dir.path().join("country.mmdb");
    std::fs::write(&shipped, EMBEDDED_ASN).unwrap();
    let err = GeoIp::open(&GeoIpConfig {
        country: Source::File(shipped),
        asn: Source::Disabled,
        verify_files: true,
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            GeoIpError::WrongKind {
                role: Role::Country,
                ..
            }
        ),
        "{err}"
    );
    // Right kinds open: a City database serves as a country database.
    only(Role::Country, &test_db("GeoLite2-City-Test.mmdb"));
    only(Role::Asn, &asn);
    let shipped_asn = dir.path().join("asn.mmdb");
    std::fs::write(&shipped_asn, EMBEDDED_ASN).unwrap();
    only(Role::Asn, &shipped_asn);
    let shipped_country = dir.path().join("c.mmdb");
    std::fs::write(&shipped_country, EMBEDDED_COUNTRY).unwrap();
    only(Role::Country, &shipped_country);
}

/// Addresses spread over both families, deterministic.
fn spread(n: usize, seed: u64) -> Vec<IpAddr> {
    let mut s = seed;
    let mut next = move || {
        // splitmix64
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                IpAddr::V4(Ipv4Addr::from(next() as u32))
            } else {
                let hi = u128::from(next()) << 64 | u128::from(next());
                // Mostly global unicast (2000::/3), where data lives.
                let v = if i % 3 == 0 {
                    hi
                } else {
                    (hi >> 3) | (1u128 << 125)
                };
                IpAddr::V6(Ipv6Addr::from(v))
            }
        })
        .collect()
}

/// Every network start of every source file, plus a spread of addresses.
fn probe_addresses() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = [
        "GeoLite2-Country-Test.source.json",
        "GeoIP2-Country-Test.source.json",
        "GeoLite2-City-Test.source.json",
        "GeoLite2-ASN-Test.source.json",
    ]
    .iter()
    .flat_map(|s| source_records(s))
    .map(|(net, _)| first_address(&net))
    .collect();
    // The networks of the small MaxMind-DB-test-* databases.
    ips.extend((0..64).map(|i| IpAddr::V4(Ipv4Addr::new(1, 1, 1, i))));
    ips.push("::1:ffff:ffff".parse().unwrap());
    ips.extend((0..0x60u128).map(|i| IpAddr::V6(Ipv6Addr::from((2u128 << 32) | i))));
    ips.extend(spread(20_000, 7));
    ips
}

/// Starts of the networks that maxminddb's iterator reaches in `path`
/// before it meets an error (or a few thousand of them).
fn own_networks(path: &Path) -> (Vec<IpAddr>, Option<String>) {
    let bytes = std::fs::read(path).unwrap();
    let Ok(reader) = Reader::from_source(bytes) else {
        return (Vec::new(), Some("does not open".into()));
    };
    let mut ips = Vec::new();
    let mut error = None;
    let iter = reader.networks(Default::default()).unwrap();
    for item in iter.take(5000) {
        match item.and_then(|r| r.network()) {
            Ok(net) => ips.push(net.network()),
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    (ips, error)
}

#[test]
fn corrupt_databases_are_refused_with_a_clear_error() {
    let cases = [
        (
            "GeoIP2-City-Test-Broken-Double-Format.mmdb",
            "invalid database at offset 11129: double of size 5",
        ),
        (
            "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
            "invalid database: the MaxMind DB file's search tree extends beyond the metadata section",
        ),
        (
            "MaxMind-DB-test-broken-pointers-24.mmdb",
            "invalid database at offset 1001000: unexpected end of buffer",
        ),
        (
            "MaxMind-DB-test-broken-search-tree-24.mmdb",
            "invalid database: search tree appears to have a cycle or invalid structure \
             (traversal exceeded the address bit length)",
        ),
    ];
    for (name, what) in cases {
        let path = test_db(name);
        let err = GeoIp::open(&GeoIpConfig {
            country: Source::File(path.clone()),
            asn: Source::Disabled,
            verify_files: true,
        })
        .unwrap_err();
        assert!(matches!(err, GeoIpError::Corrupt { .. }), "{name}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "GeoIP country database {} is corrupt: {what}",
                path.display()
            ),
        );
    }
}

/// Without the open-time check maxminddb must still not panic: lookups over
/// every network start of the test sources, the file's own networks and
/// 20,000 spread addresses give answers or errors.
#[test]
fn corrupt_databases_do_not_panic_without_verification() {
    let common = probe_addresses();
    let mut outcome = Vec::new();
    for name in [
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "MaxMind-DB-test-broken-pointers-24.mmdb",
        "MaxMind-DB-test-broken-search-tree-24.mmdb",
    ] {
        let path = test_db(name);
        let (mut probes, iter_error) = own_networks(&path);
        probes.extend(&common);
        let opened = GeoIp::open(&GeoIpConfig {
            country: Source::File(path.clone()),
            asn: Source::File(path),
            verify_files: false,
        });
        let geo = match opened {
            Ok(geo) => geo,
            Err(e) => {
                let e = e
                    .to_string()
                    .replace(&shared().display().to_string(), "../shared");
                outcome.push(format!("{name}: open fails: {e}"));
                continue;
            }
        };
        let mut found = 0;
        for ip in &probes {
            let a = geo.lookup_databases(*ip);
            found += usize::from(a.country.is_some() || a.asn.is_some());
            if a.db_error {
                // try_lookup gives the same failure as an error naming the file.
                let e = geo.try_lookup(*ip).unwrap_err();
                assert!(e.to_string().contains(name), "{e}");
            }
        }
        outcome.push(format!(
            "{name}: opens; {} probes, {found} answered, {} failed lookups; iterator: {}",
            probes.len(),
            geo.lookup_errors(),
            iter_error.as_deref().unwrap_or("no error")
        ));
    }
    eprintln!(
        "corrupt databases without verification:\n{}",
        outcome.join("\n")
    );
    // Deterministic probes, so the counts are exact. The broken search tree
    // has a cycle: lookups stop after 128 bits and find nothing, and only a
    // walk of the whole tree (the open-time check) notices.
    assert_eq!(
        outcome,
        [
            "GeoIP2-City-Test-Broken-Double-Format.mmdb: opens; 21959 probes, 177 answered, \
             1792 failed lookups; iterator: no error",
            "GeoIP2-City-Test-Invalid-Node-Count.mmdb: open fails: GeoIP country database \
             ../shared/geoip-test/GeoIP2-City-Test-Invalid-Node-Count.mmdb is corrupt: invalid \
             database: the MaxMind DB file's search tree extends beyond the metadata section",
            "MaxMind-DB-test-broken-pointers-24.mmdb: opens; 21717 probes, 0 answered, \
             36 failed lookups; iterator: invalid database: the MaxMind DB file's data pointer \
             resolves to an invalid location",
            "MaxMind-DB-test-broken-search-tree-24.mmdb: opens; 21718 probes, 0 answered, \
             0 failed lookups; iterator: invalid database: search tree appears to have a cycle \
             or invalid structure (traversal exceeded the address bit length)",
        ]
    );
}

#[test]
fn not_a_database_missing_file_and_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.mmdb");
    std::fs::write(&junk, b"this is no database, just text\n").unwrap();
    let empty = dir.path().join("empty.mmdb");
    std::fs::write(&empty, b"").unwrap();
    for path in [&junk, &empty] {
        let err = GeoIp::open(&GeoIpConfig {
            country: Source::Disabled,
            asn: Source::File(path.clone()),
            verify_files: true,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "GeoIP ASN database {} is not a MaxMind DB file (no metadata marker)",
                path.display()
            )
        );
    }
    let missing = dir.path().join("missing.mmdb");
    let err = GeoIp::open(&GeoIpConfig {
        country: Source::File(missing.clone()),
        asn: Source::Embedded,
        verify_files: true,
    })
    .unwrap_err();
    assert!(matches!(err, GeoIpError::Read { .. }));
    assert!(err.to_string().starts_with(&format!(
        "GeoIP country database {}: cannot read it: ",
        missing.display()
    )));
    // A truncated real database: the metadata is gone.
    let cut = dir.path().join("cut.mmdb");
    std::fs::write(&cut, &EMBEDDED_ASN[..EMBEDDED_ASN.len() / 2]).unwrap();
    let err = GeoIp::open(&GeoIpConfig {
        country: Source::Disabled,
        asn: Source::File(cut),
        verify_files: true,
    })
    .unwrap_err();
    assert!(matches!(err, GeoIpError::NotMaxMindDb { .. }), "{err:?}");
}

#[test]
fn changed_files_are_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("GeoLite2-Country.mmdb");
    // geoipupdate replaces files by renaming a finished temporary file.
    let replace = |from: &Path| {
        let tmp = dir.path().join("tmp.mmdb");
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, &live).unwrap();
    };
    replace(&test_db("GeoLite2-Country-Test.mmdb"));
    let mut geo = only(Role::Country, &live);
    let ip: IpAddr = "2.125.160.216".parse().unwrap();
    assert_eq!(geo.lookup(ip).country.as_deref(), Some("GB"));
    assert!(!geo.reload_if_changed().unwrap());

    // A database of the wrong kind is refused once; the old data stays.
    replace(&test_db("GeoLite2-ASN-Test.mmdb"));
    let err = geo.reload_if_changed().unwrap_err();
    assert!(matches!(err, GeoIpError::WrongKind { .. }), "{err}");
    assert!(!geo.reload_if_changed().unwrap());
    assert_eq!(geo.databases()[0].database_type, "GeoLite2-Country");
    assert_eq!(geo.lookup(ip).country.as_deref(), Some("GB"));

    // A corrupt file is reported once and the old data stays in use.
    replace(&test_db("MaxMind-DB-test-broken-search-tree-24.mmdb"));
    let err = geo.reload_if_changed().unwrap_err();
    assert!(err.to_string().contains("is corrupt"), "{err}");
    assert!(!geo.reload_if_changed().unwrap());
    assert_eq!(geo.databases()[0].database_type, "GeoLite2-Country");

    // So is a vanished file.
    std::fs::remove_file(&live).unwrap();
    assert!(matches!(
        geo.reload_if_changed(),
        Err(GeoIpError::Read { .. })
    ));
    assert!(!geo.reload_if_changed().unwrap());

    // A good file again.
    replace(&test_db("GeoIP2-Country-Test.mmdb"));
    assert!(geo.reload_if_changed().unwrap());
    assert_eq!(geo.lookup(ip).country.as_deref(), Some("GB"));
    assert_eq!(geo.databases()[0].database_type, "GeoIP2-Country");

    // The built-in data never reloads.
    let mut embedded = GeoIp::embedded().unwrap();
    assert!(!embedded.reload_if_changed().unwrap());
}

#[test]
fn geoipupdate_directory_and_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GeoIpOptions {
        dir: Some(dir.path().to_path_buf()),
        ..GeoIpOptions::default()
    };
    let err = opts.to_config().unwrap_err();
    assert!(err.to_string().starts_with(&format!(
        "GeoIP directory {}: found none of GeoIP2-Country.mmdb, GeoLite2-Country.mmdb",
        dir.path().display()
    )));

    let city = dir.path().join("GeoLite2-City.mmdb");
    std::fs::copy(test_db("GeoLite2-City-Test.mmdb"), &city).unwrap();
    // Only a country (City) file: the ASN stays built in.
    let config = opts.to_config().unwrap();
    assert_eq!(config.country, Source::File(city.clone()));
    assert_eq!(config.asn, Source::Embedded);

    let country = dir.path().join("GeoLite2-Country.mmdb");
    let asn = dir.path().join("GeoLite2-ASN.mmdb");
    std::fs::copy(test_db("GeoLite2-Country-Test.mmdb"), &country).unwrap();
    std::fs::copy(test_db("GeoLite2-ASN-Test.mmdb"), &asn).unwrap();
    let config = opts.to_config().unwrap();
    assert_eq!(config.country, Source::File(country.clone()));
    assert_eq!(config.asn, Source::File(asn.clone()));
    let geo = GeoIp::open(&config).unwrap();
    let a = geo.lookup("1.128.0.1".parse().unwrap());
    assert_eq!(
        (a.asn, a.as_org.as_deref()),
        (Some(1221), Some("Telstra Pty Ltd"))
    );

    // An explicit file beats the directory.
    let explicit = GeoIpOptions {
        country: Some(city.clone()),
        ..opts.clone()
    };
    let config = explicit.to_config().unwrap();
    assert_eq!(config.country, Source::File(city));
    assert_eq!(config.asn, Source::File(asn));

    // No options: built-in data.
    assert_eq!(
        GeoIpOptions::default().to_config().unwrap(),
        GeoIpConfig::default()
    );
}

#[test]
fn internal_ranges_never_get_a_country() {
    let geo = GeoIp::embedded().unwrap();
    for (ip, kind) in [
        ("10.1.2.3", InternalKind::Private),
        ("172.20.0.1", InternalKind::Private),
        ("192.168.0.10", InternalKind::Private),
        ("127.0.0.1", InternalKind::Loopback),
        ("::1", InternalKind::Loopback),
        ("100.100.100.100", InternalKind::SharedCgnat),
        ("169.254.1.1", InternalKind::LinkLocal),
        ("fe80::1", InternalKind::LinkLocal),
        ("192.0.2.55", InternalKind::Documentation),
        ("198.51.100.1", InternalKind::Documentation),
        ("203.0.113.9", InternalKind::Documentation),
        ("2001:db8::1", InternalKind::Documentation),
        ("fd12:3456::1", InternalKind::UniqueLocal),
        ("198.18.0.1", InternalKind::Benchmarking),
        ("224.0.0.251", InternalKind::Multicast),
        ("ff02::1", InternalKind::Multicast),
        ("255.255.255.255", InternalKind::Broadcast),
        ("0.0.0.0", InternalKind::Unspecified),
        ("::ffff:10.0.0.1", InternalKind::Private),
    ] {
        let a = geo.lookup(ip.parse().unwrap());
        assert_eq!(
            a,
            GeoAnswer {
                internal: Some(kind),
                ..GeoAnswer::default()
            },
            "{ip}"
        );
    }
}

#[test]
fn built_in_data_known_answers() {
    let geo = GeoIp::embedded().unwrap();
    let infos = geo.databases();
    assert_eq!(infos[0].database_type, "country ipvAll");
    assert_eq!(infos[1].database_type, "ip-location-db-asn");
    // Both built from the 2026-06-17 19:51:40 UTC data.
    assert_eq!(
        (infos[0].build_epoch, infos[1].build_epoch),
        (1_781_725_900, 1_781_725_900)
    );
    let a = geo.lookup("8.8.8.8".parse().unwrap());
    assert_eq!(
        a,
        GeoAnswer {
            country: Some("US".into()),
            asn: Some(15169),
            as_org: Some("Google LLC".into()),
            ..GeoAnswer::default()
        }
    );
    let a = geo.lookup("2001:4860:4860::8888".parse().unwrap());
    assert_eq!((a.country.as_deref(), a.asn), (Some("US"), Some(15169)));
    let a = geo.lookup("9.9.9.9".parse().unwrap());
    assert_eq!((a.asn, a.as_org.as_deref()), (Some(19281), Some("Quad9")));
    let a = geo.lookup("1.1.1.1".parse().unwrap());
    assert_eq!(a.asn, Some(13335));
    // NAT64 well-known prefix carries an IPv4 destination.
    assert_eq!(
        geo.lookup("64:ff9b::8.8.8.8".parse().unwrap()).asn,
        Some(15169)
    );
    // A CSV organisation with embedded quotes survives the conversion.
    let a = geo.lookup("2.26.200.1".parse().unwrap());
    assert_eq!(
        (a.asn, a.as_org.as_deref()),
        (Some(201907), Some("LLC \"SPUTNIK\""))
    );
}

/// The open-time check (whole tree, every distinct record) passes on the
/// shipped data, which is compiled in without it; maxminddb's own
/// `verify()` refuses the country file for its empty description.
#[test]
fn built_in_data_passes_the_open_check() {
    for (bytes, name) in [
        (EMBEDDED_COUNTRY, EMBEDDED_COUNTRY_NAME),
        (EMBEDDED_ASN, EMBEDDED_ASN_NAME),
    ] {
        open_bytes(Role::Country, name, Cow::Borrowed(bytes), true).unwrap();
    }
    let strict = Reader::from_source(EMBEDDED_COUNTRY).unwrap().verify();
    assert_eq!(
        strict.unwrap_err().to_string(),
        "invalid database: description - Expected: non-empty map Actual: {}"
    );
    Reader::from_source(EMBEDDED_ASN).unwrap().verify().unwrap();
}

// ---- agreement with mmdblookup ------------------------------------------

fn mmdblookup_path() -> &'static str {
    let ok = Command::new("mmdblookup").arg("--version").output().is_ok();
    assert!(
        ok,
        "mmdblookup not found: it is the independent oracle for this test; \
         install it with `apt-get install mmdb-bin`"
    );
    "mmdblookup"
}

/// Top-level scalar fields of mmdblookup's answer: `"key": \n  value <type>`.
fn mmdblookup(file: &Path, ip: IpAddr) -> Vec<(String, String)> {
    let out = Command::new(mmdblookup_path())
        .arg("--file")
        .arg(file)
        .arg("--ip")
        .arg(ip.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        assert!(
            stderr.contains("Could not find an entry"),
            "mmdblookup {ip}: {stderr}"
        );
        return Vec::new();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut fields = Vec::new();
    for pair in lines.windows(2) {
        let key = pair[0].trim();
        // Top-level keys are indented by four spaces in mmdblookup's output.
        if pair[0].starts_with("    \"") && !pair[0].starts_with("     ") && key.ends_with("\":") {
            let key = key.trim_end_matches(':').trim_matches('"').to_owned();
            let value = pair[1].trim();
            let value = value.rsplit_once(" <").map_or(value, |(v, _)| v);
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            fields.push((key, value.to_owned()));
        }
    }
    fields
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// ~200 deterministic addresses: known resolvers, a spread over IPv4 and the
/// IPv6 global unicast space, and addresses inside networks of the data.
fn agreement_sample() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = ["8.8.8.8", "1.1.1.1", "9.9.9.9", "2001:4860:4860::8888"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    ips.extend(spread(140, 42));
    for bytes in [EMBEDDED_COUNTRY, EMBEDDED_ASN] {
        let reader = Reader::from_source(bytes).unwrap();
        let nets: Vec<_> = reader
            .networks(Default::default())
            .unwrap()
            .map(|r| r.unwrap().network().unwrap())
            .collect();
        let step = nets.len() / 28;
        for net in nets.iter().step_by(step).take(28) {
            // An address a little inside the network.
            let ip = match net.network() {
                IpAddr::V4(a) => {
                    IpAddr::V4(Ipv4Addr::from(u32::from(a) | u32::from(net.prefix() < 31)))
                }
                IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) | 1)),
            };
            ips.push(ip);
        }
    }
    ips
}

#[test]
fn shipped_databases_agree_with_mmdblookup() {
    let country_file = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/geoip/geo-whois-asn-country.mmdb"
    ));
    let asn_file = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/geoip/asn.mmdb"));
    // The files in geoip/ are the ones compiled in.
    assert!(std::fs::read(&country_file).unwrap() == EMBEDDED_COUNTRY);
    assert!(std::fs::read(&asn_file).unwrap() == EMBEDDED_ASN);

    let geo = GeoIp::embedded().unwrap();
    let sample = agreement_sample();
    let (mut with_country, mut with_asn, mut v6) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for ip in &sample {
        let ours = geo.lookup_databases(*ip);
        assert!(!ours.db_error);
        let c = mmdblookup(&country_file, *ip);
        let a = mmdblookup(&asn_file, *ip);
        let theirs = (
            field(&c, "country_code").map(str::to_owned),
            field(&a, "autonomous_system_number").map(|n| n.parse::<u32>().unwrap()),
            field(&a, "autonomous_system_organization").map(str::to_owned),
        );
        if (ours.country.clone(), ours.asn, ours.as_org.clone()) != theirs {
            mismatches.push(format!("{ip}: ours {ours:?}, mmdblookup {theirs:?}"));
        }
        with_country += usize::from(theirs.0.is_some());
        with_asn += usize::from(theirs.1.is_some());
        v6 += usize::from(ip.is_ipv6());
    }
    eprintln!(
        "mmdblookup agreement: {} addresses ({v6} IPv6), {with_country} with a country, \
         {with_asn} with an ASN, {} mismatches",
        sample.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert!(sample.len() >= 200, "{}", sample.len());
    assert!(
        with_country >= 100 && with_asn >= 100,
        "{with_country} {with_asn}"
    );
}
