//! `phonehome report`: the HTML page opened in headless Chromium lists every
//! finding of the replay in its inventory table; Markdown, CSV and JSON hold
//! the same rows; names from the capture cannot inject markup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#[path = "common/chromium.rs"]
mod chromium;
mod common;

use chromium::{chromium_dom, chromium_pdf};
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// (host, vendor, product, vendor country, destination countries, flows)
type RowKey = (String, String, String, String, String, String);

/// The rows an alert list must give, with the report's wording of countries.
fn rows_of_alerts(events: &[Value]) -> BTreeSet<RowKey> {
    events
        .iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|a| {
            let p = &a["phonehome"];
            let dests = p["destinations"].as_array().unwrap();
            let cc: BTreeSet<&str> = dests.iter().filter_map(|d| d["country"].as_str()).collect();
            let mut parts: Vec<String> = cc.iter().map(|c| c.to_string()).collect();
            let unknown = dests.iter().filter(|d| d.get("country").is_none()).count();
            if unknown > 0 {
                parts.push(format!("unknown ({unknown})"));
            }
            if p["flows"] == 0 && dests.is_empty() {
                parts.push("DNS only".into());
            }
            let vc: Vec<&str> = p["vendor_country"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            (
                p["host"].as_str().unwrap().to_string(),
                p["vendor"].as_str().unwrap().to_string(),
                p["product"].as_str().unwrap().to_string(),
                vc.join("/"),
                parts.join(", "),
                p["flows"].to_string(),
            )
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    unescape(&out)
}

/// The inventory table's finding rows in a DOM: per row, column → text.
fn inventory_rows(dom: &str) -> Vec<BTreeMap<String, String>> {
    let start = dom
        .find(r#"<table id="inventory-table""#)
        .expect("no inventory table in the DOM");
    let end = start + dom[start..].find("</table>").unwrap();
    let table = &dom[start..end];
    let mut rows = Vec::new();
    for chunk in table.split(r#"<tr class="finding""#).skip(1) {
        let row = &chunk[..chunk.find("</tr>").unwrap()];
        let mut cells = BTreeMap::new();
        for cell in row.split(r#"<td data-col=""#).skip(1) {
            let (col, rest) = cell.split_once('"').unwrap();
            let body = &rest[rest.find('>').unwrap() + 1..rest.find("</td>").unwrap()];
            cells.insert(col.to_string(), strip_tags(body));
        }
        rows.push(cells);
    }
    rows
}

fn key_of_cells(c: &BTreeMap<String, String>) -> RowKey {
    (
        c["host"].clone(),
        c["vendor"].clone(),
        c["product"].clone(),
        c["vendor_country"].clone(),
        c["countries"].clone(),
        c["flows"].clone(),
    )
}

fn report(inputs: &[&Path], out: &Path) -> Run {
    let mut args: Vec<String> = vec!["report".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["-o".into(), out.display().to_string()]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    phonehome(&a)
}

fn demo_eve(dir: &Path) -> (PathBuf, Vec<Value>) {
    let eve = dir.join("eve.json");
    let run = phonehome(&[
        "replay",
        root().join("captures/demo.pcap").to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (eve, events)
}

fn md_rows(md: &str) -> Vec<Vec<String>> {
    let start = md.find("## Inventory by host").unwrap();
    let mut rows = Vec::new();
    for l in md[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| Host"))
        .skip(2)
    {
        if !l.starts_with('|') {
            break;
        }
        // Split on unescaped pipes, then drop the escapes.
        let mut cells = Vec::new();
        let mut cur = String::new();
        let mut chars = l.trim().trim_matches('|').chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => cur.extend(chars.next()),
                '|' => cells.push(std::mem::take(&mut cur).trim().to_string()),
                c => cur.push(c),
            }
        }
        cells.push(cur.trim().to_string());
        rows.push(cells);
    }
    rows
}

#[test]
fn report_of_the_demo_lists_every_finding_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let (eve, events) = demo_eve(tmp.path());
    let want = rows_of_alerts(&events);
    assert_eq!(want.len(), 15);
    let out = tmp.path().join("report");
    let run = report(&[&eve], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "report: 15 finding(s) on 11 host(s) (12 foreign, 3 domestic, 11 sending data abroad)"
        ),
        "{}",
        run.stderr
    );

    // HTML, as a browser builds it.
    let dom = chromium_dom(&out.join("report.html"));
    let rows = inventory_rows(&dom);
    assert_eq!(rows.len(), 15);
    let got: BTreeSet<RowKey> = rows.iter().map(key_of_cells).collect();
    assert_eq!(got, want);
    // Host order, and one group per host.
    let hosts: Vec<&str> = rows.iter().map(|r| r["host"].as_str()).collect();
    assert_eq!(hosts.first(), Some(&"10.1.10.11"));
    assert_eq!(hosts.last(), Some(&"fd00::142"));
    assert_eq!(dom.matches(r#"<tbody class="host""#).count(), 11);
    // Self-contained: no script, no external reference.
    assert_eq!(dom.matches("<script").count(), 0);
    for needle in ["src=\"http", "href=\"http", "url(", "@import"] {
        assert!(!dom.contains(needle), "external reference {needle}");
    }
    for id in ["chart-countries", "chart-vendors", "chart-timeline"] {
        assert!(dom.contains(&format!(r#"<svg id="{id}""#)), "{id}");
    }
    assert!(dom.contains("@media print"));

    // Markdown: the same rows in the same order.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let mrows = md_rows(&md);
    assert_eq!(mrows.len(), 15);
    for (m, h) in mrows.iter().zip(&rows) {
        assert_eq!(
            (&m[0], &m[1], &m[2], &m[3], &m[9], &m[10]),
            (
                &h["host"],
                &h["vendor"],
                &h["product"],
                &h["vendor_country"],
                &h["countries"],
                &h["flows"]
            )
        );
    }

    // CSV and JSON: the same rows, and the numbers match the alerts.
    let mut rdr = csv::Reader::from_path(out.join("findings.csv")).unwrap();
    let crow: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let hdr = rdr.headers().unwrap().clone();
    let col = |name: &str| hdr.iter().position(|h| h == name).unwrap();
    let got_csv: BTreeSet<RowKey> = crow
        .iter()
        .map(|r| {
            (
                r[col("host")].to_string(),
                r[col("vendor")].to_string(),
                r[col("product")].to_string(),
                r[col("vendor_country")].to_string(),
                r[col("destination_countries")].to_string(),
                r[col("flows")].to_string(),
            )
        })
        .collect();
    assert_eq!(got_csv, want);
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let jrows = json["findings"].as_array().unwrap();
    assert_eq!(jrows.len(), 15);
    let bytes: BTreeMap<(String, String, String), (u64, u64)> = events
        .iter()
        .filter(|e| e["event_type"] == "alert")
        .map(|a| {
            let p = &a["phonehome"];
            (
                (
                    p["host"].as_str().unwrap().into(),
                    p["vendor"].as_str().unwrap().into(),
                    p["product"].as_str().unwrap().into(),
                ),
                (
                    p["bytes_toserver"].as_u64().unwrap(),
                    p["bytes_toclient"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    for (j, c) in jrows.iter().zip(&crow) {
        let k = (
            j["host"].as_str().unwrap().to_string(),
            j["vendor"].as_str().unwrap().to_string(),
            j["product"].as_str().unwrap().to_string(),
        );
        assert_eq!(
            (k.0.as_str(), k.1.as_str()),
            (&c[col("host")], &c[col("vendor")])
        );
        let b = (
            j["bytes_toserver"].as_u64().unwrap(),
            j["bytes_toclient"].as_u64().unwrap(),
        );
        assert_eq!(bytes[&k], b, "{k:?}");
        assert_eq!(c[col("bytes_toserver")], b.0.to_string());
    }
    assert_eq!(json["summary"]["hosts"], 11);
    assert_eq!(
        json["summary"]["destination_countries"],
        serde_json::json!(["CN", "IE", "NL", "RU", "US"])
    );
    assert_eq!(json["sources"][0]["events"], events.len() as u64);

    // The manifest checks.
    let check = Command::new("sha256sum")
        .args(["-c", "MANIFEST.sha256"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(check.status.success());
    assert_eq!(
        String::from_utf8_lossy(&check.stdout)
            .matches(": OK")
            .count(),
        4
    );
}

#[test]
fn report_of_an_evidence_bundle_names_the_evidence_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    let run = phonehome(&[
        "replay",
        root().join("captures/demo.pcap").to_str().unwrap(),
        "--eve",
        dir.join("eve.json").to_str().unwrap(),
        "--evidence",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = tmp.path().join("report");
    let run = report(&[&dir], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("findings.json")).unwrap()).unwrap();
    let packets: BTreeMap<String, u64> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                format!(
                    "{} {} {}",
                    f["host"].as_str().unwrap(),
                    f["vendor"].as_str().unwrap(),
                    f["product"].as_str().unwrap()
                ),
                f["packets"]["packets"].as_u64().unwrap(),
            )
        })
        .collect();
    let dom = chromium_dom(&out.join("report.html"));
    let rows = inventory_rows(&dom);
    assert_eq!(rows.len(), 15);
    for r in &rows {
        let k = format!("{} {} {}", r["host"], r["vendor"], r["product"]);
        assert_eq!(r["packets"], packets[&k].to_string(), "{k}");
    }
    assert!(
        dom.contains("18 files match MANIFEST.sha256"),
        "bundle verified"
    );
    // The bundle's EVE file read alongside it (in either order) adds no row
    // and keeps the evidence files.
    let both = tmp.path().join("report-both");
    let eve = dir.join("eve.json");
    let run = report(&[&eve, &dir], &both);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(both.join("report.json")).unwrap()).unwrap();
    let jrows = json["findings"].as_array().unwrap();
    assert_eq!(jrows.len(), 15);
    assert_eq!(json["sources"].as_array().unwrap().len(), 2);
    let with_packets = jrows
        .iter()
        .filter(|r| {
            let k = format!(
                "{} {} {}",
                r["host"].as_str().unwrap(),
                r["vendor"].as_str().unwrap(),
                r["product"].as_str().unwrap()
            );
            r["evidence_packets"].as_u64() == Some(packets[&k])
        })
        .count();
    assert_eq!(with_packets, 15, "{}", json["findings"]);
    // A changed evidence file is reported and fails the command.
    let f = dir.join("packets/10.1.60.61_Kaspersky_Kaspersky_Endpoint_Security.pcapng");
    let mut bytes = std::fs::read(&f).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&f, bytes).unwrap();
    let run = report(&[&dir], &tmp.path().join("report2"));
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(
            "packets/10.1.60.61_Kaspersky_Kaspersky_Endpoint_Security.pcapng: SHA-256 differs"
        ),
        "{}",
        run.stderr
    );
}

const HOSTILE_VENDOR: &str = "<script>alert(1)</script>";
const HOSTILE_PRODUCT: &str = "<img src=x onerror=alert(2)>";
const HOSTILE_NAME: &str = "\"><svg onload=alert(3)></table>.evil.example";

#[test]
fn names_from_the_capture_cannot_inject_markup() {
    let tmp = tempfile::tempdir().unwrap();
    let alert = serde_json::json!({
        "timestamp": "2025-03-03T12:00:02.000000+0000",
        "event_type": "alert",
        "src_ip": "10.0.0.1",
        "alert": {"signature": "x"},
        "phonehome": {
            "host": "10.0.0.1",
            "vendor": HOSTILE_VENDOR,
            "product": HOSTILE_PRODUCT,
            "vendor_country": ["US<b>"],
            "finding_kind": "foreign_vendor_data_abroad",
            "severity": "high\" onmouseover=\"alert(4)",
            "confidence": "high",
            "foreign_vendor": true,
            "data_abroad": true,
            "reason": format!("10.0.0.1 runs {HOSTILE_VENDOR}"),
            "first_seen": "2025-03-03T12:00:02.000000+0000",
            "last_seen": "2025-03-03T12:00:09.000000+0000",
            "flows": 1,
            "bytes_toserver": 10,
            "bytes_toclient": 20,
            "destinations": [{"ip": "192.0.2.1", "names": [HOSTILE_NAME], "country": "<i>X</i>", "flows": 1}],
            "evidence": [{"kind": "tls_sni", "value": HOSTILE_NAME, "pattern": "*", "source": "javascript:alert(5)", "community_id": "1:x", "timestamp": "2025-03-03T12:00:02.000000+0000"}],
            "evidence_counts": {"tls_sni": 1}
        }
    });
    let formula = serde_json::json!({
        "event_type": "alert",
        "phonehome": {"host": "10.0.0.2", "vendor": "=HYPERLINK(\"http://x\")", "product": "P", "flows": 0}
    });
    let eve = tmp.path().join("eve.json");
    std::fs::write(
        &eve,
        format!(
            "{alert}\n{formula}\n{{\"event_type\":\"alert\",\"alert\":{{\"signature\":\"ET other tool\"}}}}\nnot json \"alert\"\n{{\"event_type\":\"flow\"}}\n{{\"event_type\":\"stats\",\"stats\":{{}}}}\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("report");
    let run = report(&[&eve], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let lower = html.to_lowercase();
    for bad in [
        "<script",
        "<img",
        "<svg onload",
        "us<b>",
        "<i>x",
        "onmouseover=\"",
        "href=",
    ] {
        assert!(!lower.contains(bad), "{bad} in the page");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // In the browser: no element was injected, and the names read as text.
    let dom = chromium_dom(&out.join("report.html"));
    let dl = dom.to_lowercase();
    assert_eq!(dl.matches("<script").count(), 0);
    assert_eq!(dl.matches("<img").count(), 0);
    assert_eq!(dl.matches("<i>").count(), 0);
    let rows = inventory_rows(&dom);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["vendor"], HOSTILE_VENDOR);
    assert_eq!(rows[0]["product"], HOSTILE_PRODUCT);
    assert_eq!(rows[0]["countries"], "<i>X</i>");
    assert_eq!(rows[0]["evidence"], format!("{HOSTILE_NAME} (TLS SNI)"));
    assert_eq!(rows[0]["severity"], "high\" onmouseover=\"alert(4)");
    // The timeline's label reaches the SVG as text too.
    assert!(dom.contains("10.0.0.1 · &lt;script&gt;alert(1)&lt;/script&gt;"));
    // Markdown cannot open tags or cells; CSV cannot run formulas.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        !md.replace("\\<", "").contains('<'),
        "an unescaped < in {md}"
    );
    assert!(md.contains(r"\<script\>alert(1)\</script\>"), "{md}");
    let mrows = md_rows(&md);
    assert_eq!(mrows[0][1], HOSTILE_VENDOR);
    assert_eq!(mrows[0].len(), 16, "the tier column included");
    let csv = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{csv}");
    // Other tools' alerts and broken lines are counted, not findings.
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let s = &json["sources"][0];
    assert_eq!(
        (
            s["events"].as_u64(),
            s["findings"].as_u64(),
            s["other_alerts"].as_u64(),
            s["malformed"].as_u64()
        ),
        // Six events: the file ends with a stats event, as a whole replay's does.
        (Some(6), Some(2), Some(1), Some(1))
    );
}

#[test]
fn report_of_the_realstack_replay_lists_exactly_its_findings_and_prints() {
    let tmp = tempfile::tempdir().unwrap();
    let eve = tmp.path().join("eve.json");
    let policy = root().join("tests/data/realstack-policy.toml");
    let run = phonehome(&[
        "replay",
        root().join("captures/realstack.pcap").to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events: Vec<Value> = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want = rows_of_alerts(&events);
    assert_eq!(want.len(), 14);
    let out = tmp.path().join("report");
    let run = report(&[&eve], &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Not a terminal: no progress bar, only the summary and the files.
    assert!(!run.stderr.contains('\r') && !run.stderr.contains("eta"));
    assert!(
        run.stderr
            .starts_with("phonehome: report: 14 finding(s) on 11 host(s) (12 foreign, 2 domestic, 10 sending data abroad)"),
        "{}",
        run.stderr
    );
    let dom = chromium_dom(&out.join("report.html"));
    let rows = inventory_rows(&dom);
    assert_eq!(rows.len(), 14, "one row per finding");
    let got: BTreeSet<RowKey> = rows.iter().map(key_of_cells).collect();
    assert_eq!(got, want);
    assert!(rows.iter().any(|r| r["product"] == "PC Manager (电脑管家)"));
    // It prints: Chromium's PDF of it has pages.
    let pdf = chromium_pdf(&out.join("report.html"), &tmp.path().join("report.pdf"));
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let count = |n: &[u8]| pdf.windows(n.len()).filter(|w| *w == n).count();
    // "/Type /Page" also begins "/Type /Pages" (the page tree).
    let pages = count(b"/Type /Page") - count(b"/Type /Pages");
    assert!((1..=40).contains(&pages), "{pages} pages");
}

#[test]
fn bad_inputs_give_one_line_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let missing = tmp.path().join("no-such-eve.json");
    let run = report(&[&missing], &out);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "phonehome: error: {}: cannot read:",
            missing.display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("os error 2").count(),
        1,
        "the cause told once: {}",
        run.stderr
    );
    // A capture given where an EVE file belongs.
    let cap = root().join("captures/realstack.pcap");
    let run = report(&[&cap], &out);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "phonehome: error: {}: not an EVE file: its first line is not a JSON object",
            cap.display()
        )
    );
    // A directory that is no evidence bundle.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = report(&[&empty], &out);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("findings.json"), "{}", run.stderr);
    // Usage errors exit 2.
    let run = phonehome(&["report", cap.to_str().unwrap()]);
    assert_eq!(run.code, 2, "no -o: {}", run.stderr);
    let run = phonehome(&["report", "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 2, "no input: {}", run.stderr);
}
