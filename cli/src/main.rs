//! The `lianxin` binary: everything lives in the library; this only starts the runtime.

use std::process::ExitCode;

/// Commands, projections and replays allocate many short-lived JSON values and strings;
/// mimalloc serves them with a fraction of the system allocator's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    lianxin::commands::run().await
}
