//! Where the unit tests find the shared test data.

use std::path::{Path, PathBuf};

/// The shared data folder (`../shared` beside the repository, or
/// `$PHONEHOME_SHARED`). Missing data is a failure, never a skip: CI always has it.
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
