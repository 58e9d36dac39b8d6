//! Thin binary: all behaviour lives in the library; this maps it to an exit code.
fn main() -> std::process::ExitCode {
    phonehome::cli::main()
}
