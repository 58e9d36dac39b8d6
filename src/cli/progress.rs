//! The progress bar on stderr (only when it is a terminal) while a pass
//! over the inputs runs: replay, evidence, report.

use phonehome::base::Progress;
use std::sync::Arc;

/// A progress bar on stderr over `total` input bytes, fed from `progress`
/// by a thread until dropped (only when stderr is a terminal).
pub struct Bar {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    bar: indicatif::ProgressBar,
}

impl Bar {
    pub fn start(label: &str, total: u64, progress: Arc<Progress>, quiet: bool) -> Option<Bar> {
        use std::io::IsTerminal;
        use std::sync::atomic::Ordering;
        if quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::new(total);
        let style = indicatif::ProgressStyle::with_template(
            "{prefix} {spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} (eta {eta})",
        )
        .ok()?;
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b2, s2) = (bar.clone(), std::sync::Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                b2.set_position(progress.disk_bytes.load(Ordering::Relaxed));
                b2.set_message(format!("{} pkts", progress.packets.load(Ordering::Relaxed)));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        Some(Bar {
            stop,
            thread: Some(thread),
            bar,
        })
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}
