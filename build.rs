//! Builds the shipped vendor catalog into the binary. Every `catalog/*.toml`
//! is loaded and checked here with the library's own catalog code (the same
//! source files, included below), and the build FAILS on any catalog error,
//! naming file and line. The validated vendors are written to
//! `$OUT_DIR/catalog_shipped.rs` as static data (read by
//! `src/resolve/catalog/shipped.rs`), so a run starts without parsing TOML or
//! re-checking the shipped catalog. User catalogs (`--catalog`,
//! `--catalog-extra`) are still read as TOML and checked at every start.
#![allow(dead_code)] // the included modules serve the library; the build uses a part

use std::fmt::Write as _;
use std::{env, fs, path::PathBuf};

#[path = "src/base/country.rs"]
mod country;
#[path = "src/base/lines.rs"]
mod lines;
/// `crate::base::...` as the included modules name it.
mod base {
    pub(crate) use super::{country, lines};
}
/// `check::asn_database` names this type; the build never calls it.
mod resolve {
    pub(crate) mod geoip {
        pub struct AsnEntry {
            pub name: String,
            pub address: std::net::IpAddr,
        }
    }
}
#[path = "src/resolve/catalog/check.rs"]
mod check;
#[path = "src/resolve/catalog/load.rs"]
mod load;
#[path = "src/resolve/catalog/model.rs"]
mod model;
#[path = "src/resolve/catalog/names.rs"]
mod names;
#[path = "src/resolve/catalog/platforms.rs"]
mod platforms;

const SOURCES: &[&str] = &[
    "src/base/country.rs",
    "src/base/lines.rs",
    "src/resolve/catalog/check.rs",
    "src/resolve/catalog/load.rs",
    "src/resolve/catalog/model.rs",
    "src/resolve/catalog/names.rs",
    "src/resolve/catalog/platforms.rs",
];

fn fail(message: &str) -> ! {
    for line in message.lines() {
        println!("cargo:warning={line}");
    }
    eprintln!("{message}");
    std::process::exit(1);
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = manifest.join("catalog");
    // A directory here makes Cargo rescan it, so added or removed files rebuild too.
    println!("cargo:rerun-if-changed={}", dir.display());
    for s in SOURCES {
        println!("cargo:rerun-if-changed={s}");
    }
    let mut files: Vec<String> = match fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".toml"))
            .collect(),
        Err(e) => fail(&format!("cannot read {}: {e}", dir.display())),
    };
    files.sort();

    // As `Catalog::from_files` then `Catalog::check` do at run time.
    let mut vendors = Vec::new();
    let mut issues = Vec::new();
    for n in &files {
        let text = fs::read_to_string(dir.join(n))
            .unwrap_or_else(|e| fail(&format!("cannot read catalog/{n}: {e}")));
        let slug = n.strip_suffix(".toml").unwrap_or(n);
        match load::parse_file(&format!("catalog/{n}"), slug, &text, &mut issues, None) {
            Ok(v) => vendors.push(v),
            Err(e) => fail(&format!("shipped catalog: {e}")),
        }
    }
    let mut errors: Vec<String> = issues
        .iter()
        .chain(check::run(&vendors).iter())
        .filter(|i| i.severity == check::Severity::Error)
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        errors.sort();
        fail(&format!(
            "the shipped catalog has {} error(s); fix them (`phonehome catalog check --catalog catalog` lists them too):\n{}",
            errors.len(),
            errors.join("\n")
        ));
    }

    let out = generate(&vendors, &issues);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = fs::write(out_dir.join("catalog_shipped.rs"), out) {
        fail(&format!("cannot write catalog_shipped.rs: {e}"));
    }
}

/// A Rust string literal (`Debug` of `str` escapes as Rust reads it back).
fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn opt(s: Option<&String>) -> String {
    match s {
        Some(s) => format!("Some({s:?})"),
        None => "None".into(),
    }
}

fn generate(vendors: &[model::Vendor], issues: &[check::CheckIssue]) -> String {
    let mut o = String::from("// Written by build.rs from catalog/*.toml: do not edit.\n");
    o.push_str("static VENDORS: &[SVendor] = &[\n");
    for v in vendors {
        let _ = writeln!(
            o,
            "SVendor {{ slug: {}, name: {}, jurisdiction: &[{}], parent: {}, notes: {}, file: {},",
            lit(&v.slug),
            lit(&v.name),
            v.jurisdiction
                .iter()
                .map(|c| lit(c))
                .collect::<Vec<_>>()
                .join(", "),
            opt(v.parent.as_ref()),
            opt(v.notes.as_ref()),
            lit(&v.file),
        );
        o.push_str("products: &[\n");
        for p in &v.products {
            let _ = writeln!(
                o,
                "SProduct {{ name: {}, kind: ProductKind::{:?}, notes: {}, line: {}, endpoints: &[",
                lit(&p.name),
                p.kind,
                opt(p.notes.as_ref()),
                p.line
            );
            for e in &p.endpoints {
                let _ = writeln!(
                    o,
                    "SEndpoint {{ kind: EndpointKind::{:?}, pattern: {}, purpose: Purpose::{:?}, source: {}, confidence: Confidence::{:?}, shared_cloud: {}, region: {}, ports: {}, notes: {}, line: {} }},",
                    e.kind,
                    lit(&e.pattern),
                    e.purpose,
                    lit(&e.source),
                    e.confidence,
                    e.shared_cloud,
                    opt(e.region.as_ref()),
                    opt(e.ports.as_ref()),
                    opt(e.notes.as_ref()),
                    e.line
                );
            }
            o.push_str("] },\n");
        }
        o.push_str("],\nowned_domains: &[\n");
        for d in &v.owned_domains {
            let _ = writeln!(
                o,
                "SOwnedDomain {{ domain: {}, source: {}, product: {}, website: {}, notes: {}, line: {} }},",
                lit(&d.domain),
                lit(&d.source),
                opt(d.product.as_ref()),
                d.website,
                opt(d.notes.as_ref()),
                d.line
            );
        }
        o.push_str("],\nweb_presence: &[\n");
        for w in &v.web_presence {
            let _ = writeln!(
                o,
                "SWebPresence {{ kind: EndpointKind::{:?}, pattern: {}, source: {}, notes: {}, line: {} }},",
                w.kind,
                lit(&w.pattern),
                lit(&w.source),
                opt(w.notes.as_ref()),
                w.line
            );
        }
        o.push_str("],\nasns: &[\n");
        for a in &v.asns {
            let _ = writeln!(
                o,
                "SAsn {{ number: {}, name: {}, source: {}, product: {}, notes: {}, line: {} }},",
                a.number,
                lit(&a.name),
                lit(&a.source),
                opt(a.product.as_ref()),
                opt(a.notes.as_ref()),
                a.line
            );
        }
        o.push_str("] },\n");
    }
    o.push_str("];\n\nstatic LOAD_ISSUES: &[SIssue] = &[\n");
    for i in issues {
        let _ = writeln!(
            o,
            "SIssue {{ file: {}, line: {}, severity: Severity::{:?}, kind: IssueKind::{:?}, message: {} }},",
            lit(&i.file),
            i.line,
            i.severity,
            i.kind,
            lit(&i.message)
        );
    }
    o.push_str("];\n");
    o
}
