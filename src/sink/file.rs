//! Local outputs: the EVE file (rotation by size and time, reopened on
//! SIGHUP) and line-per-document files or standard output for a sink.

use super::config::Rotate;
use super::transport::{Delivery, Transport};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The EVE file: whole lines only (each `write` is one line from
/// [`crate::output::eve::EveWriter`]), so rotation never splits a line.
///
/// On SIGHUP it is closed and opened again by name (appending), for
/// logrotate's `postrotate kill -HUP`.
pub struct EveFile {
    path: PathBuf,
    out: BufWriter<File>,
    written: u64,
    opened: Instant,
    rotate: Rotate,
    hup: Arc<AtomicBool>,
    /// Files this writer rotated to, oldest first.
    pub rotated: Vec<PathBuf>,
}

impl EveFile {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path, rotate: Rotate) -> std::io::Result<EveFile> {
        let f = File::create(path)?;
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))?;
        Ok(EveFile {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, f),
            written: 0,
            opened: Instant::now(),
            rotate,
            hup,
            rotated: Vec::new(),
        })
    }

    /// Closes the file and opens `path` again, appending.
    pub fn reopen(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.written = f.metadata()?.len();
        self.out = BufWriter::with_capacity(1 << 16, f);
        self.opened = Instant::now();
        Ok(())
    }

    fn rotate_now(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let stamp: String = crate::base::time::eve_ts(now)
            .trim_end_matches("+0000")
            .chars()
            .filter(|c| !matches!(c, '-' | ':'))
            .collect();
        let mut target = PathBuf::from(format!("{}.{stamp}", self.path.display()));
        let mut k = 1;
        while target.exists() {
            target = PathBuf::from(format!("{}.{stamp}.{k}", self.path.display()));
            k += 1;
        }
        std::fs::rename(&self.path, &target)?;
        self.rotated.push(target);
        let f = File::create(&self.path)?;
        self.out = BufWriter::with_capacity(1 << 16, f);
        self.written = 0;
        self.opened = Instant::now();
        Ok(())
    }

    fn due(&self) -> bool {
        self.rotate.size.is_some_and(|s| self.written >= s)
            || self
                .rotate
                .secs
                .is_some_and(|s| self.opened.elapsed() >= Duration::from_secs(s))
    }
}

impl Write for EveFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.hup.swap(false, Ordering::Relaxed) {
            self.reopen()?;
        }
        self.out.write_all(buf)?;
        self.written += buf.len() as u64;
        if buf.last() == Some(&b'\n') && self.due() {
            self.rotate_now()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A sink writing one payload per line to a file or standard output.
pub struct Lines {
    what: String,
    out: Box<dyn Write + Send>,
}

impl Lines {
    pub fn open(spec: &str) -> Result<Lines, String> {
        let out: Box<dyn Write + Send> = if spec == "-" {
            Box::new(BufWriter::new(std::io::stdout()))
        } else {
            Box::new(BufWriter::new(
                File::create(spec).map_err(|e| format!("cannot write {spec}: {e}"))?,
            ))
        };
        Ok(Lines {
            what: if spec == "-" {
                "standard output".into()
            } else {
                spec.to_string()
            },
            out,
        })
    }
}

impl Transport for Lines {
    fn send(&mut self, batch: &[&[u8]]) -> Delivery {
        for (i, p) in batch.iter().enumerate() {
            if let Err(e) = self
                .out
                .write_all(p)
                .and_then(|_| self.out.write_all(b"\n"))
            {
                return Delivery::failed(i, format!("{}: {e}", self.what));
            }
        }
        match self.out.flush() {
            Ok(()) => Delivery::all(batch.len()),
            Err(e) => Delivery::failed(0, format!("{}: {e}", self.what)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_on_line_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eve.json");
        let mut f = EveFile::create(
            &p,
            Rotate {
                size: Some(20),
                secs: None,
            },
        )
        .unwrap();
        for i in 0..5 {
            f.write_all(format!("{{\"line\":{i:05}}}\n").as_bytes())
                .unwrap();
        }
        f.flush().unwrap();
        // 15-byte lines: every second line closes a file.
        assert_eq!(f.rotated.len(), 2);
        let mut all = String::new();
        for r in &f.rotated {
            let t = std::fs::read_to_string(r).unwrap();
            assert_eq!(t.lines().count(), 2);
            all.push_str(&t);
        }
        all.push_str(&std::fs::read_to_string(&p).unwrap());
        let want: String = (0..5).map(|i| format!("{{\"line\":{i:05}}}\n")).collect();
        assert_eq!(all, want);
    }

    #[test]
    fn reopens_after_the_file_was_moved() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("eve.json");
        let mut f = EveFile::create(&p, Rotate::default()).unwrap();
        f.write_all(b"{\"a\":1}\n").unwrap();
        f.flush().unwrap();
        let moved = dir.path().join("eve.json.1");
        std::fs::rename(&p, &moved).unwrap();
        // A real SIGHUP, as logrotate's `kill -HUP` sends (the handler is
        // the flag EveFile::create registered).
        signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();
        assert!(f.hup.load(Ordering::Relaxed));
        f.write_all(b"{\"a\":2}\n").unwrap();
        f.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&moved).unwrap(), "{\"a\":1}\n");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":2}\n");
    }
}
