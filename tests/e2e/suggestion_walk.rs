//! A suggestion from submission to closed with feedback, through the HTTP API, and what the
//! audit trail keeps of it.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{on_both_backends, problem, suggestion, Backend, TestApp, MEMBER_ID};

async fn a_suggestion_walks_from_submission_to_closed_with_feedback(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.submit(&app.tokens.citizen, &suggestion()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["kind"], "suggestion");
    assert_eq!(created["status"], "submitted");
    assert_eq!(created["version"], 1);
    let id = created["id"].as_str().unwrap();
    let relayed = app
        .act(
            &app.tokens.member,
            id,
            "relay",
            &json!({"note": "走访中多位居民反映同一问题"}),
        )
        .await;
    assert_eq!(relayed.status(), StatusCode::OK);

    let steps = [
        ("classify", json!({"category": "住房"}), "submitted"),
        ("assign", json!({"department": "市住建局"}), "assigned"),
        (
            "consult",
            json!({"note": "与物业、供电公司现场协调", "participants": ["物业", "供电公司"]}),
            "consulting",
        ),
        (
            "adopt",
            json!({"by": "市住建局", "extent": "full", "note": "纳入老旧小区改造"}),
            "adopted",
        ),
        (
            "close",
            json!({"outcome": "A", "summary": "已完成增容并安装充电桩"}),
            "closed",
        ),
    ];
    let mut last_position = 0;
    for (version, (action, body, status)) in (3..).zip(steps) {
        let written = app.staff_does(id, action, &body).await;
        assert_eq!(written["status"], status, "after {action}");
        assert_eq!(written["version"], version, "after {action}");
        let position = written["position"].as_i64().unwrap();
        assert!(position > last_position, "positions grow");
        last_position = position;
    }
    let rated = app
        .act(
            &app.tokens.citizen,
            id,
            "feedback",
            &json!({"rating": "satisfied", "comment": "谢谢"}),
        )
        .await;
    assert_eq!(rated.status(), StatusCode::OK);

    let case = app.case(id).await;
    assert_eq!(case["status"], "closed");
    assert_eq!(case["version"], 8);
    assert_eq!(case["category"], "住房");
    assert_eq!(case["department"], "市住建局");
    assert_eq!(case["closure"]["outcome"], "A");
    assert_eq!(case["feedback"]["rating"], "satisfied");
    assert_eq!(case["details"]["relayed_by"], json!([MEMBER_ID]));
    assert_eq!(
        case["allowed_actions"],
        json!([]),
        "nothing is left to do once rated satisfied"
    );

    let history = app.history(id).await;
    let types: Vec<&str> = history.iter().map(|event| event["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "submitted",
            "relayed",
            "classified",
            "assigned",
            "consulted",
            "adopted",
            "closed",
            "feedback_given"
        ]
    );
    for (sequence, event) in (1..).zip(&history) {
        assert_eq!(event["sequence"], sequence);
        assert_eq!(event["version"], "1");
        assert!(event["position"].as_i64().unwrap() > 0);
        assert!(event["recorded_at"].as_str().unwrap().ends_with('Z'));
        assert!(!event["request_id"].as_str().unwrap().is_empty());
    }
    let citizen = app.subject(&app.tokens.citizen).await;
    assert_eq!(history[0]["actor"], json!({"id": citizen, "role": "citizen"}));
    assert_eq!(history[1]["actor"], json!({"id": MEMBER_ID, "role": "member"}));
    let staff = app.subject(&app.tokens.staff).await;
    assert_eq!(history[3]["actor"], json!({"id": staff, "role": "staff"}));
    assert_eq!(history[6]["payload"]["summary"], "已完成增容并安装充电桩");
}

async fn the_case_read_model_tells_each_caller_what_it_may_do(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let staff_view = app.case(&id).await;
    assert_eq!(
        staff_view["allowed_actions"],
        json!(["classify", "assign", "withdraw", "merge"])
    );
    let view = |token: String| {
        let app = &app;
        let path = format!("/api/v1/cases/{id}");
        async move { app.get(&token, &path).await }
    };
    let citizen_view: Value = view(app.tokens.citizen.clone()).await.json().await.unwrap();
    assert_eq!(citizen_view["allowed_actions"], json!(["withdraw"]));
    // A member may take up an open citizen's voice: it reads it and is offered the relay.
    let before: Value = view(app.tokens.member.clone()).await.json().await.unwrap();
    assert_eq!(before["allowed_actions"], json!(["relay"]));
    let relayed = app
        .act(&app.tokens.member, &id, "relay", &json!({"note": "反映"}))
        .await;
    assert_eq!(relayed.status(), StatusCode::OK);
    let member_view: Value = view(app.tokens.member.clone()).await.json().await.unwrap();
    assert_eq!(
        member_view["allowed_actions"],
        json!([]),
        "a member relays once, and does nothing else"
    );
}

async fn a_matching_if_match_succeeds_and_a_stale_one_is_412_with_nothing_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.submitted(&suggestion()).await;
    let assign = |version: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/cases/{id}/assign")))
            .bearer_auth(&app.tokens.staff)
            .header("If-Match", version)
            .json(&json!({"department": "市交通局"}))
            .send()
    };
    let stale = assign("\"7\"").await.unwrap();
    let body = problem(stale, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(body["current_version"], 1);
    assert_eq!(app.history(&id).await.len(), 1);

    let fresh = assign("\"1\"").await.unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    assert_eq!(fresh.headers()["etag"], "\"2\"");

    let malformed = assign("soon").await.unwrap();
    problem(malformed, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.history(&id).await.len(), 2);
}

async fn of_two_writers_sending_the_same_version_exactly_one_wins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..5 {
        let id = app.submitted(&suggestion()).await;
        let send = |department: &'static str| {
            app.client
                .post(app.url(&format!("/api/v1/cases/{id}/classify")))
                .bearer_auth(&app.tokens.staff)
                .header("If-Match", "\"1\"")
                .json(&json!({"category": department}))
                .send()
        };
        let (left, right) = tokio::join!(send("交通"), send("住房"));
        let mut statuses = [left.unwrap().status(), right.unwrap().status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::PRECONDITION_FAILED]);
        assert_eq!(app.history(&id).await.len(), 2, "exactly one classification is stored");
    }
}

on_both_backends!(
    a_suggestion_walks_from_submission_to_closed_with_feedback,
    the_case_read_model_tells_each_caller_what_it_may_do,
    a_matching_if_match_succeeds_and_a_stale_one_is_412_with_nothing_written,
    of_two_writers_sending_the_same_version_exactly_one_wins,
);
