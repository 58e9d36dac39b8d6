//! Suricata's own EVE expectations, applied to phonehome's EVE.
//!
//! `shared/suricata-verify` holds test folders of OISF/suricata-verify (pcaps
//! and `test.yaml` checks) and `SELECTED.tsv`, the checks in scope: dns, tls,
//! quic, http and flow events on fields phonehome writes. For every test this
//! replays its pcap with one worker, reads the EVE and applies each in-scope
//! check with run.py's semantics (tests/suricata_verify/filter.rs). It prints
//! every check with why it failed, asserts the pass rate, and keeps
//! `KNOWN_FAILURES` true: an unlisted failure, or a listed check that now
//! passes, fails the test.
//!
//! Suricata settings in a test's `args` (`-k none`, midstream, async-oneside,
//! tunnel decoders) only make Suricata parse more; phonehome always does, so
//! they map to no flag. A `community-id-seed` in the test's suricata.yaml is
//! passed on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;
#[path = "suricata_verify/filter.rs"]
mod filter;

use filter::{matches, short, unmet_requirement, Raised, Version};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The Suricata release whose EVE phonehome's claims to match, for the
/// tests' `min-version` / `lt-version` gates; and the build features claimed.
const SHAPE: Version = Version(8, 0, 3);
const FEATURES: &[&str] = &["HAVE_JA3", "HAVE_JA4"];

/// Share of in-scope checks that must pass.
const REQUIRED_PASS_RATE: f64 = 0.95;

/// In-scope checks phonehome does not pass, with why: (test, check number
/// as run.py counts them from 1, reason). The README's EVE section says
/// which of these differences are deliberate.
const KNOWN_FAILURES: &[(&str, usize, &str)] = &[
    ("bug-2646-01", 2, "flow timeouts: after FIN both ways phonehome calls the flow closed and ends it after its closed-state timeout, so the server's FIN retransmissions 28 s and 57 s later start a second flow; Suricata waits in last_ack and keeps one flow to the end"),
    ("bug-5713-02-ja4", 2, "JA4 of a hello without signature algorithms: phonehome follows the JA4 spec and FoxIO's reference (no trailing '_'); Suricata hashes 'exts_' (deliberate, README)"),
    ("quic-ack3", 1, "pcap_cnt of a QUIC event: Suricata logs this client Initial at the server's first packet (3), phonehome at the Initial that completed the hello (1)"),
    ("tls/tls13-draft22", 1, "one tls event per ClientHello: after a HelloRetryRequest the retried hello gets its own event, as JA4 tools list it; Suricata folds both into one transaction (deliberate, README)"),
    ("tls/tls13-draft22", 2, "as #1: two tls events (one per ClientHello) where Suricata writes one"),
    ("vxlan-decoder-01", 1, "UDP flow direction: a first datagram from a service port (53 here) is taken as a response, so the flow reads client -> server; Suricata takes the first packet's direction (deliberate, README)"),
    ("vxlan-decoder-03", 1, "flow timeouts: Suricata ends a one-way UDP flow after 30 s (its 'new' state timeout), phonehome after --idle-timeout (120 s), so one VXLAN carrier flow is one record here and two there"),
    ("vxlan-decoder-03", 2, "as #1: the VXLAN flow from port 65445 is one record (120 s idle timeout), two in Suricata (30 s)"),
];

/// One in-scope check's result.
struct Outcome {
    test: String,
    check: usize,
    failure: Option<String>,
}

#[test]
fn suricata_verify_in_scope_checks() {
    let root = common::shared().join("suricata-verify");
    let selected_path = root.join("SELECTED.tsv");
    let selected = std::fs::read_to_string(&selected_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (suricata-verify data is part of ../shared)",
            selected_path.display()
        )
    });
    let mut outcomes = Vec::new();
    for line in selected.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 2, "SELECTED.tsv: bad line {line:?}");
        let checks: Vec<usize> = cols[1]
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("bad check number in {line:?}"))
            })
            .collect();
        outcomes.extend(run_test(
            &root.join("tests").join(cols[0]),
            cols[0],
            &checks,
        ));
    }
    assert!(
        outcomes.len() >= 200,
        "only {} in-scope checks in {}",
        outcomes.len(),
        selected_path.display()
    );

    let passed = outcomes.iter().filter(|o| o.failure.is_none()).count();
    let total = outcomes.len();
    for o in &outcomes {
        match &o.failure {
            None => println!("PASS {} #{}", o.test, o.check),
            Some(why) => println!("FAIL {} #{}: {why}", o.test, o.check),
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = passed as f64 / total as f64;
    println!(
        "suricata-verify: {passed} of {total} in-scope checks pass ({:.1} %)",
        rate * 100.0
    );

    let known: BTreeSet<(&str, usize)> = KNOWN_FAILURES.iter().map(|(t, c, _)| (*t, *c)).collect();
    assert_eq!(
        known.len(),
        KNOWN_FAILURES.len(),
        "KNOWN_FAILURES lists a check twice"
    );
    let mut wrong = Vec::new();
    for o in &outcomes {
        let listed = known.contains(&(o.test.as_str(), o.check));
        match (&o.failure, listed) {
            (Some(why), false) => wrong.push(format!("new failure {} #{}: {why}", o.test, o.check)),
            (None, true) => wrong.push(format!(
                "{} #{} passes now: take it off KNOWN_FAILURES",
                o.test, o.check
            )),
            _ => {}
        }
    }
    for (t, c, _) in KNOWN_FAILURES {
        if !outcomes.iter().any(|o| o.test == *t && o.check == *c) {
            wrong.push(format!(
                "KNOWN_FAILURES names {t} #{c}, which is not in scope"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(
        rate >= REQUIRED_PASS_RATE,
        "{passed} of {total} in-scope checks pass ({:.1} %), below {:.0} %",
        rate * 100.0,
        REQUIRED_PASS_RATE * 100.0
    );
}

/// Replays one test's pcap and applies its in-scope checks.
fn run_test(dir: &Path, name: &str, checks: &[usize]) -> Vec<Outcome> {
    let cfg = load_yaml(&dir.join("test.yaml"));
    let fail_all = |why: String| -> Vec<Outcome> {
        checks
            .iter()
            .map(|&check| Outcome {
                test: name.to_string(),
                check,
                failure: Some(why.clone()),
            })
            .collect()
    };
    match unmet_requirement(&cfg["requires"], SHAPE, FEATURES) {
        Ok(None) => {}
        Ok(Some(why)) => return fail_all(format!("selected, but the test {why}")),
        Err(e) => return fail_all(e),
    }
    let pcap = match pcap_of(dir, &cfg) {
        Ok(p) => p,
        Err(e) => return fail_all(e),
    };
    let seed = community_id_seed(dir);
    let mut extra = Vec::new();
    if let Some(s) = &seed {
        extra.extend(["--community-id-seed", s.as_str()]);
    }
    let run = common::replay(&pcap, 1, &extra);
    if run.code != 0 {
        return fail_all(format!(
            "phonehome exited {} on {}: {}",
            run.code,
            pcap.display(),
            run.stderr.trim()
        ));
    }
    let events = run.events();
    let all_checks = cfg["checks"].as_array().cloned().unwrap_or_default();
    checks
        .iter()
        .map(|&n| Outcome {
            test: name.to_string(),
            check: n,
            failure: match n.checked_sub(1).and_then(|i| all_checks.get(i)) {
                None => Some(format!("test.yaml has no check #{n}")),
                Some(check) => apply(check, &events).err(),
            },
        })
        .collect()
}

/// One check: Ok when run.py would pass it, else why not.
fn apply(check: &Value, events: &[Value]) -> Result<(), String> {
    let Some(f) = check.get("filter") else {
        return Err(format!("not a filter check: {}", short(check)));
    };
    for key in f.as_object().map(|m| m.keys()).into_iter().flatten() {
        if !["count", "match", "requires"].contains(&key.as_str()) {
            return Err(format!(
                "filter key {key:?} is not supported by this runner"
            ));
        }
    }
    if let Some(why) = unmet_requirement(&f["requires"], SHAPE, FEATURES)? {
        return Err(format!("selected, but the check {why}"));
    }
    let want = f["count"]
        .as_u64()
        .ok_or_else(|| format!("filter without a count: {}", short(f)))?;
    let conditions: Vec<(String, Value)> = f["match"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut hits = Vec::new();
    for ev in events {
        if matches(&conditions, ev).map_err(|Raised(e)| format!("run.py would raise: {e}"))? {
            hits.push(ev);
        }
    }
    if hits.len() as u64 == want {
        return Ok(());
    }
    let mut why = format!("expected {want} matches, got {}", hits.len());
    if (hits.len() as u64) < want {
        why.push_str(&near_miss(&conditions, events));
    } else {
        why.push_str("; matched:");
        for ev in hits.iter().take(4) {
            why.push_str(&format!("\n      {}", identity(ev)));
        }
    }
    Err(why)
}

/// The first event closest to matching (most conditions holding) and the conditions it misses, for the failure message.
fn near_miss(conditions: &[(String, Value)], events: &[Value]) -> String {
    let held = |ev: &Value| {
        conditions
            .iter()
            .filter(|(k, v)| filter::condition_holds(k, v, ev) == Ok(true))
            .count()
    };
    let mut nearest: Option<(&Value, usize)> = None;
    for ev in events {
        let h = held(ev);
        if nearest.is_none_or(|(_, top)| h > top) {
            nearest = Some((ev, h));
        }
    }
    let Some((best, _)) = nearest else {
        return "; no events".into();
    };
    let misses: Vec<String> = conditions
        .iter()
        .filter(|(k, v)| filter::condition_holds(k, v, best) != Ok(true))
        .map(|(k, v)| {
            let got = filter::find_value(k, best).map_or_else(|e| e.to_string(), |g| short(&g));
            format!("{k}: want {}, got {got}", short(v))
        })
        .collect();
    format!("; nearest {} misses {}", identity(best), misses.join("; "))
}

/// `event_type proto src:port -> dst:port` of an event, for messages.
fn identity(ev: &Value) -> String {
    let s = |k: &str| match &ev[k] {
        Value::Null => "-".to_string(),
        Value::String(x) => x.clone(),
        other => other.to_string(),
    };
    format!(
        "{} {} {}:{} -> {}:{} pcap_cnt={}",
        s("event_type"),
        s("proto"),
        s("src_ip"),
        s("src_port"),
        s("dest_ip"),
        s("dest_port"),
        s("pcap_cnt")
    )
}

/// The test's pcap: `pcap:` relative to the folder, else its only *.pcap(ng).
fn pcap_of(dir: &Path, cfg: &Value) -> Result<PathBuf, String> {
    if let Some(rel) = cfg["pcap"].as_str() {
        let p = dir.join(rel);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("pcap {} not found", p.display()))
        };
    }
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("no pcap in {}", dir.display())),
        _ => Err(format!("more than one pcap in {}", dir.display())),
    }
}

/// `community-id-seed` anywhere in the test's suricata.yaml.
fn community_id_seed(dir: &Path) -> Option<String> {
    let p = dir.join("suricata.yaml");
    if !p.is_file() {
        return None;
    }
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::Object(m) => m
                .get("community-id-seed")
                .map(filter::scalar_text)
                .or_else(|| m.values().find_map(find)),
            Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    find(&load_yaml(&p))
}

/// A YAML file as JSON values (the first document).
fn load_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs = yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    docs.first().map_or(Value::Null, yaml_to_json)
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(s.clone()), Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match yaml_to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}
