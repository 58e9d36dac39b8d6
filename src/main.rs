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
#[cfg(not(feature = "alloc-count"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The benchmark build: the same allocator, its calls counted.
#[cfg(feature = "alloc-count")]
#[global_allocator]
static ALLOCATOR: alloc_count::Counting<mimalloc::MiMalloc> =
    alloc_count::Counting::new(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    let code = cli::main();
    #[cfg(feature = "alloc-count")]
    {
        let c = ALLOCATOR.counts();
        eprintln!(
            "phonehome: alloc-count: {} allocations, {} reallocations, {} bytes",
            c.allocs, c.reallocs, c.bytes
        );
    }
    code
}
