//! The dependency rule of the crate: data flows one way down the pipeline.
//!
//! Every `crate::…`, `super::…` and `phonehome::…` path in `src/**/*.rs`
//! (code and doc links alike) is read and resolved to the top-level module
//! it names. A module may name only modules of an EARLIER layer of
//! [`LAYERS`]; modules of one layer are siblings and do not name each
//! other. So no import runs from a later stage into an earlier one, and
//! there is no cycle between top-level modules (checked on its own too, for
//! a clearer message). A new top-level module must be given its layer here.
// A test over the crate's own sources: an out-of-range index is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The pipeline, bottom first. `cli` is the binary (`src/main.rs`, `src/cli/`).
const LAYERS: &[&[&str]] = &[
    &["base"],
    &["capture"],
    &["decode"],
    &["flow"],
    &["dissect"],
    &["resolve"],
    &["judge"],
    // export reads the catalog and the policy, and writes rule files.
    &["output", "export"],
    &["sink", "evidence", "inventory"],
    &["report"],
    // health reads the capture, sink and output counters of a running sensor.
    &["health"],
    &["engine"],
    &["cli"],
];

/// One import found: file and line, and the top-level module it names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Import {
    file: String,
    line: usize,
    from: String,
    to: String,
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a source file belongs to, and its module path
/// (`src/flow/table.rs` → `["flow", "table"]`); none for `src/lib.rs`.
fn module_path(rel: &Path) -> Option<Vec<String>> {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut path: Vec<String> = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if !last {
            path.push(p.clone());
            continue;
        }
        let stem = p.strip_suffix(".rs")?;
        match stem {
            "lib" if path.is_empty() => return None,
            // The binary's root: its modules are the command line.
            "main" if path.is_empty() => return Some(vec!["cli".into()]),
            "mod" => {}
            s => path.push(s.to_string()),
        }
    }
    Some(path)
}

/// Source text with string and char literals blanked (comments are kept:
/// a doc link to a later stage is a dependency too).
fn blank_literals(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                // Skip a comment to its line end (quotes in prose are not strings).
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                // A raw string r#"..."# is closed by its own number of hashes.
                let mut hashes = 0;
                let mut k = i;
                while k > 0 && b[k - 1] == b'#' {
                    hashes += 1;
                    k -= 1;
                }
                let raw = k > 0 && b[k - 1] == b'r';
                i += 1;
                while i < b.len() {
                    if !raw && b[i] == b'\\' {
                        out[i] = b' ';
                        i += 1;
                    } else if b[i] == b'"'
                        && (!raw || b[i + 1..].iter().take_while(|&&c| c == b'#').count() >= hashes)
                    {
                        break;
                    } else if b[i] != b'\n' {
                        out[i] = b' ';
                    }
                    i += 1;
                }
                i += 1;
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
                let close = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..]
                        .iter()
                        .position(|&c| c == b'\'')
                        .map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                match close {
                    Some(c) => {
                        for x in &mut out[i + 1..c] {
                            *x = b' ';
                        }
                        i = c + 1;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The identifier at `at`, and where it ends.
fn ident_at(b: &[u8], at: usize) -> (&str, usize) {
    let end = at + b[at..].iter().take_while(|&&c| is_ident(c)).count();
    (std::str::from_utf8(&b[at..end]).unwrap_or(""), end)
}

/// The first segment of each item of a `{a::X, b, c::{..}}` group starting at `open`.
fn group_heads(b: &[u8], open: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect = true;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                expect = depth == 1;
                i += 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
                i += 1;
            }
            b',' => {
                expect = depth == 1;
                i += 1;
            }
            c if expect && is_ident(c) => {
                let (id, end) = ident_at(b, i);
                heads.push(id.to_string());
                expect = false;
                i = end;
            }
            _ => i += 1,
        }
    }
    heads
}

/// The top-level modules a path from the crate root names, the path going
/// on at `at` (one segment, or a `{..}` group); the binary's root is `cli`.
fn root_heads(b: &[u8], at: usize, bin_root: bool) -> Vec<String> {
    if bin_root {
        vec!["cli".into()]
    } else if b.get(at) == Some(&b'{') {
        group_heads(b, at)
    } else {
        vec![ident_at(b, at).0.to_string()]
    }
}

/// The top-level modules a file names, with their lines. `module` is the
/// file's module path; `in_bin` says `crate::` is the binary's own root.
fn imports_of(rel: &str, module: &[String], in_bin: bool, src: &str) -> Vec<Import> {
    let text = blank_literals(src);
    let b = text.as_bytes();
    let from = module[0].clone();
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut push = |at: usize, to: String| {
        if to != from && !to.is_empty() {
            found.push(Import {
                file: rel.to_string(),
                line: line_of(at),
                from: from.clone(),
                to,
            });
        }
    };
    // Inline `mod name {` blocks deepen the module path for `super::`.
    let mut inline: Vec<(usize, String)> = Vec::new(); // (brace depth, name)
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'{' {
            depth += 1;
            if let Some(m) = pending_mod.take() {
                inline.push((depth, m));
            }
            i += 1;
            continue;
        }
        if c == b'}' {
            if inline.last().is_some_and(|(d, _)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        if c == b';' {
            pending_mod = None;
        }
        if !is_ident(c) || (i > 0 && (is_ident(b[i - 1]) || b[i - 1] == b'$')) {
            i += 1;
            continue;
        }
        let (word, end) = ident_at(b, i);
        let after_path = b[end..].starts_with(b"::");
        match word {
            "mod" => {
                let rest = end
                    + b[end..]
                        .iter()
                        .take_while(|c| c.is_ascii_whitespace())
                        .count();
                let (name, _) = ident_at(b, rest);
                if !name.is_empty() {
                    pending_mod = Some(name.to_string());
                }
            }
            "crate" | "phonehome" if after_path => {
                // `crate::` in the binary is its own root: the command line.
                for m in root_heads(b, end + 2, word == "crate" && in_bin) {
                    push(i, m);
                }
            }
            "super" if after_path => {
                // Climb: each `super::` leaves one module; reaching the root
                // means the next segment is a top-level module.
                let mut path: Vec<String> = module.to_vec();
                path.extend(inline.iter().map(|(_, n)| n.clone()));
                let mut at = i;
                while b[at..].starts_with(b"super::") {
                    path.pop();
                    at += "super::".len();
                }
                if path.is_empty() {
                    for m in root_heads(b, at, in_bin) {
                        push(i, m);
                    }
                }
                i = at;
                continue;
            }
            _ => {}
        }
        i = end;
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src/") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every import between top-level modules in the tree under `src`.
fn scan(src: &Path) -> (Vec<Import>, BTreeSet<String>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut imports = Vec::new();
    let mut modules = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(src).expect("under src");
        let Some(module) = module_path(rel) else {
            continue;
        };
        let in_bin = module[0] == "cli";
        modules.insert(module[0].clone());
        let text = std::fs::read_to_string(f).expect("read source");
        let name = format!("src/{}", rel.display());
        imports.extend(imports_of(&name, &module, in_bin, &text));
    }
    (imports, modules)
}

/// What breaks the rule, one line each.
fn violations(imports: &[Import], modules: &BTreeSet<String>) -> Vec<String> {
    let mut bad = Vec::new();
    for m in modules {
        if layer_of(m).is_none() {
            bad.push(format!(
                "src/{m}: a top-level module with no layer: add it to LAYERS in tests/architecture.rs"
            ));
        }
    }
    for i in imports {
        // A module with no layer is reported above.
        let (Some(from), Some(to)) = (layer_of(&i.from), layer_of(&i.to)) else {
            continue;
        };
        if to >= from {
            let what = if to == from {
                "a sibling of the same layer"
            } else {
                "a later stage"
            };
            bad.push(format!(
                "{}:{}: `{}` imports `{}`, {what} (layers: {})",
                i.file,
                i.line,
                i.from,
                i.to,
                LAYERS
                    .iter()
                    .map(|l| l.join("|"))
                    .collect::<Vec<_>>()
                    .join(" < ")
            ));
        }
    }
    bad
}

/// Cycles between top-level modules: each strongly connected component of
/// the import graph that holds more than one module.
fn cycles(imports: &[Import]) -> Vec<Vec<String>> {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for i in imports {
        edges.entry(&i.from).or_default().insert(&i.to);
        edges.entry(&i.to).or_default();
    }
    let reach = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.to_string()];
        while let Some(n) = stack.pop() {
            for &m in edges.get(n.as_str()).into_iter().flatten() {
                if seen.insert(m.to_string()) {
                    stack.push(m.to_string());
                }
            }
        }
        seen
    };
    let mut out: Vec<Vec<String>> = Vec::new();
    for &n in edges.keys() {
        let from_n = reach(n);
        if !from_n.contains(n) {
            continue;
        }
        let mut scc: Vec<String> = from_n
            .iter()
            .filter(|m| reach(m).contains(n))
            .cloned()
            .collect();
        scc.sort();
        if !out.contains(&scc) {
            out.push(scc);
        }
    }
    out
}

#[test]
fn dependencies_run_one_way_down_the_pipeline() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (imports, modules) = scan(&src);
    // The scan saw the whole pipeline (a broken scan must not pass as clean).
    for l in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(modules.contains(*l), "no files of `{l}` found under src/");
    }
    assert!(
        imports.iter().any(|i| i.from == "engine" && i.to == "flow"),
        "the scan found no import at all from engine to flow: it is broken"
    );
    let bad = violations(&imports, &modules);
    assert!(
        bad.is_empty(),
        "imports against the pipeline order:\n  {}",
        bad.join("\n  ")
    );
    let c = cycles(&imports);
    assert!(c.is_empty(), "cycles between top-level modules: {c:?}");
}

#[test]
fn the_check_sees_a_back_arrow_and_a_cycle() {
    let m = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
    let flow = imports_of(
        "src/flow/table.rs",
        &m("flow/table"),
        false,
        "use crate::decode::Packet;\n// a link to [`crate::output::eve`]\nfn f() { crate::engine::replay(); }\n",
    );
    let output = imports_of(
        "src/output/eve.rs",
        &m("output/eve"),
        false,
        "use crate::{base::json::Obj, flow::{FlowMeta, FlowRecord}};\n\
         #[cfg(test)]\nmod tests {\n    use super::super::super::dissect::Event;\n    use super::*;\n}\n\
         const S: &str = \"crate::judge::x\";\n",
    );
    let mut all = flow.clone();
    all.extend(output.clone());
    let targets = |v: &[Import]| v.iter().map(|i| i.to.clone()).collect::<Vec<_>>();
    assert_eq!(targets(&flow), ["decode", "output", "engine"]);
    assert_eq!(
        targets(&output),
        ["base", "flow", "dissect"],
        "a group, and super:: out of an inline module; not a string"
    );
    let modules: BTreeSet<String> = ["flow", "output", "base", "decode", "dissect", "engine"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let bad = violations(&all, &modules);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].starts_with("src/flow/table.rs:2: `flow` imports `output`, a later stage"));
    assert!(bad[1].starts_with("src/flow/table.rs:3: `flow` imports `engine`"));
    assert_eq!(
        cycles(&all),
        vec![vec!["flow".to_string(), "output".to_string()]]
    );
    let mut with_new = modules.clone();
    with_new.insert("scratch".into());
    assert!(violations(&[], &with_new)[0].contains("no layer"));
    // The binary's own `crate::` is the command line.
    let bin = imports_of(
        "src/main.rs",
        &m("cli"),
        true,
        "mod cli;\nfn main() { crate::cli::main() }\n",
    );
    assert!(bin.is_empty(), "{bin:?}");
}
