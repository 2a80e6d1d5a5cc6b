//! The `lianxin` binary: everything lives in the library; this only starts the runtime.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    service::cli::run().await
}
