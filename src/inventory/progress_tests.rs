use super::*;
use crate::inventory::{HostSighting, HostSummary, RunSummary};

const DAY: u64 = DAY_NS;

fn run(id: &str, day: u64) -> RunSummary {
    RunSummary {
        run_id: id.into(),
        sensor_id: "s1".into(),
        period_start_ns: day * DAY + 3_600_000_000_000,
        period_end_ns: day * DAY + 7_200_000_000_000,
        source: format!("{id}.pcap"),
        catalog_version: "test".into(),
        home_country: Some("CN".into()),
        policy: None,
        host_count: 0,
        finding_count: 0,
        identity_count: 0,
    }
}

fn finding(
    host: &str,
    vendor: &str,
    product: &str,
    cat: Option<&str>,
    foreign: bool,
    t: u64,
) -> FindingRecord {
    FindingRecord {
        host_key: host.into(),
        vendor: vendor.into(),
        product: product.into(),
        category: cat.map(Into::into),
        foreign,
        first_seen_ns: t,
        last_seen_ns: t + 1,
        flows: 1,
        bytes_toserver: 100,
        bytes_toclient: 200,
        countries: vec!["US".into()],
        evidence: vec![],
        severity: Some("high".into()),
        data_abroad: None,
    }
}

fn sighting(host: &str) -> HostSighting {
    HostSighting {
        host_key: host.into(),
        name: Some(host.to_uppercase()),
        mac: None,
        address: "10.0.0.1".into(),
        first_seen_ns: 0,
        last_seen_ns: 0,
        flows: 1,
        bytes: 1,
    }
}

/// Week 1: hosts a, b, c run the foreign EDR, d the foreign AV.
/// Week 3: a still runs it; b runs a domestic EDR instead; c runs nothing
/// foreign but is up; d is switched off; e is new with the foreign EDR; f
/// dropped the foreign EDR for a domestic product of another category.
fn scenario() -> Snapshot {
    let mut s = Snapshot {
        runs: vec![run("w1", 0), run("w3", 14)],
        ..Snapshot::default()
    };
    let edr = |h: &str, day: u64| finding(h, "ForeignCo", "EDR", Some("edr"), true, day * DAY);
    for h in ["a", "b", "c", "f"] {
        s.findings.push(("w1".into(), edr(h, 0)));
    }
    s.findings.push((
        "w1".into(),
        finding("d", "OtherCo", "AV", Some("antivirus"), true, 0),
    ));
    for h in ["a", "b", "c", "d", "f"] {
        s.sightings.push(("w1".into(), sighting(h)));
    }
    s.findings.push(("w3".into(), edr("a", 14)));
    s.findings.push(("w3".into(), edr("e", 14)));
    s.findings.push((
        "w3".into(),
        finding("b", "HomeSec", "Guard", Some("edr"), false, 14 * DAY),
    ));
    s.findings.push((
        "w3".into(),
        finding(
            "f",
            "HomeSec",
            "Mail",
            Some("mail_gateway"),
            false,
            14 * DAY,
        ),
    ));
    for h in ["a", "b", "c", "e", "f"] {
        s.sightings.push(("w3".into(), sighting(h)));
    }
    s.hosts = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|h| HostSummary {
            host_key: (*h).into(),
            name: Some(h.to_uppercase()),
            mac: None,
            first_seen_ns: 0,
            last_seen_ns: if *h == "d" { DAY } else { 14 * DAY + 1 },
        })
        .collect();
    s
}

fn states(p: &Progress) -> Vec<(String, String, State)> {
    p.rows
        .iter()
        .map(|r| (r.host_key.clone(), r.product.clone(), r.state))
        .collect()
}

#[test]
fn each_state_from_a_baseline_run() {
    let snap = scenario();
    let q = ProgressQuery {
        baseline: Some(Baseline::Run("w1".into())),
        since_ns: Some(7 * DAY),
    };
    let p = compute(&snap, &q).unwrap();
    let s = |h: &str, p: &str, st: State| (h.to_owned(), p.to_owned(), st);
    assert_eq!(
        states(&p),
        vec![
            s("a", "EDR", State::StillPresent),
            s("b", "EDR", State::Replaced),
            s("b", "Guard", State::New),
            s("c", "EDR", State::Removed),
            s("d", "AV", State::HostNotSeen),
            s("e", "EDR", State::New),
            // A domestic product of another category is no replacement.
            s("f", "EDR", State::Removed),
            s("f", "Mail", State::New),
        ]
    );
    let b = p
        .rows
        .iter()
        .find(|r| r.host_key == "b" && r.product == "EDR")
        .unwrap();
    assert_eq!(
        b.replaced_by,
        vec![("HomeSec".to_owned(), "Guard".to_owned())]
    );
    assert_eq!(b.last_seen_ns, 1, "last seen in week 1");
    assert_eq!(b.host_name.as_deref(), Some("B"));
    assert_eq!(p.baseline_runs, vec!["w1"]);
    assert_eq!(p.current_runs, vec!["w3"]);

    let edr = p.totals.iter().find(|t| t.product == "EDR").unwrap();
    assert_eq!(
        (
            edr.hosts_baseline,
            edr.hosts_current,
            edr.still_present,
            edr.removed,
            edr.replaced,
            edr.new
        ),
        (4, 2, 1, 2, 1, 1)
    );
    let av = p.totals.iter().find(|t| t.product == "AV").unwrap();
    assert_eq!((av.host_not_seen, av.removed), (1, 0));
}

#[test]
fn timeline_counts_hosts_clear_per_day() {
    let p = compute(&scenario(), &ProgressQuery::default()).unwrap();
    let points: Vec<(u64, u64, u64, u64)> = p
        .timeline
        .iter()
        .map(|c| {
            (
                c.day_start_ns / DAY,
                c.hosts_seen,
                c.hosts_clear,
                c.clear_per_mille,
            )
        })
        .collect();
    // Day 0: a b c d f all foreign. Day 14: a e foreign; b c f clear.
    assert_eq!(points, vec![(0, 5, 0, 0), (14, 5, 3, 600)]);
}

#[test]
fn defaults_compare_everything_before_the_latest_day() {
    let mut snap = scenario();
    // A week-2 run in which c still had the product: the default baseline
    // (every run before the latest day) includes it.
    snap.runs.push(run("w2", 7));
    snap.findings.push((
        "w2".into(),
        finding("c", "ForeignCo", "EDR", Some("edr"), true, 7 * DAY),
    ));
    let p = compute(&snap, &ProgressQuery::default()).unwrap();
    assert_eq!(p.since_ns, 14 * DAY);
    assert_eq!(p.baseline_runs, vec!["w1", "w2"]);
    let c = p.rows.iter().find(|r| r.host_key == "c").unwrap();
    assert_eq!(c.state, State::Removed);
    assert_eq!(c.last_seen_ns, 7 * DAY + 1);
    // A baseline date before week 2 leaves it out.
    let q = ProgressQuery {
        baseline: Some(Baseline::Before(DAY)),
        since_ns: None,
    };
    assert_eq!(compute(&snap, &q).unwrap().baseline_runs, vec!["w1"]);
}

#[test]
fn errors_name_what_is_missing() {
    assert_eq!(
        compute(&Snapshot::default(), &ProgressQuery::default()),
        Err(ProgressError::Empty)
    );
    let q = ProgressQuery {
        baseline: Some(Baseline::Run("nope".into())),
        since_ns: None,
    };
    assert_eq!(
        compute(&scenario(), &q),
        Err(ProgressError::UnknownRun("nope".into()))
    );
}

#[test]
fn csv_and_text_render_every_row_in_order() {
    let q = ProgressQuery {
        baseline: Some(Baseline::Run("w1".into())),
        since_ns: Some(7 * DAY),
    };
    let p = compute(&scenario(), &q).unwrap();
    let csv = crate::inventory::render::csv(&p).unwrap();
    let expected = "\
host_key,host_name,mac,vendor,product,category,foreign,state,last_seen,host_last_seen,replaced_by,severity,data_abroad,countries_abroad
a,A,,ForeignCo,EDR,edr,true,still_present,1970-01-15,1970-01-15,,high,true,US
b,B,,ForeignCo,EDR,edr,true,replaced,1970-01-01,1970-01-15,HomeSec Guard,high,true,US
b,B,,HomeSec,Guard,edr,false,new,1970-01-15,1970-01-15,,high,true,US
c,C,,ForeignCo,EDR,edr,true,removed,1970-01-01,1970-01-15,,high,true,US
d,D,,OtherCo,AV,antivirus,true,host_not_seen,1970-01-01,1970-01-02,,high,true,US
e,E,,ForeignCo,EDR,edr,true,new,1970-01-15,1970-01-15,,high,true,US
f,F,,ForeignCo,EDR,edr,true,removed,1970-01-01,1970-01-15,,high,true,US
f,F,,HomeSec,Mail,mail_gateway,false,new,1970-01-15,1970-01-15,,high,true,US
";
    assert_eq!(csv, expected);
    let text = crate::inventory::render::text(&p);
    assert!(text.starts_with(
        "Removal progress since 1970-01-08 (baseline: 1 run(s); current period: 1 run(s))\n"
    ));
    assert!(
        text.contains(
            "\nb     B          ForeignCo  EDR      replaced       high      US      1970-01-01  HomeSec Guard\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n1970-01-15  5           2             3      60.0%\n"),
        "{text}"
    );
    assert!(text.contains("\nHome country: CN\n"), "{text}");
    assert!(text.lines().all(|l| !l.ends_with(' ')));
    let json = crate::inventory::render::json(&p);
    assert_eq!(json["rows"][1]["state"], "replaced");
    assert_eq!(json["timeline"][1]["clear_per_mille"], 600);
}
