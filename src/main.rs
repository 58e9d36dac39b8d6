//! Thin binary: all behaviour lives in the library; this maps it to an exit code.

// Flows and events allocate small objects from several threads at once;
// glibc's allocator spent ~10% of a replay in malloc/free and consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() -> std::process::ExitCode {
    phonehome::cli::main()
}
