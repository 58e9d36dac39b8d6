//! Standard output and error that a closed pipe cannot crash.
//!
//! std's `println!`/`eprintln!` panic when the stream is gone, so
//! `phonehome catalog list | head -1` died with exit 101. The macros here
//! shadow std's in the whole crate (`lib.rs` declares this module first,
//! with `#[macro_use]`), so no call site needs to change:
//!
//! * standard output: a broken pipe means the reader has what it wanted; the
//!   command ends at once with exit 0. Any other write error (a full disk)
//!   is one line on stderr and exit 1.
//! * standard error: write errors are ignored. There is nowhere left to
//!   report them, and the work (EVE file, sinks, evidence) must still finish.
//!
//! A broken pipe on the EVE writer (`replay --eve -`) comes back as an error
//! instead; [`is_broken_pipe`] lets `cli::main` end quietly with exit 0 too.

use std::io::Write;

/// Writes to standard output; see the module documentation for errors.
#[doc(hidden)]
pub fn out(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args) {
        stdout_failed(&e);
    }
}

/// Writes to standard error, ignoring errors.
#[doc(hidden)]
pub fn err(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    err(format_args!(
        "phonehome: error: cannot write to standard output: {e}\n"
    ));
    std::process::exit(1);
}

/// Whether an error is, at bottom, a write to a closed pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

macro_rules! print {
    ($($arg:tt)*) => { $crate::stdio::out(format_args!($($arg)*)) };
}

macro_rules! println {
    () => { $crate::stdio::out(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::stdio::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

macro_rules! eprint {
    ($($arg:tt)*) => { $crate::stdio::err(format_args!($($arg)*)) };
}

macro_rules! eprintln {
    () => { $crate::stdio::err(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::stdio::err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_found_through_context() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = anyhow::Error::new(io).context("cannot write EVE output to -");
        assert!(is_broken_pipe(&e));
        let other = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::StorageFull))
            .context("cannot write EVE output to -");
        assert!(!is_broken_pipe(&other));
    }
}
