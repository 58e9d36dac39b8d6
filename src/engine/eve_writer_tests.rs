//! The EVE writers (`dns::write_eve`, `tls::write_eve`, `http::write_eve`,
//! JA3/JA4 into the line) give, byte for byte, what serializing the
//! dissectors' `to_eve` values gives, for every application event of every
//! capture of the shared corpus and of the repository's own captures.
//!
//! `reference_app_event` is the Value-building path the writers replaced,
//! kept here as the oracle; the `to_eve` twins exist only in test builds.
//! A unit test of the engine, the one module that runs every stage.

use super::{replay, ReplayConfig};
use crate::base::json::Obj;
use crate::base::testdata::shared;
use crate::base::Progress;
use crate::capture::expand_inputs;
use crate::dissect::{dns, http, quic, tls};
use crate::dissect::{AppBody, AppRecord, EventKind};
use crate::output::eve::{app_event, event_tail, header, Ext};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn flag_names<F: bitflags::Flags>(f: &F) -> impl Iterator<Item = String> + '_ {
    f.iter_names().map(|(n, _)| n.to_ascii_lowercase())
}

/// The application event built from `serde_json::Value` objects, as it was
/// written before the direct writers.
fn reference_app_event(buf: &mut Vec<u8>, a: &AppRecord, pcap_filename: &str) {
    let mut anomalies: Vec<String> = Vec::new();
    let mut ech = false;
    let (event_type, obj) = match &a.body {
        AppBody::Dns(d) => {
            anomalies.extend(d.msg.anomalies.names().map(|n| format!("dns.{n}")));
            (d.flavor.event_type(), dns::to_eve(&d.msg, d.flavor))
        }
        AppBody::Tls(t) => {
            if let Some(ch) = &t.client_hello {
                ech = ch.ech;
                anomalies
                    .extend(flag_names(&ch.anomalies).map(|n| format!("tls.client_hello.{n}")));
            }
            if let Some(sh) = &t.server_hello {
                anomalies
                    .extend(flag_names(&sh.anomalies).map(|n| format!("tls.server_hello.{n}")));
            }
            let v = tls::to_eve(&tls::EveTls {
                client_hello: t.client_hello.as_ref(),
                server_hello: t.server_hello.as_ref(),
                server_cert: t.cert.as_ref(),
                transport: t.transport,
            });
            ("tls", v)
        }
        AppBody::Quic(q) => {
            anomalies.extend(q.anomalies.names().map(|n| format!("quic.{n}")));
            let mut m = serde_json::Map::new();
            m.insert("version".into(), quic::version_name(q.version).into());
            if let Some(ch) = &q.client_hello {
                ech = ch.ech;
                if let Some(sni) = &ch.sni {
                    m.insert("sni".into(), sni.clone().into());
                }
                if let Some(j) = tls::ja3(ch) {
                    m.insert(
                        "ja3".into(),
                        serde_json::json!({"hash": j.hash, "string": j.string}),
                    );
                }
                m.insert("ja4".into(), tls::ja4(ch, tls::Transport::Quic).into());
            }
            if let Some(g) = &q.gquic {
                if let Some(sni) = &g.sni {
                    m.insert("sni".into(), sni.clone().into());
                }
                if let Some(ua) = &g.uaid {
                    m.insert("ua".into(), ua.clone().into());
                }
            }
            ("quic", serde_json::Value::Object(m))
        }
        AppBody::Http(h) => {
            anomalies.extend(h.request.anomalies.names().map(|n| format!("http.{n}")));
            ("http", http::to_eve(&h.request))
        }
        AppBody::HostId(_) => return,
    };
    // A DNS message over UDP reads in its own packet's direction, over TCP
    // by its kind (a response: server → client).
    let mut meta = a.meta.clone();
    let server_side = match &a.body {
        AppBody::Dns(d) if d.transport == dns::Transport::Tcp => d.msg.is_response(),
        AppBody::Dns(_) => !a.to_server,
        _ => false,
    };
    if server_side {
        std::mem::swap(&mut meta.src, &mut meta.dst);
        std::mem::swap(&mut meta.sport, &mut meta.dport);
    }
    let mut o = Obj::new(buf);
    header(
        &mut o,
        a.ts_ns,
        &meta,
        a.pcap_cnt,
        pcap_filename,
        event_type,
        None,
    );
    o.value(event_type, &obj);
    if ech || !anomalies.is_empty() {
        o.obj("phonehome", |p| {
            if ech {
                p.bool("ech", true);
            }
            if !anomalies.is_empty() {
                p.value("anomalies", &anomalies);
            }
        });
    }
    o.end();
}

/// An application event the EVE writer writes (DHCP/NBNS messages it does not).
fn written_app(kind: &EventKind) -> Option<&AppRecord> {
    match kind {
        EventKind::App(a) if !matches!(a.body, AppBody::HostId(_)) => Some(a),
        _ => None,
    }
}

/// Replays each capture under `dir` on its own; returns, per event type, how
/// many application events were compared, and what differed.
fn compare_dir(dir: &Path, counts: &mut BTreeMap<String, usize>, diffs: &mut Vec<String>) {
    let inputs = expand_inputs(&[dir.to_path_buf()]).unwrap();
    for input in inputs.files {
        let name = input.path.display().to_string();
        let mut cfg = ReplayConfig::new(vec![input]);
        cfg.workers = 1;
        let (mut new, mut old) = (Vec::new(), Vec::new());
        // Damaged files end with an error after their good packets: those
        // packets' events are compared all the same.
        let _ = replay(&cfg, Arc::new(Progress::default()), &mut |ev, line| {
            if let Some(a) = written_app(&ev.kind) {
                new.clear();
                old.clear();
                app_event(&mut new, a, &name, &Ext::default());
                reference_app_event(&mut old, a, &name);
                // The worker's head and the ordered stage's tail make the same line.
                let mut joined = line.head().to_vec();
                event_tail(&mut joined, ev, &Ext::default());
                joined.push(b'\n');
                if line.line != joined.as_slice() && diffs.len() < 10 {
                    diffs.push(format!(
                        "{name}\n  worker's line: {}\n  head + tail: {}",
                        String::from_utf8_lossy(line.line),
                        String::from_utf8_lossy(&joined)
                    ));
                }
                joined.pop();
                if joined != new && diffs.len() < 10 {
                    diffs.push(format!(
                        "{name}\n  head + tail: {}\n  writer: {}",
                        String::from_utf8_lossy(&joined),
                        String::from_utf8_lossy(&new)
                    ));
                }
                let v: serde_json::Value = serde_json::from_slice(&new)
                    .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {new:?}"));
                *counts
                    .entry(v["event_type"].as_str().unwrap().to_owned())
                    .or_default() += 1;
                if new != old && diffs.len() < 10 {
                    diffs.push(format!(
                        "{name}\n  writer: {}\n  values: {}",
                        String::from_utf8_lossy(&new),
                        String::from_utf8_lossy(&old)
                    ));
                }
            }
            Ok(())
        });
    }
}

#[test]
fn writers_match_serialized_values_on_every_captured_event() {
    let mut counts = BTreeMap::new();
    let mut diffs = Vec::new();
    compare_dir(&shared().join("captures"), &mut counts, &mut diffs);
    compare_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"),
        &mut counts,
        &mut diffs,
    );
    eprintln!("compared: {counts:?}");
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // The corpus exercises every writer (counts as of writing: dns 1395,
    // http 226, llmnr 3, mdns 67, quic 107, tls 497).
    for (event_type, at_least) in [
        ("dns", 1300),
        ("http", 200),
        ("llmnr", 3),
        ("mdns", 60),
        ("quic", 100),
        ("tls", 450),
    ] {
        let n = counts.get(event_type).copied().unwrap_or(0);
        assert!(n >= at_least, "{event_type}: {n} events ({counts:?})");
    }
}
