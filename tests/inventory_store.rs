//! The inventory on SQLite and on a real PostgreSQL server: writing a run
//! twice changes nothing, two writers at once lose nothing, and a writer
//! killed mid-run leaves the store consistent.
//!
//! PostgreSQL: the test creates a cluster with `initdb` in a temporary
//! directory (as the `postgres` user when run as root), starts it on a free
//! loopback port, and stops it at the end. The Debian package `postgresql`
//! is a test dependency (scripts/test installs it); without it the test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use phonehome::inventory::{
    FindingRecord, HostSighting, IdentityBinding, RunRecord, Snapshot, Store, StoreKind,
};
#[path = "common/pg.rs"]
mod pg;

use pg::PgCluster;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DAY: u64 = 86_400 * 1_000_000_000;
/// Set in the environment of the child process that the kill test kills.
const CHILD_ENV: &str = "PHONEHOME_INVENTORY_KILL_CHILD";

/// A run of `sensor` on `day` with `hosts` hosts (host i on `10.x.y.z`); every
/// third host has a foreign product, every fifth a domestic one.
fn make_run(sensor: &str, day: u64, hosts: usize, seed: u64) -> RunRecord {
    let start = day * DAY + seed;
    let mut run = RunRecord {
        run_id: RunRecord::derive_id(sensor, &start.to_be_bytes()),
        sensor_id: sensor.into(),
        period_start_ns: start,
        period_end_ns: start + 3_600_000_000_000,
        source: format!("{sensor}-day{day}.pcap"),
        catalog_version: "test".into(),
        home_country: Some("CN".into()),
        policy: Some(format!("{sensor}-policy.toml sha256:0123456789abcdef")),
        hosts: Vec::new(),
        findings: Vec::new(),
        identities: Vec::new(),
    };
    for i in 0..hosts {
        let key = format!(
            "mac:02:00:00:{:02x}:{:02x}:{:02x}",
            i >> 16 & 0xff,
            i >> 8 & 0xff,
            i & 0xff
        );
        let addr = format!("10.{}.{}.{}", i >> 16 & 0xff, i >> 8 & 0xff, i & 0xff);
        let t = start + i as u64;
        run.hosts.push(HostSighting {
            host_key: key.clone(),
            name: Some(format!("pc-{i}-{sensor}")),
            mac: Some(key[4..].to_owned()),
            address: addr.clone(),
            first_seen_ns: t,
            last_seen_ns: t + 1000,
            flows: 3,
            bytes: 4096,
        });
        run.identities.push(IdentityBinding {
            host_key: key.clone(),
            address: addr,
            source: "dhcp".into(),
            first_seen_ns: t,
            last_seen_ns: t + 1000,
        });
        if i % 3 == 0 {
            run.findings.push(FindingRecord {
                host_key: key.clone(),
                vendor: "ForeignCo".into(),
                product: "EDR".into(),
                category: Some("edr".into()),
                foreign: true,
                first_seen_ns: t,
                last_seen_ns: t + 500,
                flows: 2,
                bytes_toserver: 1000,
                bytes_toclient: 2000,
                countries: vec!["RU".into(), "US".into()],
                evidence: vec![format!("1:community-id-{i}=")],
                severity: Some("high".into()),
                data_abroad: Some(true),
            });
        }
        if i % 5 == 0 {
            run.findings.push(FindingRecord {
                host_key: key,
                vendor: "HomeSec".into(),
                product: "Guard".into(),
                category: Some("edr".into()),
                foreign: false,
                first_seen_ns: t,
                last_seen_ns: t + 700,
                flows: 1,
                bytes_toserver: 10,
                bytes_toclient: 20,
                countries: vec![],
                evidence: vec![],
                severity: Some("info".into()),
                data_abroad: Some(false),
            });
        }
    }
    run
}

fn run_counts(s: &Snapshot) -> (usize, usize, usize, usize) {
    (
        s.runs.len(),
        s.sightings.len(),
        s.findings.len(),
        s.identities.len(),
    )
}

/// Writing the same run twice leaves every table as it was; another run adds to it.
fn idempotent(location: &str) {
    let mut store = Store::open(location).unwrap();
    let a = make_run("sensor-a", 0, 300, 1);
    store.write_run(&a).unwrap();
    let first = store.snapshot().unwrap();
    store.write_run(&a).unwrap();
    // And from a second connection, as a re-run of the replay would.
    Store::open(location).unwrap().write_run(&a).unwrap();
    let again = store.snapshot().unwrap();
    assert_eq!(first, again, "writing the same run again changed the store");
    assert_eq!(run_counts(&again), (1, 300, 100 + 60, 300));
    assert_eq!(again.runs[0].finding_count, 160);
    // Schema 2: the run's home country and policy, each finding's severity
    // and verdict, read back as written.
    assert_eq!(again.runs[0].home_country.as_deref(), Some("CN"));
    assert_eq!(
        again.runs[0].policy.as_deref(),
        Some("sensor-a-policy.toml sha256:0123456789abcdef")
    );
    let got: Vec<(Option<&str>, Option<bool>)> = again
        .findings
        .iter()
        .map(|(_, f)| (f.severity.as_deref(), f.data_abroad))
        .collect();
    let want: Vec<(Option<&str>, Option<bool>)> = a
        .findings
        .iter()
        .map(|f| (f.severity.as_deref(), f.data_abroad))
        .collect();
    let mut want = want;
    let mut got = got;
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // A second run of the same sensor the next day widens the hosts' times.
    let b = make_run("sensor-a", 1, 300, 1);
    store.write_run(&b).unwrap();
    let both = store.snapshot().unwrap();
    assert_eq!(run_counts(&both), (2, 600, 320, 600));
    let h = &both.hosts[0];
    assert_eq!(h.first_seen_ns, 1, "first seen kept from day 0");
    assert!(h.last_seen_ns > DAY, "last seen from day 1");
    assert!(store.check().unwrap().is_empty());
    assert_eq!(store.schema_version().unwrap(), 2);
    // For the record (not asserted): one 10 000-host run, written and read back.
    let big = make_run("sensor-big", 2, 10_000, 0);
    let t = Instant::now();
    store.write_run(&big).unwrap();
    let wrote = t.elapsed();
    let t = Instant::now();
    let snap = store.snapshot().unwrap();
    eprintln!(
        "{location}: a 10000-host run ({} findings, {} bindings) written in {:.2} s; snapshot of {} rows read in {:.2} s",
        big.findings.len(),
        big.identities.len(),
        wrote.as_secs_f64(),
        snap.sightings.len() + snap.findings.len() + snap.identities.len(),
        t.elapsed().as_secs_f64()
    );
    eprintln!(
        "{location}: same run written 3 times: identical snapshot; 2 runs: {:?}",
        run_counts(&both)
    );
}

/// Two sensors write 12 runs each at once, over the same 200 hosts: every
/// run is there whole, and the shared hosts table has the earliest first and
/// the latest last sighting of all 24.
fn concurrent(location: &str) {
    let runs_per_writer = 12u64;
    let writers: Vec<_> = ["sensor-x", "sensor-y"]
        .into_iter()
        .enumerate()
        .map(|(w, sensor)| {
            let location = location.to_owned();
            std::thread::spawn(move || {
                let mut store = Store::open(&location).unwrap();
                for k in 0..runs_per_writer {
                    // Interleaved days so that either writer holds the extremes.
                    let day = 10 + 2 * k + w as u64;
                    store.write_run(&make_run(sensor, day, 200, 7)).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut store = Store::open(location).unwrap();
    let snap = store.snapshot().unwrap();
    let ours: Vec<_> = snap
        .runs
        .iter()
        .filter(|r| r.period_start_ns >= 10 * DAY)
        .collect();
    assert_eq!(ours.len(), 24, "runs lost");
    for r in &ours {
        assert_eq!(
            (r.host_count, r.finding_count, r.identity_count),
            (200, 67 + 40, 200)
        );
    }
    assert!(store.check().unwrap().is_empty(), "{:?}", store.check());
    // Host 0 was first seen on day 10 (sensor-x) and last on day 33 (sensor-y)
    // in these runs; the idempotence part may have seen it earlier.
    let h0 = snap
        .hosts
        .iter()
        .find(|h| h.host_key == "mac:02:00:00:00:00:00")
        .unwrap();
    assert_eq!(h0.last_seen_ns, 33 * DAY + 7 + 1000);
    assert_eq!(
        h0.name.as_deref(),
        Some("pc-0-sensor-y"),
        "name of the latest sighting"
    );
    eprintln!("{location}: 2 writers x {runs_per_writer} runs at once: 24 runs whole, hosts' first/last seen exact");
}

/// The child: writes big runs until killed.
fn child_writer(location: &str) -> ! {
    let mut store = Store::open(location).unwrap();
    for k in 0.. {
        store
            .write_run(&make_run("sensor-kill", 100 + k, 4000, 3))
            .unwrap();
    }
    unreachable!()
}

/// Starts this test binary again as a writer, kills it (SIGKILL) once it
/// has committed two runs, and checks the store.
fn killed_writer(location: &str, test_name: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, location)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut store = Store::open(location).unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let committed = loop {
        let n = store
            .snapshot()
            .unwrap()
            .runs
            .iter()
            .filter(|r| r.sensor_id == "sensor-kill")
            .count();
        if n >= 2 {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "the writer committed nothing in 300 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the writer died on its own"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // The writer is inside its next run's transaction almost all the time.
    std::thread::sleep(Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();
    let mut store = Store::open(location).unwrap();
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
    let snap = store.snapshot().unwrap();
    let runs: Vec<_> = snap
        .runs
        .iter()
        .filter(|r| r.sensor_id == "sensor-kill")
        .collect();
    assert!(runs.len() >= committed);
    for r in &runs {
        let rows = snap
            .findings
            .iter()
            .filter(|(id, _)| *id == r.run_id)
            .count();
        assert_eq!(rows as u64, r.finding_count);
        assert_eq!(r.host_count, 4000);
    }
    // The store takes writes again.
    store
        .write_run(&make_run("sensor-after", 500, 10, 0))
        .unwrap();
    assert!(store.check().unwrap().is_empty());
    eprintln!(
        "{location}: writer killed after {} committed runs: store consistent, writable",
        runs.len()
    );
}

/// A store written by schema 1 (no home country, policy, severity or
/// verdict), made with the version-1 statements through `exec`, is migrated
/// to schema 2 when opened: its old rows read back with none of them, and
/// progress then counts every destination as abroad; a new run records
/// them and progress judges its findings against its home country.
fn a_version_1_store_is_migrated(location: &str, exec: &mut dyn FnMut(&str)) {
    use phonehome::inventory::progress::{compute, ProgressQuery};
    use phonehome::inventory::schema::MIGRATIONS;
    exec("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL)");
    let (version, description, statements) = MIGRATIONS[0];
    assert_eq!(version, 1);
    for s in statements {
        exec(s);
    }
    exec(&format!(
        "INSERT INTO schema_migrations (version, description) VALUES (1, '{description}')"
    ));
    exec(
        "INSERT INTO runs (run_id, sensor_id, period_start, period_end, source, catalog_version,
                           host_count, finding_count, identity_count)
         VALUES ('old', 's1', 3600000000000, 7200000000000, 'old.pcap', 'test', 1, 2, 0)",
    );
    exec(
        "INSERT INTO host_sightings VALUES ('old', 'name:a', 'A', NULL, '10.0.0.1', 3600000000000,
                                            3600000000001, 1, 1)",
    );
    exec("INSERT INTO hosts VALUES ('name:a', 'A', NULL, 3600000000000, 3600000000001)");
    for (vendor, country) in [("ForeignCo", "US"), ("HomeSec", "CN")] {
        exec(&format!(
            "INSERT INTO findings VALUES ('old', 'name:a', '{vendor}', 'EDR', 'edr', 1, 3600000000000,
                                          3600000000001, 1, 1, 1, '[\"{country}\"]', '[]')"
        ));
    }
    let mut store = Store::open(location).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    let snap = store.snapshot().unwrap();
    assert_eq!(
        (
            snap.runs[0].home_country.clone(),
            snap.runs[0].policy.clone()
        ),
        (None, None)
    );
    assert!(snap
        .findings
        .iter()
        .all(|(_, f)| f.severity.is_none() && f.data_abroad.is_none()));
    assert!(store.check().unwrap().is_empty());
    let p = compute(&snap, &ProgressQuery::default()).unwrap();
    assert_eq!(p.home_country, None);
    let abroad: Vec<(&str, bool)> = p
        .rows
        .iter()
        .map(|r| (r.vendor.as_str(), r.data_abroad))
        .collect();
    assert_eq!(abroad, [("ForeignCo", true), ("HomeSec", true)]);

    // A run of schema 2, a day later: the same two products, judged at home (CN).
    let mut run = make_run("s1", 1, 1, 0);
    run.findings = snap.findings.iter().map(|(_, f)| f.clone()).collect();
    for f in &mut run.findings {
        f.host_key = run.hosts[0].host_key.clone();
    }
    store.write_run(&run).unwrap();
    let snap = store.snapshot().unwrap();
    let p = compute(&snap, &ProgressQuery::default()).unwrap();
    assert_eq!(p.home_country.as_deref(), Some("CN"));
    let abroad: Vec<(&str, bool, Vec<String>)> = p
        .rows
        .iter()
        .filter(|r| r.host_key == run.hosts[0].host_key)
        .map(|r| (r.vendor.as_str(), r.data_abroad, r.countries_abroad.clone()))
        .collect();
    assert_eq!(
        abroad,
        [
            ("ForeignCo", true, vec!["US".to_owned()]),
            ("HomeSec", false, vec![])
        ]
    );
    assert!(store.check().unwrap().is_empty());
}

#[test]
fn sqlite_inventory_idempotent_concurrent_and_killed() {
    if let Some(loc) = std::env::var_os(CHILD_ENV) {
        child_writer(loc.to_str().unwrap());
    }
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().join("inventory.sqlite");
    let loc = loc.to_str().unwrap();
    idempotent(loc);
    concurrent(loc);
    killed_writer(loc, "sqlite_inventory_idempotent_concurrent_and_killed");
    let v1 = dir.path().join("v1.sqlite");
    let c = rusqlite::Connection::open(&v1).unwrap();
    a_version_1_store_is_migrated(v1.to_str().unwrap(), &mut |sql| {
        c.execute_batch(sql).unwrap()
    });
    assert_eq!(Store::open(loc).unwrap().kind(), StoreKind::Sqlite);
}

#[test]
fn postgres_inventory_idempotent_concurrent_and_killed() {
    if let Some(loc) = std::env::var_os(CHILD_ENV) {
        child_writer(loc.to_str().unwrap());
    }
    let pg = PgCluster::start();
    let loc = pg.url();
    idempotent(&loc);
    concurrent(&loc);
    killed_writer(&loc, "postgres_inventory_idempotent_concurrent_and_killed");
    // The version-1 store in a database of its own on the same server.
    let mut c = postgres::Client::connect(&loc, postgres::NoTls).unwrap();
    c.batch_execute("CREATE DATABASE v1").unwrap();
    let v1 = loc.replace("/postgres", "/v1");
    assert_ne!(v1, loc);
    let mut c = postgres::Client::connect(&v1, postgres::NoTls).unwrap();
    a_version_1_store_is_migrated(&v1, &mut |sql| c.batch_execute(sql).unwrap());
    assert_eq!(Store::open(&loc).unwrap().kind(), StoreKind::Postgres);
}

#[test]
fn sqlite_refuses_a_newer_schema_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let loc = dir.path().join("inv.sqlite");
    let loc = loc.to_str().unwrap();
    drop(Store::open(loc).unwrap());
    let c = rusqlite::Connection::open(loc).unwrap();
    c.execute(
        "INSERT INTO schema_migrations (version, description) VALUES (99, 'future')",
        [],
    )
    .unwrap();
    drop(c);
    let e = Store::open(loc).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("inventory {loc}: schema version 99 is newer than this phonehome knows (2); upgrade phonehome")
    );
    let missing = dir.path().join("no/such/dir/inv.sqlite");
    let e = Store::open(missing.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("inventory {}: ", missing.display())),
        "{e}"
    );
}
