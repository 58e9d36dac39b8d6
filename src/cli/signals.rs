//! Signals for `replay` and `live`: SIGTERM/SIGINT stop gracefully (a
//! second one exits at once), SIGHUP asks for a reload.
//!
//! A thread waits for the signals (signal-hook's iterator: the handler only
//! writes to a pipe, the work happens on the thread). The first SIGTERM or
//! SIGINT sets the [`Stop`] flag that the packet source honours; the second
//! exits at once through [`exit_now`], which waits for a line being written
//! to finish, so the output keeps only whole lines. Exit codes at once are
//! the shell's: 128 + the signal number (130 for SIGINT, 143 for SIGTERM).

use phonehome::base::stop::{exit_now, Stop, StopLevel};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the signal thread sets.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub stop: Stop,
    /// SIGHUP seen since the last [`Flags::take_hup`].
    hup: Arc<AtomicBool>,
}

impl Flags {
    pub fn take_hup(&self) -> bool {
        self.hup.swap(false, Ordering::Relaxed)
    }
}

/// Starts the signal thread. With `reload`, SIGHUP is taken (else it keeps
/// its default meaning for this command, or that of other listeners).
pub fn install(stop: Stop, reload: bool, quiet: bool) -> std::io::Result<Flags> {
    let flags = Flags {
        stop,
        hup: Arc::default(),
    };
    let mut wanted = vec![SIGTERM, SIGINT];
    if reload {
        wanted.push(SIGHUP);
    }
    let mut signals = signal_hook::iterator::Signals::new(&wanted)?;
    let f = flags.clone();
    std::thread::Builder::new()
        .name("phonehome-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                match sig {
                    SIGHUP => f.hup.store(true, Ordering::Relaxed),
                    _ => match f.stop.request() {
                        StopLevel::Graceful => {
                            if !quiet {
                                eprintln!(
                                    "phonehome: {}: stopping: writing active flows, findings and stats (signal again to exit at once)",
                                    if sig == SIGINT { "SIGINT" } else { "SIGTERM" }
                                );
                            }
                        }
                        _ => exit_now(128 + sig),
                    },
                }
            }
        })?;
    Ok(flags)
}
