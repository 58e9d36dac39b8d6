//! Standard output and error that a closed pipe cannot crash.
//!
//! std's `println!`/`eprintln!` panic when the stream is gone, so
//! `phonehome catalog list | head -1` died with exit 101. The macros here
//! shadow std's in the whole library (`lib.rs` declares `base` first, and
//! `base` this module first, both with `#[macro_use]`); the binary's
//! `cli::stdio` defines the same four over [`out`] and [`err`]:
//!
//! * standard output: a broken pipe means the reader has what it wanted; the
//!   command ends at once with exit 0. Any other write error (a full disk)
//!   is one line on stderr and exit 1.
//! * standard error: write errors are ignored. There is nowhere left to
//!   report them, and the work (EVE file, sinks, evidence) must still finish.

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

#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => { $crate::base::stdio::out(format_args!($($arg)*)) };
}

#[allow(unused_macros)]
macro_rules! println {
    () => { $crate::base::stdio::out(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::base::stdio::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::base::stdio::err(format_args!($($arg)*)) };
}

#[allow(unused_macros)]
macro_rules! eprintln {
    () => { $crate::base::stdio::err(format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::base::stdio::err(format_args!("{}\n", format_args!($($arg)*)))
    };
}
