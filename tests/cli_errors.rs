//! Bad input gets one clear line naming the thing and what is wrong, and the
//! documented exit code (1 runtime, 2 usage).
#![allow(clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::phonehome;

fn error_line(args: &[&str], code: i32) -> String {
    let run = phonehome(args);
    assert_eq!(run.code, code, "{args:?}: stderr {}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line expected, got {lines:?}");
    lines[0].to_string()
}

#[test]
fn missing_capture_is_named_once_with_its_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such.pcap");
    let m = missing.to_string_lossy().into_owned();
    let line = error_line(&["replay", &m, "--eve", "/dev/null", "-q"], 1);
    assert_eq!(
        line,
        format!("phonehome: error: {m}: cannot open: No such file or directory (os error 2)")
    );
}

#[test]
fn a_text_file_is_not_a_capture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("notes.pcap");
    std::fs::write(&f, b"root:x:0:0\n").expect("write");
    let p = f.to_string_lossy().into_owned();
    let line = error_line(&["replay", &p, "--eve", "/dev/null", "-q"], 1);
    assert_eq!(
        line,
        format!("phonehome: error: {p}: not a pcap or pcapng capture (starts with 72 6f 6f 74)")
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let run = phonehome(&["replay", "--no-such-flag", "x.pcap"]);
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert!(
        run.stderr.contains("unexpected argument '--no-such-flag'"),
        "stderr: {}",
        run.stderr
    );
}

/// A site overlay with one broken entry (a public suffix as owned domain).
fn broken_overlay() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("site.toml"),
        "vendor = \"Site AV\"\njurisdiction = [\"DE\"]\n\n[[owned_domain]]\ndomain = \"co.uk\"\nsource = \"https://site.example/av\"\n\n[[product]]\nname = \"Agent\"\n\n[[product.endpoint]]\nhost = \"av.site.example\"\npurpose = \"telemetry\"\nconfidence = \"documented\"\nsource = \"https://site.example/av\"\n",
    )
    .expect("write");
    dir
}

#[test]
fn a_catalog_with_entry_errors_refuses_to_start_unless_allowed() {
    let extra = broken_overlay();
    let x = extra
        .path()
        .join("site.toml")
        .to_string_lossy()
        .into_owned();
    let e = extra.path().to_string_lossy().into_owned();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/demo.pcap");
    let base = [
        "replay",
        demo,
        "--eve",
        "/dev/null",
        "-q",
        "--catalog-extra",
        &e,
    ];
    let line = error_line(&base, 1);
    assert_eq!(
        line,
        format!(
            "phonehome: error: catalog {x}:5: owned_domain \"co.uk\": is a public suffix (Public Suffix List): anyone can register names under it (see `phonehome catalog check`; --allow-catalog-errors leaves such entries out)"
        )
    );
    let mut allowed = base.to_vec();
    allowed.push("--allow-catalog-errors");
    let run = phonehome(&allowed);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // `catalog check` lists it and fails; `catalog match` refuses like replay.
    let check = phonehome(&["catalog", "check", "--catalog-extra", &e]);
    assert_eq!(check.code, 1);
    assert!(String::from_utf8_lossy(&check.stdout)
        .contains(&format!("{x}:5: error: owned_domain \"co.uk\"")));
    let m = phonehome(&["catalog", "match", "av.site.example", "--catalog-extra", &e]);
    assert_eq!(m.code, 1);
    let m = phonehome(&[
        "catalog",
        "match",
        "av.site.example",
        "--catalog-extra",
        &e,
        "--allow-catalog-errors",
    ]);
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(
        String::from_utf8_lossy(&m.stdout),
        "av.site.example\tSite AV / Agent\tDE\tendpoint\thost av.site.example\ttelemetry\tdocumented\thttps://site.example/av\n"
    );
}

#[test]
fn catalog_match_prints_the_tier_and_the_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("acme.toml"),
        "vendor = \"Acme\"\njurisdiction = [\"IL\"]\n\n[[owned_domain]]\ndomain = \"acme-telemetry.example\"\nsource = \"https://acme.example/firewall\"\n\n[[owned_domain]]\ndomain = \"acme.example\"\nsource = \"https://acme.example/about\"\nwebsite = true\n\n[[asn]]\nnumber = 50881\nname = \"ESET, spol. s r.o.\"\nsource = \"https://acme.example/networks\"\n\n[[product]]\nname = \"EDR\"\n\n[[product.endpoint]]\nhost = \"t1.acme-telemetry.example\"\npurpose = \"telemetry\"\nconfidence = \"documented\"\nsource = \"https://acme.example/firewall\"\n",
    )
    .expect("write");
    let d = dir.path().to_string_lossy().into_owned();
    let run = phonehome(&[
        "catalog",
        "match",
        "--catalog",
        &d,
        "t1.acme-telemetry.example",
        "eu9.acme-telemetry.example",
        "www.acme.example",
        "91.228.165.30",
    ]);
    assert_eq!(run.code, 3, "one item does not match: {}", run.stderr);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "t1.acme-telemetry.example\tAcme / EDR\tIL\tendpoint\thost t1.acme-telemetry.example\ttelemetry\tdocumented\thttps://acme.example/firewall\n\
         eu9.acme-telemetry.example\tAcme / EDR\tIL\towned_domain\towned_domain acme-telemetry.example\tunspecified\tdocumented\thttps://acme.example/firewall\n\
         www.acme.example\tno match (web presence: never evidence)\n\
         91.228.165.30\tAcme / unidentified product\tIL\towned_network\tasn AS50881\tunspecified\tdocumented\thttps://acme.example/networks\n"
    );
}
