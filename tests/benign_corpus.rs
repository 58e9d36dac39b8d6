//! Benign corpus (tests/data/benign, sources in its README): host names and
//! addresses that are not security-product traffic. None may raise a finding,
//! by name (TLS SNI, HTTP Host, DNS question, a certificate without SNI) or by
//! address (published ranges, and the owned-network tier through the shipped
//! ASN database).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use phonehome::dissect::dns::{parse_message, DnsFlavor, Transport};
use phonehome::dissect::DnsEvent;
use phonehome::dissect::{AppBody, AppRecord};
use phonehome::flow::{EndReason, FlowMeta, FlowNames, FlowRecord, FlowState, Vlan};
use phonehome::resolve::catalog::platforms::SHARED_NETWORK_ASNS;
use phonehome::resolve::catalog::Catalog;
use phonehome::resolve::dns_cache::DnsCacheConfig;
use phonehome::resolve::geoip::GeoIp;
use phonehome::resolve::Resolver;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/benign")
}

/// Rows of a TSV file with a header, as (column → value) by header name.
fn rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let header: Vec<String> = lines
        .next()
        .unwrap_or_else(|| panic!("{}: empty", path.display()))
        .split('\t')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

/// Every host of every `*.tsv` with a `host` column, with its file; each
/// row must name its source.
fn hosts() -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        for row in rows(&f) {
            let Some(host) = row.get("host") else { break };
            let source = row.get("source").map(String::as_str).unwrap_or("");
            assert!(!source.trim().is_empty(), "{name}: {host} has no source");
            out.push((host.trim().to_ascii_lowercase(), name.clone()));
        }
    }
    out
}

fn meta(dst: IpAddr) -> FlowMeta {
    FlowMeta {
        flow_id: 1,
        src: "10.1.2.3".parse().unwrap(),
        dst,
        sport: 50000,
        dport: 443,
        proto: 6,
        vlan: Vlan::default(),
        community_id: [0; 20],
        tunnel: None,
        icmp: None,
    }
}

fn flow(dst: IpAddr, names: Option<FlowNames>) -> FlowRecord {
    FlowRecord {
        meta: meta(dst),
        start_ns: 1_000_000_000,
        end_ns: 2_000_000_000,
        pkts_toserver: 3,
        pkts_toclient: 3,
        bytes_toserver: 900,
        bytes_toclient: 4000,
        state: FlowState::Established,
        reason: EndReason::Shutdown,
        tcp: None,
        app_proto: None,
        names: names.map(Box::new),
        anomalies: Default::default(),
        file: 0,
        empty: false,
    }
}

fn dns_query(name: &str) -> Option<Vec<u8>> {
    let mut q = vec![0x4a, 0x17, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        q.push(u8::try_from(l.len()).ok().filter(|n| (1..64).contains(n))?);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    Some(q)
}

/// The shipped catalog, or `PHONEHOME_EVAL_CATALOG=DIR` (for catalog work).
fn catalog() -> Catalog {
    match std::env::var_os("PHONEHOME_EVAL_CATALOG") {
        Some(dir) => Catalog::load_dir(Path::new(&dir)).unwrap(),
        None => Catalog::embedded().unwrap(),
    }
}

fn resolver() -> Resolver {
    Resolver::new(
        catalog(),
        GeoIp::embedded().unwrap(),
        DnsCacheConfig::default(),
    )
}

#[test]
fn benign_names_raise_no_finding() {
    let mut r = resolver();
    let hosts = hosts();
    let files: std::collections::BTreeSet<&str> = hosts.iter().map(|h| h.1.as_str()).collect();
    for required in ["oracle-hosts.tsv", "popular.tsv", "platforms.tsv"] {
        assert!(files.contains(required), "{required} missing");
    }
    let dst: IpAddr = "192.0.2.10".parse().unwrap();
    let mut flagged = Vec::new();
    for (host, file) in &hosts {
        let ways = [
            FlowNames {
                sni: Some(host.clone()),
                ..FlowNames::default()
            },
            FlowNames {
                http_host: Some(host.clone()),
                ..FlowNames::default()
            },
            // TLS 1.2 without SNI: only the server certificate names it.
            FlowNames {
                cert_names: vec![host.clone(), format!("*.{host}")],
                ..FlowNames::default()
            },
        ];
        for names in ways {
            if let Some(a) = r.attribute_flow(&flow(dst, Some(names)), None).first() {
                flagged.push(format!(
                    "{host} ({file}) as {}: {} / {} by {} {}",
                    a.kind.as_str(),
                    a.endpoint.vendor,
                    a.endpoint.product,
                    a.tier(),
                    a.endpoint.pattern
                ));
            }
        }
        if let Some(q) = dns_query(host) {
            let d = DnsEvent {
                flavor: DnsFlavor::Dns,
                transport: Transport::Udp,
                msg: parse_message(&q).unwrap(),
            };
            let rec = AppRecord {
                meta: meta("10.1.0.53".parse().unwrap()),
                ts_ns: 1_000_000_000,
                pcap_cnt: None,
                file: 0,
                to_server: true,
                body: AppBody::Dns(Box::new(d.clone())),
            };
            for a in r.on_dns(&rec, &d) {
                flagged.push(format!(
                    "{host} ({file}) as dns_query: {} / {} by {} {}",
                    a.endpoint.vendor,
                    a.endpoint.product,
                    a.tier(),
                    a.endpoint.pattern
                ));
            }
        }
    }
    println!(
        "benign corpus: {} host names from {} files ({}), each as TLS SNI, HTTP Host, certificate and DNS question: {} findings",
        hosts.len(),
        files.len(),
        files.iter().copied().collect::<Vec<_>>().join(", "),
        flagged.len()
    );
    assert!(
        flagged.is_empty(),
        "benign names attributed:\n{}",
        flagged.join("\n")
    );
}

#[test]
fn benign_addresses_raise_no_finding() {
    let r = resolver();
    let geo = GeoIp::embedded().unwrap();
    // Representative addresses of the hyperscaler, CDN, hosting and
    // general-platform networks (Microsoft, Google, Amazon, Tencent, Alibaba,
    // Huawei Cloud, Baidu, Webex, Cloudflare, Akamai...), one per AS, from the
    // shipped ASN database itself.
    let table = geo.asn_table().unwrap();
    let mut addrs: Vec<(IpAddr, String)> = SHARED_NETWORK_ASNS
        .iter()
        .filter_map(|(n, org)| Some((table.get(n)?.address, format!("AS{n} {org}"))))
        .collect();
    let platforms = addrs.len();
    assert!(
        platforms * 10 >= SHARED_NETWORK_ASNS.len() * 9,
        "only {platforms} of {} shared networks found in the ASN database",
        SHARED_NETWORK_ASNS.len()
    );
    // Addresses the oracle's captures resolved benign names to.
    for row in rows(&dir().join("oracle-addresses.tsv")) {
        let ip: IpAddr = row["address"].parse().unwrap();
        addrs.push((ip, format!("{} ({})", row["name"], row["source"])));
    }
    let mut flagged = Vec::new();
    for (ip, what) in &addrs {
        let asn = geo.lookup(*ip).asn;
        // Nameless flows (TLS without SNI, bare addresses): ranges and ASN tier.
        let all = r.attribute_flow(&flow(*ip, None), asn);
        if let Some(a) = all.first() {
            flagged.push(format!(
                "{ip} {what} (AS{}): {} / {} by {} {}",
                asn.unwrap_or(0),
                a.endpoint.vendor,
                a.endpoint.product,
                a.tier(),
                a.endpoint.pattern
            ));
        }
    }
    println!(
        "benign addresses: {} ({platforms} shared-network ASes, {} from the oracle): {} findings",
        addrs.len(),
        addrs.len() - platforms,
        flagged.len()
    );
    assert!(
        flagged.is_empty(),
        "benign addresses attributed:\n{}",
        flagged.join("\n")
    );
}
