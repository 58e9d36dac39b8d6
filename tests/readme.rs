//! The README is tested: its quick start sample is the real output of the
//! replay `scripts/demo` runs, its catalog/geoip session is run command by
//! command, the flags its usage and replay examples use exist, and its exit
//! code table is the one `--help` prints. Timings are left aside.
//!
//! The samples are generated, never hand-typed: after a change that moves
//! them, `PHONEHOME_BLESS_README=1 cargo test --test readme` rewrites them
//! from real runs (then review the diff).
//!
//! Blocks are found by a marker on the line before them:
//! `<!-- readme-test: demo -->`, `session`, `flags`, `exit-codes`.
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_phonehome");

fn readme() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap()
}

fn blessing() -> bool {
    std::env::var_os("PHONEHOME_BLESS_README").is_some()
}

/// The code block after `<!-- readme-test: NAME -->`: its byte range (the
/// lines between the fences) and text.
fn block(text: &str, name: &str) -> (std::ops::Range<usize>, String) {
    let marker = format!("<!-- readme-test: {name} -->\n");
    let at = text
        .find(&marker)
        .unwrap_or_else(|| panic!("README has no {marker:?}"));
    let rest = &text[at + marker.len()..];
    let fence_end = rest.find('\n').expect("fence line");
    assert!(
        rest.starts_with("```"),
        "{name}: a code block must follow the marker"
    );
    let body_start = at + marker.len() + fence_end + 1;
    let close = text[body_start..]
        .find("```")
        .unwrap_or_else(|| panic!("{name}: unclosed block"));
    let range = body_start..body_start + close;
    (range.clone(), text[range].to_string())
}

/// Rewrites the block `name` with `body` (blessing), or asserts they agree
/// under `same`.
fn check_or_bless(name: &str, body: &str, same: impl Fn(&str, &str) -> Result<(), String>) {
    let text = readme();
    let (range, old) = block(&text, name);
    if blessing() {
        let mut new = text.clone();
        new.replace_range(range, body);
        std::fs::write(Path::new(ROOT).join("README.md"), new).unwrap();
        return;
    }
    if let Err(e) = same(&old, body) {
        panic!(
            "README block {name:?} drifted from the tool: {e}\n--- README ---\n{old}--- tool ---\n{body}\n\
             (PHONEHOME_BLESS_README=1 cargo test --test readme rewrites it)"
        );
    }
}

/// "phonehome: 586 packets (...) from 1 file(s) in 0.10s (5.9k packets/s)":
/// the time and rate left out.
fn without_timing(line: &str) -> String {
    match (line.find(" in "), line.find(" packets/s)")) {
        (Some(a), Some(b)) if line.starts_with("phonehome: ") && a < b => {
            format!("{} in <time>", &line[..a])
        }
        _ => line.to_string(),
    }
}

fn lines_equal(readme: &str, tool: &str, norm: impl Fn(&str) -> String) -> Result<(), String> {
    let a: Vec<String> = readme.lines().map(&norm).collect();
    let b: Vec<String> = tool.lines().map(&norm).collect();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if x != y {
            return Err(format!("line {}: README {x:?}, tool {y:?}", i + 1));
        }
    }
    if a.len() != b.len() {
        return Err(format!("README {} lines, tool {} lines", a.len(), b.len()));
    }
    Ok(())
}

#[test]
fn quick_start_sample_is_the_demo_replay() {
    // The replay scripts/demo runs, in a scratch directory so that the
    // summary names eve.json as it does there.
    let demo = std::fs::read_to_string(Path::new(ROOT).join("scripts/demo")).unwrap();
    assert!(
        demo.contains("phonehome replay captures/demo.pcap --eve eve.json \"$@\""),
        "scripts/demo no longer runs the replay this test checks"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "replay",
            &format!("{ROOT}/captures/demo.pcap"),
            "--eve",
            "eve.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    check_or_bless("demo", &stderr, |readme, tool| {
        lines_equal(readme, tool, without_timing)
    });
}

/// Runs one `$ phonehome ...` line of the session (words split on blanks;
/// a `#` comment after two blanks is dropped). Output: stdout, then stderr,
/// as a terminal shows them.
fn run_session_line(cmd: &str) -> String {
    let cmd = cmd.split("  #").next().unwrap().trim();
    let words: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(words[0], "phonehome", "{cmd}");
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(&words[1..])
        .output()
        .unwrap();
    let mut text = String::from_utf8(out.stdout).unwrap();
    text.push_str(&String::from_utf8(out.stderr).unwrap());
    // Tabs shown as two blanks: the README compares blank runs as one.
    text.replace('\t', "  ")
}

/// `want` (the README) against `got` (the tool) line by line, blank runs
/// compared as one blank; a README line `...` stands for any lines.
fn session_equal(want: &str, got: &str) -> Result<(), String> {
    let norm = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let want: Vec<String> = want.lines().map(norm).collect();
    let got: Vec<String> = got.lines().map(norm).collect();
    let (mut i, mut j) = (0, 0);
    while i < want.len() {
        if want[i] == "..." {
            let next = want.get(i + 1);
            while j < got.len() && Some(&got[j]) != next {
                j += 1;
            }
            i += 1;
            continue;
        }
        match got.get(j) {
            Some(g) if *g == want[i] => {}
            g => return Err(format!("README {:?}, tool {:?}", want[i], g)),
        }
        i += 1;
        j += 1;
    }
    if j < got.len() {
        return Err(format!("tool printed more: {:?}", got[j]));
    }
    Ok(())
}

#[test]
fn catalog_and_geoip_session_is_what_the_tool_prints() {
    let text = readme();
    let (_, old) = block(&text, "session");
    // Each command with the README's output under it.
    let mut parts: Vec<(String, String)> = Vec::new();
    for line in old.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            parts.push((cmd.to_string(), String::new()));
        } else if let Some((_, out)) = parts.last_mut() {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(parts.len() >= 3, "session has {} commands", parts.len());
    let mut fresh = String::new();
    let mut errors = Vec::new();
    for (cmd, want) in &parts {
        let got = run_session_line(cmd);
        if let Err(e) = session_equal(want, &got) {
            errors.push(format!("$ {cmd}: {e}"));
        }
        fresh.push_str(&format!("$ {cmd}\n"));
        // A long listing keeps the README's "..." elision when blessed: the
        // tool's first lines before it, its last lines after it.
        let lines: Vec<&str> = want.lines().collect();
        match lines.iter().position(|l| l.trim() == "...") {
            Some(cut) => {
                let got: Vec<&str> = got.lines().collect();
                let tail = (lines.len() - cut - 1).min(got.len());
                for l in got.iter().take(cut.min(got.len() - tail)) {
                    fresh.push_str(&format!("{l}\n"));
                }
                fresh.push_str("...\n");
                for l in &got[got.len() - tail..] {
                    fresh.push_str(&format!("{l}\n"));
                }
            }
            None => fresh.push_str(&got),
        }
    }
    check_or_bless("session", &fresh, |_, _| {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    });
}

/// `phonehome SUB [SUB2] --help`: the command's help, or None when the
/// words are no command.
fn help_of(sub: &[&str]) -> Option<String> {
    let out = Command::new(BIN).args(sub).arg("--help").output().unwrap();
    (out.status.code() == Some(0)).then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn usage_and_replay_examples_use_real_flags() {
    let text = readme();
    let mut checked = 0;
    for (name, synopsis) in [("usage", true), ("flags", false)] {
        let (_, body) = block(&text, name);
        // A synopsis continues on indented lines.
        let mut commands: Vec<String> = Vec::new();
        for line in body.lines() {
            let line = line.split("  #").next().unwrap();
            match commands.last_mut() {
                Some(last) if line.starts_with(' ') => {
                    last.push(' ');
                    last.push_str(line.trim());
                }
                _ => commands.push(line.to_string()),
            }
        }
        for cmd in commands {
            // Pipelines and `&&` chains: each `phonehome` part is checked; in
            // the synopsis, `| show VENDOR` alternatives belong to the command
            // before them.
            let mut help: Option<(String, String)> = None;
            for seg in cmd.split(['|', '&']).map(str::trim) {
                if let Some(rest) = seg.strip_prefix("phonehome ") {
                    let mut sub: Vec<&str> = Vec::new();
                    for w in rest.split_whitespace().take(2) {
                        if !w.chars().all(|c| c.is_ascii_lowercase()) {
                            break;
                        }
                        sub.push(w);
                        if help_of(&sub).is_none() {
                            sub.pop();
                            break;
                        }
                    }
                    assert!(!sub.is_empty(), "README {name}: `{seg}` names no command");
                    help = help_of(&sub).map(|h| (sub.join(" "), h));
                } else if !synopsis {
                    help = None;
                }
                let Some((sub, h)) = &help else { continue };
                for flag in seg.split(|c: char| c.is_whitespace() || "[]=".contains(c)) {
                    if !flag.starts_with("--") || flag == "--help" {
                        continue;
                    }
                    let listed = [" ", ",", "\n", "="]
                        .iter()
                        .any(|end| h.contains(&format!("{flag}{end}")));
                    assert!(
                        listed,
                        "README {name} block: `{seg}` uses {flag}, which `phonehome {sub} --help` does not list"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} flags checked");
}

#[test]
fn exit_code_table_is_the_one_help_prints() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let table = &help[help.find("Exit codes:\n").expect("--help lists exit codes")..];
    check_or_bless("exit-codes", table, |readme, tool| {
        lines_equal(readme, tool, |l| l.trim_end().to_string())
    });
}
