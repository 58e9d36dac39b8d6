//! Embeds every `catalog/*.toml` into the binary, so the shipped vendor catalog
//! works with no files around. Generates `$OUT_DIR/catalog_files.rs`, a sorted
//! list of `(file name, contents)` pairs built from `include_str!`.
use std::{env, fs, path::PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = manifest.join("catalog");
    // A directory here makes Cargo rescan it, so added or removed files rebuild too.
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = match fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".toml"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    let mut out =
        String::from("/// Shipped catalog files: (file name, TOML text), sorted by name.\n");
    out.push_str("pub(crate) static EMBEDDED: &[(&str, &str)] = &[\n");
    for n in &names {
        let path = dir.join(n);
        out.push_str(&format!(
            "    ({n:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = fs::write(out_dir.join("catalog_files.rs"), out) {
        println!("cargo:warning=cannot write catalog_files.rs: {e}");
        std::process::exit(1);
    }
}
