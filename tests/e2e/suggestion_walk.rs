//! A suggestion from submission to closed with feedback, through the HTTP API, and what the
//! audit trail keeps of it.

use chrono::{Duration, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tests::{on_both_backends, problem, suggestion, Backend, TestApp, MEMBER_ID};

/// The walk the handling units' practice describes: object → reassign → sign → extension →
/// reply → unsatisfied → reopen → reply → close, each step by whoever takes it.
async fn a_suggestion_walks_through_its_handling_units_to_closed(backend: Backend) {
    // Monday 2 March 2026, 09:00 in Beijing.
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap();
    let app = TestApp::spawn_at(backend, start).await;
    let transport = app.unit_token("市交通局").await;
    let education = app.unit_token("市教育局").await;
    let id = app.submitted(&suggestion()).await;
    let mut hours = 0;
    let mut step = |token: &str, action: &str, body: Value| {
        hours += 2;
        (
            token.to_owned(),
            action.to_owned(),
            body,
            start + Duration::hours(hours),
        )
    };
    let steps = [
        step(&app.tokens.staff, "assign", json!({"department": "市交通局"})),
        step(&transport, "object", json!({"reason": "校门口道路属教育局管理"})),
        step(
            &app.tokens.staff,
            "reassign",
            json!({"department": "市教育局", "reason": "异议成立"}),
        ),
        step(&education, "acknowledge", json!({})),
        step(
            &education,
            "request_extension",
            json!({"days": 5, "reason": "需公安交管审批"}),
        ),
        step(&app.tokens.staff, "grant_extension", json!({})),
        step(
            &education,
            "reply",
            json!({"content": "四月一日起开设接送车道", "proposed_outcome": "A", "measures": "施划车道，增派协管员"}),
        ),
        step(
            &app.tokens.citizen,
            "evaluate",
            json!({"rating": "unsatisfied", "comment": "车道被占"}),
        ),
        step(&app.tokens.staff, "reopen", json!({"reason": "提出人不满意，重办"})),
        step(&education, "acknowledge", json!({})),
        step(
            &education,
            "reply",
            json!({"content": "已安排交警定时执勤", "proposed_outcome": "A"}),
        ),
        step(&app.tokens.citizen, "evaluate", json!({"rating": "satisfied"})),
        step(
            &app.tokens.staff,
            "close",
            json!({"outcome": "A", "summary": "接送车道开通，交警执勤"}),
        ),
    ];
    for (token, action, body, at) in steps {
        app.set_time(at);
        let response = app.act(&token, &id, &action, &body).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{action}: {answer}");
    }
    let case = app.case(&id).await;
    assert_eq!(case["status"], "closed");
    assert_eq!(case["department"], "市教育局");
    let types: Vec<Value> = app
        .history(&id)
        .await
        .iter()
        .map(|event| event["type"].clone())
        .collect();
    assert_eq!(
        types,
        json!([
            "submitted",
            "assigned",
            "objected",
            "reassigned",
            "acknowledged",
            "extension_requested",
            "extension_granted",
            "replied",
            "feedback_given",
            "reopened",
            "acknowledged",
            "replied",
            "feedback_given",
            "closed"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    // The first unit handed the case on and still sees it; a unit that never had it does not.
    let seen = app.get(&transport, &format!("/api/v1/cases/{id}")).await;
    assert_eq!(seen.status(), StatusCode::OK);
    let stranger = app.unit_token("市卫健委").await;
    assert_eq!(
        app.subject(&education).await,
        "市教育局",
        "a unit's token acts as the unit"
    );
    let unseen = app.get(&stranger, &format!("/api/v1/cases/{id}")).await;
    problem(unseen, StatusCode::NOT_FOUND).await;
}

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
    a_suggestion_walks_through_its_handling_units_to_closed,
    the_case_read_model_tells_each_caller_what_it_may_do,
    a_matching_if_match_succeeds_and_a_stale_one_is_412_with_nothing_written,
    of_two_writers_sending_the_same_version_exactly_one_wins,
);
