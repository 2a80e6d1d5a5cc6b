//! The README's walk-through ("A first case, with curl"), run as written: the block is taken
//! from README.md, `cargo run --release -q --` becomes the built `lianxin` binary and the
//! address the service's own, and every answer must be a success.

use std::path::PathBuf;
use std::process::Command;

use tests::{Backend, TestApp};

const HEADING: &str = "## A first case, with curl";

/// The first `sh` block after the walk-through's heading.
fn walk_through() -> String {
    let readme = include_str!("../../README.md");
    let section = &readme[readme.find(HEADING).expect("the README has the walk-through")..];
    let start = section.find("```sh\n").expect("a shell block") + "```sh\n".len();
    let end = start + section[start..].find("```").expect("the block ends");
    section[start..end].to_owned()
}

/// The `lianxin` binary of this build, beside the test binary's `deps` folder.
fn lianxin() -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let binary = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a target folder")
        .join("lianxin");
    assert!(
        binary.exists(),
        "{} is missing: build it first (`cargo build -p lianxin`, as scripts/test does)",
        binary.display()
    );
    binary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walk_through_runs_as_written() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let address = app.base_url.trim_start_matches("http://");
    let script = walk_through()
        .replace("cargo run --release -q --", &format!("'{}'", lianxin().display()))
        .replace("127.0.0.1:8080", address);
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .env("LIANXIN_DATA_DIR", app.test_store.data_dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the walk-through failed:\n{stdout}\n{stderr}");
    let answers: Vec<&str> = stdout.lines().filter(|line| line.starts_with('{')).collect();
    assert!(answers.len() >= 14, "every request answered:\n{stdout}");
    for answer in &answers {
        assert!(
            !answer.contains("\"type\":\"/problems/"),
            "an error answer: {answer}\n{stdout}"
        );
    }
    assert!(
        stdout.contains("\"broken\":[]"),
        "verify found the chains whole:\n{stdout}"
    );
}
