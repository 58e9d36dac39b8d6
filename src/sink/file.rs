//! Local outputs: the EVE file (rotation by size and time, reopened on
//! SIGHUP) and line-per-document files or standard output for a sink.

use super::config::Rotate;
use super::transport::{Delivery, Start, Transport};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The EVE file: whole lines only (each `write` is one or more whole lines
/// from [`crate::output::eve::EveWriter`]), so rotation never splits a line.
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
        if self.rotate == Rotate::default() {
            self.out.write_all(buf)?;
            self.written += buf.len() as u64;
            return Ok(buf.len());
        }
        // Rotation is checked after each line, as when lines came one by one.
        for line in buf.split_inclusive(|&b| b == b'\n') {
            self.out.write_all(line)?;
            self.written += line.len() as u64;
            if line.last() == Some(&b'\n') && self.due() {
                self.rotate_now()?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A sink writing one payload per line to a file or standard output.
///
/// A file counts a batch as delivered only once it is on the disk
/// (`fdatasync`); a batch that could not be written whole (a full disk) is
/// cut off again, so the file holds whole lines of acknowledged batches
/// only and the batch is retried (spooled meanwhile). The file is not
/// emptied while an earlier run's spool is still owed to it.
pub struct Lines {
    path: String,
    out: Option<File>,
    /// Length of the file after the last acknowledged batch.
    len: u64,
    buf: Vec<u8>,
}

impl Lines {
    /// Opens nothing yet: [`Transport::start`] does.
    pub fn new(spec: &str) -> Lines {
        Lines {
            path: spec.to_string(),
            out: None,
            len: 0,
            buf: Vec::new(),
        }
    }

    fn what(&self) -> &str {
        if self.path == "-" {
            "standard output"
        } else {
            &self.path
        }
    }
}

impl Transport for Lines {
    fn start(&mut self, how: Start) -> Result<(), String> {
        if self.path == "-" {
            return Ok(());
        }
        let p = &self.path;
        let cannot = |e: std::io::Error| format!("cannot write {p}: {e}");
        let f = match how {
            Start::Fresh => File::create(p).map_err(cannot)?,
            Start::Keep | Start::Resume(_) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(cannot)?,
        };
        let mut len = f.metadata().map_err(cannot)?.len();
        if let Start::Resume(Some(at)) = how {
            // Lines written after the last acknowledgement are sent again.
            if at < len {
                f.set_len(at).map_err(cannot)?;
                len = at;
            }
        }
        self.len = len;
        self.out = Some(f);
        Ok(())
    }

    fn send(&mut self, batch: &[&[u8]]) -> Delivery {
        self.buf.clear();
        for p in batch {
            self.buf.extend_from_slice(p);
            self.buf.push(b'\n');
        }
        let Some(f) = self.out.as_mut() else {
            if self.path != "-" {
                return Delivery::failed(0, format!("{}: not open", self.what()));
            }
            let mut out = std::io::stdout().lock();
            return match out.write_all(&self.buf).and_then(|_| out.flush()) {
                Ok(()) => Delivery::all(batch.len()),
                Err(e) => Delivery::failed(0, format!("standard output: {e}")),
            };
        };
        match f.write_all(&self.buf).and_then(|_| f.sync_data()) {
            Ok(()) => {
                self.len += self.buf.len() as u64;
                Delivery::all(batch.len())
            }
            Err(e) => {
                // Whatever part reached the file goes: the batch is retried whole.
                let _ = f.set_len(self.len);
                Delivery::failed(0, format!("{}: {e}", self.what()))
            }
        }
    }

    fn position(&self) -> Option<u64> {
        self.out.as_ref().map(|_| self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Line by line or in one batch of whole lines (as the EVE writer
    /// hands them on), the files close after the same lines.
    #[test]
    fn rotates_by_size_on_line_boundaries() {
        for batched in [false, true] {
            rotates_by_size(batched);
        }
    }

    fn rotates_by_size(batched: bool) {
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
        let lines: Vec<String> = (0..5).map(|i| format!("{{\"line\":{i:05}}}\n")).collect();
        if batched {
            f.write_all(lines.concat().as_bytes()).unwrap();
        } else {
            for l in &lines {
                f.write_all(l.as_bytes()).unwrap();
            }
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

    #[test]
    fn the_lines_file_keeps_an_owed_spool_and_resumes_at_its_acknowledged_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ecs.json");
        let spec = p.to_str().unwrap();
        std::fs::write(&p, "earlier\n").unwrap();
        // An earlier run's records are still owed to the file: kept.
        let mut l = Lines::new(spec);
        l.start(Start::Keep).unwrap();
        assert_eq!(l.send(&[b"a", b"b"]), Delivery::all(2));
        assert_eq!(l.position(), Some(12));
        // Killed after writing more than was acknowledged: cut back.
        std::fs::write(&p, "earlier\na\nb\nhalf-writ").unwrap();
        let mut l = Lines::new(spec);
        l.start(Start::Resume(Some(12))).unwrap();
        assert_eq!(l.send(&[b"c"]), Delivery::all(1));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "earlier\na\nb\nc\n");
        // A fresh run starts the file again.
        let mut l = Lines::new(spec);
        l.start(Start::Fresh).unwrap();
        assert_eq!(l.send(&[b"z"]), Delivery::all(1));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "z\n");
    }

    #[test]
    fn a_full_disk_counts_nothing_and_leaves_only_whole_lines() {
        // /dev/full refuses every write with ENOSPC, as a full disk does.
        let mut l = Lines::new("/dev/full");
        l.start(Start::Keep).unwrap();
        let d = l.send(&[b"a", b"b"]);
        assert_eq!(d.settled, 0);
        assert!(d.error.unwrap().contains("/dev/full"));
    }
}
