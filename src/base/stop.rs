//! Stopping a run from outside (SIGTERM, SIGINT), shared by `replay` and
//! `live`.
//!
//! A [`Stop`] is a flag the packet source honours: once requested, the
//! source ends as if its input had ended, and the run winds down the usual
//! way (every active flow written with reason `shutdown`, then the findings,
//! the stats event and the sinks). A second request asks for an exit at
//! once; [`LineGuard`] makes that exit leave only whole lines in the output.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A shared stop request. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    /// Set by the first request: what a packet source polls.
    requested: Arc<AtomicBool>,
    /// Requests so far.
    count: Arc<AtomicU8>,
}

/// What a stop request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopLevel {
    /// Keep going.
    Running,
    /// Stop reading, then finish the run the usual way.
    Graceful,
    /// Exit at once (a second signal).
    Now,
}

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for a graceful stop; a second request escalates to [`StopLevel::Now`].
    /// Returns the level now in force.
    pub fn request(&self) -> StopLevel {
        let before = self
            .count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(1))
            })
            .unwrap_or(u8::MAX);
        self.requested.store(true, Ordering::SeqCst);
        if before == 0 {
            StopLevel::Graceful
        } else {
            StopLevel::Now
        }
    }

    pub fn level(&self) -> StopLevel {
        match self.count.load(Ordering::Relaxed) {
            0 => StopLevel::Running,
            1 => StopLevel::Graceful,
            _ => StopLevel::Now,
        }
    }

    /// True once any stop was asked for: the source should end.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    /// The flag itself, for code that polls a plain `AtomicBool`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.requested)
    }
}

/// Held while whole lines are handed to the operating system. An exit at
/// once takes it first, so it never lands inside a line.
static OUTPUT_LOCK: Mutex<()> = Mutex::new(());

fn output_lock() -> MutexGuard<'static, ()> {
    // A writer that panicked mid-line poisons nothing we rely on: the lock
    // only orders writes against the exit.
    OUTPUT_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Exits the process at once with `code`, never in the middle of a line a
/// [`LineGuard`] is writing. What writers still buffer is lost, as whole lines.
pub fn exit_now(code: i32) -> ! {
    let _held = output_lock();
    std::process::exit(code)
}

/// A writer whose `write_all` calls (each a whole line, or whole lines, from
/// the EVE writer) reach the inner writer under the output lock, so an
/// [`exit_now`] from another thread cannot cut one. Flushes take the lock too.
pub struct LineGuard<W: Write> {
    inner: W,
}

impl<W: Write> LineGuard<W> {
    pub fn new(inner: W) -> Self {
        LineGuard { inner }
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for LineGuard<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Callers write whole lines with write_all; a bare write is kept whole too.
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let _held = output_lock();
        self.inner.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _held = output_lock();
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_request_is_graceful_second_is_now() {
        let s = Stop::new();
        assert_eq!(s.level(), StopLevel::Running);
        assert!(!s.requested());
        let shared = s.clone();
        assert_eq!(shared.request(), StopLevel::Graceful);
        assert!(s.requested());
        assert_eq!(s.level(), StopLevel::Graceful);
        assert_eq!(s.request(), StopLevel::Now);
        assert_eq!(shared.level(), StopLevel::Now);
        assert_eq!(s.request(), StopLevel::Now);
        assert!(s.flag().load(Ordering::Relaxed));
    }

    #[test]
    fn line_guard_passes_lines_through_whole() {
        let mut g = LineGuard::new(Vec::new());
        g.write_all(b"{\"a\":1}\n").unwrap();
        assert_eq!(g.write(b"{\"b\":2}\n").unwrap(), 8);
        g.flush().unwrap();
        assert_eq!(g.get_mut().as_slice(), b"{\"a\":1}\n{\"b\":2}\n");
    }

    /// While a line is being written, an exit must wait for it: the lock is
    /// held for the whole write_all.
    #[test]
    fn output_lock_is_held_for_the_whole_line() {
        struct Slow(std::sync::mpsc::Sender<bool>);
        impl Write for Slow {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                // Another thread tries the lock mid-line: it must be taken.
                let tx = self.0.clone();
                let busy = std::thread::spawn(move || OUTPUT_LOCK.try_lock().is_err())
                    .join()
                    .unwrap();
                tx.send(busy).unwrap();
                Ok(buf.len().min(3))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let mut g = LineGuard::new(Slow(tx));
        g.write_all(b"0123456789\n").unwrap();
        let seen: Vec<bool> = rx.try_iter().collect();
        assert_eq!(seen.len(), 4, "11 bytes in writes of 3");
        assert!(seen.iter().all(|&b| b), "lock free mid-line: {seen:?}");
    }
}
