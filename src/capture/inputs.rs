//! Turning the paths given on the command line into an ordered list of capture files.

use super::{Block, CaptureError, CaptureFile, Format};
use std::path::{Path, PathBuf};

/// A capture file to replay, checked and placed in time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// `-` for standard input.
    pub path: PathBuf,
    /// None for standard input (known once it is read).
    pub format: Option<Format>,
    pub gzip: bool,
    /// Timestamp of the first packet (None for a capture without packets).
    pub first_ts: Option<u64>,
}

/// Result of expanding paths: the captures in time order, and the files in
/// directories that were passed over because they are not captures.
#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<InputFile>,
    pub skipped: Vec<CaptureError>,
}

/// Expands files and directories (recursively) into capture files ordered by
/// their first packet's time, ties by path.
///
/// A path named explicitly must be a readable capture, or the whole call fails
/// naming it. Inside a directory, files that are not captures are skipped and
/// listed in [`Inputs::skipped`]. `-` is standard input, read as it comes
/// (it cannot be probed ahead), and must be the only path.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Inputs, CaptureError> {
    let mut out = Inputs::default();
    if paths.iter().any(|p| super::is_stdin(p)) {
        if paths.len() > 1 {
            return Err(CaptureError::StdinNotAlone);
        }
        out.files.push(InputFile {
            path: PathBuf::from("-"),
            format: None,
            gzip: false,
            first_ts: None,
        });
        return Ok(out);
    }
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| CaptureError::Open {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|source| CaptureError::Open {
                path: path.clone(),
                source,
            })?;
            found.sort();
            let before = out.files.len();
            for f in found {
                match probe(&f) {
                    Ok(i) => out.files.push(i),
                    Err(e) => out.skipped.push(e),
                }
            }
            if out.files.len() == before {
                return Err(CaptureError::EmptyDirectory { path: path.clone() });
            }
        } else {
            out.files.push(probe(path)?);
        }
    }
    // Stable: equal times keep the order given.
    out.files
        .sort_by_key(|f| (f.first_ts.is_none(), f.first_ts.unwrap_or(0)));
    Ok(out)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&entry.path(), found)?;
        } else if ft.is_file() || ft.is_symlink() {
            found.push(entry.path());
        }
    }
    Ok(())
}

/// Opens a file, checks it is a capture, and reads its first packet's time.
pub fn probe(path: &Path) -> Result<InputFile, CaptureError> {
    let mut file = CaptureFile::open(path)?;
    let mut block = Block::default();
    let first_ts = match file.fill(&mut block, 1 << 16) {
        Ok(_) => block.packets.first().map(|p| p.ts_ns),
        // Damage shows up again, and is reported, when the file is replayed.
        Err(CaptureError::Corrupt { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(InputFile {
        path: path.to_owned(),
        format: Some(file.format()),
        gzip: file.is_gzip(),
        first_ts,
    })
}
