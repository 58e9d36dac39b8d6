//! The progress bar on stderr while a pass over the inputs runs: replay,
//! evidence, report. It samples the pass's [`Progress`] counters from a
//! thread of its own, so the pipeline never formats anything for it.
//!
//! indicatif draws the bar: it was already in the tree, sizes the bar to the
//! terminal, throttles redraws and clears the line when done; it draws
//! nothing when stderr is not a terminal, where `--progress` gets plain
//! lines instead (for logs and CI).

use phonehome::base::Progress;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When to show progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// A bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// As `Auto` on a terminal; elsewhere a plain line every few seconds
    /// and one at the end.
    Always,
    Never,
}

/// How often the bar is redrawn, and how often a plain line is written.
const TICK: Duration = Duration::from_millis(100);
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Progress on stderr over `total` input bytes and `files` input files,
/// fed from `progress` by a thread until dropped.
pub struct Bar {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    bar: Option<indicatif::ProgressBar>,
    /// Plain lines (not a terminal): the last one is written on drop.
    lines: Option<Line>,
}

/// What a plain progress line needs.
struct Line {
    label: String,
    files: u64,
    progress: Arc<Progress>,
    started: Instant,
}

impl Line {
    fn text(&self) -> String {
        format!(
            "phonehome: {}: {}",
            self.label,
            status(&self.progress, self.files, self.started.elapsed())
        )
    }
}

/// "file 2/5, 1234567 packets, 4321 flows, 12 findings, 250.3k packets/s".
fn status(p: &Progress, files: u64, elapsed: Duration) -> String {
    let packets = p.packets.load(Ordering::Relaxed);
    let rate = packets as f64 / elapsed.as_secs_f64().max(1e-3);
    format!(
        "file {}/{files}, {packets} packets, {} flows, {} findings, {} packets/s",
        p.file.load(Ordering::Relaxed).min(files),
        p.flows.load(Ordering::Relaxed),
        p.findings.load(Ordering::Relaxed),
        si(rate)
    )
}

/// 1234.5 -> "1.2k", 2500000 -> "2.5M".
pub fn si(x: f64) -> String {
    match x {
        x if x >= 1e6 => format!("{:.1}M", x / 1e6),
        x if x >= 1e3 => format!("{:.1}k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

impl Bar {
    /// A bar when stderr is a terminal and not `quiet`, without the file
    /// count (the evidence pass and the report).
    pub fn start(label: &str, total: u64, progress: Arc<Progress>, quiet: bool) -> Option<Bar> {
        let show = if quiet { Show::Never } else { Show::Auto };
        Bar::start_files(label, total, 0, progress, show)
    }

    /// `files`: how many input files the pass reads (0: not shown).
    pub fn start_files(
        label: &str,
        total: u64,
        files: u64,
        progress: Arc<Progress>,
        show: Show,
    ) -> Option<Bar> {
        use std::io::IsTerminal;
        let terminal = std::io::stderr().is_terminal();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let started = Instant::now();
        match (show, terminal) {
            (Show::Never, _) | (Show::Auto, false) => None,
            (_, true) => {
                let bar = indicatif::ProgressBar::new(total);
                let style = indicatif::ProgressStyle::with_template(
                    "{prefix} {spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} (eta {eta})",
                )
                .ok()?;
                bar.set_style(style);
                bar.set_prefix(label.to_string());
                let (b2, s2) = (bar.clone(), Arc::clone(&stop));
                let thread = std::thread::spawn(move || {
                    while !s2.load(Ordering::Relaxed) {
                        b2.set_position(progress.disk_bytes.load(Ordering::Relaxed));
                        let msg = if files > 0 {
                            status(&progress, files, started.elapsed())
                        } else {
                            format!("{} pkts", progress.packets.load(Ordering::Relaxed))
                        };
                        b2.set_message(msg);
                        std::thread::sleep(TICK);
                    }
                });
                Some(Bar {
                    stop,
                    thread: Some(thread),
                    bar: Some(bar),
                    lines: None,
                })
            }
            (Show::Always, false) => {
                let line = Line {
                    label: label.to_string(),
                    files,
                    progress,
                    started,
                };
                let s2 = Arc::clone(&stop);
                let (label2, p2) = (line.label.clone(), Arc::clone(&line.progress));
                let thread = std::thread::spawn(move || {
                    let mut last = Instant::now();
                    while !s2.load(Ordering::Relaxed) {
                        if last.elapsed() >= LINE_EVERY {
                            eprintln!(
                                "phonehome: {label2}: {}",
                                status(&p2, files, started.elapsed())
                            );
                            last = Instant::now();
                        }
                        std::thread::sleep(TICK);
                    }
                });
                Some(Bar {
                    stop,
                    thread: Some(thread),
                    bar: None,
                    lines: Some(line),
                })
            }
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(line) = &self.lines {
            eprintln!("{}", line.text());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reads_the_counters() {
        let p = Progress::default();
        p.file.store(2, Ordering::Relaxed);
        p.packets.store(3000, Ordering::Relaxed);
        p.flows.store(45, Ordering::Relaxed);
        p.findings.store(7, Ordering::Relaxed);
        assert_eq!(
            status(&p, 5, Duration::from_secs(2)),
            "file 2/5, 3000 packets, 45 flows, 7 findings, 1.5k packets/s"
        );
        assert_eq!(si(2_500_000.0), "2.5M");
        assert_eq!(si(999.0), "999");
    }
}
