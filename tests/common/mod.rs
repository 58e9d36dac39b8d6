//! Helpers shared by the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod netns;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Deterministic xorshift for generated mutants: the same ones on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The shared data folder (`../shared` beside the repository, or `$PHONEHOME_SHARED`).
/// Missing data is a failure, never a skip: CI always has it.
pub fn shared() -> PathBuf {
    let p = std::env::var_os("PHONEHOME_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        p.join("captures/MANIFEST.tsv").is_file(),
        "shared test data not found at {} (set PHONEHOME_SHARED or place ../shared beside the repository)",
        p.display()
    );
    p
}

/// Every capture file under `shared/captures`, as paths relative to that folder, sorted.
pub fn corpus() -> Vec<String> {
    let root = shared().join("captures");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    assert!(
        out.len() >= 300,
        "only {} captures found under {}",
        out.len(),
        root.display()
    );
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "expected") {
                continue;
            }
            walk(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel != "MANIFEST.tsv" && rel != "README.md" {
                out.push(rel);
            }
        }
    }
}

/// A oracle file's key/value header (`packets`, `tcp_conversations`, ...).
pub fn oracle_flows(rel: &str) -> std::collections::HashMap<String, String> {
    let p = shared().join("oracle").join(format!("{rel}.flows.txt"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap_or_else(|e| panic!("bad JSON line: {e}")))
            .collect()
    }

    pub fn stats(&self) -> Value {
        let ev = self.events();
        let last = ev.last().expect("no events").clone();
        assert_eq!(last["event_type"], "stats", "last event is not stats");
        last
    }
}

/// Runs the phonehome binary with `args`.
pub fn phonehome(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_phonehome"))
        .args(args)
        .output()
        .expect("cannot run phonehome");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "phonehome panicked on {args:?}:\n{stderr}"
    );
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr,
    }
}

/// `phonehome replay PATH --eve - --workers N -q` plus extra args.
pub fn replay(path: &Path, workers: u16, extra: &[&str]) -> Run {
    let w = workers.to_string();
    let p = path.to_string_lossy().into_owned();
    let mut args = vec![
        "replay",
        p.as_str(),
        "--eve",
        "-",
        "--workers",
        w.as_str(),
        "-q",
    ];
    args.extend_from_slice(extra);
    phonehome(&args)
}

/// Suricata's EVE schema with phonehome's documented additions
/// (`schema/eve-extensions.json`) inserted at their JSON pointers.
pub fn extended_eve_schema() -> Value {
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(shared().join("reference/suricata-eve-schema.json")).unwrap(),
    )
    .unwrap();
    let ext: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/eve-extensions.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for (ptr, sub) in ext["additions"].as_object().unwrap() {
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        let slot = schema
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("extension pointer {parent} not in Suricata's schema"));
        let obj = slot.as_object_mut().unwrap();
        assert!(
            !obj.contains_key(key),
            "extension {ptr} would replace a Suricata definition"
        );
        obj.insert(key.to_string(), sub.clone());
    }
    schema
}

/// Suricata's schema exactly as shipped.
pub fn suricata_eve_schema() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(shared().join("reference/suricata-eve-schema.json")).unwrap(),
    )
    .unwrap()
}

/// Removes phonehome's extension objects so the rest can be checked against
/// Suricata's own schema.
pub fn strip_extensions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("phonehome");
            for (_, x) in m.iter_mut() {
                strip_extensions(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_extensions),
        _ => {}
    }
}

/// Asserts every event validates: whole events against the extended schema,
/// and with extensions removed against Suricata's schema unchanged.
pub struct EveValidator {
    extended: jsonschema::Validator,
    suricata: jsonschema::Validator,
}

impl EveValidator {
    pub fn new() -> Self {
        EveValidator {
            extended: jsonschema::validator_for(&extended_eve_schema()).unwrap(),
            suricata: jsonschema::validator_for(&suricata_eve_schema()).unwrap(),
        }
    }

    /// Problems found in `ev` (empty when valid).
    pub fn problems(&self, ev: &Value) -> Vec<String> {
        let mut out: Vec<String> = self
            .extended
            .iter_errors(ev)
            .map(|e| format!("extended schema: {e} at {}", e.instance_path()))
            .collect();
        let mut bare = ev.clone();
        strip_extensions(&mut bare);
        out.extend(
            self.suricata
                .iter_errors(&bare)
                .map(|e| format!("Suricata schema: {e} at {}", e.instance_path())),
        );
        out
    }
}

/// An address as Rust prints it (RFC 5952: IPv6 compressed), whatever form
/// it was written in: EVE has Suricata's full IPv6, tshark and baselines the
/// compressed one.
pub fn ip_text(s: &str) -> String {
    s.parse::<std::net::IpAddr>()
        .unwrap_or_else(|e| panic!("{s:?} is not an address: {e}"))
        .to_string()
}

/// Two runs wrote the same bytes and ended with the same exit code.
pub fn assert_identical(a: &Run, b: &Run, what: &str) {
    assert_eq!(a.code, b.code, "{what}: exit codes differ");
    assert!(
        a.stdout == b.stdout,
        "{what}: outputs differ ({} vs {} bytes)",
        a.stdout.len(),
        b.stdout.len()
    );
}

/// A name as phonehome writes it (Suricata's escaping: raw ASCII, `\xNN` for
/// bytes that are not UTF-8) rewritten the way tshark prints it: control
/// bytes as C or `\ooo` octal escapes, undecodable bytes as U+FFFD.
pub fn tshark_form(name: &str) -> String {
    let mut out = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'x') {
            let mut look = chars.clone();
            look.next();
            let (a, b) = (look.next(), look.next());
            if a.is_some_and(|a| a.is_ascii_hexdigit()) && b.is_some_and(|b| b.is_ascii_hexdigit())
            {
                chars = look;
                out.push('\u{FFFD}');
                continue;
            }
        }
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if c.is_ascii_control() => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
