//! The command line as a user meets it: help, `catalog show`, `catalog
//! match` exit codes, `--keep-going`, the summary and the findings table.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic
)]

mod common;

use common::{phonehome, shared};
use std::path::{Path, PathBuf};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcap");

fn out(run: &common::Run) -> String {
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// Display columns before byte offset `at` of `line`.
fn col(line: &str, at: usize) -> usize {
    unicode_width::UnicodeWidthStr::width(&line[..at])
}

#[test]
fn help_lists_the_exit_codes_and_hides_benchmark_flags() {
    let top = phonehome(&["--help"]);
    assert_eq!(top.code, 0);
    let text = out(&top);
    for line in [
        "Exit codes:",
        "  0  success",
        "  2  usage error: unknown option, missing or bad value",
        "  3  replay: stopped by SIGTERM/SIGINT (output complete for what was read before the",
        "     name or address matched nothing",
    ] {
        assert!(text.contains(line), "{line:?} not in --help:\n{text}");
    }
    let replay = out(&phonehome(&["replay", "--help"]));
    assert!(replay.contains("--keep-going"), "{replay}");
    assert!(
        replay.contains("Examples:\n  phonehome replay "),
        "{replay}"
    );
    for hidden in ["--no-dissect", "--no-attribution", "--bench-catalog-scale"] {
        assert!(!replay.contains(hidden), "{hidden} shown:\n{replay}");
    }
    let show = out(&phonehome(&["catalog", "show", "--help"]));
    assert!(show.contains("<VENDOR>  The vendor's name"), "{show}");
}

#[test]
fn catalog_show_is_text_unless_json_is_asked() {
    let run = phonehome(&["catalog", "show", "crowdstrike"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = out(&run);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "CrowdStrike (catalog/crowdstrike.toml)");
    assert_eq!(lines[1], "  jurisdiction: US");
    assert!(text.contains("\n  product: Falcon ("), "{text}");
    // The endpoint table: a header, then the documented telemetry host.
    let header = text
        .lines()
        .find(|l| l.trim_start().starts_with("KIND"))
        .expect("header");
    assert!(
        header.starts_with("    KIND  PATTERN  "),
        "header: {header:?}"
    );
    let row = text
        .lines()
        .find(|l| l.contains(" ts01-b.cloudsink.net ") || l.contains(" cloudsink.net "))
        .unwrap_or_else(|| panic!("no cloudsink.net row:\n{text}"));
    assert!(row.contains("https://"), "{row}");
    // Columns line up: PURPOSE starts at the same place in header and row.
    let purpose = header.find("PURPOSE").unwrap();
    assert_eq!(row.as_bytes()[purpose - 1], b' ', "{header}\n{row}");
    assert_ne!(row.as_bytes()[purpose], b' ', "{header}\n{row}");

    let json = phonehome(&["catalog", "show", "crowdstrike", "--json"]);
    assert_eq!(json.code, 0);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(v["name"], "CrowdStrike");
    assert_eq!(v["slug"], "crowdstrike");

    let none = phonehome(&["catalog", "show", "no-such-vendor"]);
    assert_eq!(none.code, 1);
    assert_eq!(
        none.stderr.trim(),
        "phonehome: error: no vendor named 'no-such-vendor' in the catalog (see `phonehome catalog list`)"
    );
}

#[test]
fn catalog_match_exit_codes_tell_no_match_from_errors() {
    let all = phonehome(&["catalog", "match", "ts01-b.cloudsink.net"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    let some = phonehome(&[
        "catalog",
        "match",
        "ts01-b.cloudsink.net",
        "agent.example.org",
    ]);
    assert_eq!(some.code, 3, "{}", some.stderr);
    assert!(
        out(&some).ends_with("agent.example.org\tno match\n"),
        "{}",
        out(&some)
    );
    let missing = tempfile::tempdir().unwrap();
    let gone = missing.path().join("gone");
    let broken = phonehome(&[
        "catalog",
        "match",
        "--catalog",
        gone.to_str().unwrap(),
        "ts01-b.cloudsink.net",
    ]);
    assert_eq!(broken.code, 1, "{}", broken.stderr);
    let usage = phonehome(&["catalog", "match"]);
    assert_eq!(usage.code, 2);
}

/// A copy of the demo capture whose second record claims 4 GB: damaged
/// part-way (the first packet is still read).
fn damaged_copy(dir: &Path) -> PathBuf {
    let mut b = std::fs::read(DEMO).unwrap();
    assert_eq!(
        &b[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "demo.pcap is little-endian pcap"
    );
    let first_len = u32::from_le_bytes(b[32..36].try_into().unwrap()) as usize;
    let second = 24 + 16 + first_len;
    b[second + 8..second + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let p = dir.join("b-damaged.pcap");
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn keep_going_reports_damage_and_does_not_fail() {
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("captures");
    std::fs::create_dir(&caps).unwrap();
    std::fs::copy(DEMO, caps.join("a-demo.pcap")).unwrap();
    let damaged = damaged_copy(&caps);
    let eve = dir.path().join("eve.json");
    let (c, e) = (caps.to_str().unwrap(), eve.to_str().unwrap());

    let strict = phonehome(&["replay", c, "--eve", e]);
    assert_eq!(strict.code, 1, "{}", strict.stderr);
    let line = format!("phonehome: error: {}: damaged at byte", damaged.display());
    assert!(strict.stderr.contains(&line), "{}", strict.stderr);

    let missing = dir.path().join("missing.pcap");
    let run = phonehome(&[
        "replay",
        c,
        missing.to_str().unwrap(),
        "--eve",
        e,
        "--keep-going",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let warn = |what: &str| {
        run.stderr
            .lines()
            .any(|l| l.starts_with("phonehome: warning: ") && l.contains(what))
    };
    assert!(
        warn(&format!("{}: damaged at byte", damaged.display())),
        "{}",
        run.stderr
    );
    assert!(
        warn(&format!("{}: cannot open", missing.display())),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "  --keep-going: 2 input(s) missing, not captures or damaged (reported above)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("events written to {e}\n")),
        "{}",
        run.stderr
    );
    // Every input missing: nothing to keep going with.
    let none = phonehome(&[
        "replay",
        missing.to_str().unwrap(),
        "--eve",
        e,
        "--keep-going",
    ]);
    assert_eq!(none.code, 1, "{}", none.stderr);
}

#[test]
fn the_summary_names_the_eve_file() {
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("out.json");
    let run = phonehome(&["replay", DEMO, "--eve", eve.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines = std::fs::read_to_string(&eve).unwrap().lines().count();
    let want = format!("  EVE: {lines} events written to {}\n", eve.display());
    assert!(
        run.stderr.contains(&want),
        "{want:?} not in\n{}",
        run.stderr
    );
    let stdout = phonehome(&["replay", DEMO, "--eve", "-"]);
    assert!(
        stdout
            .stderr
            .contains(" events written to standard output\n"),
        "{}",
        stdout.stderr
    );
}

#[test]
fn a_proxy_connect_destination_is_unknown_proxy() {
    // A client CONNECTs through 10.9.8.7 to CrowdStrike's ts01-b.cloudsink.net:
    // where the proxy sent it is not in the capture.
    let cap = shared().join("captures/foxio-ja4/https-connect.pcap");
    let run = phonehome(&["replay", cap.to_str().unwrap(), "--eve", "/dev/null"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let row = run
        .stderr
        .lines()
        .find(|l| l.contains("CrowdStrike / Falcon"))
        .unwrap_or_else(|| panic!("no CrowdStrike finding:\n{}", run.stderr));
    assert!(row.contains(" 10.11.12.13 "), "{row}");
    assert!(
        row.contains("  unknown (proxy)  ts01-b.cloudsink.net (HTTP CONNECT"),
        "{row}"
    );
}

#[test]
fn findings_table_lines_up_cjk_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("qihoo.toml"),
        "vendor = \"奇虎三六零\"\njurisdiction = [\"CN\"]\n\n[[product]]\nname = \"天擎终端安全管理系统\"\n\n\
         [[product.endpoint]]\nhost = \"update.360safe.com\"\npurpose = \"update\"\nconfidence = \"documented\"\nsource = \"https://example.org/360\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("trend.toml"),
        "vendor = \"Trend Micro\"\njurisdiction = [\"JP\"]\n\n[[product]]\nname = \"Apex One\"\n\n\
         [[product.endpoint]]\nhost = \"iaus.activeupdate.trendmicro.com\"\npurpose = \"update\"\nconfidence = \"documented\"\nsource = \"https://example.org/trend\"\n",
    )
    .unwrap();
    let run = phonehome(&[
        "replay",
        DEMO,
        "--eve",
        "/dev/null",
        "--catalog",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let table: Vec<&str> = run
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("  findings ("))
        .skip(1)
        .collect();
    assert_eq!(table.len(), 3, "{}", run.stderr);
    assert!(table[0].starts_with("  SEVERITY"), "{}", table[0]);
    let cjk = table
        .iter()
        .find(|l| l.contains("奇虎三六零"))
        .expect("CJK row");
    let latin = table
        .iter()
        .find(|l| l.contains("Trend Micro"))
        .expect("Trend row");
    // The column after VENDOR / PRODUCT starts at the same display column
    // in the header and both rows.
    let at_header = col(table[0], table[0].find("VENDOR CC").unwrap());
    let at_cjk = col(cjk, cjk.find("  CN  ").unwrap() + 2);
    let at_latin = col(latin, latin.find("  JP  ").unwrap() + 2);
    assert_eq!(
        (at_cjk, at_latin),
        (at_header, at_header),
        "\n{}",
        table.join("\n")
    );
    assert!(cjk.contains("奇虎三六零 / 天擎终端安全管理系统"), "{cjk}");
}

#[test]
fn progress_lines_when_asked_off_a_terminal() {
    let run = phonehome(&["replay", DEMO, "--eve", "/dev/null", "--progress"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("phonehome: replay: file "))
        .unwrap_or_else(|| panic!("no progress line:\n{}", run.stderr));
    // The last line carries the run's totals, as the summary counts them.
    let summary_flows = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("  flows: "))
        .and_then(|l| l.split(' ').next())
        .unwrap();
    let findings = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("  findings ("))
        .and_then(|l| l.split(',').next())
        .unwrap();
    assert!(
        line.starts_with(&format!(
            "phonehome: replay: file 1/1, 586 packets, {summary_flows} flows, {findings} findings, "
        )),
        "{line}"
    );
    assert!(line.ends_with(" packets/s"), "{line}");
    // Not without --progress off a terminal, and never with -q.
    let plain = phonehome(&["replay", DEMO, "--eve", "/dev/null"]);
    assert!(
        !plain.stderr.contains("phonehome: replay: file"),
        "{}",
        plain.stderr
    );
    let quiet = phonehome(&["replay", DEMO, "--eve", "/dev/null", "-q", "--progress"]);
    assert_eq!(quiet.code, 2, "-q and --progress conflict");
}
