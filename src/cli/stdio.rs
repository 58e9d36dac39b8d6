//! The binary's print!/println!/eprint!/eprintln!: the same closed-pipe
//! behaviour as the library's (`phonehome::base::stdio`, which says what it
//! is), declared first in `cli` so that they replace std's in every command.

/// Whether an error is, at bottom, a write to a closed pipe (the reader of
/// `replay --eve -` went away): `cli::main` ends quietly with exit 0.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => { ::phonehome::base::stdio::out(format_args!($($arg)*)) };
}

#[allow(unused_macros)]
macro_rules! println {
    () => { ::phonehome::base::stdio::out(format_args!("\n")) };
    ($($arg:tt)*) => {
        ::phonehome::base::stdio::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => { ::phonehome::base::stdio::err(format_args!($($arg)*)) };
}

#[allow(unused_macros)]
macro_rules! eprintln {
    () => { ::phonehome::base::stdio::err(format_args!("\n")) };
    ($($arg:tt)*) => {
        ::phonehome::base::stdio::err(format_args!("{}\n", format_args!($($arg)*)))
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
