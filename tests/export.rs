//! `phonehome catalog export`, checked by the tools that read each format:
//!
//! * golden files of every format for the small fixed catalog in
//!   `tests/data/export-catalog` (`PHONEHOME_BLESS=1` rewrites them after an
//!   intended change: review the diff);
//! * the Suricata rules parse with suricataparser, sids unique, and the web
//!   presence pcre behaves as phonehome does (`tests/export/check_suricata.py`);
//! * the Sigma rules pass `sigma check` and convert to Splunk and Lucene;
//! * the RPZ zone loads in `named-checkzone` (BIND);
//! * the Zeek intel file has the Intel framework's header and types;
//! * every exported name or network, read back, matches the same vendor
//!   through `phonehome catalog match`.
//!
//! The tool checks run on the test catalog and on the shipped one. The Python
//! tools live in a venv that `scripts/test` makes at `target/pytools`
//! (`PHONEHOME_PYTOOLS` overrides); bind9-utils is a Debian package it
//! installs. A missing tool fails the test with what to run.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::phonehome;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

const FORMATS: [(&str, &str); 6] = [
    ("suricata", "rules"),
    ("zeek-intel", "intel"),
    ("sigma", "yml"),
    ("rpz", "zone"),
    ("hosts", "hosts"),
    ("json", "json"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn test_catalog() -> String {
    root()
        .join("tests/data/export-catalog")
        .to_string_lossy()
        .into_owned()
}

/// `phonehome catalog export --format F --serial 1 -q [--catalog DIR] extra...`.
fn export(catalog: Option<&str>, format: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "catalog", "export", "--format", format, "--serial", "1", "-q",
    ];
    if let Some(c) = catalog {
        args.extend(["--catalog", c]);
    }
    args.extend(extra);
    let run = phonehome(&args);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    assert!(run.stderr.is_empty(), "-q: {}", run.stderr);
    String::from_utf8(run.stdout).expect("UTF-8 export")
}

/// Both catalogs' exports in `format`, written to files in `dir`.
fn both(dir: &Path, format: &str, ext: &str) -> Vec<PathBuf> {
    let cat = test_catalog();
    [("test", Some(cat.as_str())), ("shipped", None)]
        .into_iter()
        .map(|(name, catalog)| {
            // sigma check wants rule file names of 10 to 70 characters.
            let p = dir.join(format!("phonehome_export_{name}.{ext}"));
            std::fs::write(&p, export(catalog, format, &[])).unwrap();
            p
        })
        .collect()
}

fn pytools() -> PathBuf {
    let dir = std::env::var_os("PHONEHOME_PYTOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/pytools"));
    assert!(
        dir.join("bin/sigma").is_file(),
        "the export tests need suricataparser and sigma-cli in a venv at {}: run scripts/test \
         (it installs tests/export/requirements.txt there), or set PHONEHOME_PYTOOLS",
        dir.display()
    );
    dir.join("bin")
}

fn run_tool(program: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn golden_files_of_the_test_catalog() {
    let golden = root().join("tests/data/export-golden");
    let bless = std::env::var_os("PHONEHOME_BLESS").is_some();
    let cat = test_catalog();
    let mut differ = Vec::new();
    for (format, ext) in FORMATS {
        let got = export(Some(&cat), format, &[]);
        let path = golden.join(format!("catalog.{ext}"));
        if bless {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (PHONEHOME_BLESS=1 writes it)", path.display()));
        if got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
            differ.push(format!(
                "{format}: differs from {} at line {}:\n  got:  {}\n  want: {}",
                path.display(),
                line + 1,
                got.lines().nth(line).unwrap_or("<end>"),
                want.lines().nth(line).unwrap_or("<end>")
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn the_same_catalog_gives_the_same_bytes() {
    let cat = test_catalog();
    for (format, _) in FORMATS {
        assert_eq!(
            export(Some(&cat), format, &[]),
            export(Some(&cat), format, &[]),
            "{format}"
        );
    }
}

#[test]
fn suricata_rules_parse_with_suricataparser() {
    let dir = tempfile::tempdir().unwrap();
    let files = both(dir.path(), "suricata", "rules");
    let script = root().join("tests/export/check_suricata.py");
    let mut args = vec![script.to_str().unwrap()];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let (ok, out) = run_tool(&pytools().join("python"), &args);
    assert!(ok, "{out}");
    // The script's own count must agree with ours: every rule was looked at.
    for p in &files {
        let rules = std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("alert "))
            .count();
        let want = format!("{}: {rules} rules, {rules} distinct sids,", p.display());
        assert!(out.contains(&want), "{want}\n{out}");
        assert!(rules > 0);
    }
}

#[test]
fn sigma_rules_pass_sigma_check_and_convert() {
    let dir = tempfile::tempdir().unwrap();
    let bin = pytools();
    for file in both(dir.path(), "sigma", "yml") {
        let f = file.to_str().unwrap();
        let rules = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("title: "))
            .count();
        assert!(rules > 0, "{f}");
        let (ok, out) = run_tool(&bin.join("sigma"), &["check", f]);
        assert!(ok, "sigma check {f}:\n{out}");
        assert!(
            out.contains("Found 0 errors, 0 condition errors and 0 issues"),
            "sigma check {f}:\n{out}"
        );
        for target in ["splunk", "lucene"] {
            let (ok, out) = run_tool(
                &bin.join("sigma"),
                &["convert", "-t", target, "--without-pipeline", f],
            );
            assert!(ok, "sigma convert -t {target} {f}:\n{out}");
            let queries = out
                .lines()
                .filter(|l| l.contains("query") || l.contains("cs-host") || l.contains("dst_ip"))
                .count();
            assert_eq!(queries, rules, "one {target} query per rule in {f}:\n{out}");
        }
    }
}

#[test]
fn rpz_zone_loads_in_named_checkzone() {
    let dir = tempfile::tempdir().unwrap();
    let checker = ["/usr/bin/named-checkzone", "/usr/sbin/named-checkzone"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("named-checkzone not found: run scripts/test (it installs bind9-utils)")
        });
    for file in both(dir.path(), "rpz", "zone") {
        let f = file.to_str().unwrap();
        let (ok, out) = run_tool(&checker, &["-k", "fail", "phonehome.rpz", f]);
        assert!(ok, "named-checkzone {f}:\n{out}");
        assert!(
            out.contains("loaded serial 1") && out.trim_end().ends_with("OK"),
            "{out}"
        );
    }
}

/// The documented intel file: the `#fields` header, then lines of five
/// tab-separated fields with a known type whose indicator fits it.
#[test]
fn zeek_intel_file_has_the_documented_header_and_types() {
    for catalog in [Some(test_catalog()), None] {
        let intel = export(catalog.as_deref(), "zeek-intel", &[]);
        let mut lines = intel.lines();
        assert_eq!(
            lines.next(),
            Some("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url")
        );
        let mut types: BTreeMap<&str, usize> = BTreeMap::new();
        for l in lines {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "{l:?}");
            assert!(f.iter().all(|x| !x.is_empty() && *x != "-"), "{l:?}");
            let (indicator, kind) = (f[0], f[1]);
            match kind {
                "Intel::DOMAIN" => assert!(
                    indicator.contains('.')
                        && indicator.bytes().all(|b| b.is_ascii_lowercase()
                            || b.is_ascii_digit()
                            || b"-_.".contains(&b)),
                    "{l:?}"
                ),
                "Intel::ADDR" => {
                    indicator.parse::<IpAddr>().expect(l);
                }
                "Intel::SUBNET" => {
                    let net: ipnet::IpNet = indicator.parse().expect(l);
                    assert!(net.prefix_len() < net.max_prefix_len(), "{l:?}");
                    assert_eq!(net.trunc(), net, "canonical network: {l:?}");
                }
                _ => panic!("unknown type {kind}: {l:?}"),
            }
            assert!(f[2].starts_with("phonehome:"), "{l:?}");
            assert!(
                f[3].contains(" / ") && f[3].contains("phonehome id "),
                "{l:?}"
            );
            assert!(
                f[4].starts_with("https://") || f[4].starts_with("http://"),
                "{l:?}"
            );
            *types.entry(kind).or_default() += 1;
        }
        assert_eq!(types.len(), 3, "all three types present: {types:?}");
    }
}

#[test]
fn hosts_file_is_address_and_name_per_line() {
    for catalog in [Some(test_catalog()), None] {
        let hosts = export(catalog.as_deref(), "hosts", &[]);
        let mut names = 0;
        for l in hosts.lines().filter(|l| !l.starts_with('#')) {
            let (addr, name) = l.split_once(' ').expect(l);
            assert_eq!(addr, "0.0.0.0", "{l:?}");
            assert!(
                !name.contains(char::is_whitespace) && name.contains('.'),
                "{l:?}"
            );
            names += 1;
        }
        assert!(names > 0);
    }
}

/// The shipped catalog's JSON export: id → (vendor slug, tier), slug → name.
struct Ids {
    by_id: HashMap<String, (String, String)>,
    names: HashMap<String, String>,
}

fn ids() -> Ids {
    let doc: Value = serde_json::from_str(&export(None, "json", &[])).unwrap();
    assert_eq!(doc["format"], "phonehome-catalog");
    let mut by_id = HashMap::new();
    let mut names = HashMap::new();
    for v in doc["vendors"].as_array().unwrap() {
        let slug = v["slug"].as_str().unwrap().to_string();
        names.insert(slug.clone(), v["name"].as_str().unwrap().to_string());
        let mut add = |e: &Value, tier: &str| {
            let id = e["id"].as_str().unwrap().to_string();
            assert_eq!(id.len(), 16, "{e}");
            let old = by_id.insert(id.clone(), (slug.clone(), tier.to_string()));
            assert!(old.is_none(), "id {id} used twice");
        };
        for p in v["products"].as_array().unwrap() {
            for e in p["endpoints"].as_array().unwrap() {
                add(e, "endpoint");
            }
        }
        for d in v["owned_domains"].as_array().unwrap() {
            add(d, "owned_domain");
        }
        for a in v["asns"].as_array().unwrap() {
            add(a, "owned_network");
        }
    }
    Ids { by_id, names }
}

/// One exported item to read back: what to ask `catalog match`, the vendor
/// (slug) it must give, the entry's tier, and where it came from.
struct Probe {
    item: String,
    slug: String,
    tier: String,
    from: String,
}

/// A name under an exported suffix (the suffix's own name may be web presence).
fn under(domain: &str) -> String {
    format!("zz-readback.{}", domain.trim_start_matches('.'))
}

/// The network address of a CIDR, or the address itself.
fn network_address(s: &str) -> String {
    match s.parse::<ipnet::IpNet>() {
        Ok(n) => n.network().to_string(),
        Err(_) => s.to_string(),
    }
}

fn suricata_probes(ids: &Ids) -> Vec<Probe> {
    let rules = export(None, "suricata", &[]);
    let mut probes = Vec::new();
    for l in rules.lines().filter(|l| l.starts_with("alert ")) {
        let id = l
            .split("phonehome_id ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let (slug, tier) = ids
            .by_id
            .get(id)
            .unwrap_or_else(|| panic!("unknown id {id}: {l}"));
        let item = if l.starts_with("alert ip ") {
            network_address(l.split_whitespace().nth(5).unwrap())
        } else if let Some(c) = l.split("content:\"").nth(1) {
            let c = c.split('"').next().unwrap();
            if l.contains("dotprefix;") {
                under(c)
            } else if l.contains("ja4.hash;") || l.contains("tls.subjectaltname;") {
                continue; // not names `catalog match` takes
            } else {
                c.to_string()
            }
        } else {
            panic!("no content: {l}")
        };
        probes.push(Probe {
            item,
            slug: slug.clone(),
            tier: tier.clone(),
            from: format!("suricata: {}", &l[..l.len().min(120)]),
        });
    }
    probes
}

fn zeek_probes(ids: &Ids) -> Vec<Probe> {
    export(None, "zeek-intel", &[])
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let id = f[3].split("phonehome id ").nth(1).unwrap();
            let (slug, tier) = &ids.by_id[id];
            assert_eq!(f[2], format!("phonehome:{slug}"), "{l}");
            Probe {
                item: network_address(f[0]),
                slug: slug.clone(),
                tier: tier.clone(),
                from: format!("zeek: {l}"),
            }
        })
        .collect()
}

/// RPZ and hosts: each record under the comment that names its entry id.
fn commented_probes(ids: &Ids, format: &str) -> (Vec<Probe>, Vec<String>) {
    let text = export(None, format, &[]);
    let (mut probes, mut passthru) = (Vec::new(), Vec::new());
    let mut current: Option<(String, String)> = None;
    for l in text.lines() {
        if let Some(comment) = l.strip_prefix("; ").or_else(|| l.strip_prefix("# ")) {
            current = comment
                .split("; id ")
                .nth(1)
                .and_then(|rest| rest.split(';').next())
                .and_then(|id| ids.by_id.get(id).cloned());
            continue;
        }
        let owner = match format {
            "hosts" => l.strip_prefix("0.0.0.0 ").unwrap_or_else(|| panic!("{l}")),
            _ if l.starts_with(['$', '@']) => continue,
            _ => l.split('\t').next().unwrap(),
        };
        if l.ends_with("rpz-passthru.") {
            passthru.push(owner.to_string());
            continue;
        }
        let (slug, tier) = current
            .clone()
            .unwrap_or_else(|| panic!("no entry comment above {l}"));
        let item = if let Some(rest) = owner.strip_suffix(".rpz-ip") {
            rpz_ip_address(rest)
        } else if let Some(d) = owner.strip_prefix("*.") {
            under(d)
        } else {
            owner.to_string()
        };
        probes.push(Probe {
            item,
            slug,
            tier,
            from: format!("{format}: {l}"),
        });
    }
    (probes, passthru)
}

/// `24.0.2.0.192` → `192.0.2.0`; `48.zz.10.db8.2001` → `2001:db8:10::`.
fn rpz_ip_address(trigger: &str) -> String {
    let mut labels: Vec<&str> = trigger.split('.').skip(1).collect();
    labels.reverse();
    if labels.len() == 4 && labels.iter().all(|l| l.parse::<u8>().is_ok()) {
        return labels.join(".");
    }
    let text = match labels.iter().position(|l| *l == "zz") {
        Some(i) => format!("{}::{}", labels[..i].join(":"), labels[i + 1..].join(":")),
        None => labels.join(":"),
    };
    text.parse::<IpAddr>()
        .unwrap_or_else(|e| panic!("{trigger}: {text}: {e}"))
        .to_string()
}

fn sigma_probes(ids: &Ids) -> Vec<Probe> {
    let _ = ids;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shipped.yml");
    std::fs::write(&file, export(None, "sigma", &[])).unwrap();
    let script = root().join("tests/export/sigma_names.py");
    let (ok, out) = run_tool(
        &pytools().join("python"),
        &[script.to_str().unwrap(), file.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let item = match f[0] {
                "exact" => f[1].to_string(),
                "suffix" => under(f[1]),
                "network" => network_address(f[1]),
                _ => return None, // filters: web presence, checked elsewhere
            };
            Some(Probe {
                item,
                slug: f[2].to_string(),
                tier: f[3].to_string(),
                from: format!("sigma: {l}"),
            })
        })
        .collect()
}

/// `phonehome catalog match` on every probe: item → vendor name (None: no match)
/// and the kind and pattern it matched.
fn catalog_match(items: &[String]) -> HashMap<String, Option<(String, String)>> {
    let mut answers = HashMap::new();
    for chunk in items.chunks(2000) {
        let mut args = vec!["catalog", "match"];
        args.extend(chunk.iter().map(String::as_str));
        let run = phonehome(&args);
        assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
        for l in String::from_utf8(run.stdout).unwrap().lines() {
            let f: Vec<&str> = l.split('\t').collect();
            let answer = (f[1] != "no match").then(|| {
                let vendor = f[1].split(" / ").next().unwrap().to_string();
                (vendor, f.get(3).copied().unwrap_or("").to_string())
            });
            answers.insert(f[0].to_string(), answer);
        }
    }
    answers
}

#[test]
fn exported_names_read_back_to_the_same_vendor() {
    let ids = ids();
    let mut probes = suricata_probes(&ids);
    probes.extend(zeek_probes(&ids));
    let (rpz, passthru) = commented_probes(&ids, "rpz");
    probes.extend(rpz);
    let (hosts, none) = commented_probes(&ids, "hosts");
    assert!(none.is_empty());
    probes.extend(hosts);
    probes.extend(sigma_probes(&ids));
    let mut items: Vec<String> = probes.iter().map(|p| p.item.clone()).collect();
    items.extend(passthru.iter().cloned());
    items.sort();
    items.dedup();
    let answers = catalog_match(&items);
    let mut wrong = Vec::new();
    let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &probes {
        let want = &ids.names[&p.slug];
        let got = answers
            .get(&p.item)
            .unwrap_or_else(|| panic!("no answer for {}", p.item));
        let same = got.as_ref().is_some_and(|(v, _)| v == want);
        // Every tier, owned domains included, reads back to the same vendor.
        if !same {
            wrong.push(format!(
                "{} -> {:?}, want {want} ({}, {})",
                p.item, got, p.tier, p.from
            ));
        }
        *counted
            .entry(p.from.split(':').next().unwrap())
            .or_default() += 1;
    }
    // A passthru name is never a documented host (those always count).
    for name in &passthru {
        if let Some(Some((v, kind))) = answers.get(name) {
            assert!(
                kind != &format!("host {name}"),
                "passthru {name} is {v}'s documented host"
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} probes read back wrong:\n{}",
        wrong.len(),
        probes.len(),
        wrong
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    for format in ["suricata", "zeek", "rpz", "hosts", "sigma"] {
        assert!(
            counted.get(format).copied().unwrap_or(0) > 1000,
            "{counted:?}"
        );
    }
}

#[test]
fn filters_and_errors_from_the_command_line() {
    let cat = test_catalog();
    // Foreign vendors for a Norwegian policy: Nordlys is domestic.
    let intel = export(
        Some(&cat),
        "zeek-intel",
        &["--foreign-only", "--home-country", "NO"],
    );
    assert!(!intel.contains("nordlys"), "{intel}");
    assert!(intel.contains("phonehome:acme-security") && intel.contains("phonehome:kaiyuan"));
    // Purposes.
    let hosts = export(Some(&cat), "hosts", &["--purpose", "update,licensing"]);
    let names: Vec<&str> = hosts.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        names,
        [
            "0.0.0.0 acme-mobile-updates.s3.amazonaws.com",
            "0.0.0.0 update.ky-cloud.example",
            "0.0.0.0 www.ky-cloud.example"
        ]
    );
    // A bad purpose is a usage error naming the values.
    let run = phonehome(&[
        "catalog",
        "export",
        "--format",
        "json",
        "--purpose",
        "spying",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown purpose 'spying'"),
        "{}",
        run.stderr
    );
    // --policy without --foreign-only is a usage error too.
    let run = phonehome(&[
        "catalog", "export", "--format", "json", "--policy", "x.toml",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    // A filter that leaves nothing: exit 1, one line, nothing written.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.rules");
    let o = out.to_str().unwrap();
    let run = phonehome(&[
        "catalog",
        "export",
        "--catalog",
        &cat,
        "--format",
        "suricata",
        "--vendor",
        "nordlys",
        "--purpose",
        "telemetry",
        "-o",
        o,
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        "phonehome: error: nothing to export: the filter leaves no suricata entries"
    );
    assert!(!out.exists());
    // -o writes the file and says so; nothing else is left in the directory.
    let run = phonehome(&[
        "catalog",
        "export",
        "--catalog",
        &cat,
        "--format",
        "rpz",
        "--serial",
        "7",
        "-o",
        o,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "phonehome: wrote 83 RPZ records to {o} (3 vendors:"
        )),
        "{}",
        run.stderr
    );
    assert!(std::fs::read_to_string(&out).unwrap().contains("( 7 3600"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
