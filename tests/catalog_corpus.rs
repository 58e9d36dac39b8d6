//! The shipped catalog against the shared research data and real captures.
//! Needs ../shared (or $PHONEHOME_SHARED); fails, never skips, without it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use phonehome::resolve::catalog::{Catalog, EndpointKind, Severity};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn shared() -> PathBuf {
    let p = std::env::var_os("PHONEHOME_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")));
    assert!(
        p.join("oracle").is_dir() && p.join("research/vendors/endpoints.tsv").is_file(),
        "shared data missing at {} (set PHONEHOME_SHARED)",
        p.display()
    );
    p
}

fn catalog() -> Catalog {
    Catalog::embedded().expect("shipped catalog loads")
}

/// endpoints.tsv vendor column → catalog slug.
const TSV_VENDORS: &[(&str, &str)] = &[
    ("Armis", "armis"),
    ("Bitdefender", "bitdefender"),
    ("BlackBerry (Cylance; sold to Arctic Wolf 2025)", "cylance"),
    ("Broadcom (Symantec)", "symantec"),
    ("Broadcom (VMware Carbon Black)", "carbon-black"),
    ("Cato Networks", "cato-networks"),
    ("Check Point", "check-point"),
    ("Cisco", "cisco"),
    ("Claroty", "claroty"),
    ("CrowdStrike", "crowdstrike"),
    (
        "CyberArk (Palo Alto Networks acquisition announced 2025)",
        "cyberark",
    ),
    ("Cybereason", "cybereason"),
    ("Cynet", "cynet"),
    ("Deep Instinct", "deep-instinct"),
    ("ESET", "eset"),
    ("Elastic", "elastic"),
    ("Fortinet", "fortinet"),
    ("Gen Digital (Avast/AVG/Norton)", "gen-digital"),
    ("Hillstone Networks (山石网科)", "hillstone"),
    ("Huawei", "huawei"),
    ("Hunters", "hunters"),
    ("Imperva (Thales)", "imperva"),
    ("Kaspersky", "kaspersky"),
    ("Kingsoft (Duba/金山毒霸)", "kingsoft"),
    ("Malwarebytes", "malwarebytes"),
    ("Microsoft", "microsoft"),
    ("Morphisec", "morphisec"),
    ("NSFOCUS (绿盟科技)", "nsfocus"),
    ("Netskope", "netskope"),
    ("OpenText (Webroot)", "webroot"),
    ("Orca Security", "orca-security"),
    ("Palo Alto Networks", "palo-alto-networks"),
    ("Perception Point (Fortra)", "perception-point"),
    ("Proofpoint", "proofpoint"),
    ("QiAnXin (奇安信)", "qianxin"),
    ("Qihoo 360", "qihoo-360"),
    ("Qualys", "qualys"),
    ("Radware", "radware"),
    ("Rapid7", "rapid7"),
    ("Rising (瑞星)", "rising"),
    ("Sangfor (深信服)", "sangfor"),
    ("SentinelOne", "sentinelone"),
    ("Sophos", "sophos"),
    ("Tanium", "tanium"),
    ("Tenable", "tenable"),
    ("Tencent", "tencent"),
    ("Trellix (McAfee Enterprise)", "trellix"),
    ("Trend Micro", "trend-micro"),
    ("WithSecure (F-Secure)", "withsecure"),
    (
        "Wiz (Israeli-founded; Google acquisition announced 2025)",
        "wiz",
    ),
    ("XM Cyber (Schwarz Group)", "xm-cyber"),
    ("Zscaler", "zscaler"),
];

const CHINESE: &[&str] = &[
    "qihoo-360",
    "tencent",
    "huawei",
    "sangfor",
    "qianxin",
    "nsfocus",
    "hillstone",
    "venustech",
    "topsec",
    "antiy",
    "rising",
    "kingsoft",
];

#[test]
fn shipped_catalog_checks_without_errors() {
    let c = catalog();
    let issues = c.check();
    for i in &issues {
        eprintln!("{i}");
    }
    let errors: Vec<_> = issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .collect();
    assert!(
        errors.is_empty(),
        "{} errors, first: {}",
        errors.len(),
        errors[0]
    );
    // The only warnings: vendors known to exist but with no endpoint found yet.
    let warned: BTreeSet<&str> = issues.iter().map(|i| i.file.as_str()).collect();
    assert_eq!(warned, BTreeSet::from(["catalog/venustech.toml",]));
    assert_eq!(c.vendors().len(), 55);
}

#[test]
fn every_tsv_vendor_and_the_chinese_vendors_are_catalogued() {
    let c = catalog();
    let tsv = std::fs::read_to_string(shared().join("research/vendors/endpoints.tsv")).unwrap();
    let names: BTreeSet<&str> = tsv
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|v| !v.is_empty())
        .collect();
    let map: BTreeMap<&str, &str> = TSV_VENDORS.iter().copied().collect();
    assert_eq!(names.len(), 52, "vendor names in endpoints.tsv");
    for n in &names {
        let slug = map
            .get(n)
            .unwrap_or_else(|| panic!("no mapping for TSV vendor {n:?}"));
        assert!(c.vendor(slug).is_some(), "{n:?} → {slug} not in catalog");
    }
    for slug in CHINESE {
        let v = c.vendor(slug).unwrap_or_else(|| panic!("{slug} missing"));
        assert_eq!(v.jurisdiction, ["CN"], "{slug}");
    }
    // Jurisdictions as NOTES.md section 5 decides them.
    let j = |s: &str| c.vendor(s).unwrap().jurisdiction.join(",");
    assert_eq!(j("sophos"), "GB");
    assert_eq!(j("kaspersky"), "RU");
    assert_eq!(j("check-point"), "IL");
    assert_eq!(j("wiz"), "US,IL");
    assert_eq!(j("trend-micro"), "JP");
    assert_eq!(j("eset"), "SK");
}

/// Every name tshark saw in the shared captures: TLS SNI, DNS query names, HTTP Host.
fn corpus_names(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            if name.ends_with(".sni.txt") || name.ends_with(".http.txt") {
                out.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_string));
            } else if name.ends_with(".dns.tsv") {
                let mut lines = text.lines();
                let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
                let col = header
                    .iter()
                    .position(|h| *h == "qname")
                    .expect("qname column");
                for l in lines {
                    if let Some(q) = l.split('\t').nth(col) {
                        out.extend(q.split(';').filter(|s| !s.is_empty()).map(str::to_string));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn corpus_names_match_exactly_the_security_telemetry() {
    let c = catalog();
    let names = corpus_names(&shared().join("oracle"));
    assert!(names.len() > 500, "only {} names", names.len());

    // (name as normalised, vendor slug, why it is security telemetry)
    let expected: BTreeMap<String, (&str, &str)> = [
        ("wdcp.microsoft.com", "microsoft", "Defender Antivirus cloud-delivered protection (MAPS), ndpi/tls_certificate_too_long.pcap"),
        ("wd-prod-cp-eu-north-2-fe.northeurope.cloudapp.azure.com", "microsoft", "Defender cloud protection front end behind wdcp.microsoft.com, same capture"),
        ("4.sophosxl.net", "sophos", "Sophos Live Protection lookup (SXL), foxio-ja4/ssh2.pcapng"),
        ("mcs2-cloudstation-eu-west-1.prod.hydra.sophos.com", "sophos", "Sophos Central agent check-in (MCS), same capture"),
        ("api.opendns.com", "cisco", "Umbrella roaming client sync/API, same capture"),
        ("updates.opendns.com", "cisco", "Umbrella/OpenDNS updater, same capture"),
        ("myip.opendns.com", "cisco", "answered only by OpenDNS resolvers: the host uses Umbrella DNS, same capture"),
        ("2.securedns.avast.com", "gen-digital", "Avast Secure DNS (DNS filtering by Avast), ndpi/avast_securedns.pcapng"),
    ]
    .into_iter()
    .map(|(n, v, why)| (n.to_string(), (v, why)))
    .collect();

    let mut got: BTreeMap<String, String> = BTreeMap::new();
    for n in &names {
        if let Some(m) = c.match_name(n) {
            got.insert(
                n.to_ascii_lowercase().trim_end_matches('.').to_string(),
                m.vendor_slug.to_string(),
            );
        }
    }
    // The benchmark hook: a 10x catalog answers the real traffic identically.
    let big = c.synthetic_scaled(10);
    assert_eq!(big.endpoint_count(), 10 * c.endpoint_count());
    for n in &names {
        assert_eq!(
            big.match_name(n).map(|m| m.pattern),
            c.match_name(n).map(|m| m.pattern),
            "{n}"
        );
    }

    let want: BTreeMap<String, String> = expected
        .iter()
        .map(|(n, (v, _))| (n.clone(), (*v).to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn corpus_addresses() {
    let c = catalog();
    // ndpi/malware.pcap: www.internetbadguys.com resolves to an Umbrella block/roaming address.
    let m = c.match_ip("67.215.92.210".parse().unwrap()).unwrap();
    assert_eq!((m.vendor_slug, m.kind), ("cisco", EndpointKind::Cidr));
    assert_eq!(m.product, "Umbrella");
    // foxio-ja4/ssh2.pcapng: api/updates.opendns.com resolve to 146.112.255.155, inside
    // an OpenDNS-announced prefix (AS36692).
    let m = c.match_ip("146.112.255.155".parse().unwrap()).unwrap();
    assert_eq!((m.vendor_slug, m.pattern), ("cisco", "146.112.224.0/19"));
    // Sophos on AWS (52.86.25.233), Defender on Azure (40.113.10.47) and Google must
    // not match by address: shared clouds are names only.
    assert!(c.match_ip("52.86.25.233".parse().unwrap()).is_none());
    assert!(c.match_ip("40.113.10.47".parse().unwrap()).is_none());
    assert!(c.match_ip("142.251.41.46".parse().unwrap()).is_none());
}
