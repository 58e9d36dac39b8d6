//! Thin binary: the command line over the library, mapping its results to
//! exit codes.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod cli;

// Flows and events allocate small objects from several threads at once;
// glibc's allocator spent ~10% of a replay in malloc/free and consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
