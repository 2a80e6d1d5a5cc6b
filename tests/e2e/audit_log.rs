//! The log auditors rely on: metadata and hash chains on every event, tamper detection, the
//! database refusing edits, the case as it stood, and commands that are safe to retry.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use service::store::Store;
use tests::{on_both_backends, problem, suggestion, Backend, TestApp};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Walks a suggestion to closed; returns its id.
async fn walked_case(app: &TestApp) -> String {
    let id = app.submitted(&suggestion()).await;
    for (action, body) in [
        ("assign", json!({"department": "市住建局"})),
        ("consult", json!({"note": "现场协调"})),
        ("adopt", json!({"by": "市住建局", "extent": "full"})),
        ("close", json!({"outcome": "A", "summary": "已解决"})),
    ] {
        app.staff_does(&id, action, &body).await;
    }
    id
}

async fn verify(app: &TestApp) -> Value {
    let response = app.get(&app.tokens.auditor, "/api/v1/audit/verify").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Runs raw SQL on the store with the append-only guard lifted, as an attacker with direct
/// database access would.
async fn tamper(store: &Store, postgres_sql: &str, sqlite_sql: &str, case_id: &str) {
    match store {
        Store::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("ALTER TABLE events DISABLE TRIGGER events_append_only")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query(postgres_sql).bind(case_id).execute(&mut *tx).await.unwrap();
            sqlx::query("ALTER TABLE events ENABLE TRIGGER events_append_only")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        Store::Sqlite(pool) => {
            // The write lock from the start: a transaction that reads first (the schema, when
            // the triggers are gone already) cannot take it once the projector has written.
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            for trigger in ["events_no_update", "events_no_delete"] {
                sqlx::query(&format!("DROP TRIGGER IF EXISTS {trigger}"))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            sqlx::query(sqlite_sql).bind(case_id).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
}

async fn every_event_carries_its_metadata_and_a_hash_chained_to_the_previous(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/assign")))
        .bearer_auth(&app.tokens.staff)
        .header("X-Correlation-Id", "hotline-2026-031")
        .header("X-Causation-Id", "call-77")
        .header("X-Client-Time", "2026-03-01T09:00:00+08:00")
        .json(&json!({"department": "市住建局"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let history = app.history(&id).await;
    assert_eq!(history[0]["prev_hash"], GENESIS);
    assert_eq!(history[1]["prev_hash"], history[0]["hash"]);
    assert_ne!(history[0]["hash"], history[1]["hash"]);
    let metadata = &history[1]["metadata"];
    assert_eq!(metadata["kind"], "suggestion");
    assert_eq!(metadata["actor_id"], app.subject(&app.tokens.staff).await.as_str());
    assert_ne!(metadata["actor_id"], "staff-wang", "the token's name is only a label");
    assert_eq!(metadata["actor_role"], "staff");
    assert_eq!(metadata["correlation_id"], "hotline-2026-031");
    assert_eq!(metadata["causation_id"], "call-77");
    assert_eq!(metadata["client_time"], "2026-03-01T01:00:00+00:00");
    assert_eq!(metadata["request_id"], history[1]["request_id"]);
    let first = &history[0]["metadata"];
    assert_eq!(
        first["correlation_id"], first["request_id"],
        "the request id correlates by default"
    );
    assert_eq!(
        first["causation_id"], first["command_id"],
        "the command causes itself by default"
    );

    let bad_time = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/consult")))
        .bearer_auth(&app.tokens.staff)
        .header("X-Client-Time", "yesterday")
        .json(&json!({"note": "x"}))
        .send()
        .await
        .unwrap();
    problem(bad_time, StatusCode::BAD_REQUEST).await;

    let report = verify(&app).await;
    assert_eq!(report["cases"], 1);
    assert_eq!(report["events"], 2);
    assert_eq!(report["broken"], json!([]));
}

async fn a_payload_changed_behind_the_logs_back_is_reported_at_its_case_and_sequence(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let untouched = walked_case(&app).await;
    let altered = walked_case(&app).await;
    assert_eq!(verify(&app).await["broken"], json!([]));
    tamper(
        &app.test_store.store,
        r#"UPDATE events SET payload = jsonb_set(payload, '{department}', '"市交通局"') WHERE aggregate_id = $1 AND sequence = 2"#,
        r#"UPDATE events SET payload = json_set(payload, '$.department', '市交通局') WHERE aggregate_id = $1 AND sequence = 2"#,
        &altered,
    )
    .await;
    let history: Value = app
        .get(&app.tokens.auditor, &format!("/api/v1/cases/{altered}/history"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["chain_intact"], false);
    assert_eq!(history["broken"][0]["sequence"], 2);
    let untouched_history: Value = app
        .get(&app.tokens.auditor, &format!("/api/v1/cases/{untouched}/history"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(untouched_history["chain_intact"], true);
    let report = verify(&app).await;
    assert_eq!(report["cases"], 2);
    assert_eq!(report["events"], 10);
    let broken = report["broken"].as_array().unwrap();
    assert_eq!(broken.len(), 1, "{report}");
    assert_eq!(broken[0]["case_id"], altered.as_str());
    assert_eq!(broken[0]["sequence"], 2);
    assert!(broken[0]["reason"]
        .as_str()
        .unwrap()
        .contains("does not match its hash"));
    assert_ne!(broken[0]["case_id"], untouched.as_str());
}

/// A case's last event removed leaves a valid, shorter chain: the chain cannot show it, the
/// heads digest does. An event removed from the middle breaks the chain where it was.
async fn removed_events_show_in_the_heads_digest_or_as_a_gap_in_the_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shortened = walked_case(&app).await;
    let holed = walked_case(&app).await;
    let before = verify(&app).await;
    tamper(
        &app.test_store.store,
        "DELETE FROM events WHERE aggregate_id = $1 AND sequence = 5",
        "DELETE FROM events WHERE aggregate_id = $1 AND sequence = 5",
        &shortened,
    )
    .await;
    let after = verify(&app).await;
    assert_eq!(after["broken"], json!([]), "a removed last event leaves a valid chain");
    assert_eq!(after["events"], 9);
    assert_ne!(after["heads_digest"], before["heads_digest"]);

    tamper(
        &app.test_store.store,
        "DELETE FROM events WHERE aggregate_id = $1 AND sequence = 3",
        "DELETE FROM events WHERE aggregate_id = $1 AND sequence = 3",
        &holed,
    )
    .await;
    let report = verify(&app).await;
    let broken = report["broken"].as_array().unwrap();
    assert_eq!(broken.len(), 1, "{report}");
    assert_eq!(broken[0]["case_id"], holed.as_str());
    assert_eq!(broken[0]["sequence"], 4);
    assert!(broken[0]["reason"].as_str().unwrap().contains("sequence gap"));
}

async fn the_database_refuses_to_change_or_remove_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = walked_case(&app).await;
    let statements = [
        "UPDATE events SET event_type = 'closed' WHERE aggregate_id = $1",
        "DELETE FROM events WHERE aggregate_id = $1",
    ];
    for statement in statements {
        let refused = match &app.test_store.store {
            Store::Postgres(pool) => sqlx::query(statement).bind(&id).execute(pool).await.map(drop),
            Store::Sqlite(pool) => sqlx::query(statement).bind(&id).execute(pool).await.map(drop),
        };
        let error = refused.expect_err(statement).to_string();
        assert!(error.contains("append-only"), "{statement}: {error}");
    }
    if let Store::Postgres(pool) = &app.test_store.store {
        // TRUNCATE queues for an exclusive lock: let a rebuild the service began at start end
        // first, so that the trigger, not the lock, is what answers.
        app.settled().await;
        let truncate = sqlx::query("TRUNCATE events").execute(pool).await;
        assert!(truncate.expect_err("TRUNCATE").to_string().contains("append-only"));
    }
    assert_eq!(app.history(&id).await.len(), 5);
    assert_eq!(verify(&app).await["broken"], json!([]));
}

async fn the_state_at_a_moment_is_the_case_as_it_stood_then(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = walked_case(&app).await;
    let history = app.history(&id).await;
    let statuses = ["submitted", "assigned", "consulting", "adopted", "closed"];
    let state = |query: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.get(&app.tokens.auditor, &format!("/api/v1/cases/{id}/state?{query}"))
                .await
        }
    };
    for (index, event) in history.iter().enumerate() {
        let recorded: DateTime<Utc> = event["recorded_at"].as_str().unwrap().parse().unwrap();
        let at = state(format!("at={}", urlencode(recorded))).await;
        assert_eq!(at.status(), StatusCode::OK);
        let at: Value = at.json().await.unwrap();
        assert_eq!(at["status"], statuses[index]);
        assert_eq!(at["version"], index + 1);

        let just_before = state(format!("at={}", urlencode(recorded - Duration::microseconds(500)))).await;
        if index == 0 {
            problem(just_before, StatusCode::NOT_FOUND).await;
        } else {
            let before: Value = just_before.json().await.unwrap();
            assert_eq!(before["status"], statuses[index - 1]);
        }

        let by_sequence: Value = state(format!("sequence={}", index + 1)).await.json().await.unwrap();
        assert_eq!(by_sequence["status"], statuses[index]);
    }
    problem(state("sequence=6".to_owned()).await, StatusCode::NOT_FOUND).await;
    problem(state("sequence=0".to_owned()).await, StatusCode::BAD_REQUEST).await;
    problem(state(String::new()).await, StatusCode::BAD_REQUEST).await;
    problem(state("at=yesterday".to_owned()).await, StatusCode::BAD_REQUEST).await;
}

fn urlencode(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        .replace('+', "%2B")
}

async fn the_global_log_pages_in_order_from_any_position(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = walked_case(&app).await;
    let second = walked_case(&app).await;
    let mut after = 0;
    let mut seen = Vec::new();
    // On PostgreSQL a page stops below the oldest transaction running anywhere on the server
    // (other tests' too), so the tail may take a moment to become readable: keep paging.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page: Value = app
            .get(
                &app.tokens.auditor,
                &format!("/api/v1/audit/events?after={after}&limit=3"),
            )
            .await
            .json()
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap().clone();
        if events.is_empty() {
            assert_eq!(page["next_after"], after);
            if seen.len() >= 10 || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        }
        after = page["next_after"].as_i64().unwrap();
        seen.extend(events);
    }
    assert_eq!(seen.len(), 10);
    let of = |case: &str| -> Vec<i64> {
        seen.iter()
            .filter(|event| event["case_id"] == case)
            .map(|event| event["sequence"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(of(&first), [1, 2, 3, 4, 5]);
    assert_eq!(of(&second), [1, 2, 3, 4, 5]);
    let unknown = app.get(&app.tokens.auditor, "/api/v1/audit/events?after=999999").await;
    assert_eq!(
        problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await["field"],
        "after"
    );
    for query in ["limit=0", "limit=5000", "after=-1", "after=first"] {
        let response = app
            .get(&app.tokens.auditor, &format!("/api/v1/audit/events?{query}"))
            .await;
        problem(response, StatusCode::BAD_REQUEST).await;
    }
}

async fn a_retried_command_returns_its_first_result_and_writes_nothing_even_after_a_restart(backend: Backend) {
    let mut app = TestApp::spawn(backend).await;
    let send = |app: &TestApp, path: String, key: &'static str, body: Value, token: String| {
        let request = app
            .client
            .post(app.url(&path))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let citizen = app.tokens.citizen.clone();
    let staff = app.tokens.staff.clone();
    let first = send(&app, "/api/v1/cases".into(), "submit-1", suggestion(), citizen.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again: Value = send(&app, "/api/v1/cases".into(), "submit-1", suggestion(), citizen.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, first, "the same submission is not made twice");
    let id = first["id"].as_str().unwrap().to_owned();

    let assign = json!({"department": "市住建局"});
    let path = format!("/api/v1/cases/{id}/assign");
    let assigned: Value = send(&app, path.clone(), "assign-1", assign.clone(), staff.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(assigned["status"], "assigned", "{assigned}");
    let (left, right) = tokio::join!(
        send(
            &app,
            format!("/api/v1/cases/{id}/consult"),
            "consult-1",
            json!({"note": "一"}),
            staff.clone()
        ),
        send(
            &app,
            format!("/api/v1/cases/{id}/consult"),
            "consult-1",
            json!({"note": "一"}),
            staff.clone()
        ),
    );
    assert_eq!((left.status(), right.status()), (StatusCode::OK, StatusCode::OK));
    let (left, right): (Value, Value) = (left.json().await.unwrap(), right.json().await.unwrap());
    assert_eq!(left, right, "two racing retries get one result");
    assert_eq!(app.history(&id).await.len(), 3);

    app.restart().await;
    let replayed = send(&app, path.clone(), "assign-1", assign.clone(), staff.clone()).await;
    assert_eq!(replayed.status(), StatusCode::OK);
    assert_eq!(replayed.json::<Value>().await.unwrap(), assigned);
    let reused = send(
        &app,
        path.clone(),
        "assign-1",
        json!({"department": "市交通局"}),
        staff.clone(),
    )
    .await;
    assert_eq!(
        problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await["header"],
        "Idempotency-Key"
    );
    let stale = app
        .client
        .post(app.url(&format!("/api/v1/cases/{id}/adopt")))
        .bearer_auth(&staff)
        .header("If-Match", "\"2\"")
        .json(&json!({"by": "市住建局", "extent": "full"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(stale, StatusCode::PRECONDITION_FAILED).await["current_version"],
        3
    );
    assert_eq!(app.history(&id).await.len(), 3, "nothing was written by the retries");
}

/// A process decides on the case as its stream stands, whatever it held of the case from its
/// own last command: here after another process on the same database wrote to the case.
async fn a_command_sees_what_another_process_wrote_since_this_one_last_did(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let sibling = app.sibling().await;
    let id = app.submitted(&suggestion()).await;
    app.staff_does(&id, "assign", &json!({"department": "市住建局"})).await;
    let post = |base: &str, action: &str, version: Option<&str>, body: Value| {
        let mut request = app
            .client
            .post(format!("{base}/api/v1/cases/{id}/{action}"))
            .bearer_auth(&app.tokens.staff)
            .json(&body);
        if let Some(version) = version {
            request = request.header("If-Match", version);
        }
        request.send()
    };
    let consulted = post(&sibling.base_url, "consult", None, json!({"note": "现场协调"}))
        .await
        .unwrap();
    assert_eq!(consulted.status(), StatusCode::OK);
    let again = post(&app.base_url, "consult", None, json!({"note": "电话回访"}))
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK, "no conflict: nothing raced it");
    assert_eq!(again.json::<Value>().await.unwrap()["version"], 4);
    let consulted = post(&sibling.base_url, "consult", None, json!({"note": "再次现场协调"}))
        .await
        .unwrap();
    assert_eq!(consulted.json::<Value>().await.unwrap()["version"], 5);

    let adopt = |version| {
        post(
            &app.base_url,
            "adopt",
            Some(version),
            json!({"by": "市住建局", "extent": "full"}),
        )
    };
    let stale = adopt("\"4\"").await.unwrap();
    assert_eq!(
        problem(stale, StatusCode::PRECONDITION_FAILED).await["current_version"],
        5,
        "the version the other process left"
    );
    let adopted = adopt("\"5\"").await.unwrap();
    assert_eq!(adopted.status(), StatusCode::OK);
    assert_eq!(adopted.json::<Value>().await.unwrap()["version"], 6);
    let closed = app
        .staff_does(&id, "close", &json!({"outcome": "A", "summary": "已解决"}))
        .await;
    assert_eq!(closed["version"], 7);
    let refused = post(&sibling.base_url, "consult", None, json!({"note": "第三次协调"}))
        .await
        .unwrap();
    problem(refused, StatusCode::CONFLICT).await;

    let history = app.history(&id).await;
    let sequences: Vec<u64> = history
        .iter()
        .map(|event| event["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5, 6, 7]);
    for pair in history.windows(2) {
        assert_eq!(
            pair[1]["prev_hash"], pair[0]["hash"],
            "chained across the two processes"
        );
    }
    assert_eq!(verify(&app).await["broken"], json!([]));
}

on_both_backends!(
    every_event_carries_its_metadata_and_a_hash_chained_to_the_previous,
    a_payload_changed_behind_the_logs_back_is_reported_at_its_case_and_sequence,
    removed_events_show_in_the_heads_digest_or_as_a_gap_in_the_chain,
    the_database_refuses_to_change_or_remove_events,
    the_state_at_a_moment_is_the_case_as_it_stood_then,
    the_global_log_pages_in_order_from_any_position,
    a_retried_command_returns_its_first_result_and_writes_nothing_even_after_a_restart,
    a_command_sees_what_another_process_wrote_since_this_one_last_did,
);
