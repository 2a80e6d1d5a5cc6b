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

/// API.md's `token create --role department --department ID` knows no units list: a unit staff
/// have not added yet gets its token, with a warning naming the id.
#[test]
fn a_department_token_for_a_unit_not_kept_yet_is_created_with_a_warning() {
    let data_dir = tempfile::tempdir().expect("a temporary folder");
    let output = Command::new(lianxin())
        .args([
            "token",
            "create",
            "--role",
            "department",
            "--department",
            "市住建局",
            "--name",
            "住建局办公室",
        ])
        .env("LIANXIN_DATA_DIR", data_dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("lianxin runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let secret = stdout.lines().last().unwrap_or_default();
    assert!(
        !secret.is_empty() && !secret.contains(' '),
        "the secret alone on the last line: {stdout}"
    );
    assert!(stderr.contains("no unit has the id `市住建局`"), "{stderr}");
}

/// `lianxin name` gives an actor outside the registry and the units list the name pages show;
/// a blank name is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actor_is_named_from_the_command_line() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let name = |name: &str| {
        Command::new(lianxin())
            .args(["name", "staff-0007", name])
            .env("LIANXIN_DATA_DIR", app.test_store.data_dir.path())
            .env_remove("DATABASE_URL")
            .output()
            .expect("lianxin runs")
    };
    assert!(!name(" ").status.success(), "a blank name is refused");
    assert!(name("张科长").status.success());
    let names: serde_json::Value = app.get(&app.tokens.staff, "/api/v1/names").await.json().await.unwrap();
    assert_eq!(names["names"]["staff-0007"], "张科长");
}

/// `lianxin replay` rebuilds the figures in the time zone it is given, as `serve` takes it: a
/// voice of 20:00 UTC on 31 January is February's at +08:00 (the default) and January's at UTC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_the_figures_days_in_the_deployments_time_zone() {
    use chrono::TimeZone;
    let evening = chrono::Utc.with_ymd_and_hms(2026, 1, 31, 20, 0, 0).unwrap();
    let app = TestApp::spawn_at(Backend::Sqlite, evening).await;
    app.submitted(&tests::suggestion()).await;
    app.settled().await;
    let months = || async {
        let path = "/api/v1/outcomes?from=2026-01-01&to=2026-03-01&group_by=month";
        let outcomes: serde_json::Value = app.get(&app.tokens.staff, path).await.json().await.unwrap();
        let groups = outcomes["groups"].as_array().unwrap().clone();
        groups
            .iter()
            .filter(|group| group["submitted"] == 1)
            .map(|group| group["group"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(months().await, ["2026-02"]);
    let replayed = Command::new(lianxin())
        .args(["replay", "case_summaries", "--utc-offset", "+00:00"])
        .env("LIANXIN_DATA_DIR", app.test_store.data_dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("lianxin runs");
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    assert_eq!(months().await, ["2026-01"], "the rebuild's own time zone");
}
