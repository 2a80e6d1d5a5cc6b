//! The log proving itself to outsiders: signed checkpoints, proofs checked by a witness, the
//! leaves and the signature recomputed by independent implementations, tampering with owner
//! rights caught by `audit verify` or the witness, and the runtime role's limits.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use domain::{Action, Policy, Role};
use lianxin::commands::{witness, WitnessFailure};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use service::app::Application;
use service::audit::merkle::{verify_consistency, verify_inclusion, Hash, MemoryTree};
use service::audit::witness::{check_inclusion, decode_hashes, open_new};
use service::audit::{verify_with_key, HistoryEntry, LogSigner, LogVerifier, TransparencyLog, VerifyReport};
use service::store::chain::{self, GENESIS, HASH, PREV_HASH};
use service::store::{EventRow, Store};
use service::write::engine::{Clock, Engine};
use sqlx::Connection;
use tests::{on_both_backends, staff_acts_on, suggestion, suggestion_through, Backend, TestApp, TestStore};
use tokio::sync::oneshot;

const LOG_NAME: &str = "lianxin.test/log";

/// A service over the test app's store that signs checkpoints (on demand: its interval is
/// long), with its key in a file of its own.
struct Signed {
    base_url: String,
    verifier: LogVerifier,
    key_dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

impl Signed {
    async fn start(app: &TestApp) -> Self {
        let key_dir = tempfile::tempdir().unwrap();
        let path = key_dir.path().join("log.key");
        let verifier = LogSigner::create_file(LOG_NAME, &path).unwrap().verifier();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key is its owner's alone");
        }
        assert!(
            LogSigner::create_file(LOG_NAME, &path).is_err(),
            "a key file is never overwritten"
        );
        let store = Store::open(app.test_store.database_url.as_deref(), app.test_store.data_dir.path())
            .await
            .unwrap();
        let (base_url, stop) = serve_signed(store, app, &path).await;
        Signed {
            base_url,
            verifier,
            key_dir,
            _stop: stop,
        }
    }

    fn state(&self) -> PathBuf {
        self.key_dir.path().join("witness.state")
    }

    async fn cut_covering(&self, app: &TestApp, size: u64) -> String {
        cut_covering(app, &self.base_url, size).await
    }

    async fn witness(&self, app: &TestApp, event: Option<i64>) -> Result<lianxin::commands::Witnessed, WitnessFailure> {
        witness(
            &self.base_url,
            &app.tokens.auditor,
            &self.verifier,
            &self.state(),
            event,
        )
        .await
    }

    async fn get(&self, app: &TestApp, token: &str, path: &str) -> reqwest::Response {
        app.client
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// Cuts a checkpoint now on the service at `base_url`; returns the signed note.
async fn cut(app: &TestApp, base_url: &str) -> String {
    let response = app
        .client
        .post(format!("{base_url}/api/v1/audit/checkpoint"))
        .bearer_auth(&app.tokens.auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.text().await.unwrap()
}

/// Cuts checkpoints until one covers `size` events: on PostgreSQL the tree follows the log
/// only up to its horizon, which a transaction still running holds back for a moment.
async fn cut_covering(app: &TestApp, base_url: &str, size: u64) -> String {
    for _ in 0..100 {
        let note = cut(app, base_url).await;
        if note.lines().nth(1).and_then(|line| line.parse::<u64>().ok()) >= Some(size) {
            return note;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint covers {size} events");
}

async fn serve_signed(store: Store, app: &TestApp, key: &Path) -> (String, oneshot::Sender<()>) {
    let application = Application::build(store, app.options.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_signer(LogSigner::load(key).unwrap(), Duration::from_secs(3_600));
    let address = application.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
    (format!("http://{address}"), stop)
}

/// A suggestion's way to closed after its submission, with text JSON must escape.
fn walk() -> [(Action, Value); 4] {
    [
        (Action::Assign, json!({"department": "市住建局"})),
        (
            Action::Consult,
            json!({"note": "现场协调 🚧 \"第2次\" 路径 C:\\docs\\1.5"}),
        ),
        (Action::Adopt, json!({"by": "市住建局", "extent": "full"})),
        (Action::Close, json!({"outcome": "A", "summary": "已解决 ✅\n谢谢"})),
    ]
}

/// Walks a suggestion to closed; returns its id.
async fn walked_case(app: &TestApp, title: &str) -> String {
    let mut body = suggestion();
    body["title"] = json!(title);
    let id = app.submitted(&body).await;
    for (action, body) in walk() {
        app.staff_does(&id, action.as_str(), &body).await;
    }
    id
}

/// Every event of the log, as `GET /api/v1/audit/events` exports it.
async fn export(app: &TestApp) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let response = app
            .get(
                &app.tokens.auditor,
                &format!("/api/v1/audit/events?after={after}&limit=1000"),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        let batch = page["events"].as_array().unwrap().clone();
        if batch.is_empty() {
            return events;
        }
        after = page["next_after"].as_i64().unwrap();
        events.extend(batch);
    }
}

async fn stored_leaves(store: &Store) -> Vec<String> {
    const SQL: &str = "SELECT hash FROM merkle_leaves ORDER BY leaf_index";
    let hashes: Vec<Vec<u8>> = match store {
        Store::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await.unwrap(),
        Store::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await.unwrap(),
    };
    hashes.iter().map(hex::encode).collect()
}

/// The Python of a virtual environment with the `rfc8785` and `cryptography` packages:
/// `scripts/test` makes it; a run without it makes it here, once.
fn audit_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = root.join("target/audit-venv");
    let python = venv.join("bin/python3");
    let ready = |python: &Path| {
        std::process::Command::new(python)
            .args(["-c", "import rfc8785, cryptography"])
            .status()
            .is_ok_and(|status| status.success())
    };
    if !ready(&python) {
        let staging = root.join(format!("target/audit-venv.{}", std::process::id()));
        let run = |program: &Path, args: &[&str]| {
            let status = std::process::Command::new(program).args(args).status().unwrap();
            assert!(status.success(), "{} {args:?} failed", program.display());
        };
        run(Path::new("python3"), &["-m", "venv", staging.to_str().unwrap()]);
        run(
            &staging.join("bin/pip"),
            &[
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                root.join("scripts/audit-requirements.txt").to_str().unwrap(),
            ],
        );
        // Another test may have made it meanwhile: then this one is not needed.
        if std::fs::rename(&staging, &venv).is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
    }
    assert!(
        ready(&python),
        "no Python with rfc8785 and cryptography at {}",
        python.display()
    );
    python
}

/// The checkpoint's Ed25519 signature, checked with `ring` (the service signs with
/// `ed25519-dalek`).
fn ring_verifies(verifier: &LogVerifier, note: &str) -> bool {
    let text = verifier.to_string();
    let key = STANDARD.decode(text.splitn(3, '+').nth(2).unwrap()).unwrap();
    let (body, signatures) = note.split_once("\n\n").unwrap();
    let signature = signatures.strip_prefix(&format!("— {LOG_NAME} ")).unwrap().trim_end();
    let signature = STANDARD.decode(signature).unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &key[1..])
        .verify(format!("{body}\n").as_bytes(), &signature[4..])
        .is_ok()
}

async fn checkpoints_prove_the_log_to_a_witness_and_to_independent_tools(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = walked_case(&app, "小区充电桩安装难 🔌").await;
    let signed = Signed::start(&app).await;
    let note = signed.cut_covering(&app, 5).await;
    assert!(note.starts_with(&format!("{LOG_NAME}\n5\n")), "{note}");
    assert!(ring_verifies(&signed.verifier, &note));
    assert!(!ring_verifies(&signed.verifier, &note.replacen("\n5\n", "\n6\n", 1)));

    let history = app.history(&first).await;
    let position = history[0]["position"].as_i64().unwrap();
    let kept = signed.witness(&app, Some(position)).await.unwrap();
    assert_eq!((kept.tree_size, kept.previous_size), (5, None));

    walked_case(&app, "路灯不亮 \"夜间\" 3/4").await;
    let latest = signed.cut_covering(&app, 10).await;
    assert!(latest.starts_with(&format!("{LOG_NAME}\n10\n")), "{latest}");
    let grown = signed.witness(&app, Some(position)).await.unwrap();
    assert_eq!((grown.tree_size, grown.previous_size), (10, Some(5)));

    // The latest checkpoint over HTTP, and the proofs' refusals.
    let response = signed.get(&app, &app.tokens.auditor, "/api/v1/audit/checkpoint").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), latest);
    let refused = signed.get(&app, &app.tokens.citizen, "/api/v1/audit/checkpoint").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    for (path, status) in [
        (
            "/api/v1/audit/proof/consistency?first=6&second=5",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/audit/proof/consistency?first=5&second=11",
            StatusCode::NOT_FOUND,
        ),
        ("/api/v1/audit/proof/inclusion?position=999999", StatusCode::NOT_FOUND),
        ("/api/v1/audit/proof/inclusion", StatusCode::BAD_REQUEST),
    ] {
        let response = signed.get(&app, &app.tokens.auditor, path).await;
        assert_eq!(response.status(), status, "{path}");
    }

    // Every leaf, the signature and the root, recomputed by other implementations.
    let events = export(&app).await;
    let leaves = stored_leaves(&app.test_store.store).await;
    assert_eq!(leaves.len(), 10);
    let input = json!({
        "verifier_key": signed.verifier.to_string(),
        "checkpoint": latest,
        "events": events,
        "leaf_hashes": leaves,
    });
    let file = signed.key_dir.path().join("export.json");
    std::fs::write(&file, serde_json::to_vec(&input).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/check-export.py");
    let output = std::process::Command::new(audit_python())
        .arg(&script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn the_public_proves_its_own_events_with_its_tracking_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let signed = Signed::start(&app).await;
    let body = json!({"title": "公交站台遮阳棚 ☀️", "body": "夏天等车太晒，希望加装遮阳棚。", "category": "交通",
                      "jurisdiction": "东胜区", "name": "李秀英"});
    let response = app
        .client
        .post(app.url("/api/v1/public/suggestions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let (id, code) = (
        created["id"].as_str().unwrap(),
        created["tracking_code"].as_str().unwrap(),
    );
    signed.cut_covering(&app, 1).await;
    let proof_of = |code: String| {
        let url = format!("{}/api/v1/public/suggestions/{id}/proof?code={code}", signed.base_url);
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    assert_eq!(proof_of("wrong".into()).await.status(), StatusCode::NOT_FOUND);
    let response = proof_of(code.to_owned()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let checkpoint = open_new(&signed.verifier, answer["checkpoint"].as_str().unwrap()).unwrap();
    let proofs = answer["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 1, "the submission, the citizen's only event");
    let proof = &proofs[0];
    assert_eq!(proof["event"]["case_id"], *id);
    assert!(
        proof["event"]["metadata"].get("name").is_none(),
        "no personal data in the log"
    );
    let path: Vec<String> = serde_json::from_value(proof["inclusion_path"].clone()).unwrap();
    let leaf_index = proof["leaf_index"].as_u64().unwrap();
    check_inclusion(&checkpoint, leaf_index, &decode_hashes(&path).unwrap(), &proof["event"]).unwrap();
    let mut forged = proof["event"].clone();
    forged["payload"] = json!({"forged": true});
    assert!(check_inclusion(&checkpoint, leaf_index, &decode_hashes(&path).unwrap(), &forged).is_err());
}

/// Runs statements with the owner's rights and the append-only triggers out of the way, as a
/// forger with the database's keys would.
async fn as_forger(store: &Store, statements: &[String]) {
    const TABLES: [&str; 4] = ["events", "merkle_leaves", "merkle_nodes", "checkpoints"];
    match store {
        Store::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            for table in TABLES {
                sqlx::query(&format!("ALTER TABLE {table} DISABLE TRIGGER USER"))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            for statement in statements {
                sqlx::query(statement).execute(&mut *tx).await.unwrap();
            }
            for table in TABLES {
                sqlx::query(&format!("ALTER TABLE {table} ENABLE TRIGGER USER"))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }
        Store::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            let triggers: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            for trigger in triggers {
                sqlx::query(&format!("DROP TRIGGER {trigger}"))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            for statement in statements {
                sqlx::query(statement).execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
    }
}

/// SQL text for a JSON value.
fn literal(value: &Value) -> String {
    format!("'{}'", value.to_string().replace('\'', "''"))
}

/// A case's events rewritten by `edit`, re-chained from the genesis as a forger would.
async fn rechained(store: &Store, case_id: &str, new_id: &str, edit: impl Fn(&mut Value)) -> Vec<(i64, EventRow)> {
    let mut prev = GENESIS.to_owned();
    let mut rows = Vec::new();
    for event in store.stream_events(case_id).await.unwrap() {
        let mut payload = event.payload.clone();
        edit(&mut payload);
        let mut metadata: Map<String, Value> = event.metadata.as_object().cloned().unwrap();
        metadata.remove(HASH);
        metadata.remove(PREV_HASH);
        let mut row = EventRow {
            aggregate_type: event.aggregate_type,
            aggregate_id: new_id.to_owned(),
            sequence: event.sequence,
            event_type: event.event_type,
            event_version: event.event_version,
            payload,
            metadata,
        };
        prev = chain::link(&prev, &mut row).hash;
        rows.push((event.position, row));
    }
    rows
}

/// Replaces every string `from` inside `value` by `to`.
fn replace_text(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(text) => *text = text.replace(from, to),
        Value::Array(items) => items.iter_mut().for_each(|item| replace_text(item, from, to)),
        Value::Object(fields) => fields.values_mut().for_each(|item| replace_text(item, from, to)),
        _ => {}
    }
}

/// Three closed cases, a checkpoint of them, and a witness that kept it.
async fn witnessed_log(backend: Backend) -> (TestApp, Signed, Vec<String>) {
    let app = TestApp::spawn(backend).await;
    let mut cases = Vec::new();
    for title in ["小区充电桩安装难", "路灯不亮", "垃圾分类点太远"] {
        cases.push(walked_case(&app, title).await);
    }
    let signed = Signed::start(&app).await;
    signed.cut_covering(&app, 15).await;
    signed.witness(&app, None).await.unwrap();
    (app, signed, cases)
}

/// `audit verify` after a forgery: every chain still links (the forger recomputed them, or
/// removed whole cases), yet the report is not intact.
async fn verified(app: &TestApp, signed: &Signed) -> VerifyReport {
    let report = verify_with_key(&app.test_store.store, Some(&signed.verifier), |_| {})
        .await
        .unwrap();
    assert!(
        report.broken.is_empty(),
        "the chains alone see nothing: {:?}",
        report.broken
    );
    assert!(!report.intact(), "{report:?}");
    report
}

fn problems(report: &VerifyReport) -> String {
    serde_json::to_string(&report.tree.problems).unwrap()
}

/// The forger covers their tracks: the tree and the checkpoints are dropped, the service grows
/// the tree again from the altered log and signs it; the witness that kept the old checkpoint
/// must refuse the new one.
async fn witness_refuses_the_regrown_tree(app: &TestApp, signed: &Signed, events: u64) -> String {
    as_forger(
        &app.test_store.store,
        &[
            "DELETE FROM merkle_nodes".into(),
            "DELETE FROM merkle_leaves".into(),
            "DELETE FROM checkpoints".into(),
        ],
    )
    .await;
    signed.cut_covering(app, events).await;
    let failure = signed.witness(app, None).await.unwrap_err().to_string();
    assert!(failure.contains("FORK") || failure.contains("ROLLBACK"), "{failure}");
    failure
}

async fn a_rewritten_case_with_recomputed_chain_hashes_is_caught(backend: Backend) {
    let (app, signed, cases) = witnessed_log(backend).await;
    let rows = rechained(&app.test_store.store, &cases[1], &cases[1], |payload| {
        replace_text(payload, "已解决", "不予处理");
    })
    .await;
    let statements: Vec<String> = rows
        .iter()
        .map(|(position, row)| {
            format!(
                "UPDATE events SET payload = {}, metadata = {} WHERE position = {position}",
                literal(&row.payload),
                literal(&Value::Object(row.metadata.clone()))
            )
        })
        .collect();
    as_forger(&app.test_store.store, &statements).await;
    let report = verified(&app, &signed).await;
    assert!(problems(&report).contains(&cases[1]), "{}", problems(&report));
    assert!(problems(&report).contains("changed after it was logged"));
    assert!(!problems(&report).contains(&cases[0]));
    let failure = witness_refuses_the_regrown_tree(&app, &signed, 15).await;
    assert!(failure.contains("FORK"), "{failure}");
}

async fn a_deleted_case_is_caught(backend: Backend) {
    let (app, signed, cases) = witnessed_log(backend).await;
    let positions: Vec<i64> = app
        .history(&cases[1])
        .await
        .iter()
        .map(|event| event["position"].as_i64().unwrap())
        .collect();
    as_forger(
        &app.test_store.store,
        &[format!("DELETE FROM events WHERE aggregate_id = '{}'", cases[1])],
    )
    .await;
    let report = verified(&app, &signed).await;
    let found = problems(&report);
    for position in positions {
        assert!(found.contains(&format!("\"position\":{position},")), "{found}");
    }
    assert!(found.contains("no longer in the log"));
    witness_refuses_the_regrown_tree(&app, &signed, 10).await;
}

async fn an_invented_case_is_caught(backend: Backend) {
    let (app, signed, cases) = witnessed_log(backend).await;
    let invented = uuid::Uuid::now_v7().to_string();
    let rows = rechained(&app.test_store.store, &cases[0], &invented, |payload| {
        replace_text(payload, "小区充电桩安装难", "从未提交的建议");
    })
    .await;
    let statements: Vec<String> = rows
        .iter()
        .map(|(_, row)| {
            // Back-dated into the log's past: on PostgreSQL by the oldest transaction id; on
            // SQLite, whose positions leave no gap, below the first position.
            let (column, value) = match backend {
                Backend::Postgres => ("transaction_id", "'3'".to_owned()),
                Backend::Sqlite => ("position", format!("{}", -(row.sequence as i64))),
            };
            format!(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, \
                 metadata, recorded_at, {column}) VALUES ('{}', '{}', {}, '{}', '{}', {}, {}, '2026-01-05T08:00:00.000Z', {value})",
                row.aggregate_type,
                row.aggregate_id,
                row.sequence,
                row.event_type,
                row.event_version,
                literal(&row.payload),
                literal(&Value::Object(row.metadata.clone()))
            )
        })
        .collect();
    as_forger(&app.test_store.store, &statements).await;
    let report = verified(&app, &signed).await;
    assert!(problems(&report).contains(&invented), "{}", problems(&report));
    if backend == Backend::Postgres {
        // Inside the log's order, the invention changes the tree the service would sign.
        witness_refuses_the_regrown_tree(&app, &signed, 20).await;
    }
}

async fn a_moved_recorded_at_is_caught(backend: Backend) {
    let (app, signed, cases) = witnessed_log(backend).await;
    let history = app.history(&cases[2]).await;
    let position = history[3]["position"].as_i64().unwrap();
    as_forger(
        &app.test_store.store,
        &[format!(
            "UPDATE events SET recorded_at = '2026-01-05T08:00:00.000Z' WHERE position = {position}"
        )],
    )
    .await;
    let report = verified(&app, &signed).await;
    let found = problems(&report);
    assert!(
        found.contains(&format!("\"position\":{position},")) && found.contains(&cases[2]),
        "{found}"
    );
    let failure = witness_refuses_the_regrown_tree(&app, &signed, 15).await;
    assert!(failure.contains("FORK"), "{failure}");
}

/// Grows `log` until it holds at least `size` leaves (the log's readable end may wait a moment
/// for a transaction still running, a projection's batch); returns its size.
async fn grown_to(log: &TransparencyLog, size: u64) -> u64 {
    let mut grown = 0;
    for _ in 0..200 {
        grown = log.catch_up().await.unwrap();
        if grown >= size {
            return grown;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the tree grew to {grown} leaves, not {size}");
}

/// Walks a suggestion to closed through `engine`, as its staff.
async fn walked_by_engine(engine: &Engine) {
    let id = suggestion_through(engine, "s-1", Role::Staff).await;
    staff_acts_on(engine, id, walk()).await;
}

/// A tree given its engine's appends takes them from memory and reads none of them back, and
/// their leaves are those of the events as the log gives them back; events another process
/// appended (here, an engine the tree does not follow) it reads from the log, in their place.
async fn a_tree_takes_its_engines_appends_from_memory_and_hashes_them_as_read_back(backend: Backend) {
    let test = TestStore::new(backend).await;
    let store = &test.store;
    let engine = Engine::new(store.clone(), Policy::default(), Clock::System);
    let log = TransparencyLog::new(store.clone()).with_recent_appends(engine.follow_appends());
    for _ in 0..3 {
        walked_by_engine(&engine).await;
    }
    assert_eq!(grown_to(&log, 15).await, 15);
    assert_eq!(log.events_read_back(), 0, "every event was this engine's");

    let other = Engine::new(store.clone(), Policy::default(), Clock::System);
    walked_by_engine(&other).await;
    walked_by_engine(&engine).await;
    walked_by_engine(&other).await;
    assert_eq!(grown_to(&log, 30).await, 30);
    assert_eq!(log.events_read_back(), 10, "the other engine's events, and only those");

    let read_back: Vec<String> = store
        .log_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|event| hex::encode(HistoryEntry::from(event).leaf_hash().unwrap()))
        .collect();
    assert_eq!(read_back.len(), 30);
    assert_eq!(stored_leaves(store).await, read_back);
}

/// The store keeps the tree's perfect subtrees from level 4 up and folds the lower ones from
/// the leaves when asked: at every size, the stored tree's root and proofs are those of the
/// whole tree held in memory, and no node below level 4 is written.
async fn the_stored_tree_folds_its_lowest_levels_and_proves_as_the_whole_tree(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..37 {
        app.submitted(&suggestion()).await;
    }
    let store = &app.test_store.store;
    let log = TransparencyLog::new(store.clone());
    let size = grown_to(&log, 37).await;
    const LEAVES: &str = "SELECT position, hash FROM merkle_leaves ORDER BY leaf_index";
    const LOW_NODES: &str = "SELECT COUNT(*) FROM merkle_nodes WHERE level < 4";
    let (leaves, low_nodes): (Vec<(i64, Vec<u8>)>, i64) = match store {
        Store::Postgres(pool) => (
            sqlx::query_as(LEAVES).fetch_all(pool).await.unwrap(),
            sqlx::query_scalar(LOW_NODES).fetch_one(pool).await.unwrap(),
        ),
        Store::Sqlite(pool) => (
            sqlx::query_as(LEAVES).fetch_all(pool).await.unwrap(),
            sqlx::query_scalar(LOW_NODES).fetch_one(pool).await.unwrap(),
        ),
    };
    assert_eq!(low_nodes, 0);
    let mut whole = MemoryTree::default();
    let leaves: Vec<(i64, Hash)> = leaves
        .into_iter()
        .map(|(position, hash)| (position, hash.try_into().unwrap()))
        .collect();
    for (_, hash) in &leaves {
        whole.push(*hash);
    }
    for n in 1..=size {
        let root = log.root_at(n).await.unwrap();
        assert_eq!(root, whole.root_at(n), "the root of {n} leaves");
        for m in [1, n / 2, n - 1].into_iter().filter(|m| (1..n).contains(m)) {
            let proof = log.consistency(m, n).await.unwrap();
            verify_consistency(m, n, &whole.root_at(m), &root, &proof).unwrap();
        }
    }
    let root = whole.root_at(size);
    for (leaf_index, (position, hash)) in leaves.iter().enumerate() {
        let proof = log.inclusion(*position, size).await.unwrap();
        verify_inclusion(leaf_index as u64, size, hash, &proof.path, &root).unwrap();
    }
}

on_both_backends!(
    a_tree_takes_its_engines_appends_from_memory_and_hashes_them_as_read_back,
    the_stored_tree_folds_its_lowest_levels_and_proves_as_the_whole_tree,
    checkpoints_prove_the_log_to_a_witness_and_to_independent_tools,
    the_public_proves_its_own_events_with_its_tracking_code,
    a_rewritten_case_with_recomputed_chain_hashes_is_caught,
    a_deleted_case_is_caught,
    an_invented_case_is_caught,
    a_moved_recorded_at_is_caught,
);

/// `serve` as a login role granted `lianxin_runtime`: it works, and it cannot rewrite the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_role_appends_but_cannot_rewrite_the_log() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.submitted(&suggestion()).await;
    let owner_url = app.test_store.database_url.clone().unwrap();
    let role = format!("lianxin_test_runtime_{}", uuid::Uuid::new_v4().simple());
    let mut owner = sqlx::PgConnection::connect(&owner_url).await.unwrap();
    sqlx::query(&format!("CREATE ROLE {role} LOGIN IN ROLE lianxin_runtime"))
        .execute(&mut owner)
        .await
        .unwrap();
    let (scheme, rest) = owner_url.split_once("://").unwrap();
    let (_, host) = rest.split_once('@').unwrap();
    let runtime_url = format!("{scheme}://{role}@{host}");

    let runtime = Store::open(Some(&runtime_url), app.test_store.data_dir.path())
        .await
        .unwrap();
    assert!(runtime.is_ready().await.unwrap(), "the owner migrated; serve need not");
    let Store::Postgres(pool) = &runtime else {
        unreachable!()
    };
    for sql in [
        "UPDATE events SET payload = payload",
        "DELETE FROM events",
        "TRUNCATE events",
        "ALTER TABLE events DISABLE TRIGGER USER",
        "ALTER TABLE events DISABLE TRIGGER events_append_only",
        "DROP TRIGGER events_append_only ON events",
        "UPDATE merkle_leaves SET hash = hash",
        "DELETE FROM checkpoints",
        "TRUNCATE merkle_nodes",
        "CREATE TABLE shadow (a int)",
        "DELETE FROM _sqlx_migrations",
    ] {
        let error = sqlx::query(sql).execute(pool).await.expect_err(sql);
        let code = error
            .as_database_error()
            .and_then(|error| error.code())
            .unwrap_or_default()
            .into_owned();
        assert_eq!(code, "42501", "{sql}: {error}");
    }
    assert!(
        runtime.migrate().await.is_err(),
        "no DDL: the runtime role cannot migrate"
    );

    // And serve works as that role: commands, the tree and checkpoints.
    let key_dir = tempfile::tempdir().unwrap();
    let key = key_dir.path().join("log.key");
    LogSigner::create_file(LOG_NAME, &key).unwrap();
    let (base_url, _stop) = serve_signed(runtime.clone(), &app, &key).await;
    let response = app
        .client
        .post(format!("{base_url}/api/v1/cases"))
        .bearer_auth(&app.tokens.citizen)
        .json(&suggestion())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(cut_covering(&app, &base_url, 2)
        .await
        .starts_with(&format!("{LOG_NAME}\n2\n")));
}
