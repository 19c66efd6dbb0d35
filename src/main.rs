//! The `botrun` binary: parse arguments, run, turn the outcome into an exit code.

use std::process::ExitCode;

/// mimalloc instead of the system allocator: the service allocates per request and per turn, and
/// glibc's malloc was ≈ 15 % of its CPU under load (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    botrun::cli::main()
}
